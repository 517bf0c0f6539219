//! WAITAOF makes a client's writes durable on demand under every fsync policy (a power
//! loss right after `[1, 0]` keeps them; without WAITAOF, under `appendfsync no`, it does
//! not; a failed fsync answers `[0, 0]`), answers in pipeline order and without blocking
//! inside MULTI, and refuses a local
//! wait with the log off in Redis's words; WAIT answers 0 (no replicas) after checking its
//! arguments as Redis does.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use strata::config::FsyncPolicy;
use strata::persistence::{SimFs, TornMode};
use strata::protocol::Frame;
use strata::protocol::ReplyBuf;
use strata::testkit::SimEngine;

fn pair(local: i64) -> strata::protocol::Frame {
    arr(vec![int(local), int(0)])
}

fn args(words: &[&str]) -> Vec<Bytes> {
    words
        .iter()
        .map(|w| Bytes::copy_from_slice(w.as_bytes()))
        .collect()
}

#[test]
fn argument_errors_and_the_log_off() {
    let s = start();
    let mut c = s.raw();
    assert_eq!(
        c.q("WAITAOF 1 0 0"),
        err("ERR WAITAOF cannot be used when numlocal is set but appendonly is disabled.")
    );
    assert_eq!(c.q("WAITAOF 0 0 0"), pair(0));
    let cases = [
        (
            "WAITAOF x 0 0",
            "ERR value is not an integer or out of range",
        ),
        (
            "WAITAOF -1 0 0",
            "ERR value is out of range, must be positive",
        ),
        (
            "WAITAOF 0 -1 0",
            "ERR value is out of range, must be positive",
        ),
        (
            "WAITAOF 0 0 x",
            "ERR timeout is not an integer or out of range",
        ),
        (
            "WAITAOF 0 0 1.5",
            "ERR timeout is not an integer or out of range",
        ),
        ("WAITAOF 0 0 -1", "ERR timeout is negative"),
        ("WAITAOF 1 0 -1", "ERR timeout is negative"),
        ("WAIT 0 x", "ERR timeout is not an integer or out of range"),
        ("WAIT x -1", "ERR value is not an integer or out of range"),
        ("WAIT 0 -1", "ERR timeout is negative"),
        ("WAIT x 0", "ERR value is not an integer or out of range"),
        (
            "WAITAOF 0 0",
            "ERR wrong number of arguments for 'waitaof' command",
        ),
    ];
    for (cmd, want) in cases {
        assert_eq!(c.q(cmd), err(want), "{cmd}");
    }
    assert_eq!(c.q("WAIT 0 0"), int(0));
    assert_eq!(c.q("WAIT -3 0"), int(0));
}

#[test]
fn waitaof_answers_once_durable_under_every_policy() {
    for policy in [FsyncPolicy::Always, FsyncPolicy::Everysec, FsyncPolicy::No] {
        let s = start_with(|c| {
            c.appendonly = true;
            c.appendfsync = policy;
        });
        let mut c = s.raw();
        c.q("SET a 1");
        assert_eq!(c.q("WAITAOF 1 0 0"), pair(1), "{policy:?}");
        // Pipelined: the replies stay in order and the commands after it still run.
        c.send(&encode(&["SET", "b", "2"]));
        c.send(&encode(&["WAITAOF", "1", "0", "1000"]));
        c.send(&encode(&["GET", "b"]));
        c.send(&encode(&["WAITAOF", "0", "0", "0"]));
        assert_eq!(c.read(), ok());
        assert_eq!(c.read(), pair(1), "{policy:?}");
        assert_eq!(c.read(), bulk("2"));
        assert_eq!(c.read(), pair(1), "{policy:?}");
        // Inside MULTI it never blocks; it answers for what was logged before.
        c.q("MULTI");
        c.q("SET c 3");
        c.q("WAITAOF 1 0 0");
        let Frame::Array(replies) = c.q("EXEC") else {
            panic!()
        };
        assert_eq!(replies[0], ok());
        assert_eq!(replies[1], pair(1), "{policy:?}");
        assert_eq!(c.q("GET c"), bulk("3"));
    }
}

/// The proof that it is durable: a power loss on the simulated disk right after WAITAOF
/// under `appendfsync no` keeps the write; the same write without WAITAOF is lost.
#[test]
fn a_power_loss_after_waitaof_keeps_the_write() {
    for with_waitaof in [true, false] {
        let sim = SimFs::new(7);
        sim.set_torn_mode(TornMode::Drop);
        let mut e = SimEngine::open(&sim, FsyncPolicy::No).unwrap();
        let mut cmds = vec![args(&["SET", "kept", "yes"])];
        if with_waitaof {
            cmds.push(args(&["WAITAOF", "1", "0", "0"]));
        }
        let mut out = ReplyBuf::new(false);
        let o = e.engine.execute_batch(&mut e.session, &mut cmds, &mut out);
        assert_eq!(out.as_bytes(), b"+OK\r\n");
        if with_waitaof {
            let (lsn, timeout) = o.aof_wait.expect("WAITAOF waits");
            assert_eq!(timeout, 0);
            let sync = e.engine.sync_shared().unwrap();
            let deadline = Instant::now() + Duration::from_secs(10);
            while sync.durable_lsn() < lsn {
                assert!(Instant::now() < deadline, "the requested fsync never came");
                std::thread::sleep(Duration::from_millis(1));
            }
        } else {
            assert!(o.aof_wait.is_none());
        }
        drop(e);
        sim.crash();
        let back = SimEngine::open(&sim, FsyncPolicy::No).unwrap();
        let found = back.engine.st.ks.db(0).get(b"kept").is_some();
        assert_eq!(found, with_waitaof, "with WAITAOF: {with_waitaof}");
    }
}

/// A failed fsync is never retried and nothing more becomes durable: a waiting WAITAOF
/// answers `[0, 0]` (the connection's wait returns false) instead of hanging or lying.
#[test]
fn a_failed_fsync_answers_not_durable() {
    use strata::persistence::{FaultError, OpKind};
    let sim = SimFs::new(3);
    let mut e = SimEngine::open(&sim, FsyncPolicy::Everysec).unwrap();
    sim.fail_kind(OpKind::SyncData, FaultError::Eio);
    let mut cmds = vec![args(&["SET", "k", "v"]), args(&["WAITAOF", "1", "0", "0"])];
    let mut out = ReplyBuf::new(false);
    let o = e.engine.execute_batch(&mut e.session, &mut cmds, &mut out);
    let (lsn, _) = o.aof_wait.expect("WAITAOF waits");
    let sync = e.engine.sync_shared().unwrap();
    let mut rx = sync.subscribe();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    assert!(!rt.block_on(sync.wait_durable_for(&mut rx, lsn, 0)));
    // With a timeout, on a healthy log that is already durable: true at once.
    let sim = SimFs::new(4);
    let mut e = SimEngine::open(&sim, FsyncPolicy::Everysec).unwrap();
    let sync = e.engine.sync_shared().unwrap();
    let mut rx = sync.subscribe();
    let mut cmds = vec![args(&["SET", "k", "v"]), args(&["WAITAOF", "1", "0", "50"])];
    let o = e.engine.execute_batch(&mut e.session, &mut cmds, &mut out);
    let (lsn, timeout) = o.aof_wait.expect("WAITAOF waits");
    assert_eq!(timeout, 50);
    let durable = rt.block_on(sync.wait_durable_for(&mut rx, lsn, 10_000));
    assert!(durable);
}
