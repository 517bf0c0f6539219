//! The engine: the single owner of the keyspace.
//!
//! Connections hand it batches of parsed commands; it executes them one at a time, in the
//! order they arrive (that order is the log order), hands each batch's effects to the log
//! ([`durability`]) and returns the replies plus the LSN they must wait for. Holding the
//! engine (one lock acquisition per pipelined batch) is what serialises execution.

pub mod durability;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use bytes::Bytes;
use tracing::{info, warn};

use crate::command::{self, ClientInfo, KillHandle, Session, Shutdown, State};
use crate::config::{Config, FsyncPolicy};
use crate::persistence::{
    DataDir, RealFs, Record, RecoveryError, RecoveryOptions, ReplayError, Vfs,
};
use crate::protocol::{Args, ReplyBuf};

pub use durability::{exit_on_fatal, Durability, FatalHook, LogDir, SyncShared, TXN_RECORD};

pub type SharedEngine = Arc<Mutex<Engine>>;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("{0}")]
    Recovery(#[from] RecoveryError),
    #[error("{0}")]
    Replay(String),
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
}

/// Apply one log record to the state (replay at startup).
pub fn apply_record(st: &mut State, rec: &Record, now: u64) -> Result<(), String> {
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
    command::replay(st, rec.db as usize, rec.args.clone(), now)
}

impl Engine {
    /// An engine without a log (`appendonly no`).
    pub fn new(config: Config) -> Self {
        Engine {
            st: State::new(config),
            expire_cursor: (0, 0),
            dur: None,
        }
    }

    /// Open the engine on its data directory (creating it), replaying the log.
    pub fn open(config: Config) -> Result<Self, EngineError> {
        Self::open_with(config, OpenOptions::default())
    }

    /// Like [`Engine::open`] with explicit I/O choices (the simulated disk in tests).
    pub fn open_with(config: Config, o: OpenOptions) -> Result<Self, EngineError> {
        let OpenOptions {
            vfs,
            fatal,
            prealloc_chunk,
        } = o;
        if !config.appendonly {
            return Ok(Self::new(config));
        }
        let dir: PathBuf = config.dir.clone();
        let mut opts = RecoveryOptions {
            load_truncated: config.aof_load_truncated,
            ..RecoveryOptions::default()
        };
        opts.log.prealloc_chunk = prealloc_chunk;
        opts.log.low_watermark = prealloc_chunk / 4;
        let policy = config.appendfsync;
        let mut st = State::new(config);
        let t0 = Instant::now();
        let log_config = opts.log;
        let data = DataDir::open(vfs.clone(), &dir, opts)?;
        st.replaying = true;
        st.persist.loading = true;
        let now = crate::util::now_ms();
        let recovered = data
            .replay(|rec| apply_record(&mut st, rec, now))
            .map_err(|e| match e {
                ReplayError::Recovery(r) => EngineError::Recovery(r),
                other => EngineError::Replay(format!(
                    "{other}. The log holds a command this version cannot apply; run `verify-aof check {}`",
                    dir.display()
                )),
            })?;
        st.replaying = false;
        st.persist.loading = false;
        st.effects.clear();
        st.dirty = 0;
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
        let dur = Durability::new(recovered.writer, files, policy, fatal);
        st.pending.enabled = policy == FsyncPolicy::Always;
        st.pending.last_lsn = dur.last_lsn();
        st.persist.aof_enabled = true;
        st.persist.aof_last_write_ok = true;
        st.persist.aof_current_size = dur.written_size();
        Ok(Engine {
            st,
            expire_cursor: (0, 0),
            dur: Some(dur),
        })
    }

    pub fn shared(self) -> SharedEngine {
        Arc::new(Mutex::new(self))
    }

    /// Lock a shared engine. A panic while holding the lock would leave the keyspace in
    /// an unknown state, so poisoning is fatal rather than ignored.
    pub fn lock(shared: &SharedEngine) -> MutexGuard<'_, Engine> {
        shared
            .lock()
            .expect("engine lock poisoned: a command panicked mid-execution")
    }

    /// The log's sync state, for connections that wait for durability.
    pub fn sync_shared(&self) -> Option<Arc<SyncShared>> {
        self.dur.as_ref().map(|d| d.shared())
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
            },
        );
        self.st.stats.total_connections += 1;
        self.st.connected_clients += 1;
        let mut s = Session::new(id, self.st.config.requirepass.is_none());
        s.local = local;
        s
    }

    pub fn disconnect(&mut self, sess: &mut Session) {
        self.st.unwatch_all(sess);
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
        for args in cmds.drain(..) {
            command::dispatch(&mut self.st, sess, args, out, now);
            if self.st.persist_request.take().is_some() {
                out.error("ERR snapshots are not available in this build yet");
            }
            if let Some(s) = self.st.shutdown {
                outcome.shutdown = Some(s);
                break;
            }
            if sess.close {
                break;
            }
        }
        cmds.clear();
        match self.log_effects() {
            Ok(own) => outcome.wait_lsn = own.max(self.st.pending.needed),
            Err(e) => {
                outcome.log_failed = Some(format!("MISCONF Errors writing to the AOF file: {e}"))
            }
        }
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

    /// Periodic work (called `hz` times a second): active expiry of keys with a TTL
    /// (bounded work per call, so the lock is held briefly), retrying a log reservation
    /// that failed for lack of space, and refreshing INFO persistence figures.
    pub fn tick(&mut self) {
        let now = crate::util::now_ms();
        let mut cursor = self.expire_cursor;
        self.st.active_expire_cycle(now, &mut cursor, 20_000);
        self.expire_cursor = cursor;
        if let Err(e) = self.log_effects() {
            warn!("could not log expired keys: {e}");
        }
        if let Some(d) = &mut self.dur {
            d.reserve(64 * 1024);
            self.st.write_refusal = d.refusal();
            self.st.persist.aof_last_write_ok = self.st.write_refusal.is_none();
            self.st.persist.aof_last_write_error =
                self.st.write_refusal.clone().unwrap_or_default();
            self.st.persist.aof_current_size = d.written_size();
            self.st.persist.aof_delayed_fsync = d.delayed_fsync();
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
