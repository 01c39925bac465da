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
mg_pids=()
load_pids=()
cleanup() {
  local p
  for p in "${load_pids[@]}"; do kill "$p" 2>/dev/null; done
  [ -n "$probe_pid" ] && kill "$probe_pid" 2>/dev/null
  for p in "${mg_pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
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
# start_mg NAME POOL_MODE [READS]: a metagate in front of the pair (the replica listed first);
# sets MG_PORT and appends its pid to mg_pids.
start_mg() {
  MG_PORT=$(free_port)
  cat >"$work/$1.json" <<JSON
{"listen": "127.0.0.1:$MG_PORT", "metrics": {"listen": "127.0.0.1:0"},
 "databases": {"*": {"backend": "postgres", "pool_mode": "$2", "queue_timeout_ms": 5000, "failover_hold_ms": 60000,
                     "health_check_interval_ms": 500, "reads": "${3:-primary}",
                     "conninfo": "host=127.0.0.1,127.0.0.1 port=$PGB_PORT,$PGA_PORT user=postgres password=unused-with-trust dbname=postgres"}}}
JSON
  "$metagate" serve --config "$work/$1.json" >"$work/$1.log" 2>&1 &
  mg_pids+=($!)
  wait_port "$MG_PORT" 30 "$!" || { echo "metagate $1 did not start"; tail -5 "$work/$1.log"; }
}
# load NAME TABLE CLIENTS [FAILOVERS]: a lib/pq client load through metagate at MG_PORT until
# stop-load exists (tests/integration/mgint/failover.go); appends its pid to load_pids.
load() {
  "$work/mgint" failover --dsn "host=127.0.0.1 port=$MG_PORT user=postgres dbname=postgres sslmode=disable" \
    --stop-file "$work/stop-load" --acked "$work/acked-$1.txt" --table "$2" --clients "$3" --failovers "${4:-1}" --max 100s \
    >"$work/failover-$1.out" 2>&1 &
  load_pids+=($!)
}
# wait_load NAME WHAT: waits for the oldest running load, shows its output, checks its exit.
wait_load() {
  local rc
  wait "${load_pids[0]}"; rc=$?
  load_pids=("${load_pids[@]:1}")
  sed 's/^/  /' "$work/failover-$1.out"
  check "lib/pq load through $2 ($1): $(grep -c '^PASS' "$work/failover-$1.out") checks passed, $(grep -c '^FAIL' "$work/failover-$1.out") failed" \
    test "$rc" = 0
}
if [ -n "$metagate" ]; then
  gocache=$(dirname "$work")/gocache
  mkdir -p "$gocache" "$work/gopath"
  (cd "$here/../mgint" && GO111MODULE=off GOPATH="$work/gopath:/usr/share/gocode" GOCACHE="$gocache" GOFLAGS= \
     timeout 300 go build -o "$work/mgint" .) || check "building mgint" false
  start_mg session session
  MG_SESSION_PORT=$MG_PORT
  start_mg txn transaction prefer-replicas
  got=$(mgsql -c "SELECT inet_server_port()" 2>&1)
  check "metagate: the replica is listed first, the statement runs on the primary a ($got, a = $PGA_PORT)" test "$got" = "$PGA_PORT"
  check "metagate: writes through it succeed" mgsql -c "CREATE TABLE m (id int)" -c "INSERT INTO m VALUES (1)"
  # Read/write split (this daemon: reads prefer-replicas). With the replica's replay paused, a
  # client that has just written reads its write (the primary); a client that has not reads
  # the replica's older state; a locking read goes to the primary.
  mgsql -c "CREATE TABLE rw (id int)" -c "INSERT INTO rw VALUES (1)"
  sleep 1.5
  _ha_psql "$PGB_PORT" -c "SELECT pg_wal_replay_pause()" >/dev/null
  writer=$(mgsql -c "INSERT INTO rw VALUES (2)" -c "SELECT count(*) FROM rw" 2>&1)
  sleep 1.2
  reader=$(mgsql -c "SELECT count(*) FROM rw" 2>&1)
  locking=$(mgsql -c "SELECT id FROM rw ORDER BY id FOR SHARE" 2>&1 | wc -l)
  _ha_psql "$PGB_PORT" -c "SELECT pg_wal_replay_resume()" >/dev/null
  sleep 1.2
  after=$(mgsql -c "SELECT count(*) FROM rw" 2>&1)
  check "read/write split: the writer reads its write ($writer), another client the paused replica's state ($reader), FOR SHARE the primary's ($locking rows), after the replay resumes $after" \
    test "$writer/$reader/$locking/$after" = "2/1/2/2"
  if [ -x "$work/mgint" ]; then
    load txn fo_txn 8
    MG_PORT_TXN=$MG_PORT
    MG_PORT=$MG_SESSION_PORT
    load session fo_session 4
    MG_PORT=$MG_PORT_TXN
    sleep 2
  fi
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
promoted_at=$(date +%s.%N)
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
if [ ${#load_pids[@]} -gt 0 ]; then
  sleep 2
  touch "$work/stop-load"
  for name in txn session; do
    wait_load "$name" "the failover"
    _ha_psql "$PGB_PORT" -q -c "CREATE TABLE acked_$name (client int, seq int)" \
      -c "\\copy acked_$name FROM '$work/acked-$name.txt' WITH (DELIMITER ' ')"
    missing=$(_ha_psql "$PGB_PORT" -tAc "SELECT count(*) FROM acked_$name k WHERE NOT EXISTS (SELECT 1 FROM fo_$name f WHERE f.client = k.client AND f.seq = k.seq)")
    check "$name pooling: no acknowledged write is missing on the new primary ($(wc -l <"$work/acked-$name.txt") acknowledged, $missing missing)" \
      test "$missing" = 0
    # (The killed postmaster's backends may still commit for a moment until they notice; from
    # the promotion on, a was down and then refused.)
    late=$(_ha_psql "$PGA_PORT" -tAc "SELECT count(*) FROM fo_$name WHERE at > to_timestamp($promoted_at)")
    check "$name pooling: no write reached the old primary after the promotion ($late rows there)" test "$late" = 0
  done
fi
# Planned switchover b -> a with PAUSE/RESUME: a is made again as b's synchronous replica, a
# new load runs through both daemons, both are paused (running transactions finish, new ones
# wait), b is stopped cleanly and a promoted, both resume: no client sees an error.
admin() { "$PG_BINDIR/psql" -X -q -h 127.0.0.1 -p "$1" -U postgres -d metagate -tA -F' ' -c "$2"; }
# elected PORT HOSTPORT: waits (10 s at most) until that daemon's SHOW HOSTS has HOSTPORT elected.
elected() {
  local i
  for i in $(seq 1 100); do
    admin "$1" "SHOW HOSTS" 2>/dev/null | grep -q "127.0.0.1 $2 primary elected" && return 0
    sleep 0.1
  done
  return 1
}
if [ -n "$metagate" ] && [ -x "$work/mgint" ] && pg_ha_rebuild "$work/a" "$PGA_PORT" "$PGB_PORT"; then
  _ha_psql "$PGB_PORT" -c "ALTER SYSTEM SET synchronous_standby_names = '*'" -c "SELECT pg_reload_conf()" >/dev/null
  rm -f "$work/stop-load"
  MG_PORT=$MG_PORT_TXN; load txn2 fo2_txn 8 0
  MG_PORT=$MG_SESSION_PORT; load session2 fo2_session 4 0
  MG_PORT=$MG_PORT_TXN
  sleep 2
  # The session daemon paused by hand; the transaction daemon by `metagate switchover`, which
  # runs the switchover itself and resumes once SHOW HOSTS shows a elected.
  t0=$(date +%s%N)
  admin "$MG_SESSION_PORT" PAUSE >/dev/null
  cat >"$work/switch.sh" <<SH
source "$here/../../support/pg_ha.sh"
pg_stop "$work/b"
pg_ha_promote "$work/a"
SH
  "$metagate" switchover --host 127.0.0.1 --port "$MG_PORT_TXN" --user postgres --command "bash $work/switch.sh" \
    --timeout 30 >"$work/switchover.out" 2>&1; so_rc=$?
  sed 's/^/  switchover: /' "$work/switchover.out"
  elected "$MG_SESSION_PORT" "$PGA_PORT"; e2=$?
  admin "$MG_SESSION_PORT" RESUME >/dev/null
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  check "switchover: metagate switchover (PAUSE, b stopped, a promoted, a elected, RESUME: exit $so_rc, '$(tail -1 "$work/switchover.out")'); the session daemon paused by hand saw a elected too; $ms ms in all" \
    test "$so_rc/$e2" = 0/0
  sleep 2
  touch "$work/stop-load"
  for name in txn2 session2; do wait_load "$name" "the planned switchover, no error allowed"; done
  hosts=$(admin "$MG_PORT_TXN" "SHOW HOSTS" 2>&1)
  echo "$hosts" | sed 's/^/  SHOW HOSTS: /'
  check "SHOW HOSTS: a elected, b down" \
    all 'echo "$hosts" | grep -q "127.0.0.1 $PGA_PORT primary elected 3 "' 'echo "$hosts" | grep -q "127.0.0.1 $PGB_PORT down down"'
  metrics_url=$(sed -n 's#.*metrics and health checks on http://\(127.0.0.1:[0-9]*\)/metrics.*#\1#p' "$work/txn.log" | head -1)
  scrape=$(curl -s "http://$metrics_url/metrics")
  changes=$(echo "$scrape" | grep '^metagate_cluster_primary_changes_total' | awk '{print $2}')
  lost=$(echo "$scrape" | grep '^metagate_pool_lost_transactions_total' | awk '{s+=$2} END {print s+0}')
  held=$(echo "$scrape" | grep '^metagate_failover_hold_seconds_count' | awk '{s+=$2} END {print s+0}')
  refusals=$(echo "$scrape" | grep '^metagate_cluster_refusals_total' | awk '{print $2}')
  check "metrics: primary changes $changes (2: the failover and the switchover), refusals $refusals (the old primary), lost transactions $lost, held statements $held" \
    all '[ "$changes" = 2 ]' '[ "${refusals:-0}" -ge 1 ]'
  # A primary restarted in place (crash recovery, no promotion: what Patroni does after kill -9
  # of the postmaster): a client arriving meanwhile is held, then served by the same host.
  pg_ha_kill "$work/a"
  mgsql -c "INSERT INTO m VALUES (3) RETURNING inet_server_port()" >"$work/inplace.out" 2>&1 &
  inplace=$!
  sleep 1.5
  _pg_as_owner "$PG_BINDIR/pg_ctl" -D "$work/a/data" -l "$work/a/postgres.log" -w -t 60 \
    -o "-p $PGA_PORT -c listen_addresses=127.0.0.1 -k $work/a -c fsync=off" start >/dev/null 2>&1
  wait "$inplace"; rc=$?
  check "restart in place: the held write ran on a once it was back ($(tr '\n' ' ' <"$work/inplace.out"), exit $rc)" \
    all '[ $rc = 0 ]' 'grep -qx "$PGA_PORT" "$work/inplace.out"'
fi
# The hold's limits: a cluster where nothing answers. A client is held failover_hold_ms, then
# refused with 08006; beyond failover_hold_max_clients, at once with 57P03.
if [ -n "$metagate" ]; then
  nport=$(free_port)
  p1=$(free_port); p2=$(free_port)
  cat >"$work/nohost.json" <<JSON
{"listen": "127.0.0.1:$nport", "metrics": {"listen": "127.0.0.1:0"},
 "databases": {"*": {"backend": "postgres", "pool_mode": "transaction", "queue_timeout_ms": 300,
                     "failover_hold_ms": 2000, "failover_hold_max_clients": 1, "health_check_timeout_ms": 300,
                     "conninfo": "host=127.0.0.1,127.0.0.1 port=$p1,$p2 user=postgres password=x dbname=postgres"}}}
JSON
  "$metagate" serve --config "$work/nohost.json" >"$work/nohost.log" 2>&1 &
  mg_pids+=($!)
  if wait_port "$nport" 30 "$!"; then
    t0=$(date +%s%N)
    PGCONNECT_TIMEOUT=30 "$PG_BINDIR/psql" -X -h 127.0.0.1 -p "$nport" -U postgres -d postgres -c "SELECT 1" >"$work/held1.out" 2>&1 &
    h1=$!
    sleep 0.5
    second=$(PGCONNECT_TIMEOUT=30 "$PG_BINDIR/psql" -X -h 127.0.0.1 -p "$nport" -U postgres -d postgres -c "SELECT 1" 2>&1)
    ms2=$(( ($(date +%s%N) - t0) / 1000000 ))
    wait "$h1"
    ms1=$(( ($(date +%s%N) - t0) / 1000000 ))
    first=$(cat "$work/held1.out")
    check "no primary at all: the first client held ${ms1} ms then refused ($(echo "$first" | grep -o 'FATAL.*' | head -1)); the second, over failover_hold_max_clients, at once after ${ms2} ms ($(echo "$second" | grep -o 'FATAL.*' | head -1))" \
      all 'echo "$first" | grep -q "no primary in the PostgreSQL cluster"' '[ "$ms1" -ge 1900 ] && [ "$ms1" -lt 6000 ]' \
          'echo "$second" | grep -q "clients are already waiting"' '[ "$ms2" -lt 1500 ]'
  else
    check "metagate with an unreachable cluster started" false
  fi
fi
[ -z "$probe" ] || { echo "views the monitor published:"; sed 's/^/  /' "$work/views.txt"; }

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
