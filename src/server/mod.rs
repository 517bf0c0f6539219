//! The network front: listeners, connections, client limits, signals and shutdown.
//! The only module that knows about sockets.

mod connection;
mod handoff;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use crate::protocol::Limits;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tracing::{error, info, warn};

use crate::command::Shutdown;
use crate::config::Config;
use crate::engine::{Engine, EngineError, KickCell, OpenOptions, SharedEngine};

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot listen on {addr}: {source} (is another server using the port? change --port or --bind)")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("cannot start the runtime: {0}")]
    Runtime(std::io::Error),
    #[error("{0}")]
    Startup(String),
    #[error("cannot open the data directory: {0}")]
    Engine(crate::engine::EngineError),
}

impl From<EngineError> for ServerError {
    fn from(e: EngineError) -> Self {
        match e {
            // Not about the data directory: the message says all.
            EngineError::Acl(_) => ServerError::Startup(e.to_string()),
            e => ServerError::Engine(e),
        }
    }
}

/// State shared by the accept loops and every connection.
pub(crate) struct Shared {
    pub engine: SharedEngine,
    pub clients: AtomicUsize,
    /// Settings every connection checks on each read, kept in step with the config.
    pub live: LiveConfig,
    /// Set once to stop the server; connections and listeners watch it.
    pub stop: watch::Sender<Option<Shutdown>>,
}

/// The configuration values connections need without taking the engine lock: mirrored
/// after every batch, so a CONFIG SET applies to every connection at once, as in Redis.
#[derive(Default)]
pub(crate) struct LiveConfig {
    /// `timeout`: seconds of silence before a client is closed (0 = never).
    idle_timeout: AtomicU64,
    max_bulk_len: AtomicU64,
    query_buffer_limit: AtomicU64,
    /// `tcp-keepalive` seconds for new connections (0 = off).
    tcp_keepalive: AtomicU64,
    /// `client-output-buffer-limit normal`: hard, soft, soft seconds.
    normal_hard: AtomicU64,
    normal_soft: AtomicU64,
    normal_soft_seconds: AtomicU64,
}

impl LiveConfig {
    pub fn update(&self, c: &Config) {
        self.idle_timeout.store(c.timeout, Ordering::Relaxed);
        self.max_bulk_len
            .store(c.proto_max_bulk_len, Ordering::Relaxed);
        self.query_buffer_limit
            .store(c.client_query_buffer_limit, Ordering::Relaxed);
        self.tcp_keepalive.store(c.tcp_keepalive, Ordering::Relaxed);
        let n = &c.client_output_buffer_limit.normal;
        self.normal_hard.store(n.hard, Ordering::Relaxed);
        self.normal_soft.store(n.soft, Ordering::Relaxed);
        self.normal_soft_seconds
            .store(n.soft_seconds, Ordering::Relaxed);
    }

    pub fn tcp_keepalive(&self) -> u64 {
        self.tcp_keepalive.load(Ordering::Relaxed)
    }

    /// The output limit for normal clients.
    pub fn normal_output_limit(&self) -> crate::config::OutputBufferLimit {
        crate::config::OutputBufferLimit {
            hard: self.normal_hard.load(Ordering::Relaxed),
            soft: self.normal_soft.load(Ordering::Relaxed),
            soft_seconds: self.normal_soft_seconds.load(Ordering::Relaxed),
        }
    }

    pub fn idle_timeout(&self) -> u64 {
        self.idle_timeout.load(Ordering::Relaxed)
    }

    pub fn limits(&self) -> Limits {
        Limits {
            max_bulk_len: self.max_bulk_len.load(Ordering::Relaxed) as usize,
            query_buffer_limit: self.query_buffer_limit.load(Ordering::Relaxed) as usize,
            ..Limits::default()
        }
    }
}

/// A server running on its own thread (used by tests and embedders).
pub struct ServerHandle {
    pub addrs: Vec<SocketAddr>,
    stop: watch::Sender<Option<Shutdown>>,
    thread: Option<std::thread::JoinHandle<Result<(), ServerError>>>,
}

impl ServerHandle {
    pub fn port(&self) -> u16 {
        self.addrs[0].port()
    }

    /// Stop the server as SHUTDOWN would, and wait for it to exit.
    pub fn shutdown(mut self) -> Result<(), ServerError> {
        let _ = self.stop.send(Some(Shutdown::Default));
        self.join()
    }

    fn join(&mut self) -> Result<(), ServerError> {
        match self.thread.take() {
            Some(t) => t
                .join()
                .unwrap_or_else(|_| Err(ServerError::Startup("server thread panicked".into()))),
            None => Ok(()),
        }
    }

    /// Wait until the server stops by itself (SHUTDOWN from a client).
    pub fn wait(mut self) -> Result<(), ServerError> {
        self.join()
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(Some(Shutdown::NoSave));
        let _ = self.join();
    }
}

/// Startup checks that need the command table.
fn check_config(config: &Config) -> Result<(), ServerError> {
    crate::command::check_renames(&config.rename_commands)
        .map_err(|e| ServerError::Startup(e.to_string()))?;
    if !config.users.is_empty() && !config.aclfile.is_empty() {
        return Err(ServerError::Startup("Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is invalid. This setup is very likely to lead to configuration errors and security holes, please define either an ACL file or declare users directly in your redis.conf, but not both.".into()));
    }
    crate::command::acl::Acl::from_config(config.requirepass.as_deref(), &config.users)
        .map(drop)
        .map_err(ServerError::Startup)
}

/// Turn on TCP keepalive probes for an accepted socket, as Redis's `tcp-keepalive`:
/// the first probe after `secs` idle seconds, then every `secs / 3`, dropping the
/// connection after 3 unanswered probes. 0 leaves keepalive off.
pub(crate) fn set_keepalive(fd: std::os::fd::RawFd, secs: u64) -> std::io::Result<()> {
    if secs == 0 {
        return Ok(());
    }
    let set = |level: libc::c_int, name: libc::c_int, value: libc::c_int| {
        // SAFETY: `fd` is an open socket owned by the caller; the option value is a
        // c_int that outlives the call.
        let r = unsafe {
            libc::setsockopt(
                fd,
                level,
                name,
                (&value as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if r == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    };
    let secs = secs.min(i32::MAX as u64) as libc::c_int;
    set(libc::SOL_SOCKET, libc::SO_KEEPALIVE, 1)?;
    #[cfg(target_os = "linux")]
    {
        set(libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, secs)?;
        set(libc::IPPROTO_TCP, libc::TCP_KEEPINTVL, (secs / 3).max(1))?;
        set(libc::IPPROTO_TCP, libc::TCP_KEEPCNT, 3)?;
    }
    Ok(())
}

fn bind_all(config: &Config) -> Result<Vec<std::net::TcpListener>, ServerError> {
    let mut out = Vec::new();
    for b in &config.bind {
        // "-::*"-style optional addresses of redis.conf: a leading '-' means "skip if unavailable".
        let (optional, host) = match b.strip_prefix('-') {
            Some(h) => (true, h),
            None => (false, b.as_str()),
        };
        let addr = if host.contains(':') {
            format!("[{host}]:{}", config.port)
        } else {
            format!("{host}:{}", config.port)
        };
        match std::net::TcpListener::bind(&addr) {
            Ok(l) => {
                l.set_nonblocking(true).map_err(|e| ServerError::Bind {
                    addr: addr.clone(),
                    source: e,
                })?;
                out.push(l);
            }
            Err(e) if optional => warn!("skipping optional bind address {addr}: {e}"),
            Err(e) => return Err(ServerError::Bind { addr, source: e }),
        }
    }
    if out.is_empty() {
        return Err(ServerError::Startup("no address to listen on".into()));
    }
    Ok(out)
}

fn build_runtime(config: &Config, kick: KickCell) -> Result<tokio::runtime::Runtime, ServerError> {
    let mut b = if config.io_threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(config.io_threads);
        b
    };
    // Group commit: when the loop is about to sleep, every ready connection has appended
    // its batch, so that is the moment to write + fsync them together.
    // (The engine swaps the log in the cell when it opens one; never wait for it here.)
    b.on_thread_park(move || {
        if let Ok(log) = kick.try_lock() {
            if let Some(s) = log.as_ref() {
                s.kick();
            }
        }
    });
    b.enable_all().build().map_err(ServerError::Runtime)
}

/// Start a server on a background thread. Binding happens before this returns, so the
/// addresses (port 0 picks a free port) are ready to connect to.
pub fn spawn(mut config: Config) -> Result<ServerHandle, ServerError> {
    check_config(&config)?;
    let listeners = bind_all(&config)?;
    let addrs = listeners
        .iter()
        .map(|l| l.local_addr())
        .collect::<Result<Vec<_>, _>>()
        .map_err(ServerError::Runtime)?;
    // Report the port picked for port 0 (INFO tcp_port, CONFIG GET port).
    if config.port == 0 {
        config.port = addrs[0].port();
    }
    let engine = Engine::open(config.clone())?.shared();
    let (stop, _) = watch::channel(None);
    let stop2 = stop.clone();
    let thread = std::thread::Builder::new()
        .name("strata-server".into())
        .spawn(move || {
            let kick = Engine::lock(&engine).kick_cell();
            let rt = build_runtime(&config, kick)?;
            rt.block_on(serve(listeners, engine, stop2, false, None))
        })
        .map_err(ServerError::Runtime)?;
    Ok(ServerHandle {
        addrs,
        stop,
        thread: Some(thread),
    })
}

/// Run a server in the calling thread until SHUTDOWN or a signal.
///
/// The port is bound first, so a busy port is reported before a long load, and clients
/// are served during the load itself: they get `-LOADING` (INFO shows the progress) until
/// the dataset is complete, as from Redis.
pub fn run(config: Config) -> Result<(), ServerError> {
    check_config(&config)?;
    let listeners = bind_all(&config)?;
    let opts = OpenOptions::default();
    let mut engine = Engine::loading(config.clone(), opts.vfs.clone());
    engine.load_acl_at_startup()?;
    let engine = engine.shared();
    let rt = build_runtime(&config, Engine::lock(&engine).kick_cell())?;
    let (tx, loaded) = oneshot::channel();
    let loading = engine.clone();
    std::thread::Builder::new()
        .name("strata-load".into())
        .spawn(move || {
            let _ = tx.send(Engine::load(&loading, opts));
        })
        .map_err(ServerError::Runtime)?;
    let (stop, _) = watch::channel(None);
    let result = rt.block_on(serve(listeners, engine.clone(), stop, true, Some(loaded)));
    // The log is flushed and closed by now. Freeing a large keyspace entry by entry takes
    // seconds and helps no one when the process is about to exit, so keep it (as Redis
    // does): the OS reclaims the memory at once.
    std::mem::forget(engine);
    result
}

async fn serve(
    listeners: Vec<std::net::TcpListener>,
    engine: SharedEngine,
    stop: watch::Sender<Option<Shutdown>>,
    handle_signals: bool,
    mut loading: Option<oneshot::Receiver<Result<(), EngineError>>>,
) -> Result<(), ServerError> {
    let shared = Arc::new(Shared {
        engine: engine.clone(),
        clients: AtomicUsize::new(0),
        live: LiveConfig::default(),
        stop,
    });
    shared.live.update(&Engine::lock(&engine).st.config);
    let listeners_addrs: Vec<SocketAddr> = listeners
        .iter()
        .filter_map(|l| l.local_addr().ok())
        .collect();
    for l in listeners {
        let l = TcpListener::from_std(l).map_err(ServerError::Runtime)?;
        tokio::spawn(accept_loop(l, shared.clone()));
    }
    tokio::spawn(ticker(shared.clone()));
    tokio::spawn(snapshot_pump(shared.clone()));
    tokio::spawn(durability_relay(shared.clone()));
    if handle_signals {
        tokio::spawn(signals(shared.clone()));
    }
    if loading.is_none() {
        ready(&listeners_addrs);
    }
    let mut rx = shared.stop.subscribe();
    let mode = loop {
        if let Some(m) = *rx.borrow_and_update() {
            break m;
        }
        tokio::select! {
            changed = rx.changed() => {
                if changed.is_err() {
                    break Shutdown::Default;
                }
            }
            // A failed load stops the server before anything is written.
            r = async { loading.as_mut().expect("guarded").await }, if loading.is_some() => {
                loading = None;
                match r {
                    Ok(Ok(())) => ready(&listeners_addrs),
                    Ok(Err(e)) => return Err(e.into()),
                    Err(_) => return Err(ServerError::Startup("the loading thread died".into())),
                }
            }
        }
    };
    info!("shutting down ({mode:?})");
    // Close every connection: in-flight batches have completed because each holds the
    // engine lock for its whole batch and we take it here.
    let mut eng = Engine::lock(&engine);
    if let Err(e) = eng.shutdown_persist(mode) {
        error!("the final snapshot failed: {e}");
    }
    let closed = eng.close();
    for c in eng.st.clients.by_id.values() {
        if let Some(k) = &c.kill {
            k();
        }
    }
    drop(eng);
    if let Err(e) = closed {
        error!("the log could not be flushed at shutdown: {e}");
        return Err(ServerError::Startup(format!(
            "log flush at shutdown failed: {e}"
        )));
    }
    info!("Strata is now ready to exit, bye bye...");
    Ok(())
}

fn ready(addrs: &[SocketAddr]) {
    for a in addrs {
        info!("Ready to accept connections on {a}");
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut stop = shared.stop.subscribe();
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = stop.changed() => return,
        };
        match accepted {
            Ok((stream, peer)) => {
                tokio::spawn(connection::serve(stream, peer, shared.clone()));
            }
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                error!("accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}

async fn ticker(shared: Arc<Shared>) {
    let mut stop = shared.stop.subscribe();
    loop {
        let hz = Engine::lock(&shared.engine).st.config.hz.max(1);
        let period = std::time::Duration::from_millis(1000 / hz);
        tokio::select! {
            _ = tokio::time::sleep(period) => {}
            _ = stop.changed() => return,
        }
        Engine::lock(&shared.engine).tick();
    }
}

/// Publish fsync completions to the connections waiting for them (see
/// `SyncShared::relay`). The engine's log can be switched on or replaced at run time, so
/// the task looks it up again every 100 ms.
async fn durability_relay(shared: Arc<Shared>) {
    let mut stop = shared.stop.subscribe();
    loop {
        let sync = Engine::lock(&shared.engine).sync_shared();
        let refresh = tokio::time::sleep(std::time::Duration::from_millis(100));
        match &sync {
            Some(s) => {
                tokio::select! {
                    _ = s.relay(refresh) => s.publish(),
                    _ = stop.changed() => return,
                }
            }
            None => {
                tokio::select! {
                    _ = refresh => {}
                    _ = stop.changed() => return,
                }
            }
        }
    }
}

/// Drive a snapshot in progress: one bounded step, then a millisecond for clients (and
/// for the writer thread, which shares the cores), so the engine is never held long and
/// a snapshot costs latency little; it still finishes far faster than a fork-based one.
async fn snapshot_pump(shared: Arc<Shared>) {
    let mut stop = shared.stop.subscribe();
    loop {
        let active = Engine::lock(&shared.engine).snapshot_pump(crate::engine::SNAPSHOT_STEP);
        if active {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            continue;
        }
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_millis(10)) => {}
            _ = stop.changed() => return,
        }
    }
}

async fn signals(shared: Arc<Shared>) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        error!(
            "cannot install signal handlers; SIGTERM will kill the server without a clean shutdown"
        );
        return;
    };
    tokio::select! {
        _ = term.recv() => info!("Received SIGTERM scheduling shutdown..."),
        _ = int.recv() => info!("Received SIGINT scheduling shutdown..."),
    }
    let _ = shared.stop.send(Some(Shutdown::Default));
    // A second signal while shutting down forces the exit.
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    warn!("second signal: exiting now");
    std::process::exit(1);
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsRawFd;

    fn get(fd: i32, level: libc::c_int, name: libc::c_int) -> libc::c_int {
        let mut v: libc::c_int = -1;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: valid socket and out-pointers sized for a c_int.
        let r = unsafe {
            libc::getsockopt(
                fd,
                level,
                name,
                (&mut v as *mut libc::c_int).cast(),
                &mut len,
            )
        };
        assert_eq!(r, 0);
        v
    }

    #[test]
    fn tcp_keepalive_is_applied_to_sockets() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let c = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (s, _) = l.accept().unwrap();
        let fd = s.as_raw_fd();
        assert_eq!(get(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE), 0);
        super::set_keepalive(fd, 0).unwrap();
        assert_eq!(get(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE), 0);
        super::set_keepalive(fd, 300).unwrap();
        assert_eq!(get(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE), 1);
        assert_eq!(get(fd, libc::IPPROTO_TCP, libc::TCP_KEEPIDLE), 300);
        assert_eq!(get(fd, libc::IPPROTO_TCP, libc::TCP_KEEPINTVL), 100);
        assert_eq!(get(fd, libc::IPPROTO_TCP, libc::TCP_KEEPCNT), 3);
        drop(c);
    }
}
