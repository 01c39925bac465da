// `metagate backup now|list|verify` and `metagate restore`: snapshots of the SQLite files a
// configuration serves, taken and read by this process directly (a running metagate keeps
// serving meanwhile: the snapshot is one WAL read transaction, which blocks no writer).
#pragma once

#include <optional>
#include <ostream>
#include <string>

namespace metagate::app {

struct BackupOptions {
  std::string config_file;  // "" = the defaults (./data/grafana.db)
  std::string database;     // a database name from the config; "" = every SQLite file it names
  std::string id;           // verify/restore: one snapshot ("" = all / the newest)
};

int backup_now(const BackupOptions& o, std::ostream& out, std::ostream& err);
int backup_list(const BackupOptions& o, std::ostream& out, std::ostream& err);
int backup_verify(const BackupOptions& o, std::ostream& out, std::ostream& err);

struct RestoreOptions {
  BackupOptions backup;
  std::string from = "local";
  std::string to_time;  // ISO 8601 UTC ("2026-12-06T11:00:00Z"); "" = the newest
  std::string output;
  bool force = false;   // replace an existing output file (only while metagate is stopped)
};
int restore(const RestoreOptions& o, std::ostream& out, std::ostream& err);

}  // namespace metagate::app
