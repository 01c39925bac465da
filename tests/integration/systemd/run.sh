#!/usr/bin/env bash
# The systemd side of metagate without a running systemd:
#   1. `systemd-analyze verify` accepts config/metagate.service (ExecStart pointed at the
#      built binary, which verify requires to exist);
#   2. the sd_notify protocol: with NOTIFY_SOCKET set, the daemon sends READY=1 once it
#      listens and STOPPING=1 when SIGTERM starts the shutdown (a python3 listener plays
#      systemd's notification socket).
#
#   run.sh --metagate BIN --work DIR
set -u -o pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)
metagate= work=
while [ $# -gt 0 ]; do
  case $1 in
    --metagate) metagate=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -n "$metagate" ] && [ -n "$work" ] || { echo "usage: run.sh --metagate BIN --work DIR" >&2; exit 2; }
metagate=$(cd "$(dirname "$metagate")" && pwd)/$(basename "$metagate")
source "$repo/tests/support/pg.sh"
mkdir -p "$work"; work=$(cd "$work" && pwd)
tmp=$(mktemp -d /tmp/mgsd.XXXXXX)
pid= lpid=
cleanup() {
  [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
  [ -n "$lpid" ] && kill "$lpid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "PASS $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }

# 1. The unit file.
if command -v systemd-analyze >/dev/null; then
  sed "s#/usr/local/bin/metagate#$metagate#" "$repo/config/metagate.service" > "$tmp/metagate.service"
  if timeout 60 systemd-analyze verify "$tmp/metagate.service" > "$work/verify.log" 2>&1; then
    ok "systemd-analyze verify config/metagate.service"
  else
    bad "systemd-analyze verify config/metagate.service:"; tail -20 "$work/verify.log"
  fi
else
  bad "systemd-analyze not found (apt-get install systemd)"
fi
grep -q '^Type=notify$' "$repo/config/metagate.service" && ok "unit is Type=notify" || bad "unit is not Type=notify"

# 2. sd_notify.
sock=$tmp/notify.sock
python3 - "$sock" > "$work/notify.log" 2>&1 <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(60)
print("listening", flush=True)
try:
    while True:
        msg = s.recv(4096).decode()
        print("MSG " + msg.replace("\n", "|"), flush=True)
        if "STOPPING=1" in msg:
            break
except socket.timeout:
    print("timeout", flush=True)
PY
lpid=$!
for i in $(seq 1 100); do [ -S "$sock" ] && break; sleep 0.1; done
port=$(free_port)
NOTIFY_SOCKET=$sock "$metagate" serve --listen "127.0.0.1:$port" --metrics 127.0.0.1:0 --sqlite "$tmp/sd.db" > "$work/metagate.log" 2>&1 &
pid=$!
ready=0
for i in $(seq 1 200); do
  if grep -q 'READY=1' "$work/notify.log"; then ready=1; break; fi
  sleep 0.1
done
if [ $ready = 1 ] && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
  ok "READY=1 sent, and the port accepts connections: $(grep READY "$work/notify.log" | head -1)"
else
  bad "no READY=1 (or port closed); notify log:"; cat "$work/notify.log"
fi
grep -q "MAINPID=$pid" "$work/notify.log" && ok "MAINPID=$pid reported" || bad "MAINPID not reported"
kill -TERM "$pid"
for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$pid" 2>/dev/null; then
  bad "daemon still running 10 s after SIGTERM"
else
  wait "$pid"; rc=$?; pid=
  [ $rc = 0 ] && ok "daemon exited 0 after SIGTERM" || bad "daemon exited $rc after SIGTERM"
fi
wait "$lpid" 2>/dev/null; lpid=
grep -q 'STOPPING=1' "$work/notify.log" && ok "STOPPING=1 sent on SIGTERM" || { bad "no STOPPING=1; notify log:"; cat "$work/notify.log"; }
# Without NOTIFY_SOCKET nothing changes: the daemon starts and stops as before.
port=$(free_port)
"$metagate" serve --listen "127.0.0.1:$port" --metrics 127.0.0.1:0 --sqlite "$tmp/sd2.db" >> "$work/metagate.log" 2>&1 &
pid=$!
if wait_port "$port" 30 "$pid"; then ok "starts without NOTIFY_SOCKET"; else bad "does not start without NOTIFY_SOCKET"; fi
kill -TERM "$pid"; wait "$pid"; pid=
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
