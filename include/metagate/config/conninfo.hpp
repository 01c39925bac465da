// Building libpq connection strings (the parsing side is parse_conninfo in config.hpp).
#pragma once

#include <string>
#include <string_view>

namespace metagate::config {

// A conninfo value in single quotes, with ' and \ escaped, as libpq reads it.
std::string quote_conninfo_value(std::string_view v);

}  // namespace metagate::config
