#!/usr/bin/env bash
# benches/memory-types.sh [--name value ...]
#
# Memory per element of the aggregate types, strata-server next to redis-server on this
# machine. For each workload both servers are started fresh (same Redis-style arguments,
# as benches/compare-redis.sh), the same data is loaded into both with `redis-cli --pipe`,
# and the growth of INFO used_memory and of the process RSS (/proc/PID/status VmRSS) is
# divided by the number of elements (hash fields, list elements, ...).
#
# Workloads (env TYPES, default "hashes lists zset zset-random set bighash"):
#   hashes       N keys `user:<i>`, each HSET with 5 short fields:
#                name user<i> age <i%100> city city<i%1000> email u<i>@example.com score <i*7%100000>
#   lists        N keys `list:<i>`, each RPUSH of 5 short elements: item<i>-0 .. item<i>-4
#   zset         one key with N members m<i>, score i (sorted-set section below)
#   zset-random  one key with N members m<i>, random scores (sorted-set section below)
#   set          one key with N members element:%012d
#   bighash      one key with N fields field:%012d, values value-%010d
#
# env: N=1000000       keys per workload
#      TYPES="hashes lists"
#      REDIS_PORT=6411 STRATA_PORT=6412 (the next free ports are used if busy)
#      REDIS_SERVER=redis-server
#
# Output: a markdown table on stdout and target/bench/memory-types.csv. Servers started
# here are stopped (by pid) when the script exits, also on failure or Ctrl-C.
#
# Note: Strata's used_memory is its own estimate (allocation sizes it accounts for),
# Redis's is what jemalloc reports as allocated; RSS is the number the OS charges and the
# one to compare first.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
N=${N:-1000000}
TYPES=${TYPES:-"hashes lists zset zset-random set bighash"}
OUT_DIR=$TARGET_DIR/bench
EXTRA_ARGS=("$@")

[[ $N =~ ^[1-9][0-9]*$ ]] || die "N must be a positive integer (got '$N')"
ensure_redis_tools
build_strata
bench_workdir strata-memory
bench_traps

# start NAME BINARY PORT: a fresh server with this script's arguments.
start() { start_server "$1" "$2" "$3" --save "" --appendonly no "${EXTRA_ARGS[@]}"; }

used_memory() { redis-cli -p "$1" INFO memory | tr -d '\r' | awk -F: '$1=="used_memory"{print $2}'; }
rss_bytes() { awk '$1=="VmRSS:"{print $2 * 1024}' "/proc/$1/status"; }

# --- workloads: each prints RESP commands for N keys on stdout -------------------------
# gen_<type> N; ELEMS_<type> = elements per key (what "per element" divides by).
resp_awk='
function cmd(n, a,   i, s) {
  s = "*" n "\r\n"
  for (i = 1; i <= n; i++) s = s "$" length(a[i]) "\r\n" a[i] "\r\n"
  printf "%s", s
}'

ELEMS_hashes=5
SAMPLE_hashes=user:0
gen_hashes() {
  awk -v N="$1" "$resp_awk"'
  BEGIN {
    for (i = 0; i < N; i++) {
      a[1] = "HSET"; a[2] = "user:" i
      a[3] = "name";  a[4] = "user" i
      a[5] = "age";   a[6] = i % 100
      a[7] = "city";  a[8] = "city" (i % 1000)
      a[9] = "email"; a[10] = "u" i "@example.com"
      a[11] = "score"; a[12] = (i * 7) % 100000
      cmd(12, a)
    }
  }'
}

ELEMS_lists=5
SAMPLE_lists=list:0
gen_lists() {
  awk -v N="$1" "$resp_awk"'
  BEGIN {
    for (i = 0; i < N; i++) {
      a[1] = "RPUSH"; a[2] = "list:" i
      for (j = 0; j < 5; j++) a[3 + j] = "item" i "-" j
      cmd(7, a)
    }
  }'
}

# One key with N members / fields (the shape redis-benchmark's SADD and HSET build),
# 100 per command:
#   set       SADD bigset element:%012d
#   bighash   HSET bighash field:%012d value-%010d
ELEMS_set=N_ALL
SAMPLE_set=bigset
gen_set() {
  awk -v N="$1" "$resp_awk"'
  BEGIN {
    for (i = 0; i < N; i += 100) {
      a[1] = "SADD"; a[2] = "bigset"; n = 2
      for (j = i; j < i + 100 && j < N; j++) a[++n] = sprintf("element:%012d", j)
      cmd(n, a)
    }
  }'
}
ELEMS_bighash=N_ALL
SAMPLE_bighash=bighash
gen_bighash() {
  awk -v N="$1" "$resp_awk"'
  BEGIN {
    for (i = 0; i < N; i += 100) {
      a[1] = "HSET"; a[2] = "bighash"; n = 2
      for (j = i; j < i + 100 && j < N; j++) {
        a[++n] = sprintf("field:%012d", j); a[++n] = sprintf("value-%010d", j)
      }
      cmd(n, a)
    }
  }'
}

# ---- sorted sets: owned by the sets/zsets engineer --------------------------------------
# One key with N members of 16 bytes (m:%014d), one ZADD per member:
#   zset         ascending integer scores i (the scheme of /work/shared/bench/populate.py)
#   zset-random  scores ((i * 7919) mod N) + 0.5: inserts land all over the set, the worst
#                case for the fill of Strata's B+ tree leaves
ELEMS_zset=N_ALL
SAMPLE_zset=zset
gen_zset() {
  awk -v N="$1" "$resp_awk"'
  BEGIN {
    a[1] = "ZADD"; a[2] = "zset"
    for (i = 0; i < N; i++) { a[3] = i; a[4] = sprintf("m:%014d", i); cmd(4, a) }
  }'
}
ELEMS_zset_random=N_ALL
SAMPLE_zset_random=zset
gen_zset-random() {
  awk -v N="$1" "$resp_awk"'
  BEGIN {
    a[1] = "ZADD"; a[2] = "zset"
    for (i = 0; i < N; i++) {
      a[3] = sprintf("%d.5", (i * 7919) % N); a[4] = sprintf("m:%014d", i); cmd(4, a)
    }
  }'
}
# ---- end of the sorted-set section -----------------------------------------------------

# --- runs ----------------------------------------------------------------------------
mkdir -p "$OUT_DIR"
CSV=$OUT_DIR/memory-types.csv
echo "case,keys,elements,server,used_memory_bytes,rss_bytes,used_memory_per_elem,rss_per_elem,used_memory_per_key,rss_per_key,encoding" >"$CSV"
for t in $TYPES; do
  declare -F "gen_$t" >/dev/null || die "unknown workload '$t' (have: $(declare -F | awk '$3 ~ /^gen_/{sub("gen_","",$3); printf "%s ", $3}'))"
  var=${t//-/_}
  per_key_var="ELEMS_$var"
  sample_var="SAMPLE_$var"
  if [[ ${!per_key_var} == N_ALL ]]; then elems=$N; else elems=$((N * ${!per_key_var})); fi
  for s in redis strata; do
    bin=$REDIS_SERVER
    [[ $s == strata ]] && bin=$STRATA_BIN
    if [[ $s == redis ]]; then port=$(free_port "${REDIS_PORT:-6411}"); else port=$(free_port "${STRATA_PORT:-6412}"); fi
    start "$s" "$bin" "$port"
    pid=${SRV_PID[$s]}
    u0=$(used_memory "$port")
    r0=$(rss_bytes "$pid")
    log "$s: loading $N keys of $t"
    "gen_$t" "$N" | redis-cli -p "$port" --pipe >"$WORK/$s-$t.pipe.log" 2>&1 \
      || die "redis-cli --pipe failed for $s ($(tail -n 2 "$WORK/$s-$t.pipe.log"))"
    grep -q "errors: 0" "$WORK/$s-$t.pipe.log" || die "$s reported errors: $(tail -n 2 "$WORK/$s-$t.pipe.log")"
    keys=$(redis-cli -p "$port" DBSIZE)
    if [[ ${!per_key_var} != N_ALL ]]; then
      [[ $keys == "$N" ]] || die "$s holds $keys keys, expected $N"
    fi
    enc=$(redis-cli -p "$port" OBJECT ENCODING "${!sample_var}")
    sleep 1
    u1=$(used_memory "$port")
    r1=$(rss_bytes "$pid")
    du=$((u1 - u0))
    dr=$((r1 - r0))
    awk -v t="$t" -v n="$keys" -v e="$elems" -v s="$s" -v du="$du" -v dr="$dr" -v enc="$enc" 'BEGIN {
      printf "%s,%d,%d,%s,%d,%d,%.1f,%.1f,%.1f,%.1f,%s\n", t, n, e, s, du, dr, du / e, dr / e, du / n, dr / n, enc
    }' >>"$CSV"
    log "$s $t: used_memory +$du, rss +$dr"
    stop_server "$s"
  done
done

# --- report --------------------------------------------------------------------------
echo
echo "| case | keys | elements | server | encoding | used_memory B/element | RSS B/element | used_memory B/key | RSS B/key |"
echo "| --- | ---: | ---: | --- | --- | ---: | ---: | ---: | ---: |"
tail -n +2 "$CSV" | while IFS=, read -r t n e s du dr upe rpe upk rpk enc; do
  echo "| $t | $n | $e | $s | $enc | $upe | $rpe | $upk | $rpk |"
done
echo
echo "Growth over the empty server; servers: --save \"\" --appendonly no ${EXTRA_ARGS[*]:-}"
