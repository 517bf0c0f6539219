//! Measures the append-only log (src/persistence/record.rs, log.rs): encoding a record,
//! appending records in memory and to a file (simulated disk and a real file, with and
//! without fdatasync), and replay speed (MB/s and records/s: reading a log, reading and
//! applying it to a keyspace, and a whole `Engine::open` recovery).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{
    black_box, criterion_group, criterion_main, BatchSize, Criterion, SamplingMode, Throughput,
};
use strata::command::{Session, State};
use strata::config::{Config, FsyncPolicy};
use strata::engine::{apply_record, Engine};
use strata::persistence::record::encode_record;
use strata::persistence::{Limits, LogConfig, LogHeader, LogReader, LogWriter, RealFs, SimFs, Vfs};
use strata::protocol::ReplyBuf;

// The server's allocator, so allocation costs are measured as it pays them.
#[cfg(feature = "jemalloc")]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

const VALUE: &[u8; 64] = b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";
/// Records in the log that the replay benchmarks read.
const REPLAY_RECORDS: u64 = 200_000;
/// Distinct keys among them.
const REPLAY_KEYS: u64 = 100_000;

fn set_args(i: u64) -> [Bytes; 3] {
    [
        Bytes::from_static(b"SET"),
        Bytes::from(format!(
            "key:{:012}",
            i.wrapping_mul(2_654_435_761) % REPLAY_KEYS
        )),
        Bytes::from_static(VALUE),
    ]
}

/// A fresh log writer at `path`; LSNs start at 1.
fn writer(vfs: &dyn Vfs, path: &Path) -> LogWriter {
    LogWriter::create(vfs, path, LogHeader::new(1, 1), LogConfig::default()).expect("create log")
}

/// Times `iters` appends of a SET record, handing them to the file every `batch` records
/// (`sync`: fdatasync after each write). A new file per call; creating it is untimed.
fn time_appends(vfs: &dyn Vfs, path: &Path, iters: u64, batch: u64, sync: bool) -> Duration {
    let mut w = writer(vfs, path);
    let args = set_args(7);
    let t0 = Instant::now();
    for lsn in 1..=iters {
        w.append(lsn, 0, &args).expect("append");
        if lsn % batch == 0 || lsn == iters {
            w.write_pending().expect("write");
            if sync {
                w.sync().expect("fdatasync");
            }
        }
    }
    let t = t0.elapsed();
    drop(w);
    let _ = vfs.remove_file(path);
    t
}

fn encode_and_append(c: &mut Criterion) {
    let args = set_args(12345);
    let frame_len = {
        let mut v = Vec::new();
        encode_record(&mut v, 1, 0, &args, &Limits::default()).unwrap()
    } as u64;

    let mut g = c.benchmark_group("log_encode");
    g.throughput(Throughput::Elements(1));
    g.bench_function(format!("SET64_record_{frame_len}B"), |b| {
        let mut out = Vec::with_capacity(1 << 20);
        let mut lsn = 0u64;
        let limits = Limits::default();
        b.iter(|| {
            if out.len() > (1 << 20) - 256 {
                out.clear();
            }
            lsn += 1;
            encode_record(&mut out, lsn, 0, black_box(&args), &limits).unwrap()
        })
    });
    g.finish();

    let mut g = c.benchmark_group("log_append");
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Elements(1));
    // In memory: LogWriter::append into its buffer; the buffer is handed to a simulated
    // disk every 4096 records, untimed.
    g.bench_function("buffer_only", |b| {
        b.iter_custom(|iters| {
            let fs = SimFs::new(1);
            let path = PathBuf::from("/log.incr");
            let mut w = writer(&fs, &path);
            let mut t = Duration::ZERO;
            let mut lsn = 0;
            while lsn < iters {
                let n = (iters - lsn).min(4096);
                let t0 = Instant::now();
                for _ in 0..n {
                    lsn += 1;
                    w.append(lsn, 0, &args).expect("append");
                }
                t += t0.elapsed();
                w.write_pending().expect("write");
            }
            t
        })
    });
    g.bench_function("simfs_write_per_16", |b| {
        b.iter_custom(|iters| {
            time_appends(&SimFs::new(1), Path::new("/log.incr"), iters, 16, false)
        })
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("append.incr");
    for batch in [1u64, 16] {
        g.bench_function(format!("file_write_per_{batch}"), |b| {
            b.iter_custom(|iters| time_appends(&RealFs, &path, iters, batch, false))
        });
    }
    g.finish();

    // The `appendfsync always` ceiling on this disk: one fdatasync per group of 16.
    let mut g = c.benchmark_group("log_append_fdatasync");
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Elements(16));
    g.bench_function("file_group_of_16", |b| {
        b.iter_custom(|iters| time_appends(&RealFs, &path, iters * 16, 16, true))
    });
    g.finish();
}

/// Writes a data directory holding REPLAY_RECORDS SETs (log only, no base snapshot)
/// through the engine, as the server would; returns its config.
fn engine_dir(dir: &Path) -> Config {
    let config = Config {
        dir: dir.to_path_buf(),
        appendonly: true,
        appendfsync: FsyncPolicy::No,
        save: String::new(),
        auto_aof_rewrite_percentage: 0,
        ..Config::default()
    };
    let mut e = Engine::open(config.clone()).expect("open");
    let mut sess = Session::new(1, true);
    let mut out = ReplyBuf::new(false);
    for start in (0..REPLAY_RECORDS).step_by(16) {
        let mut cmds: Vec<_> = (start..start + 16).map(|i| set_args(i).to_vec()).collect();
        e.execute_batch(&mut sess, &mut cmds, &mut out);
        out.clear();
    }
    e.close().expect("close");
    config
}

fn replay(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    // A plain log file for the reader benchmarks.
    let path = dir.path().join("replay.incr");
    let mut w = writer(&RealFs, &path);
    for lsn in 1..=REPLAY_RECORDS {
        w.append(lsn, 0, &set_args(lsn)).unwrap();
        if lsn % 16 == 0 {
            w.write_pending().unwrap();
        }
    }
    w.write_and_sync().unwrap();
    let bytes = w.written().offset;
    drop(w);
    let read_all = || {
        let file = RealFs.open_read(&path).expect("open");
        let mut r = LogReader::new(file, Limits::default()).expect("reader");
        let mut n = 0u64;
        while let Some(rec) = r.next_record().expect("read") {
            black_box(&rec);
            n += 1;
        }
        assert_eq!(n, REPLAY_RECORDS);
    };
    read_all(); // warm the page cache

    let mut g = c.benchmark_group("log_replay");
    g.sampling_mode(SamplingMode::Flat);
    g.measurement_time(Duration::from_secs(3));
    g.throughput(Throughput::Bytes(bytes));
    let label = format!("{REPLAY_RECORDS}rec_{:.1}MB", bytes as f64 / 1e6);
    g.bench_function(format!("read/{label}"), |b| b.iter(read_all));
    g.bench_function(format!("read_apply/{label}"), |b| {
        b.iter_batched(
            || {
                State::new(Config {
                    appendonly: false,
                    save: String::new(),
                    ..Config::default()
                })
            },
            |mut st| {
                let file = RealFs.open_read(&path).expect("open");
                let mut r = LogReader::new(file, Limits::default()).expect("reader");
                while let Some(rec) = r.next_record().expect("read") {
                    apply_record(&mut st, rec, 0).expect("apply");
                }
                st
            },
            BatchSize::PerIteration,
        )
    });

    // The whole recovery: manifest, log, keyspace (what restart costs, minus the server).
    let edir = dir.path().join("engine");
    let config = engine_dir(&edir);
    // The engine logged the same records, so the same log bytes (its file also holds
    // preallocated zeros after the records, which recovery checks are all zero).
    g.bench_function(format!("engine_open/{REPLAY_RECORDS}rec"), |b| {
        b.iter_batched(
            || (),
            |()| {
                let mut e = Engine::open(config.clone()).expect("reopen");
                assert_eq!(e.st.ks.total_keys() as u64, REPLAY_KEYS);
                e.close().expect("close");
                e
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
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
    targets = encode_and_append, replay
}
criterion_main!(benches);
