// `metagate switchover`: a planned switchover of the PostgreSQL cluster behind a running
// metagate with no client error — PAUSE (new transactions wait, running ones finish), run the
// switchover command (or let the operator do it), wait until the admin console's SHOW HOSTS
// shows another host elected, RESUME. RESUME is sent whatever happens after PAUSE (command
// failure, timeout, Ctrl-C).
#pragma once

#include <ostream>
#include <string>

namespace metagate::app {

struct SwitchoverOptions {
  std::string host;
  int port = 0;
  std::string user;
  std::string config_file;
  std::string cluster;  // which cluster (SHOW HOSTS' name "h1:p1,h2:p2"); "" = the only one
  std::string command;  // run with /bin/sh -c while paused; "" = wait for the operator
  int timeout_s = 60;   // from PAUSE to the new primary's election
};

// 0 when a new primary was elected and the instance resumed; 1 otherwise (reason on `err`).
int run_switchover(const SwitchoverOptions& options, std::ostream& out, std::ostream& err);

}  // namespace metagate::app
