//! Server configuration: one table of named parameters shared by the command line
//! (`--name value`), redis.conf-style files (`name value` per line) and CONFIG GET/SET.
//! Names are Redis's wherever Redis has the option.

use std::fmt::Write as _;
use std::path::PathBuf;

/// `appendfsync`: when the log is fsynced, and so what a reply to a write promises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// Group commit: a reply leaves only after the fdatasync covering it.
    Always,
    /// Background fsync about once a second.
    Everysec,
    /// Leave flushing to the OS.
    No,
}

impl FsyncPolicy {
    pub fn name(self) -> &'static str {
        match self {
            FsyncPolicy::Always => "always",
            FsyncPolicy::Everysec => "everysec",
            FsyncPolicy::No => "no",
        }
    }
}

/// One class's `client-output-buffer-limit`: a client is disconnected once the output
/// waiting for it reaches `hard` bytes, or has stayed at `soft` bytes or more for over
/// `soft_seconds`. A zero limit is off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OutputBufferLimit {
    pub hard: u64,
    pub soft: u64,
    pub soft_seconds: u64,
}

/// `client-output-buffer-limit` for Redis's three client classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputBufferLimits {
    pub normal: OutputBufferLimit,
    /// Replicas (Redis's `replica`/`slave` class): kept for compatibility, Strata has none.
    pub replica: OutputBufferLimit,
    /// Clients subscribed to channels or patterns.
    pub pubsub: OutputBufferLimit,
}

impl Default for OutputBufferLimits {
    /// Redis's defaults: `normal 0 0 0 slave 256mb 64mb 60 pubsub 32mb 8mb 60`.
    fn default() -> Self {
        const MB: u64 = 1024 * 1024;
        let l = |hard, soft, soft_seconds| OutputBufferLimit {
            hard,
            soft,
            soft_seconds,
        };
        OutputBufferLimits {
            normal: l(0, 0, 0),
            replica: l(256 * MB, 64 * MB, 60),
            pubsub: l(32 * MB, 8 * MB, 60),
        }
    }
}

impl OutputBufferLimits {
    /// The value as CONFIG GET shows it (bytes, Redis's class names and order).
    pub fn render(&self) -> String {
        let f = |l: &OutputBufferLimit| format!("{} {} {}", l.hard, l.soft, l.soft_seconds);
        format!(
            "normal {} slave {} pubsub {}",
            f(&self.normal),
            f(&self.replica),
            f(&self.pubsub)
        )
    }

    /// Apply `<class> <hard> <soft> <soft-seconds>` groups (classes not named keep their
    /// limits). All groups are checked before any applies, as in Redis; the errors are
    /// Redis's.
    pub fn apply(&mut self, v: &str) -> Result<(), String> {
        let words: Vec<&str> = v.split_whitespace().collect();
        if !words.len().is_multiple_of(4) {
            return Err("Wrong number of arguments in buffer limit configuration.".into());
        }
        let mut next = *self;
        for g in words.chunks(4) {
            let slot = match g[0].to_ascii_lowercase().as_str() {
                "normal" => &mut next.normal,
                "replica" | "slave" => &mut next.replica,
                "pubsub" => &mut next.pubsub,
                _ => {
                    return Err(
                        "Invalid client class specified in buffer limit configuration.".into(),
                    )
                }
            };
            let bad =
                || "Error in hard, soft or soft_seconds setting in buffer limit configuration.";
            let hard = parse_memory(g[1]).map_err(|_| bad())?;
            let soft = parse_memory(g[2]).map_err(|_| bad())?;
            let soft_seconds = g[3]
                .parse::<i64>()
                .ok()
                .and_then(|s| u64::try_from(s).ok())
                .ok_or_else(bad)?;
            *slot = OutputBufferLimit {
                hard,
                soft,
                soft_seconds,
            };
        }
        *self = next;
        Ok(())
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub port: u16,
    pub bind: Vec<String>,
    pub dir: PathBuf,
    pub requirepass: Option<String>,
    pub maxclients: usize,
    pub appendonly: bool,
    pub appendfsync: FsyncPolicy,
    pub databases: usize,
    pub timeout: u64,
    pub tcp_keepalive: u64,
    pub proto_max_bulk_len: u64,
    pub client_query_buffer_limit: u64,
    pub enable_debug_command: String,
    pub loglevel: String,
    pub logfile: String,
    /// `aclfile`: the ACL users live in this file (ACL LOAD / ACL SAVE); empty: none.
    pub aclfile: String,
    pub save: String,
    pub dbfilename: String,
    pub aof_load_truncated: bool,
    /// `key-load-delay`: microseconds to pause after each record or key loaded at
    /// startup (0 = none). For tests and drills of the loading state, as in Redis.
    pub key_load_delay: u64,
    pub aof_use_rdb_preamble: bool,
    pub auto_aof_rewrite_percentage: u64,
    pub auto_aof_rewrite_min_size: u64,
    pub maxmemory: u64,
    pub maxmemory_policy: String,
    pub maxmemory_samples: usize,
    pub lfu_log_factor: u32,
    pub lfu_decay_time: u32,
    pub protected_mode: bool,
    pub hz: u64,
    pub io_threads: usize,
    pub pidfile: String,
    pub appendfilename: String,
    pub appenddirname: String,
    /// DEL frees big values off the event loop, as UNLINK does.
    pub lazyfree_lazy_user_del: bool,
    /// FLUSHALL / FLUSHDB without ASYNC or SYNC free off the event loop.
    pub lazyfree_lazy_user_flush: bool,
    /// Evicted keys' big values are freed off the event loop.
    pub lazyfree_lazy_eviction: bool,
    /// Expired keys' big values are freed off the event loop.
    pub lazyfree_lazy_expire: bool,
    /// Big values replaced by a write are freed off the event loop.
    pub lazyfree_lazy_server_del: bool,
    /// `notify-keyspace-events`: which keyspace notifications are published, as
    /// [`events`] bits (0: none, the default).
    pub notify_keyspace_events: u32,
    /// `tracking-table-max-keys`: CLIENT TRACKING remembers at most this many keys (0:
    /// no limit); past it, keys are forgotten and their readers told they changed.
    pub tracking_table_max_keys: u64,
    /// `acllog-max-len`: ACL LOG keeps at most this many entries.
    pub acllog_max_len: u64,
    pub slowlog_log_slower_than: i64,
    /// `busy-reply-threshold` (alias `lua-time-limit`), ms: a script that has run this
    /// long without writing is stopped (0: never).
    pub busy_reply_threshold: u64,
    pub slowlog_max_len: u64,
    pub latency_monitor_threshold: u64,
    pub latency_tracking: bool,
    pub latency_tracking_info_percentiles: Vec<f64>,
    /// `client-output-buffer-limit`: per client class, when a client whose output is
    /// not being read gets disconnected.
    pub client_output_buffer_limit: OutputBufferLimits,
    /// `rename-command <name> <new-name>` lines (config file or command line, startup
    /// only), in order; an empty new name disables the command.
    pub rename_commands: Vec<(String, String)>,
    /// `user <name> <rule>...` lines (ACL users defined at startup, as redis.conf's),
    /// in order; checked and applied when the server starts, after `requirepass`.
    pub users: Vec<Vec<String>>,
    /// The config file the server started from (absolute), which CONFIG REWRITE rewrites.
    pub config_file: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            port: 6379,
            bind: vec!["127.0.0.1".into()],
            dir: PathBuf::from("./data"),
            requirepass: None,
            maxclients: 10000,
            appendonly: true,
            appendfsync: FsyncPolicy::Everysec,
            databases: 16,
            timeout: 0,
            tcp_keepalive: 300,
            proto_max_bulk_len: 512 * 1024 * 1024,
            client_query_buffer_limit: 1024 * 1024 * 1024,
            enable_debug_command: "no".into(),
            loglevel: "notice".into(),
            logfile: String::new(),
            aclfile: String::new(),
            save: "3600 1 300 100 60 10000".into(),
            dbfilename: "dump.rdb".into(),
            aof_load_truncated: true,
            key_load_delay: 0,
            aof_use_rdb_preamble: true,
            auto_aof_rewrite_percentage: 100,
            auto_aof_rewrite_min_size: 64 * 1024 * 1024,
            maxmemory: 0,
            maxmemory_policy: "noeviction".into(),
            maxmemory_samples: 5,
            lfu_log_factor: 10,
            lfu_decay_time: 1,
            protected_mode: true,
            hz: 10,
            io_threads: 1,
            pidfile: String::new(),
            appendfilename: "appendonly.aof".into(),
            appenddirname: "appendonlydir".into(),
            lazyfree_lazy_user_del: false,
            lazyfree_lazy_user_flush: false,
            lazyfree_lazy_eviction: false,
            lazyfree_lazy_expire: false,
            lazyfree_lazy_server_del: false,
            notify_keyspace_events: 0,
            tracking_table_max_keys: 1_000_000,
            acllog_max_len: 128,
            slowlog_log_slower_than: 10000,
            busy_reply_threshold: 5000,
            slowlog_max_len: 128,
            latency_monitor_threshold: 0,
            latency_tracking: true,
            latency_tracking_info_percentiles: vec![50.0, 99.0, 99.9],
            client_output_buffer_limit: OutputBufferLimits::default(),
            rename_commands: Vec::new(),
            users: Vec::new(),
            config_file: None,
        }
    }
}

/// A configuration error, phrased for the operator who wrote the option.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("unknown option '{0}' (see strata-server --help for the supported options)")]
    Unknown(String),
    #[error("invalid value '{value}' for '{name}': {reason}")]
    Invalid {
        name: String,
        value: String,
        reason: String,
    },
    #[error("'{0}' can't be changed at runtime; set it in the config file or on the command line")]
    Immutable(String),
    #[error("option '{0}' is missing its value")]
    MissingValue(String),
    #[error("cannot read config file {path}: {reason}")]
    File { path: String, reason: String },
}

type Getter = fn(&Config) -> String;
type Setter = fn(&mut Config, &str) -> Result<(), String>;

/// One named parameter.
pub struct Param {
    pub name: &'static str,
    pub mutable: bool,
    pub help: &'static str,
    get: Getter,
    set: Setter,
}

/// `notify-keyspace-events` classes, one bit per Redis letter.
pub mod events {
    /// `K`: publish on `__keyspace@<db>__:<key>` (message: the event).
    pub const KEYSPACE: u32 = 1 << 0;
    /// `E`: publish on `__keyevent@<db>__:<event>` (message: the key).
    pub const KEYEVENT: u32 = 1 << 1;
    pub const GENERIC: u32 = 1 << 2;
    pub const STRING: u32 = 1 << 3;
    pub const LIST: u32 = 1 << 4;
    pub const SET: u32 = 1 << 5;
    pub const HASH: u32 = 1 << 6;
    pub const ZSET: u32 = 1 << 7;
    pub const EXPIRED: u32 = 1 << 8;
    pub const EVICTED: u32 = 1 << 9;
    pub const STREAM: u32 = 1 << 10;
    pub const KEY_MISS: u32 = 1 << 11;
    /// Never published: no modules.
    pub const MODULE: u32 = 1 << 12;
    pub const NEW: u32 = 1 << 13;
    /// `A`: every class but `m` and `n`, as in Redis.
    pub const ALL: u32 =
        GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;

    const LETTERS: &[(char, u32)] = &[
        ('g', GENERIC),
        ('$', STRING),
        ('l', LIST),
        ('s', SET),
        ('h', HASH),
        ('z', ZSET),
        ('x', EXPIRED),
        ('e', EVICTED),
        ('t', STREAM),
        ('d', MODULE),
        ('n', NEW),
    ];

    /// The bits of a class string (`KEA`, `Ex`, ``), None if a letter is unknown.
    pub fn parse(v: &str) -> Option<u32> {
        v.chars().try_fold(0, |acc, c| {
            let bit = match c {
                'A' => ALL,
                'K' => KEYSPACE,
                'E' => KEYEVENT,
                'm' => KEY_MISS,
                _ => LETTERS.iter().find(|(l, _)| *l == c)?.1,
            };
            Some(acc | bit)
        })
    }

    /// The class string CONFIG GET shows, spelled as Redis spells it: `A` stands for
    /// its classes and then hides `n` (Redis 7.0 prints `AKE` for `KEAn`; the `n` still
    /// applies).
    pub fn format(flags: u32) -> String {
        let mut s = String::new();
        if flags & ALL == ALL {
            s.push('A');
        } else {
            s.extend(
                LETTERS
                    .iter()
                    .filter(|(_, b)| flags & b != 0)
                    .map(|(l, _)| l),
            );
        }
        for (l, b) in [('K', KEYSPACE), ('E', KEYEVENT), ('m', KEY_MISS)] {
            if flags & b != 0 {
                s.push(l);
            }
        }
        s
    }
}

fn yesno(b: bool) -> String {
    if b { "yes" } else { "no" }.into()
}

fn parse_bool(v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => Err("argument must be 'yes' or 'no'".into()),
    }
}

/// A value Redis keeps in a C int (0 to 2^31-1).
fn parse_u32(v: &str) -> Result<u32, String> {
    let n = v
        .parse::<i64>()
        .map_err(|_| "argument couldn't be parsed into an integer".to_string())?;
    u32::try_from(n)
        .ok()
        .filter(|&n| n <= i32::MAX as u32)
        .ok_or_else(|| "argument must be between 0 and 2147483647 inclusive".into())
}

fn parse_u64(v: &str) -> Result<u64, String> {
    v.parse::<u64>()
        .map_err(|_| "argument couldn't be parsed into an integer".into())
}

/// Parse a memory amount the way Redis's memtoull does: `1gb` = 2^30, `1g` = 10^9.
pub fn parse_memory(v: &str) -> Result<u64, String> {
    let l = v.to_ascii_lowercase();
    let split = l.find(|c: char| !c.is_ascii_digit()).unwrap_or(l.len());
    let (num, unit) = l.split_at(split);
    let mul: u64 = match unit {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return Err("argument must be a memory value".into()),
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mul))
        .ok_or_else(|| "argument must be a memory value".into())
}

fn one_of(v: &str, allowed: &[&str]) -> Result<String, String> {
    let l = v.to_ascii_lowercase();
    if allowed.contains(&l.as_str()) {
        Ok(l)
    } else {
        Err(format!(
            "argument(s) must be one of the following: {}",
            allowed.join(", ")
        ))
    }
}

macro_rules! p {
    ($name:literal, $mutable:expr, $help:literal, $get:expr, $set:expr) => {
        Param {
            name: $name,
            mutable: $mutable,
            help: $help,
            get: $get,
            set: $set,
        }
    };
}

/// Every supported parameter.
pub static PARAMS: &[Param] = &[
    p!(
        "port",
        false,
        "TCP port to listen on",
        |c| c.port.to_string(),
        |c, v| {
            c.port = v.parse().map_err(|_| "port must be 0-65535".to_string())?;
            Ok(())
        }
    ),
    p!(
        "bind",
        false,
        "addresses to listen on (space separated)",
        |c| c.bind.join(" "),
        |c, v| {
            let addrs: Vec<String> = v.split_whitespace().map(str::to_string).collect();
            if addrs.is_empty() {
                return Err("at least one address is required".into());
            }
            c.bind = addrs;
            Ok(())
        }
    ),
    p!(
        "dir",
        false,
        "data directory (created if missing)",
        |c| c.dir.display().to_string(),
        |c, v| {
            c.dir = PathBuf::from(v);
            Ok(())
        }
    ),
    p!(
        "requirepass",
        true,
        "password clients must AUTH with (empty: none)",
        |c| c.requirepass.clone().unwrap_or_default(),
        |c, v| {
            c.requirepass = if v.is_empty() {
                None
            } else {
                Some(v.to_string())
            };
            Ok(())
        }
    ),
    p!(
        "maxclients",
        true,
        "maximum simultaneous clients",
        |c| c.maxclients.to_string(),
        |c, v| {
            c.maxclients = parse_u64(v)?.max(1) as usize;
            Ok(())
        }
    ),
    p!(
        "appendonly",
        true,
        "keep the keyspace on the append-only log (yes|no; CONFIG SET yes starts it with a base snapshot of the keyspace, written in the background; no closes it)",
        |c| yesno(c.appendonly),
        |c, v| {
            c.appendonly = parse_bool(v)?;
            Ok(())
        }
    ),
    p!(
        "appendfsync",
        true,
        "fsync policy: always|everysec|no",
        |c| c.appendfsync.name().into(),
        |c, v| {
            c.appendfsync = match one_of(v, &["everysec", "always", "no"])?.as_str() {
                "always" => FsyncPolicy::Always,
                "everysec" => FsyncPolicy::Everysec,
                _ => FsyncPolicy::No,
            };
            Ok(())
        }
    ),
    p!(
        "databases",
        false,
        "number of databases",
        |c| c.databases.to_string(),
        |c, v| {
            let n = parse_u64(v)?;
            if !(1..=1_000_000).contains(&n) {
                return Err("must be between 1 and 1000000".into());
            }
            c.databases = n as usize;
            Ok(())
        }
    ),
    p!(
        "timeout",
        true,
        "close idle clients after this many seconds (0: never)",
        |c| c.timeout.to_string(),
        |c, v| {
            c.timeout = parse_u64(v)?;
            Ok(())
        }
    ),
    p!(
        "tcp-keepalive",
        true,
        "TCP keepalive period in seconds (0: off)",
        |c| c.tcp_keepalive.to_string(),
        |c, v| {
            c.tcp_keepalive = parse_u64(v)?;
            Ok(())
        }
    ),
    p!(
        "proto-max-bulk-len",
        true,
        "largest accepted argument",
        |c| c.proto_max_bulk_len.to_string(),
        |c, v| {
            let n = parse_memory(v)?;
            if n < 1024 * 1024 {
                return Err("must be at least 1mb".into());
            }
            c.proto_max_bulk_len = n;
            Ok(())
        }
    ),
    p!(
        "client-query-buffer-limit",
        true,
        "largest accepted command",
        |c| c.client_query_buffer_limit.to_string(),
        |c, v| {
            let n = parse_memory(v)?;
            if n < 1024 * 1024 {
                return Err("must be at least 1mb".into());
            }
            c.client_query_buffer_limit = n;
            Ok(())
        }
    ),
    p!(
        "enable-debug-command",
        false,
        "allow DEBUG: yes|no|local",
        |c| c.enable_debug_command.clone(),
        |c, v| {
            c.enable_debug_command = one_of(v, &["yes", "no", "local"])?;
            Ok(())
        }
    ),
    p!(
        "loglevel",
        true,
        "debug|verbose|notice|warning",
        |c| c.loglevel.clone(),
        |c, v| {
            c.loglevel = one_of(v, &["debug", "verbose", "notice", "warning", "nothing"])?;
            Ok(())
        }
    ),
    p!(
        "logfile",
        false,
        "log file path (empty: standard output)",
        |c| c.logfile.clone(),
        |c, v| {
            c.logfile = v.to_string();
            Ok(())
        }
    ),
    p!(
        "aclfile",
        false,
        "file of ACL users, loaded at startup and by ACL LOAD, written by ACL SAVE (empty: none)",
        |c| c.aclfile.clone(),
        |c, v| {
            c.aclfile = v.to_string();
            Ok(())
        }
    ),
    p!(
        "daemonize",
        false,
        "only 'no' is supported (run under a supervisor)",
        |_| "no".into(),
        |_, v| {
            if parse_bool(v)? {
                Err("daemonize yes is not supported; run strata-server under a supervisor".into())
            } else {
                Ok(())
            }
        }
    ),
    p!(
        "save",
        true,
        "snapshot rules '<seconds> <changes> ...' (empty: none)",
        |c| c.save.clone(),
        |c, v| {
            let parts: Vec<&str> = v.split_whitespace().collect();
            if !parts.len().is_multiple_of(2) || parts.iter().any(|p| p.parse::<u64>().is_err()) {
                return Err("expected pairs of '<seconds> <changes>'".into());
            }
            c.save = parts.join(" ");
            Ok(())
        }
    ),
    p!(
        "dbfilename",
        true,
        "snapshot file name inside dir",
        |c| c.dbfilename.clone(),
        |c, v| {
            if v.is_empty() || v.contains('/') {
                return Err("dbfilename can't be a path, just a filename".into());
            }
            c.dbfilename = v.to_string();
            Ok(())
        }
    ),
    p!(
        "key-load-delay",
        true,
        "microseconds to pause after each record or key loaded at startup (tests, drills)",
        |c| c.key_load_delay.to_string(),
        |c, v| {
            c.key_load_delay = parse_u64(v)?;
            Ok(())
        }
    ),
    p!(
        "aof-load-truncated",
        true,
        "start even if the log's tail is torn (truncating it)",
        |c| yesno(c.aof_load_truncated),
        |c, v| {
            c.aof_load_truncated = parse_bool(v)?;
            Ok(())
        }
    ),
    p!(
        "aof-use-rdb-preamble",
        true,
        "accepted for compatibility: rewrites always write a snapshot base",
        |c| yesno(c.aof_use_rdb_preamble),
        |c, v| {
            c.aof_use_rdb_preamble = parse_bool(v)?;
            Ok(())
        }
    ),
    p!(
        "auto-aof-rewrite-percentage",
        true,
        "rewrite when the log grew this % over the base (0: off)",
        |c| c.auto_aof_rewrite_percentage.to_string(),
        |c, v| {
            c.auto_aof_rewrite_percentage = parse_u64(v)?;
            Ok(())
        }
    ),
    p!(
        "auto-aof-rewrite-min-size",
        true,
        "no automatic rewrite below this log size",
        |c| c.auto_aof_rewrite_min_size.to_string(),
        |c, v| {
            c.auto_aof_rewrite_min_size = parse_memory(v)?;
            Ok(())
        }
    ),
    p!(
        "maxmemory",
        true,
        "memory limit for the dataset (0: none)",
        |c| c.maxmemory.to_string(),
        |c, v| {
            c.maxmemory = parse_memory(v)?;
            Ok(())
        }
    ),
    p!(
        "maxmemory-policy",
        true,
        "what happens above maxmemory: noeviction (writes refused), or keys evicted: allkeys-lru, allkeys-lfu, allkeys-random (any key), volatile-lru, volatile-lfu, volatile-random, volatile-ttl (keys with a TTL)",
        |c| c.maxmemory_policy.clone(),
        |c, v| {
            c.maxmemory_policy = one_of(
                v,
                // Redis's order, which its error message lists.
                &[
                    "volatile-lru",
                    "volatile-lfu",
                    "volatile-random",
                    "volatile-ttl",
                    "allkeys-lru",
                    "allkeys-lfu",
                    "allkeys-random",
                    "noeviction",
                ],
            )?;
            Ok(())
        }
    ),
    p!(
        "maxmemory-samples",
        true,
        "keys sampled per eviction by the LRU, LFU and volatile-ttl policies (1-64)",
        |c| c.maxmemory_samples.to_string(),
        |c, v| {
            let n = parse_u64(v)?;
            if !(1..=64).contains(&n) {
                return Err("argument must be between 1 and 64 inclusive".into());
            }
            c.maxmemory_samples = n as usize;
            Ok(())
        }
    ),
    p!(
        "lfu-log-factor",
        true,
        "how many hits an LFU counter step takes: a counter above 5 grows with probability 1/((counter-5)*factor+1)",
        |c| c.lfu_log_factor.to_string(),
        |c, v| {
            c.lfu_log_factor = parse_u32(v)?;
            Ok(())
        }
    ),
    p!(
        "lfu-decay-time",
        true,
        "minutes after which an unused key's LFU counter drops by one (0: never)",
        |c| c.lfu_decay_time.to_string(),
        |c, v| {
            c.lfu_decay_time = parse_u32(v)?;
            Ok(())
        }
    ),
    p!(
        "protected-mode",
        true,
        "refuse non-loopback clients when no password is set",
        |c| yesno(c.protected_mode),
        |c, v| {
            c.protected_mode = parse_bool(v)?;
            Ok(())
        }
    ),
    p!(
        "hz",
        true,
        "background task frequency (1-500)",
        |c| c.hz.to_string(),
        |c, v| {
            c.hz = parse_u64(v)?.clamp(1, 500);
            Ok(())
        }
    ),
    p!(
        "io-threads",
        false,
        "network threads (1: a single event loop, like Redis)",
        |c| c.io_threads.to_string(),
        |c, v| {
            c.io_threads = parse_u64(v)?.clamp(1, 128) as usize;
            Ok(())
        }
    ),
    p!(
        "pidfile",
        false,
        "write the process id here",
        |c| c.pidfile.clone(),
        |c, v| {
            c.pidfile = v.to_string();
            Ok(())
        }
    ),
    p!(
        "appendfilename",
        false,
        "accepted for compatibility (log files are named by the manifest)",
        |c| c.appendfilename.clone(),
        |c, v| {
            c.appendfilename = v.to_string();
            Ok(())
        }
    ),
    p!(
        "appenddirname",
        false,
        "accepted for compatibility",
        |c| c.appenddirname.clone(),
        |c, v| {
            c.appenddirname = v.to_string();
            Ok(())
        }
    ),
    p!(
        "lazyfree-lazy-user-del",
        true,
        "DEL frees big values (more than 64 elements) on a background thread, as UNLINK does",
        |c| yesno(c.lazyfree_lazy_user_del),
        |c, v| {
            c.lazyfree_lazy_user_del = parse_bool(v)?;
            Ok(())
        }
    ),
    p!(
        "lazyfree-lazy-user-flush",
        true,
        "FLUSHALL and FLUSHDB without ASYNC / SYNC free on a background thread, as with ASYNC",
        |c| yesno(c.lazyfree_lazy_user_flush),
        |c, v| {
            c.lazyfree_lazy_user_flush = parse_bool(v)?;
            Ok(())
        }
    ),
    p!(
        "lazyfree-lazy-eviction",
        true,
        "evicted keys' big values are freed on a background thread",
        |c| yesno(c.lazyfree_lazy_eviction),
        |c, v| {
            c.lazyfree_lazy_eviction = parse_bool(v)?;
            Ok(())
        }
    ),
    p!(
        "lazyfree-lazy-expire",
        true,
        "expired keys' big values are freed on a background thread",
        |c| yesno(c.lazyfree_lazy_expire),
        |c, v| {
            c.lazyfree_lazy_expire = parse_bool(v)?;
            Ok(())
        }
    ),
    p!(
        "lazyfree-lazy-server-del",
        true,
        "big values replaced by a write (SET over a big hash, RENAME onto one) are freed on a background thread",
        |c| yesno(c.lazyfree_lazy_server_del),
        |c, v| {
            c.lazyfree_lazy_server_del = parse_bool(v)?;
            Ok(())
        }
    ),
    p!(
        "notify-keyspace-events",
        true,
        "keyspace notifications published over pub/sub, as Redis's class letters (K E g $ l s h z x e t m d n A)",
        |c| events::format(c.notify_keyspace_events),
        |c, v| {
            c.notify_keyspace_events = events::parse(v).ok_or_else(|| {
                "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".to_string()
            })?;
            Ok(())
        }
    ),
    p!(
        "acllog-max-len",
        true,
        "ACL LOG keeps at most this many entries (the newest)",
        |c| c.acllog_max_len.to_string(),
        |c, v| {
            c.acllog_max_len = parse_u64(v)?;
            Ok(())
        }
    ),
    p!(
        "tracking-table-max-keys",
        true,
        "CLIENT TRACKING remembers at most this many keys (0: no limit)",
        |c| c.tracking_table_max_keys.to_string(),
        |c, v| {
            c.tracking_table_max_keys = parse_u64(v)?;
            Ok(())
        }
    ),
    p!(
        "busy-reply-threshold",
        true,
        "ms a Lua script may run without writing before it is stopped (0: no limit)",
        |c| c.busy_reply_threshold.to_string(),
        |c, v| {
            c.busy_reply_threshold = parse_u64(v)?;
            Ok(())
        }
    ),
    p!(
        "lua-time-limit",
        true,
        "old name of busy-reply-threshold",
        |c| c.busy_reply_threshold.to_string(),
        |c, v| {
            c.busy_reply_threshold = parse_u64(v)?;
            Ok(())
        }
    ),
    p!(
        "slowlog-log-slower-than",
        true,
        "SLOWLOG keeps commands that ran at least this many microseconds (0: every command, negative: none)",
        |c| c.slowlog_log_slower_than.to_string(),
        |c, v| {
            c.slowlog_log_slower_than = v.parse().map_err(|_| "must be an integer".to_string())?;
            Ok(())
        }
    ),
    p!(
        "slowlog-max-len",
        true,
        "SLOWLOG keeps at most this many entries (the newest)",
        |c| c.slowlog_max_len.to_string(),
        |c, v| {
            c.slowlog_max_len = parse_u64(v)?;
            Ok(())
        }
    ),
    p!(
        "client-output-buffer-limit",
        true,
        "'<class> <hard> <soft> <soft-seconds>' per class (normal, replica, pubsub): disconnect a client whose unread output reaches <hard>, or stays at <soft> or more for over <soft-seconds> (0: no limit)",
        |c| c.client_output_buffer_limit.render(),
        |c, v| c.client_output_buffer_limit.apply(v)
    ),
    p!(
        "latency-monitor-threshold",
        true,
        "LATENCY samples events (commands, log writes and fsyncs) that took at least this many milliseconds (0: off)",
        |c| c.latency_monitor_threshold.to_string(),
        |c, v| {
            c.latency_monitor_threshold = parse_u64(v)?;
            Ok(())
        }
    ),
    p!(
        "latency-tracking",
        true,
        "keep a latency histogram per command (LATENCY HISTOGRAM, INFO latencystats)",
        |c| yesno(c.latency_tracking),
        |c, v| {
            c.latency_tracking = parse_bool(v)?;
            Ok(())
        }
    ),
    p!(
        "latency-tracking-info-percentiles",
        true,
        "the percentiles INFO latencystats reports, space-separated (0-100)",
        |c| c
            .latency_tracking_info_percentiles
            .iter()
            .map(|p| percentile_text(*p))
            .collect::<Vec<_>>()
            .join(" "),
        |c, v| {
            let ps = v
                .split_whitespace()
                .map(|w| match w.parse::<f64>() {
                    Ok(p) if (0.0..=100.0).contains(&p) => Ok(p),
                    _ => Err(format!("'{w}' is not a percentile between 0 and 100")),
                })
                .collect::<Result<Vec<_>, _>>()?;
            c.latency_tracking_info_percentiles = ps;
            Ok(())
        }
    ),
];

/// A percentile as Redis writes it (`%f` with the trailing zeros cut): `50`, `99.9`.
pub fn percentile_text(p: f64) -> String {
    let s = format!("{p:.6}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

pub fn find_param(name: &str) -> Option<&'static Param> {
    PARAMS.iter().find(|p| p.name.eq_ignore_ascii_case(name))
}

impl Config {
    /// Whether snapshots keep each key's access field: under an LRU or LFU
    /// `maxmemory-policy`, whose eviction reads it (Redis's RDB keeps idle times and
    /// counters under the same condition).
    pub fn keeps_access(&self) -> bool {
        let p = self.maxmemory_policy.as_str();
        p.ends_with("-lru") || p.ends_with("-lfu")
    }

    /// Set a parameter at startup (file or command line): mutability does not matter.
    pub fn set_startup(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        let p = find_param(name).ok_or_else(|| ConfigError::Unknown(name.to_string()))?;
        (p.set)(self, value).map_err(|reason| ConfigError::Invalid {
            name: p.name.into(),
            value: value.into(),
            reason,
        })
    }

    /// CONFIG SET: only mutable parameters.
    pub fn set_runtime(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        let p = find_param(name).ok_or_else(|| ConfigError::Unknown(name.to_string()))?;
        if !p.mutable {
            return Err(ConfigError::Immutable(p.name.into()));
        }
        self.set_startup(name, value)
    }

    pub fn get(&self, name: &str) -> Option<String> {
        find_param(name).map(|p| (p.get)(self))
    }

    /// CONFIG GET pattern: (name, value) pairs whose names match the glob.
    pub fn matching(&self, pattern: &[u8]) -> Vec<(&'static str, String)> {
        PARAMS
            .iter()
            .filter(|p| crate::util::glob_match(pattern, p.name.as_bytes(), true))
            .map(|p| (p.name, (p.get)(self)))
            .collect()
    }

    /// Apply a redis.conf-style text: `name value...` per line, `#` comments, quotes allowed.
    pub fn apply_file_text(&mut self, text: &str, path: &str) -> Result<(), ConfigError> {
        let mut save_seen = false;
        for (lineno, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |reason: &str| ConfigError::File {
                path: path.into(),
                reason: format!("line {}: {reason}: {line}", lineno + 1),
            };
            let words = crate::protocol::split_inline_args(line.as_bytes())
                .ok_or_else(|| bad("unbalanced quotes"))?;
            let words: Vec<String> = words
                .into_iter()
                .map(|w| String::from_utf8_lossy(&w).into_owned())
                .collect();
            let (name, rest) = words.split_first().ok_or_else(|| bad("empty directive"))?;
            if name.eq_ignore_ascii_case("rename-command") {
                self.add_rename(rest).map_err(|e| bad(&e.to_string()))?;
                continue;
            }
            if name.eq_ignore_ascii_case("user") {
                self.add_user(rest).map_err(|e| bad(&e.to_string()))?;
                continue;
            }
            // "save" may appear several times: the first replaces the defaults, later ones add.
            if name.eq_ignore_ascii_case("save") && !rest.is_empty() && !rest[0].is_empty() {
                let joined = if save_seen {
                    format!("{} {}", self.save, rest.join(" "))
                } else {
                    rest.join(" ")
                };
                save_seen = true;
                self.set_startup("save", &joined)
                    .map_err(|e| bad(&e.to_string()))?;
                continue;
            }
            self.set_startup(name, &rest.join(" "))
                .map_err(|e| bad(&e.to_string()))?;
        }
        Ok(())
    }

    /// CONFIG REWRITE's new text for a config file that reads `old`, as Redis builds it:
    /// every line is kept (comments, blank lines, `rename-command`, unknown lines) except
    /// parameter and `user` lines: the first line of each parameter now holds its current
    /// value, later lines of the same parameter are dropped, and parameters the file does
    /// not name but whose value differs from the default are appended, under a
    /// `# Generated by CONFIG REWRITE` line (added once). `users` (the ACL's users as
    /// `user name rules...` lines) replace the file's user lines, where the first was, or
    /// are appended.
    pub fn rewrite_text(&self, old: &str, users: &[String]) -> String {
        const SIGNATURE: &str = "# Generated by CONFIG REWRITE";
        let default = Config::default();
        let mut written = std::collections::HashSet::new();
        let mut lines: Vec<String> = Vec::new();
        let mut signed = false;
        let mut users_written = false;
        for line in old.lines() {
            let t = line.trim();
            signed |= t == SIGNATURE;
            let first = t.split_whitespace().next().filter(|_| !t.starts_with('#'));
            if first.is_some_and(|w| w.eq_ignore_ascii_case("user")) {
                if !std::mem::replace(&mut users_written, true) {
                    lines.extend(users.iter().cloned());
                }
                continue;
            }
            match first.and_then(find_param) {
                Some(p) if written.insert(p.name) => lines.push(self.param_line(p)),
                Some(_) => {}
                None => lines.push(line.to_string()),
            }
        }
        let mut added: Vec<String> = PARAMS
            .iter()
            .filter(|p| !written.contains(p.name) && (p.get)(self) != (p.get)(&default))
            .map(|p| self.param_line(p))
            .collect();
        if !users_written {
            added.extend(users.iter().cloned());
        }
        if !added.is_empty() {
            while lines.last().is_some_and(|l| l.trim().is_empty()) {
                lines.pop();
            }
            if !signed {
                if !lines.is_empty() {
                    lines.push(String::new());
                }
                lines.push(SIGNATURE.to_string());
            }
            lines.extend(added);
        }
        let mut text = lines.join("\n");
        text.push('\n');
        text
    }

    /// `name value` as a config file line that reads back as the current value: the
    /// value's words as they are when they are plain, else one quoted string.
    fn param_line(&self, p: &Param) -> String {
        let v = (p.get)(self);
        let plain = |c: char| c.is_ascii_alphanumeric() || "._-:/@,+*%".contains(c);
        let words_ok = !v.is_empty() && v.split(' ').all(|w| !w.is_empty() && w.chars().all(plain));
        if words_ok {
            return format!("{} {v}", p.name);
        }
        let mut q = String::new();
        crate::util::quote(&mut q, v.as_bytes());
        format!("{} {q}", p.name)
    }

    /// Build a configuration from Redis-style arguments: an optional config file path
    /// first, then `--name value...` pairs (a value may be several words, up to the next
    /// `--`). Later settings win.
    pub fn from_args(args: &[String]) -> Result<Config, ConfigError> {
        let mut cfg = Config::default();
        let mut rest = args;
        if let Some(first) = args.first() {
            if !first.starts_with("--") {
                let text = std::fs::read_to_string(first).map_err(|e| ConfigError::File {
                    path: first.clone(),
                    reason: e.to_string(),
                })?;
                cfg.apply_file_text(&text, first)?;
                cfg.config_file =
                    Some(std::path::absolute(first).unwrap_or_else(|_| PathBuf::from(first)));
                rest = &args[1..];
            }
        }
        let mut save_seen = false;
        let mut i = 0;
        while i < rest.len() {
            let Some(name) = rest[i].strip_prefix("--") else {
                return Err(ConfigError::Unknown(rest[i].clone()));
            };
            let mut j = i + 1;
            while j < rest.len() && !(rest[j].starts_with("--") && rest[j].len() > 2) {
                j += 1;
            }
            let values = &rest[i + 1..j];
            if values.is_empty() {
                return Err(ConfigError::MissingValue(name.to_string()));
            }
            if name.eq_ignore_ascii_case("rename-command") {
                cfg.add_rename(values)?;
                i = j;
                continue;
            }
            if name.eq_ignore_ascii_case("user") {
                cfg.add_user(values)?;
                i = j;
                continue;
            }
            let value = values.join(" ");
            if name.eq_ignore_ascii_case("save") && save_seen && !value.is_empty() {
                let joined = format!("{} {}", cfg.save, value);
                cfg.set_startup("save", &joined)?;
            } else {
                cfg.set_startup(name, &value)?;
            }
            save_seen |= name.eq_ignore_ascii_case("save");
            i = j;
        }
        Ok(cfg)
    }

    /// `rename-command <name> <new-name>` (`""` as the new name disables the command).
    /// Whether the command exists is checked when the server starts.
    pub fn add_rename(&mut self, words: &[String]) -> Result<(), ConfigError> {
        match words {
            [from, to] if !from.is_empty() && !to.contains(char::is_whitespace) => {
                self.rename_commands
                    .push((from.to_ascii_lowercase(), to.to_ascii_lowercase()));
                Ok(())
            }
            _ => Err(ConfigError::Invalid {
                name: "rename-command".into(),
                value: words.join(" "),
                reason: "expected 'rename-command <command> <new-name>' (\"\" as the new name disables the command)".into(),
            }),
        }
    }

    /// `user <name> [rule ...]`: an ACL user created at startup (rules as ACL SETUSER;
    /// they are checked when the server starts).
    pub fn add_user(&mut self, words: &[String]) -> Result<(), ConfigError> {
        match words.first() {
            Some(name) if !name.is_empty() => {
                self.users.push(words.to_vec());
                Ok(())
            }
            _ => Err(ConfigError::Invalid {
                name: "user".into(),
                value: words.join(" "),
                reason: "expected 'user <name> [rule ...]' (rules as in ACL SETUSER)".into(),
            }),
        }
    }

    /// Text for `--help`: every parameter with its default.
    pub fn help_text() -> String {
        let d = Config::default();
        let mut s = String::new();
        for p in PARAMS {
            let _ = writeln!(
                s,
                "  --{:<28} {} (default: {:?})",
                p.name,
                p.help,
                (p.get)(&d)
            );
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn redis_style_arguments() {
        let c = Config::from_args(&args(&[
            "--port",
            "6380",
            "--save",
            "",
            "--appendfsync",
            "always",
            "--bind",
            "127.0.0.1",
            "::1",
        ]))
        .unwrap();
        assert_eq!(c.port, 6380);
        assert_eq!(c.save, "");
        assert_eq!(c.appendfsync, FsyncPolicy::Always);
        assert_eq!(c.bind, vec!["127.0.0.1", "::1"]);
        assert_eq!(
            Config::from_args(&args(&["--nope", "1"])).unwrap_err(),
            ConfigError::Unknown("nope".into())
        );
        assert!(matches!(
            Config::from_args(&args(&["--appendfsync", "sometimes"])).unwrap_err(),
            ConfigError::Invalid { .. }
        ));
    }

    /// Every parameter's rewritten line reads back as the value it was written from,
    /// for the defaults and for values that need quoting.
    #[test]
    fn rewritten_lines_read_back_as_the_same_values() {
        let mut tricky = Config::default();
        tricky
            .set_startup("requirepass", "a b\"c\\d\n\x01")
            .unwrap();
        tricky.set_startup("dir", "/tmp/with  two spaces").unwrap();
        tricky.set_startup("save", "").unwrap();
        tricky
            .set_startup("latency-tracking-info-percentiles", "50 99.99")
            .unwrap();
        tricky.set_startup("logfile", "").unwrap();
        for cfg in [Config::default(), tricky] {
            for p in PARAMS {
                let line = cfg.param_line(p);
                let mut back = Config::default();
                back.apply_file_text(&line, "test")
                    .unwrap_or_else(|e| panic!("{line}: {e}"));
                assert_eq!(back.get(p.name), cfg.get(p.name), "{line}");
            }
        }
    }

    #[test]
    fn rewrite_keeps_comments_and_unknown_lines_and_is_idempotent() {
        let old = "# top comment\nport 7000\n\nrename-command FLUSHALL \"\"\nmaxmemory 1mb\n  # indented comment\nmaxmemory 2mb\nsave 900 1\n";
        let mut cfg = Config::default();
        cfg.apply_file_text(old, "test").unwrap();
        cfg.set_runtime("maxmemory", "3mb").unwrap();
        cfg.set_runtime("slowlog-max-len", "7").unwrap();
        let users = ["user default on nopass ~* &* +@all".to_string()];
        let new = cfg.rewrite_text(old, &users);
        assert_eq!(
            new,
            "# top comment\nport 7000\n\nrename-command FLUSHALL \"\"\nmaxmemory 3145728\n  # indented comment\nsave 900 1\n\n# Generated by CONFIG REWRITE\nslowlog-max-len 7\nuser default on nopass ~* &* +@all\n"
        );
        assert_eq!(cfg.rewrite_text(&new, &users), new);
        // From an empty file: only what differs from the defaults.
        assert_eq!(
            cfg.rewrite_text("", &users),
            "# Generated by CONFIG REWRITE\nport 7000\nsave 900 1\nmaxmemory 3145728\nslowlog-max-len 7\nuser default on nopass ~* &* +@all\n"
        );
    }

    /// The ACL's users replace the file's `user` lines where the first one was.
    #[test]
    fn rewrite_puts_the_users_where_the_first_user_line_was() {
        let old = "port 7000\nuser alice on >a +get ~*\n# keep\nuser bob on\n";
        let users = [
            "user alice on #ca97 ~* -@all +get".to_string(),
            "user default on nopass ~* &* +@all".to_string(),
        ];
        assert_eq!(
            Config::default().rewrite_text(old, &users),
            "port 6379\nuser alice on #ca97 ~* -@all +get\nuser default on nopass ~* &* +@all\n# keep\n"
        );
    }

    #[test]
    fn config_file_then_flags() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("strata.conf");
        std::fs::write(
            &path,
            "# comment\nport 7000\nrequirepass \"a b\"\nmaxmemory 1gb\n",
        )
        .unwrap();
        let c = Config::from_args(&args(&[path.to_str().unwrap(), "--port", "7001"])).unwrap();
        assert_eq!(c.port, 7001);
        assert_eq!(c.requirepass.as_deref(), Some("a b"));
        assert_eq!(c.maxmemory, 1 << 30);
    }

    #[test]
    fn runtime_mutability() {
        let mut c = Config::default();
        assert_eq!(
            c.set_runtime("port", "1"),
            Err(ConfigError::Immutable("port".into()))
        );
        c.set_runtime("appendfsync", "no").unwrap();
        assert_eq!(c.get("appendfsync").unwrap(), "no");
        assert_eq!(c.matching(b"append*").len(), 4);
    }

    #[test]
    fn output_buffer_limits_like_redis() {
        let mut c = Config::default();
        let name = "client-output-buffer-limit";
        assert_eq!(
            c.get(name).unwrap(),
            "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
        );
        c.set_runtime(name, "PUBSUB 64kb 32kb 1 replica 1g 1k 0")
            .unwrap();
        assert_eq!(
            c.get(name).unwrap(),
            "normal 0 0 0 slave 1000000000 1000 0 pubsub 65536 32768 1"
        );
        c.set_runtime(name, "").unwrap();
        let reason = |v: &str| match Config::default().set_runtime(name, v) {
            Err(ConfigError::Invalid { reason, .. }) => reason,
            other => panic!("{v}: {other:?}"),
        };
        assert_eq!(
            reason("pubsub 1 2"),
            "Wrong number of arguments in buffer limit configuration."
        );
        assert_eq!(
            reason("normal 1 2 3 master 1 1 1"),
            "Invalid client class specified in buffer limit configuration."
        );
        for v in [
            "pubsub x 1 1",
            "pubsub 1 1 -1",
            "pubsub -1 1 1",
            "pubsub 1 1 1s",
        ] {
            assert_eq!(
                reason(v),
                "Error in hard, soft or soft_seconds setting in buffer limit configuration.",
                "{v}"
            );
        }
        // All or nothing: a bad group leaves the good one unapplied.
        let mut d = Config::default();
        assert!(d.set_runtime(name, "normal 1 1 1 pubsub x 1 1").is_err());
        assert_eq!(d.client_output_buffer_limit, OutputBufferLimits::default());
        // redis.conf has one line per class: each sets only its class.
        let mut f = Config::default();
        f.apply_file_text(
            "client-output-buffer-limit normal 1mb 0 0\nclient-output-buffer-limit pubsub 1 2 3\n",
            "x.conf",
        )
        .unwrap();
        assert_eq!(
            f.get(name).unwrap(),
            "normal 1048576 0 0 slave 268435456 67108864 60 pubsub 1 2 3"
        );
    }

    #[test]
    fn keyspace_event_classes_read_and_print_as_redis_7_0() {
        // What redis-server 7.0.15 answers to CONFIG GET after CONFIG SET of each.
        for (set, get) in [
            ("KEA", "AKE"),
            ("KEAnm", "AKEm"),
            ("", ""),
            ("A", "A"),
            ("g$", "g$"),
            ("Kx", "xK"),
            ("KEAnmd", "AKEm"),
            ("Elsnh", "lshnE"),
        ] {
            let mut c = Config::default();
            c.set_runtime("notify-keyspace-events", set).unwrap();
            assert_eq!(c.get("notify-keyspace-events").unwrap(), get, "{set}");
        }
        // `A` hides `n` in the printed form but keeps it.
        assert_ne!(events::parse("KEAn").unwrap() & events::NEW, 0);
        for bad in ["Q", "K E", "k"] {
            match Config::default().set_runtime("notify-keyspace-events", bad) {
                Err(ConfigError::Invalid { reason, .. }) => assert_eq!(
                    reason,
                    "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."
                ),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }
}
