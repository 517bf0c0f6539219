//! The state commands operate on: the keyspace plus server-wide bookkeeping
//! (configuration, statistics, clients, watches, pending log effects).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use bytes::Bytes;
use rand::SeedableRng;

use super::blocking::{BlockState, Blocking};
use super::pubsub::{Outbox, PubSub, Subscriptions};
use crate::config::Config;
use crate::keyspace::Keyspace;
use crate::protocol::Args;

/// A change to log: the command as applied, in database `db`.
#[derive(Debug, Clone, PartialEq)]
pub struct Effect {
    pub db: usize,
    pub args: Vec<Bytes>,
}

/// A persistence operation a command asked for, and where its reply goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingPersist {
    pub req: PersistRequest,
    /// Inside EXEC: the offset in the reply buffer where the command's reply belongs
    /// (the engine writes it after the transaction's other replies and moves it there).
    pub reply_at: Option<usize>,
}

/// A persistence operation a command asked for; the engine performs it (commands never
/// touch files) and writes the command's reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PersistRequest {
    Save,
    Bgsave {
        schedule: bool,
    },
    Rewrite,
    /// DEBUG RELOAD: save a snapshot, empty the keyspace, load the snapshot back.
    Reload,
    /// CONFIG REWRITE: write the current configuration into the config file.
    RewriteConfig,
    /// ACL LOAD: replace the users with those of `aclfile`.
    AclLoad,
    /// ACL SAVE: write the users into `aclfile`.
    AclSave,
    /// CONFIG SET changed `appendonly`: switch the log on or off. With `reply`, the
    /// engine writes CONFIG SET's reply (an error if the log could not be switched on);
    /// inside EXEC the command has replied already.
    AppendOnly {
        reply: bool,
    },
}

/// How SHUTDOWN asked the server to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shutdown {
    /// Flush and sync the log (the default).
    Default,
    /// `SHUTDOWN SAVE`: also write a snapshot.
    Save,
    /// `SHUTDOWN NOSAVE`: no snapshot (the log is still flushed: acknowledged writes stay).
    NoSave,
}

#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub start_ms: u64,
    /// `used_memory` when the server started (MEMORY STATS `startup.allocated`).
    pub used_memory_startup: u64,
    /// The highest `used_memory` seen (sampled by the periodic tick, INFO and MEMORY
    /// STATS, as Redis samples it).
    pub used_memory_peak: u64,
    pub total_commands: u64,
    pub total_connections: u64,
    pub rejected_connections: u64,
    pub expired_keys: u64,
    pub evicted_keys: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub net_input_bytes: u64,
    pub net_output_bytes: u64,
    /// Clients closed for breaking `client-output-buffer-limit`.
    pub client_output_buffer_limit_disconnections: u64,
    /// Per command: calls, time, failures; error replies by code.
    pub calls: super::CallStats,
    /// INFO's instantaneous_* rates.
    pub instant: InstantMetrics,
}

/// Redis's instantaneous metrics: every 100 ms or more the rates since the last sample
/// (commands, input and output bytes per second) go into a ring of 16, whose mean INFO
/// reports, so the figures cover the last ~1.6 s.
#[derive(Debug, Default, Clone)]
pub struct InstantMetrics {
    last_ms: u64,
    last: [u64; 3],
    samples: [[f64; 3]; 16],
    next: usize,
    filled: usize,
}

impl InstantMetrics {
    /// Take a sample of the running totals (commands, bytes in, bytes out) at `now_ms`.
    pub fn sample(&mut self, now_ms: u64, totals: [u64; 3]) {
        if self.last_ms == 0 {
            (self.last_ms, self.last) = (now_ms, totals);
            return;
        }
        let dt = now_ms.saturating_sub(self.last_ms);
        if dt < 100 {
            return;
        }
        let slot = &mut self.samples[self.next];
        for ((rate, now), last) in slot.iter_mut().zip(totals).zip(self.last) {
            *rate = now.saturating_sub(last) as f64 * 1000.0 / dt as f64;
        }
        self.next = (self.next + 1) % self.samples.len();
        self.filled = (self.filled + 1).min(self.samples.len());
        (self.last_ms, self.last) = (now_ms, totals);
    }

    /// The mean rate of metric `k` (0 commands/s, 1 input bytes/s, 2 output bytes/s).
    pub fn rate(&self, k: usize) -> f64 {
        if self.filled == 0 {
            return 0.0;
        }
        self.samples[..self.filled]
            .iter()
            .map(|s| s[k])
            .sum::<f64>()
            / self.filled as f64
    }
}

/// Persistence status shown by INFO; owned by the engine, read by commands.
#[derive(Debug, Default, Clone)]
pub struct PersistInfo {
    pub aof_last_write_ok: bool,
    pub aof_last_write_error: String,
    pub aof_delayed_fsync: u64,
    pub aof_current_size: u64,
    pub aof_base_size: u64,
    pub loading: bool,
    /// While loading: when it began (Unix ms), the bytes to read and read so far.
    pub loading_start_ms: u64,
    pub loading_total_bytes: u64,
    pub loading_loaded_bytes: u64,
    pub last_save_ms: u64,
    pub rdb_bgsave_in_progress: bool,
    pub rdb_last_bgsave_ok: bool,
    pub rdb_last_bgsave_time_sec: i64,
    pub rdb_current_bgsave_time_sec: i64,
    /// Peak bytes the last snapshot held beyond the dataset (encoded chunks in flight):
    /// Strata's honest analogue of Redis's copy-on-write size.
    pub rdb_last_cow_size: u64,
    pub aof_rewrite_in_progress: bool,
    pub aof_rewrite_scheduled: bool,
    pub aof_last_bgrewrite_ok: bool,
    pub aof_last_rewrite_time_sec: i64,
    pub aof_current_rewrite_time_sec: i64,
    pub aof_last_cow_size: u64,
    /// Why the last snapshot or rewrite failed (empty if it did not).
    pub last_snapshot_error: String,
}

/// Closes a client's connection from another client (CLIENT KILL).
pub type KillHandle = Arc<dyn Fn() + Send + Sync>;

/// What CLIENT LIST shows about a connection.
#[derive(Clone)]
pub struct ClientInfo {
    pub id: u64,
    pub addr: String,
    pub laddr: String,
    pub name: Bytes,
    pub db: usize,
    pub created_ms: u64,
    pub last_ms: u64,
    pub last_cmd: &'static str,
    pub resp: u8,
    pub multi: i64,
    pub lib_name: Bytes,
    pub lib_ver: Bytes,
    pub kill: Option<KillHandle>,
    /// Channels and patterns subscribed to.
    pub sub: usize,
    pub psub: usize,
    pub ssub: usize,
    /// Pub/sub messages waiting to be written to the client.
    pub outbox: Option<Arc<Outbox>>,
    /// The ACL user the connection is logged in as.
    pub user: String,
}

impl ClientInfo {
    /// Redis's client type (CLIENT LIST/KILL TYPE): `pubsub` while subscribed to
    /// anything, else `normal` (Strata has no replicas or masters).
    pub fn class(&self) -> &'static str {
        if self.sub + self.psub > 0 {
            "pubsub"
        } else {
            "normal"
        }
    }
}

impl std::fmt::Debug for ClientInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientInfo")
            .field("id", &self.id)
            .field("addr", &self.addr)
            .finish()
    }
}

#[derive(Debug, Default)]
pub struct Clients {
    pub by_id: BTreeMap<u64, ClientInfo>,
    next_id: u64,
}

impl Clients {
    pub fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }
}

/// Per-connection state that commands read and change.
#[derive(Debug)]
pub struct Session {
    pub id: u64,
    pub db: usize,
    pub resp3: bool,
    pub name: Bytes,
    pub authenticated: bool,
    /// The ACL user this connection runs as (`default` until AUTH says otherwise).
    pub user: String,
    /// Commands queued after MULTI; `None` outside a transaction.
    pub multi: Option<Vec<Args>>,
    /// A command queued after MULTI was rejected: EXEC must fail with EXECABORT.
    pub multi_error: bool,
    pub watched: Vec<(usize, Box<[u8]>)>,
    /// Close the connection once the replies so far are written (QUIT).
    pub close: bool,
    pub last_cmd: &'static str,
    pub lib_name: Bytes,
    pub lib_ver: Bytes,
    /// Connected over loopback (for `enable-debug-command local`).
    pub local: bool,
    /// Pub/sub channels and patterns this client listens to.
    pub subs: Subscriptions,
    /// Where other clients' pub/sub messages for this client go (set by the server).
    pub outbox: Option<Arc<Outbox>>,
    /// Blocking commands: wake handle, MULTI refusal, whether the last command blocked.
    pub blocking: BlockState,
    /// In MONITOR mode: every command run is sent to `outbox`.
    pub monitor: bool,
    /// A WAITAOF waiting for the log to become durable (see `command::wait`).
    pub aof_wait: Option<super::AofWait>,
    /// CLIENT REPLY: OFF drops every reply; SKIP drops the next command's.
    pub reply: ReplyMode,
    /// CLIENT TRACKING is on (its options are in [`State::tracking`]).
    pub tracking: bool,
    /// CLIENT CACHING was given for the next command (OPTIN: yes, OPTOUT: no).
    pub tracking_caching: bool,
}

/// A CLIENT PAUSE: until when (Unix ms), and whether it holds every command (ALL) or only
/// those that may change data (WRITE).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientPause {
    pub until_ms: u64,
    pub all: bool,
}

/// What CLIENT REPLY asked for (see `command::dispatch`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ReplyMode {
    pub off: bool,
    /// Set by CLIENT REPLY SKIP: drop the next command's reply.
    pub skip_next: bool,
    /// The last command ran with its reply dropped: if it blocked or waits (a blocking
    /// pop, WAITAOF), the reply it gets later is dropped too, as Redis drops it. Kept
    /// here so that a stale `true` sends the next command down the path that resets it.
    pub drop_late: bool,
}

impl Session {
    /// The command runs inside EXEC (which denies blocking to the commands it runs).
    pub fn in_exec(&self) -> bool {
        self.blocking.deny
    }

    pub fn new(id: u64, authenticated: bool) -> Self {
        Session {
            id,
            db: 0,
            resp3: false,
            name: Bytes::new(),
            authenticated,
            user: "default".into(),
            multi: None,
            multi_error: false,
            watched: Vec::new(),
            close: false,
            last_cmd: "NULL",
            lib_name: Bytes::new(),
            lib_ver: Bytes::new(),
            local: true,
            subs: Subscriptions::default(),
            outbox: None,
            blocking: BlockState::default(),
            monitor: false,
            aof_wait: None,
            reply: ReplyMode::default(),
            tracking: false,
            tracking_caching: false,
        }
    }

    /// The pseudo-session used to replay the log.
    pub fn replayer(db: usize) -> Self {
        let mut s = Session::new(0, true);
        s.db = db;
        s
    }
}

/// Which data the commands of a batch observed or changed that is not yet durable, so a
/// reply under `appendfsync always` waits only for the fsync that covers what it saw.
/// Maintained by the engine; commands report through [`State::observe`] and friends.
#[derive(Debug, Default)]
pub struct Pending {
    /// Tracking is on (only under `appendfsync always`).
    pub enabled: bool,
    /// Keys changed by earlier batches whose log records are not yet durable -> LSN.
    pub keys: HashMap<(usize, Box<[u8]>), u64>,
    /// LSN of the last not-yet-durable change that touched every key (FLUSHALL, SWAPDB).
    pub global: u64,
    /// The last LSN assigned so far (what "observed everything" needs).
    pub last_lsn: u64,
    /// Highest LSN the current batch observed.
    pub needed: u64,
    /// Keys changed by the current batch (to enter into `keys` once it has LSNs).
    pub changed: Vec<(usize, Box<[u8]>)>,
    /// The current batch changed everything (FLUSHALL, FLUSHDB, SWAPDB).
    pub changed_all: bool,
}

/// Reads the durable LSN (a view of the engine's fsync state; commands touch no files).
pub type DurableLsn = Arc<dyn Fn() -> u64 + Send + Sync>;

pub struct State {
    pub ks: Keyspace,
    pub pending: Pending,
    pub config: Config,
    pub stats: Stats,
    pub slowlog: super::SlowLog,
    /// The outboxes of the clients in MONITOR mode, by client id.
    pub monitors: HashMap<u64, Arc<Outbox>>,
    /// LATENCY's samples (shared with the fsync thread).
    pub latency: Arc<super::LatencyMonitor>,
    /// The LSN up to which the log is on stable storage, read from the fsync side (set
    /// by the engine when the log is on).
    pub durable_lsn: Option<DurableLsn>,
    pub clients: Clients,
    /// WATCHed keys -> ids of the clients watching them.
    pub watches: HashMap<(usize, Box<[u8]>), Vec<u64>>,
    /// Pub/sub channels and patterns -> subscribers (not persisted).
    pub pubsub: PubSub,
    /// CLIENT TRACKING: the keys clients cache, and who to tell when they change.
    pub tracking: super::tracking::Tracking,
    /// The client whose command is running (0: none, as during active expiry).
    pub current_client: u64,
    /// The command running (None between commands): whether a missed lookup is a read
    /// that publishes `keymiss`.
    pub current_spec: Option<&'static super::Spec>,
    /// Clients blocked on keys (BLPOP and friends).
    pub blocking: Blocking,
    /// Clients whose watched keys changed since they watched them.
    pub dirty_watchers: HashSet<u64>,
    /// Effects of the commands executed since the engine last collected them.
    pub effects: Vec<Effect>,
    /// Changes since the last snapshot (`rdb_changes_since_last_save`).
    pub dirty: u64,
    /// True while the log is being replayed at startup.
    pub replaying: bool,
    pub shutdown: Option<Shutdown>,
    pub rng: rand::rngs::SmallRng,
    /// The db eviction looks in next (`evict`: databases take turns).
    pub evict_next_db: usize,
    /// Eviction candidates kept between commands.
    pub evict_pool: super::evict::Pool,
    pub persist: PersistInfo,
    /// DEBUG SET-ACTIVE-EXPIRE.
    pub active_expire: bool,
    /// CLIENT PAUSE in force (see [`super::paused_until`]); cleared by CLIENT UNPAUSE or
    /// found expired by the next check.
    pub pause: Option<ClientPause>,
    pub run_id: String,
    /// Connected clients, maintained by the server (INFO clients).
    pub connected_clients: usize,
    /// Set by the engine while write commands must be refused (the full error reply).
    pub write_refusal: Option<String>,
    /// Set by SAVE, BGSAVE, BGREWRITEAOF, CONFIG REWRITE, ACL LOAD/SAVE... for the
    /// engine to carry out, in order.
    pub persist_requests: Vec<PendingPersist>,
    /// Effects are collected only while a log takes them (not with `appendonly no`, not
    /// while replaying).
    pub logging: bool,
    /// ACL users.
    pub acl: super::acl::Acl,
    /// ACL LOG: the latest permission refusals and failed AUTHs.
    pub acl_log: super::acl::AclLog,
    /// `rename-command`: incoming (lower-case) name -> the command it runs, `None` for a
    /// name that was renamed away or disabled. Empty when nothing is renamed.
    pub renames: HashMap<Vec<u8>, Option<&'static super::Spec>>,
    /// The Lua interpreter and the script cache (EVAL, SCRIPT LOAD).
    pub scripts: super::scripting::Scripts,
    /// Function libraries (FUNCTION LOAD): part of the dataset, unlike `scripts`.
    pub functions: super::scripting::Functions,
}

impl State {
    pub fn new(config: Config) -> Self {
        let mut rng = rand::rngs::SmallRng::from_entropy();
        let run_id: String = (0..40)
            .map(|_| char::from_digit(rand::Rng::gen_range(&mut rng, 0..16), 16).expect("hex"))
            .collect();
        // (The server checks the `user` lines at startup; see `check_config`.)
        let acl = super::acl::Acl::from_config(config.requirepass.as_deref(), &config.users)
            .unwrap_or_else(|_| super::acl::Acl::new(config.requirepass.as_deref()));
        let renames = super::table::renames(&config.rename_commands);
        let mut st = State {
            acl,
            renames,
            scripts: Default::default(),
            functions: Default::default(),
            tracking: Default::default(),
            current_client: 0,
            current_spec: None,
            acl_log: Default::default(),
            ks: Keyspace::new(config.databases),
            pending: Pending::default(),
            config,
            slowlog: super::SlowLog::default(),
            monitors: HashMap::new(),
            latency: Arc::new(super::LatencyMonitor::default()),
            durable_lsn: None,
            stats: Stats {
                start_ms: crate::util::now_ms(),
                ..Default::default()
            },
            clients: Clients::default(),
            watches: HashMap::new(),
            pubsub: PubSub::default(),
            blocking: Blocking::default(),
            dirty_watchers: HashSet::new(),
            effects: Vec::new(),
            dirty: 0,
            replaying: false,
            shutdown: None,
            rng,
            evict_next_db: 0,
            evict_pool: Default::default(),
            persist: PersistInfo {
                aof_last_write_ok: true,
                rdb_last_bgsave_ok: true,
                aof_last_bgrewrite_ok: true,
                rdb_last_bgsave_time_sec: -1,
                rdb_current_bgsave_time_sec: -1,
                aof_last_rewrite_time_sec: -1,
                aof_current_rewrite_time_sec: -1,
                ..PersistInfo::default()
            },
            active_expire: true,
            pause: None,
            run_id,
            connected_clients: 0,
            write_refusal: None,
            persist_requests: Vec::new(),
            logging: false,
        };
        st.stats.used_memory_startup = super::server::used_memory(&st);
        st.sync_keyspace_config();
        st
    }

    /// Point the keyspace at what the configuration asks of it: the access fields
    /// `maxmemory-policy` reads, and lazy freeing of replaced values. Call after the
    /// configuration changes.
    pub fn sync_keyspace_config(&mut self) {
        super::evict::sync_access_policy(self);
        self.ks
            .set_lazy_replace(self.config.lazyfree_lazy_server_del);
    }

    /// A command read `key` in `db`: its reply depends on that key's last change.
    #[inline]
    pub fn observe(&mut self, db: usize, key: &[u8]) {
        let p = &mut self.pending;
        if !p.enabled {
            return;
        }
        p.needed = p.needed.max(p.global);
        if p.keys.is_empty() {
            return;
        }
        if let Some(&lsn) = p.keys.get(&(db, Box::from(key))) {
            p.needed = p.needed.max(lsn);
        }
    }

    /// A command's reply depends on the whole dataset (KEYS, SCAN, DBSIZE, ...).
    pub fn observe_all(&mut self) {
        if self.pending.enabled {
            self.pending.needed = self.pending.needed.max(self.pending.last_lsn);
        }
    }

    /// Invalidate the WATCHes on `key` in `db`; wake clients blocked on it.
    pub fn signal_modified(&mut self, db: usize, key: &[u8]) {
        if self.pending.enabled {
            self.pending.changed.push((db, Box::from(key)));
        }
        self.blocking.key_changed(db, key);
        if !self.tracking.idle() {
            super::tracking::key_changed(self, key, self.current_client);
        }
        if self.watches.is_empty() {
            return;
        }
        if let Some(ids) = self.watches.get(&(db, Box::from(key))) {
            self.dirty_watchers.extend(ids.iter().copied());
        }
    }

    /// A flush of `db` (`None`: of every db) is about to happen: invalidate the WATCHes
    /// on keys that exist there (as Redis, a watched key that is absent stays valid).
    /// Call it before the data goes.
    pub fn signal_flush(&mut self, db: Option<usize>) {
        self.pending.changed_all |= self.pending.enabled;
        super::tracking::flushed(self);
        for ((d, key), ids) in &self.watches {
            if db.is_none_or(|x| x == *d) && self.ks.db(*d).peek(key).is_some() {
                self.dirty_watchers.extend(ids.iter().copied());
            }
        }
    }

    /// SWAPDB `a` `b`: invalidate the WATCHes in either db on keys present in either.
    pub fn signal_swap(&mut self, a: usize, b: usize) {
        self.pending.changed_all |= self.pending.enabled;
        self.blocking.db_changed(a);
        self.blocking.db_changed(b);
        // Keys may now hold other values: cached copies are dropped as after a flush.
        // (Redis 7.0 sends nothing here, leaving clients with stale copies.)
        super::tracking::flushed(self);
        for ((d, key), ids) in &self.watches {
            if (*d == a || *d == b)
                && (self.ks.db(a).peek(key).is_some() || self.ks.db(b).peek(key).is_some())
            {
                self.dirty_watchers.extend(ids.iter().copied());
            }
        }
    }

    /// Drop all of a session's WATCHes (EXEC, DISCARD, UNWATCH, disconnect).
    pub fn unwatch_all(&mut self, sess: &mut Session) {
        for k in sess.watched.drain(..) {
            if let Some(ids) = self.watches.get_mut(&k) {
                ids.retain(|&i| i != sess.id);
                if ids.is_empty() {
                    self.watches.remove(&k);
                }
            }
        }
        self.dirty_watchers.remove(&sess.id);
    }

    /// Whether a CLIENT PAUSE is in force at `now`: then no key expires (reads treat an
    /// expired key as missing without deleting it), as in Redis, so that a paused server
    /// changes nothing.
    pub fn paused(&self, now: u64) -> bool {
        self.pause.is_some_and(|p| p.until_ms > now)
    }

    /// Delete expired keys for up to `budget` examined entries, resuming where the last
    /// call stopped. Returns the number of keys deleted. Deletions are logged as DEL.
    pub fn active_expire_cycle(
        &mut self,
        now: u64,
        cursor: &mut (usize, usize),
        budget: usize,
    ) -> usize {
        if !self.active_expire || self.replaying || self.paused(now) {
            return 0;
        }
        let mut examined = 0;
        let mut deleted = Vec::new();
        let total_segments: usize = self.ks.dbs().iter().map(|d| d.segment_count()).sum();
        let mut steps = 0;
        let free = crate::keyspace::lazyfree::dropper(self.config.lazyfree_lazy_expire);
        loop {
            let (db, seg) = *cursor;
            let table = self.ks.db_mut(db);
            if table.expiring() > 0 {
                examined += 1 + table.expire_segment(
                    seg,
                    |e| e.expire_at() <= now,
                    |e| {
                        deleted.push((db, Box::<[u8]>::from(&*e.key)));
                    },
                    free,
                );
            }
            let segs = self.ks.db(db).segment_count();
            *cursor = if seg + 1 < segs {
                (db, seg + 1)
            } else {
                ((db + 1) % self.ks.db_count(), 0)
            };
            steps += 1;
            if examined >= budget || steps >= total_segments {
                break;
            }
        }
        let n = deleted.len();
        for (db, key) in deleted {
            self.stats.expired_keys += 1;
            self.signal_modified(db, &key);
            super::notify::notify(self, super::notify::class::EXPIRED, "expired", &key, db);
            if self.logging {
                self.effects.push(Effect {
                    db,
                    args: vec![Bytes::from_static(b"DEL"), Bytes::from(key.into_vec())],
                });
            }
        }
        n
    }
}

#[cfg(test)]
mod instant_tests {
    use super::InstantMetrics;

    #[test]
    fn rates_are_the_mean_of_the_last_samples() {
        let mut m = InstantMetrics::default();
        assert_eq!(m.rate(0), 0.0);
        m.sample(10_000, [0, 0, 0]);
        m.sample(10_100, [100, 2048, 0]); // 1000 commands/s, 20480 bytes/s
        m.sample(10_150, [500, 0, 0]); // under 100 ms since the last: ignored
        m.sample(10_300, [300, 2048, 0]); // 1000 commands/s, nothing read
        assert_eq!(m.rate(0), 1000.0);
        assert_eq!(m.rate(1), 10240.0);
        // Only the last 16 samples count.
        for i in 1..=20u64 {
            m.sample(10_300 + i * 100, [300, 2048, i * 50]);
        }
        assert_eq!(m.rate(0), 0.0);
        assert_eq!(m.rate(2), 500.0);
    }
}
