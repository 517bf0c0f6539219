//! A reply that must wait for an fsync (`appendfsync always`), handed to the fsync thread
//! so that it leaves the moment the fsync returns.
//!
//! Waiting in the connection task instead costs, per group, a wake-up of the event loop
//! and then one send per client, in turn, on the loop: the fsync thread sits idle while
//! the loop does that and the clients wait for it. Handed over, the sends run on the
//! fsync thread right after the fsync, and the loop only sees the clients' next requests.
//!
//! Contract: a connection has at most one handoff outstanding and settles it (waits for
//! its outcome, writes what the socket did not take) before it writes anything else or
//! hands over the next reply, so replies stay in command order.

use std::net::TcpStream as StdStream;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering::SeqCst};
use std::sync::{Arc, Mutex};

use crate::engine::DurableHook;

/// Larger replies are written by the connection task: they would seldom fit the socket's
/// buffer in one send, and the fsync thread must not spend its time copying them.
pub(crate) const MAX_HANDOFF: usize = 64 * 1024;

const PENDING: u8 = 0;
const SENT: u8 = 1;
const PARTIAL: u8 = 2;
const FAILED: u8 = 3;

pub(crate) struct Handoff {
    state: AtomicU8,
    /// The connection task waits for the outcome (a successful send then wakes it).
    waiting: AtomicBool,
    /// What the socket did not take at once (state PARTIAL): the task writes it.
    rest: Mutex<Vec<u8>>,
    done: tokio::sync::Notify,
}

/// How a handoff ended.
pub(crate) enum Outcome {
    Sent,
    /// The reply's unsent tail, for the connection task to write.
    Rest(Vec<u8>),
    /// The reply must not or could not be sent: the log failed before making it durable,
    /// or the socket did. The connection closes.
    Failed,
}

impl Handoff {
    pub fn new() -> Arc<Handoff> {
        Arc::new(Handoff {
            state: AtomicU8::new(PENDING),
            waiting: AtomicBool::new(false),
            rest: Mutex::new(Vec::new()),
            done: tokio::sync::Notify::new(),
        })
    }

    /// The hook for `SyncShared::after_durable`: once durable, send `data` on `sock` (a
    /// duplicate of the connection's socket, so the descriptor outlives the task if it
    /// must) without blocking.
    pub fn hook(self: &Arc<Self>, sock: Arc<StdStream>, data: Vec<u8>) -> DurableHook {
        let guard = Guard(Some(self.clone()));
        Box::new(move |durable| guard.finish(durable, &sock, &data))
    }

    fn set(&self, state: u8) {
        self.state.store(state, SeqCst);
        // Only a waiting task needs waking for a sent reply: the common case costs the
        // event loop nothing. Trouble always wakes it (see `trouble`).
        if state != SENT || self.waiting.load(SeqCst) {
            self.done.notify_one();
        }
    }

    /// Completes when the handoff needs the task (a partial send or a failure); never
    /// for a reply sent whole, which `settle` collects later.
    pub async fn trouble(&self) {
        loop {
            if matches!(self.state.load(SeqCst), PARTIAL | FAILED) {
                return;
            }
            self.done.notified().await;
        }
    }

    /// Wait for the outcome.
    pub async fn settle(&self) -> Outcome {
        // Set before reading the state; `set` stores the state before reading this, so
        // one of the two sees the other (both SeqCst).
        self.waiting.store(true, SeqCst);
        loop {
            match self.state.load(SeqCst) {
                SENT => return Outcome::Sent,
                PARTIAL => {
                    let rest =
                        std::mem::take(&mut *self.rest.lock().unwrap_or_else(|p| p.into_inner()));
                    return Outcome::Rest(rest);
                }
                FAILED => return Outcome::Failed,
                _ => self.done.notified().await,
            }
        }
    }
}

/// Marks its handoff failed if the hook is dropped without running (the log closed).
struct Guard(Option<Arc<Handoff>>);

impl Guard {
    fn finish(mut self, durable: bool, sock: &StdStream, data: &[u8]) {
        let Some(h) = self.0.take() else { return };
        if !durable {
            h.set(FAILED);
            return;
        }
        let mut pos = 0;
        while pos < data.len() {
            match send_now(sock, &data[pos..]) {
                Ok(0) => return h.set(FAILED),
                Ok(n) => pos += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    *h.rest.lock().unwrap_or_else(|p| p.into_inner()) = data[pos..].to_vec();
                    return h.set(PARTIAL);
                }
                Err(_) => return h.set(FAILED),
            }
        }
        h.set(SENT);
    }
}

/// One `send` that never blocks, whatever the socket's mode: the fsync thread must not
/// wait on a client that does not read.
fn send_now(sock: &StdStream, data: &[u8]) -> std::io::Result<usize> {
    use std::os::fd::AsRawFd;
    // SAFETY: the descriptor belongs to `sock`, which the caller keeps open for the call;
    // the pointer and length describe `data`, which outlives it. Exercised by every
    // handoff test, blocking sockets included.
    let n = unsafe {
        libc::send(
            sock.as_raw_fd(),
            data.as_ptr().cast(),
            data.len(),
            libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
        )
    };
    if n < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(h) = self.0.take() {
            h.set(FAILED);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::net::{TcpListener, TcpStream};
    use std::time::Duration;

    /// A connected pair: (the server's side, shared as the handoff sends on it; the peer).
    fn pair() -> (Arc<TcpStream>, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let peer = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (server, _) = l.accept().unwrap();
        server.set_nonblocking(true).unwrap();
        (Arc::new(server), peer)
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
            .block_on(f)
    }

    fn read_exact(peer: &mut TcpStream, n: usize) -> Vec<u8> {
        let mut got = vec![0; n];
        peer.read_exact(&mut got).unwrap();
        got
    }

    #[test]
    fn a_durable_reply_is_sent_whole_and_settles_as_sent() {
        let (sock, mut peer) = pair();
        let h = Handoff::new();
        h.hook(sock, b"+OK\r\n".to_vec())(true);
        assert!(matches!(block_on(h.settle()), Outcome::Sent));
        assert_eq!(read_exact(&mut peer, 5), b"+OK\r\n");
    }

    #[test]
    fn what_a_full_socket_does_not_take_comes_back_in_order() {
        let (sock, mut peer) = pair();
        // Far more than the loopback buffers hold while the peer reads nothing.
        let data: Vec<u8> = (0..8 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
        let h = Handoff::new();
        h.hook(sock.clone(), data.clone())(true);
        // The connection task is told (it does not wait for the reply to be sent whole).
        block_on(async {
            tokio::time::timeout(Duration::from_secs(5), h.trouble())
                .await
                .expect("a partial send wakes the connection task")
        });
        let Outcome::Rest(rest) = block_on(h.settle()) else {
            panic!("expected the unsent tail");
        };
        assert!(!rest.is_empty() && rest.len() < data.len());
        assert_eq!(rest, data[data.len() - rest.len()..], "the tail, exactly");
        let n = data.len();
        let reader = std::thread::spawn(move || read_exact(&mut peer, n));
        sock.set_nonblocking(false).unwrap();
        std::io::Write::write_all(&mut &*sock, &rest).unwrap();
        assert_eq!(reader.join().unwrap(), data, "sent part + tail = the reply");
    }

    /// The fsync thread must never wait for a client: even on a socket in blocking mode,
    /// a full buffer ends the send (the connection task writes the rest).
    #[test]
    fn a_full_blocking_socket_does_not_block_the_sender() {
        let (sock, _peer) = pair();
        sock.set_nonblocking(false).unwrap();
        let data = vec![b'x'; 8 * 1024 * 1024];
        let h = Handoff::new();
        let (tx, rx) = std::sync::mpsc::channel();
        let hook = h.hook(sock, data);
        std::thread::spawn(move || {
            hook(true);
            tx.send(()).unwrap();
        });
        rx.recv_timeout(Duration::from_secs(5))
            .expect("the send returned instead of waiting for the client");
        assert!(matches!(block_on(h.settle()), Outcome::Rest(r) if !r.is_empty()));
    }

    #[test]
    fn a_reply_that_never_became_durable_is_not_sent() {
        let (sock, mut peer) = pair();
        let h = Handoff::new();
        h.hook(sock.clone(), b"+OK\r\n".to_vec())(false);
        assert!(matches!(block_on(h.settle()), Outcome::Failed));
        // Dropped unrun (the log closed without syncing it): the same.
        let h2 = Handoff::new();
        drop(h2.hook(sock.clone(), b"+OK\r\n".to_vec()));
        assert!(matches!(block_on(h2.settle()), Outcome::Failed));
        sock.shutdown(std::net::Shutdown::Write).unwrap();
        let mut rest = Vec::new();
        peer.read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty(), "nothing reached the client: {rest:?}");
    }

    #[test]
    fn settle_waits_for_a_send_made_later_by_another_thread() {
        let (sock, mut peer) = pair();
        let h = Handoff::new();
        let hook = h.hook(sock, b":1\r\n".to_vec());
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            hook(true);
        });
        let outcome = block_on(async {
            tokio::time::timeout(Duration::from_secs(5), h.settle())
                .await
                .expect("settle wakes up once the reply is sent")
        });
        assert!(matches!(outcome, Outcome::Sent));
        t.join().unwrap();
        assert_eq!(read_exact(&mut peer, 4), b":1\r\n");
    }

    #[test]
    fn a_reply_sent_whole_does_not_wake_the_connection_task() {
        let (sock, _peer) = pair();
        let h = Handoff::new();
        h.hook(sock, b"+OK\r\n".to_vec())(true);
        let woke = block_on(async {
            tokio::time::timeout(Duration::from_millis(50), h.trouble())
                .await
                .is_ok()
        });
        assert!(!woke, "trouble() is only for partial sends and failures");
        assert!(matches!(block_on(h.settle()), Outcome::Sent));
    }
}
