#!/usr/bin/env python3
"""Eviction quality and memory under churn, against running servers (run it once per
server, e.g. Strata on 6379 and redis-server on 7001, and compare the lines):

  benches/eviction_memory.py hotset PORT [POLICY] [HEADROOM] [ROUNDS]
      5,000 hot keys of 100 bytes, maxmemory = used_memory + HEADROOM (default 2000000)
      under POLICY (default allkeys-lru), then ROUNDS (default 200) rounds of 100 new keys
      and 200 reads of random hot keys, 50 ms apart. Prints how many hot keys are left,
      the keys held and the bytes counted per key. (Resets maxmemory and the policy.)
  benches/eviction_memory.py churn PORT [KEYS] [ROUNDS]
      KEYS (default 200000) keys of 100 bytes, then ROUNDS (default 20) rounds deleting a
      random 10% and writing as many new ones. Prints used_memory growth per key after
      the load and after the rounds.

Both FLUSHALL the server first and at the end."""
import random
import socket
import sys
import time


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.f = self.s.makefile("rb")

    @staticmethod
    def enc(args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        return b"".join(out)

    def read(self):
        line = self.f.readline()
        kind, rest = line[:1], line[1:-2]
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self.f.read(n + 2)[:-2]
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        if kind == b":":
            return int(rest)
        if kind == b"-":
            raise RuntimeError(rest.decode())
        return rest

    def call(self, *args):
        self.s.sendall(self.enc(args))
        return self.read()

    def pipe(self, cmds, chunk=1000):
        out = []
        for i in range(0, len(cmds), chunk):
            part = cmds[i:i + chunk]
            self.s.sendall(b"".join(self.enc(c) for c in part))
            out += [self.read() for _ in part]
        return out

    def info(self, section, field):
        text = self.call("INFO", section).decode()
        return int(next(l.split(":")[1] for l in text.split("\r\n") if l.startswith(field + ":")))


VALUE = b"x" * 100


def hotset(c, policy, headroom, rounds):
    c.call("FLUSHALL")
    c.call("CONFIG", "SET", "maxmemory", "0")
    c.call("CONFIG", "SET", "maxmemory-policy", policy)
    base = c.info("memory", "used_memory")
    c.call("CONFIG", "SET", "maxmemory", base + headroom)
    evicted0 = c.info("stats", "evicted_keys")
    hot = [f"hot:{i}" for i in range(5000)]
    c.pipe([["SET", k, VALUE] for k in hot])
    rng = random.Random(1)
    for r in range(rounds):
        cmds = [["SET", f"cold:{r}:{i}", VALUE] for i in range(100)]
        cmds += [["GET", rng.choice(hot)] for _ in range(200)]
        c.pipe(cmds)
        time.sleep(0.05)
    kept = sum(c.pipe([["EXISTS", k] for k in hot]))
    keys = c.call("DBSIZE")
    used = c.info("memory", "used_memory")
    evicted = c.info("stats", "evicted_keys") - evicted0
    print(f"{policy}: hot keys kept {kept}/5000, keys held {keys}, evicted {evicted}, "
          f"{(used - base) / keys:.0f} bytes per key counted")
    c.call("CONFIG", "SET", "maxmemory", "0")
    c.call("CONFIG", "SET", "maxmemory-policy", "noeviction")
    c.call("FLUSHALL")


def churn(c, n, rounds):
    c.call("FLUSHALL")
    base = c.info("memory", "used_memory")
    live = [f"k:{i}" for i in range(n)]
    c.pipe([["SET", k, VALUE] for k in live])
    loaded = c.info("memory", "used_memory")
    rng, nxt = random.Random(7), n
    for _ in range(rounds):
        rng.shuffle(live)
        gone, live = live[:n // 10], live[n // 10:]
        new = [f"k:{nxt + i}" for i in range(n // 10)]
        nxt += n // 10
        c.pipe([["DEL", k] for k in gone] + [["SET", k, VALUE] for k in new])
        live += new
    after = c.info("memory", "used_memory")
    print(f"{n} keys of 100 bytes: {(loaded - base) / n:.1f} bytes per key after the load, "
          f"{(after - base) / n:.1f} after {rounds} rounds replacing 10%")
    c.call("FLUSHALL")


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ("hotset", "churn"):
        print(__doc__, file=sys.stderr)
        return 2
    c = Conn(int(sys.argv[2]))
    rest = sys.argv[3:]
    if sys.argv[1] == "hotset":
        policy = rest[0] if rest else "allkeys-lru"
        headroom = int(rest[1]) if len(rest) > 1 else 2_000_000
        rounds = int(rest[2]) if len(rest) > 2 else 200
        hotset(c, policy, headroom, rounds)
    else:
        churn(c, int(rest[0]) if rest else 200_000, int(rest[1]) if len(rest) > 1 else 20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
