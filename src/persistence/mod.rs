//! Synchronous persistence: the append-only log, its manifest, and recovery.
//!
//! This layer is self-contained — no tokio, no sockets, no Strata modules other than
//! [`crate::keyspace`] (the values a snapshot stores) — so `tools/verify-aof`, fuzz targets
//! and tests use it without a runtime. A command reaches it as a list of byte-string
//! arguments (command name first), an LSN and a database index.
//!
//! * [`fs`]: the [`Vfs`] trait over which all file I/O goes, [`RealFs`], and [`SimFs`], a
//!   simulated disk with written/durable images, power-loss crashes and fault injection.
//! * [`record`]: the log file format (its specification lives in that module's docs).
//! * [`log`]: [`LogWriter`] (buffer → one write → fdatasync, preallocation, `reserve` for
//!   early ENOSPC) and [`LogReader`] (records, then a precise [`StopReason`]).
//! * [`manifest`]: the text manifest naming the live base snapshot and logs, replaced
//!   atomically.
//! * [`snapshot`]: the snapshot file format (specified in that module's docs):
//!   [`ChunkEncoder`] (executor thread, copies bytes), [`SnapshotWriter`] (background
//!   thread: LZ4, checksums, buffered writes, fdatasync), [`load_snapshot`] (parallel
//!   decode, in-order delivery) and [`SnapshotReader`] (streaming, precise stop reasons).
//! * [`recovery`]: [`DataDir::open`] / [`DataDir::replay`] (and [`recover`]): create or
//!   verify a data directory, replay it, truncate a torn tail, return a positioned writer.
//!
//! # Durability, in this layer's terms
//!
//! A record is *written* once [`LogWriter::write_pending`] returned (it survives a process
//! crash) and *durable* once [`LogWriter::sync`] (or a [`LogSyncer`]) returned (it
//! survives a power loss). Recovery replays every complete record and never skips data
//! that follows a bad one: it truncates only a torn tail of the last log and refuses
//! everything else with an error naming the file, the offset and the `verify-aof` command
//! to run.

pub mod fs;
pub mod log;
pub mod manifest;
pub mod record;
pub mod recovery;
pub mod snapshot;
pub mod stream_blob;

pub use fs::{is_no_space, FaultError, OpKind, RealFs, SimFs, TornMode, Vfs, VfsFile};
pub use log::{
    LogConfig, LogError, LogReader, LogSyncer, LogWriter, ReadAt, StopReason, SyncPoint,
    DEFAULT_PREALLOC_CHUNK,
};
pub use manifest::{
    base_file_name, incr_file_name, FileEntry, Manifest, ManifestError, ManifestProblem,
    MANIFEST_NAME, PENDING_NAME,
};
pub use record::{
    EncodeError, HeaderProblem, Limits, LogHeader, PayloadProblem, Record, RecordProblem,
};
pub use recovery::{
    recover, DataDir, Recovered, RecoveryError, RecoveryOptions, RecoveryStats, ReplayError,
    Truncation,
};
pub use snapshot::{
    load_snapshot, ChunkEncoder, ChunkProblem, EntryProblem, FunctionsProblem, RawChunk,
    SnapshotError, SnapshotHeader, SnapshotHeaderProblem, SnapshotInfo, SnapshotLimits,
    SnapshotLoadError, SnapshotProblem, SnapshotReader, SnapshotStats, SnapshotStop,
    SnapshotWriter, TrailerProblem, DEFAULT_TARGET_CHUNK_BYTES,
};
