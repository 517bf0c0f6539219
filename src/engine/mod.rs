//! The engine: the single owner of the keyspace.
//!
//! Connections hand it batches of parsed commands; it executes them one at a time, in the
//! order they arrive (that order is the log order), collects each write's effect, and
//! returns the replies. Holding the engine (one lock acquisition per pipelined batch) is
//! what serialises execution; nothing else touches the keyspace.

use std::sync::{Arc, Mutex, MutexGuard};

use crate::command::{self, ClientInfo, KillHandle, Session, Shutdown, State};
use crate::config::Config;
use crate::protocol::{Args, ReplyBuf};

pub type SharedEngine = Arc<Mutex<Engine>>;

/// What the connection must do after a batch.
#[derive(Debug, Default, Clone, Copy)]
pub struct BatchOutcome {
    /// A SHUTDOWN was executed.
    pub shutdown: Option<Shutdown>,
}

pub struct Engine {
    pub st: State,
    expire_cursor: (usize, usize),
}

impl Engine {
    pub fn new(config: Config) -> Self {
        Engine {
            st: State::new(config),
            expire_cursor: (0, 0),
        }
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

    /// Register a new connection; returns its session.
    pub fn connect(&mut self, addr: String, laddr: String, local: bool, kill: KillHandle) -> Session {
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
        cmds: impl IntoIterator<Item = Args>,
        out: &mut ReplyBuf,
    ) -> BatchOutcome {
        let now = crate::util::now_ms();
        let mut outcome = BatchOutcome::default();
        for args in cmds {
            command::dispatch(&mut self.st, sess, args, out, now);
            if let Some(s) = self.st.shutdown {
                outcome.shutdown = Some(s);
                break;
            }
            if sess.close {
                break;
            }
        }
        self.collect_effects();
        command::server_sync_client(&mut self.st, sess, now);
        outcome
    }

    /// Hand the effects of executed commands to persistence (none is attached yet:
    /// the append-only log arrives with the persistence layer).
    fn collect_effects(&mut self) {
        self.st.effects.clear();
    }

    /// Periodic work (called `hz` times a second): active expiry of keys with a TTL.
    /// Each call examines a bounded number of entries so the lock is held briefly.
    pub fn tick(&mut self) {
        let now = crate::util::now_ms();
        let mut cursor = self.expire_cursor;
        self.st.active_expire_cycle(now, &mut cursor, 20_000);
        self.expire_cursor = cursor;
        self.collect_effects();
    }
}
