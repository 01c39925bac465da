// The admin console of a running metagate (database "metagate") over libpq: how the command
// line finds and connects to it (`metagate status`, `metagate backup now`).
#pragma once

#include <libpq-fe.h>

#include <memory>
#include <ostream>
#include <string>

namespace metagate::app {

struct ConsoleAddress {
  std::string host;
  int port = 0;
  std::string user;  // "" = libpq's default (PGUSER, the OS user); password from PGPASSWORD or ~/.pgpass
};

// Fills what is not given: host and port from `config_file`'s first listen address (loopback
// for a wildcard address), else 127.0.0.1:5432. The port stays 0 when the configuration listens
// on port 0 (the kernel picks one: pass it). false, with the reason on `err`, when the file
// cannot be read.
bool resolve_console_address(const std::string& config_file, ConsoleAddress& address, std::ostream& err);

using PgConnection = std::unique_ptr<PGconn, decltype(&PQfinish)>;

struct ConsoleConnection {
  PgConnection conn{nullptr, &PQfinish};  // null: not connected
  bool no_response = false;               // nothing answers there (refused, unreachable, timed out); with `classify`
  std::string error;                      // why not connected (libpq's message)
};

// `classify`: when the connection fails, find out whether anything answered (one more attempt).
ConsoleConnection connect_console(const ConsoleAddress& address, const std::string& application_name,
                                  bool classify = false, int connect_timeout_seconds = 5);

// "host:port" for messages.
std::string to_string(const ConsoleAddress& address);

}  // namespace metagate::app
