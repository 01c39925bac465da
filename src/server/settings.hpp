// Session settings (GUCs) metagate knows: their canonical names, defaults, and which ones
// PostgreSQL reports to clients in ParameterStatus.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace metagate::server {

struct Guc {
  std::string_view name;          // lower case, as looked up
  std::string_view display_name;  // as SHOW labels it, e.g. "TimeZone"
  std::string_view default_value;
  bool report = false;            // sent in ParameterStatus at startup and when changed
};

const Guc* find_guc(std::string_view lower_name);

// Time settings in milliseconds (statement_timeout, idle_session_timeout, ...): "0", "1500",
// "5s", "250ms", "2min", "1h", "1d", "500us" (rounded to ms) as PostgreSQL accepts them.
// nullopt when the text is not a valid duration.
std::optional<int64_t> parse_duration_ms(std::string_view text);
// As PostgreSQL shows them: the largest unit that divides the value ("5s", "1500ms", "0").
std::string format_duration_ms(int64_t ms);
const std::map<std::string_view, Guc>& all_gucs();

}  // namespace metagate::server
