// The admin console: the special database "metagate" (as PgBouncer's "pgbouncer"), where an
// admin user runs SHOW CLIENTS / STATS / CONFIG / DATABASES / POOLS / SERVERS / HOSTS / VERSION, RELOAD, KILL CLIENT n,
// PAUSE, RESUME, BACKUP [database] and SHUTDOWN. Its commands are not SQL: a few words, parsed here.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "metagate/config/config.hpp"
#include "metagate/util/expected.hpp"
#include "metagate/util/pg_error.hpp"

namespace metagate::admin {

inline constexpr std::string_view kAdminDatabase = "metagate";

enum class AdminVerb { kShowClients, kShowStats, kShowConfig, kShowDatabases, kShowVersion, kShowPools, kShowServers,
                       kShowHosts, kReload, kKillClient, kPause, kResume, kShutdown, kBackup };

struct AdminCommand {
  AdminVerb verb;
  int32_t client_id = 0;  // KILL CLIENT n
  // BACKUP name: the database whose SQLite file to back up ("" = every file). An identifier as
  // in SQL: unquoted it is folded to lower case, "Quoted" it is taken as written.
  std::string database;
};

// One command, case-insensitive, an optional trailing ';'. Errors are 42601 with a hint that
// lists the commands; an empty text is an empty query (nullopt).
PgResult<std::optional<AdminCommand>> parse_admin_command(std::string_view text);

// Who may use the console: users with "admin": true; when the configuration has no users at
// all (the embedded default, trust for loopback only), every loopback client.
bool is_admin(const config::Config& cfg, std::string_view user, std::string_view address);

// A result set in text format: column names, their types (PostgreSQL OIDs) and rows
// (std::nullopt = NULL).
struct AdminResult {
  std::vector<std::string> columns;
  std::vector<uint32_t> types;
  std::vector<std::vector<std::optional<std::string>>> rows;
  std::string tag;  // command tag; "SHOW" for result sets
};

// A command that takes a while (BACKUP): the session polls it from its io thread with a timer
// (poll() never blocks); the work runs on another thread.
class AdminTask {
 public:
  virtual ~AdminTask() = default;
  // nullopt while it runs; then its result or its error (once).
  virtual std::optional<PgResult<AdminResult>> poll() = 0;
};

// What the console asks the server (implemented by the server).
class AdminControl {
 public:
  virtual ~AdminControl() = default;
  virtual AdminResult show_clients() = 0;
  virtual AdminResult show_stats() = 0;
  virtual AdminResult show_config() = 0;
  virtual AdminResult show_databases() = 0;
  virtual AdminResult show_pools() = 0;    // PostgreSQL server connection pools
  virtual AdminResult show_servers() = 0;  // their server connections
  virtual AdminResult show_hosts() = 0;    // the hosts of PostgreSQL clusters, as their monitors see them
  // Re-reads the configuration file: a notice per applied change, or the error.
  virtual PgResult<std::vector<std::string>> reload() = 0;
  virtual bool kill_client(int32_t id) = 0;
  virtual void pause() = 0;
  virtual void resume() = 0;
  virtual void shutdown() = 0;
  // BACKUP [database]: a snapshot of every SQLite file (or of the one `database` routes to),
  // taken by the daemon's backup thread, then the upload to S3 waited for (when configured).
  // An error now when the name routes to no SQLite file.
  virtual PgResult<std::unique_ptr<AdminTask>> backup(const std::string& database) = 0;
};

}  // namespace metagate::server
