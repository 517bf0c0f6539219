//! Set values, in three encodings (OBJECT ENCODING names as Redis reports them):
//!
//! - `intset`: every member is a canonical decimal i64 and there are at most
//!   [`MAX_INTSET_ENTRIES`]. Members are kept sorted by value in fixed-width slots of one
//!   buffer (a length byte, then the decimal digits), the width being that of the longest
//!   member: like Redis's intset it widens when a longer value arrives, lookups are binary
//!   searches, and the members can be handed out as bytes without rendering them.
//! - `listpack`: at most [`MAX_PACK_ENTRIES`] members of at most [`MAX_PACK_VALUE`]
//!   bytes, varint-length-prefixed in one buffer, in insertion order (linear lookups over
//!   a few KB). Redis 7.0 has no listpack sets (it uses a hashtable there); 7.2 does, with
//!   these thresholds.
//! - `hashtable`: beyond those. Members live in a dense array (a position each) with a
//!   hash index member -> position; removal moves the last member into the hole. Dense
//!   positions give O(1) uniform random members (SPOP, SRANDMEMBER), and SSCAN walks
//!   positions from the top down, so a swap never carries an unvisited member into the
//!   visited range: every member present for a whole scan is returned.
//!
//! Sets never convert back to a smaller encoding (as in Redis).
//!
//! Contract used by snapshots and memory accounting: `len`, `heap_size` (O(1), kept up to
//! date), `encoding`, `iter` (members) and `from_members`.

use super::alloc_size;
use super::key::SmallBytes;
use super::members::{get_varint, put_varint, Index};
use super::Warm;
use crate::util::parse_i64_strict;

/// `set-max-intset-entries`.
pub const MAX_INTSET_ENTRIES: usize = 512;
/// `set-max-listpack-entries` (Redis 7.2).
pub const MAX_PACK_ENTRIES: usize = 128;
/// `set-max-listpack-value` (Redis 7.2).
pub const MAX_PACK_VALUE: usize = 64;

#[derive(Debug, Clone)]
pub struct Set {
    repr: Repr,
}

#[derive(Debug, Clone)]
enum Repr {
    Ints(Ints),
    Pack(Pack),
    Hash(Dense),
}

impl Default for Set {
    fn default() -> Self {
        Set::new()
    }
}

impl PartialEq for Set {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|m| other.contains(m))
    }
}

/// The value of `m` if it is a canonical decimal i64 (what may live in an intset).
fn as_int(m: &[u8]) -> Option<i64> {
    if m.len() <= 20 {
        parse_i64_strict(m)
    } else {
        None
    }
}

impl Set {
    /// An empty set (intset until a non-integer arrives).
    pub fn new() -> Set {
        Set {
            repr: Repr::Ints(Ints::default()),
        }
    }

    /// An empty set in the encoding Redis 7.2 would create for `first` when about
    /// `size_hint` members are coming.
    pub fn for_member(first: &[u8], size_hint: usize) -> Set {
        let repr = if as_int(first).is_some() && size_hint <= MAX_INTSET_ENTRIES {
            Repr::Ints(Ints::default())
        } else if size_hint <= MAX_PACK_ENTRIES && first.len() <= MAX_PACK_VALUE {
            Repr::Pack(Pack::default())
        } else {
            Repr::Hash(Dense::default())
        };
        Set { repr }
    }

    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Ints(s) => s.len,
            Repr::Pack(p) => p.len,
            Repr::Hash(d) => d.ms.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Heap bytes owned, beyond the `Set` itself. O(1).
    pub fn heap_size(&self) -> usize {
        match &self.repr {
            Repr::Ints(s) => alloc_size(s.buf.capacity()),
            Repr::Pack(p) => alloc_size(p.buf.capacity()),
            Repr::Hash(d) => {
                d.member_heap
                    + alloc_size(d.ms.capacity() * std::mem::size_of::<Member>())
                    + d.index.heap_size()
            }
        }
    }

    pub fn encoding(&self) -> &'static str {
        match &self.repr {
            Repr::Ints(_) => "intset",
            Repr::Pack(_) => "listpack",
            Repr::Hash(_) => "hashtable",
        }
    }

    /// The members, in the encoding's order (ascending values for an intset).
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            set: self,
            pos: 0,
            at: 0,
        }
    }

    pub fn from_members<I: IntoIterator<Item = Vec<u8>>>(it: I) -> Set {
        let ms: Vec<Vec<u8>> = it.into_iter().collect();
        let mut s = match ms.first() {
            Some(first) => {
                let ints = ms.iter().all(|m| as_int(m).is_some());
                let long = ms.iter().any(|m| m.len() > MAX_PACK_VALUE);
                if ints && ms.len() <= MAX_INTSET_ENTRIES {
                    Set::new()
                } else if !long && ms.len() <= MAX_PACK_ENTRIES {
                    Set::for_member(first, ms.len())
                } else {
                    Set {
                        repr: Repr::Hash(Dense::default()),
                    }
                }
            }
            None => Set::new(),
        };
        if let Repr::Hash(d) = &mut s.repr {
            d.reserve(ms.len());
        }
        for m in ms {
            s.insert(&m);
        }
        s
    }

    pub fn contains(&self, m: &[u8]) -> bool {
        match &self.repr {
            Repr::Ints(s) => as_int(m).is_some_and(|v| s.search(v).is_ok()),
            Repr::Pack(p) => p.find(m).is_some(),
            Repr::Hash(d) => d.find(m).is_some(),
        }
    }

    /// Warm-up for a batch of member lookups in a large set (a hint, no effect on
    /// smaller encodings): [`Warm::Slot`] for every lookup of the batch first, then
    /// [`Warm::Member`] for each. Returns whether the first step applied.
    #[inline]
    pub fn prefetch_member(&self, m: &[u8], step: Warm) -> bool {
        let Repr::Hash(d) = &self.repr else {
            return false;
        };
        match step {
            Warm::Slot => d.index.prefetch_home(m),
            Warm::Member => {
                d.index
                    .prefetch_found(m, |id| d.ms.as_ptr().wrapping_add(id as usize));
            }
        }
        true
    }

    /// Add `m`. Returns false if it was already a member.
    pub fn insert(&mut self, m: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Ints(s) => match as_int(m) {
                Some(v) => {
                    let Err(pos) = s.search(v) else {
                        return false;
                    };
                    if s.len < MAX_INTSET_ENTRIES {
                        s.insert_at(pos, m);
                        return true;
                    }
                    self.convert(false);
                }
                None => {
                    let small = s.len < MAX_PACK_ENTRIES && m.len() <= MAX_PACK_VALUE;
                    self.convert(small);
                }
            },
            Repr::Pack(p) => {
                if p.find(m).is_some() {
                    return false;
                }
                if p.len < MAX_PACK_ENTRIES && m.len() <= MAX_PACK_VALUE {
                    p.push(m);
                    return true;
                }
                self.convert(false);
            }
            Repr::Hash(_) => {}
        }
        match &mut self.repr {
            Repr::Pack(p) => {
                if p.find(m).is_some() {
                    return false;
                }
                p.push(m);
                true
            }
            Repr::Hash(d) => d.insert(m),
            Repr::Ints(_) => unreachable!("converted above"),
        }
    }

    /// Remove `m`. Returns false if it was not a member.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Ints(s) => match as_int(m).map(|v| s.search(v)) {
                Some(Ok(pos)) => {
                    s.take(pos);
                    true
                }
                _ => false,
            },
            Repr::Pack(p) => match p.find(m) {
                Some((start, end)) => {
                    p.cut(start, end);
                    true
                }
                None => false,
            },
            Repr::Hash(d) => match d.find(m) {
                Some(id) => {
                    d.take(id as usize);
                    true
                }
                None => false,
            },
        }
    }

    /// The member at position `i` (< len) in the encoding's order: with a uniformly
    /// random `i`, a uniformly random member. O(1) except in a listpack (O(n), n <= 128).
    pub fn get(&self, i: usize) -> &[u8] {
        match &self.repr {
            Repr::Ints(s) => s.slot(i),
            Repr::Pack(p) => p.iter().nth(i).expect("position in range"),
            Repr::Hash(d) => &d.ms[i],
        }
    }

    /// Remove and return the member at position `i` (< len).
    pub fn take(&mut self, i: usize) -> Vec<u8> {
        match &mut self.repr {
            Repr::Ints(s) => s.take(i),
            Repr::Pack(p) => {
                let (start, end) = p.nth_range(i);
                let (ms, me) = p.member_range(start);
                let m = p.buf[ms..me].to_vec();
                p.cut(start, end);
                m
            }
            Repr::Hash(d) => d.take(i),
        }
    }

    /// SSCAN: visit about `count` members from `cursor` (0 starts), returning the next
    /// cursor (0 when done). Small encodings are visited whole in one call, as in Redis.
    pub fn scan<'a>(&'a self, cursor: u64, count: usize, mut f: impl FnMut(&'a [u8])) -> u64 {
        let Repr::Hash(d) = &self.repr else {
            self.iter().for_each(f);
            return 0;
        };
        // Positions below `c` are still to visit; the walk goes downwards.
        let len = d.ms.len() as u64;
        let c = if cursor == 0 { len } else { cursor.min(len) };
        let stop = c.saturating_sub(count.max(1) as u64);
        for i in (stop..c).rev() {
            f(&d.ms[i as usize]);
        }
        stop
    }

    /// Leave the small encodings: to a listpack (`small`) or a hashtable.
    fn convert(&mut self, small: bool) {
        let n = self.len();
        let repr = if small {
            let mut p = Pack::default();
            for m in self.iter() {
                p.push(m);
            }
            Repr::Pack(p)
        } else {
            let mut d = Dense::default();
            d.reserve(n + 1);
            for m in self.iter() {
                d.insert(m);
            }
            Repr::Hash(d)
        };
        self.repr = repr;
    }
}

/// Iterator over a [`Set`]'s members.
pub struct Iter<'a> {
    set: &'a Set,
    pos: usize,
    /// Byte offset in a listpack.
    at: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.pos >= self.set.len() {
            return None;
        }
        self.pos += 1;
        match &self.set.repr {
            Repr::Ints(s) => Some(s.slot(self.pos - 1)),
            Repr::Pack(p) => {
                let (ms, me) = p.member_range(self.at);
                self.at = me;
                Some(&p.buf[ms..me])
            }
            Repr::Hash(d) => Some(&d.ms[self.pos - 1]),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.set.len() - self.pos;
        (n, Some(n))
    }
}

// ---------------------------------------------------------------------------------------
// intset

#[derive(Debug, Clone, Default)]
struct Ints {
    /// `len` slots of `width` bytes: a length byte then the decimal digits.
    buf: Vec<u8>,
    width: usize,
    len: usize,
}

impl Ints {
    #[inline]
    fn slot(&self, i: usize) -> &[u8] {
        let s = &self.buf[i * self.width..(i + 1) * self.width];
        &s[1..1 + s[0] as usize]
    }

    #[inline]
    fn value(&self, i: usize) -> i64 {
        parse_i64_strict(self.slot(i)).expect("intset slots hold integers")
    }

    fn search(&self, v: i64) -> Result<usize, usize> {
        let (mut lo, mut hi) = (0, self.len);
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.value(mid).cmp(&v) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Ok(mid),
            }
        }
        Err(lo)
    }

    fn insert_at(&mut self, pos: usize, text: &[u8]) {
        if text.len() + 1 > self.width {
            self.widen(text.len() + 1);
        }
        let w = self.width;
        let mut slot = vec![0u8; w];
        slot[0] = text.len() as u8;
        slot[1..1 + text.len()].copy_from_slice(text);
        if self.buf.capacity() < self.buf.len() + w {
            let want = (self.buf.len() + w).max(self.buf.len() * 5 / 4);
            self.buf.reserve_exact(want - self.buf.len());
        }
        crate::util::splice_bytes(&mut self.buf, pos * w..pos * w, &slot);
        self.len += 1;
    }

    fn widen(&mut self, w: usize) {
        let mut buf = Vec::with_capacity((self.len + 1) * w);
        for i in 0..self.len {
            let s = self.slot(i);
            buf.push(s.len() as u8);
            buf.extend_from_slice(s);
            buf.resize((i + 1) * w, 0);
        }
        self.buf = buf;
        self.width = w;
    }

    fn take(&mut self, pos: usize) -> Vec<u8> {
        let m = self.slot(pos).to_vec();
        let w = self.width;
        self.buf.drain(pos * w..(pos + 1) * w);
        self.len -= 1;
        if self.buf.capacity() > 64 && self.buf.capacity() > self.buf.len() * 2 {
            self.buf.shrink_to(self.buf.len() * 5 / 4);
        }
        m
    }
}

// ---------------------------------------------------------------------------------------
// listpack

#[derive(Debug, Clone, Default)]
struct Pack {
    buf: Vec<u8>,
    len: usize,
}

impl Pack {
    /// (start, end) of the member bytes of the entry at byte `at`.
    #[inline]
    fn member_range(&self, at: usize) -> (usize, usize) {
        let mut i = at;
        let n = get_varint(&self.buf, &mut i) as usize;
        (i, i + n)
    }

    fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let mut at = 0;
        std::iter::from_fn(move || {
            if at >= self.buf.len() {
                return None;
            }
            let (ms, me) = self.member_range(at);
            at = me;
            Some(&self.buf[ms..me])
        })
    }

    /// Byte range of the entry holding `m`.
    fn find(&self, m: &[u8]) -> Option<(usize, usize)> {
        let mut at = 0;
        while at < self.buf.len() {
            let (ms, me) = self.member_range(at);
            if &self.buf[ms..me] == m {
                return Some((at, me));
            }
            at = me;
        }
        None
    }

    fn nth_range(&self, n: usize) -> (usize, usize) {
        let mut at = 0;
        for _ in 0..n {
            at = self.member_range(at).1;
        }
        (at, self.member_range(at).1)
    }

    fn push(&mut self, m: &[u8]) {
        if self.buf.capacity() < self.buf.len() + m.len() + 2 {
            let want = (self.buf.len() + m.len() + 2).max(self.buf.len() * 5 / 4);
            self.buf.reserve_exact(want - self.buf.len());
        }
        put_varint(&mut self.buf, m.len() as u64);
        self.buf.extend_from_slice(m);
        self.len += 1;
    }

    fn cut(&mut self, start: usize, end: usize) {
        self.buf.drain(start..end);
        self.len -= 1;
        if self.buf.capacity() > 64 && self.buf.capacity() > self.buf.len() * 2 {
            self.buf.shrink_to(self.buf.len() * 5 / 4);
        }
    }
}

// ---------------------------------------------------------------------------------------
// hashtable

/// A large set's member: up to 22 bytes inside its 24-byte slot of the dense array, so a
/// lookup reads index slot -> member slot (which holds the bytes), one cache miss fewer
/// than through a pointer, and a short member costs no allocation.
type Member = SmallBytes<22>;

#[derive(Debug, Clone, Default)]
struct Dense {
    ms: Vec<Member>,
    index: Index,
    /// Heap bytes of members too long to sit in their slot.
    member_heap: usize,
}

impl Dense {
    fn reserve(&mut self, n: usize) {
        self.ms.reserve(n);
        self.index.reserve(n);
    }

    fn find(&self, m: &[u8]) -> Option<u32> {
        let ms = &self.ms;
        self.index.find(m, |id| &ms[id as usize])
    }

    fn insert(&mut self, m: &[u8]) -> bool {
        if self.find(m).is_some() {
            return false;
        }
        let id = u32::try_from(self.ms.len()).expect("a set holds fewer than 2^32 members");
        let member = Member::new(m);
        self.member_heap += member.heap_size();
        self.ms.push(member);
        self.index.insert(m, id);
        true
    }

    fn take(&mut self, i: usize) -> Vec<u8> {
        let last = self.ms.len() - 1;
        self.index.remove(&self.ms[i], i as u32);
        if i != last {
            self.index.relocate(&self.ms[last], last as u32, i as u32);
        }
        let m = self.ms.swap_remove(i);
        self.member_heap -= m.heap_size();
        if self.ms.capacity() > 64 && self.ms.capacity() / 4 > self.ms.len() {
            self.ms.shrink_to(self.ms.len() * 2);
        }
        self.index.maybe_shrink();
        m.into_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn check(s: &Set, model: &HashSet<Vec<u8>>) {
        assert_eq!(s.len(), model.len());
        let got: HashSet<Vec<u8>> = s.iter().map(|m| m.to_vec()).collect();
        assert_eq!(&got, model);
        for i in 0..s.len() {
            assert!(model.contains(s.get(i)));
        }
        if let Repr::Hash(d) = &s.repr {
            for (i, m) in d.ms.iter().enumerate() {
                assert_eq!(d.find(m), Some(i as u32));
            }
            let heap: usize = d.ms.iter().map(|m| m.heap_size()).sum();
            assert_eq!(heap, d.member_heap);
        }
        if let Repr::Ints(x) = &s.repr {
            for i in 1..x.len {
                assert!(x.value(i - 1) < x.value(i));
            }
        }
    }

    #[test]
    fn intset_orders_values_and_widens() {
        let mut s = Set::new();
        for m in ["5", "-3", "100000", "0", "-9223372036854775808", "42"] {
            assert!(s.insert(m.as_bytes()));
        }
        assert!(!s.insert(b"42"));
        assert_eq!(s.encoding(), "intset");
        let v: Vec<&[u8]> = s.iter().collect();
        assert_eq!(
            v,
            vec![
                &b"-9223372036854775808"[..],
                b"-3",
                b"0",
                b"5",
                b"42",
                b"100000"
            ]
        );
        assert!(s.contains(b"100000"));
        assert!(!s.contains(b"0100000"));
        assert!(s.remove(b"-3"));
        assert!(!s.remove(b"-3"));
        assert_eq!(s.len(), 5);
    }

    #[test]
    fn conversions_follow_the_thresholds() {
        let mut s = Set::new();
        for i in 0..MAX_INTSET_ENTRIES {
            s.insert(i.to_string().as_bytes());
        }
        assert_eq!(s.encoding(), "intset");
        s.insert(b"512");
        assert_eq!(s.encoding(), "hashtable");
        assert_eq!(s.len(), 513);

        let mut s = Set::new();
        s.insert(b"1");
        s.insert(b"abc");
        assert_eq!(s.encoding(), "listpack");
        for i in 0..MAX_PACK_ENTRIES - 2 {
            s.insert(format!("m{i}").as_bytes());
        }
        assert_eq!(s.encoding(), "listpack");
        assert_eq!(s.len(), MAX_PACK_ENTRIES);
        s.insert(b"one more");
        assert_eq!(s.encoding(), "hashtable");

        let mut s = Set::new();
        s.insert(&[b'x'; MAX_PACK_VALUE + 1]);
        assert_eq!(s.encoding(), "hashtable");
    }

    #[test]
    fn random_ops_match_a_model() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
        for round in 0..3 {
            let mut s = Set::new();
            let mut model = HashSet::new();
            for step in 0..4000 {
                let m = match round {
                    0 => rng.gen_range(0..700).to_string(),
                    1 => format!("k{}", rng.gen_range(0..150)),
                    _ => format!("k{}", rng.gen_range(0..2000)),
                }
                .into_bytes();
                match rng.gen_range(0..4) {
                    0 | 1 => assert_eq!(s.insert(&m), model.insert(m.clone())),
                    2 => assert_eq!(s.remove(&m), model.remove(&m)),
                    _ if !s.is_empty() => {
                        let i = rng.gen_range(0..s.len());
                        let got = s.take(i);
                        assert!(model.remove(&got));
                    }
                    _ => {}
                }
                if step % 97 == 0 {
                    check(&s, &model);
                }
            }
            check(&s, &model);
        }
    }

    #[test]
    fn scan_returns_every_member_despite_removals() {
        let mut s = Set::new();
        for i in 0..5000 {
            s.insert(format!("m{i}").as_bytes());
        }
        let mut seen = HashSet::new();
        let mut cursor = 0;
        let mut removed = HashSet::new();
        let mut n = 0;
        loop {
            cursor = s.scan(cursor, 37, |m| {
                seen.insert(m.to_vec());
            });
            // Remove some members (moving others) and add new ones during the scan.
            for _ in 0..5 {
                if !s.is_empty() {
                    let i = (n * 7919) % s.len();
                    removed.insert(s.take(i));
                }
                s.insert(format!("new{n}").as_bytes());
                n += 1;
            }
            if cursor == 0 {
                break;
            }
        }
        for i in 0..5000 {
            let m = format!("m{i}").into_bytes();
            assert!(removed.contains(&m) || seen.contains(&m), "m{i} missed");
        }
    }
}
