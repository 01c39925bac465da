#!/usr/bin/env bash
# The systemd side of metagate without a running systemd:
#   1. `systemd-analyze verify` accepts config/metagate.service (ExecStart pointed at the
#      built binary, which verify requires to exist);
#   2. the sd_notify protocol: with NOTIFY_SOCKET set, the daemon sends READY=1 once it
#      listens, RELOADING=1 (with MONOTONIC_USEC) then READY=1 on SIGHUP, and STOPPING=1
#      when SIGTERM starts the shutdown; with WATCHDOG_USEC set it sends WATCHDOG=1 at half
#      that interval (a python3 listener plays systemd's notification socket).
#
#   run.sh --metagate BIN --work DIR
set -u -o pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)
source "$repo/tests/support/pg.sh"
metagate_test_args "$@"
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

# 2. sd_notify. listen SOCKET LOG: a python3 listener that logs each datagram with the
# monotonic time it arrived ("MSG t=SECONDS A=1|B=2"), until STOPPING=1 or 60 s.
listen() {
  python3 - "$1" > "$2" 2>&1 <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(60)
print("listening", flush=True)
try:
    while True:
        msg = s.recv(4096).decode()
        print("MSG t=%.3f %s" % (time.monotonic(), msg.replace("\n", "|")), flush=True)
        if "STOPPING=1" in msg:
            break
except socket.timeout:
    print("timeout", flush=True)
PY
  lpid=$!
  for i in $(seq 1 100); do [ -S "$1" ] && break; sleep 0.1; done
}
# term_wait PID: SIGTERM, then SIGKILL if the daemon is still up after 10 s.
term_wait() {
  local i
  kill -TERM "$1" 2>/dev/null
  for i in $(seq 1 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$1" 2>/dev/null && { bad "daemon $1 still running 10 s after SIGTERM"; kill -9 "$1"; }
  wait "$1" 2>/dev/null
}
# wait_msg LOG PATTERN N: until LOG has N lines matching PATTERN (10 s).
wait_msg() {
  local i
  for i in $(seq 1 100); do
    [ "$(grep -c -- "$2" "$1")" -ge "$3" ] && return 0
    sleep 0.1
  done
  return 1
}
sock=$tmp/notify.sock
listen "$sock" "$work/notify.log"
echo '{"log": {"level": "info"}}' > "$tmp/sd.json"
port=$(free_port)
NOTIFY_SOCKET=$sock "$metagate" serve --config "$tmp/sd.json" --listen "127.0.0.1:$port" --metrics 127.0.0.1:0 --sqlite "$tmp/sd.db" > "$work/metagate.log" 2>&1 &
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
# SIGHUP: RELOADING=1 with MONOTONIC_USEC, then READY=1 again.
kill -HUP "$pid"
wait_msg "$work/notify.log" 'READY=1' 2
reload_line=$(grep -n 'RELOADING=1' "$work/notify.log" | head -1)
if [ -n "$reload_line" ] && grep -qE '(^|\|)MONOTONIC_USEC=[0-9]+(\||$)' <<<"${reload_line#*MSG t=* }"; then
  ok "SIGHUP: RELOADING=1 with MONOTONIC_USEC: ${reload_line#*:}"
else
  bad "SIGHUP: no RELOADING=1 with MONOTONIC_USEC=<digits>; notify log:"; cat "$work/notify.log"
fi
reload_no=${reload_line%%:*}
ready_after=$(grep -n 'READY=1' "$work/notify.log" | awk -F: -v n="${reload_no:-999999}" '$1 > n { print; exit }')
[ -n "$ready_after" ] && ok "SIGHUP: READY=1 after RELOADING=1: ${ready_after#*:}" || { bad "SIGHUP: no READY=1 after RELOADING=1; notify log:"; cat "$work/notify.log"; }
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
# The watchdog: WATCHDOG_USEC=200000 -> WATCHDOG=1 every 100 ms.
sock=$tmp/watchdog.sock
listen "$sock" "$work/watchdog.log"
port=$(free_port)
NOTIFY_SOCKET=$sock WATCHDOG_USEC=200000 "$metagate" serve --listen "127.0.0.1:$port" --metrics 127.0.0.1:0 --sqlite "$tmp/wd.db" >> "$work/metagate.log" 2>&1 &
pid=$!
wait_msg "$work/watchdog.log" 'READY=1' 1
sleep 1.3
# WATCHDOG=1 messages in the second after READY=1.
n=$(awk '/READY=1/ && !t0 { t = $2; sub(/^t=/, "", t); t0 = t + 0 }
         /WATCHDOG=1/ { t = $2; sub(/^t=/, "", t); if (t0 && t + 0 >= t0 && t + 0 <= t0 + 1.0) n++ }
         END { print n + 0 }' "$work/watchdog.log")
total=$(grep -c 'WATCHDOG=1' "$work/watchdog.log")
[ "$n" -ge 2 ] && ok "WATCHDOG_USEC=200000: $n WATCHDOG=1 in the first second after READY=1 ($total in all)" ||
  { bad "WATCHDOG_USEC=200000: $n WATCHDOG=1 in the first second after READY=1 (want >= 2); watchdog log:"; head -20 "$work/watchdog.log"; }
term_wait "$pid"; pid=
wait "$lpid" 2>/dev/null; lpid=
# Without NOTIFY_SOCKET nothing changes: the daemon starts and stops as before.
port=$(free_port)
"$metagate" serve --listen "127.0.0.1:$port" --metrics 127.0.0.1:0 --sqlite "$tmp/sd2.db" >> "$work/metagate.log" 2>&1 &
pid=$!
if wait_port "$port" 30 "$pid"; then ok "starts without NOTIFY_SOCKET"; else bad "does not start without NOTIFY_SOCKET"; fi
term_wait "$pid"; pid=
if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$work/metagate.log"; then
  bad "sanitizer report in the daemon log ($work/metagate.log):"; grep -m5 -A12 -E 'AddressSanitizer|LeakSanitizer|runtime error:' "$work/metagate.log"
else
  ok "no sanitizer report in the daemon log"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
