//! CLIENT REPLY ON/OFF/SKIP matches Redis 7.0: OFF drops every reply (errors too) while
//! the commands still run, SKIP drops the next command's reply (a SKIP skipped by a SKIP
//! still arms the next one), ON always answers, subscribe confirmations are delivered
//! anyway, and RESET turns replies back on (and answers).

mod common;

use common::*;

/// Send `lines` as inline commands in one write, then read `n` replies.
fn exchange(c: &mut Raw, lines: &[&str], n: usize) -> Vec<strata::protocol::Frame> {
    let mut bytes = Vec::new();
    for l in lines {
        bytes.extend_from_slice(l.as_bytes());
        bytes.extend_from_slice(b"\r\n");
    }
    c.send(&bytes);
    (0..n).map(|_| c.read()).collect()
}

#[test]
fn off_skip_and_on() {
    let s = start();
    let mut c = s.raw();
    // OFF: nothing comes back, not even an error, but the commands run. ON answers.
    let r = exchange(
        &mut c,
        &[
            "CLIENT REPLY OFF",
            "SET a 1",
            "GET a",
            "NOSUCHCOMMAND",
            "INCR a",
            "CLIENT REPLY ON",
            "GET a",
        ],
        2,
    );
    assert_eq!(r, vec![ok(), bulk("2")]);
    // SKIP drops only the next reply.
    assert_eq!(
        exchange(&mut c, &["CLIENT REPLY SKIP", "INCR a", "GET a"], 1),
        vec![bulk("3")]
    );
    // A skipped SKIP still arms the next one: of SKIP SKIP GET GET one reply comes back.
    assert_eq!(
        exchange(
            &mut c,
            &[
                "CLIENT REPLY SKIP",
                "CLIENT REPLY SKIP",
                "GET a",
                "ECHO last"
            ],
            1
        ),
        vec![bulk("last")]
    );
    // ON right after SKIP still answers.
    assert_eq!(
        exchange(
            &mut c,
            &["CLIENT REPLY SKIP", "CLIENT REPLY ON", "GET a"],
            2
        ),
        vec![ok(), bulk("3")]
    );
    assert_eq!(c.q("CLIENT REPLY MAYBE"), err("ERR syntax error"));
    assert_eq!(
        c.q("CLIENT REPLY"),
        err("ERR wrong number of arguments for 'client|reply' command")
    );
}

#[test]
fn subscribe_confirmations_pass_and_reset_turns_replies_on() {
    let s = start();
    let mut c = s.raw();
    let r = exchange(&mut c, &["CLIENT REPLY SKIP", "SUBSCRIBE ch", "PING"], 2);
    assert_eq!(r[0], arr(vec![bulk("subscribe"), bulk("ch"), int(1)]));
    assert_eq!(r[1], bulks(&["pong", ""]));
    let mut d = s.raw();
    assert_eq!(
        exchange(
            &mut d,
            &["CLIENT REPLY OFF", "SET k v", "RESET", "GET k"],
            2
        ),
        vec![simple("RESET"), bulk("v")]
    );
}

/// A reply that comes after its command (a blocking pop served or timed out, a WAITAOF
/// answered) is dropped too when its command ran under OFF or SKIP: it used to be sent.
#[test]
fn late_replies_are_dropped_as_well() {
    let external = std::env::var("STRATA_TEST_EXTERNAL_PORT").is_ok();
    let s = start_with(|c| c.appendonly = true);
    let mut c = s.raw();
    let mut pusher = s.raw();
    // SKIP, then a BLPOP that blocks and is served: its reply never comes; the next
    // command answers normally.
    c.send(b"CLIENT REPLY SKIP\r\nBLPOP q 0\r\n");
    let blocked = |p: &mut Raw| {
        matches!(p.q("INFO clients"), strata::protocol::Frame::Bulk(b)
            if String::from_utf8_lossy(&b).contains("blocked_clients:1"))
    };
    while !blocked(&mut pusher) {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert_eq!(pusher.q("RPUSH q job"), int(1));
    assert_eq!(c.q("PING"), simple("PONG"));
    assert_eq!(pusher.q("LLEN q"), int(0), "the pop ran");
    // OFF: a BLPOP that times out, then a WAITAOF; ON answers, and nothing else arrived.
    c.send(b"CLIENT REPLY OFF\r\nBLPOP q 0.05\r\nSET k v\r\n");
    if !external {
        c.send(b"WAITAOF 1 0 1000\r\n");
    }
    assert_eq!(c.q("CLIENT REPLY ON"), ok());
    assert_eq!(c.q("GET k"), bulk("v"));
    assert_eq!(c.q("PING"), simple("PONG"));
    // The replies the server writes after a command (BGSAVE's, CONFIG SET appendonly's)
    // are dropped too (they came back before).
    c.send(b"CLIENT REPLY SKIP\r\nBGSAVE\r\n");
    assert_eq!(c.q("PING"), simple("PONG"));
}
