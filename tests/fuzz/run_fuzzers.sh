#!/usr/bin/env bash
# Runs every libFuzzer target in BIN_DIR for SECONDS each, one after the other, starting from
# a temporary copy of its seed corpus (tests/fuzz/corpus/<target>; the repository is never
# modified). Prints one summary line per target; exits non-zero if any target crashed, hung,
# leaked or broke an invariant. Reproducers go to $FUZZ_ARTIFACTS/<target>/ (default
# BIN_DIR/../fuzz-artifacts); copy one to tests/fuzz/crashers/<target>/ to make it a
# regression test (ctest -L fuzz-replay).
#
# Usage: tests/fuzz/run_fuzzers.sh BIN_DIR [SECONDS]
# Environment:
#   FUZZ_TARGETS="fuzz_types fuzz_sql"  only these targets
#   FUZZ_KEEP_CORPUS=DIR                keep each grown working corpus in DIR/<target>/
#   FUZZ_EXTRA_ARGS="-jobs=2 ..."       passed to every fuzzer
set -u -o pipefail

BIN_DIR=${1:?usage: run_fuzzers.sh BIN_DIR [SECONDS]}
SECONDS_EACH=${2:-30}
HERE=$(cd "$(dirname "$0")" && pwd)
BIN_DIR=$(cd "$BIN_DIR" 2>/dev/null && pwd) || { echo "run_fuzzers: no such directory: $1" >&2; exit 2; }
ARTIFACTS=${FUZZ_ARTIFACTS:-$(dirname "$BIN_DIR")/fuzz-artifacts}

# target:max_len (bytes; enough for every seed plus room to grow)
ALL_TARGETS="fuzz_wire_frontend:4096 fuzz_wire_startup:2048 fuzz_auth_scram:1024 fuzz_auth_hba:2048
fuzz_auth_credential:1024 fuzz_types:512 fuzz_sql:4096 fuzz_admin:256 fuzz_auth_scram_client:1024
fuzz_pool_relay:2048"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/metagate-fuzz.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

failed=0
ran=0
summary=()
for entry in $ALL_TARGETS; do
  target=${entry%%:*}
  max_len=${entry##*:}
  if [ -n "${FUZZ_TARGETS:-}" ] && [[ " $FUZZ_TARGETS " != *" $target "* ]]; then continue; fi
  bin=$BIN_DIR/$target
  if [ ! -x "$bin" ]; then
    summary+=("$(printf '%-22s skipped (not built)' "$target")")
    continue
  fi
  corpus=$WORK/$target
  mkdir -p "$corpus" "$ARTIFACTS/$target"
  if [ -d "$HERE/corpus/$target" ]; then cp -r "$HERE/corpus/$target/." "$corpus/"; fi
  seeds=$(find "$corpus" -type f | wc -l)
  log=$WORK/$target.log
  echo "== $target: ${SECONDS_EACH}s, $seeds seeds, -max_len=$max_len" >&2
  start=$(date +%s)
  # shellcheck disable=SC2086
  "$bin" "$corpus" -max_total_time="$SECONDS_EACH" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$ARTIFACTS/$target/" ${FUZZ_EXTRA_ARGS:-} >"$log" 2>&1
  rc=$?
  elapsed=$(( $(date +%s) - start ))
  ran=$((ran + 1))
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)
  last=$(grep -E '^#[0-9]+' "$log" | tail -1)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\)\/.*/\1/p' <<<"$last")
  if [ -n "${FUZZ_KEEP_CORPUS:-}" ]; then mkdir -p "$FUZZ_KEEP_CORPUS/$target" && cp -r "$corpus/." "$FUZZ_KEEP_CORPUS/$target/"; fi
  if [ $rc -eq 0 ]; then
    status=OK
  else
    status="FAILED (exit $rc)"
    failed=1
    art=$(grep -oE "(Test unit written to|artifact_prefix.*written to) [^ ]+" "$log" | tail -1 | awk '{print $NF}')
    echo "---- $target failed; last lines of its log:" >&2
    grep -E "ERROR|FUZZ_CHECK|runtime error|SUMMARY|^    #[0-9]" "$log" | head -30 >&2
    [ -n "$art" ] && echo "reproducer: $art  (replay: $bin $art)" >&2
    cp "$log" "$ARTIFACTS/$target/last.log"
  fi
  summary+=("$(printf '%-22s %-16s %9s runs %7s exec/s  cov %-5s ft %-6s corpus %-5s rss %4sMB %4ss' \
    "$target" "$status" "${runs:-?}" "${eps:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "${rss:-?}" "$elapsed")")
done

echo "fuzz summary (${SECONDS_EACH}s per target, binaries in $BIN_DIR):"
printf '  %s\n' "${summary[@]}"
if [ $ran -eq 0 ]; then
  echo "run_fuzzers: no fuzz target found in $BIN_DIR (build with: cmake --preset fuzz && cmake --build --preset fuzz)" >&2
  exit 2
fi
exit $failed
