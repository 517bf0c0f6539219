//! Guards fork-free snapshots: what a snapshot captures (segments as entry pointers, read
//! later or on another thread while the keyspace holds them copy-on-write) is exactly the
//! keyspace at the instant it began, whatever writes, deletes, expiries, segment splits,
//! flushes (lazy ones too) and db swaps happen while it is being taken, and until the hold
//! is released.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use proptest::prelude::*;
use strata::keyspace::{lazyfree, Held, Keyspace, SegmentSink, Value};

type Image = BTreeMap<(usize, Vec<u8>), (Vec<u8>, u64)>;

/// Keeps the captured pointers; they are read only at the end, after every change made
/// during the snapshot, so any entry changed or freed in place would show.
#[derive(Default)]
struct Collect {
    held: Vec<(usize, Held)>,
}

impl SegmentSink for Collect {
    fn segment(&mut self, db: usize, entries: Vec<Held>) -> u64 {
        self.held.extend(entries.into_iter().map(|h| (db, h)));
        self.held.len() as u64
    }
}

/// A progress counter that never moves: every captured entry stays held until release.
fn never() -> Arc<AtomicU64> {
    Arc::new(AtomicU64::new(0))
}

impl Collect {
    /// What was captured, and how many keys were captured twice. Call before the hold is
    /// released.
    fn image(&self) -> (Image, usize) {
        let mut got = Image::new();
        let mut dup = 0;
        for (db, h) in &self.held {
            // SAFETY: the tests call this before `release_hold`.
            let e = unsafe { h.entry() };
            let v = e.value.as_string().unwrap().into_owned();
            if got
                .insert((*db, e.key.to_vec()), (v, e.expire_at()))
                .is_some()
            {
                dup += 1;
            }
        }
        (got, dup)
    }
}

fn image(ks: &Keyspace) -> Image {
    let mut m = Image::new();
    for (db, t) in ks.dbs().iter().enumerate() {
        for e in t.iter() {
            m.insert(
                (db, e.key.to_vec()),
                (e.value.as_string().unwrap().into_owned(), e.expire_at()),
            );
        }
    }
    m
}

#[derive(Debug, Clone)]
enum Op {
    Set(u8, u16, u16),
    Del(u8, u16),
    Append(u8, u16),
    Expire(u8, u16, u64),
    /// Database, and whether lazily (FLUSHALL ASYNC).
    Flush(u8, bool),
    Swap(u8, u8),
    Step(u16),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0..3u8, any::<u16>(), any::<u16>()).prop_map(|(d, k, v)| Op::Set(d, k, v)),
        3 => (0..3u8, any::<u16>()).prop_map(|(d, k)| Op::Del(d, k)),
        2 => (0..3u8, any::<u16>()).prop_map(|(d, k)| Op::Append(d, k)),
        1 => (0..3u8, any::<u16>(), 1..1000u64).prop_map(|(d, k, t)| Op::Expire(d, k, t)),
        1 => (0..3u8, any::<bool>()).prop_map(|(d, lazy)| Op::Flush(d, lazy)),
        1 => (0..3u8, 0..3u8).prop_map(|(a, b)| Op::Swap(a, b)),
        4 => (1..3000u16).prop_map(Op::Step),
    ]
}

fn key(k: u16) -> Vec<u8> {
    format!("key:{}", k % 5000).into_bytes()
}

fn apply(ks: &mut Keyspace, op: &Op) {
    match op {
        Op::Set(d, k, v) => {
            ks.db_mut(*d as usize).upsert(
                &key(*k),
                Value::from_bytes(v.to_string().as_bytes()),
                Some(0),
            );
        }
        // Odd keys as UNLINK: the entry goes to the lazy-free thread.
        Op::Del(d, k) if k % 2 == 1 => {
            ks.db_mut(*d as usize)
                .delete_with(&key(*k), |e| lazyfree::free(e, 1));
        }
        Op::Del(d, k) => {
            ks.db_mut(*d as usize).remove(&key(*k));
        }
        Op::Append(d, k) => {
            ks.db_mut(*d as usize).update(&key(*k), |v| {
                let mut b = v.as_string().unwrap().into_owned();
                b.push(b'x');
                *v = Value::Str(b);
            });
        }
        Op::Expire(d, k, t) => {
            ks.db_mut(*d as usize).set_expire(&key(*k), *t);
        }
        Op::Flush(d, false) => ks.db_mut(*d as usize).clear(),
        Op::Flush(d, true) => {
            if let Some(old) = ks.db_mut(*d as usize).clear_detached() {
                let n = old.keys() as u64;
                lazyfree::free(old, n);
            }
        }
        Op::Swap(a, b) => ks.swap(*a as usize, *b as usize),
        Op::Step(n) => {
            ks.snapshot_step(*n as usize);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn snapshot_equals_the_keyspace_at_its_start(
        before in prop::collection::vec(op(), 0..4000),
        during in prop::collection::vec(op(), 0..3000),
    ) {
        let mut ks = Keyspace::new(3);
        for o in &before {
            if !matches!(o, Op::Step(_)) {
                apply(&mut ks, o);
            }
        }
        let expected = image(&ks);
        let sink = Arc::new(Mutex::new(Collect::default()));
        ks.start_snapshot(sink.clone(), never());
        for o in &during {
            apply(&mut ks, o);
        }
        while !ks.snapshot_step(500) {}
        prop_assert!(!ks.snapshot_active());
        // Changes after the capture finished must not reach the held entries either.
        for o in &before {
            apply(&mut ks, o);
        }
        let after = image(&ks);
        let (got, dup) = sink.lock().unwrap().image();
        drop(ks.release_hold());
        prop_assert_eq!(dup, 0, "a key was captured twice");
        prop_assert_eq!(&got, &expected);
        // The live keyspace is unaffected by the hold ending.
        prop_assert_eq!(image(&ks), after);
    }
}

#[test]
fn large_keyspace_splits_during_snapshot() {
    // Enough keys that many segments split while the snapshot is in progress.
    let mut ks = Keyspace::new(1);
    for i in 0..20_000u32 {
        ks.db_mut(0)
            .upsert(format!("a{i}").as_bytes(), Value::Int(i as i64), Some(0));
    }
    let expected = image(&ks);
    let sink = Arc::new(Mutex::new(Collect::default()));
    ks.start_snapshot(sink.clone(), never());
    for i in 0..60_000u32 {
        ks.db_mut(0)
            .upsert(format!("b{i}").as_bytes(), Value::Int(i as i64), Some(0));
        if i % 7 == 0 {
            ks.db_mut(0).remove(format!("a{}", i / 3).as_bytes());
        }
        if i % 1000 == 0 {
            ks.snapshot_step(100);
        }
    }
    while !ks.snapshot_step(1000) {}
    let (got, dup) = sink.lock().unwrap().image();
    drop(ks.release_hold());
    assert_eq!(dup, 0);
    assert_eq!(got, expected);
}

/// The writer-thread shape: a reader thread reads captured entries and publishes its
/// progress while this thread keeps changing them in every way a command can (in-place
/// updates, overwrites, deletes, expiry, renames, splits, flushes) and frees what the
/// reader is done with. The reader must see the start state.
#[test]
fn a_reader_thread_sees_the_start_state_while_writes_continue() {
    use std::sync::mpsc::{channel, Sender};
    struct Forward(Sender<(u64, usize, Vec<Held>)>, u64);
    impl SegmentSink for Forward {
        fn segment(&mut self, db: usize, entries: Vec<Held>) -> u64 {
            self.1 += 1;
            let _ = self.0.send((self.1, db, entries));
            self.1
        }
    }
    let mut ks = Keyspace::new(2);
    for i in 0..30_000u32 {
        let v = format!("v{i}-{}", "x".repeat((i % 40) as usize));
        ks.db_mut((i % 2) as usize).upsert(
            format!("k{i}").as_bytes(),
            Value::from_bytes(v.as_bytes()),
            Some(0),
        );
    }
    let expected = image(&ks);
    let (tx, rx) = channel::<(u64, usize, Vec<Held>)>();
    let progress = never();
    let progress2 = progress.clone();
    // The reader starts after the first round, so that round surely finds held entries.
    let (go, wait) = channel::<()>();
    let reader = std::thread::spawn(move || {
        let _ = wait.recv();
        let mut got = Image::new();
        for (seq, db, batch) in rx {
            for h in batch {
                // SAFETY: entries stay intact until `progress` reaches `seq` (stored only
                // after this batch is read) or the main thread has joined us.
                let e = unsafe { h.entry() };
                let v = e.value.as_string().unwrap().into_owned();
                got.insert((db, e.key.to_vec()), (v, e.expire_at()));
            }
            progress2.store(seq, Ordering::Release);
        }
        got
    });
    let sink = Arc::new(Mutex::new(Forward(tx, 0)));
    ks.start_snapshot(sink.clone(), progress.clone());
    let mut freed = 0;
    for round in 0..3u32 {
        if round == 1 {
            assert!(
                ks.held_bytes() > 0,
                "writes during the snapshot kept old entries"
            );
            go.send(()).unwrap();
        }
        for i in 0..30_000u32 {
            let db = ((i + round) % 2) as usize;
            let k = format!("k{i}");
            match (i + round) % 7 {
                0 => {
                    ks.db_mut(db).update(k.as_bytes(), |v| {
                        let mut b = v.as_string().unwrap().into_owned();
                        b.extend_from_slice(b"appended");
                        *v = Value::Str(b);
                    });
                }
                1 => {
                    ks.db_mut(db)
                        .upsert(k.as_bytes(), Value::Int(i as i64), None);
                }
                2 => {
                    ks.db_mut(db).delete(k.as_bytes());
                }
                3 => {
                    ks.db_mut(db).set_expire(k.as_bytes(), 1);
                }
                4 => {
                    if let Some(e) = ks.db_mut(db).remove(k.as_bytes()) {
                        ks.db_mut(db)
                            .upsert(format!("r{i}").as_bytes(), e.value, Some(0));
                    }
                }
                5 => {
                    ks.db_mut(db).upsert(
                        format!("new{round}-{i}").as_bytes(),
                        Value::Int(1),
                        Some(0),
                    );
                }
                _ => {
                    for s in 0..ks.db(db).segment_count() {
                        ks.db_mut(db)
                            .expire_segment(s, |e| e.expire_at() == 1, |_| {}, drop);
                    }
                }
            }
            if i % 500 == 0 {
                ks.snapshot_step(300);
                freed += ks.take_encoded().len();
            }
        }
    }
    while !ks.snapshot_step(1000) {}
    ks.db_mut(1).clear();
    drop(sink);
    let got = reader.join().unwrap();
    freed += ks.take_encoded().len();
    assert!(
        freed > 0,
        "entries the reader finished with are freed before the release"
    );
    drop(ks.release_hold());
    assert_eq!(ks.held_bytes(), 0);
    assert_eq!(got, expected);
}
