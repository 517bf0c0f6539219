//! Building blocks shared by the set and sorted-set encodings: a member index (member
//! bytes -> dense position) and the varint framing of the packed small encodings.

use std::hash::BuildHasher;

use hashbrown::HashTable;

/// A hash index from member bytes to a position (`u32`) in a dense array owned by the
/// caller. The index stores only the 4-byte positions; the bytes stay in the caller's
/// array, reached through the `key` closure every method takes. Per member this costs
/// 5 bytes per bucket (position + control byte) instead of a second copy of the member.
#[derive(Debug, Clone, Default)]
pub(super) struct Index {
    table: HashTable<u32>,
    hasher: foldhash::fast::RandomState,
}

impl Index {
    #[inline]
    fn hash(&self, m: &[u8]) -> u64 {
        self.hasher.hash_one(m)
    }

    /// The position of `m`, if present.
    pub fn find<'a>(&self, m: &[u8], key: impl Fn(u32) -> &'a [u8]) -> Option<u32> {
        self.table.find(self.hash(m), |&id| key(id) == m).copied()
    }

    /// Add position `id` for member `m` (the caller knows `m` is absent).
    pub fn insert<'a>(&mut self, m: &[u8], id: u32, key: impl Fn(u32) -> &'a [u8]) {
        let hasher = &self.hasher;
        self.table
            .insert_unique(hasher.hash_one(m), id, |&i| hasher.hash_one(key(i)));
    }

    /// Forget position `id`, held by member `m`.
    pub fn remove(&mut self, m: &[u8], id: u32) {
        if let Ok(e) = self.table.find_entry(self.hash(m), |&i| i == id) {
            e.remove();
        }
    }

    /// Member `m` moved from position `old` to `new`.
    pub fn relocate(&mut self, m: &[u8], old: u32, new: u32) {
        if let Some(slot) = self.table.find_mut(self.hash(m), |&i| i == old) {
            *slot = new;
        }
    }

    pub fn reserve<'a>(&mut self, n: usize, key: impl Fn(u32) -> &'a [u8]) {
        let hasher = &self.hasher;
        self.table.reserve(n, |&i| hasher.hash_one(key(i)));
    }

    /// Give memory back once the table is mostly empty (below 1/8 full).
    pub fn maybe_shrink<'a>(&mut self, key: impl Fn(u32) -> &'a [u8]) {
        let (len, cap) = (self.table.len(), self.table.capacity());
        if cap > 64 && len < cap / 8 {
            let hasher = &self.hasher;
            self.table.shrink_to(len * 2, |&i| hasher.hash_one(key(i)));
        }
    }

    /// Heap bytes of the table (buckets of 4 bytes plus a control byte each).
    pub fn heap_size(&self) -> usize {
        let cap = self.table.capacity();
        if cap == 0 {
            return 0;
        }
        let buckets = if cap < 8 {
            (cap + 1).next_power_of_two()
        } else {
            (cap * 8 / 7).next_power_of_two()
        };
        super::alloc_size(buckets * 5 + 16)
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
        for i in 0..ms.len() {
            let m = ms[i].clone();
            ix.insert(&m, i as u32, |id| &ms[id as usize]);
        }
        assert_eq!(ix.find(b"m500", |id| &ms[id as usize]), Some(500));
        assert_eq!(ix.find(b"nope", |id| &ms[id as usize]), None);
        ix.remove(b"m3", 3);
        ms.swap_remove(3);
        ix.relocate(b"m999", 999, 3);
        assert_eq!(ix.find(b"m999", |id| &ms[id as usize]), Some(3));
        assert_eq!(ix.find(b"m3", |id| &ms[id as usize]), None);
        assert!(ix.heap_size() >= 1000 * 5);
    }
}
