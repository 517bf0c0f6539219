//! WAIT and WAITAOF: a client asks how far its writes have been carried.
//!
//! Strata has no replicas, so WAIT answers 0 at once and WAITAOF's replica count is 0.
//! WAITAOF's local part is real: `WAITAOF 1 0 timeout` blocks until every write logged
//! so far (this client's included) is on stable storage, and answers `[1, 0]`, or `[0, 0]`
//! if the timeout passed or the log failed first. Unlike Redis, which waits for the next
//! fsync its policy makes (never, under `appendfsync no`), Strata asks the fsync thread
//! for one at once: under `everysec` or `no` WAITAOF is the way to make chosen writes
//! durable now. The handler only records the request ([`AofWait`]); the engine turns it
//! into an LSN after logging the batch, and the connection waits for that LSN.

use super::Ctx;

/// A WAITAOF waiting for the log (set on the session by the handler).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AofWait {
    /// Wait at most this long (ms; 0: no limit).
    pub timeout_ms: u64,
}

/// A timeout in milliseconds, as Redis's getTimeoutFromObjectOrReply reads one.
fn timeout_arg_ms(ctx: &mut Ctx, i: usize) -> Option<u64> {
    let Some(ms) = crate::util::parse_i64_strict(&ctx.args[i]) else {
        ctx.error("ERR timeout is not an integer or out of range");
        return None;
    };
    if ms < 0 {
        ctx.error("ERR timeout is negative");
        return None;
    }
    if ms > 0 && ms > i64::MAX - ctx.now as i64 {
        ctx.error("ERR timeout is out of range");
        return None;
    }
    Some(ms as u64)
}

fn positive_arg(ctx: &mut Ctx, i: usize) -> Option<i64> {
    let v = ctx.int_arg(i)?;
    if v < 0 {
        ctx.error("ERR value is out of range, must be positive");
        return None;
    }
    Some(v)
}

/// WAIT numreplicas timeout.
pub fn wait(ctx: &mut Ctx) {
    if ctx.int_arg(1).is_none() || timeout_arg_ms(ctx, 2).is_none() {
        return;
    }
    ctx.out.int(0);
}

/// WAITAOF numlocal numreplicas timeout.
pub fn waitaof(ctx: &mut Ctx) {
    let Some(numlocal) = positive_arg(ctx, 1) else {
        return;
    };
    if positive_arg(ctx, 2).is_none() {
        return;
    }
    let Some(timeout_ms) = timeout_arg_ms(ctx, 3) else {
        return;
    };
    let Some(durable_lsn) = ctx.st.durable_lsn.clone() else {
        if numlocal > 0 {
            return ctx.error(
                "ERR WAITAOF cannot be used when numlocal is set but appendonly is disabled.",
            );
        }
        return reply(ctx, false);
    };
    let logged_is_durable = durable_lsn() >= ctx.st.pending.last_lsn;
    // Inside a transaction it may not block: it answers for what was logged before the
    // transaction, as Redis does (the transaction's own writes are not logged yet).
    if ctx.sess.in_exec() {
        return reply(ctx, logged_is_durable);
    }
    // Writes earlier in this batch are logged once the batch ends.
    let durable = logged_is_durable && ctx.st.effects.is_empty();
    if numlocal == 0 || durable {
        return reply(ctx, durable);
    }
    ctx.sess.aof_wait = Some(AofWait { timeout_ms });
}

fn reply(ctx: &mut Ctx, durable: bool) {
    ctx.out.array_len(2);
    ctx.out.int(durable as i64);
    ctx.out.int(0);
}

/// The reply of a WAITAOF that waited: whether the log became durable in time.
pub fn waited_reply(durable: bool) -> &'static [u8] {
    if durable {
        b"*2\r\n:1\r\n:0\r\n"
    } else {
        b"*2\r\n:0\r\n:0\r\n"
    }
}
