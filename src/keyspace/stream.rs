//! Streams: an append-only sequence of entries (field-value pairs) named by increasing
//! IDs, and the consumer groups that read it, as Redis 7.0 defines them.
//!
//! Entries live in a B-tree keyed by ID: range reads, trimming from the front and
//! deletion are logarithmic, and appending at the end is the common case. A stream is
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

/// A stream value.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Stream {
    entries: BTreeMap<StreamId, Fields>,
    /// The greatest ID ever added (or set by XSETID).
    pub last_id: StreamId,
    /// The greatest ID ever deleted (XDEL; not trimming).
    pub max_deleted_id: StreamId,
    /// Entries ever added (the logical counter groups' lag is measured against).
    pub entries_added: u64,
    groups: BTreeMap<Vec<u8>, Group>,
    heap: usize,
}

/// Per-entry overhead estimate (B-tree slot, ID, the fields vector).
const ENTRY_OVERHEAD: usize = 48;

fn fields_size(f: &Fields) -> usize {
    ENTRY_OVERHEAD
        + alloc_size(f.capacity() * 24)
        + f.iter().map(|x| alloc_size(x.len())).sum::<usize>()
}

impl Stream {
    pub fn new() -> Stream {
        Stream::default()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entries are counted as they come and go; groups (usually few) are summed here.
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
        self.entries.keys().next().copied().unwrap_or_default()
    }

    pub fn first(&self) -> Option<(StreamId, &Fields)> {
        self.entries.iter().next().map(|(k, v)| (*k, v))
    }

    pub fn last(&self) -> Option<(StreamId, &Fields)> {
        self.entries.iter().next_back().map(|(k, v)| (*k, v))
    }

    pub fn get(&self, id: StreamId) -> Option<&Fields> {
        self.entries.get(&id)
    }

    pub fn contains(&self, id: StreamId) -> bool {
        self.entries.contains_key(&id)
    }

    /// Entries with `start <= id <= end`, in order.
    pub fn range(
        &self,
        start: StreamId,
        end: StreamId,
    ) -> impl DoubleEndedIterator<Item = (StreamId, &Fields)> + '_ {
        let r = if start <= end {
            Some(self.entries.range(start..=end))
        } else {
            None
        };
        r.into_iter().flatten().map(|(k, v)| (*k, v))
    }

    /// Every entry, in order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (StreamId, &Fields)> + '_ {
        self.entries.iter().map(|(k, v)| (*k, v))
    }

    /// Append an entry with `id`, which must be greater than [`Stream::last_id`] (the
    /// caller checks). Counts it in `entries_added`.
    pub fn append(&mut self, id: StreamId, fields: Fields) {
        debug_assert!(id > self.last_id || (self.entries_added == 0 && self.entries.is_empty()));
        self.heap += fields_size(&fields);
        self.entries.insert(id, fields);
        self.last_id = id;
        self.entries_added += 1;
    }

    /// Insert an entry as it was stored (snapshot or DUMP load): no counters touched.
    pub fn load_entry(&mut self, id: StreamId, fields: Fields) {
        self.heap += fields_size(&fields);
        if let Some(old) = self.entries.insert(id, fields) {
            self.heap -= fields_size(&old);
        }
    }

    /// XDEL one ID: true if it was there. Raises `max_deleted_id`.
    pub fn delete(&mut self, id: StreamId) -> bool {
        match self.entries.remove(&id) {
            Some(f) => {
                self.heap -= fields_size(&f);
                if id > self.max_deleted_id {
                    self.max_deleted_id = id;
                }
                true
            }
            None => false,
        }
    }

    /// Trim from the front: remove entries while more than `maxlen` remain, at most
    /// `limit` of them (0 = no limit). Returns how many went.
    pub fn trim_maxlen(&mut self, maxlen: usize, limit: usize) -> usize {
        let mut n = 0;
        while self.entries.len() > maxlen && (limit == 0 || n < limit) {
            let (_, f) = self.entries.pop_first().expect("longer than maxlen");
            self.heap -= fields_size(&f);
            n += 1;
        }
        n
    }

    /// Trim from the front: remove entries with an ID below `minid`, at most `limit`
    /// of them (0 = no limit). Returns how many went.
    pub fn trim_minid(&mut self, minid: StreamId, limit: usize) -> usize {
        let mut n = 0;
        while self
            .entries
            .first_key_value()
            .is_some_and(|(k, _)| *k < minid)
            && (limit == 0 || n < limit)
        {
            let (_, f) = self.entries.pop_first().expect("checked");
            self.heap -= fields_size(&f);
            n += 1;
        }
        n
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
        if self.entries.is_empty() || self.max_deleted_id.is_zero() {
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
        if self.entries.is_empty() && id <= self.last_id {
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
            let len = self.entries.len() as i64;
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
            s.append(StreamId::new(i, 0), vec![b"f".to_vec(), b"v".to_vec()]);
        }
        let full = s.heap_size();
        assert!(full > 0);
        assert_eq!(s.trim_maxlen(7, 2), 2);
        assert_eq!(s.len(), 8);
        assert_eq!(s.trim_minid(StreamId::new(6, 0), 0), 3);
        assert_eq!(s.first_id(), StreamId::new(6, 0));
        assert!(s.delete(StreamId::new(8, 0)));
        assert!(!s.delete(StreamId::new(8, 0)));
        assert_eq!(s.max_deleted_id, StreamId::new(8, 0));
        assert_eq!(s.entries_added, 10);
        assert_eq!(s.trim_maxlen(0, 0), 4);
        assert_eq!(s.heap_size(), 0);
        assert_eq!(s.last_id, StreamId::new(10, 0));
    }

    #[test]
    fn lag_as_redis_estimates_it() {
        let mut s = Stream::new();
        let g = Group::new(StreamId::MIN, ENTRIES_READ_UNKNOWN);
        assert_eq!(s.lag(&g), Some(0));
        for i in 1..=3 {
            s.append(StreamId::new(i, 0), vec![]);
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
}
