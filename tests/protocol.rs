//! The RESP wire protocol byte for byte (pipelining, splits, inline, RESP3, errors) as Redis 7.0.

mod common;

use std::io::Write;
use std::time::Duration;

use common::*;
use strata::protocol::Frame;

/// Send `bytes` and expect exactly `reply` followed by the server closing the connection.
fn expect_reply_then_close(s: &Server, bytes: &[u8], reply: &[u8]) {
    let mut c = s.raw();
    c.send(bytes);
    assert_eq!(
        String::from_utf8_lossy(&c.read_to_eof()),
        String::from_utf8_lossy(reply),
        "after sending {:?}",
        String::from_utf8_lossy(&bytes[..bytes.len().min(60)])
    );
}

#[test]
fn pipeline_of_1000_incrs_in_one_write() {
    let s = start();
    let mut c = s.raw();
    let mut batch = Vec::new();
    for _ in 0..1000 {
        batch.extend(encode(&["INCR", "counter"]));
    }
    batch.extend(encode(&["GET", "counter"]));
    c.send(&batch);
    for i in 1..=1000 {
        assert_eq!(c.read(), int(i));
    }
    assert_eq!(c.read(), bulk("1000"));
    // Mixed commands keep their order, errors included.
    let mut batch = Vec::new();
    for i in 0..300 {
        batch.extend(encode(&["SET", &format!("k{i}"), &i.to_string()]));
        batch.extend(encode(&["GET", &format!("k{i}")]));
        batch.extend(encode(&["GET"]));
    }
    c.send(&batch);
    for i in 0..300 {
        assert_eq!(c.read(), ok());
        assert_eq!(c.read(), bulk(i.to_string()));
        assert_eq!(
            c.read(),
            err("ERR wrong number of arguments for 'get' command")
        );
    }
}

#[test]
fn big_pipeline_with_big_values() {
    let s = start();
    let mut c = s.raw();
    let value = "v".repeat(100_000);
    let mut batch = Vec::new();
    for i in 0..50 {
        batch.extend(encode(&["SET", &format!("big{i}"), &value]));
    }
    for i in 0..50 {
        batch.extend(encode(&["STRLEN", &format!("big{i}")]));
    }
    c.send(&batch);
    for _ in 0..50 {
        assert_eq!(c.read(), ok());
    }
    for _ in 0..50 {
        assert_eq!(c.read(), int(100_000));
    }
    assert_eq!(c.q("GET big7"), bulk(&value));
}

#[test]
fn commands_split_at_every_byte() {
    let s = start();
    let mut c = s.raw();
    let mut input = Vec::new();
    input.extend(encode(&["SET", "key", "hello\r\nworld"]));
    input.extend(encode(&["GET", "key"]));
    input.extend_from_slice(b"PING\r\n");
    input.extend_from_slice(b"SET inl \"a b\"\r\n");
    input.extend(encode(&["APPEND", "inl", "!"]));
    for b in &input {
        c.send(&[*b]);
        c.stream.flush().unwrap();
    }
    assert_eq!(c.read(), ok());
    assert_eq!(c.read(), bulk("hello\r\nworld"));
    assert_eq!(c.read(), simple("PONG"));
    assert_eq!(c.read(), ok());
    assert_eq!(c.read(), int(4));
    // Every split point of one command, on fresh connections.
    let one = encode(&["ECHO", "split me"]);
    for cut in 1..one.len() {
        let mut c = s.raw();
        c.send(&one[..cut]);
        std::thread::sleep(Duration::from_millis(1));
        c.send(&one[cut..]);
        assert_eq!(c.read(), bulk("split me"), "cut at {cut}");
    }
}

#[test]
fn inline_commands() {
    let s = start();
    let mut c = s.raw();
    c.send(b"PING\r\n");
    assert_eq!(c.read(), simple("PONG"));
    c.send(b"PING\n");
    assert_eq!(c.read(), simple("PONG"));
    c.send(b"SET a \"b c\"\r\n");
    assert_eq!(c.read(), ok());
    assert_eq!(c.q("GET a"), bulk("b c"));
    c.send(b"set q 'it\\'s'\r\nget q\r\n");
    assert_eq!(c.read(), ok());
    assert_eq!(c.read(), bulk("it's"));
    c.send(b"SET esc \"\\x41\\n\\t\"\r\nGET esc\r\n");
    assert_eq!(c.read(), ok());
    assert_eq!(c.read(), bulk("A\n\t"));
    // Blank lines are skipped; spaces around arguments do not matter.
    c.send(b"\r\n\r\n   PING   \r\n");
    assert_eq!(c.read(), simple("PONG"));
    c.send(b"ping a b c\r\n");
    assert_eq!(
        c.read(),
        err("ERR wrong number of arguments for 'ping' command")
    );
    // A RESP bulk header outside a multibulk is just an inline word.
    c.send(b"$4\r\nPING\r\n");
    assert_eq!(
        c.read(),
        err("ERR unknown command '$4', with args beginning with: ")
    );
    assert_eq!(c.read(), simple("PONG"));
    // Inline and multibulk mixed in one write.
    let mut mixed = b"INCR n\r\n".to_vec();
    mixed.extend(encode(&["INCR", "n"]));
    mixed.extend_from_slice(b"INCR n\n");
    c.send(&mixed);
    assert_eq!(c.read(), int(1));
    assert_eq!(c.read(), int(2));
    assert_eq!(c.read(), int(3));
    // An inline line just under 64 KB is still accepted.
    let mut long = vec![b'a'; 65_536];
    long.extend_from_slice(b"\r\n");
    c.send(&long);
    let want = format!(
        "ERR unknown command '{}', with args beginning with: ",
        "a".repeat(128)
    );
    assert_eq!(c.read(), err(&want));

    expect_reply_then_close(
        &s,
        b"GET \"a\r\n",
        b"-ERR Protocol error: unbalanced quotes in request\r\n",
    );
    expect_reply_then_close(
        &s,
        b"GET \"a\"b\r\n",
        b"-ERR Protocol error: unbalanced quotes in request\r\n",
    );
}

#[test]
fn resp3_after_hello_3() {
    let s = start();
    let mut c = s.raw();
    c.send(&encode(&["GET", "missing"]));
    assert_eq!(c.read(), Frame::NullBulk);
    c.send(&encode(&["HELLO", "3"]));
    let Frame::Map(pairs) = c.read() else {
        panic!("HELLO 3 replies with a map")
    };
    assert_eq!(pairs[2], (bulk("proto"), int(3)));
    // Raw bytes now: `_` for nulls, `%` for maps, `~` for sets.
    let mut raw_reply = |cmd: &[&str], len: usize| -> Vec<u8> {
        c.send(&encode(cmd));
        let mut got = Vec::new();
        while got.len() < len {
            let mut b = [0u8; 4096];
            let n = std::io::Read::read(&mut c.stream, &mut b).unwrap();
            assert!(n > 0);
            got.extend_from_slice(&b[..n]);
        }
        got
    };
    assert_eq!(raw_reply(&["GET", "missing"], 3), b"_\r\n");
    assert_eq!(
        raw_reply(&["MGET", "missing", "x"], 10),
        b"*2\r\n_\r\n_\r\n"
    );
    assert_eq!(
        raw_reply(&["CONFIG", "GET", "databases"], 27),
        b"%1\r\n$9\r\ndatabases\r\n$2\r\n16\r\n"
    );
    assert_eq!(raw_reply(&["SET", "f", "1.5"], 5), b"+OK\r\n");
    // INCRBYFLOAT stays a bulk string, as in Redis.
    assert_eq!(raw_reply(&["INCRBYFLOAT", "f", "1"], 9), b"$3\r\n2.5\r\n");
    assert_eq!(raw_reply(&["PING"], 7), b"+PONG\r\n");
    // HELLO 2 switches back.
    c.send(&encode(&["HELLO", "2"]));
    assert!(matches!(c.read(), Frame::Array(_)));
    assert_eq!(c.q("GET missing"), Frame::NullBulk);
}

#[test]
fn protocol_errors_reply_and_close() {
    let s = start();
    expect_reply_then_close(
        &s,
        b"*1\r\n$2147483648\r\n",
        b"-ERR Protocol error: invalid bulk length\r\n",
    );
    expect_reply_then_close(
        &s,
        b"*1\r\n$536870913\r\n",
        b"-ERR Protocol error: invalid bulk length\r\n",
    );
    expect_reply_then_close(
        &s,
        b"*1\r\n$-1\r\n",
        b"-ERR Protocol error: invalid bulk length\r\n",
    );
    expect_reply_then_close(
        &s,
        b"*1\r\n$x\r\n",
        b"-ERR Protocol error: invalid bulk length\r\n",
    );
    expect_reply_then_close(
        &s,
        b"*1\r\n$\r\n",
        b"-ERR Protocol error: invalid bulk length\r\n",
    );
    expect_reply_then_close(
        &s,
        b"*1\r\n+x\r\n",
        b"-ERR Protocol error: expected '$', got '+'\r\n",
    );
    expect_reply_then_close(
        &s,
        b"*1\r\n*1\r\n",
        b"-ERR Protocol error: expected '$', got '*'\r\n",
    );
    expect_reply_then_close(
        &s,
        b"*abc\r\n",
        b"-ERR Protocol error: invalid multibulk length\r\n",
    );
    expect_reply_then_close(
        &s,
        b"*\r\n",
        b"-ERR Protocol error: invalid multibulk length\r\n",
    );
    expect_reply_then_close(
        &s,
        b"*01\r\n",
        b"-ERR Protocol error: invalid multibulk length\r\n",
    );
    expect_reply_then_close(
        &s,
        b"*3000000000\r\n",
        b"-ERR Protocol error: invalid multibulk length\r\n",
    );
    let mut star = b"*".to_vec();
    star.extend(vec![b'1'; 70_000]);
    expect_reply_then_close(
        &s,
        &star,
        b"-ERR Protocol error: too big mbulk count string\r\n",
    );
    let mut bulk_hdr = b"*1\r\n$".to_vec();
    bulk_hdr.extend(vec![b'1'; 70_000]);
    expect_reply_then_close(
        &s,
        &bulk_hdr,
        b"-ERR Protocol error: too big bulk count string\r\n",
    );
    // Commands before the bad bytes run and are answered first.
    let mut c = s.raw();
    c.send(b"PING\r\n*1\r\n$4\r\nECHO\r\n*1\r\n+x\r\n");
    let got = c.read_to_eof();
    assert_eq!(
        String::from_utf8_lossy(&got),
        "+PONG\r\n-ERR wrong number of arguments for 'echo' command\r\n-ERR Protocol error: expected '$', got '+'\r\n"
    );
}

#[test]
fn too_big_inline_request_closes() {
    let s = start();
    // 1 MB without a newline: written from another thread, since the server closes the
    // connection part way through.
    let mut c = s.raw();
    let mut writer = c.stream.try_clone().unwrap();
    let t = std::thread::spawn(move || {
        let _ = writer.write_all(&vec![b'x'; 1 << 20]);
    });
    assert_eq!(
        String::from_utf8_lossy(&c.read_to_eof()),
        "-ERR Protocol error: too big inline request\r\n"
    );
    t.join().unwrap();
    // The limit is 64 KB.
    expect_reply_then_close(
        &s,
        &vec![b'y'; 65_537],
        b"-ERR Protocol error: too big inline request\r\n",
    );
    let mut c = s.raw();
    c.send(&vec![b'z'; 65_535]);
    assert!(
        !c.closed_within(200),
        "64 KB - 1 without a newline is still waiting for more"
    );
}

#[test]
fn empty_and_negative_multibulk_are_ignored() {
    let s = start();
    let mut c = s.raw();
    c.send(b"*-10\r\n");
    c.send(&encode(&["PING"]));
    assert_eq!(c.read(), simple("PONG"));
    c.send(b"*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n");
    assert_eq!(c.read(), simple("PONG"));
    // The two bytes after a bulk payload are skipped unchecked, as in Redis.
    c.send(b"*1\r\n$4\r\nPINGxx*1\r\n$4\r\nPING\r\n");
    assert_eq!(c.read(), simple("PONG"));
    assert_eq!(c.read(), simple("PONG"));
    // An empty bulk argument is fine.
    c.send(b"*2\r\n$4\r\nECHO\r\n$0\r\n\r\n");
    assert_eq!(c.read(), bulk(""));
}

#[test]
fn command_errors_match_redis_text() {
    let s = start();
    let mut c = s.raw();
    assert_eq!(
        c.q("foo a"),
        err("ERR unknown command 'foo', with args beginning with: 'a' ")
    );
    assert_eq!(
        c.q("FOO a b c"),
        err("ERR unknown command 'FOO', with args beginning with: 'a' 'b' 'c' ")
    );
    assert_eq!(
        c.q("foo"),
        err("ERR unknown command 'foo', with args beginning with: ")
    );
    assert_eq!(
        c.call(&["foo", "a b"]),
        err("ERR unknown command 'foo', with args beginning with: 'a b' ")
    );
    // Newlines in echoed arguments become spaces so the error stays one line.
    assert_eq!(
        c.call(&["foo", "a\r\nb"]),
        err("ERR unknown command 'foo', with args beginning with: 'a  b' ")
    );
    // The argument list is cut once it reaches 128 bytes; the name at 128.
    let (a, b) = ("a".repeat(100), "b".repeat(100));
    assert_eq!(
        c.call(&["foo", &a, &b, "x"]),
        err(&format!(
            "ERR unknown command 'foo', with args beginning with: '{a}' '{}' ",
            "b".repeat(25)
        ))
    );
    let long = "c".repeat(200);
    assert_eq!(
        c.call(&[long.as_str(), "x"]),
        err(&format!(
            "ERR unknown command '{}', with args beginning with: 'x' ",
            "c".repeat(128)
        ))
    );
    assert_eq!(
        c.q("get"),
        err("ERR wrong number of arguments for 'get' command")
    );
    assert_eq!(
        c.q("GET a b"),
        err("ERR wrong number of arguments for 'get' command")
    );
    assert_eq!(
        c.q("SeT k"),
        err("ERR wrong number of arguments for 'set' command")
    );
    assert_eq!(c.q("PING"), simple("PONG"));
}

#[test]
fn half_command_then_disconnect_does_not_affect_others() {
    let s = start();
    let mut good = s.raw();
    assert_eq!(good.q("SET k v"), ok());
    for partial in [
        &b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhel"[..],
        b"*2\r\n$3\r\nGET\r\n",
        b"*1\r\n$100000000\r\n",
        b"SET k \"unfinished",
        b"*",
    ] {
        let mut bad = s.raw();
        bad.send(partial);
        assert_eq!(good.q("GET k"), bulk("v"));
        drop(bad);
        assert_eq!(good.q("GET k"), bulk("v"));
    }
    // The half-written SET never ran.
    assert!(wait_for(2000, || as_text(&good.q("CLIENT LIST"))
        .lines()
        .count()
        == 1));
    assert_eq!(good.q("GET k"), bulk("v"));
}

#[test]
fn bad_clients_do_not_stall_others() {
    let s = start();
    let mut good = s.raw();
    // A client that announced a 100 MB argument and trickles it.
    let mut slow = s.raw();
    slow.send(b"*3\r\n$3\r\nSET\r\n$4\r\nslow\r\n$100000000\r\n");
    slow.send(&[b'x'; 10_000]);
    // A client that pipelines large replies and never reads them.
    let mut deaf = s.raw();
    assert_eq!(deaf.call(&["SET", "big", &"b".repeat(64 * 1024)]), ok());
    let mut batch = Vec::new();
    for _ in 0..500 {
        batch.extend(encode(&["GET", "big"]));
    }
    deaf.send(&batch);
    // Someone sending protocol garbage.
    let mut noisy = s.raw();
    noisy.send(b"*1\r\n+oops\r\n");
    for i in 0..100 {
        assert_eq!(good.call(&["SET", "k", &i.to_string()]), ok());
        assert_eq!(good.q("GET k"), bulk(i.to_string()));
    }
    assert_eq!(
        String::from_utf8_lossy(&noisy.read_to_eof()),
        "-ERR Protocol error: expected '$', got '+'\r\n"
    );
    slow.send(&[b'x'; 10_000]);
    assert_eq!(good.q("EXISTS slow"), int(0));
    // The deaf client's replies are all there when it finally reads.
    for _ in 0..500 {
        assert_eq!(deaf.read().as_bytes().map(<[u8]>::len), Some(64 * 1024));
    }
    assert_eq!(good.q("PING"), simple("PONG"));
}

#[test]
fn quit_replies_then_closes() {
    let s = start();
    let mut c = s.raw();
    c.send(b"PING\r\nQUIT\r\nPING\r\n");
    assert_eq!(c.read_to_eof(), b"+PONG\r\n+OK\r\n");
}

#[test]
fn size_limits_follow_config_set() {
    let s = start();
    let mut c = s.raw();
    let mut other = s.raw();
    assert_eq!(other.q("PING"), simple("PONG"));
    assert_eq!(c.q("CONFIG SET proto-max-bulk-len 1mb"), ok());
    // Already connected clients get the new limit too.
    other.send(b"*2\r\n$4\r\nECHO\r\n$1048577\r\n");
    assert_eq!(
        other.read_to_eof(),
        b"-ERR Protocol error: invalid bulk length\r\n"
    );
    let exactly = "e".repeat(1 << 20);
    assert_eq!(c.call(&["ECHO", &exactly]), bulk(&exactly));
    assert_eq!(c.q("CONFIG SET proto-max-bulk-len 512mb"), ok());
    assert_eq!(
        c.call(&["ECHO", &format!("{exactly}!")])
            .as_bytes()
            .map(<[u8]>::len),
        Some((1 << 20) + 1)
    );
}
