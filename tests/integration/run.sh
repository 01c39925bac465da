#!/usr/bin/env bash
# Integration tests with real clients against a real metagate daemon.
#
#   run.sh concurrency --metagate BIN --work DIR [--duration 15s] [--clients 50] [--pgx 12]
#   run.sh hostile     --metagate BIN --work DIR [--seeds 200] [--burst 200]
#   run.sh hostile     --reference --work DIR     (against a real PostgreSQL 15: checks the
#                                                  expectations themselves; needs postgresql-15)
#   run.sh protocol    --metagate BIN --work DIR  (TLS, passwords, CancelRequest; also --reference)
#
# Builds tests/integration/mgint (Go, GOPATH mode, Debian's lib/pq and pgx v4) into
# DIR/mgint, starts the daemon on a free loopback port with a fresh SQLite file in a
# temporary directory (removed at exit; the daemon log is kept as DIR/metagate.log), runs
# the test and stops the daemon. The output ends with "N passed, M failed"; the exit status
# is non-zero on any failure. The daemon log is also scanned for sanitizer reports.
# protocol: the temporary directory also gets a CA, a server certificate for localhost and
# 127.0.0.1 (openssl), a second CA, and a config file (TLS, pg_hba-style rules, SCRAM and md5
# users, databases) that the daemon is started with (`serve --config`); with --reference the
# same certificate, rules and users are set up in PostgreSQL 15.
set -u -o pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
test=${1:-}
[ -n "$test" ] && shift
metagate= work= reference=0 extra=()
while [ $# -gt 0 ]; do
  case $1 in
    --metagate) metagate=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --reference) reference=1; shift ;;
    --duration|--clients|--pgx|--seeds|--burst|--seed) extra+=("$1" "$2"); shift 2 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
case $test in
  concurrency|hostile|protocol) ;;
  *) echo "usage: run.sh concurrency|hostile|protocol --metagate BIN --work DIR [options]" >&2; exit 2 ;;
esac
[ -n "$work" ] || { echo "run.sh: --work DIR required" >&2; exit 2; }
if [ $reference = 0 ]; then
  [ -n "$metagate" ] || { echo "run.sh: --metagate BIN required" >&2; exit 2; }
  metagate=$(cd "$(dirname "$metagate")" && pwd)/$(basename "$metagate")
  [ -x "$metagate" ] || { echo "run.sh: $metagate is not executable" >&2; exit 2; }
fi
command -v go >/dev/null || { echo "run.sh: go not found"; echo "0 passed, 1 failed"; exit 1; }
if [ "$test" = protocol ]; then
  command -v openssl >/dev/null || { echo "run.sh: openssl not found"; echo "0 passed, 1 failed"; exit 1; }
fi

started=$(date +%s.%N)
mkdir -p "$work"
work=$(cd "$work" && pwd)
# The Go build cache is shared by the integration tests (it is safe for concurrent use).
gocache=$(dirname "$work")/gocache
mkdir -p "$gocache" "$work/gopath"

source "$here/../support/pg.sh"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mgint-$test.XXXXXX") || exit 2
chmod 755 "$tmp"
cleanup() {
  metagate_stop
  [ $reference = 1 ] && pg_stop "$tmp/pg"
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== building mgint"
if ! (cd "$here/mgint" && GO111MODULE=off GOPATH="$work/gopath:/usr/share/gocode" GOCACHE="$gocache" GOFLAGS= \
      timeout 300 go build -o "$work/mgint" .); then
  echo "run.sh: building mgint failed"
  echo "0 passed, 1 failed"
  exit 1
fi

# protocol_setup: certificates, passwords and the daemon's config file in $tmp (sets
# proto_pw, proto_md5_pw, proto_cfg and the verifiers/hashes the reference set-up reuses).
# Users: grafana (SCRAM, TLS only), md5user (md5 hash, md5 rule), md5only (md5 hash but only
# a scram-sha-256 rule matches), scrammd5 (SCRAM verifier under an md5 rule).
protocol_setup() {
  local t=$tmp/tls
  mkdir -p "$t" && chmod 755 "$t"
  (
    set -e
    cd "$t"
    for ca in ca other-ca; do
      openssl req -x509 -newkey rsa:2048 -nodes -keyout $ca.key -out $ca.crt -days 2 \
        -subj "/CN=mgint protocol test $ca" -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign"
    done
    openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=localhost"
    printf '%s\n' 'subjectAltName=DNS:localhost,IP:127.0.0.1' 'basicConstraints=critical,CA:FALSE' \
      'keyUsage=critical,digitalSignature,keyEncipherment' 'extendedKeyUsage=serverAuth' >server.ext
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt \
      -days 2 -extfile server.ext
    chmod 600 ./*.key
    openssl verify -CAfile ca.crt server.crt
  ) >"$tmp/openssl.log" 2>&1 || { echo "run.sh: openssl failed:"; cat "$tmp/openssl.log"; return 1; }
  proto_pw=$(openssl rand -hex 12) proto_md5_pw=$(openssl rand -hex 12)
  # The reference PostgreSQL computes its own verifiers from nothing: it gets these same ones.
  proto_v_grafana=$(printf '%s' "$proto_pw" | "$passwd_bin" passwd grafana) || return 1
  proto_v_scrammd5=$(printf '%s' "$proto_pw" | "$passwd_bin" passwd scrammd5) || return 1
  proto_h_md5user=md5$(printf '%s' "${proto_md5_pw}md5user" | md5sum | cut -d' ' -f1)
  proto_h_md5only=md5$(printf '%s' "${proto_md5_pw}md5only" | md5sum | cut -d' ' -f1)
  proto_rules=(
    "hostssl all grafana  127.0.0.1/32 scram-sha-256"
    "host    all md5user  127.0.0.1/32 md5"
    "host    all scrammd5 127.0.0.1/32 md5"
    "hostssl all all      127.0.0.1/32 scram-sha-256"
  )
  proto_cfg=$tmp/metagate.json
  {
    echo '{'
    # Two I/O threads whatever the machine: the cancel checks then cover a CancelRequest
    # connection that lands on the I/O thread of the session it cancels.
    echo '  "io_threads": 2,'
    echo "  \"tls\": {\"cert_file\": \"$t/server.crt\", \"key_file\": \"$t/server.key\"},"
    echo '  "auth": {'
    echo '    "rules": ['
    local i n=${#proto_rules[@]}
    for i in "${!proto_rules[@]}"; do
      printf '      "%s"%s\n' "${proto_rules[$i]}" "$([ $((i + 1)) -lt $n ] && echo ,)"
    done
    echo '    ],'
    echo '    "users": {'
    echo "      \"grafana\":  {\"password\": \"$proto_v_grafana\"},"
    echo "      \"scrammd5\": {\"password\": \"$proto_v_scrammd5\"},"
    echo "      \"md5user\":  {\"password\": \"$proto_h_md5user\"},"
    echo "      \"md5only\":  {\"password\": \"$proto_h_md5only\"}"
    echo '    }'
    echo '  },'
    echo "  \"databases\": {\"grafana\": {\"path\": \"$tmp/grafana.db\"}}"
    echo '}'
  } >"$proto_cfg"
  chmod 600 "$proto_cfg"
}

# protocol_reference: PostgreSQL 15 with SSL on, the same certificate, rules and users.
protocol_reference() {
  local d=$tmp/pg
  cp "$tmp/tls/server.crt" "$tmp/tls/server.key" "$d/"
  chmod 600 "$d/server.key"
  [ "$(id -u)" = 0 ] && chown postgres: "$d/server.crt" "$d/server.key"
  printf "ssl = on\nssl_cert_file = '%s'\nssl_key_file = '%s'\n" "$d/server.crt" "$d/server.key" >>"$d/data/postgresql.conf"
  {
    echo "local all postgres trust"
    echo "host  all postgres 127.0.0.1/32 trust"
    printf '%s\n' "${proto_rules[@]}"
  } >"$d/data/pg_hba.conf"
  pg_psql -d postgres -c "CREATE ROLE grafana LOGIN PASSWORD '$proto_v_grafana'" \
    -c "CREATE ROLE scrammd5 LOGIN PASSWORD '$proto_v_scrammd5'" \
    -c "CREATE ROLE md5user LOGIN PASSWORD '$proto_h_md5user'" \
    -c "CREATE ROLE md5only LOGIN PASSWORD '$proto_h_md5only'" \
    -c "CREATE DATABASE grafana OWNER grafana" >/dev/null || return 1
  pg_stop "$d"
  pg_start "$d"
}

# The verifiers come from `metagate passwd`; with --reference (no --metagate), from this
# checkout's build.
passwd_bin=$metagate
if [ "$test" = protocol ] && [ -z "$passwd_bin" ]; then
  for b in "$here/../../build/bin/metagate" "$here/../../build/debug/bin/metagate"; do
    [ -x "$b" ] && { passwd_bin=$b; break; }
  done
  [ -n "$passwd_bin" ] || { echo "run.sh: protocol --reference needs --metagate BIN for \`metagate passwd\`"; echo "0 passed, 1 failed"; exit 1; }
fi
if [ "$test" = protocol ]; then
  echo "== certificates, passwords and config (openssl, metagate passwd)"
  protocol_setup || { echo "0 passed, 1 failed"; exit 1; }
fi

if [ $reference = 1 ]; then
  echo "== starting reference PostgreSQL 15"
  pg_start "$tmp/pg" || { echo "0 passed, 1 failed"; exit 1; }
  if [ "$test" = protocol ]; then
    protocol_reference || { echo "run.sh: reference set-up failed"; echo "0 passed, 1 failed"; exit 1; }
  else
    pg_psql -d postgres -c 'CREATE DATABASE grafana' >/dev/null || { echo "0 passed, 1 failed"; exit 1; }
  fi
  port=$PG_PORT
  pid=$(head -1 "$tmp/pg/data/postmaster.pid")
  user=postgres
elif [ "$test" = protocol ]; then
  # Started like metagate_start, but from the config file alone: its databases map (only
  # "grafana") must not be replaced by --sqlite.
  echo "== starting metagate --config $proto_cfg"
  log=$work/metagate.log
  : >"$log"
  for attempt in 1 2 3; do
    port=$(free_port) || break
    "$metagate" serve --listen "127.0.0.1:$port" --metrics 127.0.0.1:0 --config "$proto_cfg" >>"$log" 2>&1 &
    pid=$!
    if wait_port "$port" 30 "$pid"; then
      export MG_PORT=$port MG_PID=$pid MG_LOG=$log
      break
    fi
    kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  done
  [ -n "${MG_PID:-}" ] || { echo "run.sh: metagate did not start:"; tail -20 "$log"; echo "0 passed, 1 failed"; exit 1; }
  user=grafana
else
  echo "== starting metagate"
  log=$work/metagate.log
  : >"$log"
  MG_LOG=$log metagate_start "$metagate" "$tmp/grafana.db" || { echo "0 passed, 1 failed"; exit 1; }
  port=$MG_PORT pid=$MG_PID user=grafana
fi
dsn="host=127.0.0.1 port=$port user=$user dbname=grafana sslmode=disable connect_timeout=20"

echo "== $test (daemon pid $pid, port $port)"
out=$work/$test.out
case $test in
  concurrency)
    timeout 150 "$work/mgint" concurrency --dsn "$dsn" --pid "$pid" "${extra[@]}" 2>&1 | tee "$out"
    rc=${PIPESTATUS[0]} ;;
  hostile)
    # The reference PostgreSQL runs with max_connections=200: a smaller burst there.
    ref=(); [ $reference = 1 ] && ref=(--reference --burst 150)
    timeout 150 "$work/mgint" hostile --addr "127.0.0.1:$port" --dsn "$dsn" --user "$user" --pid "$pid" "${ref[@]}" "${extra[@]}" 2>&1 | tee "$out"
    rc=${PIPESTATUS[0]} ;;
  protocol)
    ref=(); [ $reference = 1 ] && ref=(--reference)
    timeout 200 "$work/mgint" protocol --addr "127.0.0.1:$port" --ca "$tmp/tls/ca.crt" \
      --other-ca "$tmp/tls/other-ca.crt" --password "$proto_pw" --md5-password "$proto_md5_pw" \
      --pid "$pid" "${ref[@]}" "${extra[@]}" 2>&1 | tee "$out"
    rc=${PIPESTATUS[0]} ;;
esac

summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out" | tail -1)
if [ -z "$summary" ]; then
  echo "run.sh: mgint produced no summary (exit $rc: 124 = timed out)"
  summary="0 passed, 1 failed"
fi
pass=${summary%% passed*}; fail=${summary#*passed, }; fail=${fail%% failed*}
[ "$rc" -ne 0 ] && [ "$fail" -eq 0 ] && fail=1

if [ $reference = 0 ]; then
  # The daemon must still be running, and must stop cleanly on SIGTERM.
  if kill -0 "$MG_PID" 2>/dev/null; then
    pass=$((pass + 1)); echo "PASS daemon still running after the test"
  else
    fail=$((fail + 1)); echo "FAIL daemon exited during the test; log tail:"; tail -30 "$log"
  fi
  metagate_stop
  if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:|ThreadSanitizer' "$log"; then
    fail=$((fail + 1)); echo "FAIL sanitizer report in the daemon log ($log):"
    grep -m5 -A12 -E 'AddressSanitizer|LeakSanitizer|runtime error:' "$log"
  else
    pass=$((pass + 1)); echo "PASS no sanitizer report in the daemon log"
  fi
fi
ended=$(date +%s.%N)
awk -v a="$started" -v b="$ended" -v t="$test" -v w="$work" 'BEGIN { printf "== %s took %.1fs (logs in %s)\n", t, b - a, w }'
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
