#!/usr/bin/env bash
# benches/eviction-throughput.sh [OLD_STRATA_BIN] [--name value ...]
#
# Write throughput while `maxmemory` evicts, next to redis-server: this tree's release
# build (and OLD_STRATA_BIN, when given, for a before/after) and redis-server side by
# side, the same Redis-style arguments (--save "" --appendonly no --maxmemory 30mb plus
# yours), runs alternating between the servers, medians and ratios.
#
# For each policy in POLICIES (default "allkeys-lru allkeys-lfu allkeys-random
# volatile-lru volatile-ttl volatile-random"): CONFIG SET maxmemory-policy, FLUSHALL,
# 300,000 SETs to fill the 30 MB, then for each pipeline depth in PIPELINES ("1 16") REPS
# (3) runs of N (400000) SETs of 64-byte values over 10M random keys from 50 clients, so
# nearly every SET makes room for a new key by evicting one. The volatile policies write
# `SET key value EX 100000` (every key has a TTL to evict by); the others plain SET.
#
# Usage: benches/eviction-throughput.sh                 # strata vs redis
#        benches/eviction-throughput.sh /tmp/strata-old  # old vs new vs redis
# Servers started here are stopped (by pid) on exit, also on failure or Ctrl-C.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

OLD=
if [[ $# -gt 0 && $1 != --* ]]; then
  OLD=$1
  shift
  [[ -x $OLD ]] || die "$OLD is not an executable strata-server build"
fi
POLICIES=${POLICIES:-"allkeys-lru allkeys-lfu allkeys-random volatile-lru volatile-ttl volatile-random"}
PIPELINES=${PIPELINES:-"1 16"}
N=${N:-400000}
REPS=${REPS:-3}
MAXMEMORY=${MAXMEMORY:-30mb}
EXTRA_ARGS=("$@")
positive_ints N REPS
bench_begin strata-evict
NAMES=(new redis)
declare -A BINS=([new]=$STRATA_BIN [redis]=$REDIS_SERVER)
if [[ -n $OLD ]]; then
  NAMES=(old new redis)
  BINS[old]=$OLD
fi
base=6461
for s in "${NAMES[@]}"; do
  port=$(free_port "$base")
  start_server "$s" "${BINS[$s]}" "$port" --save "" --appendonly no --maxmemory "$MAXMEMORY" \
    "${EXTRA_ARGS[@]}"
  base=$((port + 1))
done
VALUE=$(printf '%064d' 0 | tr 0 x)

# write PORT POLICY PIPELINE REQUESTS -> "rps,p99_ms"
write() {
  local port=$1 policy=$2 p=$3 n=$4
  local args=(-r 10000000 -c 50 -P "$p" -n "$n")
  if [[ $policy == volatile-* ]]; then
    QUIET_RB=1 rb_csv "$port" "${args[@]}" SET "key:__rand_int__" "$VALUE" EX 100000
  else
    QUIET_RB=1 rb_csv "$port" "${args[@]}" -t set -d 64
  fi
}

printf '%-16s %-3s' policy P
for s in "${NAMES[@]}"; do printf ' %9s' "$s"; done
printf '  %s\n' "ratios (new/redis${OLD:+, new/old}; evicted per run on new)"
for policy in $POLICIES; do
  for s in "${NAMES[@]}"; do
    port=${SRV_PORT[$s]}
    redis-cli -p "$port" CONFIG SET maxmemory-policy "$policy" >/dev/null
    redis-cli -p "$port" FLUSHALL >/dev/null
    write "$port" "$policy" 16 300000 >/dev/null
  done
  for p in $PIPELINES; do
    declare -A runs=()
    before=$(redis-cli -p "${SRV_PORT[new]}" INFO stats | tr -d '\r' | awk -F: '$1=="evicted_keys"{print $2}')
    for _ in $(seq 1 "$REPS"); do
      for s in "${NAMES[@]}"; do
        r=$(write "${SRV_PORT[$s]}" "$policy" "$p" "$N")
        runs[$s]+="${r%%,*} "
      done
    done
    after=$(redis-cli -p "${SRV_PORT[new]}" INFO stats | tr -d '\r' | awk -F: '$1=="evicted_keys"{print $2}')
    cols=()
    for s in "${NAMES[@]}"; do cols+=("${runs[$s]}"); done
    python3 - "$policy" "$p" "$(((after - before) / REPS))" "${NAMES[@]}" -- "${cols[@]}" \
      <<'EOF' || die "summary failed"
import statistics, sys
args = sys.argv[1:]
policy, p, evicted = args[:3]
sep = args.index("--")
names = args[3:sep]
cols = args[sep + 1:]
med = dict(zip(names, (statistics.median(float(x) for x in c.split()) for c in cols)))
line = f"{policy:<16} {p:<3}" + "".join(f" {med[n] / 1e3:8.0f}k" for n in names)
line += f"  {med['new'] / med['redis']:.2f}"
if "old" in med:
    line += f"  {med['new'] / med['old']:.2f}"
print(line + f"  ({evicted} evicted)")
EOF
    unset runs
  done
done
