// Finding and connecting to a running metagate's admin console (see console.hpp).
#include "console.hpp"

#include "metagate/config/config.hpp"
#include "metagate/config/conninfo.hpp"

namespace metagate::app {

bool resolve_console_address(const std::string& config_file, ConsoleAddress& a, std::ostream& err) {
  if (!config_file.empty() && (a.host.empty() || a.port == 0)) {
    auto cfg = config::load_config_file(config_file, config::ParseOptions{.check_files = false});
    if (!cfg) {
      err << cfg.error().to_string() << "\n";
      return false;
    }
    if (!cfg->listen.empty()) {
      const auto& l = cfg->listen.front();
      if (a.host.empty()) a.host = l.is_unspecified() ? (l.ipv6 ? "::1" : "127.0.0.1") : l.host;
      if (a.port == 0) {
        if (l.port == 0) {
          if (a.host.empty()) a.host = "127.0.0.1";
          return true;  // the kernel picks the port: the caller must be told it
        }
        a.port = l.port;
      }
    }
  }
  if (a.host.empty()) a.host = "127.0.0.1";
  if (a.port == 0) a.port = config::kDefaultPort;
  return true;
}

ConsoleConnection connect_console(const ConsoleAddress& a, const std::string& application_name, bool classify,
                                  int timeout_s) {
  std::string conninfo = "host=" + config::quote_conninfo_value(a.host) + " port=" + std::to_string(a.port) +
                         " dbname=metagate connect_timeout=" + std::to_string(timeout_s) +
                         " application_name=" + config::quote_conninfo_value(application_name);
  if (!a.user.empty()) conninfo += " user=" + config::quote_conninfo_value(a.user);
  ConsoleConnection c;
  c.conn.reset(PQconnectdb(conninfo.c_str()));
  if (c.conn && PQstatus(c.conn.get()) == CONNECTION_OK) return c;
  c.error = c.conn ? PQerrorMessage(c.conn.get()) : "out of memory";
  c.conn.reset();
  // Whether anything answered: a refused login is an answer; a refused connection is not.
  if (classify) c.no_response = PQping(conninfo.c_str()) == PQPING_NO_RESPONSE;
  return c;
}

std::string to_string(const ConsoleAddress& a) {
  return (a.host.find(':') != std::string::npos ? "[" + a.host + "]" : a.host) + ":" + std::to_string(a.port);
}

}  // namespace metagate::app
