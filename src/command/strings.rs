//! String commands: GET/SET and friends, counters, ranges.

use std::borrow::Cow;

use bytes::Bytes;

use super::ldouble::LongDouble;
use super::notify::class;
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
pub(crate) fn take_bytes(v: &mut Value) -> Vec<u8> {
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
    let expired = ctx.expire_if_needed(key);
    let Some(e) = ctx.st.ks.db(db).get(key).filter(|_| !expired) else {
        ctx.st.stats.keyspace_misses += 1;
        ctx.out.null();
        ctx.notify(class::KEY_MISS, "keymiss", key);
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

/// Store a string value at `key`, replacing whatever was there (the caller looked the
/// key up, so an expired one is gone). Publishes `new` if the key was created.
fn store(ctx: &mut Ctx, key: &[u8], value: &[u8], expiry: Expiry) {
    let db = ctx.sess.db;
    let expire = match expiry {
        Expiry::At(t) => Some(t),
        Expiry::KeepTtl => None,
        Expiry::None | Expiry::Persist => Some(0),
    };
    let existed = ctx
        .st
        .ks
        .db_mut(db)
        .upsert(key, Value::from_bytes(value), expire);
    ctx.modified(key);
    if !existed {
        ctx.notify(class::NEW, "new", key);
    }
}

/// The events of a SET-like store: `set`, then `expire` if it set a TTL.
fn notify_set(ctx: &mut Ctx, key: &[u8], expiry: Expiry) {
    ctx.notify(class::STRING, "set", key);
    if matches!(expiry, Expiry::At(_)) {
        ctx.notify(class::GENERIC, "expire", key);
    }
}

/// After storing with an absolute expiry already in the past: Redis deletes the key at
/// once and logs a DEL instead of the SET.
fn expired_on_arrival(ctx: &Ctx, expiry: Expiry) -> bool {
    matches!(expiry, Expiry::At(t) if t <= ctx.now) && !ctx.st.replaying
}

/// Delete `key` (publishing `event` of `class`) and log a DEL.
fn delete_and_log(ctx: &mut Ctx, key: &[u8], class: u32, event: &str) {
    let db = ctx.sess.db;
    if ctx.st.ks.db_mut(db).delete(key) {
        ctx.modified(key);
        ctx.notify(class, event, key);
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
    if !(nx || xx || get) && expire_opt.is_none() && ctx.st.config.notify_keyspace_events == 0 {
        // Plain SET: one probe. An expired old value is simply overwritten, so it needs no
        // lookup (and no DEL in the log) first. (With keyspace notifications on, the
        // general way below publishes `expired` and `new` as Redis does.)
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
    // GET reads the old value as GET does (a miss counts and publishes `keymiss`).
    let found = if get {
        ctx.lookup_read(key)
    } else {
        ctx.lookup(key)
    };
    let (exists, old) = match found {
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
    notify_set(ctx, key, expiry);
    if expired_on_arrival(ctx, expiry) {
        // Redis 7.0 keeps such a key until it is next looked at; Strata removes it now.
        delete_and_log(ctx, key, class::EXPIRED, "expired");
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
    notify_set(ctx, &key, Expiry::None);
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
    ctx.expire_if_needed(&key);
    store(ctx, &key, &value, Expiry::At(at));
    notify_set(ctx, &key, Expiry::At(at));
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
    notify_set(ctx, &key, Expiry::None);
    propagate_set(ctx, &key, &value, Expiry::None);
}

pub fn getdel(ctx: &mut Ctx) {
    let key = ctx.args[1].clone();
    if ctx.kind_of(&key).is_some_and(|k| k != Kind::String) {
        return ctx.error(WRONGTYPE);
    }
    reply_string_or_nil(ctx, &key);
    delete_and_log(ctx, &key, class::GENERIC, "del");
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
    if ctx.st.ks.db(db).peek(&key).is_none() {
        return;
    }
    match expiry {
        Expiry::At(_) if expired_on_arrival(ctx, expiry) => {
            delete_and_log(ctx, &key, class::GENERIC, "del")
        }
        Expiry::At(t) => {
            ctx.st.ks.db_mut(db).set_expire(&key, t);
            ctx.modified(&key);
            ctx.notify(class::GENERIC, "expire", &key);
            ctx.propagate(vec![
                Bytes::from_static(b"PEXPIREAT"),
                key.clone(),
                Bytes::from(t.to_string()),
            ]);
        }
        Expiry::Persist => {
            if ctx
                .st
                .ks
                .db(db)
                .peek(&key)
                .is_some_and(|e| e.expire_at() != 0)
            {
                ctx.st.ks.db_mut(db).set_expire(&key, 0);
                ctx.modified(&key);
                ctx.notify(class::GENERIC, "persist", &key);
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
        let expired = ctx.expire_if_needed(&key);
        match ctx
            .st
            .ks
            .db(db)
            .get(&key)
            .filter(|_| !expired)
            .map(|e| &e.value)
        {
            Some(Value::Str(s)) => ctx.out.bulk(s),
            Some(Value::Int(v)) => ctx.out.bulk_int(*v),
            Some(_) => ctx.out.null(),
            None => {
                ctx.out.null();
                ctx.notify(class::KEY_MISS, "keymiss", &key);
            }
        }
    }
}

pub fn mset(ctx: &mut Ctx) {
    if ctx.args.len().is_multiple_of(2) {
        return ctx.wrong_args();
    }
    for i in (1..ctx.args.len()).step_by(2) {
        let (k, v) = (ctx.args[i].clone(), ctx.args[i + 1].clone());
        ctx.expire_if_needed(&k);
        store(ctx, &k, &v, Expiry::None);
        notify_set(ctx, &k, Expiry::None);
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
        notify_set(ctx, &k, Expiry::None);
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
    ctx.notify(class::STRING, "append", &key);
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
    ctx.notify(class::STRING, "setrange", &key);
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
        table.insert(Entry::new(key.as_ref().into(), Value::Int(new), 0));
        ctx.notify(class::NEW, "new", &key);
    }
    incr_done(ctx, &key, new);
}

fn incr_done(ctx: &mut Ctx, key: &[u8], new: i64) {
    ctx.modified(key);
    ctx.notify(class::STRING, "incrby", key);
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
    let key = ctx.args[1].clone();
    // Redis's order of checks: the key's type, its value, then the increment. The sum is
    // computed in x87 long double and printed as Redis does (see `ldouble`), so replies
    // match digit for digit (0.1 + 0.2 is 0.3, not 0.30000000000000004).
    // Not an access yet: storing the result records it (one per command, as Redis).
    let cur = match ctx.lookup_notouch(&key).map(|e| &e.value) {
        None => LongDouble::ZERO,
        Some(Value::Int(i)) => LongDouble::parse(i.to_string().as_bytes())
            .expect("an i64's decimal text is a valid long double"),
        Some(Value::Str(s)) => match LongDouble::parse(s) {
            Some(f) => f,
            None => return ctx.error(NOT_FLOAT),
        },
        Some(_) => return ctx.error(WRONGTYPE),
    };
    let Some(by) = LongDouble::parse(&ctx.args[2]) else {
        return ctx.error(NOT_FLOAT);
    };
    let new = cur.add(by);
    if !new.is_finite() {
        return ctx.error("ERR increment would produce NaN or Infinity");
    }
    let text = Bytes::from(new.to_human());
    store(ctx, &key, &text, Expiry::KeepTtl);
    ctx.notify(class::STRING, "incrbyfloat", &key);
    // Logged as its result so replay does not depend on float arithmetic.
    propagate_set(ctx, &key, &text, Expiry::KeepTtl);
    ctx.out.bulk(&text);
}

/// LCS's dynamic-programming table is `(len1 + 1) * (len2 + 1)` cells of 4 bytes; past
/// this many cells (1 GiB) the command is refused, as Redis refuses when its allocation
/// fails, instead of letting one command take the server's memory.
const LCS_MAX_CELLS: u64 = 1 << 28;

/// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN n] [WITHMATCHLEN]: the longest common
/// subsequence of two strings (missing keys are empty strings), its length, or the
/// matching ranges, walked from the end as Redis does.
pub fn lcs(ctx: &mut Ctx) {
    // Both keys are looked up before either's type is checked, as in Redis.
    let mut texts = Vec::with_capacity(2);
    for i in 1..3 {
        let key = ctx.args[i].clone();
        texts.push(
            ctx.lookup_read(&key)
                .map(|e| e.value.as_string().map(|s| s.into_owned())),
        );
    }
    if texts.iter().any(|t| matches!(t, Some(None))) {
        return ctx.error("ERR The specified keys must contain string values");
    }
    let texts: Vec<Vec<u8>> = texts
        .into_iter()
        .map(|t| t.flatten().unwrap_or_default())
        .collect();
    let (mut getlen, mut getidx, mut withmatchlen, mut minmatchlen) = (false, false, false, 0);
    let mut j = 3;
    while j < ctx.args.len() {
        let more = ctx.args.len() - 1 - j;
        match ctx.args[j].to_ascii_uppercase().as_slice() {
            b"IDX" => getidx = true,
            b"LEN" => getlen = true,
            b"WITHMATCHLEN" => withmatchlen = true,
            b"MINMATCHLEN" if more > 0 => {
                let Some(n) = ctx.int_arg(j + 1) else { return };
                minmatchlen = n.max(0) as u64;
                j += 1;
            }
            _ => return ctx.error(SYNTAX),
        }
        j += 1;
    }
    if getidx && getlen {
        return ctx.error("ERR If you want both the length and indexes, please just use IDX.");
    }
    let (a, b) = (&texts[0], &texts[1]);
    let (alen, blen) = (a.len(), b.len());
    let cells = (alen as u64 + 1) * (blen as u64 + 1);
    let mut dp: Vec<u32> = Vec::new();
    if cells > LCS_MAX_CELLS || dp.try_reserve_exact(cells as usize).is_err() {
        return ctx.error("ERR Insufficient memory, failed allocating transient memory for LCS");
    }
    // dp[i * (blen + 1) + j]: LCS length of a[..i] and b[..j].
    dp.resize(cells as usize, 0);
    let w = blen + 1;
    for i in 1..=alen {
        for j in 1..=blen {
            dp[i * w + j] = if a[i - 1] == b[j - 1] {
                dp[(i - 1) * w + j - 1] + 1
            } else {
                dp[(i - 1) * w + j].max(dp[i * w + j - 1])
            };
        }
    }
    let total = dp[alen * w + blen];
    if getlen {
        return ctx.out.int(total as i64);
    }
    // Walk back from the end, collecting the LCS and the ranges of contiguous matches
    // (a_start, a_end, b_start, b_end), last range first.
    let mut result = vec![0u8; total as usize];
    let mut ranges: Vec<(usize, usize, usize, usize)> = Vec::new();
    let mut cur: Option<(usize, usize, usize, usize)> = None;
    let (mut i, mut j, mut idx) = (alen, blen, total as usize);
    while i > 0 && j > 0 {
        let mut emit = false;
        if a[i - 1] == b[j - 1] {
            result[idx - 1] = a[i - 1];
            cur = match cur {
                None => Some((i - 1, i - 1, j - 1, j - 1)),
                Some((s, e, bs, be)) if s == i && bs == j => Some((s - 1, e, bs - 1, be)),
                Some(r) => {
                    emit = true;
                    Some(r)
                }
            };
            if let Some((s, _, bs, _)) = cur {
                if s == 0 || bs == 0 {
                    emit = true;
                }
            }
            idx -= 1;
            i -= 1;
            j -= 1;
        } else {
            if dp[(i - 1) * w + j] > dp[i * w + j - 1] {
                i -= 1;
            } else {
                j -= 1;
            }
            emit = cur.is_some();
        }
        if emit {
            if let Some(r) = cur.take() {
                if minmatchlen == 0 || (r.1 - r.0 + 1) as u64 >= minmatchlen {
                    ranges.push(r);
                }
            }
        }
    }
    if !getidx {
        return ctx.out.bulk(&result);
    }
    let out = &mut *ctx.out;
    out.map_len(2);
    out.bulk(b"matches");
    out.array_len(ranges.len());
    for (s, e, bs, be) in ranges {
        out.array_len(2 + withmatchlen as usize);
        out.array_len(2);
        out.int(s as i64);
        out.int(e as i64);
        out.array_len(2);
        out.int(bs as i64);
        out.int(be as i64);
        if withmatchlen {
            out.int((e - s + 1) as i64);
        }
    }
    out.bulk(b"len");
    out.int(total as i64);
}
