#!/usr/bin/env bash
# Integration tests with real clients against a real metagate daemon.
#
#   run.sh concurrency --metagate BIN --work DIR [--duration 15s] [--clients 50] [--pgx 12]
#   run.sh hostile     --metagate BIN --work DIR [--seeds 200] [--burst 200]
#   run.sh hostile     --reference --work DIR     (against a real PostgreSQL 15: checks the
#                                                  expectations themselves; needs postgresql-15)
#
# Builds tests/integration/mgint (Go, GOPATH mode, Debian's lib/pq and pgx v4) into
# DIR/mgint, starts the daemon on a free loopback port with a fresh SQLite file in a
# temporary directory (removed at exit; the daemon log is kept as DIR/metagate.log), runs
# the test and stops the daemon. The output ends with "N passed, M failed"; the exit status
# is non-zero on any failure. The daemon log is also scanned for sanitizer reports.
set -u -o pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
test=${1:-}
[ -n "$test" ] && shift
metagate= work= reference=0 extra=()
while [ $# -gt 0 ]; do
  case $1 in
    --metagate) metagate=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --reference) reference=1; shift ;;
    --duration|--clients|--pgx|--seeds|--burst|--seed) extra+=("$1" "$2"); shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
case $test in
  concurrency|hostile) ;;
  *) echo "usage: run.sh concurrency|hostile --metagate BIN --work DIR [options]" >&2; exit 2 ;;
esac
[ -n "$work" ] || { echo "run.sh: --work DIR required" >&2; exit 2; }
if [ $reference = 0 ]; then
  [ -n "$metagate" ] || { echo "run.sh: --metagate BIN required" >&2; exit 2; }
  metagate=$(cd "$(dirname "$metagate")" && pwd)/$(basename "$metagate")
  [ -x "$metagate" ] || { echo "run.sh: $metagate is not executable" >&2; exit 2; }
fi
command -v go >/dev/null || { echo "run.sh: go not found"; echo "0 passed, 1 failed"; exit 1; }

started=$(date +%s.%N)
mkdir -p "$work"
work=$(cd "$work" && pwd)
# The Go build cache is shared by the integration tests (it is safe for concurrent use).
gocache=$(dirname "$work")/gocache
mkdir -p "$gocache" "$work/gopath"

source "$here/../support/pg.sh"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mgint-$test.XXXXXX") || exit 2
chmod 755 "$tmp"
cleanup() {
  metagate_stop
  [ $reference = 1 ] && pg_stop "$tmp/pg"
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== building mgint"
if ! (cd "$here/mgint" && GO111MODULE=off GOPATH="$work/gopath:/usr/share/gocode" GOCACHE="$gocache" GOFLAGS= \
      timeout 300 go build -o "$work/mgint" .); then
  echo "run.sh: building mgint failed"
  echo "0 passed, 1 failed"
  exit 1
fi

if [ $reference = 1 ]; then
  echo "== starting reference PostgreSQL 15"
  pg_start "$tmp/pg" || { echo "0 passed, 1 failed"; exit 1; }
  port=$PG_PORT
  pid=$(head -1 "$tmp/pg/data/postmaster.pid")
  pg_psql -d postgres -c 'CREATE DATABASE grafana' >/dev/null || { echo "0 passed, 1 failed"; exit 1; }
  user=postgres
else
  echo "== starting metagate"
  log=$work/metagate.log
  : >"$log"
  MG_LOG=$log metagate_start "$metagate" "$tmp/grafana.db" || { echo "0 passed, 1 failed"; exit 1; }
  port=$MG_PORT pid=$MG_PID user=grafana
fi
dsn="host=127.0.0.1 port=$port user=$user dbname=grafana sslmode=disable connect_timeout=20"

echo "== $test (daemon pid $pid, port $port)"
out=$work/$test.out
case $test in
  concurrency)
    timeout 150 "$work/mgint" concurrency --dsn "$dsn" --pid "$pid" "${extra[@]}" 2>&1 | tee "$out"
    rc=${PIPESTATUS[0]} ;;
  hostile)
    # The reference PostgreSQL runs with max_connections=200: a smaller burst there.
    ref=(); [ $reference = 1 ] && ref=(--reference --burst 150)
    timeout 150 "$work/mgint" hostile --addr "127.0.0.1:$port" --dsn "$dsn" --user "$user" --pid "$pid" "${ref[@]}" "${extra[@]}" 2>&1 | tee "$out"
    rc=${PIPESTATUS[0]} ;;
esac

summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out" | tail -1)
if [ -z "$summary" ]; then
  echo "run.sh: mgint produced no summary (exit $rc: 124 = timed out)"
  summary="0 passed, 1 failed"
fi
pass=${summary%% passed*}; fail=${summary#*passed, }; fail=${fail%% failed*}
[ "$rc" -ne 0 ] && [ "$fail" -eq 0 ] && fail=1

if [ $reference = 0 ]; then
  # The daemon must still be running, and must stop cleanly on SIGTERM.
  if kill -0 "$MG_PID" 2>/dev/null; then
    pass=$((pass + 1)); echo "PASS daemon still running after the test"
  else
    fail=$((fail + 1)); echo "FAIL daemon exited during the test; log tail:"; tail -30 "$log"
  fi
  metagate_stop
  if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:|ThreadSanitizer' "$log"; then
    fail=$((fail + 1)); echo "FAIL sanitizer report in the daemon log ($log):"
    grep -m5 -A12 -E 'AddressSanitizer|LeakSanitizer|runtime error:' "$log"
  else
    pass=$((pass + 1)); echo "PASS no sanitizer report in the daemon log"
  fi
fi
ended=$(date +%s.%N)
awk -v a="$started" -v b="$ended" -v t="$test" -v w="$work" 'BEGIN { printf "== %s took %.1fs (logs in %s)\n", t, b - a, w }'
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
