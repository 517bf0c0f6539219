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
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
REPS=${REPS:-3}
N=${N:-200000}
KEYS=${KEYS:-100000}
ensure_redis_tools
build_strata
bench_workdir strata-mixed
bench_traps

# mixed_run PORT -> GET p99 ms under concurrent SETs
mixed_run() {
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

declare -A R
NEXT_PORT=6411
for rep in $(seq 1 "$REPS"); do
  for mode in off always; do
    if [[ $mode == off ]]; then args=(--appendonly no); else args=(--appendonly yes --appendfsync always); fi
    for s in redis strata; do
      port=$NEXT_PORT
      NEXT_PORT=$((NEXT_PORT + 1))
      port=$(free_port "$port")
      if [[ $s == redis ]]; then bin=$REDIS_SERVER; else bin=$STRATA_BIN; fi
      start_server "$s" "$bin" "$port" --save "" "${args[@]}"
      p99=$(mixed_run "$port")
      stop_server "$s"
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
