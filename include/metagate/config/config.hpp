// The metagate configuration: a JSON file (docs/CONFIG.md) read into typed structs, with
// strict validation (unknown keys, wrong types, out-of-range values, unreadable TLS files,
// hba rules and password secrets that do not parse, ...). Every error names the full key path:
//
//   databases.grafana.pathh: unknown key (did you mean "path"?)
//   sqlite.readers: expected an integer, got a string
//   auth.rules[2]: invalid authentication method "scram"
//
// A default-constructed Config is the embedded default: listen on 127.0.0.1:5432, every
// database name served from the SQLite file ./data/grafana.db, trust for loopback clients only.
//
// Relative paths (SQLite files, TLS files, mock_secret_file) are relative to the working
// directory of the metagate process, in the file as on the command line.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "metagate/auth/credential.hpp"
#include "metagate/auth/hba.hpp"
#include "metagate/util/expected.hpp"
#include "metagate/util/pg_error.hpp"

namespace metagate::config {

// ---- Errors -------------------------------------------------------------------------------

// One problem, tied to the key it is about: "auth.rules[2]", "databases.*.path",
// "auth.users[\"a.b\"].password", "--listen" (command line) or "" (the document as a whole).
struct ConfigIssue {
  std::string key;
  std::string message;
  std::string to_string() const;  // "key: message" (just the message when key is empty)
  friend bool operator==(const ConfigIssue&, const ConfigIssue&) = default;
};

// Why a configuration was refused: every problem found (at least one).
struct ConfigError {
  std::string file;                 // the file it came from; "" for text / programmatic configs
  std::vector<ConfigIssue> issues;  // never empty; grouped by section (listen, tls, auth, ...)

  // One line per issue, each prefixed with "FILE: " when file is set.
  std::string to_string() const;
  const ConfigIssue& first() const { return issues.front(); }
};

template <class T>
using ConfigResult = Expected<T, ConfigError>;

// ---- Model --------------------------------------------------------------------------------

inline constexpr uint16_t kDefaultPort = 5432;
inline constexpr std::string_view kDefaultSqlitePath = "./data/grafana.db";
inline constexpr std::string_view kWildcardDatabase = "*";
inline constexpr std::string_view kDatabasePlaceholder = "{database}";
inline constexpr size_t kMaxNameLength = 63;  // PostgreSQL's NAMEDATALEN - 1

// A TCP address to listen on. Only numeric addresses: "127.0.0.1:5432", "[::1]:5432",
// "0.0.0.0:5432", "[::]:5432". Port 0 = an ephemeral port (tests).
struct ListenAddress {
  std::string host;  // canonical numeric form without brackets: "127.0.0.1", "::1"
  uint16_t port = kDefaultPort;
  bool ipv6 = false;

  std::string to_string() const;  // "127.0.0.1:5432", "[::1]:5432"
  bool is_loopback() const;       // 127.0.0.0/8 or ::1
  bool is_unspecified() const;    // 0.0.0.0 or ::
  friend bool operator==(const ListenAddress&, const ListenAddress&) = default;
};

// "HOST:PORT"; the error explains what is wrong with the text (without a key).
Expected<ListenAddress, std::string> parse_listen_address(std::string_view text);

enum class TlsMode {
  kDisable,  // SSLRequest is answered 'N'
  kAllow,    // TLS if the client asks for it
  kRequire,  // clients that do not ask for TLS are refused
};
enum class TlsVersion { kTls12, kTls13 };

struct TlsConfig {
  // When the file leaves "mode" out: kAllow if cert_file and key_file are set, else kDisable.
  TlsMode mode = TlsMode::kDisable;
  std::string cert_file;  // PEM certificate chain
  std::string key_file;   // PEM private key
  std::string ca_file;    // PEM CAs to verify client certificates with; "" = no client certs
  TlsVersion min_protocol_version = TlsVersion::kTls12;

  bool enabled() const { return mode != TlsMode::kDisable; }
};

struct UserConfig {
  auth::Credential credential;  // SCRAM-SHA-256 verifier or md5 hash, never plaintext
  bool admin = false;           // may run metagate's administrative commands (SHOW CONFIG, ...)
};

struct AuthConfig {
  // auth.rules as written, one pg_hba line each (comment-only lines are kept here) ...
  std::vector<std::string> rule_lines = default_rule_lines();
  // ... and parsed, blank/comment lines dropped. HbaRule::line_number is the 1-based position
  // in rule_lines (auth.rules[line_number - 1]). First match wins: auth::match_hba(rules, ...).
  std::vector<auth::HbaRule> rules = default_rules();
  std::map<std::string, UserConfig, std::less<>> users;
  std::string mock_secret_file;  // "" = a random per-process secret

  const UserConfig* find_user(std::string_view name) const;

  static std::vector<std::string> default_rule_lines();  // trust 127.0.0.1/32 and ::1/128
  static std::vector<auth::HbaRule> default_rules();
};

enum class Backend { kSqlite, kPostgres };
enum class PoolMode { kSession, kTransaction };
// Where provably read-only autocommit statements of a cluster database run (docs/POOLING.md).
enum class ReadsMode { kPrimary, kReplicas, kPreferReplicas };

struct DatabaseConfig {
  Backend backend = Backend::kSqlite;
  // SQLite: the file. Only the "*" entry may contain {database}, replaced by the requested name.
  std::string path;
  // PostgreSQL: libpq keyword/value connection string (host, port, dbname, user, password,
  // sslmode, ...). dbname and user left out = the client's own (pass-through).
  std::string conninfo;
  PoolMode pool_mode = PoolMode::kSession;
  // The pool per (database, user) on that server (docs/POOLING.md).
  int64_t pool_size = 20;                  // server connections, at most
  int64_t min_pool_size = 0;               // kept open even when idle
  int64_t reserve_pool_size = 0;           // extra connections for clients that waited long
  int64_t reserve_pool_timeout_ms = 5000;  // how long a client waits before the reserve opens
  int64_t queue_timeout_ms = 30000;        // a client waits this long, then gets 53300
  int64_t server_lifetime_ms = 3600000;    // closed once this old, at check-in (0 = never)
  int64_t server_idle_timeout_ms = 600000; // closed when idle this long (0 = never)
  int64_t server_check_delay_ms = 30000;   // idle longer than this: checked before reuse
  int64_t prepared_statement_cache_size = 1000;  // statements kept per server connection
  // Session pooling: true = a server connection goes back to the pool (after DISCARD ALL) when
  // its client leaves; false (default) = it is closed (no client ever sees another's backend,
  // exactly as with PostgreSQL directly).
  bool reuse_server_connections = false;
  // A cluster (several hosts with the conninfo's own user and password; docs/POOLING.md):
  int64_t health_check_interval_ms = 1000;  // every host's role and WAL position asked this often
  int64_t health_check_timeout_ms = 2000;   // a host that does not answer within this is down
  int64_t failover_hold_ms = 30000;         // while no primary: new work waits this long, then 08006
  int64_t failover_hold_max_clients = 10000;  // ... and at most this many clients wait (then 57P03)
  // Each host's Patroni REST API ("http://host:8008"), in the conninfo's host order: Patroni's
  // leader decides which host is the primary (empty = role and timeline alone).
  std::vector<std::string> patroni_urls;
  ReadsMode reads = ReadsMode::kPrimary;       // read/write split (transaction pooling)
  int64_t max_replica_lag_bytes = 16777216;    // a replica further behind the primary gets no reads...
  int64_t max_replica_lag_ms = 10000;          // ... nor one whose replay is this far behind
  static DatabaseConfig sqlite(std::string file) {
    DatabaseConfig d;
    d.path = std::move(file);
    return d;
  }
  friend bool operator==(const DatabaseConfig&, const DatabaseConfig&) = default;
};

// A PostgreSQL server to connect to, from a conninfo string.
struct PostgresTarget {
  struct Host {
    std::string host;
    uint16_t port = 5432;
  };
  std::vector<Host> hosts;  // tried in order
  std::string dbname;       // "" = the client's database name
  std::string user;         // "" = the client's user
  std::string password;     // "" = none configured
  // TLS, with libpq's meaning: disable, allow, prefer, require, verify-ca, verify-full.
  std::string sslmode = "prefer";
  std::string sslrootcert;  // CA file for verify-ca/verify-full ("system": the OS store)
  std::string sslcert;      // client certificate (with sslkey), when the server asks for one
  std::string sslkey;
  bool sslsni = true;       // send the host name (SNI) when it is not an IP address
  int connect_timeout_s = 10;
};
// Parses with libpq's own parser (PQconninfoParse); the error says what is wrong.
Expected<PostgresTarget, std::string> parse_conninfo(std::string_view conninfo);
// The conninfo with its password replaced by "<redacted>".
std::string redact_conninfo(std::string_view conninfo);

enum class Synchronous { kNormal, kFull, kExtra };  // PRAGMA synchronous

struct SqliteConfig {
  Synchronous synchronous = Synchronous::kFull;
  int readers = 4;                        // read-only connections per database file
  int64_t lock_timeout_ms = 30000;        // busy timeout waiting for a lock
  int64_t cache_size_kib = 65536;         // page cache per connection (PRAGMA cache_size = -N)
  int64_t mmap_size_mib = 0;              // PRAGMA mmap_size; 0 = off
  int64_t checkpoint_wal_mib = 64;        // checkpoint when the WAL grows past this
  bool group_commit = true;               // batch concurrent commits into one fsync
  int64_t group_commit_max_wait_us = 0;    // commit_delay: pause before the fsync while others write
};

struct LimitsConfig {
  int64_t max_connections = 1000;
  int64_t max_message_bytes = 64 * 1024 * 1024;
  int64_t max_startup_packet_bytes = 10000;  // PostgreSQL's MAX_STARTUP_PACKET_LENGTH
  int64_t statement_cache_entries = 4096;    // translated statements kept per database; 0 = off
  int64_t idle_session_timeout_ms = 0;       // 0 = never
  int64_t max_connections_per_user = 0;      // 0 = no per-user limit
  int64_t idle_in_transaction_timeout_ms = 0;  // 0 = never; else 25P03 and the connection closes
  int64_t statement_timeout_ms = 0;          // the statement_timeout sessions start with; 0 = none
  int64_t startup_timeout_ms = 60000;        // startup + authentication must finish in this time
  // Per client IP: after a failed authentication, the next failure's answer is delayed by
  // auth_failure_delay_ms, doubling with each further failure up to the max; 0 = off.
  int64_t auth_failure_delay_ms = 100;
  int64_t auth_failure_delay_max_ms = 10000;
};

struct ServerConfig {
  std::string server_version = "15.8";  // reported in ParameterStatus / version()
  std::string timezone = "UTC";         // the TimeZone sessions start with
  std::string application_name_default;
  // SIGTERM: how long running statements and open transactions may take to finish before
  // their sessions are closed with 57P01.
  int64_t drain_timeout_ms = 30000;

  int server_version_num() const;  // "15.8" -> 150008
};

enum class LogLevel { kTrace, kDebug, kInfo, kWarn, kError, kCritical, kOff };
enum class LogFormat { kPlain, kJson };

struct LogConfig {
  LogLevel level = LogLevel::kInfo;
  LogFormat format = LogFormat::kPlain;
  int64_t slow_statement_ms = 1000;  // log statements slower than this; 0 = all; -1 = none
  bool redact_statements = true;     // constants in logged statement text become $1, $2, ...
};

// Snapshots of the SQLite files (docs/BACKUP.md).
struct BackupRetention {
  int64_t last = 0;     // the N newest snapshots, whatever their times
  int64_t hourly = 24;  // the newest snapshot of each of the last N hours
  int64_t daily = 7;    // ... days
  int64_t weekly = 4;   // ... weeks
  friend bool operator==(const BackupRetention&, const BackupRetention&) = default;
};

struct BackupConfig {
  // Where snapshots go: <dir>/<database file name without .db>/. "" = a "backups" directory
  // next to each database file.
  std::string dir;
  int64_t interval_ms = 3'600'000;  // "interval": "1h"; 0 ("off") = only on demand
  BackupRetention retention;
  uint64_t disk_budget_bytes = 0;   // "disk_budget": all snapshots of one file; 0 = no limit
  uint64_t min_free_bytes = 512ull << 20;  // "min_free_space": never fill the disk below this
  int64_t zstd_level = 3;
  // Change capture (docs/BACKUP.md): every commit's WAL frames kept in segments, so any
  // commit since the oldest snapshot can be restored. Read when a file is opened.
  bool capture = true;
  uint64_t segment_bytes = 16ull << 20;  // "segment_size": an open segment is sealed this big ...
  int64_t segment_interval_ms = 60'000;  // ... or this old
  // "pitr_window": every commit of this last stretch stays a restore point; older segments are
  // compacted to one point per kept snapshot. 0 ("off"): only when over the disk budget.
  int64_t pitr_window_ms = 86'400'000;
  // Objects shipped to S3 are encrypted with this key (AES-256-GCM; 32 bytes or 64 hex digits,
  // mode 600). "" = not encrypted. Local backups stay as they are.
  std::string encryption_key_file;
  friend bool operator==(const BackupConfig&, const BackupConfig&) = default;
};

// "90s", "15m", "1h", "7d", "250ms", "0" or "off" (0) -> milliseconds; nullopt if malformed.
std::optional<int64_t> parse_duration_ms(std::string_view text);
// "512MiB", "10GiB", "1.5GB", "4096", "0" -> bytes (KiB/MiB/GiB/TiB binary, kB/MB/GB/TB
// decimal, B or nothing = bytes); nullopt if malformed.
std::optional<uint64_t> parse_byte_size(std::string_view text);
// The directory a database file's snapshots go to.
std::string backup_dir_for(const BackupConfig& b, const std::string& database_file);

// Shipping the backups to an S3-compatible bucket (docs/BACKUP.md, "S3"). No endpoint: off.
struct S3Config {
  std::string endpoint;             // "https://s3.eu-west-1.amazonaws.com", "http://127.0.0.1:9000"
  std::string bucket;
  std::string prefix = "metagate";  // objects go under <prefix>/<database file name without .db>/
  std::string region = "us-east-1";
  bool path_style = false;          // host/bucket/key (MinIO, Ceph, IP endpoints) instead of bucket.host/key
  uint64_t bandwidth_limit_bytes = 0;  // "bandwidth_limit": upload bytes per second; 0 = unlimited
  // Credentials; empty = AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, then the AWS credentials file.
  std::string access_key_id;
  std::string secret_access_key;
  int64_t interval_ms = 10'000;     // "interval": how often the bucket is brought up to date
  // "probe_interval": while the endpoint does not answer at all, it is tried again at least
  // this often (a failed pass that reached it backs off exponentially, up to 5 minutes).
  int64_t probe_interval_ms = 30'000;
  bool enabled() const { return !endpoint.empty(); }
  friend bool operator==(const S3Config&, const S3Config&) = default;
};

inline constexpr uint16_t kDefaultMetricsPort = 9187;

struct MetricsConfig {
  // HTTP for /metrics, /healthz and /readyz; nullopt = off.
  std::optional<ListenAddress> listen = ListenAddress{"127.0.0.1", kDefaultMetricsPort, false};
};

struct Config {
  std::vector<ListenAddress> listen = {ListenAddress{"127.0.0.1", kDefaultPort, false}};
  int io_threads = 0;  // 0 = one per CPU (see effective_io_threads)
  TlsConfig tls;
  AuthConfig auth;
  // Database name -> where it lives. Exact names win over the "*" entry.
  std::map<std::string, DatabaseConfig, std::less<>> databases = {
      {std::string(kWildcardDatabase), DatabaseConfig::sqlite(std::string(kDefaultSqlitePath))}};
  SqliteConfig sqlite;
  LimitsConfig limits;
  ServerConfig server;
  LogConfig log;
  MetricsConfig metrics;
  BackupConfig backup;
  S3Config s3;

  // Not configuration: things that are allowed but probably wrong (hostssl rules with TLS
  // disabled, trust for non-loopback clients, ...). check-config prints them; serve logs them.
  std::vector<ConfigIssue> warnings;

  unsigned effective_io_threads() const;  // io_threads, or the CPU count when 0
};

// ---- Reading ------------------------------------------------------------------------------

struct ParseOptions {
  // Check that TLS files and auth.mock_secret_file exist and are readable. Off only for tools
  // and tests that look at a configuration meant for another machine.
  bool check_files = true;
};

Config default_config();

// The JSON text (comments // and /* */ are allowed; duplicate keys are errors).
ConfigResult<Config> parse_config(std::string_view json_text, const ParseOptions& options = {});
// Reads and parses a file; errors carry the file name (ConfigError::file).
ConfigResult<Config> load_config_file(const std::filesystem::path& path, const ParseOptions& options = {});

// Cross-field checks on a typed Config (also run by parse_config and apply_overrides):
// listen addresses, TLS mode and files, users, rules, database names and paths. Returns the
// warnings on success.
ConfigResult<std::vector<ConfigIssue>> validate_config(const Config& config, const ParseOptions& options = {});

// ---- Command line -------------------------------------------------------------------------

struct CommandLineOverrides {
  std::vector<std::string> listen;    // --listen HOST:PORT (repeatable): replaces "listen"
  std::optional<std::string> sqlite;  // --sqlite PATH: every database name served from PATH
  std::optional<std::string> metrics;  // --metrics HOST:PORT (or "off")
  std::optional<std::string> postgres;  // --postgres CONNINFO: every database name relayed there
  std::optional<std::string> pool_mode;  // --pool-mode session|transaction (with --postgres)
};

// Applies the overrides, re-validates and refreshes config.warnings. Errors name the option
// ("--listen: ..."). On error config may be partly modified: do not use it.
Expected<Ok, ConfigError> apply_overrides(Config& config, const CommandLineOverrides& overrides,
                                          const ParseOptions& options = {});

// ---- Use ----------------------------------------------------------------------------------

// The SQLite file for a database name from the startup packet: the exact entry, else the "*"
// entry with {database} replaced. Names reaching the "*" entry must be 1-63 characters of
// [A-Za-z0-9_-] (so no path traversal). Otherwise FATAL 3D000 `database "x" does not exist`.
PgResult<std::string> database_route(const Config& config, std::string_view dbname);

// The configuration entry a database name from the startup packet uses (exact name, else
// "*" if the name is valid for it); nullptr if none (3D000).
const DatabaseConfig* database_entry(const Config& config, std::string_view dbname);

// True if dbname may be substituted into the "*" entry's path.
bool is_valid_wildcard_name(std::string_view dbname);

enum class Redact { kSecrets, kNothing };
// The whole effective configuration in the file's format (every key, defaults included).
// Redact::kSecrets replaces password verifiers by "SCRAM-SHA-256$<redacted>" / "md5<redacted>".
// With Redact::kNothing, parse_config(to_json(c).dump()) gives back an equal configuration.
nlohmann::ordered_json to_json(const Config& config, Redact redact = Redact::kSecrets);

// Every leaf key with its value as text (strings bare, other values as JSON), sorted by key.
std::vector<std::pair<std::string, std::string>> flat_settings(const Config& config, Redact redact = Redact::kSecrets);

// Keys (leaf paths as in error messages) whose values differ between two configurations.
std::vector<std::string> changed_keys(const Config& before, const Config& after);
// Whether a key can change on SIGHUP: log.level, log.slow_statement_ms, auth.users.*,
// auth.rules, limits.* (but statement_cache_entries), server.drain_timeout_ms.
bool is_reloadable(std::string_view key);
// What a reload installs: `running` with the reloadable keys taken from `fresh`. The keys that
// changed but need a restart are returned in `restart_needed`.
Config merge_reloadable(const Config& running, const Config& fresh, std::vector<std::string>& restart_needed);

// Names of enum values as written in the file.
std::string_view to_string(TlsMode v);
std::string_view to_string(TlsVersion v);
std::string_view to_string(Backend v);
std::string_view to_string(PoolMode v);
std::string_view to_string(ReadsMode v);
std::string_view to_string(Synchronous v);
std::string_view to_string(LogLevel v);
std::string_view to_string(LogFormat v);

}  // namespace metagate::config
