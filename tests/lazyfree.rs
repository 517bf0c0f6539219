//! Guards lazy freeing (Redis's lazyfree): UNLINK, FLUSHALL / FLUSHDB ASYNC and the
//! `lazyfree-lazy-user-del` / `-user-flush` / `-expire` / `-eviction` options unlink at once (the
//! keys are gone for the next command) and count what the background thread frees in
//! INFO memory's `lazyfreed_objects` (values of more than 64 elements, or a database's keys).
//! Passes against redis-server 7.0 too (STRATA_TEST_EXTERNAL_PORT).

mod common;

use common::*;

fn counter(c: &mut Raw, field: &str) -> u64 {
    info_field(c, "memory", field).trim().parse().unwrap()
}

/// `lazyfreed_objects` reaches `want` and stops there. The counter is process-wide: the
/// tests of this binary take [`SERIAL`] so that theirs are the only frees counted.
fn wait_freed(c: &mut Raw, want: u64) {
    let reached = wait_for(10_000, || counter(c, "lazyfreed_objects") >= want);
    assert!(
        reached,
        "lazyfreed_objects {} < {want}",
        counter(c, "lazyfreed_objects")
    );
    assert_eq!(counter(c, "lazyfreed_objects"), want);
    assert_eq!(counter(c, "lazyfree_pending_objects"), 0);
}

static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn big_hash(c: &mut Raw, key: &str, fields: usize) {
    let mut args = vec!["HSET".to_string(), key.to_string()];
    for i in 0..fields {
        args.push(format!("field:{i}"));
        args.push(format!("value:{i}"));
    }
    assert_eq!(c.call(&args), int(fields as i64));
}

#[test]
fn unlink_frees_big_values_in_the_background() {
    let _serial = serial();
    let s = start();
    let mut c = s.raw();
    big_hash(&mut c, "big", 1000);
    assert_eq!(c.q("SET small v"), ok());
    let before = counter(&mut c, "lazyfreed_objects");
    assert_eq!(c.q("UNLINK big small nosuchkey"), int(2));
    assert_eq!(c.q("EXISTS big small"), int(0));
    wait_freed(&mut c, before + 1);
    assert_eq!(counter(&mut c, "lazyfree_pending_objects"), 0);
    // The key can be written again at once.
    big_hash(&mut c, "big", 10);
    assert_eq!(c.q("HLEN big"), int(10));

    // DEL frees in place unless lazyfree-lazy-user-del is on.
    assert_eq!(c.q("CONFIG SET lazyfree-lazy-user-del yes"), ok());
    big_hash(&mut c, "big2", 1000);
    let before = counter(&mut c, "lazyfreed_objects");
    assert_eq!(c.q("DEL big2"), int(1));
    assert_eq!(c.q("EXISTS big2"), int(0));
    wait_freed(&mut c, before + 1);
    assert_eq!(c.q("CONFIG SET lazyfree-lazy-user-del no"), ok());
}

#[test]
fn flush_async_empties_at_once_and_frees_in_the_background() {
    let _serial = serial();
    let s = start();
    let mut c = s.raw();
    for i in 0..500 {
        assert_eq!(c.call(&["SET", &format!("k{i}"), "v"]), ok());
    }
    assert_eq!(c.q("SELECT 1"), ok());
    assert_eq!(c.q("SET other v"), ok());
    let before = counter(&mut c, "lazyfreed_objects");
    assert_eq!(c.q("SELECT 0"), ok());
    assert_eq!(c.q("FLUSHDB ASYNC"), ok());
    assert_eq!(c.q("DBSIZE"), int(0));
    assert_eq!(c.q("GET k1"), nil());
    wait_freed(&mut c, before + 500);
    assert_eq!(c.q("SELECT 1"), ok());
    assert_eq!(
        c.q("GET other"),
        bulk("v"),
        "FLUSHDB leaves other databases"
    );
    // The emptied database takes writes at once.
    assert_eq!(c.q("SELECT 0"), ok());
    assert_eq!(c.q("SET k1 again"), ok());
    assert_eq!(c.q("GET k1"), bulk("again"));

    let before = counter(&mut c, "lazyfreed_objects");
    assert_eq!(c.q("FLUSHALL ASYNC"), ok());
    assert_eq!(c.q("DBSIZE"), int(0));
    assert_eq!(c.q("SELECT 1"), ok());
    assert_eq!(c.q("DBSIZE"), int(0));
    wait_freed(&mut c, before + 2);

    // Without ASYNC / SYNC, lazyfree-lazy-user-flush decides; SYNC always frees in place.
    assert_eq!(c.q("CONFIG SET lazyfree-lazy-user-flush yes"), ok());
    assert_eq!(
        c.q("CONFIG GET lazyfree-lazy-user-flush"),
        bulks(&["lazyfree-lazy-user-flush", "yes"])
    );
    for i in 0..300 {
        assert_eq!(c.call(&["SET", &format!("k{i}"), "v"]), ok());
    }
    let before = counter(&mut c, "lazyfreed_objects");
    assert_eq!(c.q("FLUSHALL"), ok());
    assert_eq!(c.q("DBSIZE"), int(0));
    wait_freed(&mut c, before + 300);
    assert_eq!(c.q("CONFIG SET lazyfree-lazy-user-flush no"), ok());
    assert_eq!(c.q("FLUSHALL SYNC"), ok());
    assert_eq!(c.q("FLUSHALL LAZY"), err("ERR syntax error"));
    assert_eq!(c.q("FLUSHDB ASYNC SYNC"), err("ERR syntax error"));
}

#[test]
fn expired_and_evicted_big_values_are_freed_in_the_background_when_asked() {
    let _serial = serial();
    let s = start();
    let mut c = s.raw();
    assert_eq!(c.q("CONFIG SET lazyfree-lazy-expire yes"), ok());
    // Expired on access.
    big_hash(&mut c, "soon", 1000);
    assert_eq!(c.q("PEXPIRE soon 1"), int(1));
    std::thread::sleep(std::time::Duration::from_millis(20));
    let before = counter(&mut c, "lazyfreed_objects");
    assert_eq!(c.q("EXISTS soon"), int(0));
    wait_freed(&mut c, before + 1);
    // Expired by the active cycle.
    big_hash(&mut c, "later", 1000);
    let before = counter(&mut c, "lazyfreed_objects");
    assert_eq!(c.q("PEXPIRE later 1"), int(1));
    assert!(wait_for(10_000, || c.q("DBSIZE") == int(0)), "not expired");
    wait_freed(&mut c, before + 1);
    assert_eq!(c.q("CONFIG SET lazyfree-lazy-expire no"), ok());

    // Evicted: the only key with a TTL, under volatile-ttl, just above the limit.
    assert_eq!(c.q("CONFIG SET lazyfree-lazy-eviction yes"), ok());
    big_hash(&mut c, "victim", 1000);
    assert_eq!(c.q("EXPIRE victim 100000"), int(1));
    assert_eq!(c.q("CONFIG SET maxmemory-policy volatile-ttl"), ok());
    let used: u64 = info_field(&mut c, "memory", "used_memory")
        .trim()
        .parse()
        .unwrap();
    let before = counter(&mut c, "lazyfreed_objects");
    assert_eq!(
        c.call(&["CONFIG", "SET", "maxmemory", &(used - 1000).to_string()]),
        ok()
    );
    assert_eq!(c.q("SET x y"), ok());
    assert_eq!(c.q("EXISTS victim"), int(0));
    wait_freed(&mut c, before + 1);
    assert_eq!(
        c.q("CONFIG SET maxmemory 0 maxmemory-policy noeviction lazyfree-lazy-eviction no"),
        ok()
    );
}

#[test]
fn values_replaced_by_writes_are_freed_in_the_background_when_asked() {
    let _serial = serial();
    let s = start();
    let mut c = s.raw();
    // By default a replaced value is freed in place: nothing is counted.
    big_hash(&mut c, "h", 1000);
    let before = counter(&mut c, "lazyfreed_objects");
    assert_eq!(c.q("SET h v"), ok());
    assert_eq!(counter(&mut c, "lazyfreed_objects"), before);

    assert_eq!(c.q("CONFIG SET lazyfree-lazy-server-del yes"), ok());
    // SET over a big hash.
    big_hash(&mut c, "h2", 1000);
    let before = counter(&mut c, "lazyfreed_objects");
    assert_eq!(c.q("SET h2 v"), ok());
    assert_eq!(c.q("GET h2"), bulk("v"));
    wait_freed(&mut c, before + 1);
    // RENAME onto a big hash.
    big_hash(&mut c, "target", 1000);
    assert_eq!(c.q("SET src w"), ok());
    assert_eq!(c.q("RENAME src target"), ok());
    assert_eq!(c.q("GET target"), bulk("w"));
    wait_freed(&mut c, before + 2);
    // A small value replaced is freed in place even so.
    assert_eq!(c.q("HSET small f v"), int(1));
    assert_eq!(c.q("SET small v"), ok());
    assert_eq!(counter(&mut c, "lazyfreed_objects"), before + 2);
    assert_eq!(c.q("CONFIG SET lazyfree-lazy-server-del no"), ok());
}
