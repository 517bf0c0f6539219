//! Guards the `verify-aof` command line: check's exit codes (0 intact, 1 torn tail, 2 corruption) on directories written by the strata library, repair's exact truncation with a backup and its refusals, dump's output, and a short kill -9 / power-loss drill.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use bytes::Bytes;
use strata::command::Session;
use strata::config::{Config, FsyncPolicy};
use strata::engine::{exit_on_fatal, Engine, OpenOptions};
use strata::persistence::record::encode_record;
use strata::persistence::{
    FileEntry, LogConfig, LogHeader, LogReader, LogWriter, Manifest, RealFs, Record, Vfs,
};
use strata::protocol::ReplyBuf;

const BIN: &str = env!("CARGO_BIN_EXE_verify-aof");

fn run(args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("run verify-aof");
    if let Some(input) = stdin {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    child.wait_with_output().unwrap()
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exited normally")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn both(o: &Output) -> String {
    format!(
        "--- stdout\n{}--- stderr\n{}",
        stdout(o),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn check(dir: &Path) -> (i32, serde_json::Value) {
    let o = run(&["check", dir.to_str().unwrap(), "--json"], None);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("check --json printed invalid JSON ({e}):\n{}", both(&o)));
    (code(&o), v)
}

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

/// Runs batches of commands through the strata engine on the real file system.
struct Db {
    engine: Engine,
    sess: Session,
}

impl Db {
    fn open(dir: &Path) -> Db {
        let config = Config {
            dir: dir.to_path_buf(),
            appendonly: true,
            appendfsync: FsyncPolicy::No,
            save: String::new(),
            ..Config::default()
        };
        let engine = Engine::open_with(
            config,
            OpenOptions {
                vfs: Arc::new(RealFs),
                fatal: exit_on_fatal(),
                prealloc_chunk: 64 * 1024,
            },
        )
        .expect("open the engine");
        Db {
            engine,
            sess: Session::new(1, true),
        }
    }

    fn batch(&mut self, cmds: &[&[&str]]) -> String {
        let mut v: Vec<Vec<Bytes>> = cmds
            .iter()
            .map(|c| c.iter().map(|a| b(a)).collect())
            .collect();
        let mut out = ReplyBuf::new(false);
        let o = self.engine.execute_batch(&mut self.sess, &mut v, &mut out);
        assert!(o.log_failed.is_none(), "{:?}", o.log_failed);
        String::from_utf8_lossy(out.as_bytes()).into_owned()
    }

    fn close(mut self) {
        self.engine.close().expect("close");
    }
}

/// A directory with 20 records: SETs in db 0, a few in db 3, and one transaction.
fn intact_dir() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    let mut db = Db::open(t.path());
    for i in 0..15 {
        let (k, v) = (format!("user:{i}"), format!("v{i}"));
        assert_eq!(db.batch(&[&["SET", &k, &v]]), "+OK\r\n");
    }
    db.batch(&[&["SELECT", "3"]]);
    for i in 0..3 {
        db.batch(&[&["SET", &format!("other:{i}"), "x y"]]);
    }
    db.batch(&[&["MULTI"], &["SET", "t1", "1"], &["INCR", "t1"], &["EXEC"]]);
    db.batch(&[&["SELECT", "0"]]);
    db.batch(&[&["DEL", "user:0"]]);
    db.close();
    t
}

fn log_path(dir: &Path) -> PathBuf {
    dir.join("strata.1.incr")
}

fn records(path: &Path) -> (Vec<Record>, u64) {
    let f = RealFs.open_read(path).unwrap();
    let r = LogReader::new(f, Default::default()).unwrap();
    let (recs, stop) = r.read_to_end().unwrap();
    (recs, stop.valid_end())
}

#[test]
fn intact_directory_exits_0_with_a_summary() {
    let t = intact_dir();
    let dir = t.path().to_str().unwrap();
    let before = std::fs::read(log_path(t.path())).unwrap();
    let o = run(&["check", dir], None);
    assert_eq!(code(&o), 0, "{}", both(&o));
    let text = stdout(&o);
    assert!(
        text.contains("20 records (1 transaction), LSN 1..20"),
        "{text}"
    );
    assert!(text.contains("records per db: db0=16 db3=4"), "{text}");
    assert!(text.contains("verdict   intact (exit 0)"), "{text}");

    let (c, v) = check(t.path());
    assert_eq!(c, 0);
    assert_eq!(v["verdict"], "intact");
    assert_eq!(v["summary"]["records"], 20);
    assert_eq!(v["summary"]["first_lsn"], 1);
    assert_eq!(v["summary"]["last_lsn"], 20);
    assert_eq!(v["summary"]["commands_per_db"]["3"], 5);
    assert_eq!(v["problems"].as_array().unwrap().len(), 0);
    // Read-only: nothing changed (the log even keeps its preallocated zeros).
    assert_eq!(std::fs::read(log_path(t.path())).unwrap(), before);
}

#[test]
fn torn_tail_exits_1_and_repair_cuts_exactly_with_a_backup() {
    let t = intact_dir();
    let path = log_path(t.path());
    let (recs, end) = records(&path);
    assert_eq!(recs.len(), 20);
    // Half of a record, as a crash in the middle of a write leaves it.
    let mut rec = Vec::new();
    encode_record(
        &mut rec,
        21,
        0,
        &[&b"SET"[..], b"k", b"value"],
        &Default::default(),
    )
    .unwrap();
    let torn = &rec[..rec.len() / 2];
    let f = RealFs.open_write(&path).unwrap();
    f.write_all_at(torn, end).unwrap();
    drop(f);
    let len_before = std::fs::metadata(&path).unwrap().len();

    let (c, v) = check(t.path());
    assert_eq!(c, 1, "{v:#}");
    assert_eq!(v["verdict"], "torn-tail");
    let p = &v["problems"][0];
    assert_eq!(p["kind"], "torn-tail");
    assert_eq!(p["file"], "strata.1.incr");
    assert_eq!(p["offset"], end);
    assert_eq!(p["record"], 20);
    assert_eq!(v["repair"]["action"], "truncate-torn-tail");
    assert_eq!(v["repair"]["lost_records"], 0);

    let dir = t.path().to_str().unwrap();
    // Without --yes it asks; anything but "y" changes nothing.
    let o = run(&["repair", dir], Some("n\n"));
    assert_eq!(code(&o), 4, "{}", both(&o));
    assert_eq!(std::fs::metadata(&path).unwrap().len(), len_before);

    let o = run(&["repair", dir], Some("y\n"));
    assert_eq!(code(&o), 0, "{}", both(&o));
    assert_eq!(
        std::fs::metadata(&path).unwrap().len(),
        end,
        "cut exactly at the end of the last complete record"
    );
    let backups: Vec<PathBuf> = std::fs::read_dir(t.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains("strata.1.incr.torn-"))
        .collect();
    assert_eq!(backups.len(), 1, "{backups:?}");
    // The backup holds the cut bytes up to the last non-zero one: what follows is
    // indistinguishable from the preallocated zeros (the output says so).
    let kept = torn.iter().rposition(|&x| x != 0).map_or(0, |i| i + 1);
    assert_eq!(
        std::fs::read(&backups[0]).unwrap(),
        &torn[..kept],
        "the backup holds the cut bytes"
    );
    assert!(stdout(&o).contains("were zero"), "{}", both(&o));
    assert_eq!(records(&path).0, recs, "no complete record lost");

    let (c, v) = check(t.path());
    assert_eq!(c, 0, "{v:#}");
    assert_eq!(v["summary"]["records"], 20);
    // The backup is not part of the data set.
    assert_eq!(v["stray_files"].as_array().unwrap().len(), 1);
}

#[test]
fn flipped_bit_mid_file_exits_2_and_repair_refuses_without_the_flag() {
    let t = intact_dir();
    let path = log_path(t.path());
    let (recs, _) = records(&path);
    let victim = &recs[7];
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[victim.offset as usize + 20] ^= 0x04;
    std::fs::write(&path, &bytes).unwrap();

    let (c, v) = check(t.path());
    assert_eq!(c, 2, "{v:#}");
    assert_eq!(v["verdict"], "corrupt");
    let p = &v["problems"][0];
    assert_eq!(p["kind"], "checksum-mismatch");
    assert_eq!(p["offset"], victim.offset);
    assert_eq!(p["record"], 7);
    assert_eq!(v["logs"][0]["records_after_problem"], 12);

    let dir = t.path().to_str().unwrap();
    let o = run(&["repair", dir, "--yes"], None);
    assert_eq!(code(&o), 2, "{}", both(&o));
    let text = stdout(&o);
    assert!(text.contains("12 complete records would be lost"), "{text}");
    assert!(text.contains("--truncate-to-last-good"), "{text}");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        bytes,
        "a refused repair changes nothing"
    );

    let o = run(&["repair", dir, "--yes", "--truncate-to-last-good"], None);
    assert_eq!(code(&o), 0, "{}", both(&o));
    assert!(stdout(&o).contains("12 complete records would be lost"));
    assert_eq!(std::fs::metadata(&path).unwrap().len(), victim.offset);
    let (c, v) = check(t.path());
    assert_eq!(c, 0, "{v:#}");
    assert_eq!(v["summary"]["records"], 7);
}

/// Two logs written with the library's `LogWriter` and named by a `Manifest`.
fn two_log_dir() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path();
    let mut m = Manifest::initial();
    let config = LogConfig {
        prealloc_chunk: 4096,
        low_watermark: 1024,
        ..LogConfig::default()
    };
    let mut w = LogWriter::create(
        &RealFs,
        &dir.join("strata.1.incr"),
        LogHeader::new(1, 1),
        config,
    )
    .unwrap();
    for lsn in 1..=5u64 {
        w.append(lsn, 0, &[&b"SET"[..], b"a", lsn.to_string().as_bytes()])
            .unwrap();
    }
    w.write_and_sync().unwrap();
    let seq = m.allocate_seq();
    let mut w2 = LogWriter::create(
        &RealFs,
        &dir.join("strata.2.incr"),
        LogHeader::new(seq, 6),
        config,
    )
    .unwrap();
    for lsn in 6..=8u64 {
        w2.append(lsn, 1, &[&b"SET"[..], b"b", lsn.to_string().as_bytes()])
            .unwrap();
    }
    w2.write_and_sync().unwrap();
    m.add_incr(seq).unwrap();
    m.store(&RealFs, dir).unwrap();
    t
}

#[test]
fn missing_manifest_entry_and_missing_manifest_exit_2() {
    let t = two_log_dir();
    let (c, v) = check(t.path());
    assert_eq!(c, 0, "{v:#}");
    assert_eq!(v["summary"]["records"], 8);
    assert_eq!(v["summary"]["records_per_db"]["1"], 3);

    std::fs::remove_file(t.path().join("strata.1.incr")).unwrap();
    let (c, v) = check(t.path());
    assert_eq!(c, 2, "{v:#}");
    assert_eq!(v["problems"][0]["kind"], "missing-file");
    assert_eq!(v["problems"][0]["file"], "strata.1.incr");
    // The first log is gone: there is no good prefix, repair refuses even with the flag.
    let dir = t.path().to_str().unwrap();
    let o = run(&["repair", dir, "--yes", "--truncate-to-last-good"], None);
    assert_eq!(code(&o), 2, "{}", both(&o));

    let t = two_log_dir();
    std::fs::remove_file(t.path().join("strata.manifest")).unwrap();
    let (c, v) = check(t.path());
    assert_eq!(c, 2, "{v:#}");
    assert_eq!(v["problems"][0]["kind"], "missing-manifest");

    let t = two_log_dir();
    let mut m = std::fs::read(t.path().join("strata.manifest")).unwrap();
    m[3] ^= 1;
    std::fs::write(t.path().join("strata.manifest"), m).unwrap();
    let (c, v) = check(t.path());
    assert_eq!(c, 2, "{v:#}");
    assert_eq!(v["problems"][0]["kind"], "corrupt-manifest");
}

/// The files of an unfinished build (`strata.pending`, a log switched on at run time and
/// cut short) are reported as what the server deletes at its next start, not as strays
/// or as a directory without a manifest.
#[test]
fn an_unfinished_switch_is_a_note_not_a_problem() {
    let t = two_log_dir();
    let pending = Manifest {
        base: Some(FileEntry {
            name: "strata.9.base".into(),
            seq: 9,
        }),
        incrs: vec![FileEntry {
            name: "strata.10.incr".into(),
            seq: 10,
        }],
        next_seq: 11,
    };
    pending.store_pending(&RealFs, t.path()).unwrap();
    std::fs::write(t.path().join("strata.9.base"), b"partial").unwrap();
    std::fs::write(t.path().join("strata.10.incr"), b"partial").unwrap();
    let (c, v) = check(t.path());
    assert_eq!(c, 0, "{v:#}");
    assert_eq!(v["stray_files"], serde_json::json!([]), "{v:#}");
    let notes = v["notes"].to_string();
    assert!(
        notes.contains(
            r#"the server deletes [\"strata.9.base\", \"strata.10.incr\"] and strata.pending"#
        ),
        "{notes}"
    );
    // Without a manifest, only the unfinished build: the server starts afresh.
    std::fs::remove_file(t.path().join("strata.manifest")).unwrap();
    for f in ["strata.1.incr", "strata.2.incr"] {
        std::fs::remove_file(t.path().join(f)).unwrap();
    }
    let (c, v) = check(t.path());
    assert_eq!(c, 0, "{v:#}");
    assert!(
        v["notes"].to_string().contains("only an unfinished build"),
        "{v:#}"
    );
}

#[test]
fn missing_last_log_is_dropped_only_with_truncate_to_last_good() {
    let t = two_log_dir();
    std::fs::remove_file(t.path().join("strata.2.incr")).unwrap();
    let dir = t.path().to_str().unwrap();
    let (c, _) = check(t.path());
    assert_eq!(c, 2);
    let o = run(&["repair", dir, "--yes"], None);
    assert_eq!(code(&o), 2, "{}", both(&o));
    let o = run(&["repair", dir, "--yes", "--truncate-to-last-good"], None);
    assert_eq!(code(&o), 0, "{}", both(&o));
    let (c, v) = check(t.path());
    assert_eq!(c, 0, "{v:#}");
    assert_eq!(v["summary"]["records"], 5);
}

#[test]
fn base_snapshot_is_validated_and_a_truncated_one_exits_2() {
    let t = tempfile::tempdir().unwrap();
    let mut db = Db::open(t.path());
    for i in 0..200 {
        db.batch(&[&["SET", &format!("k{i}"), "v"]]);
    }
    db.batch(&[&["SELECT", "2"]]);
    db.batch(&[&["SET", "in2", "v"]]);
    let reply = db.batch(&[&["BGREWRITEAOF"]]);
    assert!(
        reply.starts_with("+Background append only file rewriting"),
        "{reply}"
    );
    db.engine.finish_snapshot();
    db.batch(&[&["SET", "after", "v"]]);
    db.close();

    let (c, v) = check(t.path());
    assert_eq!(c, 0, "{v:#}");
    assert_eq!(v["base"]["status"], "valid", "{v:#}");
    assert_eq!(v["base"]["details"]["keys"], 201);
    assert_eq!(v["summary"]["keys_per_db"]["0"], 200);
    assert_eq!(v["summary"]["keys_per_db"]["2"], 1);
    assert_eq!(v["summary"]["records"], 1);

    let base = t.path().join(v["base"]["name"].as_str().unwrap());
    let len = std::fs::metadata(&base).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&base).unwrap();
    f.set_len(len - 10).unwrap();
    drop(f);
    let (c, v) = check(t.path());
    assert_eq!(c, 2, "{v:#}");
    assert_eq!(v["problems"][0]["kind"], "corrupt-snapshot");
    let o = run(
        &[
            "repair",
            t.path().to_str().unwrap(),
            "--yes",
            "--truncate-to-last-good",
        ],
        None,
    );
    assert_eq!(code(&o), 2, "{}", both(&o));
    assert_eq!(std::fs::metadata(&base).unwrap().len(), len - 10);
}

#[test]
fn dump_prints_commands_with_file_offset_lsn_and_db() {
    let t = intact_dir();
    let dir = t.path().to_str().unwrap();
    let o = run(&["dump", dir], None);
    assert_eq!(code(&o), 0, "{}", both(&o));
    let text = stdout(&o);
    assert!(
        text.starts_with("# strata.1.incr @40 lsn=1 db=0\nSET user:0 v0\n"),
        "{text}"
    );
    assert!(
        text.contains("lsn=16 db=3\nSELECT 3\nSET other:0 \"x y\"\n"),
        "{text}"
    );
    assert!(
        text.contains("transaction of 2 commands\nMULTI\nSET t1 1\nINCR t1\nEXEC\n"),
        "{text}"
    );
    assert!(
        text.contains("lsn=20 db=0\nSELECT 0\nDEL user:0\n"),
        "{text}"
    );
    assert!(text.ends_with("# 20 records shown\n"), "{text}");

    let o = run(&["dump", dir, "--key", "user:1*"], None);
    let text = stdout(&o);
    // user:1, user:10..user:14
    assert!(text.ends_with("# 6 records shown\n"), "{text}");
    assert!(!text.contains("other:"), "{text}");

    let (recs, _) = records(&log_path(t.path()));
    let from = recs[2].offset.to_string();
    let to = recs[4].offset.to_string();
    let o = run(
        &[
            "dump",
            dir,
            "--file",
            "strata.1.incr",
            "--from",
            &from,
            "--to",
            &to,
        ],
        None,
    );
    let text = stdout(&o);
    assert!(text.contains("lsn=3 ") && text.contains("lsn=4 "), "{text}");
    assert!(text.ends_with("# 2 records shown\n"), "{text}");
}

#[test]
fn usage_errors_exit_64_and_help_explains_exit_codes() {
    let o = run(&["check"], None);
    assert_eq!(code(&o), 64);
    let o = run(&["frobnicate"], None);
    assert_eq!(code(&o), 64);
    let o = run(&["--help"], None);
    assert_eq!(code(&o), 0);
    assert!(stdout(&o).contains("Exit codes"));
    let o = run(&["check", "/nonexistent/strata-dir"], None);
    assert_eq!(code(&o), 3, "{}", both(&o));
}

/// `strata-server` from the same target directory as this test's `verify-aof`.
fn server_binary() -> Option<PathBuf> {
    let p = Path::new(BIN).parent()?.join("strata-server");
    p.is_file().then_some(p)
}

/// Run `verify-aof drill` with `args` against the strata-server built next to it;
/// its stdout once it exited 0, or None (test skipped) without a server binary.
fn drill(args: &[&str]) -> Option<String> {
    let Some(server) = server_binary() else {
        eprintln!(
            "SKIPPED: strata-server is not built next to {BIN}; run `cargo build --bin strata-server` first"
        );
        return None;
    };
    let mut all = vec!["drill", "--server", server.to_str().unwrap()];
    all.extend_from_slice(args);
    let o = run(&all, None);
    assert_eq!(code(&o), 0, "{}", both(&o));
    Some(stdout(&o))
}

/// The cells of the result table's row for `policy`.
fn drill_row<'a>(text: &'a str, policy: &str) -> Vec<&'a str> {
    let row = text
        .lines()
        .find(|l| l.starts_with(&format!("| {policy} |")))
        .unwrap_or_else(|| panic!("no {policy} row:\n{text}"));
    row.split('|').map(str::trim).collect()
}

#[test]
fn drill_kill9_under_every_policy_loses_no_acknowledged_write() {
    let Some(text) = drill(&[
        "--rounds",
        "5",
        "--policy",
        "all",
        "--seconds-per-round",
        "1",
        "--clients",
        "4",
    ]) else {
        return;
    };
    for policy in ["always", "everysec", "no"] {
        let cells = drill_row(&text, policy);
        assert_eq!(cells[2], "5/5", "{cells:?}");
        assert_eq!(
            cells[7], "0",
            "acknowledged writes lost under {policy}: {cells:?}"
        );
    }
    assert!(text.contains("all 15 rounds passed"), "{text}");
}

#[test]
fn drill_power_loss_keeps_every_write_acknowledged_under_always() {
    let plot = tempfile::tempdir().unwrap();
    let svg = plot.path().join("drill.svg");
    let Some(text) = drill(&[
        "--power-loss",
        "--rounds",
        "1",
        "--policy",
        "all",
        "--seconds-per-round",
        "1",
        "--clients",
        "4",
        "--plot",
        svg.to_str().unwrap(),
    ]) else {
        return;
    };
    let cells = drill_row(&text, "always");
    assert_eq!(cells[7], "0", "{cells:?}");
    let svg = std::fs::read_to_string(svg).unwrap();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
}

/// Under `everysec` and `no`, a write followed by a WAITAOF that answered `[1, 0]` survives
/// a power loss like a write under `always` (the drill counts any such loss as a failure).
#[test]
fn drill_power_loss_keeps_every_write_confirmed_by_waitaof() {
    let Some(text) = drill(&[
        "--power-loss",
        "--rounds",
        "2",
        "--policy",
        "waitaof",
        "--seconds-per-round",
        "1",
        "--clients",
        "4",
    ]) else {
        return;
    };
    for policy in ["everysec+waitaof", "no+waitaof"] {
        let cells = drill_row(&text, policy);
        assert_eq!(cells[2], "2/2", "{cells:?}");
        assert_ne!(cells[6], "0", "nothing acknowledged: {cells:?}");
        assert_eq!(cells[7], "0", "writes lost under {policy}: {cells:?}");
    }
}

#[test]
fn corruption_in_an_earlier_log_cuts_there_and_drops_the_later_logs() {
    let t = two_log_dir();
    let first = t.path().join("strata.1.incr");
    let (recs, _) = records(&first);
    let mut bytes = std::fs::read(&first).unwrap();
    bytes[recs[2].offset as usize + 9] ^= 0x80;
    std::fs::write(&first, &bytes).unwrap();
    let (c, v) = check(t.path());
    assert_eq!(c, 2, "{v:#}");
    assert_eq!(v["problems"][0]["offset"], recs[2].offset);
    // 2 records after the bad one in this log, 3 in the next.
    assert_eq!(v["repair"]["lost_records"], 5, "{v:#}");
    let dir = t.path().to_str().unwrap();
    let o = run(&["repair", dir, "--yes", "--truncate-to-last-good"], None);
    assert_eq!(code(&o), 0, "{}", both(&o));
    assert!(
        stdout(&o).contains("5 complete records would be lost"),
        "{}",
        both(&o)
    );
    let (c, v) = check(t.path());
    assert_eq!(c, 0, "{v:#}");
    assert_eq!(v["summary"]["records"], 2);
    assert_eq!(v["manifest"]["incrs"].as_array().unwrap().len(), 1);
    // The dropped log is renamed, not deleted.
    assert!(!t.path().join("strata.2.incr").exists());
    assert!(std::fs::read_dir(t.path()).unwrap().any(|e| e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .starts_with("strata.2.incr.dropped-")));
}
