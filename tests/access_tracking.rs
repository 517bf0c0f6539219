//! Guards the per-key access field behind OBJECT IDLETIME / FREQ, as Redis 7.0 keeps it:
//! reads and writes (RENAME too) reset the idle time while EXISTS, TYPE, the TTL family and OBJECT do
//! not; RESTORE IDLETIME / FREQ set it under the policy that reads it; FREQ and IDLETIME
//! refuse under the other policy; a new key's LFU counter is 5 and its first read makes
//! it 6; lfu-log-factor / lfu-decay-time take what Redis takes. Passes against
//! redis-server 7.0 too (STRATA_TEST_EXTERNAL_PORT).

mod common;

use std::thread::sleep;
use std::time::Duration;

use common::*;
use strata::protocol::Frame;

fn idle(c: &mut Raw, key: &str) -> i64 {
    as_int(&c.call(&["OBJECT", "IDLETIME", key]))
}

#[test]
fn idle_time_counts_from_the_last_read_or_write_only() {
    let s = start();
    let mut c = s.raw();
    assert_eq!(c.q("SET k v"), ok());
    sleep(Duration::from_millis(2100));
    assert!(idle(&mut c, "k") >= 2, "idle {}", idle(&mut c, "k"));
    // Redis's LOOKUP_NOTOUCH commands leave the access time alone.
    for cmd in [
        "EXISTS k",
        "TYPE k",
        "TTL k",
        "PTTL k",
        "EXPIRETIME k",
        "OBJECT ENCODING k",
        "DEBUG OBJECT k",
    ] {
        c.q(cmd);
        assert!(idle(&mut c, "k") >= 2, "{cmd} counted as an access");
    }
    assert_eq!(c.q("GET k"), bulk("v"));
    assert_eq!(idle(&mut c, "k"), 0, "a read is an access");
    sleep(Duration::from_millis(1100));
    assert!(idle(&mut c, "k") >= 1);
    assert_eq!(c.q("APPEND k w"), int(2));
    assert_eq!(idle(&mut c, "k"), 0, "a write is an access");
    // RENAME looks its source up for writing (an access) and moves it.
    sleep(Duration::from_millis(1100));
    assert_eq!(c.q("RENAME k k2"), ok());
    assert_eq!(idle(&mut c, "k2"), 0);
}

#[test]
fn restore_sets_idle_time_or_frequency_by_policy() {
    let s = start();
    let mut c = s.raw();
    assert_eq!(c.q("SET src v"), ok());
    let Frame::Bulk(payload) = c.q("DUMP src") else {
        panic!("DUMP")
    };
    let restore = |c: &mut Raw, key: &str, opt: &str, n: &str| {
        c.call(&[
            b"RESTORE".as_slice(),
            key.as_bytes(),
            b"0",
            &payload,
            opt.as_bytes(),
            n.as_bytes(),
        ])
    };
    assert_eq!(restore(&mut c, "a", "IDLETIME", "1000"), ok());
    let a = idle(&mut c, "a");
    assert!((1000..=1001).contains(&a), "idle {a}");
    assert_eq!(
        c.q("OBJECT FREQ a"),
        err("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")
    );

    assert_eq!(c.q("CONFIG SET maxmemory-policy allkeys-lfu"), ok());
    assert_eq!(
        c.q("OBJECT IDLETIME a"),
        err("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")
    );
    assert_eq!(restore(&mut c, "b", "FREQ", "100"), ok());
    assert_eq!(c.q("OBJECT FREQ b"), int(100));
    // IDLETIME means nothing to LFU: the key starts with a new key's counter.
    assert_eq!(restore(&mut c, "c", "IDLETIME", "50"), ok());
    assert_eq!(c.q("OBJECT FREQ c"), int(5));
    // Up to 5 every access counts; OBJECT itself is not one.
    assert_eq!(c.q("SET n v"), ok());
    assert_eq!(c.q("OBJECT FREQ n"), int(5));
    assert_eq!(c.q("GET n"), bulk("v"));
    assert_eq!(c.q("OBJECT FREQ n"), int(6));
    assert_eq!(c.q("OBJECT FREQ n"), int(6));
    assert_eq!(c.q("OBJECT FREQ nosuchkey"), Frame::NullBulk);
    assert_eq!(c.q("CONFIG SET maxmemory-policy noeviction"), ok());
}

#[test]
fn lfu_settings_round_trip_and_refuse_bad_values() {
    let s = start();
    let mut c = s.raw();
    for name in ["lfu-log-factor", "lfu-decay-time"] {
        assert_eq!(c.call(&["CONFIG", "SET", name, "0"]), ok());
        assert_eq!(c.call(&["CONFIG", "GET", name]), bulks(&[name, "0"]));
        for (bad, why) in [
            ("-1", "argument must be between 0 and 2147483647 inclusive"),
            (
                "2147483648",
                "argument must be between 0 and 2147483647 inclusive",
            ),
            ("ten", "argument couldn't be parsed into an integer"),
        ] {
            assert_eq!(
                c.call(&["CONFIG", "SET", name, bad]),
                err(&format!(
                    "ERR CONFIG SET failed (possibly related to argument '{name}') - {why}"
                ))
            );
        }
    }
    assert_eq!(c.q("CONFIG SET lfu-log-factor 10 lfu-decay-time 1"), ok());
    assert_eq!(
        c.q("CONFIG SET maxmemory-policy allkeys-least"),
        err("ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction")
    );
}
