//! Redis's DUMP payload: one value in RDB encoding, then the RDB version (2 bytes LE) and
//! a CRC-64 (Jones, as Redis computes it; 8 bytes LE) over everything before it. And
//! [`RdbReader`], the same value encodings read from a whole RDB file (`dump.rdb`), so a
//! Redis dataset can be brought over (`verify-aof import-rdb`).
//!
//! Contract: [`encode`] writes only the plain RDB types every Redis since 2.8 loads
//! (string, list, set, hash, and zset with binary scores) and stamps them RDB version 9,
//! so a Strata DUMP restores into Redis 6.x and 7.x alike; a stream is written as Redis
//! 7.0 writes it (type 19, listpack nodes as XADD builds them) and stamped version 10,
//! the first that has that type. [`decode`] reads what Redis 2.8 to 7.0 (RDB versions up
//! to 10) dump: those plain types, the ziplist, intset and listpack blobs, quicklists of
//! both kinds, streams of both kinds (Redis 5/6's type 15 and 7.0's type 19), and
//! LZF-compressed strings. Module values are refused: Strata has no modules.
//!
//! [`decode`] reads bytes from a client: every length is checked against the bytes that
//! remain before anything is allocated for it, a decompressed string is bounded by
//! [`MAX_STRING`], every blob is parsed in full (Redis's "deep sanitization" always on),
//! duplicates, NaN scores and empty values are refused, and nothing panics.

use std::borrow::Cow;

use super::stream::{Group, Nack, Stream, StreamId, ENTRIES_READ_UNKNOWN};
use super::{Hash, List, Set, Value, ZSet};

/// The RDB version [`encode`] stamps on every value but a stream: the newest whose types
/// it uses (Redis 6.x reads up to 9, Redis 7.0 up to 10).
pub const VERSION_WRITTEN: u16 = 9;
/// The RDB version [`encode`] stamps on a stream: Redis 7.0's, the first with type 19
/// (Redis 7.0 refuses that type in an older payload).
pub const VERSION_WRITTEN_STREAM: u16 = 10;
/// The newest RDB version [`decode`] accepts (Redis 7.0's). A newer one (Redis 7.2 writes
/// 11) may hold encodings this reader does not know, and is refused as Redis refuses it.
pub const VERSION_READ: u16 = 10;
/// The longest string a payload may decompress to (Redis's string limit).
pub const MAX_STRING: u64 = 512 * 1024 * 1024;

/// Why a payload was refused. Display texts follow Redis's replies ("DUMP payload version
/// or checksum are wrong", "Bad data format"), the latter followed by what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DumpError {
    #[error("DUMP payload version or checksum are wrong")]
    VersionOrChecksum,
    #[error("Bad data format: {0}")]
    BadFormat(&'static str),
}

use DumpError::BadFormat;

type R<T> = Result<T, DumpError>;

// RDB object types (Redis's rdb.h).
const T_STRING: u8 = 0;
const T_LIST: u8 = 1;
const T_SET: u8 = 2;
const T_ZSET: u8 = 3;
const T_HASH: u8 = 4;
const T_ZSET_2: u8 = 5;
const T_MODULE: u8 = 6;
const T_MODULE_2: u8 = 7;
const T_HASH_ZIPMAP: u8 = 9;
const T_LIST_ZIPLIST: u8 = 10;
const T_SET_INTSET: u8 = 11;
const T_ZSET_ZIPLIST: u8 = 12;
const T_HASH_ZIPLIST: u8 = 13;
const T_LIST_QUICKLIST: u8 = 14;
const T_STREAM_LISTPACKS: u8 = 15;
const T_HASH_LISTPACK: u8 = 16;
const T_ZSET_LISTPACK: u8 = 17;
const T_LIST_QUICKLIST_2: u8 = 18;
const T_STREAM_LISTPACKS_2: u8 = 19;

const CRC64: crc::Crc<u64> = crc::Crc::<u64>::new(&crc::CRC_64_REDIS);

/// The CRC-64 Redis puts at the end of a DUMP payload and an RDB file.
pub fn crc64(bytes: &[u8]) -> u64 {
    CRC64.checksum(bytes)
}

// ---- encoding ----------------------------------------------------------------------

/// The DUMP payload of `v`.
pub fn encode(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    let mut version = VERSION_WRITTEN;
    match v {
        Value::Stream(s) => {
            out.push(T_STREAM_LISTPACKS_2);
            put_stream(&mut out, s, true);
            version = VERSION_WRITTEN_STREAM;
        }
        Value::Int(i) => {
            out.push(T_STRING);
            put_int_string(&mut out, *i);
        }
        Value::Str(s) => {
            out.push(T_STRING);
            put_string(&mut out, s);
        }
        Value::List(l) => {
            out.push(T_LIST);
            put_len(&mut out, l.len() as u64);
            for e in l.iter() {
                put_string(&mut out, e);
            }
        }
        Value::Set(s) => {
            out.push(T_SET);
            put_len(&mut out, s.len() as u64);
            for m in s.iter() {
                put_string(&mut out, m);
            }
        }
        Value::Hash(h) => {
            out.push(T_HASH);
            put_len(&mut out, h.len() as u64);
            for (f, v) in h.iter() {
                put_string(&mut out, f);
                put_string(&mut out, v);
            }
        }
        Value::ZSet(z) => {
            out.push(T_ZSET_2);
            put_len(&mut out, z.len() as u64);
            for (m, s) in z.iter() {
                put_string(&mut out, m);
                out.extend_from_slice(&s.to_le_bytes());
            }
        }
    }
    out.extend_from_slice(&version.to_le_bytes());
    let crc = crc64(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// RDB length: 6 bits, 14 bits (big-endian), or a marker and 32 / 64 bits big-endian.
fn put_len(out: &mut Vec<u8>, n: u64) {
    if n < 1 << 6 {
        out.push(n as u8);
    } else if n < 1 << 14 {
        out.extend_from_slice(&[0x40 | (n >> 8) as u8, n as u8]);
    } else if n <= u32::MAX as u64 {
        out.push(0x80);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    put_len(out, s.len() as u64);
    out.extend_from_slice(s);
}

/// An integer string: Redis's 8/16/32-bit integer encodings where it fits, else decimal.
fn put_int_string(out: &mut Vec<u8>, i: i64) {
    if let Ok(b) = i8::try_from(i) {
        out.extend_from_slice(&[0xC0, b as u8]);
    } else if let Ok(h) = i16::try_from(i) {
        out.push(0xC1);
        out.extend_from_slice(&h.to_le_bytes());
    } else if let Ok(w) = i32::try_from(i) {
        out.push(0xC2);
        out.extend_from_slice(&w.to_le_bytes());
    } else {
        put_string(out, itoa::Buffer::new().format(i).as_bytes());
    }
}

// ---- function libraries -----------------------------------------------------------

/// The RDB version FUNCTION DUMP stamps: the first with function records (Redis 7.0's).
pub const FUNCTIONS_VERSION: u16 = 10;

/// FUNCTION DUMP's payload: each library's code as an RDB function record (opcode 0xF5,
/// then the code as an RDB string), then the version and CRC-64 of a DUMP payload, as
/// Redis 7.0 writes it (so either server restores the other's dump).
pub fn encode_functions<'a>(codes: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for code in codes {
        out.push(OP_FUNCTION_2);
        put_string(&mut out, code);
    }
    out.extend_from_slice(&FUNCTIONS_VERSION.to_le_bytes());
    let crc = crc64(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Why FUNCTION RESTORE refused a payload (texts as Redis replies them).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FunctionsPayloadError {
    #[error("DUMP payload version or checksum are wrong")]
    VersionOrChecksum,
    #[error("given type is not a function")]
    NotAFunction,
    #[error("Failed loading library payload: {0}")]
    BadLibrary(&'static str),
}

/// The library codes in a FUNCTION DUMP payload, after checking its version and checksum.
pub fn decode_functions(payload: &[u8]) -> Result<Vec<Vec<u8>>, FunctionsPayloadError> {
    let body = checked_body(payload).map_err(|_| FunctionsPayloadError::VersionOrChecksum)?;
    let mut r = Reader { buf: body };
    let mut codes = Vec::new();
    while !r.buf.is_empty() {
        if r.byte() != Ok(OP_FUNCTION_2) {
            return Err(FunctionsPayloadError::NotAFunction);
        }
        match r.string() {
            Ok(code) => codes.push(code.into_owned()),
            Err(BadFormat(why)) => return Err(FunctionsPayloadError::BadLibrary(why)),
            Err(_) => return Err(FunctionsPayloadError::BadLibrary("unreadable")),
        }
    }
    Ok(codes)
}

/// A DUMP payload without its version and checksum, once they are checked.
fn checked_body(payload: &[u8]) -> R<&[u8]> {
    let Some(body_len) = payload.len().checked_sub(10) else {
        return Err(DumpError::VersionOrChecksum);
    };
    let version = u16::from_le_bytes([payload[body_len], payload[body_len + 1]]);
    let crc = u64::from_le_bytes(payload[body_len + 2..].try_into().expect("8 bytes"));
    if version > VERSION_READ || crc64(&payload[..body_len + 2]) != crc {
        return Err(DumpError::VersionOrChecksum);
    }
    Ok(&payload[..body_len])
}

// ---- decoding ----------------------------------------------------------------------

/// The value in a DUMP payload, after checking its version and checksum.
pub fn decode(payload: &[u8]) -> R<Value> {
    let mut r = Reader {
        buf: checked_body(payload)?,
    };
    let kind = r.byte()?;
    let v = value(&mut r, kind)?;
    if !r.buf.is_empty() {
        return Err(BadFormat("bytes left after the value"));
    }
    Ok(v)
}

fn value(r: &mut Reader, kind: u8) -> R<Value> {
    Ok(match kind {
        T_STRING => Value::from_bytes(&r.string()?),
        T_LIST | T_SET => {
            let n = r.count(1)?;
            let mut items = Vec::with_capacity(n);
            for _ in 0..n {
                items.push(r.string()?.into_owned());
            }
            if kind == T_LIST {
                list(items)?
            } else {
                set(items)?
            }
        }
        T_HASH => {
            let n = r.count(2)?;
            let mut pairs = Vec::with_capacity(n);
            for _ in 0..n {
                let f = r.string()?.into_owned();
                pairs.push((f, r.string()?.into_owned()));
            }
            hash(pairs)?
        }
        T_ZSET | T_ZSET_2 => {
            let n = r.count(if kind == T_ZSET { 2 } else { 9 })?;
            let mut pairs = Vec::with_capacity(n);
            for _ in 0..n {
                let m = r.string()?.into_owned();
                let score = if kind == T_ZSET {
                    r.text_score()?
                } else {
                    f64::from_le_bytes(r.array::<8>()?)
                };
                pairs.push((m, score));
            }
            zset(pairs)?
        }
        T_LIST_ZIPLIST => list(ziplist(&r.string()?)?)?,
        T_SET_INTSET => set(intset(&r.string()?)?)?,
        T_HASH_ZIPLIST => hash(pairs(ziplist(&r.string()?)?)?)?,
        T_ZSET_ZIPLIST => zset(scored(ziplist(&r.string()?)?)?)?,
        T_HASH_LISTPACK => hash(pairs(listpack(&r.string()?)?)?)?,
        T_ZSET_LISTPACK => zset(scored(listpack(&r.string()?)?)?)?,
        T_LIST_QUICKLIST | T_LIST_QUICKLIST_2 => {
            let nodes = r.count(1)?;
            let mut items = Vec::new();
            for _ in 0..nodes {
                let packed = if kind == T_LIST_QUICKLIST_2 {
                    match r.length()? {
                        1 => false,
                        2 => true,
                        _ => return Err(BadFormat("unknown quicklist node container")),
                    }
                } else {
                    true
                };
                let blob = r.string()?;
                if !packed {
                    items.push(blob.into_owned());
                } else if kind == T_LIST_QUICKLIST {
                    items.extend(ziplist(&blob)?);
                } else {
                    // Redis skips an empty node; an empty list is refused below.
                    items.extend(listpack(&blob)?);
                }
            }
            list(items)?
        }
        T_STREAM_LISTPACKS | T_STREAM_LISTPACKS_2 => {
            Value::Stream(Box::new(stream(r, kind == T_STREAM_LISTPACKS_2)?))
        }
        T_MODULE | T_MODULE_2 => return Err(BadFormat("a module value; Strata has no modules")),
        T_HASH_ZIPMAP => {
            return Err(BadFormat(
                "a zipmap (Redis before 2.6), which Strata does not read",
            ))
        }
        _ => return Err(BadFormat("unknown value type")),
    })
}

fn list(items: Vec<Vec<u8>>) -> R<Value> {
    if items.is_empty() {
        return Err(BadFormat("empty list"));
    }
    Ok(Value::List(Box::new(List::from_elements(items))))
}

fn set(items: Vec<Vec<u8>>) -> R<Value> {
    let n = items.len();
    if n == 0 {
        return Err(BadFormat("empty set"));
    }
    let s = Set::from_members(items);
    if s.len() != n {
        return Err(BadFormat("duplicate set members"));
    }
    Ok(Value::Set(Box::new(s)))
}

fn hash(pairs: Vec<(Vec<u8>, Vec<u8>)>) -> R<Value> {
    let n = pairs.len();
    if n == 0 {
        return Err(BadFormat("empty hash"));
    }
    let h = Hash::from_pairs(pairs);
    if h.len() != n {
        return Err(BadFormat("duplicate hash fields"));
    }
    Ok(Value::Hash(h))
}

fn zset(pairs: Vec<(Vec<u8>, f64)>) -> R<Value> {
    let n = pairs.len();
    if n == 0 {
        return Err(BadFormat("empty sorted set"));
    }
    if pairs.iter().any(|p| p.1.is_nan()) {
        return Err(BadFormat("sorted set score is NaN"));
    }
    let z = ZSet::from_pairs(pairs);
    if z.len() != n {
        return Err(BadFormat("duplicate sorted set members"));
    }
    Ok(Value::ZSet(Box::new(z)))
}

/// Field, value, field, value... as pairs.
fn pairs(items: Vec<Vec<u8>>) -> R<Vec<(Vec<u8>, Vec<u8>)>> {
    if !items.len().is_multiple_of(2) {
        return Err(BadFormat("a field without a value"));
    }
    let mut it = items.into_iter();
    let mut out = Vec::with_capacity(it.len() / 2);
    while let (Some(f), Some(v)) = (it.next(), it.next()) {
        out.push((f, v));
    }
    Ok(out)
}

/// Member, score, member, score... with scores as text (or integers) in a blob.
fn scored(items: Vec<Vec<u8>>) -> R<Vec<(Vec<u8>, f64)>> {
    pairs(items)?
        .into_iter()
        .map(|(m, s)| Ok((m, parse_score(&s)?)))
        .collect()
}

fn parse_score(s: &[u8]) -> R<f64> {
    std::str::from_utf8(s)
        .ok()
        .and_then(|t| t.parse::<f64>().ok())
        .ok_or(BadFormat("sorted set score is not a number"))
}

/// A cursor over the payload; every read checks what remains.
struct Reader<'a> {
    buf: &'a [u8],
}

/// What an RDB length field holds: a length, or the marker of a special string encoding.
enum Len {
    Plain(u64),
    Special(u8),
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> R<&'a [u8]> {
        if n > self.buf.len() {
            return Err(BadFormat("the bytes end inside a value"));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    fn byte(&mut self) -> R<u8> {
        Ok(self.take(1)?[0])
    }

    fn array<const N: usize>(&mut self) -> R<[u8; N]> {
        Ok(self.take(N)?.try_into().expect("N bytes"))
    }

    fn len_field(&mut self) -> R<Len> {
        let b = self.byte()?;
        Ok(match b >> 6 {
            0 => Len::Plain((b & 0x3f) as u64),
            1 => Len::Plain(((b as u64 & 0x3f) << 8) | self.byte()? as u64),
            2 if b == 0x80 => Len::Plain(u32::from_be_bytes(self.array()?) as u64),
            2 if b == 0x81 => Len::Plain(u64::from_be_bytes(self.array()?)),
            2 => return Err(BadFormat("unknown length encoding")),
            _ => Len::Special(b & 0x3f),
        })
    }

    fn length(&mut self) -> R<u64> {
        match self.len_field()? {
            Len::Plain(n) => Ok(n),
            Len::Special(_) => Err(BadFormat("a string encoding where a length belongs")),
        }
    }

    /// A count of items that each take at least `min_bytes` of the payload: more than
    /// the payload can hold is refused before anything is allocated for them.
    fn count(&mut self, min_bytes: usize) -> R<usize> {
        let n = self.length()?;
        if n > (self.buf.len() / min_bytes) as u64 {
            return Err(BadFormat("a count larger than the bytes left can hold"));
        }
        Ok(n as usize)
    }

    fn string(&mut self) -> R<Cow<'a, [u8]>> {
        let int = match self.len_field()? {
            Len::Plain(n) => {
                let n = usize::try_from(n).map_err(|_| BadFormat("string too long"))?;
                return Ok(Cow::Borrowed(self.take(n)?));
            }
            Len::Special(0) => self.byte()? as i8 as i64,
            Len::Special(1) => i16::from_le_bytes(self.array()?) as i64,
            Len::Special(2) => i32::from_le_bytes(self.array()?) as i64,
            Len::Special(3) => {
                let compressed = self.length()?;
                let len = self.length()?;
                if len > MAX_STRING {
                    return Err(BadFormat("compressed string longer than 512 MB"));
                }
                let compressed =
                    usize::try_from(compressed).map_err(|_| BadFormat("string too long"))?;
                return Ok(Cow::Owned(lzf_decompress(
                    self.take(compressed)?,
                    len as usize,
                )?));
            }
            Len::Special(_) => return Err(BadFormat("unknown string encoding")),
        };
        Ok(Cow::Owned(
            itoa::Buffer::new().format(int).as_bytes().to_vec(),
        ))
    }

    /// An ID as two lengths, ms then seq.
    fn id(&mut self) -> R<StreamId> {
        Ok(StreamId::new(self.length()?, self.length()?))
    }

    /// An ID as 16 raw bytes, ms then seq, big-endian.
    fn raw_id(&mut self) -> R<StreamId> {
        Ok(id_from_raw(self.take(16)?).expect("16 bytes"))
    }

    /// A zset score as text (RDB_TYPE_ZSET): a length byte, with 253-255 meaning NaN,
    /// +inf and -inf.
    fn text_score(&mut self) -> R<f64> {
        match self.byte()? {
            253 => Err(BadFormat("sorted set score is NaN")),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            n => parse_score(self.take(n as usize)?),
        }
    }
}

// ---- streams ------------------------------------------------------------------------
//
// Redis keeps a stream's entries in a radix tree of "nodes": each node is a listpack
// keyed by its master ID (16 bytes, ms then seq, big-endian) and opens with a master
// entry (live count, deleted count, the master fields, 0); each entry follows as flags,
// ms and seq deltas from the master ID, its fields (or, flagged SAMEFIELDS, only the
// values when its fields are the master's) and how many listpack items it took. XDEL and
// trimming only flag an entry as deleted; a node goes when no live entry is left in it.
// After the nodes: length, last ID, (type 19) first ID, greatest deleted ID and entries
// added, then each group: name, last ID, (type 19) entries read, its PEL (raw IDs with
// delivery time and count), and its consumers (name, seen time, their PEL as raw IDs).

/// Entry flags in a stream node (Redis's STREAM_ITEM_FLAG_*).
const ITEM_DELETED: i64 = 1;
const ITEM_SAMEFIELDS: i64 = 2;
/// Redis's defaults for stream-node-max-entries and stream-node-max-bytes: [`encode`]
/// cuts nodes where XADD on a default Redis 7.0 would have.
const NODE_MAX_ENTRIES: usize = 100;
const NODE_MAX_BYTES: usize = 4096;

fn raw_id(id: StreamId) -> [u8; 16] {
    let mut b = [0; 16];
    b[..8].copy_from_slice(&id.ms.to_be_bytes());
    b[8..].copy_from_slice(&id.seq.to_be_bytes());
    b
}

fn put_id(out: &mut Vec<u8>, id: StreamId) {
    put_len(out, id.ms);
    put_len(out, id.seq);
}

/// A string as Redis's rdbSaveRawString writes a short one: as an 8/16/32-bit integer
/// when it is one's canonical text (group and consumer names).
fn put_raw_string(out: &mut Vec<u8>, s: &[u8]) {
    match canonical_int(s) {
        Some(i) if s.len() <= 11 && i32::try_from(i).is_ok() => put_int_string(out, i),
        _ => put_string(out, s),
    }
}

/// `s` as an i64 if it is exactly that integer's decimal text (listpack.c's
/// lpStringToInt64: no sign but '-', no leading zeros, no "-0").
fn canonical_int(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    let i: i64 = std::str::from_utf8(s).ok()?.parse().ok()?;
    (itoa::Buffer::new().format(i).as_bytes() == s).then_some(i)
}

/// A listpack under construction: its items (encoding, data, back-length) and count.
#[derive(Default)]
struct LpBuilder {
    items: Vec<u8>,
    n: usize,
}

impl LpBuilder {
    fn int(&mut self, v: i64) {
        let start = self.items.len();
        let b = &mut self.items;
        match v {
            0..=127 => b.push(v as u8),
            -4096..=4095 => {
                let u = (v as u16) & 0x1fff;
                b.extend_from_slice(&[0xC0 | (u >> 8) as u8, u as u8]);
            }
            -32768..=32767 => {
                b.push(0xF1);
                b.extend_from_slice(&(v as i16).to_le_bytes());
            }
            -8388608..=8388607 => {
                b.push(0xF2);
                b.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
            }
            _ if i32::try_from(v).is_ok() => {
                b.push(0xF3);
                b.extend_from_slice(&(v as i32).to_le_bytes());
            }
            _ => {
                b.push(0xF4);
                b.extend_from_slice(&v.to_le_bytes());
            }
        }
        self.end_item(start);
    }

    /// A string; one that is an integer's canonical text is stored as that integer, as
    /// listpack.c does.
    fn string(&mut self, s: &[u8]) {
        if let Some(v) = canonical_int(s) {
            return self.int(v);
        }
        let start = self.items.len();
        let b = &mut self.items;
        let n = s.len();
        if n < 64 {
            b.push(0x80 | n as u8);
        } else if n < 4096 {
            b.extend_from_slice(&[0xE0 | (n >> 8) as u8, n as u8]);
        } else {
            b.push(0xF0);
            b.extend_from_slice(&(n as u32).to_le_bytes());
        }
        b.extend_from_slice(s);
        self.end_item(start);
    }

    fn end_item(&mut self, start: usize) {
        let l = self.items.len() - start;
        let mut buf = [0; 5];
        let n = backlen(&mut buf, l);
        self.items.extend_from_slice(&buf[..n]);
        self.n += 1;
    }

    /// The whole listpack: total bytes, item count (65535: too many to say), items, end.
    fn finish(&self, head: &LpBuilder) -> Vec<u8> {
        let total = 6 + head.items.len() + self.items.len() + 1;
        let mut lp = Vec::with_capacity(total);
        lp.extend_from_slice(&(total as u32).to_le_bytes());
        lp.extend_from_slice(&((head.n + self.n).min(u16::MAX as usize) as u16).to_le_bytes());
        lp.extend_from_slice(&head.items);
        lp.extend_from_slice(&self.items);
        lp.push(0xFF);
        lp
    }
}

/// An item's back-length (its encoding and data size, `l`) as listpack.c writes it:
/// 7 bits a byte, most significant first, every byte but the first flagged 128.
fn backlen(buf: &mut [u8; 5], l: usize) -> usize {
    let n = match l {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2097150 => 3,
        2097151..=268435454 => 4,
        _ => 5,
    };
    for (i, b) in buf[..n].iter_mut().enumerate() {
        let shift = 7 * (n - 1 - i);
        *b = ((l >> shift) & 127) as u8 | if i == 0 { 0 } else { 128 };
    }
    n
}

/// The nodes XADD would have built for `s`'s entries on a Redis with the default node
/// limits (no entry flagged deleted: Strata keeps none), as (master ID, listpack).
fn stream_nodes(s: &Stream) -> Vec<(StreamId, Vec<u8>)> {
    struct Node {
        master: StreamId,
        fields: Vec<Vec<u8>>,
        count: usize,
        body: LpBuilder,
    }
    fn head(n: &Node) -> LpBuilder {
        let mut h = LpBuilder::default();
        h.int(n.count as i64);
        h.int(0);
        h.int(n.fields.len() as i64);
        for f in &n.fields {
            h.string(f);
        }
        h.int(0);
        h
    }
    let mut nodes = Vec::new();
    let mut cur: Option<Node> = None;
    for (id, fields) in s.iter() {
        let names: Vec<Vec<u8>> = fields.iter().step_by(2).cloned().collect();
        let values = fields.iter().skip(1).step_by(2);
        if let Some(n) = &cur {
            let lp_bytes = 6 + head(n).items.len() + n.body.items.len() + 1;
            let ele_bytes: usize = fields.iter().map(|f| f.len()).sum();
            if lp_bytes + ele_bytes >= NODE_MAX_BYTES || n.count >= NODE_MAX_ENTRIES {
                let n = cur.take().expect("checked");
                nodes.push((n.master, n.body.finish(&head(&n))));
            }
        }
        let n = cur.get_or_insert_with(|| Node {
            master: id,
            fields: names.clone(),
            count: 0,
            body: LpBuilder::default(),
        });
        n.count += 1;
        let same = n.fields == names;
        let b = &mut n.body;
        b.int(if same { ITEM_SAMEFIELDS } else { 0 });
        b.int(id.ms.wrapping_sub(n.master.ms) as i64);
        b.int(id.seq.wrapping_sub(n.master.seq) as i64);
        if same {
            for v in values {
                b.string(v);
            }
            b.int(names.len() as i64 + 3);
        } else {
            b.int(names.len() as i64);
            for f in &fields {
                b.string(f);
            }
            b.int(2 * names.len() as i64 + 4);
        }
    }
    if let Some(n) = cur {
        nodes.push((n.master, n.body.finish(&head(&n))));
    }
    nodes
}

/// A stream as Redis 7.0's rdbSaveObject writes it (after the type byte 19), or with
/// `v2` false as Redis 5/6 wrote type 15 (tests only).
fn put_stream(out: &mut Vec<u8>, s: &Stream, v2: bool) {
    let nodes = stream_nodes(s);
    put_len(out, nodes.len() as u64);
    for (master, lp) in &nodes {
        put_string(out, &raw_id(*master));
        put_string(out, lp);
    }
    put_len(out, s.len() as u64);
    put_id(out, s.last_id);
    if v2 {
        put_id(out, s.first_id());
        put_id(out, s.max_deleted_id);
        put_len(out, s.entries_added);
    }
    put_len(out, s.groups().len() as u64);
    for (name, g) in s.groups() {
        put_raw_string(out, name);
        put_id(out, g.last_id);
        if v2 {
            // -1 (unknown) as Redis writes a long long through rdbSaveLen: 2^64 - 1.
            put_len(out, g.entries_read as u64);
        }
        put_len(out, g.pel.len() as u64);
        for (id, nack) in &g.pel {
            out.extend_from_slice(&raw_id(*id));
            out.extend_from_slice(&nack.delivery_time.to_le_bytes());
            put_len(out, nack.delivery_count);
        }
        put_len(out, g.consumers.len() as u64);
        for (cname, c) in &g.consumers {
            put_raw_string(out, cname);
            out.extend_from_slice(&c.seen_time.to_le_bytes());
            put_len(out, c.pel.len() as u64);
            for id in &c.pel {
                out.extend_from_slice(&raw_id(*id));
            }
        }
    }
}

/// A stream (after its type byte): type 19 (`v2`) or Redis 5/6's type 15, which lacks
/// the first ID, greatest deleted ID, entries added and groups' entries read; those are
/// derived as Redis 7.0's loader derives them. Checked in full: entry IDs increase
/// within and across nodes, every node's counts match its entries, the length matches,
/// no ID is past the last ID, and every pending ID belongs to exactly one consumer.
fn stream(r: &mut Reader, v2: bool) -> R<Stream> {
    let mut s = Stream::new();
    let nodes = r.count(1)?;
    // The greatest ID seen so far, deleted entries included.
    let mut prev: Option<StreamId> = None;
    for _ in 0..nodes {
        let key = r.string()?;
        let master = id_from_raw(&key).ok_or(BadFormat("stream node key is not a 16-byte ID"))?;
        if prev.is_some_and(|p| master <= p) {
            return Err(BadFormat("stream IDs do not increase"));
        }
        stream_node(&mut s, master, &r.string()?, &mut prev)?;
    }
    if r.length()? != s.len() as u64 {
        return Err(BadFormat("stream length does not match its entries"));
    }
    s.last_id = r.id()?;
    if prev.is_some_and(|p| p > s.last_id) {
        return Err(BadFormat("stream entry ID past the stream's last ID"));
    }
    if v2 {
        // Strata derives the first ID from the entries; Redis's copy is 0-0 (or, after
        // some trims, anything) for an empty stream, else the first live entry's.
        let first = r.id()?;
        if !s.is_empty() && first > s.first_id() {
            return Err(BadFormat("stream first ID past its first entry"));
        }
        s.max_deleted_id = r.id()?;
        s.entries_added = r.length()?;
    } else {
        s.entries_added = s.len() as u64;
    }
    if s.max_deleted_id > s.last_id {
        return Err(BadFormat("stream greatest deleted ID past its last ID"));
    }
    if s.entries_added < s.len() as u64 {
        return Err(BadFormat("stream entries added fewer than its length"));
    }
    let groups = r.count(1)?;
    for _ in 0..groups {
        let name = r.string()?.into_owned();
        let last_id = r.id()?;
        let entries_read = if v2 {
            r.length()? as i64
        } else {
            s.entries_read_at(last_id)
        };
        if entries_read < ENTRIES_READ_UNKNOWN {
            return Err(BadFormat("stream group entries read below -1"));
        }
        let mut g = Group::new(last_id, entries_read);
        let pending = r.count(16 + 8 + 1)?;
        for _ in 0..pending {
            let id = r.raw_id()?;
            let delivery_time = u64::from_le_bytes(r.array()?);
            let delivery_count = r.length()?;
            let nack = Nack {
                consumer: Vec::new(),
                delivery_time,
                delivery_count,
            };
            if g.pel.insert(id, nack).is_some() {
                return Err(BadFormat("stream group PEL holds an ID twice"));
            }
        }
        let consumers = r.count(1 + 8 + 1)?;
        for _ in 0..consumers {
            let cname = r.string()?.into_owned();
            let seen_time = u64::from_le_bytes(r.array()?);
            let (c, created) = g.consumer(&cname, seen_time);
            if !created {
                return Err(BadFormat("stream group has a consumer twice"));
            }
            let n = r.count(16)?;
            let mut ids = Vec::with_capacity(n);
            for _ in 0..n {
                let id = r.raw_id()?;
                if !c.pel.insert(id) {
                    return Err(BadFormat("stream PEL ID pending twice"));
                }
                ids.push(id);
            }
            for id in ids {
                match g.pel.get_mut(&id) {
                    None => return Err(BadFormat("stream consumer PEL ID not in its group PEL")),
                    Some(n) if !n.consumer.is_empty() => {
                        return Err(BadFormat("stream PEL ID pending twice"))
                    }
                    Some(n) => n.consumer = cname.clone(),
                }
            }
        }
        if g.pel.values().any(|n| n.consumer.is_empty()) {
            return Err(BadFormat("stream group PEL ID without a consumer"));
        }
        if !s.add_group(&name, g) {
            return Err(BadFormat("stream has a consumer group twice"));
        }
    }
    Ok(s)
}

fn id_from_raw(b: &[u8]) -> Option<StreamId> {
    let b: &[u8; 16] = b.try_into().ok()?;
    Some(StreamId::new(
        u64::from_be_bytes(b[..8].try_into().expect("8")),
        u64::from_be_bytes(b[8..].try_into().expect("8")),
    ))
}

/// One node's entries into `s`, checked as Redis's deep sanitization checks them (and
/// more: IDs increase from the master ID on, past `prev`).
fn stream_node(
    s: &mut Stream,
    master: StreamId,
    blob: &[u8],
    prev: &mut Option<StreamId>,
) -> R<()> {
    const BAD: DumpError = BadFormat("corrupt stream node");
    let items = listpack(blob)?;
    if items.is_empty() {
        return Err(BadFormat("empty stream node"));
    }
    let mut it = items.into_iter();
    let int = |it: &mut std::vec::IntoIter<Vec<u8>>| -> R<i64> {
        canonical_int(&it.next().ok_or(BAD)?).ok_or(BAD)
    };
    let count = int(&mut it)?;
    let deleted = int(&mut it)?;
    let nfields = int(&mut it)?;
    if count < 0 || deleted < 0 || nfields < 0 || nfields as u64 > it.len() as u64 {
        return Err(BAD);
    }
    let names: Vec<Vec<u8>> = it.by_ref().take(nfields as usize).collect();
    if int(&mut it)? != 0 {
        return Err(BAD);
    }
    let (mut live, mut dead) = (0i64, 0i64);
    while it.len() > 0 {
        let flags = int(&mut it)?;
        if flags & !(ITEM_DELETED | ITEM_SAMEFIELDS) != 0 {
            return Err(BAD);
        }
        let ms = master.ms.wrapping_add(int(&mut it)? as u64);
        let seq = master.seq.wrapping_add(int(&mut it)? as u64);
        let id = StreamId::new(ms, seq);
        if id < master || prev.is_some_and(|p| id <= p) {
            return Err(BadFormat("stream IDs do not increase"));
        }
        *prev = Some(id);
        let (fields, items) = if flags & ITEM_SAMEFIELDS != 0 {
            if names.len() > it.len() {
                return Err(BAD);
            }
            let mut f = Vec::with_capacity(2 * names.len());
            for name in &names {
                f.push(name.clone());
                f.push(it.next().ok_or(BAD)?);
            }
            (f, names.len() as i64 + 3)
        } else {
            let n = int(&mut it)?;
            if n < 0 || n as u64 > it.len() as u64 / 2 {
                return Err(BAD);
            }
            // Exactly sized: the stream's memory count reads the capacity.
            let mut f = Vec::with_capacity(2 * n as usize);
            f.extend(it.by_ref().take(2 * n as usize));
            (f, 2 * n + 4)
        };
        if int(&mut it)? != items {
            return Err(BAD);
        }
        if flags & ITEM_DELETED != 0 {
            dead += 1;
        } else {
            live += 1;
            s.load_entry(id, &fields);
        }
    }
    if live != count || dead != deleted {
        return Err(BadFormat("stream node counts do not match its entries"));
    }
    Ok(())
}

// ---- RDB files ----------------------------------------------------------------------

/// One item of a Redis RDB file, in file order.
#[derive(Debug, Clone, PartialEq)]
pub enum RdbItem {
    /// The keys that follow belong to this database (SELECTDB).
    Db(u64),
    /// A key, its value and its absolute expiry (Unix ms), if any.
    Key {
        key: Vec<u8>,
        value: Value,
        expire_ms: Option<u64>,
    },
    /// A function library's source (Redis 7 functions): Strata has no scripting, so the
    /// caller reports it as left out.
    Function(Vec<u8>),
}

/// Where and why an RDB file could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("RDB file unreadable at byte {offset}: {reason}")]
pub struct RdbError {
    pub offset: usize,
    pub reason: String,
}

// RDB opcodes (Redis's rdb.h).
const OP_FUNCTION_2: u8 = 0xF5;
const OP_FUNCTION_PRE_GA: u8 = 0xF6;
const OP_MODULE_AUX: u8 = 0xF7;
const OP_IDLE: u8 = 0xF8;
const OP_FREQ: u8 = 0xF9;
const OP_AUX: u8 = 0xFA;
const OP_RESIZEDB: u8 = 0xFB;
const OP_EXPIRETIME_MS: u8 = 0xFC;
const OP_EXPIRETIME: u8 = 0xFD;
const OP_SELECTDB: u8 = 0xFE;
const OP_EOF: u8 = 0xFF;

/// Reads a whole RDB file (Redis 2.8 to 7.0, RDB versions up to 10) item by item, with
/// the same checks as a RESTORE payload; the file's CRC-64 is checked at its end.
pub struct RdbReader<'a> {
    file: &'a [u8],
    r: Reader<'a>,
    version: u16,
    done: bool,
}

impl<'a> RdbReader<'a> {
    pub fn new(file: &'a [u8]) -> Result<Self, RdbError> {
        let bad = |reason: &str| RdbError {
            offset: 0,
            reason: reason.to_string(),
        };
        let magic = file
            .get(..9)
            .ok_or_else(|| bad("shorter than an RDB header"))?;
        if &magic[..5] != b"REDIS" {
            return Err(bad("not an RDB file (no REDIS magic)"));
        }
        let version = std::str::from_utf8(&magic[5..])
            .ok()
            .and_then(|v| v.parse::<u16>().ok())
            .ok_or_else(|| bad("unreadable RDB version"))?;
        if version == 0 || version > VERSION_READ {
            return Err(bad(&format!(
                "RDB version {version}: Strata reads versions 1 to {VERSION_READ} (Redis up to 7.0)"
            )));
        }
        Ok(RdbReader {
            file,
            r: Reader { buf: &file[9..] },
            version,
            done: false,
        })
    }

    /// The file's RDB version.
    pub fn version(&self) -> u16 {
        self.version
    }

    /// Bytes read so far.
    pub fn offset(&self) -> usize {
        self.file.len() - self.r.buf.len()
    }

    /// The next item; `Ok(None)` after the end marker (and a matching checksum).
    pub fn next_item(&mut self) -> Result<Option<RdbItem>, RdbError> {
        if self.done {
            return Ok(None);
        }
        let start = self.offset();
        self.item().map_err(|e| RdbError {
            offset: start,
            reason: match e {
                BadFormat(r) => r.to_string(),
                other => other.to_string(),
            },
        })
    }

    fn item(&mut self) -> R<Option<RdbItem>> {
        let mut expire_ms = None;
        loop {
            let op = self.r.byte()?;
            match op {
                OP_AUX => {
                    self.r.string()?;
                    self.r.string()?;
                }
                OP_RESIZEDB => {
                    self.r.length()?;
                    self.r.length()?;
                }
                OP_SELECTDB => return Ok(Some(RdbItem::Db(self.r.length()?))),
                OP_EXPIRETIME => {
                    let s = u32::from_le_bytes(self.r.array()?);
                    expire_ms = Some(s as u64 * 1000);
                }
                OP_EXPIRETIME_MS => expire_ms = Some(u64::from_le_bytes(self.r.array()?)),
                OP_IDLE => {
                    self.r.length()?;
                }
                OP_FREQ => {
                    self.r.byte()?;
                }
                OP_FUNCTION_2 => {
                    return Ok(Some(RdbItem::Function(self.r.string()?.into_owned())));
                }
                OP_FUNCTION_PRE_GA | OP_MODULE_AUX => {
                    return Err(BadFormat(
                        "module data or a pre-release function record, which Strata cannot read",
                    ))
                }
                OP_EOF => {
                    if self.version >= 5 {
                        let end = self.offset();
                        let crc = u64::from_le_bytes(self.r.array()?);
                        // 0: written with rdbchecksum no.
                        if crc != 0 && crc != crc64(&self.file[..end]) {
                            return Err(BadFormat("the file's CRC-64 does not match"));
                        }
                    }
                    if !self.r.buf.is_empty() {
                        return Err(BadFormat("bytes after the end of the RDB file"));
                    }
                    self.done = true;
                    return Ok(None);
                }
                kind => {
                    let key = self.r.string()?.into_owned();
                    let value = value(&mut self.r, kind)?;
                    return Ok(Some(RdbItem::Key {
                        key,
                        value,
                        expire_ms,
                    }));
                }
            }
        }
    }
}

/// LZF (liblzf's format): a control byte below 32 copies that many + 1 literal bytes;
/// otherwise its top 3 bits (7 = read one more byte) + 2 bytes are copied from
/// 1 + ((ctrl & 31) << 8 | next byte) bytes back. The output must be exactly `len` bytes.
fn lzf_decompress(input: &[u8], len: usize) -> R<Vec<u8>> {
    const BAD: DumpError = BadFormat("corrupt LZF-compressed string");
    // Grows with the input (each input byte yields at most 264 output bytes): a small
    // payload that claims a huge length allocates little before failing.
    let mut out = Vec::with_capacity(len.min(input.len().saturating_mul(4)));
    let mut i = 0;
    while i < input.len() {
        let ctrl = input[i] as usize;
        i += 1;
        if ctrl < 32 {
            let run = ctrl + 1;
            let lit = input.get(i..i + run).ok_or(BAD)?;
            if out.len() + run > len {
                return Err(BAD);
            }
            out.extend_from_slice(lit);
            i += run;
        } else {
            let mut n = ctrl >> 5;
            if n == 7 {
                n += *input.get(i).ok_or(BAD)? as usize;
                i += 1;
            }
            n += 2;
            let back = ((ctrl & 0x1f) << 8) + *input.get(i).ok_or(BAD)? as usize + 1;
            i += 1;
            if back > out.len() || out.len() + n > len {
                return Err(BAD);
            }
            let from = out.len() - back;
            // Byte by byte: the source may overlap what this copy writes.
            for k in 0..n {
                out.push(out[from + k]);
            }
        }
    }
    if out.len() != len {
        return Err(BAD);
    }
    Ok(out)
}

/// The entries of a listpack (Redis 7): total bytes u32 LE, count u16 LE (65535 =
/// unknown), entries (encoding, data, back-length), 0xFF.
fn listpack(blob: &[u8]) -> R<Vec<Vec<u8>>> {
    const BAD: DumpError = BadFormat("corrupt listpack");
    if blob.len() < 7 || u32::from_le_bytes(blob[..4].try_into().expect("4")) as usize != blob.len()
    {
        return Err(BAD);
    }
    let declared = u16::from_le_bytes([blob[4], blob[5]]);
    let mut r = Reader {
        buf: &blob[6..blob.len() - 1],
    };
    if blob[blob.len() - 1] != 0xFF {
        return Err(BAD);
    }
    let mut items = Vec::new();
    while !r.buf.is_empty() {
        let start = r.buf.len();
        let b = r.byte().map_err(|_| BAD)?;
        let item: Vec<u8> = if b < 0x80 {
            int_text(b as i64)
        } else if b >> 6 == 0b10 {
            r.take((b & 0x3f) as usize).map_err(|_| BAD)?.to_vec()
        } else if b >> 5 == 0b110 {
            let v = (((b & 0x1f) as i64) << 8) | r.byte().map_err(|_| BAD)? as i64;
            int_text(sign_extend(v, 13))
        } else if b >> 4 == 0b1110 {
            let n = (((b & 0x0f) as usize) << 8) | r.byte().map_err(|_| BAD)? as usize;
            r.take(n).map_err(|_| BAD)?.to_vec()
        } else {
            match b {
                0xF0 => {
                    let n = u32::from_le_bytes(r.array().map_err(|_| BAD)?) as usize;
                    r.take(n).map_err(|_| BAD)?.to_vec()
                }
                0xF1 => int_text(i16::from_le_bytes(r.array().map_err(|_| BAD)?) as i64),
                0xF2 => {
                    let [x, y, z] = r.array().map_err(|_| BAD)?;
                    int_text(sign_extend(
                        i64::from_le_bytes([x, y, z, 0, 0, 0, 0, 0]),
                        24,
                    ))
                }
                0xF3 => int_text(i32::from_le_bytes(r.array().map_err(|_| BAD)?) as i64),
                0xF4 => int_text(i64::from_le_bytes(r.array().map_err(|_| BAD)?)),
                _ => return Err(BAD),
            }
        };
        // The back-length: the entry's size so far, as listpack.c encodes it.
        let mut want = [0; 5];
        let n = backlen(&mut want, start - r.buf.len());
        if r.take(n).map_err(|_| BAD)? != &want[..n] {
            return Err(BAD);
        }
        items.push(item);
    }
    if declared != u16::MAX && declared as usize != items.len() {
        return Err(BAD);
    }
    Ok(items)
}

/// The entries of a ziplist (Redis before 7): total bytes u32 LE, tail offset u32 LE,
/// count u16 LE, entries (previous length, encoding, data), 0xFF.
fn ziplist(blob: &[u8]) -> R<Vec<Vec<u8>>> {
    const BAD: DumpError = BadFormat("corrupt ziplist");
    if blob.len() < 11
        || u32::from_le_bytes(blob[..4].try_into().expect("4")) as usize != blob.len()
    {
        return Err(BAD);
    }
    let declared = u16::from_le_bytes([blob[8], blob[9]]);
    if blob[blob.len() - 1] != 0xFF {
        return Err(BAD);
    }
    let mut r = Reader {
        buf: &blob[10..blob.len() - 1],
    };
    let mut items = Vec::new();
    while !r.buf.is_empty() {
        match r.byte().map_err(|_| BAD)? {
            0xFE => drop(r.take(4).map_err(|_| BAD)?),
            0xFF => return Err(BAD),
            _ => {}
        }
        let e = r.byte().map_err(|_| BAD)?;
        let item = match e >> 6 {
            0 => r.take((e & 0x3f) as usize).map_err(|_| BAD)?.to_vec(),
            1 => {
                let n = (((e & 0x3f) as usize) << 8) | r.byte().map_err(|_| BAD)? as usize;
                r.take(n).map_err(|_| BAD)?.to_vec()
            }
            2 if e == 0x80 => {
                let n = u32::from_be_bytes(r.array().map_err(|_| BAD)?) as usize;
                r.take(n).map_err(|_| BAD)?.to_vec()
            }
            2 => return Err(BAD),
            _ => int_text(match e {
                0xC0 => i16::from_le_bytes(r.array().map_err(|_| BAD)?) as i64,
                0xD0 => i32::from_le_bytes(r.array().map_err(|_| BAD)?) as i64,
                0xE0 => i64::from_le_bytes(r.array().map_err(|_| BAD)?),
                0xF0 => {
                    let [x, y, z] = r.array().map_err(|_| BAD)?;
                    sign_extend(i64::from_le_bytes([x, y, z, 0, 0, 0, 0, 0]), 24)
                }
                0xFE => r.byte().map_err(|_| BAD)? as i8 as i64,
                0xF1..=0xFD => (e & 0x0f) as i64 - 1,
                _ => return Err(BAD),
            }),
        };
        items.push(item);
    }
    if declared != u16::MAX && declared as usize != items.len() {
        return Err(BAD);
    }
    Ok(items)
}

/// The members of an intset: width u32 LE (2, 4 or 8), count u32 LE, sorted integers.
fn intset(blob: &[u8]) -> R<Vec<Vec<u8>>> {
    const BAD: DumpError = BadFormat("corrupt intset");
    if blob.len() < 8 {
        return Err(BAD);
    }
    let width = u32::from_le_bytes(blob[..4].try_into().expect("4")) as usize;
    let n = u32::from_le_bytes(blob[4..8].try_into().expect("4")) as usize;
    if !matches!(width, 2 | 4 | 8)
        || (blob.len() - 8) / width != n
        || !(blob.len() - 8).is_multiple_of(width)
    {
        return Err(BAD);
    }
    Ok(blob[8..]
        .chunks_exact(width)
        .map(|c| {
            let mut b = [0u8; 8];
            b[..width].copy_from_slice(c);
            int_text(sign_extend(i64::from_le_bytes(b), width as u32 * 8))
        })
        .collect())
}

fn sign_extend(v: i64, bits: u32) -> i64 {
    let shift = 64 - bits;
    (v << shift) >> shift
}

fn int_text(i: i64) -> Vec<u8> {
    itoa::Buffer::new().format(i).as_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc64_is_redis_jones() {
        // Redis's crc64 test vector (src/crc64.c).
        assert_eq!(crc64(b"123456789"), 0xe9c6d914c4b8d9ca);
    }

    #[test]
    fn lengths_round_trip() {
        for n in [
            0u64,
            63,
            64,
            16383,
            16384,
            u32::MAX as u64,
            u32::MAX as u64 + 1,
        ] {
            let mut b = Vec::new();
            put_len(&mut b, n);
            let mut r = Reader { buf: &b };
            assert_eq!(r.length().unwrap(), n);
            assert!(r.buf.is_empty());
        }
    }

    #[test]
    fn sign_extension() {
        assert_eq!(sign_extend(0x1fff, 13), -1);
        assert_eq!(sign_extend(0x0fff, 13), 4095);
        assert_eq!(sign_extend(0x800000, 24), -8388608);
    }

    fn seal(mut body: Vec<u8>) -> Vec<u8> {
        body.extend_from_slice(&10u16.to_le_bytes());
        let crc = crc64(&body);
        body.extend_from_slice(&crc.to_le_bytes());
        body
    }

    /// A ziplist (Redis 6's small-collection blob) of the given raw entries.
    fn ziplist_blob(entries: &[&[u8]]) -> Vec<u8> {
        let mut b = vec![0; 10];
        for e in entries {
            b.push(0); // previous entry's length (only walked backwards, unchecked here)
            b.extend_from_slice(e);
        }
        b.push(0xFF);
        let n = b.len() as u32;
        b[..4].copy_from_slice(&n.to_le_bytes());
        b[8..10].copy_from_slice(&(entries.len() as u16).to_le_bytes());
        b
    }

    fn blob_value(kind: u8, blob: &[u8]) -> Vec<u8> {
        let mut body = vec![kind];
        put_string(&mut body, blob);
        seal(body)
    }

    fn strings(v: &Value) -> Vec<String> {
        match v {
            Value::List(l) => l
                .iter()
                .map(|e| String::from_utf8_lossy(e).into())
                .collect(),
            other => panic!("not a list: {other:?}"),
        }
    }

    #[test]
    fn reads_every_ziplist_entry_encoding() {
        let entries: &[&[u8]] = &[
            b"\x02ab",                       // 6-bit string length
            &[0x40, 0x01, b'z'],             // 14-bit string length
            &[0x80, 0, 0, 0, 1, b'y'],       // 32-bit string length
            &[0xFD],                         // immediate 12
            &[0xF1],                         // immediate 0
            &[0xFE, 0xFB],                   // int8 -5
            &[0xC0, 0xE8, 0x03],             // int16 1000
            &[0xF0, 0x00, 0x00, 0x80],       // int24 -8388608
            &[0xD0, 0x00, 0x00, 0x00, 0x80], // int32 i32::MIN
            &[0xE0, 1, 0, 0, 0, 0, 0, 0, 0], // int64 1
        ];
        let blob = ziplist_blob(entries);
        let want = [
            "ab",
            "z",
            "y",
            "12",
            "0",
            "-5",
            "1000",
            "-8388608",
            "-2147483648",
            "1",
        ];
        let v = decode(&blob_value(T_LIST_ZIPLIST, &blob)).unwrap();
        assert_eq!(strings(&v), want);
        // The same ziplist as the one node of a Redis 6 quicklist.
        let mut body = vec![T_LIST_QUICKLIST, 1];
        put_string(&mut body, &blob);
        assert_eq!(strings(&decode(&seal(body)).unwrap()), want);
        // Hash and zset ziplists hold pairs.
        let pairs = ziplist_blob(&[b"\x01f", &[0xF3], b"\x01g", b"\x031.5"]);
        let Value::Hash(h) = decode(&blob_value(T_HASH_ZIPLIST, &pairs)).unwrap() else {
            panic!("not a hash")
        };
        assert_eq!(h.get(b"f"), Some(&b"2"[..]));
        let Value::ZSet(z) = decode(&blob_value(T_ZSET_ZIPLIST, &pairs)).unwrap() else {
            panic!("not a zset")
        };
        assert_eq!((z.score(b"f"), z.score(b"g")), (Some(2.0), Some(1.5)));
        // An odd number of entries is a field without a value.
        let odd = ziplist_blob(&[b"\x01f"]);
        assert_eq!(
            decode(&blob_value(T_HASH_ZIPLIST, &odd)),
            Err(BadFormat("a field without a value"))
        );
        // A count that disagrees with the entries, an entry cut short.
        let mut wrong = blob.clone();
        wrong[8] = 3;
        assert_eq!(
            decode(&blob_value(T_LIST_ZIPLIST, &wrong)),
            Err(BadFormat("corrupt ziplist"))
        );
        let cut = ziplist_blob(&[&[0xC0, 0xE8]]);
        assert_eq!(
            decode(&blob_value(T_LIST_ZIPLIST, &cut)),
            Err(BadFormat("corrupt ziplist"))
        );
    }

    #[test]
    fn strata_writes_plain_rdb_9() {
        // SET k hello: type 0, length 5, the bytes, version 9 LE, CRC-64 LE. Redis 7.0.15
        // restores this payload (tools/dump-compat.py checks every type that way).
        let p = encode(&Value::Str(b"hello".to_vec()));
        assert_eq!(&p[..7], b"\x00\x05hello");
        assert_eq!(&p[7..9], &[9, 0]);
        assert_eq!(
            u64::from_le_bytes(p[9..].try_into().unwrap()),
            crc64(&p[..9])
        );
        // Integers use the 8/16/32-bit encodings, wider ones their decimal text.
        for (i, enc) in [
            (-5i64, &[0xC0, 0xFB][..]),
            (1000, &[0xC1, 0xE8, 0x03]),
            (-70000, &[0xC2, 0x90, 0xEE, 0xFE, 0xFF]),
            (9999999999, b"\x0a9999999999"),
        ] {
            let p = encode(&Value::Int(i));
            assert_eq!(&p[1..p.len() - 10], enc, "{i}");
            assert_eq!(decode(&p), Ok(Value::Int(i)));
        }
    }

    #[test]
    fn a_huge_claimed_length_allocates_nothing() {
        // A list claiming 2^64 - 1 elements, an LZF string claiming 512 MB + 1.
        let mut body = vec![T_LIST, 0x81];
        body.extend_from_slice(&u64::MAX.to_be_bytes());
        assert_eq!(
            decode(&seal(body)),
            Err(BadFormat("a count larger than the bytes left can hold"))
        );
        let mut body = vec![T_STRING, 0xC3, 0x01];
        put_len(&mut body, MAX_STRING + 1);
        body.push(0);
        assert_eq!(
            decode(&seal(body)),
            Err(BadFormat("compressed string longer than 512 MB"))
        );
    }

    // ---- streams ----

    fn unhex(h: &str) -> Vec<u8> {
        (0..h.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
            .collect()
    }

    fn fields(f: &[&str]) -> Vec<Vec<u8>> {
        f.iter().map(|x| x.as_bytes().to_vec()).collect()
    }

    fn id(ms: u64, seq: u64) -> StreamId {
        StreamId::new(ms, seq)
    }

    fn the_stream(v: Value) -> Stream {
        match v {
            Value::Stream(s) => *s,
            other => panic!("not a stream: {other:?}"),
        }
    }

    /// Redis 7.0.15, rdbcompression no: XADD sa 1-1 name Alice age 30, 2-0 name Bob age
    /// 25, 3-5 color red, 4-0 name Carol age -4100; XGROUP CREATE sa g1 0; XREADGROUP
    /// g1 alice COUNT 2, then bob COUNT 1; XCLAIM sa g1 bob 0 1-1; XGROUP CREATE sa g2 $.
    const SA: &str =
        "130110000000000000000100000000000000014065650000001f00040100010201846e616d65058361676504\
        000102010001000185416c696365061e01050102010101dfff0283426f620419010501000102010401010185\
        636f6c6f72068372656404060102010301dfff02854361726f6c06f1fcef030501ff04040001010000040202\
        673103050303000000000000000100000000000000011b0e5352a20100000200000000000000020000000000\
        0000001a0e5352a201000001000000000000000300000000000000051a0e5352a2010000010205616c696365\
        1a0e5352a2010000010000000000000002000000000000000003626f621b0e5352a201000002000000000000\
        0001000000000000000100000000000000030000000000000005026732040081ffffffffffffffff00000a00\
        8aceef5351d16f81";

    /// Redis 7.0.15, rdbcompression yes (the nodes are LZF-compressed): XADD lg i-0 for i
    /// in 1..=230, fields `other <i % 30 x's> n <i>` when 7 divides i, else `f v<i> n
    /// <i * 1000>`; XDEL 1-0 2-0 50-0 101-0 102-0 230-0 (two nodes' master entries, the
    /// last entry); XGROUP CREATE lg cg 100-0 ENTRIESREAD 97.
    const LG: &str =
        "13031000000000000000010000000000000000c34589480d120d0800008802610103010201816602816e0200\
        200b000020010782763103c3e80205200e0001600e033203c7d0200e00022001401d033303cbb8600e402e05\
        82763403cfa0600e0004601d053503f1881303402d0005600f043603f17017200f0200010620030a0201856f\
        746865720687788000000820780207010820180007201e0682763803f1401f202e00022013400f043903f128\
        23600f0009200f078376313004f110276010000a8010043104f1f82a6010000b8010043204f1e02e6010000c\
        8010043304f1c83220100200010d2003e00082008e8081c000000f2089000e20750202010e20252069043504\
        f1983a20360202010f8010043604f1803e601000108010043704f16842601000118010043804f15046601000\
        128010043904f1384a601000136010003220be01204e2010020001142003e0008b0095c085e0040000162092\
        001560920015202c203d20da01f055203d02020116801020da01d859601000178010043404f1c05d60100018\
        801020c501a86160100019801020c50190656010001a801020c501786920100200011b2003e00092009ce004\
        8ae00600001d2099001c6099001c2033209920e801487120440202011d6010003320e80130756010001e8010\
        21a70118796010001f801020cc01007d601000208010063304f2e8800004404400218011043404f2d0844011\
        020001222003e0009b0085608e00062084002360840023201c2073043604f2a08c402e020201248011043704\
        f28890801100258011043804f27094801100268011043904f2589880110027601105343004f2409c80110028\
        8011043104f228a04011020001292003e00088008c6088a000000d208f002a608f002a2023204720d001f8a7\
        40350202012b801120d001e0ab8011002c8011043504f2c8af8011002d801120c501b0b38011002e801120c5\
        0198b78011002f801120c50180bb4011020001302003e0008f0093a08ae00300001420960031209602030131\
        202a0283763520de0150c3403c02020132801120de0138c7801100338011043204f220cb80110034801120cc\
        0108cf80110035801120cc01f0d280110036801120cc01d8d64011020001372003e00096009ae0038fe00500\
        001b209d0038209d020201382031209d20ec01a8de404302020139801120ec0190e28011003a801121b20178\
        e68011003b6011003620d30160ea8011003c801120d30148ee8011003d801120d30130f240110200013e2003\
        e0009d0083209100042086003f6086003f201a205020dc0100fa402c02020140801120dc01e8fd8011004180\
        1121a902d0010162b00042801120bc01b80580110043801120bc01a00980110044801120bc01880d40110200\
        01452003e00086008a2086a000000b208d0046608d004620210283763720cc015815403302020147801120cc\
        01401980110048801121a001281d80110049801120c30110218011004a801120c301f8248011004b801120c3\
        01e02840110200014c2003e0008d0091a08ae0010000122094004d6094004d2028209420da01b030403a0202\
        014e801120da0198348011004f60110038219701803880110050801120ca01683c80110051801120ca015040\
        80110052801120ca0138444011020001532003e000940098e0018de005000019209b0054609b0054202f2077\
        20e801084c404102020155801120e801f04f80110056801121ac01d85380110057801120d101c05780110058\
        801120d101a85b801100596011003920d101905f40110200015a2003e0009b0181784744005b6084005b2018\
        202a20d8016067402a0202015c801120d801486b8011005d801121a301306f8011005e801120ba0118738011\
        005f801120ba01007780110060801120ba01e87a4011020001612003e000840088c116000921100062608b00\
        62201f208b20c801b882403102020163201100842749043005f2a08620120101ff1000000000000000650000\
        000000000000c3458548aa08aa080000880262010220010a816602816e02000103010020010b847631303105\
        f2888a01040520120001a012043205f2708e401240318025043305f258928012403a4038043405f240964012\
        0200010420030a0201856f74686572068f78e0050000102070026901082020402a4039043605f2109e403902\
        02010620394012043705f2f8a180120007a012043805f2e0a580120008a012043905f2c8a980120009801205\
        313005f2b0ad8012000aa01220d10198b140120200010b2003e000980096e00597c0000017209f0070206202\
        02010c202d208c003120ec0168b940400202010da01220ec0150bd8012000ea012043505f238c18012000fa0\
        1220d80120c580120010a01220d80108c980120011a01220d801f0cc4012020001122003e0009f009dc091e0\
        0c00001e20a6007760a60013203420a6003220fa01c0d4404702020114a01220fa01a8d880120015a01221cc\
        0190dc80120016a01220df0178e080120017a01220df0160e480120018a01220df0148e84012020001192003\
        e000a60086809e0007208f007e608f001a201d408f20ea0118f040300202011ba01220ea0100f48012001ca0\
        1221c301e8f78012001d8012003320c801d0fb8012001ea01220c801b8ff8012001fa01220c802a0030222a8\
        020001202003e0008f008d808fa000000e209602c0850241ce002120252097003320db01700b403802020122\
        a01220db01580f80120023a01221bb01401380120024a01220d001281780120025a01220d001101b80120026\
        a01220d001f81e4012020001272003e000970094a091e004000015409e008c609e0028202c209e003420ea01\
        c826403f02020129a01220ea01b02a8012002aa01221b301982e8012002ba01220d70180328012002ca01220\
        d70168368012002da01220d701503a40120200012e2003e0009e009be00497e00500001c40a5009360a5002f\
        203340a520f8012042404602020130a01220f8010846801200318012003521c901f04980120032a01220de01\
        d84d80120033a01220de01c05180120034a01220de01a8554012020001352003e000a5008440980005408e00\
        9a608e0036201c208e003520e801785d402f02020137a01220e801606180120038a01221c001486580120039\
        a01220c70130698012003aa01220c701186d8012003b8012003620c701007140120200013c2003e0008e008b\
        408ea000000c409500a16095003d20232095003620d801d07840360202013ea01220d801b87c8012003fa012\
        21b701a08080120040a01220ce01888480120041a01220ce01708880120042a01220ce01588c401202000143\
        2003e000950092a091e002000013409c00a8609c0044202a409c20e6012894403d020201458012003720e601\
        109880120046a01221ae01f89b80120047a01220d501e09f80120048a01220d501c8a380120049a01220d501\
        b0a740120200014a2003e0009c0099e00295e00500001a40a300af60a3004b203120a3003720f40180af4044\
        0202014ca01220f40168b38012004da01221c30150b78012004ea01220dc0138bb8012004f8012003820dc01\
        20bf80120050a01220dc0108c34012020001512003e000a30382787803408c00b6608c0052201a208c003820\
        e401d8ca402d02020153a01220e401c0ce80120054a01221ba01a8d280120055a01220c50190d680120056a0\
        1220c50178da80120057a01220c50160de4012020001582003e0008c0089e10025000a409300bd6093005920\
        212093003920d40130e640340202015aa01220d40118ea8012005ba01221b10100ee8012005ca01220cc01e8\
        f18012005da01220cc01d0f58012005ea01220cc01b8f940120200015f2003e000930090e00093a000001140\
        9a00c4609a00602028409a20e202880103259f02020161a01220e201700580120062a01221a8015809801200\
        63601201323020d301400d20120101ff1000000000000000c90000000000000000c341bb42931293020000c6\
        001d0101010201816602816e02002009000020010b847632303105f2281103040520120001a012043205f210\
        15401280270a0201856f74686572069778e00d000018205203c0cb02082029000320334055043405f2e01c40\
        4202020104a012043505f2c820801240594025043605f2b02480120006a025043705f2982880120007a01204\
        3805f2802c80120008a012043905f268304012020001092003e000a1018001408a00d2608a000a2018206400\
        3120e0013838402b0202010ba01220e001203c8012000ca012043305f208408012000da01220c301f0438012\
        000ea01220c301d8478012000fa01220c301c04b4012020001102003e0008a0087a12b0008409100d9609100\
        11201f409120d0019053403202020112a01220d001785780120013801205323005f2605b80120014a01220ca\
        01485f80120015a01220ca01306380120016a01220ca0118674012020001172003e00091008ea091a000000f\
        409800e06098001820262098003220de01e86e403902020119a01220de01d0728012001aa01221a201b87680\
        12001ba01220d101a07a8012001ca01220d101887e40120203011d8012003320d101708220120101ff40e040\
        e600030040e60040e601026367406400406100000a00213857eb2abe1c11";

    /// Guards: a Redis 7.0 stream DUMP (type 19) with a group, its PEL and two consumers
    /// decodes to exactly what Redis holds (XINFO STREAM sa FULL), and Strata writes the
    /// very same bytes back (Redis wrote it uncompressed and nothing was deleted).
    #[test]
    fn decodes_a_redis_7_stream_with_groups() {
        let payload = unhex(SA);
        let s = the_stream(decode(&payload).unwrap());
        let entries: Vec<_> = s.iter().map(|(i, f)| (i, f.clone())).collect();
        assert_eq!(
            entries,
            vec![
                (id(1, 1), fields(&["name", "Alice", "age", "30"])),
                (id(2, 0), fields(&["name", "Bob", "age", "25"])),
                (id(3, 5), fields(&["color", "red"])),
                (id(4, 0), fields(&["name", "Carol", "age", "-4100"])),
            ]
        );
        assert_eq!(s.last_id, id(4, 0));
        assert_eq!(s.max_deleted_id, id(0, 0));
        assert_eq!(s.entries_added, 4);
        assert_eq!(s.groups().len(), 2);
        let g1 = s.group(b"g1").unwrap();
        assert_eq!((g1.last_id, g1.entries_read), (id(3, 5), 3));
        let pel: Vec<_> = g1
            .pel
            .iter()
            .map(|(i, n)| (*i, n.consumer.as_slice(), n.delivery_time, n.delivery_count))
            .collect();
        assert_eq!(
            pel,
            vec![
                (id(1, 1), &b"bob"[..], 1796677504539, 2),
                (id(2, 0), &b"alice"[..], 1796677504538, 1),
                (id(3, 5), &b"bob"[..], 1796677504538, 1),
            ]
        );
        let consumers: Vec<_> = g1
            .consumers
            .iter()
            .map(|(n, c)| (n.as_slice(), c.seen_time, c.pel.iter().copied().collect()))
            .collect();
        assert_eq!(
            consumers,
            vec![
                (&b"alice"[..], 1796677504538, vec![id(2, 0)]),
                (&b"bob"[..], 1796677504539, vec![id(1, 1), id(3, 5)]),
            ]
        );
        let g2 = s.group(b"g2").unwrap();
        assert_eq!(
            (g2.last_id, g2.entries_read),
            (id(4, 0), ENTRIES_READ_UNKNOWN)
        );
        assert!(g2.pel.is_empty() && g2.consumers.is_empty());
        // Byte for byte what Redis wrote, version 10 included.
        assert_eq!(encode(&Value::Stream(Box::new(s))), payload);
    }

    /// Guards: a Redis 7.0 stream of three nodes (100 entries each at most), with
    /// entries flagged deleted (node masters among them) and LZF-compressed listpacks,
    /// decodes to the live entries and Redis's counters.
    #[test]
    fn decodes_a_redis_7_stream_across_nodes_with_deletions() {
        let s = the_stream(decode(&unhex(LG)).unwrap());
        let gone = [1, 2, 50, 101, 102, 230];
        let want: Vec<_> = (1..=230u64)
            .filter(|i| !gone.contains(i))
            .map(|i| {
                let f = if i % 7 == 0 {
                    vec![
                        b"other".to_vec(),
                        vec![b'x'; (i % 30) as usize],
                        b"n".to_vec(),
                        i.to_string().into_bytes(),
                    ]
                } else {
                    vec![
                        b"f".to_vec(),
                        format!("v{i}").into_bytes(),
                        b"n".to_vec(),
                        (i * 1000).to_string().into_bytes(),
                    ]
                };
                (id(i, 0), f)
            })
            .collect();
        let got: Vec<_> = s.iter().map(|(i, f)| (i, f.clone())).collect();
        assert_eq!(got, want);
        assert_eq!(s.last_id, id(230, 0));
        assert_eq!(s.max_deleted_id, id(230, 0));
        assert_eq!(s.entries_added, 230);
        assert_eq!(s.first_id(), id(3, 0));
        let g = s.group(b"cg").unwrap();
        assert_eq!((g.last_id, g.entries_read), (id(100, 0), 97));
        assert!(g.pel.is_empty() && g.consumers.is_empty());
        // Strata's encoding (no deleted entries kept, nothing compressed) reads back the
        // same.
        let again = encode(&Value::Stream(Box::new(s.clone())));
        assert_eq!(&again[again.len() - 10..again.len() - 8], &[10, 0]);
        assert_eq!(the_stream(decode(&again).unwrap()), s);
    }

    /// A stream with several nodes (by entry count and by bytes), field sets that change,
    /// integer-looking values, a seq delta that wraps, groups, PELs and consumers.
    fn sample_stream() -> Stream {
        let mut s = Stream::new();
        let (mut ms, mut seq) = (5, 0);
        for i in 0..260u64 {
            // Now and then a high seq, then a higher ms with seq 0: a delta that wraps.
            match i % 40 {
                1 => (ms, seq) = (ms + 1, 1000),
                2 => (ms, seq) = (ms + 1, 0),
                _ => seq += 1,
            }
            let f = match i % 4 {
                0 => fields(&["a", "1", "b", "-7"]),
                1 => vec![b"a".to_vec(), vec![b'z'; (i * 13 % 700) as usize]],
                2 => fields(&["a", "012", "b", "x", "c", "18446744073709551615"]),
                _ => vec![b"big".to_vec(), vec![b'q'; 5000 * (i % 27 == 0) as usize]],
            };
            s.append(id(ms, seq), &f);
        }
        assert!(s.delete(id(7, 1)));
        s.max_deleted_id = id(9, 3);
        s.entries_added += 17;
        let mut g = Group::new(id(7, 7001), 40);
        g.assign(id(6, 6001), b"c1", 1000, 3);
        g.assign(id(7, 7004), b"c1", 2000, 1);
        g.assign(id(8, 8002), b"42", 3000, 9);
        g.consumer(b"idle", 4000);
        s.add_group(b"grp", g);
        s.add_group(b"-1", Group::new(id(0, 0), ENTRIES_READ_UNKNOWN));
        s
    }

    /// Guards: encode then decode gives back the same stream, and the node cuts follow
    /// Redis's limits (100 entries, 4096 bytes).
    #[test]
    fn streams_round_trip() {
        let s = sample_stream();
        let p = encode(&Value::Stream(Box::new(s.clone())));
        assert_eq!(p[0], T_STREAM_LISTPACKS_2);
        assert_eq!(&p[p.len() - 10..p.len() - 8], &[10, 0]);
        assert_eq!(the_stream(decode(&p).unwrap()), s);
        let nodes = stream_nodes(&s);
        assert!(nodes.len() > 3);
        for (_, lp) in &nodes {
            let items = listpack(lp).unwrap();
            assert!(canonical_int(&items[0]).unwrap() <= 100);
        }
        // An empty stream (every entry deleted) keeps its counters and groups.
        let mut e = Stream::new();
        e.append(id(1, 0), &fields(&["f", "v"]));
        e.delete(id(1, 0));
        e.add_group(b"g", Group::new(id(1, 0), 1));
        let p = encode(&Value::Stream(Box::new(e.clone())));
        assert_eq!(the_stream(decode(&p).unwrap()), e);
    }

    /// Guards: Redis 5/6's type 15 (no first ID, greatest deleted ID, entries added or
    /// entries read) loads with those derived as Redis 7.0's loader derives them.
    #[test]
    fn decodes_redis_6_streams() {
        let s = sample_stream();
        let mut body = vec![T_STREAM_LISTPACKS];
        put_stream(&mut body, &s, false);
        let got = the_stream(decode(&seal(body)).unwrap());
        assert_eq!(got.iter().count(), s.len());
        assert!(got.iter().zip(s.iter()).all(|(a, b)| a == b));
        assert_eq!(got.entries_added, s.len() as u64);
        assert_eq!(got.max_deleted_id, id(0, 0));
        assert_eq!(got.last_id, s.last_id);
        // Entries read as streamEstimateDistanceFromFirstEverEntry gives it.
        let g = got.group(b"grp").unwrap();
        assert_eq!(g.entries_read, got.entries_read_at(id(7, 7001)));
        assert_eq!(g.pel, s.group(b"grp").unwrap().pel);
        assert_eq!(got.group(b"-1").unwrap().entries_read, 0);
    }

    /// Guards: a payload cut anywhere is an error, never a panic.
    #[test]
    fn truncated_streams_are_refused() {
        for p in [
            unhex(SA),
            unhex(LG),
            encode(&Value::Stream(Box::new(sample_stream()))),
        ] {
            let body = &p[..p.len() - 10];
            for cut in 0..body.len() {
                assert!(decode(&seal(body[..cut].to_vec())).is_err(), "cut at {cut}");
                assert_eq!(decode(&p[..cut]), Err(DumpError::VersionOrChecksum));
            }
        }
    }

    /// Guards: inconsistent streams are refused with the reason.
    #[test]
    fn corrupt_streams_are_refused() {
        let body = unhex(SA)[..unhex(SA).len() - 10].to_vec();
        let at = |pat: &[u8]| body.windows(pat.len()).position(|w| w == pat).unwrap();
        // The node key (byte 2), the listpack (21: its count at 27, that item's
        // back-length at 28), then length at 122, last ID, first ID, max deleted ID,
        // entries added, groups.
        assert_eq!(body[122..131], [4, 4, 0, 1, 1, 0, 0, 4, 2]);
        let alice_pel = at(b"alice") + 5 + 8 + 1;
        let bob_pel = at(b"\x03bob") + 4 + 8 + 1;
        let cases: &[(usize, &[u8], &str)] = &[
            (2, &[15], "stream node key is not a 16-byte ID"),
            (27, &[3], "stream node counts do not match its entries"),
            (28, &[2], "corrupt listpack"),
            (122, &[5], "stream length does not match its entries"),
            (123, &[3], "stream entry ID past the stream's last ID"),
            (125, &[2, 0], "stream first ID past its first entry"),
            (127, &[5], "stream greatest deleted ID past its last ID"),
            (129, &[3], "stream entries added fewer than its length"),
            (at(b"\x02g2") + 2, b"1", "stream has a consumer group twice"),
            (
                alice_pel + 7,
                &[5],
                "stream consumer PEL ID not in its group PEL",
            ),
            (
                bob_pel + 7,
                &[2, 0, 0, 0, 0, 0, 0, 0, 0],
                "stream PEL ID pending twice",
            ),
        ];
        for (pos, bytes, reason) in cases {
            let mut b = body.clone();
            b[*pos..pos + bytes.len()].copy_from_slice(bytes);
            assert_eq!(decode(&seal(b)), Err(BadFormat(reason)), "{reason}");
        }
        // Two consumers named alice.
        let mut b = body.clone();
        let bob = at(b"\x03bob");
        b.splice(bob..bob + 4, b"\x05alice".iter().copied());
        assert_eq!(
            decode(&seal(b)),
            Err(BadFormat("stream group has a consumer twice"))
        );
        // bob's last PEL ID claims nothing: 3-5 is then pending for no consumer.
        let mut b = body.clone();
        b[bob_pel - 1] = 1;
        b.drain(bob_pel + 16..bob_pel + 32);
        assert_eq!(
            decode(&seal(b)),
            Err(BadFormat("stream group PEL ID without a consumer"))
        );
        // Hand-made nodes: master ID 5-0, fields [f]; entries as (flags, ms delta, seq
        // delta, items taken), each with the value "v".
        let node = |count: i64, deleted: i64, entries: &[(i64, i64, i64, i64)]| {
            let mut head = LpBuilder::default();
            for i in [count, deleted, 1] {
                head.int(i);
            }
            head.string(b"f");
            head.int(0);
            let mut lp = LpBuilder::default();
            for &(flags, ms, seq, n) in entries {
                for i in [flags, ms, seq] {
                    lp.int(i);
                }
                lp.string(b"v");
                lp.int(n);
            }
            lp.finish(&head)
        };
        let payload = |nodes: &[(StreamId, Vec<u8>)], len: u64| {
            let mut b = vec![T_STREAM_LISTPACKS_2];
            put_len(&mut b, nodes.len() as u64);
            for (master, lp) in nodes {
                put_string(&mut b, &raw_id(*master));
                put_string(&mut b, lp);
            }
            b.extend_from_slice(&[len as u8, 9, 0, 0, 0, 0, 0, len as u8, 0]);
            seal(b)
        };
        let sf = ITEM_SAMEFIELDS;
        let good = node(
            2,
            1,
            &[(sf, 0, 0, 4), (sf | ITEM_DELETED, 0, 1, 4), (sf, 1, 0, 4)],
        );
        let s = the_stream(decode(&payload(&[(id(5, 0), good.clone())], 2)).unwrap());
        assert_eq!(
            s.iter().map(|e| e.0).collect::<Vec<_>>(),
            [id(5, 0), id(6, 0)]
        );
        type Nodes<'a> = &'a [(StreamId, Vec<u8>)];
        let cases: &[(Nodes, &str)] = &[
            (
                &[(id(5, 0), node(2, 0, &[(sf, 0, 0, 4), (sf, 0, 0, 4)]))],
                "stream IDs do not increase",
            ),
            (
                &[(id(5, 3), node(1, 0, &[(sf, 0, -1, 4)]))],
                "stream IDs do not increase",
            ),
            (
                &[(id(5, 0), good.clone()), (id(6, 0), good.clone())],
                "stream IDs do not increase",
            ),
            (
                &[(id(5, 0), node(1, 0, &[(sf, 0, 0, 5)]))],
                "corrupt stream node",
            ),
            (
                &[(id(5, 0), node(1, 0, &[(8, 0, 0, 4)]))],
                "corrupt stream node",
            ),
            (
                &[(id(5, 0), node(1, 1, &[(sf, 0, 0, 4), (sf, 0, 1, 4)]))],
                "stream node counts do not match its entries",
            ),
            (
                &[(id(5, 0), node(1, 0, &[]))],
                "stream node counts do not match its entries",
            ),
            (
                &[(id(5, 0), LpBuilder::default().finish(&LpBuilder::default()))],
                "empty stream node",
            ),
        ];
        for (nodes, reason) in cases {
            assert_eq!(
                decode(&payload(nodes, 1)),
                Err(BadFormat(reason)),
                "{reason}"
            );
        }
    }

    #[test]
    fn lzf_overlapping_copy() {
        // "a", then copy 9 bytes from 1 back: ten 'a's.
        let input = [0x00, b'a', (7 << 5), 0, 0];
        // n = 7 + 0 + 2 = 9
        assert_eq!(lzf_decompress(&input, 10).unwrap(), b"aaaaaaaaaa");
        assert_eq!(
            lzf_decompress(&input, 11),
            Err(BadFormat("corrupt LZF-compressed string"))
        );
        // A back-reference before the start of the output.
        assert_eq!(
            lzf_decompress(&[0x20, 0x05], 3),
            Err(BadFormat("corrupt LZF-compressed string"))
        );
    }
}
