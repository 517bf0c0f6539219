//! SORT and SORT_RO match Redis 7.0: numeric and ALPHA order, BY/GET patterns (hash
//! fields, `#`, missing keys), BY nosort's native order, LIMIT clamping, STORE (replacing
//! the destination, deleting it when empty), errors, and a stored result surviving a
//! restart from the log. (Found missing by tools/difftest.py.)

mod common;

use common::*;

const SYNTAX: &str = "ERR syntax error";

#[test]
fn sorts_numerically_or_bytewise_with_desc_and_limit() {
    let s = start();
    let mut c = s.raw();
    c.q("RPUSH l 3 1 2 10");
    assert_eq!(c.q("SORT l"), bulks(&["1", "2", "3", "10"]));
    assert_eq!(c.q("SORT l DESC"), bulks(&["10", "3", "2", "1"]));
    assert_eq!(c.q("SORT l ALPHA"), bulks(&["1", "10", "2", "3"]));
    assert_eq!(c.q("SORT l ALPHA DESC"), bulks(&["3", "2", "10", "1"]));
    assert_eq!(c.q("SORT l LIMIT 1 2"), bulks(&["2", "3"]));
    assert_eq!(c.q("SORT l LIMIT -5 2"), bulks(&["1", "2"]));
    assert_eq!(c.q("SORT l LIMIT 2 -1"), bulks(&["3", "10"]));
    assert_eq!(c.q("SORT l LIMIT 9 2"), arr(vec![]));
    assert_eq!(c.q("SORT l LIMIT 0 0"), arr(vec![]));
    assert_eq!(c.q("SORT_RO l DESC LIMIT 0 1"), bulks(&["10"]));
    // Sets and sorted sets sort their members; a missing key is an empty list.
    c.q("SADD s 5 -1 2.5");
    assert_eq!(c.q("SORT s"), bulks(&["-1", "2.5", "5"]));
    c.q("ZADD z 1 b 2 a 3 c");
    assert_eq!(c.q("SORT z ALPHA"), bulks(&["a", "b", "c"]));
    assert_eq!(c.q("SORT nokey"), arr(vec![]));
    // Equal scores are ordered by the elements, empty and spaced numbers parse as strtod.
    c.call(&["RPUSH", "e", "0", "", " 0", "-0"]);
    assert_eq!(c.q("SORT e"), bulks(&["", " 0", "-0", "0"]));
}

#[test]
fn by_and_get_patterns_read_other_keys_and_hash_fields() {
    let s = start();
    let mut c = s.raw();
    c.q("RPUSH l 3 1 2 10");
    c.q("MSET w_1 30 w_2 10 w_3 20 w_10 5");
    c.q("HSET h_1 f a");
    c.q("HSET h_2 f b");
    assert_eq!(c.q("SORT l BY w_*"), bulks(&["10", "2", "3", "1"]));
    assert_eq!(c.q("SORT l BY w_* DESC LIMIT 0 2"), bulks(&["1", "3"]));
    // Missing BY values sort as 0 (numeric) or first (ALPHA); ties keep the list's order.
    assert_eq!(c.q("SORT l BY h_*->f ALPHA"), bulks(&["3", "10", "1", "2"]));
    assert_eq!(
        c.q("SORT l BY nosort GET # GET h_*->f GET w_*"),
        arr(vec![
            bulk("3"),
            nil(),
            bulk("20"),
            bulk("1"),
            bulk("a"),
            bulk("30"),
            bulk("2"),
            bulk("b"),
            bulk("10"),
            bulk("10"),
            nil(),
            bulk("5"),
        ])
    );
    // A GET pattern without '*' (and not '#') names nothing; a hash read as a string is nil.
    assert_eq!(
        c.q("SORT l LIMIT 0 1 GET fixed GET h_*"),
        arr(vec![nil(), nil()])
    );
}

#[test]
fn by_nosort_keeps_the_native_order() {
    let s = start();
    let mut c = s.raw();
    c.q("RPUSH l 3 1 2 10");
    assert_eq!(c.q("SORT l BY nosort"), bulks(&["3", "1", "2", "10"]));
    assert_eq!(c.q("SORT l BY nosort DESC LIMIT 1 2"), bulks(&["2", "1"]));
    c.q("ZADD z 1 c 2 a 3 b");
    assert_eq!(c.q("SORT z BY nosort DESC"), bulks(&["b", "a", "c"]));
    assert_eq!(c.q("SORT z BY nosort LIMIT 1 5"), bulks(&["a", "b"]));
    // A set being stored is sorted bytewise instead of in its internal order.
    c.q("SADD st c a b");
    assert_eq!(c.q("SORT st BY nosort STORE dst"), int(3));
    assert_eq!(c.q("LRANGE dst 0 -1"), bulks(&["a", "b", "c"]));
}

#[test]
fn store_replaces_the_destination_or_deletes_it() {
    let s = start();
    let mut c = s.raw();
    c.q("RPUSH l 3 1 2 10");
    c.q("SET dst old EX 100");
    assert_eq!(c.q("SORT l STORE dst"), int(4));
    assert_eq!(c.q("TYPE dst"), simple("list"));
    assert_eq!(c.q("LRANGE dst 0 -1"), bulks(&["1", "2", "3", "10"]));
    assert_eq!(c.q("TTL dst"), int(-1));
    // Missing GET values are stored as empty strings.
    assert_eq!(
        c.q("SORT l LIMIT 0 2 GET # GET nothing_* STORE dst"),
        int(4)
    );
    assert_eq!(c.q("LRANGE dst 0 -1"), bulks(&["1", "", "2", ""]));
    // An empty result deletes the destination.
    assert_eq!(c.q("SORT missing STORE dst"), int(0));
    assert_eq!(c.q("EXISTS dst"), int(0));
    // Sorting a list into itself.
    assert_eq!(c.q("SORT l DESC STORE l"), int(4));
    assert_eq!(c.q("LRANGE l 0 -1"), bulks(&["10", "3", "2", "1"]));
}

#[test]
fn errors_match_redis() {
    let s = start();
    let mut c = s.raw();
    c.q("RPUSH bad 1 x");
    c.q("SET str v");
    assert_eq!(
        c.q("SORT bad"),
        err("ERR One or more scores can't be converted into double")
    );
    assert_eq!(c.q("SORT bad ALPHA"), bulks(&["1", "x"]));
    assert_eq!(
        c.q("SORT bad LIMIT a 1"),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(c.q("SORT bad LIMIT 1"), err(SYNTAX));
    assert_eq!(c.q("SORT bad STORE"), err(SYNTAX));
    assert_eq!(c.q("SORT bad BOGUS"), err(SYNTAX));
    assert_eq!(c.q("SORT_RO bad STORE dst"), err(SYNTAX));
    assert_eq!(
        c.q("SORT str"),
        err("WRONGTYPE Operation against a key holding the wrong kind of value")
    );
    assert_eq!(
        c.q("SORT"),
        err("ERR wrong number of arguments for 'sort' command")
    );
}

#[test]
fn a_stored_sort_survives_a_restart() {
    let mut s1 = start_with(|c| c.appendonly = true);
    if s1.handle.is_none() {
        return; // needs the in-process server
    }
    {
        let mut c = s1.raw();
        c.q("SADD s 10 9 x8 7");
        c.q("MSET w_10 1 w_9 2 w_x8 3 w_7 4");
        assert_eq!(c.q("SORT s BY w_* DESC GET # GET w_* STORE out"), int(8));
        assert_eq!(c.q("SORT s ALPHA STORE gone"), int(4));
        assert_eq!(c.q("SORT nothing STORE gone"), int(0));
    }
    let s2 = restart_with_log(&mut s1);
    let mut c = s2.raw();
    assert_eq!(
        c.q("LRANGE out 0 -1"),
        bulks(&["7", "4", "x8", "3", "9", "2", "10", "1"])
    );
    assert_eq!(c.q("EXISTS gone"), int(0));
}
