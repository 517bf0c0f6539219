//! Shared helpers for the integration tests: an in-process server on a free port, a
//! `redis` crate connection, a raw RESP client that shows replies byte for byte, and the
//! real `strata-server` binary for the crash, signal and full-disk tests.
#![allow(dead_code)]

pub mod sim;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use strata::config::Config;
use strata::protocol::Frame;
use strata::server::ServerHandle;

/// A server running in this process; dropping it stops the server and removes its dir.
///
/// Setting `STRATA_TEST_EXTERNAL_PORT=7390` points the tests at an already running server
/// instead (flushed first; run with `--test-threads=1`), which is how the expected replies
/// are checked against real Redis. Tests that need a special configuration or the
/// in-process handle do not apply there.
pub struct Server {
    pub handle: Option<ServerHandle>,
    pub dir: tempfile::TempDir,
    port: u16,
}

impl Server {
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The in-process server's handle (to wait for or stop it).
    pub fn take_handle(&mut self) -> ServerHandle {
        self.handle.take().expect("an in-process server")
    }

    /// A connection through the `redis` crate (sync client).
    pub fn conn(&self) -> redis::Connection {
        connect(self.port())
    }

    /// A raw RESP connection.
    pub fn raw(&self) -> Raw {
        Raw::connect(self.port())
    }
}

/// A connection through the `redis` crate (sync client) to the server on `port`.
pub fn connect(port: u16) -> redis::Connection {
    redis::Client::open(format!("redis://127.0.0.1:{port}/"))
        .expect("client")
        .get_connection()
        .expect("connect")
}

/// `len` printable characters from the xorshift state `x`: values that LZ4 cannot shrink,
/// for tests that need a snapshot to really take the space.
pub fn incompressible(len: usize, x: &mut u64) -> String {
    (0..len)
        .map(|_| {
            *x ^= *x << 13;
            *x ^= *x >> 7;
            *x ^= *x << 17;
            char::from(b'!' + (*x % 90) as u8)
        })
        .collect()
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// [`spawn_server`] arguments: the log on under `appendfsync always`, no snapshots.
pub const LOG_ALWAYS: [&str; 6] = [
    "--appendonly",
    "yes",
    "--appendfsync",
    "always",
    "--save",
    "",
];

/// Start the real `strata-server` binary on `port` with data dir `dir` and Redis-style
/// `args`, its output discarded; returns once it accepts connections (at most 20 s).
pub fn spawn_server(dir: &Path, port: u16, args: &[&str]) -> Child {
    let child = spawn_server_loading(dir, port, args);
    wait_listening(port);
    child
}

/// [`spawn_server`] without waiting: the server may still be loading its data.
pub fn spawn_server_loading(dir: &Path, port: u16, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_strata-server"))
        .args(["--port", &port.to_string(), "--dir"])
        .arg(dir)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start strata-server")
}

/// Wait until a server on `port` answers PING (at most 20 s): `+PONG`, or `-NOAUTH` from
/// one with a password; not `-LOADING`, which it answers while it loads its data.
///
/// Seeing the port accept a connection is not enough. `free_port`'s listener, closed at
/// once, lives on in any child another test thread forks before that child's exec closes
/// it; connecting to such a stale listener succeeds and is reset when it goes (a scratch
/// loop: 1,201 of 194k connects to a just-closed port succeeded while a second thread ran
/// `/bin/true` in a loop, none without). `tests/startup_recovery.rs` failed about one run
/// in 70 that way. A probe of a port nobody listens on yet can also connect to itself
/// (TCP simultaneous open); its PING then comes back as a request, not a reply.
pub fn wait_listening(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let answers = || -> bool {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
            return false;
        };
        // A server may be busy for a moment (a slow machine): ask again later.
        let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
        let mut buf = [0u8; 64];
        s.write_all(b"*1\r\n$4\r\nPING\r\n").is_ok()
            && matches!(s.read(&mut buf), Ok(n) if buf[..n].starts_with(b"+PONG") || buf[..n].starts_with(b"-NOAUTH"))
    };
    while !answers() {
        assert!(Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Stop `s` (an in-process server with the log on) and start a new one on its data
/// directory, which `s` keeps alive: the restart-from-the-log step of the type tests.
pub fn restart_with_log(s: &mut Server) -> Server {
    drop(s.take_handle());
    let dir = s.dir.path().to_path_buf();
    start_with(|c| {
        c.appendonly = true;
        c.dir = dir;
    })
}

/// False when the tests run against an external server (`STRATA_TEST_EXTERNAL_PORT`):
/// for tests that start Strata with files of their own making (config, ACL file).
pub fn in_process_only() -> bool {
    std::env::var("STRATA_TEST_EXTERNAL_PORT").is_err()
}

/// Start a server with the test defaults (free port, no log, temporary dir).
pub fn start() -> Server {
    start_with(|_| {})
}

/// Start a server after adjusting the test defaults.
pub fn start_with(f: impl FnOnce(&mut Config)) -> Server {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = Config {
        port: 0,
        appendonly: false,
        save: String::new(),
        dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    f(&mut cfg);
    if let Some(port) = std::env::var("STRATA_TEST_EXTERNAL_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
    {
        let mut c = Raw::connect(port);
        assert_eq!(c.call(&["FLUSHALL"]), ok());
        return Server {
            handle: None,
            dir,
            port,
        };
    }
    let handle = strata::server::spawn(cfg).expect("server starts");
    Server {
        port: handle.port(),
        handle: Some(handle),
        dir,
    }
}

/// A client speaking raw RESP, for exact replies and protocol abuse.
pub struct Raw {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Raw {
    pub fn connect(port: u16) -> Raw {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.set_nodelay(true).unwrap();
        Raw {
            stream,
            buf: Vec::new(),
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    /// Send one command (as a multibulk) without reading the reply.
    pub fn send_cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        let bytes = encode(args);
        self.send(&bytes);
    }

    /// Send one command and read its reply.
    pub fn call<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Frame {
        self.send_cmd(args);
        self.read()
    }

    /// `call` with the arguments split on spaces: `c.q("SET k v EX 10")`.
    pub fn q(&mut self, line: &str) -> Frame {
        let args: Vec<&str> = line.split_whitespace().collect();
        self.call(&args)
    }

    /// Read one reply (fails the test on EOF, timeout or a malformed reply).
    pub fn read(&mut self) -> Frame {
        loop {
            if let Some((f, used)) = Frame::decode(&self.buf, 1 << 30).expect("valid RESP") {
                self.buf.drain(..used);
                return f;
            }
            let mut chunk = [0u8; 64 * 1024];
            let n = self.stream.read(&mut chunk).expect("read reply");
            assert!(n > 0, "connection closed while waiting for a reply");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Read exactly `len` raw bytes (buffered ones first): replies byte for byte.
    pub fn read_exact_len(&mut self, len: usize) -> Vec<u8> {
        while self.buf.len() < len {
            let mut chunk = [0u8; 64 * 1024];
            let n = self.stream.read(&mut chunk).expect("read reply");
            assert!(n > 0, "connection closed while waiting for a reply");
            self.buf.extend_from_slice(&chunk[..n]);
        }
        self.buf.drain(..len).collect()
    }

    /// Read everything until the server closes the connection.
    pub fn read_to_eof(&mut self) -> Vec<u8> {
        let mut out = std::mem::take(&mut self.buf);
        let mut chunk = [0u8; 64 * 1024];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return out,
                Ok(n) => out.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return out,
                Err(e) => panic!(
                    "read until EOF: {e} (got {:?} so far)",
                    String::from_utf8_lossy(&out)
                ),
            }
        }
    }

    /// True if the server has closed the connection (waits up to `ms`).
    pub fn closed_within(&mut self, ms: u64) -> bool {
        self.stream
            .set_read_timeout(Some(Duration::from_millis(ms)))
            .unwrap();
        let mut b = [0u8; 1];
        let r = self.stream.read(&mut b);
        self.stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        match r {
            Ok(0) => true,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => true,
            Ok(_) => {
                self.buf.push(b[0]);
                false
            }
            Err(_) => false,
        }
    }
}

/// Encode a command as a RESP multibulk.
pub fn encode<A: AsRef<[u8]>>(args: &[A]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        let a = a.as_ref();
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

pub fn ok() -> Frame {
    Frame::Simple("OK".into())
}

pub fn simple(s: &str) -> Frame {
    Frame::Simple(s.into())
}

pub fn bulk(s: impl AsRef<[u8]>) -> Frame {
    Frame::Bulk(s.as_ref().to_vec())
}

pub fn int(i: i64) -> Frame {
    Frame::Integer(i)
}

pub fn err(s: &str) -> Frame {
    Frame::Error(s.into())
}

/// RESP2 null bulk string.
pub fn nil() -> Frame {
    Frame::NullBulk
}

pub fn arr(items: Vec<Frame>) -> Frame {
    Frame::Array(items)
}

/// An array of bulk strings.
pub fn bulks(items: &[&str]) -> Frame {
    Frame::Array(items.iter().map(bulk).collect())
}

/// The integer in an integer reply.
pub fn as_int(f: &Frame) -> i64 {
    match f {
        Frame::Integer(i) => *i,
        other => panic!("expected an integer reply, got {other:?}"),
    }
}

/// The text of a bulk, simple or verbatim string reply.
pub fn as_text(f: &Frame) -> String {
    match f {
        Frame::Bulk(b) | Frame::Verbatim(_, b) => String::from_utf8_lossy(b).into_owned(),
        Frame::Simple(s) => s.clone(),
        other => panic!("expected a string reply, got {other:?}"),
    }
}

/// The elements of an array reply.
pub fn as_array(f: Frame) -> Vec<Frame> {
    match f {
        Frame::Array(v) => v,
        other => panic!("expected an array reply, got {other:?}"),
    }
}

/// Sorted texts of an array of strings.
pub fn sorted_texts(f: Frame) -> Vec<String> {
    let mut v: Vec<String> = as_array(f).iter().map(as_text).collect();
    v.sort();
    v
}

/// The value of `field` in `INFO section` (panics when the section has no such field).
pub fn info_field(c: &mut Raw, section: &str, field: &str) -> String {
    let text = as_text(&c.call(&["INFO", section]));
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")).map(str::to_string))
        .unwrap_or_else(|| panic!("INFO {section} has no {field}: {text}"))
}

/// Wait until `cond` holds, polling every 10 ms, for at most `ms`.
pub fn wait_for(ms: u64, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_millis(ms);
    loop {
        if cond() {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
