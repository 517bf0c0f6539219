//! List commands: pushes and pops at either end, ranges, positional edits, moves between
//! lists, and the blocking pops (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP; see
//! [`super::blocking`]).
//!
//! Every list command is deterministic, so most log themselves; the blocking ones and
//! LMPOP log the pop they did (`LPOP key count`, `LMOVE ...`), never a blocking command.
//! A list that becomes empty is deleted, as in Redis.

use super::notify::class;
use bytes::Bytes;

use super::blocking;
use super::{Ctx, State, NOT_INTEGER, SYNTAX};
use crate::keyspace::{Entry, Kind, List, Value};

// ---- helpers -------------------------------------------------------------------------

/// Look `key` up as a list (see [`Ctx::probe`]).
fn probe(ctx: &mut Ctx, key: &[u8], read: bool) -> Result<bool, super::Replied> {
    ctx.probe(key, Kind::List, read)
}

/// The list at `key` in `db`, which the caller has checked exists.
fn list<'a>(st: &'a State, db: usize, key: &[u8]) -> &'a List {
    super::typed(st, db, key).expect("caller checked the key holds a list")
}

/// Change the list at `key` (which exists) with `f`; deletes the key if it ends empty.
/// Signals the change and publishes `event` (see [`super::edit_typed`]); the caller
/// logs it.
fn edit<R>(ctx: &mut Ctx, key: &[u8], event: &'static str, f: impl FnOnce(&mut List) -> R) -> R {
    let event = if event.is_empty() {
        super::QUIET
    } else {
        (class::LIST, event)
    };
    super::edit_typed(ctx, key, event, |l| (f(l), true))
}

fn push_event(front: bool) -> &'static str {
    if front {
        "lpush"
    } else {
        "rpush"
    }
}

fn pop_event(front: bool) -> &'static str {
    if front {
        "lpop"
    } else {
        "rpop"
    }
}

/// Create `key` holding `l`, publishing `new` and `event`.
fn create(ctx: &mut Ctx, key: &[u8], l: List, event: &'static str) {
    let db = ctx.sess.db;
    ctx.st
        .ks
        .db_mut(db)
        .insert(Entry::new(key.into(), Value::List(Box::new(l)), 0));
    ctx.modified(key);
    ctx.notify(class::NEW, "new", key);
    ctx.notify(class::LIST, event, key);
}

/// A Redis-style index argument (`ERR value is not an integer or out of range`).
fn index_arg(ctx: &mut Ctx, i: usize) -> Option<i64> {
    ctx.int_arg(i)
}

/// LEFT/RIGHT: true for LEFT (the head).
fn side_arg(arg: &[u8]) -> Option<bool> {
    if arg.eq_ignore_ascii_case(b"left") {
        Some(true)
    } else if arg.eq_ignore_ascii_case(b"right") {
        Some(false)
    } else {
        None
    }
}

fn side_name(left: bool) -> Bytes {
    Bytes::from_static(if left { b"LEFT" } else { b"RIGHT" })
}

fn push_all(l: &mut List, elems: &[Bytes], front: bool) {
    for e in elems {
        if front {
            l.push_front(e);
        } else {
            l.push_back(e);
        }
    }
}

/// Push `elems` onto `key`, creating the list unless `only_existing`, and reply with the
/// new length (0 when `only_existing` and there is no list) or WRONGTYPE.
fn push(ctx: &mut Ctx, key: &Bytes, elems: &[Bytes], front: bool, only_existing: bool) {
    let exists = match probe(ctx, key, false) {
        Ok(x) => x,
        Err(_) => return,
    };
    let len = if exists {
        edit(ctx, key, push_event(front), |l| {
            push_all(l, elems, front);
            l.len()
        })
    } else if only_existing {
        return ctx.out.int(0);
    } else {
        let mut l = List::new();
        push_all(&mut l, elems, front);
        let n = l.len();
        create(ctx, key, l, push_event(front));
        n
    };
    ctx.propagate_self();
    ctx.out.int(len as i64);
}

/// Push one element onto `key` (a list or absent; checked by the caller).
fn push_one(ctx: &mut Ctx, key: &[u8], elem: &[u8], front: bool) {
    let db = ctx.sess.db;
    if ctx.st.ks.db(db).peek(key).is_some() {
        edit(ctx, key, push_event(front), |l| {
            if front {
                l.push_front(elem)
            } else {
                l.push_back(elem)
            }
        });
    } else {
        let mut l = List::new();
        l.push_back(elem);
        create(ctx, key, l, push_event(front));
    }
}

fn pop_one(ctx: &mut Ctx, key: &[u8], front: bool) -> Vec<u8> {
    edit(ctx, key, pop_event(front), |l| {
        if front { l.pop_front() } else { l.pop_back() }.expect("lists are never empty")
    })
}

fn pop_many(ctx: &mut Ctx, key: &[u8], front: bool, count: usize) -> Vec<Vec<u8>> {
    edit(ctx, key, pop_event(front), |l| {
        let n = count.min(l.len());
        (0..n)
            .map(|_| if front { l.pop_front() } else { l.pop_back() }.expect("within length"))
            .collect()
    })
}

/// Log `LPOP key n` / `RPOP key n` (or without a count).
fn propagate_pop(ctx: &mut Ctx, key: &[u8], front: bool, count: Option<usize>) {
    let mut args = vec![
        Bytes::from_static(if front { b"LPOP" } else { b"RPOP" }),
        Bytes::copy_from_slice(key),
    ];
    if let Some(n) = count {
        args.push(Bytes::from(n.to_string()));
    }
    ctx.propagate(args);
}

/// Normalise a Redis start/end pair against `len`: None when the range is empty.
fn range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let mut start = if start < 0 { len + start } else { start };
    let mut end = if end < 0 { len + end } else { end };
    if start < 0 {
        start = 0;
    }
    if start > end || start >= len {
        return None;
    }
    if end >= len {
        end = len - 1;
    }
    Some((start as usize, end as usize))
}

// ---- pushes and pops -----------------------------------------------------------------

pub fn lpush(ctx: &mut Ctx) {
    let key = ctx.args[1].clone();
    let elems = ctx.args[2..].to_vec();
    push(ctx, &key, &elems, true, false);
}

pub fn rpush(ctx: &mut Ctx) {
    let key = ctx.args[1].clone();
    let elems = ctx.args[2..].to_vec();
    push(ctx, &key, &elems, false, false);
}

pub fn lpushx(ctx: &mut Ctx) {
    let key = ctx.args[1].clone();
    let elems = ctx.args[2..].to_vec();
    push(ctx, &key, &elems, true, true);
}

pub fn rpushx(ctx: &mut Ctx) {
    let key = ctx.args[1].clone();
    let elems = ctx.args[2..].to_vec();
    push(ctx, &key, &elems, false, true);
}

fn pop_generic(ctx: &mut Ctx, front: bool) {
    if ctx.args.len() > 3 {
        return ctx.wrong_args();
    }
    let count = if ctx.args.len() == 3 {
        match crate::util::parse_i64_strict(&ctx.args[2]) {
            Some(n) if n >= 0 => Some(n as usize),
            _ => return ctx.error("ERR value is out of range, must be positive"),
        }
    } else {
        None
    };
    let key = ctx.args[1].clone();
    match probe(ctx, &key, false) {
        Err(_) => return,
        Ok(false) if count.is_some() => return ctx.out.null_array(),
        Ok(false) => return ctx.out.null(),
        Ok(true) => {}
    }
    match count {
        None => {
            let v = pop_one(ctx, &key, front);
            ctx.propagate_self();
            ctx.out.bulk(&v);
        }
        Some(0) => ctx.out.array_len(0),
        Some(n) => {
            let vs = pop_many(ctx, &key, front, n);
            ctx.propagate_self();
            ctx.out.array_len(vs.len());
            for v in &vs {
                ctx.out.bulk(v);
            }
        }
    }
}

pub fn lpop(ctx: &mut Ctx) {
    pop_generic(ctx, true);
}

pub fn rpop(ctx: &mut Ctx) {
    pop_generic(ctx, false);
}

// ---- reads ---------------------------------------------------------------------------

pub fn llen(ctx: &mut Ctx) {
    let key = ctx.args[1].clone();
    match probe(ctx, &key, true) {
        Err(_) => {}
        Ok(false) => ctx.out.int(0),
        Ok(true) => {
            let n = list(ctx.st, ctx.sess.db, &key).len();
            ctx.out.int(n as i64);
        }
    }
}

pub fn lrange(ctx: &mut Ctx) {
    let (Some(start), Some(end)) = (
        crate::util::parse_i64_strict(&ctx.args[2]),
        crate::util::parse_i64_strict(&ctx.args[3]),
    ) else {
        return ctx.error(NOT_INTEGER);
    };
    let key = ctx.args[1].clone();
    match probe(ctx, &key, true) {
        Err(_) => {}
        Ok(false) => ctx.out.array_len(0),
        Ok(true) => {
            let l = list(ctx.st, ctx.sess.db, &key);
            match range(start, end, l.len()) {
                None => ctx.out.array_len(0),
                Some((s, e)) => {
                    let n = e - s + 1;
                    ctx.out.array_len(n);
                    // From the nearer end: a range near the tail is walked backwards.
                    if s > l.len() - 1 - e {
                        let items: Vec<&[u8]> =
                            l.iter().rev().skip(l.len() - 1 - e).take(n).collect();
                        for v in items.into_iter().rev() {
                            ctx.out.bulk(v);
                        }
                    } else {
                        for v in l.iter_from(s).take(n) {
                            ctx.out.bulk(v);
                        }
                    }
                }
            }
        }
    }
}

pub fn lindex(ctx: &mut Ctx) {
    let key = ctx.args[1].clone();
    match probe(ctx, &key, true) {
        Err(_) => return,
        Ok(false) => return ctx.out.null(),
        Ok(true) => {}
    }
    let Some(i) = index_arg(ctx, 2) else { return };
    let l = list(ctx.st, ctx.sess.db, &key);
    let i = if i < 0 { l.len() as i64 + i } else { i };
    match (i >= 0).then(|| l.get(i as usize)).flatten() {
        Some(v) => ctx.out.bulk(v),
        None => ctx.out.null(),
    }
}

pub fn lpos(ctx: &mut Ctx) {
    let mut rank: i64 = 1;
    let mut count: Option<usize> = None;
    let mut maxlen: usize = 0;
    let mut i = 3;
    while i < ctx.args.len() {
        if i + 1 >= ctx.args.len() {
            return ctx.error(SYNTAX);
        }
        let opt = ctx.args[i].to_ascii_uppercase();
        let Some(n) = ctx.int_arg(i + 1) else { return };
        match opt.as_slice() {
            b"RANK" => {
                if n == 0 {
                    return ctx.error("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list");
                }
                rank = n;
            }
            b"COUNT" => {
                if n < 0 {
                    return ctx.error("ERR COUNT can't be negative");
                }
                count = Some(n as usize);
            }
            b"MAXLEN" => {
                if n < 0 {
                    return ctx.error("ERR MAXLEN can't be negative");
                }
                maxlen = n as usize;
            }
            _ => return ctx.error(SYNTAX),
        }
        i += 2;
    }
    let key = ctx.args[1].clone();
    let elem = ctx.args[2].clone();
    match probe(ctx, &key, true) {
        Err(_) => return,
        Ok(false) if count.is_some() => return ctx.out.array_len(0),
        Ok(false) => return ctx.out.null(),
        Ok(true) => {}
    }
    let l = list(ctx.st, ctx.sess.db, &key);
    let len = l.len();
    let from_tail = rank < 0;
    // Redis negates the rank; LLONG_MIN stays negative there, so every match qualifies.
    let skip = if rank == i64::MIN {
        0
    } else {
        rank.unsigned_abs() as usize - 1
    };
    let want = match count {
        Some(0) => usize::MAX,
        Some(n) => n,
        None => 1,
    };
    let limit = if maxlen == 0 { len } else { maxlen.min(len) };
    let mut found = Vec::new();
    let mut seen = 0;
    let mut scan = |i: usize, v: &[u8]| {
        if v == &elem[..] {
            if seen >= skip {
                found.push(i);
            }
            seen += 1;
        }
        found.len() < want
    };
    if from_tail {
        for (k, v) in l.iter().rev().take(limit).enumerate() {
            if !scan(len - 1 - k, v) {
                break;
            }
        }
    } else {
        for (k, v) in l.iter().take(limit).enumerate() {
            if !scan(k, v) {
                break;
            }
        }
    }
    if count.is_some() {
        ctx.out.array_len(found.len());
        for p in found {
            ctx.out.int(p as i64);
        }
    } else {
        match found.first() {
            Some(&p) => ctx.out.int(p as i64),
            None => ctx.out.null(),
        }
    }
}

// ---- positional edits ----------------------------------------------------------------

pub fn lset(ctx: &mut Ctx) {
    let key = ctx.args[1].clone();
    match probe(ctx, &key, false) {
        Err(_) => return,
        Ok(false) => return ctx.error("ERR no such key"),
        Ok(true) => {}
    }
    let Some(i) = index_arg(ctx, 2) else { return };
    let len = list(ctx.st, ctx.sess.db, &key).len() as i64;
    let i = if i < 0 { len + i } else { i };
    if i < 0 || i >= len {
        return ctx.error("ERR index out of range");
    }
    let v = ctx.args[3].clone();
    edit(ctx, &key, "lset", |l| l.set(i as usize, &v));
    ctx.propagate_self();
    ctx.out.ok();
}

pub fn linsert(ctx: &mut Ctx) {
    let after = match ctx.args[2].to_ascii_lowercase().as_slice() {
        b"after" => true,
        b"before" => false,
        _ => return ctx.error(SYNTAX),
    };
    let key = ctx.args[1].clone();
    match probe(ctx, &key, false) {
        Err(_) => return,
        Ok(false) => return ctx.out.int(0),
        Ok(true) => {}
    }
    let pivot = ctx.args[3].clone();
    let Some(at) = list(ctx.st, ctx.sess.db, &key)
        .iter()
        .position(|v| v == &pivot[..])
    else {
        return ctx.out.int(-1);
    };
    let v = ctx.args[4].clone();
    let n = edit(ctx, &key, "linsert", |l| {
        l.insert(at + after as usize, &v);
        l.len()
    });
    ctx.propagate_self();
    ctx.out.int(n as i64);
}

pub fn lrem(ctx: &mut Ctx) {
    let Some(count) = index_arg(ctx, 2) else {
        return;
    };
    let key = ctx.args[1].clone();
    match probe(ctx, &key, false) {
        Err(_) => return,
        Ok(false) => return ctx.out.int(0),
        Ok(true) => {}
    }
    let v = ctx.args[3].clone();
    let limit = usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX);
    let db = ctx.sess.db;
    let any = list(ctx.st, db, &key).iter().any(|x| x == &v[..]);
    if !any {
        return ctx.out.int(0);
    }
    let n = edit(ctx, &key, "lrem", |l| {
        l.remove_matching(&v, limit, count < 0)
    });
    ctx.propagate_self();
    ctx.out.int(n as i64);
}

pub fn ltrim(ctx: &mut Ctx) {
    let (Some(start), Some(end)) = (
        crate::util::parse_i64_strict(&ctx.args[2]),
        crate::util::parse_i64_strict(&ctx.args[3]),
    ) else {
        return ctx.error(NOT_INTEGER);
    };
    let key = ctx.args[1].clone();
    match probe(ctx, &key, false) {
        Err(_) => return,
        Ok(false) => return ctx.out.ok(),
        Ok(true) => {}
    }
    let len = list(ctx.st, ctx.sess.db, &key).len();
    match range(start, end, len) {
        None => {
            let db = ctx.sess.db;
            ctx.st.ks.db_mut(db).delete(&key);
            ctx.modified(&key);
            ctx.notify(class::LIST, "ltrim", &key);
            ctx.notify(class::GENERIC, "del", &key);
            ctx.propagate_self();
        }
        Some((s, e)) if s > 0 || e + 1 < len => {
            edit(ctx, &key, "ltrim", |l| l.trim(s, e));
            ctx.propagate_self();
        }
        Some(_) => {
            // Nothing to trim: Redis still counts the key as modified (a WATCH on it
            // fails) and publishes the event, but nothing changed to log.
            let db = ctx.sess.db;
            ctx.st.signal_modified(db, &key);
            ctx.notify(class::LIST, "ltrim", &key);
        }
    }
    ctx.out.ok();
}

// ---- moves ---------------------------------------------------------------------------

/// LMOVE's core once the source is known to hold a list and the destination to hold a
/// list or nothing: move one element, reply with it, log `LMOVE`.
fn do_move(ctx: &mut Ctx, src: &Bytes, dst: &Bytes, from_left: bool, to_left: bool) {
    let v = if src == dst {
        // A rotation: the list never goes empty, so the key (and its TTL) stays.
        let v = edit(ctx, src, push_event(to_left), |l| {
            let v = if from_left {
                l.pop_front()
            } else {
                l.pop_back()
            }
            .expect("non-empty");
            if to_left {
                l.push_front(&v)
            } else {
                l.push_back(&v)
            }
            v
        });
        ctx.notify(class::LIST, pop_event(from_left), src);
        v
    } else {
        // Redis publishes the push before the pop (and the source's `del`).
        let emptied = list(ctx.st, ctx.sess.db, src).len() == 1;
        let v = edit(ctx, src, "", |l| {
            if from_left {
                l.pop_front()
            } else {
                l.pop_back()
            }
            .expect("lists are never empty")
        });
        push_one(ctx, dst, &v, to_left);
        ctx.notify(class::LIST, pop_event(from_left), src);
        if emptied {
            ctx.notify(class::GENERIC, "del", src);
        }
        v
    };
    ctx.propagate(vec![
        Bytes::from_static(b"LMOVE"),
        src.clone(),
        dst.clone(),
        side_name(from_left),
        side_name(to_left),
    ]);
    ctx.out.bulk(&v);
}

/// Check LMOVE's keys. Ok(true): ready to move; Ok(false): the source is empty;
/// Err: WRONGTYPE was replied.
fn move_ready(ctx: &mut Ctx, src: &[u8], dst: &[u8]) -> Result<bool, super::Replied> {
    if !probe(ctx, src, false)? {
        return Ok(false);
    }
    probe(ctx, dst, false)?;
    Ok(true)
}

fn lmove_generic(ctx: &mut Ctx, from_left: bool, to_left: bool) {
    let (src, dst) = (ctx.args[1].clone(), ctx.args[2].clone());
    match move_ready(ctx, &src, &dst) {
        Err(_) => {}
        Ok(false) => ctx.out.null(),
        Ok(true) => do_move(ctx, &src, &dst, from_left, to_left),
    }
}

pub fn lmove(ctx: &mut Ctx) {
    let (Some(from), Some(to)) = (side_arg(&ctx.args[3]), side_arg(&ctx.args[4])) else {
        return ctx.error(SYNTAX);
    };
    lmove_generic(ctx, from, to);
}

pub fn rpoplpush(ctx: &mut Ctx) {
    lmove_generic(ctx, false, true);
}

/// Pop up to `count` from the first non-empty list among `keys` (see
/// [`Ctx::first_holding`]); reply `[key, [elements]]`, log `LPOP/RPOP key n`. Returns
/// false when every key is empty (nothing replied), None after WRONGTYPE.
fn mpop_from(ctx: &mut Ctx, keys: &[Bytes], left: bool, count: usize) -> Option<bool> {
    let Some(key) = ctx.first_holding(keys, Kind::List).ok()? else {
        return Some(false);
    };
    let vs = pop_many(ctx, &key, left, count);
    propagate_pop(ctx, &key, left, Some(vs.len()));
    ctx.out.array_len(2);
    ctx.out.bulk(&key);
    ctx.out.array_len(vs.len());
    for v in &vs {
        ctx.out.bulk(v);
    }
    Some(true)
}

pub fn lmpop(ctx: &mut Ctx) {
    let Some((keys, left, count)) = super::mpop_args(ctx, 1, side_arg) else {
        return;
    };
    if mpop_from(ctx, &keys, left, count) == Some(false) {
        ctx.out.null_array();
    }
}

// ---- blocking ------------------------------------------------------------------------

fn bpop(ctx: &mut Ctx, front: bool) {
    let n = ctx.args.len();
    let Some(timeout) = blocking::timeout_arg(ctx, n - 1) else {
        return;
    };
    let keys = ctx.args[1..n - 1].to_vec();
    match ctx.first_holding(&keys, Kind::List) {
        Err(_) => return,
        Ok(Some(key)) => {
            let v = pop_one(ctx, &key, front);
            propagate_pop(ctx, &key, front, None);
            ctx.out.array_len(2);
            ctx.out.bulk(&key);
            ctx.out.bulk(&v);
            return;
        }
        Ok(None) => {}
    }
    if !ctx.block(&keys, Kind::List, timeout) {
        ctx.out.null_array();
    }
}

pub fn blpop(ctx: &mut Ctx) {
    bpop(ctx, true);
}

pub fn brpop(ctx: &mut Ctx) {
    bpop(ctx, false);
}

fn bmove(ctx: &mut Ctx, from_left: bool, to_left: bool, timeout_at: usize) {
    let Some(timeout) = blocking::timeout_arg(ctx, timeout_at) else {
        return;
    };
    let (src, dst) = (ctx.args[1].clone(), ctx.args[2].clone());
    match move_ready(ctx, &src, &dst) {
        Err(_) => {}
        Ok(true) => do_move(ctx, &src, &dst, from_left, to_left),
        Ok(false) => {
            if !ctx.block(&[src], Kind::List, timeout) {
                ctx.out.null();
            }
        }
    }
}

pub fn blmove(ctx: &mut Ctx) {
    let (Some(from), Some(to)) = (side_arg(&ctx.args[3]), side_arg(&ctx.args[4])) else {
        return ctx.error(SYNTAX);
    };
    bmove(ctx, from, to, 5);
}

pub fn brpoplpush(ctx: &mut Ctx) {
    bmove(ctx, false, true, 3);
}

pub fn blmpop(ctx: &mut Ctx) {
    let Some(timeout) = blocking::timeout_arg(ctx, 1) else {
        return;
    };
    let Some((keys, left, count)) = super::mpop_args(ctx, 2, side_arg) else {
        return;
    };
    if mpop_from(ctx, &keys, left, count) == Some(false) && !ctx.block(&keys, Kind::List, timeout) {
        ctx.out.null_array();
    }
}

#[cfg(test)]
mod tests {
    use super::range;

    #[test]
    fn ranges_like_redis() {
        assert_eq!(range(0, -1, 5), Some((0, 4)));
        assert_eq!(range(-100, 100, 5), Some((0, 4)));
        assert_eq!(range(3, 1, 5), None);
        assert_eq!(range(5, 10, 5), None);
        assert_eq!(range(-2, -1, 5), Some((3, 4)));
        assert_eq!(range(0, -6, 5), None);
        assert_eq!(range(0, 0, 0), None);
    }
}
