//! Server-assisted client-side caching, as Redis 7.0 does it: CLIENT TRACKING, CACHING,
//! TRACKINGINFO and GETREDIR, and the invalidation messages.
//!
//! Default mode: after a read-only command, the keys of a tracking client are remembered
//! (by name only: like Redis's table, this one ignores the db); the next change of such a
//! key sends each client that read it one `invalidate` message and forgets the key for
//! all of them, who must read it again to be told again. OPTIN remembers only after
//! `CLIENT CACHING yes`, OPTOUT all but after `CLIENT CACHING no`; NOLOOP leaves out a
//! client's own changes. BCAST mode remembers nothing: every change of a key under one of
//! the client's prefixes is collected and sent, one message per prefix, when the batch of
//! commands that made it is over. A flush sends every tracking client `invalidate` with a
//! null.
//!
//! A message goes to the client's outbox (so after the reply of the command that caused
//! it), or to the client it redirects to: a RESP3 receiver gets the push `["invalidate",
//! keys]`, a RESP2 one in subscribed mode a `message` on `__redis__:invalidate`; a RESP2
//! client with neither gets nothing, as in Redis. Invalidations are not held back under
//! `appendfsync always`: telling a client early that a key changed only makes it read the
//! key again (and that read waits for the fsync), while telling it late would let it
//! serve a stale copy longer.

use std::collections::{BTreeMap, HashMap, HashSet};

use bytes::Bytes;

use super::{key_positions, Ctx, Session, Spec, State, SYNTAX};
use crate::protocol::ReplyBuf;

/// The tracking state of the server.
#[derive(Debug, Default)]
pub struct Tracking {
    /// Default mode: key -> the clients that read it since it last changed.
    keys: HashMap<Box<[u8]>, Readers>,
    /// Client ids over all of `keys` (INFO `tracking_total_items`).
    items: usize,
    /// The clients with tracking on, by id.
    clients: HashMap<u64, Mode>,
    /// BCAST prefixes (sorted, as Redis sends them).
    prefixes: BTreeMap<Box<[u8]>, Prefix>,
    /// A BCAST prefix has changed keys to send.
    bcast_pending: bool,
}

/// One client's CLIENT TRACKING options.
#[derive(Debug, Default, Clone)]
struct Mode {
    /// The client messages go to (0: this one).
    redirect: u64,
    bcast: bool,
    optin: bool,
    optout: bool,
    noloop: bool,
    /// The redirect target went away (TRACKINGINFO `broken_redirect`, CLIENT LIST `R`).
    broken: bool,
    /// BCAST prefixes, sorted.
    prefixes: Vec<Box<[u8]>>,
}

#[derive(Debug, Default)]
struct Prefix {
    clients: HashSet<u64>,
    /// Keys changed since the last broadcast -> the client that changed each last (0:
    /// none), for NOLOOP.
    changed: BTreeMap<Box<[u8]>, u64>,
}

/// The clients that read one key: almost always one, kept without a set of its own.
#[derive(Debug)]
enum Readers {
    One(u64),
    Many(HashSet<u64>),
}

impl Readers {
    /// Add `id`; true if it was not there.
    fn insert(&mut self, id: u64) -> bool {
        match self {
            Readers::One(x) if *x == id => false,
            Readers::One(x) => {
                *self = Readers::Many(HashSet::from([*x, id]));
                true
            }
            Readers::Many(s) => s.insert(id),
        }
    }

    /// The ids, sorted (the order messages go out in).
    fn sorted(self) -> Vec<u64> {
        match self {
            Readers::One(x) => vec![x],
            Readers::Many(s) => {
                let mut v: Vec<u64> = s.into_iter().collect();
                v.sort_unstable();
                v
            }
        }
    }
}

/// What an invalidation message carries.
enum Payload<'a> {
    Keys(&'a [&'a [u8]]),
    /// Everything (a flush).
    All,
}

impl Tracking {
    /// Nothing to invalidate: the check made on every change of a key.
    #[inline]
    pub fn idle(&self) -> bool {
        self.keys.is_empty() && self.prefixes.is_empty()
    }

    /// Clients with tracking on (INFO `tracking_clients`).
    pub fn clients(&self) -> usize {
        self.clients.len()
    }

    /// Keys remembered (INFO `tracking_total_keys`).
    pub fn total_keys(&self) -> usize {
        self.keys.len()
    }

    /// (key, client) pairs remembered (INFO `tracking_total_items`).
    pub fn total_items(&self) -> usize {
        self.items
    }

    /// BCAST prefixes in use (INFO `tracking_total_prefixes`).
    pub fn total_prefixes(&self) -> usize {
        self.prefixes.len()
    }

    /// CLIENT LIST's tracking flag letters of client `id` (`t`, `R`, `B`) and its `redir`.
    pub fn client_flags(&self, id: u64) -> (&'static str, i64) {
        match self.clients.get(&id) {
            None => ("", -1),
            Some(m) => {
                let flags = match (m.broken, m.bcast) {
                    (false, false) => "t",
                    (true, false) => "tR",
                    (false, true) => "tB",
                    (true, true) => "tRB",
                };
                (flags, m.redirect as i64)
            }
        }
    }

    fn forget_client(&mut self, id: u64) {
        let Some(mode) = self.clients.remove(&id) else {
            return;
        };
        for p in &mode.prefixes {
            if let Some(pre) = self.prefixes.get_mut(p) {
                pre.clients.remove(&id);
                if pre.clients.is_empty() {
                    self.prefixes.remove(p);
                }
            }
        }
        // Its entries in `keys` go when those keys change, as in Redis.
    }
}

/// Send `payload` to client `id` (or where it redirects).
fn send(st: &mut State, id: u64, payload: Payload) {
    let Some(mode) = st.tracking.clients.get_mut(&id) else {
        return;
    };
    let mut target = id;
    if mode.redirect != 0 {
        if !st.clients.by_id.contains_key(&mode.redirect) {
            // Tell the client (if it can hear pushes) that its messages go nowhere.
            mode.broken = true;
            let redirect = mode.redirect as i64;
            if let Some(c) = st.clients.by_id.get(&id).filter(|c| c.resp >= 3) {
                let mut f = ReplyBuf::new(false);
                f.array_len(2);
                f.bulk(b"tracking-redir-broken");
                f.int(redirect);
                if let Some(o) = &c.outbox {
                    o.push(Bytes::from(f.take()));
                }
            }
            return;
        }
        target = mode.redirect;
    }
    let Some(c) = st.clients.by_id.get(&target) else {
        return;
    };
    let Some(outbox) = &c.outbox else {
        return;
    };
    // Queued as a RESP2 array; a RESP3 connection writes it as a push.
    let mut f = ReplyBuf::new(c.resp >= 3);
    if c.resp >= 3 {
        f.array_len(2);
        f.bulk(b"invalidate");
    } else if target != id && st.pubsub.subscribed(target) {
        f.array_len(3);
        f.bulk(b"message");
        f.bulk(b"__redis__:invalidate");
    } else {
        return;
    }
    match payload {
        Payload::Keys(keys) => {
            f.array_len(keys.len());
            for k in keys {
                f.bulk(k);
            }
        }
        Payload::All => f.null(),
    }
    outbox.push(Bytes::from(f.take()));
}

/// `key` changed (by client `by`; 0 when no client did, as for active expiry):
/// invalidate it for the clients that read it, and queue it for the BCAST prefixes it
/// falls under. The caller checked [`Tracking::idle`].
pub fn key_changed(st: &mut State, key: &[u8], by: u64) {
    let t = &mut st.tracking;
    for (p, pre) in t.prefixes.iter_mut() {
        if key.starts_with(p) {
            pre.changed.insert(key.into(), by);
            t.bcast_pending = true;
        }
    }
    invalidate_readers(st, key, by);
}

/// Tell the clients that read `key` (and forget that they did).
fn invalidate_readers(st: &mut State, key: &[u8], by: u64) {
    let t = &mut st.tracking;
    let Some(ids) = t.keys.remove(key) else {
        return;
    };
    let ids = ids.sorted();
    t.items -= ids.len();
    for id in ids {
        // A client that turned tracking off (or went) keeps stale entries until here;
        // one now in BCAST mode hears of changes that way only.
        let skip = match st.tracking.clients.get(&id) {
            None => true,
            Some(m) => m.bcast || (m.noloop && id == by),
        };
        if !skip {
            send(st, id, Payload::Keys(&[key]));
        }
    }
}

/// Every key may have changed (FLUSHALL, FLUSHDB): every tracking client is told, and
/// the remembered reads are dropped.
pub fn flushed(st: &mut State) {
    let mut ids: Vec<u64> = st.tracking.clients.keys().copied().collect();
    ids.sort_unstable();
    for id in ids {
        send(st, id, Payload::All);
    }
    st.tracking.keys.clear();
    st.tracking.items = 0;
}

/// Send the keys collected for BCAST prefixes (called when a batch of commands is over).
pub fn broadcast(st: &mut State) {
    if !std::mem::take(&mut st.tracking.bcast_pending) {
        return;
    }
    let mut messages: Vec<(u64, Vec<Box<[u8]>>)> = Vec::new();
    for pre in st.tracking.prefixes.values_mut() {
        if pre.changed.is_empty() {
            continue;
        }
        let changed = std::mem::take(&mut pre.changed);
        let mut ids: Vec<u64> = pre.clients.iter().copied().collect();
        ids.sort_unstable();
        for id in ids {
            let noloop = st.tracking.clients.get(&id).is_some_and(|m| m.noloop);
            let keys: Vec<Box<[u8]>> = changed
                .iter()
                .filter(|(_, by)| !(noloop && **by == id))
                .map(|(k, _)| k.clone())
                .collect();
            if !keys.is_empty() {
                messages.push((id, keys));
            }
        }
    }
    for (id, keys) in messages {
        let keys: Vec<&[u8]> = keys.iter().map(|k| &k[..]).collect();
        send(st, id, Payload::Keys(&keys));
    }
}

/// After read-only command `spec` ran for `sess` (which has tracking on): remember its
/// keys, unless BCAST, or OPTIN/OPTOUT say otherwise.
pub fn remember(st: &mut State, sess: &Session, spec: &Spec, args: &[Bytes]) {
    let Some(m) = st.tracking.clients.get(&sess.id) else {
        return;
    };
    if m.bcast || (m.optin && !sess.tracking_caching) || (m.optout && sess.tracking_caching) {
        return;
    }
    let t = &mut st.tracking;
    for i in key_positions(spec, args) {
        match t.keys.get_mut(&args[i][..]) {
            Some(ids) => t.items += ids.insert(sess.id) as usize,
            None => {
                t.keys
                    .insert(Box::from(&args[i][..]), Readers::One(sess.id));
                t.items += 1;
            }
        }
    }
}

/// Forget more remembered keys than `max` (`tracking-table-max-keys`; 0: no limit),
/// telling their readers they changed, as Redis does (BCAST clients are not told: the
/// keys did not change).
pub fn limit(st: &mut State, max: u64) {
    if max == 0 || st.tracking.keys.len() as u64 <= max {
        return;
    }
    let excess = st.tracking.keys.len() - max as usize;
    let victims: Vec<Box<[u8]>> = st.tracking.keys.keys().take(excess).cloned().collect();
    for key in victims {
        invalidate_readers(st, &key, 0);
    }
}

/// The client is going away.
/// Tracking off for `sess`: CLIENT TRACKING OFF, RESET, and a client going away.
pub fn off(st: &mut State, sess: &mut Session) {
    if sess.tracking {
        st.tracking.forget_client(sess.id);
        sess.tracking = false;
    }
    sess.tracking_caching = false;
}

/// CLIENT TRACKING ON|OFF [REDIRECT id] [BCAST] [PREFIX p ...] [OPTIN] [OPTOUT] [NOLOOP]
pub fn client_tracking(ctx: &mut Ctx) {
    let mut opts = Mode::default();
    let mut prefixes: Vec<Box<[u8]>> = Vec::new();
    let mut j = 3;
    while j < ctx.args.len() {
        let more = j + 1 < ctx.args.len();
        match ctx.args[j].to_ascii_uppercase().as_slice() {
            b"REDIRECT" if more => {
                j += 1;
                if opts.redirect != 0 {
                    return ctx.error("ERR A client can only redirect to a single other client");
                }
                let Some(id) = ctx.int_arg(j) else { return };
                if id <= 0 || !ctx.st.clients.by_id.contains_key(&(id as u64)) {
                    return ctx.error("ERR The client ID you want redirect to does not exist");
                }
                opts.redirect = id as u64;
            }
            b"BCAST" => opts.bcast = true,
            b"OPTIN" => opts.optin = true,
            b"OPTOUT" => opts.optout = true,
            b"NOLOOP" => opts.noloop = true,
            b"PREFIX" if more => {
                j += 1;
                prefixes.push(Box::from(&ctx.args[j][..]));
            }
            _ => return ctx.error(SYNTAX),
        }
        j += 1;
    }
    let id = ctx.sess.id;
    match ctx.args[2].to_ascii_uppercase().as_slice() {
        b"ON" => {}
        b"OFF" => {
            off(ctx.st, ctx.sess);
            return ctx.out.ok();
        }
        _ => return ctx.error(SYNTAX),
    }
    if !opts.bcast && !prefixes.is_empty() {
        return ctx.error("ERR PREFIX option requires BCAST mode to be enabled");
    }
    let current = ctx.st.tracking.clients.get(&id).cloned();
    if current.as_ref().is_some_and(|c| c.bcast != opts.bcast) {
        return ctx.error("ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.");
    }
    if opts.bcast && (opts.optin || opts.optout) {
        return ctx.error("ERR OPTIN and OPTOUT are not compatible with BCAST");
    }
    if opts.optin && opts.optout {
        return ctx.error("ERR You can't specify both OPTIN mode and OPTOUT mode");
    }
    if current
        .as_ref()
        .is_some_and(|c| (opts.optin && c.optout) || (opts.optout && c.optin))
    {
        return ctx.error("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.");
    }
    if opts.bcast {
        let existing = current.as_ref().map_or(&[][..], |c| &c.prefixes[..]);
        if let Err(msg) = check_prefixes(&prefixes, existing) {
            return ctx.error(&msg);
        }
        if prefixes.is_empty() {
            prefixes.push(Box::from(&b""[..]));
        }
    }
    // Re-enabling replaces the options, but BCAST prefixes add up (as in Redis).
    let mut mode = opts;
    mode.prefixes = current.map(|c| c.prefixes).unwrap_or_default();
    for p in prefixes {
        if !mode.prefixes.contains(&p) {
            ctx.st
                .tracking
                .prefixes
                .entry(p.clone())
                .or_default()
                .clients
                .insert(id);
            mode.prefixes.push(p);
        }
    }
    mode.prefixes.sort();
    ctx.st.tracking.clients.insert(id, mode);
    ctx.sess.tracking = true;
    ctx.out.ok();
}

/// BCAST prefixes of one client must not overlap (one a prefix of another), among the
/// new ones or with those it has.
fn check_prefixes(new: &[Box<[u8]>], existing: &[Box<[u8]>]) -> Result<(), String> {
    let overlap = |a: &[u8], b: &[u8]| a.starts_with(b) || b.starts_with(a);
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    for (i, p) in new.iter().enumerate() {
        if let Some(e) = existing.iter().find(|e| overlap(p, e)) {
            return Err(format!("ERR Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a single client must not overlap.", text(p), text(e)));
        }
        if let Some(q) = new[i + 1..].iter().find(|q| overlap(p, q)) {
            return Err(format!("ERR Prefix '{}' overlaps with another provided prefix '{}'. Prefixes for a single client must not overlap.", text(p), text(q)));
        }
    }
    Ok(())
}

/// CLIENT CACHING YES|NO: whether the next command's keys are remembered (OPTIN/OPTOUT).
pub fn client_caching(ctx: &mut Ctx) {
    let Some(m) = ctx.st.tracking.clients.get(&ctx.sess.id) else {
        return ctx.error("ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled");
    };
    let (optin, optout) = (m.optin, m.optout);
    match ctx.args[2].to_ascii_uppercase().as_slice() {
        b"YES" if optin => ctx.sess.tracking_caching = true,
        b"YES" => {
            return ctx.error(
                "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.",
            )
        }
        b"NO" if optout => ctx.sess.tracking_caching = true,
        b"NO" => {
            return ctx.error(
                "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.",
            )
        }
        _ => return ctx.error(SYNTAX),
    }
    ctx.out.ok();
}

/// CLIENT TRACKINGINFO: flags, redirect and prefixes, as Redis 7.0 answers.
pub fn client_trackinginfo(ctx: &mut Ctx) {
    let m = ctx.st.tracking.clients.get(&ctx.sess.id);
    let mut flags: Vec<&str> = vec![if m.is_some() { "on" } else { "off" }];
    if let Some(m) = m {
        let caching = ctx.sess.tracking_caching;
        let optional = [
            (m.bcast, "bcast"),
            (m.optin, "optin"),
            (m.optin && caching, "caching-yes"),
            (m.optout, "optout"),
            (m.optout && caching, "caching-no"),
            (m.noloop, "noloop"),
            (m.broken, "broken_redirect"),
        ];
        flags.extend(optional.iter().filter(|(on, _)| *on).map(|(_, f)| *f));
    }
    let redirect = m.map_or(-1, |m| m.redirect as i64);
    let prefixes = m.map(|m| m.prefixes.clone()).unwrap_or_default();
    let out = &mut *ctx.out;
    out.map_len(3);
    out.bulk(b"flags");
    out.set_len(flags.len());
    for f in flags {
        out.bulk(f.as_bytes());
    }
    out.bulk(b"redirect");
    out.int(redirect);
    out.bulk(b"prefixes");
    out.array_len(prefixes.len());
    for p in &prefixes {
        out.bulk(p);
    }
}

/// CLIENT GETREDIR: the client messages go to (0: this one), -1 without tracking.
pub fn client_getredir(ctx: &mut Ctx) {
    let r = ctx
        .st
        .tracking
        .clients
        .get(&ctx.sess.id)
        .map_or(-1, |m| m.redirect as i64);
    ctx.out.int(r);
}

#[cfg(test)]
mod tests {
    use super::check_prefixes;

    #[test]
    fn prefixes_of_one_client_must_not_overlap() {
        let b = |s: &str| Box::<[u8]>::from(s.as_bytes());
        assert!(check_prefixes(&[b("a:"), b("b:")], &[]).is_ok());
        assert_eq!(
            check_prefixes(&[b("ab"), b("a")], &[]).unwrap_err(),
            "ERR Prefix 'ab' overlaps with another provided prefix 'a'. Prefixes for a single client must not overlap."
        );
        assert_eq!(
            check_prefixes(&[b("p:x")], &[b("p:")]).unwrap_err(),
            "ERR Prefix 'p:x' overlaps with an existing prefix 'p:'. Prefixes for a single client must not overlap."
        );
        // The empty prefix (everything) overlaps with any other.
        assert!(check_prefixes(&[b("")], &[b("q")]).is_err());
    }
}
