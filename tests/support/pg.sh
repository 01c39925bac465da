# Sourceable helpers to start and stop servers for metagate's integration tests.
#
#   source tests/support/pg.sh
#   pg_start /tmp/x/pg            # initdb + start on a free loopback port; exports PG_PORT
#   metagate_start ./metagate /tmp/x/mg.sqlite   # exports MG_PORT, MG_PID, MG_LOG
#   ...
#   metagate_stop; pg_stop /tmp/x/pg
#
# Every server listens on 127.0.0.1 only, on a port probed free at start time (never 5432/6432 by
# assumption). initdb/postgres refuse to run as root, so when uid is 0 they are run as user
# `postgres` through runuser, and the data directory is handed to that user.
# Callers should install a trap that calls metagate_stop / pg_stop so servers die with the test.

PG_BINDIR=${PG_BINDIR:-/usr/lib/postgresql/15/bin}

# free_port: print a TCP port on 127.0.0.1 that nothing listens on right now.
# The kernel picks it (bind to port 0), so two concurrent test runs do not collide on a guess.
free_port() {
  local p
  if command -v python3 >/dev/null 2>&1; then
    p=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()' 2>/dev/null)
    if [ -n "$p" ]; then echo "$p"; return 0; fi
  fi
  # Fallback: probe random high ports with bash's /dev/tcp (a refused connect means free).
  local i
  for i in $(seq 1 200); do
    p=$(( 20000 + RANDOM % 40000 ))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  echo "free_port: no free port found" >&2
  return 1
}

# wait_port PORT [SECONDS] [PID]: wait until 127.0.0.1:PORT accepts TCP connections.
# Fails early if PID is given and that process has exited.
wait_port() {
  local port=$1 secs=${2:-30} pid=${3:-} i
  for i in $(seq 1 $((secs * 10))); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
      echo "wait_port: process $pid exited before port $port opened" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "wait_port: 127.0.0.1:$port did not open within ${secs}s" >&2
  return 1
}

# _pg_as_owner CMD...: run a PostgreSQL binary as `postgres` when we are root.
_pg_as_owner() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# pg_start DIR: initdb DIR/data (if not yet there) and start postgres on a free port.
# Tests run it with fsync=off; benchmarks set PG_FSYNC=on for durable commits.
# Exports PG_PORT and PG_DIR. The socket directory is DIR, the log DIR/postgres.log.
pg_start() {
  local dir=$1
  [ -n "$dir" ] || { echo "pg_start: DIR required" >&2; return 2; }
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  if [ "$(id -u)" = 0 ]; then chown postgres: "$dir"; fi
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    _pg_as_owner "$PG_BINDIR/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 \
      >"$dir/initdb.log" 2>&1 || { echo "pg_start: initdb failed, see $dir/initdb.log" >&2; tail -20 "$dir/initdb.log" >&2; return 1; }
  fi
  local port attempt
  for attempt in 1 2 3; do
    port=$(free_port) || return 1
    if _pg_as_owner "$PG_BINDIR/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
        -o "-p $port -c listen_addresses=127.0.0.1 -k $dir -c timezone=UTC -c max_connections=200 -c fsync=${PG_FSYNC:-off}" \
        start >"$dir/pg_ctl.log" 2>&1; then
      export PG_PORT=$port PG_DIR=$dir
      wait_port "$port" 30 || return 1
      return 0
    fi
    # Port race with another process: try another port.
    sleep 0.2
  done
  echo "pg_start: postgres did not start, see $dir/postgres.log" >&2
  tail -20 "$dir/postgres.log" >&2 2>/dev/null
  return 1
}

# pg_stop DIR: fast shutdown of the server started by pg_start DIR (no error if not running).
pg_stop() {
  local dir=$1
  [ -n "$dir" ] && [ -d "$dir/data" ] || return 0
  if [ -f "$dir/data/postmaster.pid" ]; then
    _pg_as_owner "$PG_BINDIR/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null 2>&1 || {
      # Last resort: kill the postmaster we started (pid from its own pid file).
      local pid; pid=$(head -1 "$dir/data/postmaster.pid" 2>/dev/null)
      [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
    }
  fi
  return 0
}

# pg_psql [psql args...]: psql against the pg_start'ed server as superuser postgres.
pg_psql() {
  "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres "$@"
}

# metagate_start BIN DBFILE [extra args...]: run `BIN serve --listen 127.0.0.1:<free port> --sqlite DBFILE`
# in the background, wait until the port accepts TCP. Exports MG_PORT, MG_PID, MG_LOG
# (log file: MG_LOG if set by the caller, else DBFILE.log).
metagate_start() {
  local bin=$1 db=$2; shift 2 || { echo "metagate_start: BIN DBFILE required" >&2; return 2; }
  [ -x "$bin" ] || { echo "metagate_start: $bin is not executable" >&2; return 1; }
  local log=${MG_LOG:-$db.log} attempt port
  for attempt in 1 2 3; do
    port=$(free_port) || return 1
    # Metrics on an ephemeral port unless the caller chose (9187 would collide in parallel runs).
    # MG_METRICS_FLAG=0: a binary from before --metrics existed (bench baselines).
    local metrics=(--metrics 127.0.0.1:0) a
    for a in "$@"; do [ "$a" = --metrics ] && metrics=(); done
    [ "${MG_METRICS_FLAG:-1}" = 0 ] && metrics=()
    "$bin" serve --listen "127.0.0.1:$port" "${metrics[@]}" --sqlite "$db" "$@" >>"$log" 2>&1 &
    local pid=$!
    if wait_port "$port" 30 "$pid"; then
      export MG_PORT=$port MG_PID=$pid MG_LOG=$log
      return 0
    fi
    kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  done
  echo "metagate_start: metagate did not open its port, see $log" >&2
  tail -20 "$log" >&2 2>/dev/null
  return 1
}

# metagate_stop: stop the daemon started by metagate_start (TERM, then KILL after 5 s).
metagate_stop() {
  local pid=${MG_PID:-}
  [ -n "$pid" ] || return 0
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null
    local i
    for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null
  fi
  wait "$pid" 2>/dev/null
  unset MG_PID MG_PORT
  return 0
}

# metagate_test_args "$@": the arguments of the integration scripts, `--metagate BIN --work DIR`
# (-h prints the caller's header comment). Sets `metagate` (absolute path, must be executable)
# and `work` (created, absolute). Exits 2 on anything else.
metagate_test_args() {
  metagate= work=
  while [ $# -gt 0 ]; do
    case $1 in
      --metagate) metagate=$2; shift 2 ;;
      --work) work=$2; shift 2 ;;
      -h|--help) sed -n '2,/^set /p' "$0" | sed '$d'; exit 0 ;;
      *) echo "$(basename "$0"): unknown argument $1" >&2; exit 2 ;;
    esac
  done
  [ -n "$metagate" ] && [ -n "$work" ] || { echo "usage: $0 --metagate BIN --work DIR" >&2; exit 2; }
  metagate=$(cd "$(dirname "$metagate")" && pwd)/$(basename "$metagate")
  [ -x "$metagate" ] || { echo "$0: $metagate is not executable" >&2; exit 2; }
  mkdir -p "$work"
  work=$(cd "$work" && pwd)
}
