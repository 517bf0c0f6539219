//! Counts heap allocations per command (not a timing benchmark): RESP decoding of a
//! pipelined buffer, then `Engine::execute_batch` at pipeline 1 and 16 with the log off
//! and under `appendfsync everysec`, through a counting wrapper around the system
//! allocator (counts do not depend on which allocator serves them). Prints a table; `cargo bench --bench allocs`.

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::{Bytes, BytesMut};
use strata::command::Session;
use strata::config::{Config, FsyncPolicy};
use strata::engine::Engine;
use strata::protocol::{Args, Limits, ReplyBuf, RequestDecoder};

struct Counting;
static ALLOCS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so
// `System`'s guarantees carry over; the counters are plain atomics. Exercised by running
// this bench (every allocation of the process goes through it).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(l.size() as u64, Ordering::Relaxed);
        std::alloc::System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        std::alloc::System.dealloc(p, l)
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(l.size() as u64, Ordering::Relaxed);
        std::alloc::System.alloc_zeroed(l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(new as u64, Ordering::Relaxed);
        std::alloc::System.realloc(p, l, new)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn counters() -> (u64, u64) {
    (
        ALLOCS.load(Ordering::Relaxed),
        BYTES.load(Ordering::Relaxed),
    )
}

const VALUE: &[u8; 64] = b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";
const N: u64 = 16_000;
const KEYS: u64 = 10_000;

fn command(name: &str, i: u64) -> Vec<Vec<u8>> {
    let k = format!("key:{:012}", i * 7919 % KEYS).into_bytes();
    let m = format!("element:{:012}", i * 7919 % KEYS).into_bytes();
    let v = VALUE.to_vec();
    let s = |x: &str| x.as_bytes().to_vec();
    match name {
        "SET" => vec![s("SET"), k, v],
        "GET" => vec![s("GET"), k],
        "INCR" => vec![s("INCR"), format!("counter:{}", i % KEYS).into_bytes()],
        "LPUSH" => vec![s("LPUSH"), s("mylist"), v],
        "LPOP" => vec![s("LPOP"), s("mylist")],
        "HSET" => vec![s("HSET"), s("myhash"), m, v],
        "SADD" => vec![s("SADD"), s("myset"), m],
        "ZADD" => vec![
            s("ZADD"),
            s("myzset"),
            (i % 1000).to_string().into_bytes(),
            m,
        ],
        _ => unreachable!(),
    }
}

fn resp(args: &[Vec<u8>]) -> Vec<u8> {
    let mut v = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        v.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        v.extend_from_slice(a);
        v.extend_from_slice(b"\r\n");
    }
    v
}

fn engine(log: Option<&std::path::Path>) -> Engine {
    let mut c = Config {
        save: String::new(),
        auto_aof_rewrite_percentage: 0,
        appendonly: false,
        ..Config::default()
    };
    match log {
        None => Engine::new(c),
        Some(dir) => {
            c.dir = dir.to_path_buf();
            c.appendonly = true;
            c.appendfsync = FsyncPolicy::Everysec;
            Engine::open(c).expect("open")
        }
    }
}

/// (allocations, bytes) per command for executing N commands `pipe` per batch; the
/// commands are built before counting starts.
fn execute(e: &mut Engine, name: &str, pipe: usize) -> (f64, f64) {
    let mut sess = Session::new(1, true);
    let mut out = ReplyBuf::new(false);
    // Warm up: create the key/aggregate and grow buffers to their steady size.
    for i in 0..2000 {
        let mut cmds: Vec<Args> = vec![command(name, i).into_iter().map(Bytes::from).collect()];
        if name == "LPOP" {
            cmds.insert(
                0,
                command("LPUSH", i).into_iter().map(Bytes::from).collect(),
            );
        }
        e.execute_batch(&mut sess, &mut cmds, &mut out);
        out.clear();
    }
    if name == "LPOP" {
        for i in 0..N {
            let mut cmds = vec![command("LPUSH", i).into_iter().map(Bytes::from).collect()];
            e.execute_batch(&mut sess, &mut cmds, &mut out);
            out.clear();
        }
    }
    let mut batches: Vec<Vec<Args>> = (0..N / pipe as u64)
        .map(|b| {
            (0..pipe as u64)
                .map(|j| {
                    command(name, b * pipe as u64 + j)
                        .into_iter()
                        .map(Bytes::from)
                        .collect()
                })
                .collect()
        })
        .collect();
    let (a0, b0) = counters();
    for cmds in &mut batches {
        e.execute_batch(&mut sess, cmds, &mut out);
        out.clear();
    }
    let (a1, b1) = counters();
    ((a1 - a0) as f64 / N as f64, (b1 - b0) as f64 / N as f64)
}

/// (allocations, bytes) per command for decoding N pipelined commands.
fn decode(name: &str) -> (f64, f64) {
    let mut input = Vec::new();
    for i in 0..N {
        input.extend_from_slice(&resp(&command(name, i)));
    }
    let mut buf = BytesMut::from(&input[..]);
    let mut dec = RequestDecoder::new(Limits::default());
    let mut cmds = Vec::with_capacity(N as usize);
    let (a0, b0) = counters();
    while let Some(args) = dec.decode(&mut buf).expect("decode") {
        cmds.push(args);
    }
    let (a1, b1) = counters();
    assert_eq!(cmds.len() as u64, N);
    ((a1 - a0) as f64 / N as f64, (b1 - b0) as f64 / N as f64)
}

fn main() {
    // `cargo bench` passes criterion-style flags (--bench, filters); a filter that does not
    // match "allocs" skips this.
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    if !filters.is_empty() && !filters.iter().any(|f| "allocs".contains(f.as_str())) {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let names = [
        "SET", "GET", "INCR", "LPUSH", "LPOP", "HSET", "SADD", "ZADD",
    ];
    println!("allocations per command (bytes allocated per command), {N} commands each");
    println!("| command | decode | execute p1 | execute p16 | execute p1, everysec | execute p16, everysec |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    let mut off = engine(None);
    let mut on = engine(Some(dir.path()));
    for name in names {
        let d = decode(name);
        let cells = [
            d,
            execute(&mut off, name, 1),
            execute(&mut off, name, 16),
            execute(&mut on, name, 1),
            execute(&mut on, name, 16),
        ];
        let cells: Vec<String> = cells
            .iter()
            .map(|(a, b)| format!("{a:.2} ({b:.0} B)"))
            .collect();
        println!("| {name} | {} |", cells.join(" | "));
    }
    on.close().expect("close");
}
