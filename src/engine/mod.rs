//! The engine: the single owner of the keyspace.
//!
//! Connections hand it batches of parsed commands; it executes them one at a time, in the
//! order they arrive (that order is the log order), hands each batch's effects to the log
//! ([`durability`]) and returns the replies plus the LSN they must wait for. Holding the
//! engine (one lock acquisition per pipelined batch) is what serialises execution.
//!
//! Submodules: [`durability`] (the log writer, group commit and the fsync thread),
//! `load` (loading the data directory at startup while clients get `-LOADING`) and
//! [`snapshot`] (fork-free snapshots for BGSAVE and log rewrites).

pub mod durability;
mod load;
pub mod snapshot;

use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use tracing::{info, warn};

use crate::command::{self, ClientInfo, KillHandle, PersistRequest, Session, Shutdown, State};
use crate::config::{Config, FsyncPolicy};
use crate::keyspace::{Entry, Table, Warm};
use crate::persistence::{
    incr_file_name, LogConfig, LogHeader, LogWriter, Manifest, RealFs, Record, RecoveryError, Vfs,
};
use crate::protocol::{Args, ReplyBuf};

pub use durability::{
    exit_on_fatal, Durability, DurableHook, FatalHook, LogDir, SyncShared, TXN_RECORD,
};
use snapshot::{Install, JobResult, SnapshotJob};

/// Entries a snapshot pump step captures while holding the engine: pointer copies, about
/// 0.1 ms for this many (the writer thread paces the pump through its backlog).
pub const SNAPSHOT_STEP: usize = 16384;

/// Commands of a pipelined batch whose keys are looked up together before they run.
const WARM_AHEAD: usize = 32;

/// A log rewrite that finds more than this many bytes of the current log not yet
/// fsynced asks the fsync thread to sync them, and switches logs once that is done.
/// The switch runs on the event loop and must make the old log durable: with up to a
/// second of writes pending under `everysec` its fdatasync stalled every client for
/// 6-10 ms, and under `no` (tens of seconds of writes) it could take seconds. After the
/// pre-sync it covers only what was written meanwhile.
const PRESYNC_BYTES: u64 = 256 * 1024;

/// Touch what the next commands of a pipelined batch will read, in tight passes, so the
/// cache misses of independent lookups overlap instead of each command waiting for its
/// own. Each pass only starts loads the next one needs: the keys' segment headers, then
/// their entries (and a string value's bytes); when a key holds a large set or hash, its
/// second argument (the member or field, for most such commands) gets two more: its
/// index slot, then the member or pair that slot points to. A window of [`WARM_AHEAD`]
/// commands, so what was touched is still cached when its command runs. Only hints: a
/// wrong guess (a first argument that is not a key) costs a probe.
fn warm_up(table: &Table, cmds: &[Args]) {
    let mut hashes = [0u64; WARM_AHEAD];
    let mut targets: [(Option<&Bytes>, Option<&Bytes>); WARM_AHEAD] = [(None, None); WARM_AHEAD];
    for ((c, h), target) in cmds.iter().zip(&mut hashes).zip(&mut targets) {
        *target = warm_args(c);
        if let Some(key) = target.0 {
            *h = table.hash(key);
            table.prefetch_segment(*h);
        }
    }
    let mut inner: [Option<(&Entry, &[u8])>; WARM_AHEAD] = [None; WARM_AHEAD];
    let mut any_inner = false;
    for ((&(key, member), &h), slot) in targets.iter().zip(&hashes).zip(&mut inner) {
        let Some(e) = key.and_then(|key| table.prefetch(key, h)) else {
            continue;
        };
        if let Some(m) = member {
            if e.value.prefetch_member(m, Warm::Slot) {
                *slot = Some((e, &m[..]));
                any_inner = true;
            }
        }
    }
    if any_inner {
        for (e, m) in inner.iter().flatten() {
            e.value.prefetch_member(m, Warm::Member);
        }
    }
}

/// The key a command most likely reads first and the member or field it most likely
/// touches in it: its first two arguments, or for the EVAL and FCALL families (whose
/// first argument is the script, its digest or a function's name) the first of its keys
/// and nothing.
fn warm_args(c: &Args) -> (Option<&Bytes>, Option<&Bytes>) {
    if is_eval(&c[0]) {
        let key = c
            .get(3)
            .filter(|_| c.get(2).is_some_and(|n| n.as_ref() != b"0"));
        return (key, None);
    }
    (c.get(1), c.get(2))
}

fn is_eval(name: &[u8]) -> bool {
    name.first()
        .is_some_and(|b| matches!(b | 0x20, b'e' | b'f'))
        && [
            &b"eval"[..],
            b"evalsha",
            b"eval_ro",
            b"evalsha_ro",
            b"fcall",
            b"fcall_ro",
        ]
        .iter()
        .any(|n| name.eq_ignore_ascii_case(n))
}

enum JobKind {
    Bgsave {
        dirty_at_start: u64,
    },
    Rewrite {
        base_seq: u64,
    },
    /// The first base of a log switched on at run time (CONFIG SET appendonly yes).
    EnableLog {
        base_seq: u64,
    },
}

struct ActiveJob {
    job: SnapshotJob,
    kind: JobKind,
}

pub type SharedEngine = Arc<Mutex<Engine>>;

/// The engine's current log, for the event loop's group-commit kick when it goes idle
/// (`SyncShared::kick`). Updated whenever the log is switched on or off.
pub type KickCell = Arc<Mutex<Option<Arc<SyncShared>>>>;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("{0}")]
    Recovery(#[from] RecoveryError),
    #[error("{0}")]
    Replay(String),
    #[error("Aborting startup because of ACL errors: {0}")]
    Acl(String),
}

/// What the connection must do after a batch.
#[derive(Debug, Default, Clone)]
pub struct BatchOutcome {
    /// A SHUTDOWN was executed.
    pub shutdown: Option<Shutdown>,
    /// Send the replies only once this LSN is durable (0: at once).
    pub wait_lsn: u64,
    /// The log could not take the batch's effects: send this error instead of the replies.
    pub log_failed: Option<String>,
    /// The client blocked (BLPOP and friends; see `command::blocking`): its deadline in
    /// Unix ms (0 = none). The batch's commands after the blocking one are left in `cmds`.
    pub blocked: Option<u64>,
    /// A CLIENT PAUSE holds the batch's next command back until this Unix ms (or an
    /// UNPAUSE): the replies so far go first, the held commands are left in `cmds`.
    pub paused: Option<u64>,
    /// A WAITAOF waits for this LSN to be durable, at most this many ms (0: no limit),
    /// then its reply is [`command::waited_reply`]. The replies so far go first; the
    /// batch's commands after it are left in `cmds`. An fsync has been requested.
    pub aof_wait: Option<(u64, u64)>,
}

/// How the engine does its file I/O.
pub struct OpenOptions {
    /// The file layer: the real file system, or a simulated disk in tests.
    pub vfs: Arc<dyn Vfs>,
    /// What a log failure under `appendfsync always` does (default: exit the process).
    pub fatal: FatalHook,
    /// Log files are preallocated in chunks of this many bytes.
    pub prealloc_chunk: u64,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            vfs: Arc::new(RealFs),
            fatal: exit_on_fatal(),
            prealloc_chunk: crate::persistence::DEFAULT_PREALLOC_CHUNK,
        }
    }
}

pub struct Engine {
    pub st: State,
    expire_cursor: (usize, usize),
    dur: Option<Durability>,
    vfs: Arc<dyn Vfs>,
    job: Option<ActiveJob>,
    /// A log rewrite waiting for the fsync thread to make the current log durable up to
    /// this LSN before it switches logs (see [`PRESYNC_BYTES`]).
    rewrite_presync: Option<u64>,
    bgsave_scheduled: bool,
    rewrite_scheduled: bool,
    last_bgsave_try_ms: u64,
    /// The LSN the last pub/sub messages held for durability wait for: later messages
    /// wait at least as long, so that none overtakes an earlier one.
    held_messages_lsn: u64,
    /// How a log opened at run time is written, and what its failure under `always` does
    /// (from [`OpenOptions`]).
    log_config: LogConfig,
    fatal: FatalHook,
    /// Counts the log being switched on or off: a connection holding the log's sync state
    /// looks it up again when this moved ([`Engine::log_epoch`]).
    log_epoch: u64,
    kick: KickCell,
    /// The last LSN of a log switched off: a log switched on later continues above it,
    /// so that an LSN never names two writes in one process.
    lsn_floor: u64,
}

impl Drop for Engine {
    /// The snapshot writer reads the keyspace's entries: stop it before they are freed
    /// (fields drop in order, and the keyspace comes first).
    fn drop(&mut self) {
        if let Some(mut j) = self.job.take() {
            drop(j.job.join_abandoned(&mut self.st.ks));
        }
    }
}

/// Apply one log record to the state (replay at startup).
pub fn apply_record(st: &mut State, rec: Record, now: u64) -> Result<(), String> {
    if rec.args.first().map(|a| a.as_ref()) == Some(TXN_RECORD) {
        let a = &rec.args;
        let mut i = 1;
        while i < a.len() {
            let num = |b: &Bytes| crate::util::parse_i64_strict(b).filter(|n| *n >= 0);
            let (Some(db), Some(argc)) = (num(&a[i]), a.get(i + 1).and_then(num)) else {
                return Err("malformed transaction record".into());
            };
            let (start, end) = (i + 2, i + 2 + argc as usize);
            if argc == 0 || end > a.len() {
                return Err("malformed transaction record".into());
            }
            command::replay(st, db as usize, a[start..end].to_vec(), now)?;
            i = end;
        }
        return Ok(());
    }
    command::replay(st, rec.db as usize, rec.args, now)
}

/// How log files are written: preallocated in chunks of `prealloc_chunk` bytes, the next
/// chunk reserved once a quarter of one is left.
fn log_config(prealloc_chunk: u64) -> LogConfig {
    LogConfig {
        prealloc_chunk,
        low_watermark: prealloc_chunk / 4,
        ..LogConfig::default()
    }
}

/// Threads that decode snapshot chunks and fill tables at startup: one per core, 2 to 8.
fn load_threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 8))
}

impl Engine {
    /// An engine without a log (`appendonly no`).
    pub fn new(config: Config) -> Self {
        Self::bare(State::new(config), None, Arc::new(RealFs))
    }

    fn bare(st: State, dur: Option<Durability>, vfs: Arc<dyn Vfs>) -> Self {
        Engine {
            st,
            expire_cursor: (0, 0),
            dur,
            vfs,
            job: None,
            bgsave_scheduled: false,
            rewrite_presync: None,
            rewrite_scheduled: false,
            last_bgsave_try_ms: 0,
            held_messages_lsn: 0,
            log_config: log_config(crate::persistence::DEFAULT_PREALLOC_CHUNK),
            fatal: exit_on_fatal(),
            log_epoch: 0,
            kick: KickCell::default(),
            lsn_floor: 0,
        }
    }

    /// Open the engine on its data directory (creating it), replaying the log.
    pub fn open(config: Config) -> Result<Self, EngineError> {
        Self::open_with(config, OpenOptions::default())
    }

    /// Like [`Engine::open`] with explicit I/O choices (the simulated disk in tests).
    pub fn open_with(config: Config, o: OpenOptions) -> Result<Self, EngineError> {
        let mut engine = Self::loading(config, o.vfs.clone());
        engine.load_acl_at_startup()?;
        let shared = engine.shared();
        Self::load(&shared, o)?;
        let engine = Arc::try_unwrap(shared)
            .ok()
            .expect("nobody else holds an engine being opened");
        Ok(engine
            .into_inner()
            .expect("engine lock poisoned while loading"))
    }

    pub fn shared(self) -> SharedEngine {
        Arc::new(Mutex::new(self))
    }

    /// Lock a shared engine. A panic while holding the lock would leave the keyspace in
    /// an unknown state, so poisoning is fatal rather than ignored.
    pub fn lock(shared: &SharedEngine) -> MutexGuard<'_, Engine> {
        let poisoned = "engine lock poisoned: a command panicked mid-execution";
        match shared.try_lock() {
            Ok(g) => g,
            Err(std::sync::TryLockError::WouldBlock) => {
                // Counted so a startup load lets waiting clients in (see `load`).
                load::WAITERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let g = shared.lock().expect(poisoned);
                load::WAITERS.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
                g
            }
            Err(std::sync::TryLockError::Poisoned(_)) => panic!("{poisoned}"),
        }
    }

    /// The log's sync state, for connections that wait for durability.
    pub fn sync_shared(&self) -> Option<Arc<SyncShared>> {
        self.dur.as_ref().map(|d| d.shared())
    }

    /// Moves whenever the log is switched on or off: [`Engine::sync_shared`] may then
    /// answer differently.
    pub fn log_epoch(&self) -> u64 {
        self.log_epoch
    }

    /// The current log as the event loop's idle hook sees it.
    pub fn kick_cell(&self) -> KickCell {
        self.kick.clone()
    }

    /// Register a new connection; returns its session.
    pub fn connect(
        &mut self,
        addr: String,
        laddr: String,
        local: bool,
        kill: KillHandle,
    ) -> Session {
        let id = self.st.clients.next_id();
        let now = crate::util::now_ms();
        self.st.clients.by_id.insert(
            id,
            ClientInfo {
                id,
                addr,
                laddr,
                name: Default::default(),
                db: 0,
                created_ms: now,
                last_ms: now,
                last_cmd: "NULL",
                resp: 2,
                multi: -1,
                lib_name: Default::default(),
                lib_ver: Default::default(),
                kill: Some(kill),
                sub: 0,
                psub: 0,
                ssub: 0,
                outbox: None,
                user: "default".into(),
            },
        );
        self.st.stats.total_connections += 1;
        self.st.connected_clients += 1;
        let mut s = Session::new(id, self.st.acl.default_open());
        s.local = local;
        s
    }

    /// Give a connected session the outbox its connection drains (pub/sub messages).
    pub fn attach_outbox(&mut self, sess: &mut Session, outbox: Arc<command::Outbox>) {
        if let Some(c) = self.st.clients.by_id.get_mut(&sess.id) {
            c.outbox = Some(outbox.clone());
        }
        sess.outbox = Some(outbox);
    }

    pub fn disconnect(&mut self, sess: &mut Session) {
        self.st.unwatch_all(sess);
        self.st.blocking.remove(sess.id);
        command::pubsub_disconnect(&mut self.st, sess);
        command::tracking::off(&mut self.st, sess);
        command::monitor_stop(&mut self.st, sess);
        self.st.clients.by_id.remove(&sess.id);
        self.st.connected_clients = self.st.connected_clients.saturating_sub(1);
    }

    /// Execute commands in order, writing their replies to `out`.
    pub fn execute_batch(
        &mut self,
        sess: &mut Session,
        cmds: &mut Vec<Args>,
        out: &mut ReplyBuf,
    ) -> BatchOutcome {
        let now = crate::util::now_ms();
        let mut outcome = BatchOutcome::default();
        // CONFIG SET may have changed it; the fsync thread reads it from here.
        self.st
            .latency
            .set_threshold(self.st.config.latency_monitor_threshold);
        if let Some(d) = &mut self.dur {
            d.set_policy(self.st.config.appendfsync);
            self.st.pending.enabled = d.policy() == FsyncPolicy::Always;
            d.prune(&mut self.st.pending);
            // Reserve log space for the worst case before anything is applied.
            let input: usize = cmds
                .iter()
                .flat_map(|c| c.iter())
                .map(|a| a.len() + 16)
                .sum();
            d.reserve((2 * input + 64 * 1024) as u64);
            self.st.write_refusal = d.refusal();
            self.st.persist.aof_last_write_ok = self.st.write_refusal.is_none();
        }
        self.st.pending.needed = 0;
        let mut done = 0;
        while done < cmds.len() {
            if done % WARM_AHEAD == 0 && cmds.len() > 1 {
                let end = cmds.len().min(done + WARM_AHEAD);
                warm_up(self.st.ks.db(sess.db), &cmds[done..end]);
            }
            if self.st.pause.is_some() {
                if let Some(until) = command::paused_until(&mut self.st, sess, &cmds[done], now) {
                    outcome.paused = Some(until);
                    break;
                }
            }
            let args = std::mem::take(&mut cmds[done]);
            done += 1;
            command::dispatch(&mut self.st, sess, args, out, now);
            if self.st.blocking.has_ready() {
                command::blocking::serve_ready(&mut self.st, now);
            }
            if let Some(deadline) = sess.blocking.blocked.take() {
                outcome.blocked = Some(deadline);
                break;
            }
            if sess.aof_wait.is_some() {
                break;
            }
            if !self.st.persist_requests.is_empty() {
                self.persist_commands(sess, out);
            }
            if let Some(s) = self.st.shutdown {
                outcome.shutdown = Some(s);
                break;
            }
            if sess.close {
                break;
            }
        }
        if outcome.blocked.is_some() || outcome.paused.is_some() || sess.aof_wait.is_some() {
            cmds.drain(..done);
        } else {
            cmds.clear();
        }
        command::tracking::broadcast(&mut self.st);
        match self.log_effects() {
            Ok(own) => {
                outcome.wait_lsn = own.max(self.st.pending.needed);
                self.release_messages(outcome.wait_lsn, now);
                command::blocking::finish_served(&mut self.st, Ok(own));
                if let (Some(w), Some(d)) = (sess.aof_wait.take(), &mut self.dur) {
                    // Everything logged so far, this client's writes included.
                    let target = self.st.pending.last_lsn;
                    d.request_sync();
                    outcome.aof_wait = Some((target, w.timeout_ms));
                }
            }
            Err(e) => {
                // The batch's replies will not claim success: nor will its messages.
                drop(command::pubsub_outgoing(&mut self.st));
                let msg = format!("MISCONF Errors writing to the AOF file: {e}");
                command::blocking::finish_served(&mut self.st, Err(&msg));
                outcome.log_failed = Some(msg);
            }
        }
        sess.aof_wait = None;
        command::server_sync_client(&mut self.st, sess, now);
        outcome
    }

    /// Hand the effects of executed commands to the log. Returns the LSN the batch's
    /// replies must wait for (0 when nothing needs waiting).
    fn log_effects(&mut self) -> Result<u64, String> {
        let st = &mut self.st;
        let Some(d) = &mut self.dur else {
            st.effects.clear();
            st.pending.changed.clear();
            return Ok(0);
        };
        if st.effects.is_empty() {
            st.pending.changed.clear();
            st.pending.changed_all = false;
            return Ok(0);
        }
        let last = d.log_effects(&mut st.effects)?;
        st.pending.last_lsn = last;
        if !st.pending.enabled {
            st.pending.changed.clear();
            return Ok(0);
        }
        for k in st.pending.changed.drain(..) {
            st.pending.keys.insert(k, last);
        }
        if std::mem::take(&mut st.pending.changed_all) {
            st.pending.global = last;
        }
        Ok(last)
    }

    /// Deliver the pub/sub messages published since the last call, which may announce
    /// writes logged up to `lsn` (see [`command::Outgoing`]): under `appendfsync always`
    /// (when replies wait too) they go once that LSN is durable, and never if the log
    /// fails first; otherwise at once.
    fn release_messages(&mut self, lsn: u64, now: u64) {
        let msgs = command::pubsub_outgoing(&mut self.st);
        if msgs.is_empty() {
            return;
        }
        let sync = self.dur.as_ref().filter(|_| self.st.pending.enabled);
        let Some(sync) = sync.map(|d| d.shared()) else {
            return command::pubsub_deliver(&mut self.st, msgs, now);
        };
        let durable = sync.durable_lsn();
        let lsn = if self.held_messages_lsn > durable {
            lsn.max(self.held_messages_lsn)
        } else {
            lsn
        };
        if lsn <= durable {
            return command::pubsub_deliver(&mut self.st, msgs, now);
        }
        self.held_messages_lsn = lsn;
        sync.after_durable(
            lsn,
            Box::new(move |durable| {
                if durable {
                    msgs.deliver_detached();
                }
            }),
        );
    }

    /// Periodic work (called `hz` times a second): active expiry of keys with a TTL
    /// (bounded work per call, so the lock is held briefly), retrying a log reservation
    /// that failed for lack of space, and refreshing INFO persistence figures.
    pub fn tick(&mut self) {
        let s = &mut self.st.stats;
        let totals = [s.total_commands, s.net_input_bytes, s.net_output_bytes];
        s.instant.sample(crate::util::now_ms(), totals);
        // Nothing expires and no snapshot starts while the dataset is incomplete.
        if self.st.persist.loading {
            return;
        }
        let now = crate::util::now_ms();
        command::pubsub_tick(&mut self.st, now);
        if self.st.config.appendonly != self.dur.is_some() {
            // A failure is logged and undone by `reconcile_log`.
            let _ = self.reconcile_log();
        }
        self.automatic_persistence(now);
        self.refresh_persist_info();
        let mut cursor = self.expire_cursor;
        self.st.active_expire_cycle(now, &mut cursor, 20_000);
        self.expire_cursor = cursor;
        let used = command::server_used_memory(&self.st);
        command::server_memory_peak(&mut self.st, used);
        let max_keys = self.st.config.tracking_table_max_keys;
        command::tracking::limit(&mut self.st, max_keys);
        command::tracking::broadcast(&mut self.st);
        match self.log_effects() {
            Ok(lsn) => self.release_messages(lsn, now),
            Err(e) => warn!("could not log expired keys: {e}"),
        }
        if let Some(d) = &mut self.dur {
            d.reserve(64 * 1024);
            self.st.write_refusal = d.refusal();
            self.st.persist.aof_last_write_ok = self.st.write_refusal.is_none();
            self.st.persist.aof_last_write_error =
                self.st.write_refusal.clone().unwrap_or_default();
            self.st.persist.aof_delayed_fsync = d.delayed_fsync();
        }
    }

    /// Carry out what the last command asked for (several inside EXEC), each reply in
    /// its command's place.
    fn persist_commands(&mut self, sess: &mut Session, out: &mut ReplyBuf) {
        let mut shift = 0;
        for p in std::mem::take(&mut self.st.persist_requests) {
            let at = out.len();
            self.persist_command(p.req, sess, out);
            // CLIENT REPLY OFF/SKIP covers the reply the engine writes for it.
            if sess.reply.drop_late {
                out.truncate(at);
            } else if let Some(place) = p.reply_at {
                out.move_tail_to(at, place + shift);
                shift += out.len() - at;
            }
        }
    }

    /// Carry out SAVE / BGSAVE / BGREWRITEAOF... and write the reply, as Redis words it.
    fn persist_command(&mut self, req: PersistRequest, sess: &mut Session, out: &mut ReplyBuf) {
        let busy = self.busy();
        match req {
            PersistRequest::Save => {
                if busy.is_some() {
                    return out.error("ERR Background save already in progress");
                }
                match self.save_now() {
                    Ok(()) => out.ok(),
                    Err(e) => out.error(&format!("ERR {e}")),
                }
            }
            PersistRequest::Bgsave { schedule } => match busy {
                Some(false) => out.error("ERR Background save already in progress"),
                Some(true) if schedule => {
                    self.bgsave_scheduled = true;
                    out.simple("Background saving scheduled");
                }
                Some(true) => out.error("ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible."),
                None => match self.start_bgsave() {
                    Ok(()) => out.simple("Background saving started"),
                    Err(e) => out.error(&format!("ERR {e}")),
                },
            },
            PersistRequest::RewriteConfig => match self.rewrite_config() {
                Ok(()) => out.ok(),
                Err(e) => out.error(&e),
            },
            PersistRequest::AclLoad => match self.read_acl_file() {
                Ok(acl) => {
                    self.install_acl(acl, sess);
                    out.ok();
                }
                Err(e) => out.error(&format!("ERR {e}")),
            },
            PersistRequest::AclSave => match self.save_acl_file() {
                Ok(()) => out.ok(),
                Err(e) => {
                    warn!("ACL SAVE failed: {e}");
                    out.error("ERR There was an error trying to save the ACLs. Please check the server logs for more information");
                }
            },
            PersistRequest::Reload => {
                if busy.is_some() {
                    return out.error("ERR Background save already in progress");
                }
                match self.reload() {
                    Ok(()) => out.ok(),
                    Err(e) => out.error(&format!("ERR Error trying to load the RDB dump: {e}")),
                }
            }
            PersistRequest::AppendOnly { reply } => {
                match self.reconcile_log() {
                    _ if !reply => {}
                    Ok(()) => out.ok(),
                    Err(e) => out.error(&format!("ERR CONFIG SET failed (possibly related to argument 'appendonly') - Unable to turn on AOF: {e}")),
                }
            }
            PersistRequest::Rewrite => {
                if self.dur.is_none() {
                    return out.error("ERR the append-only log is off (appendonly no): there is nothing to rewrite");
                }
                match busy {
                    Some(true) => out.error("ERR Background append only file rewriting already in progress"),
                    Some(false) => {
                        self.rewrite_scheduled = true;
                        out.simple("Background append only file rewriting scheduled");
                    }
                    None => match self.start_rewrite() {
                        Ok(()) => out.simple("Background append only file rewriting started"),
                        Err(e) => out.error(&format!("ERR {e}")),
                    },
                }
            }
        }
        self.refresh_persist_info();
    }

    /// The users of `aclfile` (at startup and for ACL LOAD), or why there are none:
    /// the file cannot be read, or Redis's list of its errors.
    pub(crate) fn read_acl_file(&self) -> Result<command::acl::Acl, String> {
        let path = &self.st.config.aclfile;
        let bytes = self.vfs.read_all(path.as_ref(), 64 << 20).map_err(|e| {
            format!(
                "Error loading ACLs, opening file '{path}': {}",
                crate::persistence::fs::os_message(&e)
            )
        })?;
        let text = String::from_utf8_lossy(&bytes);
        command::acl::Acl::from_file_text(&text, path, self.st.config.requirepass.as_deref())
    }

    /// Replace the users (ACL LOAD), closing the connections of every user but `default`
    /// as Redis 7.0 does (the caller's after its reply), and `default`'s subscribers to
    /// channels it no longer allows.
    fn install_acl(&mut self, acl: command::acl::Acl, sess: &mut Session) {
        self.st.acl = acl;
        for c in self.st.clients.by_id.values() {
            if c.user != "default" && c.id != sess.id {
                if let Some(kill) = &c.kill {
                    kill();
                }
            }
        }
        if sess.user != "default" {
            sess.close = true;
        }
        let default = self.st.acl.users["default"].clone();
        command::acl::close_denied_subscribers(&mut self.st, sess, &default);
        info!("ACL users loaded from {}", self.st.config.aclfile);
    }

    /// ACL SAVE: the users into `aclfile`, replacing it atomically.
    fn save_acl_file(&mut self) -> Result<(), String> {
        let path = std::path::PathBuf::from(&self.st.config.aclfile);
        self.replace_file(&path, self.st.acl.file_text().as_bytes())
    }

    /// Replace a file the operator named (config file, ACL file) with `bytes` atomically,
    /// through a temp file beside it; the error names the step and the file.
    fn replace_file(&self, path: &std::path::Path, bytes: &[u8]) -> Result<(), String> {
        let mut tmp = path.to_path_buf().into_os_string();
        tmp.push(format!(".tmp-{}", std::process::id()));
        crate::persistence::fs::replace_file(&*self.vfs, path, tmp.as_ref(), bytes)
            .map_err(|(op, p, e)| format!("{op} {}: {e}", p.display()))
    }

    /// CONFIG REWRITE: the config file the server started from, rewritten with the
    /// current values (`Config::rewrite_text`) and replaced atomically.
    fn rewrite_config(&mut self) -> Result<(), String> {
        let Some(path) = self.st.config.config_file.clone() else {
            return Err("ERR The server is running without a config file".into());
        };
        let fail = |e: String| format!("ERR Rewriting config file: {e}");
        let old = match self.vfs.read_all(&path, 64 << 20) {
            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(fail(format!("read {}: {e}", path.display()))),
        };
        // With an ACL file the users live there (ACL SAVE), not in the config file.
        let users: Vec<String> = if self.st.config.aclfile.is_empty() {
            self.st.acl.users.values().map(|u| u.describe()).collect()
        } else {
            Vec::new()
        };
        let text = self.st.config.rewrite_text(&old, &users);
        self.replace_file(&path, text.as_bytes()).map_err(fail)?;
        info!("CONFIG REWRITE executed with success.");
        Ok(())
    }

    /// Start snapshotting the keyspace into `path` ([`SnapshotJob::start`]), keeping access
    /// fields when `maxmemory-policy` reads them.
    fn start_snapshot_job(
        &mut self,
        path: std::path::PathBuf,
        lsn: u64,
        install: Install,
    ) -> Result<SnapshotJob, String> {
        let keep = self.st.config.keeps_access();
        let libraries = self.st.functions.codes();
        SnapshotJob::start(
            &mut self.st.ks,
            self.vfs.clone(),
            path,
            lsn,
            keep,
            &libraries,
            install,
        )
    }

    /// BGSAVE: snapshot into `dbfilename` (write temp, fsync, rename, fsync dir).
    fn start_bgsave(&mut self) -> Result<(), String> {
        let dir = self.st.config.dir.clone();
        crate::persistence::fs::create_dir_durable(&*self.vfs, &dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let path = dir.join(&self.st.config.dbfilename);
        let tmp = dir.join(format!(
            "temp-{}-{}.strata",
            std::process::id(),
            self.st.config.dbfilename
        ));
        let lsn = self.dur.as_ref().map_or(0, |d| d.last_lsn());
        let vfs = self.vfs.clone();
        let tmp2 = tmp.clone();
        let install: Install = Box::new(move |_| {
            vfs.rename(&tmp2, &path)
                .map_err(|e| format!("rename: {e}"))?;
            vfs.sync_dir(&dir).map_err(|e| format!("sync dir: {e}"))
        });
        self.last_bgsave_try_ms = crate::util::now_ms();
        let job = self.start_snapshot_job(tmp, lsn, install)?;
        info!("Background saving started");
        self.job = Some(ActiveJob {
            job,
            kind: JobKind::Bgsave {
                dirty_at_start: self.st.dirty,
            },
        });
        Ok(())
    }

    /// The background persistence work in progress: `Some(true)` for a log rewrite
    /// (including one waiting for its pre-sync), `Some(false)` for BGSAVE.
    fn busy(&self) -> Option<bool> {
        if self.rewrite_presync.is_some() {
            return Some(true);
        }
        self.job
            .as_ref()
            .map(|j| !matches!(j.kind, JobKind::Bgsave { .. }))
    }

    /// Bring the log in line with `appendonly` (CONFIG SET, or a change made while
    /// loading): switch it off at once; switch it on now, or once the loading or the
    /// BGSAVE in progress is over (the periodic tick looks again; INFO shows it as a
    /// scheduled rewrite). A log that cannot be switched on is logged, and `appendonly`
    /// goes back to `no`.
    fn reconcile_log(&mut self) -> Result<(), String> {
        match (self.st.config.appendonly, self.dur.is_some()) {
            (false, true) => {
                self.disable_log();
                Ok(())
            }
            (true, false) if self.st.persist.loading || self.busy().is_some() => Ok(()),
            (true, false) => self.enable_log().inspect_err(|e| {
                warn!("could not turn the append-only log on: {e}");
                self.st.config.appendonly = false;
            }),
            _ => Ok(()),
        }
    }

    /// CONFIG SET appendonly yes: the log starts at this instant. A fresh incremental log
    /// takes every write from here while the keyspace as it is now is written as its base
    /// (the fork-free snapshot of BGREWRITEAOF). Only once that base is durable does a new
    /// manifest name the two, replacing whatever manifest an earlier run left (its files
    /// are deleted after); until then a crash leaves the directory as it was, and the
    /// log's fsyncs count for nothing: under `always`, replies to writes wait for the
    /// install ([`Durability::hold_until_installed`]).
    fn enable_log(&mut self) -> Result<(), String> {
        let dir = self.st.config.dir.clone();
        let vfs = self.vfs.clone();
        let io = |what: String, e: &dyn std::fmt::Display| format!("{what}: {e}");
        crate::persistence::fs::create_dir_durable(&*vfs, &dir)
            .map_err(|e| io(format!("creating {}", dir.display()), &e))?;
        // What an earlier attempt that failed left goes first.
        let cleaned =
            crate::persistence::manifest::clean_pending(&*vfs, &dir).map_err(|e| e.to_string())?;
        if !cleaned.is_empty() {
            info!("removed {cleaned:?}, left by an earlier attempt to switch the log on");
        }
        let old = match Manifest::load(&*vfs, &dir) {
            Ok(m) => m,
            Err(e) => {
                warn!("{e}; turning the log on replaces it");
                None
            }
        };
        // New files take sequence numbers nothing in the directory uses.
        let names = vfs
            .list_dir(&dir)
            .map_err(|e| io(format!("listing {}", dir.display()), &e))?;
        let mut m = Manifest {
            base: None,
            incrs: Vec::new(),
            next_seq: old.as_ref().map_or(1, |m| m.next_seq),
        };
        for n in &names {
            if let Some(seq) = crate::persistence::manifest::file_seq(n) {
                m.next_seq = m.next_seq.max(seq + 1);
            }
        }
        let base_seq = m.allocate_seq();
        let incr_seq = m.allocate_seq();
        m.add_incr(incr_seq).map_err(|e| e.to_string())?;
        // Recorded before any of its files exists: an interruption is cleaned up later.
        let mut pending = m.clone();
        pending.install_base(base_seq).map_err(|e| e.to_string())?;
        pending
            .store_pending(&*vfs, &dir)
            .map_err(|e| e.to_string())?;
        let lsn = self.lsn_floor;
        let path = dir.join(incr_file_name(incr_seq));
        let writer = LogWriter::create(
            &*vfs,
            &path,
            LogHeader::new(incr_seq, lsn + 1),
            self.log_config,
        )
        .map_err(|e| e.to_string())?;
        let files = LogDir {
            vfs: vfs.clone(),
            dir: dir.clone(),
            manifest: m,
            config: self.log_config,
        };
        let policy = self.st.config.appendfsync;
        let latency = self.st.latency.clone();
        let mut dur = Durability::new(writer, files, policy, self.fatal.clone(), latency);
        dur.hold_until_installed();
        let old_files: Vec<String> = old
            .iter()
            .flat_map(|m| m.live_names().map(String::from))
            .chain([crate::persistence::manifest::PENDING_NAME.to_string()])
            .collect();
        let installer = dur.installer(base_seq, old_files);
        let sync = dur.shared();
        let install: Install = Box::new(move |_| {
            installer()?;
            sync.open_gate();
            Ok(())
        });
        let base_path = dir.join(crate::persistence::base_file_name(base_seq));
        let job = match self.start_snapshot_job(base_path, lsn, install) {
            Ok(job) => job,
            Err(e) => {
                drop(dur.close());
                drop(crate::persistence::manifest::clean_pending(&*vfs, &dir));
                return Err(e);
            }
        };
        info!(
            "turning the append-only log on: new log {} from LSN {}, its base being written",
            path.display(),
            lsn + 1
        );
        self.job = Some(ActiveJob {
            job,
            kind: JobKind::EnableLog { base_seq },
        });
        self.log_opened(dur);
        Ok(())
    }

    /// The log `dur` takes the writes from now on (opened at startup or switched on).
    fn log_opened(&mut self, dur: Durability) {
        let st = &mut self.st;
        st.logging = true;
        st.pending.enabled = dur.policy() == FsyncPolicy::Always;
        st.pending.last_lsn = dur.last_lsn();
        st.persist.aof_last_write_ok = true;
        st.persist.aof_current_size = dur.log_bytes();
        st.persist.aof_base_size = st.persist.aof_current_size;
        self.log_switched(Some(dur.shared()));
        self.dur = Some(dur);
    }

    /// Point whatever follows the log (WAITAOF's durable LSN, the event loop's
    /// group-commit kick, connections through the epoch) at `sync`, or at no log.
    fn log_switched(&mut self, sync: Option<Arc<SyncShared>>) {
        self.st.durable_lsn = sync.clone().map(|s| {
            let f: command::DurableLsn = Arc::new(move || s.durable_lsn());
            f
        });
        *self.kick.lock().unwrap_or_else(|p| p.into_inner()) = sync;
        self.log_epoch += 1;
    }

    /// CONFIG SET appendonly no: what was logged is made durable and the log closed; a
    /// rewrite in progress is abandoned (the files it would replace stay). The files stay
    /// on disk, as Redis leaves them: a restart with `appendonly yes` loads them. Writes
    /// still waiting for a log that never got its first base are released: they have the
    /// guarantee of `appendonly no`, which is what the server now offers.
    fn disable_log(&mut self) {
        self.rewrite_presync = None;
        self.rewrite_scheduled = false;
        // A rewrite, or the base of a log being switched on (BGSAVE goes on).
        if self.busy() == Some(true) {
            let mut j = self.job.take().expect("busy with a job");
            drop(j.job.join_abandoned(&mut self.st.ks));
            info!("abandoned the log rewrite in progress: the log is being turned off");
        }
        let Some(mut d) = self.dur.take() else {
            return;
        };
        // This batch's writes so far go into the log before it closes.
        let mut effects = std::mem::take(&mut self.st.effects);
        if !effects.is_empty() {
            if let Err(e) = d.log_effects(&mut effects) {
                warn!("could not log the last writes before turning the log off: {e}");
            }
        }
        d.shared().open_gate();
        if let Err(e) = d.close() {
            warn!("the append-only log was closed with an error: {e}");
        }
        // A log switched off before its first base was installed leaves files no
        // manifest names.
        match crate::persistence::manifest::clean_pending(&*d.files.vfs, &d.files.dir) {
            Ok(removed) if !removed.is_empty() => {
                info!("removed {removed:?}: the log was never installed")
            }
            Ok(_) => {}
            Err(e) => warn!("could not remove the files of the unfinished log: {e}"),
        }
        self.lsn_floor = self.lsn_floor.max(d.last_lsn());
        let st = &mut self.st;
        st.logging = false;
        st.pending.enabled = false;
        st.pending.keys.clear();
        st.pending.global = 0;
        st.write_refusal = None;
        let p = &mut st.persist;
        p.aof_last_write_ok = true;
        p.aof_last_write_error.clear();
        p.aof_current_size = 0;
        p.aof_base_size = 0;
        self.log_switched(None);
        info!("the append-only log is off (appendonly no); its files are left in place");
    }

    /// BGREWRITEAOF: a new base snapshot + a fresh log from this instant, swapped in by
    /// the manifest once the base is durable. With much of the current log not yet
    /// fsynced, the switch waits for the fsync thread first (see [`PRESYNC_BYTES`]).
    fn start_rewrite(&mut self) -> Result<(), String> {
        let d = self.dur.as_mut().ok_or("the append-only log is off")?;
        // Whatever this batch logged so far must be in the old log before it closes.
        let pending = std::mem::take(&mut self.st.effects);
        if !pending.is_empty() {
            let mut effects = pending;
            d.log_effects(&mut effects)?;
        }
        let unsynced = d.unsynced_bytes();
        if unsynced > PRESYNC_BYTES {
            let target = d.request_sync();
            info!("log rewrite: syncing the current log first ({unsynced} bytes up to LSN {target}), so that switching logs does not stall clients");
            self.rewrite_presync = Some(target);
            return Ok(());
        }
        self.switch_logs_and_snapshot()
    }

    /// The rewrite waiting for its pre-sync: start it once the sync is done; give up if
    /// the log failed or was turned off meanwhile.
    fn resume_rewrite(&mut self, target: u64) {
        let ready = match self.dur.as_mut() {
            None => Err("the append-only log was turned off".to_string()),
            Some(d) => match d.refusal() {
                Some(why) => Err(why),
                None => Ok(d.synced_to(target)),
            },
        };
        let result = match ready {
            Ok(false) => return,
            Ok(true) => {
                self.rewrite_presync = None;
                self.switch_logs_and_snapshot()
            }
            Err(e) => {
                self.rewrite_presync = None;
                Err(e)
            }
        };
        if let Err(e) = result {
            self.rewrite_did_not_start("AOF rewrite", &e);
        }
    }

    /// A rewrite the server started on its own (automatic, or resumed after its
    /// pre-sync) failed to start: log it and report it in INFO, as a failed rewrite.
    fn rewrite_did_not_start(&mut self, what: &str, e: &str) {
        warn!("{what} could not start: {e}");
        self.st.persist.aof_last_bgrewrite_ok = false;
        self.st.persist.last_snapshot_error = format!("bgrewriteaof: {e}");
    }

    /// The rewrite proper: close the current log (its fsync covers what was written
    /// since the pre-sync), start the new one, and snapshot the keyspace at this instant.
    fn switch_logs_and_snapshot(&mut self) -> Result<(), String> {
        let d = self.dur.as_mut().ok_or("the append-only log is off")?;
        let rot = d.rotate()?;
        let installer = d.installer(rot.base_seq, Vec::new());
        let install: Install = Box::new(move |_| installer());
        let job = self.start_snapshot_job(rot.base_path, rot.lsn, install)?;
        info!(
            "Background append only file rewriting started (base at LSN {})",
            rot.lsn
        );
        self.job = Some(ActiveJob {
            job,
            kind: JobKind::Rewrite {
                base_seq: rot.base_seq,
            },
        });
        Ok(())
    }

    /// DEBUG RELOAD: save, empty the keyspace and load the snapshot back (tests the
    /// snapshot round trip on live data). The log is untouched: the data is the same.
    fn reload(&mut self) -> Result<(), String> {
        self.save_now()?;
        for i in 0..self.st.ks.db_count() {
            self.st.ks.db_mut(i).clear();
        }
        let path = self.st.config.dir.join(&self.st.config.dbfilename);
        let vfs = self.vfs.clone();
        load::load_into(&mut self.st, &*vfs, &path).map_err(|e| e.to_string())?;
        Ok(())
    }

    /// SAVE: take a snapshot now, blocking every client until it is durable (as Redis).
    fn save_now(&mut self) -> Result<(), String> {
        self.start_bgsave()?;
        loop {
            let job = &mut self.job.as_mut().expect("just started").job;
            job.pump(&mut self.st.ks, usize::MAX);
            if job.capture_done() {
                break;
            }
        }
        let mut j = self.job.take().expect("just started");
        let res = j.job.join(&mut self.st.ks).expect("capture done");
        let ok = res.stats.is_ok();
        let err = res.stats.as_ref().err().cloned();
        self.finish_job(j.kind, res);
        match err {
            None if ok => Ok(()),
            e => Err(e.unwrap_or_default()),
        }
    }

    /// Advance the snapshot in progress by one bounded step; finish it when its writer is
    /// done. Returns whether a snapshot is still in progress (the server keeps pumping).
    pub fn snapshot_pump(&mut self, budget: usize) -> bool {
        if let Some(target) = self.rewrite_presync {
            self.resume_rewrite(target);
        }
        let Some(j) = self.job.as_mut() else {
            return self.rewrite_presync.is_some();
        };
        j.job.pump(&mut self.st.ks, budget);
        if let Some(res) = j.job.poll(&mut self.st.ks) {
            let j = self.job.take().expect("present");
            self.finish_job(j.kind, res);
            self.start_scheduled();
        }
        self.refresh_persist_info();
        self.job.is_some()
    }

    fn finish_job(&mut self, kind: JobKind, res: JobResult) {
        let now = crate::util::now_ms();
        let secs = (now.saturating_sub(res.started_ms) / 1000) as i64;
        let p = &mut self.st.persist;
        let mut turn_off = false;
        match (&kind, &res.stats) {
            (JobKind::Bgsave { dirty_at_start }, Ok(stats)) => {
                info!(
                    "Background saving terminated with success: {} keys, {} bytes",
                    stats.keys, stats.file_bytes
                );
                p.rdb_last_bgsave_ok = true;
                p.last_save_ms = now;
                self.st.dirty = self.st.dirty.saturating_sub(*dirty_at_start);
                p.last_snapshot_error.clear();
            }
            (JobKind::Bgsave { .. }, Err(e)) => {
                warn!("Background saving failed: {e}");
                p.rdb_last_bgsave_ok = false;
                p.last_snapshot_error = format!("bgsave: {e}");
            }
            (JobKind::Rewrite { base_seq } | JobKind::EnableLog { base_seq }, Ok(stats)) => {
                let what = match kind {
                    JobKind::EnableLog { .. } => "The append-only log is on: its first base",
                    _ => "Background AOF rewrite finished successfully: base",
                };
                info!("{what} of {} keys, {} bytes", stats.keys, stats.file_bytes);
                p.aof_last_bgrewrite_ok = true;
                p.last_snapshot_error.clear();
                if let Some(d) = self.dur.as_mut() {
                    d.install_base(*base_seq);
                    p.aof_base_size = d.log_bytes();
                }
            }
            (JobKind::Rewrite { .. }, Err(e)) => {
                warn!("Background AOF rewrite failed: {e}; the previous base and logs stay authoritative");
                p.aof_last_bgrewrite_ok = false;
                p.last_snapshot_error = format!("bgrewriteaof: {e}");
            }
            (JobKind::EnableLog { .. }, Err(e)) => {
                warn!("could not turn the append-only log on: writing its base failed: {e}. The log is off again (appendonly no)");
                p.aof_last_bgrewrite_ok = false;
                p.last_snapshot_error = format!("appendonly: {e}");
                turn_off = true;
            }
        }
        let cow = res.peak_bytes;
        match kind {
            JobKind::Bgsave { .. } => {
                p.rdb_last_bgsave_time_sec = secs;
                p.rdb_last_cow_size = cow;
            }
            JobKind::Rewrite { .. } | JobKind::EnableLog { .. } => {
                p.aof_last_rewrite_time_sec = secs;
                p.aof_last_cow_size = cow;
            }
        }
        if turn_off {
            self.st.config.appendonly = false;
            self.disable_log();
        }
    }

    fn start_scheduled(&mut self) {
        if self.busy().is_some() {
            return;
        }
        if std::mem::take(&mut self.rewrite_scheduled) {
            if let Err(e) = self.start_rewrite() {
                warn!("scheduled AOF rewrite could not start: {e}");
            }
        } else if std::mem::take(&mut self.bgsave_scheduled) {
            if let Err(e) = self.start_bgsave() {
                warn!("scheduled BGSAVE could not start: {e}");
            }
        }
    }

    /// `save <seconds> <changes>` rules and automatic log rewrites.
    fn automatic_persistence(&mut self, now: u64) {
        if self.busy().is_some() {
            return;
        }
        let last_save = if self.st.persist.last_save_ms == 0 {
            self.st.stats.start_ms
        } else {
            self.st.persist.last_save_ms
        };
        let rules: Vec<u64> = self
            .st
            .config
            .save
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        // After a failed BGSAVE, retry no sooner than 5 s later (as Redis).
        let may_retry = self.st.persist.rdb_last_bgsave_ok
            || now.saturating_sub(self.last_bgsave_try_ms) > 5000;
        for pair in rules.chunks(2) {
            if let [secs, changes] = *pair {
                if self.st.dirty >= changes
                    && now.saturating_sub(last_save) >= secs * 1000
                    && may_retry
                {
                    info!("{changes} changes in {secs} seconds. Saving...");
                    if let Err(e) = self.start_bgsave() {
                        warn!("automatic BGSAVE could not start: {e}");
                    }
                    return;
                }
            }
        }
        let pct = self.st.config.auto_aof_rewrite_percentage;
        if let (Some(d), true) = (self.dur.as_ref(), pct > 0) {
            let size = d.log_bytes();
            let base = self.st.persist.aof_base_size.max(1);
            if size >= self.st.config.auto_aof_rewrite_min_size
                && size.saturating_sub(base) * 100 / base >= pct
            {
                info!(
                    "Starting automatic rewriting of AOF on {}% growth",
                    size.saturating_sub(base) * 100 / base
                );
                if let Err(e) = self.start_rewrite() {
                    self.rewrite_did_not_start("automatic AOF rewrite", &e);
                }
            }
        }
    }

    fn refresh_persist_info(&mut self) {
        let now = crate::util::now_ms();
        let busy = self.busy();
        let p = &mut self.st.persist;
        let (bgsave, rewrite) = match busy {
            Some(false) => (true, false),
            Some(true) => (false, true),
            None => (false, false),
        };
        let running = self
            .job
            .as_ref()
            .map_or(-1, |j| (now.saturating_sub(j.job.started_ms) / 1000) as i64);
        p.rdb_bgsave_in_progress = bgsave;
        p.aof_rewrite_in_progress = rewrite;
        p.rdb_current_bgsave_time_sec = if bgsave { running } else { -1 };
        p.aof_current_rewrite_time_sec = if rewrite { running } else { -1 };
        // A log switched on while a BGSAVE runs starts after it, as Redis schedules its
        // rewrite (INFO's `aof_enabled` follows `appendonly`, as Redis's wait-rewrite
        // state counts as on).
        p.aof_rewrite_scheduled =
            self.rewrite_scheduled || (self.st.config.appendonly && self.dur.is_none());
        if let Some(d) = &self.dur {
            p.aof_current_size = d.log_bytes();
        }
    }

    /// What SHUTDOWN does with snapshots: SAVE (or the default with `save` rules set)
    /// writes one; NOSAVE does not. A snapshot in progress is abandoned: the files it
    /// would replace stay authoritative.
    pub fn shutdown_persist(&mut self, mode: Shutdown) -> Result<(), String> {
        self.rewrite_presync = None;
        // A log being switched on has no base yet: abandoned, it would leave a directory
        // without the keyspace for a restart with `appendonly yes` (Redis refuses to shut
        // down then). Finish it instead.
        if self
            .job
            .as_ref()
            .is_some_and(|j| matches!(j.kind, JobKind::EnableLog { .. }))
        {
            info!("finishing the base of the log being switched on before exiting");
            while self.job.is_some() {
                self.snapshot_pump(usize::MAX);
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        }
        if let Some(mut j) = self.job.take() {
            drop(j.job.join_abandoned(&mut self.st.ks));
            info!("abandoned the snapshot in progress for shutdown");
        }
        let save = match mode {
            // Never save a dataset still being loaded over the files it comes from
            // (Redis skips the save too).
            _ if self.st.persist.loading => {
                info!("shutting down while loading: nothing is saved");
                false
            }
            Shutdown::Save => true,
            Shutdown::Default => !self.st.config.save.trim().is_empty() && self.st.dirty > 0,
            Shutdown::NoSave => false,
        };
        if save {
            info!("Saving the final snapshot before exiting.");
            self.save_now()?;
        }
        Ok(())
    }

    /// Run the snapshot in progress to completion (tests, shutdown).
    pub fn finish_snapshot(&mut self) {
        while self.snapshot_pump(usize::MAX) {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    /// Flush and fsync the log (clean shutdown). Idempotent.
    pub fn close(&mut self) -> Result<(), String> {
        match self.dur.take() {
            Some(mut d) => d.close(),
            None => Ok(()),
        }
    }
}
