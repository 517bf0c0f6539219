//! Fuzz the engine against the reference model (`strata::testkit`) through a power loss:
//! a structured sequence of commands over every type (strings with expiry, keys, lists,
//! hashes, sets, sorted sets, databases, MULTI/EXEC/DISCARD, log rewrites) runs on the
//! simulated disk under `appendfsync always`; the live keyspace must equal the model after
//! every acknowledged command. The power fails in the middle (between two commands, or at
//! an I/O step the input picks, with the torn-write mode it picks); recovery must give
//! exactly the model's state after every acknowledged command (plus, possibly, the one
//! command in flight). The rest of the sequence then runs on the recovered engine, and a
//! second power loss at the end must again lose nothing acknowledged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata::config::FsyncPolicy;
use strata::persistence::{SimFs, TornMode};
use strata::testkit::{Model, Op, OpReader, Ran, SimEngine};

/// Commands per input (rewrites included): enough to build every type, short enough for
/// hundreds of executions per second.
const MAX_STEPS: usize = 40;

#[derive(Debug, Clone)]
enum Step {
    Op(Op),
    /// BGREWRITEAOF, run to completion: later recoveries start from a base snapshot.
    Rewrite,
}

struct Input {
    seed: u64,
    torn: TornMode,
    /// The power fails before this step ...
    crash_before: usize,
    /// ... or, if set, this many I/O operations after that step started.
    crash_delay: Option<u8>,
    steps: Vec<Step>,
}

fn input(data: &[u8]) -> Input {
    let mut r = OpReader::new(data);
    let seed = r.u64();
    let torn = [
        TornMode::Drop,
        TornMode::KeepPrefix,
        TornMode::ZeroFill,
        TornMode::Garbage,
        TornMode::Random,
    ][r.u8() as usize % 5];
    let crash_before = r.u8() as usize;
    let crash_delay = r.bool().then(|| r.u8());
    let mut steps = Vec::new();
    while steps.len() < MAX_STEPS && !r.is_empty() {
        steps.push(if r.u8().is_multiple_of(24) {
            Step::Rewrite
        } else {
            Step::Op(r.op())
        });
    }
    Input {
        seed,
        torn,
        crash_before: crash_before % (steps.len() + 1),
        crash_delay,
        steps,
    }
}

/// Run `step`, then check the live state. Returns the model after the step if it was not
/// acknowledged (it may or may not survive).
fn run(e: &mut SimEngine, model: &mut Model, step: &Step, history: &[Step]) -> Option<Model> {
    let lo = strata::util::now_ms();
    let ran = match step {
        Step::Op(op) => e.run_batch(op.commands()),
        Step::Rewrite => {
            let ran = e.run_batch(vec![vec!["BGREWRITEAOF".into()]]);
            e.engine.finish_snapshot();
            ran
        }
    };
    let hi = strata::util::now_ms();
    let mut after = model.clone();
    if let Step::Op(op) = step {
        after.apply(op, lo, hi);
    }
    if ran == Ran::Unacked {
        return Some(after);
    }
    *model = after;
    if let Err(diff) = model.check(&e.engine.st.ks) {
        panic!("live state differs from the model: {diff}\nafter {history:#?}");
    }
    None
}

/// Power loss, then recovery: the state must be `model`'s or `in_flight`'s.
fn power_loss(
    e: SimEngine,
    model: &mut Model,
    in_flight: Option<Model>,
    history: &[Step],
) -> SimEngine {
    let sim = e.sim.clone();
    drop(e);
    sim.crash();
    let e = SimEngine::open(&sim, FsyncPolicy::Always).unwrap_or_else(|err| {
        panic!("recovery after a power loss failed: {err}\nafter {history:#?}")
    });
    let ks = &e.engine.st.ks;
    match model.check(ks) {
        Ok(()) => {}
        Err(diff) => match in_flight {
            Some(m) if m.check(ks).is_ok() => *model = m,
            _ => panic!("recovered state is not the acknowledged one: {diff}\nafter {history:#?}"),
        },
    }
    model.reconnect();
    e
}

fuzz_target!(|data: &[u8]| {
    let inp = input(data);
    let sim = SimFs::new(inp.seed);
    sim.set_torn_mode(inp.torn);
    let mut e = SimEngine::open(&sim, FsyncPolicy::Always).expect("a fresh disk opens");
    let mut model = Model::default();
    let mut in_flight = None;
    let mut next = 0;
    // Phase 1: up to the power loss.
    while next < inp.steps.len() {
        if next == inp.crash_before {
            match inp.crash_delay {
                Some(d) => sim.crash_at(sim.op_count() + d as u64),
                None => break,
            }
        }
        next += 1;
        in_flight = run(&mut e, &mut model, &inp.steps[next - 1], &inp.steps[..next]);
        if in_flight.is_some() || e.down() {
            break;
        }
    }
    let mut e = power_loss(e, &mut model, in_flight, &inp.steps[..next]);
    // Phase 2: the rest, on the recovered engine, then a second power loss.
    for i in next..inp.steps.len() {
        let unacked = run(&mut e, &mut model, &inp.steps[i], &inp.steps[..=i]);
        assert!(unacked.is_none(), "a healthy disk failed: step {i}");
    }
    power_loss(e, &mut model, None, &inp.steps);
});
