//! A real full disk: the data dir on a 2 MB tmpfs is filled; writes are refused with
//! Redis's MISCONF error while reads are served, writes resume once a filler file is
//! deleted, and after a restart every acknowledged write is there and no refused one.
//! Needs root (mount); skipped with a message otherwise.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const NO_SPACE: &str = "MISCONF Errors writing to the AOF file: No space left on device (writes resume by themselves once disk space is freed)";

/// Unmounts the tmpfs and stops the server however the test ends.
struct Mounted {
    dir: PathBuf,
    child: Option<Child>,
}

impl Drop for Mounted {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = Command::new("umount").arg(&self.dir).status();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(dir: &Path, port: u16) -> Child {
    let child = Command::new(env!("CARGO_BIN_EXE_strata-server"))
        .args(["--port", &port.to_string(), "--dir"])
        .arg(dir)
        .args([
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--save",
            "",
        ])
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

fn set(c: &mut redis::Connection, k: &str, v: &str) -> Result<(), String> {
    redis::cmd("SET").arg(k).arg(v).query::<()>(c).map_err(|e| {
        // The redis crate splits "MISCONF rest": put Redis's wire text back together.
        format!(
            "{} {}",
            e.code().unwrap_or("?"),
            e.detail().unwrap_or_default()
        )
    })
}

#[test]
fn full_tmpfs_refuses_writes_serves_reads_and_resumes() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        println!("SKIPPED full_tmpfs_refuses_writes_serves_reads_and_resumes: needs root to mount a tmpfs");
        return;
    }
    let base = tempfile::tempdir().unwrap();
    let dir = base.path().join("data");
    std::fs::create_dir(&dir).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=2m", "tmpfs"])
        .arg(&dir)
        .status();
    if !matches!(mounted, Ok(s) if s.success()) {
        println!("SKIPPED full_tmpfs_refuses_writes_serves_reads_and_resumes: mount -t tmpfs failed ({mounted:?})");
        return;
    }
    let mut guard = Mounted {
        dir: dir.clone(),
        child: None,
    };
    // Half the space goes to a filler the "operator" deletes later.
    std::fs::write(dir.join("filler"), vec![0u8; 1024 * 1024]).unwrap();
    let port = free_port();
    guard.child = Some(start(&dir, port));
    let mut c = client(port);
    let value = "x".repeat(1000);
    let mut acked = 0;
    let mut refused = None;
    for i in 0..3000 {
        match set(&mut c, &format!("k{i}"), &value) {
            Ok(()) => acked = i + 1,
            Err(e) => {
                refused = Some((i, e));
                break;
            }
        }
    }
    let (first_refused, e) = refused.expect("a full file system must refuse writes");
    assert_eq!(e, NO_SPACE);
    assert!(acked > 500, "refused too early: {acked} writes");
    // Still refused, and not applied; reads are served.
    assert_eq!(set(&mut c, "more", &value), Err(NO_SPACE.to_string()));
    let got: Option<String> = redis::cmd("GET").arg("k0").query(&mut c).unwrap();
    assert_eq!(got.as_deref(), Some(value.as_str()));
    let got: Option<String> = redis::cmd("GET")
        .arg(format!("k{first_refused}"))
        .query(&mut c)
        .unwrap();
    assert_eq!(got, None);
    let n: usize = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(n, acked);
    // Free space: writes resume by themselves (the server retries its reservation).
    std::fs::remove_file(dir.join("filler")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while set(&mut c, "after", "1").is_err() {
        assert!(Instant::now() < deadline, "writes did not resume");
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = redis::cmd("SHUTDOWN").arg("NOSAVE").query::<()>(&mut c);
    let status = guard.child.as_mut().unwrap().wait().unwrap();
    assert_eq!(status.code(), Some(0));
    guard.child = None;
    // Restart on the same tmpfs: every acknowledged write, nothing refused.
    let port = free_port();
    guard.child = Some(start(&dir, port));
    let mut c = client(port);
    let n: usize = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(n, acked + 1);
    let exists: usize = redis::cmd("EXISTS")
        .arg(format!("k{first_refused}"))
        .arg("more")
        .query(&mut c)
        .unwrap();
    assert_eq!(exists, 0);
}
