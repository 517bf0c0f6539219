//! Guards `maxmemory` eviction: allkeys-random keeps memory under the limit and logs each
//! eviction (a restart recovers the same keyspace); volatile-ttl evicts the keys closest to
//! expiring and never a key without a TTL; allkeys-lru / volatile-lru evict the keys idle
//! longest (and volatile-lru never a key without a TTL), allkeys-lfu the keys used least;
//! volatile-* refuse writes with OOM when no key has a TTL; `evicted` is published.

use std::collections::HashSet;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use bytes::Bytes;
use strata::command::Session;
use strata::config::FsyncPolicy;
use strata::engine::Engine;
use strata::persistence::SimFs;
use strata::protocol::Frame;

mod common;
use common::sim::{open, run};

fn ok() -> Frame {
    Frame::Simple("OK".into())
}

fn info_field(e: &mut Engine, s: &mut Session, section: &str, field: &str) -> u64 {
    let (f, _) = run(e, s, &["INFO", section]);
    let text = String::from_utf8(f.as_bytes().unwrap().to_vec()).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in {text}"))
        .trim()
        .parse()
        .unwrap()
}

/// An engine on a simulated disk with `maxmemory` set `headroom` bytes above what it
/// uses now, under `policy`.
fn limited(sim: &SimFs, policy: &str, headroom: u64) -> (Engine, Session) {
    let mut e = open(sim, FsyncPolicy::Everysec, Arc::new(AtomicBool::new(false))).unwrap();
    let mut s = Session::new(1, true);
    assert_eq!(
        run(
            &mut e,
            &mut s,
            &["CONFIG", "SET", "maxmemory-policy", policy]
        )
        .0,
        ok()
    );
    let used = info_field(&mut e, &mut s, "memory", "used_memory");
    let limit = (used + headroom).to_string();
    assert_eq!(
        run(&mut e, &mut s, &["CONFIG", "SET", "maxmemory", &limit]).0,
        ok()
    );
    (e, s)
}

fn value() -> String {
    "v".repeat(100)
}

#[test]
fn allkeys_random_keeps_memory_under_the_limit_and_logs_each_eviction() {
    let sim = SimFs::new(1);
    let (mut e, mut s) = limited(&sim, "allkeys-random", 200_000);
    let limit = e.st.config.maxmemory;
    for i in 0..5000 {
        let (r, _) = run(&mut e, &mut s, &["SET", &format!("k{i}"), &value()]);
        assert_eq!(r, ok(), "write {i} refused");
    }
    let evicted = info_field(&mut e, &mut s, "stats", "evicted_keys");
    let keys = e.st.ks.db(0).len() as u64;
    assert!(evicted > 1000, "only {evicted} evictions");
    assert_eq!(keys + evicted, 5000, "every key is either kept or evicted");
    // Eviction runs before a command: after one more, memory is back under the limit.
    run(&mut e, &mut s, &["PING"]);
    let used = info_field(&mut e, &mut s, "memory", "used_memory");
    assert!(used <= limit, "used {used} > maxmemory {limit}");
    // Evictions are logged as deletions: the log recovers exactly this keyspace.
    let before: Vec<Vec<u8>> = e.st.ks.db(0).iter().map(|x| x.key.to_vec()).collect();
    e.close().unwrap();
    drop(e);
    sim.crash();
    let e = open(
        &sim,
        FsyncPolicy::Everysec,
        Arc::new(AtomicBool::new(false)),
    )
    .unwrap();
    let mut after: Vec<Vec<u8>> = e.st.ks.db(0).iter().map(|x| x.key.to_vec()).collect();
    let mut before = before;
    before.sort();
    after.sort();
    assert_eq!(after, before);
}

#[test]
fn volatile_ttl_evicts_the_keys_closest_to_expiring_and_never_a_key_without_one() {
    let sim = SimFs::new(2);
    let (mut e, mut s) = limited(&sim, "volatile-ttl", 60_000);
    assert_eq!(
        run(
            &mut e,
            &mut s,
            &["CONFIG", "SET", "maxmemory-samples", "64"]
        )
        .0,
        ok()
    );
    // 200 keys expiring 1000 s apart, then plain keys until 50 of them were evicted.
    for i in 1..=200 {
        let ttl = (i * 1000).to_string();
        run(
            &mut e,
            &mut s,
            &["SET", &format!("ttl{i}"), "x", "EX", &ttl],
        );
    }
    let mut plain = 0;
    while info_field(&mut e, &mut s, "stats", "evicted_keys") < 50 {
        let (r, _) = run(&mut e, &mut s, &["SET", &format!("plain{plain}"), &value()]);
        assert_eq!(r, ok());
        plain += 1;
        assert!(plain < 100_000, "nothing was evicted");
    }
    let t = e.st.ks.db(0);
    for i in 0..plain {
        assert!(
            t.get(format!("plain{i}").as_bytes()).is_some(),
            "plain{i} was evicted"
        );
    }
    // Each eviction took the soonest of 64 sampled keys: none of the 80 latest went.
    let gone: Vec<usize> = (1..=200)
        .filter(|i| t.get(format!("ttl{i}").as_bytes()).is_none())
        .collect();
    assert!(gone.len() >= 50);
    assert!(gone.iter().all(|&i| i <= 120), "evicted: {gone:?}");
}

#[test]
fn volatile_policies_refuse_writes_when_no_key_has_a_ttl() {
    for policy in ["volatile-random", "volatile-ttl"] {
        let sim = SimFs::new(3);
        let (mut e, mut s) = limited(&sim, policy, 20_000);
        let mut refused = None;
        for i in 0..2000 {
            let (r, _) = run(&mut e, &mut s, &["SET", &format!("k{i}"), &value()]);
            if r != ok() {
                refused = Some((i, r));
                break;
            }
        }
        let (i, r) = refused.expect("writes are refused once over the limit");
        assert_eq!(
            r,
            Frame::Error("OOM command not allowed when used memory > 'maxmemory'.".into())
        );
        assert_eq!(e.st.ks.db(0).len(), i, "{policy}: nothing was evicted");
        assert_eq!(info_field(&mut e, &mut s, "stats", "evicted_keys"), 0);
        // Reads still work.
        assert_eq!(
            run(&mut e, &mut s, &["GET", "k0"]).0,
            Frame::Bulk(value().into_bytes())
        );
    }
}

#[test]
fn maxmemory_samples_is_bounded() {
    let sim = SimFs::new(4);
    let mut e = open(
        &sim,
        FsyncPolicy::Everysec,
        Arc::new(AtomicBool::new(false)),
    )
    .unwrap();
    let mut s = Session::new(1, true);
    let (r, _) = run(&mut e, &mut s, &["CONFIG", "SET", "maxmemory-samples", "0"]);
    assert_eq!(
        r,
        Frame::Error("ERR CONFIG SET failed (possibly related to argument 'maxmemory-samples') - argument must be between 1 and 64 inclusive".into())
    );
}

/// RESTORE `key` (a 100-byte string) with `opt` (IDLETIME or FREQ) `n`, and `ttl_ms`
/// (0: none).
fn restore(e: &mut Engine, s: &mut Session, key: &str, ttl_ms: u64, opt: &str, n: u64) {
    let (f, _) = run(e, s, &["SET", "__src", &value()]);
    assert_eq!(f, ok());
    let (Frame::Bulk(payload), _) = run(e, s, &["DUMP", "__src"]) else {
        panic!("DUMP")
    };
    run(e, s, &["DEL", "__src"]);
    let mut cmd = vec![
        Bytes::from_static(b"RESTORE"),
        Bytes::copy_from_slice(key.as_bytes()),
        Bytes::from(ttl_ms.to_string()),
        Bytes::from(payload),
        Bytes::copy_from_slice(opt.as_bytes()),
        Bytes::from(n.to_string()),
    ];
    let mut out = strata::protocol::ReplyBuf::new(false);
    e.execute_batch(s, &mut vec![std::mem::take(&mut cmd)], &mut out);
    assert_eq!(out.as_bytes(), b"+OK\r\n", "RESTORE {key}");
}

/// Write fresh keys until at least `n` keys were evicted; returns the keys left in db 0
/// and the evictions so far (any command may evict, INFO too: both are read after the
/// last one).
fn write_until_evicted(e: &mut Engine, s: &mut Session, n: u64) -> (HashSet<String>, u64) {
    let mut i = 0;
    let evicted = loop {
        let evicted = info_field(e, s, "stats", "evicted_keys");
        if evicted >= n {
            break evicted;
        }
        let (r, _) = run(e, s, &["SET", &format!("new{i}"), &value()]);
        assert_eq!(r, ok());
        i += 1;
        assert!(i < 100_000, "nothing was evicted");
    };
    let left =
        e.st.ks
            .db(0)
            .iter()
            .map(|x| String::from_utf8(x.key.to_vec()).unwrap())
            .collect();
    (left, evicted)
}

#[test]
fn allkeys_lru_evicts_the_keys_idle_longest() {
    let sim = SimFs::new(5);
    let (mut e, mut s) = limited(&sim, "allkeys-lru", 150_000);
    run(
        &mut e,
        &mut s,
        &["CONFIG", "SET", "maxmemory-samples", "64"],
    );
    // 400 keys idle 10,000 s and more, 400 idle at most 399 s; fresh keys then written
    // until 100 were evicted.
    for i in 0..400u64 {
        restore(
            &mut e,
            &mut s,
            &format!("old{i}"),
            0,
            "IDLETIME",
            10_000 + i,
        );
        restore(&mut e, &mut s, &format!("hot{i}"), 0, "IDLETIME", i);
    }
    let (left, evicted) = write_until_evicted(&mut e, &mut s, 100);
    let gone: Vec<u64> = (0..400)
        .filter(|i| !left.contains(&format!("old{i}")))
        .collect();
    assert!(
        (0..400).all(|i| left.contains(&format!("hot{i}"))),
        "a recently used key went while older ones stayed"
    );
    assert!(
        left.iter().filter(|k| k.starts_with("new")).count() > 0,
        "fresh keys stay"
    );
    assert_eq!(gone.len() as u64, evicted, "all evictions were old keys");
    // The oldest go first (sampled, so roughly): the evicted ones are the older half.
    let mean = gone.iter().sum::<u64>() / evicted;
    assert!(
        mean > 250,
        "mean index of evicted old keys {mean}: {gone:?}"
    );
}

#[test]
fn allkeys_lfu_evicts_the_keys_used_least() {
    let sim = SimFs::new(6);
    let (mut e, mut s) = limited(&sim, "allkeys-lfu", 150_000);
    run(
        &mut e,
        &mut s,
        &["CONFIG", "SET", "maxmemory-samples", "64"],
    );
    for i in 0..400 {
        restore(&mut e, &mut s, &format!("rare{i}"), 0, "FREQ", 1);
        restore(&mut e, &mut s, &format!("often{i}"), 0, "FREQ", 100);
    }
    // Fresh keys start at 5: only the rarely used keys rank below them.
    let (left, evicted) = write_until_evicted(&mut e, &mut s, 100);
    let rare_left = (0..400)
        .filter(|i| left.contains(&format!("rare{i}")))
        .count() as u64;
    assert_eq!(
        rare_left,
        400 - evicted,
        "every eviction took a key used rarely"
    );
    assert!((0..400).all(|i| left.contains(&format!("often{i}"))));
}

#[test]
fn volatile_lru_evicts_only_keys_with_a_ttl_and_oldest_first() {
    let sim = SimFs::new(7);
    let (mut e, mut s) = limited(&sim, "volatile-lru", 250_000);
    run(
        &mut e,
        &mut s,
        &["CONFIG", "SET", "maxmemory-samples", "64"],
    );
    for i in 0..300u64 {
        // Keys without a TTL are the oldest of all, and stay.
        restore(
            &mut e,
            &mut s,
            &format!("keep{i}"),
            0,
            "IDLETIME",
            50_000 + i,
        );
        restore(
            &mut e,
            &mut s,
            &format!("old{i}"),
            3_600_000,
            "IDLETIME",
            10_000 + i,
        );
        restore(&mut e, &mut s, &format!("hot{i}"), 3_600_000, "IDLETIME", i);
    }
    let (left, evicted) = write_until_evicted(&mut e, &mut s, 50);
    assert!((0..300).all(|i| left.contains(&format!("keep{i}"))));
    assert!((0..300).all(|i| left.contains(&format!("hot{i}"))));
    let old_left = (0..300)
        .filter(|i| left.contains(&format!("old{i}")))
        .count() as u64;
    assert_eq!(old_left, 300 - evicted);
}

#[test]
fn an_eviction_publishes_evicted() {
    if std::env::var("STRATA_TEST_EXTERNAL_PORT").is_ok() {
        return;
    }
    let server = common::start();
    let mut admin = server.raw();
    assert_eq!(
        admin.q("CONFIG SET notify-keyspace-events Ee"),
        common::ok()
    );
    assert_eq!(
        admin.q("CONFIG SET maxmemory-policy allkeys-random"),
        common::ok()
    );
    let mut sub = server.raw();
    sub.q("SUBSCRIBE __keyevent@0__:evicted");
    let Frame::Bulk(info) = admin.q("INFO memory") else {
        panic!("INFO")
    };
    let info = String::from_utf8(info).unwrap();
    let used: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(
        admin.q(&format!("CONFIG SET maxmemory {}", used + 50_000)),
        common::ok()
    );
    let v = value();
    for i in 0..2000 {
        assert_eq!(admin.call(&["SET", &format!("k{i}"), &v]), common::ok());
    }
    let Frame::Array(msg) = sub.read() else {
        panic!("expected a message")
    };
    assert_eq!(msg[0], common::bulk("message"));
    assert_eq!(msg[1], common::bulk("__keyevent@0__:evicted"));
    let Frame::Bulk(key) = &msg[2] else {
        panic!("{msg:?}")
    };
    assert!(key.starts_with(b"k"), "{key:?}");
    assert_eq!(admin.q("CONFIG SET maxmemory 0"), common::ok());
}
