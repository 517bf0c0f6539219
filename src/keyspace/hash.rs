//! Hash values. (Placeholder representation: the hashes issue replaces it with a compact
//! encoding; the contract below stays.)
//!
//! Contract used by snapshots and memory accounting: `len`, `heap_size` (O(1), kept up to
//! date), `encoding`, `iter` (field, value pairs) and `from_pairs`.

use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Hash {
    map: HashMap<Box<[u8]>, Box<[u8]>>,
    heap: usize,
}

impl Hash {
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn heap_size(&self) -> usize {
        self.heap + self.map.capacity() * 33
    }

    pub fn encoding(&self) -> &'static str {
        "hashtable"
    }

    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.map.iter().map(|(k, v)| (&**k, &**v))
    }

    pub fn from_pairs<I: IntoIterator<Item = (Vec<u8>, Vec<u8>)>>(it: I) -> Hash {
        let mut h = Hash::default();
        for (k, v) in it {
            h.heap += super::alloc_size(k.len()) + super::alloc_size(v.len());
            h.map.insert(k.into_boxed_slice(), v.into_boxed_slice());
        }
        h
    }
}
