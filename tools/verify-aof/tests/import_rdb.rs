//! `verify-aof import-rdb` turns a Redis 7.0 RDB file into RESTORE commands that rebuild
//! its keys (databases, expiries, every encoding) and FUNCTION LOAD commands that bring
//! its function libraries in strata-server, and prints nothing for a damaged file.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use strata::config::Config;
use strata::protocol::Frame;

const BIN: &str = env!("CARGO_BIN_EXE_verify-aof");
/// `SAVE` of redis-server 7.0.15 after: SET greeting hello, SET counter 42, SET session:1
/// data EX 100000, RPUSH queue a b 3, HSET user:1 name ann visits 7, SADD tags x y,
/// SADD ids 1 2 3, ZADD board 10 alice 7.5 bob, SET lz <"abcdefgh" x 20>, in db 3 SET
/// db3key v3 with PEXPIREAT 4102444800000, and FUNCTION LOAD of a library "mylib".
const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/redis-7.0.15.rdb"
);

fn import(path: &Path) -> Output {
    Command::new(BIN)
        .arg("import-rdb")
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .expect("run verify-aof")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The RESP commands in `bytes`, each as its arguments.
fn commands(mut bytes: &[u8]) -> Vec<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let (frame, used) = Frame::decode(bytes, usize::MAX).unwrap().unwrap();
        let Frame::Array(items) = frame else {
            panic!("not a command: {frame:?}")
        };
        out.push(
            items
                .into_iter()
                .map(|f| match f {
                    Frame::Bulk(b) => b,
                    other => panic!("not a bulk string: {other:?}"),
                })
                .collect(),
        );
        bytes = &bytes[used..];
    }
    out
}

#[test]
fn a_redis_7_0_file_becomes_restore_commands_that_rebuild_it() {
    let o = import(Path::new(FIXTURE));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stderr(&o),
        format!(
            "verify-aof import-rdb: 10 keys (2 with an expiry) in db 0,3 of {FIXTURE} (410 bytes) as RESTORE commands\n\
             verify-aof import-rdb: 1 function library as FUNCTION LOAD REPLACE\n"
        )
    );
    let cmds = commands(&o.stdout);
    // (command, key or db, the rest but the payload)
    let shape: Vec<(String, String, String)> = cmds
        .iter()
        .map(|c| {
            let s = |i: usize| String::from_utf8_lossy(&c[i]).into_owned();
            match c[0].as_slice() {
                b"RESTORE" => (s(0), s(1), format!("{} {} {}", s(2), s(4), s(5))),
                b"FUNCTION" => (s(0), s(1), s(2)),
                _ => (s(0), s(1), String::new()),
            }
        })
        .collect();
    let restore = |k: &str, ttl: &str| {
        (
            "RESTORE".to_string(),
            k.to_string(),
            format!("{ttl} REPLACE ABSTTL"),
        )
    };
    assert_eq!(
        shape,
        vec![
            (
                "FUNCTION".to_string(),
                "LOAD".to_string(),
                "REPLACE".to_string()
            ),
            restore("counter", "0"),
            restore("session:1", "1796694743349"),
            restore("ids", "0"),
            restore("tags", "0"),
            restore("board", "0"),
            restore("greeting", "0"),
            restore("queue", "0"),
            restore("user:1", "0"),
            restore("lz", "0"),
            ("SELECT".to_string(), "3".to_string(), String::new()),
            restore("db3key", "4102444800000"),
        ]
    );

    // Sent to a server, they rebuild the dataset.
    let dir = tempfile::tempdir().unwrap();
    let server = strata::server::spawn(Config {
        port: 0,
        appendonly: false,
        save: String::new(),
        dir: dir.path().to_path_buf(),
        ..Config::default()
    })
    .expect("server starts");
    let mut sock = std::net::TcpStream::connect(("127.0.0.1", server.port())).unwrap();
    sock.write_all(&o.stdout).unwrap();
    let want = "$5\r\nmylib\r\n".to_string() + &"+OK\r\n".repeat(cmds.len() - 1);
    let mut got = vec![0u8; want.len()];
    sock.read_exact(&mut got).unwrap();
    assert_eq!(String::from_utf8_lossy(&got), want);
    let client = redis::Client::open(format!("redis://127.0.0.1:{}/", server.port())).unwrap();
    let mut c = client.get_connection().unwrap();
    let mut q = |args: &[&str]| -> Vec<String> {
        let mut cmd = redis::cmd(args[0]);
        for a in &args[1..] {
            cmd.arg(*a);
        }
        cmd.query(&mut c).unwrap()
    };
    assert_eq!(q(&["MGET", "counter", "greeting"]), ["42", "hello"]);
    assert_eq!(q(&["LRANGE", "queue", "0", "-1"]), ["a", "b", "3"]);
    assert_eq!(q(&["HGETALL", "user:1"]), ["name", "ann", "visits", "7"]);
    assert_eq!(q(&["SORT", "ids"]), ["1", "2", "3"]);
    assert_eq!(q(&["SORT", "tags", "ALPHA"]), ["x", "y"]);
    assert_eq!(
        q(&["ZRANGE", "board", "0", "-1", "WITHSCORES"]),
        ["bob", "7.5", "alice", "10"]
    );
    assert_eq!(q(&["GET", "lz"]), ["abcdefgh".repeat(20)]);
    assert_eq!(q(&["OBJECT", "ENCODING", "counter"]), ["int"]);
    let at = |c: &mut redis::Connection, key: &str| -> i64 {
        redis::cmd("PEXPIRETIME").arg(key).query(c).unwrap()
    };
    // session:1 was saved with EX 100000, so it expires at 1796694743349 ms: 2026-12-08
    // 01:52:23 UTC, which has passed. Its RESTORE (absolute TTL in the past) answers OK
    // and creates nothing, as in Redis. (Until that moment this test expected the key.)
    assert_eq!(at(&mut c, "session:1"), -2);
    let n: i64 = redis::cmd("EXISTS").arg("session:1").query(&mut c).unwrap();
    assert_eq!(n, 0);
    assert_eq!(at(&mut c, "greeting"), -1);
    let () = redis::cmd("SELECT").arg(3).query(&mut c).unwrap();
    let v: String = redis::cmd("GET").arg("db3key").query(&mut c).unwrap();
    assert_eq!(v, "v3");
    assert_eq!(at(&mut c, "db3key"), 4102444800000);
    // The library's function runs.
    let v: i64 = redis::cmd("FCALL")
        .arg("myfunc")
        .arg(0)
        .query(&mut c)
        .unwrap();
    assert_eq!(v, 1);
}

#[test]
fn a_damaged_file_prints_nothing_and_says_where() {
    let good = std::fs::read(FIXTURE).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, Vec<u8>, String)> = vec![
        // One byte of "hello" changed: every value still decodes, the file's CRC-64 at
        // the end (after the 0xFF marker, 9 bytes from the end) does not match.
        (
            "flipped",
            {
                let mut b = good.clone();
                let at = b.windows(5).position(|w| w == b"hello").unwrap();
                b[at + 1] ^= 0x01;
                b
            },
            format!("byte {}: the file's CRC-64 does not match", good.len() - 9),
        ),
        // Cut inside the value of "queue" (its item starts at byte 290).
        (
            "cut",
            good[..300].to_vec(),
            "byte 290: the bytes end inside a value".to_string(),
        ),
        (
            "not-rdb",
            b"*1\r\n$4\r\nPING\r\n".to_vec(),
            "byte 0: not an RDB file (no REDIS magic)".to_string(),
        ),
        (
            "v11",
            {
                let mut b = good.clone();
                b[5..9].copy_from_slice(b"0011");
                b
            },
            "byte 0: RDB version 11: Strata reads versions 1 to 10 (Redis up to 7.0)".to_string(),
        ),
    ];
    for (name, bytes, reason) in cases {
        let path = dir.path().join(format!("{name}.rdb"));
        std::fs::write(&path, bytes).unwrap();
        let o = import(&path);
        assert_eq!(o.status.code(), Some(2), "{name}: {}", stderr(&o));
        assert!(
            o.stdout.is_empty(),
            "{name}: printed {} bytes",
            o.stdout.len()
        );
        assert_eq!(
            stderr(&o),
            format!(
                "verify-aof import-rdb: {}: RDB file unreadable at {reason}; nothing was printed\n",
                path.display()
            ),
            "{name}"
        );
    }
    let o = import(&dir.path().join("missing.rdb"));
    assert_eq!(o.status.code(), Some(3));
    assert!(stderr(&o).contains("cannot read"), "{}", stderr(&o));
}
