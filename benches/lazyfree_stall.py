#!/usr/bin/env python3
"""How long a big deletion holds other clients, against a running server (run it once per
server, e.g. Strata on 6379 and redis-server on 7001, both with `enable-debug-command
yes`, and compare the lines):

  benches/lazyfree_stall.py PORT [FIELDS] [KEYS]

For each of UNLINK and DEL of a hash of FIELDS (default 2,000,000) fields, and FLUSHALL
ASYNC and FLUSHALL SYNC of KEYS (default 3,000,000) keys made by DEBUG POPULATE: the
command's reply time and the worst round trip of a second connection sending PING back
to back meanwhile. FLUSHALLs the server first and at the end."""
import socket
import sys
import threading
import time

from eviction_memory import Conn


def conn(port):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def fill_hash(c, key, fields):
    cmds = []
    for j in range(0, fields, 100):
        args = ["HSET", key]
        for k in range(j, min(fields, j + 100)):
            args += ["field:%d" % k, "value:%d" % k]
        cmds.append(args)
    c.pipe(cmds, chunk=100)


def timed(port, *args):
    worst = [0.0]
    stop = threading.Event()

    def probe():
        p = conn(port)
        while not stop.is_set():
            t = time.perf_counter()
            p.sendall(b"*1\r\n$4\r\nPING\r\n")
            p.recv(64)
            worst[0] = max(worst[0], time.perf_counter() - t)

    th = threading.Thread(target=probe)
    th.start()
    time.sleep(0.3)
    c = Conn(port)
    t = time.perf_counter()
    reply = c.call(*args)
    took = time.perf_counter() - t
    time.sleep(1.0)
    stop.set()
    th.join()
    print(f"{' '.join(map(str, args)):<22} reply {took * 1000:8.1f} ms  worst PING "
          f"{worst[0] * 1000:8.1f} ms  ({reply!r})")


def main():
    port = int(sys.argv[1])
    fields = int(sys.argv[2]) if len(sys.argv) > 2 else 2_000_000
    keys = int(sys.argv[3]) if len(sys.argv) > 3 else 3_000_000
    c = Conn(port)
    c.call("FLUSHALL")
    for cmd in ("UNLINK", "DEL"):
        fill_hash(c, "bighash", fields)
        timed(port, cmd, "bighash")
    for mode in ("ASYNC", "SYNC"):
        c.call("DEBUG", "POPULATE", keys)
        timed(port, "FLUSHALL", mode)
    c.call("FLUSHALL")


if __name__ == "__main__":
    main()
