//! MONITOR matches Redis 7.0: every command any client runs reaches the monitoring
//! clients as `+<unix time.µs> [<db> <addr>] "arg" ...` (Redis's quoting), after it ran,
//! in order (a transaction's commands between MULTI and EXEC); `@admin` and refused
//! commands are left out, passwords redacted; the monitoring client may not touch keys,
//! stops with RESET, and MONITOR inside MULTI fails at EXEC.

mod common;

use common::*;
use strata::protocol::Frame;

/// `(db, arguments part)` of a monitor line, after checking its timestamp and address.
fn line(f: Frame) -> (u32, String) {
    let Frame::Simple(s) = f else {
        panic!("expected a monitor line, got {f:?}")
    };
    let (stamp, rest) = s.split_once(" [").unwrap_or_else(|| panic!("{s}"));
    let (secs, micros) = stamp.split_once('.').unwrap_or_else(|| panic!("{s}"));
    assert!(secs.parse::<u64>().unwrap() > 1_700_000_000, "{s}");
    assert!(micros.len() == 6 && micros.parse::<u32>().is_ok(), "{s}");
    let (client, args) = rest.split_once("] ").unwrap_or_else(|| panic!("{s}"));
    let (db, addr) = client.split_once(' ').unwrap();
    assert!(addr.starts_with("127.0.0.1:"), "{s}");
    (db.parse().unwrap(), args.to_string())
}

#[test]
fn a_monitor_sees_what_other_clients_run() {
    let s = start();
    let mut m = s.raw();
    assert_eq!(m.q("MONITOR"), ok());
    let mut c = s.raw();
    c.call(&["SET", "a b", "x\"y\n\x01\\"]);
    assert_eq!(
        line(m.read()),
        (0, r#""SET" "a b" "x\"y\n\x01\\""#.to_string())
    );
    // A transaction: MULTI, the commands as EXEC runs them, then EXEC.
    c.q("MULTI");
    c.q("SET k 1");
    c.q("INCR k");
    c.q("EXEC");
    for want in [
        r#""MULTI""#,
        r#""SET" "k" "1""#,
        r#""INCR" "k""#,
        r#""EXEC""#,
    ] {
        assert_eq!(line(m.read()).1, want);
    }
    // Left out: @admin commands and subcommands, refused commands (wrong arity, unknown).
    c.q("CONFIG GET maxmemory");
    c.q("SLOWLOG LEN");
    c.q("GET");
    c.q("NOSUCHCOMMAND");
    // Shown, with secrets redacted and the db the client is in once the command ran.
    c.q("AUTH nobody wrong");
    c.q("HELLO 2 AUTH default wrong");
    c.q("CLIENT ID");
    c.q("SELECT 3");
    c.q("GET zz");
    assert_eq!(
        line(m.read()),
        (0, r#""AUTH" "(redacted)" "(redacted)""#.into())
    );
    assert_eq!(
        line(m.read()),
        (0, r#""HELLO" "2" "AUTH" "(redacted)" "(redacted)""#.into())
    );
    assert_eq!(line(m.read()), (0, r#""CLIENT" "ID""#.into()));
    assert_eq!(line(m.read()), (3, r#""SELECT" "3""#.into()));
    assert_eq!(line(m.read()), (3, r#""GET" "zz""#.into()));

    // CLIENT LIST flags the monitor with O.
    let list = as_text(&c.q("CLIENT LIST"));
    assert!(list.lines().any(|l| l.contains("flags=O ")), "{list}");
}

#[test]
fn the_monitoring_client_cannot_touch_keys_and_leaves_with_reset() {
    let s = start();
    let mut m = s.raw();
    assert_eq!(m.q("MONITOR"), ok());
    // A second MONITOR is ignored without a reply: the next reply is PING's.
    m.send_cmd(&["MONITOR"]);
    assert_eq!(m.q("PING"), simple("PONG"));
    assert_eq!(line(m.read()).1, r#""PING""#);
    assert_eq!(
        m.q("GET a"),
        err("ERR Replica can't interact with the keyspace")
    );
    assert_eq!(
        m.q("SET a 1"),
        err("ERR Replica can't interact with the keyspace")
    );
    // RESET ends monitoring: what others run afterwards no longer arrives.
    assert_eq!(m.q("RESET"), simple("RESET"));
    let mut c = s.raw();
    c.q("SET after reset");
    assert_eq!(m.q("GET after"), bulk("reset"));
}

#[test]
fn monitor_inside_multi_fails_at_exec_and_resp3_monitors_get_simple_strings() {
    let s = start();
    let mut c = s.raw();
    c.q("MULTI");
    assert_eq!(c.q("MONITOR"), simple("QUEUED"));
    assert_eq!(
        c.q("EXEC"),
        arr(vec![err(
            "ERR MONITOR isn't allowed for DENY BLOCKING client"
        )])
    );
    let mut m = s.raw();
    m.q("HELLO 3");
    assert_eq!(m.q("MONITOR"), ok());
    c.q("LPUSH l x");
    assert_eq!(line(m.read()).1, r#""LPUSH" "l" "x""#);
}

#[test]
fn a_monitor_that_disconnects_is_forgotten() {
    let s = start();
    let mut m = s.raw();
    assert_eq!(m.q("MONITOR"), ok());
    drop(m);
    let mut c = s.raw();
    // The server keeps working, and soon no longer lists a monitor.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        c.q("INCR n");
        let list = as_text(&c.q("CLIENT LIST"));
        if !list.contains("flags=O ") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{list}");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(as_int(&c.q("DECR n")) >= 0);
}

#[test]
fn a_script_shows_up_before_the_commands_it_runs() {
    let s = start();
    let mut m = s.raw();
    assert_eq!(m.q("MONITOR"), ok());
    let mut c = s.raw();
    let script =
        "redis.call('select', 2) redis.call('set', KEYS[1], 'v') return redis.call('get', KEYS[1])";
    assert_eq!(c.call(&["EVAL", script, "1", "sk"]), bulk("v"));
    assert_eq!(
        line(m.read()),
        (0, format!("\"EVAL\" \"{script}\" \"1\" \"sk\""))
    );
    // The script's commands, as Redis shows them: `[<db> lua]`, in the database the
    // script is in once the command ran.
    for (db, want) in [
        ("2", r#""select" "2""#),
        ("2", r#""set" "sk" "v""#),
        ("2", r#""get" "sk""#),
    ] {
        let Frame::Simple(l) = m.read() else {
            panic!("a monitor line")
        };
        assert!(l.ends_with(&format!("[{db} lua] {want}")), "{l}");
    }
}
