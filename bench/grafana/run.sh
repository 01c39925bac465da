#!/usr/bin/env bash
# Per-query latency (p50/p99) of Grafana's recorded runtime queries: metagate on SQLite vs
# PostgreSQL 15 directly, same machine, interleaved in one run (compare the ratios; absolute
# numbers on 2 shared cores are noisy).
#
#   bash bench/grafana/run.sh [METAGATE_BIN]      (default build/bin/metagate, the release build)
#
# env: N=200 (timed executions per query and side)  WARMUP=5  BLOCK=20 (executions per side
#      before switching sides)  BUDGET=6 (seconds per query, both sides; slow queries get fewer
#      than N executions, at least BLOCK)  WORK=/tmp/metagate-grafana-bench
#      SHARED=/work/shared (grafana/ corpora inside)
# Both sides get the v11.0.0 migration corpus and tests/differential/runtime-setup.sql, then
# every statement of runtime-queries.sql is timed through lib/pq (see latency.go for how
# writes are kept from changing the data). Output: a table, $WORK/grafana-latency.tsv.
# Logs: $WORK/setup.log (schema/setup comparison), $WORK/metagate.log, $WORK/postgres.log.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
bin=${1:-$repo/build/bin/metagate}
N=${N:-200}; WARMUP=${WARMUP:-5}; BLOCK=${BLOCK:-20}; BUDGET=${BUDGET:-6}
WORK=${WORK:-/tmp/metagate-grafana-bench}
SHARED=${SHARED:-/work/shared}
grafana=$SHARED/grafana
diffdir=$repo/tests/differential

echo "command: N=$N WARMUP=$WARMUP BLOCK=$BLOCK BUDGET=$BUDGET WORK=$WORK bash ${BASH_SOURCE[0]} $*"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
[ -x "$bin" ] || { echo "metagate binary $bin not found (is the build finished?)"; exit 1; }
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
for f in "$grafana/migrations-grafana11.0.0-iqbal.sql" "$grafana/runtime-queries.sql" \
         "$diffdir/runtime-params.json" "$diffdir/runtime-setup.sql"; do
  [ -f "$f" ] || { echo "missing $f"; exit 1; }
done
command -v go >/dev/null || { echo "go not found"; exit 1; }

mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
rm -f "$WORK"/grafana.sqlite* "$WORK"/*.log "$WORK/grafana-latency.tsv"

# --- build: mgdiff's files + latency.go in one GOPATH package (GOPATH mode, Debian's lib/pq
# and pgx v4). mgdiff's main.go comes along for its helpers, with its main() renamed.
pkg=$WORK/gopath/src/mglatency
rm -rf "$pkg"; mkdir -p "$pkg"
for f in "$diffdir"/mgdiff/*.go; do
  [ "$(basename "$f")" = main.go ] || cp "$f" "$pkg/"
done
sed 's/^func main() {$/func mgdiffMain() {/' "$diffdir/mgdiff/main.go" > "$pkg/mgdiff_main.go"
grep -q '^func mgdiffMain() {$' "$pkg/mgdiff_main.go" || { echo "could not rename mgdiff's main()"; exit 1; }
cp "$here"/*.go "$pkg/"
if ! (cd "$pkg" && GO111MODULE=off GOPATH="$WORK/gopath:/usr/share/gocode" GOCACHE="$WORK/gocache" GOFLAGS= \
      timeout 300 go build -o "$WORK/mglatency" .); then
  echo "build failed"; exit 1
fi

# --- servers. PostgreSQL's data dir lives in a short /tmp path (socket path limit, and user
# postgres must reach it).
. "$repo/tests/support/pg.sh"
pgdir=$(mktemp -d /tmp/mglat-pg.XXXXXX)
cleanup() {
  metagate_stop >/dev/null 2>&1
  pg_stop "$pgdir" >/dev/null 2>&1
  cp "$pgdir/postgres.log" "$WORK/postgres.log" 2>/dev/null
  rm -rf "$pgdir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# fsync on for a fair durability comparison with metagate's synchronous=FULL.
PG_FSYNC=on pg_start "$pgdir" >/dev/null || { echo "could not start PostgreSQL"; exit 1; }
fsync=$("$PG_BINDIR/psql" -X -qAt -h 127.0.0.1 -p "$PG_PORT" -U postgres -c "SHOW fsync")
"$PG_BINDIR/psql" -X -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -c "CREATE DATABASE grafana" >/dev/null || exit 1
MG_LOG=$WORK/metagate.log metagate_start "$bin" "$WORK/grafana.sqlite" >/dev/null || { echo "could not start metagate"; exit 1; }
pgver=$("$PG_BINDIR/psql" -X -qAt -h 127.0.0.1 -p "$PG_PORT" -U postgres -c "SHOW server_version")
echo "postgres $pgver: 127.0.0.1:$PG_PORT (fsync=$fsync)   metagate: 127.0.0.1:$MG_PORT ($bin, $WORK/grafana.sqlite)"

# Same database name on both sides (current_database(), the advisory lock key).
timeout 900 "$WORK/mglatency" \
  --pg "host=127.0.0.1 port=$PG_PORT user=postgres sslmode=disable dbname=grafana" \
  --mg "host=127.0.0.1 port=$MG_PORT user=postgres sslmode=disable dbname=grafana" \
  --corpus "$grafana/migrations-grafana11.0.0-iqbal.sql" --queries "$grafana/runtime-queries.sql" \
  --params "$diffdir/runtime-params.json" --setup "$diffdir/runtime-setup.sql" \
  --n "$N" --warmup "$WARMUP" --block "$BLOCK" --budget "$BUDGET" \
  --tsv "$WORK/grafana-latency.tsv" --log "$WORK/setup.log"
rc=$?
if [ -n "${MG_PID:-}" ] && ! kill -0 "$MG_PID" 2>/dev/null; then
  echo "metagate exited during the run; log tail:"; tail -20 "$WORK/metagate.log"; rc=1
fi
exit $rc
