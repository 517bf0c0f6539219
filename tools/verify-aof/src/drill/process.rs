//! Running `strata-server` as a child process: find the binary, start it on a free port,
//! wait until it answers, SIGKILL it, read its keyspace back.

use std::collections::HashMap;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::Policy;

/// The server binary: `explicit`, or `strata-server` next to this executable (also one
/// level up, when run from `target/*/deps`).
pub fn find_server(explicit: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(p) = explicit {
        return if p.is_file() {
            Ok(p.to_path_buf())
        } else {
            Err(format!("--server {}: no such file", p.display()))
        };
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot locate this binary: {e}"))?;
    let mut tried = Vec::new();
    let mut dir = exe.parent();
    for _ in 0..2 {
        let Some(d) = dir else { break };
        let cand = d.join("strata-server");
        if cand.is_file() {
            return Ok(cand);
        }
        tried.push(cand.display().to_string());
        dir = d.parent();
    }
    Err(format!(
        "strata-server not found (looked for {}); build it with `cargo build --release --bin \
         strata-server` or pass --server PATH",
        tried.join(", ")
    ))
}

/// A port nobody listens on right now.
pub fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("cannot find a free port: {e}"))
}

/// A running server.
pub struct Server {
    child: Child,
    pub port: u16,
    log: PathBuf,
}

impl Server {
    /// Starts `bin` on `dir` with `policy`, logging to `log`, and waits until it answers
    /// PING. Returns the server and how long it took (recovery time on a restart).
    pub fn start(
        bin: &Path,
        dir: &Path,
        policy: Policy,
        log: &Path,
        timeout: Duration,
    ) -> Result<(Server, Duration), String> {
        let mut last_err = String::new();
        // A port found free may be taken before the server binds it: retry a few times.
        for _ in 0..3 {
            let port = free_port()?;
            let out = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
                .map_err(|e| format!("cannot open {}: {e}", log.display()))?;
            let err = out
                .try_clone()
                .map_err(|e| format!("cannot open {}: {e}", log.display()))?;
            let t0 = Instant::now();
            let child = Command::new(bin)
                .arg("--port")
                .arg(port.to_string())
                .args(["--bind", "127.0.0.1", "--dir"])
                .arg(dir)
                .args(["--appendonly", "yes", "--appendfsync", policy.fsync_name()])
                .args(["--save", "", "--loglevel", "notice"])
                .stdin(Stdio::null())
                .stdout(out)
                .stderr(err)
                .spawn()
                .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
            let mut s = Server {
                child,
                port,
                log: log.to_path_buf(),
            };
            match s.wait_ready(t0, timeout) {
                Ok(()) => return Ok((s, t0.elapsed())),
                Err(e) => {
                    s.kill();
                    last_err = e;
                    if !last_err.contains("Address already in use") {
                        break;
                    }
                }
            }
        }
        Err(last_err)
    }

    fn wait_ready(&mut self, t0: Instant, timeout: Duration) -> Result<(), String> {
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "strata-server exited ({status}) before answering; its log ends with:\n{}",
                    self.log_tail(12)
                ));
            }
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) {
                use std::io::{Read, Write};
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let mut buf = [0u8; 64];
                if s.write_all(b"*1\r\n$4\r\nPING\r\n").is_ok() {
                    if let Ok(n) = s.read(&mut buf) {
                        if buf[..n].starts_with(b"+PONG") {
                            return Ok(());
                        }
                    }
                }
            }
            if t0.elapsed() > timeout {
                return Err(format!(
                    "strata-server did not answer PING within {} s; its log ends with:\n{}",
                    timeout.as_secs(),
                    self.log_tail(12)
                ));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The last `n` lines of the server's log.
    pub fn log_tail(&self, n: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// SIGKILL, then reap.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Every key of db 0 with its value (strings; other types read as absent).
    pub fn read_all(&self) -> Result<HashMap<Vec<u8>, Vec<u8>>, String> {
        let client = redis::Client::open(self.url()).map_err(|e| e.to_string())?;
        let mut con = client
            .get_connection_with_timeout(Duration::from_secs(10))
            .map_err(|e| format!("connect after restart: {e}"))?;
        let _ = con.set_read_timeout(Some(Duration::from_secs(60)));
        let keys: Vec<Vec<u8>> = redis::cmd("KEYS")
            .arg("*")
            .query(&mut con)
            .map_err(|e| format!("KEYS after restart: {e}"))?;
        let mut out = HashMap::with_capacity(keys.len());
        for chunk in keys.chunks(500) {
            let vals: Vec<Option<Vec<u8>>> = redis::cmd("MGET")
                .arg(chunk)
                .query(&mut con)
                .map_err(|e| format!("MGET after restart: {e}"))?;
            for (k, v) in chunk.iter().zip(vals) {
                if let Some(v) = v {
                    out.insert(k.clone(), v);
                }
            }
        }
        Ok(out)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}
