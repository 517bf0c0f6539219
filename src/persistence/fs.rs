//! File I/O behind a small trait, with a real implementation and a simulated disk.
//!
//! Everything the persistence layer does to a disk goes through [`Vfs`] (directory-level
//! operations) and [`VfsFile`] (an open file). Two implementations exist:
//!
//! * [`RealFs`]: `std::fs` plus `fallocate(2)` on Linux. `sync_data` is `fdatasync(2)`,
//!   `sync_dir` is `fsync(2)` on the directory.
//! * [`SimFs`]: a deterministic in-memory disk for crash and fault-injection tests. For
//!   every file it keeps a *written* image (what the OS page cache holds) and a *durable*
//!   image (what survived the last `sync_data`); for every directory a written and a
//!   durable set of entries (name → inode). [`SimFs::crash`] turns the disk into its
//!   post-power-loss state. Every operation is counted, so a test can crash at each one.
//!
//! # Contracts
//!
//! * Positions are explicit: writes go to an offset (`write_at`), never "the current
//!   position", so one file handle can be shared between a writer and a syncer thread.
//! * `sync_data` makes the file's content *and its length* durable (fdatasync persists
//!   the size when it changed), not its directory entry: after creating, renaming or
//!   removing a file, call `sync_dir` on its directory.
//! * `allocate(offset, len)` makes `[offset, offset + len)` part of the file, reading as
//!   zeros where nothing was written, and reserves the disk space for it; it never changes
//!   bytes already written. It fails with `ENOSPC` when the space is not available. Like
//!   any size change it is durable only after `sync_data`.
//! * An error from `write_at` or `sync_data` leaves the file in an unknown state; callers
//!   must not retry a failed `sync_data` (see DESIGN.md §2 on fsyncgate).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// An open file. All methods take `&self` so a handle can be shared (`Arc`) between a
/// thread that writes and one that calls `sync_data`.
#[allow(clippy::len_without_is_empty)]
pub trait VfsFile: Send + Sync + fmt::Debug {
    /// Reads up to `buf.len()` bytes at `offset`; returns how many were read (0 at EOF).
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize>;
    /// Writes some prefix of `buf` at `offset`; returns how many bytes were written.
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<usize>;
    /// Current length of the file in bytes.
    fn len(&self) -> io::Result<u64>;
    /// Truncates or extends (with zeros) the file to `len` bytes.
    fn set_len(&self, len: u64) -> io::Result<()>;
    /// Reserves `[offset, offset + len)`, extending the file with zeros (see module docs).
    fn allocate(&self, offset: u64, len: u64) -> io::Result<()>;
    /// `fdatasync`: makes the content and length durable.
    fn sync_data(&self) -> io::Result<()>;

    /// Writes all of `buf` at `offset`, looping over short writes.
    fn write_all_at(&self, mut buf: &[u8], mut offset: u64) -> io::Result<()> {
        while !buf.is_empty() {
            match self.write_at(buf, offset) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::WriteZero,
                        "write returned 0 bytes",
                    ))
                }
                Ok(n) => {
                    buf = &buf[n..];
                    offset += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Fills `buf` from `offset`; `UnexpectedEof` if the file is too short.
    fn read_exact_at(&self, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
        while !buf.is_empty() {
            match self.read_at(buf, offset) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "file shorter than expected",
                    ))
                }
                Ok(n) => {
                    buf = &mut buf[n..];
                    offset += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// Directory-level file system operations.
pub trait Vfs: Send + Sync + fmt::Debug {
    /// Opens an existing file read-only.
    fn open_read(&self, path: &Path) -> io::Result<Arc<dyn VfsFile>>;
    /// Opens an existing file for reading and writing.
    fn open_write(&self, path: &Path) -> io::Result<Arc<dyn VfsFile>>;
    /// Creates a file (truncating an existing one) for reading and writing.
    fn create(&self, path: &Path) -> io::Result<Arc<dyn VfsFile>>;
    /// Length of the file at `path`.
    fn file_len(&self, path: &Path) -> io::Result<u64>;
    /// Whether anything (file or directory) exists at `path`.
    fn exists(&self, path: &Path) -> io::Result<bool>;
    /// Atomically renames `from` to `to`, replacing `to`. Durable after `sync_dir`.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Removes a file. Durable after `sync_dir`.
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Names of the entries of a directory, sorted.
    fn list_dir(&self, path: &Path) -> io::Result<Vec<String>>;
    /// Creates a directory and its missing parents. Durable after `sync_dir` of each parent.
    fn create_dir_all(&self, path: &Path) -> io::Result<()>;
    /// `fsync` on a directory: makes creations, renames and removals in it durable.
    fn sync_dir(&self, path: &Path) -> io::Result<()>;

    /// Reads a whole file, refusing files longer than `max_len` (a bounded read).
    fn read_all(&self, path: &Path, max_len: u64) -> io::Result<Vec<u8>> {
        let f = self.open_read(path)?;
        let len = f.len()?;
        if len > max_len {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("file is {len} bytes, more than the {max_len} bytes expected"),
            ));
        }
        let mut buf = vec![0u8; len as usize];
        f.read_exact_at(&mut buf, 0)?;
        Ok(buf)
    }

    /// Reads `len` bytes at `offset` of a file.
    fn read_range(&self, path: &Path, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        let f = self.open_read(path)?;
        let mut buf = vec![0u8; len];
        f.read_exact_at(&mut buf, offset)?;
        Ok(buf)
    }
}

/// Whether an I/O error means "out of disk space" (ENOSPC or EDQUOT).
pub fn is_no_space(err: &io::Error) -> bool {
    matches!(err.raw_os_error(), Some(libc::ENOSPC) | Some(libc::EDQUOT))
        || err.kind() == io::ErrorKind::StorageFull
}

// ---------------------------------------------------------------------------------------
// RealFs
// ---------------------------------------------------------------------------------------

/// Creates `dir` (and missing parents) so that it survives a power loss: its parent is
/// fsynced, or a crash may drop the new directory's entry with everything in it.
pub fn create_dir_durable(vfs: &dyn Vfs, dir: &Path) -> io::Result<()> {
    vfs.create_dir_all(dir)?;
    match dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(parent) => vfs.sync_dir(parent),
        None => Ok(()),
    }
}

/// Copies `from` to `to` durably: into `tmp` (same directory as `to`) in 1 MiB steps,
/// fdatasync, rename over `to`. The caller fsyncs the directory. Errors name the step
/// and the file, as [`replace_file`]'s.
pub fn copy_file(
    vfs: &dyn Vfs,
    from: &Path,
    to: &Path,
    tmp: &Path,
) -> Result<(), (&'static str, PathBuf, io::Error)> {
    let src = vfs
        .open_read(from)
        .map_err(|e| ("open", from.to_path_buf(), e))?;
    let len = src.len().map_err(|e| ("stat", from.to_path_buf(), e))?;
    let dst = vfs
        .create(tmp)
        .map_err(|e| ("create", tmp.to_path_buf(), e))?;
    let mut buf = vec![0u8; 1 << 20];
    let mut pos = 0u64;
    while pos < len {
        let n = (len - pos).min(buf.len() as u64) as usize;
        src.read_exact_at(&mut buf[..n], pos)
            .map_err(|e| ("read", from.to_path_buf(), e))?;
        dst.write_all_at(&buf[..n], pos)
            .map_err(|e| ("write", tmp.to_path_buf(), e))?;
        pos += n as u64;
    }
    dst.sync_data()
        .map_err(|e| ("fdatasync", tmp.to_path_buf(), e))?;
    vfs.rename(tmp, to)
        .map_err(|e| ("rename", to.to_path_buf(), e))
}

/// An I/O error as the C library words it (`strerror`, as Redis prints it): Rust's text
/// without its ` (os error N)` suffix.
pub fn os_message(e: &io::Error) -> String {
    let text = e.to_string();
    match text.rfind(" (os error ") {
        Some(i) if e.raw_os_error().is_some() => text[..i].to_string(),
        _ => text,
    }
}

/// Replaces `path` with `bytes` atomically: write `tmp` (same directory), fdatasync it,
/// rename it over `path`, fsync the directory. On `Ok` the new content is durable; on
/// `Err` the old file is untouched (a temp file may be left) and the error names the
/// step and the file.
pub fn replace_file(
    vfs: &dyn Vfs,
    path: &Path,
    tmp: &Path,
    bytes: &[u8],
) -> Result<(), (&'static str, PathBuf, io::Error)> {
    let at = |op: &'static str, p: &Path| {
        let p = p.to_path_buf();
        move |e| (op, p, e)
    };
    let f = vfs.create(tmp).map_err(at("create", tmp))?;
    f.write_all_at(bytes, 0).map_err(at("write", tmp))?;
    f.sync_data().map_err(at("fdatasync", tmp))?;
    drop(f);
    vfs.rename(tmp, path).map_err(at("rename", path))?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    vfs.sync_dir(dir).map_err(at("fsync directory", dir))
}

/// The real file system (`std::fs`, `fdatasync`, `fallocate`).
#[derive(Debug, Clone, Copy, Default)]
pub struct RealFs;

#[derive(Debug)]
struct RealFile {
    file: std::fs::File,
}

impl VfsFile for RealFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        std::os::unix::fs::FileExt::read_at(&self.file, buf, offset)
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<usize> {
        std::os::unix::fs::FileExt::write_at(&self.file, buf, offset)
    }

    fn len(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.file.set_len(len)
    }

    fn allocate(&self, offset: u64, len: u64) -> io::Result<()> {
        if len == 0 {
            return Ok(());
        }
        match fallocate(&self.file, offset, len) {
            Ok(()) => Ok(()),
            Err(e) if fallocate_unsupported(&e) => self.zero_fill(offset, len),
            Err(e) => Err(e),
        }
    }

    fn sync_data(&self) -> io::Result<()> {
        self.file.sync_data()
    }
}

impl RealFile {
    /// Fallback for file systems without `fallocate`: write zeros past the current end.
    fn zero_fill(&self, offset: u64, len: u64) -> io::Result<()> {
        const BLOCK: usize = 1 << 20;
        let end = offset
            .checked_add(len)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "allocation overflows"))?;
        let mut pos = self.len()?.max(offset);
        let zeros = vec![0u8; BLOCK];
        while pos < end {
            let n = ((end - pos).min(BLOCK as u64)) as usize;
            self.write_all_at(&zeros[..n], pos)?;
            pos += n as u64;
        }
        Ok(())
    }
}

#[cfg(target_os = "linux")]
fn fallocate(file: &std::fs::File, offset: u64, len: u64) -> io::Result<()> {
    use std::os::unix::io::AsRawFd;
    let (Ok(off), Ok(l)) = (libc::off_t::try_from(offset), libc::off_t::try_from(len)) else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "allocation range does not fit in off_t",
        ));
    };
    loop {
        // SAFETY: `fallocate` takes no pointers; the descriptor comes from `file`, which
        // is borrowed for the duration of the call and therefore open. Mode 0 only
        // allocates blocks and extends the size; it never changes existing data.
        // Covered by `real_fs_allocate_extends_with_zeros` below.
        let rc = unsafe { libc::fallocate(file.as_raw_fd(), 0, off, l) };
        if rc == 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn fallocate(_file: &std::fs::File, _offset: u64, _len: u64) -> io::Result<()> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

fn fallocate_unsupported(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EOPNOTSUPP) | Some(libc::ENOSYS) | Some(libc::EINVAL)
    ) || e.kind() == io::ErrorKind::Unsupported
}

impl Vfs for RealFs {
    fn open_read(&self, path: &Path) -> io::Result<Arc<dyn VfsFile>> {
        let file = std::fs::File::open(path)?;
        Ok(Arc::new(RealFile { file }))
    }

    fn open_write(&self, path: &Path) -> io::Result<Arc<dyn VfsFile>> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)?;
        Ok(Arc::new(RealFile { file }))
    }

    fn create(&self, path: &Path) -> io::Result<Arc<dyn VfsFile>> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)?;
        Ok(Arc::new(RealFile { file }))
    }

    fn file_len(&self, path: &Path) -> io::Result<u64> {
        Ok(std::fs::metadata(path)?.len())
    }

    fn exists(&self, path: &Path) -> io::Result<bool> {
        path.try_exists()
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }

    fn list_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(path)? {
            names.push(entry?.file_name().to_string_lossy().into_owned());
        }
        names.sort();
        Ok(names)
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        std::fs::create_dir_all(path)
    }

    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        std::fs::File::open(path)?.sync_all()
    }
}

// ---------------------------------------------------------------------------------------
// SimFs
// ---------------------------------------------------------------------------------------

/// Kinds of operations, for counting and fault injection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpKind {
    /// `open_read` / `open_write`.
    Open,
    /// `create`.
    Create,
    /// `read_at`.
    Read,
    /// `write_at`.
    Write,
    /// `len` / `file_len` / `exists`.
    Stat,
    /// `set_len`.
    SetLen,
    /// `allocate`.
    Allocate,
    /// `sync_data`.
    SyncData,
    /// `rename`.
    Rename,
    /// `remove_file`.
    Remove,
    /// `list_dir`.
    ListDir,
    /// `create_dir_all`.
    CreateDir,
    /// `sync_dir`.
    SyncDir,
}

/// The error an injected fault produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultError {
    /// `EIO`.
    Eio,
    /// `ENOSPC`.
    NoSpace,
}

impl FaultError {
    fn to_io(self) -> io::Error {
        match self {
            FaultError::Eio => io::Error::from_raw_os_error(libc::EIO),
            FaultError::NoSpace => io::Error::from_raw_os_error(libc::ENOSPC),
        }
    }
}

/// What happens, at a power loss, to a file's bytes written since its last `sync_data`.
///
/// The un-synced region starts at the first byte where the written image differs from
/// the durable one. "Prefix" below means a random-length prefix of that region (possibly
/// empty, possibly all of it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TornMode {
    /// Nothing un-synced survives.
    Drop,
    /// A prefix of the un-synced bytes survives.
    KeepPrefix,
    /// A prefix survives, followed by a random run of zeros in place of the rest
    /// (size extended, data never written).
    ZeroFill,
    /// A prefix survives, followed by a random run of garbage bytes.
    Garbage,
    /// One of the above, chosen at random per file and per crash.
    Random,
}

#[derive(Debug, Clone, Copy)]
enum Trigger {
    Nth(u64),
    Kind(OpKind),
}

#[derive(Debug, Default)]
struct Inode {
    written: Vec<u8>,
    durable: Vec<u8>,
}

#[derive(Debug, Default)]
struct Dir {
    written_exists: bool,
    durable_exists: bool,
    written: BTreeMap<String, u64>,
    durable: BTreeMap<String, u64>,
}

#[derive(Debug)]
struct SimState {
    inodes: HashMap<u64, Inode>,
    next_ino: u64,
    dirs: BTreeMap<PathBuf, Dir>,
    epoch: u64,
    ops: u64,
    crash_at: Option<u64>,
    dead: bool,
    faults: Vec<(Trigger, FaultError)>,
    short_writes: bool,
    torn: TornMode,
    rng: SmallRng,
    capacity: Option<u64>,
}

/// A deterministic simulated disk (see the module docs). Cloning gives another handle to
/// the same disk.
#[derive(Clone)]
pub struct SimFs {
    state: Arc<Mutex<SimState>>,
}

impl fmt::Debug for SimFs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.lock();
        f.debug_struct("SimFs")
            .field("ops", &s.ops)
            .field("epoch", &s.epoch)
            .field("dead", &s.dead)
            .field("files", &s.inodes.len())
            .finish()
    }
}

impl Default for SimFs {
    fn default() -> Self {
        Self::new(0)
    }
}

fn norm(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

fn split(path: &Path) -> io::Result<(PathBuf, String)> {
    let p = norm(path);
    let name = p
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?
        .to_string_lossy()
        .into_owned();
    let parent = p.parent().map(Path::to_path_buf).unwrap_or_default();
    Ok((parent, name))
}

fn is_root(p: &Path) -> bool {
    p.parent().is_none()
}

fn not_found(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("{}: no such file or directory", path.display()),
    )
}

impl SimState {
    /// Counts an operation and applies crash/fault injection.
    fn begin(&mut self, kind: OpKind, epoch: Option<u64>) -> io::Result<()> {
        if self.dead {
            return Err(crashed_error());
        }
        if let Some(e) = epoch {
            if e != self.epoch {
                return Err(io::Error::other(
                    "stale SimFs handle: the disk crashed since this file was opened",
                ));
            }
        }
        let n = self.ops;
        self.ops += 1;
        if let Some(c) = self.crash_at {
            if n >= c {
                self.dead = true;
                return Err(crashed_error());
            }
        }
        let mut hit = None;
        self.faults.retain(|(t, err)| match t {
            Trigger::Nth(m) if *m == n => {
                hit = Some(*err);
                false
            }
            Trigger::Kind(k) if *k == kind => {
                hit = Some(*err);
                true
            }
            _ => true,
        });
        match hit {
            Some(err) => Err(err.to_io()),
            None => Ok(()),
        }
    }

    fn dir_exists(&self, p: &Path) -> bool {
        is_root(p) || self.dirs.get(p).is_some_and(|d| d.written_exists)
    }

    fn lookup(&self, path: &Path) -> io::Result<u64> {
        let (parent, name) = split(path)?;
        self.dirs
            .get(&parent)
            .filter(|d| d.written_exists || is_root(&parent))
            .and_then(|d| d.written.get(&name).copied())
            .ok_or_else(|| not_found(path))
    }

    fn used(&self) -> u64 {
        self.inodes.values().map(|i| i.written.len() as u64).sum()
    }

    fn check_growth(&self, ino: u64, new_len: u64) -> io::Result<()> {
        if let Some(cap) = self.capacity {
            let cur = self.inodes.get(&ino).map_or(0, |i| i.written.len() as u64);
            if new_len > cur && self.used() + (new_len - cur) > cap {
                return Err(io::Error::from_raw_os_error(libc::ENOSPC));
            }
        }
        Ok(())
    }

    fn inode(&mut self, ino: u64) -> io::Result<&mut Inode> {
        self.inodes
            .get_mut(&ino)
            .ok_or_else(|| io::Error::other("SimFs inode vanished"))
    }

    fn torn_image(&mut self, ino: u64) -> Vec<u8> {
        let mode = match self.torn {
            TornMode::Random => match self.rng.gen_range(0..4) {
                0 => TornMode::Drop,
                1 => TornMode::KeepPrefix,
                2 => TornMode::ZeroFill,
                _ => TornMode::Garbage,
            },
            m => m,
        };
        let Some(inode) = self.inodes.get(&ino) else {
            return Vec::new();
        };
        let (w, d) = (&inode.written, &inode.durable);
        if w == d {
            return d.clone();
        }
        let common = w.iter().zip(d.iter()).take_while(|(a, b)| a == b).count();
        let region = w.len().saturating_sub(common);
        if mode == TornMode::Drop || region == 0 {
            return d.clone();
        }
        let (w, d) = (w.clone(), d.clone());
        let keep = self.rng.gen_range(0..=region);
        if mode == TornMode::KeepPrefix && keep == region {
            return w;
        }
        let mut out = d;
        let put = |out: &mut Vec<u8>, at: usize, bytes: &[u8]| {
            if out.len() < at + bytes.len() {
                out.resize(at + bytes.len(), 0);
            }
            out[at..at + bytes.len()].copy_from_slice(bytes);
        };
        put(&mut out, common, &w[common..common + keep]);
        let rest = region - keep;
        if rest > 0 && matches!(mode, TornMode::ZeroFill | TornMode::Garbage) {
            let extra = self.rng.gen_range(0..=rest);
            let mut fill = vec![0u8; extra];
            if mode == TornMode::Garbage {
                self.rng.fill(&mut fill[..]);
            }
            put(&mut out, common + keep, &fill);
        }
        out
    }
}

fn crashed_error() -> io::Error {
    io::Error::other("simulated power loss: SimFs is down")
}

impl SimFs {
    /// A new empty disk whose random choices (torn tails, short writes) derive from `seed`.
    pub fn new(seed: u64) -> Self {
        SimFs {
            state: Arc::new(Mutex::new(SimState {
                inodes: HashMap::new(),
                next_ino: 1,
                dirs: BTreeMap::new(),
                epoch: 0,
                ops: 0,
                crash_at: None,
                dead: false,
                faults: Vec::new(),
                short_writes: false,
                torn: TornMode::Random,
                rng: SmallRng::seed_from_u64(seed),
                capacity: None,
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, SimState> {
        // A panic while holding the lock (in a test) must not hide later assertions.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Number of operations performed so far (every `Vfs`/`VfsFile` call counts one,
    /// including calls that failed).
    pub fn op_count(&self) -> u64 {
        self.lock().ops
    }

    /// Makes operation number `n` (0-based, see [`SimFs::op_count`]) fail with `err`.
    pub fn fail_op(&self, n: u64, err: FaultError) {
        self.lock().faults.push((Trigger::Nth(n), err));
    }

    /// Makes every operation of `kind` fail with `err` from now on.
    pub fn fail_kind(&self, kind: OpKind, err: FaultError) {
        self.lock().faults.push((Trigger::Kind(kind), err));
    }

    /// Removes all injected faults (not a pending crash).
    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    /// When on, each `write_at` writes a random non-empty prefix of its buffer.
    pub fn set_short_writes(&self, on: bool) {
        self.lock().short_writes = on;
    }

    /// The machine dies at operation `n`: it and every later operation fail as if the
    /// power went out. Call [`SimFs::crash`] afterwards to get the post-crash disk.
    pub fn crash_at(&self, n: u64) {
        self.lock().crash_at = Some(n);
    }

    /// Whether a scheduled crash point has been reached.
    pub fn is_down(&self) -> bool {
        self.lock().dead
    }

    /// Chooses what happens to un-synced bytes at a crash (default [`TornMode::Random`]).
    pub fn set_torn_mode(&self, mode: TornMode) {
        self.lock().torn = mode;
    }

    /// Limits the total bytes of all files; growth beyond it fails with `ENOSPC`.
    pub fn set_capacity(&self, capacity: Option<u64>) {
        self.lock().capacity = capacity;
    }

    /// Total length of all files.
    pub fn used_bytes(&self) -> u64 {
        self.lock().used()
    }

    /// Power loss. Afterwards the disk holds only what was durable: each file reverts to
    /// its durable image plus a torn remnant of its un-synced bytes (see [`TornMode`]),
    /// directory entries revert to their last `sync_dir`, directories not made durable
    /// disappear. Open handles become invalid, faults and the crash point are cleared,
    /// and the disk is usable again (the next "boot").
    pub fn crash(&self) {
        let mut s = self.lock();
        // A directory survives if it was made durable and its parent survives.
        let paths: Vec<PathBuf> = s.dirs.keys().cloned().collect();
        let mut survivors = BTreeSet::new();
        for p in &paths {
            // BTreeMap order visits parents before children.
            let parent_ok = match p.parent() {
                None => true,
                Some(pp) => is_root(pp) || survivors.contains(pp) || !s.dirs.contains_key(pp),
            };
            let d = &s.dirs[p];
            if parent_ok && (d.durable_exists || is_root(p)) {
                survivors.insert(p.clone());
            }
        }
        s.dirs.retain(|p, _| survivors.contains(p));
        let mut live = BTreeSet::new();
        for d in s.dirs.values_mut() {
            d.written = d.durable.clone();
            d.written_exists = true;
            live.extend(d.durable.values().copied());
        }
        s.inodes.retain(|ino, _| live.contains(ino));
        for ino in live {
            let img = s.torn_image(ino);
            if let Some(i) = s.inodes.get_mut(&ino) {
                i.durable = img.clone();
                i.written = img;
            }
        }
        s.epoch += 1;
        s.dead = false;
        s.crash_at = None;
        s.faults.clear();
        s.short_writes = false;
    }

    /// The written (page-cache) content of a file, without counting an operation.
    pub fn contents(&self, path: &Path) -> Option<Vec<u8>> {
        let s = self.lock();
        let ino = s.lookup(path).ok()?;
        s.inodes.get(&ino).map(|i| i.written.clone())
    }

    /// Replaces a file's content durably (creating it and its directories durably),
    /// without counting an operation. For tests that craft or corrupt files.
    pub fn put_file(&self, path: &Path, bytes: &[u8]) {
        let mut s = self.lock();
        let Ok((parent, name)) = split(path) else {
            return;
        };
        let mut p = parent.clone();
        loop {
            let d = s.dirs.entry(p.clone()).or_default();
            d.written_exists = true;
            d.durable_exists = true;
            if !p.pop() {
                break;
            }
        }
        let existing = s
            .dirs
            .get(&parent)
            .and_then(|d| d.written.get(&name).copied());
        let ino = match existing {
            Some(i) => i,
            None => {
                let i = s.next_ino;
                s.next_ino += 1;
                i
            }
        };
        s.inodes.insert(
            ino,
            Inode {
                written: bytes.to_vec(),
                durable: bytes.to_vec(),
            },
        );
        if let Some(d) = s.dirs.get_mut(&parent) {
            d.written.insert(name.clone(), ino);
            d.durable.insert(name, ino);
        }
    }

    /// Removes a file durably without counting an operation. For tests.
    pub fn delete_file(&self, path: &Path) {
        let mut s = self.lock();
        if let Ok((parent, name)) = split(path) {
            if let Some(d) = s.dirs.get_mut(&parent) {
                d.written.remove(&name);
                d.durable.remove(&name);
            }
        }
    }

    fn handle(&self, ino: u64, epoch: u64, writable: bool) -> Arc<dyn VfsFile> {
        Arc::new(SimFile {
            fs: self.clone(),
            ino,
            epoch,
            writable,
        })
    }
}

#[derive(Debug)]
struct SimFile {
    fs: SimFs,
    ino: u64,
    epoch: u64,
    writable: bool,
}

impl SimFile {
    fn begin(&self, kind: OpKind) -> io::Result<MutexGuard<'_, SimState>> {
        let mut s = self.fs.lock();
        s.begin(kind, Some(self.epoch))?;
        Ok(s)
    }

    fn check_writable(&self) -> io::Result<()> {
        if self.writable {
            Ok(())
        } else {
            Err(io::Error::from_raw_os_error(libc::EBADF))
        }
    }
}

impl VfsFile for SimFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let mut s = self.begin(OpKind::Read)?;
        let data = &s.inode(self.ino)?.written;
        let Ok(off) = usize::try_from(offset) else {
            return Ok(0);
        };
        if off >= data.len() {
            return Ok(0);
        }
        let n = buf.len().min(data.len() - off);
        buf[..n].copy_from_slice(&data[off..off + n]);
        Ok(n)
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<usize> {
        let mut s = self.begin(OpKind::Write)?;
        self.check_writable()?;
        if buf.is_empty() {
            return Ok(0);
        }
        let n = if s.short_writes {
            s.rng.gen_range(1..=buf.len())
        } else {
            buf.len()
        };
        let end = offset + n as u64;
        s.check_growth(self.ino, end)?;
        let data = &mut s.inode(self.ino)?.written;
        let (off, end) = (offset as usize, end as usize);
        if data.len() < end {
            data.resize(end, 0);
        }
        data[off..end].copy_from_slice(&buf[..n]);
        Ok(n)
    }

    fn len(&self) -> io::Result<u64> {
        let mut s = self.begin(OpKind::Stat)?;
        Ok(s.inode(self.ino)?.written.len() as u64)
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        let mut s = self.begin(OpKind::SetLen)?;
        self.check_writable()?;
        s.check_growth(self.ino, len)?;
        s.inode(self.ino)?.written.resize(len as usize, 0);
        Ok(())
    }

    fn allocate(&self, offset: u64, len: u64) -> io::Result<()> {
        let mut s = self.begin(OpKind::Allocate)?;
        self.check_writable()?;
        let end = offset + len;
        s.check_growth(self.ino, end)?;
        let data = &mut s.inode(self.ino)?.written;
        if (data.len() as u64) < end {
            data.resize(end as usize, 0);
        }
        Ok(())
    }

    fn sync_data(&self) -> io::Result<()> {
        let mut s = self.begin(OpKind::SyncData)?;
        let i = s.inode(self.ino)?;
        i.durable = i.written.clone();
        Ok(())
    }
}

impl Vfs for SimFs {
    fn open_read(&self, path: &Path) -> io::Result<Arc<dyn VfsFile>> {
        let mut s = self.lock();
        s.begin(OpKind::Open, None)?;
        let ino = s.lookup(path)?;
        let epoch = s.epoch;
        drop(s);
        Ok(self.handle(ino, epoch, false))
    }

    fn open_write(&self, path: &Path) -> io::Result<Arc<dyn VfsFile>> {
        let mut s = self.lock();
        s.begin(OpKind::Open, None)?;
        let ino = s.lookup(path)?;
        let epoch = s.epoch;
        drop(s);
        Ok(self.handle(ino, epoch, true))
    }

    fn create(&self, path: &Path) -> io::Result<Arc<dyn VfsFile>> {
        let mut s = self.lock();
        s.begin(OpKind::Create, None)?;
        let (parent, name) = split(path)?;
        if !s.dir_exists(&parent) {
            return Err(not_found(&parent));
        }
        let ino = match s.lookup(path) {
            Ok(ino) => {
                s.inode(ino)?.written.clear();
                ino
            }
            Err(_) => {
                let ino = s.next_ino;
                s.next_ino += 1;
                s.inodes.insert(ino, Inode::default());
                s.dirs.entry(parent).or_default().written.insert(name, ino);
                ino
            }
        };
        let epoch = s.epoch;
        drop(s);
        Ok(self.handle(ino, epoch, true))
    }

    fn file_len(&self, path: &Path) -> io::Result<u64> {
        let mut s = self.lock();
        s.begin(OpKind::Stat, None)?;
        let ino = s.lookup(path)?;
        Ok(s.inode(ino)?.written.len() as u64)
    }

    fn exists(&self, path: &Path) -> io::Result<bool> {
        let mut s = self.lock();
        s.begin(OpKind::Stat, None)?;
        let p = norm(path);
        Ok(s.dir_exists(&p) || s.lookup(&p).is_ok())
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut s = self.lock();
        s.begin(OpKind::Rename, None)?;
        let ino = s.lookup(from)?;
        let (fp, fname) = split(from)?;
        let (tp, tname) = split(to)?;
        if !s.dir_exists(&tp) {
            return Err(not_found(&tp));
        }
        if let Some(d) = s.dirs.get_mut(&fp) {
            d.written.remove(&fname);
        }
        s.dirs.entry(tp).or_default().written.insert(tname, ino);
        Ok(())
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        let mut s = self.lock();
        s.begin(OpKind::Remove, None)?;
        s.lookup(path)?;
        let (parent, name) = split(path)?;
        if let Some(d) = s.dirs.get_mut(&parent) {
            d.written.remove(&name);
        }
        Ok(())
    }

    fn list_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        let mut s = self.lock();
        s.begin(OpKind::ListDir, None)?;
        let p = norm(path);
        if !s.dir_exists(&p) {
            return Err(not_found(path));
        }
        let mut names: Vec<String> = s
            .dirs
            .get(&p)
            .map(|d| d.written.keys().cloned().collect())
            .unwrap_or_default();
        for (dp, d) in &s.dirs {
            if d.written_exists && dp.parent() == Some(p.as_path()) {
                if let Some(n) = dp.file_name() {
                    names.push(n.to_string_lossy().into_owned());
                }
            }
        }
        names.sort();
        Ok(names)
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        let mut s = self.lock();
        s.begin(OpKind::CreateDir, None)?;
        let p = norm(path);
        let mut cur = PathBuf::new();
        for c in p.components() {
            cur.push(c.as_os_str());
            if s.lookup(&cur).is_ok() {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{} is a file", cur.display()),
                ));
            }
            let root = is_root(&cur);
            let d = s.dirs.entry(cur.clone()).or_default();
            d.written_exists = true;
            if root {
                d.durable_exists = true;
            }
        }
        Ok(())
    }

    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        let mut s = self.lock();
        s.begin(OpKind::SyncDir, None)?;
        let p = norm(path);
        if !s.dir_exists(&p) {
            return Err(not_found(path));
        }
        let d = s.dirs.entry(p.clone()).or_default();
        d.durable = d.written.clone();
        for (dp, d) in s.dirs.iter_mut() {
            if dp.parent() == Some(p.as_path()) {
                d.durable_exists = d.written_exists;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> PathBuf {
        PathBuf::from(s)
    }

    #[test]
    fn sim_unsynced_data_and_entries_are_lost() {
        let fs = SimFs::new(1);
        fs.set_torn_mode(TornMode::Drop);
        fs.create_dir_all(&p("/d")).unwrap();
        fs.sync_dir(&p("/")).unwrap();
        let f = fs.create(&p("/d/a")).unwrap();
        f.write_all_at(b"hello", 0).unwrap();
        f.sync_data().unwrap();
        // Data synced but the directory entry is not: the file vanishes.
        fs.crash();
        assert_eq!(fs.contents(&p("/d/a")), None);
        assert!(fs.exists(&p("/d")).unwrap());

        let f = fs.create(&p("/d/a")).unwrap();
        f.write_all_at(b"hello", 0).unwrap();
        f.sync_data().unwrap();
        fs.sync_dir(&p("/d")).unwrap();
        f.write_all_at(b" world", 5).unwrap();
        fs.crash();
        assert_eq!(fs.contents(&p("/d/a")).unwrap(), b"hello");
        // The old handle is stale after the crash.
        assert!(f.write_at(b"x", 0).is_err());
    }

    #[test]
    fn sim_unsynced_rename_is_lost_and_synced_rename_kept() {
        let fs = SimFs::new(2);
        fs.put_file(&p("/d/old"), b"1");
        fs.put_file(&p("/d/tmp"), b"2");
        fs.rename(&p("/d/tmp"), &p("/d/old")).unwrap();
        assert_eq!(fs.contents(&p("/d/old")).unwrap(), b"2");
        fs.crash();
        assert_eq!(fs.contents(&p("/d/old")).unwrap(), b"1");
        assert_eq!(fs.contents(&p("/d/tmp")).unwrap(), b"2");
        fs.rename(&p("/d/tmp"), &p("/d/old")).unwrap();
        fs.sync_dir(&p("/d")).unwrap();
        fs.crash();
        assert_eq!(fs.contents(&p("/d/old")).unwrap(), b"2");
        assert_eq!(fs.contents(&p("/d/tmp")), None);
    }

    #[test]
    fn sim_torn_modes_shape_the_unsynced_tail() {
        for (seed, mode) in [
            (1, TornMode::KeepPrefix),
            (2, TornMode::ZeroFill),
            (3, TornMode::Garbage),
        ] {
            for round in 0..20u8 {
                let fs = SimFs::new(seed * 100 + u64::from(round));
                fs.set_torn_mode(mode);
                fs.put_file(&p("/f"), b"durable");
                let f = fs.open_write(&p("/f")).unwrap();
                f.write_all_at(b"-tail-bytes", 7).unwrap();
                fs.crash();
                let c = fs.contents(&p("/f")).unwrap();
                assert!(c.starts_with(b"durable"), "{mode:?}: {c:?}");
                assert!(c.len() <= 18);
                let tail = b"-tail-bytes";
                let kept = c[7..]
                    .iter()
                    .zip(tail.iter())
                    .take_while(|(a, b)| a == b)
                    .count();
                if mode == TornMode::KeepPrefix {
                    assert_eq!(kept, c.len() - 7, "{c:?}");
                } else if mode == TornMode::ZeroFill {
                    assert!(c[7 + kept..].iter().all(|&b| b == 0), "{c:?}");
                }
            }
        }
    }

    #[test]
    fn sim_crash_at_and_faults() {
        let fs = SimFs::new(3);
        fs.put_file(&p("/f"), b"");
        let f = fs.open_write(&p("/f")).unwrap();
        let n = fs.op_count();
        fs.fail_op(n, FaultError::Eio);
        let e = f.write_at(b"x", 0).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EIO));
        f.write_at(b"x", 0).unwrap();
        fs.fail_kind(OpKind::SyncData, FaultError::NoSpace);
        assert!(is_no_space(&f.sync_data().unwrap_err()));
        assert!(is_no_space(&f.sync_data().unwrap_err()));
        fs.clear_faults();
        f.sync_data().unwrap();
        fs.crash_at(fs.op_count() + 1);
        f.write_at(b"y", 1).unwrap();
        assert!(f.write_at(b"z", 2).is_err());
        assert!(fs.is_down());
        assert!(fs.list_dir(&p("/")).is_err());
        fs.set_torn_mode(TornMode::Drop);
        fs.crash();
        assert_eq!(fs.contents(&p("/f")).unwrap(), b"x");
    }

    #[test]
    fn sim_capacity_gives_enospc() {
        let fs = SimFs::new(4);
        fs.set_capacity(Some(100));
        fs.put_file(&p("/f"), b"");
        let f = fs.open_write(&p("/f")).unwrap();
        f.allocate(0, 100).unwrap();
        assert!(is_no_space(&f.allocate(100, 1).unwrap_err()));
        // Writing inside allocated space needs no new space.
        f.write_all_at(&[1; 100], 0).unwrap();
        fs.set_capacity(None);
        f.allocate(100, 1).unwrap();
        assert_eq!(f.len().unwrap(), 101);
    }

    #[test]
    fn sim_short_writes_are_completed_by_write_all_at() {
        let fs = SimFs::new(5);
        fs.put_file(&p("/f"), b"");
        fs.set_short_writes(true);
        let f = fs.open_write(&p("/f")).unwrap();
        let before = fs.op_count();
        f.write_all_at(&[7u8; 1000], 0).unwrap();
        assert!(fs.op_count() - before >= 1);
        assert_eq!(fs.contents(&p("/f")).unwrap(), vec![7u8; 1000]);
    }

    #[test]
    fn real_fs_allocate_extends_with_zeros() {
        let dir = std::env::temp_dir().join(format!("strata-fs-test-{}", std::process::id()));
        let fs = RealFs;
        fs.create_dir_all(&dir).unwrap();
        let path = dir.join("f");
        let f = fs.create(&path).unwrap();
        f.write_all_at(b"abc", 0).unwrap();
        f.allocate(0, 1 << 16).unwrap();
        assert_eq!(f.len().unwrap(), 1 << 16);
        let mut buf = vec![1u8; 1 << 16];
        f.read_exact_at(&mut buf, 0).unwrap();
        assert_eq!(&buf[..3], b"abc");
        assert!(buf[3..].iter().all(|&b| b == 0));
        f.sync_data().unwrap();
        fs.sync_dir(&dir).unwrap();
        assert_eq!(fs.list_dir(&dir).unwrap(), vec!["f".to_string()]);
        fs.remove_file(&path).unwrap();
        std::fs::remove_dir(&dir).unwrap();
    }
}
