//! Guards fork-free snapshots: with serialize-before-mutate, what a snapshot collects is
//! exactly the keyspace at the instant it began, whatever writes, deletes, expiries,
//! segment splits, flushes and db swaps happen while it is being taken.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use proptest::prelude::*;
use strata::keyspace::{Entry, Keyspace, SegmentSink, Value};

type Image = BTreeMap<(usize, Vec<u8>), (Vec<u8>, u64)>;

#[derive(Default)]
struct Collect {
    got: Image,
    dup: usize,
}

impl SegmentSink for Collect {
    fn segment(&mut self, db: usize, entries: &mut dyn Iterator<Item = &Entry>) {
        for e in entries {
            let v = e.value.as_string().unwrap().into_owned();
            if self
                .got
                .insert((db, e.key.to_vec()), (v, e.expire_at))
                .is_some()
            {
                self.dup += 1;
            }
        }
    }
}

fn image(ks: &Keyspace) -> Image {
    let mut m = Image::new();
    for (db, t) in ks.dbs().iter().enumerate() {
        for e in t.iter() {
            m.insert(
                (db, e.key.to_vec()),
                (e.value.as_string().unwrap().into_owned(), e.expire_at),
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
    Flush(u8),
    Swap(u8, u8),
    Step(u16),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0..3u8, any::<u16>(), any::<u16>()).prop_map(|(d, k, v)| Op::Set(d, k, v)),
        3 => (0..3u8, any::<u16>()).prop_map(|(d, k)| Op::Del(d, k)),
        2 => (0..3u8, any::<u16>()).prop_map(|(d, k)| Op::Append(d, k)),
        1 => (0..3u8, any::<u16>(), 1..1000u64).prop_map(|(d, k, t)| Op::Expire(d, k, t)),
        1 => (0..3u8).prop_map(Op::Flush),
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
        Op::Flush(d) => ks.db_mut(*d as usize).clear(),
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
        ks.start_snapshot(sink.clone());
        for o in &during {
            apply(&mut ks, o);
        }
        while !ks.snapshot_step(500) {}
        prop_assert!(!ks.snapshot_active());
        let c = sink.lock().unwrap();
        prop_assert_eq!(c.dup, 0, "a key was serialized twice");
        prop_assert_eq!(&c.got, &expected);
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
    ks.start_snapshot(sink.clone());
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
    let c = sink.lock().unwrap();
    assert_eq!(c.dup, 0);
    assert_eq!(c.got, expected);
}
