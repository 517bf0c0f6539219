#!/usr/bin/env bash
# benches/compare-redis.sh [--name value ...]
#
# SET/GET throughput of strata-server next to redis-server on this machine, measured
# with redis-benchmark: 50 clients, 64-byte values, keys drawn from 1M (-r 1000000),
# pipeline 1 and 16. For every (test, pipeline) cell the two servers run alternately
# (redis, strata, redis, strata, ...) REPS times each; the table reports medians.
#
# Both servers are started fresh on 127.0.0.1 with the same Redis-style arguments
# (the convention of /work/shared/bench/lib.sh):
#   --bind 127.0.0.1 --port P --dir D --daemonize no --logfile D/server.log
#   --save "" --appendonly no
# followed by this script's own arguments, which go to both servers, e.g.
#   benches/compare-redis.sh --appendonly yes --appendfsync always
#
# env: REPS=3   runs per server per cell
#      N=200000 requests per run
#      CLIENTS=50 DSIZE=64 KEYSPACE=1000000 PIPES="1 16" TESTS="set get"
#      REDIS_PORT=6401 STRATA_PORT=6402 (the next free ports are used if busy)
#      REDIS_SERVER=redis-server (binary to compare against)
#
# Output: a markdown table on stdout; target/bench/compare.csv (medians) and
# target/bench/compare-runs.csv (every run). Servers started here are stopped (by pid)
# when the script exits, also on failure or Ctrl-C.
#
# The load generator shares the machine with the server: on a small box absolute
# numbers are low and noisy, so compare the ratio, and rerun before trusting a cell.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
REPS=${REPS:-3}
N=${N:-200000}
CLIENTS=${CLIENTS:-50}
DSIZE=${DSIZE:-64}
KEYSPACE=${KEYSPACE:-1000000}
PIPES=${PIPES:-"1 16"}
TESTS=${TESTS:-"set get"}
OUT_DIR=$TARGET_DIR/bench
EXTRA_ARGS=("$@")

[[ $REPS =~ ^[1-9][0-9]*$ ]] || die "REPS must be a positive integer (got '$REPS')"
[[ $N =~ ^[1-9][0-9]*$ ]] || die "N must be a positive integer (got '$N')"

ensure_redis_tools
build_strata
bench_workdir strata-compare
bench_traps

SERVER_ARGS=(--save "" --appendonly no "${EXTRA_ARGS[@]}")
start_server redis "$REDIS_SERVER" "$(free_port "${REDIS_PORT:-6401}")" "${SERVER_ARGS[@]}"
start_server strata "$STRATA_BIN" "$(free_port "${STRATA_PORT:-6402}")" "${SERVER_ARGS[@]}"
log "redis: $("$REDIS_SERVER" --version)"
log "strata: $(redis-cli -p "${SRV_PORT[strata]}" INFO server | tr -d '\r' | grep -E '^strata_version:' || true)"

# --- runs ----------------------------------------------------------------------------
mkdir -p "$OUT_DIR"
RUNS=$OUT_DIR/compare-runs.csv
CSV=$OUT_DIR/compare.csv
echo "rep,test,pipeline,server,n,rps,p99_ms" >"$RUNS"
log "REPS=$REPS N=$N clients=$CLIENTS size=$DSIZE keyspace=$KEYSPACE pipelines='$PIPES' tests='$TESTS' extra args: ${EXTRA_ARGS[*]:-(none)}"
for rep in $(seq 1 "$REPS"); do
  for p in $PIPES; do
    for t in $TESTS; do
      for s in redis strata; do
        r=$(rb_csv "${SRV_PORT[$s]}" -t "$t" -P "$p" -c "$CLIENTS" -d "$DSIZE" -r "$KEYSPACE" -n "$N")
        echo "$rep,$t,$p,$s,$N,$r" >>"$RUNS"
        log "rep $rep/$REPS $t P$p $s: ${r%%,*} req/s, p99 ${r##*,} ms"
      done
    done
  done
done

# Each server must have executed at least the requests sent to it (guards against a
# run silently hitting the wrong port).
expected=$((REPS * $(wc -w <<<"$TESTS") * $(wc -w <<<"$PIPES") * N))
for s in redis strata; do
  done_cmds=$(commands_processed "${SRV_PORT[$s]}")
  [[ ${done_cmds:-0} -ge $expected ]] \
    || die "$s processed ${done_cmds:-?} commands, expected at least $expected"
  log "$s processed $done_cmds commands (sent $expected)"
done

# --- report --------------------------------------------------------------------------
echo "test,pipeline,redis_rps,strata_rps,ratio,redis_p99_ms,strata_p99_ms,reps,n" >"$CSV"
echo
echo "| test | pipeline | redis req/s | strata req/s | strata/redis | redis p99 ms | strata p99 ms |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
for t in $TESTS; do
  for p in $PIPES; do
    col() { awk -F, -v t="$t" -v p="$p" -v s="$1" -v c="$2" '$2==t && $3==p && $4==s {print $c}' "$RUNS" | median; }
    rr=$(col redis 6)
    sr=$(col strata 6)
    rp=$(col redis 7)
    sp=$(col strata 7)
    ratio=$(awk -v a="$sr" -v b="$rr" 'BEGIN{ printf "%.2f", (b > 0 ? a / b : 0) }')
    T=$(echo "$t" | tr '[:lower:]' '[:upper:]')
    echo "$T,$p,$rr,$sr,$ratio,$rp,$sp,$REPS,$N" >>"$CSV"
    printf '| %s | %s | %.0f | %.0f | %s | %s | %s |\n' "$T" "$p" "$rr" "$sr" "$ratio" "$rp" "$sp"
  done
done
echo
echo "Medians of $REPS run(s) per cell, $N requests each, $CLIENTS clients, -d $DSIZE, -r $KEYSPACE;" \
  "servers: --save \"\" --appendonly no ${EXTRA_ARGS[*]:-}"
log "wrote $CSV and $RUNS"
