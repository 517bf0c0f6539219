//! `verify-aof drill`: crash drills with a ledger of acknowledged writes.
//!
//! * SIGKILL mode (default): [`process`] starts `strata-server`, [`workload`] clients
//!   write through TCP, the server is killed with SIGKILL at a random moment, `check`
//!   runs on the directory, the server is restarted on it and the keyspace is verified.
//! * `--power-loss`: the same workload against the engine in this process on the
//!   recording file layer of [`power`]; the power is cut at a random moment, the
//!   post-power-loss image is written to a new directory, checked, and the real
//!   `strata-server` is restarted on it for the same verification.
//!
//! The contract checked per round (DESIGN.md §2–3): no invented data, per client an exact
//! prefix of its writes; after SIGKILL no acknowledged write lost under any policy (every
//! `+OK` means "in the OS"); after a power loss none lost under `always`, and under
//! `everysec` only writes acknowledged less than [`EVERYSEC_MAX_AGE_MS`] before the cut.

mod plot;
mod power;
mod process;
mod workload;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use strata::command::Session;
use strata::config::{Config, FsyncPolicy};
use strata::engine::{Engine, OpenOptions};

use crate::scan::{scan, Verdict};
use process::Server;
use workload::{client_loop, verify, Ledger, Target};

/// Under `everysec`, a power loss may lose only writes acknowledged this recently.
pub const EVERYSEC_MAX_AGE_MS: f64 = 2000.0;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    Always,
    Everysec,
    No,
    /// `everysec`, and every write followed by `WAITAOF 1 0 0`: acknowledged means
    /// durable, as under `always`.
    EverysecWaitaof,
    /// `no`, and every write followed by `WAITAOF 1 0 0`.
    NoWaitaof,
}

impl Policy {
    pub fn name(self) -> &'static str {
        match self {
            Policy::Always => "always",
            Policy::Everysec => "everysec",
            Policy::No => "no",
            Policy::EverysecWaitaof => "everysec+waitaof",
            Policy::NoWaitaof => "no+waitaof",
        }
    }

    fn fsync(self) -> FsyncPolicy {
        match self {
            Policy::Always => FsyncPolicy::Always,
            Policy::Everysec | Policy::EverysecWaitaof => FsyncPolicy::Everysec,
            Policy::No | Policy::NoWaitaof => FsyncPolicy::No,
        }
    }

    /// The server's `appendfsync` value.
    pub fn fsync_name(self) -> &'static str {
        match self.fsync() {
            FsyncPolicy::Always => "always",
            FsyncPolicy::Everysec => "everysec",
            FsyncPolicy::No => "no",
        }
    }

    /// Writes are confirmed durable one by one (with WAITAOF).
    pub fn waitaof(self) -> bool {
        matches!(self, Policy::EverysecWaitaof | Policy::NoWaitaof)
    }
}

pub struct Options {
    pub server: Option<PathBuf>,
    pub rounds: u32,
    pub policies: Vec<Policy>,
    pub clients: usize,
    pub power_loss: bool,
    pub plot: Option<PathBuf>,
    pub seconds_per_round: f64,
    pub seed: Option<u64>,
}

/// One round's measurements and verdict.
#[derive(Debug, Clone)]
pub struct RoundResult {
    pub policy: Policy,
    pub round: u32,
    pub attempted: u64,
    pub acked: u64,
    /// From the start of the writes to the crash.
    pub seconds: f64,
    /// Acknowledgement latencies (µs).
    pub latencies_us: Vec<u32>,
    pub lost: u64,
    pub max_lost_age_ms: Option<f64>,
    /// Restart until the server answered PING (ms); `None` if it did not come back.
    pub recovery_ms: Option<f64>,
    /// `check` on the directory after the crash (before restart).
    pub check: String,
    /// Power loss: bytes written but not fsynced at the cut, and how many survived.
    pub unsynced_bytes: u64,
    pub unsynced_kept: u64,
    /// Power loss: what the image kept of each file.
    pub image: String,
    pub violations: Vec<String>,
    pub passed: bool,
}

impl RoundResult {
    pub fn throughput(&self) -> f64 {
        if self.seconds > 0.0 {
            self.acked as f64 / self.seconds
        } else {
            0.0
        }
    }
}

/// All rounds of one policy.
#[derive(Debug, Clone)]
pub struct Summary {
    pub policy: Policy,
    pub rounds: u32,
    pub passed: u32,
    pub acked: u64,
    pub seconds: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub lost: u64,
    pub max_lost_age_ms: Option<f64>,
    pub recovery_p50_ms: f64,
    pub recovery_max_ms: f64,
    pub torn_after_crash: u32,
    pub max_unsynced_bytes: u64,
}

impl Summary {
    pub fn throughput(&self) -> f64 {
        if self.seconds > 0.0 {
            self.acked as f64 / self.seconds
        } else {
            0.0
        }
    }
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    f64::from(sorted[i]) / 1000.0
}

fn summarize(policy: Policy, rs: &[&RoundResult]) -> Summary {
    let mut lat: Vec<u32> = rs
        .iter()
        .flat_map(|r| r.latencies_us.iter().copied())
        .collect();
    lat.sort_unstable();
    let mut rec: Vec<f64> = rs.iter().filter_map(|r| r.recovery_ms).collect();
    rec.sort_by(f64::total_cmp);
    Summary {
        policy,
        rounds: rs.len() as u32,
        passed: rs.iter().filter(|r| r.passed).count() as u32,
        acked: rs.iter().map(|r| r.acked).sum(),
        seconds: rs.iter().map(|r| r.seconds).sum(),
        p50_ms: percentile(&lat, 0.50),
        p99_ms: percentile(&lat, 0.99),
        lost: rs.iter().map(|r| r.lost).sum(),
        max_lost_age_ms: rs
            .iter()
            .filter_map(|r| r.max_lost_age_ms)
            .max_by(f64::total_cmp),
        recovery_p50_ms: rec
            .get(rec.len().saturating_sub(1) / 2)
            .copied()
            .unwrap_or(0.0),
        recovery_max_ms: rec.last().copied().unwrap_or(0.0),
        torn_after_crash: rs.iter().filter(|r| r.check == "torn-tail").count() as u32,
        max_unsynced_bytes: rs.iter().map(|r| r.unsynced_bytes).max().unwrap_or(0),
    }
}

/// The contract for this mode and policy; fills `violations` and `passed`.
fn judge(r: &mut RoundResult, power_loss: bool) {
    if r.acked == 0 {
        r.violations
            .push("no write was acknowledged before the crash: nothing was tested".into());
    }
    if r.check == Verdict::Corrupt.name() || r.check.starts_with("unreadable") {
        r.violations.push(format!(
            "`verify-aof check` after the crash: {} (a crash may leave a torn tail, never \
             corruption)",
            r.check
        ));
    }
    if r.lost > 0 {
        let age = r.max_lost_age_ms.unwrap_or(0.0);
        match (power_loss, r.policy) {
            (false, p) => r.violations.push(format!(
                "{} acknowledged writes lost after a process crash under {} (oldest {age:.0} ms \
                 old): +OK means the write is in the OS, which survives a process crash",
                r.lost,
                p.name()
            )),
            (true, Policy::Always) => r.violations.push(format!(
                "{} acknowledged writes lost after a power loss under always (oldest {age:.0} ms \
                 old): +OK under always means fdatasync returned",
                r.lost
            )),
            (true, p) if p.waitaof() => r.violations.push(format!(
                "{} writes lost after a power loss under {} (oldest {age:.0} ms old): WAITAOF \
                 answered [1, 0], which means fdatasync returned",
                r.lost,
                p.name()
            )),
            (true, Policy::Everysec) if age > EVERYSEC_MAX_AGE_MS => r.violations.push(format!(
                "under everysec a power loss lost a write acknowledged {age:.0} ms before it \
                 (bound: {EVERYSEC_MAX_AGE_MS:.0} ms)"
            )),
            (true, _) => {}
        }
    }
    r.passed = r.violations.is_empty();
}

struct TcpTarget {
    con: redis::Connection,
    /// Follow every write with `WAITAOF 1 0 0` and require `[1, 0]`.
    waitaof: bool,
}

impl Target for TcpTarget {
    fn write(&mut self, keys: &[String], value: &str) -> Result<(), String> {
        let r: redis::RedisResult<()> = if keys.len() == 1 {
            redis::cmd("SET")
                .arg(&keys[0])
                .arg(value)
                .query(&mut self.con)
        } else {
            let mut p = redis::pipe();
            p.atomic();
            for k in keys {
                p.cmd("SET").arg(k).arg(value).ignore();
            }
            p.query(&mut self.con)
        };
        r.map_err(|e| e.to_string())?;
        if self.waitaof {
            let w: Vec<i64> = redis::cmd("WAITAOF")
                .arg(1)
                .arg(0)
                .arg(0)
                .query(&mut self.con)
                .map_err(|e| e.to_string())?;
            if w != [1, 0] {
                return Err(format!("WAITAOF answered {w:?}"));
            }
        }
        Ok(())
    }
}

fn latencies(ledgers: &[Ledger]) -> Vec<u32> {
    ledgers
        .iter()
        .flat_map(|l| l.entries.iter())
        .filter_map(|e| {
            e.acked_us
                .map(|a| a.saturating_sub(e.sent_us).min(u64::from(u32::MAX)) as u32)
        })
        .collect()
}

fn sleep_until(t: Instant) {
    let now = Instant::now();
    if t > now {
        std::thread::sleep(t - now);
    }
}

fn tempdir() -> Result<tempfile::TempDir, String> {
    tempfile::Builder::new()
        .prefix("verify-aof-drill-")
        .tempdir()
        .map_err(|e| format!("cannot create a temporary directory: {e}"))
}

/// Restarts the real server on `dir`, runs the checks; fills the result.
fn restart_and_verify(
    bin: &Path,
    dir: &Path,
    log: &Path,
    ledgers: &[Ledger],
    crash_us: u64,
    r: &mut RoundResult,
) {
    r.check = match scan(dir) {
        Ok(rep) => {
            let v = rep.verdict();
            if v == Verdict::Corrupt {
                for p in rep.problems.iter().take(3) {
                    r.violations.push(format!(
                        "check after the crash: [{}] {} offset {:?}: {}",
                        p.kind.name(),
                        p.file,
                        p.offset,
                        p.detail
                    ));
                }
            }
            v.name().to_string()
        }
        Err(e) => format!("unreadable ({e})"),
    };
    match Server::start(bin, dir, r.policy, log, Duration::from_secs(120)) {
        Ok((server, took)) => {
            r.recovery_ms = Some(took.as_secs_f64() * 1000.0);
            match server.read_all() {
                Ok(recovered) => {
                    let o = verify(ledgers, &recovered, crash_us);
                    r.attempted = o.attempted;
                    r.acked = o.acked;
                    r.lost = o.lost;
                    r.max_lost_age_ms = o.max_lost_age_ms;
                    r.violations.extend(o.violations);
                }
                Err(e) => r.violations.push(e),
            }
        }
        Err(e) => r
            .violations
            .push(format!("the server did not come back after the crash: {e}")),
    }
}

fn crash_moment(rng: &mut SmallRng, seconds: f64) -> Duration {
    Duration::from_secs_f64(rng.gen_range(0.3 * seconds..=seconds))
}

/// One SIGKILL round. `Err` only for setup failures (the first start).
fn sigkill_round(
    bin: &Path,
    policy: Policy,
    round: u32,
    clients: usize,
    seconds: f64,
    rng: &mut SmallRng,
) -> Result<RoundResult, String> {
    let base = tempdir()?;
    let data = base.path().join("data");
    let (mut server, _) = Server::start(
        bin,
        &data,
        policy,
        &base.path().join("server.log"),
        Duration::from_secs(30),
    )?;
    let url = server.url();
    let stop = Arc::new(AtomicBool::new(false));
    let t0 = Instant::now();
    let handles: Vec<_> = (0..clients)
        .map(|c| {
            let stop = stop.clone();
            let url = url.clone();
            std::thread::spawn(move || {
                let con = redis::Client::open(url)
                    .and_then(|cl| cl.get_connection_with_timeout(Duration::from_secs(5)));
                match con {
                    Ok(con) => {
                        let _ = con.set_read_timeout(Some(Duration::from_secs(30)));
                        let _ = con.set_write_timeout(Some(Duration::from_secs(30)));
                        let waitaof = policy.waitaof();
                        client_loop(c, &mut TcpTarget { con, waitaof }, t0, &stop)
                    }
                    Err(e) => Ledger {
                        client: c,
                        entries: Vec::new(),
                        stopped_by: Some(format!("connect: {e}")),
                    },
                }
            })
        })
        .collect();
    sleep_until(t0 + crash_moment(rng, seconds));
    let crash_us = t0.elapsed().as_micros() as u64;
    server.kill();
    stop.store(true, Ordering::Relaxed);
    let ledgers: Vec<Ledger> = handles
        .into_iter()
        .map(|h| h.join().unwrap_or_default())
        .collect();
    let mut r = RoundResult {
        policy,
        round,
        attempted: 0,
        acked: 0,
        seconds: crash_us as f64 / 1e6,
        latencies_us: latencies(&ledgers),
        lost: 0,
        max_lost_age_ms: None,
        recovery_ms: None,
        check: String::new(),
        unsynced_bytes: 0,
        unsynced_kept: 0,
        image: String::new(),
        violations: Vec::new(),
        passed: false,
    };
    restart_and_verify(
        bin,
        &data,
        &base.path().join("server-restart.log"),
        &ledgers,
        crash_us,
        &mut r,
    );
    Ok(r)
}

/// One power-loss round (see [`power`]).
fn power_round(
    bin: &Path,
    policy: Policy,
    round: u32,
    clients: usize,
    seconds: f64,
    rng: &mut SmallRng,
) -> Result<RoundResult, String> {
    let base = tempdir()?;
    let data = base.path().join("data");
    let image_dir = base.path().join("image");
    let fs = power::ShadowFs::new();
    let config = Config {
        dir: data.clone(),
        appendonly: true,
        appendfsync: policy.fsync(),
        save: String::new(),
        ..Config::default()
    };
    let fatal: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
    let fatal2 = fatal.clone();
    let engine = Engine::open_with(
        config,
        OpenOptions {
            vfs: Arc::new(fs.clone()),
            // Under always a failed log write ends the server; here the power is off
            // anyway: remember it instead of exiting this process.
            fatal: Arc::new(move |m: &str| {
                let mut f = fatal2.lock().unwrap_or_else(|p| p.into_inner());
                f.get_or_insert_with(|| m.to_string());
            }),
            prealloc_chunk: strata::persistence::DEFAULT_PREALLOC_CHUNK,
        },
    )
    .map_err(|e| format!("cannot open the engine on {}: {e}", data.display()))?
    .shared();
    let sync = Engine::lock(&engine).sync_shared();
    let stop = Arc::new(AtomicBool::new(false));
    // What the server's background tasks do: `tick` 10 times a second (hz), and drive a
    // snapshot in progress (an automatic log rewrite starts once the log passes
    // auto-aof-rewrite-min-size) one bounded step at a time.
    let ticker = {
        let (engine, stop) = (engine.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut last_tick = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                let active = Engine::lock(&engine).snapshot_pump(strata::engine::SNAPSHOT_STEP);
                std::thread::sleep(Duration::from_millis(if active { 1 } else { 10 }));
                if last_tick.elapsed() >= Duration::from_millis(100) {
                    last_tick = Instant::now();
                    Engine::lock(&engine).tick();
                }
            }
        })
    };
    let t0 = Instant::now();
    let busy = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let handles: Vec<_> = (0..clients)
        .map(|c| {
            let mut target = power::EngineTarget {
                engine: engine.clone(),
                sync: sync.clone(),
                sess: Session::new(1000 + c as u64, true),
                stop: stop.clone(),
                busy: busy.clone(),
                waitaof: policy.waitaof(),
            };
            let stop = stop.clone();
            std::thread::spawn(move || client_loop(c, &mut target, t0, &stop))
        })
        .collect();
    sleep_until(t0 + crash_moment(rng, seconds));
    let crash_us = t0.elapsed().as_micros() as u64;
    fs.cut();
    stop.store(true, Ordering::Relaxed);
    let ledgers: Vec<Ledger> = handles
        .into_iter()
        .map(|h| h.join().unwrap_or_default())
        .collect();
    let _ = ticker.join();
    drop(sync);
    drop(engine);
    let mut r = RoundResult {
        policy,
        round,
        attempted: 0,
        acked: 0,
        seconds: crash_us as f64 / 1e6,
        latencies_us: latencies(&ledgers),
        lost: 0,
        max_lost_age_ms: None,
        recovery_ms: None,
        check: String::new(),
        unsynced_bytes: 0,
        unsynced_kept: 0,
        image: String::new(),
        violations: Vec::new(),
        passed: false,
    };
    let image = fs
        .write_image(&data, &image_dir, rng)
        .map_err(|e| format!("cannot write the power-loss image: {e}"))?;
    for f in &image.files {
        r.unsynced_bytes += f.unsynced;
        r.unsynced_kept += f.kept;
        if f.unsynced > 0 {
            r.image.push_str(&format!(
                "{}: {} bytes durable, {} unsynced of which {} kept ({:?}); ",
                f.name, f.durable, f.unsynced, f.kept, f.mode
            ));
        }
    }
    for n in &image.notes {
        r.image.push_str(&format!("{n}; "));
    }
    for i in &image.inexact {
        r.violations
            .push(format!("power-loss model not exact for this round: {i}"));
    }
    restart_and_verify(
        bin,
        &image_dir,
        &base.path().join("server-restart.log"),
        &ledgers,
        crash_us,
        &mut r,
    );
    Ok(r)
}

fn failure_text(r: &RoundResult) -> String {
    format!(
        "FAILED {} round {}: {}{}",
        r.policy.name(),
        r.round,
        r.violations.join("; "),
        if r.image.is_empty() {
            String::new()
        } else {
            format!(" [image: {}]", r.image.trim_end_matches("; "))
        }
    )
}

fn table(summaries: &[Summary], power_loss: bool) -> String {
    let mut o = String::new();
    o.push_str(
        "| policy | rounds passed | throughput (ops/s) | p50 latency (ms) | p99 latency (ms) | \
         acknowledged writes | acked writes lost | oldest lost (ms) | recovery p50 / max (ms) | \
         torn tail after crash |",
    );
    o.push_str(if power_loss {
        " unsynced bytes at the cut (max) |\n| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n"
    } else {
        "\n| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n"
    });
    for s in summaries {
        o.push_str(&format!(
            "| {} | {}/{} | {:.0} | {:.3} | {:.3} | {} | {} | {} | {:.0} / {:.0} | {}/{} |",
            s.policy.name(),
            s.passed,
            s.rounds,
            s.throughput(),
            s.p50_ms,
            s.p99_ms,
            s.acked,
            s.lost,
            s.max_lost_age_ms
                .map_or("-".to_string(), |a| format!("{a:.0}")),
            s.recovery_p50_ms,
            s.recovery_max_ms,
            s.torn_after_crash,
            s.rounds
        ));
        if power_loss {
            o.push_str(&format!(" {} |", s.max_unsynced_bytes));
        }
        o.push('\n');
    }
    o
}

pub fn run(o: Options) -> u8 {
    let bin = match process::find_server(o.server.as_deref()) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("verify-aof drill: {e}");
            return crate::exit::IO;
        }
    };
    let seed = o.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    });
    let mode = if o.power_loss {
        "simulated power loss: in-process engine on the real disk, fsynced bytes + torn \
         remainder kept, real strata-server restarted on the image"
    } else {
        "SIGKILL of strata-server (process crash)"
    };
    println!(
        "drill: {} x {} rounds, {} clients, {:.1} s per round, seed {seed}\nmode: {mode}\nserver: {}",
        o.policies
            .iter()
            .map(|p| p.name())
            .collect::<Vec<_>>()
            .join("/"),
        o.rounds,
        o.clients,
        o.seconds_per_round,
        bin.display()
    );
    let total = u64::from(o.rounds) * o.policies.len() as u64;
    let pb = ProgressBar::new(total);
    pb.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut results: Vec<RoundResult> = Vec::new();
    for &policy in &o.policies {
        for round in 1..=o.rounds {
            pb.set_message(format!("{} round {round}/{}", policy.name(), o.rounds));
            let r = if o.power_loss {
                power_round(
                    &bin,
                    policy,
                    round,
                    o.clients,
                    o.seconds_per_round,
                    &mut rng,
                )
            } else {
                sigkill_round(
                    &bin,
                    policy,
                    round,
                    o.clients,
                    o.seconds_per_round,
                    &mut rng,
                )
            };
            let mut r = match r {
                Ok(r) => r,
                Err(e) => {
                    pb.finish_and_clear();
                    eprintln!("verify-aof drill: {} round {round}: {e}", policy.name());
                    return crate::exit::IO;
                }
            };
            judge(&mut r, o.power_loss);
            if !r.passed {
                let msg = failure_text(&r);
                // Shown at once (the bar is hidden when stderr is not a terminal), and again
                // in the final report on stdout.
                pb.suspend(|| eprintln!("{msg}"));
            }
            results.push(r);
            pb.inc(1);
        }
    }
    pb.finish_and_clear();
    let summaries: Vec<Summary> = o
        .policies
        .iter()
        .map(|&p| {
            let rs: Vec<&RoundResult> = results.iter().filter(|r| r.policy == p).collect();
            summarize(p, &rs)
        })
        .collect();
    println!();
    print!("{}", table(&summaries, o.power_loss));
    if o.power_loss {
        println!(
            "\nlatency: from the engine call to the acknowledgement, in-process (no network); \
             loss age: power cut minus acknowledgement time of the oldest lost write"
        );
    } else {
        println!(
            "\nlatency: request to reply over TCP on loopback; recovery: restart until the \
             server answers PING"
        );
    }
    if let Some(path) = &o.plot {
        let title = if o.power_loss {
            "verify-aof drill: simulated power loss"
        } else {
            "verify-aof drill: SIGKILL (process crash)"
        };
        let subtitle = format!(
            "{} rounds per policy, {} clients, crash at a random moment of each {:.1} s round",
            o.rounds, o.clients, o.seconds_per_round
        );
        let svg = plot::svg(title, &subtitle, &results, &summaries);
        if let Err(e) = std::fs::write(path, svg) {
            eprintln!("verify-aof drill: cannot write {}: {e}", path.display());
            return crate::exit::IO;
        }
        println!("plot written to {}", path.display());
    }
    let failed = results.iter().filter(|r| !r.passed).count();
    if failed > 0 {
        for r in results.iter().filter(|r| !r.passed) {
            println!("{}", failure_text(r));
        }
        println!("{failed} round(s) FAILED (seed {seed})");
        crate::exit::TORN_OR_FAILED
    } else {
        println!("all {} rounds passed", results.len());
        crate::exit::OK
    }
}
