//! The engine over the simulated disk, driven command by command (the fault tests).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use strata::command::Session;
use strata::config::{Config, FsyncPolicy};
use strata::engine::{Engine, OpenOptions};
use strata::persistence::SimFs;
use strata::protocol::{Frame, ReplyBuf};

/// A keyspace of strings: (db, key) -> (value, expiry).
pub type Digest = BTreeMap<(usize, Vec<u8>), (Vec<u8>, u64)>;

/// Every key of `e` (strings only) with its value and expiry.
pub fn digest(e: &Engine) -> Digest {
    let mut m = Digest::new();
    for (db, t) in e.st.ks.dbs().iter().enumerate() {
        for en in t.iter() {
            let v = en
                .value
                .as_string()
                .expect("strings only here")
                .into_owned();
            m.insert((db, en.key.to_vec()), (v, en.expire_at()));
        }
    }
    m
}

/// Open an engine on `sim` (data dir `/data`, 4 KiB preallocation steps) under `policy`;
/// a fatal log error sets `fatal` instead of exiting.
pub fn open(sim: &SimFs, policy: FsyncPolicy, fatal: Arc<AtomicBool>) -> Result<Engine, String> {
    let c = Config {
        dir: "/data".into(),
        appendfsync: policy,
        ..Config::default()
    };
    Engine::open_with(
        c,
        OpenOptions {
            vfs: Arc::new(sim.clone()),
            fatal: Arc::new(move |_: &str| fatal.store(true, Ordering::SeqCst)),
            prealloc_chunk: 4096,
        },
    )
    .map_err(|e| e.to_string())
}

/// Run one command; returns its reply (or the log failure as an error) and the LSN the
/// reply must wait for.
pub fn run(e: &mut Engine, sess: &mut Session, args: &[&str]) -> (Frame, u64) {
    let mut cmds = vec![args
        .iter()
        .map(|a| Bytes::copy_from_slice(a.as_bytes()))
        .collect()];
    let mut out = ReplyBuf::new(false);
    let outcome = e.execute_batch(sess, &mut cmds, &mut out);
    if let Some(f) = outcome.log_failed {
        return (Frame::Error(f), 0);
    }
    let (f, _) = Frame::decode(out.as_bytes(), 1 << 20).unwrap().unwrap();
    (f, outcome.wait_lsn)
}

/// Commit what was logged and wait until `lsn` is durable; false after `limit`.
pub fn wait_durable(e: &Engine, lsn: u64, limit: Duration) -> bool {
    let sync = e.sync_shared().expect("the log is on");
    sync.kick();
    let deadline = Instant::now() + limit;
    while sync.durable_lsn() < lsn {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    true
}

/// The `name:value` fields of `INFO persistence`.
pub fn info_persistence(e: &mut Engine, s: &mut Session) -> BTreeMap<String, String> {
    let (f, _) = run(e, s, &["INFO", "persistence"]);
    let Frame::Bulk(b) = f else { panic!("{f:?}") };
    String::from_utf8(b)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
