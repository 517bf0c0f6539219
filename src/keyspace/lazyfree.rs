//! Freeing big values and whole databases off the event loop (Redis's lazyfree): UNLINK,
//! FLUSHALL / FLUSHDB ASYNC and the `lazyfree-lazy-user-*` options unlink the data at
//! once and hand it here; one process-wide thread drops it. Dropping a hash of 2M fields
//! costs the loop ~45 ms, a database of 3M keys ~400 ms: every client would wait that
//! long behind one command.
//!
//! Counters (INFO `lazyfree_pending_objects`, `lazyfreed_objects`) count what the caller
//! says it handed over: one per value, or the keys of a database.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{channel, Sender};
use std::sync::OnceLock;

use super::{Entry, Value};

/// A value whose dropping frees more allocations than this goes to the thread; smaller
/// ones are cheaper to drop than to hand over (Redis's LAZYFREE_THRESHOLD).
pub const THRESHOLD: usize = 64;

static PENDING: AtomicU64 = AtomicU64::new(0);
static FREED: AtomicU64 = AtomicU64::new(0);

type Job = (Box<dyn Send>, u64);

/// The freeing thread's queue, started on first use; None if it could not be started.
fn queue() -> Option<&'static Sender<Job>> {
    static QUEUE: OnceLock<Option<Sender<Job>>> = OnceLock::new();
    QUEUE
        .get_or_init(|| {
            let (tx, rx) = channel::<Job>();
            std::thread::Builder::new()
                .name("strata-lazyfree".into())
                .spawn(move || {
                    for (garbage, objects) in rx {
                        drop(garbage);
                        PENDING.fetch_sub(objects, Relaxed);
                        FREED.fetch_add(objects, Relaxed);
                    }
                })
                .ok()
                .map(|_| tx)
        })
        .as_ref()
}

/// Drop `garbage` (`objects` values or keys) on the freeing thread; here if that thread
/// could not be started.
pub fn free<T: Send + 'static>(garbage: T, objects: u64) {
    PENDING.fetch_add(objects, Relaxed);
    let rejected = match queue() {
        Some(q) => q.send((Box::new(garbage), objects)).err().map(|e| e.0 .0),
        None => Some(Box::new(garbage) as Box<dyn Send>),
    };
    if let Some(g) = rejected {
        drop(g);
        PENDING.fetch_sub(objects, Relaxed);
        FREED.fetch_add(objects, Relaxed);
    }
}

/// Drop `garbage` here, or on the freeing thread when that frees more than
/// [`THRESHOLD`] allocations (`effort`).
fn drop_by_effort<T: Send + 'static>(garbage: T, effort: usize) {
    if effort > THRESHOLD {
        free(garbage, 1);
    } else {
        drop(garbage);
    }
}

/// Drop `e` here, or on the freeing thread when that frees many allocations.
pub fn drop_entry(e: Box<Entry>) {
    let effort = e.value.free_effort();
    drop_by_effort(e, effort);
}

/// What frees an unlinked entry: [`drop_entry`] when lazy freeing is on for that kind of
/// deletion, a plain drop otherwise.
pub fn dropper(lazy: bool) -> fn(Box<Entry>) {
    if lazy {
        drop_entry
    } else {
        drop
    }
}

/// [`drop_entry`] for a value replaced by a write (`lazyfree-lazy-server-del`).
pub fn drop_value(v: Value) {
    let effort = v.free_effort();
    drop_by_effort(v, effort);
}

/// Objects handed over and not dropped yet.
pub fn pending() -> u64 {
    PENDING.load(Relaxed)
}

/// Objects dropped by lazy freeing since the process started.
pub fn freed() -> u64 {
    FREED.load(Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    #[test]
    fn garbage_is_dropped_on_another_thread_and_counted() {
        struct Probe(Arc<std::sync::Mutex<Option<std::thread::ThreadId>>>);
        impl Drop for Probe {
            fn drop(&mut self) {
                *self.0.lock().unwrap() = Some(std::thread::current().id());
            }
        }
        let seen = Arc::new(std::sync::Mutex::new(None));
        let before = freed();
        free(Probe(seen.clone()), 3);
        let deadline = Instant::now() + Duration::from_secs(10);
        while seen.lock().unwrap().is_none() {
            assert!(Instant::now() < deadline, "never dropped");
            std::thread::sleep(Duration::from_millis(1));
        }
        let by = seen.lock().unwrap().unwrap();
        assert_ne!(by, std::thread::current().id());
        while freed() < before + 3 {
            assert!(Instant::now() < deadline, "not counted");
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}
