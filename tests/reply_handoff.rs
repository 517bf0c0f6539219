//! Guards reply order and completeness under `appendfsync always`, where the fsync thread
//! sends most replies itself (`server::handoff`) and the connection task the rest: small
//! and large replies, across many batches, to a client that stops reading for a while and
//! to several clients at once, all arrive whole and in command order.

use strata::config::FsyncPolicy;

mod common;
use common::{bulk, encode, ok, Raw};

fn start_always() -> common::Server {
    start_always_threads(1)
}

fn start_always_threads(io_threads: usize) -> common::Server {
    common::start_with(|c| {
        c.appendonly = true;
        c.appendfsync = FsyncPolicy::Always;
        c.io_threads = io_threads;
    })
}

/// A value of `len` bytes that differs per `i`, so a reply sent twice or out of place shows.
fn value(i: usize, len: usize) -> Vec<u8> {
    (0..len).map(|j| b'a' + ((i * 7 + j) % 26) as u8).collect()
}

/// Sizes around the handoff limit (64 KiB) and far from it.
const SIZES: [usize; 8] = [
    1,
    100,
    70_000,
    5,
    200_000,
    64 * 1024 - 40,
    3_000,
    64 * 1024 + 1,
];

/// Just under the handoff limit: replies the fsync thread sends, too big to all fit the
/// socket's buffers when the client does not read.
const NEAR_LIMIT: [usize; 1] = [64 * 1024 - 40];

/// SET then GET each key (value sizes cycling through `sizes`), sent from another thread;
/// with `pause`, the client reads nothing for a while, so the server's socket fills and
/// its sends come back partial.
fn pipeline(raw: &mut Raw, tag: &str, n: usize, sizes: &[usize], pause: bool) {
    let size = |i: usize| sizes[i % sizes.len()];
    let mut cmds = Vec::new();
    for i in 0..n {
        let key = format!("{tag}{i}");
        cmds.extend(encode(&[
            b"SET".to_vec(),
            key.clone().into_bytes(),
            value(i, size(i)),
        ]));
        cmds.extend(encode(&[b"GET".as_slice(), key.as_bytes()]));
    }
    let mut w = raw.stream.try_clone().unwrap();
    let writer = std::thread::spawn(move || std::io::Write::write_all(&mut w, &cmds).unwrap());
    if pause {
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    for i in 0..n {
        assert_eq!(raw.read(), ok(), "reply to SET {tag}{i}");
        assert_eq!(raw.read(), bulk(value(i, size(i))), "reply to GET {tag}{i}");
    }
    writer.join().unwrap();
}

#[test]
fn pipelined_replies_of_every_size_arrive_in_order() {
    let srv = start_always();
    let mut raw = srv.raw();
    pipeline(&mut raw, "a", 400, &SIZES, false);
    // One command per round trip, as most clients do.
    for i in 0..200 {
        let v = value(i, SIZES[i % 8]);
        assert_eq!(raw.call(&[b"SET".as_slice(), b"k", &v]), ok());
        assert_eq!(raw.call(&["GET", "k"]), bulk(&v));
    }
}

#[test]
fn a_client_that_stops_reading_gets_every_reply_whole() {
    let srv = start_always();
    let mut raw = srv.raw();
    // ~13 MB of GET replies due before the client reads a byte.
    pipeline(&mut raw, "p", 200, &NEAR_LIMIT, true);
    assert_eq!(raw.call(&["DBSIZE"]), common::int(200));
}

#[test]
fn concurrent_clients_each_see_their_own_replies_in_order() {
    concurrent_clients(start_always());
}

/// The same on the multi-threaded runtime (`io-threads 2`), where connection tasks move
/// between threads while the fsync thread sends their replies.
#[test]
fn concurrent_clients_with_two_io_threads() {
    concurrent_clients(start_always_threads(2));
}

fn concurrent_clients(srv: common::Server) {
    let port = srv.port();
    let clients: Vec<_> = (0..8)
        .map(|c| {
            std::thread::spawn(move || {
                let mut raw = Raw::connect(port);
                let sizes: &[usize] = if c % 2 == 0 { &NEAR_LIMIT } else { &SIZES };
                pipeline(&mut raw, &format!("c{c}-"), 120, sizes, c % 2 == 0);
                for i in 0..300 {
                    assert_eq!(raw.call(&["INCR", &format!("n{c}")]), common::int(i + 1));
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
}

/// Replies that must wait for an fsync still answer to `client-output-buffer-limit
/// normal`: a client that leaves at least `soft` bytes of a batch's replies unread for
/// over `soft-seconds` is closed, though each reply is small enough to be handed to the
/// fsync thread (which would otherwise leave the rest to an unbounded write).
///
/// The soft limit is one byte. With 16 KB (as this test had) it failed about once in a
/// hundred CI runs: the kernel took a batch's 60 KB but for less than 16 KB, so the
/// server held less than the soft limit and, reading no further commands while that
/// write waits, never reached it (Strata pushes back on a client that does not read
/// instead of buffering its next replies as Redis does; see the issue note).
#[test]
fn the_soft_output_limit_still_closes_a_client_that_does_not_read() {
    let srv = start_always();
    let mut admin = srv.raw();
    let big = value(0, 60_000);
    assert_eq!(admin.call(&[b"SET".as_slice(), b"big", &big]), ok());
    assert_eq!(
        admin.call(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "normal 0 1 1"
        ]),
        ok()
    );
    // One batch per millisecond, each a write (so its reply waits for an fsync) and a
    // read of 60 KB: every reply under the handoff's size limit, over the soft limit
    // (and a blocked write always leaves at least the soft limit unwritten).
    let mut slow = srv.raw();
    let mut w = slow.stream.try_clone().unwrap();
    std::thread::spawn(move || {
        for i in 0..400 {
            let mut cmds = encode(&["SET", &format!("w{i}"), "x"]);
            cmds.extend(encode(&["GET", "big"]));
            if std::io::Write::write_all(&mut w, &cmds).is_err() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    });
    // Read nothing until the server has cut the client off (on a loaded machine the
    // writer can take longer than any fixed sleep; reading early would drain the
    // backlog below the soft limit and the client would never be cut off).
    let disconnected = common::wait_for(20_000, || {
        common::as_text(&admin.call(&["INFO", "stats"]))
            .contains("client_output_buffer_limit_disconnections:1")
    });
    assert!(disconnected, "the client was not cut off");
    let got = slow.read_to_eof();
    assert!(
        got.len() < 400 * big.len(),
        "cut off before every reply was delivered"
    );
    let info = admin.call(&["INFO", "stats"]);
    assert!(
        common::as_text(&info).contains("client_output_buffer_limit_disconnections:1"),
        "{}",
        common::as_text(&info)
    );
}
