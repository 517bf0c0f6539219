#!/usr/bin/env bash
# benches/appendonly-switch.sh — what does `CONFIG SET appendonly yes` cost a running
# server, side by side with redis-server?
#
# Per policy and server: start with the log off, fill KEYS keys of 64 bytes (DEBUG
# POPULATE), then, while one connection PINGs back to back and another SETs back to back,
# send CONFIG SET appendonly yes and poll INFO until the log is complete (no rewrite in
# progress or scheduled). Prints medians over REPS of: the CONFIG SET reply time, the
# worst PING and the worst SET round trip from the switch until the log was complete,
# and how long that took. Redis forks to write the AOF base and answers writes at once
# meanwhile (they are not in a recoverable AOF until its rewrite ends); Strata writes the
# base from its fork-free snapshot, and under `always` a write's reply waits until the
# base is installed, so its worst SET is the honest time to durability.
#
# env: REPS=3, KEYS=1000000, POLICIES="everysec always"
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
REPS=${REPS:-3}
KEYS=${KEYS:-1000000}
POLICIES=${POLICIES:-"everysec always"}
ensure_redis_tools
build_strata
bench_workdir strata-appendonly-switch
bench_traps

# probe PORT -> "reply_ms worst_ping_ms worst_set_ms done_s"
probe() {
  python3 - "$1" <<'PY'
import socket, sys, threading, time
port = int(sys.argv[1])

def conn():
    c = socket.create_connection(("127.0.0.1", port))
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return c

def call(c, cmd):
    c.sendall(cmd)
    data = b""
    while not data.endswith(b"\r\n"):
        data += c.recv(65536)
    return data

def info(c):
    c.sendall(b"INFO persistence\r\n")
    data = c.recv(65536)
    n = int(data[1:data.index(b"\r\n")])
    while len(data) < n + len(str(n)) + 5:
        data += c.recv(65536)
    return dict(l.split(":", 1) for l in data.decode().split("\r\n")[1:] if ":" in l)

switched, stop = [0.0], [False]
worst = {"ping": 0.0, "set": 0.0}
def loop(kind, cmd):
    c = conn()
    while not stop[0]:
        t = time.perf_counter()
        call(c, cmd)
        if switched[0] and t >= switched[0]:
            worst[kind] = max(worst[kind], time.perf_counter() - t)
threads = [threading.Thread(target=loop, args=("ping", b"PING\r\n")),
           threading.Thread(target=loop, args=("set", b"SET probe:key x\r\n"))]
for th in threads:
    th.start()
time.sleep(0.3)
c = conn()
switched[0] = time.perf_counter()
reply = call(c, b"CONFIG SET appendonly yes\r\n")
took = time.perf_counter() - switched[0]
while True:
    i = info(c)
    if (i.get("aof_enabled") == "1" and i.get("aof_rewrite_in_progress") == "0"
            and i.get("aof_rewrite_scheduled") == "0"):
        break
    time.sleep(0.01)
done = time.perf_counter() - switched[0]
time.sleep(0.2)
stop[0] = True
for th in threads:
    th.join()
if not reply.startswith(b"+OK"):
    sys.exit(f"CONFIG SET appendonly yes failed: {reply!r}")
print(f"{took * 1e3:.2f} {worst['ping'] * 1e3:.2f} {worst['set'] * 1e3:.2f} {done:.2f}")
PY
}

servers=(redis strata)
declare -A R
port=$(free_port 6433)
for rep in $(seq 1 "$REPS"); do
  for pol in $POLICIES; do
    for s in "${servers[@]}"; do
      case $s in
        redis) bin=$REDIS_SERVER ;;
        strata) bin=$STRATA_BIN ;;
      esac
      start_server "$s" "$bin" "$port" --save "" --appendonly no --appendfsync "$pol" \
        --enable-debug-command yes
      redis-cli -p "$port" DEBUG POPULATE "$KEYS" key 64 >/dev/null
      R[$s-$pol-$rep]=$(probe "$port")
      echo "rep $rep $pol $s: reply / worst PING / worst SET ms, done s: ${R[$s-$pol-$rep]}" >&2
      stop_server "$s"
    done
  done
done
echo
echo "CONFIG SET appendonly yes with $KEYS keys (medians of $REPS):"
echo
echo "| policy | server | reply (ms) | worst PING (ms) | worst SET (ms) | log complete after (s) |"
echo "| --- | --- | ---: | ---: | ---: | ---: |"
for pol in $POLICIES; do
  for s in "${servers[@]}"; do
    col() { for r in $(seq 1 "$REPS"); do echo "${R[$s-$pol-$r]}" | cut -d' ' -f"$1"; done | median; }
    echo "| $pol | $s | $(col 1) | $(col 2) | $(col 3) | $(col 4) |"
  done
done
