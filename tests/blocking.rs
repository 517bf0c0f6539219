//! Blocking list pops (BLPOP, BRPOP, BLMOVE, BLMPOP): woken by pushes in FIFO order before any other client can pop, timeouts, MULTI, disconnects, INFO, and the pop logged for replay.

mod common;

use std::time::{Duration, Instant};

use common::*;
use strata::protocol::Frame;

/// True if no reply arrives on `c` within `ms` (nothing is consumed).
fn silent_for(c: &mut Raw, ms: u64) -> bool {
    c.stream
        .set_read_timeout(Some(Duration::from_millis(ms)))
        .unwrap();
    let mut b = [0u8; 1];
    let r = c.stream.peek(&mut b);
    c.stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    r.is_err()
}

fn blocked_clients(c: &mut Raw) -> i64 {
    let info = as_text(&c.q("INFO clients"));
    info.lines()
        .find_map(|l| l.strip_prefix("blocked_clients:"))
        .expect("blocked_clients in INFO")
        .trim()
        .parse()
        .unwrap()
}

/// Wait until the server reports `n` blocked clients.
fn wait_blocked(c: &mut Raw, n: i64) {
    assert!(
        wait_for(2000, || blocked_clients(c) == n),
        "expected {n} blocked clients"
    );
}

#[test]
fn blpop_is_woken_by_a_push() {
    let s = start();
    let mut a = s.raw();
    let mut b = s.raw();
    a.send_cmd(&["BLPOP", "q1", "q2", "0"]);
    wait_blocked(&mut b, 1);
    assert!(silent_for(&mut a, 50));
    assert_eq!(b.q("RPUSH q2 x y"), int(2));
    assert_eq!(a.read(), bulks(&["q2", "x"]));
    assert_eq!(b.q("LRANGE q2 0 -1"), bulks(&["y"]));
    assert_eq!(blocked_clients(&mut b), 0);
    // Data already there: no blocking at all.
    assert_eq!(a.q("BRPOP q1 q2 0"), bulks(&["q2", "y"]));
    assert_eq!(b.q("EXISTS q2"), int(0));
}

#[test]
fn blocked_clients_are_served_first_come_first_served() {
    let s = start();
    let mut first = s.raw();
    let mut second = s.raw();
    let mut pusher = s.raw();
    first.send_cmd(&["BLPOP", "q", "0"]);
    wait_blocked(&mut pusher, 1);
    second.send_cmd(&["BLPOP", "q", "0"]);
    wait_blocked(&mut pusher, 2);
    assert_eq!(pusher.q("RPUSH q one"), int(1));
    assert_eq!(first.read(), bulks(&["q", "one"]));
    assert!(silent_for(&mut second, 50));
    assert_eq!(pusher.q("RPUSH q two three"), int(2));
    assert_eq!(second.read(), bulks(&["q", "two"]));
    assert_eq!(pusher.q("LRANGE q 0 -1"), bulks(&["three"]));
}

#[test]
fn the_blocked_client_gets_the_element_before_later_commands() {
    let s = start();
    let mut waiter = s.raw();
    let mut other = s.raw();
    waiter.send_cmd(&["BLPOP", "q", "0"]);
    wait_blocked(&mut other, 1);
    // As in Redis, the waiter is served right after the push, before the LPOP that was
    // pipelined behind it.
    let mut bytes = encode(&["RPUSH", "q", "x"]);
    bytes.extend(encode(&["LPOP", "q"]));
    other.send(&bytes);
    assert_eq!(other.read(), int(1));
    assert_eq!(other.read(), nil());
    assert_eq!(waiter.read(), bulks(&["q", "x"]));
}

#[test]
fn timeouts_and_timeout_errors() {
    let s = start();
    let mut c = s.raw();
    let t0 = Instant::now();
    assert_eq!(c.q("BLPOP q 0.2"), Frame::NullArray);
    let took = t0.elapsed();
    assert!(took >= Duration::from_millis(190), "{took:?}");
    assert!(took < Duration::from_millis(1500), "{took:?}");
    assert_eq!(c.q("BLMOVE q d LEFT RIGHT 0.05"), Frame::NullArray);
    assert_eq!(c.q("BLMPOP 0.05 1 q LEFT"), Frame::NullArray);
    assert_eq!(blocked_clients(&mut c), 0);
    for (cmd, msg) in [
        ("BLPOP q abc", "ERR timeout is not a float or out of range"),
        ("BLPOP q -1", "ERR timeout is negative"),
        ("BRPOP q inf", "ERR timeout is negative"),
        (
            "BLMOVE q d LEFT RIGHT x",
            "ERR timeout is not a float or out of range",
        ),
        (
            "BLMPOP x 1 q LEFT",
            "ERR timeout is not a float or out of range",
        ),
        ("BLMPOP 0 0 q LEFT", "ERR numkeys should be greater than 0"),
        ("BLMOVE q d UP RIGHT 0", "ERR syntax error"),
    ] {
        assert_eq!(c.q(cmd), err(msg), "{cmd}");
    }
    // RESP3: a timeout is a null.
    c.q("HELLO 3");
    assert_eq!(c.q("BRPOP q 0.01"), Frame::Null);
}

#[test]
fn blmove_and_blmpop_are_woken() {
    let s = start();
    let mut a = s.raw();
    let mut b = s.raw();
    let mut p = s.raw();
    a.send_cmd(&["BLMOVE", "src", "dst", "RIGHT", "LEFT", "0"]);
    b.send_cmd(&["BLMPOP", "0", "2", "x", "dst", "LEFT", "COUNT", "5"]);
    wait_blocked(&mut p, 2);
    assert_eq!(p.q("RPUSH src 1 2 3"), int(3));
    // BLMOVE takes 3 into dst, which wakes BLMPOP on dst in the same step.
    assert_eq!(a.read(), bulk("3"));
    assert_eq!(b.read(), arr(vec![bulk("dst"), bulks(&["3"])]));
    assert_eq!(p.q("LRANGE src 0 -1"), bulks(&["1", "2"]));
    assert_eq!(p.q("EXISTS dst"), int(0));
    assert_eq!(blocked_clients(&mut p), 0);
}

#[test]
fn pipelined_commands_wait_for_the_blocked_one() {
    let s = start();
    let mut a = s.raw();
    let mut p = s.raw();
    let mut bytes = encode(&["BLPOP", "q", "0"]);
    bytes.extend(encode(&["PING"]));
    bytes.extend(encode(&["LLEN", "q"]));
    a.send(&bytes);
    wait_blocked(&mut p, 1);
    assert!(silent_for(&mut a, 50));
    p.q("RPUSH q a b");
    assert_eq!(a.read(), bulks(&["q", "a"]));
    assert_eq!(a.read(), simple("PONG"));
    assert_eq!(a.read(), int(1));
}

#[test]
fn multi_never_blocks() {
    let s = start();
    let mut c = s.raw();
    c.q("MULTI");
    c.q("BLPOP q 0");
    c.q("BLMOVE q d LEFT LEFT 0");
    c.q("BLMPOP 0 1 q LEFT");
    c.q("RPUSH q x");
    c.q("BRPOP q 0");
    assert_eq!(
        c.q("EXEC"),
        arr(vec![
            Frame::NullArray,
            nil(),
            Frame::NullArray,
            int(1),
            bulks(&["q", "x"])
        ])
    );
}

#[test]
fn disconnected_and_wrong_type_waiters() {
    let s = start();
    let mut p = s.raw();
    {
        let mut gone = s.raw();
        gone.send_cmd(&["BLPOP", "q", "0"]);
        wait_blocked(&mut p, 1);
    }
    // The closed client leaves the queue: the element stays.
    wait_blocked(&mut p, 0);
    p.q("RPUSH q x");
    assert_eq!(p.q("LLEN q"), int(1));
    p.q("DEL q");

    // A waiter stays blocked while the key holds another type (Redis 7.0), and is
    // served once a list appears; a push to the same name in another db does nothing.
    let mut w = s.raw();
    w.send_cmd(&["BLPOP", "k", "0"]);
    wait_blocked(&mut p, 1);
    p.q("SET k str");
    assert!(silent_for(&mut w, 50));
    p.q("SELECT 1");
    p.q("RPUSH k other-db");
    assert!(silent_for(&mut w, 50));
    p.q("SELECT 0");
    p.q("DEL k");
    p.q("LPUSH k v");
    assert_eq!(w.read(), bulks(&["k", "v"]));
    let list = as_text(&p.q("CLIENT LIST"));
    assert!(!list.contains("flags=b"), "{list}");
}

#[test]
fn client_list_shows_blocked_flag() {
    let s = start();
    let mut w = s.raw();
    let mut p = s.raw();
    w.send_cmd(&["BLPOP", "k", "0"]);
    wait_blocked(&mut p, 1);
    let list = as_text(&p.q("CLIENT LIST"));
    assert!(
        list.lines()
            .any(|l| l.contains("flags=b") && l.contains("cmd=blpop")),
        "{list}"
    );
    p.q("RPUSH k v");
    assert_eq!(w.read(), bulks(&["k", "v"]));
}

#[test]
fn client_unblock_ends_a_wait() {
    let s = start();
    let mut w = s.raw();
    let mut p = s.raw();
    let id = as_int(&w.q("CLIENT ID")).to_string();
    w.send_cmd(&["BLPOP", "k", "0"]);
    wait_blocked(&mut p, 1);
    assert_eq!(p.call(&["CLIENT", "UNBLOCK", &id]), int(1));
    assert_eq!(w.read(), Frame::NullArray);
    w.send_cmd(&["BLMOVE", "k", "d", "LEFT", "LEFT", "0"]);
    wait_blocked(&mut p, 1);
    assert_eq!(
        p.call(&["CLIENT", "UNBLOCK", &id, "FOO"]),
        err("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
    );
    assert_eq!(p.call(&["CLIENT", "UNBLOCK", &id, "error"]), int(1));
    assert_eq!(
        w.read(),
        err("UNBLOCKED client unblocked via CLIENT UNBLOCK")
    );
    assert_eq!(p.call(&["CLIENT", "UNBLOCK", &id]), int(0));
    assert_eq!(
        p.q("CLIENT UNBLOCK x"),
        err("ERR value is not an integer or out of range")
    );
    // The connection carries on.
    assert_eq!(w.q("PING"), simple("PONG"));
}

#[test]
fn served_pops_are_logged_as_pops() {
    let mut s1 = start_with(|c| c.appendonly = true);
    if s1.handle.is_none() {
        return; // needs the in-process server
    }
    {
        let mut a = s1.raw();
        let mut b = s1.raw();
        let mut p = s1.raw();
        a.send_cmd(&["BLPOP", "q", "0"]);
        wait_blocked(&mut p, 1);
        b.send_cmd(&["BLMOVE", "q", "moved", "RIGHT", "LEFT", "0"]);
        wait_blocked(&mut p, 2);
        p.q("RPUSH q 1 2 3 4");
        assert_eq!(a.read(), bulks(&["q", "1"]));
        assert_eq!(b.read(), bulk("4"));
        b.send_cmd(&["BLMPOP", "0", "1", "q", "RIGHT", "COUNT", "5"]);
        assert_eq!(b.read(), arr(vec![bulk("q"), bulks(&["3", "2"])]));
        a.send_cmd(&["BRPOP", "late", "0"]);
        wait_blocked(&mut p, 1);
        p.q("LPUSH late z");
        assert_eq!(a.read(), bulks(&["late", "z"]));
    }
    let s2 = restart_with_log(&mut s1);
    let mut c = s2.raw();
    assert_eq!(c.q("EXISTS q"), int(0));
    assert_eq!(c.q("EXISTS late"), int(0));
    assert_eq!(c.q("LRANGE moved 0 -1"), bulks(&["4"]));
}

#[test]
fn served_pops_under_appendfsync_always() {
    let mut s1 = start_with(|c| {
        c.appendonly = true;
        c.appendfsync = strata::config::FsyncPolicy::Always;
    });
    if s1.handle.is_none() {
        return; // needs the in-process server
    }
    {
        let mut w = s1.raw();
        let mut p = s1.raw();
        for i in 0..20 {
            w.send_cmd(&["BRPOPLPUSH", "q", "done", "0"]);
            wait_blocked(&mut p, 1);
            assert_eq!(p.call(&["LPUSH", "q", &i.to_string()]), int(1));
            assert_eq!(w.read(), bulk(i.to_string()));
        }
    }
    let s2 = restart_with_log(&mut s1);
    let mut c = s2.raw();
    assert_eq!(c.q("LLEN done"), int(20));
    assert_eq!(c.q("EXISTS q"), int(0));
    assert_eq!(c.q("LINDEX done 0"), bulk("19"));
}
