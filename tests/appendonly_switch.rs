//! Guards CONFIG SET appendonly at run time: switching the log on writes the keyspace as
//! its base while writes go on and keeps every write across a restart; a power loss at any
//! I/O step leaves the directory as it was or holds every acknowledged write; under
//! `always` replies wait until the first base is installed; a failed base turns the log
//! off again; switching it off keeps what was logged and logs nothing more.

use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use strata::command::{Session, Shutdown};
use strata::config::{Config, FsyncPolicy};
use strata::engine::{Engine, OpenOptions};
use strata::persistence::{FaultError, OpKind, SimFs};
use strata::protocol::{Frame, ReplyBuf};

mod common;
use common::sim::{digest, Digest};

/// An engine on `sim`'s `/data`, the log on or off, fatal log errors ignored.
fn open(sim: &SimFs, appendonly: bool, policy: FsyncPolicy) -> Engine {
    let cfg = Config {
        dir: "/data".into(),
        appendonly,
        appendfsync: policy,
        save: String::new(),
        auto_aof_rewrite_percentage: 0,
        ..Config::default()
    };
    Engine::open_with(
        cfg,
        OpenOptions {
            vfs: Arc::new(sim.clone()),
            fatal: Arc::new(|_: &str| {}),
            prealloc_chunk: 4096,
        },
    )
    .unwrap_or_else(|e| panic!("recovery failed: {e}"))
}

/// Run a batch; the replies and the LSN they wait for.
fn batch(e: &mut Engine, s: &mut Session, cmds: &[&[&str]]) -> (Vec<Frame>, u64) {
    let mut cmds: Vec<Vec<Bytes>> = cmds
        .iter()
        .map(|c| {
            c.iter()
                .map(|a| Bytes::copy_from_slice(a.as_bytes()))
                .collect()
        })
        .collect();
    let mut out = ReplyBuf::new(false);
    let o = e.execute_batch(s, &mut cmds, &mut out);
    let mut frames = Vec::new();
    let mut rest = out.as_bytes();
    while let Some((f, n)) = Frame::decode(rest, 1 << 20).unwrap() {
        frames.push(f);
        rest = &rest[n..];
    }
    (frames, o.wait_lsn)
}

fn cmd(e: &mut Engine, s: &mut Session, args: &[&str]) -> (Frame, u64) {
    let (mut f, lsn) = batch(e, s, &[args]);
    assert_eq!(f.len(), 1, "one reply to {args:?}");
    (f.remove(0), lsn)
}

fn ok() -> Frame {
    Frame::Simple("OK".into())
}

fn info(e: &mut Engine, s: &mut Session) -> String {
    let (f, _) = cmd(e, s, &["INFO", "persistence"]);
    String::from_utf8(f.as_bytes().unwrap().to_vec()).unwrap()
}

/// Kick the group commit until `lsn` is durable, `limit` passed or `sim`'s disk died;
/// whether it is durable.
fn durable_within(e: &Engine, sim: &SimFs, lsn: u64, limit: Duration) -> bool {
    let Some(sync) = e.sync_shared() else {
        return false;
    };
    let deadline = Instant::now() + limit;
    while sync.durable_lsn() < lsn && Instant::now() < deadline && !sim.is_down() {
        sync.kick();
        std::thread::sleep(Duration::from_millis(1));
    }
    sync.durable_lsn() >= lsn
}

/// An engine on `sim` with the log off and keys `k0..k{n}` set.
fn with_keys(sim: &SimFs, policy: FsyncPolicy, n: usize) -> (Engine, Session) {
    let mut e = open(sim, false, policy);
    let mut s = Session::new(1, true);
    for i in 0..n {
        cmd(&mut e, &mut s, &["SET", &format!("k{i}"), "v"]);
    }
    (e, s)
}

fn switch_on(e: &mut Engine, s: &mut Session) {
    assert_eq!(cmd(e, s, &["CONFIG", "SET", "appendonly", "yes"]).0, ok());
}

/// Close `e`, cut the power, and check that a restart with the log recovers its keyspace.
fn restarts_the_same(mut e: Engine, sim: &SimFs, policy: FsyncPolicy) {
    let before = digest(&e);
    e.close().unwrap();
    drop(e);
    sim.crash();
    assert_same(&digest(&open(sim, true, policy)), &before);
}

/// The recovered keyspace is the expected one (reported by its first difference).
fn assert_same(got: &Digest, want: &Digest) {
    let diff = want
        .iter()
        .find(|(k, v)| got.get(*k) != Some(*v))
        .map(|(k, _)| format!("{k:?} missing or different"))
        .or_else(|| {
            got.keys()
                .find(|k| !want.contains_key(*k))
                .map(|k| format!("{k:?} unexpected"))
        });
    assert!(
        diff.is_none(),
        "recovered {} keys, expected {}: {}",
        got.len(),
        want.len(),
        diff.unwrap_or_default()
    );
}

fn manifest(sim: &SimFs) -> Option<String> {
    sim.contents("/data/strata.manifest".as_ref())
        .map(|b| String::from_utf8(b).unwrap())
}

#[test]
fn switching_the_log_on_keeps_every_write_across_a_restart() {
    let sim = SimFs::new(1);
    let mut e = open(&sim, false, FsyncPolicy::Everysec);
    let mut s = Session::new(1, true);
    for i in 0..3000 {
        cmd(&mut e, &mut s, &["SET", &format!("k{i}"), &format!("v{i}")]);
    }
    cmd(
        &mut e,
        &mut s,
        &["SET", "ttl", "x", "PXAT", "99999999999999"],
    );
    assert!(
        manifest(&sim).is_none(),
        "nothing is logged with the log off"
    );
    // Switched on inside a transaction: the commands after it in the transaction run
    // before the switch, so they are in the base.
    let (r, _) = batch(
        &mut e,
        &mut s,
        &[
            &["MULTI"],
            &["CONFIG", "SET", "appendonly", "yes"],
            &["SET", "in-multi", "1"],
            &["EXEC"],
        ],
    );
    assert_eq!(r.last().unwrap(), &Frame::Array(vec![ok(), ok()]));
    let text = info(&mut e, &mut s);
    assert!(text.contains("aof_enabled:1"), "{text}");
    assert!(text.contains("aof_rewrite_in_progress:1"), "{text}");
    // Writes while the base is written go to the new log.
    for i in 0..2000 {
        cmd(&mut e, &mut s, &["SET", &format!("k{i}"), "during"]);
        if i % 3 == 0 {
            cmd(&mut e, &mut s, &["DEL", &format!("k{}", 2000 + i / 3)]);
        }
        if i % 100 == 0 {
            e.snapshot_pump(200);
        }
    }
    e.finish_snapshot();
    assert!(
        e.st.persist.aof_last_bgrewrite_ok,
        "{}",
        e.st.persist.last_snapshot_error
    );
    cmd(&mut e, &mut s, &["SELECT", "4"]);
    cmd(&mut e, &mut s, &["SET", "after", "base"]);
    let text = info(&mut e, &mut s);
    assert!(text.contains("aof_rewrite_in_progress:0"), "{text}");
    assert!(text.contains("aof_last_bgrewrite_status:ok"), "{text}");
    let m = manifest(&sim).expect("the manifest names the new log");
    assert!(m.contains("base strata.1.base seq 1"), "{m}");
    assert!(m.contains("incr strata.2.incr seq 2"), "{m}");
    assert!(digest(&e).contains_key(&(0, b"in-multi".to_vec())));
    restarts_the_same(e, &sim, FsyncPolicy::Everysec);
}

#[test]
fn switching_on_replaces_an_earlier_runs_log_and_deletes_its_files() {
    let sim = SimFs::new(2);
    let mut e = open(&sim, true, FsyncPolicy::Everysec);
    let mut s = Session::new(1, true);
    cmd(&mut e, &mut s, &["SET", "stale", "from an earlier run"]);
    e.close().unwrap();
    drop(e);
    assert!(sim.contents("/data/strata.1.incr".as_ref()).is_some());
    // A stray file no manifest names (a crash while switching on, say) is left alone and
    // its sequence number is not reused.
    sim.put_file("/data/strata.7.incr".as_ref(), b"stray");
    let mut e = open(&sim, false, FsyncPolicy::Everysec);
    assert!(digest(&e).is_empty(), "appendonly no does not load the log");
    cmd(&mut e, &mut s, &["SET", "fresh", "1"]);
    switch_on(&mut e, &mut s);
    e.finish_snapshot();
    let m = manifest(&sim).unwrap();
    assert!(m.contains("base strata.8.base seq 8"), "{m}");
    assert!(m.contains("incr strata.9.incr seq 9"), "{m}");
    assert!(
        sim.contents("/data/strata.1.incr".as_ref()).is_none(),
        "the replaced manifest's log is deleted"
    );
    assert_eq!(
        sim.contents("/data/strata.7.incr".as_ref()).as_deref(),
        Some(&b"stray"[..])
    );
    restarts_the_same(e, &sim, FsyncPolicy::Everysec);
}

/// One run: with `earlier`, an earlier run left a log holding `old`; this run starts with
/// the log off, writes 8 keys, switches the log on under `always` and writes 30 more,
/// acknowledging each once durable; the disk dies at I/O operation `crash_at`. Returns
/// (acknowledged writes after the switch, recovered state, the state before this run,
/// the model before the switch and after each later write, I/O operations).
fn switch_run(crash_at: Option<u64>, earlier: bool) -> (usize, Digest, Digest, Vec<Digest>, u64) {
    let sim = SimFs::new(crash_at.unwrap_or(99));
    let mut s = Session::new(1, true);
    let mut before_run = Digest::new();
    if earlier {
        let mut e = open(&sim, true, FsyncPolicy::Always);
        let (_, lsn) = cmd(&mut e, &mut s, &["SET", "old", "1"]);
        assert!(durable_within(&e, &sim, lsn, Duration::from_secs(5)));
        before_run = digest(&e);
        e.close().unwrap();
    }
    let mut e = open(&sim, false, FsyncPolicy::Always);
    let mut model = Digest::new();
    for i in 0..8 {
        let k = format!("pre{i}");
        cmd(&mut e, &mut s, &["SET", &k, "p"]);
        model.insert((0, k.into_bytes()), (b"p".to_vec(), 0));
    }
    let mut prefixes = vec![model.clone()];
    if let Some(n) = crash_at {
        sim.crash_at(sim.op_count() + n);
    }
    let mut acked = 0;
    let (r, _) = cmd(&mut e, &mut s, &["CONFIG", "SET", "appendonly", "yes"]);
    if r == ok() {
        for i in 0..30 {
            if sim.is_down() {
                break;
            }
            let k = format!("k{}", i % 7);
            let (r, lsn) = cmd(&mut e, &mut s, &["SET", &k, &i.to_string()]);
            model.insert((0, k.into_bytes()), (i.to_string().into_bytes(), 0));
            prefixes.push(model.clone());
            if r != ok() {
                break;
            }
            e.snapshot_pump(4);
            if !durable_within(&e, &sim, lsn, Duration::from_secs(2)) {
                break;
            }
            acked = i + 1;
        }
    }
    if !sim.is_down() {
        e.finish_snapshot();
    }
    drop(e);
    let ops = sim.op_count();
    sim.crash();
    // With no earlier log, a crash before the install leaves files no manifest names:
    // the restart removes them (`strata.pending`) instead of refusing to start.
    let recovered = digest(&open(&sim, true, FsyncPolicy::Always));
    (acked, recovered, before_run, prefixes, ops)
}

/// The crash campaign over every I/O step of a switch, with or without an earlier log.
fn crash_every_step_of_a_switch(earlier: bool) {
    let (acked, clean, _, prefixes, total) = switch_run(None, earlier);
    assert_eq!(acked, 30, "without a crash every write is acknowledged");
    assert_eq!(&clean, prefixes.last().unwrap());
    let mut old_kept = 0;
    let mut switched = 0;
    for n in 0..total {
        let (acked, got, earlier, prefixes, _) = switch_run(Some(n), earlier);
        if acked == 0 && got == earlier {
            // The new manifest never became durable: the directory is as it was.
            old_kept += 1;
            continue;
        }
        let ok = (acked..prefixes.len()).any(|p| prefixes[p] == got);
        assert!(
            ok,
            "crash at op {n}: recovered state ({} keys) is neither the earlier run's nor a prefix holding the {acked} acknowledged writes",
            got.len()
        );
        switched += 1;
    }
    eprintln!("{total} crash points: {old_kept} before the switch, {switched} after");
    assert!(
        old_kept > 10 && switched > 10,
        "crash points: {old_kept} before the switch, {switched} after"
    );
}

#[test]
fn power_loss_at_every_step_of_switching_on_keeps_the_old_state_or_every_acknowledged_write() {
    crash_every_step_of_a_switch(true);
}

#[test]
fn power_loss_while_switching_on_in_a_fresh_directory_recovers_too() {
    crash_every_step_of_a_switch(false);
}

/// The dataset a server without the log saved to `dump.rdb` on `sim`.
fn saved_dump(sim: &SimFs) -> Digest {
    let mut e = open(sim, false, FsyncPolicy::Everysec);
    let mut s = Session::new(1, true);
    for i in 0..500 {
        cmd(&mut e, &mut s, &["SET", &format!("k{i}"), &format!("v{i}")]);
    }
    cmd(&mut e, &mut s, &["SELECT", "2"]);
    cmd(
        &mut e,
        &mut s,
        &["SET", "ttl", "x", "PXAT", "99999999999999"],
    );
    assert_eq!(cmd(&mut e, &mut s, &["SAVE"]).0, ok());
    let d = digest(&e);
    drop(e);
    d
}

/// Regression guard for redis/redis#837: turning the log on in the config file and
/// restarting must not start empty next to the `dump.rdb` holding the data.
#[test]
fn a_restart_with_appendonly_yes_starts_the_log_from_the_dump() {
    let sim = SimFs::new(11);
    let saved = saved_dump(&sim);
    let mut e = open(&sim, true, FsyncPolicy::Everysec);
    assert_same(&digest(&e), &saved);
    let m = manifest(&sim).unwrap();
    assert!(m.contains("base strata.1.base seq 1"), "{m}");
    assert!(m.contains("incr strata.2.incr seq 2"), "{m}");
    assert!(
        sim.contents("/data/dump.rdb".as_ref()).is_some(),
        "the dump is kept"
    );
    assert!(sim.contents("/data/strata.pending".as_ref()).is_none());
    let mut s = Session::new(1, true);
    cmd(&mut e, &mut s, &["SET", "k1", "changed"]);
    let before = digest(&e);
    e.close().unwrap();
    drop(e);
    sim.crash();
    // From now on the log is the data set: the dump is not adopted again.
    assert_same(&digest(&open(&sim, true, FsyncPolicy::Everysec)), &before);
}

#[test]
fn power_loss_at_every_step_of_adopting_the_dump_recovers_the_dump() {
    let probe = SimFs::new(12);
    let saved = saved_dump(&probe);
    let start = probe.op_count();
    drop(open(&probe, true, FsyncPolicy::Everysec));
    let total = probe.op_count() - start;
    for n in 0..total {
        let sim = SimFs::new(12);
        assert_same(&saved_dump(&sim), &saved);
        sim.crash_at(sim.op_count() + n);
        let cfg = Config {
            dir: "/data".into(),
            appendonly: true,
            save: String::new(),
            ..Config::default()
        };
        let first = Engine::open_with(
            cfg,
            OpenOptions {
                vfs: Arc::new(sim.clone()),
                fatal: Arc::new(|_: &str| {}),
                prealloc_chunk: 4096,
            },
        );
        drop(first);
        sim.crash();
        let e = open(&sim, true, FsyncPolicy::Everysec);
        assert_same(&digest(&e), &saved);
        assert!(
            sim.contents("/data/strata.pending".as_ref()).is_none(),
            "crash at op {n}: strata.pending left behind"
        );
    }
    assert!(total > 10, "only {total} I/O steps");
}

#[test]
fn replies_under_always_wait_for_the_first_base() {
    let sim = SimFs::new(4);
    let (mut e, mut s) = with_keys(&sim, FsyncPolicy::Always, 2000);
    switch_on(&mut e, &mut s);
    let (r, lsn) = cmd(&mut e, &mut s, &["SET", "x", "1"]);
    assert_eq!(r, ok());
    assert!(lsn > 0, "a write under always waits for the log");
    // The base cannot be complete before the pump captured the keyspace: however long
    // the fsync thread has had, the write is not durable yet (its log is named nowhere).
    assert!(!durable_within(&e, &sim, lsn, Duration::from_millis(200)));
    assert!(manifest(&sim).is_none());
    e.finish_snapshot();
    assert!(manifest(&sim).is_some());
    assert!(durable_within(&e, &sim, lsn, Duration::from_secs(5)));
}

#[test]
fn a_base_that_cannot_be_written_turns_the_log_off_again() {
    let sim = SimFs::new(5);
    let mut e = open(&sim, false, FsyncPolicy::Always);
    let mut s = Session::new(1, true);
    // Incompressible values, so the base really needs its ~400 KB.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in 0..200 {
        let big = common::incompressible(2000, &mut x);
        cmd(&mut e, &mut s, &["SET", &format!("k{i}"), &big]);
    }
    // Room for the new log's preallocation but not for the base.
    sim.set_capacity(Some(sim.used_bytes() + 64 * 1024));
    switch_on(&mut e, &mut s);
    let sync = e
        .sync_shared()
        .expect("the log is on, waiting for its base");
    let (_, lsn) = cmd(&mut e, &mut s, &["SET", "during", "1"]);
    e.finish_snapshot();
    let text = info(&mut e, &mut s);
    assert!(text.contains("aof_enabled:0"), "{text}");
    assert!(text.contains("aof_last_bgrewrite_status:err"), "{text}");
    assert!(
        e.st.persist.last_snapshot_error.starts_with("appendonly: "),
        "{}",
        e.st.persist.last_snapshot_error
    );
    assert_eq!(
        cmd(&mut e, &mut s, &["CONFIG", "GET", "appendonly"]).0,
        Frame::Array(vec![
            Frame::Bulk(b"appendonly".to_vec()),
            Frame::Bulk(b"no".to_vec())
        ])
    );
    assert!(
        manifest(&sim).is_none(),
        "no manifest names the unfinished log"
    );
    // The write that waited is released with appendonly no's guarantee, and writes go on.
    assert!(sync.durable_lsn() >= lsn);
    assert!(e.sync_shared().is_none());
    assert_eq!(cmd(&mut e, &mut s, &["SET", "after", "1"]), (ok(), 0));
    // With space back, switching on works.
    sim.set_capacity(None);
    switch_on(&mut e, &mut s);
    e.finish_snapshot();
    restarts_the_same(e, &sim, FsyncPolicy::Always);
}

#[test]
fn switching_on_during_a_bgsave_starts_when_it_ends() {
    let sim = SimFs::new(8);
    let (mut e, mut s) = with_keys(&sim, FsyncPolicy::Everysec, 3000);
    assert_eq!(
        cmd(&mut e, &mut s, &["BGSAVE"]).0,
        Frame::Simple("Background saving started".into())
    );
    switch_on(&mut e, &mut s);
    let text = info(&mut e, &mut s);
    assert!(text.contains("aof_enabled:1"), "{text}");
    assert!(text.contains("aof_rewrite_scheduled:1"), "{text}");
    assert!(e.sync_shared().is_none(), "no log before the BGSAVE ends");
    // Written before the log starts: it will be in the base.
    cmd(&mut e, &mut s, &["SET", "meanwhile", "1"]);
    e.finish_snapshot();
    e.tick();
    assert!(
        e.sync_shared().is_some(),
        "the log starts once the BGSAVE ended"
    );
    cmd(&mut e, &mut s, &["SET", "logged", "1"]);
    e.finish_snapshot();
    let text = info(&mut e, &mut s);
    assert!(text.contains("aof_rewrite_scheduled:0"), "{text}");
    assert!(manifest(&sim).is_some());
    restarts_the_same(e, &sim, FsyncPolicy::Everysec);
}

/// Regression guard: a SHUTDOWN while the first base is written finishes it rather than
/// abandoning it, or a restart with `appendonly yes` would find no manifest and start
/// empty (Redis refuses to shut down then: "Writing initial AOF, can't exit").
#[test]
fn shutdown_while_switching_on_finishes_the_base() {
    let sim = SimFs::new(10);
    let (mut e, mut s) = with_keys(&sim, FsyncPolicy::Everysec, 3000);
    switch_on(&mut e, &mut s);
    cmd(&mut e, &mut s, &["SET", "last", "1"]);
    assert!(manifest(&sim).is_none());
    e.shutdown_persist(Shutdown::NoSave).unwrap();
    e.close().unwrap();
    let before = digest(&e);
    drop(e);
    sim.crash();
    assert_same(&digest(&open(&sim, true, FsyncPolicy::Everysec)), &before);
}

#[test]
fn a_log_that_cannot_be_created_is_an_error_reply_and_appendonly_stays_no() {
    let sim = SimFs::new(6);
    let mut e = open(&sim, false, FsyncPolicy::Everysec);
    let mut s = Session::new(1, true);
    sim.fail_kind(OpKind::Create, FaultError::Eio);
    let (r, _) = cmd(&mut e, &mut s, &["CONFIG", "SET", "appendonly", "yes"]);
    let Frame::Error(msg) = r else {
        panic!("expected an error, got {r:?}")
    };
    assert!(
        msg.starts_with(
            "ERR CONFIG SET failed (possibly related to argument 'appendonly') - Unable to turn on AOF: "
        ),
        "{msg}"
    );
    assert!(msg.contains("strata.pending.tmp"), "{msg}");
    assert!(!e.st.config.appendonly);
    assert!(info(&mut e, &mut s).contains("aof_enabled:0"));
    sim.clear_faults();
    switch_on(&mut e, &mut s);
    e.finish_snapshot();
    assert!(info(&mut e, &mut s).contains("aof_enabled:1"));
}

#[test]
fn switching_the_log_off_keeps_what_was_logged_and_logs_nothing_more() {
    let sim = SimFs::new(7);
    let mut e = open(&sim, true, FsyncPolicy::Always);
    let mut s = Session::new(1, true);
    cmd(&mut e, &mut s, &["SET", "a", "1"]);
    // The batch's write before the switch is logged; the one after it is not.
    let (r, lsn) = batch(
        &mut e,
        &mut s,
        &[
            &["SET", "b", "2"],
            &["CONFIG", "SET", "appendonly", "no"],
            &["SET", "c", "3"],
        ],
    );
    assert_eq!(r, vec![ok(), ok(), ok()]);
    assert_eq!(lsn, 0, "with the log off nothing waits");
    assert!(e.sync_shared().is_none());
    assert!(info(&mut e, &mut s).contains("aof_enabled:0"));
    assert_eq!(cmd(&mut e, &mut s, &["SET", "d", "4"]), (ok(), 0));
    drop(e);
    sim.crash();
    let e = open(&sim, true, FsyncPolicy::Always);
    let keys: Vec<Vec<u8>> = digest(&e).into_keys().map(|(_, k)| k).collect();
    assert_eq!(keys, vec![b"a".to_vec(), b"b".to_vec()]);
}

/// A connection opened before the switch must wait for the new log too: its reply to a
/// write made while the base is written leaves only once the manifest names the log.
#[test]
fn a_connection_from_before_the_switch_waits_for_the_new_log() {
    if std::env::var("STRATA_TEST_EXTERNAL_PORT").is_ok() {
        return;
    }
    let server = common::start_with(|c| {
        c.appendfsync = FsyncPolicy::Always;
        c.enable_debug_command = "yes".into();
    });
    let mut early = server.raw();
    assert_eq!(early.q("PING"), common::simple("PONG"));
    let mut admin = server.raw();
    assert_eq!(admin.q("DEBUG POPULATE 1000000"), common::ok());
    assert_eq!(admin.q("CONFIG SET appendonly yes"), common::ok());
    assert_eq!(early.q("SET early 1"), common::ok());
    let mut m = String::new();
    std::fs::File::open(server.dir.path().join("strata.manifest"))
        .expect("the reply left before the manifest named the log")
        .read_to_string(&mut m)
        .unwrap();
    assert!(m.contains("base strata.1.base"), "{m}");
}
