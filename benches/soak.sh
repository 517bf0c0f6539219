#!/usr/bin/env bash
# benches/soak.sh: a soak test of strata-server under many connections and bad clients.
#
#   DURATION=300 CONNS=5000 benches/soak.sh
#
# 1. Starts a release strata-server (appendonly yes, appendfsync everysec, maxclients
#    10000) in a fresh directory, with `ulimit -n` raised for it and for the clients.
# 2. Quiet run: a probe client (SET/GET pairs) alone for QUIET seconds -> p50/p99.
# 3. Soak: CONNS well-behaved connections (benches/soak.py load: GET/SET unique keys/INCR,
#    RATE requests per second each, acknowledged writes recorded), BAD misbehaving clients
#    (garbage bytes, slow-loris, never-reading subscribers of a flooded channel, huge bulk
#    headers) and the probe again, all for DURATION seconds. RSS, used_memory and the
#    client count are sampled every 5 s.
# 4. kill -9 the server (everysec promises that an acknowledged write is in the OS, so it
#    survives a process crash), restart it on the same directory and check that every
#    acknowledged SET and INCR is there (benches/soak.py verify).
#
# env: DURATION=300 (seconds of soak)  CONNS=5000  RATE=2 (requests/s per connection)
#      BAD=20 (misbehaving clients)    QUIET=20 (seconds of the quiet probe run)
#      PORT=6420                       WORK=target/soak (data dir, logs, CSV)
#      STRATA_ARGS="..." extra server arguments
# Output: a summary on stdout; $WORK/rss.csv (time, rss_kb, used_memory, clients).
# Exit status: non-zero if an acknowledged write was lost or the server died.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DURATION=${DURATION:-300}
CONNS=${CONNS:-5000}
RATE=${RATE:-2}
BAD=${BAD:-20}
QUIET=${QUIET:-20}
PORT=${PORT:-6420}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
WORK=${WORK:-$TARGET_DIR/soak}
PY=${PYTHON:-python3}

log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
die() { log "error: $*"; exit 1; }

# 5,000 clients plus the server's own descriptors: raise the limit for everything below.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" || die "cannot raise ulimit -n"
(( $(ulimit -n) > CONNS + BAD + 100 )) || die "ulimit -n is $(ulimit -n): too low for $CONNS connections"

log "building strata-server (release)"
(cd "$ROOT" && cargo build --release --bin strata-server >&2)
BIN=$TARGET_DIR/release/strata-server

rm -rf "$WORK" && mkdir -p "$WORK/data"
SERVER_PID=
SAMPLER_PID=
cleanup() {
  [[ -n $SAMPLER_PID ]] && kill "$SAMPLER_PID" 2>/dev/null || true
  [[ -n $SERVER_PID ]] && kill "$SERVER_PID" 2>/dev/null || true
}
trap cleanup EXIT

start_server() {
  # shellcheck disable=SC2086
  "$BIN" --port "$PORT" --dir "$WORK/data" --appendonly yes --appendfsync everysec \
    --save "" --maxclients 10000 ${STRATA_ARGS:-} >>"$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 200); do
    redis-cli -p "$PORT" PING >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  die "server did not start (see $WORK/server.log)"
}

rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$SERVER_PID/status"; }
info_field() { redis-cli -p "$PORT" INFO "$1" | tr -d '\r' | awk -F: -v f="$2" '$1 == f {print $2}'; }

start_server
log "server pid $SERVER_PID on port $PORT; maxclients $(redis-cli -p "$PORT" CONFIG GET maxclients | tail -1)"
RSS0=$(rss_kb)

log "quiet run: probe alone for ${QUIET}s"
"$PY" "$ROOT/benches/soak.py" probe --port "$PORT" --duration "$QUIET" --label quiet | tee "$WORK/probe-quiet.txt"

echo "t_s,rss_kb,used_memory,connected_clients" >"$WORK/rss.csv"
(
  t0=$(date +%s)
  while kill -0 "$SERVER_PID" 2>/dev/null; do
    echo "$(( $(date +%s) - t0 )),$(rss_kb),$(info_field memory used_memory),$(info_field clients connected_clients)" >>"$WORK/rss.csv"
    sleep 5
  done
) &
SAMPLER_PID=$!

log "soak: $CONNS connections at $RATE req/s each, $BAD misbehaving clients, ${DURATION}s"
"$PY" "$ROOT/benches/soak.py" load --port "$PORT" --conns "$CONNS" --rate "$RATE" \
  --duration "$DURATION" --state "$WORK/state.json" >"$WORK/load.txt" &
LOAD=$!
"$PY" "$ROOT/benches/soak.py" misbehave --port "$PORT" --count "$BAD" --duration "$DURATION" >"$WORK/bad.txt" &
BADP=$!
sleep 15 # let the connections ramp up before probing
"$PY" "$ROOT/benches/soak.py" probe --port "$PORT" --duration "$((DURATION > 30 ? DURATION - 25 : 5))" --label "under load" >"$WORK/probe-load.txt"
wait "$LOAD" || die "the load client failed"
wait "$BADP" || true
kill -0 "$SERVER_PID" 2>/dev/null || die "the server died during the soak (see $WORK/server.log)"
STATS=$(redis-cli -p "$PORT" INFO stats | tr -d '\r' | grep -E 'client_output_buffer_limit_disconnections|rejected_connections|total_connections_received')
kill "$SAMPLER_PID" 2>/dev/null || true
SAMPLER_PID=

log "kill -9 and restart"
kill -9 "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null || true
start_server
VERIFY_RC=0
"$PY" "$ROOT/benches/soak.py" verify --port "$PORT" --state "$WORK/state.json" >"$WORK/verify.txt" || VERIFY_RC=$?
redis-cli -p "$PORT" SHUTDOWN NOSAVE >/dev/null 2>&1 || true
wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=

echo
echo "== soak: $CONNS connections, $BAD misbehaving clients, ${DURATION}s, appendfsync everysec =="
cat "$WORK/probe-quiet.txt" "$WORK/probe-load.txt" "$WORK/load.txt" "$WORK/bad.txt"
echo "$STATS"
awk -F, -v rss0="$RSS0" 'NR > 1 && $2 != "" {
    if ($2 > max) max = $2; last = $2; if (min == "" || $2 < min) min = $2; n++
  } END {
    printf "RSS: start %.1f MB, min %.1f MB, max %.1f MB, end %.1f MB over %d samples (%s)\n",
      rss0/1024, min/1024, max/1024, last/1024, n, "rss.csv"
  }' "$WORK/rss.csv"
cat "$WORK/verify.txt"
exit "$VERIFY_RC"
