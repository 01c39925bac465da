#!/usr/bin/env bash
# Differential test: Grafana's traffic against a reference PostgreSQL 15 (the oracle) and
# against metagate, through lib/pq and pgx v4; every difference is reported.
#
#   run.sh --metagate BIN --shared DIR --work DIR [--ref-only | --via-postgres] [--max-diffs N] [--verbose]
#
#   --metagate BIN  the daemon (`BIN serve --listen 127.0.0.1:P --sqlite FILE`)
#   --shared DIR    the shared/ folder (grafana/ corpora inside)
#   --work DIR      scratch space: Go build, PostgreSQL data dir, SQLite files, logs
#   --ref-only      the target is a second database on the reference PostgreSQL:
#                   validates the tool itself (must report 0 differences)
#   --via-postgres  the target is metagate relaying (transaction pooling, `--postgres
#                   CONNINFO --pool-mode transaction`) to a second database on the
#                   reference PostgreSQL: the pooler must change nothing
#
# For each corpus (Grafana 7.5.6, 11.0.0): a fresh reference database and a fresh target
# (metagate with a fresh SQLite file, or a second PG database), `mgdiff migrations`; after
# the 11.0.0 corpus also `mgdiff runtime` on the same pair. Ends with a total
# "N passed, M failed" line; exit status non-zero on any failure. Servers are always stopped.
set -u -o pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
metagate= shared= work= ref_only=0 via_postgres=0 max_diffs=200 verbose=
while [ $# -gt 0 ]; do
  case $1 in
    --metagate) metagate=$2; shift 2 ;;
    --shared) shared=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --ref-only) ref_only=1; shift ;;
    --via-postgres) via_postgres=1; shift ;;
    --max-diffs) max_diffs=$2; shift 2 ;;
    --verbose) verbose=--verbose; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -n "$shared" ] && [ -n "$work" ] || { echo "usage: run.sh --metagate BIN --shared DIR --work DIR [--ref-only]" >&2; exit 2; }
[ $ref_only = 1 ] || [ -n "$metagate" ] || { echo "run.sh: --metagate BIN required (or --ref-only)" >&2; exit 2; }
shared=$(cd "$shared" && pwd) || exit 2
grafana=$shared/grafana
for f in migrations-grafana7.5.6-asterisk.sql migrations-grafana11.0.0-iqbal.sql runtime-queries.sql runtime-queries.types.tsv; do
  [ -f "$grafana/$f" ] || { echo "run.sh: missing $grafana/$f" >&2; exit 2; }
done
if [ -n "$metagate" ]; then
  metagate=$(cd "$(dirname "$metagate")" && pwd)/$(basename "$metagate")
  [ -x "$metagate" ] || { echo "run.sh: $metagate is not executable" >&2; exit 2; }
fi
command -v go >/dev/null || { echo "run.sh: go not found" >&2; exit 2; }

mkdir -p "$work"
work=$(cd "$work" && pwd)
# Fresh run directory each time (the Go build cache is kept for speed).
run=$work/run
rm -rf "$run"
mkdir -p "$run" "$work/gopath" "$work/gocache"
# postgres (run as user postgres when we are root) must reach the data dir.
chmod 755 "$work" "$run" 2>/dev/null || true

source "$here/../support/pg.sh"

# PostgreSQL's data dir and socket live in a short path under /tmp: the unix socket path
# must stay under 108 bytes and every parent must be reachable by user postgres.
pgdir=$(mktemp -d "${TMPDIR:-/tmp}/mgdiff-pg.XXXXXX") || exit 2
cleanup() {
  metagate_stop
  pg_stop "$pgdir"
  cp "$pgdir/postgres.log" "$run/postgres.log" 2>/dev/null
  rm -rf "$pgdir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

total_pass=0 total_fail=0 steps_failed=0
# account LOGFILE RC: add the "N passed, M failed" of one mgdiff run to the totals.
account() {
  local line p f
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$1" | tail -1)
  if [ -z "$line" ]; then
    echo "run.sh: step produced no summary (exit $2)"
    total_fail=$((total_fail + 1)); steps_failed=$((steps_failed + 1)); return
  fi
  p=${line%% passed*}; f=${line#*passed, }; f=${f%% failed*}
  total_pass=$((total_pass + p)); total_fail=$((total_fail + f))
  if [ "$2" -ne 0 ] && [ "$f" -eq 0 ]; then
    # Non-zero exit without counted failures (crash, timeout, usage error).
    total_fail=$((total_fail + 1)); steps_failed=$((steps_failed + 1))
  fi
}

# --- build mgdiff (GOPATH mode, Debian's Go packages only).
echo "== building mgdiff"
if ! (cd "$here/mgdiff" && GO111MODULE=off GOPATH="$work/gopath:/usr/share/gocode" GOCACHE="$work/gocache" GOFLAGS= \
      timeout 300 go build -o "$work/mgdiff" .) ; then
  echo "run.sh: building mgdiff failed"
  echo "0 passed, 1 failed"
  exit 1
fi

# --- reference PostgreSQL.
echo "== starting reference PostgreSQL"
if ! pg_start "$pgdir"; then
  echo "run.sh: could not start PostgreSQL"
  echo "0 passed, 1 failed"
  exit 1
fi
ref_base="host=127.0.0.1 port=$PG_PORT user=postgres sslmode=disable"
psql_ref() { timeout 60 "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres "$@"; }

mg_n=0
# new_target NAME: prepare a fresh target; sets TARGET_DSN.
new_target() {
  local name=$1
  if [ $ref_only = 1 ]; then
    psql_ref -c "CREATE DATABASE \"${name}_target\"" >/dev/null || return 1
    TARGET_DSN="$ref_base dbname=${name}_target"
  elif [ $via_postgres = 1 ]; then
    psql_ref -c "CREATE DATABASE \"${name}_target\"" >/dev/null || return 1
    metagate_stop
    local port log=$run/metagate-$name.log
    port=$(free_port) || return 1
    "$metagate" serve --listen "127.0.0.1:$port" --metrics 127.0.0.1:0 \
      --postgres "host=127.0.0.1 port=$PG_PORT" --pool-mode transaction >>"$log" 2>&1 &
    MG_PID=$!
    wait_port "$port" 30 "$MG_PID" || return 1
    MG_PORT=$port
    TARGET_DSN="host=127.0.0.1 port=$MG_PORT user=postgres sslmode=disable dbname=${name}_target"
  else
    metagate_stop
    mg_n=$((mg_n + 1))
    MG_LOG=$run/metagate-$name.log metagate_start "$metagate" "$run/$name.sqlite" || return 1
    # Same database name as the reference: current_database() compares equal.
    TARGET_DSN="host=127.0.0.1 port=$MG_PORT user=postgres sslmode=disable dbname=$name"
  fi
}

steps=()
for corpus in grafana7.5.6-asterisk grafana11.0.0-iqbal; do
  name=$(echo "$corpus" | tr -c 'a-z0-9\n' '_')
  echo "== corpus $corpus"
  if ! psql_ref -c "CREATE DATABASE \"$name\"" >/dev/null || ! new_target "$name"; then
    echo "run.sh: could not prepare databases for $corpus"
    total_fail=$((total_fail + 1)); steps_failed=$((steps_failed + 1))
    continue
  fi
  ref_dsn="$ref_base dbname=$name"
  log=$run/mgdiff-migrations-$name.log
  timeout 600 "$work/mgdiff" migrations --ref "$ref_dsn" --target "$TARGET_DSN" \
    --corpus "$grafana/migrations-$corpus.sql" --max-diffs "$max_diffs" --timeout 20 $verbose 2>&1 | tee "$log"
  account "$log" "${PIPESTATUS[0]}"

  if [ "$corpus" = grafana11.0.0-iqbal ]; then
    log=$run/mgdiff-runtime-$name.log
    timeout 600 "$work/mgdiff" runtime --ref "$ref_dsn" --target "$TARGET_DSN" \
      --queries "$grafana/runtime-queries.sql" --params "$here/runtime-params.json" \
      --setup "$here/runtime-setup.sql" --types "$grafana/runtime-queries.types.tsv" \
      --max-diffs "$max_diffs" --timeout 20 $verbose 2>&1 | tee "$log"
    account "$log" "${PIPESTATUS[0]}"
  fi
  if [ $ref_only = 0 ] && [ -n "${MG_PID:-}" ] && ! kill -0 "$MG_PID" 2>/dev/null; then
    echo "run.sh: metagate exited during the $corpus run; log tail:"
    tail -20 "$run/metagate-$name.log"
  fi
done

echo "== total (logs in $run)"
[ $steps_failed -eq 0 ] || echo "$steps_failed step(s) did not complete"
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
