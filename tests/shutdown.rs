//! Clean shutdown of the real binary, as Redis 7.0: SIGTERM and SHUTDOWN flush and fsync
//! the log, leave a manifest and exit 0; SAVE writes a snapshot, NOSAVE does not, the
//! default saves only with `save` rules and changes; everything acknowledged is there
//! after a restart.

use std::path::Path;
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

use redis::Commands;

mod common;
use common::{connect, free_port, spawn_server};

/// The binary with the log on (`appendfsync no`) and `extra`.
fn start(dir: &Path, port: u16, extra: &[&str]) -> Child {
    let mut args = vec!["--appendonly", "yes", "--appendfsync", "no"];
    args.extend_from_slice(extra);
    spawn_server(dir, port, &args)
}

fn wait_exit(child: &mut Child) -> ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the server did not exit");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn write_keys(port: u16, n: usize) {
    let mut c = connect(port);
    for i in 0..n {
        let _: () = c.set(format!("k{i}"), format!("v{i}")).unwrap();
    }
}

fn check_keys(dir: &Path, n: usize) {
    let port = free_port();
    let mut child = start(dir, port, &["--save", ""]);
    let mut c = connect(port);
    let size: usize = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(size, n);
    let v: String = c.get(format!("k{}", n - 1)).unwrap();
    assert_eq!(v, format!("v{}", n - 1));
    let _ = redis::cmd("SHUTDOWN").arg("NOSAVE").query::<()>(&mut c);
    assert!(wait_exit(&mut child).success());
}

fn manifest_ok(dir: &Path) {
    let m = std::fs::read_to_string(dir.join("strata.manifest")).expect("a manifest");
    assert!(!m.is_empty());
}

#[test]
fn sigterm_flushes_the_log_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = start(dir.path(), port, &["--save", ""]);
    write_keys(port, 500);
    // SAFETY: signalling our own child process by its id.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let status = wait_exit(&mut child);
    assert_eq!(status.code(), Some(0), "{status:?}");
    manifest_ok(dir.path());
    assert!(
        !dir.path().join("dump.rdb").exists(),
        "no save rules: no snapshot"
    );
    check_keys(dir.path(), 500);
}

#[test]
fn sigterm_with_save_rules_writes_a_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = start(dir.path(), port, &["--save", "3600 1"]);
    write_keys(port, 100);
    // SAFETY: signalling our own child process by its id.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    assert_eq!(wait_exit(&mut child).code(), Some(0));
    assert!(
        dir.path().join("dump.rdb").exists(),
        "save rules: a final snapshot"
    );
    manifest_ok(dir.path());
    check_keys(dir.path(), 100);
}

#[test]
fn shutdown_nosave_and_save() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = start(dir.path(), port, &["--save", "3600 1"]);
    write_keys(port, 50);
    let mut c = connect(port);
    // No reply: the connection closes as the server exits, as with Redis.
    assert!(redis::cmd("SHUTDOWN")
        .arg("NOSAVE")
        .query::<()>(&mut c)
        .is_err());
    assert_eq!(wait_exit(&mut child).code(), Some(0));
    assert!(!dir.path().join("dump.rdb").exists(), "NOSAVE: no snapshot");
    manifest_ok(dir.path());
    check_keys(dir.path(), 50);

    let port = free_port();
    let mut child = start(dir.path(), port, &["--save", ""]);
    write_keys(port, 60);
    let mut c = connect(port);
    assert!(redis::cmd("SHUTDOWN")
        .arg("SAVE")
        .query::<()>(&mut c)
        .is_err());
    assert_eq!(wait_exit(&mut child).code(), Some(0));
    assert!(
        dir.path().join("dump.rdb").exists(),
        "SAVE: a snapshot even without rules"
    );
    check_keys(dir.path(), 60);
}
