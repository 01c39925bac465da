#!/usr/bin/env bash
# pgbench through two transaction poolers: PostgreSQL 15 directly, through metagate
# (`pool_mode: transaction`) and through PgBouncer (Debian's package, `pool_mode = transaction`),
# both with the same pool size, interleaved in one run on one machine. The 2 cores are shared by
# pgbench's threads, the pooler and PostgreSQL, so absolute numbers move; compare the ratios.
# A fourth side, when Debian's haproxy is installed, is the floor for any proxy on this machine:
# HAProxy in TCP mode (one thread) copies bytes between a client and its own server connection,
# no protocol, no pooling, so whatever it costs, every pooler pays at least.
#
#   bench/pooler_compare.sh                       (run as root or as a user who may run postgres)
#   METAGATE_BIN=/tmp/metagate-x DURATION=3 ROUNDS=1 bench/pooler_compare.sh     (a quick try)
#
# env: METAGATE_BIN=build/bin/metagate (the release build)  PGBOUNCER_BIN=/usr/sbin/pgbouncer
#      HAPROXY_BIN=/usr/sbin/haproxy (the floor side; left out when missing, or with HAPROXY_BIN=)
#      METAGATE_COMMIT= the commit METAGATE_BIN was built from, for the report (default: repo HEAD)
#      DURATION=10 (s per run)  ROUNDS=3  SCALE=10 (pgbench -i -s)  POOL_SIZE=20 (both poolers)
#      CLIENTS="8 64"  MODES="simple extended prepared"  WORKLOADS="select-only tpcb-like"
#      THREADS=2 (pgbench -j, except -M prepared: -j = -c, see below)
#      MG_IO_THREADS=1 (metagate's io_threads; PgBouncer and HAProxy here run one thread too.
#        With pgbench and PostgreSQL on the same 2 cores a second io thread costs more CPU per
#        transaction than it gains; 0 = one per core, the daemon's default)
#      PARTS="matrix connections idle"      which parts to run
#      CONN_CLIENTS=2000 CONN_THREADS=4 CONN_DURATION=20 CONN_SIDES="metagate pgbouncer"
#      IDLE_CLIENTS=$CONN_CLIENTS  IDLE_SIDES="metagate pgbouncer"
#      WORK=/tmp/metagate-pooler-bench (logs, configs)  OUT=bench/results/DATE-pooler-TIME.md
#
# matrix: every (workload, mode, clients) cell runs direct, metagate and PgBouncer back to back;
#   ROUNDS rounds over all cells, the side order rotated each round (each side takes each position
#   once in 3 rounds); the report gives medians per side and the ratios to direct, and the 1-minute
#   load average before each run (other work on the machine shows there). Before every
#   run, as pgbench does without -n, pgbench_branches and pgbench_tellers are vacuumed and
#   pgbench_history truncated, directly on PostgreSQL (runs themselves use -n, so no side sends
#   VACUUM through a pooler). A run that aborts (PgBouncer 1.18 has no prepared-statement
#   tracking, so -M prepared fails through it) is recorded as "fails" with pgbench's error and
#   the run goes on; one that completes while pgbench printed errors (select-only -M prepared
#   through PgBouncer can, when every server connection ends up with the same P_0) as "errors".
#   Every pgbench is bounded by `timeout`.
#   -M prepared uses -j equal to -c on every side: pgbench 15 prepares each client's statements
#   with a synchronous PQprepare, and a thread that blocks there waiting for a pooled server
#   connection stops serving its other clients, which may be the ones holding the pool.
# connections: CONN_CLIENTS pgbench clients (`-S -M extended -c N -j CONN_THREADS
#   -T CONN_DURATION`) through each pooler over POOL_SIZE server connections; reports tps,
#   failed transactions, aborted clients, the pooler's peak RSS and the most server connections
#   it held (its TCP connections to PostgreSQL from `ss -tnp` that are logged-in sessions in
#   pg_stat_activity, sampled every 0.5 s), and metagate's admin console counters afterwards.
# idle: a fresh pooler process; RSS (VmRSS of /proc/PID/status) after one query, then with
#   IDLE_CLIENTS idle clients connected (a python3 script: raw sockets, StartupMessage, trust,
#   read to ReadyForQuery, then nothing), (difference) / IDLE_CLIENTS = memory per idle client.
# The report (OUT, Markdown, also printed) ends with the errors in PostgreSQL's log and the
# warnings/errors and disconnection reasons in the poolers' logs; everything else stays in WORK.
# PostgreSQL: tests/support/pg.sh's pg_start with fsync=on (max_connections=200: a direct run with
#   64 clients needs 64 connections while both poolers keep 2 x POOL_SIZE idle ones open).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
METAGATE_BIN=${METAGATE_BIN:-$repo/build/bin/metagate}
PGBOUNCER_BIN=${PGBOUNCER_BIN:-/usr/sbin/pgbouncer}
DURATION=${DURATION:-10}; ROUNDS=${ROUNDS:-3}; SCALE=${SCALE:-10}; POOL_SIZE=${POOL_SIZE:-20}
CLIENTS=${CLIENTS:-8 64}; MODES=${MODES:-simple extended prepared}
WORKLOADS=${WORKLOADS:-select-only tpcb-like}; THREADS=${THREADS:-2}; MG_IO_THREADS=${MG_IO_THREADS:-1}
HAPROXY_BIN=${HAPROXY_BIN-/usr/sbin/haproxy}
PARTS=${PARTS:-matrix connections idle}
CONN_CLIENTS=${CONN_CLIENTS:-2000}; CONN_THREADS=${CONN_THREADS:-4}; CONN_DURATION=${CONN_DURATION:-20}
CONN_SIDES=${CONN_SIDES-metagate pgbouncer}
IDLE_CLIENTS=${IDLE_CLIENTS:-$CONN_CLIENTS}; IDLE_SIDES=${IDLE_SIDES-metagate pgbouncer}
WORK=${WORK:-/tmp/metagate-pooler-bench}
stamp=$(date -u +%Y-%m-%d)-pooler-$(date -u +%H%M%S)
OUT=${OUT:-$repo/bench/results/$stamp.md}
PGB=/usr/lib/postgresql/15/bin/pgbench
PSQL=/usr/lib/postgresql/15/bin/psql
command_line="METAGATE_BIN=$METAGATE_BIN${METAGATE_COMMIT:+ METAGATE_COMMIT=$METAGATE_COMMIT} HAPROXY_BIN=$HAPROXY_BIN DURATION=$DURATION ROUNDS=$ROUNDS SCALE=$SCALE POOL_SIZE=$POOL_SIZE CLIENTS=\"$CLIENTS\" MODES=\"$MODES\" WORKLOADS=\"$WORKLOADS\" THREADS=$THREADS MG_IO_THREADS=$MG_IO_THREADS PARTS=\"$PARTS\" CONN_CLIENTS=$CONN_CLIENTS CONN_THREADS=$CONN_THREADS CONN_DURATION=$CONN_DURATION CONN_SIDES=\"$CONN_SIDES\" IDLE_CLIENTS=$IDLE_CLIENTS IDLE_SIDES=\"$IDLE_SIDES\" bench/pooler_compare.sh"

. "$repo/tests/support/pg.sh"
[ -x "$METAGATE_BIN" ] || { echo "METAGATE_BIN=$METAGATE_BIN is not executable" >&2; exit 2; }
[ -x "$PGBOUNCER_BIN" ] || { echo "no PgBouncer at $PGBOUNCER_BIN (apt-get install pgbouncer)" >&2; exit 2; }
command -v python3 >/dev/null || { echo "python3 is needed" >&2; exit 2; }
# Thousands of sockets in pgbench, the poolers and the idle-client script.
ulimit -n "$(ulimit -Hn)" 2>/dev/null
need_fds=$(( (CONN_CLIENTS > IDLE_CLIENTS ? CONN_CLIENTS : IDLE_CLIENTS) + 200 ))
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge "$need_fds" ] ||
  { echo "ulimit -n is $(ulimit -n), $need_fds needed" >&2; exit 2; }

rm -rf "$WORK"; mkdir -p "$WORK"; chmod 755 "$WORK"
R=$WORK/matrix.tsv; CR=$WORK/connections.tsv; IR=$WORK/idle.tsv; : > "$R"; : > "$CR"; : > "$IR"
pgdir=$WORK/pg
declare -A PORT PID
helper_pids=()
say() { echo "[$(date -u +%H:%M:%S)] $*"; }

stop_pid() {  # pid: TERM, then KILL after 10 s
  local p=$1 i
  [ -n "$p" ] && kill -0 "$p" 2>/dev/null || return 0
  kill "$p" 2>/dev/null
  for i in $(seq 1 100); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$p" 2>/dev/null
}
cleanup() {
  local p s
  for p in "${helper_pids[@]}"; do stop_pid "$p"; done
  for s in "${!PID[@]}"; do stop_pid "${PID[$s]}"; done
  wait 2>/dev/null
  pg_stop "$pgdir" >/dev/null 2>&1
}
trap cleanup EXIT
trap 'exit 130' INT TERM

direct_sql() { "$PSQL" -X -qAt -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -c "$1"; }

# --- servers -----------------------------------------------------------------------------------
PG_FSYNC=on pg_start "$pgdir" >/dev/null || { echo "could not start PostgreSQL" >&2; exit 1; }
PORT[direct]=$PG_PORT
pg_version=$(direct_sql "SHOW server_version")
pg_maxconn=$(direct_sql "SHOW max_connections")
pg_fsync=$(direct_sql "SHOW fsync")
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

start_metagate() {  # name: a metagate with its own config/log; sets PORT[name] PID[name]
  local name=$1 conf=$WORK/$1.json log=$WORK/$1.log attempt port pid
  for attempt in 1 2 3; do
    port=$(free_port) || return 1
    cat > "$conf" <<JSON
{
  "listen": "127.0.0.1:$port",
  "io_threads": $MG_IO_THREADS,
  "metrics": {"listen": null},
  "auth": {"rules": ["host all all 127.0.0.1/32 trust"]},
  "limits": {"max_connections": $(( (CONN_CLIENTS > IDLE_CLIENTS ? CONN_CLIENTS : IDLE_CLIENTS) + 100 ))},
  "databases": {"*": {"backend": "postgres", "conninfo": "host=127.0.0.1 port=$PG_PORT",
                      "pool_mode": "transaction", "pool_size": $POOL_SIZE}}
}
JSON
    "$METAGATE_BIN" serve --config "$conf" >>"$log" 2>&1 &
    pid=$!
    if wait_port "$port" 30 "$pid" 2>>"$log"; then PORT[$name]=$port; PID[$name]=$pid; return 0; fi
    stop_pid "$pid"; wait "$pid" 2>/dev/null
  done
  echo "metagate $name did not start, see $log" >&2; tail -20 "$log" >&2; return 1
}

start_pgbouncer() {  # name: a PgBouncer in $WORK/name/, run as postgres when we are root
  local name=$1 d=$WORK/$1 attempt port pid
  mkdir -p "$d"
  printf '"postgres" ""\n' > "$d/userlist.txt"
  for attempt in 1 2 3; do
    port=$(free_port) || return 1
    cat > "$d/pgbouncer.ini" <<INI
[databases]
* = host=127.0.0.1 port=$PG_PORT
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = trust
auth_file = $d/userlist.txt
pool_mode = transaction
default_pool_size = $POOL_SIZE
max_client_conn = $(( (CONN_CLIENTS > IDLE_CLIENTS ? CONN_CLIENTS : IDLE_CLIENTS) + 100 ))
ignore_startup_parameters = extra_float_digits
logfile = $d/pgbouncer.log
pidfile = $d/pgbouncer.pid
INI
    [ "$(id -u)" = 0 ] && chown -R postgres: "$d"
    rm -f "$d/pgbouncer.pid"
    if [ "$(id -u)" = 0 ]; then
      # setpriv, not runuser: runuser's PAM session (pam_limits) may reset the raised ulimit -n
      setpriv --reuid=postgres --regid=postgres --init-groups "$PGBOUNCER_BIN" -d "$d/pgbouncer.ini" >>"$d/start.log" 2>&1
    else
      "$PGBOUNCER_BIN" -d "$d/pgbouncer.ini" >>"$d/start.log" 2>&1
    fi
    local i; for i in $(seq 1 50); do [ -s "$d/pgbouncer.pid" ] && break; sleep 0.1; done
    pid=$(cat "$d/pgbouncer.pid" 2>/dev/null)
    if [ -n "$pid" ] && wait_port "$port" 30 "$pid" 2>>"$d/start.log"; then PORT[$name]=$port; PID[$name]=$pid; return 0; fi
    [ -n "$pid" ] && stop_pid "$pid"
  done
  echo "PgBouncer $name did not start, see $d/" >&2; tail -20 "$d/pgbouncer.log" "$d/start.log" >&2; return 1
}

start_haproxy() {  # name: HAProxy 2.6 in TCP mode, one thread, one server connection per client
  local name=$1 d=$WORK/$1 attempt port pid
  mkdir -p "$d"
  for attempt in 1 2 3; do
    port=$(free_port) || return 1
    cat > "$d/haproxy.cfg" <<CFG
global
  nbthread 1
  maxconn 4096
defaults
  mode tcp
  timeout connect 5s
  timeout client 1h
  timeout server 1h
listen pg
  bind 127.0.0.1:$port
  server pg 127.0.0.1:$PG_PORT
CFG
    rm -f "$d/haproxy.pid"
    "$HAPROXY_BIN" -D -f "$d/haproxy.cfg" -p "$d/haproxy.pid" >>"$d/start.log" 2>&1
    local i; for i in $(seq 1 50); do [ -s "$d/haproxy.pid" ] && break; sleep 0.1; done
    pid=$(head -1 "$d/haproxy.pid" 2>/dev/null)
    if [ -n "$pid" ] && wait_port "$port" 30 "$pid" 2>>"$d/start.log"; then PORT[$name]=$port; PID[$name]=$pid; return 0; fi
    [ -n "$pid" ] && stop_pid "$pid"
  done
  echo "HAProxy $name did not start, see $d/" >&2; tail -20 "$d/start.log" >&2; return 1
}

rss_kib() { awk '/^VmRSS:/{print $2}' "/proc/$1/status" 2>/dev/null; }
# server_conns PID: PostgreSQL sessions (logged-in client backends) whose TCP connection belongs to
# process PID, i.e. its server pool (a connection still authenticating, such as metagate's /readyz
# PQping, does not count)
server_conns() {
  local ports
  ports=$(ss -Htnp state established "( dport = :$PG_PORT )" 2>/dev/null | grep "pid=$1," | awk '{print $3}' | sed 's/.*://' | paste -sd, -)
  [ -n "$ports" ] || { echo 0; return; }
  direct_sql "SELECT count(*) FROM pg_stat_activity WHERE usename IS NOT NULL AND client_port IN ($ports)" 2>/dev/null || echo "?"
}

sides=(direct metagate pgbouncer)
start_metagate metagate || exit 1
start_pgbouncer pgbouncer || exit 1
hap_version=""
if [ -n "$HAPROXY_BIN" ] && [ -x "$HAPROXY_BIN" ]; then
  start_haproxy haproxy || exit 1
  sides+=(haproxy)
  hap_version=$("$HAPROXY_BIN" -v 2>&1 | head -1)
fi
mg_version=$("$PSQL" -X -qAt -h 127.0.0.1 -p "${PORT[metagate]}" -U postgres -d metagate -c "SHOW VERSION" 2>&1 | head -1)
pgb_version=$("$PGBOUNCER_BIN" --version 2>&1 | head -1)
repo_commit=$(git -C "$repo" log -1 --format='%h' 2>/dev/null)
repo_dirty=$(git -C "$repo" status --porcelain --untracked-files=no 2>/dev/null | grep -q . && echo " (working tree has uncommitted changes)")
# METAGATE_COMMIT: the commit METAGATE_BIN was built from, when it is not the repository's HEAD
if [ -n "${METAGATE_COMMIT:-}" ]; then mg_commit="built from commit $METAGATE_COMMIT (repository HEAD now $repo_commit)"
else mg_commit="repository HEAD $repo_commit$repo_dirty"; fi
bin_sum=$(sha256sum "$METAGATE_BIN" | cut -c1-16)
bin_date=$(date -u -r "$METAGATE_BIN" '+%Y-%m-%d %H:%M UTC')
say "PostgreSQL $pg_version on :${PORT[direct]}, metagate on :${PORT[metagate]} (pid ${PID[metagate]}), PgBouncer on :${PORT[pgbouncer]} (pid ${PID[pgbouncer]})"

say "init: pgbench -i -s $SCALE (directly)"
$PGB -i -q -s "$SCALE" -h 127.0.0.1 -p "$PG_PORT" -U postgres postgres > "$WORK/init.log" 2>&1 ||
  { echo "pgbench -i failed" >&2; cat "$WORK/init.log" >&2; exit 1; }
direct_sql "VACUUM ANALYZE" >/dev/null

# --- one pgbench run ---------------------------------------------------------------------------
# pgbench_result LOG RC -> "tps<TAB>lat<TAB>status<TAB>detail<TAB>conn_ms<TAB>failed_tx<TAB>aborted"
# status: ok; errors (the run completed but pgbench printed errors or counted failed transactions;
# its tps counts the transactions that succeeded); fails (clients aborted, no result or timeout).
pgbench_result() {
  local log=$1 rc=$2 tps lat conn failed aborted nerr status detail first
  tps=$(grep -oP '^tps = \K[0-9.]+' "$log" | head -1)
  lat=$(grep -oP '^latency average = \K[0-9.]+' "$log" | head -1)
  conn=$(grep -oP '^initial connection time = \K[0-9.]+' "$log" | head -1)
  failed=$(grep -oP '^number of failed transactions: \K[0-9]+' "$log" | head -1)
  aborted=$(grep -cE 'client [0-9]+ (script [0-9]+ )?aborted' "$log")
  nerr=$(grep -oE '(ERROR|FATAL): ' "$log" | wc -l)
  first=$(grep -m1 -E 'ERROR:|FATAL:|error:|could not' "$log" | sed -E 's/^(pgbench: *)*(error: *)?//' | tr '\t\r\n' '   ' | cut -c1-200)
  if [ "$aborted" -gt 0 ]; then
    detail="$aborted of the clients aborted: $(grep -m1 -oE 'aborted in command.*' "$log" | tr '\t\r\n' '   ' | cut -c1-160); first error: $first"
  else detail=$first; fi
  if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then status=fails; detail="timeout: pgbench still running at the deadline${detail:+; $detail}"
  elif [ -z "$tps" ] || grep -q 'Run was aborted' "$log" || [ "$aborted" -gt 0 ]; then status=fails; detail=${detail:-"pgbench exit $rc, no result"}
  elif [ "$rc" != 0 ]; then status=fails; detail="pgbench exit $rc; ${detail}"
  elif [ "${failed:-0}" != 0 ] || [ "$nerr" -gt 0 ]; then status=errors; detail="${failed:-0} failed transactions, $nerr error messages; first: ${detail}"
  else status=ok; detail=""
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s' "${tps:-0}" "${lat:-NaN}" "$status" "${detail:--}" "${conn:-NaN}" "${failed:-NaN}" "$aborted"
}

reset_tables() {  # what pgbench does before a run without -n, done directly
  PGOPTIONS="-c lock_timeout=10s" "$PSQL" -X -qAt -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres \
    -c "VACUUM pgbench_branches" -c "VACUUM pgbench_tellers" -c "TRUNCATE pgbench_history" >/dev/null ||
    echo "warning: could not vacuum/truncate before the run" >&2
}

run_cell() {  # workload mode clients side round
  local wl=$1 mode=$2 c=$3 side=$4 rnd=$5 flag="" j=$THREADS
  [ "$wl" = select-only ] && flag=-S
  [ "$mode" = prepared ] && j=$c
  local log=$WORK/run-$wl-$mode-c$c-$side-r$rnd.log load
  reset_tables
  load=$(cut -d' ' -f1 /proc/loadavg)  # other work on the machine shows here
  timeout -k 10 $(( DURATION * 3 + 60 )) \
    $PGB $flag -M "$mode" -c "$c" -j "$j" -T "$DURATION" -n -h 127.0.0.1 -p "${PORT[$side]}" -U postgres postgres > "$log" 2>&1
  local rc=$? res
  res=$(pgbench_result "$log" "$rc")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$wl" "$mode" "$c" "$j" "$side" "$rnd" "$res" "$load" >> "$R"
  printf '  %-11s %-8s c=%-3s j=%-3s %-9s r%s  %s\n' "$wl" "$mode" "$c" "$j" "$side" "$rnd" "$(echo "$res" | cut -f1-4 | tr '\t' ' ')"
}

# --- matrix ------------------------------------------------------------------------------------
if [[ " $PARTS " == *" matrix "* ]]; then
  ncells=0; for wl in $WORKLOADS; do for m in $MODES; do for c in $CLIENTS; do ncells=$((ncells+1)); done; done; done
  say "matrix: $ncells cells x ${#sides[@]} sides x $ROUNDS rounds x ${DURATION} s"
  for r in $(seq 1 "$ROUNDS"); do
    off=$(( (r - 1) % ${#sides[@]} ))
    order=("${sides[@]:$off}" "${sides[@]:0:$off}")
    say "round $r (order: ${order[*]})"
    for wl in $WORKLOADS; do for mode in $MODES; do for c in $CLIENTS; do
      for s in "${order[@]}"; do run_cell "$wl" "$mode" "$c" "$s" "$r"; done
    done; done; done
  done
fi

# --- connections: many clients over a small pool ----------------------------------------------
sample_server() {  # file pid: every 0.5 s, the pooler's server connections and its RSS
  local f=$1 p=$2
  while :; do
    printf '%s\t%s\n' "$(server_conns "$p")" "$(rss_kib "$p")" >> "$f"
    sleep 0.5
  done
}
if [[ " $PARTS " == *" connections "* ]]; then
  for side in $CONN_SIDES; do
    say "connections: $CONN_CLIENTS clients through $side (pool $POOL_SIZE), -T $CONN_DURATION"
    reset_tables
    smp=$WORK/conn-$side.samples; : > "$smp"
    sample_server "$smp" "${PID[$side]}" & spid=$!; helper_pids+=("$spid")
    log=$WORK/conn-$side.log
    timeout -k 10 $(( CONN_DURATION * 3 + 120 )) \
      $PGB -S -M extended -c "$CONN_CLIENTS" -j "$CONN_THREADS" -T "$CONN_DURATION" -n \
        -h 127.0.0.1 -p "${PORT[$side]}" -U postgres postgres > "$log" 2>&1
    rc=$?
    stop_pid "$spid"; wait "$spid" 2>/dev/null
    res=$(pgbench_result "$log" "$rc")
    maxsrv=$(cut -f1 "$smp" | grep -E '^[0-9]+$' | sort -n | tail -1)
    maxrss=$(cut -f2 "$smp" | grep -E '^[0-9]+$' | sort -n | tail -1)
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$side" "$CONN_CLIENTS" "$CONN_THREADS" "$res" "${maxsrv:-NaN}" "${maxrss:-NaN}" | tee -a "$CR"
  done
  if [[ " $CONN_SIDES " == *" metagate "* ]]; then
    # SHOW POOLS where the binary has it, else what its admin console has
    for q in "SHOW POOLS" "SHOW DATABASES" "SHOW STATS"; do
      "$PSQL" -X -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "${PORT[metagate]}" -U postgres -d metagate -c "$q" >> "$WORK/conn-metagate-pools.txt" 2>/dev/null &&
        [ "$q" = "SHOW POOLS" ] && break
    done
  fi
fi

# --- idle clients: memory per connection -------------------------------------------------------
cat > "$WORK/idle_clients.py" <<'PY'
# Open N PostgreSQL client connections (protocol 3.0, trust), read each to ReadyForQuery, then
# hold them idle until SIGTERM; then send Terminate and close. Prints "ready OK FAILED" once.
import signal, socket, struct, sys, time
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def recvn(s, k):
    b = b""
    while len(b) < k:
        x = s.recv(k - len(b))
        if not x: raise ConnectionError("closed by server")
        b += x
    return b
def startup(s):
    p = b"user\0postgres\0database\0postgres\0application_name\0idle-client\0\0"
    s.sendall(struct.pack("!ii", 8 + len(p), 196608) + p)
    while True:
        h = recvn(s, 5); body = recvn(s, struct.unpack("!i", h[1:])[0] - 4)
        if h[:1] == b"E": raise RuntimeError(body.replace(b"\0", b" ").decode(errors="replace"))
        if h[:1] == b"R" and struct.unpack("!i", body[:4])[0] != 0: raise RuntimeError("asked for a password")
        if h[:1] == b"Z": return
socks, errors = [], {}
for i in range(n):
    s = socket.socket()
    try:
        s.settimeout(30); s.connect((host, port)); startup(s); s.settimeout(None); socks.append(s)
    except Exception as e:
        errors[str(e)] = errors.get(str(e), 0) + 1; s.close()
print("ready", len(socks), n - len(socks), "; ".join(f"{k} (x{v})" for k, v in errors.items()), flush=True)
stop = []
signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
while not stop: time.sleep(0.2)
for s in socks:
    try: s.sendall(b"X\0\0\0\4"); s.close()
    except OSError: pass
PY
if [[ " $PARTS " == *" idle "* ]]; then
  for side in $IDLE_SIDES; do
    name=idle-$side
    case $side in
      metagate) start_metagate "$name" || exit 1 ;;
      pgbouncer) start_pgbouncer "$name" || exit 1 ;;
      *) echo "IDLE_SIDES: unknown side $side" >&2; exit 2 ;;
    esac
    p=${PID[$name]}
    # One query first, so the pool, its server connection and the allocator are in use.
    "$PSQL" -X -qAt -h 127.0.0.1 -p "${PORT[$name]}" -U postgres -d postgres -c "SELECT 1" >/dev/null 2>&1
    sleep 2; rss0=$(rss_kib "$p")
    say "idle: $IDLE_CLIENTS idle clients on a fresh $side (pid $p, VmRSS $rss0 KiB)"
    out=$WORK/$name.clients; : > "$out"
    python3 "$WORK/idle_clients.py" 127.0.0.1 "${PORT[$name]}" "$IDLE_CLIENTS" > "$out" 2>&1 & cpid=$!; helper_pids+=("$cpid")
    for i in $(seq 1 1200); do grep -q '^ready' "$out" && break; kill -0 "$cpid" 2>/dev/null || break; sleep 0.1; done
    sleep 3
    rss1=$(rss_kib "$p")
    srv=$(server_conns "$p")
    read -r _ ok bad rest < <(grep '^ready' "$out" || echo "ready 0 $IDLE_CLIENTS no answer")
    stop_pid "$cpid"; wait "$cpid" 2>/dev/null
    sleep 2; rss2=$(rss_kib "$p")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$side" "$IDLE_CLIENTS" "$ok" "$bad" "$rss0" "$rss1" "$rss2" "$srv" "${rest:--}" | tee -a "$IR"
    stop_pid "$p"; unset "PID[$name]"
  done
fi

# --- report ------------------------------------------------------------------------------------
for s in metagate pgbouncer haproxy; do
  # the poolers stay up until here so that their logs are complete; stop them now
  stop_pid "${PID[$s]:-}"; unset "PID[$s]"
done
mkdir -p "$(dirname "$OUT")"
export mg_commit load_start command_line pg_version pg_maxconn pg_fsync mg_version pgb_version hap_version repo_commit repo_dirty bin_sum bin_date
export METAGATE_BIN MG_IO_THREADS DURATION ROUNDS SCALE POOL_SIZE THREADS CONN_CLIENTS CONN_THREADS CONN_DURATION IDLE_CLIENTS WORK
python3 - "$R" "$CR" "$IR" > "$OUT" <<'PY'
import collections, os, re, statistics, subprocess, sys, glob
E = os.environ
R, CR, IR = sys.argv[1:4]
def sh(c):
    try: return subprocess.run(c, shell=True, capture_output=True, text=True).stdout.strip()
    except Exception: return "?"
cpu = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip()
mem = sh("awk '/MemTotal/{printf \"%.0f\", $2/1048576}' /proc/meminfo")
print("# Transaction pooling: PostgreSQL directly vs metagate vs PgBouncer (pgbench), HAProxy as the floor\n")
print(f"Run of {sh('date -u +%Y-%m-%d')} (finished {sh('date -u +%H:%M')} UTC).\n")
print("```sh\n" + E["command_line"] + "\n```\n")
print("| | |\n|---|---|")
print(f"| machine | {sh('nproc')} cores ({cpu}), {mem} GiB RAM, kernel {sh('uname -r')} |")
print(f"| PostgreSQL | {E['pg_version']} (fsync={E['pg_fsync']}, max_connections={E['pg_maxconn']}, otherwise default settings), pgbench {sh('/usr/lib/postgresql/15/bin/pgbench --version').split(') ')[-1]} |")
print(f"| PgBouncer | {E['pgb_version']}: pool_mode = transaction, default_pool_size = {E['POOL_SIZE']}, auth_type = trust |")
print(f"| metagate | `{E['METAGATE_BIN']}` (sha256 {E['bin_sum']}…, built {E['bin_date']}; reports \"{E['mg_version']}\"); {E['mg_commit']}; pool_mode transaction, pool_size {E['POOL_SIZE']}, io_threads {E['MG_IO_THREADS']}, metrics endpoint off |")
if E.get("hap_version"):
    print(f"| HAProxy (floor) | {E['hap_version']}: mode tcp, nbthread 1, one server connection per client (no pooling, no protocol) |")
print("| all on | 127.0.0.1; pgbench's threads, the pooler and PostgreSQL share the same cores |")
load_end = sh("cut -d' ' -f1-3 /proc/loadavg")
print(f"| load average | {E['load_start']} at the start, {load_end} at the end |")
print()

def fnum(x, d=0):
    return f"{x:,.{d}f}".replace(",", " ")
rows = [l.rstrip("\n").split("\t") for l in open(R) if l.strip()]
if rows:
    print(f"## pgbench matrix (medians of {E['ROUNDS']} rounds, {E['DURATION']} s per run, scale {E['SCALE']})\n")
    print(f"`pgbench [-S] -M MODE -c C -j J -T {E['DURATION']} -n`; J = {E['THREADS']}, except -M prepared where J = C "
          "(pgbench 15's synchronous PQprepare would otherwise block a thread while its other clients hold pooled "
          "server connections). Each round runs every side back to back per cell, the order "
          "rotated each round. Before every run pgbench_branches/pgbench_tellers are vacuumed and pgbench_history "
          "truncated directly on PostgreSQL. Ratios: side / direct (tps: higher is better; latency: lower is better).\n")
    cells, runs = [], collections.defaultdict(list)
    for wl, mode, c, j, side, rnd, tps, lat, status, detail, conn, failed, aborted, load in rows:
        k = (wl, mode, int(c), int(j))
        if k not in cells: cells.append(k)
        runs[k + (side,)].append(dict(tps=float(tps), lat=float(lat), status=status, detail=detail, rnd=rnd))
    def med(k, side, f):
        ok = [r[f] for r in runs.get(k + (side,), []) if r["status"] != "fails"]
        return statistics.median(ok) if ok else None
    def state(k, side):
        rs = runs.get(k + (side,), [])
        return len(rs), len([r for r in rs if r["status"] == "fails"]), len([r for r in rs if r["status"] == "errors"])
    notes = []
    def cellv(k, side, f, d):
        n, bad, err = state(k, side)
        v = med(k, side, f)
        if n == 0: return "—"
        if v is None: return "fails"
        return (fnum(v, d) + (f" ({bad}/{n} runs failed)" if bad else "")
                + (f" † ({err}/{n} runs with errors)" if err else ""))
    def ratio(k, side, f):
        a, b = med(k, side, f), med(k, "direct", f)
        return f"**{a/b:.2f}**" if a is not None and b else "—"
    shown = [x for x in ("metagate", "pgbouncer", "haproxy") if any(r[4] == x for r in rows)]
    label = {"metagate": "metagate", "pgbouncer": "PgBouncer", "haproxy": "HAProxy (floor)"}
    for title, f, d in (("Throughput (tps)", "tps", 0), ("Average latency (ms)", "lat", 3)):
        print(f"### {title}\n")
        print("| workload | mode | clients | -j | direct | " + " | ".join(label[x] for x in shown) + " | "
              + " | ".join(f"{label[x]} / direct" for x in shown) + " |")
        print("|---|---|---:|---:|---:|" + "---:|" * (2 * len(shown)))
        for k in cells:
            print(f"| {k[0]} | {k[1]} | {k[2]} | {k[3]} | {cellv(k,'direct',f,d)} | "
                  + " | ".join(cellv(k, x, f, d) for x in shown) + " | "
                  + " | ".join(ratio(k, x, f) for x in shown) + " |")
        print()
    failures = [(r[0], r[1], r[2], r[4], r[5], r[8], r[9]) for r in rows if r[8] != "ok"]
    print("\n### Runs that failed or had errors\n")
    print("fails: clients aborted or no result (left out of the medians); errors †: the run completed but pgbench "
          "printed errors or counted failed transactions (in the medians; tps counts the transactions that succeeded).\n")
    if not failures: print("None.")
    else:
        grouped = collections.OrderedDict()
        for wl, mode, c, side, rnd, status, detail in failures:
            d = re.sub(r"client \d+", "client N", detail); d = re.sub(r"\d+ clients aborted", "clients aborted", d)
            grouped.setdefault((wl, mode, c, side, status, d), []).append(rnd)
        print("| workload | mode | clients | side | rounds | status | first error (pgbench output) |")
        print("|---|---|---:|---|---|---|---|")
        for (wl, mode, c, side, status, d), rnds in grouped.items():
            print(f"| {wl} | {mode} | {c} | {side} | {','.join(rnds)} | {status} | `{d.replace('|', '/')}` |")
    print("\n### Every run\n")
    print("Load: the 1-minute load average just before the run (this benchmark alone keeps it near 2-3; more means "
          "other work on the machine).\n")
    print("| workload | mode | clients | -j | side | round | tps | latency ms | status | load |")
    print("|---|---|---:|---:|---|---:|---:|---:|---|---:|")
    for wl, mode, c, j, side, rnd, tps, lat, status, detail, conn, failed, aborted, load in rows:
        print(f"| {wl} | {mode} | {c} | {j} | {side} | {rnd} | {fnum(float(tps))} | {lat} | {status} | {load} |")
    print()

crow = [l.rstrip("\n").split("\t") for l in open(CR) if l.strip()]
if crow:
    print(f"## {E['CONN_CLIENTS']} clients over a pool of {E['POOL_SIZE']} server connections\n")
    print(f"`pgbench -S -M extended -c {E['CONN_CLIENTS']} -j {E['CONN_THREADS']} -T {E['CONN_DURATION']} -n` through each "
          f"pooler (PostgreSQL allows max_connections = {E['pg_maxconn']}, so these clients could not connect directly). "
          "Server connections: the most PostgreSQL sessions (pg_stat_activity, logged in) on TCP connections "
          "owned by the pooler's process (`ss -tnp`), sampled every 0.5 s; peak RSS: the pooler's VmRSS, same samples.\n")
    print("| side | clients | tps | avg latency ms | initial connection time ms | failed transactions | aborted clients | status | server connections (max) | peak RSS MiB |")
    print("|---|---:|---:|---:|---:|---:|---:|---|---:|---:|")
    for side, c, j, tps, lat, status, detail, conn, failed, aborted, maxsrv, maxrss in crow:
        rss = f"{int(maxrss)/1024:.1f}" if maxrss.isdigit() else "?"
        st = status if status == "ok" else f"{status}: `{detail}`"
        print(f"| {side} | {c} | {fnum(float(tps))} | {lat} | {conn} | {failed} | {aborted} | {st} | {maxsrv} | {rss} |")
    pools = os.path.join(E["WORK"], "conn-metagate-pools.txt")
    if os.path.exists(pools):
        txt = [l for l in open(pools).read().rstrip().splitlines() if not re.search(r"\|\s+0(\.0+)?\s*$", l)]
        print("\nmetagate's admin console after the run (`SHOW POOLS` where the binary has it, else `SHOW DATABASES` "
              "and `SHOW STATS`; rows whose value is 0 left out):\n\n```\n" + "\n".join(txt) + "\n```")
    print()

irow = [l.rstrip("\n").split("\t") for l in open(IR) if l.strip()]
if irow:
    print(f"## Memory per idle client connection\n")
    print(f"A fresh pooler process, one `SELECT 1` through it, VmRSS (from /proc/PID/status); then {E['IDLE_CLIENTS']} idle "
          "clients connected by a python3 script (raw sockets: StartupMessage, trust, read to ReadyForQuery, then "
          "nothing) and VmRSS 3 s after the last one was ready; then the clients disconnect and VmRSS is read again "
          "2 s later. Per client = (with clients − before) / clients connected.\n")
    print("| side | clients connected | refused | VmRSS before MiB | VmRSS with clients MiB | per idle client KiB | VmRSS after they left MiB | its server connections while idle |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for side, n, ok, bad, r0, r1, r2, srv, rest in irow:
        try: per = f"**{(int(r1)-int(r0))/int(ok):.1f}**"
        except Exception: per = "?"
        mib = lambda x: f"{int(x)/1024:.1f}" if x.isdigit() else "?"
        print(f"| {side} | {ok} | {bad}{' (' + rest + ')' if bad != '0' else ''} | {mib(r0)} | {mib(r1)} | {per} | {mib(r2)} | {srv} |")
    print()

print("## Logs: warnings and errors\n")
any_ = False
pglog = os.path.join(E["WORK"], "pg", "postgres.log")
if os.path.exists(pglog):
    c = collections.Counter()
    cur = None
    for l in open(pglog, errors="replace"):
        m = re.search(r"\] (ERROR|FATAL|PANIC|WARNING):\s+(.*)", l)
        if m: cur = f"{m.group(1)}: {re.sub(r'[0-9]+', 'N', m.group(2))[:160]}"; c[cur] += 1; continue
        m = re.search(r"\] STATEMENT:\s+(.*)", l)
        if m and cur: c[cur] -= 1; c[cur + f"  (statement: {m.group(1)[:70]})"] += 1; cur = None
    c = +c
    if c:
        any_ = True
        print(f"PostgreSQL log: {sum(c.values())} errors; by message (digits replaced by N):\n\n```")
        for l, n in c.most_common(15): print(f"{n:6d}  {l}")
        print("```\n")
for name in sorted(glob.glob(os.path.join(E["WORK"], "*.log"))) + sorted(glob.glob(os.path.join(E["WORK"], "*", "pgbouncer.log"))):
    base = os.path.relpath(name, E["WORK"])
    if base.startswith(("run-", "conn-", "init")): continue
    lines = [l.rstrip() for l in open(name, errors="replace")
             if re.search(r"\b(warn|warning|error|critical|fatal|panic)\b", l, re.I)]
    if not lines: continue
    any_ = True
    counts = collections.Counter(re.sub(r"^\S+ \S+ ", "", re.sub(r"\d+", "N", l)) for l in lines)
    print(f"`{base}`: {len(lines)} lines; the most frequent (digits replaced by N):\n\n```")
    for l, n in counts.most_common(12): print(f"{n:6d}  {l[:220]}")
    print("```\n")
for name in sorted(glob.glob(os.path.join(E["WORK"], "*.log"))):
    base = os.path.relpath(name, E["WORK"])
    if base.startswith(("run-", "conn-", "init")): continue
    reasons = collections.Counter(m.group(1) for l in open(name, errors="replace") for m in [re.search(r"disconnection: .*reason=(\S+)", l)] if m)
    if reasons:
        print(f"`{base}` disconnections by reason: " + ", ".join(f"{k} {v}" for k, v in reasons.most_common()) + "\n")
if not any_: print("None.\n")
print(f"Logs and configurations of this run: `{E['WORK']}` (not kept in the repository).")
PY
say "results: $OUT"
echo
cat "$OUT"
