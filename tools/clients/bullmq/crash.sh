#!/usr/bin/env bash
# Crash drill with a real application: BullMQ producers add jobs (each add is a Lua
# script of a dozen writes) to a server started with appendfsync always; the server is
# killed with SIGKILL at a random moment, restarted on the same data, and crash.js checks
# that every job whose add was acknowledged is there, whole and waiting, and that no add
# was applied by half. Prints one line per round.
#
# Usage: tools/clients/bullmq/crash.sh strata PATH/TO/strata-server [ROUNDS]
#        tools/clients/bullmq/crash.sh redis  redis-server          [ROUNDS]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
[[ $# -ge 2 ]] || { echo "usage: $0 strata|redis SERVER_BIN [ROUNDS]" >&2; exit 2; }
kind=$1 bin=$2 rounds=${3:-3}
command -v node >/dev/null && command -v npm >/dev/null || { echo "node and npm are needed" >&2; exit 2; }
[[ -d node_modules/bullmq ]] || npm install --no-audit --no-fund --loglevel=error >&2
port=${PORT:-7311}
work=$(mktemp -d)
trap 'kill -9 $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

start() {
  case $kind in
    strata) "$bin" --port "$port" --dir "$work/data" --appendfsync always >"$work/server.log" 2>&1 & ;;
    redis) (cd "$work/data" && exec "$bin" --port "$port" --dir "$work/data" --save "" \
              --appendonly yes --appendfsync always) >"$work/server.log" 2>&1 & ;;
    *) echo "unknown server kind $kind" >&2; exit 2 ;;
  esac
  server=$!
  for _ in $(seq 100); do
    node -e "require('net').connect($port).on('connect', () => process.exit(0)).on('error', () => process.exit(1))" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "the server did not start; its log:" >&2; cat "$work/server.log" >&2; exit 1
}

status=0
for round in $(seq "$rounds"); do
  rm -rf "$work/data" "$work/acked"; mkdir -p "$work/data"
  start
  node crash.js load "$port" drill "$work/acked" & producer=$!
  secs=$(awk -v r=$RANDOM 'BEGIN { printf "%.2f", 1 + r / 32767 * 2 }')
  sleep "$secs"
  kill -9 "$server"; wait "$server" 2>/dev/null || true
  wait "$producer" 2>/dev/null || true
  start
  echo -n "$kind round $round: "
  node crash.js check "$port" drill "$work/acked" "$secs" || status=1
  kill "$server"; wait "$server" 2>/dev/null || true
done
exit $status
