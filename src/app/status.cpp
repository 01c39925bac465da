// `metagate status` over libpq (the control plane).
#include "status.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <map>
#include <memory>
#include <vector>

#include "console.hpp"
#include "metagate/config/config.hpp"

namespace metagate::app {

namespace {

struct Table {
  std::vector<std::string> columns;
  std::vector<std::vector<std::string>> rows;
};

bool query(PGconn* c, const char* sql, Table& t, std::ostream& err) {
  std::unique_ptr<PGresult, decltype(&PQclear)> r(PQexec(c, sql), &PQclear);
  if (PQresultStatus(r.get()) != PGRES_TUPLES_OK) {
    err << "metagate status: " << sql << ": " << PQresultErrorMessage(r.get());
    return false;
  }
  for (int i = 0; i < PQnfields(r.get()); ++i) t.columns.emplace_back(PQfname(r.get(), i));
  for (int row = 0; row < PQntuples(r.get()); ++row) {
    std::vector<std::string> v;
    for (int i = 0; i < PQnfields(r.get()); ++i) v.emplace_back(PQgetisnull(r.get(), row, i) ? "" : PQgetvalue(r.get(), row, i));
    t.rows.push_back(std::move(v));
  }
  return true;
}

void print_table(const Table& t, const std::vector<std::string>& cols, std::ostream& out) {
  std::vector<size_t> idx, width;
  for (const auto& c : cols) {
    auto it = std::find(t.columns.begin(), t.columns.end(), c);
    if (it == t.columns.end()) continue;
    idx.push_back(static_cast<size_t>(it - t.columns.begin()));
    width.push_back(c.size());
  }
  for (const auto& r : t.rows)
    for (size_t k = 0; k < idx.size(); ++k) width[k] = std::max(width[k], r[idx[k]].size());
  auto line = [&](auto get) {
    out << "  ";
    for (size_t k = 0; k < idx.size(); ++k) {
      std::string v = get(k);
      out << v << std::string(width[k] - v.size() + 2, ' ');
    }
    out << "\n";
  };
  line([&](size_t k) { return t.columns[idx[k]]; });
  for (const auto& r : t.rows) line([&](size_t k) { return r[idx[k]]; });
}

}  // namespace

int print_status(const StatusOptions& o, std::ostream& out, std::ostream& err) {
  ConsoleAddress a{o.host, o.port, o.user};
  if (!resolve_console_address(o.config_file, a, err)) return 1;
  if (a.port == 0) a.port = config::kDefaultPort;
  const std::string host = a.host;
  const int port = a.port;
  auto console = connect_console(a, "metagate status");
  if (!console.conn) {
    err << "metagate status: cannot reach metagate at " << host << ":" << port << ": " << console.error;
    return 1;
  }
  PGconn* c = console.conn.get();
  Table version, stats, clients, dbs;
  if (!query(c, "SHOW VERSION", version, err) || !query(c, "SHOW STATS", stats, err) ||
      !query(c, "SHOW CLIENTS", clients, err) || !query(c, "SHOW DATABASES", dbs, err))
    return 1;
  auto stat = [&](const std::string& name, const std::string& labels = "") -> std::string {
    for (const auto& r : stats.rows)
      if (r[0] == name && r[1] == labels) return r[2];
    return "?";
  };
  out << (version.rows.empty() ? "metagate" : version.rows[0][0]) << "\n";
  out << "address:     " << host << ":" << port << "\n";
  out << "uptime:      " << stat("metagate_uptime_seconds") << " s\n";
  std::map<std::string, int> by_state;
  for (const auto& r : clients.rows) by_state[r[3]]++;
  out << "clients:     " << clients.rows.size();
  if (!by_state.empty()) {
    out << " (";
    bool first = true;
    for (const auto& [s, n] : by_state) {
      out << (first ? "" : ", ") << n << " " << s;
      first = false;
    }
    out << ")";
  }
  out << " of max " << stat("metagate_client_connections_max") << "\n";
  out << "paused:      " << (stat("metagate_paused") == "1" ? "yes" : "no") << "\n";
  out << "statements:  select " << stat("metagate_statements_total", "backend=sqlite,kind=select") << ", insert "
      << stat("metagate_statements_total", "backend=sqlite,kind=insert") << ", update "
      << stat("metagate_statements_total", "backend=sqlite,kind=update") << ", delete "
      << stat("metagate_statements_total", "backend=sqlite,kind=delete") << "\n";
  out << "databases:\n";
  print_table(dbs, {"name", "backend", "path", "open", "clients", "wal_bytes", "checkpoints"}, out);
  if (!clients.rows.empty()) {
    out << "clients:\n";
    print_table(clients, {"id", "user", "database", "state", "addr", "application_name", "state_seconds"}, out);
  }
  return 0;
}

}  // namespace metagate::app
