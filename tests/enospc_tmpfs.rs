//! A real full disk: the data dir on a 2 MB tmpfs is filled; writes are refused with
//! Redis's MISCONF error while reads are served, writes resume once a filler file is
//! deleted, and after a restart every acknowledged write is there and no refused one.
//! Needs root (mount); skipped with a message otherwise.

use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

mod common;
use common::{connect, free_port, spawn_server, LOG_ALWAYS};

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
    guard.child = Some(spawn_server(&dir, port, &LOG_ALWAYS));
    let mut c = connect(port);
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
    guard.child = Some(spawn_server(&dir, port, &LOG_ALWAYS));
    let mut c = connect(port);
    let n: usize = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(n, acked + 1);
    let exists: usize = redis::cmd("EXISTS")
        .arg(format!("k{first_refused}"))
        .arg("more")
        .query(&mut c)
        .unwrap();
    assert_eq!(exists, 0);
}
