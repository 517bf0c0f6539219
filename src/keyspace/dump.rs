//! Redis's DUMP payload: one value in RDB encoding, then the RDB version (2 bytes LE) and
//! a CRC-64 (Jones, as Redis computes it; 8 bytes LE) over everything before it. And
//! [`RdbReader`], the same value encodings read from a whole RDB file (`dump.rdb`), so a
//! Redis dataset can be brought over (`verify-aof import-rdb`).
//!
//! Contract: [`encode`] writes only the plain RDB types every Redis since 2.8 loads
//! (string, list, set, hash, and zset with binary scores) and stamps them RDB version 9,
//! so a Strata DUMP restores into Redis 6.x and 7.x alike. [`decode`] reads what Redis
//! 2.8 to 7.0 (RDB versions up to 10) dump: those plain types, the ziplist, intset and
//! listpack blobs, quicklists of both kinds, and LZF-compressed strings. Streams and
//! module values are refused: Strata has no such types.
//!
//! [`decode`] reads bytes from a client: every length is checked against the bytes that
//! remain before anything is allocated for it, a decompressed string is bounded by
//! [`MAX_STRING`], every blob is parsed in full (Redis's "deep sanitization" always on),
//! duplicates, NaN scores and empty values are refused, and nothing panics.

use std::borrow::Cow;

use super::{Hash, List, Set, Value, ZSet};

/// The RDB version [`encode`] stamps: the newest whose types it uses (Redis 6.x reads up
/// to 9, Redis 7.0 up to 10).
pub const VERSION_WRITTEN: u16 = 9;
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
    match v {
        Value::Stream(_) => unreachable!("DUMP refuses streams before encoding"),
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
    out.extend_from_slice(&VERSION_WRITTEN.to_le_bytes());
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
            return Err(BadFormat("a stream value; Strata has no streams"))
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
        // The back-length: the entry's size so far in 7-bit groups, 1 to 5 bytes.
        let entry = start - r.buf.len();
        let back = match entry {
            0..=127 => 1,
            128..=16383 => 2,
            16384..=2097151 => 3,
            2097152..=268435455 => 4,
            _ => 5,
        };
        r.take(back).map_err(|_| BAD)?;
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
