//! Incremental request decoder: RESP multibulk arrays and Redis-style inline commands.
//!
//! Contract: bytes are consumed from the front of the caller's buffer as soon as they are
//! understood, and the decoder remembers where a partial header line ended, so no byte is
//! scanned twice however the input is split across reads. Every length read from the wire
//! is checked against [`Limits`] before anything is allocated for it.

use bytes::{Buf, Bytes, BytesMut};

use super::Args;

/// Longest header or inline line accepted before the newline (Redis: PROTO_INLINE_MAX_SIZE).
pub const MAX_INLINE_LEN: usize = 64 * 1024;
/// Bulk arguments at least this large get their whole buffer reserved up front.
const BIG_ARG: usize = 32 * 1024;
/// Limits that apply to a client that has not authenticated yet (as Redis 7).
const UNAUTH_MAX_MULTIBULK: usize = 10;
const UNAUTH_MAX_BULK: usize = 16 * 1024;

/// Bounds on what one client may send.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// `proto-max-bulk-len`: the largest single argument.
    pub max_bulk_len: usize,
    /// The largest number of arguments in one command.
    pub max_multibulk_len: usize,
    /// `client-query-buffer-limit`: the most bytes one command (or the unparsed input) may hold.
    pub query_buffer_limit: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bulk_len: 512 * 1024 * 1024,
            max_multibulk_len: 1 << 24,
            query_buffer_limit: 1024 * 1024 * 1024,
        }
    }
}

/// A violation of the protocol. The server replies `-ERR <Display>` and closes the connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error("Protocol error: invalid multibulk length")]
    InvalidMultibulkLength,
    #[error("Protocol error: invalid bulk length")]
    InvalidBulkLength,
    #[error("Protocol error: expected '$', got '{}'", char::from(*.0))]
    ExpectedDollar(u8),
    #[error("Protocol error: too big mbulk count string")]
    TooBigMultibulkCount,
    #[error("Protocol error: too big bulk count string")]
    TooBigBulkCount,
    #[error("Protocol error: too big inline request")]
    TooBigInline,
    #[error("Protocol error: unbalanced quotes in request")]
    UnbalancedQuotes,
    #[error("Protocol error: unauthenticated multibulk length")]
    UnauthenticatedMultibulk,
    #[error("Protocol error: unauthenticated bulk length")]
    UnauthenticatedBulk,
    #[error("Protocol error: query buffer limit exceeded (client-query-buffer-limit)")]
    QueryBufferLimit,
}

#[derive(Debug, Clone, Copy)]
enum State {
    /// Between commands.
    Idle,
    /// Inside a multibulk array, `remaining` bulk arguments still to read.
    Args { remaining: usize },
    /// The header of a bulk was read; `len` payload bytes plus CRLF follow.
    Bulk { remaining: usize, len: usize },
}

/// Incremental decoder for client requests. One per connection.
#[derive(Debug)]
pub struct RequestDecoder {
    limits: Limits,
    state: State,
    args: Args,
    /// Bytes at the front of the buffer already searched for a line end without success.
    scanned: usize,
    /// Bytes accounted to the command being assembled, checked against the query buffer limit.
    command_bytes: usize,
    authenticated: bool,
}

impl RequestDecoder {
    pub fn new(limits: Limits) -> Self {
        RequestDecoder {
            limits,
            state: State::Idle,
            args: Vec::new(),
            scanned: 0,
            command_bytes: 0,
            authenticated: true,
        }
    }

    /// Apply Redis's tighter limits to a client that has not authenticated yet.
    pub fn set_authenticated(&mut self, yes: bool) {
        self.authenticated = yes;
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// True when a command has been partly read.
    pub fn in_progress(&self) -> bool {
        !matches!(self.state, State::Idle)
    }

    /// Decode the next complete command from the front of `buf`, consuming its bytes.
    /// `Ok(None)` means more input is needed; everything read so far is remembered.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Args>, ProtocolError> {
        loop {
            match self.state {
                State::Idle => {
                    if buf.is_empty() {
                        return Ok(None);
                    }
                    if buf[0] == b'*' {
                        if let Some(args) = self.whole_command(buf) {
                            return Ok(Some(args));
                        }
                        let Some(n) = self.header_line(buf, ProtocolError::TooBigMultibulkCount)?
                        else {
                            return Ok(None);
                        };
                        let max = if self.authenticated {
                            self.limits.max_multibulk_len
                        } else {
                            UNAUTH_MAX_MULTIBULK
                        };
                        match n {
                            None => return Err(ProtocolError::InvalidMultibulkLength),
                            Some(n) if n <= 0 => continue, // `*0` / `*-1`: nothing to run
                            Some(n) if n as u64 > max as u64 => {
                                return Err(if self.authenticated {
                                    ProtocolError::InvalidMultibulkLength
                                } else {
                                    ProtocolError::UnauthenticatedMultibulk
                                })
                            }
                            Some(n) => {
                                let n = n as usize;
                                self.args = Vec::with_capacity(n.min(1024));
                                self.command_bytes = 0;
                                self.state = State::Args { remaining: n };
                            }
                        }
                    } else {
                        match self.inline(buf)? {
                            None => return Ok(None),
                            Some(args) if args.is_empty() => continue,
                            Some(args) => return Ok(Some(args)),
                        }
                    }
                }
                State::Args { remaining: 0 } => {
                    self.state = State::Idle;
                    return Ok(Some(std::mem::take(&mut self.args)));
                }
                State::Args { remaining } => {
                    if buf.is_empty() {
                        return Ok(None);
                    }
                    if buf[0] != b'$' {
                        return Err(ProtocolError::ExpectedDollar(buf[0]));
                    }
                    let Some(n) = self.header_line(buf, ProtocolError::TooBigBulkCount)? else {
                        return Ok(None);
                    };
                    let max = if self.authenticated {
                        self.limits.max_bulk_len
                    } else {
                        UNAUTH_MAX_BULK
                    };
                    let len = match n {
                        Some(n) if n >= 0 && n as u64 <= max as u64 => n as usize,
                        Some(_) if !self.authenticated => {
                            return Err(ProtocolError::UnauthenticatedBulk)
                        }
                        _ => return Err(ProtocolError::InvalidBulkLength),
                    };
                    // Each argument costs its bytes plus a handle; bound the whole command.
                    self.command_bytes = self.command_bytes.saturating_add(len + 32);
                    if self.command_bytes > self.limits.query_buffer_limit {
                        return Err(ProtocolError::QueryBufferLimit);
                    }
                    if len >= BIG_ARG {
                        buf.reserve(len + 2);
                    }
                    self.state = State::Bulk { remaining, len };
                }
                State::Bulk { remaining, len } => {
                    if buf.len() < len + 2 {
                        return Ok(None);
                    }
                    let arg = buf.split_to(len).freeze();
                    buf.advance(2);
                    self.args.push(arg);
                    self.state = State::Args {
                        remaining: remaining - 1,
                    };
                }
            }
        }
    }

    /// Fast path for the common case, a whole multibulk command already in `buf`: check it
    /// in one pass without consuming anything, then take it with one `split_to` and hand
    /// out slices of that (instead of one header parse, `advance` and `split_to` per
    /// argument). Returns `None`, consuming nothing, whenever anything is unusual
    /// (incomplete, a limit reached, a malformed or long header, an unauthenticated
    /// client): the general path below then decides, with its exact errors, so both paths
    /// accept exactly the same inputs with the same result.
    fn whole_command(&mut self, buf: &mut BytesMut) -> Option<Args> {
        if !self.authenticated || self.scanned != 0 {
            return None;
        }
        let b = &buf[..];
        let (n, first) = peek_header(b, 0, b'*')?;
        if n <= 0 || n > FAST_MAX_ARGS || n as u64 > self.limits.max_multibulk_len as u64 {
            return None;
        }
        let mut pos = first;
        let mut cost = 0usize;
        for _ in 0..n {
            let (len, data) = peek_header(b, pos, b'$')?;
            if len < 0 || len as u64 > self.limits.max_bulk_len as u64 {
                return None;
            }
            cost = cost.saturating_add(len as usize + 32);
            pos = data.checked_add(len as usize)?.checked_add(2)?;
            if pos > b.len() {
                return None;
            }
        }
        if cost > self.limits.query_buffer_limit {
            return None;
        }
        let frame = buf.split_to(pos).freeze();
        let mut args = Vec::with_capacity(n as usize);
        let mut at = first;
        for _ in 0..n {
            let (len, data) = peek_header(&frame, at, b'$')?;
            let end = data + len as usize;
            args.push(frame.slice(data..end));
            at = end + 2;
        }
        Some(args)
    }

    /// Read a `*N\r\n` / `$N\r\n` header from the front of `buf`.
    /// Returns `Ok(None)` when the line is incomplete, `Ok(Some(None))` when it is not a number.
    #[allow(clippy::option_option)]
    fn header_line(
        &mut self,
        buf: &mut BytesMut,
        too_big: ProtocolError,
    ) -> Result<Option<Option<i64>>, ProtocolError> {
        let from = self.scanned.min(buf.len());
        let Some(pos) = memchr::memchr(b'\r', &buf[from..]).map(|p| p + from) else {
            if buf.len() > MAX_INLINE_LEN {
                return Err(too_big);
            }
            self.scanned = buf.len();
            return Ok(None);
        };
        if pos + 1 >= buf.len() {
            // The '\n' after '\r' has not arrived yet.
            self.scanned = pos;
            return Ok(None);
        }
        let n = parse_i64(&buf[1..pos]);
        buf.advance(pos + 2);
        self.scanned = 0;
        Ok(Some(n))
    }

    fn inline(&mut self, buf: &mut BytesMut) -> Result<Option<Args>, ProtocolError> {
        let from = self.scanned.min(buf.len());
        let Some(pos) = memchr::memchr(b'\n', &buf[from..]).map(|p| p + from) else {
            if buf.len() > MAX_INLINE_LEN {
                return Err(ProtocolError::TooBigInline);
            }
            self.scanned = buf.len();
            return Ok(None);
        };
        self.scanned = 0;
        let line = buf.split_to(pos + 1);
        let mut end = pos;
        if end > 0 && line[end - 1] == b'\r' {
            end -= 1;
        }
        let args = split_inline_args(&line[..end]).ok_or(ProtocolError::UnbalancedQuotes)?;
        if !self.authenticated && args.len() > UNAUTH_MAX_MULTIBULK {
            return Err(ProtocolError::UnauthenticatedMultibulk);
        }
        Ok(Some(args.into_iter().map(Bytes::from).collect()))
    }
}

/// Parse a strict decimal i64 the way Redis's string2ll does: optional '-', digits, no
/// leading zeros (except "0"), no '+' or spaces. `None` on anything else or overflow.
/// Most arguments the fast path takes in one command (longer ones go the general way).
const FAST_MAX_ARGS: i64 = 1024;

/// A header `<tag><integer>\r\n` at `at` in `b`: its value and where the line ends
/// (after the `\n`). `None` if it is not exactly that within 22 bytes.
fn peek_header(b: &[u8], at: usize, tag: u8) -> Option<(i64, usize)> {
    if b.get(at) != Some(&tag) {
        return None;
    }
    let rest = b.get(at + 1..)?;
    let cr = memchr::memchr(b'\r', &rest[..rest.len().min(22)])?;
    if rest.get(cr + 1) != Some(&b'\n') {
        return None;
    }
    Some((parse_i64(&rest[..cr])?, at + cr + 3))
}

fn parse_i64(s: &[u8]) -> Option<i64> {
    crate::util::parse_i64_strict(s)
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// Split an inline command line into arguments with Redis's quoting rules
/// (sdssplitargs): "double quotes" with \n \r \t \b \a \\ \" \xHH escapes,
/// 'single quotes' with \' only. `None` means unbalanced quotes.
pub fn split_inline_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut args = Vec::new();
    let mut p = 0;
    let n = line.len();
    loop {
        while p < n && is_space(line[p]) {
            p += 1;
        }
        if p >= n {
            return Some(args);
        }
        let mut cur = Vec::new();
        let (mut inq, mut insq) = (false, false);
        loop {
            if inq {
                if p >= n {
                    return None;
                }
                let c = line[p];
                if c == b'\\'
                    && p + 3 < n
                    && line[p + 1] == b'x'
                    && line[p + 2].is_ascii_hexdigit()
                    && line[p + 3].is_ascii_hexdigit()
                {
                    cur.push(hex(line[p + 2]) * 16 + hex(line[p + 3]));
                    p += 3;
                } else if c == b'\\' && p + 1 < n {
                    p += 1;
                    cur.push(match line[p] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        other => other,
                    });
                } else if c == b'"' {
                    // A closing quote must be followed by a space or the end.
                    if p + 1 < n && !is_space(line[p + 1]) {
                        return None;
                    }
                    p += 1;
                    break;
                } else {
                    cur.push(c);
                }
            } else if insq {
                if p >= n {
                    return None;
                }
                let c = line[p];
                if c == b'\\' && p + 1 < n && line[p + 1] == b'\'' {
                    p += 1;
                    cur.push(b'\'');
                } else if c == b'\'' {
                    if p + 1 < n && !is_space(line[p + 1]) {
                        return None;
                    }
                    p += 1;
                    break;
                } else {
                    cur.push(c);
                }
            } else {
                if p >= n {
                    break;
                }
                match line[p] {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => {
                        p += 1;
                        break;
                    }
                    b'"' => inq = true,
                    b'\'' => insq = true,
                    c => cur.push(c),
                }
            }
            p += 1;
        }
        args.push(cur);
    }
}

fn hex(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => c - b'A' + 10,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(input: &[u8], chunk: usize) -> Result<Vec<Vec<Vec<u8>>>, ProtocolError> {
        let mut d = RequestDecoder::new(Limits::default());
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for piece in input.chunks(chunk.max(1)) {
            buf.extend_from_slice(piece);
            while let Some(args) = d.decode(&mut buf)? {
                out.push(args.iter().map(|a| a.to_vec()).collect());
            }
        }
        Ok(out)
    }

    #[test]
    fn multibulk_in_every_split() {
        let input = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n*1\r\n$4\r\nPING\r\n";
        for chunk in 1..input.len() {
            let cmds = decode_all(input, chunk).unwrap();
            assert_eq!(cmds.len(), 2, "chunk {chunk}");
            assert_eq!(
                cmds[0],
                vec![b"SET".to_vec(), b"k".to_vec(), b"hello".to_vec()]
            );
            assert_eq!(cmds[1], vec![b"PING".to_vec()]);
        }
    }

    /// The whole-command fast path (all input at once) and the general path (one byte at
    /// a time) agree on odd but valid input, errors and limits.
    #[test]
    fn whole_command_fast_path_agrees_with_the_general_path() {
        let inputs: &[&[u8]] = &[
            b"*2\r\n$3\r\nGET\r\n$0\r\n\r\n*1\r\n$4\r\nPING\r\n",
            // '\r' not followed by '\n' in a header; payload followed by anything, not CRLF.
            b"*1\r\n$4\rxPING\r\n",
            b"*1\r\n$4\r\nPINGab*1\r\n$4\r\nPING\r\n",
            b"*1\r\n$+4\r\nPING\r\n",
            b"*1\r\n$0004\r\nPING\r\n",
            b"*0\r\n*-1\r\n*1\r\n$1\r\nx\r\n",
            b"*1\r\n$-1\r\n",
            b"*1\r\n:4\r\nPING\r\n",
            b"*2\r\n$3\r\nGET\r\n$00000000000000000000001\r\nk\r\n",
        ];
        for input in inputs {
            let whole = decode_all(input, input.len());
            let bytewise = decode_all(input, 1);
            assert_eq!(whole, bytewise, "{:?}", String::from_utf8_lossy(input));
        }
        // Limits apply the same way: a command over the query buffer limit or an argument
        // over proto-max-bulk-len is an error, not a fast-path success.
        let limits = Limits {
            max_bulk_len: 3,
            max_multibulk_len: 2,
            query_buffer_limit: 1 << 20,
        };
        for (input, err) in [
            (
                &b"*1\r\n$4\r\nPING\r\n"[..],
                ProtocolError::InvalidBulkLength,
            ),
            (
                &b"*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n"[..],
                ProtocolError::InvalidMultibulkLength,
            ),
        ] {
            let mut d = RequestDecoder::new(limits);
            let mut buf = BytesMut::from(input);
            assert_eq!(d.decode(&mut buf), Err(err));
        }
        let mut d = RequestDecoder::new(Limits {
            query_buffer_limit: 40,
            ..Limits::default()
        });
        let mut buf = BytesMut::from(&b"*2\r\n$3\r\nGET\r\n$5\r\nhello\r\n"[..]);
        assert_eq!(d.decode(&mut buf), Err(ProtocolError::QueryBufferLimit));
    }

    #[test]
    fn inline_with_quotes() {
        let cmds = decode_all(b"set k \"a b\\x41\\n\" 'it\\'s'\r\nPING\n\r\n", 3).unwrap();
        assert_eq!(
            cmds,
            vec![
                vec![
                    b"set".to_vec(),
                    b"k".to_vec(),
                    b"a bA\n".to_vec(),
                    b"it's".to_vec()
                ],
                vec![b"PING".to_vec()],
            ]
        );
        assert_eq!(
            decode_all(b"get \"k\r\n", 100),
            Err(ProtocolError::UnbalancedQuotes)
        );
        assert_eq!(
            decode_all(b"get \"k\"x\r\n", 100),
            Err(ProtocolError::UnbalancedQuotes)
        );
    }

    #[test]
    fn errors_match_redis() {
        assert_eq!(
            decode_all(b"*3\r\n$2147483648\r\n", 100),
            Err(ProtocolError::InvalidBulkLength)
        );
        assert_eq!(
            decode_all(b"*1\r\n$-1\r\n", 100),
            Err(ProtocolError::InvalidBulkLength)
        );
        assert_eq!(
            decode_all(b"*x\r\n", 100),
            Err(ProtocolError::InvalidMultibulkLength)
        );
        assert_eq!(
            decode_all(b"*1\r\n+OK\r\n", 100),
            Err(ProtocolError::ExpectedDollar(b'+'))
        );
        assert_eq!(decode_all(b"*-5\r\n*0\r\nPING\r\n", 100).unwrap().len(), 1);
        let garbage = vec![b'a'; MAX_INLINE_LEN + 10];
        assert_eq!(decode_all(&garbage, 4096), Err(ProtocolError::TooBigInline));
        let mut star = b"*".to_vec();
        star.extend(vec![b'1'; MAX_INLINE_LEN + 10]);
        assert_eq!(
            decode_all(&star, 4096),
            Err(ProtocolError::TooBigMultibulkCount)
        );
    }

    #[test]
    fn unauthenticated_limits() {
        let mut d = RequestDecoder::new(Limits::default());
        d.set_authenticated(false);
        let mut buf = BytesMut::from(&b"*11\r\n"[..]);
        assert_eq!(
            d.decode(&mut buf),
            Err(ProtocolError::UnauthenticatedMultibulk)
        );
        let mut d = RequestDecoder::new(Limits::default());
        d.set_authenticated(false);
        let mut buf = BytesMut::from(&b"*2\r\n$4\r\nAUTH\r\n$20000\r\n"[..]);
        assert_eq!(d.decode(&mut buf), Err(ProtocolError::UnauthenticatedBulk));
    }

    #[test]
    fn header_scan_resumes() {
        // A header arriving a byte at a time is never rescanned from the start.
        let mut d = RequestDecoder::new(Limits::default());
        let mut buf = BytesMut::new();
        for b in b"*1\r\n$4\r\nPING\r" {
            buf.extend_from_slice(&[*b]);
            assert_eq!(d.decode(&mut buf).unwrap(), None);
        }
        buf.extend_from_slice(b"\n");
        assert_eq!(
            d.decode(&mut buf).unwrap().unwrap(),
            vec![Bytes::from_static(b"PING")]
        );
        assert!(buf.is_empty());
    }
}
