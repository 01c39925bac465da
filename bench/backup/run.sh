#!/usr/bin/env bash
# Issue 6, point 9 (first half): hourly backups of a >= 1 GB Grafana-shaped database under a
# steady Grafana-like write load — how long a snapshot takes, the write latency p50/p99 while
# it runs vs without — and the per-commit cost of the change capture (backup.capture true vs
# false). 2 shared cores: compare ratios, phases are interleaved and repeated.
#
#   bash bench/backup/run.sh [METAGATE_BIN]      (default build/bin/metagate, the release build)
#
# env knobs:
#   WORK=/tmp/metagate-backup-bench   scratch directory (the cached seed database lives here)
#   SIZE_GB=1.1      seed size target, file + WAL, in 10^9 bytes; the seed is generated once and
#                    cached as $WORK/seed.db (regenerated only when missing or SIZE_GB changed)
#   RATE=20          writes/s (open loop; mix in load.go: dashboard saves 10 %, annotations
#                    30 %, last_seen_at 30 %, alert instance upserts 20 %, token rotations 10 %)
#   READ_RATE=10     reads/s on top (dashboard by uid, annotations, session token lookups)
#   WORKERS=8        client connections
#   DURATION=60      measured seconds per capture phase; also the first quiet window of the
#                    backup experiment (later quiet windows last as long as the previous backup)
#   REPEATS=3        backups in the backup experiment; phases per side in the capture one
#   AFTER=20         seconds observed after each backup (held-back checkpoint, writeback)
#   ONLY=all         backup | capture | all | outage (outage: after the seed step, bench/backup/outage.sh
#                    runs instead: S3 outage and catch-up, issue 6 point 9 "client latency during
#                    catch-up"; its own knobs and results file, see its header)
#   BUDGET=7200      seconds the whole run may take (each step is time-bounded as well)
#   RESULTS=bench/results/<UTC date>-issue6-backup-latency.md   (the tables; raw TSVs in $WORK/out)
#   SHARED=/work/shared   (grafana/migrations-grafana11.0.0-iqbal.sql)
#
# What it does:
#  1. Seed (once): metagate (backup.interval "off") on $WORK/data/grafana.db; Grafana v11's schema
#     by replaying the migration corpus as Grafana's migrator does; then orgs, users, tokens,
#     teams, data sources, API keys, folders, alert rules (+versions, instances), and dashboards
#     with 10–200 KB JSON, 2–10 versions each, tags, stars and 100 annotations each, in multi-row
#     INSERTs inside transactions (lib/pq), until the file reaches SIZE_GB; clean stop (WAL
#     checkpointed), kept as $WORK/seed.db.
#  2. Two daemons on two fresh copies: A ($WORK/data/grafana.db, backup.capture true,
#     backup.interval "24h") and B ($WORK/data-nocap/grafana.db, capture false, "24h"). Each
#     takes one snapshot when it opens the file (A: the base of its capture generation; B: none
#     on disk yet); the run waits for both, so no scheduled snapshot falls into a measurement.
#  3. backup experiment on A: continuous load; quiet window, `metagate backup now --config A`,
#     "after" window; REPEATS times (mgbackup backup, experiments.go).
#  4. capture experiment: the same load against A and B in turn, ABBA order (mgbackup capture).
# The client (bench/backup/*.go + tests/differential/mgdiff/corpus.go) is built with Debian's Go
# in GOPATH mode against /usr/share/gocode (lib/pq), offline.
# bench/backup/copy_sync_probe.py (separate, not run here) isolates the cause of the write stall
# at the end of the snapshot's copy phase (see its docstring and the results file).
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
bin=${1:-$repo/build/bin/metagate}
WORK=${WORK:-/tmp/metagate-backup-bench}
SIZE_GB=${SIZE_GB:-1.1}
RATE=${RATE:-20}; READ_RATE=${READ_RATE:-10}; WORKERS=${WORKERS:-8}
DURATION=${DURATION:-60}; REPEATS=${REPEATS:-3}; AFTER=${AFTER:-20}
ONLY=${ONLY:-all}; BUDGET=${BUDGET:-7200}
SHARED=${SHARED:-/work/shared}
RESULTS=${RESULTS:-$repo/bench/results/$(date -u +%F)-issue6-backup-latency.md}
corpus=$SHARED/grafana/migrations-grafana11.0.0-iqbal.sql
start_ts=$(date +%s)
left() { echo $(( BUDGET - ($(date +%s) - start_ts) )); }

cmdline="WORK=$WORK SIZE_GB=$SIZE_GB RATE=$RATE READ_RATE=$READ_RATE WORKERS=$WORKERS DURATION=$DURATION REPEATS=$REPEATS AFTER=$AFTER ONLY=$ONLY bash bench/backup/run.sh $*"
[ -x "$bin" ] || { echo "metagate binary $bin not found (cmake --build --preset release --target metagate)"; exit 1; }
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
[ -f "$corpus" ] || { echo "missing $corpus"; exit 1; }
command -v go >/dev/null || { echo "go not found"; exit 1; }
command -v python3 >/dev/null || { echo "python3 not found (free ports)"; exit 1; }
mkdir -p "$WORK/out"
WORK=$(cd "$WORK" && pwd)
size_bytes=$(python3 -c "print(int(float('$SIZE_GB')*1e9))")
free_kb=$(df -Pk "$WORK" | awk 'NR==2{print $4}')
need_kb=$(( size_bytes / 1024 * 5 + 2*1024*1024 ))
[ "$free_kb" -ge "$need_kb" ] || { echo "not enough free space in $WORK: $((free_kb/1024)) MiB, need $((need_kb/1024)) MiB"; exit 1; }

# --- the client.
pkg=$WORK/gopath/src/mgbackup
rm -rf "$pkg"; mkdir -p "$pkg"
cp "$here"/*.go "$repo/tests/differential/mgdiff/corpus.go" "$pkg/"
if ! (cd "$pkg" && GO111MODULE=off GOPATH="$WORK/gopath:/usr/share/gocode" GOCACHE="$WORK/gocache" GOFLAGS= \
      timeout 300 go build -o "$WORK/mgbackup" .); then
  echo "client build failed"; exit 1
fi
mgb=$WORK/mgbackup

# --- daemons: every one started here is stopped on exit.
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do
    kill -TERM "$p" 2>/dev/null
  done
  for p in "${pids[@]}"; do
    for _ in $(seq 1 600); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$p" 2>/dev/null
  done
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
# start_daemon NAME DBFILE INTERVAL CAPTURE BACKUPDIR: sets <NAME>_PORT, _MPORT, _PID, _CFG.
start_daemon() {
  local name=$1 db=$2 interval=$3 capture=$4 bdir=$5 port mport cfg pid
  port=$(free_port); mport=$(free_port)
  while [ "$mport" = "$port" ]; do mport=$(free_port); done
  cfg=$WORK/$name.json
  cat >"$cfg" <<EOF
{
  "listen": "127.0.0.1:$port",
  "databases": {"*": {"path": "$db"}},
  "metrics": {"listen": "127.0.0.1:$mport"},
  "backup": {"dir": "$bdir", "interval": "$interval", "capture": $capture},
  "log": {"level": "info", "slow_statement_ms": 1000}
}
EOF
  "$bin" check-config "$cfg" >/dev/null || { echo "bad config $cfg"; return 1; }
  "$bin" serve --config "$cfg" >>"$WORK/$name.log" 2>&1 &
  pid=$!
  pids+=("$pid")
  wait_port "$port" "$pid" || { echo "metagate $name did not start; log tail:"; tail -20 "$WORK/$name.log"; return 1; }
  printf -v "${name}_PORT" %s "$port"; printf -v "${name}_MPORT" %s "$mport"
  printf -v "${name}_PID" %s "$pid"; printf -v "${name}_CFG" %s "$cfg"
}
stop_daemon() { # PID: SIGTERM, wait for the clean stop (checkpoint), at most 5 minutes
  local p=$1
  kill -TERM "$p" 2>/dev/null
  for _ in $(seq 1 1500); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.2; done
  echo "daemon $p did not stop within 5 minutes; killing it"; kill -KILL "$p"; return 1
}
dsn() { echo "host=127.0.0.1 port=$1 user=grafana dbname=grafana sslmode=disable connect_timeout=30"; }

# --- 1. the seed database (cached).
if [ ! -f "$WORK/seed.db" ] || [ "$(cat "$WORK/seed.size" 2>/dev/null)" != "$SIZE_GB" ]; then
  echo "== seed: generating a ${SIZE_GB} GB Grafana-shaped database (minutes)"
  rm -rf "$WORK/data" "$WORK/seed.db" "$WORK/seed.info" "$WORK/seed.size"; mkdir -p "$WORK/data"
  : >"$WORK/setup.log"
  start_daemon setup "$WORK/data/grafana.db" off false "$WORK/backups-setup" || exit 1
  timeout 600 "$mgb" schema --dsn "$(dsn "$setup_PORT")" --corpus "$corpus" | tee -a "$WORK/seed.info" || { echo "schema replay failed"; exit 1; }
  timeout "$(left)" "$mgb" seed --dsn "$(dsn "$setup_PORT")" --db-file "$WORK/data/grafana.db" --bytes "$size_bytes" | tee -a "$WORK/seed.info"
  [ "${PIPESTATUS[0]}" = 0 ] || { echo "seed failed; log tail:"; tail -20 "$WORK/setup.log"; exit 1; }
  stop_daemon "$setup_PID" || exit 1
  if [ -s "$WORK/data/grafana.db-wal" ]; then echo "the WAL was not checkpointed at the clean stop"; exit 1; fi
  mv "$WORK/data/grafana.db" "$WORK/seed.db"
  rm -f "$WORK/data/grafana.db-wal" "$WORK/data/grafana.db-shm"
  echo "$SIZE_GB" >"$WORK/seed.size"
fi
seed_bytes=$(stat -c %s "$WORK/seed.db")
echo "seed: $WORK/seed.db, $seed_bytes bytes"
if [ "$ONLY" = outage ]; then
  trap - EXIT
  exec env WORK="$WORK" SIZE_GB="$SIZE_GB" RATE="$RATE" READ_RATE="$READ_RATE" WORKERS="$WORKERS" bash "$here/outage.sh" "$bin"
fi

# --- 2. two daemons on fresh copies.
rm -rf "$WORK/data" "$WORK/data-nocap" "$WORK/backups-a" "$WORK/backups-b" "$WORK"/out/*
mkdir -p "$WORK/data" "$WORK/data-nocap"
cp "$WORK/seed.db" "$WORK/data/grafana.db"; cp "$WORK/seed.db" "$WORK/data-nocap/grafana.db"
: >"$WORK/A.log"; : >"$WORK/B.log"
start_daemon A "$WORK/data/grafana.db" 24h true "$WORK/backups-a" || exit 1
start_daemon B "$WORK/data-nocap/grafana.db" 24h false "$WORK/backups-b" || exit 1
echo "A (capture on):  127.0.0.1:$A_PORT metrics :$A_MPORT   B (capture off): 127.0.0.1:$B_PORT metrics :$B_MPORT"
counts=$(timeout 120 "$mgb" ping --dsn "$(dsn "$A_PORT")") || { echo "A does not answer"; exit 1; }
timeout 120 "$mgb" ping --dsn "$(dsn "$B_PORT")" >/dev/null || { echo "B does not answer"; exit 1; }
echo "data: $counts"
# A's scheduler may take a first snapshot before the capture generation exists, then the
# generation's base: wait until a manifest with a "generation" is there and no snapshot runs.
echo "waiting for the start-up snapshots (A: its capture generation's base; B: its first snapshot)"
timeout 1200 "$mgb" wait --metrics "http://127.0.0.1:$B_MPORT/metrics" --name metagate_backup_successes_total --timeout 1100 >/dev/null || exit 1
until grep -qs '"generation"' "$WORK"/backups-a/grafana/*.json && ! compgen -G "$WORK/backups-a/grafana/.tmp-*" >/dev/null \
      && ! compgen -G "$WORK/backups-b/grafana/.tmp-*" >/dev/null; do
  [ "$(left)" -gt 600 ] || { echo "no base snapshot of A's capture generation yet; giving up"; exit 1; }
  kill -0 "$A_PID" 2>/dev/null || { echo "A exited"; exit 1; }
  sleep 1
done
grep -h "backup of\|generation" "$WORK/A.log" "$WORK/B.log" | tail -5
# What the copies and the start-up snapshots left dirty in the page cache goes to disk now, not
# during a measurement.
sync; sleep 5

# --- the report header.
mkdir -p "$(dirname "$RESULTS")"
{
  echo "# Issue 6 (point 9, first half): backups and change capture under a Grafana-like write load"
  echo
  echo "- date: $(date -u '+%F %T') UTC"
  echo "- command: \`$cmdline\`"
  echo "- machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(free -g | awk '/Mem:/{print $2}') GiB RAM (the database fits in the page cache), $(df -PT "$WORK" | awk 'NR==2{print $2}') on $(df -P "$WORK" | awk 'NR==2{print $1}'); shared with other work"
  bin_time=$(date -u -r "$bin" '+%F %T')
  echo "- metagate: $bin, release build of $bin_time UTC (newest commit before it: $(git -C "$repo" log -1 --before="$bin_time UTC" --format='%h %s' 2>/dev/null | cut -c1-80); HEAD now $(git -C "$repo" log -1 --format=%h 2>/dev/null)$(git -C "$repo" status --porcelain -- src include 2>/dev/null | grep -q . && echo ', src/ has uncommitted changes now'))"
  echo "- database: $seed_bytes bytes ($(python3 -c "print(round($seed_bytes/2**30,2))") GiB), $counts"
  echo "- daemons: A = \`backup.capture: true, backup.interval: \"24h\"\`, B = \`capture: false, \"24h\"\`; sqlite defaults (synchronous full, group commit, checkpoint at 64 MiB of WAL), zstd level 3"
  echo
  echo "Seed generation:"
  echo
  echo '```'
  cat "$WORK/seed.info" 2>/dev/null
  echo '```'
  echo
} >"$RESULTS"

rc=0
if [ "$ONLY" = all ] || [ "$ONLY" = backup ]; then
  echo "== backup experiment (REPEATS=$REPEATS)"
  timeout "$(left)" "$mgb" backup --dsn "$(dsn "$A_PORT")" --metrics "http://127.0.0.1:$A_MPORT/metrics" \
    --metagate "$bin" --config "$A_CFG" --backup-dir "$WORK/backups-a/grafana" \
    --rate "$RATE" --read-rate "$READ_RATE" --workers "$WORKERS" --reps "$REPEATS" --quiet "$DURATION" --after "$AFTER" \
    --budget "$(( $(left) - 60 ))" --raw "$WORK/out/backup-" | tee -a "$RESULTS"
  [ "${PIPESTATUS[0]}" = 0 ] || { echo "backup experiment failed"; rc=1; }
fi
if [ "$ONLY" = all ] || [ "$ONLY" = capture ]; then
  echo "== capture experiment (REPEATS=$REPEATS, DURATION=$DURATION)"
  timeout "$(left)" "$mgb" capture --dsn-on "$(dsn "$A_PORT")" --dsn-off "$(dsn "$B_PORT")" \
    --metrics-on "http://127.0.0.1:$A_MPORT/metrics" --metrics-off "http://127.0.0.1:$B_MPORT/metrics" \
    --rate "$RATE" --read-rate "$READ_RATE" --workers "$WORKERS" --reps "$REPEATS" --duration "$DURATION" \
    --budget "$(( $(left) - 60 ))" --raw "$WORK/out/" | tee -a "$RESULTS"
  [ "${PIPESTATUS[0]}" = 0 ] || { echo "capture experiment failed"; rc=1; }
fi
{
  echo "Snapshots of A afterwards (\`metagate backup list\`):"
  echo
  echo '```'
  "$bin" backup list --config "$A_CFG" 2>&1
  echo '```'
  echo
  echo "A's log (backup and capture lines):"
  echo
  echo '```'
  grep -E "backup of|change capture|checkpoint|slow|duration:" "$WORK/A.log" | tail -30
  echo '```'
} >>"$RESULTS"
for p in "$A_PID" "$B_PID"; do
  kill -0 "$p" 2>/dev/null || { echo "a daemon exited during the run"; rc=1; }
done
echo "results: $RESULTS (raw TSVs in $WORK/out)"
exit $rc
