//! `verify-aof dump DIR [--key PATTERN] [--from OFFSET] [--to OFFSET] [--file NAME]`.
//!
//! Prints records as redis-cli commands. Every record is preceded by a comment line
//! `# FILE @OFFSET lsn=N db=D`; `SELECT` lines are emitted when the database changes and a
//! transaction record is expanded into `MULTI`, its commands, `EXEC`; so the output minus
//! its comment lines replays the log into a server through redis-cli. Damage is printed as
//! `# !!` comments, and after a corrupt record the dump resumes at the next valid record
//! the library's reader found (that data is *not* replayed by the server: it is shown to
//! help decide what a repair would lose).

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use strata::persistence::{
    LogReader, Manifest, ManifestError, Record, StopReason, Vfs, MANIFEST_NAME,
};

use crate::rofs::ReadOnlyFs;
use crate::scan::{count_after, AfterSink, LogReport};
use crate::txn::{self, Commands};

pub struct Options {
    pub dir: PathBuf,
    pub key: Option<String>,
    pub from: Option<u64>,
    pub to: Option<u64>,
    pub file: Option<String>,
}

/// Quotes an argument the way redis-cli reads it back: bare when it is plain printable
/// ASCII, otherwise as Redis quotes it (`strata::util::quote`).
pub fn quote(a: &[u8]) -> String {
    let plain = !a.is_empty()
        && a.iter()
            .all(|&b| b.is_ascii_graphic() && !matches!(b, b'"' | b'\'' | b'\\'));
    if plain {
        return String::from_utf8_lossy(a).into_owned();
    }
    let mut s = String::with_capacity(a.len() + 2);
    strata::util::quote(&mut s, a);
    s
}

fn command_line(args: &[bytes::Bytes]) -> String {
    args.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" ")
}

struct Printer<'a> {
    out: io::BufWriter<io::StdoutLock<'a>>,
    file: String,
    db: u64,
    key: Option<Vec<u8>>,
    from: u64,
    to: u64,
    shown: u64,
    err: Option<io::Error>,
}

impl Printer<'_> {
    fn line(&mut self, s: &str) {
        if self.err.is_none() {
            if let Err(e) = writeln!(self.out, "{s}") {
                self.err = Some(e);
            }
        }
    }

    fn select(&mut self, db: u64) {
        if db != self.db {
            self.db = db;
            self.line(&format!("SELECT {db}"));
        }
    }

    fn print(&mut self, rec: &Record) {
        if rec.offset < self.from || rec.offset >= self.to {
            return;
        }
        let cmds = match txn::commands(rec) {
            Ok(c) => c,
            Err(e) => {
                self.line(&format!(
                    "# !! {} @{} lsn={} db={}: {e}; raw arguments: {}",
                    self.file,
                    rec.offset,
                    rec.lsn,
                    rec.db,
                    command_line(&rec.args)
                ));
                return;
            }
        };
        if let Some(p) = &self.key {
            if !cmds.iter().any(|c| txn::matches_key(c.args, p)) {
                return;
            }
        }
        self.shown += 1;
        match cmds {
            Commands::Single(c) => {
                self.line(&format!(
                    "# {} @{} lsn={} db={}",
                    self.file, rec.offset, rec.lsn, rec.db
                ));
                self.select(c.db);
                self.line(&command_line(c.args));
            }
            Commands::Txn(cs) => {
                self.line(&format!(
                    "# {} @{} lsn={} db={} transaction of {} command{}",
                    self.file,
                    rec.offset,
                    rec.lsn,
                    rec.db,
                    cs.len(),
                    if cs.len() == 1 { "" } else { "s" }
                ));
                self.select(u64::from(rec.db));
                self.line("MULTI");
                for c in &cs {
                    self.select(c.db);
                    self.line(&command_line(c.args));
                }
                self.line("EXEC");
            }
        }
    }

    fn stop(&mut self, stop: &StopReason, resumed: bool) {
        let f = self.file.clone();
        let what = if resumed {
            " (in the data after the corrupt record)"
        } else {
            ""
        };
        match stop {
            StopReason::CleanEnd { .. } => {}
            StopReason::TornTail {
                offset,
                record_index,
                problem,
                torn_bytes,
            } => self.line(&format!(
                "# !! {f} @{offset} record #{record_index}: torn tail{what}: {problem}; \
                 {torn_bytes} bytes"
            )),
            StopReason::Corrupt {
                offset,
                record_index,
                problem,
                next_valid_offset,
            } => {
                let next = match next_valid_offset {
                    Some(n) => format!(
                        "resuming at the next valid record @{n}; the server does not replay \
                         what follows"
                    ),
                    None => "no valid record could be found after it".to_string(),
                };
                self.line(&format!(
                    "# !! {f} @{offset} record #{record_index}: corrupt{what}: {problem}; {next}"
                ));
            }
            StopReason::BadHeader { problem } => {
                self.line(&format!("# !! {f}: bad header: {problem}"))
            }
        }
    }
}

struct Resumed<'p, 'a>(&'p mut Printer<'a>);

impl AfterSink for Resumed<'_, '_> {
    fn record(&mut self, rec: &Record) {
        self.0.print(rec);
    }

    fn stop(&mut self, at: &StopReason) {
        self.0.stop(at, true);
    }
}

fn is_broken_pipe(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::BrokenPipe
}

pub fn run(o: &Options) -> u8 {
    match dump(o) {
        Ok(()) => crate::exit::OK,
        Err(e) => {
            eprintln!("verify-aof dump: {e}");
            crate::exit::IO
        }
    }
}

fn dump(o: &Options) -> Result<(), String> {
    let fs = ReadOnlyFs;
    let dir = &o.dir;
    let files: Vec<(String, u64)> = match &o.file {
        Some(name) => {
            if name.contains('/') || name == "." || name == ".." {
                return Err(format!("--file takes a file name inside {}", dir.display()));
            }
            vec![(name.clone(), 0)]
        }
        None => match Manifest::load(&fs, dir) {
            Ok(Some(m)) => {
                if let Some(b) = &m.base {
                    let what = match crate::base::check_base(&fs, dir, &b.name).outcome {
                        crate::base::BaseOutcome::Verified {
                            keys_per_db, lsn, ..
                        } => format!("{} keys up to LSN {lsn}", keys_per_db.values().sum::<u64>()),
                        crate::base::BaseOutcome::Missing => "!! missing".to_string(),
                        crate::base::BaseOutcome::Corrupt { detail, .. } => {
                            format!("!! corrupt: {detail}")
                        }
                        crate::base::BaseOutcome::Unreadable { detail } => {
                            format!("!! unreadable: {detail}")
                        }
                    };
                    println!(
                        "# base snapshot {} ({what}): its entries are not printed; the log \
                         records below continue from its state",
                        b.name
                    );
                }
                m.incrs.iter().map(|e| (e.name.clone(), e.seq)).collect()
            }
            Ok(None) => {
                return Err(format!(
                    "{} has no {MANIFEST_NAME}; use --file NAME to dump one log file",
                    dir.display()
                ))
            }
            Err(e @ ManifestError::Invalid { .. }) => {
                return Err(format!("{e}\n(use --file NAME to dump one log file)"))
            }
            Err(e) => return Err(e.to_string()),
        },
    };
    let stdout = io::stdout();
    let mut p = Printer {
        out: io::BufWriter::new(stdout.lock()),
        file: String::new(),
        db: 0,
        key: o.key.as_ref().map(|k| k.as_bytes().to_vec()),
        from: o.from.unwrap_or(0),
        to: o.to.unwrap_or(u64::MAX),
        shown: 0,
        err: None,
    };
    for (name, seq) in files {
        p.file = name.clone();
        dump_file(&fs, dir, &name, seq, &mut p)?;
        if let Some(e) = &p.err {
            if is_broken_pipe(e) {
                return Ok(());
            }
            return Err(format!("write to standard output: {e}"));
        }
    }
    let shown = p.shown;
    p.line(&format!(
        "# {shown} record{} shown",
        if shown == 1 { "" } else { "s" }
    ));
    match p.out.flush() {
        Err(e) if !is_broken_pipe(&e) => Err(format!("write to standard output: {e}")),
        _ => Ok(()),
    }
}

fn dump_file(
    fs: &dyn Vfs,
    dir: &Path,
    name: &str,
    seq: u64,
    p: &mut Printer<'_>,
) -> Result<(), String> {
    let path = dir.join(name);
    let file = match fs.open_read(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            p.line(&format!(
                "# !! {name}: named by the manifest but missing (lost data)"
            ));
            return Ok(());
        }
        Err(e) => return Err(format!("open {}: {e}", path.display())),
    };
    let io_err = |e: io::Error| format!("read {}: {e}", path.display());
    let mut r =
        LogReader::new(file.clone(), strata::persistence::Limits::default()).map_err(io_err)?;
    let seq = r.header().map_or(seq, |h| h.file_seq);
    while let Some(rec) = r.next_record().map_err(io_err)? {
        if rec.offset >= p.to {
            return Ok(());
        }
        p.print(&rec);
        if p.err.is_some() {
            return Ok(());
        }
    }
    let stop = r.stop_reason().cloned().unwrap_or(StopReason::CleanEnd {
        offset: r.position(),
    });
    p.stop(&stop, false);
    if let StopReason::Corrupt {
        next_valid_offset, ..
    } = stop
    {
        let mut log = LogReport {
            name: name.to_string(),
            seq,
            ..LogReport::default()
        };
        count_after(&file, &path, &mut log, next_valid_offset, &mut Resumed(p))
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn quoting_matches_redis_cli() {
        assert_eq!(quote(b"SET"), "SET");
        assert_eq!(quote(b"user:1"), "user:1");
        assert_eq!(quote(b""), "\"\"");
        assert_eq!(quote(b"a b"), "\"a b\"");
        assert_eq!(quote(b"x\"y\\"), "\"x\\\"y\\\\\"");
        assert_eq!(quote(b"it's"), "\"it's\"");
        assert_eq!(quote(b"\x00\xff\n"), "\"\\x00\\xff\\n\"");
    }
}
