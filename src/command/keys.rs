//! Generic key commands: deletion, existence, renaming, iteration and expiry.

use bytes::Bytes;

use super::notify::class;
use super::{Ctx, NOT_INTEGER, SYNTAX};
use crate::keyspace::{lazyfree, Entry, Kind};
use crate::util::glob_match;

pub fn del(ctx: &mut Ctx) {
    let lazy = ctx.st.config.lazyfree_lazy_user_del;
    delete_keys(ctx, lazy);
}

/// DEL whose big values are freed off the event loop ([`crate::keyspace::lazyfree`]).
pub fn unlink(ctx: &mut Ctx) {
    delete_keys(ctx, true);
}

fn delete_keys(ctx: &mut Ctx, lazy: bool) {
    let db = ctx.sess.db;
    let mut n = 0;
    for i in 1..ctx.args.len() {
        let key = ctx.args[i].clone();
        ctx.expire_if_needed(&key);
        if ctx
            .st
            .ks
            .db_mut(db)
            .delete_with(&key, lazyfree::dropper(lazy))
        {
            ctx.modified(&key);
            ctx.notify(class::GENERIC, "del", &key);
            n += 1;
        }
    }
    if n > 0 {
        let mut args = ctx.args.to_vec();
        args[0] = Bytes::from_static(b"DEL");
        ctx.propagate(args);
    }
    ctx.out.int(n);
}

pub fn exists(ctx: &mut Ctx) {
    count_existing(ctx, false);
}

/// EXISTS that records an access to each key.
pub fn touch(ctx: &mut Ctx) {
    count_existing(ctx, true);
}

fn count_existing(ctx: &mut Ctx, touch: bool) {
    let mut n = 0;
    for i in 1..ctx.args.len() {
        let key = ctx.args[i].clone();
        let found = if touch {
            ctx.lookup(&key).is_some()
        } else {
            ctx.lookup_notouch(&key).is_some()
        };
        n += found as i64;
    }
    ctx.out.int(n);
}

pub fn type_(ctx: &mut Ctx) {
    let key = ctx.args[1].clone();
    let name = ctx
        .lookup_notouch(&key)
        .map_or("none", |e| e.value.kind().name());
    ctx.out.simple(name);
}

fn rename_generic(ctx: &mut Ctx, nx: bool) {
    let (src, dst) = (ctx.args[1].clone(), ctx.args[2].clone());
    let db = ctx.sess.db;
    if !ctx.exists(&src) {
        return ctx.error("ERR no such key");
    }
    if src == dst {
        return if nx { ctx.out.int(0) } else { ctx.out.ok() };
    }
    if nx && ctx.exists(&dst) {
        return ctx.out.int(0);
    }
    let table = ctx.st.ks.db_mut(db);
    let mut e = table.remove(&src).expect("checked above");
    e.key = dst.as_ref().into();
    table.insert_moved(e);
    ctx.modified(&src);
    ctx.modified(&dst);
    ctx.notify(class::NEW, "new", &dst);
    ctx.notify(class::GENERIC, "rename_from", &src);
    ctx.notify(class::GENERIC, "rename_to", &dst);
    ctx.propagate_self();
    if nx {
        ctx.out.int(1)
    } else {
        ctx.out.ok()
    }
}

pub fn rename(ctx: &mut Ctx) {
    rename_generic(ctx, false);
}

pub fn renamenx(ctx: &mut Ctx) {
    rename_generic(ctx, true);
}

pub fn keys(ctx: &mut Ctx) {
    ctx.st.observe_all();
    let pattern = ctx.args[1].clone();
    let now = ctx.now;
    let replaying = ctx.st.replaying;
    let all = pattern.as_ref() == b"*";
    let matched: Vec<Box<[u8]>> = ctx
        .st
        .ks
        .db(ctx.sess.db)
        .iter()
        .filter(|e| replaying || e.expire_at() == 0 || e.expire_at() > now)
        .filter(|e| all || glob_match(&pattern, &e.key, false))
        .map(|e| Box::<[u8]>::from(&*e.key))
        .collect();
    ctx.out.array_len(matched.len());
    for k in matched {
        ctx.out.bulk(&k);
    }
}

pub fn scan(ctx: &mut Ctx) {
    ctx.st.observe_all();
    let Some(cursor) = parse_cursor(&ctx.args[1]) else {
        return ctx.error("ERR invalid cursor");
    };
    let mut pattern: Option<Bytes> = None;
    let mut count = 10usize;
    let mut kind: Option<Option<Kind>> = None;
    let mut i = 2;
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
            // An unknown type matches nothing, as in Redis.
            b"TYPE" => kind = Some(Kind::parse(&ctx.args[i + 1])),
            _ => return ctx.error(SYNTAX),
        }
        i += 2;
    }
    let now = ctx.now;
    let mut found: Vec<Box<[u8]>> = Vec::new();
    let next = ctx.st.ks.db(ctx.sess.db).scan(cursor, count, |e| {
        if e.expire_at() != 0 && e.expire_at() <= now {
            return;
        }
        if let Some(p) = &pattern {
            if !glob_match(p, &e.key, false) {
                return;
            }
        }
        if let Some(k) = kind {
            if k != Some(e.value.kind()) {
                return;
            }
        }
        found.push(Box::from(&*e.key));
    });
    ctx.out.array_len(2);
    ctx.out.bulk(next.to_string().as_bytes());
    ctx.out.array_len(found.len());
    for k in found {
        ctx.out.bulk(&k);
    }
}

/// A SCAN cursor as Redis reads it with strtoul: an optional sign then digits, where a
/// negative number wraps around ("-1" is the largest cursor).
pub(super) fn parse_cursor(s: &[u8]) -> Option<u64> {
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

pub fn randomkey(ctx: &mut Ctx) {
    ctx.st.observe_all();
    let db = ctx.sess.db;
    for _ in 0..100 {
        let key = match ctx.st.ks.db(db).random(&mut ctx.st.rng) {
            Some(e) => e.key.clone(),
            None => return ctx.out.null(),
        };
        if !ctx.expire_if_needed(&key) {
            return ctx.out.bulk(&key);
        }
    }
    ctx.out.null();
}

/// Parse a database index argument, replying with Redis's errors.
pub fn db_index(ctx: &mut Ctx, i: usize) -> Option<usize> {
    let n = ctx.int_arg(i)?;
    if n < 0 || n as usize >= ctx.st.ks.db_count() {
        ctx.error("ERR DB index is out of range");
        return None;
    }
    Some(n as usize)
}

pub fn copy(ctx: &mut Ctx) {
    let (src, dst) = (ctx.args[1].clone(), ctx.args[2].clone());
    let mut target = ctx.sess.db;
    let mut replace = false;
    let mut i = 3;
    while i < ctx.args.len() {
        match ctx.args[i].to_ascii_uppercase().as_slice() {
            b"REPLACE" => replace = true,
            b"DB" if i + 1 < ctx.args.len() => {
                let Some(d) = db_index(ctx, i + 1) else {
                    return;
                };
                target = d;
                i += 1;
            }
            _ => return ctx.error(SYNTAX),
        }
        i += 1;
    }
    if src == dst && target == ctx.sess.db {
        return ctx.error("ERR source and destination objects are the same");
    }
    let Some(e) = ctx.lookup(&src).cloned() else {
        ctx.notify(class::KEY_MISS, "keymiss", &src);
        return ctx.out.int(0);
    };
    let here = ctx.sess.db;
    ctx.sess.db = target;
    let dst_exists = ctx.exists(&dst);
    ctx.sess.db = here;
    if dst_exists && !replace {
        return ctx.out.int(0);
    }
    let expire_at = e.expire_at();
    ctx.st
        .ks
        .db_mut(target)
        .insert(Entry::new(dst.as_ref().into(), e.value, expire_at));
    ctx.st.signal_modified(target, &dst);
    ctx.st.dirty += 1;
    super::notify::notify(ctx.st, class::NEW, "new", &dst, target);
    super::notify::notify(ctx.st, class::GENERIC, "copy_to", &dst, target);
    ctx.propagate_self();
    ctx.out.int(1);
}

pub fn move_(ctx: &mut Ctx) {
    let key = ctx.args[1].clone();
    let Some(target) = db_index(ctx, 2) else {
        return;
    };
    let here = ctx.sess.db;
    if target == here {
        return ctx.error("ERR source and destination objects are the same");
    }
    if !ctx.exists(&key) {
        return ctx.out.int(0);
    }
    ctx.sess.db = target;
    let taken = ctx.exists(&key);
    ctx.sess.db = here;
    if taken {
        return ctx.out.int(0);
    }
    let e = ctx.st.ks.db_mut(here).remove(&key).expect("checked above");
    ctx.st.ks.db_mut(target).insert_moved(e);
    ctx.modified(&key);
    ctx.st.signal_modified(target, &key);
    super::notify::notify(ctx.st, class::NEW, "new", &key, target);
    ctx.notify(class::GENERIC, "move_from", &key);
    super::notify::notify(ctx.st, class::GENERIC, "move_to", &key, target);
    ctx.propagate_self();
    ctx.out.int(1);
}

pub fn object(ctx: &mut Ctx) {
    let sub = ctx.args[1].to_ascii_uppercase();
    if sub.as_slice() == b"HELP" {
        let lines = [
            "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "ENCODING <key>",
            "    Return the kind of internal representation used in order to store the value",
            "    associated with a <key>.",
            "FREQ <key>",
            "    Return the access frequency index of the <key>.",
            "IDLETIME <key>",
            "    Return the idle time of the <key>.",
            "REFCOUNT <key>",
            "    Return the number of references of the value associated with the specified",
            "    <key>.",
            "HELP",
            "    Print this help.",
        ];
        ctx.help(&lines);
        return;
    }
    if ctx.args.len() != 3 {
        return unknown_subcommand(ctx);
    }
    let key = ctx.args[2].clone();
    let Some(e) = ctx.lookup_quiet(&key) else {
        return ctx.out.null();
    };
    let encoding = e.value.encoding();
    let access = e.access();
    let clock = *ctx.st.ks.clock();
    match sub.as_slice() {
        b"ENCODING" => ctx.out.bulk(encoding.as_bytes()),
        b"REFCOUNT" => ctx.out.int(1),
        // A key whose expiry needs the access field's bits (past the year 2527) reads as
        // just used: idle 0, counter at its maximum (see keyspace::access).
        b"IDLETIME" if clock.is_lfu() => ctx.error("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."),
        b"IDLETIME" => ctx.out.int(access.map_or(0, |f| clock.idle_ms(f) / 1000) as i64),
        b"FREQ" if !clock.is_lfu() => ctx.error("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."),
        b"FREQ" => ctx.out.int(access.map_or(255, |f| clock.freq(f)) as i64),
        _ => unknown_subcommand(ctx),
    }
}

/// Redis's reply to an unknown subcommand of a command that parses its own subcommands
/// (DEBUG), or to bad arguments of a known one.
pub fn unknown_subcommand(ctx: &mut Ctx) {
    let msg = format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try {} HELP.",
        String::from_utf8_lossy(&ctx.args[1]),
        String::from_utf8_lossy(&ctx.args[0]).to_uppercase()
    );
    ctx.error(&msg);
}

/// EXPIRE family. `unit` is 1000 for seconds; `absolute` for the *AT forms.
fn expire_generic(ctx: &mut Ctx, unit: i64, absolute: bool) {
    let name = String::from_utf8_lossy(&ctx.args[0]).to_lowercase();
    // Options are checked before the time, as Redis does.
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for i in 3..ctx.args.len() {
        match ctx.args[i].to_ascii_uppercase().as_slice() {
            b"NX" => nx = true,
            b"XX" => xx = true,
            b"GT" => gt = true,
            b"LT" => lt = true,
            _ => {
                let msg = format!(
                    "ERR Unsupported option {}",
                    String::from_utf8_lossy(&ctx.args[i])
                );
                return ctx.error(&msg);
            }
        }
    }
    if nx && (xx || gt || lt) {
        return ctx.error("ERR NX and XX, GT or LT options at the same time are not compatible");
    }
    if gt && lt {
        return ctx.error("ERR GT and LT options at the same time are not compatible");
    }
    let Some(n) = crate::util::parse_i64_strict(&ctx.args[2]) else {
        return ctx.error(NOT_INTEGER);
    };
    let at = n.checked_mul(unit).and_then(|ms| {
        if absolute {
            Some(ms)
        } else {
            ms.checked_add(ctx.now as i64)
        }
    });
    let Some(at) = at else {
        return ctx.error(&format!("ERR invalid expire time in '{name}' command"));
    };
    let key = ctx.args[1].clone();
    let Some(cur) = ctx.lookup(&key).map(|e| e.expire_at()) else {
        return ctx.out.int(0);
    };
    // No TTL counts as an infinite one for GT/LT.
    let cur_ttl = if cur == 0 { i64::MAX } else { cur as i64 };
    if (nx && cur != 0) || (xx && cur == 0) || (gt && at <= cur_ttl) || (lt && at >= cur_ttl) {
        return ctx.out.int(0);
    }
    let db = ctx.sess.db;
    if at <= ctx.now as i64 && !ctx.st.replaying {
        ctx.st.ks.db_mut(db).delete(&key);
        ctx.modified(&key);
        ctx.notify(class::GENERIC, "del", &key);
        ctx.propagate(vec![Bytes::from_static(b"DEL"), key]);
        return ctx.out.int(1);
    }
    // A non-positive absolute time can only come from a replayed record; keep it expired.
    let at = at.max(1) as u64;
    ctx.st.ks.db_mut(db).set_expire(&key, at);
    ctx.modified(&key);
    ctx.notify(class::GENERIC, "expire", &key);
    ctx.propagate(vec![
        Bytes::from_static(b"PEXPIREAT"),
        key,
        Bytes::from(at.to_string()),
    ]);
    ctx.out.int(1);
}

pub fn expire(ctx: &mut Ctx) {
    expire_generic(ctx, 1000, false);
}

pub fn pexpire(ctx: &mut Ctx) {
    expire_generic(ctx, 1, false);
}

pub fn expireat(ctx: &mut Ctx) {
    expire_generic(ctx, 1000, true);
}

pub fn pexpireat(ctx: &mut Ctx) {
    expire_generic(ctx, 1, true);
}

/// TTL family: `-2` no key, `-1` no expiry. `f` maps (expire_at, now) to the reply.
fn ttl_generic(ctx: &mut Ctx, f: fn(u64, u64) -> i64) {
    let key = ctx.args[1].clone();
    let now = ctx.now;
    let r = match ctx.lookup_notouch(&key) {
        None => -2,
        Some(e) if e.expire_at() == 0 => -1,
        Some(e) => f(e.expire_at(), now),
    };
    ctx.out.int(r);
}

pub fn ttl(ctx: &mut Ctx) {
    ttl_generic(ctx, |at, now| {
        ((at.saturating_sub(now) + 500) / 1000) as i64
    });
}

pub fn pttl(ctx: &mut Ctx) {
    ttl_generic(ctx, |at, now| at.saturating_sub(now) as i64);
}

pub fn expiretime(ctx: &mut Ctx) {
    ttl_generic(ctx, |at, _| ((at + 500) / 1000) as i64);
}

pub fn pexpiretime(ctx: &mut Ctx) {
    ttl_generic(ctx, |at, _| at as i64);
}

pub fn persist(ctx: &mut Ctx) {
    let key = ctx.args[1].clone();
    let has_ttl = ctx.lookup(&key).is_some_and(|e| e.expire_at() != 0);
    if !has_ttl {
        return ctx.out.int(0);
    }
    let db = ctx.sess.db;
    ctx.st.ks.db_mut(db).set_expire(&key, 0);
    ctx.modified(&key);
    ctx.notify(class::GENERIC, "persist", &key);
    ctx.propagate_self();
    ctx.out.int(1);
}
