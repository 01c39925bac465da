#!/usr/bin/env bash
# CPU per transaction of each pooler under the same pgbench load: where bench/pooler_compare.sh
# says who is faster, this says why. For every side, one after the other, the same fixed amount
# of work (`pgbench -S -c C -j 2 -t N`, after a short warm-up), and around it the pooler's
# user and system CPU (/proc/PID/stat), its syscalls (perf stat raw_syscalls:sys_enter, all
# threads) and its context switches, voluntary and involuntary (/proc/PID/task/*/status), each
# divided by the transactions run.
#
#   bench/pooler_cpu.sh                                   metagate (build/bin/metagate) vs PgBouncer
#   MGS="/tmp/mg-old /tmp/mg-new" C=64 N=400 ROUNDS=3 bench/pooler_cpu.sh    two builds side by side
#
# env: MGS (metagate binaries; sides mg1, mg2, ...), C=8 clients, N=3000 transactions per client,
#      ROUNDS=2, IO=1 (metagate io_threads), MODE=simple (pgbench -M), POOL_SIZE=20,
#      HAPROXY=1 (add HAProxy in TCP mode when installed: the floor), WORK=/tmp/metagate-pooler-cpu
# Needs: PostgreSQL 15 (tests/support/pg.sh starts one), pgbouncer, perf (linux-perf); run as root
# or as a user who may run postgres. Numbers move with the machine's load: compare sides of
# one run, and repeat rounds.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
. "$repo/tests/support/pg.sh"
MGS=${MGS:-$repo/build/bin/metagate}
C=${C:-8}; N=${N:-3000}; ROUNDS=${ROUNDS:-2}; IO=${IO:-1}; MODE=${MODE:-simple}; POOL_SIZE=${POOL_SIZE:-20}
HAPROXY=${HAPROXY:-1}
WORK=${WORK:-/tmp/metagate-pooler-cpu}
PGB=/usr/lib/postgresql/15/bin/pgbench
command -v perf >/dev/null || { echo "perf is needed (apt-get install linux-perf)" >&2; exit 2; }
[ -x /usr/sbin/pgbouncer ] || { echo "pgbouncer is needed (apt-get install pgbouncer)" >&2; exit 2; }

rm -rf "$WORK"; mkdir -p "$WORK/pgb"; chmod -R 755 "$WORK"
declare -A PORT PID
cleanup() {
  local k
  for k in "${!PID[@]}"; do kill "${PID[$k]}" 2>/dev/null; done
  sleep 0.5
  pg_stop "$WORK/pg" >/dev/null 2>&1
}
trap cleanup EXIT
PG_FSYNC=on pg_start "$WORK/pg" >/dev/null || { echo "could not start PostgreSQL" >&2; exit 1; }
$PGB -i -q -s 10 -h 127.0.0.1 -p "$PG_PORT" -U postgres postgres > "$WORK/init.log" 2>&1

i=0
for mg in $MGS; do
  i=$((i + 1)); port=$(free_port)
  cat > "$WORK/mg$i.json" <<JSON
{"listen": "127.0.0.1:$port", "io_threads": $IO, "metrics": {"listen": null},
 "auth": {"rules": ["host all all 127.0.0.1/32 trust"]},
 "databases": {"*": {"backend": "postgres", "conninfo": "host=127.0.0.1 port=$PG_PORT",
                     "pool_mode": "transaction", "pool_size": $POOL_SIZE}}}
JSON
  "$mg" serve --config "$WORK/mg$i.json" > "$WORK/mg$i.log" 2>&1 &
  PID[mg$i]=$!; PORT[mg$i]=$port
  wait_port "$port" 30 "${PID[mg$i]}" || { echo "metagate $mg did not start" >&2; exit 1; }
  echo "mg$i = $mg"
done
bport=$(free_port)
printf '"postgres" ""\n' > "$WORK/pgb/userlist.txt"
cat > "$WORK/pgb/pgbouncer.ini" <<INI
[databases]
* = host=127.0.0.1 port=$PG_PORT
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $bport
unix_socket_dir =
auth_type = trust
auth_file = $WORK/pgb/userlist.txt
pool_mode = transaction
default_pool_size = $POOL_SIZE
max_client_conn = 1000
ignore_startup_parameters = extra_float_digits
logfile = $WORK/pgb/pgbouncer.log
pidfile = $WORK/pgb/pgbouncer.pid
INI
if [ "$(id -u)" = 0 ]; then
  chown -R postgres: "$WORK/pgb"
  setpriv --reuid=postgres --regid=postgres --init-groups /usr/sbin/pgbouncer -d "$WORK/pgb/pgbouncer.ini"
else
  /usr/sbin/pgbouncer -d "$WORK/pgb/pgbouncer.ini"
fi
for _ in $(seq 1 50); do [ -s "$WORK/pgb/pgbouncer.pid" ] && break; sleep 0.1; done
PID[pgbouncer]=$(cat "$WORK/pgb/pgbouncer.pid"); PORT[pgbouncer]=$bport
sides="$(for k in "${!PORT[@]}"; do echo "$k"; done | grep '^mg' | sort) pgbouncer"
if [ "$HAPROXY" = 1 ] && [ -x /usr/sbin/haproxy ]; then
  hport=$(free_port)
  printf 'global\n  nbthread 1\n  maxconn 4096\ndefaults\n  mode tcp\n  timeout connect 5s\n  timeout client 1h\n  timeout server 1h\nlisten pg\n  bind 127.0.0.1:%s\n  server pg 127.0.0.1:%s\n' \
    "$hport" "$PG_PORT" > "$WORK/haproxy.cfg"
  /usr/sbin/haproxy -D -f "$WORK/haproxy.cfg" -p "$WORK/haproxy.pid"
  for _ in $(seq 1 50); do [ -s "$WORK/haproxy.pid" ] && break; sleep 0.1; done
  PID[haproxy]=$(head -1 "$WORK/haproxy.pid"); PORT[haproxy]=$hport
  sides="$sides haproxy"
fi

switches() {  # pid -> "voluntary involuntary", summed over its threads
  local v=0 n=0 t
  for t in /proc/$1/task/*; do
    v=$((v + $(awk '/^voluntary_ctxt_switches/{print $2}' "$t/status")))
    n=$((n + $(awk '/^nonvoluntary_ctxt_switches/{print $2}' "$t/status")))
  done
  echo "$v $n"
}
hz=$(getconf CLK_TCK)
echo "pgbench -n -S -M $MODE -c $C -j 2 -t $N per side; pool $POOL_SIZE; metagate io_threads $IO"
printf '%-6s %-10s %8s %9s %9s %9s %8s %8s\n' round side tps "user µs" "sys µs" syscalls "vol cs" "inv cs"
for round in $(seq "$ROUNDS"); do
  for side in $sides; do
    p=${PORT[$side]}; pid=${PID[$side]}
    $PGB -n -S -M "$MODE" -c "$C" -j 2 -t 50 -h 127.0.0.1 -p "$p" -U postgres postgres >/dev/null 2>&1
    read -r u0 s0 < <(awk '{print $14, $15}' "/proc/$pid/stat")
    read -r v0 n0 < <(switches "$pid")
    perf stat -e raw_syscalls:sys_enter -x, -o "$WORK/perf-$side-$round.txt" -p "$pid" &
    ps=$!
    sleep 0.3
    out=$($PGB -n -S -M "$MODE" -c "$C" -j 2 -t "$N" -h 127.0.0.1 -p "$p" -U postgres postgres 2>&1)
    kill -INT $ps; wait $ps 2>/dev/null
    read -r u1 s1 < <(awk '{print $14, $15}' "/proc/$pid/stat")
    read -r v1 n1 < <(switches "$pid")
    tx=$(echo "$out" | grep -oP 'processed: \K[0-9]+' | head -1)
    tps=$(echo "$out" | grep -oP 'tps = \K[0-9.]+' | head -1)
    sc=$(grep sys_enter "$WORK/perf-$side-$round.txt" | cut -d, -f1)
    [ -n "$tx" ] && [ "$tx" -gt 0 ] || { echo "round $round $side: pgbench failed: $(echo "$out" | tail -2)"; continue; }
    printf '%-6s %-10s %8.0f %9.1f %9.1f %9.2f %8.2f %8.2f\n' "$round" "$side" "$tps" \
      "$(echo "($u1-$u0)*1000000/$hz/$tx" | bc -l)" "$(echo "($s1-$s0)*1000000/$hz/$tx" | bc -l)" \
      "$(echo "${sc:-0}/$tx" | bc -l)" "$(echo "($v1-$v0)/$tx" | bc -l)" "$(echo "($n1-$n0)/$tx" | bc -l)"
  done
done
