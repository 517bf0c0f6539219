//! The data-directory manifest: which files are live.
//!
//! A data directory holds `strata.manifest`, at most one base snapshot and one or more
//! incremental log files (Redis 7's multi-part AOF idea). Files not named by the manifest
//! are not part of the data set (leftovers of an interrupted rewrite).
//!
//! # Format (version 1)
//!
//! A small text file, so an operator can read it with `cat`. Lines end with `\n`, tokens
//! are separated by one space, and the lines come in exactly this order:
//!
//! ```text
//! strata-manifest 1
//! next-seq 5
//! base strata.3.base seq 3
//! incr strata.3.incr seq 3
//! incr strata.4.incr seq 4
//! crc32 7c1f0a9e
//! ```
//!
//! * `strata-manifest <version>`: magic and format version (1).
//! * `next-seq <n>`: the next unused file sequence number; greater than every `seq` below.
//! * `base <name> seq <n>`: optional, at most one: the base snapshot, loaded first.
//! * `incr <name> seq <n>`: one or more incremental logs, replayed in this order; their
//!   `seq`s strictly increase. The last one is the file being appended to. Each log's
//!   header repeats its `seq` (checked at recovery).
//! * `crc32 <8 lowercase hex digits>`: CRC-32 (IEEE) of every byte before this line.
//!
//! Sequence numbers are decimal `u64` without sign or leading zeros, `>= 1`. File names are
//! 1..=255 bytes of `[A-Za-z0-9._-]`, not `.`/`..`, unique. The decoder refuses files over
//! [`MAX_MANIFEST_LEN`] bytes and anything not exactly in this shape.
//!
//! # Atomic replacement
//!
//! [`Manifest::store`] writes `strata.manifest.tmp`, `fdatasync`s it, renames it over
//! `strata.manifest` and `fsync`s the directory. A crash leaves either the old or the new
//! manifest, never a mix (a stale `.tmp` file is ignored and overwritten next time).
//!
//! # Log rewrite (how the pieces are meant to move)
//!
//! 1. `let seq = m.allocate_seq()`; create `incr_file_name(seq)` with
//!    [`LogWriter::create`](super::log::LogWriter::create), `sync_dir`; `m.add_incr(seq)`;
//!    `m.store(..)`. New writes go to the new file; the old files are still live.
//! 2. Write the snapshot taken at that instant to `base_file_name(seq)`, sync it and the
//!    directory.
//! 3. `let history = m.install_base(seq)`; `m.store(..)`; only then remove the files in
//!    `history` and `sync_dir`.

use std::io;
use std::path::{Path, PathBuf};

use thiserror::Error;

use super::fs::Vfs;

/// Name of the manifest file inside a data directory.
pub const MANIFEST_NAME: &str = "strata.manifest";
/// Name of the temporary file used to replace the manifest atomically.
pub const MANIFEST_TMP_NAME: &str = "strata.manifest.tmp";
/// A live set being built (a log switched on at run time, or `dump.rdb` adopted as the
/// first base at startup) is described here, in the manifest's format, before any of its
/// files is created, and removed once `strata.manifest` names them: files it names that
/// the manifest does not are what an unfinished build left ([`clean_pending`]).
pub const PENDING_NAME: &str = "strata.pending";
/// Temp file of [`PENDING_NAME`]'s atomic replacement.
pub const PENDING_TMP_NAME: &str = "strata.pending.tmp";
/// Manifest format version written by this code.
pub const MANIFEST_VERSION: u32 = 1;
/// Largest manifest the decoder accepts (about 15,000 files).
pub const MAX_MANIFEST_LEN: u64 = 1 << 20;

/// File name of incremental log `seq`.
pub fn incr_file_name(seq: u64) -> String {
    format!("strata.{seq}.incr")
}

/// File name of base snapshot `seq`.
pub fn base_file_name(seq: u64) -> String {
    format!("strata.{seq}.base")
}

/// The sequence number in a name of [`incr_file_name`] or [`base_file_name`]'s form
/// (`None` for any other name).
pub fn file_seq(name: &str) -> Option<u64> {
    let rest = name.strip_prefix("strata.")?;
    let digits = rest
        .strip_suffix(".incr")
        .or_else(|| rest.strip_suffix(".base"))?;
    if digits.is_empty() || digits.len() > 19 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// One file named by the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// File name inside the data directory.
    pub name: String,
    /// Sequence number.
    pub seq: u64,
}

/// The live set of a data directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The base snapshot, loaded before the logs.
    pub base: Option<FileEntry>,
    /// Incremental logs in replay order (never empty in a valid manifest).
    pub incrs: Vec<FileEntry>,
    /// Next unused sequence number.
    pub next_seq: u64,
}

/// What is wrong with a manifest's content.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ManifestProblem {
    /// Larger than [`MAX_MANIFEST_LEN`].
    #[error("manifest is {len} bytes, more than the {MAX_MANIFEST_LEN}-byte limit")]
    TooLarge {
        /// Its length.
        len: u64,
    },
    /// No final `crc32` line (typically a truncated file).
    #[error("missing final crc32 line (file truncated?)")]
    MissingChecksum,
    /// Checksum mismatch.
    #[error("checksum mismatch (stored {stored:08x}, computed {computed:08x})")]
    ChecksumMismatch {
        /// Stored CRC.
        stored: u32,
        /// Computed CRC.
        computed: u32,
    },
    /// Written by an unknown format version.
    #[error("unsupported manifest version {found} (this build reads version {MANIFEST_VERSION}); use a matching Strata release")]
    UnsupportedVersion {
        /// Version found.
        found: u32,
    },
    /// A line that does not fit the grammar.
    #[error("line {line}: {reason}")]
    BadLine {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// No `incr` line.
    #[error("no incremental log file listed")]
    NoIncrFiles,
    /// Sequence numbers out of order, duplicated, or not below `next-seq`.
    #[error("bad sequence numbers: {0}")]
    BadSequence(String),
    /// An invalid or duplicate file name.
    #[error("bad file name {name:?}: {reason}")]
    BadName {
        /// The name.
        name: String,
        /// What is wrong.
        reason: &'static str,
    },
}

/// Errors loading or storing a manifest.
#[derive(Debug, Error)]
pub enum ManifestError {
    /// I/O error.
    #[error("I/O error during {op} on manifest {path}: {source}; check that the data directory is readable, writable and not full, then retry")]
    Io {
        /// File involved.
        path: PathBuf,
        /// What was being done.
        op: &'static str,
        /// The underlying error.
        source: io::Error,
    },
    /// The manifest file exists but is invalid.
    #[error("manifest {path} is invalid: {problem}; it is not edited by Strata except atomically, so this is disk corruption or a manual edit — restore it from a backup, or rebuild it with `verify-aof repair {}`", dir_of(.path))]
    Invalid {
        /// The manifest file.
        path: PathBuf,
        /// What is wrong.
        problem: ManifestProblem,
    },
}

fn dir_of(path: &Path) -> String {
    path.parent()
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

fn validate_name(name: &str) -> Result<(), ManifestProblem> {
    let bad = |reason| {
        Err(ManifestProblem::BadName {
            name: name.to_string(),
            reason,
        })
    };
    if name.is_empty() || name.len() > 255 {
        return bad("length must be 1..=255 bytes");
    }
    if name == "." || name == ".." {
        return bad("not a file name");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return bad("only [A-Za-z0-9._-] allowed");
    }
    if [
        MANIFEST_NAME,
        MANIFEST_TMP_NAME,
        PENDING_NAME,
        PENDING_TMP_NAME,
    ]
    .contains(&name)
    {
        return bad("reserved for the manifest");
    }
    Ok(())
}

fn parse_seq(s: &str, line: usize) -> Result<u64, ManifestProblem> {
    let bad = || ManifestProblem::BadLine {
        line,
        reason: format!("bad sequence number {s:?}"),
    };
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    if s.len() > 1 && s.starts_with('0') {
        return Err(bad());
    }
    match s.parse::<u64>() {
        Ok(0) | Err(_) => Err(bad()),
        Ok(v) => Ok(v),
    }
}

impl Manifest {
    /// The manifest of a new data directory: one empty log, `strata.1.incr`.
    pub fn initial() -> Manifest {
        Manifest {
            base: None,
            incrs: vec![FileEntry {
                name: incr_file_name(1),
                seq: 1,
            }],
            next_seq: 2,
        }
    }

    /// The file being appended to (the last incremental log).
    pub fn last_incr(&self) -> Option<&FileEntry> {
        self.incrs.last()
    }

    /// Names of all live files (base first, then logs in order).
    pub fn live_names(&self) -> impl Iterator<Item = &str> {
        self.base
            .iter()
            .chain(self.incrs.iter())
            .map(|e| e.name.as_str())
    }

    /// Takes the next sequence number.
    pub fn allocate_seq(&mut self) -> u64 {
        let s = self.next_seq;
        self.next_seq += 1;
        s
    }

    /// Appends incremental log `seq` (named [`incr_file_name`]) as the new last log.
    pub fn add_incr(&mut self, seq: u64) -> Result<FileEntry, ManifestProblem> {
        if self.incrs.last().is_some_and(|l| l.seq >= seq) {
            return Err(ManifestProblem::BadSequence(format!(
                "new log seq {seq} is not greater than the last log's"
            )));
        }
        let e = FileEntry {
            name: incr_file_name(seq),
            seq,
        };
        self.incrs.push(e.clone());
        self.next_seq = self.next_seq.max(seq + 1);
        Ok(e)
    }

    /// Installs base snapshot `seq` (named [`base_file_name`]) and drops the old base and
    /// every log with a smaller `seq` (their content is in the new base). Returns the
    /// dropped entries: delete those files only after [`store`](Self::store) returned.
    pub fn install_base(&mut self, seq: u64) -> Result<Vec<FileEntry>, ManifestProblem> {
        if !self.incrs.iter().any(|e| e.seq >= seq) {
            return Err(ManifestProblem::BadSequence(format!(
                "base seq {seq} would leave no incremental log to append to"
            )));
        }
        let mut dropped: Vec<FileEntry> = self.base.take().into_iter().collect();
        let (old, keep): (Vec<_>, Vec<_>) = self.incrs.drain(..).partition(|e| e.seq < seq);
        dropped.extend(old);
        self.incrs = keep;
        self.base = Some(FileEntry {
            name: base_file_name(seq),
            seq,
        });
        self.next_seq = self.next_seq.max(seq + 1);
        Ok(dropped)
    }

    /// Checks the invariants of the format.
    pub fn validate(&self) -> Result<(), ManifestProblem> {
        if self.incrs.is_empty() {
            return Err(ManifestProblem::NoIncrFiles);
        }
        let mut names = std::collections::BTreeSet::new();
        for e in self.base.iter().chain(self.incrs.iter()) {
            validate_name(&e.name)?;
            if !names.insert(e.name.as_str()) {
                return Err(ManifestProblem::BadName {
                    name: e.name.clone(),
                    reason: "listed twice",
                });
            }
            if e.seq == 0 || e.seq >= self.next_seq {
                return Err(ManifestProblem::BadSequence(format!(
                    "{} has seq {}, next-seq is {}",
                    e.name, e.seq, self.next_seq
                )));
            }
        }
        for w in self.incrs.windows(2) {
            if w[0].seq >= w[1].seq {
                return Err(ManifestProblem::BadSequence(format!(
                    "log seqs do not increase ({} then {})",
                    w[0].seq, w[1].seq
                )));
            }
        }
        Ok(())
    }

    /// Encodes the manifest (validating it first).
    pub fn encode(&self) -> Result<Vec<u8>, ManifestProblem> {
        self.validate()?;
        let mut s = format!(
            "strata-manifest {MANIFEST_VERSION}\nnext-seq {}\n",
            self.next_seq
        );
        if let Some(b) = &self.base {
            s.push_str(&format!("base {} seq {}\n", b.name, b.seq));
        }
        for e in &self.incrs {
            s.push_str(&format!("incr {} seq {}\n", e.name, e.seq));
        }
        let crc = crc32fast::hash(s.as_bytes());
        s.push_str(&format!("crc32 {crc:08x}\n"));
        Ok(s.into_bytes())
    }

    /// Decodes and validates a manifest.
    pub fn decode(bytes: &[u8]) -> Result<Manifest, ManifestProblem> {
        if bytes.len() as u64 > MAX_MANIFEST_LEN {
            return Err(ManifestProblem::TooLarge {
                len: bytes.len() as u64,
            });
        }
        // Checksum first: everything else is only trusted once it matches.
        let body_end = match bytes.strip_suffix(b"\n") {
            Some(without_nl) => without_nl
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1),
            None => return Err(ManifestProblem::MissingChecksum),
        };
        let crc_line = &bytes[body_end..bytes.len() - 1];
        let stored = crc_line
            .strip_prefix(b"crc32 ")
            .filter(|h| h.len() == 8 && h.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .ok_or(ManifestProblem::MissingChecksum)?;
        let body = &bytes[..body_end];
        let computed = crc32fast::hash(body);
        if stored != computed {
            return Err(ManifestProblem::ChecksumMismatch { stored, computed });
        }
        let text = std::str::from_utf8(body).map_err(|_| ManifestProblem::BadLine {
            line: 0,
            reason: "not UTF-8".into(),
        })?;
        let mut lines = text
            .split_terminator('\n')
            .enumerate()
            .map(|(i, l)| (i + 1, l));
        let bad = |line: usize, reason: &str| ManifestProblem::BadLine {
            line,
            reason: reason.to_string(),
        };

        let (n, first) = lines.next().ok_or_else(|| bad(1, "empty manifest"))?;
        let version = first
            .strip_prefix("strata-manifest ")
            .ok_or_else(|| bad(n, "expected `strata-manifest <version>`"))?;
        if version.is_empty() || version.len() > 9 || !version.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad(n, "bad version number"));
        }
        let found: u32 = version.parse().map_err(|_| bad(n, "bad version number"))?;
        if found != MANIFEST_VERSION {
            return Err(ManifestProblem::UnsupportedVersion { found });
        }

        let (n, second) = lines
            .next()
            .ok_or_else(|| bad(2, "expected `next-seq <n>`"))?;
        let next_seq = parse_seq(
            second
                .strip_prefix("next-seq ")
                .ok_or_else(|| bad(n, "expected `next-seq <n>`"))?,
            n,
        )?;

        let mut m = Manifest {
            base: None,
            incrs: Vec::new(),
            next_seq,
        };
        for (n, line) in lines {
            let parts: Vec<&str> = line.split(' ').collect();
            let [kind, name, "seq", seq] = parts[..] else {
                return Err(bad(n, "expected `base|incr <name> seq <n>`"));
            };
            let entry = FileEntry {
                name: name.to_string(),
                seq: parse_seq(seq, n)?,
            };
            validate_name(name)?;
            match kind {
                "base" if m.base.is_none() && m.incrs.is_empty() => m.base = Some(entry),
                "base" => return Err(bad(n, "`base` must come once, before the `incr` lines")),
                "incr" => m.incrs.push(entry),
                _ => return Err(bad(n, "expected `base` or `incr`")),
            }
        }
        m.validate()?;
        Ok(m)
    }

    /// Reads `<dir>/strata.manifest`; `Ok(None)` if it does not exist.
    pub fn load(vfs: &dyn Vfs, dir: &Path) -> Result<Option<Manifest>, ManifestError> {
        Self::load_named(vfs, dir, MANIFEST_NAME)
    }

    /// Reads `<dir>/strata.pending` (see [`PENDING_NAME`]); `Ok(None)` if it does not exist.
    pub fn load_pending(vfs: &dyn Vfs, dir: &Path) -> Result<Option<Manifest>, ManifestError> {
        Self::load_named(vfs, dir, PENDING_NAME)
    }

    fn load_named(
        vfs: &dyn Vfs,
        dir: &Path,
        name: &str,
    ) -> Result<Option<Manifest>, ManifestError> {
        let path = dir.join(name);
        let bytes = match vfs.read_all(&path, MAX_MANIFEST_LEN) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                let len = vfs.file_len(&path).unwrap_or(MAX_MANIFEST_LEN + 1);
                return Err(ManifestError::Invalid {
                    path,
                    problem: ManifestProblem::TooLarge { len },
                });
            }
            Err(source) => {
                return Err(ManifestError::Io {
                    path,
                    op: "read",
                    source,
                })
            }
        };
        Manifest::decode(&bytes)
            .map(Some)
            .map_err(|problem| ManifestError::Invalid { path, problem })
    }

    /// Atomically replaces `<dir>/strata.manifest` (temp file, fdatasync, rename, fsync of
    /// the directory). When this returns `Ok`, the new manifest is durable.
    pub fn store(&self, vfs: &dyn Vfs, dir: &Path) -> Result<(), ManifestError> {
        self.store_named(vfs, dir, MANIFEST_NAME, MANIFEST_TMP_NAME)
    }

    /// Durably records this live set as being built (`<dir>/strata.pending`, replaced
    /// atomically like the manifest): store it before creating any file it names.
    pub fn store_pending(&self, vfs: &dyn Vfs, dir: &Path) -> Result<(), ManifestError> {
        self.store_named(vfs, dir, PENDING_NAME, PENDING_TMP_NAME)
    }

    fn store_named(
        &self,
        vfs: &dyn Vfs,
        dir: &Path,
        name: &str,
        tmp: &str,
    ) -> Result<(), ManifestError> {
        let path = dir.join(name);
        let bytes = self.encode().map_err(|problem| ManifestError::Invalid {
            path: path.clone(),
            problem,
        })?;
        let tmp = dir.join(tmp);
        super::fs::replace_file(vfs, &path, &tmp, &bytes)
            .map_err(|(op, path, source)| ManifestError::Io { path, op, source })
    }
}

/// Finish what an interrupted build of a live set left (see [`PENDING_NAME`]): delete the
/// files `strata.pending` names that `strata.manifest` does not (they were never
/// authoritative), then `strata.pending` itself, and fsync the directory. Once the
/// manifest names the set, this deletes only the pending file. Returns the names deleted.
pub fn clean_pending(vfs: &dyn Vfs, dir: &Path) -> Result<Vec<String>, ManifestError> {
    let Some(pending) = Manifest::load_pending(vfs, dir)? else {
        return Ok(Vec::new());
    };
    let live = Manifest::load(vfs, dir)?;
    let io = |op: &'static str, path: PathBuf| move |source| ManifestError::Io { path, op, source };
    let mut removed = Vec::new();
    for name in pending.live_names() {
        if live
            .as_ref()
            .is_some_and(|m| m.live_names().any(|n| n == name))
        {
            continue;
        }
        let path = dir.join(name);
        match vfs.remove_file(&path) {
            Ok(()) => removed.push(name.to_string()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io("remove", path)(e)),
        }
    }
    vfs.sync_dir(dir)
        .map_err(io("fsync directory", dir.to_path_buf()))?;
    let path = dir.join(PENDING_NAME);
    vfs.remove_file(&path).map_err(io("remove", path))?;
    vfs.sync_dir(dir)
        .map_err(io("fsync directory", dir.to_path_buf()))?;
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persistence::fs::SimFs;

    fn sample() -> Manifest {
        Manifest {
            base: Some(FileEntry {
                name: base_file_name(3),
                seq: 3,
            }),
            incrs: vec![
                FileEntry {
                    name: incr_file_name(3),
                    seq: 3,
                },
                FileEntry {
                    name: incr_file_name(4),
                    seq: 4,
                },
            ],
            next_seq: 5,
        }
    }

    #[test]
    fn file_seq_reads_only_log_and_base_names() {
        assert_eq!(file_seq(&incr_file_name(7)), Some(7));
        assert_eq!(file_seq(&base_file_name(12)), Some(12));
        for other in [
            "strata.manifest",
            "strata..incr",
            "strata.x1.base",
            "strata.1.incr.tmp",
            "dump.rdb",
            "strata.99999999999999999999.incr",
        ] {
            assert_eq!(file_seq(other), None, "{other}");
        }
    }

    #[test]
    fn encoding_is_the_documented_text() {
        let bytes = sample().encode().unwrap();
        let text = std::str::from_utf8(&bytes).unwrap();
        let body = "strata-manifest 1\nnext-seq 5\nbase strata.3.base seq 3\n\
                    incr strata.3.incr seq 3\nincr strata.4.incr seq 4\n";
        assert_eq!(
            text,
            format!("{body}crc32 {:08x}\n", crc32fast::hash(body.as_bytes()))
        );
        assert_eq!(Manifest::decode(&bytes).unwrap(), sample());
        assert_eq!(
            Manifest::decode(&Manifest::initial().encode().unwrap()).unwrap(),
            Manifest::initial()
        );
    }

    fn with_crc(body: &str) -> Vec<u8> {
        format!("{body}crc32 {:08x}\n", crc32fast::hash(body.as_bytes())).into_bytes()
    }

    #[test]
    fn decode_rejections() {
        let good = sample().encode().unwrap();
        assert_eq!(
            Manifest::decode(&good[..good.len() - 1]),
            Err(ManifestProblem::MissingChecksum)
        );
        assert_eq!(
            Manifest::decode(&good[..good.len() - 10]),
            Err(ManifestProblem::MissingChecksum)
        );
        assert_eq!(Manifest::decode(b""), Err(ManifestProblem::MissingChecksum));
        let mut flipped = good.clone();
        flipped[20] ^= 1;
        assert!(matches!(
            Manifest::decode(&flipped),
            Err(ManifestProblem::ChecksumMismatch { .. })
        ));
        assert_eq!(
            Manifest::decode(&vec![b'a'; MAX_MANIFEST_LEN as usize + 1]),
            Err(ManifestProblem::TooLarge {
                len: MAX_MANIFEST_LEN + 1
            })
        );
        assert_eq!(
            Manifest::decode(&with_crc(
                "strata-manifest 2\nnext-seq 2\nincr strata.1.incr seq 1\n"
            )),
            Err(ManifestProblem::UnsupportedVersion { found: 2 })
        );
        assert_eq!(
            Manifest::decode(&with_crc("strata-manifest 1\nnext-seq 2\n")),
            Err(ManifestProblem::NoIncrFiles)
        );
        assert!(matches!(
            Manifest::decode(&with_crc(
                "strata-manifest 1\nnext-seq 2\nincr ../etc/passwd seq 1\n"
            )),
            Err(ManifestProblem::BadName { .. })
        ));
        assert!(matches!(
            Manifest::decode(&with_crc("strata-manifest 1\nnext-seq 2\nincr a seq 01\n")),
            Err(ManifestProblem::BadLine { line: 3, .. })
        ));
        assert!(matches!(
            Manifest::decode(&with_crc(
                "strata-manifest 1\nnext-seq 3\nincr a seq 2\nincr b seq 1\n"
            )),
            Err(ManifestProblem::BadSequence(_))
        ));
        assert!(matches!(
            Manifest::decode(&with_crc("strata-manifest 1\nnext-seq 2\nincr a seq 2\n")),
            Err(ManifestProblem::BadSequence(_))
        ));
        assert!(matches!(
            Manifest::decode(&with_crc(
                "strata-manifest 1\nnext-seq 3\nincr a seq 1\nbase b seq 2\n"
            )),
            Err(ManifestProblem::BadLine { line: 4, .. })
        ));
        assert!(matches!(
            Manifest::decode(&with_crc(
                "strata-manifest 1\nnext-seq 3\nincr a seq 1\nincr a seq 2\n"
            )),
            Err(ManifestProblem::BadName {
                reason: "listed twice",
                ..
            })
        ));
        assert!(matches!(
            Manifest::decode(&with_crc("strata-manifest 1\nnext-seq 3\nincr  a seq 1\n")),
            Err(ManifestProblem::BadLine { line: 3, .. })
        ));
    }

    #[test]
    fn rewrite_helpers() {
        let mut m = Manifest::initial();
        let seq = m.allocate_seq();
        assert_eq!(seq, 2);
        m.add_incr(seq).unwrap();
        assert_eq!(m.last_incr().unwrap().name, "strata.2.incr");
        let dropped = m.install_base(seq).unwrap();
        assert_eq!(
            dropped,
            vec![FileEntry {
                name: "strata.1.incr".into(),
                seq: 1
            }]
        );
        assert_eq!(m.base.as_ref().unwrap().name, "strata.2.base");
        assert_eq!(
            m.live_names().collect::<Vec<_>>(),
            vec!["strata.2.base", "strata.2.incr"]
        );
        assert!(m.install_base(9).is_err());
        assert!(m.add_incr(2).is_err());
        m.validate().unwrap();
    }

    #[test]
    fn store_is_atomic_and_durable() {
        let fs = SimFs::new(9);
        let dir = Path::new("/data");
        fs.put_file(&dir.join("x"), b"");
        Manifest::initial().store(&fs, dir).unwrap();
        fs.crash();
        assert_eq!(Manifest::load(&fs, dir).unwrap(), Some(Manifest::initial()));
        // Crash at every operation of a replacement: old or new, never anything else.
        let new = sample();
        for k in 0..10 {
            fs.crash_at(fs.op_count() + k);
            let _ = new.store(&fs, dir);
            fs.crash();
            let got = Manifest::load(&fs, dir).unwrap().unwrap();
            assert!(got == Manifest::initial() || got == new, "{got:?}");
            Manifest::initial().store(&fs, dir).unwrap();
        }
        assert_eq!(Manifest::load(&fs, Path::new("/nope")).unwrap(), None);
    }
}
