//! Set commands over TCP match Redis 7.0 replies and errors; set encodings convert at Redis's thresholds; sets survive a restart from the log.

mod common;

use std::collections::BTreeSet;

use common::*;
use strata::protocol::Frame;

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

fn members(f: Frame) -> BTreeSet<String> {
    match f {
        Frame::Array(v) | Frame::Set(v) => v.iter().map(as_text).collect(),
        other => panic!("expected a collection, got {other:?}"),
    }
}

fn set_of(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn add_remove_and_membership() {
    let s = start();
    let mut c = s.raw();
    assert_eq!(c.q("SADD s a b c a"), int(3));
    assert_eq!(c.q("SADD s a d"), int(1));
    assert_eq!(c.q("SCARD s"), int(4));
    assert_eq!(c.q("SCARD nope"), int(0));
    assert_eq!(c.q("SISMEMBER s a"), int(1));
    assert_eq!(c.q("SISMEMBER s z"), int(0));
    assert_eq!(c.q("SISMEMBER nope a"), int(0));
    assert_eq!(c.q("SMISMEMBER s a z d"), arr(vec![int(1), int(0), int(1)]));
    assert_eq!(c.q("SMISMEMBER nope a"), arr(vec![int(0)]));
    assert_eq!(members(c.q("SMEMBERS s")), set_of(&["a", "b", "c", "d"]));
    assert_eq!(c.q("SMEMBERS nope"), arr(vec![]));
    assert_eq!(c.q("SREM s a z"), int(1));
    assert_eq!(c.q("SREM nope a"), int(0));
    assert_eq!(c.q("SREM s b c d"), int(3));
    assert_eq!(c.q("EXISTS s"), int(0), "an emptied set is deleted");
    assert_eq!(
        c.q("SREM s"),
        err("ERR wrong number of arguments for 'srem' command")
    );
    // Binary-safe members.
    assert_eq!(c.call(&[&b"SADD"[..], b"bin", b"a\r\n\0", b""]), int(2));
    assert_eq!(c.call(&[&b"SISMEMBER"[..], b"bin", b"a\r\n\0"]), int(1));
    assert_eq!(c.call(&["SISMEMBER", "bin", ""]), int(1));
}

#[test]
fn wrongtype_everywhere() {
    let s = start();
    let mut c = s.raw();
    c.q("SET str x");
    c.q("SADD s a");
    for cmd in [
        "SADD str a",
        "SREM str a",
        "SCARD str",
        "SISMEMBER str a",
        "SMISMEMBER str a",
        "SMEMBERS str",
        "SPOP str",
        "SPOP str 2",
        "SRANDMEMBER str",
        "SRANDMEMBER str 2",
        "SINTER s str",
        "SINTER nope str",
        "SUNION s str",
        "SDIFF s str",
        "SINTERSTORE d s str",
        "SUNIONSTORE d str",
        "SDIFFSTORE d nope str",
        "SINTERCARD 2 s str",
        "SSCAN str 0",
        "SMOVE str s a",
        "SMOVE s str a",
    ] {
        assert_eq!(c.q(cmd), err(WRONGTYPE), "{cmd}");
    }
    // A missing source wins over a wrong-typed destination, as in Redis.
    assert_eq!(c.q("SMOVE nope str a"), int(0));
    assert_eq!(c.q("GET str"), bulk("x"));
}

#[test]
fn encodings_convert_at_the_thresholds() {
    let s = start();
    let mut c = s.raw();
    c.q("SADD ints 3 1 2 -5");
    assert_eq!(c.q("OBJECT ENCODING ints"), bulk("intset"));
    // An intset is ordered by value.
    assert_eq!(c.q("SMEMBERS ints"), bulks(&["-5", "1", "2", "3"]));
    // Non-canonical integers are strings.
    c.q("SADD ints2 1 007");
    assert_eq!(c.q("OBJECT ENCODING ints2"), bulk("listpack"));
    assert_eq!(c.q("SISMEMBER ints2 7"), int(0));
    assert_eq!(c.q("SISMEMBER ints2 007"), int(1));

    // intset -> hashtable past 512 integers.
    let mut args: Vec<String> = vec!["SADD".into(), "big".into()];
    args.extend((0..512).map(|i| i.to_string()));
    assert_eq!(c.call(&args), int(512));
    assert_eq!(c.q("OBJECT ENCODING big"), bulk("intset"));
    assert_eq!(c.q("SADD big 512"), int(1));
    assert_eq!(c.q("OBJECT ENCODING big"), bulk("hashtable"));
    assert_eq!(c.q("SCARD big"), int(513));
    assert_eq!(c.q("SISMEMBER big 77"), int(1));

    // intset -> listpack with a string member, listpack -> hashtable past 128 members.
    c.q("SADD mixed 1 2 3");
    assert_eq!(c.q("SADD mixed a"), int(1));
    assert_eq!(c.q("OBJECT ENCODING mixed"), bulk("listpack"));
    let mut args: Vec<String> = vec!["SADD".into(), "mixed".into()];
    args.extend((0..124).map(|i| format!("m{i}")));
    c.call(&args);
    assert_eq!(c.q("SCARD mixed"), int(128));
    assert_eq!(c.q("OBJECT ENCODING mixed"), bulk("listpack"));
    c.q("SADD mixed one-more");
    assert_eq!(c.q("OBJECT ENCODING mixed"), bulk("hashtable"));
    assert_eq!(c.q("SISMEMBER mixed 2"), int(1));
    assert_eq!(c.q("SISMEMBER mixed m100"), int(1));

    // A member longer than 64 bytes goes straight to a hashtable.
    c.call(&["SADD", "long", &"x".repeat(65)]);
    assert_eq!(c.q("OBJECT ENCODING long"), bulk("hashtable"));
    c.call(&["SADD", "long64", &"x".repeat(64)]);
    assert_eq!(c.q("OBJECT ENCODING long64"), bulk("listpack"));
}

#[test]
fn spop_and_srandmember() {
    let s = start();
    let mut c = s.raw();
    assert_eq!(c.q("SPOP nope"), nil());
    assert_eq!(c.q("SPOP nope 3"), arr(vec![]));
    assert_eq!(c.q("SRANDMEMBER nope"), nil());
    assert_eq!(c.q("SRANDMEMBER nope 3"), arr(vec![]));
    c.q("SADD s a b c d e");
    assert_eq!(
        c.q("SPOP s -1"),
        err("ERR value is out of range, must be positive")
    );
    assert_eq!(
        c.q("SPOP s x"),
        err("ERR value is out of range, must be positive")
    );
    assert_eq!(c.q("SPOP s 1 2"), err("ERR syntax error"));
    assert_eq!(c.q("SRANDMEMBER s x"), err(NOT_INT));
    assert_eq!(
        c.q("SRANDMEMBER s -9223372036854775808"),
        err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
    );
    assert_eq!(c.q("SPOP s 0"), arr(vec![]));
    assert_eq!(c.q("SRANDMEMBER s 0"), arr(vec![]));

    let all = set_of(&["a", "b", "c", "d", "e"]);
    // Positive count: distinct members, at most the set.
    let r = as_array(c.q("SRANDMEMBER s 3"));
    assert_eq!(r.len(), 3);
    assert_eq!(members(Frame::Array(r.clone())).len(), 3);
    assert_eq!(members(c.q("SRANDMEMBER s 10")), all);
    // Negative count: exactly that many, repetitions allowed.
    let r = as_array(c.q("SRANDMEMBER s -20"));
    assert_eq!(r.len(), 20);
    assert!(members(Frame::Array(r)).is_subset(&all));
    assert_eq!(c.q("SCARD s"), int(5), "SRANDMEMBER does not remove");

    let one = as_text(&c.q("SPOP s"));
    assert!(all.contains(&one));
    let two = members(c.q("SPOP s 2"));
    assert_eq!(two.len(), 2);
    assert!(!two.contains(&one));
    assert_eq!(c.q("SCARD s"), int(2));
    let rest = members(c.q("SPOP s 10"));
    assert_eq!(rest.len(), 2);
    assert_eq!(c.q("EXISTS s"), int(0));

    // A big (hashtable) set: SPOP with count takes distinct members.
    let mut args: Vec<String> = vec!["SADD".into(), "big".into()];
    args.extend((0..1000).map(|i| format!("m{i}")));
    c.call(&args);
    let got = members(c.q("SPOP big 300"));
    assert_eq!(got.len(), 300);
    assert_eq!(c.q("SCARD big"), int(700));
    for m in &got {
        assert_eq!(c.q(&format!("SISMEMBER big {m}")), int(0));
    }
    let r = as_array(c.q("SRANDMEMBER big 500"));
    assert_eq!(members(Frame::Array(r)).len(), 500);
}

const NOT_INT: &str = "ERR value is not an integer or out of range";

#[test]
fn smove() {
    let s = start();
    let mut c = s.raw();
    c.q("SADD a 1 2");
    assert_eq!(c.q("SMOVE a a 1"), int(1));
    assert_eq!(c.q("SMOVE a a 9"), int(0));
    assert_eq!(c.q("SMOVE a b 9"), int(0));
    assert_eq!(c.q("SMOVE a b 1"), int(1));
    assert_eq!(c.q("SMEMBERS b"), bulks(&["1"]));
    assert_eq!(c.q("SMOVE a b 2"), int(1));
    assert_eq!(c.q("EXISTS a"), int(0));
    assert_eq!(c.q("SMEMBERS b"), bulks(&["1", "2"]));
}

#[test]
fn algebra() {
    let s = start();
    let mut c = s.raw();
    c.q("SADD a 1 2 3 4");
    c.q("SADD b 3 4 5");
    c.q("SADD c x 4");
    assert_eq!(members(c.q("SINTER a b")), set_of(&["3", "4"]));
    assert_eq!(members(c.q("SINTER a b c")), set_of(&["4"]));
    assert_eq!(c.q("SINTER a nope"), arr(vec![]));
    assert_eq!(
        members(c.q("SUNION a b c nope")),
        set_of(&["1", "2", "3", "4", "5", "x"])
    );
    assert_eq!(members(c.q("SDIFF a b c")), set_of(&["1", "2"]));
    assert_eq!(c.q("SDIFF nope a"), arr(vec![]));
    assert_eq!(members(c.q("SDIFF a nope")), set_of(&["1", "2", "3", "4"]));

    assert_eq!(c.q("SINTERSTORE d a b"), int(2));
    assert_eq!(members(c.q("SMEMBERS d")), set_of(&["3", "4"]));
    assert_eq!(c.q("OBJECT ENCODING d"), bulk("intset"));
    assert_eq!(c.q("SUNIONSTORE d a c"), int(5));
    assert_eq!(c.q("SDIFFSTORE d a b c"), int(2));
    assert_eq!(members(c.q("SMEMBERS d")), set_of(&["1", "2"]));
    // A STORE replaces any type and TTL; an empty result deletes the destination.
    c.q("SET str x");
    c.q("EXPIRE d 100");
    assert_eq!(c.q("SUNIONSTORE str a"), int(4));
    assert_eq!(c.q("TYPE str"), simple("set"));
    assert_eq!(c.q("SINTERSTORE d a b"), int(2));
    assert_eq!(c.q("TTL d"), int(-1));
    assert_eq!(c.q("SINTERSTORE d a nope"), int(0));
    assert_eq!(c.q("EXISTS d"), int(0));
    // The destination may be a source.
    assert_eq!(c.q("SDIFFSTORE a a b"), int(2));
    assert_eq!(members(c.q("SMEMBERS a")), set_of(&["1", "2"]));

    assert_eq!(c.q("SINTERCARD 2 b c"), int(1));
    assert_eq!(c.q("SINTERCARD 1 b LIMIT 2"), int(2));
    assert_eq!(c.q("SINTERCARD 1 b LIMIT 0"), int(3));
    assert_eq!(c.q("SINTERCARD 2 b nope"), int(0));
    for (cmd, e) in [
        ("SINTERCARD 0 b", "ERR numkeys should be greater than 0"),
        ("SINTERCARD x b", "ERR numkeys should be greater than 0"),
        (
            "SINTERCARD 3 b c",
            "ERR Number of keys can't be greater than number of args",
        ),
        ("SINTERCARD 1 b LIMIT -1", "ERR LIMIT can't be negative"),
        ("SINTERCARD 1 b LIMIT", "ERR syntax error"),
        ("SINTERCARD 1 b FOO 1", "ERR syntax error"),
    ] {
        assert_eq!(c.q(cmd), err(e), "{cmd}");
    }
}

#[test]
fn sscan_returns_everything() {
    let s = start();
    let mut c = s.raw();
    assert_eq!(c.q("SSCAN nope 0"), arr(vec![bulk("0"), arr(vec![])]));
    assert_eq!(c.q("SSCAN nope x"), err("ERR invalid cursor"));
    c.q("SADD small a b c");
    assert_eq!(c.q("SSCAN small 0 COUNT 0"), err("ERR syntax error"));
    assert_eq!(c.q("SSCAN small 0 TYPE set"), err("ERR syntax error"));
    let r = as_array(c.q("SSCAN small 0 MATCH [ab]"));
    assert_eq!(r[0], bulk("0"));
    assert_eq!(members(r[1].clone()), set_of(&["a", "b"]));

    let mut args: Vec<String> = vec!["SADD".into(), "big".into()];
    args.extend((0..2000).map(|i| format!("m{i}")));
    c.call(&args);
    let mut seen = BTreeSet::new();
    let mut cursor = "0".to_string();
    let mut calls = 0;
    loop {
        let r = as_array(c.call(&["SSCAN", "big", &cursor, "COUNT", "100"]));
        cursor = as_text(&r[0]);
        seen.extend(members(r[1].clone()));
        // Changes during the scan never hide a member that stays.
        c.call(&["SREM", "big", &format!("m{}", 1999 - calls)]);
        c.call(&["SADD", "big", &format!("new{calls}")]);
        calls += 1;
        if cursor == "0" {
            break;
        }
    }
    assert!(calls > 10, "the scan is incremental ({calls} calls)");
    for i in 0..2000 - calls {
        assert!(seen.contains(&format!("m{i}")), "m{i} missed");
    }
}

#[test]
fn resp3_replies_are_sets() {
    let s = start();
    let mut c = s.raw();
    c.q("HELLO 3");
    c.q("SADD s a");
    assert_eq!(c.q("SMEMBERS s"), Frame::Set(vec![bulk("a")]));
    assert_eq!(c.q("SINTER s"), Frame::Set(vec![bulk("a")]));
    assert_eq!(c.q("SPOP nope 1"), Frame::Set(vec![]));
    assert_eq!(c.q("SRANDMEMBER s 1"), arr(vec![bulk("a")]));
}

/// Everything a set holds, sorted, for comparisons across a restart.
fn dump(c: &mut Raw, keys: &[&str]) -> Vec<(String, BTreeSet<String>, String)> {
    keys.iter()
        .map(|k| {
            let enc = match c.call(&["OBJECT", "ENCODING", k]) {
                Frame::Bulk(b) => String::from_utf8(b).unwrap(),
                _ => "none".into(),
            };
            (k.to_string(), members(c.call(&["SMEMBERS", k])), enc)
        })
        .collect()
}

#[test]
fn sets_survive_a_restart() {
    let mut s1 = start_with(|c| c.appendonly = true);
    if s1.handle.is_none() {
        return; // needs the in-process server
    }
    let keys = [
        "ints", "small", "big", "popped", "moved", "inter", "union", "gone",
    ];
    let before = {
        let mut c = s1.raw();
        c.q("SADD ints 5 -3 100 7");
        c.q("SREM ints 100");
        c.q("SADD small a b c 1");
        let mut args: Vec<String> = vec!["SADD".into(), "big".into()];
        args.extend((0..3000).map(|i| format!("m{i}")));
        c.call(&args);
        c.q("SADD popped x1 x2 x3 x4 x5 x6 x7 x8");
        // Random pops must replay to exactly what remained.
        c.q("SPOP popped");
        c.q("SPOP popped 3");
        c.q("SPOP big 1000");
        c.q("SPOP big");
        c.q("SMOVE small moved a");
        c.q("SINTERSTORE inter small ints");
        c.q("SUNIONSTORE union small ints");
        c.q("SADD gone q");
        c.q("SPOP gone 5");
        dump(&mut c, &keys)
    };
    let s2 = restart_with_log(&mut s1);
    let mut c = s2.raw();
    assert_eq!(dump(&mut c, &keys), before);
    assert_eq!(c.q("SCARD big"), int(1999));
    assert_eq!(c.q("EXISTS gone"), int(0));
}
