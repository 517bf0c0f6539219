//! Sorted set values, in two encodings (OBJECT ENCODING names as Redis 7.0):
//!
//! - `listpack`: for small sets (at most [`MAX_PACK_ENTRIES`] members, none longer than
//!   [`MAX_PACK_VALUE`] bytes), one byte buffer of entries sorted by (score, member).
//!   Each entry is a varint header `member_len << 1 | int_flag`, the member bytes, then
//!   the score: a zigzag varint when it is an integer of at most 53 bits, else its 8
//!   IEEE bytes. Every operation is a linear walk over at most a few KB.
//! - `skiplist`: beyond those thresholds (it never converts back, as in Redis). Members
//!   live once, in a dense array of (member, score) indexed by a 4-byte position; a hash
//!   index maps member -> position, and an order-statistics B+ tree holds
//!   (score, position) pairs in (score, member) order, with element counts per child so
//!   rank, select and range bounds are O(log n). Deleting swaps the last member into the
//!   hole (its position is updated in the tree and the index), so the array stays dense.
//!   Per member this is the member's own allocation, 24 bytes in the array, ~7.5 in the
//!   index and ~15-20 in the tree's leaves: about half of Redis's skiplist + dict.
//!
//! Scores are never NaN (commands reject NaN before it gets here). Ordering compares
//! scores numerically (so -0 and 0 tie and the member decides, as in Redis) and then
//! members bytewise.
//!
//! Contract used by snapshots and memory accounting: `len`, `heap_size` (O(1), kept up to
//! date), `encoding`, `iter` ((member, score) in score order) and `from_pairs`.

use std::cmp::Ordering;

use super::alloc_size;
use super::members::{get_varint, put_varint, Index};

/// `zset-max-listpack-entries`: more members than this and the set leaves the listpack.
pub const MAX_PACK_ENTRIES: usize = 128;
/// `zset-max-listpack-value`: a member longer than this and the set leaves the listpack.
pub const MAX_PACK_VALUE: usize = 64;

#[derive(Debug, Clone)]
pub struct ZSet {
    repr: Repr,
}

#[derive(Debug, Clone)]
enum Repr {
    Pack(Pack),
    Big(Big),
}

impl Default for ZSet {
    fn default() -> Self {
        ZSet::new()
    }
}

impl PartialEq for ZSet {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len()
            && self
                .iter()
                .zip(other.iter())
                .all(|(a, b)| a.0 == b.0 && a.1.to_bits() == b.1.to_bits())
    }
}

impl ZSet {
    pub fn new() -> ZSet {
        ZSet {
            repr: Repr::Pack(Pack::default()),
        }
    }

    /// An empty set in the encoding Redis would pick for `n` members whose longest is
    /// `max_len` bytes.
    pub fn with_hint(n: usize, max_len: usize) -> ZSet {
        if n > MAX_PACK_ENTRIES || max_len > MAX_PACK_VALUE {
            ZSet {
                repr: Repr::Big(Big::default()),
            }
        } else {
            ZSet::new()
        }
    }

    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Pack(p) => p.len,
            Repr::Big(b) => b.ms.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Heap bytes owned, beyond the `ZSet` itself. O(1).
    pub fn heap_size(&self) -> usize {
        match &self.repr {
            Repr::Pack(p) => alloc_size(p.buf.capacity()),
            Repr::Big(b) => b.heap_size(),
        }
    }

    pub fn encoding(&self) -> &'static str {
        match &self.repr {
            Repr::Pack(_) => "listpack",
            Repr::Big(_) => "skiplist",
        }
    }

    /// Members with their scores, ordered by (score, member).
    pub fn iter(&self) -> Iter<'_> {
        self.range(0, false)
    }

    /// Members from rank `start` on, towards higher ranks, or (`rev`) from rank `start`
    /// down to rank 0. An out-of-range `start` gives an empty iterator.
    pub fn range(&self, start: usize, rev: bool) -> Iter<'_> {
        let len = self.len();
        if start >= len {
            return Iter {
                inner: IterInner::Pack(Vec::new().into_iter()),
            };
        }
        match &self.repr {
            Repr::Pack(p) => {
                let mut v: Vec<(&[u8], f64)> = p.iter().collect();
                if rev {
                    v.truncate(start + 1);
                    v.reverse();
                } else {
                    v.drain(..start);
                }
                Iter {
                    inner: IterInner::Pack(v.into_iter()),
                }
            }
            Repr::Big(b) => {
                let remaining = if rev { start + 1 } else { len - start };
                Iter {
                    inner: IterInner::Big(b.tree.iter_from(start, rev, remaining), &b.ms),
                }
            }
        }
    }

    pub fn from_pairs<I: IntoIterator<Item = (Vec<u8>, f64)>>(it: I) -> ZSet {
        let pairs: Vec<(Vec<u8>, f64)> = it.into_iter().collect();
        let max_len = pairs.iter().map(|p| p.0.len()).max().unwrap_or(0);
        let mut z = ZSet::with_hint(pairs.len(), max_len);
        for (m, s) in pairs {
            z.insert(&m, s);
        }
        z
    }

    pub fn score(&self, m: &[u8]) -> Option<f64> {
        match &self.repr {
            Repr::Pack(p) => p.find(m).map(|f| f.score),
            Repr::Big(b) => b.find(m).map(|id| b.ms[id as usize].1),
        }
    }

    /// 0-based ascending rank of `m`.
    pub fn rank(&self, m: &[u8]) -> Option<usize> {
        match &self.repr {
            Repr::Pack(p) => p.find(m).map(|f| f.rank),
            Repr::Big(b) => {
                let id = b.find(m)?;
                let s = b.ms[id as usize].1;
                Some(b.tree.rank(s, m, &b.ms))
            }
        }
    }

    /// The member at ascending rank `r`.
    pub fn get(&self, r: usize) -> Option<(&[u8], f64)> {
        if r >= self.len() {
            return None;
        }
        match &self.repr {
            Repr::Pack(p) => p.iter().nth(r),
            Repr::Big(b) => {
                let (_, id) = b.tree.select(r);
                let (m, s) = &b.ms[id as usize];
                Some((m, *s))
            }
        }
    }

    /// Set `m`'s score, adding it if absent. Returns its previous score.
    pub fn insert(&mut self, m: &[u8], score: f64) -> Option<f64> {
        debug_assert!(!score.is_nan());
        if let Repr::Pack(p) = &mut self.repr {
            if let Some(f) = p.find(m) {
                if f.score.to_bits() != score.to_bits() {
                    p.buf.drain(f.start..f.end);
                    p.len -= 1;
                    p.insert(m, score);
                }
                return Some(f.score);
            }
            if p.len < MAX_PACK_ENTRIES && m.len() <= MAX_PACK_VALUE {
                p.insert(m, score);
                return None;
            }
            self.convert();
        }
        let Repr::Big(b) = &mut self.repr else {
            unreachable!("converted above")
        };
        b.insert(m, score)
    }

    /// Remove `m`. Returns its score.
    pub fn remove(&mut self, m: &[u8]) -> Option<f64> {
        match &mut self.repr {
            Repr::Pack(p) => {
                let f = p.find(m)?;
                p.buf.drain(f.start..f.end);
                p.len -= 1;
                p.shrink();
                Some(f.score)
            }
            Repr::Big(b) => b.remove(m),
        }
    }

    /// The number of leading members (in rank order) whose score satisfies `pred`, which
    /// must hold for a prefix of the set and not after it (e.g. `|s| s < min`).
    pub fn count_by_score(&self, mut pred: impl FnMut(f64) -> bool) -> usize {
        match &self.repr {
            Repr::Pack(p) => p.iter().take_while(|e| pred(e.1)).count(),
            Repr::Big(b) => b.tree.partition_point(|s, _| pred(s)),
        }
    }

    /// Like [`ZSet::count_by_score`] with a predicate on (member, score).
    pub fn count_while(&self, mut pred: impl FnMut(&[u8], f64) -> bool) -> usize {
        match &self.repr {
            Repr::Pack(p) => p.iter().take_while(|e| pred(e.0, e.1)).count(),
            Repr::Big(b) => b
                .tree
                .partition_point(|s, id| pred(&b.ms[id as usize].0, s)),
        }
    }

    /// Remove the members of ranks `start..end`, returning them in rank order.
    pub fn remove_range(&mut self, start: usize, end: usize) -> Vec<(Vec<u8>, f64)> {
        let end = end.min(self.len());
        if start >= end {
            return Vec::new();
        }
        let gone: Vec<(Vec<u8>, f64)> = self
            .range(start, false)
            .take(end - start)
            .map(|(m, s)| (m.to_vec(), s))
            .collect();
        if gone.len() > self.len() / 2 && matches!(self.repr, Repr::Big(_)) {
            // Most of a big set goes: rebuilding from what stays is cheaper.
            let keep: Vec<(Vec<u8>, f64)> = self
                .iter()
                .take(start)
                .chain(self.range(end, false))
                .map(|(m, s)| (m.to_vec(), s))
                .collect();
            let mut z = ZSet {
                repr: Repr::Big(Big::default()),
            };
            if let Repr::Big(b) = &mut z.repr {
                b.reserve(keep.len());
            }
            for (m, s) in keep {
                z.insert(&m, s);
            }
            *self = z;
        } else {
            for (m, _) in &gone {
                self.remove(m);
            }
        }
        gone
    }

    /// ZSCAN: visit about `count` members from `cursor` (0 starts), returning the next
    /// cursor (0 when done). A listpack is visited whole in one call, as in Redis; the
    /// skiplist encoding walks the dense member array from the top down, so a removal
    /// (which moves the last member into the hole) never hides a member from the scan.
    pub fn scan<'a>(&'a self, cursor: u64, count: usize, mut f: impl FnMut(&'a [u8], f64)) -> u64 {
        let Repr::Big(b) = &self.repr else {
            self.iter().for_each(|(m, s)| f(m, s));
            return 0;
        };
        let len = b.ms.len() as u64;
        let c = if cursor == 0 { len } else { cursor.min(len) };
        let stop = c.saturating_sub(count.max(1) as u64);
        for i in (stop..c).rev() {
            let (m, s) = &b.ms[i as usize];
            f(m, *s);
        }
        stop
    }

    fn convert(&mut self) {
        if let Repr::Pack(p) = &self.repr {
            let mut b = Big::default();
            b.reserve(p.len + 1);
            for (m, s) in p.iter() {
                b.insert(m, s);
            }
            self.repr = Repr::Big(b);
        }
    }

    /// Check the internal invariants (tests).
    #[doc(hidden)]
    pub fn check(&self) {
        match &self.repr {
            Repr::Pack(p) => {
                let v: Vec<_> = p.iter().collect();
                assert_eq!(v.len(), p.len);
                for w in v.windows(2) {
                    assert_eq!(key_cmp(w[0].1, w[0].0, w[1].1, w[1].0), Ordering::Less);
                }
            }
            Repr::Big(b) => b.check(),
        }
    }
}

/// (score, member) order.
#[inline]
fn key_cmp(s1: f64, m1: &[u8], s2: f64, m2: &[u8]) -> Ordering {
    match s1.partial_cmp(&s2) {
        Some(Ordering::Equal) | None => m1.cmp(m2),
        Some(o) => o,
    }
}

/// Iterator over (member, score) pairs of a [`ZSet`].
pub struct Iter<'a> {
    inner: IterInner<'a>,
}

enum IterInner<'a> {
    Pack(std::vec::IntoIter<(&'a [u8], f64)>),
    Big(TreeIter<'a>, &'a [(Box<[u8]>, f64)]),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], f64);

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.inner {
            IterInner::Pack(it) => it.next(),
            IterInner::Big(it, ms) => it.next().map(|(s, id)| (&*ms[id as usize].0, s)),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.inner {
            IterInner::Pack(it) => it.size_hint(),
            IterInner::Big(it, _) => (it.remaining, Some(it.remaining)),
        }
    }
}

// ---------------------------------------------------------------------------------------
// listpack

#[derive(Debug, Clone, Default)]
struct Pack {
    buf: Vec<u8>,
    len: usize,
}

/// A member found in a [`Pack`]: its rank, byte range and score.
struct Found {
    rank: usize,
    start: usize,
    end: usize,
    score: f64,
}

/// Integers of at most 53 bits are stored as varints (exactly representable). Like
/// Redis's listpack, this turns -0 into 0.
fn small_int(score: f64) -> Option<i64> {
    const LIMIT: f64 = (1u64 << 53) as f64;
    if score.fract() == 0.0 && score.abs() < LIMIT {
        Some(score as i64)
    } else {
        None
    }
}

impl Pack {
    /// Decode the entry at `at`: (member range, score, next offset).
    #[inline]
    fn decode(&self, at: usize) -> (usize, usize, f64, usize) {
        let mut i = at;
        let h = get_varint(&self.buf, &mut i);
        let mlen = (h >> 1) as usize;
        let mstart = i;
        i += mlen;
        let score = if h & 1 == 1 {
            let z = get_varint(&self.buf, &mut i);
            (((z >> 1) as i64) ^ -((z & 1) as i64)) as f64
        } else {
            let mut b = [0u8; 8];
            b.copy_from_slice(&self.buf[i..i + 8]);
            i += 8;
            f64::from_le_bytes(b)
        };
        (mstart, mstart + mlen, score, i)
    }

    fn iter(&self) -> impl Iterator<Item = (&[u8], f64)> + '_ {
        let mut at = 0;
        std::iter::from_fn(move || {
            if at >= self.buf.len() {
                return None;
            }
            let (ms, me, s, next) = self.decode(at);
            at = next;
            Some((&self.buf[ms..me], s))
        })
    }

    fn find(&self, m: &[u8]) -> Option<Found> {
        let mut at = 0;
        let mut rank = 0;
        while at < self.buf.len() {
            let (ms, me, score, next) = self.decode(at);
            if &self.buf[ms..me] == m {
                return Some(Found {
                    rank,
                    start: at,
                    end: next,
                    score,
                });
            }
            at = next;
            rank += 1;
        }
        None
    }

    /// Insert an absent member at its sorted position.
    fn insert(&mut self, m: &[u8], score: f64) {
        let mut at = 0;
        while at < self.buf.len() {
            let (ms, me, s, next) = self.decode(at);
            if key_cmp(s, &self.buf[ms..me], score, m) == Ordering::Greater {
                break;
            }
            at = next;
        }
        let mut e = Vec::with_capacity(m.len() + 10);
        match small_int(score) {
            Some(i) => {
                put_varint(&mut e, ((m.len() as u64) << 1) | 1);
                e.extend_from_slice(m);
                put_varint(&mut e, ((i << 1) ^ (i >> 63)) as u64);
            }
            None => {
                put_varint(&mut e, (m.len() as u64) << 1);
                e.extend_from_slice(m);
                e.extend_from_slice(&score.to_le_bytes());
            }
        }
        if self.buf.capacity() < self.buf.len() + e.len() {
            // Grow gently: small sets are many, and each keeps its slack.
            let want = (self.buf.len() + e.len()).max(self.buf.len() * 5 / 4);
            self.buf.reserve_exact(want - self.buf.len());
        }
        crate::util::splice_bytes(&mut self.buf, at..at, &e);
        self.len += 1;
    }

    fn shrink(&mut self) {
        if self.buf.capacity() > 64 && self.buf.capacity() > self.buf.len() * 2 {
            self.buf.shrink_to(self.buf.len() * 5 / 4);
        }
    }
}

// ---------------------------------------------------------------------------------------
// skiplist: dense members + hash index + order-statistics B+ tree

type Members = [(Box<[u8]>, f64)];

#[derive(Debug, Clone, Default)]
struct Big {
    /// Position -> (member, score). Dense: removal moves the last entry into the hole.
    ms: Vec<(Box<[u8]>, f64)>,
    index: Index,
    tree: Tree,
    /// Sum of the members' allocation sizes.
    member_heap: usize,
}

impl Big {
    fn heap_size(&self) -> usize {
        self.member_heap
            + alloc_size(self.ms.capacity() * std::mem::size_of::<(Box<[u8]>, f64)>())
            + self.index.heap_size()
            + self.tree.heap_size()
    }

    fn reserve(&mut self, n: usize) {
        self.ms.reserve(n);
        self.index.reserve(n);
    }

    fn find(&self, m: &[u8]) -> Option<u32> {
        let ms = &self.ms;
        self.index.find(m, |id| &ms[id as usize].0)
    }

    fn insert(&mut self, m: &[u8], score: f64) -> Option<f64> {
        if let Some(id) = self.find(m) {
            let old = self.ms[id as usize].1;
            if old.to_bits() != score.to_bits() {
                self.tree.remove(old, m, &self.ms);
                self.ms[id as usize].1 = score;
                self.tree.insert(score, id, m, &self.ms);
            }
            return Some(old);
        }
        let id = u32::try_from(self.ms.len()).expect("a sorted set holds fewer than 2^32 members");
        self.member_heap += alloc_size(m.len());
        self.ms.push((m.into(), score));
        self.index.insert(m, id);
        self.tree.insert(score, id, m, &self.ms);
        None
    }

    fn remove(&mut self, m: &[u8]) -> Option<f64> {
        let id = self.find(m)?;
        let score = self.ms[id as usize].1;
        self.tree.remove(score, m, &self.ms);
        self.index.remove(m, id);
        let last = (self.ms.len() - 1) as u32;
        if id != last {
            let (lm, ls) = &self.ms[last as usize];
            self.tree.relocate(*ls, lm, last, id, &self.ms);
            self.index.relocate(lm, last, id);
        }
        let (gone, _) = self.ms.swap_remove(id as usize);
        self.member_heap -= alloc_size(gone.len());
        if self.ms.capacity() > 64 && self.ms.capacity() / 4 > self.ms.len() {
            self.ms.shrink_to(self.ms.len() * 2);
        }
        self.index.maybe_shrink();
        Some(score)
    }

    fn check(&self) {
        self.tree.check(&self.ms);
        assert_eq!(self.tree.len, self.ms.len());
        for (i, (m, _)) in self.ms.iter().enumerate() {
            assert_eq!(self.find(m), Some(i as u32));
        }
        let heap: usize = self.ms.iter().map(|(m, _)| alloc_size(m.len())).sum();
        assert_eq!(heap, self.member_heap);
    }
}

const LEAF_CAP: usize = 63;
const LEAF_MIN: usize = LEAF_CAP / 4;
const INNER_CAP: usize = 32;
const INNER_MIN: usize = INNER_CAP / 4;

/// A leaf: up to `LEAF_CAP` (score, position) pairs in order, in parallel arrays
/// (768 bytes: one allocator size class with no waste).
#[derive(Debug, Clone)]
struct Leaf {
    len: usize,
    scores: [f64; LEAF_CAP],
    ids: [u32; LEAF_CAP],
}

impl Leaf {
    fn new() -> Box<Leaf> {
        Box::new(Leaf {
            len: 0,
            scores: [0.0; LEAF_CAP],
            ids: [0; LEAF_CAP],
        })
    }

    fn insert_at(&mut self, pos: usize, score: f64, id: u32) {
        debug_assert!(self.len < LEAF_CAP);
        self.scores.copy_within(pos..self.len, pos + 1);
        self.ids.copy_within(pos..self.len, pos + 1);
        self.scores[pos] = score;
        self.ids[pos] = id;
        self.len += 1;
    }

    fn remove_at(&mut self, pos: usize) -> u32 {
        let id = self.ids[pos];
        self.scores.copy_within(pos + 1..self.len, pos);
        self.ids.copy_within(pos + 1..self.len, pos);
        self.len -= 1;
        id
    }

    /// Move entries `from..` to the end of `dst`.
    fn move_tail(&mut self, from: usize, dst: &mut Leaf) {
        let n = self.len - from;
        let d = dst.len;
        dst.scores[d..d + n].copy_from_slice(&self.scores[from..self.len]);
        dst.ids[d..d + n].copy_from_slice(&self.ids[from..self.len]);
        dst.len += n;
        self.len = from;
    }

    /// Move the first `n` entries to the end of `dst`.
    fn move_head(&mut self, n: usize, dst: &mut Leaf) {
        let d = dst.len;
        dst.scores[d..d + n].copy_from_slice(&self.scores[..n]);
        dst.ids[d..d + n].copy_from_slice(&self.ids[..n]);
        dst.len += n;
        self.scores.copy_within(n..self.len, 0);
        self.ids.copy_within(n..self.len, 0);
        self.len -= n;
    }

    /// Number of entries ordered before (score, member).
    #[inline]
    fn lower_bound(&self, score: f64, m: &[u8], ms: &Members) -> usize {
        let (mut lo, mut hi) = (0, self.len);
        while lo < hi {
            let mid = (lo + hi) / 2;
            let s = self.scores[mid];
            let less = match s.partial_cmp(&score) {
                Some(Ordering::Less) => true,
                Some(Ordering::Greater) => false,
                _ => *ms[self.ids[mid] as usize].0 < *m,
            };
            if less {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }
}

#[derive(Debug, Clone)]
struct Kid {
    node: Node,
    count: usize,
    min_score: f64,
    min_id: u32,
}

#[derive(Debug, Clone)]
struct Inner {
    kids: Vec<Kid>,
}

#[derive(Debug, Clone)]
enum Node {
    Leaf(Box<Leaf>),
    Inner(Box<Inner>),
}

impl Node {
    /// The first (score, position) of a non-empty node.
    fn min(&self) -> (f64, u32) {
        match self {
            Node::Leaf(l) => (l.scores[0], l.ids[0]),
            Node::Inner(i) => (i.kids[0].min_score, i.kids[0].min_id),
        }
    }

    /// Fan-out: entries of a leaf, children of an inner node.
    fn width(&self) -> usize {
        match self {
            Node::Leaf(l) => l.len,
            Node::Inner(i) => i.kids.len(),
        }
    }
}

impl Kid {
    fn new(node: Node, count: usize) -> Kid {
        let (min_score, min_id) = node.min();
        Kid {
            node,
            count,
            min_score,
            min_id,
        }
    }

    fn refresh_min(&mut self) {
        if self.count > 0 {
            (self.min_score, self.min_id) = self.node.min();
        }
    }
}

impl Inner {
    /// The child whose range holds (score, member): the last one whose minimum is not
    /// greater, or the first.
    #[inline]
    fn child_for(&self, score: f64, m: &[u8], ms: &Members) -> usize {
        let n = self.kids.partition_point(|k| {
            key_cmp(k.min_score, &ms[k.min_id as usize].0, score, m) != Ordering::Greater
        });
        n.saturating_sub(1)
    }
}

/// Order-statistics B+ tree of (score, position) pairs ordered by (score, member).
#[derive(Debug, Clone)]
struct Tree {
    root: Node,
    len: usize,
    leaves: usize,
    inners: usize,
}

impl Default for Tree {
    fn default() -> Self {
        Tree {
            root: Node::Leaf(Leaf::new()),
            len: 0,
            leaves: 1,
            inners: 0,
        }
    }
}

/// What an insertion into a subtree reports to its parent.
struct Edges {
    left: bool,
    right: bool,
}

impl Tree {
    fn heap_size(&self) -> usize {
        self.leaves * alloc_size(std::mem::size_of::<Leaf>())
            + self.inners
                * (alloc_size(std::mem::size_of::<Inner>())
                    + alloc_size((INNER_CAP + 1) * std::mem::size_of::<Kid>()))
    }

    fn insert(&mut self, score: f64, id: u32, m: &[u8], ms: &Members) {
        let edges = Edges {
            left: true,
            right: true,
        };
        let split = Self::insert_in(
            &mut self.root,
            score,
            id,
            m,
            ms,
            edges,
            &mut self.leaves,
            &mut self.inners,
        );
        self.len += 1;
        if let Some(right) = split {
            let old = std::mem::replace(&mut self.root, Node::Leaf(Leaf::new()));
            let left = Kid::new(old, self.len - right.count);
            let mut kids = Vec::with_capacity(INNER_CAP + 1);
            kids.push(left);
            kids.push(right);
            self.root = Node::Inner(Box::new(Inner { kids }));
            self.inners += 1;
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn insert_in(
        node: &mut Node,
        score: f64,
        id: u32,
        m: &[u8],
        ms: &Members,
        edges: Edges,
        leaves: &mut usize,
        inners: &mut usize,
    ) -> Option<Kid> {
        match node {
            Node::Leaf(l) => {
                let pos = l.lower_bound(score, m, ms);
                if l.len < LEAF_CAP {
                    l.insert_at(pos, score, id);
                    return None;
                }
                let mut right = Leaf::new();
                if pos == LEAF_CAP && edges.right {
                    // Appending at the very end (ascending inserts): leave the old leaf full.
                    right.insert_at(0, score, id);
                } else if pos == 0 && edges.left {
                    // Prepending at the very start (descending inserts): likewise.
                    l.move_tail(0, &mut right);
                    l.insert_at(0, score, id);
                } else {
                    let half = LEAF_CAP.div_ceil(2);
                    l.move_tail(half, &mut right);
                    if pos <= half {
                        l.insert_at(pos, score, id);
                    } else {
                        right.insert_at(pos - half, score, id);
                    }
                }
                *leaves += 1;
                let count = right.len;
                Some(Kid::new(Node::Leaf(right), count))
            }
            Node::Inner(inner) => {
                let j = inner.child_for(score, m, ms);
                let last = inner.kids.len() - 1;
                let sub = Edges {
                    left: edges.left && j == 0,
                    right: edges.right && j == last,
                };
                let kid = &mut inner.kids[j];
                let split = Self::insert_in(&mut kid.node, score, id, m, ms, sub, leaves, inners);
                kid.count += 1;
                if key_cmp(kid.min_score, &ms[kid.min_id as usize].0, score, m) == Ordering::Greater
                {
                    kid.min_score = score;
                    kid.min_id = id;
                }
                let new = split?;
                kid.count -= new.count;
                kid.refresh_min();
                inner.kids.insert(j + 1, new);
                if inner.kids.len() <= INNER_CAP {
                    return None;
                }
                let half = inner.kids.len() / 2;
                let mut tail = Vec::with_capacity(INNER_CAP + 1);
                tail.extend(inner.kids.drain(half..));
                let count = tail.iter().map(|k| k.count).sum();
                *inners += 1;
                Some(Kid::new(Node::Inner(Box::new(Inner { kids: tail })), count))
            }
        }
    }

    /// Remove (score, member). Returns its position, or None if absent.
    fn remove(&mut self, score: f64, m: &[u8], ms: &Members) -> Option<u32> {
        let id = Self::remove_in(
            &mut self.root,
            score,
            m,
            ms,
            &mut self.leaves,
            &mut self.inners,
        )?;
        self.len -= 1;
        loop {
            match &mut self.root {
                Node::Inner(i) if i.kids.len() == 1 => {
                    let kid = i.kids.pop().expect("one kid");
                    self.root = kid.node;
                    self.inners -= 1;
                }
                _ => break,
            }
        }
        Some(id)
    }

    fn remove_in(
        node: &mut Node,
        score: f64,
        m: &[u8],
        ms: &Members,
        leaves: &mut usize,
        inners: &mut usize,
    ) -> Option<u32> {
        match node {
            Node::Leaf(l) => {
                let pos = l.lower_bound(score, m, ms);
                if pos < l.len
                    && l.scores[pos].partial_cmp(&score) == Some(Ordering::Equal)
                    && *ms[l.ids[pos] as usize].0 == *m
                {
                    Some(l.remove_at(pos))
                } else {
                    None
                }
            }
            Node::Inner(inner) => {
                let j = inner.child_for(score, m, ms);
                let kid = &mut inner.kids[j];
                let id = Self::remove_in(&mut kid.node, score, m, ms, leaves, inners)?;
                kid.count -= 1;
                if kid.min_id == id {
                    kid.refresh_min();
                }
                let min = match kid.node {
                    Node::Leaf(_) => LEAF_MIN,
                    Node::Inner(_) => INNER_MIN,
                };
                if kid.node.width() < min && inner.kids.len() > 1 {
                    Self::rebalance(inner, j, leaves, inners);
                }
                Some(id)
            }
        }
    }

    /// Child `j` of `inner` is underfull: merge it with a neighbour, or even them out.
    fn rebalance(inner: &mut Inner, j: usize, leaves: &mut usize, inners: &mut usize) {
        let a = if j > 0 { j - 1 } else { j };
        let (left_part, right_part) = inner.kids.split_at_mut(a + 1);
        let left = &mut left_part[a];
        let right = &mut right_part[0];
        let merged = match (&mut left.node, &mut right.node) {
            (Node::Leaf(l), Node::Leaf(r)) => {
                if l.len + r.len <= LEAF_CAP {
                    r.move_tail(0, l);
                    *leaves -= 1;
                    true
                } else {
                    let total = l.len + r.len;
                    let want = total / 2;
                    if l.len < want {
                        r.move_head(want - l.len, l);
                    } else {
                        let mut tmp = Leaf::new();
                        l.move_tail(want, &mut tmp);
                        r.move_tail(0, &mut tmp);
                        *r = tmp;
                    }
                    left.count = l.len;
                    right.count = r.len;
                    false
                }
            }
            (Node::Inner(l), Node::Inner(r)) => {
                if l.kids.len() + r.kids.len() <= INNER_CAP {
                    l.kids.append(&mut r.kids);
                    *inners -= 1;
                    true
                } else {
                    let total = l.kids.len() + r.kids.len();
                    let want = total / 2;
                    if l.kids.len() < want {
                        let n = want - l.kids.len();
                        l.kids.extend(r.kids.drain(..n));
                    } else {
                        let moved: Vec<Kid> = l.kids.drain(want..).collect();
                        r.kids.splice(0..0, moved);
                    }
                    left.count = l.kids.iter().map(|k| k.count).sum();
                    right.count = r.kids.iter().map(|k| k.count).sum();
                    false
                }
            }
            _ => unreachable!("siblings are at the same depth"),
        };
        if merged {
            let r = inner.kids.remove(a + 1);
            inner.kids[a].count += r.count;
            inner.kids[a].refresh_min();
        } else {
            inner.kids[a].refresh_min();
            inner.kids[a + 1].refresh_min();
        }
    }

    /// The element (score, member), at position `old`, now lives at position `new`.
    fn relocate(&mut self, score: f64, m: &[u8], old: u32, new: u32, ms: &Members) {
        let mut node = &mut self.root;
        loop {
            match node {
                Node::Inner(inner) => {
                    let j = inner.child_for(score, m, ms);
                    let kid = &mut inner.kids[j];
                    if kid.min_id == old {
                        kid.min_id = new;
                    }
                    node = &mut kid.node;
                }
                Node::Leaf(l) => {
                    let pos = l.lower_bound(score, m, ms);
                    assert!(
                        pos < l.len && l.ids[pos] == old,
                        "relocated member in the tree"
                    );
                    l.ids[pos] = new;
                    return;
                }
            }
        }
    }

    /// Number of elements ordered before (score, member).
    fn rank(&self, score: f64, m: &[u8], ms: &Members) -> usize {
        let mut node = &self.root;
        let mut before = 0;
        loop {
            match node {
                Node::Inner(inner) => {
                    let j = inner.child_for(score, m, ms);
                    before += inner.kids[..j].iter().map(|k| k.count).sum::<usize>();
                    node = &inner.kids[j].node;
                }
                Node::Leaf(l) => return before + l.lower_bound(score, m, ms),
            }
        }
    }

    /// The (score, position) at rank `r` (< len).
    fn select(&self, mut r: usize) -> (f64, u32) {
        let mut node = &self.root;
        loop {
            match node {
                Node::Inner(inner) => {
                    let mut j = 0;
                    while r >= inner.kids[j].count {
                        r -= inner.kids[j].count;
                        j += 1;
                    }
                    node = &inner.kids[j].node;
                }
                Node::Leaf(l) => return (l.scores[r], l.ids[r]),
            }
        }
    }

    /// The number of leading elements satisfying `pred` (true on a prefix only).
    fn partition_point(&self, mut pred: impl FnMut(f64, u32) -> bool) -> usize {
        let mut node = &self.root;
        let mut before = 0;
        loop {
            match node {
                Node::Inner(inner) => {
                    let n = inner.kids.partition_point(|k| pred(k.min_score, k.min_id));
                    if n == 0 {
                        return before;
                    }
                    let j = n - 1;
                    before += inner.kids[..j].iter().map(|k| k.count).sum::<usize>();
                    node = &inner.kids[j].node;
                }
                Node::Leaf(l) => {
                    let (mut lo, mut hi) = (0, l.len);
                    while lo < hi {
                        let mid = (lo + hi) / 2;
                        if pred(l.scores[mid], l.ids[mid]) {
                            lo = mid + 1;
                        } else {
                            hi = mid;
                        }
                    }
                    return before + lo;
                }
            }
        }
    }

    /// Iterate from rank `start` forwards (or backwards), yielding `remaining` elements.
    fn iter_from(&self, start: usize, rev: bool, remaining: usize) -> TreeIter<'_> {
        let mut stack = Vec::new();
        let mut node = &self.root;
        let mut r = start;
        let leaf = loop {
            match node {
                Node::Inner(inner) => {
                    let mut j = 0;
                    while j + 1 < inner.kids.len() && r >= inner.kids[j].count {
                        r -= inner.kids[j].count;
                        j += 1;
                    }
                    stack.push((&**inner, j));
                    node = &inner.kids[j].node;
                }
                Node::Leaf(l) => break &**l,
            }
        };
        TreeIter {
            stack,
            leaf,
            pos: r,
            remaining,
            rev,
        }
    }

    fn check(&self, ms: &Members) {
        let mut leaves = 0;
        let mut inners = 0;
        let n = Self::check_node(&self.root, true, &mut leaves, &mut inners);
        assert_eq!(n, self.len);
        assert_eq!(leaves, self.leaves);
        assert_eq!(inners, self.inners);
        let v: Vec<(f64, u32)> = self.iter_from(0, false, self.len).collect();
        assert_eq!(v.len(), self.len);
        for w in v.windows(2) {
            let a = (w[0].0, &*ms[w[0].1 as usize].0);
            let b = (w[1].0, &*ms[w[1].1 as usize].0);
            assert_eq!(key_cmp(a.0, a.1, b.0, b.1), Ordering::Less);
        }
        for (s, id) in v {
            assert_eq!(ms[id as usize].1.to_bits(), s.to_bits());
        }
    }

    fn check_node(node: &Node, root: bool, leaves: &mut usize, inners: &mut usize) -> usize {
        match node {
            Node::Leaf(l) => {
                *leaves += 1;
                // Leaves hold at least LEAF_MIN entries, except the edge ones that
                // appends or prepends start with a single entry.
                assert!(root || l.len >= 1, "empty leaf");
                l.len
            }
            Node::Inner(i) => {
                *inners += 1;
                assert!(root || i.kids.len() >= INNER_MIN);
                assert!(i.kids.len() >= 2 || !root);
                assert!(i.kids.len() <= INNER_CAP);
                let mut total = 0;
                for k in &i.kids {
                    let n = Self::check_node(&k.node, false, leaves, inners);
                    assert_eq!(n, k.count);
                    let (s, id) = k.node.min();
                    assert_eq!((s.to_bits(), id), (k.min_score.to_bits(), k.min_id));
                    total += n;
                }
                total
            }
        }
    }
}

/// In-order walk of a [`Tree`] from some rank, in either direction.
struct TreeIter<'a> {
    stack: Vec<(&'a Inner, usize)>,
    leaf: &'a Leaf,
    pos: usize,
    remaining: usize,
    rev: bool,
}

impl<'a> TreeIter<'a> {
    fn descend(&mut self, mut node: &'a Node) {
        loop {
            match node {
                Node::Inner(inner) => {
                    let j = if self.rev { inner.kids.len() - 1 } else { 0 };
                    self.stack.push((&**inner, j));
                    node = &inner.kids[j].node;
                }
                Node::Leaf(l) => {
                    self.leaf = &**l;
                    self.pos = if self.rev { l.len - 1 } else { 0 };
                    return;
                }
            }
        }
    }

    fn advance(&mut self) {
        if !self.rev && self.pos + 1 < self.leaf.len {
            self.pos += 1;
            return;
        }
        if self.rev && self.pos > 0 {
            self.pos -= 1;
            return;
        }
        while let Some((inner, j)) = self.stack.pop() {
            let next = if self.rev {
                j.checked_sub(1)
            } else {
                Some(j + 1).filter(|&n| n < inner.kids.len())
            };
            if let Some(n) = next {
                self.stack.push((inner, n));
                self.descend(&inner.kids[n].node);
                return;
            }
        }
    }
}

impl Iterator for TreeIter<'_> {
    type Item = (f64, u32);

    fn next(&mut self) -> Option<(f64, u32)> {
        if self.remaining == 0 {
            return None;
        }
        let item = (self.leaf.scores[self.pos], self.leaf.ids[self.pos]);
        self.remaining -= 1;
        if self.remaining > 0 {
            self.advance();
        }
        Some(item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    /// The model: (score, member) -> () ordered like the set, plus member -> score.
    #[derive(Default)]
    struct Model {
        by_member: BTreeMap<Vec<u8>, f64>,
    }

    impl Model {
        fn sorted(&self) -> Vec<(Vec<u8>, f64)> {
            let mut v: Vec<(Vec<u8>, f64)> = self
                .by_member
                .iter()
                .map(|(m, s)| (m.clone(), *s))
                .collect();
            v.sort_by(|a, b| key_cmp(a.1, &a.0, b.1, &b.0));
            v
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u16, i8),
        Remove(u16),
        Rank(u16),
        Get(u16),
        Range(u16, u8, bool),
        CountBelow(i8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0u16..600, any::<i8>()).prop_map(|(m, s)| Op::Insert(m, s)),
            2 => (0u16..600).prop_map(Op::Remove),
            1 => (0u16..600).prop_map(Op::Rank),
            1 => (0u16..700).prop_map(Op::Get),
            1 => (0u16..700, any::<u8>(), any::<bool>()).prop_map(|(a, b, c)| Op::Range(a, b, c)),
            1 => any::<i8>().prop_map(Op::CountBelow),
        ]
    }

    fn member(i: u16) -> Vec<u8> {
        format!("m{i}").into_bytes()
    }

    fn run(ops: Vec<Op>, z: &mut ZSet) {
        let mut model = Model::default();
        for op in ops {
            match op {
                Op::Insert(m, s) => {
                    // Few distinct scores so that ties (ordered by member) are common.
                    let score = (s / 16) as f64;
                    let a = z.insert(&member(m), score);
                    let b = model.by_member.insert(member(m), score);
                    assert_eq!(a, b);
                }
                Op::Remove(m) => {
                    assert_eq!(z.remove(&member(m)), model.by_member.remove(&member(m)));
                }
                Op::Rank(m) => {
                    let want = model.sorted().iter().position(|e| e.0 == member(m));
                    assert_eq!(z.rank(&member(m)), want);
                    assert_eq!(
                        z.score(&member(m)),
                        model.by_member.get(&member(m)).copied()
                    );
                }
                Op::Get(r) => {
                    let sorted = model.sorted();
                    let want = sorted.get(r as usize).map(|e| (e.0.as_slice(), e.1));
                    assert_eq!(z.get(r as usize), want);
                }
                Op::Range(start, n, rev) => {
                    let sorted = model.sorted();
                    let got: Vec<(Vec<u8>, f64)> = z
                        .range(start as usize, rev)
                        .take(n as usize)
                        .map(|(m, s)| (m.to_vec(), s))
                        .collect();
                    let want: Vec<(Vec<u8>, f64)> = if rev {
                        if (start as usize) < sorted.len() {
                            sorted[..=start as usize]
                                .iter()
                                .rev()
                                .take(n as usize)
                                .cloned()
                                .collect()
                        } else {
                            Vec::new()
                        }
                    } else {
                        sorted
                            .iter()
                            .skip(start as usize)
                            .take(n as usize)
                            .cloned()
                            .collect()
                    };
                    assert_eq!(got, want);
                }
                Op::CountBelow(s) => {
                    let s = (s / 16) as f64;
                    let want = model.by_member.values().filter(|&&x| x < s).count();
                    assert_eq!(z.count_by_score(|x| x < s), want);
                    let sorted = model.sorted();
                    let want2 = sorted
                        .iter()
                        .take_while(|e| key_cmp(e.1, &e.0, s, b"m3") == Ordering::Less)
                        .count();
                    assert_eq!(
                        z.count_while(|m, x| key_cmp(x, m, s, b"m3") == Ordering::Less),
                        want2
                    );
                }
            }
            z.check();
            assert_eq!(z.len(), model.by_member.len());
        }
        let all: Vec<(Vec<u8>, f64)> = z.iter().map(|(m, s)| (m.to_vec(), s)).collect();
        assert_eq!(all, model.sorted());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn zset_matches_model(ops in proptest::collection::vec(op(), 1..1500)) {
            run(ops, &mut ZSet::new());
        }

        #[test]
        fn tree_matches_model(ops in proptest::collection::vec(op(), 1..1500)) {
            // Start in the tree encoding so small sets exercise it too.
            run(ops, &mut ZSet::with_hint(1000, 0));
        }
    }

    #[test]
    fn listpack_converts_past_thresholds() {
        let mut z = ZSet::new();
        for i in 0..MAX_PACK_ENTRIES {
            z.insert(format!("{i}").as_bytes(), i as f64);
        }
        assert_eq!(z.encoding(), "listpack");
        z.insert(b"one more", 0.5);
        assert_eq!(z.encoding(), "skiplist");
        z.check();
        let mut z = ZSet::new();
        z.insert(&[b'x'; MAX_PACK_VALUE], 1.0);
        assert_eq!(z.encoding(), "listpack");
        z.insert(&[b'y'; MAX_PACK_VALUE + 1], 1.0);
        assert_eq!(z.encoding(), "skiplist");
    }

    #[test]
    fn scores_survive_the_packed_encoding() {
        let mut z = ZSet::new();
        let scores = [
            0.0,
            -0.0,
            1.5,
            -3.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            9007199254740993.0,
            -9007199254740991.0,
            1e300,
            5e-324,
        ];
        for (i, s) in scores.iter().enumerate() {
            z.insert(format!("m{i}").as_bytes(), *s);
        }
        for (i, s) in scores.iter().enumerate() {
            assert_eq!(
                z.score(format!("m{i}").as_bytes()).map(f64::to_bits),
                // The packed encoding keeps -0 as 0, like Redis's listpack.
                Some((s + 0.0).to_bits())
            );
        }
        z.check();
    }

    #[test]
    fn big_sets_ascending_descending_and_random() {
        for order in 0..3 {
            let mut z = ZSet::new();
            let n = 20_000u32;
            for i in 0..n {
                let k = match order {
                    0 => i,
                    1 => n - i,
                    _ => i.wrapping_mul(2654435761) % n,
                };
                z.insert(format!("m{k}").as_bytes(), k as f64);
            }
            z.check();
            assert_eq!(
                z.get(0).map(|e| e.1),
                Some(if order == 1 { 1.0 } else { 0.0 })
            );
            // Ascending and descending inserts fill leaves almost completely.
            if order < 2 {
                let per_member = z.heap_size() / z.len();
                assert!(per_member < 90, "{per_member} bytes per member");
            }
            for i in (0..n).step_by(3) {
                let k = match order {
                    1 => n - i,
                    _ => i,
                };
                z.remove(format!("m{k}").as_bytes());
            }
            z.check();
        }
    }
}
