#!/usr/bin/env bash
# The two-week outage at full size (issue 6, point 9): a ≥ 1 GB Grafana-shaped SQLite file, 336
# simulated hours of dashboard saves, annotations and user updates with the S3 endpoint (a real
# s3rver) down, then its return: bytes and time until the bucket is current, against uploading
# the whole file every hour. The same driver as the integration test
# (tests/integration/outage/outage_sim.cpp), optimized, with the full-size knobs.
#
#   bash bench/outage/run.sh
#
# env: WORK=/tmp/metagate-outage-bench  HOURS=336  TX_PER_HOUR=60  DASHBOARDS=2000
#      DASHBOARD_KB=48 (JSON per dashboard)  VERSIONS=10 (history rows per dashboard at the start)
#      SNAPSHOT_EVERY=24 (hours between backup passes: a 1 GB snapshot takes ~15 s here; the
#      whole-file figure still counts one upload per hour)  BUDGET_MIB=8192
# Output: the simulation's PASS/FAIL and FIGURE lines, and bench/results/<date>-issue6-outage.txt.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
WORK=${WORK:-/tmp/metagate-outage-bench}
HOURS=${HOURS:-336}; TX_PER_HOUR=${TX_PER_HOUR:-60}; DASHBOARDS=${DASHBOARDS:-2000}
DASHBOARD_KB=${DASHBOARD_KB:-48}; VERSIONS=${VERSIONS:-10}; SNAPSHOT_EVERY=${SNAPSHOT_EVERY:-24}
BUDGET_MIB=${BUDGET_MIB:-8192}
build=$repo/build/bench
cmd="WORK=$WORK HOURS=$HOURS TX_PER_HOUR=$TX_PER_HOUR DASHBOARDS=$DASHBOARDS DASHBOARD_KB=$DASHBOARD_KB VERSIONS=$VERSIONS SNAPSHOT_EVERY=$SNAPSHOT_EVERY BUDGET_MIB=$BUDGET_MIB bash bench/outage/run.sh"
# An optimized build of the test driver (the release preset builds no tests).
cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMETAGATE_BUILD_TESTS=ON >/dev/null || exit 1
cmake --build "$build" --target outage_sim >/dev/null || exit 1
sim=$(find "$build" -name outage_sim -type f -perm -u+x | head -1)
mkdir -p "$WORK" "$repo/bench/results"
out=$repo/bench/results/$(date -u +%F)-issue6-outage.txt
{
  echo "command: $cmd"
  echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/ {print $2}') GiB RAM"
  echo "commit: $(git -C "$repo" log -1 --format='%h %s')"
  echo "date: $(date -u '+%F %T') UTC"
  start=$(date +%s)
  bash "$repo/tests/integration/outage/run.sh" --outage-sim "$sim" --work "$WORK" --hours "$HOURS" -- \
    --bench 1 --tx-per-hour "$TX_PER_HOUR" --dashboards "$DASHBOARDS" --dashboard-kb "$DASHBOARD_KB" \
    --versions "$VERSIONS" --snapshot-every "$SNAPSHOT_EVERY" --budget-mib "$BUDGET_MIB" --blob-mib 0
  echo "wall: $(( $(date +%s) - start )) s"
} 2>&1 | grep -v '^\[20' | tee "$out"
