//! List commands over TCP match Redis 7.0 replies and errors (indexes, ranges, LPOS, LINSERT, LMOVE, LMPOP), emptied lists vanish, and lists survive a restart from the log.

mod common;

use common::*;
use strata::protocol::Frame;

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

fn ints(v: &[i64]) -> Frame {
    arr(v.iter().map(|&i| int(i)).collect())
}

#[test]
fn push_pop_and_length() {
    let s = start();
    let mut c = s.raw();
    assert_eq!(c.q("RPUSH l a b c"), int(3));
    assert_eq!(c.q("LPUSH l x y"), int(5));
    assert_eq!(c.q("LRANGE l 0 -1"), bulks(&["y", "x", "a", "b", "c"]));
    assert_eq!(c.q("LPUSHX nokey a"), int(0));
    assert_eq!(c.q("EXISTS nokey"), int(0));
    assert_eq!(c.q("RPUSHX l z"), int(6));
    assert_eq!(c.q("LLEN l"), int(6));
    assert_eq!(c.q("LLEN nokey"), int(0));
    assert_eq!(c.q("LPOP l"), bulk("y"));
    assert_eq!(c.q("RPOP l"), bulk("z"));
    assert_eq!(c.q("LPOP l 2"), bulks(&["x", "a"]));
    assert_eq!(c.q("RPOP l 0"), arr(vec![]));
    assert_eq!(
        c.q("LPOP l -1"),
        err("ERR value is out of range, must be positive")
    );
    assert_eq!(c.q("LPOP nokey"), nil());
    assert_eq!(c.q("LPOP nokey 2"), Frame::NullArray);
    assert_eq!(
        c.q("LPOP l 1 2"),
        err("ERR wrong number of arguments for 'lpop' command")
    );
    // Popping more than there is empties the list, which deletes the key.
    assert_eq!(c.q("RPOP l 10"), bulks(&["c", "b"]));
    assert_eq!(c.q("EXISTS l"), int(0));
    assert_eq!(c.q("TYPE l"), simple("none"));
}

#[test]
fn indexes_and_ranges() {
    let s = start();
    let mut c = s.raw();
    c.q("RPUSH l a b c d e");
    assert_eq!(c.q("LRANGE l -3 -1"), bulks(&["c", "d", "e"]));
    assert_eq!(c.q("LRANGE l -100 100"), bulks(&["a", "b", "c", "d", "e"]));
    assert_eq!(c.q("LRANGE l 3 1"), arr(vec![]));
    assert_eq!(c.q("LRANGE l 5 10"), arr(vec![]));
    assert_eq!(c.q("LRANGE l 0 -6"), arr(vec![]));
    assert_eq!(c.q("LRANGE nokey 0 -1"), arr(vec![]));
    assert_eq!(
        c.q("LRANGE l a 1"),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(c.q("LINDEX l 0"), bulk("a"));
    assert_eq!(c.q("LINDEX l -1"), bulk("e"));
    assert_eq!(c.q("LINDEX l -5"), bulk("a"));
    assert_eq!(c.q("LINDEX l 5"), nil());
    assert_eq!(c.q("LINDEX l -6"), nil());
    assert_eq!(c.q("LINDEX nokey x"), nil());
    assert_eq!(c.q("LSET l -2 D"), ok());
    assert_eq!(c.q("LSET l 5 x"), err("ERR index out of range"));
    assert_eq!(c.q("LSET nokey 0 x"), err("ERR no such key"));
    assert_eq!(c.q("LRANGE l 0 -1"), bulks(&["a", "b", "c", "D", "e"]));
    assert_eq!(c.q("LTRIM l 1 -2"), ok());
    assert_eq!(c.q("LRANGE l 0 -1"), bulks(&["b", "c", "D"]));
    assert_eq!(c.q("LTRIM l -100 100"), ok());
    assert_eq!(c.q("LLEN l"), int(3));
    assert_eq!(c.q("LTRIM l 2 1"), ok());
    assert_eq!(c.q("EXISTS l"), int(0));
    assert_eq!(c.q("LTRIM nokey 0 1"), ok());
}

#[test]
fn lpos_rank_count_maxlen() {
    let s = start();
    let mut c = s.raw();
    c.q("RPUSH l a b c a b c a");
    assert_eq!(c.q("LPOS l b"), int(1));
    assert_eq!(c.q("LPOS l b RANK 2"), int(4));
    assert_eq!(c.q("LPOS l a RANK -1"), int(6));
    assert_eq!(c.q("LPOS l a RANK -2 COUNT 2"), ints(&[3, 0]));
    assert_eq!(c.q("LPOS l a COUNT 0"), ints(&[0, 3, 6]));
    assert_eq!(c.q("LPOS l a COUNT 0 MAXLEN 4"), ints(&[0, 3]));
    assert_eq!(c.q("LPOS l a RANK 2 COUNT 0 MAXLEN 4"), ints(&[3]));
    assert_eq!(c.q("LPOS l a RANK -1 MAXLEN 2"), int(6));
    assert_eq!(c.q("LPOS l zz"), nil());
    assert_eq!(c.q("LPOS l zz COUNT 2"), arr(vec![]));
    assert_eq!(c.q("LPOS nokey a"), nil());
    assert_eq!(c.q("LPOS nokey a COUNT 2"), arr(vec![]));
    assert_eq!(
        c.q("LPOS l a RANK 0"),
        err("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list")
    );
    assert_eq!(c.q("LPOS l a COUNT -1"), err("ERR COUNT can't be negative"));
    assert_eq!(
        c.q("LPOS l a MAXLEN -1"),
        err("ERR MAXLEN can't be negative")
    );
    assert_eq!(c.q("LPOS l a RANK"), err("ERR syntax error"));
    assert_eq!(c.q("LPOS l a FOO 1"), err("ERR syntax error"));
    // Options are checked before the key is looked up.
    assert!(matches!(c.q("LPOS nokey a RANK 0"), Frame::Error(_)));
}

#[test]
fn linsert_and_lrem() {
    let s = start();
    let mut c = s.raw();
    c.q("RPUSH l a b a c a");
    assert_eq!(c.q("LINSERT l BEFORE b X"), int(6));
    assert_eq!(c.q("LINSERT l after c Y"), int(7));
    assert_eq!(c.q("LINSERT l BEFORE missing Z"), int(-1));
    assert_eq!(c.q("LINSERT nokey BEFORE a Z"), int(0));
    assert_eq!(c.q("LINSERT l MIDDLE a Z"), err("ERR syntax error"));
    assert_eq!(
        c.q("LRANGE l 0 -1"),
        bulks(&["a", "X", "b", "a", "c", "Y", "a"])
    );
    assert_eq!(c.q("LREM l -1 a"), int(1));
    assert_eq!(c.q("LRANGE l 0 -1"), bulks(&["a", "X", "b", "a", "c", "Y"]));
    assert_eq!(c.q("LREM l 1 a"), int(1));
    assert_eq!(c.q("LREM l 0 zz"), int(0));
    assert_eq!(c.q("LREM l 0 a"), int(1));
    assert_eq!(c.q("LRANGE l 0 -1"), bulks(&["X", "b", "c", "Y"]));
    assert_eq!(c.q("LREM nokey 0 a"), int(0));
    assert_eq!(
        c.q("LREM l x a"),
        err("ERR value is not an integer or out of range")
    );
    c.q("DEL l");
    c.q("RPUSH l a a");
    assert_eq!(c.q("LREM l 0 a"), int(2));
    assert_eq!(c.q("EXISTS l"), int(0));
}

#[test]
fn lmove_rpoplpush_lmpop() {
    let s = start();
    let mut c = s.raw();
    c.q("RPUSH src 1 2 3");
    assert_eq!(c.q("LMOVE src dst LEFT RIGHT"), bulk("1"));
    assert_eq!(c.q("LMOVE src dst right left"), bulk("3"));
    assert_eq!(c.q("LRANGE dst 0 -1"), bulks(&["3", "1"]));
    assert_eq!(c.q("LMOVE src dst MIDDLE LEFT"), err("ERR syntax error"));
    assert_eq!(c.q("LMOVE nokey dst LEFT LEFT"), nil());
    // A rotation keeps the key (and its TTL).
    c.q("EXPIRE dst 100");
    assert_eq!(c.q("LMOVE dst dst LEFT RIGHT"), bulk("3"));
    assert_eq!(c.q("LRANGE dst 0 -1"), bulks(&["1", "3"]));
    assert!(as_int(&c.q("TTL dst")) > 0);
    assert_eq!(c.q("RPOPLPUSH src dst"), bulk("2"));
    assert_eq!(c.q("EXISTS src"), int(0));
    assert_eq!(c.q("LRANGE dst 0 -1"), bulks(&["2", "1", "3"]));
    c.q("SET str x");
    assert_eq!(c.q("LMOVE dst str LEFT LEFT"), err(WRONGTYPE));
    assert_eq!(c.q("LMOVE str dst LEFT LEFT"), err(WRONGTYPE));
    assert_eq!(c.q("LMOVE nokey str LEFT LEFT"), nil());

    assert_eq!(
        c.q("LMPOP 2 nokey dst RIGHT COUNT 2"),
        arr(vec![bulk("dst"), bulks(&["3", "1"])])
    );
    assert_eq!(
        c.q("LMPOP 1 dst LEFT COUNT 10"),
        arr(vec![bulk("dst"), bulks(&["2"])])
    );
    assert_eq!(c.q("EXISTS dst"), int(0));
    assert_eq!(c.q("LMPOP 1 nokey LEFT"), Frame::NullArray);
    assert_eq!(
        c.q("LMPOP 0 a LEFT"),
        err("ERR numkeys should be greater than 0")
    );
    assert_eq!(
        c.q("LMPOP 1 a LEFT COUNT 0"),
        err("ERR count should be greater than 0")
    );
    assert_eq!(c.q("LMPOP 2 a LEFT"), err("ERR syntax error"));
    assert_eq!(
        c.q("LMPOP 1 a LEFT COUNT 1 COUNT 2"),
        err("ERR syntax error")
    );
    assert_eq!(c.q("LMPOP 1 str LEFT"), err(WRONGTYPE));
}

#[test]
fn wrongtype_everywhere() {
    let s = start();
    let mut c = s.raw();
    c.q("SET s x");
    for cmd in [
        "LPUSH s a",
        "RPUSH s a",
        "LPUSHX s a",
        "RPUSHX s a",
        "LPOP s",
        "RPOP s 2",
        "LLEN s",
        "LRANGE s 0 1",
        "LINDEX s 0",
        "LSET s 0 a",
        "LINSERT s BEFORE a b",
        "LREM s 0 a",
        "LTRIM s 0 1",
        "LPOS s a",
        "RPOPLPUSH s d",
        "BLPOP s 0",
        "BRPOP s 0",
        "BLMPOP 0 1 s LEFT",
    ] {
        assert_eq!(c.q(cmd), err(WRONGTYPE), "{cmd}");
    }
    c.q("RPUSH l a");
    assert_eq!(c.q("GET l"), err(WRONGTYPE));
    assert_eq!(c.q("TYPE l"), simple("list"));
    assert_eq!(c.q("OBJECT ENCODING l"), bulk("quicklist"));
}

#[test]
fn big_lists_span_chunks() {
    let s = start();
    let mut c = s.raw();
    let mut args: Vec<String> = vec!["RPUSH".into(), "big".into()];
    args.extend((0..5000).map(|i| format!("element-{i}")));
    assert_eq!(c.call(&args), int(5000));
    assert_eq!(c.q("LINDEX big 2500"), bulk("element-2500"));
    assert_eq!(c.q("LINDEX big -1"), bulk("element-4999"));
    assert_eq!(
        c.q("LRANGE big 4998 10000"),
        bulks(&["element-4998", "element-4999"])
    );
    assert_eq!(c.q("LINSERT big AFTER element-1000 NEW"), int(5001));
    assert_eq!(c.q("LINDEX big 1001"), bulk("NEW"));
    assert_eq!(c.q("LPOS big element-4000"), int(4001));
    assert_eq!(c.q("LTRIM big 1000 3999"), ok());
    assert_eq!(c.q("LLEN big"), int(3000));
    assert_eq!(c.q("LINDEX big 0"), bulk("element-1000"));
    assert_eq!(c.q("LINDEX big 1"), bulk("NEW"));
    // A value larger than a chunk.
    let huge = "x".repeat(20_000);
    assert_eq!(c.call(&["LSET", "big", "5", &huge]), ok());
    assert_eq!(c.call(&["LINDEX", "big", "5"]), bulk(&huge));
    assert_eq!(c.q("LINDEX big 6"), bulk("element-1005"));
}

#[test]
fn lists_survive_a_restart() {
    let mut s1 = start_with(|c| c.appendonly = true);
    if s1.handle.is_none() {
        return; // needs the in-process server
    }
    let keys = [
        "plain", "popped", "moved", "dst", "trimmed", "edited", "mpop", "gone", "big",
    ];
    let dump = |c: &mut Raw| -> Vec<Frame> {
        keys.iter()
            .map(|k| c.call(&["LRANGE", k, "0", "-1"]))
            .collect()
    };
    let before = {
        let mut c = s1.raw();
        c.q("RPUSH plain a b c");
        c.q("LPUSH plain z");
        c.q("RPUSH popped 1 2 3 4 5");
        c.q("LPOP popped 2");
        c.q("RPOP popped");
        c.q("RPUSH moved m1 m2 m3");
        c.q("LMOVE moved dst LEFT RIGHT");
        c.q("RPOPLPUSH moved dst");
        c.q("LMOVE dst dst LEFT RIGHT");
        c.q("RPUSH trimmed 0 1 2 3 4 5 6");
        c.q("LTRIM trimmed 2 -2");
        c.q("RPUSH edited a b a c");
        c.q("LSET edited 1 B");
        c.q("LINSERT edited AFTER c D");
        c.q("LREM edited -1 a");
        c.q("RPUSH mpop q w e r");
        c.q("LMPOP 1 mpop RIGHT COUNT 2");
        c.q("RPUSH gone x");
        c.q("LPOP gone");
        let mut args: Vec<String> = vec!["RPUSH".into(), "big".into()];
        args.extend((0..3000).map(|i| format!("v{i}")));
        c.call(&args);
        c.q("BLPOP big 0");
        c.q("BLMPOP 0 1 big RIGHT COUNT 3");
        dump(&mut c)
    };
    let s2 = restart_with_log(&mut s1);
    let mut c = s2.raw();
    assert_eq!(dump(&mut c), before);
    assert_eq!(c.q("LLEN big"), int(2996));
    assert_eq!(c.q("EXISTS gone"), int(0));
    assert_eq!(c.q("LRANGE edited 0 -1"), bulks(&["a", "B", "c", "D"]));
}
