//! Small pure helpers shared by several layers: strict number parsing as Redis does it,
//! glob matching, and the wall clock.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch.
/// `a` in double quotes with Redis's escapes (sdscatrepr: `\\ \" \n \r \t \a \b`, other
/// bytes outside printable ASCII as `\xHH`), which Redis's and Strata's parsers of quoted
/// arguments read back as the same bytes. MONITOR, CONFIG REWRITE and `verify-aof dump`
/// quote with it.
pub fn quote(o: &mut String, a: &[u8]) {
    use std::fmt::Write;
    o.push('"');
    for &b in a {
        match b {
            b'\\' => o.push_str("\\\\"),
            b'"' => o.push_str("\\\""),
            b'\n' => o.push_str("\\n"),
            b'\r' => o.push_str("\\r"),
            b'\t' => o.push_str("\\t"),
            7 => o.push_str("\\a"),
            8 => o.push_str("\\b"),
            b if b.is_ascii_graphic() || b == b' ' => o.push(b as char),
            b => {
                let _ = write!(o, "\\x{b:02x}");
            }
        }
    }
    o.push('"');
}

/// `bytes` as lower-case hex (digests: script SHA-1s, ACL password hashes).
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(2 * bytes.len());
    for &b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Microseconds since the Unix epoch.
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// Parse a decimal i64 exactly as Redis's `string2ll`: an optional '-', then digits with
/// no leading zero (except "0" itself), no spaces, no '+', at most 20 characters.
pub fn parse_i64_strict(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (neg, digits) = match s[0] {
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || digits[0] == b'0' {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    if neg {
        if v > i64::MAX as u64 + 1 {
            None
        } else {
            Some((v as i64).wrapping_neg())
        }
    } else if v > i64::MAX as u64 {
        None
    } else {
        Some(v as i64)
    }
}

/// Parse a float as Redis's `string2ld`/`strtold` accepts it for INCRBYFLOAT and scores:
/// no surrounding spaces, "inf"/"-inf"/"+inf" allowed (case-insensitive), NaN refused.
pub fn parse_f64(s: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(s).ok()?;
    if s.is_empty() || s.starts_with(char::is_whitespace) || s.ends_with(char::is_whitespace) {
        return None;
    }
    let lower = s.to_ascii_lowercase();
    let v = match lower.as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => f64::INFINITY,
        "-inf" | "-infinity" => f64::NEG_INFINITY,
        _ => {
            // Rust accepts "nan" and "inf" spellings we filter above; reject the rest of NaN.
            if lower.contains("nan") {
                return None;
            }
            lower.parse::<f64>().ok()?
        }
    };
    Some(v)
}

/// Glob-style matching with Redis's rules (`*`, `?`, `[a-z]`, `[^x]`, `\` escapes).
pub fn glob_match(pattern: &[u8], s: &[u8], nocase: bool) -> bool {
    let mut skip_longer = false;
    glob_inner(pattern, s, nocase, 0, &mut skip_longer)
}

/// `skip_longer` is Redis's pruning: once the rest of the pattern failed because the string
/// ran out, trying it against a shorter suffix cannot succeed, which keeps "*a*a*a*b" linear.
fn glob_inner(
    mut p: &[u8],
    mut s: &[u8],
    nocase: bool,
    depth: usize,
    skip_longer: &mut bool,
) -> bool {
    // Bound recursion on adversarial patterns such as "*a*a*a*...".
    if depth > 1000 {
        return false;
    }
    let eq = |a: u8, b: u8| {
        if nocase {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    };
    while !p.is_empty() {
        match p[0] {
            b'*' => {
                while p.len() > 1 && p[1] == b'*' {
                    p = &p[1..];
                }
                if p.len() == 1 {
                    return true;
                }
                while !s.is_empty() {
                    if glob_inner(&p[1..], s, nocase, depth + 1, skip_longer) {
                        return true;
                    }
                    if *skip_longer {
                        return false;
                    }
                    s = &s[1..];
                }
                *skip_longer = true;
                return false;
            }
            b'?' => {
                if s.is_empty() {
                    return false;
                }
                s = &s[1..];
            }
            b'[' => {
                if s.is_empty() {
                    return false;
                }
                p = &p[1..];
                let not = !p.is_empty() && p[0] == b'^';
                if not {
                    p = &p[1..];
                }
                let mut matched = false;
                loop {
                    if p.is_empty() {
                        break;
                    }
                    if p[0] == b'\\' && p.len() >= 2 {
                        p = &p[1..];
                        if eq(p[0], s[0]) {
                            matched = true;
                        }
                    } else if p[0] == b']' {
                        break;
                    } else if p.len() >= 3 && p[1] == b'-' {
                        let (mut lo, mut hi) = (p[0], p[2]);
                        if lo > hi {
                            std::mem::swap(&mut lo, &mut hi);
                        }
                        let c = s[0];
                        let in_range = if nocase {
                            let c = c.to_ascii_lowercase();
                            c >= lo.to_ascii_lowercase() && c <= hi.to_ascii_lowercase()
                        } else {
                            c >= lo && c <= hi
                        };
                        if in_range {
                            matched = true;
                        }
                        p = &p[2..];
                    } else if eq(p[0], s[0]) {
                        matched = true;
                    }
                    p = &p[1..];
                }
                if not {
                    matched = !matched;
                }
                if !matched {
                    return false;
                }
                s = &s[1..];
                if p.is_empty() {
                    // Unterminated class: Redis treats the end of pattern as closing it.
                    return s.is_empty();
                }
            }
            b'\\' if p.len() >= 2 => {
                p = &p[1..];
                if s.is_empty() || !eq(p[0], s[0]) {
                    return false;
                }
                s = &s[1..];
            }
            c => {
                if s.is_empty() || !eq(c, s[0]) {
                    return false;
                }
                s = &s[1..];
            }
        }
        p = &p[1..];
    }
    s.is_empty()
}

/// Bytes currently allocated through [`CountingAlloc`] (0 when the process does not use
/// it, e.g. the tests): INFO `used_memory`, as Redis's zmalloc counts it.
pub static ALLOCATED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A global allocator wrapper that keeps [`ALLOCATED`] up to date, counting each block
/// at the size class the allocator serves it from ([`crate::keyspace::alloc_size`]).
pub struct CountingAlloc<A>(pub A);

// SAFETY: every call is forwarded unchanged to the wrapped allocator; only a counter is
// updated besides.
unsafe impl<A: std::alloc::GlobalAlloc> std::alloc::GlobalAlloc for CountingAlloc<A> {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        let p = self.0.alloc(layout);
        if !p.is_null() {
            ALLOCATED.fetch_add(
                crate::keyspace::alloc_size(layout.size()),
                std::sync::atomic::Ordering::Relaxed,
            );
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        let p = self.0.alloc_zeroed(layout);
        if !p.is_null() {
            ALLOCATED.fetch_add(
                crate::keyspace::alloc_size(layout.size()),
                std::sync::atomic::Ordering::Relaxed,
            );
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        self.0.dealloc(ptr, layout);
        ALLOCATED.fetch_sub(
            crate::keyspace::alloc_size(layout.size()),
            std::sync::atomic::Ordering::Relaxed,
        );
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        let p = self.0.realloc(ptr, layout, new_size);
        if !p.is_null() {
            let (old, new) = (
                crate::keyspace::alloc_size(layout.size()),
                crate::keyspace::alloc_size(new_size),
            );
            if new >= old {
                ALLOCATED.fetch_add(new - old, std::sync::atomic::Ordering::Relaxed);
            } else {
                ALLOCATED.fetch_sub(old - new, std::sync::atomic::Ordering::Relaxed);
            }
        }
        p
    }
}

/// Replace `buf[range]` by `with`, as `Vec::splice` does, but moving the tail once and
/// copying `with` in one piece (`splice` fills the gap byte by byte: 5% of LPUSH at
/// pipeline 16). Grows `buf` through `resize` (callers that manage capacity reserve first).
pub fn splice_bytes(buf: &mut Vec<u8>, range: std::ops::Range<usize>, with: &[u8]) {
    let (start, end, len) = (range.start, range.end, buf.len());
    assert!(
        start <= end && end <= len,
        "splice_bytes range out of bounds"
    );
    let removed = end - start;
    if with.len() >= removed {
        let grow = with.len() - removed;
        buf.resize(len + grow, 0);
        buf.copy_within(end..len, end + grow);
    } else {
        let shrink = removed - with.len();
        buf.copy_within(end..len, end - shrink);
        buf.truncate(len - shrink);
    }
    buf[start..start + with.len()].copy_from_slice(with);
}

/// Hint the CPU to start loading the cache line at `p` (no effect elsewhere). Never
/// faults, whatever `p` is: a hint, not an access.
#[inline(always)]
pub fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: PREFETCHT0 reads nothing architecturally and cannot fault on any address;
    // SSE is part of the x86_64 baseline. Exercised by every snapshot test (the snapshot
    // writer prefetches the entries it encodes).
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p as *const i8);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Lower the calling thread's scheduling priority by `nice` steps (Linux: niceness is per
/// thread), for background work that must not compete with the event loop. Best effort:
/// elsewhere, or if refused, nothing changes.
pub fn lower_thread_priority(nice: i32) {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: plain syscall wrappers without pointers; `gettid` cannot fail and
        // `setpriority` only affects the calling thread. Exercised by every snapshot test
        // (the snapshot writer thread calls this) and by `lowering_thread_priority_works`.
        unsafe {
            let tid = libc::gettid();
            let now = libc::getpriority(libc::PRIO_PROCESS, tid as libc::id_t);
            libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, now + nice);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = nice;
}

#[cfg(test)]
mod tests {
    #[test]
    fn arguments_are_quoted_as_redis_does() {
        let mut o = String::new();
        super::quote(&mut o, b"x\"y\n\x01\\ \t\x07\x08\r\xff~");
        assert_eq!(o, r#""x\"y\n\x01\\ \t\a\b\r\xff~""#);
    }

    use proptest::prelude::*;

    proptest! {
        #[test]
        fn splice_bytes_matches_vec_splice(
            buf in prop::collection::vec(any::<u8>(), 0..200),
            a in 0usize..200,
            b in 0usize..200,
            with in prop::collection::vec(any::<u8>(), 0..100),
        ) {
            let (mut start, mut end) = (a.min(buf.len()), b.min(buf.len()));
            if start > end {
                std::mem::swap(&mut start, &mut end);
            }
            let mut want = buf.clone();
            want.splice(start..end, with.iter().copied());
            let mut got = buf.clone();
            super::splice_bytes(&mut got, start..end, &with);
            prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn counting_alloc_tracks_live_bytes() {
        use std::alloc::{GlobalAlloc, Layout, System};
        use std::sync::atomic::Ordering;
        let a = super::CountingAlloc(System);
        let before = super::ALLOCATED.load(Ordering::Relaxed);
        let l = Layout::from_size_align(1000, 8).unwrap();
        // SAFETY: matched alloc/realloc/dealloc with the layouts used.
        unsafe {
            let p = a.alloc(l);
            assert_eq!(super::ALLOCATED.load(Ordering::Relaxed) - before, 1024);
            let p = a.realloc(p, l, 10);
            assert_eq!(super::ALLOCATED.load(Ordering::Relaxed) - before, 16);
            a.dealloc(p, Layout::from_size_align(10, 8).unwrap());
        }
        assert_eq!(super::ALLOCATED.load(Ordering::Relaxed), before);
    }

    use super::*;

    #[test]
    fn strict_integers() {
        assert_eq!(parse_i64_strict(b"0"), Some(0));
        assert_eq!(parse_i64_strict(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64_strict(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64_strict(b"9223372036854775808"), None);
        for bad in [&b""[..], b"01", b"+1", b" 1", b"1 ", b"-", b"-0", b"1.0"] {
            assert_eq!(parse_i64_strict(bad), None, "{:?}", bad);
        }
    }

    #[test]
    fn globs() {
        assert!(glob_match(b"*", b"anything", false));
        assert!(glob_match(b"h?llo", b"hello", false));
        assert!(glob_match(b"h[ae]llo", b"hallo", false));
        assert!(!glob_match(b"h[^e]llo", b"hello", false));
        assert!(glob_match(b"h[a-b]llo", b"hbllo", false));
        assert!(glob_match(b"h\\*llo", b"h*llo", false));
        assert!(!glob_match(b"h\\*llo", b"hello", false));
        assert!(glob_match(b"key:*", b"key:000000000001", false));
        assert!(glob_match(b"HELLO", b"hello", true));
        let evil = b"*a*a*a*a*a*a*a*a*a*a*a*a*b".to_vec();
        assert!(!glob_match(&evil, &[b'a'; 30], false));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn lowering_thread_priority_works() {
        let niceness = || {
            // SAFETY: as in lower_thread_priority.
            unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t) }
        };
        let got = std::thread::spawn(move || {
            let before = niceness();
            lower_thread_priority(3);
            niceness() - before
        })
        .join()
        .unwrap();
        assert_eq!(got, 3);
    }
}
