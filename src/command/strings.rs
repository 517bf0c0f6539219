//! String commands: GET/SET and friends, counters, ranges.

use std::borrow::Cow;

use bytes::Bytes;

use super::{Ctx, NOT_FLOAT, NOT_INTEGER, OVERFLOW, SYNTAX, WRONGTYPE};
use crate::keyspace::{Entry, Kind, Value};

/// The bytes of a string value (ints are rendered in decimal); None for other types.
pub fn value_bytes(v: &Value) -> Option<Cow<'_, [u8]>> {
    v.as_string()
}

/// Reply with a string value (callers have checked the type).
fn reply_value(ctx: &mut Ctx, v: &Value) {
    match v {
        Value::Str(s) => ctx.out.bulk(s),
        Value::Int(i) => ctx.out.bulk_int(*i),
        _ => ctx.out.error(WRONGTYPE),
    }
}

/// Take a string value out of `v` as bytes (for in-place growth); `v` is left as Int(0)
/// until the caller stores the result. Callers have checked the type.
fn take_bytes(v: &mut Value) -> Vec<u8> {
    match std::mem::replace(v, Value::Int(0)) {
        Value::Str(s) => s,
        other => other
            .as_string()
            .map(|c| c.into_owned())
            .unwrap_or_default(),
    }
}

/// Reply with the string at `key`, nil if absent. Returns false (after replying
/// WRONGTYPE) if the key holds another type.
fn reply_string_or_nil(ctx: &mut Ctx, key: &[u8]) -> bool {
    let db = ctx.sess.db;
    ctx.expire_if_needed(key);
    let Some(e) = ctx.st.ks.db(db).get(key) else {
        ctx.st.stats.keyspace_misses += 1;
        ctx.out.null();
        return true;
    };
    ctx.st.stats.keyspace_hits += 1;
    match &e.value {
        Value::Str(s) => ctx.out.bulk(s),
        Value::Int(i) => ctx.out.bulk_int(*i),
        _ => {
            ctx.out.error(WRONGTYPE);
            return false;
        }
    }
    true
}

pub fn get(ctx: &mut Ctx) {
    let args = ctx.args;
    reply_string_or_nil(ctx, &args[1]);
}

/// Expiry options shared by SET and GETEX.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expiry {
    None,
    /// Absolute Unix ms.
    At(u64),
    KeepTtl,
    Persist,
}

/// Turn `value` given with unit `unit_ms` (1000 for seconds) and `absolute` into an absolute
/// Unix ms time, or None if Redis would call it an invalid expire time.
fn expire_time(now: u64, value: i64, unit_ms: i64, absolute: bool) -> Option<u64> {
    if value <= 0 {
        return None;
    }
    let ms = value.checked_mul(unit_ms)?;
    let at = if absolute {
        ms
    } else {
        ms.checked_add(now as i64)?
    };
    Some(at as u64)
}

/// Redis accepts an expire option repeated (the last value wins) but not mixed with another.
fn same_expire_opt(seen: &Option<(Vec<u8>, usize)>, opt: &[u8]) -> bool {
    seen.as_ref().is_none_or(|(o, _)| o == opt)
}

/// The absolute time given by expire option `opt` (EX/PX/EXAT/PXAT) whose value is
/// argument `i`. Checked only once the whole option list parsed, as Redis does, so a
/// syntax error wins over a bad number. Replies with the error and returns None if invalid.
fn expire_arg(ctx: &mut Ctx, opt: &[u8], i: usize, cmd: &str) -> Option<u64> {
    let n = ctx.int_arg(i)?;
    let unit = if opt[0] == b'E' { 1000 } else { 1 };
    let at = expire_time(ctx.now, n, unit, opt.len() == 4);
    if at.is_none() {
        ctx.error(&format!("ERR invalid expire time in '{cmd}' command"));
    }
    at
}

/// Store a string value at `key`, replacing whatever was there.
fn store(ctx: &mut Ctx, key: &[u8], value: &[u8], expiry: Expiry) {
    let db = ctx.sess.db;
    let expire = match expiry {
        Expiry::At(t) => Some(t),
        Expiry::KeepTtl => None,
        Expiry::None | Expiry::Persist => Some(0),
    };
    ctx.st
        .ks
        .db_mut(db)
        .upsert(key, Value::from_bytes(value), expire);
    ctx.modified(key);
}

/// After storing with an absolute expiry already in the past: Redis deletes the key at
/// once and logs a DEL instead of the SET.
fn expired_on_arrival(ctx: &Ctx, expiry: Expiry) -> bool {
    matches!(expiry, Expiry::At(t) if t <= ctx.now) && !ctx.st.replaying
}

fn delete_and_log(ctx: &mut Ctx, key: &[u8]) {
    let db = ctx.sess.db;
    if ctx.st.ks.db_mut(db).delete(key) {
        ctx.modified(key);
        ctx.propagate(vec![
            Bytes::from_static(b"DEL"),
            Bytes::copy_from_slice(key),
        ]);
    }
}

/// Log `SET key value` with the expiry made absolute.
fn propagate_set(ctx: &mut Ctx, key: &Bytes, value: &Bytes, expiry: Expiry) {
    if !ctx.st.logging {
        return;
    }
    let mut args = vec![Bytes::from_static(b"SET"), key.clone(), value.clone()];
    match expiry {
        Expiry::At(t) => {
            args.push(Bytes::from_static(b"PXAT"));
            args.push(Bytes::from(t.to_string()));
        }
        Expiry::KeepTtl => args.push(Bytes::from_static(b"KEEPTTL")),
        Expiry::None | Expiry::Persist => {}
    }
    ctx.propagate(args);
}

pub fn set(ctx: &mut Ctx) {
    let (mut nx, mut xx, mut get) = (false, false, false);
    let mut expiry = Expiry::None;
    let mut expire_opt: Option<(Vec<u8>, usize)> = None;
    let mut i = 3;
    while i < ctx.args.len() {
        let opt = ctx.args[i].to_ascii_uppercase();
        let has_next = i + 1 < ctx.args.len();
        match opt.as_slice() {
            b"NX" if !xx => nx = true,
            b"XX" if !nx => xx = true,
            b"GET" => get = true,
            b"KEEPTTL" if expire_opt.is_none() => expiry = Expiry::KeepTtl,
            b"EX" | b"PX" | b"EXAT" | b"PXAT"
                if expiry == Expiry::None && same_expire_opt(&expire_opt, &opt) && has_next =>
            {
                expire_opt = Some((opt, i + 1));
                i += 1;
            }
            _ => return ctx.error(SYNTAX),
        }
        i += 1;
    }
    if let Some((opt, i)) = &expire_opt {
        match expire_arg(ctx, opt, *i, "set") {
            Some(t) => expiry = Expiry::At(t),
            None => return,
        }
    }
    let args = ctx.args;
    let (key, value) = (&args[1], &args[2]);
    if !(nx || xx || get) && expire_opt.is_none() {
        // Plain SET: one probe. An expired old value is simply overwritten, so it needs no
        // lookup (and no DEL in the log) first.
        let db = ctx.sess.db;
        ctx.st.observe(db, key);
        let expire = if expiry == Expiry::KeepTtl {
            None
        } else {
            Some(0)
        };
        ctx.st
            .ks
            .db_mut(db)
            .upsert(key, Value::from_bytes(value), expire);
        ctx.modified(key);
        if args.len() == 3 {
            ctx.propagate_self();
        } else {
            propagate_set(ctx, key, value, expiry);
        }
        return ctx.out.ok();
    }
    let (exists, old) = match ctx.lookup(key) {
        None => (false, None),
        Some(_) if !get => (true, None),
        Some(e) if e.value.kind() != Kind::String => return ctx.error(WRONGTYPE),
        Some(e) => (true, Some(e.value.clone())),
    };
    if get {
        match old {
            Some(v) => reply_value(ctx, &v),
            None => ctx.out.null(),
        }
    }
    if (nx && exists) || (xx && !exists) {
        if !get {
            ctx.out.null();
        }
        return;
    }
    store(ctx, key, value, expiry);
    if expired_on_arrival(ctx, expiry) {
        delete_and_log(ctx, key);
    } else {
        propagate_set(ctx, key, value, expiry);
    }
    if !get {
        ctx.out.ok();
    }
}

pub fn setnx(ctx: &mut Ctx) {
    let key = ctx.args[1].clone();
    if ctx.exists(&key) {
        return ctx.out.int(0);
    }
    let value = ctx.args[2].clone();
    store(ctx, &key, &value, Expiry::None);
    propagate_set(ctx, &key, &value, Expiry::None);
    ctx.out.int(1);
}

fn setex_generic(ctx: &mut Ctx, unit: i64, name: &str) {
    let Some(n) = ctx.int_arg(2) else { return };
    let Some(at) = expire_time(ctx.now, n, unit, false) else {
        return ctx.error(&format!("ERR invalid expire time in '{name}' command"));
    };
    let key = ctx.args[1].clone();
    let value = ctx.args[3].clone();
    store(ctx, &key, &value, Expiry::At(at));
    propagate_set(ctx, &key, &value, Expiry::At(at));
    ctx.out.ok();
}

pub fn setex(ctx: &mut Ctx) {
    setex_generic(ctx, 1000, "setex");
}

pub fn psetex(ctx: &mut Ctx) {
    setex_generic(ctx, 1, "psetex");
}

pub fn getset(ctx: &mut Ctx) {
    let key = ctx.args[1].clone();
    if ctx.kind_of(&key).is_some_and(|k| k != Kind::String) {
        return ctx.error(WRONGTYPE);
    }
    reply_string_or_nil(ctx, &key);
    let value = ctx.args[2].clone();
    store(ctx, &key, &value, Expiry::None);
    propagate_set(ctx, &key, &value, Expiry::None);
}

pub fn getdel(ctx: &mut Ctx) {
    let key = ctx.args[1].clone();
    if ctx.kind_of(&key).is_some_and(|k| k != Kind::String) {
        return ctx.error(WRONGTYPE);
    }
    reply_string_or_nil(ctx, &key);
    delete_and_log(ctx, &key);
}

pub fn getex(ctx: &mut Ctx) {
    let mut expiry = Expiry::None;
    let mut expire_opt: Option<(Vec<u8>, usize)> = None;
    let mut i = 2;
    while i < ctx.args.len() {
        let opt = ctx.args[i].to_ascii_uppercase();
        match opt.as_slice() {
            b"PERSIST" if expire_opt.is_none() => expiry = Expiry::Persist,
            b"EX" | b"PX" | b"EXAT" | b"PXAT"
                if expiry == Expiry::None
                    && same_expire_opt(&expire_opt, &opt)
                    && i + 1 < ctx.args.len() =>
            {
                expire_opt = Some((opt, i + 1));
                i += 1;
            }
            _ => return ctx.error(SYNTAX),
        }
        i += 1;
    }
    let key = ctx.args[1].clone();
    if ctx.kind_of(&key).is_some_and(|k| k != Kind::String) {
        return ctx.error(WRONGTYPE);
    }
    // As in Redis, the time is validated only when the key exists (a missing key is nil).
    if let Some((opt, i)) = &expire_opt {
        if ctx.exists(&key) {
            match expire_arg(ctx, opt, *i, "getex") {
                Some(t) => expiry = Expiry::At(t),
                None => return,
            }
        }
    }
    reply_string_or_nil(ctx, &key);
    let db = ctx.sess.db;
    if ctx.st.ks.db(db).get(&key).is_none() {
        return;
    }
    match expiry {
        Expiry::At(_) if expired_on_arrival(ctx, expiry) => delete_and_log(ctx, &key),
        Expiry::At(t) => {
            ctx.st.ks.db_mut(db).set_expire(&key, t);
            ctx.modified(&key);
            ctx.propagate(vec![
                Bytes::from_static(b"PEXPIREAT"),
                key.clone(),
                Bytes::from(t.to_string()),
            ]);
        }
        Expiry::Persist => {
            if ctx.st.ks.db(db).get(&key).is_some_and(|e| e.expire_at != 0) {
                ctx.st.ks.db_mut(db).set_expire(&key, 0);
                ctx.modified(&key);
                ctx.propagate(vec![Bytes::from_static(b"PERSIST"), key.clone()]);
            }
        }
        Expiry::None | Expiry::KeepTtl => {}
    }
}

pub fn mget(ctx: &mut Ctx) {
    let n = ctx.args.len() - 1;
    ctx.out.array_len(n);
    for i in 1..=n {
        let key = ctx.args[i].clone();
        let db = ctx.sess.db;
        ctx.expire_if_needed(&key);
        match ctx.st.ks.db(db).get(&key).map(|e| &e.value) {
            Some(Value::Str(s)) => ctx.out.bulk(s),
            Some(Value::Int(v)) => ctx.out.bulk_int(*v),
            _ => ctx.out.null(),
        }
    }
}

pub fn mset(ctx: &mut Ctx) {
    if ctx.args.len().is_multiple_of(2) {
        return ctx.wrong_args();
    }
    for i in (1..ctx.args.len()).step_by(2) {
        let (k, v) = (ctx.args[i].clone(), ctx.args[i + 1].clone());
        store(ctx, &k, &v, Expiry::None);
    }
    ctx.propagate_self();
    ctx.out.ok();
}

pub fn msetnx(ctx: &mut Ctx) {
    if ctx.args.len().is_multiple_of(2) {
        return ctx.wrong_args();
    }
    for i in (1..ctx.args.len()).step_by(2) {
        let k = ctx.args[i].clone();
        if ctx.exists(&k) {
            return ctx.out.int(0);
        }
    }
    mset_quiet(ctx);
    ctx.out.int(1);
}

fn mset_quiet(ctx: &mut Ctx) {
    for i in (1..ctx.args.len()).step_by(2) {
        let (k, v) = (ctx.args[i].clone(), ctx.args[i + 1].clone());
        store(ctx, &k, &v, Expiry::None);
    }
    let mut args = ctx.args.to_vec();
    args[0] = Bytes::from_static(b"MSET");
    ctx.propagate(args);
}

/// Redis's cap on string growth: `proto-max-bulk-len`.
fn check_size(ctx: &mut Ctx, total: u64) -> bool {
    if total > ctx.st.config.proto_max_bulk_len {
        ctx.error("ERR string exceeds maximum allowed size (proto-max-bulk-len)");
        return false;
    }
    true
}

pub fn append(ctx: &mut Ctx) {
    let key = ctx.args[1].clone();
    let add = ctx.args[2].clone();
    let db = ctx.sess.db;
    let cur_len = match ctx.lookup(&key) {
        Some(e) => match value_bytes(&e.value) {
            Some(b) => Some(b.len()),
            None => return ctx.error(WRONGTYPE),
        },
        None => None,
    };
    let new_len = match cur_len {
        None => {
            store(ctx, &key, &add, Expiry::None);
            add.len()
        }
        Some(len) => {
            if !check_size(ctx, (len + add.len()) as u64) {
                return;
            }
            ctx.st.ks.db_mut(db).update(&key, |v| {
                let mut bytes = take_bytes(v);
                bytes.extend_from_slice(&add);
                let n = bytes.len();
                *v = Value::Str(bytes);
                n
            });
            ctx.modified(&key);
            len + add.len()
        }
    };
    ctx.propagate_self();
    ctx.out.int(new_len as i64);
}

pub fn strlen(ctx: &mut Ctx) {
    let key = ctx.args[1].clone();
    let n = match ctx.lookup(&key).map(|e| &e.value) {
        None => 0,
        Some(Value::Str(s)) => s.len(),
        Some(Value::Int(i)) => itoa::Buffer::new().format(*i).len(),
        Some(_) => return ctx.error(WRONGTYPE),
    };
    ctx.out.int(n as i64);
}

pub fn getrange(ctx: &mut Ctx) {
    let (Some(mut start), Some(mut end)) = (
        crate::util::parse_i64_strict(&ctx.args[2]),
        crate::util::parse_i64_strict(&ctx.args[3]),
    ) else {
        return ctx.error(NOT_INTEGER);
    };
    let key = ctx.args[1].clone();
    let Some(e) = ctx.lookup(&key) else {
        return ctx.out.bulk(b"");
    };
    let Some(s) = value_bytes(&e.value).map(|c| c.into_owned()) else {
        return ctx.error(WRONGTYPE);
    };
    let len = s.len() as i64;
    if start < 0 && end < 0 && start > end {
        return ctx.out.bulk(b"");
    }
    if start < 0 {
        start += len;
    }
    if end < 0 {
        end += len;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= len {
        end = len - 1;
    }
    if len == 0 || start > end {
        return ctx.out.bulk(b"");
    }
    ctx.out.bulk(&s[start as usize..=end as usize]);
}

pub fn setrange(ctx: &mut Ctx) {
    let Some(offset) = ctx.int_arg(2) else { return };
    if offset < 0 {
        return ctx.error("ERR offset is out of range");
    }
    let key = ctx.args[1].clone();
    let patch = ctx.args[3].clone();
    let db = ctx.sess.db;
    let cur = match ctx.lookup(&key) {
        Some(e) => match value_bytes(&e.value) {
            Some(b) => Some(b.len()),
            None => return ctx.error(WRONGTYPE),
        },
        None => None,
    };
    if patch.is_empty() {
        return ctx.out.int(cur.unwrap_or(0) as i64);
    }
    let offset = offset as u64;
    if !check_size(ctx, offset + patch.len() as u64) {
        return;
    }
    let offset = offset as usize;
    if cur.is_none() {
        store(ctx, &key, b"", Expiry::None);
    }
    let n = ctx
        .st
        .ks
        .db_mut(db)
        .update(&key, |v| {
            let mut bytes = take_bytes(v);
            if bytes.len() < offset + patch.len() {
                bytes.resize(offset + patch.len(), 0);
            }
            bytes[offset..offset + patch.len()].copy_from_slice(&patch);
            let n = bytes.len();
            *v = Value::Str(bytes);
            n
        })
        .unwrap_or(0);
    ctx.modified(&key);
    ctx.propagate_self();
    ctx.out.int(n as i64);
}

/// INCR and friends: add `by` to the integer at `key` (0 if absent), keeping its TTL.
fn incr_by(ctx: &mut Ctx, by: i64) {
    let key = ctx.args[1].clone();
    ctx.expire_if_needed(&key);
    let table = ctx.st.ks.db_mut(ctx.sess.db);
    // One probe for the common case, an int-encoded counter changed in place. A number
    // held as a string changes encoding through `update`, which keeps memory accounting.
    // (During a snapshot, `get_mut` copies a held entry first, even for a WRONGTYPE
    // reply: the one copy any write to that entry would make.)
    let cur = match table.get_mut(&key).map(|e| &mut e.value) {
        None => None,
        Some(Value::Int(i)) => {
            let Some(new) = i.checked_add(by) else {
                return ctx.error(OVERFLOW);
            };
            *i = new;
            return incr_done(ctx, &key, new);
        }
        Some(Value::Str(s)) => match crate::util::parse_i64_strict(s) {
            Some(i) => Some(i),
            None => return ctx.error(NOT_INTEGER),
        },
        Some(_) => return ctx.error(WRONGTYPE),
    };
    let Some(new) = cur.unwrap_or(0).checked_add(by) else {
        return ctx.error(OVERFLOW);
    };
    let table = ctx.st.ks.db_mut(ctx.sess.db);
    if cur.is_some() {
        table.update(&key, |v| *v = Value::Int(new));
    } else {
        table.insert(Entry {
            key: key.as_ref().into(),
            value: Value::Int(new),
            expire_at: 0,
        });
    }
    incr_done(ctx, &key, new);
}

fn incr_done(ctx: &mut Ctx, key: &[u8], new: i64) {
    ctx.modified(key);
    ctx.propagate_self();
    ctx.out.int(new);
}

pub fn incr(ctx: &mut Ctx) {
    incr_by(ctx, 1);
}

pub fn decr(ctx: &mut Ctx) {
    incr_by(ctx, -1);
}

pub fn incrby(ctx: &mut Ctx) {
    let Some(by) = ctx.int_arg(2) else { return };
    incr_by(ctx, by);
}

pub fn decrby(ctx: &mut Ctx) {
    let Some(by) = ctx.int_arg(2) else { return };
    let Some(neg) = by.checked_neg() else {
        return ctx.error("ERR decrement would overflow");
    };
    incr_by(ctx, neg);
}

pub fn incrbyfloat(ctx: &mut Ctx) {
    let Some(by) = crate::util::parse_f64(&ctx.args[2]) else {
        return ctx.error(NOT_FLOAT);
    };
    let key = ctx.args[1].clone();
    let cur = match ctx.lookup(&key).map(|e| &e.value) {
        None => 0.0,
        Some(Value::Int(i)) => *i as f64,
        Some(Value::Str(s)) => match crate::util::parse_f64(s) {
            Some(f) => f,
            None => return ctx.error(NOT_FLOAT),
        },
        Some(_) => return ctx.error(WRONGTYPE),
    };
    let new = cur + by;
    if !new.is_finite() {
        return ctx.error("ERR increment would produce NaN or Infinity");
    }
    let text = Bytes::from(format_human_float(new));
    store(ctx, &key, &text, Expiry::KeepTtl);
    // Logged as its result so replay does not depend on float arithmetic.
    propagate_set(ctx, &key, &text, Expiry::KeepTtl);
    ctx.out.bulk(&text);
}

/// INCRBYFLOAT's output: plain decimal, no exponent, shortest form that round-trips.
fn format_human_float(f: f64) -> String {
    let s = format!("{f}");
    if s == "-0" {
        "0".into()
    } else {
        s
    }
}
