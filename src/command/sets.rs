//! Set commands: membership, random picks and pops, moves, the algebra (SINTER, SUNION,
//! SDIFF and their STORE forms, SINTERCARD) and SSCAN.
//!
//! Deterministic writes log themselves. SPOP logs the members it actually removed as
//! `SREM key m...` (or `DEL key` when it took them all); SRANDMEMBER is a read. A set that
//! becomes empty is deleted, as in Redis.

use super::notify::class;
use bytes::Bytes;
use rand::{Rng, SeedableRng};

use super::{Ctx, State, NOT_INTEGER, SYNTAX, WRONGTYPE};
use crate::keyspace::{Kind, Set, Value};
use crate::util::glob_match;

// ---- helpers -------------------------------------------------------------------------

/// Look `key` up as a set (see [`Ctx::probe`]).
fn probe(ctx: &mut Ctx, key: &[u8], read: bool) -> Result<bool, super::Replied> {
    ctx.probe(key, Kind::Set, read)
}

/// The set at `key` in `db`, if there is one (callers have checked the type).
fn get<'a>(st: &'a State, db: usize, key: &[u8]) -> Option<&'a Set> {
    super::typed(st, db, key)
}

/// See [`super::edit_typed`]; `event` is a set event.
fn edit<R>(
    ctx: &mut Ctx,
    key: &[u8],
    event: &'static str,
    f: impl FnOnce(&mut Set) -> (R, bool),
) -> R {
    super::edit_typed(ctx, key, (class::SET, event), f)
}

/// See [`super::store_typed`].
fn store(ctx: &mut Ctx, key: &[u8], s: Set) -> bool {
    super::store_typed(ctx, key, s)
}

fn bytes_args(items: &[Vec<u8>]) -> impl Iterator<Item = Bytes> + '_ {
    items.iter().map(|m| Bytes::copy_from_slice(m))
}

// ---- single-set commands -------------------------------------------------------------

pub fn sadd(ctx: &mut Ctx) {
    let key = ctx.args[1].clone();
    let Ok(exists) = probe(ctx, &key, false) else {
        return;
    };
    let members = &ctx.args[2..];
    let added = if exists {
        let members = members.to_vec();
        edit(ctx, &key, "sadd", |s| {
            let n = members.iter().filter(|m| s.insert(m)).count();
            (n, n > 0)
        })
    } else {
        let mut s = Set::for_member(&members[0], members.len());
        let n = members.iter().filter(|m| s.insert(m)).count();
        store(ctx, &key, s);
        ctx.notify(class::SET, "sadd", &key);
        n
    };
    if added > 0 {
        ctx.propagate_self();
    }
    ctx.out.int(added as i64);
}

pub fn srem(ctx: &mut Ctx) {
    let key = ctx.args[1].clone();
    match probe(ctx, &key, false) {
        Err(_) => return,
        Ok(false) => return ctx.out.int(0),
        Ok(true) => {}
    }
    let members = ctx.args[2..].to_vec();
    let removed = edit(ctx, &key, "srem", |s| {
        let n = members.iter().filter(|m| s.remove(m)).count();
        (n, n > 0)
    });
    if removed > 0 {
        ctx.propagate_self();
    }
    ctx.out.int(removed as i64);
}

pub fn scard(ctx: &mut Ctx) {
    let key = ctx.args[1].clone();
    if probe(ctx, &key, true).is_err() {
        return;
    }
    let n = get(ctx.st, ctx.sess.db, &key).map_or(0, |s| s.len());
    ctx.out.int(n as i64);
}

pub fn sismember(ctx: &mut Ctx) {
    let key = ctx.args[1].clone();
    if probe(ctx, &key, true).is_err() {
        return;
    }
    let yes = get(ctx.st, ctx.sess.db, &key).is_some_and(|s| s.contains(&ctx.args[2]));
    ctx.out.int(yes as i64);
}

pub fn smismember(ctx: &mut Ctx) {
    let key = ctx.args[1].clone();
    if probe(ctx, &key, true).is_err() {
        return;
    }
    let s = get(ctx.st, ctx.sess.db, &key);
    ctx.out.array_len(ctx.args.len() - 2);
    for m in &ctx.args[2..] {
        ctx.out.int(s.is_some_and(|s| s.contains(m)) as i64);
    }
}

pub fn smembers(ctx: &mut Ctx) {
    let key = ctx.args[1].clone();
    if probe(ctx, &key, true).is_err() {
        return;
    }
    match get(ctx.st, ctx.sess.db, &key) {
        None => ctx.out.set_len(0),
        Some(s) => {
            ctx.out.set_len(s.len());
            for m in s.iter() {
                ctx.out.bulk(m);
            }
        }
    }
}

pub fn spop(ctx: &mut Ctx) {
    if ctx.args.len() > 3 {
        return ctx.error(SYNTAX);
    }
    let count = if ctx.args.len() == 3 {
        match crate::util::parse_i64_strict(&ctx.args[2]).filter(|n| *n >= 0) {
            Some(n) => Some(n as u64),
            None => return ctx.error("ERR value is out of range, must be positive"),
        }
    } else {
        None
    };
    let key = ctx.args[1].clone();
    match probe(ctx, &key, false) {
        Err(_) => return,
        Ok(false) if count.is_some() => return ctx.out.set_len(0),
        Ok(false) => return ctx.out.null(),
        Ok(true) => {}
    }
    let len = get(ctx.st, ctx.sess.db, &key).map_or(0, |s| s.len()) as u64;
    let Some(count) = count else {
        let i = ctx.st.rng.gen_range(0..len as usize);
        let m = edit(ctx, &key, "spop", |s| (s.take(i), true));
        ctx.propagate(vec![
            Bytes::from_static(b"SREM"),
            key.clone(),
            Bytes::from(m.clone()),
        ]);
        return ctx.out.bulk(&m);
    };
    if count == 0 {
        return ctx.out.set_len(0);
    }
    if count >= len {
        // Everything goes: reply with the whole set and delete the key.
        let db = ctx.sess.db;
        let e = ctx.st.ks.db_mut(db).remove(&key).expect("checked above");
        ctx.modified(&key);
        ctx.notify(class::SET, "spop", &key);
        ctx.notify(class::GENERIC, "del", &key);
        ctx.propagate(vec![Bytes::from_static(b"DEL"), key.clone()]);
        let Value::Set(s) = e.value else {
            unreachable!("checked above")
        };
        ctx.out.set_len(s.len());
        for m in s.iter() {
            ctx.out.bulk(m);
        }
        return;
    }
    let mut rng = rand::rngs::SmallRng::from_rng(&mut ctx.st.rng).expect("rng");
    let popped: Vec<Vec<u8>> = edit(ctx, &key, "spop", |s| {
        let v = (0..count)
            .map(|_| {
                let i = rng.gen_range(0..s.len());
                s.take(i)
            })
            .collect();
        (v, true)
    });
    let mut args = Vec::with_capacity(popped.len() + 2);
    args.push(Bytes::from_static(b"SREM"));
    args.push(key.clone());
    args.extend(bytes_args(&popped));
    ctx.propagate(args);
    ctx.out.set_len(popped.len());
    for m in &popped {
        ctx.out.bulk(m);
    }
}

pub fn srandmember(ctx: &mut Ctx) {
    if ctx.args.len() > 3 {
        return ctx.error(SYNTAX);
    }
    let count = if ctx.args.len() == 3 {
        match crate::util::parse_i64_strict(&ctx.args[2]) {
            None => return ctx.error(NOT_INTEGER),
            Some(i64::MIN) => {
                return ctx.error(
                    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
                )
            }
            Some(n) => Some(n),
        }
    } else {
        None
    };
    let key = ctx.args[1].clone();
    match probe(ctx, &key, true) {
        Err(_) => return,
        Ok(false) if count.is_some() => return ctx.out.array_len(0),
        Ok(false) => return ctx.out.null(),
        Ok(true) => {}
    }
    let db = ctx.sess.db;
    let st = &mut *ctx.st;
    let s = match st.ks.db(db).peek(&key).map(|e| &e.value) {
        Some(Value::Set(s)) => s,
        _ => unreachable!("checked above"),
    };
    let rng = &mut st.rng;
    let out = &mut *ctx.out;
    let len = s.len();
    match count {
        None => out.bulk(s.get(rng.gen_range(0..len))),
        Some(0) => out.array_len(0),
        Some(n) if n < 0 => {
            let n = n.unsigned_abs() as usize;
            out.array_len(n);
            for _ in 0..n {
                out.bulk(s.get(rng.gen_range(0..len)));
            }
        }
        Some(n) if n as usize >= len => {
            out.array_len(len);
            for m in s.iter() {
                out.bulk(m);
            }
        }
        Some(n) => {
            let picks = rand::seq::index::sample(rng, len, n as usize);
            out.array_len(picks.len());
            for i in picks.iter() {
                out.bulk(s.get(i));
            }
        }
    }
}

pub fn smove(ctx: &mut Ctx) {
    let (src, dst, m) = (
        ctx.args[1].clone(),
        ctx.args[2].clone(),
        ctx.args[3].clone(),
    );
    ctx.expire_if_needed(&src);
    ctx.expire_if_needed(&dst);
    let db = ctx.sess.db;
    let kind = |st: &State, k: &[u8]| st.ks.db(db).get(k).map(|e| e.value.kind());
    let src_kind = kind(ctx.st, &src);
    if src_kind.is_none() {
        return ctx.out.int(0);
    }
    let dst_kind = kind(ctx.st, &dst);
    if src_kind != Some(Kind::Set) || dst_kind.is_some_and(|k| k != Kind::Set) {
        return ctx.error(WRONGTYPE);
    }
    if src == dst {
        let yes = get(ctx.st, db, &src).is_some_and(|s| s.contains(&m));
        return ctx.out.int(yes as i64);
    }
    let removed = edit(ctx, &src, "srem", |s| {
        let r = s.remove(&m);
        (r, r)
    });
    if !removed {
        return ctx.out.int(0);
    }
    if dst_kind.is_some() {
        edit(ctx, &dst, "sadd", |s| ((), s.insert(&m)));
    } else {
        let mut s = Set::for_member(&m, 1);
        s.insert(&m);
        store(ctx, &dst, s);
        ctx.notify(class::SET, "sadd", &dst);
    }
    ctx.modified(&dst);
    ctx.propagate_self();
    ctx.out.int(1);
}

// ---- algebra -------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Inter,
    Union,
    Diff,
}

impl Op {
    /// The event SINTERSTORE / SUNIONSTORE / SDIFFSTORE publish.
    fn store_event(self) -> &'static str {
        match self {
            Op::Inter => "sinterstore",
            Op::Union => "sunionstore",
            Op::Diff => "sdiffstore",
        }
    }
}

/// Look up the sets at `keys` (None for a missing key). Replies WRONGTYPE and returns
/// None if any key holds another type.
fn gather(ctx: &mut Ctx, keys: &[Bytes]) -> Option<()> {
    // In order, stopping at the first key of another type (as Redis, whose lookups of
    // the later keys would count misses and publish `keymiss`).
    for k in keys {
        if ctx
            .lookup_read(k)
            .is_some_and(|e| e.value.kind() != Kind::Set)
        {
            ctx.error(WRONGTYPE);
            return None;
        }
    }
    Some(())
}

/// The members of the result of `op` over the sets at `keys` (all checked to be sets or
/// missing), stopping after `limit` members (0 = no limit).
fn compute<'a>(st: &'a State, db: usize, keys: &[Bytes], op: Op, limit: usize) -> Vec<&'a [u8]> {
    let sets: Vec<Option<&Set>> = keys.iter().map(|k| get(st, db, k)).collect();
    let mut out: Vec<&[u8]> = Vec::new();
    let full = |out: &Vec<&[u8]>| limit != 0 && out.len() >= limit;
    match op {
        Op::Inter => {
            if sets.iter().any(|s| s.is_none()) {
                return out;
            }
            let mut sets: Vec<&Set> = sets.into_iter().flatten().collect();
            sets.sort_by_key(|s| s.len());
            for m in sets[0].iter() {
                if sets[1..].iter().all(|s| s.contains(m)) {
                    out.push(m);
                    if full(&out) {
                        break;
                    }
                }
            }
        }
        Op::Union => {
            let mut seen: std::collections::HashSet<&[u8]> = std::collections::HashSet::new();
            for s in sets.into_iter().flatten() {
                for m in s.iter() {
                    if seen.insert(m) {
                        out.push(m);
                    }
                }
            }
        }
        Op::Diff => {
            let Some(first) = sets[0] else {
                return out;
            };
            for m in first.iter() {
                if !sets[1..].iter().flatten().any(|s| s.contains(m)) {
                    out.push(m);
                }
            }
        }
    }
    out
}

fn algebra(ctx: &mut Ctx, op: Op) {
    let keys = ctx.args[1..].to_vec();
    if gather(ctx, &keys).is_none() {
        return;
    }
    let db = ctx.sess.db;
    let members = compute(ctx.st, db, &keys, op, 0);
    ctx.out.set_len(members.len());
    for m in members {
        ctx.out.bulk(m);
    }
}

fn algebra_store(ctx: &mut Ctx, op: Op) {
    let dst = ctx.args[1].clone();
    let keys = ctx.args[2..].to_vec();
    if gather(ctx, &keys).is_none() {
        return;
    }
    let db = ctx.sess.db;
    let members = compute(ctx.st, db, &keys, op, 0);
    let n = members.len();
    let mut s = match members.first() {
        Some(first) => Set::for_member(first, n),
        None => Set::new(),
    };
    for m in members {
        s.insert(m);
    }
    super::store_result(ctx, &dst, s, (class::SET, op.store_event()));
    ctx.out.int(n as i64);
}

pub fn sinter(ctx: &mut Ctx) {
    algebra(ctx, Op::Inter);
}

pub fn sunion(ctx: &mut Ctx) {
    algebra(ctx, Op::Union);
}

pub fn sdiff(ctx: &mut Ctx) {
    algebra(ctx, Op::Diff);
}

pub fn sinterstore(ctx: &mut Ctx) {
    algebra_store(ctx, Op::Inter);
}

pub fn sunionstore(ctx: &mut Ctx) {
    algebra_store(ctx, Op::Union);
}

pub fn sdiffstore(ctx: &mut Ctx) {
    algebra_store(ctx, Op::Diff);
}

pub fn sintercard(ctx: &mut Ctx) {
    let numkeys = match crate::util::parse_i64_strict(&ctx.args[1]) {
        Some(n) if n >= 1 => n as usize,
        _ => return ctx.error("ERR numkeys should be greater than 0"),
    };
    if numkeys > ctx.args.len() - 2 {
        return ctx.error("ERR Number of keys can't be greater than number of args");
    }
    let Some(limit) = super::card_limit(ctx, 2 + numkeys) else {
        return;
    };
    let keys = ctx.args[2..2 + numkeys].to_vec();
    if gather(ctx, &keys).is_none() {
        return;
    }
    let n = compute(ctx.st, ctx.sess.db, &keys, Op::Inter, limit).len();
    ctx.out.int(n as i64);
}

// ---- SSCAN ---------------------------------------------------------------------------

/// Options of SSCAN/HSCAN/ZSCAN after the cursor: (pattern, count), or None after
/// replying with the error.
pub(super) fn scan_options(ctx: &mut Ctx, from: usize) -> Option<(Option<Bytes>, usize)> {
    let mut pattern = None;
    let mut count = 10usize;
    let mut i = from;
    while i < ctx.args.len() {
        let more = i + 1 < ctx.args.len();
        if ctx.args[i].eq_ignore_ascii_case(b"count") && more {
            let n = ctx.int_arg(i + 1)?;
            if n < 1 {
                ctx.error(SYNTAX);
                return None;
            }
            count = n as usize;
        } else if ctx.args[i].eq_ignore_ascii_case(b"match") && more {
            let p = ctx.args[i + 1].clone();
            pattern = (p.as_ref() != b"*").then_some(p);
        } else {
            ctx.error(SYNTAX);
            return None;
        }
        i += 2;
    }
    Some((pattern, count))
}

pub fn sscan(ctx: &mut Ctx) {
    let Some(cursor) = super::keys::parse_cursor(&ctx.args[2]) else {
        return ctx.error("ERR invalid cursor");
    };
    let key = ctx.args[1].clone();
    match probe(ctx, &key, true) {
        Err(_) => return,
        Ok(false) => {
            ctx.out.array_len(2);
            ctx.out.bulk(b"0");
            return ctx.out.array_len(0);
        }
        Ok(true) => {}
    }
    let Some((pattern, count)) = scan_options(ctx, 3) else {
        return;
    };
    let s = get(ctx.st, ctx.sess.db, &key).expect("checked above");
    let mut found: Vec<&[u8]> = Vec::new();
    let next = s.scan(cursor, count, |m| {
        if pattern.as_ref().is_none_or(|p| glob_match(p, m, false)) {
            found.push(m);
        }
    });
    ctx.out.array_len(2);
    ctx.out.bulk(next.to_string().as_bytes());
    ctx.out.array_len(found.len());
    for m in found {
        ctx.out.bulk(m);
    }
}
