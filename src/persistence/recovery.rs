//! Opening a data directory: create it, or verify it and replay its logs.
//!
//! ```text
//! DataDir::open(vfs, dir, options)        reads + checks the manifest (or creates the dir)
//!   ├─ .base_path()                       BASE SNAPSHOT HOOK: load this first, if any
//!   └─ .replay(|record| apply(record))    replays every log, returns a LogWriter
//! ```
//!
//! [`recover`] does both steps with two callbacks.
//!
//! # Rules
//!
//! * Missing or empty directory: it is created with an initial manifest and an empty first
//!   log, durably (log file synced, directory synced, then the manifest stored atomically).
//! * Directory without a manifest: accepted as new only if its only data-looking files
//!   (`*.incr`, `*.base`, `strata.manifest*`) are what an interrupted creation leaves
//!   behind (`strata.manifest.tmp`, a `strata.1.incr` with nothing but zeros after its
//!   40-byte header). Anything else is refused ([`RecoveryError::ManifestMissing`]) rather than silently ignored.
//! * Every file the manifest names must exist ([`RecoveryError::MissingFile`]) and each log's
//!   header must carry the `seq` the manifest gives it.
//! * Records are replayed file by file in manifest order; LSNs must strictly increase
//!   across files.
//! * A torn tail (see [`crate::persistence::log`] for the exact rule) in the **last** log is
//!   truncated — with `load_truncated` (the default, like Redis's `aof-load-truncated yes`);
//!   the truncation is reported in [`RecoveryStats::truncated`] so the caller can log it.
//!   A torn tail anywhere else, corruption in the middle, or a bad header is refused with
//!   an error naming the file and offset and the `verify-aof` command to run.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use thiserror::Error;

use super::fs::Vfs;
use super::log::{LogConfig, LogError, LogReader, LogWriter, StopReason, DEFAULT_READ_CHUNK};
use super::manifest::{
    base_file_name, clean_pending, incr_file_name, FileEntry, Manifest, ManifestError,
    MANIFEST_NAME, MANIFEST_TMP_NAME,
};
use super::record::{HeaderProblem, LogHeader, Record, RecordProblem, HEADER_LEN};

/// Options for opening a data directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecoveryOptions {
    /// Truncate a torn tail of the last log (`true`, default) or refuse to start (`false`).
    pub load_truncated: bool,
    /// Configuration of the returned writer (and limits of the reader).
    pub log: LogConfig,
    /// Read window size of the log reader.
    pub read_chunk: usize,
}

impl Default for RecoveryOptions {
    fn default() -> Self {
        RecoveryOptions {
            load_truncated: true,
            log: LogConfig::default(),
            read_chunk: DEFAULT_READ_CHUNK,
        }
    }
}

/// Why a data directory could not be opened. Messages name the file, the offset and the
/// command an operator should run.
#[derive(Debug, Error)]
pub enum RecoveryError {
    /// An I/O error.
    #[error("I/O error during {op} on {path}: {source}; check that the data directory is readable and writable and the device healthy (dmesg), then restart")]
    Io {
        /// File or directory involved.
        path: PathBuf,
        /// What was being done.
        op: &'static str,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The manifest could not be read or is invalid.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// Creating the first log or reopening the last one failed.
    #[error(transparent)]
    Log(#[from] LogError),
    /// The directory holds data files but no manifest.
    #[error("data directory {dir} has no {MANIFEST_NAME} but contains data files {files:?}; refusing to start rather than ignore them — restore the manifest from a backup or rebuild it with `verify-aof repair {dir}`", dir = .dir.display())]
    ManifestMissing {
        /// The data directory.
        dir: PathBuf,
        /// The data-looking files found.
        files: Vec<String>,
    },
    /// A file named by the manifest does not exist.
    #[error("{path} is named by the manifest but missing; restore it from a backup, or run `verify-aof repair {dir}` to drop it from the manifest (its data is lost)", path = .path.display(), dir = .dir.display())]
    MissingFile {
        /// The missing file.
        path: PathBuf,
        /// The data directory.
        dir: PathBuf,
    },
    /// A log file's header is invalid.
    #[error("log file {path} has an invalid header: {problem}; refusing to start — inspect it with `verify-aof check {dir}` and restore it from a backup", path = .path.display(), dir = .dir.display())]
    BadHeader {
        /// The log file.
        path: PathBuf,
        /// The data directory.
        dir: PathBuf,
        /// What is wrong.
        problem: HeaderProblem,
    },
    /// A log file's header names another sequence number than the manifest.
    #[error("log file {path} has seq {found} in its header but the manifest says {expected}: the file was replaced or renamed; refusing to start — inspect with `verify-aof check {dir}`", path = .path.display(), dir = .dir.display())]
    WrongFile {
        /// The log file.
        path: PathBuf,
        /// The data directory.
        dir: PathBuf,
        /// Seq from the manifest.
        expected: u64,
        /// Seq from the header.
        found: u64,
    },
    /// A bad record followed by valid data (or data that could not be ruled out).
    #[error("log file {path} is corrupt at offset {offset} (record #{record_index}: {problem}) and {} — refusing to start rather than skip it; inspect with `verify-aof check {dir}`, then `verify-aof repair {dir}` truncates the log at offset {offset}, discarding everything after it", follows(.next_valid_offset), path = .path.display(), dir = .dir.display())]
    Corrupt {
        /// The log file.
        path: PathBuf,
        /// The data directory.
        dir: PathBuf,
        /// Offset of the bad record.
        offset: u64,
        /// Index of the bad record within the file.
        record_index: u64,
        /// What is wrong with it.
        problem: RecordProblem,
        /// Offset of valid data found after it, if the search finished.
        next_valid_offset: Option<u64>,
    },
    /// A torn tail in the last log while `load_truncated` is off.
    #[error("log file {path} ends with {torn_bytes} bytes of an incomplete record at offset {offset} ({problem}), typically a write torn by a crash; enable load_truncated (aof-load-truncated yes) to truncate it at startup, or run `verify-aof repair {dir}`", path = .path.display(), dir = .dir.display())]
    TornTail {
        /// The log file.
        path: PathBuf,
        /// The data directory.
        dir: PathBuf,
        /// Where the torn bytes start.
        offset: u64,
        /// How many (up to the last non-zero byte).
        torn_bytes: u64,
        /// What is wrong with the bytes.
        problem: RecordProblem,
    },
    /// A torn tail in a log that is not the last one: data was lost in the middle.
    #[error("log file {path} is not the last log but ends with {torn_bytes} bytes of an incomplete record at offset {offset} ({problem}); later logs depend on it, so this is corruption — inspect with `verify-aof check {dir}` and run `verify-aof repair {dir}` only if losing the rest is acceptable", path = .path.display(), dir = .dir.display())]
    TornTailNotLast {
        /// The log file.
        path: PathBuf,
        /// The data directory.
        dir: PathBuf,
        /// Where the torn bytes start.
        offset: u64,
        /// How many.
        torn_bytes: u64,
        /// What is wrong with the bytes.
        problem: RecordProblem,
    },
    /// LSNs go backwards from one log file to the next.
    #[error("record at offset {offset} of {path} has LSN {lsn}, not above LSN {prev} of the previous record; the logs are out of order or mixed from different data sets — inspect with `verify-aof check {dir}`", path = .path.display(), dir = .dir.display())]
    LsnRegression {
        /// The log file.
        path: PathBuf,
        /// The data directory.
        dir: PathBuf,
        /// Offset of the record.
        offset: u64,
        /// Previous LSN.
        prev: u64,
        /// This LSN.
        lsn: u64,
    },
}

fn follows(next: &Option<u64>) -> String {
    match next {
        Some(o) => format!("valid data follows at offset {o}"),
        None => "valid data after it could not be ruled out".to_string(),
    }
}

/// Error of [`DataDir::replay`]: the directory is bad, or the caller's callback failed.
#[derive(Debug, Error)]
pub enum ReplayError<E> {
    /// The data directory could not be recovered.
    #[error(transparent)]
    Recovery(#[from] RecoveryError),
    /// The callback refused a record.
    #[error("replaying the record with LSN {lsn} at offset {offset} of {path} failed: {source}", path = .path.display())]
    Apply {
        /// The log file.
        path: PathBuf,
        /// Offset of the record.
        offset: u64,
        /// Its LSN.
        lsn: u64,
        /// The callback's error.
        #[source]
        source: E,
    },
    /// Loading the base snapshot failed (see [`recover`]).
    #[error("loading base snapshot {path} failed: {source}", path = .path.display())]
    Base {
        /// The base file.
        path: PathBuf,
        /// The loader's error.
        #[source]
        source: E,
    },
}

/// A tail cut off the last log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Truncation {
    /// The log file.
    pub path: PathBuf,
    /// New length of the file (end of the last complete record).
    pub offset: u64,
    /// Torn bytes removed (up to the last non-zero byte).
    pub torn_bytes: u64,
    /// Length of the file before (including preallocated zeros).
    pub file_len_before: u64,
    /// What was wrong with the bytes at `offset`.
    pub problem: RecordProblem,
}

/// What recovery did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RecoveryStats {
    /// The data directory was created (or re-initialised after an interrupted creation).
    pub created: bool,
    /// Log files replayed.
    pub files: usize,
    /// Records replayed.
    pub records: u64,
    /// Bytes of records replayed (frames, excluding headers).
    pub bytes: u64,
    /// LSN of the last record replayed (0 if none).
    pub last_lsn: u64,
    /// The torn tail cut off the last log, if any. Log it.
    pub truncated: Option<Truncation>,
}

/// A recovered data directory, ready to append.
#[derive(Debug)]
pub struct Recovered {
    /// Appends to the last log, positioned after its last valid record.
    pub writer: LogWriter,
    /// The live manifest (mutate + store it for a rewrite).
    pub manifest: Manifest,
    /// What happened.
    pub stats: RecoveryStats,
}

/// Records per batch handed from the replay reader thread to the applying thread.
const REPLAY_BATCH: usize = 1024;
/// Bytes of a log file before its preallocated zeros: a binary search for the first
/// all-zero block. A record holding a zero block can mislead it, and unreadable files
/// count as empty: an estimate, for progress reports.
fn log_data_len(vfs: &dyn Vfs, path: &Path) -> u64 {
    const BLOCK: u64 = 4096;
    let Ok(f) = vfs.open_read(path) else {
        return 0;
    };
    let len = f.len().unwrap_or(0);
    let zero = |i: u64| {
        let mut buf = [0u8; BLOCK as usize];
        let n = f.read_at(&mut buf, i * BLOCK).unwrap_or(0);
        buf[..n].iter().all(|&b| b == 0)
    };
    // Blocks before `lo` hold data, blocks from `hi` on are zeros.
    let (mut lo, mut hi) = (0, len.div_ceil(BLOCK));
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if zero(mid) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    (lo * BLOCK).min(len)
}

/// Batches read ahead of the applier (bounds replay memory to a few thousand records).
const REPLAY_QUEUE: usize = 4;

/// A data directory whose manifest has been read and whose files exist.
#[derive(Debug)]
pub struct DataDir {
    vfs: Arc<dyn Vfs>,
    dir: PathBuf,
    manifest: Manifest,
    created: bool,
    options: RecoveryOptions,
    cleaned: Vec<String>,
    adopted: Option<PathBuf>,
}

fn is_data_looking(name: &str) -> bool {
    name.ends_with(".incr") || name.ends_with(".base") || name.starts_with(MANIFEST_NAME)
}

impl DataDir {
    /// Opens (or creates) the data directory `dir`. See the module docs for the rules.
    pub fn open(
        vfs: Arc<dyn Vfs>,
        dir: &Path,
        options: RecoveryOptions,
    ) -> Result<DataDir, RecoveryError> {
        Self::open_adopting(vfs, dir, options, None)
    }

    /// Like [`open`](Self::open); when the directory has no live set yet (no manifest,
    /// nothing but what an interrupted creation leaves) and the snapshot `adopt` exists
    /// (the `dump.rdb` a server without the log wrote), the new live set starts from a
    /// copy of it as its base instead of from nothing. Turning the log on by editing the
    /// config file and restarting thus keeps the data (Redis starts empty then:
    /// redis/redis#837).
    pub fn open_adopting(
        vfs: Arc<dyn Vfs>,
        dir: &Path,
        options: RecoveryOptions,
        adopt: Option<&Path>,
    ) -> Result<DataDir, RecoveryError> {
        let io = |path: &Path, op: &'static str| {
            let path = path.to_path_buf();
            move |source| RecoveryError::Io { path, op, source }
        };
        let mut created = false;
        let mut cleaned = Vec::new();
        let mut adopted = None;
        let mut init = |vfs: &dyn Vfs| -> Result<Manifest, RecoveryError> {
            created = true;
            let from = adopt.filter(|p| vfs.exists(p).unwrap_or(false));
            adopted = from.map(Path::to_path_buf);
            init_dir(vfs, dir, &options, from)
        };
        let manifest = if !vfs.exists(dir).map_err(io(dir, "stat"))? {
            init(&*vfs)?
        } else {
            cleaned = clean_pending(&*vfs, dir)?;
            match Manifest::load(&*vfs, dir)? {
                Some(m) => m,
                None => {
                    let data: Vec<String> = vfs
                        .list_dir(dir)
                        .map_err(io(dir, "list directory"))?
                        .into_iter()
                        .filter(|n| is_data_looking(n))
                        .collect();
                    if !is_interrupted_init(&*vfs, dir, &data, &options)? {
                        return Err(RecoveryError::ManifestMissing {
                            dir: dir.to_path_buf(),
                            files: data,
                        });
                    }
                    init(&*vfs)?
                }
            }
        };
        for name in manifest.live_names() {
            let path = dir.join(name);
            if !vfs.exists(&path).map_err(io(&path, "stat"))? {
                return Err(RecoveryError::MissingFile {
                    path,
                    dir: dir.to_path_buf(),
                });
            }
        }
        Ok(DataDir {
            vfs,
            dir: dir.to_path_buf(),
            manifest,
            created,
            options,
            cleaned,
            adopted,
        })
    }

    /// Files an interrupted build of a live set left, deleted at open (see
    /// [`crate::persistence::manifest::PENDING_NAME`]).
    pub fn cleaned(&self) -> &[String] {
        &self.cleaned
    }

    /// The snapshot [`open_adopting`](Self::open_adopting) took as the first base.
    pub fn adopted(&self) -> Option<&Path> {
        self.adopted.as_deref()
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The manifest read (or written) at open.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Whether [`open`](Self::open) created the directory.
    pub fn created(&self) -> bool {
        self.created
    }

    /// BASE SNAPSHOT HOOK: the base snapshot named by the manifest, if any. The caller must
    /// load it (with the snapshot reader) *before* [`replay`](Self::replay), since the
    /// logs continue from the state it holds.
    pub fn base_path(&self) -> Option<PathBuf> {
        self.manifest.base.as_ref().map(|b| self.dir.join(&b.name))
    }

    /// Paths of the incremental logs, in replay order.
    pub fn log_paths(&self) -> Vec<PathBuf> {
        self.manifest
            .incrs
            .iter()
            .map(|e| self.dir.join(&e.name))
            .collect()
    }

    /// An estimate of the bytes a load reads (base snapshot plus the logs up to their
    /// preallocated zeros), for progress reports only.
    pub fn estimated_bytes(&self) -> u64 {
        let base = self
            .base_path()
            .map_or(0, |p| self.vfs.file_len(&p).unwrap_or(0));
        base + self
            .log_paths()
            .iter()
            .map(|p| log_data_len(&*self.vfs, p))
            .sum::<u64>()
    }

    /// Replays every record of every log in order through `apply` (on the calling thread;
    /// reading and decoding run on a helper thread), truncates a torn tail
    /// of the last log (if allowed), and returns a writer positioned at its end.
    pub fn replay<E, F>(self, mut apply: F) -> Result<Recovered, ReplayError<E>>
    where
        F: FnMut(Record) -> Result<(), E>,
    {
        let DataDir {
            vfs,
            dir,
            manifest,
            created,
            options,
            ..
        } = self;
        let mut stats = RecoveryStats {
            created,
            ..RecoveryStats::default()
        };
        let limits = options.log.limits;
        let count = manifest.incrs.len();
        let mut last_lsn = 0u64;
        let mut tail: Option<(PathBuf, LogHeader, u64)> = None;
        for (i, entry) in manifest.incrs.iter().enumerate() {
            let is_last = i + 1 == count;
            let path = dir.join(&entry.name);
            let io = |op: &'static str| {
                let path = path.clone();
                move |source| RecoveryError::Io { path, op, source }
            };
            let file = match vfs.open_read(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(RecoveryError::MissingFile {
                        path,
                        dir: dir.clone(),
                    }
                    .into())
                }
                Err(e) => return Err(io("open")(e).into()),
            };
            let mut reader =
                LogReader::with_read_chunk(file, limits, options.read_chunk).map_err(io("read"))?;
            if let Some(h) = reader.header() {
                if h.file_seq != entry.seq {
                    return Err(RecoveryError::WrongFile {
                        path,
                        dir: dir.clone(),
                        expected: entry.seq,
                        found: h.file_seq,
                    }
                    .into());
                }
            }
            // A helper thread reads, checksums and decodes records in batches while this
            // thread applies them: replay runs at the speed of the slower half, not the sum.
            let reader = std::thread::scope(|sc| -> Result<_, ReplayError<E>> {
                let (tx, rx) = std::sync::mpsc::sync_channel(REPLAY_QUEUE);
                let worker = sc.spawn(move || {
                    loop {
                        let mut batch = Vec::with_capacity(REPLAY_BATCH);
                        let mut failed = None;
                        while batch.len() < REPLAY_BATCH {
                            match reader.next_record() {
                                Ok(Some(r)) => batch.push(r),
                                Ok(None) => break,
                                Err(e) => {
                                    failed = Some(e);
                                    break;
                                }
                            }
                        }
                        let last = batch.len() < REPLAY_BATCH || failed.is_some();
                        // A closed channel means the applier stopped on an error: stop too.
                        if !batch.is_empty() && tx.send(Ok(batch)).is_err() {
                            break;
                        }
                        if let Some(e) = failed {
                            let _ = tx.send(Err(e));
                        }
                        if last {
                            break;
                        }
                    }
                    reader
                });
                for batch in rx {
                    for rec in batch.map_err(io("read"))? {
                        if rec.lsn <= last_lsn {
                            return Err(RecoveryError::LsnRegression {
                                path: path.clone(),
                                dir: dir.clone(),
                                offset: rec.offset,
                                prev: last_lsn,
                                lsn: rec.lsn,
                            }
                            .into());
                        }
                        let (offset, lsn, len) = (rec.offset, rec.lsn, rec.len);
                        apply(rec).map_err(|source| ReplayError::Apply {
                            path: path.clone(),
                            offset,
                            lsn,
                            source,
                        })?;
                        last_lsn = lsn;
                        stats.records += 1;
                        stats.bytes += len;
                    }
                }
                Ok(worker
                    .join()
                    .unwrap_or_else(|p| std::panic::resume_unwind(p)))
            })?;
            stats.files += 1;
            let header = reader.header().copied();
            let file_len = reader.file_len();
            let stop = reader
                .stop_reason()
                .cloned()
                .unwrap_or(StopReason::CleanEnd {
                    offset: reader.position(),
                });
            let end = match stop {
                StopReason::CleanEnd { offset } => offset,
                StopReason::BadHeader { problem } => {
                    return Err(RecoveryError::BadHeader {
                        path,
                        dir: dir.clone(),
                        problem,
                    }
                    .into())
                }
                StopReason::Corrupt {
                    offset,
                    record_index,
                    problem,
                    next_valid_offset,
                } => {
                    return Err(RecoveryError::Corrupt {
                        path,
                        dir: dir.clone(),
                        offset,
                        record_index,
                        problem,
                        next_valid_offset,
                    }
                    .into())
                }
                StopReason::TornTail {
                    offset,
                    torn_bytes,
                    problem,
                    ..
                } => {
                    if !is_last {
                        return Err(RecoveryError::TornTailNotLast {
                            path,
                            dir: dir.clone(),
                            offset,
                            torn_bytes,
                            problem,
                        }
                        .into());
                    }
                    if !options.load_truncated {
                        return Err(RecoveryError::TornTail {
                            path,
                            dir: dir.clone(),
                            offset,
                            torn_bytes,
                            problem,
                        }
                        .into());
                    }
                    let f = vfs.open_write(&path).map_err(io("open for truncation"))?;
                    f.set_len(offset).map_err(io("truncate"))?;
                    f.sync_data().map_err(io("fdatasync after truncate"))?;
                    stats.truncated = Some(Truncation {
                        path: path.clone(),
                        offset,
                        torn_bytes,
                        file_len_before: file_len,
                        problem,
                    });
                    offset
                }
            };
            if is_last {
                if let Some(h) = header {
                    tail = Some((path, h, end));
                }
            }
        }
        stats.last_lsn = last_lsn;
        let Some((path, header, end)) = tail else {
            // Unreachable with a validated manifest (at least one log, headers checked).
            return Err(RecoveryError::Manifest(ManifestError::Invalid {
                path: dir.join(MANIFEST_NAME),
                problem: super::manifest::ManifestProblem::NoIncrFiles,
            })
            .into());
        };
        let writer = LogWriter::open_at(&*vfs, &path, header, end, last_lsn, options.log)
            .map_err(RecoveryError::from)?;
        Ok(Recovered {
            writer,
            manifest,
            stats,
        })
    }
}

/// Creates the directory, the first log and the manifest, durably, in that order. With
/// `base`, the new live set starts from a copy of that snapshot (`strata.1.base`, then the
/// first log `strata.2.incr`), recorded in `strata.pending` before any file is created,
/// so that an interruption anywhere is undone at the next open and the copy redone.
fn init_dir(
    vfs: &dyn Vfs,
    dir: &Path,
    options: &RecoveryOptions,
    base: Option<&Path>,
) -> Result<Manifest, RecoveryError> {
    let io = |path: &Path, op: &'static str| {
        let path = path.to_path_buf();
        move |source| RecoveryError::Io { path, op, source }
    };
    super::fs::create_dir_durable(vfs, dir).map_err(io(dir, "create directory"))?;
    let manifest = match base {
        None => Manifest::initial(),
        Some(_) => Manifest {
            base: Some(FileEntry {
                name: base_file_name(1),
                seq: 1,
            }),
            incrs: vec![FileEntry {
                name: incr_file_name(2),
                seq: 2,
            }],
            next_seq: 3,
        },
    };
    if let (Some(from), Some(b)) = (base, &manifest.base) {
        manifest.store_pending(vfs, dir)?;
        let tmp = dir.join(format!("{}.tmp", b.name));
        super::fs::copy_file(vfs, from, &dir.join(&b.name), &tmp)
            .map_err(|(op, path, source)| RecoveryError::Io { path, op, source })?;
    }
    let first = &manifest.incrs[0];
    let path = dir.join(&first.name);
    drop(LogWriter::create(
        vfs,
        &path,
        LogHeader::new(first.seq, 1),
        options.log,
    )?);
    vfs.sync_dir(dir).map_err(io(dir, "fsync directory"))?;
    manifest.store(vfs, dir)?;
    if base.is_some() {
        clean_pending(vfs, dir)?;
    }
    Ok(manifest)
}

/// Whether the data files of a manifest-less directory are only what an interrupted
/// [`init_dir`] leaves behind.
fn is_interrupted_init(
    vfs: &dyn Vfs,
    dir: &Path,
    data: &[String],
    options: &RecoveryOptions,
) -> Result<bool, RecoveryError> {
    let first = incr_file_name(1);
    for name in data {
        if name == MANIFEST_TMP_NAME {
            continue;
        }
        if *name != first {
            return Ok(false);
        }
        let path = dir.join(name);
        let io = |op: &'static str| {
            let path = path.clone();
            move |source| RecoveryError::Io { path, op, source }
        };
        // Creation writes only the header (then zeros): any non-zero byte after it means
        // this file once held records, and it must not be overwritten.
        let file = vfs.open_read(&path).map_err(io("open"))?;
        let len = file.len().map_err(io("stat"))?;
        let mut buf = vec![0u8; options.read_chunk.clamp(64, 1 << 20)];
        let mut pos = HEADER_LEN as u64;
        while pos < len {
            let n = (len - pos).min(buf.len() as u64) as usize;
            file.read_exact_at(&mut buf[..n], pos).map_err(io("read"))?;
            if buf[..n].iter().any(|&b| b != 0) {
                return Ok(false);
            }
            pos += n as u64;
        }
    }
    Ok(true)
}

/// Opens `dir`, loads the base snapshot (if the manifest names one) with `load_base`, then
/// replays the logs through `apply`. The base hook is where the snapshot reader plugs in.
pub fn recover<E, B, F>(
    vfs: Arc<dyn Vfs>,
    dir: &Path,
    options: RecoveryOptions,
    load_base: B,
    apply: F,
) -> Result<Recovered, ReplayError<E>>
where
    B: FnOnce(&Path) -> Result<(), E>,
    F: FnMut(Record) -> Result<(), E>,
{
    let data = DataDir::open(vfs, dir, options)?;
    if let Some(base) = data.base_path() {
        load_base(&base).map_err(|source| ReplayError::Base { path: base, source })?;
    }
    data.replay(apply)
}
