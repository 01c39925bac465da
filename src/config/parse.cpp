// Reading the JSON configuration into a Config: syntax, duplicate keys, unknown keys, types,
// ranges. Cross-field checks live in validate.cpp.
#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "internal.hpp"

namespace metagate::config {

using nlohmann::json;
using detail::child_key;
using detail::index_key;
using detail::json_quote;

namespace {

using Issues = std::vector<ConfigIssue>;

std::string type_phrase(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return "an integer";
    case json::value_t::number_float: return "a number with a fraction or exponent";
    case json::value_t::string: return "a string";
    case json::value_t::array: return "an array";
    case json::value_t::object: return "an object";
    default: return "an unsupported value";
  }
}

// Levenshtein distance, for "did you mean" suggestions.
size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

// Reads one JSON object: every key the caller asks for is "known"; finish() reports the rest.
class ObjectReader {
 public:
  ObjectReader(const json& obj, std::string path, Issues& issues)
      : obj_(obj), path_(std::move(path)), issues_(issues) {}

  const std::string& path() const { return path_; }
  std::string key(std::string_view k) const { return child_key(path_, k); }
  void error(std::string_view k, std::string message) { issues_.push_back({key(k), std::move(message)}); }
  void type_error(std::string_view k, std::string_view expected, const json& got) {
    std::string msg = "expected " + std::string(expected) + ", got " + type_phrase(got);
    if (got.is_string() && (expected == "an integer" || expected.starts_with("a boolean"))) {
      const std::string& s = got.get_ref<const std::string&>();
      bool integer_text = !s.empty() && s != "-" && std::all_of(s.begin() + (s[0] == '-' ? 1 : 0), s.end(), [](char c) {
        return c >= '0' && c <= '9';
      });
      if ((expected == "an integer" && integer_text) || (expected != "an integer" && (s == "true" || s == "false")))
        msg += " (write " + s + " without quotes)";
    }
    error(k, std::move(msg));
  }

  // The value for k, or nullptr if absent. Marks k as known.
  const json* field(std::string_view k) {
    known_.emplace_back(k);
    auto it = obj_.find(std::string(k));
    return it == obj_.end() ? nullptr : &*it;
  }

  // An object-valued key; nullptr if absent or not an object (then reported).
  const json* object(std::string_view k) {
    const json* v = field(k);
    if (v && !v->is_object()) {
      type_error(k, "an object", *v);
      return nullptr;
    }
    return v;
  }

  template <class T>
  void integer(std::string_view k, T& out) {
    const json* v = field(k);
    if (!v) return;
    if (!v->is_number_integer()) return type_error(k, "an integer", *v);
    std::string full = key(k);
    const detail::IntRange* range = detail::int_range(full);
    if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
      return error(k, v->dump() + " is out of range" +
                          (range ? " (" + std::to_string(range->min) + " to " + std::to_string(range->max) + ")"
                                 : std::string()));
    int64_t n = v->get<int64_t>();
    if (range && (n < range->min || n > range->max)) return error(k, detail::out_of_range_message(n, *range));
    out = static_cast<T>(n);
  }

  void boolean(std::string_view k, bool& out) {
    const json* v = field(k);
    if (!v) return;
    if (!v->is_boolean()) return type_error(k, "a boolean (true or false)", *v);
    out = v->get<bool>();
  }

  // An array of strings (each element checked); absent = left as it is.
  void strings(std::string_view k, std::vector<std::string>& out) {
    const json* v = field(k);
    if (!v) return;
    if (!v->is_array()) return type_error(k, "an array of strings", *v);
    out.clear();
    for (size_t i = 0; i < v->size(); ++i) {
      if (!(*v)[i].is_string()) {
        issues_.push_back({index_key(key(k), i), "expected a string, got " + type_phrase((*v)[i])});
        continue;
      }
      out.push_back((*v)[i].get<std::string>());
    }
  }

  // Returns whether the key was present (and a string).
  bool string(std::string_view k, std::string& out) {
    const json* v = field(k);
    if (!v) return false;
    if (!v->is_string()) {
      type_error(k, "a string", *v);
      return false;
    }
    out = v->get<std::string>();
    return true;
  }

  // Enum names are matched case-insensitively. Returns whether the key was present and valid.
  template <class E, size_t N>
  bool choice(std::string_view k, E& out, const std::pair<std::string_view, E> (&table)[N]) {
    const json* v = field(k);
    if (!v) return false;
    if (!v->is_string()) {
      type_error(k, "a string", *v);
      return false;
    }
    const std::string& s = v->get_ref<const std::string&>();
    for (const auto& [name, value] : table) {
      if (s.size() == name.size() && std::equal(s.begin(), s.end(), name.begin(), [](char a, char b) {
            auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
            return lower(a) == lower(b);
          })) {
        out = value;
        return true;
      }
    }
    error(k, "invalid value " + json_quote(s) + "; expected " + detail::choices(table));
    return false;
  }

  // A size: bytes as an integer, or "10GiB", "512MiB", "0" (parse_byte_size).
  void size(std::string_view k, uint64_t& out) {
    const json* sv = field(k);
    if (!sv) return;
    if (sv->is_number_unsigned()) {
      out = sv->get<uint64_t>();
    } else if (!sv->is_string()) {
      type_error(k, "a size such as \"10GiB\" or \"512MiB\"", *sv);
    } else if (auto n = parse_byte_size(sv->get<std::string>())) {
      out = *n;
    } else {
      error(k, "\"" + sv->get<std::string>() + "\" is not a size (examples: \"10GiB\", \"512MiB\", \"0\")");
    }
  }
  // A duration of at least 1s ("90s", "15m", "1h"), or "off"/"0" (0) when may_be_off.
  void duration(std::string_view k, int64_t& out, bool may_be_off) {
    const json* iv = field(k);
    if (!iv) return;
    if (!iv->is_string()) {
      type_error(k, may_be_off ? "a string such as \"1h\", \"30m\" or \"off\"" : "a string such as \"1m\" or \"30s\"", *iv);
    } else if (auto ms = parse_duration_ms(iv->get<std::string>()); ms && (*ms != 0 || may_be_off)) {
      if (*ms != 0 && *ms < 1000) error(k, may_be_off ? "must be at least 1s (or \"off\")" : "must be at least 1s");
      else out = *ms;
    } else {
      error(k, "\"" + iv->get<std::string>() + "\" is not a duration (examples: \"1h\", \"30m\"" +
                   (may_be_off ? ", \"off\")" : ")"));
    }
  }

  void finish() {
    for (const auto& [k, v] : obj_.items()) {
      if (std::find(known_.begin(), known_.end(), k) != known_.end()) continue;
      std::string msg = "unknown key";
      std::string best;
      size_t best_d = 3;
      for (const std::string& known : known_) {
        size_t d = edit_distance(k, known);
        // A key that shares nothing with the suggestion ("x" -> "s3") gets none.
        if (d < best_d && d < std::max(k.size(), known.size())) best_d = d, best = known;
      }
      if (!best.empty()) msg += " (did you mean " + json_quote(best) + "?)";
      error(k, std::move(msg));
    }
  }

 private:
  const json& obj_;
  std::string path_;
  Issues& issues_;
  std::vector<std::string> known_;
};

// ---- Sections -----------------------------------------------------------------------------

void read_listen(const json& v, std::string_view key, std::vector<ListenAddress>& out, Issues& issues) {
  auto one = [&](const json& item, const std::string& k, std::vector<ListenAddress>& into) {
    if (!item.is_string()) {
      issues.push_back({k, "expected a string \"HOST:PORT\", got " + type_phrase(item)});
      return;
    }
    const std::string& text = item.get_ref<const std::string&>();
    auto addr = parse_listen_address(text);
    if (!addr) {
      issues.push_back({k, "invalid address " + json_quote(text) + ": " + addr.error()});
      return;
    }
    into.push_back(*addr);
  };
  std::vector<ListenAddress> result;
  size_t before = issues.size();
  if (v.is_string()) {
    one(v, std::string(key), result);
  } else if (v.is_array()) {
    if (v.empty()) issues.push_back({std::string(key), "at least one address is required"});
    for (size_t i = 0; i < v.size(); ++i) one(v[i], index_key(key, i), result);
  } else {
    issues.push_back({std::string(key), "expected a string or an array of strings, got " + type_phrase(v)});
  }
  if (issues.size() == before) out = std::move(result);
}

void read_tls(const json& v, std::string_view key, TlsConfig& tls, Issues& issues) {
  ObjectReader r(v, std::string(key), issues);
  bool has_mode = r.choice("mode", tls.mode, detail::kTlsModes);
  r.string("cert_file", tls.cert_file);
  r.string("key_file", tls.key_file);
  r.string("ca_file", tls.ca_file);
  r.choice("min_protocol_version", tls.min_protocol_version, detail::kTlsVersions);
  if (!has_mode && !v.contains("mode"))
    tls.mode = !tls.cert_file.empty() && !tls.key_file.empty() ? TlsMode::kAllow : TlsMode::kDisable;
  r.finish();
}

void read_rules(const json& v, std::string_view key, AuthConfig& auth, Issues& issues) {
  if (!v.is_array()) {
    issues.push_back({std::string(key), "expected an array of pg_hba lines, got " + type_phrase(v)});
    return;
  }
  std::vector<std::string> lines;
  std::vector<auth::HbaRule> rules;
  size_t before = issues.size();
  for (size_t i = 0; i < v.size(); ++i) {
    std::string k = index_key(key, i);
    if (!v[i].is_string()) {
      issues.push_back({k, "expected a string (one pg_hba line), got " + type_phrase(v[i])});
      continue;
    }
    const std::string& line = v[i].get_ref<const std::string&>();
    if (line.find('\n') != std::string::npos) {
      issues.push_back({k, "one rule per array element: the line contains a newline"});
      continue;
    }
    lines.push_back(line);
    auto rule = auth::parse_hba_line(line, static_cast<int>(i + 1));
    if (!rule) {
      issues.push_back({k, detail::strip_hba_prefix(rule.error().message)});
      continue;
    }
    if (*rule) rules.push_back(std::move(**rule));
  }
  if (issues.size() == before) {
    auth.rule_lines = std::move(lines);
    auth.rules = std::move(rules);
  }
}

void read_users(const json& v, std::string_view key, AuthConfig& auth, Issues& issues) {
  auth.users.clear();
  for (const auto& [name, u] : v.items()) {
    std::string uk = child_key(key, name);
    if (!u.is_object()) {
      issues.push_back({uk, "expected an object {\"password\": \"SCRAM-SHA-256$...\"}, got " + type_phrase(u)});
      continue;
    }
    ObjectReader r(u, uk, issues);
    std::string password;
    bool admin = false;
    const json* pw = r.field("password");
    if (pw && !pw->is_string()) {
      r.type_error("password", "a string", *pw);
      pw = nullptr;
    } else if (pw) {
      password = pw->get<std::string>();
    }
    r.boolean("admin", admin);
    r.finish();
    if (!u.contains("password"))
      issues.push_back({uk, "missing key \"password\" (a SCRAM-SHA-256 verifier or md5 hash)"});
    if (!pw) continue;
    if (!password.starts_with("SCRAM-SHA-256$") && !password.starts_with("md5")) {
      r.error("password", detail::plaintext_password_message(name));
      continue;
    }
    auto cred = auth::Credential::parse(password);
    if (!cred) {
      r.error("password", cred.error().message);
      continue;
    }
    auth.users.emplace(name, UserConfig{std::move(*cred), admin});
  }
}

void read_auth(const json& v, std::string_view key, AuthConfig& auth, Issues& issues) {
  ObjectReader r(v, std::string(key), issues);
  if (const json* rules = r.field("rules")) read_rules(*rules, r.key("rules"), auth, issues);
  if (const json* users = r.object("users")) read_users(*users, r.key("users"), auth, issues);
  r.string("mock_secret_file", auth.mock_secret_file);
  r.finish();
}

void read_databases(const json& v, std::string_view key, Config& c, Issues& issues) {
  c.databases.clear();
  for (const auto& [name, d] : v.items()) {
    std::string dk = child_key(key, name);
    if (!d.is_object()) {
      issues.push_back({dk, "expected an object {\"path\": \"...\"}, got " + type_phrase(d)});
      continue;
    }
    ObjectReader r(d, dk, issues);
    DatabaseConfig db;
    r.choice("backend", db.backend, detail::kBackends);
    if (db.backend == Backend::kPostgres) {
      r.string("conninfo", db.conninfo);
      r.choice("pool_mode", db.pool_mode, detail::kPoolModes);
      r.integer("pool_size", db.pool_size);
      r.integer("min_pool_size", db.min_pool_size);
      r.integer("reserve_pool_size", db.reserve_pool_size);
      r.integer("reserve_pool_timeout_ms", db.reserve_pool_timeout_ms);
      r.integer("queue_timeout_ms", db.queue_timeout_ms);
      r.integer("server_lifetime_ms", db.server_lifetime_ms);
      r.integer("server_idle_timeout_ms", db.server_idle_timeout_ms);
      r.integer("server_check_delay_ms", db.server_check_delay_ms);
      r.integer("prepared_statement_cache_size", db.prepared_statement_cache_size);
      r.boolean("reuse_server_connections", db.reuse_server_connections);
      r.integer("health_check_interval_ms", db.health_check_interval_ms);
      r.integer("health_check_timeout_ms", db.health_check_timeout_ms);
      r.integer("failover_hold_ms", db.failover_hold_ms);
      r.integer("failover_hold_max_clients", db.failover_hold_max_clients);
      r.strings("patroni_urls", db.patroni_urls);
      r.choice("reads", db.reads, detail::kReadsModes);
      r.integer("max_replica_lag_bytes", db.max_replica_lag_bytes);
      r.integer("max_replica_lag_ms", db.max_replica_lag_ms);
      r.finish();
      if (!d.contains("conninfo"))
        issues.push_back({dk, "missing key \"conninfo\" (libpq connection string, e.g. \"host=db port=5432\")"});
    } else {
      r.string("path", db.path);
      r.finish();
      if (!d.contains("path")) issues.push_back({dk, "missing key \"path\" (the SQLite file)"});
    }
    c.databases.emplace(name, std::move(db));
  }
}

void read_sqlite(const json& v, std::string_view key, SqliteConfig& s, Issues& issues) {
  ObjectReader r(v, std::string(key), issues);
  r.choice("synchronous", s.synchronous, detail::kSynchronous);
  r.integer("readers", s.readers);
  r.integer("lock_timeout_ms", s.lock_timeout_ms);
  r.integer("cache_size_kib", s.cache_size_kib);
  r.integer("mmap_size_mib", s.mmap_size_mib);
  r.integer("checkpoint_wal_mib", s.checkpoint_wal_mib);
  r.boolean("group_commit", s.group_commit);
  r.integer("group_commit_max_wait_us", s.group_commit_max_wait_us);
  r.finish();
}

void read_limits(const json& v, std::string_view key, LimitsConfig& l, Issues& issues) {
  ObjectReader r(v, std::string(key), issues);
  r.integer("max_connections", l.max_connections);
  r.integer("max_message_bytes", l.max_message_bytes);
  r.integer("max_startup_packet_bytes", l.max_startup_packet_bytes);
  r.integer("statement_cache_entries", l.statement_cache_entries);
  r.integer("idle_session_timeout_ms", l.idle_session_timeout_ms);
  r.integer("max_connections_per_user", l.max_connections_per_user);
  r.integer("idle_in_transaction_timeout_ms", l.idle_in_transaction_timeout_ms);
  r.integer("statement_timeout_ms", l.statement_timeout_ms);
  r.integer("startup_timeout_ms", l.startup_timeout_ms);
  r.integer("auth_failure_delay_ms", l.auth_failure_delay_ms);
  r.integer("auth_failure_delay_max_ms", l.auth_failure_delay_max_ms);
  r.finish();
}

void read_server(const json& v, std::string_view key, ServerConfig& s, Issues& issues) {
  ObjectReader r(v, std::string(key), issues);
  r.string("server_version", s.server_version);
  r.string("timezone", s.timezone);
  r.string("application_name_default", s.application_name_default);
  r.integer("drain_timeout_ms", s.drain_timeout_ms);
  r.finish();
}

void read_log(const json& v, std::string_view key, LogConfig& l, Issues& issues) {
  ObjectReader r(v, std::string(key), issues);
  r.choice("level", l.level, detail::kLogLevels);
  r.choice("format", l.format, detail::kLogFormats);
  r.integer("slow_statement_ms", l.slow_statement_ms);
  r.boolean("redact_statements", l.redact_statements);
  r.finish();
}

void read_metrics(const json& v, std::string_view key, MetricsConfig& m, Issues& issues) {
  ObjectReader r(v, std::string(key), issues);
  if (const json* l = r.field("listen")) {
    if (l->is_null()) {
      m.listen.reset();
    } else if (!l->is_string()) {
      r.type_error("listen", "a string \"HOST:PORT\" or null", *l);
    } else if (auto a = parse_listen_address(l->get<std::string>())) {
      m.listen = *a;
    } else {
      r.error("listen", a.error());
    }
  }
  r.finish();
}

void read_backup(const json& v, std::string_view key, BackupConfig& b, Issues& issues) {
  ObjectReader r(v, std::string(key), issues);
  r.string("dir", b.dir);
  r.duration("interval", b.interval_ms, true);
  r.boolean("capture", b.capture);
  r.string("encryption_key_file", b.encryption_key_file);
  r.duration("segment_interval", b.segment_interval_ms, false);
  r.duration("pitr_window", b.pitr_window_ms, true);
  if (const json* rv = r.object("retention")) {
    ObjectReader rr(*rv, r.key("retention"), issues);
    rr.integer("last", b.retention.last);
    rr.integer("hourly", b.retention.hourly);
    rr.integer("daily", b.retention.daily);
    rr.integer("weekly", b.retention.weekly);
    rr.finish();
  }
  r.size("disk_budget", b.disk_budget_bytes);
  r.size("min_free_space", b.min_free_bytes);
  r.size("segment_size", b.segment_bytes);
  if (b.segment_bytes < 65536) r.error("segment_size", "must be at least 64KiB");
  r.integer("zstd_level", b.zstd_level);
  r.finish();
}

void read_s3(const json& v, std::string_view key, S3Config& s, Issues& issues) {
  ObjectReader r(v, std::string(key), issues);
  r.string("endpoint", s.endpoint);
  r.string("bucket", s.bucket);
  r.string("prefix", s.prefix);
  r.string("region", s.region);
  r.boolean("path_style", s.path_style);
  r.string("access_key_id", s.access_key_id);
  r.string("secret_access_key", s.secret_access_key);
  r.size("bandwidth_limit", s.bandwidth_limit_bytes);
  r.duration("interval", s.interval_ms, false);
  r.duration("probe_interval", s.probe_interval_ms, false);
  if (!s.endpoint.empty()) {
    if (!s.endpoint.starts_with("http://") && !s.endpoint.starts_with("https://"))
      r.error("endpoint", "must start with http:// or https://");
    if (s.bucket.empty()) r.error("bucket", "is required with an endpoint");
  }
  if (s.access_key_id.empty() != s.secret_access_key.empty())
    r.error(s.access_key_id.empty() ? "access_key_id" : "secret_access_key",
            "access_key_id and secret_access_key go together (or neither: the environment or the AWS credentials file)");
  r.finish();
}

void read_root(const json& root, Config& c, Issues& issues) {
  ObjectReader r(root, "", issues);
  if (const json* v = r.field("listen")) read_listen(*v, "listen", c.listen, issues);
  r.integer("io_threads", c.io_threads);
  if (const json* v = r.object("tls")) read_tls(*v, "tls", c.tls, issues);
  if (const json* v = r.object("auth")) read_auth(*v, "auth", c.auth, issues);
  if (const json* v = r.object("databases")) read_databases(*v, "databases", c, issues);
  if (const json* v = r.object("sqlite")) read_sqlite(*v, "sqlite", c.sqlite, issues);
  if (const json* v = r.object("limits")) read_limits(*v, "limits", c.limits, issues);
  if (const json* v = r.object("server")) read_server(*v, "server", c.server, issues);
  if (const json* v = r.object("log")) read_log(*v, "log", c.log, issues);
  if (const json* v = r.object("metrics")) read_metrics(*v, "metrics", c.metrics, issues);
  if (const json* v = r.object("backup")) read_backup(*v, "backup", c.backup, issues);
  if (const json* v = r.object("s3")) read_s3(*v, "s3", c.s3, issues);
  r.finish();
}

// ---- Syntax -------------------------------------------------------------------------------

// Parses with comments allowed and reports duplicate keys (nlohmann keeps the last silently).
Expected<json, Issues> parse_json(std::string_view text) {
  struct Frame {
    bool object;
    std::string path;
    std::string key;
    size_t index = 0;
    std::set<std::string> keys;
  };
  std::vector<Frame> stack;
  Issues duplicates;
  auto child_path = [&]() -> std::string {
    if (stack.empty()) return "";
    Frame& f = stack.back();
    return f.object ? child_key(f.path, f.key) : index_key(f.path, f.index++);
  };
  json::parser_callback_t cb = [&](int, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start: {
        std::string p = child_path();
        stack.push_back(Frame{event == json::parse_event_t::object_start, std::move(p), {}, 0, {}});
        break;
      }
      case json::parse_event_t::key: {
        Frame& f = stack.back();
        f.key = parsed.get<std::string>();
        if (!f.keys.insert(f.key).second)
          duplicates.push_back({child_key(f.path, f.key), "duplicate key (each key may appear only once)"});
        break;
      }
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        if (!stack.empty()) stack.pop_back();
        break;
      case json::parse_event_t::value:
        if (!stack.empty() && !stack.back().object) ++stack.back().index;
        break;
    }
    return true;
  };
  if (std::all_of(text.begin(), text.end(), [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }))
    return unexpected(Issues{{"", "the configuration is empty; write {} for the defaults"}});
  try {
    json j = json::parse(text.begin(), text.end(), cb, /*allow_exceptions=*/true, /*ignore_comments=*/true);
    if (!duplicates.empty()) return unexpected(std::move(duplicates));
    return j;
  } catch (const json::parse_error& e) {
    std::string what = e.what();
    // "[json.exception.parse_error.101] parse error at line 3, column 5: syntax error ..."
    if (size_t p = what.find("] "); what.starts_with("[json.exception") && p != std::string::npos)
      what = what.substr(p + 2);
    return unexpected(Issues{{"", "invalid JSON: " + what}});
  }
}

}  // namespace

ConfigResult<Config> parse_config(std::string_view json_text, const ParseOptions& options) {
  auto doc = parse_json(json_text);
  if (!doc) return unexpected(ConfigError{"", std::move(doc).error()});
  if (!doc->is_object())
    return unexpected(ConfigError{"", {{"", "the configuration must be a JSON object {...}, got " + type_phrase(*doc)}}});
  Config config;
  Issues issues;
  read_root(*doc, config, issues);
  std::set<std::string> failed_sections;
  for (const ConfigIssue& i : issues) failed_sections.insert(std::string(detail::section_of(i.key)));
  auto checked = detail::validate(config, options, &failed_sections);
  if (!checked) issues.insert(issues.end(), checked.error().begin(), checked.error().end());
  if (!issues.empty()) return unexpected(ConfigError{"", std::move(issues)});
  config.warnings = std::move(*checked);
  return config;
}

ConfigResult<Config> load_config_file(const std::filesystem::path& path, const ParseOptions& options) {
  std::string file = path.string();
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    return unexpected(ConfigError{file, {{"", "is a directory, not a configuration file"}}});
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::string why = std::filesystem::exists(path, ec) ? "cannot be read (check its permissions)" : "does not exist";
    return unexpected(ConfigError{file, {{"", why}}});
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return unexpected(ConfigError{file, {{"", "read error"}}});
  auto config = parse_config(text.str(), options);
  if (!config) {
    config.error().file = file;
    return config;
  }
  return config;
}

}  // namespace metagate::config
