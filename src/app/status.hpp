// `metagate status`: the overview of a running instance, read from its admin console over
// libpq (database "metagate"): version, uptime, clients by state, databases.
#pragma once

#include <ostream>
#include <string>

namespace metagate::app {

struct StatusOptions {
  std::string host;
  int port = 0;
  std::string user;
  std::string config_file;
};

// 0 when the instance answered; 1 (with the reason on `err`) otherwise.
int print_status(const StatusOptions& options, std::ostream& out, std::ostream& err);

}  // namespace metagate::app
