#!/usr/bin/env bash
# benches/ab-scenarios.sh OLD_STRATA_BIN [--name value ...]
#
# Before/after A/B of two strata-server builds next to redis-server, in the states where
# the suite's cells used to be behind: three servers side by side (OLD_STRATA_BIN, this
# tree's release build, redis-server), the same Redis-style arguments (--save ""
# --appendonly no plus yours), runs alternating old / new / redis, medians.
#
# Scenarios (env SCENARIOS, default "aggregates bigkeys growing lpush"):
#   aggregates  one set and one hash grown to ~918k members (redis-benchmark SADD/HSET,
#               2.5M requests, P64), then SADD and HSET runs of 1M requests
#   bigkeys     ~1.8M keys (3M SETs + 2M INCRs, P64), then GET, INCR and SET runs
#   growing     950k keys, then INCR runs while the counters grow from 0 (the suite's order)
#   lpush       LPUSH runs of 1M requests into one list
# Every run: 50 clients, -d 64, -r 1000000, pipeline P (16), N requests (400000, or 1M
# where noted above), REPS runs per server (3).
#
# Usage, e.g. old build kept from `git stash; cargo build --release`:
#   cp target/release/strata-server /tmp/strata-old && git stash pop
#   benches/ab-scenarios.sh /tmp/strata-old
# Prints one line per (scenario, test): medians old / new / redis and the ratios; servers
# started here are stopped (by pid) on exit, also on failure or Ctrl-C.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

OLD=${1:?usage: benches/ab-scenarios.sh OLD_STRATA_BIN [--name value ...]}
shift
[[ -x $OLD ]] || die "$OLD is not an executable strata-server build"
SCENARIOS=${SCENARIOS:-"aggregates bigkeys growing lpush"}
P=${P:-16}
N=${N:-400000}
REPS=${REPS:-3}
EXTRA_ARGS=("$@")
for v in P N REPS; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer (got '${!v}')"
done

ensure_redis_tools
build_strata
bench_workdir strata-ab
bench_traps
REDIS_SERVER=${REDIS_SERVER:-redis-server}
NAMES=(old new redis)

start_all() {
  local base=6441
  declare -A bins=([old]=$OLD [new]=$STRATA_BIN [redis]=$REDIS_SERVER)
  for s in "${NAMES[@]}"; do
    local port
    port=$(free_port "$base")
    start_server "$s" "${bins[$s]}" "$port" --save "" --appendonly no "${EXTRA_ARGS[@]}"
    base=$((port + 1))
  done
}

# fill TEST REQUESTS: the same pipelined preload on every server.
fill() {
  for s in "${NAMES[@]}"; do
    QUIET_RB=1 rb_csv "${SRV_PORT[$s]}" -t "$1" -r 1000000 -d 64 -n "$2" -P 64 -c 20 >/dev/null
  done
}

# measure SCENARIO TEST REQUESTS: REPS alternating runs per server, one result line.
measure() {
  local scenario=$1 t=$2 n=$3 s r
  declare -A runs=()
  for _ in $(seq 1 "$REPS"); do
    for s in "${NAMES[@]}"; do
      r=$(QUIET_RB=1 rb_csv "${SRV_PORT[$s]}" -t "$t" -r 1000000 -d 64 -c 50 -P "$P" -n "$n")
      runs[$s]+="${r%%,*} "
    done
  done
  python3 - "$scenario" "$t" "${runs[old]}" "${runs[new]}" "${runs[redis]}" <<'EOF'
import statistics, sys
scenario, test, *cols = sys.argv[1:]
old, new, redis = (statistics.median(float(x) for x in c.split()) for c in cols)
print(f"{scenario:<10} {test.upper():<5} old {old/1e3:7.0f}k  new {new/1e3:7.0f}k  "
      f"redis {redis/1e3:7.0f}k  new/old {new/old:.2f}  new/redis {new/redis:.2f}  "
      f"old/redis {old/redis:.2f}")
EOF
}

log "old: $OLD; new: $STRATA_BIN ($(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'))"
for scenario in $SCENARIOS; do
  start_all
  case $scenario in
    aggregates)
      fill sadd 2500000
      fill hset 2500000
      measure "$scenario" sadd 1000000
      measure "$scenario" hset 1000000
      ;;
    bigkeys)
      fill set 3000000
      fill incr 2000000
      for t in get incr set; do measure "$scenario" "$t" "$N"; done
      ;;
    growing)
      fill set 3000000
      measure "$scenario" incr "$N"
      ;;
    lpush)
      measure "$scenario" lpush 1000000
      ;;
    *) die "unknown scenario '$scenario' (aggregates bigkeys growing lpush)" ;;
  esac
  stop_all_servers
done
