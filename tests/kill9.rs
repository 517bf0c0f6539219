//! Guards `appendfsync always` against a real process crash: SIGKILL at a random moment
//! under concurrent writers loses no acknowledged write and invents no reordering, also
//! while the log is being switched on at run time (CONFIG SET appendonly yes).

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
        let (handles, progress) =
            writers(port, WRITERS, Arc::new(AtomicBool::new(true)), stop.clone());
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
        check_writers(&mut con, &acked, round);
        server.kill().unwrap();
        let _ = server.wait();
    }
}

/// Each writer's recovered keys are a gap-free prefix `w{w}:1..=last` with `w{w}:last`
/// holding `last`, covering every acknowledged write and at most the one in flight.
fn check_writers(con: &mut redis::Connection, acked: &[u64], round: u64) {
    for (w, &a) in acked.iter().enumerate() {
        let last: Option<u64> = redis::cmd("GET")
            .arg(format!("w{w}:last"))
            .query(con)
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
                .query(con)
                .unwrap();
            assert_eq!(
                v,
                Some(i),
                "round {round}: writer {w} lost w{w}:{i} below its last value {last}"
            );
        }
        let beyond: Option<u64> = redis::cmd("GET")
            .arg(format!("w{w}:{}", last + 1))
            .query(con)
            .unwrap();
        assert_eq!(
            beyond, None,
            "round {round}: writer {w} has a value beyond its recovered last"
        );
    }
}

/// Writers each bump their own counter in a transaction (`w{w}:{n}` and `w{w}:last`) on
/// connections made before `start` is set, from then until `stop`; returns their handles
/// (joining gives each one's last acknowledged value) and a shared count of acks.
#[allow(clippy::type_complexity)]
fn writers(
    port: u16,
    n: usize,
    start: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
) -> (
    Vec<std::thread::JoinHandle<u64>>,
    Arc<std::sync::atomic::AtomicU64>,
) {
    let progress = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let handles = (0..n)
        .map(|w| {
            let (start, stop, progress) = (start.clone(), stop.clone(), progress.clone());
            let con = try_client(port);
            std::thread::spawn(move || {
                let mut acked = 0u64;
                let Ok(mut con) = con else {
                    return acked;
                };
                while !start.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(1));
                }
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
            })
        })
        .collect();
    (handles, progress)
}

/// The log switched on at run time (CONFIG SET appendonly yes) under `always`, writers on
/// connections opened while it was off, SIGKILL at a random moment of the switch: an
/// acknowledged write implies the base was installed, so the restart holds the whole
/// dataset and every acknowledged write.
#[test]
fn sigkill_while_switching_the_log_on_loses_no_acknowledged_write() {
    const KEYS: u64 = 300_000;
    for round in 0..3u64 {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut server = spawn_server(
            dir.path(),
            port,
            &[
                "--appendonly",
                "no",
                "--appendfsync",
                "always",
                "--save",
                "",
                "--enable-debug-command",
                "yes",
            ],
        );
        let mut admin = client(port);
        let _: () = redis::cmd("DEBUG")
            .arg("POPULATE")
            .arg(KEYS)
            .query(&mut admin)
            .unwrap();
        let start = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let (handles, _) = writers(port, 2, start.clone(), stop.clone());
        let _: () = redis::cmd("CONFIG")
            .arg("SET")
            .arg("appendonly")
            .arg("yes")
            .query(&mut admin)
            .unwrap();
        start.store(true, Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(10 + 80 * round));
        server.kill().unwrap(); // SIGKILL
        let _ = server.wait();
        stop.store(true, Ordering::Relaxed);
        let acked: Vec<u64> = handles.into_iter().map(|h| h.join().unwrap()).collect();

        let mut server = spawn_server(dir.path(), port, &LOG_ALWAYS);
        let mut con = client(port);
        if acked.iter().sum::<u64>() > 0 {
            let size: u64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
            assert!(
                size >= KEYS,
                "round {round}: writes were acknowledged but only {size} keys came back"
            );
            check_writers(&mut con, &acked, round);
        }
        server.kill().unwrap();
        let _ = server.wait();
    }
}
