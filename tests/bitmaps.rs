//! Bitmap commands (SETBIT GETBIT BITCOUNT BITPOS BITOP BITFIELD BITFIELD_RO) match Redis
//! 7.0's replies and errors, bit order and range rules included, and survive a restart
//! from the log. (They were missing; tools/difftest.py checks them against Redis.)

mod common;

use common::*;

const SYNTAX: &str = "ERR syntax error";
const NOT_INT: &str = "ERR value is not an integer or out of range";
const BAD_OFFSET: &str = "ERR bit offset is not an integer or out of range";
const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

#[test]
fn setbit_getbit_most_significant_bit_first() {
    let s = start();
    let mut c = s.raw();
    assert_eq!(c.q("SETBIT b 1 1"), int(0));
    assert_eq!(c.q("SETBIT b 7 1"), int(0));
    assert_eq!(c.q("GET b"), bulk("A"));
    assert_eq!(c.q("SETBIT b 7 0"), int(1));
    assert_eq!(c.q("GETBIT b 1"), int(1));
    assert_eq!(c.q("GETBIT b 100"), int(0));
    assert_eq!(c.q("GETBIT nokey 0"), int(0));
    // Growing pads with zero bytes.
    assert_eq!(c.q("SETBIT b 23 1"), int(0));
    assert_eq!(c.q("GET b"), bulk(b"@\x00\x01"));
    // Integers are bit strings of their decimal text.
    c.q("SET n 1");
    assert_eq!(c.q("GETBIT n 2"), int(1));
    assert_eq!(c.q("SETBIT n 6 1"), int(0));
    assert_eq!(c.q("GET n"), bulk("3"));
    assert_eq!(c.q("SETBIT b x 1"), err(BAD_OFFSET));
    assert_eq!(c.q("SETBIT b -1 1"), err(BAD_OFFSET));
    assert_eq!(c.q("SETBIT b 4294967296 1"), err(BAD_OFFSET));
    assert_eq!(
        c.q("SETBIT b 0 2"),
        err("ERR bit is not an integer or out of range")
    );
    assert_eq!(c.q("GETBIT b x"), err(BAD_OFFSET));
    c.q("RPUSH l a");
    assert_eq!(c.q("SETBIT l 0 1"), err(WRONGTYPE));
    assert_eq!(c.q("GETBIT l 0"), err(WRONGTYPE));
}

#[test]
fn bitcount_and_bitpos_ranges() {
    let s = start();
    let mut c = s.raw();
    c.q("SET s foobar");
    assert_eq!(c.q("BITCOUNT s"), int(26));
    assert_eq!(c.q("BITCOUNT s 0 0"), int(4));
    assert_eq!(c.q("BITCOUNT s 1 1"), int(6));
    assert_eq!(c.q("BITCOUNT s 1 1 BYTE"), int(6));
    assert_eq!(c.q("BITCOUNT s 5 30 BIT"), int(17));
    assert_eq!(c.q("BITCOUNT s -2 -1"), int(7));
    assert_eq!(c.q("BITCOUNT s -1 -2 bogus"), int(0));
    assert_eq!(c.q("BITCOUNT s 0 1 bogus"), err(SYNTAX));
    assert_eq!(c.q("BITCOUNT s 0"), err(SYNTAX));
    assert_eq!(c.q("BITCOUNT s x 1"), err(NOT_INT));
    // The key is looked at before the arguments, as in Redis 7.0.
    assert_eq!(c.q("BITCOUNT nokey x y"), int(0));
    c.q("RPUSH l a");
    assert_eq!(c.q("BITCOUNT l x y"), err(WRONGTYPE));

    c.call(&[&b"SET"[..], b"p", b"\xff\xf0\x00"]);
    assert_eq!(c.q("BITPOS p 0"), int(12));
    assert_eq!(c.q("BITPOS p 1 2"), int(-1));
    assert_eq!(c.q("BITPOS p 1 1"), int(8));
    assert_eq!(c.q("BITPOS p 0 7 15 BIT"), int(12));
    assert_eq!(c.q("BITPOS p 1 7 15 BIT"), int(7));
    c.call(&[&b"SET"[..], b"ones", b"\xff\xff"]);
    // Looking for 0 past the end: the string continues with zeros unless an end is given.
    assert_eq!(c.q("BITPOS ones 0"), int(16));
    assert_eq!(c.q("BITPOS ones 0 0 -1"), int(-1));
    assert_eq!(c.q("BITPOS nokey 0"), int(0));
    assert_eq!(c.q("BITPOS nokey 1"), int(-1));
    assert_eq!(
        c.q("BITPOS p 2"),
        err("ERR The bit argument must be 1 or 0.")
    );
    assert_eq!(c.q("BITPOS p 1 0 1 bogus"), err(SYNTAX));
    assert_eq!(c.q("BITPOS l 1"), err(WRONGTYPE));
}

#[test]
fn bitop_combines_and_replaces_the_destination() {
    let s = start();
    let mut c = s.raw();
    c.q("SET a abc");
    c.q("SET b a");
    c.q("SET dst old EX 100");
    assert_eq!(c.q("BITOP AND dst a b"), int(3));
    assert_eq!(c.q("GET dst"), bulk(b"a\x00\x00"));
    assert_eq!(c.q("TTL dst"), int(-1));
    assert_eq!(c.q("BITOP OR dst a b nokey"), int(3));
    assert_eq!(c.q("GET dst"), bulk("abc"));
    assert_eq!(c.q("BITOP XOR dst a b"), int(3));
    assert_eq!(c.q("GET dst"), bulk(b"\x00bc"));
    assert_eq!(c.q("BITOP NOT dst b"), int(1));
    assert_eq!(c.q("GET dst"), bulk(b"\x9e"));
    // All sources empty: the destination is deleted.
    assert_eq!(c.q("BITOP OR dst nokey other"), int(0));
    assert_eq!(c.q("EXISTS dst"), int(0));
    assert_eq!(
        c.q("BITOP NOT dst a b"),
        err("ERR BITOP NOT must be called with a single source key.")
    );
    assert_eq!(c.q("BITOP NAND dst a"), err(SYNTAX));
    c.q("RPUSH l a");
    assert_eq!(c.q("BITOP AND dst a l"), err(WRONGTYPE));
}

#[test]
fn bitfield_get_set_incrby_and_overflow() {
    let s = start();
    let mut c = s.raw();
    assert_eq!(
        c.q("BITFIELD bf SET i8 0 100 GET i8 0 INCRBY u4 #2 3"),
        arr(vec![int(0), int(100), int(3)])
    );
    assert_eq!(c.q("GET bf"), bulk("d0"));
    assert_eq!(
        c.q("BITFIELD bf INCRBY i8 0 100 OVERFLOW SAT INCRBY i8 0 100 OVERFLOW FAIL INCRBY i8 0 1"),
        arr(vec![int(-56), int(44), int(45)])
    );
    assert_eq!(
        c.q("BITFIELD bf OVERFLOW FAIL INCRBY u2 100 5 OVERFLOW SAT SET u8 0 -1 GET u8 0"),
        arr(vec![nil(), int(45), int(255)])
    );
    assert_eq!(
        c.q("BITFIELD bf SET u8 0 300 SET i64 8 -1 GET u63 8 GET i64 8"),
        arr(vec![
            int(255),
            int(0x3000_0000_0000_0000),
            int(i64::MAX),
            int(-1)
        ])
    );
    assert_eq!(c.q("BITFIELD_RO bf GET u8 0"), arr(vec![int(44)]));
    // Redis's overflow check wraps `max - value`, so the most negative SET value
    // saturates upwards for a narrow signed field; replies follow Redis (found by
    // tools/difftest.py).
    assert_eq!(
        c.q("BITFIELD q OVERFLOW SAT SET i8 0 -9223372036854775808 GET i8 0"),
        arr(vec![int(0), int(127)])
    );
    assert_eq!(
        c.q("BITFIELD q OVERFLOW SAT SET i8 0 -200 GET i8 0"),
        arr(vec![int(127), int(-128)])
    );
    assert_eq!(c.q("BITFIELD nokey GET i8 0"), arr(vec![int(0)]));
    assert_eq!(c.q("EXISTS nokey"), int(0));
    assert_eq!(c.q("BITFIELD bf"), arr(vec![]));
    let bad_type =
        "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";
    assert_eq!(c.q("BITFIELD bf GET u64 0"), err(bad_type));
    assert_eq!(c.q("BITFIELD bf GET i65 0"), err(bad_type));
    assert_eq!(c.q("BITFIELD bf GET i8 x"), err(BAD_OFFSET));
    assert_eq!(c.q("BITFIELD bf GET i8 #x"), err(BAD_OFFSET));
    assert_eq!(c.q("BITFIELD bf SET i8 0 x"), err(NOT_INT));
    assert_eq!(c.q("BITFIELD bf GET i8"), err(SYNTAX));
    assert_eq!(
        c.q("BITFIELD bf OVERFLOW bogus"),
        err("ERR Invalid OVERFLOW type specified")
    );
    assert_eq!(
        c.q("BITFIELD_RO bf SET i8 0 1"),
        err("ERR BITFIELD_RO only supports the GET subcommand")
    );
    c.q("RPUSH l a");
    assert_eq!(c.q("BITFIELD l GET i8 0"), err(WRONGTYPE));
    assert_eq!(c.q("BITFIELD l SET i8 0 1"), err(WRONGTYPE));
}

#[test]
fn bitmaps_survive_a_restart() {
    let mut s1 = start_with(|c| c.appendonly = true);
    if s1.handle.is_none() {
        return; // needs the in-process server
    }
    let before = {
        let mut c = s1.raw();
        c.q("SETBIT b 100 1");
        c.q("SETBIT b 3 1");
        c.q("SET x abc");
        c.q("BITOP XOR y x b");
        c.q("BITFIELD f SET u8 0 200 OVERFLOW SAT INCRBY u8 0 100 OVERFLOW WRAP INCRBY i4 8 9");
        ["b", "y", "f"].map(|k| c.call(&["GET", k]))
    };
    let s2 = restart_with_log(&mut s1);
    let mut c = s2.raw();
    assert_eq!(["b", "y", "f"].map(|k| c.call(&["GET", k])), before);
    assert_eq!(c.q("BITCOUNT b"), int(2));
    assert_eq!(
        c.q("BITFIELD f GET u8 0 GET i4 8"),
        arr(vec![int(255), int(-7)])
    );
}
