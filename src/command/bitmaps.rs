//! Bit operations on strings: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD and
//! BITFIELD_RO, as Redis 7.0 defines them.
//!
//! Bit 0 is the most significant bit of byte 0. A missing key reads as an endless run of
//! zero bytes; a write past the end grows the string with zero bytes (up to
//! `proto-max-bulk-len`). Every write is deterministic given the keyspace, so each is
//! logged as received.

use super::notify::class;
use super::{Ctx, NOT_INTEGER, SYNTAX, WRONGTYPE};
use crate::keyspace::Value;

const BAD_OFFSET: &str = "ERR bit offset is not an integer or out of range";
const BAD_TYPE: &str =
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";

/// A bit offset argument; `#n` (BITFIELD only: `hash_bits` > 0) means `n * hash_bits`.
/// Limited to `proto-max-bulk-len` bytes. None after replying with the error.
fn bit_offset(ctx: &mut Ctx, i: usize, hash_bits: u32) -> Option<u64> {
    let arg = &ctx.args[i];
    let (digits, mul) = match arg.first() {
        Some(b'#') if hash_bits > 0 => (&arg[1..], hash_bits as i64),
        _ => (&arg[..], 1),
    };
    let off = crate::util::parse_i64_strict(digits)
        .and_then(|n| n.checked_mul(mul))
        .filter(|&n| n >= 0 && (n as u64 >> 3) < ctx.st.config.proto_max_bulk_len);
    if off.is_none() {
        ctx.error(BAD_OFFSET);
    }
    off.map(|n| n as u64)
}

/// Look `key` up for a read: Ok(Some(length)) for a string, Ok(None) if missing, Err
/// after replying WRONGTYPE. Counts a keyspace hit or miss and reclaims an expired key,
/// so that [`peek`] can then read the bytes in place.
fn probe_string(ctx: &mut Ctx, key: &[u8]) -> Result<Option<usize>, ()> {
    let len = match ctx.lookup_read(key) {
        None => return Ok(None),
        Some(e) => e.value.as_string().map(|s| s.len()),
    };
    if len.is_none() {
        ctx.error(WRONGTYPE);
        return Err(());
    }
    Ok(len)
}

/// Run `f` on the bytes of the string at `key` (empty if missing), without copying a
/// stored string: a bitmap can be hundreds of megabytes.
fn peek<R>(ctx: &Ctx, key: &[u8], f: impl FnOnce(&[u8]) -> R) -> R {
    let e = ctx.st.ks.db(ctx.sess.db).peek(key);
    let s = e.and_then(|e| e.value.as_string()).unwrap_or_default();
    f(&s)
}

/// Run `f` on the bytes of the string at `key`, created if missing and zero-padded to
/// at least `min_len` bytes (the caller has checked the type). Returns `f`'s result and
/// whether the key was created or grown; publishes `new` for a key created.
fn edit_string<R>(
    ctx: &mut Ctx,
    key: &[u8],
    min_len: usize,
    f: impl FnOnce(&mut Vec<u8>) -> R,
) -> (R, bool) {
    let table = ctx.st.ks.db_mut(ctx.sess.db);
    let mut grown = table.peek(key).is_none();
    if grown {
        table.upsert(key, Value::Str(Vec::new()), Some(0));
        ctx.notify(class::NEW, "new", key);
    }
    let table = ctx.st.ks.db_mut(ctx.sess.db);
    let r = table
        .update(key, |v| {
            let mut bytes = super::strings::take_bytes(v);
            if bytes.len() < min_len {
                bytes.resize(min_len, 0);
                grown = true;
            }
            let r = f(&mut bytes);
            *v = Value::Str(bytes);
            r
        })
        .expect("the key exists: it was just created if missing");
    (r, grown)
}

fn get_bit(s: &[u8], bit: u64) -> u8 {
    s.get((bit >> 3) as usize)
        .map_or(0, |b| (b >> (7 - (bit & 7))) & 1)
}

pub fn setbit(ctx: &mut Ctx) {
    let Some(off) = bit_offset(ctx, 2, 0) else {
        return;
    };
    let on = match crate::util::parse_i64_strict(&ctx.args[3]) {
        Some(v @ (0 | 1)) => v as u8,
        _ => return ctx.error("ERR bit is not an integer or out of range"),
    };
    let key = ctx.args[1].clone();
    if let Some(e) = ctx.lookup(&key) {
        if e.value.as_string().is_none() {
            return ctx.error(WRONGTYPE);
        }
    }
    let byte = (off >> 3) as usize;
    let shift = 7 - (off & 7);
    let (old, grown) = edit_string(ctx, &key, byte + 1, |s| {
        let old = (s[byte] >> shift) & 1;
        s[byte] = (s[byte] & !(1 << shift)) | (on << shift);
        old
    });
    if grown || old != on {
        ctx.modified(&key);
        ctx.notify(class::STRING, "setbit", &key);
        ctx.propagate_self();
    }
    ctx.out.int(old as i64);
}

pub fn getbit(ctx: &mut Ctx) {
    let Some(off) = bit_offset(ctx, 2, 0) else {
        return;
    };
    let key = ctx.args[1].clone();
    if probe_string(ctx, &key).is_err() {
        return;
    }
    let bit = peek(ctx, &key, |s| get_bit(s, off));
    ctx.out.int(bit as i64);
}

/// The inclusive bit range `start end [BYTE|BIT]` (arguments from `i`) selects in a
/// string of `len` bytes, clamped as Redis does; None when it is empty.
fn bit_range(start: i64, end: i64, len: u64, bits: bool) -> Option<(u64, u64)> {
    let total = if bits { len as i64 * 8 } else { len as i64 };
    let norm = |x: i64| if x < 0 { (total + x).max(0) } else { x };
    let (s, e) = (norm(start), norm(end).min(total - 1));
    if s > e {
        return None;
    }
    Some(if bits {
        (s as u64, e as u64)
    } else {
        (s as u64 * 8, e as u64 * 8 + 7)
    })
}

/// BYTE or BIT at argument `i`, if present. None after replying with a syntax error.
fn unit_arg(ctx: &mut Ctx, i: usize) -> Option<bool> {
    match ctx.args.get(i).map(|a| a.to_ascii_uppercase()) {
        None => Some(false),
        Some(a) if a == b"BYTE" => Some(false),
        Some(a) if a == b"BIT" => Some(true),
        Some(_) => {
            ctx.error(SYNTAX);
            None
        }
    }
}

pub fn bitcount(ctx: &mut Ctx) {
    let key = ctx.args[1].clone();
    // As Redis 7.0: the key (missing: 0, wrong type: error) before the arguments.
    let Ok(len) = probe_string(ctx, &key) else {
        return;
    };
    let Some(len) = len else {
        return ctx.out.int(0);
    };
    let range = match ctx.args.len() {
        2 => bit_range(0, -1, len as u64, false),
        4 | 5 => {
            let (Some(start), Some(end)) = (ctx.int_arg(2), ctx.int_arg(3)) else {
                return;
            };
            // Redis answers 0 here before it looks at BYTE|BIT (or clamps the range).
            if start < 0 && end < 0 && start > end {
                return ctx.out.int(0);
            }
            let Some(bits) = unit_arg(ctx, 4) else { return };
            bit_range(start, end, len as u64, bits)
        }
        _ => return ctx.error(SYNTAX),
    };
    let count = range.map_or(0, |(a, b)| peek(ctx, &key, |s| count_ones(s, a, b)));
    ctx.out.int(count as i64);
}

/// Set bits in the inclusive bit range `a..=b` of `s`.
fn count_ones(s: &[u8], a: u64, b: u64) -> u64 {
    let (first, last) = ((a >> 3) as usize, (b >> 3) as usize);
    let mut n: u64 = s[first..=last].iter().map(|x| x.count_ones() as u64).sum();
    // Take out the bits of the first and last bytes that lie outside the range.
    n -= (s[first] & !(0xffu8 >> (a & 7))).count_ones() as u64;
    n -= (s[last] & (0x7fu8 >> (b & 7))).count_ones() as u64;
    n
}

pub fn bitpos(ctx: &mut Ctx) {
    let bit = match ctx.int_arg(2) {
        None => return,
        Some(b @ (0 | 1)) => b as u8,
        Some(_) => return ctx.error("ERR The bit argument must be 1 or 0."),
    };
    let key = ctx.args[1].clone();
    let Ok(len) = probe_string(ctx, &key) else {
        return;
    };
    // A missing key is an endless run of zeros.
    let Some(len) = len else {
        return ctx.out.int(if bit == 1 { -1 } else { 0 });
    };
    let len = len as u64;
    let (range, end_given) = match ctx.args.len() {
        3 => (bit_range(0, -1, len, false), false),
        4..=6 => {
            let Some(start) = ctx.int_arg(3) else { return };
            let Some(bits) = unit_arg(ctx, 5) else { return };
            let end = if ctx.args.len() >= 5 {
                let Some(end) = ctx.int_arg(4) else { return };
                end
            } else {
                -1
            };
            (bit_range(start, end, len, bits), ctx.args.len() >= 5)
        }
        _ => return ctx.error(SYNTAX),
    };
    let Some((a, b)) = range else {
        return ctx.out.int(-1);
    };
    match peek(ctx, &key, |s| find_bit(s, a, b, bit)) {
        Some(p) => ctx.out.int(p as i64),
        // Looking for a 0 without an explicit end: the string continues with zeros.
        None if bit == 0 && !end_given => ctx.out.int(b as i64 + 1),
        None => ctx.out.int(-1),
    }
}

/// The first bit equal to `bit` in the inclusive bit range `a..=b` of `s`, skipping whole
/// bytes that cannot hold it.
fn find_bit(s: &[u8], a: u64, b: u64, bit: u8) -> Option<u64> {
    let skip = if bit == 1 { 0x00 } else { 0xff };
    let mut i = a;
    while i <= b {
        if i & 7 == 0 && i + 7 <= b && s.get((i >> 3) as usize) == Some(&skip) {
            i += 8;
            continue;
        }
        if get_bit(s, i) == bit {
            return Some(i);
        }
        i += 1;
    }
    None
}

pub fn bitop(ctx: &mut Ctx) {
    let op = ctx.args[1].to_ascii_uppercase();
    if !matches!(op.as_slice(), b"AND" | b"OR" | b"XOR" | b"NOT") {
        return ctx.error(SYNTAX);
    }
    if op == b"NOT" && ctx.args.len() != 4 {
        return ctx.error("ERR BITOP NOT must be called with a single source key.");
    }
    for i in 3..ctx.args.len() {
        let key = ctx.args[i].clone();
        if probe_string(ctx, &key).is_err() {
            return;
        }
    }
    let table = ctx.st.ks.db(ctx.sess.db);
    let srcs: Vec<_> = ctx.args[3..]
        .iter()
        .map(|k| {
            let e = table.peek(k);
            e.and_then(|e| e.value.as_string()).unwrap_or_default()
        })
        .collect();
    let maxlen = srcs.iter().map(|s| s.len()).max().unwrap_or(0);
    let byte = |s: &[u8], j: usize| s.get(j).copied().unwrap_or(0);
    let res: Vec<u8> = (0..maxlen)
        .map(|j| {
            let first = byte(&srcs[0], j);
            match op.as_slice() {
                b"NOT" => !first,
                b"AND" => srcs[1..].iter().fold(first, |acc, s| acc & byte(s, j)),
                b"OR" => srcs[1..].iter().fold(first, |acc, s| acc | byte(s, j)),
                _ => srcs[1..].iter().fold(first, |acc, s| acc ^ byte(s, j)),
            }
        })
        .collect();
    let dst = ctx.args[2].clone();
    let db = ctx.sess.db;
    // The result replaces the destination (and its TTL); an empty one deletes it.
    ctx.expire_if_needed(&dst);
    let changed = if maxlen > 0 {
        if !ctx.st.ks.db_mut(db).upsert(&dst, Value::Str(res), Some(0)) {
            ctx.notify(class::NEW, "new", &dst);
        }
        ctx.notify(class::STRING, "set", &dst);
        true
    } else {
        let deleted = ctx.st.ks.db_mut(db).delete(&dst);
        if deleted {
            ctx.notify(class::GENERIC, "del", &dst);
        }
        deleted
    };
    if changed {
        ctx.modified(&dst);
        ctx.propagate_self();
    }
    ctx.out.int(maxlen as i64);
}

#[derive(Clone, Copy, PartialEq)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

#[derive(Clone, Copy)]
enum FieldOp {
    Get,
    Set(i64),
    IncrBy(i64),
}

struct Field {
    op: FieldOp,
    signed: bool,
    bits: u32,
    offset: u64,
    overflow: Overflow,
}

/// `i1`..`i64` or `u1`..`u63`.
fn field_type(a: &[u8]) -> Option<(bool, u32)> {
    let signed = match a.first()? {
        b'i' | b'I' => true,
        b'u' | b'U' => false,
        _ => return None,
    };
    let bits = crate::util::parse_i64_strict(&a[1..])?;
    let max = if signed { 64 } else { 63 };
    (1..=max).contains(&bits).then_some((signed, bits as u32))
}

fn read_field(s: &[u8], offset: u64, bits: u32) -> u64 {
    (0..bits as u64).fold(0u64, |v, i| (v << 1) | get_bit(s, offset + i) as u64)
}

fn write_field(s: &mut [u8], offset: u64, bits: u32, v: u64) {
    for i in 0..bits as u64 {
        let bit = ((v >> (bits as u64 - 1 - i)) & 1) as u8;
        let pos = offset + i;
        let (byte, shift) = ((pos >> 3) as usize, 7 - (pos & 7));
        s[byte] = (s[byte] & !(1 << shift)) | (bit << shift);
    }
}

/// The value a field of this type holds, from its raw bits.
fn field_value(raw: u64, signed: bool, bits: u32) -> i128 {
    if signed && bits < 64 && raw >> (bits - 1) & 1 == 1 {
        raw as i128 - (1i128 << bits)
    } else if signed && bits == 64 {
        raw as i64 as i128
    } else {
        raw as i128
    }
}

/// `value + incr` for a signed field of `bits` under `ow`: Some(new value) or None
/// (overflow under FAIL). Redis's checkSignedBitfieldOverflow step for step, including
/// its wrapping `max - value`, which makes `SET i8 .. -9223372036854775808` saturate
/// upwards under SAT: replies must match Redis's.
fn signed_step(value: i64, incr: i64, bits: u32, ow: Overflow) -> Option<i64> {
    let max: i64 = if bits == 64 {
        i64::MAX
    } else {
        (1i64 << (bits - 1)) - 1
    };
    let min = -max - 1;
    let maxincr = (max as u64).wrapping_sub(value as u64) as i64;
    let minincr = min.wrapping_sub(value);
    let wrap = || {
        let mut c = (value as u64).wrapping_add(incr as u64);
        if bits < 64 {
            let mask = u64::MAX << bits;
            if c & (1 << (bits - 1)) != 0 {
                c |= mask;
            } else {
                c &= !mask;
            }
        }
        c as i64
    };
    let up =
        value > max || (bits != 64 && incr > maxincr) || (value >= 0 && incr > 0 && incr > maxincr);
    let down = !up
        && (value < min
            || (bits != 64 && incr < minincr)
            || (value < 0 && incr < 0 && incr < minincr));
    match (up || down, ow) {
        (false, _) => Some(value.wrapping_add(incr)),
        (true, Overflow::Fail) => None,
        (true, Overflow::Wrap) => Some(wrap()),
        (true, Overflow::Sat) => Some(if up { max } else { min }),
    }
}

/// The unsigned counterpart (checkUnsignedBitfieldOverflow); `bits` is at most 63.
fn unsigned_step(value: u64, incr: i64, bits: u32, ow: Overflow) -> Option<u64> {
    let max = (1u64 << bits) - 1;
    let maxincr = max.wrapping_sub(value) as i64;
    let minincr = value.wrapping_neg() as i64;
    let up = value > max || (incr > 0 && incr > maxincr);
    let down = !up && incr < 0 && incr < minincr;
    match (up || down, ow) {
        (false, _) => Some(value.wrapping_add(incr as u64)),
        (true, Overflow::Fail) => None,
        (true, Overflow::Wrap) => Some(value.wrapping_add(incr as u64) & max),
        (true, Overflow::Sat) => Some(if up { max } else { 0 }),
    }
}

pub fn bitfield(ctx: &mut Ctx) {
    bitfield_generic(ctx, false);
}

pub fn bitfield_ro(ctx: &mut Ctx) {
    bitfield_generic(ctx, true);
}

fn bitfield_generic(ctx: &mut Ctx, readonly: bool) {
    // Every operation is parsed (and any error replied) before anything runs.
    let mut fields = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut end_bit: Option<u64> = None;
    let mut j = 2;
    while j < ctx.args.len() {
        let left = ctx.args.len() - j - 1;
        let sub = ctx.args[j].to_ascii_uppercase();
        let op = match sub.as_slice() {
            b"GET" if left >= 2 => FieldOp::Get,
            b"SET" if left >= 3 => FieldOp::Set(0),
            b"INCRBY" if left >= 3 => FieldOp::IncrBy(0),
            b"OVERFLOW" if left >= 1 => {
                overflow = match ctx.args[j + 1].to_ascii_uppercase().as_slice() {
                    b"WRAP" => Overflow::Wrap,
                    b"SAT" => Overflow::Sat,
                    b"FAIL" => Overflow::Fail,
                    _ => return ctx.error("ERR Invalid OVERFLOW type specified"),
                };
                j += 2;
                continue;
            }
            _ => return ctx.error(SYNTAX),
        };
        let Some((signed, bits)) = field_type(&ctx.args[j + 1]) else {
            return ctx.error(BAD_TYPE);
        };
        let Some(offset) = bit_offset(ctx, j + 2, bits) else {
            return;
        };
        let op = match op {
            FieldOp::Get => FieldOp::Get,
            _ => {
                let Some(v) = crate::util::parse_i64_strict(&ctx.args[j + 3]) else {
                    return ctx.error(NOT_INTEGER);
                };
                let last = offset + bits as u64 - 1;
                end_bit = Some(end_bit.map_or(last, |e| e.max(last)));
                if matches!(op, FieldOp::Set(_)) {
                    FieldOp::Set(v)
                } else {
                    FieldOp::IncrBy(v)
                }
            }
        };
        fields.push(Field {
            op,
            signed,
            bits,
            offset,
            overflow,
        });
        j += if matches!(op, FieldOp::Get) { 3 } else { 4 };
    }
    let key = ctx.args[1].clone();
    let Some(end_bit) = end_bit else {
        // Only reads.
        if probe_string(ctx, &key).is_err() {
            return;
        }
        let values: Vec<i128> = peek(ctx, &key, |s| {
            fields
                .iter()
                .map(|f| field_value(read_field(s, f.offset, f.bits), f.signed, f.bits))
                .collect()
        });
        ctx.out.array_len(values.len());
        for v in values {
            ctx.out.int(v as i64);
        }
        return;
    };
    if readonly {
        return ctx.error("ERR BITFIELD_RO only supports the GET subcommand");
    }
    if let Some(e) = ctx.lookup(&key) {
        if e.value.as_string().is_none() {
            return ctx.error(WRONGTYPE);
        }
    }
    let (replies, grown) = edit_string(ctx, &key, (end_bit >> 3) as usize + 1, |s| {
        let (mut changes, mut writes) = (0, 0);
        let replies: Vec<Option<i64>> = fields
            .iter()
            .map(|f| {
                let raw_old = read_field(s, f.offset, f.bits);
                let old = field_value(raw_old, f.signed, f.bits) as i64;
                let (start, incr, reply_new) = match f.op {
                    FieldOp::Get => return Some(old),
                    FieldOp::Set(v) => (v, 0, false),
                    FieldOp::IncrBy(by) => (old, by, true),
                };
                let new = if f.signed {
                    signed_step(start, incr, f.bits, f.overflow)?
                } else {
                    // An unsigned SET reads its argument as the 64-bit pattern Redis does.
                    unsigned_step(start as u64, incr, f.bits, f.overflow)? as i64
                };
                let mask = if f.bits == 64 {
                    u64::MAX
                } else {
                    (1 << f.bits) - 1
                };
                write_field(s, f.offset, f.bits, new as u64 & mask);
                writes += 1;
                if new != old {
                    changes += 1;
                }
                Some(if reply_new { new } else { old })
            })
            .collect();
        (replies, (changes, writes))
    });
    let (replies, (changes, writes)) = replies;
    if grown || changes > 0 {
        ctx.modified(&key);
        // Redis publishes only when a write happened (an overflow refused with FAIL is
        // none), though the key may have been created or grown all the same.
        if changes > 0 || writes > 0 {
            ctx.notify(class::STRING, "setbit", &key);
        }
        ctx.propagate_self();
    }
    ctx.out.array_len(replies.len());
    for r in replies {
        match r {
            Some(v) => ctx.out.int(v),
            None => ctx.out.null(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_read_and_write_most_significant_bit_first() {
        let mut s = vec![0u8; 3];
        write_field(&mut s, 4, 8, 0xab);
        assert_eq!(s, [0x0a, 0xb0, 0]);
        assert_eq!(read_field(&s, 4, 8), 0xab);
        assert_eq!(field_value(read_field(&s, 4, 8), true, 8), -85);
        assert_eq!(read_field(&s, 20, 8), 0, "bits past the end read as zeros");
    }

    #[test]
    fn overflow_wraps_saturates_or_fails() {
        use Overflow::*;
        assert_eq!(unsigned_step(300, 0, 8, Wrap), Some(44));
        assert_eq!(unsigned_step(300, 0, 8, Sat), Some(255));
        assert_eq!(unsigned_step(5, -10, 8, Sat), Some(0));
        assert_eq!(unsigned_step(300, 0, 8, Fail), None);
        assert_eq!(unsigned_step(u64::MAX, 0, 8, Sat), Some(255), "SET u8 -1");
        assert_eq!(signed_step(100, 100, 8, Wrap), Some(-56));
        assert_eq!(signed_step(-100, -100, 8, Sat), Some(-128));
        assert_eq!(signed_step(i64::MAX, 1, 64, Sat), Some(i64::MAX));
        assert_eq!(signed_step(i64::MAX, 1, 64, Wrap), Some(i64::MIN));
        assert_eq!(signed_step(5, 0, 8, Fail), Some(5));
        // Redis's wrapping `max - value` makes this saturate upwards (checked against
        // redis-server 7.0.15: BITFIELD k OVERFLOW SAT SET i8 0 -9223372036854775808
        // stores 127).
        assert_eq!(signed_step(i64::MIN, 0, 8, Sat), Some(127));
    }

    #[test]
    fn counts_only_the_bits_in_range() {
        let s = [0xffu8, 0xff];
        assert_eq!(count_ones(&s, 0, 15), 16);
        assert_eq!(count_ones(&s, 3, 3), 1);
        assert_eq!(count_ones(&s, 5, 10), 6);
        assert_eq!(bit_range(0, -1, 2, false), Some((0, 15)));
        assert_eq!(bit_range(-1, -1, 2, true), Some((15, 15)));
        assert_eq!(bit_range(5, 2, 2, false), None);
        assert_eq!(bit_range(0, 100, 0, false), None);
    }

    #[test]
    fn bitfield_types() {
        assert_eq!(field_type(b"i64"), Some((true, 64)));
        assert_eq!(field_type(b"U63"), Some((false, 63)));
        assert_eq!(field_type(b"u64"), None);
        assert_eq!(field_type(b"i0"), None);
        assert_eq!(field_type(b"x8"), None);
        assert_eq!(field_type(b"i"), None);
    }
}
