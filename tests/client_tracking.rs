//! Client-side caching (CLIENT TRACKING) tells a client exactly what Redis 7.0 tells it:
//! which reads are remembered, when and how invalidations arrive (RESP3 pushes, RESP2
//! redirection to `__redis__:invalidate`, BCAST prefixes, flushes, a broken redirect),
//! and the options' errors. Passes against redis-server 7.0.15 too
//! (`STRATA_TEST_EXTERNAL_PORT=P cargo test --test client_tracking -- --test-threads=1`).

mod common;

use common::*;
use strata::protocol::Frame;

fn resp3(s: &Server) -> Raw {
    let mut c = s.raw();
    assert!(matches!(c.call(&["HELLO", "3"]), Frame::Map(_)));
    c
}

/// The pushes (or pub/sub messages) that reached `c` so far: a PING answered after them
/// marks the end.
fn pushes(c: &mut Raw) -> Vec<Frame> {
    c.send_cmd(&["PING"]);
    let mut got = Vec::new();
    loop {
        match c.read() {
            Frame::Simple(s) if s == "PONG" => return got,
            Frame::Array(a) if a == vec![bulk("pong"), bulk("")] => return got,
            f => got.push(f),
        }
    }
}

fn invalidate(keys: &[&str]) -> Frame {
    Frame::Push(vec![bulk("invalidate"), bulks(keys)])
}

fn invalidate_all() -> Frame {
    Frame::Push(vec![bulk("invalidate"), Frame::Null])
}

fn call(c: &mut Raw, line: &str) -> Frame {
    c.q(line)
}

#[test]
fn a_read_is_invalidated_once_by_the_next_change() {
    let s = start();
    let mut w = s.raw();
    let mut a = resp3(&s);
    assert_eq!(call(&mut a, "CLIENT TRACKING ON"), ok());
    assert_eq!(call(&mut a, "GET k"), Frame::Null);
    call(&mut w, "SET k 1");
    assert_eq!(pushes(&mut a), [invalidate(&["k"])]);
    // Not read again: the next change says nothing.
    call(&mut w, "SET k 2");
    assert_eq!(pushes(&mut a), []);
    // A read that failed (WRONGTYPE) is remembered too; so are reads in a transaction,
    // EXISTS and TYPE, and the key name whatever the db.
    call(&mut w, "RPUSH l x");
    assert!(matches!(call(&mut a, "GET l"), Frame::Error(_)));
    call(&mut a, "MULTI");
    call(&mut a, "GET m");
    call(&mut a, "EXEC");
    call(&mut a, "EXISTS e");
    call(&mut a, "TYPE t");
    call(&mut w, "RPUSH l y");
    call(&mut w, "SET m 1");
    call(&mut w, "SELECT 1");
    call(&mut w, "SET e 1");
    call(&mut w, "SET t 1");
    call(&mut w, "SELECT 0");
    assert_eq!(
        pushes(&mut a),
        [
            invalidate(&["l"]),
            invalidate(&["m"]),
            invalidate(&["e"]),
            invalidate(&["t"])
        ]
    );
    // Several keys read at once: one message per key changed.
    call(&mut a, "MGET k1 k2");
    call(&mut w, "MSET k1 1 k2 2");
    assert_eq!(pushes(&mut a), [invalidate(&["k1"]), invalidate(&["k2"])]);
    // Its own change too, after the reply to the command that made it.
    call(&mut a, "GET own");
    assert_eq!(call(&mut a, "SET own 1"), ok());
    assert_eq!(pushes(&mut a), [invalidate(&["own"])]);
    // A flush invalidates everything, with a null.
    call(&mut a, "GET f");
    call(&mut w, "FLUSHDB");
    assert_eq!(pushes(&mut a), [invalidate_all()]);
    // Off: nothing more.
    call(&mut a, "GET z");
    assert_eq!(call(&mut a, "CLIENT TRACKING OFF"), ok());
    call(&mut w, "SET z 1");
    call(&mut w, "FLUSHALL");
    assert_eq!(pushes(&mut a), []);
}

#[test]
fn expiry_invalidates() {
    let s = start();
    let mut w = s.raw();
    let mut a = resp3(&s);
    call(&mut a, "CLIENT TRACKING ON");
    call(&mut w, "SET soon 1 PX 50");
    call(&mut a, "GET soon");
    let mut got = Vec::new();
    assert!(wait_for(5000, || {
        got.extend(pushes(&mut a));
        !got.is_empty()
    }));
    assert_eq!(got, [invalidate(&["soon"])]);
}

#[test]
fn noloop_optin_and_optout() {
    let s = start();
    let mut w = s.raw();
    let mut a = resp3(&s);
    call(&mut a, "CLIENT TRACKING ON NOLOOP");
    call(&mut a, "GET n");
    call(&mut a, "SET n 1");
    // Its own change is not reported, and the key is forgotten all the same.
    call(&mut w, "SET n 2");
    assert_eq!(pushes(&mut a), []);
    call(&mut a, "CLIENT TRACKING OFF");

    call(&mut a, "CLIENT TRACKING ON OPTIN");
    assert_eq!(call(&mut a, "CLIENT CACHING YES"), ok());
    call(&mut a, "GET o1");
    call(&mut a, "GET o2");
    // CACHING lasts one command, CLIENT subcommands leave it, and a transaction is one.
    call(&mut a, "CLIENT CACHING YES");
    call(&mut a, "CLIENT ID");
    call(&mut a, "GET o3");
    call(&mut a, "CLIENT CACHING YES");
    call(&mut a, "MULTI");
    call(&mut a, "GET o4");
    call(&mut a, "GET o5");
    call(&mut a, "EXEC");
    call(&mut a, "GET o6");
    call(&mut w, "MSET o1 1 o2 2 o3 3 o4 4 o5 5 o6 6");
    assert_eq!(
        pushes(&mut a),
        [
            invalidate(&["o1"]),
            invalidate(&["o3"]),
            invalidate(&["o4"]),
            invalidate(&["o5"])
        ]
    );
    assert_eq!(
        call(&mut a, "CLIENT TRACKING ON OPTOUT"),
        err("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.")
    );
    call(&mut a, "CLIENT TRACKING OFF");

    call(&mut a, "CLIENT TRACKING ON OPTOUT");
    call(&mut a, "GET x1");
    assert_eq!(call(&mut a, "CLIENT CACHING NO"), ok());
    call(&mut a, "GET x2");
    call(&mut w, "MSET x1 1 x2 2");
    assert_eq!(pushes(&mut a), [invalidate(&["x1"])]);
}

#[test]
fn bcast_sends_the_changed_keys_of_each_prefix() {
    let s = start();
    let mut w = s.raw();
    let mut a = resp3(&s);
    assert_eq!(
        call(&mut a, "CLIENT TRACKING ON BCAST PREFIX p: PREFIX q:"),
        ok()
    );
    // Nothing read, all told: one message per prefix, keys sorted.
    call(&mut w, "MSET q:1 1 p:2 2 z 1 p:1 1");
    assert_eq!(
        pushes(&mut a),
        [invalidate(&["p:1", "p:2"]), invalidate(&["q:1"])]
    );
    call(&mut a, "SET p:own 1");
    assert_eq!(pushes(&mut a), [invalidate(&["p:own"])]);
    call(&mut w, "FLUSHALL");
    assert_eq!(pushes(&mut a), [invalidate_all()]);
    assert_eq!(
        call(&mut a, "CLIENT TRACKING ON BCAST PREFIX p:x"),
        err("ERR Prefix 'p:x' overlaps with an existing prefix 'p:'. Prefixes for a single client must not overlap.")
    );
    assert_eq!(
        call(&mut a, "CLIENT TRACKING ON"),
        err("ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.")
    );
    // Re-enabling adds prefixes (and replaces the other options: NOLOOP now).
    assert_eq!(
        call(&mut a, "CLIENT TRACKING ON BCAST PREFIX r: NOLOOP"),
        ok()
    );
    call(&mut a, "SET r:own 1");
    call(&mut w, "SET r:1 1");
    assert_eq!(pushes(&mut a), [invalidate(&["r:1"])]);
    call(&mut a, "CLIENT TRACKING OFF");
    // No prefix: every key.
    call(&mut a, "CLIENT TRACKING ON BCAST");
    call(&mut w, "SET anything 1");
    assert_eq!(pushes(&mut a), [invalidate(&["anything"])]);
}

#[test]
fn redirection_to_a_resp2_subscriber_and_when_it_goes() {
    let s = start();
    let mut w = s.raw();
    let mut a = resp3(&s);
    let mut r = s.raw();
    let rid = as_int(&call(&mut r, "CLIENT ID"));
    let on = format!("CLIENT TRACKING ON REDIRECT {rid}");
    assert_eq!(call(&mut a, &on), ok());
    assert_eq!(call(&mut a, "CLIENT GETREDIR"), int(rid));
    // A RESP2 client not subscribed to anything cannot receive them: nothing is sent.
    call(&mut a, "GET r1");
    call(&mut w, "SET r1 1");
    assert_eq!(pushes(&mut r), []);
    // Subscribed (to anything), it gets them as messages on __redis__:invalidate.
    call(&mut r, "SUBSCRIBE other");
    call(&mut a, "GET r2");
    call(&mut w, "SET r2 1");
    call(&mut a, "GET r3");
    call(&mut w, "FLUSHALL");
    let message =
        |payload: Frame| arr(vec![bulk("message"), bulk("__redis__:invalidate"), payload]);
    let got = pushes(&mut r);
    assert_eq!(got[0], message(bulks(&["r2"])));
    // The flush's null: `$-1` for this RESP2 receiver. (Redis 7.0 sends the null of the
    // tracking client's protocol, here RESP3's `_`, which a RESP2 client cannot parse.)
    assert!(
        got[1] == message(nil()) || got[1] == message(Frame::Null),
        "{got:?}"
    );
    assert_eq!(got.len(), 2);
    assert_eq!(pushes(&mut a), []);
    // The target goes: the tracking client is told on each invalidation.
    drop(r);
    assert!(wait_for(2000, || !as_text(&call(&mut w, "CLIENT LIST"))
        .contains(&format!("id={rid} "))));
    call(&mut a, "GET r4");
    call(&mut w, "SET r4 1");
    let broken = Frame::Push(vec![bulk("tracking-redir-broken"), int(rid)]);
    assert_eq!(pushes(&mut a), [broken]);
    let info = call(&mut a, "CLIENT TRACKINGINFO");
    assert_eq!(
        info,
        Frame::Map(vec![
            (
                bulk("flags"),
                Frame::Set(vec![bulk("on"), bulk("broken_redirect")])
            ),
            (bulk("redirect"), int(rid)),
            (bulk("prefixes"), arr(vec![])),
        ])
    );
}

#[test]
fn a_resp2_client_without_redirection_gets_nothing() {
    let s = start();
    let mut w = s.raw();
    let mut c = s.raw();
    assert_eq!(call(&mut c, "CLIENT TRACKING ON"), ok());
    assert_eq!(call(&mut c, "CLIENT GETREDIR"), int(0));
    call(&mut c, "GET k");
    call(&mut w, "SET k 1");
    call(&mut c, "SET k 2");
    assert_eq!(pushes(&mut c), []);
}

#[test]
fn tracking_info_getredir_and_client_list() {
    let s = start();
    let mut a = resp3(&s);
    let info = |a: &mut Raw| call(a, "CLIENT TRACKINGINFO");
    let map = |flags: &[&str], redirect: i64, prefixes: &[&str]| {
        Frame::Map(vec![
            (bulk("flags"), Frame::Set(flags.iter().map(bulk).collect())),
            (bulk("redirect"), int(redirect)),
            (bulk("prefixes"), bulks(prefixes)),
        ])
    };
    assert_eq!(info(&mut a), map(&["off"], -1, &[]));
    assert_eq!(call(&mut a, "CLIENT GETREDIR"), int(-1));
    let id = as_int(&call(&mut a, "CLIENT ID"));
    let line = |a: &mut Raw| as_text(&call(a, &format!("CLIENT LIST ID {id}")));
    assert!(line(&mut a).contains(" flags=N "), "{}", line(&mut a));
    assert!(line(&mut a).contains(" redir=-1 "));
    call(&mut a, "CLIENT TRACKING ON OPTIN NOLOOP");
    call(&mut a, "CLIENT CACHING YES");
    assert_eq!(
        info(&mut a),
        map(&["on", "optin", "caching-yes", "noloop"], 0, &[])
    );
    assert!(line(&mut a).contains(" flags=t "));
    assert!(line(&mut a).contains(" redir=0 "));
    call(&mut a, "CLIENT TRACKING OFF");
    call(&mut a, "CLIENT TRACKING ON BCAST PREFIX b PREFIX a");
    assert_eq!(info(&mut a), map(&["on", "bcast"], 0, &["a", "b"]));
    assert!(line(&mut a).contains(" flags=tB "));
    let mut w = s.raw();
    let stats = as_text(&call(&mut w, "INFO"));
    for field in [
        "tracking_clients:1",
        "tracking_total_keys:0",
        "tracking_total_prefixes:2",
    ] {
        assert!(stats.contains(field), "{field}");
    }
    // RESET turns tracking off.
    assert_eq!(call(&mut a, "RESET"), simple("RESET"));
    let stats = as_text(&call(&mut w, "INFO"));
    assert!(stats.contains("tracking_clients:0"));
    assert!(stats.contains("tracking_total_prefixes:0"));
}

#[test]
fn options_are_checked_as_redis_checks_them() {
    let s = start();
    let mut a = resp3(&s);
    for (line, e) in [
        ("CLIENT TRACKING ON PREFIX x", "ERR PREFIX option requires BCAST mode to be enabled"),
        ("CLIENT TRACKING ON BCAST OPTIN", "ERR OPTIN and OPTOUT are not compatible with BCAST"),
        ("CLIENT TRACKING ON OPTIN OPTOUT", "ERR You can't specify both OPTIN mode and OPTOUT mode"),
        ("CLIENT TRACKING ON REDIRECT 999999", "ERR The client ID you want redirect to does not exist"),
        ("CLIENT TRACKING ON REDIRECT x", "ERR value is not an integer or out of range"),
        ("CLIENT TRACKING MAYBE", "ERR syntax error"),
        ("CLIENT TRACKING ON FOO", "ERR syntax error"),
        ("CLIENT TRACKING ON REDIRECT", "ERR syntax error"),
        (
            "CLIENT TRACKING ON BCAST PREFIX ab PREFIX a",
            "ERR Prefix 'ab' overlaps with another provided prefix 'a'. Prefixes for a single client must not overlap.",
        ),
        (
            "CLIENT CACHING YES",
            "ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled",
        ),
        ("CLIENT TRACKING", "ERR wrong number of arguments for 'client|tracking' command"),
    ] {
        assert_eq!(call(&mut a, line), err(e), "{line}");
    }
    call(&mut a, "CLIENT TRACKING ON");
    assert_eq!(
        call(&mut a, "CLIENT CACHING YES"),
        err("ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.")
    );
    assert_eq!(
        call(&mut a, "CLIENT CACHING NO"),
        err("ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.")
    );
    assert_eq!(call(&mut a, "CLIENT TRACKINGINFO"), {
        Frame::Map(vec![
            (bulk("flags"), Frame::Set(vec![bulk("on")])),
            (bulk("redirect"), int(0)),
            (bulk("prefixes"), arr(vec![])),
        ])
    });
}

#[test]
fn the_table_forgets_keys_past_its_limit_and_says_so() {
    let s = start();
    let mut w = s.raw();
    let mut a = resp3(&s);
    call(&mut a, "CLIENT TRACKING ON");
    assert_eq!(call(&mut w, "CONFIG SET tracking-table-max-keys 2"), ok());
    call(&mut a, "MGET k1 k2 k3 k4 k5");
    let mut got = Vec::new();
    assert!(wait_for(5000, || {
        got.extend(pushes(&mut a));
        got.len() >= 3
    }));
    assert_eq!(got.len(), 3, "{got:?}");
    let info = as_text(&call(&mut w, "INFO stats"));
    assert!(info.contains("tracking_total_keys:2"), "{info}");
    assert_eq!(
        call(&mut w, "CONFIG SET tracking-table-max-keys 1000000"),
        ok()
    );
}

#[test]
fn every_reader_of_a_key_is_told() {
    let s = start();
    let mut w = s.raw();
    let (mut a, mut b) = (resp3(&s), resp3(&s));
    for c in [&mut a, &mut b] {
        call(c, "CLIENT TRACKING ON");
        call(c, "GET shared");
        call(c, "GET shared");
    }
    let info = as_text(&call(&mut w, "INFO stats"));
    assert!(info.contains("tracking_total_keys:1\r\n"), "{info}");
    assert!(info.contains("tracking_total_items:2\r\n"), "{info}");
    call(&mut w, "SET shared 1");
    assert_eq!(pushes(&mut a), [invalidate(&["shared"])]);
    assert_eq!(pushes(&mut b), [invalidate(&["shared"])]);
    let info = as_text(&call(&mut w, "INFO stats"));
    assert!(info.contains("tracking_total_items:0\r\n"), "{info}");
}

/// A deliberate difference: SWAPDB changes what every key name holds, so Strata drops the
/// cached copies as after a flush, where Redis 7.0 sends nothing (left stale).
#[test]
fn swapdb_invalidates_everything() {
    if std::env::var("STRATA_TEST_EXTERNAL_PORT").is_ok() {
        return;
    }
    let s = start();
    let mut w = s.raw();
    let mut a = resp3(&s);
    call(&mut a, "CLIENT TRACKING ON");
    call(&mut w, "SET k db0");
    assert_eq!(call(&mut a, "GET k"), bulk("db0"));
    call(&mut w, "SWAPDB 0 0");
    assert_eq!(pushes(&mut a), []);
    call(&mut w, "SWAPDB 0 1");
    assert_eq!(pushes(&mut a), [invalidate_all()]);
    assert_eq!(call(&mut a, "GET k"), Frame::Null);
}
