//! Hash values, in two encodings (OBJECT ENCODING names as Redis 7.0 reports them):
//!
//! - `listpack`: at most [`MAX_PACK_ENTRIES`] fields, no field or value longer than
//!   [`MAX_PACK_VALUE`] bytes (Redis 7.0's built-in defaults `hash-max-listpack-entries
//!   512` and `hash-max-listpack-value 64`; the sample redis.conf lowers entries to 128). The pairs sit in one buffer as
//!   `varint(len) field varint(len) value`, in insertion order; lookups walk it (a few KB
//!   at most). A hash of five short fields is one allocation of about the size of its
//!   bytes: the per-key overhead is what decides memory for many small hashes.
//! - `hashtable`: beyond those. Each pair is one allocation (`varint(len) field value`),
//!   indexed by a table split into segments of at most [`SEGMENT_MAX`] pairs by the top
//!   bits of the field's hash (extendible hashing, as the keyspace table does). Growth
//!   splits one segment instead of rehashing everything, so a huge hash never stalls the
//!   server, and HSCAN's cursor is a position in hash space that survives splits: every
//!   field present for a whole scan is returned.
//!
//! A hash converts to `hashtable` when it outgrows the listpack limits and never converts
//! back (as in Redis).
//!
//! Contract used by snapshots and memory accounting: `len`, `heap_size` (O(1), kept up to
//! date), `encoding`, `iter` (field, value pairs) and `from_pairs`.

use std::hash::BuildHasher;
use std::sync::OnceLock;

use super::alloc_size;
use super::table::SPLIT_PREFETCH;
use super::Warm;

/// `hash-max-listpack-entries` (Redis's compiled-in default).
pub const MAX_PACK_ENTRIES: usize = 512;
/// `hash-max-listpack-value`.
pub const MAX_PACK_VALUE: usize = 64;
/// A hashtable segment splits when it holds more pairs than this (3/4 of 1024 slots).
pub const SEGMENT_MAX: usize = 768;

pub struct Hash {
    repr: Repr,
}

enum Repr {
    /// The pair count (2 bytes, little-endian), then the pairs; empty when there are none.
    /// Exactly sized (like a listpack, each change reallocates, which the allocator does
    /// in place within a size class): no capacity word, no slack.
    Pack(Box<[u8]>),
    Table(Box<Big>),
}

// ---- framing -------------------------------------------------------------------------

#[inline]
fn put_varint(out: &mut Vec<u8>, mut v: usize) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

#[inline]
fn get_varint(buf: &[u8], pos: &mut usize) -> usize {
    let mut v = 0usize;
    let mut shift = 0;
    loop {
        let b = buf[*pos];
        *pos += 1;
        v |= ((b & 0x7f) as usize) << shift;
        if b & 0x80 == 0 {
            return v;
        }
        shift += 7;
    }
}

#[inline]
fn varint_len(n: usize) -> usize {
    let mut n = n >> 7;
    let mut len = 1;
    while n > 0 {
        n >>= 7;
        len += 1;
    }
    len
}

/// Edit an exactly sized buffer through a `Vec` (no copy: the allocation moves back and
/// forth) and give it back exactly sized.
fn rewrite(b: &mut Box<[u8]>, f: impl FnOnce(&mut Vec<u8>)) {
    let mut v = std::mem::take(b).into_vec();
    f(&mut v);
    *b = v.into_boxed_slice();
}

/// One pair in the packed buffer: byte ranges of the field and value, and where the pair
/// starts and ends.
#[derive(Clone, Copy)]
struct Slot {
    start: usize,
    field: (usize, usize),
    value: (usize, usize),
    end: usize,
}

#[inline]
fn read_pair(buf: &[u8], start: usize) -> Slot {
    let mut p = start;
    let fl = get_varint(buf, &mut p);
    let field = (p, p + fl);
    p += fl;
    let vl = get_varint(buf, &mut p);
    let value = (p, p + vl);
    Slot {
        start,
        field,
        value,
        end: p + vl,
    }
}

struct PackIter<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for PackIter<'a> {
    type Item = Slot;
    #[inline]
    fn next(&mut self) -> Option<Slot> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let s = read_pair(self.buf, self.pos);
        self.pos = s.end;
        Some(s)
    }
}

/// Bytes before the first pair of a non-empty packed buffer.
const PACK_HEADER: usize = 2;

fn pack_slots(buf: &[u8]) -> PackIter<'_> {
    PackIter {
        buf,
        pos: PACK_HEADER.min(buf.len()),
    }
}

fn pack_count(buf: &[u8]) -> usize {
    match buf {
        [lo, hi, ..] => u16::from_le_bytes([*lo, *hi]) as usize,
        _ => 0,
    }
}

fn set_pack_count(buf: &mut [u8], n: usize) {
    buf[..2].copy_from_slice(&(n as u16).to_le_bytes());
}

fn pack_find(buf: &[u8], field: &[u8]) -> Option<Slot> {
    pack_slots(buf).find(|s| &buf[s.field.0..s.field.1] == field)
}

// ---- the hashtable encoding ----------------------------------------------------------

fn hasher() -> &'static foldhash::fast::FixedState {
    static H: OnceLock<foldhash::fast::FixedState> = OnceLock::new();
    H.get_or_init(|| foldhash::fast::FixedState::with_seed(rand::random::<u64>() | 1))
}

#[inline]
fn hash_of(field: &[u8]) -> u64 {
    hasher().hash_one(field)
}

/// A stored pair: `varint(field len) field value`.
type Pair = Box<[u8]>;

#[inline]
fn pair_field(p: &[u8]) -> &[u8] {
    let mut pos = 0;
    let n = get_varint(p, &mut pos);
    &p[pos..pos + n]
}

#[inline]
fn pair_value(p: &[u8]) -> &[u8] {
    let mut pos = 0;
    let n = get_varint(p, &mut pos);
    &p[pos + n..]
}

fn make_pair(field: &[u8], value: &[u8]) -> Pair {
    let mut v = Vec::with_capacity(varint_len(field.len()) + field.len() + value.len());
    put_varint(&mut v, field.len());
    v.extend_from_slice(field);
    v.extend_from_slice(value);
    v.into_boxed_slice()
}

#[derive(Clone, Default)]
struct Segment {
    depth: u32,
    table: PairTable,
}

impl Segment {
    fn table_bytes(&self) -> usize {
        alloc_size(self.table.slots.len() * std::mem::size_of::<PairSlot>())
    }
}

/// One slot of a segment's table: the low 32 bits of the field's hash next to the
/// pair, so a probe filters on the same cache line that holds the pointer.
#[derive(Clone, Default)]
struct PairSlot {
    hash: u32,
    pair: Option<Pair>,
}

/// A segment's table: open addressing with linear probing, at most 3/4 full, a power
/// of two long, deletion by backward shift (no tombstones). Why not hashbrown: its
/// control bytes sit apart from its slots, so a lookup in a large hash missed the cache
/// three times (control bytes, slot, pair); here twice (slot, pair), and a batch can
/// warm both steps ahead (see [`Hash::prefetch_field`]). The hash bits in each slot let
/// the table grow and delete without reading any pair.
#[derive(Clone, Default)]
struct PairTable {
    slots: Box<[PairSlot]>,
    len: usize,
}

impl PairTable {
    fn len(&self) -> usize {
        self.len
    }

    #[inline]
    fn mask(&self) -> usize {
        self.slots.len().wrapping_sub(1)
    }

    /// Walk the probe run of hash `h` from its home slot: the first slot with `h`'s
    /// hash bits whose pair `hit` accepts, or None at the first empty slot.
    #[inline]
    fn probe(&self, h: u64, mut hit: impl FnMut(&Pair) -> bool) -> Option<usize> {
        if self.slots.is_empty() {
            return None;
        }
        let (tag, mask) = (h as u32, self.mask());
        let mut i = tag as usize & mask;
        loop {
            let slot = &self.slots[i];
            let p = slot.pair.as_ref()?;
            if slot.hash == tag && hit(p) {
                return Some(i);
            }
            i = (i + 1) & mask;
        }
    }

    /// The slot of `field` (whose hash is `h`), if present.
    #[inline]
    fn position(&self, h: u64, field: &[u8]) -> Option<usize> {
        self.probe(h, |p| pair_field(p) == field)
    }

    fn find(&self, h: u64, field: &[u8]) -> Option<&Pair> {
        let i = self.position(h, field)?;
        self.slots[i].pair.as_ref()
    }

    fn find_mut(&mut self, h: u64, field: &[u8]) -> Option<&mut Pair> {
        let i = self.position(h, field)?;
        self.slots[i].pair.as_mut()
    }

    /// Add a pair whose field is absent.
    fn insert_unique(&mut self, h: u64, pair: Pair) {
        self.reserve(1);
        Self::place(&mut self.slots, h as u32, pair);
        self.len += 1;
    }

    fn place(slots: &mut [PairSlot], tag: u32, pair: Pair) {
        let mask = slots.len() - 1;
        let mut i = tag as usize & mask;
        while slots[i].pair.is_some() {
            i = (i + 1) & mask;
        }
        slots[i] = PairSlot {
            hash: tag,
            pair: Some(pair),
        };
    }

    fn remove(&mut self, h: u64, field: &[u8]) -> Option<Pair> {
        let mut hole = self.position(h, field)?;
        let taken = self.slots[hole].pair.take();
        // Backward shift: pull later pairs of the probe run into the hole when the hole
        // lies between their home and where they sit.
        let mask = self.mask();
        let mut j = (hole + 1) & mask;
        while self.slots[j].pair.is_some() {
            let home = self.slots[j].hash as usize & mask;
            if (j.wrapping_sub(home) & mask) >= (j.wrapping_sub(hole) & mask) {
                self.slots.swap(hole, j);
                hole = j;
            }
            j = (j + 1) & mask;
        }
        self.len -= 1;
        if self.slots.len() > 64 && self.len < self.slots.len() / 8 {
            self.resize((self.len * 4).next_power_of_two().max(8));
        }
        taken
    }

    fn reserve(&mut self, n: usize) {
        let need = self.len + n;
        if need * 4 > self.slots.len() * 3 {
            self.resize((need * 4 / 3 + 1).next_power_of_two().max(8));
        }
    }

    fn resize(&mut self, cap: usize) {
        let mut slots: Box<[PairSlot]> = (0..cap).map(|_| PairSlot::default()).collect();
        for slot in self.slots.iter_mut() {
            if let Some(p) = slot.pair.take() {
                Self::place(&mut slots, slot.hash, p);
            }
        }
        self.slots = slots;
    }

    fn iter(&self) -> impl Iterator<Item = &Pair> {
        self.slots.iter().filter_map(|s| s.pair.as_ref())
    }

    /// Start loading the slot line where a lookup of hash `h` begins.
    #[inline]
    fn prefetch_home(&self, h: u64) {
        if !self.slots.is_empty() {
            crate::util::prefetch(&self.slots[h as u32 as usize & self.mask()]);
        }
    }

    /// Start loading the pair of the first slot whose hash bits match `h` (reads slots
    /// only).
    #[inline]
    fn prefetch_pair(&self, h: u64) {
        // The first hash match, without reading the pair.
        if let Some(p) = self
            .probe(h, |_| true)
            .and_then(|i| self.slots[i].pair.as_ref())
        {
            crate::util::prefetch(p.as_ptr());
        }
    }
}

#[derive(Clone)]
struct Big {
    dir: Vec<u32>,
    global_depth: u32,
    segments: Vec<Segment>,
    len: usize,
    /// Pairs' allocations plus the segments' tables.
    heap: usize,
}

impl Big {
    fn new() -> Big {
        Big {
            dir: vec![0],
            global_depth: 0,
            segments: vec![Segment::default()],
            len: 0,
            heap: 0,
        }
    }

    fn heap_size(&self) -> usize {
        self.heap
            + alloc_size(self.dir.capacity() * 4)
            + alloc_size(self.segments.capacity() * std::mem::size_of::<Segment>())
    }

    #[inline]
    fn seg_of(&self, h: u64) -> usize {
        if self.global_depth == 0 {
            0
        } else {
            self.dir[(h >> (64 - self.global_depth)) as usize] as usize
        }
    }

    fn get(&self, field: &[u8]) -> Option<&[u8]> {
        let h = hash_of(field);
        self.segments[self.seg_of(h)]
            .table
            .find(h, field)
            .map(|p| pair_value(p))
    }

    /// Insert or replace; true if the field is new.
    fn insert(&mut self, field: &[u8], value: &[u8]) -> bool {
        let h = hash_of(field);
        let s = self.seg_of(h);
        let seg = &mut self.segments[s];
        if let Some(p) = seg.table.find_mut(h, field) {
            let at = p.len() - pair_value(p).len();
            if p.len() - at == value.len() {
                // Same length (counters, fixed-size records): overwrite in place, no
                // allocation.
                p[at..].copy_from_slice(value);
            } else {
                let pair = make_pair(field, value);
                self.heap += alloc_size(pair.len());
                self.heap -= alloc_size(p.len());
                *p = pair;
            }
            return false;
        }
        let pair = make_pair(field, value);
        let before = seg.table_bytes();
        let new_cost = alloc_size(pair.len());
        seg.table.insert_unique(h, pair);
        self.heap = self.heap + new_cost + seg.table_bytes() - before;
        self.len += 1;
        if seg.table.len() > SEGMENT_MAX {
            self.split(s);
        }
        true
    }

    fn remove(&mut self, field: &[u8]) -> bool {
        let h = hash_of(field);
        let s = self.seg_of(h);
        let seg = &mut self.segments[s];
        let before = seg.table_bytes();
        // (The table gives memory back by itself once it is mostly empty.)
        let Some(p) = seg.table.remove(h, field) else {
            return false;
        };
        self.heap = self.heap - alloc_size(p.len()) - before + seg.table_bytes();
        self.len -= 1;
        true
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
        let seg = &mut self.segments[s];
        let before = seg.table_bytes();
        seg.depth = d + 1;
        let old = std::mem::take(&mut seg.table);
        let mut upper = Segment {
            depth: d + 1,
            table: PairTable::default(),
        };
        // Each pair is cold: prefetch a few ahead of the one being hashed.
        let mut slots = old.slots;
        for i in 0..slots.len() {
            if let Some(ahead) = slots.get(i + SPLIT_PREFETCH).and_then(|s| s.pair.as_ref()) {
                crate::util::prefetch(ahead.as_ptr());
            }
            if let Some(p) = slots[i].pair.take() {
                let h = hash_of(pair_field(&p));
                let half = if h & bit != 0 { &mut upper } else { &mut *seg };
                half.table.insert_unique(h, p);
            }
        }
        self.heap = self.heap + seg.table_bytes() + upper.table_bytes() - before;
        let t = self.segments.len() as u32;
        self.segments.push(upper);
        let span = 1usize << (self.global_depth - d);
        let first = self
            .dir
            .iter()
            .position(|&x| x as usize == s)
            .expect("segment in the directory");
        for slot in &mut self.dir[first + span / 2..first + span] {
            *slot = t;
        }
    }

    /// Visit pairs in hash order from `cursor` until at least `count` were visited or the
    /// table ends; returns the next cursor (0 = done). Equal hashes are never split.
    fn scan(&self, cursor: u64, count: usize, f: &mut dyn FnMut(&[u8], &[u8])) -> u64 {
        let count = count.max(1);
        let mut cursor = cursor;
        let mut visited = 0;
        loop {
            let seg = &self.segments[self.seg_of(cursor)];
            let mut hs: Vec<(u64, &Pair)> = seg
                .table
                .iter()
                .map(|p| (hash_of(pair_field(p)), p))
                .filter(|(h, _)| *h >= cursor)
                .collect();
            hs.sort_unstable_by_key(|(h, _)| *h);
            for i in 0..hs.len() {
                if visited >= count && hs[i - 1].0 != hs[i].0 {
                    return hs[i].0;
                }
                f(pair_field(hs[i].1), pair_value(hs[i].1));
                visited += 1;
            }
            let depth = seg.depth;
            // The first hash past this segment's range.
            let next = if depth == 0 {
                None
            } else {
                let span = 1u64 << (64 - depth);
                (cursor & !(span - 1)).checked_add(span)
            };
            match next {
                None => return 0,
                Some(n) if visited >= count => return n,
                Some(n) => cursor = n,
            }
        }
    }

    /// A uniformly random pair.
    fn random(&self, rng: &mut dyn rand::RngCore) -> (&[u8], &[u8]) {
        use rand::Rng;
        // Sparse (segments never merge after deletions): count through the segments.
        if self.len * 4 < self.segments.len() * SEGMENT_MAX {
            let mut r = rng.gen_range(0..self.len);
            for seg in &self.segments {
                let n = seg.table.len();
                if r < n {
                    let p = seg.table.iter().nth(r).expect("index within the segment");
                    return (pair_field(p), pair_value(p));
                }
                r -= n;
            }
        }
        // Pick a segment with probability proportional to its size (rejection sampling
        // against the maximum), then a pair inside it.
        loop {
            let seg = &self.segments[rng.gen_range(0..self.segments.len())];
            let n = seg.table.len();
            if n == 0 || rng.gen_range(0..SEGMENT_MAX + 1) >= n {
                continue;
            }
            let p = seg
                .table
                .iter()
                .nth(rng.gen_range(0..n))
                .expect("index within the segment");
            return (pair_field(p), pair_value(p));
        }
    }
}

// ---- the hash ------------------------------------------------------------------------

impl Default for Hash {
    fn default() -> Self {
        Hash::new()
    }
}

impl Clone for Hash {
    fn clone(&self) -> Self {
        Hash {
            repr: match &self.repr {
                Repr::Pack(b) => Repr::Pack(b.clone()),
                Repr::Table(t) => Repr::Table(t.clone()),
            },
        }
    }
}

impl std::fmt::Debug for Hash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(
                self.iter()
                    .map(|(k, v)| (String::from_utf8_lossy(k), String::from_utf8_lossy(v))),
            )
            .finish()
    }
}

/// Equal when they hold the same pairs, whatever the order or encoding.
impl PartialEq for Hash {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|(f, v)| other.get(f) == Some(v))
    }
}

/// How the pairs for [`Hash::from_pairs`] and conversion fit the listpack encoding.
fn packable(n: usize, f: usize, v: usize) -> bool {
    n <= MAX_PACK_ENTRIES && f <= MAX_PACK_VALUE && v <= MAX_PACK_VALUE
}

impl Hash {
    pub fn new() -> Hash {
        Hash {
            repr: Repr::Pack(Box::default()),
        }
    }

    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Pack(b) => pack_count(b),
            Repr::Table(t) => t.len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Heap bytes owned (beyond the `Hash` itself).
    pub fn heap_size(&self) -> usize {
        match &self.repr {
            Repr::Pack(b) => alloc_size(b.len()),
            Repr::Table(t) => alloc_size(std::mem::size_of::<Big>()) + t.heap_size(),
        }
    }

    pub fn encoding(&self) -> &'static str {
        match &self.repr {
            Repr::Pack(_) => "listpack",
            Repr::Table(_) => "hashtable",
        }
    }

    /// (field, value) pairs: insertion order for `listpack`, arbitrary for `hashtable`.
    pub fn iter(&self) -> Iter<'_> {
        Iter(match &self.repr {
            Repr::Pack(b) => IterInner::Pack(b, pack_slots(b)),
            Repr::Table(t) => IterInner::Table(&t.segments, 0, None),
        })
    }

    pub fn from_pairs<I: IntoIterator<Item = (Vec<u8>, Vec<u8>)>>(it: I) -> Hash {
        let mut h = Hash::new();
        for (f, v) in it {
            h.insert(&f, &v);
        }
        h
    }

    /// Warm-up for a batch of lookups of `field` in a large hash (a hint, no effect on a
    /// listpack): [`Warm::Slot`] for every lookup of the batch first, then
    /// [`Warm::Member`] (the pair) for each. Returns whether the first step applied.
    #[inline]
    pub fn prefetch_field(&self, field: &[u8], step: Warm) -> bool {
        let Repr::Table(t) = &self.repr else {
            return false;
        };
        let h = hash_of(field);
        let table = &t.segments[t.seg_of(h)].table;
        match step {
            Warm::Slot => table.prefetch_home(h),
            Warm::Member => table.prefetch_pair(h),
        }
        true
    }

    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match &self.repr {
            Repr::Pack(b) => {
                if b.is_empty() {
                    return None;
                }
                pack_find(b, field).map(|s| &b[s.value.0..s.value.1])
            }
            Repr::Table(t) => t.get(field),
        }
    }

    pub fn contains(&self, field: &[u8]) -> bool {
        self.get(field).is_some()
    }

    /// Set `field` to `value`. Returns true if the field is new. Converts to `hashtable`
    /// when the listpack limits are exceeded.
    pub fn insert(&mut self, field: &[u8], value: &[u8]) -> bool {
        if let Repr::Pack(b) = &mut self.repr {
            let count = pack_count(b);
            let existing = if count == 0 {
                None
            } else {
                pack_find(b, field)
            };
            let n = count + existing.is_none() as usize;
            if packable(n, field.len(), value.len()) {
                match existing {
                    Some(s) => {
                        let mut enc = Vec::with_capacity(varint_len(value.len()) + value.len());
                        put_varint(&mut enc, value.len());
                        enc.extend_from_slice(value);
                        if enc.as_slice() != &b[s.field.1..s.end] {
                            rewrite(b, |v| {
                                crate::util::splice_bytes(v, s.field.1..s.end, &enc);
                            });
                        }
                        return false;
                    }
                    None => {
                        rewrite(b, |v| {
                            let extra = varint_len(field.len())
                                + field.len()
                                + varint_len(value.len())
                                + value.len()
                                + if count == 0 { PACK_HEADER } else { 0 };
                            v.reserve_exact(extra);
                            if v.is_empty() {
                                v.extend_from_slice(&[0; PACK_HEADER]);
                            }
                            put_varint(v, field.len());
                            v.extend_from_slice(field);
                            put_varint(v, value.len());
                            v.extend_from_slice(value);
                            set_pack_count(v, count + 1);
                        });
                        return true;
                    }
                }
            }
            self.convert();
        }
        match &mut self.repr {
            Repr::Table(t) => t.insert(field, value),
            Repr::Pack(_) => unreachable!("converted above"),
        }
    }

    /// Remove `field`; true if it was there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Pack(b) => {
                if b.is_empty() {
                    return false;
                }
                let Some(s) = pack_find(b, field) else {
                    return false;
                };
                let n = pack_count(b) - 1;
                if n == 0 {
                    *b = Box::default();
                } else {
                    rewrite(b, |v| {
                        v.drain(s.start..s.end);
                        set_pack_count(v, n);
                    });
                }
                true
            }
            Repr::Table(t) => t.remove(field),
        }
    }

    /// Switch to the `hashtable` encoding.
    fn convert(&mut self) {
        if let Repr::Pack(b) = &self.repr {
            let mut t = Big::new();
            if !b.is_empty() {
                for s in pack_slots(b) {
                    t.insert(&b[s.field.0..s.field.1], &b[s.value.0..s.value.1]);
                }
            }
            self.repr = Repr::Table(Box::new(t));
        }
    }

    /// A uniformly random pair, or None when empty.
    pub fn random(&self, rng: &mut dyn rand::RngCore) -> Option<(&[u8], &[u8])> {
        use rand::Rng;
        match &self.repr {
            Repr::Pack(b) => {
                let n = self.len();
                if n == 0 {
                    return None;
                }
                let s = pack_slots(b).nth(rng.gen_range(0..n))?;
                Some((&b[s.field.0..s.field.1], &b[s.value.0..s.value.1]))
            }
            Repr::Table(t) => {
                if t.len == 0 {
                    None
                } else {
                    Some(t.random(rng))
                }
            }
        }
    }

    /// HSCAN: visit pairs from `cursor`; returns the next cursor (0 = done). A `listpack`
    /// hash is visited whole in one call, as Redis does; a `hashtable` one in hash order,
    /// about `count` pairs per call.
    pub fn scan(&self, cursor: u64, count: usize, f: &mut dyn FnMut(&[u8], &[u8])) -> u64 {
        match &self.repr {
            Repr::Pack(_) => {
                for (k, v) in self.iter() {
                    f(k, v);
                }
                0
            }
            Repr::Table(t) => t.scan(cursor, count, f),
        }
    }
}

/// Iterator over a hash's (field, value) pairs.
pub struct Iter<'a>(IterInner<'a>);

enum IterInner<'a> {
    Pack(&'a [u8], PackIter<'a>),
    /// Segments, the next segment to open, the open one.
    Table(&'a [Segment], usize, Option<std::slice::Iter<'a, PairSlot>>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], &'a [u8]);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            IterInner::Pack(b, it) => {
                let s = it.next()?;
                Some((&b[s.field.0..s.field.1], &b[s.value.0..s.value.1]))
            }
            IterInner::Table(segs, next, cur) => loop {
                if let Some(p) = cur.as_mut().and_then(|c| c.find_map(|s| s.pair.as_ref())) {
                    return Some((pair_field(p), pair_value(p)));
                }
                let seg = segs.get(*next)?;
                *next += 1;
                *cur = Some(seg.table.slots.iter());
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use std::collections::HashMap;

    fn check(h: &Hash, m: &HashMap<Vec<u8>, Vec<u8>>) {
        assert_eq!(h.len(), m.len());
        let mut seen = 0;
        for (f, v) in h.iter() {
            assert_eq!(m.get(f).map(|x| &x[..]), Some(v));
            seen += 1;
        }
        assert_eq!(seen, m.len());
        if let Repr::Table(t) = &h.repr {
            let pairs: usize = t
                .segments
                .iter()
                .flat_map(|s| s.table.iter())
                .map(|p| alloc_size(p.len()))
                .sum();
            let tables: usize = t.segments.iter().map(|s| s.table_bytes()).sum();
            assert_eq!(t.heap, pairs + tables);
        }
    }

    #[test]
    fn small_hash_is_packed_and_compact() {
        let mut h = Hash::new();
        for i in 0..5 {
            h.insert(format!("field{i}").as_bytes(), b"value-12345");
        }
        assert_eq!(h.encoding(), "listpack");
        assert_eq!(h.len(), 5);
        // One exactly sized buffer: 2 + 5 * (1 + 6 + 1 + 11) bytes.
        assert_eq!(h.heap_size(), alloc_size(97));
        assert_eq!(std::mem::size_of::<Hash>(), 16);
        assert_eq!(h.get(b"field3"), Some(&b"value-12345"[..]));
        assert!(!h.insert(b"field3", b"x"));
        assert_eq!(h.get(b"field3"), Some(&b"x"[..]));
        assert!(h.remove(b"field3"));
        assert_eq!(h.len(), 4);
        assert_eq!(h.get(b"field3"), None);
    }

    #[test]
    fn converts_past_the_limits() {
        let mut h = Hash::new();
        for i in 0..MAX_PACK_ENTRIES {
            h.insert(format!("f{i}").as_bytes(), b"v");
        }
        assert_eq!(h.encoding(), "listpack");
        h.insert(b"one-more", b"v");
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.len(), MAX_PACK_ENTRIES + 1);
        let mut h = Hash::new();
        h.insert(b"f", &[b'x'; MAX_PACK_VALUE]);
        assert_eq!(h.encoding(), "listpack");
        h.insert(b"g", &[b'x'; MAX_PACK_VALUE + 1]);
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.get(b"f"), Some(&[b'x'; MAX_PACK_VALUE][..]));
    }

    #[test]
    fn behaves_like_a_map() {
        let mut rng = rand::rngs::SmallRng::seed_from_u64(3);
        for universe in [50usize, 5000] {
            let mut h = Hash::new();
            let mut m = HashMap::new();
            for step in 0..30_000 {
                let f = format!("k{}", rng.gen_range(0..universe)).into_bytes();
                let max = if rng.gen_ratio(1, 100) { 100 } else { 10 };
                let v = vec![b'v'; rng.gen_range(0..max)];
                if rng.gen_ratio(2, 3) {
                    assert_eq!(h.insert(&f, &v), m.insert(f, v).is_none());
                } else {
                    assert_eq!(h.remove(&f), m.remove(&f).is_some());
                }
                if step % 1000 == 0 {
                    check(&h, &m);
                }
            }
            check(&h, &m);
        }
    }

    #[test]
    fn scan_visits_everything_despite_splits() {
        let mut h = Hash::new();
        for i in 0..3000 {
            h.insert(format!("f{i}").as_bytes(), b"v");
        }
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        let mut added = 0;
        loop {
            cursor = h.scan(cursor, 10, &mut |f, _| {
                seen.insert(f.to_vec());
            });
            // Grow the table mid-scan: splits must not hide the original fields.
            if added < 20_000 {
                for _ in 0..200 {
                    h.insert(format!("new{added}").as_bytes(), b"v");
                    added += 1;
                }
            }
            if cursor == 0 {
                break;
            }
        }
        for i in 0..3000 {
            assert!(seen.contains(format!("f{i}").as_bytes()), "f{i} missed");
        }
    }

    #[test]
    fn random_is_roughly_uniform() {
        let mut rng = rand::rngs::SmallRng::seed_from_u64(1);
        let h = Hash::from_pairs((0..2000).map(|i| (format!("f{i}").into_bytes(), vec![])));
        let mut hits = HashMap::new();
        for _ in 0..20_000 {
            let (f, _) = h.random(&mut rng).unwrap();
            *hits.entry(f.to_vec()).or_insert(0) += 1;
        }
        assert!(hits.len() > 1800);
    }
}
