//! A hash table of entries split into bounded segments (extendible hashing).
//!
//! Why segments: no operation ever touches more than one segment's worth of entries at a
//! time. Growth splits one full segment instead of rehashing the whole table (no multi-
//! millisecond resize stalls), SCAN walks hash space in order so its cursor survives
//! splits, and a snapshot captures one segment at a time.
//!
//! Snapshots (fork-free, point in time): a segment is captured (a list of pointers to its
//! entries, handed to the snapshot's sink as [`Held`] under a sequence number) before its
//! first change or when [`Table::snapshot_step`] reaches it. The snapshot's writer thread
//! encodes captures in sequence order and publishes the last one it finished. Until then
//! the table *holds* the captured entries: a change first replaces the entry by a copy
//! (copy-on-write per entry) and a removed entry is retired, not freed; once the capture is
//! encoded its entries change in place again and retired ones can be freed. So the writer
//! reads entries while the event loop keeps writing, and the loop's snapshot work is
//! copying a few hundred pointers per segment plus a copy of an entry written between its
//! segment's capture and encoding.
//!
//! Directory slot = top `global_depth` bits of the key's hash. A segment of local depth `d`
//! owns every hash whose top `d` bits equal its prefix, i.e. a contiguous range of hash
//! space and of directory slots.

use std::cell::Cell;
use std::collections::{BTreeMap, HashSet};
use std::hash::BuildHasher;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use hashbrown::HashTable;

use super::access::{Clock, Stamp};
use super::key::Key;
use super::lazyfree;
use super::value::{alloc_size, Value};

/// How far ahead a segment split (keyspace or hash) prefetches the entries it hashes.
pub(super) const SPLIT_PREFETCH: usize = 8;

/// A full segment (7/8 of 512 buckets, hashbrown's maximum load) splits before it grows.
/// Small segments bound the work any single change can trigger: a split, or capturing
/// the segment for a snapshot in progress (a few hundred pointers).
const SEGMENT_MAX: usize = 448;
/// The buckets a table sized for SEGMENT_MAX entries has.
const SEGMENT_BUCKETS: usize = SEGMENT_MAX * 8 / 7;

/// One key with its value, absolute expiry (Unix ms; 0 = none) and access field (see
/// [`super::access`]).
#[derive(Debug, Clone)]
pub struct Entry {
    pub key: Key,
    pub value: Value,
    stamp: Stamp,
}

impl Entry {
    /// A table stamps the access field when the entry goes in.
    pub fn new(key: Key, value: Value, expire_at: u64) -> Entry {
        Entry {
            key,
            value,
            stamp: Stamp::new(expire_at, 0),
        }
    }

    /// Absolute Unix ms; 0 = none.
    #[inline]
    pub fn expire_at(&self) -> u64 {
        self.stamp.expire_at()
    }

    /// Set the expiry of an entry not in a table yet (a table's entries change expiry
    /// through [`Table::set_expire`], which keeps its counters right).
    pub fn set_expire_at(&mut self, at: u64) {
        self.stamp.set_expire_at(at, 0);
    }

    /// The access field: LRU second or LFU minute and counter (see [`super::access`]);
    /// `None` when the expiry needs the whole word.
    #[inline]
    pub fn access(&self) -> Option<u32> {
        self.stamp.field()
    }

    /// Overwrite the access field (RESTORE IDLETIME/FREQ; the table stamping new entries).
    pub fn set_access(&self, field: u32) {
        self.stamp.set_field(field);
    }

    /// Start loading the key's and a string value's bytes into the cache (a reader about
    /// to walk many cold entries prefetches a few ahead of the one it reads).
    #[inline]
    pub fn prefetch_data(&self) {
        crate::util::prefetch(self.key.as_ptr());
        if let Value::Str(v) = &self.value {
            crate::util::prefetch(v.as_ptr());
        }
    }

    /// Estimated heap bytes this entry costs: its own allocation (the table holds a
    /// pointer to it), its key's and its value's (the slot is counted by the table).
    pub fn mem_size(&self) -> usize {
        alloc_size(std::mem::size_of::<Entry>()) + self.key.heap_size() + self.value.heap_size()
    }
}

/// An entry on its way into a segment, with what its insert needs precomputed (a bulk
/// load computes it on other threads, so a new key costs no access to the entry itself).
/// 24 bytes: a bulk load holds two of these per key for a moment.
struct Item {
    hash: u64,
    /// Heap bytes << 1 | has an expiry.
    meta: u64,
    entry: Box<Entry>,
}

impl Item {
    fn new(hash: u64, entry: Box<Entry>) -> Item {
        Item {
            hash,
            meta: (entry.mem_size() as u64) << 1 | (entry.expire_at() != 0) as u64,
            entry,
        }
    }
}

/// Join a scoped worker, re-raising its panic here.
fn join<T>(h: std::thread::ScopedJoinHandle<'_, T>) -> T {
    h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))
}

/// How one change moved a table's counters.
#[derive(Debug, Default, Clone, Copy)]
struct Delta {
    heap: isize,
    expiring: isize,
    len: isize,
}

impl std::ops::AddAssign for Delta {
    fn add_assign(&mut self, d: Delta) {
        self.heap += d.heap;
        self.expiring += d.expiring;
        self.len += d.len;
    }
}

#[derive(Debug, Default)]
struct Segment {
    depth: u32,
    /// Entries are boxed: a slot is one pointer, so the table's empty slots (a segment
    /// runs between 44% and 87% full, and with uniform hashing all segments fill in step)
    /// cost 8 bytes each instead of a whole entry's 48. At 1M keys that is ~19 bytes per
    /// key for slots instead of ~100.
    table: HashTable<Box<Entry>>,
    /// Entries with an expiry, so active expiry can skip segments without any.
    expiring: usize,
    /// The last snapshot epoch this segment was captured for (or created in).
    snap_ver: u64,
    /// The sequence number of the capture holding its entries (0: none).
    snap_seq: u64,
}

impl Segment {
    /// The entries (with an expiry, for `ttl_only`) in bucket order from bucket `from`,
    /// wrapping around.
    fn entries_from(&self, from: usize, ttl_only: bool) -> impl Iterator<Item = &Entry> {
        let n = self.table.num_buckets();
        (0..n)
            .filter_map(move |i| self.table.get_bucket((from + i) % n))
            .map(|b| &**b)
            .filter(move |e| !ttl_only || e.expire_at() != 0)
    }

    /// Entries held: all, or those with an expiry for `ttl_only`.
    fn held(&self, ttl_only: bool) -> usize {
        if ttl_only {
            self.expiring
        } else {
            self.table.len()
        }
    }
}

/// A table's former contents, unlinked by [`Table::clear_detached`]: dropping it frees
/// every entry.
pub struct Detached {
    keys: usize,
    /// Only ever dropped.
    _segments: Vec<Segment>,
}

impl Detached {
    /// Keys it holds.
    pub fn keys(&self) -> usize {
        self.keys
    }
}

/// An entry captured for a snapshot in progress: a pointer that another thread may read
/// through until the table that handed it out releases its hold.
#[derive(Clone, Copy, Debug)]
pub struct Held(NonNull<Entry>);

// SAFETY: a `Held` is only created by a table with a hold active, and while the hold lasts
// that table neither changes nor frees the entry (changes copy it first, removals retire
// it: see `Hold`). Reading it from another thread is a shared read of data nobody
// writes, except the access field, which lives in an atomic word (reads record accesses
// through `&Entry`; see `keyspace::access`); `Entry` is `Sync`.
unsafe impl Send for Held {}

impl Held {
    /// Start loading the entry itself into the cache (no access: valid at any time).
    #[inline]
    pub fn prefetch(&self) {
        crate::util::prefetch(self.0.as_ptr());
    }

    /// The captured entry, as it was when the snapshot began.
    ///
    /// # Safety
    /// The table that captured it must not have called [`Table::release_hold`] yet (nor
    /// been dropped).
    pub unsafe fn entry(&self) -> &Entry {
        // SAFETY: the caller guarantees the hold is still active, so the entry is alive
        // and unchanged (see the `Send` impl above).
        unsafe { self.0.as_ref() }
    }
}

/// Receives the segments of a snapshot in progress (see [`Table::start_snapshot`]).
pub trait SegmentSink: Send {
    /// These entries of database `db` belong to the snapshot; called once per non-empty
    /// segment per snapshot, always before the segment changes. Returns the capture's
    /// sequence number: increasing from 1 in call order across all tables. The entries
    /// stay readable and unchanged until the snapshot's progress counter reaches that
    /// number (or the hold is released).
    fn segment(&mut self, db: usize, entries: Vec<Held>) -> u64;
}

/// Shared handle to the sink of the snapshot in progress.
pub type SharedSink = std::sync::Arc<std::sync::Mutex<dyn SegmentSink>>;

/// What keeps captured entries intact from [`Table::start_snapshot`] until the writer has
/// encoded them (or [`Table::release_hold`]).
#[derive(Debug)]
struct Hold {
    /// The last capture sequence number the writer has finished with.
    encoded: Arc<AtomicU64>,
    /// Entries allocated since the hold began, by address. Snapshots never see them, so
    /// they change in place. A fresh entry freed and its address reused holds a fresh
    /// entry again, so addresses are never removed. (An entry missing from here is only
    /// copied once more than needed.)
    fresh: HashSet<usize, foldhash::fast::RandomState>,
    /// Held entries that left the table, by the capture that holds them: freed once it
    /// is encoded.
    retired: BTreeMap<u64, Retired>,
    retired_bytes: usize,
}

/// Entries a snapshot no longer needs, to be freed (off the event loop when many). Boxed on
/// purpose: they are the table's allocations, read by the writer at the captured address.
#[allow(clippy::vec_box)]
pub type Retired = Vec<Box<Entry>>;

/// Record an access to `e` by `clock` (`rng`: the LFU coin's xorshift state).
#[inline]
fn touch(clock: &Clock, rng: &Cell<u32>, e: &Entry) {
    if !clock.is_lfu() {
        return e.stamp.touch_lru(clock.lru_bits());
    }
    let Some(old) = e.stamp.field() else { return };
    let mut x = rng.get();
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    rng.set(x);
    e.stamp.set_field(clock.touched(old, x));
}

/// Sequence number for retired entries of an earlier, unreleased hold: never encoded.
const NEVER: u64 = u64::MAX;

#[inline]
fn addr(e: &Entry) -> usize {
    e as *const Entry as usize
}

impl Hold {
    fn new(encoded: Arc<AtomicU64>) -> Hold {
        Hold {
            encoded,
            fresh: HashSet::default(),
            retired: BTreeMap::new(),
            retired_bytes: 0,
        }
    }

    /// Whether the writer may still read `e`, which sits in a segment captured under
    /// `seq` (0: never captured).
    #[inline]
    fn shared(&self, e: &Entry, seq: u64) -> bool {
        seq > self.encoded.load(Ordering::Acquire) && !self.fresh.contains(&addr(e))
    }

    #[inline]
    fn adopt(&mut self, e: &Entry) {
        self.fresh.insert(addr(e));
    }

    /// Keep `old` (from a segment captured under `seq`) while the writer may read it;
    /// free it otherwise.
    fn retire(&mut self, old: Box<Entry>, seq: u64) {
        if self.shared(&old, seq) {
            self.retired_bytes += old.mem_size() + std::mem::size_of::<Box<Entry>>();
            self.retired.entry(seq).or_default().push(old);
        }
    }

    /// Take the retired entries the writer is done with.
    fn take_encoded(&mut self) -> Retired {
        let done = self.encoded.load(Ordering::Acquire);
        if self
            .retired
            .first_key_value()
            .is_none_or(|(k, _)| *k > done)
        {
            return Vec::new();
        }
        let later = self.retired.split_off(&(done + 1));
        let free: Retired = std::mem::replace(&mut self.retired, later)
            .into_values()
            .flatten()
            .collect();
        for e in &free {
            self.retired_bytes -= e.mem_size() + std::mem::size_of::<Box<Entry>>();
        }
        free
    }

    /// Bytes the hold keeps beyond the live dataset (retired entries with their list
    /// slots, and the set of fresh entries). O(1): the pump asks every millisecond.
    fn bytes(&self) -> usize {
        self.retired_bytes + self.fresh.capacity() * (std::mem::size_of::<usize>() + 1)
    }
}

/// Make the entry in `slot` (of a segment captured under `seq`) safe to change in place:
/// while the writer may read it, it is first replaced by a copy (the original is
/// retired). Returns the change in heap bytes (a copy's buffers may be sized differently).
#[inline]
fn writable(hold: &mut Option<Hold>, slot: &mut Box<Entry>, seq: u64) -> isize {
    let Some(h) = hold else { return 0 };
    if !h.shared(slot, seq) {
        return 0;
    }
    let copy = Box::new((**slot).clone());
    h.adopt(&copy);
    let d = copy.mem_size() as isize - slot.mem_size() as isize;
    let old = std::mem::replace(slot, copy);
    h.retire(old, seq);
    d
}

/// Hand `e` to `free` (`drop`, or the lazy-free thread), or retire it if the writer may
/// still read it.
#[inline]
fn discard(hold: &mut Option<Hold>, e: Box<Entry>, seq: u64, free: impl FnOnce(Box<Entry>)) {
    match hold {
        Some(h) => h.retire(e, seq),
        None => free(e),
    }
}

#[derive(Clone)]
struct SnapState {
    epoch: u64,
    sink: SharedSink,
}

impl std::fmt::Debug for SnapState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SnapState({})", self.epoch)
    }
}

#[derive(Debug)]
pub struct Table {
    /// This table's database index, as snapshots record it.
    db: usize,
    /// The snapshot in progress: segments are captured before their first change.
    snap: Option<SnapState>,
    /// Entries captured by a snapshot stay intact until its writer is done with them.
    hold: Option<Hold>,
    dir: Vec<u32>,
    global_depth: u32,
    segments: Vec<Segment>,
    len: usize,
    expiring: usize,
    /// Heap bytes held by keys and values (slots are counted separately).
    heap: usize,
    hasher: foldhash::fast::RandomState,
    /// What an access writes into an entry's access field.
    clock: Clock,
    /// xorshift state for the LFU counter's coin flips.
    rng: Cell<u32>,
    /// Values replaced by a write go to the lazy-free thread when big
    /// (`lazyfree-lazy-server-del`).
    lazy_replace: bool,
}

impl Default for Table {
    fn default() -> Self {
        Self::new()
    }
}

impl Table {
    pub fn new() -> Self {
        Table {
            db: 0,
            snap: None,
            hold: None,
            dir: vec![0],
            global_depth: 0,
            segments: vec![Segment::default()],
            len: 0,
            expiring: 0,
            heap: 0,
            hasher: foldhash::fast::RandomState::default(),
            clock: Clock::default(),
            rng: Cell::new(0x9E37_79B9),
            lazy_replace: false,
        }
    }

    /// Free big values replaced by writes on the lazy-free thread (see
    /// [`super::lazyfree`]).
    pub fn set_lazy_replace(&mut self, lazy: bool) {
        self.lazy_replace = lazy;
    }

    /// Drop an entry replaced by a write (or keep it for the snapshot that reads it).
    fn discard_replaced(&mut self, e: Box<Entry>, seq: u64) {
        discard(&mut self.hold, e, seq, lazyfree::dropper(self.lazy_replace));
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Keys with an expiry set.
    pub fn expiring(&self) -> usize {
        self.expiring
    }

    /// Estimated memory of the table: slots plus keys' and values' heap.
    pub fn mem_size(&self) -> usize {
        self.overhead() + self.heap
    }

    /// Estimated memory of the table itself, without the entries (MEMORY STATS's
    /// `overhead.hashtable.main`).
    pub fn overhead(&self) -> usize {
        let buckets: usize = self
            .segments
            .iter()
            .map(|s| s.table.allocation_size())
            .sum();
        buckets + self.segments.len() * std::mem::size_of::<Segment>() + self.dir.len() * 4
    }

    #[inline]
    pub fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    /// The hash a segment's table sees. Segments are chosen by the top bits of `h`, so
    /// inside one segment those bits are all equal; hashbrown takes its 7-bit tag from the
    /// top bits, so hand it the hash rotated to make the tag (and bucket) vary.
    #[inline]
    fn inner(h: u64) -> u64 {
        h.rotate_left(32)
    }

    #[inline]
    fn seg_of(&self, h: u64) -> usize {
        let slot = if self.global_depth == 0 {
            0
        } else {
            (h >> (64 - self.global_depth)) as usize
        };
        self.dir[slot] as usize
    }

    /// The entry for `key`, recording the access (Redis's lookupKey). Use
    /// [`Table::peek`] where Redis passes LOOKUP_NOTOUCH (TYPE, EXISTS, TTL, OBJECT).
    #[inline]
    pub fn get(&self, key: &[u8]) -> Option<&Entry> {
        let e = self.get_hashed(key, self.hash(key))?;
        self.touch(e);
        Some(e)
    }

    /// The entry for `key`, leaving its access field alone.
    pub fn peek(&self, key: &[u8]) -> Option<&Entry> {
        self.get_hashed(key, self.hash(key))
    }

    /// Record an access to `e` in its access field.
    #[inline]
    pub fn touch(&self, e: &Entry) {
        touch(&self.clock, &self.rng, e);
    }

    /// The clock access fields are written and read with.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    pub fn set_clock(&mut self, clock: Clock) {
        self.clock = clock;
    }

    /// [`Table::get`] with `h = self.hash(key)` already computed.
    fn get_hashed(&self, key: &[u8], h: u64) -> Option<&Entry> {
        self.segments[self.seg_of(h)]
            .table
            .find(Self::inner(h), |e| &*e.key == key)
            .map(|b| &**b)
    }

    /// Start loading the segment header a lookup of a key with hash `h` ([`Table::hash`])
    /// reads first (a cheap first pass over a batch, before [`Table::prefetch`]).
    #[inline]
    pub fn prefetch_segment(&self, h: u64) {
        crate::util::prefetch(&self.segments[self.seg_of(h)]);
    }

    /// Bring `key`'s entry (hash `h`) and its value's first bytes toward the cache (a
    /// batch of lookups done back to back lets their misses overlap). Returns the entry,
    /// for a second warm-up step inside its value.
    #[inline]
    pub fn prefetch(&self, key: &[u8], h: u64) -> Option<&Entry> {
        let e = self.get_hashed(key, h)?;
        e.prefetch_data();
        Some(e)
    }

    /// Mutable access for changes that keep the value's heap size, recording the access
    /// (a command's one lookup of its key, as INCR's); change values with
    /// [`Table::update`] (which keeps memory accounting right and, like
    /// [`Table::set_expire`], is not an access: the command looked its key up first).
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut Entry> {
        let h = self.hash(key);
        let s = self.seg_of(h);
        self.before_mutate(s);
        let seg = &mut self.segments[s];
        let slot = seg.table.find_mut(Self::inner(h), |e| &*e.key == key)?;
        let d = writable(&mut self.hold, slot, seg.snap_seq);
        self.heap = (self.heap as isize + d) as usize;
        let e = &mut **slot;
        touch(&self.clock, &self.rng, e);
        Some(e)
    }

    /// Change the value of an existing key in place, keeping memory accounting right.
    /// Returns None if the key is absent.
    pub fn update<R>(&mut self, key: &[u8], f: impl FnOnce(&mut Value) -> R) -> Option<R> {
        let h = self.hash(key);
        let s = self.seg_of(h);
        self.before_mutate(s);
        let seg = &mut self.segments[s];
        let e = seg.table.find_mut(Self::inner(h), |e| &*e.key == key)?;
        let d = writable(&mut self.hold, e, seg.snap_seq);
        let before = e.value.heap_size();
        let r = f(&mut e.value);
        let after = e.value.heap_size();
        self.heap = ((self.heap as isize + d) as usize + after).saturating_sub(before);
        Some(r)
    }

    /// Set or clear (`0`) the expiry of an existing key. Returns false if the key is absent.
    pub fn set_expire(&mut self, key: &[u8], at: u64) -> bool {
        let h = self.hash(key);
        let s = self.seg_of(h);
        self.before_mutate(s);
        let seg = &mut self.segments[s];
        let Some(e) = seg.table.find_mut(Self::inner(h), |e| &*e.key == key) else {
            return false;
        };
        if e.expire_at() == at {
            return true;
        }
        let d = writable(&mut self.hold, e, seg.snap_seq);
        self.heap = (self.heap as isize + d) as usize;
        match (e.expire_at() != 0, at != 0) {
            (false, true) => {
                seg.expiring += 1;
                self.expiring += 1;
            }
            (true, false) => {
                seg.expiring -= 1;
                self.expiring -= 1;
            }
            _ => {}
        }
        e.stamp.set_expire_at(at, self.clock.fresh());
        true
    }

    /// Insert or replace. Returns whether an entry with that key was replaced.
    pub fn insert(&mut self, entry: Entry) -> bool {
        self.insert_boxed(Box::new(entry))
    }

    /// [`Table::insert`] for an entry already on the heap (as the table keeps it).
    /// The entry's access field is set as for a new key; replacing a key is an access
    /// of it, and under LFU the new value keeps the count (Redis's dbOverwrite).
    pub fn insert_boxed(&mut self, entry: Box<Entry>) -> bool {
        entry.set_access(self.clock.fresh());
        self.put_boxed(entry, true)
    }

    /// Insert an entry taken from another key or database (RENAME, MOVE): it keeps its
    /// access field, as Redis moves the object itself.
    pub fn insert_moved(&mut self, entry: Entry) -> bool {
        self.put_boxed(Box::new(entry), false)
    }

    fn put_boxed(&mut self, entry: Box<Entry>, inherit: bool) -> bool {
        let h = self.hash(&entry.key);
        let s = self.segment_for_write(h, &entry.key);
        if let Some(hold) = &mut self.hold {
            hold.adopt(&entry);
        }
        let hasher = &self.hasher;
        let seg = &mut self.segments[s];
        let (old, delta) = Self::put(seg, hasher, Item::new(h, entry));
        Self::settle(seg, hasher);
        let seq = seg.snap_seq;
        self.apply(delta);
        match old {
            Some(o) => {
                if let (true, true, Some(f)) = (inherit, self.clock.is_lfu(), o.access()) {
                    if let Some(new) = self.peek(&o.key) {
                        new.set_access(f);
                        self.touch(new);
                    }
                }
                self.discard_replaced(o, seq);
                true
            }
            None => false,
        }
    }

    /// Undo a doubling of `seg`'s buckets that deletions caused. A segment never holds
    /// more than 448 entries (it splits first), which 512 buckets take; but deletions
    /// leave tombstones that use up the table's growth room, and hashbrown then resizes
    /// to 1024 buckets instead of rehashing in place once the table is over half full.
    /// Under churn (TTL expiry, eviction, session stores) every segment drifted there:
    /// ~20 more bytes per key. Rehashing back costs one pass over the segment per
    /// doubling.
    #[inline]
    fn settle(seg: &mut Segment, hasher: &foldhash::fast::RandomState) {
        if seg.table.capacity() > SEGMENT_MAX {
            seg.table
                .shrink_to(SEGMENT_MAX, |e| Self::inner(hasher.hash_one(&*e.key)));
        }
    }

    /// Rebuild `seg`'s table at its usual [`SEGMENT_BUCKETS`], without tombstones. hashbrown would
    /// do it on the next insert (or double the table, which [`Table::settle`] then undoes)
    /// by rehashing every key in turn, a cache miss each; here the entries are prefetched
    /// ahead as a split does, so the misses overlap. Under churn this runs every few
    /// dozen inserts into a well-filled segment.
    fn reclaim(seg: &mut Segment, hasher: &foldhash::fast::RandomState) {
        let old = std::mem::replace(&mut seg.table, HashTable::with_capacity(SEGMENT_MAX));
        let entries: Vec<Box<Entry>> = old.into_iter().collect();
        let hashes: Vec<u64> = (0..entries.len())
            .map(|i| {
                if let Some(ahead) = entries.get(i + SPLIT_PREFETCH) {
                    crate::util::prefetch(&**ahead as *const Entry);
                }
                Self::inner(hasher.hash_one(&*entries[i].key))
            })
            .collect();
        for (e, h) in entries.into_iter().zip(hashes) {
            seg.table
                .insert_unique(h, e, |e| Self::inner(hasher.hash_one(&*e.key)));
        }
    }

    /// Insert `item` into `seg`, replacing an entry with the same key (returned).
    fn put(
        seg: &mut Segment,
        hasher: &foldhash::fast::RandomState,
        item: Item,
    ) -> (Option<Box<Entry>>, Delta) {
        let Item { hash, meta, entry } = item;
        let mut d = Delta {
            heap: (meta >> 1) as isize,
            expiring: (meta & 1) as isize,
            len: 1,
        };
        let old = match seg.table.entry(
            Self::inner(hash),
            |e| e.key == entry.key,
            |e| Self::inner(hasher.hash_one(&*e.key)),
        ) {
            hashbrown::hash_table::Entry::Occupied(mut o) => {
                Some(std::mem::replace(o.get_mut(), entry))
            }
            hashbrown::hash_table::Entry::Vacant(v) => {
                v.insert(entry);
                None
            }
        };
        if let Some(o) = &old {
            d.heap -= o.mem_size() as isize;
            d.expiring -= (o.expire_at() != 0) as isize;
            d.len = 0;
        }
        seg.expiring = (seg.expiring as isize + d.expiring) as usize;
        (old, d)
    }

    fn apply(&mut self, d: Delta) {
        self.heap = (self.heap as isize + d.heap) as usize;
        self.expiring = (self.expiring as isize + d.expiring) as usize;
        self.len = (self.len as isize + d.len) as usize;
    }

    /// Fill an empty table with `entries` (loading a snapshot): the directory is sized for
    /// them up front, so nothing splits, and `threads` threads fill disjoint ranges of
    /// segments. A later entry replaces an earlier one with the same key. A table that is
    /// not empty (or is being snapshotted) takes them one by one. Entries keep the access
    /// fields they carry (a loader sets them: kept by the snapshot, or fresh).
    ///
    /// Cost model: the keys are hashed (and their sizes read) by all threads in parallel,
    /// then each thread groups its entries by segment (a counting sort) and fills one
    /// segment at a time, so a segment's slots stay in cache while its few hundred entries
    /// go in, instead of every insert missing the cache on a random segment.
    pub fn bulk_load(&mut self, mut entries: Vec<Box<Entry>>, threads: usize) {
        if self.len > 0 || self.segments.len() != 1 || self.snap.is_some() || self.hold.is_some() {
            for e in entries {
                self.put_boxed(e, false);
            }
            return;
        }
        let n = entries.len();
        // Segments start about 5/8 full: room to take writes before the first splits.
        let mut depth = 0u32;
        while (n >> depth) > SEGMENT_MAX * 5 / 8 && depth < 40 {
            depth += 1;
        }
        let count = 1usize << depth;
        let threads = threads.clamp(1, 64).min(count);
        let span = count.div_ceil(threads);
        let seg_of = move |h: u64| {
            if depth == 0 {
                0
            } else {
                (h >> (64 - depth)) as usize
            }
        };
        let hasher = self.hasher;
        // 1. Each thread hashes a slice of the entries and sorts them by destination thread.
        let per = n.div_ceil(threads).max(1);
        let mut chunks = Vec::with_capacity(threads);
        while entries.len() > per {
            chunks.push(entries.split_off(entries.len() - per));
        }
        chunks.push(entries);
        // split_off took the tail first: restore file order (a later duplicate wins).
        chunks.reverse();
        let routed: Vec<Vec<Vec<Item>>> = std::thread::scope(|sc| {
            let workers: Vec<_> = chunks
                .into_iter()
                .map(|chunk| {
                    sc.spawn(move || {
                        let mut out: Vec<Vec<Item>> = (0..threads)
                            .map(|_| Vec::with_capacity(chunk.len() / threads + 64))
                            .collect();
                        for e in chunk {
                            let h = hasher.hash_one(&*e.key);
                            out[seg_of(h) / span].push(Item::new(h, e));
                        }
                        out
                    })
                })
                .collect();
            workers.into_iter().map(join).collect()
        });
        let mut inbound: Vec<Vec<Vec<Item>>> = (0..threads).map(|_| Vec::new()).collect();
        for from in routed {
            for (to, items) in from.into_iter().enumerate() {
                inbound[to].push(items);
            }
        }
        // 2. Each thread fills its range of segments, one segment at a time.
        let mut segments: Vec<Segment> = (0..count)
            .map(|_| Segment {
                depth,
                table: HashTable::new(),
                expiring: 0,
                snap_ver: 0,
                snap_seq: 0,
            })
            .collect();
        let deltas: Vec<Delta> = std::thread::scope(|sc| {
            let workers: Vec<_> = segments
                .chunks_mut(span)
                .zip(inbound)
                .enumerate()
                .map(|(t, (segs, inbound))| {
                    let hasher = &hasher;
                    sc.spawn(move || {
                        let base = t * span;
                        // Counting sort by segment, keeping arrival order within one.
                        let mut start = vec![0usize; segs.len() + 1];
                        for item in inbound.iter().flatten() {
                            start[seg_of(item.hash) - base + 1] += 1;
                        }
                        for i in 0..segs.len() {
                            start[i + 1] += start[i];
                        }
                        let total = start[segs.len()];
                        let mut next = start.clone();
                        let mut sorted: Vec<Option<Item>> = (0..total).map(|_| None).collect();
                        for item in inbound.into_iter().flatten() {
                            let s = seg_of(item.hash) - base;
                            sorted[next[s]] = Some(item);
                            next[s] += 1;
                        }
                        let mut total = Delta::default();
                        for (s, seg) in segs.iter_mut().enumerate() {
                            let items = &mut sorted[start[s]..start[s + 1]];
                            seg.table =
                                HashTable::with_capacity(items.len().max(SEGMENT_MAX / 2 + 64));
                            for item in items.iter_mut().filter_map(Option::take) {
                                total += Self::put(seg, hasher, item).1;
                            }
                        }
                        total
                    })
                })
                .collect();
            workers.into_iter().map(join).collect()
        });
        self.segments = segments;
        self.dir = (0..count as u32).collect();
        self.global_depth = depth;
        for d in deltas {
            self.apply(d);
        }
    }

    /// The segment that `key` (hash `h`) goes to, made ready for a change: captured for
    /// a snapshot in progress, and split first if it is full and `key` would be new. Splitting
    /// before the insert (not after) keeps hashbrown from doubling a full segment's buckets
    /// only to have half of them emptied by the split.
    fn segment_for_write(&mut self, h: u64, key: &[u8]) -> usize {
        let s = self.seg_of(h);
        self.before_mutate(s);
        let seg = &self.segments[s];
        if seg.table.len() < SEGMENT_MAX {
            // No growth room left below SEGMENT_MAX entries: deletions' tombstones took it.
            if seg.table.len() == seg.table.capacity() && seg.table.num_buckets() >= SEGMENT_BUCKETS
            {
                Self::reclaim(&mut self.segments[s], &self.hasher);
            }
            return s;
        }
        if seg.table.find(Self::inner(h), |e| &*e.key == key).is_some() {
            return s;
        }
        self.split(s);
        let s = self.seg_of(h);
        self.before_mutate(s);
        s
    }

    /// Set `key` to `value` with one probe: replaces the value of an existing key (keeping
    /// the key's allocation) or inserts a new entry. `expire`: `Some(t)` sets the expiry
    /// (0 clears it), `None` keeps an existing key's expiry. Returns true if the key existed.
    pub fn upsert(&mut self, key: &[u8], value: Value, expire: Option<u64>) -> bool {
        let h = self.hash(key);
        let s = self.segment_for_write(h, key);
        let hasher = &self.hasher;
        let seg = &mut self.segments[s];
        let (existed, heap_before, heap_after, exp_before, exp_after);
        match seg.table.entry(
            Self::inner(h),
            |e| &*e.key == key,
            |e| Self::inner(hasher.hash_one(&*e.key)),
        ) {
            hashbrown::hash_table::Entry::Occupied(mut o) => {
                let e = o.get_mut();
                existed = true;
                exp_before = e.expire_at() != 0;
                // A write is an access; under LFU the new value inherits the count, as
                // Redis's dbOverwrite copies it.
                touch(&self.clock, &self.rng, e);
                let seq = seg.snap_seq;
                match self.hold.as_mut().filter(|hold| hold.shared(e, seq)) {
                    // Held by a snapshot: a new entry takes its place (the value is
                    // replaced anyway, so nothing is copied but the key).
                    Some(hold) => {
                        let mut new = Box::new(Entry {
                            key: e.key.clone(),
                            value,
                            stamp: e.stamp.clone(),
                        });
                        if let Some(t) = expire {
                            new.stamp.set_expire_at(t, self.clock.fresh());
                        }
                        hold.adopt(&new);
                        heap_before = e.mem_size();
                        heap_after = new.mem_size();
                        exp_after = new.expire_at() != 0;
                        hold.retire(std::mem::replace(e, new), seq);
                    }
                    None => {
                        heap_before = e.value.heap_size();
                        heap_after = value.heap_size();
                        let old = std::mem::replace(&mut e.value, value);
                        if self.lazy_replace {
                            lazyfree::drop_value(old);
                        }
                        if let Some(t) = expire {
                            e.stamp.set_expire_at(t, self.clock.fresh());
                        }
                        exp_after = e.expire_at() != 0;
                    }
                }
            }
            hashbrown::hash_table::Entry::Vacant(v) => {
                let e = Entry {
                    key: key.into(),
                    value,
                    stamp: Stamp::new(expire.unwrap_or(0), self.clock.fresh()),
                };
                existed = false;
                heap_before = 0;
                heap_after = e.mem_size();
                exp_before = false;
                exp_after = e.expire_at() != 0;
                let b = Box::new(e);
                if let Some(hold) = &mut self.hold {
                    hold.adopt(&b);
                }
                v.insert(b);
                Self::settle(seg, hasher);
            }
        }
        match (exp_before, exp_after) {
            (false, true) => {
                seg.expiring += 1;
                self.expiring += 1;
            }
            (true, false) => {
                seg.expiring -= 1;
                self.expiring -= 1;
            }
            _ => {}
        }
        self.heap = (self.heap + heap_after).saturating_sub(heap_before);
        if !existed {
            self.len += 1;
        }
        existed
    }

    /// Remove `key` and return its entry (a copy if a snapshot holds it: prefer
    /// [`Table::delete`] when the entry is not needed).
    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        let (b, seq) = self.take(key)?;
        Some(match &mut self.hold {
            Some(hold) if hold.shared(&b, seq) => {
                let e = (*b).clone();
                hold.retire(b, seq);
                e
            }
            _ => *b,
        })
    }

    /// Remove `key`. Returns whether it was present.
    pub fn delete(&mut self, key: &[u8]) -> bool {
        self.delete_with(key, drop)
    }

    /// Unlink `key`'s entry from the table (the caller retires or frees it), with the
    /// capture sequence of its segment.
    fn take(&mut self, key: &[u8]) -> Option<(Box<Entry>, u64)> {
        let h = self.hash(key);
        let s = self.seg_of(h);
        self.before_mutate(s);
        let seg = &mut self.segments[s];
        let e = match seg.table.find_entry(Self::inner(h), |e| &*e.key == key) {
            Ok(o) => o.remove().0,
            Err(_) => return None,
        };
        self.len -= 1;
        self.heap -= e.mem_size();
        if e.expire_at() != 0 {
            seg.expiring -= 1;
            self.expiring -= 1;
        }
        Some((e, seg.snap_seq))
    }

    /// [`Table::delete`], handing the entry to `free` instead of dropping it here (UNLINK).
    /// An entry a snapshot in progress still reads is kept for it as usual.
    pub fn delete_with(&mut self, key: &[u8], free: impl FnOnce(Box<Entry>)) -> bool {
        match self.take(key) {
            Some((b, seq)) => {
                discard(&mut self.hold, b, seq, free);
                true
            }
            None => false,
        }
    }

    /// Empty the table like [`Table::clear`], returning the old contents to be dropped
    /// elsewhere (FLUSHALL ASYNC). With a snapshot in progress the table is cleared as
    /// `clear` does (the snapshot keeps what it still reads) and nothing is returned.
    pub fn clear_detached(&mut self) -> Option<Detached> {
        if self.snap.is_some() || self.hold.is_some() {
            self.clear();
            return None;
        }
        let fresh = Table {
            db: self.db,
            hasher: self.hasher,
            clock: self.clock,
            lazy_replace: self.lazy_replace,
            ..Table::new()
        };
        let old = std::mem::replace(self, fresh);
        Some(Detached {
            keys: old.len,
            _segments: old.segments,
        })
    }

    pub fn clear(&mut self) {
        self.capture_all();
        let mut hold = self.hold.take();
        if let Some(hold) = &mut hold {
            for seg in &mut self.segments {
                for e in seg.table.drain() {
                    hold.retire(e, seg.snap_seq);
                }
            }
        }
        let fresh = Table {
            db: self.db,
            snap: self.snap.take(),
            hold,
            hasher: self.hasher,
            clock: self.clock,
            lazy_replace: self.lazy_replace,
            ..Table::new()
        };
        *self = fresh;
        // Only post-snapshot data can land in the new segment: nothing to capture.
        if let Some(sn) = &self.snap {
            self.segments[0].snap_ver = sn.epoch;
        }
    }

    pub fn db_index(&self) -> usize {
        self.db
    }

    pub fn set_db_index(&mut self, db: usize) {
        self.db = db;
    }

    /// Take `filled`'s content in place of this table's if this one is empty and not
    /// being snapshotted (a table built apart, e.g. by a startup load that must not hold
    /// the keyspace while it indexes); `filled` gets the empty table. Returns whether it
    /// did; otherwise neither table changes.
    pub fn replace_empty(&mut self, filled: &mut Table) -> bool {
        if self.len > 0 || self.snap.is_some() || self.hold.is_some() {
            return false;
        }
        filled.db = self.db;
        filled.clock = self.clock;
        filled.lazy_replace = self.lazy_replace;
        std::mem::swap(self, filled);
        true
    }

    /// Begin a snapshot: from now on every segment is handed to `sink` once, before it
    /// first changes, or when [`Table::snapshot_step`] reaches it, and every entry that
    /// exists now is held (never changed in place nor freed) until [`Table::release_hold`].
    /// Nothing is copied up front and writes keep flowing.
    /// `encoded` is the writer's progress: the last capture sequence it finished with.
    pub fn start_snapshot(&mut self, epoch: u64, sink: SharedSink, encoded: Arc<AtomicU64>) {
        self.snap = Some(SnapState { epoch, sink });
        let mut hold = Hold::new(encoded);
        // An earlier hold not yet released (the engine never does this): its retired
        // entries wait for the release, whatever the new writer's progress.
        if let Some(old) = self.hold.take() {
            let all: Retired = old.retired.into_values().flatten().collect();
            hold.retired_bytes = old.retired_bytes;
            hold.retired.insert(NEVER, all);
        }
        self.hold = Some(hold);
    }

    /// Retired entries the writer has finished with, for the caller to free.
    pub fn take_encoded(&mut self) -> Retired {
        self.hold
            .as_mut()
            .map(Hold::take_encoded)
            .unwrap_or_default()
    }

    /// End the hold: the snapshot's reader must be done with every entry it was handed.
    /// Returns the retired entries, for the caller to free (off the event loop: there
    /// can be many).
    pub fn release_hold(&mut self) -> Retired {
        self.hold
            .take()
            .map(|h| h.retired.into_values().flatten().collect())
            .unwrap_or_default()
    }

    /// Bytes the snapshot in progress keeps beyond the live dataset (retired entries and
    /// the bookkeeping of copies).
    pub fn held_bytes(&self) -> usize {
        self.hold.as_ref().map_or(0, Hold::bytes)
    }

    /// Capture up to `budget` entries' worth of not-yet-captured segments. Returns true
    /// when every segment of this table is in the snapshot (the table then stops
    /// intercepting changes; the hold lasts until released).
    pub fn snapshot_step(&mut self, budget: usize) -> bool {
        let Some(epoch) = self.snap.as_ref().map(|s| s.epoch) else {
            return true;
        };
        let mut done = 0;
        for s in 0..self.segments.len() {
            if self.segments[s].snap_ver < epoch {
                done += self.segments[s].table.len().max(1);
                self.before_mutate(s);
                if done >= budget {
                    return false;
                }
            }
        }
        self.snap = None;
        true
    }

    /// Stop intercepting changes for a snapshot that was abandoned.
    pub fn abort_snapshot(&mut self) {
        self.snap = None;
    }

    /// Whether a snapshot is still collecting this table.
    pub fn snapshot_active(&self) -> bool {
        self.snap.is_some()
    }

    /// Capture every segment not yet in the snapshot (before a whole-table change).
    pub fn capture_all(&mut self) {
        if self.snap.is_some() {
            self.snapshot_step(usize::MAX);
        }
    }

    #[inline]
    fn before_mutate(&mut self, s: usize) {
        let Some(sn) = &self.snap else { return };
        let seg = &mut self.segments[s];
        if seg.snap_ver >= sn.epoch {
            return;
        }
        seg.snap_ver = sn.epoch;
        let held: Vec<Held> = seg
            .table
            .iter()
            .map(|b| Held(NonNull::from(&**b)))
            .collect();
        if held.is_empty() {
            seg.snap_seq = 0;
            return;
        }
        let mut sink = sn.sink.lock().unwrap_or_else(|p| p.into_inner());
        seg.snap_seq = sink.segment(self.db, held);
    }

    /// Split segment `s` in two by the next hash bit, doubling the directory if needed.
    fn split(&mut self, s: usize) {
        let d = self.segments[s].depth;
        if d == self.global_depth {
            let mut dir = Vec::with_capacity(self.dir.len() * 2);
            for &x in &self.dir {
                dir.push(x);
                dir.push(x);
            }
            self.dir = dir;
            self.global_depth += 1;
        }
        let bit = 1u64 << (63 - d);
        let hasher = &self.hasher;
        let seg = &mut self.segments[s];
        seg.depth = d + 1;
        // A split is a change: `s` was captured before it (the caller's insert did),
        // and the half that moves out carries the same snapshot version.
        let mut upper = Segment {
            depth: d + 1,
            table: HashTable::with_capacity(SEGMENT_MAX / 2 + 64),
            expiring: 0,
            snap_ver: seg.snap_ver,
            snap_seq: seg.snap_seq,
        };
        // Hash every entry first, prefetching ahead: the entries are cold (a cache miss
        // each), and hashing them inside `extract_if` would take the misses one at a time.
        // `extract_if` visits entries in the order `iter` does; the pointer check keeps a
        // mismatch (never seen) correct, just slower.
        let (entries, hashes): (Vec<*const Entry>, Vec<u64>) = {
            let refs: Vec<&Entry> = seg.table.iter().map(|b| &**b).collect();
            let hashes = (0..refs.len())
                .map(|i| {
                    if let Some(&ahead) = refs.get(i + SPLIT_PREFETCH) {
                        crate::util::prefetch(ahead);
                    }
                    hasher.hash_one(&*refs[i].key)
                })
                .collect();
            (
                refs.into_iter().map(|e| e as *const Entry).collect(),
                hashes,
            )
        };
        let mut next = 0;
        let current = std::cell::Cell::new(0u64);
        let move_up = |e: &mut Box<Entry>| {
            let h = match (entries.get(next), hashes.get(next)) {
                (Some(&p), Some(&h)) if std::ptr::eq(p, &**e) => h,
                _ => hasher.hash_one(&*e.key),
            };
            next += 1;
            current.set(h);
            h & bit != 0
        };
        for e in seg.table.extract_if(move_up) {
            if e.expire_at() != 0 {
                upper.expiring += 1;
            }
            upper
                .table
                .insert_unique(Self::inner(current.get()), e, |e| {
                    Self::inner(hasher.hash_one(&*e.key))
                });
        }
        seg.expiring -= upper.expiring;
        let t = self.segments.len() as u32;
        self.segments.push(upper);
        // The directory slots of `s` form one contiguous run; its upper half moves to `t`.
        let span = 1usize << (self.global_depth - d);
        let first = self
            .dir
            .iter()
            .position(|&x| x as usize == s)
            .expect("segment in dir");
        for slot in &mut self.dir[first + span / 2..first + span] {
            *slot = t;
        }
    }

    /// Visit entries in hash order starting at `cursor` (a position in hash space) until at
    /// least `count` were visited or the table ends. Returns the next cursor (0 = done).
    /// Every key present for a whole scan is visited at least once, whatever splits happen.
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&Entry)) -> u64 {
        let count = count.max(1);
        let mut cursor = cursor;
        let mut visited = 0;
        loop {
            let seg = &self.segments[self.seg_of(cursor)];
            let mut hs: Vec<(u64, &Entry)> = seg
                .table
                .iter()
                .map(|e| (self.hash(&e.key), &**e))
                .filter(|(h, _)| *h >= cursor)
                .collect();
            hs.sort_unstable_by_key(|(h, _)| *h);
            for i in 0..hs.len() {
                // Stop only between distinct hashes, so equal hashes are never split.
                if visited >= count && hs[i - 1].0 != hs[i].0 {
                    return hs[i].0;
                }
                f(hs[i].1);
                visited += 1;
            }
            match segment_end(cursor, seg.depth) {
                None => return 0,
                Some(next) if visited >= count => return next,
                Some(next) => cursor = next,
            }
        }
    }

    /// A pseudo-random entry, or None when empty. Uniform over all keys while every
    /// segment has the same bucket count (the usual state: a segment splits before it
    /// outgrows 512 buckets), since a try picks a bucket uniformly and retries on an empty
    /// one; skewed toward keys in smaller segments otherwise.
    pub fn random(&self, rng: &mut impl rand::Rng) -> Option<&Entry> {
        if self.len == 0 {
            return None;
        }
        let n = self.segments.len();
        // A segment is at least ~44% full once split, so 64 misses in a row are
        // vanishingly rare unless the table is nearly empty; then scan.
        for _ in 0..64 {
            let seg = &self.segments[rng.gen_range(0..n)];
            let buckets = seg.table.num_buckets();
            if buckets == 0 {
                continue;
            }
            if let Some(e) = seg.table.get_bucket(rng.gen_range(0..buckets)) {
                return Some(e);
            }
        }
        let start = rng.gen_range(0..n);
        (0..n)
            .map(|i| &self.segments[(start + i) % n])
            .find_map(|s| s.entries_from(0, false).next())
    }

    /// A pseudo-random entry with an expiry, or None when no key has one: a random segment
    /// holding some, then the first such entry from a random bucket on (skewed toward
    /// entries after runs of buckets without one, as Redis's bucket sampling is).
    pub fn random_expiring(&self, rng: &mut impl rand::Rng) -> Option<&Entry> {
        let seg = self.random_segment(rng, true)?;
        let from = rng.gen_range(0..seg.table.num_buckets());
        seg.entries_from(from, true).next()
    }

    /// A random segment holding entries (with an expiry, for `ttl_only`); after 64 misses
    /// (few segments hold any), the first such segment from a random place. None when
    /// no segment holds one.
    fn random_segment(&self, rng: &mut impl rand::Rng, ttl_only: bool) -> Option<&Segment> {
        if (if ttl_only { self.expiring } else { self.len }) == 0 {
            return None;
        }
        let n = self.segments.len();
        for _ in 0..64 {
            let seg = &self.segments[rng.gen_range(0..n)];
            if seg.held(ttl_only) > 0 {
                return Some(seg);
            }
        }
        let start = rng.gen_range(0..n);
        (0..n)
            .map(|i| &self.segments[(start + i) % n])
            .find(|s| s.held(ttl_only) > 0)
    }

    /// Fill `out` with up to `out.len()` entries (with an expiry, for `ttl_only`) from
    /// consecutive buckets of one random segment, starting at a random bucket; returns how
    /// many. Eviction's sampler, as Redis's dictGetSomeKeys: one segment and a few
    /// adjacent slots cost a handful of cache misses, where independent random picks cost
    /// three or four each, and a key's bucket says nothing about its idle time or
    /// frequency. Each entry is prefetched, so the caller's reads of them overlap.
    pub fn sample_into<'a>(
        &'a self,
        rng: &mut impl rand::Rng,
        ttl_only: bool,
        out: &mut [Option<&'a Entry>],
    ) -> usize {
        if out.is_empty() {
            return 0;
        }
        let Some(seg) = self.random_segment(rng, ttl_only) else {
            return 0;
        };
        let from = rng.gen_range(0..seg.table.num_buckets());
        let mut filled = 0;
        for (slot, e) in out.iter_mut().zip(seg.entries_from(from, ttl_only)) {
            crate::util::prefetch(e as *const Entry);
            *slot = Some(e);
            filled += 1;
        }
        filled
    }

    pub fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.segments
            .iter()
            .flat_map(|s| s.table.iter().map(|b| &**b))
    }

    /// Number of segments (for active expiry's round-robin cursor).
    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// Remove the entries of segment `s` for which `expired(entry)` is true, passing each
    /// removed entry to `on_removed`. Skips segments with no expiring keys. Returns how many
    /// entries were examined.
    pub fn expire_segment(
        &mut self,
        s: usize,
        mut expired: impl FnMut(&Entry) -> bool,
        mut on_removed: impl FnMut(&Entry),
        mut free: impl FnMut(Box<Entry>),
    ) -> usize {
        let Some(seg) = self.segments.get(s) else {
            return 0;
        };
        if seg.expiring == 0 {
            return 0;
        }
        let examined = seg.table.len();
        // Only a segment that really changes needs serializing for a snapshot first.
        if !seg.table.iter().any(|e| e.expire_at() != 0 && expired(e)) {
            return examined;
        }
        self.before_mutate(s);
        let seg = &mut self.segments[s];
        let removed: Vec<Box<Entry>> = seg
            .table
            .extract_if(|e| e.expire_at() != 0 && expired(e))
            .collect();
        seg.expiring -= removed.len();
        self.expiring -= removed.len();
        self.len -= removed.len();
        let seq = seg.snap_seq;
        for e in removed {
            self.heap -= e.mem_size();
            on_removed(&e);
            discard(&mut self.hold, e, seq, &mut free);
        }
        examined
    }
}

/// The first hash after the range of the segment (depth `d`) holding `h`; None at the end.
fn segment_end(h: u64, d: u32) -> Option<u64> {
    if d == 0 {
        return None;
    }
    let shift = 64 - d;
    let prefix = h >> shift;
    (prefix + 1)
        .checked_shl(shift)
        .filter(|_| prefix + 1 < (1u64 << d))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn entry(k: &[u8]) -> Entry {
        Entry::new(k.into(), Value::Int(1), 0)
    }

    #[test]
    fn an_entry_is_one_64_byte_allocation() {
        // The key is inline up to 30 bytes: with a 64-byte entry that costs no more than
        // the 48-byte entry plus a 16-byte key allocation it replaced.
        assert_eq!(std::mem::size_of::<Entry>(), 64);
        let e = entry(b"key:000000123456");
        assert_eq!(e.mem_size(), 64);
    }

    #[test]
    fn insert_get_remove_across_splits() {
        let mut t = Table::new();
        for i in 0..20_000u32 {
            assert!(!t.insert(entry(format!("k{i}").as_bytes())));
        }
        assert_eq!(t.len(), 20_000);
        assert!(t.segment_count() > 4);
        for i in 0..20_000u32 {
            assert!(t.get(format!("k{i}").as_bytes()).is_some(), "k{i}");
        }
        for i in 0..10_000u32 {
            assert!(t.remove(format!("k{i}").as_bytes()).is_some());
        }
        assert_eq!(t.len(), 10_000);
        assert_eq!(t.iter().count(), 10_000);
    }

    #[test]
    fn replace_empty_takes_a_filled_table_only_into_an_empty_one() {
        let make = |i: u32| {
            Box::new(Entry::new(
                format!("k{i}").into_bytes().into(),
                Value::Str(b"v".to_vec()),
                0,
            ))
        };
        let mut filled = Table::new();
        filled.bulk_load((0..1000).map(make).collect(), 2);
        let mut slot = Table::new();
        slot.set_db_index(3);
        assert!(slot.replace_empty(&mut filled));
        assert_eq!((slot.len(), filled.len()), (1000, 0));
        assert_eq!(slot.db_index(), 3, "the slot keeps its database index");
        assert!(slot.get(b"k999").is_some());
        // A table that holds keys is never replaced: the filled one comes back whole.
        let mut other = Table::new();
        other.bulk_load((0..10).map(make).collect(), 2);
        assert!(!slot.replace_empty(&mut other));
        assert_eq!((slot.len(), other.len()), (1000, 10));
    }

    #[test]
    fn bulk_load_matches_one_by_one_inserts() {
        // Duplicates (the later one wins), expiring keys, and enough keys for many segments.
        let make = |i: u32| {
            Entry::new(
                format!("k{}", i % 30_000).into_bytes().into(),
                Value::Str(vec![b'v'; (i % 50) as usize]),
                if i.is_multiple_of(7) {
                    1_000 + i as u64
                } else {
                    0
                },
            )
        };
        let mut one = Table::new();
        for i in 0..40_000u32 {
            one.insert(make(i));
        }
        for threads in [1, 2, 3] {
            let mut bulk = Table::new();
            bulk.bulk_load((0..40_000u32).map(|i| Box::new(make(i))).collect(), threads);
            assert_eq!(bulk.len(), 30_000);
            assert_eq!(bulk.len(), one.len());
            assert_eq!(bulk.expiring(), one.expiring());
            assert_eq!(bulk.heap, one.heap);
            assert!(bulk.segment_count() > 64);
            for i in 10_000..40_000u32 {
                let want = make(i);
                let got = bulk.get(&want.key).expect("key present");
                assert_eq!(got.value, want.value);
                assert_eq!(got.expire_at(), want.expire_at());
            }
            // The table keeps working: inserts split segments, removes, scans see all.
            for i in 0..20_000u32 {
                bulk.insert(entry(format!("new{i}").as_bytes()));
            }
            assert!(bulk.remove(b"k5").is_some());
            assert_eq!(bulk.len(), 49_999);
            let mut seen = HashSet::new();
            let mut c = 0;
            loop {
                c = bulk.scan(c, 100, |e| {
                    seen.insert(e.key.clone());
                });
                if c == 0 {
                    break;
                }
            }
            assert_eq!(seen.len(), 49_999);
        }
        // A table that is not empty takes the entries one by one, with the same result.
        let mut t = Table::new();
        t.insert(entry(b"k1"));
        t.bulk_load(vec![Box::new(entry(b"k1")), Box::new(entry(b"k2"))], 2);
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn scan_visits_everything_once_without_changes() {
        let mut t = Table::new();
        for i in 0..10_000u32 {
            t.insert(entry(format!("k{i}").as_bytes()));
        }
        for count in [1, 10, 1000] {
            let mut seen = Vec::new();
            let mut c = 0;
            loop {
                c = t.scan(c, count, |e| seen.push(e.key.clone()));
                if c == 0 {
                    break;
                }
            }
            assert_eq!(seen.len(), 10_000, "count {count}");
            let uniq: HashSet<_> = seen.into_iter().collect();
            assert_eq!(uniq.len(), 10_000);
        }
    }

    #[test]
    fn scan_survives_splits_during_the_scan() {
        let mut t = Table::new();
        for i in 0..3000u32 {
            t.insert(entry(format!("old{i}").as_bytes()));
        }
        let mut seen = HashSet::new();
        let mut c = 0;
        let mut n = 0;
        loop {
            c = t.scan(c, 10, |e| {
                seen.insert(e.key.clone());
            });
            for _ in 0..50 {
                t.insert(entry(format!("new{n}").as_bytes()));
                n += 1;
            }
            if c == 0 {
                break;
            }
        }
        for i in 0..3000u32 {
            assert!(seen.contains(format!("old{i}").as_bytes()), "old{i} missed");
        }
    }

    #[test]
    fn churn_keeps_segments_at_their_bucket_count() {
        // Deleting and inserting at a steady key count leaves tombstones; hashbrown used
        // to answer them by doubling a segment's buckets (see `settle`).
        let mut t = Table::new();
        let mut live: Vec<u32> = (0..20_000).collect();
        for &i in &live {
            t.insert(entry(format!("k{i}").as_bytes()));
        }
        let loaded = t.overhead();
        let (mut next, mut x) = (20_000u32, 0x2545_F491_4F6C_DD1Du64);
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let gone = live.swap_remove((x % live.len() as u64) as usize);
            assert!(t.delete(format!("k{gone}").as_bytes()));
            t.insert(entry(format!("k{next}").as_bytes()));
            live.push(next);
            next += 1;
        }
        assert_eq!(t.len(), 20_000);
        // Segments were rebuilt many times over (`reclaim`): every live key is still found.
        assert!(live
            .iter()
            .all(|i| t.get(format!("k{i}").as_bytes()).is_some()));
        assert_eq!(t.iter().count(), 20_000);
        let churned = t.overhead();
        assert!(
            churned <= loaded * 5 / 4,
            "bucket memory grew from {loaded} to {churned} bytes"
        );
    }

    #[test]
    fn a_full_segment_takes_segment_buckets() {
        // `reclaim` and `settle` rely on it: hashbrown's 7/8 load for SEGMENT_MAX entries.
        let t = HashTable::<Box<Entry>>::with_capacity(SEGMENT_MAX);
        assert_eq!(t.num_buckets(), SEGMENT_BUCKETS);
        assert_eq!(t.capacity(), SEGMENT_MAX);
    }

    #[test]
    fn random_draws_every_key_alike() {
        // Segments of one bucket count: a uniform bucket, retried when empty, is a uniform
        // key. Chi-square over 20,000 keys with 20 draws expected each.
        use rand::SeedableRng;
        let mut t = Table::new();
        let n = 20_000u32;
        for i in 0..n {
            t.insert(entry(format!("k{i}").as_bytes()));
        }
        assert!(t.segment_count() > 32);
        let mut rng = rand::rngs::SmallRng::seed_from_u64(11);
        let mut seen = std::collections::HashMap::<Key, u32>::new();
        let draws = 20 * n;
        for _ in 0..draws {
            *seen
                .entry(t.random(&mut rng).unwrap().key.clone())
                .or_default() += 1;
        }
        assert_eq!(seen.len(), n as usize, "some key was never drawn");
        let expected = f64::from(draws / n);
        let chi2: f64 = seen
            .values()
            .map(|&c| (f64::from(c) - expected).powi(2) / expected)
            .sum();
        // Degrees of freedom 19,999: mean 19,999, standard deviation 200.
        assert!((19_000.0..21_000.0).contains(&chi2), "chi-square {chi2}");
        assert!(Table::new().random(&mut rng).is_none());
    }

    #[test]
    fn sample_into_takes_distinct_keys_and_honours_ttl_only() {
        use rand::SeedableRng;
        let mut rng = rand::rngs::SmallRng::seed_from_u64(5);
        let mut t = Table::new();
        assert_eq!(t.sample_into(&mut rng, false, &mut [None; 8]), 0);
        for i in 0..3 {
            t.insert(entry(format!("k{i}").as_bytes()));
        }
        assert_eq!(
            t.sample_into(&mut rng, false, &mut [None; 8]),
            3,
            "fewer keys than asked"
        );
        assert_eq!(
            t.sample_into(&mut rng, true, &mut [None; 8]),
            0,
            "no key has a TTL"
        );
        for i in 3..5000u32 {
            let mut e = entry(format!("k{i}").as_bytes());
            if i % 10 == 0 {
                e.set_expire_at(1_000 + u64::from(i));
            }
            t.insert(e);
        }
        let mut out = [None; 8];
        for _ in 0..200 {
            let got = t.sample_into(&mut rng, false, &mut out);
            assert_eq!(got, 8);
            let keys: HashSet<_> = out.iter().flatten().map(|e| e.key.clone()).collect();
            assert_eq!(keys.len(), 8, "a key sampled twice");
            let got = t.sample_into(&mut rng, true, &mut out[..4]);
            assert!(got >= 1);
            assert!(out[..got].iter().flatten().all(|e| e.expire_at() != 0));
        }
    }

    #[test]
    fn expiry_counters() {
        let mut t = Table::new();
        let mut e = entry(b"a");
        e.set_expire_at(5);
        t.insert(e);
        t.insert(entry(b"b"));
        assert_eq!(t.expiring(), 1);
        t.set_expire(b"b", 10);
        assert_eq!(t.expiring(), 2);
        let mut removed = Vec::new();
        for s in 0..t.segment_count() {
            t.expire_segment(
                s,
                |e| e.expire_at() <= 7,
                |e| removed.push(e.key.clone()),
                drop,
            );
        }
        assert_eq!(removed, vec![Key::from(&b"a"[..])]);
        assert_eq!(t.expiring(), 1);
        assert_eq!(t.len(), 1);
    }
}
