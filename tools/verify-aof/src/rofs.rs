//! A read-only view of the real file system.
//!
//! `check` and `dump` hand this to the library's readers: files are opened with
//! `O_RDONLY` (`RealFs::open_read`) and every operation that could change the disk fails
//! with `PermissionDenied`, so a read-only command cannot modify a data directory even by
//! accident.

use std::io;
use std::path::Path;
use std::sync::Arc;

use strata::persistence::{RealFs, Vfs, VfsFile};

/// [`RealFs`] with every mutating operation refused.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReadOnlyFs;

fn refused(what: &str, path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!(
            "{what} {}: refused, this command is read-only",
            path.display()
        ),
    )
}

impl Vfs for ReadOnlyFs {
    fn open_read(&self, path: &Path) -> io::Result<Arc<dyn VfsFile>> {
        RealFs.open_read(path)
    }

    fn open_write(&self, path: &Path) -> io::Result<Arc<dyn VfsFile>> {
        Err(refused("open for writing", path))
    }

    fn create(&self, path: &Path) -> io::Result<Arc<dyn VfsFile>> {
        Err(refused("create", path))
    }

    fn file_len(&self, path: &Path) -> io::Result<u64> {
        RealFs.file_len(path)
    }

    fn exists(&self, path: &Path) -> io::Result<bool> {
        RealFs.exists(path)
    }

    fn rename(&self, from: &Path, _to: &Path) -> io::Result<()> {
        Err(refused("rename", from))
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        Err(refused("remove", path))
    }

    fn list_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        RealFs.list_dir(path)
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        Err(refused("create directory", path))
    }

    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        Err(refused("fsync directory", path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutations_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"abc").unwrap();
        let fs = ReadOnlyFs;
        assert_eq!(fs.read_all(&p, 10).unwrap(), b"abc");
        let f = fs.open_read(&p).unwrap();
        assert!(f.write_at(b"x", 0).is_err(), "opened read-only");
        assert!(fs.open_write(&p).is_err());
        assert!(fs.create(&p).is_err());
        assert!(fs.remove_file(&p).is_err());
        assert!(fs.rename(&p, &dir.path().join("g")).is_err());
        assert_eq!(std::fs::read(&p).unwrap(), b"abc");
    }
}
