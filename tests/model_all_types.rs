//! Guards every data type against a simple model, and durability across them: random
//! command sequences over strings, lists, hashes, sets and sorted sets leave Strata in the
//! model's state, and the same state comes back after a restart (log replay), after a log
//! rewrite (base snapshot + log) and from a BGSAVE snapshot.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use bytes::Bytes;
use proptest::prelude::*;
use strata::command::Session;
use strata::config::{Config, FsyncPolicy};
use strata::engine::{Engine, OpenOptions};
use strata::keyspace::Value;
use strata::persistence::snapshot::{load_snapshot, SnapshotLimits};
use strata::persistence::{RealFs, Vfs};
use strata::protocol::ReplyBuf;

#[derive(Debug, Clone, PartialEq)]
enum M {
    Str(Vec<u8>),
    List(VecDeque<Vec<u8>>),
    Hash(BTreeMap<Vec<u8>, Vec<u8>>),
    Set(BTreeSet<Vec<u8>>),
    ZSet(BTreeMap<Vec<u8>, i64>),
}

type Model = BTreeMap<Vec<u8>, M>;

#[derive(Debug, Clone)]
enum Op {
    Set(u8, u8),
    Del(u8),
    Incr(u8),
    LPush(u8, u8),
    RPush(u8, u8),
    LPop(u8),
    RPop(u8),
    HSet(u8, u8, u8),
    HDel(u8, u8),
    SAdd(u8, u8),
    SRem(u8, u8),
    ZAdd(u8, i8, u8),
    ZRem(u8, u8),
    ZIncrBy(u8, i8, u8),
}

fn key(k: u8) -> Vec<u8> {
    format!("k{}", k % 6).into_bytes()
}
fn item(x: u8) -> Vec<u8> {
    format!("m{}", x % 5).into_bytes()
}

fn args(op: &Op) -> Vec<Vec<u8>> {
    let s = |x: &str| x.as_bytes().to_vec();
    match op {
        Op::Set(k, v) => vec![s("SET"), key(*k), item(*v)],
        Op::Del(k) => vec![s("DEL"), key(*k)],
        Op::Incr(k) => vec![s("INCR"), key(*k)],
        Op::LPush(k, v) => vec![s("LPUSH"), key(*k), item(*v)],
        Op::RPush(k, v) => vec![s("RPUSH"), key(*k), item(*v)],
        Op::LPop(k) => vec![s("LPOP"), key(*k)],
        Op::RPop(k) => vec![s("RPOP"), key(*k)],
        Op::HSet(k, f, v) => vec![s("HSET"), key(*k), item(*f), item(*v)],
        Op::HDel(k, f) => vec![s("HDEL"), key(*k), item(*f)],
        Op::SAdd(k, m) => vec![s("SADD"), key(*k), item(*m)],
        Op::SRem(k, m) => vec![s("SREM"), key(*k), item(*m)],
        Op::ZAdd(k, sc, m) => vec![s("ZADD"), key(*k), sc.to_string().into_bytes(), item(*m)],
        Op::ZRem(k, m) => vec![s("ZREM"), key(*k), item(*m)],
        Op::ZIncrBy(k, by, m) => vec![s("ZINCRBY"), key(*k), by.to_string().into_bytes(), item(*m)],
    }
}

/// Apply to the model with Redis's rules: WRONGTYPE changes nothing, empty aggregates
/// disappear, SET replaces any type.
fn apply(m: &mut Model, op: &Op) {
    macro_rules! agg {
        ($k:expr, $variant:ident, $new:expr, |$v:ident| $body:expr) => {{
            let k = key($k);
            match m.get_mut(&k) {
                Some(M::$variant($v)) => {
                    $body;
                }
                Some(_) => return, // WRONGTYPE
                None => {
                    let mut fresh = $new;
                    {
                        let $v = &mut fresh;
                        $body;
                    }
                    m.insert(k.clone(), M::$variant(fresh));
                }
            }
            let empty = match m.get(&k) {
                Some(M::List(l)) => l.is_empty(),
                Some(M::Hash(h)) => h.is_empty(),
                Some(M::Set(s)) => s.is_empty(),
                Some(M::ZSet(z)) => z.is_empty(),
                _ => false,
            };
            if empty {
                m.remove(&k);
            }
        }};
    }
    match op {
        Op::Set(k, v) => {
            m.insert(key(*k), M::Str(item(*v)));
        }
        Op::Del(k) => {
            m.remove(&key(*k));
        }
        Op::Incr(k) => match m.get(&key(*k)) {
            None => {
                m.insert(key(*k), M::Str(b"1".to_vec()));
            }
            Some(M::Str(s)) => {
                if let Some(n) = std::str::from_utf8(s)
                    .ok()
                    .and_then(|s| s.parse::<i64>().ok())
                {
                    m.insert(key(*k), M::Str((n + 1).to_string().into_bytes()));
                }
            }
            Some(_) => {}
        },
        Op::LPush(k, v) => agg!(*k, List, VecDeque::new(), |l| l.push_front(item(*v))),
        Op::RPush(k, v) => agg!(*k, List, VecDeque::new(), |l| l.push_back(item(*v))),
        Op::LPop(k) => {
            if matches!(m.get(&key(*k)), Some(M::List(_))) {
                agg!(*k, List, VecDeque::new(), |l| l.pop_front())
            }
        }
        Op::RPop(k) => {
            if matches!(m.get(&key(*k)), Some(M::List(_))) {
                agg!(*k, List, VecDeque::new(), |l| l.pop_back())
            }
        }
        Op::HSet(k, f, v) => agg!(*k, Hash, BTreeMap::new(), |h| h.insert(item(*f), item(*v))),
        Op::HDel(k, f) => {
            if matches!(m.get(&key(*k)), Some(M::Hash(_))) {
                agg!(*k, Hash, BTreeMap::new(), |h| h.remove(&item(*f)))
            }
        }
        Op::SAdd(k, x) => agg!(*k, Set, BTreeSet::new(), |s| s.insert(item(*x))),
        Op::SRem(k, x) => {
            if matches!(m.get(&key(*k)), Some(M::Set(_))) {
                agg!(*k, Set, BTreeSet::new(), |s| s.remove(&item(*x)))
            }
        }
        Op::ZAdd(k, sc, x) => agg!(*k, ZSet, BTreeMap::new(), |z| z
            .insert(item(*x), *sc as i64)),
        Op::ZRem(k, x) => {
            if matches!(m.get(&key(*k)), Some(M::ZSet(_))) {
                agg!(*k, ZSet, BTreeMap::new(), |z| z.remove(&item(*x)))
            }
        }
        Op::ZIncrBy(k, by, x) => agg!(*k, ZSet, BTreeMap::new(), |z| {
            *z.entry(item(*x)).or_insert(0) += *by as i64
        }),
    }
}

fn to_model(v: &Value) -> M {
    match v {
        Value::Str(_) | Value::Int(_) => M::Str(v.as_string().unwrap().into_owned()),
        Value::List(l) => M::List(l.iter().map(|e| e.to_vec()).collect()),
        Value::Hash(h) => M::Hash(h.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect()),
        Value::Set(s) => M::Set(s.iter().map(|e| e.to_vec()).collect()),
        Value::ZSet(z) => M::ZSet(z.iter().map(|(m, s)| (m.to_vec(), s as i64)).collect()),
    }
}

fn state(e: &Engine) -> Model {
    e.st.ks
        .db(0)
        .iter()
        .map(|en| (en.key.to_vec(), to_model(&en.value)))
        .collect()
}

fn open(dir: &std::path::Path) -> Engine {
    let cfg = Config {
        dir: dir.to_path_buf(),
        appendfsync: FsyncPolicy::No,
        save: String::new(),
        auto_aof_rewrite_percentage: 0,
        ..Config::default()
    };
    Engine::open_with(
        cfg,
        OpenOptions {
            prealloc_chunk: 1 << 16,
            ..OpenOptions::default()
        },
    )
    .unwrap()
}

fn run(e: &mut Engine, s: &mut Session, a: Vec<Vec<u8>>) {
    let mut cmds = vec![a.into_iter().map(Bytes::from).collect()];
    let mut out = ReplyBuf::new(false);
    let o = e.execute_batch(s, &mut cmds, &mut out);
    assert!(o.log_failed.is_none());
}

fn op() -> impl Strategy<Value = Op> {
    let b = any::<u8>;
    prop_oneof![
        (b(), b()).prop_map(|(k, v)| Op::Set(k, v)),
        b().prop_map(Op::Del),
        b().prop_map(Op::Incr),
        (b(), b()).prop_map(|(k, v)| Op::LPush(k, v)),
        (b(), b()).prop_map(|(k, v)| Op::RPush(k, v)),
        b().prop_map(Op::LPop),
        b().prop_map(Op::RPop),
        (b(), b(), b()).prop_map(|(k, f, v)| Op::HSet(k, f, v)),
        (b(), b()).prop_map(|(k, f)| Op::HDel(k, f)),
        (b(), b()).prop_map(|(k, m)| Op::SAdd(k, m)),
        (b(), b()).prop_map(|(k, m)| Op::SRem(k, m)),
        (b(), any::<i8>(), b()).prop_map(|(k, s, m)| Op::ZAdd(k, s, m)),
        (b(), b()).prop_map(|(k, m)| Op::ZRem(k, m)),
        (b(), any::<i8>(), b()).prop_map(|(k, s, m)| Op::ZIncrBy(k, s, m)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn all_types_match_the_model_live_after_replay_rewrite_and_snapshot(
        first in prop::collection::vec(op(), 1..120),
        second in prop::collection::vec(op(), 0..60),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut model = Model::new();
        let mut e = open(dir.path());
        let mut s = Session::new(1, true);
        for o in &first {
            run(&mut e, &mut s, args(o));
            apply(&mut model, o);
        }
        prop_assert_eq!(&state(&e), &model, "live state after {:?}", first);

        // Restart: the log alone.
        e.close().unwrap();
        drop(e);
        let mut e = open(dir.path());
        prop_assert_eq!(&state(&e), &model, "after log replay");

        // Rewrite (base snapshot + new log) with writes during and after it, then restart.
        run(&mut e, &mut s, vec![b"BGREWRITEAOF".to_vec()]);
        for (i, o) in second.iter().enumerate() {
            run(&mut e, &mut s, args(o));
            apply(&mut model, o);
            if i % 7 == 0 {
                e.snapshot_pump(2);
            }
        }
        e.finish_snapshot();
        prop_assert!(e.st.persist.aof_last_bgrewrite_ok, "{}", e.st.persist.last_snapshot_error);
        prop_assert_eq!(&state(&e), &model, "live state after the rewrite");
        let at_bgsave = model.clone();
        run(&mut e, &mut s, vec![b"BGSAVE".to_vec()]);
        e.finish_snapshot();
        e.close().unwrap();
        drop(e);
        let e = open(dir.path());
        prop_assert_eq!(&state(&e), &model, "after restart from base + log");

        // The BGSAVE snapshot on its own.
        let mut from_dump = Model::new();
        let vfs: Arc<dyn Vfs> = Arc::new(RealFs);
        load_snapshot(&*vfs, &dir.path().join("dump.rdb"), SnapshotLimits::default(), 2, |_, en| {
            from_dump.insert(en.key.to_vec(), to_model(&en.value));
            Ok::<(), String>(())
        }).unwrap();
        prop_assert_eq!(&from_dump, &at_bgsave, "BGSAVE snapshot");
    }
}
