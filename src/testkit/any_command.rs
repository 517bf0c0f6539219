//! Random commands over every command that can change the keyspace, for the replay
//! contract: whatever a command does live (succeed, fail half-way, expire keys, pick at
//! random), replaying what it logged must rebuild exactly the same keyspace.
//!
//! There is no model here, so the generator can cover everything, including the argument
//! shapes that fail (wrong types, bad numbers, syntax errors, out-of-range offsets): each
//! command is built from its usual shape, then one time in eight an argument is replaced
//! by any token or the list is cut short. Keys (6), members (5) and databases (3) come
//! from tiny alphabets so commands collide; a few TTLs are a millisecond or two so keys
//! expire during a run and lazy expiry is logged too. Blocking commands are only issued
//! inside MULTI, where they never block (a harness without an event loop cannot wait).
//! Some commands run inside a Lua script (EVAL), which logs their effects as one unit.

use bytes::Bytes;

use super::{canon, Canon, CanonEntry, OpReader, Ran, SimEngine};
use crate::config::FsyncPolicy;
use crate::keyspace::Keyspace;
use crate::persistence::SimFs;

/// The script [`AnyCommands`] runs: ARGV is `call` or `pcall`, then per command its
/// argument count and its arguments.
const SCRIPT: &str = "local call = ARGV[1] == 'call' and redis.call or redis.pcall
local i = 2
while i <= #ARGV do
  local n = tonumber(ARGV[i])
  local a = {}
  for j = 1, n do a[j] = ARGV[i + j] end
  call(unpack(a))
  i = i + n + 1
end
return 1";

const KEYS: &[&str] = &["k0", "k1", "k2", "k3", "k4", "k5"];
const MEMBERS: &[&str] = &["m0", "m1", "m2", "m3", "m4", "1", "10"];
const VALUES: &[&str] = &[
    "",
    "v",
    "abc",
    "12",
    "-3",
    "3.5",
    "1e3",
    "0",
    "x\r\n\0y",
    "a-value-long-enough-to-leave-any-compact-encoding-behind-because-it-is-past-64-bytes!!",
];
const INTS: &[&str] = &[
    "0",
    "1",
    "2",
    "3",
    "-1",
    "-2",
    "7",
    "100",
    "abc",
    "1.5",
    "",
    "9223372036854775807",
    "-9223372036854775808",
    "99999999999999999999",
];
const FLOATS: &[&str] = &[
    "0", "1", "1.5", "-2.25", "3", "inf", "-inf", "+inf", "nan", "1e308", "abc", "(1", "-0",
];
const OFFSETS: &[&str] = &[
    "0",
    "1",
    "5",
    "7",
    "64",
    "100",
    "-1",
    "4294967296",
    "536870912",
];
const SECONDS: &[&str] = &["1000", "5000", "0", "-1", "abc", "9223372036854775807"];
const MILLIS: &[&str] = &["1", "2", "100000", "2000000", "-5", "0"];
/// Absolute times: long past, far future (seconds and milliseconds).
const UNIX_S: &[&str] = &["1", "4102444800", "0", "-7"];
const UNIX_MS: &[&str] = &["1", "4102444800000", "0"];
const DBS: &[&str] = &["0", "1", "2", "0", "1", "16", "-1"];
const LONLATS: &[(&str, &str)] = &[
    ("13.361389", "38.115556"),
    ("15.087269", "37.502669"),
    ("-122.4194", "37.7749"),
    ("0", "0"),
    ("179.9999", "85.05"),
    ("181", "10"),
    ("10", "86"),
    ("abc", "1"),
];
const RADII: &[&str] = &["0", "100", "200", "5000", "-1", "abc"];
const UNITS: &[&str] = &["m", "km", "mi", "ft", "parsec"];
const LEX: &[&str] = &["-", "+", "[m1", "(m3", "[1", "m0", "(10"];
const SCORE_RANGES: &[&str] = &["-inf", "+inf", "0", "(1", "2", "(3", "abc", "1.5"];
const SORT_PATTERNS: &[&str] = &["nosort", "k*", "*", "#", "k*->m0", "w_*"];
const BITFIELD_TYPES: &[&str] = &["u8", "i8", "u4", "i16", "u1", "i64", "u63", "u64", "x3"];
/// Anything at all: where one argument is swapped for a token from here.
const WILD: &[&str] = &[
    "k0",
    "k3",
    "m1",
    "",
    "0",
    "-1",
    "1.5",
    "nan",
    "inf",
    "abc",
    "NX",
    "XX",
    "GT",
    "LT",
    "CH",
    "INCR",
    "GET",
    "EX",
    "PX",
    "KEEPTTL",
    "LIMIT",
    "STORE",
    "COUNT",
    "ANY",
    "BY",
    "REPLACE",
    "DB",
    "WITHSCORES",
    "LEFT",
    "RIGHT",
    "MIN",
    "MAX",
    "WEIGHTS",
    "AGGREGATE",
    "BYSCORE",
    "BYLEX",
    "REV",
    "OVERFLOW",
    "SAT",
    "99999999999999999999",
    "-9223372036854775808",
];

/// DUMP payloads from Redis 7.0.15 (hex): a string, an int, a listpack quicklist with
/// 13- and 24-bit integers, an intset, listpack hash and zset, an LZF string, a
/// three-node quicklist.
const REDIS_PAYLOADS: &[&str] = &[
    "000568656c6c6f0a006372df766534200a",
    "00c0fb0a0049c4c6f4d7263f68",
    "120102141400000004008161020101ded402f270110104ff0a00742b7eaf097c70e4",
    "0b14040000000300000090eefeff01000000020000000a005d9df7da2f43d06b",
    "10121200000004008166028176028178020101ff0a00e183ce00f9c30da3",
    "111c1c000000060081610283312e3504816202020181630283696e6604ff0a0089597f26062da8a1",
    "00c31040a008616263646566676861e08c070167680a00a2b2ee8cb477f14a",
    "1203020d0d0000000200816102816202ff020d0d0000000200816302816402ff020a0a0000000100816502ff0a00ec5236a76020a1db",
];

/// Decodes commands (each a full argument list) from bytes.
pub struct AnyCommands<'a> {
    r: OpReader<'a>,
}

impl<'a> AnyCommands<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        AnyCommands {
            r: OpReader::new(data),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.r.is_empty()
    }

    /// The next command; one time in 24 a MULTI block (MULTI, up to 4 commands, EXEC or
    /// DISCARD), returned as its separate commands.
    pub fn next_commands(&mut self) -> Vec<Vec<Bytes>> {
        if self.maybe(16) {
            return vec![self.script()];
        }
        if !self.maybe(24) {
            return vec![self.command(false)];
        }
        let mut out = Vec::new();
        if self.maybe(4) {
            let k = self.key();
            out.push(words(&["WATCH", k]));
        }
        out.push(words(&["MULTI"]));
        for _ in 0..1 + self.r.u8() % 4 {
            out.push(self.command(true));
        }
        let end = if self.maybe(8) { "DISCARD" } else { "EXEC" };
        out.push(words(&[end]));
        out
    }

    /// An EVAL of [`SCRIPT`] running 1 to 4 generated commands with `redis.call` (the
    /// first error stops the script, its earlier writes stay) or `redis.pcall` (errors
    /// are skipped); commands scripts may not call are refused inside it.
    fn script(&mut self) -> Vec<Bytes> {
        let mode = if self.maybe(2) { "call" } else { "pcall" };
        let mut args = words(&["EVAL", SCRIPT, "0", mode]);
        for _ in 0..1 + self.r.u8() % 4 {
            let c = self.command(true);
            args.push(Bytes::from(c.len().to_string()));
            args.extend(c);
        }
        args
    }

    fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[self.r.u8() as usize % from.len()]
    }

    fn key(&mut self) -> &'static str {
        self.pick(KEYS)
    }

    fn member(&mut self) -> &'static str {
        self.pick(MEMBERS)
    }

    fn value(&mut self) -> &'static str {
        self.pick(VALUES)
    }

    fn int(&mut self) -> &'static str {
        self.pick(INTS)
    }

    fn float(&mut self) -> &'static str {
        self.pick(FLOATS)
    }

    fn count(&mut self) -> &'static str {
        self.pick(&["1", "2", "3", "0", "-1", "10"])
    }

    /// `n` (1 to `max`) repetitions of `f`.
    fn some(
        &mut self,
        max: u8,
        a: &mut Vec<&'static str>,
        f: impl Fn(&mut Self, &mut Vec<&'static str>),
    ) {
        for _ in 0..1 + self.r.u8() % max {
            f(self, a);
        }
    }

    fn maybe(&mut self, one_in: u8) -> bool {
        self.r.u8().is_multiple_of(one_in)
    }

    /// `numkeys key...` as the *MPOP and *STORE commands take them (numkeys sometimes wrong).
    fn numkeys(&mut self, a: &mut Vec<&'static str>) {
        let n = 1 + self.r.u8() % 3;
        a.push(match self.r.u8() % 10 {
            0 => "0",
            1 => "-1",
            2 => "5",
            _ => ["1", "2", "3"][n as usize - 1],
        });
        for _ in 0..n {
            a.push(self.key());
        }
    }

    fn expiry_option(&mut self, a: &mut Vec<&'static str>) {
        match self.r.u8() % 7 {
            0 => a.extend(["EX", self.pick(SECONDS)]),
            1 => a.extend(["PX", self.pick(MILLIS)]),
            2 => a.extend(["EXAT", self.pick(UNIX_S)]),
            3 => a.extend(["PXAT", self.pick(UNIX_MS)]),
            4 => a.push("KEEPTTL"),
            _ => {}
        }
    }

    /// RESTORE of a payload Strata writes, one Redis 7.0 wrote (listpack, intset,
    /// quicklist, LZF), or one of them corrupted, with a relative, absolute or no TTL.
    fn restore(&mut self, k: &'static str) -> Vec<Bytes> {
        use crate::keyspace::{dump, Hash, List, Set, Value, ZSet};
        let mut payload = match self.r.u8() % 8 {
            0 => dump::encode(&Value::from_bytes(self.value().as_bytes())),
            1 => dump::encode(&Value::List(Box::new(List::from_elements(
                [self.value(), self.member()].map(|s| s.as_bytes().to_vec()),
            )))),
            2 => dump::encode(&Value::Set(Box::new(Set::from_members(
                [self.member(), "x"].map(|s| s.as_bytes().to_vec()),
            )))),
            3 => dump::encode(&Value::Hash(Hash::from_pairs([(
                self.member().as_bytes().to_vec(),
                self.value().as_bytes().to_vec(),
            )]))),
            4 => dump::encode(&Value::ZSet(Box::new(ZSet::from_pairs([(
                self.member().as_bytes().to_vec(),
                1.5,
            )])))),
            _ => {
                let hex = self.pick(REDIS_PAYLOADS);
                (0..hex.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
                    .collect()
            }
        };
        match self.r.u8() % 8 {
            0 => {
                let i = self.r.u8() as usize % payload.len();
                payload[i] ^= 1 << (self.r.u8() % 8);
            }
            1 => payload.truncate(self.r.u8() as usize % payload.len()),
            _ => {}
        }
        let mut a = words(&["RESTORE", k]);
        let ttl = match self.r.u8() % 4 {
            0 => "0",
            1 => self.pick(MILLIS),
            _ => self.pick(UNIX_MS),
        };
        a.extend(words(&[ttl]));
        a.push(Bytes::from(payload));
        let opts = self.pick(&[&[][..], &["REPLACE"], &["ABSTTL"], &["REPLACE", "ABSTTL"]]);
        a.extend(words(opts));
        if self.maybe(6) {
            let idle = self.pick(INTS);
            a.extend(words(&["IDLETIME", idle]));
        }
        a
    }

    /// A stream command on `k`: IDs from a tiny alphabet (so they collide and go
    /// backwards), two groups, two consumers; reads by a group only block inside MULTI.
    fn stream(&mut self, k: &'static str, a: &mut Vec<&'static str>, in_multi: bool) {
        const IDS: &[&str] = &["1", "2-1", "3", "5-*", "7", "0-0", "*", "*", "9-9"];
        const BOUNDS: &[&str] = &["-", "+", "0", "2", "(3", "5-0"];
        let g = self.pick(&["g1", "g2"]);
        let who = self.pick(&["alice", "bob"]);
        match self.r.u8() % 12 {
            0..=2 => {
                a.extend(["XADD", k]);
                match self.r.u8() % 6 {
                    0 => a.extend([
                        "MAXLEN",
                        self.pick(&["=", "~"]),
                        self.pick(&["0", "1", "3"]),
                    ]),
                    1 => a.extend(["MINID", self.pick(IDS)]),
                    2 => a.push("NOMKSTREAM"),
                    _ => {}
                }
                a.extend([self.pick(IDS), self.member(), self.value()]);
            }
            3 => a.extend(["XDEL", k, self.pick(IDS), self.pick(IDS)]),
            4 => a.extend([
                "XTRIM",
                k,
                self.pick(&["MAXLEN", "MINID"]),
                self.pick(&["1", "3", "0"]),
            ]),
            5 => a.extend([
                "XGROUP",
                "CREATE",
                k,
                g,
                self.pick(&["$", "0", "3"]),
                self.pick(&["MKSTREAM", "ENTRIESREAD"]),
            ]),
            6 => match self.r.u8() % 4 {
                0 => a.extend(["XGROUP", "SETID", k, g, self.pick(&["$", "0", "2"])]),
                1 => a.extend(["XGROUP", "DESTROY", k, g]),
                2 => a.extend(["XGROUP", "CREATECONSUMER", k, g, who]),
                _ => a.extend(["XGROUP", "DELCONSUMER", k, g, who]),
            },
            7 => {
                a.extend(["XREADGROUP", "GROUP", g, who]);
                if in_multi && self.maybe(2) {
                    a.extend(["BLOCK", "0"]);
                }
                if self.maybe(3) {
                    a.push("NOACK");
                }
                a.extend([
                    "COUNT",
                    self.pick(&["1", "2", "0"]),
                    "STREAMS",
                    k,
                    self.pick(&[">", ">", "0"]),
                ]);
            }
            8 => a.extend(["XACK", k, g, self.pick(IDS), self.pick(BOUNDS)]),
            9 => {
                a.extend(["XCLAIM", k, g, who, "0", self.pick(IDS), self.pick(BOUNDS)]);
                a.push(self.pick(&["JUSTID", "FORCE", "LASTID", "RETRYCOUNT"]));
                a.push(self.pick(&["9", "JUSTID", "2"]));
            }
            10 => a.extend([
                "XAUTOCLAIM",
                k,
                g,
                who,
                "0",
                self.pick(BOUNDS),
                "COUNT",
                self.pick(&["1", "5"]),
            ]),
            _ => a.extend([
                "XSETID",
                k,
                self.pick(&["9-9", "20", "0"]),
                "ENTRIESADDED",
                self.pick(&["3", "50"]),
            ]),
        }
    }

    fn command(&mut self, in_multi: bool) -> Vec<Bytes> {
        let mut a: Vec<&'static str> = Vec::new();
        let k = self.key();
        match self.r.u8() % 100 {
            0..=3 => {
                a.extend(["SET", k, self.value()]);
                if self.maybe(3) {
                    a.push(self.pick(&["NX", "XX"]));
                }
                if self.maybe(4) {
                    a.push("GET");
                }
                self.expiry_option(&mut a);
            }
            4 => a.extend(["SETNX", k, self.value()]),
            5 => a.extend(["SETEX", k, self.pick(SECONDS), self.value()]),
            6 => a.extend(["PSETEX", k, self.pick(MILLIS), self.value()]),
            7 => a.extend(["GETSET", k, self.value()]),
            8 => a.extend(["GETDEL", k]),
            9 => {
                a.extend(["GETEX", k]);
                match self.r.u8() % 3 {
                    0 => a.push("PERSIST"),
                    1 => self.expiry_option(&mut a),
                    _ => {}
                }
            }
            10 => {
                a.push(self.pick(&["MSET", "MSETNX"]));
                self.some(3, &mut a, |g, a| a.extend([g.key(), g.value()]));
            }
            11 => a.extend(["APPEND", k, self.value()]),
            12 => a.extend(["SETRANGE", k, self.pick(OFFSETS), self.value()]),
            13 => a.extend([self.pick(&["INCR", "DECR"]), k]),
            14 => a.extend([self.pick(&["INCRBY", "DECRBY"]), k, self.int()]),
            15 => a.extend(["INCRBYFLOAT", k, self.float()]),
            16 => a.extend(["SETBIT", k, self.pick(OFFSETS), self.pick(&["0", "1", "2"])]),
            17 => {
                a.extend(["BITOP", self.pick(&["AND", "OR", "XOR", "NOT", "NAND"]), k]);
                self.some(2, &mut a, |g, a| a.push(g.key()));
            }
            18 => {
                a.extend([self.pick(&["BITFIELD", "BITFIELD_RO"]), k]);
                self.some(3, &mut a, |g, a| match g.r.u8() % 4 {
                    0 => a.extend(["GET", g.pick(BITFIELD_TYPES), g.pick(&["0", "#1", "3"])]),
                    1 => a.extend([
                        "SET",
                        g.pick(BITFIELD_TYPES),
                        g.pick(&["0", "#1", "5"]),
                        g.int(),
                    ]),
                    2 => a.extend([
                        "INCRBY",
                        g.pick(BITFIELD_TYPES),
                        g.pick(&["0", "#2"]),
                        g.int(),
                    ]),
                    _ => a.extend(["OVERFLOW", g.pick(&["WRAP", "SAT", "FAIL", "BAD"])]),
                });
            }
            19 => {
                a.extend(["PFADD", k]);
                self.some(3, &mut a, |g, a| a.push(g.member()));
            }
            20 => {
                a.extend([self.pick(&["PFMERGE", "PFCOUNT"]), k]);
                self.some(2, &mut a, |g, a| a.push(g.key()));
            }
            21 => {
                a.extend(["GEOADD", k]);
                if self.maybe(4) {
                    a.push(self.pick(&["NX", "XX", "CH"]));
                }
                self.some(2, &mut a, |g, a| {
                    let (lon, lat) = g.pick(LONLATS);
                    a.extend([lon, lat, g.member()]);
                });
            }
            22 => {
                let (lon, lat) = self.pick(LONLATS);
                if self.r.bool() {
                    a.extend(["GEORADIUS", k, lon, lat]);
                } else {
                    a.extend(["GEORADIUSBYMEMBER", k, self.member()]);
                }
                a.extend([self.pick(RADII), self.pick(UNITS)]);
                if self.maybe(3) {
                    a.extend(["COUNT", self.count()]);
                }
                a.extend([self.pick(&["STORE", "STOREDIST", "ASC"]), self.key()]);
            }
            23 => {
                a.extend(["GEOSEARCHSTORE", k, self.key()]);
                if self.r.bool() {
                    a.extend(["FROMMEMBER", self.member()]);
                } else {
                    let (lon, lat) = self.pick(LONLATS);
                    a.extend(["FROMLONLAT", lon, lat]);
                }
                if self.r.bool() {
                    a.extend(["BYRADIUS", self.pick(RADII), self.pick(UNITS)]);
                } else {
                    a.extend([
                        "BYBOX",
                        self.pick(RADII),
                        self.pick(RADII),
                        self.pick(UNITS),
                    ]);
                }
                if self.maybe(3) {
                    a.extend(["COUNT", self.count()]);
                }
                if self.maybe(2) {
                    a.push("STOREDIST");
                }
            }
            24..=26 => {
                a.push(self.pick(&["DEL", "UNLINK"]));
                self.some(2, &mut a, |g, a| a.push(g.key()));
            }
            27 => a.extend([self.pick(&["RENAME", "RENAMENX"]), k, self.key()]),
            28 => {
                a.extend(["COPY", k, self.key()]);
                if self.maybe(2) {
                    a.extend(["DB", self.pick(DBS)]);
                }
                if self.maybe(2) {
                    a.push("REPLACE");
                }
            }
            29 if self.maybe(2) => a.extend(["MOVE", k, self.pick(DBS)]),
            29 => return self.restore(k),
            30 => a.extend(["SWAPDB", self.pick(DBS), self.pick(DBS)]),
            31 => match self.r.u8() % 8 {
                0 => a.extend(["FLUSHALL"]),
                1..=3 => a.extend(["FLUSHDB"]),
                _ => a.extend(["SELECT", self.pick(DBS)]),
            },
            32 => {
                a.extend([self.pick(&["SORT", "SORT_RO"]), k]);
                if self.maybe(3) {
                    a.extend(["BY", self.pick(SORT_PATTERNS)]);
                }
                if self.maybe(3) {
                    a.extend(["LIMIT", self.int(), self.count()]);
                }
                if self.maybe(3) {
                    a.extend(["GET", self.pick(SORT_PATTERNS)]);
                }
                if self.maybe(2) {
                    a.push("ALPHA");
                }
                if self.maybe(3) {
                    a.push("DESC");
                }
                if self.maybe(2) {
                    a.extend(["STORE", self.key()]);
                }
            }
            33..=35 => {
                match self.r.u8() % 5 {
                    0 => a.extend(["EXPIRE", k, self.pick(SECONDS)]),
                    1 => a.extend(["PEXPIRE", k, self.pick(MILLIS)]),
                    2 => a.extend(["EXPIREAT", k, self.pick(UNIX_S)]),
                    3 => a.extend(["PEXPIREAT", k, self.pick(UNIX_MS)]),
                    _ => a.extend(["PERSIST", k]),
                }
                if a[0] != "PERSIST" && self.maybe(3) {
                    a.push(self.pick(&["NX", "XX", "GT", "LT", "BAD"]));
                }
            }
            36..=39 => {
                a.extend([self.pick(&["LPUSH", "RPUSH", "LPUSHX", "RPUSHX"]), k]);
                self.some(3, &mut a, |g, a| a.push(g.member()));
            }
            40..=41 => {
                a.extend([self.pick(&["LPOP", "RPOP"]), k]);
                if self.r.bool() {
                    a.push(self.count());
                }
            }
            42 => a.extend(["LSET", k, self.int(), self.member()]),
            43 => a.extend([
                "LINSERT",
                k,
                self.pick(&["BEFORE", "AFTER", "UP"]),
                self.member(),
                self.member(),
            ]),
            44 => a.extend(["LREM", k, self.int(), self.member()]),
            45 => a.extend(["LTRIM", k, self.int(), self.int()]),
            46 => {
                let (from, to) = (self.pick(&["LEFT", "RIGHT"]), self.pick(&["LEFT", "RIGHT"]));
                if self.r.bool() {
                    a.extend(["LMOVE", k, self.key(), from, to]);
                } else {
                    a.extend(["RPOPLPUSH", k, self.key()]);
                }
            }
            47 => {
                a.push("LMPOP");
                self.numkeys(&mut a);
                a.push(self.pick(&["LEFT", "RIGHT"]));
                if self.r.bool() {
                    a.extend(["COUNT", self.count()]);
                }
            }
            48..=51 => {
                a.extend([self.pick(&["HSET", "HMSET"]), k]);
                self.some(3, &mut a, |g, a| a.extend([g.member(), g.value()]));
            }
            52 => a.extend(["HSETNX", k, self.member(), self.value()]),
            53 => {
                a.extend(["HDEL", k]);
                self.some(2, &mut a, |g, a| a.push(g.member()));
            }
            54 => a.extend(["HINCRBY", k, self.member(), self.int()]),
            55 => a.extend(["HINCRBYFLOAT", k, self.member(), self.float()]),
            56..=59 => {
                a.extend([self.pick(&["SADD", "SADD", "SREM"]), k]);
                self.some(3, &mut a, |g, a| a.push(g.member()));
            }
            60 => a.extend(["SMOVE", k, self.key(), self.member()]),
            61 => {
                a.extend(["SPOP", k]);
                if self.r.bool() {
                    a.push(self.count());
                }
            }
            62 => {
                a.extend([self.pick(&["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"]), k]);
                self.some(3, &mut a, |g, a| a.push(g.key()));
            }
            63..=67 => {
                a.extend(["ZADD", k]);
                for opt in ["NX", "XX", "GT", "LT", "CH", "INCR"] {
                    if self.maybe(6) {
                        a.push(opt);
                    }
                }
                self.some(3, &mut a, |g, a| a.extend([g.float(), g.member()]));
            }
            68 => a.extend(["ZINCRBY", k, self.float(), self.member()]),
            69 => {
                a.extend(["ZREM", k]);
                self.some(2, &mut a, |g, a| a.push(g.member()));
            }
            70 => a.extend([
                "ZREMRANGEBYSCORE",
                k,
                self.pick(SCORE_RANGES),
                self.pick(SCORE_RANGES),
            ]),
            71 => a.extend(["ZREMRANGEBYRANK", k, self.int(), self.int()]),
            72 => a.extend(["ZREMRANGEBYLEX", k, self.pick(LEX), self.pick(LEX)]),
            73 => {
                a.extend([self.pick(&["ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE"]), k]);
                self.numkeys(&mut a);
                if a[0] != "ZDIFFSTORE" && self.maybe(3) {
                    a.push("WEIGHTS");
                    self.some(3, &mut a, |g, a| a.push(g.float()));
                }
                if a[0] != "ZDIFFSTORE" && self.maybe(3) {
                    a.extend(["AGGREGATE", self.pick(&["SUM", "MIN", "MAX", "AVG"])]);
                }
            }
            74 => {
                a.extend(["ZRANGESTORE", k, self.key()]);
                match self.r.u8() % 3 {
                    0 => a.extend([self.int(), self.int()]),
                    1 => a.extend([self.pick(SCORE_RANGES), self.pick(SCORE_RANGES), "BYSCORE"]),
                    _ => a.extend([self.pick(LEX), self.pick(LEX), "BYLEX"]),
                }
                if self.maybe(3) {
                    a.push("REV");
                }
                if self.maybe(3) {
                    a.extend(["LIMIT", self.int(), self.count()]);
                }
            }
            75 => {
                a.extend([self.pick(&["ZPOPMIN", "ZPOPMAX"]), k]);
                if self.r.bool() {
                    a.push(self.count());
                }
            }
            76 => {
                a.push("ZMPOP");
                self.numkeys(&mut a);
                a.push(self.pick(&["MIN", "MAX"]));
                if self.r.bool() {
                    a.extend(["COUNT", self.count()]);
                }
            }
            77..=79 if in_multi => match self.r.u8() % 7 {
                0 => a.extend([self.pick(&["BLPOP", "BRPOP"]), k, self.key(), "0"]),
                1 => a.extend(["BLMOVE", k, self.key(), "LEFT", "RIGHT", "0"]),
                2 => a.extend(["BRPOPLPUSH", k, self.key(), "1"]),
                3 => {
                    a.extend(["BLMPOP", "0"]);
                    self.numkeys(&mut a);
                    a.extend(["LEFT", "COUNT", self.count()]);
                }
                4 => a.extend([self.pick(&["BZPOPMIN", "BZPOPMAX"]), k, "0"]),
                5 => {
                    a.extend(["BZMPOP", "0"]);
                    self.numkeys(&mut a);
                    a.push("MAX");
                }
                _ => a.extend(["BLPOP", k, "abc"]),
            },
            80..=89 => self.stream(k, &mut a, in_multi),
            // Reads, which may still expire keys lazily (logged as DEL).
            _ => match self.r.u8() % 6 {
                0 => a.extend(["GET", k]),
                1 => a.extend(["EXISTS", k, self.key()]),
                2 => a.extend(["TTL", k]),
                3 => a.extend(["SRANDMEMBER", k, self.count()]),
                4 => a.extend(["LRANGE", k, "0", "-1"]),
                _ => a.extend(["TYPE", k]),
            },
        }
        // Now and then break the shape, to reach the error paths.
        match self.r.u8() % 16 {
            0 if a.len() > 1 => {
                let i = 1 + self.r.u8() as usize % (a.len() - 1);
                a[i] = self.pick(WILD);
            }
            1 if a.len() > 2 => {
                let keep = 1 + self.r.u8() as usize % (a.len() - 1);
                a.truncate(keep);
            }
            _ => {}
        }
        words(&a)
    }
}

/// Every live entry, in a representation-independent form, sorted; entries whose expiry
/// is at or before `cutoff` are left out (whether they are still stored is not data).
/// Integers read as the strings they are: which of the two encodings a string gets may
/// differ between the live command and its replay (Redis's does too: INCRBYFLOAT's "15"
/// is raw live and int once replayed), and no command can tell them apart but OBJECT.
pub fn live_entries(ks: &Keyspace, cutoff: u64) -> Vec<CanonEntry> {
    let mut out: Vec<CanonEntry> = Vec::new();
    for (i, table) in ks.dbs().iter().enumerate() {
        out.extend(
            table
                .iter()
                .filter(|e| e.expire_at() == 0 || e.expire_at() > cutoff)
                .map(|e| match canon(i as u16, e) {
                    (db, k, at, Canon::Int(n)) => (db, k, at, Canon::Str(n.to_string().into())),
                    c => c,
                }),
        );
    }
    out.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    out
}

/// Run the commands `data` decodes to on a simulated disk (`appendfsync no`), with log
/// rewrites started and restarts made where the input says; after every restart, and at
/// the end, the keyspace recovered from the files must equal the live one. Err names the
/// first difference and the commands that ran.
pub fn check_replay(data: &[u8]) -> Result<(), String> {
    let sim = SimFs::new(1);
    let open = |sim: &SimFs| {
        SimEngine::open(sim, FsyncPolicy::No).map_err(|e| format!("recovery failed: {e}"))
    };
    let mut e = open(&sim)?;
    let mut gen = AnyCommands::new(data);
    let mut ran: Vec<String> = Vec::new();
    let history = |ran: &[String]| ran.join("\n");
    while !gen.is_empty() {
        match gen.r.u8() % 64 {
            0 => {
                ran.push("-- BGREWRITEAOF".into());
                e.run_batch(vec![vec![Bytes::from_static(b"BGREWRITEAOF")]]);
            }
            1 => {
                ran.push("-- restart".into());
                e = restart(e, &sim, &open)
                    .map_err(|err| format!("{err}\ncommands:\n{}", history(&ran)))?;
            }
            _ => {
                let cmds = gen.next_commands();
                for c in &cmds {
                    let words: Vec<_> = c.iter().map(|a| String::from_utf8_lossy(a)).collect();
                    ran.push(words.join(" "));
                }
                if e.run_batch(cmds) != Ran::Acked {
                    return Err(format!("the log failed\ncommands:\n{}", history(&ran)));
                }
            }
        }
        e.engine.snapshot_pump(2);
    }
    restart(e, &sim, &open).map_err(|err| format!("{err}\ncommands:\n{}", history(&ran)))?;
    Ok(())
}

/// The replay contract for one script: `body` runs (as EVAL with two keys and two
/// arguments) over a few keys of every type, then as a function library (FUNCTION LOAD
/// with a `#!lua name=fz` line before it; each function it registers called like the
/// script), then the keyspace and libraries recovered from the log must equal the live
/// ones. Whatever the code does (fail half-way, loop until it is stopped, call any
/// command) must not matter. Scripts and functions are stopped after 50 ms, even one
/// that wrote, so a fuzzer's endless loop ends.
pub fn check_script(body: &[u8]) -> Result<(), String> {
    let sim = SimFs::new(1);
    let open = |sim: &SimFs| {
        SimEngine::open(sim, FsyncPolicy::No).map_err(|e| format!("recovery failed: {e}"))
    };
    let mut e = open(&sim)?;
    let limit = Some(std::time::Duration::from_millis(50));
    e.engine.st.scripts.set_hard_limit(limit);
    e.engine.st.functions.set_hard_limit(limit);
    let setup = vec![
        words(&["CONFIG", "SET", "busy-reply-threshold", "20"]),
        words(&["SET", "k0", "12"]),
        words(&["RPUSH", "k1", "a", "b", "c"]),
        words(&["HSET", "k2", "f", "v", "g", "1"]),
        words(&["SADD", "k3", "m0", "m1"]),
        words(&["ZADD", "k4", "1", "m0", "2.5", "m1"]),
        words(&["SET", "k5", "v", "PX", "100000"]),
    ];
    if e.run_batch(setup) != Ran::Acked {
        return Err("the log failed during setup".into());
    }
    let mut eval = words(&["EVAL"]);
    eval.push(Bytes::copy_from_slice(body));
    eval.extend(words(&["2", "k0", "k1", "a1", "5"]));
    if e.run_batch(vec![eval]) != Ran::Acked {
        return Err("the log failed".into());
    }
    let mut code = b"#!lua name=fz\n".to_vec();
    code.extend_from_slice(body);
    let mut load = words(&["FUNCTION", "LOAD"]);
    load.push(code.into());
    if e.run_batch(vec![load]) != Ran::Acked {
        return Err("the log failed".into());
    }
    let calls = (e.engine.st.functions.names().into_iter())
        .map(|name| words(&["FCALL", &name, "2", "k0", "k1", "a1", "5"]))
        .collect();
    if e.run_batch(calls) != Ran::Acked {
        return Err("the log failed".into());
    }
    restart(e, &sim, &open).map(|_| ())
}

/// A command from its words.
fn words(w: &[&str]) -> Vec<Bytes> {
    w.iter()
        .map(|s| Bytes::copy_from_slice(s.as_bytes()))
        .collect()
}

/// Close `e` cleanly, recover from the files, and compare the two keyspaces.
fn restart(
    mut e: SimEngine,
    sim: &SimFs,
    open: &dyn Fn(&SimFs) -> Result<SimEngine, String>,
) -> Result<SimEngine, String> {
    e.engine.finish_snapshot();
    let live = live_entries(&e.engine.st.ks, 0);
    let libraries = e.engine.st.functions.codes();
    e.engine
        .close()
        .map_err(|err| format!("close failed: {err}"))?;
    drop(e);
    let back = open(sim)?;
    let cutoff = crate::util::now_ms();
    let live: Vec<_> = live
        .into_iter()
        .filter(|e| e.2 == 0 || e.2 > cutoff)
        .collect();
    let recovered = live_entries(&back.engine.st.ks, cutoff);
    if live != recovered {
        let first = live
            .iter()
            .zip(&recovered)
            .find(|(a, b)| a != b)
            .map(|(a, b)| format!("live {a:?}\nrecovered {b:?}"))
            .unwrap_or_else(|| {
                format!("{} live entries, {} recovered", live.len(), recovered.len())
            });
        return Err(format!("the recovered keyspace differs:\n{first}"));
    }
    if back.engine.st.functions.codes() != libraries {
        return Err("the recovered function libraries differ".into());
    }
    Ok(back)
}
