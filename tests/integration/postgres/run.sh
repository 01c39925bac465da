#!/usr/bin/env bash
# metagate relaying to a real PostgreSQL 15 through its pools, in session and in transaction
# pooling:
#   - metagate authenticates to PostgreSQL as the server asks: SCRAM-SHA-256, md5, cleartext
#     (pg_hba rules per role), with the password from --postgres CONNINFO;
#   - a psql script gives byte-identical output through metagate and directly;
#   - pgbench -i and a short pgbench run go through with no failed transactions;
#   - psql's CancelRequest (SIGINT) reaches the server running the statement (57014);
#   - the server's own errors pass through (wrong password 28P01), an unreachable backend gives
#     FATAL 08006 and is counted (metagate_connections_rejected_total{reason="backend_unavailable"});
#   - transaction pooling: pgbench -M simple|extended|prepared with more clients than server
#     connections, no failures, never more server connections than pool_size; SET and
#     SQL-level PREPARE follow the client; an exhausted pool answers 53300 after
#     queue_timeout_ms and the client's connection stays usable; session pooling resets a
#     server connection (DISCARD ALL) before another client gets it;
#   - SCRAM pass-through: the role's verifier in auth.users, the client's proof logs in to the
#     server (no password in metagate); a different verifier or an md5 server role is refused;
#   - TLS to the server with libpq's sslmode semantics (prefer, require, verify-ca,
#     verify-full with host name check, disable; the server's certificate from a test CA);
#   - `mgint pooling` (tests/integration/mgint/pooling.go: lib/pq and pgx v4 under
#     concurrency — unnamed statements split over Sync rounds, named statements, a result
#     type changed by DDL, SQL-level PREPARE, session state, pins: advisory locks, temporary
#     tables, LISTEN, WITH HOLD cursors, Grafana's migrator lock, cancel, a server connection
#     killed mid-statement), first against PostgreSQL itself (-reference), then through
#     metagate in transaction pooling.
#
#   run.sh --metagate BIN --work DIR
set -u -o pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)
source "$repo/tests/support/pg.sh"
metagate_test_args "$@"
tmp=$(mktemp -d /tmp/mgpg.XXXXXX); chmod 755 "$tmp"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  pg_stop "$tmp/pg"
  rm -rf "$tmp"
}
trap cleanup EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "PASS $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
PSQL=$PG_BINDIR/psql
PGBENCH=$PG_BINDIR/pgbench

# TLS on the server (metagate's default sslmode=prefer then encrypts every server connection):
# a CA, a server certificate for the name "localhost" only, and a CA that signed nothing here.
mkdir -p "$tmp/certs"
(
  cd "$tmp/certs" || exit 1
  for ca in ca otherca; do
    openssl req -x509 -newkey rsa:2048 -nodes -keyout $ca.key -out $ca.crt -days 2 -subj "/CN=metagate test $ca" 2>/dev/null
  done
  openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=localhost" 2>/dev/null
  printf 'subjectAltName=DNS:localhost\n' > san.ext
  openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 -extfile san.ext 2>/dev/null
  chmod 600 server.key
  [ "$(id -u)" = 0 ] && chown postgres: server.key server.crt
) || { echo "could not make test certificates"; echo "0 passed, 1 failed"; exit 1; }
pg_start "$tmp/pg" >/dev/null || { echo "could not start PostgreSQL"; echo "0 passed, 1 failed"; exit 1; }
# In postgresql.auto.conf (not on the command line), so that a reload can turn it off later.
pg_psql -d postgres -c "ALTER SYSTEM SET ssl_cert_file = '$tmp/certs/server.crt'" \
  -c "ALTER SYSTEM SET ssl_key_file = '$tmp/certs/server.key'" -c "ALTER SYSTEM SET ssl = on" \
  -c "SELECT pg_reload_conf()" >/dev/null
pg_psql -d postgres <<'SQL' >/dev/null
SET password_encryption = 'scram-sha-256';
CREATE ROLE mg_scram LOGIN PASSWORD 'scram-secret';
CREATE ROLE mg_clear LOGIN PASSWORD 'clear-secret';
SET password_encryption = 'md5';
CREATE ROLE mg_md5 LOGIN PASSWORD 'md5-secret';
CREATE DATABASE relay;
GRANT ALL ON DATABASE relay TO mg_scram, mg_md5, mg_clear;
\c relay
GRANT ALL ON SCHEMA public TO mg_scram, mg_md5, mg_clear;
SQL
# Each role must authenticate with its own method; the superuser keeps trust (for setup).
cat > "$tmp/pg/data/pg_hba.conf" <<'HBA'
host all mg_scram 127.0.0.1/32 scram-sha-256
host all mg_md5   127.0.0.1/32 md5
host all mg_clear 127.0.0.1/32 password
host all postgres 127.0.0.1/32 trust
HBA
chown postgres: "$tmp/pg/data/pg_hba.conf" 2>/dev/null
pg_psql -d postgres -c "SELECT pg_reload_conf()" >/dev/null

stop_mgs() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  pids=()
}
# start_mg NAME CONNINFO [JSON [TOP]]: metagate relaying every database name (JSON: more
# members of the database entry, e.g. "pool_mode": "transaction"; TOP: more top-level
# members); sets MG_PORT, MG_METRICS.
start_mg() {
  local name=$1 conninfo=$2 extra=${3:-} top=${4:-} port log=$work/$1.log i cfg=$work/$1.json
  port=$(free_port)
  : > "$log"
  cat > "$cfg" <<JSON
{"listen": "127.0.0.1:$port", "metrics": {"listen": "127.0.0.1:0"},${top:+ $top,}
 "databases": {"*": {"backend": "postgres", "conninfo": "$conninfo"${extra:+, $extra}}}}
JSON
  "$metagate" serve --config "$cfg" >>"$log" 2>&1 &
  pids+=($!)
  wait_port "$port" 30 $! || { bad "$name: metagate did not start"; tail -5 "$log"; return 1; }
  MG_PORT=$port
  MG_METRICS=
  for i in $(seq 1 50); do
    MG_METRICS=$(sed -n 's#.*metrics and health checks on http://\(127.0.0.1:[0-9]*\)/metrics.*#\1#p' "$log" | head -1)
    [ -n "$MG_METRICS" ] && break
    sleep 0.1
  done
}

script=$tmp/script.sql
cat > "$script" <<'SQL'
CREATE TABLE :tbl (id serial PRIMARY KEY, name text NOT NULL, n int, at timestamptz DEFAULT '2024-01-02 03:04:05+00');
INSERT INTO :tbl (name, n) VALUES ('a', 1), ('b', 2), ('c', NULL) RETURNING id, name, n;
SELECT name, n, at FROM :tbl ORDER BY id;
BEGIN;
UPDATE :tbl SET n = coalesce(n, 0) + 10;
SELECT sum(n) AS in_tx FROM :tbl;
ROLLBACK;
SELECT sum(n) AS after_rollback FROM :tbl;
SELECT 1/0;
INSERT INTO :tbl (name) VALUES (NULL);
SELECT current_database(), current_setting('application_name') AS app;
PREPARE q(int) AS SELECT name FROM :tbl WHERE id = $1;
EXECUTE q(2);
SELECT pg_advisory_lock(42), pg_advisory_unlock(42);
DROP TABLE :tbl;
SQL

for role in mg_scram mg_md5 mg_clear; do
  case $role in
    mg_scram) pw=scram-secret ;;
    mg_md5) pw=md5-secret ;;
    mg_clear) pw=clear-secret ;;
  esac
  start_mg "$role" "host=127.0.0.1 port=$PG_PORT user=$role password=$pw" || continue
  through=$(PGAPPNAME=relaytest "$PSQL" -X -h 127.0.0.1 -p "$MG_PORT" -U anyone -d relay -v tbl="t_$role" -f "$script" 2>&1)
  direct=$(PGAPPNAME=relaytest PGPASSWORD=$pw "$PSQL" -X -h 127.0.0.1 -p "$PG_PORT" -U "$role" -d relay -v tbl="t_$role" -f "$script" 2>&1)
  if [ "$through" = "$direct" ] && echo "$through" | grep -q "division by zero"; then
    ok "$role: authenticated to PostgreSQL ($role's pg_hba method); the psql script prints the same through metagate as directly ($(echo "$through" | wc -l) lines)"
  else
    bad "$role: output differs from direct PostgreSQL"
    diff <(echo "$direct") <(echo "$through") | head -20
  fi
done

# pgbench through metagate (mg_scram): init and a short run, no failures.
start_mg bench "host=127.0.0.1 port=$PG_PORT user=mg_scram password=scram-secret" && {
  if "$PGBENCH" -i -q -s 1 -h 127.0.0.1 -p "$MG_PORT" -U x relay > "$work/pgbench-init.log" 2>&1; then
    ok "pgbench -i -s 1 through metagate"
  else
    bad "pgbench -i through metagate"; tail -5 "$work/pgbench-init.log"
  fi
  r=$(curl -s -w ' %{http_code}' "http://$MG_METRICS/readyz")
  case $r in *200) ok "/readyz with the backend up: $r" ;; *) bad "/readyz with the backend up: $r" ;; esac
  for mode in simple extended prepared; do
    "$PGBENCH" -M $mode -c 4 -j 2 -T 3 -h 127.0.0.1 -p "$MG_PORT" -U x relay > "$work/pgbench-$mode.log" 2>&1
    rc=$?
    tx=$(grep -oP 'number of transactions actually processed: \K[0-9]+' "$work/pgbench-$mode.log")
    failed=$(grep -oP 'number of failed transactions: \K[0-9]+' "$work/pgbench-$mode.log")
    if [ $rc = 0 ] && [ "${tx:-0}" -gt 0 ] && [ "${failed:-1}" = 0 ]; then
      ok "pgbench -M $mode -c 4 -T 3 through metagate: $tx transactions, 0 failed"
    else
      bad "pgbench -M $mode: rc=$rc tx=${tx:-?} failed=${failed:-?}"; tail -5 "$work/pgbench-$mode.log"
    fi
  done
  # CancelRequest: psql sends one on SIGINT.
  start=$(date +%s.%N)
  out=$(timeout -s INT 1 "$PSQL" -X -h 127.0.0.1 -p "$MG_PORT" -U x -d relay -c "SELECT pg_sleep(20)" 2>&1)
  el=$(echo "$(date +%s.%N) - $start" | bc)
  if echo "$out" | grep -q "canceling statement due to user request" && [ "$(echo "$el < 5" | bc)" = 1 ]; then
    ok "CancelRequest through metagate reaches the server (${el}s): $(echo "$out" | head -1)"
  else
    bad "CancelRequest: after ${el}s: $out"
  fi
}

# Errors from the server pass through; an unreachable backend is a clear FATAL.
start_mg wrongpw "host=127.0.0.1 port=$PG_PORT user=mg_scram password=wrong" && {
  out=$("$PSQL" -X -h 127.0.0.1 -p "$MG_PORT" -U x -d relay -c "SELECT 1" 2>&1)
  if echo "$out" | grep -q 'password authentication failed for user "mg_scram"'; then
    ok "wrong backend password: the server's 28P01 reaches the client: $out"
  else
    bad "wrong backend password: $out"
  fi
}
dead=$(free_port)
start_mg unreachable "host=127.0.0.1 port=$dead user=mg_scram password=x connect_timeout=2" '"queue_timeout_ms": 1000' && {
  out=$("$PSQL" -X -h 127.0.0.1 -p "$MG_PORT" -U x -d relay -c "SELECT 1" 2>&1)
  if echo "$out" | grep -q "could not connect to the PostgreSQL backend"; then
    ok "unreachable backend: FATAL: $(echo "$out" | head -1)"
  else
    bad "unreachable backend: $out"
  fi
  m=$(curl -s "http://$MG_METRICS/metrics" | grep 'metagate_connections_rejected_total{reason="backend_unavailable"}')
  if [ "${m##* }" = 1 ]; then ok "counted: $m"; else bad "metric: $m"; fi
  r=$(curl -s -w ' %{http_code}' "http://$MG_METRICS/readyz")
  case $r in *"no response"*503) ok "/readyz with the backend down: $r" ;; *) bad "/readyz with the backend down: $r" ;; esac
}

# Authentication pass-through: no user or password in the conninfo, a password rule and no
# users in metagate: the client's own user and password are checked by the server (SCRAM
# and md5 roles there), once per password.
start_mg passthrough "host=127.0.0.1 port=$PG_PORT" '"pool_mode": "transaction", "pool_size": 2' \
  '"auth": {"rules": ["host all all 127.0.0.1/32 scram-sha-256"]}' && {
  a=$(PGPASSWORD=scram-secret "$PSQL" -X -h 127.0.0.1 -p "$MG_PORT" -U mg_scram -d relay -At -c "SELECT current_user" 2>&1)
  b=$(PGPASSWORD=md5-secret "$PSQL" -X -h 127.0.0.1 -p "$MG_PORT" -U mg_md5 -d relay -At -c "SELECT current_user" 2>&1)
  c=$(PGPASSWORD=wrong "$PSQL" -X -h 127.0.0.1 -p "$MG_PORT" -U mg_scram -d relay -At -c "SELECT 1" 2>&1)
  d=$(PGPASSWORD=scram-secret "$PSQL" -X -h 127.0.0.1 -p "$MG_PORT" -U mg_scram -d relay -At -c "SELECT 'again'" 2>&1)
  connects=$(curl -s "http://$MG_METRICS/metrics" | grep -oP '^metagate_pool_server_connects_total\{database="relay",user="mg_scram",result="ok"\} \K[0-9]+')
  failures=$(curl -s "http://$MG_METRICS/metrics" | grep -oP '^metagate_auth_failures_total\{method="password"\} \K[0-9]+')
  if [ "$a" = mg_scram ] && [ "$b" = mg_md5 ] && echo "$c" | grep -q 'FATAL:  password authentication failed for user "mg_scram"' &&
     [ "$d" = again ] && [ "${connects:-0}" = 1 ]; then
    ok "pass-through: the server checks each client's own password (SCRAM and md5 roles; wrong one: $(echo "$c" | grep -o 'FATAL.*')); the same password again needs no new server connection"
  else
    bad "pass-through: a=[$a] b=[$b] c=[$c] d=[$d] connects=${connects:-?} auth failures=${failures:-?}"
  fi
}

# SCRAM pass-through without the password: metagate holds the role's own SCRAM verifier
# (copied from pg_authid into auth.users), checks the client's SCRAM exchange itself, and logs
# in to the server with the keys that exchange proved (no password anywhere in metagate).
scram_verifier() {  # PASSWORD: a new SCRAM-SHA-256 verifier (fresh salt) for PASSWORD
  python3 - "$1" <<'PY'
import base64, hashlib, hmac, os, sys
salt = os.urandom(16)
salted = hashlib.pbkdf2_hmac("sha256", sys.argv[1].encode(), salt, 4096)
ck = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
sk = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
b = lambda x: base64.b64encode(x).decode()
print("SCRAM-SHA-256$4096:%s$%s:%s" % (b(salt), b(hashlib.sha256(ck).digest()), b(sk)))
PY
}
pg_secret=$(pg_psql -d postgres -At -c "SELECT rolpassword FROM pg_authid WHERE rolname = 'mg_scram'")
other_secret=$(scram_verifier scram-secret)
md5role_secret=$(scram_verifier md5-secret)
start_mg scrampass "host=127.0.0.1 port=$PG_PORT" '"pool_mode": "transaction", "pool_size": 2' \
  "\"auth\": {\"rules\": [\"host all all 127.0.0.1/32 scram-sha-256\"], \"users\": {\"mg_scram\": {\"password\": \"$pg_secret\"}, \"mg_md5\": {\"password\": \"$md5role_secret\"}}}" && {
  a=$(PGPASSWORD=scram-secret "$PSQL" -X -h 127.0.0.1 -p "$MG_PORT" -U mg_scram -d relay -At -c "SELECT current_user" 2>&1)
  b=$(PGPASSWORD=wrong "$PSQL" -X -h 127.0.0.1 -p "$MG_PORT" -U mg_scram -d relay -At -c "SELECT 1" 2>&1)
  c=$(PGPASSWORD=md5-secret "$PSQL" -X -h 127.0.0.1 -p "$MG_PORT" -U mg_md5 -d relay -At -c "SELECT 1" 2>&1)
  if [ "$a" = mg_scram ] && echo "$b" | grep -q 'password authentication failed for user "mg_scram"' &&
     echo "$c" | grep -q "needs scram-sha-256 on the server"; then
    ok "SCRAM pass-through: with the role's verifier from pg_authid in auth.users (and no password anywhere), the client's SCRAM proof logs in to the server; a wrong password fails at metagate; an md5 role: $(echo "$c" | grep -o 'FATAL.*' | cut -c1-120)"
  else
    bad "SCRAM pass-through: a=[$a] b=[$b] c=[$c]"
  fi
}
start_mg scrammismatch "host=127.0.0.1 port=$PG_PORT" '"pool_mode": "transaction"' \
  "\"auth\": {\"rules\": [\"host all all 127.0.0.1/32 scram-sha-256\"], \"users\": {\"mg_scram\": {\"password\": \"$other_secret\"}}}" && {
  r=$(PGPASSWORD=scram-secret "$PSQL" -X -h 127.0.0.1 -p "$MG_PORT" -U mg_scram -d relay -At -c "SELECT 1" 2>&1)
  if echo "$r" | grep -q "not the one in metagate's auth.users"; then
    ok "SCRAM pass-through: a verifier other than the server's (same password, another salt) is refused clearly: $(echo "$r" | grep -o 'FATAL.*' | cut -c1-140)"
  else
    bad "SCRAM pass-through, other verifier: $r"
  fi
}
stop_mgs

# TLS to the server, libpq's sslmode semantics. backend_ssl: what pg_stat_ssl says of the
# server connection a client of metagate got.
backend_ssl() {
  "$PSQL" -X -h 127.0.0.1 -p "$MG_PORT" -U x -d relay -At -c \
    "SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()" 2>&1
}
scram="user=mg_scram password=scram-secret dbname=relay"
start_mg tls_prefer "host=127.0.0.1 port=$PG_PORT $scram" && {
  r=$(backend_ssl)
  if echo "$r" | grep -q '^t|TLSv1\.[23]$'; then ok "TLS: the default sslmode=prefer encrypts the server connection ($r)"; else bad "TLS prefer: $r"; fi
}
start_mg tls_full "host=localhost port=$PG_PORT $scram sslmode=verify-full sslrootcert=$tmp/certs/ca.crt" && {
  r=$(backend_ssl)
  if echo "$r" | grep -q '^t|'; then ok "TLS: sslmode=verify-full with the right CA and host name (localhost) connects ($r)"; else bad "TLS verify-full: $r"; fi
}
start_mg tls_name "host=127.0.0.1 port=$PG_PORT $scram sslmode=verify-full sslrootcert=$tmp/certs/ca.crt" && {
  r=$(backend_ssl)
  if echo "$r" | grep -q 'server certificate for "localhost" does not match host name "127.0.0.1"'; then
    ok "TLS: verify-full refuses a certificate for another name: $(echo "$r" | grep -o 'FATAL.*')"
  else
    bad "TLS verify-full wrong name: $r"
  fi
}
start_mg tls_ca "host=127.0.0.1 port=$PG_PORT $scram sslmode=verify-ca sslrootcert=$tmp/certs/otherca.crt" && {
  r=$(backend_ssl)
  if echo "$r" | grep -q 'SSL error: certificate verify failed'; then
    ok "TLS: verify-ca refuses a certificate from another CA: $(echo "$r" | grep -o 'FATAL.*')"
  else
    bad "TLS verify-ca other CA: $r"
  fi
}
start_mg tls_ca_ok "host=127.0.0.1 port=$PG_PORT $scram sslmode=verify-ca sslrootcert=$tmp/certs/ca.crt" && {
  r=$(backend_ssl)
  if echo "$r" | grep -q '^t|'; then ok "TLS: verify-ca checks the chain only (127.0.0.1 with a localhost certificate connects)"; else bad "TLS verify-ca: $r"; fi
}
start_mg tls_off "host=127.0.0.1 port=$PG_PORT $scram sslmode=disable" && {
  r=$(backend_ssl)
  if [ "$r" = "f|" ]; then ok "TLS: sslmode=disable stays in plain text"; else bad "TLS disable: $r"; fi
}
# The server turns TLS off (reload): require fails, prefer falls back to plain text.
pg_psql -d postgres -c "ALTER SYSTEM SET ssl = off" -c "SELECT pg_reload_conf()" >/dev/null
sleep 0.5
start_mg tls_req "host=127.0.0.1 port=$PG_PORT $scram sslmode=require" && {
  r=$(backend_ssl)
  if echo "$r" | grep -q 'server does not support SSL, but SSL was required'; then
    ok "TLS: sslmode=require against a server without TLS: $(echo "$r" | grep -o 'FATAL.*')"
  else
    bad "TLS require without server TLS: $r"
  fi
}
start_mg tls_fallback "host=127.0.0.1 port=$PG_PORT $scram" && {
  r=$(backend_ssl)
  if [ "$r" = "f|" ]; then ok "TLS: prefer falls back to plain text when the server declines"; else bad "TLS prefer fallback: $r"; fi
}
pg_psql -d postgres -c "ALTER SYSTEM RESET ssl" -c "SELECT pg_reload_conf()" >/dev/null
stop_mgs

# Drain on SIGTERM with relayed sessions: a statement in flight completes, an open
# transaction can still commit, then each session ends with 57P01 and the daemon exits.
start_mg drain "host=127.0.0.1 port=$PG_PORT user=mg_scram password=scram-secret" && {
  mgpid=${pids[-1]}
  pg_psql -d relay -c "CREATE TABLE drain_t (id int); GRANT ALL ON drain_t TO mg_scram" >/dev/null
  mkfifo "$tmp/fifo"
  "$PSQL" -X -h 127.0.0.1 -p "$MG_PORT" -U x -d relay < "$tmp/fifo" > "$tmp/a.out" 2>&1 &
  apid=$!
  exec 7>"$tmp/fifo"
  echo "BEGIN; INSERT INTO drain_t VALUES (1);" >&7
  "$PSQL" -X -h 127.0.0.1 -p "$MG_PORT" -U x -d relay -At -c "SELECT pg_sleep(1.5), 'in-flight done'" > "$tmp/b.out" 2>&1 &
  bpid=$!
  sleep 0.7
  kill -TERM "$mgpid"
  sleep 0.3
  echo "INSERT INTO drain_t VALUES (2); COMMIT;" >&7
  sleep 0.5
  echo "SELECT 'after commit';" >&7
  exec 7>&-
  wait "$apid" "$bpid" 2>/dev/null
  for i in $(seq 1 50); do kill -0 "$mgpid" 2>/dev/null || break; sleep 0.1; done
  if grep -q "in-flight done" "$tmp/b.out"; then ok "drain: a relayed statement in flight at SIGTERM completes"; else bad "drain: in-flight statement: $(cat "$tmp/b.out")"; fi
  if grep -q "^COMMIT" "$tmp/a.out" && grep -q "terminating connection due to administrator command" "$tmp/a.out"; then
    ok "drain: the open transaction commits after SIGTERM, then 57P01"
  else
    bad "drain: transaction: $(cat "$tmp/a.out")"
  fi
  rows=$(pg_psql -d relay -At -c "SELECT count(*) FROM drain_t")
  if [ "$rows" = 2 ]; then ok "drain: both rows committed"; else bad "drain: $rows rows"; fi
  if kill -0 "$mgpid" 2>/dev/null; then bad "drain: metagate still running 5 s after the last transaction ended"; else ok "drain: metagate exited once its sessions ended"; fi
}

# ---- transaction pooling ----------------------------------------------------------------
# The daemons above keep their idle server connections: stop them, so that PostgreSQL's
# count of mg_scram connections is the pool's alone.
stop_mgs
# server_count: the server connections metagate holds (pg_stat_activity, role mg_scram).
server_count() {
  pg_psql -d postgres -At -c "SELECT count(*) FROM pg_stat_activity WHERE usename = 'mg_scram' AND backend_type = 'client backend'"
}
# watch_servers SECONDS: the largest server_count seen, sampled every 0.1 s.
watch_servers() {
  local max=0 n i
  for i in $(seq 1 $(($1 * 10))); do
    n=$(server_count)
    [ "$n" -gt "$max" ] && max=$n
    sleep 0.1
  done
  echo "$max"
}
start_mg txn "host=127.0.0.1 port=$PG_PORT user=mg_scram password=scram-secret" \
  '"pool_mode": "transaction", "pool_size": 2' && {
  for mode in simple extended prepared; do
    # pgbench -M prepared prepares synchronously (PQprepare) inside its transactions: with
    # fewer threads than clients, one thread waiting for a server connection would stall the
    # clients holding them, so each client gets its own thread there.
    jobs=2; [ $mode = prepared ] && jobs=8
    watch_servers 3 > "$tmp/max-$mode" &
    wpid=$!
    "$PGBENCH" -M $mode -c 8 -j $jobs -T 3 -h 127.0.0.1 -p "$MG_PORT" -U x relay > "$work/txn-pgbench-$mode.log" 2>&1
    rc=$?
    wait "$wpid"
    max=$(cat "$tmp/max-$mode")
    tx=$(grep -oP 'number of transactions actually processed: \K[0-9]+' "$work/txn-pgbench-$mode.log")
    failed=$(grep -oP 'number of failed transactions: \K[0-9]+' "$work/txn-pgbench-$mode.log")
    if [ $rc = 0 ] && [ "${tx:-0}" -gt 0 ] && [ "${failed:-1}" = 0 ] && [ "$max" -le 2 ]; then
      ok "transaction pooling: pgbench -M $mode -c 8 over pool_size 2: $tx transactions, 0 failed, at most $max server connections"
    else
      bad "transaction pooling: pgbench -M $mode: rc=$rc tx=${tx:-?} failed=${failed:-?} servers=$max"; tail -5 "$work/txn-pgbench-$mode.log"
    fi
  done
  "$PGBENCH" -M extended -S -c 50 -j 2 -T 3 -h 127.0.0.1 -p "$MG_PORT" -U x relay > "$work/txn-pgbench-50.log" 2>&1
  rc=$?
  tx=$(grep -oP 'number of transactions actually processed: \K[0-9]+' "$work/txn-pgbench-50.log")
  failed=$(grep -oP 'number of failed transactions: \K[0-9]+' "$work/txn-pgbench-50.log")
  if [ $rc = 0 ] && [ "${tx:-0}" -gt 0 ] && [ "${failed:-1}" = 0 ]; then
    ok "transaction pooling: 50 pgbench clients over 2 server connections: $tx transactions, 0 failed"
  else
    bad "transaction pooling: 50 clients: rc=$rc tx=${tx:-?} failed=${failed:-?}"; tail -5 "$work/txn-pgbench-50.log"
  fi
  # Startup parameters are the server's to judge, `options` included.
  o=$(PGOPTIONS='-c search_path=pg_catalog,public --work-mem=5MB' PGTZ=Europe/Berlin "$PSQL" -X -h 127.0.0.1 -p "$MG_PORT" \
      -U x -d relay -At -c "SELECT current_setting('search_path'), current_setting('work_mem'), current_setting('TimeZone')" 2>&1)
  if [ "$o" = "pg_catalog,public|5MB|Europe/Berlin" ]; then
    ok "startup parameters reach the server: options -c/--name and TimeZone Europe/Berlin ($o)"
  else
    bad "startup parameters: $o"
  fi
  # ... and the packet's own parameters win over options; an unknown one is refused at startup
  # even when the pool needs no server connection for the client yet.
  enc=$(PGCLIENTENCODING=UTF8 PGOPTIONS='-c client_encoding=LATIN1' "$PSQL" -X -h 127.0.0.1 -p "$MG_PORT" -U x -d relay \
        -At -c "SHOW client_encoding" 2>&1)
  unk=$(PGOPTIONS='-c doesnotexist=1' "$PSQL" -X -h 127.0.0.1 -p "$MG_PORT" -U x -d relay -At -c "SELECT 1" 2>&1)
  if [ "$enc" = UTF8 ] && echo "$unk" | grep -q 'FATAL:  unrecognized configuration parameter "doesnotexist"'; then
    ok "startup parameters: the packet's client_encoding wins over options; unknown parameter refused ($(echo "$unk" | grep -o 'FATAL.*'))"
  else
    bad "startup parameters: encoding=[$enc] unknown=[$unk]"
  fi
  # The admin console and the metrics show the pool.
  pools=$("$PSQL" -X -h 127.0.0.1 -p "$MG_PORT" -U admin -d metagate -At -F ' ' -c "SHOW POOLS" 2>&1)
  nserv=$("$PSQL" -X -h 127.0.0.1 -p "$MG_PORT" -U admin -d metagate -At -c "SHOW SERVERS" 2>&1 | grep -c '|relay|mg_scram|')
  scrape=$(curl -s "http://$MG_METRICS/metrics")
  checkouts=$(echo "$scrape" | grep -oP '^metagate_pool_checkouts_total\{database="relay",user="mg_scram"\} \K[0-9]+')
  reparses=$(echo "$scrape" | grep -oP '^metagate_pool_reparses_total\{database="relay",user="mg_scram"\} \K[0-9]+')
  waits=$(echo "$scrape" | grep -oP '^metagate_pool_wait_seconds_count\{database="relay",user="mg_scram"\} \K[0-9]+')
  selects=$(echo "$scrape" | grep -oP '^metagate_statements_total\{backend="postgres",kind="select"\} \K[0-9.e+]+')
  if echo "$pools" | grep -q '^relay mg_scram transaction 2 ' && [ "$nserv" -ge 1 ] && [ "$nserv" -le 2 ] &&
     [ "${checkouts:-0}" -gt 1000 ] && [ -n "$reparses" ] && [ "${waits:-0}" -gt 1000 ] && [ "${selects:-0}" != 0 ]; then
    ok "SHOW POOLS: $pools; SHOW SERVERS: $nserv rows; metrics: $checkouts checkouts, $reparses re-parses, $waits waits observed, $selects relayed SELECTs"
  else
    bad "pool in the admin console and metrics: pools=[$pools] servers=$nserv checkouts=${checkouts:-?} reparses=${reparses:-?} waits=${waits:-?} selects=${selects:-?}"
  fi
  # A SET whose state probe fails (here: cancelled by the client's own statement_timeout while
  # another session holds a lock on pg_cursors, which the probe reads): the server
  # connection's settings are unknown to metagate, so it stays with that client (another
  # client never sees them) until a probe succeeds, and is reset when the client leaves.
  pg_psql -d postgres -c "BEGIN" -c "LOCK TABLE pg_catalog.pg_cursors IN ACCESS EXCLUSIVE MODE" \
    -c "SELECT pg_sleep(3)" > /dev/null 2>&1 &
  lpid=$!
  for i in $(seq 1 50); do
    [ "$(pg_psql -d postgres -At -c "SELECT count(*) FROM pg_locks WHERE relation = 'pg_catalog.pg_cursors'::regclass AND mode = 'AccessExclusiveLock' AND granted")" = 1 ] && break
    sleep 0.1
  done
  other="$PSQL -X -h 127.0.0.1 -p $MG_PORT -U x -d relay -At -c \"SELECT current_setting('statement_timeout')\""
  st=$(printf '%s\n' "SET statement_timeout = '400ms';" "\\! $other" "SHOW statement_timeout;" \
    | "$PSQL" -X -h 127.0.0.1 -p "$MG_PORT" -U x -d relay -At 2>&1 | tr '\n' ' ')
  wait "$lpid"
  after=$("$PSQL" -X -h 127.0.0.1 -p "$MG_PORT" -U x -d relay -At -c "SELECT current_setting('statement_timeout')" 2>&1)
  if [ "$st" = "SET 0 400ms " ] && [ "$after" = 0 ]; then
    ok "transaction pooling: a SET whose state probe fails keeps its server connection (another client saw statement_timeout 0, the client 400ms, and 0 after it left)"
  else
    bad "transaction pooling: SET with a failed state probe: client said [$st] (want [SET 0 400ms ]), afterwards [$after] (want 0)"
  fi
  # A transaction whose server connection is lost (terminated here; a failover in
  # production): the transaction fails with 40001, the client is answered as in an aborted
  # transaction until it ends the block, and its connection stays usable afterwards.
  term="$PG_BINDIR/psql -X -q -h 127.0.0.1 -p $PG_PORT -U postgres -d postgres -At -c"
  pg_psql -d relay -c "CREATE TABLE lost_tx (x int); GRANT ALL ON lost_tx TO mg_scram"
  lost=$(cat <<SQL | "$PSQL" -X -h 127.0.0.1 -p "$MG_PORT" -U x -d relay -At 2>&1 | tr '\n' '|'
\set VERBOSITY terse
BEGIN;
INSERT INTO lost_tx VALUES (1);
\! $term "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'mg_scram' AND state = 'idle in transaction'" > /dev/null
SELECT 1;
SELECT 2;
COMMIT;
SELECT 3;
BEGIN;
INSERT INTO lost_tx VALUES (2);
\! (sleep 1; $term "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(20)%'") > /dev/null &
SELECT pg_sleep(20);
SELECT 4;
ROLLBACK;
SELECT count(*) FROM lost_tx;
SQL
)
  want='BEGIN|INSERT 0 1|ERROR:  the transaction was rolled back: the connection to the PostgreSQL server was lost (a failover or a server restart)|ERROR:  current transaction is aborted, commands ignored until end of transaction block|ROLLBACK|3|BEGIN|INSERT 0 1|ERROR:  the transaction was rolled back: the connection to the PostgreSQL server was lost (a failover or a server restart)|ERROR:  current transaction is aborted, commands ignored until end of transaction block|ROLLBACK|0|'
  codes=$(printf '%s\n' "\\set VERBOSITY verbose" "BEGIN;" "\\! $term \"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'mg_scram' AND state = 'idle in transaction'\" > /dev/null" \
    "SELECT 1;" "SELECT 2;" "ROLLBACK;" | "$PSQL" -X -h 127.0.0.1 -p "$MG_PORT" -U x -d relay -At 2>&1 | grep -o 'ERROR:  [0-9A-Z]*' | tr '\n' ' ')
  if [ "$lost" = "$want" ] && [ "$codes" = "ERROR:  40001 ERROR:  25P02 " ]; then
    ok "transaction pooling: a transaction whose server connection is lost (idle in it, or mid-statement) fails with 40001 then 25P02 until it ends; the client's connection carries on; nothing of it committed"
  else
    bad "transaction pooling: lost transaction: got [$lost] codes [$codes], want [$want] codes [ERROR:  40001 ERROR:  25P02 ]"
  fi
  # Session state follows the client across server connections (another psql keeps the
  # other server connection busy in between, so the statements land on both).
  "$PSQL" -X -h 127.0.0.1 -p "$MG_PORT" -U x -d relay -At -c "SELECT pg_sleep(0.2)" >/dev/null 2>&1 &
  busy=$!
  out=$("$PSQL" -X -h 127.0.0.1 -p "$MG_PORT" -U x -d relay -At 2>&1 <<'SQL'
SET TimeZone = 'Asia/Tokyo';
SET search_path = pg_catalog, public;
PREPARE pq(int) AS SELECT $1 * 2;
SELECT current_setting('TimeZone'), current_setting('search_path');
EXECUTE pq(21);
SET statement_timeout = '100ms';
SELECT pg_sleep(0.5);
RESET statement_timeout;
SELECT 'slept' FROM pg_sleep(0.2);
BEGIN; SET TimeZone = 'UTC'; ROLLBACK;
SELECT current_setting('TimeZone');
DEALLOCATE pq;
EXECUTE pq(1);
SQL
)
  want=$(printf '%s\n' SET SET PREPARE 'Asia/Tokyo|pg_catalog, public' 42 SET \
    'ERROR:  canceling statement due to statement timeout' RESET slept BEGIN SET ROLLBACK Asia/Tokyo DEALLOCATE \
    'ERROR:  prepared statement "pq" does not exist')
  if [ "$(echo "$out" | sort)" = "$(echo "$want" | sort)" ]; then
    ok "transaction pooling: SET, RESET, rollback of a SET, PREPARE/EXECUTE/DEALLOCATE follow the client"
  else
    bad "transaction pooling: session state: $out"
  fi
  wait "$busy"
}
# The Go clients' checks: PostgreSQL itself first (validates the checks), then metagate.
gocache=$(dirname "$work")/gocache
mkdir -p "$gocache" "$work/gopath"
if (cd "$repo/tests/integration/mgint" && GO111MODULE=off GOPATH="$work/gopath:/usr/share/gocode" GOCACHE="$gocache" GOFLAGS= \
      timeout 300 go build -o "$work/mgint" .); then
  pg_psql -d relay -c "GRANT CREATE ON SCHEMA public TO mg_scram" >/dev/null
  pgdsn="host=127.0.0.1 port=$PG_PORT user=postgres dbname=relay sslmode=disable"
  # run_pooling LABEL ARGS...: mgint pooling; its checks count as one each here.
  run_pooling() {
    local label=$1; shift
    timeout 120 "$work/mgint" pooling -pg-dsn "$pgdsn" "$@" > "$work/pooling-$label.out" 2>&1
    local rc=$? p f
    p=$(grep -oP '^\K[0-9]+(?= passed)' "$work/pooling-$label.out" | tail -1)
    f=$(grep -oP ', \K[0-9]+(?= failed)' "$work/pooling-$label.out" | tail -1)
    if [ -n "$p" ] && [ "$rc" = 0 ] && [ "${f:-1}" = 0 ]; then
      ok "mgint pooling ($label): $p checks passed"
    else
      bad "mgint pooling ($label): rc=$rc passed=${p:-?} failed=${f:-?}"; grep -E '^FAIL' "$work/pooling-$label.out" | head -20
    fi
  }
  run_pooling reference -reference -pool-size 4 \
    -dsn "host=127.0.0.1 port=$PG_PORT user=mg_scram password=scram-secret dbname=relay sslmode=disable"
  stop_mgs
  start_mg pooling "host=127.0.0.1 port=$PG_PORT user=mg_scram password=scram-secret" \
    '"pool_mode": "transaction", "pool_size": 4' &&
    run_pooling transaction -pool-size 4 -dsn "host=127.0.0.1 port=$MG_PORT user=x dbname=relay sslmode=disable"
else
  bad "building mgint failed"
fi

# An exhausted pool: 53300 after queue_timeout_ms, and the client's connection stays usable.
start_mg exhausted "host=127.0.0.1 port=$PG_PORT user=mg_scram password=scram-secret" \
  '"pool_mode": "transaction", "pool_size": 1, "queue_timeout_ms": 500' && {
  "$PSQL" -X -h 127.0.0.1 -p "$MG_PORT" -U x -d relay -At -c "BEGIN; SELECT pg_sleep(1.5); COMMIT" >/dev/null 2>&1 &
  hold=$!
  sleep 0.3
  start=$(date +%s.%N)
  out=$("$PSQL" -X -h 127.0.0.1 -p "$MG_PORT" -U x -d relay -At 2>&1 <<'SQL'
SELECT 'first';
\! sleep 1.5
SELECT 'usable';
SQL
)
  wait "$hold"
  if echo "$out" | grep -q 'connection pool for database "relay" and user "mg_scram" is exhausted: no server connection came free within 500 ms' &&
     echo "$out" | grep -q '^usable$'; then
    ok "exhausted pool: 53300 after queue_timeout_ms, then the same connection works: $(echo "$out" | head -1)"
  else
    bad "exhausted pool: $out"
  fi
}
# Session pooling with reuse resets a server connection before the next client gets it.
start_mg reset "host=127.0.0.1 port=$PG_PORT user=mg_scram password=scram-secret" '"pool_size": 1, "reuse_server_connections": true' && {
  "$PSQL" -X -h 127.0.0.1 -p "$MG_PORT" -U x -d relay -At -c "CREATE TEMP TABLE leak (a int)" -c "SET TimeZone = 'Asia/Tokyo'" \
    -c "SELECT pg_backend_pid()" > "$tmp/r1" 2>&1
  "$PSQL" -X -h 127.0.0.1 -p "$MG_PORT" -U x -d relay -At \
    -c "SELECT pg_backend_pid(), current_setting('TimeZone') <> 'Asia/Tokyo', to_regclass('pg_temp.leak') IS NULL" > "$tmp/r2" 2>&1
  p1=$(tail -1 "$tmp/r1"); r2=$(cat "$tmp/r2")
  if [ "$r2" = "$p1|t|t" ]; then
    ok "session pooling: the same server connection (pid $p1) comes back reset (no temp table, no SET)"
  else
    bad "session pooling reset: first: $(cat "$tmp/r1") second: $r2"
  fi
}

# ... or, by default (reuse_server_connections false), closes it: each client gets a fresh backend.
start_mg noreuse "host=127.0.0.1 port=$PG_PORT user=mg_scram password=scram-secret" \
  '"pool_size": 1, "reuse_server_connections": false' && {
  p1=$("$PSQL" -X -h 127.0.0.1 -p "$MG_PORT" -U x -d relay -At -c "SELECT pg_backend_pid()" 2>&1)
  p2=$("$PSQL" -X -h 127.0.0.1 -p "$MG_PORT" -U x -d relay -At -c "SELECT pg_backend_pid()" 2>&1)
  sleep 0.3
  left=$(pg_psql -d postgres -At -c "SELECT count(*) FROM pg_stat_activity WHERE pid = ${p1:-0}")
  if [ -n "$p1" ] && [ -n "$p2" ] && [ "$p1" != "$p2" ] && [ "$left" = 0 ]; then
    ok "session pooling without reuse: each client its own backend ($p1, then $p2), closed when the client left"
  else
    bad "session pooling without reuse: p1=$p1 p2=$p2 still there=$left"
  fi
}

for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
pids=()
if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$work"/*.log; then
  bad "sanitizer report in a metagate log"; grep -m3 -A10 -E 'AddressSanitizer|LeakSanitizer|runtime error:' "$work"/*.log
else
  ok "no sanitizer report in the metagate logs"
fi
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
