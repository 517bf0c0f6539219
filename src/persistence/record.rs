//! The on-disk log format: file header and record framing.
//!
//! This module is the specification of a Strata log file (`*.incr`) and the only code
//! that encodes or decodes its bytes. Everything is explicit little-endian; there is no
//! serde/bincode involved, so the format cannot drift with a dependency upgrade.
//!
//! # File layout
//!
//! ```text
//! +----------------------+  offset 0
//! | file header (40 B)   |
//! +----------------------+  offset 40 (HEADER_LEN)
//! | record 0             |
//! | record 1             |
//! | ...                  |
//! +----------------------+  logical end of the log
//! | zero bytes           |  preallocated, not yet used (may be absent)
//! +----------------------+  physical end of file
//! ```
//!
//! ## File header (40 bytes)
//!
//! | offset | size | field      | meaning                                                   |
//! |-------:|-----:|------------|-----------------------------------------------------------|
//! | 0      | 8    | magic      | `b"STRATLOG"`                                             |
//! | 8      | 4    | version    | u32, format version, currently [`LOG_FORMAT_VERSION`] (1) |
//! | 12     | 4    | flags      | u32, must be 0 in version 1 (unknown flags are refused)   |
//! | 16     | 8    | file_seq   | u64, the file's sequence number as named by the manifest  |
//! | 24     | 8    | start_lsn  | u64, every record in the file has `lsn >= start_lsn`      |
//! | 32     | 4    | header_crc | u32, CRC-32 (IEEE, crc32fast) of bytes 0..32              |
//! | 36     | 4    | reserved   | u32, must be 0                                            |
//!
//! ## Record frame
//!
//! | offset | size          | field       | meaning                                   |
//! |-------:|--------------:|-------------|-------------------------------------------|
//! | 0      | 4             | payload_len | u32, length of the payload in bytes       |
//! | 4      | 4             | payload_crc | u32, CRC-32 (IEEE) of the payload bytes   |
//! | 8      | payload_len   | payload     | see below                                 |
//!
//! ## Payload
//!
//! | size     | field | meaning                                                        |
//! |---------:|-------|----------------------------------------------------------------|
//! | 8        | lsn   | u64, log sequence number; strictly increasing within a data dir |
//! | 2        | db    | u16, database index the command applies to                      |
//! | 4        | argc  | u32, number of arguments, `>= 1`                                 |
//! | argc × … | args  | per argument: u32 length, then that many bytes                   |
//!
//! The arguments must consume the payload exactly: a payload with trailing bytes, or
//! whose arguments run past its end, is invalid.
//!
//! ## Invariants a reader relies on
//!
//! * A payload is at least [`MIN_PAYLOAD_LEN`] (14) bytes, so **a record never has
//!   `payload_len == 0`**. A zero length word therefore marks the logical end of the log:
//!   log files are preallocated with zeros, and the first zero length word where a record
//!   could start is where valid data ends — provided every byte after it is zero too
//!   (see [`crate::persistence::log`] for what happens when it is not).
//! * `payload_len <= max_record_len` (a [`Limits`] setting, default 512 MiB + 1 MiB) and
//!   `argc <= max_argc`. Decoders check every length against the limits *and* against the
//!   bytes actually present before allocating anything.
//! * A record is valid only if it is complete, its CRC matches, and its payload decodes
//!   exactly. LSN 0 is reserved ("no record"); LSNs start at 1.

use bytes::Bytes;
use thiserror::Error;

/// Magic bytes at the start of every log file.
pub const LOG_MAGIC: [u8; 8] = *b"STRATLOG";
/// The log format version written by this code.
pub const LOG_FORMAT_VERSION: u32 = 1;
/// Size of the file header in bytes; the first record starts here.
pub const HEADER_LEN: usize = 40;
/// Size of a record frame's header (`payload_len` + `payload_crc`).
pub const FRAME_HEADER_LEN: usize = 8;
/// Smallest possible payload: lsn (8) + db (2) + argc (4).
pub const MIN_PAYLOAD_LEN: u32 = 14;
/// Default upper bound for a record's payload: a 512 MiB value plus 1 MiB for the
/// key and the other arguments.
pub const DEFAULT_MAX_RECORD_LEN: u32 = 512 * 1024 * 1024 + 1024 * 1024;
/// Default upper bound for the number of arguments in one record.
pub const DEFAULT_MAX_ARGC: u32 = 16 * 1024 * 1024;

/// Decoding/encoding bounds. Both the writer and the reader enforce them, so a record
/// the writer accepted is always readable with the same limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Maximum payload length in bytes (must be at least [`MIN_PAYLOAD_LEN`]).
    pub max_record_len: u32,
    /// Maximum number of arguments in one record.
    pub max_argc: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_record_len: DEFAULT_MAX_RECORD_LEN,
            max_argc: DEFAULT_MAX_ARGC,
        }
    }
}

/// The decoded header of a log file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogHeader {
    /// Format version ([`LOG_FORMAT_VERSION`] for files written by this code).
    pub version: u32,
    /// The file's sequence number as named by the manifest.
    pub file_seq: u64,
    /// Lower bound of every LSN in this file.
    pub start_lsn: u64,
}

impl LogHeader {
    /// A version-1 header for file `file_seq` whose records start at `start_lsn`.
    pub fn new(file_seq: u64, start_lsn: u64) -> Self {
        LogHeader {
            version: LOG_FORMAT_VERSION,
            file_seq,
            start_lsn,
        }
    }

    /// Encodes the header into its 40-byte on-disk form.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[0..8].copy_from_slice(&LOG_MAGIC);
        out[8..12].copy_from_slice(&self.version.to_le_bytes());
        out[12..16].copy_from_slice(&0u32.to_le_bytes());
        out[16..24].copy_from_slice(&self.file_seq.to_le_bytes());
        out[24..32].copy_from_slice(&self.start_lsn.to_le_bytes());
        let crc = crc32fast::hash(&out[0..32]);
        out[32..36].copy_from_slice(&crc.to_le_bytes());
        out
    }

    /// Decodes and validates a header from the first bytes of a file.
    pub fn decode(bytes: &[u8]) -> Result<LogHeader, HeaderProblem> {
        if bytes.len() < HEADER_LEN {
            return Err(HeaderProblem::TooShort {
                len: bytes.len() as u64,
            });
        }
        if bytes[0..8] != LOG_MAGIC {
            let mut found = [0u8; 8];
            found.copy_from_slice(&bytes[0..8]);
            return Err(HeaderProblem::BadMagic { found });
        }
        let stored = le_u32(&bytes[32..36]);
        let computed = crc32fast::hash(&bytes[0..32]);
        if stored != computed {
            return Err(HeaderProblem::ChecksumMismatch { stored, computed });
        }
        let version = le_u32(&bytes[8..12]);
        if version != LOG_FORMAT_VERSION {
            return Err(HeaderProblem::UnsupportedVersion { found: version });
        }
        let flags = le_u32(&bytes[12..16]);
        if flags != 0 {
            return Err(HeaderProblem::UnknownFlags { flags });
        }
        let reserved = le_u32(&bytes[36..40]);
        if reserved != 0 {
            return Err(HeaderProblem::ReservedNotZero { value: reserved });
        }
        Ok(LogHeader {
            version,
            file_seq: le_u64(&bytes[16..24]),
            start_lsn: le_u64(&bytes[24..32]),
        })
    }
}

/// Why a log file header was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HeaderProblem {
    /// The file is shorter than a header.
    #[error("file is {len} bytes long, shorter than the {HEADER_LEN}-byte log header")]
    TooShort {
        /// Length of the file.
        len: u64,
    },
    /// The first 8 bytes are not the log magic.
    #[error("bad magic {found:02x?} (expected \"STRATLOG\"): not a Strata log file")]
    BadMagic {
        /// The bytes found instead.
        found: [u8; 8],
    },
    /// The header checksum does not match.
    #[error("header checksum mismatch (stored {stored:#010x}, computed {computed:#010x})")]
    ChecksumMismatch {
        /// CRC stored in the header.
        stored: u32,
        /// CRC computed over the header bytes.
        computed: u32,
    },
    /// The file was written by a newer (or unknown) format version.
    #[error("unsupported log format version {found} (this build reads version {LOG_FORMAT_VERSION}); use a matching Strata release")]
    UnsupportedVersion {
        /// Version found in the header.
        found: u32,
    },
    /// Flags this version does not understand.
    #[error("unknown header flags {flags:#010x}; use a matching Strata release")]
    UnknownFlags {
        /// Flags found.
        flags: u32,
    },
    /// The reserved header word is not zero.
    #[error("reserved header field is {value:#010x}, expected 0")]
    ReservedNotZero {
        /// Value found.
        value: u32,
    },
}

/// One decoded log record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Log sequence number.
    pub lsn: u64,
    /// Database index.
    pub db: u16,
    /// The command's arguments (command name first), as applied.
    pub args: Vec<Bytes>,
    /// File offset of the record's frame.
    pub offset: u64,
    /// Length of the whole frame (frame header + payload).
    pub len: u64,
}

/// Why a record could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EncodeError {
    /// A command has at least its name; zero arguments is a caller bug.
    #[error("cannot log a command with no arguments")]
    EmptyCommand,
    /// Too many arguments for the configured limit.
    #[error("command has {argc} arguments, more than the log's limit of {max}")]
    TooManyArgs {
        /// Number of arguments given.
        argc: u64,
        /// Configured maximum.
        max: u32,
    },
    /// The encoded payload would exceed the configured limit.
    #[error("command encodes to {len} bytes, more than the log's record limit of {max} bytes")]
    TooLarge {
        /// Payload length the command would need.
        len: u64,
        /// Configured maximum.
        max: u32,
    },
}

/// Why the bytes at some offset are not a valid record.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RecordProblem {
    /// A zero length word followed (somewhere later) by non-zero bytes.
    #[error("zero length word followed by non-zero data")]
    ZeroLength,
    /// Length word smaller than the smallest possible payload.
    #[error("payload length {len} is smaller than the minimum of {MIN_PAYLOAD_LEN}")]
    LengthTooSmall {
        /// Length found.
        len: u32,
    },
    /// Length word larger than the configured maximum.
    #[error("payload length {len} exceeds the limit of {max} bytes")]
    LengthTooLarge {
        /// Length found.
        len: u32,
        /// Configured maximum.
        max: u32,
    },
    /// The record runs past the end of the file.
    #[error("incomplete record: needs {needed} bytes, only {available} present")]
    Incomplete {
        /// Bytes the frame needs (header + payload).
        needed: u64,
        /// Bytes available before the end of the file.
        available: u64,
    },
    /// The payload checksum does not match.
    #[error("checksum mismatch (stored {stored:#010x}, computed {computed:#010x})")]
    ChecksumMismatch {
        /// CRC stored in the frame.
        stored: u32,
        /// CRC computed over the payload.
        computed: u32,
    },
    /// The checksum matches but the payload's structure is invalid.
    #[error("malformed payload: {0}")]
    BadPayload(PayloadProblem),
    /// A valid record whose LSN does not increase.
    #[error("LSN {lsn} does not increase (previous {prev})")]
    LsnNotIncreasing {
        /// Previous LSN.
        prev: u64,
        /// This record's LSN.
        lsn: u64,
    },
    /// A valid record whose LSN lies before the file's `start_lsn`.
    #[error("LSN {lsn} is below the file's start LSN {start_lsn}")]
    LsnBeforeFileStart {
        /// This record's LSN.
        lsn: u64,
        /// The header's start LSN.
        start_lsn: u64,
    },
}

/// Structural problems inside a payload whose checksum matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum PayloadProblem {
    /// Shorter than lsn + db + argc.
    #[error("payload shorter than its fixed fields")]
    Truncated,
    /// LSN 0 is reserved.
    #[error("LSN 0 is reserved")]
    ZeroLsn,
    /// `argc == 0`.
    #[error("argument count is 0")]
    NoArgs,
    /// `argc` exceeds the limit or cannot fit in the payload.
    #[error("argument count {argc} is impossible (limit {max}, or not enough bytes)")]
    BadArgc {
        /// Count found.
        argc: u32,
        /// Configured maximum.
        max: u32,
    },
    /// An argument's length runs past the payload.
    #[error("argument {index} runs past the end of the payload")]
    ArgOverrun {
        /// Index of the argument.
        index: u32,
    },
    /// Bytes left over after the last argument.
    #[error("{extra} trailing bytes after the last argument")]
    TrailingBytes {
        /// Number of extra bytes.
        extra: u64,
    },
}

#[inline]
pub(crate) fn le_u32(b: &[u8]) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[..4]);
    u32::from_le_bytes(a)
}

#[inline]
pub(crate) fn le_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_le_bytes(a)
}

#[inline]
fn le_u16(b: &[u8]) -> u16 {
    u16::from_le_bytes([b[0], b[1]])
}

/// Payload length of a record with these arguments, checked against `limits`.
pub fn payload_len<A: AsRef<[u8]>>(args: &[A], limits: &Limits) -> Result<u32, EncodeError> {
    if args.is_empty() {
        return Err(EncodeError::EmptyCommand);
    }
    if args.len() as u64 > u64::from(limits.max_argc) {
        return Err(EncodeError::TooManyArgs {
            argc: args.len() as u64,
            max: limits.max_argc,
        });
    }
    let mut len = u64::from(MIN_PAYLOAD_LEN);
    for a in args {
        len += 4 + a.as_ref().len() as u64;
    }
    if len > u64::from(limits.max_record_len) {
        return Err(EncodeError::TooLarge {
            len,
            max: limits.max_record_len,
        });
    }
    // max_record_len is a u32, so this cannot truncate.
    Ok(len as u32)
}

/// Appends one framed record to `out`; returns the frame's total length.
///
/// On error nothing is appended.
pub fn encode_record<A: AsRef<[u8]>>(
    out: &mut Vec<u8>,
    lsn: u64,
    db: u16,
    args: &[A],
    limits: &Limits,
) -> Result<usize, EncodeError> {
    let plen = payload_len(args, limits)?;
    let start = out.len();
    out.reserve(FRAME_HEADER_LEN + plen as usize);
    out.extend_from_slice(&plen.to_le_bytes());
    out.extend_from_slice(&[0u8; 4]); // crc placeholder
    out.extend_from_slice(&lsn.to_le_bytes());
    out.extend_from_slice(&db.to_le_bytes());
    out.extend_from_slice(&(args.len() as u32).to_le_bytes());
    for a in args {
        let a = a.as_ref();
        out.extend_from_slice(&(a.len() as u32).to_le_bytes());
        out.extend_from_slice(a);
    }
    let crc = crc32fast::hash(&out[start + FRAME_HEADER_LEN..]);
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    Ok(out.len() - start)
}

/// Validates a payload's structure without allocating; returns `(lsn, db, argc)`.
pub fn check_payload(payload: &[u8], limits: &Limits) -> Result<(u64, u16, u32), PayloadProblem> {
    walk_payload(payload, limits, |_, _| ())
}

/// Decodes a payload (whose checksum the caller verified) into `(lsn, db, args)`.
///
/// Allocation is bounded by the payload's length: the structure is validated first.
pub fn decode_payload(
    payload: &[u8],
    limits: &Limits,
) -> Result<(u64, u16, Vec<Bytes>), PayloadProblem> {
    let (lsn, db, argc) = check_payload(payload, limits)?;
    // argc * 4 <= payload.len() was checked, so this allocation is bounded by the input.
    let mut args = Vec::with_capacity(argc as usize);
    walk_payload(payload, limits, |_, a| {
        args.push(Bytes::copy_from_slice(a));
    })?;
    Ok((lsn, db, args))
}

fn walk_payload(
    payload: &[u8],
    limits: &Limits,
    mut on_arg: impl FnMut(u32, &[u8]),
) -> Result<(u64, u16, u32), PayloadProblem> {
    if payload.len() < MIN_PAYLOAD_LEN as usize {
        return Err(PayloadProblem::Truncated);
    }
    let lsn = le_u64(&payload[0..8]);
    let db = le_u16(&payload[8..10]);
    let argc = le_u32(&payload[10..14]);
    if lsn == 0 {
        return Err(PayloadProblem::ZeroLsn);
    }
    if argc == 0 {
        return Err(PayloadProblem::NoArgs);
    }
    let rest = &payload[MIN_PAYLOAD_LEN as usize..];
    if argc > limits.max_argc || u64::from(argc) * 4 > rest.len() as u64 {
        return Err(PayloadProblem::BadArgc {
            argc,
            max: limits.max_argc,
        });
    }
    let mut pos = 0usize;
    for index in 0..argc {
        if rest.len() - pos < 4 {
            return Err(PayloadProblem::ArgOverrun { index });
        }
        let len = le_u32(&rest[pos..pos + 4]) as usize;
        pos += 4;
        if rest.len() - pos < len {
            return Err(PayloadProblem::ArgOverrun { index });
        }
        on_arg(index, &rest[pos..pos + len]);
        pos += len;
    }
    if pos != rest.len() {
        return Err(PayloadProblem::TrailingBytes {
            extra: (rest.len() - pos) as u64,
        });
    }
    Ok((lsn, db, argc))
}

/// Result of decoding one frame from a contiguous buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameDecode {
    /// A valid record of `len` bytes.
    Record(Record),
    /// The buffer holds only zero bytes from here (or nothing at all).
    End,
    /// The bytes here are not a valid record.
    Bad(RecordProblem),
}

/// Decodes one frame at the start of `buf` (which must extend to the end of the data).
///
/// `offset` is only recorded in the returned [`Record`]. This is the building block used by
/// fuzzers and tests; [`crate::persistence::log::LogReader`] adds the rules that tell a
/// torn tail from corruption.
pub fn decode_frame(buf: &[u8], offset: u64, limits: &Limits) -> FrameDecode {
    if buf.iter().all(|&b| b == 0) {
        return FrameDecode::End;
    }
    if buf.len() < 4 {
        return FrameDecode::Bad(RecordProblem::Incomplete {
            needed: FRAME_HEADER_LEN as u64,
            available: buf.len() as u64,
        });
    }
    let len = le_u32(&buf[0..4]);
    if let Err(p) = check_len(len, limits) {
        return FrameDecode::Bad(p);
    }
    let needed = FRAME_HEADER_LEN as u64 + u64::from(len);
    if (buf.len() as u64) < needed {
        return FrameDecode::Bad(RecordProblem::Incomplete {
            needed,
            available: buf.len() as u64,
        });
    }
    let stored = le_u32(&buf[4..8]);
    let payload = &buf[FRAME_HEADER_LEN..needed as usize];
    let computed = crc32fast::hash(payload);
    if stored != computed {
        return FrameDecode::Bad(RecordProblem::ChecksumMismatch { stored, computed });
    }
    match decode_payload(payload, limits) {
        Ok((lsn, db, args)) => FrameDecode::Record(Record {
            lsn,
            db,
            args,
            offset,
            len: needed,
        }),
        Err(p) => FrameDecode::Bad(RecordProblem::BadPayload(p)),
    }
}

/// Checks a frame's length word against the format's and the configured bounds.
pub(crate) fn check_len(len: u32, limits: &Limits) -> Result<(), RecordProblem> {
    if len == 0 {
        return Err(RecordProblem::ZeroLength);
    }
    if len < MIN_PAYLOAD_LEN {
        return Err(RecordProblem::LengthTooSmall { len });
    }
    if len > limits.max_record_len {
        return Err(RecordProblem::LengthTooLarge {
            len,
            max: limits.max_record_len,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(lsn: u64, db: u16, args: &[&[u8]]) -> Vec<u8> {
        let mut v = Vec::new();
        encode_record(&mut v, lsn, db, args, &Limits::default()).unwrap();
        v
    }

    #[test]
    fn record_layout_is_exact_little_endian() {
        let v = enc(0x0102_0304_0506_0708, 0x0a0b, &[b"SET", b"k", b""]);
        let payload_len = 14 + (4 + 3) + (4 + 1) + 4;
        assert_eq!(v.len(), 8 + payload_len);
        assert_eq!(&v[0..4], &(payload_len as u32).to_le_bytes());
        assert_eq!(&v[4..8], &crc32fast::hash(&v[8..]).to_le_bytes());
        assert_eq!(&v[8..16], &[8, 7, 6, 5, 4, 3, 2, 1]);
        assert_eq!(&v[16..18], &[0x0b, 0x0a]);
        assert_eq!(&v[18..22], &[3, 0, 0, 0]);
        assert_eq!(&v[22..26], &[3, 0, 0, 0]);
        assert_eq!(&v[26..29], b"SET");
        assert_eq!(&v[29..33], &[1, 0, 0, 0]);
        assert_eq!(&v[33..34], b"k");
        assert_eq!(&v[34..38], &[0, 0, 0, 0]);
    }

    #[test]
    fn round_trip() {
        let v = enc(42, 3, &[b"SET", b"key", b"value"]);
        match decode_frame(&v, 100, &Limits::default()) {
            FrameDecode::Record(r) => {
                assert_eq!(r.lsn, 42);
                assert_eq!(r.db, 3);
                assert_eq!(r.args, vec![&b"SET"[..], &b"key"[..], &b"value"[..]]);
                assert_eq!(r.offset, 100);
                assert_eq!(r.len, v.len() as u64);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn encode_rejects_empty_and_oversized() {
        let limits = Limits {
            max_record_len: 30,
            max_argc: 2,
        };
        let mut out = vec![9u8];
        let empty: [&[u8]; 0] = [];
        assert_eq!(
            encode_record(&mut out, 1, 0, &empty, &limits),
            Err(EncodeError::EmptyCommand)
        );
        assert_eq!(
            encode_record(&mut out, 1, 0, &[b"a", b"b", b"c"], &limits),
            Err(EncodeError::TooManyArgs { argc: 3, max: 2 })
        );
        assert_eq!(
            encode_record(&mut out, 1, 0, &[&[0u8; 20][..]], &limits),
            Err(EncodeError::TooLarge { len: 38, max: 30 })
        );
        assert_eq!(out, vec![9u8], "failed encodes append nothing");
    }

    #[test]
    fn zero_buffer_is_end_and_short_buffers_are_incomplete() {
        let limits = Limits::default();
        assert_eq!(decode_frame(&[], 0, &limits), FrameDecode::End);
        assert_eq!(decode_frame(&[0; 100], 0, &limits), FrameDecode::End);
        assert_eq!(
            decode_frame(&[1, 0], 0, &limits),
            FrameDecode::Bad(RecordProblem::Incomplete {
                needed: 8,
                available: 2
            })
        );
        let v = enc(1, 0, &[b"PING"]);
        assert_eq!(
            decode_frame(&v[..v.len() - 1], 0, &limits),
            FrameDecode::Bad(RecordProblem::Incomplete {
                needed: v.len() as u64,
                available: v.len() as u64 - 1
            })
        );
    }

    #[test]
    fn bad_lengths_are_rejected_before_allocation() {
        let limits = Limits {
            max_record_len: 1000,
            max_argc: 10,
        };
        let mut v = vec![0u8; 16];
        v[0..4].copy_from_slice(&5u32.to_le_bytes());
        assert_eq!(
            decode_frame(&v, 0, &limits),
            FrameDecode::Bad(RecordProblem::LengthTooSmall { len: 5 })
        );
        v[0..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(
            decode_frame(&v, 0, &limits),
            FrameDecode::Bad(RecordProblem::LengthTooLarge {
                len: u32::MAX,
                max: 1000
            })
        );
        v[0..4].copy_from_slice(&0u32.to_le_bytes());
        v[8] = 1;
        assert_eq!(
            decode_frame(&v, 0, &limits),
            FrameDecode::Bad(RecordProblem::ZeroLength)
        );
    }

    fn frame(payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        v.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn malformed_payloads_with_valid_crc_are_rejected() {
        let limits = Limits::default();
        let mut p = Vec::new();
        p.extend_from_slice(&1u64.to_le_bytes());
        p.extend_from_slice(&0u16.to_le_bytes());
        p.extend_from_slice(&0u32.to_le_bytes());
        assert_eq!(
            decode_frame(&frame(&p), 0, &limits),
            FrameDecode::Bad(RecordProblem::BadPayload(PayloadProblem::NoArgs))
        );
        // argc = 1 but the argument's length overruns.
        p[10..14].copy_from_slice(&1u32.to_le_bytes());
        p.extend_from_slice(&10u32.to_le_bytes());
        p.extend_from_slice(b"abc");
        assert_eq!(
            decode_frame(&frame(&p), 0, &limits),
            FrameDecode::Bad(RecordProblem::BadPayload(PayloadProblem::ArgOverrun {
                index: 0
            }))
        );
        // Trailing bytes.
        p[14..18].copy_from_slice(&2u32.to_le_bytes());
        assert_eq!(
            decode_frame(&frame(&p), 0, &limits),
            FrameDecode::Bad(RecordProblem::BadPayload(PayloadProblem::TrailingBytes {
                extra: 1
            }))
        );
        // Huge argc is refused before any allocation.
        p[10..14].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(
            decode_frame(&frame(&p), 0, &limits),
            FrameDecode::Bad(RecordProblem::BadPayload(PayloadProblem::BadArgc {
                argc: u32::MAX,
                max: DEFAULT_MAX_ARGC
            }))
        );
        // LSN 0 is reserved.
        p[0..8].copy_from_slice(&0u64.to_le_bytes());
        assert_eq!(
            decode_frame(&frame(&p), 0, &limits),
            FrameDecode::Bad(RecordProblem::BadPayload(PayloadProblem::ZeroLsn))
        );
    }

    #[test]
    fn header_round_trip_and_rejections() {
        let h = LogHeader::new(7, 1234);
        let b = h.encode();
        assert_eq!(&b[0..8], b"STRATLOG");
        assert_eq!(LogHeader::decode(&b), Ok(h));
        assert_eq!(
            LogHeader::decode(&b[..39]),
            Err(HeaderProblem::TooShort { len: 39 })
        );
        let mut bad = b;
        bad[0] = b'X';
        assert!(matches!(
            LogHeader::decode(&bad),
            Err(HeaderProblem::BadMagic { .. })
        ));
        let mut bad = b;
        bad[20] ^= 1;
        assert!(matches!(
            LogHeader::decode(&bad),
            Err(HeaderProblem::ChecksumMismatch { .. })
        ));
        let mut v2 = b;
        v2[8..12].copy_from_slice(&2u32.to_le_bytes());
        let crc = crc32fast::hash(&v2[0..32]);
        v2[32..36].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(
            LogHeader::decode(&v2),
            Err(HeaderProblem::UnsupportedVersion { found: 2 })
        );
        let mut fl = b;
        fl[12] = 1;
        let crc = crc32fast::hash(&fl[0..32]);
        fl[32..36].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(
            LogHeader::decode(&fl),
            Err(HeaderProblem::UnknownFlags { flags: 1 })
        );
        let mut r = b;
        r[36] = 1;
        assert_eq!(
            LogHeader::decode(&r),
            Err(HeaderProblem::ReservedNotZero { value: 1 })
        );
    }
}
