#!/usr/bin/env bash
# benches/profile.sh — instructions per request and syscalls per batch of strata-server
# (release build, debug = 1), the measurements behind docs/PROFILE.md.
#
# 1. callgrind: the server runs under `valgrind --tool=callgrind` (log off, then
#    `appendfsync everysec`); KEYSPACE keys are preloaded; for each of SET/GET at pipeline
#    1 and 16 the counters are zeroed (callgrind_control -z), redis-benchmark sends N
#    requests (50 clients, -d 64, -r KEYSPACE) and the profile is dumped
#    (callgrind_control -d). Instructions per request = total Ir of the dump / N (the
#    dump also holds the 50 connects and disconnects of the run). Then
#    benches/callgrind_top.py lists the top functions per request, self and inclusive
#    (and callgrind_annotate --inclusive=yes its view) into OUT/LABEL.top.txt.
# 2. strace -c -f: syscall counts of the (native) server for the same runs, per request
#    and per pipelined batch.
#
# env: N=20000 KEYSPACE=100000 MODES="off everysec" PORT=6431 OUT=target/profile
# Needs valgrind (callgrind_control, callgrind_annotate), strace; redis-tools.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
N=${N:-20000}
KEYSPACE=${KEYSPACE:-100000}
MODES=${MODES:-"off everysec"}
OUT=${OUT:-$TARGET_DIR/profile}
RUNS=("set 1" "set 16" "get 1" "get 16")

for t in valgrind callgrind_control callgrind_annotate strace; do
  command -v "$t" >/dev/null || die "$t not found (apt-get install valgrind strace)"
done
ensure_redis_tools
build_strata
bench_workdir strata-profile
bench_traps
mkdir -p "$OUT"
rm -f "$OUT"/callgrind.* "$OUT"/strace.*.txt "$OUT"/*.top.txt "$OUT"/*.inclusive.txt "$OUT"/instructions.csv

mode_args() {
  if [[ $1 == off ]]; then echo "--appendonly no"; else echo "--appendonly yes --appendfsync $1"; fi
}

bench() { # PORT TEST PIPE
  run redis-benchmark -h 127.0.0.1 -p "$1" -t "$2" -P "$3" -c 50 -d 64 -r "$KEYSPACE" -n "$N" -q \
    </dev/null >/dev/null 2>&1
}

# --- callgrind -------------------------------------------------------------------------
for mode in $MODES; do
  read -r -a margs <<<"$(mode_args "$mode")"
  port=$(free_port "${PORT:-6431}")
  cg_prefix=$OUT/callgrind.$mode
  rm -f "$cg_prefix".*
  # The server under callgrind, started through start_server (it waits for PONG).
  cat >"$WORK/vg-strata" <<EOF
#!/usr/bin/env bash
exec valgrind --tool=callgrind --callgrind-out-file=$cg_prefix.%p "$STRATA_BIN" "\$@"
EOF
  chmod +x "$WORK/vg-strata"
  start_server "strata-$mode" "$WORK/vg-strata" "$port" --save "" --auto-aof-rewrite-percentage 0 "${margs[@]}"
  preload_strings "$port" "$KEYSPACE" 64
  pid=${SRV_PID[strata-$mode]}
  for r in "${RUNS[@]}"; do
    read -r t p <<<"$r"
    run callgrind_control -z "$pid" >/dev/null
    bench "$port" "$t" "$p"
    run callgrind_control -d "${mode}_${t}_p${p}" "$pid" >/dev/null
  done
  stop_server "strata-$mode"
  for f in "$cg_prefix".*.[0-9]*; do
    [[ -f $f ]] || continue
    label=$(awk '/^desc: Trigger: dump /{print $NF}' "$f")
    [[ -n $label ]] || continue
    total=$(awk '/^summary:|^totals:/{print $2; exit}' "$f")
    ipr=$(((total + N / 2) / N))
    log "$label: $total instructions, $ipr per request"
    echo "$label,$N,$total,$ipr" >>"$OUT/instructions.csv"
    # Top functions per request, self and inclusive (callgrind_annotate 3.19 puts all self
    # cost of these dumps on __libc_start_main, so callgrind_top.py sums it from the file);
    # callgrind_annotate's own inclusive listing is kept next to it.
    python3 "$ROOT/benches/callgrind_top.py" "$f" "$N" 15 >"$OUT/$label.top.txt"
    callgrind_annotate --auto=no --inclusive=yes --threshold=99 "$f" >"$WORK/annotate.txt" 2>/dev/null
    sed -n 1,50p "$WORK/annotate.txt" >"$OUT/$label.inclusive.txt"
  done
done

# --- strace ----------------------------------------------------------------------------
for mode in $MODES; do
  read -r -a margs <<<"$(mode_args "$mode")"
  port=$(free_port "${PORT:-6431}")
  start_server "strace-$mode" "$STRATA_BIN" "$port" --save "" --auto-aof-rewrite-percentage 0 "${margs[@]}"
  preload_strings "$port" "$KEYSPACE" 64
  pid=${SRV_PID[strace-$mode]}
  for r in "${RUNS[@]}"; do
    read -r t p <<<"$r"
    f=$OUT/strace.${mode}_${t}_p${p}.txt
    log "+ strace -c -f -p $pid -o $f"
    strace -c -f -p "$pid" -o "$f" &
    spid=$!
    sleep 1
    bench "$port" "$t" "$p"
    kill -INT "$spid"
    wait "$spid" 2>/dev/null || true
    batches=$((N / p))
    log "$mode $t P$p: syscalls per request / per batch ($batches batches):"
    awk -v n="$N" -v b="$batches" '$NF ~ /^[a-z_0-9]+$/ && $4 ~ /^[0-9]+$/ && $NF != "total" {
        printf "  %-16s %8d  %6.2f/req  %6.2f/batch\n", $NF, $4, $4 / n, $4 / b }' "$f" >&2
  done
  stop_server "strace-$mode"
done
log "results in $OUT"
