//! Sorted set values. (Placeholder representation: the sorted-sets issue replaces it with
//! an order-statistics structure and a compact small encoding; the contract below stays.)
//!
//! Contract used by snapshots and memory accounting: `len`, `heap_size` (O(1), kept up to
//! date), `encoding`, `iter` ((member, score) in score order) and `from_pairs`.

use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ZSet {
    scores: HashMap<Box<[u8]>, f64>,
    heap: usize,
}

impl ZSet {
    pub fn len(&self) -> usize {
        self.scores.len()
    }

    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }

    pub fn heap_size(&self) -> usize {
        self.heap + self.scores.capacity() * 25
    }

    pub fn encoding(&self) -> &'static str {
        "skiplist"
    }

    /// Members with their scores, ordered by (score, member).
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], f64)> {
        let mut v: Vec<(&[u8], f64)> = self.scores.iter().map(|(k, s)| (&**k, *s)).collect();
        v.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(b.0)));
        v.into_iter()
    }

    pub fn from_pairs<I: IntoIterator<Item = (Vec<u8>, f64)>>(it: I) -> ZSet {
        let mut z = ZSet::default();
        for (m, s) in it {
            z.heap += super::alloc_size(m.len());
            z.scores.insert(m.into_boxed_slice(), s);
        }
        z
    }
}
