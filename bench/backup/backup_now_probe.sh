#!/usr/bin/env bash
# What a `metagate backup now --config F` taken while S3 is down does to the running daemon's
# catch-up (found while building outage.sh; small and quick, not a benchmark).
#
#   bash bench/backup/backup_now_probe.sh [METAGATE_BIN]      (WORK=/tmp/metagate-backup-now-probe)
#
# `backup now` runs the snapshot in its own process: its manifest has no capture position
# (src/app/backup_cmd.cpp sets no PassOptions::snapshot.position). replica::plan_uploads
# treats a newest snapshot without a generation as the whole catch-up, and ship() computes the
# bucket's position only when the newest snapshot has one. This probe shows the effect:
# a daemon (capture on, s3 -> s3rver, segments sealed every 2 s) gets commits, S3 goes down,
# more commits, `backup now`, more commits, S3 comes back; then it prints the metrics, what
# the bucket holds, and what `metagate restore --from s3` (latest) gives compared with the live
# table.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
bin=${1:-$repo/build/bin/metagate}
W=${WORK:-/tmp/metagate-backup-now-probe}
source "$repo/tests/support/s3rver.sh"
s3rver_find || exit 1
rm -rf "$W"; mkdir -p "$W/data"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
pid=""
cleanup() { [ -n "$pid" ] && { kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }; s3rver_stop; }
trap cleanup EXIT
s3port=$(free_port); port=$(free_port); mport=$(free_port)
s3rver_start "$W/s3" probe "$W/s3rver.log" "$s3port" || { echo "s3rver did not start"; exit 1; }
cat >"$W/cfg.json" <<EOF
{
  "listen": "127.0.0.1:$port",
  "databases": {"*": {"path": "$W/data/grafana.db"}},
  "metrics": {"listen": "127.0.0.1:$mport"},
  "backup": {"dir": "$W/backups", "interval": "1h", "capture": true, "segment_interval": "2s"},
  "s3": {"endpoint": "http://127.0.0.1:$s3port", "bucket": "probe", "path_style": true, "interval": "2s",
         "access_key_id": "S3RVER", "secret_access_key": "S3RVER"}
}
EOF
"$bin" serve --config "$W/cfg.json" >"$W/daemon.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
q() { psql "host=127.0.0.1 port=$port user=grafana dbname=grafana sslmode=disable" -qAtX -c "$1"; }
metric() { curl -s "http://127.0.0.1:$mport/metrics" | awk -v n="$1" '$1 == n || index($1, n"{") == 1 {s += $2} END {print s + 0}'; }
show() { echo "  capture_commit $(metric metagate_capture_commit)  s3_remote_commit $(metric metagate_s3_remote_commit)  catch_up_objects $(metric metagate_s3_catch_up_objects)  queue_objects $(metric metagate_s3_queue_objects)  remote_lag_seconds $(metric metagate_s3_remote_lag_seconds)  errors $(metric metagate_s3_errors_total)"; }
pad=$(head -c 3000 /dev/zero | tr '\0' x)
writes() { local i; for i in $(seq "$1" "$2"); do q "INSERT INTO t VALUES ($i, '$pad')" || return 1; done; }
q "CREATE TABLE t (id integer PRIMARY KEY, pad text)"
writes 1 100
echo "1. 100 commits, S3 up; waiting for the bucket to be current"
for _ in $(seq 1 120); do
  [ "$(metric metagate_s3_remote_commit)" -gt 0 ] 2>/dev/null && [ "$(metric metagate_s3_queue_objects)" = 0 ] && \
    [ $(( $(metric metagate_capture_commit) - $(metric metagate_s3_remote_commit) )) -le 2 ] && break
  sleep 1
done
show
s3rver_stop
echo "2. S3 down; 100 commits, then \`metagate backup now\`, then 100 commits"
writes 101 200
"$bin" backup now --config "$W/cfg.json" 2>&1 | sed 's/^/  /'
writes 201 300
sleep 5
show
s3rver_start "$W/s3" probe "$W/s3rver.log" "$s3port" || { echo "s3rver did not restart"; exit 1; }
echo "3. S3 back; waiting until nothing is pending (back-off: up to a minute here)"
up0=$(metric metagate_s3_uploaded_objects_total)
for _ in $(seq 1 180); do
  [ "$(metric metagate_s3_uploaded_objects_total)" != "$up0" ] && [ "$(metric metagate_s3_queue_objects)" = 0 ] && break
  sleep 1
done
sleep 6
show
echo "   live: $(q 'SELECT count(*), max(id) FROM t')"
echo "4. the bucket (awscli):"
awscli s3 ls --recursive s3://probe/ | awk '{print "  " $3 "  " $4}'
echo "5. local snapshots:"
"$bin" backup list --config "$W/cfg.json" 2>&1 | sed 's/^/  /'
echo "6. restore --from s3 (latest):"
"$bin" restore --config "$W/cfg.json" --from s3 --output "$W/restored.db" 2>&1 | sed 's/^/  /'
[ -f "$W/restored.db" ] && echo "   restored: $(sqlite3 "$W/restored.db" 'SELECT count(*), max(id) FROM t' 2>&1)"
echo "7. daemon log (S3, replica, backup):"
grep -E "S3|replica|backup of" "$W/daemon.log" | cut -c1-220 | sed 's/^/  /'
