// Config -> JSON (SHOW CONFIG, round trips) and the comparison used for SIGHUP reloads.
#include <map>

#include "internal.hpp"

namespace metagate::config {

using nlohmann::ordered_json;

namespace {

std::string secret_text(const auth::Credential& cred, Redact redact) {
  if (redact == Redact::kNothing) return cred.to_string();
  return cred.is_scram() ? "SCRAM-SHA-256$<redacted>" : "md5<redacted>";
}

void flatten(const ordered_json& j, const std::string& path, std::map<std::string, ordered_json>& out) {
  if (j.is_object() && !j.empty()) {
    for (const auto& [k, v] : j.items()) flatten(v, detail::child_key(path, k), out);
  } else {
    out[path] = j;  // arrays (listen, auth.rules) compare as a whole
  }
}

bool key_under(std::string_view key, std::string_view prefix) {
  return key.starts_with(prefix) &&
         (key.size() == prefix.size() || key[prefix.size()] == '.' || key[prefix.size()] == '[');
}

}  // namespace

ordered_json to_json(const Config& c, Redact redact) {
  ordered_json j = ordered_json::object();
  ordered_json listen = ordered_json::array();
  for (const ListenAddress& a : c.listen) listen.push_back(a.to_string());
  j["listen"] = std::move(listen);
  j["io_threads"] = c.io_threads;

  j["tls"] = {{"mode", to_string(c.tls.mode)},
              {"cert_file", c.tls.cert_file},
              {"key_file", c.tls.key_file},
              {"ca_file", c.tls.ca_file},
              {"min_protocol_version", to_string(c.tls.min_protocol_version)}};

  ordered_json users = ordered_json::object();
  for (const auto& [name, u] : c.auth.users)
    users[name] = {{"password", secret_text(u.credential, redact)}, {"admin", u.admin}};
  ordered_json rules = ordered_json::array();
  for (const std::string& line : c.auth.rule_lines) rules.push_back(line);
  j["auth"] = {{"rules", std::move(rules)}, {"users", std::move(users)}, {"mock_secret_file", c.auth.mock_secret_file}};

  ordered_json dbs = ordered_json::object();
  for (const auto& [name, db] : c.databases) {
    if (db.backend == Backend::kPostgres)
      dbs[name] = {{"backend", to_string(db.backend)},
                   {"conninfo", redact == Redact::kSecrets ? redact_conninfo(db.conninfo) : db.conninfo},
                   {"pool_mode", to_string(db.pool_mode)},
                   {"pool_size", db.pool_size},
                   {"min_pool_size", db.min_pool_size},
                   {"reserve_pool_size", db.reserve_pool_size},
                   {"reserve_pool_timeout_ms", db.reserve_pool_timeout_ms},
                   {"queue_timeout_ms", db.queue_timeout_ms},
                   {"server_lifetime_ms", db.server_lifetime_ms},
                   {"server_idle_timeout_ms", db.server_idle_timeout_ms},
                   {"server_check_delay_ms", db.server_check_delay_ms},
                   {"prepared_statement_cache_size", db.prepared_statement_cache_size},
                   {"reuse_server_connections", db.reuse_server_connections},
                   {"health_check_interval_ms", db.health_check_interval_ms},
                   {"health_check_timeout_ms", db.health_check_timeout_ms},
                   {"failover_hold_ms", db.failover_hold_ms},
                   {"failover_hold_max_clients", db.failover_hold_max_clients},
                   {"patroni_urls", db.patroni_urls},
                   {"reads", to_string(db.reads)},
                   {"max_replica_lag_bytes", db.max_replica_lag_bytes},
                   {"max_replica_lag_ms", db.max_replica_lag_ms}};
    else
      dbs[name] = {{"backend", to_string(db.backend)}, {"path", db.path}};
  }
  j["databases"] = std::move(dbs);

  const SqliteConfig& s = c.sqlite;
  j["sqlite"] = {{"synchronous", to_string(s.synchronous)},
                 {"readers", s.readers},
                 {"lock_timeout_ms", s.lock_timeout_ms},
                 {"cache_size_kib", s.cache_size_kib},
                 {"mmap_size_mib", s.mmap_size_mib},
                 {"checkpoint_wal_mib", s.checkpoint_wal_mib},
                 {"group_commit", s.group_commit},
                 {"group_commit_max_wait_us", s.group_commit_max_wait_us}};
  const LimitsConfig& l = c.limits;
  j["limits"] = {{"max_connections", l.max_connections},
                 {"max_message_bytes", l.max_message_bytes},
                 {"max_startup_packet_bytes", l.max_startup_packet_bytes},
                 {"statement_cache_entries", l.statement_cache_entries},
                 {"idle_session_timeout_ms", l.idle_session_timeout_ms},
                 {"max_connections_per_user", l.max_connections_per_user},
                 {"idle_in_transaction_timeout_ms", l.idle_in_transaction_timeout_ms},
                 {"statement_timeout_ms", l.statement_timeout_ms},
                 {"startup_timeout_ms", l.startup_timeout_ms},
                 {"auth_failure_delay_ms", l.auth_failure_delay_ms},
                 {"auth_failure_delay_max_ms", l.auth_failure_delay_max_ms}};
  j["server"] = {{"server_version", c.server.server_version},
                 {"timezone", c.server.timezone},
                 {"application_name_default", c.server.application_name_default},
                 {"drain_timeout_ms", c.server.drain_timeout_ms}};
  j["log"] = {{"level", to_string(c.log.level)},
              {"format", to_string(c.log.format)},
              {"slow_statement_ms", c.log.slow_statement_ms},
              {"redact_statements", c.log.redact_statements}};
  j["metrics"] = {{"listen", c.metrics.listen ? ordered_json(c.metrics.listen->to_string()) : ordered_json(nullptr)}};
  const BackupConfig& b = c.backup;
  j["backup"] = {{"dir", b.dir},
                 {"interval", b.interval_ms == 0          ? std::string("off")
                              : b.interval_ms % 1000 ? std::to_string(b.interval_ms) + "ms"
                                                     : std::to_string(b.interval_ms / 1000) + "s"},
                 {"retention", {{"last", b.retention.last}, {"hourly", b.retention.hourly}, {"daily", b.retention.daily}, {"weekly", b.retention.weekly}}},
                 {"disk_budget", std::to_string(b.disk_budget_bytes)},
                 {"min_free_space", std::to_string(b.min_free_bytes)},
                 {"zstd_level", b.zstd_level},
                 {"capture", b.capture},
                 {"encryption_key_file", b.encryption_key_file},
                 {"segment_size", std::to_string(b.segment_bytes)},
                 {"segment_interval", b.segment_interval_ms % 1000 ? std::to_string(b.segment_interval_ms) + "ms"
                                                                  : std::to_string(b.segment_interval_ms / 1000) + "s"},
                 {"pitr_window", b.pitr_window_ms == 0 ? std::string("off") : std::to_string(b.pitr_window_ms / 1000) + "s"}};
  const S3Config& s3 = c.s3;
  j["s3"] = {{"endpoint", s3.endpoint},
             {"bucket", s3.bucket},
             {"prefix", s3.prefix},
             {"region", s3.region},
             {"path_style", s3.path_style},
             {"bandwidth_limit", std::to_string(s3.bandwidth_limit_bytes)},
             {"access_key_id", s3.access_key_id},
             {"secret_access_key", redact == Redact::kSecrets && !s3.secret_access_key.empty() ? "<redacted>"
                                                                                            : s3.secret_access_key},
             {"interval", std::to_string(s3.interval_ms / 1000) + "s"},
             {"probe_interval", std::to_string(s3.probe_interval_ms / 1000) + "s"}};
  return j;
}

std::vector<std::string> changed_keys(const Config& before, const Config& after) {
  std::map<std::string, ordered_json> a, b;
  flatten(to_json(before, Redact::kNothing), "", a);
  flatten(to_json(after, Redact::kNothing), "", b);
  std::vector<std::string> out;
  for (const auto& [k, v] : a) {
    auto it = b.find(k);
    if (it == b.end() || it->second != v) out.push_back(k);
  }
  for (const auto& [k, v] : b)
    if (!a.contains(k)) out.push_back(k);
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::pair<std::string, std::string>> flat_settings(const Config& c, Redact redact) {
  std::map<std::string, ordered_json> flat;
  flatten(to_json(c, redact), "", flat);
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [k, v] : flat) out.emplace_back(k, v.is_string() ? v.get<std::string>() : v.dump());
  return out;
}

bool is_reloadable(std::string_view key) {
  if (key == "limits.statement_cache_entries") return false;  // sized when a database opens
  return key == "log.level" || key == "log.slow_statement_ms" || key == "log.redact_statements" ||
         key == "server.drain_timeout_ms" ||
         key_under(key, "auth.users") || key_under(key, "auth.rules") || key_under(key, "limits");
}

Config merge_reloadable(const Config& running, const Config& fresh, std::vector<std::string>& restart_needed) {
  restart_needed.clear();
  for (const std::string& k : changed_keys(running, fresh))
    if (!is_reloadable(k)) restart_needed.push_back(k);
  Config out = running;
  out.auth.users = fresh.auth.users;
  out.auth.rules = fresh.auth.rules;
  out.auth.rule_lines = fresh.auth.rule_lines;
  int64_t cache_entries = out.limits.statement_cache_entries;
  out.limits = fresh.limits;
  out.limits.statement_cache_entries = cache_entries;
  out.log.level = fresh.log.level;
  out.log.slow_statement_ms = fresh.log.slow_statement_ms;
  out.log.redact_statements = fresh.log.redact_statements;
  out.server.drain_timeout_ms = fresh.server.drain_timeout_ms;
  out.warnings = fresh.warnings;
  return out;
}

}  // namespace metagate::config
