#!/usr/bin/env bash
# Backups of the SQLite store, end to end with the real daemon, psql and sqlite3:
#
#   A  scheduled snapshots (backup.interval 2s) while psql writes; retention keeps them bounded;
#      the backup metrics
#   B  `metagate backup now` while the daemon serves and a client writes: it goes through the
#      daemon's admin console (BACKUP: the daemon's backup thread takes the snapshot); --database;
#      an unknown database; `backup list`, `backup verify`
#   C  `metagate restore` to a new file: the rows of the snapshot's moment, integrity ok;
#      --to-time picks an older snapshot; an existing output is never overwritten
#   D  `restore --force` refuses while the daemon has the file open; with the daemon stopped it
#      replaces the live file (its old WAL removed), and the restarted daemon serves the restored rows
#   E  kill -9 of `metagate backup now` in the middle of a snapshot (no daemon: taken in its own
#      process): no snapshot is listed for it, the next one succeeds, verify passes
#   F  a damaged snapshot file fails `backup verify` (exit 1, XX001 message); restore refuses it
#   G  a damaged live file: the daemon refuses it at open (quick_check) with FATAL XX001 and the
#      restore command as the hint, stays up, and serves the file restored meanwhile
#   H  change capture: a generation's base snapshot at start, commits captured into segments
#      (metrics), kill -9 under a write load, the restart recovers what the WAL held and the
#      generation continues; restore of the newest point equals the live file row for row, and
#      --to-time between two batches of commits has the first batch and nothing of the second;
#      `backup now` through the daemon gives a snapshot with the capture position (generation)
#   I  S3 (s3rver): the daemon ships snapshots and segments to the bucket, encrypted (metrics say
#      when it is current), awscli lists them; `backup now` returns once its snapshot is in the
#      bucket; the endpoint goes down (writes go on, /readyz green, errors counted, `backup now`
#      returns at once: upload pending) and comes back (the bucket catches up, the pending snapshot
#      too); with the local backups and the database gone,
#      restore --from s3 rebuilds the file row for row, --to-time works from the bucket too, and
#      another key is refused
#
#   run.sh --metagate BIN --work DIR
#
# Everything runs in a temporary directory (removed at exit); ports are picked by the kernel.
# The output ends with "N passed, M failed"; the exit status is non-zero on any failure.
set -u -o pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)
source "$repo/tests/support/pg.sh"
source "$repo/tests/support/daemon.sh"
source "$repo/tests/support/s3rver.sh"
metagate_test_args "$@"
PSQL=${PG_BINDIR:-/usr/lib/postgresql/15/bin}/psql
for tool in "$PSQL" sqlite3 curl; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool not found"; echo "0 passed, 1 failed"; exit 1; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mgbackup.XXXXXX") || exit 2
daemons=()
cleanup() {
  s3rver_stop
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
# all 'COND' 'COND' ...: every condition holds (each is evaluated when the check runs).
all() { local c; for c in "$@"; do eval "$c" || return 1; done; }

db=$tmp/grafana.db
bk=$tmp/backups
cfg=$tmp/metagate.json
cat >"$cfg" <<JSON
{
  "listen": "127.0.0.1:0",
  "metrics": {"listen": "127.0.0.1:0"},
  "databases": {"grafana": {"path": "$db"}},
  "backup": {"dir": "$bk", "interval": "2s", "retention": {"hourly": 3, "daily": 0, "weekly": 0},
             "min_free_space": "0"}
}
JSON
log=$work/daemon.log
: >"$log"

# start_daemon (tests/support/daemon.sh): sets D_PID D_PORT D_MPORT.
stop_daemon() {
  kill "$D_PID" 2>/dev/null
  local i
  for i in $(seq 1 100); do kill -0 "$D_PID" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$D_PID" 2>/dev/null
  wait "$D_PID" 2>/dev/null
}
sql() { PGCONNECT_TIMEOUT=10 "$PSQL" -X -qAt -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$D_PORT" -U grafana -d grafana -c "$1"; }
mg() { "$metagate" "$@" --config "$cfg"; }
# backup now with the running daemon's port (the configs listen on port 0: the kernel picks it).
mgnow() { timeout 300 "$metagate" backup now --config "$cfg" --port "$D_PORT" "$@"; }
snap_count() { ls "$bk/grafana/"*.json 2>/dev/null | wc -l; }
metric() { curl -s "http://127.0.0.1:$D_MPORT/metrics" | grep -E "^$1[{ ]" | head -1 | awk '{print $NF}'; }

echo "== A: scheduled snapshots"
start_daemon || { echo "0 passed, 1 failed"; exit 1; }
sql "CREATE TABLE dashboard (id SERIAL PRIMARY KEY, title TEXT NOT NULL, data TEXT)" >/dev/null
python3 -c "print('INSERT INTO dashboard (title, data) VALUES ' + ', '.join(\"('d%d', '%s')\" % (i, 'x' * 500) for i in range(2000)) + ';')" >"$tmp/rows.sql"
PGCONNECT_TIMEOUT=10 "$PSQL" -X -qAt -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$D_PORT" -U grafana -d grafana -f "$tmp/rows.sql" >/dev/null
check "A: 2000 rows inserted through metagate" [ "$(sql "SELECT count(*) FROM dashboard")" = 2000 ]
# Wait for two scheduled snapshots after the insert (at most 15 s).
shots() { grep -c "backup of $db: snapshot" "$log"; }
n0=$(shots) got=0
for i in $(seq 1 150); do
  if [ "$(shots)" -ge $((n0 + 2)) ]; then got=1; break; fi
  sleep 0.1
done
check "A: the daemon took scheduled snapshots (2 s interval): $(shots) so far" [ "$got" = 1 ]
newest=$(ls "$bk/grafana/"*.db.zst | tail -1)
mg restore --from local --output "$tmp/a.db" >/dev/null 2>&1
check "A: the newest scheduled snapshot has the 2000 rows" [ "$(sqlite3 "$tmp/a.db" "SELECT count(*) FROM dashboard" 2>&1)" = 2000 ]
sleep 5  # more intervals: retention (hourly 3 -> one per hour bucket) keeps them few
n=$(snap_count)
check "A: retention keeps the newest of each hour only ($n snapshot(s) within one or two clock hours)" all '[ "$n" -ge 1 ]' '[ "$n" -le 2 ]'
succ=$(metric 'metagate_backup_successes_total')
check "A: metagate_backup_successes_total counts them (${succ:-none})" [ "${succ:-0}" -ge 3 ] 2>/dev/null
last=$(metric 'metagate_backup_last_success_timestamp_seconds')
check "A: metagate_backup_last_success_timestamp_seconds is recent ($last)" \
  python3 -c "import sys,time; sys.exit(0 if abs(time.time() - float('${last:-0}')) < 30 else 1)"
check "A: the daemon logs its snapshots" grep -q "backup of $db: snapshot" "$log"

echo "== B: backup now through the daemon while a client writes"
# The scheduled ones stop (interval off) so that B..D see only what they take; the daemon serves on.
stop_daemon
python3 - "$cfg" <<'PY'
import json, sys
p = sys.argv[1]; c = json.load(open(p)); c["backup"]["interval"] = "off"; c["backup"]["retention"] = {"last": 100, "hourly": 0, "daily": 0, "weekly": 0}
json.dump(c, open(p, "w"), indent=2)
PY
rm -rf "$bk"
start_daemon || { echo "$pass passed, $((fail + 1)) failed"; exit 1; }
( for i in $(seq 1 400); do sql "INSERT INTO dashboard (title) VALUES ('w$i')" >/dev/null 2>&1 || break; done ) &
writer=$!
sleep 0.5
before=$(sql "SELECT count(*) FROM dashboard")
out=$(mgnow 2>&1); rc=$?
after=$(sql "SELECT count(*) FROM dashboard")
wait $writer
check "B: backup now exits 0 while the daemon serves and a client writes ($out)" [ $rc = 0 ]
check "B: ... through the daemon's admin console, which says S3 is not configured" \
  all 'grep -q "backing up through the running metagate at 127.0.0.1:$D_PORT" <<<"$out"' 'grep -q "S3: not configured" <<<"$out"'
check "B: ... the daemon took the snapshot (its log: reason manual)" grep -q "backup of $db: snapshot [^ ]* (manual" "$log"
check "B: the client kept writing meanwhile ($before -> $after rows)" [ "$after" -gt "$before" ]
list=$(mg backup list 2>&1)
check "B: backup list shows the snapshot ($(tail -1 <<<"$list"))" all 'grep -q "1 snapshot(s)" <<<"$list"' 'grep -q " manual" <<<"$list"'
out=$(mgnow --database nosuch 2>&1); rc=$?
check "B: backup now --database of an unknown name fails (exit $rc: $(tr '\n' ' ' <<<"$out"))" \
  all '[ $rc = 1 ]' 'grep -q "3D000" <<<"$out"' '[ "$(snap_count)" = 1 ]' 
vout=$(mg backup verify 2>&1); rc=$?
check "B: backup verify: ok ($vout)" [ $rc = 0 ]

echo "== C: restore to a new file"
mg restore --from local --output "$tmp/r1.db" >"$tmp/r1.out" 2>&1; rc=$?
check "C: restore exits 0 ($(cat "$tmp/r1.out"))" [ $rc = 0 ]
rows=$(sqlite3 "$tmp/r1.db" "SELECT count(*) FROM dashboard" 2>&1)
check "C: the restored file has the rows of the snapshot's moment ($before <= $rows <= $after)" \
  all '[ "$rows" -ge "$before" ]' '[ "$rows" -le "$after" ]'
check "C: integrity_check of the restored file: ok" [ "$(sqlite3 "$tmp/r1.db" 'PRAGMA integrity_check')" = ok ]
sleep 1.1
sql "INSERT INTO dashboard (title) VALUES ('after-first-snapshot')" >/dev/null
out=$(mgnow --database grafana 2>&1); rc=$?
check "C: backup now --database grafana through the daemon ($out)" all '[ $rc = 0 ]' 'grep -q "BACKUP \"grafana\"" <<<"$out"'

first_id=$(ls "$bk/grafana/"*.json | head -1 | xargs basename | sed 's/\.json$//')
# --to-time just after the first snapshot (its id is its UTC time): that one, not the newer.
to=$(python3 -c "import datetime as d; t=d.datetime.strptime('$first_id','%Y%m%dT%H%M%S.%fZ'); print((t+d.timedelta(seconds=0.5)).strftime('%Y-%m-%dT%H:%M:%SZ'))")
mg restore --from local --to-time "$to" --output "$tmp/r2.db" >/dev/null 2>&1
r2=$(sqlite3 "$tmp/r2.db" "SELECT count(*) FROM dashboard WHERE title = 'after-first-snapshot'" 2>&1)
mg restore --from local --output "$tmp/r3.db" >/dev/null 2>&1
r3=$(sqlite3 "$tmp/r3.db" "SELECT count(*) FROM dashboard WHERE title = 'after-first-snapshot'" 2>&1)
check "C: --to-time $to restores the older snapshot (row absent: $r2), the newest has it ($r3)" all '[ "$r2" = 0 ]' '[ "$r3" = 1 ]'
echo precious >"$tmp/exists.db"
mg restore --from local --output "$tmp/exists.db" >"$tmp/ex.out" 2>&1; rc=$?
check "C: an existing output is not overwritten (exit $rc: $(cat "$tmp/ex.out"))" all '[ $rc != 0 ]' '[ "$(cat "$tmp/exists.db")" = precious ]'

echo "== D: restore --force onto the live file"
mg restore --from local --output "$db" --force >"$tmp/f.out" 2>&1; rc=$?
check "D: --force is refused while the daemon has the file open ($(cat "$tmp/f.out"))" all '[ $rc != 0 ]' 'grep -q "is open in process" "$tmp/f.out"'
sql "INSERT INTO dashboard (title) VALUES ('lost-by-restore')" >/dev/null
stop_daemon
mg restore --from local --output "$db" --force >"$tmp/f2.out" 2>&1; rc=$?
check "D: with the daemon stopped --force replaces the live file ($(cat "$tmp/f2.out"))" [ $rc = 0 ]
check "D: the old WAL is gone" [ ! -e "$db-wal" ]
start_daemon || { echo "$pass passed, $((fail + 1)) failed"; exit 1; }
d1=$(sql "SELECT count(*) FROM dashboard WHERE title = 'after-first-snapshot'")
d2=$(sql "SELECT count(*) FROM dashboard WHERE title = 'lost-by-restore'")
check "D: the restarted daemon serves the restored rows (marker row: $d1, later row: $d2)" all '[ "$d1" = 1 ]' '[ "$d2" = 0 ]'
stop_daemon

echo "== E: kill -9 in the middle of a snapshot"
# A bigger file so that the snapshot takes a while (~40 MB).
sqlite3 "$db" "CREATE TABLE blob (id INTEGER PRIMARY KEY, b BLOB); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 10000) INSERT INTO blob SELECT i, randomblob(4000) FROM n;"
count0=$(snap_count)
"$metagate" backup now --config "$cfg" >/dev/null 2>&1 &
bp=$!
sleep 0.15
kill -9 $bp 2>/dev/null; wait $bp 2>/dev/null
count1=$(snap_count)
list=$(mg backup list 2>&1)
check "E: the killed snapshot is not listed as one ($count0 -> $count1 complete)" [ "$count1" -le $((count0 + 1)) ]
mg backup now >/dev/null 2>&1; rc=$?
check "E: the next snapshot succeeds" all '[ $rc = 0 ]' '[ "$(snap_count)" -ge $((count1 + 1)) ]'
mg backup verify >"$tmp/v.out" 2>&1; rc=$?
check "E: every listed snapshot verifies ($(grep -c ': ok' "$tmp/v.out") ok)" [ $rc = 0 ]

echo "== F: a damaged snapshot"
victim=$(ls "$bk/grafana/"*.db.zst | tail -1)
python3 - "$victim" <<'PY'
import os, sys
p = sys.argv[1]; n = os.path.getsize(p)
with open(p, "r+b") as f:
    f.seek(n // 2); b = f.read(1); f.seek(n // 2); f.write(bytes([b[0] ^ 0x5a]))
PY
mg backup verify >"$tmp/v2.out" 2>&1; rc=$?
check "F: backup verify fails on the damaged file (exit $rc: $(grep FAILED "$tmp/v2.out" | head -1))" all '[ $rc = 1 ]' 'grep -q "FAILED" "$tmp/v2.out"'
id=$(basename "$victim" .db.zst)
mg restore --from local --id "$id" --output "$tmp/bad.db" >"$tmp/b.out" 2>&1; rc=$?
check "F: restore refuses it and writes nothing ($(cat "$tmp/b.out"))" all '[ $rc != 0 ]' '[ ! -e "$tmp/bad.db" ]'

echo "== G: a damaged live file is refused with the restore command"
out=$(mgnow 2>&1); rc=$?  # a good snapshot (F damaged the newest one); no daemon runs now
check "G: with no daemon, backup now takes the snapshot itself and says so ($(head -1 <<<"$out"))" \
  all '[ $rc = 0 ]' 'grep -q "no running metagate at 127.0.0.1:$D_PORT: backing up the file directly" <<<"$out"' 
python3 - "$db" <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(4096 + 8); f.write(b"\xff" * 200)   # page 2: a b-tree page header and cell pointers
PY
start_daemon || { echo "$pass passed, $((fail + 1)) failed"; exit 1; }
out=$(PGCONNECT_TIMEOUT=10 "$PSQL" -X -qAt -v VERBOSITY=verbose -h 127.0.0.1 -p "$D_PORT" -U grafana -d grafana -c "SELECT 1" 2>&1)
check "G: the client gets a FATAL naming the damage ($(head -1 <<<"$out"))" grep -q "FATAL:  SQLite database .* is damaged" <<<"$out"
# The SQLSTATE, from the ErrorResponse itself (psql does not print it for a failed connection).
code=$(python3 - "$D_PORT" <<'PY'
import socket, struct, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
body = struct.pack("!i", 196608) + b"user\0grafana\0database\0grafana\0\0"
s.sendall(struct.pack("!i", len(body) + 4) + body)
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk: break
    data += chunk
at = 0
while at + 5 <= len(data):
    t, n = data[at:at + 1], struct.unpack("!i", data[at + 1:at + 5])[0]
    if t == b"E":
        for field in data[at + 5:at + 1 + n].split(b"\0"):
            if field[:1] == b"C": print(field[1:].decode()); sys.exit(0)
    at += 1 + n
print("none")
PY
)
check "G: its SQLSTATE is XX001 (data_corrupted): $code" [ "$code" = XX001 ]
check "G: ... and the restore command as the hint" grep -q "HINT:.*metagate restore .*--force" <<<"$out"
check "G: the daemon stays up" kill -0 "$D_PID"
mg restore --from local --output "$db" --force >"$tmp/g.out" 2>&1; rc=$?
check "G: restore --force works while the daemon has not opened the damaged file ($(cat "$tmp/g.out"))" [ $rc = 0 ]
check "G: the next client is served from the restored file" [ "$(sql "SELECT count(*) FROM dashboard WHERE title = 'after-first-snapshot'")" = 1 ]
stop_daemon

echo "== H: change capture and point-in-time restore"
hdb=$tmp/h.db
hk=$tmp/hk
cfg=$tmp/h.json
cat >"$cfg" <<JSON
{
  "listen": "127.0.0.1:0",
  "metrics": {"listen": "127.0.0.1:0"},
  "databases": {"grafana": {"path": "$hdb"}},
  "backup": {"dir": "$hk", "interval": "1h", "segment_interval": "2s", "min_free_space": "0"}
}
JSON
start_daemon || { echo "$pass passed, $((fail + 1)) failed"; exit 1; }
sql "CREATE TABLE h (id SERIAL PRIMARY KEY, note TEXT NOT NULL)" >/dev/null
got=0
for i in $(seq 1 100); do
  if ls "$hk/h/"*.json >/dev/null 2>&1; then got=1; break; fi
  sleep 0.1
done
check "H: the new generation gets its base snapshot at once" all '[ "$got" = 1 ]' 'grep -q "backup of $hdb: snapshot .*generation" "$log"'
batch() { local i; for i in $(seq 1 "$2"); do echo "INSERT INTO h (note) VALUES ('$1-$i');"; done >"$tmp/$1.sql"
          PGCONNECT_TIMEOUT=10 "$PSQL" -X -qAt -h 127.0.0.1 -p "$D_PORT" -U grafana -d grafana -f "$tmp/$1.sql" >/dev/null 2>&1; }
batch b1 100
sleep 1.2
point=$(date -u +%Y-%m-%dT%H:%M:%SZ)
sleep 1.2
batch b2 100
ctx=$(metric 'metagate_capture_transactions_total')
check "H: metagate_capture_transactions_total counts the commits (${ctx:-none} >= 200)" [ "${ctx:-0}" -ge 200 ] 2>/dev/null
check "H: metagate_capture_behind is 0" [ "$(metric 'metagate_capture_behind')" = 0 ]
batch b3 3000 &
loader=$!
sleep 0.7
kill -9 "$D_PID"; wait "$D_PID" 2>/dev/null
wait $loader 2>/dev/null
gen_before=$(ls "$hk/h/wal" | tail -1)
start_daemon || { echo "$pass passed, $((fail + 1)) failed"; exit 1; }
check "H: after kill -9 the generation continues (no new one)" all '[ "$(ls "$hk/h/wal" | tail -1)" = "$gen_before" ]' '[ "$(ls "$hk/h/wal" | wc -l)" = 1 ]'
# The file is opened (and its capture started) by the first client.
live=$(sql "SELECT id, note FROM h ORDER BY id" | md5sum | cut -c1-32)
live_n=$(sql "SELECT count(*) FROM h")
b3=$(sql "SELECT count(*) FROM h WHERE note LIKE 'b3-%'")
check "H: ... from where capture stopped ($(grep -o 'continues at commit [0-9]* ([0-9]* commit(s) recovered from the WAL)' "$log" | tail -1))" \
  grep -q "generation $gen_before continues at commit" "$log"
stop_daemon
mg restore --from local --output "$tmp/h-latest.db" >"$tmp/h1.out" 2>&1; rc=$?
check "H: restore of the newest point exits 0 ($(cat "$tmp/h1.out"))" all '[ $rc = 0 ]' 'grep -q "commit(s) of generation" "$tmp/h1.out"'
restored=$(sqlite3 "$tmp/h-latest.db" "SELECT id, note FROM h ORDER BY id" | md5sum | cut -c1-32)
check "H: the newest point equals the live file, row for row ($live_n rows, md5 $restored vs $live; $b3 rows of the load cut by kill -9)" [ "$restored" = "$live" ]
mg restore --from local --to-time "$point" --output "$tmp/h-point.db" >"$tmp/h2.out" 2>&1; rc=$?
p1=$(sqlite3 "$tmp/h-point.db" "SELECT count(*) FROM h WHERE note LIKE 'b1-%'" 2>&1)
p2=$(sqlite3 "$tmp/h-point.db" "SELECT count(*) FROM h WHERE note LIKE 'b2-%'" 2>&1)
check "H: --to-time $point (between the batches): all of b1 ($p1), none of b2 ($p2) ($(cat "$tmp/h2.out"))" \
  all '[ $rc = 0 ]' '[ "$p1" = 100 ]' '[ "$p2" = 0 ]'
check "H: integrity_check of the point-in-time file: ok" [ "$(sqlite3 "$tmp/h-point.db" 'PRAGMA integrity_check')" = ok ]
# backup now through the daemon: its snapshot carries the capture position (the file is opened,
# and its capture resumed, by a client first: a file not open yet has no capture to ask).
start_daemon || { echo "$pass passed, $((fail + 1)) failed"; exit 1; }
sql "SELECT count(*) FROM h" >/dev/null
hgen_live=$(ls "$hk/h/wal" | tail -1)
out=$(mgnow 2>&1); rc=$?
hid=$(ls "$hk/h/"*.json | tail -1 | xargs basename | sed 's/\.json$//')
hgen=$(python3 -c "import json, sys; print(json.load(open(sys.argv[1])).get('generation', ''))" "$hk/h/$hid.json" 2>&1)
check "H: backup now goes through the daemon: snapshot $hid has the capture position (generation '$hgen') ($out)" \
  all '[ $rc = 0 ]' 'grep -q "through the running metagate" <<<"$out"' '[ -n "$hgen" ]' '[ "$hgen" = "$hgen_live" ]' \
      'grep -q "snapshot $hid (generation $hgen_live, commit [0-9]*)" <<<"$out"'
check "H: backup list shows it as a manual snapshot of the generation" grep -q "$hid .* manual  generation $hgen_live commit" <<<"$(mg backup list 2>&1)"
stop_daemon

echo "== I: S3"
if ! s3rver_find >"$tmp/why"; then
  # Like integration_s3: without Node.js or npm there is no S3 server to test with (skipped);
  # with them, a missing s3rver is a failure (scripts/install-deps.sh --test installs it).
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then echo "SKIP I: $(cat "$tmp/why")"
  else bad "I: no S3 server to test with: $(cat "$tmp/why")"; fi
elif ! s3rver_start "$tmp/s3data" bucket "$work/s3rver.log"; then
  bad "I: s3rver would not start: $(tail -3 "$work/s3rver.log")"
else
  idb=$tmp/i.db
  ik=$tmp/ik
  openssl rand -hex 32 >"$tmp/site.key"; chmod 600 "$tmp/site.key"
  cfg=$tmp/i.json
  # retention.last: the snapshots `backup now` adds within the same clock hour must not retire
  # the base snapshot that --to-time (before them) restores from.
  cat >"$cfg" <<JSON
{
  "listen": "127.0.0.1:0",
  "metrics": {"listen": "127.0.0.1:0"},
  "databases": {"grafana": {"path": "$idb"}},
  "backup": {"dir": "$ik", "interval": "1h", "segment_interval": "1s", "min_free_space": "0",
             "encryption_key_file": "$tmp/site.key", "retention": {"last": 10}},
  "s3": {"endpoint": "http://127.0.0.1:$S3RVER_PORT", "bucket": "bucket", "prefix": "edge/site-7", "path_style": true,
         "interval": "1s", "probe_interval": "2s", "access_key_id": "S3RVER", "secret_access_key": "S3RVER"}
}
JSON
  start_daemon || { echo "$pass passed, $((fail + 1)) failed"; exit 1; }
  sql "CREATE TABLE h (id SERIAL PRIMARY KEY, note TEXT NOT NULL)" >/dev/null
  batch i1 100
  sleep 1.2
  ipoint=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  sleep 1.2
  batch i2 100
  # The bucket is current once nothing is left to catch up after the last commit's segment
  # was sealed (segment_interval 1 s) and shipped (interval 1 s): at most ~15 s.
  # (the bucket holds the last captured commit: metagate_s3_remote_commit = metagate_capture_commit)
  current=0
  for n in $(seq 1 150); do
    up=$(metric 'metagate_s3_uploaded_objects_total')
    if [ "$(metric 'metagate_s3_remote_commit')" = "$(metric 'metagate_capture_commit')" ] &&
       [ "$(metric 'metagate_s3_catch_up_objects')" = 0 ]; then current=1; break; fi
    sleep 0.1
  done
  check "I: the bucket becomes current: it holds commit $(metric 'metagate_s3_remote_commit') of $(metric 'metagate_capture_commit') (uploaded ${up:-0} objects)" [ "$current" = 1 ]
  check "I: metagate_s3_remote_lag_seconds is 0 then" [ "$(metric 'metagate_s3_remote_lag_seconds')" = 0 ]
  # backup now returns once the bucket has acknowledged the snapshot: awscli sees its manifest.
  out=$(mgnow 2>&1); rc=$?
  iid=$(sed -n 's/^.*: snapshot \([0-9T.Z]*\) (generation.*/\1/p' <<<"$out" | head -1)
  inow=$(awscli s3 ls --recursive s3://bucket/edge/site-7/i/snapshots/ 2>&1)
  check "I: backup now returns after the upload, and awscli lists snapshot ${iid:-?}'s manifest ($(tr '\n' ' ' <<<"$out"))" \
    all '[ $rc = 0 ]' 'grep -q "S3: uploaded in" <<<"$out"' '[ -n "$iid" ]' 'grep -q "snapshots/$iid\.json" <<<"$inow"' 
  # The network goes away: the site keeps working, the backups queue up locally.
  s3port=$S3RVER_PORT
  s3rver_stop
  batch i3 100
  sleep 3
  readyz=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$D_MPORT/readyz")
  nerr=$(curl -s "http://127.0.0.1:$D_MPORT/metrics" | grep '^metagate_s3_errors_total{' | awk '{s += $NF} END {print s + 0}')
  check "I: endpoint down: writes go on, /readyz stays $readyz, shipping errors are counted ($nerr)" \
    all '[ "$readyz" = 200 ]' '[ "$nerr" -gt 0 ]' '[ "$(sql "SELECT count(*) FROM h WHERE note LIKE '"'"'i3-%'"'"'")" = 100 ]'
  t0=$(date +%s)
  out=$(mgnow 2>&1); rc=$?
  took=$(( $(date +%s) - t0 ))
  pid_snap=$(sed -n 's/^.*: snapshot \([0-9T.Z]*\) (generation.*/\1/p' <<<"$out" | head -1)
  check "I: endpoint down: backup now returns in ${took} s (< 30) with the upload pending ($(tr '\n' ' ' <<<"$out"))" \
    all '[ $rc = 0 ]' '[ "$took" -lt 30 ]' 'grep -q "S3 upload PENDING: S3 unreachable: .*; the snapshot will be uploaded when it answers" <<<"$out"' '[ -n "$pid_snap" ]'
  # The queue and the lag are counted while the endpoint is down (the alert must be able to fire).
  qdown=$(metric 'metagate_s3_queue_objects'); cdown=$(metric 'metagate_s3_catch_up_objects')
  check "I: endpoint down: the queue ($qdown objects) and the catch-up ($cdown) are counted, not left at 0" \
    all '[ "${qdown:-0}" -gt 0 ]' '[ "${cdown:-0}" -gt 0 ]'
  # Long enough down for the exponential back-off to pass 30 s (a dozen failed passes): while
  # the endpoint does not answer, it is probed every s3.probe_interval (2 s here) instead.
  sleep 20
  batch i4 20
  s3rver_start "$tmp/s3data" bucket "$work/s3rver.log" "$s3port" || bad "I: s3rver would not restart on port $s3port"
  t0=$(date +%s%N)
  current=0
  for n in $(seq 1 400); do
    up=$(metric 'metagate_s3_uploaded_objects_total')
    if [ "$(metric 'metagate_s3_remote_commit')" = "$(metric 'metagate_capture_commit')" ] &&
       [ "$(metric 'metagate_s3_catch_up_objects')" = 0 ]; then current=1; break; fi
    sleep 0.1
  done
  back_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  check "I: the endpoint is back: the bucket catches up ($up objects uploaded in all) in $back_ms ms (probe_interval 2 s: < 6 s)" \
    all '[ "$current" = 1 ]' '[ "$back_ms" -lt 6000 ]' 
  # Then the history: the snapshot taken while it was down goes up too.
  for n in $(seq 1 200); do [ "$(metric 'metagate_s3_queue_objects')" = 0 ] && break; sleep 0.1; done
  ilive=$(sql "SELECT id, note FROM h ORDER BY id" | md5sum | cut -c1-32)
  stop_daemon
  listing=$(awscli s3 ls --recursive s3://bucket/edge/site-7/i/ 2>&1)
  check "I: awscli lists the snapshot and its manifest ($(grep -c 'snapshots/' <<<"$listing") object(s))" \
    all 'grep -q "snapshots/.*\.db\.zst" <<<"$listing"' 'grep -q "snapshots/.*\.json" <<<"$listing"'
  check "I: ... and the sealed segments ($(grep -c '/wal/' <<<"$listing") object(s))" grep -q "/wal/.*\.seg" <<<"$listing"
  check "I: ... and snapshot ${pid_snap:-?}, taken while the endpoint was down" grep -q "snapshots/${pid_snap:-none}\.json" <<<"$listing"
  obj=$(grep -o 'edge/site-7/i/snapshots/[^ ]*\.db\.zst' <<<"$listing" | head -1)
  magic=$(awscli s3 cp "s3://bucket/$obj" - 2>/dev/null | head -c 8)
  check "I: objects are encrypted before they leave (an snapshot in the bucket starts with '$magic')" [ "$magic" = MGENC001 ]
  # The site is lost: database and local backups gone. The bucket alone rebuilds it.
  rm -rf "$ik" "$idb" "$idb-wal" "$idb-shm"
  mg restore --from s3 --output "$tmp/i-s3.db" >"$tmp/i1.out" 2>&1; rc=$?
  check "I: restore --from s3 exits 0 ($(cat "$tmp/i1.out"))" all '[ $rc = 0 ]' 'grep -q "from s3://bucket/edge/site-7/i/" "$tmp/i1.out"'
  irest=$(sqlite3 "$tmp/i-s3.db" "SELECT id, note FROM h ORDER BY id" 2>/dev/null | md5sum | cut -c1-32)
  check "I: the file rebuilt from the bucket equals the live one, row for row ($irest vs $ilive)" [ "$irest" = "$ilive" ]
  mg restore --from s3 --to-time "$ipoint" --output "$tmp/i-point.db" >"$tmp/i2.out" 2>&1; rc=$?
  q1=$(sqlite3 "$tmp/i-point.db" "SELECT count(*) FROM h WHERE note LIKE 'i1-%'" 2>&1)
  q2=$(sqlite3 "$tmp/i-point.db" "SELECT count(*) FROM h WHERE note LIKE 'i2-%'" 2>&1)
  check "I: --from s3 --to-time $ipoint: all of the first batch ($q1), none of the second ($q2)" \
    all '[ $rc = 0 ]' '[ "$q1" = 100 ]' '[ "$q2" = 0 ]'
  check "I: no download scratch directory is left" [ ! -e "$tmp/i-s3.db.s3-download" ]
  # An independent client: awscli copies the bucket's objects; the file restored from that copy
  # is byte for byte the one restored through metagate's own S3 client.
  awscli s3 sync --quiet s3://bucket/edge/site-7/i/ "$tmp/i-copy/" >"$tmp/i4.out" 2>&1
  mg restore --from s3 --s3-copy "$tmp/i-copy" --output "$tmp/i-copy.db" >>"$tmp/i4.out" 2>&1; rc=$?
  check "I: restore from awscli's copy of the bucket is byte for byte the restore from the bucket ($(tail -1 "$tmp/i4.out"))" \
    all '[ $rc = 0 ]' 'cmp -s "$tmp/i-copy.db" "$tmp/i-s3.db"' '[ -s "$tmp/i-copy.db" ]'
  openssl rand -hex 32 >"$tmp/site.key"
  mg restore --from s3 --output "$tmp/i-wrong.db" >"$tmp/i3.out" 2>&1; rc=$?
  check "I: with another key the restore fails and says so ($(cat "$tmp/i3.out"))" \
    all '[ $rc != 0 ]' 'grep -q "another key" "$tmp/i3.out"' '[ ! -e "$tmp/i-wrong.db" ]'
  s3rver_stop
fi

if grep -qE "ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:" "$log"; then bad "sanitizer report in the daemon log"; else ok "no sanitizer report in the daemon log"; fi
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
