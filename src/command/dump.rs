//! DUMP and RESTORE: a value as Redis's serialized payload (see [`crate::keyspace::dump`]),
//! so keys move between Strata and Redis with the tools users already have.
//!
//! RESTORE is logged as `RESTORE key <absolute ms or 0> <payload> REPLACE ABSTTL` with
//! the payload re-encoded by Strata: replay then depends only on the plain RDB types
//! Strata writes, not on the encodings of the Redis that made the original payload.

use super::notify::class;
use bytes::Bytes;

use super::Ctx;
use crate::keyspace::{dump, Entry};

pub fn dump(ctx: &mut Ctx) {
    let key = ctx.args[1].clone();
    match ctx.lookup_read(&key) {
        Some(e) => {
            let payload = dump::encode(&e.value);
            ctx.out.bulk(&payload);
        }
        None => ctx.out.null(),
    }
}

pub fn restore(ctx: &mut Ctx) {
    let key = ctx.args[1].clone();
    let (mut replace, mut absttl) = (false, false);
    // IDLETIME sets the access field under an LRU-reading policy, FREQ under an LFU one;
    // the other is ignored, as in Redis (objectSetLRUOrLFU).
    let (mut idle, mut freq) = (None::<u64>, None::<u8>);
    let mut i = 4;
    while i < ctx.args.len() {
        let more = i + 1 < ctx.args.len();
        match ctx.args[i].to_ascii_uppercase().as_slice() {
            b"REPLACE" => replace = true,
            b"ABSTTL" => absttl = true,
            b"IDLETIME" if more && freq.is_none() => {
                let Some(v) = ctx.int_arg(i + 1) else { return };
                if v < 0 {
                    return ctx.error("ERR Invalid IDLETIME value, must be >= 0");
                }
                idle = Some(v as u64);
                i += 1;
            }
            b"FREQ" if more && idle.is_none() => {
                let Some(v) = ctx.int_arg(i + 1) else { return };
                if !(0..=255).contains(&v) {
                    return ctx.error("ERR Invalid FREQ value, must be >= 0 and <= 255");
                }
                freq = Some(v as u8);
                i += 1;
            }
            _ => return ctx.error(super::SYNTAX),
        }
        i += 1;
    }
    if !replace && ctx.exists(&key) {
        return ctx.error("BUSYKEY Target key name already exists.");
    }
    let Some(ttl) = ctx.int_arg(2) else { return };
    if ttl < 0 {
        return ctx.error("ERR Invalid TTL value, must be >= 0");
    }
    let value = match dump::decode(&ctx.args[3]) {
        Ok(v) => v,
        Err(e) => return ctx.error(&format!("ERR {e}")),
    };
    let expire_at = match ttl {
        0 => 0,
        t if absttl => t as u64,
        t => (t as u64).saturating_add(ctx.now),
    };
    let db = ctx.sess.db;
    if expire_at != 0 && expire_at <= ctx.now && !ctx.st.replaying {
        // Already expired: Redis answers OK and only removes what REPLACE replaces.
        if replace && ctx.st.ks.db_mut(db).delete(&key) {
            ctx.modified(&key);
            ctx.notify(class::GENERIC, "del", &key);
            ctx.propagate(vec![Bytes::from_static(b"DEL"), key]);
        }
        return ctx.out.ok();
    }
    if ctx.st.logging {
        ctx.propagate(vec![
            Bytes::from_static(b"RESTORE"),
            key.clone(),
            Bytes::from(expire_at.to_string()),
            Bytes::from(dump::encode(&value)),
            Bytes::from_static(b"REPLACE"),
            Bytes::from_static(b"ABSTTL"),
        ]);
    }
    let table = ctx.st.ks.db_mut(db);
    table.insert(Entry::new(key.as_ref().into(), value, expire_at));
    let clock = table.clock();
    let field = match (clock.is_lfu(), idle, freq) {
        (false, Some(secs), _) => Some(clock.idle_field(secs)),
        (true, _, Some(f)) => Some(clock.freq_field(f)),
        _ => None,
    };
    if let (Some(f), Some(e)) = (field, table.peek(&key)) {
        e.set_access(f);
    }
    ctx.modified(&key);
    // A replaced key is deleted and added again, as in Redis: `new` either way.
    ctx.notify(class::NEW, "new", &key);
    ctx.notify(class::GENERIC, "restore", &key);
    ctx.out.ok();
}
