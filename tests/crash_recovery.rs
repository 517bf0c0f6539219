//! Guards the durability contract on the simulated disk: after a power loss at any I/O
//! step, recovery yields exactly the state after some prefix of the executed commands
//! (over every type, MULTI/EXEC all or nothing; the model is `strata::testkit`'s), and
//! under `appendfsync always` that prefix holds every acknowledged write.

use proptest::prelude::*;
use strata::config::FsyncPolicy;
use strata::persistence::SimFs;
use strata::testkit::{Model, Op, OpReader, Ran, SimEngine};

/// What a run did: the ops executed and acknowledged, the model after each executed op
/// (`models[i]`: after `i` ops), and the recovered engine.
struct Outcome {
    executed: usize,
    acked: usize,
    models: Vec<Model>,
    recovered: SimEngine,
    total_io: u64,
}

/// Runs `ops` with a power loss at I/O operation `crash_at` (None: no crash), then
/// recovers. Under `always` an op counts as acknowledged once the fsync covering it
/// returned; under the other policies ops are only executed (in the OS, not durable).
fn run(ops: &[Op], policy: FsyncPolicy, crash_at: Option<u64>, seed: u64) -> Outcome {
    let sim = SimFs::new(seed);
    if let Some(n) = crash_at {
        sim.crash_at(n);
    }
    let (mut executed, mut acked) = (0, 0);
    let mut models = vec![Model::default()];
    if let Ok(mut e) = SimEngine::open(&sim, policy) {
        for op in ops {
            if e.down() {
                break;
            }
            let lo = strata::util::now_ms();
            let ran = e.run_batch(op.commands());
            let mut m = models.last().unwrap().clone();
            m.apply(op, lo, strata::util::now_ms());
            models.push(m);
            executed += 1;
            if ran == Ran::Unacked {
                break;
            }
            if policy == FsyncPolicy::Always {
                acked = executed;
            }
        }
    }
    let total_io = sim.op_count();
    sim.crash();
    let recovered =
        SimEngine::open(&sim, policy).expect("recovery after a power loss must succeed");
    Outcome {
        executed,
        acked,
        models,
        recovered,
        total_io,
    }
}

fn check(ops: &[Op], policy: FsyncPolicy, crash_at: u64, seed: u64) {
    let o = run(ops, policy, Some(crash_at), seed);
    let ks = &o.recovered.engine.st.ks;
    let matches: Vec<usize> = (0..o.models.len())
        .filter(|&p| o.models[p].check(ks).is_ok())
        .collect();
    assert!(
        !matches.is_empty(),
        "crash at op {crash_at} (seed {seed}): recovered state is no prefix of the {} executed ops {:?}: {}",
        o.executed,
        &ops[..o.executed],
        o.models[o.executed].check(ks).unwrap_err(),
    );
    assert!(
        matches.iter().any(|&p| p >= o.acked),
        "crash at op {crash_at} (seed {seed}): {} ops were acknowledged under always but recovery holds only a prefix of {:?}",
        o.acked,
        matches
    );
}

/// Ops over every type, decoded from random bytes by the generator the `commands` fuzz
/// target uses (about one op per 4 bytes).
fn arb_ops(bytes: std::ops::Range<usize>) -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(any::<u8>(), bytes).prop_map(|b| {
        let mut r = OpReader::new(&b);
        let mut v = Vec::new();
        while !r.is_empty() {
            v.push(r.op());
        }
        v
    })
}

proptest! {
    // 24 sequences x every I/O step of each run (40-90 steps): over 1,000 crash points.
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn always_keeps_every_acknowledged_write_at_every_crash_point(
        ops in arb_ops(40..120),
        seed in any::<u64>(),
    ) {
        let clean = run(&ops, FsyncPolicy::Always, None, seed);
        let last = clean.models.last().unwrap();
        let r = last.check(&clean.recovered.engine.st.ks);
        prop_assert!(r.is_ok(), "without a crash, recovery must give the final state: {}", r.unwrap_err());
        for crash_at in 0..clean.total_io {
            check(&ops, FsyncPolicy::Always, crash_at, seed ^ crash_at);
        }
    }

    #[test]
    fn everysec_and_no_recover_a_prefix_at_every_crash_point(
        ops in arb_ops(40..100),
        seed in any::<u64>(),
        everysec in any::<bool>(),
    ) {
        let policy = if everysec { FsyncPolicy::Everysec } else { FsyncPolicy::No };
        let total = run(&ops, policy, None, seed).total_io;
        for crash_at in (0..total).step_by(3) {
            check(&ops, policy, crash_at, seed ^ crash_at);
        }
    }
}
