//! Connection and server commands: PING, AUTH, HELLO, SELECT, CLIENT, INFO, CONFIG,
//! COMMAND, DEBUG, SHUTDOWN and the whole-database operations.

use std::fmt::Write as _;

use bytes::Bytes;

use super::keys::{db_index, unknown_subcommand};
use super::{Ctx, Shutdown, Spec, COMMANDS, SYNTAX};
use crate::keyspace::{Entry, Value};

/// The Redis version Strata reports, for clients that adapt to it.
pub const REDIS_COMPAT_VERSION: &str = "7.0.15";

pub fn ping(ctx: &mut Ctx) {
    // A RESP2 client in subscribed mode gets ["pong", message] (the message defaults to
    // ""), which a client reading pub/sub frames can tell from messages, as in Redis.
    if ctx.sess.subs.active() && !ctx.sess.resp3 && ctx.args.len() <= 2 {
        let m = ctx.args.get(1).cloned().unwrap_or_default();
        ctx.out.array_len(2);
        ctx.out.bulk(b"pong");
        ctx.out.bulk(&m);
        return;
    }
    match ctx.args.len() {
        1 => ctx.out.simple("PONG"),
        2 => {
            let m = ctx.args[1].clone();
            ctx.out.bulk(&m)
        }
        _ => ctx.wrong_args(),
    }
}

pub fn echo(ctx: &mut Ctx) {
    let m = ctx.args[1].clone();
    ctx.out.bulk(&m);
}

pub fn quit(ctx: &mut Ctx) {
    ctx.sess.close = true;
    ctx.out.ok();
}

pub fn select(ctx: &mut Ctx) {
    let Some(db) = db_index(ctx, 1) else { return };
    ctx.sess.db = db;
    ctx.out.ok();
}

/// Compare secrets in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0xff);
        diff |= (x ^ y) as usize;
    }
    diff == 0
}

const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

/// Check credentials (no user: `default`); on success the session is logged in as that
/// user, on failure the error is replied and false returned.
fn check_auth(ctx: &mut Ctx, user: Option<&[u8]>, pass: &[u8]) -> bool {
    if user.is_none() && ctx.st.acl.users.get("default").is_some_and(|d| d.nopass) {
        ctx.error("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?");
        return false;
    }
    let name = user.unwrap_or(b"default");
    match ctx.st.acl.authenticate(name, pass) {
        Some(u) => {
            ctx.sess.user = u.name.clone();
            ctx.sess.authenticated = true;
            true
        }
        None => {
            let user = String::from_utf8_lossy(name).into_owned();
            let in_multi = ctx.sess.multi.is_some();
            let cmd = &ctx.args[0];
            let context = if in_multi { "multi" } else { "toplevel" };
            super::acl::log_refusal(ctx.st, ctx.sess, None, cmd, context, &user, ctx.now);
            ctx.error(WRONGPASS);
            false
        }
    }
}

pub fn auth(ctx: &mut Ctx) {
    let ok = match ctx.args.len() {
        2 => {
            let p = ctx.args[1].clone();
            check_auth(ctx, None, &p)
        }
        3 => {
            let (u, p) = (ctx.args[1].clone(), ctx.args[2].clone());
            check_auth(ctx, Some(&u), &p)
        }
        _ => return ctx.error(SYNTAX),
    };
    if ok {
        ctx.out.ok();
    }
}

pub fn hello(ctx: &mut Ctx) {
    let mut proto = if ctx.sess.resp3 { 3 } else { 2 };
    let mut i = 1;
    if ctx.args.len() > 1 {
        match crate::util::parse_i64_strict(&ctx.args[1]) {
            Some(v @ (2 | 3)) => proto = v,
            Some(_) => return ctx.error("NOPROTO unsupported protocol version"),
            None => return ctx.error("ERR Protocol version is not an integer or out of range"),
        }
        i = 2;
    }
    let mut name = None;
    while i < ctx.args.len() {
        let more = ctx.args.len() - i - 1;
        match ctx.args[i].to_ascii_uppercase().as_slice() {
            b"AUTH" if more >= 2 => {
                let (u, p) = (ctx.args[i + 1].clone(), ctx.args[i + 2].clone());
                if !check_auth(ctx, Some(&u), &p) {
                    return;
                }
                i += 3;
            }
            b"SETNAME" if more >= 1 => {
                let n = ctx.args[i + 1].clone();
                if !valid_client_name(&n) {
                    return ctx.error(BAD_NAME);
                }
                name = Some(n);
                i += 2;
            }
            _ => {
                let msg = format!(
                    "ERR Syntax error in HELLO option '{}'",
                    String::from_utf8_lossy(&ctx.args[i])
                );
                return ctx.error(&msg);
            }
        }
    }
    if !ctx.sess.authenticated {
        return ctx.error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
    }
    if let Some(n) = name {
        ctx.sess.name = n;
    }
    ctx.sess.resp3 = proto == 3;
    ctx.out.set_resp3(proto == 3);
    ctx.out.map_len(7);
    ctx.out.bulk(b"server");
    ctx.out.bulk(b"redis");
    ctx.out.bulk(b"version");
    ctx.out.bulk(REDIS_COMPAT_VERSION.as_bytes());
    ctx.out.bulk(b"proto");
    ctx.out.int(proto);
    ctx.out.bulk(b"id");
    ctx.out.int(ctx.sess.id as i64);
    ctx.out.bulk(b"mode");
    ctx.out.bulk(b"standalone");
    ctx.out.bulk(b"role");
    ctx.out.bulk(b"master");
    ctx.out.bulk(b"modules");
    ctx.out.array_len(0);
}

pub fn reset(ctx: &mut Ctx) {
    ctx.sess.multi = None;
    ctx.sess.multi_error = false;
    ctx.st.unwatch_all(ctx.sess);
    super::pubsub::unsubscribe_all(ctx.st, ctx.sess);
    super::monitor::stop(ctx.st, ctx.sess);
    super::tracking::off(ctx.st, ctx.sess);
    ctx.sess.db = 0;
    ctx.sess.reply = super::ReplyMode::default();
    ctx.sess.resp3 = false;
    ctx.out.set_resp3(false);
    ctx.sess.name = Bytes::new();
    ctx.sess.user = "default".into();
    ctx.sess.authenticated = ctx.st.acl.default_open();
    ctx.out.simple("RESET");
}

const BAD_NAME: &str = "ERR Client names cannot contain spaces, newlines or special characters.";

fn valid_client_name(n: &[u8]) -> bool {
    n.iter().all(|&c| (b'!'..=b'~').contains(&c))
}

fn client_line(st: &super::State, now: u64, c: &super::ClientInfo) -> String {
    // Redis's flag letters, in its order.
    let mut flags = String::new();
    if st.monitors.contains_key(&c.id) {
        flags.push('O');
    }
    if c.sub + c.psub > 0 {
        flags.push('P');
    }
    if c.multi >= 0 {
        flags.push('x');
    }
    if st.blocking.is_blocked(c.id) {
        flags.push('b');
    }
    let (tracking, redir) = st.tracking.client_flags(c.id);
    flags.push_str(tracking);
    if flags.is_empty() {
        flags.push('N');
    }
    // Output waiting for the client: pub/sub messages not yet written (replies are
    // written before the next command is read).
    let (oll, omem) = c
        .outbox
        .as_ref()
        .map_or((0, 0), |o| (o.queued_messages(), o.pending()));
    format!(
        "id={} addr={} laddr={} fd=8 name={} age={} idle={} flags={flags} db={} sub={} psub={} ssub={} multi={} qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll={oll} omem={omem} tot-mem=0 events=r cmd={} user={} redir={redir} resp={} lib-name={} lib-ver={}\n",
        c.id,
        c.addr,
        c.laddr,
        String::from_utf8_lossy(&c.name),
        now.saturating_sub(c.created_ms) / 1000,
        now.saturating_sub(c.last_ms) / 1000,
        c.db,
        c.sub,
        c.psub,
        c.ssub,
        c.multi,
        c.last_cmd,
        c.user,
        c.resp,
        String::from_utf8_lossy(&c.lib_name),
        String::from_utf8_lossy(&c.lib_ver),
    )
}

/// The CLIENT LIST line of `sess` as it is now (without its newline), running `cmd`:
/// ACL LOG's `client-info`.
pub fn client_info_now(
    st: &mut super::State,
    sess: &super::Session,
    cmd: &'static str,
    now: u64,
) -> String {
    sync_client(st, sess, now);
    let Some(c) = st.clients.by_id.get_mut(&sess.id) else {
        return String::new();
    };
    c.last_cmd = cmd;
    let c = c.clone();
    let mut line = client_line(st, now, &c);
    line.pop();
    line
}

/// Copy the live session's state into the registry so CLIENT LIST/INFO see it now.
pub fn sync_client(st: &mut super::State, sess: &super::Session, now: u64) {
    if let Some(c) = st.clients.by_id.get_mut(&sess.id) {
        c.db = sess.db;
        c.name = sess.name.clone();
        c.last_ms = now;
        c.last_cmd = sess.last_cmd;
        c.resp = if sess.resp3 { 3 } else { 2 };
        c.multi = sess.multi.as_ref().map_or(-1, |q| q.len() as i64);
        c.lib_name = sess.lib_name.clone();
        c.lib_ver = sess.lib_ver.clone();
        c.sub = sess.subs.channel_count();
        c.psub = sess.subs.pattern_count();
        c.ssub = sess.subs.shard_count();
        if c.user != sess.user {
            c.user = sess.user.clone();
        }
    }
}

pub fn client(ctx: &mut Ctx) {
    let sub = ctx.args[1].to_ascii_uppercase();
    let n = ctx.args.len();
    match (sub.as_slice(), n) {
        (b"ID", 2) => ctx.out.int(ctx.sess.id as i64),
        (b"GETNAME", 2) => {
            if ctx.sess.name.is_empty() {
                ctx.out.null()
            } else {
                let name = ctx.sess.name.clone();
                ctx.out.bulk(&name)
            }
        }
        (b"SETNAME", 3) => {
            let name = ctx.args[2].clone();
            if !valid_client_name(&name) {
                return ctx.error(BAD_NAME);
            }
            ctx.sess.name = name;
            ctx.out.ok();
        }
        (b"SETINFO", 4) => {
            let attr = ctx.args[2].to_ascii_uppercase();
            let value = ctx.args[3].clone();
            if !valid_client_name(&value) {
                let msg = format!(
                    "ERR {} cannot contain spaces, newlines or special characters.",
                    String::from_utf8_lossy(&ctx.args[2])
                );
                return ctx.error(&msg);
            }
            match attr.as_slice() {
                b"LIB-NAME" => ctx.sess.lib_name = value,
                b"LIB-VER" => ctx.sess.lib_ver = value,
                _ => {
                    let msg = format!(
                        "ERR Unrecognized option '{}'",
                        String::from_utf8_lossy(&ctx.args[2])
                    );
                    return ctx.error(&msg);
                }
            }
            ctx.out.ok();
        }
        (b"LIST", _) | (b"INFO", 2) => {
            let now = ctx.now;
            sync_client(ctx.st, ctx.sess, now);
            let mut ids: Option<Vec<u64>> = None;
            if sub.as_slice() == b"INFO" {
                ids = Some(vec![ctx.sess.id]);
            } else if n > 2 {
                // Redis 7.0 takes either `TYPE <type>` or `ID <id> ...`, not both.
                match ctx.args[2].to_ascii_uppercase().as_slice() {
                    b"TYPE" if n == 4 => {
                        let t = ctx.args[3].to_ascii_lowercase();
                        if !matches!(
                            t.as_slice(),
                            b"normal" | b"master" | b"replica" | b"slave" | b"pubsub"
                        ) {
                            let msg = format!(
                                "ERR Unknown client type '{}'",
                                String::from_utf8_lossy(&ctx.args[3])
                            );
                            return ctx.error(&msg);
                        }
                        let class = String::from_utf8_lossy(&t).into_owned();
                        ids = Some(
                            ctx.st
                                .clients
                                .by_id
                                .values()
                                .filter(|c| c.class() == class)
                                .map(|c| c.id)
                                .collect(),
                        );
                    }
                    b"ID" if n > 3 => {
                        let mut v = Vec::new();
                        for a in &ctx.args[3..] {
                            match crate::util::parse_i64_strict(a) {
                                Some(id) if id > 0 => v.push(id as u64),
                                _ => return ctx.error("ERR Invalid client ID"),
                            }
                        }
                        ids = Some(v);
                    }
                    _ => return ctx.error(SYNTAX),
                }
            }
            let mut text = String::new();
            for c in ctx.st.clients.by_id.values() {
                if ids.as_ref().is_none_or(|v| v.contains(&c.id)) {
                    text.push_str(&client_line(ctx.st, ctx.now, c));
                }
            }
            ctx.out.verbatim("txt", text.as_bytes());
        }
        (b"KILL", _) if n >= 3 => client_kill(ctx),
        (b"UNBLOCK", 3 | 4) => {
            let Some(id) = ctx.int_arg(2) else { return };
            let error = match ctx.args.get(3).map(|a| a.to_ascii_uppercase()) {
                None => false,
                Some(r) if r.as_slice() == b"TIMEOUT" => false,
                Some(r) if r.as_slice() == b"ERROR" => true,
                Some(_) => {
                    return ctx.error("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
                }
            };
            let done = id > 0 && super::blocking::unblock_client(ctx.st, id as u64, error);
            ctx.out.int(done as i64);
        }
        (b"REPLY", 3) => match ctx.args[2].to_ascii_uppercase().as_slice() {
            b"ON" => {
                ctx.sess.reply = super::ReplyMode::default();
                ctx.out.ok();
            }
            // No reply to these two: that is what they ask for.
            b"OFF" => ctx.sess.reply.off = true,
            b"SKIP" => ctx.sess.reply.skip_next = true,
            _ => ctx.error(SYNTAX),
        },
        (b"PAUSE", 3 | 4) => {
            let Some(ms) = crate::util::parse_i64_strict(&ctx.args[2]) else {
                return ctx.error("ERR timeout is not an integer or out of range");
            };
            if ms < 0 {
                return ctx.error("ERR timeout is negative");
            }
            let all = match ctx.args.get(3).map(|m| m.to_ascii_uppercase()) {
                None => true,
                Some(m) if m.as_slice() == b"ALL" => true,
                Some(m) if m.as_slice() == b"WRITE" => false,
                Some(_) => return ctx.error("ERR CLIENT PAUSE mode must be WRITE or ALL"),
            };
            // A pause in force is only extended: the later end and the stricter mode win
            // (Redis 7.0).
            let mut p = super::ClientPause {
                until_ms: ctx.now.saturating_add(ms as u64),
                all,
            };
            if let Some(cur) = ctx.st.pause.filter(|_| ctx.st.paused(ctx.now)) {
                p.until_ms = p.until_ms.max(cur.until_ms);
                p.all |= cur.all;
            }
            ctx.st.pause = Some(p);
            ctx.out.ok();
        }
        (b"UNPAUSE", 2) => {
            ctx.st.pause = None;
            ctx.out.ok();
        }
        (b"TRACKING", _) => super::tracking::client_tracking(ctx),
        (b"CACHING", 3) => super::tracking::client_caching(ctx),
        (b"TRACKINGINFO", 2) => super::tracking::client_trackinginfo(ctx),
        (b"GETREDIR", 2) => super::tracking::client_getredir(ctx),
        (b"NO-EVICT", 3) | (b"NO-TOUCH", 3) => match ctx.args[2].to_ascii_lowercase().as_slice() {
            b"on" | b"off" => ctx.out.ok(),
            _ => ctx.error(SYNTAX),
        },
        (b"HELP", 2) => {
            let lines = [
                "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "CACHING (YES|NO)",
                "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
                "GETREDIR",
                "    Return the client ID we are redirecting to when tracking is enabled.",
                "GETNAME",
                "ID",
                "INFO",
                "KILL <ip:port> | ID <id> | ADDR <ip:port> | LADDR <ip:port> | SKIPME yes|no",
                "LIST [TYPE normal|master|replica|pubsub] [ID <id> ...]",
                "REPLY (ON|OFF|SKIP)",
                "SETNAME <name>",
                "SETINFO LIB-NAME|LIB-VER <value>",
                "UNBLOCK <clientid> [TIMEOUT|ERROR]",
                "PAUSE <timeout> [WRITE|ALL]",
                "    Suspend all, or just write, clients for <timeout> milliseconds.",
                "UNPAUSE",
                "    Stop the current client pause, resuming traffic.",
                "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
                "         [OPTIN] [OPTOUT] [NOLOOP]",
                "    Control server assisted client side caching.",
                "TRACKINGINFO",
                "    Report tracking status for the current connection.",
                "HELP",
            ];
            ctx.help(&lines);
        }
        _ => unknown_subcommand(ctx),
    }
}

fn client_kill(ctx: &mut Ctx) {
    let n = ctx.args.len();
    let mut victims: Vec<u64> = Vec::new();
    let old_style = n == 3;
    if old_style {
        let addr = String::from_utf8_lossy(&ctx.args[2]).to_string();
        victims = ctx
            .st
            .clients
            .by_id
            .values()
            .filter(|c| c.addr == addr)
            .map(|c| c.id)
            .collect();
        if victims.is_empty() {
            return ctx.error("ERR No such client");
        }
    } else {
        let mut skipme = true;
        let mut filters: Vec<(Vec<u8>, Bytes)> = Vec::new();
        let mut i = 2;
        while i < n {
            if i + 1 >= n {
                return ctx.error(SYNTAX);
            }
            let f = ctx.args[i].to_ascii_uppercase();
            match f.as_slice() {
                b"ID" => match crate::util::parse_i64_strict(&ctx.args[i + 1]) {
                    Some(id) if id > 0 => filters.push((f, ctx.args[i + 1].clone())),
                    _ => return ctx.error("ERR client-id should be greater than 0"),
                },
                b"TYPE" => {
                    let t = ctx.args[i + 1].to_ascii_lowercase();
                    if !matches!(
                        t.as_slice(),
                        b"normal" | b"master" | b"replica" | b"slave" | b"pubsub"
                    ) {
                        let msg = format!(
                            "ERR Unknown client type '{}'",
                            String::from_utf8_lossy(&ctx.args[i + 1])
                        );
                        return ctx.error(&msg);
                    }
                    filters.push((f, ctx.args[i + 1].clone()));
                }
                b"ADDR" | b"LADDR" | b"USER" => filters.push((f, ctx.args[i + 1].clone())),
                b"SKIPME" => match ctx.args[i + 1].to_ascii_lowercase().as_slice() {
                    b"yes" => skipme = true,
                    b"no" => skipme = false,
                    _ => return ctx.error(SYNTAX),
                },
                _ => return ctx.error(SYNTAX),
            }
            i += 2;
        }
        for c in ctx.st.clients.by_id.values() {
            if skipme && c.id == ctx.sess.id {
                continue;
            }
            let ok = filters.iter().all(|(f, v)| match f.as_slice() {
                b"ID" => crate::util::parse_i64_strict(v) == Some(c.id as i64),
                b"ADDR" => c.addr.as_bytes() == v.as_ref(),
                b"LADDR" => c.laddr.as_bytes() == v.as_ref(),
                b"TYPE" => v.eq_ignore_ascii_case(c.class().as_bytes()),
                b"USER" => v.as_ref() == c.user.as_bytes(),
                _ => false,
            });
            if ok {
                victims.push(c.id);
            }
        }
    }
    for id in &victims {
        if *id == ctx.sess.id {
            ctx.sess.close = true;
        } else if let Some(kill) = ctx.st.clients.by_id.get(id).and_then(|c| c.kill.clone()) {
            kill();
        }
    }
    if old_style {
        ctx.out.ok();
    } else {
        ctx.out.int(victims.len() as i64);
    }
}

/// MEMORY USAGE key [SAMPLES n] and MEMORY HELP. The usage is the entry's own estimate
/// (entry, key and value allocations, as `used_memory` counts them, plus its table
/// slot): exact for every value rather than sampled, so SAMPLES is accepted and ignored.
pub fn memory(ctx: &mut Ctx) {
    match ctx.args[1].to_ascii_uppercase().as_slice() {
        b"HELP" => {
            let lines = [
                "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "DOCTOR",
                "    Return memory problems reports.",
                "MALLOC-STATS",
                "    Return internal statistics report from the memory allocator.",
                "PURGE",
                "    Attempt to purge dirty pages for reclamation by the allocator.",
                "STATS",
                "    Return information about the memory usage of the server.",
                "USAGE <key> [SAMPLES <count>]",
                "    Return memory in bytes used by <key> and its value. Nested values are",
                "    sampled up to <count> times (default: 5, 0 means sample all).",
                "HELP",
                "    Prints this help.",
            ];
            return ctx.help(&lines);
        }
        b"STATS" => return memory_stats(ctx),
        b"DOCTOR" => {
            let text = memory_doctor(ctx.st);
            return ctx.out.verbatim("txt", text.as_bytes());
        }
        b"MALLOC-STATS" => {
            return ctx
                .out
                .verbatim("txt", b"Stats not supported for the current allocator")
        }
        // The allocator returns freed memory to the system on its own schedule.
        b"PURGE" => return ctx.out.ok(),
        _ => {}
    }
    let mut i = 3;
    while i < ctx.args.len() {
        if ctx.args[i].eq_ignore_ascii_case(b"SAMPLES") && i + 1 < ctx.args.len() {
            if ctx.int_arg(i + 1).is_none() {
                return;
            }
            i += 2;
        } else {
            return ctx.error("ERR syntax error");
        }
    }
    let key = ctx.args[2].clone();
    match ctx.lookup(&key) {
        Some(e) => {
            let n = e.mem_size() + std::mem::size_of::<usize>();
            ctx.out.int(n as i64)
        }
        None => ctx.out.null(),
    }
}

/// The highest `used_memory` so far, counting `used` now.
pub fn memory_peak(st: &mut super::State, used: u64) -> u64 {
    st.stats.used_memory_peak = st.stats.used_memory_peak.max(used);
    st.stats.used_memory_peak
}

/// MEMORY STATS: Redis 7.0's fields, from what Strata measures. Fields for what Strata
/// has not (replication backlog, cluster links, scripts, an AOF buffer: the log is
/// written to the OS when each batch ends) are 0; so are a db's expires table, as the
/// expiry lives in the entry, and its cluster slot index; the allocator's own views are not exposed, so its
/// allocated and active bytes are the counted ones.
fn memory_stats(ctx: &mut Ctx) {
    let st = &mut *ctx.st;
    let used = used_memory(st);
    let peak = memory_peak(st, used);
    let startup = st.stats.used_memory_startup;
    let clients = clients_memory(st);
    let rss = rss_bytes();
    let dbs: Vec<(usize, u64)> = (0..st.ks.db_count())
        .filter(|&i| !st.ks.db(i).is_empty())
        .map(|i| (i, st.ks.db(i).overhead() as u64))
        .collect();
    let overhead = startup + clients + dbs.iter().map(|d| d.1).sum::<u64>();
    let keys: u64 = (0..st.ks.db_count())
        .map(|i| st.ks.db(i).len() as u64)
        .sum();
    let dataset = used.saturating_sub(overhead);
    let net = used.saturating_sub(startup);
    let pct = |a: u64, b: u64| {
        if b == 0 {
            0.0
        } else {
            a as f64 * 100.0 / b as f64
        }
    };
    let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let rss_extra = rss as i64 - used as i64;
    let out = &mut *ctx.out;
    out.map_len(27 + dbs.len());
    let head = [
        ("peak.allocated", peak),
        ("total.allocated", used),
        ("startup.allocated", startup),
        ("replication.backlog", 0),
        ("clients.slaves", 0),
        ("clients.normal", clients),
        ("cluster.links", 0),
        ("aof.buffer", 0),
        ("lua.caches", st.scripts.body_bytes() as u64),
        ("functions.caches", st.functions.code_bytes() as u64),
    ];
    for (k, v) in head {
        out.bulk(k.as_bytes());
        out.int(v as i64);
    }
    for (db, main) in &dbs {
        out.bulk(format!("db.{db}").as_bytes());
        out.map_len(3);
        out.bulk(b"overhead.hashtable.main");
        out.int(*main as i64);
        out.bulk(b"overhead.hashtable.expires");
        out.int(0);
        // (Cluster mode's slot index: none here.)
        out.bulk(b"overhead.hashtable.slot-to-keys");
        out.int(0);
    }
    let per_key = net.checked_div(keys).unwrap_or(0);
    for (k, v) in [
        ("overhead.total", overhead),
        ("keys.count", keys),
        ("keys.bytes-per-key", per_key),
        ("dataset.bytes", dataset),
    ] {
        out.bulk(k.as_bytes());
        out.int(v as i64);
    }
    out.bulk(b"dataset.percentage");
    out.double(pct(dataset, net));
    out.bulk(b"peak.percentage");
    out.double(pct(used, peak));
    for (k, v) in [
        ("allocator.allocated", used),
        ("allocator.active", used),
        ("allocator.resident", rss),
    ] {
        out.bulk(k.as_bytes());
        out.int(v as i64);
    }
    let tail: [(&str, f64, i64); 4] = [
        ("allocator-fragmentation", 1.0, 0),
        ("allocator-rss", ratio(rss, used), rss_extra),
        ("rss-overhead", 1.0, 0),
        ("fragmentation", ratio(rss, used), rss_extra),
    ];
    for (k, r, b) in tail {
        // Redis names the last pair `fragmentation` and `fragmentation.bytes`.
        let ratio_name = if k == "fragmentation" {
            k.to_string()
        } else {
            format!("{k}.ratio")
        };
        out.bulk(ratio_name.as_bytes());
        out.double(r);
        out.bulk(format!("{k}.bytes").as_bytes());
        out.int(b);
    }
}

/// MEMORY DOCTOR, in Redis's words for the cases Strata can tell.
fn memory_doctor(st: &mut super::State) -> String {
    let used = used_memory(st);
    let peak = memory_peak(st, used);
    if used < 5 * 1024 * 1024 {
        return "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting.".into();
    }
    if peak as f64 / used as f64 > 1.5 {
        return "Sam, I detected a few issues in this Redis instance memory implants:\n\n * Peak memory: In the past this instance used more than 150% the memory that is currently using. The allocator is normally not able to release memory after a peak, so you can expect to see a big fragmentation ratio, however this is actually harmless and is only due to the memory peak, and if the Redis instance Resident Set Size (RSS) is currently bigger than expected, the memory will be used as soon as you fill the Redis instance with more data. If the memory peak was only occasional and you want to try to reclaim memory, please try the MEMORY PURGE command, otherwise the only other option is to shutdown and restart the instance.\n\nI'm here to keep you safe, Sam. I want to help you.\n".into();
    }
    "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.".into()
}

pub fn dbsize(ctx: &mut Ctx) {
    ctx.st.observe_all();
    let n = ctx.db().len();
    ctx.out.int(n as i64);
}

/// FLUSHALL / FLUSHDB's `[ASYNC|SYNC]`: Some(whether to free off the event loop; without
/// an argument `lazyfree-lazy-user-flush` decides), None after a syntax error reply.
fn flush_mode(ctx: &mut Ctx) -> Option<bool> {
    match (
        ctx.args.len(),
        ctx.args.get(1).map(|a| a.to_ascii_uppercase()),
    ) {
        (1, _) => Some(ctx.st.config.lazyfree_lazy_user_flush),
        (2, Some(m)) if m == b"ASYNC" => Some(true),
        (2, Some(m)) if m == b"SYNC" => Some(false),
        _ => {
            ctx.error(SYNTAX);
            None
        }
    }
}

/// Empty database `db`; `lazy`: its keys are freed on the lazy-free thread.
fn empty_db(st: &mut super::State, db: usize, lazy: bool) {
    let t = st.ks.db_mut(db);
    if !lazy {
        return t.clear();
    }
    if let Some(old) = t.clear_detached() {
        match old.keys() {
            0 => drop(old),
            n => crate::keyspace::lazyfree::free(old, n as u64),
        }
    }
}

pub fn flushdb(ctx: &mut Ctx) {
    let Some(lazy) = flush_mode(ctx) else {
        return;
    };
    let db = ctx.sess.db;
    ctx.st.dirty += ctx.st.ks.db(db).len() as u64;
    ctx.st.signal_flush(Some(db));
    empty_db(ctx.st, db, lazy);
    ctx.propagate(vec![Bytes::from_static(b"FLUSHDB")]);
    ctx.out.ok();
}

pub fn flushall(ctx: &mut Ctx) {
    let Some(lazy) = flush_mode(ctx) else {
        return;
    };
    ctx.st.dirty += ctx.st.ks.total_keys() as u64;
    ctx.st.signal_flush(None);
    for i in 0..ctx.st.ks.db_count() {
        empty_db(ctx.st, i, lazy);
    }
    ctx.propagate(vec![Bytes::from_static(b"FLUSHALL")]);
    ctx.out.ok();
}

pub fn swapdb(ctx: &mut Ctx) {
    let count = ctx.st.ks.db_count();
    let parse = |b: &[u8]| crate::util::parse_i64_strict(b);
    let Some(a) = parse(&ctx.args[1]) else {
        return ctx.error("ERR invalid first DB index");
    };
    let Some(b) = parse(&ctx.args[2]) else {
        return ctx.error("ERR invalid second DB index");
    };
    if a < 0 || b < 0 || a as usize >= count || b as usize >= count {
        return ctx.error("ERR DB index is out of range");
    }
    let (a, b) = (a as usize, b as usize);
    if a != b {
        ctx.st.signal_swap(a, b);
        ctx.st.ks.swap(a, b);
        ctx.st.dirty += 1;
        ctx.propagate_self();
    }
    ctx.out.ok();
}

pub fn time(ctx: &mut Ctx) {
    let us = crate::util::now_us();
    ctx.out.array_len(2);
    ctx.out.bulk_int((us / 1_000_000) as i64);
    ctx.out.bulk_int((us % 1_000_000) as i64);
}

pub fn lastsave(ctx: &mut Ctx) {
    let t = if ctx.st.persist.last_save_ms == 0 {
        ctx.st.stats.start_ms
    } else {
        ctx.st.persist.last_save_ms
    };
    ctx.out.int((t / 1000) as i64);
}

/// SAVE: the engine writes the snapshot (blocking, as in Redis) and the reply.
pub fn save(ctx: &mut Ctx) {
    ctx.request_persist(super::PersistRequest::Save);
}

pub fn bgsave(ctx: &mut Ctx) {
    let schedule = match ctx.args.len() {
        1 => false,
        2 if ctx.args[1].eq_ignore_ascii_case(b"SCHEDULE") => true,
        _ => return ctx.error(SYNTAX),
    };
    ctx.request_persist(super::PersistRequest::Bgsave { schedule });
}

pub fn bgrewriteaof(ctx: &mut Ctx) {
    ctx.request_persist(super::PersistRequest::Rewrite);
}

pub fn shutdown(ctx: &mut Ctx) {
    let mut mode = Shutdown::Default;
    for a in &ctx.args[1..] {
        match a.to_ascii_uppercase().as_slice() {
            b"NOSAVE" => mode = Shutdown::NoSave,
            b"SAVE" => mode = Shutdown::Save,
            b"NOW" | b"FORCE" => {}
            b"ABORT" => return ctx.error("ERR No shutdown in progress."),
            _ => return ctx.error(SYNTAX),
        }
    }
    // No reply: the server closes every connection as it exits, as Redis does.
    ctx.st.shutdown = Some(mode);
}

fn human_bytes(n: u64) -> String {
    let units = ["B", "K", "M", "G", "T"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < units.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n}B")
    } else {
        format!("{v:.2}{}", units[u])
    }
}

/// Resident set size of this process, from /proc (0 where unavailable).
pub fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<u64>().ok())
        })
        .map_or(0, |pages| pages * 4096)
}

/// INFO `used_memory`: the bytes allocated, counted by the allocator the server binary
/// installs (`util::CountingAlloc`), as Redis counts them; without it (in-process
/// tests), an estimate: the dataset plus per-client bookkeeping.
pub fn used_memory(st: &super::State) -> u64 {
    match crate::util::ALLOCATED.load(std::sync::atomic::Ordering::Relaxed) {
        0 => st.ks.mem_size() as u64 + clients_memory(st) + 1024 * 1024,
        n => n as u64,
    }
}

/// Per-client bookkeeping plus the pub/sub output waiting for clients (INFO
/// `mem_clients_normal`, part of `used_memory`).
pub fn clients_memory(st: &super::State) -> u64 {
    (st.clients.by_id.len() * 1024) as u64 + st.pubsub.pending_bytes()
}

pub fn info_text(ctx: &Ctx, sections: &[String]) -> String {
    let st = &*ctx.st;
    let all = sections.is_empty()
        || sections
            .iter()
            .any(|s| matches!(s.as_str(), "all" | "everything" | "default"));
    let want = |s: &str| all || sections.iter().any(|x| x == s);
    let mut o = String::new();
    let now = ctx.now;
    if want("server") {
        let uptime = now.saturating_sub(st.stats.start_ms) / 1000;
        let _ = write!(
            o,
            "# Server\r\nredis_version:{REDIS_COMPAT_VERSION}\r\nstrata_version:{}\r\nredis_mode:standalone\r\nos:{} {}\r\narch_bits:64\r\nmultiplexing_api:epoll\r\nprocess_id:{}\r\nrun_id:{}\r\ntcp_port:{}\r\nserver_time_usec:{}\r\nuptime_in_seconds:{uptime}\r\nuptime_in_days:{}\r\nhz:{}\r\nexecutable:strata-server\r\nconfig_file:{}\r\n\r\n",
            env!("CARGO_PKG_VERSION"),
            std::env::consts::OS,
            std::env::consts::ARCH,
            std::process::id(),
            st.run_id,
            st.config.port,
            crate::util::now_us(),
            uptime / 86400,
            st.config.hz,
            st.config
                .config_file
                .as_ref()
                .map_or(String::new(), |p| p.display().to_string()),
        );
    }
    if want("clients") {
        let _ = write!(
            o,
            "# Clients\r\nconnected_clients:{}\r\ncluster_connections:0\r\nmaxclients:{}\r\nblocked_clients:{}\r\ntracking_clients:{}\r\n\r\n",
            st.connected_clients,
            st.config.maxclients,
            st.blocking.blocked_clients(),
            st.tracking.clients()
        );
    }
    if want("memory") {
        /// The allocator strata-server is built with (see the `jemalloc` feature).
        const MEM_ALLOCATOR: &str = if cfg!(feature = "jemalloc") {
            "jemalloc-5.3.0"
        } else {
            "libc"
        };
        let used = used_memory(st);
        let rss = rss_bytes();
        let peak = st.stats.used_memory_peak.max(used);
        // Scripts' interpreter and cache, then functions' (Redis 7.0's fields).
        let lua = st.scripts.vm_bytes();
        let fvm = st.functions.vm_bytes();
        let fcode = st.functions.code_bytes();
        let _ = write!(
            o,
            "# Memory\r\nused_memory:{used}\r\nused_memory_human:{}\r\nused_memory_rss:{rss}\r\nused_memory_rss_human:{}\r\nused_memory_peak:{peak}\r\nused_memory_peak_human:{}\r\nused_memory_peak_perc:{:.2}%\r\nused_memory_startup:{}\r\nused_memory_dataset:{}\r\nmaxmemory:{}\r\nmaxmemory_human:{}\r\nmaxmemory_policy:{}\r\nmem_fragmentation_ratio:{:.2}\r\nmem_clients_normal:{}\r\nused_memory_lua:{lua}\r\nused_memory_vm_eval:{lua}\r\nused_memory_lua_human:{}\r\nused_memory_scripts_eval:{}\r\nnumber_of_cached_scripts:{}\r\nnumber_of_functions:{}\r\nnumber_of_libraries:{}\r\nused_memory_vm_functions:{fvm}\r\nused_memory_vm_total:{}\r\nused_memory_vm_total_human:{}\r\nused_memory_functions:{fcode}\r\nused_memory_scripts:{}\r\nused_memory_scripts_human:{}\r\nmem_allocator:{}\r\nlazyfree_pending_objects:{}\r\nlazyfreed_objects:{}\r\n\r\n",
            human_bytes(used),
            human_bytes(rss),
            human_bytes(peak),
            if peak > 0 { used as f64 * 100.0 / peak as f64 } else { 0.0 },
            st.stats.used_memory_startup,
            st.ks.mem_size(),
            st.config.maxmemory,
            human_bytes(st.config.maxmemory),
            st.config.maxmemory_policy,
            if used > 0 { rss as f64 / used as f64 } else { 0.0 },
            clients_memory(st),
            human_bytes(lua as u64),
            st.scripts.body_bytes(),
            st.scripts.count(),
            st.functions.function_count(),
            st.functions.library_count(),
            lua + fvm,
            human_bytes((lua + fvm) as u64),
            st.scripts.body_bytes() + fcode,
            human_bytes((st.scripts.body_bytes() + fcode) as u64),
            MEM_ALLOCATOR,
            crate::keyspace::lazyfree::pending(),
            crate::keyspace::lazyfree::freed(),
        );
    }
    if want("persistence") {
        let p = &st.persist;
        let okerr = |ok: bool| if ok { "ok" } else { "err" };
        let _ = write!(
            o,
            "# Persistence\r\nloading:{}\r\nasync_loading:0\r\nrdb_changes_since_last_save:{}\r\nrdb_bgsave_in_progress:{}\r\nrdb_last_save_time:{}\r\nrdb_last_bgsave_status:{}\r\nrdb_last_bgsave_time_sec:{}\r\nrdb_current_bgsave_time_sec:{}\r\nrdb_last_cow_size:{}\r\naof_enabled:{}\r\naof_rewrite_in_progress:{}\r\naof_rewrite_scheduled:{}\r\naof_last_rewrite_time_sec:{}\r\naof_current_rewrite_time_sec:{}\r\naof_last_bgrewrite_status:{}\r\naof_last_write_status:{}\r\naof_last_cow_size:{}\r\naof_current_size:{}\r\naof_base_size:{}\r\naof_delayed_fsync:{}\r\n",
            p.loading as u8,
            st.dirty,
            p.rdb_bgsave_in_progress as u8,
            (if p.last_save_ms == 0 { st.stats.start_ms } else { p.last_save_ms }) / 1000,
            okerr(p.rdb_last_bgsave_ok),
            p.rdb_last_bgsave_time_sec,
            p.rdb_current_bgsave_time_sec,
            p.rdb_last_cow_size,
            st.config.appendonly as u8,
            p.aof_rewrite_in_progress as u8,
            p.aof_rewrite_scheduled as u8,
            p.aof_last_rewrite_time_sec,
            p.aof_current_rewrite_time_sec,
            okerr(p.aof_last_bgrewrite_ok),
            okerr(p.aof_last_write_ok),
            p.aof_last_cow_size,
            p.aof_current_size,
            p.aof_base_size,
            p.aof_delayed_fsync,
        );
        if !p.aof_last_write_ok && !p.aof_last_write_error.is_empty() {
            let _ = write!(o, "aof_last_write_error:{}\r\n", p.aof_last_write_error);
        }
        if p.loading {
            // As Redis: only while loading. Bytes are the files' sizes (see `engine::load`).
            let total = p.loading_total_bytes.max(1);
            let done = p.loading_loaded_bytes.min(total);
            let secs = crate::util::now_ms().saturating_sub(p.loading_start_ms) as f64 / 1000.0;
            let eta = if done > 0 {
                (secs * (total - done) as f64 / done as f64) as u64
            } else {
                1
            };
            let _ = write!(
                o,
                "loading_start_time:{}\r\nloading_total_bytes:{}\r\nloading_loaded_bytes:{}\r\nloading_loaded_perc:{:.2}\r\nloading_eta_seconds:{}\r\n",
                p.loading_start_ms / 1000,
                p.loading_total_bytes,
                p.loading_loaded_bytes,
                done as f64 * 100.0 / total as f64,
                eta,
            );
        }
        if !p.last_snapshot_error.is_empty() {
            let _ = write!(o, "last_snapshot_error:{}\r\n", p.last_snapshot_error);
        }
        o.push_str("\r\n");
    }
    if want("stats") {
        let s = &st.stats;
        let _ = write!(
            o,
            "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\ninstantaneous_ops_per_sec:{}\r\ntotal_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\ninstantaneous_input_kbps:{:.2}\r\ninstantaneous_output_kbps:{:.2}\r\nrejected_connections:{}\r\nexpired_keys:{}\r\nevicted_keys:{}\r\nkeyspace_hits:{}\r\nkeyspace_misses:{}\r\nlatest_fork_usec:0\r\ntotal_forks:0\r\npubsub_channels:{}\r\npubsub_patterns:{}\r\npubsubshard_channels:{}\r\nclient_output_buffer_limit_disconnections:{}\r\ntracking_total_keys:{}\r\ntracking_total_items:{}\r\ntracking_total_prefixes:{}\r\nunexpected_error_replies:0\r\ntotal_error_replies:{}\r\n\r\n",
            s.total_connections,
            s.total_commands,
            s.instant.rate(0).round() as u64,
            s.net_input_bytes,
            s.net_output_bytes,
            s.instant.rate(1) / 1024.0,
            s.instant.rate(2) / 1024.0,
            s.rejected_connections,
            s.expired_keys,
            s.evicted_keys,
            s.keyspace_hits,
            s.keyspace_misses,
            st.pubsub.channel_count(),
            st.pubsub.pattern_count(),
            st.pubsub.shard_count(),
            s.client_output_buffer_limit_disconnections,
            st.tracking.total_keys(),
            st.tracking.total_items(),
            st.tracking.total_prefixes(),
            s.calls.total_error_replies,
        );
    }
    if want("replication") {
        o.push_str(
            "# Replication\r\nrole:master\r\nconnected_slaves:0\r\nmaster_repl_offset:0\r\n\r\n",
        );
    }
    if want("cpu") {
        o.push_str("# CPU\r\n");
        if let Some((user, sys)) = cpu_times() {
            let _ = write!(o, "used_cpu_sys:{sys:.6}\r\nused_cpu_user:{user:.6}\r\n");
        }
        o.push_str("\r\n");
    }
    // Only asked for by name, or by "all"/"everything", as in Redis.
    if sections
        .iter()
        .any(|x| matches!(x.as_str(), "commandstats" | "all" | "everything"))
    {
        st.stats.calls.write_commandstats(&mut o);
    }
    if want("errorstats") {
        st.stats.calls.write_errorstats(&mut o);
    }
    if sections
        .iter()
        .any(|x| matches!(x.as_str(), "latencystats" | "all" | "everything"))
    {
        let percentiles = &st.config.latency_tracking_info_percentiles;
        st.stats.calls.write_latencystats(&mut o, percentiles);
    }
    if want("keyspace") {
        o.push_str("# Keyspace\r\n");
        for (i, db) in st.ks.dbs().iter().enumerate() {
            if !db.is_empty() {
                let _ = write!(
                    o,
                    "db{i}:keys={},expires={},avg_ttl=0\r\n",
                    db.len(),
                    db.expiring()
                );
            }
        }
        o.push_str("\r\n");
    }
    while o.ends_with("\r\n\r\n") {
        o.truncate(o.len() - 2);
    }
    o
}

/// (user, system) CPU seconds of this process.
fn cpu_times() -> Option<(f64, f64)> {
    let s = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime / 100.0, stime / 100.0))
}

pub fn info(ctx: &mut Ctx) {
    let sections: Vec<String> = ctx.args[1..]
        .iter()
        .map(|a| String::from_utf8_lossy(a).to_lowercase())
        .collect();
    let text = info_text(ctx, &sections);
    ctx.out.verbatim("txt", text.as_bytes());
}

pub fn config(ctx: &mut Ctx) {
    let sub = ctx.args[1].to_ascii_uppercase();
    match sub.as_slice() {
        b"GET" => {
            let mut pairs: Vec<(String, String)> = Vec::new();
            for p in &ctx.args[2..] {
                // A plain name (no glob characters) is looked up directly and echoed as
                // typed, as Redis does; a pattern matches the canonical names.
                let found: Vec<(String, String)> =
                    if p.iter().any(|c| matches!(c, b'*' | b'?' | b'[')) {
                        ctx.st
                            .config
                            .matching(p)
                            .into_iter()
                            .map(|(k, v)| (k.to_string(), v))
                            .collect()
                    } else {
                        let name = String::from_utf8_lossy(p).to_string();
                        ctx.st
                            .config
                            .get(&name)
                            .map(|v| (name, v))
                            .into_iter()
                            .collect()
                    };
                for (k, v) in found {
                    if !pairs.iter().any(|(x, _)| *x == k) {
                        pairs.push((k, v));
                    }
                }
            }
            ctx.out.map_len(pairs.len());
            for (k, v) in pairs {
                ctx.out.bulk(k.as_bytes());
                ctx.out.bulk(v.as_bytes());
            }
        }
        b"SET" if ctx.args.len() % 2 == 1 => ctx.error(SYNTAX),
        b"SET" => {
            // All or nothing: validate on a copy, then commit.
            let mut cfg = ctx.st.config.clone();
            let mut seen: Vec<&'static str> = Vec::new();
            for i in (2..ctx.args.len()).step_by(2) {
                let name = String::from_utf8_lossy(&ctx.args[i]).to_string();
                let value = String::from_utf8_lossy(&ctx.args[i + 1]).to_string();
                if let Some(p) = crate::config::find_param(&name) {
                    if seen.contains(&p.name) {
                        let msg = format!(
                            "ERR CONFIG SET failed (possibly related to argument '{name}') - duplicate parameter"
                        );
                        return ctx.error(&msg);
                    }
                    seen.push(p.name);
                }
                if let Err(e) = cfg.set_runtime(&name, &value) {
                    let msg = match e {
                        crate::config::ConfigError::Unknown(_) => format!(
                            "ERR Unknown option or number of arguments for CONFIG SET - '{name}'"
                        ),
                        crate::config::ConfigError::Immutable(_) => format!(
                            "ERR CONFIG SET failed (possibly related to argument '{name}') - can't set immutable config"
                        ),
                        crate::config::ConfigError::Invalid { reason, .. } => format!(
                            "ERR CONFIG SET failed (possibly related to argument '{name}') - {reason}"
                        ),
                        other => format!(
                            "ERR CONFIG SET failed (possibly related to argument '{name}') - {other}"
                        ),
                    };
                    return ctx.error(&msg);
                }
            }
            let log_switch = cfg.appendonly != ctx.st.config.appendonly;
            ctx.st.config = cfg;
            ctx.st.sync_keyspace_config();
            if seen.contains(&"requirepass") {
                // As Redis: requirepass replaces the default user's passwords.
                let pass = ctx.st.config.requirepass.clone();
                ctx.st.acl.sync_requirepass(pass.as_deref());
            }
            // The engine switches the log (commands never touch files) and, outside a
            // transaction, answers: an error if the log could not be switched on.
            let reply = !ctx.sess.in_exec();
            if log_switch {
                ctx.request_persist(super::PersistRequest::AppendOnly { reply });
            }
            if !log_switch || !reply {
                ctx.out.ok();
            }
        }
        b"RESETSTAT" if ctx.args.len() == 2 => {
            let start = ctx.st.stats.start_ms;
            ctx.st.stats = super::Stats {
                start_ms: start,
                ..Default::default()
            };
            ctx.st.persist.aof_delayed_fsync = 0;
            ctx.out.ok();
        }
        b"REWRITE" => ctx.request_persist(super::PersistRequest::RewriteConfig),
        b"HELP" if ctx.args.len() == 2 => {
            let lines = [
                "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "GET <pattern>",
                "    Return parameters matching the glob-like <pattern> and their values.",
                "SET <directive> <value>",
                "    Set the configuration <directive> to <value>.",
                "RESETSTAT",
                "    Reset statistics reported by the INFO command.",
                "HELP",
                "    Print this help.",
            ];
            ctx.help(&lines);
        }
        _ => unknown_subcommand(ctx),
    }
}

/// COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern]: every
/// command and documented subcommand (`container|sub`), as Redis 7 lists them.
fn command_list(ctx: &mut Ctx) {
    enum Filter {
        All,
        Nothing,
        Category(u32),
        Pattern(Bytes),
    }
    let filter = match ctx.args.len() {
        2 => Filter::All,
        5 if ctx.args[2].eq_ignore_ascii_case(b"FILTERBY") => {
            let arg = ctx.args[4].clone();
            match ctx.args[3].to_ascii_uppercase().as_slice() {
                // No modules here; an unknown category matches nothing, as in Redis.
                b"MODULE" => Filter::Nothing,
                b"ACLCAT" => std::str::from_utf8(&arg)
                    .ok()
                    .and_then(|c| super::acl::cat_bit(&c.to_ascii_lowercase()))
                    .map_or(Filter::Nothing, Filter::Category),
                b"PATTERN" => Filter::Pattern(arg),
                _ => return ctx.error("ERR syntax error"),
            }
        }
        _ => return ctx.error("ERR syntax error"),
    };
    let mut names: Vec<(String, u32)> = Vec::new();
    for s in COMMANDS {
        let cats = super::acl::categories(s);
        names.push((s.name.to_string(), cats));
        let prefix = format!("{}|", s.name);
        for d in super::docs::DOCS
            .iter()
            .filter(|d| d.name.starts_with(&prefix))
        {
            let sub = &d.name[prefix.len()..];
            let own = super::acl::SUBCOMMANDS
                .iter()
                .find(|(p, n, _)| *p == s.name && *n == sub)
                .map(|(_, _, c)| {
                    c.split_whitespace()
                        .filter_map(|w| super::acl::cat_bit(w.trim_start_matches('@')))
                        .fold(0u32, |acc, b| acc | b)
                });
            names.push((d.name.to_string(), own.unwrap_or(cats)));
        }
    }
    names.retain(|(n, cats)| match &filter {
        Filter::All => true,
        Filter::Nothing => false,
        Filter::Category(bit) => cats & bit != 0,
        Filter::Pattern(p) => crate::util::glob_match(p, n.as_bytes(), true),
    });
    ctx.out.array_len(names.len());
    for (n, _) in names {
        ctx.out.bulk(n.as_bytes());
    }
}

/// The fields of a COMMAND INFO entry up to its categories, then its tips and key specs
/// (the caller writes the subcommands, the entry's tenth field).
fn info_fields(
    out: &mut crate::protocol::ReplyBuf,
    name: &str,
    arity: i32,
    flags: &[&str],
    keys: (i32, i32, i32),
    categories: u32,
) {
    out.array_len(10);
    out.bulk(name.as_bytes());
    out.int(arity as i64);
    out.set_len(flags.len());
    for f in flags {
        out.simple(f);
    }
    out.int(keys.0 as i64);
    out.int(keys.1 as i64);
    out.int(keys.2 as i64);
    let cats = super::acl::category_names(categories);
    out.set_len(cats.len());
    for c in cats {
        out.simple(&c);
    }
    super::keyspecs::write_info(out, name);
}

fn command_info(ctx: &mut Ctx, s: &Spec) {
    let flags: Vec<&str> = s.redis_flags().collect();
    let cats = super::acl::categories(s);
    info_fields(
        ctx.out,
        s.name,
        s.arity,
        &flags,
        (s.first_key, s.last_key, s.step),
        cats,
    );
    let subs = super::acl::subcommands_with_categories(s);
    ctx.out.set_len(subs.len());
    for (full, cats) in subs {
        subcommand_info(ctx, s, full, cats);
    }
}

/// A subcommand's COMMAND INFO entry (`config|get`): its arity, flags and key range as
/// Redis 7.0 describes them, the categories of Strata's table.
fn subcommand_info(ctx: &mut Ctx, parent: &Spec, full: &str, cats: u32) {
    let sub = &full[parent.name.len() + 1..];
    let (arity, flags, first, last, step) = match super::keyspecs::subcommand(full) {
        Some(m) => (m.arity, m.flags, m.first, m.last, m.step),
        // (Later than Redis 7.0: no data but the arity the dispatcher checks.)
        None => {
            let arity = parent
                .subs
                .iter()
                .find(|(n, _)| *n == sub)
                .map_or(-2, |(_, a)| *a);
            (arity, &[][..], 0, 0, 0)
        }
    };
    info_fields(ctx.out, full, arity, flags, (first, last, step), cats);
    ctx.out.set_len(0); // subcommands
}

/// COMMAND INFO of `name`: a command, or `container|subcommand`.
fn command_info_by_name(ctx: &mut Ctx, name: &[u8]) {
    if let Some(s) = super::lookup(name) {
        return command_info(ctx, s);
    }
    let text = String::from_utf8_lossy(name).to_ascii_lowercase();
    let found = text.split_once('|').and_then(|(parent, _)| {
        let s = super::lookup(parent.as_bytes())?;
        let (full, cats) = super::acl::subcommands_with_categories(s)
            .into_iter()
            .find(|(full, _)| *full == text)?;
        Some((s, full, cats))
    });
    match found {
        Some((s, full, cats)) => subcommand_info(ctx, s, full, cats),
        // Redis 7.0 answers a nil bulk string for an unknown name.
        None => ctx.out.null(),
    }
}

fn command_docs(ctx: &mut Ctx, s: &Spec) {
    super::docs::write_command_docs(ctx.out, s);
}

pub fn command(ctx: &mut Ctx) {
    if ctx.args.len() == 1 {
        ctx.out.array_len(COMMANDS.len());
        for s in COMMANDS {
            command_info(ctx, s);
        }
        return;
    }
    let sub = ctx.args[1].to_ascii_uppercase();
    match sub.as_slice() {
        b"COUNT" => ctx.out.int(COMMANDS.len() as i64),
        b"LIST" => command_list(ctx),
        b"INFO" => {
            if ctx.args.len() == 2 {
                ctx.out.array_len(COMMANDS.len());
                for s in COMMANDS {
                    command_info(ctx, s);
                }
                return;
            }
            let names: Vec<Bytes> = ctx.args[2..].to_vec();
            ctx.out.array_len(names.len());
            for n in names {
                command_info_by_name(ctx, &n);
            }
        }
        b"DOCS" => {
            let specs: Vec<&Spec> = if ctx.args.len() == 2 {
                COMMANDS.iter().collect()
            } else {
                ctx.args[2..]
                    .iter()
                    .filter_map(|n| super::lookup(n))
                    .collect()
            };
            ctx.out.map_len(specs.len());
            for s in specs {
                command_docs(ctx, s);
            }
        }
        b"GETKEYS" | b"GETKEYSANDFLAGS" if ctx.args.len() >= 3 => {
            let with_flags = sub == b"GETKEYSANDFLAGS";
            let cmd = &ctx.args[2..];
            let Some(s) = super::lookup(&cmd[0]) else {
                return ctx.error("ERR Invalid command specified");
            };
            // Redis's order of checks: the command (and subcommand), whether it takes
            // keys, its arity, then the keys themselves.
            let sub_refusal = s.subcommand_refusal(cmd);
            if matches!(sub_refusal, Some((false, _))) {
                return ctx.error("ERR Invalid command specified");
            }
            if !super::keyspecs::has_keys(s, cmd) {
                return ctx.error("ERR The command has no key arguments");
            }
            if sub_refusal.is_some() || !s.arity_ok(cmd.len()) {
                return ctx.error("ERR Invalid number of arguments specified for command");
            }
            let keys = super::keyspecs::keys_with_flags(s, cmd).unwrap_or_default();
            if keys.is_empty() && !s.has_flag("no_mandatory_keys") {
                return ctx.error("ERR Invalid arguments specified for command");
            }
            ctx.out.array_len(keys.len());
            for (i, flags) in keys {
                if !with_flags {
                    ctx.out.bulk(&cmd[i]);
                    continue;
                }
                ctx.out.array_len(2);
                ctx.out.bulk(&cmd[i]);
                let names: Vec<&str> = super::keyspecs::flag_names(flags).collect();
                ctx.out.set_len(names.len());
                for n in names {
                    ctx.out.simple(n);
                }
            }
        }
        b"HELP" => {
            let lines = [
                "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "(no subcommand)",
                "    Return details about all commands.",
                "COUNT",
                "    Return the total number of commands in this server.",
                "LIST",
                "    Return a list of all commands in this server.",
                "INFO [<command-name> ...]",
                "    Return details about multiple commands.",
                "DOCS [<command-name> ...]",
                "    Return documentation details about multiple commands.",
                "GETKEYS <full-command>",
                "    Return the keys from a full command.",
                "GETKEYSANDFLAGS <full-command>",
                "    Return the keys and the access flags from a full command.",
                "HELP",
                "    Print this help.",
            ];
            ctx.help(&lines);
        }
        _ => unknown_subcommand(ctx),
    }
}

/// Whether `enable-debug-command` lets this session run DEBUG (replay always may).
pub(super) fn debug_allowed(st: &super::State, sess: &super::Session) -> bool {
    let allowed = match st.config.enable_debug_command.as_str() {
        "yes" => true,
        "local" => sess.local,
        _ => false,
    };
    allowed || st.replaying
}

pub fn debug(ctx: &mut Ctx) {
    if !debug_allowed(ctx.st, ctx.sess) {
        return ctx.error("ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.");
    }
    let sub = ctx.args[1].to_ascii_uppercase();
    match sub.as_slice() {
        b"SLEEP" if ctx.args.len() == 3 => {
            let secs = crate::util::parse_f64(&ctx.args[2]).unwrap_or(0.0);
            // Blocks the whole keyspace on purpose, as in Redis: it simulates a slow command.
            std::thread::sleep(std::time::Duration::from_secs_f64(secs.clamp(0.0, 3600.0)));
            ctx.out.ok();
        }
        b"SET-ACTIVE-EXPIRE" if ctx.args.len() == 3 => {
            // Redis reads the flag with atoi: anything but a non-zero number means off.
            let a = &ctx.args[2];
            let digits = a
                .strip_prefix(b"-")
                .or_else(|| a.strip_prefix(b"+"))
                .unwrap_or(a);
            ctx.st.active_expire = digits
                .iter()
                .take_while(|c| c.is_ascii_digit())
                .any(|&c| c != b'0');
            ctx.out.ok();
        }
        b"POPULATE" if (3..=5).contains(&ctx.args.len()) => populate(ctx),
        b"RELOAD" if ctx.args.len() == 2 => {
            ctx.request_persist(super::PersistRequest::Reload);
        }
        b"OBJECT" if ctx.args.len() == 3 => {
            let key = ctx.args[2].clone();
            let clock = *ctx.st.ks.clock();
            let Some(e) = ctx.lookup_quiet(&key) else {
                return ctx.error("ERR no such key");
            };
            let line = format!(
                "Value at:0x0 refcount:1 encoding:{} serializedlength:{} lru:{} lru_seconds_idle:{}",
                e.value.encoding(),
                e.value.heap_size(),
                e.access().unwrap_or(0),
                e.access().map_or(0, |f| clock.idle_ms(f) / 1000)
            );
            ctx.out.simple(&line);
        }
        b"HELP" if ctx.args.len() == 2 => {
            let lines = [
                "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "OBJECT <key>",
                "POPULATE <count> [<prefix>] [<size>]",
                "RELOAD",
                "SET-ACTIVE-EXPIRE <0|1>",
                "SLEEP <seconds>",
                "HELP",
            ];
            ctx.help(&lines);
        }
        _ => unknown_subcommand(ctx),
    }
}

/// DEBUG POPULATE count [prefix] [size]: create `prefix:N` keys holding `value:N`
/// (padded with zero bytes or cut to `size`), skipping keys that exist. Logged as itself:
/// it is deterministic given the keyspace it runs on.
fn populate(ctx: &mut Ctx) {
    const NOT_POSITIVE: &str = "ERR value is out of range, must be positive";
    let count = match crate::util::parse_i64_strict(&ctx.args[2]) {
        Some(n) if n >= 0 => n,
        _ => return ctx.error(NOT_POSITIVE),
    };
    let prefix = if ctx.args.len() >= 4 {
        ctx.args[3].clone()
    } else {
        Bytes::from_static(b"key")
    };
    let size = if ctx.args.len() == 5 {
        match crate::util::parse_i64_strict(&ctx.args[4]) {
            // Size 0 means "no size", as in Redis.
            Some(0) => None,
            Some(s) if s > 0 => Some(s as usize),
            _ => return ctx.error(NOT_POSITIVE),
        }
    } else {
        None
    };
    let db = ctx.sess.db;
    let mut key = Vec::with_capacity(prefix.len() + 21);
    for j in 0..count {
        key.clear();
        key.extend_from_slice(&prefix);
        key.push(b':');
        key.extend_from_slice(itoa::Buffer::new().format(j).as_bytes());
        if ctx.st.ks.db(db).peek(&key).is_some() {
            continue;
        }
        let mut val = format!("value:{j}").into_bytes();
        if let Some(s) = size {
            val.resize(s, 0);
        }
        ctx.st.ks.db_mut(db).insert(Entry::new(
            key.as_slice().into(),
            Value::from_bytes(&val),
            0,
        ));
        ctx.st.dirty += 1;
        ctx.notify(super::notify::class::NEW, "new", &key);
    }
    ctx.propagate_self();
    ctx.out.ok();
}
