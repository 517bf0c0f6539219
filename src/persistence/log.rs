//! Log writer and reader.
//!
//! The byte format is specified in [`crate::persistence::record`]. This module adds the
//! two halves that touch files:
//!
//! * [`LogWriter`] appends records to a buffer, writes the buffer with one positional
//!   write, `fdatasync`s, and keeps the file preallocated ahead of the write position so
//!   that running out of disk is seen by [`LogWriter::reserve`] *before* a command is
//!   applied, and so that `fdatasync` rarely has to persist a size change.
//! * [`LogReader`] yields the valid records of a file in order and then says exactly why
//!   and where it stopped ([`StopReason`]).
//!
//! # Where the log ends: the rule
//!
//! Log files are preallocated with zeros, so the physical end of a file says nothing.
//! The reader decides as follows, at the first position `X` where a valid record does not
//! start:
//!
//! 1. If every byte from `X` to the end of the file is zero (or `X` is the end of the
//!    file), the log ends cleanly at `X`: [`StopReason::CleanEnd`].
//! 2. Otherwise the bytes at `X` are *bad* (zero length word followed later by data,
//!    impossible length, record running past the end of the file, checksum mismatch,
//!    malformed payload). The reader then searches every byte offset after `X` up to the
//!    last non-zero byte of the file for the start of a complete, checksum-valid,
//!    well-formed record:
//!    * if it finds one, the file is **corrupt in the middle**: [`StopReason::Corrupt`]
//!      with the bad offset and the offset of the valid data that follows. Recovery
//!      refuses to start: truncating there would silently drop that data.
//!    * if it cannot finish the search within its work budget (an adversarial tail), it
//!      also reports [`StopReason::Corrupt`] (with `next_valid_offset: None`): when in
//!      doubt, refuse.
//!    * if nothing valid follows, the bytes from `X` are a **torn tail** — the remains of
//!      a write that did not complete before a crash (a record prefix, then zeros or
//!      garbage): [`StopReason::TornTail`]. Truncating at `X` loses nothing that was ever
//!      complete.
//! 3. A record that is valid but whose LSN does not increase (or lies below the file's
//!    `start_lsn`) is always [`StopReason::Corrupt`]: it is complete data, not a tear.
//!
//! Limitation (inherent to any per-record checksum): damage confined to the *last* record
//! of a file, with nothing valid after it, is indistinguishable from a torn write and is
//! treated as one. A power loss can only tear data that was never acknowledged as
//! durable, so under `appendfsync always` this never loses an acknowledged write unless
//! the disk itself corrupted synced data.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use thiserror::Error;

use super::fs::{is_no_space, Vfs, VfsFile};
use super::record::{
    check_len, decode_payload, encode_record, le_u32, le_u64, EncodeError, HeaderProblem, Limits,
    LogHeader, Record, RecordProblem, FRAME_HEADER_LEN, HEADER_LEN, MIN_PAYLOAD_LEN,
};

/// Default preallocation chunk: 64 MiB.
pub const DEFAULT_PREALLOC_CHUNK: u64 = 64 * 1024 * 1024;
/// Default read window of the reader: 1 MiB.
pub const DEFAULT_READ_CHUNK: usize = 1 << 20;
/// How far past the records [`LogWriter::zero_ahead`] keeps the file overwritten with zeros.
pub const ZERO_AHEAD: u64 = 1 << 20;
/// The most [`LogWriter::zero_ahead`] writes per call.
pub const ZERO_STEP: usize = 64 << 10;
static ZEROS: [u8; ZERO_STEP] = [0; ZERO_STEP];

// ---------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------

/// Errors of the log writer. Every message says what an operator (or the caller) should do.
#[derive(Debug, Error)]
pub enum LogError {
    /// The command cannot be encoded (too large, too many arguments, empty).
    #[error("cannot log command: {0}")]
    Encode(#[from] EncodeError),
    /// The caller passed an LSN that does not increase. A bug in the caller.
    #[error("LSN {lsn} must be greater than the last logged LSN {last} (log file {path}); this is a bug in the caller, the record was not logged")]
    LsnNotIncreasing {
        /// The log file.
        path: PathBuf,
        /// Last LSN appended.
        last: u64,
        /// LSN refused.
        lsn: u64,
    },
    /// The caller passed an LSN below the file's start LSN (or 0). A bug in the caller.
    #[error("LSN {lsn} is below the start LSN {start_lsn} of log file {path}; this is a bug in the caller, the record was not logged")]
    LsnBelowStart {
        /// The log file.
        path: PathBuf,
        /// The header's start LSN.
        start_lsn: u64,
        /// LSN refused.
        lsn: u64,
    },
    /// Disk full while reserving or writing. Nothing was lost; writes must be refused until
    /// space returns, then the same call succeeds.
    #[error("no disk space for the append-only log {path}: could not reserve {requested} more bytes ({source}); refuse writes until space is freed on that file system, they resume automatically")]
    NoSpace {
        /// The log file.
        path: PathBuf,
        /// Bytes that could not be reserved.
        requested: u64,
        /// The underlying error (ENOSPC/EDQUOT).
        source: io::Error,
    },
    /// A write, fsync or allocation failed. The writer is now poisoned.
    #[error("I/O error during {op} on log file {path}: {source}; the log is closed for writes because a failed write or fsync must never be retried — check the device (dmesg, SMART), then restart: recovery replays exactly the durable records")]
    Io {
        /// The log file.
        path: PathBuf,
        /// What was being done.
        op: &'static str,
        /// The underlying error.
        source: io::Error,
    },
    /// An earlier I/O error poisoned this writer.
    #[error("log file {path} is closed for writes after an earlier I/O error ({cause}); restart the server to recover from what is durable")]
    Poisoned {
        /// The log file.
        path: PathBuf,
        /// Description of the first error.
        cause: String,
    },
}

impl LogError {
    /// Whether this is a (recoverable) out-of-space condition.
    pub fn is_no_space(&self) -> bool {
        matches!(self, LogError::NoSpace { .. })
    }
}

// ---------------------------------------------------------------------------------------
// Writer
// ---------------------------------------------------------------------------------------

/// Tuning of a [`LogWriter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogConfig {
    /// Record size/argument bounds (the reader must use the same or larger ones).
    pub limits: Limits,
    /// The file is extended (fallocate) in multiples of this many bytes.
    pub prealloc_chunk: u64,
    /// When fewer than this many reserved bytes remain, [`LogWriter::reserve`] extends the
    /// file one chunk early (a failure there is not yet an error).
    pub low_watermark: u64,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            limits: Limits::default(),
            prealloc_chunk: DEFAULT_PREALLOC_CHUNK,
            low_watermark: DEFAULT_PREALLOC_CHUNK / 4,
        }
    }
}

/// A position in the log: everything before `offset` (records up to `lsn`).
/// `lsn == 0` means "no record yet".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct SyncPoint {
    /// Byte offset just after the last record covered.
    pub offset: u64,
    /// LSN of the last record covered (0 if none).
    pub lsn: u64,
}

/// Appends records to one log file.
///
/// Life of a record: [`append`](Self::append) encodes it into memory;
/// [`write_pending`](Self::write_pending) hands all buffered records to the OS in one
/// positional write (now it survives a process crash); [`sync`](Self::sync) runs
/// `fdatasync` (now it survives a power loss). [`written`](Self::written) and
/// [`durable`](Self::durable) report how far each stage got.
///
/// Errors: `ENOSPC` from reserving or writing is [`LogError::NoSpace`] and leaves the
/// writer usable (retry later; the buffer is kept and rewritten at the same offset). Any
/// other I/O error poisons the writer: every later call fails with
/// [`LogError::Poisoned`], because after a failed write or fsync the kernel may have
/// dropped dirty pages and a retry could "succeed" without the data.
#[derive(Debug)]
pub struct LogWriter {
    file: Arc<dyn VfsFile>,
    path: PathBuf,
    header: LogHeader,
    config: LogConfig,
    buf: Vec<u8>,
    last_lsn: u64,
    written: SyncPoint,
    durable: SyncPoint,
    reserved_end: u64,
    early_extension_failed: bool,
    /// The file was extended, or zeros were written past the records
    /// ([`zero_ahead`](Self::zero_ahead)), since the last [`sync`](Self::sync): those
    /// bytes are not durable yet, even if no record was written into them.
    extended_unsynced: bool,
    /// Everything before this offset has been written (records or zeros): see
    /// [`zero_ahead`](Self::zero_ahead).
    zeroed_end: u64,
    /// A zeroing write found the disk full; zeroing stays off for this file.
    zeroing_off: bool,
    poisoned: Option<String>,
}

impl LogWriter {
    /// Creates (or truncates) the log file at `path`, writes `header`, preallocates one
    /// chunk and `fdatasync`s. The caller must `sync_dir` the directory to make the file's
    /// existence durable (recovery and the rewrite do).
    pub fn create(
        vfs: &dyn Vfs,
        path: &Path,
        header: LogHeader,
        config: LogConfig,
    ) -> Result<LogWriter, LogError> {
        let io_err = |op, source| LogError::Io {
            path: path.to_path_buf(),
            op,
            source,
        };
        let file = vfs.create(path).map_err(|e| io_err("create", e))?;
        file.write_all_at(&header.encode(), 0)
            .map_err(|e| io_err("write header", e))?;
        let mut w = LogWriter::from_parts(file, path, header, HEADER_LEN as u64, 0, config);
        w.reserved_end = HEADER_LEN as u64;
        w.extend_to(HEADER_LEN as u64 + 1, true)?;
        w.file
            .sync_data()
            .map_err(|e| io_err("fdatasync after create", e))?;
        Ok(w)
    }

    /// Reopens an existing log file to append at `end`, the logical end established by a
    /// [`LogReader`] ([`StopReason::CleanEnd`] offset, or the offset a torn tail was
    /// truncated at). Every byte after `end` must be zero. `last_lsn` is the LSN of the
    /// last record in the file (0 if none).
    pub fn open_at(
        vfs: &dyn Vfs,
        path: &Path,
        header: LogHeader,
        end: u64,
        last_lsn: u64,
        config: LogConfig,
    ) -> Result<LogWriter, LogError> {
        let io_err = |op, source| LogError::Io {
            path: path.to_path_buf(),
            op,
            source,
        };
        let file = vfs.open_write(path).map_err(|e| io_err("open", e))?;
        let len = file.len().map_err(|e| io_err("stat", e))?;
        let mut w = LogWriter::from_parts(file, path, header, end, last_lsn, config);
        w.reserved_end = len.max(end);
        Ok(w)
    }

    fn from_parts(
        file: Arc<dyn VfsFile>,
        path: &Path,
        header: LogHeader,
        end: u64,
        last_lsn: u64,
        config: LogConfig,
    ) -> LogWriter {
        let point = SyncPoint {
            offset: end,
            lsn: last_lsn,
        };
        LogWriter {
            file,
            path: path.to_path_buf(),
            header,
            config,
            buf: Vec::new(),
            last_lsn,
            written: point,
            durable: point,
            reserved_end: end,
            early_extension_failed: false,
            extended_unsynced: false,
            zeroed_end: end,
            zeroing_off: false,
            poisoned: None,
        }
    }

    /// The file this writer appends to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's header.
    pub fn header(&self) -> &LogHeader {
        &self.header
    }

    /// The writer's configuration.
    pub fn config(&self) -> &LogConfig {
        &self.config
    }

    /// LSN of the last appended record (buffered or not); 0 if none.
    pub fn last_lsn(&self) -> u64 {
        self.last_lsn
    }

    /// The smallest LSN the next [`append`](Self::append) accepts.
    pub fn next_lsn(&self) -> u64 {
        (self.last_lsn + 1).max(self.header.start_lsn).max(1)
    }

    /// What has been handed to the OS (survives a process crash).
    pub fn written(&self) -> SyncPoint {
        self.written
    }

    /// What has been `fdatasync`ed (survives a power loss).
    pub fn durable(&self) -> SyncPoint {
        self.durable
    }

    /// Bytes appended but not yet written.
    pub fn pending_bytes(&self) -> usize {
        self.buf.len()
    }

    /// End of the preallocated region of the file.
    pub fn reserved_end(&self) -> u64 {
        self.reserved_end
    }

    /// Preallocated bytes not yet used by written or buffered records.
    pub fn reserved_remaining(&self) -> u64 {
        self.reserved_end.saturating_sub(self.pending_end())
    }

    /// Whether `bytes` more can be appended and written without allocating (no I/O).
    pub fn has_reserved_space(&self, bytes: u64) -> bool {
        self.pending_end().saturating_add(bytes) <= self.reserved_end
    }

    /// The cause, if an earlier I/O error poisoned this writer.
    pub fn poison_cause(&self) -> Option<&str> {
        self.poisoned.as_deref()
    }

    fn pending_end(&self) -> u64 {
        self.written.offset + self.buf.len() as u64
    }

    fn check_poison(&self) -> Result<(), LogError> {
        match &self.poisoned {
            Some(cause) => Err(LogError::Poisoned {
                path: self.path.clone(),
                cause: cause.clone(),
            }),
            None => Ok(()),
        }
    }

    /// Marks the writer unusable (e.g. after a [`LogSyncer`] failed on another thread).
    pub fn poison(&mut self, cause: impl Into<String>) {
        if self.poisoned.is_none() {
            self.poisoned = Some(cause.into());
        }
    }

    fn fail(&mut self, op: &'static str, source: io::Error) -> LogError {
        self.poison(format!("{op} failed: {source}"));
        LogError::Io {
            path: self.path.clone(),
            op,
            source,
        }
    }

    /// Encodes a record into the in-memory buffer (no I/O). Returns the frame's length.
    ///
    /// `lsn` must be greater than every LSN appended before and at least the file's
    /// `start_lsn` (and never 0).
    pub fn append<A: AsRef<[u8]>>(
        &mut self,
        lsn: u64,
        db: u16,
        args: &[A],
    ) -> Result<usize, LogError> {
        self.check_poison()?;
        if lsn == 0 || lsn < self.header.start_lsn {
            return Err(LogError::LsnBelowStart {
                path: self.path.clone(),
                start_lsn: self.header.start_lsn.max(1),
                lsn,
            });
        }
        if lsn <= self.last_lsn {
            return Err(LogError::LsnNotIncreasing {
                path: self.path.clone(),
                last: self.last_lsn,
                lsn,
            });
        }
        let n = encode_record(&mut self.buf, lsn, db, args, &self.config.limits)?;
        self.last_lsn = lsn;
        Ok(n)
    }

    /// Ensures `bytes` more can be appended beyond what is already appended, extending the
    /// preallocation if needed. Call before applying a write command: an
    /// [`LogError::NoSpace`] here means "refuse the command", and nothing is lost.
    ///
    /// Reservations do not accumulate: each call checks against the current appended end.
    /// When the remaining reservation drops below the low watermark, one chunk is added
    /// early; if that early attempt finds the disk full it is not an error yet (it is
    /// retried once the reservation is exhausted).
    pub fn reserve(&mut self, bytes: u64) -> Result<(), LogError> {
        self.check_poison()?;
        let need_end = self.pending_end().saturating_add(bytes);
        if need_end > self.reserved_end {
            return self.extend_to(need_end, true);
        }
        if self.reserved_end - need_end < self.config.low_watermark && !self.early_extension_failed
        {
            match self.extend_to(self.reserved_end + 1, false) {
                Ok(()) => {}
                Err(e) if e.is_no_space() => self.early_extension_failed = true,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Preallocate up to a chunk boundary past `min_end`. With `exact_fallback`, a disk
    /// too full for the whole chunk still gets the bytes actually needed, so a nearly
    /// full file system (or a small one) keeps taking writes until it is really full.
    fn extend_to(&mut self, min_end: u64, exact_fallback: bool) -> Result<(), LogError> {
        if min_end <= self.reserved_end {
            return Ok(());
        }
        let chunk = self.config.prealloc_chunk.max(1);
        let mut new_end = min_end.div_ceil(chunk).saturating_mul(chunk).max(min_end);
        let start = self.reserved_end;
        let mut r = self.file.allocate(start, new_end - start);
        if exact_fallback && new_end > min_end && r.as_ref().is_err_and(is_no_space) {
            new_end = min_end;
            r = self.file.allocate(start, new_end - start);
        }
        match r {
            Ok(()) => {
                self.reserved_end = new_end;
                self.early_extension_failed = false;
                self.extended_unsynced = true;
                Ok(())
            }
            Err(e) if is_no_space(&e) => Err(LogError::NoSpace {
                path: self.path.clone(),
                requested: min_end - start,
                source: e,
            }),
            Err(e) => Err(self.fail("fallocate", e)),
        }
    }

    /// Writes every buffered record with one positional write (extending the reservation
    /// first if the caller did not reserve). Returns what is now written.
    pub fn write_pending(&mut self) -> Result<SyncPoint, LogError> {
        self.check_poison()?;
        if self.buf.is_empty() {
            return Ok(self.written);
        }
        let end = self.pending_end();
        self.extend_to(end, true)?;
        match self.file.write_all_at(&self.buf, self.written.offset) {
            Ok(()) => {
                self.buf.clear();
                self.written = SyncPoint {
                    offset: end,
                    lsn: self.last_lsn,
                };
                Ok(self.written)
            }
            // ENOSPC on write means the kernel refused the bytes; rewriting the same
            // buffer at the same offset later is safe.
            Err(e) if is_no_space(&e) => Err(LogError::NoSpace {
                path: self.path.clone(),
                requested: self.buf.len() as u64,
                source: e,
            }),
            Err(e) => Err(self.fail("write", e)),
        }
    }

    /// `fdatasync`s what has been written, and any extension of the file since the last
    /// `sync`. Returns what is now durable. Does not write buffered records (see
    /// [`write_and_sync`](Self::write_and_sync)).
    ///
    /// The extension matters once this log stops being the last one (a rewrite rotates
    /// after `write_and_sync`): recovery requires every byte after a non-last log's end to
    /// be zero, and an extension that never became durable may come back after a power
    /// loss as garbage (stale blocks behind a size change).
    pub fn sync(&mut self) -> Result<SyncPoint, LogError> {
        self.check_poison()?;
        let point = self.written;
        if point == self.durable && !self.extended_unsynced {
            return Ok(point);
        }
        match self.file.sync_data() {
            Ok(()) => {
                self.durable = point;
                self.extended_unsynced = false;
                Ok(point)
            }
            Err(e) => Err(self.fail("fdatasync", e)),
        }
    }

    /// Overwrites with zeros (at most [`ZERO_STEP`] bytes per call) the reserved region
    /// just past the appended records, keeping up to [`ZERO_AHEAD`] bytes of it ready.
    /// Returns the bytes written.
    ///
    /// Why: `fallocate` reserves blocks as *unwritten* extents, and the first write into
    /// one makes the next `fdatasync` commit an extent conversion to the file system's
    /// journal. A block that already holds written zeros is a plain overwrite, and its
    /// `fdatasync` only flushes data: on this machine's ext4 a 2 KB write + fdatasync took
    /// 130 µs (median) into fallocated space and 100 µs into zeroed space. Group commit
    /// (`appendfsync always`) pays that on every group, so its fsync thread calls this
    /// between groups. The zeros change nothing a reader sees: every byte past the end of
    /// the records already reads as zero.
    ///
    /// A full disk turns zeroing off for this file (the reservation is what guarantees
    /// space; zeroing is only an optimisation). Any other error poisons the writer, like
    /// a failed record write.
    pub fn zero_ahead(&mut self) -> Result<usize, LogError> {
        self.check_poison()?;
        if self.zeroing_off {
            return Ok(0);
        }
        let records_end = self.pending_end();
        let from = self.zeroed_end.max(records_end);
        let target = records_end
            .saturating_add(ZERO_AHEAD)
            .min(self.reserved_end);
        let missing = target.saturating_sub(from);
        // Top up only once a whole step is missing (or what is left of the reservation),
        // so that each call is one step-sized write or nothing.
        if missing == 0 || (missing < ZERO_STEP as u64 && target < self.reserved_end) {
            return Ok(0);
        }
        let n = missing.min(ZERO_STEP as u64) as usize;
        match self.file.write_all_at(&ZEROS[..n], from) {
            Ok(()) => {
                self.zeroed_end = from + n as u64;
                self.extended_unsynced = true;
                Ok(n)
            }
            Err(e) if is_no_space(&e) => {
                self.zeroing_off = true;
                Ok(0)
            }
            Err(e) => Err(self.fail("write zeros", e)),
        }
    }

    /// [`write_pending`](Self::write_pending) then [`sync`](Self::sync).
    pub fn write_and_sync(&mut self) -> Result<SyncPoint, LogError> {
        self.write_pending()?;
        self.sync()
    }

    /// A handle that can `fdatasync` this file from another thread, so appends and writes
    /// continue while an fsync runs (group commit). Protocol: take
    /// [`written`](Self::written) *before* calling [`LogSyncer::sync`]; when it returns
    /// `Ok`, everything up to that point is durable — report it with
    /// [`mark_durable`](Self::mark_durable). On error, call [`poison`](Self::poison) and
    /// treat the log as failed (never retry).
    pub fn syncer(&self) -> LogSyncer {
        LogSyncer {
            file: Arc::clone(&self.file),
            path: self.path.clone(),
        }
    }

    /// Records that a [`LogSyncer`] made everything up to `point` durable.
    pub fn mark_durable(&mut self, point: SyncPoint) {
        if point > self.durable && point <= self.written {
            self.durable = point;
        }
    }
}

/// Runs `fdatasync` on a log file independently of its [`LogWriter`].
#[derive(Debug, Clone)]
pub struct LogSyncer {
    file: Arc<dyn VfsFile>,
    path: PathBuf,
}

impl LogSyncer {
    /// `fdatasync`. An error must be treated as fatal for the log (see [`LogWriter`]).
    pub fn sync(&self) -> Result<(), LogError> {
        self.file.sync_data().map_err(|source| LogError::Io {
            path: self.path.clone(),
            op: "fdatasync",
            source,
        })
    }

    /// The file being synced.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

// ---------------------------------------------------------------------------------------
// Reader
// ---------------------------------------------------------------------------------------

/// Random-access byte source for [`LogReader`].
pub trait ReadAt {
    /// Total length in bytes.
    fn size(&self) -> io::Result<u64>;
    /// Fills `buf` from `offset` (the range is within `size()`).
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;
}

impl ReadAt for [u8] {
    fn size(&self) -> io::Result<u64> {
        Ok(self.len() as u64)
    }

    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        match start
            .checked_add(buf.len())
            .and_then(|end| self.get(start..end))
        {
            Some(src) => {
                buf.copy_from_slice(src);
                Ok(())
            }
            None => Err(io::Error::from(io::ErrorKind::UnexpectedEof)),
        }
    }
}

impl ReadAt for Vec<u8> {
    fn size(&self) -> io::Result<u64> {
        self.as_slice().size()
    }

    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.as_slice().read_exact_at(buf, offset)
    }
}

impl<T: ReadAt + ?Sized> ReadAt for &T {
    fn size(&self) -> io::Result<u64> {
        (**self).size()
    }

    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        (**self).read_exact_at(buf, offset)
    }
}

impl ReadAt for Arc<dyn VfsFile> {
    fn size(&self) -> io::Result<u64> {
        self.len()
    }

    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        VfsFile::read_exact_at(&**self, buf, offset)
    }
}

/// Why and where a [`LogReader`] stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReason {
    /// Valid data ends at `offset`; everything after it is zero (or there is nothing).
    CleanEnd {
        /// End of the last valid record (or of the header).
        offset: u64,
    },
    /// The bytes from `offset` are the remains of an interrupted write: nothing valid
    /// follows. Truncating the file at `offset` loses no complete record.
    TornTail {
        /// Where the torn bytes start (end of the last valid record).
        offset: u64,
        /// Index the torn record would have had.
        record_index: u64,
        /// What is wrong with the bytes at `offset`.
        problem: RecordProblem,
        /// Bytes from `offset` up to the last non-zero byte of the file.
        torn_bytes: u64,
    },
    /// The record at `offset` is bad and valid data follows it (or that could not be
    /// ruled out): the log is corrupt in the middle.
    Corrupt {
        /// Offset of the bad record.
        offset: u64,
        /// Index of the bad record (0-based, within the file).
        record_index: u64,
        /// What is wrong with it.
        problem: RecordProblem,
        /// Offset of the first valid record found after it; `None` when the search was
        /// abandoned (work budget exhausted).
        next_valid_offset: Option<u64>,
    },
    /// The file header is missing or invalid; no records were read.
    BadHeader {
        /// What is wrong with it.
        problem: HeaderProblem,
    },
}

impl StopReason {
    /// Offset where the valid part of the file ends (0 for a bad header).
    pub fn valid_end(&self) -> u64 {
        match self {
            StopReason::CleanEnd { offset }
            | StopReason::TornTail { offset, .. }
            | StopReason::Corrupt { offset, .. } => *offset,
            StopReason::BadHeader { .. } => 0,
        }
    }
}

/// A read window over a [`ReadAt`] source.
#[derive(Debug)]
struct Window {
    buf: Vec<u8>,
    start: u64,
    chunk: usize,
    /// Bytes fetched from the source so far (for the scan budget).
    fetched: u64,
}

impl Window {
    fn new(chunk: usize) -> Self {
        Window {
            buf: Vec::new(),
            start: 0,
            chunk: chunk.max(64),
            fetched: 0,
        }
    }

    /// Returns `[off, off + len)`; the caller guarantees `off + len <= file_len`.
    fn get<S: ReadAt + ?Sized>(
        &mut self,
        src: &S,
        file_len: u64,
        off: u64,
        len: usize,
    ) -> io::Result<&[u8]> {
        let end = off + len as u64;
        let have_end = self.start + self.buf.len() as u64;
        if off < self.start || end > have_end {
            let want = (len.max(self.chunk) as u64).min(file_len - off) as usize;
            if self.buf.capacity() > 4 * self.chunk && want <= self.chunk {
                // Give back the memory of an earlier huge record.
                self.buf = Vec::new();
            }
            self.buf.resize(want, 0);
            src.read_exact_at(&mut self.buf, off)?;
            self.start = off;
            self.fetched += want as u64;
        }
        let s = (off - self.start) as usize;
        Ok(&self.buf[s..s + len])
    }
}

/// Reads the records of one log file, then reports a [`StopReason`].
///
/// Memory use is bounded by the read window (1 MiB by default) or the largest record.
///
/// ```
/// use strata::persistence::{LogHeader, LogReader, Limits, StopReason, record::encode_record};
/// let mut file = LogHeader::new(1, 1).encode().to_vec();
/// encode_record(&mut file, 1, 0, &[&b"SET"[..], b"k", b"v"], &Limits::default()).unwrap();
/// file.extend_from_slice(&[0u8; 64]); // preallocated space
/// let mut r = LogReader::new(&file[..], Limits::default()).unwrap();
/// let rec = r.next_record().unwrap().unwrap();
/// assert_eq!(rec.lsn, 1);
/// assert!(r.next_record().unwrap().is_none());
/// assert_eq!(r.stop_reason(), Some(&StopReason::CleanEnd { offset: 40 + 8 + 14 + 7 + 5 + 5 }));
/// ```
#[derive(Debug)]
pub struct LogReader<S> {
    src: S,
    limits: Limits,
    file_len: u64,
    header: Option<LogHeader>,
    pos: u64,
    index: u64,
    prev_lsn: u64,
    win: Window,
    stop: Option<StopReason>,
    min_scan_budget: u64,
}

impl<S: ReadAt> LogReader<S> {
    /// Opens a reader; reads the length and the header. A bad header is not an error here:
    /// the first [`next_record`](Self::next_record) returns `None` and the stop reason is
    /// [`StopReason::BadHeader`].
    pub fn new(src: S, limits: Limits) -> io::Result<Self> {
        Self::with_read_chunk(src, limits, DEFAULT_READ_CHUNK)
    }

    /// Like [`new`](Self::new) with a custom read window size (tests use tiny windows).
    pub fn with_read_chunk(src: S, limits: Limits, chunk: usize) -> io::Result<Self> {
        let file_len = src.size()?;
        let mut r = LogReader {
            src,
            limits,
            file_len,
            header: None,
            pos: 0,
            index: 0,
            prev_lsn: 0,
            win: Window::new(chunk),
            stop: None,
            min_scan_budget: 256 << 20,
        };
        let n = (HEADER_LEN as u64).min(file_len) as usize;
        let head = r.win.get(&r.src, file_len, 0, n)?;
        match LogHeader::decode(head) {
            Ok(h) => {
                r.header = Some(h);
                r.pos = HEADER_LEN as u64;
            }
            Err(problem) => r.stop = Some(StopReason::BadHeader { problem }),
        }
        Ok(r)
    }

    /// The file header, if valid.
    pub fn header(&self) -> Option<&LogHeader> {
        self.header.as_ref()
    }

    /// Length of the underlying file.
    pub fn file_len(&self) -> u64 {
        self.file_len
    }

    /// Offset just after the last valid record returned (or after the header).
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Number of valid records returned so far.
    pub fn records_read(&self) -> u64 {
        self.index
    }

    /// LSN of the last valid record returned (0 if none).
    pub fn last_lsn(&self) -> u64 {
        self.prev_lsn
    }

    /// Why reading stopped; `None` until [`next_record`](Self::next_record) returned `None`.
    pub fn stop_reason(&self) -> Option<&StopReason> {
        self.stop.as_ref()
    }

    /// The next valid record, or `None` when the valid data ends (then see
    /// [`stop_reason`](Self::stop_reason)). `Err` only for I/O errors of the source.
    pub fn next_record(&mut self) -> io::Result<Option<Record>> {
        if self.stop.is_some() {
            return Ok(None);
        }
        match self.read_one()? {
            Ok(rec) => Ok(Some(rec)),
            Err(stop) => {
                self.stop = Some(stop);
                Ok(None)
            }
        }
    }

    /// Reads all remaining records.
    pub fn read_to_end(mut self) -> io::Result<(Vec<Record>, StopReason)> {
        let mut out = Vec::new();
        while let Some(r) = self.next_record()? {
            out.push(r);
        }
        let stop = self
            .stop
            .take()
            .unwrap_or(StopReason::CleanEnd { offset: self.pos });
        Ok((out, stop))
    }

    fn read_one(&mut self) -> io::Result<Result<Record, StopReason>> {
        let pos = self.pos;
        let avail = self.file_len - pos;
        if avail == 0 {
            return Ok(Err(StopReason::CleanEnd { offset: pos }));
        }
        if avail < FRAME_HEADER_LEN as u64 {
            if self.all_zero_from(pos)? {
                return Ok(Err(StopReason::CleanEnd { offset: pos }));
            }
            let problem = RecordProblem::Incomplete {
                needed: FRAME_HEADER_LEN as u64,
                available: avail,
            };
            return self.bad(pos, problem).map(Err);
        }
        let head = self
            .win
            .get(&self.src, self.file_len, pos, FRAME_HEADER_LEN)?;
        let len = le_u32(&head[0..4]);
        let stored = le_u32(&head[4..8]);
        if len == 0 && self.all_zero_from(pos)? {
            return Ok(Err(StopReason::CleanEnd { offset: pos }));
        }
        if let Err(problem) = check_len(len, &self.limits) {
            return self.bad(pos, problem).map(Err);
        }
        let needed = FRAME_HEADER_LEN as u64 + u64::from(len);
        if needed > avail {
            let problem = RecordProblem::Incomplete {
                needed,
                available: avail,
            };
            return self.bad(pos, problem).map(Err);
        }
        let frame = self
            .win
            .get(&self.src, self.file_len, pos, needed as usize)?;
        let payload = &frame[FRAME_HEADER_LEN..];
        let computed = crc32fast::hash(payload);
        if computed != stored {
            let problem = RecordProblem::ChecksumMismatch { stored, computed };
            return self.bad(pos, problem).map(Err);
        }
        let (lsn, db, args) = match decode_payload(payload, &self.limits) {
            Ok(v) => v,
            Err(p) => return self.bad(pos, RecordProblem::BadPayload(p)).map(Err),
        };
        let start_lsn = self.header.map_or(0, |h| h.start_lsn);
        let problem = if lsn <= self.prev_lsn {
            Some(RecordProblem::LsnNotIncreasing {
                prev: self.prev_lsn,
                lsn,
            })
        } else if lsn < start_lsn {
            Some(RecordProblem::LsnBeforeFileStart { lsn, start_lsn })
        } else {
            None
        };
        if let Some(problem) = problem {
            return Ok(Err(StopReason::Corrupt {
                offset: pos,
                record_index: self.index,
                problem,
                next_valid_offset: Some(pos),
            }));
        }
        self.pos = pos + needed;
        self.index += 1;
        self.prev_lsn = lsn;
        Ok(Ok(Record {
            lsn,
            db,
            args,
            offset: pos,
            len: needed,
        }))
    }

    fn all_zero_from(&mut self, from: u64) -> io::Result<bool> {
        Ok(self.nonzero_end(from)? == from)
    }

    /// One past the last non-zero byte in `[from, file_len)`, or `from` if all are zero.
    fn nonzero_end(&mut self, from: u64) -> io::Result<u64> {
        let chunk = self.win.chunk as u64;
        let mut end = self.file_len;
        while end > from {
            let start = end.saturating_sub(chunk).max(from);
            let bytes = self
                .win
                .get(&self.src, self.file_len, start, (end - start) as usize)?;
            if let Some(i) = bytes.iter().rposition(|&b| b != 0) {
                return Ok(start + i as u64 + 1);
            }
            end = start;
        }
        Ok(from)
    }

    /// Classifies bad bytes at `offset` as a torn tail or corruption (see module docs).
    fn bad(&mut self, offset: u64, problem: RecordProblem) -> io::Result<StopReason> {
        let nz_end = self.nonzero_end(offset)?;
        let budget = self
            .min_scan_budget
            .max((nz_end - offset).saturating_mul(16));
        let found = self.scan(offset + 1, nz_end, budget)?;
        Ok(match found {
            Scan::Found(o) => StopReason::Corrupt {
                offset,
                record_index: self.index,
                problem,
                next_valid_offset: Some(o),
            },
            Scan::GaveUp => StopReason::Corrupt {
                offset,
                record_index: self.index,
                problem,
                next_valid_offset: None,
            },
            Scan::Nothing => StopReason::TornTail {
                offset,
                record_index: self.index,
                problem,
                torn_bytes: nz_end - offset,
            },
        })
    }

    /// Looks for the start of a valid record at any offset in `[from, nz_end)`.
    fn scan(&mut self, from: u64, nz_end: u64, budget: u64) -> io::Result<Scan> {
        let mut win = Window::new(self.win.chunk.min(64 * 1024));
        let file_len = self.file_len;
        let min_frame = FRAME_HEADER_LEN as u64 + u64::from(MIN_PAYLOAD_LEN);
        let mut work: u64 = 0;
        let mut o = from;
        while o < nz_end {
            if file_len - o < min_frame {
                break;
            }
            if work + win.fetched > budget {
                return Ok(Scan::GaveUp);
            }
            if self.candidate(&mut win, o, &mut work)? {
                return Ok(Scan::Found(o));
            }
            o += 1;
        }
        Ok(Scan::Nothing)
    }

    /// Whether a complete, checksum-valid, well-formed record starts at `o`.
    fn candidate(&self, win: &mut Window, o: u64, work: &mut u64) -> io::Result<bool> {
        let file_len = self.file_len;
        let src = &self.src;
        let fixed = win.get(
            src,
            file_len,
            o,
            FRAME_HEADER_LEN + MIN_PAYLOAD_LEN as usize,
        )?;
        let len = le_u32(&fixed[0..4]);
        let stored = le_u32(&fixed[4..8]);
        let lsn = le_u64(&fixed[8..16]);
        let argc = le_u32(&fixed[18..22]);
        if check_len(len, &self.limits).is_err() {
            return Ok(false);
        }
        let end = o + FRAME_HEADER_LEN as u64 + u64::from(len);
        if end > file_len || lsn == 0 || argc == 0 || argc > self.limits.max_argc {
            return Ok(false);
        }
        if u64::from(argc) * 4 > u64::from(len - MIN_PAYLOAD_LEN) {
            return Ok(false);
        }
        // Walk the argument lengths: cheap rejection before any checksum work.
        let mut p = o + (FRAME_HEADER_LEN + MIN_PAYLOAD_LEN as usize) as u64;
        for _ in 0..argc {
            *work += 4;
            if end - p < 4 {
                return Ok(false);
            }
            let l = u64::from(le_u32(win.get(src, file_len, p, 4)?));
            p += 4;
            if end - p < l {
                return Ok(false);
            }
            p += l;
        }
        if p != end {
            return Ok(false);
        }
        // Stream the checksum.
        let mut hasher = crc32fast::Hasher::new();
        let mut q = o + FRAME_HEADER_LEN as u64;
        let piece = win.chunk as u64;
        while q < end {
            let n = (end - q).min(piece) as usize;
            hasher.update(win.get(src, file_len, q, n)?);
            *work += n as u64;
            q += n as u64;
        }
        Ok(hasher.finalize() == stored)
    }
}

enum Scan {
    Found(u64),
    GaveUp,
    Nothing,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persistence::fs::{FaultError, OpKind, SimFs, TornMode};
    use crate::persistence::record::PayloadProblem;

    fn file_with(records: &[(u64, &[&[u8]])]) -> (Vec<u8>, Vec<u64>) {
        let mut f = LogHeader::new(1, 1).encode().to_vec();
        let mut offs = Vec::new();
        for (lsn, args) in records {
            offs.push(f.len() as u64);
            encode_record(&mut f, *lsn, 0, args, &Limits::default()).unwrap();
        }
        (f, offs)
    }

    fn read(f: &[u8]) -> (Vec<Record>, StopReason) {
        LogReader::with_read_chunk(f, Limits::default(), 64)
            .unwrap()
            .read_to_end()
            .unwrap()
    }

    #[test]
    fn clean_end_with_and_without_zero_tail() {
        let (mut f, _) = file_with(&[(1, &[b"SET", b"a", b"1"]), (2, &[b"DEL", b"a"])]);
        let end = f.len() as u64;
        assert_eq!(read(&f).1, StopReason::CleanEnd { offset: end });
        f.extend_from_slice(&[0u8; 1000]);
        let (recs, stop) = read(&f);
        assert_eq!(recs.len(), 2);
        assert_eq!(stop, StopReason::CleanEnd { offset: end });
        f.truncate(end as usize + 3);
        assert_eq!(read(&f).1, StopReason::CleanEnd { offset: end });
    }

    #[test]
    fn header_only_and_bad_header() {
        let (f, _) = file_with(&[]);
        assert_eq!(read(&f), (vec![], StopReason::CleanEnd { offset: 40 }));
        assert_eq!(
            read(&f[..10]).1,
            StopReason::BadHeader {
                problem: HeaderProblem::TooShort { len: 10 }
            }
        );
        assert_eq!(
            read(&[]).1,
            StopReason::BadHeader {
                problem: HeaderProblem::TooShort { len: 0 }
            }
        );
    }

    #[test]
    fn torn_last_record_and_garbage_after_zeros() {
        let (f, offs) = file_with(&[(1, &[b"SET", b"a", b"1"]), (2, &[b"SET", b"b", b"2"])]);
        let last = offs[1];
        let mut t = f[..f.len() - 3].to_vec();
        t.extend_from_slice(&[0u8; 100]);
        let (recs, stop) = read(&t);
        assert_eq!(recs.len(), 1);
        match stop {
            StopReason::TornTail {
                offset,
                record_index: 1,
                problem: RecordProblem::ChecksumMismatch { .. },
                torn_bytes,
            } => {
                assert_eq!(offset, last);
                // The cut leaves `..., 0x01, 0x00` (the last argument's length word): the torn
                // bytes run to the last non-zero byte.
                assert_eq!(torn_bytes, f.len() as u64 - 4 - last);
            }
            other => panic!("{other:?}"),
        }
        // Zero length word followed later by non-zero garbage: torn, not clean.
        let mut g = f.clone();
        g.extend_from_slice(&[0u8; 10]);
        g.extend_from_slice(&[0xAB; 5]);
        let (recs, stop) = read(&g);
        assert_eq!(recs.len(), 2);
        assert_eq!(
            stop,
            StopReason::TornTail {
                offset: f.len() as u64,
                record_index: 2,
                problem: RecordProblem::ZeroLength,
                torn_bytes: 15
            }
        );
    }

    #[test]
    fn corruption_followed_by_valid_record_is_refused() {
        let (mut f, offs) = file_with(&[
            (1, &[b"SET", b"a", b"1"]),
            (2, &[b"SET", b"b", b"2"]),
            (3, &[b"SET", b"c", b"3"]),
        ]);
        f[offs[1] as usize + 20] ^= 0x10;
        let (recs, stop) = read(&f);
        assert_eq!(recs.len(), 1);
        assert!(matches!(
            stop,
            StopReason::Corrupt {
                offset,
                record_index: 1,
                problem: RecordProblem::ChecksumMismatch { .. },
                next_valid_offset: Some(n),
            } if offset == offs[1] && n == offs[2]
        ));
        // A zeroed length word in the middle is corruption too, not an end.
        let (mut z, offs) = file_with(&[(1, &[b"PING"]), (2, &[b"PING"])]);
        z[offs[0] as usize..offs[0] as usize + 4].fill(0);
        let (recs, stop) = read(&z);
        assert!(recs.is_empty());
        assert_eq!(
            stop,
            StopReason::Corrupt {
                offset: offs[0],
                record_index: 0,
                problem: RecordProblem::ZeroLength,
                next_valid_offset: Some(offs[1])
            }
        );
    }

    #[test]
    fn non_increasing_lsn_is_corrupt() {
        let (f, offs) = file_with(&[(5, &[b"PING"]), (5, &[b"PING"])]);
        let (recs, stop) = read(&f);
        assert_eq!(recs.len(), 1);
        assert_eq!(
            stop,
            StopReason::Corrupt {
                offset: offs[1],
                record_index: 1,
                problem: RecordProblem::LsnNotIncreasing { prev: 5, lsn: 5 },
                next_valid_offset: Some(offs[1])
            }
        );
    }

    #[test]
    fn malformed_payload_is_reported() {
        let mut f = LogHeader::new(1, 1).encode().to_vec();
        let mut p = Vec::new();
        p.extend_from_slice(&1u64.to_le_bytes());
        p.extend_from_slice(&0u16.to_le_bytes());
        p.extend_from_slice(&0u32.to_le_bytes());
        f.extend_from_slice(&(p.len() as u32).to_le_bytes());
        f.extend_from_slice(&crc32fast::hash(&p).to_le_bytes());
        f.extend_from_slice(&p);
        let (_, stop) = read(&f);
        assert_eq!(
            stop,
            StopReason::TornTail {
                offset: 40,
                record_index: 0,
                problem: RecordProblem::BadPayload(PayloadProblem::NoArgs),
                // up to the LSN's low byte; db and argc are zero
                torn_bytes: 9
            }
        );
    }

    fn sim_writer(fs: &SimFs, chunk: u64) -> LogWriter {
        fs.create_dir_all(Path::new("/d")).unwrap();
        let config = LogConfig {
            prealloc_chunk: chunk,
            low_watermark: chunk / 4,
            ..LogConfig::default()
        };
        LogWriter::create(fs, Path::new("/d/log"), LogHeader::new(1, 1), config).unwrap()
    }

    #[test]
    fn writer_round_trip_and_points() {
        let fs = SimFs::new(1);
        let mut w = sim_writer(&fs, 256);
        assert_eq!(fs.contents(Path::new("/d/log")).unwrap().len(), 256);
        w.append(1, 0, &[&b"SET"[..], b"k", b"v"]).unwrap();
        w.append(2, 1, &[&b"DEL"[..], b"k"]).unwrap();
        assert_eq!(w.written().lsn, 0);
        let p = w.write_pending().unwrap();
        assert_eq!(p.lsn, 2);
        assert_eq!(w.durable().lsn, 0);
        assert_eq!(w.sync().unwrap(), p);
        assert_eq!(w.durable(), p);
        let bytes = fs.contents(Path::new("/d/log")).unwrap();
        let (recs, stop) = read(&bytes);
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[1].db, 1);
        assert_eq!(stop, StopReason::CleanEnd { offset: p.offset });
        assert!(matches!(
            w.append(2, 0, &[b"X"]),
            Err(LogError::LsnNotIncreasing {
                last: 2,
                lsn: 2,
                ..
            })
        ));
        assert!(matches!(
            w.append(0, 0, &[b"X"]),
            Err(LogError::LsnBelowStart { lsn: 0, .. })
        ));
    }

    /// Regression (found by the `commands` fuzz target): the engine reserves log space
    /// before every batch, so a log could be extended and then rotated away by a rewrite
    /// with no record written since its last fsync; `sync` skipped the fdatasync, the
    /// extension never became durable, and after a power loss the old (no longer last) log
    /// could end in garbage, which recovery rightly refuses as corruption.
    #[test]
    fn fuzz_commands_sync_makes_an_unsynced_extension_durable() {
        let fs = SimFs::new(7);
        let path = Path::new("/d/log");
        let mut w = sim_writer(&fs, 256);
        fs.sync_dir(Path::new("/")).unwrap();
        fs.sync_dir(Path::new("/d")).unwrap();
        w.append(1, 0, &[&b"SET"[..], b"k", b"v"]).unwrap();
        let p = w.write_and_sync().unwrap();
        w.reserve(4096).unwrap();
        let extended = fs.contents(path).unwrap().len();
        assert!(
            extended > 256,
            "reserve extended the file to {extended} bytes"
        );
        let ops = fs.op_count();
        assert_eq!(w.write_and_sync().unwrap(), p);
        assert_eq!(fs.op_count(), ops + 1, "one fdatasync for the extension");
        assert_eq!(w.sync().unwrap(), p);
        assert_eq!(fs.op_count(), ops + 1, "nothing new: no second fdatasync");
        fs.set_torn_mode(TornMode::Garbage);
        fs.crash();
        let bytes = fs.contents(path).unwrap();
        assert_eq!(bytes.len(), extended);
        let (recs, stop) = read(&bytes);
        assert_eq!(recs.len(), 1);
        assert_eq!(stop, StopReason::CleanEnd { offset: p.offset });
    }

    #[test]
    fn writer_extends_in_chunks_and_reports_no_space_before_applying() {
        let fs = SimFs::new(2);
        let mut w = sim_writer(&fs, 128);
        assert_eq!(w.reserved_end(), 128);
        assert!(w.has_reserved_space(80));
        assert!(!w.has_reserved_space(100));
        w.reserve(100).unwrap();
        assert_eq!(w.reserved_end(), 256);
        fs.set_capacity(Some(fs.used_bytes()));
        // Exhaust the reservation.
        let big = [7u8; 150];
        w.append(1, 0, &[&big[..]]).unwrap();
        w.write_pending().unwrap();
        let e = w.reserve(200).unwrap_err();
        assert!(e.is_no_space(), "{e}");
        assert!(e.to_string().contains("resume automatically"));
        // Space returns: the same call succeeds and the writer was never poisoned.
        fs.set_capacity(None);
        w.reserve(200).unwrap();
        assert!(w.reserved_end() >= w.written().offset + 200);
        w.append(2, 0, &[b"PING"]).unwrap();
        w.write_and_sync().unwrap();
    }

    #[test]
    fn write_enospc_keeps_buffer_and_retry_succeeds() {
        let fs = SimFs::new(3);
        let mut w = sim_writer(&fs, 4096);
        w.append(1, 0, &[b"PING"]).unwrap();
        fs.fail_op(fs.op_count(), FaultError::NoSpace);
        assert!(w.write_pending().unwrap_err().is_no_space());
        assert_eq!(w.pending_bytes(), 8 + 14 + 8);
        let p = w.write_and_sync().unwrap();
        assert_eq!(p.lsn, 1);
        let (recs, _) = read(&fs.contents(Path::new("/d/log")).unwrap());
        assert_eq!(recs.len(), 1);
    }

    #[test]
    fn eio_on_fsync_poisons_the_writer() {
        let fs = SimFs::new(4);
        let mut w = sim_writer(&fs, 4096);
        w.append(1, 0, &[b"PING"]).unwrap();
        w.write_pending().unwrap();
        fs.fail_kind(OpKind::SyncData, FaultError::Eio);
        let e = w.sync().unwrap_err();
        assert!(
            matches!(
                e,
                LogError::Io {
                    op: "fdatasync",
                    ..
                }
            ),
            "{e}"
        );
        fs.clear_faults();
        // Never retried: the writer stays poisoned even though the disk "recovered".
        assert!(matches!(w.sync(), Err(LogError::Poisoned { .. })));
        assert!(matches!(
            w.append(2, 0, &[b"PING"]),
            Err(LogError::Poisoned { .. })
        ));
        assert_eq!(w.durable().lsn, 0);
        assert!(w.poison_cause().unwrap().contains("fdatasync"));
    }

    #[test]
    fn syncer_from_another_thread() {
        let fs = SimFs::new(5);
        let mut w = sim_writer(&fs, 4096);
        w.append(1, 0, &[b"PING"]).unwrap();
        let point = w.write_pending().unwrap();
        let syncer = w.syncer();
        std::thread::spawn(move || syncer.sync())
            .join()
            .unwrap()
            .unwrap();
        w.mark_durable(point);
        assert_eq!(w.durable(), point);
    }

    /// Zeroing ahead (group commit's cheaper fsync) writes only past the appended
    /// records, buffered ones included, and stops at the end of the reservation.
    #[test]
    fn zero_ahead_writes_past_the_records_within_the_reservation() {
        let fs = SimFs::new(8);
        let chunk = 3 * ZERO_STEP as u64 + 100;
        let mut w = sim_writer(&fs, chunk);
        assert_eq!(w.reserved_end(), chunk);
        w.append(1, 0, &[&b"SET"[..], b"a", b"1"]).unwrap();
        w.write_pending().unwrap();
        // Buffered, not yet written: zeroing must start after it too.
        w.append(2, 0, &[&b"SET"[..], b"b", b"2"]).unwrap();
        let records_end = w.pending_end();
        let writes = fs.op_count();
        assert_eq!(w.zero_ahead().unwrap(), ZERO_STEP);
        assert_eq!(fs.op_count(), writes + 1, "one write per step");
        assert_eq!(w.zeroed_end, records_end + ZERO_STEP as u64);
        assert_eq!(w.zero_ahead().unwrap(), ZERO_STEP);
        // What is left of the reservation is less than a step: it is zeroed whole.
        let rest = (chunk - records_end) as usize - 2 * ZERO_STEP;
        assert!(rest < ZERO_STEP);
        assert_eq!(w.zero_ahead().unwrap(), rest);
        assert_eq!(w.zeroed_end, chunk);
        let ops = fs.op_count();
        assert_eq!(w.zero_ahead().unwrap(), 0);
        assert_eq!(fs.op_count(), ops, "nothing left to zero: no I/O");
        let p = w.write_and_sync().unwrap();
        assert_eq!(p.offset, records_end);
        w.append(3, 0, &[&b"DEL"[..], b"a"]).unwrap();
        let p = w.write_and_sync().unwrap();
        let (recs, stop) = read(&fs.contents(Path::new("/d/log")).unwrap());
        assert_eq!(
            recs.iter().map(|r| r.lsn).collect::<Vec<_>>(),
            vec![1, 2, 3]
        );
        assert_eq!(stop, StopReason::CleanEnd { offset: p.offset });
    }

    /// Zeros written ahead and never synced could come back as garbage after a power
    /// loss; once this log is no longer the last one (a rewrite rotates after
    /// `write_and_sync`), recovery would refuse that as corruption. So `sync` must run
    /// an fdatasync for them even with no new record (as for an extension).
    #[test]
    fn sync_makes_zeros_written_ahead_durable() {
        let fs = SimFs::new(12);
        let path = Path::new("/d/log");
        let mut w = sim_writer(&fs, 4 * ZERO_AHEAD);
        fs.sync_dir(Path::new("/")).unwrap();
        fs.sync_dir(Path::new("/d")).unwrap();
        w.append(1, 0, &[&b"SET"[..], b"k", b"v"]).unwrap();
        let p = w.write_and_sync().unwrap();
        assert_eq!(w.zero_ahead().unwrap(), ZERO_STEP);
        let ops = fs.op_count();
        assert_eq!(w.write_and_sync().unwrap(), p);
        assert_eq!(fs.op_count(), ops + 1, "one fdatasync for the zeros");
        fs.set_torn_mode(TornMode::Garbage);
        fs.crash();
        let (recs, stop) = read(&fs.contents(path).unwrap());
        assert_eq!(recs.len(), 1);
        assert_eq!(stop, StopReason::CleanEnd { offset: p.offset });
    }

    /// A zeroing step is topped up only once a whole step of the lead is used up.
    #[test]
    fn zero_ahead_keeps_a_bounded_lead() {
        let fs = SimFs::new(9);
        let mut w = sim_writer(&fs, 4 * ZERO_AHEAD);
        let mut zeroed = 0;
        while let n @ 1.. = w.zero_ahead().unwrap() {
            zeroed += n;
        }
        assert_eq!(zeroed as u64, ZERO_AHEAD);
        let big = vec![b'x'; ZERO_STEP - 100];
        w.append(1, 0, &[&big[..]]).unwrap();
        w.write_pending().unwrap();
        assert_eq!(
            w.zero_ahead().unwrap(),
            0,
            "less than a step of the lead used"
        );
        w.append(2, 0, &[&big[..]]).unwrap();
        w.write_pending().unwrap();
        assert_eq!(w.zero_ahead().unwrap(), ZERO_STEP);
        assert_eq!(
            w.zeroed_end,
            HEADER_LEN as u64 + ZERO_AHEAD + ZERO_STEP as u64
        );
    }

    #[test]
    fn zero_ahead_stops_on_a_full_disk_and_poisons_on_eio() {
        let fs = SimFs::new(10);
        let mut w = sim_writer(&fs, 4 * ZERO_AHEAD);
        fs.fail_op(fs.op_count(), FaultError::NoSpace);
        assert_eq!(w.zero_ahead().unwrap(), 0);
        let ops = fs.op_count();
        assert_eq!(
            w.zero_ahead().unwrap(),
            0,
            "zeroing stays off for this file"
        );
        assert_eq!(fs.op_count(), ops);
        w.append(1, 0, &[b"PING"]).unwrap();
        assert_eq!(w.write_and_sync().unwrap().lsn, 1, "the log itself is fine");

        let fs = SimFs::new(11);
        let mut w = sim_writer(&fs, 4 * ZERO_AHEAD);
        fs.fail_kind(OpKind::Write, FaultError::Eio);
        let e = w.zero_ahead().unwrap_err();
        assert!(
            matches!(
                e,
                LogError::Io {
                    op: "write zeros",
                    ..
                }
            ),
            "{e}"
        );
        fs.clear_faults();
        assert!(matches!(
            w.append(1, 0, &[b"PING"]),
            Err(LogError::Poisoned { .. })
        ));
    }

    #[test]
    fn open_at_continues_after_existing_records() {
        let fs = SimFs::new(6);
        let mut w = sim_writer(&fs, 4096);
        w.append(1, 0, &[b"A"]).unwrap();
        w.write_and_sync().unwrap();
        let bytes = fs.contents(Path::new("/d/log")).unwrap();
        let (_, stop) = read(&bytes);
        let end = stop.valid_end();
        let mut w2 = LogWriter::open_at(
            &fs,
            Path::new("/d/log"),
            LogHeader::new(1, 1),
            end,
            1,
            w.config,
        )
        .unwrap();
        assert_eq!(w2.next_lsn(), 2);
        w2.append(2, 0, &[b"B"]).unwrap();
        w2.write_and_sync().unwrap();
        let (recs, _) = read(&fs.contents(Path::new("/d/log")).unwrap());
        assert_eq!(recs.iter().map(|r| r.lsn).collect::<Vec<_>>(), vec![1, 2]);
    }
}
