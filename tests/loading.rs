//! Guards the loading state at startup: a client connected while the server loads its
//! data gets `-LOADING` (INFO shows the progress) on the same connection it keeps using
//! afterwards, the load ends with every key, and SHUTDOWN during a load exits at once
//! without writing anything over the files being loaded.

use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

mod common;
use common::{free_port, spawn_server, spawn_server_loading, Raw, LOG_ALWAYS};
use strata::protocol::Frame;

const LOADING: &str = "LOADING Redis is loading the dataset in memory";
const KEYS: usize = 300;

/// A connection to a server that answers PING with `-LOADING`.
fn connect_while_loading(port: u16) -> Raw {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            if s.local_addr().ok() != s.peer_addr().ok() {
                drop(s);
                let mut c = Raw::connect(port);
                match c.q("PING") {
                    Frame::Error(e) if e == LOADING => return c,
                    other => panic!("expected -LOADING while loading, got {other:?}"),
                }
            }
        }
        assert!(Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn info_field(c: &mut Raw, name: &str) -> Option<String> {
    let Frame::Bulk(text) = c.q("INFO persistence") else {
        panic!("INFO is answered while loading");
    };
    String::from_utf8(text).unwrap().lines().find_map(|l| {
        l.strip_prefix(name)
            .and_then(|r| r.strip_prefix(':'))
            .map(str::to_string)
    })
}

fn wait_exit(child: &mut Child, secs: u64) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        assert!(Instant::now() < deadline, "server did not exit");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A data directory with KEYS keys, written by a server with `args`, then `finish` sent.
fn populate(dir: &Path, args: &[&str], finish: &str) {
    let port = free_port();
    let mut child = spawn_server(dir, port, args);
    let mut c = Raw::connect(port);
    for i in 0..KEYS {
        assert_eq!(
            c.call(&["SET", &format!("key{i}"), &format!("value{i}")]),
            Frame::Simple("OK".into())
        );
    }
    c.send_cmd(&[finish]);
    if finish == "SAVE" {
        assert_eq!(c.read(), Frame::Simple("OK".into()));
        c.send_cmd(&["SHUTDOWN", "NOSAVE"]);
    }
    assert!(wait_exit(&mut child, 20).success());
}

/// A normal restart of `dir` finds `keys` keys.
fn assert_restart_finds(dir: &Path, args: &[&str], keys: usize) {
    let port = free_port();
    let mut child = spawn_server(dir, port, args);
    let mut c = Raw::connect(port);
    assert_eq!(c.q("DBSIZE"), Frame::Integer(keys as i64));
    c.send_cmd(&["SHUTDOWN", "NOSAVE"]);
    assert!(wait_exit(&mut child, 20).success());
}

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn clients_get_loading_then_the_whole_dataset_on_the_same_connection() {
    let dir = tempfile::tempdir().unwrap();
    populate(dir.path(), &LOG_ALWAYS, "SHUTDOWN");

    // 300 records at 5 ms each: about 1.5 s of loading.
    let port = free_port();
    let mut args = LOG_ALWAYS.to_vec();
    args.extend(["--key-load-delay", "5000", "--enable-debug-command", "yes"]);
    let mut child = spawn_server_loading(dir.path(), port, &args);
    let mut c = connect_while_loading(port);

    assert_eq!(c.q("GET key1"), Frame::Error(LOADING.into()));
    assert_eq!(c.q("SET other 1"), Frame::Error(LOADING.into()));
    assert_eq!(
        c.q("DEBUG SLEEP 0"),
        Frame::Error(LOADING.into()),
        "DEBUG is refused while loading even where it is enabled"
    );
    // Connection state set while loading carries over (SELECT has Redis's loading flag).
    assert_eq!(c.q("SELECT 0"), Frame::Simple("OK".into()));
    assert_eq!(info_field(&mut c, "loading").as_deref(), Some("1"));
    // Clients are let in before the data directory is opened: the size is 0 ("not known
    // yet") until then, which on a loaded machine can outlast the first INFO.
    let total = |c: &mut Raw| -> u64 {
        info_field(c, "loading_total_bytes")
            .unwrap()
            .parse()
            .unwrap()
    };
    assert!(
        common::wait_for(10_000, || total(&mut c) > 0),
        "the log's size is known"
    );
    assert_eq!(info_field(&mut c, "loading").as_deref(), Some("1"));
    let perc: f64 = info_field(&mut c, "loading_loaded_perc")
        .unwrap()
        .parse()
        .unwrap();
    assert!((0.0..100.0).contains(&perc), "{perc}");

    let deadline = Instant::now() + Duration::from_secs(30);
    let mut saw_progress = perc > 0.0;
    loop {
        match c.q("PING") {
            Frame::Simple(s) if s == "PONG" => break,
            Frame::Error(e) if e == LOADING => {
                if let Some(p) = info_field(&mut c, "loading_loaded_perc") {
                    let p: f64 = p.parse().unwrap();
                    assert!(p >= perc, "progress only grows: {perc} then {p}");
                    saw_progress |= p > perc;
                }
            }
            other => panic!("unexpected reply while loading: {other:?}"),
        }
        assert!(Instant::now() < deadline, "the load did not finish");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(saw_progress, "loading_loaded_perc moved during the load");
    assert_eq!(c.q("DBSIZE"), Frame::Integer(KEYS as i64));
    assert_eq!(c.q("GET key299"), Frame::Bulk(b"value299".to_vec()));
    assert_eq!(info_field(&mut c, "loading").as_deref(), Some("0"));
    assert_eq!(info_field(&mut c, "loading_total_bytes"), None);
    // Writes work and are logged once loaded.
    assert_eq!(c.q("SET after load"), Frame::Simple("OK".into()));
    c.send_cmd(&["SHUTDOWN"]);
    assert!(wait_exit(&mut child, 20).success());
    assert_restart_finds(dir.path(), &LOG_ALWAYS, KEYS + 1);
}

#[test]
fn shutdown_while_loading_the_log_exits_and_keeps_the_files() {
    let dir = tempfile::tempdir().unwrap();
    populate(dir.path(), &LOG_ALWAYS, "SHUTDOWN");
    let before = files(dir.path());

    // 300 records at 100 ms each: 30 s, far longer than the test waits.
    let port = free_port();
    let mut args = LOG_ALWAYS.to_vec();
    args.extend(["--key-load-delay", "100000"]);
    let mut child = spawn_server_loading(dir.path(), port, &args);
    let mut c = connect_while_loading(port);
    // As Redis: even SHUTDOWN SAVE saves nothing while loading.
    c.send_cmd(&["SHUTDOWN", "SAVE"]);
    assert!(wait_exit(&mut child, 10).success(), "exits 0 at once");
    assert_eq!(files(dir.path()), before, "nothing written while loading");
    assert_restart_finds(dir.path(), &LOG_ALWAYS, KEYS);
}

#[test]
fn shutdown_while_loading_a_snapshot_does_not_save_over_it() {
    // Without the log the dataset is the snapshot, and save rules would save at
    // SHUTDOWN: a save during the load would replace it with the part loaded so far.
    let dir = tempfile::tempdir().unwrap();
    let no_log = ["--appendonly", "no", "--save", "3600 1"];
    populate(dir.path(), &no_log, "SAVE");
    let before = files(dir.path());
    assert!(before.iter().any(|(n, _)| n == "dump.rdb"));

    let port = free_port();
    let mut args = no_log.to_vec();
    args.extend(["--key-load-delay", "100000"]);
    let mut child = spawn_server_loading(dir.path(), port, &args);
    let mut c = connect_while_loading(port);
    assert_eq!(info_field(&mut c, "loading").as_deref(), Some("1"));
    c.send_cmd(&["SHUTDOWN", "SAVE"]);
    assert!(wait_exit(&mut child, 10).success(), "exits 0 at once");
    assert_eq!(files(dir.path()), before, "the snapshot is untouched");
    assert_restart_finds(dir.path(), &no_log, KEYS);
}
