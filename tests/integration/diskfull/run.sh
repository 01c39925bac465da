#!/usr/bin/env bash
# A full disk, end to end: the real daemon, psql and sqlite3 on a size-limited tmpfs that holds
# both the SQLite file (with its WAL) and the backup directory (snapshots and change capture).
#
#   A  the daemon serves a file on the tmpfs with scheduled snapshots (2 s), change capture and
#      small WAL checkpoints (1 MiB); 20 rows of 64 KiB; a snapshot taken after them verifies
#   B  a filler file leaves ~1.5 MiB: clients insert 64 KiB rows until one is refused; it gets
#      SQLSTATE 53100 with a message naming the file and "No space left on device", and a hint
#   C  while the disk is full: the same connection and other connections read every acknowledged
#      row (count and md5 of each row); parallel readers; /healthz and /readyz answer; the daemon
#      is up; `backup now` fails with 53100; scheduled snapshots fail with 53100 and are counted
#      (metagate_backup_failures_total{sqlstate="53100"}); the newest good snapshot is still
#      listed, verifies and restores
#   D  the filler is removed: change capture catches up by itself, with no new commit; writes
#      succeed again (within a bounded wait); exactly the acknowledged rows are there; new
#      snapshots succeed and verify
#   E  the disk fills during COMMIT of BEGIN; n x 64 KiB INSERTs; COMMIT (more than the free
#      space, the WAL file and the backup directory hold): 53100, none of the transaction's rows
#      exist, the session goes on; once space is freed the same transaction commits whole
#   F  SIGTERM: the daemon exits 0; PRAGMA integrity_check of the file: ok; a restore of the
#      newest point (snapshot + captured commits) equals the live rows; a restarted daemon
#      serves the same rows and takes writes; change capture kept one generation throughout
#   G  restarts while the disk is full, each followed by reads of every acknowledged row:
#      G0 a clean stop, the disk fills, a start on the full disk (served, writes get 53100);
#      G1 kill -9 after a small commit that was acknowledged but could not be captured (capture
#      keeps its generation); G2 SIGTERM right after a refused COMMIT and a start on the full
#      disk; G3 kill -9 right after a refused COMMIT (the WAL ends with its torn frames); then
#      space is freed: writes work, capture is current, integrity ok, the newest restore point
#      equals the live rows
#   Every refused write got 53100; no sanitizer report in the daemon log.
#
#   run.sh --metagate BIN --work DIR
#
# Needs root (or CAP_SYS_ADMIN) to mount the tmpfs; the script re-runs itself in a private mount
# namespace (unshare -m) when it can, so the mount disappears with the test even if it is
# killed, and unmounts it itself otherwise. When the tmpfs cannot be mounted at all it prints
# "SKIP: cannot mount tmpfs (reason)" and exits 77 (ctest: SKIP_RETURN_CODE 77).
# Everything else runs in a temporary directory (removed at exit); ports are picked by the
# kernel. The output ends with "N passed, M failed"; the exit status is non-zero on any failure.
set -u -o pipefail

# A private mount namespace: the tmpfs is invisible to the rest of the machine and goes away
# with the last process of the test, whatever happens to it.
if [ -z "${MG_DISKFULL_NS:-}" ] && command -v unshare >/dev/null 2>&1 &&
   unshare --mount --propagation private true 2>/dev/null; then
  export MG_DISKFULL_NS=1
  exec unshare --mount --propagation private bash "${BASH_SOURCE[0]}" "$@"
fi

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)
source "$repo/tests/support/pg.sh"
source "$repo/tests/support/daemon.sh"
metagate_test_args "$@"
PSQL=${PG_BINDIR:-/usr/lib/postgresql/15/bin}/psql
for tool in "$PSQL" sqlite3 curl python3 mount umount mountpoint dd truncate df du; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool not found"; echo "0 passed, 1 failed"; exit 1; }
done
started=$(date +%s)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mgdiskfull.XXXXXX") || exit 2
mnt=$tmp/fs
mkdir -p "$mnt"
mounted=0
daemons=()
cleanup() {
  local p
  kill "$watchdog" 2>/dev/null
  for p in "${daemons[@]}"; do
    if kill -0 "$p" 2>/dev/null; then kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; fi
  done
  if [ "$mounted" = 1 ]; then
    umount "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || echo "run.sh: could not unmount $mnt"
  fi
  # Never remove files through a mount that is still there.
  if ! mountpoint -q "$mnt" 2>/dev/null; then rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
# Every client call has its own timeout; this bounds the whole run below ctest's TIMEOUT and
# still ends with the summary line.
# (Its sleep must not outlive the test: it would hold ctest's output pipe open.)
( trap 'kill $s 2>/dev/null; exit 0' TERM; sleep 250 & s=$!; wait $s && kill -TERM $$ ) >/dev/null 2>&1 &
watchdog=$!
trap 'echo "FAIL time limit"; echo "$pass passed, $((fail + 1)) failed"; exit 1' TERM

if ! why=$(mount -t tmpfs -o size=32m,mode=0700 metagate-diskfull "$mnt" 2>&1); then
  why=$(tr -s '\n\t ' ' ' <<<"$why" | sed 's/ *$//')
  [ -n "$why" ] || why="mount failed"
  echo "SKIP: cannot mount tmpfs ($why; uid $(id -u))"
  exit 77
fi
mounted=1

pass=0 fail=0
ok() { pass=$((pass + 1)); echo "PASS $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }
all() { local c; for c in "$@"; do eval "$c" || return 1; done; }
finish() {
  if [ -s "$codes" ] && grep -qv '^53100$' "$codes"; then bad "every refused write got 53100 ($(sort "$codes" | uniq -c | xargs))"
  else ok "every refused write got 53100 ($(grep -c . "$codes") refused)"; fi
  if grep -qE "ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:" "$log"; then bad "sanitizer report in the daemon log"
  else ok "no sanitizer report in the daemon log"; fi
  echo "($(($(date +%s) - started)) s)"
  echo "$pass passed, $fail failed"
  [ "$fail" = 0 ]
  exit
}

db=$mnt/grafana.db
bk=$mnt/backups
cfg=$tmp/metagate.json
acked=$tmp/acked     # ids whose INSERT (or COMMIT) was acknowledged, one per line
: >"$acked"
codes=$tmp/codes     # the SQLSTATE of every refused write
: >"$codes"
cat >"$cfg" <<JSON
{
  "listen": "127.0.0.1:0",
  "metrics": {"listen": "127.0.0.1:0"},
  "databases": {"grafana": {"path": "$db"}},
  "sqlite": {"checkpoint_wal_mib": 1},
  "backup": {"dir": "$bk", "interval": "2s", "segment_interval": "2s", "capture": true,
             "min_free_space": "1MiB", "retention": {"last": 2, "hourly": 0, "daily": 0, "weekly": 0}}
}
JSON
log=$work/daemon.log
: >"$log"

# start_daemon (tests/support/daemon.sh): sets D_PID D_PORT D_MPORT.
# stop_daemon: SIGTERM, wait up to 20 s (then SIGKILL); sets D_RC.
stop_daemon() {
  local i
  kill "$D_PID" 2>/dev/null
  for i in $(seq 1 200); do kill -0 "$D_PID" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$D_PID" 2>/dev/null
  wait "$D_PID" 2>/dev/null
  D_RC=$?
}
q() { PGCONNECT_TIMEOUT=10 timeout 60 "$PSQL" -X -qAt -h 127.0.0.1 -p "$D_PORT" -U grafana -d grafana "$@"; }
sql() { q -v ON_ERROR_STOP=1 -c "$1"; }
mg() { timeout 120 "$metagate" "$@" --config "$cfg"; }
alive() { kill -0 "$D_PID" 2>/dev/null; }
metric() { curl -s -m 10 "http://127.0.0.1:$D_MPORT/metrics" | grep -E "^$1[{ ]" | head -1 | awk '{print $NF}'; }
http_code() { curl -s -o /dev/null -m 10 -w '%{http_code}' "http://127.0.0.1:$D_MPORT/$1"; }
free_kib() { df -k --output=avail "$mnt" | tail -1 | tr -d ' '; }
# The first "ERROR:  XXXXX:" of psql's verbose output in a file ("none" when there is none).
sqlstate_in() { local c; c=$(sed -n 's/.*ERROR:  \([0-9A-Z]\{5\}\): .*/\1/p' "$1" | head -1); echo "${c:-none}"; }
# What the server holds, and what the clients were told it holds: "id|md5(body)" per row.
live_rows() { q -v ON_ERROR_STOP=1 -c "SELECT id, md5(body) FROM big ORDER BY id"; }
expected_rows() { python3 "$here/rows.py" expect "$acked"; }
sum_of() { md5sum | cut -c1-32; }
nacked() { sort -u "$acked" | grep -c .; }
capture_state() {
  echo "   capture: generations started $(metric metagate_capture_generations_started_total), errors $(metric metagate_capture_errors_total), behind $(metric metagate_capture_behind), commit $(metric metagate_capture_commit)"
}

# try_insert ID: one 64 KiB row on its own connection. 0: acknowledged (the id goes to $acked);
# 1: refused (psql's verbose output in $tmp/ins.err, the SQLSTATE appended to $codes).
try_insert() {
  python3 "$here/rows.py" insert "$1" >"$tmp/ins.sql"
  if q -v ON_ERROR_STOP=1 -v VERBOSITY=verbose -f "$tmp/ins.sql" >"$tmp/ins.out" 2>"$tmp/ins.err"; then
    echo "$1" >>"$acked"
    return 0
  fi
  sqlstate_in "$tmp/ins.err" >>"$codes"
  return 1
}
# fill_disk KIB: fill the tmpfs, then give back KIB KiB (the daemon gets that much room).
fill_disk() {
  dd if=/dev/zero of="$mnt/filler" bs=1M 2>/dev/null
  dd if=/dev/zero of="$mnt/filler" bs=4k oflag=append conv=notrunc 2>/dev/null
  truncate -s "-${1}K" "$mnt/filler"
}

echo "== A: a daemon on a 32 MiB tmpfs with backups"
check "A: tmpfs mounted at $mnt ($(df -h --output=size "$mnt" | tail -1 | tr -d ' '))" mountpoint -q "$mnt"
start_daemon || { bad "A: daemon start"; finish; }
sql "CREATE TABLE big (id INTEGER PRIMARY KEY, body TEXT NOT NULL)" >/dev/null
n=0
for i in $(seq 1 20); do try_insert "$i" && n=$((n + 1)); done
check "A: 20 rows of 64 KiB inserted ($n acknowledged)" [ "$n" = 20 ]
shots() { grep -c "backup of $db: snapshot" "$log"; }
n0=$(shots) got=0
for i in $(seq 1 150); do
  if [ "$(shots)" -ge $((n0 + 2)) ]; then got=1; break; fi
  sleep 0.1
done
check "A: scheduled snapshots are taken ($(shots) so far)" [ "$got" = 1 ]
mg backup verify >"$tmp/v0.out" 2>&1; rc=$?
check "A: backup verify: ok ($(grep -c ': ok' "$tmp/v0.out") snapshot(s))" [ $rc = 0 ]
check "A: the rows read back" [ "$(live_rows | sum_of)" = "$(expected_rows | sum_of)" ]

echo "== B: the disk fills up under inserts"
fill_disk 1536
echo "   free on the tmpfs after the filler: $(free_kib) KiB"
refused=0 n=0 first_refused=
for i in $(seq 21 420); do
  if try_insert "$i"; then n=$((n + 1)); continue; fi
  refused=1 first_refused=$i
  break
done
cp "$tmp/ins.err" "$tmp/first.err" 2>/dev/null
code=$(sqlstate_in "$tmp/first.err")
msg=$(grep -m1 'ERROR:' "$tmp/first.err")
hint=$(grep -m1 'HINT:' "$tmp/first.err")
check "B: an INSERT is refused once the disk is full (after $n more acknowledged)" [ "$refused" = 1 ]
check "B: ... with SQLSTATE 53100 (disk_full): $code" [ "$code" = 53100 ]
check "B: ... and a clear message: No space left on device, naming the file ($msg)" \
  all 'grep -q "No space left on device" <<<"$msg"' 'grep -qF "$db" <<<"$msg"'
check "B: ... and a hint for the operator ($hint)" grep -qi "space" <<<"$hint"
check "B: the daemon stays up" alive
for i in 1 2 3; do try_insert $((first_refused + i)) || true; done
check "B: further inserts are refused with 53100 too (codes so far: $(sort "$codes" | uniq -c | xargs))" \
  all '[ -s "$codes" ]' '! grep -qv "^53100$" "$codes"'

echo "== C: while the disk is full"
good=$(ls "$bk/grafana/"*.json 2>/dev/null | tail -1 | xargs -r basename | sed 's/\.json$//')
echo "   newest snapshot when the disk filled: ${good:-none}; free: $(free_kib) KiB"
# The same connection: a refused INSERT, then reads.
id=$((first_refused + 10))
python3 "$here/rows.py" insert "$id" >"$tmp/same.sql"
echo "SELECT id, md5(body) FROM big ORDER BY id;" >>"$tmp/same.sql"
q -v VERBOSITY=verbose -f "$tmp/same.sql" >"$tmp/same.out" 2>"$tmp/same.err"
if ! grep -q 'ERROR:' "$tmp/same.err"; then echo "$id" >>"$acked"; else sqlstate_in "$tmp/same.err" >>"$codes"; fi
check "C: the same connection reads every acknowledged row after its INSERT was refused ($(grep -c . "$tmp/same.out") rows, $(nacked) acknowledged; $(sqlstate_in "$tmp/same.err"))" \
  [ "$(sum_of <"$tmp/same.out")" = "$(expected_rows | sum_of)" ]
check "C: another connection reads every acknowledged row (count and md5 of each)" \
  [ "$(live_rows | sum_of)" = "$(expected_rows | sum_of)" ]
pids=()
for r in 1 2 3 4 5 6; do
  ( live_rows | sum_of >"$tmp/par.$r" ) &
  pids+=($!)
done
wait "${pids[@]}"
want=$(expected_rows | sum_of) good_readers=0
for r in 1 2 3 4 5 6; do [ "$(cat "$tmp/par.$r")" = "$want" ] && good_readers=$((good_readers + 1)); done
check "C: 6 parallel readers get every acknowledged row ($good_readers of 6)" [ "$good_readers" = 6 ]
check "C: /healthz answers 200" [ "$(http_code healthz)" = 200 ]
check "C: /readyz answers 200 (reads are served)" [ "$(http_code readyz)" = 200 ]
check "C: the daemon is up" alive
out=$(mg backup now 2>&1); rc=$?
check "C: backup now fails with 53100 ($out)" all '[ $rc != 0 ]' 'grep -q 53100 <<<"$out"'
nf=0
for i in $(seq 1 100); do
  nf=$(curl -s -m 10 "http://127.0.0.1:$D_MPORT/metrics" | grep '^metagate_backup_failures_total{' | grep 'sqlstate="53100"' | awk '{s += $NF} END {print s + 0}')
  [ "${nf:-0}" -gt 0 ] && break
  sleep 0.1
done
check "C: scheduled snapshots fail with 53100 and are counted (metagate_backup_failures_total{sqlstate=\"53100\"} $nf)" [ "${nf:-0}" -gt 0 ]
check "C: ... and logged" grep -q "backup of $db failed: .*SQLSTATE 53100" "$log"
list=$(mg backup list 2>&1)
newest=$(ls "$bk/grafana/"*.json 2>/dev/null | tail -1 | xargs -r basename | sed 's/\.json$//')
check "C: the last good snapshot ($good) is still listed and still the newest ($newest)" \
  all '[ -n "$good" ]' 'grep -q "$good" <<<"$list"' '[ "$newest" = "$good" ]'
out=$(mg backup verify --id "$good" 2>&1); rc=$?
check "C: backup verify passes on it while the disk is full ($out)" [ $rc = 0 ]
mg restore --from local --id "$good" --output "$tmp/good.db" >"$tmp/good.out" 2>&1; rc=$?
gn=$(sqlite3 "$tmp/good.db" "SELECT count(*) FROM big" 2>&1)
check "C: it restores (to another disk): $gn rows, integrity $(sqlite3 "$tmp/good.db" 'PRAGMA integrity_check' 2>&1 | head -1) ($(head -c 200 "$tmp/good.out"))" \
  all '[ $rc = 0 ]' '[ "$gn" -ge 20 ] 2>/dev/null' '[ "$(sqlite3 "$tmp/good.db" "PRAGMA integrity_check")" = ok ]'
echo "   capture while full: errors $(metric metagate_capture_errors_total), behind $(metric metagate_capture_behind)"

echo "== D: space is freed"
behind0=$(metric metagate_capture_behind) commit0=$(metric metagate_capture_commit)
rm -f "$mnt/filler"
echo "   free: $(free_kib) KiB; capture behind: $behind0 at commit $commit0"
# No client writes for a while: the change capture must still catch up on its own (the segment
# timer runs every 2 s), or the newest commits stay out of the backups until the next write.
behind=1
for i in $(seq 1 60); do [ "$(metric metagate_capture_behind)" = 0 ] && { behind=0; break; }; sleep 0.1; done
check "D: with no new commit, change capture catches up by itself (behind $behind0 -> $(metric metagate_capture_behind), commit $commit0 -> $(metric metagate_capture_commit))" [ "$behind" = 0 ]
back=0 tries=0
for i in $(seq 1 40); do
  tries=$i
  if try_insert $((1000 + i)); then back=1; break; fi
  sleep 0.25
done
check "D: writes succeed again ($tries attempt(s))" [ "$back" = 1 ]
for i in 1 2 3 4 5; do try_insert $((1100 + i)) || bad "D: insert $((1100 + i)) after freeing: $(cat "$tmp/ins.err")"; done
check "D: exactly the acknowledged rows are there ($(nacked) rows, count and md5 of each)" \
  [ "$(live_rows | sum_of)" = "$(expected_rows | sum_of)" ]
check "D: the refused rows are not ($first_refused)" [ "$(sql "SELECT count(*) FROM big WHERE id = $first_refused")" = 0 ]
behind=1
for i in $(seq 1 50); do [ "$(metric metagate_capture_behind)" = 0 ] && { behind=0; break; }; sleep 0.1; done
check "D: change capture caught up (metagate_capture_behind 0)" [ "$behind" = 0 ]
out=$(mg backup now 2>&1); rc=$?
check "D: backup now succeeds ($out)" [ $rc = 0 ]
s0=$(metric metagate_backup_successes_total) s1=$s0
for i in $(seq 1 100); do
  s1=$(metric metagate_backup_successes_total)
  [ "${s1:-0}" -gt "${s0:-0}" ] && break
  sleep 0.1
done
check "D: scheduled snapshots succeed again (successes $s0 -> $s1)" [ "${s1:-0}" -gt "${s0:-0}" ]
mg backup verify >"$tmp/v1.out" 2>&1; rc=$?
check "D: backup verify: every snapshot ok ($(grep -c ': ok' "$tmp/v1.out") ok)" [ $rc = 0 ]

echo "== E: the disk fills during COMMIT of a multi-statement transaction"
# big_tx FIRST FILE: a psql script "BEGIN; n INSERTs of 64 KiB; COMMIT; SELECT what is there",
# with more rows than the free space, the WAL file (SQLite reuses it after a checkpoint) and the
# whole backup directory (retention may free some of it meanwhile) can hold together: its COMMIT
# needs room that is not there, whatever the backup thread does meanwhile. Sets TX_IDS, TX_N.
big_tx() {
  local wal_kib bk_kib
  wal_kib=$(( $(stat -c %s "$db-wal" 2>/dev/null || echo 0) / 1024 ))
  bk_kib=$(du -sk "$bk" | cut -f1)
  TX_N=$(( (wal_kib + bk_kib + $(free_kib)) / 64 + 8 ))
  TX_IDS=$(seq "$1" $(($1 + TX_N - 1)) | xargs)
  echo "   free: $(free_kib) KiB, WAL $wal_kib KiB, backups $bk_kib KiB: BEGIN; $TX_N INSERTs of 64 KiB; COMMIT"
  {
    echo "BEGIN;"
    python3 "$here/rows.py" insert $TX_IDS
    echo "COMMIT;"
    echo "SELECT 'after', count(*) FROM big WHERE id BETWEEN $1 AND $(($1 + TX_N - 1));"
  } >"$2"
}
# run_tx FILE OUT: run it on one connection (no ON_ERROR_STOP: the session goes on after an
# error); prints the SQLSTATE of its error ("none": it committed, and its ids count as acknowledged).
run_tx() {
  local code
  q -v VERBOSITY=verbose -f "$1" >"$2.out" 2>"$2.err"
  code=$(sqlstate_in "$2.err")
  if [ "$code" = none ]; then printf '%s\n' $TX_IDS >>"$acked"; else echo "$code" >>"$codes"; fi
  echo "$code"
}
fill_disk 256
big_tx 9001 "$tmp/tx.sql"
tcode=$(run_tx "$tmp/tx.sql" "$tmp/tx")
check "E: the transaction is refused with 53100 (at line $(sed -n 's/^psql:[^:]*:\([0-9]*\): ERROR.*/\1/p' "$tmp/tx.err" | head -1) of $((TX_N + 2)), the COMMIT: $(grep -m1 'ERROR:' "$tmp/tx.err"))" \
  [ "$tcode" = 53100 ]
check "E: ... none of its rows exist, on its own connection, which goes on ($(grep after "$tmp/tx.out"))" [ "$(grep after "$tmp/tx.out")" = "after|0" ]
check "E: ... nor on another one" [ "$(sql "SELECT count(*) FROM big WHERE id > 9000")" = 0 ]
check "E: ... and every acknowledged row is still there" [ "$(live_rows | sum_of)" = "$(expected_rows | sum_of)" ]
check "E: the daemon is up" alive
rm -f "$mnt/filler"
committed=0
python3 "$here/rows.py" insert $TX_IDS >"$tmp/tx2.sql"
for i in $(seq 1 40); do
  if q -v ON_ERROR_STOP=1 -v VERBOSITY=verbose -1 -f "$tmp/tx2.sql" >"$tmp/tx2.out" 2>"$tmp/tx2.err"; then committed=1; break; fi
  sleep 0.25
done
[ "$committed" = 1 ] && printf '%s\n' $TX_IDS >>"$acked"
check "E: once space is freed the same transaction commits whole ($(grep -m1 ERROR "$tmp/tx2.err"))" \
  all '[ "$committed" = 1 ]' '[ "$(sql "SELECT count(*) FROM big WHERE id > 9000")" = "$TX_N" ]'
capture_state

echo "== F: stop, integrity, restore, restart"
want=$(expected_rows | sum_of)
check "F: the live rows before the stop ($(nacked) acknowledged)" [ "$(live_rows | sum_of)" = "$want" ]
stop_daemon
check "F: SIGTERM: the daemon exits 0 ($D_RC)" [ "$D_RC" = 0 ]
ic=$(sqlite3 -readonly "$db" 'PRAGMA integrity_check' 2>&1)
check "F: PRAGMA integrity_check of the file: $ic" [ "$ic" = ok ]
check "F: the file has every acknowledged row, read by sqlite3 directly" [ "$(python3 "$here/rows.py" dump "$db" | sum_of)" = "$want" ]
mg restore --from local --output "$tmp/latest.db" >"$tmp/r.out" 2>&1; rc=$?
check "F: restore of the newest point: exit $rc ($(head -c 300 "$tmp/r.out"))" [ $rc = 0 ]
check "F: ... equals the live file row for row (snapshot + captured commits)" \
  [ "$(python3 "$here/rows.py" dump "$tmp/latest.db" 2>&1 | sum_of)" = "$want" ]
start_daemon || { bad "F: restart"; finish; }
check "F: the restarted daemon serves every acknowledged row" [ "$(live_rows | sum_of)" = "$want" ]
try_insert 5000
check "F: ... and takes writes" [ "$(sql "SELECT count(*) FROM big WHERE id = 5000")" = 1 ]
gens=$(grep -c "generation .* starts (" "$log")
check "F: the change capture kept its generation through A..F ($(grep -o 'generation [^ ]* starts ([^)]*)' "$log" | tr '\n' ';'))" [ "$gens" = 1 ]

echo "== G: restarts while the disk is full"
# restart_serves WHAT: start the daemon again and read every acknowledged row; on failure the
# daemon is killed and the test ends (nothing after it can run without a daemon that serves).
restart_serves() {
  start_daemon || { bad "G: $1: the daemon does not start"; finish; }
  local rows
  rows=$(live_rows 2>"$tmp/g-read.err" | sum_of)
  if [ "$rows" = "$(expected_rows | sum_of)" ]; then
    ok "G: $1: the restarted daemon serves every acknowledged row ($(nacked))"
    return 0
  fi
  bad "G: $1: the restarted daemon serves every acknowledged row ($(head -c 300 "$tmp/g-read.err"))"
  echo "   /readyz: $(http_code readyz); where the daemon is:"
  if command -v gdb >/dev/null; then
    timeout 60 gdb -p "$D_PID" -batch -ex "thread apply all bt 8" 2>/dev/null |
      sed -E 's/^#[0-9]+ +(0x[0-9a-f]+ in )?/     /; s/ \(([a-z_]+=|\)).* at / at /' | grep -E "^     metagate::(backup|store)::" | head -4
  fi
  kill -9 "$D_PID" 2>/dev/null; wait "$D_PID" 2>/dev/null
  bad "G: the remaining checks need a daemon that serves the file: not run"
  finish
}
gens_before=$(grep -c "generation .* starts (" "$log")
# G0: metagate stopped cleanly, the disk fills meanwhile, metagate starts on the full disk: the
# file opens (its catalog refresh at open cannot commit and is skipped) and is served.
stop_daemon
check "G0: SIGTERM: exit 0 ($D_RC)" [ "$D_RC" = 0 ]
fill_disk 0
restart_serves "G0 (started on a disk that filled while metagate was stopped)"
check "G0: ... /readyz 200" [ "$(http_code readyz)" = 200 ]
grep -q "emulated system catalogs were not refreshed" "$log" && echo "   (the catalog refresh at open was skipped: no room)"
big_tx 9401 "$tmp/g0.sql"
gcode=$(run_tx "$tmp/g0.sql" "$tmp/g0")
check "G0: ... and refuses a write with 53100 ($(grep -m1 ERROR "$tmp/g0.err"))" [ "$gcode" = 53100 ]
truncate -s -256K "$mnt/filler"
big_tx 9501 "$tmp/g.sql"
gcode=$(run_tx "$tmp/g.sql" "$tmp/g")
check "G: a transaction is refused with 53100 ($(grep -m1 'ERROR:' "$tmp/g.err"))" [ "$gcode" = 53100 ]
# G1: a crash (kill -9: power loss, the OOM killer) after a commit that was acknowledged but
# could not be captured: a small commit fits in the WAL space the refused transaction left
# allocated, while the capture's segment file cannot grow.
small=100001
if try_insert "$small"; then
  behind=$(metric metagate_capture_behind)
  echo "   a small commit was acknowledged on the full disk; capture behind: $behind"
  kill -9 "$D_PID"; wait "$D_PID" 2>/dev/null
  restart_serves "G1 (kill -9 after a commit capture could not keep)"
  gens=$(grep -c "generation .* starts (" "$log")
  if [ "$behind" = 1 ]; then
    check "G1: ... change capture keeps its generation: a full disk is not a broken chain ($(grep -o 'generation [^ ]* starts ([^)]*)' "$log" | tail -n +$((gens_before + 1)) | head -1))" \
      [ "$gens" = "$gens_before" ]
  else
    echo "   (capture was not behind: the generation check of G1 does not apply)"
  fi
  check "G1: ... /readyz 200" [ "$(http_code readyz)" = 200 ]
  capture_state
else
  echo "   (the small commit was refused too ($(sqlstate_in "$tmp/ins.err")): G1 does not apply)"
fi
# G2: a clean stop and a start while the disk is full, right after a refused COMMIT.
gcode=$(run_tx "$tmp/g.sql" "$tmp/g2")
check "G2: the transaction is refused with 53100 ($(grep -m1 ERROR "$tmp/g2.err"))" [ "$gcode" = 53100 ]
stop_daemon
check "G2: SIGTERM while the disk is full: the daemon exits 0 ($D_RC)" [ "$D_RC" = 0 ]
restart_serves "G2 (SIGTERM, start on a full disk)"
check "G2: ... /readyz 200" [ "$(http_code readyz)" = 200 ]
# G3: a crash right after a COMMIT was refused for lack of space: the WAL ends with the torn,
# uncommitted frames of that transaction.
gcode=$(run_tx "$tmp/g.sql" "$tmp/g3")
check "G3: the transaction is refused with 53100 ($(grep -m1 ERROR "$tmp/g3.err"))" [ "$gcode" = 53100 ]
kill -9 "$D_PID"; wait "$D_PID" 2>/dev/null
echo "   WAL after the crash: $(stat -c %s "$db-wal" 2>/dev/null) bytes"
restart_serves "G3 (kill -9 right after a refused COMMIT)"
check "G3: ... /readyz 200" [ "$(http_code readyz)" = 200 ]
rm -f "$mnt/filler"
committed=0
python3 "$here/rows.py" insert $TX_IDS >"$tmp/g4.sql"
for i in $(seq 1 40); do
  if q -v ON_ERROR_STOP=1 -v VERBOSITY=verbose -1 -f "$tmp/g4.sql" >"$tmp/g4.out" 2>"$tmp/g4.err"; then committed=1; break; fi
  sleep 0.25
done
[ "$committed" = 1 ] && printf '%s\n' $TX_IDS >>"$acked"
check "G: once space is freed the transaction commits ($(grep -m1 ERROR "$tmp/g4.err"))" [ "$committed" = 1 ]
want=$(expected_rows | sum_of)
check "G: exactly the acknowledged rows are there ($(nacked))" [ "$(live_rows | sum_of)" = "$want" ]
behind=1
for i in $(seq 1 50); do [ "$(metric metagate_capture_behind)" = 0 ] && { behind=0; break; }; sleep 0.1; done
check "G: change capture is current" [ "$behind" = 0 ]
stop_daemon
check "G: SIGTERM: exit 0 ($D_RC)" [ "$D_RC" = 0 ]
ic=$(sqlite3 -readonly "$db" 'PRAGMA integrity_check' 2>&1)
check "G: PRAGMA integrity_check: $ic" [ "$ic" = ok ]
check "G: the file has every acknowledged row" [ "$(python3 "$here/rows.py" dump "$db" | sum_of)" = "$want" ]
mg restore --from local --output "$tmp/latest2.db" >"$tmp/r2.out" 2>&1; rc=$?
check "G: restore of the newest point equals the live file row for row ($(head -c 200 "$tmp/r2.out"))" \
  all '[ $rc = 0 ]' '[ "$(python3 "$here/rows.py" dump "$tmp/latest2.db" 2>&1 | sum_of)" = "$want" ]'
finish
