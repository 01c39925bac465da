#!/usr/bin/env bash
# Issue 7 (walking skeleton): the primary + streaming replica harness on loopback, and the
# questions metagate's cluster monitor asks each host, checked against real PostgreSQL 15
# through a failover: the role (pg_is_in_recovery()), the timeline (a primary's from the name of
# its current WAL file; a replica's from pg_stat_wal_receiver.received_tli) and the WAL
# positions. The old primary restarted without being rewound reports itself primary on the old
# timeline: the case src/ha/election.cpp refuses (tests/unit/ha).
#
# ha_probe (ha::Monitor, src/ha/monitor.cpp) watches the pair throughout and must see: a the
# primary; nobody while a is down and b not yet promoted; b on timeline 2; a refused once it is
# back as an old primary.
#
# metagate relays to the pair as one cluster (the replica listed first): writes go to the elected
# primary; a client that connects while there is none is held until the promotion, then served
# by the new primary; nothing goes to the old primary once it is back.
#
#   bash tests/integration/ha/run.sh --ha-probe BUILD/bin/ha_probe --metagate BUILD/bin/metagate --work DIR
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=/tmp/metagate-ha
probe=
metagate=
while [ $# -gt 0 ]; do
  case "$1" in
    --work) work=$2; shift 2 ;;
    --ha-probe) probe=$2; shift 2 ;;
    --metagate) metagate=$2; shift 2 ;;
    *) echo "unknown argument $1"; exit 2 ;;
  esac
done
# shellcheck source=../../support/pg_ha.sh
source "$here/../../support/pg_ha.sh"
rm -rf "$work"; mkdir -p "$work"
work=$(cd "$work" && pwd)
pass=0; fail=0
all() { local c; for c in "$@"; do eval "$c" || return 1; done; }
check() {
  local what=$1; shift
  if "$@"; then echo "PASS $what"; pass=$((pass + 1)); else echo "FAIL $what"; fail=$((fail + 1)); fi
}
probe_pid=
mg_pid=
cleanup() {
  [ -n "$probe_pid" ] && kill "$probe_pid" 2>/dev/null
  [ -n "$mg_pid" ] && kill "$mg_pid" 2>/dev/null && wait "$mg_pid" 2>/dev/null
  pg_ha_stop "$work"
}
trap cleanup EXIT

# What the monitor asks (one round trip): role, timeline, WAL position.
ask() {
  PGCONNECT_TIMEOUT=2 _ha_psql "$1" -tAF' ' -c "
    SELECT pg_is_in_recovery(),
           CASE WHEN pg_is_in_recovery() THEN (SELECT received_tli FROM pg_stat_wal_receiver)
                ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int END,
           CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END" 2>/dev/null
}

pg_ha_start "$work" || { echo "0 passed, 1 failed (no primary + replica)"; exit 1; }
pg_ha_sync "$work" on
if [ -n "$probe" ]; then
  "$probe" --conninfo "dbname=postgres user=postgres" --seconds 90 "127.0.0.1:$PGA_PORT" "127.0.0.1:$PGB_PORT" \
    >"$work/views.txt" 2>"$work/probe.log" &
  probe_pid=$!
fi
# waits until the probe's newest line matches $1 (at most 20 s)
seen() {
  local i
  for i in $(seq 1 200); do tail -1 "$work/views.txt" 2>/dev/null | grep -q -- "$1" && return 0; sleep 0.1; done
  return 1
}
probe_check() {
  [ -n "$probe" ] || return 0
  local rc=0
  seen "$2" || rc=1
  check "monitor: $1 ($(tail -1 "$work/views.txt" 2>/dev/null))" test "$rc" = 0
}
probe_check "a is elected" "primary=0 timeline=1 refused=-"
# psql through metagate (as postgres; metagate trusts loopback clients by default).
mgsql() { PGCONNECT_TIMEOUT=60 "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$MG_PORT" -U postgres -d postgres -tA "$@"; }
if [ -n "$metagate" ]; then
  MG_PORT=$(free_port)
  cat >"$work/mg.json" <<JSON
{"listen": "127.0.0.1:$MG_PORT", "metrics": {"listen": "127.0.0.1:0"},
 "databases": {"*": {"backend": "postgres", "pool_mode": "transaction", "queue_timeout_ms": 60000,
                     "conninfo": "host=127.0.0.1,127.0.0.1 port=$PGB_PORT,$PGA_PORT user=postgres password=unused-with-trust dbname=postgres"}}}
JSON
  "$metagate" serve --config "$work/mg.json" >"$work/metagate.log" 2>&1 &
  mg_pid=$!
  wait_port "$MG_PORT" 30 "$mg_pid" || { echo "metagate did not start"; tail -5 "$work/metagate.log"; }
  got=$(mgsql -c "SELECT inet_server_port()" 2>&1)
  check "metagate: the replica is listed first, the statement runs on the primary a ($got, a = $PGA_PORT)" test "$got" = "$PGA_PORT"
  check "metagate: writes through it succeed" mgsql -c "CREATE TABLE m (id int)" -c "INSERT INTO m VALUES (1)"
fi
check "roles: a is $(pg_ha_role "$PGA_PORT"), b is $(pg_ha_role "$PGB_PORT")" \
  test "$(pg_ha_role "$PGA_PORT")/$(pg_ha_role "$PGB_PORT")" = primary/replica
_ha_psql "$PGA_PORT" -c "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 100)" >/dev/null
a=$(ask "$PGA_PORT"); b=$(ask "$PGB_PORT")
check "the monitor's question: a says '$a', b says '$b' (timeline 1 on both)" \
  bash -c '[[ "$1" == "f 1 "* && "$2" == "t 1 "* ]]' _ "$a" "$b"
check "synchronous replication: the replica has the acknowledged rows" \
  test "$(_ha_psql "$PGB_PORT" -tAc "SELECT count(*) FROM t")" = 100

# Failover: kill -9 of the primary, promotion of the replica.
pg_ha_kill "$work/a"
is_down() { ! pg_ha_role "$1" >/dev/null; }
check "a is down after kill -9" is_down "$PGA_PORT"
probe_check "nobody is elected while a is down and b not promoted" "primary=none timeline=1"
if [ -n "$metagate" ]; then
  # A client arriving during the failover is held, then served by the new primary.
  t0=$(date +%s%N)
  mgsql -c "INSERT INTO t VALUES (1001) RETURNING inet_server_port()" >"$work/held.out" 2>&1 &
  held=$!
  sleep 2
  check "metagate: the client arriving while there is no primary is held, not failed" kill -0 "$held"
fi
pg_ha_promote "$work/b"
b=$(ask "$PGB_PORT")
check "b promoted: '$b' (primary on timeline 2)" bash -c '[[ "$1" == "f 2 "* ]]' _ "$b"
check "writes go on on b" _ha_psql "$PGB_PORT" -c "INSERT INTO t VALUES (101)"
probe_check "b is elected on timeline 2" "primary=1 timeline=2 refused=-"
if [ -n "$metagate" ]; then
  wait "$held"; rc=$?
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  check "metagate: the held write ran on b after the promotion (exit $rc, $(tr '\n' ' ' <"$work/held.out")after $ms ms)" \
    all '[ $rc = 0 ]' 'grep -qx "$PGB_PORT" "$work/held.out"'
fi

# The old primary comes back as it was (no pg_rewind): it reports itself primary, on timeline 1.
_pg_as_owner "$PG_BINDIR/pg_ctl" -D "$work/a/data" -l "$work/a/postgres.log" -w -t 60 \
  -o "-p $PGA_PORT -c listen_addresses=127.0.0.1 -k $work/a -c fsync=off" start >/dev/null 2>&1
a=$(ask "$PGA_PORT")
check "the old primary back without rewind: '$a' (primary on timeline 1: refused by the election)" \
  bash -c '[[ "$1" == "f 1 "* ]]' _ "$a"
probe_check "the old primary is refused, b stays elected" "primary=1 timeline=2 refused=0"
if [ -n "$metagate" ]; then
  got=$(mgsql -c "INSERT INTO t VALUES (1002) RETURNING inet_server_port()" 2>&1)
  check "metagate: with the old primary back, writes still go to b ($got)" test "$got" = "$PGB_PORT"
  check "metagate: nothing written through it after the failover is on the old primary" \
    test "$(_ha_psql "$PGA_PORT" -tAc "SELECT count(*) FROM t WHERE id >= 1001")" = 0
fi
[ -z "$probe" ] || { echo "views the monitor published:"; sed 's/^/  /' "$work/views.txt"; }

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
