//! Generic key commands and expiry (lazy and active) over TCP match Redis 7.0.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::*;
use strata::protocol::Frame;

const SYNTAX: &str = "ERR syntax error";
const NOT_INT: &str = "ERR value is not an integer or out of range";

#[test]
fn del_unlink_exists_type() {
    let s = start();
    let mut c = s.raw();
    assert_eq!(c.q("MSET a 1 b 2 c 3"), ok());
    assert_eq!(c.q("EXISTS a a a b nope"), int(4));
    assert_eq!(c.q("EXISTS nope"), int(0));
    assert_eq!(c.q("DEL a b nope"), int(2));
    assert_eq!(c.q("DEL a"), int(0));
    // A key named twice is deleted once.
    assert_eq!(c.q("DEL c c"), int(1));
    assert_eq!(c.q("MSET a 1 b 2"), ok());
    assert_eq!(c.q("UNLINK a b nope"), int(2));
    assert_eq!(c.q("EXISTS a b"), int(0));
    assert_eq!(c.q("SET k v"), ok());
    assert_eq!(c.q("TYPE k"), simple("string"));
    assert_eq!(c.q("SET n 12"), ok());
    assert_eq!(c.q("TYPE n"), simple("string"));
    assert_eq!(c.q("TYPE nope"), simple("none"));
    assert_eq!(
        c.q("DEL"),
        err("ERR wrong number of arguments for 'del' command")
    );
    assert_eq!(
        c.q("EXISTS"),
        err("ERR wrong number of arguments for 'exists' command")
    );
    assert_eq!(
        c.q("TYPE a b"),
        err("ERR wrong number of arguments for 'type' command")
    );
}

#[test]
fn rename_renamenx() {
    let s = start();
    let mut c = s.raw();
    assert_eq!(c.q("SET a 1"), ok());
    assert_eq!(c.q("EXPIRE a 100"), int(1));
    assert_eq!(c.q("RENAME a b"), ok());
    assert_eq!(c.q("EXISTS a"), int(0));
    assert_eq!(c.q("GET b"), bulk("1"));
    // The TTL travels with the value.
    assert_eq!(c.q("TTL b"), int(100));
    assert_eq!(c.q("RENAME nope x"), err("ERR no such key"));
    assert_eq!(c.q("RENAME nope nope"), err("ERR no such key"));
    assert_eq!(c.q("RENAME b b"), ok());
    assert_eq!(c.q("GET b"), bulk("1"));
    // RENAME overwrites the destination, dropping its TTL in favour of the source's.
    assert_eq!(c.q("SET dst old EX 500"), ok());
    assert_eq!(c.q("SET src new"), ok());
    assert_eq!(c.q("RENAME src dst"), ok());
    assert_eq!(c.q("GET dst"), bulk("new"));
    assert_eq!(c.q("TTL dst"), int(-1));

    assert_eq!(c.q("SET x 1"), ok());
    assert_eq!(c.q("RENAMENX b x"), int(0));
    assert_eq!(c.q("GET b"), bulk("1"));
    assert_eq!(c.q("RENAMENX b y"), int(1));
    assert_eq!(c.q("GET y"), bulk("1"));
    assert_eq!(c.q("EXISTS b"), int(0));
    assert_eq!(c.q("RENAMENX y y"), int(0));
    assert_eq!(c.q("RENAMENX nope z"), err("ERR no such key"));
    assert_eq!(
        c.q("RENAME a"),
        err("ERR wrong number of arguments for 'rename' command")
    );
}

#[test]
fn keys_glob_patterns() {
    let s = start();
    let mut c = s.raw();
    let names = [
        "hello", "hallo", "hxllo", "hllo", "heeeello", "hillo", "h*llo", "a[b", "H-llo",
    ];
    for n in names {
        assert_eq!(c.call(&["SET", n, "1"]), ok());
    }
    let cases: &[(&str, &[&str])] = &[
        ("h?llo", &["h*llo", "hallo", "hello", "hillo", "hxllo"]),
        (
            "h*llo",
            &[
                "h*llo", "hallo", "heeeello", "hello", "hillo", "hllo", "hxllo",
            ],
        ),
        ("h[ae]llo", &["hallo", "hello"]),
        ("h[^e]llo", &["h*llo", "hallo", "hillo", "hxllo"]),
        ("h[a-e]llo", &["hallo", "hello"]),
        ("h[e-a]llo", &["hallo", "hello"]),
        ("h\\*llo", &["h*llo"]),
        ("a\\[b", &["a[b"]),
        ("H*", &["H-llo"]),
        (
            "h*",
            &[
                "h*llo", "hallo", "heeeello", "hello", "hillo", "hllo", "hxllo",
            ],
        ),
        (
            "*o",
            &[
                "H-llo", "h*llo", "hallo", "heeeello", "hello", "hillo", "hllo", "hxllo",
            ],
        ),
        ("hello", &["hello"]),
        ("nomatch*", &[]),
        ("", &[]),
    ];
    for (pattern, want) in cases {
        let got = sorted_texts(c.call(&["KEYS", pattern]));
        assert_eq!(got, *want, "KEYS {pattern}");
    }
    assert_eq!(sorted_texts(c.q("KEYS *")).len(), names.len());
    // Expired keys are not listed.
    assert_eq!(c.q("SET gone v PXAT 1"), ok());
    assert_eq!(c.q("SET gone2 v PX 1"), ok());
    std::thread::sleep(Duration::from_millis(5));
    assert_eq!(c.q("KEYS gone*"), arr(vec![]));
}

/// Run a full SCAN iteration with extra arguments; returns the keys seen (with repeats).
fn scan_all(c: &mut Raw, extra: &[&str]) -> Vec<String> {
    let mut cursor = "0".to_string();
    let mut out = Vec::new();
    let mut rounds = 0;
    loop {
        let mut args = vec!["SCAN", cursor.as_str()];
        args.extend_from_slice(extra);
        let mut reply = as_array(c.call(&args));
        assert_eq!(reply.len(), 2);
        let keys = reply.pop().unwrap();
        cursor = as_text(&reply[0]);
        out.extend(as_array(keys).iter().map(as_text));
        rounds += 1;
        assert!(rounds < 100_000, "SCAN does not terminate");
        if cursor == "0" {
            return out;
        }
    }
}

#[test]
fn scan_full_iteration_5000_keys() {
    let s = start();
    let mut c = s.raw();
    let mut want = HashSet::new();
    for chunk in (0..5000).collect::<Vec<_>>().chunks(500) {
        let mut args = vec!["MSET".to_string()];
        for i in chunk {
            args.push(format!("key:{i}"));
            args.push(i.to_string());
            want.insert(format!("key:{i}"));
        }
        assert_eq!(c.call(&args), ok());
    }
    assert_eq!(c.q("DBSIZE"), int(5000));
    for extra in [
        &[][..],
        &["COUNT", "1"][..],
        &["COUNT", "100"][..],
        &["COUNT", "100000"][..],
    ] {
        let got = scan_all(&mut c, extra);
        let set: HashSet<String> = got.iter().cloned().collect();
        assert_eq!(set, want, "SCAN {extra:?}");
    }
    // MATCH filters; COUNT is only a hint so partial pages are fine.
    let got: HashSet<String> = scan_all(&mut c, &["MATCH", "key:12*", "COUNT", "50"])
        .into_iter()
        .collect();
    let expect: HashSet<String> = want
        .iter()
        .filter(|k| k.starts_with("key:12"))
        .cloned()
        .collect();
    assert_eq!(got, expect);
    assert_eq!(expect.len(), 111);
    // TYPE filters by value type; an unknown type matches nothing.
    assert_eq!(
        scan_all(&mut c, &["TYPE", "string", "COUNT", "1000"])
            .into_iter()
            .collect::<HashSet<_>>(),
        want
    );
    assert_eq!(
        scan_all(&mut c, &["TYPE", "list", "COUNT", "1000"]),
        Vec::<String>::new()
    );
    assert_eq!(
        scan_all(&mut c, &["TYPE", "nosuchtype", "COUNT", "1000"]),
        Vec::<String>::new()
    );

    // Keys present for the whole iteration are returned even while others are added
    // and removed between calls.
    let mut cursor = "0".to_string();
    let mut seen = HashSet::new();
    let mut round = 0;
    loop {
        let mut reply = as_array(c.call(&["SCAN", cursor.as_str(), "COUNT", "97"]));
        let keys = reply.pop().unwrap();
        cursor = as_text(&reply[0]);
        seen.extend(as_array(keys).iter().map(as_text));
        assert_eq!(c.call(&["SET", &format!("extra:{round}"), "x"]), ok());
        if round > 0 {
            assert_eq!(c.call(&["DEL", &format!("extra:{}", round - 1)]), int(1));
        }
        round += 1;
        if cursor == "0" {
            break;
        }
    }
    assert!(
        want.is_subset(&seen),
        "{} keys missed",
        want.difference(&seen).count()
    );
}

#[test]
fn scan_arguments() {
    let s = start();
    let mut c = s.raw();
    assert_eq!(c.q("MSET a 1 b 2 c 3"), ok());
    let mut r = as_array(c.q("SCAN 0 COUNT 100"));
    assert_eq!(sorted_texts(r.pop().unwrap()), ["a", "b", "c"]);
    assert_eq!(r, vec![bulk("0")]);
    assert_eq!(
        c.q("SCAN 0 MATCH b COUNT 100"),
        arr(vec![bulk("0"), bulks(&["b"])])
    );
    assert_eq!(c.q("SCAN abc"), err("ERR invalid cursor"));
    assert_eq!(c.q("SCAN 1.5"), err("ERR invalid cursor"));
    assert_eq!(c.q("SCAN 18446744073709551616"), err("ERR invalid cursor"));
    assert_eq!(c.q("SCAN 0 COUNT 0"), err(SYNTAX));
    assert_eq!(c.q("SCAN 0 COUNT -1"), err(SYNTAX));
    assert_eq!(c.q("SCAN 0 COUNT abc"), err(NOT_INT));
    assert_eq!(c.q("SCAN 0 MATCH"), err(SYNTAX));
    assert_eq!(c.q("SCAN 0 FOO bar"), err(SYNTAX));
    // Any cursor is accepted; one past the end finishes at once.
    let r = as_array(c.q("SCAN 18446744073709551615"));
    assert_eq!(r.len(), 2);
    let r = as_array(c.q("SCAN -1"));
    assert_eq!(r.len(), 2);
    assert_eq!(c.q("FLUSHDB"), ok());
    assert_eq!(c.q("SCAN 0"), arr(vec![bulk("0"), arr(vec![])]));
}

#[test]
fn randomkey_touch() {
    let s = start();
    let mut c = s.raw();
    assert_eq!(c.q("RANDOMKEY"), nil());
    assert_eq!(c.q("MSET a 1 b 2"), ok());
    let mut seen = HashSet::new();
    for _ in 0..100 {
        seen.insert(as_text(&c.q("RANDOMKEY")));
    }
    assert_eq!(seen, HashSet::from(["a".to_string(), "b".to_string()]));
    // Expired keys are never returned.
    assert_eq!(c.q("FLUSHDB"), ok());
    assert_eq!(c.q("SET x 1 PX 1"), ok());
    std::thread::sleep(Duration::from_millis(5));
    assert_eq!(c.q("RANDOMKEY"), nil());
    assert_eq!(c.q("MSET a 1 b 2"), ok());
    assert_eq!(c.q("TOUCH a b nope a"), int(3));
    assert_eq!(c.q("TOUCH nope"), int(0));
    assert_eq!(
        c.q("RANDOMKEY x"),
        err("ERR wrong number of arguments for 'randomkey' command")
    );
}

#[test]
fn copy_between_keys_and_dbs() {
    let s = start();
    let mut c = s.raw();
    assert_eq!(c.q("SET src hello EX 100"), ok());
    assert_eq!(c.q("COPY src dst"), int(1));
    assert_eq!(c.q("GET dst"), bulk("hello"));
    assert_eq!(c.q("TTL dst"), int(100));
    assert_eq!(c.q("SET src changed"), ok());
    assert_eq!(c.q("GET dst"), bulk("hello"));
    assert_eq!(c.q("COPY src dst"), int(0));
    assert_eq!(c.q("GET dst"), bulk("hello"));
    assert_eq!(c.q("COPY src dst REPLACE"), int(1));
    assert_eq!(c.q("GET dst"), bulk("changed"));
    assert_eq!(c.q("TTL dst"), int(-1));
    assert_eq!(c.q("COPY nope dst"), int(0));
    assert_eq!(c.q("COPY nope dst REPLACE"), int(0));
    assert_eq!(c.q("COPY src dst DB 3"), int(1));
    assert_eq!(c.q("COPY src dst DB 3"), int(0));
    assert_eq!(c.q("COPY src src DB 3"), int(1));
    assert_eq!(c.q("SELECT 3"), ok());
    assert_eq!(c.q("MGET dst src"), bulks(&["changed", "changed"]));
    assert_eq!(c.q("SELECT 0"), ok());
    let same = err("ERR source and destination objects are the same");
    assert_eq!(c.q("COPY src src"), same);
    assert_eq!(c.q("COPY src src DB 0"), same);
    assert_eq!(c.q("COPY src src REPLACE"), same);
    assert_eq!(c.q("COPY src x DB 16"), err("ERR DB index is out of range"));
    assert_eq!(c.q("COPY src x DB -1"), err("ERR DB index is out of range"));
    assert_eq!(c.q("COPY src x DB abc"), err(NOT_INT));
    assert_eq!(c.q("COPY src x DB"), err(SYNTAX));
    assert_eq!(c.q("COPY src x FOO"), err(SYNTAX));
    assert_eq!(
        c.q("COPY src"),
        err("ERR wrong number of arguments for 'copy' command")
    );
}

#[test]
fn move_between_dbs() {
    let s = start();
    let mut c = s.raw();
    assert_eq!(c.q("SET k v EX 100"), ok());
    assert_eq!(c.q("MOVE k 1"), int(1));
    assert_eq!(c.q("EXISTS k"), int(0));
    assert_eq!(c.q("MOVE k 1"), int(0));
    assert_eq!(c.q("SET k other"), ok());
    // The destination already has the key: nothing moves.
    assert_eq!(c.q("MOVE k 1"), int(0));
    assert_eq!(c.q("GET k"), bulk("other"));
    assert_eq!(
        c.q("MOVE k 0"),
        err("ERR source and destination objects are the same")
    );
    assert_eq!(c.q("MOVE k 16"), err("ERR DB index is out of range"));
    assert_eq!(c.q("MOVE k -1"), err("ERR DB index is out of range"));
    assert_eq!(c.q("MOVE k abc"), err(NOT_INT));
    assert_eq!(c.q("SELECT 1"), ok());
    assert_eq!(c.q("GET k"), bulk("v"));
    assert_eq!(c.q("TTL k"), int(100));
}

#[test]
fn expire_family() {
    let s = start();
    let mut c = s.raw();
    assert_eq!(c.q("EXPIRE nope 100"), int(0));
    assert_eq!(c.q("SET k v"), ok());
    assert_eq!(c.q("EXPIRE k 100"), int(1));
    assert_eq!(c.q("TTL k"), int(100));
    assert_eq!(c.q("PEXPIRE k 200000"), int(1));
    assert_eq!(c.q("TTL k"), int(200));
    assert_eq!(c.q("EXPIREAT k 32503680000"), int(1));
    assert_eq!(c.q("EXPIRETIME k"), int(32503680000));
    assert_eq!(c.q("PEXPIRETIME k"), int(32503680000000));
    assert_eq!(c.q("PEXPIREAT k 32503680000555"), int(1));
    assert_eq!(c.q("PEXPIRETIME k"), int(32503680000555));
    // EXPIRETIME rounds to the nearest second, like TTL.
    assert_eq!(c.q("EXPIRETIME k"), int(32503680001));
    assert_eq!(c.q("PEXPIREAT k 32503680000499"), int(1));
    assert_eq!(c.q("EXPIRETIME k"), int(32503680000));
    assert_eq!(c.q("PERSIST k"), int(1));
    assert_eq!(c.q("PERSIST k"), int(0));
    assert_eq!(c.q("PERSIST nope"), int(0));
    assert_eq!(c.q("TTL k"), int(-1));
    assert_eq!(c.q("PTTL k"), int(-1));
    assert_eq!(c.q("EXPIRETIME k"), int(-1));
    assert_eq!(c.q("PEXPIRETIME k"), int(-1));
    assert_eq!(c.q("TTL nope"), int(-2));
    assert_eq!(c.q("PTTL nope"), int(-2));
    assert_eq!(c.q("EXPIRETIME nope"), int(-2));
    assert_eq!(c.q("PEXPIRETIME nope"), int(-2));

    // NX XX GT LT. A key without a TTL counts as an infinite TTL for GT/LT.
    assert_eq!(c.q("EXPIRE k 100 XX"), int(0));
    assert_eq!(c.q("EXPIRE k 100 GT"), int(0));
    assert_eq!(c.q("TTL k"), int(-1));
    assert_eq!(c.q("EXPIRE k 100 LT"), int(1));
    assert_eq!(c.q("TTL k"), int(100));
    assert_eq!(c.q("EXPIRE k 50 NX"), int(0));
    assert_eq!(c.q("EXPIRE k 200 XX"), int(1));
    assert_eq!(c.q("EXPIRE k 50 GT"), int(0));
    assert_eq!(c.q("EXPIRE k 300 GT"), int(1));
    assert_eq!(c.q("EXPIRE k 400 LT"), int(0));
    assert_eq!(c.q("EXPIRE k 100 LT"), int(1));
    assert_eq!(c.q("TTL k"), int(100));
    // GT compares absolute times: an equal TTL a millisecond later would be greater, so
    // the "not greater" case uses a clearly smaller one.
    assert_eq!(c.q("EXPIRE k 90 xx gt"), int(0));
    assert_eq!(c.q("EXPIRE k 150 XX GT"), int(1));
    assert_eq!(c.q("PERSIST k"), int(1));
    assert_eq!(c.q("EXPIRE k 100 NX"), int(1));
    assert_eq!(c.q("EXPIRE k 100 NX NX"), int(0));
    assert_eq!(c.q("PEXPIRE k 1000000 GT"), int(1));
    assert_eq!(c.q("TTL k"), int(1000));
    assert_eq!(c.q("PEXPIREAT k 32503680000000 LT"), int(0));
    assert_eq!(c.q("EXPIREAT k 32503680000 GT"), int(1));

    assert_eq!(
        c.q("EXPIRE k 100 NX XX"),
        err("ERR NX and XX, GT or LT options at the same time are not compatible")
    );
    assert_eq!(
        c.q("EXPIRE k 100 NX GT"),
        err("ERR NX and XX, GT or LT options at the same time are not compatible")
    );
    assert_eq!(
        c.q("EXPIRE k 100 GT LT"),
        err("ERR GT and LT options at the same time are not compatible")
    );
    assert_eq!(c.q("EXPIRE k 100 foo"), err("ERR Unsupported option foo"));
    // Options are checked before the time, as Redis does.
    assert_eq!(
        c.q("EXPIRE k x NX XX"),
        err("ERR NX and XX, GT or LT options at the same time are not compatible")
    );
    assert_eq!(c.q("EXPIRE k x foo"), err("ERR Unsupported option foo"));
    assert_eq!(c.q("PEXPIRE k 100 Bar"), err("ERR Unsupported option Bar"));
    assert_eq!(c.q("EXPIRE k abc"), err(NOT_INT));
    assert_eq!(c.q("EXPIRE k 1.5"), err(NOT_INT));
    assert_eq!(
        c.q("EXPIRE k"),
        err("ERR wrong number of arguments for 'expire' command")
    );
    for (cmd, name) in [
        ("EXPIRE k 9223372036854775807", "expire"),
        ("EXPIRE k -9223372036854775808", "expire"),
        ("EXPIREAT k 9223372036854775807", "expireat"),
        ("PEXPIRE k 9223372036854775807", "pexpire"),
    ] {
        assert_eq!(
            c.q(cmd),
            err(&format!("ERR invalid expire time in '{name}' command")),
            "{cmd}"
        );
    }
    assert_eq!(c.q("EXPIRETIME k"), int(32503680000));

    // A time in the past deletes the key; with XX/GT/LT on a suitable key too.
    assert_eq!(c.q("EXPIRE k -1"), int(1));
    assert_eq!(c.q("EXISTS k"), int(0));
    assert_eq!(c.q("SET k v"), ok());
    assert_eq!(c.q("EXPIREAT k 1"), int(1));
    assert_eq!(c.q("EXISTS k"), int(0));
    assert_eq!(c.q("SET k v"), ok());
    assert_eq!(c.q("PEXPIRE k 0"), int(1));
    assert_eq!(c.q("EXISTS k"), int(0));
    assert_eq!(c.q("SET k v"), ok());
    assert_eq!(c.q("EXPIRE k 0 XX"), int(0));
    assert_eq!(c.q("EXISTS k"), int(1));
    assert_eq!(c.q("EXPIRE k 0 LT"), int(1));
    assert_eq!(c.q("EXISTS k"), int(0));
    assert_eq!(c.q("SET k v EX 100"), ok());
    assert_eq!(c.q("EXPIRE k 0 GT"), int(0));
    assert_eq!(c.q("EXISTS k"), int(1));
}

#[test]
fn ttl_rounding() {
    let s = start();
    let mut c = s.raw();
    // TTL rounds to the nearest second, as Redis does.
    assert_eq!(c.q("SET k v PX 1499"), ok());
    assert_eq!(c.q("TTL k"), int(1));
    assert_eq!(c.q("SET k v PX 2600"), ok());
    assert_eq!(c.q("TTL k"), int(3));
}

#[test]
fn lazy_expiry() {
    let s = start_with(|cfg| cfg.enable_debug_command = "yes".into());
    let mut c = s.raw();
    // With active expiry off only an access can reclaim an expired key.
    assert_eq!(c.q("DEBUG SET-ACTIVE-EXPIRE 0"), ok());
    assert_eq!(c.q("SET k v PX 50"), ok());
    assert_eq!(c.q("SET keep v"), ok());
    assert_eq!(c.q("GET k"), bulk("v"));
    std::thread::sleep(Duration::from_millis(80));
    // DBSIZE still counts the expired key: nothing has reclaimed it.
    assert_eq!(c.q("DBSIZE"), int(2));
    assert_eq!(c.q("GET k"), nil());
    assert_eq!(c.q("DBSIZE"), int(1));
    // Every access path treats the expired key as missing.
    for cmd in [
        "EXISTS k",
        "TTL k",
        "PTTL k",
        "TYPE k",
        "STRLEN k",
        "APPEND k x",
        "INCR k",
        "SETNX k v",
        "EXPIRE k 100",
        "PERSIST k",
        "RENAME k z",
        "COPY k z",
        "MOVE k 1",
        "GETDEL k",
    ] {
        assert_eq!(c.q("SET k 5 PX 1"), ok());
        std::thread::sleep(Duration::from_millis(3));
        let want = match cmd {
            "EXISTS k" | "EXPIRE k 100" | "PERSIST k" | "COPY k z" | "MOVE k 1" | "STRLEN k" => {
                int(0)
            }
            "TTL k" | "PTTL k" => int(-2),
            "TYPE k" => simple("none"),
            "APPEND k x" | "INCR k" | "SETNX k v" => int(1),
            "RENAME k z" => err("ERR no such key"),
            "GETDEL k" => nil(),
            _ => unreachable!(),
        };
        assert_eq!(c.q(cmd), want, "{cmd}");
    }
    let info = as_text(&c.q("INFO stats"));
    let expired: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("expired_keys:"))
        .expect("expired_keys in INFO")
        .trim()
        .parse()
        .unwrap();
    assert!(expired >= 15, "expired_keys:{expired}");
}

#[test]
fn active_expiry_reclaims_untouched_keys() {
    let s = start_with(|cfg| cfg.enable_debug_command = "yes".into());
    let mut c = s.raw();
    assert_eq!(c.q("DEBUG SET-ACTIVE-EXPIRE 0"), ok());
    for chunk in (0..2000).collect::<Vec<_>>().chunks(500) {
        let mut batch = Vec::new();
        for i in chunk {
            batch.extend(encode(&["SET", &format!("t:{i}"), "v", "PX", "100"]));
        }
        c.send(&batch);
        for _ in chunk {
            assert_eq!(c.read(), ok());
        }
    }
    assert_eq!(c.q("SET forever v"), ok());
    assert_eq!(c.q("SELECT 5"), ok());
    assert_eq!(c.q("SET other v PX 100"), ok());
    assert_eq!(c.q("SELECT 0"), ok());
    std::thread::sleep(Duration::from_millis(250));
    // Expired but not reclaimed: DBSIZE still counts them.
    assert_eq!(c.q("DBSIZE"), int(2001));
    assert_eq!(c.q("DEBUG SET-ACTIVE-EXPIRE 1"), ok());
    assert!(
        wait_for(3000, || c.q("DBSIZE") == int(1)),
        "active expiry did not reclaim the keys: DBSIZE {:?}",
        c.q("DBSIZE")
    );
    assert_eq!(c.q("SELECT 5"), ok());
    assert!(wait_for(3000, || c.q("DBSIZE") == int(0)));
    assert_eq!(c.q("SELECT 0"), ok());
    assert_eq!(c.q("GET forever"), bulk("v"));
    let info = as_text(&c.q("INFO keyspace"));
    assert!(info.contains("db0:keys=1,expires=0"), "{info}");
    assert!(!info.contains("db5:"), "{info}");
}

#[test]
fn object_subcommands() {
    let s = start();
    let mut c = s.raw();
    assert_eq!(c.q("SET n 123"), ok());
    assert_eq!(c.q("SET s abc"), ok());
    assert_eq!(c.call(&["SET", "r", &"x".repeat(100)]), ok());
    assert_eq!(c.q("OBJECT ENCODING n"), bulk("int"));
    assert_eq!(c.q("OBJECT ENCODING s"), bulk("embstr"));
    assert_eq!(c.q("OBJECT ENCODING r"), bulk("raw"));
    assert_eq!(c.q("OBJECT ENCODING nope"), nil());
    assert!(matches!(c.q("OBJECT REFCOUNT n"), Frame::Integer(_)));
    assert_eq!(
        c.q("OBJECT foo"),
        err("ERR unknown subcommand 'foo'. Try OBJECT HELP.")
    );
    assert_eq!(
        c.q("OBJECT foo bar"),
        err("ERR unknown subcommand 'foo'. Try OBJECT HELP.")
    );
    assert_eq!(
        c.q("OBJECT ENCODING"),
        err("ERR wrong number of arguments for 'object|encoding' command")
    );
    assert_eq!(
        c.q("OBJECT ENCODING a b"),
        err("ERR wrong number of arguments for 'object|encoding' command")
    );
    assert_eq!(
        c.q("OBJECT HELP x"),
        err("ERR wrong number of arguments for 'object|help' command")
    );
    assert!(matches!(c.q("OBJECT HELP"), Frame::Array(v) if !v.is_empty()));
}
