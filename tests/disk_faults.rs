//! Guards the disk-fault contract beyond tests/log_faults.rs: EIO or ENOSPC injected at
//! any single step (write, fsync, rename, directory fsync, ...) and short writes never
//! lose an acknowledged write nor leave a log that does not recover; fsync errors under
//! everysec refuse writes with MISCONF and INFO says so; a failed rewrite (rename or
//! directory fsync error) leaves the log serving and reports aof_last_bgrewrite_status.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use strata::command::Session;
use strata::config::FsyncPolicy;
use strata::engine::Engine;
use strata::persistence::{FaultError, OpKind, SimFs};
use strata::protocol::Frame;

mod common;
use common::sim::{self, info_persistence as info, run, wait_durable};

fn open(sim: &SimFs, policy: FsyncPolicy) -> Engine {
    sim::open(sim, policy, Arc::new(AtomicBool::new(false))).expect("open engine")
}

/// A workload of acknowledged writes against a disk that fails once at operation `n`
/// with `err`: returns the values every acknowledged write promised.
fn workload(sim: &SimFs, policy: FsyncPolicy, n: u64, err: FaultError) -> (Outcomes, bool) {
    let fatal = Arc::new(AtomicBool::new(false));
    let Ok(mut e) = sim::open(sim, policy, fatal.clone()) else {
        // The fault hit the startup itself: refusing to start is the contract.
        return (BTreeMap::new(), true);
    };
    let mut s = Session::new(1, true);
    // Per key: the last acknowledged value, then values written after it whose fate is
    // unknown (not confirmed durable, or failed mid-write): recovery may show any of them.
    let mut acked: BTreeMap<String, Vec<String>> = BTreeMap::new();
    sim.fail_op(sim.op_count() + n, err);
    for i in 0..40 {
        let key = format!("k{}", i % 7);
        let val = format!("v{i}-{}", "x".repeat(i * 37 % 300));
        let (r, lsn) = run(&mut e, &mut s, &["SET", &key, &val]);
        if r == Frame::Simple("OK".into()) {
            // Under always a reply leaves only once durable; a fatal fsync never is.
            if policy == FsyncPolicy::Always && !wait_durable(&e, lsn, Duration::from_millis(200)) {
                assert!(fatal.load(Ordering::SeqCst), "not durable yet not fatal");
                acked
                    .entry(key)
                    .or_insert_with(|| vec![ABSENT.into()])
                    .push(val);
                break;
            }
            acked.insert(key, vec![val]);
        } else {
            let Frame::Error(msg) = &r else {
                panic!("{r:?}")
            };
            assert!(
                msg.starts_with("MISCONF Errors writing to the AOF file: "),
                "{msg}"
            );
            // Refused before it ran (MISCONF up front), or applied in memory but not
            // written to the log (the connection is then closed): either way the client
            // was told it failed.
            let got = match run(&mut e, &mut s, &["GET", &key]).0 {
                Frame::Bulk(b) => String::from_utf8(b).unwrap(),
                _ => ABSENT.to_string(),
            };
            let known = acked
                .get(&key)
                .cloned()
                .unwrap_or_else(|| vec![ABSENT.into()]);
            assert!(got == val || known.contains(&got), "{got:?}");
            // (A write that failed in the log may still have reached the disk in part.)
            acked
                .entry(key)
                .or_insert_with(|| vec![ABSENT.into()])
                .push(val);
        }
        if i == 20 {
            // A rewrite in the middle: its renames and directory fsyncs are steps too.
            let _ = run(&mut e, &mut s, &["BGREWRITEAOF"]);
            e.finish_snapshot();
        }
        if i % 5 == 0 {
            e.tick();
        }
    }
    let _ = e.close();
    drop(e);
    (acked, fatal.load(Ordering::SeqCst))
}

type Outcomes = BTreeMap<String, Vec<String>>;

/// In [`Outcomes`]: the key had no acknowledged value.
const ABSENT: &str = "<absent>";

#[test]
fn a_fault_at_any_step_loses_no_acknowledged_write() {
    let mut steps = 0;
    for policy in [FsyncPolicy::Always, FsyncPolicy::Everysec] {
        for err in [FaultError::Eio, FaultError::NoSpace] {
            // Count the operations of a clean run to know how many steps to try.
            let total = {
                let sim = SimFs::new(3);
                let start = sim.op_count();
                workload(&sim, policy, u64::MAX / 2, err);
                sim.op_count() - start
            };
            for n in (0..total).step_by(((total / 50) as usize).max(1)) {
                let sim = SimFs::new(n);
                let (acked, _fatal) = workload(&sim, policy, n, err);
                // Then the process dies (everysec promises "in the OS": the page cache
                // survives) or the power goes (always promises "on disk"); what is left
                // must recover and hold every acknowledged write.
                sim.clear_faults();
                if policy == FsyncPolicy::Always {
                    sim.crash();
                }
                let mut e = sim::open(&sim, policy, Arc::new(AtomicBool::new(false)))
                    .unwrap_or_else(|e| {
                        panic!("{policy:?} {err:?} at step {n}: recovery failed: {e}")
                    });
                let mut s = Session::new(1, true);
                for (k, vals) in &acked {
                    let got = match run(&mut e, &mut s, &["GET", k]).0 {
                        Frame::Bulk(b) => String::from_utf8(b).unwrap(),
                        _ => ABSENT.to_string(),
                    };
                    assert!(
                        vals.contains(&got),
                        "{policy:?} {err:?} at step {n}: {k} is {got:?}, expected one of {vals:?}"
                    );
                }
                steps += 1;
            }
        }
    }
    assert!(steps > 150, "only {steps} fault points tried");
}

#[test]
fn short_writes_lose_nothing_and_leave_no_corruption() {
    for policy in [FsyncPolicy::Always, FsyncPolicy::Everysec, FsyncPolicy::No] {
        let sim = SimFs::new(11);
        let mut e = open(&sim, policy);
        sim.set_short_writes(true);
        let mut s = Session::new(1, true);
        let mut last = 0;
        for i in 0..300 {
            let (r, lsn) = run(&mut e, &mut s, &["SET", &format!("k{i}"), &"v".repeat(i)]);
            assert_eq!(r, Frame::Simple("OK".into()), "{policy:?}");
            last = lsn;
        }
        assert!(wait_durable(&e, last, Duration::from_secs(5)));
        e.close().unwrap();
        drop(e);
        sim.set_short_writes(false);
        sim.crash();
        let mut e = open(&sim, policy);
        assert_eq!(run(&mut e, &mut s, &["DBSIZE"]).0, Frame::Integer(300));
        assert_eq!(
            run(&mut e, &mut s, &["STRLEN", "k299"]).0,
            Frame::Integer(299)
        );
    }
}

#[test]
fn fsync_error_under_everysec_is_misconf_and_shown_in_info() {
    let sim = SimFs::new(5);
    let mut e = open(&sim, FsyncPolicy::Everysec);
    let mut s = Session::new(1, true);
    assert_eq!(
        run(&mut e, &mut s, &["SET", "a", "1"]).0,
        Frame::Simple("OK".into())
    );
    assert_eq!(info(&mut e, &mut s)["aof_last_write_status"], "ok");
    sim.fail_kind(OpKind::SyncData, FaultError::Eio);
    // The write reached the OS (everysec's promise) before the fsync failed.
    assert_eq!(
        run(&mut e, &mut s, &["SET", "b", "2"]).0,
        Frame::Simple("OK".into())
    );
    let sync = e.sync_shared().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        sync.kick();
        e.tick();
        if info(&mut e, &mut s)["aof_last_write_status"] == "err" {
            break;
        }
        assert!(Instant::now() < deadline, "the fsync error never surfaced");
        std::thread::sleep(Duration::from_millis(20));
    }
    let i = info(&mut e, &mut s);
    assert!(
        i["aof_last_write_error"].starts_with("MISCONF Errors writing to the AOF file: "),
        "{i:?}"
    );
    let (r, _) = run(&mut e, &mut s, &["SET", "c", "3"]);
    let Frame::Error(msg) = r else {
        panic!("{r:?}")
    };
    assert!(
        msg.starts_with("MISCONF Errors writing to the AOF file: "),
        "{msg}"
    );
    assert!(
        msg.contains("I/O error") || msg.contains("Input/output error"),
        "{msg}"
    );
    // Reads are served; a failed fsync is never retried, so writes stay refused.
    assert_eq!(
        run(&mut e, &mut s, &["GET", "a"]).0,
        Frame::Bulk(b"1".to_vec())
    );
    sim.clear_faults();
    e.tick();
    let (r, _) = run(&mut e, &mut s, &["SET", "d", "4"]);
    assert!(matches!(r, Frame::Error(_)), "{r:?}");
}

#[test]
fn rewrite_faults_on_rename_or_dir_fsync_keep_the_log_serving() {
    for kind in [
        OpKind::Rename,
        OpKind::SyncDir,
        OpKind::Create,
        OpKind::Write,
    ] {
        let sim = SimFs::new(9);
        let mut e = open(&sim, FsyncPolicy::Always);
        let mut s = Session::new(1, true);
        let mut last = 0;
        for i in 0..50 {
            let (r, lsn) = run(&mut e, &mut s, &["SET", &format!("k{i}"), "v"]);
            assert_eq!(r, Frame::Simple("OK".into()));
            last = lsn;
        }
        assert!(wait_durable(&e, last, Duration::from_secs(5)));
        sim.fail_kind(kind, FaultError::Eio);
        // Either the rewrite cannot start (switching to a new log file failed: an
        // error reply) or it fails in the background (INFO shows it).
        let (r, _) = run(&mut e, &mut s, &["BGREWRITEAOF"]);
        e.finish_snapshot();
        let i = info(&mut e, &mut s);
        match &r {
            Frame::Error(msg) => assert!(msg.starts_with("ERR "), "{kind:?}: {msg}"),
            _ => assert_eq!(i["aof_last_bgrewrite_status"], "err", "{kind:?}: {r:?}"),
        }
        sim.clear_faults();
        e.tick();
        // The old log is still the log: writes go on (unless the fault hit the log
        // itself, which the other tests cover) and nothing is lost.
        let (r, lsn) = run(&mut e, &mut s, &["SET", "after", "1"]);
        let after_ok =
            r == Frame::Simple("OK".into()) && wait_durable(&e, lsn, Duration::from_secs(5));
        if kind != OpKind::Write {
            assert!(after_ok, "{kind:?}: {r:?}");
        }
        let _ = e.close();
        drop(e);
        sim.crash();
        let mut e = open(&sim, FsyncPolicy::Always);
        assert_eq!(
            run(&mut e, &mut s, &["DBSIZE"]).0,
            Frame::Integer(50 + after_ok as i64),
            "{kind:?}"
        );
        // And a rewrite works again once the fault is gone.
        let _ = run(&mut e, &mut s, &["BGREWRITEAOF"]);
        e.finish_snapshot();
        assert_eq!(
            info(&mut e, &mut s)["aof_last_bgrewrite_status"],
            "ok",
            "{kind:?}"
        );
    }
}
