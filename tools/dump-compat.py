#!/usr/bin/env python3
"""DUMP/RESTORE compatibility both ways between Redis and Strata.

Writes random values of every type into a real Redis (sizes chosen to reach every
listpack/intset/quicklist/LZF encoding Redis 7.0 uses), moves each key to Strata with
DUMP + RESTORE, moves it back to Redis from Strata's DUMP, and compares contents and
TTLs. Exit status 1 on any difference.

With --rdb VERIFY_AOF, the keys go over as a whole instead: Redis SAVEs its RDB file,
`VERIFY_AOF import-rdb` turns it into RESTORE commands, they are sent to Strata, and
every key is compared.

Usage: tools/dump-compat.py REDIS_PORT STRATA_PORT [--keys N] [--seed S] [--rdb VERIFY_AOF]
"""
import argparse
import os
import random
import subprocess
import sys

from difftest import Conn  # the RESP client difftest uses (same directory)


OK = ("status", "OK")


def element(rng):
    kind = rng.random()
    if kind < 0.3:  # integers of every listpack/intset width
        bits = rng.choice([6, 12, 15, 23, 31, 63])
        return str(rng.randint(-(2**bits), 2**bits - 1)).encode()
    if kind < 0.4:  # compressible, long enough for LZF and 12/32-bit listpack strings
        return (rng.choice([b"ab", b"xyz0", b"-"]) * rng.choice([10, 40, 700, 3000]))
    n = rng.choice([0, 1, 5, 20, 63, 64, 100, 5000])
    return bytes(rng.randrange(256) for _ in range(n))


def fill(r, key, rng):
    t = rng.choice(["string", "list", "set", "intset", "hash", "zset"])
    n = rng.choice([1, 3, 10, 130, 600])
    if t == "string":
        r.call("SET", key, element(rng))
    elif t == "list":
        r.call("RPUSH", key, *[element(rng) for _ in range(n)])
    elif t == "set":
        r.call("SADD", key, *[element(rng) for _ in range(n)])
    elif t == "intset":
        r.call("SADD", key, *[rng.randint(-(2**rng.choice([15, 31, 63])), 2**15) for _ in range(n)])
    elif t == "hash":
        args = []
        for _ in range(n):
            args += [element(rng), element(rng)]
        r.call("HSET", key, *args)
    else:
        args = []
        for _ in range(n):
            s = rng.choice([rng.randint(-1000, 1000), rng.uniform(-1e9, 1e9), "inf", "-inf", 0.1])
            args += [s, element(rng)]
        r.call("ZADD", key, *args)
    if rng.random() < 0.3:
        r.call("PEXPIRE", key, rng.randint(60_000, 10_000_000))


def contents(r, key):
    t = r.call("TYPE", key)[1]
    if t == "string":
        v = r.call("GET", key)
    elif t == "list":
        v = r.call("LRANGE", key, 0, -1)
    elif t == "set":
        v = sorted(r.call("SMEMBERS", key))
    elif t == "hash":
        v = sorted(zip(*[iter(r.call("HGETALL", key))] * 2))
    else:
        v = r.call("ZRANGE", key, 0, -1, "WITHSCORES")
    return t, v, r.call("PEXPIRETIME", key)


def via_rdb(a, rng, redis, strata):
    for i in range(a.keys):
        fill(redis, f"k:{i}", rng)
    assert redis.call("SAVE") == OK
    path = os.path.join(redis.call("CONFIG", "GET", "dir")[1],
                        redis.call("CONFIG", "GET", "dbfilename")[1])
    cmds = subprocess.run([a.rdb, "import-rdb", path], check=True, capture_output=True).stdout
    strata.sock.sendall(cmds)
    replies = [strata.reply() for _ in range(a.keys)]
    bad = sum(r != OK for r in replies)
    for i in range(a.keys):
        key = f"k:{i}"
        if contents(redis, key) != contents(strata, key):
            bad += 1
            print(f"{key}: differs after import-rdb", file=sys.stderr)
    print(f"{a.keys} keys moved Redis -> RDB file -> import-rdb -> Strata, {bad} differ")
    return 1 if bad else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("redis_port", type=int)
    ap.add_argument("strata_port", type=int)
    ap.add_argument("--keys", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rdb", metavar="VERIFY_AOF", help="move the keys with import-rdb")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    redis, strata = Conn(a.redis_port), Conn(a.strata_port)
    redis.call("FLUSHALL")
    strata.call("FLUSHALL")
    if a.rdb:
        sys.exit(via_rdb(a, rng, redis, strata))
    bad = 0
    for i in range(a.keys):
        key = f"k:{i}"
        fill(redis, key, rng)
        want = contents(redis, key)
        pttl = max(redis.call("PTTL", key), 0)
        ttl = want[2] if pttl else 0
        restored = strata.call("RESTORE", key, ttl, redis.call("DUMP", key), "ABSTTL")
        got = contents(strata, key)
        back = f"back:{i}"
        restored_back = redis.call("RESTORE", back, ttl, strata.call("DUMP", key), "ABSTTL")
        again = contents(redis, back)
        if restored != OK or restored_back != OK:
            bad += 1
            print(f"{key}: RESTORE in Strata {restored}, back in Redis {restored_back}",
                  file=sys.stderr)
            continue
        if got != want or again != want:
            bad += 1
            print(f"{key}: redis {want[0]} ttl {want[2]}, strata {got[0]} ttl {got[2]}, "
                  f"back in redis {again[0]} ttl {again[2]}: contents differ", file=sys.stderr)
    print(f"{a.keys} keys moved Redis -> Strata -> Redis, {bad} differ")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
