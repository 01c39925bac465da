// Checks on a typed Config (listen addresses, TLS, users, rules, databases, values) and the
// command-line overrides.
#include <filesystem>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "internal.hpp"

namespace metagate::config {

using detail::index_key;
using detail::json_quote;

namespace {

using Issues = std::vector<ConfigIssue>;

std::string cwd_note(const std::string& path) {
  if (!path.empty() && path.front() == '/') return "";
  std::error_code ec;
  auto cwd = std::filesystem::current_path(ec);
  return ec ? std::string() : " (relative to the working directory " + cwd.string() + ")";
}

// nullopt if the file exists, is not a directory and can be opened for reading.
std::optional<std::string> check_readable_file(const std::string& path, bool allow_empty = true) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    int err = errno;
    if (err == ENOENT || err == ENOTDIR) return "file " + json_quote(path) + " does not exist" + cwd_note(path);
    return "cannot access " + json_quote(path) + ": " + std::strerror(err);
  }
  if (S_ISDIR(st.st_mode)) return json_quote(path) + " is a directory, not a file";
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "file " + json_quote(path) + " is not readable: " + std::strerror(errno);
  ::close(fd);
  if (!allow_empty && S_ISREG(st.st_mode) && st.st_size == 0) return "file " + json_quote(path) + " is empty";
  return std::nullopt;
}

bool loopback_only(const auth::HbaRule& r) {
  if (r.any_address) return false;
  if (!r.address.v6) return r.mask.bytes[0] == 0xff && r.address.bytes[0] == 127;
  bool full = std::all_of(r.mask.bytes.begin(), r.mask.bytes.end(), [](uint8_t b) { return b == 0xff; });
  return full && r.address == *auth::IpAddress::parse("::1");
}

std::string rule_key(const auth::HbaRule& r) {
  return index_key("auth.rules", static_cast<size_t>(std::max(r.line_number, 1) - 1));
}

void check_listen(const Config& c, Issues& errors) {
  if (c.listen.empty()) errors.push_back({"listen", "at least one address is required"});
  for (size_t i = 0; i < c.listen.size(); ++i) {
    const ListenAddress& a = c.listen[i];
    if (a.port == 0) continue;  // every port-0 socket gets its own ephemeral port
    for (size_t j = 0; j < i; ++j) {
      const ListenAddress& b = c.listen[j];
      if (b.port != a.port || b.ipv6 != a.ipv6) continue;
      if (a.host == b.host) {
        errors.push_back({index_key("listen", i), "duplicate address " + a.to_string() + " (also " + index_key("listen", j) + ")"});
        break;
      }
      if (a.is_unspecified() != b.is_unspecified()) {
        const ListenAddress& wide = a.is_unspecified() ? a : b;
        const ListenAddress& narrow = a.is_unspecified() ? b : a;
        errors.push_back({index_key("listen", i), narrow.to_string() + " overlaps " + wide.to_string() + " (" +
                                                      index_key("listen", j) + "), which already listens on every " +
                                                      (a.ipv6 ? "IPv6" : "IPv4") + " address"});
        break;
      }
    }
  }
}

void check_metrics(const Config& c, Issues& errors, Issues& warnings) {
  if (!c.metrics.listen || c.metrics.listen->port == 0) return;
  const ListenAddress& m = *c.metrics.listen;
  for (size_t i = 0; i < c.listen.size(); ++i) {
    const ListenAddress& a = c.listen[i];
    if (a.port == m.port && a.ipv6 == m.ipv6 && (a.host == m.host || a.is_unspecified() || m.is_unspecified()))
      errors.push_back({"metrics.listen", m.to_string() + " is also a client address (" + index_key("listen", i) + ")"});
  }
  if (!m.is_loopback())
    warnings.push_back({"metrics.listen", m.to_string() + " is not a loopback address: /metrics has no authentication"});
}

void check_tls(const Config& c, const ParseOptions& options, Issues& errors, Issues& warnings) {
  const TlsConfig& t = c.tls;
  if (t.enabled()) {
    std::string why = "required when tls.mode is " + json_quote(to_string(t.mode));
    if (t.cert_file.empty()) errors.push_back({"tls.cert_file", why});
    if (t.key_file.empty()) errors.push_back({"tls.key_file", why});
  } else {
    if (!t.cert_file.empty() && t.key_file.empty())
      errors.push_back({"tls.key_file", "required together with tls.cert_file"});
    if (t.cert_file.empty() && !t.key_file.empty())
      errors.push_back({"tls.cert_file", "required together with tls.key_file"});
  }
  if (!t.enabled() || !options.check_files) return;
  for (auto [key, path] : {std::pair<const char*, const std::string*>{"tls.cert_file", &t.cert_file},
                           {"tls.key_file", &t.key_file}, {"tls.ca_file", &t.ca_file}}) {
    if (path->empty()) continue;
    if (auto why = check_readable_file(*path)) errors.push_back({key, *why});
  }
  struct stat st {};
  if (!t.key_file.empty() && ::stat(t.key_file.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
    // PostgreSQL's rule: 0600 (or 0640 when owned by root).
    bool ok = st.st_uid == 0 ? (st.st_mode & 0037) == 0 : (st.st_mode & 0077) == 0;
    if (!ok)
      warnings.push_back({"tls.key_file", "private key " + json_quote(t.key_file) +
                                              " is accessible by group or others; restrict it (chmod 600)"});
  }
}

void check_auth(const Config& c, const ParseOptions& options, Issues& errors, Issues& warnings) {
  const AuthConfig& a = c.auth;
  if (a.rules.empty())
    errors.push_back({"auth.rules", "no rules: every connection would be refused (default: trust for 127.0.0.1/32 "
                                    "and ::1/128)"});
  for (const auto& [name, user] : a.users)
    if (auto why = detail::check_user_name(name)) errors.push_back({detail::child_key("auth.users", name), *why});
  if (!a.mock_secret_file.empty() && options.check_files)
    if (auto why = check_readable_file(a.mock_secret_file, /*allow_empty=*/false))
      errors.push_back({"auth.mock_secret_file", *why});

  // Warnings: rules that cannot match or are risky.
  bool public_listen = std::any_of(c.listen.begin(), c.listen.end(), [](const ListenAddress& l) { return !l.is_loopback(); });
  std::string first_password_rule;
  for (const auth::HbaRule& r : a.rules) {
    std::string k = rule_key(r);
    if (r.type == auth::HbaConnType::kHostSsl && !c.tls.enabled())
      warnings.push_back({k, "hostssl rule can never match: TLS is disabled (tls.mode)"});
    if (r.type == auth::HbaConnType::kHostNoSsl && c.tls.mode == TlsMode::kRequire)
      warnings.push_back({k, "hostnossl rule can never match: tls.mode is \"require\""});
    if (r.method == auth::Method::kTrust && public_listen && !loopback_only(r))
      warnings.push_back({k, "trust for non-loopback clients: anyone who can reach the listen address connects "
                             "without a password"});
    if (r.method == auth::Method::kPassword && r.type != auth::HbaConnType::kHostSsl && !loopback_only(r))
      warnings.push_back({k, "method \"password\" sends passwords in cleartext over connections without TLS; "
                             "prefer scram-sha-256"});
    bool needs_password = r.method == auth::Method::kPassword || r.method == auth::Method::kMd5 ||
                          r.method == auth::Method::kScramSha256;
    if (needs_password && first_password_rule.empty()) first_password_rule = k;
    for (const auth::HbaName& db : r.databases)
      if (db.kind == auth::HbaName::Kind::kName && !database_route(c, db.name))
        warnings.push_back({k, "database " + json_quote(db.name) + " is not served by any entry in databases"});
  }
  // Unless a PostgreSQL database checks passwords itself (pass-through: no password in its
  // conninfo), password rules without users always fail.
  bool passthrough = false;
  for (const auto& [name, db] : c.databases) {
    if (db.backend != Backend::kPostgres) continue;
    auto t = parse_conninfo(db.conninfo);
    if (t && t->password.empty()) passthrough = true;
  }
  if (a.users.empty() && !first_password_rule.empty() && !passthrough)
    warnings.push_back({"auth.users", "no users are configured, so password rules (" + first_password_rule +
                                          ", ...) always fail"});
}

void check_databases(const Config& c, Issues& errors) {
  if (c.databases.empty())
    errors.push_back({"databases", "no databases: every connection would fail with \"database does not exist\"; "
                                   "add an entry, e.g. \"*\": {\"path\": \"./data/{database}.db\"}"});
  for (const auto& [name, db] : c.databases) {
    std::string k = detail::child_key("databases", name);
    if (auto why = detail::check_database_name(name)) {
      errors.push_back({k, *why});
      continue;
    }
    if (db.backend == Backend::kPostgres) {
      auto t = parse_conninfo(db.conninfo);
      if (!t) {
        errors.push_back({detail::child_key(k, "conninfo"), t.error()});
      } else {
        for (const auto& [what, file] : {std::pair{"sslrootcert", t->sslrootcert}, std::pair{"sslcert", t->sslcert},
                                         std::pair{"sslkey", t->sslkey}}) {
          if (file.empty() || (std::string_view(what) == "sslrootcert" && file == "system")) continue;
          std::error_code fec;
          if (!std::filesystem::is_regular_file(file, fec))
            errors.push_back({detail::child_key(k, "conninfo"), std::string(what) + " file \"" + file + "\" does not exist"});
        }
        if (!db.patroni_urls.empty() && db.patroni_urls.size() != t->hosts.size())
          errors.push_back({detail::child_key(k, "patroni_urls"),
                            std::to_string(db.patroni_urls.size()) + " URLs for " + std::to_string(t->hosts.size()) +
                                " hosts in conninfo: give one Patroni REST API URL per host, in the same order"});
        if (!db.patroni_urls.empty() && (t->user.empty() || t->password.empty() || t->hosts.size() < 2))
          errors.push_back({detail::child_key(k, "patroni_urls"),
                            "Patroni is asked only for a cluster: a conninfo with several hosts and its own user and password"});
        for (size_t i = 0; i < db.patroni_urls.size(); ++i)
          if (!db.patroni_urls[i].starts_with("http://") && !db.patroni_urls[i].starts_with("https://"))
            errors.push_back({detail::child_key(k, "patroni_urls") + "[" + std::to_string(i) + "]",
                              "\"" + db.patroni_urls[i] + "\" is not an http:// or https:// URL"});
        if ((t->sslmode == "verify-ca" || t->sslmode == "verify-full") && t->sslrootcert.empty())
          errors.push_back({detail::child_key(k, "conninfo"),
                            "sslmode=" + t->sslmode + " needs sslrootcert=FILE (the CA that signed the server's certificate) "
                            "or sslrootcert=system (the operating system's CA store)"});
      }
      struct Range {
        const char* key;
        int64_t value, lo, hi;
      };
      const Range ranges[] = {
          {"pool_size", db.pool_size, 1, 100000},
          {"min_pool_size", db.min_pool_size, 0, 100000},
          {"reserve_pool_size", db.reserve_pool_size, 0, 100000},
          {"reserve_pool_timeout_ms", db.reserve_pool_timeout_ms, 0, 2147483647},
          {"queue_timeout_ms", db.queue_timeout_ms, 0, 2147483647},
          {"server_lifetime_ms", db.server_lifetime_ms, 0, 2147483647},
          {"server_idle_timeout_ms", db.server_idle_timeout_ms, 0, 2147483647},
          {"server_check_delay_ms", db.server_check_delay_ms, -1, 2147483647},
          {"prepared_statement_cache_size", db.prepared_statement_cache_size, 1, 1000000},
          {"health_check_interval_ms", db.health_check_interval_ms, 100, 3600000},
          {"health_check_timeout_ms", db.health_check_timeout_ms, 100, 3600000},
          {"failover_hold_ms", db.failover_hold_ms, 0, 2147483647},
          {"failover_hold_max_clients", db.failover_hold_max_clients, 0, 10000000},
          {"max_replica_lag_bytes", db.max_replica_lag_bytes, 0, INT64_MAX},
          {"max_replica_lag_ms", db.max_replica_lag_ms, 0, 2147483647},
      };
      for (const Range& r : ranges) {
        if (r.value < r.lo || r.value > r.hi)
          errors.push_back({detail::child_key(k, r.key), std::to_string(r.value) + " is out of range (" +
                                                             std::to_string(r.lo) + " to " + std::to_string(r.hi) + ")"});
      }
      if (db.min_pool_size > db.pool_size)
        errors.push_back({detail::child_key(k, "min_pool_size"), "larger than pool_size (" + std::to_string(db.pool_size) + ")"});
      continue;
    }
    if (auto why = detail::check_sqlite_path(db.path, name == kWildcardDatabase))
      errors.push_back({detail::child_key(k, "path"), *why});
  }
}

void check_values(const Config& c, Issues& errors) {
  for (const detail::IntRange& r : detail::int_ranges()) {
    int64_t v = r.get(c);
    if (v < r.min || v > r.max) errors.push_back({std::string(r.key), detail::out_of_range_message(v, r)});
  }
  if (auto why = detail::check_server_version(c.server.server_version))
    errors.push_back({"server.server_version", *why});
  if (auto why = detail::check_timezone(c.server.timezone)) errors.push_back({"server.timezone", *why});
  if (auto why = detail::check_application_name(c.server.application_name_default))
    errors.push_back({"server.application_name_default", *why});
}

}  // namespace

namespace detail {

Expected<std::vector<ConfigIssue>, std::vector<ConfigIssue>> validate(const Config& config,
                                                                      const ParseOptions& options,
                                                                      const std::set<std::string>* skip_sections) {
  Issues errors, warnings;
  check_listen(config, errors);
  check_values(config, errors);
  check_tls(config, options, errors, warnings);
  check_metrics(config, errors, warnings);
  check_auth(config, options, errors, warnings);
  check_databases(config, errors);
  if (skip_sections) {
    std::erase_if(errors, [&](const ConfigIssue& i) { return skip_sections->contains(std::string(section_of(i.key))); });
    if (!skip_sections->empty()) return unexpected(std::move(errors));  // the caller has errors of its own
  }
  if (!errors.empty()) return unexpected(std::move(errors));
  return warnings;
}

}  // namespace detail

ConfigResult<std::vector<ConfigIssue>> validate_config(const Config& config, const ParseOptions& options) {
  auto r = detail::validate(config, options);
  if (!r) return unexpected(ConfigError{"", std::move(r).error()});
  return std::move(*r);
}

Expected<Ok, ConfigError> apply_overrides(Config& config, const CommandLineOverrides& overrides,
                                          const ParseOptions& options) {
  Issues errors;
  if (!overrides.listen.empty()) {
    std::vector<ListenAddress> listen;
    for (const std::string& text : overrides.listen) {
      auto addr = parse_listen_address(text);
      if (!addr) errors.push_back({"--listen", "invalid address " + json_quote(text) + ": " + addr.error()});
      else listen.push_back(*addr);
    }
    config.listen = std::move(listen);
  }
  if (overrides.sqlite) {
    if (auto why = detail::check_sqlite_path(*overrides.sqlite, /*wildcard=*/true)) {
      errors.push_back({"--sqlite", *why});
    } else {
      config.databases.clear();
      config.databases.emplace(std::string(kWildcardDatabase), DatabaseConfig::sqlite(*overrides.sqlite));
    }
  }
  if (overrides.metrics) {
    if (*overrides.metrics == "off") {
      config.metrics.listen.reset();
    } else if (auto addr = parse_listen_address(*overrides.metrics)) {
      config.metrics.listen = *addr;
    } else {
      errors.push_back({"--metrics", "invalid address " + json_quote(*overrides.metrics) + ": " + addr.error()});
    }
  }
  if (overrides.postgres) {
    DatabaseConfig db{Backend::kPostgres, "", *overrides.postgres, PoolMode::kSession};
    if (overrides.pool_mode) {
      if (*overrides.pool_mode == "transaction") db.pool_mode = PoolMode::kTransaction;
      else if (*overrides.pool_mode != "session")
        errors.push_back({"--pool-mode", "invalid value " + json_quote(*overrides.pool_mode) + "; expected session or transaction"});
    }
    if (overrides.sqlite) errors.push_back({"--postgres", "--postgres and --sqlite cannot be used together"});
    config.databases.clear();
    config.databases.emplace(std::string(kWildcardDatabase), std::move(db));
  } else if (overrides.pool_mode) {
    errors.push_back({"--pool-mode", "only with --postgres"});
  }
  if (!errors.empty()) return unexpected(ConfigError{"", std::move(errors)});
  auto checked = detail::validate(config, options);
  if (!checked) {
    for (ConfigIssue& i : checked.error()) {
      std::string_view section = detail::section_of(i.key);
      if (section == "listen" && !overrides.listen.empty()) i.key = "--listen";
      if (section == "databases" && overrides.sqlite) i.key = "--sqlite";
      if (section == "databases" && overrides.postgres) i.key = "--postgres";
      if (section == "metrics" && overrides.metrics) i.key = "--metrics";
    }
    return unexpected(ConfigError{"", std::move(checked).error()});
  }
  config.warnings = std::move(*checked);
  return Ok{};
}

}  // namespace metagate::config
