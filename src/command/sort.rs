//! SORT and SORT_RO: sort a list, set or sorted set numerically or bytewise, optionally
//! by the values of other keys (`BY pattern`), returning or storing elements or other
//! keys' values (`GET pattern`).
//!
//! Contract (Redis 7.0's): `*` in a pattern is replaced by the element, `pattern->field`
//! reads a hash field, `GET #` is the element itself; a pattern without `*` in BY means
//! "do not sort" (native order: list order, sorted-set rank order, reversed by DESC),
//! except for a set being stored, which is then sorted bytewise so the stored list does
//! not depend on the set's internal order. Missing BY values sort as 0 (numeric) or
//! first (ALPHA); missing GET values are nil (stored as empty strings). ALPHA compares
//! bytes (Redis uses `strcoll`, which is the same in the C locale).
//!
//! The result is a function of the keyspace's contents alone (ties keep a list's or
//! sorted set's order, and a set's are broken by comparing the elements), so SORT ...
//! STORE is logged as received and replays to the same list.

use bytes::Bytes;

use super::{Ctx, SYNTAX, WRONGTYPE};
use crate::keyspace::{Kind, List, Set, Value, ZSet};

pub fn sort(ctx: &mut Ctx) {
    sort_generic(ctx, false);
}

pub fn sort_ro(ctx: &mut Ctx) {
    sort_generic(ctx, true);
}

struct Options {
    by: Option<Bytes>,
    gets: Vec<Bytes>,
    desc: bool,
    alpha: bool,
    limit: Option<(i64, i64)>,
    store: Option<Bytes>,
    /// BY a pattern without `*`: keep the native order.
    dontsort: bool,
}

/// Parse SORT's options (everything after the key). None after replying with the error.
fn parse(ctx: &mut Ctx, readonly: bool) -> Option<Options> {
    let mut o = Options {
        by: None,
        gets: Vec::new(),
        desc: false,
        alpha: false,
        limit: None,
        store: None,
        dontsort: false,
    };
    let args = ctx.args;
    let mut j = 2;
    while j < args.len() {
        let left = args.len() - j - 1;
        let opt = args[j].to_ascii_lowercase();
        match opt.as_slice() {
            b"asc" => o.desc = false,
            b"desc" => o.desc = true,
            b"alpha" => o.alpha = true,
            b"limit" if left >= 2 => {
                let (Some(start), Some(count)) = (ctx.int_arg(j + 1), ctx.int_arg(j + 2)) else {
                    return None;
                };
                o.limit = Some((start, count));
                j += 2;
            }
            b"store" if left >= 1 && !readonly => {
                o.store = Some(args[j + 1].clone());
                j += 1;
            }
            b"by" if left >= 1 => {
                let p = args[j + 1].clone();
                o.dontsort = !p.contains(&b'*');
                o.by = Some(p);
                j += 1;
            }
            b"get" if left >= 1 => {
                o.gets.push(args[j + 1].clone());
                j += 1;
            }
            _ => {
                ctx.error(SYNTAX);
                return None;
            }
        }
        j += 1;
    }
    Some(o)
}

/// The value `pattern` names for `elem` (see the module docs), or None.
fn by_pattern(ctx: &mut Ctx, pattern: &[u8], elem: &[u8]) -> Option<Vec<u8>> {
    if pattern == b"#" {
        return Some(elem.to_vec());
    }
    let star = pattern.iter().position(|&b| b == b'*')?;
    // `->field` after the `*`, with a non-empty field, reads a hash field.
    let arrow = pattern[star + 1..]
        .windows(2)
        .position(|w| w == b"->")
        .map(|p| star + 1 + p)
        .filter(|&p| p + 2 < pattern.len());
    let key_end = arrow.unwrap_or(pattern.len());
    let mut key = Vec::with_capacity(key_end + elem.len());
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(elem);
    key.extend_from_slice(&pattern[star + 1..key_end]);
    let value = &ctx.lookup_read(&key)?.value;
    match arrow {
        Some(p) => match value {
            Value::Hash(h) => h.get(&pattern[p + 2..]).map(<[u8]>::to_vec),
            _ => None,
        },
        None => value.as_string().map(|s| s.into_owned()),
    }
}

/// A BY value or element as SORT's numeric mode reads it: C `strtod` over the whole
/// C string, up to the first NUL (leading spaces allowed, the empty string is 0), no NaN,
/// no overflow or underflow.
fn sort_score(s: &[u8]) -> Option<f64> {
    // Redis hands the value to strtod as a C string: it ends at the first NUL byte.
    let s = s.split(|&b| b == 0).next().unwrap_or_default();
    if s.is_empty() {
        return Some(0.0);
    }
    let t = std::str::from_utf8(s).ok()?;
    let t = t.trim_start_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r']);
    let lower = t.to_ascii_lowercase();
    let unsigned = lower.trim_start_matches(['+', '-']);
    if unsigned.contains("nan") || lower.len() - unsigned.len() > 1 {
        return None;
    }
    let v: f64 = match unsigned {
        "inf" | "infinity" => f64::INFINITY,
        _ if unsigned.starts_with("0x") => {
            return i64::from_str_radix(&unsigned[2..], 16)
                .ok()
                .map(|v| if lower.starts_with('-') { -v } else { v } as f64);
        }
        _ => {
            let v: f64 = unsigned.parse().ok()?;
            // strtod reports ERANGE for overflow and for a non-zero value that underflows.
            let mantissa_nonzero = unsigned
                .split(['e', 'E'])
                .next()
                .is_some_and(|m| m.bytes().any(|b| (b'1'..=b'9').contains(&b)));
            if v.is_infinite() || (mantissa_nonzero && v.abs() < f64::MIN_POSITIVE) {
                return None;
            }
            v
        }
    };
    Some(if lower.starts_with('-') { -v } else { v })
}

enum Key {
    Score(f64),
    Alpha(Option<Vec<u8>>),
}

fn sort_generic(ctx: &mut Ctx, readonly: bool) {
    let Some(o) = parse(ctx, readonly) else {
        return;
    };
    let key = ctx.args[1].clone();
    let db = ctx.sess.db;
    // A read of the source even for SORT ... STORE, as Redis's (hit or miss counted).
    let kind = ctx.lookup_read(&key).map(|e| e.value.kind());
    let (mut dontsort, mut alpha, mut by) = (o.dontsort, o.alpha, o.by.clone());
    match kind {
        None | Some(Kind::List) | Some(Kind::Set) | Some(Kind::ZSet) => {}
        Some(_) => return ctx.error(WRONGTYPE),
    }
    if dontsort && kind == Some(Kind::Set) && o.store.is_some() {
        // A set's internal order must not reach a stored (and logged) list.
        dontsort = false;
        alpha = true;
        by = None;
    }
    let len = match kind {
        Some(Kind::List) => super::typed::<List>(ctx.st, db, &key).map_or(0, List::len),
        Some(Kind::Set) => super::typed::<Set>(ctx.st, db, &key).map_or(0, Set::len),
        Some(Kind::ZSet) => super::typed::<ZSet>(ctx.st, db, &key).map_or(0, ZSet::len),
        _ => 0,
    } as i64;
    // LIMIT, with Redis's clamping: `start..=end` of the sorted elements.
    let (limit_start, limit_count) = o.limit.unwrap_or((0, -1));
    let mut start = limit_start.max(0);
    let mut end = if limit_count < 0 {
        len - 1
    } else {
        start.saturating_add(limit_count - 1)
    };
    if start >= len {
        start = len - 1;
        end = len - 2;
    }
    end = end.min(len - 1);

    let native_range = dontsort && matches!(kind, Some(Kind::List) | Some(Kind::ZSet));
    let elements: Vec<Vec<u8>> = if native_range {
        // Native order, reversed by DESC, and only the LIMIT range.
        let (s, n) = if end >= start {
            (start as usize, (end - start + 1) as usize)
        } else {
            (0, 0)
        };
        let from = |len: i64| if o.desc { (len - 1) as usize - s } else { s };
        let v = match kind {
            Some(Kind::List) => {
                let l = super::typed::<List>(ctx.st, db, &key).expect("kind checked");
                if n == 0 {
                    Vec::new()
                } else if o.desc {
                    let top = from(len);
                    (0..n)
                        .filter_map(|i| l.get(top - i).map(<[u8]>::to_vec))
                        .collect()
                } else {
                    l.iter_from(s).take(n).map(<[u8]>::to_vec).collect()
                }
            }
            _ => {
                let z = super::typed::<ZSet>(ctx.st, db, &key).expect("kind checked");
                if n == 0 {
                    Vec::new()
                } else {
                    z.range(from(len), o.desc)
                        .take(n)
                        .map(|(m, _)| m.to_vec())
                        .collect()
                }
            }
        };
        end -= start;
        start = 0;
        v
    } else {
        match kind {
            Some(Kind::List) => super::typed::<List>(ctx.st, db, &key)
                .map(|l| l.iter().map(<[u8]>::to_vec).collect())
                .unwrap_or_default(),
            Some(Kind::Set) => super::typed::<Set>(ctx.st, db, &key)
                .map(|s| s.iter().map(<[u8]>::to_vec).collect())
                .unwrap_or_default(),
            Some(Kind::ZSet) => super::typed::<ZSet>(ctx.st, db, &key)
                .map(|z| z.iter().map(|(m, _)| m.to_vec()).collect())
                .unwrap_or_default(),
            _ => Vec::new(),
        }
    };

    let elements = if dontsort {
        elements
    } else {
        let mut keyed = Vec::with_capacity(elements.len());
        // A value that is not a number fails the command only after every BY key was
        // looked up, as in Redis (each lookup can publish `keymiss`).
        let mut not_a_number = false;
        for e in elements {
            let value = match &by {
                Some(p) => by_pattern(ctx, p, &e),
                None => Some(e.clone()),
            };
            let k = if alpha {
                Key::Alpha(value)
            } else {
                match value.as_deref().map(sort_score) {
                    None => Key::Score(0.0),
                    Some(Some(f)) => Key::Score(f),
                    Some(None) => {
                        not_a_number = true;
                        Key::Score(0.0)
                    }
                }
            };
            keyed.push((k, e));
        }
        if not_a_number {
            return ctx.error("ERR One or more scores can't be converted into double");
        }
        keyed.sort_by(|(ka, ea), (kb, eb)| {
            let primary = match (ka, kb) {
                (Key::Score(a), Key::Score(b)) => {
                    a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal)
                }
                (Key::Alpha(a), Key::Alpha(b)) => a.cmp(b),
                _ => std::cmp::Ordering::Equal,
            };
            // Ties: numeric mode compares the elements (as Redis does); ALPHA BY keeps
            // the input order (Redis's qsort is glibc's stable merge sort), which for a set
            // is its internal order, so there the elements decide, keeping a stored
            // result independent of how the set was built.
            let c = match ka {
                Key::Score(_) => primary.then_with(|| ea.cmp(eb)),
                Key::Alpha(_) if kind == Some(Kind::Set) => primary.then_with(|| ea.cmp(eb)),
                Key::Alpha(_) => primary,
            };
            if o.desc {
                c.reverse()
            } else {
                c
            }
        });
        keyed.into_iter().map(|(_, e)| e).collect()
    };

    // The output: elements start..=end, each as itself or as its GET values.
    let n = if end >= start {
        (end - start + 1) as usize
    } else {
        0
    };
    let picked = elements.iter().skip(start.max(0) as usize).take(n);
    let mut out: Vec<Option<Vec<u8>>> = Vec::with_capacity(n * o.gets.len().max(1));
    for e in picked {
        if o.gets.is_empty() {
            out.push(Some(e.clone()));
        }
        for g in &o.gets {
            out.push(by_pattern(ctx, g, e));
        }
    }

    let Some(dst) = o.store else {
        ctx.out.array_len(out.len());
        for v in &out {
            match v {
                Some(v) => ctx.out.bulk(v),
                None => ctx.out.null(),
            }
        }
        return;
    };
    let n = out.len();
    let list = List::from_elements(out.into_iter().map(Option::unwrap_or_default));
    super::store_result(ctx, &dst, list, (super::notify::class::LIST, "sortstore"));
    ctx.out.int(n as i64);
}

#[cfg(test)]
mod tests {
    use super::sort_score;

    #[test]
    fn scores_parse_as_strtod_over_the_whole_string() {
        assert_eq!(sort_score(b""), Some(0.0));
        assert_eq!(sort_score(b"  1.5"), Some(1.5));
        assert_eq!(sort_score(b"-2"), Some(-2.0));
        assert_eq!(sort_score(b"+3e2"), Some(300.0));
        assert_eq!(sort_score(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(sort_score(b"0x10"), Some(16.0));
        assert_eq!(sort_score(b"1 "), None);
        // C strings end at the first NUL (found by difftest: SETRANGE pads with NULs).
        assert_eq!(sort_score(b"3.5\0\0\0x"), Some(3.5));
        assert_eq!(sort_score(b"\0abc"), Some(0.0));
        assert_eq!(sort_score(b"   "), None);
        assert_eq!(sort_score(b"nan"), None);
        assert_eq!(sort_score(b"1e999"), None);
        assert_eq!(sort_score(b"1e-400"), None);
        assert_eq!(sort_score(b"0e-400"), Some(0.0));
        assert_eq!(sort_score(b"--1"), None);
        assert_eq!(sort_score(b"abc"), None);
    }
}
