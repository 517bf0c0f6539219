//! Fuzz the snapshot reader and loader five ways: arbitrary bytes; arbitrary bytes as a
//! chunk's raw content behind a valid checksum (the entry decoder); arbitrary bytes as a
//! chunk's LZ4 block behind a valid checksum (the decompressor); arbitrary bytes as a
//! functions block's payload behind a valid checksum; and a valid snapshot built from the
//! input (with function libraries or not), then truncated or with one bit flipped. Nothing may panic, allocation
//! stays bounded (small limits), the streaming reader and `load_snapshot` must agree, a
//! valid snapshot must round-trip exactly, and damage must be refused at the damaged frame.
#![no_main]

use std::convert::Infallible;
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use strata::keyspace::access::{Clock, Policy};
use strata::keyspace::{Entry, Hash, List, Set, Value, ZSet};
use strata::persistence::snapshot::{
    CHUNK_FRAME_LEN, FUNCTIONS_FRAME_LEN, SNAPSHOT_HEADER_LEN, TRAILER_LEN,
};
use strata::persistence::{
    load_snapshot, ChunkEncoder, RawChunk, SimFs, SnapshotHeader, SnapshotLimits, SnapshotProblem,
    SnapshotReader, SnapshotStop, SnapshotWriter, Vfs,
};
use strata::testkit::{canon, CanonEntry};

const PATH: &str = "/d/strata.1.base";

fn limits() -> SnapshotLimits {
    SnapshotLimits {
        max_chunk_len: 1 << 20,
    }
}

fn header() -> SnapshotHeader {
    SnapshotHeader {
        lsn: 5,
        created_ms: 6,
        dbs: 3,
        // Entries may carry access fields: the decoder's IDLE / FREQ paths are fuzzed too.
        access: true,
        functions: false,
    }
}

/// Reads `bytes` with the streaming reader and with `load_snapshot`; both must agree.
fn check(bytes: &[u8], threads: usize) -> (Vec<CanonEntry>, SnapshotStop) {
    let (entries, stop) = SnapshotReader::new(bytes, limits())
        .expect("in-memory reads do not fail")
        .read_to_end()
        .expect("in-memory reads do not fail");
    let streamed: Vec<CanonEntry> = entries.iter().map(|(db, e)| canon(*db, e)).collect();
    let fs = SimFs::new(1);
    fs.put_file(Path::new(PATH), bytes);
    let mut loaded = Vec::new();
    let r = load_snapshot(&fs, Path::new(PATH), limits(), threads, |db, e| {
        loaded.push(canon(db, &e));
        Ok::<(), Infallible>(())
    });
    match (&stop, r) {
        (SnapshotStop::Complete(info), Ok(i)) => {
            assert_eq!(info, &i);
            assert_eq!(loaded, streamed);
            assert_eq!(info.keys, streamed.len() as u64);
        }
        (SnapshotStop::Invalid(p), Err(e)) => {
            assert_eq!(Some(p), e.problem(), "reader and loader disagree");
            // Both deliver only whole chunks before the problem, in the same order.
            assert_eq!(loaded, streamed);
        }
        (s, r) => panic!("reader says {s:?}, loader says {:?}", r.map(|_| ())),
    }
    (streamed, stop)
}

fn write(fs: &SimFs, chunks: Vec<RawChunk>) -> Vec<u8> {
    write_with(fs, chunks, &[])
}

/// A snapshot of `chunks`, with a functions block when `libraries` is not empty.
fn write_with(fs: &SimFs, chunks: Vec<RawChunk>, libraries: &[bytes::Bytes]) -> Vec<u8> {
    fs.create_dir_all(Path::new("/d")).unwrap();
    let mut w =
        SnapshotWriter::create_with_functions(fs, Path::new(PATH), header(), libraries).unwrap();
    for c in chunks {
        w.write_chunk(c).unwrap();
    }
    w.finish().unwrap();
    fs.contents(Path::new(PATH)).unwrap()
}

fn entries_from(data: &[u8]) -> Vec<(u16, Entry)> {
    let mut out = Vec::new();
    for c in data.chunks(11) {
        let sel = c[0];
        let key = c.get(1..3).unwrap_or(&[]).to_vec();
        let rest = c.get(3..).unwrap_or(&[]);
        let value = match (sel / 3) % 6 {
            0 => Value::Str(rest.repeat(1 + (sel as usize % 7) * 9)),
            1 => {
                let mut b = [0u8; 8];
                b[..rest.len().min(8)].copy_from_slice(&rest[..rest.len().min(8)]);
                Value::Int(i64::from_le_bytes(b))
            }
            2 => Value::List(Box::new(List::from_elements(
                (0..(sel as usize % 4) * 40 + rest.len())
                    .map(|i| vec![rest.get(i % rest.len().max(1)).copied().unwrap_or(0); i % 6]),
            ))),
            3 => Value::Hash(Hash::from_pairs(
                rest.iter().map(|b| (vec![*b], vec![*b; (*b % 9) as usize])),
            )),
            4 => Value::Set(Box::new(Set::from_members(
                rest.iter().map(|b| vec![*b; 2]),
            ))),
            _ => Value::ZSet(Box::new(ZSet::from_pairs(
                rest.iter().map(|b| (vec![*b], f64::from(*b) - 100.5)),
            ))),
        };
        let expire_at = if sel & 0x80 != 0 {
            u64::from(sel) * 1000
        } else {
            0
        };
        out.push((u16::from(sel % 3), Entry::new(key.into(), value, expire_at)));
    }
    out
}

/// Start of the frame (header, chunk or trailer) containing byte `pos` of a valid file.
fn region_start(bytes: &[u8], pos: usize) -> usize {
    if pos < SNAPSHOT_HEADER_LEN {
        return 0;
    }
    let mut o = SNAPSHOT_HEADER_LEN;
    if &bytes[o..o + 4] == b"SNFN" {
        let len = u32::from_le_bytes(bytes[o + 8..o + 12].try_into().unwrap()) as usize;
        let next = o + FUNCTIONS_FRAME_LEN + len;
        if pos < next {
            return o;
        }
        o = next;
    }
    loop {
        if &bytes[o..o + 4] != b"SNCK" {
            assert_eq!(o + TRAILER_LEN, bytes.len());
            return o;
        }
        let clen = u32::from_le_bytes(bytes[o + 4..o + 8].try_into().unwrap()) as usize;
        let next = o + CHUNK_FRAME_LEN + clen;
        if pos < next {
            return o;
        }
        o = next;
    }
}

fuzz_target!(|data: &[u8]| {
    // 1. Arbitrary bytes, raw and behind a valid header.
    check(data, 1);
    let mut f = header().encode().to_vec();
    f.extend_from_slice(data);
    check(&f, 1);

    if data.len() < 4 {
        return;
    }
    let fs = SimFs::new(2);

    // 2. Arbitrary raw chunk content behind a valid checksum: the entry decoder.
    let parts = u32::from(data[0] % 8) + 1;
    let bytes = write(
        &fs,
        vec![RawChunk {
            bytes: data[1..].to_vec(),
            parts,
            keys: 0,
        }],
    );
    check(&bytes, 1);

    // 3. An arbitrary LZ4 block behind a valid checksum: the decompressor.
    let mut f = header().encode().to_vec();
    let block = &data[3..];
    let raw_len = u32::from(u16::from_le_bytes([data[1], data[2]])) + 1;
    let mut frame = Vec::new();
    frame.extend_from_slice(b"SNCK");
    frame.extend_from_slice(&(block.len() as u32).to_le_bytes());
    frame.extend_from_slice(&raw_len.to_le_bytes());
    frame.extend_from_slice(&parts.to_le_bytes());
    let mut h = crc32fast::Hasher::new();
    h.update(&frame);
    h.update(block);
    frame.extend_from_slice(&h.finalize().to_le_bytes());
    f.extend_from_slice(&frame);
    f.extend_from_slice(block);
    check(&f, 1);

    // 4. An arbitrary functions block payload behind a valid checksum (then a trailer).
    let mut f = SnapshotHeader {
        functions: true,
        ..header()
    }
    .encode()
    .to_vec();
    let payload = &data[1..];
    let mut block = Vec::new();
    block.extend_from_slice(b"SNFN");
    block.extend_from_slice(&u32::from(data[0] % 4).to_le_bytes());
    block.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    let mut h = crc32fast::Hasher::new();
    h.update(&block);
    h.update(payload);
    block.extend_from_slice(&h.finalize().to_le_bytes());
    f.extend_from_slice(&block);
    f.extend_from_slice(payload);
    check(&f, 1);

    // 5. A valid snapshot built from the input (libraries too, one input in two): exact
    // round trip, then damage.
    let libraries: Vec<bytes::Bytes> = if data[2] & 8 != 0 {
        data[3..]
            .chunks(5)
            .take(3)
            .map(|c| bytes::Bytes::copy_from_slice(c))
            .collect()
    } else {
        Vec::new()
    };
    let entries = entries_from(&data[3..]);
    let target = 1 + usize::from(data[1]) * 8;
    let mut enc = ChunkEncoder::new(target);
    if data[2] & 2 != 0 {
        let policy = if data[2] & 4 != 0 {
            Policy::Lru
        } else {
            Policy::Lfu {
                log_factor: 10,
                decay_minutes: 1,
            }
        };
        enc.keep_access(Clock::new(policy, 1_700_000_000_000));
    }
    let mut chunks = Vec::new();
    for (db, e) in &entries {
        enc.add(*db, e);
        chunks.extend(enc.take_full());
    }
    chunks.extend(enc.finish());
    let fs = SimFs::new(3);
    let valid = write_with(&fs, chunks, &libraries);
    let want: Vec<CanonEntry> = entries.iter().map(|(db, e)| canon(*db, e)).collect();
    // The threaded loader on one input in 32: spawning threads dominates a fuzzer's time.
    let threads = if data[2] % 32 == 1 { 2 } else { 1 };
    let (got, stop) = check(&valid, threads);
    let SnapshotStop::Complete(info) = &stop else {
        panic!("{stop:?}");
    };
    assert_eq!(got, want, "round trip");
    let want_libs: Vec<Vec<u8>> = libraries.iter().map(|b| b.to_vec()).collect();
    assert_eq!(info.libraries, want_libs, "libraries round trip");

    let cut = usize::from(u16::from_le_bytes([data[0], data[2]])) % valid.len();
    let (got, stop) = check(&valid[..cut], threads);
    assert!(
        matches!(stop, SnapshotStop::Invalid(_)),
        "cut at {cut} accepted"
    );
    assert_eq!(&want[..got.len()], &got[..], "cut at {cut}: a prefix");

    let pos = (cut * 7919) % valid.len();
    let mut flipped = valid.clone();
    flipped[pos] ^= 1 << (data[1] % 8);
    let (got, stop) = check(&flipped, threads);
    match stop {
        SnapshotStop::Invalid(p) => {
            assert_eq!(
                p.offset(),
                region_start(&valid, pos) as u64,
                "flip at {pos} reported as {p}"
            );
            if !matches!(p, SnapshotProblem::BadHeader { .. }) {
                assert_eq!(&want[..got.len()], &got[..], "flip at {pos}: a prefix");
            }
        }
        SnapshotStop::Complete(_) => panic!("flipped bit at {pos} accepted"),
    }
});
