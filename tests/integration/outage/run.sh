#!/usr/bin/env bash
# The two-week outage (issue 6, point 8, "network loss"), on an accelerated clock against a
# real S3-protocol server (s3rver from npm), which outage_sim kills and restarts through
# s3ctl.sh:
#
#   hour 0       the base snapshot is shipped; the bucket is current
#   hours 1-336  s3rver is down; Grafana-like writes, an hourly backup pass (retention, compaction,
#                the disk budget) and a failing shipping attempt every hour; the backup directory
#                stays inside the budget
#   return       catch-up first: one compacted delta makes the bucket current; then the history,
#                cut in the middle of a multipart upload (s3rver killed) and resumed after a restart
#   restore      from the bucket alone: the newest point equals the live database row for row, a
#                point two thirds into the outage equals the database at that commit
#   awscli       lists the objects; they are encrypted envelopes
#
#   run.sh --outage-sim BIN --work DIR [--hours N] [-- MORE OUTAGE_SIM ARGUMENTS]
#
# Without Node.js the test is skipped. Output: PASS/FAIL lines, FIGURE lines (bytes, ms), and
# "N passed, M failed"; the exit status is non-zero on failure.
set -u -o pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
sim="" work="" hours=336 extra=()
while [ $# -gt 0 ]; do
  case $1 in
    --outage-sim) sim=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --hours) hours=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "usage: run.sh --outage-sim BIN --work DIR [--hours N]"; exit 2 ;;
  esac
done
[ -x "$sim" ] && [ -n "$work" ] || { echo "usage: run.sh --outage-sim BIN --work DIR"; exit 2; }
source "$here/../../support/s3rver.sh"
if ! why=$(s3rver_find); then
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "outage: skipped: $why"; echo "0 passed, 0 failed, 1 skipped"; exit 0
  fi
  echo "outage: $why"; echo "0 passed, 1 failed"; exit 1
fi
mkdir -p "$work" && rm -rf "${work:?}"/* || exit 2
state=$work/s3
mkdir -p "$state"
cleanup() { bash "$here/s3ctl.sh" "$state" kill; }
trap cleanup EXIT
trap 'exit 130' INT TERM
bash "$here/s3ctl.sh" "$state" start || { echo "0 passed, 1 failed"; exit 1; }
S3RVER_PORT=$(cat "$state/port")

"$sim" --work "$work" --endpoint "http://127.0.0.1:$S3RVER_PORT" --bucket bucket \
  --s3ctl "bash $here/s3ctl.sh $state" --hours "$hours" "${extra[@]}" 2>"$work/outage_sim.log"
rc=$?
tail -5 "$work/outage_sim.log" >&2

# awscli, an independent client: the objects are there, and they are encrypted envelopes.
pass=0 fail=0
if [ -f "$state/pid" ]; then
  listing=$(awscli s3 ls --recursive s3://bucket/edge/site-1/grafana/ 2>&1)
  n=$(grep -c ' edge/site-1/grafana/' <<<"$listing")
  seg=$(grep -m1 -o 'edge/site-1/grafana/wal/[^ ]*\.seg' <<<"$listing")
  if [ "$n" -gt 3 ] && [ -n "$seg" ] && [ "$(awscli s3 cp "s3://bucket/$seg" - 2>/dev/null | head -c 8)" = MGENC001 ]; then
    echo "PASS awscli lists $n objects; a segment object is an encrypted envelope"; pass=1
  else
    echo "FAIL awscli: $n objects, segment '$seg'"; fail=1
  fi
else
  echo "FAIL s3rver is not running after the simulation"; fail=1
fi
[ $rc -eq 0 ] && [ $fail -eq 0 ] || { echo "outage: failed (simulation exit $rc)"; exit 1; }
echo "$pass passed, $fail failed (awscli)"
