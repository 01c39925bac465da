// The table of session settings (GUCs) metagate accepts, with PostgreSQL 15's defaults.
#include "settings.hpp"

namespace metagate::server {

const std::map<std::string_view, Guc>& all_gucs() {
  static const std::map<std::string_view, Guc> table = [] {
    std::map<std::string_view, Guc> m;
    auto add = [&](std::string_view name, std::string_view display, std::string_view def, bool report = false) {
      m.emplace(name, Guc{name, display, def, report});
    };
    add("application_name", "application_name", "", true);
    add("bytea_output", "bytea_output", "hex");
    add("client_encoding", "client_encoding", "UTF8", true);
    add("client_min_messages", "client_min_messages", "notice");
    add("datestyle", "DateStyle", "ISO, MDY", true);
    add("default_transaction_isolation", "default_transaction_isolation", "read committed");
    add("default_transaction_read_only", "default_transaction_read_only", "off", true);
    add("escape_string_warning", "escape_string_warning", "on");
    add("extra_float_digits", "extra_float_digits", "1");
    add("idle_in_transaction_session_timeout", "idle_in_transaction_session_timeout", "0");
    add("idle_session_timeout", "idle_session_timeout", "0");
    add("in_hot_standby", "in_hot_standby", "off", true);
    add("integer_datetimes", "integer_datetimes", "on", true);
    add("intervalstyle", "IntervalStyle", "postgres", true);
    add("is_superuser", "is_superuser", "on", true);
    add("jit", "jit", "off");
    add("lc_messages", "lc_messages", "C.UTF-8");
    add("lock_timeout", "lock_timeout", "0");
    add("max_connections", "max_connections", "100");
    add("max_identifier_length", "max_identifier_length", "63");
    add("row_security", "row_security", "on");
    add("search_path", "search_path", "\"$user\", public");
    add("server_encoding", "server_encoding", "UTF8", true);
    add("server_version", "server_version", "15.8", true);
    add("server_version_num", "server_version_num", "150008");
    add("session_authorization", "session_authorization", "", true);
    add("standard_conforming_strings", "standard_conforming_strings", "on", true);
    add("statement_timeout", "statement_timeout", "0");
    add("synchronous_commit", "synchronous_commit", "on");
    add("timezone", "TimeZone", "UTC", true);
    add("transaction_isolation", "transaction_isolation", "read committed");
    add("transaction_read_only", "transaction_read_only", "off");
    add("work_mem", "work_mem", "4MB");
    add("xmloption", "xmloption", "content");
    return m;
  }();
  return table;
}

const Guc* find_guc(std::string_view lower_name) {
  const auto& t = all_gucs();
  auto it = t.find(lower_name);
  return it == t.end() ? nullptr : &it->second;
}

std::optional<int64_t> parse_duration_ms(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  size_t i = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
  if (i == 0 || i > 12) return std::nullopt;
  int64_t n = 0;
  for (size_t k = 0; k < i; ++k) n = n * 10 + (text[k] - '0');
  std::string_view unit = text.substr(i);
  while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
  if (unit.empty() || unit == "ms") return n;
  if (unit == "us") return (n + 500) / 1000;
  if (unit == "s") return n * 1000;
  if (unit == "min") return n * 60'000;
  if (unit == "h") return n * 3'600'000;
  if (unit == "d") return n * 86'400'000;
  return std::nullopt;
}

std::string format_duration_ms(int64_t ms) {
  if (ms == 0) return "0";
  struct Unit {
    int64_t size;
    const char* name;
  };
  for (Unit u : {Unit{86'400'000, "d"}, Unit{3'600'000, "h"}, Unit{60'000, "min"}, Unit{1000, "s"}})
    if (ms % u.size == 0) return std::to_string(ms / u.size) + u.name;
  return std::to_string(ms) + "ms";
}

}  // namespace metagate::server
