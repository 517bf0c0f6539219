#!/usr/bin/env bash
# benches/mixed-always.sh — do reads wait behind other clients' fsyncs?
#
# 25 clients SET (keys w:*) while 25 other clients GET keys that are never written during
# the run (r:*), on redis-server and strata-server side by side, first with the log off,
# then with `appendfsync always`. Prints the GET p99 of each, and the ratio always/off.
# Redis replies to every client only after its event loop's fsync; Strata releases a
# reply that observed no un-synced write at once.
#
# env: REPS=3, N=200000 (GETs per run; SETs run until the GETs finish), KEYS=100000
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REPS=${REPS:-3}
N=${N:-200000}
KEYS=${KEYS:-100000}
REDIS_SERVER=${REDIS_SERVER:-redis-server}
command -v redis-benchmark >/dev/null || { apt-get update -q && apt-get install -y -q redis-server redis-tools; }
(cd "$ROOT" && cargo build --release --bin strata-server >&2)
STRATA_BIN=$ROOT/target/release/strata-server
WORK=$(mktemp -d /tmp/strata-mixed.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

start() { # NAME BIN PORT ARGS...
  local name=$1 bin=$2 port=$3; shift 3
  mkdir -p "$WORK/$name-$port"
  "$bin" --bind 127.0.0.1 --port "$port" --dir "$WORK/$name-$port" --save "" \
    --logfile "$WORK/$name-$port/log" "$@" >/dev/null 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 100); do [[ $(redis-cli -p "$port" PING 2>/dev/null) == PONG ]] && return; sleep 0.1; done
  echo "$name did not start" >&2; exit 1
}
stop() { redis-cli -p "$1" SHUTDOWN NOSAVE >/dev/null 2>&1 || true; sleep 0.3; }

# run PORT -> GET p99 ms under concurrent SETs
run() {
  local port=$1
  redis-benchmark -p "$port" -c 50 -n "$KEYS" -r "$KEYS" -d 64 SET r:__rand_int__ xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx >/dev/null 2>&1
  redis-benchmark -p "$port" -c 25 -n 100000000 -r 1000000 -d 64 -t set -l >/dev/null 2>&1 &
  local writer=$!
  local out
  out=$(redis-benchmark -p "$port" -c 25 -n "$N" -r "$KEYS" --csv GET r:__rand_int__ 2>/dev/null | tail -n 1 | tr -d '"\r')
  kill "$writer" 2>/dev/null || true
  wait "$writer" 2>/dev/null || true
  echo "$out" | cut -d, -f7
}
median() { sort -g | awk '{a[NR]=$1} END{ if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2 }'; }

declare -A R
NEXT_PORT=6411
for rep in $(seq 1 "$REPS"); do
  for mode in off always; do
    if [[ $mode == off ]]; then args=(--appendonly no); else args=(--appendonly yes --appendfsync always); fi
    for s in redis strata; do
      port=$NEXT_PORT
      NEXT_PORT=$((NEXT_PORT + 1))
      if [[ $s == redis ]]; then start redis "$REDIS_SERVER" "$port" "${args[@]}"; else start strata "$STRATA_BIN" "$port" "${args[@]}"; fi
      p99=$(run "$port")
      stop "$port"
      R[$s-$mode-$rep]=$p99
      echo "rep $rep $s $mode: GET p99 $p99 ms" >&2
    done
  done
done
echo
echo "| server | GET p99, log off (ms) | GET p99, always (ms) | always/off |"
echo "| --- | ---: | ---: | ---: |"
for s in redis strata; do
  off=$(for r in $(seq 1 "$REPS"); do echo "${R[$s-off-$r]}"; done | median)
  al=$(for r in $(seq 1 "$REPS"); do echo "${R[$s-always-$r]}"; done | median)
  printf '| %s | %s | %s | %.2f |\n' "$s" "$off" "$al" "$(awk -v a="$al" -v b="$off" 'BEGIN{print (b>0?a/b:0)}')"
done
echo
echo "25 SET clients (-r 1000000) + 25 GET clients on $KEYS pre-loaded keys, medians of $REPS runs"
