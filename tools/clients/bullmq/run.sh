#!/usr/bin/env bash
# Runs BullMQ (a Node job queue whose every operation is a Lua script using cmsgpack,
# with its events in a stream) unchanged against each server given by port, and prints
# each server's result line. Needs node and npm; installs the pinned packages on first
# use (into this folder's node_modules, not in git).
#
# Usage: tools/clients/bullmq/run.sh PORT [PORT...]     e.g. run.sh 6379 7001
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
[[ $# -ge 1 ]] || { echo "usage: $0 PORT [PORT...]" >&2; exit 2; }
command -v node >/dev/null && command -v npm >/dev/null || { echo "node and npm are needed" >&2; exit 2; }
[[ -d node_modules/bullmq ]] || npm install --no-audit --no-fund --loglevel=error >&2
status=0
for port in "$@"; do
  echo -n "port $port: "
  node drill.js "$port" || status=1
done
exit $status
