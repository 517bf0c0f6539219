#!/usr/bin/env python3
"""Soak-test clients for benches/soak.sh (standard library only, raw RESP).

  soak.py load      --port P --conns N --duration S --rate R --state FILE
      N well-behaved connections; each, R times a second: GET of a random key it wrote,
      SET of a new unique key s:<conn>:<n>, or INCR c:<conn>. Writes FILE (JSON) with,
      per connection, how many SETs and INCRs were acknowledged (+OK / :n received) and
      attempted, and prints latency percentiles of every request.
  soak.py probe     --port P --duration S [--label L]
      One connection doing SET/GET pairs back to back with a 5 ms pause: latency p50/p99.
  soak.py misbehave --port P --duration S --count N
      N bad clients, in equal groups: garbage bytes, slow-loris (one byte per second),
      never-reading subscribers (with a publisher flooding their channel), huge bulk
      headers (one over proto-max-bulk-len, one under it and trickled). They reconnect
      whenever the server cuts them off and count how often that happened.
  soak.py verify    --port P --state FILE
      After a restart: every acknowledged SET key holds its value, every counter is at
      least its acknowledged INCRs (and at most the attempts). Exit 1 on any loss.
"""

import argparse
import asyncio
import json
import os
import random
import sys
import time


class RespError(Exception):
    pass


async def read_reply(r):
    line = await r.readline()
    if not line:
        raise ConnectionError("closed")
    t, rest = line[:1], line[1:-2]
    if t == b"+":
        return rest.decode()
    if t == b"-":
        return RespError(rest.decode())
    if t == b":":
        return int(rest)
    if t == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = await r.readexactly(n + 2)
        return data[:-2]
    if t == b"*":
        n = int(rest)
        if n < 0:
            return None
        return [await read_reply(r) for _ in range(n)]
    raise ConnectionError(f"bad reply type {line!r}")


def encode(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, int):
            a = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


async def call(r, w, *args):
    w.write(encode(*args))
    await w.drain()
    return await read_reply(r)


def pct(lat, p):
    if not lat:
        return float("nan")
    s = sorted(lat)
    return s[min(len(s) - 1, int(len(s) * p / 100.0))]


def summary(name, lat):
    return (
        f"{name}: requests={len(lat)} p50={pct(lat, 50) * 1000:.2f}ms "
        f"p99={pct(lat, 99) * 1000:.2f}ms p99.9={pct(lat, 99.9) * 1000:.2f}ms "
        f"max={max(lat) * 1000 if lat else float('nan'):.2f}ms"
    )


# ---------------------------------------------------------------- load


async def load_conn(i, a, deadline, state, lat, errors):
    st = state[i] = {"set_ack": 0, "set_try": 0, "incr_ack": 0, "incr_try": 0}
    await asyncio.sleep(random.random() * a.ramp)
    try:
        r, w = await asyncio.open_connection("127.0.0.1", a.port)
    except OSError as e:
        errors["connect"] = errors.get("connect", 0) + 1
        st["error"] = str(e)
        return
    period = 1.0 / a.rate
    try:
        while time.monotonic() < deadline:
            await asyncio.sleep(period * (0.5 + random.random()))
            x = random.random()
            t0 = time.monotonic()
            if x < 0.4 and st["set_ack"] > 0:
                n = random.randrange(st["set_ack"])
                v = await call(r, w, "GET", f"s:{i}:{n}")
                if v != f"{i}:{n}".encode():
                    errors["bad_get"] = errors.get("bad_get", 0) + 1
            elif x < 0.7:
                n = st["set_try"]
                st["set_try"] += 1
                v = await call(r, w, "SET", f"s:{i}:{n}", f"{i}:{n}")
                if v == "OK":
                    st["set_ack"] = n + 1
                else:
                    # Keys are written in order: stop counting at the first failure.
                    errors[str(v)[:60]] = errors.get(str(v)[:60], 0) + 1
                    break
            else:
                st["incr_try"] += 1
                v = await call(r, w, "INCR", f"c:{i}")
                if isinstance(v, int):
                    st["incr_ack"] += 1
                else:
                    errors[str(v)[:60]] = errors.get(str(v)[:60], 0) + 1
            lat.append(time.monotonic() - t0)
    except (ConnectionError, OSError, asyncio.IncompleteReadError) as e:
        errors["disconnected"] = errors.get("disconnected", 0) + 1
        st["error"] = str(e)
    finally:
        w.close()


async def load(a):
    deadline = time.monotonic() + a.duration
    state, lat, errors = {}, [], {}
    await asyncio.gather(
        *(load_conn(i, a, deadline, state, lat, errors) for i in range(a.conns))
    )
    with open(a.state, "w") as f:
        json.dump(state, f)
    ok = sum(1 for s in state.values() if "error" not in s)
    print(summary(f"load ({a.conns} connections, {ok} stayed up)", lat))
    print(f"load: acknowledged SETs={sum(s['set_ack'] for s in state.values())} "
          f"INCRs={sum(s['incr_ack'] for s in state.values())} errors={errors}")


# ---------------------------------------------------------------- probe


async def probe(a):
    r, w = await asyncio.open_connection("127.0.0.1", a.port)
    deadline = time.monotonic() + a.duration
    lat = []
    n = 0
    while time.monotonic() < deadline:
        t0 = time.monotonic()
        await call(r, w, "SET", f"probe:{n % 1000}", "v" * 32)
        t1 = time.monotonic()
        await call(r, w, "GET", f"probe:{n % 1000}")
        t2 = time.monotonic()
        lat += [t1 - t0, t2 - t1]
        n += 1
        await asyncio.sleep(0.005)
    print(summary(f"probe[{a.label}]", lat))


# ---------------------------------------------------------------- misbehave


async def garbage(a, deadline, stats):
    while time.monotonic() < deadline:
        try:
            r, w = await asyncio.open_connection("127.0.0.1", a.port)
            w.write(os.urandom(64 * 1024))
            await w.drain()
            while await r.read(65536):
                pass
            stats["garbage_closed"] += 1
            w.close()
        except (ConnectionError, OSError):
            stats["garbage_closed"] += 1
        await asyncio.sleep(1)


async def slowloris(a, deadline, stats):
    cmd = encode("SET", "slowloris", "value")
    while time.monotonic() < deadline:
        try:
            r, w = await asyncio.open_connection("127.0.0.1", a.port)
            for b in cmd:
                if time.monotonic() > deadline:
                    break
                w.write(bytes([b]))
                await w.drain()
                await asyncio.sleep(1)
            else:
                await read_reply(r)
                stats["slowloris_done"] += 1
            w.close()
        except (ConnectionError, OSError, asyncio.IncompleteReadError):
            stats["slowloris_closed"] += 1
            await asyncio.sleep(1)


async def deaf_subscriber(a, deadline, stats):
    while time.monotonic() < deadline:
        try:
            r, w = await asyncio.open_connection("127.0.0.1", a.port, limit=1024)
            w.write(encode("SUBSCRIBE", "flood"))
            await w.drain()
            # Never read; wait until the server cuts us off (the write side errors).
            while time.monotonic() < deadline:
                await asyncio.sleep(1)
                if r.at_eof() or w.is_closing():
                    break
                try:
                    w.write(b"")
                    await w.drain()
                except (ConnectionError, OSError):
                    break
                # A closed socket shows up as EOF: peek one byte a second (1 B/s is as
                # good as deaf next to the flood).
                try:
                    if await asyncio.wait_for(r.read(1), 0.01) == b"":
                        break
                except asyncio.TimeoutError:
                    pass
                except ConnectionError:
                    break
            stats["subscriber_cycles"] += 1
            w.close()
        except (ConnectionError, OSError):
            stats["subscriber_cycles"] += 1
            await asyncio.sleep(1)


async def publisher(a, deadline, stats):
    r, w = await asyncio.open_connection("127.0.0.1", a.port)
    msg = "m" * 4096
    while time.monotonic() < deadline:
        await call(r, w, "PUBLISH", "flood", msg)
        stats["published"] += 1
        await asyncio.sleep(0.002)
    w.close()


async def huge_bulk(a, deadline, stats, k):
    while time.monotonic() < deadline:
        try:
            r, w = await asyncio.open_connection("127.0.0.1", a.port)
            if k % 2 == 0:
                # Over proto-max-bulk-len: an error and a closed connection.
                w.write(b"*2\r\n$3\r\nGET\r\n$2000000000\r\n")
                await w.drain()
                reply = await r.readline()
                stats["huge_refused"] += reply.startswith(b"-ERR")
                await r.read()
                await asyncio.sleep(1)
            else:
                # Under it (400 MB announced), trickled at 4 KB/s.
                w.write(b"*3\r\n$3\r\nSET\r\n$4\r\nhuge\r\n$400000000\r\n")
                while time.monotonic() < deadline:
                    w.write(b"x" * 4096)
                    await w.drain()
                    await asyncio.sleep(1)
            w.close()
        except (ConnectionError, OSError, asyncio.IncompleteReadError):
            stats["huge_closed"] += 1
            await asyncio.sleep(1)


async def misbehave(a):
    deadline = time.monotonic() + a.duration
    stats = {k: 0 for k in [
        "garbage_closed", "slowloris_done", "slowloris_closed", "subscriber_cycles",
        "published", "huge_refused", "huge_closed"]}
    kinds = [garbage, slowloris, deaf_subscriber, huge_bulk]
    tasks = [publisher(a, deadline, stats)]
    for k in range(a.count):
        f = kinds[k % len(kinds)]
        tasks.append(f(a, deadline, stats, k // len(kinds)) if f is huge_bulk else f(a, deadline, stats))
    await asyncio.gather(*tasks, return_exceptions=True)
    print(f"misbehaving clients ({a.count}): {stats}")


# ---------------------------------------------------------------- verify


async def verify(a):
    with open(a.state) as f:
        state = json.load(f)
    r, w = await asyncio.open_connection("127.0.0.1", a.port)
    lost_sets = lost_incrs = checked_sets = 0
    for i, st in state.items():
        n = st["set_ack"]
        for start in range(0, n, 500):
            keys = [f"s:{i}:{j}" for j in range(start, min(n, start + 500))]
            vals = await call(r, w, "MGET", *keys)
            for j, v in zip(range(start, start + len(keys)), vals):
                checked_sets += 1
                if v != f"{i}:{j}".encode():
                    lost_sets += 1
        c = await call(r, w, "GET", f"c:{i}")
        c = int(c) if c is not None else 0
        if c < st["incr_ack"] or c > st["incr_try"]:
            lost_incrs += 1
    acked_incrs = sum(s["incr_ack"] for s in state.values())
    print(f"verify after restart: {checked_sets} acknowledged SETs checked, {lost_sets} lost; "
          f"{len(state)} counters ({acked_incrs} acknowledged INCRs) checked, {lost_incrs} wrong")
    return 1 if lost_sets or lost_incrs else 0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["load", "probe", "misbehave", "verify"])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--duration", type=float, default=60)
    p.add_argument("--conns", type=int, default=5000)
    p.add_argument("--rate", type=float, default=2.0)
    p.add_argument("--ramp", type=float, default=10.0)
    p.add_argument("--count", type=int, default=20)
    p.add_argument("--state", default="soak-state.json")
    p.add_argument("--label", default="")
    a = p.parse_args()
    fn = {"load": load, "probe": probe, "misbehave": misbehave, "verify": verify}[a.mode]
    rc = asyncio.run(fn(a))
    sys.exit(rc or 0)


if __name__ == "__main__":
    main()
