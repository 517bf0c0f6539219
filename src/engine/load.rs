//! Loading at startup: the last snapshot (`appendonly no`), or the log's base snapshot
//! and incremental files, into an engine that connections may already share.
//!
//! While it loads, the engine is in the loading state (INFO `loading:1`, commands without
//! Redis's `loading` flag refused with `-LOADING`). The loader holds the engine only in
//! slices: when a connection waits for it ([`Engine::lock`] counts waiters), the loader
//! lets it in before going on, so a client connected during a long restart gets its
//! answer at once, as from Redis, instead of a refused connection. With nobody waiting
//! the loader never lets go, which keeps restart time what it was. Snapshot files are
//! read, decoded and indexed into tables of their own without the engine, which is held
//! only to swap those tables in.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::MutexGuard;
use std::time::{Duration, Instant};

use tracing::{info, warn};

use super::{
    apply_record, load_threads, Durability, Engine, EngineError, LogDir, OpenOptions, SharedEngine,
};
use crate::command::State;
use crate::keyspace::access::Clock;
use crate::keyspace::{Entry, Table};
use crate::persistence::snapshot::{load_snapshot_boxed, SnapshotLimits};
use crate::persistence::{DataDir, RecoveryOptions, ReplayError, Vfs};

/// Threads blocked in [`Engine::lock`] right now (all engines of the process: a loader
/// that yields for another engine's client loses a few microseconds, nothing else).
pub(super) static WAITERS: AtomicUsize = AtomicUsize::new(0);

/// How long the loader waits for the connections it let in to take the engine.
const HANDOVER: Duration = Duration::from_millis(2);

/// Records applied between two looks at [`WAITERS`].
const CHECK_EVERY: u32 = 64;

/// The loader's hold on a shared engine: taken again on demand, given up whenever
/// somebody waits for it (and during `key-load-delay` pauses).
struct Slices<'a> {
    shared: &'a SharedEngine,
    guard: Option<MutexGuard<'a, Engine>>,
    n: u32,
}

impl<'a> Slices<'a> {
    fn new(shared: &'a SharedEngine) -> Self {
        Slices {
            shared,
            guard: None,
            n: 0,
        }
    }

    fn engine(&mut self) -> &mut Engine {
        self.n = self.n.wrapping_add(1);
        if self.n.is_multiple_of(CHECK_EVERY) && WAITERS.load(Ordering::Relaxed) > 0 {
            self.let_in();
        }
        self.guard.get_or_insert_with(|| Engine::lock(self.shared))
    }

    /// Give the engine up until the threads waiting for it have had it (or a moment).
    fn let_in(&mut self) {
        if self.guard.take().is_none() {
            return;
        }
        let t0 = Instant::now();
        while WAITERS.load(Ordering::Relaxed) > 0 && t0.elapsed() < HANDOVER {
            std::thread::yield_now();
        }
    }

    /// `key-load-delay`: pause without holding the engine.
    fn pause(&mut self, us: u64) {
        self.guard = None;
        std::thread::sleep(Duration::from_micros(us));
    }
}

/// A snapshot file's entries, per database, read and decoded without the engine.
type PerDb = Vec<Vec<Box<Entry>>>;

/// What [`read_snapshot`] read: entries per database, the key count, the function
/// libraries' code.
type Read = (PerDb, u64, Vec<Vec<u8>>);

/// Entries get their access fields at `clock`'s time (what the file kept, or fresh).
fn read_snapshot(
    vfs: &dyn Vfs,
    path: &Path,
    dbs: usize,
    clock: Clock,
    delay_us: u64,
) -> Result<Read, EngineError> {
    let mut per_db: PerDb = (0..dbs).map(|_| Vec::new()).collect();
    let info = load_snapshot_boxed(
        vfs,
        path,
        SnapshotLimits::default(),
        load_threads(),
        Some(clock),
        |db: u16, e: Box<Entry>| {
            let db = db as usize;
            if delay_us > 0 {
                std::thread::sleep(Duration::from_micros(delay_us));
            }
            match per_db.get_mut(db) {
                Some(v) => {
                    v.push(e);
                    Ok(())
                }
                None => Err(format!(
                    "the snapshot has data in db {db} but only {dbs} databases are configured (raise 'databases')"
                )),
            }
        },
    )
    .map_err(|e| EngineError::Replay(format!("loading snapshot {}: {e}", path.display())))?;
    Ok((per_db, info.keys, info.libraries))
}

/// Load a snapshot's function libraries (replacing any loaded: DEBUG RELOAD).
fn install_functions(
    st: &mut State,
    path: &Path,
    libraries: &[Vec<u8>],
) -> Result<(), EngineError> {
    st.functions.clear();
    st.functions.load_all(libraries, false).map_err(|e| {
        EngineError::Replay(format!(
            "loading snapshot {}: a function library does not load: {e}",
            path.display()
        ))
    })
}

/// Index what [`read_snapshot`] read into the (empty) keyspace: each table is sized once
/// for its whole content and filled by [`load_threads`] threads.
fn install_snapshot(st: &mut State, per_db: PerDb) {
    for (db, entries) in per_db.into_iter().enumerate() {
        if !entries.is_empty() {
            st.ks.db_mut(db).bulk_load(entries, load_threads());
        }
    }
}

/// Load a snapshot file into the (empty) keyspace. Returns the number of keys.
pub(super) fn load_into(st: &mut State, vfs: &dyn Vfs, path: &Path) -> Result<u64, EngineError> {
    let t0 = Instant::now();
    st.ks.set_now(crate::util::now_ms());
    let clock = *st.ks.clock();
    let (per_db, keys, libraries) = read_snapshot(vfs, path, st.ks.db_count(), clock, 0)?;
    let read = t0.elapsed();
    install_functions(st, path, &libraries)?;
    install_snapshot(st, per_db);
    log_loaded(path, keys, t0, read);
    Ok(keys)
}

fn log_loaded(path: &Path, keys: u64, t0: Instant, read: Duration) {
    info!(
        "snapshot {}: {keys} keys read in {:.3} s, indexed in {:.3} s",
        path.display(),
        read.as_secs_f64(),
        (t0.elapsed() - read).as_secs_f64()
    );
}

/// Read and index a snapshot without the engine, then hold it only to swap the filled
/// tables in (the keyspace is empty while loading: nothing else writes to it).
fn load_shared(
    shared: &SharedEngine,
    vfs: &dyn Vfs,
    path: &Path,
    delay_us: u64,
) -> Result<u64, EngineError> {
    let t0 = Instant::now();
    let (dbs, clock) = {
        let mut e = Engine::lock(shared);
        e.st.ks.set_now(crate::util::now_ms());
        (e.st.ks.db_count(), *e.st.ks.clock())
    };
    let (per_db, keys, libraries) = read_snapshot(vfs, path, dbs, clock, delay_us)?;
    let read = t0.elapsed();
    let tables: Vec<(usize, Table)> = per_db
        .into_iter()
        .enumerate()
        .filter(|(_, entries)| !entries.is_empty())
        .map(|(db, entries)| {
            let mut t = Table::new();
            t.set_db_index(db);
            t.set_clock(clock);
            t.bulk_load(entries, load_threads());
            (db, t)
        })
        .collect();
    let mut e = Engine::lock(shared);
    install_functions(&mut e.st, path, &libraries)?;
    for (db, mut t) in tables {
        if !e.st.ks.db_mut(db).replace_empty(&mut t) {
            return Err(EngineError::Replay(format!(
                "database {db} changed while {} was loading ({} keys were indexed apart); restart the server",
                path.display(),
                t.len()
            )));
        }
    }
    drop(e);
    log_loaded(path, keys, t0, read);
    Ok(keys)
}

fn file_len(vfs: &dyn Vfs, path: &Path) -> u64 {
    vfs.file_len(path).unwrap_or(0)
}

impl Engine {
    /// An engine about to load `config`'s data directory: empty, in the loading state,
    /// refusing what Redis refuses while loading. [`Engine::load`] fills it.
    pub fn loading(config: crate::config::Config, vfs: std::sync::Arc<dyn Vfs>) -> Self {
        let mut st = State::new(config);
        st.replaying = true;
        st.persist.loading = true;
        st.persist.loading_start_ms = crate::util::now_ms();
        Self::bare(st, None, vfs)
    }

    /// Take the users from `aclfile`, if set: before the first client is served (clients
    /// are let in while the data loads), so none ever runs under other rules.
    pub fn load_acl_at_startup(&mut self) -> Result<(), EngineError> {
        if !self.st.config.aclfile.is_empty() {
            self.st.acl = self.read_acl_file().map_err(EngineError::Acl)?;
        }
        Ok(())
    }

    /// Load the data directory into `shared` (made by [`Engine::loading`]), replaying the
    /// log, and open the log for writes; the engine then leaves the loading state. On an
    /// error the engine stays loading and the server must not start.
    pub fn load(shared: &SharedEngine, o: OpenOptions) -> Result<(), EngineError> {
        let OpenOptions {
            vfs,
            fatal,
            prealloc_chunk,
        } = o;
        let log_config = super::log_config(prealloc_chunk);
        let config = {
            let mut e = Engine::lock(shared);
            // A log switched on later is written the same way.
            e.log_config = log_config;
            e.fatal = fatal.clone();
            e.st.config.clone()
        };
        let dir = config.dir.clone();
        let delay = config.key_load_delay;
        if !config.appendonly {
            // Without the log, the last snapshot (`dbfilename`) is the dataset, as in Redis.
            let dump = dir.join(&config.dbfilename);
            if vfs.exists(&dump).unwrap_or(false) {
                let t0 = Instant::now();
                let total = file_len(&*vfs, &dump);
                Engine::lock(shared).st.persist.loading_total_bytes = total;
                let n = load_shared(shared, &*vfs, &dump, delay)?;
                info!(
                    "DB loaded from {}: {n} keys in {:.3} seconds",
                    dump.display(),
                    t0.elapsed().as_secs_f64()
                );
            }
            Engine::lock(shared).finish_loading();
            return Ok(());
        }
        let opts = RecoveryOptions {
            load_truncated: config.aof_load_truncated,
            log: log_config,
            ..RecoveryOptions::default()
        };
        let t0 = Instant::now();
        // With no live set yet, the snapshot a server without the log wrote becomes its
        // first base (see `DataDir::open_adopting`).
        let dump = dir.join(&config.dbfilename);
        let data = DataDir::open_adopting(vfs.clone(), &dir, opts, Some(&dump))?;
        if !data.cleaned().is_empty() {
            warn!(
                "removed {:?}: left by a log switched on (or a snapshot adopted) that never finished; they were never part of the data set",
                data.cleaned()
            );
        }
        if let Some(from) = data.adopted() {
            info!(
                "appendonly yes and no log in {} yet: starting the log from {} (copied as its first base)",
                dir.display(),
                from.display()
            );
        }
        // Progress: bytes of the base plus the logs' frames read so far.
        let base_bytes = data.base_path().map_or(0, |p| file_len(&*vfs, &p));
        let total = data.estimated_bytes();
        Engine::lock(shared).st.persist.loading_total_bytes = total;
        if let Some(base) = data.base_path() {
            let n = load_shared(shared, &*vfs, &base, delay)?;
            Engine::lock(shared).st.persist.loading_loaded_bytes = base_bytes;
            info!("base snapshot {} loaded: {n} keys", base.display());
        }
        let now = crate::util::now_ms();
        let mut loaded = base_bytes;
        let mut slices = Slices::new(shared);
        let recovered = data
            .replay(|rec| {
                loaded += rec.len;
                let e = slices.engine();
                e.st.persist.loading_loaded_bytes = loaded;
                let r = apply_record(&mut e.st, rec, now);
                if delay > 0 {
                    slices.pause(delay);
                }
                r
            })
            .map_err(|e| match e {
                ReplayError::Recovery(r) => EngineError::Recovery(r),
                other => EngineError::Replay(format!(
                    "{other}. The log holds a command this version cannot apply; run `verify-aof check {}`",
                    dir.display()
                )),
            })?;
        drop(slices);
        let s = &recovered.stats;
        if let Some(t) = &s.truncated {
            warn!(
                "truncated a torn tail of {} bytes at offset {} of {} ({})",
                t.torn_bytes,
                t.offset,
                t.path.display(),
                t.problem
            );
        }
        if s.created {
            info!("created data directory {}", dir.display());
        } else {
            info!(
                "DB loaded from append only file: {} records, {} bytes, {} files in {:.3} seconds",
                s.records,
                s.bytes,
                s.files,
                t0.elapsed().as_secs_f64()
            );
        }
        let files = LogDir {
            vfs: vfs.clone(),
            dir: dir.clone(),
            manifest: recovered.manifest,
            config: log_config,
        };
        let mut e = Engine::lock(shared);
        // The policy as it is now: a CONFIG SET during the load applies.
        let policy = e.st.config.appendfsync;
        let latency = e.st.latency.clone();
        let dur = Durability::new(recovered.writer, files, policy, fatal, latency);
        e.log_opened(dur);
        e.finish_loading();
        Ok(())
    }

    /// Leave the loading state: what was loaded is the dataset, nothing of it is dirty.
    fn finish_loading(&mut self) {
        let st = &mut self.st;
        st.replaying = false;
        st.persist.loading = false;
        st.effects.clear();
        st.dirty = 0;
    }
}
