#!/usr/bin/env bash
# benches/snapshot-compare.sh — snapshot cost under write load, redis-server and
# strata-server in one run, with the shared measuring scripts (../shared/bench or
# $ANCHOR_BENCH): preload KEYS keys (64-byte values), run a steady SET load, trigger
# BGSAVE (log off) and BGREWRITEAOF (everysec), sample RSS every 50 ms and a 1 ms latency
# probe. Writes one SUMMARY.md per server under target/bench/snapshot-<server>/.
#
# env: KEYS=5000000 REPS=1 OPS="bgsave bgrewriteaof" SERVERS="redis strata" ANCHOR_BENCH=../shared/bench
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ANCHOR=${ANCHOR_BENCH:-$ROOT/../shared/bench}
[[ -x $ANCHOR/snapshot_impact.sh ]] || { echo "shared bench scripts not found at $ANCHOR" >&2; exit 1; }
ensure_redis_tools
build_strata
export KEYS=${KEYS:-5000000} REPS=${REPS:-1} OPS=${OPS:-"bgsave bgrewriteaof"}
for server in ${SERVERS:-redis strata}; do
  out=$ROOT/target/bench/snapshot-$server
  rm -rf "$out"; mkdir -p "$out"
  if [[ $server == redis ]]; then cmd=(redis-server); else cmd=("$STRATA_BIN"); fi
  RESULTS=$out OUTD=$out/snapshot "$ANCHOR/snapshot_impact.sh" 127.0.0.1 6395 "${cmd[@]}"
  python3 "$ANCHOR/summarize.py" "$out" > "$out/SUMMARY.md"
  echo "== $server"; cat "$out/SUMMARY.md"
done
