//! `maxmemory` eviction: before a client's command runs with `used_memory` above
//! `maxmemory`, keys are removed by `maxmemory-policy` until what they held covers the
//! excess, as Redis's performEvictions does; a command that may grow memory is refused
//! with OOM only when nothing (more) can be evicted.
//!
//! Policies: `allkeys-*` pick from every key, `volatile-*` from keys with a TTL; `lru`
//! evicts the key idle longest, `lfu` the one used least often, `ttl` the one closest to
//! expiring, `random` any. The three ordered ones are approximations, as in Redis: each
//! round samples `maxmemory-samples` keys per database (adjacent slots of one random
//! segment, [`Table::sample_into`], as Redis's dictGetSomeKeys takes adjacent buckets)
//! into a pool of the 16 best candidates seen so far (kept across rounds and commands),
//! and the best candidate still present goes, unless it was used since it was sampled and
//! no longer ranks first (then it goes back in at its current rank; Redis evicts it on
//! its old score). Idle time and frequency come from the entry's access field
//! ([`crate::keyspace::access`]). An eviction is a deletion like any other: logged as
//! DEL, WATCHes and client-side caches told, keyspace event `evicted`, INFO
//! `evicted_keys`.
//!
//! What is counted: `used_memory` minus what a snapshot in progress keeps alive (old
//! versions of entries written since it began), which eviction could not free; Redis
//! likewise leaves its fork's memory and its AOF buffer out.

use bytes::Bytes;

use super::notify::{self, class};
use super::state::Effect;
use super::State;
use crate::keyspace::access::{Clock, Policy as AccessPolicy};
use crate::keyspace::{Entry, Table};

/// Entries evicted per command at most: a single huge write can be over by far more than
/// a few keys hold, and clients wait while this runs. The next command goes on.
const MAX_PER_CALL: usize = 10_000;

/// Table overhead per key beyond its entry (a slot and its share of the segment).
const SLOT_BYTES: u64 = 16;

/// `maxmemory-samples` at most (as in Redis).
const MAX_SAMPLES: usize = 64;

/// Candidates kept between rounds (Redis's EVPOOL_SIZE).
const POOL_SIZE: usize = 16;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Order {
    Random,
    /// By the access field: idle time or frequency, as the keyspace clock reads it.
    Access,
    Ttl,
}

#[derive(Clone, Copy, PartialEq, Eq)]
struct Policy {
    /// Only keys with a TTL.
    volatile: bool,
    order: Order,
}

/// `None`: noeviction.
fn policy(st: &State) -> Option<Policy> {
    let p = st.config.maxmemory_policy.as_str();
    let (scope, order) = p.split_once('-')?;
    let order = match order {
        "random" => Order::Random,
        "lru" | "lfu" => Order::Access,
        "ttl" => Order::Ttl,
        _ => return None,
    };
    Some(Policy {
        volatile: scope == "volatile",
        order,
    })
}

/// Point the keyspace's access fields at what `maxmemory-policy` reads: LFU counters for
/// the `lfu` policies, LRU times otherwise (so OBJECT IDLETIME works without eviction, as
/// in Redis). Part of [`State::sync_keyspace_config`].
pub fn sync_access_policy(st: &mut State) {
    let policy = if st.config.maxmemory_policy.ends_with("-lfu") {
        AccessPolicy::Lfu {
            log_factor: st.config.lfu_log_factor,
            decay_minutes: st.config.lfu_decay_time,
        }
    } else {
        AccessPolicy::Lru
    };
    st.ks.set_access_policy(policy);
    // Scores of another policy would not compare.
    st.evict_pool = Pool::default();
}

/// The best candidates sampled so far, worst first (Redis's eviction pool).
#[derive(Debug, Default)]
pub struct Pool {
    /// (score: larger evicts first, db, key), ascending by score.
    slots: Vec<(u64, usize, Box<[u8]>)>,
}

impl Pool {
    fn offer(&mut self, score: u64, db: usize, key: &[u8]) {
        let at = self.slots.partition_point(|(s, _, _)| *s < score);
        let full = self.slots.len() == POOL_SIZE;
        // Once the pool is full most samples rank below all of it: decided before the
        // duplicate check, which compares keys.
        if full && at == 0 {
            return;
        }
        if self.slots.iter().any(|(_, d, k)| *d == db && **k == *key) {
            return;
        }
        if full {
            self.slots.remove(0);
            self.slots.insert(at - 1, (score, db, key.into()));
        } else {
            self.slots.insert(at, (score, db, key.into()));
        }
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
    let Some(policy) = policy(st) else {
        return true;
    };
    if st.replaying || st.persist.loading {
        return true;
    }
    let excess = used - limit;
    let mut freed = 0u64;
    let mut evicted = 0;
    while freed < excess && evicted < MAX_PER_CALL {
        let Some((db, key, bytes)) = pick(st, policy) else {
            break;
        };
        let free = crate::keyspace::lazyfree::dropper(st.config.lazyfree_lazy_eviction);
        if !st.ks.db_mut(db).delete_with(&key, free) {
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

/// The next key to evict: its db, name and the bytes it holds.
fn pick(st: &mut State, policy: Policy) -> Option<(usize, Box<[u8]>, u64)> {
    match policy.order {
        Order::Random => pick_random(st, policy.volatile),
        Order::Access | Order::Ttl => pick_pooled(st, policy),
    }
}

/// How strongly `policy` wants `e` evicted (larger first).
fn score(policy: Policy, clock: &Clock, e: &Entry) -> u64 {
    match policy.order {
        Order::Ttl => u64::MAX - e.expire_at(),
        _ => clock.eviction_score(e.access()),
    }
}

/// What a key costs, as eviction counts what it frees.
fn cost(e: &Entry) -> u64 {
    e.mem_size() as u64 + SLOT_BYTES
}

/// A random key of `table`; `volatile`: one with a TTL.
fn sample<'a>(table: &'a Table, rng: &mut impl rand::Rng, volatile: bool) -> Option<&'a Entry> {
    if volatile {
        table.random_expiring(rng)
    } else {
        table.random(rng)
    }
}

/// Databases take turns, as in Redis, so no one db is emptied first.
fn pick_random(st: &mut State, volatile: bool) -> Option<(usize, Box<[u8]>, u64)> {
    let dbs = st.ks.db_count();
    for _ in 0..dbs {
        let db = st.evict_next_db % dbs;
        st.evict_next_db = st.evict_next_db.wrapping_add(1);
        let table = st.ks.db(db);
        let chosen = sample(table, &mut st.rng, volatile);
        if let Some(e) = chosen {
            return Some((db, Box::from(&*e.key), cost(e)));
        }
    }
    None
}

/// Sample every database into the pool, then take its best candidate that is still
/// there (keys deleted, or stripped of their TTL under a volatile policy, since they were
/// sampled are dropped). Redis's performEvictions loop for its ordered policies.
fn pick_pooled(st: &mut State, policy: Policy) -> Option<(usize, Box<[u8]>, u64)> {
    loop {
        let mut candidates = 0;
        for db in 0..st.ks.db_count() {
            let table = st.ks.db(db);
            let n = if policy.volatile {
                table.expiring()
            } else {
                table.len()
            };
            if n == 0 {
                continue;
            }
            candidates += n;
            let clock = *table.clock();
            let mut picked = [None; MAX_SAMPLES];
            let k = st.config.maxmemory_samples.min(MAX_SAMPLES);
            let k = table.sample_into(&mut st.rng, policy.volatile, &mut picked[..k]);
            for e in picked[..k].iter().flatten() {
                st.evict_pool.offer(score(policy, &clock, e), db, &e.key);
            }
        }
        if candidates == 0 || st.evict_pool.slots.is_empty() {
            return None;
        }
        while let Some((was, db, key)) = st.evict_pool.slots.pop() {
            let table = st.ks.db(db);
            let live = table
                .peek(&key)
                .filter(|e| !policy.volatile || e.expire_at() != 0);
            let Some(e) = live else { continue };
            // Used since it was sampled (Redis evicts it anyway): back in at its rank
            // now, unless it still outranks the rest. Each return lowers its score, so
            // this ends.
            let now = score(policy, table.clock(), e);
            if now < was && st.evict_pool.slots.last().is_some_and(|c| c.0 > now) {
                st.evict_pool.offer(now, db, &key);
                continue;
            }
            let bytes = cost(e);
            return Some((db, key, bytes));
        }
    }
}
