//! List values. (Placeholder representation: the lists issue replaces it with a compact
//! encoding; the contract below stays.)
//!
//! Contract used by snapshots and memory accounting: `len`, `heap_size` (O(1), kept up to
//! date), `encoding`, `iter` (elements head to tail) and `from_elements`.

use std::collections::VecDeque;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct List {
    items: VecDeque<Box<[u8]>>,
    heap: usize,
}

impl List {
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn heap_size(&self) -> usize {
        self.heap + self.items.capacity() * 16
    }

    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }

    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        self.items.iter().map(|b| &**b)
    }

    pub fn from_elements<I: IntoIterator<Item = Vec<u8>>>(it: I) -> List {
        let mut l = List::default();
        for e in it {
            l.heap += super::alloc_size(e.len());
            l.items.push_back(e.into_boxed_slice());
        }
        l
    }
}
