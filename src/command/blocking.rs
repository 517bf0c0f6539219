//! Blocking commands: the one mechanism behind BLPOP, BRPOP, BLMOVE, BLMPOP (lists),
//! BZPOPMIN, BZPOPMAX, BZMPOP (sorted sets) and XREAD, XREADGROUP (streams).
//!
//! # How a command blocks
//!
//! A blocking command's handler is an ordinary handler. It parses its timeout with
//! [`timeout_arg`] *first* (Redis reports a bad timeout even when data is there), then
//! tries to serve itself from the first of its keys that holds data
//! ([`Ctx::first_holding`], in [`Ctx::blocking_order`] order). If no key can serve it,
//! it calls [`Ctx::block`] and writes **no reply**:
//!
//! ```ignore
//! pub fn blpop(ctx: &mut Ctx) {
//!     let Some(timeout) = blocking::timeout_arg(ctx, ctx.args.len() - 1) else { return };
//!     let keys = ctx.args[1..ctx.args.len() - 1].to_vec();
//!     match ctx.first_holding(&keys, Kind::List) {
//!         Err(_) => return, // WRONGTYPE, replied
//!         // Pop, reply, log the pop as its effect (LPOP key), ctx.modified(key).
//!         Ok(Some(key)) => return serve(ctx, &key),
//!         Ok(None) => {}
//!     }
//!     if !ctx.block(&keys, Kind::List, timeout) {
//!         ctx.out.null_array(); // may not block (inside MULTI/EXEC): reply as a timeout
//!     }
//! }
//! ```
//!
//! `Ctx::block` registers the client in the engine-side [`Blocking`] registry (part of
//! [`State`]): every key maps to a FIFO queue of blocked client ids, and each blocked
//! client records its command (arguments, db, protocol), the value type it waits for and
//! its deadline. The dispatcher's caller (the engine) stops executing that client's
//! pipeline: later commands wait until it is unblocked, as in Redis.
//!
//! # How it is woken
//!
//! Every change to a key goes through [`State::signal_modified`]; when a client waits on
//! that key, the key is queued as *ready*. After each top-level command the engine calls
//! [`serve_ready`], still under the engine lock, exactly where Redis calls
//! `handleClientsBlockedOnKeys`: for each ready key that now holds a value of the awaited
//! type, the blocked clients are tried in FIFO order by **re-running their command** (with
//! the ready key tried first) on a scratch session. A run that replies serves the client:
//! it leaves every queue and its reply is kept until its connection collects it
//! ([`take_served`]); a run that calls `Ctx::block` again (nothing left) keeps it in
//! place. So no other client can slip in between the push and the blocked pop, and the
//! pop is logged as its effect (LPOP/RPOP/LMOVE/ZPOPMIN...), never as the blocking
//! command: replay never blocks. A key of another type leaves its waiters blocked
//! (Redis 7.0).
//!
//! Once the batch's effects have their log position, the engine stamps the served replies
//! with it ([`finish_served`]: under `appendfsync always` they are released only when that
//! position is durable) and calls each served client's [`WakeHandle`], installed on the
//! session by the server (a `tokio::sync::Notify` there; nothing here knows about tokio).
//!
//! # Timeouts, disconnects, transactions
//!
//! The connection task waits for its wake handle, the deadline, or the socket closing.
//! On timeout it calls [`unblock_timed_out`], which removes the client from the queues
//! and gives the null-array reply (or the reply of a serve that won the race); a closed
//! connection is removed by the engine's disconnect ([`Blocking::remove`]). Inside
//! MULTI/EXEC (`BlockState::deny`) a blocking command never blocks: `Ctx::block` returns
//! false and the handler replies as on timeout. CLIENT UNBLOCK ends a wait early
//! ([`unblock_client`]). INFO `blocked_clients` is [`Blocking::blocked_clients`]; CLIENT
//! LIST shows flag `b`.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use bytes::Bytes;

use super::{lookup, Ctx, Replied, Session, State};
use crate::keyspace::Kind;
use crate::protocol::{Args, ReplyBuf};

/// Wakes a blocked client's connection when its reply is ready (installed by the server).
pub type WakeHandle = Arc<dyn Fn() + Send + Sync>;

/// A session's side of blocking.
#[derive(Default)]
pub struct BlockState {
    /// How to wake this client's connection; a session without one never blocks.
    pub wake: Option<WakeHandle>,
    /// Blocking is not allowed (commands run by EXEC): blocking commands act as if their
    /// timeout had expired at once.
    pub deny: bool,
    /// Set when the last command blocked: its deadline (Unix ms, 0 = none). The engine
    /// takes it to learn that the client's pipeline must pause.
    pub blocked: Option<u64>,
    /// While a blocked command is re-run: the key that became ready.
    retry: Option<(usize, Box<[u8]>)>,
    /// The re-run found nothing and asked to block again.
    reblocked: bool,
}

impl std::fmt::Debug for BlockState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockState")
            .field("deny", &self.deny)
            .field("blocked", &self.blocked)
            .finish()
    }
}

/// A blocked client, as the registry keeps it.
struct Blocked {
    db: usize,
    resp3: bool,
    args: Args,
    keys: Vec<Box<[u8]>>,
    kind: Kind,
    wake: WakeHandle,
}

/// The reply of a blocked client that was served, waiting for its connection.
pub struct Served {
    pub reply: Vec<u8>,
    /// Send the reply only once this LSN is durable (0: at once).
    pub wait_lsn: u64,
    wake: WakeHandle,
    stamped: bool,
}

/// Which clients are blocked on which keys (engine-side; see the module docs).
#[derive(Default)]
pub struct Blocking {
    /// (db, key) -> blocked client ids, first blocked first.
    queues: HashMap<(usize, Box<[u8]>), VecDeque<u64>>,
    clients: HashMap<u64, Blocked>,
    /// Keys with waiters that changed since the last [`serve_ready`].
    ready: VecDeque<(usize, Box<[u8]>)>,
    ready_set: HashSet<(usize, Box<[u8]>)>,
    served: HashMap<u64, Served>,
}

impl std::fmt::Debug for Blocking {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Blocking")
            .field("blocked_clients", &self.clients.len())
            .field("keys", &self.queues.len())
            .finish()
    }
}

impl Blocking {
    /// Clients currently blocked (INFO `blocked_clients`).
    pub fn blocked_clients(&self) -> usize {
        self.clients.len()
    }

    /// Keys some client is blocked on.
    pub fn blocking_keys(&self) -> usize {
        self.queues.len()
    }

    pub fn is_blocked(&self, id: u64) -> bool {
        self.clients.contains_key(&id)
    }

    /// `key` in `db` changed: if someone waits on it, serve them after this command.
    #[inline]
    pub fn key_changed(&mut self, db: usize, key: &[u8]) {
        if self.queues.is_empty() {
            return;
        }
        let k = (db, Box::<[u8]>::from(key));
        if self.queues.contains_key(&k) && self.ready_set.insert(k.clone()) {
            self.ready.push_back(k);
        }
    }

    /// Every key of `db` may have changed (SWAPDB).
    pub fn db_changed(&mut self, db: usize) {
        let keys: Vec<_> = self.queues.keys().filter(|k| k.0 == db).cloned().collect();
        for k in keys {
            if self.ready_set.insert(k.clone()) {
                self.ready.push_back(k);
            }
        }
    }

    pub fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    /// Forget client `id` entirely (disconnect): its queues and any reply not collected.
    pub fn remove(&mut self, id: u64) {
        self.unregister(id);
        self.served.remove(&id);
    }

    fn register(&mut self, id: u64, b: Blocked) {
        for k in &b.keys {
            self.queues
                .entry((b.db, k.clone()))
                .or_default()
                .push_back(id);
        }
        self.clients.insert(id, b);
    }

    fn unregister(&mut self, id: u64) -> Option<Blocked> {
        let b = self.clients.remove(&id)?;
        for k in &b.keys {
            let qk = (b.db, k.clone());
            if let Some(q) = self.queues.get_mut(&qk) {
                q.retain(|&x| x != id);
                if q.is_empty() {
                    self.queues.remove(&qk);
                }
            }
        }
        Some(b)
    }
}

/// Parse argument `i` as a blocking timeout in seconds, as Redis 7.0 does: a float
/// (`strtold` syntax), truncated to whole milliseconds. Returns the timeout in ms
/// (0 = wait forever), or None after replying with Redis's error.
pub fn timeout_arg(ctx: &mut Ctx, i: usize) -> Option<u64> {
    match parse_timeout(&ctx.args[i]) {
        Ok(ms) => Some(ms),
        Err(msg) => {
            ctx.error(msg);
            None
        }
    }
}

/// The timeout rules of [`timeout_arg`], without a context.
pub fn parse_timeout(arg: &[u8]) -> Result<u64, &'static str> {
    let secs = parse_long_double(arg).ok_or("ERR timeout is not a float or out of range")?;
    let ms = (secs * 1000.0).trunc();
    // C's (long long) cast of an out-of-range value yields LLONG_MIN on x86-64, which Redis
    // then reports as negative.
    // (2^63 as f64: the first value past i64::MAX.)
    if ms.is_nan() || !(0.0..9.223_372_036_854_776e18).contains(&ms) {
        return Err("ERR timeout is negative");
    }
    Ok(ms as u64)
}

/// `strtold` as Redis's `string2ld` uses it: no leading space, the whole string consumed,
/// no NaN; hexadecimal floats (`0x10`) and `inf` accepted; out of range refused.
fn parse_long_double(s: &[u8]) -> Option<f64> {
    if s.is_empty() || s.len() > 5120 || s[0].is_ascii_whitespace() {
        return None;
    }
    let text = std::str::from_utf8(s).ok()?;
    let (neg, body) = match text.as_bytes()[0] {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let lower = body.to_ascii_lowercase();
    let v = if let Some(hex) = lower.strip_prefix("0x") {
        parse_hex_float(hex)?
    } else if lower == "inf" || lower == "infinity" {
        f64::INFINITY
    } else {
        if lower.is_empty()
            || !lower
                .bytes()
                .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'-' | b'+'))
        {
            return None;
        }
        let v: f64 = lower.parse().ok()?;
        // strtold reports ERANGE on overflow (the value is beyond long double here only
        // for absurd inputs; f64 overflow is close enough).
        if v.is_infinite() {
            return None;
        }
        v
    };
    Some(if neg { -v } else { v })
}

/// The digits after `0x` of a C hexadecimal float: `h[.h][p[+-]d]`.
fn parse_hex_float(s: &str) -> Option<f64> {
    let (mant, exp) = match s.find('p') {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let mut v = 0f64;
    for c in int.chars() {
        v = v * 16.0 + c.to_digit(16)? as f64;
    }
    let mut scale = 1.0 / 16.0;
    for c in frac.chars() {
        v += c.to_digit(16)? as f64 * scale;
        scale /= 16.0;
    }
    if let Some(e) = exp {
        let e: i32 = e.parse().ok()?;
        v *= 2f64.powi(e);
    }
    Some(v)
}

impl Ctx<'_> {
    /// The keys of a blocking command in the order to try them: as given, except that
    /// when a blocked client is being served, the key that became ready comes first.
    pub fn blocking_order(&self, keys: &[Bytes]) -> Vec<Bytes> {
        let mut v = keys.to_vec();
        if let Some((_, k)) = &self.sess.blocking.retry {
            if let Some(i) = v.iter().position(|x| x.as_ref() == &**k) {
                let k = v.remove(i);
                v.insert(0, k);
            }
        }
        v
    }

    /// The first of `keys`, in [`Ctx::blocking_order`], that holds a `kind`: `Ok(None)`
    /// when none exists, `Err` (WRONGTYPE replied) when the first existing one holds
    /// another type, as Redis stops there.
    pub fn first_holding(&mut self, keys: &[Bytes], kind: Kind) -> Result<Option<Bytes>, Replied> {
        for key in self.blocking_order(keys) {
            if self.probe(&key, kind, false)? {
                return Ok(Some(key));
            }
        }
        Ok(None)
    }

    /// A blocking command found nothing to serve it: block the client on `keys` until
    /// one of them holds a value of type `kind`, or `timeout_ms` passes (0 = forever).
    /// The handler must then write no reply. Returns false when the client may not block
    /// (inside MULTI/EXEC, while replaying, or a session without a connection): the
    /// handler must reply at once as on timeout.
    pub fn block(&mut self, keys: &[Bytes], kind: Kind, timeout_ms: u64) -> bool {
        let args = self.args.to_vec();
        self.block_with_args(args, keys, kind, timeout_ms)
    }

    /// [`Ctx::block`], re-running `args` instead of the command as sent when a key is
    /// ready (XREAD's `$` becomes the ID it stood for when the client blocked).
    pub fn block_with_args(
        &mut self,
        args: Args,
        keys: &[Bytes],
        kind: Kind,
        timeout_ms: u64,
    ) -> bool {
        if self.sess.blocking.retry.is_some() {
            self.sess.blocking.reblocked = true;
            return true;
        }
        if self.sess.blocking.deny || self.st.replaying {
            return false;
        }
        let Some(wake) = self.sess.blocking.wake.clone() else {
            return false;
        };
        let mut ks: Vec<Box<[u8]>> = Vec::with_capacity(keys.len());
        for k in keys {
            if !ks.iter().any(|x| **x == **k) {
                ks.push(k.as_ref().into());
            }
        }
        let deadline = if timeout_ms == 0 {
            0
        } else {
            self.now.saturating_add(timeout_ms)
        };
        let b = Blocked {
            db: self.sess.db,
            resp3: self.out.resp3(),
            args,
            keys: ks,
            kind,
            wake,
        };
        self.st.blocking.register(self.sess.id, b);
        self.sess.blocking.blocked = Some(deadline);
        true
    }
}

/// Serve the clients blocked on keys that changed (see the module docs). The engine calls
/// it after every top-level command while [`Blocking::has_ready`].
pub fn serve_ready(st: &mut State, now: u64) {
    while let Some(rk) = st.blocking.ready.pop_front() {
        st.blocking.ready_set.remove(&rk);
        let ids: Vec<u64> = match st.blocking.queues.get(&rk) {
            Some(q) => q.iter().copied().collect(),
            None => continue,
        };
        for id in ids {
            let Some(b) = st.blocking.clients.get(&id) else {
                continue;
            };
            let kind = b.kind;
            let has_data = st.ks.db(rk.0).peek(&rk.1).is_some_and(|e| {
                e.value.kind() == kind && (e.expire_at() == 0 || e.expire_at() > now)
            });
            if !has_data {
                break;
            }
            let (db, resp3, args) = (b.db, b.resp3, b.args.clone());
            let Some(spec) = lookup(&args[0]) else {
                continue;
            };
            let mut sess = Session::new(id, true);
            sess.db = db;
            sess.resp3 = resp3;
            sess.blocking.retry = Some(rk.clone());
            let mut out = ReplyBuf::new(resp3);
            // The served client's changes are its own (CLIENT TRACKING NOLOOP).
            let caller = std::mem::replace(&mut st.current_client, id);
            let outer = st.current_spec.replace(spec);
            let mut ctx = Ctx {
                st,
                sess: &mut sess,
                out: &mut out,
                args: &args,
                now,
            };
            (spec.handler)(&mut ctx);
            st.current_client = caller;
            st.current_spec = outer;
            if sess.blocking.reblocked {
                continue;
            }
            if let Some(b) = st.blocking.unregister(id) {
                st.blocking.served.insert(
                    id,
                    Served {
                        reply: out.take(),
                        wait_lsn: 0,
                        wake: b.wake,
                        stamped: false,
                    },
                );
            }
        }
    }
}

/// The effects of the batch that served clients are in the log (`Ok(lsn)`: replies wait
/// for that LSN to be durable, 0 = no wait) or could not be written (`Err(reply)`: the
/// served clients get that error instead). Wakes their connections.
pub fn finish_served(st: &mut State, logged: Result<u64, &str>) {
    for s in st.blocking.served.values_mut().filter(|s| !s.stamped) {
        s.stamped = true;
        match logged {
            Ok(lsn) => s.wait_lsn = lsn,
            Err(e) => {
                let mut out = ReplyBuf::new(false);
                out.error(e);
                s.reply = out.take();
            }
        }
        (s.wake)();
    }
}

/// The reply of blocked client `id` if it has been served.
pub fn take_served(st: &mut State, id: u64) -> Option<Served> {
    if st.blocking.served.get(&id).is_some_and(|s| s.stamped) {
        st.blocking.served.remove(&id)
    } else {
        None
    }
}

/// Client `id`'s deadline passed: unblock it. Returns its reply: the timeout's null
/// array, or the reply of a serve that happened first. None if it was not blocked.
pub fn unblock_timed_out(st: &mut State, id: u64) -> Option<Served> {
    if let Some(s) = take_served(st, id) {
        return Some(s);
    }
    let b = st.blocking.unregister(id)?;
    let mut out = ReplyBuf::new(b.resp3);
    out.null_array();
    Some(Served {
        reply: out.take(),
        wait_lsn: 0,
        wake: b.wake,
        stamped: true,
    })
}

/// CLIENT UNBLOCK: end client `id`'s wait now, with the timeout reply or with an
/// `-UNBLOCKED` error. False if it is not blocked.
pub fn unblock_client(st: &mut State, id: u64, error: bool) -> bool {
    let Some(b) = st.blocking.unregister(id) else {
        return false;
    };
    let mut out = ReplyBuf::new(b.resp3);
    if error {
        out.error("UNBLOCKED client unblocked via CLIENT UNBLOCK");
    } else {
        out.null_array();
    }
    let wake = b.wake.clone();
    st.blocking.served.insert(
        id,
        Served {
            reply: out.take(),
            wait_lsn: 0,
            wake: b.wake,
            stamped: true,
        },
    );
    wake();
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_like_redis() {
        assert_eq!(parse_timeout(b"0"), Ok(0));
        assert_eq!(parse_timeout(b"1.5"), Ok(1500));
        assert_eq!(parse_timeout(b"0.0001"), Ok(0));
        assert_eq!(parse_timeout(b"-0.0001"), Ok(0));
        assert_eq!(parse_timeout(b"0x10"), Ok(16000));
        assert_eq!(parse_timeout(b"1e-400"), Ok(0));
        let nf = Err("ERR timeout is not a float or out of range");
        let neg = Err("ERR timeout is negative");
        for s in ["abc", "", " 1", "1 ", "nan", "1.5e3x"] {
            assert_eq!(parse_timeout(s.as_bytes()), nf, "{s:?}");
        }
        for s in ["-1", "inf", "-inf", "1e20", "9223372036854776"] {
            assert_eq!(parse_timeout(s.as_bytes()), neg, "{s:?}");
        }
        assert!(parse_timeout(b"922337203685477").is_ok());
    }
}
