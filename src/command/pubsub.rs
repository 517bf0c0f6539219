//! Pub/Sub: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, PUBLISH, their sharded
//! forms SSUBSCRIBE, SUNSUBSCRIBE and SPUBLISH (a namespace of their own, no patterns;
//! with a single shard it is the whole server, as in Redis without a cluster), and PUBSUB.
//!
//! The registry ([`PubSub`], part of [`State`]) maps channels and patterns to the ids of
//! the clients subscribed to them; each session keeps its own side ([`Subscriptions`]).
//! PUBLISH encodes a message once and appends it to each receiver's [`Outbox`], a queue
//! that the receiver's connection task drains and writes while it also reads commands.
//! The engine side never blocks: it appends and wakes the task. An outbox counts the
//! bytes queued or being written, exactly, so `client-output-buffer-limit` disconnects a
//! subscriber that does not read instead of letting its backlog grow without bound.
//!
//! Nothing here is logged: as in Redis, pub/sub is not persisted.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use tracing::warn;

use super::{Ctx, Session, Spec, State};
use crate::config::OutputBufferLimit;
use crate::protocol::ReplyBuf;

/// Messages for one client that its connection has not written yet.
///
/// Each queued message is a complete RESP2 array frame (`*3\r\n$7\r\nmessage\r\n...`).
/// A RESP3 connection writes it as a push frame (`>3\r\n...`): the two encodings of a
/// message differ only in that first byte, so one encoding serves every receiver and the
/// byte count is the same in both protocols.
pub struct Outbox {
    inner: Mutex<OutboxInner>,
    /// Wakes the connection task (called outside the lock).
    wake: Box<dyn Fn() + Send + Sync>,
}

#[derive(Default)]
struct OutboxInner {
    queue: VecDeque<Bytes>,
    /// Bytes in `queue`.
    queued: usize,
    /// Bytes the connection took from the queue and has not finished writing.
    in_flight: usize,
    /// Bytes written since they were last added to INFO's total_net_output_bytes.
    unreported: u64,
    /// The client is being disconnected: the queue is dropped and nothing more is queued.
    closed: bool,
    /// Since when (Unix ms) the backlog has been at the soft limit or above.
    soft_since: Option<u64>,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let g = self.lock();
        f.debug_struct("Outbox")
            .field("queued", &g.queued)
            .field("in_flight", &g.in_flight)
            .field("closed", &g.closed)
            .finish()
    }
}

impl Outbox {
    /// An outbox whose connection is woken by `wake` when messages arrive.
    pub fn new(wake: Box<dyn Fn() + Send + Sync>) -> Self {
        Outbox {
            inner: Mutex::new(OutboxInner::default()),
            wake,
        }
    }

    /// An outbox no connection drains (sessions without a socket).
    pub fn detached() -> Self {
        Self::new(Box::new(|| {}))
    }

    fn lock(&self) -> MutexGuard<'_, OutboxInner> {
        // The data stays consistent whatever panicked while holding the lock.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queue one message (a RESP2 array frame, or a MONITOR line). False if the client is
    /// being closed.
    pub fn push(&self, frame: Bytes) -> bool {
        let was_empty = {
            let mut g = self.lock();
            if g.closed {
                return false;
            }
            let was_empty = g.queue.is_empty();
            g.queued += frame.len();
            g.queue.push_back(frame);
            was_empty
        };
        // A non-empty queue has a wake-up pending already, or the connection is draining
        // it and will look again before it waits.
        if was_empty {
            (self.wake)();
        }
        true
    }

    /// Bytes queued or being written: the client's pending output.
    pub fn pending(&self) -> usize {
        let g = self.lock();
        g.queued + g.in_flight
    }

    /// Messages waiting in the queue.
    pub fn queued_messages(&self) -> usize {
        self.lock().queue.len()
    }

    /// Move queued messages to `out`, encoded for `out`'s protocol: at least one, then
    /// more while the total stays within `max` bytes. Returns the bytes moved; they count
    /// as pending until the connection reports them [`written`](Self::written).
    pub fn drain(&self, out: &mut ReplyBuf, max: usize) -> usize {
        let mut taken = Vec::new();
        let mut n = 0;
        {
            let mut g = self.lock();
            while let Some(f) = g.queue.front() {
                if n > 0 && n + f.len() > max {
                    break;
                }
                n += f.len();
                taken.extend(g.queue.pop_front());
            }
            g.queued -= n;
            g.in_flight += n;
        }
        for f in &taken {
            write_frame(out, f);
        }
        n
    }

    /// `n` drained bytes reached the socket.
    pub fn written(&self, n: usize) {
        let mut g = self.lock();
        g.in_flight = g.in_flight.saturating_sub(n);
        g.unreported += n as u64;
    }

    /// Drop the backlog and refuse further messages (the client is being disconnected).
    pub fn close(&self) {
        {
            let mut g = self.lock();
            g.closed = true;
            g.queue = VecDeque::new();
            g.queued = 0;
        }
        (self.wake)();
    }

    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Written bytes not yet added to the statistics.
    pub fn take_unreported(&self) -> u64 {
        std::mem::take(&mut self.lock().unreported)
    }

    /// Whether the backlog breaks `lim` at `now` (Unix ms), as Redis's
    /// checkClientOutputBufferLimits: at or over the hard limit, or at or over the soft
    /// limit for more than its seconds. Returns which limit, for the log.
    fn over_limit(&self, lim: &OutputBufferLimit, now: u64) -> Option<&'static str> {
        Self::check(&mut self.lock(), lim, now)
    }

    fn check(g: &mut OutboxInner, lim: &OutputBufferLimit, now: u64) -> Option<&'static str> {
        if g.closed {
            return None;
        }
        let used = (g.queued + g.in_flight) as u64;
        if lim.hard > 0 && used >= lim.hard {
            return Some("hard");
        }
        if lim.soft > 0 && used >= lim.soft {
            let since = *g.soft_since.get_or_insert(now);
            if now.saturating_sub(since) > lim.soft_seconds * 1000 {
                return Some("soft");
            }
        } else {
            g.soft_since = None;
        }
        None
    }
}

/// Write a queued message for `out`'s protocol: a RESP2 array frame becomes a RESP3 push
/// frame; a MONITOR line (a simple string) is the same in both.
fn write_frame(out: &mut ReplyBuf, frame: &[u8]) {
    if out.resp3() && frame.first() == Some(&b'*') {
        out.raw(b">");
        out.raw(&frame[1..]);
    } else {
        out.raw(frame);
    }
}

/// One session's subscriptions.
#[derive(Debug, Default)]
pub struct Subscriptions {
    channels: HashSet<Bytes>,
    /// In subscription order (PUNSUBSCRIBE without arguments follows it, as Redis 7.0).
    patterns: Vec<Bytes>,
    /// Shard channels (SSUBSCRIBE).
    shard: HashSet<Bytes>,
}

impl Subscriptions {
    pub fn channel_count(&self) -> usize {
        self.channels.len()
    }

    pub fn pattern_count(&self) -> usize {
        self.patterns.len()
    }

    pub fn shard_count(&self) -> usize {
        self.shard.len()
    }

    /// Channels plus patterns: the count Redis reports in (un)subscribe confirmations
    /// (SSUBSCRIBE's report [`Subscriptions::shard_count`]).
    pub fn count(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }

    /// In "subscribed mode" (Redis's CLIENT_PUBSUB flag).
    pub fn active(&self) -> bool {
        self.count() + self.shard.len() > 0
    }
}

/// The server-wide registry: who listens to what, and where their messages go.
#[derive(Debug, Default)]
pub struct PubSub {
    channels: HashMap<Bytes, HashSet<u64>>,
    patterns: HashMap<Bytes, HashSet<u64>>,
    shard: HashMap<Bytes, HashSet<u64>>,
    /// The outbox of every client with at least one subscription.
    outboxes: HashMap<u64, Arc<Outbox>>,
    /// Messages published by the batch of commands running now, delivered once it is
    /// over ([`Outgoing`]).
    outgoing: Vec<(u64, Arc<Outbox>, Bytes)>,
}

/// Messages published by a batch of commands (PUBLISH, keyspace notifications), in
/// order, addressed to their receivers' outboxes when they were published.
///
/// They leave together when the batch is over, so the engine can hold them until the log
/// is durable up to the batch's writes (`appendfsync always`): a subscriber never hears
/// of a write that a crash could take back, as Redis, which writes every output after
/// its fsync, never tells one either.
#[derive(Debug, Default)]
pub struct Outgoing(Vec<(u64, Arc<Outbox>, Bytes)>);

impl Outgoing {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Queue every message in its receiver's outbox, from any thread. The
    /// `client-output-buffer-limit` check of these receivers waits for the next publish
    /// or [`tick`].
    pub fn deliver_detached(self) {
        for (_, outbox, frame) in self.0 {
            outbox.push(frame);
        }
    }
}

impl PubSub {
    /// Channels with at least one subscriber (INFO `pubsub_channels`).
    pub fn channel_count(&self) -> usize {
        self.channels.len()
    }

    /// Distinct patterns with at least one subscriber (INFO `pubsub_patterns`, NUMPAT).
    pub fn pattern_count(&self) -> usize {
        self.patterns.len()
    }

    /// Shard channels with at least one subscriber (INFO `pubsubshard_channels`).
    pub fn shard_count(&self) -> usize {
        self.shard.len()
    }

    /// Client `id` has at least one subscription (is in subscribed mode).
    pub fn subscribed(&self, id: u64) -> bool {
        self.outboxes.contains_key(&id)
    }

    /// Output waiting for subscribers, in bytes.
    pub fn pending_bytes(&self) -> u64 {
        self.outboxes.values().map(|o| o.pending() as u64).sum()
    }

    /// The registry key for `name` (shared with sessions), copying it on first use: an
    /// argument may be a slice of a large read buffer that must not be kept alive.
    fn key(map: &HashMap<Bytes, HashSet<u64>>, name: &[u8]) -> Bytes {
        map.get_key_value(name)
            .map_or_else(|| Bytes::copy_from_slice(name), |(k, _)| k.clone())
    }

    fn remove(map: &mut HashMap<Bytes, HashSet<u64>>, name: &[u8], id: u64) {
        if let Some(ids) = map.get_mut(name) {
            ids.remove(&id);
            if ids.is_empty() {
                map.remove(name);
            }
        }
    }
}

/// A session gains its first subscription: its outbox becomes reachable by publishers.
fn enter(st: &mut State, sess: &mut Session) {
    if sess.subs.active() {
        return;
    }
    let outbox = sess
        .outbox
        .get_or_insert_with(|| Arc::new(Outbox::detached()))
        .clone();
    st.pubsub.outboxes.insert(sess.id, outbox);
}

/// A session may have lost its last subscription.
fn leave_if_idle(st: &mut State, sess: &Session) {
    if !sess.subs.active() {
        st.pubsub.outboxes.remove(&sess.id);
    }
}

/// The two channel namespaces: SUBSCRIBE's and SSUBSCRIBE's (patterns keep their own
/// list: they have an order).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Space {
    Global,
    Shard,
}

impl Space {
    /// The server's registry of this namespace and the session's own set.
    fn sides<'a>(
        self,
        ps: &'a mut PubSub,
        subs: &'a mut Subscriptions,
    ) -> (&'a mut HashMap<Bytes, HashSet<u64>>, &'a mut HashSet<Bytes>) {
        match self {
            Space::Global => (&mut ps.channels, &mut subs.channels),
            Space::Shard => (&mut ps.shard, &mut subs.shard),
        }
    }

    fn registry(self, ps: &PubSub) -> &HashMap<Bytes, HashSet<u64>> {
        match self {
            Space::Global => &ps.channels,
            Space::Shard => &ps.shard,
        }
    }

    fn mine(self, subs: &Subscriptions) -> &HashSet<Bytes> {
        match self {
            Space::Global => &subs.channels,
            Space::Shard => &subs.shard,
        }
    }
}

fn subscribe_channel(st: &mut State, sess: &mut Session, space: Space, name: &[u8]) {
    if space.mine(&sess.subs).contains(name) {
        return;
    }
    enter(st, sess);
    let (registry, mine) = space.sides(&mut st.pubsub, &mut sess.subs);
    let key = PubSub::key(registry, name);
    registry.entry(key.clone()).or_default().insert(sess.id);
    mine.insert(key);
}

fn unsubscribe_channel(st: &mut State, sess: &mut Session, space: Space, name: &[u8]) {
    let (registry, mine) = space.sides(&mut st.pubsub, &mut sess.subs);
    if mine.remove(name) {
        PubSub::remove(registry, name, sess.id);
        leave_if_idle(st, sess);
    }
}

fn subscribe_pattern(st: &mut State, sess: &mut Session, pat: &[u8]) {
    if sess.subs.patterns.iter().any(|p| p.as_ref() == pat) {
        return;
    }
    enter(st, sess);
    let key = PubSub::key(&st.pubsub.patterns, pat);
    st.pubsub
        .patterns
        .entry(key.clone())
        .or_default()
        .insert(sess.id);
    sess.subs.patterns.push(key);
}

fn unsubscribe_pattern(st: &mut State, sess: &mut Session, pat: &[u8]) {
    if let Some(i) = sess.subs.patterns.iter().position(|p| p.as_ref() == pat) {
        sess.subs.patterns.remove(i);
        PubSub::remove(&mut st.pubsub.patterns, pat, sess.id);
        leave_if_idle(st, sess);
    }
}

/// Drop every subscription of `sess` without replying (disconnect, RESET).
pub fn unsubscribe_all(st: &mut State, sess: &mut Session) {
    for ch in std::mem::take(&mut sess.subs.shard) {
        PubSub::remove(&mut st.pubsub.shard, &ch, sess.id);
    }
    for ch in std::mem::take(&mut sess.subs.channels) {
        PubSub::remove(&mut st.pubsub.channels, &ch, sess.id);
    }
    for p in std::mem::take(&mut sess.subs.patterns) {
        PubSub::remove(&mut st.pubsub.patterns, &p, sess.id);
    }
    st.pubsub.outboxes.remove(&sess.id);
}

/// `[kind, name, count]`: a (un)subscribe confirmation (a push frame in RESP3).
fn confirm(ctx: &mut Ctx, kind: &str, name: Option<&[u8]>) {
    let count = if matches!(kind, "ssubscribe" | "sunsubscribe") {
        ctx.sess.subs.shard_count()
    } else {
        ctx.sess.subs.count()
    } as i64;
    ctx.out.push_len(3);
    ctx.out.bulk(kind.as_bytes());
    match name {
        Some(n) => ctx.out.bulk(n),
        None => ctx.out.null(),
    }
    ctx.out.int(count);
}

/// SUBSCRIBE / SSUBSCRIBE: each channel, confirmed as `kind`.
fn subscribe_to(ctx: &mut Ctx, space: Space, kind: &str) {
    for i in 1..ctx.args.len() {
        let name = ctx.args[i].clone();
        subscribe_channel(ctx.st, ctx.sess, space, &name);
        confirm(ctx, kind, Some(&name));
    }
}

/// UNSUBSCRIBE / SUNSUBSCRIBE: the named channels, or all of this namespace's.
fn unsubscribe_from(ctx: &mut Ctx, space: Space, kind: &str) {
    let names: Vec<Bytes> = if ctx.args.len() > 1 {
        ctx.args[1..].to_vec()
    } else {
        space.mine(&ctx.sess.subs).iter().cloned().collect()
    };
    if names.is_empty() {
        return confirm(ctx, kind, None);
    }
    for name in names {
        unsubscribe_channel(ctx.st, ctx.sess, space, &name);
        confirm(ctx, kind, Some(&name));
    }
}

pub fn subscribe(ctx: &mut Ctx) {
    subscribe_to(ctx, Space::Global, "subscribe");
}

pub fn psubscribe(ctx: &mut Ctx) {
    for i in 1..ctx.args.len() {
        let pat = ctx.args[i].clone();
        subscribe_pattern(ctx.st, ctx.sess, &pat);
        confirm(ctx, "psubscribe", Some(&pat));
    }
}

pub fn unsubscribe(ctx: &mut Ctx) {
    unsubscribe_from(ctx, Space::Global, "unsubscribe");
}

pub fn punsubscribe(ctx: &mut Ctx) {
    let pats: Vec<Bytes> = if ctx.args.len() > 1 {
        ctx.args[1..].to_vec()
    } else {
        ctx.sess.subs.patterns.clone()
    };
    if pats.is_empty() {
        return confirm(ctx, "punsubscribe", None);
    }
    for pat in pats {
        unsubscribe_pattern(ctx.st, ctx.sess, &pat);
        confirm(ctx, "punsubscribe", Some(&pat));
    }
}

/// SSUBSCRIBE shardchannel [shardchannel ...]
pub fn ssubscribe(ctx: &mut Ctx) {
    // As Redis 7.0: refused inside a transaction (where SUBSCRIBE is allowed).
    if ctx.sess.blocking.deny {
        return ctx.error("ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client");
    }
    subscribe_to(ctx, Space::Shard, "ssubscribe");
}

/// SUNSUBSCRIBE [shardchannel ...]
pub fn sunsubscribe(ctx: &mut Ctx) {
    unsubscribe_from(ctx, Space::Shard, "sunsubscribe");
}

/// SPUBLISH shardchannel message: to the shard channel's subscribers only (patterns do
/// not see it).
pub fn spublish(ctx: &mut Ctx) {
    let (channel, msg) = (ctx.args[1].clone(), ctx.args[2].clone());
    let me = Some((ctx.sess.id, &mut *ctx.out));
    let n = publish_in(ctx.st, me, Space::Shard, &channel, &msg);
    ctx.out.int(n as i64);
}

/// `message` / `pmessage` / `smessage` as a RESP2 array frame: `[kind, pattern?,
/// channel, msg]`.
fn encode_message(kind: &[u8], pattern: Option<&[u8]>, channel: &[u8], msg: &[u8]) -> Bytes {
    let mut out = ReplyBuf::new(false);
    out.array_len(3 + pattern.is_some() as usize);
    out.bulk(kind);
    if let Some(p) = pattern {
        out.bulk(p);
    }
    out.bulk(channel);
    out.bulk(msg);
    Bytes::from(out.take())
}

pub fn publish(ctx: &mut Ctx) {
    let (channel, msg) = (ctx.args[1].clone(), ctx.args[2].clone());
    let n = publish_message(ctx.st, Some((ctx.sess.id, &mut *ctx.out)), &channel, &msg);
    ctx.out.int(n as i64);
}

/// Address `msg` to the subscribers of `channel` and of the patterns matching it, for
/// delivery when the running batch is over ([`take_outgoing`]); returns how many
/// deliveries were made (a client subscribed twice counts twice). `me`: the publisher and
/// its reply stream, which takes the publisher's own copy at once, so that it precedes
/// the PUBLISH reply as in Redis.
pub(crate) fn publish_message(
    st: &mut State,
    me: Option<(u64, &mut ReplyBuf)>,
    channel: &[u8],
    msg: &[u8],
) -> usize {
    publish_in(st, me, Space::Global, channel, msg)
}

/// [`publish_message`] in namespace `space` (shard channels have no patterns).
fn publish_in(
    st: &mut State,
    mut me: Option<(u64, &mut ReplyBuf)>,
    space: Space,
    channel: &[u8],
    msg: &[u8],
) -> usize {
    let mut receivers = 0;
    let ps = &mut st.pubsub;
    let mut deliver = |ids: &HashSet<u64>, frame: Bytes| {
        for &id in ids {
            receivers += 1;
            match &mut me {
                Some((my_id, out)) if *my_id == id => write_frame(out, &frame),
                _ => {
                    if let Some(outbox) = ps.outboxes.get(&id) {
                        ps.outgoing.push((id, outbox.clone(), frame.clone()));
                    }
                }
            }
        }
    };
    let (registry, kind) = match space {
        Space::Global => (&ps.channels, &b"message"[..]),
        Space::Shard => (&ps.shard, &b"smessage"[..]),
    };
    if let Some(ids) = registry.get(channel) {
        deliver(ids, encode_message(kind, None, channel, msg));
    }
    if space == Space::Global {
        for (pat, ids) in &ps.patterns {
            if crate::util::glob_match(pat, channel, false) {
                deliver(ids, encode_message(b"pmessage", Some(pat), channel, msg));
            }
        }
    }
    receivers
}

/// The messages published since the last call, to be delivered by [`deliver`] or
/// [`Outgoing::deliver_detached`].
pub fn take_outgoing(st: &mut State) -> Outgoing {
    Outgoing(std::mem::take(&mut st.pubsub.outgoing))
}

/// Queue `msgs` in their receivers' outboxes now, disconnecting a receiver whose backlog
/// breaks `client-output-buffer-limit pubsub`.
pub fn deliver(st: &mut State, msgs: Outgoing, now: u64) {
    let limit = st.config.client_output_buffer_limit.pubsub;
    let mut over: Vec<(u64, &'static str)> = Vec::new();
    for (id, outbox, frame) in msgs.0 {
        if outbox.push(frame) {
            if let Some(which) = outbox.over_limit(&limit, now) {
                over.push((id, which));
            }
        }
    }
    for (id, which) in over {
        disconnect_slow(st, id, which);
    }
}

/// Close a subscriber whose output broke `client-output-buffer-limit`: its backlog is
/// dropped at once and its socket shut down; its connection then cleans up as for any
/// disconnect.
fn disconnect_slow(st: &mut State, id: u64, which: &str) {
    let Some(outbox) = st.pubsub.outboxes.get(&id).filter(|o| !o.is_closed()) else {
        return;
    };
    let pending = outbox.pending();
    outbox.close();
    st.stats.client_output_buffer_limit_disconnections += 1;
    let client = st.clients.by_id.get(&id);
    warn!(
        "Client id={id} addr={} closed for overcoming of output buffer limits ({which} limit of class pubsub, {pending} bytes pending)",
        client.map_or("?", |c| c.addr.as_str())
    );
    if let Some(kill) = client.and_then(|c| c.kill.clone()) {
        kill();
    }
}

/// Clients logged in as `user` holding a subscription it no longer allows (its channel
/// rules changed): Redis 7.0 closes them, so a revoked channel stops reaching them.
pub fn denied_subscribers(st: &State, user: &super::acl::User) -> Vec<u64> {
    if user.all_channels {
        return Vec::new();
    }
    let theirs = |id: &u64| {
        st.clients
            .by_id
            .get(id)
            .is_some_and(|c| c.user == user.name)
    };
    let mut ids: Vec<u64> = Vec::new();
    let registries = [
        (&st.pubsub.channels, false),
        (&st.pubsub.patterns, true),
        (&st.pubsub.shard, false),
    ];
    for (registry, pattern) in registries {
        for (channel, subscribers) in registry {
            if !user.channel_allowed(channel, pattern) {
                ids.extend(subscribers.iter().filter(|id| theirs(id)));
            }
        }
    }
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// A client is going away: drop its subscriptions and count what was written to it.
pub fn disconnect(st: &mut State, sess: &mut Session) {
    unsubscribe_all(st, sess);
    if let Some(o) = &sess.outbox {
        st.stats.net_output_bytes += o.take_unreported();
    }
}

/// Periodic work: apply the soft limit to subscribers that received nothing lately (a
/// backlog can stay above it without new messages), and add the bytes written to
/// subscribers to the statistics.
pub fn tick(st: &mut State, now: u64) {
    let limit = st.config.client_output_buffer_limit.pubsub;
    let mut over = Vec::new();
    for (&id, outbox) in &st.pubsub.outboxes {
        let mut g = outbox.lock();
        st.stats.net_output_bytes += std::mem::take(&mut g.unreported);
        if let Some(which) = Outbox::check(&mut g, &limit, now) {
            over.push((id, which));
        }
    }
    for (id, which) in over {
        disconnect_slow(st, id, which);
    }
}

/// Redis's refusal of a command that a RESP2 client in subscribed mode may not run
/// (checked before MULTI queueing, not for the commands EXEC runs).
#[inline]
pub fn subscribed_mode_refusal(
    st: &State,
    sess: &Session,
    spec: &Spec,
    args: &[Bytes],
) -> Option<String> {
    if sess.resp3 || !sess.subs.active() {
        return None;
    }
    refusal_while_subscribed(st, sess, spec, args)
}

#[cold]
fn refusal_while_subscribed(
    st: &State,
    sess: &Session,
    spec: &Spec,
    args: &[Bytes],
) -> Option<String> {
    if matches!(
        spec.name,
        "subscribe"
            | "unsubscribe"
            | "psubscribe"
            | "punsubscribe"
            | "ssubscribe"
            | "sunsubscribe"
            | "ping"
            | "quit"
            | "reset"
    ) {
        return None;
    }
    // Redis refuses a DEBUG that `enable-debug-command` forbids first (the handler
    // does just that).
    if spec.name == "debug" && !super::server::debug_allowed(st, sess) {
        return None;
    }
    // Redis names a subcommand of a container `container|sub` (the dispatcher has
    // already refused an unknown one; DEBUG is no container in Redis).
    let name = match args.get(1).filter(|_| !spec.subs.is_empty()) {
        Some(sub) => format!(
            "{}|{}",
            spec.name,
            String::from_utf8_lossy(sub).to_lowercase()
        ),
        None => spec.name.to_string(),
    };
    Some(format!(
        "ERR Can't execute '{name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
    ))
}

/// PUBSUB CHANNELS / SHARDCHANNELS [pattern]
fn list_channels(ctx: &mut Ctx, space: Space) {
    let pat = ctx.args.get(2).cloned();
    let names: Vec<Bytes> = space
        .registry(&ctx.st.pubsub)
        .keys()
        .filter(|c| {
            pat.as_ref()
                .is_none_or(|p| crate::util::glob_match(p, c, false))
        })
        .cloned()
        .collect();
    ctx.out.array_len(names.len());
    for c in names {
        ctx.out.bulk(&c);
    }
}

/// PUBSUB NUMSUB / SHARDNUMSUB [channel ...]
fn numsub(ctx: &mut Ctx, space: Space) {
    let n = ctx.args.len();
    ctx.out.array_len((n - 2) * 2);
    for i in 2..n {
        let count = space
            .registry(&ctx.st.pubsub)
            .get(&ctx.args[i])
            .map_or(0, |s| s.len());
        let name = ctx.args[i].clone();
        ctx.out.bulk(&name);
        ctx.out.int(count as i64);
    }
}

pub fn pubsub(ctx: &mut Ctx) {
    let sub = ctx.args[1].to_ascii_uppercase();
    let n = ctx.args.len();
    match (sub.as_slice(), n) {
        (b"CHANNELS", 2 | 3) => list_channels(ctx, Space::Global),
        (b"NUMSUB", _) => numsub(ctx, Space::Global),
        (b"NUMPAT", 2) => ctx.out.int(ctx.st.pubsub.pattern_count() as i64),
        (b"SHARDCHANNELS", 2 | 3) => list_channels(ctx, Space::Shard),
        (b"SHARDNUMSUB", _) => numsub(ctx, Space::Shard),
        (b"HELP", 2) => {
            let lines = [
                "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "CHANNELS [<pattern>]",
                "    Return the currently active channels matching a <pattern> (default: '*').",
                "NUMPAT",
                "    Return number of subscriptions to patterns.",
                "NUMSUB [<channel> ...]",
                "    Return the number of subscribers for the specified channels, excluding",
                "    pattern subscriptions(default: no channels).",
                "SHARDCHANNELS [<pattern>]",
                "    Return the currently active shard level channels matching a <pattern> (default: '*').",
                "SHARDNUMSUB [<shardchannel> ...]",
                "    Return the number of subscribers for the specified shard level channel(s)",
                "HELP",
                "    Prints this help.",
            ];
            ctx.help(&lines);
        }
        _ => super::keys::unknown_subcommand(ctx),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn limit(hard: u64, soft: u64, soft_seconds: u64) -> OutputBufferLimit {
        OutputBufferLimit {
            hard,
            soft,
            soft_seconds,
        }
    }

    #[test]
    fn outbox_counts_pending_bytes_exactly() {
        let wakes = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let w = wakes.clone();
        let ob = Outbox::new(Box::new(move || {
            w.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }));
        let m = encode_message(b"message", None, b"ch", b"hello");
        assert_eq!(
            &m[..],
            b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nhello\r\n"
        );
        assert!(ob.push(m.clone()));
        assert!(ob.push(m.clone()));
        // Only the first message into an empty queue needs a wake-up.
        assert_eq!(wakes.load(std::sync::atomic::Ordering::Relaxed), 1);
        assert_eq!(ob.pending(), 2 * m.len());
        let mut out = ReplyBuf::new(true);
        // At least one message even if `max` is smaller.
        assert_eq!(ob.drain(&mut out, 1), m.len());
        assert_eq!(out.as_bytes()[0], b'>');
        assert_eq!(&out.as_bytes()[1..], &m[1..]);
        // Drained but unwritten bytes are still pending.
        assert_eq!(ob.pending(), 2 * m.len());
        ob.written(m.len());
        assert_eq!(ob.pending(), m.len());
        assert_eq!(ob.take_unreported(), m.len() as u64);
        assert_eq!(ob.take_unreported(), 0);
        ob.close();
        assert_eq!(ob.pending(), 0);
        assert!(!ob.push(m));
        assert!(ob.is_closed());
    }

    #[test]
    fn limits_hard_and_soft() {
        let ob = Outbox::detached();
        let m = Bytes::from(vec![b'*'; 100]);
        ob.push(m.clone());
        assert_eq!(ob.over_limit(&limit(0, 0, 0), 0), None);
        assert_eq!(ob.over_limit(&limit(100, 0, 0), 0), Some("hard"));
        assert_eq!(ob.over_limit(&limit(101, 0, 0), 0), None);
        // Soft: only after staying at or above it for more than the seconds.
        let soft = limit(0, 50, 2);
        assert_eq!(ob.over_limit(&soft, 1_000), None);
        assert_eq!(ob.over_limit(&soft, 3_000), None);
        assert_eq!(ob.over_limit(&soft, 3_001), Some("soft"));
        // Dropping below the soft limit restarts the clock.
        let mut out = ReplyBuf::new(false);
        ob.drain(&mut out, usize::MAX);
        ob.written(100);
        assert_eq!(ob.over_limit(&soft, 4_000), None);
        ob.push(m);
        assert_eq!(ob.over_limit(&soft, 5_000), None);
        assert_eq!(ob.over_limit(&soft, 7_000), None);
        assert_eq!(ob.over_limit(&soft, 7_001), Some("soft"));
    }

    #[test]
    fn registry_follows_sessions() {
        let mut st = State::new(Config::default());
        let mut a = Session::new(1, true);
        let mut b = Session::new(2, true);
        subscribe_channel(&mut st, &mut a, Space::Global, b"news");
        subscribe_channel(&mut st, &mut a, Space::Global, b"news");
        subscribe_channel(&mut st, &mut b, Space::Global, b"news");
        subscribe_pattern(&mut st, &mut b, b"n*");
        assert_eq!(a.subs.count(), 1);
        assert_eq!(b.subs.count(), 2);
        assert_eq!(st.pubsub.channels[&b"news"[..]].len(), 2);
        // Both sessions share the registry's copy of the name.
        let ka = a.subs.channels.iter().next().unwrap().as_ptr();
        let kb = b.subs.channels.iter().next().unwrap().as_ptr();
        assert_eq!(ka, kb);
        assert_eq!(st.pubsub.outboxes.len(), 2);
        unsubscribe_channel(&mut st, &mut a, Space::Global, b"news");
        assert!(!st.pubsub.outboxes.contains_key(&1));
        unsubscribe_all(&mut st, &mut b);
        assert!(st.pubsub.channels.is_empty() && st.pubsub.patterns.is_empty());
        assert!(st.pubsub.outboxes.is_empty());
        assert_eq!(b.subs.count(), 0);
    }
}
