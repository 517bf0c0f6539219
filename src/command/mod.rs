//! Commands: each is a small unit that parses its arguments, applies itself to the
//! keyspace and writes its reply. No I/O happens here: a command that changes data
//! records the *effect* to log ([`Ctx::propagate`]) in a deterministic form (relative
//! expiry becomes absolute `PXAT`, random choices become the concrete change), so the
//! same log replays to the same state.
//!
//! [`dispatch`] is the single entry point: it looks the command up, checks arity and
//! authentication, handles MULTI queueing, and runs the handler.

pub mod acl;
mod bitmaps;
pub mod blocking;
mod docs;
mod dump;
mod evict;
mod geo;
mod hashes;
mod histogram;
mod hyperloglog;
mod keys;
pub mod keyspecs;
mod keyspecs_data;
mod latency;
mod ldouble;
mod lists;
mod monitor;
pub mod notify;
mod pubsub;
pub mod scripting;
mod server;
mod sets;
mod slowlog;
mod sort;
mod state;
mod streams;
mod strings;
mod table;
pub mod tracking;
mod transactions;
mod wait;
mod zsets;

#[doc(hidden)]
pub use hyperloglog::fuzz_stored_string as hll_fuzz_stored_string;
pub use latency::LatencyMonitor;
pub use monitor::stop as monitor_stop;
pub use pubsub::{
    deliver as pubsub_deliver, disconnect as pubsub_disconnect, take_outgoing as pubsub_outgoing,
    tick as pubsub_tick, Outbox, Outgoing, PubSub, Subscriptions,
};
pub use server::{
    memory_peak as server_memory_peak, sync_client as server_sync_client,
    used_memory as server_used_memory,
};
pub use slowlog::{CallStats, SlowLog};
pub use state::{
    ClientInfo, ClientPause, Clients, DurableLsn, Effect, KillHandle, Pending, PendingPersist,
    PersistInfo, PersistRequest, ReplyMode, Session, Shutdown, State, Stats,
};
pub use table::{check_renames, flag, key_positions, lookup, RenameError, Spec, COMMANDS};
pub use wait::{waited_reply, AofWait};

use bytes::Bytes;

use crate::keyspace::{Aggregate, Entry, Kind, Table};
use crate::protocol::{Args, ReplyBuf};

pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
pub const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
pub const NOT_FLOAT: &str = "ERR value is not a valid float";
pub const SYNTAX: &str = "ERR syntax error";
pub const OVERFLOW: &str = "ERR increment or decrement would overflow";
pub const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";

/// The command already replied (with an error): the caller just returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replied;

/// Everything one command execution can see and change.
pub struct Ctx<'a> {
    pub st: &'a mut State,
    pub sess: &'a mut Session,
    pub out: &'a mut ReplyBuf,
    pub args: &'a [Bytes],
    /// The command's notion of "now" (Unix ms), fixed for its whole execution.
    pub now: u64,
}

impl<'a> Ctx<'a> {
    pub fn arg(&self, i: usize) -> &[u8] {
        &self.args[i]
    }

    /// Ask the engine for `req` (commands never touch files); the engine writes the
    /// reply, in this command's place inside EXEC.
    pub fn request_persist(&mut self, req: PersistRequest) {
        let reply_at = self.sess.in_exec().then(|| self.out.len());
        self.st
            .persist_requests
            .push(PendingPersist { req, reply_at });
    }

    pub fn db(&mut self) -> &mut Table {
        self.st.ks.db_mut(self.sess.db)
    }

    /// True when `e` is logically gone. While replaying the log nothing expires: the
    /// deletions that happened live are in the log as DEL records.
    fn is_expired(&self, e: &Entry) -> bool {
        e.expire_at() != 0 && e.expire_at() <= self.now && !self.st.replaying
    }

    /// Delete `key` if it has expired, logging the deletion. Returns true if it has
    /// expired: then it is gone, or, while a CLIENT PAUSE is in force (nothing may
    /// change), still stored but to be treated as missing.
    pub fn expire_if_needed(&mut self, key: &[u8]) -> bool {
        let db = self.sess.db;
        self.st.observe(db, key);
        // No key of this db has a TTL (the common case): nothing to look up.
        if self.st.ks.db(db).expiring() == 0 {
            return false;
        }
        let expired = match self.st.ks.db(db).peek(key) {
            Some(e) => self.is_expired(e),
            None => false,
        };
        if expired && self.st.paused(self.now) {
            return true;
        }
        if expired {
            let free = crate::keyspace::lazyfree::dropper(self.st.config.lazyfree_lazy_expire);
            self.st.ks.db_mut(db).delete_with(key, free);
            self.st.stats.expired_keys += 1;
            self.st.signal_modified(db, key);
            self.notify(notify::class::EXPIRED, "expired", key);
            if self.st.logging {
                self.st.effects.push(Effect {
                    db,
                    args: vec![Bytes::from_static(b"DEL"), Bytes::copy_from_slice(key)],
                });
            }
        }
        expired
    }

    /// The live entry for `key` (expired keys are deleted first), recording the access
    /// for LRU/LFU. A miss publishes `keymiss` when the running command is a read, as
    /// Redis's lookups for reading do.
    pub fn lookup(&mut self, key: &[u8]) -> Option<&Entry> {
        self.lookup_touching(key, true)
    }

    /// [`Ctx::lookup`] that leaves the access field alone: Redis's LOOKUP_NOTOUCH, which
    /// EXISTS, TYPE and the TTL family pass.
    pub fn lookup_notouch(&mut self, key: &[u8]) -> Option<&Entry> {
        self.lookup_touching(key, false)
    }

    fn lookup_touching(&mut self, key: &[u8], touch: bool) -> Option<&Entry> {
        let expired = self.expire_if_needed(key);
        let db = self.sess.db;
        if self.missing_for_keymiss(key, expired) {
            if self.st.current_spec.is_some_and(|s| s.has(flag::READONLY)) {
                self.notify(notify::class::KEY_MISS, "keymiss", key);
            }
            return None;
        }
        let table = self.st.ks.db(db);
        let e = table.peek(key).filter(|_| !expired)?;
        if touch {
            table.touch(e);
        }
        Some(e)
    }

    /// [`Ctx::lookup`] that neither publishes `keymiss` nor records an access (OBJECT's,
    /// as Redis's).
    pub fn lookup_quiet(&mut self, key: &[u8]) -> Option<&Entry> {
        let expired = self.expire_if_needed(key);
        let db = self.sess.db;
        self.st.ks.db(db).peek(key).filter(|_| !expired)
    }

    /// With `keymiss` published, whether `key` is missing (`expired`: the expiry check
    /// just found it expired). The notifying way probes twice: the borrow checker
    /// cannot see that a miss leaves nothing borrowed.
    fn missing_for_keymiss(&self, key: &[u8], expired: bool) -> bool {
        self.st.config.notify_keyspace_events & notify::class::KEY_MISS != 0
            && (expired || self.st.ks.db(self.sess.db).peek(key).is_none())
    }

    /// Like [`Ctx::lookup`] but counts a keyspace hit or miss (GET-like reads).
    pub fn lookup_read(&mut self, key: &[u8]) -> Option<&Entry> {
        let expired = self.expire_if_needed(key);
        let db = self.sess.db;
        if self.missing_for_keymiss(key, expired) {
            self.st.stats.keyspace_misses += 1;
            self.notify(notify::class::KEY_MISS, "keymiss", key);
            return None;
        }
        let e = self.st.ks.db(db).get(key).filter(|_| !expired);
        if e.is_some() {
            self.st.stats.keyspace_hits += 1;
        } else {
            self.st.stats.keyspace_misses += 1;
        }
        e
    }

    /// Look `key` up for a command on values of `kind` (deleting it first if expired).
    /// `Ok(true)`: such a value is there; `Ok(false)`: no key; `Err`: another type, and
    /// WRONGTYPE was replied. `read` counts a keyspace hit or miss.
    pub fn probe(&mut self, key: &[u8], kind: Kind, read: bool) -> Result<bool, Replied> {
        let e = if read {
            self.lookup_read(key)
        } else {
            self.lookup(key)
        };
        match e.map(|e| e.value.kind()) {
            None => Ok(false),
            Some(k) if k == kind => Ok(true),
            Some(_) => {
                self.error(WRONGTYPE);
                Err(Replied)
            }
        }
    }

    pub fn exists(&mut self, key: &[u8]) -> bool {
        self.lookup(key).is_some()
    }

    /// The type of the live value at `key`, if any: a check before the command's own
    /// lookup, so not an access.
    pub fn kind_of(&mut self, key: &[u8]) -> Option<Kind> {
        self.lookup_notouch(key).map(|e| e.value.kind())
    }

    /// Record that `key` in the current db changed: invalidates WATCHes, counts a change.
    pub fn modified(&mut self, key: &[u8]) {
        let db = self.sess.db;
        self.st.signal_modified(db, key);
        self.st.dirty += 1;
    }

    /// Log `args` as this command's effect, in the current db.
    pub fn propagate(&mut self, args: Vec<Bytes>) {
        if !self.st.logging {
            return;
        }
        let db = self.sess.db;
        self.st.effects.push(Effect { db, args });
    }

    /// Log the command exactly as received.
    pub fn propagate_self(&mut self) {
        if !self.st.logging {
            return;
        }
        let args = self.args.to_vec();
        self.propagate(args);
    }

    pub fn error(&mut self, msg: &str) {
        self.out.error(msg);
    }

    /// Reply with a HELP text: one simple string per line, as Redis does.
    pub fn help(&mut self, lines: &[&str]) {
        self.out.array_len(lines.len());
        for l in lines {
            self.out.simple(l);
        }
    }

    pub fn wrong_args(&mut self) {
        let name = String::from_utf8_lossy(&self.args[0]).to_lowercase();
        self.out.error(&format!(
            "ERR wrong number of arguments for '{name}' command"
        ));
    }

    /// Parse argument `i` as an integer, replying with Redis's error if it is not one.
    pub fn int_arg(&mut self, i: usize) -> Option<i64> {
        self.int_arg_or(i, NOT_INTEGER)
    }

    /// [`Ctx::int_arg`] with the command's own error for a non-integer.
    pub fn int_arg_or(&mut self, i: usize, msg: &str) -> Option<i64> {
        let v = crate::util::parse_i64_strict(&self.args[i]);
        if v.is_none() {
            self.out.error(msg);
        }
        v
    }
}

// ---- the aggregate at a key (lists, hashes, sets, sorted sets) ---------------------

/// The `T` at `key` in `db`, if the key holds one.
pub(crate) fn typed<'a, T: Aggregate>(st: &'a State, db: usize, key: &[u8]) -> Option<&'a T> {
    st.ks.db(db).peek(key).and_then(|e| T::of(&e.value))
}

/// A keyspace event: its class and Redis's name for it.
pub(crate) type Event = (u32, &'static str);

/// For [`edit_typed`]: publish nothing, the caller publishes the events in its own order.
pub(crate) const QUIET: Event = (0, "");

/// Change the `T` at `key` in the current db (the caller has checked it holds one) with
/// `f`, which returns its result and whether it changed the value. Deletes the key if the
/// value ends empty. A change is signalled and published as `event`, then `del` if the
/// key went, as Redis orders them.
pub(crate) fn edit_typed<T: Aggregate, R>(
    ctx: &mut Ctx,
    key: &[u8],
    event: Event,
    f: impl FnOnce(&mut T) -> (R, bool),
) -> R {
    let table = ctx.st.ks.db_mut(ctx.sess.db);
    let (r, changed, empty) = table
        .update(key, |v| {
            let x = T::of_mut(v).expect("caller checked the key's type");
            let (r, changed) = f(x);
            (r, changed, x.empty())
        })
        .expect("caller checked the key exists");
    if empty {
        table.delete(key);
    }
    if changed {
        ctx.modified(key);
        // (QUIET's class 0 publishes nothing.)
        ctx.notify(event.0, event.1, key);
        if empty && event != QUIET {
            ctx.notify(notify::class::GENERIC, "del", key);
        }
    }
    r
}

/// Store `v` at `key` in the current db (replacing any value and TTL), or delete `key`
/// if `v` is empty. Returns true if the keyspace changed (and then signals it). Publishes
/// `new` for a key created, `del` for one deleted; the caller publishes its own event
/// after `new`.
pub(crate) fn store_typed<T: Aggregate>(ctx: &mut Ctx, key: &[u8], v: T) -> bool {
    let table = ctx.st.ks.db_mut(ctx.sess.db);
    if v.empty() {
        let deleted = table.delete(key);
        if deleted {
            ctx.modified(key);
            ctx.notify(notify::class::GENERIC, "del", key);
        }
        return deleted;
    }
    let replaced = table.insert(Entry::new(key.into(), v.into_value(), 0));
    ctx.modified(key);
    if !replaced {
        ctx.notify(notify::class::NEW, "new", key);
    }
    true
}

/// Store the result of a *STORE command at `dst` (an expired `dst` goes first, as the
/// lookup of a write would remove it), publish `event` unless the result is empty (then
/// `dst` was deleted, and `del` published if it existed), and log the command if
/// anything changed.
pub(crate) fn store_result<T: Aggregate>(ctx: &mut Ctx, dst: &[u8], v: T, event: Event) {
    let empty = v.empty();
    ctx.expire_if_needed(dst);
    if store_typed(ctx, dst, v) {
        if !empty {
            ctx.notify(event.0, event.1, dst);
        }
        ctx.propagate_self();
    }
}

/// LMPOP/BLMPOP/ZMPOP/BZMPOP arguments from `numkeys` at index `at`: the keys, the end
/// to pop from (`end` parses LEFT|RIGHT or MIN|MAX), the count (default 1). None after
/// replying with the error.
pub(crate) fn mpop_args(
    ctx: &mut Ctx,
    at: usize,
    end: fn(&[u8]) -> Option<bool>,
) -> Option<(Vec<Bytes>, bool, usize)> {
    let numkeys = match crate::util::parse_i64_strict(&ctx.args[at]) {
        Some(n) if n > 0 => n as usize,
        _ => {
            ctx.error("ERR numkeys should be greater than 0");
            return None;
        }
    };
    let first = at + 1;
    // The keys, then the direction, then maybe COUNT n.
    if numkeys > ctx.args.len().saturating_sub(first + 1) {
        ctx.error(SYNTAX);
        return None;
    }
    let keys = ctx.args[first..first + numkeys].to_vec();
    let mut i = first + numkeys;
    let Some(side) = end(&ctx.args[i]) else {
        ctx.error(SYNTAX);
        return None;
    };
    i += 1;
    let mut count = None;
    while i < ctx.args.len() {
        if count.is_none() && ctx.args[i].eq_ignore_ascii_case(b"count") && i + 1 < ctx.args.len() {
            match crate::util::parse_i64_strict(&ctx.args[i + 1]) {
                Some(n) if n > 0 => count = Some(n as usize),
                _ => {
                    ctx.error("ERR count should be greater than 0");
                    return None;
                }
            }
            i += 2;
        } else {
            ctx.error(SYNTAX);
            return None;
        }
    }
    Some((keys, side, count.unwrap_or(1)))
}

/// SINTERCARD/ZINTERCARD's options from index `from`: `[LIMIT limit]` (0, the default:
/// no limit). None after replying with the error.
pub(crate) fn card_limit(ctx: &mut Ctx, from: usize) -> Option<usize> {
    let mut limit = 0usize;
    let mut i = from;
    while i < ctx.args.len() {
        if ctx.args[i].eq_ignore_ascii_case(b"limit") && i + 1 < ctx.args.len() {
            match crate::util::parse_i64_strict(&ctx.args[i + 1]) {
                Some(n) if n >= 0 => limit = n as usize,
                _ => {
                    ctx.error("ERR LIMIT can't be negative");
                    return None;
                }
            }
            i += 2;
        } else {
            ctx.error(SYNTAX);
            return None;
        }
    }
    Some(limit)
}

/// The reply to a command that cannot run while the dataset loads (Redis's words, which
/// clients map to their "busy loading" error).
pub const LOADING: &str = "LOADING Redis is loading the dataset in memory";

/// Run one client command. Replies go to `out`, effects to `st.effects`.
pub fn dispatch(st: &mut State, sess: &mut Session, args: Args, out: &mut ReplyBuf, now: u64) {
    if sess.reply == ReplyMode::default() {
        return dispatch_as(st, sess, args, out, now, true);
    }
    // CLIENT REPLY OFF or SKIP: run the command, drop what it replied. CLIENT REPLY ON
    // and RESET (which turn replies back on) answer, and (un)subscribe confirmations are
    // delivered anyway, as in Redis.
    let skip_this = std::mem::take(&mut sess.reply.skip_next);
    let drop_reply = sess.reply.off || skip_this;
    let exempt = is_reply_on(&args)
        || lookup(&args[0]).is_some_and(|s| {
            matches!(
                s.name,
                "subscribe" | "unsubscribe" | "psubscribe" | "punsubscribe" | "reset"
            )
        });
    let reply_at = out.len();
    dispatch_as(st, sess, args, out, now, true);
    sess.reply.drop_late = drop_reply && !exempt;
    if sess.reply.drop_late {
        out.truncate(reply_at);
    }
}

fn is_reply_on(args: &[Bytes]) -> bool {
    args.len() == 3
        && args[0].eq_ignore_ascii_case(b"CLIENT")
        && args[1].eq_ignore_ascii_case(b"REPLY")
        && args[2].eq_ignore_ascii_case(b"ON")
}

/// Run a command queued by MULTI, for EXEC: Redis runs those without the checks that
/// apply to a command as it arrives (subscribed mode).
pub(crate) fn dispatch_queued(
    st: &mut State,
    sess: &mut Session,
    args: Args,
    out: &mut ReplyBuf,
    now: u64,
) {
    dispatch_as(st, sess, args, out, now, false)
}

/// What rename-command makes of the name a client sent: `Some(Some(spec))` the command
/// it now runs, `Some(None)` a name renamed away or disabled, `None` a name rename-command
/// does not touch (look it up in the table).
fn renamed(st: &State, name: &[u8]) -> Option<Option<&'static Spec>> {
    if st.renames.is_empty() {
        return None;
    }
    st.renames
        .get(name.to_ascii_lowercase().as_slice())
        .copied()
}

fn dispatch_as(
    st: &mut State,
    sess: &mut Session,
    mut args: Args,
    out: &mut ReplyBuf,
    now: u64,
    arriving: bool,
) {
    st.ks.set_now(now);
    // rename-command applies to what clients send; the log and MULTI queues hold the
    // real name.
    let renamed = if arriving {
        renamed(st, &args[0])
    } else {
        None
    };
    let found = match renamed {
        Some(renamed) => {
            if let Some(spec) = renamed {
                args[0] = Bytes::from_static(spec.name.as_bytes());
            }
            renamed
        }
        _ => lookup(&args[0]),
    };
    let Some(spec) = found else {
        if arriving {
            sess.last_cmd = "NULL";
        }
        return reject(
            st,
            sess,
            None,
            &args,
            false,
            out,
            &unknown_command_message(&args),
        );
    };
    // CLIENT LIST's `cmd=`: what the client sent last (EXEC, not what EXEC ran), a
    // subcommand by its full name (`client|list`), `NULL` if unknown, as in Redis.
    if arriving {
        sess.last_cmd = if spec.has(flag::CONTAINER) || spec.name == "acl" {
            acl::full_name(spec, &args)
        } else {
            spec.name
        };
    }
    let is_exec = spec.name == "exec";
    // Redis's order: arity, then authentication, then what MULTI forbids.
    if !spec.arity_ok(args.len()) {
        let msg = format!("ERR wrong number of arguments for '{}' command", spec.name);
        return reject(st, sess, Some(spec), &args, is_exec, out, &msg);
    }
    if spec.has(flag::CONTAINER) {
        if let Some((known, msg)) = spec.subcommand_refusal(&args) {
            if arriving && !known {
                sess.last_cmd = "NULL";
            }
            return reject(st, sess, known.then_some(spec), &args, false, out, &msg);
        }
    }
    if !sess.authenticated && !spec.no_auth() {
        return reject(
            st,
            sess,
            Some(spec),
            &args,
            is_exec,
            out,
            "NOAUTH Authentication required.",
        );
    }
    if sess.multi.is_some() && spec.has(flag::NO_MULTI) {
        return reject(
            st,
            sess,
            Some(spec),
            &args,
            false,
            out,
            "ERR Command not allowed inside a transaction",
        );
    }
    if !spec.no_auth() {
        if let Err(denied) = st.acl.check(&sess.user, spec, &args) {
            let in_multi = sess.multi.is_some() || !arriving;
            let context = if in_multi { "multi" } else { "toplevel" };
            acl::log_refusal(st, sess, Some(&denied), b"", context, &sess.user, now);
            return reject(st, sess, Some(spec), &args, is_exec, out, &denied.message());
        }
    }
    // Above maxmemory, keys are evicted first (by the policy) before any command, as in
    // Redis; one that may grow memory is refused if that did not bring memory down.
    if arriving && st.config.maxmemory > 0 && evict::over_limit(st) && oom_applies(spec, sess) {
        return reject(st, sess, Some(spec), &args, is_exec, out, OOM);
    }
    if let Some(refusal) = &st.write_refusal {
        if spec.is_write() {
            let refusal = refusal.clone();
            return reject(st, sess, Some(spec), &args, false, out, &refusal);
        }
    }
    if arriving {
        if let Some(msg) = pubsub::subscribed_mode_refusal(st, sess, spec, &args) {
            return reject(st, sess, Some(spec), &args, is_exec, out, &msg);
        }
    }
    if let Some(msg) = monitor::refusal(sess, spec) {
        return reject(st, sess, Some(spec), &args, is_exec, out, msg);
    }
    // While the dataset loads, only what Redis allows then (and never DEBUG, which could
    // change a keyspace the log is still being replayed into).
    if st.persist.loading && (!spec.has(flag::LOADING) || spec.name == "debug") {
        return reject(st, sess, Some(spec), &args, is_exec, out, LOADING);
    }
    if let Some(queue) = sess.multi.as_mut().filter(|_| !spec.runs_in_multi()) {
        queue.push(args);
        out.simple("QUEUED");
        return;
    }
    st.stats.total_commands += 1;
    let reply_at = out.len();
    let started = std::time::Instant::now();
    let caller = std::mem::replace(&mut st.current_client, sess.id);
    let outer = st.current_spec.replace(spec);
    let mut ctx = Ctx {
        st,
        sess,
        out,
        args: &args,
        now,
    };
    (spec.handler)(&mut ctx);
    st.current_client = caller;
    st.current_spec = outer;
    if sess.tracking {
        after_tracked(st, sess, spec, &args, arriving);
    }
    let nanos = started.elapsed().as_nanos() as u64;
    let event = if spec.has(flag::FAST) {
        "fast-command"
    } else {
        "command"
    };
    st.latency.record(event, nanos / 1_000_000);
    let error = match out.as_bytes().get(reply_at..) {
        Some([b'-', rest @ ..]) => Some(rest),
        _ => None,
    };
    slowlog::record_call(st, sess, spec, &args, nanos, error);
    if !spec.has(flag::SKIP_MONITOR) {
        monitor::feed(st, sess, spec, &args);
    }
}

/// Run a command a script called, after the script's own checks (`scripting`): as the
/// running command for notifications and client-side caching, its effects recorded.
pub(crate) fn run_for_script(
    st: &mut State,
    sess: &mut Session,
    spec: &'static Spec,
    args: &[Bytes],
    out: &mut ReplyBuf,
    now: u64,
) {
    st.stats.total_commands += 1;
    let outer = st.current_spec.replace(spec);
    let mut ctx = Ctx {
        st,
        sess,
        out,
        args,
        now,
    };
    (spec.handler)(&mut ctx);
    st.current_spec = outer;
    monitor::feed_script(st, sess.db, spec, args);
}

/// CLIENT TRACKING, after a command of a tracking client ran: a read's keys are
/// remembered; CLIENT CACHING lasts for one command (a whole transaction, and CLIENT
/// subcommands leave it), as in Redis.
#[cold]
fn after_tracked(st: &mut State, sess: &mut Session, spec: &Spec, args: &[Bytes], arriving: bool) {
    if spec.has(flag::READONLY) {
        tracking::remember(st, sess, spec, args);
    }
    if arriving && sess.multi.is_none() && spec.name != "client" {
        sess.tracking_caching = false;
    }
}

/// Until when (Unix ms) a CLIENT PAUSE holds `args` back, if it does: every command under
/// ALL; under WRITE those that may change data (write commands, PUBLISH, PFCOUNT, and an
/// EXEC whose queue holds one), checked as a command arrives, even one MULTI would queue,
/// as Redis 7.0 does. A pause found expired is cleared.
pub fn paused_until(st: &mut State, sess: &Session, args: &[Bytes], now: u64) -> Option<u64> {
    let p = st.pause?;
    if p.until_ms <= now {
        st.pause = None;
        return None;
    }
    if p.all {
        return Some(p.until_ms);
    }
    let may_change = |s: &Spec| {
        s.is_write()
            || matches!(
                s.name,
                "publish" | "spublish" | "pfcount" | "eval" | "evalsha" | "fcall"
            )
    };
    let spec = match renamed(st, &args[0]) {
        Some(r) => r?,
        None => lookup(&args[0])?,
    };
    let held = may_change(spec)
        || (spec.name == "exec"
            && sess
                .multi
                .as_ref()
                .is_some_and(|q| q.iter().any(|a| lookup(&a[0]).is_some_and(may_change))));
    held.then_some(p.until_ms)
}

/// Whether `maxmemory` refuses `spec` now, as Redis decides: commands that may grow
/// memory (`denyoom`), an EXEC queueing any, and anything queued inside MULTI.
fn oom_applies(spec: &Spec, sess: &Session) -> bool {
    if spec.has(flag::DENYOOM) {
        return true;
    }
    match &sess.multi {
        Some(q) if spec.name == "exec" => q
            .iter()
            .any(|a| lookup(&a[0]).is_some_and(|s| s.has(flag::DENYOOM))),
        Some(_) => !matches!(spec.name, "discard" | "quit" | "reset"),
        None => false,
    }
}

/// Refuse a command before it runs, as Redis's rejectCommand does: a transaction being
/// queued is marked to fail, and a refused EXEC discards the transaction right away.
fn reject(
    st: &mut State,
    sess: &mut Session,
    spec: Option<&'static Spec>,
    args: &[Bytes],
    is_exec: bool,
    out: &mut ReplyBuf,
    msg: &str,
) {
    if is_exec {
        sess.multi = None;
        sess.multi_error = false;
        st.unwatch_all(sess);
        let reason = msg.strip_prefix("ERR ").unwrap_or(msg);
        let msg = format!("EXECABORT Transaction discarded because of: {reason}");
        slowlog::record_rejection(st, spec, args, msg.as_bytes());
        out.error(&msg);
        return;
    }
    if sess.multi.is_some() {
        sess.multi_error = true;
    }
    slowlog::record_rejection(st, spec, args, msg.as_bytes());
    out.error(msg);
}

/// Redis's text: the name cut to 128 bytes, then quoted arguments while the list is
/// shorter than 128 bytes, each cut to the room left.
fn unknown_command_message(args: &[Bytes]) -> String {
    let mut list: Vec<u8> = Vec::new();
    for a in args[1..].iter() {
        if list.len() >= 128 {
            break;
        }
        let room = 128 - list.len();
        list.push(b'\'');
        list.extend_from_slice(&a[..a.len().min(room)]);
        list.extend_from_slice(b"' ");
    }
    format!(
        "ERR unknown command '{}', with args beginning with: {}",
        String::from_utf8_lossy(&args[0][..args[0].len().min(128)]),
        String::from_utf8_lossy(&list)
    )
}

/// Run a command replayed from the log: no auth, no MULTI, no replies kept, no expiry.
pub fn replay(st: &mut State, db: usize, args: Args, now: u64) -> Result<(), String> {
    let spec = lookup(&args[0]).ok_or_else(|| {
        format!(
            "unknown command '{}' in the log",
            String::from_utf8_lossy(&args[0])
        )
    })?;
    if !spec.arity_ok(args.len()) {
        return Err(format!(
            "wrong number of arguments for '{}' in the log",
            spec.name
        ));
    }
    if db >= st.ks.db_count() {
        return Err(format!(
            "the log selects db {db} but only {} databases are configured (raise 'databases')",
            st.ks.db_count()
        ));
    }
    st.ks.set_now(now);
    let mut sess = Session::replayer(db);
    let mut out = ReplyBuf::new(false);
    let mut ctx = Ctx {
        st,
        sess: &mut sess,
        out: &mut out,
        args: &args,
        now,
    };
    (spec.handler)(&mut ctx);
    ctx.st.effects.clear();
    if out.as_bytes().first() == Some(&b'-') {
        return Err(format!(
            "replaying '{}' failed: {}",
            spec.name,
            String::from_utf8_lossy(&out.as_bytes()[1..out.len() - 2])
        ));
    }
    Ok(())
}
