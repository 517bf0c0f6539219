//! MULTI/EXEC/DISCARD and optimistic locking with WATCH.
//!
//! A transaction's effects are bracketed by MULTI/EXEC effects so that the log can write
//! them as one atomic unit: recovery applies all of a transaction or none of it.

use bytes::Bytes;

use super::{dispatch_queued, Ctx, Effect, State};

pub fn multi(ctx: &mut Ctx) {
    if ctx.sess.multi.is_some() {
        return ctx.error("ERR MULTI calls can not be nested");
    }
    ctx.sess.multi = Some(Vec::new());
    ctx.sess.multi_error = false;
    ctx.out.ok();
}

pub fn discard(ctx: &mut Ctx) {
    if ctx.sess.multi.take().is_none() {
        return ctx.error("ERR DISCARD without MULTI");
    }
    ctx.sess.multi_error = false;
    ctx.st.unwatch_all(ctx.sess);
    ctx.out.ok();
}

pub fn exec(ctx: &mut Ctx) {
    let Some(queued) = ctx.sess.multi.take() else {
        return ctx.error("ERR EXEC without MULTI");
    };
    let aborted = std::mem::take(&mut ctx.sess.multi_error);
    let conflict = ctx.st.dirty_watchers.contains(&ctx.sess.id) || watched_key_expired(ctx);
    ctx.st.unwatch_all(ctx.sess);
    if aborted {
        return ctx.error("EXECABORT Transaction discarded because of previous errors.");
    }
    if conflict {
        return ctx.out.null_array();
    }
    let first_effect = ctx.st.effects.len();
    ctx.out.array_len(queued.len());
    // Blocking commands inside a transaction act as if their timeout had expired.
    ctx.sess.blocking.deny = true;
    for args in queued {
        dispatch_queued(ctx.st, ctx.sess, args, ctx.out, ctx.now);
    }
    ctx.sess.blocking.deny = false;
    bracket(ctx.st, first_effect);
}

/// Bracket the effects from `first` on with MULTI/EXEC when there are several, so the
/// log keeps them as one unit (a transaction's, a script's).
pub(crate) fn bracket(st: &mut State, first: usize) {
    let n = st.effects.len() - first;
    if n > 1 {
        let db = st.effects[first].db;
        st.effects.insert(
            first,
            Effect {
                db,
                args: vec![Bytes::from_static(b"MULTI")],
            },
        );
        st.effects.push(Effect {
            db,
            args: vec![Bytes::from_static(b"EXEC")],
        });
    }
}

/// As in Redis, a watched key that expired after the WATCH counts as changed even if
/// nothing has reclaimed it yet (active expiry may be slow or off).
fn watched_key_expired(ctx: &Ctx) -> bool {
    !ctx.st.replaying
        && ctx.sess.watched.iter().any(|(db, key)| {
            ctx.st
                .ks
                .db(*db)
                .get(key)
                .is_some_and(|e| e.expire_at() != 0 && e.expire_at() <= ctx.now)
        })
}

pub fn watch(ctx: &mut Ctx) {
    if ctx.sess.multi.is_some() {
        return ctx.error("ERR WATCH inside MULTI is not allowed");
    }
    let db = ctx.sess.db;
    for i in 1..ctx.args.len() {
        // Reclaim a key that has already expired, so that one found expired at EXEC
        // expired after the WATCH (see `watched_key_expired`).
        let key = ctx.args[i].clone();
        ctx.expire_if_needed(&key);
        let k = (db, Box::<[u8]>::from(ctx.args[i].as_ref()));
        if ctx.sess.watched.contains(&k) {
            continue;
        }
        ctx.st
            .watches
            .entry(k.clone())
            .or_default()
            .push(ctx.sess.id);
        ctx.sess.watched.push(k);
    }
    ctx.out.ok();
}

pub fn unwatch(ctx: &mut Ctx) {
    ctx.st.unwatch_all(ctx.sess);
    ctx.out.ok();
}
