// Session settings (GUCs) metagate knows: their canonical names, defaults, and which ones
// PostgreSQL reports to clients in ParameterStatus.
#pragma once

#include <map>
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
const std::map<std::string_view, Guc>& all_gucs();

}  // namespace metagate::server
