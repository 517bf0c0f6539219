//! Hash commands over TCP match Redis 7.0 replies and errors (HINCRBYFLOAT digits, HRANDFIELD counts, HSCAN, RESP3 maps), encodings convert at Redis's thresholds, and hashes survive a restart from the log.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::*;
use strata::protocol::Frame;

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

/// HGETALL (RESP2 flat array or RESP3 map) as a sorted map.
fn pairs(f: Frame) -> BTreeMap<String, String> {
    match f {
        Frame::Array(v) => v
            .chunks(2)
            .map(|p| (as_text(&p[0]), as_text(&p[1])))
            .collect(),
        Frame::Map(v) => v.iter().map(|(k, v)| (as_text(k), as_text(v))).collect(),
        other => panic!("expected pairs, got {other:?}"),
    }
}

fn map_of(items: &[(&str, &str)]) -> BTreeMap<String, String> {
    items
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn set_get_delete() {
    let s = start();
    let mut c = s.raw();
    assert_eq!(c.q("HSET h a 1 b 2"), int(2));
    assert_eq!(c.q("HSET h a 10 c 3"), int(1));
    assert_eq!(
        c.q("HSET h a"),
        err("ERR wrong number of arguments for 'hset' command")
    );
    assert_eq!(
        c.q("HSET h a 1 b"),
        err("ERR wrong number of arguments for 'hset' command")
    );
    assert_eq!(c.q("HMSET h x 1"), ok());
    assert_eq!(c.q("HSETNX h a 5"), int(0));
    assert_eq!(c.q("HSETNX h d 4"), int(1));
    assert_eq!(c.q("HGET h a"), bulk("10"));
    assert_eq!(c.q("HGET h zz"), nil());
    assert_eq!(c.q("HGET nokey a"), nil());
    assert_eq!(
        c.q("HMGET h a zz b"),
        arr(vec![bulk("10"), nil(), bulk("2")])
    );
    assert_eq!(c.q("HMGET nokey a"), arr(vec![nil()]));
    assert_eq!(c.q("HLEN h"), int(5));
    assert_eq!(c.q("HSTRLEN h a"), int(2));
    assert_eq!(c.q("HSTRLEN h zz"), int(0));
    assert_eq!(c.q("HEXISTS h a"), int(1));
    assert_eq!(c.q("HEXISTS h zz"), int(0));
    assert_eq!(c.q("HEXISTS nokey a"), int(0));
    assert_eq!(
        pairs(c.q("HGETALL h")),
        map_of(&[("a", "10"), ("b", "2"), ("c", "3"), ("x", "1"), ("d", "4")])
    );
    assert_eq!(c.q("HKEYS h"), bulks(&["a", "b", "c", "x", "d"]));
    assert_eq!(c.q("HVALS h"), bulks(&["10", "2", "3", "1", "4"]));
    assert_eq!(c.q("HGETALL nokey"), arr(vec![]));
    assert_eq!(c.q("HKEYS nokey"), arr(vec![]));
    assert_eq!(c.q("HDEL h a zz a b"), int(2));
    assert_eq!(c.q("HDEL h zz"), int(0));
    assert_eq!(c.q("HDEL nokey a"), int(0));
    // Deleting the last field deletes the key.
    assert_eq!(c.q("HDEL h c x d"), int(3));
    assert_eq!(c.q("EXISTS h"), int(0));
}

#[test]
fn counters() {
    let s = start();
    let mut c = s.raw();
    assert_eq!(c.q("HINCRBY h n 5"), int(5));
    assert_eq!(c.q("HINCRBY h n -7"), int(-2));
    assert_eq!(
        c.q("HINCRBY h n x"),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(
        c.q("HINCRBY h n 9223372036854775807"),
        int(9223372036854775805)
    );
    assert_eq!(
        c.q("HINCRBY h n 3"),
        err("ERR increment or decrement would overflow")
    );
    c.call(&["HSET", "h", "s", "abc", "sp", " 1"]);
    assert_eq!(
        c.q("HINCRBY h s 1"),
        err("ERR hash value is not an integer")
    );
    assert_eq!(
        c.q("HINCRBY h sp 1"),
        err("ERR hash value is not an integer")
    );
    assert_eq!(
        c.q("HINCRBYFLOAT h s 1"),
        err("ERR hash value is not a float")
    );
    assert_eq!(
        c.q("HINCRBYFLOAT h sp 1"),
        err("ERR hash value is not a float")
    );
    assert_eq!(
        c.q("HINCRBYFLOAT h f x"),
        err("ERR value is not a valid float")
    );
    assert_eq!(
        c.q("HINCRBYFLOAT h f inf"),
        err("ERR value is NaN or Infinity")
    );
    assert_eq!(
        c.q("HINCRBYFLOAT h f nan"),
        err("ERR value is not a valid float")
    );
}

#[test]
fn hincrbyfloat_formats_like_redis() {
    let s = start();
    let mut c = s.raw();
    // Redis computes in 80-bit long double and prints %.17Lf, trailing zeros trimmed.
    assert_eq!(c.q("HSET h f 10.50"), int(1));
    assert_eq!(c.q("HINCRBYFLOAT h f 0.1"), bulk("10.6"));
    assert_eq!(c.q("HINCRBYFLOAT h f -5"), bulk("5.6"));
    c.q("HSET h g 5.0e3");
    assert_eq!(c.q("HINCRBYFLOAT h g 2.0e2"), bulk("5200"));
    assert_eq!(c.q("HINCRBYFLOAT h g -200"), bulk("5000"));
    assert_eq!(c.q("HINCRBYFLOAT h g 0.1"), bulk("5000.10000000000000009"));
    assert_eq!(c.q("HINCRBYFLOAT h g -5000.1"), bulk("0"));
    assert_eq!(
        c.q("HINCRBYFLOAT h k 1.23456789012345678901"),
        bulk("1.23456789012345679")
    );
    assert_eq!(c.q("HINCRBYFLOAT h x 0x10"), bulk("16"));
    assert_eq!(c.q("HINCRBYFLOAT h tiny 1e-320"), bulk("0"));
    assert_eq!(c.q("HINCRBYFLOAT h neg -1.5"), bulk("-1.5"));
    // Past f64's range but within long double's.
    c.q("HSET h big 1e400");
    let r = as_text(&c.q("HINCRBYFLOAT h big 1"));
    assert_eq!(r.len(), 401);
    assert!(r.starts_with("1000000000000000000028188068394758651458645343362905203862591069"));
    c.q("HSET h top 1.1e4932");
    assert_eq!(
        c.q("HINCRBYFLOAT h top 1.1e4932"),
        err("ERR increment would produce NaN or Infinity")
    );
    c.q("HSET h inf inf");
    assert_eq!(
        c.q("HINCRBYFLOAT h inf 1"),
        err("ERR increment would produce NaN or Infinity")
    );
}

#[test]
fn hrandfield_counts() {
    let s = start();
    let mut c = s.raw();
    c.q("HSET h a 1 b 2 c 3 d 4 e 5");
    let all: BTreeSet<String> = ["a", "b", "c", "d", "e"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let one = as_text(&c.q("HRANDFIELD h"));
    assert!(all.contains(&one));
    assert_eq!(c.q("HRANDFIELD nokey"), nil());
    assert_eq!(c.q("HRANDFIELD nokey 3"), arr(vec![]));
    assert_eq!(c.q("HRANDFIELD h 0"), arr(vec![]));
    // Positive: distinct fields, at most the hash's size.
    let got = sorted_texts(c.q("HRANDFIELD h 3"));
    assert_eq!(got.len(), 3);
    assert_eq!(got.iter().collect::<BTreeSet<_>>().len(), 3);
    assert_eq!(sorted_texts(c.q("HRANDFIELD h 10")).len(), 5);
    // Negative: exactly |count| picks, repetitions allowed.
    let got = as_array(c.q("HRANDFIELD h -20"));
    assert_eq!(got.len(), 20);
    assert!(got.iter().all(|f| all.contains(&as_text(f))));
    let got = as_array(c.q("HRANDFIELD h -4 WITHVALUES"));
    assert_eq!(got.len(), 8);
    for p in got.chunks(2) {
        let (f, v) = (as_text(&p[0]), as_text(&p[1]));
        assert_eq!(c.call(&["HGET", "h", &f]), bulk(&v));
    }
    assert_eq!(c.q("HRANDFIELD h 1 FOO"), err("ERR syntax error"));
    assert_eq!(
        c.q("HRANDFIELD h x"),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(
        c.q("HRANDFIELD h -9223372036854775808"),
        err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
    );
    assert_eq!(
        c.q("HRANDFIELD h -4611686018427387904 WITHVALUES"),
        err("ERR value is out of range")
    );
    // A big (hashtable) hash too.
    let mut args: Vec<String> = vec!["HSET".into(), "big".into()];
    for i in 0..500 {
        args.push(format!("f{i}"));
        args.push(format!("v{i}"));
    }
    c.call(&args);
    let got = sorted_texts(c.q("HRANDFIELD big 200"));
    assert_eq!(got.iter().collect::<BTreeSet<_>>().len(), 200);
    assert_eq!(as_array(c.q("HRANDFIELD big -300")).len(), 300);
}

#[test]
fn hscan_and_encodings() {
    let s = start();
    let mut c = s.raw();
    c.q("HSET small a 1 b 2 c 3");
    assert_eq!(c.q("OBJECT ENCODING small"), bulk("listpack"));
    // A listpack hash comes back whole with cursor 0.
    let r = as_array(c.q("HSCAN small 0"));
    assert_eq!(r[0], bulk("0"));
    assert_eq!(
        pairs(r[1].clone()),
        map_of(&[("a", "1"), ("b", "2"), ("c", "3")])
    );
    let r = as_array(c.q("HSCAN small 0 MATCH a*"));
    assert_eq!(r[1], bulks(&["a", "1"]));
    assert_eq!(c.q("HSCAN small x"), err("ERR invalid cursor"));
    assert_eq!(c.q("HSCAN small 0 COUNT 0"), err("ERR syntax error"));
    assert_eq!(c.q("HSCAN small 0 FOO"), err("ERR syntax error"));
    assert_eq!(c.q("HSCAN nokey 0"), arr(vec![bulk("0"), arr(vec![])]));

    // 512 fields stay a listpack, the 513th converts; so does a value over 64 bytes.
    let mut args: Vec<String> = vec!["HSET".into(), "big".into()];
    for i in 0..512 {
        args.push(format!("f{i}"));
        args.push(format!("v{i}"));
    }
    c.call(&args);
    assert_eq!(c.q("OBJECT ENCODING big"), bulk("listpack"));
    c.q("HSET big one-more x");
    assert_eq!(c.q("OBJECT ENCODING big"), bulk("hashtable"));
    c.call(&["HSET", "long", "f", &"x".repeat(64)]);
    assert_eq!(c.q("OBJECT ENCODING long"), bulk("listpack"));
    c.call(&["HSET", "long", "g", &"x".repeat(65)]);
    assert_eq!(c.q("OBJECT ENCODING long"), bulk("hashtable"));

    // Scanning a hashtable hash visits every field, a few per call.
    let mut seen = BTreeMap::new();
    let mut cursor = "0".to_string();
    let mut calls = 0;
    loop {
        let r = as_array(c.call(&["HSCAN", "big", &cursor, "COUNT", "20"]));
        cursor = as_text(&r[0]);
        seen.extend(pairs(r[1].clone()));
        calls += 1;
        if cursor == "0" {
            break;
        }
    }
    assert!(calls > 3, "{calls}");
    assert_eq!(seen.len(), 513);
    assert_eq!(seen["f77"], "v77");
}

#[test]
fn resp3_maps_and_pairs() {
    let s = start();
    let mut c = s.raw();
    c.q("HELLO 3");
    c.q("HSET h a 1");
    assert_eq!(c.q("HGETALL h"), Frame::Map(vec![(bulk("a"), bulk("1"))]));
    assert_eq!(c.q("HGETALL nokey"), Frame::Map(vec![]));
    assert_eq!(
        c.q("HRANDFIELD h 1 WITHVALUES"),
        arr(vec![arr(vec![bulk("a"), bulk("1")])])
    );
    assert_eq!(
        c.q("HRANDFIELD h -2 WITHVALUES"),
        arr(vec![
            arr(vec![bulk("a"), bulk("1")]),
            arr(vec![bulk("a"), bulk("1")])
        ])
    );
    assert_eq!(c.q("HGET h zz"), Frame::Null);
}

#[test]
fn wrongtype_everywhere() {
    let s = start();
    let mut c = s.raw();
    c.q("SET s x");
    for cmd in [
        "HSET s a 1",
        "HSETNX s a 1",
        "HMSET s a 1",
        "HGET s a",
        "HMGET s a",
        "HDEL s a",
        "HLEN s",
        "HSTRLEN s a",
        "HEXISTS s a",
        "HKEYS s",
        "HVALS s",
        "HGETALL s",
        "HINCRBY s a 1",
        "HINCRBYFLOAT s a 1",
        "HRANDFIELD s",
        "HRANDFIELD s 2",
        "HSCAN s 0",
    ] {
        assert_eq!(c.q(cmd), err(WRONGTYPE), "{cmd}");
    }
    c.q("HSET h a 1");
    assert_eq!(c.q("LPUSH h a"), err(WRONGTYPE));
    assert_eq!(c.q("TYPE h"), simple("hash"));
}

#[test]
fn hashes_survive_a_restart() {
    let mut s1 = start_with(|c| c.appendonly = true);
    if s1.handle.is_none() {
        return; // needs the in-process server
    }
    let keys = ["small", "big", "counters", "gone", "nx"];
    let dump = |c: &mut Raw| -> Vec<(BTreeMap<String, String>, Frame)> {
        keys.iter()
            .map(|k| {
                (
                    pairs(c.call(&["HGETALL", k])),
                    c.call(&["OBJECT", "ENCODING", k]),
                )
            })
            .collect()
    };
    let before = {
        let mut c = s1.raw();
        c.q("HSET small a 1 b 2 c 3");
        c.q("HDEL small b");
        let mut args: Vec<String> = vec!["HSET".into(), "big".into()];
        for i in 0..1000 {
            args.push(format!("field:{i}"));
            args.push(format!("value:{i}"));
        }
        c.call(&args);
        c.q("HDEL big field:1 field:2");
        c.q("HINCRBY counters i 41");
        c.q("HINCRBY counters i 1");
        c.q("HINCRBYFLOAT counters f 5000");
        c.q("HINCRBYFLOAT counters f 0.1");
        c.q("HINCRBYFLOAT counters g 1e400");
        c.q("HSET gone x 1");
        c.q("HDEL gone x");
        c.q("HSETNX nx a 1");
        c.q("HSETNX nx a 2");
        c.q("HRANDFIELD big 5");
        dump(&mut c)
    };
    let s2 = restart_with_log(&mut s1);
    let mut c = s2.raw();
    assert_eq!(dump(&mut c), before);
    assert_eq!(c.q("HGET counters f"), bulk("5000.10000000000000009"));
    assert_eq!(c.q("HLEN big"), int(998));
    assert_eq!(c.q("EXISTS gone"), int(0));
    assert_eq!(c.q("OBJECT ENCODING big"), bulk("hashtable"));
}
