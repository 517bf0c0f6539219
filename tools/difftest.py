#!/usr/bin/env python3
"""Differential test: the same random command stream against redis-server and Strata.

Usage: tools/difftest.py [--ops N] [--seed S] [--keys K] [--restart] [--restart-every N]
                         [--resp3] [--notify] [--notify-flags FLAGS] [--verbose]
                         [--skip CMD,..] [--family geo,hll,..]
                         [--redis-port P] [--strata-port P] [--strata-bin PATH]

Starts `redis-server` (7.x, from PATH) and `strata-server` (target/release by default) on
loopback in temporary directories, unless `--redis-port`/`--strata-port` name servers
already running, then sends both the same seeded stream of commands over a small shared
key space (so that commands meet each other's keys, types and edge cases) and compares
every reply. Replies whose order Redis leaves unspecified (SMEMBERS, HGETALL, KEYS, ...)
are compared sorted; commands whose reply is random by design are not generated. Every
`--check-every` commands, and at the end, it compares the whole keyspace (type, value and
expiry of every key). With `--restart` Strata runs with `appendfsync always`, and at the end
it is restarted from its data directory and compared again: the log must replay to the
state it acknowledged. `--restart-every N` also kills (SIGKILL) and restarts it every N
commands, half of the time right after starting a BGREWRITEAOF, and compares it with Redis.

`--notify` also compares keyspace notifications: it sets `notify-keyspace-events` to
`--notify-flags` (default KEAnm: every class, both channels, new-key and key-miss events)
with CONFIG SET on both servers (again after each restart), PSUBSCRIBEs `__key*__:*` on an
extra RESP2 connection to each, and after every command collects what it emitted (a PING on
the subscriber, read up to its pong) and compares the two lists (channel, message) in order,
or as multisets where the replies are compared sorted, and for SORT. `expired` events (on
either channel) are left out: active expiry fires them whenever each server gets to a key.
Notifications caused by the harness's own commands (keyspace dumps, lookups, restarts) are
read and dropped before the next generated command.

Exit status 0 if every reply and every keyspace comparison agreed, 1 otherwise (each
difference printed with the command that caused it and the seed to reproduce it), 2 on a
setup error. Needs only the Python standard library.
"""
import argparse
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# The script g_script runs: ARGV is `call` or `pcall`, then per command its argument
# count and its arguments; it returns the list of what each command returned.
SCRIPT = """local call = ARGV[1] == 'call' and redis.call or redis.pcall
local out, i = {}, 2
while i <= #ARGV do
  local n = tonumber(ARGV[i])
  local a = {}
  for j = 1, n do a[j] = ARGV[i + j] end
  out[#out + 1] = call(unpack(a))
  i = i + n + 1
end
return out"""

# The same, as a function (g_function): its keys and arguments are its parameters.
LIBRARY = ("#!lua name=difftest\nredis.register_function('difftest_run', function(keys, args)\n"
           + SCRIPT.replace("ARGV", "args") + "\nend)")


# --- RESP2 client ---------------------------------------------------------------------


class Conn:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def _fill(self):
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise ConnectionError("server closed the connection")
        self.buf += chunk

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line, self.buf = self.buf[:i], self.buf[i + 2 :]
                return line
            self._fill()

    def _bytes(self, n):
        while len(self.buf) < n + 2:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n + 2 :]
        return data

    def reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return ("status", rest.decode())
        if kind == b"-":
            return ("error", rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._bytes(n)
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        # RESP3
        if kind == b"_":
            return None
        if kind == b",":
            return ("double", rest.decode())
        if kind == b"#":
            return ("bool", rest == b"t")
        if kind == b"(":
            return ("bignum", rest.decode())
        if kind == b"=":
            return ("verbatim", self._bytes(int(rest)))
        if kind == b"%":
            n = int(rest)
            return ("map", sorted(((self.reply(), self.reply()) for _ in range(n)), key=repr))
        if kind == b"~":
            n = int(rest)
            return ("set", sorted((self.reply() for _ in range(n)), key=repr))
        if kind == b">":
            return ("push", [self.reply() for _ in range(int(rest))])
        raise ValueError(f"unexpected reply line {line!r}")

    # Calls made through any connection so far: with --notify, a change between two
    # generated commands means the harness itself ran something (which may have emitted
    # notifications of its own) and the subscribers are drained before the next one.
    calls = 0

    def send(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(out))

    def call(self, *args):
        Conn.calls += 1
        self.send(*args)
        return self.reply()


# --- servers ----------------------------------------------------------------------------


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_pong(port, proc, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {proc.returncode}")
        try:
            c = Conn(port)
            if c.call("PING") == ("status", "PONG"):
                return
        except (OSError, ConnectionError):
            pass
        time.sleep(0.02)
    raise RuntimeError(f"server on port {port} did not answer PING within {timeout}s")


def start(cmd, port, log):
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    wait_pong(port, proc)
    return proc


# --- the command stream -----------------------------------------------------------------


class Gen:
    """Random commands over a small key space. Keys are shared by every type on purpose."""

    def __init__(self, rng, nkeys, families=()):
        self.r = rng
        self.families = list(families)
        self.keys = [f"k{i}" for i in range(nkeys)]
        self.members = [f"m{i}" for i in range(8)] + ["1", "2", "10", "-1", "1.5", ""]

    def key(self):
        return self.r.choice(self.keys)

    def keys_n(self, lo=1, hi=4):
        return [self.key() for _ in range(self.r.randint(lo, hi))]

    def member(self):
        return self.r.choice(self.members)

    def int_arg(self):
        return self.r.choice(
            ["0", "1", "-1", "2", "3", "5", "-3", "100", str(self.r.randint(-50, 50)),
             "9223372036854775807", "-9223372036854775808", "abc", "1.5", " 1", "01"]
        )

    def small_int(self):
        return self.r.choice(["0", "1", "2", "3", "-1", "-2", "5", "10", "-100", "100"])

    def float_arg(self):
        return self.r.choice(
            ["0", "1", "-1", "1.5", "-2.25", "3", "1e3", "inf", "-inf", "+inf", "nan", "abc",
             "0.1", "10", "5.0000", str(self.r.randint(-20, 20))]
        )

    def score_bound(self):
        v = self.r.choice(["0", "1", "2", "5", "-1", "1.5", "-inf", "+inf", "10"])
        return self.r.choice(["", "("]) + v if "inf" not in v else v

    def lex_bound(self):
        return self.r.choice(["-", "+", "[m1", "(m3", "[m5", "(m0", "[", "(", "m1", "[a", "[z"])

    def value(self):
        return self.r.choice(["v", "hello", "", "42", "-7", "3.5", "x" * self.r.randint(1, 80),
                              "1" * 20, "a b c"])

    def expiry_opts(self):
        c = self.r.random()
        if c < 0.6:
            return []
        return self.r.choice([["EX", "1000"], ["PX", "500000"], ["EX", "0"], ["EX", "-5"],
                              ["KEEPTTL"], ["EXAT", str(int(time.time()) + 5000)],
                              ["PXAT", "1"], ["EX", "abc"]])

    # Each generator returns (args, unordered): unordered says the reply is a set.
    def command(self):
        r = self.r
        if self.families:
            return getattr(self, "g_" + r.choice(self.families))()
        family = r.choices(["string", "bitmap", "hll", "geo", "key", "list", "hash", "set", "zset",
                            "stream", "bad", "db", "random", "scan", "script", "function"],
                           [22, 8, 8, 10, 12, 18, 14, 14, 18, 14, 2, 3, 3, 3, 6, 3])[0]
        return getattr(self, "g_" + family)()

    def commands(self):
        """The next unit to send: one command, or a MULTI ... EXEC|DISCARD block."""
        r = self.r
        if r.random() >= 0.04:
            return [self.command()]
        block = []
        if r.random() < 0.3:
            block.append((["WATCH"] + self.keys_n(1, 2), False))
        block.append((["MULTI"], False))
        while len(block) < 6 and r.random() < 0.8:
            # Inside MULTI only commands whose replies compare as they are (EXEC returns
            # them raw), and no SELECT (the loop tracks the database from its reply).
            args, how = self.command()
            if how is False and args[0] not in ("SORT", "SORT_RO", "SELECT"):
                block.append((args, how))
        block.append((["EXEC" if r.random() < 0.85 else "DISCARD"], False))
        return block

    def g_db(self):
        r, k = self.r, self.key()
        return r.choice([
            (["SELECT", r.choice(["0", "1", "0", "1", "16", "x"])], False),
            (["MOVE", k, r.choice(["0", "1", "1", "x"])], False),
            (["SWAPDB", "0", "1"], False),
            (["COPY", k, self.key(), "DB", r.choice(["0", "1"])] + r.choice([[], ["REPLACE"]]), False),
            (["DBSIZE"], False),
            (["FLUSHDB"] + r.choice([[], ["ASYNC"], ["SYNC"]]) if r.random() < 0.1 else ["DBSIZE"], False),
        ])

    def g_random(self):
        # Random picks: only their size (and that they come from the value) is specified.
        r, k = self.r, self.key()
        n = r.choice(["1", "3", "10", "-3", "-10", "0"])
        name = r.choice(["SRANDMEMBER", "HRANDFIELD", "ZRANDMEMBER"])
        args = [name, k, n]
        if name != "SRANDMEMBER" and r.random() < 0.3:
            args.append("WITHVALUES" if name == "HRANDFIELD" else "WITHSCORES")
        return args, "len"

    def g_scan(self):
        # A whole iteration, collected (SCAN may repeat an element; its order is free).
        r, k = self.r, self.key()
        match = r.choice([[], [], ["MATCH", "k*"], ["MATCH", "m[1-4]"], ["MATCH", "*1*"]])
        count = r.choice([[], ["COUNT", "1"], ["COUNT", "3"], ["COUNT", "100"]])
        which = r.choice(["SCAN", "SSCAN", "HSCAN", "ZSCAN"])
        if which == "SCAN":
            typ = r.choice([[], [], ["TYPE", "string"], ["TYPE", "list"], ["TYPE", "zset"]])
            return ["SCAN", "0"] + match + count + typ, "scan"
        return [which, k, "0"] + match + count, "scan"

    def g_script(self):
        # EVAL of SCRIPT over 1-3 commands of the other families whose reply is ordered
        # and not random: the script returns what each returned (converted to Lua and
        # back), or, under redis.call, the first error with the script's name and line.
        r = self.r
        argv = [r.choice(["call", "pcall"])]
        for _ in range(r.randint(1, 3)):
            for _ in range(20):
                fam = r.choice(["string", "key", "list", "hash", "set", "zset", "bitmap", "hll",
                                "bad"])
                args, how = getattr(self, "g_" + fam)()
                if how is False and args[0] not in ("SORT", "SORT_RO", "SELECT"):
                    argv += [str(len(args))] + [str(a) for a in args]
                    break
        return ["EVAL", SCRIPT, "0"] + argv, False

    def g_function(self):
        # FCALL of LIBRARY's function over what g_script would run (the library is
        # loaded at the start; Strata must keep it across restarts).
        args, how = self.g_script()
        return ["FCALL", "difftest_run", "0"] + args[3:], how

    def g_bad(self):
        r = self.r
        return r.choice([
            (["SET"], False), (["GET"], False), (["LPUSH", self.key()], False),
            (["ZADD", self.key(), "1"], False), (["HSET", self.key(), "f"], False),
            (["NOSUCHCOMMAND", "x"], False), (["SET", self.key(), "v", "BOGUS"], False),
            (["ZRANGE", self.key(), "0", "-1", "LIMIT", "0", "1"], False),
            (["INCRBY", self.key(), "1", "2"], False),
        ])

    def g_string(self):
        r, k = self.r, self.key()
        c = r.randrange(22)
        if c == 0:
            opts = self.expiry_opts() + r.choice([[], [], ["NX"], ["XX"]]) + r.choice([[], ["GET"]])
            return ["SET", k, self.value()] + opts, False
        if c == 1:
            return ["GET", k], False
        if c == 2:
            return ["APPEND", k, self.value()], False
        if c == 3:
            return ["STRLEN", k], False
        if c == 4:
            return ["INCR", k], False
        if c == 5:
            return ["INCRBY", k, self.int_arg()], False
        if c == 6:
            return ["DECRBY", k, self.int_arg()], False
        if c == 7:
            return ["INCRBYFLOAT", k, self.float_arg()], False
        if c == 8:
            return ["SETNX", k, self.value()], False
        if c == 9:
            return ["SETRANGE", k, r.choice(["0", "3", "10", "-1", "abc"]), self.value()], False
        if c == 10:
            return ["GETRANGE", k, self.small_int(), self.small_int()], False
        if c == 11:
            args = ["MSET"]
            for kk in self.keys_n():
                args += [kk, self.value()]
            return args, False
        if c == 12:
            return ["MGET"] + self.keys_n(), False
        if c == 13:
            args = ["MSETNX"]
            for kk in self.keys_n():
                args += [kk, self.value()]
            return args, False
        if c == 14:
            return ["GETSET", k, self.value()], False
        if c == 15:
            return ["GETDEL", k], False
        if c == 16:
            return ["SETEX", k, r.choice(["1000", "0", "-1", "x"]), self.value()], False
        if c == 17:
            return ["PSETEX", k, r.choice(["900000", "0", "x"]), self.value()], False
        if c == 18:
            return ["DECR", k], False
        if c == 19:
            return ["GETEX", k] + r.choice([[], ["PERSIST"], ["EX", "2000"], ["PX", "0"], ["EXAT", "abc"]]), False
        if c == 20:
            return ["LCS", k, self.key()] + r.choice(
                [[], ["LEN"], ["IDX"], ["IDX", "WITHMATCHLEN"], ["IDX", "MINMATCHLEN", "2"],
                 ["LEN", "IDX"], ["MINMATCHLEN", "x"], ["BOGUS"]]), False
        return ["SUBSTR", k, self.small_int(), self.small_int()], False

    def bit_offset(self):
        return self.r.choice(["0", "1", "7", "8", "15", "63", "100", "-1", "x", "4294967296",
                              str(self.r.randint(0, 200))])

    def bit_range(self):
        r = self.r
        if r.random() < 0.3:
            return []
        args = [self.small_int(), self.small_int()]
        return args + r.choice([[], [], ["BYTE"], ["BIT"], ["bogus"]])

    def field_type(self):
        return self.r.choice(["i1", "u1", "i5", "u7", "i8", "u8", "i16", "u16", "i63", "i64",
                              "u63", "u64", "x8", "i0"])

    def g_bitmap(self):
        r, k = self.r, self.key()
        c = r.randrange(9)
        if c == 0:
            return ["SETBIT", k, self.bit_offset(), r.choice(["0", "1", "1", "2", "x"])], False
        if c == 1:
            return ["GETBIT", k, self.bit_offset()], False
        if c == 2:
            return ["BITCOUNT", k] + self.bit_range(), False
        if c == 3:
            rng = self.bit_range()
            if rng and r.random() < 0.3:
                rng = rng[:1]  # start only
            return ["BITPOS", k, r.choice(["0", "1", "1", "2"])] + rng, False
        if c == 4:
            op = r.choice(["AND", "OR", "XOR", "NOT", "bogus"])
            return ["BITOP", op, self.key()] + self.keys_n(1, 3 if op != "NOT" else 1), False
        if c in (5, 6):
            args = ["BITFIELD" if c == 5 else "BITFIELD_RO", k]
            for _ in range(r.randint(1, 3)):
                sub = r.choice(["GET", "SET", "INCRBY", "OVERFLOW"] if c == 5 else ["GET", "GET", "SET"])
                if sub == "OVERFLOW":
                    args += ["OVERFLOW", r.choice(["WRAP", "SAT", "FAIL", "bad"])]
                    continue
                off = r.choice(["0", "3", "8", "#1", "#3", "100", "-1", "#x"])
                args += [sub, self.field_type(), off]
                if sub != "GET":
                    args.append(r.choice(["1", "-1", "100", "300", "-200", "127", "128",
                                          "9223372036854775807", "-9223372036854775808", "x"]))
            return args, False
        if c == 7:
            return ["SETBIT", k, str(r.randint(0, 40)), "1"], False
        return ["BITCOUNT", k], False

    def g_hll(self):
        r, k = self.r, self.key()
        c = r.randrange(6)
        if c in (0, 1):
            # Small adds stay sparse; big ones (and their sum) push the HLL dense.
            n = r.choice([0, 1, 3, 10, 50, 400])
            base = r.randint(0, 5000)
            return ["PFADD", k] + [f"e{base + i}" for i in range(n)], False
        if c == 2:
            return ["PFCOUNT", k], False
        if c == 3:
            return ["PFCOUNT"] + self.keys_n(2, 3), False
        if c == 4:
            return ["PFMERGE", k] + self.keys_n(0, 3), False
        return ["GET", k], False

    # Where geo search goes wrong first: near the poles' latitude limit, across the
    # antimeridian, at the origin, and inside a cluster tighter than one geohash cell.
    GEO_HOTSPOTS = [(0.0, 0.0), (179.995, 10.0), (-179.995, 10.0), (13.4, 85.04),
                    (-60.0, -85.04), (2.35, 48.85)]

    def lonlat(self):
        r = self.r
        if r.random() < 0.1:
            return [r.choice(["181", "-180", "180", "abc", "0", "nan", "inf"]),
                    r.choice(["85.06", "-85.05112878", "90", "x", "0"])]
        if r.random() < 0.4:
            lon, lat = r.choice(self.GEO_HOTSPOTS)
            lon = max(-180.0, min(180.0, lon + r.uniform(-0.02, 0.02)))
            lat = max(-85.05, min(85.05, lat + r.uniform(-0.02, 0.02)))
            return [f"{lon:.6f}", f"{lat:.6f}"]
        return [f"{r.uniform(-180, 180):.6f}", f"{r.uniform(-85.05, 85.05):.6f}"]

    def geosearch(self, k):
        r = self.r
        unit = r.choice(["m", "km", "mi", "ft", "bogus"])
        rad = r.choice(["0", "50", "1000", "3000", "500000", "5000000", "20000000", "-1", "x"])
        opts = r.sample(["WITHDIST", "WITHCOORD", "WITHHASH"], r.randint(0, 2))
        opts += r.choice([[], ["ASC"], ["DESC"]])
        opts += r.choice([[], [], ["COUNT", str(r.randint(1, 5))], ["COUNT", "2", "ANY"], ["ANY"]])
        frm = r.choice([["FROMLONLAT"] + self.lonlat(), ["FROMMEMBER", self.member()]])
        by = r.choice([["BYRADIUS", rad, unit], ["BYBOX", rad, r.choice(["1000", "9000000"]), unit]])
        kind = r.randrange(4)
        if kind == 0:
            return ["GEOSEARCH", k] + frm + by + opts
        if kind == 1:
            return ["GEORADIUS", k] + self.lonlat() + [rad, unit] + opts
        if kind == 2:
            return ["GEORADIUSBYMEMBER", k, self.member(), rad, unit] + opts
        store = [r.choice(["STORE", "STOREDIST"]), self.key()]
        return r.choice([["GEOSEARCHSTORE", self.key(), k] + frm + by + r.choice([[], ["STOREDIST"]]),
                         ["GEORADIUS", k] + self.lonlat() + [rad, unit] + store])

    def g_geo(self):
        r, k = self.r, self.key()
        c = r.randrange(7)
        if c == 0:
            args = ["GEOADD", k] + r.choice([[], [], ["NX"], ["XX"], ["CH"], ["NX", "CH"], ["NX", "XX"]])
            for _ in range(r.randint(1, 3)):
                args += self.lonlat() + [self.member()]
            if r.random() < 0.05:
                args.pop()
            return args, False
        if c == 1:
            return ["GEOPOS", k] + [self.member() for _ in range(r.randint(0, 3))], False
        if c == 2:
            return ["GEODIST", k, self.member(), self.member()] + r.choice(
                [[], ["km"], ["MI"], ["ft"], ["m"], ["parsec"], ["km", "x"]]), False
        if c == 3:
            return ["GEOHASH", k] + [self.member() for _ in range(r.randint(0, 3))], False
        if c in (5, 6):
            args = self.geosearch(k)
            # COUNT without ANY sorts with pqsort, whose order of equal distances is free.
            return args, "geo-count" if "COUNT" in args and "ANY" not in args else False
        return ["ZADD", k, r.choice(["-1", "1.5", "1e19", "-inf", "4503599627370495", "0"]),
                self.member()], False

    def g_key(self):
        r, k = self.r, self.key()
        c = r.randrange(18)
        if c == 0:
            return ["DEL"] + self.keys_n(), False
        if c == 1:
            return ["EXISTS"] + self.keys_n(), False
        if c == 2:
            return ["TYPE", k], False
        if c == 3:
            return ["RENAME", k, self.key()], False
        if c == 4:
            return ["RENAMENX", k, self.key()], False
        if c == 5:
            # Times differ from every other command's, so that GT/LT never compare two
            # expiries set within the same millisecond (Redis and Strata may round apart).
            return ["EXPIRE", k, r.choice(["1100", "2100", "0", "-1", "x"])] + \
                r.choice([[], [], ["NX"], ["XX"], ["GT"], ["LT"], ["NX", "XX"]]), False
        if c == 6:
            return ["PERSIST", k], False
        if c == 7:
            return ["TTL", k], False
        if c == 8:
            return ["PTTL", k] if False else ["EXPIRETIME", k], False
        if c == 9:
            return ["COPY", k, self.key()] + r.choice([[], ["REPLACE"]]), False
        if c == 10:
            return ["DBSIZE"], False
        if c == 11:
            return ["KEYS", r.choice(["*", "k1*", "k?", "k[1-3]", "*0"])], True
        if c == 12:
            return ["UNLINK"] + self.keys_n(), False
        if c == 13:
            return ["TOUCH"] + self.keys_n(), False
        if c == 14:
            return ["PEXPIRE", k, r.choice(["950000", "0", "x"])], False
        if c in (16, 17):
            # RESTORE of what Redis's DUMP of another key gives (the payload is fetched
            # when the command is sent): every encoding Redis picks for the keyspace so
            # far, into both servers.
            ttl, opts = r.choice([("0", []), ("900000", []), ("4102444800000", ["ABSTTL"]),
                                  ("1", ["ABSTTL"])])
            opts = opts + r.choice([[], ["REPLACE"], ["REPLACE"], ["IDLETIME", "5"]])
            return ["RESTORE", k, ttl, None] + opts, ("dump", self.key(), r.random() < 0.1)
        return self.sort(k)

    def sort(self, k):
        r = self.r
        args = ["SORT" if r.random() < 0.8 else "SORT_RO", k]
        by = r.choice([None, None, "k*", "nosort", "k*->m1", "*"])
        if by:
            args += ["BY", by]
        if r.random() < 0.3:
            args += ["LIMIT", r.choice(["0", "1", "-1", "5", "x"]), r.choice(["1", "2", "-1", "0"])]
        for _ in range(r.choice([0, 0, 1, 2])):
            args += ["GET", r.choice(["#", "k*", "k*->m1", "nokey", "*->m2"])]
        args += r.choice([[], ["DESC"], ["ASC"]])
        if r.random() < 0.6:
            args.append("ALPHA")
        store = args[0] == "SORT" and r.random() < 0.3
        if store:
            args += ["STORE", self.key()]
        return args, False

    def g_list(self):
        r, k = self.r, self.key()
        c = r.randrange(20)
        if c == 0:
            return ["LPUSH", k] + [self.member() for _ in range(r.randint(1, 4))], False
        if c == 1:
            return ["RPUSH", k] + [self.member() for _ in range(r.randint(1, 4))], False
        if c == 2:
            return ["LPOP", k] + r.choice([[], ["2"], ["0"], ["-1"]]), False
        if c == 3:
            return ["RPOP", k] + r.choice([[], ["3"]]), False
        if c == 4:
            return ["LRANGE", k, self.small_int(), self.small_int()], False
        if c == 5:
            return ["LINDEX", k, self.small_int()], False
        if c == 6:
            return ["LSET", k, self.small_int(), self.member()], False
        if c == 7:
            return ["LINSERT", k, r.choice(["BEFORE", "AFTER", "x"]), self.member(), self.member()], False
        if c == 8:
            return ["LREM", k, self.small_int(), self.member()], False
        if c == 9:
            return ["LTRIM", k, self.small_int(), self.small_int()], False
        if c == 10:
            return ["LLEN", k], False
        if c == 11:
            return ["LPOS", k, self.member()] + r.choice(
                [[], ["RANK", "2"], ["RANK", "-1"], ["COUNT", "0"], ["COUNT", "2"], ["RANK", "0"],
                 ["MAXLEN", "2"], ["RANK", "-2", "COUNT", "2"]]), False
        if c == 12:
            return ["LMOVE", k, self.key(), r.choice(["LEFT", "RIGHT"]), r.choice(["LEFT", "RIGHT"])], False
        if c == 13:
            return ["RPOPLPUSH", k, self.key()], False
        if c == 14:
            return ["LPUSHX", k, self.member()], False
        if c == 15:
            return ["RPUSHX", k, self.member()], False
        if c == 16:
            ks = self.keys_n(1, 3)
            return ["LMPOP", str(len(ks))] + ks + [r.choice(["LEFT", "RIGHT"])] + r.choice([[], ["COUNT", "2"]]), False
        if c == 17:
            return ["LPOP", k], False
        if c == 18:
            return ["RPUSH", k, self.member()], False
        return ["LRANGE", k, "0", "-1"], False

    def g_hash(self):
        r, k = self.r, self.key()
        c = r.randrange(15)
        f = self.member()
        if c == 0:
            args = ["HSET", k]
            for _ in range(r.randint(1, 3)):
                args += [self.member(), self.value()]
            return args, False
        if c == 1:
            return ["HGET", k, f], False
        if c == 2:
            return ["HMGET", k, f, self.member()], False
        if c == 3:
            return ["HDEL", k, f, self.member()], False
        if c == 4:
            return ["HLEN", k], False
        if c == 5:
            return ["HSTRLEN", k, f], False
        if c == 6:
            return ["HEXISTS", k, f], False
        if c == 7:
            return ["HKEYS", k], True
        if c == 8:
            return ["HVALS", k], True
        if c == 9:
            return ["HGETALL", k], "pairs"
        if c == 10:
            return ["HINCRBY", k, f, self.int_arg()], False
        if c == 11:
            return ["HINCRBYFLOAT", k, f, self.float_arg()], False
        if c == 12:
            return ["HSETNX", k, f, self.value()], False
        if c == 13:
            return ["HMSET", k, f, self.value()], False
        return ["HSET", k, f, self.value()], False

    def g_set(self):
        r, k = self.r, self.key()
        c = r.randrange(17)
        if c == 0:
            return ["SADD", k] + [self.member() for _ in range(r.randint(1, 4))], False
        if c == 1:
            return ["SREM", k] + [self.member() for _ in range(r.randint(1, 3))], False
        if c == 2:
            return ["SMEMBERS", k], True
        if c == 3:
            return ["SISMEMBER", k, self.member()], False
        if c == 4:
            return ["SMISMEMBER", k, self.member(), self.member()], False
        if c == 5:
            return ["SCARD", k], False
        if c in (6, 7, 8):
            return [["SINTER", "SUNION", "SDIFF"][c - 6]] + self.keys_n(), True
        if c in (9, 10, 11):
            return [["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"][c - 9], k] + self.keys_n(), False
        if c == 12:
            return ["SMOVE", k, self.key(), self.member()], False
        if c == 13:
            ks = self.keys_n(1, 3)
            return ["SINTERCARD", str(len(ks))] + ks + r.choice([[], ["LIMIT", "1"], ["LIMIT", "0"], ["LIMIT", "-1"]]), False
        if c == 14:
            return ["SADD", k, str(r.randint(0, 20))], False
        if c == 15:
            return ["SPOP", k, "0"], False
        return ["SRANDMEMBER", k, "0"], False

    def stream_id(self, bounds=False):
        r = self.r
        ids = ["0", "1", "2", "3", "5", "1-1", "2-0", "3-5", "4-*", "10", "0-0", "abc", "1-x",
               "18446744073709551615-18446744073709551615"]
        if bounds:
            ids += ["-", "+", "(1", "(2-0", "(-", "(+"]
        return r.choice(ids)

    def trim_opts(self):
        r = self.r
        c = r.random()
        if c < 0.6:
            return []
        strat = r.choice(["MAXLEN", "MINID", "maxlen", "LIMIT"])
        op = r.choice([[], [], ["="], ["~"]])
        val = self.small_int() if strat.upper() != "MINID" else self.stream_id()
        lim = r.choice([[], [], [], ["LIMIT", self.small_int()]])
        return [strat] + op + [val] + lim

    def g_stream(self):
        """Streams with explicit IDs (`*` takes the clock, which differs) and no BLOCK;
        XPENDING's extended form and XINFO CONSUMERS show idle times, so only the summary."""
        r, k = self.r, self.key()
        c = r.randrange(20)
        g = r.choice(["g1", "g2"])
        who = r.choice(["alice", "bob"])
        if c <= 4:
            nomk = ["NOMKSTREAM"] if r.random() < 0.1 else []
            fields = [self.member(), self.value()] * r.randint(1, 2)
            if r.random() < 0.05:
                fields = fields[:1]
            ms = str(r.randint(0, 40))
            id_ = r.choice([ms, ms + "-*", ms + "-" + str(r.randint(0, 3)), self.stream_id()])
            return ["XADD", k] + nomk + self.trim_opts() + [id_] + fields, False
        if c == 5:
            return ["XLEN", k], False
        if c == 6:
            cnt = r.choice([[], [], ["COUNT", self.small_int()]])
            return [r.choice(["XRANGE", "XREVRANGE"]), k, self.stream_id(True), self.stream_id(True)] + cnt, False
        if c == 7:
            return ["XDEL", k] + [self.stream_id() for _ in range(r.randint(1, 3))], False
        if c == 8:
            return ["XTRIM", k] + (self.trim_opts() or ["MAXLEN", self.small_int()]), False
        if c == 9:
            return ["XGROUP", "CREATE", k, g, r.choice(["$", "0", self.stream_id()])] + r.choice([[], ["MKSTREAM"], ["ENTRIESREAD", self.small_int()]]), False
        if c == 10:
            return r.choice([["XGROUP", "SETID", k, g, r.choice(["$", "0", self.stream_id()])],
                             ["XGROUP", "DESTROY", k, g],
                             ["XGROUP", "CREATECONSUMER", k, g, who],
                             ["XGROUP", "DELCONSUMER", k, g, who]]), False
        if c == 11:
            ids = [r.choice([">", ">", "0", self.stream_id()])]
            keys = [k]
            if r.random() < 0.2:
                keys.append(self.key())
                ids.append(r.choice([">", "0"]))
            opts = r.choice([[], ["COUNT", self.small_int()], ["NOACK"]])
            return ["XREADGROUP", "GROUP", g, who] + opts + ["STREAMS"] + keys + ids, False
        if c == 12:
            keys = self.keys_n(1, 2)
            ids = [r.choice(["$", "0", self.stream_id()]) for _ in keys]
            return ["XREAD"] + r.choice([[], ["COUNT", self.small_int()]]) + ["STREAMS"] + keys + ids, False
        if c == 13:
            return ["XACK", k, g] + [self.stream_id() for _ in range(r.randint(1, 3))], False
        if c == 14:
            return ["XPENDING", k, g], False
        if c == 15:
            opts = r.choice([[], ["JUSTID"], ["FORCE", "JUSTID"], ["RETRYCOUNT", "3", "JUSTID"], ["LASTID", self.stream_id()]])
            return ["XCLAIM", k, g, who, "0"] + [self.stream_id() for _ in range(r.randint(1, 2))] + opts, False
        if c == 16:
            return ["XAUTOCLAIM", k, g, who, "0", r.choice(["0", "-", self.stream_id()])] + r.choice([[], ["COUNT", "1"], ["JUSTID"]]), False
        if c == 17:
            return r.choice([["XINFO", "STREAM", k], ["XINFO", "GROUPS", k]]), False
        if c == 18:
            return ["XSETID", k, self.stream_id()] + r.choice([[], ["ENTRIESADDED", self.small_int()], ["MAXDELETEDID", self.stream_id()]]), False
        return ["TYPE", k], False

    def g_zset(self):
        r, k = self.r, self.key()
        c = r.randrange(30)
        if c == 0:
            flags = r.choice([[], [], ["NX"], ["XX"], ["GT"], ["LT"], ["CH"], ["GT", "CH"], ["NX", "GT"]])
            pairs = []
            for _ in range(r.randint(1, 3)):
                pairs += [self.float_arg(), self.member()]
            if r.random() < 0.1:
                flags = flags + ["INCR"]
                pairs = pairs[:2]
            return ["ZADD", k] + flags + pairs, False
        if c == 1:
            return ["ZREM", k, self.member(), self.member()], False
        if c == 2:
            return ["ZSCORE", k, self.member()], False
        if c == 3:
            return ["ZMSCORE", k, self.member(), self.member()], False
        if c == 4:
            return ["ZINCRBY", k, self.float_arg(), self.member()], False
        if c == 5:
            return ["ZCARD", k], False
        if c == 6:
            return ["ZCOUNT", k, self.score_bound(), self.score_bound()], False
        if c == 7:
            return ["ZRANGE", k, self.small_int(), self.small_int()] + r.choice([[], ["WITHSCORES"], ["REV"], ["REV", "WITHSCORES"]]), False
        if c == 8:
            lim = r.choice([[], ["LIMIT", "0", "2"], ["LIMIT", "1", "-1"]])
            return ["ZRANGE", k, self.score_bound(), self.score_bound(), "BYSCORE"] + r.choice([[], ["REV"]]) + lim + r.choice([[], ["WITHSCORES"]]), False
        if c == 9:
            return ["ZRANGE", k, self.lex_bound(), self.lex_bound(), "BYLEX"] + r.choice([[], ["REV"], ["LIMIT", "1", "2"]]), False
        if c == 10:
            return ["ZRANGEBYSCORE", k, self.score_bound(), self.score_bound()] + r.choice([[], ["WITHSCORES"], ["LIMIT", "1", "1"]]), False
        if c == 11:
            return ["ZREVRANGEBYSCORE", k, self.score_bound(), self.score_bound()] + r.choice([[], ["WITHSCORES"]]), False
        if c == 12:
            return ["ZRANGEBYLEX", k, self.lex_bound(), self.lex_bound()], False
        if c == 13:
            return ["ZLEXCOUNT", k, self.lex_bound(), self.lex_bound()], False
        if c == 14:
            return ["ZRANK", k, self.member()], False
        if c == 15:
            return ["ZREVRANK", k, self.member()], False
        if c == 16:
            return ["ZREMRANGEBYRANK", k, self.small_int(), self.small_int()], False
        if c == 17:
            return ["ZREMRANGEBYSCORE", k, self.score_bound(), self.score_bound()], False
        if c == 18:
            return ["ZREMRANGEBYLEX", k, self.lex_bound(), self.lex_bound()], False
        if c == 19:
            return [r.choice(["ZPOPMIN", "ZPOPMAX"]), k] + r.choice([[], ["2"], ["0"], ["-1"]]), False
        if c in (20, 21, 22):
            ks = self.keys_n(1, 3)
            extra = []
            if c != 22 and r.random() < 0.4:
                extra += ["WEIGHTS"] + [r.choice(["1", "2", "-1", "0.5", "x"]) for _ in ks]
            if c != 22 and r.random() < 0.4:
                extra += ["AGGREGATE", r.choice(["SUM", "MIN", "MAX", "AVG"])]
            name = ["ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE"][c - 20]
            return [name, k, str(len(ks))] + ks + extra, False
        if c in (23, 24, 25):
            ks = self.keys_n(1, 3)
            name = ["ZUNION", "ZINTER", "ZDIFF"][c - 23]
            return [name, str(len(ks))] + ks + r.choice([[], ["WITHSCORES"]]), False
        if c == 26:
            return ["ZRANGESTORE", k, self.key(), self.small_int(), self.small_int()], False
        if c == 27:
            ks = self.keys_n(1, 3)
            return ["ZMPOP", str(len(ks))] + ks + [r.choice(["MIN", "MAX"])] + r.choice([[], ["COUNT", "2"]]), False
        if c == 28:
            return ["ZINTERCARD", "2", k, self.key()], False
        return ["ZREVRANGE", k, "0", "-1", "WITHSCORES"], False


def sort_unspecified(cmd, kind):
    """Where Redis leaves a SORT's order unspecified: "skip" the command, compare the
    reply "unordered", or None (fully specified). `kind` is TYPE's reply for the key."""
    by = cmd[cmd.index("BY") + 1] if "BY" in cmd else None
    internal = kind in (("status", "set"), ("status", "zset"))
    if by is not None and "*" in by and "ALPHA" in cmd:
        # Ties of ALPHA BY keep the input order (a set's or sorted set's is Redis's
        # hash-table order), and with LIMIT Redis uses pqsort, which orders ties at random.
        if "LIMIT" in cmd or (internal and "STORE" in cmd):
            return "skip"
        return "unordered" if internal else None
    if by is not None and "*" not in by and kind == ("status", "set") and "STORE" not in cmd:
        # BY nosort returns a set in its internal order; LIMIT then picks unspecified members.
        return "skip" if "LIMIT" in cmd else "unordered"
    return None


def full_scan(conn, cmd):
    """Run a SCAN-family iteration to its end: the sorted distinct elements (pairs for
    HSCAN/ZSCAN), or the first error."""
    at = 1 if cmd[0] == "SCAN" else 2
    args, seen, rounds = list(cmd), set(), 0
    while True:
        reply = conn.call(*args)
        if not isinstance(reply, list):
            return reply
        cursor, items = reply
        if cmd[0] in ("HSCAN", "ZSCAN"):
            items = [tuple(items[i:i + 2]) for i in range(0, len(items), 2)]
        seen.update(items)
        rounds += 1
        if cursor == b"0" or rounds > 100000:
            return sorted(seen)
        args[at] = cursor


def normalize(reply, unordered):
    if unordered == "len":
        if isinstance(reply, list):
            return ("length", len(reply))
        if isinstance(reply, tuple) and reply[0] in ("set", "map"):
            return ("length", len(reply[1]))
        return reply if not isinstance(reply, bytes) else "one element"
    if unordered and isinstance(reply, tuple) and reply[0] in ("set", "map"):
        return reply  # RESP3 sets and maps arrive sorted (see Conn.reply)
    if not unordered or not isinstance(reply, list):
        return reply
    if unordered == "pairs":
        pairs = [tuple(reply[i : i + 2]) for i in range(0, len(reply), 2)]
        return sorted(pairs)
    return sorted(reply, key=repr)


# --- whole-keyspace comparison ---------------------------------------------------------


def dump(conn, current=0):
    """Every key of databases 0 and 1: type, value (canonical form), expiry time (Unix ms,
    negative: none). Leaves `current` selected."""
    out = {}
    for db in (0, 1):
        conn.call("SELECT", db)
        out.update({(db,) + (k,): v for k, v in dump_db(conn).items()})
    conn.call("SELECT", current)
    return out


def dump_db(conn):
    out = {}
    for key in sorted(conn.call("KEYS", "*")):
        t = conn.call("TYPE", key)[1]
        if t == "string":
            v = conn.call("GET", key)
        elif t == "list":
            v = conn.call("LRANGE", key, 0, -1)
        elif t == "hash":
            v = normalize(conn.call("HGETALL", key), "pairs")
        elif t == "set":
            v = normalize(conn.call("SMEMBERS", key), True)
        elif t == "zset":
            v = conn.call("ZRANGE", key, 0, -1, "WITHSCORES")
        elif t == "stream":
            # Entries, then the groups (names, PEL sizes, positions, counters and lag).
            v = (conn.call("XRANGE", key, "-", "+"), conn.call("XINFO", "STREAM", key)[:14],
                 conn.call("XINFO", "GROUPS", key))
        else:
            v = t
        out[key] = (t, v, conn.call("PEXPIRETIME", key))
    return out


def same_entry(x, y):
    """Same type and value, and expiry times (absolute, so the moment each server is read
    does not matter) within 2 s: a relative TTL was turned into a time by each server
    when it ran the command, moments apart."""
    if x is None or y is None:
        return x is y
    if x[:2] != y[:2]:
        return False
    tx, ty = x[2], y[2]
    return tx == ty if tx < 0 or ty < 0 else abs(tx - ty) <= 2000


def diff_dumps(a, b):
    lines = []
    for k in sorted(set(a) | set(b)):
        if not same_entry(a.get(k), b.get(k)):
            lines.append(f"  {k!r}: redis {a.get(k)!r} strata {b.get(k)!r}")
    return lines


# --- keyspace notifications (--notify) -------------------------------------------------

NOTIFY_PATTERN = b"__key*__:*"


def enable_notifications(conn, flags):
    """CONFIG SET on a command connection: a restarted server has forgotten it."""
    reply = conn.call("CONFIG", "SET", "notify-keyspace-events", flags)
    if reply != ("status", "OK"):
        raise RuntimeError(f"CONFIG SET notify-keyspace-events {flags}: {reply!r}")


class Subscriber:
    """A connection of its own, PSUBSCRIBEd to every keyspace and keyevent channel. It
    stays on RESP2 under --resp3: messages then are plain arrays, and PING in subscribed
    mode answers the array ["pong", ""]."""

    def __init__(self, port):
        self.conn = Conn(port)
        reply = self.conn.call("PSUBSCRIBE", NOTIFY_PATTERN)
        if reply != [b"psubscribe", NOTIFY_PATTERN, 1]:
            raise RuntimeError(f"PSUBSCRIBE on port {port}: {reply!r}")

    def take(self):
        """Every notification queued so far, in order, as (channel, message), minus expiry
        events. The server runs this PING after every command already answered on the
        other connection, and queues a command's messages before its reply, so all of
        them precede the pong."""
        self.conn.send("PING")
        out = []
        while True:
            frame = self.conn.reply()
            if frame == [b"pong", b""]:
                return [n for n in out if not is_expiry(n)]
            if not (isinstance(frame, list) and len(frame) == 4 and frame[0] == b"pmessage"):
                raise RuntimeError(f"subscriber got {frame!r}")
            out.append((frame[2], frame[3]))


def is_expiry(note):
    """An `expired` event, on either channel: active expiry deletes keys whenever each
    server's clock and sampling get to them, so these are not compared. (A command's
    own lookups of an expired key still give a `keymiss`, which is compared.)"""
    channel, message = note
    if channel.startswith(b"__keyevent@"):
        return channel.endswith(b"__:expired")
    return message == b"expired"


def notes_unordered(cmd, unordered):
    """Compare a command's notifications as a multiset: those whose reply is compared
    sorted, and SORT, whose BY lookups (keymiss events) follow the source's internal order
    (a set's hash-table order differs between processes, even between two Redis)."""
    return bool(unordered) or cmd[0] in ("SORT", "SORT_RO")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ops", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--keys", type=int, default=6)
    ap.add_argument("--check-every", type=int, default=500)
    ap.add_argument("--max-diffs", type=int, default=30)
    ap.add_argument("--restart", action="store_true")
    ap.add_argument("--restart-every", type=int, default=0, metavar="N",
                    help="also kill -9 and restart Strata every N commands (implies "
                    "--restart); half of the kills land during a BGREWRITEAOF")
    ap.add_argument("--resp3", action="store_true", help="speak RESP3 (HELLO 3) to both")
    ap.add_argument("--notify", action="store_true", help="also compare the keyspace "
                    "notifications each command emits (expired events excepted)")
    ap.add_argument("--notify-flags", default="KEAnm", metavar="FLAGS",
                    help="notify-keyspace-events for --notify (default KEAnm)")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--skip", default="", help="comma-separated commands not to send")
    ap.add_argument("--family", default="", help="only these generators, comma-separated "
                    "(string,bitmap,hll,geo,key,list,hash,set,zset,bad,db,random,scan)")
    ap.add_argument("--redis-port", type=int)
    ap.add_argument("--strata-port", type=int)
    ap.add_argument("--strata-bin", default=os.path.join(ROOT, "target/release/strata-server"))
    args = ap.parse_args()
    if args.restart_every:
        args.restart = True
    seed = args.seed if args.seed is not None else random.randrange(1 << 32)
    print(f"seed {seed}, {args.ops} commands over {args.keys} keys")

    tmp = tempfile.mkdtemp(prefix="strata-difftest-")
    procs = []
    try:
        rport, sport = args.redis_port, args.strata_port
        strata_cmd = None
        if rport is None:
            rport = free_port()
            if not shutil.which("redis-server"):
                print("redis-server not found (apt-get install -y redis-server)", file=sys.stderr)
                return 2
            rdir = os.path.join(tmp, "redis")
            os.mkdir(rdir)
            procs.append(start(["redis-server", "--port", str(rport), "--dir", rdir, "--save", "",
                                "--appendonly", "no"], rport, open(os.path.join(tmp, "redis.log"), "w")))
        if sport is None:
            sport = free_port()
            if not os.path.exists(args.strata_bin):
                print(f"{args.strata_bin} not found (cargo build --release)", file=sys.stderr)
                return 2
            sdir = os.path.join(tmp, "strata")
            strata_cmd = [args.strata_bin, "--port", str(sport), "--dir", sdir, "--save", ""]
            strata_cmd += ["--appendonly", "yes", "--appendfsync", "always"] if args.restart else ["--appendonly", "no"]
            procs.append(start(strata_cmd, sport, open(os.path.join(tmp, "strata.log"), "w")))
        red, sta = Conn(rport), Conn(sport)
        for c in (red, sta):
            c.call("FLUSHALL")
            c.call("FUNCTION", "LOAD", "REPLACE", LIBRARY)
            if args.resp3:
                c.call("HELLO", "3")
            if args.notify:
                enable_notifications(c, args.notify_flags)
        # [Redis's, Strata's] subscribers; Strata's is replaced on each restart.
        subs = [Subscriber(rport), Subscriber(sport)] if args.notify else []
        restarts = 0
        kill_rng = random.Random(seed + 1)  # apart from the generator's: same stream as without kills
        next_restart = args.restart_every

        def kill_and_restart(db):
            """SIGKILL Strata, start it again on its data directory, reconnect in `db`."""
            nonlocal restarts
            restarts += 1
            procs[-1].send_signal(signal.SIGKILL)
            procs[-1].wait()
            log = open(os.path.join(tmp, f"strata-restart-{restarts}.log"), "w")
            procs[-1] = start(strata_cmd, sport, log)
            c = Conn(sport)
            if args.resp3:
                c.call("HELLO", "3")
            c.call("SELECT", db)
            if args.notify:
                enable_notifications(c, args.notify_flags)
                subs[1] = Subscriber(sport)
            return c

        families = [f.strip() for f in args.family.split(",") if f.strip()]
        unknown = [f for f in families if not hasattr(Gen, "g_" + f)]
        if unknown:
            print(f"unknown family {unknown[0]!r}", file=sys.stderr)
            return 2
        gen = Gen(random.Random(seed), args.keys, families)
        db = 0  # both connections' selected database
        skip = {c.strip().upper() for c in args.skip.split(",") if c.strip()}
        diffs = 0
        notes_seen = 0
        quiet_at = None  # Conn.calls when the subscribers were last read
        units, i = [], 0
        while i < args.ops or units:
            if not units:
                units = gen.commands()
            cmd, unordered = units.pop(0)
            i += 1
            if cmd[0] in skip:
                continue
            if unordered == "geo-count":
                src = cmd[2] if cmd[0] == "GEOSEARCHSTORE" else cmd[1]
                members = red.call("ZRANGE", src, 0, -1)
                points = red.call("GEOPOS", src, *members) if isinstance(members, list) and members else []
                points = [repr(p) for p in points] if isinstance(points, list) else []
                if len(set(points)) != len(points):
                    continue  # members at the same point: the tie order is unspecified
                unordered = False
            if isinstance(unordered, tuple) and unordered[0] == "dump":
                payload = red.call("DUMP", unordered[1])
                if not isinstance(payload, bytes):
                    payload = b"\x00\x01x\x09\x00" + bytes(8)  # no such key: a bad checksum
                elif unordered[2]:
                    payload = payload[:-1] + bytes([payload[-1] ^ 1])  # checksum damaged
                cmd = cmd[:3] + [payload] + cmd[4:]
                unordered = False
            if cmd[0] in ("SORT", "SORT_RO"):
                how = sort_unspecified(cmd, red.call("TYPE", cmd[1]))
                if how == "skip":
                    continue
                unordered = unordered or how == "unordered"
            if subs and Conn.calls != quiet_at:
                for sub in subs:
                    sub.take()  # the harness's own lookups, dumps, restarts: not compared
            if unordered == "scan":
                a, b = full_scan(red, cmd), full_scan(sta, cmd)
            else:
                a = normalize(red.call(*cmd), unordered)
                b = normalize(sta.call(*cmd), unordered)
            if subs:
                na, nb = subs[0].take(), subs[1].take()
                quiet_at = Conn.calls
                notes_seen += len(na)
                if notes_unordered(cmd, unordered):
                    na, nb = sorted(na), sorted(nb)
            if cmd[0] == "SELECT" and a == ("status", "OK"):
                db = int(cmd[1])
            if args.verbose:
                print(i, cmd, a, *([na] if subs else []))
            if "PXAT" in cmd and cmd[cmd.index("PXAT") + 1] == "1":
                # Redis keeps a key set already expired until it is touched or its active
                # expiry finds it (DBSIZE counts it meanwhile); Strata drops it at once.
                # Touch it on both sides so that DBSIZE compares logical keys.
                red.call("EXISTS", cmd[1])
                sta.call("EXISTS", cmd[1])
            if a != b:
                print(f"#{i} {' '.join(map(repr, cmd))}\n  redis  {a!r}\n  strata {b!r}")
            if subs and na != nb:
                print(f"#{i} {' '.join(map(repr, cmd))}: notifications\n  redis  {na!r}\n  strata {nb!r}")
            if a != b or (subs and na != nb):
                diffs += 1  # once per command, reply and notifications alike
            restart_due = args.restart_every and strata_cmd is not None and i >= next_restart
            if (i % args.check_every == 0 or i >= args.ops or restart_due) and not units:
                lines = diff_dumps(dump(red, db), dump(sta, db))
                if lines:
                    diffs += 1
                    print(f"keyspace differs after command #{i}:")
                    print("\n".join(lines))
                    # Start the next stretch from the same state, so one divergence is reported once.
                    red.call("FLUSHALL")
                    sta.call("FLUSHALL")
                elif restart_due:
                    next_restart = i + args.restart_every
                    # Every write so far was acknowledged under `always`: after kill -9
                    # Strata must come back with exactly Redis's keyspace, also when the
                    # kill lands during a log rewrite.
                    rewriting = kill_rng.random() < 0.5
                    if rewriting:
                        sta.call("BGREWRITEAOF")
                    sta = kill_and_restart(db)
                    lines = diff_dumps(dump(red, db), dump(sta, db))
                    if lines:
                        diffs += 1
                        when = " killed during BGREWRITEAOF" if rewriting else ""
                        print(f"keyspace after kill -9{when} and restart at #{i} differs:")
                        print("\n".join(lines))
                        red.call("FLUSHALL")
                        sta.call("FLUSHALL")
            if diffs >= args.max_diffs:
                print(f"stopping after {diffs} differences")
                break

        if args.restart and strata_cmd is not None and diffs < args.max_diffs:
            expected = dump(sta, db)
            sta = kill_and_restart(db)
            lines = diff_dumps(expected, dump(sta, db))
            if lines:
                diffs += 1
                print("keyspace after kill -9 and restart differs from before (left: before):")
                print("\n".join(lines))
            else:
                print(f"{restarts} restart(s); the last: {len(expected)} keys replayed identically")
        if subs:
            print(f"{notes_seen} keyspace notifications from Redis compared")
        print(f"{'OK' if diffs == 0 else 'FAIL'}: {diffs} difference(s) in {i} commands (seed {seed})")
        return 0 if diffs == 0 else 1
    except (RuntimeError, OSError) as e:
        print(f"setup error: {e}", file=sys.stderr)
        return 2
    finally:
        for p in procs:
            p.kill()
            p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
