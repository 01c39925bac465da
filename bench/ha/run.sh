#!/usr/bin/env bash
# Client-visible failover: the standard stack (Patroni + etcd + HAProxy) against metagate, in front
# of the same two-node Patroni cluster (PostgreSQL 15) on loopback. See bench/ha/README.md.
#
#   bash bench/ha/run.sh --metagate PATH [--work DIR] [--runs 3] [--scenarios switchover,kill,patroni-kill]
#                        [--paths haproxy,metagate] [--out FILE]
#       [--ttl 30] [--loop-wait 10] [--retry-timeout 10] [--sync off|on] [--pre 5] [--post 10]
#       [--run-timeout 180] [--restore-timeout 240] [--hold-ms 60000]
#
# One etcd (v3 API), two Patroni 3.0.2 nodes (pg1, pg2) with PostgreSQL 15, HAProxy 2.6 with
# Patroni's recommended check (OPTIONS /primary) and metagate (`serve --config`, both nodes in one
# conninfo), all child processes of this script on ports the kernel picked, in --work (default
# /tmp/metagate-ha-bench, recreated). For every scenario, path and run: bench/ha/probe writes and
# reads every 10 ms through the path while the cluster switches over (patronictl switchover) or
# loses its primary (kill -9 of its Patroni and its postmaster; patroni-kill: of its Patroni only,
# PostgreSQL left running — the watchdog-less window); the run ends --post seconds after
# the last failed or stalled operation once the new primary takes writes (at most --run-timeout);
# then the acknowledged writes are looked up on the new primary and the cluster is brought back to
# primary + streaming replica. Report: Markdown on stdout and in --out
# (default bench/results/DATE-ha-patroni.md); raw data in WORK/runs/*/ and WORK/results.jsonl.
#
# Needs root or a user who may run postgres (as root, postgres and Patroni run as user postgres
# through runuser). Installs patroni, etcd-server and haproxy with apt-get when they are missing;
# starts none of their system services.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=../../tests/support/pg.sh
source "$repo/tests/support/pg.sh"

metagate= work=/tmp/metagate-ha-bench runs=3 scenarios=switchover,kill paths=haproxy,metagate out=
ttl=30 loop_wait=10 retry_timeout=10 sync=off pre=5 post=10 run_timeout=180 restore_timeout=240
hold_ms=60000
orig_args=("$@")
usage() { sed -n '2,/^set /p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case $1 in
    --metagate) metagate=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --scenarios) scenarios=$2; shift 2 ;;
    --paths) paths=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --ttl) ttl=$2; shift 2 ;;
    --loop-wait) loop_wait=$2; shift 2 ;;
    --retry-timeout) retry_timeout=$2; shift 2 ;;
    --sync) sync=$2; shift 2 ;;
    --pre) pre=$2; shift 2 ;;
    --post) post=$2; shift 2 ;;
    --run-timeout) run_timeout=$2; shift 2 ;;
    --restore-timeout) restore_timeout=$2; shift 2 ;;
    --hold-ms) hold_ms=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run.sh: unknown argument $1 (--help)" >&2; exit 2 ;;
  esac
done
case $sync in on|off) ;; *) echo "--sync on|off" >&2; exit 2 ;; esac
for v in "$runs" "$ttl" "$loop_wait" "$retry_timeout" "$pre" "$post" "$run_timeout" "$restore_timeout" "$hold_ms"; do
  [[ $v =~ ^[0-9]+$ ]] || { echo "run.sh: '$v' is not a whole number" >&2; exit 2; }
done
for s in ${scenarios//,/ }; do case $s in switchover|kill|patroni-kill) ;; *) echo "unknown scenario $s" >&2; exit 2 ;; esac; done
for p in ${paths//,/ }; do case $p in haproxy|metagate) ;; *) echo "unknown path $p" >&2; exit 2 ;; esac; done
if [[ ,$paths, == *,metagate,* ]]; then
  [ -n "$metagate" ] || { echo "run.sh: --metagate PATH is required for the metagate path (or --paths haproxy)" >&2; exit 2; }
fi
if [ -n "$metagate" ]; then metagate=$(cd "$(dirname "$metagate")" 2>/dev/null && pwd)/$(basename "$metagate"); fi
[ -n "$out" ] || out=$repo/bench/results/$(date -u +%F)-ha-patroni.md
command_line="bash bench/ha/run.sh ${orig_args[*]}"

log() { echo "[$(date -u +%T)] $*" >&2; }
now_ms() { date +%s%3N; }

# ---------------------------------------------------------------------------------------------
# Packages (Debian's). policy-rc.d or not, their services are never used: everything below is a
# child process on its own ports.
missing=()
command -v patroni >/dev/null || missing+=(patroni)
command -v etcd >/dev/null || missing+=(etcd-server)
command -v haproxy >/dev/null || missing+=(haproxy)
command -v curl >/dev/null || missing+=(curl)
command -v jq >/dev/null || missing+=(jq)
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >/tmp/ha-bench-apt.log 2>&1; then
    apt-get update >/dev/null 2>&1
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >/tmp/ha-bench-apt.log 2>&1 ||
      { echo "apt-get install ${missing[*]} failed, see /tmp/ha-bench-apt.log" >&2; exit 1; }
  fi
fi
# Patroni is a Debian python3 program: its own interpreter, whatever python3 is first in PATH.
PY=/usr/bin/python3
PATRONI=$(command -v patroni) PATRONICTL=$(command -v patronictl)
PSQL=$PG_BINDIR/psql
[ -x "$PSQL" ] || PSQL=$(command -v psql)

# ---------------------------------------------------------------------------------------------
# Work directory: recreated; as root it must be reachable by user postgres (not under /root).
SECRET=ha-bench-secret
REPL_SECRET=ha-bench-repl
SCOPE=habench
mkdir -p "$work" || exit 1
work=$(cd "$work" && pwd)
rm -rf "${work:?}"/etcd "$work"/pg1 "$work"/pg2 "$work"/runs "$work"/haproxy* "$work"/metagate* "$work"/results.jsonl
mkdir -p "$work/runs"
if [ "$(id -u)" = 0 ]; then
  chmod 755 "$work"
  if ! runuser -u postgres -- test -x "$work"; then
    echo "run.sh: user postgres cannot reach $work (a parent directory is private); use --work /tmp/..." >&2
    exit 2
  fi
fi

# ---------------------------------------------------------------------------------------------
# Process bookkeeping and cleanup.
ETCD_PID= HAPROXY_PID= MG_PID= PROBE_PID=
declare -A RUNUSER_PID PATRONI_PID REST_PORT PG_PORT
NODES=(pg1 pg2)

postmaster_pid() {  # NODE: the pid in its postmaster.pid if that process is a postgres of ours
  local f=$work/$1/data/postmaster.pid pid
  [ -f "$f" ] || return 1
  pid=$(head -1 "$f" 2>/dev/null)
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$work/$1/data" || return 1
  echo "$pid"
}

stop_pid() {  # PID [SECONDS]: TERM, then KILL
  local pid=$1 secs=${2:-10}
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 $((secs * 10))); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null
}

cleaned=0
cleanup() {
  [ "$cleaned" = 1 ] && return
  cleaned=1
  log "cleaning up"
  [ -n "$PROBE_PID" ] && kill -9 "$PROBE_PID" 2>/dev/null
  stop_pid "$MG_PID" 5
  stop_pid "$HAPROXY_PID" 5
  local n pid
  # Patroni stops its postgres (fast) when it gets TERM.
  for n in "${NODES[@]}"; do [ -n "${PATRONI_PID[$n]:-}" ] && kill "${PATRONI_PID[$n]}" 2>/dev/null; done
  for n in "${NODES[@]}"; do stop_pid "${PATRONI_PID[$n]:-}" 30; done
  for n in "${NODES[@]}"; do
    pid=$(postmaster_pid "$n") && { kill -INT "$pid" 2>/dev/null; sleep 2; kill -9 "$pid" 2>/dev/null; }
    [ -n "${RUNUSER_PID[$n]:-}" ] && kill "${RUNUSER_PID[$n]}" 2>/dev/null
  done
  stop_pid "$ETCD_PID" 5
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------------
# The probe (Go, GOPATH mode with Debian's lib/pq, as the repo's tests build their clients).
log "building the probe"
mkdir -p "$work/gopath" "$work/gocache"
if ! (cd "$here/probe" && GO111MODULE=off GOPATH="$work/gopath:/usr/share/gocode" GOCACHE="$work/gocache" GOFLAGS= \
      timeout 600 go build -o "$work/probe" .) >"$work/probe-build.log" 2>&1; then
  echo "run.sh: building bench/ha/probe failed:" >&2; cat "$work/probe-build.log" >&2; exit 1
fi

# ---------------------------------------------------------------------------------------------
# etcd: one member, v3 API, client and peer ports picked free.
ETCD_PORT=$(free_port); ETCD_PEER=$(free_port)
mkdir -p "$work/etcd"
log "starting etcd on 127.0.0.1:$ETCD_PORT"
etcd --name e1 --data-dir "$work/etcd/data" \
  --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER" \
  --initial-cluster "e1=http://127.0.0.1:$ETCD_PEER" --initial-cluster-state new \
  --initial-cluster-token "ha-bench-$$" --logger zap --log-outputs stderr >"$work/etcd/etcd.log" 2>&1 &
ETCD_PID=$!
wait_port "$ETCD_PORT" 30 "$ETCD_PID" || { tail -20 "$work/etcd/etcd.log" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------
# Patroni nodes.
sync_mode=false; [ "$sync" = on ] && sync_mode=true
write_patroni_config() {  # NODE
  local n=$1 d=$work/$1
  cat >"$d/patroni.yml" <<EOF
scope: $SCOPE
namespace: /service/
name: $n
log:
  level: INFO
restapi:
  listen: 127.0.0.1:${REST_PORT[$n]}
  connect_address: 127.0.0.1:${REST_PORT[$n]}
etcd3:
  hosts: 127.0.0.1:$ETCD_PORT
bootstrap:
  dcs:
    ttl: $ttl
    loop_wait: $loop_wait
    retry_timeout: $retry_timeout
    maximum_lag_on_failover: 1048576
    synchronous_mode: $sync_mode
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        wal_level: replica
        hot_standby: "on"
        max_wal_senders: 10
        max_replication_slots: 10
        wal_log_hints: "on"
        wal_keep_size: 256MB
  initdb:
  - encoding: UTF8
  - locale: C.UTF-8
  - data-checksums
postgresql:
  listen: 127.0.0.1:${PG_PORT[$n]}
  connect_address: 127.0.0.1:${PG_PORT[$n]}
  data_dir: $d/data
  bin_dir: $PG_BINDIR
  pgpass: $d/pgpass
  authentication:
    superuser:
      username: postgres
      password: $SECRET
    replication:
      username: replicator
      password: $REPL_SECRET
  # The whole pg_hba.conf (bootstrap.pg_hba would be appended after initdb's "trust" lines).
  pg_hba:
  - local all all trust
  - host replication replicator 127.0.0.1/32 scram-sha-256
  - host all all 127.0.0.1/32 scram-sha-256
  parameters:
    unix_socket_directories: $d
    max_connections: 200
  # A benchmark cluster: a node that cannot rejoin is recloned rather than left out.
  remove_data_directory_on_rewind_failure: true
  remove_data_directory_on_diverged_timelines: true
watchdog:
  mode: off
tags:
  nofailover: false
  noloadbalance: false
  clonefrom: false
  nosync: false
EOF
}

start_patroni() {  # NODE: start its Patroni (as postgres when root); sets PATRONI_PID[NODE]
  local n=$1 d=$work/$1 pid
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- env HOME="$d" "$PATRONI" "$d/patroni.yml" >>"$d/patroni.log" 2>&1 &
    RUNUSER_PID[$n]=$!
    # runuser forks: the Patroni process is its child.
    pid=
    for _ in $(seq 1 100); do
      pid=$(pgrep -P "${RUNUSER_PID[$n]}" | head -1)
      [ -n "$pid" ] && break
      sleep 0.05
    done
    [ -n "$pid" ] || { echo "run.sh: Patroni $n did not start" >&2; tail -20 "$d/patroni.log" >&2; return 1; }
    PATRONI_PID[$n]=$pid
  else
    HOME=$d "$PATRONI" "$d/patroni.yml" >>"$d/patroni.log" 2>&1 &
    PATRONI_PID[$n]=$!
  fi
  wait_port "${REST_PORT[$n]}" 60 "${PATRONI_PID[$n]}" || { tail -20 "$d/patroni.log" >&2; return 1; }
}

for n in "${NODES[@]}"; do
  mkdir -p "$work/$n"
  REST_PORT[$n]=$(free_port); PG_PORT[$n]=$(free_port)
  while [ "${PG_PORT[$n]}" = "${REST_PORT[$n]}" ]; do PG_PORT[$n]=$(free_port); done
  write_patroni_config "$n"
  [ "$(id -u)" = 0 ] && chown -R postgres: "$work/$n" && chmod 700 "$work/$n"
done
other_node() { if [ "$1" = pg1 ]; then echo pg2; else echo pg1; fi; }

# cluster_json: Patroni's /cluster from the first node whose REST API answers.
cluster_json() {
  local n j
  for n in "${NODES[@]}"; do
    j=$(curl -s -m 1 "http://127.0.0.1:${REST_PORT[$n]}/cluster" 2>/dev/null) &&
      echo "$j" | jq -e .members >/dev/null 2>&1 && { echo "$j"; return 0; }
  done
  return 1
}
leader_name() { cluster_json | jq -r '.members[] | select(.role == "leader") | .name' 2>/dev/null | head -1; }

pgq() {  # PORT SQL: one value, as the superuser with its password over TCP
  PGPASSWORD=$SECRET PGCONNECT_TIMEOUT=2 "$PSQL" -X -q -tA -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$1" -U postgres -d postgres -c "$2" 2>/dev/null
}

log "starting Patroni pg1 (bootstraps the cluster)"
start_patroni pg1 || exit 1
for _ in $(seq 1 600); do [ "$(leader_name)" = pg1 ] && break; sleep 0.2; done
[ "$(leader_name)" = pg1 ] || { echo "run.sh: pg1 did not become the leader" >&2; tail -30 "$work/pg1/patroni.log" >&2; exit 1; }
log "starting Patroni pg2 (clones pg1)"
start_patroni pg2 || exit 1

# healthy: one leader and one replica, both running; the replica streams and has replayed all
# but 1 MB; with haproxy, HAProxy routes to the leader only; with metagate, metagate routes writes
# to the leader.
haproxy_status() {  # SERVER: UP, DOWN, ...
  curl -s -m 2 "http://127.0.0.1:$HAPROXY_STATS/;csv" 2>/dev/null |
    awk -F, -v s="$1" '$1 == "primary" && $2 == s { print $18 }'
}
health_reason=
healthy() {  # [PATH]
  local j leader replica lp rp
  j=$(cluster_json) || { health_reason="no Patroni REST API answers"; return 1; }
  leader=$(echo "$j" | jq -r '[.members[] | select(.role == "leader" and .state == "running")] | if length == 1 then .[0].name else "" end')
  [ -n "$leader" ] || { health_reason="no running leader: $(echo "$j" | jq -c '[.members[] | {name, role, state}]')"; return 1; }
  replica=$(echo "$j" | jq -r '[.members[] | select((.role == "replica" or .role == "sync_standby") and .state == "running")] | if length == 1 then .[0].name else "" end')
  [ -n "$replica" ] || { health_reason="no running replica: $(echo "$j" | jq -c '[.members[] | {name, role, state}]')"; return 1; }
  # synchronous_mode: only the node the leader has named synchronous standby may be promoted
  # (Patroni refuses the other: "not the healthiest node"); right after a switchover the new
  # leader names it only on its next loop.
  if [ "$sync_mode" = true ] && ! echo "$j" | jq -e --arg r "$replica" '.members[] | select(.name == $r and .role == "sync_standby")' >/dev/null; then
    health_reason="$replica is not the synchronous standby yet"; return 1
  fi
  lp=${PG_PORT[$leader]} rp=${PG_PORT[$replica]}
  [ "$(pgq "$lp" "SELECT pg_is_in_recovery()")" = f ] || { health_reason="$leader is not writable"; return 1; }
  [ "$(pgq "$rp" "SELECT pg_is_in_recovery()")" = t ] || { health_reason="$replica is not in recovery"; return 1; }
  [ "$(pgq "$lp" "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming' AND application_name = '$replica' AND pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn) < 1048576")" = 1 ] ||
    { health_reason="$replica does not stream from $leader (or lags)"; return 1; }
  case ${1:-} in
    haproxy)
      [ "$(haproxy_status "$leader")/$(haproxy_status "$replica")" = UP/DOWN ] ||
        { health_reason="HAProxy: $leader $(haproxy_status "$leader"), $replica $(haproxy_status "$replica")"; return 1; } ;;
    metagate)
      [ "$(PGSSLMODE=disable PGCONNECT_TIMEOUT=5 "$PSQL" -X -q -tA -h 127.0.0.1 -p "$MG_PORT" -U postgres -d postgres \
            -c "SELECT inet_server_port()" 2>/dev/null)" = "$lp" ] ||
        { health_reason="metagate does not route to $leader"; return 1; } ;;
  esac
  HEALTHY_LEADER=$leader HEALTHY_REPLICA=$replica
  return 0
}

# wait_healthy PATH SECONDS: restarts a node whose Patroni died; halfway through, reinitializes a
# member that is still not a running replica.
wait_healthy() {
  local path=$1 secs=$2 start n reinit=0 j
  start=$(date +%s)
  while [ $(( $(date +%s) - start )) -lt "$secs" ]; do
    healthy "$path" && return 0
    for n in "${NODES[@]}"; do
      if [ -n "${PATRONI_PID[$n]:-}" ] && ! kill -0 "${PATRONI_PID[$n]}" 2>/dev/null; then
        log "Patroni $n is not running: restarting it"
        start_patroni "$n"
      fi
    done
    if [ "$reinit" = 0 ] && [ $(( $(date +%s) - start )) -ge $((secs / 2)) ]; then
      j=$(cluster_json)
      for n in "${NODES[@]}"; do
        if [ -n "$j" ] && ! echo "$j" | jq -e --arg n "$n" '.members[] | select(.name == $n and .state == "running")' >/dev/null; then
          log "$n is still not running ($health_reason): patronictl reinit"
          "$PATRONICTL" -c "$work/$n/patroni.yml" reinit "$SCOPE" "$n" --force >>"$work/$n/reinit.log" 2>&1
          reinit=1
        fi
      done
    fi
    sleep 1
  done
  log "not healthy after ${secs}s: $health_reason"
  return 1
}

log "waiting for primary + streaming replica"
wait_healthy "" 300 || exit 1
LEADER=$HEALTHY_LEADER
pgq "${PG_PORT[$LEADER]}" "CREATE TABLE IF NOT EXISTS ha_probe (id bigint PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())" >/dev/null ||
  { echo "run.sh: could not create the probe table" >&2; exit 1; }
log "cluster up: leader $LEADER (pg1 127.0.0.1:${PG_PORT[pg1]} rest ${REST_PORT[pg1]}, pg2 127.0.0.1:${PG_PORT[pg2]} rest ${REST_PORT[pg2]})"

# ---------------------------------------------------------------------------------------------
# HAProxy (Patroni's recommended configuration) and metagate.
HAPROXY_PORT= HAPROXY_STATS= MG_PORT= mg_state="not requested"
if [[ ,$paths, == *,haproxy,* ]]; then
  HAPROXY_PORT=$(free_port); HAPROXY_STATS=$(free_port)
  cat >"$work/haproxy.cfg" <<EOF
global
    maxconn 200

defaults
    mode tcp
    retries 2
    timeout client 30m
    timeout connect 4s
    timeout server 30m
    timeout check 5s

listen stats
    mode http
    bind 127.0.0.1:$HAPROXY_STATS
    stats enable
    stats uri /

listen primary
    bind 127.0.0.1:$HAPROXY_PORT
    option httpchk OPTIONS /primary
    http-check expect status 200
    default-server inter 3s fall 3 rise 2 on-marked-down shutdown-sessions
    server pg1 127.0.0.1:${PG_PORT[pg1]} maxconn 100 check port ${REST_PORT[pg1]}
    server pg2 127.0.0.1:${PG_PORT[pg2]} maxconn 100 check port ${REST_PORT[pg2]}
EOF
  haproxy -c -f "$work/haproxy.cfg" >"$work/haproxy-check.log" 2>&1 || { cat "$work/haproxy-check.log" >&2; exit 1; }
  log "starting HAProxy on 127.0.0.1:$HAPROXY_PORT (stats $HAPROXY_STATS)"
  haproxy -db -f "$work/haproxy.cfg" >"$work/haproxy.log" 2>&1 &
  HAPROXY_PID=$!
  wait_port "$HAPROXY_PORT" 30 "$HAPROXY_PID" || { tail -20 "$work/haproxy.log" >&2; exit 1; }
fi
if [[ ,$paths, == *,metagate,* ]]; then
  if [ ! -x "$metagate" ]; then
    mg_state="not run: $metagate is not an executable"
    log "$mg_state"
  else
    MG_PORT=$(free_port)
    cat >"$work/metagate.json" <<EOF
{"listen": "127.0.0.1:$MG_PORT", "metrics": {"listen": "127.0.0.1:0"},
 "databases": {"*": {"backend": "postgres", "pool_mode": "transaction", "failover_hold_ms": $hold_ms,
   "patroni_urls": ["http://127.0.0.1:${REST_PORT[pg1]}", "http://127.0.0.1:${REST_PORT[pg2]}"],
   "conninfo": "host=127.0.0.1,127.0.0.1 port=${PG_PORT[pg1]},${PG_PORT[pg2]} user=postgres password=$SECRET dbname=postgres"}}}
EOF
    log "starting metagate on 127.0.0.1:$MG_PORT"
    "$metagate" serve --config "$work/metagate.json" >"$work/metagate.log" 2>&1 &
    MG_PID=$!
    if wait_port "$MG_PORT" 30 "$MG_PID"; then
      mg_state=running
    else
      mg_state="not run: metagate did not start ($(tail -3 "$work/metagate.log" | tr '\n' ' '))"
      log "$mg_state"
      MG_PID=
    fi
  fi
fi

# ---------------------------------------------------------------------------------------------
# One run.
status_field() { jq -r ".$2 // 0" "$1" 2>/dev/null || echo 0; }

# run_one SCENARIO PATH N RUNID: appends one JSON object to WORK/results.jsonl
run_one() {
  local scenario=$1 path=$2 n=$3 runid=$4 rd port dsn leader other ev t_leader= t_writable= new= result=ok
  local now wok rok lbad ref ctl_pid= ctl_rc= ctl_done= killed=
  rd=$work/runs/$scenario-$path-$n
  mkdir -p "$rd"
  if [ "$path" = metagate ] && [ "$mg_state" != running ]; then
    jq -nc --arg s "$scenario" --arg p "$path" --argjson n "$n" --arg r "$mg_state" \
      '{scenario: $s, path: $p, run: $n, result: $r}' >>"$work/results.jsonl"
    return
  fi
  if [ "$path" = metagate ] && ! kill -0 "$MG_PID" 2>/dev/null; then
    mg_state="not run: metagate exited ($(tail -3 "$work/metagate.log" | tr '\n' ' '))"
    jq -nc --arg s "$scenario" --arg p "$path" --argjson n "$n" --arg r "$mg_state" \
      '{scenario: $s, path: $p, run: $n, result: $r}' >>"$work/results.jsonl"
    return
  fi
  log "run $scenario/$path #$n: waiting for a healthy cluster"
  if ! wait_healthy "$path" "$restore_timeout"; then
    jq -nc --arg s "$scenario" --arg p "$path" --argjson n "$n" --arg r "not run: cluster not healthy ($health_reason)" \
      '{scenario: $s, path: $p, run: $n, result: $r}' >>"$work/results.jsonl"
    return
  fi
  leader=$HEALTHY_LEADER other=$HEALTHY_REPLICA
  if [ "$path" = haproxy ]; then port=$HAPROXY_PORT; else port=$MG_PORT; fi
  dsn="host=127.0.0.1 port=$port user=postgres password=$SECRET dbname=postgres sslmode=disable"
  rm -f "$rd/stop"
  "$work/probe" run -dsn "$dsn" -out "$rd/summary.json" -acked "$rd/acked.txt" -status "$rd/status.json" \
    -ops "$rd/ops.csv" -stop "$rd/stop" -max "$((run_timeout + pre + 30))s" -run-id "$runid" \
    -op-timeout "$(( hold_ms / 1000 + 15 ))s" >"$rd/probe.log" 2>&1 &
  PROBE_PID=$!
  for _ in $(seq 1 300); do
    [ "$(status_field "$rd/status.json" write_ok)" -gt 0 ] 2>/dev/null &&
      [ "$(status_field "$rd/status.json" read_ok)" -gt 0 ] 2>/dev/null && break
    kill -0 "$PROBE_PID" 2>/dev/null || break
    sleep 0.1
  done
  sleep "$pre"
  log "run $scenario/$path #$n: $scenario of $leader (writes $(status_field "$rd/status.json" write_ok) ok, $(status_field "$rd/status.json" write_failed) failed so far)"
  case $scenario in
    switchover)
      ev=$(now_ms)
      if [ "$path" = metagate ]; then
        # metagate's planned switchover: PAUSE (running transactions finish, new ones wait),
        # the same patronictl command, wait for the new primary, RESUME.
        "$metagate" switchover --host 127.0.0.1 --port "$MG_PORT" --user postgres --timeout 60 \
          --command "$PATRONICTL -c $work/$leader/patroni.yml switchover --leader $leader --candidate $other --force" \
          >"$rd/patronictl.out" 2>&1 &
      else
        "$PATRONICTL" -c "$work/$leader/patroni.yml" switchover --leader "$leader" --candidate "$other" --force \
          >"$rd/patronictl.out" 2>&1 &
      fi
      ctl_pid=$! ;;
    kill)
      local pm; pm=$(postmaster_pid "$leader")
      ev=$(now_ms)
      kill -9 "${PATRONI_PID[$leader]}" ${pm:+"$pm"} 2>/dev/null
      killed="patroni ${PATRONI_PID[$leader]}, postmaster ${pm:-none}"
      PATRONI_PID[$leader]=
      echo "$ev $killed" >"$rd/kill.txt" ;;
    patroni-kill)
      # Patroni without a watchdog: its PostgreSQL keeps running as a primary, accepting
      # writes, until the other node takes the expired leader key and promotes itself.
      ev=$(now_ms)
      kill -9 "${PATRONI_PID[$leader]}" 2>/dev/null
      killed="patroni ${PATRONI_PID[$leader]} (its postmaster left running)"
      PATRONI_PID[$leader]=
      echo "$ev $killed" >"$rd/kill.txt" ;;
  esac
  while :; do
    now=$(now_ms)
    if [ -z "$t_leader" ]; then
      new=$(leader_name)
      if [ -n "$new" ] && [ "$new" != "$leader" ]; then t_leader=$now; fi
    fi
    if [ -n "$t_leader" ] && [ -z "$t_writable" ]; then
      [ "$(pgq "${PG_PORT[$new]}" "SELECT pg_is_in_recovery()")" = f ] && t_writable=$(now_ms)
    fi
    if [ -n "$t_writable" ]; then
      wok=$(status_field "$rd/status.json" write_last_ok_ms); rok=$(status_field "$rd/status.json" read_last_ok_ms)
      lbad=$(status_field "$rd/status.json" last_bad_ms)
      ref=$t_writable; [ "$lbad" -gt "$ref" ] && ref=$lbad
      now=$(now_ms)
      if [ $((now - ref)) -ge $((post * 1000)) ] && [ $((now - wok)) -lt 1000 ] && [ $((now - rok)) -lt 1000 ]; then break; fi
    fi
    if [ $(( $(now_ms) - ev )) -ge $((run_timeout * 1000)) ]; then
      result="timeout after ${run_timeout}s (new leader: ${new:-none}, writable: ${t_writable:+yes})"
      break
    fi
    kill -0 "$PROBE_PID" 2>/dev/null || { result="probe exited early"; break; }
    # patronictl may report a refused switchover and still exit 0: no new leader 15 s after it
    # returned ends the run.
    if [ -n "$ctl_pid" ] && ! kill -0 "$ctl_pid" 2>/dev/null; then
      wait "$ctl_pid"; ctl_rc=$?; ctl_pid= ctl_done=$(now_ms)
    fi
    if [ -z "$t_leader" ] && [ -n "$ctl_done" ] && [ $(( $(now_ms) - ctl_done )) -ge 15000 ]; then
      result="no new leader 15 s after patronictl returned (rc $ctl_rc): $(grep -i -m1 'fail\|error' "$rd/patronictl.out")"
      break
    fi
    sleep 0.2
  done
  touch "$rd/stop"
  for _ in $(seq 1 $(( (hold_ms / 1000 + 30) * 10 ))); do kill -0 "$PROBE_PID" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$PROBE_PID" 2>/dev/null; wait "$PROBE_PID" 2>/dev/null; PROBE_PID=
  if [ -n "$ctl_pid" ]; then wait "$ctl_pid"; ctl_rc=$?; fi
  # The acknowledged writes on whichever node leads now.
  local cur verify='{}'
  cur=$(leader_name)
  if [ -n "$cur" ]; then
    verify=$("$work/probe" verify -dsn "host=127.0.0.1 port=${PG_PORT[$cur]} user=postgres password=$SECRET dbname=postgres sslmode=disable" \
               -acked "$rd/acked.txt" 2>"$rd/verify.err") || verify='{}'
  fi
  echo "$verify" >"$rd/verify.json"
  [ -s "$rd/summary.json" ] || echo '{}' >"$rd/summary.json"
  jq -nc --arg s "$scenario" --arg p "$path" --argjson n "$n" --arg r "$result" --argjson ev "$ev" \
     --arg old "$leader" --arg new "${new:-}" --arg tl "${t_leader:-}" --arg tw "${t_writable:-}" \
     --arg ctl "${ctl_rc:-}" --arg killed "${killed:-}" --arg cur "${cur:-}" \
     --slurpfile sum "$rd/summary.json" --argjson ver "$verify" \
     '{scenario: $s, path: $p, run: $n, result: $r, event_ms: $ev, old_leader: $old, new_leader: $new,
       leader_ms: (if $tl == "" then null else ($tl | tonumber) end),
       writable_ms: (if $tw == "" then null else ($tw | tonumber) end),
       patronictl_rc: (if $ctl == "" then null else ($ctl | tonumber) end), killed: $killed,
       verified_on: $cur, probe: $sum[0], verify: $ver}' >>"$work/results.jsonl"
  log "run $scenario/$path #$n: $result; leader $leader -> ${new:-?} after $(( ${t_leader:-$ev} - ev )) ms, writable after $(( ${t_writable:-$ev} - ev )) ms; $(jq -r '"writes ok \(.write.ok) failed \(.write.failed) longest outage \(.write.longest_outage_ms) ms; reads failed \(.read.failed) longest outage \(.read.longest_outage_ms) ms"' "$rd/summary.json" 2>/dev/null); missing acked: $(echo "$verify" | jq -r '.missing // "?"')"
  # Bring a killed node back (its Patroni rewinds or reclones it); a switched-over one rejoins by itself.
  if [ "$scenario" = kill ] || [ "$scenario" = patroni-kill ]; then
    log "restarting Patroni $leader"
    start_patroni "$leader"
  fi
}

runid=0
for scenario in ${scenarios//,/ }; do
  for n in $(seq 1 "$runs"); do
    for path in ${paths//,/ }; do
      runid=$((runid + 1))
      run_one "$scenario" "$path" "$n" "$runid"
    done
  done
done
# ---------------------------------------------------------------------------------------------
# Report.
mg_rev=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$repo" status --porcelain -- src include 2>/dev/null)" ]; then mg_rev="$mg_rev (work tree with uncommitted changes in src/ or include/)"; fi
mg_version=
[ -n "$metagate" ] && [ -x "$metagate" ] && mg_version="binary of $(stat -c '%y' "$metagate" | cut -d. -f1), $(stat -c '%s' "$metagate") bytes"

{
  echo "command: $command_line"
  echo "date: $(date -u '+%F %T') UTC"
  echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), kernel $(uname -r), $(free -g | awk '/Mem:/ {print $2}') GiB RAM, load average $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "patroni: $("$PATRONI" --version 2>&1 | head -1)"
  echo "etcd: $(etcd --version 2>&1 | head -1)"
  echo "haproxy: $(haproxy -v 2>&1 | head -1)"
  echo "postgres: $("$PG_BINDIR/postgres" --version 2>&1 | head -1)"
  echo "metagate: ${metagate:-none} ${mg_version:+($mg_version) }at $mg_rev; $mg_state"
  echo "settings: ttl=$ttl loop_wait=$loop_wait retry_timeout=$retry_timeout synchronous_mode=$sync_mode use_pg_rewind=true watchdog=off; HAProxy inter 3s fall 3 rise 2 on-marked-down shutdown-sessions; metagate pool_mode=transaction failover_hold_ms=$hold_ms; probe every 10 ms (writer and reader), 4 connections, stall = op > 1 s; pre=${pre}s post=${post}s run_timeout=${run_timeout}s"
  echo "work: $work"
} >"$work/meta.txt"
mkdir -p "$(dirname "$out")"
"$PY" "$here/report.py" "$work/meta.txt" "$work/results.jsonl" >"$out.tmp" && mv "$out.tmp" "$out"
cat "$out"
log "report: $out"
