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

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REPS=${REPS:-3}
N=${N:-200000}
CLIENTS=${CLIENTS:-50}
DSIZE=${DSIZE:-64}
KEYSPACE=${KEYSPACE:-1000000}
PIPES=${PIPES:-"1 16"}
TESTS=${TESTS:-"set get"}
REDIS_SERVER=${REDIS_SERVER:-redis-server}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
OUT_DIR=$TARGET_DIR/bench
EXTRA_ARGS=("$@")

log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
die() { log "error: $*"; exit 1; }

[[ $REPS =~ ^[1-9][0-9]*$ ]] || die "REPS must be a positive integer (got '$REPS')"
[[ $N =~ ^[1-9][0-9]*$ ]] || die "N must be a positive integer (got '$N')"

# --- tools ---------------------------------------------------------------------------
if ! command -v "$REDIS_SERVER" >/dev/null || ! command -v redis-benchmark >/dev/null \
    || ! command -v redis-cli >/dev/null; then
  log "installing redis-server and redis-tools with apt-get"
  SUDO=()
  if [[ $(id -u) != 0 ]]; then
    command -v sudo >/dev/null || die "redis-server/redis-tools missing and not root (no sudo)"
    SUDO=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${SUDO[@]}" apt-get update -q
  "${SUDO[@]}" apt-get install -y -q redis-server redis-tools
fi
command -v cargo >/dev/null || { [[ -f $HOME/.cargo/env ]] && . "$HOME/.cargo/env"; }
command -v cargo >/dev/null || die "cargo not found"

log "building strata-server (release)"
(cd "$ROOT" && cargo build --release --bin strata-server)
STRATA_BIN=$TARGET_DIR/release/strata-server
[[ -x $STRATA_BIN ]] || die "$STRATA_BIN was not built"

# --- servers -------------------------------------------------------------------------
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() { # first free port from $1
  local p=$1
  while ! port_free "$p"; do p=$((p + 1)); ((p < 65535)) || die "no free port"; done
  echo "$p"
}

WORK=$(mktemp -d /tmp/strata-compare.XXXXXX)
declare -A PID=() PORT=()

stop_servers() {
  local name pid
  for name in "${!PID[@]}"; do
    pid=${PID[$name]}
    kill -0 "$pid" 2>/dev/null || continue
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      log "$name (pid $pid) still running after 10 s; sending KILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
  done
}
on_exit() {
  local rc=$?
  stop_servers
  if ((rc == 0)); then
    rm -rf "$WORK"
  else
    log "failed (exit $rc); server logs kept in $WORK"
  fi
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start NAME BINARY PORT: launch with Redis-style arguments and wait for PONG.
start() {
  local name=$1 bin=$2 port=$3 dir=$WORK/$1
  mkdir -p "$dir"
  "$bin" --bind 127.0.0.1 --port "$port" --dir "$dir" --daemonize no \
    --logfile "$dir/server.log" --save "" --appendonly no "${EXTRA_ARGS[@]}" \
    >"$dir/stdout.log" 2>&1 </dev/null &
  PID[$name]=$!
  PORT[$name]=$port
  for _ in $(seq 1 300); do
    if [[ $(redis-cli -h 127.0.0.1 -p "$port" PING 2>/dev/null) == PONG ]]; then
      log "$name ready on 127.0.0.1:$port (pid ${PID[$name]})"
      return 0
    fi
    if ! kill -0 "${PID[$name]}" 2>/dev/null; then
      tail -n 5 "$dir/stdout.log" "$dir/server.log" >&2 2>/dev/null || true
      die "$name exited during startup"
    fi
    sleep 0.1
  done
  die "$name did not answer PING on port $port within 30 s"
}

REDIS_PORT=$(free_port "${REDIS_PORT:-6401}")
start redis "$REDIS_SERVER" "$REDIS_PORT"
STRATA_PORT=$(free_port "${STRATA_PORT:-6402}")
start strata "$STRATA_BIN" "$STRATA_PORT"
log "redis: $("$REDIS_SERVER" --version)"
log "strata: $(redis-cli -p "$STRATA_PORT" INFO server | tr -d '\r' | grep -E '^strata_version:' || true)"

# --- runs ----------------------------------------------------------------------------
# bench PORT TEST PIPELINE -> "rps,p99_ms" (from redis-benchmark --csv)
bench() {
  local out rps p99
  out=$(redis-benchmark -h 127.0.0.1 -p "$1" -t "$2" -P "$3" -c "$CLIENTS" -d "$DSIZE" \
    -r "$KEYSPACE" -n "$N" --csv </dev/null 2>/dev/null) || die "redis-benchmark failed on port $1"
  rps=$(printf '%s\n' "$out" | tail -n 1 | tr -d '"\r' | cut -d, -f2)
  p99=$(printf '%s\n' "$out" | tail -n 1 | tr -d '"\r' | cut -d, -f7)
  [[ $rps =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "unexpected redis-benchmark output on port $1: $out"
  echo "$rps,$p99"
}

median() { sort -g | awk '{a[NR]=$1} END{ if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2 }'; }

mkdir -p "$OUT_DIR"
RUNS=$OUT_DIR/compare-runs.csv
CSV=$OUT_DIR/compare.csv
echo "rep,test,pipeline,server,n,rps,p99_ms" >"$RUNS"
log "REPS=$REPS N=$N clients=$CLIENTS size=$DSIZE keyspace=$KEYSPACE pipelines='$PIPES' tests='$TESTS' extra args: ${EXTRA_ARGS[*]:-(none)}"
for rep in $(seq 1 "$REPS"); do
  for p in $PIPES; do
    for t in $TESTS; do
      for s in redis strata; do
        r=$(bench "${PORT[$s]}" "$t" "$p")
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
  done_cmds=$(redis-cli -p "${PORT[$s]}" INFO stats | tr -d '\r' \
    | awk -F: '$1=="total_commands_processed"{print $2}')
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
