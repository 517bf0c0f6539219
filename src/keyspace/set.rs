//! Set values. (Placeholder representation: the sets issue replaces it with a compact
//! encoding such as an intset for small integer sets; the contract below stays.)
//!
//! Contract used by snapshots and memory accounting: `len`, `heap_size` (O(1), kept up to
//! date), `encoding`, `iter` (members) and `from_members`.

use std::collections::HashSet;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Set {
    members: HashSet<Box<[u8]>>,
    heap: usize,
}

impl Set {
    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    pub fn heap_size(&self) -> usize {
        self.heap + self.members.capacity() * 17
    }

    pub fn encoding(&self) -> &'static str {
        "hashtable"
    }

    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        self.members.iter().map(|b| &**b)
    }

    pub fn from_members<I: IntoIterator<Item = Vec<u8>>>(it: I) -> Set {
        let mut s = Set::default();
        for m in it {
            s.heap += super::alloc_size(m.len());
            s.members.insert(m.into_boxed_slice());
        }
        s
    }
}
