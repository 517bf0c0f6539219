//! PFADD, PFCOUNT and PFMERGE give Redis 7.0's estimates and store Redis's exact bytes
//! (sparse, dense, the cached cardinality), refuse non-HLL strings and corrupt ones with
//! Redis's errors, and survive a restart from the log. (They were missing;
//! tools/difftest.py compares them with Redis byte for byte.)

mod common;

use common::*;
use strata::protocol::Frame;

const NOT_HLL: &str = "WRONGTYPE Key is not a valid HyperLogLog string value.";

fn pfadd_range(c: &mut Raw, key: &str, range: std::ops::Range<u32>) -> Frame {
    let mut args = vec!["PFADD".to_string(), key.to_string()];
    args.extend(range.map(|i| format!("e{i}")));
    c.call(&args)
}

#[test]
fn sparse_bytes_and_the_cached_count_match_redis() {
    let s = start();
    let mut c = s.raw();
    assert_eq!(c.q("PFADD h a b c"), int(1));
    assert_eq!(c.q("PFADD h a"), int(0));
    // Header with a stale cache (top bit of its last byte), then the sparse opcodes,
    // exactly as Redis 7.0.15 stores "a b c".
    let header = b"HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80";
    let body = b"\x60\xf3\x80\x50\xb1\x84\x4b\xfb\x80\x42\x5a";
    assert_eq!(c.q("GET h"), bulk([&header[..], &body[..]].concat()));
    assert_eq!(c.q("PFCOUNT h"), int(3));
    // PFCOUNT cached 3 in the header.
    let cached = b"HYLL\x01\x00\x00\x00\x03\x00\x00\x00\x00\x00\x00\x00";
    assert_eq!(c.q("GET h"), bulk([&cached[..], &body[..]].concat()));
    // PFADD without elements creates an empty HLL (cache marked stale), counting 0.
    assert_eq!(c.q("PFADD empty"), int(1));
    assert_eq!(c.q("STRLEN empty"), int(18));
    assert_eq!(c.q("PFCOUNT empty"), int(0));
    assert_eq!(c.q("PFCOUNT nokey"), int(0));
}

#[test]
fn estimates_and_dense_promotion_match_redis() {
    let s = start();
    let mut c = s.raw();
    assert_eq!(pfadd_range(&mut c, "big", 0..1000), int(1));
    assert_eq!(c.q("PFCOUNT big"), int(1008));
    assert_eq!(c.q("STRLEN big"), int(1906));
    assert_eq!(pfadd_range(&mut c, "big2", 500..100_500), int(1));
    assert_eq!(c.q("PFCOUNT big2"), int(100_923));
    assert_eq!(c.q("STRLEN big2"), int(12304), "dense");
    assert_eq!(c.q("PFCOUNT big big2"), int(101_335));
    assert_eq!(c.q("PFMERGE m big big2"), ok());
    assert_eq!(c.q("PFCOUNT m"), int(101_335));
    assert_eq!(c.q("STRLEN m"), int(12304));
    // Merging sparse HLLs only keeps the destination sparse.
    assert_eq!(c.q("PFMERGE m2 big nokey"), ok());
    assert_eq!(c.q("GET m2"), {
        let mut v = as_bytes(c.q("GET big"));
        v[15] |= 0x80;
        v[8..15].fill(0);
        bulk(v)
    });
}

fn as_bytes(f: Frame) -> Vec<u8> {
    match f {
        Frame::Bulk(b) => b.to_vec(),
        other => panic!("expected a bulk string, got {other:?}"),
    }
}

#[test]
fn refuses_non_hll_and_corrupt_strings() {
    let s = start();
    let mut c = s.raw();
    c.q("SET s abc");
    c.q("SET i 123");
    c.q("RPUSH l a");
    assert_eq!(c.q("PFADD s a"), err(NOT_HLL));
    assert_eq!(c.q("PFADD i a"), err(NOT_HLL));
    assert_eq!(c.q("PFCOUNT s"), err(NOT_HLL));
    assert_eq!(c.q("PFMERGE d s"), err(NOT_HLL));
    assert_eq!(
        c.q("PFADD l a"),
        err("WRONGTYPE Operation against a key holding the wrong kind of value")
    );
    // A sparse HLL whose runs cover one register too few.
    c.call(&[
        &b"SET"[..],
        b"bad",
        b"HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x7f\xfe",
    ]);
    let corrupt = "INVALIDOBJ Corrupted HLL object detected";
    assert_eq!(c.q("PFCOUNT bad"), err(corrupt));
    assert_eq!(c.q("PFCOUNT bad i"), err(corrupt));
    assert_eq!(c.q("PFMERGE d bad"), err(corrupt));
    // A dense HLL must have the exact dense size.
    c.call(&[
        &b"SET"[..],
        b"short",
        b"HYLL\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x00",
    ]);
    assert_eq!(c.q("PFADD short x"), err(NOT_HLL));
    assert_eq!(
        c.q("PFCOUNT"),
        err("ERR wrong number of arguments for 'pfcount' command")
    );
}

#[test]
fn hlls_survive_a_restart() {
    let mut s1 = start_with(|c| c.appendonly = true);
    if s1.handle.is_none() {
        return; // needs the in-process server
    }
    let before = {
        let mut c = s1.raw();
        pfadd_range(&mut c, "a", 0..300);
        pfadd_range(&mut c, "b", 0..20_000);
        c.q("PFCOUNT a");
        c.q("PFMERGE m a b");
        // A sparse HLL covering only 100 registers: e70 (register 55) is added, zz
        // (register 2778) finds the damage. The partial change must be in the log too.
        c.call(&[
            &b"SET"[..],
            b"bad",
            b"HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x40\x63",
        ]);
        assert_eq!(
            c.q("PFADD bad e70 zz e169"),
            err("INVALIDOBJ Corrupted HLL object detected")
        );
        ["a", "b", "m", "bad"].map(|k| c.call(&["GET", k]))
    };
    let s2 = restart_with_log(&mut s1);
    let mut c = s2.raw();
    assert_eq!(["a", "b", "m", "bad"].map(|k| c.call(&["GET", k])), before);
}
