//! Sorted set commands: ZADD and friends, ranks and scores, the range family (ZRANGE with
//! BYSCORE/BYLEX/REV/LIMIT and the legacy forms, ZRANGESTORE), removals by range, pops,
//! random members, the algebra (ZUNION/ZINTER/ZDIFF and their STORE forms, with WEIGHTS
//! and AGGREGATE; plain sets count as score 1), ZSCAN and the blocking pops.
//!
//! Effects logged: deterministic writes log themselves; ZADD INCR and ZINCRBY log
//! `ZADD key <resulting score> member`; pops (ZPOPMIN/ZPOPMAX, BZPOPMIN/BZPOPMAX) log
//! `ZREM key member...` of what they removed; ZRANDMEMBER is a read. A sorted set that
//! becomes empty is deleted, as in Redis.

use super::notify::class;
use std::cmp::Ordering;

use bytes::Bytes;
use rand::Rng;

use super::blocking;
use super::{Ctx, State, NOT_INTEGER, SYNTAX, WRONGTYPE};
use crate::keyspace::{Kind, Set, Value, ZSet};
use crate::protocol::{format_double, ReplyBuf};
use crate::util::glob_match;

const NOT_FLOAT: &str = "ERR value is not a valid float";
const NAN_RESULT: &str = "ERR resulting score is not a number (NaN)";
const BAD_SCORE_RANGE: &str = "ERR min or max is not a float";
const BAD_LEX_RANGE: &str = "ERR min or max not valid string range item";
const NOT_POSITIVE: &str = "ERR value is out of range, must be positive";
const COUNT_RANGE: &str =
    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807";

// ---- number parsing ------------------------------------------------------------------

/// C `strtod` over all of `s`: the value and whether it was out of range (ERANGE:
/// overflow to infinity or underflow to zero). None when `s` is not entirely a number
/// (an empty `s` is the caller's business). Accepts what glibc does: an optional sign,
/// decimal or `0x` hexadecimal floats, `inf`/`infinity`, `nan`.
fn strtod(s: &[u8]) -> Option<(f64, bool)> {
    let text = std::str::from_utf8(s).ok()?;
    let (neg, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let lower = body.to_ascii_lowercase();
    let (v, erange) = if lower == "inf" || lower == "infinity" {
        (f64::INFINITY, false)
    } else if lower == "nan" {
        (f64::NAN, false)
    } else if let Some(hex) = lower.strip_prefix("0x") {
        let v = parse_hex_float(hex)?;
        (v, v.is_infinite())
    } else {
        let b = lower.as_bytes();
        let mut i = 0;
        let mut digits = 0;
        let mut nonzero = false;
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
            if b[i].is_ascii_digit() {
                digits += 1;
                nonzero |= b[i] != b'0';
            }
            i += 1;
        }
        if digits == 0 || b[..i].iter().filter(|&&c| c == b'.').count() > 1 {
            return None;
        }
        if i < b.len() {
            // An exponent: e, an optional sign, digits.
            if b[i] != b'e' {
                return None;
            }
            let mut j = i + 1;
            if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
                j += 1;
            }
            if j == b.len() || !b[j..].iter().all(u8::is_ascii_digit) {
                return None;
            }
        }
        let v: f64 = lower.parse().ok()?;
        (v, v.is_infinite() || (v == 0.0 && nonzero))
    };
    Some((if neg { -v } else { v }, erange))
}

/// The digits after `0x` of a C hexadecimal float: `h[.h][p[+-]d]`.
fn parse_hex_float(s: &str) -> Option<f64> {
    let (mant, exp) = match s.find('p') {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let mut v = 0f64;
    for c in int.chars() {
        v = v * 16.0 + c.to_digit(16)? as f64;
    }
    let mut scale = 1.0 / 16.0;
    for c in frac.chars() {
        v += c.to_digit(16)? as f64 * scale;
        scale /= 16.0;
    }
    if let Some(e) = exp {
        let e: i32 = e.parse().ok()?;
        v *= 2f64.powi(e);
    }
    Some(v)
}

/// A score or weight as Redis's `getDoubleFromObject` reads it: the whole string, no
/// leading space, not out of range, not NaN.
pub fn parse_score(s: &[u8]) -> Option<f64> {
    if s.is_empty() || s[0].is_ascii_whitespace() {
        return None;
    }
    match strtod(s)? {
        (v, false) if !v.is_nan() => Some(v),
        _ => None,
    }
}

/// One end of a score range as `zslParseRange` reads it: strtod (leading spaces skipped,
/// overflow to inf allowed, an empty string is 0), NaN refused.
fn parse_range_end(s: &[u8]) -> Option<f64> {
    if s.is_empty() {
        return Some(0.0);
    }
    let start = s.iter().position(|c| !c.is_ascii_whitespace())?;
    let (v, _) = strtod(&s[start..])?;
    (!v.is_nan()).then_some(v)
}

#[derive(Debug, Clone, Copy)]
struct ScoreRange {
    min: f64,
    max: f64,
    minex: bool,
    maxex: bool,
}

impl ScoreRange {
    fn parse(min: &[u8], max: &[u8]) -> Option<ScoreRange> {
        let end = |s: &[u8]| match s.first() {
            Some(b'(') => parse_range_end(&s[1..]).map(|v| (v, true)),
            _ => parse_range_end(s).map(|v| (v, false)),
        };
        let (min, minex) = end(min)?;
        let (max, maxex) = end(max)?;
        Some(ScoreRange {
            min,
            max,
            minex,
            maxex,
        })
    }

    fn gte_min(&self, v: f64) -> bool {
        if self.minex {
            v > self.min
        } else {
            v >= self.min
        }
    }

    fn lte_max(&self, v: f64) -> bool {
        if self.maxex {
            v < self.max
        } else {
            v <= self.max
        }
    }

    /// The ranks `start..end` of the members in range.
    fn ranks(&self, z: &ZSet) -> (usize, usize) {
        let start = z.count_by_score(|s| !self.gte_min(s));
        let end = z.count_by_score(|s| self.lte_max(s));
        (start, end.max(start))
    }
}

#[derive(Debug, Clone)]
enum LexBound {
    /// `-`
    Min,
    /// `+`
    Max,
    Incl(Bytes),
    Excl(Bytes),
}

#[derive(Debug, Clone)]
struct LexRange {
    min: LexBound,
    max: LexBound,
}

impl LexRange {
    fn parse(min: &Bytes, max: &Bytes) -> Option<LexRange> {
        let item = |s: &Bytes| match s.first() {
            Some(b'+') if s.len() == 1 => Some(LexBound::Max),
            Some(b'-') if s.len() == 1 => Some(LexBound::Min),
            Some(b'(') => Some(LexBound::Excl(s.slice(1..))),
            Some(b'[') => Some(LexBound::Incl(s.slice(1..))),
            _ => None,
        };
        Some(LexRange {
            min: item(min)?,
            max: item(max)?,
        })
    }

    fn gte_min(&self, m: &[u8]) -> bool {
        match &self.min {
            LexBound::Min => true,
            LexBound::Max => false,
            LexBound::Incl(x) => m >= x.as_ref(),
            LexBound::Excl(x) => m > x.as_ref(),
        }
    }

    fn lte_max(&self, m: &[u8]) -> bool {
        match &self.max {
            LexBound::Min => false,
            LexBound::Max => true,
            LexBound::Incl(x) => m <= x.as_ref(),
            LexBound::Excl(x) => m < x.as_ref(),
        }
    }

    /// True when no member can be in range whatever the set holds (`min` above `max`).
    fn always_empty(&self) -> bool {
        let key = |b: &LexBound| -> (u8, Vec<u8>, bool) {
            match b {
                LexBound::Min => (0, Vec::new(), false),
                LexBound::Incl(x) => (1, x.to_vec(), false),
                LexBound::Excl(x) => (1, x.to_vec(), true),
                LexBound::Max => (2, Vec::new(), false),
            }
        };
        let ((a, x, ax), (b, y, by)) = (key(&self.min), key(&self.max));
        match (a, &x).cmp(&(b, &y)) {
            Ordering::Greater => true,
            Ordering::Equal => a == 1 && (ax || by),
            Ordering::Less => false,
        }
    }

    /// The ranks `start..end` of the members in range, walked forwards or (`rev`)
    /// backwards. With equal scores (the only case Redis defines) members are ordered
    /// bytewise and this is a plain range. With mixed scores a small set gives what
    /// Redis's listpack walk gives: empty unless the last member is >= min and the first
    /// <= max, then the run of members from the first one >= min while they stay <= max
    /// (backwards: from the last one <= max while they stay >= min). A big set is
    /// searched as if ordered, as Redis's skiplist is.
    fn ranks(&self, z: &ZSet, rev: bool) -> (usize, usize) {
        let n = z.len();
        let (Some((first, _)), Some((last, _))) = (z.get(0), z.get(n.wrapping_sub(1))) else {
            return (0, 0);
        };
        if self.always_empty() || !self.gte_min(last) || !self.lte_max(first) {
            return (0, 0);
        }
        if z.encoding() != "listpack" {
            let start = z.count_while(|m, _| !self.gte_min(m));
            let end = z.count_while(|m, _| self.lte_max(m));
            return (start, end.max(start));
        }
        if rev {
            let end = n - z
                .range(n - 1, true)
                .take_while(|(m, _)| !self.lte_max(m))
                .count();
            let run = match end.checked_sub(1) {
                Some(top) => z
                    .range(top, true)
                    .take_while(|(m, _)| self.gte_min(m))
                    .count(),
                None => 0,
            };
            (end - run, end)
        } else {
            let start = z.count_while(|m, _| !self.gte_min(m));
            let run = z
                .range(start, false)
                .take_while(|(m, _)| self.lte_max(m))
                .count();
            (start, start + run)
        }
    }
}

// ---- helpers -------------------------------------------------------------------------

/// Look `key` up as a zset (see [`Ctx::probe`]).
fn probe(ctx: &mut Ctx, key: &[u8], read: bool) -> Result<bool, super::Replied> {
    ctx.probe(key, Kind::ZSet, read)
}

/// The sorted set at `key` in `db`, if there is one (callers have checked the type).
fn get<'a>(st: &'a State, db: usize, key: &[u8]) -> Option<&'a ZSet> {
    super::typed(st, db, key)
}

/// See [`super::edit_typed`]; `event` is a sorted-set event.
fn edit<R>(
    ctx: &mut Ctx,
    key: &[u8],
    event: &'static str,
    f: impl FnOnce(&mut ZSet) -> (R, bool),
) -> R {
    super::edit_typed(ctx, key, (class::ZSET, event), f)
}

/// See [`super::store_typed`].
fn store(ctx: &mut Ctx, key: &[u8], z: ZSet) -> bool {
    super::store_typed(ctx, key, z)
}

fn score_bytes(s: f64) -> Bytes {
    Bytes::from(format_double(s))
}

/// Reply with `n` (member, score) pairs: members only, or with scores (flat in RESP2,
/// [member, score] pairs in RESP3, as Redis 7).
fn reply_pairs<'a>(
    out: &mut ReplyBuf,
    n: usize,
    withscores: bool,
    items: impl Iterator<Item = (&'a [u8], f64)>,
) {
    let nested = withscores && out.resp3();
    out.array_len(if withscores && !nested { 2 * n } else { n });
    for (m, s) in items.take(n) {
        if nested {
            out.array_len(2);
        }
        out.bulk(m);
        if withscores {
            out.double(s);
        }
    }
}

/// Log `ZREM key members...`.
fn propagate_zrem(ctx: &mut Ctx, key: &Bytes, members: &[(Vec<u8>, f64)]) {
    if members.is_empty() {
        return;
    }
    let mut args = Vec::with_capacity(members.len() + 2);
    args.push(Bytes::from_static(b"ZREM"));
    args.push(key.clone());
    args.extend(members.iter().map(|(m, _)| Bytes::copy_from_slice(m)));
    ctx.propagate(args);
}

// ---- ZADD / ZINCRBY ------------------------------------------------------------------

#[derive(Default, Clone, Copy)]
struct AddFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    ch: bool,
    incr: bool,
}

/// What adding one member did.
#[derive(Default)]
struct AddOutcome {
    added: bool,
    updated: bool,
    /// Not a no-op (for INCR's reply).
    processed: bool,
    score: f64,
}

/// Redis's `zsetAdd`. Err(()) when an increment makes the score NaN.
fn zset_add(z: &mut ZSet, m: &[u8], score: f64, f: AddFlags) -> Result<AddOutcome, ()> {
    let mut o = AddOutcome::default();
    match z.score(m) {
        Some(cur) => {
            if f.nx {
                return Ok(o);
            }
            let mut score = score;
            if f.incr {
                score += cur;
                if score.is_nan() {
                    return Err(());
                }
            }
            if (f.lt && score >= cur) || (f.gt && score <= cur) {
                return Ok(o);
            }
            o.processed = true;
            o.score = score;
            if score != cur {
                z.insert(m, score);
                o.updated = true;
            }
        }
        None if f.xx => {}
        None => {
            z.insert(m, score);
            o.added = true;
            o.processed = true;
            o.score = score;
        }
    }
    Ok(o)
}

/// ZADD, and ZINCRBY (`incr`): options start at argument 2, as in Redis.
fn zadd_generic(ctx: &mut Ctx, incr: bool) {
    let mut f = AddFlags {
        incr,
        ..Default::default()
    };
    let mut i = 2;
    while i < ctx.args.len() {
        let a = &ctx.args[i];
        if a.eq_ignore_ascii_case(b"nx") {
            f.nx = true;
        } else if a.eq_ignore_ascii_case(b"xx") {
            f.xx = true;
        } else if a.eq_ignore_ascii_case(b"ch") {
            f.ch = true;
        } else if a.eq_ignore_ascii_case(b"incr") {
            f.incr = true;
        } else if a.eq_ignore_ascii_case(b"gt") {
            f.gt = true;
        } else if a.eq_ignore_ascii_case(b"lt") {
            f.lt = true;
        } else {
            break;
        }
        i += 1;
    }
    let elements = ctx.args.len() - i;
    if elements == 0 || elements % 2 == 1 {
        return ctx.error(SYNTAX);
    }
    let elements = elements / 2;
    if f.nx && f.xx {
        return ctx.error("ERR XX and NX options at the same time are not compatible");
    }
    if (f.nx && (f.gt || f.lt)) || (f.gt && f.lt) {
        return ctx.error("ERR GT, LT, and/or NX options at the same time are not compatible");
    }
    if f.incr && elements > 1 {
        return ctx.error("ERR INCR option supports a single increment-element pair");
    }
    let mut pairs: Vec<(f64, Bytes)> = Vec::with_capacity(elements);
    for j in 0..elements {
        let Some(s) = parse_score(&ctx.args[i + 2 * j]) else {
            return ctx.error(NOT_FLOAT);
        };
        pairs.push((s, ctx.args[i + 2 * j + 1].clone()));
    }
    let key = ctx.args[1].clone();
    let Ok(exists) = probe(ctx, &key, false) else {
        return;
    };
    // (added, updated, processed, last score), or Err when an increment gave NaN.
    let apply = |z: &mut ZSet| -> Result<(i64, i64, i64, f64), ()> {
        let mut t = (0, 0, 0, 0.0);
        for (s, m) in &pairs {
            let o = zset_add(z, m, *s, f)?;
            t.0 += o.added as i64;
            t.1 += o.updated as i64;
            t.2 += o.processed as i64;
            t.3 = o.score;
        }
        Ok(t)
    };
    let event = if f.incr { "zincr" } else { "zadd" };
    let result = if exists {
        edit(ctx, &key, event, |z| {
            let r = apply(z);
            let changed = matches!(r, Ok((a, u, _, _)) if a + u > 0);
            (r, changed)
        })
    } else if f.xx {
        Ok((0, 0, 0, 0.0))
    } else {
        let maxlen = pairs.iter().map(|p| p.1.len()).max().unwrap_or(0);
        let mut z = ZSet::with_hint(pairs.len(), maxlen);
        let r = apply(&mut z);
        store(ctx, &key, z);
        if matches!(r, Ok((a, u, _, _)) if a + u > 0) {
            ctx.notify(class::ZSET, event, &key);
        }
        r
    };
    let Ok((added, updated, processed, last)) = result else {
        return ctx.error(NAN_RESULT);
    };
    if added + updated > 0 {
        if f.incr {
            ctx.propagate(vec![
                Bytes::from_static(b"ZADD"),
                key.clone(),
                score_bytes(last),
                pairs[0].1.clone(),
            ]);
        } else {
            ctx.propagate_self();
        }
    }
    if f.incr {
        if processed > 0 {
            ctx.out.double(last);
        } else {
            ctx.out.null();
        }
    } else {
        ctx.out.int(if f.ch { added + updated } else { added });
    }
}

pub fn zadd(ctx: &mut Ctx) {
    zadd_generic(ctx, false);
}

pub fn zincrby(ctx: &mut Ctx) {
    zadd_generic(ctx, true);
}

// ---- simple reads and removal --------------------------------------------------------

pub fn zrem(ctx: &mut Ctx) {
    let key = ctx.args[1].clone();
    match probe(ctx, &key, false) {
        Err(_) => return,
        Ok(false) => return ctx.out.int(0),
        Ok(true) => {}
    }
    let members = ctx.args[2..].to_vec();
    let n = edit(ctx, &key, "zrem", |z| {
        let n = members.iter().filter(|m| z.remove(m).is_some()).count();
        (n, n > 0)
    });
    if n > 0 {
        ctx.propagate_self();
    }
    ctx.out.int(n as i64);
}

pub fn zcard(ctx: &mut Ctx) {
    let key = ctx.args[1].clone();
    if probe(ctx, &key, true).is_err() {
        return;
    }
    let n = get(ctx.st, ctx.sess.db, &key).map_or(0, |z| z.len());
    ctx.out.int(n as i64);
}

pub fn zscore(ctx: &mut Ctx) {
    let key = ctx.args[1].clone();
    if probe(ctx, &key, true).is_err() {
        return;
    }
    match get(ctx.st, ctx.sess.db, &key).and_then(|z| z.score(&ctx.args[2])) {
        Some(s) => ctx.out.double(s),
        None => ctx.out.null(),
    }
}

pub fn zmscore(ctx: &mut Ctx) {
    let key = ctx.args[1].clone();
    if probe(ctx, &key, true).is_err() {
        return;
    }
    let z = get(ctx.st, ctx.sess.db, &key);
    ctx.out.array_len(ctx.args.len() - 2);
    for m in &ctx.args[2..] {
        match z.and_then(|z| z.score(m)) {
            Some(s) => ctx.out.double(s),
            None => ctx.out.null(),
        }
    }
}

fn rank_generic(ctx: &mut Ctx, rev: bool) {
    let key = ctx.args[1].clone();
    if probe(ctx, &key, true).is_err() {
        return;
    }
    let r = get(ctx.st, ctx.sess.db, &key).and_then(|z| {
        z.rank(&ctx.args[2])
            .map(|r| if rev { z.len() - 1 - r } else { r })
    });
    match r {
        Some(r) => ctx.out.int(r as i64),
        None => ctx.out.null(),
    }
}

pub fn zrank(ctx: &mut Ctx) {
    rank_generic(ctx, false);
}

pub fn zrevrank(ctx: &mut Ctx) {
    rank_generic(ctx, true);
}

pub fn zcount(ctx: &mut Ctx) {
    let Some(range) = ScoreRange::parse(&ctx.args[2], &ctx.args[3]) else {
        return ctx.error(BAD_SCORE_RANGE);
    };
    let key = ctx.args[1].clone();
    if probe(ctx, &key, true).is_err() {
        return;
    }
    let n = get(ctx.st, ctx.sess.db, &key).map_or(0, |z| {
        let (s, e) = range.ranks(z);
        e - s
    });
    ctx.out.int(n as i64);
}

pub fn zlexcount(ctx: &mut Ctx) {
    let Some(range) = LexRange::parse(&ctx.args[2], &ctx.args[3]) else {
        return ctx.error(BAD_LEX_RANGE);
    };
    let key = ctx.args[1].clone();
    if probe(ctx, &key, true).is_err() {
        return;
    }
    let n = get(ctx.st, ctx.sess.db, &key).map_or(0, |z| {
        let (s, e) = range.ranks(z, false);
        e - s
    });
    ctx.out.int(n as i64);
}

// ---- the ZRANGE family ---------------------------------------------------------------

#[derive(Clone, Copy, PartialEq)]
enum RangeType {
    Auto,
    Rank,
    Score,
    Lex,
}

#[derive(Clone, Copy, PartialEq)]
enum Direction {
    Auto,
    Forward,
    Reverse,
}

/// Clamp a Redis rank range `start..=end` (negative from the end) to `len` members:
/// the ranks `a..b`, or None when empty.
fn rank_bounds(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let mut start = if start < 0 { len + start } else { start };
    let mut end = if end < 0 { len + end } else { end };
    if start < 0 {
        start = 0;
    }
    if start > end || start >= len {
        return None;
    }
    if end >= len {
        end = len - 1;
    }
    Some((start as usize, end as usize + 1))
}

/// Redis's `zrangeGenericCommand`: `first` is the index of the source key (1, or 2 for
/// ZRANGESTORE whose destination is argument 1).
fn zrange_generic(
    ctx: &mut Ctx,
    first: usize,
    store_to: bool,
    mut rt: RangeType,
    mut dir: Direction,
) {
    let mut withscores = false;
    let (mut offset, mut limit) = (0i64, -1i64);
    let mut j = first + 3;
    while j < ctx.args.len() {
        let left = ctx.args.len() - j - 1;
        let a = &ctx.args[j];
        if !store_to && a.eq_ignore_ascii_case(b"withscores") {
            withscores = true;
        } else if a.eq_ignore_ascii_case(b"limit") && left >= 2 {
            let (Some(o), Some(l)) = (
                crate::util::parse_i64_strict(&ctx.args[j + 1]),
                crate::util::parse_i64_strict(&ctx.args[j + 2]),
            ) else {
                return ctx.error(NOT_INTEGER);
            };
            (offset, limit) = (o, l);
            j += 2;
        } else if dir == Direction::Auto && a.eq_ignore_ascii_case(b"rev") {
            dir = Direction::Reverse;
        } else if rt == RangeType::Auto && a.eq_ignore_ascii_case(b"bylex") {
            rt = RangeType::Lex;
        } else if rt == RangeType::Auto && a.eq_ignore_ascii_case(b"byscore") {
            rt = RangeType::Score;
        } else {
            return ctx.error(SYNTAX);
        }
        j += 1;
    }
    if dir == Direction::Auto {
        dir = Direction::Forward;
    }
    if rt == RangeType::Auto {
        rt = RangeType::Rank;
    }
    if limit != -1 && rt == RangeType::Rank {
        return ctx.error(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        );
    }
    if withscores && rt == RangeType::Lex {
        return ctx.error("ERR syntax error, WITHSCORES not supported in combination with BYLEX");
    }
    let rev = dir == Direction::Reverse;
    let (mut lo, mut hi) = (first + 1, first + 2);
    if rev && rt != RangeType::Rank {
        std::mem::swap(&mut lo, &mut hi);
    }
    enum Parsed {
        Rank(i64, i64),
        Score(ScoreRange),
        Lex(LexRange),
    }
    let parsed = match rt {
        RangeType::Score => match ScoreRange::parse(&ctx.args[lo], &ctx.args[hi]) {
            Some(r) => Parsed::Score(r),
            None => return ctx.error(BAD_SCORE_RANGE),
        },
        RangeType::Lex => match LexRange::parse(&ctx.args[lo], &ctx.args[hi]) {
            Some(r) => Parsed::Lex(r),
            None => return ctx.error(BAD_LEX_RANGE),
        },
        _ => {
            let (Some(a), Some(b)) = (ctx.int_arg(lo), ctx.int_arg(hi)) else {
                return;
            };
            Parsed::Rank(a, b)
        }
    };
    let key = ctx.args[first].clone();
    // A read even for ZRANGESTORE, as in Redis (a miss counts and publishes `keymiss`).
    let exists = match probe(ctx, &key, true) {
        Ok(x) => x,
        Err(_) => return,
    };
    // The ranks to emit: `a..b` of the set, walked from `b - 1` down when reversed.
    let z = if exists {
        get(ctx.st, ctx.sess.db, &key)
    } else {
        None
    };
    let (a, b) = match (&parsed, z) {
        (_, None) => (0, 0),
        (Parsed::Rank(s, e), Some(z)) => {
            // A reversed rank range counts from the top.
            match rank_bounds(*s, *e, z.len()) {
                Some((a, b)) if rev => (z.len() - b, z.len() - a),
                Some(ab) => ab,
                None => (0, 0),
            }
        }
        (Parsed::Score(r), Some(z)) => r.ranks(z),
        (Parsed::Lex(r), Some(z)) => r.ranks(z, rev),
    };
    let (a, b) = if rt == RangeType::Rank {
        (a, b)
    } else if offset < 0 {
        (0, 0)
    } else {
        // LIMIT: skip `offset` members in the walk's direction, keep `limit` (< 0: all).
        let avail = (b - a).saturating_sub(offset as usize);
        let n = if limit < 0 {
            avail
        } else {
            avail.min(limit as usize)
        };
        if rev {
            let top = b.saturating_sub(offset as usize);
            (top - n, top)
        } else {
            let start = a + offset as usize;
            (start, start + n)
        }
    };
    let n = b.saturating_sub(a);
    if store_to {
        let result = match z {
            Some(z) if n > 0 => {
                let items: Vec<(&[u8], f64)> = if rev {
                    z.range(b - 1, true).take(n).collect()
                } else {
                    z.range(a, false).take(n).collect()
                };
                let maxlen = items.iter().map(|i| i.0.len()).max().unwrap_or(0);
                let mut out = ZSet::with_hint(n, maxlen);
                for (m, s) in items {
                    out.insert(m, s);
                }
                out
            }
            _ => ZSet::new(),
        };
        let dst = ctx.args[1].clone();
        super::store_result(ctx, &dst, result, (class::ZSET, "zrangestore"));
        return ctx.out.int(n as i64);
    }
    let Some(z) = z else {
        return ctx.out.array_len(0);
    };
    let out = &mut *ctx.out;
    if n == 0 {
        return out.array_len(0);
    }
    if rev {
        reply_pairs(out, n, withscores, z.range(b - 1, true));
    } else {
        reply_pairs(out, n, withscores, z.range(a, false));
    }
}

pub fn zrange(ctx: &mut Ctx) {
    zrange_generic(ctx, 1, false, RangeType::Auto, Direction::Auto);
}

pub fn zrangestore(ctx: &mut Ctx) {
    zrange_generic(ctx, 2, true, RangeType::Auto, Direction::Auto);
}

pub fn zrevrange(ctx: &mut Ctx) {
    zrange_generic(ctx, 1, false, RangeType::Rank, Direction::Reverse);
}

pub fn zrangebyscore(ctx: &mut Ctx) {
    zrange_generic(ctx, 1, false, RangeType::Score, Direction::Forward);
}

pub fn zrevrangebyscore(ctx: &mut Ctx) {
    zrange_generic(ctx, 1, false, RangeType::Score, Direction::Reverse);
}

pub fn zrangebylex(ctx: &mut Ctx) {
    zrange_generic(ctx, 1, false, RangeType::Lex, Direction::Forward);
}

pub fn zrevrangebylex(ctx: &mut Ctx) {
    zrange_generic(ctx, 1, false, RangeType::Lex, Direction::Reverse);
}

// ---- removal by range ----------------------------------------------------------------

/// The ranks `a..b` a range selects in a given sorted set.
type RanksOf = Box<dyn Fn(&ZSet) -> (usize, usize)>;

fn zremrange_generic(ctx: &mut Ctx, rt: RangeType) {
    let (a2, a3) = (ctx.args[2].clone(), ctx.args[3].clone());
    let range: RanksOf = match rt {
        RangeType::Score => match ScoreRange::parse(&a2, &a3) {
            Some(r) => Box::new(move |z| r.ranks(z)),
            None => return ctx.error(BAD_SCORE_RANGE),
        },
        RangeType::Lex => match LexRange::parse(&a2, &a3) {
            Some(r) => Box::new(move |z| r.ranks(z, false)),
            None => return ctx.error(BAD_LEX_RANGE),
        },
        _ => {
            let (Some(s), Some(e)) = (ctx.int_arg(2), ctx.int_arg(3)) else {
                return;
            };
            Box::new(move |z| rank_bounds(s, e, z.len()).unwrap_or((0, 0)))
        }
    };
    let key = ctx.args[1].clone();
    match probe(ctx, &key, false) {
        Err(_) => return,
        Ok(false) => return ctx.out.int(0),
        Ok(true) => {}
    }
    let event = match rt {
        RangeType::Score => "zremrangebyscore",
        RangeType::Lex => "zremrangebylex",
        _ => "zremrangebyrank",
    };
    let n = edit(ctx, &key, event, |z| {
        let (a, b) = range(z);
        let n = z.remove_range(a, b).len();
        (n, n > 0)
    });
    if n > 0 {
        ctx.propagate_self();
    }
    ctx.out.int(n as i64);
}

pub fn zremrangebyscore(ctx: &mut Ctx) {
    zremrange_generic(ctx, RangeType::Score);
}

pub fn zremrangebyrank(ctx: &mut Ctx) {
    zremrange_generic(ctx, RangeType::Rank);
}

pub fn zremrangebylex(ctx: &mut Ctx) {
    zremrange_generic(ctx, RangeType::Lex);
}

// ---- pops ----------------------------------------------------------------------------

/// Pop up to `count` members from the low (`max` false) or high end of the sorted set at
/// `key`, which exists. Logs the removal; returns the popped pairs in pop order.
fn pop(ctx: &mut Ctx, key: &Bytes, count: usize, max: bool) -> Vec<(Vec<u8>, f64)> {
    let event = if max { "zpopmax" } else { "zpopmin" };
    let popped = edit(ctx, key, event, |z| {
        let n = count.min(z.len());
        let mut v = if max {
            z.remove_range(z.len() - n, z.len())
        } else {
            z.remove_range(0, n)
        };
        if max {
            v.reverse();
        }
        let changed = !v.is_empty();
        (v, changed)
    });
    propagate_zrem(ctx, key, &popped);
    popped
}

fn zpop_generic(ctx: &mut Ctx, max: bool) {
    if ctx.args.len() > 3 {
        return ctx.error(SYNTAX);
    }
    let count = if ctx.args.len() == 3 {
        match crate::util::parse_i64_strict(&ctx.args[2]).filter(|n| *n >= 0) {
            Some(n) => Some(n as usize),
            None => return ctx.error(NOT_POSITIVE),
        }
    } else {
        None
    };
    let key = ctx.args[1].clone();
    match probe(ctx, &key, false) {
        Err(_) => return,
        Ok(false) => return ctx.out.array_len(0),
        Ok(true) => {}
    }
    // A count of 0 answers an empty array, but only after the type check (as Redis).
    if count == Some(0) {
        return ctx.out.array_len(0);
    }
    let popped = pop(ctx, &key, count.unwrap_or(1), max);
    let out = &mut *ctx.out;
    let items = popped.iter().map(|(m, s)| (m.as_slice(), *s));
    if count.is_some() {
        reply_pairs(out, popped.len(), true, items);
    } else {
        // Without a count: one flat [member, score] even in RESP3.
        out.array_len(2 * popped.len());
        for (m, s) in items {
            out.bulk(m);
            out.double(s);
        }
    }
}

pub fn zpopmin(ctx: &mut Ctx) {
    zpop_generic(ctx, false);
}

pub fn zpopmax(ctx: &mut Ctx) {
    zpop_generic(ctx, true);
}

fn bzpop_generic(ctx: &mut Ctx, max: bool) {
    let Some(timeout) = blocking::timeout_arg(ctx, ctx.args.len() - 1) else {
        return;
    };
    let keys = ctx.args[1..ctx.args.len() - 1].to_vec();
    match ctx.first_holding(&keys, Kind::ZSet) {
        Err(_) => return,
        Ok(Some(key)) => {
            let popped = pop(ctx, &key, 1, max);
            let out = &mut *ctx.out;
            out.array_len(3);
            out.bulk(&key);
            for (m, s) in &popped {
                out.bulk(m);
                out.double(*s);
            }
            return;
        }
        Ok(None) => {}
    }
    if !ctx.block(&keys, Kind::ZSet, timeout) {
        ctx.out.null_array();
    }
}

pub fn bzpopmin(ctx: &mut Ctx) {
    bzpop_generic(ctx, false);
}

pub fn bzpopmax(ctx: &mut Ctx) {
    bzpop_generic(ctx, true);
}

/// MIN|MAX: true for MAX.
fn min_max_arg(arg: &[u8]) -> Option<bool> {
    if arg.eq_ignore_ascii_case(b"min") {
        Some(false)
    } else if arg.eq_ignore_ascii_case(b"max") {
        Some(true)
    } else {
        None
    }
}

/// Pop up to `count` from the first non-empty sorted set among `keys` (see
/// [`Ctx::first_holding`]); reply `[key, [[member, score], ...]]` (pairs nested in RESP2
/// too, as Redis), log the ZREM. Returns false when every key is empty (nothing replied),
/// None after WRONGTYPE.
fn zmpop_from(ctx: &mut Ctx, keys: &[Bytes], max: bool, count: usize) -> Option<bool> {
    let Some(key) = ctx.first_holding(keys, Kind::ZSet).ok()? else {
        return Some(false);
    };
    let popped = pop(ctx, &key, count, max);
    let out = &mut *ctx.out;
    out.array_len(2);
    out.bulk(&key);
    out.array_len(popped.len());
    for (m, s) in &popped {
        out.array_len(2);
        out.bulk(m);
        out.double(*s);
    }
    Some(true)
}

pub fn zmpop(ctx: &mut Ctx) {
    let Some((keys, max, count)) = super::mpop_args(ctx, 1, min_max_arg) else {
        return;
    };
    if zmpop_from(ctx, &keys, max, count) == Some(false) {
        ctx.out.null_array();
    }
}

pub fn bzmpop(ctx: &mut Ctx) {
    let Some(timeout) = blocking::timeout_arg(ctx, 1) else {
        return;
    };
    let Some((keys, max, count)) = super::mpop_args(ctx, 2, min_max_arg) else {
        return;
    };
    if zmpop_from(ctx, &keys, max, count) == Some(false) && !ctx.block(&keys, Kind::ZSet, timeout) {
        ctx.out.null_array();
    }
}

// ---- ZRANDMEMBER ---------------------------------------------------------------------

pub fn zrandmember(ctx: &mut Ctx) {
    if ctx.args.len() > 4
        || (ctx.args.len() == 4 && !ctx.args[3].eq_ignore_ascii_case(b"withscores"))
    {
        return ctx.error(SYNTAX);
    }
    let withscores = ctx.args.len() == 4;
    let count = if ctx.args.len() >= 3 {
        match crate::util::parse_i64_strict(&ctx.args[2]) {
            None => return ctx.error(NOT_INTEGER),
            Some(i64::MIN) => return ctx.error(COUNT_RANGE),
            Some(n) => Some(n),
        }
    } else {
        None
    };
    let key = ctx.args[1].clone();
    match probe(ctx, &key, true) {
        Err(_) => return,
        Ok(false) if count.is_some() => return ctx.out.array_len(0),
        Ok(false) => return ctx.out.null(),
        Ok(true) => {}
    }
    let db = ctx.sess.db;
    let st = &mut *ctx.st;
    let z = match st.ks.db(db).peek(&key).map(|e| &e.value) {
        Some(Value::ZSet(z)) => z,
        _ => unreachable!("checked above"),
    };
    let rng = &mut st.rng;
    let out = &mut *ctx.out;
    let len = z.len();
    let pick = |i: usize| z.get(i).expect("rank in range");
    match count {
        None => out.bulk(pick(rng.gen_range(0..len)).0),
        Some(0) => out.array_len(0),
        Some(n) if n < 0 => {
            let n = n.unsigned_abs() as usize;
            let picks = (0..n).map(|_| pick(rng.gen_range(0..len)));
            reply_pairs(out, n, withscores, picks);
        }
        // The whole set, highest score first (as Redis 7.0 does).
        Some(n) if n as usize >= len => reply_pairs(out, len, withscores, z.range(len - 1, true)),
        Some(n) => {
            let picks = rand::seq::index::sample(rng, len, n as usize);
            reply_pairs(out, picks.len(), withscores, picks.iter().map(pick));
        }
    }
}

// ---- the algebra ---------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy, PartialEq)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

/// An input of the algebra: a sorted set, a plain set (every member scores 1) or nothing.
#[derive(Clone, Copy)]
enum Src<'a> {
    None,
    Set(&'a Set),
    Z(&'a ZSet),
}

impl<'a> Src<'a> {
    fn len(&self) -> usize {
        match self {
            Src::None => 0,
            Src::Set(s) => s.len(),
            Src::Z(z) => z.len(),
        }
    }

    fn score(&self, m: &[u8]) -> Option<f64> {
        match self {
            Src::None => None,
            Src::Set(s) => s.contains(m).then_some(1.0),
            Src::Z(z) => z.score(m),
        }
    }

    fn items(&self) -> Box<dyn Iterator<Item = (&'a [u8], f64)> + 'a> {
        match *self {
            Src::None => Box::new(std::iter::empty()),
            Src::Set(s) => Box::new(s.iter().map(|m| (m, 1.0))),
            Src::Z(z) => Box::new(z.iter()),
        }
    }
}

fn aggregate(target: &mut f64, v: f64, agg: Aggregate) {
    match agg {
        Aggregate::Sum => {
            *target += v;
            // inf + -inf: Redis keeps the convention of 0.
            if target.is_nan() {
                *target = 0.0;
            }
        }
        Aggregate::Min => {
            if v < *target {
                *target = v
            }
        }
        Aggregate::Max => {
            if v > *target {
                *target = v
            }
        }
    }
}

/// The algebra's inputs at `keys` in `db` (the caller has checked their types).
fn sources<'a>(st: &'a State, db: usize, keys: &[Bytes]) -> Vec<Src<'a>> {
    let table = st.ks.db(db);
    keys.iter()
        .map(|k| match table.peek(k).map(|e| &e.value) {
            Some(Value::ZSet(z)) => Src::Z(z),
            Some(Value::Set(s)) => Src::Set(s),
            _ => Src::None,
        })
        .collect()
}

/// The number of keys at `numkeys_at`, as ZUNION and friends check it; None after
/// replying with the error.
fn zset_numkeys(ctx: &mut Ctx, numkeys_at: usize) -> Option<usize> {
    let name = String::from_utf8_lossy(&ctx.args[0]).to_lowercase();
    let numkeys = ctx.int_arg(numkeys_at)?;
    if numkeys < 1 {
        ctx.error(&format!(
            "ERR at least 1 input key is needed for '{name}' command"
        ));
        return None;
    }
    if numkeys as usize > ctx.args.len() - (numkeys_at + 1) {
        ctx.error(SYNTAX);
        return None;
    }
    Some(numkeys as usize)
}

/// WRONGTYPE unless every key is absent, a sorted set or a set.
fn check_algebra_types(ctx: &mut Ctx, keys: &[Bytes]) -> Option<()> {
    for k in keys {
        let kind = ctx.lookup_read(k).map(|e| e.value.kind());
        if kind.is_some_and(|k| k != Kind::ZSet && k != Kind::Set) {
            ctx.error(WRONGTYPE);
            return None;
        }
    }
    Some(())
}

/// ZINTERCARD numkeys key [key ...] [LIMIT limit]: the size of the intersection (sets
/// count as sorted sets), counting stops at `limit` (0: no limit).
pub fn zintercard(ctx: &mut Ctx) {
    let Some(n) = zset_numkeys(ctx, 1) else {
        return;
    };
    let keys: Vec<Bytes> = ctx.args[2..2 + n].to_vec();
    let Some(limit) = super::card_limit(ctx, 2 + n) else {
        return;
    };
    if check_algebra_types(ctx, &keys).is_none() {
        return;
    }
    let mut srcs = sources(ctx.st, ctx.sess.db, &keys);
    srcs.sort_by_key(|s| s.len());
    let mut count = 0usize;
    for (m, _) in srcs[0].items() {
        if srcs[1..].iter().all(|src| src.score(m).is_some()) {
            count += 1;
            if count == limit {
                break;
            }
        }
    }
    ctx.out.int(count as i64);
}

/// Redis's `zunionInterDiffGenericCommand`. `numkeys_at` is the index of numkeys; the
/// destination (STORE forms) is argument 1.
fn zsetop_generic(ctx: &mut Ctx, numkeys_at: usize, store_to: bool, op: SetOp) {
    let Some(n) = zset_numkeys(ctx, numkeys_at) else {
        return;
    };
    let first = numkeys_at + 1;
    let keys: Vec<Bytes> = ctx.args[first..first + n].to_vec();
    if check_algebra_types(ctx, &keys).is_none() {
        return;
    }
    let mut weights = vec![1.0f64; n];
    let mut agg = Aggregate::Sum;
    let mut withscores = false;
    let mut j = first + n;
    while j < ctx.args.len() {
        let remaining = ctx.args.len() - j;
        let a = &ctx.args[j];
        if op != SetOp::Diff && remaining > n && a.eq_ignore_ascii_case(b"weights") {
            for (w, arg) in weights.iter_mut().zip(&ctx.args[j + 1..j + 1 + n]) {
                match parse_score(arg) {
                    Some(v) => *w = v,
                    None => return ctx.error("ERR weight value is not a float"),
                }
            }
            j += 1 + n;
        } else if op != SetOp::Diff && remaining >= 2 && a.eq_ignore_ascii_case(b"aggregate") {
            let v = &ctx.args[j + 1];
            agg = if v.eq_ignore_ascii_case(b"sum") {
                Aggregate::Sum
            } else if v.eq_ignore_ascii_case(b"min") {
                Aggregate::Min
            } else if v.eq_ignore_ascii_case(b"max") {
                Aggregate::Max
            } else {
                return ctx.error(SYNTAX);
            };
            j += 2;
        } else if !store_to && a.eq_ignore_ascii_case(b"withscores") {
            withscores = true;
            j += 1;
        } else {
            return ctx.error(SYNTAX);
        }
    }
    let mut srcs: Vec<(Src, f64)> = sources(ctx.st, ctx.sess.db, &keys)
        .into_iter()
        .zip(weights)
        .collect();
    if op != SetOp::Diff {
        srcs.sort_by_key(|s| s.0.len());
    }
    let weighted = |s: f64, w: f64| {
        let v = s * w;
        if v.is_nan() {
            0.0
        } else {
            v
        }
    };
    let mut pairs: Vec<(&[u8], f64)> = Vec::new();
    match op {
        SetOp::Inter => {
            if srcs[0].0.len() > 0 {
                'outer: for (m, s) in srcs[0].0.items() {
                    let mut score = weighted(s, srcs[0].1);
                    for (src, w) in &srcs[1..] {
                        match src.score(m) {
                            Some(v) => aggregate(&mut score, weighted_raw(v, *w), agg),
                            None => continue 'outer,
                        }
                    }
                    pairs.push((m, score));
                }
            }
        }
        SetOp::Union => {
            let mut acc: std::collections::HashMap<&[u8], usize> = std::collections::HashMap::new();
            for (src, w) in &srcs {
                for (m, s) in src.items() {
                    let score = weighted(s, *w);
                    match acc.get(m) {
                        Some(&i) => aggregate(&mut pairs[i].1, score, agg),
                        None => {
                            acc.insert(m, pairs.len());
                            pairs.push((m, score));
                        }
                    }
                }
            }
        }
        SetOp::Diff => {
            for (m, s) in srcs[0].0.items() {
                if !srcs[1..].iter().any(|(src, _)| src.score(m).is_some()) {
                    pairs.push((m, s));
                }
            }
        }
    }
    let maxlen = pairs.iter().map(|p| p.0.len()).max().unwrap_or(0);
    let mut result = ZSet::with_hint(pairs.len(), maxlen);
    for (m, s) in pairs {
        result.insert(m, s);
    }
    if store_to {
        let dst = ctx.args[1].clone();
        let len = result.len();
        let event = match op {
            SetOp::Union => "zunionstore",
            SetOp::Inter => "zinterstore",
            SetOp::Diff => "zdiffstore",
        };
        super::store_result(ctx, &dst, result, (class::ZSET, event));
        return ctx.out.int(len as i64);
    }
    reply_pairs(ctx.out, result.len(), withscores, result.iter());
}

/// A score times a weight for an element found by lookup (Redis does not zero NaN here;
/// the aggregate does for SUM).
fn weighted_raw(v: f64, w: f64) -> f64 {
    v * w
}

pub fn zunionstore(ctx: &mut Ctx) {
    zsetop_generic(ctx, 2, true, SetOp::Union);
}

pub fn zinterstore(ctx: &mut Ctx) {
    zsetop_generic(ctx, 2, true, SetOp::Inter);
}

pub fn zdiffstore(ctx: &mut Ctx) {
    zsetop_generic(ctx, 2, true, SetOp::Diff);
}

pub fn zunion(ctx: &mut Ctx) {
    zsetop_generic(ctx, 1, false, SetOp::Union);
}

pub fn zinter(ctx: &mut Ctx) {
    zsetop_generic(ctx, 1, false, SetOp::Inter);
}

pub fn zdiff(ctx: &mut Ctx) {
    zsetop_generic(ctx, 1, false, SetOp::Diff);
}

// ---- ZSCAN ---------------------------------------------------------------------------

pub fn zscan(ctx: &mut Ctx) {
    let Some(cursor) = super::keys::parse_cursor(&ctx.args[2]) else {
        return ctx.error("ERR invalid cursor");
    };
    let key = ctx.args[1].clone();
    match probe(ctx, &key, true) {
        Err(_) => return,
        Ok(false) => {
            ctx.out.array_len(2);
            ctx.out.bulk(b"0");
            return ctx.out.array_len(0);
        }
        Ok(true) => {}
    }
    let Some((pattern, count)) = super::sets::scan_options(ctx, 3) else {
        return;
    };
    let z = get(ctx.st, ctx.sess.db, &key).expect("checked above");
    let mut found: Vec<(&[u8], f64)> = Vec::new();
    let next = z.scan(cursor, count, |m, s| {
        if pattern.as_ref().is_none_or(|p| glob_match(p, m, false)) {
            found.push((m, s));
        }
    });
    let out = &mut *ctx.out;
    out.array_len(2);
    out.bulk(next.to_string().as_bytes());
    out.array_len(found.len() * 2);
    for (m, s) in found {
        out.bulk(m);
        out.bulk(format_double(s).as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_parse_like_redis() {
        for (s, v) in [
            ("1", 1.0),
            ("+1", 1.0),
            ("-2.5", -2.5),
            (".5", 0.5),
            ("5.", 5.0),
            ("1e3", 1000.0),
            ("0x10", 16.0),
            ("inf", f64::INFINITY),
            ("+inf", f64::INFINITY),
            ("-Infinity", f64::NEG_INFINITY),
            ("4.9e-324", 5e-324),
        ] {
            assert_eq!(parse_score(s.as_bytes()), Some(v), "{s}");
        }
        for s in [
            "", " 1", "1 ", "nan", "-nan", "1e999", "1e-999", "1_0", "abc", "1e", "e5", ".",
        ] {
            assert_eq!(parse_score(s.as_bytes()), None, "{s:?}");
        }
        // Range ends: leading space, overflow and the empty string are accepted.
        assert_eq!(parse_range_end(b" 1"), Some(1.0));
        assert_eq!(parse_range_end(b"1e999"), Some(f64::INFINITY));
        assert_eq!(parse_range_end(b""), Some(0.0));
        assert_eq!(parse_range_end(b" "), None);
        assert_eq!(parse_range_end(b"nan"), None);
    }

    #[test]
    fn rank_bounds_like_redis() {
        assert_eq!(rank_bounds(0, -1, 5), Some((0, 5)));
        assert_eq!(rank_bounds(-2, -1, 5), Some((3, 5)));
        assert_eq!(rank_bounds(-100, 100, 5), Some((0, 5)));
        assert_eq!(rank_bounds(3, 1, 5), None);
        assert_eq!(rank_bounds(5, 10, 5), None);
        assert_eq!(rank_bounds(0, -6, 5), None);
    }
}
