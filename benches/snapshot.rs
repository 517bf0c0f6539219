//! Measures snapshots (src/persistence/snapshot.rs): serialising entries into chunks (the
//! executor's share), writing a snapshot file (LZ4, checksums, fdatasync) and loading one
//! (decode only, and into a keyspace table; 1 and 2 decoder threads), in MB/s of file and
//! keys per second, for 200k strings and for 2k hashes of 100 fields.

use std::path::Path;
use std::time::Duration;

use criterion::{
    black_box, criterion_group, criterion_main, BatchSize, Criterion, SamplingMode, Throughput,
};
use strata::keyspace::{Entry, Hash, Table, Value};
use strata::persistence::{
    load_snapshot, ChunkEncoder, RealFs, SnapshotHeader, SnapshotLimits, SnapshotWriter,
    DEFAULT_TARGET_CHUNK_BYTES,
};

// The server's allocator, so allocation costs are measured as it pays them.
#[cfg(feature = "jemalloc")]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Pseudo-random base64-like bytes: values that LZ4 cannot shrink much, like the shared
/// bench's populate.py.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ALPHABET[(x % 64) as usize]
        })
        .collect()
}

fn strings(n: u64) -> Vec<Entry> {
    (0..n)
        .map(|i| {
            Entry::new(
                format!("key:{i:012}").into_bytes().into(),
                Value::Str(noise(i, 64)),
                0,
            )
        })
        .collect()
}

fn hashes(keys: u64, fields: u64) -> Vec<Entry> {
    (0..keys)
        .map(|i| {
            let h = Hash::from_pairs((0..fields).map(|f| {
                (
                    format!("field:{f:010}").into_bytes(),
                    noise(i * 1000 + f, 16),
                )
            }));
            Entry::new(
                format!("hash:{i:010}").into_bytes().into(),
                Value::Hash(h),
                0,
            )
        })
        .collect()
}

/// Serialises `entries` into raw chunks; returns them.
fn encode(entries: &[Entry]) -> Vec<strata::persistence::RawChunk> {
    let mut enc = ChunkEncoder::new(DEFAULT_TARGET_CHUNK_BYTES);
    let mut chunks = Vec::new();
    for e in entries {
        enc.add(0, e);
        chunks.extend(enc.take_full());
    }
    chunks.extend(enc.finish());
    chunks
}

/// Writes a whole snapshot file (encode, compress, checksum, write, fdatasync); returns
/// its length.
fn write(entries: &[Entry], path: &Path) -> u64 {
    let header = SnapshotHeader {
        lsn: 1,
        created_ms: 0,
        dbs: 1,
        access: false,
        functions: false,
    };
    let mut w = SnapshotWriter::create(&RealFs, path, header).expect("create");
    let mut enc = ChunkEncoder::new(DEFAULT_TARGET_CHUNK_BYTES);
    for e in entries {
        enc.add(0, e);
        for c in enc.take_full() {
            w.write_chunk(c).expect("write chunk");
        }
    }
    if let Some(c) = enc.finish() {
        w.write_chunk(c).expect("write chunk");
    }
    w.finish().expect("finish").file_bytes
}

fn bench_dataset(c: &mut Criterion, name: &str, entries: Vec<Entry>) {
    let keys = entries.len() as u64;
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bench.snap");
    let raw: u64 = encode(&entries).iter().map(|c| c.bytes.len() as u64).sum();
    let file = write(&entries, &path);
    let label = format!(
        "{name}/{keys}keys_{:.1}MB_raw_{:.1}MB_file",
        raw as f64 / 1e6,
        file as f64 / 1e6
    );

    let mut g = c.benchmark_group("snapshot_write");
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Bytes(raw));
    g.bench_function(format!("encode_only/{label}"), |b| {
        b.iter(|| black_box(encode(&entries)))
    });
    g.throughput(Throughput::Bytes(file));
    g.bench_function(format!("file_fdatasync/{label}"), |b| {
        b.iter(|| write(&entries, &path))
    });
    g.finish();

    let mut g = c.benchmark_group("snapshot_load");
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Bytes(file));
    for threads in [1usize, 2] {
        g.bench_function(format!("decode_only_t{threads}/{label}"), |b| {
            b.iter(|| {
                let mut n = 0u64;
                let info = load_snapshot(
                    &RealFs,
                    &path,
                    SnapshotLimits::default(),
                    threads,
                    |_, e| {
                        black_box(&e);
                        n += 1;
                        Ok::<(), String>(())
                    },
                )
                .expect("load");
                assert_eq!(info.keys, keys);
                n
            })
        });
        g.bench_function(format!("into_table_t{threads}/{label}"), |b| {
            b.iter_batched(
                Table::new,
                |mut t| {
                    load_snapshot(
                        &RealFs,
                        &path,
                        SnapshotLimits::default(),
                        threads,
                        |_, e| {
                            t.insert(e);
                            Ok::<(), String>(())
                        },
                    )
                    .expect("load");
                    assert_eq!(t.len() as u64, keys);
                    t
                },
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

fn snapshots(c: &mut Criterion) {
    bench_dataset(c, "strings64", strings(200_000));
    bench_dataset(c, "hash100x16B", hashes(2_000, 100));
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
    targets = snapshots
}
criterion_main!(benches);
