//! CLIENT PAUSE / UNPAUSE as in Redis 7.0: WRITE holds back what may change data (reads
//! pass), ALL holds everything (UNPAUSE too), held pipelines resume in order, nothing
//! expires while paused, and a second pause only extends the one in force.

mod common;

use std::time::Duration;

use common::*;

/// Whether a reply is waiting on `c` within `ms` (without consuming it).
fn reply_within(c: &mut Raw, ms: u64) -> bool {
    c.stream
        .set_read_timeout(Some(Duration::from_millis(ms)))
        .unwrap();
    let mut b = [0u8; 1];
    let got = c.stream.peek(&mut b).map(|n| n > 0).unwrap_or(false);
    c.stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    got
}

#[test]
fn write_pause_holds_writes_until_unpause_and_lets_reads_through() {
    let mut s = start_with(|c| c.appendonly = true);
    let mut admin = s.raw();
    let mut c = s.raw();
    assert_eq!(admin.q("SET a 1"), ok());
    assert_eq!(admin.q("CLIENT PAUSE 60000 WRITE"), ok());
    // A pipeline: the read answers, the write and everything after it wait.
    c.send(b"GET a\r\nSET a 2\r\nGET a\r\nPUBLISH ch m\r\n");
    assert_eq!(c.read(), bulk("1"));
    assert!(!reply_within(&mut c, 200), "the SET ran during the pause");
    // Other clients' reads still answer; their writes wait too.
    assert_eq!(admin.q("GET a"), bulk("1"));
    assert_eq!(admin.q("EXISTS a"), int(1));
    assert_eq!(admin.q("CLIENT UNPAUSE"), ok());
    assert_eq!(c.read(), ok());
    assert_eq!(c.read(), bulk("2"));
    assert_eq!(c.read(), int(0));
    // Held commands were logged in order like any others.
    if std::env::var("STRATA_TEST_EXTERNAL_PORT").is_err() {
        let s2 = restart_with_log(&mut s);
        assert_eq!(s2.raw().q("GET a"), bulk("2"));
    }
}

#[test]
fn all_pause_holds_every_command_until_it_ends() {
    let s = start();
    let mut admin = s.raw();
    let mut c = s.raw();
    assert_eq!(admin.q("CLIENT PAUSE 400 ALL"), ok());
    c.send(b"PING\r\n");
    assert!(
        !reply_within(&mut c, 100),
        "PING answered during an ALL pause"
    );
    // Under ALL even UNPAUSE waits for the end (Redis 7.0 does the same).
    assert_eq!(admin.q("CLIENT UNPAUSE"), ok());
    assert_eq!(c.read(), simple("PONG"));
}

#[test]
fn transactions_under_a_write_pause() {
    let s = start();
    let mut admin = s.raw();
    let mut c = s.raw();
    assert_eq!(admin.q("CLIENT PAUSE 60000 WRITE"), ok());
    // Read-only transactions run; queueing a write is held, as in Redis.
    assert_eq!(c.q("MULTI"), ok());
    assert_eq!(c.q("GET a"), simple("QUEUED"));
    assert_eq!(c.q("EXEC"), arr(vec![nil()]));
    c.send(b"MULTI\r\nSET a 1\r\nEXEC\r\n");
    assert_eq!(c.read(), ok());
    assert!(!reply_within(&mut c, 200));
    assert_eq!(admin.q("CLIENT UNPAUSE"), ok());
    assert_eq!(c.read(), simple("QUEUED"));
    assert_eq!(c.read(), arr(vec![ok()]));
}

#[test]
fn nothing_expires_while_paused() {
    let s = start();
    let mut c = s.raw();
    assert_eq!(c.q("SET k v PX 1"), ok());
    assert_eq!(c.q("SET other v"), ok());
    assert_eq!(c.q("CLIENT PAUSE 60000 WRITE"), ok());
    std::thread::sleep(Duration::from_millis(20));
    // Reads see the key as gone, but it is not deleted (no DEL is logged) until the
    // pause ends.
    assert_eq!(c.q("GET k"), nil());
    assert_eq!(c.q("MGET k other"), arr(vec![nil(), bulk("v")]));
    assert_eq!(c.q("EXISTS k"), int(0));
    assert_eq!(c.q("TTL k"), int(-2));
    assert_eq!(c.q("DBSIZE"), int(2));
    assert_eq!(c.q("CLIENT UNPAUSE"), ok());
    assert_eq!(c.q("GET k"), nil());
    assert_eq!(c.q("DBSIZE"), int(1));
}

#[test]
fn pause_arguments_and_a_second_pause_only_extends() {
    let s = start();
    let mut c = s.raw();
    assert_eq!(c.q("CLIENT PAUSE -1"), err("ERR timeout is negative"));
    assert_eq!(
        c.q("CLIENT PAUSE abc"),
        err("ERR timeout is not an integer or out of range")
    );
    assert_eq!(
        c.q("CLIENT PAUSE 10 READ"),
        err("ERR CLIENT PAUSE mode must be WRITE or ALL")
    );
    assert_eq!(
        c.q("CLIENT PAUSE 10 WRITE x"),
        err("ERR unknown subcommand or wrong number of arguments for 'PAUSE'. Try CLIENT HELP.")
    );
    assert_eq!(
        c.q("CLIENT UNPAUSE x"),
        err("ERR wrong number of arguments for 'client|unpause' command")
    );
    // A shorter pause, or a WRITE one after ALL, shortens and relaxes nothing.
    assert_eq!(c.q("CLIENT PAUSE 60000 WRITE"), ok());
    assert_eq!(c.q("CLIENT PAUSE 0 WRITE"), ok());
    let mut w = s.raw();
    w.send(b"SET a 1\r\n");
    assert!(!reply_within(&mut w, 200), "a 0 ms pause ended a 60 s one");
    assert_eq!(c.q("CLIENT UNPAUSE"), ok());
    assert_eq!(w.read(), ok());
    // WRITE, then a short ALL: reads wait for the WRITE pause's end.
    assert_eq!(c.q("CLIENT PAUSE 300 WRITE"), ok());
    assert_eq!(c.q("CLIENT PAUSE 1 ALL"), ok());
    w.send(b"GET a\r\n");
    assert!(
        !reply_within(&mut w, 100),
        "the ALL pause ended with its own 1 ms"
    );
    assert_eq!(w.read(), bulk("1"));
}

/// A client that leaves while held is dropped at once and its held commands never run
/// (it used to stay connected, unread, until the pause ended, and then run them).
#[test]
fn a_client_leaving_while_held_is_gone_and_its_writes_never_run() {
    let s = start();
    let mut admin = s.raw();
    assert_eq!(admin.q("CLIENT PAUSE 60000 WRITE"), ok());
    {
        let mut c = s.raw();
        c.send(b"SET left 1\r\n");
        assert!(!reply_within(&mut c, 100));
    } // dropped: the socket closes
    let connected = |a: &mut Raw| {
        let strata::protocol::Frame::Bulk(info) = a.q("INFO clients") else {
            panic!("INFO is a bulk string")
        };
        String::from_utf8_lossy(&info).contains("connected_clients:1\r\n")
    };
    let mut tries = 0;
    while !connected(&mut admin) {
        tries += 1;
        assert!(tries < 1000, "the held client is still connected");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(admin.q("CLIENT UNPAUSE"), ok());
    assert_eq!(admin.q("EXISTS left"), int(0));
}
