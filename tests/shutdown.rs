//! Clean shutdown of the real binary, as Redis 7.0: SIGTERM and SHUTDOWN flush and fsync
//! the log, leave a manifest and exit 0; SAVE writes a snapshot, NOSAVE does not, the
//! default saves only with `save` rules and changes; everything acknowledged is there
//! after a restart.

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use redis::Commands;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(dir: &Path, port: u16, extra: &[&str]) -> Child {
    let child = Command::new(env!("CARGO_BIN_EXE_strata-server"))
        .args(["--port", &port.to_string(), "--dir"])
        .arg(dir)
        .args(["--appendonly", "yes", "--appendfsync", "no"])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start strata-server");
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

fn client(port: u16) -> redis::Connection {
    redis::Client::open(format!("redis://127.0.0.1:{port}/"))
        .unwrap()
        .get_connection()
        .unwrap()
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
    let mut c = client(port);
    for i in 0..n {
        let _: () = c.set(format!("k{i}"), format!("v{i}")).unwrap();
    }
}

fn check_keys(dir: &Path, n: usize) {
    let port = free_port();
    let mut child = start(dir, port, &["--save", ""]);
    let mut c = client(port);
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
    let mut c = client(port);
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
    let mut c = client(port);
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
