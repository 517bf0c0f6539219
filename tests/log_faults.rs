//! Guards the disk-fault contract of the log: ENOSPC refuses writes before they are
//! applied and service resumes by itself; EIO is never retried (MISCONF under everysec,
//! fatal under always) and nothing acknowledged is lost.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use strata::command::Session;
use strata::config::FsyncPolicy;
use strata::engine::Engine;
use strata::persistence::{FaultError, OpKind, SimFs};
use strata::protocol::Frame;

mod common;
use common::sim::{self, run, wait_durable as wait_durable_for};

const NO_SPACE: &str = "MISCONF Errors writing to the AOF file: No space left on device (writes resume by themselves once disk space is freed)";

fn open(sim: &SimFs, policy: FsyncPolicy, fatal: Arc<AtomicBool>) -> Engine {
    sim::open(sim, policy, fatal).expect("open engine")
}

fn wait_durable(e: &Engine, lsn: u64) -> bool {
    wait_durable_for(e, lsn, Duration::from_secs(3))
}

fn ok() -> Frame {
    Frame::Simple("OK".into())
}

#[test]
fn disk_full_refuses_writes_keeps_reads_and_resumes() {
    for policy in [FsyncPolicy::Always, FsyncPolicy::Everysec, FsyncPolicy::No] {
        let sim = SimFs::new(7);
        let mut e = open(&sim, policy, Arc::new(AtomicBool::new(false)));
        let mut s = Session::new(1, true);
        let big = "v".repeat(1000);
        let mut acked = 0;
        // Fill the disk: writes are refused before they are applied, never half-applied.
        sim.set_capacity(Some(sim.used_bytes() + 150_000));
        let mut refused = None;
        for i in 0..200 {
            let (r, lsn) = run(&mut e, &mut s, &["SET", &format!("k{i}"), &big]);
            match r {
                Frame::Simple(_) => {
                    assert!(policy != FsyncPolicy::Always || wait_durable(&e, lsn));
                    acked = i + 1;
                }
                Frame::Error(msg) => {
                    refused = Some((i, msg));
                    break;
                }
                other => panic!("unexpected reply {other:?}"),
            }
        }
        let (i, msg) = refused.expect("a full disk must refuse writes");
        assert_eq!(msg, NO_SPACE, "{policy:?}");
        assert!(acked > 10, "{policy:?}: refused too early ({acked} writes)");
        // The refused write was not applied; reads keep working.
        assert_eq!(
            run(&mut e, &mut s, &["GET", &format!("k{i}")]).0,
            Frame::NullBulk
        );
        assert!(run(&mut e, &mut s, &["GET", "k0"]).0 == Frame::Bulk(big.clone().into_bytes()));
        assert_eq!(
            run(&mut e, &mut s, &["DBSIZE"]).0,
            Frame::Integer(acked as i64)
        );
        // Space comes back: the periodic task re-reserves and writes resume by themselves.
        sim.set_capacity(None);
        e.tick();
        let (r, lsn) = run(&mut e, &mut s, &["SET", "after", "1"]);
        assert_eq!(r, ok(), "{policy:?}");
        assert!(policy != FsyncPolicy::Always || wait_durable(&e, lsn));
        e.close().unwrap();
        drop(e);
        // Nothing acknowledged was lost, nothing refused appears.
        let mut e = open(&sim, policy, Arc::new(AtomicBool::new(false)));
        assert_eq!(
            run(&mut e, &mut s, &["DBSIZE"]).0,
            Frame::Integer(acked as i64 + 1)
        );
        assert_eq!(
            run(&mut e, &mut s, &["EXISTS", &format!("k{i}")]).0,
            Frame::Integer(0)
        );
    }
}

#[test]
fn write_error_under_everysec_refuses_writes_without_retrying() {
    let sim = SimFs::new(1);
    let mut e = open(
        &sim,
        FsyncPolicy::Everysec,
        Arc::new(AtomicBool::new(false)),
    );
    let mut s = Session::new(1, true);
    assert_eq!(run(&mut e, &mut s, &["SET", "a", "1"]).0, ok());
    sim.fail_kind(OpKind::Write, FaultError::Eio);
    // The batch whose record could not be written gets an error, not OK.
    let (r, _) = run(&mut e, &mut s, &["SET", "b", "2"]);
    let Frame::Error(msg) = r else {
        panic!("expected an error, got {r:?}")
    };
    assert!(msg.starts_with("MISCONF Errors writing to the AOF file: I/O error during write on log file /data/strata.1.incr"), "{msg}");
    // Even once the device works again, the log is not retried: writes stay refused.
    sim.clear_faults();
    let (r, _) = run(&mut e, &mut s, &["SET", "c", "3"]);
    let Frame::Error(msg) = r else {
        panic!("expected an error, got {r:?}")
    };
    assert!(
        msg.starts_with("MISCONF Errors writing to the AOF file: I/O error during write"),
        "{msg}"
    );
    assert_eq!(
        run(&mut e, &mut s, &["GET", "a"]).0,
        Frame::Bulk(b"1".to_vec())
    );
    drop(e);
    sim.crash();
    let mut e = open(
        &sim,
        FsyncPolicy::Everysec,
        Arc::new(AtomicBool::new(false)),
    );
    assert_eq!(run(&mut e, &mut s, &["EXISTS", "c"]).0, Frame::Integer(0));
}

#[test]
fn fsync_error_under_always_is_fatal_and_never_acknowledged() {
    let sim = SimFs::new(2);
    let fatal = Arc::new(AtomicBool::new(false));
    let mut e = open(&sim, FsyncPolicy::Always, fatal.clone());
    let mut s = Session::new(1, true);
    let (r, lsn) = run(&mut e, &mut s, &["SET", "durable", "1"]);
    assert_eq!(r, ok());
    assert!(wait_durable(&e, lsn));
    sim.fail_kind(OpKind::SyncData, FaultError::Eio);
    let (r, lsn) = run(&mut e, &mut s, &["SET", "lost", "1"]);
    assert_eq!(r, ok(), "the reply is buffered, not yet released");
    // How the server hands such a reply to the fsync thread: it is told never to send it.
    let (tx, rx) = std::sync::mpsc::channel();
    let sync = e.sync_shared().unwrap();
    sync.after_durable(lsn, Box::new(move |durable| tx.send(durable).unwrap()));
    sync.kick();
    assert_eq!(rx.recv_timeout(Duration::from_secs(5)), Ok(false));
    // The fsync fails: the process would exit (the hook records it) and the reply is
    // never released, because durability never reaches its LSN.
    assert!(
        !wait_durable_for(&e, lsn, Duration::from_millis(300)),
        "a failed fsync must not be reported as durable"
    );
    assert!(
        fatal.load(Ordering::SeqCst),
        "fsync failure under always must be fatal"
    );
    drop(e);
    sim.crash();
    let mut e = open(&sim, FsyncPolicy::Always, Arc::new(AtomicBool::new(false)));
    assert_eq!(
        run(&mut e, &mut s, &["GET", "durable"]).0,
        Frame::Bulk(b"1".to_vec())
    );
}

/// Regression: group commit pre-writes zeros after each fsync (`LogWriter::zero_ahead`);
/// an EIO there must be fatal like any log write under always, and must not deadlock the
/// fsync thread (it once reported the failure while still holding the writer lock, so
/// shutting the engine down hung).
#[test]
fn zeroing_error_under_always_is_fatal_and_shutdown_completes() {
    let sim = SimFs::new(3);
    let fatal = Arc::new(AtomicBool::new(false));
    let mut e = open(&sim, FsyncPolicy::Always, fatal.clone());
    let mut s = Session::new(1, true);
    // The batch's one op (its log reservation), then the group's: write the records,
    // fdatasync, then write zeros ahead, which fails.
    sim.fail_op(sim.op_count() + 3, FaultError::Eio);
    let (r, lsn) = run(&mut e, &mut s, &["SET", "durable", "1"]);
    assert_eq!(r, ok());
    assert!(
        wait_durable(&e, lsn),
        "the records were synced before the zeroing failed"
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while !fatal.load(Ordering::SeqCst) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    // Drop on another thread so that a deadlock fails the test instead of hanging it.
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        drop(e);
        let _ = done_tx.send(());
    });
    let dropped = done_rx.recv_timeout(Duration::from_secs(10)).is_ok();
    assert!(
        fatal.load(Ordering::SeqCst),
        "a failed zeroing write under always must be fatal"
    );
    assert!(
        dropped,
        "dropping the engine hung after the zeroing failure"
    );
    sim.clear_faults();
    sim.crash();
    let mut e = open(&sim, FsyncPolicy::Always, Arc::new(AtomicBool::new(false)));
    assert_eq!(
        run(&mut e, &mut s, &["GET", "durable"]).0,
        Frame::Bulk(b"1".to_vec())
    );
}
