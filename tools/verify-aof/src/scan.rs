//! Reading a whole data directory into a [`DirReport`]: the engine of `check`, `repair`
//! and the drill's post-crash check.
//!
//! Every byte is interpreted by the `strata` library: [`Manifest::load`] for the manifest,
//! [`LogReader`] for the logs (framing, CRC, payload, torn-tail-versus-corruption rule),
//! [`crate::base`] for the base snapshot. On top of that this module applies the rules
//! recovery applies across files (each log's header carries the manifest's seq, LSNs
//! increase across files, only the last log may end torn) and the engine's grammar of
//! transaction records, and it counts what a truncation would lose: after a corrupt
//! record it keeps reading at the next valid record the reader found.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use strata::persistence::record::HEADER_LEN;
use strata::persistence::{
    LogHeader, LogReader, Manifest, ManifestError, ReadAt, Record, RecordProblem, StopReason, Vfs,
    VfsFile, MANIFEST_NAME, PENDING_NAME,
};

use crate::base::{check_base, BaseOutcome, BaseReport};
use crate::rofs::ReadOnlyFs;
use crate::txn;

/// The kinds of problems, with the names used in the text and JSON output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The last log ends with the remains of an interrupted write (repairable).
    TornTail,
    /// A log that is not the last ends torn: data is missing in the middle of history.
    TornTailNotLast,
    /// A record's CRC does not match and valid data follows it.
    ChecksumMismatch,
    /// A record is malformed (bad length, bad payload) and valid data follows it.
    BadRecord,
    /// LSNs do not increase (within a file or from one file to the next).
    LsnOrder,
    /// A log's header is invalid.
    BadHeader,
    /// A log's header carries another seq than the manifest gives it.
    WrongFile,
    /// A file named by the manifest does not exist.
    MissingFile,
    /// No manifest although the directory holds data files.
    MissingManifest,
    /// The manifest is invalid.
    CorruptManifest,
    /// The base snapshot is damaged.
    CorruptSnapshot,
    /// A checksum-valid transaction record the engine would refuse to replay.
    BadTransaction,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::TornTail => "torn-tail",
            Kind::TornTailNotLast => "torn-tail-not-last",
            Kind::ChecksumMismatch => "checksum-mismatch",
            Kind::BadRecord => "bad-record",
            Kind::LsnOrder => "lsn-order",
            Kind::BadHeader => "bad-header",
            Kind::WrongFile => "wrong-file",
            Kind::MissingFile => "missing-file",
            Kind::MissingManifest => "missing-manifest",
            Kind::CorruptManifest => "corrupt-manifest",
            Kind::CorruptSnapshot => "corrupt-snapshot",
            Kind::BadTransaction => "bad-transaction",
        }
    }
}

/// One problem, located as precisely as the readers allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub kind: Kind,
    /// File name inside the data directory.
    pub file: String,
    /// Byte offset in that file.
    pub offset: Option<u64>,
    /// 0-based number of the record within the file.
    pub record: Option<u64>,
    /// Human-readable description.
    pub detail: String,
}

/// What one log file holds.
#[derive(Debug, Clone, Default)]
pub struct LogReport {
    pub name: String,
    pub seq: u64,
    /// The last log of the manifest (the one appended to).
    pub last: bool,
    pub exists: bool,
    /// Physical length (including preallocated zeros).
    pub size: u64,
    pub header: Option<LogHeader>,
    /// Records recovery would replay (before the first problem in this file).
    pub records: u64,
    /// Bytes of those records' frames.
    pub bytes: u64,
    /// LSN of the first and last of those records (0: none).
    pub first_lsn: u64,
    pub last_lsn: u64,
    pub records_per_db: BTreeMap<u64, u64>,
    /// Commands per db, transactions expanded.
    pub commands_per_db: BTreeMap<u64, u64>,
    pub transactions: u64,
    /// Where the valid prefix ends: a truncation point if the file has a problem.
    pub valid_end: u64,
    /// Where and why the reader stopped.
    pub stop: Option<StopReason>,
    /// Complete records found after the first problem (lost by truncating at
    /// `valid_end`), and whether the search for more gave up.
    pub after_bad_records: u64,
    pub after_bad_unknown: bool,
    /// Highest LSN found anywhere in the file (valid prefix or after a problem).
    pub max_lsn_seen: u64,
}

/// The whole directory.
#[derive(Debug, Clone)]
pub struct DirReport {
    pub dir: PathBuf,
    pub manifest: Option<Manifest>,
    pub base: Option<BaseReport>,
    pub logs: Vec<LogReport>,
    pub problems: Vec<Problem>,
    /// Files in the directory that the manifest does not name.
    pub stray: Vec<String>,
    /// Remarks that are not problems.
    pub notes: Vec<String>,
}

/// The overall verdict, which is also `check`'s exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    Intact,
    TornTail,
    Corrupt,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Intact => "intact",
            Verdict::TornTail => "torn-tail",
            Verdict::Corrupt => "corrupt",
        }
    }

    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::Intact => crate::exit::OK,
            Verdict::TornTail => crate::exit::TORN_OR_FAILED,
            Verdict::Corrupt => crate::exit::CORRUPT,
        }
    }
}

impl DirReport {
    pub fn verdict(&self) -> Verdict {
        self.problems
            .iter()
            .map(|p| match p.kind {
                Kind::TornTail => Verdict::TornTail,
                _ => Verdict::Corrupt,
            })
            .max()
            .unwrap_or(Verdict::Intact)
    }

    /// Records recovery would replay, over all logs.
    pub fn records(&self) -> u64 {
        self.logs.iter().map(|l| l.records).sum()
    }

    pub fn first_lsn(&self) -> u64 {
        self.logs
            .iter()
            .filter(|l| l.first_lsn > 0)
            .map(|l| l.first_lsn)
            .min()
            .unwrap_or(0)
    }

    pub fn last_lsn(&self) -> u64 {
        self.logs.iter().map(|l| l.last_lsn).max().unwrap_or(0)
    }

    pub fn records_per_db(&self) -> BTreeMap<u64, u64> {
        let mut m = BTreeMap::new();
        for l in &self.logs {
            for (db, n) in &l.records_per_db {
                *m.entry(*db).or_default() += n;
            }
        }
        m
    }

    pub fn commands_per_db(&self) -> BTreeMap<u64, u64> {
        let mut m = BTreeMap::new();
        for l in &self.logs {
            for (db, n) in &l.commands_per_db {
                *m.entry(*db).or_default() += n;
            }
        }
        m
    }

    pub fn transactions(&self) -> u64 {
        self.logs.iter().map(|l| l.transactions).sum()
    }
}

/// A failure to read (as opposed to something wrong with the data).
#[derive(Debug)]
pub struct ScanError(pub String);

impl std::fmt::Display for ScanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn io_err(path: &Path, op: &str, e: io::Error) -> ScanError {
    ScanError(format!("cannot {op} {}: {e}", path.display()))
}

fn is_data_looking(name: &str) -> bool {
    name.ends_with(".incr") || name.ends_with(".base") || name.starts_with(MANIFEST_NAME)
}

/// The files `strata.pending` names that the manifest does not (with a note saying the
/// server deletes them), plus the pending file itself. Empty without a pending file.
fn unfinished_build(
    fs: &ReadOnlyFs,
    dir: &Path,
    report: &mut DirReport,
) -> Result<Vec<String>, ScanError> {
    let pending = match Manifest::load_pending(fs, dir) {
        Ok(Some(p)) => p,
        Ok(None) => return Ok(Vec::new()),
        Err(e) => {
            report.notes.push(format!(
                "{PENDING_NAME} is unreadable ({e}); the server refuses to start until it is removed"
            ));
            return Ok(Vec::new());
        }
    };
    let live = Manifest::load(fs, dir).ok().flatten();
    let mut left: Vec<String> = pending
        .live_names()
        .filter(|n| {
            !live
                .as_ref()
                .is_some_and(|m| m.live_names().any(|l| l == *n))
        })
        .filter(|n| fs.exists(&dir.join(n)).unwrap_or(false))
        .map(String::from)
        .collect();
    report.notes.push(if left.is_empty() {
        format!(
            "{PENDING_NAME} is left from a build the manifest now names; the server deletes it at its next start"
        )
    } else {
        format!(
            "{PENDING_NAME}: a log switched on at run time (or a dump being adopted) did not \
             finish; the server deletes {left:?} and {PENDING_NAME} at its next start (they \
             were never part of the data set)"
        )
    });
    left.push(PENDING_NAME.to_string());
    Ok(left)
}

/// Reads and checks the data directory `dir` without modifying anything.
pub fn scan(dir: &Path) -> Result<DirReport, ScanError> {
    let fs = ReadOnlyFs;
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(ScanError(format!("{} is not a directory", dir.display()))),
        Err(e) => return Err(io_err(dir, "open the data directory", e)),
    }
    let names = fs.list_dir(dir).map_err(|e| io_err(dir, "list", e))?;
    let mut report = DirReport {
        dir: dir.to_path_buf(),
        manifest: None,
        base: None,
        logs: Vec::new(),
        problems: Vec::new(),
        stray: Vec::new(),
        notes: Vec::new(),
    };
    // What an unfinished build of a live set left (a log switched on at run time, or a
    // dump being adopted): the server deletes those files at its next start.
    let unfinished = unfinished_build(&fs, dir, &mut report)?;
    let names: Vec<String> = names
        .into_iter()
        .filter(|n| !unfinished.contains(n))
        .collect();
    let manifest = match Manifest::load(&fs, dir) {
        Ok(Some(m)) => m,
        Ok(None) => {
            let data: Vec<&String> = names.iter().filter(|n| is_data_looking(n)).collect();
            if data.is_empty() && !unfinished.is_empty() {
                report.notes.push(format!(
                    "no {MANIFEST_NAME}: only an unfinished build; the server starts this \
                     directory afresh (from dump.rdb if there is one)"
                ));
                return Ok(report);
            }
            if data.is_empty() {
                return Err(ScanError(format!(
                    "{} holds no {MANIFEST_NAME} and no data files: not a Strata data directory \
                     (a server started on it would create a new, empty one)",
                    dir.display()
                )));
            }
            if interrupted_init(&fs, dir, &data)? {
                report.notes.push(format!(
                    "no {MANIFEST_NAME}: only what an interrupted first start leaves behind \
                     (an empty strata.1.incr); the server re-initialises this directory"
                ));
                return Ok(report);
            }
            report.problems.push(Problem {
                kind: Kind::MissingManifest,
                file: MANIFEST_NAME.to_string(),
                offset: None,
                record: None,
                detail: format!(
                    "no {MANIFEST_NAME} but the directory holds data files {data:?}; the server \
                     refuses to start rather than guess which files are live — restore the \
                     manifest from a backup"
                ),
            });
            report.stray = data.into_iter().cloned().collect();
            return Ok(report);
        }
        Err(ManifestError::Invalid { problem, .. }) => {
            report.problems.push(Problem {
                kind: Kind::CorruptManifest,
                file: MANIFEST_NAME.to_string(),
                offset: None,
                record: None,
                detail: format!(
                    "{problem}; the manifest is only ever replaced atomically, so this is disk \
                     corruption or a manual edit — restore it from a backup"
                ),
            });
            report.stray = names.into_iter().filter(|n| is_data_looking(n)).collect();
            report.stray.retain(|n| n != MANIFEST_NAME);
            return Ok(report);
        }
        Err(e @ ManifestError::Io { .. }) => return Err(ScanError(e.to_string())),
    };

    let live: Vec<&str> = manifest.live_names().collect();
    report.stray = names
        .iter()
        .filter(|n| {
            !live.contains(&n.as_str())
                && n.as_str() != MANIFEST_NAME
                && n.as_str() != strata::persistence::manifest::MANIFEST_TMP_NAME
                && n.as_str() != PENDING_NAME
        })
        .cloned()
        .collect();

    let mut prev_lsn = 0u64;
    if let Some(b) = &manifest.base {
        let br = check_base(&fs, dir, &b.name);
        match &br.outcome {
            BaseOutcome::Missing => report.problems.push(Problem {
                kind: Kind::MissingFile,
                file: b.name.clone(),
                offset: None,
                record: None,
                detail: "the base snapshot named by the manifest does not exist; the logs \
                         continue from the state it held, so nothing can be recovered without \
                         it — restore it from a backup"
                    .into(),
            }),
            BaseOutcome::Corrupt { offset, detail } => report.problems.push(Problem {
                kind: Kind::CorruptSnapshot,
                file: b.name.clone(),
                offset: Some(*offset),
                record: None,
                detail: detail.clone(),
            }),
            BaseOutcome::Unreadable { detail } => {
                return Err(ScanError(format!(
                    "cannot read base snapshot {}: {detail}",
                    dir.join(&b.name).display()
                )))
            }
            // The logs hold what happened after the snapshot: their LSNs must be above it.
            BaseOutcome::Verified { lsn, .. } => prev_lsn = *lsn,
        }
        report.base = Some(br);
    }

    let count = manifest.incrs.len();
    for (i, entry) in manifest.incrs.iter().enumerate() {
        let last = i + 1 == count;
        let (log, problems) = scan_log(&fs, dir, &entry.name, entry.seq, last, prev_lsn)?;
        prev_lsn = prev_lsn.max(log.max_lsn_seen);
        report.problems.extend(problems);
        report.logs.push(log);
    }
    report.manifest = Some(manifest);
    Ok(report)
}

/// Whether the data files of a manifest-less directory are what an interrupted first
/// start leaves (the same rule as recovery: only `strata.1.incr` and the manifest's temp
/// file, the log holding nothing but zeros after its header).
fn interrupted_init(fs: &dyn Vfs, dir: &Path, data: &[&String]) -> Result<bool, ScanError> {
    for name in data {
        if name.as_str() == strata::persistence::manifest::MANIFEST_TMP_NAME {
            continue;
        }
        if name.as_str() != strata::persistence::incr_file_name(1) {
            return Ok(false);
        }
        let path = dir.join(name.as_str());
        let f = fs.open_read(&path).map_err(|e| io_err(&path, "open", e))?;
        let len = f.len().map_err(|e| io_err(&path, "stat", e))?;
        let mut pos = HEADER_LEN as u64;
        let mut buf = vec![0u8; 1 << 16];
        while pos < len {
            let n = (len - pos).min(buf.len() as u64) as usize;
            f.read_exact_at(&mut buf[..n], pos)
                .map_err(|e| io_err(&path, "read", e))?;
            if buf[..n].iter().any(|&b| b != 0) {
                return Ok(false);
            }
            pos += n as u64;
        }
    }
    Ok(true)
}

/// A log file seen from `from` on, behind a synthetic header, so that a [`LogReader`] can
/// resume after a corrupt record. Offsets it reports are `offset - HEADER_LEN + from`.
struct Resumed {
    head: [u8; HEADER_LEN],
    file: Arc<dyn VfsFile>,
    from: u64,
    file_len: u64,
}

impl ReadAt for Resumed {
    fn size(&self) -> io::Result<u64> {
        Ok(HEADER_LEN as u64 + self.file_len.saturating_sub(self.from))
    }

    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let mut done = 0usize;
        let mut off = offset;
        if off < HEADER_LEN as u64 {
            let n = (HEADER_LEN - off as usize).min(buf.len());
            buf[..n].copy_from_slice(&self.head[off as usize..off as usize + n]);
            done = n;
            off += n as u64;
        }
        if done < buf.len() {
            let real = self.from + (off - HEADER_LEN as u64);
            self.file.read_exact_at(&mut buf[done..], real)?;
        }
        Ok(())
    }
}

fn record_problem_kind(p: &RecordProblem) -> Kind {
    match p {
        RecordProblem::ChecksumMismatch { .. } => Kind::ChecksumMismatch,
        RecordProblem::LsnNotIncreasing { .. } | RecordProblem::LsnBeforeFileStart { .. } => {
            Kind::LsnOrder
        }
        _ => Kind::BadRecord,
    }
}

/// Reads one log file. `prev_lsn` is the highest LSN of the logs before it.
pub fn scan_log(
    fs: &dyn Vfs,
    dir: &Path,
    name: &str,
    seq: u64,
    last: bool,
    prev_lsn: u64,
) -> Result<(LogReport, Vec<Problem>), ScanError> {
    let path = dir.join(name);
    let mut log = LogReport {
        name: name.to_string(),
        seq,
        last,
        ..LogReport::default()
    };
    let mut problems = Vec::new();
    let problem = |kind, offset: Option<u64>, record: Option<u64>, detail: String| Problem {
        kind,
        file: name.to_string(),
        offset,
        record,
        detail,
    };
    let file = match fs.open_read(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            problems.push(problem(
                Kind::MissingFile,
                None,
                None,
                format!(
                    "log seq {seq} is named by the manifest but missing{}",
                    if last {
                        " (it is the last log, the one being appended to)"
                    } else {
                        "; later logs continue from its state"
                    }
                ),
            ));
            return Ok((log, problems));
        }
        Err(e) => return Err(io_err(&path, "open", e)),
    };
    log.exists = true;
    let mut reader = LogReader::new(file.clone(), strata::persistence::Limits::default())
        .map_err(|e| io_err(&path, "read", e))?;
    log.size = reader.file_len();
    log.header = reader.header().copied();
    let mut bad = false;
    if let Some(h) = log.header {
        if h.file_seq != seq {
            problems.push(problem(
                Kind::WrongFile,
                Some(16),
                None,
                format!(
                    "header says file seq {} but the manifest says {seq}: the file was replaced \
                     or renamed",
                    h.file_seq
                ),
            ));
        }
    }
    log.valid_end = HEADER_LEN as u64;
    let read = |r: &mut LogReader<Arc<dyn VfsFile>>| -> Result<Option<Record>, ScanError> {
        r.next_record().map_err(|e| io_err(&path, "read", e))
    };
    while let Some(rec) = read(&mut reader)? {
        log.max_lsn_seen = log.max_lsn_seen.max(rec.lsn);
        if bad {
            log.after_bad_records += 1;
            continue;
        }
        let index = reader.records_read() - 1;
        if rec.lsn <= prev_lsn {
            problems.push(problem(
                Kind::LsnOrder,
                Some(rec.offset),
                Some(index),
                format!(
                    "LSN {} is not above LSN {prev_lsn}, the last one of the base snapshot or \
                     of the logs before this one: the files are out of order or mixed from \
                     different data sets",
                    rec.lsn
                ),
            ));
            bad = true;
            log.after_bad_records += 1;
            continue;
        }
        match txn::commands(&rec) {
            Ok(cmds) => {
                if matches!(cmds, txn::Commands::Txn(_)) {
                    log.transactions += 1;
                }
                for c in cmds.iter() {
                    *log.commands_per_db.entry(c.db).or_default() += 1;
                }
            }
            Err(detail) => {
                problems.push(problem(
                    Kind::BadTransaction,
                    Some(rec.offset),
                    Some(index),
                    format!(
                        "{detail} (LSN {}); its checksum is valid, so the writer produced it: \
                         the server refuses to replay it",
                        rec.lsn
                    ),
                ));
                bad = true;
                log.after_bad_records += 1;
                continue;
            }
        }
        log.records += 1;
        log.bytes += rec.len;
        if log.first_lsn == 0 {
            log.first_lsn = rec.lsn;
        }
        log.last_lsn = rec.lsn;
        *log.records_per_db.entry(u64::from(rec.db)).or_default() += 1;
        log.valid_end = rec.offset + rec.len;
    }
    let stop = reader
        .stop_reason()
        .cloned()
        .unwrap_or(StopReason::CleanEnd {
            offset: reader.position(),
        });
    log.stop = Some(stop.clone());
    match stop {
        StopReason::CleanEnd { offset } => {
            if !bad {
                log.valid_end = offset;
            }
        }
        StopReason::BadHeader { problem: p } => {
            log.valid_end = 0;
            problems.push(problem(
                Kind::BadHeader,
                Some(0),
                None,
                format!("{p}; no record of this file can be trusted"),
            ));
        }
        StopReason::TornTail {
            offset,
            record_index,
            problem: p,
            torn_bytes,
        } => {
            if !bad {
                log.valid_end = offset;
                let (kind, what) = if last {
                    (
                        Kind::TornTail,
                        "the remains of a write interrupted by a crash; nothing valid follows, \
                         so truncating here loses no complete record",
                    )
                } else {
                    (
                        Kind::TornTailNotLast,
                        "this is not the last log, so later logs continue from data that is \
                         missing here",
                    )
                };
                problems.push(problem(
                    kind,
                    Some(offset),
                    Some(record_index),
                    format!("{p}; {torn_bytes} torn bytes: {what}"),
                ));
            }
        }
        StopReason::Corrupt {
            offset,
            record_index,
            problem: p,
            next_valid_offset,
        } => {
            if !bad {
                log.valid_end = offset;
                let follows = match next_valid_offset {
                    Some(o) if o == offset => "the record itself is complete".to_string(),
                    Some(o) => format!("a valid record follows at offset {o}"),
                    None => "valid data after it could not be ruled out".to_string(),
                };
                problems.push(problem(
                    record_problem_kind(&p),
                    Some(offset),
                    Some(record_index),
                    format!("{p}; {follows}"),
                ));
            }
            if next_valid_offset.is_none() {
                log.after_bad_unknown = true;
            }
            count_after(&file, &path, &mut log, next_valid_offset, &mut CountOnly)?;
        }
    }
    Ok((log, problems))
}

/// Receives the records found after a corrupt spot (the dump prints them; the check only
/// counts them).
pub trait AfterSink {
    fn record(&mut self, rec: &Record);
    fn stop(&mut self, at: &StopReason);
}

struct CountOnly;

impl AfterSink for CountOnly {
    fn record(&mut self, _rec: &Record) {}
    fn stop(&mut self, _at: &StopReason) {}
}

/// Reads on from `next` (the next valid record after a corrupt one), as often as the
/// file is corrupt again, adding what it finds to `log.after_bad_records`. Records and
/// stops are passed to `sink` with their real offsets.
pub fn count_after(
    file: &Arc<dyn VfsFile>,
    path: &Path,
    log: &mut LogReport,
    mut next: Option<u64>,
    sink: &mut dyn AfterSink,
) -> Result<(), ScanError> {
    let file_len = file.len().map_err(|e| io_err(path, "stat", e))?;
    // The synthetic header has start LSN 0, so only LSN order *within* the resumed part is
    // checked; it is still a complete, checksum-valid record that a truncation would lose.
    let head = LogHeader::new(log.seq, 0).encode();
    let mut guard = 0u32;
    while let Some(from) = next.take() {
        guard += 1;
        if guard > 100_000 {
            log.after_bad_unknown = true;
            break;
        }
        let src = Resumed {
            head,
            file: file.clone(),
            from,
            file_len,
        };
        let shift = |o: u64| o - HEADER_LEN as u64 + from;
        let mut r = LogReader::new(src, strata::persistence::Limits::default())
            .map_err(|e| io_err(path, "read", e))?;
        while let Some(mut rec) = r.next_record().map_err(|e| io_err(path, "read", e))? {
            rec.offset = shift(rec.offset);
            log.after_bad_records += 1;
            log.max_lsn_seen = log.max_lsn_seen.max(rec.lsn);
            sink.record(&rec);
        }
        let stop = match r.stop_reason().cloned() {
            Some(StopReason::CleanEnd { offset }) => StopReason::CleanEnd {
                offset: shift(offset),
            },
            Some(StopReason::TornTail {
                offset,
                record_index,
                problem,
                torn_bytes,
            }) => StopReason::TornTail {
                offset: shift(offset),
                record_index,
                problem,
                torn_bytes,
            },
            Some(StopReason::Corrupt {
                offset,
                record_index,
                problem,
                next_valid_offset,
            }) => {
                let real = shift(offset);
                let n = next_valid_offset.map(shift);
                match n {
                    Some(n) if n > from => next = Some(n),
                    Some(_) => log.after_bad_unknown = true,
                    None => log.after_bad_unknown = true,
                }
                StopReason::Corrupt {
                    offset: real,
                    record_index,
                    problem,
                    next_valid_offset: n,
                }
            }
            Some(other @ StopReason::BadHeader { .. }) => other,
            None => StopReason::CleanEnd {
                offset: shift(r.position()),
            },
        };
        sink.stop(&stop);
    }
    Ok(())
}
