//! Keyspace notifications (`notify-keyspace-events`), as Redis publishes them: an event
//! of class `class` on `key` in db `db` goes to `__keyspace@<db>__:<key>` (message: the
//! event name) if `K` is on, then to `__keyevent@<db>__:<event>` (message: the key) if
//! `E` is on, provided the class's letter is on too.
//!
//! Commands call [`Ctx::notify`] right after each change, with Redis's event names and
//! in Redis's order (`new` when a key is created, then the command's own event, then
//! `del` when a value ends empty), so subscribers see the same stream as from Redis
//! 7.0. The messages leave with the rest of the batch's pub/sub output
//! ([`super::pubsub::Outgoing`]), held under `appendfsync always` until what they
//! announce is durable. With notifications off (the default) a call costs one test.

use super::{pubsub, Ctx, State};
pub use crate::config::events as class;

impl Ctx<'_> {
    /// Publish keyspace event `event` of `class` for `key` in the current db.
    #[inline]
    pub fn notify(&mut self, class: u32, event: &str, key: &[u8]) {
        notify(self.st, class, event, key, self.sess.db);
    }
}

/// [`Ctx::notify`] for a key of db `db`: active expiry, and COPY and MOVE into another db.
#[inline]
pub fn notify(st: &mut State, class: u32, event: &str, key: &[u8], db: usize) {
    if st.config.notify_keyspace_events & class != 0 {
        publish(st, event, key, db);
    }
}

#[cold]
fn publish(st: &mut State, event: &str, key: &[u8], db: usize) {
    let flags = st.config.notify_keyspace_events;
    if flags & class::KEYSPACE != 0 {
        let mut channel = format!("__keyspace@{db}__:").into_bytes();
        channel.extend_from_slice(key);
        pubsub::publish_message(st, None, &channel, event.as_bytes());
    }
    if flags & class::KEYEVENT != 0 {
        let channel = format!("__keyevent@{db}__:{event}");
        pubsub::publish_message(st, None, channel.as_bytes(), key);
    }
}
