//! The base snapshot check.
//!
//! This is the one place that validates a base snapshot (`strata.N.base`): [`check_base`]
//! returns a [`BaseReport`] that `check` prints, `repair` refuses on and the JSON report
//! carries.
//!
//! The snapshot is read with the library's streaming [`SnapshotReader`]: header, every
//! chunk (frame, CRC, LZ4 block, entry parts, split values), the trailer's counts and
//! checksum chain, and that nothing follows the trailer. There is no torn tail for a
//! snapshot (it is complete and synced before the manifest names it), so any damage is
//! corruption.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::sync::Arc;

use strata::persistence::{SnapshotLimits, SnapshotReader, SnapshotStop, Vfs, VfsFile};

/// What the check found in the base snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaseOutcome {
    /// Read to the end; every chunk and the trailer checked.
    Verified {
        /// Keys per database.
        keys_per_db: BTreeMap<u64, u64>,
        /// The snapshot holds every record up to this LSN; the logs continue after it.
        lsn: u64,
        /// Chunks in the file.
        chunks: u64,
        /// Function libraries it holds.
        libraries: u64,
    },
    /// Named by the manifest, not on disk.
    Missing,
    /// Damaged: loading it would fail.
    Corrupt {
        /// Byte offset of the damage.
        offset: u64,
        /// What is wrong.
        detail: String,
    },
    /// It could not be read (permissions, I/O error).
    Unreadable {
        /// The error.
        detail: String,
    },
}

/// The base snapshot check of one data directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseReport {
    /// File name inside the data directory.
    pub name: String,
    /// Its length, if it exists.
    pub size: Option<u64>,
    /// The verdict.
    pub outcome: BaseOutcome,
}

/// Validates the base snapshot `name` in `dir` (read-only).
pub fn check_base(fs: &dyn Vfs, dir: &Path, name: &str) -> BaseReport {
    let path = dir.join(name);
    let report = |size, outcome| BaseReport {
        name: name.to_string(),
        size,
        outcome,
    };
    let size = match fs.file_len(&path) {
        Ok(n) => n,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return report(None, BaseOutcome::Missing);
        }
        Err(e) => {
            return report(
                None,
                BaseOutcome::Unreadable {
                    detail: e.to_string(),
                },
            )
        }
    };
    let outcome = match fs.open_read(&path) {
        Err(e) => BaseOutcome::Unreadable {
            detail: e.to_string(),
        },
        Ok(file) => verify(file),
    };
    report(Some(size), outcome)
}

fn verify(file: Arc<dyn VfsFile>) -> BaseOutcome {
    let unreadable = |e: io::Error| BaseOutcome::Unreadable {
        detail: e.to_string(),
    };
    let mut r = match SnapshotReader::new(file, SnapshotLimits::default()) {
        Ok(r) => r,
        Err(e) => return unreadable(e),
    };
    let mut keys_per_db: BTreeMap<u64, u64> = BTreeMap::new();
    loop {
        match r.next_entry() {
            Ok(Some((db, _entry))) => *keys_per_db.entry(u64::from(db)).or_default() += 1,
            Ok(None) => break,
            Err(e) => return unreadable(e),
        }
    }
    match r.stop_reason() {
        Some(SnapshotStop::Complete(info)) => BaseOutcome::Verified {
            keys_per_db,
            lsn: info.header.lsn,
            chunks: info.chunks,
            libraries: info.libraries.len() as u64,
        },
        Some(SnapshotStop::Invalid(p)) => BaseOutcome::Corrupt {
            offset: p.offset(),
            detail: format!(
                "{p}; the server refuses to load it — restore the base from a backup (the logs \
                 after it only hold the changes since it was taken)"
            ),
        },
        None => BaseOutcome::Unreadable {
            detail: "the snapshot reader stopped without a reason".into(),
        },
    }
}
