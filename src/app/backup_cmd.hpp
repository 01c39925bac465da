// `metagate backup now|list|verify` and `metagate restore`: snapshots of the SQLite files a
// configuration serves. `backup now` asks the running metagate (its admin console's BACKUP:
// the daemon takes the snapshot with the change capture's position and waits for the upload to
// S3); when none answers at the configured address it takes the snapshot in this process. The
// others read the backup directory directly (a running metagate keeps serving meanwhile).
#pragma once

#include <optional>
#include <ostream>
#include <string>

namespace metagate::app {

struct BackupOptions {
  std::string config_file;  // "" = the defaults (./data/grafana.db)
  std::string database;     // a database name from the config; "" = every SQLite file it names
  std::string id;           // verify/restore: one snapshot ("" = all / the newest)
  // backup now: the running metagate's admin console (default: the config's first listen
  // address); user "" = libpq's default.
  std::string host;
  int port = 0;
  std::string user;
};

int backup_now(const BackupOptions& o, std::ostream& out, std::ostream& err);
int backup_list(const BackupOptions& o, std::ostream& out, std::ostream& err);
int backup_verify(const BackupOptions& o, std::ostream& out, std::ostream& err);

struct RestoreOptions {
  BackupOptions backup;
  std::string from = "local";
  std::string s3_copy;  // --from s3: read the bucket's objects from this directory instead
  std::string to_time;  // ISO 8601 UTC ("2026-12-06T11:00:00Z"); "" = the newest
  std::string output;
  bool force = false;   // replace an existing output file (only while metagate is stopped)
};
int restore(const RestoreOptions& o, std::ostream& out, std::ostream& err);

}  // namespace metagate::app
