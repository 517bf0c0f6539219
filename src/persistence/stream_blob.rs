//! The byte form of a stream value inside a snapshot (type 7 parts, see
//! [`super::snapshot`]): this module is its specification and its only codec.
//!
//! Explicit little-endian; `bytes` is a u32 length then that many bytes; an ID is two
//! u64 (ms, then seq).
//!
//! | field            | encoding                                                     |
//! |------------------|--------------------------------------------------------------|
//! | last_id          | ID: the greatest ID ever added or set                        |
//! | max_deleted_id   | ID: the greatest ID deleted by XDEL                          |
//! | entries_added    | u64                                                          |
//! | entries          | u64 count, then per entry: ID (strictly increasing, `<= last_id`), u32 n (even, `>= 2`), n `bytes` (field, value, ...) |
//! | groups           | u32 count, then per group (names strictly increasing): name `bytes`, last ID, entries_read i64 (`-1` = unknown, else `>= 0`), u32 consumer count, per consumer (names strictly increasing): name `bytes`, seen_time u64; u64 pending count, per pending entry (IDs strictly increasing): ID, delivery_time u64, delivery_count u64, u32 index of its consumer in the group's list |
//!
//! Nothing may follow. The reader is bounded: every count is checked against the bytes
//! left before anything is allocated for it.

use thiserror::Error;

use crate::keyspace::stream::{Group, Nack, ENTRIES_READ_UNKNOWN};
use crate::keyspace::{Stream, StreamId};

/// Why a stream's bytes do not decode.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum StreamBlobProblem {
    #[error("stream value ends early while reading its {0}")]
    Truncated(&'static str),
    #[error("stream value has an impossible {0} count")]
    CountImpossible(&'static str),
    #[error("stream value is inconsistent: {0}")]
    Inconsistent(&'static str),
    #[error("{0} bytes follow the stream value")]
    TrailingBytes(usize),
}

fn put_id(out: &mut Vec<u8>, id: StreamId) {
    out.extend_from_slice(&id.ms.to_le_bytes());
    out.extend_from_slice(&id.seq.to_le_bytes());
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_le_bytes());
    out.extend_from_slice(b);
}

/// The bytes of `s`.
pub fn encode(s: &Stream) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + s.heap_size());
    put_id(&mut out, s.last_id);
    put_id(&mut out, s.max_deleted_id);
    out.extend_from_slice(&s.entries_added.to_le_bytes());
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    for (id, fields) in s.iter() {
        put_id(&mut out, id);
        out.extend_from_slice(&(fields.len() as u32).to_le_bytes());
        for f in &fields {
            put_bytes(&mut out, f);
        }
    }
    out.extend_from_slice(&(s.groups().len() as u32).to_le_bytes());
    for (name, g) in s.groups() {
        put_bytes(&mut out, name);
        put_id(&mut out, g.last_id);
        out.extend_from_slice(&g.entries_read.to_le_bytes());
        out.extend_from_slice(&(g.consumers.len() as u32).to_le_bytes());
        for (cname, c) in &g.consumers {
            put_bytes(&mut out, cname);
            out.extend_from_slice(&c.seen_time.to_le_bytes());
        }
        out.extend_from_slice(&(g.pel.len() as u64).to_le_bytes());
        for (id, n) in &g.pel {
            put_id(&mut out, *id);
            out.extend_from_slice(&n.delivery_time.to_le_bytes());
            out.extend_from_slice(&n.delivery_count.to_le_bytes());
            let idx = g
                .consumers
                .keys()
                .position(|k| *k == n.consumer)
                .unwrap_or(0);
            out.extend_from_slice(&(idx as u32).to_le_bytes());
        }
    }
    out
}

struct Cursor<'a> {
    b: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], StreamBlobProblem> {
        if self.b.len() < n {
            return Err(StreamBlobProblem::Truncated(what));
        }
        let (h, t) = self.b.split_at(n);
        self.b = t;
        Ok(h)
    }
    fn u32(&mut self, what: &'static str) -> Result<u32, StreamBlobProblem> {
        Ok(u32::from_le_bytes(
            self.take(4, what)?.try_into().expect("4 bytes"),
        ))
    }
    fn u64(&mut self, what: &'static str) -> Result<u64, StreamBlobProblem> {
        Ok(u64::from_le_bytes(
            self.take(8, what)?.try_into().expect("8 bytes"),
        ))
    }
    fn id(&mut self, what: &'static str) -> Result<StreamId, StreamBlobProblem> {
        Ok(StreamId::new(self.u64(what)?, self.u64(what)?))
    }
    fn bytes(&mut self, what: &'static str) -> Result<&'a [u8], StreamBlobProblem> {
        let n = self.u32(what)? as usize;
        self.take(n, what)
    }
    /// A count of items each at least `min` bytes long, checked against what is left.
    fn count(
        &mut self,
        n: u64,
        min: usize,
        what: &'static str,
    ) -> Result<usize, StreamBlobProblem> {
        if n > (self.b.len() / min) as u64 {
            return Err(StreamBlobProblem::CountImpossible(what));
        }
        Ok(n as usize)
    }
}

/// Decode a stream from `b` (all of it).
pub fn decode(b: &[u8]) -> Result<Stream, StreamBlobProblem> {
    use StreamBlobProblem::Inconsistent;
    let mut c = Cursor { b };
    let mut s = Stream::new();
    let last_id = c.id("last ID")?;
    s.max_deleted_id = c.id("max deleted ID")?;
    s.entries_added = c.u64("entries added")?;
    let n = c.u64("entry count")?;
    let n = c.count(n, 20, "entry")?;
    let mut prev: Option<StreamId> = None;
    for _ in 0..n {
        let id = c.id("entry ID")?;
        if prev.is_some_and(|p| p >= id) || id > last_id {
            return Err(Inconsistent("entry IDs out of order or past the last ID"));
        }
        prev = Some(id);
        let nf = c.u32("field count")?;
        if nf == 0 || nf % 2 != 0 {
            return Err(Inconsistent("an entry without field-value pairs"));
        }
        let nf = c.count(u64::from(nf), 4, "field")?;
        let mut fields = Vec::with_capacity(nf);
        for _ in 0..nf {
            fields.push(c.bytes("field")?.to_vec());
        }
        s.load_entry(id, &fields);
    }
    if (s.len() as u64) > s.entries_added {
        return Err(Inconsistent("more entries than were ever added"));
    }
    s.last_id = last_id;
    let ng = c.u32("group count")?;
    let ng = c.count(u64::from(ng), 36, "group")?;
    let mut prev_name: Option<Vec<u8>> = None;
    for _ in 0..ng {
        let name = c.bytes("group name")?.to_vec();
        if prev_name.as_ref().is_some_and(|p| *p >= name) {
            return Err(Inconsistent("group names out of order"));
        }
        prev_name = Some(name.clone());
        let glast = c.id("group last ID")?;
        let entries_read = c.u64("entries read")? as i64;
        if entries_read < ENTRIES_READ_UNKNOWN {
            return Err(Inconsistent("negative entries read"));
        }
        let mut g = Group::new(glast, entries_read);
        let nc = c.u32("consumer count")?;
        let nc = c.count(u64::from(nc), 12, "consumer")?;
        let mut names: Vec<Vec<u8>> = Vec::with_capacity(nc);
        for _ in 0..nc {
            let cname = c.bytes("consumer name")?.to_vec();
            if names.last().is_some_and(|p| *p >= cname) {
                return Err(Inconsistent("consumer names out of order"));
            }
            let seen = c.u64("seen time")?;
            g.consumer(&cname, seen);
            names.push(cname);
        }
        let np = c.u64("pending count")?;
        let np = c.count(np, 36, "pending entry")?;
        let mut prev_id: Option<StreamId> = None;
        for _ in 0..np {
            let id = c.id("pending ID")?;
            if prev_id.is_some_and(|p| p >= id) {
                return Err(Inconsistent("pending IDs out of order"));
            }
            prev_id = Some(id);
            let delivery_time = c.u64("delivery time")?;
            let delivery_count = c.u64("delivery count")?;
            let idx = c.u32("consumer index")? as usize;
            let Some(cname) = names.get(idx) else {
                return Err(Inconsistent("pending entry of an unknown consumer"));
            };
            g.consumers
                .get_mut(cname)
                .expect("named above")
                .pel
                .insert(id);
            g.pel.insert(
                id,
                Nack {
                    consumer: cname.clone(),
                    delivery_time,
                    delivery_count,
                },
            );
        }
        s.add_group(&name, g);
    }
    if !c.b.is_empty() {
        return Err(StreamBlobProblem::TrailingBytes(c.b.len()));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_exact_errors() {
        let mut s = Stream::new();
        s.append(StreamId::new(1, 0), &[b"a", b"1"]);
        s.append(StreamId::new(2, 5), &[&b"b"[..], b""]);
        s.delete(StreamId::new(1, 0));
        let mut g = Group::new(StreamId::new(2, 5), 2);
        g.consumer(b"alice", 77);
        g.consumer(b"bob", 78);
        g.assign(StreamId::new(2, 5), b"bob", 99, 3);
        s.add_group(b"g1", g);
        s.add_group(b"g0", Group::new(StreamId::MIN, ENTRIES_READ_UNKNOWN));
        let bytes = encode(&s);
        let back = decode(&bytes).unwrap();
        assert_eq!(back, s);
        for cut in 0..bytes.len() {
            assert!(
                matches!(
                    decode(&bytes[..cut]),
                    Err(StreamBlobProblem::Truncated(_) | StreamBlobProblem::CountImpossible(_))
                ),
                "cut at {cut}"
            );
        }
        let mut extra = bytes.clone();
        extra.push(0);
        assert_eq!(decode(&extra), Err(StreamBlobProblem::TrailingBytes(1)));
        // An entry ID past last_id: last_id's ms is the first u64.
        let mut bad = bytes;
        bad[..8].copy_from_slice(&1u64.to_le_bytes());
        assert_eq!(
            decode(&bad),
            Err(StreamBlobProblem::Inconsistent(
                "entry IDs out of order or past the last ID"
            ))
        );
    }
}
