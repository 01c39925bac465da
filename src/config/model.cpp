// The configuration model: defaults, listen addresses, per-key checks, database routing.
#include <algorithm>
#include <thread>

#include "internal.hpp"
#include "metagate/util/strings.hpp"

namespace metagate::config {

namespace detail {

namespace {
bool simple_key(std::string_view k) {
  return !k.empty() && std::all_of(k.begin(), k.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '*';
  });
}

bool is_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

constexpr IntRange kIntRanges[] = {
    {"io_threads", 0, 1024, [](const Config& c) -> int64_t { return c.io_threads; }},
    {"sqlite.readers", 1, 64, [](const Config& c) -> int64_t { return c.sqlite.readers; }},
    {"sqlite.lock_timeout_ms", 0, 86'400'000, [](const Config& c) { return c.sqlite.lock_timeout_ms; }},
    {"sqlite.cache_size_kib", 0, 16 * 1024 * 1024, [](const Config& c) { return c.sqlite.cache_size_kib; }},
    {"sqlite.mmap_size_mib", 0, 1024 * 1024, [](const Config& c) { return c.sqlite.mmap_size_mib; }},
    {"sqlite.checkpoint_wal_mib", 1, 64 * 1024, [](const Config& c) { return c.sqlite.checkpoint_wal_mib; }},
    {"sqlite.group_commit_max_wait_us", 0, 1'000'000,
     [](const Config& c) { return c.sqlite.group_commit_max_wait_us; }},
    {"limits.max_connections", 1, 1'000'000, [](const Config& c) { return c.limits.max_connections; }},
    {"limits.max_message_bytes", 1024, 0x3fffffff, [](const Config& c) { return c.limits.max_message_bytes; }},
    {"limits.max_startup_packet_bytes", 1024, 1024 * 1024,
     [](const Config& c) { return c.limits.max_startup_packet_bytes; }},
    {"limits.statement_cache_entries", 0, 10'000'000,
     [](const Config& c) { return c.limits.statement_cache_entries; }},
    {"limits.idle_session_timeout_ms", 0, 2147483647,
     [](const Config& c) { return c.limits.idle_session_timeout_ms; }},
    {"limits.max_connections_per_user", 0, 1'000'000, [](const Config& c) { return c.limits.max_connections_per_user; }},
    {"limits.idle_in_transaction_timeout_ms", 0, 2147483647,
     [](const Config& c) { return c.limits.idle_in_transaction_timeout_ms; }},
    {"limits.statement_timeout_ms", 0, 2147483647, [](const Config& c) { return c.limits.statement_timeout_ms; }},
    {"limits.startup_timeout_ms", 100, 600'000, [](const Config& c) { return c.limits.startup_timeout_ms; }},
    {"limits.auth_failure_delay_ms", 0, 60'000, [](const Config& c) { return c.limits.auth_failure_delay_ms; }},
    {"limits.auth_failure_delay_max_ms", 0, 600'000, [](const Config& c) { return c.limits.auth_failure_delay_max_ms; }},
    {"server.drain_timeout_ms", 0, 86'400'000, [](const Config& c) { return c.server.drain_timeout_ms; }},
    {"log.slow_statement_ms", -1, 2147483647, [](const Config& c) { return c.log.slow_statement_ms; }},
    {"backup.retention.last", 0, 100'000, [](const Config& c) { return c.backup.retention.last; }},
    {"backup.retention.hourly", 0, 100'000, [](const Config& c) { return c.backup.retention.hourly; }},
    {"backup.retention.daily", 0, 100'000, [](const Config& c) { return c.backup.retention.daily; }},
    {"backup.retention.weekly", 0, 100'000, [](const Config& c) { return c.backup.retention.weekly; }},
    {"backup.zstd_level", 1, 19, [](const Config& c) { return c.backup.zstd_level; }},
};
}  // namespace

std::string child_key(std::string_view parent, std::string_view key) {
  std::string s(parent);
  if (simple_key(key)) {
    if (!s.empty()) s += '.';
    s += key;
  } else {
    s += '[';
    s += json_quote(key);
    s += ']';
  }
  return s;
}

std::string index_key(std::string_view parent, size_t index) {
  return std::string(parent) + "[" + std::to_string(index) + "]";
}

std::string_view section_of(std::string_view key) {
  size_t end = key.find_first_of(".[");
  return key.substr(0, end);
}

std::string json_quote(std::string_view s) {
  return nlohmann::json(std::string(s)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::span<const IntRange> int_ranges() { return kIntRanges; }

const IntRange* int_range(std::string_view key) {
  for (const IntRange& r : kIntRanges)
    if (r.key == key) return &r;
  return nullptr;
}

std::string out_of_range_message(int64_t value, const IntRange& r) {
  return std::to_string(value) + " is out of range (" + std::to_string(r.min) + " to " + std::to_string(r.max) +
         ")";
}

std::optional<std::string> check_sqlite_path(std::string_view path, bool wildcard) {
  if (path.empty()) return "the SQLite file path must not be empty";
  if (path.find('\0') != std::string_view::npos) return "the path contains a NUL character";
  if (path == ":memory:" || path.starts_with("file:"))
    return "in-memory databases and \"file:\" URIs are not supported; give a file path";
  if (path.back() == '/') return "\"" + std::string(path) + "\" is a directory; give a file path";
  // Placeholders: only {database}, and only in the "*" entry.
  if (!wildcard && path.find(kDatabasePlaceholder) != std::string_view::npos)
    return "{database} can only be used in the \"*\" entry (this entry serves a single name)";
  std::string rest(path);
  for (size_t i; (i = rest.find(kDatabasePlaceholder)) != std::string::npos;)
    rest.erase(i, kDatabasePlaceholder.size());
  if (size_t b = rest.find_first_of("{}"); b != std::string::npos) {
    size_t close = rest.find('}', b + 1);
    std::string what = rest[b] == '}' || close == std::string::npos ? rest.substr(b, 1) : rest.substr(b, close - b + 1);
    return "unknown placeholder or stray brace " + json_quote(what) + " (only {database} is supported)";
  }
  return std::nullopt;
}

std::optional<std::string> check_database_name(std::string_view name) {
  if (name == kWildcardDatabase) return std::nullopt;
  if (name.empty()) return "a database name must not be empty";
  if (name.size() > kMaxNameLength)
    return "database names are at most 63 bytes (PostgreSQL truncates longer ones), so no client could "
           "connect to this one";
  if (std::any_of(name.begin(), name.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; }))
    return "the database name contains control characters";
  if (name.find('*') != std::string_view::npos)
    return "\"*\" is only allowed on its own, as the entry for every other database name";
  return std::nullopt;
}

std::optional<std::string> check_user_name(std::string_view name) {
  if (name.empty()) return "a user name must not be empty";
  if (name.size() > kMaxNameLength)
    return "user names are at most 63 bytes (PostgreSQL truncates longer ones), so this user could never "
           "log in";
  if (std::any_of(name.begin(), name.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; }))
    return "the user name contains control characters";
  return std::nullopt;
}

std::optional<std::string> check_server_version(std::string_view v) {
  auto parts = util::split(v, '.');
  bool ok = parts.size() == 2 && is_digits(parts[0]) && is_digits(parts[1]) && parts[0].size() <= 2 &&
            parts[1].size() <= 2 && parts[0][0] != '0';
  if (ok) {
    int major = std::stoi(std::string(parts[0]));
    if (major < 10) ok = false;
  }
  if (!ok) return "invalid version " + json_quote(v) + "; expected MAJOR.MINOR with MAJOR >= 10, e.g. \"15.8\"";
  return std::nullopt;
}

std::optional<std::string> check_timezone(std::string_view tz) {
  if (tz.empty()) return "the time zone must not be empty (e.g. \"UTC\")";
  if (tz.size() > kMaxNameLength) return "the time zone name is too long";
  if (!std::all_of(tz.begin(), tz.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '/' ||
               c == '_' || c == '+' || c == '-' || c == ':' || c == '.';
      }))
    return "invalid time zone " + json_quote(tz) + " (e.g. \"UTC\", \"Europe/Paris\", \"+02:00\")";
  return std::nullopt;
}

std::optional<std::string> check_application_name(std::string_view s) {
  if (s.size() > kMaxNameLength) return "application_name is at most 63 bytes";
  if (!std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c < 0x7f; }))
    return "application_name must be printable ASCII";
  return std::nullopt;
}

std::string strip_hba_prefix(std::string message) {
  constexpr std::string_view kPrefix = "pg_hba line ";
  if (message.starts_with(kPrefix)) {
    size_t colon = message.find(": ");
    if (colon != std::string::npos) return message.substr(colon + 2);
  }
  return message;
}

std::string plaintext_password_message(std::string_view user) {
  return "plaintext passwords are not accepted; store a SCRAM-SHA-256 verifier (\"SCRAM-SHA-256$4096:...\") "
         "or an md5 hash instead. Make one with `metagate passwd " +
         std::string(user) +
         "`, or in PostgreSQL with SET password_encryption = 'scram-sha-256'; CREATE ROLE ... PASSWORD "
         "'...'; SELECT rolpassword FROM pg_authid";
}

}  // namespace detail

using detail::json_quote;

// ---- Errors -------------------------------------------------------------------------------

std::string ConfigIssue::to_string() const { return key.empty() ? message : key + ": " + message; }

std::string ConfigError::to_string() const {
  std::string s;
  for (const ConfigIssue& i : issues) {
    if (!s.empty()) s += '\n';
    if (!file.empty()) s += file + ": ";
    s += i.to_string();
  }
  return s;
}

// ---- Listen addresses ---------------------------------------------------------------------

std::string ListenAddress::to_string() const {
  return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

bool ListenAddress::is_loopback() const {
  auto ip = auth::IpAddress::parse(host);
  if (!ip) return false;
  if (ip->is_v4_mapped()) return ip->unmapped().bytes[0] == 127;
  if (!ip->v6) return ip->bytes[0] == 127;
  return *ip == *auth::IpAddress::parse("::1");
}

bool ListenAddress::is_unspecified() const { return host == "0.0.0.0" || host == "::"; }

Expected<ListenAddress, std::string> parse_listen_address(std::string_view text) {
  constexpr std::string_view kExample = " (expected HOST:PORT, e.g. 127.0.0.1:5432 or [::1]:5432)";
  auto fail = [](std::string why) { return unexpected(std::move(why)); };
  if (text.empty()) return fail("empty address" + std::string(kExample));
  std::string_view host, port;
  bool bracketed = text.front() == '[';
  if (bracketed) {
    size_t close = text.find(']');
    if (close == std::string_view::npos) return fail("missing \"]\" after the IPv6 address" + std::string(kExample));
    host = text.substr(1, close - 1);
    std::string_view rest = text.substr(close + 1);
    if (rest.empty()) return fail("missing port" + std::string(kExample));
    if (rest.front() != ':') return fail("expected \":PORT\" after \"]\"" + std::string(kExample));
    port = rest.substr(1);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return fail("missing port" + std::string(kExample));
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos)
      return fail("IPv6 addresses must be in brackets, e.g. [::1]:5432");
  }
  if (host.empty() || host == "*")
    return fail("missing host; use 0.0.0.0:PORT for every IPv4 address or [::]:PORT for every IPv6 address");
  if (port.empty()) return fail("missing port" + std::string(kExample));
  if (!std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) || port.size() > 5)
    return fail("invalid port \"" + std::string(port) + "\"");
  unsigned long p = std::stoul(std::string(port));
  if (p > 65535) return fail("port " + std::string(port) + " is out of range (0 to 65535)");
  if (host.find('%') != std::string_view::npos) return fail("IPv6 zone indices (%...) are not supported");
  auto ip = auth::IpAddress::parse(host);
  if (!ip) {
    if (!bracketed && std::any_of(host.begin(), host.end(), [](char c) {
          return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        }))
      return fail("host names are not supported; use a numeric address (127.0.0.1 rather than localhost)");
    return fail("invalid IP address \"" + std::string(host) + "\"");
  }
  if (bracketed && !ip->v6) return fail("brackets are only for IPv6 addresses; write " + std::string(host) + ":" +
                                        std::string(port));
  return ListenAddress{ip->to_string(), static_cast<uint16_t>(p), ip->v6};
}

// ---- Defaults and small helpers -----------------------------------------------------------

std::vector<std::string> AuthConfig::default_rule_lines() {
  return {"host all all 127.0.0.1/32 trust", "host all all ::1/128 trust"};
}

std::vector<auth::HbaRule> AuthConfig::default_rules() {
  std::vector<auth::HbaRule> rules;
  int n = 0;
  for (const std::string& line : default_rule_lines()) {
    auto r = auth::parse_hba_line(line, ++n);
    if (r && *r) rules.push_back(std::move(**r));
  }
  return rules;
}

const UserConfig* AuthConfig::find_user(std::string_view name) const {
  auto it = users.find(name);
  return it == users.end() ? nullptr : &it->second;
}

int ServerConfig::server_version_num() const {
  auto parts = util::split(server_version, '.');
  if (parts.size() != 2) return 0;
  auto major = util::parse_int64(parts[0]);
  auto minor = util::parse_int64(parts[1]);
  if (!major || !minor) return 0;
  return static_cast<int>(*major * 10000 + *minor);
}

unsigned Config::effective_io_threads() const {
  if (io_threads > 0) return static_cast<unsigned>(io_threads);
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : n;
}

Config default_config() { return Config{}; }

std::string_view to_string(TlsMode v) { return detail::name_of(detail::kTlsModes, v); }
std::string_view to_string(TlsVersion v) { return detail::name_of(detail::kTlsVersions, v); }
std::string_view to_string(Backend v) { return detail::name_of(detail::kBackends, v); }
std::string_view to_string(PoolMode v) { return detail::name_of(detail::kPoolModes, v); }
std::string_view to_string(ReadsMode v) { return detail::name_of(detail::kReadsModes, v); }
std::string_view to_string(Synchronous v) { return detail::name_of(detail::kSynchronous, v); }
std::string_view to_string(LogLevel v) { return detail::name_of(detail::kLogLevels, v); }
std::string_view to_string(LogFormat v) { return detail::name_of(detail::kLogFormats, v); }

// ---- Routing ------------------------------------------------------------------------------

bool is_valid_wildcard_name(std::string_view dbname) {
  return !dbname.empty() && dbname.size() <= kMaxNameLength &&
         std::all_of(dbname.begin(), dbname.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                  c == '-';
         });
}

const DatabaseConfig* database_entry(const Config& config, std::string_view dbname) {
  if (dbname != kWildcardDatabase) {
    auto it = config.databases.find(dbname);
    if (it != config.databases.end()) return &it->second;
  }
  auto wild = config.databases.find(kWildcardDatabase);
  if (wild == config.databases.end() || !is_valid_wildcard_name(dbname)) return nullptr;
  return &wild->second;
}

PgResult<std::string> database_route(const Config& config, std::string_view dbname) {
  auto missing = [&] {
    return unexpected(
        PgError::fatal(sqlstate::kInvalidCatalogName, "database \"" + std::string(dbname) + "\" does not exist"));
  };
  if (dbname != kWildcardDatabase) {
    auto it = config.databases.find(dbname);
    if (it != config.databases.end()) return it->second.path;
  }
  auto wild = config.databases.find(kWildcardDatabase);
  if (wild == config.databases.end() || !is_valid_wildcard_name(dbname)) return missing();
  std::string path = wild->second.path;
  for (size_t i = 0; (i = path.find(kDatabasePlaceholder, i)) != std::string::npos; i += dbname.size())
    path.replace(i, kDatabasePlaceholder.size(), dbname);
  return path;
}

// ---- Units --------------------------------------------------------------------------------

namespace {
// "12.5" -> 12.5 with the rest of the text in `unit`; false when there is no number.
bool split_number(std::string_view text, double& value, std::string& unit) {
  size_t i = 0;
  while (i < text.size() && text[i] == ' ') ++i;
  size_t start = i;
  while (i < text.size() && ((text[i] >= '0' && text[i] <= '9') || text[i] == '.')) ++i;
  if (i == start) return false;
  std::string num(text.substr(start, i - start));
  if (std::count(num.begin(), num.end(), '.') > 1 || num.front() == '.' || num.back() == '.') return false;
  value = std::stod(num);
  while (i < text.size() && text[i] == ' ') ++i;
  unit = util::ascii_lower(text.substr(i));
  while (!unit.empty() && unit.back() == ' ') unit.pop_back();
  return true;
}
}  // namespace

std::optional<int64_t> parse_duration_ms(std::string_view text) {
  if (util::ascii_lower(text) == "off") return 0;
  double v = 0;
  std::string unit;
  if (!split_number(text, v, unit)) return std::nullopt;
  double ms;
  if (unit == "ms") ms = v;
  else if (unit == "s" || (unit.empty() && v == 0)) ms = v * 1e3;
  else if (unit == "m" || unit == "min") ms = v * 60e3;
  else if (unit == "h") ms = v * 3600e3;
  else if (unit == "d") ms = v * 86400e3;
  else return std::nullopt;
  if (ms > 365.0 * 86400e3) return std::nullopt;
  return static_cast<int64_t>(ms);
}

std::optional<uint64_t> parse_byte_size(std::string_view text) {
  double v = 0;
  std::string unit;
  if (!split_number(text, v, unit)) return std::nullopt;
  double mult;
  if (unit.empty() || unit == "b") mult = 1;
  else if (unit == "kib") mult = 1024.0;
  else if (unit == "mib") mult = 1024.0 * 1024;
  else if (unit == "gib") mult = 1024.0 * 1024 * 1024;
  else if (unit == "tib") mult = 1024.0 * 1024 * 1024 * 1024;
  else if (unit == "kb") mult = 1e3;
  else if (unit == "mb") mult = 1e6;
  else if (unit == "gb") mult = 1e9;
  else if (unit == "tb") mult = 1e12;
  else return std::nullopt;
  double bytes = v * mult;
  if (bytes > 1e18) return std::nullopt;
  return static_cast<uint64_t>(bytes);
}

std::string backup_dir_for(const BackupConfig& b, const std::string& database_file) {
  std::filesystem::path f(database_file);
  std::string stem = f.stem().string();
  if (stem.empty()) stem = "database";
  std::filesystem::path base = b.dir.empty() ? (f.parent_path().empty() ? std::filesystem::path(".") : f.parent_path()) / "backups"
                                             : std::filesystem::path(b.dir);
  return (base / stem).string();
}

}  // namespace metagate::config
