//! String commands over TCP match Redis 7.0 replies and errors, option parsing included.

mod common;

use common::*;
use strata::protocol::Frame;

const SYNTAX: &str = "ERR syntax error";
const NOT_INT: &str = "ERR value is not an integer or out of range";

#[test]
fn get_set_basics() {
    let s = start();
    let mut c = s.raw();
    assert_eq!(c.q("GET k"), nil());
    assert_eq!(c.q("SET k v"), ok());
    assert_eq!(c.q("GET k"), bulk("v"));
    assert_eq!(c.q("SET k 12345"), ok());
    assert_eq!(c.q("GET k"), bulk("12345"));
    // Binary-safe values, including CR LF and NUL.
    assert_eq!(c.call(&[&b"SET"[..], b"bin", b"a\r\n\0b"]), ok());
    assert_eq!(c.q("GET bin"), bulk(b"a\r\n\0b"));
    assert_eq!(c.call(&["SET", "empty", ""]), ok());
    assert_eq!(c.q("GET empty"), bulk(""));
    assert_eq!(
        c.q("GET"),
        err("ERR wrong number of arguments for 'get' command")
    );
    assert_eq!(
        c.q("SET k"),
        err("ERR wrong number of arguments for 'set' command")
    );
    assert_eq!(
        c.q("GET a b"),
        err("ERR wrong number of arguments for 'get' command")
    );

    // The redis crate sees the same values.
    let mut con = s.conn();
    let v: String = redis::cmd("GET").arg("k").query(&mut con).unwrap();
    assert_eq!(v, "12345");
    let missing: Option<String> = redis::cmd("GET").arg("nope").query(&mut con).unwrap();
    assert_eq!(missing, None);
}

#[test]
fn set_expire_options() {
    let s = start();
    let mut c = s.raw();
    assert_eq!(c.q("SET k v EX 100"), ok());
    assert_eq!(c.q("TTL k"), int(100));
    assert_eq!(c.q("SET k v PX 100000"), ok());
    assert!((99_000..=100_000).contains(&as_int(&c.q("PTTL k"))));
    assert_eq!(c.q("SET k v EXAT 32503680000"), ok());
    assert_eq!(c.q("EXPIRETIME k"), int(32503680000));
    assert_eq!(c.q("SET k v PXAT 32503680000123"), ok());
    assert_eq!(c.q("PEXPIRETIME k"), int(32503680000123));
    // Lower-case options work too.
    assert_eq!(c.q("set k v ex 50"), ok());
    assert_eq!(c.q("TTL k"), int(50));
    // A plain SET clears the TTL; KEEPTTL keeps it.
    assert_eq!(c.q("SET k v2 KEEPTTL"), ok());
    assert_eq!(c.q("TTL k"), int(50));
    assert_eq!(c.q("GET k"), bulk("v2"));
    assert_eq!(c.q("SET k v3"), ok());
    assert_eq!(c.q("TTL k"), int(-1));
    // The same expire option may be repeated: the last one wins.
    assert_eq!(c.q("SET k v EX 10 EX 20"), ok());
    assert_eq!(c.q("TTL k"), int(20));
    assert_eq!(c.q("SET k v KEEPTTL KEEPTTL"), ok());
    assert_eq!(c.q("TTL k"), int(20));
    // An absolute time in the past deletes the key at once.
    assert_eq!(c.q("SET k v PXAT 1"), ok());
    assert_eq!(c.q("EXISTS k"), int(0));
    assert_eq!(c.q("SET k v EXAT 1"), ok());
    assert_eq!(c.q("EXISTS k"), int(0));
}

#[test]
fn set_option_conflicts_and_errors() {
    let s = start();
    let mut c = s.raw();
    for bad in [
        "SET k v NX XX",
        "SET k v XX NX",
        "SET k v EX 10 PX 100",
        "SET k v PX 10 EX 100",
        "SET k v EX 10 EXAT 100",
        "SET k v KEEPTTL EX 10",
        "SET k v EX 10 KEEPTTL",
        "SET k v PXAT 10 KEEPTTL",
        "SET k v EX",
        "SET k v FOO",
        "SET k v PERSIST",
        // A syntax error is reported before a bad number.
        "SET k v EX abc FOO",
    ] {
        assert_eq!(c.q(bad), err(SYNTAX), "{bad}");
    }
    assert_eq!(c.q("SET k v EX abc"), err(NOT_INT));
    assert_eq!(c.q("SET k v PX 1.5"), err(NOT_INT));
    // Only the last repeated value is parsed.
    assert_eq!(c.q("SET k v EX abc EX 10"), ok());
    assert_eq!(c.q("TTL k"), int(10));
    let invalid = err("ERR invalid expire time in 'set' command");
    for bad in [
        "SET k v EX 0",
        "SET k v EX -1",
        "SET k v PX 0",
        "SET k v PX -100",
        "SET k v EXAT 0",
        "SET k v PXAT -5",
        "SET k v EX 9223372036854775807",
        "SET k v EXAT 9223372036854775807",
        "SET k v PX 9223372036854775807",
        "SET k v EX 9999999999999999",
    ] {
        assert_eq!(c.q(bad), invalid, "{bad}");
    }
    // Nothing was written by the failed commands.
    assert_eq!(c.q("GET k"), bulk("v"));
    assert_eq!(c.q("TTL k"), int(10));
}

#[test]
fn set_nx_xx_get() {
    let s = start();
    let mut c = s.raw();
    assert_eq!(c.q("SET k v XX"), nil());
    assert_eq!(c.q("EXISTS k"), int(0));
    assert_eq!(c.q("SET k v NX"), ok());
    assert_eq!(c.q("SET k w NX"), nil());
    assert_eq!(c.q("GET k"), bulk("v"));
    assert_eq!(c.q("SET k w XX"), ok());
    assert_eq!(c.q("GET k"), bulk("w"));
    // Repeating NX or XX is fine.
    assert_eq!(c.q("SET k x XX XX"), ok());
    assert_eq!(c.q("SET n x NX NX"), ok());
    // GET returns the old value (nil when absent) instead of OK.
    assert_eq!(c.q("SET k y GET"), bulk("x"));
    assert_eq!(c.q("SET new y GET"), nil());
    assert_eq!(c.q("GET new"), bulk("y"));
    assert_eq!(c.q("SET k z GET GET"), bulk("y"));
    // With NX/XX, GET replies the old value whether or not the set happened.
    assert_eq!(c.q("SET k never NX GET"), bulk("z"));
    assert_eq!(c.q("GET k"), bulk("z"));
    assert_eq!(c.q("SET absent v XX GET"), nil());
    assert_eq!(c.q("EXISTS absent"), int(0));
    assert_eq!(c.q("SET other v NX GET"), nil());
    assert_eq!(c.q("GET other"), bulk("v"));
    assert_eq!(c.q("SET k v GET EX 100"), bulk("z"));
    assert_eq!(c.q("TTL k"), int(100));
    assert_eq!(
        c.q("SET k v GET EX 0"),
        err("ERR invalid expire time in 'set' command")
    );
}

#[test]
fn setnx_setex_psetex() {
    let s = start();
    let mut c = s.raw();
    assert_eq!(c.q("SETNX k v"), int(1));
    assert_eq!(c.q("SETNX k w"), int(0));
    assert_eq!(c.q("GET k"), bulk("v"));
    assert_eq!(c.q("SETEX k 100 x"), ok());
    assert_eq!(c.q("GET k"), bulk("x"));
    assert_eq!(c.q("TTL k"), int(100));
    assert_eq!(c.q("PSETEX p 100000 y"), ok());
    assert!((99_000..=100_000).contains(&as_int(&c.q("PTTL p"))));
    assert_eq!(
        c.q("SETEX k 0 v"),
        err("ERR invalid expire time in 'setex' command")
    );
    assert_eq!(
        c.q("SETEX k -5 v"),
        err("ERR invalid expire time in 'setex' command")
    );
    assert_eq!(
        c.q("SETEX k 9223372036854775807 v"),
        err("ERR invalid expire time in 'setex' command")
    );
    assert_eq!(
        c.q("PSETEX k 0 v"),
        err("ERR invalid expire time in 'psetex' command")
    );
    assert_eq!(c.q("SETEX k abc v"), err(NOT_INT));
    assert_eq!(
        c.q("SETEX k 10"),
        err("ERR wrong number of arguments for 'setex' command")
    );
    assert_eq!(c.q("GET k"), bulk("x"));
}

#[test]
fn getset_getdel() {
    let s = start();
    let mut c = s.raw();
    assert_eq!(c.q("GETSET k v"), nil());
    assert_eq!(c.q("GETSET k w"), bulk("v"));
    assert_eq!(c.q("GET k"), bulk("w"));
    // GETSET drops the TTL.
    assert_eq!(c.q("EXPIRE k 100"), int(1));
    assert_eq!(c.q("GETSET k x"), bulk("w"));
    assert_eq!(c.q("TTL k"), int(-1));
    assert_eq!(c.q("GETDEL k"), bulk("x"));
    assert_eq!(c.q("GETDEL k"), nil());
    assert_eq!(c.q("EXISTS k"), int(0));
}

#[test]
fn getex_options() {
    let s = start();
    let mut c = s.raw();
    assert_eq!(c.q("GETEX k"), nil());
    assert_eq!(c.q("GETEX k EX 10"), nil());
    // A bad time on a missing key is still just nil, as in Redis.
    assert_eq!(c.q("GETEX k EX 0"), nil());
    assert_eq!(c.q("EXISTS k"), int(0));
    assert_eq!(c.q("SET k v"), ok());
    assert_eq!(c.q("GETEX k"), bulk("v"));
    assert_eq!(c.q("TTL k"), int(-1));
    assert_eq!(c.q("GETEX k EX 100"), bulk("v"));
    assert_eq!(c.q("TTL k"), int(100));
    assert_eq!(c.q("GETEX k PX 50000"), bulk("v"));
    assert!((49_000..=50_000).contains(&as_int(&c.q("PTTL k"))));
    assert_eq!(c.q("GETEX k EXAT 32503680000"), bulk("v"));
    assert_eq!(c.q("EXPIRETIME k"), int(32503680000));
    assert_eq!(c.q("GETEX k PXAT 32503680000999"), bulk("v"));
    assert_eq!(c.q("PEXPIRETIME k"), int(32503680000999));
    assert_eq!(c.q("GETEX k PERSIST"), bulk("v"));
    assert_eq!(c.q("TTL k"), int(-1));
    assert_eq!(c.q("GETEX k EX 10 EX 20"), bulk("v"));
    assert_eq!(c.q("TTL k"), int(20));
    assert_eq!(c.q("GETEX k PERSIST PERSIST"), bulk("v"));
    assert_eq!(c.q("TTL k"), int(-1));
    for bad in [
        "GETEX k EX 10 PERSIST",
        "GETEX k PERSIST EX 10",
        "GETEX k EX 10 PX 10",
        "GETEX k KEEPTTL",
        "GETEX k NX",
        "GETEX k GET",
        "GETEX k EX",
        "GETEX k FOO",
        "GETEX k EX abc FOO",
    ] {
        assert_eq!(c.q(bad), err(SYNTAX), "{bad}");
    }
    assert_eq!(c.q("GETEX k EX abc"), err(NOT_INT));
    let invalid = err("ERR invalid expire time in 'getex' command");
    for bad in [
        "GETEX k EX 0",
        "GETEX k PX -1",
        "GETEX k EXAT 0",
        "GETEX k EX 9223372036854775807",
    ] {
        assert_eq!(c.q(bad), invalid, "{bad}");
    }
    assert_eq!(c.q("TTL k"), int(-1));
    // An absolute time in the past returns the value and deletes the key.
    assert_eq!(c.q("GETEX k PXAT 1"), bulk("v"));
    assert_eq!(c.q("EXISTS k"), int(0));
}

#[test]
fn mget_mset_msetnx() {
    let s = start();
    let mut c = s.raw();
    assert_eq!(c.q("MSET a 1 b 2 c 3"), ok());
    assert_eq!(
        c.q("MGET a nope b c"),
        arr(vec![bulk("1"), nil(), bulk("2"), bulk("3")])
    );
    // The last of repeated keys wins.
    assert_eq!(c.q("MSET d 1 d 2"), ok());
    assert_eq!(c.q("GET d"), bulk("2"));
    assert_eq!(
        c.q("MSET a 1 b"),
        err("ERR wrong number of arguments for 'mset' command")
    );
    assert_eq!(
        c.q("MSET a"),
        err("ERR wrong number of arguments for 'mset' command")
    );
    assert_eq!(c.q("MSETNX x 1 a 9"), int(0));
    assert_eq!(c.q("EXISTS x"), int(0));
    assert_eq!(c.q("GET a"), bulk("1"));
    assert_eq!(c.q("MSETNX x 1 y 2"), int(1));
    assert_eq!(c.q("MGET x y"), bulks(&["1", "2"]));
    assert_eq!(c.q("MSETNX z 1 z 2"), int(1));
    assert_eq!(c.q("GET z"), bulk("2"));
    assert_eq!(
        c.q("MSETNX q 1 r"),
        err("ERR wrong number of arguments for 'msetnx' command")
    );
    // MSET clears TTLs.
    assert_eq!(c.q("EXPIRE a 100"), int(1));
    assert_eq!(c.q("MSET a 5"), ok());
    assert_eq!(c.q("TTL a"), int(-1));
}

#[test]
fn append_strlen() {
    let s = start();
    let mut c = s.raw();
    assert_eq!(c.q("APPEND k hello"), int(5));
    assert_eq!(c.call(&["APPEND", "k", " world"]), int(11));
    assert_eq!(c.q("GET k"), bulk("hello world"));
    assert_eq!(c.q("STRLEN k"), int(11));
    assert_eq!(c.q("STRLEN nope"), int(0));
    // Integer-encoded values behave as their decimal text.
    assert_eq!(c.q("SET n 12345"), ok());
    assert_eq!(c.q("STRLEN n"), int(5));
    assert_eq!(c.q("APPEND n 6"), int(6));
    assert_eq!(c.q("GET n"), bulk("123456"));
    assert_eq!(c.q("INCR n"), int(123457));
    assert_eq!(c.q("SET m -7"), ok());
    assert_eq!(c.q("STRLEN m"), int(2));
    // APPEND keeps the TTL.
    assert_eq!(c.q("EXPIRE k 100"), int(1));
    assert_eq!(c.q("APPEND k !"), int(12));
    assert_eq!(c.q("TTL k"), int(100));
    assert_eq!(c.call(&["APPEND", "k", ""]), int(12));
}

#[test]
fn getrange_indexes() {
    let s = start();
    let mut c = s.raw();
    assert_eq!(c.q("SET k hello_world"), ok());
    let cases: &[(&str, &str)] = &[
        ("0 4", "hello"),
        ("0 -1", "hello_world"),
        ("-5 -1", "world"),
        ("-1 -1", "d"),
        ("-1 -5", ""),
        ("5 1", ""),
        ("-100 100", "hello_world"),
        ("-100 2", "hel"),
        ("100 200", ""),
        ("6 100", "world"),
        ("0 0", "h"),
        ("10 10", "d"),
        ("11 11", ""),
        ("3 -3", "lo_wor"),
    ];
    for (range, want) in cases {
        assert_eq!(
            c.q(&format!("GETRANGE k {range}")),
            bulk(want),
            "GETRANGE k {range}"
        );
    }
    assert_eq!(c.q("SUBSTR k 0 2"), bulk("hel"));
    assert_eq!(c.q("GETRANGE nope 0 -1"), bulk(""));
    assert_eq!(c.call(&["SET", "e", ""]), ok());
    assert_eq!(c.q("GETRANGE e 0 -1"), bulk(""));
    assert_eq!(c.q("GETRANGE e -1 -1"), bulk(""));
    assert_eq!(c.q("SET n 12345"), ok());
    assert_eq!(c.q("GETRANGE n 1 -2"), bulk("234"));
    assert_eq!(c.q("GETRANGE k a 1"), err(NOT_INT));
    assert_eq!(c.q("GETRANGE k 0 99999999999999999999"), err(NOT_INT));
}

#[test]
fn setrange_padding_and_errors() {
    let s = start();
    let mut c = s.raw();
    assert_eq!(c.q("SETRANGE k 5 hi"), int(7));
    assert_eq!(c.q("GET k"), bulk(b"\0\0\0\0\0hi"));
    assert_eq!(c.q("SETRANGE k 0 abc"), int(7));
    assert_eq!(c.q("GET k"), bulk(b"abc\0\0hi"));
    assert_eq!(c.q("SETRANGE k 6 xyz"), int(9));
    assert_eq!(c.q("GET k"), bulk(b"abc\0\0hxyz"));
    // Empty patches change nothing and create nothing.
    assert_eq!(c.call(&["SETRANGE", "k", "100", ""]), int(9));
    assert_eq!(c.call(&["SETRANGE", "nope", "10", ""]), int(0));
    assert_eq!(c.q("EXISTS nope"), int(0));
    assert_eq!(c.q("SET n 12345"), ok());
    assert_eq!(c.q("SETRANGE n 1 9"), int(5));
    assert_eq!(c.q("GET n"), bulk("19345"));
    assert_eq!(c.q("SETRANGE k -1 x"), err("ERR offset is out of range"));
    assert_eq!(c.q("SETRANGE k abc x"), err(NOT_INT));
    // 512 MB is the most a string may grow to (proto-max-bulk-len).
    assert_eq!(
        c.q("SETRANGE k 536870912 x"),
        err("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
    );
    assert_eq!(c.q("GET k"), bulk(b"abc\0\0hxyz"));
    // SETRANGE keeps the TTL.
    assert_eq!(c.q("EXPIRE k 100"), int(1));
    assert_eq!(c.q("SETRANGE k 0 A"), int(9));
    assert_eq!(c.q("TTL k"), int(100));
}

#[test]
fn counters() {
    let s = start();
    let mut c = s.raw();
    assert_eq!(c.q("INCR n"), int(1));
    assert_eq!(c.q("INCR n"), int(2));
    assert_eq!(c.q("DECR n"), int(1));
    assert_eq!(c.q("INCRBY n 10"), int(11));
    assert_eq!(c.q("INCRBY n -20"), int(-9));
    assert_eq!(c.q("DECRBY n 3"), int(-12));
    assert_eq!(c.q("DECRBY n -2"), int(-10));
    assert_eq!(c.q("DECR fresh"), int(-1));
    assert_eq!(c.q("GET n"), bulk("-10"));
    assert_eq!(c.q("SET s 41"), ok());
    assert_eq!(c.q("INCR s"), int(42));
    // Counters keep the TTL.
    assert_eq!(c.q("EXPIRE s 100"), int(1));
    assert_eq!(c.q("INCR s"), int(43));
    assert_eq!(c.q("TTL s"), int(100));

    for (setup, cmd) in [
        ("SET x abc", "INCR x"),
        ("SET x 1.5", "INCR x"),
        ("SET x 01", "INCR x"),
        ("SET x +1", "INCR x"),
        ("SET x 99999999999999999999", "INCR x"),
        ("SET x 1", "INCRBY x abc"),
        ("SET x 1", "INCRBY x 1.5"),
        ("SET x 1", "INCRBY x 99999999999999999999"),
        ("SET x 1", "DECRBY x 1x"),
    ] {
        assert_eq!(c.q(setup), ok());
        assert_eq!(c.q(cmd), err(NOT_INT), "{setup}; {cmd}");
    }
    assert_eq!(c.call(&["SET", "x", " 1"]), ok());
    assert_eq!(c.q("INCR x"), err(NOT_INT));

    let overflow = err("ERR increment or decrement would overflow");
    assert_eq!(c.q("SET big 9223372036854775807"), ok());
    assert_eq!(c.q("INCR big"), overflow);
    assert_eq!(c.q("INCRBY big 1"), overflow);
    assert_eq!(c.q("GET big"), bulk("9223372036854775807"));
    assert_eq!(c.q("SET small -9223372036854775808"), ok());
    assert_eq!(c.q("DECR small"), overflow);
    assert_eq!(c.q("DECRBY small 1"), overflow);
    assert_eq!(c.q("INCRBY small -1"), overflow);
    assert_eq!(c.q("SET z 0"), ok());
    assert_eq!(
        c.q("DECRBY z -9223372036854775808"),
        err("ERR decrement would overflow")
    );
    assert_eq!(c.q("INCRBY z -9223372036854775808"), int(i64::MIN));
    assert_eq!(
        c.q("INCR"),
        err("ERR wrong number of arguments for 'incr' command")
    );
}

#[test]
fn incrbyfloat_format_and_errors() {
    let s = start();
    let mut c = s.raw();
    assert_eq!(c.q("INCRBYFLOAT f 10.5"), bulk("10.5"));
    assert_eq!(c.q("INCRBYFLOAT f 0.1"), bulk("10.6"));
    assert_eq!(c.q("INCRBYFLOAT f -10.6"), bulk("0"));
    assert_eq!(c.q("INCRBYFLOAT g 5.0e3"), bulk("5000"));
    assert_eq!(c.q("INCRBYFLOAT g 2.0e2"), bulk("5200"));
    assert_eq!(c.q("INCRBYFLOAT g -5200"), bulk("0"));
    assert_eq!(c.q("INCRBYFLOAT h 3.0e-10"), bulk("0.0000000003"));
    assert_eq!(c.q("INCRBYFLOAT i 1e20"), bulk("100000000000000000000"));
    assert_eq!(c.q("INCRBYFLOAT j .5"), bulk("0.5"));
    assert_eq!(c.q("INCRBYFLOAT j 1."), bulk("1.5"));
    assert_eq!(c.q("INCRBYFLOAT z -0"), bulk("0"));
    assert_eq!(c.q("SET n 10"), ok());
    assert_eq!(c.q("INCRBYFLOAT n 1"), bulk("11"));
    // The result is a string value: INCR works on it only while it is integral.
    assert_eq!(c.q("INCR n"), int(12));
    assert_eq!(c.q("INCRBYFLOAT n 0.5"), bulk("12.5"));
    assert_eq!(c.q("INCR n"), err(NOT_INT));
    // INCRBYFLOAT keeps the TTL.
    assert_eq!(c.q("EXPIRE n 100"), int(1));
    assert_eq!(c.q("INCRBYFLOAT n 1"), bulk("13.5"));
    assert_eq!(c.q("TTL n"), int(100));

    let not_float = err("ERR value is not a valid float");
    assert_eq!(c.q("INCRBYFLOAT n abc"), not_float);
    assert_eq!(c.q("INCRBYFLOAT n nan"), not_float);
    assert_eq!(c.call(&["INCRBYFLOAT", "n", " 1"]), not_float);
    assert_eq!(c.call(&["INCRBYFLOAT", "n", ""]), not_float);
    assert_eq!(c.q("SET s hello"), ok());
    assert_eq!(c.q("INCRBYFLOAT s 1"), not_float);
    assert_eq!(
        c.q("INCRBYFLOAT n inf"),
        err("ERR increment would produce NaN or Infinity")
    );
    assert_eq!(
        c.q("INCRBYFLOAT n -inf"),
        err("ERR increment would produce NaN or Infinity")
    );
    assert_eq!(c.q("GET n"), bulk("13.5"));
}

#[test]
fn replies_through_redis_crate() {
    let s = start();
    let mut con = s.conn();
    let _: () = redis::cmd("MSET")
        .arg("a")
        .arg(1)
        .arg("b")
        .arg("two")
        .query(&mut con)
        .unwrap();
    let v: Vec<Option<String>> = redis::cmd("MGET")
        .arg("a")
        .arg("b")
        .arg("c")
        .query(&mut con)
        .unwrap();
    assert_eq!(v, vec![Some("1".into()), Some("two".into()), None]);
    let n: i64 = redis::cmd("INCRBY")
        .arg("a")
        .arg(41)
        .query(&mut con)
        .unwrap();
    assert_eq!(n, 42);
    let f: f64 = redis::cmd("INCRBYFLOAT")
        .arg("a")
        .arg(0.5)
        .query(&mut con)
        .unwrap();
    assert_eq!(f, 42.5);
    let e = redis::cmd("INCR")
        .arg("b")
        .query::<i64>(&mut con)
        .unwrap_err();
    assert_eq!(e.code(), Some("ERR"));
    assert_eq!(e.detail(), Some("value is not an integer or out of range"));
    // A nil reply to SET NX is an Option::None, not an error.
    let r: Option<String> = redis::cmd("SET")
        .arg("a")
        .arg("x")
        .arg("NX")
        .query(&mut con)
        .unwrap();
    assert_eq!(r, None);
    // Raw replies look exactly like Redis's.
    let mut c = s.raw();
    assert_eq!(c.q("GET a"), Frame::Bulk(b"42.5".to_vec()));
}

#[test]
fn lcs_string_len_and_idx_as_redis() {
    let s = start();
    let mut c = s.raw();
    c.q("MSET key1 ohmytext key2 mynewtext");
    assert_eq!(c.q("LCS key1 key2"), bulk("mytext"));
    assert_eq!(c.q("LCS key1 key2 LEN"), int(6));
    let range = |a: i64, b: i64, x: i64, y: i64| {
        arr(vec![arr(vec![int(a), int(b)]), arr(vec![int(x), int(y)])])
    };
    assert_eq!(
        c.q("LCS key1 key2 IDX"),
        arr(vec![
            bulk("matches"),
            arr(vec![range(4, 7, 5, 8), range(2, 3, 0, 1)]),
            bulk("len"),
            int(6),
        ])
    );
    let with_len = |a: i64, b: i64, x: i64, y: i64, n: i64| {
        arr(vec![
            arr(vec![int(a), int(b)]),
            arr(vec![int(x), int(y)]),
            int(n),
        ])
    };
    assert_eq!(
        c.q("LCS key1 key2 IDX MINMATCHLEN 4 WITHMATCHLEN"),
        arr(vec![
            bulk("matches"),
            arr(vec![with_len(4, 7, 5, 8, 4)]),
            bulk("len"),
            int(6),
        ])
    );
    // A missing key is an empty string; a non-string is refused.
    assert_eq!(c.q("LCS key1 nokey"), bulk(""));
    c.q("RPUSH l a");
    assert_eq!(
        c.q("LCS key1 l"),
        err("ERR The specified keys must contain string values")
    );
    assert_eq!(
        c.q("LCS key1 key2 LEN IDX"),
        err("ERR If you want both the length and indexes, please just use IDX.")
    );
    assert_eq!(c.q("LCS key1 key2 MINMATCHLEN x"), err(NOT_INT));
    assert_eq!(c.q("LCS key1 key2 MINMATCHLEN"), err(SYNTAX));
    assert_eq!(c.q("LCS key1 key2 BOGUS"), err(SYNTAX));
    // Integers are compared as their decimal text.
    c.q("MSET n1 12345 n2 2945");
    assert_eq!(c.q("LCS n1 n2"), bulk("245"));
}

#[test]
fn incrbyfloat_uses_long_double_and_checks_the_type_first() {
    let s = start();
    let mut c = s.raw();
    c.q("SET f 0.1");
    // In f64 this would be 0.30000000000000004; Redis computes in long double.
    assert_eq!(c.q("INCRBYFLOAT f 0.2"), bulk("0.3"));
    assert_eq!(c.q("INCRBYFLOAT f 5000"), bulk("5000.29999999999999982"));
    c.q("SET big 9223372036854775807");
    assert_eq!(c.q("INCRBYFLOAT big 1"), bulk("9223372036854775808"));
    c.q("RPUSH l a");
    // The key's type is checked before the increment is parsed.
    assert_eq!(
        c.q("INCRBYFLOAT l x"),
        err("WRONGTYPE Operation against a key holding the wrong kind of value")
    );
    assert_eq!(
        c.q("INCRBYFLOAT f nan"),
        err("ERR value is not a valid float")
    );
    assert_eq!(
        c.q("INCRBYFLOAT f inf"),
        err("ERR increment would produce NaN or Infinity")
    );
    c.q("SET s abc");
    assert_eq!(
        c.q("INCRBYFLOAT s x"),
        err("ERR value is not a valid float")
    );
}
