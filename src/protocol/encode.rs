//! Reply encoder. Commands write replies straight into a connection's [`ReplyBuf`]; each
//! method encodes one RESP type for the negotiated protocol (RESP2 or RESP3), downgrading
//! RESP3-only types the way Redis does (map -> flat array, double -> bulk string, ...).

/// Output buffer for one connection's replies.
#[derive(Debug, Default, Clone)]
pub struct ReplyBuf {
    buf: Vec<u8>,
    resp3: bool,
}

impl ReplyBuf {
    pub fn new(resp3: bool) -> Self {
        ReplyBuf {
            buf: Vec::with_capacity(256),
            resp3,
        }
    }

    pub fn resp3(&self) -> bool {
        self.resp3
    }

    pub fn set_resp3(&mut self, yes: bool) {
        self.resp3 = yes;
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Drop everything written after `len` (used to discard a partial reply).
    pub fn truncate(&mut self, len: usize) {
        self.buf.truncate(len);
    }

    pub fn clear(&mut self) {
        self.buf.clear();
    }

    /// Move the bytes written from `from` on to `at` (at most `from`), shifting what was
    /// between them after: a reply produced late is put back in its command's place.
    pub fn move_tail_to(&mut self, from: usize, at: usize) {
        debug_assert!(at <= from && from <= self.buf.len());
        let n = self.buf.len() - from;
        self.buf[at..].rotate_right(n);
    }

    /// Take the encoded bytes, leaving the buffer empty (its capacity is kept by `swap`).
    pub fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }

    /// Exchange the encoded bytes with `other` (used to hand a batch to the socket writer
    /// without copying or reallocating).
    pub fn swap(&mut self, other: &mut Vec<u8>) {
        std::mem::swap(&mut self.buf, other);
    }

    /// Append bytes that are already valid RESP.
    pub fn raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    fn header(&mut self, tag: u8, n: i64) {
        self.buf.push(tag);
        let mut b = itoa::Buffer::new();
        self.buf.extend_from_slice(b.format(n).as_bytes());
        self.buf.extend_from_slice(b"\r\n");
    }

    /// `+s` — `s` must not contain CR or LF.
    pub fn simple(&mut self, s: &str) {
        self.buf.push(b'+');
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.extend_from_slice(b"\r\n");
    }

    pub fn ok(&mut self) {
        self.buf.extend_from_slice(b"+OK\r\n");
    }

    /// `-msg`. `msg` starts with the error code (`ERR ...`, `WRONGTYPE ...`); CR/LF are
    /// replaced by spaces so a message can never break the framing.
    pub fn error(&mut self, msg: &str) {
        self.buf.push(b'-');
        self.buf.extend(
            msg.bytes()
                .map(|c| if c == b'\r' || c == b'\n' { b' ' } else { c }),
        );
        self.buf.extend_from_slice(b"\r\n");
    }

    pub fn int(&mut self, n: i64) {
        self.header(b':', n);
    }

    pub fn bulk(&mut self, data: &[u8]) {
        self.header(b'$', data.len() as i64);
        self.buf.extend_from_slice(data);
        self.buf.extend_from_slice(b"\r\n");
    }

    /// A bulk string holding the decimal form of `n`.
    pub fn bulk_int(&mut self, n: i64) {
        let mut b = itoa::Buffer::new();
        self.bulk(b.format(n).as_bytes());
    }

    /// The null bulk string (`$-1`, RESP3 `_`).
    pub fn null(&mut self) {
        if self.resp3 {
            self.buf.extend_from_slice(b"_\r\n");
        } else {
            self.buf.extend_from_slice(b"$-1\r\n");
        }
    }

    /// The null array (`*-1`, RESP3 `_`).
    pub fn null_array(&mut self) {
        if self.resp3 {
            self.buf.extend_from_slice(b"_\r\n");
        } else {
            self.buf.extend_from_slice(b"*-1\r\n");
        }
    }

    pub fn array_len(&mut self, n: usize) {
        self.header(b'*', n as i64);
    }

    /// A map of `n` pairs; in RESP2 a flat array of `2n` elements.
    pub fn map_len(&mut self, n: usize) {
        if self.resp3 {
            self.header(b'%', n as i64);
        } else {
            self.header(b'*', 2 * n as i64);
        }
    }

    /// A set of `n` elements; in RESP2 an array.
    pub fn set_len(&mut self, n: usize) {
        self.header(if self.resp3 { b'~' } else { b'*' }, n as i64);
    }

    /// An out-of-band push of `n` elements; in RESP2 an array.
    pub fn push_len(&mut self, n: usize) {
        self.header(if self.resp3 { b'>' } else { b'*' }, n as i64);
    }

    /// A double; in RESP2 a bulk string, formatted as Redis does.
    pub fn double(&mut self, d: f64) {
        let s = format_double(d);
        if self.resp3 {
            self.buf.push(b',');
            self.buf.extend_from_slice(s.as_bytes());
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(s.as_bytes());
        }
    }

    /// A boolean; in RESP2 the integer 1 or 0.
    pub fn boolean(&mut self, b: bool) {
        if self.resp3 {
            self.buf
                .extend_from_slice(if b { b"#t\r\n" } else { b"#f\r\n" });
        } else {
            self.int(b as i64);
        }
    }

    /// Verbatim text with a three-letter format (`txt`, `mkd`); in RESP2 a bulk string.
    pub fn verbatim(&mut self, format: &str, text: &[u8]) {
        if self.resp3 {
            debug_assert_eq!(format.len(), 3);
            self.header(b'=', (text.len() + 4) as i64);
            self.buf.extend_from_slice(format.as_bytes());
            self.buf.push(b':');
            self.buf.extend_from_slice(text);
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(text);
        }
    }

    /// An arbitrary-precision integer given in decimal; in RESP2 a bulk string.
    pub fn big_number(&mut self, digits: &str) {
        if self.resp3 {
            self.buf.push(b'(');
            self.buf.extend_from_slice(digits.as_bytes());
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(digits.as_bytes());
        }
    }

    /// An array of bulk strings.
    pub fn bulk_array<'a, I: IntoIterator<Item = &'a [u8]>>(&mut self, n: usize, items: I) {
        self.array_len(n);
        for i in items {
            self.bulk(i);
        }
    }
}

/// Format a double as Redis 7.0 does in replies (`%.17g`, `inf`, `-inf`, `nan`).
pub fn format_double(d: f64) -> String {
    if d.is_nan() {
        return "nan".into();
    }
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if d == 0.0 {
        return if d.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    // %.17g: 17 significant digits, scientific when exp < -4 or exp >= 17,
    // trailing zeros (and a bare '.') removed.
    let sci = format!("{:.16e}", d);
    let (mantissa, exp) = sci.split_once('e').expect("{:e} always has an exponent");
    let exp: i32 = exp.parse().expect("{:e} exponent is an integer");
    if !(-4..17).contains(&exp) {
        let m = trim_zeros(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{m}e{sign}{:02}", exp.abs());
    }
    let decimals = (16 - exp).max(0) as usize;
    trim_zeros(&format!("{:.*}", decimals, d)).to_string()
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_like_redis() {
        assert_eq!(format_double(1.5), "1.5");
        assert_eq!(format_double(0.1), "0.10000000000000001");
        assert_eq!(format_double(3.0), "3");
        assert_eq!(format_double(1e20), "1e+20");
        assert_eq!(format_double(1.25e-5), "1.2500000000000001e-05");
        assert_eq!(format_double(f64::INFINITY), "inf");
        assert_eq!(format_double(f64::NEG_INFINITY), "-inf");
        assert_eq!(format_double(-2.5), "-2.5");
        assert_eq!(format_double(123456789.0), "123456789");
    }

    #[test]
    fn resp2_downgrades() {
        let mut r = ReplyBuf::new(false);
        r.map_len(1);
        r.bulk(b"a");
        r.double(2.0);
        r.boolean(true);
        r.null();
        r.null_array();
        assert_eq!(
            r.as_bytes(),
            b"*2\r\n$1\r\na\r\n$1\r\n2\r\n:1\r\n$-1\r\n*-1\r\n"
        );
        let mut r = ReplyBuf::new(true);
        r.map_len(1);
        r.bulk(b"a");
        r.double(2.0);
        r.boolean(true);
        r.null();
        r.verbatim("txt", b"hi");
        r.set_len(0);
        r.push_len(1);
        r.big_number("123");
        assert_eq!(
            r.as_bytes(),
            b"%1\r\n$1\r\na\r\n,2\r\n#t\r\n_\r\n=6\r\ntxt:hi\r\n~0\r\n>1\r\n(123\r\n"
        );
    }

    #[test]
    fn errors_cannot_break_framing() {
        let mut r = ReplyBuf::new(false);
        r.error("ERR bad\r\nthing");
        assert_eq!(r.as_bytes(), b"-ERR bad  thing\r\n");
    }
}
