//! Guards the per-key access field behind OBJECT IDLETIME / FREQ, as Redis 7.0 keeps it:
//! reads and writes (RENAME too) reset the idle time while EXISTS, TYPE, the TTL family and OBJECT do
//! not; RESTORE IDLETIME / FREQ set it under the policy that reads it; FREQ and IDLETIME
//! refuse under the other policy; a new key's LFU counter is 5 and its first read makes
//! it 6; each command counts as many accesses as in Redis; lfu-log-factor /
//! lfu-decay-time take what Redis takes; snapshots keep idle times and counters under
//! LRU and LFU policies (as Redis's RDB), and a restart loads them. Passes against
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
    let restore = restore_with;
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

/// Each command records as many accesses to its key as Redis 7.0.15 does (counted on
/// redis-server: with the LFU counter restored to 0, each access below 5 adds exactly
/// one). Catches a command that looks its key up twice, or not at all.
#[test]
fn each_command_records_as_many_accesses_as_in_redis() {
    let s = start();
    let mut c = s.raw();
    // No decay: a minute turning between a command and OBJECT FREQ would take one off.
    assert_eq!(
        c.q("CONFIG SET maxmemory-policy allkeys-lfu lfu-decay-time 0"),
        ok()
    );
    let setups = [
        ("str", "SET k 10"),
        ("list", "RPUSH k a b c"),
        ("hash", "HSET k f 1 g 2"),
        ("set", "SADD k a b c"),
        ("zset", "ZADD k 1 a 2 b"),
    ];
    // (type of k, command, accesses recorded)
    let cases = [
        ("str", "GET k", 1),
        ("str", "INCR k", 1),
        ("str", "INCRBY k 2", 1),
        ("str", "APPEND k x", 1),
        ("str", "SETRANGE k 1 y", 1),
        ("str", "GETRANGE k 0 1", 1),
        ("str", "STRLEN k", 1),
        ("str", "SET k v", 1),
        ("str", "SET k v GET", 2),
        ("str", "GETSET k v", 2),
        ("str", "MGET k k", 2),
        ("str", "EXPIRE k 100", 1),
        ("str", "PERSIST k", 1),
        ("str", "TOUCH k", 1),
        ("str", "GETEX k", 1),
        ("str", "SETNX k v", 1),
        ("str", "INCRBYFLOAT k 1.5", 1),
        ("str", "DUMP k", 1),
        ("str", "COPY k k2", 1),
        ("list", "LPUSH k x", 1),
        ("list", "RPUSHX k x", 1),
        ("list", "LPOP k", 1),
        ("list", "LRANGE k 0 -1", 1),
        ("list", "LLEN k", 1),
        ("list", "LINDEX k 0", 1),
        ("list", "LSET k 0 z", 1),
        ("list", "LREM k 1 a", 1),
        ("list", "LTRIM k 0 1", 1),
        ("list", "LMOVE k k LEFT RIGHT", 2),
        ("list", "BLPOP k 1", 1),
        ("hash", "HGET k f", 1),
        ("hash", "HSET k h 3", 1),
        ("hash", "HINCRBY k f 1", 1),
        ("hash", "HDEL k f", 1),
        ("hash", "HGETALL k", 1),
        ("hash", "HLEN k", 1),
        ("hash", "HEXISTS k f", 1),
        ("set", "SADD k d", 1),
        ("set", "SREM k a", 1),
        ("set", "SISMEMBER k a", 1),
        ("set", "SMEMBERS k", 1),
        ("set", "SCARD k", 1),
        ("set", "SPOP k", 1),
        ("set", "SINTER k k", 2),
        ("set", "SUNIONSTORE k k", 2),
        ("zset", "ZADD k 3 c", 1),
        ("zset", "ZINCRBY k 1 a", 1),
        ("zset", "ZSCORE k a", 1),
        ("zset", "ZRANGE k 0 -1", 1),
        ("zset", "ZREM k a", 1),
        ("zset", "ZCARD k", 1),
        ("zset", "ZPOPMIN k", 1),
        ("str", "SETBIT k 3 1", 1),
        ("str", "GETBIT k 3", 1),
        ("str", "BITCOUNT k", 1),
        ("str", "BITOP AND k k k", 3),
        ("str", "BITFIELD k GET u8 0", 1),
        ("str", "LCS k k", 2),
        ("set", "SMOVE k k a", 2),
        ("zset", "ZUNIONSTORE k 1 k", 2),
        ("zset", "ZRANGESTORE k k 0 -1", 2),
        ("list", "LPUSHX k y", 1),
        ("hash", "HSETNX k q 1", 1),
        ("hash", "HRANDFIELD k", 1),
        ("set", "SRANDMEMBER k", 1),
        ("zset", "ZRANDMEMBER k", 1),
        ("str", "EXISTS k", 0),
        ("str", "TYPE k", 0),
        ("str", "TTL k", 0),
        ("str", "OBJECT ENCODING k", 0),
        ("str", "SORT k", 1),
        ("list", "SORT k ALPHA", 1),
    ];
    let mut wrong = Vec::new();
    for (ty, cmd, want) in cases {
        c.q("DEL k k2");
        let setup = setups.iter().find(|(t, _)| *t == ty).unwrap().1;
        c.q(setup);
        let Frame::Bulk(payload) = c.q("DUMP k") else {
            panic!("DUMP")
        };
        let restored = c.call(&[
            b"RESTORE".as_slice(),
            b"k",
            b"0",
            &payload,
            b"REPLACE",
            b"FREQ",
            b"0",
        ]);
        assert_eq!(restored, ok());
        c.q(cmd);
        let got = as_int(&c.q("OBJECT FREQ k"));
        if got != want {
            wrong.push(format!("{cmd}: {got} accesses, Redis {want}"));
        }
    }
    assert_eq!(
        c.q("CONFIG SET maxmemory-policy noeviction lfu-decay-time 1"),
        ok()
    );
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// `RESTORE key 0 <DUMP of a string> opt n`.
fn restore_with(c: &mut Raw, key: &str, opt: &str, n: &str) -> Frame {
    c.q("SET dump-src v");
    let Frame::Bulk(payload) = c.q("DUMP dump-src") else {
        panic!("DUMP")
    };
    c.call(&[
        b"RESTORE".as_slice(),
        key.as_bytes(),
        b"0",
        &payload,
        opt.as_bytes(),
        n.as_bytes(),
    ])
}

#[test]
fn snapshots_keep_idle_times_and_counters_under_lru_and_lfu_policies() {
    // As Redis's RDB: kept under an LRU or LFU policy (DEBUG RELOAD saves and loads the
    // snapshot), not under noeviction.
    let s = start_with(|cfg| cfg.enable_debug_command = "yes".into());
    let mut c = s.raw();
    assert_eq!(c.q("CONFIG SET maxmemory-policy allkeys-lru"), ok());
    assert_eq!(restore_with(&mut c, "old", "IDLETIME", "5000"), ok());
    assert_eq!(c.q("SET new v"), ok());
    assert_eq!(c.q("DEBUG RELOAD"), ok());
    let old = idle(&mut c, "old");
    assert!((5000..=5005).contains(&old), "idle {old} after a reload");
    assert!(idle(&mut c, "new") <= 5);

    assert_eq!(
        c.q("CONFIG SET maxmemory-policy allkeys-lfu lfu-decay-time 0"),
        ok()
    );
    assert_eq!(restore_with(&mut c, "hot", "FREQ", "100"), ok());
    assert_eq!(restore_with(&mut c, "cold", "FREQ", "1"), ok());
    assert_eq!(c.q("DEBUG RELOAD"), ok());
    assert_eq!(c.q("OBJECT FREQ hot"), int(100));
    assert_eq!(c.q("OBJECT FREQ cold"), int(1));

    assert_eq!(
        c.q("CONFIG SET maxmemory-policy noeviction lfu-decay-time 1"),
        ok()
    );
    assert_eq!(restore_with(&mut c, "idle", "IDLETIME", "5000"), ok());
    assert_eq!(c.q("DEBUG RELOAD"), ok());
    assert!(idle(&mut c, "idle") <= 5, "kept under noeviction");
}

#[test]
fn a_restart_after_a_log_rewrite_keeps_idle_times() {
    if std::env::var("STRATA_TEST_EXTERNAL_PORT").is_ok() {
        return; // restarts an in-process server
    }
    let mut s = start_with(|c| {
        c.appendonly = true;
        c.maxmemory_policy = "allkeys-lru".into();
    });
    let mut c = s.raw();
    assert_eq!(restore_with(&mut c, "old", "IDLETIME", "7000"), ok());
    assert_eq!(
        c.q("BGREWRITEAOF"),
        Frame::Simple("Background append only file rewriting started".into())
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let in_progress = |c: &mut Raw| match c.q("INFO persistence") {
        Frame::Bulk(b) => !String::from_utf8_lossy(&b).contains("aof_rewrite_in_progress:0"),
        other => panic!("INFO: {other:?}"),
    };
    while in_progress(&mut c) {
        assert!(std::time::Instant::now() < deadline, "rewrite did not end");
        sleep(Duration::from_millis(20));
    }
    // Written after the rewrite: replayed from the new log, so just used.
    assert_eq!(c.q("SET later v"), ok());
    drop(c);
    let s2 = restart_with_log(&mut s);
    let mut c = s2.raw();
    let old = idle(&mut c, "old");
    assert!((7000..=7005).contains(&old), "idle {old} after the restart");
    assert!(idle(&mut c, "later") <= 5);
}
