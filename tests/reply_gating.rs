//! Guards the `appendfsync always` reply rule: a reply waits for the fsync covering every
//! write it observed (its own, or another client's read back), and only for that — a
//! read of data that is already durable is released at once; pub/sub messages wait for
//! the writes they announce.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use strata::command::{Outbox, Session};
use strata::config::{Config, FsyncPolicy};
use strata::engine::{Engine, OpenOptions};
use strata::persistence::{FaultError, OpKind, SimFs};
use strata::protocol::ReplyBuf;

mod common;

fn run(e: &mut Engine, s: &mut Session, args: &[&str]) -> u64 {
    let mut cmds = vec![args
        .iter()
        .map(|a| Bytes::copy_from_slice(a.as_bytes()))
        .collect()];
    let mut out = ReplyBuf::new(false);
    e.execute_batch(s, &mut cmds, &mut out).wait_lsn
}

fn wait_durable(e: &Engine, lsn: u64) {
    let sync = e.sync_shared().unwrap();
    sync.kick();
    let deadline = Instant::now() + Duration::from_secs(5);
    while sync.durable_lsn() < lsn {
        assert!(Instant::now() < deadline, "fsync did not complete");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn reads_wait_only_for_the_writes_they_observed() {
    let sim = SimFs::new(3);
    let cfg = Config {
        dir: "/data".into(),
        appendfsync: FsyncPolicy::Always,
        ..Config::default()
    };
    let mut e = Engine::open_with(
        cfg,
        OpenOptions {
            vfs: Arc::new(sim),
            prealloc_chunk: 4096,
            ..OpenOptions::default()
        },
    )
    .unwrap();
    let (mut a, mut b) = (Session::new(1, true), Session::new(2, true));
    let l1 = run(&mut e, &mut a, &["SET", "old", "1"]);
    assert!(l1 > 0, "a write waits for its own fsync");
    wait_durable(&e, l1);
    // A read of durable data is released at once.
    assert_eq!(run(&mut e, &mut b, &["GET", "old"]), 0);
    let sync = e.sync_shared().unwrap();
    let l2 = run(&mut e, &mut a, &["SET", "fresh", "2"]);
    assert!(l2 > l1);
    // Another client reading the not-yet-durable write must wait for the same fsync
    // (unless that fsync already finished, which the check allows for).
    let w = run(&mut e, &mut b, &["GET", "fresh"]);
    assert!(
        w >= l2 || sync.durable_lsn() >= l2,
        "GET fresh waits for {w}, the write is at {l2}"
    );
    // Reading an unrelated key does not wait.
    assert_eq!(run(&mut e, &mut b, &["GET", "old"]), 0);
    assert_eq!(run(&mut e, &mut b, &["EXISTS", "nothing"]), 0);
    // A read that observes the whole keyspace waits for everything logged so far.
    let w = run(&mut e, &mut b, &["DBSIZE"]);
    assert!(w >= l2 || sync.durable_lsn() >= l2);
    // A delete is observed like a write: reading the deleted key waits for it.
    wait_durable(&e, l2);
    let l3 = run(&mut e, &mut a, &["DEL", "old"]);
    let w = run(&mut e, &mut b, &["GET", "old"]);
    assert!(w >= l3 || sync.durable_lsn() >= l3);
    // FLUSHALL changes every key, even ones that never existed.
    wait_durable(&e, l3);
    let l4 = run(&mut e, &mut a, &["FLUSHALL"]);
    let w = run(&mut e, &mut b, &["GET", "never-existed"]);
    assert!(w >= l4 || sync.durable_lsn() >= l4);
    wait_durable(&e, l4);
    assert_eq!(run(&mut e, &mut b, &["GET", "never-existed"]), 0);
}

/// An engine under `always` on a simulated disk.
fn open_always() -> Engine {
    let fatal = Arc::new(std::sync::atomic::AtomicBool::new(false));
    common::sim::open(&SimFs::new(5), FsyncPolicy::Always, fatal).expect("open engine")
}

/// Replies handed to the fsync thread (`SyncShared::after_durable`, how the server sends
/// them under `always`) run right after the fsync that covers them, and at once when
/// their LSN is already durable.
#[test]
fn reply_hooks_run_once_their_write_is_durable() {
    let mut e = open_always();
    let mut a = Session::new(1, true);
    let sync = e.sync_shared().unwrap();
    let l1 = run(&mut e, &mut a, &["SET", "k", "1"]);
    assert!(l1 > 0);
    let (tx, rx) = std::sync::mpsc::channel();
    let hook = {
        let (sync, tx) = (sync.clone(), tx.clone());
        Box::new(move |durable: bool| tx.send((durable, sync.durable_lsn())).unwrap())
    };
    sync.after_durable(l1, hook);
    sync.kick();
    let (durable, at) = rx.recv_timeout(Duration::from_secs(5)).expect("hook ran");
    assert!(durable);
    assert!(
        at >= l1,
        "ran when durable_lsn was {at}, before {l1} was durable"
    );
    // Already durable: it runs at once, on the caller's thread.
    sync.after_durable(l1, Box::new(move |durable| tx.send((durable, 0)).unwrap()));
    assert!(rx.try_recv().expect("ran at once").0);
}

/// Regression: records appended under `always` and not yet committed when the policy
/// switches (here the write and the switch are in the same batch) must still be fsynced, or the replies
/// waiting for them would wait forever: `no` never fsyncs on its own.
#[test]
fn leaving_always_commits_what_replies_wait_for() {
    let mut e = open_always();
    let mut a = Session::new(1, true);
    let mut cmds = vec![
        vec![
            Bytes::from_static(b"SET"),
            Bytes::from_static(b"k"),
            Bytes::from_static(b"v"),
        ],
        ["CONFIG", "SET", "appendfsync", "no"]
            .iter()
            .map(|s| Bytes::copy_from_slice(s.as_bytes()))
            .collect(),
    ];
    let mut out = ReplyBuf::new(false);
    let lsn = e.execute_batch(&mut a, &mut cmds, &mut out).wait_lsn;
    assert!(lsn > 0, "the SET's reply waits for its fsync");
    // The next batch applies the new policy (before the fsync thread's group timer).
    run(&mut e, &mut a, &["PING"]);
    assert!(
        common::sim::wait_durable(&e, lsn, Duration::from_secs(5)),
        "the write the reply waits for was never fsynced"
    );
}

/// Regression: a log rewrite's rotation syncs the old log on the event loop and so makes
/// everything appended durable; it must release the replies handed to the fsync thread
/// too, or they wait for an fsync that never comes (the rotation left nothing to sync).
#[test]
fn a_rewrite_releases_the_replies_it_made_durable() {
    let mut e = open_always();
    let (mut a, mut b) = (Session::new(1, true), Session::new(2, true));
    let sync = e.sync_shared().unwrap();
    let lsn = run(&mut e, &mut a, &["SET", "k", "1"]);
    assert!(lsn > 0);
    let (tx, rx) = std::sync::mpsc::channel();
    sync.after_durable(lsn, Box::new(move |durable| tx.send(durable).unwrap()));
    // At once, before the fsync thread's group timer: the rotation does the sync.
    run(&mut e, &mut b, &["BGREWRITEAOF"]);
    assert_eq!(rx.recv_timeout(Duration::from_secs(5)), Ok(true));
    e.finish_snapshot();
}

/// The pub/sub output of `outbox` so far, as RESP2 bytes.
fn drained(outbox: &Outbox) -> String {
    let mut out = ReplyBuf::new(false);
    outbox.drain(&mut out, usize::MAX);
    String::from_utf8_lossy(out.as_bytes()).into_owned()
}

/// Keyspace notifications and PUBLISH messages follow the reply rule too: under
/// `appendfsync always` a subscriber hears of a write only once it is durable, never if
/// its fsync fails, and no later message overtakes a held one.
#[test]
fn messages_wait_for_the_fsync_of_what_they_announce() {
    let sim = SimFs::new(5);
    let fatal = Arc::new(AtomicBool::new(false));
    let mut e = common::sim::open(&sim, FsyncPolicy::Always, fatal.clone()).unwrap();
    let (mut a, mut b, mut sub) = (
        Session::new(1, true),
        Session::new(2, true),
        Session::new(3, true),
    );
    let outbox = Arc::new(Outbox::detached());
    e.attach_outbox(&mut sub, outbox.clone());
    run(
        &mut e,
        &mut a,
        &["CONFIG", "SET", "notify-keyspace-events", "E$"],
    );
    run(
        &mut e,
        &mut sub,
        &["SUBSCRIBE", "__keyevent@0__:set", "news"],
    );
    drained(&outbox);
    let l1 = run(&mut e, &mut a, &["SET", "k", "1"]);
    wait_durable(&e, l1);
    // Delivered by the fsync thread right after the fsync (poll for the hook to run).
    let mut got = String::new();
    assert!(common::wait_for(5000, || {
        got.push_str(&drained(&outbox));
        !got.is_empty()
    }));
    assert_eq!(
        got,
        "*3\r\n$7\r\nmessage\r\n$18\r\n__keyevent@0__:set\r\n$1\r\nk\r\n"
    );
    // The next fsync fails: the event of this write is never delivered, and neither is
    // a message published after it by a client that wrote nothing.
    sim.fail_kind(OpKind::SyncData, FaultError::Eio);
    let l2 = run(&mut e, &mut a, &["SET", "lost", "1"]);
    assert!(l2 > l1);
    let mut out = ReplyBuf::new(false);
    let publish = vec![Bytes::from_static(b"PUBLISH"), "news".into(), "hi".into()];
    e.execute_batch(&mut b, &mut vec![publish], &mut out);
    assert_eq!(
        out.as_bytes(),
        b":1\r\n",
        "counted as delivered, as Redis counts it"
    );
    e.sync_shared().unwrap().kick();
    assert!(common::wait_for(5000, || fatal.load(Ordering::SeqCst)));
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(
        drained(&outbox),
        "",
        "a message announced a write that was lost"
    );
}

/// Without `always` nothing is held: the batch's messages are queued when it ends.
#[test]
fn messages_leave_with_their_batch_under_everysec() {
    let sim = SimFs::new(6);
    let mut e = common::sim::open(
        &sim,
        FsyncPolicy::Everysec,
        Arc::new(AtomicBool::new(false)),
    )
    .unwrap();
    let (mut a, mut sub) = (Session::new(1, true), Session::new(3, true));
    let outbox = Arc::new(Outbox::detached());
    e.attach_outbox(&mut sub, outbox.clone());
    run(
        &mut e,
        &mut a,
        &["CONFIG", "SET", "notify-keyspace-events", "Kg"],
    );
    run(&mut e, &mut sub, &["PSUBSCRIBE", "__keyspace@0__:*"]);
    drained(&outbox);
    run(&mut e, &mut a, &["SET", "k", "1", "EX", "100"]);
    assert_eq!(
        drained(&outbox),
        "*4\r\n$8\r\npmessage\r\n$16\r\n__keyspace@0__:*\r\n$16\r\n__keyspace@0__:k\r\n$6\r\nexpire\r\n"
    );
}
