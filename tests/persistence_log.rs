// Guards recovery of a data directory: torn tails are truncated exactly, corruption and missing files are refused with exact errors.

use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use strata::persistence::{
    recover, DataDir, HeaderProblem, LogConfig, LogHeader, LogReader, LogWriter, Manifest, Record,
    RecordProblem, RecoveryError, RecoveryOptions, ReplayError, SimFs, StopReason, TornMode,
    Truncation, Vfs, MANIFEST_NAME,
};

const DIR: &str = "/data";

fn dir() -> &'static Path {
    Path::new(DIR)
}

fn log1() -> PathBuf {
    dir().join("strata.1.incr")
}

fn opts() -> RecoveryOptions {
    RecoveryOptions {
        log: LogConfig {
            prealloc_chunk: 4096,
            low_watermark: 1024,
            ..LogConfig::default()
        },
        read_chunk: 256,
        ..RecoveryOptions::default()
    }
}

fn args(i: u64) -> Vec<Vec<u8>> {
    vec![
        b"SET".to_vec(),
        format!("key:{i}").into_bytes(),
        vec![b'v'; (i % 7) as usize],
    ]
}

type Open = Result<(Vec<Record>, strata::persistence::Recovered), ReplayError<Infallible>>;

fn open_with(vfs: Arc<dyn Vfs>, o: RecoveryOptions) -> Open {
    let mut recs = Vec::new();
    let r = recover(
        vfs,
        dir(),
        o,
        |_| Ok(()),
        |r: Record| {
            recs.push(r.clone());
            Ok(())
        },
    )?;
    Ok((recs, r))
}

fn open(fs: &SimFs) -> Open {
    open_with(Arc::new(fs.clone()), opts())
}

fn recovery_err(r: Open) -> RecoveryError {
    match r {
        Err(ReplayError::Recovery(e)) => e,
        Err(other) => panic!("unexpected error {other}"),
        Ok((recs, _)) => panic!(
            "recovery unexpectedly succeeded with {} records",
            recs.len()
        ),
    }
}

/// A data dir whose single log holds records 1..=n, all durable.
fn populate(fs: &SimFs, n: u64) -> Vec<Record> {
    let (recs, mut r) = open(fs).unwrap();
    assert!(recs.is_empty());
    for i in 1..=n {
        r.writer.append(i, (i % 3) as u16, &args(i)).unwrap();
    }
    r.writer.write_and_sync().unwrap();
    read_file(fs, &log1()).0
}

fn read_file(fs: &SimFs, path: &Path) -> (Vec<Record>, StopReason) {
    let bytes = fs.contents(path).unwrap();
    LogReader::new(bytes, Default::default())
        .unwrap()
        .read_to_end()
        .unwrap()
}

fn nonzero_end(bytes: &[u8], from: usize) -> u64 {
    bytes[from..]
        .iter()
        .rposition(|&b| b != 0)
        .map_or(from, |i| from + i + 1) as u64
}

#[test]
fn empty_directory_is_created_durably() {
    let fs = SimFs::new(1);
    let (recs, r) = open(&fs).unwrap();
    assert!(recs.is_empty());
    assert!(r.stats.created);
    assert_eq!(r.stats.files, 1);
    assert_eq!(r.stats.records, 0);
    assert_eq!(r.stats.truncated, None);
    assert_eq!(r.manifest, Manifest::initial());
    assert_eq!(r.writer.written().offset, 40);
    assert_eq!(r.writer.next_lsn(), 1);
    drop(r);
    // Everything creation wrote is durable: a power loss right after changes nothing.
    fs.set_torn_mode(TornMode::Drop);
    fs.crash();
    assert_eq!(
        fs.list_dir(dir()).unwrap(),
        vec!["strata.1.incr".to_string(), MANIFEST_NAME.to_string()]
    );
    let (recs, r) = open(&fs).unwrap();
    assert!(recs.is_empty());
    assert!(!r.stats.created);

    // An existing but empty directory is initialised too.
    let fs = SimFs::new(2);
    fs.create_dir_all(Path::new("/data")).unwrap();
    let (_, r) = open(&fs).unwrap();
    assert!(r.stats.created);
}

#[test]
fn records_round_trip_through_recovery() {
    let fs = SimFs::new(3);
    let written = populate(&fs, 20);
    let (recs, r) = open(&fs).unwrap();
    assert_eq!(recs, written);
    assert_eq!(r.stats.records, 20);
    assert_eq!(r.stats.last_lsn, 20);
    assert_eq!(r.stats.bytes, written.iter().map(|r| r.len).sum::<u64>());
    assert_eq!(r.stats.truncated, None);
    assert_eq!(recs[6].args[1], b"key:7"[..]);
    assert_eq!(recs[6].db, 1);
    let last = written.last().unwrap();
    assert_eq!(r.writer.written().offset, last.offset + last.len);
}

#[test]
fn torn_tail_at_every_offset_of_the_last_record_is_truncated_exactly() {
    let base = SimFs::new(4);
    let written = populate(&base, 5);
    let pristine = base.contents(&log1()).unwrap();
    let last = written.last().unwrap().clone();
    let (start, end) = (last.offset as usize, (last.offset + last.len) as usize);
    for cut in start + 1..end {
        for zero_tail in [false, true] {
            let fs = SimFs::new(5);
            let mut bytes = pristine[..cut].to_vec();
            if zero_tail {
                bytes.resize(pristine.len(), 0); // preallocated space after the tear
            }
            fs.put_file(
                &dir().join(MANIFEST_NAME),
                &base.contents(&dir().join(MANIFEST_NAME)).unwrap(),
            );
            fs.put_file(&log1(), &bytes);

            // With load_truncated off, the tear is refused with its exact position.
            let strict = RecoveryOptions {
                load_truncated: false,
                ..opts()
            };
            let torn_bytes = nonzero_end(&bytes, start) - last.offset;
            match recovery_err(open_with(Arc::new(fs.clone()), strict)) {
                RecoveryError::TornTail {
                    path,
                    offset,
                    torn_bytes: t,
                    ..
                } => {
                    assert_eq!((path, offset, t), (log1(), last.offset, torn_bytes));
                }
                other => panic!("cut {cut}: {other}"),
            }
            assert_eq!(
                fs.contents(&log1()).unwrap(),
                bytes,
                "refusal changes nothing"
            );

            let (recs, mut r) = open(&fs).unwrap();
            assert_eq!(recs, written[..4], "cut at {cut}");
            let t = r.stats.truncated.clone().expect("a truncation");
            assert_eq!(
                (t.path, t.offset, t.torn_bytes, t.file_len_before),
                (log1(), last.offset, torn_bytes, bytes.len() as u64),
                "cut at {cut}"
            );
            assert_eq!(fs.contents(&log1()).unwrap().len() as u64, last.offset);
            // The writer continues exactly where the valid data ended.
            assert_eq!(r.writer.written().offset, last.offset);
            assert_eq!(r.writer.next_lsn(), 5);
            r.writer.append(5, 0, &[&b"DEL"[..], b"x"]).unwrap();
            r.writer.write_and_sync().unwrap();
            drop(r);
            let (recs, r) = open(&fs).unwrap();
            assert_eq!(recs.len(), 5);
            assert_eq!(recs[..4], written[..4]);
            assert_eq!(recs[4].args[0], b"DEL"[..]);
            assert_eq!(r.stats.truncated, None);
        }
    }
}

#[test]
fn garbage_after_the_last_record_is_a_torn_tail() {
    let fs = SimFs::new(6);
    let written = populate(&fs, 3);
    let end = written.last().map(|r| r.offset + r.len).unwrap();
    let mut bytes = fs.contents(&log1()).unwrap();
    let mut x: u32 = 0x1234_5678;
    for b in &mut bytes[end as usize..end as usize + 1000] {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *b = (x as u8) | 1;
    }
    fs.put_file(&log1(), &bytes);
    let (recs, r) = open(&fs).unwrap();
    assert_eq!(recs, written);
    assert_eq!(
        r.stats.truncated.map(|t| (t.offset, t.torn_bytes)),
        Some((end, 1000))
    );
    assert_eq!(fs.contents(&log1()).unwrap().len() as u64, end);
}

#[test]
fn zero_filled_tail_is_a_clean_end() {
    let fs = SimFs::new(7);
    let written = populate(&fs, 4);
    let mut bytes = fs.contents(&log1()).unwrap();
    bytes.extend_from_slice(&[0u8; 10_000]);
    fs.put_file(&log1(), &bytes);
    let (recs, r) = open(&fs).unwrap();
    assert_eq!(recs, written);
    assert_eq!(r.stats.truncated, None);
    assert_eq!(
        fs.contents(&log1()).unwrap().len(),
        bytes.len(),
        "nothing cut"
    );
    let last = written.last().unwrap();
    assert_eq!(r.writer.written().offset, last.offset + last.len);
    assert_eq!(r.writer.reserved_end(), bytes.len() as u64);
}

#[test]
fn flipped_bit_in_the_middle_is_refused_with_the_exact_offset() {
    let base = SimFs::new(8);
    let written = populate(&base, 10);
    let pristine = base.contents(&log1()).unwrap();
    let manifest = base.contents(&dir().join(MANIFEST_NAME)).unwrap();
    for k in [0usize, 3, 8] {
        let rec = &written[k];
        // A bit in the length word, in the checksum, in the LSN, and in an argument.
        for byte in [1u64, 5, 9, rec.len - 1] {
            let fs = SimFs::new(9);
            let mut bytes = pristine.clone();
            bytes[(rec.offset + byte) as usize] ^= 0x04;
            fs.put_file(&dir().join(MANIFEST_NAME), &manifest);
            fs.put_file(&log1(), &bytes);
            let err = recovery_err(open(&fs));
            let msg = err.to_string();
            match err {
                RecoveryError::Corrupt {
                    path,
                    offset,
                    record_index,
                    next_valid_offset,
                    ..
                } => {
                    assert_eq!(path, log1());
                    assert_eq!(offset, rec.offset, "record {k} byte {byte}");
                    assert_eq!(record_index, k as u64);
                    assert_eq!(next_valid_offset, Some(written[k + 1].offset));
                }
                other => panic!("record {k} byte {byte}: {other}"),
            }
            assert!(msg.contains("/data/strata.1.incr"), "{msg}");
            assert!(msg.contains(&format!("offset {}", rec.offset)), "{msg}");
            assert!(msg.contains("verify-aof repair /data"), "{msg}");
            assert_eq!(
                fs.contents(&log1()).unwrap(),
                bytes,
                "refusal changes nothing"
            );
        }
    }
}

#[test]
fn flipped_bit_in_the_last_record_is_indistinguishable_from_a_tear() {
    // Documented limitation: nothing valid follows, so it is treated as a torn tail.
    let fs = SimFs::new(10);
    let written = populate(&fs, 3);
    let mut bytes = fs.contents(&log1()).unwrap();
    let last = &written[2];
    bytes[(last.offset + 12) as usize] ^= 1;
    fs.put_file(&log1(), &bytes);
    let (recs, r) = open(&fs).unwrap();
    assert_eq!(recs, written[..2]);
    assert!(matches!(
        r.stats.truncated,
        Some(Truncation {
            offset,
            problem: RecordProblem::ChecksumMismatch { .. },
            ..
        }) if offset == last.offset
    ));
}

#[test]
fn missing_file_named_in_the_manifest_is_refused_by_name() {
    let fs = SimFs::new(11);
    populate(&fs, 2);
    let mut m = Manifest::load(&fs, dir()).unwrap().unwrap();
    let seq = m.allocate_seq();
    m.add_incr(seq).unwrap();
    m.store(&fs, dir()).unwrap();
    let err = recovery_err(open(&fs));
    assert!(
        matches!(&err, RecoveryError::MissingFile { path, .. } if path == &dir().join("strata.2.incr")),
        "{err}"
    );
    assert!(err.to_string().contains("/data/strata.2.incr"));

    // The base snapshot is checked the same way.
    let fs = SimFs::new(12);
    populate(&fs, 1);
    let mut m = Manifest::load(&fs, dir()).unwrap().unwrap();
    m.base = Some(strata::persistence::FileEntry {
        name: "strata.1.base".into(),
        seq: 1,
    });
    m.store(&fs, dir()).unwrap();
    assert!(matches!(
        recovery_err(open(&fs)),
        RecoveryError::MissingFile { path, .. } if path == dir().join("strata.1.base")
    ));
}

#[test]
fn bad_header_is_refused() {
    let fs = SimFs::new(13);
    populate(&fs, 2);
    let mut bytes = fs.contents(&log1()).unwrap();
    bytes[0] = b'X';
    fs.put_file(&log1(), &bytes);
    match recovery_err(open(&fs)) {
        RecoveryError::BadHeader { path, problem, .. } => {
            assert_eq!(path, log1());
            assert!(matches!(problem, HeaderProblem::BadMagic { .. }));
        }
        other => panic!("{other}"),
    }
    fs.put_file(&log1(), &bytes[..10]);
    match recovery_err(open(&fs)) {
        RecoveryError::BadHeader { problem, .. } => {
            assert_eq!(problem, HeaderProblem::TooShort { len: 10 })
        }
        other => panic!("{other}"),
    }
}

/// Adds log file `seq` (durably) and returns a writer for it.
fn rotate(fs: &SimFs, start_lsn: u64) -> LogWriter {
    let mut m = Manifest::load(fs, dir()).unwrap().unwrap();
    let seq = m.allocate_seq();
    let path = dir().join(strata::persistence::incr_file_name(seq));
    let w = LogWriter::create(fs, &path, LogHeader::new(seq, start_lsn), opts().log).unwrap();
    fs.sync_dir(dir()).unwrap();
    m.add_incr(seq).unwrap();
    m.store(fs, dir()).unwrap();
    w
}

#[test]
fn several_logs_replay_in_order_and_only_the_last_may_be_torn() {
    let fs = SimFs::new(14);
    let first = populate(&fs, 3);
    let mut w = rotate(&fs, 4);
    w.append(4, 0, &args(4)).unwrap();
    w.append(5, 0, &args(5)).unwrap();
    w.write_and_sync().unwrap();
    drop(w);
    let (recs, r) = open(&fs).unwrap();
    assert_eq!(
        recs.iter().map(|r| r.lsn).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5]
    );
    assert_eq!(r.stats.files, 2);
    assert_eq!(r.writer.path(), dir().join("strata.2.incr"));
    drop(r);

    // Tear the first (not last) file: refused.
    let mut bytes = fs.contents(&log1()).unwrap();
    let last = &first[2];
    bytes.truncate((last.offset + last.len - 2) as usize);
    fs.put_file(&log1(), &bytes);
    match recovery_err(open(&fs)) {
        RecoveryError::TornTailNotLast { path, offset, .. } => {
            assert_eq!((path, offset), (log1(), last.offset));
        }
        other => panic!("{other}"),
    }
}

#[test]
fn lsn_regression_across_files_and_wrong_file_are_refused() {
    let fs = SimFs::new(15);
    populate(&fs, 3);
    let mut w = rotate(&fs, 1);
    w.append(2, 0, &args(2)).unwrap();
    w.write_and_sync().unwrap();
    let off = 40;
    drop(w);
    match recovery_err(open(&fs)) {
        RecoveryError::LsnRegression {
            path,
            offset,
            prev,
            lsn,
            ..
        } => assert_eq!(
            (path, offset, prev, lsn),
            (dir().join("strata.2.incr"), off, 3, 2)
        ),
        other => panic!("{other}"),
    }

    // A log whose header carries another seq than the manifest gives it.
    let fs = SimFs::new(16);
    populate(&fs, 1);
    let one = fs.contents(&log1()).unwrap();
    drop(rotate(&fs, 2));
    fs.put_file(&dir().join("strata.2.incr"), &one);
    match recovery_err(open(&fs)) {
        RecoveryError::WrongFile {
            expected, found, ..
        } => assert_eq!((expected, found), (2, 1)),
        other => panic!("{other}"),
    }
}

#[test]
fn manifest_missing_with_data_is_refused_but_interrupted_creation_is_redone() {
    let fs = SimFs::new(17);
    populate(&fs, 2);
    fs.delete_file(&dir().join(MANIFEST_NAME));
    match recovery_err(open(&fs)) {
        RecoveryError::ManifestMissing { dir: d, files } => {
            assert_eq!(d, dir());
            assert_eq!(files, vec!["strata.1.incr".to_string()]);
        }
        other => panic!("{other}"),
    }

    // Even with a damaged header, a first log holding data is never re-initialised.
    let mut bytes = fs.contents(&log1()).unwrap();
    bytes[0] ^= 0xFF;
    fs.put_file(&log1(), &bytes);
    assert!(matches!(
        recovery_err(open(&fs)),
        RecoveryError::ManifestMissing { .. }
    ));

    // Creation interrupted before the manifest: header-only log and a stale temp file.
    let fs = SimFs::new(18);
    fs.put_file(&log1(), &LogHeader::new(1, 1).encode()[..17]);
    fs.put_file(&dir().join("strata.manifest.tmp"), b"strata-man");
    fs.put_file(&dir().join("unrelated.txt"), b"operator notes");
    let (recs, r) = open(&fs).unwrap();
    assert!(recs.is_empty());
    assert!(r.stats.created);
    assert_eq!(
        fs.contents(&dir().join("unrelated.txt")).unwrap(),
        b"operator notes"
    );
}

#[test]
fn manifest_corruption_is_refused() {
    let fs = SimFs::new(19);
    populate(&fs, 1);
    let mpath = dir().join(MANIFEST_NAME);
    let mut m = fs.contents(&mpath).unwrap();
    m[18] ^= 1;
    fs.put_file(&mpath, &m);
    let err = recovery_err(open(&fs));
    assert!(
        matches!(
            err,
            RecoveryError::Manifest(strata::persistence::ManifestError::Invalid { .. })
        ),
        "{err}"
    );
    assert!(err.to_string().contains("checksum mismatch"), "{err}");
}

#[test]
fn callback_errors_and_base_hook() {
    let fs = SimFs::new(20);
    populate(&fs, 5);
    let err = DataDir::open(Arc::new(fs.clone()), dir(), opts())
        .unwrap()
        .replay(|r: Record| if r.lsn == 3 { Err("boom") } else { Ok(()) })
        .unwrap_err();
    match err {
        ReplayError::Apply { lsn, source, .. } => assert_eq!((lsn, source), (3, "boom")),
        other => panic!("{other:?}"),
    }

    // With a base in the manifest, the base loader runs before any record is replayed.
    fs.put_file(&dir().join("strata.9.base"), b"snapshot bytes");
    let mut m = Manifest::load(&fs, dir()).unwrap().unwrap();
    m.base = Some(strata::persistence::FileEntry {
        name: "strata.9.base".into(),
        seq: 1,
    });
    m.store(&fs, dir()).unwrap();
    let events = std::cell::RefCell::new(Vec::new());
    recover(
        Arc::new(fs.clone()),
        dir(),
        opts(),
        |p: &Path| {
            events.borrow_mut().push(format!("base {}", p.display()));
            Ok::<(), Infallible>(())
        },
        |r: Record| {
            events.borrow_mut().push(format!("lsn {}", r.lsn));
            Ok(())
        },
    )
    .unwrap();
    let events = events.into_inner();
    assert_eq!(events[0], "base /data/strata.9.base");
    assert_eq!(events[1..], ["lsn 1", "lsn 2", "lsn 3", "lsn 4", "lsn 5"]);
}

#[test]
fn real_file_system_round_trip_and_tear() {
    use std::io::Write;
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("data");
    let fs: Arc<dyn Vfs> = Arc::new(strata::persistence::RealFs);
    let o = opts();
    let run = |expect: usize| {
        let mut recs = Vec::new();
        let r = recover(
            fs.clone(),
            &d,
            o,
            |_| Ok::<(), Infallible>(()),
            |r: Record| {
                recs.push(r.clone());
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(recs.len(), expect);
        (recs, r)
    };
    let (_, mut r) = run(0);
    for i in 1..=50 {
        r.writer.reserve(64).unwrap();
        r.writer.append(i, 0, &args(i)).unwrap();
        if i % 10 == 0 {
            r.writer.write_and_sync().unwrap();
        }
    }
    assert_eq!(r.writer.durable().lsn, 50);
    let log = d.join("strata.1.incr");
    let len = std::fs::metadata(&log).unwrap().len();
    assert_eq!(len % 4096, 0, "preallocated in chunks");
    drop(r);
    let (recs, r) = run(50);
    let end = r.writer.written().offset;
    drop(r);
    // Tear: half a record of garbage at the logical end.
    let mut f = std::fs::OpenOptions::new().write(true).open(&log).unwrap();
    use std::io::Seek;
    f.seek(std::io::SeekFrom::Start(end)).unwrap();
    f.write_all(&recs[0].len.to_le_bytes()[..4]).unwrap();
    f.write_all(&[0xEE; 9]).unwrap();
    drop(f);
    let (_, r) = run(50);
    assert_eq!(
        r.stats.truncated.as_ref().map(|t| (t.offset, t.torn_bytes)),
        Some((end, 13))
    );
    assert_eq!(std::fs::metadata(&log).unwrap().len(), end);
}
