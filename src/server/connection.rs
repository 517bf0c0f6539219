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

use super::handoff::{self, Handoff, Outcome};
use super::Shared;
use crate::command::Outbox;
use crate::engine::Engine;
use crate::protocol::{ReplyBuf, RequestDecoder};

const READ_CHUNK: usize = 16 * 1024;
/// Pub/sub messages are written in batches of about this many bytes.
const PUSH_CHUNK: usize = 64 * 1024;
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
    {
        use std::os::fd::AsRawFd;
        if let Err(e) = super::set_keepalive(stream.as_raw_fd(), shared.live.tcp_keepalive()) {
            debug!("cannot enable TCP keepalive for {peer}: {e}");
        }
    }
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
    // The fsync thread sends handed-over replies through it too (see `handoff`).
    let sock = Arc::new(killer);
    let kill: crate::command::KillHandle = {
        let sock = sock.clone();
        Arc::new(move || {
            let _ = sock.shutdown(std::net::Shutdown::Both);
        })
    };
    // Other clients' pub/sub messages for this one are queued here; the loop below
    // writes them as they come, between commands.
    let pushed = Arc::new(tokio::sync::Notify::new());
    let outbox = {
        let n = pushed.clone();
        Arc::new(Outbox::new(Box::new(move || n.notify_one())))
    };
    let (mut sess, mut sync, mut log_epoch) = {
        let mut eng = Engine::lock(&shared.engine);
        let mut sess = eng.connect(peer.to_string(), laddr, local, kill);
        eng.attach_outbox(&mut sess, outbox.clone());
        (sess, eng.sync_shared(), eng.log_epoch())
    };
    // Blocking commands (BLPOP...): the engine wakes this when the client is served.
    let woken = Arc::new(tokio::sync::Notify::new());
    sess.blocking.wake = Some({
        let w = woken.clone();
        Arc::new(move || w.notify_one())
    });
    // Commands left over after a blocking command: run them before reading more.
    let mut resume = false;
    let mut durable_rx = sync.as_ref().map(|s| s.subscribe());
    let mut dec = RequestDecoder::new(shared.live.limits());
    dec.set_authenticated(sess.authenticated);
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    let mut out = ReplyBuf::new(false);
    // The reply the fsync thread is sending for us, if any (appendfsync always).
    let mut handoff: Option<Arc<Handoff>> = None;
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
        let read = if std::mem::take(&mut resume) {
            Ok(None)
        } else {
            tokio::select! {
            biased;
            r = stream.read_buf(&mut buf) => r,
            _ = trouble(&handoff) => {
                if !settle(&mut handoff, &mut stream).await {
                    break;
                }
                continue;
            }
            _ = pushed.notified() => {
                if !settle(&mut handoff, &mut stream).await
                    || !write_pushes(&mut stream, &outbox, &mut out).await
                {
                    break;
                }
                continue;
            }
            _ = idle_check.tick() => {
                let limit = shared.live.idle_timeout();
                // As in Redis, a subscriber waiting for messages is not idle, nor is a
                // monitor.
                if limit > 0
                    && !sess.subs.active()
                    && !sess.monitor
                    && last_active.elapsed() >= Duration::from_secs(limit)
                {
                    debug!("client {} idle for {limit}s: closing", sess.id);
                    break;
                }
                continue;
            }
            }
            .map(Some)
        };
        match read {
            Ok(Some(0)) | Err(_) => break,
            Ok(Some(n)) => unreported_in += n as u64,
            Ok(None) => {}
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
        let mut blocked = None;
        let mut aof_wait = None;
        let mut paused = None;
        // Pub/sub messages queued before this batch go first, as they came first.
        let mut drained = 0;
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
            drained = outbox.drain(&mut out, usize::MAX);
            let outcome = eng.execute_batch(&mut sess, &mut cmds, &mut out);
            shutdown = outcome.shutdown;
            wait_lsn = outcome.wait_lsn;
            log_failed = outcome.log_failed;
            blocked = outcome.blocked;
            aof_wait = outcome.aof_wait;
            paused = outcome.paused;
            dec.set_authenticated(sess.authenticated);
            // The log was switched on or off (CONFIG SET appendonly): wait for the new one.
            if eng.log_epoch() != log_epoch {
                log_epoch = eng.log_epoch();
                sync = eng.sync_shared();
                durable_rx = sync.as_ref().map(|s| s.subscribe());
            }
            shared.live.update(&eng.st.config);
            // (Drained messages are counted once written, through the outbox.)
            eng.st.stats.net_output_bytes += (out.len() - drained) as u64;
            eng.st.stats.net_input_bytes += std::mem::take(&mut unreported_in);
        }
        if let Some(e) = log_failed {
            // The batch's effects are not in the OS: its replies must not claim success.
            out.clear();
            out.error(&e);
            if settle(&mut handoff, &mut stream).await {
                let _ = stream.write_all(out.as_bytes()).await;
            }
            break;
        }
        // A previous reply still with the fsync thread goes first.
        if handoff.is_some() && !settle(&mut handoff, &mut stream).await {
            break;
        }
        // appendfsync always: replies leave once the fsync covering what they saw
        // returned. The plain case is handed to the fsync thread, which sends the reply
        // right after that fsync; the rest (limits, pub/sub, blocking, closing) waits here.
        if let Some(s) = &sync {
            let plain = shutdown.is_none()
                && proto_err.is_none()
                && !sess.close
                && blocked.is_none()
                && aof_wait.is_none()
                && paused.is_none()
                && drained == 0
                && !sess.subs.active()
                && out.len() <= handoff::MAX_HANDOFF;
            // Under the output limits (a reply that reaches one goes the checked way).
            let limit = shared.live.normal_output_limit();
            let below = |l: u64| l == 0 || (out.len() as u64) < l;
            if plain && wait_lsn > s.durable_lsn() && below(limit.hard) && below(limit.soft) {
                let h = Handoff::new();
                s.after_durable(wait_lsn, h.hook(sock.clone(), out.take()));
                handoff = Some(h);
                wait_lsn = 0;
            }
        }
        if let (Some(s), Some(rx)) = (&sync, durable_rx.as_mut()) {
            s.wait_durable(rx, wait_lsn).await;
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
            // client-output-buffer-limit normal: a client whose replies pile up (a huge
            // pipeline it does not read) is cut off rather than held in memory.
            let limit = shared.live.normal_output_limit();
            let normal = !sess.subs.active();
            let over_hard = normal && limit.hard > 0 && out.len() as u64 >= limit.hard;
            let written = if over_hard {
                Err(WriteEnd::Limit)
            } else if normal {
                write_reply(&mut stream, out.as_bytes(), limit).await
            } else {
                write_reply(&mut stream, out.as_bytes(), Default::default()).await
            };
            match written {
                Ok(()) => {}
                Err(WriteEnd::Io) => break,
                Err(WriteEnd::Limit) => {
                    debug!(
                        "client {}: {} bytes of replies over client-output-buffer-limit normal: closing",
                        sess.id,
                        out.len()
                    );
                    Engine::lock(&shared.engine)
                        .st
                        .stats
                        .client_output_buffer_limit_disconnections += 1;
                    break;
                }
            }
            out.clear();
            outbox.written(drained);
        }
        if proto_err.is_some() || sess.close {
            break;
        }
        // CLIENT PAUSE: the replies before the held command are out; look again every
        // 10 ms (an UNPAUSE ends the pause early) until it ends, then run the rest.
        if let Some(until) = paused {
            let left = until.saturating_sub(crate::util::now_ms());
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(left.clamp(1, 10))) => {}
                // A client that leaves while held is gone, its held commands unrun.
                _ = peer_closed(&stream) => break,
            }
            resume = true;
            continue;
        }
        // WAITAOF: the replies before it are out; answer it once the log is durable up
        // to what was logged before it (or its timeout passed), then run what followed.
        if let Some((lsn, timeout_ms)) = aof_wait {
            let durable = match (&sync, durable_rx.as_mut()) {
                (Some(s), Some(rx)) => tokio::select! {
                    d = s.wait_durable_for(rx, lsn, timeout_ms) => d,
                    _ = peer_closed(&stream) => break,
                },
                _ => false,
            };
            let reply = crate::command::waited_reply(durable);
            if !write_late_reply(&mut stream, &shared, &mut sess, reply).await {
                break;
            }
            resume = true;
            continue;
        }
        if let Some(deadline) = blocked {
            let w = Blocked {
                id: sess.id,
                deadline,
                woken: &woken,
                pushed: &pushed,
                outbox: &outbox,
            };
            let Some(served) = w.wait(&mut stream, &mut buf, &shared, &mut out).await else {
                break;
            };
            if let (Some(s), Some(rx)) = (&sync, durable_rx.as_mut()) {
                s.wait_durable(rx, served.wait_lsn).await;
            }
            if !write_late_reply(&mut stream, &shared, &mut sess, &served.reply).await {
                break;
            }
            resume = true;
            continue;
        }
        // Give back memory after a huge request.
        if buf.is_empty() && buf.capacity() > 4 * 1024 * 1024 {
            buf = BytesMut::with_capacity(READ_CHUNK);
        }
    }
    let _ = settle(&mut handoff, &mut stream).await;
    let _ = stream.shutdown().await;
    let mut eng = Engine::lock(&shared.engine);
    eng.disconnect(&mut sess);
}

/// Completes when the client has closed the connection (end of stream or an error);
/// while bytes wait to be read (more pipelined commands), it never completes: they are
/// read later. As in Redis, a client that closes its side is gone, replies and all.
async fn peer_closed(stream: &TcpStream) {
    let mut b = [0u8; 1];
    match stream.peek(&mut b).await {
        Ok(0) | Err(_) => {}
        Ok(_) => std::future::pending().await,
    }
}

/// Write a reply that came after its batch (a blocked command served, a WAITAOF answered)
/// and count it in INFO, unless CLIENT REPLY OFF / SKIP was in force for its command.
/// False when the connection must close.
async fn write_late_reply(
    stream: &mut TcpStream,
    shared: &Shared,
    sess: &mut crate::command::Session,
    reply: &[u8],
) -> bool {
    if std::mem::take(&mut sess.reply.drop_late) {
        return true;
    }
    if stream.write_all(reply).await.is_err() {
        return false;
    }
    Engine::lock(&shared.engine).st.stats.net_output_bytes += reply.len() as u64;
    true
}

/// Completes when the outstanding handoff needs the connection task (see
/// `Handoff::trouble`); never without one.
async fn trouble(handoff: &Option<Arc<Handoff>>) {
    match handoff {
        Some(h) => h.trouble().await,
        None => std::future::pending().await,
    }
}

/// Wait for the outstanding handoff, if any, and write what the socket did not take.
/// False when the connection must close.
async fn settle(handoff: &mut Option<Arc<Handoff>>, stream: &mut TcpStream) -> bool {
    let Some(h) = handoff.take() else {
        return true;
    };
    match h.settle().await {
        Outcome::Sent => true,
        Outcome::Rest(rest) => stream.write_all(&rest).await.is_ok(),
        Outcome::Failed => false,
    }
}

/// Why writing replies stopped.
enum WriteEnd {
    /// The connection failed.
    Io,
    /// The client left at least `soft` bytes unread for over `soft_seconds`.
    Limit,
}

/// Write `data`; with a soft limit, give up once at least `soft` bytes have stayed
/// unwritten (the client is not reading) for over `soft_seconds`.
async fn write_reply(
    stream: &mut TcpStream,
    data: &[u8],
    limit: crate::config::OutputBufferLimit,
) -> Result<(), WriteEnd> {
    let soft = limit.soft as usize;
    if soft == 0 || data.len() < soft {
        return stream.write_all(data).await.map_err(|_| WriteEnd::Io);
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(limit.soft_seconds);
    let mut pos = 0;
    while data.len() - pos >= soft {
        match tokio::time::timeout_at(deadline, stream.write(&data[pos..])).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Err(WriteEnd::Io),
            Ok(Ok(n)) => pos += n,
            Err(_) => return Err(WriteEnd::Limit),
        }
    }
    stream
        .write_all(&data[pos..])
        .await
        .map_err(|_| WriteEnd::Io)
}

/// Write the pub/sub messages waiting in `outbox`, through the (empty) reply buffer.
/// False when the connection must close: a write failed, or the client was cut off for
/// breaking `client-output-buffer-limit`.
async fn write_pushes(stream: &mut TcpStream, outbox: &Outbox, out: &mut ReplyBuf) -> bool {
    debug_assert!(out.is_empty());
    loop {
        if outbox.is_closed() {
            return false;
        }
        let n = outbox.drain(out, PUSH_CHUNK);
        if n == 0 {
            return true;
        }
        let ok = stream.write_all(out.as_bytes()).await.is_ok();
        out.clear();
        if !ok {
            // How much got through is unknown: none of it counts as output.
            return false;
        }
        outbox.written(n);
    }
}

/// A client blocked by BLPOP and friends (see `command::blocking`).
struct Blocked<'a> {
    id: u64,
    /// Unix ms; 0 = no timeout.
    deadline: u64,
    woken: &'a tokio::sync::Notify,
    pushed: &'a tokio::sync::Notify,
    outbox: &'a Outbox,
}

impl Blocked<'_> {
    /// Wait until the client is served or times out, and return its reply; None if the
    /// connection closed (the caller's disconnect then removes it from the queues). What
    /// the client sends meanwhile is buffered, as in Redis, up to the query buffer limit.
    async fn wait(
        &self,
        stream: &mut TcpStream,
        buf: &mut BytesMut,
        shared: &Shared,
        out: &mut ReplyBuf,
    ) -> Option<crate::command::blocking::Served> {
        use crate::command::blocking;
        let timer = async {
            if self.deadline == 0 {
                std::future::pending::<()>().await;
            }
            let left = self.deadline.saturating_sub(crate::util::now_ms());
            tokio::time::sleep(Duration::from_millis(left)).await;
        };
        tokio::pin!(timer);
        loop {
            if buf.capacity() - buf.len() < READ_CHUNK / 4 {
                buf.reserve(READ_CHUNK);
            }
            tokio::select! {
                biased;
                _ = self.woken.notified() => {
                    let mut eng = Engine::lock(&shared.engine);
                    if let Some(s) = blocking::take_served(&mut eng.st, self.id) {
                        return Some(s);
                    }
                }
                _ = &mut timer => {
                    let mut eng = Engine::lock(&shared.engine);
                    return blocking::unblock_timed_out(&mut eng.st, self.id);
                }
                r = stream.read_buf(buf) => match r {
                    Ok(0) | Err(_) => return None,
                    Ok(n) => {
                        let limit = shared.live.limits().query_buffer_limit;
                        if limit > 0 && buf.len() > limit {
                            debug!("client {}: query buffer limit while blocked", self.id);
                            return None;
                        }
                        Engine::lock(&shared.engine).st.stats.net_input_bytes += n as u64;
                    }
                },
                _ = self.pushed.notified() => {
                    if !write_pushes(stream, self.outbox, out).await {
                        return None;
                    }
                }
            }
        }
    }
}
