//! HyperLogLog: PFADD, PFCOUNT, PFMERGE, byte for byte as Redis 7.0 stores them.
//!
//! An HLL is an ordinary string (TYPE says `string`, GET returns its bytes), so its
//! layout is part of the contract: a client may GET it from Redis and SET it here, or the
//! other way round. Layout (Redis's `hyperloglog.c`): a 16-byte header `HYLL`, encoding
//! (0 dense, 1 sparse), 3 unused bytes, the cached cardinality as 8 little-endian bytes
//! whose top bit marks it stale; then 16384 registers, either dense (6 bits each, packed
//! from the low bits of each byte) or sparse (run-length opcodes ZERO `00xxxxxx`, XZERO
//! `01xxxxxx yyyyyyyy`, VAL `1vvvvvxx`). A sparse HLL turns dense when a register needs
//! a value above 32 or the string would pass 3000 bytes (`hll-sparse-max-bytes`, fixed
//! here). Elements are hashed with MurmurHash64A (seed 0xadc83b19), the cardinality
//! estimated with Ertl's improved estimator, exactly as Redis does, so PFCOUNT answers
//! the same numbers.
//!
//! Writes are deterministic functions of the stored bytes and the arguments, so each is
//! logged as received, except a PFADD that meets a damaged HLL after changing it, which is
//! logged as the SET of the resulting string (a failing command cannot be replayed). PFCOUNT of one key stores the cardinality it computed in the
//! header, as Redis does, and is then logged too (except while writes are refused, when
//! it just answers).

use super::notify::class;
use bytes::Bytes;

use super::Ctx;
use crate::keyspace::Value;

const P: u32 = 14;
const Q: u32 = 64 - P;
const REGISTERS: usize = 1 << P;
const HDR: usize = 16;
const DENSE_SIZE: usize = HDR + (REGISTERS * 6).div_ceil(8);
const DENSE: u8 = 0;
const SPARSE: u8 = 1;
const SPARSE_MAX_BYTES: usize = 3000;
const VAL_MAX_VALUE: u8 = 32;
const VAL_MAX_LEN: usize = 4;
const ZERO_MAX_LEN: usize = 64;
const ALPHA_INF: f64 = 0.721_347_520_444_481_7;

const NOT_HLL: &str = "WRONGTYPE Key is not a valid HyperLogLog string value.";
const CORRUPT: &str = "INVALIDOBJ Corrupted HLL object detected";

/// The registers do not add up to 16384: the string was written by hand or damaged.
#[derive(Debug, PartialEq)]
struct Corrupt;

/// MurmurHash64A, as Redis's copy of it (little-endian 8-byte blocks).
fn murmur64a(key: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = seed ^ (key.len() as u64).wrapping_mul(M);
    let mut blocks = key.chunks_exact(8);
    for b in &mut blocks {
        let mut k = u64::from_le_bytes(b.try_into().expect("chunks of 8"));
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate() {
            h ^= (b as u64) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// The register an element falls in and the length of its `000..1` pattern (1..=51).
fn pattern(ele: &[u8]) -> (usize, u8) {
    let hash = murmur64a(ele, 0xadc8_3b19);
    let index = (hash as usize) & (REGISTERS - 1);
    let rest = (hash >> P) | (1u64 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

fn new_sparse() -> Vec<u8> {
    let mut s = b"HYLL".to_vec();
    s.extend_from_slice(&[SPARSE, 0, 0, 0]);
    s.extend_from_slice(&[0; 8]);
    // One XZERO covering every register.
    let l = REGISTERS - 1;
    s.extend_from_slice(&[0x40 | (l >> 8) as u8, (l & 0xff) as u8]);
    s
}

/// Redis's isHLLObjectOrReply: magic, a known encoding, the dense size.
fn is_hll(s: &[u8]) -> bool {
    s.len() >= HDR
        && &s[..4] == b"HYLL"
        && s[4] <= SPARSE
        && (s[4] != DENSE || s.len() == DENSE_SIZE)
}

fn invalidate(s: &mut [u8]) {
    s[15] |= 0x80;
}

fn dense_get(regs: &[u8], i: usize) -> u8 {
    let (byte, fb) = (i * 6 / 8, (i * 6) & 7);
    let b0 = regs[byte] as u16;
    let b1 = regs.get(byte + 1).copied().unwrap_or(0) as u16;
    (((b0 >> fb) | (b1 << (8 - fb))) & 63) as u8
}

/// Raise register `i` to `v`; true if it changed.
fn dense_set(regs: &mut [u8], i: usize, v: u8) -> bool {
    if v <= dense_get(regs, i) {
        return false;
    }
    let (byte, fb) = (i * 6 / 8, (i * 6) & 7);
    let v = v as u16;
    regs[byte] = ((regs[byte] as u16 & !(63 << fb)) | (v << fb)) as u8;
    if let Some(b) = regs.get_mut(byte + 1) {
        let hi = 63u16 >> (8 - fb);
        *b = ((*b as u16 & !hi) | (v >> (8 - fb))) as u8;
    }
    true
}

// Sparse opcodes.
fn is_zero(b: u8) -> bool {
    b & 0xc0 == 0
}
fn is_xzero(b: u8) -> bool {
    b & 0xc0 == 0x40
}
fn is_val(b: u8) -> bool {
    b & 0x80 != 0
}
fn val_value(b: u8) -> u8 {
    ((b >> 2) & 0x1f) + 1
}
fn val_len(b: u8) -> usize {
    (b & 3) as usize + 1
}
fn val_op(value: u8, len: usize) -> u8 {
    0x80 | ((value - 1) << 2) | (len as u8 - 1)
}
/// A run of `len` zero registers, as ZERO or XZERO.
fn zero_run(out: &mut Vec<u8>, len: usize) {
    if len > ZERO_MAX_LEN {
        let l = len - 1;
        out.extend_from_slice(&[0x40 | (l >> 8) as u8, (l & 0xff) as u8]);
    } else {
        out.push(len as u8 - 1);
    }
}

/// The opcode at `p`: (registers covered, bytes), or Corrupt if it is cut short.
fn opcode(s: &[u8], p: usize) -> Result<(usize, usize), Corrupt> {
    let b = s[p];
    if is_zero(b) {
        Ok(((b & 0x3f) as usize + 1, 1))
    } else if is_val(b) {
        Ok((val_len(b), 1))
    } else {
        let lo = *s.get(p + 1).ok_or(Corrupt)?;
        Ok(((((b & 0x3f) as usize) << 8 | lo as usize) + 1, 2))
    }
}

/// Visit the sparse registers as runs (first register, length, value), checking that
/// they cover exactly the 16384 registers.
fn sparse_runs(s: &[u8], mut f: impl FnMut(usize, usize, u8)) -> Result<(), Corrupt> {
    let (mut p, mut idx) = (HDR, 0usize);
    while p < s.len() {
        let (len, oplen) = opcode(s, p)?;
        if idx + len > REGISTERS {
            return Err(Corrupt);
        }
        let value = if is_val(s[p]) { val_value(s[p]) } else { 0 };
        f(idx, len, value);
        idx += len;
        p += oplen;
    }
    if idx == REGISTERS {
        Ok(())
    } else {
        Err(Corrupt)
    }
}

/// Rewrite a sparse HLL as dense, keeping its header (and cached cardinality).
fn to_dense(s: &mut Vec<u8>) -> Result<(), Corrupt> {
    if s[4] == DENSE {
        return Ok(());
    }
    let mut dense = vec![0u8; DENSE_SIZE];
    dense[..HDR].copy_from_slice(&s[..HDR]);
    dense[4] = DENSE;
    let regs = &mut dense[HDR..];
    sparse_runs(s, |first, len, v| {
        if v > 0 {
            for i in first..first + len {
                dense_set(regs, i, v);
            }
        }
    })?;
    *s = dense;
    Ok(())
}

/// Raise register `index` to `count` in a sparse HLL, exactly as Redis's hllSparseSet
/// rewrites the opcodes (so the bytes match); true if it changed.
fn sparse_set(s: &mut Vec<u8>, index: usize, count: u8) -> Result<bool, Corrupt> {
    if count > VAL_MAX_VALUE {
        return promote(s, index, count);
    }
    // Step 1: the opcode covering `index`.
    let (mut p, mut first, mut prev, mut span, mut oplen) = (HDR, 0usize, None, 0, 1);
    while p < s.len() {
        (span, oplen) = opcode(s, p)?;
        if index < first + span {
            break;
        }
        prev = Some(p);
        p += oplen;
        first += span;
    }
    if p >= s.len() {
        return Err(Corrupt);
    }
    let op = s[p];
    // Step 2: the trivial cases, then the general split.
    if is_val(op) {
        if val_value(op) >= count {
            return Ok(false);
        }
        if span == 1 {
            s[p] = val_op(count, 1);
            merge_adjacent(s, prev);
            return Ok(true);
        }
    }
    if is_zero(op) && span == 1 {
        s[p] = val_op(count, 1);
        merge_adjacent(s, prev);
        return Ok(true);
    }
    let last = first + span - 1;
    let mut seq = Vec::with_capacity(5);
    if is_val(op) {
        let cur = val_value(op);
        if index != first {
            seq.push(val_op(cur, index - first));
        }
        seq.push(val_op(count, 1));
        if index != last {
            seq.push(val_op(cur, last - index));
        }
    } else {
        if index != first {
            zero_run(&mut seq, index - first);
        }
        seq.push(val_op(count, 1));
        if index != last {
            zero_run(&mut seq, last - index);
        }
    }
    // Step 3: replace the opcode, or turn dense if the string would grow too long.
    if seq.len() > oplen && s.len() + seq.len() - oplen > SPARSE_MAX_BYTES {
        return promote(s, index, count);
    }
    s.splice(p..p + oplen, seq);
    merge_adjacent(s, prev);
    Ok(true)
}

/// Step 4 of hllSparseSet: merge equal adjacent VAL opcodes, looking at up to 5 opcodes
/// from the one before the change; then mark the cached cardinality stale.
fn merge_adjacent(s: &mut Vec<u8>, prev: Option<usize>) {
    let mut p = prev.unwrap_or(HDR);
    let mut scan = 5;
    while p < s.len() && scan > 0 {
        scan -= 1;
        let b = s[p];
        if is_xzero(b) {
            p += 2;
            continue;
        }
        if is_zero(b) {
            p += 1;
            continue;
        }
        if let Some(&next) = s.get(p + 1) {
            if is_val(next) && val_value(b) == val_value(next) {
                let len = val_len(b) + val_len(next);
                if len <= VAL_MAX_LEN {
                    s[p + 1] = val_op(val_value(b), len);
                    s.remove(p);
                    continue;
                }
            }
        }
        p += 1;
    }
    invalidate(s);
}

fn promote(s: &mut Vec<u8>, index: usize, count: u8) -> Result<bool, Corrupt> {
    to_dense(s)?;
    Ok(dense_set(&mut s[HDR..], index, count))
}

/// Add one element; true if a register changed.
fn add(s: &mut Vec<u8>, ele: &[u8]) -> Result<bool, Corrupt> {
    let (index, count) = pattern(ele);
    match s[4] {
        DENSE => Ok(dense_set(&mut s[HDR..], index, count)),
        _ => sparse_set(s, index, count),
    }
}

/// Raise `max` to this HLL's registers.
fn merge_into(max: &mut [u8], s: &[u8]) -> Result<(), Corrupt> {
    if s[4] == DENSE {
        for (i, m) in max.iter_mut().enumerate() {
            *m = (*m).max(dense_get(&s[HDR..], i));
        }
        return Ok(());
    }
    sparse_runs(s, |first, len, v| {
        for m in &mut max[first..first + len] {
            *m = (*m).max(v);
        }
    })
}

fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let (mut y, mut z) = (1.0, x);
    loop {
        x *= x;
        let prev = z;
        z += x * y;
        y += y;
        if prev == z {
            return z;
        }
    }
}

fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let (mut y, mut z) = (1.0, 1.0 - x);
    loop {
        x = x.sqrt();
        let prev = z;
        y *= 0.5;
        z -= (1.0 - x).powf(2.0) * y;
        if prev == z {
            return z / 3.0;
        }
    }
}

/// The cardinality estimate from a histogram of register values (Ertl, arXiv:1702.01284,
/// as Redis's hllCount computes it).
fn estimate(histo: &[u32; 64]) -> u64 {
    let m = REGISTERS as f64;
    let mut z = m * tau((m - histo[Q as usize + 1] as f64) / m);
    for j in (1..=Q as usize).rev() {
        z += histo[j] as f64;
        z *= 0.5;
    }
    z += m * sigma(histo[0] as f64 / m);
    (ALPHA_INF * m * m / z).round() as u64
}

fn count(s: &[u8]) -> Result<u64, Corrupt> {
    let mut histo = [0u32; 64];
    if s[4] == DENSE {
        for i in 0..REGISTERS {
            histo[dense_get(&s[HDR..], i) as usize] += 1;
        }
    } else {
        sparse_runs(s, |_, len, v| histo[v as usize] += len as u32)?;
    }
    Ok(estimate(&histo))
}

fn count_registers(max: &[u8]) -> u64 {
    let mut histo = [0u32; 64];
    for &v in max {
        histo[v as usize & 63] += 1;
    }
    estimate(&histo)
}

/// The HLL at `key`: Ok(None) if missing, Err after replying (not an HLL).
fn lookup_hll(ctx: &mut Ctx, key: &[u8], write: bool) -> Result<Option<()>, ()> {
    let e = if write {
        ctx.lookup(key)
    } else {
        ctx.lookup_read(key)
    };
    let verdict = e.map(|e| match &e.value {
        Value::Str(s) => Some(is_hll(s)),
        Value::Int(_) => Some(false),
        _ => None,
    });
    match verdict {
        None => Ok(None),
        Some(Some(true)) => Ok(Some(())),
        Some(Some(false)) => {
            ctx.error(NOT_HLL);
            Err(())
        }
        Some(None) => {
            ctx.error(super::WRONGTYPE);
            Err(())
        }
    }
}

/// Run `f` on the stored HLL bytes of `key` (the caller has checked it is one).
fn edit<R>(ctx: &mut Ctx, key: &[u8], f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    ctx.st
        .ks
        .db_mut(ctx.sess.db)
        .update(key, |v| match v {
            Value::Str(s) => f(s),
            _ => unreachable!("the caller checked the key holds an HLL string"),
        })
        .expect("the caller checked the key exists")
}

fn stored<'a>(ctx: &'a Ctx, key: &[u8]) -> &'a [u8] {
    match ctx.st.ks.db(ctx.sess.db).get(key).map(|e| &e.value) {
        Some(Value::Str(s)) => s,
        _ => &[],
    }
}

/// The register-wise maximum of the HLLs named by arguments 1.. (missing keys count as
/// empty), and whether any of them is dense. Err after replying.
fn union(ctx: &mut Ctx) -> Result<(Vec<u8>, bool), ()> {
    let mut max = vec![0u8; REGISTERS];
    let mut any_dense = false;
    for i in 1..ctx.args.len() {
        let key = ctx.args[i].clone();
        if lookup_hll(ctx, &key, false)?.is_none() {
            continue;
        }
        let s = stored(ctx, &key);
        any_dense |= s[4] == DENSE;
        if merge_into(&mut max, s).is_err() {
            ctx.error(CORRUPT);
            return Err(());
        }
    }
    Ok((max, any_dense))
}

/// Store an empty (sparse) HLL at `key` unless the key exists; true if it created one
/// (and published `new`).
fn create_if_missing(ctx: &mut Ctx, key: &[u8]) -> bool {
    let table = ctx.st.ks.db_mut(ctx.sess.db);
    if table.peek(key).is_some() {
        return false;
    }
    table.upsert(key, Value::Str(new_sparse()), Some(0));
    ctx.notify(class::NEW, "new", key);
    true
}

pub fn pfadd(ctx: &mut Ctx) {
    let key = ctx.args[1].clone();
    if lookup_hll(ctx, &key, true).is_err() {
        return;
    }
    // Creating the key counts as a change (Redis answers 1 even without elements).
    let mut updated = create_if_missing(ctx, &key);
    let args = ctx.args;
    let result: Result<(), Corrupt> = edit(ctx, &key, |s| {
        let r = args[2..].iter().try_for_each(|ele| {
            updated |= add(s, ele)?;
            Ok(())
        });
        if updated {
            invalidate(s);
        }
        r
    });
    if updated {
        ctx.modified(&key);
        ctx.notify(class::STRING, "pfadd", &key);
        if result.is_ok() {
            ctx.propagate_self();
        } else {
            // Elements added before the damage stay added (as in Redis). A command that
            // fails cannot be replayed, so the log gets the resulting string instead.
            let bytes = Bytes::copy_from_slice(stored(ctx, &key));
            ctx.propagate(vec![
                Bytes::from_static(b"SET"),
                key,
                bytes,
                Bytes::from_static(b"KEEPTTL"),
            ]);
        }
    }
    match result {
        Ok(()) => ctx.out.int(updated as i64),
        Err(Corrupt) => ctx.error(CORRUPT),
    }
}

pub fn pfcount(ctx: &mut Ctx) {
    if ctx.args.len() > 2 {
        // The cardinality of the union, computed on the side.
        let Ok((max, _)) = union(ctx) else { return };
        return ctx.out.int(count_registers(&max) as i64);
    }
    let key = ctx.args[1].clone();
    match lookup_hll(ctx, &key, false) {
        Err(()) => return,
        Ok(None) => return ctx.out.int(0),
        Ok(Some(())) => {}
    }
    let s = stored(ctx, &key);
    if s[15] & 0x80 == 0 {
        let card = u64::from_le_bytes(s[8..16].try_into().expect("8 header bytes"));
        return ctx.out.int(card as i64);
    }
    let Ok(card) = count(s) else {
        return ctx.error(CORRUPT);
    };
    // Cache it in the header, as Redis does, unless writes are being refused (a read
    // must keep working then, and the cache is only a cache).
    if ctx.st.write_refusal.is_none() {
        edit(ctx, &key, |s| s[8..16].copy_from_slice(&card.to_le_bytes()));
        ctx.modified(&key);
        ctx.propagate_self();
    }
    ctx.out.int(card as i64);
}

pub fn pfmerge(ctx: &mut Ctx) {
    let Ok((max, use_dense)) = union(ctx) else {
        return;
    };
    let dst = ctx.args[1].clone();
    create_if_missing(ctx, &dst);
    let result: Result<(), Corrupt> = edit(ctx, &dst, |s| {
        if use_dense {
            to_dense(s)?;
        }
        for (i, &v) in max.iter().enumerate() {
            if v == 0 {
                continue;
            }
            if s[4] == DENSE {
                dense_set(&mut s[HDR..], i, v);
            } else {
                sparse_set(s, i, v)?;
            }
        }
        invalidate(s);
        Ok(())
    });
    if result.is_err() {
        return ctx.error(CORRUPT);
    }
    ctx.modified(&dst);
    ctx.notify(class::STRING, "pfadd", &dst);
    ctx.propagate_self();
    ctx.out.ok();
}

/// Fuzzing entry (fuzz/fuzz_targets/hll.rs): `data` is a stored string a client could
/// have SET; every HLL operation on it must answer or report corruption, never panic,
/// and a sparse HLL that counts must count the same once made dense.
#[doc(hidden)]
pub fn fuzz_stored_string(data: &[u8]) {
    if data.len() < 2 {
        return;
    }
    let (ops, bytes) = data.split_at(2);
    let mut s = b"HYLL".to_vec();
    s.push(ops[0] & 1);
    s.extend_from_slice(bytes);
    if !is_hll(&s) {
        return;
    }
    let counted = count(&s);
    let mut max = vec![0u8; REGISTERS];
    let merged = merge_into(&mut max, &s);
    assert_eq!(counted.is_ok(), merged.is_ok());
    if let Ok(c) = counted {
        assert_eq!(count_registers(&max), c);
        let mut dense = s.clone();
        if to_dense(&mut dense).is_ok() {
            assert_eq!(count(&dense), Ok(c));
        }
    }
    // Adds (which may split opcodes, merge them or turn the HLL dense) never panic.
    for i in 0..ops[1] % 8 {
        if add(&mut s, &[i, ops[1]]).is_err() {
            break;
        }
    }
    if s[4] == SPARSE {
        let _ = sparse_set(&mut s, (ops[1] as usize * 61) % REGISTERS, 40);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur_matches_the_reference_implementation() {
        // From Redis's C MurmurHash64A compiled with gcc (seed 0xadc83b19): the empty
        // string, a tail-only key, and keys with one and two full 8-byte blocks.
        let seed = 0xadc8_3b19;
        assert_eq!(murmur64a(b"", seed), 0xd8df_ea65_85bc_9732);
        assert_eq!(murmur64a(b"a", seed), 0x53d2_470a_9b43_b1a7);
        assert_eq!(murmur64a(b"hello", seed), 0x0f65_6f01_eecf_e400);
        assert_eq!(
            murmur64a(b"element:12345678901", seed),
            0x3dca_ce2b_0300_9304
        );
    }

    #[test]
    fn a_new_hll_is_one_xzero_and_counts_zero() {
        let s = new_sparse();
        assert_eq!(s.len(), 18);
        assert!(is_hll(&s));
        assert_eq!(count(&s), Ok(0));
        assert_eq!(&s[16..], &[0x7f, 0xff]);
    }

    #[test]
    fn sparse_and_dense_agree() {
        let mut sparse = new_sparse();
        for i in 0..2000 {
            add(&mut sparse, format!("element:{i}").as_bytes()).unwrap();
        }
        let mut dense = sparse.clone();
        to_dense(&mut dense).unwrap();
        assert_eq!(dense.len(), DENSE_SIZE);
        assert_eq!(count(&sparse), count(&dense));
        let mut max = vec![0u8; REGISTERS];
        merge_into(&mut max, &sparse).unwrap();
        assert_eq!(count_registers(&max), count(&dense).unwrap());
    }

    #[test]
    fn corrupt_sparse_data_is_reported() {
        let mut s = new_sparse();
        s.truncate(17); // XZERO cut short
        assert_eq!(count(&s), Err(Corrupt));
        let mut s = new_sparse();
        s.push(0x00); // one register too many
        assert_eq!(count(&s), Err(Corrupt));
        let mut max = vec![0u8; REGISTERS];
        assert_eq!(merge_into(&mut max, &s), Err(Corrupt));
        assert_eq!(to_dense(&mut s), Err(Corrupt));
    }
}
