#!/usr/bin/env bash
# benches/scripting.sh [--name value ...]
#
# Lua scripts next to redis-server: this tree's release build and redis-server side by
# side with the same Redis-style arguments (--save "" --appendonly no plus yours), runs
# alternating between the servers, medians and ratios (strata/redis).
#
# Workloads, each at the pipeline depths in PIPELINES ("1 16"), REPS (3) runs of N
# (200000) calls from 50 clients over 100,000 random keys:
#   incr       EVALSHA of `return redis.call('INCR', KEYS[1])`
#   ratelimit  EVALSHA of a fixed-window limiter (INCR, PEXPIRE on the first hit)
#   eval-get   EVAL with the body each time (cached by its SHA-1) of a GET
#   json       EVALSHA that decodes a JSON session, bumps a field, encodes it back
#   fcall      FCALL of a function (FUNCTION LOAD) that limits like ratelimit
#
# Usage: benches/scripting.sh
#        WORKLOADS="incr ratelimit" PIPELINES=1 benches/scripting.sh --appendonly yes
# Servers started here are stopped (by pid) on exit, also on failure or Ctrl-C.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

WORKLOADS=${WORKLOADS:-"incr ratelimit eval-get json fcall"}
PIPELINES=${PIPELINES:-"1 16"}
N=${N:-200000}
REPS=${REPS:-3}
EXTRA_ARGS=("$@")
positive_ints N REPS
bench_begin strata-scripting
NAMES=(strata redis)
declare -A BINS=([strata]=$STRATA_BIN [redis]=$REDIS_SERVER)
base=6471
for s in "${NAMES[@]}"; do
  port=$(free_port "$base")
  start_server "$s" "${BINS[$s]}" "$port" --save "" --appendonly no "${EXTRA_ARGS[@]}"
  base=$((port + 1))
done

INCR="return redis.call('INCR', KEYS[1])"
LIMIT="local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n"
GET="return redis.call('GET', KEYS[1])"
JSON="local s = redis.call('GET', KEYS[1])
local t = s and cjson.decode(s) or {user = ARGV[1], hits = 0}
t.hits = t.hits + 1
redis.call('SET', KEYS[1], cjson.encode(t))
return t.hits"
LIBRARY="#!lua name=bench
redis.register_function('limit', function(keys, args)
  local n = redis.call('INCR', keys[1])
  if n == 1 then redis.call('PEXPIRE', keys[1], args[1]) end
  return n
end)"
declare -A SHA
for s in "${NAMES[@]}"; do
  for body in INCR LIMIT JSON; do
    SHA[$body]=$(redis-cli -p "${SRV_PORT[$s]}" SCRIPT LOAD "${!body}")
  done
  redis-cli -p "${SRV_PORT[$s]}" FUNCTION LOAD REPLACE "$LIBRARY" >/dev/null
done

# call PORT WORKLOAD PIPELINE -> "rps,p99_ms"
call() {
  local port=$1 w=$2 p=$3
  local args=(-r 100000 -c 50 -P "$p" -n "$N")
  case $w in
    incr) QUIET_RB=1 rb_csv "$port" "${args[@]}" EVALSHA "${SHA[INCR]}" 1 "c:__rand_int__" ;;
    ratelimit) QUIET_RB=1 rb_csv "$port" "${args[@]}" EVALSHA "${SHA[LIMIT]}" 1 "rl:__rand_int__" 60000 ;;
    eval-get) QUIET_RB=1 rb_csv "$port" "${args[@]}" EVAL "$GET" 1 "c:__rand_int__" ;;
    json) QUIET_RB=1 rb_csv "$port" "${args[@]}" EVALSHA "${SHA[JSON]}" 1 "sess:__rand_int__" alice ;;
    fcall) QUIET_RB=1 rb_csv "$port" "${args[@]}" FCALL limit 1 "fl:__rand_int__" 60000 ;;
    *) die "unknown workload $w" ;;
  esac
}

printf '%-10s %-3s %9s %9s  %s\n' workload P strata redis "ratio (p99 ms strata / redis)"
for w in $WORKLOADS; do
  for p in $PIPELINES; do
    declare -A rps=() p99=()
    for _ in $(seq 1 "$REPS"); do
      for s in "${NAMES[@]}"; do
        r=$(call "${SRV_PORT[$s]}" "$w" "$p")
        rps[$s]+="${r%%,*} "
        p99[$s]+="${r##*,} "
      done
    done
    python3 - "$w" "$p" -- "${rps[strata]}" "${rps[redis]}" "${p99[strata]}" "${p99[redis]}" \
      <<'EOF' || die "summary failed"
import statistics, sys
w, p, _, rs, rr, ps, pr = sys.argv[1:]
med = lambda c: statistics.median(float(x) for x in c.split())
s, r = med(rs), med(rr)
print(f"{w:<10} {p:<3} {s / 1e3:8.0f}k {r / 1e3:8.0f}k  {s / r:.2f} ({med(ps):.3f} / {med(pr):.3f})")
EOF
    unset rps p99
  done
done
