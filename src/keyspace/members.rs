//! Building blocks shared by the set and sorted-set encodings: a member index (member
//! bytes -> dense position) and the varint framing of the packed small encodings.

use std::hash::BuildHasher;

/// A hash index from member bytes to a position (`u32`) in a dense array owned by the
/// caller, which keeps the bytes: `find` reads them through the `key` closure.
///
/// Open addressing with linear probing over 8-byte slots, each holding the member's
/// position and 32 bits of its hash (the low bits pick the home slot, all 32 filter
/// probes). Why not a general-purpose table: in a set of a million members every step of
/// a lookup is a cache miss, and hashbrown's layout costs three before the member bytes
/// (control bytes, then the position, which sit apart). Here a lookup reads one slot line
/// and then the member: two. The stored hash bits also let the table grow, shrink and
/// delete (backward shift, no tombstones) without reading a single member. Cost: 8 bytes
/// per slot at 3/8..3/4 load, 11-21 bytes per member.
#[derive(Debug, Clone, Default)]
pub(super) struct Index {
    /// Empty slots are 0; otherwise `hash32 << 32 | (position + 1)`. Length 0 or a
    /// power of two.
    slots: Box<[u64]>,
    len: usize,
    hasher: foldhash::fast::RandomState,
}

/// Largest position an index holds (`position + 1` must fit in 32 bits).
pub(super) const MAX_POSITION: u32 = u32::MAX - 1;

#[inline]
fn slot_hash(s: u64) -> u32 {
    (s >> 32) as u32
}

#[inline]
fn slot_id(s: u64) -> u32 {
    (s as u32).wrapping_sub(1)
}

impl Index {
    #[inline]
    fn hash(&self, m: &[u8]) -> u32 {
        (self.hasher.hash_one(m) >> 32) as u32
    }

    #[inline]
    fn mask(&self) -> usize {
        self.slots.len().wrapping_sub(1)
    }

    /// Walk the probe run of hash `h` from its home slot; the first slot `hit` accepts,
    /// or None at the first empty slot.
    #[inline]
    fn probe(&self, h: u32, mut hit: impl FnMut(u64) -> bool) -> Option<usize> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.mask();
        let mut i = h as usize & mask;
        loop {
            let s = self.slots[i];
            if s == 0 {
                return None;
            }
            if hit(s) {
                return Some(i);
            }
            i = (i + 1) & mask;
        }
    }

    /// The slot holding position `id` of a member that hashes to `h`.
    fn slot_of(&self, h: u32, id: u32) -> Option<usize> {
        let want = (h as u64) << 32 | (id as u64 + 1);
        self.probe(h, |s| s == want)
    }

    /// The position of `m`, if present.
    #[inline]
    pub fn find<'a>(&self, m: &[u8], key: impl Fn(u32) -> &'a [u8]) -> Option<u32> {
        let h = self.hash(m);
        let i = self.probe(h, |s| slot_hash(s) == h && key(slot_id(s)) == m)?;
        Some(slot_id(self.slots[i]))
    }

    /// Start loading the slot line where a lookup of `m` begins (first of two warm-up
    /// steps for a batch of lookups; see [`Index::prefetch_found`]).
    #[inline]
    pub fn prefetch_home(&self, m: &[u8]) {
        if !self.slots.is_empty() {
            crate::util::prefetch(&self.slots[self.hash(m) as usize & self.mask()]);
        }
    }

    /// Start loading what `at` points to for the first position whose hash bits match
    /// `m`'s (the member a lookup will compare), reading only slots. Returns whether one
    /// matched.
    #[inline]
    pub fn prefetch_found<T>(&self, m: &[u8], at: impl Fn(u32) -> *const T) -> bool {
        let h = self.hash(m);
        match self.probe(h, |s| slot_hash(s) == h) {
            Some(i) => {
                crate::util::prefetch(at(slot_id(self.slots[i])));
                true
            }
            None => false,
        }
    }

    /// Add position `id` (at most [`MAX_POSITION`]) for member `m`; the caller knows `m`
    /// is absent.
    pub fn insert(&mut self, m: &[u8], id: u32) {
        assert!(
            id <= MAX_POSITION,
            "a member index holds fewer than 2^32 - 1 positions"
        );
        self.reserve(1);
        let h = self.hash(m);
        Self::place(&mut self.slots, (h as u64) << 32 | (id as u64 + 1));
        self.len += 1;
    }

    /// Put an occupied slot value into the first free slot from its home.
    #[inline]
    fn place(slots: &mut [u64], s: u64) {
        let mask = slots.len() - 1;
        let mut i = slot_hash(s) as usize & mask;
        while slots[i] != 0 {
            i = (i + 1) & mask;
        }
        slots[i] = s;
    }

    /// Forget position `id`, held by member `m`.
    pub fn remove(&mut self, m: &[u8], id: u32) {
        let Some(mut hole) = self.slot_of(self.hash(m), id) else {
            return;
        };
        // Backward shift: pull later members of the probe run into the hole when the hole
        // lies between their home and where they sit, so no lookup needs a tombstone.
        let mask = self.mask();
        let mut j = (hole + 1) & mask;
        loop {
            let s = self.slots[j];
            if s == 0 {
                break;
            }
            let home = slot_hash(s) as usize & mask;
            if (j.wrapping_sub(home) & mask) >= (j.wrapping_sub(hole) & mask) {
                self.slots[hole] = s;
                hole = j;
            }
            j = (j + 1) & mask;
        }
        self.slots[hole] = 0;
        self.len -= 1;
    }

    /// Member `m` moved from position `old` to `new`.
    pub fn relocate(&mut self, m: &[u8], old: u32, new: u32) {
        let h = self.hash(m);
        if let Some(i) = self.slot_of(h, old) {
            self.slots[i] = (h as u64) << 32 | (new as u64 + 1);
        }
    }

    /// Make room for `n` more members without growing again.
    pub fn reserve(&mut self, n: usize) {
        let need = self.len + n;
        if need * 4 > self.slots.len() * 3 {
            let cap = (need * 4 / 3 + 1).next_power_of_two().max(8);
            self.resize(cap);
        }
    }

    /// Give memory back once the table is mostly empty (below 1/8 full).
    pub fn maybe_shrink(&mut self) {
        if self.slots.len() > 64 && self.len < self.slots.len() / 8 {
            self.resize((self.len * 4).next_power_of_two().max(8));
        }
    }

    fn resize(&mut self, cap: usize) {
        let mut slots = vec![0u64; cap].into_boxed_slice();
        for &s in self.slots.iter().filter(|&&s| s != 0) {
            Self::place(&mut slots, s);
        }
        self.slots = slots;
    }

    /// Heap bytes of the slots.
    pub fn heap_size(&self) -> usize {
        super::alloc_size(self.slots.len() * 8)
    }
}

/// Append `v` as an LEB128 varint.
pub(super) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Read a varint at `*at`, advancing it. The packed buffers are written only by this
/// module's callers, so the encoding is trusted.
#[inline]
pub(super) fn get_varint(buf: &[u8], at: &mut usize) -> u64 {
    let mut v = 0u64;
    let mut shift = 0;
    loop {
        let b = buf[*at];
        *at += 1;
        v |= ((b & 0x7f) as u64) << shift;
        if b < 0x80 {
            return v;
        }
        shift += 7;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip() {
        for v in [0u64, 1, 127, 128, 300, 1 << 40, u64::MAX] {
            let mut b = Vec::new();
            put_varint(&mut b, v);
            let mut at = 0;
            assert_eq!(get_varint(&b, &mut at), v);
            assert_eq!(at, b.len());
        }
    }

    #[test]
    fn index_finds_relocates_and_removes() {
        let mut ms: Vec<Vec<u8>> = (0..1000).map(|i| format!("m{i}").into_bytes()).collect();
        let mut ix = Index::default();
        for (i, m) in ms.iter().enumerate() {
            ix.insert(m, i as u32);
        }
        assert_eq!(ix.find(b"m500", |id| &ms[id as usize]), Some(500));
        assert_eq!(ix.find(b"nope", |id| &ms[id as usize]), None);
        ix.remove(b"m3", 3);
        ms.swap_remove(3);
        ix.relocate(b"m999", 999, 3);
        assert_eq!(ix.find(b"m999", |id| &ms[id as usize]), Some(3));
        assert_eq!(ix.find(b"m3", |id| &ms[id as usize]), None);
        assert!(ix.heap_size() >= 1000 * 8);
    }

    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// The index against a dense array used the way the large set uses it: insert
        /// pushes, removal swaps the last member into the hole. Small member domains make
        /// long probe runs, so backward-shift deletion and growth/shrink are exercised.
        #[test]
        fn index_matches_a_dense_array(
            ops in proptest::collection::vec((any::<bool>(), 0u16..600), 1..3000),
        ) {
            let mut ms: Vec<Vec<u8>> = Vec::new();
            let mut ix = Index::default();
            for (add, n) in ops {
                let m = format!("member:{n}").into_bytes();
                let found = ix.find(&m, |id| &ms[id as usize]);
                prop_assert_eq!(found, ms.iter().position(|x| *x == m).map(|p| p as u32));
                match (add, found) {
                    (true, None) => {
                        ix.insert(&m, ms.len() as u32);
                        ms.push(m);
                    }
                    (false, Some(id)) => {
                        let last = ms.len() as u32 - 1;
                        ix.remove(&m, id);
                        if id != last {
                            ix.relocate(&ms[last as usize], last, id);
                        }
                        ms.swap_remove(id as usize);
                        ix.maybe_shrink();
                    }
                    _ => {}
                }
                prop_assert_eq!(ix.len, ms.len());
            }
            for (i, m) in ms.iter().enumerate() {
                prop_assert_eq!(ix.find(m, |id| &ms[id as usize]), Some(i as u32));
            }
            prop_assert_eq!(ix.slots.iter().filter(|&&s| s != 0).count(), ms.len());
        }
    }
}
