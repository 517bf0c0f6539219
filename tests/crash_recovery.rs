//! Guards the durability contract on the simulated disk: after a power loss at any I/O
//! step, recovery yields exactly the state after some prefix of the executed commands,
//! and under `appendfsync always` that prefix holds every acknowledged write.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use proptest::prelude::*;
use strata::command::Session;
use strata::config::{Config, FsyncPolicy};
use strata::engine::{Engine, OpenOptions};
use strata::persistence::SimFs;
use strata::protocol::ReplyBuf;

#[derive(Clone, Debug)]
enum Op {
    Set(u8, u16),
    Incr(u8),
    Del(u8),
    Append(u8, u8),
    /// MULTI with a few SET/INCR, then EXEC: must recover all or nothing.
    Txn(Vec<(u8, u16)>),
    Flush,
}

fn key(k: u8) -> Vec<u8> {
    format!("k{}", k % 6).into_bytes()
}

fn b(s: impl AsRef<[u8]>) -> Bytes {
    Bytes::copy_from_slice(s.as_ref())
}

fn commands(op: &Op) -> Vec<Vec<Bytes>> {
    match op {
        Op::Set(k, v) => vec![vec![b("SET"), b(key(*k)), b(v.to_string())]],
        Op::Incr(k) => vec![vec![b("INCR"), b(format!("c{}", k % 3))]],
        Op::Del(k) => vec![vec![b("DEL"), b(key(*k))]],
        Op::Append(k, c) => vec![vec![b("APPEND"), b(key(*k)), b([b'a' + c % 26])]],
        Op::Txn(sets) => {
            let mut v = vec![vec![b("MULTI")]];
            for (k, x) in sets {
                v.push(vec![b("SET"), b(key(*k)), b(x.to_string())]);
                v.push(vec![b("INCR"), b("txn")]);
            }
            v.push(vec![b("EXEC")]);
            v
        }
        Op::Flush => vec![vec![b("FLUSHALL")]],
    }
}

type State = BTreeMap<Vec<u8>, Vec<u8>>;

/// The reference model: what each command does to a map of strings.
fn model_apply(m: &mut State, op: &Op) {
    let incr = |m: &mut State, k: Vec<u8>| {
        let n: i64 = m
            .get(&k)
            .map(|v| String::from_utf8_lossy(v).parse().unwrap_or(0))
            .unwrap_or(0);
        m.insert(k, (n + 1).to_string().into_bytes());
    };
    match op {
        Op::Set(k, v) => {
            m.insert(key(*k), v.to_string().into_bytes());
        }
        Op::Incr(k) => incr(m, format!("c{}", k % 3).into_bytes()),
        Op::Del(k) => {
            m.remove(&key(*k));
        }
        Op::Append(k, c) => m.entry(key(*k)).or_default().push(b'a' + c % 26),
        Op::Txn(sets) => {
            for (k, x) in sets {
                m.insert(key(*k), x.to_string().into_bytes());
                incr(m, b"txn".to_vec());
            }
        }
        Op::Flush => m.clear(),
    }
}

fn dump(e: &Engine) -> State {
    e.st.ks
        .db(0)
        .iter()
        .map(|en| {
            let v = en
                .value
                .as_string()
                .expect("only strings in this test")
                .into_owned();
            (en.key.to_vec(), v)
        })
        .collect()
}

fn config(policy: FsyncPolicy) -> Config {
    Config {
        dir: "/data".into(),
        appendonly: true,
        appendfsync: policy,
        ..Config::default()
    }
}

fn open(sim: &SimFs, policy: FsyncPolicy, fatal: Arc<AtomicBool>) -> Option<Engine> {
    Engine::open_with(
        config(policy),
        OpenOptions {
            vfs: Arc::new(sim.clone()),
            fatal: Arc::new(move |_: &str| fatal.store(true, Ordering::SeqCst)),
            prealloc_chunk: 4096,
        },
    )
    .ok()
}

/// Runs `ops` with a power loss at I/O operation `crash_at` (None: no crash). Returns how
/// many ops were executed, how many were acknowledged, and the recovered state.
fn run(
    ops: &[Op],
    policy: FsyncPolicy,
    crash_at: Option<u64>,
    seed: u64,
) -> (usize, usize, State, u64) {
    let sim = SimFs::new(seed);
    if let Some(n) = crash_at {
        sim.crash_at(n);
    }
    let fatal = Arc::new(AtomicBool::new(false));
    let (mut executed, mut acked) = (0, 0);
    if let Some(mut engine) = open(&sim, policy, fatal.clone()) {
        let sync = engine.sync_shared().expect("log enabled");
        let mut sess = Session::new(1, true);
        for op in ops {
            if sim.is_down() || fatal.load(Ordering::SeqCst) {
                break;
            }
            let mut cmds = commands(op);
            let mut out = ReplyBuf::new(false);
            let outcome = engine.execute_batch(&mut sess, &mut cmds, &mut out);
            executed += 1;
            let refused = out.as_bytes().windows(8).any(|w| w == b"MISCONF ");
            if outcome.log_failed.is_some() || refused {
                break;
            }
            // A reply is released once the fsync covering it returned (always), or once
            // the record is in the OS (the other policies; not an acknowledgement of
            // durability, so they count as executed only).
            if policy == FsyncPolicy::Always {
                // The server kicks the group commit when its loop goes idle; so do we.
                sync.kick();
                let deadline = Instant::now() + Duration::from_secs(5);
                while sync.durable_lsn() < outcome.wait_lsn {
                    if fatal.load(Ordering::SeqCst) || sim.is_down() || Instant::now() > deadline {
                        break;
                    }
                    std::thread::sleep(Duration::from_micros(50));
                }
                if sync.durable_lsn() >= outcome.wait_lsn {
                    acked = executed;
                } else {
                    break;
                }
            }
        }
        drop(engine);
    }
    let total_ops = sim.op_count();
    sim.crash();
    let recovered = open(&sim, policy, Arc::new(AtomicBool::new(false)))
        .expect("recovery after a power loss must succeed");
    (executed, acked, dump(&recovered), total_ops)
}

fn check(ops: &[Op], policy: FsyncPolicy, crash_at: u64, seed: u64) {
    let (executed, acked, got, _) = run(ops, policy, Some(crash_at), seed);
    let mut m = State::new();
    let mut prefixes = vec![m.clone()];
    for op in &ops[..executed] {
        model_apply(&mut m, op);
        prefixes.push(m.clone());
    }
    let matches: Vec<usize> = (0..prefixes.len())
        .filter(|&p| prefixes[p] == got)
        .collect();
    assert!(
        !matches.is_empty(),
        "crash at op {crash_at} (seed {seed}): recovered state {got:?} is no prefix of the {executed} executed ops {:?}",
        &ops[..executed]
    );
    assert!(
        matches.iter().any(|&p| p >= acked),
        "crash at op {crash_at} (seed {seed}): {acked} ops were acknowledged under always but recovery holds only a prefix of {:?}",
        matches
    );
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (any::<u8>(), any::<u16>()).prop_map(|(k, v)| Op::Set(k, v)),
        2 => any::<u8>().prop_map(Op::Incr),
        1 => any::<u8>().prop_map(Op::Del),
        1 => (any::<u8>(), any::<u8>()).prop_map(|(k, c)| Op::Append(k, c)),
        1 => prop::collection::vec((any::<u8>(), any::<u16>()), 1..4).prop_map(Op::Txn),
        1 => Just(Op::Flush),
    ]
}

proptest! {
    // 24 sequences x every I/O step of each run (40-90 steps): over 1,000 crash points.
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn always_keeps_every_acknowledged_write_at_every_crash_point(
        ops in prop::collection::vec(op_strategy(), 10..30),
        seed in any::<u64>(),
    ) {
        let (_, _, clean, total) = run(&ops, FsyncPolicy::Always, None, seed);
        let mut m = State::new();
        for op in &ops {
            model_apply(&mut m, op);
        }
        prop_assert_eq!(clean, m, "without a crash, recovery must give the final state");
        for crash_at in 0..total {
            check(&ops, FsyncPolicy::Always, crash_at, seed ^ crash_at);
        }
    }

    #[test]
    fn everysec_and_no_recover_a_prefix_at_every_crash_point(
        ops in prop::collection::vec(op_strategy(), 10..25),
        seed in any::<u64>(),
        everysec in any::<bool>(),
    ) {
        let policy = if everysec { FsyncPolicy::Everysec } else { FsyncPolicy::No };
        let (_, _, _, total) = run(&ops, policy, None, seed);
        for crash_at in (0..total).step_by(3) {
            check(&ops, policy, crash_at, seed ^ crash_at);
        }
    }
}
