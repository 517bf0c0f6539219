# shellcheck shell=bash
# benches/lib.sh — helpers shared by the side-by-side scripts in benches/ (suite.sh,
# compare-redis.sh, memory-types.sh, mixed-always.sh, ...). Source it after `set -euo
# pipefail`:   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# Provides: ROOT, TARGET_DIR, log/die, run (log a command, then run it), ensure_redis_tools
# (apt-get only if something is missing), build_strata (sets STRATA_BIN), free_port,
# bench_workdir + bench_traps (temp dir WORK, servers stopped on every exit), start_server /
# stop_server / stop_all_servers (Redis-style arguments, as ../shared/bench/lib.sh),
# preload_strings, commands_processed, rb_csv (one redis-benchmark run as "rps,p99_ms"),
# median.
#
# Servers are tracked by name in SRV_PID / SRV_PORT / SRV_DIR and only those pids are ever
# signalled.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
REDIS_SERVER=${REDIS_SERVER:-redis-server}
declare -A SRV_PID=() SRV_PORT=() SRV_DIR=()
WORK=${WORK:-}

log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
die() {
  log "error: $*"
  exit 1
}
# run CMD ARGS...: print the command line (shell-quoted) to stderr, then run it.
run() {
  log "+ $(printf '%q ' "$@")"
  "$@"
}

# Install redis-server and redis-tools with apt-get, only if a binary is missing.
ensure_redis_tools() {
  if command -v "$REDIS_SERVER" >/dev/null && command -v redis-benchmark >/dev/null \
    && command -v redis-cli >/dev/null; then
    return 0
  fi
  log "installing redis-server and redis-tools with apt-get"
  local sudo=()
  if [[ $(id -u) != 0 ]]; then
    command -v sudo >/dev/null || die "redis-server/redis-tools missing and not root (no sudo)"
    sudo=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  run "${sudo[@]}" apt-get update -q
  run "${sudo[@]}" apt-get install -y -q redis-server redis-tools
}

# Build strata-server in release mode (niced: the machine may be shared); sets STRATA_BIN.
build_strata() {
  command -v cargo >/dev/null || { [[ -f $HOME/.cargo/env ]] && . "$HOME/.cargo/env"; }
  command -v cargo >/dev/null || die "cargo not found"
  log "building strata-server (release)"
  (cd "$ROOT" && run nice -n "${BUILD_NICE:-10}" cargo build --release --bin strata-server >&2)
  STRATA_BIN=$TARGET_DIR/release/strata-server
  [[ -x $STRATA_BIN ]] || die "$STRATA_BIN was not built"
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# free_port P: the first free port from P on.
free_port() {
  local p=$1
  while ! port_free "$p"; do
    p=$((p + 1))
    ((p < 65535)) || die "no free port"
  done
  echo "$p"
}

# start_server NAME BINARY PORT [--name value ...]: a fresh data dir WORK/NAME (emptied),
# Redis-style arguments, waits for PONG.
start_server() {
  local name=$1 bin=$2 port=$3 dir=$WORK/$1
  shift 3
  rm -rf "$dir"
  mkdir -p "$dir"
  local cmd=("$bin" --bind 127.0.0.1 --port "$port" --dir "$dir" --daemonize no
    --logfile "$dir/server.log" "$@")
  log "+ $(printf '%q ' "${cmd[@]}")&"
  "${cmd[@]}" >"$dir/stdout.log" 2>&1 </dev/null &
  SRV_PID[$name]=$!
  SRV_PORT[$name]=$port
  SRV_DIR[$name]=$dir
  for _ in $(seq 1 300); do
    if [[ $(redis-cli -h 127.0.0.1 -p "$port" PING 2>/dev/null) == PONG ]]; then
      log "$name ready on 127.0.0.1:$port (pid ${SRV_PID[$name]})"
      return 0
    fi
    if ! kill -0 "${SRV_PID[$name]}" 2>/dev/null; then
      tail -n 5 "$dir/stdout.log" "$dir/server.log" >&2 2>/dev/null || true
      die "$name exited during startup (logs in $dir)"
    fi
    sleep 0.1
  done
  die "$name did not answer PING on port $port within 30 s"
}

# stop_server NAME: TERM the pid we started, KILL after 10 s, reap it.
stop_server() {
  local name=$1 pid=${SRV_PID[$1]:-}
  [[ -n $pid ]] || return 0
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      log "$name (pid $pid) still running after 10 s; sending KILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  wait "$pid" 2>/dev/null || true
  unset "SRV_PID[$name]"
}

stop_all_servers() {
  local name
  for name in "${!SRV_PID[@]}"; do stop_server "$name"; done
}

# bench_workdir PREFIX: create WORK=/tmp/PREFIX.XXXXXX.
bench_workdir() { WORK=$(mktemp -d "/tmp/$1.XXXXXX"); }

# positive_ints VAR...: die unless each named variable holds a positive integer.
positive_ints() {
  local v
  for v in "$@"; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer (got '${!v}')"
  done
}

# bench_begin PREFIX: what a side-by-side run needs first: redis tools, the release
# build, a work directory (WORK=/tmp/PREFIX.XXXXXX) and the exit traps.
bench_begin() {
  ensure_redis_tools
  build_strata
  bench_workdir "$1"
  bench_traps
}

# bench_traps: on exit stop our servers; remove WORK on success, keep it (logs) on failure.
bench_traps() {
  trap _bench_on_exit EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}
_bench_on_exit() {
  local rc=$?
  stop_all_servers
  if [[ -n $WORK && -d $WORK ]]; then
    if ((rc == 0)); then rm -rf "$WORK"; else log "failed (exit $rc); server logs kept in $WORK"; fi
  fi
}

# preload_strings PORT N SIZE: SET key:%012d (redis-benchmark -r's key names) for
# i < N with SIZE-byte values, through redis-cli --pipe.
preload_strings() {
  local port=$1 n=$2 size=$3 out
  log "preloading $n keys of $size bytes on port $port"
  out=$(awk -v N="$n" -v S="$size" 'BEGIN {
      v = sprintf("%*s", S, ""); gsub(/ /, "x", v)
      for (i = 0; i < N; i++) {
        k = sprintf("key:%012d", i)
        printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", length(k), k, S, v
      }
    }' | redis-cli -h 127.0.0.1 -p "$port" --pipe --pipe-timeout 600 2>&1) \
    || die "preload failed on port $port: $out"
  grep -q "errors: 0" <<<"$out" || die "preload on port $port reported errors: $out"
}

# commands_processed PORT: INFO stats total_commands_processed.
commands_processed() {
  redis-cli -h 127.0.0.1 -p "$1" INFO stats | tr -d '\r' \
    | awk -F: '$1=="total_commands_processed"{print $2}'
}

# rb_csv PORT [redis-benchmark args...] -> "rps,p99_ms" of the last CSV line (--csv goes
# first, so the args may end with a command to run)
# (Redis 7 CSV: "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms",
#  "p95_latency_ms","p99_latency_ms","max_latency_ms").
rb_csv() {
  local port=$1 out line rps p99
  shift
  [[ ${QUIET_RB:-0} == 1 ]] || log "+ redis-benchmark -h 127.0.0.1 -p $port --csv $*"
  out=$(redis-benchmark -h 127.0.0.1 -p "$port" --csv "$@" </dev/null 2>/dev/null) \
    || die "redis-benchmark failed on port $port"
  line=$(printf '%s\n' "$out" | tail -n 1 | tr -d '"\r')
  # (From the end: the test name may hold commas, as an EVAL body does.)
  rps=$(awk -F, '{print $(NF-6)}' <<<"$line")
  p99=$(awk -F, '{print $(NF-1)}' <<<"$line")
  [[ $rps =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "unexpected redis-benchmark output on port $port: $out"
  echo "$rps,${p99:-}"
}

# median: of the numbers on stdin, one per line.
median() {
  sort -g | awk '{a[NR]=$1} END{ if (NR==0) print "nan"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2 }'
}
