//! Client limits and hardening: rename-command, maxmemory noeviction (OOM for denyoom
//! commands), client-output-buffer-limit for normal clients, idle timeout sparing
//! blocked clients and subscribers, and a slow-loris client not holding up others.

mod common;

use std::io::Write;
use std::time::Duration;

use common::*;
use strata::config::Config;

const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";

#[test]
fn rename_command_from_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("strata.conf");
    std::fs::write(
        &conf,
        "rename-command FLUSHALL \"\"\nrename-command CONFIG admin-config-7f3a\nrename-command debug \"\"\n",
    )
    .unwrap();
    let mut cfg = Config::from_args(&[conf.display().to_string()]).unwrap();
    assert_eq!(
        cfg.rename_commands,
        vec![
            ("flushall".to_string(), String::new()),
            ("config".to_string(), "admin-config-7f3a".to_string()),
            ("debug".to_string(), String::new()),
        ]
    );
    let s = start_with(|c| {
        c.rename_commands = std::mem::take(&mut cfg.rename_commands);
        c.appendonly = true;
    });
    let mut c = s.raw();
    assert_eq!(c.q("SET k v"), ok());
    assert_eq!(
        c.q("FLUSHALL"),
        err("ERR unknown command 'FLUSHALL', with args beginning with: ")
    );
    assert_eq!(
        c.q("CONFIG GET maxclients"),
        err("ERR unknown command 'CONFIG', with args beginning with: 'GET' 'maxclients' ")
    );
    assert_eq!(
        c.q("admin-config-7f3a GET maxclients"),
        arr(vec![bulk("maxclients"), bulk("10000")])
    );
    assert_eq!(
        c.q("DEBUG SLEEP 0"),
        err("ERR unknown command 'DEBUG', with args beginning with: 'SLEEP' '0' ")
    );
    // Inside MULTI the new name queues and runs the real command.
    assert_eq!(c.q("MULTI"), ok());
    assert_eq!(
        c.q("ADMIN-CONFIG-7F3A SET maxclients 500"),
        simple("QUEUED")
    );
    assert_eq!(c.q("EXEC"), arr(vec![ok()]));
    assert_eq!(
        c.q("admin-config-7f3a GET maxclients"),
        arr(vec![bulk("maxclients"), bulk("500")])
    );
    // Bad lines are refused at startup with the reason.
    let e =
        Config::from_args(&["--rename-command".to_string(), "flushall".to_string()]).unwrap_err();
    assert!(
        e.to_string()
            .contains("expected 'rename-command <command> <new-name>'"),
        "{e}"
    );
    let bad = Config {
        port: 0,
        appendonly: false,
        dir: dir.path().to_path_buf(),
        rename_commands: vec![("nosuch".into(), "x".into())],
        ..Config::default()
    };
    assert_eq!(
        strata::server::spawn(bad.clone())
            .err()
            .map(|e| e.to_string()),
        Some("rename-command: no such command 'nosuch'".to_string())
    );
    let taken = Config {
        rename_commands: vec![("flushall".into(), "get".into())],
        ..bad
    };
    assert_eq!(
        strata::server::spawn(taken).err().map(|e| e.to_string()),
        Some(
            "rename-command: 'get' is already the name of a command; pick another name".to_string()
        )
    );
}

#[test]
fn maxmemory_noeviction_refuses_denyoom_commands() {
    let s = start();
    let mut c = s.raw();
    assert_eq!(c.q("SET k v"), ok());
    assert_eq!(c.q("LPUSH l a"), int(1));
    // Any limit below the dataset's size: used_memory is over it from now on.
    assert_eq!(c.q("CONFIG SET maxmemory 1"), ok());
    assert_eq!(c.q("SET a b"), err(OOM));
    assert_eq!(c.q("LPUSH l b"), err(OOM));
    assert_eq!(c.q("INCR n"), err(OOM));
    assert_eq!(c.q("GET k"), bulk("v"));
    assert_eq!(c.q("LPOP l"), bulk("a"));
    assert_eq!(c.q("DEL k"), int(1));
    // As Redis: inside MULTI even reads are refused (queueing takes memory).
    assert_eq!(c.q("MULTI"), ok());
    assert_eq!(c.q("GET a"), err(OOM));
    assert_eq!(
        c.q("EXEC"),
        err("EXECABORT Transaction discarded because of previous errors.")
    );
    assert_eq!(c.q("CONFIG SET maxmemory 0"), ok());
    assert_eq!(c.q("SET a b"), ok());
    // An unknown policy is refused and the old one stays (the policies themselves are
    // in tests/eviction.rs).
    assert_eq!(
        c.q("CONFIG SET maxmemory-policy allkeys-oldest"),
        err("ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction")
    );
    assert_eq!(
        c.q("CONFIG GET maxmemory-policy"),
        arr(vec![bulk("maxmemory-policy"), bulk("noeviction")])
    );
}

#[test]
fn a_client_that_never_reads_a_huge_pipeline_is_disconnected() {
    let s = start();
    let mut admin = s.raw();
    let big = "x".repeat(100 * 1024);
    assert_eq!(admin.call(&["SET", "big", &big]), ok());
    assert_eq!(
        admin.call(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "normal 1mb 512kb 2"
        ]),
        ok()
    );
    // A well-behaved pipeline under the limit is served in full.
    let mut good = s.raw();
    let mut pipeline = Vec::new();
    for _ in 0..5 {
        pipeline.extend(encode(&["GET", "big"]));
    }
    good.send(&pipeline);
    for _ in 0..5 {
        assert_eq!(good.read(), bulk(&big));
    }
    // Thousands of GETs of 100 KB, none of the replies read.
    let mut hog = s.raw();
    let mut pipeline = Vec::new();
    for _ in 0..3000 {
        pipeline.extend(encode(&["GET", "big"]));
    }
    let _ = hog.stream.write_all(&pipeline);
    let got = hog.read_to_eof();
    assert!(got.len() < 64 * 1024 * 1024, "cut off, not fed 300 MB");
    assert!(wait_for(5000, || info_field(
        &mut admin,
        "stats",
        "client_output_buffer_limit_disconnections"
    ) == "1"));
    assert_eq!(admin.q("PING"), simple("PONG"));
    assert_eq!(good.q("PING"), simple("PONG"));
    // The soft limit: at least 512 KB left unread for over 2 s closes the client too.
    assert_eq!(
        admin.call(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "normal 0 512kb 1"
        ]),
        ok()
    );
    let mut slow = s.raw();
    let mut pipeline = Vec::new();
    for _ in 0..100 {
        pipeline.extend(encode(&["GET", "big"]));
    }
    slow.send(&pipeline);
    // Read nothing until the server has cut the client off: on a loaded machine a fixed
    // sleep can end first, and reading would drain the replies below the soft limit.
    assert!(wait_for(20_000, || info_field(
        &mut admin,
        "stats",
        "client_output_buffer_limit_disconnections"
    ) == "2"));
    let got = slow.read_to_eof();
    assert!(got.len() < 100 * big.len(), "not every reply was delivered");
}

#[test]
fn idle_timeout_spares_blocked_clients_and_subscribers() {
    let s = start();
    let mut admin = s.raw();
    assert_eq!(admin.q("CONFIG SET timeout 1"), ok());
    let mut blocked = s.raw();
    blocked.send(&encode(&["BLPOP", "q", "0"]));
    let mut sub = s.raw();
    assert_eq!(
        sub.q("SUBSCRIBE ch"),
        arr(vec![bulk("subscribe"), bulk("ch"), int(1)])
    );
    let mut idle = s.raw();
    assert!(idle.closed_within(5000), "an idle normal client is closed");
    // Well past the timeout, the blocked client and the subscriber are still there
    // (the silent admin connection is not: use a fresh one).
    let mut admin = s.raw();
    assert_eq!(admin.q("RPUSH q job"), int(1));
    assert_eq!(blocked.read(), arr(vec![bulk("q"), bulk("job")]));
    assert_eq!(admin.q("PUBLISH ch hi"), int(1));
    assert_eq!(
        sub.read(),
        arr(vec![bulk("message"), bulk("ch"), bulk("hi")])
    );
    assert_eq!(admin.q("CONFIG SET timeout 0"), ok());
}

#[test]
fn a_slow_loris_client_does_not_hold_up_others() {
    let s = start();
    let mut loris = s.raw();
    let mut other = s.raw();
    let cmd = encode(&["SET", "slow", "value"]);
    // One byte at a time; between bytes another client is served in full.
    for (i, b) in cmd.iter().enumerate() {
        loris.send(&[*b]);
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(
            other.call(&["SET", "fast", &i.to_string()]),
            ok(),
            "byte {i}"
        );
    }
    assert_eq!(loris.read(), ok());
    assert_eq!(other.q("GET slow"), bulk("value"));
    assert_eq!(other.q("GET fast"), bulk((cmd.len() - 1).to_string()));
}
