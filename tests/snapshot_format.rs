//! Guards the snapshot file format: exact round trips of every value type, and damage (flipped bits, truncation, splices, trailing bytes, bad headers) refused at the right offset.

use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::time::Instant;

use proptest::prelude::*;
use strata::keyspace::{Entry, Hash, List, Set, Value, ZSet};
use strata::persistence::snapshot::{
    CHUNK_FRAME_LEN, INCREMENTAL_SYNC_BYTES, SNAPSHOT_HEADER_LEN, TRAILER_LEN,
};
use strata::persistence::{
    load_snapshot, ChunkEncoder, ChunkProblem, FaultError, FunctionsProblem, OpKind, RealFs, SimFs,
    SnapshotError, SnapshotHeader, SnapshotHeaderProblem, SnapshotInfo, SnapshotLimits,
    SnapshotLoadError, SnapshotProblem, SnapshotReader, SnapshotStats, SnapshotStop,
    SnapshotWriter, TornMode, TrailerProblem, Vfs, DEFAULT_TARGET_CHUNK_BYTES,
};
use strata::testkit::{canon, CanonEntry};

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

const DIR: &str = "/data";

fn snap_path() -> PathBuf {
    Path::new(DIR).join("strata.2.base")
}

fn header(dbs: u32) -> SnapshotHeader {
    SnapshotHeader {
        lsn: 1234,
        created_ms: 1_700_000_000_000,
        dbs,
        access: false,
        functions: false,
    }
}

/// Writes `entries` with the given chunk target through the public API and returns the
/// file's bytes.
fn write_with(
    fs: &dyn Vfs,
    path: &Path,
    h: SnapshotHeader,
    entries: &[(u16, Entry)],
    target: usize,
) -> SnapshotStats {
    write_with_libraries(fs, path, h, entries, target, &[])
}

/// [`write_with`], with a functions block of `libraries` when there are any.
fn write_with_libraries(
    fs: &dyn Vfs,
    path: &Path,
    h: SnapshotHeader,
    entries: &[(u16, Entry)],
    target: usize,
    libraries: &[bytes::Bytes],
) -> SnapshotStats {
    fs.create_dir_all(path.parent().unwrap()).unwrap();
    let mut enc = ChunkEncoder::new(target);
    let mut w = SnapshotWriter::create_with_functions(fs, path, h, libraries).unwrap();
    for (db, e) in entries {
        enc.add(*db, e);
        for c in enc.take_full() {
            w.write_chunk(c).unwrap();
        }
    }
    if let Some(c) = enc.finish() {
        w.write_chunk(c).unwrap();
    }
    w.finish().unwrap()
}

fn snapshot_bytes(entries: &[(u16, Entry)], dbs: u32, target: usize) -> Vec<u8> {
    let fs = SimFs::new(7);
    let stats = write_with(&fs, &snap_path(), header(dbs), entries, target);
    let bytes = fs.contents(&snap_path()).unwrap();
    assert_eq!(stats.file_bytes, bytes.len() as u64);
    bytes
}

/// Offsets of the chunk frames and of the trailer, parsed straight from the spec.
fn frame_offsets(bytes: &[u8]) -> (Vec<usize>, usize) {
    let mut pos = SNAPSHOT_HEADER_LEN;
    let mut chunks = Vec::new();
    while &bytes[pos..pos + 4] == b"SNCK" {
        chunks.push(pos);
        let clen = u32::from_le_bytes(bytes[pos + 4..pos + 8].try_into().unwrap()) as usize;
        pos += CHUNK_FRAME_LEN + clen;
    }
    assert_eq!(&bytes[pos..pos + 4], b"SNTR");
    assert_eq!(pos + TRAILER_LEN, bytes.len());
    (chunks, pos)
}

fn read_all(bytes: &[u8]) -> (Vec<CanonEntry>, SnapshotStop) {
    let (entries, stop) = SnapshotReader::new(bytes, SnapshotLimits::default())
        .unwrap()
        .read_to_end()
        .unwrap();
    (entries.iter().map(|(db, e)| canon(*db, e)).collect(), stop)
}

type Loaded = Result<(Vec<CanonEntry>, SnapshotInfo), SnapshotLoadError<Infallible>>;

fn load_bytes(bytes: &[u8], threads: usize) -> Loaded {
    let fs = SimFs::new(9);
    fs.put_file(&snap_path(), bytes);
    load(&fs, &snap_path(), threads)
}

fn load(fs: &dyn Vfs, path: &Path, threads: usize) -> Loaded {
    let mut out = Vec::new();
    let info = load_snapshot(fs, path, SnapshotLimits::default(), threads, |db, e| {
        out.push(canon(db, &e));
        Ok::<(), Infallible>(())
    })?;
    Ok((out, info))
}

fn problem_of(r: &Loaded) -> SnapshotProblem {
    match r {
        Err(SnapshotLoadError::Invalid { problem, .. }) => problem.clone(),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("damaged snapshot loaded"),
    }
}

fn invalid(stop: &SnapshotStop) -> SnapshotProblem {
    match stop {
        SnapshotStop::Invalid(p) => p.clone(),
        SnapshotStop::Complete(i) => panic!("damaged snapshot read completely: {i:?}"),
    }
}

fn e(key: &[u8], value: Value, expire_at: u64) -> Entry {
    Entry::new(key.into(), value, expire_at)
}

fn list(n: usize, width: usize) -> Value {
    Value::List(Box::new(List::from_elements(
        (0..n).map(|i| format!("{i:0width$}").into_bytes()),
    )))
}

/// A small keyspace of every type, several dbs, split values with a small target.
fn sample() -> Vec<(u16, Entry)> {
    vec![
        (0, e(b"s", Value::Str(b"hello world, a string".to_vec()), 0)),
        (0, e(b"i", Value::Int(-42), 99)),
        (1, e(b"l", list(30, 4), 1_800_000_000_000)),
        (
            1,
            e(
                b"h",
                Value::Hash(Hash::from_pairs((0..12).map(|i| {
                    (format!("f{i}").into_bytes(), format!("v{i}").into_bytes())
                }))),
                0,
            ),
        ),
        (
            2,
            e(
                b"set",
                Value::Set(Box::new(Set::from_members(
                    (0..10).map(|i| format!("m{i}").into_bytes()),
                ))),
                0,
            ),
        ),
        (
            2,
            e(
                b"z",
                Value::ZSet(Box::new(ZSet::from_pairs(
                    (0..8).map(|i| (format!("z{i}").into_bytes(), f64::from(i) * 1.5 - 3.0)),
                ))),
                5,
            ),
        ),
        (3, e(b"big", Value::Str(vec![b'x'; 300]), 0)),
    ]
}

fn canon_all(entries: &[(u16, Entry)]) -> Vec<CanonEntry> {
    entries.iter().map(|(db, e)| canon(*db, e)).collect()
}

// ---------------------------------------------------------------------------------------
// Round trips
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Spec {
    Str(Vec<u8>),
    Int(i64),
    List(Vec<Vec<u8>>),
    Hash(Vec<(Vec<u8>, Vec<u8>)>),
    Set(Vec<Vec<u8>>),
    ZSet(Vec<(Vec<u8>, f64)>),
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..max)
}

fn score() -> impl Strategy<Value = f64> {
    prop_oneof![
        -1e12..1e12f64,
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(-0.0),
        any::<i32>().prop_map(f64::from),
    ]
}

fn arb_spec() -> impl Strategy<Value = Spec> {
    prop_oneof![
        bytes(200).prop_map(Spec::Str),
        any::<i64>().prop_map(Spec::Int),
        prop::collection::vec(bytes(20), 0..60).prop_map(Spec::List),
        prop::collection::btree_map(bytes(12), bytes(30), 0..40)
            .prop_map(|m| Spec::Hash(m.into_iter().collect())),
        prop::collection::btree_set(bytes(12), 0..40)
            .prop_map(|s| Spec::Set(s.into_iter().collect())),
        prop::collection::btree_map(bytes(12), score(), 0..40)
            .prop_map(|m| Spec::ZSet(m.into_iter().collect())),
    ]
}

fn build(s: Spec) -> Value {
    match s {
        Spec::Str(b) => Value::Str(b),
        Spec::Int(i) => Value::Int(i),
        Spec::List(v) => Value::List(Box::new(List::from_elements(v))),
        Spec::Hash(v) => Value::Hash(Hash::from_pairs(v)),
        Spec::Set(v) => Value::Set(Box::new(Set::from_members(v))),
        Spec::ZSet(v) => Value::ZSet(Box::new(ZSet::from_pairs(v))),
    }
}

fn arb_keyspace() -> impl Strategy<Value = (u32, Vec<(u16, Entry)>)> {
    (1u32..5).prop_flat_map(|dbs| {
        let entry = (
            0..dbs as u16,
            bytes(24),
            prop_oneof![Just(0u64), any::<u64>()],
            arb_spec(),
        );
        let big_list = prop::collection::vec(bytes(10), 0..3000);
        (
            Just(dbs),
            prop::collection::vec(entry, 0..40),
            big_list,
            0..dbs as u16,
        )
            .prop_map(|(dbs, entries, big, big_db)| {
                let mut out: Vec<(u16, Entry)> = entries
                    .into_iter()
                    .map(|(db, key, exp, spec)| (db, e(&key, build(spec), exp)))
                    .collect();
                let at = out.len() / 2;
                let big = Value::List(Box::new(List::from_elements(big)));
                out.insert(at, (big_db, e(b"the big list", big, 7)));
                (dbs, out)
            })
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn random_keyspace_round_trips(
        (dbs, entries) in arb_keyspace(),
        target in prop_oneof![Just(1usize), 16usize..600, Just(4096), Just(DEFAULT_TARGET_CHUNK_BYTES)],
    ) {
        let bytes = snapshot_bytes(&entries, dbs, target);
        let want = canon_all(&entries);
        let (got, stop) = read_all(&bytes);
        prop_assert_eq!(&got, &want);
        let info = match stop {
            SnapshotStop::Complete(info) => info,
            SnapshotStop::Invalid(p) => panic!("{p}"),
        };
        prop_assert_eq!(info.keys, entries.len() as u64);
        prop_assert_eq!(info.header, header(dbs));
        prop_assert_eq!(info.file_bytes, bytes.len() as u64);
        let (one, info1) = load_bytes(&bytes, 1).unwrap();
        let (four, info4) = load_bytes(&bytes, 4).unwrap();
        prop_assert_eq!(&one, &want);
        prop_assert_eq!(&four, &want);
        prop_assert_eq!(&info1, &info);
        prop_assert_eq!(info4, info);
    }
}

#[test]
fn big_values_split_across_default_sized_chunks_round_trip() {
    let entries = vec![
        (0, e(b"small", Value::Int(1), 0)),
        (0, e(b"biglist", list(400_000, 8), 123)),
        (
            1,
            e(
                b"bigstr",
                Value::Str((0..5_000_000u32).map(|i| (i % 251) as u8).collect()),
                0,
            ),
        ),
        (
            1,
            e(
                b"bighash",
                Value::Hash(Hash::from_pairs(
                    (0..100_000).map(|i| (format!("field{i}").into_bytes(), vec![b'v'; 20])),
                )),
                9,
            ),
        ),
        (
            2,
            e(
                b"bigzset",
                Value::ZSet(Box::new(ZSet::from_pairs(
                    (0..100_000).map(|i| (format!("member{i}").into_bytes(), f64::from(i))),
                ))),
                0,
            ),
        ),
        (
            2,
            e(
                b"bigset",
                Value::Set(Box::new(Set::from_members(
                    (0..100_000).map(|i| format!("member{i}").into_bytes()),
                ))),
                0,
            ),
        ),
        (2, e(b"after", Value::Str(b"tail".to_vec()), 0)),
    ];
    let fs = SimFs::new(1);
    let stats = write_with(
        &fs,
        &snap_path(),
        header(3),
        &entries,
        DEFAULT_TARGET_CHUNK_BYTES,
    );
    assert_eq!(stats.keys, 7);
    assert!(stats.chunks >= 15, "{stats:?}");
    let bytes = fs.contents(&snap_path()).unwrap();
    let (offs, _) = frame_offsets(&bytes);
    assert_eq!(offs.len() as u64, stats.chunks);
    let want = canon_all(&entries);
    let (one, info1) = load(&fs, &snap_path(), 1).unwrap();
    let (four, info4) = load(&fs, &snap_path(), 4).unwrap();
    assert!(one == want, "threads=1 differs");
    assert!(four == want, "threads=4 differs");
    assert_eq!(info1, info4);
    assert_eq!(info1.raw_bytes, stats.raw_bytes);
    let (streamed, stop) = read_all(&bytes);
    assert!(streamed == want);
    assert!(matches!(stop, SnapshotStop::Complete(_)));
}

#[test]
fn empty_keyspace_is_header_and_trailer() {
    let bytes = snapshot_bytes(&[], 16, DEFAULT_TARGET_CHUNK_BYTES);
    assert_eq!(bytes.len(), SNAPSHOT_HEADER_LEN + TRAILER_LEN);
    let (entries, info) = load_bytes(&bytes, 4).unwrap();
    assert!(entries.is_empty());
    assert_eq!((info.keys, info.chunks, info.raw_bytes), (0, 0, 0));
    assert_eq!(info.header.dbs, 16);
}

#[test]
fn threads_1_and_4_agree_on_many_chunks_and_on_the_first_problem() {
    let entries: Vec<(u16, Entry)> = (0..20_000u32)
        .map(|i| {
            let v = if i % 3 == 0 {
                Value::Int(i64::from(i))
            } else {
                Value::Str(format!("value-{i}").into_bytes())
            };
            (
                (i % 4) as u16,
                e(format!("key:{i:08}").as_bytes(), v, u64::from(i % 7)),
            )
        })
        .collect();
    let bytes = snapshot_bytes(&entries, 4, 4096);
    let (offs, _) = frame_offsets(&bytes);
    assert!(offs.len() > 50);
    let (one, i1) = load_bytes(&bytes, 1).unwrap();
    let (four, i4) = load_bytes(&bytes, 4).unwrap();
    assert!(one == four && one == canon_all(&entries));
    assert_eq!(i1, i4);
    // Two damaged chunks: both thread counts report the earlier one.
    let mut bad = bytes.clone();
    bad[offs[40] + CHUNK_FRAME_LEN + 3] ^= 0x20;
    bad[offs[7] + CHUNK_FRAME_LEN + 9] ^= 0x01;
    for threads in [1, 2, 4, 8] {
        let p = problem_of(&load_bytes(&bad, threads));
        assert_eq!(p.offset(), offs[7] as u64, "threads={threads}: {p}");
        assert_eq!(p.chunk_index(), Some(7));
    }
}

// ---------------------------------------------------------------------------------------
// Damage
// ---------------------------------------------------------------------------------------

#[test]
fn flipped_bit_in_a_chunk_is_reported_at_that_chunk() {
    let entries = sample();
    let bytes = snapshot_bytes(&entries, 4, 64);
    let (offs, _) = frame_offsets(&bytes);
    assert!(offs.len() >= 6, "{} chunks", offs.len());
    let k = 3;
    let mut bad = bytes.clone();
    bad[offs[k] + CHUNK_FRAME_LEN + 1] ^= 0x10;

    let (got, stop) = read_all(&bad);
    match invalid(&stop) {
        SnapshotProblem::Chunk {
            offset,
            chunk_index,
            problem: ChunkProblem::ChecksumMismatch { .. },
        } => assert_eq!((offset, chunk_index), (offs[k] as u64, k as u64)),
        other => panic!("{other}"),
    }
    // Only entries completed by chunks before the damage were returned, and exactly those.
    let want = canon_all(&entries);
    assert!(got.len() < want.len());
    assert_eq!(&want[..got.len()], &got[..]);

    for threads in [1, 4] {
        let r = load_bytes(&bad, threads);
        let p = problem_of(&r);
        assert_eq!(
            (p.offset(), p.chunk_index()),
            (offs[k] as u64, Some(k as u64))
        );
        let msg = r.unwrap_err().to_string();
        assert!(msg.contains("/data/strata.2.base"), "{msg}");
        assert!(
            msg.contains(&format!("chunk #{k} at offset {}", offs[k])),
            "{msg}"
        );
        assert!(msg.contains("checksum mismatch"), "{msg}");
        assert!(msg.contains("verify-aof check /data"), "{msg}");
    }

    // The frame's own length fields are covered by the checksum too.
    let mut bad = bytes.clone();
    bad[offs[k] + 8] ^= 0x01; // raw_len
    assert_eq!(problem_of(&load_bytes(&bad, 1)).offset(), offs[k] as u64);
    let mut bad = bytes;
    bad[offs[k] + 12] ^= 0x02; // parts
    match invalid(&read_all(&bad).1) {
        SnapshotProblem::Chunk {
            chunk_index,
            problem: ChunkProblem::ChecksumMismatch { .. },
            ..
        } => assert_eq!(chunk_index, k as u64),
        other => panic!("{other}"),
    }
}

#[test]
fn every_single_bit_flip_is_refused_at_the_damaged_region() {
    let bytes = snapshot_bytes(&sample(), 4, 256);
    let (offs, trailer) = frame_offsets(&bytes);
    assert!(offs.len() >= 3);
    let region_start = |pos: usize| -> usize {
        if pos < SNAPSHOT_HEADER_LEN {
            0
        } else if pos >= trailer {
            trailer
        } else {
            *offs.iter().rev().find(|&&o| o <= pos).unwrap()
        }
    };
    for pos in 0..bytes.len() {
        for bit in 0..8 {
            let mut bad = bytes.clone();
            bad[pos] ^= 1 << bit;
            let p = invalid(&read_all(&bad).1);
            assert_eq!(
                p.offset(),
                region_start(pos) as u64,
                "flip {pos}.{bit}: {p}"
            );
            if bit == 0 || pos % 7 == 0 {
                let lp = problem_of(&load_bytes(&bad, 1));
                assert_eq!(lp, p, "flip {pos}.{bit}");
            }
        }
    }
}

#[test]
fn truncation_at_every_offset_is_refused() {
    let entries = sample();
    let want = canon_all(&entries);
    let bytes = snapshot_bytes(&entries, 4, 128);
    let (offs, trailer) = frame_offsets(&bytes);
    for cut in 0..bytes.len() {
        let part = &bytes[..cut];
        let (got, stop) = read_all(part);
        let p = invalid(&stop);
        assert_eq!(
            &want[..got.len()],
            &got[..],
            "cut {cut}: a prefix of the entries"
        );
        match &p {
            SnapshotProblem::BadHeader {
                problem: SnapshotHeaderProblem::TooShort { len },
            } => assert!(cut < SNAPSHOT_HEADER_LEN && *len == cut as u64),
            SnapshotProblem::MissingTrailer { offset, chunks } => {
                assert_eq!(*offset, cut as u64);
                assert_eq!(offs.get(*chunks as usize).copied().unwrap_or(trailer), cut);
            }
            SnapshotProblem::Truncated { offset, .. } => {
                assert!(offs.contains(&(*offset as usize)) || *offset as usize == trailer);
            }
            other => panic!("cut {cut}: {other}"),
        }
        for threads in [1, 3] {
            assert_eq!(problem_of(&load_bytes(part, threads)), p, "cut {cut}");
        }
    }
    assert!(matches!(read_all(&bytes).1, SnapshotStop::Complete(_)));
}

#[test]
fn missing_trailer_is_reported_as_truncation() {
    let bytes = snapshot_bytes(&sample(), 4, 128);
    let (offs, trailer) = frame_offsets(&bytes);
    let r = load_bytes(&bytes[..trailer], 4);
    assert_eq!(
        problem_of(&r),
        SnapshotProblem::MissingTrailer {
            offset: trailer as u64,
            chunks: offs.len() as u64
        }
    );
    let msg = r.unwrap_err().to_string();
    assert!(msg.contains(&format!("ends at offset {trailer}")), "{msg}");
    assert!(
        msg.contains("truncated") && msg.contains("verify-aof check /data"),
        "{msg}"
    );
}

#[test]
fn bytes_after_the_trailer_are_refused() {
    let bytes = snapshot_bytes(&sample(), 4, 128);
    for extra in [&[0u8][..], &[0; 4096], b"garbage", &bytes[..100]] {
        let mut bad = bytes.clone();
        bad.extend_from_slice(extra);
        let want = SnapshotProblem::TrailingData {
            offset: bytes.len() as u64,
            extra: extra.len() as u64,
        };
        assert_eq!(invalid(&read_all(&bad).1), want);
        assert_eq!(problem_of(&load_bytes(&bad, 2)), want);
    }
}

#[test]
fn bad_headers_are_refused() {
    let bytes = snapshot_bytes(&sample(), 4, 128);
    let resign = |mut b: Vec<u8>| {
        let crc = crc32(&b[0..36]);
        b[36..40].copy_from_slice(&crc.to_le_bytes());
        b
    };
    let mut magic = bytes.clone();
    magic[0..8].copy_from_slice(b"STRATLOG");
    let mut version = bytes.clone();
    version[8..12].copy_from_slice(&2u32.to_le_bytes());
    let mut crc = bytes.clone();
    crc[17] ^= 1;
    let mut dbs = bytes.clone();
    dbs[32..36].copy_from_slice(&70_000u32.to_le_bytes());
    let cases: Vec<(Vec<u8>, SnapshotHeaderProblem)> = vec![
        (vec![], SnapshotHeaderProblem::TooShort { len: 0 }),
        (
            bytes[..39].to_vec(),
            SnapshotHeaderProblem::TooShort { len: 39 },
        ),
        (
            magic,
            SnapshotHeaderProblem::BadMagic {
                found: *b"STRATLOG",
            },
        ),
        (
            resign(version),
            SnapshotHeaderProblem::UnsupportedVersion { found: 2 },
        ),
        (
            resign(dbs),
            SnapshotHeaderProblem::BadDbCount { dbs: 70_000 },
        ),
    ];
    for (b, want) in cases {
        let want = SnapshotProblem::BadHeader { problem: want };
        let r = load_bytes(&b, 4);
        assert_eq!(problem_of(&r), want);
        assert_eq!(invalid(&read_all(&b).1), want);
        let msg = r.unwrap_err().to_string();
        assert!(
            msg.contains("offset 0") && msg.contains("verify-aof check /data"),
            "{msg}"
        );
    }
    assert!(matches!(
        problem_of(&load_bytes(&crc, 1)),
        SnapshotProblem::BadHeader {
            problem: SnapshotHeaderProblem::ChecksumMismatch { .. }
        }
    ));
    let r = SnapshotReader::new(&crc[..], SnapshotLimits::default()).unwrap();
    assert!(r.header().is_none());
}

/// A snapshot of `entries` and function `libraries`, through the public API.
fn snapshot_with_libraries(entries: &[(u16, Entry)], libraries: &[&str]) -> Vec<u8> {
    let fs = SimFs::new(7);
    let libs: Vec<bytes::Bytes> = libraries
        .iter()
        .map(|l| bytes::Bytes::copy_from_slice(l.as_bytes()))
        .collect();
    write_with_libraries(&fs, &snap_path(), header(2), entries, 128, &libs);
    fs.contents(&snap_path()).unwrap()
}

#[test]
fn function_libraries_round_trip_and_damage_to_them_is_refused_at_their_block() {
    let libs = [
        "#!lua name=one\nredis.register_function('f', function() return 1 end)",
        "#!lua name=two\nredis.register_function('g', function() return 2 end)",
    ];
    let entries: Vec<(u16, Entry)> = sample().into_iter().filter(|(db, _)| *db < 2).collect();
    let bytes = snapshot_with_libraries(&entries, &libs);
    // The flag is set, the block sits right after the header, as the spec lays it out.
    assert_eq!(bytes[12..16], 2u32.to_le_bytes());
    assert_eq!(&bytes[40..44], b"SNFN");
    assert_eq!(bytes[44..48], 2u32.to_le_bytes());
    let payload_len = u32::from_le_bytes(bytes[48..52].try_into().unwrap()) as usize;
    assert_eq!(payload_len, libs.iter().map(|l| 4 + l.len()).sum::<usize>());
    let mut framed = bytes[40..52].to_vec();
    framed.extend_from_slice(&bytes[56..56 + payload_len]);
    assert_eq!(bytes[52..56], crc32(&framed).to_le_bytes());
    let want_libs: Vec<Vec<u8>> = libs.iter().map(|l| l.as_bytes().to_vec()).collect();
    let (got, stop) = read_all(&bytes);
    assert_eq!(got, canon_all(&entries));
    let SnapshotStop::Complete(info) = stop else {
        panic!("{stop:?}")
    };
    assert_eq!(info.libraries, want_libs);
    assert!(info.header.functions);
    for threads in [1, 4] {
        let (got, info) = load_bytes(&bytes, threads).unwrap();
        assert_eq!(got, canon_all(&entries));
        assert_eq!(info.libraries, want_libs);
    }
    // Without libraries the file is what it always was: the flag clear, no block.
    let plain = snapshot_with_libraries(&entries, &[]);
    assert_eq!(plain[12..16], 0u32.to_le_bytes());
    assert_eq!(&plain[40..44], b"SNCK");

    let block = SNAPSHOT_HEADER_LEN as u64;
    let functions = |problem| SnapshotProblem::Functions {
        offset: block,
        problem,
    };
    // A flipped bit in a library's code: the block's checksum, at the block.
    let mut flipped = bytes.clone();
    flipped[60] ^= 0x20;
    let mut framed = flipped[40..52].to_vec();
    framed.extend_from_slice(&flipped[56..56 + payload_len]);
    let want = functions(FunctionsProblem::ChecksumMismatch {
        stored: crc32(
            &bytes[40..52]
                .iter()
                .chain(&bytes[56..56 + payload_len])
                .copied()
                .collect::<Vec<u8>>(),
        ),
        computed: crc32(&framed),
    });
    assert_eq!(invalid(&read_all(&flipped).1), want);
    assert_eq!(problem_of(&load_bytes(&flipped, 2)), want);
    assert_eq!(
        problem_of(&load_bytes(&flipped, 1)).to_string(),
        format!(
            "functions block at offset 40: checksum mismatch (stored {:#010x}, computed {:#010x})",
            crc32(
                &bytes[40..52]
                    .iter()
                    .chain(&bytes[56..56 + payload_len])
                    .copied()
                    .collect::<Vec<u8>>()
            ),
            crc32(&framed)
        )
    );
    // Cut inside the block.
    let cut = &bytes[..60];
    assert_eq!(
        invalid(&read_all(cut).1),
        functions(FunctionsProblem::Truncated {
            needed: 16 + payload_len as u64,
            available: 20,
        })
    );
    // The header promises a block that is not there.
    let mut promised = plain.clone();
    promised[12..16].copy_from_slice(&2u32.to_le_bytes());
    let crc = crc32(&promised[0..36]);
    promised[36..40].copy_from_slice(&crc.to_le_bytes());
    assert_eq!(
        invalid(&read_all(&promised).1),
        functions(FunctionsProblem::BadTag { found: *b"SNCK" })
    );
    // A count that disagrees with the payload, behind a valid checksum.
    let mut miscounted = bytes.clone();
    miscounted[44..48].copy_from_slice(&3u32.to_le_bytes());
    let mut framed = miscounted[40..52].to_vec();
    framed.extend_from_slice(&miscounted[56..56 + payload_len]);
    let crc = crc32(&framed);
    miscounted[52..56].copy_from_slice(&crc.to_le_bytes());
    assert_eq!(
        invalid(&read_all(&miscounted).1),
        functions(FunctionsProblem::Malformed {
            reason: "fewer libraries than the count"
        })
    );
    // A valid block of other libraries spliced in: the trailer's chain refuses the file.
    let other = snapshot_with_libraries(
        &entries,
        &[
            "#!lua name=one\nredis.register_function('f', function() return 9 end)",
            "#!lua name=two\nredis.register_function('g', function() return 8 end)",
        ],
    );
    let mut spliced = other[..56 + payload_len].to_vec();
    spliced.extend_from_slice(&bytes[56 + payload_len..]);
    assert!(
        matches!(
            invalid(&read_all(&spliced).1),
            SnapshotProblem::Trailer {
                problem: TrailerProblem::ChainMismatch { .. },
                ..
            }
        ),
        "{:?}",
        read_all(&spliced).1
    );
}

fn crc32(b: &[u8]) -> u32 {
    // CRC-32 (IEEE), bitwise: an independent implementation of what the spec names.
    let mut crc = !0u32;
    for &x in b {
        crc ^= u32::from(x);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn dropped_reordered_or_spliced_chunks_are_refused_by_the_trailer() {
    // Small unsplit entries only, so every chunk is valid on its own.
    let entries: Vec<(u16, Entry)> = (0..200u32)
        .map(|i| {
            (
                0,
                e(format!("k{i}").as_bytes(), Value::Int(i64::from(i)), 0),
            )
        })
        .collect();
    let bytes = snapshot_bytes(&entries, 1, 256);
    let (offs, trailer) = frame_offsets(&bytes);
    assert!(offs.len() >= 6);
    let chunk = |i: usize| bytes[offs[i]..offs.get(i + 1).copied().unwrap_or(trailer)].to_vec();
    let head = &bytes[..SNAPSHOT_HEADER_LEN];
    let tail = &bytes[trailer..];
    let assemble = |order: &[usize]| -> Vec<u8> {
        let mut v = head.to_vec();
        for &i in order {
            v.extend_from_slice(&chunk(i));
        }
        v.extend_from_slice(tail);
        v
    };
    let n = offs.len();
    let all: Vec<usize> = (0..n).collect();
    assert_eq!(assemble(&all), bytes);

    let mut dropped = all.clone();
    dropped.remove(2);
    let p = problem_of(&load_bytes(&assemble(&dropped), 1));
    assert!(
        matches!(
            p,
            SnapshotProblem::Trailer {
                problem: TrailerProblem::CountMismatch { what: "chunks", .. },
                ..
            }
        ),
        "{p}"
    );
    let mut swapped = all.clone();
    swapped.swap(1, 2);
    let p = problem_of(&load_bytes(&assemble(&swapped), 4));
    assert!(
        matches!(
            p,
            SnapshotProblem::Trailer {
                problem: TrailerProblem::ChainMismatch { .. },
                ..
            }
        ),
        "{p}"
    );
    // The same chunks behind another snapshot's header.
    let mut spliced = assemble(&all);
    let other = SnapshotHeader {
        lsn: 99,
        ..header(1)
    };
    spliced[..SNAPSHOT_HEADER_LEN].copy_from_slice(&other.encode());
    let p = problem_of(&load_bytes(&spliced, 1));
    assert!(
        matches!(
            p,
            SnapshotProblem::Trailer {
                problem: TrailerProblem::ChainMismatch { .. },
                offset
            } if offset == trailer as u64
        ),
        "{p}"
    );
    // A re-signed trailer with a wrong key count.
    let mut keys = bytes.clone();
    keys[trailer + 8..trailer + 16].copy_from_slice(&201u64.to_le_bytes());
    let crc = crc32(&keys[trailer..trailer + 44]);
    keys[trailer + 44..trailer + 48].copy_from_slice(&crc.to_le_bytes());
    assert_eq!(
        problem_of(&load_bytes(&keys, 4)),
        SnapshotProblem::Trailer {
            offset: trailer as u64,
            problem: TrailerProblem::CountMismatch {
                what: "keys",
                stored: 201,
                actual: 200
            }
        }
    );
}

#[test]
fn a_missing_last_part_of_a_split_value_is_refused() {
    // One list split over several chunks, then drop its last chunk and re-sign the
    // trailer: the counts and the chain then match, only the entry is incomplete.
    let entries = vec![(0, e(b"l", list(100, 4), 0))];
    let bytes = snapshot_bytes(&entries, 1, 64);
    let (offs, trailer) = frame_offsets(&bytes);
    assert!(offs.len() >= 3);
    let last = *offs.last().unwrap();
    let mut v = bytes[..last].to_vec();
    let mut t = bytes[trailer..].to_vec();
    let n = offs.len() as u64 - 1;
    // Recompute chunks, raw bytes, parts and the chain from the remaining frames.
    let (mut raw, mut parts) = (0u64, 0u64);
    let mut chain_input = bytes[36..40].to_vec();
    for &o in &offs[..offs.len() - 1] {
        raw += u64::from(u32::from_le_bytes(bytes[o + 8..o + 12].try_into().unwrap()));
        parts += u64::from(u32::from_le_bytes(
            bytes[o + 12..o + 16].try_into().unwrap(),
        ));
        chain_input.extend_from_slice(&bytes[o + 16..o + 20]);
    }
    t[16..24].copy_from_slice(&n.to_le_bytes());
    t[24..32].copy_from_slice(&raw.to_le_bytes());
    t[32..40].copy_from_slice(&parts.to_le_bytes());
    t[40..44].copy_from_slice(&crc32(&chain_input).to_le_bytes());
    let crc = crc32(&t[0..44]);
    t[44..48].copy_from_slice(&crc.to_le_bytes());
    v.extend_from_slice(&t);
    let want = SnapshotProblem::IncompleteEntry {
        offset: last as u64,
        chunk_index: n,
    };
    assert_eq!(invalid(&read_all(&v).1), want);
    assert_eq!(problem_of(&load_bytes(&v, 4)), want);
}

#[test]
fn a_chunk_above_the_limit_is_refused_before_reading_it() {
    let bytes = snapshot_bytes(&sample(), 4, 1 << 20);
    let (offs, _) = frame_offsets(&bytes);
    let raw_len = u32::from_le_bytes(bytes[offs[0] + 8..offs[0] + 12].try_into().unwrap());
    let limits = SnapshotLimits {
        max_chunk_len: raw_len - 1,
    };
    let (_, stop) = SnapshotReader::new(&bytes[..], limits)
        .unwrap()
        .read_to_end()
        .unwrap();
    assert_eq!(
        invalid(&stop),
        SnapshotProblem::Chunk {
            offset: offs[0] as u64,
            chunk_index: 0,
            problem: ChunkProblem::RawTooLarge {
                len: raw_len,
                max: raw_len - 1
            }
        }
    );
    // A length field claiming 4 GiB in a tiny file: refused without allocating it.
    let mut huge = bytes.clone();
    huge[offs[0] + 4..offs[0] + 8].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(
        problem_of(&load_bytes(&huge, 1)),
        SnapshotProblem::Chunk {
            problem: ChunkProblem::CompressedTooLarge { .. },
            ..
        }
    ));
}

// ---------------------------------------------------------------------------------------
// Loader callback and writer I/O
// ---------------------------------------------------------------------------------------

#[test]
fn an_on_entry_error_stops_the_load() {
    let fs = SimFs::new(3);
    write_with(&fs, &snap_path(), header(4), &sample(), 64);
    for threads in [1, 4] {
        let mut seen = 0;
        let r = load_snapshot(
            &fs,
            &snap_path(),
            SnapshotLimits::default(),
            threads,
            |_, _| {
                seen += 1;
                if seen == 3 {
                    Err("out of memory")
                } else {
                    Ok(())
                }
            },
        );
        assert_eq!(seen, 3);
        match r {
            Err(SnapshotLoadError::Apply { source, path, .. }) => {
                assert_eq!(source, "out of memory");
                assert_eq!(path, snap_path());
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn writer_io_errors_abandon_the_snapshot() {
    let entries: Vec<(u16, Entry)> = (0..30_000u32)
        .map(|i| {
            (
                0,
                e(format!("{i:016}").as_bytes(), Value::Str(vec![b'v'; 64]), 0),
            )
        })
        .collect();
    for (kind, fault) in [
        (OpKind::Write, FaultError::Eio),
        (OpKind::Write, FaultError::NoSpace),
        (OpKind::SyncData, FaultError::Eio),
        (OpKind::Create, FaultError::Eio),
    ] {
        let fs = SimFs::new(4);
        fs.create_dir_all(Path::new(DIR)).unwrap();
        fs.fail_kind(kind, fault);
        let r = (|| -> Result<SnapshotStats, SnapshotError> {
            let mut enc = ChunkEncoder::new(64 << 10);
            let mut w = SnapshotWriter::create(&fs, &snap_path(), header(1))?;
            for (db, e) in &entries {
                enc.add(*db, e);
                for c in enc.take_full() {
                    w.write_chunk(c)?;
                }
            }
            if let Some(c) = enc.finish() {
                w.write_chunk(c)?;
            }
            w.finish()
        })();
        let err = r.unwrap_err();
        let msg = err.to_string();
        match (kind, fault, &err) {
            (_, FaultError::NoSpace, SnapshotError::NoSpace { path, .. }) => {
                assert_eq!(path, &snap_path());
                assert!(msg.contains("free space"), "{msg}");
            }
            (OpKind::Write, FaultError::Eio, SnapshotError::Io { op: "write", .. })
            | (
                OpKind::SyncData,
                _,
                SnapshotError::Io {
                    op: "fdatasync", ..
                },
            )
            | (OpKind::Create, _, SnapshotError::Io { op: "create", .. }) => {
                assert!(msg.contains("/data/strata.2.base"), "{msg}");
                assert!(msg.contains("live data set is unaffected"), "{msg}");
            }
            _ => panic!("{kind:?} {fault:?}: {msg}"),
        }
    }
}

#[test]
fn the_writer_syncs_incrementally() {
    // Every fdatasync fails: the first one must come after about INCREMENTAL_SYNC_BYTES,
    // long before the end of this 24 MB snapshot.
    let fs = SimFs::new(6);
    fs.create_dir_all(Path::new(DIR)).unwrap();
    fs.fail_kind(OpKind::SyncData, FaultError::Eio);
    let mut w = SnapshotWriter::create(&fs, &snap_path(), header(1)).unwrap();
    let mut enc = ChunkEncoder::new(DEFAULT_TARGET_CHUNK_BYTES);
    let mut rng: u64 = 1;
    let mut failed = None;
    for i in 0..24u32 {
        let value: Vec<u8> = (0..1 << 20)
            .map(|_| {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                rng as u8
            })
            .collect();
        enc.add(0, &e(&i.to_le_bytes(), Value::Str(value), 0));
        for c in enc.take_full() {
            if let Err(err) = w.write_chunk(c) {
                failed = Some(err);
                break;
            }
        }
        if failed.is_some() {
            break;
        }
    }
    match failed {
        Some(SnapshotError::Io {
            op: "fdatasync", ..
        }) => {}
        other => panic!("expected an incremental fdatasync, got {other:?}"),
    }
    let written = fs.contents(&snap_path()).unwrap().len() as u64;
    assert!(
        (INCREMENTAL_SYNC_BYTES..INCREMENTAL_SYNC_BYTES + (3 << 20)).contains(&written),
        "{written}"
    );
}

#[test]
fn a_crash_at_any_point_of_writing_never_yields_a_partial_snapshot() {
    let entries = sample();
    let want = canon_all(&entries);
    let path = snap_path();
    // Count the operations of a full write + directory sync.
    let probe = SimFs::new(5);
    probe.create_dir_all(Path::new(DIR)).unwrap();
    probe.sync_dir(Path::new("/")).unwrap();
    let base = probe.op_count();
    write_with(&probe, &path, header(4), &entries, 64);
    probe.sync_dir(Path::new(DIR)).unwrap();
    let total = probe.op_count() - base;
    let mut complete = 0;
    for n in 0..=total {
        for (seed, mode) in [
            (1, TornMode::KeepPrefix),
            (2, TornMode::Garbage),
            (3, TornMode::Random),
        ] {
            let fs = SimFs::new(seed * 1000 + n);
            fs.set_torn_mode(mode);
            fs.create_dir_all(Path::new(DIR)).unwrap();
            fs.sync_dir(Path::new("/")).unwrap();
            fs.crash_at(fs.op_count() + n);
            let _ = (|| -> Result<(), SnapshotError> {
                let mut enc = ChunkEncoder::new(64);
                let mut w = SnapshotWriter::create(&fs, &path, header(4))?;
                for (db, e) in &entries {
                    enc.add(*db, e);
                    for c in enc.take_full() {
                        w.write_chunk(c)?;
                    }
                }
                if let Some(c) = enc.finish() {
                    w.write_chunk(c)?;
                }
                w.finish()?;
                fs.sync_dir(Path::new(DIR))
                    .map_err(|source| SnapshotError::Io {
                        path: path.clone(),
                        op: "sync dir",
                        source,
                    })
            })();
            fs.crash();
            if !fs.exists(&path).unwrap() {
                continue;
            }
            match load(&fs, &path, 2) {
                Ok((got, _)) => {
                    assert!(got == want, "crash at op {n}: a snapshot loaded partially");
                    complete += 1;
                }
                Err(SnapshotLoadError::Invalid { .. }) => {}
                Err(e) => panic!("{e}"),
            }
        }
    }
    assert!(complete >= 3, "the fully synced case loads");
}

// ---------------------------------------------------------------------------------------
// Throughput (release only): cargo test --release --test snapshot_format -- --ignored --nocapture
// ---------------------------------------------------------------------------------------

#[test]
#[ignore]
fn throughput_one_million_string_entries() {
    const N: u32 = 1_000_000;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("strata.1.base");
    let mut rng: u64 = 0x9E37_79B9_7F4A_7C15;
    let entries: Vec<(u16, Entry)> = (0..N)
        .map(|i| {
            let key = format!("key:{i:012}").into_bytes();
            assert_eq!(key.len(), 16);
            // Half random, half text-like bytes: a value mix that compresses somewhat.
            let value: Vec<u8> = (0..64)
                .map(|j| {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    if j < 32 {
                        rng as u8
                    } else {
                        b'a' + (rng % 16) as u8
                    }
                })
                .collect();
            (0, e(&key, Value::Str(value), 0))
        })
        .collect();
    let payload_mb = f64::from(N) * 80.0 / 1e6;

    let t = Instant::now();
    let mut enc = ChunkEncoder::new(DEFAULT_TARGET_CHUNK_BYTES);
    let mut raws = Vec::new();
    for (db, e) in &entries {
        enc.add(*db, e);
        raws.extend(enc.take_full());
    }
    raws.extend(enc.finish());
    let encode = t.elapsed();
    let t = Instant::now();
    let mut w = SnapshotWriter::create(&RealFs, &path, header(1)).unwrap();
    for c in raws {
        w.write_chunk(c).unwrap();
    }
    let stats = w.finish().unwrap();
    let write = t.elapsed();
    let total_write = encode + write;
    println!(
        "write: {N} keys, payload {payload_mb:.1} MB, raw {:.1} MB, file {:.1} MB in {} chunks",
        stats.raw_bytes as f64 / 1e6,
        stats.file_bytes as f64 / 1e6,
        stats.chunks
    );
    println!(
        "  encode (executor side) {:.0} ms = {:.0} MB/s raw, {:.2} M keys/s",
        encode.as_secs_f64() * 1e3,
        stats.raw_bytes as f64 / 1e6 / encode.as_secs_f64(),
        f64::from(N) / 1e6 / encode.as_secs_f64()
    );
    println!(
        "  compress+write+fdatasync {:.0} ms = {:.0} MB/s raw",
        write.as_secs_f64() * 1e3,
        stats.raw_bytes as f64 / 1e6 / write.as_secs_f64()
    );
    println!(
        "  total {:.0} ms = {:.0} MB/s raw, {:.2} M keys/s",
        total_write.as_secs_f64() * 1e3,
        stats.raw_bytes as f64 / 1e6 / total_write.as_secs_f64(),
        f64::from(N) / 1e6 / total_write.as_secs_f64()
    );
    for threads in [1, 2, 4] {
        let t = Instant::now();
        let mut n = 0u64;
        let mut sink = Vec::with_capacity(N as usize);
        let info = load_snapshot(
            &RealFs,
            &path,
            SnapshotLimits::default(),
            threads,
            |db, e| {
                n += 1;
                sink.push((db, e));
                Ok::<(), Infallible>(())
            },
        )
        .unwrap();
        let d = t.elapsed();
        assert_eq!((n, info.keys), (u64::from(N), u64::from(N)));
        println!(
            "load threads={threads}: {:.0} ms = {:.0} MB/s raw ({:.0} MB/s file), {:.2} M keys/s",
            d.as_secs_f64() * 1e3,
            info.raw_bytes as f64 / 1e6 / d.as_secs_f64(),
            info.file_bytes as f64 / 1e6 / d.as_secs_f64(),
            f64::from(N) / 1e6 / d.as_secs_f64()
        );
        drop(sink);
    }
}
