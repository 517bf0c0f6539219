//! Measures command execution through the engine (`Engine::execute_batch`, no sockets):
//! SET/GET/INCR/MSET, LPUSH/LPOP, HSET, SADD, ZADD, EVALSHA (INCR in Lua) shaped like redis-benchmark's (-d 64,
//! random keys/members), one command per batch (pipeline 1) and 16 per batch, with the log
//! off and, for SET/GET, with the log on (`appendfsync everysec`, real file: one write
//! per batch).

use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use strata::command::Session;
use strata::config::{Config, FsyncPolicy};
use strata::engine::Engine;
use strata::protocol::{Args, ReplyBuf};

// The server's allocator, so allocation costs are measured as it pays them.
#[cfg(feature = "jemalloc")]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

const VALUE: &[u8; 64] = b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";
/// Distinct keys (SET/GET/INCR) and members (HSET/SADD/ZADD). GET's keys are preloaded.
const KEYSPACE: u64 = 100_000;
/// Commands built (untimed) and then executed (timed) at a time.
const CHUNK: usize = 4096;
/// The script EVALSHA runs.
const SCRIPT: &str = "return redis.call('INCR', KEYS[1])";
/// LPUSH's list is emptied (untimed) when it grows past this.
const MAX_LIST: u64 = 1_000_000;

/// A small deterministic generator (xorshift64*), so runs are comparable.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

fn key(i: u64) -> Bytes {
    Bytes::from(format!("key:{i:012}"))
}
fn member(i: u64) -> Bytes {
    Bytes::from(format!("element:{i:012}"))
}
fn b(s: &'static str) -> Bytes {
    Bytes::from_static(s.as_bytes())
}

/// One command as redis-benchmark's `-t NAME -d 64 -r KEYSPACE` would send it.
fn make(name: &str, r: &mut Rng) -> Args {
    let v = Bytes::from_static(VALUE);
    match name {
        "SET" => vec![b("SET"), key(r.below(KEYSPACE)), v],
        "GET" => vec![b("GET"), key(r.below(KEYSPACE))],
        "INCR" => vec![
            b("INCR"),
            Bytes::from(format!("counter:{:012}", r.below(KEYSPACE))),
        ],
        "MSET10" => {
            let mut a = vec![b("MSET")];
            for _ in 0..10 {
                a.push(key(r.below(KEYSPACE)));
                a.push(v.clone());
            }
            a
        }
        // INCR through a cached Lua script (SCRIPT LOAD in `Bench::new`).
        "EVALSHA" => vec![
            b("EVALSHA"),
            Bytes::from(strata::command::scripting::sha1_hex(SCRIPT.as_bytes())),
            b("1"),
            Bytes::from(format!("counter:{:012}", r.below(KEYSPACE))),
        ],
        "LPUSH" => vec![b("LPUSH"), b("mylist"), v],
        "LPOP" => vec![b("LPOP"), b("mylist")],
        "HSET" => vec![b("HSET"), b("myhash"), member(r.below(KEYSPACE)), v],
        "SADD" => vec![b("SADD"), b("myset"), member(r.below(KEYSPACE))],
        "ZADD" => vec![
            b("ZADD"),
            b("myzset"),
            Bytes::from(r.below(1_000_000).to_string()),
            member(r.below(KEYSPACE)),
        ],
        _ => unreachable!("{name}"),
    }
}

struct Bench {
    engine: Engine,
    sess: Session,
    out: ReplyBuf,
    rng: Rng,
    _dir: Option<tempfile::TempDir>,
}

impl Bench {
    fn new(log: bool) -> Self {
        let mut config = Config {
            save: String::new(),
            auto_aof_rewrite_percentage: 0,
            ..Config::default()
        };
        let (engine, dir) = if log {
            let dir = tempfile::tempdir().expect("temp dir");
            config.dir = dir.path().to_path_buf();
            config.appendonly = true;
            config.appendfsync = FsyncPolicy::Everysec;
            (Engine::open(config).expect("open engine"), Some(dir))
        } else {
            config.appendonly = false;
            (Engine::new(config), None)
        };
        let mut bench = Bench {
            engine,
            sess: Session::new(1, true),
            out: ReplyBuf::new(false),
            rng: Rng(0x9E37_79B9_7F4A_7C15),
            _dir: dir,
        };
        bench.run(&mut vec![vec![b("SCRIPT"), b("LOAD"), b(SCRIPT)]]);
        // GET hits: preload every key.
        for chunk in (0..KEYSPACE).collect::<Vec<_>>().chunks(1000) {
            let mut cmds: Vec<Args> = chunk
                .iter()
                .map(|&i| vec![b("SET"), key(i), Bytes::from_static(VALUE)])
                .collect();
            bench.run(&mut cmds);
        }
        bench
    }

    fn run(&mut self, cmds: &mut Vec<Args>) {
        let o = self
            .engine
            .execute_batch(&mut self.sess, cmds, &mut self.out);
        assert!(o.log_failed.is_none());
        self.out.clear();
    }

    fn list_len(&mut self) -> u64 {
        let mut cmds = vec![vec![b("LLEN"), b("mylist")]];
        let o = self
            .engine
            .execute_batch(&mut self.sess, &mut cmds, &mut self.out);
        assert!(o.log_failed.is_none());
        let s = String::from_utf8_lossy(self.out.as_bytes()).into_owned();
        self.out.clear();
        s.trim_start_matches(':')
            .trim()
            .parse()
            .expect("LLEN reply")
    }

    /// Times `iters` commands `name`, `pipe` per batch; building them is not timed.
    fn time(&mut self, name: &str, pipe: usize, iters: u64) -> Duration {
        let mut total = Duration::ZERO;
        let mut left = iters as usize;
        while left > 0 {
            let n = left.min(CHUNK);
            left -= n;
            // Keep LPOP from popping an empty list, and LPUSH's list bounded (untimed).
            if name == "LPOP" {
                let mut fill: Vec<Args> = (0..n).map(|_| make("LPUSH", &mut self.rng)).collect();
                self.run(&mut fill);
            } else if name == "LPUSH" && self.list_len() > MAX_LIST {
                self.run(&mut vec![vec![b("DEL"), b("mylist")]]);
            }
            let mut batches: Vec<Vec<Args>> = Vec::with_capacity(n / pipe + 1);
            let mut built = 0;
            while built < n {
                let k = pipe.min(n - built);
                batches.push((0..k).map(|_| make(name, &mut self.rng)).collect());
                built += k;
            }
            let t0 = Instant::now();
            for cmds in &mut batches {
                self.run(cmds);
            }
            total += t0.elapsed();
        }
        total
    }
}

fn apply(c: &mut Criterion) {
    let mut bench = Bench::new(false);
    let names = [
        "SET", "GET", "INCR", "MSET10", "LPUSH", "LPOP", "HSET", "SADD", "ZADD", "EVALSHA",
    ];
    for pipe in [1usize, 16] {
        let mut g = c.benchmark_group(format!("apply/log_off/p{pipe}"));
        g.sampling_mode(SamplingMode::Flat);
        g.throughput(Throughput::Elements(1));
        for name in names {
            g.bench_function(name, |bch| {
                bch.iter_custom(|iters| bench.time(name, pipe, iters))
            });
        }
        g.finish();
    }
    drop(bench);

    let mut bench = Bench::new(true);
    for pipe in [1usize, 16] {
        let mut g = c.benchmark_group(format!("apply/everysec/p{pipe}"));
        g.sampling_mode(SamplingMode::Flat);
        g.throughput(Throughput::Elements(1));
        for name in ["SET", "GET"] {
            g.bench_function(name, |bch| {
                bch.iter_custom(|iters| bench.time(name, pipe, iters))
            });
        }
        g.finish();
    }
    bench.engine.close().expect("close the log");
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(10)
}

criterion_group! {
    name = benches;
    config = config();
    targets = apply
}
criterion_main!(benches);
