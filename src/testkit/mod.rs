//! A reference model of the keyspace for tests and fuzz targets (not part of the API).
//!
//! [`Op`] is a small command language over every data type (strings with expiry, keys,
//! lists, hashes, sets, sorted sets, databases, MULTI/EXEC); [`Op::commands`] turns an op
//! into the commands Strata executes and [`Model::apply`] applies it to plain `std`
//! collections with Redis's rules. [`Model::check`] compares a keyspace with the model.
//! `tests/model_all_types.rs`, `tests/crash_recovery.rs` and the `commands` fuzz target
//! share it, so there is one model to keep right.
//!
//! Keys, members and values come from tiny alphabets (6 keys, 5 members) so commands
//! collide often; relative TTLs are at least 1,000 s so nothing expires during a run.

mod any_command;

pub use crate::command::scripting::check_libs;
pub use any_command::{check_replay, check_script, live_entries, AnyCommands};

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use bytes::Bytes;

use crate::keyspace::{Keyspace, Value};

/// Databases the ops use (SELECT, MOVE, SWAPDB pick among these).
pub const DBS: usize = 3;

/// One model value.
#[derive(Debug, Clone, PartialEq)]
pub enum M {
    Str(Vec<u8>),
    List(VecDeque<Vec<u8>>),
    Hash(BTreeMap<Vec<u8>, Vec<u8>>),
    Set(BTreeSet<Vec<u8>>),
    ZSet(BTreeMap<Vec<u8>, i64>),
    /// A stream, as its snapshot bytes (exact; the models never generate streams).
    Stream(Vec<u8>),
}

/// A model key: its value and its expiry as a closed interval of Unix ms (`(0, 0)`: none).
/// Relative TTLs are only known to lie between `now` before and after the command ran.
#[derive(Debug, Clone, PartialEq)]
pub struct Slot {
    pub value: M,
    pub expire: (u64, u64),
}

/// How a SET sets the expiry.
#[derive(Debug, Clone, Copy)]
pub enum SetTtl {
    None,
    /// EX, in seconds (1,000 or more).
    Ex(u16),
    /// PX, in ms (1,000,000 or more).
    Px(u16),
    KeepTtl,
}

/// One step of a test: a command (or MULTI ... EXEC) with arguments drawn from small
/// alphabets. Every `u8` is reduced with `key`, `item` or `val`.
#[derive(Debug, Clone)]
pub enum Op {
    Set(u8, u8, SetTtl, Option<bool>),
    Append(u8, u8),
    IncrBy(u8, i8),
    Del(u8),
    Expire(u16, u8),
    /// PEXPIREAT at an absolute time: in the past when the flag is set (deletes the key).
    PExpireAt(u8, u32, bool),
    Persist(u8),
    Rename(u8, u8),
    Select(u8),
    Move(u8, u8),
    SwapDb(u8, u8),
    FlushDb,
    FlushAll,
    LPush(u8, u8),
    RPush(u8, u8),
    LPop(u8),
    RPop(u8),
    LMove(u8, u8, bool, bool),
    LTrim(u8, i8, i8),
    HSet(u8, u8, u8),
    HDel(u8, u8),
    HIncrBy(u8, u8, i8),
    SAdd(u8, u8),
    SRem(u8, u8),
    SMove(u8, u8, u8),
    SUnionStore(u8, u8, u8),
    ZAdd(u8, i8, u8),
    ZRem(u8, u8),
    ZIncrBy(u8, i8, u8),
    ZRemRangeByScore(u8, i8, i8),
    /// ZMPOP 2 a b MIN|MAX (MAX when set) COUNT 1..=3.
    ZMPop(u8, u8, bool, u8),
    /// MULTI, the ops (none of them a `Multi`), then EXEC (or DISCARD when the flag is set).
    Multi(Vec<Op>, bool),
}

pub fn key(k: u8) -> Vec<u8> {
    format!("k{}", k % 6).into_bytes()
}

pub fn item(x: u8) -> Vec<u8> {
    format!("m{}", x % 5).into_bytes()
}

/// A value: mostly short words and small integers (so INCRBY and HINCRBY sometimes work),
/// now and then up to 508 bytes.
pub fn val(x: u8) -> Vec<u8> {
    match x % 8 {
        0..=3 => item(x),
        4..=6 => ((x as i64) / 8 - 16).to_string().into_bytes(),
        _ => vec![b'a' + x % 26; 2 * x as usize],
    }
}

fn db(d: u8) -> usize {
    d as usize % DBS
}

fn bs(s: impl AsRef<[u8]>) -> Bytes {
    Bytes::copy_from_slice(s.as_ref())
}

impl Op {
    /// The commands Strata runs for this op, in order (one batch).
    pub fn commands(&self) -> Vec<Vec<Bytes>> {
        if let Op::Multi(ops, discard) = self {
            let mut v = vec![vec![bs("MULTI")]];
            v.extend(ops.iter().flat_map(|o| o.commands()));
            v.push(vec![bs(if *discard { "DISCARD" } else { "EXEC" })]);
            return v;
        }
        vec![self.args().into_iter().map(bs).collect()]
    }

    fn args(&self) -> Vec<Vec<u8>> {
        let s = |x: &str| x.as_bytes().to_vec();
        let n = |x: i64| x.to_string().into_bytes();
        match *self {
            Op::Set(k, v, ttl, cond) => {
                let mut a = vec![s("SET"), key(k), val(v)];
                match ttl {
                    SetTtl::None => {}
                    SetTtl::Ex(t) => a.extend([s("EX"), n(1000 + t as i64)]),
                    SetTtl::Px(t) => a.extend([s("PX"), n(1_000_000 + t as i64)]),
                    SetTtl::KeepTtl => a.push(s("KEEPTTL")),
                }
                match cond {
                    Some(true) => a.push(s("NX")),
                    Some(false) => a.push(s("XX")),
                    None => {}
                }
                a
            }
            Op::Append(k, v) => vec![s("APPEND"), key(k), val(v)],
            Op::IncrBy(k, by) => vec![s("INCRBY"), key(k), n(by as i64)],
            Op::Del(k) => vec![s("DEL"), key(k), key(k >> 4)],
            Op::Expire(t, k) => vec![s("EXPIRE"), key(k), n(1000 + t as i64)],
            Op::PExpireAt(k, t, past) => vec![s("PEXPIREAT"), key(k), n(abs_time(t, past) as i64)],
            Op::Persist(k) => vec![s("PERSIST"), key(k)],
            Op::Rename(a, b) => vec![s("RENAME"), key(a), key(b)],
            Op::Select(d) => vec![s("SELECT"), n(db(d) as i64)],
            Op::Move(k, d) => vec![s("MOVE"), key(k), n(db(d) as i64)],
            Op::SwapDb(a, b) => vec![s("SWAPDB"), n(db(a) as i64), n(db(b) as i64)],
            Op::FlushDb => vec![s("FLUSHDB")],
            Op::FlushAll => vec![s("FLUSHALL")],
            Op::LPush(k, v) => vec![s("LPUSH"), key(k), val(v)],
            Op::RPush(k, v) => vec![s("RPUSH"), key(k), val(v)],
            Op::LPop(k) => vec![s("LPOP"), key(k)],
            Op::RPop(k) => vec![s("RPOP"), key(k)],
            Op::LMove(a, b, l, r) => {
                let side = |left: bool| s(if left { "LEFT" } else { "RIGHT" });
                vec![s("LMOVE"), key(a), key(b), side(l), side(r)]
            }
            Op::LTrim(k, a, b) => vec![s("LTRIM"), key(k), n(a as i64 / 16), n(b as i64 / 16)],
            Op::HSet(k, f, v) => vec![s("HSET"), key(k), item(f), val(v)],
            Op::HDel(k, f) => vec![s("HDEL"), key(k), item(f)],
            Op::HIncrBy(k, f, by) => vec![s("HINCRBY"), key(k), item(f), n(by as i64)],
            Op::SAdd(k, m) => vec![s("SADD"), key(k), item(m)],
            Op::SRem(k, m) => vec![s("SREM"), key(k), item(m)],
            Op::SMove(a, b, m) => vec![s("SMOVE"), key(a), key(b), item(m)],
            Op::SUnionStore(d, a, b) => vec![s("SUNIONSTORE"), key(d), key(a), key(b)],
            Op::ZAdd(k, sc, m) => vec![s("ZADD"), key(k), n(sc as i64), item(m)],
            Op::ZRem(k, m) => vec![s("ZREM"), key(k), item(m)],
            Op::ZIncrBy(k, by, m) => vec![s("ZINCRBY"), key(k), n(by as i64), item(m)],
            Op::ZRemRangeByScore(k, a, b) => {
                vec![s("ZREMRANGEBYSCORE"), key(k), n(a as i64), n(b as i64)]
            }
            Op::ZMPop(a, b, max, c) => vec![
                s("ZMPOP"),
                n(2),
                key(a),
                key(b),
                s(if max { "MAX" } else { "MIN" }),
                s("COUNT"),
                n(zmpop_count(c) as i64),
            ],
            Op::Multi(..) => unreachable!("handled by commands"),
        }
    }
}

/// Decodes ops from bytes, for fuzz targets (each input is a sequence of ops) and
/// property tests (random bytes): one generator for both. Past the end it reads zeros.
pub struct OpReader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> OpReader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        OpReader { data, pos: 0 }
    }

    pub fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    pub fn u8(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }

    fn i8(&mut self) -> i8 {
        self.u8() as i8
    }

    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    pub fn u64(&mut self) -> u64 {
        (self.u32() as u64) << 32 | self.u32() as u64
    }

    pub fn bool(&mut self) -> bool {
        self.u8() & 1 == 1
    }

    fn ttl(&mut self) -> SetTtl {
        match self.u8() % 6 {
            0 => SetTtl::Ex(self.u16()),
            1 => SetTtl::Px(self.u16()),
            2 => SetTtl::KeepTtl,
            _ => SetTtl::None,
        }
    }

    /// The next op: any command, or (one time in 32, never nested) a MULTI of up to 4.
    pub fn op(&mut self) -> Op {
        self.op_in(false)
    }

    fn op_in(&mut self, in_multi: bool) -> Op {
        let pick = self.u8() % if in_multi { 31 } else { 32 };
        match pick {
            0 => Op::Set(self.u8(), self.u8(), self.ttl(), {
                let c = self.u8() % 3;
                (c < 2).then_some(c == 0)
            }),
            1 => Op::Append(self.u8(), self.u8()),
            2 => Op::IncrBy(self.u8(), self.i8()),
            3 => Op::Del(self.u8()),
            4 => Op::Expire(self.u16(), self.u8()),
            5 => Op::PExpireAt(self.u8(), self.u32(), self.bool()),
            6 => Op::Persist(self.u8()),
            7 => Op::Rename(self.u8(), self.u8()),
            8 => Op::Select(self.u8()),
            9 => Op::Move(self.u8(), self.u8()),
            10 => Op::SwapDb(self.u8(), self.u8()),
            11 => Op::FlushDb,
            12 => Op::FlushAll,
            13 => Op::LPush(self.u8(), self.u8()),
            14 => Op::RPush(self.u8(), self.u8()),
            15 => Op::LPop(self.u8()),
            16 => Op::RPop(self.u8()),
            17 => Op::LMove(self.u8(), self.u8(), self.bool(), self.bool()),
            18 => Op::LTrim(self.u8(), self.i8(), self.i8()),
            19 => Op::HSet(self.u8(), self.u8(), self.u8()),
            20 => Op::HDel(self.u8(), self.u8()),
            21 => Op::HIncrBy(self.u8(), self.u8(), self.i8()),
            22 => Op::SAdd(self.u8(), self.u8()),
            23 => Op::SRem(self.u8(), self.u8()),
            24 => Op::SMove(self.u8(), self.u8(), self.u8()),
            25 => Op::SUnionStore(self.u8(), self.u8(), self.u8()),
            26 => Op::ZAdd(self.u8(), self.i8(), self.u8()),
            27 => Op::ZRem(self.u8(), self.u8()),
            28 => Op::ZIncrBy(self.u8(), self.i8(), self.u8()),
            29 => Op::ZRemRangeByScore(self.u8(), self.i8(), self.i8()),
            30 => Op::ZMPop(self.u8(), self.u8(), self.bool(), self.u8()),
            _ => {
                let n = self.u8() % 5;
                let ops = (0..n).map(|_| self.op_in(true)).collect();
                Op::Multi(ops, self.u8().is_multiple_of(8))
            }
        }
    }
}

/// ZMPOP's COUNT for an op's byte: 1 to 3.
fn zmpop_count(c: u8) -> usize {
    (c % 3) as usize + 1
}

/// The absolute time of a PEXPIREAT: 1970 plus up to 50 days, or 2100 plus up to 50 days.
fn abs_time(t: u32, past: bool) -> u64 {
    let t = t as u64 % (50 * 86_400_000);
    if past {
        1 + t
    } else {
        4_102_444_800_000 + t
    }
}

type Db = BTreeMap<Vec<u8>, Slot>;

/// The model: a few databases and the session's selected one.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    pub dbs: Vec<Db>,
    pub db: usize,
}

impl Default for Model {
    fn default() -> Self {
        Model {
            dbs: vec![Db::new(); DBS],
            db: 0,
        }
    }
}

fn is_empty(v: &M) -> bool {
    match v {
        M::Str(_) | M::Stream(_) => false,
        M::List(l) => l.is_empty(),
        M::Hash(h) => h.is_empty(),
        M::Set(s) => s.is_empty(),
        M::ZSet(z) => z.is_empty(),
    }
}

fn parse_int(v: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(v).ok()?;
    let n: i64 = s.parse().ok()?;
    // Redis's strict form: no sign on zero, no leading zeros, no '+'.
    (n.to_string() == s).then_some(n)
}

macro_rules! typed {
    ($slot:expr, $variant:ident) => {
        match $slot {
            Some(Slot {
                value: M::$variant(x),
                ..
            }) => Some(x),
            _ => None,
        }
    };
}

impl Model {
    /// The session is new (after a restart): database 0.
    pub fn reconnect(&mut self) {
        self.db = 0;
    }

    fn cur(&mut self) -> &mut Db {
        &mut self.dbs[self.db]
    }

    /// Whether `k` holds something other than `kind` (a WRONGTYPE error).
    fn wrong(&self, k: &[u8], kind: fn(&M) -> bool) -> bool {
        self.dbs[self.db].get(k).is_some_and(|s| !kind(&s.value))
    }

    /// Get the aggregate at `k`, creating it with `fresh` (None on WRONGTYPE).
    fn agg(&mut self, k: Vec<u8>, fresh: M) -> Option<&mut M> {
        let same = std::mem::discriminant(&fresh);
        let slot = self.cur().entry(k).or_insert(Slot {
            value: fresh,
            expire: (0, 0),
        });
        (std::mem::discriminant(&slot.value) == same).then_some(&mut slot.value)
    }

    /// Remove `k` if it is an empty aggregate (Redis never keeps empty ones).
    fn tidy(&mut self, k: &[u8]) {
        if self.cur().get(k).is_some_and(|s| is_empty(&s.value)) {
            self.cur().remove(k);
        }
    }

    /// Apply `op` as Strata would, given that it ran between Unix ms `lo` and `hi`.
    pub fn apply(&mut self, op: &Op, lo: u64, hi: u64) {
        let is_list = |m: &M| matches!(m, M::List(_));
        let is_set = |m: &M| matches!(m, M::Set(_));
        match op {
            Op::Multi(ops, discard) => {
                if !discard {
                    for o in ops {
                        self.apply(o, lo, hi);
                    }
                }
            }
            Op::Set(k, v, ttl, cond) => {
                let k = key(*k);
                let exists = self.cur().contains_key(&k);
                if (*cond == Some(true) && exists) || (*cond == Some(false) && !exists) {
                    return;
                }
                let expire = match ttl {
                    SetTtl::None => (0, 0),
                    SetTtl::Ex(t) => {
                        let ms = (1000 + *t as u64) * 1000;
                        (lo + ms, hi + ms)
                    }
                    SetTtl::Px(t) => {
                        let ms = 1_000_000 + *t as u64;
                        (lo + ms, hi + ms)
                    }
                    SetTtl::KeepTtl => self.cur().get(&k).map_or((0, 0), |s| s.expire),
                };
                self.cur().insert(
                    k,
                    Slot {
                        value: M::Str(val(*v)),
                        expire,
                    },
                );
            }
            Op::Append(k, v) => {
                if let Some(M::Str(s)) = self.agg(key(*k), M::Str(Vec::new())) {
                    s.extend(val(*v));
                }
            }
            Op::IncrBy(k, by) => {
                let k = key(*k);
                let cur = match self.cur().get(&k) {
                    None => Some(0),
                    Some(Slot {
                        value: M::Str(s), ..
                    }) => parse_int(s),
                    Some(_) => None,
                };
                if let Some(n) = cur.and_then(|n| n.checked_add(*by as i64)) {
                    if let Some(M::Str(s)) = self.agg(k, M::Str(Vec::new())) {
                        *s = n.to_string().into_bytes();
                    }
                }
            }
            Op::Del(k) => {
                self.cur().remove(&key(*k));
                self.cur().remove(&key(*k >> 4));
            }
            Op::Expire(t, k) => {
                let ms = (1000 + *t as u64) * 1000;
                if let Some(s) = self.cur().get_mut(&key(*k)) {
                    s.expire = (lo + ms, hi + ms);
                }
            }
            Op::PExpireAt(k, t, past) => {
                let k = key(*k);
                let at = abs_time(*t, *past);
                if *past {
                    self.cur().remove(&k);
                } else if let Some(s) = self.cur().get_mut(&k) {
                    s.expire = (at, at);
                }
            }
            Op::Persist(k) => {
                if let Some(s) = self.cur().get_mut(&key(*k)) {
                    s.expire = (0, 0);
                }
            }
            Op::Rename(a, b) => {
                if let Some(s) = self.cur().remove(&key(*a)) {
                    self.cur().insert(key(*b), s);
                }
            }
            Op::Select(d) => self.db = db(*d),
            Op::Move(k, d) => {
                let (k, d) = (key(*k), db(*d));
                if d != self.db && !self.dbs[d].contains_key(&k) {
                    if let Some(s) = self.cur().remove(&k) {
                        self.dbs[d].insert(k, s);
                    }
                }
            }
            Op::SwapDb(a, b) => self.dbs.swap(db(*a), db(*b)),
            Op::FlushDb => self.cur().clear(),
            Op::FlushAll => self.dbs.iter_mut().for_each(|d| d.clear()),
            Op::LPush(k, v) | Op::RPush(k, v) => {
                if let Some(M::List(l)) = self.agg(key(*k), M::List(VecDeque::new())) {
                    if matches!(op, Op::LPush(..)) {
                        l.push_front(val(*v));
                    } else {
                        l.push_back(val(*v));
                    }
                }
            }
            Op::LPop(k) | Op::RPop(k) => {
                let k = key(*k);
                if let Some(l) = typed!(self.cur().get_mut(&k), List) {
                    if matches!(op, Op::LPop(_)) {
                        l.pop_front();
                    } else {
                        l.pop_back();
                    }
                }
                self.tidy(&k);
            }
            Op::LMove(a, b, from_left, to_left) => {
                let (a, b) = (key(*a), key(*b));
                if self.wrong(&a, is_list) || self.wrong(&b, is_list) {
                    return;
                }
                let Some(l) = typed!(self.cur().get_mut(&a), List) else {
                    return;
                };
                let x = if *from_left {
                    l.pop_front()
                } else {
                    l.pop_back()
                };
                let x = x.expect("lists are never empty");
                if a == b {
                    // A rotation: the key never disappears (and keeps its TTL).
                    if *to_left {
                        l.push_front(x);
                    } else {
                        l.push_back(x);
                    }
                    return;
                }
                self.tidy(&a);
                if let Some(M::List(l)) = self.agg(b, M::List(VecDeque::new())) {
                    if *to_left {
                        l.push_front(x);
                    } else {
                        l.push_back(x);
                    }
                }
            }
            Op::LTrim(k, a, b) => {
                let k = key(*k);
                if let Some(l) = typed!(self.cur().get_mut(&k), List) {
                    // Redis's arithmetic: a negative end stays negative (an empty range).
                    let len = l.len() as i64;
                    let (mut start, mut end) = (*a as i64 / 16, *b as i64 / 16);
                    if start < 0 {
                        start = (len + start).max(0);
                    }
                    if end < 0 {
                        end += len;
                    }
                    let end = end.min(len - 1);
                    if start > end || start >= len {
                        l.clear();
                    } else {
                        l.truncate(end as usize + 1);
                        l.drain(..start as usize);
                    }
                }
                self.tidy(&k);
            }
            Op::HSet(k, f, v) => {
                if let Some(M::Hash(h)) = self.agg(key(*k), M::Hash(BTreeMap::new())) {
                    h.insert(item(*f), val(*v));
                }
            }
            Op::HDel(k, f) => {
                let k = key(*k);
                if let Some(h) = typed!(self.cur().get_mut(&k), Hash) {
                    h.remove(&item(*f));
                }
                self.tidy(&k);
            }
            Op::HIncrBy(k, f, by) => {
                let k = key(*k);
                if self.wrong(&k, |m| matches!(m, M::Hash(_))) {
                    return;
                }
                let old = typed!(self.cur().get(&k), Hash).and_then(|h| h.get(&item(*f)).cloned());
                let n = match old {
                    None => Some(0),
                    Some(v) => parse_int(&v),
                };
                if let Some(n) = n.and_then(|n| n.checked_add(*by as i64)) {
                    if let Some(M::Hash(h)) = self.agg(k, M::Hash(BTreeMap::new())) {
                        h.insert(item(*f), n.to_string().into_bytes());
                    }
                }
            }
            Op::SAdd(k, m) => {
                if let Some(M::Set(s)) = self.agg(key(*k), M::Set(BTreeSet::new())) {
                    s.insert(item(*m));
                }
            }
            Op::SRem(k, m) => {
                let k = key(*k);
                if let Some(s) = typed!(self.cur().get_mut(&k), Set) {
                    s.remove(&item(*m));
                }
                self.tidy(&k);
            }
            Op::SMove(a, b, m) => {
                let (a, b, m) = (key(*a), key(*b), item(*m));
                if a == b || self.wrong(&a, is_set) || self.wrong(&b, is_set) {
                    return;
                }
                let removed = typed!(self.cur().get_mut(&a), Set).is_some_and(|s| s.remove(&m));
                if removed {
                    self.tidy(&a);
                    if let Some(M::Set(s)) = self.agg(b, M::Set(BTreeSet::new())) {
                        s.insert(m);
                    }
                }
            }
            Op::SUnionStore(d, a, b) => {
                let (d, a, b) = (key(*d), key(*a), key(*b));
                if self.wrong(&a, is_set) || self.wrong(&b, is_set) {
                    return;
                }
                let mut u = BTreeSet::new();
                for k in [&a, &b] {
                    if let Some(s) = typed!(self.cur().get(k), Set) {
                        u.extend(s.iter().cloned());
                    }
                }
                if u.is_empty() {
                    self.cur().remove(&d);
                } else {
                    self.cur().insert(
                        d,
                        Slot {
                            value: M::Set(u),
                            expire: (0, 0),
                        },
                    );
                }
            }
            Op::ZAdd(k, sc, m) => {
                if let Some(M::ZSet(z)) = self.agg(key(*k), M::ZSet(BTreeMap::new())) {
                    z.insert(item(*m), *sc as i64);
                }
            }
            Op::ZRem(k, m) => {
                let k = key(*k);
                if let Some(z) = typed!(self.cur().get_mut(&k), ZSet) {
                    z.remove(&item(*m));
                }
                self.tidy(&k);
            }
            Op::ZIncrBy(k, by, m) => {
                if let Some(M::ZSet(z)) = self.agg(key(*k), M::ZSet(BTreeMap::new())) {
                    *z.entry(item(*m)).or_insert(0) += *by as i64;
                }
            }
            Op::ZRemRangeByScore(k, a, b) => {
                let k = key(*k);
                if let Some(z) = typed!(self.cur().get_mut(&k), ZSet) {
                    z.retain(|_, s| *s < *a as i64 || *s > *b as i64);
                }
                self.tidy(&k);
            }
            Op::ZMPop(a, b, max, c) => {
                // The first key that exists: WRONGTYPE stops there, a sorted set is popped.
                for k in [key(*a), key(*b)] {
                    if self.cur().get(&k).is_none() {
                        continue;
                    }
                    if let Some(z) = typed!(self.cur().get_mut(&k), ZSet) {
                        let mut order: Vec<(i64, Vec<u8>)> =
                            z.iter().map(|(m, s)| (*s, m.clone())).collect();
                        order.sort();
                        if *max {
                            order.reverse();
                        }
                        for (_, m) in order.into_iter().take(zmpop_count(*c)) {
                            z.remove(&m);
                        }
                    }
                    self.tidy(&k);
                    return;
                }
            }
        }
    }

    /// Compare a keyspace with the model: same keys, values and expiries in every
    /// database (the ones the ops never use must be empty). Err describes the first
    /// difference.
    pub fn check(&self, ks: &Keyspace) -> Result<(), String> {
        for i in 0..ks.db_count() {
            let got = db_state(ks, i);
            let empty = Db::new();
            let want = self.dbs.get(i).unwrap_or(&empty);
            let keys: BTreeSet<&Vec<u8>> = got.keys().chain(want.keys()).collect();
            for k in keys {
                let key = String::from_utf8_lossy(k);
                match (got.get(k), want.get(k)) {
                    (Some((v, at)), Some(w)) => {
                        if *v != w.value {
                            return Err(format!("db {i} key {key}: {v:?}, model {:?}", w.value));
                        }
                        let (lo, hi) = w.expire;
                        if *at < lo || *at > hi {
                            return Err(format!(
                                "db {i} key {key}: expire_at {at}, model {lo}..={hi}"
                            ));
                        }
                    }
                    (g, w) => {
                        return Err(format!("db {i} key {key}: {g:?}, model {w:?}"));
                    }
                }
            }
        }
        Ok(())
    }
}

/// A keyspace value in model form. Sorted set scores must be integers.
pub fn to_model(v: &Value) -> M {
    match v {
        Value::Str(_) | Value::Int(_) => M::Str(v.as_string().expect("a string").into_owned()),
        Value::List(l) => M::List(l.iter().map(|e| e.to_vec()).collect()),
        Value::Hash(h) => M::Hash(h.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect()),
        Value::Set(s) => M::Set(s.iter().map(|e| e.to_vec()).collect()),
        Value::ZSet(z) => M::ZSet(z.iter().map(|(m, s)| (m.to_vec(), s as i64)).collect()),
        Value::Stream(x) => M::Stream(crate::persistence::stream_blob::encode(x)),
    }
}

/// An exact, representation-independent view of a stored entry, for snapshot round-trip
/// checks (stricter than [`to_model`]: it keeps integers apart from strings and scores as
/// exact bits). Aggregates are read through their `iter` contract, unordered ones sorted,
/// so the checks survive rewrites of the value types.
#[derive(Debug, Clone, PartialEq)]
pub enum Canon {
    Str(Vec<u8>),
    Int(i64),
    List(Vec<Vec<u8>>),
    Hash(Vec<(Vec<u8>, Vec<u8>)>),
    Set(Vec<Vec<u8>>),
    ZSet(Vec<(Vec<u8>, u64)>),
    /// A stream as its snapshot bytes (exact but for consumers' seen times).
    Stream(Vec<u8>),
}

/// A stream's snapshot bytes with its consumers' seen times zeroed: replay sees a
/// consumer at replay time (as Redis's replicas and AOF loads do), the one piece of
/// stream state that is not data.
fn stream_without_seen_times(x: &crate::keyspace::Stream) -> Vec<u8> {
    let mut x = x.clone();
    let names: Vec<Vec<u8>> = x.groups().keys().cloned().collect();
    for n in names {
        if let Some(g) = x.group_mut(&n) {
            for c in g.consumers.values_mut() {
                c.seen_time = 0;
            }
        }
    }
    crate::persistence::stream_blob::encode(&x)
}

/// (db, key, expire_at, value) of one entry in [`Canon`] form.
pub type CanonEntry = (u16, Vec<u8>, u64, Canon);

/// Entry `e` of database `db` in [`Canon`] form.
pub fn canon(db: u16, e: &crate::keyspace::Entry) -> CanonEntry {
    let v = match &e.value {
        Value::Str(s) => Canon::Str(s.clone()),
        Value::Int(i) => Canon::Int(*i),
        Value::List(l) => Canon::List(l.iter().map(|x| x.to_vec()).collect()),
        Value::Hash(h) => {
            let mut v: Vec<_> = h.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect();
            v.sort();
            Canon::Hash(v)
        }
        Value::Set(s) => {
            let mut v: Vec<_> = s.iter().map(|x| x.to_vec()).collect();
            v.sort();
            Canon::Set(v)
        }
        Value::ZSet(z) => {
            let mut v: Vec<_> = z.iter().map(|(m, s)| (m.to_vec(), s.to_bits())).collect();
            v.sort();
            Canon::ZSet(v)
        }
        Value::Stream(x) => Canon::Stream(stream_without_seen_times(x)),
    };
    (db, e.key.to_vec(), e.expire_at(), v)
}

/// Database `i` of a keyspace in model form: key → (value, expire_at).
pub fn db_state(ks: &Keyspace, i: usize) -> BTreeMap<Vec<u8>, (M, u64)> {
    ks.db(i)
        .iter()
        .map(|e| (e.key.to_vec(), (to_model(&e.value), e.expire_at())))
        .collect()
}

/// How one batch went under [`run_batch`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ran {
    /// Executed and its replies released: under `always`, its effects are durable.
    Acked,
    /// Executed, but the replies were never released (the log failed or the disk died
    /// before the fsync covering it returned): its effects may or may not survive.
    Unacked,
}

/// A Strata engine on a simulated disk, driven the way a connection drives it: replies
/// are released only once the fsync covering them returned (`appendfsync always`).
pub struct SimEngine {
    pub engine: crate::engine::Engine,
    pub sim: crate::persistence::SimFs,
    pub session: crate::command::Session,
    /// Set when the log failed under `always` (the server would exit).
    pub fatal: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl SimEngine {
    /// Open (recover) the engine in `/data` on `sim`. Err if recovery fails.
    pub fn open(
        sim: &crate::persistence::SimFs,
        policy: crate::config::FsyncPolicy,
    ) -> Result<SimEngine, crate::engine::EngineError> {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::Arc;
        let fatal = Arc::new(AtomicBool::new(false));
        let flag = fatal.clone();
        let config = crate::config::Config {
            dir: "/data".into(),
            appendonly: true,
            appendfsync: policy,
            save: String::new(),
            auto_aof_rewrite_percentage: 0,
            ..crate::config::Config::default()
        };
        let engine = crate::engine::Engine::open_with(
            config,
            crate::engine::OpenOptions {
                vfs: Arc::new(sim.clone()),
                fatal: Arc::new(move |_: &str| flag.store(true, Ordering::SeqCst)),
                prealloc_chunk: 4096,
            },
        )?;
        Ok(SimEngine {
            engine,
            sim: sim.clone(),
            session: crate::command::Session::new(1, true),
            fatal,
        })
    }

    /// The disk died or the log failed: nothing more can be acknowledged.
    pub fn down(&self) -> bool {
        self.sim.is_down() || self.fatal.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Run one batch. Under `always` wait (kicking the group commit, as the server does
    /// when its loop goes idle) until the fsync covering it returned; under the other
    /// policies a batch is acknowledged once it is in the OS. Panics if an fsync never
    /// returns on a healthy disk.
    pub fn run_batch(&mut self, mut cmds: Vec<Vec<Bytes>>) -> Ran {
        let mut out = crate::protocol::ReplyBuf::new(false);
        let outcome = self
            .engine
            .execute_batch(&mut self.session, &mut cmds, &mut out);
        let refused = out.as_bytes().windows(8).any(|w| w == b"MISCONF ");
        if outcome.log_failed.is_some() || refused {
            return Ran::Unacked;
        }
        if self.engine.st.config.appendfsync != crate::config::FsyncPolicy::Always {
            return Ran::Acked;
        }
        let sync = self.engine.sync_shared().expect("the log is on");
        sync.kick();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let mut spins = 0u32;
        while sync.durable_lsn() < outcome.wait_lsn {
            if self.down() {
                return Ran::Unacked;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the fsync covering LSN {} never returned on a healthy disk",
                outcome.wait_lsn
            );
            spins += 1;
            if spins < 64 {
                std::thread::yield_now();
            } else {
                std::thread::sleep(std::time::Duration::from_micros(20));
            }
        }
        Ran::Acked
    }
}
