//! `verify-aof repair DIR [--yes] [--truncate-to-last-good]`.
//!
//! The plan is derived from the [`crate::scan`] report: the *first* problem in history
//! order (base, then the logs in manifest order) is where the good prefix of the data set
//! ends. Only one kind of damage is repaired by default — a torn tail of the last log,
//! whose cut loses no complete record. Anything else needs `--truncate-to-last-good`,
//! which cuts at the first problem and drops every later log from the manifest; the number
//! of complete records that would be lost is printed first. Damage outside the logs (the
//! manifest, the base snapshot) and a first log that is unusable as a whole are refused.
//!
//! Safety: the cut bytes are copied to `<log>.torn-<unix time>` and fsynced (with the
//! directory) *before* the log is truncated; the truncation is fdatasynced; a new manifest
//! is stored atomically by the library (temp file, fsync, rename, fsync dir) before dropped
//! logs are renamed to `<log>.dropped-<unix time>` (never deleted).

use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use strata::persistence::{Manifest, RealFs, Vfs, VfsFile};

use crate::scan::{scan, DirReport, Kind, LogReport};

/// What a repair would do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// No problem.
    Nothing,
    /// Repair cannot fix this without guessing.
    Refuse(String),
    /// Cut the history at the first problem.
    Cut(Cut),
}

/// A cut of the history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cut {
    /// The log to truncate (or the log that becomes the last, when whole files go).
    pub name: String,
    /// Truncate `name` to this length; `None` when `name` stays untouched and only later
    /// files are dropped.
    pub truncate_to: Option<u64>,
    /// Display offset of the cut.
    pub offset: u64,
    /// Logs removed from the manifest (renamed, not deleted).
    pub drop: Vec<String>,
    /// Only a torn tail of the last log: no complete record is lost.
    pub torn_only: bool,
    /// Complete records lost in the truncated file and in dropped files.
    pub lost_in_file: u64,
    pub lost_later: u64,
    pub lost_records: u64,
    /// Some of the lost data could not be counted (missing or unreadable file, abandoned
    /// search after corruption).
    pub lost_unknown: bool,
    /// The kind of the first problem.
    pub kind: Kind,
}

fn file_kinds(r: &DirReport, log: &LogReport) -> Vec<Kind> {
    r.problems
        .iter()
        .filter(|p| p.file == log.name)
        .map(|p| p.kind)
        .collect()
}

/// Derives the repair plan from a report.
pub fn plan(r: &DirReport) -> Plan {
    if r.problems.is_empty() {
        return Plan::Nothing;
    }
    let Some(m) = &r.manifest else {
        return Plan::Refuse(
            "the manifest is missing or invalid; repair does not rebuild it (which files are \
             live cannot be known for sure) — restore strata.manifest from a backup"
                .into(),
        );
    };
    if let Some(b) = &m.base {
        if let Some(p) = r.problems.iter().find(|p| p.file == b.name) {
            return Plan::Refuse(format!(
                "the base snapshot {} is {} and every log continues from it — restore it from \
                 a backup",
                b.name,
                p.kind.name()
            ));
        }
    }
    let Some(idx) = r
        .logs
        .iter()
        .position(|l| r.problems.iter().any(|p| p.file == l.name))
    else {
        return Plan::Refuse("problems outside the logs; see the report".into());
    };
    let log = &r.logs[idx];
    let kinds = file_kinds(r, log);
    let later = &r.logs[idx + 1..];
    let later_lost: u64 = later.iter().map(|l| l.records + l.after_bad_records).sum();
    let later_unknown = later
        .iter()
        .any(|l| !l.exists || l.after_bad_unknown || l.header.is_none());
    let whole_file = kinds
        .iter()
        .any(|k| matches!(k, Kind::MissingFile | Kind::BadHeader | Kind::WrongFile));
    if whole_file {
        if idx == 0 {
            return Plan::Refuse(format!(
                "the first log {} is {}: there is no good prefix to keep — restore it from a \
                 backup",
                log.name,
                kinds
                    .iter()
                    .map(|k| k.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let prev = &r.logs[idx - 1];
        let in_file = log.records + log.after_bad_records;
        return Plan::Cut(Cut {
            name: prev.name.clone(),
            truncate_to: None,
            offset: prev.valid_end,
            drop: r.logs[idx..].iter().map(|l| l.name.clone()).collect(),
            torn_only: false,
            lost_in_file: in_file,
            lost_later: later_lost,
            lost_records: in_file + later_lost,
            lost_unknown: !log.exists
                || log.header.is_none()
                || log.after_bad_unknown
                || later_unknown,
            kind: kinds[0],
        });
    }
    let torn_only = kinds == [Kind::TornTail] && later.is_empty() && log.after_bad_records == 0;
    Plan::Cut(Cut {
        name: log.name.clone(),
        truncate_to: Some(log.valid_end),
        offset: log.valid_end,
        drop: later.iter().map(|l| l.name.clone()).collect(),
        torn_only,
        lost_in_file: log.after_bad_records,
        lost_later: later_lost,
        lost_records: log.after_bad_records + later_lost,
        lost_unknown: log.after_bad_unknown || later_unknown,
        kind: kinds[0],
    })
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A name in `dir` that does not exist yet: `base`, else `base.1`, `base.2`, ...
fn fresh_name(dir: &Path, base: &str) -> PathBuf {
    let mut p = dir.join(base);
    let mut n = 1;
    while p.exists() {
        p = dir.join(format!("{base}.{n}"));
        n += 1;
    }
    p
}

/// One past the last non-zero byte in `[from, len)` (or `from`).
fn nonzero_end(f: &Arc<dyn VfsFile>, from: u64, len: u64) -> io::Result<u64> {
    let mut end = len;
    let mut buf = vec![0u8; 1 << 16];
    while end > from {
        let start = end.saturating_sub(buf.len() as u64).max(from);
        let n = (end - start) as usize;
        f.read_exact_at(&mut buf[..n], start)?;
        if let Some(i) = buf[..n].iter().rposition(|&b| b != 0) {
            return Ok(start + i as u64 + 1);
        }
        end = start;
    }
    Ok(from)
}

fn describe(c: &Cut, dir: &Path) -> String {
    let mut s = String::new();
    match c.truncate_to {
        Some(off) => s.push_str(&format!(
            "truncate {} at offset {off} ({}: first problem here)",
            dir.join(&c.name).display(),
            c.kind.name()
        )),
        None => s.push_str(&format!(
            "keep {} whole as the new last log ({} in the next log)",
            dir.join(&c.name).display(),
            c.kind.name()
        )),
    }
    if !c.drop.is_empty() {
        s.push_str(&format!(
            "; remove {} from the manifest (renamed to <name>.dropped-<time>, not deleted)",
            c.drop.join(", ")
        ));
    }
    s
}

fn lost_text(c: &Cut) -> String {
    let more = if c.lost_unknown {
        " (or more: some of the cut data could not be counted)"
    } else {
        ""
    };
    format!(
        "{} complete record{} would be lost{more}, besides the damaged data itself: {} in {} \
         after offset {}, {} in later logs",
        c.lost_records,
        if c.lost_records == 1 { "" } else { "s" },
        c.lost_in_file,
        if c.truncate_to.is_some() {
            c.name.as_str()
        } else {
            "dropped logs"
        },
        c.offset,
        c.lost_later
    )
}

fn confirm(question: &str) -> bool {
    eprint!("{question} [y/N] ");
    let _ = io::stderr().flush();
    let mut line = String::new();
    match io::stdin().lock().read_line(&mut line) {
        Ok(0) | Err(_) => {
            eprintln!();
            false
        }
        Ok(_) => matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes"),
    }
}

pub fn run(dir: &Path, yes: bool, to_last_good: bool) -> u8 {
    let report = match scan(dir) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("verify-aof repair: {e}");
            return crate::exit::IO;
        }
    };
    for p in &report.problems {
        let mut at = p.file.clone();
        if let Some(o) = p.offset {
            at.push_str(&format!(" offset {o}"));
        }
        if let Some(i) = p.record {
            at.push_str(&format!(" record #{i}"));
        }
        println!("problem: [{}] {at}: {}", p.kind.name(), p.detail);
    }
    let cut = match plan(&report) {
        Plan::Nothing => {
            println!(
                "{}: intact ({} records), nothing to repair",
                dir.display(),
                report.records()
            );
            return crate::exit::OK;
        }
        Plan::Refuse(why) => {
            println!("refusing to repair: {why}");
            return crate::exit::CORRUPT;
        }
        Plan::Cut(c) => c,
    };
    println!("plan: {}", describe(&cut, dir));
    if cut.torn_only {
        println!(
            "this is a torn tail of the last log: no complete record is lost (the cut bytes \
             are kept in a backup)"
        );
    } else {
        println!("{}", lost_text(&cut));
        if !to_last_good {
            println!(
                "refusing to repair: this is not a torn tail of the last log but damage in the \
                 middle of the history; restoring the damaged file from a backup loses \
                 nothing. To cut here anyway, rerun with --truncate-to-last-good"
            );
            return crate::exit::CORRUPT;
        }
    }
    if !yes && !confirm("Proceed?") {
        println!("not confirmed: nothing was changed");
        return crate::exit::NOT_CONFIRMED;
    }
    match execute(dir, &report, &cut) {
        Ok(()) => {}
        Err(e) => {
            eprintln!("verify-aof repair: {e}");
            return crate::exit::IO;
        }
    }
    match scan(dir) {
        Ok(after) => {
            let v = after.verdict();
            println!(
                "after repair: {} ({} record{}, last LSN {})",
                v.name(),
                after.records(),
                if after.records() == 1 { "" } else { "s" },
                after.last_lsn()
            );
            if v == crate::scan::Verdict::Intact {
                crate::exit::OK
            } else {
                println!(
                    "the directory still has problems: run `verify-aof check {}`",
                    dir.display()
                );
                crate::exit::CORRUPT
            }
        }
        Err(e) => {
            eprintln!("verify-aof repair: re-reading after the repair failed: {e}");
            crate::exit::IO
        }
    }
}

fn io_ctx(what: String) -> impl FnOnce(io::Error) -> String {
    move |e| format!("{what}: {e}")
}

fn execute(dir: &Path, report: &DirReport, cut: &Cut) -> Result<(), String> {
    let fs = RealFs;
    let now = unix_now();
    if let Some(off) = cut.truncate_to {
        let path = dir.join(&cut.name);
        let f = fs
            .open_write(&path)
            .map_err(io_ctx(format!("open {} for writing", path.display())))?;
        let len = f
            .len()
            .map_err(io_ctx(format!("stat {}", path.display())))?;
        let end = nonzero_end(&f, off, len).map_err(io_ctx(format!("read {}", path.display())))?;
        let backup = fresh_name(dir, &format!("{}.torn-{now}", cut.name));
        let b = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&backup)
            .map_err(io_ctx(format!("create backup {}", backup.display())))?;
        let mut pos = off;
        let mut buf = vec![0u8; 1 << 20];
        let mut w = io::BufWriter::new(b);
        while pos < end {
            let n = (end - pos).min(buf.len() as u64) as usize;
            f.read_exact_at(&mut buf[..n], pos)
                .map_err(io_ctx(format!("read {}", path.display())))?;
            w.write_all(&buf[..n])
                .map_err(io_ctx(format!("write backup {}", backup.display())))?;
            pos += n as u64;
        }
        let b = w
            .into_inner()
            .map_err(|e| format!("write backup {}: {}", backup.display(), e.error()))?;
        b.sync_all()
            .map_err(io_ctx(format!("fsync backup {}", backup.display())))?;
        fs.sync_dir(dir)
            .map_err(io_ctx(format!("fsync directory {}", dir.display())))?;
        println!(
            "saved the {} bytes at offsets {off}..{end} of {} to {} (the file was {len} bytes; \
             bytes after {end} were zero)",
            end - off,
            cut.name,
            backup.display()
        );
        f.set_len(off)
            .map_err(io_ctx(format!("truncate {}", path.display())))?;
        f.sync_data()
            .map_err(io_ctx(format!("fdatasync {}", path.display())))?;
        println!("truncated {} to {off} bytes and fsynced it", path.display());
    }
    if !cut.drop.is_empty() {
        let m = report
            .manifest
            .as_ref()
            .ok_or_else(|| "no manifest to update".to_string())?;
        let mut nm: Manifest = m.clone();
        nm.incrs.retain(|e| !cut.drop.contains(&e.name));
        nm.store(&fs, dir).map_err(|e| e.to_string())?;
        println!(
            "stored a new manifest without {} (atomically: temp file, fsync, rename, fsync dir)",
            cut.drop.join(", ")
        );
        for name in &cut.drop {
            let from = dir.join(name);
            if !from.exists() {
                continue;
            }
            let to = fresh_name(dir, &format!("{name}.dropped-{now}"));
            fs.rename(&from, &to)
                .map_err(io_ctx(format!("rename {}", from.display())))?;
            println!("renamed {} to {}", from.display(), to.display());
        }
        fs.sync_dir(dir)
            .map_err(io_ctx(format!("fsync directory {}", dir.display())))?;
    }
    Ok(())
}
