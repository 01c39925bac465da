#!/usr/bin/env bash
# Issue 6, point 9, "client latency during catch-up": an S3 outage and the catch-up after it,
# under the steady Grafana-like write load of run.sh, on the cached >= 1 GB seed database.
#
#   bash bench/backup/outage.sh [METAGATE_BIN]        (or: ONLY=outage bash bench/backup/run.sh [BIN])
#
# env knobs (run.sh's WORK, RATE, READ_RATE, WORKERS, SIZE_GB, SHARED too):
#   INTERVAL=660     backup.interval in seconds: the daemon's scheduled snapshots are due at
#                    base + k * INTERVAL; each outage is placed around one of them
#   NORMAL=180       seconds of phase N (S3 up) per cycle
#   BEFORE=240       seconds of outage before the scheduled snapshot, AFTER=240 after it
#   CATCHUP_MAX=420  longest catch-up observed in the last cycle (earlier ones end 15 s before
#                    the next scheduled snapshot)
#   CYCLES=2         N/O/C cycles (cycle k uses every other scheduled snapshot)
#   BUDGET=2820      seconds for the whole run
#   RESULTS=bench/results/<UTC date>-issue6-catchup-latency.md (raw TSVs in $WORK/outage-out)
#   BIN_COMMIT=      the commit the binary was built from, for the report (found with git when
#                    the binary lies in a checkout)
#
# What it does:
#  1. s3rver (tests/support/s3rver.sh, npm) on a fresh data directory, bucket metagate-bench;
#  2. metagate (this binary) on a fresh copy of $WORK/seed.db (made by run.sh) with
#     backup.capture true, backup.interval INTERVAL, s3.endpoint = the s3rver, s3.path_style
#     true, s3.interval "10s" (other keys: defaults: segments sealed at 16 MiB or 1 min, zstd 3,
#     retention 24 hourly, pitr_window 24h, no bandwidth limit); waits for the capture
#     generation's base snapshot, then `sync`;
#  3. mgbackup outage (outage.go): starts the load, waits until the bucket is current (first full
#     upload), then CYCLES times: N, outage (s3rver killed; the scheduled snapshot inside it),
#     catch-up (s3rver started again on the same port and data) — see outage.go's header.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
bin=${1:-$repo/build/bin/metagate}
WORK=${WORK:-/tmp/metagate-backup-bench}
SIZE_GB=${SIZE_GB:-1.1}
RATE=${RATE:-20}; READ_RATE=${READ_RATE:-10}; WORKERS=${WORKERS:-8}
INTERVAL=${INTERVAL:-660}; NORMAL=${NORMAL:-180}; BEFORE=${BEFORE:-240}; AFTER=${AFTER:-240}
CATCHUP_MAX=${CATCHUP_MAX:-420}; CYCLES=${CYCLES:-2}; BUDGET=${BUDGET:-2820}
RESULTS=${RESULTS:-$repo/bench/results/$(date -u +%F)-issue6-catchup-latency.md}
start_ts=$(date +%s)
left() { echo $(( BUDGET - ($(date +%s) - start_ts) )); }
cmdline="WORK=$WORK RATE=$RATE READ_RATE=$READ_RATE WORKERS=$WORKERS INTERVAL=$INTERVAL NORMAL=$NORMAL BEFORE=$BEFORE AFTER=$AFTER CATCHUP_MAX=$CATCHUP_MAX CYCLES=$CYCLES BUDGET=$BUDGET bash bench/backup/outage.sh $*"

[ -x "$bin" ] || { echo "metagate binary $bin not found (cmake --build --preset release --target metagate)"; exit 1; }
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
[ -f "$WORK/seed.db" ] || { echo "no seed database $WORK/seed.db: run bash bench/backup/run.sh once (it generates and caches it)"; exit 1; }
[ "$(cat "$WORK/seed.size" 2>/dev/null)" = "$SIZE_GB" ] || echo "note: $WORK/seed.db was made for SIZE_GB=$(cat "$WORK/seed.size" 2>/dev/null), not $SIZE_GB; using it"
command -v go >/dev/null || { echo "go not found"; exit 1; }
# shellcheck source=../../tests/support/s3rver.sh
source "$repo/tests/support/s3rver.sh"
s3rver_find || exit 1
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
out=$WORK/outage-out
rm -rf "$out" "$WORK/outage-data" "$WORK/outage-backups" "$WORK/s3"
mkdir -p "$out" "$WORK/outage-data" "$WORK/s3"
free_kb=$(df -Pk "$WORK" | awk 'NR==2{print $4}')
[ "$free_kb" -ge $((6*1024*1024)) ] || { echo "not enough free space in $WORK (need 6 GiB)"; exit 1; }

# --- the client (as run.sh builds it).
pkg=$WORK/gopath/src/mgbackup
rm -rf "$pkg"; mkdir -p "$pkg"
cp "$here"/*.go "$repo/tests/differential/mgdiff/corpus.go" "$pkg/"
if ! (cd "$pkg" && GO111MODULE=off GOPATH="$WORK/gopath:/usr/share/gocode" GOCACHE="$WORK/gocache" GOFLAGS= \
      timeout 300 go build -o "$WORK/mgbackup" .); then
  echo "client build failed"; exit 1
fi
mgb=$WORK/mgbackup

daemon_pid=""
s3pidfile=$WORK/s3/restarted.pid
cleanup() {
  if [ -n "$daemon_pid" ]; then
    kill -TERM "$daemon_pid" 2>/dev/null
    for _ in $(seq 1 600); do kill -0 "$daemon_pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$daemon_pid" 2>/dev/null
  fi
  s3rver_stop
  if [ -s "$s3pidfile" ]; then
    local p; p=$(cat "$s3pidfile")
    kill -TERM "$p" 2>/dev/null; sleep 1; kill -KILL "$p" 2>/dev/null
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_port() { # PORT PID
  local i
  for i in $(seq 1 300); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
dsn() { echo "host=127.0.0.1 port=$1 user=grafana dbname=grafana sslmode=disable connect_timeout=30"; }

# --- 1. s3rver on a fixed port (a restart must come back on the same one).
bucket=metagate-bench
s3port=$(free_port)
s3rver_start "$WORK/s3/data" "$bucket" "$WORK/s3/s3rver.log" "$s3port" || { echo "s3rver did not start"; exit 1; }
echo "s3rver: 127.0.0.1:$s3port (pid $S3RVER_PID), data in $WORK/s3/data"

# --- 2. the daemon.
cp "$WORK/seed.db" "$WORK/outage-data/grafana.db"
seed_bytes=$(stat -c %s "$WORK/seed.db")
port=$(free_port); mport=$(free_port)
while [ "$mport" = "$port" ]; do mport=$(free_port); done
cfg=$WORK/outage.json
cat >"$cfg" <<EOF
{
  "listen": "127.0.0.1:$port",
  "databases": {"*": {"path": "$WORK/outage-data/grafana.db"}},
  "metrics": {"listen": "127.0.0.1:$mport"},
  "backup": {"dir": "$WORK/outage-backups", "interval": "${INTERVAL}s", "capture": true},
  "s3": {"endpoint": "http://127.0.0.1:$s3port", "bucket": "$bucket", "prefix": "metagate", "region": "us-east-1",
         "path_style": true, "interval": "10s", "access_key_id": "S3RVER", "secret_access_key": "S3RVER"},
  "log": {"level": "info", "slow_statement_ms": 1000}
}
EOF
"$bin" check-config "$cfg" >/dev/null || { echo "bad config $cfg"; exit 1; }
: >"$WORK/outage.log"
"$bin" serve --config "$cfg" >>"$WORK/outage.log" 2>&1 &
daemon_pid=$!
wait_port "$port" "$daemon_pid" || { echo "metagate did not start; log tail:"; tail -20 "$WORK/outage.log"; exit 1; }
counts=$(timeout 120 "$mgb" ping --dsn "$(dsn "$port")") || { echo "metagate does not answer"; exit 1; }
echo "metagate 127.0.0.1:$port, metrics :$mport; $counts"
bdir=$WORK/outage-backups/grafana
echo "waiting for the capture generation's base snapshot"
wait_start=$(date +%s)
until grep -qs '"generation"' "$bdir"/*.json && ! compgen -G "$bdir/.tmp-*" >/dev/null; do
  [ $(( $(date +%s) - wait_start )) -lt 600 ] || { echo "no base snapshot after 10 minutes; giving up"; exit 1; }
  kill -0 "$daemon_pid" 2>/dev/null || { echo "metagate exited"; exit 1; }
  sleep 1
done
grep -h "backup of\|generation\|S3" "$WORK/outage.log" | tail -6
sync; sleep 3

# --- the report header.
bin_repo=$(cd "$(dirname "$bin")/../.." && pwd)
mkdir -p "$(dirname "$RESULTS")"
{
  echo "# Issue 6 (point 9): client latency during an S3 outage and the catch-up after it"
  echo
  echo "- date: $(date -u '+%F %T') UTC"
  echo "- command: \`$cmdline\`"
  echo "- machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(free -g | awk '/Mem:/{print $2}') GiB RAM (the database fits in the page cache), $(df -PT "$WORK" | awk 'NR==2{print $2}') on $(df -P "$WORK" | awk 'NR==2{print $1}'); shared with other work (load average at the start: $(cut -d' ' -f1-3 /proc/loadavg))"
  # A binary outside a checkout (copied so that src/ edits cannot touch it): BIN_COMMIT says which.
  built_from=${BIN_COMMIT:-$(git -C "$bin_repo" log -1 --format='%h %s' 2>/dev/null | cut -c1-90)$(git -C "$bin_repo" status --porcelain -- src include 2>/dev/null | grep -q . && echo ' (src/ modified)')}
  echo "- metagate: $bin, release build (RelWithDebInfo -O2) of ${built_from:-an unknown commit (not in a git checkout; set BIN_COMMIT)}"
  echo "- database: $seed_bytes bytes ($(python3 -c "print(round($seed_bytes/2**30,2))") GiB) copied from $WORK/seed.db, $counts"
  echo "- S3: s3rver $(node -e "console.log(require('$(dirname "$(readlink -f "$S3RVER")")/../package.json').version)" 2>/dev/null) (npm) on 127.0.0.1, same machine (its CPU competes with metagate's; no network latency or bandwidth limit); an outage = the process killed (connections refused at once, not a hanging network)"
  echo "- daemon: \`backup.capture: true, backup.interval: \"${INTERVAL}s\", s3.interval: \"10s\", s3.path_style: true\`, everything else default (segments sealed at 16 MiB or 1 min, zstd 3, retention 24 hourly, pitr_window 24h, no s3.bandwidth_limit)"
  echo
} >"$RESULTS"

timeout "$(left)" "$mgb" outage --dsn "$(dsn "$port")" --metrics "http://127.0.0.1:$mport/metrics" --backup-dir "$bdir" \
  --root metagate/grafana --s3rver "$S3RVER" --s3rver-node-options "$S3RVER_NODE_OPTIONS" --s3rver-dir "$WORK/s3/data" \
  --bucket "$bucket" --s3rver-port "$s3port" --s3rver-pid "$S3RVER_PID" --s3rver-log "$WORK/s3/s3rver.log" --s3rver-pidfile "$s3pidfile" \
  --interval "$INTERVAL" --normal "$NORMAL" --before "$BEFORE" --after "$AFTER" --catchup-max "$CATCHUP_MAX" --cycles "$CYCLES" \
  --rate "$RATE" --read-rate "$READ_RATE" --workers "$WORKERS" --budget "$(( $(left) - 90 ))" --raw "$out/" | tee -a "$RESULTS"
rc=${PIPESTATUS[0]}
[ "$rc" = 0 ] || echo "outage experiment failed (rc $rc)"
S3RVER_PID=""   # the first s3rver was stopped by the experiment; the restarted one is in $s3pidfile
{
  echo "Snapshots kept locally afterwards (\`metagate backup list\`):"
  echo
  echo '```'
  "$bin" backup list --config "$cfg" 2>&1
  echo '```'
  echo
  echo "The bucket afterwards (awscli, independent of metagate): $(S3RVER_PORT=$s3port awscli s3 ls --recursive "s3://$bucket/" 2>/dev/null | awk '{n++; b+=$3} /snapshots\/.*\.db\.zst/{s++} /\/wal\//{w++} END{printf "%d objects, %.1f MB: %d snapshot files, %d segment objects", n, b/1e6, s, w}')"
  echo
  echo "The daemon's log (backups, S3, catch-up deltas):"
  echo
  echo '```'
  grep -E "backup of|S3|replica|generation|slow" "$WORK/outage.log" | cut -c1-260 | tail -60
  echo '```'
} >>"$RESULTS"
kill -0 "$daemon_pid" 2>/dev/null || { echo "metagate exited during the run"; rc=1; }
echo "results: $RESULTS (raw TSVs in $out)"
exit "$rc"
