//! MONITOR: a client that sends it receives, from then on, a line for every command the
//! server runs (`+1700000000.123456 [0 127.0.0.1:5000] "SET" "k" "v"`), as Redis 7.0
//! sends them: after the command ran (so `SELECT 3` shows db 3, and the commands of a
//! transaction come between MULTI and EXEC), administrative commands (`@admin`, such as
//! CONFIG and SLOWLOG) and refused ones left out, passwords shown as `(redacted)`.
//!
//! Lines travel through the monitoring client's [`Outbox`](super::Outbox), like pub/sub
//! messages; the monitoring client may still PING or INFO, but not touch keys. RESET
//! ends monitoring, as does disconnecting.

use bytes::Bytes;

use super::{flag, Ctx, Session, Spec, State};

/// MONITOR.
pub fn monitor(ctx: &mut Ctx) {
    // Redis refuses it inside a transaction (where the client may not block) at EXEC.
    if ctx.sess.blocking.deny {
        return ctx.error("ERR MONITOR isn't allowed for DENY BLOCKING client");
    }
    // Already monitoring: Redis ignores it, without a reply.
    if ctx.sess.monitor {
        return;
    }
    let outbox = ctx
        .sess
        .outbox
        .get_or_insert_with(|| std::sync::Arc::new(super::Outbox::detached()))
        .clone();
    ctx.st.monitors.insert(ctx.sess.id, outbox);
    ctx.sess.monitor = true;
    ctx.out.ok();
}

/// Stop monitoring (RESET, disconnect).
pub fn stop(st: &mut State, sess: &mut Session) {
    if std::mem::take(&mut sess.monitor) {
        st.monitors.remove(&sess.id);
    }
}

/// Whether a monitoring session may run `spec`: Redis treats it as a replica, which may
/// not read or write keys.
pub fn refusal(sess: &Session, spec: &Spec) -> Option<&'static str> {
    (sess.monitor && spec.has(flag::READONLY | flag::WRITE))
        .then_some("ERR Replica can't interact with the keyspace")
}

/// `@admin` commands and subcommands are not shown (Redis's ADMIN flag).
fn hidden(spec: &Spec, args: &[Bytes]) -> bool {
    match super::acl::subcommand_categories(spec, args) {
        Some(cats) => super::acl::cat_bit("admin").is_some_and(|admin| cats & admin != 0),
        None => spec.has(flag::ADMIN),
    }
}

/// Send the command `sess` just ran to every monitoring client. The EVAL family
/// (`skip_monitor`) is sent by the script runner instead, before the script's commands.
pub fn feed(st: &mut State, sess: &Session, spec: &Spec, args: &[Bytes]) {
    if st.monitors.is_empty() || hidden(spec, args) {
        return;
    }
    let addr = st
        .clients
        .by_id
        .get(&sess.id)
        .map_or("", |c| c.addr.as_str());
    send(st, sess.db, addr, spec, args);
}

/// Send a command a script ran, as Redis shows it: `[<db> lua]`.
pub fn feed_script(st: &mut State, db: usize, spec: &Spec, args: &[Bytes]) {
    if st.monitors.is_empty() || hidden(spec, args) {
        return;
    }
    send(st, db, "lua", spec, args);
}

fn send(st: &State, db: usize, addr: &str, spec: &Spec, args: &[Bytes]) {
    let micros = crate::util::now_us();
    let mut line = format!(
        "+{}.{:06} [{} {addr}]",
        micros / 1_000_000,
        micros % 1_000_000,
        db
    );
    for (i, a) in args.iter().enumerate() {
        line.push(' ');
        if super::slowlog::is_secret(spec, args, i) {
            line.push_str("\"(redacted)\"");
        } else {
            crate::util::quote(&mut line, a);
        }
    }
    line.push_str("\r\n");
    let line = Bytes::from(line);
    for outbox in st.monitors.values() {
        outbox.push(line.clone());
    }
}
