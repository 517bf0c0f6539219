//! What each command cost: INFO `commandstats` (calls, time, rejected and failed calls
//! per command and subcommand), INFO `errorstats` (error replies by their first word) and
//! the slow log (SLOWLOG GET/LEN/RESET), all as Redis 7.0 reports them.
//!
//! The dispatcher times every command it runs (two monotonic clock reads) and calls
//! [`record_call`]; a command refused before it ran calls [`record_rejection`]. Times
//! cover executing the command only, not reading it or writing its reply, as in Redis.
//! Commands replayed from the log are not counted.

use std::collections::{BTreeMap, VecDeque};
use std::sync::OnceLock;

use bytes::Bytes;

use super::histogram::LatencyHistogram;
use super::{Ctx, Session, Spec, State, COMMANDS};

/// Redis's limits on what one slow log entry keeps of a command.
const MAX_ARGS: usize = 32;
const MAX_ARG_BYTES: usize = 128;
/// Error codes tracked before errorstats stops adding new ones (Redis's limit: a client
/// can make up codes, and each would stay in INFO forever).
const MAX_ERROR_CODES: usize = 128;

#[derive(Debug, Default, Clone)]
pub struct CallStat {
    pub calls: u64,
    /// Summed in nanoseconds, so that commands shorter than a microsecond add up.
    pub nanos: u64,
    pub rejected: u64,
    pub failed: u64,
    /// Execution times (with `latency-tracking yes`), made on the first call.
    pub hist: Option<LatencyHistogram>,
}

/// Counters per command and documented subcommand, and per error code. Part of
/// [`super::Stats`], so CONFIG RESETSTAT clears them with the rest.
#[derive(Debug, Default, Clone)]
pub struct CallStats {
    /// `[command index in COMMANDS][0 for the command, 1 + i for its subcommand i]`,
    /// sized on first use.
    by_command: Vec<Vec<CallStat>>,
    errors: BTreeMap<String, u64>,
    pub total_error_replies: u64,
    /// The error reply of the command being recorded was counted already: a script
    /// returned (or raised) the error of a command it called, counted when that failed.
    pub reply_error_counted: bool,
}

/// The documented subcommands of each command of the table (`docs.rs` lists them as
/// `container|sub`), by command index.
fn subcommands() -> &'static [Vec<&'static str>] {
    static SUBS: OnceLock<Vec<Vec<&'static str>>> = OnceLock::new();
    SUBS.get_or_init(|| {
        COMMANDS
            .iter()
            .map(|s| {
                super::docs::DOCS
                    .iter()
                    .filter_map(|d| d.name.strip_prefix(s.name)?.strip_prefix('|'))
                    .collect()
            })
            .collect()
    })
}

/// `name` or `name|sub` of slot `j` of command `i`.
fn stat_name(i: usize, j: usize) -> String {
    match j {
        0 => COMMANDS[i].name.to_string(),
        j => format!("{}|{}", COMMANDS[i].name, subcommands()[i][j - 1]),
    }
}

impl CallStats {
    /// The counters of `spec` as called with `args` (its subcommand's, for a container).
    fn slot(&mut self, spec: &Spec, args: &[Bytes]) -> &mut CallStat {
        if self.by_command.is_empty() {
            self.by_command = subcommands()
                .iter()
                .map(|subs| vec![CallStat::default(); 1 + subs.len()])
                .collect();
        }
        let i = super::table::index_of(spec);
        let sub = match (subcommands()[i].as_slice(), args.get(1)) {
            ([], _) | (_, None) => 0,
            (subs, Some(a)) => subs
                .iter()
                .position(|s| s.as_bytes().eq_ignore_ascii_case(a))
                .map_or(0, |j| 1 + j),
        };
        &mut self.by_command[i][sub]
    }

    fn error(&mut self, reply: &[u8]) {
        self.total_error_replies += 1;
        let code_len = reply
            .iter()
            .position(|&b| b == b' ' || b == b'\r')
            .unwrap_or(reply.len());
        let code = String::from_utf8_lossy(&reply[..code_len]);
        if let Some(n) = self.errors.get_mut(code.as_ref()) {
            *n += 1;
        } else if self.errors.len() < MAX_ERROR_CODES {
            self.errors.insert(code.into_owned(), 1);
        }
    }

    /// INFO `commandstats`: one line per command or subcommand called at least once.
    pub fn write_commandstats(&self, o: &mut String) {
        use std::fmt::Write;
        o.push_str("# Commandstats\r\n");
        for (i, stats) in self.by_command.iter().enumerate() {
            for (j, s) in stats.iter().enumerate() {
                if s.calls == 0 && s.rejected == 0 && s.failed == 0 {
                    continue;
                }
                let name = stat_name(i, j);
                let usec = s.nanos / 1000;
                let per_call = if s.calls == 0 {
                    0.0
                } else {
                    s.nanos as f64 / 1000.0 / s.calls as f64
                };
                let _ = write!(
                    o,
                    "cmdstat_{name}:calls={},usec={},usec_per_call={per_call:.2},rejected_calls={},failed_calls={}\r\n",
                    s.calls, usec, s.rejected, s.failed
                );
            }
        }
        o.push_str("\r\n");
    }

    /// Every command and subcommand with a latency histogram, by name
    /// (`config|get`).
    pub fn histograms(&self) -> Vec<(String, &LatencyHistogram)> {
        let mut out = Vec::new();
        for (i, stats) in self.by_command.iter().enumerate() {
            for (j, s) in stats.iter().enumerate() {
                if let Some(h) = s.hist.as_ref().filter(|h| h.total() > 0) {
                    out.push((stat_name(i, j), h));
                }
            }
        }
        out
    }

    /// INFO `latencystats`: the configured percentiles of each command's execution time,
    /// in microseconds.
    pub fn write_latencystats(&self, o: &mut String, percentiles: &[f64]) {
        use std::fmt::Write;
        o.push_str("# Latencystats\r\n");
        for (name, h) in self.histograms() {
            let _ = write!(o, "latency_percentiles_usec_{name}:");
            for (k, p) in percentiles.iter().enumerate() {
                let sep = if k == 0 { "" } else { "," };
                let us = h.percentile(*p) as f64 / 1000.0;
                let _ = write!(o, "{sep}p{}={us:.3}", crate::config::percentile_text(*p));
            }
            o.push_str("\r\n");
        }
        o.push_str("\r\n");
    }

    /// INFO `errorstats`: one line per error code replied at least once.
    pub fn write_errorstats(&self, o: &mut String) {
        use std::fmt::Write;
        o.push_str("# Errorstats\r\n");
        for (code, n) in &self.errors {
            let _ = write!(o, "errorstat_{code}:count={n}\r\n");
        }
        o.push_str("\r\n");
    }
}

/// A command ran for `nanos` ns; `error` is its reply's text after the `-` if it failed.
pub fn record_call(
    st: &mut State,
    sess: &Session,
    spec: &'static Spec,
    args: &[Bytes],
    nanos: u64,
    error: Option<&[u8]>,
) {
    let counted = std::mem::take(&mut st.stats.calls.reply_error_counted);
    let s = count_call(st, spec, args, nanos);
    let usec = nanos / 1000;
    if let Some(reply) = error {
        s.failed += 1;
        if !counted {
            st.stats.calls.error(reply);
        }
    }
    let threshold = st.config.slowlog_log_slower_than;
    if threshold >= 0 && usec >= threshold as u64 && !spec.has(super::flag::SKIP_SLOWLOG) {
        let max_len = st.config.slowlog_max_len as usize;
        let (addr, name) = st
            .clients
            .by_id
            .get(&sess.id)
            .map(|c| (c.addr.clone(), c.name.clone()))
            .unwrap_or_default();
        st.slowlog.push(
            SlowEntry {
                id: 0,
                unix_s: crate::util::now_ms() / 1000,
                usec,
                args: kept_args(spec, args),
                addr,
                name,
            },
            max_len,
        );
    }
}

/// A command a script called ran for `nanos` ns: counted in INFO commandstats (and its
/// latency histogram) as Redis counts it; the slow log keeps only the script.
/// `error`: the error it replied (without its `-`), counted in errorstats as Redis counts
/// it (once: the script's reply does not count it again if it passes it on).
pub fn record_script_call(
    st: &mut State,
    spec: &'static Spec,
    args: &[Bytes],
    nanos: u64,
    error: Option<&[u8]>,
) {
    let s = count_call(st, spec, args, nanos);
    if let Some(reply) = error {
        s.failed += 1;
        st.stats.calls.error(reply);
    }
}

/// Count one call of `spec` that took `nanos` ns (and its latency, if tracked).
fn count_call<'a>(
    st: &'a mut State,
    spec: &'static Spec,
    args: &[Bytes],
    nanos: u64,
) -> &'a mut CallStat {
    let track = st.config.latency_tracking;
    let s = st.stats.calls.slot(spec, args);
    s.calls += 1;
    s.nanos += nanos;
    if track {
        s.hist.get_or_insert_with(Default::default).record(nanos);
    }
    s
}

/// A command a script called was refused (wrong arity, `noscript`, ACL, read-only
/// script, OOM) with `reply`: its `rejected_calls` and errorstats, as in Redis.
pub fn record_script_rejection(st: &mut State, spec: &'static Spec, args: &[Bytes], reply: &str) {
    st.stats.calls.slot(spec, args).rejected += 1;
    st.stats.calls.error(reply.as_bytes());
}

/// A command was refused before it ran (arity, authentication, ACL, OOM, MULTI state...)
/// with the error `reply` (without its `-`). `spec` is None for an unknown command.
pub fn record_rejection(st: &mut State, spec: Option<&'static Spec>, args: &[Bytes], reply: &[u8]) {
    if let Some(spec) = spec {
        st.stats.calls.slot(spec, args).rejected += 1;
    }
    st.stats.calls.error(reply);
}

/// Whether argument `i` of `args` is a password, shown as `(redacted)` in the slow log
/// and to MONITOR: AUTH's arguments, HELLO's after AUTH, ACL SETUSER's rules, the value
/// given to `requirepass` by CONFIG SET.
pub(super) fn is_secret(spec: &Spec, args: &[Bytes], i: usize) -> bool {
    match spec.name {
        "auth" => i >= 1,
        "acl" => i >= 2 && args[1].eq_ignore_ascii_case(b"SETUSER"),
        // HELLO [protover [AUTH username password] [SETNAME name]]
        "hello" => {
            i >= 2
                && (args[i - 1].eq_ignore_ascii_case(b"AUTH")
                    || (i >= 3 && args[i - 2].eq_ignore_ascii_case(b"AUTH")))
        }
        // CONFIG SET name value [name value ...]
        "config" => {
            args[1].eq_ignore_ascii_case(b"SET")
                && i >= 3
                && i % 2 == 1
                && args[i - 1].eq_ignore_ascii_case(b"requirepass")
        }
        _ => false,
    }
}

/// What a slow log entry keeps of `args`: at most 32 arguments (the last one then says
/// how many more there were), each cut to 128 bytes, secrets redacted.
fn kept_args(spec: &Spec, args: &[Bytes]) -> Vec<Bytes> {
    let redacted = |i: usize| is_secret(spec, args, i);
    let shown = if args.len() > MAX_ARGS {
        MAX_ARGS - 1
    } else {
        args.len()
    };
    let mut out: Vec<Bytes> = (0..shown)
        .map(|i| {
            let a = &args[i];
            if redacted(i) {
                Bytes::from_static(b"(redacted)")
            } else if a.len() > MAX_ARG_BYTES {
                let mut v = a[..MAX_ARG_BYTES].to_vec();
                v.extend_from_slice(
                    format!("... ({} more bytes)", a.len() - MAX_ARG_BYTES).as_bytes(),
                );
                Bytes::from(v)
            } else {
                a.clone()
            }
        })
        .collect();
    if args.len() > MAX_ARGS {
        out.push(Bytes::from(format!(
            "... ({} more arguments)",
            args.len() - shown
        )));
    }
    out
}

#[derive(Debug, Clone)]
pub struct SlowEntry {
    id: u64,
    unix_s: u64,
    usec: u64,
    args: Vec<Bytes>,
    addr: String,
    name: Bytes,
}

/// The newest `slowlog-max-len` commands that took at least `slowlog-log-slower-than` µs.
#[derive(Debug, Default)]
pub struct SlowLog {
    entries: VecDeque<SlowEntry>,
    next_id: u64,
}

impl SlowLog {
    fn push(&mut self, mut e: SlowEntry, max_len: usize) {
        e.id = self.next_id;
        self.next_id += 1;
        self.entries.push_front(e);
        self.entries.truncate(max_len);
    }
}

/// SLOWLOG GET [count] | LEN | RESET | HELP.
pub fn slowlog(ctx: &mut Ctx) {
    match ctx.args[1].to_ascii_uppercase().as_slice() {
        b"GET" if ctx.args.len() <= 3 => {
            let count = match ctx.args.get(2) {
                None => 10,
                Some(a) => match crate::util::parse_i64_strict(a) {
                    Some(-1) => usize::MAX,
                    Some(n) if n >= 0 => n as usize,
                    _ => return ctx.error("ERR count should be greater than or equal to -1"),
                },
            };
            let log = &ctx.st.slowlog.entries;
            let n = count.min(log.len());
            ctx.out.array_len(n);
            for e in log.iter().take(n) {
                ctx.out.array_len(6);
                ctx.out.int(e.id as i64);
                ctx.out.int(e.unix_s as i64);
                ctx.out.int(e.usec as i64);
                ctx.out.array_len(e.args.len());
                for a in &e.args {
                    ctx.out.bulk(a);
                }
                ctx.out.bulk(e.addr.as_bytes());
                ctx.out.bulk(&e.name);
            }
        }
        b"LEN" => {
            let n = ctx.st.slowlog.entries.len();
            ctx.out.int(n as i64);
        }
        b"RESET" => {
            ctx.st.slowlog.entries.clear();
            ctx.out.ok();
        }
        b"HELP" => {
            let lines = [
                "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "GET [<count>]",
                "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
                "    Entries are made of:",
                "    id, timestamp, time in microseconds, arguments array, client IP and port,",
                "    client name",
                "LEN",
                "    Return the length of the slowlog.",
                "RESET",
                "    Reset the slowlog.",
                "HELP",
                "    Prints this help.",
            ];
            ctx.help(&lines);
        }
        _ => super::keys::unknown_subcommand(ctx),
    }
}
