#!/usr/bin/env python3
"""Round-trip latency of SET alone and of SET + WAITAOF 1 0 0 (one client, N round trips)
against a running server: benches/waitaof_latency.py PORT [N]. Prints p50 and p99 in us."""
import socket, statistics, sys, time
port = int(sys.argv[1])
n = int(sys.argv[2]) if len(sys.argv) > 2 else 300
s=socket.create_connection(("127.0.0.1",port)); s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
def rt(payload, nreplies):
    s.sendall(payload); buf=b""
    while buf.count(b"\r\n") < nreplies: buf+=s.recv(4096)
def timeit(payload, k):
    ts=[]
    for i in range(n):
        t=time.perf_counter(); rt(payload, k); ts.append((time.perf_counter()-t)*1e6)
    ts.sort(); return statistics.median(ts), ts[int(len(ts)*0.99)-1]
a=timeit(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n",1)
b=timeit(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*4\r\n$7\r\nWAITAOF\r\n$1\r\n1\r\n$1\r\n0\r\n$1\r\n0\r\n",4)
print(f"SET alone p50 {a[0]:.0f} us p99 {a[1]:.0f} us; SET+WAITAOF p50 {b[0]:.0f} us p99 {b[1]:.0f} us")
