#!/usr/bin/env bash
# s3ctl.sh STATE_DIR start|kill — the S3 server of the outage test, started and killed on
# request of outage_sim (same port and data on every start). The pid is in STATE_DIR/pid.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/../../support/s3rver.sh"
state=$1
case $2 in
  start)
    s3rver_find >/dev/null || { echo "s3ctl: s3rver not found"; exit 1; }
    port=$(cat "$state/port" 2>/dev/null || echo 0)
    s3rver_start "$state/data" bucket "$state/s3rver.log" "$port" || { echo "s3ctl: s3rver did not start"; exit 1; }
    echo "$S3RVER_PID" >"$state/pid"
    echo "$S3RVER_PORT" >"$state/port"
    ;;
  kill)
    pid=$(cat "$state/pid" 2>/dev/null) || exit 0
    kill -9 "$pid" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    rm -f "$state/pid"
    ;;
  *) echo "usage: s3ctl.sh STATE_DIR start|kill"; exit 2 ;;
esac
