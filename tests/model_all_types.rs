//! Guards every data type against the reference model (`strata::testkit`), and durability
//! across them: random command sequences over strings with expiry, keys, databases,
//! lists, hashes, sets, sorted sets and MULTI/EXEC leave Strata in the model's state
//! (values and expiries), and the same state comes back after a restart (log replay),
//! after a log rewrite (base snapshot + log) and from a BGSAVE snapshot.

use std::sync::Arc;

use bytes::Bytes;
use proptest::prelude::*;
use strata::command::Session;
use strata::config::{Config, FsyncPolicy};
use strata::engine::{Engine, OpenOptions};
use strata::keyspace::Keyspace;
use strata::persistence::snapshot::{load_snapshot, SnapshotLimits};
use strata::persistence::{RealFs, Vfs};
use strata::protocol::ReplyBuf;
use strata::testkit::{Model, Op, OpReader};

fn open(dir: &std::path::Path) -> Engine {
    let cfg = Config {
        dir: dir.to_path_buf(),
        appendfsync: FsyncPolicy::No,
        save: String::new(),
        auto_aof_rewrite_percentage: 0,
        ..Config::default()
    };
    Engine::open_with(
        cfg,
        OpenOptions {
            prealloc_chunk: 1 << 16,
            ..OpenOptions::default()
        },
    )
    .unwrap()
}

/// Run `op` and apply it to the model; the live state must match at once.
fn step(e: &mut Engine, s: &mut Session, model: &mut Model, op: &Op) -> Result<(), TestCaseError> {
    let lo = strata::util::now_ms();
    run(e, s, op.commands());
    model.apply(op, lo, strata::util::now_ms());
    let live = model.check(&e.st.ks);
    prop_assert!(live.is_ok(), "live state: {}", live.unwrap_err());
    Ok(())
}

fn run(e: &mut Engine, s: &mut Session, mut cmds: Vec<Vec<Bytes>>) {
    let mut out = ReplyBuf::new(false);
    let o = e.execute_batch(s, &mut cmds, &mut out);
    assert!(o.log_failed.is_none());
}

/// Ops decoded from random bytes by the generator the `commands` fuzz target uses.
fn ops(max_bytes: usize) -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(any::<u8>(), 0..max_bytes).prop_map(|b| {
        let mut r = OpReader::new(&b);
        let mut v = Vec::new();
        while !r.is_empty() {
            v.push(r.op());
        }
        v
    })
}

fn check(model: &Model, ks: &Keyspace, what: &str) -> Result<(), TestCaseError> {
    let r = model.check(ks);
    prop_assert!(r.is_ok(), "{}: {}", what, r.unwrap_err());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn all_types_match_the_model_live_after_replay_rewrite_and_snapshot(
        first in ops(480),
        second in ops(240),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut model = Model::default();
        let mut e = open(dir.path());
        let mut s = Session::new(1, true);
        for o in &first {
            step(&mut e, &mut s, &mut model, o)?;
        }

        // Restart: the log alone (a new session starts in db 0).
        e.close().unwrap();
        drop(e);
        let mut e = open(dir.path());
        let mut s = Session::new(1, true);
        model.reconnect();
        check(&model, &e.st.ks, "after log replay")?;

        // Rewrite (base snapshot + new log) with writes during and after it, then restart.
        run(&mut e, &mut s, vec![vec![Bytes::from_static(b"BGREWRITEAOF")]]);
        for (i, o) in second.iter().enumerate() {
            step(&mut e, &mut s, &mut model, o)?;
            if i % 7 == 0 {
                e.snapshot_pump(2);
            }
        }
        e.finish_snapshot();
        prop_assert!(e.st.persist.aof_last_bgrewrite_ok, "{}", e.st.persist.last_snapshot_error);
        check(&model, &e.st.ks, "live state after the rewrite")?;
        let at_bgsave = model.clone();
        run(&mut e, &mut s, vec![vec![Bytes::from_static(b"BGSAVE")]]);
        e.finish_snapshot();
        e.close().unwrap();
        drop(e);
        let e = open(dir.path());
        check(&model, &e.st.ks, "after restart from base + log")?;

        // The BGSAVE snapshot on its own.
        let mut from_dump = Keyspace::new(e.st.ks.db_count());
        let vfs: Arc<dyn Vfs> = Arc::new(RealFs);
        load_snapshot(&*vfs, &dir.path().join("dump.rdb"), SnapshotLimits::default(), 2, |db, en| {
            from_dump.db_mut(db as usize).insert(en);
            Ok::<(), String>(())
        }).unwrap();
        check(&at_bgsave, &from_dump, "BGSAVE snapshot")?;
    }
}
