#!/usr/bin/env bash
# psql against PostgreSQL 15 and against metagate with the same script; the outputs must be
# identical (psql's meta-commands are catalog queries: \dt, \di, \ds and patterns).
#
#   run.sh --metagate BIN --work DIR
set -u -o pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/../../support/pg.sh"
metagate_test_args "$@"
tmp=$(mktemp -d /tmp/mgpsql.XXXXXX); chmod 755 "$tmp"
cleanup() { metagate_stop; pg_stop "$tmp/pg" >/dev/null 2>&1; rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
pg_start "$tmp/pg" >/dev/null || { echo "0 passed, 1 failed"; exit 1; }
MG_LOG=$work/metagate.log metagate_start "$metagate" "$tmp/m.db" >/dev/null || { echo "0 passed, 1 failed"; exit 1; }
PSQL=/usr/lib/postgresql/15/bin/psql
for script in "$here"/*.sql; do
  name=$(basename "$script" .sql)
  timeout 60 "$PSQL" -X -h 127.0.0.1 -p "$PG_PORT" -U postgres postgres -f "$script" > "$work/$name.postgres" 2>&1
  timeout 60 "$PSQL" -X -h 127.0.0.1 -p "$MG_PORT" -U postgres postgres -f "$script" > "$work/$name.metagate" 2>&1
done
pass=0 fail=0
for script in "$here"/*.sql; do
  name=$(basename "$script" .sql)
  if diff -u "$work/$name.postgres" "$work/$name.metagate" > "$work/$name.diff"; then
    pass=$((pass + 1)); echo "PASS $name"
  else
    fail=$((fail + 1)); echo "FAIL $name: psql output differs (postgres vs metagate):"; head -60 "$work/$name.diff"
  fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
