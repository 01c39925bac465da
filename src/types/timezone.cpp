// Time zones metagate can evaluate without a tz database: UTC aliases, fixed offsets
// (ISO and POSIX notation), Etc/GMT±N, and PG's fixed-offset abbreviations (EST, CEST, ...).
#include <array>
#include <cmath>
#include <string>

#include "internal.hpp"
#include "tz_internal.hpp"

namespace metagate::types::detail {
namespace {

struct Abbrev {
  std::string_view name;
  int32_t offset;  // seconds east
};

// From PostgreSQL 15's pg_timezone_abbrevs (timezone_abbreviations = 'Default').
constexpr std::array kAbbrevs = {
    Abbrev{"utc", 0}, Abbrev{"gmt", 0}, Abbrev{"z", 0}, Abbrev{"ut", 0}, Abbrev{"zulu", 0},
    Abbrev{"wet", 0}, Abbrev{"west", 3600}, Abbrev{"bst", 3600}, Abbrev{"cet", 3600},
    Abbrev{"cest", 7200}, Abbrev{"eet", 7200}, Abbrev{"eest", 10800}, Abbrev{"ist", 7200},
    Abbrev{"msk", 10800}, Abbrev{"est", -18000}, Abbrev{"edt", -14400}, Abbrev{"cst", -21600},
    Abbrev{"cdt", -18000}, Abbrev{"mst", -25200}, Abbrev{"mdt", -21600}, Abbrev{"pst", -28800},
    Abbrev{"pdt", -25200}, Abbrev{"akst", -32400}, Abbrev{"akdt", -28800}, Abbrev{"hst", -36000},
    Abbrev{"jst", 32400}, Abbrev{"kst", 32400}, Abbrev{"hkt", 28800}, Abbrev{"sgt", 28800},
    Abbrev{"pht", 28800}, Abbrev{"awst", 28800}, Abbrev{"acst", 34200}, Abbrev{"aest", 36000},
    Abbrev{"aedt", 39600}, Abbrev{"nzst", 43200}, Abbrev{"nzdt", 46800},
};

// Full zone names that are UTC.
constexpr std::array<std::string_view, 17> kUtcNames = {
    "utc", "gmt", "z", "zulu", "ut", "uct", "universal", "greenwich", "gmt0", "gmt+0", "gmt-0",
    "etc/utc", "etc/uct", "etc/gmt", "etc/universal", "etc/zulu", "etc/greenwich"};

std::string lower_str(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower(c);
  return out;
}

// [+-]h[h][:mm[:ss]] or [+-]hhmm: seconds (sign applied); nullopt if malformed.
std::optional<int32_t> parse_hms_offset(std::string_view s) {
  if (s.empty()) return std::nullopt;
  int sign = 1;
  if (s[0] == '+' || s[0] == '-') {
    sign = s[0] == '-' ? -1 : 1;
    s.remove_prefix(1);
  }
  int parts[3] = {0, 0, 0};
  int n = 0;
  size_t k = 0;
  while (n < 3) {
    const size_t start = k;
    int64_t v = 0;
    while (k < s.size() && is_digit(s[k]) && k - start < 9) v = v * 10 + (s[k++] - '0');
    if (k == start) return std::nullopt;
    if (n == 0 && k == s.size() && k > 2) {  // hhmm
      parts[0] = static_cast<int>(v / 100);
      parts[1] = static_cast<int>(v % 100);
      n = 2;
      break;
    }
    parts[n++] = static_cast<int>(v);
    if (k == s.size()) break;
    if (s[k] != ':') return std::nullopt;
    ++k;
  }
  if (k != s.size()) return std::nullopt;
  if (parts[0] > 15 || parts[1] >= 60 || parts[2] >= 60) return std::nullopt;
  return sign * (parts[0] * 3600 + parts[1] * 60 + parts[2]);
}

}  // namespace

std::optional<int32_t> zone_abbrev_offset(std::string_view lower_name) {
  for (const auto& a : kAbbrevs)
    if (a.name == lower_name) return a.offset;
  for (auto n : kUtcNames)
    if (n == lower_name) return 0;
  // Etc/GMT+N is N hours WEST (POSIX sign).
  constexpr std::string_view kEtc = "etc/gmt";
  if (lower_name.size() > kEtc.size() + 1 && lower_name.starts_with(kEtc) &&
      (lower_name[kEtc.size()] == '+' || lower_name[kEtc.size()] == '-')) {
    auto off = parse_hms_offset(lower_name.substr(kEtc.size()));
    if (off && *off % 3600 == 0 && std::abs(*off) <= 14 * 3600) return -*off;
  }
  return std::nullopt;
}

int32_t session_offset(const SessionContext& ctx) {
  if (ctx.timezone == "UTC") return 0;
  return datetime::session_timezone_offset(ctx.timezone).value_or(0);
}

}  // namespace metagate::types::detail

namespace metagate::types::datetime {

std::optional<int32_t> session_timezone_offset(std::string_view tz) {
  using namespace detail;
  const std::string s = lower_str(trim_space(tz));
  if (s.empty()) return std::nullopt;
  for (auto n : kUtcNames)
    if (n == s) return 0;
  // tzdata's fixed-offset zones named like abbreviations.
  if (s == "est") return -5 * 3600;
  if (s == "mst") return -7 * 3600;
  if (s == "hst") return -10 * 3600;
  if (s.starts_with("etc/gmt")) return zone_abbrev_offset(s);
  // A plain number is hours EAST of UTC ('+02', '2', '-3.5'), as PG's check_timezone does.
  {
    char* end = nullptr;
    const double h = std::strtod(s.c_str(), &end);
    if (end != s.c_str() && *end == '\0') {
      if (!std::isfinite(h) || std::abs(h) > 14 + 59.0 / 60) return std::nullopt;
      return static_cast<int32_t>(std::lround(h * 3600));
    }
  }
  // Otherwise a POSIX zone without DST rules: [STD or <STD>]offset, offset hours WEST
  // ('+05:30' and 'UTC+05:30' are 5:30 west, '<+02>-02' is 2 east).
  size_t k = 0;
  if (s[0] == '<') {
    k = s.find('>');
    if (k == std::string::npos) return std::nullopt;
    ++k;
  } else {
    while (k < s.size() && s[k] >= 'a' && s[k] <= 'z') ++k;
    if (k != 0 && k < 3) return std::nullopt;
  }
  if (k == s.size()) return std::nullopt;
  auto off = parse_hms_offset(std::string_view(s).substr(k));
  if (!off) return std::nullopt;
  return -*off;
}

}  // namespace metagate::types::datetime
