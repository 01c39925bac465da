#!/usr/bin/env bash
# metagate as a service: metrics, health checks, the Grafana dashboard, drain on SIGTERM,
# SIGHUP reload, the admin console, limits and logs, against real daemons and real clients.
#
#   run.sh --metagate BIN --work DIR
#
# Builds tests/integration/mgint (Go, GOPATH mode, Debian's lib/pq and pgx v4, as
# tests/integration/run.sh does) into DIR/mgint, then runs one group after another, each
# with its own daemon: its own config file and SQLite file in a temporary directory
# (removed at exit), client and metrics ports picked by the kernel (127.0.0.1:0, read back
# from the daemon's log), its log kept as DIR/<group>.log. The Go client parts are
# `mgint service --scenario <group>`; the exit status, WAL file, restarts, psql, curl,
# `metagate status` and the log checks are done here.
#
#   metrics        /metrics families and counters after traffic (A), /healthz and /readyz (B),
#                  the dashboard and alert rules against that scrape (C), JSON logs (K)
#   drain          SIGTERM: idle sessions end (57P01), a transaction may finish, exit 0,
#                  WAL checkpointed, rows there after a restart (D)
#   drain-timeout  server.drain_timeout_ms 1500: the open transaction is cut and rolled back (E)
#   double-term    a second SIGTERM stops at once (F)
#   reload         SIGHUP: new password for new connections, invalid file refused (G)
#   admin          the admin console through psql, `metagate status`, SHUTDOWN (I)
#   pause          PAUSE holds another client's statement until RESUME (I)
#   limits         per-user limit, statement timeout, idle-in-transaction timeout, back-off (J)
#   timeouts       idle-session timeout, startup timeout (J)
#
# Every daemon log is scanned for sanitizer reports; no log may contain a password. The
# output ends with "N passed, M failed"; the exit status is non-zero on any failure.
set -u -o pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)
source "$repo/tests/support/pg.sh"
metagate_test_args "$@"
for tool in go psql curl python3; do
  command -v $tool >/dev/null || { echo "run.sh: $tool not found"; echo "0 passed, 1 failed"; exit 1; }
done

started=$(date +%s.%N)
gocache=$(dirname "$work")/gocache
mkdir -p "$gocache" "$work/gopath"
rm -f "$work"/*.log "$work"/*.out "$work/scrape.txt" "$work/dashboard.out"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mgservice.XXXXXX") || exit 2
chmod 700 "$tmp"
daemons=()
cleanup() {
  local p
  for p in "${daemons[@]}"; do
    if kill -0 "$p" 2>/dev/null; then kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; fi
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pass=0 fail=0
ok() { pass=$((pass + 1)); echo "PASS $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }

echo "== building mgint"
if ! (cd "$repo/tests/integration/mgint" && GO111MODULE=off GOPATH="$work/gopath:/usr/share/gocode" GOCACHE="$gocache" GOFLAGS= \
      timeout 300 go build -o "$work/mgint" .); then
  echo "run.sh: building mgint failed"
  echo "0 passed, 1 failed"
  exit 1
fi

# Passwords: distinctive, so that a leak into a log is found by grep.
p1=p1-$(openssl rand -hex 10 2>/dev/null || echo "$RANDOM$RANDOM$RANDOM")
p2=p2-$(openssl rand -hex 10 2>/dev/null || echo "$RANDOM$RANDOM$RANDOM")
pa=pa-$(openssl rand -hex 10 2>/dev/null || echo "$RANDOM$RANDOM$RANDOM")
v1=$(printf '%s\n' "$p1" | "$metagate" passwd alice) &&
v2=$(printf '%s\n' "$p2" | "$metagate" passwd alice) &&
va=$(printf '%s\n' "$pa" | "$metagate" passwd admin) || { echo "run.sh: metagate passwd failed"; echo "0 passed, 1 failed"; exit 1; }

# write_config FILE DBFILE JSON-MEMBERS: a config serving database "grafana" from DBFILE,
# client and metrics ports picked by the kernel, plus the given top-level members.
write_config() {
  local file=$1 db=$2 extra=${3:-}
  {
    echo '{'
    echo '  "listen": "127.0.0.1:0",'
    echo '  "metrics": {"listen": "127.0.0.1:0"},'
    [ -n "$extra" ] && echo "  $extra,"
    echo "  \"databases\": {\"grafana\": {\"path\": \"$db\"}}"
    echo '}'
  } >"$file"
  chmod 600 "$file"
}

# start_daemon NAME CONFIG: `metagate serve --config CONFIG`, log appended to DIR/NAME.log;
# waits for both ports. Sets D_PID, D_PORT, D_MPORT, D_LOG.
start_daemon() {
  local name=$1 cfg=$2 i skip
  D_LOG=$work/$name.log D_PORT= D_MPORT=
  touch "$D_LOG"
  skip=$(wc -l <"$D_LOG")  # a restart appends: read only this run's lines
  "$metagate" serve --config "$cfg" >>"$D_LOG" 2>&1 &
  D_PID=$!
  daemons+=("$D_PID")
  for i in $(seq 1 300); do
    D_PORT=$(tail -n +$((skip + 1)) "$D_LOG" | sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' | head -1)
    D_MPORT=$(tail -n +$((skip + 1)) "$D_LOG" | sed -n 's#.*metrics and health checks on http://127\.0\.0\.1:\([0-9][0-9]*\)/metrics.*#\1#p' | head -1)
    if [ -n "$D_PORT" ] && [ -n "$D_MPORT" ] && (exec 3<>"/dev/tcp/127.0.0.1/$D_PORT") 2>/dev/null; then
      return 0
    fi
    kill -0 "$D_PID" 2>/dev/null || break
    sleep 0.1
  done
  bad "$name: metagate did not start; log tail:"; tail -20 "$D_LOG"
  kill -9 "$D_PID" 2>/dev/null; wait "$D_PID" 2>/dev/null
  return 1
}

# await_exit PID SECS: wait for the daemon to exit by itself; sets RC to its exit status
# ("running" if it is still up after SECS: it is then killed). Not in $(...): only this
# shell can wait for its children.
await_exit() {
  local pid=$1 secs=$2 i
  for i in $(seq 1 $((secs * 10))); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
    RC=running
    return
  fi
  wait "$pid"
  RC=$?
}

# stop_daemon PID: SIGTERM, up to 10 s; sets RC.
stop_daemon() {
  kill -TERM "$1" 2>/dev/null
  await_exit "$1" 10
}

# mg NAME ARGS...: `mgint service --scenario NAME ARGS...`; adds its checks to the totals.
mg() {
  local name=$1 out=$work/$1.out rc summary p f
  shift
  timeout 90 "$work/mgint" service --scenario "$name" --addr "127.0.0.1:$D_PORT" \
    --metrics "http://127.0.0.1:$D_MPORT" --pid "$D_PID" "$@" 2>&1 | tee "$out"
  rc=${PIPESTATUS[0]}
  summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out" | tail -1)
  if [ -z "$summary" ]; then
    bad "mgint service $name produced no summary (exit $rc; 124 = timed out)"
    return
  fi
  p=${summary%% passed*}; f=${summary#*passed, }; f=${f%% failed*}
  pass=$((pass + p)); fail=$((fail + f))
  [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && bad "mgint service $name exited $rc"
  return 0
}

pg() { # pg PORT SQL: one value through psql (trust)
  PGCONNECT_TIMEOUT=10 timeout 20 psql -X -q -A -t -h 127.0.0.1 -p "$1" -U grafana -d grafana -c "$2" 2>&1
}

wal_size() { # wal_size DBFILE: bytes of DBFILE-wal, "absent" if there is none
  if [ -e "$1-wal" ]; then stat -c %s "$1-wal"; else echo absent; fi
}

# ---------------------------------------------------------------------------------------
echo "== metrics, health, dashboard, JSON logs"
db=$tmp/metrics.db cfg=$tmp/metrics.json
write_config "$cfg" "$db" "\"auth\": {\"rules\": [\"host all alice 127.0.0.1/32 scram-sha-256\", \"host all all 127.0.0.1/32 trust\"],
    \"users\": {\"alice\": {\"password\": \"$v1\"}}},
  \"sqlite\": {\"checkpoint_wal_mib\": 1},
  \"limits\": {\"auth_failure_delay_ms\": 0},
  \"log\": {\"format\": \"json\", \"slow_statement_ms\": 0}"
if start_daemon metrics "$cfg"; then
  mg metrics --user alice --password "$p1" --db-path "$db" --scrape-out "$work/scrape.txt"
  stop_daemon "$D_PID"; rc=$RC
  echo "   (metrics daemon, its SQLite file deleted, stopped with status $rc)"
  if [ -s "$work/scrape.txt" ]; then
    if python3 "$repo/tests/integration/dashboard/check_dashboard.py" --dashboard "$repo/config/grafana/metagate-dashboard.json" \
        --scrape "$work/scrape.txt" --alerts "$repo/config/prometheus/metagate-alerts.yml" >"$work/dashboard.out" 2>&1; then
      ok "dashboard: check_dashboard.py against the live scrape: $(tail -1 "$work/dashboard.out")"
    else
      bad "dashboard: check_dashboard.py against the live scrape:"; sed 's/^/     /' "$work/dashboard.out" | head -30
    fi
  else
    bad "dashboard: no scrape saved"
  fi
  # K: every line a JSON object with time, level, msg.
  if out=$(python3 - "$D_LOG" 2>&1 <<'PY'
import json, sys
bad = []
n = 0
for i, line in enumerate(open(sys.argv[1], encoding="utf-8", errors="replace"), 1):
    if not line.strip():
        continue
    n += 1
    try:
        o = json.loads(line)
        if not isinstance(o, dict) or not all(k in o for k in ("time", "level", "msg")):
            bad.append("line %d: keys %s" % (i, sorted(o) if isinstance(o, dict) else type(o).__name__))
    except ValueError as e:
        bad.append("line %d: %s: %r" % (i, e, line[:160]))
print("%d lines" % n)
for b in bad[:5]:
    print(b)
sys.exit(1 if bad or n == 0 else 0)
PY
  ); then
    ok "logs: every line is a JSON object with time, level, msg ($out)"
  else
    bad "logs: not every line is a JSON object with time, level, msg: $(echo "$out" | tr '\n' ' ' | cut -c1-400)"
  fi
  if grep -q 'secret-value-123' "$D_LOG"; then
    bad "logs: a constant appears in the log: $(grep -m1 'secret-value-123' "$D_LOG")"
  else
    ok "logs: the constant 'secret-value-123' is not in the log"
  fi
  line=$(grep 'duration:' "$D_LOG" | grep -i "select \$1 as x" | head -1)
  if [ -n "$line" ]; then ok "logs: slow_statement_ms 0 logs the statement redacted: $line"
  else bad "logs: no 'duration:' line with \"SELECT \$1 AS x\"; duration lines: $(grep -c 'duration:' "$D_LOG")"; fi
  line=$(grep 'disconnection' "$D_LOG" | grep 'reason=client_closed' | head -1)
  [ -n "$line" ] && ok "logs: disconnection with reason=client_closed: $line" || bad "logs: no disconnection line with reason=client_closed"
fi

# ---------------------------------------------------------------------------------------
echo "== drain on SIGTERM (server.drain_timeout_ms 30000)"
db=$tmp/drain.db cfg=$tmp/drain.json
write_config "$cfg" "$db" '"io_threads": 2'
if start_daemon drain "$cfg"; then
  pid=$D_PID
  mg drain
  await_exit "$pid" 5; rc=$RC
  [ "$rc" = 0 ] && ok "drain: exit status 0" || bad "drain: exit status $rc (want 0)"
  w=$(wal_size "$db")
  { [ "$w" = absent ] || [ "$w" = 0 ]; } && ok "drain: WAL checkpointed on the clean stop (-wal: $w)" || bad "drain: -wal is $w bytes after the clean stop"
  if start_daemon drain "$cfg"; then
    got=$(pg "$D_PORT" "SELECT count(*) FROM drain_t WHERE id IN (1, 2)")
    [ "$got" = 2 ] && ok "drain: after a restart A's 2 rows are there" || bad "drain: after a restart: count of A's rows: $got (want 2)"
    stop_daemon "$D_PID"; rc=$RC
  fi
fi

echo "== drain timeout (server.drain_timeout_ms 1500)"
db=$tmp/drain-timeout.db cfg=$tmp/drain-timeout.json
write_config "$cfg" "$db" '"server": {"drain_timeout_ms": 1500}'
if start_daemon drain-timeout "$cfg"; then
  pid=$D_PID
  mg drain-timeout
  await_exit "$pid" 5; rc=$RC
  [ "$rc" = 0 ] && ok "drain timeout: exit status 0" || bad "drain timeout: exit status $rc (want 0)"
  if start_daemon drain-timeout "$cfg"; then
    got=$(pg "$D_PORT" "SELECT count(*) FROM drain_t")
    [ "$got" = 0 ] && ok "drain timeout: after a restart the uncommitted row is absent" || bad "drain timeout: after a restart: SELECT count(*) FROM drain_t -> $got (want 0)"
    stop_daemon "$D_PID"; rc=$RC
  fi
fi

echo "== second SIGTERM"
db=$tmp/double-term.db cfg=$tmp/double-term.json
write_config "$cfg" "$db" '"server": {"drain_timeout_ms": 30000}'
if start_daemon double-term "$cfg"; then
  pid=$D_PID
  mg double-term
  await_exit "$pid" 5; rc=$RC
  [ "$rc" = 0 ] && ok "second SIGTERM: exit status 0" || bad "second SIGTERM: exit status $rc (want 0)"
fi

# ---------------------------------------------------------------------------------------
echo "== SIGHUP reload"
db=$tmp/reload.db cfg=$tmp/reload.json
scram_rules='"rules": ["host all all 127.0.0.1/32 scram-sha-256"]'
write_config "$cfg" "$db" "\"auth\": {$scram_rules, \"users\": {\"alice\": {\"password\": \"$v1\"}}},
  \"limits\": {\"auth_failure_delay_ms\": 0}"
write_config "$tmp/reload-next.json" "$db" "\"auth\": {$scram_rules, \"users\": {\"alice\": {\"password\": \"$v2\"}}},
  \"limits\": {\"auth_failure_delay_ms\": 0}"
write_config "$tmp/reload-bad.json" "$db" "\"auth\": {$scram_rules, \"users\": {\"alice\": {\"password\": \"$v1\"}}},
  \"limits\": {\"auth_failure_delay_ms\": 0},
  \"no_such_key\": 1"
if start_daemon reload "$cfg"; then
  mg reload --user alice --password "$p1" --password2 "$p2" --config "$cfg" \
    --config-next "$tmp/reload-next.json" --config-bad "$tmp/reload-bad.json"
  line=$(grep -i 'reload refused' "$D_LOG" | head -1)
  [ -n "$line" ] && ok "reload: the log says the reload was refused: $line" || bad "reload: no 'reload refused' in the log: $(grep -i reload "$D_LOG" | tail -3 | tr '\n' ' ')"
  stop_daemon "$D_PID"; rc=$RC
  [ "$rc" = 0 ] && ok "reload: stops with status 0" || bad "reload: SIGTERM -> exit status $rc"
fi

# ---------------------------------------------------------------------------------------
echo "== admin console"
db=$tmp/admin.db cfg=$tmp/admin.json
write_config "$cfg" "$db" "\"auth\": {$scram_rules, \"users\": {\"alice\": {\"password\": \"$v1\"}, \"admin\": {\"password\": \"$va\", \"admin\": true}}},
  \"limits\": {\"auth_failure_delay_ms\": 0}"
if start_daemon admin "$cfg"; then
  pid=$D_PID
  mg admin --user alice --password "$p1" --admin-user admin --admin-password "$pa" --db-path "$db" --psql "$(command -v psql)"
  out=$(PGPASSWORD=$pa PGCONNECT_TIMEOUT=10 timeout 20 "$metagate" status --host 127.0.0.1 --port "$D_PORT" --user admin 2>&1); rc=$?
  if [ $rc = 0 ] && grep -q 'clients:' <<<"$out" && grep -q 'databases:' <<<"$out"; then
    ok "admin: metagate status prints clients: and databases: ($(head -1 <<<"$out"))"
  else
    bad "admin: metagate status (exit $rc): $(echo "$out" | head -12 | tr '\n' '|')"
  fi
  out=$(PGPASSWORD=$pa PGCONNECT_TIMEOUT=10 timeout 20 psql -X -h 127.0.0.1 -p "$D_PORT" -U admin -d metagate -c SHUTDOWN 2>&1); prc=$?
  await_exit "$pid" 10; rc=$RC
  [ "$rc" = 0 ] && ok "admin: SHUTDOWN -> the daemon exits 0 (psql: $prc, $(echo "$out" | tr '\n' ' '))" || bad "admin: SHUTDOWN -> daemon $rc (psql exit $prc: $(echo "$out" | tr '\n' ' '))"
  line=$(grep 'reason=admin_kill' "$D_LOG" | head -1)
  [ -n "$line" ] && ok "logs: KILL CLIENT logged with reason=admin_kill: $line" || bad "logs: no disconnection with reason=admin_kill"
fi

echo "== admin console: PAUSE / RESUME"
db=$tmp/pause.db cfg=$tmp/pause.json
write_config "$cfg" "$db" "\"auth\": {$scram_rules, \"users\": {\"alice\": {\"password\": \"$v1\"}, \"admin\": {\"password\": \"$va\", \"admin\": true}}},
  \"limits\": {\"auth_failure_delay_ms\": 0}"
if start_daemon pause "$cfg"; then
  mg pause --user alice --password "$p1" --admin-user admin --admin-password "$pa" --psql "$(command -v psql)"
  stop_daemon "$D_PID"; rc=$RC
  [ "$rc" = 0 ] && ok "pause: stops with status 0" || bad "pause: SIGTERM -> exit status $rc"
fi

# ---------------------------------------------------------------------------------------
echo "== limits"
db=$tmp/limits.db cfg=$tmp/limits.json
write_config "$cfg" "$db" "\"auth\": {$scram_rules, \"users\": {\"alice\": {\"password\": \"$v1\"}}},
  \"limits\": {\"max_connections_per_user\": 2, \"idle_in_transaction_timeout_ms\": 300,
    \"auth_failure_delay_ms\": 100, \"auth_failure_delay_max_ms\": 2000}"
if start_daemon limits "$cfg"; then
  mg limits --user alice --password "$p1"
  line=$(grep 'reason=idle_in_transaction_timeout' "$D_LOG" | head -1)
  [ -n "$line" ] && ok "logs: reason=idle_in_transaction_timeout: $line" || bad "logs: no disconnection with reason=idle_in_transaction_timeout"
  stop_daemon "$D_PID"; rc=$RC
  [ "$rc" = 0 ] && ok "limits: stops with status 0" || bad "limits: SIGTERM -> exit status $rc"
fi

echo "== timeouts"
db=$tmp/timeouts.db cfg=$tmp/timeouts.json
write_config "$cfg" "$db" '"limits": {"idle_session_timeout_ms": 300, "startup_timeout_ms": 500}'
if start_daemon timeouts "$cfg"; then
  mg timeouts
  stop_daemon "$D_PID"; rc=$RC
  [ "$rc" = 0 ] && ok "timeouts: stops with status 0" || bad "timeouts: SIGTERM -> exit status $rc"
fi

# ---------------------------------------------------------------------------------------
echo "== daemon logs"
for log in "$work"/*.log; do
  [ -e "$log" ] || continue
  n=$(basename "$log")
  if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$log"; then
    bad "sanitizer report in $n:"; grep -m5 -A12 -E 'AddressSanitizer|LeakSanitizer|runtime error:' "$log"
  else
    ok "no sanitizer report in $n"
  fi
  leaked=
  for pw in "$p1" "$p2" "$pa"; do grep -qF -- "$pw" "$log" && leaked="$leaked $pw"; done
  [ -z "$leaked" ] && ok "no password in $n" || bad "password(s) in $n:$leaked"
done

ended=$(date +%s.%N)
awk -v a="$started" -v b="$ended" -v w="$work" 'BEGIN { printf "== service took %.1fs (logs in %s)\n", b - a, w }'
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
