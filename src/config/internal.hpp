// Shared between the config sources: key paths, enum name tables, integer ranges and the
// per-key checks used both when reading JSON and when validating a typed Config.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "metagate/config/config.hpp"

namespace metagate::config::detail {

// "a" + "b" -> "a.b"; keys that are not [A-Za-z0-9_*-]+ are bracketed: a["x.y"].
std::string child_key(std::string_view parent, std::string_view key);
std::string index_key(std::string_view parent, size_t index);
// The first component of a key path: "sqlite" for "sqlite.readers", "listen" for "listen[0]".
std::string_view section_of(std::string_view key);
// A JSON string literal for messages ("x" with escapes); never throws.
std::string json_quote(std::string_view s);

inline constexpr std::pair<std::string_view, TlsMode> kTlsModes[] = {
    {"disable", TlsMode::kDisable}, {"allow", TlsMode::kAllow}, {"require", TlsMode::kRequire}};
inline constexpr std::pair<std::string_view, TlsVersion> kTlsVersions[] = {
    {"TLSv1.2", TlsVersion::kTls12}, {"TLSv1.3", TlsVersion::kTls13}};
inline constexpr std::pair<std::string_view, Backend> kBackends[] = {{"sqlite", Backend::kSqlite},
                                                                     {"postgres", Backend::kPostgres}};
inline constexpr std::pair<std::string_view, PoolMode> kPoolModes[] = {{"session", PoolMode::kSession},
                                                                       {"transaction", PoolMode::kTransaction}};
inline constexpr std::pair<std::string_view, ReadsMode> kReadsModes[] = {
    {"primary", ReadsMode::kPrimary}, {"replicas", ReadsMode::kReplicas}, {"prefer-replicas", ReadsMode::kPreferReplicas}};
inline constexpr std::pair<std::string_view, Synchronous> kSynchronous[] = {
    {"normal", Synchronous::kNormal}, {"full", Synchronous::kFull}, {"extra", Synchronous::kExtra}};
inline constexpr std::pair<std::string_view, LogLevel> kLogLevels[] = {
    {"trace", LogLevel::kTrace}, {"debug", LogLevel::kDebug},  {"info", LogLevel::kInfo},
    {"warn", LogLevel::kWarn},   {"error", LogLevel::kError},  {"critical", LogLevel::kCritical},
    {"off", LogLevel::kOff}};
inline constexpr std::pair<std::string_view, LogFormat> kLogFormats[] = {{"plain", LogFormat::kPlain},
                                                                         {"json", LogFormat::kJson}};

template <class E, size_t N>
std::string_view name_of(const std::pair<std::string_view, E> (&table)[N], E v) {
  for (const auto& [name, value] : table)
    if (value == v) return name;
  return "?";
}

// "one of "a", "b" or "c""
template <class E, size_t N>
std::string choices(const std::pair<std::string_view, E> (&table)[N]) {
  std::string s = N > 1 ? "one of " : "";
  for (size_t i = 0; i < N; ++i) {
    if (i > 0) s += i + 1 == N ? " or " : ", ";
    s += json_quote(table[i].first);
  }
  return s;
}

// Integer keys and their accepted ranges (inclusive).
struct IntRange {
  std::string_view key;
  int64_t min;
  int64_t max;
  int64_t (*get)(const Config&);
};
const IntRange* int_range(std::string_view key);
std::span<const IntRange> int_ranges();
std::string out_of_range_message(int64_t value, const IntRange& r);

// Per-key checks; nullopt = fine, else the message (without the key).
std::optional<std::string> check_sqlite_path(std::string_view path, bool wildcard);
std::optional<std::string> check_database_name(std::string_view name);
std::optional<std::string> check_user_name(std::string_view name);
std::optional<std::string> check_server_version(std::string_view v);
std::optional<std::string> check_timezone(std::string_view tz);
std::optional<std::string> check_application_name(std::string_view s);

// The hba line parser's error without its "pg_hba line N: " prefix.
std::string strip_hba_prefix(std::string message);

// Plaintext passwords are refused with this explanation (never echoing the value).
std::string plaintext_password_message(std::string_view user);

// Cross-field and per-value checks on a typed Config: the warnings, or the problems found.
// Problems in the sections named in `skip_sections` (sections whose reading already failed)
// are left out, so that one mistake is not reported twice.
Expected<std::vector<ConfigIssue>, std::vector<ConfigIssue>> validate(
    const Config& config, const ParseOptions& options, const std::set<std::string>* skip_sections = nullptr);

}  // namespace metagate::config::detail
