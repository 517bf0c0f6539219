//! Guards what an operator sees at startup on a damaged data directory: a torn tail is
//! truncated and logged, corruption in the middle stops the server with the file, the
//! offset and the command to run, and nothing is silently skipped.

use std::process::{Command, Stdio};

mod common;
use common::free_port;

fn server(dir: &std::path::Path, port: u16, extra: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_strata-server"));
    c.args(["--port", &port.to_string(), "--dir"])
        .arg(dir)
        .args(["--appendfsync", "always"])
        .args(extra);
    c
}

/// Start a server, write `n` keys, shut it down cleanly.
fn populate(dir: &std::path::Path, n: usize) {
    let port = free_port();
    let mut child = server(dir, port, &[])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    common::wait_listening(port);
    let mut con = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
        .unwrap()
        .get_connection()
        .unwrap();
    for i in 0..n {
        let _: () = redis::cmd("SET")
            .arg(format!("key{i}"))
            .arg(format!("value{i}"))
            .query(&mut con)
            .unwrap();
    }
    let _: redis::RedisResult<()> = redis::cmd("SHUTDOWN").query(&mut con);
    assert!(child.wait().unwrap().success(), "clean shutdown exits 0");
}

fn log_file(dir: &std::path::Path) -> std::path::PathBuf {
    dir.join("strata.1.incr")
}

#[test]
fn corruption_in_the_middle_refuses_to_start_naming_file_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    populate(dir.path(), 20);
    let path = log_file(dir.path());
    let mut bytes = std::fs::read(&path).unwrap();
    // Flip a bit inside the 6th record's payload; later records stay valid.
    bytes[300] ^= 4;
    std::fs::write(&path, &bytes).unwrap();
    let out = server(dir.path(), free_port(), &[]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!(
            "log file {} is corrupt at offset 275",
            path.display()
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("verify-aof check {}", dir.path().display())),
        "{text}"
    );
    // The server must not have modified the file on its way out.
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
}

#[test]
fn torn_tail_is_truncated_and_logged_or_refused_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    populate(dir.path(), 10);
    let path = log_file(dir.path());
    let bytes = std::fs::read(&path).unwrap();
    let end = bytes.iter().rposition(|&b| b != 0).unwrap() + 1;
    // Cut the last record in half (the rest of the file is preallocated zeros).
    let mut torn = bytes.clone();
    for b in &mut torn[end - 10..end] {
        *b = 0;
    }
    std::fs::write(&path, &torn).unwrap();

    let out = server(dir.path(), free_port(), &["--aof-load-truncated", "no"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "aof-load-truncated no refuses a torn tail"
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("torn"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    let port = free_port();
    let child = server(dir.path(), port, &[])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    common::wait_listening(port);
    let mut con = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
        .unwrap()
        .get_connection()
        .unwrap();
    let n: i64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(
        n, 9,
        "the torn last record is dropped, the nine before it are kept"
    );
    let _: redis::RedisResult<()> = redis::cmd("SHUTDOWN").query(&mut con);
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("truncated a torn tail of"), "{text}");
}
