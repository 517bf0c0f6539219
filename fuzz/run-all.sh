#!/usr/bin/env bash
# Builds every fuzz target once (no sanitizer: works on the stable toolchain) and runs each
# for SECONDS (default 30) from the checked-in seeds (fuzz/seeds/T) with the RESP
# dictionary; new inputs go to fuzz/corpus/T (not in git). Prints total executions and
# executions per second per target. Any crash, leak, timeout or OOM makes it exit
# non-zero after printing the command that reproduces it.
#
# Usage: fuzz/run-all.sh [SECONDS] [TARGET...]     (default: every target in fuzz/Cargo.toml)
# Logs:  fuzz/target/run-all/T.log
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
SECS=${1:-30}
shift || true
[[ $SECS =~ ^[0-9]+$ ]] || { echo "usage: fuzz/run-all.sh [SECONDS] [TARGET...]" >&2; exit 2; }
if [[ $# -gt 0 ]]; then
  TARGETS=("$@")
else
  mapfile -t TARGETS < <(cargo fuzz list)
fi
command -v cargo-fuzz >/dev/null || { echo "cargo-fuzz not found: cargo install cargo-fuzz --locked" >&2; exit 2; }

echo "building ${#TARGETS[@]} fuzz targets (--sanitizer none)"
cargo fuzz build --sanitizer none || exit 1

LOGS=fuzz/target/run-all
mkdir -p "$LOGS"
failed=()
summary=()
for t in "${TARGETS[@]}"; do
  mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
  seeds=()
  [[ -d fuzz/seeds/$t ]] && seeds=("fuzz/seeds/$t")
  dict=()
  [[ $t == resp_decode ]] && dict=(-dict=fuzz/dict/resp.dict)
  [[ $t == scripts ]] && dict=(-dict=fuzz/dict/lua.dict)
  [[ $t == acl_file ]] && dict=(-dict=fuzz/dict/acl.dict)
  marker=$(mktemp)
  echo "==== $t: ${SECS}s"
  cargo fuzz run --sanitizer none "$t" "fuzz/corpus/$t" "${seeds[@]}" -- \
    -max_total_time="$SECS" -timeout=25 -print_final_stats=1 "${dict[@]}" \
    >"$LOGS/$t.log" 2>&1
  rc=$?
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$LOGS/$t.log" | grep -o '[0-9]*$' | tail -1)
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$LOGS/$t.log" | grep -o '[0-9]*$' | tail -1)
  summary+=("$(printf '%-16s %12s execs %8s/s  exit %s' "$t" "${execs:-?}" "${rate:-?}" "$rc")")
  echo "${summary[-1]}"
  if [[ $rc -ne 0 ]]; then
    failed+=("$t")
    tail -n 40 "$LOGS/$t.log"
    while IFS= read -r a; do
      echo "REPRODUCE: cargo fuzz run --sanitizer none $t $a"
    done < <(find "fuzz/artifacts/$t" -type f -newer "$marker" | sort)
  fi
  rm -f "$marker"
done

echo
echo "==== summary (${SECS}s per target)"
printf '%s\n' "${summary[@]}"
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "FAILED: ${failed[*]} (logs in $LOGS/)" >&2
  exit 1
fi
