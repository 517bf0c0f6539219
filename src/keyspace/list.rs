//! List values: a deque of packed chunks, Redis's quicklist of listpacks.
//!
//! Each chunk is one buffer of up to [`CHUNK_BYTES`] holding its elements back to back,
//! each framed as `varint(len) bytes backlen(len)`: the forward varint lets a walk go
//! head to tail, the backward length (the same 7-bit groups, stored so that they read
//! from the end) lets it go tail to head, so pops, LINDEX and LRANGE near either end never
//! walk the middle. A small element costs its bytes plus two, instead of a pointer, a
//! length and an allocation; an element bigger than a chunk gets a chunk of its own.
//! Positions are found by skipping whole chunks by their counts, then walking one chunk
//! (at most 8 KB) from its nearer end. Edits in the middle move at most one chunk's bytes;
//! a chunk that outgrows the limit is split, neighbours that fit together are merged.
//!
//! OBJECT ENCODING says `quicklist`, as Redis 7.0 does for every list.
//!
//! Contract used by snapshots and memory accounting: `len`, `heap_size` (O(1), kept up to
//! date), `encoding`, `iter` (elements head to tail) and `from_elements`.

use std::collections::VecDeque;

use super::alloc_size;

/// Bytes a chunk may hold before a new one is started (Redis's `list-max-listpack-size
/// -2`, 8 KB).
pub const CHUNK_BYTES: usize = 8 * 1024;

#[derive(Clone, Default)]
struct Chunk {
    buf: Vec<u8>,
    count: u32,
}

#[derive(Clone, Default)]
pub struct List {
    chunks: VecDeque<Chunk>,
    len: usize,
    /// Sum of the chunk buffers' allocation sizes.
    heap: usize,
}

impl std::fmt::Debug for List {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.iter().map(String::from_utf8_lossy))
            .finish()
    }
}

impl PartialEq for List {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

// ---- framing -------------------------------------------------------------------------

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

/// Bytes one element of `n` bytes takes in a chunk.
#[inline]
fn entry_size(n: usize) -> usize {
    n + 2 * varint_len(n)
}

fn put_entry(out: &mut Vec<u8>, data: &[u8]) {
    let n = data.len();
    // Forward: LEB128, low groups first, high bit = more follow.
    let mut v = n;
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            break;
        }
        out.push(b | 0x80);
    }
    out.extend_from_slice(data);
    // Backward: the same groups, high groups first; every byte but the leftmost has the
    // high bit set, meaning "more to the left" for a reader starting at the end.
    let k = varint_len(n);
    for i in (0..k).rev() {
        let g = ((n >> (7 * i)) & 0x7f) as u8;
        out.push(if i == k - 1 { g } else { g | 0x80 });
    }
}

/// The element starting at byte `pos`: (data start, data len, next entry's position).
#[inline]
fn read_fwd(buf: &[u8], pos: usize) -> (usize, usize, usize) {
    let mut n = 0usize;
    let mut shift = 0;
    let mut i = pos;
    loop {
        let b = buf[i];
        i += 1;
        n |= ((b & 0x7f) as usize) << shift;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    let k = varint_len(n);
    (i, n, i + n + k)
}

/// The element ending at byte `end`: (entry start, data start, data len).
#[inline]
fn read_back(buf: &[u8], end: usize) -> (usize, usize, usize) {
    let mut n = 0usize;
    let mut shift = 0;
    let mut i = end;
    loop {
        i -= 1;
        let b = buf[i];
        n |= ((b & 0x7f) as usize) << shift;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    let k = varint_len(n);
    let data = i - n;
    (data - k, data, n)
}

/// Grow `buf` to hold `extra` more bytes, in steps of at least 1/8 rounded to the
/// allocator's size classes (exact-ish fit, amortised O(1) appends).
fn reserve(buf: &mut Vec<u8>, extra: usize) {
    let need = buf.len() + extra;
    if need <= buf.capacity() {
        return;
    }
    let target = alloc_size(need.max(buf.capacity() + buf.capacity() / 8));
    buf.reserve_exact(target - buf.len());
}

impl Chunk {
    fn cost(&self) -> usize {
        alloc_size(self.buf.capacity())
    }

    fn from_iter<'a>(items: impl Iterator<Item = &'a [u8]>) -> Chunk {
        let mut c = Chunk::default();
        for e in items {
            c.push_back(e);
        }
        c
    }

    fn push_back(&mut self, data: &[u8]) {
        reserve(&mut self.buf, entry_size(data.len()));
        put_entry(&mut self.buf, data);
        self.count += 1;
    }

    /// Insert at byte position `pos` (an entry boundary).
    fn insert_at(&mut self, pos: usize, data: &[u8]) {
        // Frame it at the end, then rotate it into place: no temporary buffer (LPUSH
        // inserts at 0 on every call).
        let n = entry_size(data.len());
        reserve(&mut self.buf, n);
        put_entry(&mut self.buf, data);
        self.buf[pos..].rotate_right(n);
        self.count += 1;
    }

    /// Byte position of entry `i` (0..=count), walking from the nearer end.
    fn offset(&self, i: usize) -> usize {
        let count = self.count as usize;
        if i <= count / 2 {
            let mut pos = 0;
            for _ in 0..i {
                pos = read_fwd(&self.buf, pos).2;
            }
            pos
        } else {
            let mut end = self.buf.len();
            for _ in i..count {
                end = read_back(&self.buf, end).0;
            }
            end
        }
    }

    /// (entry start, data start, data len, entry end) of entry `i`.
    fn locate(&self, i: usize) -> (usize, usize, usize, usize) {
        let start = self.offset(i);
        let (d, n, next) = read_fwd(&self.buf, start);
        (start, d, n, next)
    }

    fn get(&self, i: usize) -> &[u8] {
        let (_, d, n, _) = self.locate(i);
        &self.buf[d..d + n]
    }

    fn remove(&mut self, i: usize) -> Vec<u8> {
        let (start, d, n, end) = self.locate(i);
        let v = self.buf[d..d + n].to_vec();
        self.buf.drain(start..end);
        self.count -= 1;
        v
    }

    fn pop_front(&mut self) -> Vec<u8> {
        let (d, n, next) = read_fwd(&self.buf, 0);
        let v = self.buf[d..d + n].to_vec();
        self.buf.drain(..next);
        self.count -= 1;
        v
    }

    fn pop_back(&mut self) -> Vec<u8> {
        let (start, d, n) = read_back(&self.buf, self.buf.len());
        let v = self.buf[d..d + n].to_vec();
        self.buf.truncate(start);
        self.count -= 1;
        v
    }

    /// Drop the first `k` entries.
    fn drop_front(&mut self, k: usize) {
        let pos = self.offset(k);
        self.buf.drain(..pos);
        self.count -= k as u32;
    }

    /// Drop the last `k` entries.
    fn drop_back(&mut self, k: usize) {
        let pos = self.offset(self.count as usize - k);
        self.buf.truncate(pos);
        self.count -= k as u32;
    }

    fn shrink(&mut self) {
        if self.buf.capacity() > alloc_size(self.buf.len()) + self.buf.len() / 4 {
            self.buf.shrink_to_fit();
        }
    }
}

/// Double-ended iterator over a list's elements.
pub struct Iter<'a> {
    chunks: &'a VecDeque<Chunk>,
    /// Front cursor: chunk index and byte position.
    fc: usize,
    fp: usize,
    /// Back cursor: chunk index and byte end.
    bc: usize,
    bp: usize,
    left: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a [u8];

    #[inline]
    fn next(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        let mut c = &self.chunks[self.fc];
        while self.fp >= c.buf.len() {
            self.fc += 1;
            self.fp = 0;
            c = &self.chunks[self.fc];
        }
        let (d, n, next) = read_fwd(&c.buf, self.fp);
        self.fp = next;
        self.left -= 1;
        Some(&c.buf[d..d + n])
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl<'a> DoubleEndedIterator for Iter<'a> {
    #[inline]
    fn next_back(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        let mut c = &self.chunks[self.bc];
        while self.bp == 0 {
            self.bc -= 1;
            c = &self.chunks[self.bc];
            self.bp = c.buf.len();
        }
        let (start, d, n) = read_back(&c.buf, self.bp);
        self.bp = start;
        self.left -= 1;
        Some(&c.buf[d..d + n])
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl List {
    pub fn new() -> List {
        List::default()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Heap bytes: the chunk buffers plus the chunk array.
    pub fn heap_size(&self) -> usize {
        self.heap + alloc_size(self.chunks.capacity() * std::mem::size_of::<Chunk>())
    }

    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }

    /// Elements head to tail (reversible: `.rev()` walks tail to head).
    pub fn iter(&self) -> Iter<'_> {
        self.iter_from(0)
    }

    /// Elements from index `start` (0-based from the head) to the tail.
    pub fn iter_from(&self, start: usize) -> Iter<'_> {
        let (bc, bp) = match self.chunks.back() {
            Some(c) => (self.chunks.len() - 1, c.buf.len()),
            None => (0, 0),
        };
        if start >= self.len {
            return Iter {
                chunks: &self.chunks,
                fc: 0,
                fp: 0,
                bc,
                bp,
                left: 0,
            };
        }
        let (ci, i) = self.find(start);
        Iter {
            chunks: &self.chunks,
            fc: ci,
            fp: self.chunks[ci].offset(i),
            bc,
            bp,
            left: self.len - start,
        }
    }

    pub fn from_elements<I: IntoIterator<Item = Vec<u8>>>(it: I) -> List {
        let mut l = List::default();
        for e in it {
            l.push_back(&e);
        }
        l
    }

    /// (chunk index, index inside it) of element `index` (< len), skipping whole chunks
    /// from the nearer end.
    fn find(&self, index: usize) -> (usize, usize) {
        debug_assert!(index < self.len);
        if index < self.len / 2 {
            let mut i = index;
            for (ci, c) in self.chunks.iter().enumerate() {
                if i < c.count as usize {
                    return (ci, i);
                }
                i -= c.count as usize;
            }
        } else {
            let mut from_end = self.len - 1 - index;
            for (ci, c) in self.chunks.iter().enumerate().rev() {
                if from_end < c.count as usize {
                    return (ci, c.count as usize - 1 - from_end);
                }
                from_end -= c.count as usize;
            }
        }
        unreachable!("index within the list")
    }

    /// Run `f` on chunk `ci`, keeping the heap figure right.
    fn edit<R>(&mut self, ci: usize, f: impl FnOnce(&mut Chunk) -> R) -> R {
        let c = &mut self.chunks[ci];
        let before = c.cost();
        let r = f(c);
        let after = c.cost();
        self.heap = self.heap + after - before;
        r
    }

    fn insert_chunk(&mut self, ci: usize, c: Chunk) {
        if self.chunks.len() == self.chunks.capacity() {
            self.chunks.reserve_exact((self.chunks.len() / 2).max(1));
        }
        self.heap += c.cost();
        self.chunks.insert(ci, c);
    }

    fn remove_chunk(&mut self, ci: usize) {
        if let Some(c) = self.chunks.remove(ci) {
            self.heap -= c.cost();
        }
        if self.chunks.capacity() > 8 && self.chunks.len() < self.chunks.capacity() / 4 {
            self.chunks.shrink_to(self.chunks.len() * 2);
        }
    }

    /// Whether a new element of `n` bytes may join chunk `c`.
    fn fits(c: &Chunk, n: usize) -> bool {
        c.buf.len() + entry_size(n) <= CHUNK_BYTES
    }

    pub fn push_back(&mut self, data: &[u8]) {
        let last = self.chunks.len().wrapping_sub(1);
        if self
            .chunks
            .back()
            .is_some_and(|c| Self::fits(c, data.len()))
        {
            self.edit(last, |c| c.push_back(data));
        } else {
            let mut c = Chunk::default();
            c.push_back(data);
            self.insert_chunk(self.chunks.len(), c);
        }
        self.len += 1;
    }

    pub fn push_front(&mut self, data: &[u8]) {
        if self
            .chunks
            .front()
            .is_some_and(|c| Self::fits(c, data.len()))
        {
            self.edit(0, |c| c.insert_at(0, data));
        } else {
            let mut c = Chunk::default();
            c.push_back(data);
            self.insert_chunk(0, c);
        }
        self.len += 1;
    }

    pub fn pop_front(&mut self) -> Option<Vec<u8>> {
        if self.len == 0 {
            return None;
        }
        let v = self.edit(0, |c| c.pop_front());
        self.len -= 1;
        self.after_removal(0);
        Some(v)
    }

    pub fn pop_back(&mut self) -> Option<Vec<u8>> {
        if self.len == 0 {
            return None;
        }
        let last = self.chunks.len() - 1;
        let v = self.edit(last, |c| c.pop_back());
        self.len -= 1;
        self.after_removal(last);
        Some(v)
    }

    /// The element at `index` (0-based from the head), if within the list.
    pub fn get(&self, index: usize) -> Option<&[u8]> {
        if index >= self.len {
            return None;
        }
        let (ci, i) = self.find(index);
        Some(self.chunks[ci].get(i))
    }

    /// Replace the element at `index` (< len).
    pub fn set(&mut self, index: usize, data: &[u8]) {
        let (ci, i) = self.find(index);
        self.edit(ci, |c| {
            let (start, _, _, end) = c.locate(i);
            let mut e = Vec::with_capacity(entry_size(data.len()));
            put_entry(&mut e, data);
            if e.len() > end - start {
                reserve(&mut c.buf, e.len() - (end - start));
            }
            crate::util::splice_bytes(&mut c.buf, start..end, &e);
        });
        self.split_if_big(ci);
    }

    /// Insert `data` so that it becomes element `index` (0..=len).
    pub fn insert(&mut self, index: usize, data: &[u8]) {
        if index == 0 {
            return self.push_front(data);
        }
        if index >= self.len {
            return self.push_back(data);
        }
        let (ci, i) = self.find(index);
        // Joining the end of the previous chunk avoids moving this one's bytes.
        if i == 0 && ci > 0 && Self::fits(&self.chunks[ci - 1], data.len()) {
            self.edit(ci - 1, |c| c.push_back(data));
        } else {
            self.edit(ci, |c| {
                let pos = c.offset(i);
                c.insert_at(pos, data);
            });
            self.split_if_big(ci);
        }
        self.len += 1;
    }

    /// Remove and return the element at `index` (< len).
    pub fn remove(&mut self, index: usize) -> Vec<u8> {
        let (ci, i) = self.find(index);
        let v = self.edit(ci, |c| c.remove(i));
        self.len -= 1;
        self.after_removal(ci);
        v
    }

    /// Keep only elements `start..=end` (indexes within the list, `start <= end`).
    pub fn trim(&mut self, start: usize, end: usize) {
        let mut front = start;
        let mut back = self.len.saturating_sub(end + 1);
        while front > 0 {
            let n = self.chunks[0].count as usize;
            if n <= front {
                self.remove_chunk(0);
                front -= n;
                self.len -= n;
            } else {
                self.edit(0, |c| {
                    c.drop_front(front);
                    c.shrink();
                });
                self.len -= front;
                front = 0;
            }
        }
        while back > 0 {
            let last = self.chunks.len() - 1;
            let n = self.chunks[last].count as usize;
            if n <= back {
                self.remove_chunk(last);
                back -= n;
                self.len -= n;
            } else {
                self.edit(last, |c| {
                    c.drop_back(back);
                    c.shrink();
                });
                self.len -= back;
                back = 0;
            }
        }
        if !self.chunks.is_empty() {
            self.after_removal(0);
            let last = self.chunks.len() - 1;
            self.after_removal(last);
        }
    }

    /// Remove up to `limit` elements equal to `value` (0 = all), scanning from the head,
    /// or from the tail when `from_tail`. Returns how many were removed.
    pub fn remove_matching(&mut self, value: &[u8], limit: usize, from_tail: bool) -> usize {
        let limit = if limit == 0 { usize::MAX } else { limit };
        let mut removed = 0;
        let n = self.chunks.len();
        let order: Box<dyn Iterator<Item = usize>> = if from_tail {
            Box::new((0..n).rev())
        } else {
            Box::new(0..n)
        };
        let mut touched = Vec::new();
        for ci in order {
            if removed >= limit {
                break;
            }
            let c = &self.chunks[ci];
            // Positions of the matches in this chunk, in scan order.
            let mut hits: Vec<(usize, usize)> = Vec::new();
            let mut pos = 0;
            while pos < c.buf.len() {
                let (d, len, next) = read_fwd(&c.buf, pos);
                if &c.buf[d..d + len] == value {
                    hits.push((pos, next));
                }
                pos = next;
            }
            if hits.is_empty() {
                continue;
            }
            if from_tail {
                hits.reverse();
            }
            hits.truncate(limit - removed);
            hits.sort_unstable();
            removed += hits.len();
            let k = hits.len();
            self.edit(ci, |c| {
                let mut out = Vec::with_capacity(c.buf.len());
                let mut from = 0;
                for (s, e) in &hits {
                    out.extend_from_slice(&c.buf[from..*s]);
                    from = *e;
                }
                out.extend_from_slice(&c.buf[from..]);
                c.buf = out;
                c.count -= k as u32;
                c.shrink();
            });
            touched.push(ci);
        }
        self.len -= removed;
        // Drop emptied chunks (from the highest index so the others keep theirs), then
        // merge neighbours that fit together.
        touched.sort_unstable();
        for &ci in touched.iter().rev() {
            if self.chunks[ci].count == 0 {
                self.remove_chunk(ci);
            }
        }
        let mut ci = 0;
        while ci + 1 < self.chunks.len() {
            if !self.try_merge(ci) {
                ci += 1;
            }
        }
        removed
    }

    /// After chunk `ci` lost elements: drop it if empty, or merge it with a neighbour
    /// when both fit in one chunk.
    fn after_removal(&mut self, ci: usize) {
        if self.chunks[ci].count == 0 {
            self.remove_chunk(ci);
            return;
        }
        if ci + 1 < self.chunks.len() && self.try_merge(ci) {
            return;
        }
        if ci > 0 {
            self.try_merge(ci - 1);
        }
    }

    /// Merge chunk `ci + 1` into `ci` if together they fit (and are not tiny-but-huge:
    /// only when both are under half a chunk, so a full chunk is not rewritten each pop).
    fn try_merge(&mut self, ci: usize) -> bool {
        let (a, b) = (&self.chunks[ci], &self.chunks[ci + 1]);
        if a.buf.len() + b.buf.len() > CHUNK_BYTES / 2 {
            return false;
        }
        let b = self.chunks.remove(ci + 1).expect("neighbour exists");
        self.heap -= b.cost();
        self.edit(ci, |a| {
            reserve(&mut a.buf, b.buf.len());
            a.buf.extend_from_slice(&b.buf);
            a.count += b.count;
        });
        true
    }

    /// Split chunk `ci` in two if it outgrew the limit and holds more than one element.
    fn split_if_big(&mut self, ci: usize) {
        let c = &self.chunks[ci];
        if c.buf.len() <= CHUNK_BYTES || c.count < 2 {
            return;
        }
        let half = c.count as usize / 2;
        let tail = Chunk::from_iter(
            ChunkIter {
                buf: &c.buf,
                pos: c.offset(half),
            }
            .take(c.count as usize - half),
        );
        self.edit(ci, |c| {
            c.drop_back(c.count as usize - half);
            c.shrink();
        });
        self.insert_chunk(ci + 1, tail);
    }
}

struct ChunkIter<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for ChunkIter<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let (d, n, next) = read_fwd(self.buf, self.pos);
        self.pos = next;
        Some(&self.buf[d..d + n])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model_check(l: &List, m: &VecDeque<Vec<u8>>) {
        assert_eq!(l.len(), m.len());
        let fwd: Vec<&[u8]> = l.iter().collect();
        let want: Vec<&[u8]> = m.iter().map(|v| &v[..]).collect();
        assert_eq!(fwd, want);
        let back: Vec<&[u8]> = l.iter().rev().collect();
        let want_back: Vec<&[u8]> = m.iter().rev().map(|v| &v[..]).collect();
        assert_eq!(back, want_back);
        let chunk_heap: usize = l.chunks.iter().map(|c| c.cost()).sum();
        assert_eq!(l.heap, chunk_heap);
        let counts: usize = l.chunks.iter().map(|c| c.count as usize).sum();
        assert_eq!(counts, m.len());
        assert!(l.chunks.iter().all(|c| c.count > 0));
    }

    #[test]
    fn framing_round_trips() {
        for n in [0usize, 1, 127, 128, 300, 16383, 16384, 70000] {
            let data = vec![7u8; n];
            let mut buf = Vec::new();
            put_entry(&mut buf, &data);
            assert_eq!(buf.len(), entry_size(n));
            let (d, len, next) = read_fwd(&buf, 0);
            assert_eq!((len, next), (n, buf.len()));
            assert_eq!(&buf[d..d + len], &data[..]);
            let (s, d2, len2) = read_back(&buf, buf.len());
            assert_eq!((s, d2, len2), (0, d, n));
        }
    }

    #[test]
    fn behaves_like_a_deque() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
        let mut l = List::new();
        let mut m: VecDeque<Vec<u8>> = VecDeque::new();
        for step in 0..20_000 {
            let size = if rng.gen_ratio(1, 50) {
                rng.gen_range(100..9000)
            } else {
                rng.gen_range(0..20)
            };
            let v: Vec<u8> = (0..size).map(|_| rng.gen_range(b'a'..b'e')).collect();
            match rng.gen_range(0..12) {
                0 | 1 => {
                    l.push_back(&v);
                    m.push_back(v);
                }
                2 | 3 => {
                    l.push_front(&v);
                    m.push_front(v);
                }
                4 => assert_eq!(l.pop_front(), m.pop_front()),
                5 => assert_eq!(l.pop_back(), m.pop_back()),
                6 if !m.is_empty() => {
                    let i = rng.gen_range(0..m.len());
                    l.set(i, &v);
                    m[i] = v;
                }
                7 => {
                    let i = rng.gen_range(0..=m.len());
                    l.insert(i, &v);
                    m.insert(i, v);
                }
                8 if !m.is_empty() => {
                    let i = rng.gen_range(0..m.len());
                    assert_eq!(l.remove(i), m.remove(i).unwrap());
                }
                9 if !m.is_empty() => {
                    let i = rng.gen_range(0..m.len());
                    assert_eq!(l.get(i), Some(&m[i][..]));
                    let from: Vec<&[u8]> = l.iter_from(i).collect();
                    assert_eq!(from.len(), m.len() - i);
                    assert_eq!(from[0], &m[i][..]);
                }
                10 if step % 50 == 0 && !m.is_empty() => {
                    let s = rng.gen_range(0..m.len());
                    let e = rng.gen_range(s..m.len());
                    l.trim(s, e);
                    let kept: VecDeque<Vec<u8>> = m.drain(..).skip(s).take(e - s + 1).collect();
                    m = kept;
                }
                11 if step % 20 == 0 => {
                    let target: Vec<u8> = vec![b'a'];
                    let limit = rng.gen_range(0..3);
                    let tail = rng.gen_bool(0.5);
                    let n = l.remove_matching(&target, limit, tail);
                    let lim = if limit == 0 { usize::MAX } else { limit };
                    let mut idx: Vec<usize> = (0..m.len()).filter(|&i| m[i] == target).collect();
                    if tail {
                        idx.reverse();
                    }
                    idx.truncate(lim);
                    idx.sort_unstable();
                    for &i in idx.iter().rev() {
                        m.remove(i);
                    }
                    assert_eq!(n, idx.len());
                }
                _ => {}
            }
            if step % 97 == 0 {
                model_check(&l, &m);
            }
        }
        model_check(&l, &m);
    }

    #[test]
    fn small_list_is_compact() {
        let l = List::from_elements((0..5).map(|i| format!("v{i}").into_bytes()));
        assert_eq!(l.chunks.len(), 1);
        assert!(l.heap_size() <= 64, "{}", l.heap_size());
    }
}
