#!/usr/bin/env bash
# benches/restart-compare.sh — time to first PONG after a restart with KEYS keys held as
# base snapshot + log: redis-server with an RDB-preamble AOF (after BGREWRITEAOF) and
# strata-server with its base + incremental log (after BGREWRITEAOF), side by side.
# Data: the shared populate.py (key:%012d, 64-byte random values), then 10% more SETs
# after the rewrite so the log part is not empty. Page cache warm (same for both).
# env: KEYS=5000000 ANCHOR_BENCH=../shared/bench
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ANCHOR=${ANCHOR_BENCH:-$ROOT/../shared/bench}
KEYS=${KEYS:-5000000}
ensure_redis_tools
build_strata
WORK=$(mktemp -d /tmp/strata-restart.XXXXXX)
PID=
cleanup() { [[ -n $PID ]] && kill "$PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
start() { # BIN PORT DIR -> sets PID, prints seconds to first PONG
  local t0; t0=$(date +%s.%N)
  "$1" --bind 127.0.0.1 --port "$2" --dir "$3" --save "" --appendonly yes --appendfsync everysec \
    --aof-use-rdb-preamble yes --auto-aof-rewrite-percentage 0 --logfile "$3/log" >/dev/null 2>&1 &
  PID=$!
  python3 "$ANCHOR/wait_ready.py" 127.0.0.1 "$2" 600 "$PID" >/dev/null
  awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.2f", b-a}'
}
wait_rewrite() {
  for _ in $(seq 1 3000); do
    s=$(redis-cli -p "$1" INFO persistence | tr -d '\r' | awk -F: '$1=="aof_rewrite_in_progress"||$1=="aof_rewrite_scheduled"{s+=$2} END{print s+0}')
    [[ $s == 0 ]] && return; sleep 0.2
  done
}
for server in redis strata; do
  bin=redis-server; [[ $server == strata ]] && bin=$STRATA_BIN
  dir=$WORK/$server; mkdir -p "$dir"; port=6397
  start "$bin" $port "$dir" >/dev/null
  python3 "$ANCHOR/populate.py" string "$KEYS" 64 | redis-cli -p $port --pipe --pipe-timeout 600 >/dev/null
  redis-cli -p $port BGREWRITEAOF >/dev/null; sleep 1; wait_rewrite $port
  redis-benchmark -p $port -t set -n $((KEYS / 10)) -r "$KEYS" -d 64 -c 50 -P 16 -q >/dev/null 2>&1
  n=$(redis-cli -p $port DBSIZE)
  redis-cli -p $port SHUTDOWN NOSAVE >/dev/null 2>&1 || true
  wait "$PID" 2>/dev/null || true; PID=
  size=$(du -sb "$dir" | cut -f1)
  secs=$(start "$bin" $port "$dir")
  m=$(redis-cli -p $port DBSIZE)
  redis-cli -p $port SHUTDOWN NOSAVE >/dev/null 2>&1 || true
  wait "$PID" 2>/dev/null || true; PID=
  [[ $n == "$m" ]] || { echo "$server: $n keys before, $m after restart" >&2; exit 1; }
  echo "$server,$m,$size,$secs"
done | tee "$WORK/out.csv" | awk -F, 'BEGIN{print "| server | keys | on disk (MiB) | restart to first PONG (s) |"; print "| --- | ---: | ---: | ---: |"} {printf "| %s | %d | %.0f | %s |\n", $1, $2, $3/1048576, $4; t[$1]=$4} END{ if (t["strata"]>0) printf "\nRedis/Strata restart time: %.2fx\n", t["redis"]/t["strata"] }'
