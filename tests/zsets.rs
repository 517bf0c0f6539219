//! Sorted set commands over TCP match Redis 7.0 replies and errors (ranges, options, algebra, pops, ZMPOP/BZMPOP/ZINTERCARD, RESP3 doubles); encodings convert at Redis's thresholds; sorted sets survive a restart from the log.

mod common;

use std::collections::BTreeSet;

use common::*;
use strata::protocol::Frame;

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const SYNTAX: &str = "ERR syntax error";
const NOT_FLOAT: &str = "ERR value is not a valid float";

fn texts(f: Frame) -> Vec<String> {
    as_array(f).iter().map(as_text).collect()
}

#[test]
fn zadd_options_and_errors() {
    let s = start();
    let mut c = s.raw();
    for (cmd, e) in [
        (
            "ZADD z NX XX 1 a",
            "ERR XX and NX options at the same time are not compatible",
        ),
        (
            "ZADD z GT LT 1 a",
            "ERR GT, LT, and/or NX options at the same time are not compatible",
        ),
        (
            "ZADD z NX GT 1 a",
            "ERR GT, LT, and/or NX options at the same time are not compatible",
        ),
        (
            "ZADD z INCR 1 a 2 b",
            "ERR INCR option supports a single increment-element pair",
        ),
        ("ZADD z 1 a 2", SYNTAX),
        ("ZADD z NX XX 1", SYNTAX),
        ("ZADD z nan a", NOT_FLOAT),
        ("ZADD z abc a", NOT_FLOAT),
        ("ZADD z 1e999 a", NOT_FLOAT),
        ("ZADD z 1 a x b", NOT_FLOAT),
        ("ZINCRBY z nan a", NOT_FLOAT),
        (
            "ZADD z 1",
            "ERR wrong number of arguments for 'zadd' command",
        ),
    ] {
        assert_eq!(c.q(cmd), err(e), "{cmd}");
    }
    assert_eq!(c.q("EXISTS z"), int(0), "a failed ZADD creates nothing");
    assert_eq!(c.q("ZADD z XX 1 a"), int(0));
    assert_eq!(c.q("EXISTS z"), int(0));
    assert_eq!(c.q("ZADD z INCR XX 1 a"), nil());
    assert_eq!(c.q("ZADD z 1 a 2 b"), int(2));
    assert_eq!(c.q("ZADD z NX 5 a 3 c"), int(1));
    assert_eq!(c.q("ZSCORE z a"), bulk("1"));
    assert_eq!(c.q("ZADD z XX 5 a 4 d"), int(0));
    assert_eq!(c.q("ZSCORE z a"), bulk("5"));
    assert_eq!(c.q("ZSCORE z d"), nil());
    // CH counts updates too; GT/LT only move scores one way.
    assert_eq!(c.q("ZADD z GT CH 4 a 6 b 1 e"), int(2));
    assert_eq!(
        c.q("ZRANGE z 0 -1 WITHSCORES"),
        bulks(&["e", "1", "c", "3", "a", "5", "b", "6"])
    );
    assert_eq!(c.q("ZADD z LT CH 9 a 0 b"), int(1));
    assert_eq!(c.q("ZSCORE z a"), bulk("5"));
    assert_eq!(c.q("ZSCORE z b"), bulk("0"));
    assert_eq!(c.q("ZADD z XX GT CH 7 a 8 new"), int(1));
    assert_eq!(c.q("ZSCORE z new"), nil());
    // INCR replies with the new score, or nil when an option prevented it.
    assert_eq!(c.q("ZADD z INCR 2.5 a"), bulk("9.5"));
    assert_eq!(c.q("ZADD z INCR NX 1 a"), nil());
    assert_eq!(c.q("ZADD z INCR GT -1 a"), nil());
    assert_eq!(c.q("ZADD z INCR LT -1 a"), bulk("8.5"));
    assert_eq!(c.q("ZINCRBY z 1.5 a"), bulk("10"));
    assert_eq!(c.q("ZINCRBY z 5 fresh"), bulk("5"));
    // inf and -inf are scores; inf + -inf is refused.
    assert_eq!(c.q("ZADD z +inf top -inf bottom"), int(2));
    assert_eq!(c.q("ZSCORE z top"), bulk("inf"));
    assert_eq!(c.q("ZSCORE z bottom"), bulk("-inf"));
    assert_eq!(
        c.q("ZINCRBY z -inf top"),
        err("ERR resulting score is not a number (NaN)")
    );
    assert_eq!(c.q("ZADD z 0x10 hex"), int(1));
    assert_eq!(c.q("ZSCORE z hex"), bulk("16"));
    assert_eq!(c.q("ZADD z 0.1 tenth"), int(1));
    assert_eq!(c.q("ZSCORE z tenth"), bulk("0.10000000000000001"));
    assert_eq!(c.q("ZRANGE z 0 0"), bulks(&["bottom"]));
    assert_eq!(c.q("ZRANGE z -1 -1"), bulks(&["top"]));
}

#[test]
fn wrongtype_everywhere() {
    let s = start();
    let mut c = s.raw();
    c.q("SET str x");
    c.q("ZADD z 1 a");
    for cmd in [
        "ZADD str 1 a",
        "ZINCRBY str 1 a",
        "ZREM str a",
        "ZCARD str",
        "ZSCORE str a",
        "ZMSCORE str a",
        "ZRANK str a",
        "ZREVRANK str a",
        "ZCOUNT str 0 1",
        "ZLEXCOUNT str - +",
        "ZRANGE str 0 -1",
        "ZRANGESTORE d str 0 -1",
        "ZREVRANGE str 0 -1",
        "ZRANGEBYSCORE str 0 1",
        "ZREVRANGEBYSCORE str 1 0",
        "ZRANGEBYLEX str - +",
        "ZREVRANGEBYLEX str + -",
        "ZREMRANGEBYSCORE str 0 1",
        "ZREMRANGEBYRANK str 0 1",
        "ZREMRANGEBYLEX str - +",
        "ZPOPMIN str",
        "ZPOPMAX str 2",
        "ZPOPMIN str 0",
        "ZRANDMEMBER str",
        "ZSCAN str 0",
        "ZUNION 2 z str",
        "ZINTERSTORE d 2 str z",
        "ZDIFF 1 str",
        "BZPOPMIN str 0",
    ] {
        assert_eq!(c.q(cmd), err(WRONGTYPE), "{cmd}");
    }
    assert_eq!(c.q("GET str"), bulk("x"));
}

#[test]
fn score_and_lex_ranges() {
    let s = start();
    let mut c = s.raw();
    c.q("ZADD z -inf ninf 1 a 2 b 3 c 4 d 5 e 5 f 5 g +inf pinf");
    assert_eq!(c.q("ZCOUNT z -inf +inf"), int(9));
    assert_eq!(c.q("ZCOUNT z (-inf (+inf"), int(7));
    assert_eq!(c.q("ZCOUNT z (1 5"), int(6));
    assert_eq!(c.q("ZCOUNT z (1 (5"), int(3));
    assert_eq!(c.q("ZCOUNT z 5 1"), int(0));
    assert_eq!(c.q("ZCOUNT z (5 5"), int(0));
    assert_eq!(c.q("ZCOUNT z (a 5"), err("ERR min or max is not a float"));
    assert_eq!(c.q("ZCOUNT z nan 5"), err("ERR min or max is not a float"));
    assert_eq!(c.q("ZRANGEBYSCORE z (1 3"), bulks(&["b", "c"]));
    assert_eq!(
        c.q("ZRANGEBYSCORE z -inf (2 WITHSCORES"),
        bulks(&["ninf", "-inf", "a", "1"])
    );
    assert_eq!(
        c.q("ZRANGEBYSCORE z 5 +inf"),
        bulks(&["e", "f", "g", "pinf"])
    );
    assert_eq!(c.q("ZREVRANGEBYSCORE z 5 (3"), bulks(&["g", "f", "e", "d"]));
    assert_eq!(c.q("ZREVRANGEBYSCORE z (3 5"), arr(vec![]));
    // LIMIT: negative count means all the rest; a negative offset gives nothing.
    assert_eq!(
        c.q("ZRANGEBYSCORE z 1 5 LIMIT 2 -1"),
        bulks(&["c", "d", "e", "f", "g"])
    );
    assert_eq!(c.q("ZRANGEBYSCORE z 1 5 LIMIT 2 2"), bulks(&["c", "d"]));
    assert_eq!(c.q("ZRANGEBYSCORE z 1 5 LIMIT -1 2"), arr(vec![]));
    assert_eq!(c.q("ZRANGEBYSCORE z 1 5 LIMIT 1 0"), arr(vec![]));
    assert_eq!(c.q("ZRANGEBYSCORE z 1 5 LIMIT 10 5"), arr(vec![]));
    assert_eq!(
        c.q("ZREVRANGEBYSCORE z +inf -inf LIMIT 1 3"),
        bulks(&["g", "f", "e"])
    );
    assert_eq!(c.q("ZRANGEBYSCORE z 1 2 LIMIT"), err(SYNTAX));
    assert_eq!(c.q("ZRANGEBYSCORE z 1 2 REV"), err(SYNTAX));
    assert_eq!(
        c.q("ZRANGEBYSCORE z 1 2 LIMIT x 1"),
        err("ERR value is not an integer or out of range")
    );

    // Lex ranges over equal scores.
    c.q("ZADD lex 0 a 0 b 0 c 0 d 0 e 0 f");
    assert_eq!(
        c.q("ZRANGEBYLEX lex - +"),
        bulks(&["a", "b", "c", "d", "e", "f"])
    );
    assert_eq!(c.q("ZRANGEBYLEX lex [b (e"), bulks(&["b", "c", "d"]));
    assert_eq!(c.q("ZRANGEBYLEX lex (b [e"), bulks(&["c", "d", "e"]));
    assert_eq!(c.q("ZRANGEBYLEX lex [bb +"), bulks(&["c", "d", "e", "f"]));
    assert_eq!(c.q("ZRANGEBYLEX lex - + LIMIT 1 2"), bulks(&["b", "c"]));
    assert_eq!(c.q("ZREVRANGEBYLEX lex + - LIMIT 0 2"), bulks(&["f", "e"]));
    assert_eq!(c.q("ZREVRANGEBYLEX lex (e [b"), bulks(&["d", "c", "b"]));
    assert_eq!(c.q("ZRANGEBYLEX lex + -"), arr(vec![]));
    assert_eq!(c.q("ZLEXCOUNT lex [b [d"), int(3));
    assert_eq!(c.q("ZLEXCOUNT lex - +"), int(6));
    // Mixed scores (Redis leaves the result unspecified): a small set answers as Redis's
    // listpack walk does: empty unless the last member is >= min and the first <= max,
    // then the run from the first member >= min while <= max (backwards: from the last
    // member <= max while >= min). Order by score: a(0) m5(1) m1(2) b(3).
    c.q("ZADD mixed 1 m5 2 m1 0 a 3 b");
    assert_eq!(c.q("ZRANGEBYLEX mixed (m3 +"), arr(vec![]));
    assert_eq!(c.q("ZRANGEBYLEX mixed [a [c"), bulks(&["a"]));
    assert_eq!(c.q("ZRANGEBYLEX mixed [b [c"), arr(vec![]));
    assert_eq!(
        c.q("ZRANGEBYLEX mixed [a +"),
        bulks(&["a", "m5", "m1", "b"])
    );
    assert_eq!(
        c.q("ZREVRANGEBYLEX mixed [c [a"),
        bulks(&["b", "m1", "m5", "a"])
    );
    assert_eq!(c.q("ZREVRANGEBYLEX mixed + [m2"), arr(vec![]));
    assert_eq!(c.q("ZLEXCOUNT mixed (m3 +"), int(0));
    assert_eq!(c.q("ZLEXCOUNT mixed [a [c"), int(1));
    assert_eq!(c.q("ZRANGEBYLEX mixed [c [a"), arr(vec![]));
    c.q("ZADD tail 1 m5 2 m1");
    assert_eq!(c.q("ZRANGEBYLEX tail (m3 +"), arr(vec![]));
    assert_eq!(c.q("ZREMRANGEBYLEX tail (m3 +"), int(0));
    for cmd in [
        "ZRANGEBYLEX lex a b",
        "ZRANGEBYLEX lex [a b",
        "ZLEXCOUNT lex -- +",
        "ZRANGE lex 0 -1 BYLEX",
    ] {
        assert_eq!(
            c.q(cmd),
            err("ERR min or max not valid string range item"),
            "{cmd}"
        );
    }
    assert_eq!(
        c.call(&["ZRANGEBYLEX", "lex", "", "+"]),
        err("ERR min or max not valid string range item")
    );
}

#[test]
fn zrange_unified_and_store() {
    let s = start();
    let mut c = s.raw();
    c.q("ZADD z 1 a 2 b 3 c 4 d");
    assert_eq!(c.q("ZRANGE z 0 -1"), bulks(&["a", "b", "c", "d"]));
    assert_eq!(
        c.q("ZRANGE z -2 -1 WITHSCORES"),
        bulks(&["c", "3", "d", "4"])
    );
    assert_eq!(c.q("ZRANGE z -100 100"), bulks(&["a", "b", "c", "d"]));
    assert_eq!(c.q("ZRANGE z 3 1"), arr(vec![]));
    assert_eq!(c.q("ZRANGE z 0 1 REV"), bulks(&["d", "c"]));
    assert_eq!(
        c.q("ZREVRANGE z 0 1 WITHSCORES"),
        bulks(&["d", "4", "c", "3"])
    );
    assert_eq!(c.q("ZRANGE z (1 4 BYSCORE LIMIT 1 5"), bulks(&["c", "d"]));
    assert_eq!(
        c.q("ZRANGE z 4 (1 BYSCORE REV WITHSCORES"),
        bulks(&["d", "4", "c", "3", "b", "2"])
    );
    assert_eq!(c.q("ZRANGE z [b [c BYLEX"), bulks(&["b", "c"]));
    assert_eq!(c.q("ZRANGE z [c [b BYLEX REV"), bulks(&["c", "b"]));
    assert_eq!(
        c.q("ZRANGE z 0 1 LIMIT 0 1"),
        err(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
        )
    );
    assert_eq!(
        c.q("ZRANGE z - + BYLEX WITHSCORES"),
        err("ERR syntax error, WITHSCORES not supported in combination with BYLEX")
    );
    assert_eq!(c.q("ZRANGE z 0 1 BYSCORE BYLEX"), err(SYNTAX));
    assert_eq!(c.q("ZREVRANGE z 0 1 BYLEX"), err(SYNTAX));
    assert_eq!(c.q("ZRANGE nope 0 -1"), arr(vec![]));

    assert_eq!(c.q("ZRANGESTORE d z 1 2"), int(2));
    assert_eq!(
        c.q("ZRANGE d 0 -1 WITHSCORES"),
        bulks(&["b", "2", "c", "3"])
    );
    assert_eq!(c.q("ZRANGESTORE d z 3 (1 BYSCORE REV LIMIT 0 1"), int(1));
    assert_eq!(c.q("ZRANGE d 0 -1 WITHSCORES"), bulks(&["c", "3"]));
    assert_eq!(c.q("ZRANGESTORE d z 0 -1 WITHSCORES"), err(SYNTAX));
    assert_eq!(c.q("ZRANGESTORE d z 5 10"), int(0));
    assert_eq!(
        c.q("EXISTS d"),
        int(0),
        "an empty result deletes the destination"
    );
    assert_eq!(c.q("ZRANGESTORE d nope 0 -1"), int(0));
    c.q("SET str x");
    assert_eq!(c.q("ZRANGESTORE str z 0 0"), int(1));
    assert_eq!(c.q("TYPE str"), simple("zset"));
}

#[test]
fn ranks_scores_and_removal() {
    let s = start();
    let mut c = s.raw();
    c.q("ZADD z 1 a 2 b 3 c 4 d 5 e");
    assert_eq!(c.q("ZCARD z"), int(5));
    assert_eq!(c.q("ZCARD nope"), int(0));
    assert_eq!(c.q("ZRANK z c"), int(2));
    assert_eq!(c.q("ZREVRANK z c"), int(2));
    assert_eq!(c.q("ZREVRANK z a"), int(4));
    assert_eq!(c.q("ZRANK z nope"), nil());
    assert_eq!(c.q("ZRANK nope a"), nil());
    assert_eq!(
        c.q("ZMSCORE z a nope e"),
        arr(vec![bulk("1"), nil(), bulk("5")])
    );
    assert_eq!(c.q("ZMSCORE nope a"), arr(vec![nil()]));
    assert_eq!(c.q("ZREM z a nope"), int(1));
    assert_eq!(c.q("ZREMRANGEBYSCORE z (2 3"), int(1));
    assert_eq!(c.q("ZRANGE z 0 -1"), bulks(&["b", "d", "e"]));
    assert_eq!(c.q("ZREMRANGEBYRANK z -1 -1"), int(1));
    assert_eq!(c.q("ZREMRANGEBYRANK z 5 10"), int(0));
    assert_eq!(
        c.q("ZREMRANGEBYRANK z x 1"),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(
        c.q("ZREMRANGEBYSCORE z x 1"),
        err("ERR min or max is not a float")
    );
    assert_eq!(
        c.q("ZREMRANGEBYLEX z x 1"),
        err("ERR min or max not valid string range item")
    );
    assert_eq!(c.q("ZREMRANGEBYRANK nope 0 1"), int(0));
    assert_eq!(c.q("ZREMRANGEBYLEX z - +"), int(2));
    assert_eq!(c.q("EXISTS z"), int(0));
}

#[test]
fn pops_and_random_members() {
    let s = start();
    let mut c = s.raw();
    assert_eq!(c.q("ZPOPMIN nope"), arr(vec![]));
    assert_eq!(c.q("ZPOPMIN nope 2"), arr(vec![]));
    c.q("ZADD z 1 a 2 b 3 c 4 d 5 e");
    assert_eq!(
        c.q("ZPOPMIN z -1"),
        err("ERR value is out of range, must be positive")
    );
    assert_eq!(c.q("ZPOPMIN z 0"), arr(vec![]));
    assert_eq!(c.q("ZPOPMIN z"), bulks(&["a", "1"]));
    assert_eq!(c.q("ZPOPMAX z"), bulks(&["e", "5"]));
    assert_eq!(c.q("ZPOPMAX z 2"), bulks(&["d", "4", "c", "3"]));
    assert_eq!(c.q("ZPOPMIN z 10"), bulks(&["b", "2"]));
    assert_eq!(c.q("EXISTS z"), int(0));

    assert_eq!(c.q("ZRANDMEMBER nope"), nil());
    assert_eq!(c.q("ZRANDMEMBER nope 3"), arr(vec![]));
    c.q("ZADD z 1 a 2 b 3 c");
    assert_eq!(c.q("ZRANDMEMBER z 0"), arr(vec![]));
    assert_eq!(c.q("ZRANDMEMBER z 1 foo"), err(SYNTAX));
    assert_eq!(
        c.q("ZRANDMEMBER z x"),
        err("ERR value is not an integer or out of range")
    );
    let one = as_text(&c.q("ZRANDMEMBER z"));
    assert!(["a", "b", "c"].contains(&one.as_str()));
    assert_eq!(
        c.q("ZRANDMEMBER z 10 WITHSCORES"),
        bulks(&["c", "3", "b", "2", "a", "1"])
    );
    let two: BTreeSet<String> = texts(c.q("ZRANDMEMBER z 2")).into_iter().collect();
    assert_eq!(two.len(), 2);
    let many = texts(c.q("ZRANDMEMBER z -7 WITHSCORES"));
    assert_eq!(many.len(), 14);
    for pair in many.chunks(2) {
        let want = match pair[0].as_str() {
            "a" => "1",
            "b" => "2",
            _ => "3",
        };
        assert_eq!(pair[1], want);
    }
    assert_eq!(c.q("ZCARD z"), int(3));
}

#[test]
fn union_inter_diff() {
    let s = start();
    let mut c = s.raw();
    c.q("ZADD z1 1 a 2 b 3 c");
    c.q("ZADD z2 10 b 20 c 30 d");
    c.q("SADD s1 a d x");
    assert_eq!(
        c.q("ZUNION 2 z1 z2 WITHSCORES"),
        bulks(&["a", "1", "b", "12", "c", "23", "d", "30"])
    );
    assert_eq!(
        c.q("ZINTER 2 z1 z2 WITHSCORES"),
        bulks(&["b", "12", "c", "23"])
    );
    assert_eq!(
        c.q("ZINTER 2 z1 z2 WEIGHTS 2 3 WITHSCORES"),
        bulks(&["b", "34", "c", "66"])
    );
    assert_eq!(
        c.q("ZINTER 2 z1 z2 AGGREGATE MAX WITHSCORES"),
        bulks(&["b", "10", "c", "20"])
    );
    assert_eq!(
        c.q("ZUNION 3 z1 z2 s1 AGGREGATE MIN WITHSCORES"),
        bulks(&["a", "1", "d", "1", "x", "1", "b", "2", "c", "3"])
    );
    assert_eq!(c.q("ZINTER 2 z1 s1 WITHSCORES"), bulks(&["a", "2"]));
    assert_eq!(c.q("ZDIFF 2 z1 z2 WITHSCORES"), bulks(&["a", "1"]));
    assert_eq!(c.q("ZDIFF 3 z2 z1 s1"), arr(vec![]));
    assert_eq!(c.q("ZINTER 2 z1 nope"), arr(vec![]));
    assert_eq!(c.q("ZUNION 1 z1"), bulks(&["a", "b", "c"]));
    // inf * 0 and inf + -inf are 0.
    c.q("ZADD inf +inf x -inf y");
    assert_eq!(
        c.q("ZUNION 2 inf inf WEIGHTS 1 -1 WITHSCORES"),
        bulks(&["x", "0", "y", "0"])
    );
    assert_eq!(
        c.q("ZUNION 1 inf WEIGHTS 0 WITHSCORES"),
        bulks(&["x", "0", "y", "0"])
    );

    assert_eq!(c.q("ZUNIONSTORE out 2 z1 z2 WEIGHTS 1 -1"), int(4));
    assert_eq!(
        c.q("ZRANGE out 0 -1 WITHSCORES"),
        bulks(&["d", "-30", "c", "-17", "b", "-8", "a", "1"])
    );
    assert_eq!(c.q("ZINTERSTORE out 2 z1 nope"), int(0));
    assert_eq!(c.q("EXISTS out"), int(0));
    assert_eq!(c.q("ZDIFFSTORE out 2 z1 z2"), int(1));
    assert_eq!(
        c.q("ZUNIONSTORE z1 2 z1 z2 AGGREGATE MAX"),
        int(4),
        "destination as a source"
    );
    assert_eq!(
        c.q("ZRANGE z1 0 -1 WITHSCORES"),
        bulks(&["a", "1", "b", "10", "c", "20", "d", "30"])
    );

    for (cmd, e) in [
        (
            "ZUNIONSTORE d 0 z1",
            "ERR at least 1 input key is needed for 'zunionstore' command",
        ),
        (
            "ZINTER -1 z1",
            "ERR at least 1 input key is needed for 'zinter' command",
        ),
        ("ZUNION x z1", "ERR value is not an integer or out of range"),
        ("ZUNIONSTORE d 2 z1", SYNTAX),
        ("ZUNION 1 z1 WEIGHTS 1 2", SYNTAX),
        ("ZUNION 1 z1 WEIGHTS a", "ERR weight value is not a float"),
        ("ZUNION 1 z1 AGGREGATE foo", SYNTAX),
        ("ZUNION 1 z1 WITHSCORES foo", SYNTAX),
        ("ZUNIONSTORE d 1 z1 WITHSCORES", SYNTAX),
        ("ZDIFF 1 z1 WEIGHTS 1", SYNTAX),
        ("ZDIFF 1 z1 AGGREGATE SUM", SYNTAX),
    ] {
        assert_eq!(c.q(cmd), err(e), "{cmd}");
    }
}

#[test]
fn encodings_and_big_sets() {
    let s = start();
    let mut c = s.raw();
    let mut args: Vec<String> = vec!["ZADD".into(), "z".into()];
    for i in 0..128 {
        args.push(i.to_string());
        args.push(format!("m{i:04}"));
    }
    c.call(&args);
    assert_eq!(c.q("OBJECT ENCODING z"), bulk("listpack"));
    c.q("ZADD z 1000 last");
    assert_eq!(c.q("OBJECT ENCODING z"), bulk("skiplist"));
    c.call(&["ZADD", "long", "1", &"x".repeat(65)]);
    assert_eq!(c.q("OBJECT ENCODING long"), bulk("skiplist"));
    c.call(&["ZADD", "long64", "1", &"x".repeat(64)]);
    assert_eq!(c.q("OBJECT ENCODING long64"), bulk("listpack"));

    // A big set: ranks, ranges and removals stay consistent.
    let n = 20_000;
    let mut args: Vec<String> = vec!["ZADD".into(), "big".into()];
    for i in 0..n {
        args.push(((i * 7919) % n).to_string());
        args.push(format!("m{i}"));
    }
    assert_eq!(c.call(&args), int(n as i64));
    assert_eq!(c.q("ZCARD big"), int(n as i64));
    assert_eq!(c.q("ZCOUNT big 100 (200"), int(100));
    let first = texts(c.q("ZRANGE big 0 2 WITHSCORES"));
    assert_eq!(
        first.iter().skip(1).step_by(2).collect::<Vec<_>>(),
        ["0", "1", "2"]
    );
    let m = format!("m{}", 5);
    let score: i64 = as_text(&c.call(&["ZSCORE", "big", &m])).parse().unwrap();
    assert_eq!(c.call(&["ZRANK", "big", &m]), int(score));
    assert_eq!(c.q("ZREMRANGEBYRANK big 0 9999"), int(10_000));
    assert_eq!(texts(c.q("ZRANGE big 0 0 WITHSCORES"))[1], "10000");
    assert_eq!(c.q("ZREMRANGEBYSCORE big (19990 +inf"), int(9));
    assert_eq!(c.q("ZCARD big"), int(9991));

    // ZSCAN visits everything, incrementally for a big set.
    let mut seen = BTreeSet::new();
    let mut cursor = "0".to_string();
    let mut calls = 0;
    loop {
        let r = as_array(c.call(&["ZSCAN", "big", &cursor, "COUNT", "500"]));
        cursor = as_text(&r[0]);
        let items = texts(r[1].clone());
        assert_eq!(items.len() % 2, 0);
        seen.extend(items.into_iter().step_by(2));
        calls += 1;
        if cursor == "0" {
            break;
        }
    }
    assert!(calls > 5);
    assert_eq!(seen.len(), 9991);
    assert_eq!(c.q("ZSCAN nope 0"), arr(vec![bulk("0"), arr(vec![])]));
    assert_eq!(c.q("ZSCAN z x"), err("ERR invalid cursor"));
    assert_eq!(c.q("ZSCAN z 0 COUNT 0"), err(SYNTAX));
    assert_eq!(
        c.q("ZSCAN long64 0 MATCH nomatch"),
        arr(vec![bulk("0"), arr(vec![])])
    );
}

#[test]
fn resp3_uses_doubles_and_pairs() {
    let s = start();
    let mut c = s.raw();
    c.q("HELLO 3");
    c.q("ZADD z 1 a 2.5 b");
    assert_eq!(c.q("ZSCORE z b"), Frame::Double(2.5));
    assert_eq!(c.q("ZSCORE z nope"), Frame::Null);
    assert_eq!(
        c.q("ZMSCORE z a nope"),
        arr(vec![Frame::Double(1.0), Frame::Null])
    );
    assert_eq!(c.q("ZINCRBY z 1 a"), Frame::Double(2.0));
    assert_eq!(c.q("ZADD z INCR 1 a"), Frame::Double(3.0));
    assert_eq!(
        c.q("ZRANGE z 0 -1 WITHSCORES"),
        arr(vec![
            arr(vec![bulk("b"), Frame::Double(2.5)]),
            arr(vec![bulk("a"), Frame::Double(3.0)]),
        ])
    );
    assert_eq!(c.q("ZRANGE z 0 0"), arr(vec![bulk("b")]));
    assert_eq!(
        c.q("ZUNION 1 z WITHSCORES"),
        arr(vec![
            arr(vec![bulk("b"), Frame::Double(2.5)]),
            arr(vec![bulk("a"), Frame::Double(3.0)]),
        ])
    );
    let r = as_array(c.q("ZRANDMEMBER z -1 WITHSCORES"));
    assert_eq!(r.len(), 1);
    assert_eq!(as_array(r[0].clone()).len(), 2);
    assert_eq!(c.q("ZPOPMIN z"), arr(vec![bulk("b"), Frame::Double(2.5)]));
    c.q("ZADD z 5 c");
    assert_eq!(
        c.q("ZPOPMAX z 1"),
        arr(vec![arr(vec![bulk("c"), Frame::Double(5.0)])])
    );
    assert_eq!(c.q("ZSCAN z 0"), arr(vec![bulk("0"), bulks(&["a", "3"])]));
}

#[test]
fn bzpop_blocks_until_a_member_arrives() {
    let s = start();
    let mut c = s.raw();
    c.q("ZADD ready 3 c 1 a");
    // Data present: served at once, from the first non-empty key.
    assert_eq!(c.q("BZPOPMIN nope ready 0"), bulks(&["ready", "a", "1"]));
    assert_eq!(c.q("BZPOPMAX ready 0"), bulks(&["ready", "c", "3"]));
    assert_eq!(c.q("EXISTS ready"), int(0));
    assert_eq!(c.q("BZPOPMIN nope 0.05"), Frame::NullArray);
    assert_eq!(c.q("BZPOPMIN nope -1"), err("ERR timeout is negative"));
    assert_eq!(
        c.q("BZPOPMIN nope x"),
        err("ERR timeout is not a float or out of range")
    );

    let mut waiter = s.raw();
    waiter.send_cmd(&["BZPOPMAX", "k1", "k2", "5"]);
    std::thread::sleep(std::time::Duration::from_millis(100));
    assert_eq!(c.q("ZADD k2 1 x 2 y"), int(2));
    assert_eq!(waiter.read(), bulks(&["k2", "y", "2"]));
    assert_eq!(c.q("ZRANGE k2 0 -1"), bulks(&["x"]));
    // Inside MULTI a blocking pop never blocks.
    c.q("MULTI");
    c.q("BZPOPMIN nope 0");
    assert_eq!(c.q("EXEC"), arr(vec![Frame::NullArray]));
}

/// ZINTERCARD, ZMPOP and BZMPOP: replies and errors as redis-server 7.0.15 gave them for
/// the same commands.
#[test]
fn zintercard_zmpop_and_bzmpop_as_redis_7() {
    let s = start();
    let mut c = s.raw();
    c.q("ZADD z1 1 a 2 b 3 c");
    c.q("ZADD z2 2 b 3 c 4 d");
    c.q("SADD s1 b c x");
    c.q("SET str v");
    assert_eq!(c.q("ZINTERCARD 2 z1 z2"), int(2));
    assert_eq!(c.q("ZINTERCARD 2 z1 z2 LIMIT 1"), int(1));
    assert_eq!(c.q("ZINTERCARD 2 z1 z2 LIMIT 0"), int(2));
    assert_eq!(
        c.q("ZINTERCARD 3 z1 z2 s1"),
        int(2),
        "sets count as sorted sets"
    );
    assert_eq!(c.q("ZINTERCARD 2 z1 nokey"), int(0));
    assert_eq!(
        c.q("ZINTERCARD 0 z1"),
        err("ERR at least 1 input key is needed for 'zintercard' command")
    );
    assert_eq!(c.q("ZINTERCARD 3 z1 z2"), err(SYNTAX));
    assert_eq!(c.q("ZINTERCARD 1 z1 foo"), err(SYNTAX));
    assert_eq!(
        c.q("ZINTERCARD 2 z1 z2 LIMIT -1"),
        err("ERR LIMIT can't be negative")
    );
    assert_eq!(c.q("ZINTERCARD 2 z1 str"), err(WRONGTYPE));

    // [key, [[member, score], ...]], pairs nested in RESP2 too.
    assert_eq!(
        c.q("ZMPOP 2 nokey z1 MIN"),
        arr(vec![bulk("z1"), arr(vec![bulks(&["a", "1"])])])
    );
    assert_eq!(
        c.q("ZMPOP 1 z2 MAX COUNT 2"),
        arr(vec![
            bulk("z2"),
            arr(vec![bulks(&["d", "4"]), bulks(&["c", "3"])])
        ])
    );
    assert_eq!(c.q("ZMPOP 1 nokey MIN"), Frame::NullArray);
    assert_eq!(
        c.q("ZMPOP 0 z1 MIN"),
        err("ERR numkeys should be greater than 0")
    );
    assert_eq!(c.q("ZMPOP 1 z1 MID"), err(SYNTAX));
    assert_eq!(
        c.q("ZMPOP 1 z1 MIN COUNT 0"),
        err("ERR count should be greater than 0")
    );
    assert_eq!(c.q("ZMPOP 1 z1 MIN COUNT 1 COUNT 2"), err(SYNTAX));
    assert_eq!(c.q("ZMPOP 2 z1 MIN"), err(SYNTAX), "MIN taken as a key");
    assert_eq!(c.q("ZMPOP 1 str MIN"), err(WRONGTYPE));
    // Popping the last member deletes the key.
    assert_eq!(
        c.q("ZMPOP 1 z2 MIN COUNT 10"),
        arr(vec![bulk("z2"), arr(vec![bulks(&["b", "2"])])])
    );
    assert_eq!(c.q("EXISTS z2"), int(0));

    assert_eq!(c.q("BZMPOP 0.05 1 nokey MIN"), Frame::NullArray);
    assert_eq!(
        c.q("BZMPOP 0 0 z1 MIN"),
        err("ERR numkeys should be greater than 0")
    );
    assert_eq!(c.q("BZMPOP -1 1 z1 MIN"), err("ERR timeout is negative"));
    let mut waiter = s.raw();
    waiter.send_cmd(&["BZMPOP", "5", "2", "k1", "k2", "MAX", "COUNT", "2"]);
    std::thread::sleep(std::time::Duration::from_millis(100));
    assert_eq!(c.q("ZADD k2 1 x 2 y 3 z"), int(3));
    assert_eq!(
        waiter.read(),
        arr(vec![
            bulk("k2"),
            arr(vec![bulks(&["z", "3"]), bulks(&["y", "2"])])
        ])
    );
    assert_eq!(c.q("ZRANGE k2 0 -1"), bulks(&["x"]));

    c.q("HELLO 3");
    c.q("ZADD r 1.5 m");
    assert_eq!(
        c.q("ZMPOP 1 r MIN"),
        arr(vec![
            bulk("r"),
            arr(vec![arr(vec![bulk("m"), Frame::Double(1.5)])])
        ])
    );
}

/// Every sorted set with its scores and encoding, for comparisons across a restart.
fn dump(c: &mut Raw, keys: &[&str]) -> Vec<(String, Vec<String>, String)> {
    keys.iter()
        .map(|k| {
            let enc = match c.call(&["OBJECT", "ENCODING", k]) {
                Frame::Bulk(b) => String::from_utf8(b).unwrap(),
                _ => "none".into(),
            };
            (
                k.to_string(),
                texts(c.call(&["ZRANGE", k, "0", "-1", "WITHSCORES"])),
                enc,
            )
        })
        .collect()
}

#[test]
fn sorted_sets_survive_a_restart() {
    let mut s1 = start_with(|c| c.appendonly = true);
    if s1.handle.is_none() {
        return; // needs the in-process server
    }
    let keys = [
        "small", "big", "incr", "popped", "store", "union", "inter", "gone", "ranged", "mp",
    ];
    let before = {
        let mut c = s1.raw();
        c.q("ZADD small 1 a 2 b -inf low +inf high 0.1 tenth");
        c.q("ZADD small GT 0 a 5 b");
        let mut args: Vec<String> = vec!["ZADD".into(), "big".into()];
        for i in 0..3000 {
            args.push(format!("{}.5", (i * 31) % 1000));
            args.push(format!("m{i}"));
        }
        c.call(&args);
        c.q("ZREM big m7 m8 m9");
        c.q("ZINCRBY incr 0.1 x");
        c.q("ZINCRBY incr 0.2 x");
        c.q("ZADD incr INCR 1e300 y");
        c.q("ZADD popped 1 a 2 b 3 c 4 d");
        c.q("ZPOPMIN popped");
        c.q("ZPOPMAX popped 2");
        c.q("ZPOPMIN big 5");
        c.q("ZRANGESTORE store big 10 20");
        c.q("ZUNIONSTORE union 2 small popped WEIGHTS 2 3");
        c.q("ZINTERSTORE inter 2 big big AGGREGATE MAX");
        c.q("ZADD gone 1 a");
        c.q("ZREMRANGEBYSCORE gone -inf +inf");
        c.q("ZADD ranged 0 a 0 b 0 c 0 d");
        c.q("ZREMRANGEBYLEX ranged [b [c");
        c.q("ZREMRANGEBYRANK big 100 199");
        // A blocking pop logs the pop itself.
        c.q("ZADD bz 1 only 2 other");
        c.q("BZPOPMIN bz 0");
        c.q("ZADD mp 1 a 2 b 3 c");
        c.q("ZMPOP 1 mp MAX COUNT 2");
        c.q("BZMPOP 0 2 nothing mp MIN");
        c.q("ZADD mp 9 z");
        dump(&mut c, &keys)
    };
    let s2 = restart_with_log(&mut s1);
    let mut c = s2.raw();
    assert_eq!(dump(&mut c, &keys), before);
    assert_eq!(c.q("ZCARD big"), int(2892));
    assert_eq!(c.q("ZRANGE bz 0 -1"), bulks(&["other"]));
    assert_eq!(c.q("ZSCORE incr x"), bulk("0.30000000000000004"));
}
