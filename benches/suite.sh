#!/usr/bin/env bash
# benches/suite.sh — the whole side-by-side throughput suite: strata-server next to
# redis-server on this machine, redis-benchmark SET GET INCR LPUSH LPOP SADD HSET ZADD
# MSET(10 keys), 50 clients, -d 64, -r 1000000, pipeline 1 and 16, in three log modes:
#   off       --appendonly no
#   everysec  --appendonly yes --appendfsync everysec
#   always    --appendonly yes --appendfsync always
# Both servers get the same Redis-style arguments (--save "" --auto-aof-rewrite-percentage 0
# plus the mode's), on 127.0.0.1, separate fresh temp data dirs and different ports; both are
# restarted (new empty dirs) for every mode and preloaded with KEYSPACE keys (key:%012d,
# DSIZE bytes) so GET hits. Every (mode, test, pipeline) cell runs alternately
# redis, strata, redis, strata ... REPS times each; the table reports medians.
#
# env: N=200000      requests per run
#      REPS=3        runs per server per cell (A B A B ...)
#      MODES="off everysec always"  TESTS="set get incr lpush lpop sadd hset zadd mset"
#      PIPES="1 16"  CLIENTS=50  DSIZE=64  KEYSPACE=1000000  PRELOAD=1 (0: no preload)
#      REDIS_PORT=6421 STRATA_PORT=6422 (the next free ports are used if busy)
#      REDIS_SERVER=redis-server   OUT=benches/results/suite.csv   SVG=docs/bench-suite.svg
#      CHART_ONLY=1  only redraw SVG from an existing OUT (no servers, no runs)
#
# Smoke run (a couple of minutes):  N=20000 REPS=1 benches/suite.sh
# Full run (the defaults, ~25 min):  N=200000 REPS=3 benches/suite.sh
#
# Output: a markdown table on stdout (medians of requests/s and p99 ms, ratio strata/redis
# per cell), OUT (medians), OUT with -runs (every run), and SVG (bar chart of the ratios,
# drawn by python3 from OUT). Servers started here are stopped (by pid) on exit, also on
# failure or Ctrl-C. redis-benchmark shares the 2 cores with the server: compare ratios.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

N=${N:-200000}
REPS=${REPS:-3}
MODES=${MODES:-"off everysec always"}
TESTS=${TESTS:-"set get incr lpush lpop sadd hset zadd mset"}
PIPES=${PIPES:-"1 16"}
CLIENTS=${CLIENTS:-50}
DSIZE=${DSIZE:-64}
KEYSPACE=${KEYSPACE:-1000000}
PRELOAD=${PRELOAD:-1}
OUT=${OUT:-$ROOT/benches/results/suite.csv}
RUNS=${OUT%.csv}-runs.csv
SVG=${SVG:-$ROOT/docs/bench-suite.svg}

for v in N REPS CLIENTS DSIZE KEYSPACE; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer (got '${!v}')"
done
for m in $MODES; do
  [[ $m =~ ^(off|no|everysec|always)$ ]] || die "unknown mode '$m' (off|no|everysec|always)"
done

if [[ ${CHART_ONLY:-0} != 1 ]]; then
  ensure_redis_tools
  build_strata
  bench_workdir strata-suite
  bench_traps
  mkdir -p "$(dirname "$OUT")" "$(dirname "$SVG")"

  log "redis: $("$REDIS_SERVER" --version)"
  log "strata: $STRATA_BIN ($(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'))"
  log "N=$N REPS=$REPS modes='$MODES' tests='$TESTS' pipelines='$PIPES' clients=$CLIENTS -d $DSIZE -r $KEYSPACE preload=$PRELOAD"

  mode_args() { # MODE -> the mode's server arguments, one per line
    printf '%s\n' --save "" --auto-aof-rewrite-percentage 0
    if [[ $1 == off ]]; then
      printf '%s\n' --appendonly no
    else
      printf '%s\n' --appendonly yes --appendfsync "$1"
    fi
  }

  echo "mode,rep,test,pipeline,server,n,rps,p99_ms" >"$RUNS"
  t_start=$(date +%s)
  for mode in $MODES; do
    mapfile -t args < <(mode_args "$mode")
    log "=== mode $mode: servers restarted with ${args[*]}"
    stop_all_servers
    start_server redis "$REDIS_SERVER" "$(free_port "${REDIS_PORT:-6421}")" "${args[@]}"
    start_server strata "$STRATA_BIN" "$(free_port "${STRATA_PORT:-6422}")" "${args[@]}"
    if [[ $PRELOAD == 1 ]]; then
      for s in redis strata; do preload_strings "${SRV_PORT[$s]}" "$KEYSPACE" "$DSIZE"; done
    fi
    declare -A before=()
    for s in redis strata; do before[$s]=$(commands_processed "${SRV_PORT[$s]}"); done
    for rep in $(seq 1 "$REPS"); do
      for p in $PIPES; do
        for t in $TESTS; do
          for s in redis strata; do
            r=$(rb_csv "${SRV_PORT[$s]}" -t "$t" -P "$p" -c "$CLIENTS" -d "$DSIZE" -r "$KEYSPACE" -n "$N")
            echo "$mode,$rep,$t,$p,$s,$N,$r" >>"$RUNS"
            log "$mode rep $rep/$REPS $t P$p $s: ${r%%,*} req/s, p99 ${r##*,} ms"
          done
        done
      done
    done
    # Each server must have executed what was sent to it (guards against a silent miss).
    expected=$((REPS * $(wc -w <<<"$TESTS") * $(wc -w <<<"$PIPES") * N))
    for s in redis strata; do
      got=$(($(commands_processed "${SRV_PORT[$s]}") - ${before[$s]}))
      ((got >= expected)) || die "$s processed $got commands in mode $mode, expected at least $expected"
    done
    stop_all_servers
  done
  elapsed=$(($(date +%s) - t_start))

  # --- report --------------------------------------------------------------------------
  echo "mode,test,pipeline,redis_rps,strata_rps,ratio,redis_p99_ms,strata_p99_ms,p99_ratio,reps,n" >"$OUT"
  echo
  echo "| mode | test | P | redis req/s | strata req/s | strata/redis | redis p99 ms | strata p99 ms | p99 strata/redis |"
  echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  for mode in $MODES; do
    for t in $TESTS; do
      for p in $PIPES; do
        col() {
          awk -F, -v m="$mode" -v t="$t" -v p="$p" -v s="$1" -v c="$2" \
            '$1==m && $3==t && $4==p && $5==s && $c != "" {print $c}' "$RUNS" | median
        }
        rr=$(col redis 7)
        sr=$(col strata 7)
        rp=$(col redis 8)
        sp=$(col strata 8)
        ratio=$(awk -v a="$sr" -v b="$rr" 'BEGIN{ printf "%.2f", (b > 0 ? a / b : 0) }')
        pratio=$(awk -v a="$sp" -v b="$rp" 'BEGIN{ if (b + 0 > 0) printf "%.2f", a / b; else printf "nan" }')
        T=$(tr '[:lower:]' '[:upper:]' <<<"$t")
        [[ $T == MSET ]] && T="MSET10"
        echo "$mode,$T,$p,$rr,$sr,$ratio,$rp,$sp,$pratio,$REPS,$N" >>"$OUT"
        printf '| %s | %s | %s | %.0f | %.0f | %s | %s | %s | %s |\n' \
          "$mode" "$T" "$p" "$rr" "$sr" "$ratio" "$rp" "$sp" "$pratio"
      done
    done
  done
  echo
  echo "Medians of $REPS run(s) per cell (alternating redis/strata), $N requests each, $CLIENTS clients," \
    "-d $DSIZE, -r $KEYSPACE, $KEYSPACE keys preloaded: $([[ $PRELOAD == 1 ]] && echo yes || echo no);" \
    "servers: --save \"\" --auto-aof-rewrite-percentage 0 + mode; ${elapsed}s"
  log "wrote $OUT and $RUNS"
fi

# --- chart ---------------------------------------------------------------------------
if ! command -v python3 >/dev/null; then
  log "python3 not found: $SVG not written"
  exit 0
fi
[[ -s $OUT ]] || die "$OUT not found"
# REPS and N as recorded in the CSV (CHART_ONLY=1 redraws an earlier run).
REPS=$(awk -F, 'NR==2{print $10}' "$OUT")
N=$(awk -F, 'NR==2{print $11}' "$OUT")
RV=$("$REDIS_SERVER" --version 2>/dev/null | grep -o 'v=[0-9.]*' | cut -c3- || true)
TITLE="Strata / Redis ${RV:-?} throughput ratio (medians of $REPS, N=$N, $CLIENTS clients, -d $DSIZE, -r $KEYSPACE), $(date -u -r "$OUT" +%Y-%m-%d)"
python3 - "$OUT" "$SVG" "$TITLE" <<'PY'
# Grouped bar chart of strata/redis ratios per (test, pipeline), one bar per mode, with
# the 1.0 line. Standard library only; a self-contained SVG.
import csv, sys
from xml.sax.saxutils import escape

src, dst, title = sys.argv[1:4]
rows = list(csv.DictReader(open(src)))
modes = list(dict.fromkeys(r["mode"] for r in rows))
cells = list(dict.fromkeys((r["test"], r["pipeline"]) for r in rows))
val = {(r["mode"], r["test"], r["pipeline"]): float(r["ratio"]) for r in rows}
colors = {"off": "#4e79a7", "no": "#76b7b2", "everysec": "#f28e2b", "always": "#e15759"}
bw, gap = 14, 14
gw = bw * len(modes) + gap
left, top, ph, bottom = 56, 44, 260, 70
width = left + gw * len(cells) + 20
height = top + ph + bottom
ymax = max([1.5] + [v for v in val.values()]) * 1.1
ymax = (int(ymax * 4) + 1) / 4
y = lambda v: top + ph - v / ymax * ph
o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
     f'font-family="sans-serif" font-size="11">',
     f'<rect width="{width}" height="{height}" fill="white"/>',
     f'<text x="{left}" y="18" font-size="13" font-weight="bold">{escape(title)}</text>',
     f'<text x="{left}" y="34" fill="#555">requests/s of strata-server divided by redis-server\'s, '
     f'per test and pipeline depth (P); above the line: Strata faster</text>']
t = 0.0
while t <= ymax + 1e-9:
    o.append(f'<line x1="{left}" x2="{width - 20}" y1="{y(t):.1f}" y2="{y(t):.1f}" stroke="#e5e5e5"/>')
    o.append(f'<text x="{left - 6}" y="{y(t) + 4:.1f}" text-anchor="end" fill="#555">{t:.2f}</text>')
    t += 0.25
for i, (test, p) in enumerate(cells):
    x0 = left + i * gw + gap / 2
    for j, m in enumerate(modes):
        v = val.get((m, test, p))
        if v is None:
            continue
        x = x0 + j * bw
        o.append(f'<rect x="{x:.1f}" y="{y(v):.1f}" width="{bw - 2}" height="{max(y(0) - y(v), 0):.1f}" '
                 f'fill="{colors.get(m, "#999")}"><title>{escape(m)} {escape(test)} P{p}: {v:.2f}</title></rect>')
    cx = x0 + bw * len(modes) / 2
    o.append(f'<text x="{cx:.1f}" y="{top + ph + 14}" text-anchor="middle">{escape(test)}</text>')
    o.append(f'<text x="{cx:.1f}" y="{top + ph + 27}" text-anchor="middle" fill="#555">P{p}</text>')
o.append(f'<line x1="{left}" x2="{width - 20}" y1="{y(1):.1f}" y2="{y(1):.1f}" stroke="black" '
         f'stroke-width="1.5" stroke-dasharray="6,3"/>')
o.append(f'<text x="{left + 4}" y="{y(1) - 4:.1f}">1.0 = parity</text>')
o.append(f'<line x1="{left}" x2="{left}" y1="{top}" y2="{y(0):.1f}" stroke="#333"/>')
lx = left
for m in modes:
    o.append(f'<rect x="{lx}" y="{height - 24}" width="12" height="12" fill="{colors.get(m, "#999")}"/>')
    label = "log off" if m == "off" else f"appendfsync {m}"
    o.append(f'<text x="{lx + 16}" y="{height - 14}">{escape(label)}</text>')
    lx += 150
o.append("</svg>")
open(dst, "w").write("\n".join(o) + "\n")
PY
log "wrote $SVG"
