# Sourceable helpers for a PostgreSQL 15 primary + streaming replica on loopback (issue 7's
# failover tests and bench/ha). Needs tests/support/pg.sh (sourced here).
#
#   source tests/support/pg_ha.sh
#   pg_ha_start /tmp/x            # primary in /tmp/x/a, replica in /tmp/x/b (pg_basebackup -R)
#                                 # exports PGA_PORT, PGB_PORT
#   pg_ha_sync /tmp/x on          # synchronous replication to the replica (or off)
#   pg_ha_role PORT               # prints "primary" or "replica" (or nothing: down)
#   pg_ha_promote /tmp/x/b        # pg_ctl promote, waits until it accepts writes
#   pg_ha_kill /tmp/x/a           # kill -9 of the postmaster (its children die with it)
#   pg_ha_rebuild /tmp/x/a PORT PRIMARY_PORT  # /tmp/x/a made again as a replica of PRIMARY_PORT, on PORT
#   pg_ha_stop /tmp/x             # both down
#
# Both run as `postgres` when we are root (as pg_start does), fsync off unless PG_FSYNC=on.
_ha_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=pg.sh
source "$_ha_here/pg.sh"

# pg_ha_start DIR: the primary (initdb, trust, replication allowed from 127.0.0.1 — initdb's
# default pg_hba has that line) and a replica made from it with pg_basebackup -R, streaming.
pg_ha_start() {
  local dir=$1
  [ -n "$dir" ] || { echo "pg_ha_start: DIR required" >&2; return 2; }
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  pg_start "$dir/a" || return 1
  export PGA_PORT=$PG_PORT
  # wal_keep_size: a replica briefly behind (a test's kill, a slow machine) can still catch up.
  _ha_psql "$PGA_PORT" -c "ALTER SYSTEM SET wal_keep_size = '256MB'" -c "SELECT pg_reload_conf()" >/dev/null || return 1
  mkdir -p "$dir/b"
  [ "$(id -u)" = 0 ] && chown postgres: "$dir/b"
  rm -rf "$dir/b/data"
  _pg_as_owner "$PG_BINDIR/pg_basebackup" -h 127.0.0.1 -p "$PGA_PORT" -U postgres -D "$dir/b/data" -R -X stream \
    -c fast >"$dir/b/basebackup.log" 2>&1 || { echo "pg_ha_start: pg_basebackup failed, see $dir/b/basebackup.log" >&2; tail -5 "$dir/b/basebackup.log" >&2; return 1; }
  pg_start "$dir/b" || return 1
  export PGB_PORT=$PG_PORT
  # Streaming, not only started: the primary sees the replica's walsender.
  local i
  for i in $(seq 1 300); do
    [ "$(_ha_psql "$PGA_PORT" -tAc "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'" 2>/dev/null)" = 1 ] && return 0
    sleep 0.1
  done
  echo "pg_ha_start: the replica does not stream, see $dir/b/postgres.log" >&2
  tail -10 "$dir/b/postgres.log" >&2
  return 1
}

_ha_psql() {
  local port=$1; shift
  "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres "$@"
}

# pg_ha_sync DIR on|off: synchronous_standby_names on the primary of DIR (a/) — with "on",
# COMMIT returns once the replica has the WAL (no acknowledged write lost by a failover).
pg_ha_sync() {
  local dir=$1 mode=$2 names="''"
  [ "$mode" = on ] && names="'*'"
  _ha_psql "$PGA_PORT" -c "ALTER SYSTEM SET synchronous_standby_names = $names" -c "SELECT pg_reload_conf()" >/dev/null
}

# pg_ha_role PORT: "primary", "replica", or nothing when it does not answer.
pg_ha_role() {
  local r
  r=$(PGCONNECT_TIMEOUT=2 _ha_psql "$1" -tAc "SELECT pg_is_in_recovery()" 2>/dev/null) || return 1
  case "$r" in t) echo replica ;; f) echo primary ;; *) return 1 ;; esac
}

# pg_ha_promote NODE_DIR: promote the replica there; waits until it is a primary.
pg_ha_promote() {
  local dir=$1
  _pg_as_owner "$PG_BINDIR/pg_ctl" -D "$dir/data" -w -t 60 promote >/dev/null 2>&1 || return 1
}

# pg_ha_kill NODE_DIR: kill -9 of the postmaster (no shutdown checkpoint, clients cut).
pg_ha_kill() {
  local dir=$1 pid
  pid=$(head -1 "$dir/data/postmaster.pid" 2>/dev/null)
  [ -n "$pid" ] || return 0
  kill -9 "$pid" 2>/dev/null
  local i
  for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  # Its backends exit when they notice the postmaster is gone; clean the pid file for a restart.
  rm -f "$dir/data/postmaster.pid"
}

# pg_ha_rebuild NODE_DIR PORT PRIMARY_PORT: the node there stopped, its data replaced by a
# pg_basebackup -R of the primary on PRIMARY_PORT, started again on PORT (its own), streaming.
pg_ha_rebuild() {
  local dir=$1 port=$2 primary=$3 i
  pg_stop "$dir"
  rm -rf "$dir/data"
  _pg_as_owner "$PG_BINDIR/pg_basebackup" -h 127.0.0.1 -p "$primary" -U postgres -D "$dir/data" -R -X stream \
    -c fast >"$dir/basebackup.log" 2>&1 || { echo "pg_ha_rebuild: pg_basebackup failed, see $dir/basebackup.log" >&2; return 1; }
  _pg_as_owner "$PG_BINDIR/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
    -o "-p $port -c listen_addresses=127.0.0.1 -k $dir -c timezone=UTC -c max_connections=200 -c fsync=${PG_FSYNC:-off}" \
    start >/dev/null 2>&1 || return 1
  for i in $(seq 1 300); do
    [ "$(_ha_psql "$primary" -tAc "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'" 2>/dev/null)" = 1 ] && return 0
    sleep 0.1
  done
  echo "pg_ha_rebuild: the replica does not stream, see $dir/postgres.log" >&2
  return 1
}

# pg_ha_stop DIR: both servers down (fast), whatever their state.
pg_ha_stop() {
  local dir=$1
  pg_stop "$dir/a"
  pg_stop "$dir/b"
}
