//! The snapshot file format (`*.base`): a point-in-time copy of the whole keyspace.
//!
//! This module is the specification of a Strata snapshot file and the only code that
//! encodes or decodes its bytes. Everything is explicit little-endian; no serde/bincode.
//!
//! Three halves, meant to run on different threads:
//!
//! * [`ChunkEncoder`] (executor thread): appends entries to raw, uncompressed chunks of about
//!   `target_chunk_bytes` (1 MiB by default), splitting big values into several *parts*.
//!   It only copies bytes: no compression, no checksums, no I/O.
//! * [`SnapshotWriter`] (background thread): compresses each [`RawChunk`] with LZ4,
//!   checksums and frames it, buffers writes (`fdatasync` every
//!   [`INCREMENTAL_SYNC_BYTES`]), and on [`finish`](SnapshotWriter::finish) appends the
//!   trailer and `fdatasync`s.
//! * [`load_snapshot`] (startup): reads and verifies the file, decompresses and decodes
//!   chunks on several threads and delivers the entries in file order;
//!   [`SnapshotReader`] walks a file one chunk at a time and says exactly where and why it
//!   stopped (for `verify-aof`, tests and fuzzing).
//!
//! # File layout
//!
//! ```text
//! +------------------------+  offset 0
//! | header (40 B)          |
//! +------------------------+  offset 40
//! | chunk 0                |  frame (20 B) + LZ4 block
//! | chunk 1                |
//! | ...                    |
//! +------------------------+
//! | trailer (48 B)         |
//! +------------------------+  end of file: nothing may follow the trailer
//! ```
//!
//! A snapshot is valid only if the header, every chunk and the trailer are valid, the
//! trailer's counts and checksum chain match the chunks, and the file ends exactly after
//! the trailer. There is no "torn tail" for snapshots: a snapshot is written completely
//! and synced before the manifest names it, so any damage is refused.
//!
//! ## Header (40 bytes)
//!
//! | offset | size | field      | meaning                                                        |
//! |-------:|-----:|------------|----------------------------------------------------------------|
//! | 0      | 8    | magic      | `b"STRATASN"`                                                  |
//! | 8      | 4    | version    | u32, format version, currently [`SNAPSHOT_FORMAT_VERSION`] (1) |
//! | 12     | 4    | flags      | u32: bit 0 `ACCESS`, entries may keep access fields (below); bit 1 `FUNCTIONS`, a functions block follows the header (below); other bits must be 0 (unknown flags are refused) |
//! | 16     | 8    | lsn        | u64, the snapshot holds every record with LSN `<= lsn`; replay of the logs resumes after it |
//! | 24     | 8    | created_ms | u64, Unix time in ms when the snapshot was taken (informational) |
//! | 32     | 4    | dbs        | u32, number of databases, `1..=65536`; every entry's db is below it |
//! | 36     | 4    | header_crc | u32, CRC-32 (IEEE, crc32fast) of bytes 0..36                   |
//!
//! ## Functions block (only with the `FUNCTIONS` flag, right after the header)
//!
//! The function libraries (FUNCTION LOAD) at the snapshot's instant, as their code:
//!
//! | offset | size | field  | meaning                                                     |
//! |-------:|-----:|--------|-------------------------------------------------------------|
//! | 0      | 4    | tag    | `b"SNFN"`                                                   |
//! | 4      | 4    | count  | u32, number of libraries, `>= 1`                            |
//! | 8      | 4    | len    | u32, length of the payload that follows, at most the chunk limit |
//! | 12     | 4    | crc    | u32, CRC-32 of block bytes 0..12 followed by the payload     |
//! | 16     | len  | payload| `count` libraries, each a u32 length then that many bytes of code; nothing else |
//!
//! Its `crc` joins the chain checksum right after the header's. Without functions the
//! flag is clear and the file is byte for byte what earlier releases wrote.
//!
//! ## Chunk frame (20 bytes, then the compressed bytes)
//!
//! | offset | size           | field          | meaning                                          |
//! |-------:|---------------:|----------------|--------------------------------------------------|
//! | 0      | 4              | tag            | `b"SNCK"`                                        |
//! | 4      | 4              | compressed_len | u32, length of the LZ4 block that follows, `>= 1` |
//! | 8      | 4              | raw_len        | u32, length of the decompressed content, `>= 1`   |
//! | 12     | 4              | parts          | u32, number of entry parts in the content, `>= 1` |
//! | 16     | 4              | crc            | u32, CRC-32 of frame bytes 0..16 followed by the compressed bytes |
//! | 20     | compressed_len | block          | an LZ4 *block* (lz4_flex `block` format, no frame header) decompressing to exactly `raw_len` bytes |
//!
//! The checksum covers the frame's own length and count fields as well as the data, so a
//! flipped bit anywhere in a chunk is a checksum mismatch *at that chunk* rather than a
//! confusing decode error further on.
//!
//! ## Chunk content: entry parts
//!
//! The decompressed content is exactly `parts` entry parts, back to back:
//!
//! | size      | field     | meaning                                                        |
//! |----------:|-----------|----------------------------------------------------------------|
//! | 2         | db        | u16, database index, `< dbs`                                  |
//! | 1         | tag       | bits 0..=2: type (1 string, 2 int, 3 list, 4 hash, 5 set, 6 zset, 7 stream); bit 3 `IDLE`, bit 4 `FREQ`: the key's access field follows the expiry (at most one of them, only in a first part, only if the header has `ACCESS`); bit 5: 0; bit 6 `CONT`: this part continues the previous part's entry; bit 7 `MORE`: another part of this entry follows |
//! | 8         | expire_at | u64, absolute Unix ms, 0 = no expiry; **only in a first part** (`CONT` clear) |
//! | 4 or 1    | access    | with `IDLE`: u32, seconds since the key's last access when the snapshot was written; with `FREQ`: u8, its LFU counter then |
//! | 4 + n     | key       | u32 length, then the key bytes (repeated in every part)        |
//! | ...       | body      | by type, below                                                 |
//!
//! Access fields are kept only when the server runs an LRU or LFU `maxmemory-policy`
//! (as Redis's RDB keeps its IDLE and FREQ opcodes); a loader under the same kind of
//! policy gives the key that idle time or counter, any other takes the key as just used.
//! Without them the file is byte for byte what earlier releases wrote.
//!
//! Bodies (`bytes` = u32 length then that many bytes):
//!
//! | type   | body                                                              |
//! |--------|-------------------------------------------------------------------|
//! | string | `bytes`: this part's piece of the value                           |
//! | int    | i64 (never split: `CONT` and `MORE` must be clear)                |
//! | list   | u32 count, then `count` elements, each `bytes`, head to tail      |
//! | hash   | u32 count, then `count` pairs of field `bytes`, value `bytes`     |
//! | set    | u32 count, then `count` members, each `bytes`                     |
//! | zset   | u32 count, then `count` pairs of member `bytes`, score f64 (LE IEEE-754 bits, never NaN) |
//! | stream | `bytes`: this part's piece of the stream's byte form ([`super::stream_blob`]), cut anywhere like a string |
//!
//! ## Split values
//!
//! A value whose encoding would overflow the chunk is split into consecutive parts, each
//! in its own chunk: the first part has `MORE` set; each following part has `CONT` set and
//! repeats db, type and key; the last has `MORE` clear. A value's parts are always
//! adjacent in file order (nothing else is interleaved). The value is the concatenation of
//! its parts' pieces (strings) or items (aggregates). Aggregates are cut between items
//! (every part holds at least one item); strings are cut anywhere. So a raw chunk holds at
//! most about `target_chunk_bytes` plus one item (or 1.5x the target for strings).
//!
//! A chunk's `keys` (counted by the trailer) are the entries whose *first* part is in it.
//!
//! ## Trailer (48 bytes)
//!
//! | offset | size | field       | meaning                                                  |
//! |-------:|-----:|-------------|----------------------------------------------------------|
//! | 0      | 4    | tag         | `b"SNTR"`                                                |
//! | 4      | 4    | reserved    | u32, must be 0                                           |
//! | 8      | 8    | keys        | u64, number of entries (first parts) in the file         |
//! | 16     | 8    | chunks      | u64, number of chunks                                    |
//! | 24     | 8    | raw_bytes   | u64, sum of the chunks' `raw_len`                        |
//! | 32     | 8    | parts       | u64, sum of the chunks' `parts`                          |
//! | 40     | 4    | chain_crc   | u32, CRC-32 of the header's `header_crc` followed by every chunk's `crc`, each as 4 LE bytes, in file order |
//! | 44     | 4    | trailer_crc | u32, CRC-32 of trailer bytes 0..44                       |
//!
//! The chain checksum binds the trailer to this header and this exact sequence of chunks:
//! a dropped, duplicated or reordered chunk, or chunks spliced from another snapshot, are
//! refused even though each chunk is valid on its own.
//!
//! ## Bounds a reader relies on
//!
//! `raw_len <= max_chunk_len` and `compressed_len <= lz4 max output of max_chunk_len`
//! ([`SnapshotLimits`]); `raw_len <= 255 * compressed_len + 64` (LZ4 cannot expand more);
//! both lengths are checked against the bytes actually present before anything is
//! allocated. Inside a chunk every length and count is checked against the remaining
//! decompressed bytes before allocating, so decoding allocates at most a small constant
//! times the chunk's size.

use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};

use thiserror::Error;

use super::fs::{is_no_space, Vfs, VfsFile};
use super::log::ReadAt;
use super::record::{le_u32, le_u64};
use crate::keyspace::access::{Clock, Kept};
use crate::keyspace::{Entry, Hash, List, Set, Value, ZSet};

/// Magic bytes at the start of every snapshot file.
pub const SNAPSHOT_MAGIC: [u8; 8] = *b"STRATASN";
/// The snapshot format version written by this code.
pub const SNAPSHOT_FORMAT_VERSION: u32 = 1;
/// Size of the file header in bytes; the first chunk starts here.
pub const SNAPSHOT_HEADER_LEN: usize = 40;
/// Tag of a chunk frame.
pub const CHUNK_TAG: [u8; 4] = *b"SNCK";
/// Tag of the trailer.
pub const TRAILER_TAG: [u8; 4] = *b"SNTR";
/// Tag of the functions block.
pub const FUNCTIONS_TAG: [u8; 4] = *b"SNFN";
/// Length of the functions block's frame (before its payload).
pub const FUNCTIONS_FRAME_LEN: usize = 16;
/// Size of a chunk frame's header.
pub const CHUNK_FRAME_LEN: usize = 20;
/// Size of the trailer.
pub const TRAILER_LEN: usize = 48;
/// Largest database count a header may declare (db indexes are u16).
pub const MAX_DBS: u32 = 1 << 16;
/// Default target size of a raw chunk: 1 MiB.
pub const DEFAULT_TARGET_CHUNK_BYTES: usize = 1 << 20;
/// Largest accepted `target_chunk_bytes` (larger requests are clamped).
pub const MAX_TARGET_CHUNK_BYTES: usize = 64 << 20;
/// Default bound on a chunk's raw length: room for a 512 MiB key plus a 512 MiB element
/// (the protocol's bulk limit) plus a full target run. The writer refuses larger chunks,
/// so whatever it writes loads with the default limits.
pub const DEFAULT_MAX_CHUNK_LEN: u32 = (1 << 30) + (64 << 20);

const T_STR: u8 = 1;
const T_INT: u8 = 2;
const T_LIST: u8 = 3;
const T_HASH: u8 = 4;
const T_SET: u8 = 5;
const T_ZSET: u8 = 6;
const T_STREAM: u8 = 7;
const TYPE_MASK: u8 = 0x07;
const F_IDLE: u8 = 0x08;
const F_FREQ: u8 = 0x10;
const RESERVED_BITS: u8 = 0x20;
/// Header flag: entries may keep access fields (`F_IDLE` / `F_FREQ`).
const FLAG_ACCESS: u32 = 1;
const FLAG_FUNCTIONS: u32 = 2;
const F_CONT: u8 = 0x40;
const F_MORE: u8 = 0x80;

/// Writes are buffered until this many bytes are pending.
const WRITE_BUFFER: usize = 1 << 20;
/// The writer `fdatasync`s whenever this many bytes were written since the last sync, so a
/// multi-GB snapshot never leaves GBs of dirty pages for one final flush (which would
/// throttle the log's writes and its fsyncs meanwhile; Redis's `rdb-save-incremental-fsync`).
pub const INCREMENTAL_SYNC_BYTES: u64 = 8 << 20;
/// Upper bound on the loader's worker threads.
const MAX_LOAD_THREADS: usize = 64;
/// The parallel loader keeps at most this many compressed + raw bytes in flight
/// (always at least one chunk).
const LOAD_INFLIGHT_BYTES: u64 = 64 << 20;

// ---------------------------------------------------------------------------------------
// Header, limits, small types
// ---------------------------------------------------------------------------------------

/// The header of a snapshot file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotHeader {
    /// The log position the snapshot pairs with: it contains every record with LSN `<= lsn`.
    pub lsn: u64,
    /// When the snapshot was taken (Unix ms).
    pub created_ms: u64,
    /// Number of databases (`1..=65536`).
    pub dbs: u32,
    /// Entries may keep their access fields (header flag `ACCESS`).
    pub access: bool,
    /// A functions block follows the header (flag `FUNCTIONS`; set by the writer when it
    /// is given libraries).
    pub functions: bool,
}

impl SnapshotHeader {
    /// Encodes the header into its 40-byte on-disk form.
    pub fn encode(&self) -> [u8; SNAPSHOT_HEADER_LEN] {
        let mut out = [0u8; SNAPSHOT_HEADER_LEN];
        out[0..8].copy_from_slice(&SNAPSHOT_MAGIC);
        out[8..12].copy_from_slice(&SNAPSHOT_FORMAT_VERSION.to_le_bytes());
        let flags = if self.access { FLAG_ACCESS } else { 0 }
            | if self.functions { FLAG_FUNCTIONS } else { 0 };
        out[12..16].copy_from_slice(&flags.to_le_bytes());
        out[16..24].copy_from_slice(&self.lsn.to_le_bytes());
        out[24..32].copy_from_slice(&self.created_ms.to_le_bytes());
        out[32..36].copy_from_slice(&self.dbs.to_le_bytes());
        let crc = crc32fast::hash(&out[0..36]);
        out[36..40].copy_from_slice(&crc.to_le_bytes());
        out
    }

    /// Decodes and validates a header from the first bytes of a file.
    pub fn decode(bytes: &[u8]) -> Result<SnapshotHeader, SnapshotHeaderProblem> {
        if bytes.len() < SNAPSHOT_HEADER_LEN {
            return Err(SnapshotHeaderProblem::TooShort {
                len: bytes.len() as u64,
            });
        }
        if bytes[0..8] != SNAPSHOT_MAGIC {
            let mut found = [0u8; 8];
            found.copy_from_slice(&bytes[0..8]);
            return Err(SnapshotHeaderProblem::BadMagic { found });
        }
        let stored = le_u32(&bytes[36..40]);
        let computed = crc32fast::hash(&bytes[0..36]);
        if stored != computed {
            return Err(SnapshotHeaderProblem::ChecksumMismatch { stored, computed });
        }
        let version = le_u32(&bytes[8..12]);
        if version != SNAPSHOT_FORMAT_VERSION {
            return Err(SnapshotHeaderProblem::UnsupportedVersion { found: version });
        }
        let flags = le_u32(&bytes[12..16]);
        if flags & !(FLAG_ACCESS | FLAG_FUNCTIONS) != 0 {
            return Err(SnapshotHeaderProblem::UnknownFlags { flags });
        }
        let dbs = le_u32(&bytes[32..36]);
        if dbs == 0 || dbs > MAX_DBS {
            return Err(SnapshotHeaderProblem::BadDbCount { dbs });
        }
        Ok(SnapshotHeader {
            lsn: le_u64(&bytes[16..24]),
            created_ms: le_u64(&bytes[24..32]),
            dbs,
            access: flags & FLAG_ACCESS != 0,
            functions: flags & FLAG_FUNCTIONS != 0,
        })
    }
}

/// Decoding bounds. The writer enforces the defaults, so whatever it writes loads with
/// [`SnapshotLimits::default`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotLimits {
    /// Largest accepted raw (decompressed) chunk; the compressed length may be at most
    /// LZ4's worst-case output for this many bytes.
    pub max_chunk_len: u32,
}

impl Default for SnapshotLimits {
    fn default() -> Self {
        SnapshotLimits {
            max_chunk_len: DEFAULT_MAX_CHUNK_LEN,
        }
    }
}

impl SnapshotLimits {
    fn max_compressed_len(&self) -> u64 {
        lz4_flex::block::get_maximum_output_size(self.max_chunk_len as usize) as u64
    }
}

/// LZ4 encodes at most 255 bytes of match per byte of input, so a block of `compressed`
/// bytes never decompresses to more than this.
fn max_expansion(compressed: u32) -> u64 {
    u64::from(compressed) * 255 + 64
}

/// What a finished [`SnapshotWriter`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SnapshotStats {
    /// Entries (keys).
    pub keys: u64,
    /// Chunks.
    pub chunks: u64,
    /// Sum of the chunks' raw (uncompressed) lengths.
    pub raw_bytes: u64,
    /// Length of the file, header and trailer included.
    pub file_bytes: u64,
}

/// What a complete, valid snapshot holds (from [`load_snapshot`] or [`SnapshotReader`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotInfo {
    /// The file's header.
    pub header: SnapshotHeader,
    /// The function libraries' code (the functions block), in file order.
    pub libraries: Vec<Vec<u8>>,
    /// Entries delivered.
    pub keys: u64,
    /// Chunks read.
    pub chunks: u64,
    /// Sum of the chunks' raw lengths.
    pub raw_bytes: u64,
    /// Length of the file.
    pub file_bytes: u64,
}

// ---------------------------------------------------------------------------------------
// Problems and errors
// ---------------------------------------------------------------------------------------

/// Why a snapshot header was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SnapshotHeaderProblem {
    /// The file is shorter than a header.
    #[error(
        "file is {len} bytes long, shorter than the {SNAPSHOT_HEADER_LEN}-byte snapshot header"
    )]
    TooShort {
        /// Length of the file.
        len: u64,
    },
    /// The first 8 bytes are not the snapshot magic.
    #[error("bad magic {found:02x?} (expected \"STRATASN\"): not a Strata snapshot file")]
    BadMagic {
        /// The bytes found instead.
        found: [u8; 8],
    },
    /// The header checksum does not match.
    #[error("header checksum mismatch (stored {stored:#010x}, computed {computed:#010x})")]
    ChecksumMismatch {
        /// CRC stored in the header.
        stored: u32,
        /// CRC computed over the header bytes.
        computed: u32,
    },
    /// Written by a newer (or unknown) format version.
    #[error("unsupported snapshot format version {found} (this build reads version {SNAPSHOT_FORMAT_VERSION}); use a matching Strata release")]
    UnsupportedVersion {
        /// Version found.
        found: u32,
    },
    /// Flags this version does not understand.
    #[error("unknown header flags {flags:#010x}; use a matching Strata release")]
    UnknownFlags {
        /// Flags found.
        flags: u32,
    },
    /// The database count is 0 or above [`MAX_DBS`].
    #[error("header declares {dbs} databases (must be 1..={MAX_DBS})")]
    BadDbCount {
        /// Count found.
        dbs: u32,
    },
}

/// What is wrong with the functions block.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FunctionsProblem {
    /// The block runs past the end of the file.
    #[error("the file is truncated: the block needs {needed} bytes, only {available} remain")]
    Truncated {
        /// Bytes the block needs.
        needed: u64,
        /// Bytes present.
        available: u64,
    },
    /// The header says a block follows, but this is not one.
    #[error("bad tag {found:02x?} (expected \"SNFN\")")]
    BadTag {
        /// The bytes found instead.
        found: [u8; 4],
    },
    /// The payload is longer than the limit.
    #[error("payload of {len} bytes exceeds the limit of {max}")]
    TooLarge {
        /// Length declared.
        len: u32,
        /// The limit.
        max: u32,
    },
    /// The checksum does not match.
    #[error("checksum mismatch (stored {stored:#010x}, computed {computed:#010x})")]
    ChecksumMismatch {
        /// CRC stored in the frame.
        stored: u32,
        /// CRC computed over frame and payload.
        computed: u32,
    },
    /// A checksum-valid payload that does not hold exactly `count` libraries.
    #[error("malformed payload: {reason}")]
    Malformed {
        /// What is wrong.
        reason: &'static str,
    },
}

/// What is wrong with a chunk frame or its compressed block.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ChunkProblem {
    /// Neither a chunk nor the trailer starts here.
    #[error("bad frame tag {found:02x?} (expected \"SNCK\" or \"SNTR\")")]
    BadTag {
        /// The bytes found.
        found: [u8; 4],
    },
    /// `compressed_len` is above the limit.
    #[error("compressed length {len} exceeds the limit of {max} bytes")]
    CompressedTooLarge {
        /// Length declared.
        len: u32,
        /// Limit.
        max: u64,
    },
    /// `raw_len` is above the limit.
    #[error("raw length {len} exceeds the limit of {max} bytes")]
    RawTooLarge {
        /// Length declared.
        len: u32,
        /// Limit.
        max: u32,
    },
    /// A zero length or part count (never written).
    #[error(
        "empty chunk (compressed length {compressed_len}, raw length {raw_len}, {parts} parts)"
    )]
    Empty {
        /// Compressed length declared.
        compressed_len: u32,
        /// Raw length declared.
        raw_len: u32,
        /// Part count declared.
        parts: u32,
    },
    /// More raw bytes than LZ4 can produce from the compressed bytes.
    #[error("raw length {raw_len} is impossible for {compressed_len} compressed bytes")]
    ImpossibleRatio {
        /// Compressed length declared.
        compressed_len: u32,
        /// Raw length declared.
        raw_len: u32,
    },
    /// The chunk checksum does not match.
    #[error("checksum mismatch (stored {stored:#010x}, computed {computed:#010x})")]
    ChecksumMismatch {
        /// CRC stored in the frame.
        stored: u32,
        /// CRC computed over the frame and its data.
        computed: u32,
    },
    /// The checksum matches but the LZ4 block is invalid.
    #[error("LZ4 block does not decompress: {reason}")]
    Decompress {
        /// The decompressor's complaint.
        reason: String,
    },
    /// The block decompressed to another length than declared.
    #[error("block decompressed to {actual} bytes, frame declares {declared}")]
    RawLenMismatch {
        /// Declared raw length.
        declared: u32,
        /// Actual decompressed length.
        actual: u64,
    },
}

/// What is wrong with an entry part inside a checksum-valid chunk.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EntryProblem {
    /// The part runs past the end of the chunk's content.
    #[error("runs past the end of the chunk while reading its {field}")]
    Truncated {
        /// Field being read.
        field: &'static str,
    },
    /// Unknown type or reserved bits, or flags that type cannot carry.
    #[error("invalid type/flags byte {tag:#04x}")]
    BadTag {
        /// The byte found.
        tag: u8,
    },
    /// The database index is not below the header's database count.
    #[error("database {db} is out of range (the snapshot has {dbs})")]
    DbOutOfRange {
        /// Index found.
        db: u16,
        /// Databases in the header.
        dbs: u32,
    },
    /// An item count that cannot fit in the remaining bytes.
    #[error("item count {count} cannot fit in the {remaining} bytes left in the chunk")]
    CountImpossible {
        /// Count found.
        count: u32,
        /// Bytes left.
        remaining: u64,
    },
    /// A stream value's bytes do not decode.
    #[error("{problem}")]
    Stream {
        /// What is wrong.
        problem: super::stream_blob::StreamBlobProblem,
    },
    /// A sorted-set score is NaN.
    #[error("sorted-set score is NaN")]
    NanScore,
    /// Bytes left after the declared number of parts.
    #[error("{extra} bytes follow the chunk's last part")]
    TrailingBytes {
        /// How many.
        extra: u64,
    },
    /// A continuation part with no split entry in progress.
    #[error("continuation part without a preceding first part")]
    UnexpectedContinuation,
    /// A new entry while the previous one announced another part.
    #[error("the previous entry announced another part, but a new entry starts here")]
    MissingContinuation,
    /// A continuation part whose db, type or key differ from the entry it continues.
    #[error("continuation part does not match the entry it continues (db, type or key differ)")]
    ContinuationMismatch,
}

/// Why a snapshot file is not valid. Every variant names the byte offset where the
/// problem is.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SnapshotProblem {
    /// The header is missing or invalid (offset 0).
    #[error("bad header at offset 0: {problem}")]
    BadHeader {
        /// What is wrong.
        problem: SnapshotHeaderProblem,
    },
    /// The functions block is invalid.
    #[error("functions block at offset {offset}: {problem}")]
    Functions {
        /// Offset of the block.
        offset: u64,
        /// What is wrong.
        problem: FunctionsProblem,
    },
    /// A chunk frame is invalid (bad tag, lengths, checksum, LZ4 block).
    #[error("chunk #{chunk_index} at offset {offset}: {problem}")]
    Chunk {
        /// Offset of the chunk frame.
        offset: u64,
        /// Index of the chunk (0-based).
        chunk_index: u64,
        /// What is wrong.
        problem: ChunkProblem,
    },
    /// A checksum-valid chunk holds a malformed entry part.
    #[error("chunk #{chunk_index} at offset {offset}, entry part #{part_index}: {problem}")]
    Entry {
        /// Offset of the chunk frame.
        offset: u64,
        /// Index of the chunk.
        chunk_index: u64,
        /// Index of the part within the chunk.
        part_index: u32,
        /// What is wrong.
        problem: EntryProblem,
    },
    /// A chunk frame or the trailer runs past the end of the file.
    #[error("the file is truncated at offset {offset} (frame #{chunk_index} needs {needed} bytes, only {available} remain), or that frame's length field is damaged")]
    Truncated {
        /// Offset of the incomplete frame.
        offset: u64,
        /// Index the chunk would have (the number of chunks before it).
        chunk_index: u64,
        /// Bytes the frame needs.
        needed: u64,
        /// Bytes present.
        available: u64,
    },
    /// The file ends where a chunk or the trailer should start.
    #[error("the file ends at offset {offset} after {chunks} chunks without a trailer: it is truncated (an interrupted write)")]
    MissingTrailer {
        /// End of the file.
        offset: u64,
        /// Chunks read.
        chunks: u64,
    },
    /// The trailer follows a split entry whose last part is missing.
    #[error("the entry split across the chunks before the trailer at offset {offset} lacks its last part (after {chunk_index} chunks)")]
    IncompleteEntry {
        /// Offset of the trailer.
        offset: u64,
        /// Chunks read.
        chunk_index: u64,
    },
    /// The trailer is invalid or does not match the chunks.
    #[error("trailer at offset {offset}: {problem}")]
    Trailer {
        /// Offset of the trailer.
        offset: u64,
        /// What is wrong.
        problem: TrailerProblem,
    },
    /// Bytes follow the trailer.
    #[error("{extra} unexpected bytes follow the trailer, at offset {offset}")]
    TrailingData {
        /// Offset just after the trailer.
        offset: u64,
        /// How many bytes follow.
        extra: u64,
    },
}

impl SnapshotProblem {
    /// Byte offset of the problem.
    pub fn offset(&self) -> u64 {
        match self {
            SnapshotProblem::BadHeader { .. } => 0,
            SnapshotProblem::Functions { offset, .. }
            | SnapshotProblem::Chunk { offset, .. }
            | SnapshotProblem::Entry { offset, .. }
            | SnapshotProblem::Truncated { offset, .. }
            | SnapshotProblem::MissingTrailer { offset, .. }
            | SnapshotProblem::IncompleteEntry { offset, .. }
            | SnapshotProblem::Trailer { offset, .. }
            | SnapshotProblem::TrailingData { offset, .. } => *offset,
        }
    }

    /// Index of the chunk concerned, when the problem is in (or where) a chunk.
    pub fn chunk_index(&self) -> Option<u64> {
        match self {
            SnapshotProblem::Chunk { chunk_index, .. }
            | SnapshotProblem::Entry { chunk_index, .. }
            | SnapshotProblem::Truncated { chunk_index, .. } => Some(*chunk_index),
            _ => None,
        }
    }
}

/// What is wrong with the trailer.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TrailerProblem {
    /// The trailer checksum does not match.
    #[error("checksum mismatch (stored {stored:#010x}, computed {computed:#010x})")]
    ChecksumMismatch {
        /// Stored CRC.
        stored: u32,
        /// Computed CRC.
        computed: u32,
    },
    /// The reserved word is not zero.
    #[error("reserved field is {value:#010x}, expected 0")]
    ReservedNotZero {
        /// Value found.
        value: u32,
    },
    /// A count does not match what the file holds.
    #[error("records {stored} {what} but the file holds {actual}")]
    CountMismatch {
        /// Which count.
        what: &'static str,
        /// Value in the trailer.
        stored: u64,
        /// Value found in the file.
        actual: u64,
    },
    /// The checksum chain does not match the header and chunks.
    #[error("checksum chain mismatch (stored {stored:#010x}, computed {computed:#010x}): chunks are missing, duplicated, reordered or from another snapshot")]
    ChainMismatch {
        /// Stored chain CRC.
        stored: u32,
        /// Chain computed from the file.
        computed: u32,
    },
}

/// Errors of the [`SnapshotWriter`]. A failed writer is abandoned: the partial file must
/// never be named by the manifest.
#[derive(Debug, Error)]
pub enum SnapshotError {
    /// A write, fsync or create failed.
    #[error("I/O error during {op} on snapshot {path}: {source}; the snapshot is abandoned and the live data set is unaffected — check the device (dmesg, SMART), then retry the rewrite (BGREWRITEAOF)", path = .path.display())]
    Io {
        /// The snapshot file.
        path: PathBuf,
        /// What was being done.
        op: &'static str,
        /// The underlying error.
        source: io::Error,
    },
    /// Disk full.
    #[error("no disk space to write snapshot {path} ({source}); the snapshot is abandoned and the live data set is unaffected — free space on that file system, then retry the rewrite (BGREWRITEAOF)", path = .path.display())]
    NoSpace {
        /// The snapshot file.
        path: PathBuf,
        /// The underlying error (ENOSPC/EDQUOT).
        source: io::Error,
    },
    /// A raw chunk larger than the format allows (a caller bug).
    #[error("raw chunk of {len} bytes for snapshot {path} exceeds the {max}-byte limit; this is a bug in the caller, the snapshot is abandoned", path = .path.display())]
    ChunkTooLarge {
        /// The snapshot file.
        path: PathBuf,
        /// Chunk length.
        len: u64,
        /// Limit.
        max: u32,
    },
    /// A raw chunk whose byte, part and key counts disagree (a caller bug).
    #[error("raw chunk for snapshot {path} has {len} bytes, {parts} parts and {keys} keys, which is impossible; this is a bug in the caller, the snapshot is abandoned", path = .path.display())]
    InvalidChunk {
        /// The snapshot file.
        path: PathBuf,
        /// Chunk length.
        len: u64,
        /// Declared parts.
        parts: u32,
        /// Declared keys (first parts).
        keys: u64,
    },
    /// An earlier error made this writer unusable.
    #[error("snapshot writer for {path} already failed ({cause}); start a new snapshot", path = .path.display())]
    Poisoned {
        /// The snapshot file.
        path: PathBuf,
        /// The first error.
        cause: String,
    },
}

/// Why [`load_snapshot`] failed.
#[derive(Debug, Error)]
pub enum SnapshotLoadError<E> {
    /// Reading the file failed.
    #[error("I/O error during {op} on snapshot {path}: {source}; check that the data directory is readable and the device healthy (dmesg), then restart", path = .path.display())]
    Io {
        /// The snapshot file.
        path: PathBuf,
        /// What was being done.
        op: &'static str,
        /// The underlying error.
        source: io::Error,
    },
    /// The file is not a valid snapshot.
    #[error("snapshot {path} is invalid: {problem}; refusing to start with part of the data set — inspect it with `verify-aof check {dir}` and restore the snapshot from a backup", path = .path.display(), dir = dir_of(.path))]
    Invalid {
        /// The snapshot file.
        path: PathBuf,
        /// What is wrong, and where.
        problem: SnapshotProblem,
    },
    /// The caller's `on_entry` refused an entry.
    #[error("loading the entry of chunk #{chunk_index} (offset {offset}) of snapshot {path} failed: {source}", path = .path.display())]
    Apply {
        /// The snapshot file.
        path: PathBuf,
        /// Offset of the chunk holding the entry's last part.
        offset: u64,
        /// Index of that chunk.
        chunk_index: u64,
        /// The callback's error.
        #[source]
        source: E,
    },
}

impl<E> SnapshotLoadError<E> {
    /// The problem, if the file is invalid.
    pub fn problem(&self) -> Option<&SnapshotProblem> {
        match self {
            SnapshotLoadError::Invalid { problem, .. } => Some(problem),
            _ => None,
        }
    }
}

fn dir_of(path: &Path) -> String {
    path.parent()
        .map(|p| p.display().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| ".".to_string())
}

// ---------------------------------------------------------------------------------------
// ChunkEncoder
// ---------------------------------------------------------------------------------------

/// The uncompressed content of one chunk, produced by [`ChunkEncoder`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RawChunk {
    /// Entry parts, back to back (see the module docs).
    pub bytes: Vec<u8>,
    /// Number of entry parts in `bytes`.
    pub parts: u32,
    /// Entries whose first part is in this chunk.
    pub keys: u64,
}

/// Serialises entries into raw chunks (see the module docs). Cheap enough for the command
/// executor: it copies bytes and never compresses, checksums or does I/O.
///
/// ```
/// use strata::keyspace::{Entry, Value};
/// use strata::persistence::snapshot::ChunkEncoder;
/// let mut enc = ChunkEncoder::new(1 << 20);
/// enc.add(0, &Entry::new(b"k".to_vec().into(), Value::Int(7), 0));
/// assert!(enc.take_full().is_empty()); // far below the target
/// let last = enc.finish().unwrap();
/// assert_eq!((last.parts, last.keys), (1, 1));
/// ```
#[derive(Debug)]
pub struct ChunkEncoder {
    target: usize,
    cur: Vec<u8>,
    parts: u32,
    keys: u64,
    full: Vec<RawChunk>,
    /// Keep access fields, read at this clock's time (the header must say `access`).
    clock: Option<Clock>,
    /// The access field kept for the entry being added.
    kept: Option<Kept>,
}

impl ChunkEncoder {
    /// An encoder whose chunks close once they reach `target_chunk_bytes` (clamped to
    /// `1..=`[`MAX_TARGET_CHUNK_BYTES`]; [`DEFAULT_TARGET_CHUNK_BYTES`] is a good value).
    pub fn new(target_chunk_bytes: usize) -> Self {
        ChunkEncoder {
            target: target_chunk_bytes.clamp(1, MAX_TARGET_CHUNK_BYTES),
            cur: Vec::new(),
            parts: 0,
            keys: 0,
            full: Vec::new(),
            clock: None,
            kept: None,
        }
    }

    /// Keep each entry's access field from now on, as idle seconds or counter read at
    /// `clock`'s time (advance it as the snapshot is written: a field stamped after the
    /// clock's second would read as idle for days). The file's header must have
    /// [`SnapshotHeader::access`] set, or it will not load.
    pub fn keep_access(&mut self, clock: Clock) {
        self.clock = Some(clock);
    }

    /// The effective target chunk size.
    pub fn target(&self) -> usize {
        self.target
    }

    /// Bytes in the current, not yet full, chunk.
    pub fn pending_bytes(&self) -> usize {
        self.cur.len()
    }

    /// Appends one entry of database `db`, splitting a big value into parts across chunks.
    ///
    /// Keys and items must be shorter than 4 GiB (the protocol caps them at 512 MiB).
    pub fn add(&mut self, db: u16, entry: &Entry) {
        self.kept = self.clock.and_then(|c| c.keep(entry.access()));
        let key = &entry.key[..];
        let exp = entry.expire_at();
        match &entry.value {
            Value::Int(i) => {
                self.begin(db, T_INT, true, exp, key);
                self.cur.extend_from_slice(&i.to_le_bytes());
            }
            Value::Str(s) => self.add_str(db, key, exp, T_STR, s),
            Value::Stream(x) => {
                let blob = super::stream_blob::encode(x);
                self.add_str(db, key, exp, T_STREAM, &blob)
            }
            Value::List(l) => self.add_items(db, key, exp, T_LIST, l.iter(), |out, e| {
                put_bytes(out, e);
            }),
            Value::Set(s) => self.add_items(db, key, exp, T_SET, s.iter(), |out, m| {
                put_bytes(out, m);
            }),
            Value::Hash(h) => self.add_items(db, key, exp, T_HASH, h.iter(), |out, (f, v)| {
                put_bytes(out, f);
                put_bytes(out, v);
            }),
            Value::ZSet(z) => self.add_items(db, key, exp, T_ZSET, z.iter(), |out, (m, s)| {
                put_bytes(out, m);
                out.extend_from_slice(&s.to_le_bytes());
            }),
        }
    }

    /// Takes the chunks that reached the target size.
    pub fn take_full(&mut self) -> Vec<RawChunk> {
        std::mem::take(&mut self.full)
    }

    /// The last, partial chunk (`None` if it is empty). Chunks not yet taken with
    /// [`take_full`](Self::take_full) are lost: take them first.
    pub fn finish(mut self) -> Option<RawChunk> {
        if self.cur.is_empty() {
            return None;
        }
        Some(self.close())
    }

    fn close(&mut self) -> RawChunk {
        let raw = RawChunk {
            bytes: std::mem::take(&mut self.cur),
            parts: self.parts,
            keys: self.keys,
        };
        self.parts = 0;
        self.keys = 0;
        raw
    }

    /// Starts a part (in a new chunk if the current one is full); returns the position of
    /// its tag byte.
    fn begin(&mut self, db: u16, ty: u8, first: bool, expire_at: u64, key: &[u8]) -> usize {
        if self.cur.len() >= self.target {
            let raw = self.close();
            self.full.push(raw);
        }
        if self.cur.capacity() == 0 {
            self.cur.reserve(self.target + self.target / 8 + 64);
        }
        self.cur.extend_from_slice(&db.to_le_bytes());
        let tag_pos = self.cur.len();
        if first {
            let access = match self.kept {
                None => 0,
                Some(Kept::Idle(_)) => F_IDLE,
                Some(Kept::Freq(_)) => F_FREQ,
            };
            self.cur.push(ty | access);
            self.cur.extend_from_slice(&expire_at.to_le_bytes());
            match self.kept {
                None => {}
                Some(Kept::Idle(secs)) => self.cur.extend_from_slice(&secs.to_le_bytes()),
                Some(Kept::Freq(counter)) => self.cur.push(counter),
            }
            self.keys += 1;
        } else {
            self.cur.push(ty | F_CONT);
        }
        put_bytes(&mut self.cur, key);
        self.parts += 1;
        tag_pos
    }

    fn add_str(&mut self, db: u16, key: &[u8], expire_at: u64, ty: u8, s: &[u8]) {
        let mut rest = s;
        let mut first = true;
        loop {
            let tag_pos = self.begin(db, ty, first, expire_at, key);
            let room = self.target.saturating_sub(self.cur.len() + 4);
            let n = rest.len().min(room.max(self.target.div_ceil(2)));
            put_bytes(&mut self.cur, &rest[..n]);
            rest = &rest[n..];
            if rest.is_empty() {
                return;
            }
            self.cur[tag_pos] |= F_MORE;
            first = false;
        }
    }

    fn add_items<T>(
        &mut self,
        db: u16,
        key: &[u8],
        expire_at: u64,
        ty: u8,
        items: impl Iterator<Item = T>,
        put: impl Fn(&mut Vec<u8>, T),
    ) {
        let mut tag_pos = self.begin(db, ty, true, expire_at, key);
        let mut count_pos = self.cur.len();
        self.cur.extend_from_slice(&[0; 4]);
        let mut count: u32 = 0;
        for item in items {
            if count > 0 && (self.cur.len() >= self.target || count == u32::MAX) {
                self.cur[count_pos..count_pos + 4].copy_from_slice(&count.to_le_bytes());
                self.cur[tag_pos] |= F_MORE;
                tag_pos = self.begin(db, ty, false, 0, key);
                count_pos = self.cur.len();
                self.cur.extend_from_slice(&[0; 4]);
                count = 0;
            }
            put(&mut self.cur, item);
            count += 1;
        }
        self.cur[count_pos..count_pos + 4].copy_from_slice(&count.to_le_bytes());
    }
}

#[inline]
fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    let len = u32::try_from(b.len()).expect("snapshot keys and items are below 4 GiB");
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(b);
}

// ---------------------------------------------------------------------------------------
// SnapshotWriter
// ---------------------------------------------------------------------------------------

/// Compresses, frames and writes chunks to a snapshot file (see the module docs).
///
/// Writes go out in pieces of about 1 MiB, with an `fdatasync` every
/// [`INCREMENTAL_SYNC_BYTES`] so dirty pages never pile up.
///
/// [`create`](Self::create) writes nothing durable by itself; after
/// [`finish`](Self::finish) the file's content is durable (`fdatasync`), but its directory
/// entry is not: the caller renames it into place and `sync_dir`s (or names it in the
/// manifest) as the rewrite protocol requires. Any error abandons the snapshot: later calls
/// fail with [`SnapshotError::Poisoned`].
#[derive(Debug)]
pub struct SnapshotWriter {
    file: Arc<dyn VfsFile>,
    path: PathBuf,
    buf: Vec<u8>,
    /// File offset of `buf[0]`.
    pos: u64,
    chain: crc32fast::Hasher,
    stats: SnapshotStats,
    parts: u64,
    unsynced: u64,
    poisoned: Option<String>,
}

impl SnapshotWriter {
    /// Creates (or truncates) the file at `path` and buffers the header (with the
    /// `FUNCTIONS` flag clear: no functions block).
    pub fn create(
        vfs: &dyn Vfs,
        path: &Path,
        header: SnapshotHeader,
    ) -> Result<Self, SnapshotError> {
        Self::create_with_functions(vfs, path, header, &[])
    }

    /// [`create`](Self::create), then the functions block holding `libraries` (each a
    /// library's code) if there are any; the header's `functions` flag says whether.
    pub fn create_with_functions(
        vfs: &dyn Vfs,
        path: &Path,
        header: SnapshotHeader,
        libraries: &[bytes::Bytes],
    ) -> Result<Self, SnapshotError> {
        let header = SnapshotHeader {
            functions: !libraries.is_empty(),
            ..header
        };
        let block = functions_block(libraries);
        if block.len() - FUNCTIONS_FRAME_LEN > DEFAULT_MAX_CHUNK_LEN as usize {
            return Err(SnapshotError::ChunkTooLarge {
                path: path.to_path_buf(),
                len: (block.len() - FUNCTIONS_FRAME_LEN) as u64,
                max: DEFAULT_MAX_CHUNK_LEN,
            });
        }
        let file = vfs
            .create(path)
            .map_err(|source| io_error(path, "create", source))?;
        let head = header.encode();
        let mut chain = crc32fast::Hasher::new();
        chain.update(&head[36..40]);
        let mut buf = Vec::with_capacity(WRITE_BUFFER + WRITE_BUFFER / 2);
        buf.extend_from_slice(&head);
        if header.functions {
            chain.update(&block[12..16]);
            buf.extend_from_slice(&block);
        }
        Ok(SnapshotWriter {
            file,
            path: path.to_path_buf(),
            buf,
            pos: 0,
            chain,
            stats: SnapshotStats::default(),
            parts: 0,
            unsynced: 0,
            poisoned: None,
        })
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What has been added so far (`file_bytes` counts buffered bytes too).
    pub fn stats(&self) -> SnapshotStats {
        SnapshotStats {
            file_bytes: self.pos + self.buf.len() as u64,
            ..self.stats
        }
    }

    /// Compresses one chunk, frames it and appends it (writes are buffered). An empty
    /// chunk (no bytes, no parts) is skipped.
    pub fn write_chunk(&mut self, raw: RawChunk) -> Result<(), SnapshotError> {
        self.check_poison()?;
        if raw.bytes.is_empty() && raw.parts == 0 && raw.keys == 0 {
            return Ok(());
        }
        if raw.bytes.len() as u64 > u64::from(DEFAULT_MAX_CHUNK_LEN) {
            return Err(self.fail(SnapshotError::ChunkTooLarge {
                path: self.path.clone(),
                len: raw.bytes.len() as u64,
                max: DEFAULT_MAX_CHUNK_LEN,
            }));
        }
        if raw.bytes.is_empty() || raw.parts == 0 || raw.keys > u64::from(raw.parts) {
            return Err(self.fail(SnapshotError::InvalidChunk {
                path: self.path.clone(),
                len: raw.bytes.len() as u64,
                parts: raw.parts,
                keys: raw.keys,
            }));
        }
        let raw_len = raw.bytes.len() as u32;
        let start = self.buf.len();
        let max_out = lz4_flex::block::get_maximum_output_size(raw.bytes.len());
        self.buf.resize(start + CHUNK_FRAME_LEN + max_out, 0);
        let clen =
            lz4_flex::block::compress_into(&raw.bytes, &mut self.buf[start + CHUNK_FRAME_LEN..])
                .expect("output sized with get_maximum_output_size");
        self.buf.truncate(start + CHUNK_FRAME_LEN + clen);
        let frame = &mut self.buf[start..];
        frame[0..4].copy_from_slice(&CHUNK_TAG);
        frame[4..8].copy_from_slice(&(clen as u32).to_le_bytes());
        frame[8..12].copy_from_slice(&raw_len.to_le_bytes());
        frame[12..16].copy_from_slice(&raw.parts.to_le_bytes());
        let mut h = crc32fast::Hasher::new();
        h.update(&frame[0..16]);
        h.update(&frame[CHUNK_FRAME_LEN..]);
        let crc = h.finalize();
        frame[16..20].copy_from_slice(&crc.to_le_bytes());
        self.chain.update(&crc.to_le_bytes());
        self.stats.keys += raw.keys;
        self.stats.chunks += 1;
        self.stats.raw_bytes += u64::from(raw_len);
        self.parts += u64::from(raw.parts);
        if self.buf.len() >= WRITE_BUFFER {
            self.flush()?;
        }
        Ok(())
    }

    /// Appends the trailer, writes everything and `fdatasync`s. Returns what was written.
    pub fn finish(mut self) -> Result<SnapshotStats, SnapshotError> {
        self.check_poison()?;
        let t = Trailer {
            keys: self.stats.keys,
            chunks: self.stats.chunks,
            raw_bytes: self.stats.raw_bytes,
            parts: self.parts,
            chain: self.chain.clone().finalize(),
        };
        self.buf.extend_from_slice(&t.encode());
        self.flush()?;
        if let Err(source) = self.file.sync_data() {
            return Err(self.fail_io("fdatasync", source));
        }
        self.stats.file_bytes = self.pos;
        Ok(self.stats)
    }

    fn flush(&mut self) -> Result<(), SnapshotError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        if let Err(source) = self.file.write_all_at(&self.buf, self.pos) {
            return Err(self.fail_io("write", source));
        }
        self.pos += self.buf.len() as u64;
        self.unsynced += self.buf.len() as u64;
        self.buf.clear();
        if self.unsynced >= INCREMENTAL_SYNC_BYTES {
            if let Err(source) = self.file.sync_data() {
                return Err(self.fail_io("fdatasync", source));
            }
            self.unsynced = 0;
        }
        Ok(())
    }

    fn check_poison(&self) -> Result<(), SnapshotError> {
        match &self.poisoned {
            Some(cause) => Err(SnapshotError::Poisoned {
                path: self.path.clone(),
                cause: cause.clone(),
            }),
            None => Ok(()),
        }
    }

    fn fail(&mut self, e: SnapshotError) -> SnapshotError {
        if self.poisoned.is_none() {
            self.poisoned = Some(e.to_string());
        }
        e
    }

    fn fail_io(&mut self, op: &'static str, source: io::Error) -> SnapshotError {
        let e = io_error(&self.path, op, source);
        self.fail(e)
    }
}

/// The functions block of `libraries` (frame and payload).
fn functions_block(libraries: &[bytes::Bytes]) -> Vec<u8> {
    let mut out = vec![0u8; FUNCTIONS_FRAME_LEN];
    for code in libraries {
        put_bytes(&mut out, code);
    }
    let len = (out.len() - FUNCTIONS_FRAME_LEN) as u32;
    out[0..4].copy_from_slice(&FUNCTIONS_TAG);
    out[4..8].copy_from_slice(&(libraries.len() as u32).to_le_bytes());
    out[8..12].copy_from_slice(&len.to_le_bytes());
    let mut h = crc32fast::Hasher::new();
    h.update(&out[0..12]);
    h.update(&out[FUNCTIONS_FRAME_LEN..]);
    let crc = h.finalize();
    out[12..16].copy_from_slice(&crc.to_le_bytes());
    out
}

/// The libraries in a functions block's payload (checksum already verified).
fn parse_functions(payload: &[u8], count: u32) -> Result<Vec<Vec<u8>>, FunctionsProblem> {
    let malformed = |reason| FunctionsProblem::Malformed { reason };
    if count == 0 {
        return Err(malformed("a block of zero libraries"));
    }
    let mut rest = payload;
    let mut out = Vec::new();
    while !rest.is_empty() {
        if out.len() as u64 >= u64::from(count) {
            return Err(malformed("bytes after the last library"));
        }
        let Some((len, tail)) = rest.split_first_chunk::<4>() else {
            return Err(malformed("a library's length is cut off"));
        };
        let len = u32::from_le_bytes(*len) as usize;
        if len > tail.len() {
            return Err(malformed("a library's code runs past the payload"));
        }
        out.push(tail[..len].to_vec());
        rest = &tail[len..];
    }
    if out.len() as u64 != u64::from(count) {
        return Err(malformed("fewer libraries than the count"));
    }
    Ok(out)
}

fn io_error(path: &Path, op: &'static str, source: io::Error) -> SnapshotError {
    if is_no_space(&source) {
        SnapshotError::NoSpace {
            path: path.to_path_buf(),
            source,
        }
    } else {
        SnapshotError::Io {
            path: path.to_path_buf(),
            op,
            source,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Trailer
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Trailer {
    keys: u64,
    chunks: u64,
    raw_bytes: u64,
    parts: u64,
    chain: u32,
}

impl Trailer {
    fn encode(&self) -> [u8; TRAILER_LEN] {
        let mut out = [0u8; TRAILER_LEN];
        out[0..4].copy_from_slice(&TRAILER_TAG);
        out[8..16].copy_from_slice(&self.keys.to_le_bytes());
        out[16..24].copy_from_slice(&self.chunks.to_le_bytes());
        out[24..32].copy_from_slice(&self.raw_bytes.to_le_bytes());
        out[32..40].copy_from_slice(&self.parts.to_le_bytes());
        out[40..44].copy_from_slice(&self.chain.to_le_bytes());
        let crc = crc32fast::hash(&out[0..44]);
        out[44..48].copy_from_slice(&crc.to_le_bytes());
        out
    }

    /// Decodes a trailer whose tag the caller checked.
    fn decode(b: &[u8; TRAILER_LEN]) -> Result<Trailer, TrailerProblem> {
        let stored = le_u32(&b[44..48]);
        let computed = crc32fast::hash(&b[0..44]);
        if stored != computed {
            return Err(TrailerProblem::ChecksumMismatch { stored, computed });
        }
        let reserved = le_u32(&b[4..8]);
        if reserved != 0 {
            return Err(TrailerProblem::ReservedNotZero { value: reserved });
        }
        Ok(Trailer {
            keys: le_u64(&b[8..16]),
            chunks: le_u64(&b[16..24]),
            raw_bytes: le_u64(&b[24..32]),
            parts: le_u64(&b[32..40]),
            chain: le_u32(&b[40..44]),
        })
    }
}

// ---------------------------------------------------------------------------------------
// Frame reading (sequential) and chunk decoding (parallel)
// ---------------------------------------------------------------------------------------

/// A chunk frame read from the file, not yet verified.
struct RawFrame {
    offset: u64,
    index: u64,
    head: [u8; 16],
    raw_len: u32,
    stored_crc: u32,
    data: Vec<u8>,
}

impl RawFrame {
    fn parts(&self) -> u32 {
        le_u32(&self.head[12..16])
    }

    fn cost(&self) -> u64 {
        self.data.len() as u64 + u64::from(self.raw_len)
    }
}

enum Next {
    Chunk(RawFrame),
    /// A valid trailer matching the chunks, ending the file. `offset` is where it starts.
    End {
        offset: u64,
        trailer: Trailer,
    },
}

/// Walks the frames of a file: header, chunk frames (lengths checked, bytes read), trailer
/// (checksum, counts, chain, end of file).
struct Frames<S> {
    src: S,
    file_len: u64,
    limits: SnapshotLimits,
    header: SnapshotHeader,
    /// The functions block's libraries.
    libraries: Vec<Vec<u8>>,
    pos: u64,
    index: u64,
    raw_total: u64,
    parts_total: u64,
    chain: crc32fast::Hasher,
}

/// Read and check the functions block after the header: its checksum, its libraries and
/// where it ends.
#[allow(clippy::type_complexity)]
fn read_functions<S: ReadAt>(
    src: &S,
    file_len: u64,
    limits: SnapshotLimits,
) -> io::Result<Result<(u32, Vec<Vec<u8>>, u64), FunctionsProblem>> {
    let at = SNAPSHOT_HEADER_LEN as u64;
    let avail = file_len.saturating_sub(at);
    if avail < FUNCTIONS_FRAME_LEN as u64 {
        return Ok(Err(FunctionsProblem::Truncated {
            needed: FUNCTIONS_FRAME_LEN as u64,
            available: avail,
        }));
    }
    let mut frame = [0u8; FUNCTIONS_FRAME_LEN];
    src.read_exact_at(&mut frame, at)?;
    let tag: [u8; 4] = frame[0..4].try_into().expect("4 bytes");
    if tag != FUNCTIONS_TAG {
        return Ok(Err(FunctionsProblem::BadTag { found: tag }));
    }
    let count = le_u32(&frame[4..8]);
    let len = le_u32(&frame[8..12]);
    let stored = le_u32(&frame[12..16]);
    if len > limits.max_chunk_len {
        return Ok(Err(FunctionsProblem::TooLarge {
            len,
            max: limits.max_chunk_len,
        }));
    }
    let needed = FUNCTIONS_FRAME_LEN as u64 + u64::from(len);
    if avail < needed {
        return Ok(Err(FunctionsProblem::Truncated {
            needed,
            available: avail,
        }));
    }
    let mut payload = vec![0u8; len as usize];
    src.read_exact_at(&mut payload, at + FUNCTIONS_FRAME_LEN as u64)?;
    let mut h = crc32fast::Hasher::new();
    h.update(&frame[0..12]);
    h.update(&payload);
    let computed = h.finalize();
    if computed != stored {
        return Ok(Err(FunctionsProblem::ChecksumMismatch { stored, computed }));
    }
    Ok(parse_functions(&payload, count).map(|libs| (stored, libs, at + needed)))
}

impl<S: ReadAt> Frames<S> {
    fn open(src: S, limits: SnapshotLimits) -> io::Result<Result<Self, SnapshotProblem>> {
        let file_len = src.size()?;
        let mut head = [0u8; SNAPSHOT_HEADER_LEN];
        let n = (SNAPSHOT_HEADER_LEN as u64).min(file_len) as usize;
        src.read_exact_at(&mut head[..n], 0)?;
        let header = match SnapshotHeader::decode(&head[..n]) {
            Ok(h) => h,
            Err(problem) => return Ok(Err(SnapshotProblem::BadHeader { problem })),
        };
        let mut chain = crc32fast::Hasher::new();
        chain.update(&head[36..40]);
        let mut pos = SNAPSHOT_HEADER_LEN as u64;
        let mut libraries = Vec::new();
        if header.functions {
            match read_functions(&src, file_len, limits)? {
                Ok((crc, libs, end)) => {
                    chain.update(&crc.to_le_bytes());
                    libraries = libs;
                    pos = end;
                }
                Err(problem) => {
                    return Ok(Err(SnapshotProblem::Functions {
                        offset: SNAPSHOT_HEADER_LEN as u64,
                        problem,
                    }))
                }
            }
        }
        Ok(Ok(Frames {
            src,
            file_len,
            limits,
            header,
            libraries,
            pos,
            index: 0,
            raw_total: 0,
            parts_total: 0,
            chain,
        }))
    }

    fn next(&mut self) -> io::Result<Result<Next, SnapshotProblem>> {
        let offset = self.pos;
        let index = self.index;
        let avail = self.file_len - offset;
        let truncated = |needed: u64| SnapshotProblem::Truncated {
            offset,
            chunk_index: index,
            needed,
            available: avail,
        };
        let chunk = |problem| SnapshotProblem::Chunk {
            offset,
            chunk_index: index,
            problem,
        };
        if avail == 0 {
            return Ok(Err(SnapshotProblem::MissingTrailer {
                offset,
                chunks: index,
            }));
        }
        if avail < 4 {
            return Ok(Err(truncated(CHUNK_FRAME_LEN as u64)));
        }
        let mut tag = [0u8; 4];
        self.src.read_exact_at(&mut tag, offset)?;
        if tag == TRAILER_TAG {
            return self.trailer(offset, avail);
        }
        if tag != CHUNK_TAG {
            return Ok(Err(chunk(ChunkProblem::BadTag { found: tag })));
        }
        if avail < CHUNK_FRAME_LEN as u64 {
            return Ok(Err(truncated(CHUNK_FRAME_LEN as u64)));
        }
        let mut frame = [0u8; CHUNK_FRAME_LEN];
        self.src.read_exact_at(&mut frame, offset)?;
        let compressed_len = le_u32(&frame[4..8]);
        let raw_len = le_u32(&frame[8..12]);
        let parts = le_u32(&frame[12..16]);
        let stored_crc = le_u32(&frame[16..20]);
        if compressed_len == 0 || raw_len == 0 || parts == 0 {
            return Ok(Err(chunk(ChunkProblem::Empty {
                compressed_len,
                raw_len,
                parts,
            })));
        }
        let max_c = self.limits.max_compressed_len();
        if u64::from(compressed_len) > max_c {
            return Ok(Err(chunk(ChunkProblem::CompressedTooLarge {
                len: compressed_len,
                max: max_c,
            })));
        }
        if raw_len > self.limits.max_chunk_len {
            return Ok(Err(chunk(ChunkProblem::RawTooLarge {
                len: raw_len,
                max: self.limits.max_chunk_len,
            })));
        }
        if u64::from(raw_len) > max_expansion(compressed_len) {
            return Ok(Err(chunk(ChunkProblem::ImpossibleRatio {
                compressed_len,
                raw_len,
            })));
        }
        let needed = CHUNK_FRAME_LEN as u64 + u64::from(compressed_len);
        if needed > avail {
            return Ok(Err(truncated(needed)));
        }
        // Bounded: compressed_len <= the bytes present and <= the configured limit.
        let mut data = vec![0u8; compressed_len as usize];
        self.src
            .read_exact_at(&mut data, offset + CHUNK_FRAME_LEN as u64)?;
        let mut head = [0u8; 16];
        head.copy_from_slice(&frame[0..16]);
        self.pos = offset + needed;
        self.index += 1;
        self.raw_total += u64::from(raw_len);
        self.parts_total += u64::from(parts);
        self.chain.update(&stored_crc.to_le_bytes());
        Ok(Ok(Next::Chunk(RawFrame {
            offset,
            index,
            head,
            raw_len,
            stored_crc,
            data,
        })))
    }

    fn trailer(&mut self, offset: u64, avail: u64) -> io::Result<Result<Next, SnapshotProblem>> {
        if avail < TRAILER_LEN as u64 {
            return Ok(Err(SnapshotProblem::Truncated {
                offset,
                chunk_index: self.index,
                needed: TRAILER_LEN as u64,
                available: avail,
            }));
        }
        let mut b = [0u8; TRAILER_LEN];
        self.src.read_exact_at(&mut b, offset)?;
        let bad = |problem| Ok(Err(SnapshotProblem::Trailer { offset, problem }));
        let t = match Trailer::decode(&b) {
            Ok(t) => t,
            Err(p) => return bad(p),
        };
        for (what, stored, actual) in [
            ("chunks", t.chunks, self.index),
            ("raw bytes", t.raw_bytes, self.raw_total),
            ("parts", t.parts, self.parts_total),
        ] {
            if stored != actual {
                return bad(TrailerProblem::CountMismatch {
                    what,
                    stored,
                    actual,
                });
            }
        }
        let computed = self.chain.clone().finalize();
        if t.chain != computed {
            return bad(TrailerProblem::ChainMismatch {
                stored: t.chain,
                computed,
            });
        }
        let end = offset + TRAILER_LEN as u64;
        if end < self.file_len {
            return Ok(Err(SnapshotProblem::TrailingData {
                offset: end,
                extra: self.file_len - end,
            }));
        }
        Ok(Ok(Next::End { offset, trailer: t }))
    }
}

/// One decoded entry part.
enum Decoded {
    /// A complete entry (first part without `MORE`).
    Whole(u16, Box<Entry>),
    /// One part of a split entry.
    Part(Box<Piece>),
}

struct Piece {
    db: u16,
    ty: u8,
    cont: bool,
    more: bool,
    expire_at: u64,
    /// The access field a first part kept.
    kept: Option<Kept>,
    key: Vec<u8>,
    body: Body,
}

enum Body {
    Str(Vec<u8>),
    Int(i64),
    Elems(Vec<Vec<u8>>),
    Pairs(Vec<(Vec<u8>, Vec<u8>)>),
    Scored(Vec<(Vec<u8>, f64)>),
}

impl Body {
    fn append(&mut self, other: Body) -> Result<(), EntryProblem> {
        match (self, other) {
            (Body::Str(a), Body::Str(b)) => a.extend_from_slice(&b),
            (Body::Elems(a), Body::Elems(mut b)) => a.append(&mut b),
            (Body::Pairs(a), Body::Pairs(mut b)) => a.append(&mut b),
            (Body::Scored(a), Body::Scored(mut b)) => a.append(&mut b),
            _ => return Err(EntryProblem::ContinuationMismatch),
        }
        Ok(())
    }

    fn into_value(self, ty: u8) -> Result<Value, EntryProblem> {
        Ok(match (ty, self) {
            (T_STREAM, Body::Str(s)) => Value::Stream(Box::new(
                super::stream_blob::decode(&s)
                    .map_err(|problem| EntryProblem::Stream { problem })?,
            )),
            (_, Body::Str(s)) => Value::Str(s),
            (_, Body::Int(i)) => Value::Int(i),
            (T_SET, Body::Elems(e)) => Value::Set(Box::new(Set::from_members(e))),
            (_, Body::Elems(e)) => Value::List(Box::new(List::from_elements(e))),
            (_, Body::Pairs(p)) => Value::Hash(Hash::from_pairs(p)),
            (_, Body::Scored(p)) => Value::ZSet(Box::new(ZSet::from_pairs(p))),
        })
    }
}

enum ChunkFail {
    Chunk(ChunkProblem),
    Entry {
        part_index: u32,
        problem: EntryProblem,
    },
}

/// Verifies, decompresses and decodes one chunk. Runs on the loader's worker threads.
fn decode_frame(f: &RawFrame, rules: Rules) -> Result<Vec<Decoded>, ChunkFail> {
    let mut h = crc32fast::Hasher::new();
    h.update(&f.head);
    h.update(&f.data);
    let computed = h.finalize();
    if computed != f.stored_crc {
        return Err(ChunkFail::Chunk(ChunkProblem::ChecksumMismatch {
            stored: f.stored_crc,
            computed,
        }));
    }
    // Bounded: raw_len <= max_chunk_len and <= 255x the compressed bytes present.
    let mut raw = vec![0u8; f.raw_len as usize];
    let n = lz4_flex::block::decompress_into(&f.data, &mut raw).map_err(|e| {
        ChunkFail::Chunk(ChunkProblem::Decompress {
            reason: e.to_string(),
        })
    })?;
    if n != raw.len() {
        return Err(ChunkFail::Chunk(ChunkProblem::RawLenMismatch {
            declared: f.raw_len,
            actual: n as u64,
        }));
    }
    decode_parts(&raw, f.parts(), rules)
}

/// What the decoder needs beyond a chunk's bytes.
#[derive(Clone, Copy)]
struct Rules {
    /// Databases the header declares.
    dbs: u32,
    /// The header allows access fields.
    access: bool,
    /// Turns kept access fields into the loading keyspace's (None: entries are left
    /// with a zero field, for readers that do not load into a keyspace).
    clock: Option<Clock>,
}

impl Rules {
    fn new(header: &SnapshotHeader, clock: Option<Clock>) -> Rules {
        Rules {
            dbs: header.dbs,
            access: header.access,
            clock,
        }
    }
}

/// A decoded entry, its access field set from `kept` at `clock`'s time when given.
fn entry_at(
    clock: Option<Clock>,
    key: Vec<u8>,
    value: Value,
    expire_at: u64,
    kept: Option<Kept>,
) -> Entry {
    let e = Entry::new(key.into(), value, expire_at);
    if let Some(c) = clock {
        e.set_access(c.restore(kept));
    }
    e
}

/// Decodes exactly `parts` entry parts filling `raw`.
fn decode_parts(raw: &[u8], parts: u32, rules: Rules) -> Result<Vec<Decoded>, ChunkFail> {
    let mut c = Cursor { b: raw, pos: 0 };
    // Every part takes at least 2 + 1 + 4 bytes.
    let mut out = Vec::with_capacity((parts as usize).min(raw.len() / 7 + 1));
    for part_index in 0..parts {
        match decode_part(&mut c, rules) {
            Ok(d) => out.push(d),
            Err(problem) => {
                return Err(ChunkFail::Entry {
                    part_index,
                    problem,
                })
            }
        }
    }
    if c.pos != raw.len() {
        return Err(ChunkFail::Entry {
            part_index: parts,
            problem: EntryProblem::TrailingBytes {
                extra: (raw.len() - c.pos) as u64,
            },
        });
    }
    Ok(out)
}

struct Cursor<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn remaining(&self) -> usize {
        self.b.len() - self.pos
    }

    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], EntryProblem> {
        if self.remaining() < n {
            return Err(EntryProblem::Truncated { field });
        }
        let s = &self.b[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn u32(&mut self, field: &'static str) -> Result<u32, EntryProblem> {
        Ok(le_u32(self.take(4, field)?))
    }

    fn u64(&mut self, field: &'static str) -> Result<u64, EntryProblem> {
        Ok(le_u64(self.take(8, field)?))
    }

    fn bytes(&mut self, field: &'static str) -> Result<&'a [u8], EntryProblem> {
        let n = self.u32(field)? as usize;
        self.take(n, field)
    }

    /// Reads an item count, checking that `count` items of at least `min_size` bytes fit.
    fn count(&mut self, min_size: u64) -> Result<usize, EntryProblem> {
        let count = self.u32("item count")?;
        let remaining = self.remaining() as u64;
        if u64::from(count) * min_size > remaining {
            return Err(EntryProblem::CountImpossible { count, remaining });
        }
        Ok(count as usize)
    }
}

fn decode_part(c: &mut Cursor<'_>, rules: Rules) -> Result<Decoded, EntryProblem> {
    let h = c.take(3, "db and type")?;
    let db = u16::from_le_bytes([h[0], h[1]]);
    let tag = h[2];
    let dbs = rules.dbs;
    if u32::from(db) >= dbs {
        return Err(EntryProblem::DbOutOfRange { db, dbs });
    }
    let ty = tag & TYPE_MASK;
    let cont = tag & F_CONT != 0;
    let more = tag & F_MORE != 0;
    let access_bits = tag & (F_IDLE | F_FREQ);
    if tag & RESERVED_BITS != 0
        || !(T_STR..=T_STREAM).contains(&ty)
        || (ty == T_INT && (cont || more))
        || (access_bits != 0 && (cont || !rules.access || access_bits == F_IDLE | F_FREQ))
    {
        return Err(EntryProblem::BadTag { tag });
    }
    let expire_at = if cont { 0 } else { c.u64("expiry")? };
    let kept = match access_bits {
        F_IDLE => Some(Kept::Idle(c.u32("idle time")?)),
        F_FREQ => Some(Kept::Freq(c.take(1, "access counter")?[0])),
        _ => None,
    };
    let key = c.bytes("key")?;
    let body = match ty {
        T_STR => Body::Str(c.bytes("string value")?.to_vec()),
        T_STREAM => Body::Str(c.bytes("stream value")?.to_vec()),
        T_INT => Body::Int(c.u64("integer value")? as i64),
        T_LIST | T_SET => {
            let n = c.count(4)?;
            let mut v = Vec::with_capacity(n);
            for _ in 0..n {
                v.push(c.bytes("element")?.to_vec());
            }
            Body::Elems(v)
        }
        T_HASH => {
            let n = c.count(8)?;
            let mut v = Vec::with_capacity(n);
            for _ in 0..n {
                let f = c.bytes("field")?.to_vec();
                v.push((f, c.bytes("value")?.to_vec()));
            }
            Body::Pairs(v)
        }
        _ => {
            let n = c.count(12)?;
            let mut v = Vec::with_capacity(n);
            for _ in 0..n {
                let m = c.bytes("member")?.to_vec();
                let score = f64::from_bits(c.u64("score")?);
                if score.is_nan() {
                    return Err(EntryProblem::NanScore);
                }
                v.push((m, score));
            }
            Body::Scored(v)
        }
    };
    if !cont && !more {
        // Boxed here, on the decoding thread: the keyspace keeps entries boxed, and
        // allocating (and first touching) their memory is part of the parallel work.
        return Ok(Decoded::Whole(
            db,
            Box::new(entry_at(
                rules.clock,
                key.to_vec(),
                body.into_value(ty)?,
                expire_at,
                kept,
            )),
        ));
    }
    Ok(Decoded::Part(Box::new(Piece {
        db,
        ty,
        cont,
        more,
        expire_at,
        kept,
        key: key.to_vec(),
        body,
    })))
}

/// Joins the parts of split entries, in file order, and counts entries.
#[derive(Default)]
struct Merger {
    pending: Option<Box<Piece>>,
    keys: u64,
    /// As [`Rules::clock`].
    clock: Option<Clock>,
}

impl Merger {
    fn feed(&mut self, d: Decoded) -> Result<Option<(u16, Box<Entry>)>, EntryProblem> {
        match d {
            Decoded::Whole(db, e) => {
                if self.pending.is_some() {
                    return Err(EntryProblem::MissingContinuation);
                }
                self.keys += 1;
                Ok(Some((db, e)))
            }
            Decoded::Part(p) if !p.cont => {
                if self.pending.is_some() {
                    return Err(EntryProblem::MissingContinuation);
                }
                self.keys += 1;
                self.pending = Some(p);
                Ok(None)
            }
            Decoded::Part(p) => {
                let Some(acc) = self.pending.as_mut() else {
                    return Err(EntryProblem::UnexpectedContinuation);
                };
                if acc.db != p.db || acc.ty != p.ty || acc.key != p.key {
                    return Err(EntryProblem::ContinuationMismatch);
                }
                let Piece { more, body, .. } = *p;
                acc.body.append(body)?;
                if more {
                    return Ok(None);
                }
                let acc = self.pending.take().expect("checked above");
                let Piece {
                    db,
                    ty,
                    expire_at,
                    kept,
                    key,
                    body,
                    ..
                } = *acc;
                Ok(Some((
                    db,
                    Box::new(entry_at(
                        self.clock,
                        key,
                        body.into_value(ty)?,
                        expire_at,
                        kept,
                    )),
                )))
            }
        }
    }

    /// Turns a decoded chunk into the entries it completes, or the problem (with where).
    fn chunk(
        &mut self,
        offset: u64,
        chunk_index: u64,
        decoded: Result<Vec<Decoded>, ChunkFail>,
        out: &mut Vec<(u16, Box<Entry>)>,
    ) -> Result<(), SnapshotProblem> {
        let parts = decoded.map_err(|fail| match fail {
            ChunkFail::Chunk(problem) => SnapshotProblem::Chunk {
                offset,
                chunk_index,
                problem,
            },
            ChunkFail::Entry {
                part_index,
                problem,
            } => SnapshotProblem::Entry {
                offset,
                chunk_index,
                part_index,
                problem,
            },
        })?;
        for (i, d) in parts.into_iter().enumerate() {
            match self.feed(d) {
                Ok(Some(e)) => out.push(e),
                Ok(None) => {}
                Err(problem) => {
                    out.clear();
                    return Err(SnapshotProblem::Entry {
                        offset,
                        chunk_index,
                        part_index: i as u32,
                        problem,
                    });
                }
            }
        }
        Ok(())
    }

    /// Checks the end of the file against what was merged.
    fn finish(
        &self,
        header: SnapshotHeader,
        libraries: &[Vec<u8>],
        offset: u64,
        t: &Trailer,
    ) -> Result<SnapshotInfo, SnapshotProblem> {
        if self.pending.is_some() {
            return Err(SnapshotProblem::IncompleteEntry {
                offset,
                chunk_index: t.chunks,
            });
        }
        if self.keys != t.keys {
            return Err(SnapshotProblem::Trailer {
                offset,
                problem: TrailerProblem::CountMismatch {
                    what: "keys",
                    stored: t.keys,
                    actual: self.keys,
                },
            });
        }
        Ok(SnapshotInfo {
            header,
            libraries: libraries.to_vec(),
            keys: self.keys,
            chunks: t.chunks,
            raw_bytes: t.raw_bytes,
            file_bytes: offset + TRAILER_LEN as u64,
        })
    }
}

// ---------------------------------------------------------------------------------------
// SnapshotReader
// ---------------------------------------------------------------------------------------

/// Where a [`SnapshotReader`] stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotStop {
    /// The whole file is valid and every entry was returned.
    Complete(SnapshotInfo),
    /// The file is invalid here; entries of the chunk holding the problem (and anything
    /// after it) were not returned.
    Invalid(SnapshotProblem),
}

/// Walks a snapshot one chunk at a time, yielding its entries in file order, then says
/// exactly where and why it stopped ([`SnapshotStop`]).
///
/// Entries are returned only from chunks that verified completely; memory is bounded by
/// one chunk plus one split entry being joined.
#[derive(Debug)]
pub struct SnapshotReader<S> {
    inner: Option<Frames<S>>,
    header: Option<SnapshotHeader>,
    merger: Merger,
    queue: VecDeque<(u16, Entry)>,
    stop: Option<SnapshotStop>,
    position: u64,
    chunks: u64,
    keys_returned: u64,
}

impl<S> std::fmt::Debug for Frames<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Frames")
            .field("pos", &self.pos)
            .field("index", &self.index)
            .finish()
    }
}

impl std::fmt::Debug for Merger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Merger")
            .field("joining", &self.pending.is_some())
            .field("keys", &self.keys)
            .finish()
    }
}

impl<S: ReadAt> SnapshotReader<S> {
    /// Opens a reader and checks the header. A bad header is not an error here: the first
    /// [`next_entry`](Self::next_entry) returns `None` and the stop is
    /// [`SnapshotProblem::BadHeader`]. `Err` only for I/O errors of the source.
    pub fn new(src: S, limits: SnapshotLimits) -> io::Result<Self> {
        let (inner, header, stop) = match Frames::open(src, limits)? {
            Ok(f) => {
                let h = f.header;
                (Some(f), Some(h), None)
            }
            Err(p) => (None, None, Some(SnapshotStop::Invalid(p))),
        };
        let position = inner.as_ref().map_or(SNAPSHOT_HEADER_LEN as u64, |f| f.pos);
        Ok(SnapshotReader {
            inner,
            header,
            merger: Merger::default(),
            queue: VecDeque::new(),
            stop,
            position,
            chunks: 0,
            keys_returned: 0,
        })
    }

    /// The header, if valid (and the functions block, if it has one).
    pub fn header(&self) -> Option<&SnapshotHeader> {
        self.header.as_ref()
    }

    /// The function libraries' code (empty without a functions block, or once the reader
    /// reached the end: then see the [`SnapshotInfo`] of the stop).
    pub fn libraries(&self) -> &[Vec<u8>] {
        self.inner.as_ref().map_or(&[], |f| &f.libraries)
    }

    /// Offset just after the last chunk that verified (or after the header, or after the
    /// trailer once complete).
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Chunks verified so far.
    pub fn chunks_read(&self) -> u64 {
        self.chunks
    }

    /// Entries returned so far.
    pub fn entries_read(&self) -> u64 {
        self.keys_returned
    }

    /// Why reading stopped; `None` until [`next_entry`](Self::next_entry) returned `None`.
    pub fn stop_reason(&self) -> Option<&SnapshotStop> {
        if self.queue.is_empty() {
            self.stop.as_ref()
        } else {
            None
        }
    }

    /// The next entry with its database, or `None` at the end (then see
    /// [`stop_reason`](Self::stop_reason)). `Err` only for I/O errors of the source.
    pub fn next_entry(&mut self) -> io::Result<Option<(u16, Entry)>> {
        loop {
            if let Some(e) = self.queue.pop_front() {
                self.keys_returned += 1;
                return Ok(Some(e));
            }
            if self.stop.is_some() {
                return Ok(None);
            }
            self.step()?;
        }
    }

    /// Verifies the rest of the file without keeping the entries; returns the stop.
    pub fn verify(mut self) -> io::Result<SnapshotStop> {
        while self.stop.is_none() {
            self.queue.clear();
            self.step()?;
        }
        Ok(self.stop.take().expect("loop ended on a stop"))
    }

    /// Reads all remaining entries.
    pub fn read_to_end(mut self) -> io::Result<(Vec<(u16, Entry)>, SnapshotStop)> {
        let mut out = Vec::new();
        while let Some(e) = self.next_entry()? {
            out.push(e);
        }
        Ok((out, self.stop.take().expect("next_entry returned None")))
    }

    /// Reads and decodes one frame.
    fn step(&mut self) -> io::Result<()> {
        let Some(frames) = self.inner.as_mut() else {
            return Ok(());
        };
        let header = frames.header;
        let stop = match frames.next()? {
            Err(p) => SnapshotStop::Invalid(p),
            Ok(Next::End { offset, trailer }) => {
                match self
                    .merger
                    .finish(header, &frames.libraries, offset, &trailer)
                {
                    Ok(info) => {
                        self.position = info.file_bytes;
                        SnapshotStop::Complete(info)
                    }
                    Err(p) => SnapshotStop::Invalid(p),
                }
            }
            Ok(Next::Chunk(f)) => {
                let decoded = decode_frame(&f, Rules::new(&header, None));
                let mut out = Vec::new();
                match self.merger.chunk(f.offset, f.index, decoded, &mut out) {
                    Ok(()) => {
                        self.queue.extend(out.into_iter().map(|(db, e)| (db, *e)));
                        self.chunks += 1;
                        self.position = f.offset + CHUNK_FRAME_LEN as u64 + f.data.len() as u64;
                        return Ok(());
                    }
                    Err(p) => SnapshotStop::Invalid(p),
                }
            }
        };
        self.stop = Some(stop);
        self.inner = None;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// load_snapshot
// ---------------------------------------------------------------------------------------

/// Loads a snapshot file, delivering every entry to `on_entry` in file order (split values
/// joined), decompressing and decoding chunks on `threads` worker threads (`<= 1`: on the
/// calling thread; at most 64). `on_entry` always runs on the calling thread.
///
/// The whole file is verified (header, every chunk checksum and length, every entry, the
/// trailer's counts and chain, and that the file ends there). Entries are delivered as
/// chunks verify, so **on any error the caller must discard what it received**: an error
/// means the snapshot is unusable, never that a prefix of it is the data set.
pub fn load_snapshot<E>(
    vfs: &dyn Vfs,
    path: &Path,
    limits: SnapshotLimits,
    threads: usize,
    mut on_entry: impl FnMut(u16, Entry) -> Result<(), E>,
) -> Result<SnapshotInfo, SnapshotLoadError<E>> {
    load_snapshot_boxed(vfs, path, limits, threads, None, |db, e| on_entry(db, *e))
}

/// [`load_snapshot`] delivering entries boxed, as the worker threads allocated them (the
/// keyspace keeps entries boxed; this saves the loading thread an allocation and a copy
/// per entry). With `clock` (the loading keyspace's), every entry's access field is set:
/// from what the file kept, read at the clock's time, or fresh (see
/// [`Clock::restore`]); without, entries carry a zero field.
pub fn load_snapshot_boxed<E>(
    vfs: &dyn Vfs,
    path: &Path,
    limits: SnapshotLimits,
    threads: usize,
    clock: Option<Clock>,
    mut on_entry: impl FnMut(u16, Box<Entry>) -> Result<(), E>,
) -> Result<SnapshotInfo, SnapshotLoadError<E>> {
    let io_err = |op, source| SnapshotLoadError::Io {
        path: path.to_path_buf(),
        op,
        source,
    };
    let invalid = |problem| SnapshotLoadError::Invalid {
        path: path.to_path_buf(),
        problem,
    };
    let file = vfs.open_read(path).map_err(|e| io_err("open", e))?;
    let mut frames = Frames::open(file, limits)
        .map_err(|e| io_err("read", e))?
        .map_err(invalid)?;
    let header = frames.header;
    let libraries = std::mem::take(&mut frames.libraries);
    let rules = Rules::new(&header, clock);
    let mut merger = Merger {
        clock,
        ..Merger::default()
    };
    let mut batch = Vec::new();
    let mut deliver = |merger: &mut Merger,
                       offset: u64,
                       chunk_index: u64,
                       decoded: Result<Vec<Decoded>, ChunkFail>|
     -> Result<(), SnapshotLoadError<E>> {
        merger
            .chunk(offset, chunk_index, decoded, &mut batch)
            .map_err(invalid)?;
        for (db, e) in batch.drain(..) {
            on_entry(db, e).map_err(|source| SnapshotLoadError::Apply {
                path: path.to_path_buf(),
                offset,
                chunk_index,
                source,
            })?;
        }
        Ok(())
    };

    if threads <= 1 {
        loop {
            match frames.next().map_err(|e| io_err("read", e))? {
                Err(p) => return Err(invalid(p)),
                Ok(Next::Chunk(f)) => {
                    let decoded = decode_frame(&f, rules);
                    deliver(&mut merger, f.offset, f.index, decoded)?;
                }
                Ok(Next::End { offset, trailer }) => {
                    return merger
                        .finish(header, &libraries, offset, &trailer)
                        .map_err(invalid);
                }
            }
        }
    }

    let threads = threads.min(MAX_LOAD_THREADS);
    let max_in_flight = threads * 3;
    let (job_tx, job_rx) = mpsc::sync_channel::<RawFrame>(max_in_flight);
    let job_rx = Mutex::new(job_rx);
    std::thread::scope(|s| {
        let (res_tx, res_rx) = mpsc::channel();
        for _ in 0..threads {
            let res_tx = res_tx.clone();
            let job_rx = &job_rx;
            s.spawn(move || loop {
                let job = job_rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
                let Ok(f) = job else { break };
                // A panic (a bug) is carried to the calling thread and re-raised there;
                // otherwise the caller would wait forever for this chunk's result.
                let decoded = panic::catch_unwind(AssertUnwindSafe(|| decode_frame(&f, rules)));
                let meta = (f.index, f.offset, f.cost());
                if res_tx.send((meta, decoded)).is_err() {
                    break;
                }
            });
        }
        drop(res_tx);
        // `job_tx` and `res_rx` are owned by this closure: every return below drops them,
        // which stops the workers before the scope joins them.
        let job_tx = job_tx;
        let res_rx = res_rx;
        let mut waiting = BTreeMap::new();
        let mut dispatched: u64 = 0;
        let mut delivered: u64 = 0;
        let mut in_flight_bytes: u64 = 0;
        let mut end: Option<Result<(u64, Trailer), SnapshotProblem>> = None;
        loop {
            while end.is_none()
                && ((dispatched - delivered) as usize) < max_in_flight
                && (dispatched == delivered || in_flight_bytes < LOAD_INFLIGHT_BYTES)
            {
                match frames.next().map_err(|e| io_err("read", e))? {
                    Ok(Next::Chunk(f)) => {
                        in_flight_bytes += f.cost();
                        dispatched += 1;
                        if job_tx.send(f).is_err() {
                            panic!("snapshot decode workers exited early");
                        }
                    }
                    Ok(Next::End { offset, trailer }) => end = Some(Ok((offset, trailer))),
                    Err(p) => end = Some(Err(p)),
                }
            }
            if delivered == dispatched {
                // Every chunk before the end (or the problem) has been delivered.
                return match end.take().expect("reading stops only at an end") {
                    Ok((offset, trailer)) => merger
                        .finish(header, &libraries, offset, &trailer)
                        .map_err(invalid),
                    Err(p) => Err(invalid(p)),
                };
            }
            let ((index, offset, cost), decoded) =
                res_rx.recv().expect("snapshot decode workers exited early");
            let decoded = decoded.unwrap_or_else(|payload| panic::resume_unwind(payload));
            waiting.insert(index, (offset, cost, decoded));
            while let Some((offset, cost, decoded)) = waiting.remove(&delivered) {
                in_flight_bytes -= cost;
                deliver(&mut merger, offset, delivered, decoded)?;
                delivered += 1;
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persistence::fs::SimFs;

    fn entry(key: &[u8], value: Value, expire_at: u64) -> Entry {
        Entry::new(key.into(), value, expire_at)
    }

    fn rules(dbs: u32, access: bool, clock: Option<Clock>) -> Rules {
        Rules { dbs, access, clock }
    }

    /// Decodes one chunk of whole entries.
    fn whole(raw: &RawChunk, rules: Rules) -> Vec<Entry> {
        decode_parts(&raw.bytes, raw.parts, rules)
            .unwrap_or_else(|_| panic!("chunk refused"))
            .into_iter()
            .map(|d| match d {
                Decoded::Whole(_, e) => *e,
                Decoded::Part(_) => panic!("split entry"),
            })
            .collect()
    }

    #[test]
    fn access_fields_are_kept_and_restored() {
        use crate::keyspace::access::Policy;
        const T0: u64 = 1_700_000_000_000;
        let lfu = Policy::Lfu {
            log_factor: 10,
            decay_minutes: 1,
        };
        // LRU: a key last used 100 s before the snapshot was written.
        let at_write = Clock::new(Policy::Lru, T0);
        let e = entry(b"k", Value::Int(1), 0);
        e.set_access(at_write.idle_field(100));
        let mut enc = ChunkEncoder::new(1 << 20);
        enc.keep_access(at_write);
        enc.add(0, &e);
        let raw = enc.finish().unwrap();
        #[rustfmt::skip]
        let expected: Vec<u8> = [
            &[0, 0, T_INT | F_IDLE][..], &[0; 8], &100u32.to_le_bytes(), &[1, 0, 0, 0], b"k",
            &1i64.to_le_bytes(),
        ]
        .concat();
        assert_eq!(raw.bytes, expected);
        // Loaded an hour later: idle 100 s (the downtime does not count, as in Redis).
        let at_load = Clock::new(Policy::Lru, T0 + 3_600_000);
        let got = whole(&raw, rules(1, true, Some(at_load)));
        assert_eq!(at_load.idle_ms(got[0].access().unwrap()), 100_000);
        // Under LFU an idle time means nothing: a new key's counter.
        let lfu_load = Clock::new(lfu, T0);
        let got = whole(&raw, rules(1, true, Some(lfu_load)));
        assert_eq!(lfu_load.freq(got[0].access().unwrap()), 5);
        // Without the header's ACCESS flag the bit is refused.
        assert!(matches!(
            decode_parts(&raw.bytes, 1, rules(1, false, None)),
            Err(ChunkFail::Entry {
                problem: EntryProblem::BadTag { tag },
                ..
            }) if tag == T_INT | F_IDLE
        ));

        // LFU: the counter, decayed at the time of writing.
        let at_write = Clock::new(lfu, T0);
        let e = entry(b"f", Value::Str(b"v".to_vec()), 9);
        e.set_access(at_write.freq_field(40));
        let mut enc = ChunkEncoder::new(1 << 20);
        enc.keep_access(Clock::new(lfu, T0 + 3 * 60_000));
        enc.add(0, &e);
        let raw = enc.finish().unwrap();
        assert_eq!(raw.bytes[2], T_STR | F_FREQ);
        assert_eq!(raw.bytes[11], 37, "40 less 3 minutes of decay");
        let at_load = Clock::new(lfu, T0 + 86_400_000);
        let got = whole(&raw, rules(1, true, Some(at_load)));
        assert_eq!(at_load.freq(got[0].access().unwrap()), 37);
        assert_eq!(got[0].expire_at(), 9);
        // Under LRU a counter means nothing: the key counts as just used.
        let lru_load = Clock::new(Policy::Lru, T0);
        let got = whole(&raw, rules(1, true, Some(lru_load)));
        assert_eq!(lru_load.idle_ms(got[0].access().unwrap()), 0);

        // Both bits, a continuation part with one, a truncated idle time: refused.
        for bad in [T_INT | F_IDLE | F_FREQ, T_STR | F_IDLE | F_CONT] {
            let mut v = expected.clone();
            v[2] = bad;
            assert!(matches!(
                decode_parts(&v, 1, rules(1, true, None)),
                Err(ChunkFail::Entry {
                    part_index: 0,
                    problem: EntryProblem::BadTag { tag },
                }) if tag == bad
            ));
        }
        assert!(matches!(
            decode_parts(&expected[..13], 1, rules(1, true, None)),
            Err(ChunkFail::Entry {
                problem: EntryProblem::Truncated { field: "idle time" },
                ..
            })
        ));
    }

    #[test]
    fn header_layout_is_exact_little_endian() {
        let h = SnapshotHeader {
            lsn: 0x0102_0304_0506_0708,
            created_ms: 0x1112_1314_1516_1718,
            dbs: 16,
            access: false,
            functions: false,
        };
        let b = h.encode();
        let with_access = SnapshotHeader { access: true, ..h }.encode();
        assert_eq!(&with_access[12..16], &[1, 0, 0, 0]);
        assert!(SnapshotHeader::decode(&with_access).unwrap().access);
        assert_eq!(&b[0..8], b"STRATASN");
        assert_eq!(&b[8..12], &[1, 0, 0, 0]);
        assert_eq!(&b[12..16], &[0, 0, 0, 0]);
        assert_eq!(&b[16..24], &[8, 7, 6, 5, 4, 3, 2, 1]);
        assert_eq!(
            &b[24..32],
            &[0x18, 0x17, 0x16, 0x15, 0x14, 0x13, 0x12, 0x11]
        );
        assert_eq!(&b[32..36], &[16, 0, 0, 0]);
        assert_eq!(&b[36..40], &crc32fast::hash(&b[0..36]).to_le_bytes());
        assert_eq!(SnapshotHeader::decode(&b), Ok(h));
    }

    #[test]
    fn header_rejections() {
        let b = SnapshotHeader {
            lsn: 1,
            created_ms: 2,
            dbs: 1,
            access: false,
            functions: false,
        }
        .encode();
        assert_eq!(
            SnapshotHeader::decode(&b[..39]),
            Err(SnapshotHeaderProblem::TooShort { len: 39 })
        );
        let resign = |mut v: [u8; 40]| {
            let crc = crc32fast::hash(&v[0..36]);
            v[36..40].copy_from_slice(&crc.to_le_bytes());
            v
        };
        let mut v = b;
        v[8] = 2;
        assert_eq!(
            SnapshotHeader::decode(&resign(v)),
            Err(SnapshotHeaderProblem::UnsupportedVersion { found: 2 })
        );
        let mut v = b;
        v[12] = 0x04;
        assert_eq!(
            SnapshotHeader::decode(&resign(v)),
            Err(SnapshotHeaderProblem::UnknownFlags { flags: 4 })
        );
        let mut v = b;
        v[12] = 0x02;
        assert!(SnapshotHeader::decode(&resign(v)).unwrap().functions);
        let mut v = b;
        v[15] = 0x80;
        assert_eq!(
            SnapshotHeader::decode(&resign(v)),
            Err(SnapshotHeaderProblem::UnknownFlags { flags: 0x8000_0000 })
        );
        let mut v = b;
        v[32..36].copy_from_slice(&0u32.to_le_bytes());
        assert_eq!(
            SnapshotHeader::decode(&resign(v)),
            Err(SnapshotHeaderProblem::BadDbCount { dbs: 0 })
        );
        let mut v = b;
        v[20] ^= 4;
        assert!(matches!(
            SnapshotHeader::decode(&v),
            Err(SnapshotHeaderProblem::ChecksumMismatch { .. })
        ));
    }

    #[test]
    fn tiny_chunk_content_layout_is_exact() {
        let mut enc = ChunkEncoder::new(1 << 20);
        enc.add(3, &entry(b"k", Value::Str(b"ab".to_vec()), 0x0102));
        enc.add(
            0,
            &entry(
                b"L",
                Value::List(Box::new(List::from_elements([b"x".to_vec()]))),
                0,
            ),
        );
        enc.add(1, &entry(b"i", Value::Int(-2), 0));
        let raw = enc.finish().unwrap();
        assert_eq!((raw.parts, raw.keys), (3, 3));
        #[rustfmt::skip]
        let expected: Vec<u8> = [
            // db 3, string, expire 0x0102, key "k", value "ab"
            &[3, 0, T_STR][..], &[2, 1, 0, 0, 0, 0, 0, 0], &[1, 0, 0, 0], b"k", &[2, 0, 0, 0], b"ab",
            // db 0, list, no expiry, key "L", 1 element "x"
            &[0, 0, T_LIST], &[0; 8], &[1, 0, 0, 0], b"L", &[1, 0, 0, 0], &[1, 0, 0, 0], b"x",
            // db 1, int -2
            &[1, 0, T_INT], &[0; 8], &[1, 0, 0, 0], b"i", &(-2i64).to_le_bytes(),
        ]
        .concat();
        assert_eq!(raw.bytes, expected);
    }

    fn write(fs: &SimFs, path: &Path, chunks: Vec<RawChunk>) -> Vec<u8> {
        fs.create_dir_all(path.parent().unwrap()).unwrap();
        let mut w = SnapshotWriter::create(
            fs,
            path,
            SnapshotHeader {
                lsn: 9,
                created_ms: 10,
                dbs: 4,
                access: false,
                functions: false,
            },
        )
        .unwrap();
        for c in chunks {
            w.write_chunk(c).unwrap();
        }
        let stats = w.finish().unwrap();
        let bytes = fs.contents(path).unwrap();
        assert_eq!(stats.file_bytes, bytes.len() as u64);
        bytes
    }

    #[test]
    fn chunk_frame_and_trailer_layout_is_exact() {
        let fs = SimFs::new(1);
        let path = Path::new("/d/s.base");
        let mut enc = ChunkEncoder::new(1 << 20);
        enc.add(0, &entry(b"k", Value::Int(5), 0));
        let raw = enc.finish().unwrap();
        let raw_bytes = raw.bytes.clone();
        let file = write(&fs, path, vec![raw]);
        let f = &file[SNAPSHOT_HEADER_LEN..];
        assert_eq!(&f[0..4], b"SNCK");
        let clen = le_u32(&f[4..8]) as usize;
        assert_eq!(le_u32(&f[8..12]) as usize, raw_bytes.len());
        assert_eq!(le_u32(&f[12..16]), 1);
        let mut h = crc32fast::Hasher::new();
        h.update(&f[0..16]);
        h.update(&f[20..20 + clen]);
        let chunk_crc = h.finalize();
        assert_eq!(le_u32(&f[16..20]), chunk_crc);
        assert_eq!(
            lz4_flex::block::decompress(&f[20..20 + clen], raw_bytes.len()).unwrap(),
            raw_bytes
        );
        let t = &f[20 + clen..];
        assert_eq!(t.len(), TRAILER_LEN);
        assert_eq!(&t[0..4], b"SNTR");
        assert_eq!(&t[4..8], &[0; 4]);
        assert_eq!(le_u64(&t[8..16]), 1); // keys
        assert_eq!(le_u64(&t[16..24]), 1); // chunks
        assert_eq!(le_u64(&t[24..32]), raw_bytes.len() as u64);
        assert_eq!(le_u64(&t[32..40]), 1); // parts
        let mut chain = crc32fast::Hasher::new();
        chain.update(&file[36..40]);
        chain.update(&chunk_crc.to_le_bytes());
        assert_eq!(le_u32(&t[40..44]), chain.finalize());
        assert_eq!(le_u32(&t[44..48]), crc32fast::hash(&t[0..44]));
    }

    #[test]
    fn lz4_never_expands_beyond_the_bound() {
        for len in [1usize, 2, 13, 100, 4096, 65_536, 1 << 20, 8 << 20] {
            let zeros = vec![0u8; len];
            let c = lz4_flex::block::compress(&zeros);
            assert!(
                (len as u64) <= max_expansion(c.len() as u32),
                "{len} bytes compress to {}",
                c.len()
            );
        }
    }

    #[test]
    fn split_parts_carry_flags_and_expiry_only_first() {
        let mut enc = ChunkEncoder::new(32);
        let list = List::from_elements((0..20u8).map(|i| vec![i; 5]));
        enc.add(2, &entry(b"key", Value::List(Box::new(list)), 77));
        let mut chunks = enc.take_full();
        chunks.extend(enc.finish());
        assert!(chunks.len() > 2);
        assert_eq!(chunks.iter().map(|c| c.keys).sum::<u64>(), 1);
        assert_eq!(chunks[0].keys, 1);
        for (i, c) in chunks.iter().enumerate() {
            assert_eq!(c.parts, 1);
            let tag = c.bytes[2];
            assert_eq!(tag & F_CONT != 0, i > 0, "chunk {i}");
            assert_eq!(tag & F_MORE != 0, i + 1 < chunks.len(), "chunk {i}");
        }
        // Parts reassemble in order.
        let mut m = Merger::default();
        let mut out = Vec::new();
        for c in &chunks {
            let d = decode_parts(&c.bytes, c.parts, rules(4, false, None));
            m.chunk(0, 0, d, &mut out).unwrap();
        }
        assert_eq!(out.len(), 1);
        let (db, e) = &out[0];
        assert_eq!((*db, &*e.key, e.expire_at()), (2, &b"key"[..], 77));
        match &e.value {
            Value::List(l) => {
                let got: Vec<&[u8]> = l.iter().collect();
                let want: Vec<Vec<u8>> = (0..20u8).map(|i| vec![i; 5]).collect();
                assert_eq!(got, want.iter().map(|v| &v[..]).collect::<Vec<_>>());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn big_key_does_not_degenerate_string_splitting() {
        let mut enc = ChunkEncoder::new(64);
        let key = vec![b'k'; 200];
        enc.add(0, &entry(&key, Value::Str(vec![7; 1000]), 0));
        let mut chunks = enc.take_full();
        chunks.extend(enc.finish());
        // At least 32 bytes of value per part: ~32 parts, not 1000.
        assert!(chunks.len() <= 1000 / 32 + 1, "{} parts", chunks.len());
    }

    #[test]
    fn bad_entry_parts_are_rejected() {
        let dec = |b: &[u8], parts| match decode_parts(b, parts, rules(2, false, None)) {
            Err(ChunkFail::Entry {
                part_index,
                problem,
            }) => (part_index, problem),
            Err(ChunkFail::Chunk(p)) => panic!("{p}"),
            Ok(_) => panic!("accepted"),
        };
        let mut int = vec![0, 0, T_INT];
        int.extend_from_slice(&[0; 8]);
        int.extend_from_slice(&[0, 0, 0, 0]);
        int.extend_from_slice(&5i64.to_le_bytes());
        assert!(decode_parts(&int, 1, rules(2, false, None)).is_ok());
        assert_eq!(
            dec(&int[..int.len() - 1], 1),
            (
                0,
                EntryProblem::Truncated {
                    field: "integer value"
                }
            )
        );
        assert_eq!(
            dec(&int, 2).1,
            EntryProblem::Truncated {
                field: "db and type"
            }
        );
        let mut extra = int.clone();
        extra.push(0);
        assert_eq!(
            dec(&extra, 1),
            (1, EntryProblem::TrailingBytes { extra: 1 })
        );
        let mut v = int.clone();
        v[2] = T_INT | F_MORE;
        assert_eq!(
            dec(&v, 1).1,
            EntryProblem::BadTag {
                tag: T_INT | F_MORE
            }
        );
        v[2] = 0x08 | T_STR;
        assert_eq!(dec(&v, 1).1, EntryProblem::BadTag { tag: 0x08 | T_STR });
        v[2] = 0;
        assert_eq!(dec(&v, 1).1, EntryProblem::BadTag { tag: 0 });
        let mut v = int.clone();
        v[0] = 2;
        assert_eq!(dec(&v, 1).1, EntryProblem::DbOutOfRange { db: 2, dbs: 2 });
        // A list claiming 2^32-1 elements in a few bytes: refused before allocating.
        let mut l = vec![0, 0, T_LIST];
        l.extend_from_slice(&[0; 8]);
        l.extend_from_slice(&[0, 0, 0, 0]);
        l.extend_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(
            dec(&l, 1).1,
            EntryProblem::CountImpossible {
                count: u32::MAX,
                remaining: 0
            }
        );
        let mut z = vec![0, 0, T_ZSET];
        z.extend_from_slice(&[0; 8]);
        z.extend_from_slice(&[0, 0, 0, 0]);
        z.extend_from_slice(&1u32.to_le_bytes());
        z.extend_from_slice(&[0, 0, 0, 0]);
        z.extend_from_slice(&f64::NAN.to_le_bytes());
        assert_eq!(dec(&z, 1).1, EntryProblem::NanScore);
    }

    #[test]
    fn merger_refuses_orphan_and_mismatched_continuations() {
        let part = |cont: bool, more: bool, key: &[u8]| {
            Decoded::Part(Box::new(Piece {
                db: 0,
                ty: T_STR,
                cont,
                more,
                expire_at: 0,
                kept: None,
                key: key.to_vec(),
                body: Body::Str(b"x".to_vec()),
            }))
        };
        let mut m = Merger::default();
        assert_eq!(
            m.feed(part(true, false, b"a")).err(),
            Some(EntryProblem::UnexpectedContinuation)
        );
        assert!(m.feed(part(false, true, b"a")).unwrap().is_none());
        assert_eq!(
            m.feed(part(true, false, b"b")).err(),
            Some(EntryProblem::ContinuationMismatch)
        );
        assert_eq!(
            m.feed(part(false, true, b"c")).err(),
            Some(EntryProblem::MissingContinuation)
        );
        let (_, e) = m.feed(part(true, false, b"a")).unwrap().unwrap();
        assert_eq!(e.value, Value::Str(b"xx".to_vec()));
        assert_eq!(m.keys, 1);
    }

    #[test]
    fn writer_refuses_inconsistent_chunks_and_poisons() {
        let fs = SimFs::new(2);
        fs.create_dir_all(Path::new("/d")).unwrap();
        let h = SnapshotHeader {
            lsn: 0,
            created_ms: 0,
            dbs: 1,
            access: false,
            functions: false,
        };
        let mut w = SnapshotWriter::create(&fs, Path::new("/d/s"), h).unwrap();
        w.write_chunk(RawChunk::default()).unwrap();
        let e = w
            .write_chunk(RawChunk {
                bytes: vec![1],
                parts: 0,
                keys: 0,
            })
            .unwrap_err();
        assert!(matches!(e, SnapshotError::InvalidChunk { .. }), "{e}");
        assert!(matches!(w.finish(), Err(SnapshotError::Poisoned { .. })));
    }
}
