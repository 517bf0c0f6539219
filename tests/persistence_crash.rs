// Guards crash safety at every single I/O operation: creation, appends, syncs, log rotation via the manifest, and recovery itself.

use std::convert::Infallible;
use std::path::Path;
use std::sync::Arc;

use strata::persistence::{
    incr_file_name, recover, LogConfig, LogHeader, LogWriter, Record, Recovered, RecoveryOptions,
    SimFs, TornMode, Vfs,
};

const DIR: &str = "/data";
const MODES: [TornMode; 5] = [
    TornMode::Drop,
    TornMode::KeepPrefix,
    TornMode::ZeroFill,
    TornMode::Garbage,
    TornMode::Random,
];

fn opts() -> RecoveryOptions {
    RecoveryOptions {
        log: LogConfig {
            prealloc_chunk: 256,
            low_watermark: 64,
            ..LogConfig::default()
        },
        read_chunk: 96,
        ..RecoveryOptions::default()
    }
}

#[derive(Clone, Copy, Debug)]
enum Step {
    /// Append `n` records whose value is `size` bytes.
    Append(usize, usize),
    Write,
    Sync,
    /// Flush, start a new log file and name it in the manifest (the first half of a rewrite).
    Rotate,
}

const SCRIPT: &[Step] = &[
    Step::Append(3, 5),
    Step::Write,
    Step::Sync,
    Step::Append(2, 40),
    Step::Write,
    Step::Append(1, 600), // larger than a preallocation chunk
    Step::Sync,
    Step::Append(2, 1),
    Step::Rotate,
    Step::Append(2, 9),
    Step::Sync,
    Step::Append(3, 3),
    Step::Write,
];

fn value(lsn: u64, size: usize) -> Vec<u8> {
    (0..size)
        .map(|i| (lsn as usize * 31 + i) as u8 | 1)
        .collect()
}

/// Every record appended in the current timeline (LSN = index + 1) and how many are
/// known durable.
#[derive(Default, Debug)]
struct Model {
    recs: Vec<Vec<u8>>,
    synced: usize,
}

fn open(fs: &SimFs) -> (Vec<Record>, Result<Recovered, String>) {
    let mut got = Vec::new();
    let vfs: Arc<dyn Vfs> = Arc::new(fs.clone());
    let r = recover(
        vfs,
        Path::new(DIR),
        opts(),
        |_| Ok::<(), Infallible>(()),
        |r| {
            got.push(r.clone());
            Ok(())
        },
    )
    .map_err(|e| e.to_string());
    (got, r)
}

fn check(model: &Model, got: &[Record], ctx: &str) {
    assert!(
        got.len() >= model.synced && got.len() <= model.recs.len(),
        "{ctx}: recovered {} records; {} synced, {} appended",
        got.len(),
        model.synced,
        model.recs.len()
    );
    for (i, r) in got.iter().enumerate() {
        assert_eq!(r.lsn, i as u64 + 1, "{ctx}");
        assert_eq!(r.args.len(), 3, "{ctx}");
        assert_eq!(r.args[2][..], model.recs[i][..], "{ctx}: record {}", i + 1);
    }
}

/// Boots (recover + check) and runs the script until the machine dies. Returns whether
/// the whole script ran.
fn run(fs: &SimFs, model: &mut Model, script: &[Step], ctx: &str) -> bool {
    let (got, r) = open(fs);
    let Ok(Recovered {
        mut writer,
        mut manifest,
        ..
    }) = r
    else {
        assert!(
            fs.is_down(),
            "{ctx}: recovery failed without a crash: {r:?}"
        );
        return false;
    };
    check(model, &got, ctx);
    model.recs.truncate(got.len());
    model.synced = got.len();
    let dir = Path::new(DIR);
    for step in script {
        let ok = match *step {
            Step::Append(n, size) => (0..n).all(|_| {
                let lsn = model.recs.len() as u64 + 1;
                let v = value(lsn, size);
                let key = format!("k{lsn}");
                let args = [&b"SET"[..], key.as_bytes(), &v];
                let ok = writer.append(lsn, 0, &args).is_ok();
                if ok {
                    model.recs.push(v);
                }
                ok
            }),
            Step::Write => writer.write_pending().is_ok(),
            Step::Sync => match writer.sync() {
                Ok(p) => {
                    model.synced = model.synced.max(p.lsn as usize);
                    true
                }
                Err(_) => false,
            },
            Step::Rotate => (|| {
                let p = writer.write_and_sync().ok()?;
                model.synced = model.synced.max(p.lsn as usize);
                let seq = manifest.allocate_seq();
                let path = dir.join(incr_file_name(seq));
                let header = LogHeader::new(seq, writer.next_lsn());
                let new = LogWriter::create(fs, &path, header, opts().log).ok()?;
                fs.sync_dir(dir).ok()?;
                manifest.add_incr(seq).ok()?;
                manifest.store(fs, dir).ok()?;
                writer = new;
                Some(())
            })()
            .is_some(),
        };
        if !ok {
            assert!(fs.is_down(), "{ctx}: {step:?} failed without a crash");
            return false;
        }
    }
    true
}

#[test]
fn crash_at_every_operation_of_a_session() {
    let mut cases = 0;
    for (m, mode) in MODES.iter().enumerate() {
        for seed in 0..3u64 {
            let seed = seed * 10 + m as u64;
            // Dry run: how many operations does the session perform?
            let fs = SimFs::new(seed);
            assert!(run(&fs, &mut Model::default(), SCRIPT, "dry run"));
            let total = fs.op_count();
            assert!(total > 40, "script too small: {total} ops");
            for crash_at in 0..=total {
                let ctx = format!("mode {mode:?} seed {seed} crash at op {crash_at}/{total}");
                let fs = SimFs::new(seed);
                fs.set_torn_mode(*mode);
                fs.crash_at(crash_at);
                let mut model = Model::default();
                let completed = run(&fs, &mut model, SCRIPT, &ctx);
                assert_eq!(completed, crash_at == total, "{ctx}");
                fs.crash();
                // Second boot: recover, check, append one more durably.
                assert!(run(
                    &fs,
                    &mut model,
                    &[Step::Append(1, 7), Step::Write, Step::Sync],
                    &ctx
                ));
                let expect = model.recs.len();
                fs.crash();
                // Third boot: the record appended after recovery is there.
                let (got, r) = open(&fs);
                r.unwrap();
                check(&model, &got, &ctx);
                assert_eq!(got.len(), expect, "{ctx}");
                cases += 1;
            }
        }
    }
    assert!(cases >= 600, "only {cases} crash cases");
}

#[test]
fn recovery_itself_survives_a_crash_at_every_operation() {
    // A data dir with two logs whose last one has a torn tail of un-synced records.
    let setup = |fs: &SimFs, model: &mut Model| {
        fs.set_torn_mode(TornMode::KeepPrefix);
        assert!(run(fs, model, SCRIPT, "setup"));
        fs.crash();
    };
    for seed in 0..20u64 {
        let probe = SimFs::new(seed);
        let mut model = Model::default();
        setup(&probe, &mut model);
        let before = probe.op_count();
        let (want, r) = open(&probe);
        let truncated = r.unwrap().stats.truncated.is_some();
        let recovery_ops = probe.op_count() - before;
        for crash_at in 0..recovery_ops {
            let fs = SimFs::new(seed);
            let mut m = Model::default();
            setup(&fs, &mut m);
            let ctx = format!("seed {seed} crash at recovery op {crash_at}");
            // Crash repeatedly at the same point of each recovery attempt (an attempt
            // after a crash may need fewer operations, and then completes).
            for mode in MODES {
                fs.set_torn_mode(mode);
                fs.crash_at(fs.op_count() + crash_at);
                let (got, r) = open(&fs);
                if r.is_err() {
                    assert!(fs.is_down(), "{ctx}: {r:?}");
                    assert_eq!(got[..], want[..got.len()], "{ctx}");
                } else {
                    assert_eq!(got, want, "{ctx}");
                }
                fs.crash();
            }
            let (got, r) = open(&fs);
            let r = r.unwrap();
            assert_eq!(got, want, "{ctx}");
            assert!(truncated || r.stats.truncated.is_none(), "{ctx}");
        }
    }
}
