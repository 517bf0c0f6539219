//! One client connection: read, decode every complete command, execute the batch under
//! one engine lock, write all replies with one write. Replies stay in command order.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tracing::debug;

use super::Shared;
use crate::engine::Engine;
use crate::protocol::{ReplyBuf, RequestDecoder};

const READ_CHUNK: usize = 16 * 1024;
/// How often a silent connection wakes up to check the idle `timeout`.
const IDLE_CHECK: Duration = Duration::from_secs(1);

/// Decrements the client count however the connection ends.
struct ClientSlot<'a>(&'a Shared);

impl Drop for ClientSlot<'_> {
    fn drop(&mut self) {
        self.0.clients.fetch_sub(1, Ordering::Relaxed);
    }
}

fn is_write(args: &crate::protocol::Args) -> bool {
    crate::command::lookup(&args[0]).is_some_and(|s| s.is_write())
}

pub(crate) async fn serve(stream: TcpStream, peer: SocketAddr, shared: Arc<Shared>) {
    let n = shared.clients.fetch_add(1, Ordering::Relaxed) + 1;
    let _slot = ClientSlot(&shared);
    let mut stream = stream;
    let (maxclients, protected) = {
        let eng = Engine::lock(&shared.engine);
        let c = &eng.st.config;
        (c.maxclients, c.protected_mode && c.requirepass.is_none())
    };
    if n > maxclients {
        Engine::lock(&shared.engine).st.stats.rejected_connections += 1;
        let _ = stream
            .write_all(b"-ERR max number of clients reached\r\n")
            .await;
        return;
    }
    let local = peer.ip().is_loopback();
    if protected && !local {
        let _ = stream.write_all(b"-DENIED Running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. Set a password with requirepass, or disable protected mode with 'protected-mode no'.\r\n").await;
        return;
    }
    let _ = stream.set_nodelay(true);
    // A duplicate of the socket lets CLIENT KILL and shutdown close it from elsewhere.
    let killer = match stream.into_std().and_then(|s| {
        let dup = s.try_clone()?;
        Ok((s, dup))
    }) {
        Ok((s, dup)) => match TcpStream::from_std(s) {
            Ok(s) => {
                stream = s;
                dup
            }
            Err(_) => return,
        },
        Err(_) => return,
    };
    let laddr = killer
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let kill: crate::command::KillHandle = Arc::new(move || {
        let _ = killer.shutdown(std::net::Shutdown::Both);
    });
    let (mut sess, sync) = {
        let mut eng = Engine::lock(&shared.engine);
        let sess = eng.connect(peer.to_string(), laddr, local, kill);
        (sess, eng.sync_shared())
    };
    let mut durable_rx = sync.as_ref().map(|s| s.subscribe());
    let mut dec = RequestDecoder::new(shared.live.limits());
    dec.set_authenticated(sess.authenticated);
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    let mut out = ReplyBuf::new(false);
    let mut cmds = Vec::new();
    let mut last_active = tokio::time::Instant::now();
    let mut idle_check = tokio::time::interval_at(last_active + IDLE_CHECK, IDLE_CHECK);
    idle_check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Bytes read since they were last added to INFO's total_net_input_bytes.
    let mut unreported_in = 0u64;
    loop {
        if buf.capacity() - buf.len() < READ_CHUNK / 4 {
            buf.reserve(READ_CHUNK);
        }
        // Wake up now and then to apply `timeout`, which CONFIG SET may change at any time
        // (read_buf is cancel-safe: an interrupted read loses nothing).
        let read = tokio::select! {
            biased;
            r = stream.read_buf(&mut buf) => r,
            _ = idle_check.tick() => {
                let limit = shared.live.idle_timeout();
                if limit > 0 && last_active.elapsed() >= Duration::from_secs(limit) {
                    debug!("client {} idle for {limit}s: closing", sess.id);
                    break;
                }
                continue;
            }
        };
        match read {
            Ok(0) | Err(_) => break,
            Ok(n) => unreported_in += n as u64,
        }
        last_active = tokio::time::Instant::now();
        dec.set_limits(shared.live.limits());
        let mut proto_err = None;
        loop {
            match dec.decode(&mut buf) {
                Ok(Some(args)) => cmds.push(args),
                Ok(None) => break,
                Err(e) => {
                    proto_err = Some(e);
                    break;
                }
            }
        }
        let mut shutdown = None;
        let mut wait_lsn = 0;
        let mut log_failed = None;
        if !cmds.is_empty() {
            // everysec: while an fsync is stuck for over 2 s, writers wait rather than
            // let the loss window grow.
            if let (Some(s), Some(rx)) = (&sync, durable_rx.as_mut()) {
                if s.stalled() && cmds.iter().any(is_write) {
                    s.count_delayed();
                    while s.stalled() {
                        let _ =
                            tokio::time::timeout(Duration::from_millis(100), rx.changed()).await;
                    }
                }
            }
            let mut eng = Engine::lock(&shared.engine);
            let outcome = eng.execute_batch(&mut sess, &mut cmds, &mut out);
            shutdown = outcome.shutdown;
            wait_lsn = outcome.wait_lsn;
            log_failed = outcome.log_failed;
            dec.set_authenticated(sess.authenticated);
            shared.live.update(&eng.st.config);
            eng.st.stats.net_output_bytes += out.len() as u64;
            eng.st.stats.net_input_bytes += std::mem::take(&mut unreported_in);
        }
        if let Some(e) = log_failed {
            // The batch's effects are not in the OS: its replies must not claim success.
            out.clear();
            out.error(&e);
            let _ = stream.write_all(out.as_bytes()).await;
            break;
        }
        // appendfsync always: replies leave once the fsync covering what they saw returned.
        if let (Some(s), Some(rx)) = (&sync, durable_rx.as_mut()) {
            if wait_lsn > s.durable_lsn() {
                loop {
                    if *rx.borrow_and_update() >= wait_lsn {
                        break;
                    }
                    if rx.changed().await.is_err() {
                        break;
                    }
                }
            }
        }
        if let Some(mode) = shutdown {
            let _ = shared.stop.send(Some(mode));
            break;
        }
        if let Some(e) = &proto_err {
            debug!("client {}: {e}", sess.id);
            out.error(&format!("ERR {e}"));
        }
        if !out.is_empty() {
            if stream.write_all(out.as_bytes()).await.is_err() {
                break;
            }
            out.clear();
        }
        if proto_err.is_some() || sess.close {
            break;
        }
        // Give back memory after a huge request.
        if buf.is_empty() && buf.capacity() > 4 * 1024 * 1024 {
            buf = BytesMut::with_capacity(READ_CHUNK);
        }
    }
    let _ = stream.shutdown().await;
    let mut eng = Engine::lock(&shared.engine);
    eng.disconnect(&mut sess);
}
