//! A general RESP2/RESP3 value, with a bounded decoder and an encoder that round-trip.
//! Used to read replies (tests, tools, fuzzing); the server's request path uses the
//! faster [`super::RequestDecoder`].

use super::ReplyBuf;

/// Nesting deeper than this is rejected instead of recursing further.
pub const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    Simple(String),
    Error(String),
    Integer(i64),
    Bulk(Vec<u8>),
    /// RESP2 `$-1`.
    NullBulk,
    /// RESP2 `*-1`.
    NullArray,
    /// RESP3 `_`.
    Null,
    Array(Vec<Frame>),
    Map(Vec<(Frame, Frame)>),
    Set(Vec<Frame>),
    Push(Vec<Frame>),
    Double(f64),
    Boolean(bool),
    Verbatim(String, Vec<u8>),
    BigNumber(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("unknown RESP type byte {0:#04x}")]
    UnknownType(u8),
    #[error("invalid length or number in RESP header")]
    BadNumber,
    #[error("length {0} exceeds the limit")]
    TooLong(u64),
    #[error("nesting deeper than {MAX_DEPTH}")]
    TooDeep,
    #[error("missing CRLF after a bulk payload")]
    MissingCrlf,
    #[error("invalid UTF-8 in a text frame")]
    BadUtf8,
}

impl Frame {
    /// Decode one frame from the front of `buf`. `Ok(None)`: more bytes are needed.
    /// On success returns the frame and the number of bytes it used. Lengths above
    /// `max_len` (bulk bytes or aggregate elements) are rejected before allocating.
    pub fn decode(buf: &[u8], max_len: usize) -> Result<Option<(Frame, usize)>, FrameError> {
        let mut pos = 0;
        match decode_at(buf, &mut pos, max_len, 0)? {
            Some(f) => Ok(Some((f, pos))),
            None => Ok(None),
        }
    }

    /// Encode with RESP3 types preserved (RESP2 frames encode as themselves).
    pub fn encode(&self, out: &mut ReplyBuf) {
        match self {
            Frame::Simple(s) => out.simple(s),
            Frame::Error(e) => out.error(e),
            Frame::Integer(i) => out.int(*i),
            Frame::Bulk(b) => out.bulk(b),
            Frame::NullBulk => out.raw(b"$-1\r\n"),
            Frame::NullArray => out.raw(b"*-1\r\n"),
            Frame::Null => out.raw(b"_\r\n"),
            Frame::Array(items) => {
                out.array_len(items.len());
                items.iter().for_each(|f| f.encode(out));
            }
            Frame::Map(pairs) => {
                out.raw(format!("%{}\r\n", pairs.len()).as_bytes());
                for (k, v) in pairs {
                    k.encode(out);
                    v.encode(out);
                }
            }
            Frame::Set(items) | Frame::Push(items) => {
                let tag = if matches!(self, Frame::Set(_)) {
                    '~'
                } else {
                    '>'
                };
                out.raw(format!("{tag}{}\r\n", items.len()).as_bytes());
                items.iter().for_each(|f| f.encode(out));
            }
            Frame::Double(d) => out.raw(format!(",{}\r\n", super::format_double(*d)).as_bytes()),
            Frame::Boolean(b) => out.raw(if *b { b"#t\r\n" } else { b"#f\r\n" }),
            Frame::Verbatim(fmt, text) => {
                out.raw(format!("={}\r\n{fmt}:", text.len() + 4).as_bytes());
                out.raw(text);
                out.raw(b"\r\n");
            }
            Frame::BigNumber(n) => out.raw(format!("({n}\r\n").as_bytes()),
        }
    }

    /// Convenience for tests: the bytes of a bulk or simple string.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Frame::Bulk(b) => Some(b),
            Frame::Simple(s) => Some(s.as_bytes()),
            _ => None,
        }
    }
}

fn line<'a>(buf: &'a [u8], pos: &mut usize) -> Option<&'a [u8]> {
    let rest = &buf[*pos..];
    let i = memchr::memchr(b'\r', rest)?;
    if i + 1 >= rest.len() {
        return None;
    }
    *pos += i + 2;
    Some(&rest[..i])
}

fn text(b: &[u8]) -> Result<String, FrameError> {
    String::from_utf8(b.to_vec()).map_err(|_| FrameError::BadUtf8)
}

fn decode_at(
    buf: &[u8],
    pos: &mut usize,
    max_len: usize,
    depth: usize,
) -> Result<Option<Frame>, FrameError> {
    if depth > MAX_DEPTH {
        return Err(FrameError::TooDeep);
    }
    if *pos >= buf.len() {
        return Ok(None);
    }
    let tag = buf[*pos];
    let start = *pos;
    *pos += 1;
    let Some(l) = line(buf, pos) else {
        *pos = start;
        return Ok(None);
    };
    let num = || crate::util::parse_i64_strict(l).ok_or(FrameError::BadNumber);
    let len = |n: i64| -> Result<usize, FrameError> {
        if n < 0 {
            Err(FrameError::BadNumber)
        } else if n as u64 > max_len as u64 {
            Err(FrameError::TooLong(n as u64))
        } else {
            Ok(n as usize)
        }
    };
    let frame = match tag {
        b'+' => Frame::Simple(text(l)?),
        b'-' => Frame::Error(text(l)?),
        b':' => Frame::Integer(num()?),
        b'_' if l.is_empty() => Frame::Null,
        b'#' => match l {
            b"t" => Frame::Boolean(true),
            b"f" => Frame::Boolean(false),
            _ => return Err(FrameError::BadNumber),
        },
        b',' => {
            let s = std::str::from_utf8(l).map_err(|_| FrameError::BadUtf8)?;
            let d = match s {
                "inf" => f64::INFINITY,
                "-inf" => f64::NEG_INFINITY,
                _ => s.parse::<f64>().map_err(|_| FrameError::BadNumber)?,
            };
            Frame::Double(d)
        }
        b'(' => {
            let s = text(l)?;
            let digits = s.strip_prefix('-').unwrap_or(&s);
            if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
                return Err(FrameError::BadNumber);
            }
            Frame::BigNumber(s)
        }
        b'$' | b'=' => {
            let n = num()?;
            if n == -1 && tag == b'$' {
                return Ok(Some(Frame::NullBulk));
            }
            let n = len(n)?;
            if buf.len() - *pos < n + 2 {
                *pos = start;
                return Ok(None);
            }
            let payload = &buf[*pos..*pos + n];
            if &buf[*pos + n..*pos + n + 2] != b"\r\n" {
                return Err(FrameError::MissingCrlf);
            }
            *pos += n + 2;
            if tag == b'$' {
                Frame::Bulk(payload.to_vec())
            } else {
                if n < 4 || payload[3] != b':' {
                    return Err(FrameError::BadNumber);
                }
                Frame::Verbatim(text(&payload[..3])?, payload[4..].to_vec())
            }
        }
        b'*' | b'~' | b'>' | b'%' => {
            let n = num()?;
            if n == -1 && tag == b'*' {
                return Ok(Some(Frame::NullArray));
            }
            let n = len(n)?;
            let count = if tag == b'%' { n * 2 } else { n };
            let mut items = Vec::with_capacity(count.min(1024));
            for _ in 0..count {
                match decode_at(buf, pos, max_len, depth + 1)? {
                    Some(f) => items.push(f),
                    None => {
                        *pos = start;
                        return Ok(None);
                    }
                }
            }
            match tag {
                b'*' => Frame::Array(items),
                b'~' => Frame::Set(items),
                b'>' => Frame::Push(items),
                _ => {
                    let mut pairs = Vec::with_capacity(n);
                    let mut it = items.into_iter();
                    while let (Some(k), Some(v)) = (it.next(), it.next()) {
                        pairs.push((k, v));
                    }
                    Frame::Map(pairs)
                }
            }
        }
        other => return Err(FrameError::UnknownType(other)),
    };
    Ok(Some(frame))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_every_type() {
        let f = Frame::Array(vec![
            Frame::Simple("OK".into()),
            Frame::Error("ERR x".into()),
            Frame::Integer(-3),
            Frame::Bulk(b"a\r\nb".to_vec()),
            Frame::NullBulk,
            Frame::NullArray,
            Frame::Null,
            Frame::Map(vec![(Frame::Bulk(b"k".to_vec()), Frame::Double(1.5))]),
            Frame::Set(vec![Frame::Boolean(false)]),
            Frame::Push(vec![Frame::BigNumber("-12345678901234567890".into())]),
            Frame::Verbatim("txt".into(), b"hello".to_vec()),
        ]);
        let mut out = ReplyBuf::new(true);
        f.encode(&mut out);
        let bytes = out.as_bytes();
        let (g, used) = Frame::decode(bytes, 1 << 20).unwrap().unwrap();
        assert_eq!(used, bytes.len());
        assert_eq!(g, f);
        for cut in 0..bytes.len() {
            assert_eq!(
                Frame::decode(&bytes[..cut], 1 << 20).unwrap(),
                None,
                "cut {cut}"
            );
        }
    }

    #[test]
    fn bounded() {
        assert_eq!(
            Frame::decode(b"$2147483648\r\n", 1 << 20),
            Err(FrameError::TooLong(2147483648))
        );
        assert_eq!(Frame::decode(b"*-2\r\n", 10), Err(FrameError::BadNumber));
        let deep = "*1\r\n".repeat(100);
        assert_eq!(Frame::decode(deep.as_bytes(), 10), Err(FrameError::TooDeep));
    }
}
