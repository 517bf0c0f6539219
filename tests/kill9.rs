//! Guards `appendfsync always` against a real process crash: SIGKILL at a random moment
//! under concurrent writers loses no acknowledged write and invents no reordering.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;
use common::{free_port, spawn_server, LOG_ALWAYS};

fn try_client(port: u16) -> redis::RedisResult<redis::Connection> {
    redis::Client::open(format!("redis://127.0.0.1:{port}/"))?.get_connection()
}

/// A connection to a server that is up (retrying briefly: a loaded machine may be slow).
fn client(port: u16) -> redis::Connection {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match try_client(port) {
            Ok(c) => return c,
            Err(e) if Instant::now() > deadline => panic!("cannot connect: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

#[test]
fn sigkill_loses_no_acknowledged_write() {
    const WRITERS: usize = 4;
    for round in 0..3u64 {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut server = spawn_server(dir.path(), port, &LOG_ALWAYS);
        let stop = Arc::new(AtomicBool::new(false));
        let progress = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let mut handles = Vec::new();
        for w in 0..WRITERS {
            let stop = stop.clone();
            let progress = progress.clone();
            handles.push(std::thread::spawn(move || {
                let mut acked = 0u64;
                // The server may already be dead on a slow machine: then nothing is acked.
                let Ok(mut con) = try_client(port) else {
                    return acked;
                };
                // Each writer bumps its own counter and records the value in a new key:
                // the recovered keys must be a gap-free prefix covering every ack.
                while !stop.load(Ordering::Relaxed) {
                    let next = acked + 1;
                    let r: redis::RedisResult<()> = redis::pipe()
                        .atomic()
                        .cmd("SET")
                        .arg(format!("w{w}:{next}"))
                        .arg(next)
                        .ignore()
                        .cmd("SET")
                        .arg(format!("w{w}:last"))
                        .arg(next)
                        .ignore()
                        .query(&mut con);
                    match r {
                        Ok(()) => {
                            acked = next;
                            progress.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(_) => break,
                    }
                }
                acked
            }));
        }
        // Kill mid-stream: once writes are being acknowledged (a busy machine can take a
        // while to get there), then a little later each round.
        let deadline = Instant::now() + Duration::from_secs(30);
        while progress.load(Ordering::Relaxed) < 20 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(20 + 60 * round));
        server.kill().unwrap(); // SIGKILL
        let _ = server.wait();
        stop.store(true, Ordering::Relaxed);
        let acked: Vec<u64> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert!(
            acked.iter().sum::<u64>() > 0,
            "round {round}: no write was acknowledged"
        );

        let mut server = spawn_server(dir.path(), port, &LOG_ALWAYS);
        let mut con = client(port);
        for (w, &a) in acked.iter().enumerate() {
            let last: Option<u64> = redis::cmd("GET")
                .arg(format!("w{w}:last"))
                .query(&mut con)
                .unwrap();
            let last = last.unwrap_or(0);
            assert!(
                last >= a,
                "round {round}: writer {w} had {a} acknowledged, recovered only {last}"
            );
            // At most the one in-flight (unacknowledged) transaction may also be there.
            assert!(
                last <= a + 1,
                "round {round}: writer {w} recovered {last} > acked {a} + 1"
            );
            for i in 1..=last {
                let v: Option<u64> = redis::cmd("GET")
                    .arg(format!("w{w}:{i}"))
                    .query(&mut con)
                    .unwrap();
                assert_eq!(
                    v,
                    Some(i),
                    "round {round}: writer {w} lost w{w}:{i} below its last value {last}"
                );
            }
            let beyond: Option<u64> = redis::cmd("GET")
                .arg(format!("w{w}:{}", last + 1))
                .query(&mut con)
                .unwrap();
            assert_eq!(
                beyond, None,
                "round {round}: writer {w} has a value beyond its recovered last"
            );
        }
        server.kill().unwrap();
        let _ = server.wait();
    }
}
