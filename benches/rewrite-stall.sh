#!/usr/bin/env bash
# benches/rewrite-stall.sh — how long does BGREWRITEAOF hold clients up when much of the
# log is not yet fsynced?
#
# Per policy (`no`, `everysec`) and server (redis-server, this build, and OLD_BIN if
# given): load N SETs of 1 KB values at pipeline 16 (so up to a second of writes, or under
# `no` all of them, sit unsynced in the page cache), then send BGREWRITEAOF while a probe
# sends PING back to back on another connection for 1.5 s. Prints the BGREWRITEAOF reply
# time and the probe's worst round trip (medians over REPS). Redis forks for the rewrite,
# so its worst PING is the fork; Strata switches logs on its event loop.
#
# env: REPS=3, N=300000, POLICIES="no everysec", OLD_BIN (optional, a previous build)
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
REPS=${REPS:-3}
N=${N:-300000}
POLICIES=${POLICIES:-"no everysec"}
OLD_BIN=${OLD_BIN:-}
ensure_redis_tools
build_strata
bench_workdir strata-rewrite-stall
bench_traps

# probe PORT -> "reply_ms worst_ping_ms"
probe() {
  python3 - "$1" <<'PY'
import socket, sys, threading, time
port = int(sys.argv[1])
worst, stop = [0.0], [False]
def pinger():
    c = socket.create_connection(("127.0.0.1", port))
    while not stop[0]:
        t = time.perf_counter()
        c.sendall(b"PING\r\n")
        c.recv(64)
        worst[0] = max(worst[0], time.perf_counter() - t)
th = threading.Thread(target=pinger)
th.start()
time.sleep(0.2)
c = socket.create_connection(("127.0.0.1", port))
t = time.perf_counter()
c.sendall(b"BGREWRITEAOF\r\n")
reply = c.recv(128)
took = time.perf_counter() - t
time.sleep(1.5)
stop[0] = True
th.join()
if not reply.startswith(b"+"):
    sys.exit(f"BGREWRITEAOF failed: {reply!r}")
print(f"{took * 1e3:.2f} {worst[0] * 1e3:.2f}")
PY
}

servers=(redis strata)
[[ -n $OLD_BIN ]] && servers+=(old)
declare -A R
port=$(free_port 6431)
for rep in $(seq 1 "$REPS"); do
  for pol in $POLICIES; do
    for s in "${servers[@]}"; do
      case $s in
        redis) bin=$REDIS_SERVER ;;
        strata) bin=$STRATA_BIN ;;
        old) bin=$OLD_BIN ;;
      esac
      start_server "$s" "$bin" "$port" --save "" --appendonly yes --appendfsync "$pol" \
        --auto-aof-rewrite-percentage 0
      redis-benchmark -p "$port" -t set -c 50 -P 16 -n "$N" -r 100000 -d 1024 -q >/dev/null 2>&1
      R[$s-$pol-$rep]=$(probe "$port")
      echo "rep $rep $pol $s: reply / worst PING ms: ${R[$s-$pol-$rep]}" >&2
      stop_server "$s"
    done
  done
done
echo
echo "| policy | server | BGREWRITEAOF reply (ms) | worst PING during it (ms) |"
echo "| --- | --- | ---: | ---: |"
for pol in $POLICIES; do
  for s in "${servers[@]}"; do
    reply=$(for r in $(seq 1 "$REPS"); do echo "${R[$s-$pol-$r]}" | cut -d' ' -f1; done | median)
    worst=$(for r in $(seq 1 "$REPS"); do echo "${R[$s-$pol-$r]}" | cut -d' ' -f2; done | median)
    echo "| $pol | $s | $reply | $worst |"
  done
done
