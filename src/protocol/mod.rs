//! RESP2/RESP3 codec: bytes in, commands out; replies in, bytes out.
//!
//! This layer knows nothing about sockets, the keyspace or files. The server feeds
//! [`RequestDecoder`] whatever it read, and commands write their replies into a
//! [`ReplyBuf`], which encodes each reply type for the connection's protocol version.
//! [`Frame`] is a general RESP3 value used by tests, tools and fuzzing to read replies.

mod decode;
mod encode;
mod frame;

pub use decode::{split_inline_args, Limits, ProtocolError, RequestDecoder};
pub use encode::{format_double, ReplyBuf};
pub use frame::{Frame, FrameError};

/// A parsed client command: the command name followed by its arguments, all raw bytes.
pub type Args = Vec<bytes::Bytes>;
