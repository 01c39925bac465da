#!/usr/bin/env bash
# ratchet.sh BASELINE_FILE -- COMMAND...: runs a differential run and fails when it reports
# more differences than the baseline file allows (or fails to complete). The baseline is the
# number of known, listed differences still open; it may only go down. 0 is the goal.
set -uo pipefail
baseline_file=$1
shift
[ "$1" = "--" ] && shift
allowed=$(grep -v '^#' "$baseline_file" | grep -E '^[0-9]+$' | head -1)
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$@" 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -1)
if [ -z "$summary" ]; then
  echo "ratchet: the run printed no summary (exit $rc)"
  exit 1
fi
if grep -q 'step(s) did not complete' "$out"; then
  echo "ratchet: some steps did not complete"
  exit 1
fi
failed=$(echo "$summary" | sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/')
echo "ratchet: $failed differences, baseline allows $allowed ($baseline_file)"
if [ "$failed" -gt "$allowed" ]; then
  echo "ratchet: more differences than the baseline: FAIL"
  exit 1
fi
if [ "$failed" -lt "$allowed" ]; then
  echo "ratchet: fewer differences than the baseline — lower it in $baseline_file"
fi
exit 0
