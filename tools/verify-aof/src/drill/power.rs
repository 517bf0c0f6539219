//! Simulated power loss on the real disk.
//!
//! [`ShadowFs`] is a [`Vfs`] that forwards everything to [`RealFs`] (real writes, real
//! `fdatasync`, so timings are the machine's) and notes, per file, what the last
//! successful `fdatasync` made durable (the bytes written before it started, and the
//! file's length) and, per directory, which entries the last directory fsync made durable.
//! [`ShadowFs::cut`] is the power failure: from then on every operation fails with `EIO`,
//! and an `fdatasync` in flight at that moment counts as not completed.
//! [`ShadowFs::write_image`] then writes what the disk would hold after the power loss
//! into a new directory, following the crash model of DESIGN.md §3 (the one the library's
//! `SimFs` implements): the durable bytes, then a torn remainder of the bytes written but
//! not synced (nothing, a prefix, a prefix then zeros, or a prefix then garbage, chosen at
//! random per file); files whose directory entry no directory fsync covered are gone.
//!
//! Directory operations not yet covered by a directory fsync may or may not survive a
//! power loss; the image picks one outcome: a new file is gone; a removed file stays
//! removed; a rename over an existing file keeps either the old file (when it was small
//! enough to keep a copy of, at most [`KEEP_REPLACED`] bytes: the manifest) or the new one,
//! at random. Data is assumed appended: a rewrite of bytes already durable cannot be
//! undone, which [`Image::inexact`] reports (the engine never does it). Zeros written
//! past a file's data are not data: they change nothing the image would show.

use std::collections::{HashMap, HashSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::Rng;
use strata::command::Session;
use strata::engine::{Engine, SharedEngine, SyncShared};
use strata::persistence::{RealFs, Vfs, VfsFile};
use strata::protocol::{Args, ReplyBuf};

use super::workload::Target;

#[derive(Debug, Default, Clone)]
struct Track {
    /// End of the furthest byte written.
    written_end: u64,
    /// Bytes below this were written before a successful fdatasync began.
    durable_data: u64,
    /// The file's length at that fdatasync (preallocated zeros included).
    durable_size: u64,
    /// A write landed below `durable_data` after it was durable.
    rewrote_durable: bool,
}

/// Files replaced by a rename are copied (for the image) up to this size.
pub const KEEP_REPLACED: u64 = 1 << 20;

#[derive(Debug, Default)]
struct Shadow {
    cut: bool,
    /// Path -> the file a not-yet-durable rename replaced there: its id, bytes and track.
    replaced: HashMap<PathBuf, (u64, Vec<u8>, Track)>,
    next_id: u64,
    /// Live path -> file id.
    names: HashMap<PathBuf, u64>,
    files: HashMap<u64, Track>,
    /// Directory -> its entries (name -> file id) as of its last fsync.
    durable_entries: HashMap<PathBuf, HashMap<String, u64>>,
    /// Directories created here whose own entry is not durable yet.
    new_dirs: HashSet<PathBuf>,
}

/// The recording file layer (see the module docs). Clones share the same disk state.
#[derive(Debug, Clone, Default)]
pub struct ShadowFs {
    st: Arc<Mutex<Shadow>>,
}

fn eio() -> io::Error {
    io::Error::from_raw_os_error(libc::EIO)
}

impl ShadowFs {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Shadow> {
        self.st.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn live(&self) -> io::Result<MutexGuard<'_, Shadow>> {
        let s = self.lock();
        if s.cut {
            Err(eio())
        } else {
            Ok(s)
        }
    }

    /// The power fails now.
    pub fn cut(&self) {
        self.lock().cut = true;
    }

    fn id_for(s: &mut Shadow, path: &Path) -> u64 {
        if let Some(id) = s.names.get(path) {
            return *id;
        }
        // A file that existed before this layer saw it: assume it is durable as it is.
        let len = std::fs::metadata(path).map_or(0, |m| m.len());
        s.next_id += 1;
        let id = s.next_id;
        s.names.insert(path.to_path_buf(), id);
        s.files.insert(
            id,
            Track {
                written_end: len,
                durable_data: len,
                durable_size: len,
                rewrote_durable: false,
            },
        );
        if let (Some(dir), Some(name)) = (path.parent(), path.file_name()) {
            s.durable_entries
                .entry(dir.to_path_buf())
                .or_default()
                .insert(name.to_string_lossy().into_owned(), id);
        }
        id
    }

    fn wrap(&self, inner: Arc<dyn VfsFile>, id: u64) -> Arc<dyn VfsFile> {
        Arc::new(ShadowFile {
            inner,
            id,
            fs: self.clone(),
        })
    }

    /// Writes the post-power-loss image of directory `dir` into `out` (created).
    pub fn write_image(&self, dir: &Path, out: &Path, rng: &mut SmallRng) -> io::Result<Image> {
        let s = self.lock();
        std::fs::create_dir_all(out)?;
        let mut image = Image::default();
        if s.new_dirs.contains(dir) {
            image.notes.push(format!(
                "{} itself was never made durable: empty",
                dir.display()
            ));
            return Ok(image);
        }
        let entries = s.durable_entries.get(dir).cloned().unwrap_or_default();
        let mut names: Vec<_> = entries.into_iter().collect();
        names.sort();
        for (name, id) in names {
            let path = dir.join(&name);
            let live = s.names.get(&path).copied();
            let (real, t) = if live == Some(id) {
                (
                    std::fs::read(&path)?,
                    s.files.get(&id).cloned().unwrap_or_default(),
                )
            } else {
                match (s.replaced.get(&path), live) {
                    // A rename over this name was not made durable: old or new file.
                    (Some((old, bytes, track)), _) if *old == id && rng.gen_bool(0.5) => {
                        image.notes.push(format!(
                            "{name}: the un-synced rename over it did not survive"
                        ));
                        (bytes.clone(), track.clone())
                    }
                    (_, Some(new)) => {
                        image
                            .notes
                            .push(format!("{name}: the un-synced rename over it survived"));
                        (
                            std::fs::read(&path)?,
                            s.files.get(&new).cloned().unwrap_or_default(),
                        )
                    }
                    (_, None) => {
                        image
                            .notes
                            .push(format!("{name}: its un-synced removal survived"));
                        continue;
                    }
                }
            };
            if t.rewrote_durable {
                image.inexact.push(format!(
                    "{name}: bytes already durable were rewritten; the image shows the new ones"
                ));
            }
            let keep = (t.durable_data as usize).min(real.len());
            let unsynced_end = (t.written_end as usize).min(real.len()).max(keep);
            let unsynced = &real[keep..unsynced_end];
            let mut data = real[..keep].to_vec();
            let mode = match rng.gen_range(0..4) {
                0 => Torn::Dropped,
                1 => Torn::Prefix,
                2 => Torn::ZeroFilled,
                _ => Torn::Garbage,
            };
            let prefix = if unsynced.is_empty() || mode == Torn::Dropped {
                0
            } else {
                rng.gen_range(0..=unsynced.len())
            };
            data.extend_from_slice(&unsynced[..prefix]);
            let rest = unsynced.len() - prefix;
            let extra = if rest == 0 {
                0
            } else {
                rng.gen_range(0..=rest)
            };
            match mode {
                Torn::ZeroFilled => data.resize(data.len() + extra, 0),
                Torn::Garbage => data.extend((0..extra).map(|_| rng.gen::<u8>())),
                Torn::Dropped | Torn::Prefix => {}
            }
            let target = out.join(&name);
            std::fs::write(&target, &data)?;
            let f = std::fs::OpenOptions::new().write(true).open(&target)?;
            if (data.len() as u64) < t.durable_size {
                f.set_len(t.durable_size)?;
            }
            f.sync_all()?;
            image.files.push(ImageFile {
                name,
                durable: keep as u64,
                unsynced: unsynced.len() as u64,
                kept: prefix as u64,
                mode,
            });
        }
        RealFs.sync_dir(out)?;
        Ok(image)
    }
}

/// What happened to the unsynced bytes of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Torn {
    Dropped,
    Prefix,
    ZeroFilled,
    Garbage,
}

#[derive(Debug, Clone)]
pub struct ImageFile {
    pub name: String,
    /// Bytes kept because an fdatasync covered them.
    pub durable: u64,
    /// Bytes written but not synced at the cut.
    pub unsynced: u64,
    /// Unsynced bytes that survived.
    pub kept: u64,
    pub mode: Torn,
}

/// The post-power-loss image.
#[derive(Debug, Clone, Default)]
pub struct Image {
    pub files: Vec<ImageFile>,
    pub notes: Vec<String>,
    /// Where the model could not be exact.
    pub inexact: Vec<String>,
}

#[derive(Debug)]
struct ShadowFile {
    inner: Arc<dyn VfsFile>,
    id: u64,
    fs: ShadowFs,
}

impl VfsFile for ShadowFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        drop(self.fs.live()?);
        self.inner.read_at(buf, offset)
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<usize> {
        // The lock is held across the write so that a cut is atomic with respect to it.
        let mut s = self.fs.live()?;
        let n = self.inner.write_at(buf, offset)?;
        let t = s.files.entry(self.id).or_default();
        // Zeros written past the data (the log's `zero_ahead` under group commit) land
        // where the file already reads as zeros: no change to model, and the records
        // later written over them are appends, not rewrites of durable bytes.
        if offset >= t.written_end && buf[..n].iter().all(|&b| b == 0) {
            return Ok(n);
        }
        t.written_end = t.written_end.max(offset + n as u64);
        if offset < t.durable_data && n > 0 {
            t.rewrote_durable = true;
        }
        Ok(n)
    }

    fn len(&self) -> io::Result<u64> {
        drop(self.fs.live()?);
        self.inner.len()
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        let mut s = self.fs.live()?;
        self.inner.set_len(len)?;
        let t = s.files.entry(self.id).or_default();
        t.written_end = t.written_end.min(len);
        t.durable_data = t.durable_data.min(len);
        Ok(())
    }

    fn allocate(&self, offset: u64, len: u64) -> io::Result<()> {
        drop(self.fs.live()?);
        self.inner.allocate(offset, len)
    }

    fn sync_data(&self) -> io::Result<()> {
        let (data, size) = {
            let s = self.fs.live()?;
            let t = s.files.get(&self.id).cloned().unwrap_or_default();
            (t.written_end, self.inner.len()?)
        };
        self.inner.sync_data()?;
        let mut s = self.fs.live()?;
        let t = s.files.entry(self.id).or_default();
        t.durable_data = t.durable_data.max(data);
        t.durable_size = size;
        Ok(())
    }
}

impl Vfs for ShadowFs {
    fn open_read(&self, path: &Path) -> io::Result<Arc<dyn VfsFile>> {
        let mut s = self.live()?;
        let f = RealFs.open_read(path)?;
        let id = Self::id_for(&mut s, path);
        Ok(self.wrap(f, id))
    }

    fn open_write(&self, path: &Path) -> io::Result<Arc<dyn VfsFile>> {
        let mut s = self.live()?;
        let f = RealFs.open_write(path)?;
        let id = Self::id_for(&mut s, path);
        Ok(self.wrap(f, id))
    }

    fn create(&self, path: &Path) -> io::Result<Arc<dyn VfsFile>> {
        let mut s = self.live()?;
        let f = RealFs.create(path)?;
        s.next_id += 1;
        let id = s.next_id;
        s.names.insert(path.to_path_buf(), id);
        s.files.insert(id, Track::default());
        Ok(self.wrap(f, id))
    }

    fn file_len(&self, path: &Path) -> io::Result<u64> {
        drop(self.live()?);
        RealFs.file_len(path)
    }

    fn exists(&self, path: &Path) -> io::Result<bool> {
        drop(self.live()?);
        RealFs.exists(path)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut s = self.live()?;
        // Keep a copy of a small file this rename replaces, in case the power fails before
        // the directory is synced.
        let old = s.names.get(to).copied();
        let saved = match old {
            Some(id) if !s.replaced.contains_key(to) => match std::fs::metadata(to) {
                Ok(m) if m.len() <= KEEP_REPLACED => {
                    let t = s.files.get(&id).cloned().unwrap_or_default();
                    Some((id, std::fs::read(to)?, t))
                }
                _ => None,
            },
            _ => None,
        };
        RealFs.rename(from, to)?;
        if let Some(v) = saved {
            s.replaced.insert(to.to_path_buf(), v);
        }
        if let Some(id) = s.names.remove(from) {
            s.names.insert(to.to_path_buf(), id);
        }
        Ok(())
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        let mut s = self.live()?;
        RealFs.remove_file(path)?;
        s.names.remove(path);
        Ok(())
    }

    fn list_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        drop(self.live()?);
        RealFs.list_dir(path)
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        let mut s = self.live()?;
        let mut missing = Vec::new();
        let mut p = Some(path);
        while let Some(d) = p {
            if d.as_os_str().is_empty() || d.exists() {
                break;
            }
            missing.push(d.to_path_buf());
            p = d.parent();
        }
        RealFs.create_dir_all(path)?;
        s.new_dirs.extend(missing);
        Ok(())
    }

    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        drop(self.live()?);
        RealFs.sync_dir(path)?;
        let mut s = self.live()?;
        let entries: HashMap<String, u64> = s
            .names
            .iter()
            .filter(|(p, _)| p.parent() == Some(path))
            .filter_map(|(p, id)| Some((p.file_name()?.to_string_lossy().into_owned(), *id)))
            .collect();
        s.durable_entries.insert(path.to_path_buf(), entries);
        s.new_dirs.retain(|d| d.parent() != Some(path));
        s.replaced.retain(|p, _| p.parent() != Some(path));
        Ok(())
    }
}

/// Writes through the engine in this process, as a connection of the server would.
pub struct EngineTarget {
    pub engine: SharedEngine,
    pub sync: Option<Arc<SyncShared>>,
    pub sess: Session,
    pub stop: Arc<AtomicBool>,
    /// Clients between "has a request" and "ran its batch", shared by all clients: the
    /// server commits a group when its event loop goes idle (every ready connection ran
    /// its batch), so the client that brings this to zero kicks the group commit.
    pub busy: Arc<AtomicUsize>,
    /// Follow every write with `WAITAOF 1 0 0` and wait for what it waits for.
    pub waitaof: bool,
}

impl Target for EngineTarget {
    fn write(&mut self, keys: &[String], value: &str) -> Result<(), String> {
        let b = |s: &str| bytes::Bytes::copy_from_slice(s.as_bytes());
        let mut cmds: Vec<Args> = Vec::new();
        if keys.len() > 1 {
            cmds.push(vec![b("MULTI")]);
        }
        for k in keys {
            cmds.push(vec![b("SET"), b(k), b(value)]);
        }
        if keys.len() > 1 {
            cmds.push(vec![b("EXEC")]);
        }
        if self.waitaof {
            cmds.push(vec![b("WAITAOF"), b("1"), b("0"), b("0")]);
        }
        // As the server's connections do under everysec: while an fsync is stuck for over
        // 2 s, writers wait rather than let the loss window grow.
        if let Some(sync) = &self.sync {
            if sync.stalled() {
                sync.count_delayed();
                while sync.stalled() {
                    if self.stop.load(Ordering::Relaxed) {
                        return Err("stopped while waiting for a stalled fsync".into());
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        }
        let mut out = ReplyBuf::new(false);
        self.busy.fetch_add(1, Ordering::SeqCst);
        let outcome = {
            let mut e = Engine::lock(&self.engine);
            e.execute_batch(&mut self.sess, &mut cmds, &mut out)
        };
        let idle = self.busy.fetch_sub(1, Ordering::SeqCst) == 1;
        if let Some(f) = outcome.log_failed {
            return Err(f);
        }
        let want: Vec<u8> = if keys.len() > 1 {
            let mut w = b"+OK\r\n".to_vec();
            for _ in keys {
                w.extend_from_slice(b"+QUEUED\r\n");
            }
            w.extend_from_slice(format!("*{}\r\n", keys.len()).as_bytes());
            for _ in keys {
                w.extend_from_slice(b"+OK\r\n");
            }
            w
        } else {
            b"+OK\r\n".to_vec()
        };
        if out.as_bytes() != want.as_slice() {
            return Err(format!(
                "unexpected reply {:?}",
                String::from_utf8_lossy(out.as_bytes())
            ));
        }
        // WAITAOF's reply is not in `out`: the connection sends it once this is durable.
        let wait_lsn = match outcome.aof_wait {
            Some((lsn, _)) => lsn.max(outcome.wait_lsn),
            None if self.waitaof => return Err("WAITAOF did not wait".into()),
            None => outcome.wait_lsn,
        };
        if wait_lsn > 0 {
            let Some(sync) = &self.sync else {
                return Err("the engine has no log".into());
            };
            // What the server does when its event loop goes idle: commit the group now.
            // (Otherwise the fsync thread commits within 2 ms or 256 records by itself.)
            if idle {
                sync.kick();
            }
            while sync.durable_lsn() < wait_lsn {
                if self.stop.load(Ordering::Relaxed) {
                    return Err("not durable before the power cut".into());
                }
                std::thread::sleep(Duration::from_micros(20));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn image_keeps_synced_bytes_and_tears_the_rest() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("d");
        let fs = ShadowFs::new();
        fs.create_dir_all(&dir).unwrap();
        fs.sync_dir(tmp.path()).unwrap();
        let f = fs.create(&dir.join("a")).unwrap();
        f.write_all_at(b"hello ", 0).unwrap();
        f.sync_data().unwrap();
        fs.sync_dir(&dir).unwrap();
        f.write_all_at(b"world", 6).unwrap();
        // Created after the last directory fsync: lost.
        let g = fs.create(&dir.join("b")).unwrap();
        g.write_all_at(b"x", 0).unwrap();
        g.sync_data().unwrap();
        fs.cut();
        assert!(f.write_at(b"!", 11).is_err());
        assert!(f.sync_data().is_err());
        for seed in 0..32 {
            let out = tmp.path().join(format!("img{seed}"));
            let img = fs
                .write_image(&dir, &out, &mut SmallRng::seed_from_u64(seed))
                .unwrap();
            assert!(img.inexact.is_empty(), "{:?}", img.inexact);
            assert!(!out.join("b").exists());
            let a = std::fs::read(out.join("a")).unwrap();
            assert!(a.starts_with(b"hello "), "{a:?}");
            assert!(a.len() <= 11);
            let m = img.files[0].mode;
            if m == Torn::Dropped {
                assert_eq!(a, b"hello ");
            }
            if m == Torn::Prefix {
                assert!(b"hello world".starts_with(&a));
            }
        }
    }

    #[test]
    fn unsynced_rename_keeps_old_or_new_and_unsynced_removal_survives() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("d");
        let fs = ShadowFs::new();
        fs.create_dir_all(&dir).unwrap();
        fs.sync_dir(tmp.path()).unwrap();
        for (name, body) in [("m", &b"old"[..]), ("gone", b"x")] {
            let f = fs.create(&dir.join(name)).unwrap();
            f.write_all_at(body, 0).unwrap();
            f.sync_data().unwrap();
        }
        fs.sync_dir(&dir).unwrap();
        let t = fs.create(&dir.join("m.tmp")).unwrap();
        t.write_all_at(b"new", 0).unwrap();
        t.sync_data().unwrap();
        fs.rename(&dir.join("m.tmp"), &dir.join("m")).unwrap();
        fs.remove_file(&dir.join("gone")).unwrap();
        fs.cut();
        let mut seen = std::collections::BTreeSet::new();
        for seed in 0..40 {
            let out = tmp.path().join(format!("img{seed}"));
            let img = fs
                .write_image(&dir, &out, &mut SmallRng::seed_from_u64(seed))
                .unwrap();
            assert!(img.inexact.is_empty(), "{:?}", img.inexact);
            assert!(!out.join("gone").exists());
            assert!(!out.join("m.tmp").exists());
            seen.insert(std::fs::read(out.join("m")).unwrap());
        }
        let want: std::collections::BTreeSet<Vec<u8>> =
            [b"new".to_vec(), b"old".to_vec()].into_iter().collect();
        assert_eq!(seen, want);
    }
}
