//! Stream commands (XADD, XRANGE, XREAD, consumer groups, XINFO...), as Redis 7.0
//! answers them: same replies, same errors, checked in the same order.
//!
//! What is logged: the effect, never the request. XADD logs the ID it chose (and, when
//! it trimmed, the exact length left: `MAXLEN = n`); XTRIM logs that length; reads by a
//! consumer group log each delivery as `XCLAIM ... TIME t RETRYCOUNT n FORCE JUSTID` and
//! the group's new position as `XGROUP SETID ... ENTRIESREAD n`, as Redis propagates them,
//! so replay rebuilds the PELs with their delivery times and counts.
//!
//! Approximate trimming (`~`) removes whole nodes only, as Redis does. Nodes are cut as
//! Redis cuts them (100 entries) but measured by Strata's own packing for the 4 KB
//! bound, so with big entries the cut may fall elsewhere than in Redis.

use bytes::Bytes;

use super::notify::class;
use super::{typed, Ctx, Replied, SYNTAX};
use crate::keyspace::stream::{Fields, Group, Nack, ENTRIES_READ_UNKNOWN};
use crate::keyspace::{Aggregate, Entry, Kind, Stream, StreamId};
use crate::protocol::ReplyBuf;

const INVALID_ID: &str = "ERR Invalid stream ID specified as stream command argument";

fn b(s: &'static str) -> Bytes {
    Bytes::from_static(s.as_bytes())
}

fn id_arg(id: StreamId) -> Bytes {
    Bytes::from(id.to_bytes())
}

// ---- parsing -------------------------------------------------------------------------

/// An ID argument: `-`, `+`, or `ms[-seq]` (missing seq = `missing_seq`).
fn parse_id(a: &[u8], missing_seq: u64) -> Option<StreamId> {
    match a {
        b"-" => Some(StreamId::MIN),
        b"+" => Some(StreamId::MAX),
        _ => StreamId::parse(a, missing_seq),
    }
}

/// A strict ID argument (no `-`/`+`), replying with Redis's error.
fn strict_id(ctx: &mut Ctx, i: usize) -> Option<StreamId> {
    let id = StreamId::parse(&ctx.args[i], 0);
    if id.is_none() {
        ctx.error(INVALID_ID);
    }
    id
}

/// The strict IDs from argument `from` on, all checked before any is used (None after
/// replying with the first bad one's error).
fn strict_ids(ctx: &mut Ctx, from: usize) -> Option<Vec<StreamId>> {
    (from..ctx.args.len()).map(|i| strict_id(ctx, i)).collect()
}

/// A range bound: `-`, `+`, `ms[-seq]` or, exclusive, `(ms[-seq]`. Returns the
/// inclusive bound, or None after replying.
fn range_bound(ctx: &mut Ctx, i: usize, start: bool) -> Option<StreamId> {
    let a = ctx.args[i].clone();
    let missing = if start { 0 } else { u64::MAX };
    if let Some(rest) = a.strip_prefix(b"(") {
        let Some(id) = StreamId::parse(rest, missing) else {
            ctx.error(INVALID_ID);
            return None;
        };
        let stepped = if start { id.next() } else { id.prev() };
        if stepped.is_none() {
            ctx.error(if start {
                "ERR invalid start ID for the interval"
            } else {
                "ERR invalid end ID for the interval"
            });
        }
        return stepped;
    }
    let id = parse_id(&a, missing);
    if id.is_none() {
        ctx.error(INVALID_ID);
    }
    id
}

/// The stream at `key` for reading: `Ok(false)` when missing, `Err` after WRONGTYPE.
fn lookup_stream(ctx: &mut Ctx, key: &[u8]) -> Result<bool, Replied> {
    ctx.probe(key, Kind::Stream, true)
}

fn stream<'a>(ctx: &'a Ctx, key: &[u8]) -> &'a Stream {
    typed::<Stream>(ctx.st, ctx.sess.db, key).expect("caller checked the key holds a stream")
}

/// Change the stream at `key` (the caller checked it exists).
fn edit<R>(ctx: &mut Ctx, key: &[u8], f: impl FnOnce(&mut Stream) -> R) -> R {
    let db = ctx.sess.db;
    ctx.st
        .ks
        .db_mut(db)
        .update(key, |v| {
            f(Stream::of_mut(v).expect("caller checked the type"))
        })
        .expect("caller checked the key exists")
}

/// Log several effects as one unit (inside EXEC or a script the outer bracket does).
fn propagate_unit(ctx: &mut Ctx, effects: Vec<Vec<Bytes>>) {
    if effects.is_empty() {
        return;
    }
    let first = ctx.st.effects.len();
    for e in effects {
        ctx.propagate(e);
    }
    if !ctx.sess.in_exec() {
        super::transactions::bracket(ctx.st, first);
    }
}

// ---- replies -------------------------------------------------------------------------

fn reply_entry(out: &mut ReplyBuf, id: StreamId, fields: &Fields) {
    out.array_len(2);
    out.bulk(&id.to_bytes());
    out.array_len(fields.len());
    for f in fields {
        out.bulk(f);
    }
}

fn reply_id(out: &mut ReplyBuf, id: StreamId) {
    out.bulk(&id.to_bytes());
}

// ---- trimming ------------------------------------------------------------------------

#[derive(Clone, Copy)]
enum Trim {
    None,
    MaxLen(i64),
    MinId(StreamId),
}

struct TrimArgs {
    trim: Trim,
    approx: bool,
    limit: i64,
    limit_given: bool,
}

/// Parse XADD's options (or XTRIM's), from index 2. Returns the index of XADD's ID
/// argument (`*` or an ID), with `id` parsed, or None after replying.
struct AddArgs {
    trim: TrimArgs,
    nomkstream: bool,
    /// None: `*`. Some((id, seq_given)).
    id: Option<(StreamId, bool)>,
    next: usize,
}

fn parse_trim_args(ctx: &mut Ctx, xadd: bool) -> Option<AddArgs> {
    let mut t = TrimArgs {
        trim: Trim::None,
        approx: false,
        limit: 0,
        limit_given: false,
    };
    let mut nomkstream = false;
    let mut id = None;
    let n = ctx.args.len();
    let mut i = 2;
    while i < n {
        let more = n - 1 - i;
        let opt = ctx.args[i].clone();
        if xadd && &opt[..] == b"*" {
            break;
        } else if (opt.eq_ignore_ascii_case(b"maxlen") || opt.eq_ignore_ascii_case(b"minid"))
            && more > 0
        {
            if !matches!(t.trim, Trim::None) {
                ctx.error("ERR syntax error, MAXLEN and MINID options at the same time are not compatible");
                return None;
            }
            t.approx = false;
            let next = &ctx.args[i + 1];
            if more >= 2 && &next[..] == b"~" {
                t.approx = true;
                i += 1;
            } else if more >= 2 && &next[..] == b"=" {
                i += 1;
            }
            if opt.eq_ignore_ascii_case(b"maxlen") {
                let v = ctx.int_arg(i + 1)?;
                if v < 0 {
                    ctx.error("ERR The MAXLEN argument must be >= 0.");
                    return None;
                }
                t.trim = Trim::MaxLen(v);
            } else {
                t.trim = Trim::MinId(strict_id(ctx, i + 1)?);
            }
            i += 1;
        } else if opt.eq_ignore_ascii_case(b"limit") && more > 0 {
            let v = ctx.int_arg(i + 1)?;
            if v < 0 {
                ctx.error("ERR The LIMIT argument must be >= 0.");
                return None;
            }
            t.limit = v;
            t.limit_given = true;
            i += 1;
        } else if xadd && opt.eq_ignore_ascii_case(b"nomkstream") {
            nomkstream = true;
        } else if xadd {
            let Some(parsed) = parse_add_id(&opt) else {
                ctx.error(INVALID_ID);
                return None;
            };
            id = Some(parsed);
            break;
        } else {
            ctx.error(SYNTAX);
            return None;
        }
        i += 1;
    }
    // (Redis tests the value here, so `LIMIT 0` falls through to the `~` check.)
    if t.limit != 0 && matches!(t.trim, Trim::None) {
        ctx.error("ERR syntax error, LIMIT cannot be used without specifying a trimming strategy");
        return None;
    }
    if !xadd && matches!(t.trim, Trim::None) {
        ctx.error("ERR syntax error, XTRIM must be called with a trimming strategy");
        return None;
    }
    if ctx.st.replaying {
        t.limit = 0;
    } else if t.limit_given {
        if !t.approx {
            ctx.error("ERR syntax error, LIMIT cannot be used without the special ~ option");
            return None;
        }
    } else if t.approx {
        // Redis's default: 100 nodes of stream-node-max-entries (100).
        t.limit = 10_000;
    } else {
        t.limit = 0;
    }
    Some(AddArgs {
        trim: t,
        nomkstream,
        id,
        next: i,
    })
}

/// XADD's explicit ID: `ms-seq`, `ms` (seq 0) or `ms-*`; (id, seq given).
fn parse_add_id(a: &[u8]) -> Option<(StreamId, bool)> {
    if let Some(ms) = a.strip_suffix(b"-*") {
        return StreamId::parse(ms, 0)
            .filter(|_| !ms.contains(&b'-'))
            .map(|id| (id, false));
    }
    StreamId::parse(a, 0).map(|id| (id, true))
}

/// Apply a trim to `s`; entries removed.
fn apply_trim(s: &mut Stream, t: &TrimArgs) -> usize {
    let limit = t.limit.max(0) as usize;
    match t.trim {
        Trim::None => 0,
        Trim::MaxLen(n) => s.trim_maxlen(n as usize, limit, t.approx),
        Trim::MinId(id) => s.trim_minid(id, limit, t.approx),
    }
}

// ---- XADD, XLEN, XRANGE, XDEL, XTRIM, XSETID -------------------------------------------

pub fn xadd(ctx: &mut Ctx) {
    let Some(a) = parse_trim_args(ctx, true) else {
        return;
    };
    let field_pos = a.next + 1;
    let n = ctx.args.len();
    if n < field_pos + 2 || (n - field_pos) % 2 == 1 {
        return ctx.wrong_args();
    }
    if let Some((id, true)) = a.id {
        if id.is_zero() {
            return ctx.error("ERR The ID specified in XADD must be greater than 0-0");
        }
    }
    let key = ctx.args[1].clone();
    let exists = match lookup_stream_write(ctx, &key) {
        Ok(e) => e,
        Err(Replied) => return,
    };
    if !exists && a.nomkstream {
        return ctx.out.null();
    }
    let last = if exists {
        stream(ctx, &key).last_id
    } else {
        StreamId::MIN
    };
    if last == StreamId::MAX {
        return ctx
            .error("ERR The stream has exhausted the last possible ID, unable to add more items");
    }
    let id = match a.id {
        None if ctx.now > last.ms => StreamId::new(ctx.now, 0),
        None => last.next().expect("not the greatest ID"),
        Some((id, true)) => id,
        Some((id, false)) if id.ms == last.ms => match last.seq.checked_add(1) {
            Some(seq) => StreamId::new(id.ms, seq),
            None => return too_small(ctx),
        },
        Some((id, false)) => id,
    };
    if id <= last {
        return too_small(ctx);
    }
    if !exists {
        ctx.db().insert(Entry::new(
            key.as_ref().into(),
            Stream::new().into_value(),
            0,
        ));
        ctx.notify(class::NEW, "new", &key);
    }
    let args = ctx.args;
    let (trimmed, len) = edit(ctx, &key, |s| {
        s.append(id, &args[field_pos..]);
        let t = apply_trim(s, &a.trim);
        (t, s.len())
    });
    reply_id(ctx.out, id);
    ctx.modified(&key);
    ctx.notify(class::STREAM, "xadd", &key);
    if trimmed > 0 {
        ctx.notify(class::STREAM, "xtrim", &key);
    }
    if !ctx.st.logging {
        return;
    }
    let mut log = vec![b("XADD"), key];
    if trimmed > 0 {
        log.extend([b("MAXLEN"), b("="), Bytes::from(len.to_string())]);
    }
    log.push(id_arg(id));
    log.extend(ctx.args[field_pos..].iter().cloned());
    ctx.propagate(log);
}

fn too_small(ctx: &mut Ctx) {
    ctx.error("ERR The ID specified in XADD is equal or smaller than the target stream top item")
}

/// The stream at `key` for writing: `Ok(false)` when missing, `Err` after WRONGTYPE.
fn lookup_stream_write(ctx: &mut Ctx, key: &[u8]) -> Result<bool, Replied> {
    ctx.probe(key, Kind::Stream, false)
}

pub fn xlen(ctx: &mut Ctx) {
    let key = ctx.args[1].clone();
    match lookup_stream(ctx, &key) {
        Ok(true) => {
            let n = stream(ctx, &key).len();
            ctx.out.int(n as i64)
        }
        Ok(false) => ctx.out.int(0),
        Err(Replied) => {}
    }
}

pub fn xrange(ctx: &mut Ctx) {
    range(ctx, false)
}

pub fn xrevrange(ctx: &mut Ctx) {
    range(ctx, true)
}

fn range(ctx: &mut Ctx, rev: bool) {
    let (si, ei) = if rev { (3, 2) } else { (2, 3) };
    let Some(start) = range_bound(ctx, si, true) else {
        return;
    };
    let Some(end) = range_bound(ctx, ei, false) else {
        return;
    };
    let mut count: i64 = -1;
    let mut j = 4;
    while j < ctx.args.len() {
        if ctx.args[j].eq_ignore_ascii_case(b"count") && j + 1 < ctx.args.len() {
            let Some(c) = ctx.int_arg(j + 1) else { return };
            count = c.max(0);
            j += 2;
        } else {
            return ctx.error(SYNTAX);
        }
    }
    let key = ctx.args[1].clone();
    match lookup_stream(ctx, &key) {
        Ok(true) => {}
        Ok(false) => return ctx.out.array_len(0),
        Err(Replied) => return,
    }
    if count == 0 {
        return ctx.out.null_array();
    }
    let limit = if count < 0 {
        usize::MAX
    } else {
        count as usize
    };
    let s = stream(ctx, &key);
    let items: Vec<(StreamId, Fields)> = if rev {
        s.range_rev(start, end).take(limit).collect()
    } else {
        s.range(start, end).take(limit).collect()
    };
    ctx.out.array_len(items.len());
    for (id, f) in &items {
        reply_entry(ctx.out, *id, f);
    }
}

pub fn xdel(ctx: &mut Ctx) {
    let key = ctx.args[1].clone();
    match lookup_stream_write(ctx, &key) {
        Ok(true) => {}
        Ok(false) => return ctx.out.int(0),
        Err(Replied) => return,
    }
    let Some(ids) = strict_ids(ctx, 2) else {
        return;
    };
    let deleted = edit(ctx, &key, |s| {
        ids.iter().filter(|id| s.delete(**id)).count()
    });
    if deleted > 0 {
        ctx.modified(&key);
        ctx.st.dirty += deleted as u64 - 1;
        ctx.notify(class::STREAM, "xdel", &key);
        ctx.propagate_self();
    }
    ctx.out.int(deleted as i64);
}

pub fn xtrim(ctx: &mut Ctx) {
    let key = ctx.args[1].clone();
    let Some(a) = parse_trim_args(ctx, false) else {
        return;
    };
    if a.next < ctx.args.len() {
        return ctx.error(SYNTAX);
    }
    match lookup_stream_write(ctx, &key) {
        Ok(true) => {}
        Ok(false) => return ctx.out.int(0),
        Err(Replied) => return,
    }
    let (trimmed, len) = edit(ctx, &key, |s| (apply_trim(s, &a.trim), s.len()));
    if trimmed > 0 {
        ctx.modified(&key);
        ctx.st.dirty += trimmed as u64 - 1;
        ctx.notify(class::STREAM, "xtrim", &key);
        ctx.propagate(vec![
            b("XTRIM"),
            key,
            b("MAXLEN"),
            b("="),
            Bytes::from(len.to_string()),
        ]);
    }
    ctx.out.int(trimmed as i64);
}

pub fn xsetid(ctx: &mut Ctx) {
    let Some(id) = strict_id(ctx, 2) else { return };
    let mut entries_added: i64 = -1;
    let mut max_xdel = StreamId::MIN;
    let mut i = 3;
    while i < ctx.args.len() {
        let more = ctx.args.len() - 1 - i > 0;
        if ctx.args[i].eq_ignore_ascii_case(b"entriesadded") && more {
            let Some(v) = ctx.int_arg(i + 1) else { return };
            if v < 0 {
                return ctx.error("ERR entries_added must be positive");
            }
            entries_added = v;
        } else if ctx.args[i].eq_ignore_ascii_case(b"maxdeletedid") && more {
            let Some(m) = strict_id(ctx, i + 1) else {
                return;
            };
            if id < m {
                return ctx.error("ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id");
            }
            max_xdel = m;
        } else {
            return ctx.error(SYNTAX);
        }
        i += 2;
    }
    let key = ctx.args[1].clone();
    match lookup_stream_write(ctx, &key) {
        Ok(true) => {}
        Ok(false) => return ctx.error("ERR no such key"),
        Err(Replied) => return,
    }
    let s = stream(ctx, &key);
    if let Some(top) = s.top_id() {
        if id < top {
            return ctx.error(
                "ERR The ID specified in XSETID is smaller than the target stream top item",
            );
        }
        if id < s.max_deleted_id {
            return ctx.error(
                "ERR The ID specified in XSETID is smaller than current max_deleted_entry_id",
            );
        }
        if entries_added != -1 && s.len() as i64 > entries_added {
            return ctx.error("ERR The entries_added specified in XSETID is smaller than the target stream length");
        }
    }
    edit(ctx, &key, |s| {
        s.last_id = id;
        if entries_added != -1 {
            s.entries_added = entries_added as u64;
        }
        if !max_xdel.is_zero() {
            s.max_deleted_id = max_xdel;
        }
    });
    ctx.modified(&key);
    ctx.notify(class::STREAM, "xsetid", &key);
    ctx.propagate_self();
    ctx.out.ok();
}

// ---- XREAD, XREADGROUP ---------------------------------------------------------------

/// An entry as a read replies with it (None: deleted since it was delivered).
type Delivered = (StreamId, Option<Fields>);

/// What XREAD/XREADGROUP wait for per key: entries after this ID, or (`>`) new ones.
#[derive(Clone, Copy)]
enum From {
    After(StreamId),
    New,
}

pub fn xread(ctx: &mut Ctx) {
    read(ctx, false)
}

pub fn xreadgroup(ctx: &mut Ctx) {
    read(ctx, true)
}

fn read(ctx: &mut Ctx, group_read: bool) {
    let n = ctx.args.len();
    let mut timeout: Option<u64> = None;
    let mut count: usize = 0;
    let mut streams_at = 0;
    let mut group: Option<(Bytes, Bytes)> = None;
    let mut noack = false;
    let mut i = 1;
    while i < n {
        let more = n - i - 1;
        let o = &ctx.args[i];
        if o.eq_ignore_ascii_case(b"block") && more > 0 {
            i += 1;
            let Some(t) = ctx.int_arg_or(i, "ERR timeout is not an integer or out of range") else {
                return;
            };
            if t < 0 {
                return ctx.error("ERR timeout is negative");
            }
            timeout = Some(t as u64);
        } else if o.eq_ignore_ascii_case(b"count") && more > 0 {
            i += 1;
            let Some(c) = ctx.int_arg(i) else { return };
            count = c.max(0) as usize;
        } else if o.eq_ignore_ascii_case(b"streams") && more > 0 {
            streams_at = i + 1;
            if !(n - streams_at).is_multiple_of(2) {
                let (name, sym) = if group_read {
                    ("XREADGROUP", '>')
                } else {
                    ("XREAD", '$')
                };
                return ctx.error(&format!(
                    "ERR Unbalanced {name} list of streams: for each stream key an ID or '{sym}' must be specified."
                ));
            }
            break;
        } else if o.eq_ignore_ascii_case(b"group") && more >= 2 {
            if !group_read {
                return ctx.error("ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.");
            }
            group = Some((ctx.args[i + 1].clone(), ctx.args[i + 2].clone()));
            i += 2;
        } else if o.eq_ignore_ascii_case(b"noack") {
            if !group_read {
                return ctx.error("ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.");
            }
            noack = true;
        } else {
            return ctx.error(SYNTAX);
        }
        i += 1;
    }
    if streams_at == 0 {
        return ctx.error(SYNTAX);
    }
    if group_read && group.is_none() {
        return ctx.error("ERR Missing GROUP option for XREADGROUP");
    }
    let nkeys = (n - streams_at) / 2;
    let keys: Vec<Bytes> = ctx.args[streams_at..streams_at + nkeys].to_vec();
    let mut from = Vec::with_capacity(nkeys);
    for (k, key) in keys.iter().enumerate() {
        let arg = ctx.args[streams_at + nkeys + k].clone();
        let exists = match ctx.probe(key, Kind::Stream, true) {
            Ok(e) => e,
            Err(Replied) => return,
        };
        if let Some((g, _)) = &group {
            let has = exists && stream(ctx, key).group(g).is_some();
            if !has {
                return ctx.error(&format!(
                    "NOGROUP No such key '{}' or consumer group '{}' in XREADGROUP with GROUP option",
                    String::from_utf8_lossy(key),
                    String::from_utf8_lossy(g)
                ));
            }
        }
        if &arg[..] == b"$" {
            if group_read {
                return ctx.error("ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.");
            }
            let last = if exists {
                stream(ctx, key).last_id
            } else {
                StreamId::MIN
            };
            from.push(From::After(last));
        } else if &arg[..] == b">" {
            if !group_read {
                return ctx.error("ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.");
            }
            from.push(From::New);
        } else {
            let Some(id) = strict_id(ctx, streams_at + nkeys + k) else {
                return;
            };
            // Redis marks `>` with the greatest ID, so that ID given explicitly means `>`.
            from.push(if group_read && id == StreamId::MAX {
                From::New
            } else {
                From::After(id)
            });
        }
    }
    // Serve what can be served now.
    let mut served: Vec<(Bytes, Vec<Delivered>)> = Vec::new();
    let mut effects: Vec<Vec<Bytes>> = Vec::new();
    // Key by key in the command's order (a key given twice is read twice, as in Redis).
    for (k, key) in keys.iter().enumerate() {
        // (A second read lookup, as Redis makes: a missing key is a second `keymiss`.)
        if ctx.probe(key, Kind::Stream, true) != Ok(true) {
            continue;
        }
        let got = match &group {
            None => {
                let From::After(after) = from[k] else {
                    unreachable!("XREAD has no >")
                };
                let s = stream(ctx, key);
                if s.top_id().is_some_and(|top| top > after) {
                    let start = after.next().expect("below the top ID");
                    let limit = if count == 0 { usize::MAX } else { count };
                    Some(
                        s.range(start, StreamId::MAX)
                            .take(limit)
                            .map(|(i, f)| (i, Some(f)))
                            .collect(),
                    )
                } else {
                    None
                }
            }
            Some((g, consumer)) => {
                let (g, consumer) = (g.clone(), consumer.clone());
                group_read_one(ctx, key, &g, &consumer, from[k], count, noack, &mut effects)
            }
        };
        if let Some(items) = got {
            served.push((key.clone(), items));
        }
    }
    propagate_unit(ctx, effects);
    if !served.is_empty() {
        if ctx.out.resp3() {
            ctx.out.map_len(served.len());
        } else {
            ctx.out.array_len(served.len());
        }
        for (key, items) in &served {
            if !ctx.out.resp3() {
                ctx.out.array_len(2);
            }
            ctx.out.bulk(key);
            ctx.out.array_len(items.len());
            for (id, f) in items {
                match f {
                    Some(f) => reply_entry(ctx.out, *id, f),
                    None => {
                        ctx.out.array_len(2);
                        reply_id(ctx.out, *id);
                        ctx.out.null_array();
                    }
                }
            }
        }
        return;
    }
    let Some(timeout) = timeout else {
        return ctx.out.null_array();
    };
    // Block with `$` resolved: a re-run must wait for entries after the ID it saw now.
    let mut args = ctx.args.to_vec();
    for (k, f) in from.iter().enumerate() {
        if let From::After(id) = f {
            args[streams_at + nkeys + k] = id_arg(*id);
        }
    }
    if !ctx.block_with_args(args, &keys, Kind::Stream, timeout) {
        ctx.out.null_array();
    }
}

/// XREADGROUP on one key (whose group exists): the entries to reply with (None: nothing
/// to serve now), updating the group and queueing the effects to log.
#[allow(clippy::too_many_arguments)]
fn group_read_one(
    ctx: &mut Ctx,
    key: &Bytes,
    group: &Bytes,
    consumer: &Bytes,
    from: From,
    count: usize,
    noack: bool,
    effects: &mut Vec<Vec<Bytes>>,
) -> Option<Vec<Delivered>> {
    let now = ctx.now;
    let limit = if count == 0 { usize::MAX } else { count };
    if let From::New = from {
        // Nothing new: no reply for this key, and (as in Redis 7.0) the consumer is
        // neither created nor seen.
        let s = stream(ctx, key);
        let last = s.group(group).expect("caller checked the group").last_id;
        if s.top_id().is_none_or(|top| top <= last) {
            return None;
        }
    }
    let (created, result, logged) = edit(ctx, key, |s| {
        let g = s.group_mut(group).expect("caller checked the group");
        let (c, created) = g.consumer(consumer, now);
        c.seen_time = now;
        let mut logged: Vec<(StreamId, u64, u64)> = Vec::new();
        let result = match from {
            From::After(after) => {
                // The consumer's history: its pending entries after `after`.
                let start = after.next();
                let ids: Vec<StreamId> = match start {
                    Some(st) => c.pel.range(st..).take(limit).copied().collect(),
                    None => Vec::new(),
                };
                let mut items = Vec::with_capacity(ids.len());
                for id in ids {
                    let fields = s.get(id);
                    let g = s.group_mut(group).expect("checked");
                    if fields.is_some() {
                        let nack = g
                            .pel
                            .get_mut(&id)
                            .expect("a consumer's pending ID is in the PEL");
                        nack.delivery_time = now;
                        nack.delivery_count += 1;
                        logged.push((id, now, nack.delivery_count));
                    }
                    items.push((id, fields));
                }
                Some(items)
            }
            From::New => {
                let last = g.last_id;
                if s.top_id().is_some_and(|top| top > last) {
                    let start = last.next().expect("below the top ID");
                    let got: Vec<(StreamId, Fields)> =
                        s.range(start, StreamId::MAX).take(limit).collect();
                    for (id, _) in &got {
                        s.advance_group(group, *id);
                        if !noack {
                            let g = s.group_mut(group).expect("checked");
                            g.assign(*id, consumer, now, 1);
                            logged.push((*id, now, 1));
                        }
                    }
                    Some(got.into_iter().map(|(i, f)| (i, Some(f))).collect())
                } else {
                    None
                }
            }
        };
        (created, result, logged)
    });
    if created {
        ctx.notify(class::STREAM, "xgroup-createconsumer", key);
        // (A NOACK read logs no XCLAIM, which would create the consumer on replay.)
        effects.push(vec![
            b("XGROUP"),
            b("CREATECONSUMER"),
            key.clone(),
            group.clone(),
            consumer.clone(),
        ]);
    }
    let moved = matches!(from, From::New) && result.is_some();
    for (id, time, count) in &logged {
        effects.push(xclaim_effect(key, group, consumer, *id, *time, *count));
    }
    if moved {
        let s = stream(ctx, key);
        let g = s.group(group).expect("checked");
        effects.push(setid_effect(key, group, g));
    }
    if created || !logged.is_empty() || moved {
        ctx.modified(key);
    }
    result
}

fn xclaim_effect(
    key: &Bytes,
    group: &Bytes,
    consumer: &Bytes,
    id: StreamId,
    time: u64,
    count: u64,
) -> Vec<Bytes> {
    vec![
        b("XCLAIM"),
        key.clone(),
        group.clone(),
        consumer.clone(),
        b("0"),
        id_arg(id),
        b("TIME"),
        Bytes::from(time.to_string()),
        b("RETRYCOUNT"),
        Bytes::from(count.to_string()),
        b("FORCE"),
        b("JUSTID"),
    ]
}

fn setid_effect(key: &Bytes, group: &Bytes, g: &Group) -> Vec<Bytes> {
    vec![
        b("XGROUP"),
        b("SETID"),
        key.clone(),
        group.clone(),
        id_arg(g.last_id),
        b("ENTRIESREAD"),
        Bytes::from(g.entries_read.to_string()),
    ]
}

// ---- XGROUP --------------------------------------------------------------------------

const XGROUP_HELP: &[&str] = &[
    "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CREATE <key> <groupname> <id|$> [option]",
    "    Create a new consumer group. Options are:",
    "    * MKSTREAM",
    "      Create the empty stream if it does not exist.",
    "    * ENTRIESREAD entries_read",
    "      Set the group's entries_read counter (internal use).",
    "CREATECONSUMER <key> <groupname> <consumer>",
    "    Create a new consumer in the specified group.",
    "DELCONSUMER <key> <groupname> <consumer>",
    "    Remove the specified consumer.",
    "DESTROY <key> <groupname>",
    "    Remove the specified group.",
    "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
    "    Set the current group ID and entries_read counter.",
    "HELP",
    "    Prints this help.",
];

fn subcommand_syntax(ctx: &mut Ctx, container: &str) {
    let sub = String::from_utf8_lossy(&ctx.args[1]).into_owned();
    ctx.error(&format!(
        "ERR unknown subcommand or wrong number of arguments for '{sub}'. Try {container} HELP."
    ));
}

pub fn xgroup(ctx: &mut Ctx) {
    let sub = ctx.args[1].to_ascii_lowercase();
    let n = ctx.args.len();
    if sub == b"help" {
        return ctx.help(XGROUP_HELP);
    }
    let mut mkstream = false;
    let mut entries_read = ENTRIES_READ_UNKNOWN;
    if sub == b"create" || sub == b"setid" {
        let mut i = 5;
        while i < n {
            if sub == b"create" && ctx.args[i].eq_ignore_ascii_case(b"mkstream") {
                mkstream = true;
                i += 1;
            } else if ctx.args[i].eq_ignore_ascii_case(b"entriesread") && i + 1 < n {
                let Some(v) = ctx.int_arg(i + 1) else { return };
                if v < 0 && v != ENTRIES_READ_UNKNOWN {
                    return ctx.error("ERR value for ENTRIESREAD must be positive or -1");
                }
                entries_read = v;
                i += 2;
            } else {
                return subcommand_syntax(ctx, "XGROUP");
            }
        }
    }
    let key = ctx.args[2].clone();
    let gname = ctx.args[3].clone();
    let exists = match lookup_stream_write(ctx, &key) {
        Ok(e) => e,
        Err(Replied) => return,
    };
    if !(exists || sub == b"create" && mkstream) {
        return ctx.error("ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.");
    }
    let has_group = exists && stream(ctx, &key).group(&gname).is_some();
    if !has_group && matches!(&sub[..], b"setid" | b"createconsumer" | b"delconsumer") {
        return ctx.error(&format!(
            "NOGROUP No such consumer group '{}' for key name '{}'",
            String::from_utf8_lossy(&gname),
            String::from_utf8_lossy(&key)
        ));
    }
    match &sub[..] {
        b"create" if (5..=8).contains(&n) => {
            let id = if &ctx.args[4][..] == b"$" {
                if exists {
                    stream(ctx, &key).last_id
                } else {
                    StreamId::MIN
                }
            } else {
                let Some(id) = strict_id(ctx, 4) else { return };
                id
            };
            if has_group {
                return ctx.error("BUSYGROUP Consumer Group name already exists");
            }
            if !exists {
                ctx.db().insert(Entry::new(
                    key.as_ref().into(),
                    Stream::new().into_value(),
                    0,
                ));
                ctx.notify(class::NEW, "new", &key);
            }
            edit(ctx, &key, |s| {
                s.add_group(&gname, Group::new(id, entries_read))
            });
            ctx.modified(&key);
            ctx.notify(class::STREAM, "xgroup-create", &key);
            ctx.propagate(vec![
                b("XGROUP"),
                b("CREATE"),
                key,
                gname,
                id_arg(id),
                b("MKSTREAM"),
                b("ENTRIESREAD"),
                Bytes::from(entries_read.to_string()),
            ]);
            ctx.out.ok();
        }
        b"setid" if n == 5 || n == 7 => {
            let id = if &ctx.args[4][..] == b"$" {
                stream(ctx, &key).last_id
            } else {
                match parse_id(&ctx.args[4], 0) {
                    Some(id) => id,
                    None => return ctx.error(INVALID_ID),
                }
            };
            edit(ctx, &key, |s| {
                let g = s.group_mut(&gname).expect("checked");
                g.last_id = id;
                g.entries_read = entries_read;
            });
            ctx.modified(&key);
            ctx.notify(class::STREAM, "xgroup-setid", &key);
            ctx.propagate(vec![
                b("XGROUP"),
                b("SETID"),
                key,
                gname,
                id_arg(id),
                b("ENTRIESREAD"),
                Bytes::from(entries_read.to_string()),
            ]);
            ctx.out.ok();
        }
        b"destroy" if n == 4 => {
            if !has_group {
                return ctx.out.int(0);
            }
            edit(ctx, &key, |s| s.remove_group(&gname));
            ctx.modified(&key);
            ctx.notify(class::STREAM, "xgroup-destroy", &key);
            ctx.propagate_self();
            ctx.out.int(1);
        }
        b"createconsumer" if n == 5 => {
            let cname = ctx.args[4].clone();
            let now = ctx.now;
            let created = edit(ctx, &key, |s| {
                let g = s.group_mut(&gname).expect("checked");
                g.consumer(&cname, now).1
            });
            if created {
                ctx.modified(&key);
                ctx.notify(class::STREAM, "xgroup-createconsumer", &key);
                ctx.propagate_self();
            }
            ctx.out.int(created as i64);
        }
        b"delconsumer" if n == 5 => {
            let cname = ctx.args[4].clone();
            let pending = edit(ctx, &key, |s| {
                let g = s.group_mut(&gname).expect("checked");
                match g.consumers.remove(&cname[..]) {
                    Some(c) => {
                        for id in &c.pel {
                            g.pel.remove(id);
                        }
                        Some(c.pel.len())
                    }
                    None => None,
                }
            });
            if pending.is_some() {
                ctx.modified(&key);
                ctx.notify(class::STREAM, "xgroup-delconsumer", &key);
                ctx.propagate_self();
            }
            ctx.out.int(pending.unwrap_or(0) as i64);
        }
        _ => subcommand_syntax(ctx, "XGROUP"),
    }
}

// ---- XACK, XPENDING, XCLAIM, XAUTOCLAIM ------------------------------------------------

fn no_group(ctx: &mut Ctx, key: &[u8], group: &[u8]) {
    ctx.error(&format!(
        "NOGROUP No such key '{}' or consumer group '{}'",
        String::from_utf8_lossy(key),
        String::from_utf8_lossy(group)
    ))
}

/// The key holds a stream with group `g`: Ok(true); missing key or group: Ok(false).
/// A read lookup (keyspace hit or miss, `keymiss`), as Redis's XACK, XPENDING, XCLAIM
/// and XAUTOCLAIM make, writes though three of them are.
fn has_group(ctx: &mut Ctx, key: &[u8], g: &[u8]) -> Result<bool, Replied> {
    Ok(lookup_stream(ctx, key)? && stream(ctx, key).group(g).is_some())
}

pub fn xack(ctx: &mut Ctx) {
    let key = ctx.args[1].clone();
    let gname = ctx.args[2].clone();
    let found = match has_group(ctx, &key, &gname) {
        Ok(f) => f,
        Err(Replied) => return,
    };
    if !found {
        return ctx.out.int(0);
    }
    let Some(ids) = strict_ids(ctx, 3) else {
        return;
    };
    let acked = edit(ctx, &key, |s| {
        let g = s.group_mut(&gname).expect("checked");
        ids.iter().filter(|id| g.ack(**id)).count()
    });
    if acked > 0 {
        ctx.modified(&key);
        ctx.st.dirty += acked as u64 - 1;
        ctx.propagate_self();
    }
    ctx.out.int(acked as i64);
}

pub fn xpending(ctx: &mut Ctx) {
    let n = ctx.args.len();
    let justinfo = n == 3;
    if n != 3 && !(6..=9).contains(&n) {
        return ctx.error(SYNTAX);
    }
    let key = ctx.args[1].clone();
    let gname = ctx.args[2].clone();
    let mut minidle: i64 = 0;
    let (mut start, mut end, mut count) = (StreamId::MIN, StreamId::MAX, 0i64);
    let mut consumer: Option<Bytes> = None;
    if n >= 6 {
        let mut at = 3;
        if ctx.args[3].eq_ignore_ascii_case(b"idle") {
            let Some(v) = ctx.int_arg(4) else { return };
            minidle = v;
            if n < 8 {
                return ctx.error(SYNTAX);
            }
            at += 2;
        }
        let Some(c) = ctx.int_arg(at + 2) else { return };
        count = c.max(0);
        let Some(s) = range_bound(ctx, at, true) else {
            return;
        };
        let Some(e) = range_bound(ctx, at + 1, false) else {
            return;
        };
        start = s;
        end = e;
        if at + 3 < n {
            consumer = Some(ctx.args[at + 3].clone());
            if at + 4 < n {
                return ctx.error(SYNTAX);
            }
        }
    }
    match has_group(ctx, &key, &gname) {
        Ok(true) => {}
        Ok(false) => return no_group(ctx, &key, &gname),
        Err(Replied) => return,
    }
    let now = ctx.now;
    let s = stream(ctx, &key);
    let g = s.group(&gname).expect("checked");
    if justinfo {
        let bounds = g
            .pel
            .keys()
            .next()
            .zip(g.pel.keys().next_back())
            .map(|(a, z)| (*a, *z));
        let total = g.pel.len();
        let busy: Vec<(Vec<u8>, usize)> = g
            .consumers
            .iter()
            .filter(|(_, c)| !c.pel.is_empty())
            .map(|(n, c)| (n.clone(), c.pel.len()))
            .collect();
        ctx.out.array_len(4);
        ctx.out.int(total as i64);
        let Some((first, last)) = bounds else {
            ctx.out.null();
            ctx.out.null();
            return ctx.out.null_array();
        };
        reply_id(ctx.out, first);
        reply_id(ctx.out, last);
        ctx.out.array_len(busy.len());
        for (name, n) in busy {
            ctx.out.array_len(2);
            ctx.out.bulk(&name);
            ctx.out.bulk(n.to_string().as_bytes());
        }
        return;
    }
    let ids: Vec<StreamId> = match &consumer {
        Some(c) => match g.consumers.get(&c[..]) {
            Some(c) => c
                .pel
                .range(start..=end.max(start))
                .copied()
                .filter(|id| *id <= end)
                .collect(),
            None => Vec::new(),
        },
        None => g
            .pel
            .range(start..=end.max(start))
            .map(|(id, _)| *id)
            .filter(|id| *id <= end)
            .collect(),
    };
    let mut rows = Vec::new();
    for id in ids {
        if rows.len() as i64 >= count {
            break;
        }
        let nack = &g.pel[&id];
        let idle = now as i64 - nack.delivery_time as i64;
        if minidle != 0 && idle < minidle {
            continue;
        }
        rows.push((id, nack.consumer.clone(), idle.max(0), nack.delivery_count));
    }
    ctx.out.array_len(rows.len());
    for (id, c, idle, dc) in rows {
        ctx.out.array_len(4);
        reply_id(ctx.out, id);
        ctx.out.bulk(&c);
        ctx.out.int(idle);
        ctx.out.int(dc as i64);
    }
}

/// What XCLAIM and XAUTOCLAIM do to pending entries, and the effects they log.
struct Claims<'a> {
    key: &'a Bytes,
    group: &'a Bytes,
    consumer: &'a Bytes,
    now: u64,
    /// The claiming consumer has been looked up (created if new, seen now): Redis does
    /// it at the first entry claimed, not before.
    seen: bool,
    created: bool,
    effects: Vec<Vec<Bytes>>,
}

impl<'a> Claims<'a> {
    fn new(key: &'a Bytes, group: &'a Bytes, consumer: &'a Bytes, now: u64) -> Self {
        Claims {
            key,
            group,
            consumer,
            now,
            seen: false,
            created: false,
            effects: Vec::new(),
        }
    }

    /// `id` is pending but its entry is gone: drop it from the PEL (logged as the XCLAIM
    /// that drops it on replay, as Redis propagates it).
    fn drop_gone(&mut self, g: &mut Group, id: StreamId, nack: &Nack) {
        let owner = Bytes::from(nack.consumer.clone());
        self.effects.push(xclaim_effect(
            self.key,
            self.group,
            &owner,
            id,
            nack.delivery_time,
            nack.delivery_count,
        ));
        g.ack(id);
    }

    /// Make `id` pending for the claiming consumer, delivered at `time`, `count` times.
    fn claim(&mut self, g: &mut Group, id: StreamId, time: u64, count: u64) {
        if !self.seen {
            let (c, new) = g.consumer(self.consumer, self.now);
            c.seen_time = self.now;
            self.created = new;
            self.seen = true;
        }
        g.assign(id, self.consumer, time, count);
        self.effects.push(xclaim_effect(
            self.key,
            self.group,
            self.consumer,
            id,
            time,
            count,
        ));
    }

    /// Publish, signal and log what was done.
    fn finish(self, ctx: &mut Ctx) {
        if self.created {
            ctx.notify(class::STREAM, "xgroup-createconsumer", self.key);
        }
        if !self.effects.is_empty() || self.created {
            ctx.modified(self.key);
        }
        propagate_unit(ctx, self.effects);
    }
}

/// The claimed entries (their IDs with JUSTID; nil for an entry that is gone).
fn reply_claimed(out: &mut ReplyBuf, claimed: &[Delivered], justid: bool) {
    out.array_len(claimed.len());
    for (id, f) in claimed {
        match f {
            _ if justid => reply_id(out, *id),
            Some(f) => reply_entry(out, *id, f),
            None => out.null(),
        }
    }
}

pub fn xclaim(ctx: &mut Ctx) {
    let key = ctx.args[1].clone();
    let gname = ctx.args[2].clone();
    let cname = ctx.args[3].clone();
    match has_group(ctx, &key, &gname) {
        Ok(true) => {}
        Ok(false) => return no_group(ctx, &key, &gname),
        Err(Replied) => return,
    }
    let Some(minidle) = ctx.int_arg_or(4, "ERR Invalid min-idle-time argument for XCLAIM") else {
        return;
    };
    let minidle = minidle.max(0);
    let mut ids = Vec::new();
    let mut j = 5;
    while j < ctx.args.len() {
        match StreamId::parse(&ctx.args[j], 0) {
            Some(id) => ids.push(id),
            None => break,
        }
        j += 1;
    }
    let now = ctx.now as i64;
    let (mut force, mut justid) = (false, false);
    let mut deliverytime: i64 = -1;
    let mut retrycount: i64 = -1;
    let mut last_id = StreamId::MIN;
    while j < ctx.args.len() {
        let more = ctx.args.len() - 1 - j > 0;
        let opt = ctx.args[j].clone();
        if opt.eq_ignore_ascii_case(b"force") {
            force = true;
        } else if opt.eq_ignore_ascii_case(b"justid") {
            justid = true;
        } else if opt.eq_ignore_ascii_case(b"idle") && more {
            j += 1;
            let Some(v) = ctx.int_arg_or(j, "ERR Invalid IDLE option argument for XCLAIM") else {
                return;
            };
            deliverytime = now.wrapping_sub(v);
        } else if opt.eq_ignore_ascii_case(b"time") && more {
            j += 1;
            let Some(v) = ctx.int_arg_or(j, "ERR Invalid TIME option argument for XCLAIM") else {
                return;
            };
            deliverytime = v;
        } else if opt.eq_ignore_ascii_case(b"retrycount") && more {
            j += 1;
            let Some(v) = ctx.int_arg_or(j, "ERR Invalid RETRYCOUNT option argument for XCLAIM")
            else {
                return;
            };
            retrycount = v;
        } else if opt.eq_ignore_ascii_case(b"lastid") && more {
            j += 1;
            let Some(v) = strict_id(ctx, j) else { return };
            last_id = v;
        } else {
            return ctx.error(&format!(
                "ERR Unrecognized XCLAIM option '{}'",
                String::from_utf8_lossy(&opt)
            ));
        }
        j += 1;
    }
    let deliverytime = if deliverytime < 0 || deliverytime > now {
        now
    } else {
        deliverytime
    } as u64;
    let mut claims = Claims::new(&key, &gname, &cname, ctx.now);
    let replies = edit(ctx, &key, |s| {
        let mut replies: Vec<Delivered> = Vec::new();
        let moved = {
            let g = s.group_mut(&gname).expect("checked");
            let moved = last_id > g.last_id;
            if moved {
                g.last_id = last_id;
            }
            moved
        };
        for id in ids {
            let exists = s.contains(id);
            let fields = if justid { None } else { s.get(id) };
            let g = s.group_mut(&gname).expect("checked");
            let pending = g.pel.get(&id).cloned();
            if !exists {
                if let Some(nack) = &pending {
                    claims.drop_gone(g, id, nack);
                }
                continue;
            }
            let old_count = match &pending {
                Some(nack) => {
                    if minidle != 0 && now - (nack.delivery_time as i64) < minidle {
                        continue;
                    }
                    nack.delivery_count
                }
                None if force => 0,
                None => continue,
            };
            let count = if retrycount >= 0 {
                retrycount as u64
            } else if !justid {
                old_count + 1
            } else {
                old_count
            };
            claims.claim(g, id, deliverytime, count);
            replies.push((id, fields));
        }
        if moved {
            // (Redis's propagated XCLAIM carries LASTID; the position is logged apart.)
            let g = s.group(&gname).expect("checked");
            claims.effects.push(setid_effect(&key, &gname, g));
        }
        replies
    });
    claims.finish(ctx);
    reply_claimed(ctx.out, &replies, justid);
}

pub fn xautoclaim(ctx: &mut Ctx) {
    let key = ctx.args[1].clone();
    let gname = ctx.args[2].clone();
    let cname = ctx.args[3].clone();
    let Some(minidle) = ctx.int_arg_or(4, "ERR Invalid min-idle-time argument for XAUTOCLAIM")
    else {
        return;
    };
    let minidle = minidle.max(0);
    let Some(start) = range_bound(ctx, 5, true) else {
        return;
    };
    let mut count: i64 = 100;
    let mut justid = false;
    let mut j = 6;
    while j < ctx.args.len() {
        let more = ctx.args.len() - 1 - j > 0;
        if ctx.args[j].eq_ignore_ascii_case(b"count") && more {
            let max = i64::MAX / 16;
            match crate::util::parse_i64_strict(&ctx.args[j + 1]) {
                Some(c) if (1..=max).contains(&c) => count = c,
                _ => return ctx.error("ERR COUNT must be > 0"),
            }
            j += 1;
        } else if ctx.args[j].eq_ignore_ascii_case(b"justid") {
            justid = true;
        } else {
            return ctx.error(SYNTAX);
        }
        j += 1;
    }
    match has_group(ctx, &key, &gname) {
        Ok(true) => {}
        Ok(false) => return no_group(ctx, &key, &gname),
        Err(Replied) => return,
    }
    let now = ctx.now;
    let mut claims = Claims::new(&key, &gname, &cname, now);
    let (claimed, deleted, cursor) = edit(ctx, &key, |s| {
        let mut attempts = count.saturating_mul(10);
        let mut count = count;
        let mut claimed: Vec<Delivered> = Vec::new();
        let mut deleted = Vec::new();
        let mut cur = Some(start);
        loop {
            if attempts == 0 || count == 0 {
                break;
            }
            attempts -= 1;
            let Some(from) = cur else { break };
            let g = s.group(&gname).expect("checked");
            let Some((&id, nack)) = g.pel.range(from..).next() else {
                cur = None;
                break;
            };
            let nack = nack.clone();
            cur = id.next();
            if !s.contains(id) {
                claims.drop_gone(s.group_mut(&gname).expect("checked"), id, &nack);
                deleted.push(id);
                count -= 1;
                continue;
            }
            if minidle != 0 && (now as i64 - nack.delivery_time as i64) < minidle {
                continue;
            }
            let fields = if justid { None } else { s.get(id) };
            let dc = if justid {
                nack.delivery_count
            } else {
                nack.delivery_count + 1
            };
            claims.claim(s.group_mut(&gname).expect("checked"), id, now, dc);
            claimed.push((id, fields));
            count -= 1;
        }
        // The cursor: the next pending ID after the last one examined, or 0-0.
        let next = cur.and_then(|from| {
            s.group(&gname)
                .expect("checked")
                .pel
                .range(from..)
                .next()
                .map(|(id, _)| *id)
        });
        (claimed, deleted, next.unwrap_or(StreamId::MIN))
    });
    claims.finish(ctx);
    ctx.out.array_len(3);
    reply_id(ctx.out, cursor);
    reply_claimed(ctx.out, &claimed, justid);
    ctx.out.array_len(deleted.len());
    for id in deleted {
        reply_id(ctx.out, id);
    }
}

// ---- XINFO ---------------------------------------------------------------------------

const XINFO_HELP: &[&str] = &[
    "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CONSUMERS <key> <groupname>",
    "    Show consumers of <groupname>.",
    "GROUPS <key>",
    "    Show the stream consumer groups.",
    "STREAM <key> [FULL [COUNT <count>]",
    "    Show information about the stream.",
    "HELP",
    "    Prints this help.",
];

pub fn xinfo(ctx: &mut Ctx) {
    let sub = ctx.args[1].to_ascii_lowercase();
    if sub == b"help" {
        return ctx.help(XINFO_HELP);
    }
    let key = ctx.args[2].clone();
    match lookup_stream(ctx, &key) {
        Ok(true) => {}
        Ok(false) => return ctx.error("ERR no such key"),
        Err(Replied) => return,
    }
    let now = ctx.now;
    match &sub[..] {
        b"consumers" => {
            let gname = ctx.args[3].clone();
            let s = stream(ctx, &key);
            let Some(g) = s.group(&gname) else {
                return ctx.error(&format!(
                    "NOGROUP No such consumer group '{}' for key name '{}'",
                    String::from_utf8_lossy(&gname),
                    String::from_utf8_lossy(&key)
                ));
            };
            let rows: Vec<(Vec<u8>, usize, i64)> = g
                .consumers
                .iter()
                .map(|(n, c)| {
                    (
                        n.clone(),
                        c.pel.len(),
                        (now as i64 - c.seen_time as i64).max(0),
                    )
                })
                .collect();
            ctx.out.array_len(rows.len());
            for (name, pending, idle) in rows {
                ctx.out.map_len(3);
                ctx.out.bulk(b"name");
                ctx.out.bulk(&name);
                ctx.out.bulk(b"pending");
                ctx.out.int(pending as i64);
                ctx.out.bulk(b"idle");
                ctx.out.int(idle);
            }
        }
        b"groups" => {
            let s = stream(ctx, &key);
            let rows: Vec<_> = s
                .groups()
                .iter()
                .map(|(n, g)| {
                    (
                        n.clone(),
                        g.consumers.len(),
                        g.pel.len(),
                        g.last_id,
                        g.entries_read,
                        s.lag(g),
                    )
                })
                .collect();
            ctx.out.array_len(rows.len());
            for (name, consumers, pending, last, read, lag) in rows {
                ctx.out.map_len(6);
                ctx.out.bulk(b"name");
                ctx.out.bulk(&name);
                ctx.out.bulk(b"consumers");
                ctx.out.int(consumers as i64);
                ctx.out.bulk(b"pending");
                ctx.out.int(pending as i64);
                ctx.out.bulk(b"last-delivered-id");
                reply_id(ctx.out, last);
                ctx.out.bulk(b"entries-read");
                if read == ENTRIES_READ_UNKNOWN {
                    ctx.out.null();
                } else {
                    ctx.out.int(read);
                }
                ctx.out.bulk(b"lag");
                match lag {
                    Some(l) => ctx.out.int(l),
                    None => ctx.out.null(),
                }
            }
        }
        b"stream" => xinfo_stream(ctx, &key),
        _ => subcommand_syntax(ctx, "XINFO"),
    }
}

fn xinfo_stream(ctx: &mut Ctx, key: &Bytes) {
    let n = ctx.args.len();
    let mut full = false;
    let mut count: i64 = 10;
    if n > 3 {
        if !ctx.args[3].eq_ignore_ascii_case(b"full") {
            return subcommand_syntax(ctx, "XINFO");
        }
        full = true;
        if n == 6 && ctx.args[4].eq_ignore_ascii_case(b"count") {
            let Some(c) = ctx.int_arg(5) else { return };
            count = if c < 0 { 0 } else { c };
        } else if n != 4 {
            return subcommand_syntax(ctx, "XINFO");
        }
    }
    // (The stream and the reply buffer are borrowed apart: no copy of the stream.)
    let s =
        typed::<Stream>(ctx.st, ctx.sess.db, key).expect("caller checked the key holds a stream");
    let out = &mut *ctx.out;
    // Redis reports its radix tree of 100-entry nodes; the same shape is estimated.
    let nodes = s.len().div_ceil(100) as i64;
    out.map_len(if full { 9 } else { 10 });
    out.bulk(b"length");
    out.int(s.len() as i64);
    out.bulk(b"radix-tree-keys");
    out.int(nodes);
    out.bulk(b"radix-tree-nodes");
    out.int(nodes + 1);
    out.bulk(b"last-generated-id");
    reply_id(out, s.last_id);
    out.bulk(b"max-deleted-entry-id");
    reply_id(out, s.max_deleted_id);
    out.bulk(b"entries-added");
    out.int(s.entries_added as i64);
    out.bulk(b"recorded-first-entry-id");
    reply_id(out, s.first_id());
    if !full {
        out.bulk(b"groups");
        out.int(s.groups().len() as i64);
        out.bulk(b"first-entry");
        match s.first() {
            Some((id, f)) => reply_entry(out, id, &f),
            None => out.null(),
        }
        out.bulk(b"last-entry");
        match s.last() {
            Some((id, f)) => reply_entry(out, id, &f),
            None => out.null(),
        }
        return;
    }
    let limit = if count == 0 {
        usize::MAX
    } else {
        count as usize
    };
    let entries: Vec<_> = s.iter().take(limit).collect();
    out.bulk(b"entries");
    out.array_len(entries.len());
    for (id, f) in entries {
        reply_entry(out, id, &f);
    }
    out.bulk(b"groups");
    out.array_len(s.groups().len());
    for (name, g) in s.groups() {
        out.map_len(7);
        out.bulk(b"name");
        out.bulk(name);
        out.bulk(b"last-delivered-id");
        reply_id(out, g.last_id);
        out.bulk(b"entries-read");
        if g.entries_read == ENTRIES_READ_UNKNOWN {
            out.null();
        } else {
            out.int(g.entries_read);
        }
        out.bulk(b"lag");
        match s.lag(g) {
            Some(l) => out.int(l),
            None => out.null(),
        }
        out.bulk(b"pel-count");
        out.int(g.pel.len() as i64);
        out.bulk(b"pending");
        let pel: Vec<_> = g.pel.iter().take(limit).collect();
        out.array_len(pel.len());
        for (id, nack) in pel {
            out.array_len(4);
            reply_id(out, *id);
            out.bulk(&nack.consumer);
            out.int(nack.delivery_time as i64);
            out.int(nack.delivery_count as i64);
        }
        out.bulk(b"consumers");
        out.array_len(g.consumers.len());
        for (cname, c) in &g.consumers {
            out.map_len(4);
            out.bulk(b"name");
            out.bulk(cname);
            out.bulk(b"seen-time");
            out.int(c.seen_time as i64);
            out.bulk(b"pel-count");
            out.int(c.pel.len() as i64);
            out.bulk(b"pending");
            let ids: Vec<_> = c.pel.iter().take(limit).collect();
            out.array_len(ids.len());
            for id in ids {
                let nack = &g.pel[id];
                out.array_len(3);
                reply_id(out, *id);
                out.int(nack.delivery_time as i64);
                out.int(nack.delivery_count as i64);
            }
        }
    }
}
