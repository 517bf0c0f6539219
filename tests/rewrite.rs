//! Guards snapshots and log rewrite: a BGSAVE holds exactly the keyspace at the instant it
//! began despite concurrent writes; a restart after BGREWRITEAOF gives the same keyspace;
//! a power loss at any I/O step of a rewrite recovers every acknowledged write; and a
//! rewrite that finds much of the log unsynced has it synced off the event loop first.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use std::path::Path;
use strata::command::Session;
use strata::config::{Config, FsyncPolicy};
use strata::engine::{Engine, OpenOptions};
use strata::persistence::snapshot::{load_snapshot, SnapshotLimits};
use strata::persistence::{FaultError, OpKind, RealFs, SimFs, Vfs};
use strata::protocol::{Frame, ReplyBuf};

mod common;
use common::sim::{digest, info_persistence, Digest};

fn cmd(e: &mut Engine, s: &mut Session, args: &[&str]) -> (Frame, u64) {
    let mut cmds = vec![args
        .iter()
        .map(|a| Bytes::copy_from_slice(a.as_bytes()))
        .collect()];
    let mut out = ReplyBuf::new(false);
    let o = e.execute_batch(s, &mut cmds, &mut out);
    if let Some(f) = o.log_failed {
        return (Frame::Error(f), 0);
    }
    let f = Frame::decode(out.as_bytes(), 1 << 20)
        .unwrap()
        .map(|(f, _)| f)
        .unwrap_or(Frame::Null);
    (f, o.wait_lsn)
}

fn config(dir: &str, policy: FsyncPolicy) -> Config {
    Config {
        dir: dir.into(),
        appendfsync: policy,
        save: String::new(),
        auto_aof_rewrite_percentage: 0,
        ..Config::default()
    }
}

fn open(
    vfs: Arc<dyn Vfs>,
    dir: &str,
    policy: FsyncPolicy,
    fatal: Arc<AtomicBool>,
) -> Result<Engine, String> {
    Engine::open_with(
        config(dir, policy),
        OpenOptions {
            vfs,
            fatal: Arc::new(move |_: &str| fatal.store(true, Ordering::SeqCst)),
            prealloc_chunk: 4096,
        },
    )
    .map_err(|e| e.to_string())
}

#[test]
fn bgsave_is_the_keyspace_at_its_start_despite_concurrent_writes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap().to_string();
    let mut c = config(&d, FsyncPolicy::No);
    c.appendonly = false;
    let mut e = Engine::open(c).unwrap();
    let mut s = Session::new(1, true);
    for i in 0..20_000 {
        cmd(&mut e, &mut s, &["SET", &format!("k{i}"), &format!("v{i}")]);
    }
    cmd(&mut e, &mut s, &["SELECT", "3"]);
    cmd(
        &mut e,
        &mut s,
        &["SET", "other-db", "x", "PXAT", "99999999999999"],
    );
    let expected = digest(&e);
    assert_eq!(
        cmd(&mut e, &mut s, &["BGSAVE"]).0,
        Frame::Simple("Background saving started".into())
    );
    // Writes, deletes and overwrites while the snapshot is being taken.
    for i in 0..30_000 {
        cmd(
            &mut e,
            &mut s,
            &["SET", &format!("k{}", i % 25_000), "changed"],
        );
        if i % 3 == 0 {
            cmd(&mut e, &mut s, &["DEL", &format!("k{}", i / 3)]);
        }
        if i % 500 == 0 {
            e.snapshot_pump(300);
        }
    }
    cmd(&mut e, &mut s, &["FLUSHDB"]);
    e.finish_snapshot();
    assert!(
        e.st.persist.rdb_last_bgsave_ok,
        "{}",
        e.st.persist.last_snapshot_error
    );
    let mut got = Digest::new();
    let info = load_snapshot(
        &RealFs,
        &dir.path().join("dump.rdb"),
        SnapshotLimits::default(),
        2,
        |db, en| {
            got.insert(
                (db as usize, en.key.to_vec()),
                (en.value.as_string().unwrap().into_owned(), en.expire_at()),
            );
            Ok::<(), String>(())
        },
    )
    .unwrap();
    assert_eq!(info.keys as usize, expected.len());
    assert_eq!(got, expected);
}

#[test]
fn restart_after_rewrite_gives_the_same_keyspace() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap().to_string();
    let fatal = Arc::new(AtomicBool::new(false));
    let mut e = open(Arc::new(RealFs), &d, FsyncPolicy::Everysec, fatal.clone()).unwrap();
    let mut s = Session::new(1, true);
    for i in 0..5000 {
        cmd(&mut e, &mut s, &["SET", &format!("k{i}"), &format!("v{i}")]);
        cmd(&mut e, &mut s, &["INCR", "counter"]);
    }
    cmd(&mut e, &mut s, &["EXPIRE", "k1", "1000"]);
    assert_eq!(
        cmd(&mut e, &mut s, &["BGREWRITEAOF"]).0,
        Frame::Simple("Background append only file rewriting started".into())
    );
    for i in 0..3000 {
        cmd(&mut e, &mut s, &["SET", &format!("k{i}"), "new"]);
        if i % 100 == 0 {
            e.snapshot_pump(500);
        }
    }
    e.finish_snapshot();
    assert!(
        e.st.persist.aof_last_bgrewrite_ok,
        "{}",
        e.st.persist.last_snapshot_error
    );
    cmd(&mut e, &mut s, &["SELECT", "5"]);
    cmd(&mut e, &mut s, &["SET", "after", "rewrite"]);
    let before = digest(&e);
    e.close().unwrap();
    drop(e);
    // The manifest names the new base and one log; the old log is gone.
    let manifest = std::fs::read_to_string(dir.path().join("strata.manifest")).unwrap();
    assert!(manifest.contains("base strata.2.base seq 2"), "{manifest}");
    assert!(manifest.contains("incr strata.3.incr seq 3"), "{manifest}");
    assert!(!dir.path().join("strata.1.incr").exists());
    let e = open(Arc::new(RealFs), &d, FsyncPolicy::Everysec, fatal).unwrap();
    assert_eq!(digest(&e), before);
}

/// One run: `pre` acknowledged writes, a rewrite, writes during and after it; the disk dies
/// at I/O operation `crash_at`. Returns (acknowledged count, recovered digest, model after
/// each executed op).
fn rewrite_run(crash_at: Option<u64>, seed: u64) -> (usize, Digest, Vec<Digest>, u64) {
    let sim = SimFs::new(seed);
    let fatal = Arc::new(AtomicBool::new(false));
    let mut model = Digest::new();
    let mut prefixes = vec![model.clone()];
    let mut acked = 0;
    let mut e = open(
        Arc::new(sim.clone()),
        "/data",
        FsyncPolicy::Always,
        fatal.clone(),
    )
    .unwrap();
    if let Some(n) = crash_at {
        sim.crash_at(sim.op_count() + n);
    }
    let sync = e.sync_shared().unwrap();
    let mut s = Session::new(1, true);
    let total = 60;
    for i in 0..total {
        if sim.is_down() || fatal.load(Ordering::SeqCst) {
            break;
        }
        if i == 20 {
            let (r, _) = cmd(&mut e, &mut s, &["BGREWRITEAOF"]);
            if r != Frame::Simple("Background append only file rewriting started".into()) {
                break;
            }
        }
        let key = format!("k{}", i % 13);
        let (r, lsn) = cmd(&mut e, &mut s, &["SET", &key, &i.to_string()]);
        model.insert((0, key.into_bytes()), (i.to_string().into_bytes(), 0));
        prefixes.push(model.clone());
        if r != Frame::Simple("OK".into()) {
            break;
        }
        e.snapshot_pump(4);
        sync.kick();
        let deadline = Instant::now() + Duration::from_secs(2);
        while sync.durable_lsn() < lsn
            && Instant::now() < deadline
            && !sim.is_down()
            && !fatal.load(Ordering::SeqCst)
        {
            std::thread::sleep(Duration::from_micros(100));
        }
        if sync.durable_lsn() >= lsn {
            acked = i + 1;
        } else {
            break;
        }
    }
    if !sim.is_down() && !fatal.load(Ordering::SeqCst) {
        e.finish_snapshot();
    }
    let (recovered, ops) = power_loss(e, &sim, FsyncPolicy::Always, crash_at);
    (acked, recovered, prefixes, ops)
}

/// An engine on the simulated disk's `/data` whose fatal errors are ignored.
fn open_sim(sim: &SimFs, policy: FsyncPolicy) -> Result<Engine, String> {
    open(
        Arc::new(sim.clone()),
        "/data",
        policy,
        Arc::new(AtomicBool::new(false)),
    )
}

/// Stops `e`, cuts the power, and recovers: the recovered digest and the I/O operation
/// count at the cut.
fn power_loss(e: Engine, sim: &SimFs, policy: FsyncPolicy, crash_at: Option<u64>) -> (Digest, u64) {
    drop(e);
    let ops = sim.op_count();
    sim.crash();
    let recovered = open_sim(sim, policy)
        .unwrap_or_else(|err| panic!("recovery after a crash at op {crash_at:?} failed: {err}"));
    (digest(&recovered), ops)
}

#[test]
fn power_loss_at_every_step_of_a_rewrite_keeps_acknowledged_writes() {
    let (_, clean, prefixes, total) = rewrite_run(None, 1);
    assert_eq!(
        &clean,
        prefixes.last().unwrap(),
        "without a crash everything is recovered"
    );
    let mut points = 0;
    for n in 0..total {
        let (acked, got, prefixes, _) = rewrite_run(Some(n), n);
        let ok = (acked..prefixes.len()).any(|p| prefixes[p] == got);
        assert!(ok, "crash at op {n}: recovered state is not a prefix holding the {acked} acknowledged writes: {got:?}");
        points += 1;
    }
    assert!(points > 100, "only {points} crash points exercised");
}

#[test]
fn disk_full_during_rewrite_keeps_old_files_and_a_later_rewrite_succeeds() {
    let sim = SimFs::new(9);
    let fatal = Arc::new(AtomicBool::new(false));
    let mut e = open(
        Arc::new(sim.clone()),
        "/data",
        FsyncPolicy::Everysec,
        fatal.clone(),
    )
    .unwrap();
    let mut s = Session::new(1, true);
    // Incompressible values, so the base really needs its ~400 KB.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in 0..200 {
        let big = common::incompressible(2000, &mut x);
        cmd(&mut e, &mut s, &["SET", &format!("k{i}"), &big]);
    }
    // Room for the new log's preallocation but not for a 400 KB base.
    sim.set_capacity(Some(sim.used_bytes() + 64 * 1024));
    let (r, _) = cmd(&mut e, &mut s, &["BGREWRITEAOF"]);
    if r == Frame::Simple("Background append only file rewriting started".into()) {
        e.finish_snapshot();
    }
    assert!(
        !e.st.persist.aof_last_bgrewrite_ok,
        "the rewrite must fail on a full disk"
    );
    assert!(
        e.st.persist
            .last_snapshot_error
            .starts_with("bgrewriteaof: "),
        "{}",
        e.st.persist.last_snapshot_error
    );
    let (info, _) = cmd(&mut e, &mut s, &["INFO", "persistence"]);
    let text = String::from_utf8(info.as_bytes().unwrap().to_vec()).unwrap();
    assert!(text.contains("aof_last_bgrewrite_status:err"), "{text}");
    // Space returns: writes go on and a later rewrite succeeds.
    sim.set_capacity(None);
    e.tick();
    assert_eq!(
        cmd(&mut e, &mut s, &["SET", "after", "1"]).0,
        Frame::Simple("OK".into())
    );
    let (r, _) = cmd(&mut e, &mut s, &["BGREWRITEAOF"]);
    assert_eq!(
        r,
        Frame::Simple("Background append only file rewriting started".into())
    );
    e.finish_snapshot();
    assert!(
        e.st.persist.aof_last_bgrewrite_ok,
        "{}",
        e.st.persist.last_snapshot_error
    );
    let before = digest(&e);
    e.close().unwrap();
    drop(e);
    sim.crash();
    let e = open(Arc::new(sim.clone()), "/data", FsyncPolicy::Everysec, fatal).unwrap();
    assert_eq!(digest(&e), before);
}

fn started() -> Frame {
    Frame::Simple("Background append only file rewriting started".into())
}

/// One run of a rewrite that starts with much of the log unsynced (`appendfsync no`, so
/// ~330 KB): 300 writes, BGREWRITEAOF, 100 more writes while it runs; the disk dies at
/// I/O operation `crash_at`. Returns (recovered digest, model after each write, index
/// of the model at BGREWRITEAOF, I/O operations, whether the rewrite completed).
fn presync_run(crash_at: Option<u64>) -> (Digest, Vec<Digest>, usize, u64, bool) {
    let sim = SimFs::new(crash_at.unwrap_or(0));
    let mut e = open_sim(&sim, FsyncPolicy::No).unwrap();
    if let Some(n) = crash_at {
        sim.crash_at(sim.op_count() + n);
    }
    let mut s = Session::new(1, true);
    let mut model = Digest::new();
    let mut prefixes = vec![model.clone()];
    let mut at_rewrite = usize::MAX;
    let pad = "p".repeat(1000);
    for i in 0..400 {
        if sim.is_down() {
            break;
        }
        if i == 300 {
            if cmd(&mut e, &mut s, &["BGREWRITEAOF"]).0 != started() {
                break;
            }
            at_rewrite = prefixes.len() - 1;
        }
        let (key, val) = (format!("k{}", i % 50), format!("{i}{pad}"));
        if cmd(&mut e, &mut s, &["SET", &key, &val]).0 != Frame::Simple("OK".into()) {
            break;
        }
        model.insert((0, key.into_bytes()), (val.into_bytes(), 0));
        prefixes.push(model.clone());
        e.snapshot_pump(8);
    }
    if !sim.is_down() {
        e.finish_snapshot();
    }
    let completed = e.st.persist.aof_last_bgrewrite_ok && !sim.is_down();
    let (recovered, ops) = power_loss(e, &sim, FsyncPolicy::No, crash_at);
    (recovered, prefixes, at_rewrite, ops, completed)
}

/// A rewrite whose switch waits for the fsync thread (see the next test) is as crash safe
/// as one that switches at once: a power loss at any step recovers a prefix of the
/// writes, and once the rewrite is done, one holding every write made before it began.
#[test]
fn rewrite_with_a_large_unsynced_log_syncs_before_switching_logs() {
    let (got, prefixes, at_rewrite, total, completed) = presync_run(None);
    assert!(completed, "the rewrite completes");
    assert!(
        (at_rewrite..prefixes.len()).any(|p| prefixes[p] == got),
        "after the rewrite a power loss keeps at least the {at_rewrite} writes made before it"
    );
    let mut points = 0;
    for n in (0..total).step_by(3) {
        let (got, prefixes, _, _, _) = presync_run(Some(n));
        assert!(
            prefixes.contains(&got),
            "crash at op {n}: the recovered state is not a prefix of the writes"
        );
        points += 1;
    }
    assert!(points > 100, "only {points} crash points exercised");
}

/// An engine under `appendfsync no` with 300 keys of 1 KB written and never synced.
fn with_unsynced_log(sim: &SimFs) -> (Engine, Session) {
    let mut e = open_sim(sim, FsyncPolicy::No).unwrap();
    let mut s = Session::new(1, true);
    let pad = "p".repeat(1000);
    for i in 0..300 {
        cmd(&mut e, &mut s, &["SET", &format!("k{i}"), &pad]);
    }
    (e, s)
}

/// Regression: BGREWRITEAOF made the old log durable on the event loop before switching
/// logs; with up to 30 s of writes unsynced (`no`) every client waited for that fdatasync
/// (220 ms measured with 330 MB). Now the fsync thread syncs first and the switch waits:
/// INFO reports the rewrite from the reply on, the manifest names no new log until the
/// pump runs, and writes meanwhile go to the old log and into the new base.
#[test]
fn rewrite_waiting_for_its_presync_is_in_progress_and_keeps_writes() {
    let sim = SimFs::new(21);
    let (mut e, mut s) = with_unsynced_log(&sim);
    let manifest =
        || String::from_utf8(sim.contents(Path::new("/data/strata.manifest")).unwrap()).unwrap();
    let before = manifest();
    assert_eq!(cmd(&mut e, &mut s, &["BGREWRITEAOF"]).0, started());
    assert_eq!(
        info_persistence(&mut e, &mut s)["aof_rewrite_in_progress"],
        "1"
    );
    assert_eq!(
        cmd(&mut e, &mut s, &["BGREWRITEAOF"]).0,
        Frame::Error("ERR Background append only file rewriting already in progress".into())
    );
    cmd(&mut e, &mut s, &["SET", "during", "1"]);
    assert_eq!(manifest(), before, "no switch before the pump runs");
    e.finish_snapshot();
    assert!(
        e.st.persist.aof_last_bgrewrite_ok,
        "{}",
        e.st.persist.last_snapshot_error
    );
    assert_eq!(
        info_persistence(&mut e, &mut s)["aof_rewrite_in_progress"],
        "0"
    );
    let after = manifest();
    assert!(after.contains("base strata.2.base"), "{after}");
    assert!(!after.contains("strata.1.incr"), "{after}");
    // The base holds the write made while the rewrite waited: lose the new log's
    // unsynced tail in a power loss and it is still there.
    drop(e);
    sim.crash();
    let mut e = open_sim(&sim, FsyncPolicy::No).unwrap();
    assert_eq!(
        cmd(&mut e, &mut s, &["GET", "during"]).0,
        Frame::Bulk(b"1".to_vec())
    );
    assert_eq!(cmd(&mut e, &mut s, &["DBSIZE"]).0, Frame::Integer(301));
}

/// If the fsync the rewrite waits for fails, the rewrite is reported failed, the log
/// refuses writes (a failed fsync is never retried) and the old files stay in place.
#[test]
fn failed_presync_fails_the_rewrite_and_keeps_the_old_files() {
    let sim = SimFs::new(22);
    let (mut e, mut s) = with_unsynced_log(&sim);
    let before = sim.contents(Path::new("/data/strata.manifest")).unwrap();
    sim.fail_kind(OpKind::SyncData, FaultError::Eio);
    // The reply comes before any fsync: the event loop no longer syncs the old log.
    assert_eq!(cmd(&mut e, &mut s, &["BGREWRITEAOF"]).0, started());
    e.finish_snapshot();
    assert!(!e.st.persist.aof_last_bgrewrite_ok);
    let err = &e.st.persist.last_snapshot_error;
    assert!(
        err.starts_with("bgrewriteaof: MISCONF Errors writing to the AOF file: fdatasync of the append-only log failed"),
        "{err}"
    );
    assert_eq!(
        info_persistence(&mut e, &mut s)["aof_last_bgrewrite_status"],
        "err"
    );
    let Frame::Error(msg) = cmd(&mut e, &mut s, &["SET", "x", "1"]).0 else {
        panic!("writes must be refused after a failed fsync")
    };
    assert!(msg.starts_with("MISCONF"), "{msg}");
    assert_eq!(
        sim.contents(Path::new("/data/strata.manifest")).unwrap(),
        before
    );
}
