//! Hash commands: field reads and writes, counters, whole-hash reads, random fields and
//! HSCAN.
//!
//! HINCRBYFLOAT computes in x87 extended precision as Redis does (see [`super::ldouble`])
//! and is logged as `HSET key field result`, so replay does not redo float arithmetic.
//! HRANDFIELD is read-only. A hash whose last field is deleted is deleted.

use super::notify::class;
use bytes::Bytes;
use rand::Rng;

use super::ldouble::LongDouble;
use super::{Ctx, State, NOT_FLOAT, NOT_INTEGER, OVERFLOW, SYNTAX};
use crate::keyspace::{Hash, Kind, Value};
use crate::util::glob_match;

/// Look `key` up as a hash (see [`Ctx::probe`]).
fn probe(ctx: &mut Ctx, key: &[u8], read: bool) -> Result<bool, super::Replied> {
    ctx.probe(key, Kind::Hash, read)
}

/// The hash at `key` in `db`, which the caller has checked exists.
fn hash<'a>(st: &'a State, db: usize, key: &[u8]) -> &'a Hash {
    super::typed(st, db, key).expect("caller checked the key holds a hash")
}

/// Change the hash at `key` with `f`, creating it if absent (the caller has checked the
/// type); deletes the key if it ends empty. Signals the change and publishes `event`
/// (after `new` for a key created); the caller logs it.
fn edit<R>(ctx: &mut Ctx, key: &[u8], event: &'static str, f: impl FnOnce(&mut Hash) -> R) -> R {
    if ctx.st.ks.db(ctx.sess.db).peek(key).is_some() {
        return super::edit_typed(ctx, key, (class::HASH, event), |h| (f(h), true));
    }
    let mut h = Hash::new();
    let r = f(&mut h);
    if super::store_typed(ctx, key, h) {
        ctx.notify(class::HASH, event, key);
    } else {
        ctx.modified(key);
    }
    r
}

// ---- writes --------------------------------------------------------------------------

fn set_pairs(ctx: &mut Ctx) -> Option<usize> {
    if !ctx.args.len().is_multiple_of(2) {
        ctx.wrong_args();
        return None;
    }
    let key = ctx.args[1].clone();
    probe(ctx, &key, false).ok()?;
    let args = ctx.args;
    let added = edit(ctx, &key, "hset", |h| {
        args[2..]
            .chunks(2)
            .filter(|p| h.insert(&p[0], &p[1]))
            .count()
    });
    ctx.propagate_self();
    Some(added)
}

pub fn hset(ctx: &mut Ctx) {
    if let Some(n) = set_pairs(ctx) {
        ctx.out.int(n as i64);
    }
}

pub fn hmset(ctx: &mut Ctx) {
    if set_pairs(ctx).is_some() {
        ctx.out.ok();
    }
}

pub fn hsetnx(ctx: &mut Ctx) {
    let key = ctx.args[1].clone();
    let Ok(exists) = probe(ctx, &key, false) else {
        return;
    };
    let field = ctx.args[2].clone();
    if exists && hash(ctx.st, ctx.sess.db, &key).contains(&field) {
        return ctx.out.int(0);
    }
    let value = ctx.args[3].clone();
    edit(ctx, &key, "hset", |h| h.insert(&field, &value));
    ctx.propagate_self();
    ctx.out.int(1);
}

pub fn hdel(ctx: &mut Ctx) {
    let key = ctx.args[1].clone();
    match probe(ctx, &key, false) {
        Err(_) => return,
        Ok(false) => return ctx.out.int(0),
        Ok(true) => {}
    }
    let db = ctx.sess.db;
    let h = hash(ctx.st, db, &key);
    if !ctx.args[2..].iter().any(|f| h.contains(f)) {
        return ctx.out.int(0);
    }
    let args = ctx.args;
    let n = edit(ctx, &key, "hdel", |h| {
        args[2..].iter().filter(|f| h.remove(f)).count()
    });
    ctx.propagate_self();
    ctx.out.int(n as i64);
}

pub fn hincrby(ctx: &mut Ctx) {
    let Some(by) = ctx.int_arg(3) else { return };
    let key = ctx.args[1].clone();
    let Ok(exists) = probe(ctx, &key, false) else {
        return;
    };
    let field = ctx.args[2].clone();
    let cur = if exists {
        match hash(ctx.st, ctx.sess.db, &key).get(&field) {
            None => 0,
            Some(v) => match crate::util::parse_i64_strict(v) {
                Some(i) => i,
                None => return ctx.error("ERR hash value is not an integer"),
            },
        }
    } else {
        0
    };
    let Some(new) = cur.checked_add(by) else {
        return ctx.error(OVERFLOW);
    };
    let text = itoa::Buffer::new().format(new).as_bytes().to_vec();
    edit(ctx, &key, "hincrby", |h| h.insert(&field, &text));
    ctx.propagate_self();
    ctx.out.int(new);
}

pub fn hincrbyfloat(ctx: &mut Ctx) {
    let Some(by) = LongDouble::parse(&ctx.args[3]) else {
        return ctx.error(NOT_FLOAT);
    };
    if !by.is_finite() {
        return ctx.error("ERR value is NaN or Infinity");
    }
    let key = ctx.args[1].clone();
    let Ok(exists) = probe(ctx, &key, false) else {
        return;
    };
    let field = ctx.args[2].clone();
    let cur = if exists {
        match hash(ctx.st, ctx.sess.db, &key).get(&field) {
            None => LongDouble::ZERO,
            Some(v) => match LongDouble::parse(v) {
                Some(f) => f,
                None => return ctx.error("ERR hash value is not a float"),
            },
        }
    } else {
        LongDouble::ZERO
    };
    let new = cur.add(by);
    if !new.is_finite() {
        return ctx.error("ERR increment would produce NaN or Infinity");
    }
    let text = Bytes::from(new.to_human());
    edit(ctx, &key, "hincrbyfloat", |h| h.insert(&field, &text));
    // Logged as its result: replay must not depend on float arithmetic.
    ctx.propagate(vec![Bytes::from_static(b"HSET"), key, field, text.clone()]);
    ctx.out.bulk(&text);
}

// ---- reads ---------------------------------------------------------------------------

pub fn hget(ctx: &mut Ctx) {
    let key = ctx.args[1].clone();
    match probe(ctx, &key, true) {
        Err(_) => {}
        Ok(false) => ctx.out.null(),
        Ok(true) => match hash(ctx.st, ctx.sess.db, &key).get(&ctx.args[2]) {
            Some(v) => ctx.out.bulk(v),
            None => ctx.out.null(),
        },
    }
}

pub fn hmget(ctx: &mut Ctx) {
    let key = ctx.args[1].clone();
    let Ok(exists) = probe(ctx, &key, true) else {
        return;
    };
    let n = ctx.args.len() - 2;
    ctx.out.array_len(n);
    let h = exists.then(|| hash(ctx.st, ctx.sess.db, &key));
    for f in &ctx.args[2..] {
        match h.and_then(|h| h.get(f)) {
            Some(v) => ctx.out.bulk(v),
            None => ctx.out.null(),
        }
    }
}

pub fn hlen(ctx: &mut Ctx) {
    let key = ctx.args[1].clone();
    match probe(ctx, &key, true) {
        Err(_) => {}
        Ok(false) => ctx.out.int(0),
        Ok(true) => {
            let n = hash(ctx.st, ctx.sess.db, &key).len();
            ctx.out.int(n as i64)
        }
    }
}

pub fn hstrlen(ctx: &mut Ctx) {
    let key = ctx.args[1].clone();
    match probe(ctx, &key, true) {
        Err(_) => {}
        Ok(false) => ctx.out.int(0),
        Ok(true) => {
            let n = hash(ctx.st, ctx.sess.db, &key)
                .get(&ctx.args[2])
                .map_or(0, |v| v.len());
            ctx.out.int(n as i64)
        }
    }
}

pub fn hexists(ctx: &mut Ctx) {
    let key = ctx.args[1].clone();
    match probe(ctx, &key, true) {
        Err(_) => {}
        Ok(false) => ctx.out.int(0),
        Ok(true) => {
            let yes = hash(ctx.st, ctx.sess.db, &key).contains(&ctx.args[2]);
            ctx.out.int(yes as i64)
        }
    }
}

/// HKEYS, HVALS, HGETALL.
fn getall(ctx: &mut Ctx, fields: bool, values: bool) {
    let key = ctx.args[1].clone();
    let exists = match probe(ctx, &key, true) {
        Err(_) => return,
        Ok(x) => x,
    };
    let both = fields && values;
    if !exists {
        return if both {
            ctx.out.map_len(0)
        } else {
            ctx.out.array_len(0)
        };
    }
    let h = hash(ctx.st, ctx.sess.db, &key);
    if both {
        ctx.out.map_len(h.len());
    } else {
        ctx.out.array_len(h.len());
    }
    for (f, v) in h.iter() {
        if fields {
            ctx.out.bulk(f);
        }
        if values {
            ctx.out.bulk(v);
        }
    }
}

pub fn hkeys(ctx: &mut Ctx) {
    getall(ctx, true, false);
}

pub fn hvals(ctx: &mut Ctx) {
    getall(ctx, false, true);
}

pub fn hgetall(ctx: &mut Ctx) {
    getall(ctx, true, true);
}

pub fn hrandfield(ctx: &mut Ctx) {
    let key = ctx.args[1].clone();
    if ctx.args.len() == 2 {
        match probe(ctx, &key, true) {
            Err(_) => {}
            Ok(false) => ctx.out.null(),
            Ok(true) => {
                let db = ctx.sess.db;
                let st = &mut *ctx.st;
                let h = match st.ks.db(db).peek(&key).map(|e| &e.value) {
                    Some(Value::Hash(h)) => h,
                    _ => unreachable!("checked above"),
                };
                match h.random(&mut st.rng) {
                    Some((f, _)) => ctx.out.bulk(f),
                    None => ctx.out.null(),
                }
            }
        }
        return;
    }
    let l = match crate::util::parse_i64_strict(&ctx.args[2]) {
        None => return ctx.error(NOT_INTEGER),
        Some(i64::MIN) => {
            return ctx.error(
                "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
            )
        }
        Some(l) => l,
    };
    let withvalues = match ctx.args.len() {
        3 => false,
        4 if ctx.args[3].eq_ignore_ascii_case(b"withvalues") => true,
        _ => return ctx.error(SYNTAX),
    };
    let count = l.unsigned_abs();
    if withvalues && l < 0 && count > (i64::MAX / 2) as u64 {
        return ctx.error("ERR value is out of range");
    }
    match probe(ctx, &key, true) {
        Err(_) => return,
        Ok(false) => return ctx.out.array_len(0),
        Ok(true) => {}
    }
    if count == 0 {
        return ctx.out.array_len(0);
    }
    let db = ctx.sess.db;
    let resp3 = ctx.out.resp3();
    let st = &mut *ctx.st;
    let h = match st.ks.db(db).peek(&key).map(|e| &e.value) {
        Some(Value::Hash(h)) => h,
        _ => unreachable!("checked above"),
    };
    let rng = &mut st.rng;
    let out = &mut *ctx.out;
    let pair = |out: &mut crate::protocol::ReplyBuf, f: &[u8], v: &[u8]| {
        if withvalues && resp3 {
            out.array_len(2);
        }
        out.bulk(f);
        if withvalues {
            out.bulk(v);
        }
    };
    let reply_len = |out: &mut crate::protocol::ReplyBuf, n: usize| {
        if withvalues && !resp3 {
            out.array_len(2 * n);
        } else {
            out.array_len(n);
        }
    };
    let size = h.len();
    if l < 0 {
        // Repetitions allowed: `count` independent picks.
        let n = count as usize;
        reply_len(out, n);
        for _ in 0..n {
            let (f, v) = h.random(rng).expect("non-empty hash");
            pair(out, f, v);
        }
    } else if count as usize >= size {
        reply_len(out, size);
        for (f, v) in h.iter() {
            pair(out, f, v);
        }
    } else {
        let n = count as usize;
        // Distinct fields: sample positions without replacement (Floyd's algorithm),
        // then emit them in iteration order.
        let mut picked = std::collections::HashSet::with_capacity(n);
        for j in size - n..size {
            let t = rng.gen_range(0..=j);
            if !picked.insert(t) {
                picked.insert(j);
            }
        }
        reply_len(out, n);
        for (i, (f, v)) in h.iter().enumerate() {
            if picked.contains(&i) {
                pair(out, f, v);
            }
        }
    }
}

pub fn hscan(ctx: &mut Ctx) {
    let Some(cursor) = parse_cursor(&ctx.args[2]) else {
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
    let mut pattern: Option<Bytes> = None;
    let mut count = 10usize;
    let mut i = 3;
    while i < ctx.args.len() {
        if i + 1 >= ctx.args.len() {
            return ctx.error(SYNTAX);
        }
        match ctx.args[i].to_ascii_uppercase().as_slice() {
            b"MATCH" => pattern = Some(ctx.args[i + 1].clone()),
            b"COUNT" => {
                let Some(n) = ctx.int_arg(i + 1) else { return };
                if n < 1 {
                    return ctx.error(SYNTAX);
                }
                count = n as usize;
            }
            _ => return ctx.error(SYNTAX),
        }
        i += 2;
    }
    // As Redis, a pattern "*" matches everything without being evaluated.
    let pattern = pattern.filter(|p| p.as_ref() != b"*");
    let h = hash(ctx.st, ctx.sess.db, &key);
    let mut found: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let next = h.scan(cursor, count, &mut |f, v| {
        if pattern.as_ref().is_none_or(|p| glob_match(p, f, false)) {
            found.push((f.to_vec(), v.to_vec()));
        }
    });
    ctx.out.array_len(2);
    ctx.out.bulk(next.to_string().as_bytes());
    ctx.out.array_len(found.len() * 2);
    for (f, v) in &found {
        ctx.out.bulk(f);
        ctx.out.bulk(v);
    }
}

/// A SCAN cursor as Redis reads it with strtoul: an optional sign then digits, where a
/// negative number wraps around.
fn parse_cursor(s: &[u8]) -> Option<u64> {
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let v: u64 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some(if neg { v.wrapping_neg() } else { v })
}
