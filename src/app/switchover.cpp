// `metagate switchover` (switchover.hpp) over libpq, the admin console.
#include "switchover.hpp"

#include <libpq-fe.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include "console.hpp"
#include "metagate/config/config.hpp"

namespace metagate::app {

namespace {

std::atomic<bool> interrupted{false};
extern "C" void on_interrupt(int) { interrupted = true; }

bool command(PGconn* c, const char* sql, std::ostream& err) {
  std::unique_ptr<PGresult, decltype(&PQclear)> r(PQexec(c, sql), &PQclear);
  if (PQresultStatus(r.get()) != PGRES_COMMAND_OK && PQresultStatus(r.get()) != PGRES_TUPLES_OK) {
    err << "metagate switchover: " << sql << ": " << PQresultErrorMessage(r.get());
    return false;
  }
  return true;
}

// The elected host ("host:port") of each cluster, from SHOW HOSTS ("" = none elected).
bool elected(PGconn* c, std::map<std::string, std::string>& out, std::ostream& err) {
  std::unique_ptr<PGresult, decltype(&PQclear)> r(PQexec(c, "SHOW HOSTS"), &PQclear);
  if (PQresultStatus(r.get()) != PGRES_TUPLES_OK) {
    err << "metagate switchover: SHOW HOSTS: " << PQresultErrorMessage(r.get());
    return false;
  }
  out.clear();
  int cluster = PQfnumber(r.get(), "cluster"), host = PQfnumber(r.get(), "host"), port = PQfnumber(r.get(), "port"),
      state = PQfnumber(r.get(), "state");
  if (cluster < 0 || host < 0 || port < 0 || state < 0) {
    err << "metagate switchover: SHOW HOSTS has not the expected columns (an older metagate?)\n";
    return false;
  }
  for (int i = 0; i < PQntuples(r.get()); ++i) {
    std::string name = PQgetvalue(r.get(), i, cluster);
    auto& e = out[name];
    if (std::string_view(PQgetvalue(r.get(), i, state)) == "elected")
      e = std::string(PQgetvalue(r.get(), i, host)) + ":" + PQgetvalue(r.get(), i, port);
  }
  return true;
}

}  // namespace

int run_switchover(const SwitchoverOptions& o, std::ostream& out, std::ostream& err) {
  ConsoleAddress a{o.host, o.port, o.user};
  if (!resolve_console_address(o.config_file, a, err)) return 1;
  if (a.port == 0) a.port = config::kDefaultPort;
  auto console = connect_console(a, "metagate switchover");
  if (!console.conn) {
    err << "metagate switchover: cannot reach metagate at " << to_string(a) << ": " << console.error;
    return 1;
  }
  PGconn* c = console.conn.get();
  std::map<std::string, std::string> before;
  if (!elected(c, before, err)) return 1;
  if (before.empty()) {
    err << "metagate switchover: this metagate relays to no PostgreSQL cluster (SHOW HOSTS is empty)\n";
    return 1;
  }
  std::string cluster = o.cluster;
  if (cluster.empty()) {
    if (before.size() > 1) {
      err << "metagate switchover: several clusters; name one with --cluster:";
      for (const auto& [name, e] : before) err << " " << name;
      err << "\n";
      return 1;
    }
    cluster = before.begin()->first;
  } else if (!before.count(cluster)) {
    err << "metagate switchover: no cluster \"" << cluster << "\" in SHOW HOSTS\n";
    return 1;
  }
  const std::string old_primary = before[cluster];
  out << "cluster " << cluster << ": primary " << (old_primary.empty() ? "(none elected)" : old_primary) << "\n";

  std::signal(SIGINT, on_interrupt);
  std::signal(SIGTERM, on_interrupt);
  const auto t0 = std::chrono::steady_clock::now();
  auto ms = [&] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  };
  if (!command(c, "PAUSE", err)) return 1;
  out << "paused: running transactions finished, new ones wait (" << ms() << " ms)\n" << std::flush;
  int rc = 0;
  if (!o.command.empty()) {
    out << "running: " << o.command << "\n" << std::flush;
    int st = std::system(o.command.c_str());
    if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
      err << "metagate switchover: the command failed (status " << (st == -1 ? -1 : WEXITSTATUS(st))
          << "); resuming on whatever primary is elected\n";
      rc = 1;
    }
  } else {
    out << "switch the cluster over now; waiting up to " << o.timeout_s << " s for another primary\n" << std::flush;
  }
  std::string now_primary = old_primary;
  while (rc == 0) {
    std::map<std::string, std::string> hosts;
    if (!elected(c, hosts, err)) {
      rc = 1;
      break;
    }
    now_primary = hosts[cluster];
    if (!now_primary.empty() && now_primary != old_primary) break;
    if (interrupted) {
      err << "metagate switchover: interrupted\n";
      rc = 1;
      break;
    }
    if (ms() > static_cast<int64_t>(o.timeout_s) * 1000) {
      err << "metagate switchover: no other primary elected within " << o.timeout_s << " s\n";
      rc = 1;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  // Always resume, on a fresh connection if this one broke.
  bool resumed = command(c, "RESUME", err);
  if (!resumed) {
    auto again = connect_console(a, "metagate switchover");
    resumed = again.conn && command(again.conn.get(), "RESUME", err);
  }
  if (!resumed) {
    err << "metagate switchover: RESUME failed: run RESUME on the admin console now\n";
    return 1;
  }
  if (rc == 0) out << "new primary " << now_primary << " elected; resumed after " << ms() << " ms\n";
  else out << "resumed after " << ms() << " ms\n";
  return rc;
}

}  // namespace metagate::app
