//! Guards the `appendfsync always` reply rule: a reply waits for the fsync covering every
//! write it observed (its own, or another client's read back), and only for that — a
//! read of data that is already durable is released at once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use strata::command::Session;
use strata::config::{Config, FsyncPolicy};
use strata::engine::{Engine, OpenOptions};
use strata::persistence::SimFs;
use strata::protocol::ReplyBuf;

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
