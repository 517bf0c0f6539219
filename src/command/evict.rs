//! `maxmemory` eviction: before a client's command runs with `used_memory` above
//! `maxmemory`, keys are removed by `maxmemory-policy` until what they held covers the
//! excess, as Redis's performEvictions does; a command that may grow memory is refused
//! with OOM only when nothing (more) can be evicted.
//!
//! Strata keeps no access time or frequency per key (an entry is exactly 64 bytes, and a
//! read that wrote one would race with a snapshot reading it), so the policies are the
//! ones that need none: `allkeys-random`, `volatile-random`, and `volatile-ttl` (of
//! `maxmemory-samples` keys with a TTL, the one closest to expiring). An eviction is a
//! deletion like any other: logged as DEL, WATCHes and client-side caches told, keyspace
//! event `evicted`, INFO `evicted_keys`.
//!
//! What is counted: `used_memory` minus what a snapshot in progress keeps alive (old
//! versions of entries written since it began), which eviction could not free; Redis
//! likewise leaves its fork's memory and its AOF buffer out.

use bytes::Bytes;

use super::notify::{self, class};
use super::state::Effect;
use super::State;

/// Entries evicted per command at most: a single huge write can be over by far more than
/// a few keys hold, and clients wait while this runs. The next command goes on.
const MAX_PER_CALL: usize = 10_000;

/// Table overhead per key beyond its entry (a slot and its share of the segment).
const SLOT_BYTES: u64 = 16;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Policy {
    NoEviction,
    AllKeysRandom,
    VolatileRandom,
    VolatileTtl,
}

fn policy(st: &State) -> Policy {
    match st.config.maxmemory_policy.as_str() {
        "allkeys-random" => Policy::AllKeysRandom,
        "volatile-random" => Policy::VolatileRandom,
        "volatile-ttl" => Policy::VolatileTtl,
        _ => Policy::NoEviction,
    }
}

/// The memory `maxmemory` is compared with.
pub fn counted_memory(st: &State) -> u64 {
    super::server::used_memory(st).saturating_sub(st.ks.held_bytes() as u64)
}

/// Bring memory under `maxmemory` by the policy if it is above. Returns whether it is
/// still above (nothing left to evict, `noeviction`, or the per-call bound reached).
pub fn over_limit(st: &mut State) -> bool {
    let limit = st.config.maxmemory;
    let used = counted_memory(st);
    if used <= limit {
        return false;
    }
    let policy = policy(st);
    if policy == Policy::NoEviction || st.replaying || st.persist.loading {
        return true;
    }
    let excess = used - limit;
    let mut freed = 0u64;
    let mut evicted = 0;
    while freed < excess && evicted < MAX_PER_CALL {
        let Some((db, key, bytes)) = pick(st, policy) else {
            break;
        };
        if st.ks.db_mut(db).remove(&key).is_none() {
            break;
        }
        freed += bytes;
        evicted += 1;
        st.stats.evicted_keys += 1;
        st.signal_modified(db, &key);
        notify::notify(st, class::EVICTED, "evicted", &key, db);
        if st.logging {
            st.effects.push(Effect {
                db,
                args: vec![Bytes::from_static(b"DEL"), Bytes::from(key.into_vec())],
            });
        }
    }
    freed < excess
}

/// The next key to evict: its db, name and the bytes it holds. Databases take turns, as
/// in Redis, so no one db is emptied first.
fn pick(st: &mut State, policy: Policy) -> Option<(usize, Box<[u8]>, u64)> {
    let dbs = st.ks.db_count();
    for _ in 0..dbs {
        let db = st.evict_next_db % dbs;
        st.evict_next_db = st.evict_next_db.wrapping_add(1);
        let table = st.ks.db(db);
        let rng = &mut st.rng;
        let chosen = match policy {
            Policy::AllKeysRandom => table.random(rng),
            Policy::VolatileRandom => table.random_expiring(rng),
            Policy::VolatileTtl => (0..st.config.maxmemory_samples)
                .filter_map(|_| table.random_expiring(rng))
                .min_by_key(|e| e.expire_at),
            Policy::NoEviction => None,
        };
        if let Some(e) = chosen {
            return Some((db, Box::from(&*e.key), e.mem_size() as u64 + SLOT_BYTES));
        }
    }
    None
}
