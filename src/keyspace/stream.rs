//! Streams: an append-only sequence of entries (field-value pairs) named by increasing
//! IDs, and the consumer groups that read it, as Redis 7.0 defines them.
//!
//! Entries are packed into nodes of up to 100 entries or 4 KB, as Redis packs them into
//! listpacks, kept in a B-tree by their first ID: an entry costs about its bytes (1M
//! two-field entries: 19 MB here, 16.7 MB in Redis 7.0), appending touches the last node,
//! and a read or delete finds its node in the tree and scans at most one node. A stream is
//! never "empty" in the keyspace's sense: XDEL of its last entry leaves the key (with its
//! last ID and groups), as in Redis.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::alloc_size;

/// A stream entry ID: milliseconds and a sequence number, ordered as a pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    pub const fn new(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    /// The next ID, if there is one.
    pub fn next(self) -> Option<StreamId> {
        match self.seq.checked_add(1) {
            Some(seq) => Some(StreamId { ms: self.ms, seq }),
            None => self.ms.checked_add(1).map(|ms| StreamId { ms, seq: 0 }),
        }
    }

    /// The previous ID, if there is one.
    pub fn prev(self) -> Option<StreamId> {
        match self.seq.checked_sub(1) {
            Some(seq) => Some(StreamId { ms: self.ms, seq }),
            None => self
                .ms
                .checked_sub(1)
                .map(|ms| StreamId { ms, seq: u64::MAX }),
        }
    }

    pub fn is_zero(self) -> bool {
        self == StreamId::MIN
    }

    /// `ms-seq`, as replies and the log spell it.
    pub fn to_bytes(self) -> Vec<u8> {
        self.to_string().into_bytes()
    }

    /// Parse `ms[-seq]`; a missing sequence is `missing_seq`. No `-`/`+`/`*` forms (the
    /// command layer handles those).
    pub fn parse(s: &[u8], missing_seq: u64) -> Option<StreamId> {
        if s.is_empty() || s.len() > 127 {
            return None;
        }
        let (ms, seq) = match s.iter().position(|&c| c == b'-') {
            Some(i) => (&s[..i], Some(&s[i + 1..])),
            None => (s, None),
        };
        let ms = parse_u64(ms)?;
        let seq = match seq {
            Some(q) => parse_u64(q)?,
            None => missing_seq,
        };
        Some(StreamId { ms, seq })
    }
}

/// An unsigned decimal as Redis's `string2ull` reads it: digits only, no sign, no
/// overflow.
fn parse_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(s).ok()?.parse().ok()
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// A pending (delivered, not yet acknowledged) entry of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nack {
    pub consumer: Vec<u8>,
    /// Unix ms of the last delivery.
    pub delivery_time: u64,
    pub delivery_count: u64,
}

/// A consumer of a group.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Consumer {
    /// Unix ms of its last read or claim.
    pub seen_time: u64,
    /// The IDs pending for it (each also in the group's PEL).
    pub pel: BTreeSet<StreamId>,
}

/// Redis's "entries read unknown" marker for a group's counter.
pub const ENTRIES_READ_UNKNOWN: i64 = -1;

/// A consumer group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub last_id: StreamId,
    /// How many entries the group has read ([`ENTRIES_READ_UNKNOWN`] when not known).
    pub entries_read: i64,
    pub pel: BTreeMap<StreamId, Nack>,
    pub consumers: BTreeMap<Vec<u8>, Consumer>,
}

impl Group {
    pub fn new(last_id: StreamId, entries_read: i64) -> Group {
        Group {
            last_id,
            entries_read,
            pel: BTreeMap::new(),
            consumers: BTreeMap::new(),
        }
    }

    /// The consumer `name`, created (seen now) if missing; true if it was created.
    pub fn consumer(&mut self, name: &[u8], now: u64) -> (&mut Consumer, bool) {
        let created = !self.consumers.contains_key(name);
        let c = self
            .consumers
            .entry(name.to_vec())
            .or_insert_with(|| Consumer {
                seen_time: now,
                pel: BTreeSet::new(),
            });
        (c, created)
    }

    /// Remove `id` from the PEL (and its consumer's); true if it was pending.
    pub fn ack(&mut self, id: StreamId) -> bool {
        match self.pel.remove(&id) {
            Some(n) => {
                if let Some(c) = self.consumers.get_mut(&n.consumer) {
                    c.pel.remove(&id);
                }
                true
            }
            None => false,
        }
    }

    /// Make `id` pending for `consumer` (moving it from another consumer if needed).
    pub fn assign(&mut self, id: StreamId, consumer: &[u8], delivery_time: u64, count: u64) {
        self.ack(id);
        self.pel.insert(
            id,
            Nack {
                consumer: consumer.to_vec(),
                delivery_time,
                delivery_count: count,
            },
        );
        self.consumers
            .entry(consumer.to_vec())
            .or_default()
            .pel
            .insert(id);
    }
}

/// An entry's field-value pairs, flat: `[f1, v1, f2, v2, ...]`.
pub type Fields = Vec<Vec<u8>>;

/// A node holds at most this many entries (Redis's `stream-node-max-entries`)...
const NODE_ENTRIES: u16 = 100;
/// ...and at most this many bytes unless its first entry alone is bigger
/// (`stream-node-max-bytes`).
const NODE_BYTES: usize = 4096;
/// Bookkeeping per node beyond its bytes (B-tree slot, key, the node itself).
const NODE_OVERHEAD: usize = 64;

/// Entries packed back to back, as Redis's listpack nodes keep them, so an entry costs
/// about its bytes plus a few: per entry a flag byte (0 live, 1 deleted), the ID as
/// LEB128 varints (ms minus the node's key ms, then seq), the field count, then each
/// field as a varint length and its bytes. A deleted entry keeps its bytes (flag set)
/// until its whole node goes, as in Redis.
#[derive(Debug, Clone, Default)]
struct Node {
    data: Vec<u8>,
    /// Entries in `data`, deleted ones included.
    count: u16,
    live: u16,
    /// Offset of the first entry that may be live (everything before is deleted), so
    /// trimming from the front does not rescan what it already deleted.
    head: usize,
    /// The ID of the last entry pushed (live or not): an upper bound of the node's IDs.
    last: StreamId,
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A varint of `d` at `*pos` (the node's own bytes: always well formed).
fn get_varint(d: &[u8], pos: &mut usize) -> u64 {
    let mut v = 0u64;
    let mut shift = 0;
    loop {
        let b = d[*pos];
        *pos += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return v;
        }
        shift += 7;
    }
}

fn varint_len(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

/// One entry of a node, as [`NodeIter`] finds it.
#[derive(Clone, Copy)]
struct Raw<'a> {
    id: StreamId,
    deleted: bool,
    /// Offset of its flag byte in the node.
    at: usize,
    /// Its field count, then its fields.
    body: &'a [u8],
}

impl Raw<'_> {
    fn fields(&self) -> Fields {
        let mut pos = 0;
        let n = get_varint(self.body, &mut pos) as usize;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let len = get_varint(self.body, &mut pos) as usize;
            out.push(self.body[pos..pos + len].to_vec());
            pos += len;
        }
        out
    }
}

/// The entries of a node in order, deleted ones included.
struct NodeIter<'a> {
    data: &'a [u8],
    pos: usize,
    key: StreamId,
}

impl<'a> Iterator for NodeIter<'a> {
    type Item = Raw<'a>;
    fn next(&mut self) -> Option<Raw<'a>> {
        if self.pos >= self.data.len() {
            return None;
        }
        let d = self.data;
        let at = self.pos;
        let mut pos = at + 1;
        let ms = self.key.ms + get_varint(d, &mut pos);
        let seq = get_varint(d, &mut pos);
        let body_start = pos;
        let n = get_varint(d, &mut pos);
        for _ in 0..n {
            let len = get_varint(d, &mut pos) as usize;
            pos += len;
        }
        self.pos = pos;
        Some(Raw {
            id: StreamId { ms, seq },
            deleted: d[at] != 0,
            at,
            body: &d[body_start..pos],
        })
    }
}

impl Node {
    fn iter(&self, key: StreamId) -> NodeIter<'_> {
        NodeIter {
            data: &self.data,
            pos: self.head,
            key,
        }
    }

    fn live(&self, key: StreamId) -> impl Iterator<Item = Raw<'_>> {
        self.iter(key).filter(|r| !r.deleted)
    }

    fn entry_size<F: AsRef<[u8]>>(key: StreamId, id: StreamId, fields: &[F]) -> usize {
        1 + varint_len(id.ms - key.ms)
            + varint_len(id.seq)
            + varint_len(fields.len() as u64)
            + fields
                .iter()
                .map(|f| varint_len(f.as_ref().len() as u64) + f.as_ref().len())
                .sum::<usize>()
    }

    fn push<F: AsRef<[u8]>>(&mut self, key: StreamId, id: StreamId, fields: &[F]) {
        let d = &mut self.data;
        d.push(0);
        put_varint(d, id.ms - key.ms);
        put_varint(d, id.seq);
        put_varint(d, fields.len() as u64);
        for f in fields {
            let f = f.as_ref();
            put_varint(d, f.len() as u64);
            d.extend_from_slice(f);
        }
        self.count += 1;
        self.live += 1;
        self.last = id;
    }

    fn heap(&self) -> usize {
        NODE_OVERHEAD + alloc_size(self.data.capacity())
    }
}

/// A stream value.
#[derive(Debug, Clone, Default)]
pub struct Stream {
    /// Nodes by the ID of the first entry they were given (kept when it is deleted).
    nodes: BTreeMap<StreamId, Node>,
    /// Live entries.
    len: usize,
    /// The greatest ID ever added (or set by XSETID).
    pub last_id: StreamId,
    /// The greatest ID ever deleted (XDEL; not trimming).
    pub max_deleted_id: StreamId,
    /// Entries ever added (the logical counter groups' lag is measured against).
    pub entries_added: u64,
    groups: BTreeMap<Vec<u8>, Group>,
    /// The nodes' heap bytes.
    heap: usize,
}

/// Streams are equal when they hold the same entries and state, however packed.
impl PartialEq for Stream {
    fn eq(&self, o: &Stream) -> bool {
        self.len == o.len
            && self.last_id == o.last_id
            && self.max_deleted_id == o.max_deleted_id
            && self.entries_added == o.entries_added
            && self.groups == o.groups
            && self.iter().eq(o.iter())
    }
}

impl Stream {
    pub fn new() -> Stream {
        Stream::default()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Entries are counted as their nodes grow and go; groups (usually few) are summed
    /// here.
    pub fn heap_size(&self) -> usize {
        const ITEM: usize = 64;
        self.heap
            + self
                .groups
                .iter()
                .map(|(n, g)| 128 + alloc_size(n.len()) + ITEM * (g.pel.len() + g.consumers.len()))
                .sum::<usize>()
    }

    /// The first entry's ID, or 0-0 for an empty stream (Redis's `first_id`).
    pub fn first_id(&self) -> StreamId {
        self.first_raw(|r| r.id).unwrap_or_default()
    }

    /// The last entry's ID, if any.
    pub fn top_id(&self) -> Option<StreamId> {
        let (k, n) = self.nodes.iter().next_back()?;
        n.live(*k).last().map(|r| r.id)
    }

    fn first_raw<R>(&self, f: impl FnOnce(Raw<'_>) -> R) -> Option<R> {
        let (k, n) = self.nodes.iter().next()?;
        n.live(*k).next().map(f)
    }

    pub fn first(&self) -> Option<(StreamId, Fields)> {
        self.first_raw(|r| (r.id, r.fields()))
    }

    pub fn last(&self) -> Option<(StreamId, Fields)> {
        let (k, n) = self.nodes.iter().next_back()?;
        n.live(*k).last().map(|r| (r.id, r.fields()))
    }

    /// The node that would hold `id`: the last one keyed at or before it.
    fn node_of(&self, id: StreamId) -> Option<(StreamId, &Node)> {
        self.nodes.range(..=id).next_back().map(|(k, n)| (*k, n))
    }

    pub fn get(&self, id: StreamId) -> Option<Fields> {
        let (k, n) = self.node_of(id)?;
        let r = n.live(k).find(|r| r.id >= id)?;
        (r.id == id).then(|| r.fields())
    }

    pub fn contains(&self, id: StreamId) -> bool {
        self.node_of(id)
            .is_some_and(|(k, n)| n.live(k).any(|r| r.id == id))
    }

    /// The nodes that may hold IDs in `[start, end]` (none when `start > end`).
    fn nodes_over(
        &self,
        start: StreamId,
        end: StreamId,
    ) -> impl DoubleEndedIterator<Item = (&StreamId, &Node)> + '_ {
        let from = self.node_of(start).map_or(start, |(k, _)| k);
        (start <= end)
            .then(|| self.nodes.range(from..=end))
            .into_iter()
            .flatten()
    }

    /// Entries with `start <= id <= end`, in order.
    pub fn range(
        &self,
        start: StreamId,
        end: StreamId,
    ) -> impl Iterator<Item = (StreamId, Fields)> + '_ {
        self.nodes_over(start, end)
            .flat_map(|(k, n)| n.live(*k))
            .skip_while(move |r| r.id < start)
            .take_while(move |r| r.id <= end)
            .map(|r| (r.id, r.fields()))
    }

    /// Entries with `start <= id <= end`, last first.
    pub fn range_rev(
        &self,
        start: StreamId,
        end: StreamId,
    ) -> impl Iterator<Item = (StreamId, Fields)> + '_ {
        self.nodes_over(start, end)
            .rev()
            .flat_map(|(k, n)| {
                let mut v: Vec<Raw<'_>> = n.live(*k).collect();
                v.reverse();
                v
            })
            .skip_while(move |r| r.id > end)
            .take_while(move |r| r.id >= start)
            .map(|r| (r.id, r.fields()))
    }

    /// Every entry, in order.
    pub fn iter(&self) -> impl Iterator<Item = (StreamId, Fields)> + '_ {
        self.range(StreamId::MIN, StreamId::MAX)
    }

    /// Append an entry with `id`, which must be greater than [`Stream::last_id`] (the
    /// caller checks). Counts it in `entries_added`.
    pub fn append<F: AsRef<[u8]>>(&mut self, id: StreamId, fields: &[F]) {
        self.load_entry(id, fields);
        self.last_id = id;
        self.entries_added += 1;
    }

    /// Add an entry after every other one as it was stored (snapshot or DUMP load): no
    /// counters touched. The caller guarantees the ID order.
    pub fn load_entry<F: AsRef<[u8]>>(&mut self, id: StreamId, fields: &[F]) {
        debug_assert!(self.top_id().is_none_or(|t| t < id));
        let fits = self.nodes.iter_mut().next_back().filter(|(k, n)| {
            n.count < NODE_ENTRIES && n.data.len() + Node::entry_size(**k, id, fields) <= NODE_BYTES
        });
        match fits {
            Some((k, n)) => {
                let k = *k;
                self.heap -= n.heap();
                n.push(k, id, fields);
                self.heap += n.heap();
            }
            None => {
                // The node before is full: give back its growth slack.
                if let Some((_, n)) = self.nodes.iter_mut().next_back() {
                    self.heap -= n.heap();
                    n.data.shrink_to_fit();
                    self.heap += n.heap();
                }
                let mut n = Node::default();
                n.push(id, id, fields);
                self.heap += n.heap();
                self.nodes.insert(id, n);
            }
        }
        self.len += 1;
    }

    /// Mark the live entry `at` of node `key` deleted; drops the node when it empties.
    fn kill(&mut self, key: StreamId, at: usize) {
        let n = self.nodes.get_mut(&key).expect("a node of the stream");
        n.data[at] = 1;
        n.live -= 1;
        self.len -= 1;
        if n.live == 0 {
            self.heap -= n.heap();
            self.nodes.remove(&key);
        } else if at == n.head {
            let next = n
                .iter(key)
                .find(|r| !r.deleted)
                .expect("a live entry is left");
            n.head = next.at;
        }
    }

    /// XDEL one ID: true if it was there. Raises `max_deleted_id`.
    pub fn delete(&mut self, id: StreamId) -> bool {
        let Some((k, n)) = self.node_of(id) else {
            return false;
        };
        let Some(at) = n.live(k).find(|r| r.id == id).map(|r| r.at) else {
            return false;
        };
        self.kill(k, at);
        if id > self.max_deleted_id {
            self.max_deleted_id = id;
        }
        true
    }

    /// Remove entries from the front while `more(len, id)` holds for the first one, at
    /// most `limit` (0 = no limit). With `approx`, only whole nodes go, as Redis trims
    /// with `~` (so it may keep more than asked). Returns how many went.
    fn trim_front(
        &mut self,
        limit: usize,
        approx: bool,
        more: impl Fn(usize, StreamId) -> bool,
    ) -> usize {
        let mut n = 0;
        while limit == 0 || n < limit {
            let Some((k, node)) = self.nodes.iter().next() else {
                break;
            };
            let k = *k;
            // Whole nodes go at once when every live entry in them must (the node's last
            // ID bounds its live ones).
            let whole = node.live as usize;
            if more(self.len - whole + 1, node.last) && (limit == 0 || n + whole <= limit) {
                self.heap -= node.heap();
                self.nodes.remove(&k);
                self.len -= whole;
                n += whole;
                continue;
            }
            if approx {
                break;
            }
            let first = node.live(k).next().expect("nodes hold live entries");
            if !more(self.len, first.id) {
                break;
            }
            self.kill(k, first.at);
            n += 1;
        }
        n
    }

    /// Trim from the front: remove entries while more than `maxlen` remain, at most
    /// `limit` of them (0 = no limit). Returns how many went.
    pub fn trim_maxlen(&mut self, maxlen: usize, limit: usize, approx: bool) -> usize {
        self.trim_front(limit, approx, |len, _| len > maxlen)
    }

    /// Trim from the front: remove entries with an ID below `minid`, at most `limit`
    /// of them (0 = no limit). Returns how many went.
    pub fn trim_minid(&mut self, minid: StreamId, limit: usize, approx: bool) -> usize {
        self.trim_front(limit, approx, |_, id| id < minid)
    }

    pub fn groups(&self) -> &BTreeMap<Vec<u8>, Group> {
        &self.groups
    }

    pub fn group(&self, name: &[u8]) -> Option<&Group> {
        self.groups.get(name)
    }

    pub fn group_mut(&mut self, name: &[u8]) -> Option<&mut Group> {
        self.groups.get_mut(name)
    }

    /// Add a group; false if the name is taken.
    pub fn add_group(&mut self, name: &[u8], g: Group) -> bool {
        if self.groups.contains_key(name) {
            return false;
        }
        self.groups.insert(name.to_vec(), g);
        true
    }

    pub fn remove_group(&mut self, name: &[u8]) -> bool {
        self.groups.remove(name).is_some()
    }

    /// Whether `[start, end]` (None: unbounded) holds an ID deleted by XDEL, as far as
    /// the stream can tell (Redis's `streamRangeHasTombstones`).
    pub fn range_has_tombstones(&self, start: Option<StreamId>, end: Option<StreamId>) -> bool {
        if self.is_empty() || self.max_deleted_id.is_zero() {
            return false;
        }
        if self.first_id() > self.max_deleted_id {
            return false;
        }
        let start = start.unwrap_or(StreamId::MIN);
        let end = end.unwrap_or(StreamId::MAX);
        start <= self.max_deleted_id && self.max_deleted_id <= end
    }

    /// The logical position of `id` counted from the first entry ever added, when it
    /// can be known (Redis's `streamEstimateDistanceFromFirstEverEntry`).
    pub fn entries_read_at(&self, id: StreamId) -> i64 {
        if self.entries_added == 0 {
            return 0;
        }
        let added = self.entries_added as i64;
        if self.is_empty() && id <= self.last_id {
            return added;
        }
        if id == self.last_id {
            return added;
        }
        if id > self.last_id {
            return ENTRIES_READ_UNKNOWN;
        }
        let first = self.first_id();
        if self.max_deleted_id.is_zero() || self.max_deleted_id < first {
            let len = self.len as i64;
            if id < first {
                return added - len;
            }
            if id == first {
                return added - len + 1;
            }
        }
        ENTRIES_READ_UNKNOWN
    }

    /// A group's lag (entries not yet delivered to it), when it can be known.
    pub fn lag(&self, g: &Group) -> Option<i64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if g.entries_read != ENTRIES_READ_UNKNOWN
            && !self.range_has_tombstones(Some(g.last_id), None)
        {
            return Some(self.entries_added as i64 - g.entries_read);
        }
        match self.entries_read_at(g.last_id) {
            ENTRIES_READ_UNKNOWN => None,
            read => Some(self.entries_added as i64 - read),
        }
    }

    /// Record that group `name` was delivered `id` (an entry past its last ID): moves its
    /// last ID and keeps its read counter (Redis's bookkeeping in `streamReplyWithRange`).
    pub fn advance_group(&mut self, name: &[u8], id: StreamId) {
        let tomb = self.range_has_tombstones(Some(id), None);
        let estimate = self.entries_read_at(id);
        let added = self.entries_added;
        let Some(g) = self.groups.get_mut(name) else {
            return;
        };
        if id <= g.last_id {
            return;
        }
        if g.entries_read != ENTRIES_READ_UNKNOWN && !tomb {
            g.entries_read += 1;
        } else if added != 0 {
            g.entries_read = estimate;
        }
        g.last_id = id;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_and_step() {
        assert_eq!(StreamId::parse(b"5", 0), Some(StreamId::new(5, 0)));
        assert_eq!(
            StreamId::parse(b"5", u64::MAX),
            Some(StreamId::new(5, u64::MAX))
        );
        assert_eq!(StreamId::parse(b"5-7", 0), Some(StreamId::new(5, 7)));
        for bad in [
            "",
            "-",
            "5-",
            "-5",
            "a",
            "5-x",
            "+1",
            "18446744073709551616",
            "1-2-3",
        ] {
            assert_eq!(StreamId::parse(bad.as_bytes(), 0), None, "{bad}");
        }
        assert_eq!(StreamId::new(1, u64::MAX).next(), Some(StreamId::new(2, 0)));
        assert_eq!(StreamId::MAX.next(), None);
        assert_eq!(StreamId::new(2, 0).prev(), Some(StreamId::new(1, u64::MAX)));
        assert_eq!(StreamId::MIN.prev(), None);
        assert_eq!(StreamId::new(3, 4).to_string(), "3-4");
    }

    #[test]
    fn trimming_and_memory() {
        let mut s = Stream::new();
        for i in 1..=10 {
            s.append(StreamId::new(i, 0), &[b"f", b"v"]);
        }
        let full = s.heap_size();
        assert!(full > 0);
        assert_eq!(s.trim_maxlen(7, 2, false), 2);
        assert_eq!(s.len(), 8);
        assert_eq!(s.trim_minid(StreamId::new(6, 0), 0, false), 3);
        assert_eq!(s.first_id(), StreamId::new(6, 0));
        assert!(s.delete(StreamId::new(8, 0)));
        assert!(!s.delete(StreamId::new(8, 0)));
        assert_eq!(s.max_deleted_id, StreamId::new(8, 0));
        assert_eq!(s.entries_added, 10);
        assert_eq!(s.trim_maxlen(0, 0, false), 4);
        assert_eq!(s.heap_size(), 0);
        assert_eq!(s.last_id, StreamId::new(10, 0));
    }

    #[test]
    fn lag_as_redis_estimates_it() {
        let mut s = Stream::new();
        let g = Group::new(StreamId::MIN, ENTRIES_READ_UNKNOWN);
        assert_eq!(s.lag(&g), Some(0));
        for i in 1..=3 {
            s.append(StreamId::new(i, 0), &[] as &[&[u8]]);
        }
        // From 0-0 with no deletions: everything is ahead.
        assert_eq!(s.lag(&g), Some(3));
        s.add_group(b"g", g);
        s.advance_group(b"g", StreamId::new(1, 0));
        assert_eq!(s.group(b"g").unwrap().entries_read, 1);
        assert_eq!(s.lag(s.group(b"g").unwrap()), Some(2));
        // A deletion ahead of the group makes the count unknowable.
        s.delete(StreamId::new(2, 0));
        assert_eq!(s.lag(s.group(b"g").unwrap()), None);
    }

    // Guards the packed nodes against a plain ordered map: appends (small and node-filling
    // entries), deletes, both trims with limits, then every read agrees.
    mod packed_nodes_match_a_map {
        use super::super::*;
        use proptest::prelude::*;
        use std::collections::BTreeMap;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(64))]
            #[test]
            fn same_reads(ops in proptest::collection::vec((0u8..10, 0u64..400, 0usize..300), 1..400)) {
                let mut s = Stream::new();
                let mut m: BTreeMap<StreamId, Fields> = BTreeMap::new();
                let mut next = StreamId::new(1, 0);
                for (op, a, b) in ops {
                    match op {
                        0..=4 => {
                            let f = vec![b"f".to_vec(), vec![b'x'; b % 300]];
                            s.append(next, &f);
                            m.insert(next, f);
                            next = StreamId::new(next.ms + a % 3, if a % 3 == 0 { next.seq + 1 } else { a });
                        }
                        5 | 6 => {
                            let id = m.keys().nth(b % (m.len() + 1)).copied().unwrap_or(StreamId::new(a, 0));
                            prop_assert_eq!(s.delete(id), m.remove(&id).is_some());
                        }
                        7 => {
                            let lim = b % 4 * 30;
                            let n = s.trim_maxlen(a as usize % 50, lim, false);
                            let mut k = 0;
                            while m.len() > a as usize % 50 && (lim == 0 || k < lim) {
                                m.pop_first();
                                k += 1;
                            }
                            prop_assert_eq!(n, k);
                        }
                        8 => {
                            let min = StreamId::new(a, 0);
                            let lim = b % 3 * 40;
                            let n = s.trim_minid(min, lim, false);
                            let mut k = 0;
                            while m.first_key_value().is_some_and(|(id, _)| *id < min) && (lim == 0 || k < lim) {
                                m.pop_first();
                                k += 1;
                            }
                            prop_assert_eq!(n, k);
                        }
                        _ => {
                            let (lo, hi) = (StreamId::new(a, 0), StreamId::new(a + b as u64, 7));
                            let want: Vec<_> = m.range(lo..=hi).map(|(k, v)| (*k, v.clone())).collect();
                            prop_assert_eq!(s.range(lo, hi).collect::<Vec<_>>(), want.clone());
                            let mut rev = want;
                            rev.reverse();
                            prop_assert_eq!(s.range_rev(lo, hi).collect::<Vec<_>>(), rev);
                            prop_assert_eq!(s.get(lo), m.get(&lo).cloned());
                        }
                    }
                    prop_assert_eq!(s.len(), m.len());
                    prop_assert_eq!(s.first_id(), m.keys().next().copied().unwrap_or_default());
                    prop_assert_eq!(s.top_id(), m.keys().next_back().copied());
                }
                let all: Vec<_> = m.into_iter().collect();
                prop_assert!(s.iter().eq(all.into_iter()));
            }
        }
    }
}
