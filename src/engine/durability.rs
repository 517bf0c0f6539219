//! The engine's side of the append-only log: LSN assignment, group commit, the fsync
//! thread, and the durability contract of each `appendfsync` policy.
//!
//! * `no`, `everysec`: every batch's effects are appended and handed to the OS with one
//!   write before the batch's replies leave ("+OK means it is in the OS").
//! * `always`: the engine only appends to the log buffer; a background thread takes
//!   everything appended so far and does one write + one fdatasync for the whole group
//!   while the engine keeps executing. Replies wait (in the connection, not here) until
//!   the fsync covering the newest change they observed has returned; batches that
//!   observed only durable data reply at once.
//! * `everysec`: the same thread fsyncs at most once a second; a connection about to write
//!   waits while an fsync has been stuck for over 2 s, so the loss window stays bounded.
//! * A failed fsync or write is never retried. Under `always` the process exits (nobody
//!   was told OK for what was not durable, and restart recovers the durable state);
//!   otherwise writes are refused with MISCONF until an operator intervenes.
//! * Disk full is caught by reserving log space before a batch runs; writes are refused
//!   (reads go on) and resume by themselves once the reservation succeeds again.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::watch;
use tracing::{error, info, warn};

use crate::command::Effect;
use crate::config::FsyncPolicy;
use std::path::PathBuf;

use crate::persistence::{
    base_file_name, incr_file_name, LogConfig, LogError, LogHeader, LogSyncer, LogWriter, Manifest,
    SyncPoint, Vfs,
};

/// Name of the record that packs a whole MULTI/EXEC transaction, so the log applies all
/// of it or none of it: args are `STRATA.TXN` then, per command, its db, its argument
/// count and its arguments.
pub const TXN_RECORD: &[u8] = b"STRATA.TXN";

/// What happens when the log fails under `appendfsync always`: by default the process
/// exits; tests install a hook that records the failure instead.
pub type FatalHook = Arc<dyn Fn(&str) + Send + Sync>;

/// The production behaviour: log and exit. Restart recovers exactly the durable state,
/// and no waiting client was told OK for anything else.
pub fn exit_on_fatal() -> FatalHook {
    Arc::new(|msg: &str| {
        error!("FATAL: {msg}. Exiting: no client was told OK for data that is not durable; restart recovers the durable state (check the disk first).");
        std::process::exit(1);
    })
}

/// Work for the fsync thread once the log is durable up to some LSN (see
/// [`SyncShared::after_durable`]). It is called with `true` when that LSN is durable and
/// with `false` when it never will be (the log failed, or closed before reaching it);
/// a hook dropped unrun must be read as `false`.
pub type DurableHook = Box<dyn FnOnce(bool) + Send>;

/// An fsync running longer than this makes writers wait under `everysec`.
const FSYNC_STALL_MS: u64 = 2000;

struct SyncCtl {
    /// LSN of the last record appended to the writer's buffer.
    appended: u64,
    /// The engine asked for the appended records to be committed now (`always`).
    kicked: bool,
    /// When the oldest not-yet-committed append happened (ms; 0 = none).
    pending_since_ms: u64,
    written: SyncPoint,
    durable: SyncPoint,
    policy: FsyncPolicy,
    syncer: LogSyncer,
    last_sync_ms: u64,
    /// The engine wants everything up to this LSN durable now, whatever the policy (a log
    /// rewrite is about to switch files; see [`Durability::request_sync`]).
    sync_requested: u64,
    stop: bool,
}

/// State shared between the engine, the fsync thread and waiting connections.
pub struct SyncShared {
    /// The log writer. The engine appends under this lock; under `always` the fsync
    /// thread takes it briefly to write the group.
    writer: Mutex<LogWriter>,
    ctl: Mutex<SyncCtl>,
    cv: Condvar,
    durable_lsn: AtomicU64,
    /// Nothing above this LSN counts as durable (u64::MAX: no limit). A log switched on
    /// at run time is not recoverable until the manifest names it with its first base:
    /// until then its fsyncs prove nothing, and replies under `always` must wait.
    gate: AtomicU64,
    fsync_started_ms: AtomicU64,
    delayed_fsync: AtomicU64,
    error: Mutex<Option<String>>,
    durable_tx: watch::Sender<u64>,
    /// The fsync thread signals a completed fsync here; [`SyncShared::relay`] (a task in
    /// the server's runtime) publishes it to `durable_tx`.
    synced: tokio::sync::Notify,
    /// Connections inside [`SyncShared::wait_durable`]: without any, the fsync thread
    /// leaves the relay (and so the event loop) asleep.
    waiters: AtomicUsize,
    /// Hooks waiting for their LSN to become durable, run by the fsync thread.
    hooks: Mutex<Vec<(u64, DurableHook)>>,
    fatal: FatalHook,
    /// LATENCY's samples: slow group writes and fsyncs are recorded here.
    latency: Arc<crate::command::LatencyMonitor>,
}

impl SyncShared {
    pub fn durable_lsn(&self) -> u64 {
        self.durable_lsn.load(Ordering::Acquire)
    }

    /// Under `everysec`: an fsync has been running for more than 2 s.
    pub fn stalled(&self) -> bool {
        let started = self.fsync_started_ms.load(Ordering::Acquire);
        started != 0 && crate::util::now_ms().saturating_sub(started) > FSYNC_STALL_MS
    }

    pub fn count_delayed(&self) {
        self.delayed_fsync.fetch_add(1, Ordering::Relaxed);
    }

    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.durable_tx.subscribe()
    }

    /// Forward fsync completions to the connections waiting on [`SyncShared::subscribe`],
    /// until `stop` completes. Run it as one task inside the runtime that serves those
    /// connections: the fsync thread then makes one cross-thread wake-up per group (this
    /// task) and the task wakes the waiters locally, instead of one wake-up per waiting
    /// connection (each costs the runtime a syscall; ~1.5 per command at pipeline 1).
    pub async fn relay(&self, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        loop {
            tokio::select! {
                _ = self.synced.notified() => {}
                _ = &mut stop => return,
            }
            self.publish();
        }
    }

    /// WAITAOF: wait until everything up to `lsn` is durable (true), or until the log
    /// failed or `timeout_ms` (0: no limit) passed (false).
    pub async fn wait_durable_for(
        &self,
        rx: &mut watch::Receiver<u64>,
        lsn: u64,
        timeout_ms: u64,
    ) -> bool {
        let wait = async {
            loop {
                // A failed fsync is never retried: nothing more will become durable. The
                // failure does not wake the relay, so look now and then.
                if lock(&self.error).is_some() {
                    return false;
                }
                let step =
                    tokio::time::timeout(Duration::from_millis(100), self.wait_durable(rx, lsn));
                if step.await.is_ok() {
                    return self.durable_lsn() >= lsn;
                }
            }
        };
        if timeout_ms == 0 {
            return wait.await;
        }
        tokio::time::timeout(Duration::from_millis(timeout_ms), wait)
            .await
            .unwrap_or(false)
    }

    /// Wait until everything up to `lsn` is durable, or the log is gone (`rx` comes from
    /// [`SyncShared::subscribe`]).
    pub async fn wait_durable(&self, rx: &mut watch::Receiver<u64>, lsn: u64) {
        if self.durable_lsn() >= lsn {
            return;
        }
        struct Waiting<'a>(&'a AtomicUsize);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        self.waiters.fetch_add(1, Ordering::SeqCst);
        let _waiting = Waiting(&self.waiters);
        // `mark_durable` raises `durable_lsn` and then reads `waiters` (both SeqCst):
        // either it sees this waiter and wakes the relay, or this sees the new LSN.
        while self.durable_lsn.load(Ordering::SeqCst) < lsn && *rx.borrow_and_update() < lsn {
            if rx.changed().await.is_err() {
                return;
            }
        }
    }

    /// Run `hook` on the fsync thread right after the fsync that makes `lsn` durable,
    /// before waiting connections are woken. A connection hands its reply over this way
    /// so that the reply leaves the moment it may, without a wake-up of the event loop
    /// per group and per client. When `lsn` is already durable, or never will be (the
    /// log failed), the hook runs at once on the calling thread.
    pub fn after_durable(&self, lsn: u64, hook: DurableHook) {
        let mut hooks = lock(&self.hooks);
        // Checked under the lock the fsync thread takes after raising `durable_lsn` (and
        // `give_up` after recording the failure): it either sees this hook or this sees
        // the new state.
        let now = if self.durable_lsn() >= lsn {
            Some(true)
        } else if lock(&self.error).is_some() {
            Some(false)
        } else {
            None
        };
        match now {
            Some(durable) => {
                drop(hooks);
                hook(durable);
            }
            None => hooks.push((lsn, hook)),
        }
    }

    /// The log now recovers on its own (its first base and the manifest naming it are
    /// durable): what its fsyncs covered counts as durable from here on.
    pub fn open_gate(&self) {
        self.gate.store(u64::MAX, Ordering::SeqCst);
        let lsn = lock(&self.ctl).durable.lsn;
        self.mark_durable(lsn);
    }

    /// Everything up to `lsn` is durable: release the hooks waiting for it, then the
    /// connections waiting through the relay (woken only if there are any). Every path
    /// that makes the log durable (group fsync, rotation, clean close) ends here.
    fn mark_durable(&self, lsn: u64) {
        // A log not yet installed proves nothing (see `gate`).
        let lsn = lsn.min(self.gate.load(Ordering::SeqCst));
        // SeqCst: `wait_durable` raises `waiters` and then reads this (see there).
        self.durable_lsn.fetch_max(lsn, Ordering::SeqCst);
        self.run_hooks(Some(lsn));
        if self.waiters.load(Ordering::SeqCst) > 0 {
            self.synced.notify_one();
        }
    }

    /// Run the hooks whose LSN is now durable (`durable`), or every hook with `false`
    /// when nothing more will become durable (`durable == None`).
    fn run_hooks(&self, durable: Option<u64>) {
        let ready: Vec<(u64, DurableHook)> = {
            let mut hooks = lock(&self.hooks);
            match durable {
                Some(lsn) if hooks.iter().any(|(l, _)| *l > lsn) => {
                    let (ready, keep) = std::mem::take(&mut *hooks)
                        .into_iter()
                        .partition(|(l, _)| *l <= lsn);
                    *hooks = keep;
                    ready
                }
                _ => std::mem::take(&mut *hooks),
            }
        };
        let ok = durable.is_some();
        for (_, hook) in ready {
            hook(ok);
        }
    }

    /// Publish the durable LSN to the waiting connections (if it moved).
    pub fn publish(&self) {
        let lsn = self.durable_lsn();
        self.durable_tx.send_if_modified(|v| {
            let moved = lsn > *v;
            *v = (*v).max(lsn);
            moved
        });
    }

    /// Commit what has been appended now. The server calls this when its event loop is
    /// about to sleep (every ready connection has run its batch), so one write + one
    /// fsync covers everything that arrived together, like Redis's beforeSleep.
    pub fn kick(&self) {
        let mut c = lock(&self.ctl);
        if c.appended > c.written.lsn && !c.kicked {
            c.kicked = true;
            drop(c);
            self.cv.notify_one();
        }
    }
}

/// Under `always`, a group is committed once the loop goes idle ([`SyncShared::kick`]),
/// once this many records are waiting, or once the oldest has waited this long.
const GROUP_RECORDS: u64 = 256;
const GROUP_WAIT_MS: u64 = 2;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Where the log lives: what a rewrite needs to create files and switch the manifest.
pub struct LogDir {
    pub vfs: Arc<dyn Vfs>,
    pub dir: PathBuf,
    pub manifest: Manifest,
    pub config: LogConfig,
}

/// A rewrite in progress: the new base to write, and the manifest that will name it.
pub struct Rotation {
    /// Path of the base snapshot to write.
    pub base_path: PathBuf,
    pub base_seq: u64,
    /// The snapshot holds every record up to this LSN; the new log starts after it.
    pub lsn: u64,
    /// Bytes of log before the rotation (what the rewrite compacts).
    pub old_log_bytes: u64,
}

/// The log attached to the engine.
pub struct Durability {
    pub files: LogDir,
    next_lsn: u64,
    policy: FsyncPolicy,
    shared: Arc<SyncShared>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// Why writes are refused: a failed write/fsync (permanent until restart).
    failed: Option<String>,
    /// Why writes are refused: the log could not reserve space (clears by itself).
    no_space: Option<String>,
    pruned_at: u64,
}

impl Durability {
    pub fn new(
        writer: LogWriter,
        files: LogDir,
        policy: FsyncPolicy,
        fatal: FatalHook,
        latency: Arc<crate::command::LatencyMonitor>,
    ) -> Durability {
        let next_lsn = writer
            .last_lsn()
            .max(writer.header().start_lsn.saturating_sub(1))
            + 1;
        let durable = writer.written();
        let syncer = writer.syncer();
        let (durable_tx, _) = watch::channel(durable.lsn);
        let shared = Arc::new(SyncShared {
            writer: Mutex::new(writer),
            ctl: Mutex::new(SyncCtl {
                appended: durable.lsn,
                kicked: false,
                pending_since_ms: 0,
                written: durable,
                durable,
                policy,
                syncer,
                last_sync_ms: crate::util::now_ms(),
                sync_requested: 0,
                stop: false,
            }),
            cv: Condvar::new(),
            durable_lsn: AtomicU64::new(durable.lsn),
            gate: AtomicU64::new(u64::MAX),
            fsync_started_ms: AtomicU64::new(0),
            delayed_fsync: AtomicU64::new(0),
            error: Mutex::new(None),
            durable_tx,
            synced: tokio::sync::Notify::new(),
            waiters: AtomicUsize::new(0),
            hooks: Mutex::new(Vec::new()),
            fatal,
            latency,
        });
        let s2 = shared.clone();
        let thread = std::thread::Builder::new()
            .name("strata-fsync".into())
            .spawn(move || fsync_loop(&s2))
            .expect("spawn the fsync thread");
        Durability {
            files,
            next_lsn,
            policy,
            shared,
            thread: Some(thread),
            failed: None,
            no_space: None,
            pruned_at: 0,
        }
    }

    pub fn shared(&self) -> Arc<SyncShared> {
        self.shared.clone()
    }

    /// A log switched on at run time: nothing it takes counts as durable until
    /// [`SyncShared::open_gate`] (once its first base is installed).
    pub fn hold_until_installed(&self) {
        self.shared.gate.store(self.last_lsn(), Ordering::SeqCst);
    }

    pub fn policy(&self) -> FsyncPolicy {
        self.policy
    }

    pub fn last_lsn(&self) -> u64 {
        self.next_lsn - 1
    }

    pub fn delayed_fsync(&self) -> u64 {
        self.shared.delayed_fsync.load(Ordering::Relaxed)
    }

    pub fn set_policy(&mut self, policy: FsyncPolicy) {
        if policy != self.policy {
            info!("appendfsync is now {}", policy.name());
            let was_always = self.policy == FsyncPolicy::Always;
            self.policy = policy;
            let mut c = lock(&self.shared.ctl);
            c.policy = policy;
            // Replies waiting for an fsync under `always` get it now, not whenever the
            // new policy would sync (never, under `no`).
            if was_always {
                c.sync_requested = c.sync_requested.max(c.appended);
            }
            drop(c);
            self.shared.cv.notify_one();
        }
    }

    /// Bytes of the current log handed to the OS but not yet fsynced.
    pub fn unsynced_bytes(&self) -> u64 {
        let c = lock(&self.shared.ctl);
        c.written.offset.saturating_sub(c.durable.offset)
    }

    /// Ask the fsync thread to make everything written so far durable now, whatever the
    /// policy (under `no` it otherwise never syncs). Returns the LSN to wait for with
    /// [`Durability::synced_to`]. A rewrite does this before [`Durability::rotate`], so
    /// that the rotation's own fsync, which runs on the event loop, has little left to do.
    pub fn request_sync(&mut self) -> u64 {
        let mut c = lock(&self.shared.ctl);
        let target = c.written.lsn;
        c.sync_requested = c.sync_requested.max(target);
        drop(c);
        self.shared.cv.notify_one();
        target
    }

    /// Whether everything up to `lsn` is durable.
    pub fn synced_to(&self, lsn: u64) -> bool {
        self.shared.durable_lsn() >= lsn
    }

    /// Why write commands must be refused right now, if they must.
    pub fn refusal(&mut self) -> Option<String> {
        if self.failed.is_none() {
            if let Some(e) = lock(&self.shared.error).clone() {
                self.failed = Some(e);
            }
        }
        if let Some(f) = &self.failed {
            return Some(format!("MISCONF Errors writing to the AOF file: {f}"));
        }
        self.no_space
            .as_ref()
            .map(|e| format!("MISCONF Errors writing to the AOF file: {e} (writes resume by themselves once disk space is freed)"))
    }

    /// Make sure `bytes` of log space are reserved before a batch of writes runs.
    pub fn reserve(&mut self, bytes: u64) {
        if self.failed.is_some() {
            return;
        }
        let r = lock(&self.shared.writer).reserve(bytes);
        match r {
            Ok(()) => {
                if self.no_space.take().is_some() {
                    info!("log space is available again: accepting writes");
                }
            }
            Err(e) if e.is_no_space() => {
                if self.no_space.is_none() {
                    warn!("refusing writes: {e}");
                }
                self.no_space = Some("No space left on device".into());
            }
            Err(e) => self.fail(e),
        }
    }

    fn fail(&mut self, e: LogError) {
        let msg = e.to_string();
        if self.policy == FsyncPolicy::Always {
            (self.shared.fatal)(&format!(
                "the append-only log failed under appendfsync always: {msg}"
            ));
        }
        error!("the append-only log failed: {msg}. Refusing writes until restart (check the disk, then restart; nothing acknowledged is lost).");
        lock(&self.shared.writer).poison(msg.clone());
        self.failed = Some(msg);
    }

    /// Entries of the pending-key map that are now durable can be forgotten.
    pub fn prune(&mut self, pending: &mut crate::command::Pending) {
        let durable = self.shared.durable_lsn();
        if durable == self.pruned_at {
            return;
        }
        self.pruned_at = durable;
        let point = lock(&self.shared.ctl).durable;
        lock(&self.shared.writer).mark_durable(point);
        if !pending.keys.is_empty() {
            pending.keys.retain(|_, lsn| *lsn > durable);
        }
        if pending.global <= durable {
            pending.global = 0;
        }
    }

    /// Log the batch's effects. Under `always` they are only appended (the fsync thread
    /// writes and syncs the group); otherwise they are written to the OS now, with one
    /// write. Returns the LSN of the last record.
    pub fn log_effects(&mut self, effects: &mut Vec<Effect>) -> Result<u64, String> {
        if effects.is_empty() {
            return Ok(0);
        }
        let mut writer = lock(&self.shared.writer);
        let mut txn: Option<(u16, Vec<Bytes>)> = None;
        let mut failure = None;
        for e in effects.drain(..) {
            let name = e.args[0].as_ref();
            let record = if name == b"MULTI" {
                txn = Some((e.db as u16, vec![Bytes::from_static(TXN_RECORD)]));
                None
            } else if name == b"EXEC" {
                txn.take()
            } else if let Some((_, args)) = txn.as_mut() {
                args.push(Bytes::from(e.db.to_string()));
                args.push(Bytes::from(e.args.len().to_string()));
                args.extend(e.args);
                None
            } else {
                Some((e.db as u16, e.args))
            };
            if let Some((db, args)) = record {
                let lsn = self.next_lsn;
                self.next_lsn += 1;
                if let Err(err) = writer.append(lsn, db, &args) {
                    failure.get_or_insert(err);
                }
            }
        }
        let last = self.next_lsn - 1;
        let result = match failure {
            Some(e) => Err(e),
            None if self.policy == FsyncPolicy::Always => Ok(None),
            None => writer.write_pending().map(Some),
        };
        drop(writer);
        match result {
            Ok(written) => {
                let mut c = lock(&self.shared.ctl);
                // The fsync thread may be in a long sleep with nothing to do: wake it so it
                // commits within GROUP_WAIT_MS even if no kick comes.
                let was_idle = c.pending_since_ms == 0;
                if was_idle {
                    c.pending_since_ms = crate::util::now_ms();
                }
                c.appended = last;
                let notify = match written {
                    // `everysec`/`no`: the fsync thread wakes on its own clock; waking it per
                    // batch would cost two context switches per batch for nothing.
                    Some(point) => {
                        c.written = point;
                        false
                    }
                    // A big group is worth committing without waiting for the loop to idle.
                    None => last - c.written.lsn >= GROUP_RECORDS,
                };
                c.kicked |= notify;
                drop(c);
                if notify || (was_idle && self.policy == FsyncPolicy::Always) {
                    self.shared.cv.notify_one();
                }
                Ok(last)
            }
            Err(e) => {
                let msg = e.to_string();
                self.fail(e);
                Err(msg)
            }
        }
    }

    /// Start a log rewrite at this instant: make everything logged so far durable, begin a
    /// new incremental log at the next LSN, and durably list it in the manifest (the old
    /// base and logs plus the new log), so a crash at any later step recovers correctly. The caller
    /// then snapshots the keyspace (which is exactly the state at `lsn`) into `base_path`
    /// and finally calls [`Durability::install_base`].
    pub fn rotate(&mut self) -> Result<Rotation, String> {
        if let Some(f) = &self.failed {
            return Err(format!("the log has failed: {f}"));
        }
        let lsn = self.next_lsn - 1;
        let mut writer = lock(&self.shared.writer);
        writer.write_and_sync().map_err(|e| e.to_string())?;
        let old_log_bytes = self.log_bytes_locked(&writer);
        let mut m = self.files.manifest.clone();
        let base_seq = m.allocate_seq();
        let incr_seq = m.allocate_seq();
        let path = self.files.dir.join(incr_file_name(incr_seq));
        let io = |what: &str, e: &dyn std::fmt::Display| format!("log rewrite: {what}: {e}");
        let new = LogWriter::create(
            &*self.files.vfs,
            &path,
            LogHeader::new(incr_seq, lsn + 1),
            self.files.config,
        )
        .map_err(|e| io("creating the new log", &e))?;
        self.files
            .vfs
            .sync_dir(&self.files.dir)
            .map_err(|e| io("syncing the directory", &e))?;
        m.add_incr(incr_seq).map_err(|e| io("manifest", &e))?;
        m.store(&*self.files.vfs, &self.files.dir)
            .map_err(|e| io("storing the manifest", &e))?;
        self.files.manifest = m;
        let syncer = new.syncer();
        let start = new.written();
        *writer = new;
        drop(writer);
        let point = SyncPoint {
            offset: start.offset,
            lsn,
        };
        let mut c = lock(&self.shared.ctl);
        c.syncer = syncer;
        c.written = point;
        c.durable = point;
        c.appended = lsn;
        c.kicked = false;
        c.pending_since_ms = 0;
        drop(c);
        // Everything up to `lsn` was just written and synced: release its waiters.
        self.shared.mark_durable(lsn);
        info!(
            "log rewrite started: new log {} from LSN {}",
            path.display(),
            lsn + 1
        );
        Ok(Rotation {
            base_path: self.files.dir.join(base_file_name(base_seq)),
            base_seq,
            lsn,
            old_log_bytes,
        })
    }

    /// What the snapshot thread runs once the new base is complete and durable: name it
    /// in the manifest (atomically), then delete the files it replaces and `also_remove`
    /// (the files of a manifest it replaces).
    pub fn installer(
        &self,
        base_seq: u64,
        also_remove: Vec<String>,
    ) -> impl FnOnce() -> Result<(), String> + Send {
        let vfs = self.files.vfs.clone();
        let dir = self.files.dir.clone();
        let mut m = self.files.manifest.clone();
        move || {
            let dropped = m.install_base(base_seq).map_err(|e| e.to_string())?;
            vfs.sync_dir(&dir).map_err(|e| e.to_string())?;
            m.store(&*vfs, &dir).map_err(|e| e.to_string())?;
            // Only now, with the new manifest durable, may the old files go.
            let names = dropped.into_iter().map(|f| f.name).chain(also_remove);
            for name in names {
                let _ = vfs.remove_file(&dir.join(name));
            }
            vfs.sync_dir(&dir).map_err(|e| e.to_string())
        }
    }

    /// Record in memory what [`Durability::installer`] made durable.
    pub fn install_base(&mut self, base_seq: u64) {
        let _ = self.files.manifest.install_base(base_seq);
    }

    /// Bytes of the live base snapshot and log files (`aof_current_size`; what automatic
    /// rewrites compare against the size after the last rewrite).
    pub fn log_bytes(&self) -> u64 {
        let w = lock(&self.shared.writer);
        self.log_bytes_locked(&w)
    }

    fn log_bytes_locked(&self, w: &LogWriter) -> u64 {
        let others: u64 = self
            .files
            .manifest
            .incrs
            .iter()
            .filter(|e| self.files.dir.join(&e.name) != w.path())
            .filter_map(|e| self.files.vfs.file_len(&self.files.dir.join(&e.name)).ok())
            .sum();
        let base = self
            .files
            .manifest
            .base
            .as_ref()
            .and_then(|b| self.files.vfs.file_len(&self.files.dir.join(&b.name)).ok())
            .unwrap_or(0);
        base + others + w.written().offset
    }

    /// Write and fsync everything, then stop the fsync thread (clean shutdown).
    pub fn close(&mut self) -> Result<(), String> {
        {
            let mut c = lock(&self.shared.ctl);
            c.stop = true;
        }
        self.shared.cv.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        if self.failed.is_some() {
            return Err(self.failed.clone().unwrap_or_default());
        }
        let r = lock(&self.shared.writer).write_and_sync();
        match &r {
            Ok(point) => self.shared.mark_durable(point.lsn),
            Err(_) => self.shared.run_hooks(None),
        }
        r.map(|_| ()).map_err(|e| e.to_string())
    }
}

impl Drop for Durability {
    fn drop(&mut self) {
        lock(&self.shared.ctl).stop = true;
        self.shared.cv.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        // Not closed cleanly: nothing more becomes durable through this log.
        self.shared.run_hooks(None);
    }
}

fn fsync_loop(s: &SyncShared) {
    loop {
        let (syncer, policy) = {
            let mut c = lock(&s.ctl);
            loop {
                if c.stop {
                    return;
                }
                let now = crate::util::now_ms();
                let old = now.saturating_sub(c.pending_since_ms) >= GROUP_WAIT_MS;
                let wait = match c.policy {
                    _ if c.sync_requested > c.durable.lsn => break,
                    FsyncPolicy::Always if c.appended > c.durable.lsn && (c.kicked || old) => break,
                    FsyncPolicy::Always if c.appended > c.durable.lsn => GROUP_WAIT_MS,
                    FsyncPolicy::Everysec if c.written.lsn > c.durable.lsn => {
                        let due = c.last_sync_ms + 1000;
                        if now >= due {
                            break;
                        }
                        due - now
                    }
                    _ => 1000,
                };
                c =
                    s.cv.wait_timeout(c, Duration::from_millis(wait))
                        .unwrap_or_else(|p| p.into_inner())
                        .0;
            }
            c.kicked = false;
            c.pending_since_ms = 0;
            (c.syncer.clone(), c.policy)
        };
        // One write for the whole group (whatever the engine appended meanwhile), then
        // one fdatasync; the engine keeps appending while the fsync runs.
        let write_started = std::time::Instant::now();
        let written = lock(&s.writer).write_pending();
        s.latency
            .record("aof-write", write_started.elapsed().as_millis() as u64);
        let target = match written {
            Ok(point) => {
                let mut c = lock(&s.ctl);
                c.written = point;
                // Appends that slipped in before the write are part of this group: their
                // kick and start time must not linger, or the next group's would be lost.
                if point.lsn >= c.appended {
                    c.kicked = false;
                    c.pending_since_ms = 0;
                }
                point
            }
            Err(e) => {
                give_up(
                    s,
                    policy,
                    &format!("writing the append-only log failed ({e})"),
                );
                return;
            }
        };
        s.fsync_started_ms
            .store(crate::util::now_ms(), Ordering::Release);
        let sync_started = std::time::Instant::now();
        let r = syncer.sync();
        s.fsync_started_ms.store(0, Ordering::Release);
        let event = if policy == FsyncPolicy::Always {
            "aof-fsync-always"
        } else {
            "aof-fsync"
        };
        s.latency
            .record(event, sync_started.elapsed().as_millis() as u64);
        match r {
            Ok(()) => {
                // Compare LSNs, not offsets: a log rewrite may have switched files since.
                let mut c = lock(&s.ctl);
                if target.lsn > c.durable.lsn {
                    c.durable = target;
                }
                c.last_sync_ms = crate::util::now_ms();
                drop(c);
                s.mark_durable(target.lsn);
                // Group commit syncs often: keep the next records' blocks pre-written so
                // those fsyncs flush data only (see `LogWriter::zero_ahead`).
                if policy == FsyncPolicy::Always {
                    // Bind first: `give_up` takes the writer lock again.
                    let zeroed = lock(&s.writer).zero_ahead();
                    if let Err(e) = zeroed {
                        give_up(
                            s,
                            policy,
                            &format!("writing the append-only log failed ({e})"),
                        );
                        return;
                    }
                }
            }
            Err(e) => {
                give_up(
                    s,
                    policy,
                    &format!("fdatasync of the append-only log failed ({e}); it is never retried because a retried fsync can lie"),
                );
                return;
            }
        }
    }
}

/// A write or fsync failed: fatal under `always`, otherwise writes are refused from now on.
fn give_up(s: &SyncShared, policy: FsyncPolicy, msg: &str) {
    lock(&s.writer).poison(msg.to_string());
    if policy == FsyncPolicy::Always {
        (s.fatal)(&format!("{msg} under appendfsync always"));
    }
    error!("{msg}. Refusing writes until restart.");
    *lock(&s.error) = Some(msg.to_string());
    s.run_hooks(None);
}
