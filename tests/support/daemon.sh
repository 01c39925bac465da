# Sourced by integration tests that run the daemon from a config file:
#
#   start_daemon     `$metagate serve --config $cfg`, output appended to $log, its pid added to
#                    the caller's `daemons` array (for its cleanup); waits until the client port
#                    answers and sets D_PID, D_PORT and D_MPORT (the metrics port), both read back
#                    from the log (configs listen on port 0). Returns 1 (with the log's end) if it
#                    does not start.
start_daemon() {
  local i skip
  skip=$(wc -l <"$log")
  "$metagate" serve --config "$cfg" >>"$log" 2>&1 &
  D_PID=$!
  daemons+=("$D_PID")
  for i in $(seq 1 300); do
    D_PORT=$(tail -n +$((skip + 1)) "$log" | sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' | head -1)
    D_MPORT=$(tail -n +$((skip + 1)) "$log" | sed -n 's#.*metrics and health checks on http://127\.0\.0\.1:\([0-9][0-9]*\)/metrics.*#\1#p' | head -1)
    if [ -n "$D_PORT" ] && [ -n "$D_MPORT" ] && (exec 3<>"/dev/tcp/127.0.0.1/$D_PORT") 2>/dev/null; then return 0; fi
    kill -0 "$D_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "daemon did not start:"; tail -20 "$log"
  return 1
}
