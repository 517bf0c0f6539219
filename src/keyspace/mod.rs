//! The dataset: numbered databases of keys with values, absolute expiry times and access
//! fields (last use, for LRU/LFU eviction).
//!
//! Pure data structures, no I/O and no policy: lazy expiry, logging and watch
//! invalidation are the command layer's job (it knows whether it is replaying the log).
//! One thread lives here: [`lazyfree`]'s, which drops what UNLINK and FLUSHALL ASYNC
//! unlinked.

pub mod access;
pub mod dump;
mod hash;
mod key;
pub mod lazyfree;
mod list;
mod members;
mod set;
pub mod stream;
mod table;
mod value;
mod zset;

pub use hash::Hash;
pub use key::{Key, INLINE_MAX};
pub use list::List;
pub use set::Set;
pub use stream::{Stream, StreamId};
pub use table::{Detached, Entry, Held, Retired, SegmentSink, SharedSink, Table};
pub use value::{alloc_size, Aggregate, Kind, Value};
pub use zset::ZSet;

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

/// The two steps of warming a batch of lookups inside a large set or hash
/// ([`Value::prefetch_member`]): every lookup's first step, then every lookup's second,
/// so the cache misses of independent lookups overlap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Warm {
    /// The index slot a lookup starts at.
    Slot,
    /// The member or pair that slot points to (reads the slot: it should be cached).
    Member,
}

/// All databases. `SELECT n` picks one.
#[derive(Debug)]
pub struct Keyspace {
    dbs: Vec<Table>,
    /// Every table's copy of the access clock is this one.
    clock: access::Clock,
    snap_epoch: u64,
    snap_cursor: usize,
}

impl Keyspace {
    pub fn new(databases: usize) -> Self {
        let dbs = (0..databases.max(1))
            .map(|i| {
                let mut t = Table::new();
                t.set_db_index(i);
                t
            })
            .collect();
        Keyspace {
            dbs,
            clock: access::Clock::default(),
            snap_epoch: 0,
            snap_cursor: 0,
        }
    }

    /// Begin a point-in-time snapshot of every database into `sink` (see
    /// [`Table::start_snapshot`]): no copy is made; each segment is captured once,
    /// before its first change or when [`Keyspace::snapshot_step`] reaches it, and its
    /// entries stay intact until [`Keyspace::release_hold`].
    /// `encoded` is the writer's progress (see [`SegmentSink::segment`]).
    pub fn start_snapshot(&mut self, sink: SharedSink, encoded: Arc<AtomicU64>) {
        self.snap_epoch += 1;
        self.snap_cursor = 0;
        for t in &mut self.dbs {
            t.start_snapshot(self.snap_epoch, sink.clone(), encoded.clone());
        }
    }

    /// Entries kept for the snapshot that its writer has finished with, to be freed.
    pub fn take_encoded(&mut self) -> Retired {
        self.gather(Table::take_encoded)
    }

    /// One list from every table's `f`.
    fn gather(&mut self, mut f: impl FnMut(&mut Table) -> Retired) -> Retired {
        let mut all = Vec::new();
        for t in &mut self.dbs {
            let mut r = f(t);
            if all.is_empty() {
                all = r;
            } else {
                all.append(&mut r);
            }
        }
        all
    }

    /// Capture up to about `budget` entries of the snapshot in progress. Returns true
    /// once the snapshot holds every key (or none is in progress).
    pub fn snapshot_step(&mut self, budget: usize) -> bool {
        while self.snap_cursor < self.dbs.len() {
            if !self.dbs[self.snap_cursor].snapshot_step(budget) {
                return false;
            }
            self.snap_cursor += 1;
        }
        true
    }

    /// Stop collecting the snapshot in progress (its writer failed).
    pub fn abort_snapshot(&mut self) {
        for t in &mut self.dbs {
            t.abort_snapshot();
        }
        self.snap_cursor = self.dbs.len();
    }

    /// The snapshot's reader is done: changes go in place again. Returns the entries
    /// that were kept for it, for the caller to free.
    pub fn release_hold(&mut self) -> Retired {
        self.gather(Table::release_hold)
    }

    /// Bytes a snapshot in progress keeps beyond the live dataset.
    pub fn held_bytes(&self) -> usize {
        self.dbs.iter().map(|t| t.held_bytes()).sum()
    }

    pub fn snapshot_active(&self) -> bool {
        self.dbs.iter().any(|t| t.snapshot_active())
    }

    /// Advance the access clock to `now_ms` (called before each command; cheap when the
    /// second has not changed).
    #[inline]
    pub fn set_now(&mut self, now_ms: u64) {
        if self.clock.set_now(now_ms) {
            self.spread_clock();
        }
    }

    /// What access fields record from now on (`maxmemory-policy`, `lfu-*`).
    pub fn set_access_policy(&mut self, policy: access::Policy) {
        if self.clock.policy() != policy {
            self.clock = self.clock.with_policy(policy);
            self.spread_clock();
        }
    }

    /// Big values replaced by writes are freed on the lazy-free thread
    /// (`lazyfree-lazy-server-del`).
    pub fn set_lazy_replace(&mut self, lazy: bool) {
        for t in &mut self.dbs {
            t.set_lazy_replace(lazy);
        }
    }

    /// The access clock tables stamp entries with.
    pub fn clock(&self) -> &access::Clock {
        &self.clock
    }

    fn spread_clock(&mut self) {
        for t in &mut self.dbs {
            t.set_clock(self.clock);
        }
    }

    pub fn db_count(&self) -> usize {
        self.dbs.len()
    }

    pub fn db(&self, i: usize) -> &Table {
        &self.dbs[i]
    }

    pub fn db_mut(&mut self, i: usize) -> &mut Table {
        &mut self.dbs[i]
    }

    pub fn dbs(&self) -> &[Table] {
        &self.dbs
    }

    pub fn swap(&mut self, a: usize, b: usize) {
        // A snapshot records each key under the db it had when the snapshot began.
        self.dbs[a].capture_all();
        self.dbs[b].capture_all();
        self.dbs.swap(a, b);
        self.dbs[a].set_db_index(a);
        self.dbs[b].set_db_index(b);
    }

    pub fn total_keys(&self) -> usize {
        self.dbs.iter().map(|d| d.len()).sum()
    }

    pub fn mem_size(&self) -> usize {
        self.dbs.iter().map(|d| d.mem_size()).sum()
    }
}
