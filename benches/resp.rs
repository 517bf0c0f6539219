//! Measures the RESP codec (src/protocol): request decoding per command and per MB of
//! pipelined input, and reply encoding per reply and per MB of output.

use std::time::Duration;

use bytes::BytesMut;
use criterion::{
    black_box, criterion_group, criterion_main, BatchSize, Criterion, SamplingMode, Throughput,
};
use strata::protocol::{Limits, ReplyBuf, RequestDecoder};

// The server's allocator, so allocation costs are measured as it pays them.
#[cfg(feature = "jemalloc")]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// 64 bytes, as `redis-benchmark -d 64` sends.
const VALUE: &[u8; 64] = b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";

fn resp_command(args: &[&[u8]]) -> Vec<u8> {
    let mut v = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        v.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        v.extend_from_slice(a);
        v.extend_from_slice(b"\r\n");
    }
    v
}

fn key(i: usize) -> Vec<u8> {
    format!("key:{i:012}").into_bytes()
}

fn mset10() -> Vec<u8> {
    let keys: Vec<Vec<u8>> = (0..10).map(key).collect();
    let mut args: Vec<&[u8]> = vec![b"MSET"];
    for k in &keys {
        args.push(k);
        args.push(VALUE);
    }
    resp_command(&args)
}

/// Decodes every command in `input`; returns how many there were.
fn decode_all(dec: &mut RequestDecoder, buf: &mut BytesMut) -> usize {
    let mut n = 0;
    while let Some(args) = dec.decode(buf).expect("valid input") {
        black_box(&args);
        n += 1;
    }
    n
}

fn decode(c: &mut Criterion) {
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("SET", resp_command(&[b"SET", &key(12345), VALUE])),
        ("GET", resp_command(&[b"GET", &key(12345)])),
        ("INCR", resp_command(&[b"INCR", b"counter:000000012345"])),
        ("MSET10", mset10()),
        ("inline_PING", b"PING\r\n".to_vec()),
    ];
    let mut g = c.benchmark_group("resp_decode/command");
    g.throughput(Throughput::Elements(1));
    for (name, bytes) in &cases {
        g.bench_function(*name, |b| {
            let mut dec = RequestDecoder::new(Limits::default());
            b.iter_batched_ref(
                || BytesMut::from(&bytes[..]),
                |buf| decode_all(&mut dec, buf),
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();

    // 1 MiB of pipelined commands: what a connection reading -P 16 (or more) sees.
    let mut g = c.benchmark_group("resp_decode/MiB");
    g.sampling_mode(SamplingMode::Flat);
    for (name, one) in &cases[..4] {
        let mut input = Vec::with_capacity(1 << 20);
        while input.len() + one.len() <= 1 << 20 {
            input.extend_from_slice(one);
        }
        let per = input.len() / one.len();
        g.throughput(Throughput::Bytes(input.len() as u64));
        g.bench_function(format!("{name}x{per}"), |b| {
            let mut dec = RequestDecoder::new(Limits::default());
            b.iter_batched_ref(
                || BytesMut::from(&input[..]),
                |buf| assert_eq!(decode_all(&mut dec, buf), per),
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

fn encode(c: &mut Criterion) {
    let mut g = c.benchmark_group("resp_encode/reply");
    g.throughput(Throughput::Elements(1));
    let mut out = ReplyBuf::new(false);
    g.bench_function("ok", |b| {
        b.iter(|| {
            out.clear();
            out.ok();
            black_box(out.len())
        })
    });
    g.bench_function("int", |b| {
        let mut n = 0i64;
        b.iter(|| {
            out.clear();
            n = n.wrapping_add(7919);
            out.int(black_box(n));
            black_box(out.len())
        })
    });
    g.bench_function("bulk64", |b| {
        b.iter(|| {
            out.clear();
            out.bulk(black_box(VALUE));
            black_box(out.len())
        })
    });
    g.bench_function("null", |b| {
        b.iter(|| {
            out.clear();
            out.null();
            black_box(out.len())
        })
    });
    g.bench_function("array10_bulk64", |b| {
        b.iter(|| {
            out.clear();
            out.bulk_array(10, std::iter::repeat_n(&VALUE[..], 10));
            black_box(out.len())
        })
    });
    g.bench_function("resp3_double", |b| {
        let mut out3 = ReplyBuf::new(true);
        b.iter(|| {
            out3.clear();
            out3.double(black_box(3.25));
            black_box(out3.len())
        })
    });
    g.finish();

    // About 1 MiB of replies per iteration, into a buffer reused as a connection does.
    let mut g = c.benchmark_group("resp_encode/MiB");
    g.sampling_mode(SamplingMode::Flat);
    let bulk_len = {
        let mut one = ReplyBuf::new(false);
        one.bulk(VALUE);
        one.len()
    };
    let n_bulk = (1 << 20) / bulk_len;
    g.throughput(Throughput::Bytes((n_bulk * bulk_len) as u64));
    g.bench_function(format!("bulk64x{n_bulk}"), |b| {
        b.iter(|| {
            out.clear();
            for _ in 0..n_bulk {
                out.bulk(VALUE);
            }
            black_box(out.len())
        })
    });
    let n_ok = (1 << 20) / 5;
    g.throughput(Throughput::Bytes((n_ok * 5) as u64));
    g.bench_function(format!("okx{n_ok}"), |b| {
        b.iter(|| {
            out.clear();
            for _ in 0..n_ok {
                out.ok();
            }
            black_box(out.len())
        })
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20)
}

criterion_group! {
    name = benches;
    config = config();
    targets = decode, encode
}
criterion_main!(benches);
