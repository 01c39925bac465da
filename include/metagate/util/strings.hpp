// Small string helpers shared by every module.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace metagate::util {

// ASCII-only lower/upper case (PostgreSQL folds unquoted identifiers this way).
std::string ascii_lower(std::string_view s);
std::string ascii_upper(std::string_view s);
bool iequals(std::string_view a, std::string_view b);
bool starts_with_ci(std::string_view s, std::string_view prefix);
std::string_view trim(std::string_view s);
std::vector<std::string_view> split(std::string_view s, char sep);
std::optional<int64_t> parse_int64(std::string_view s);
// Quotes an identifier for SQLite (and PostgreSQL): "a""b".
std::string quote_ident(std::string_view s);
// Quotes a string literal: 'it''s'.
std::string quote_literal(std::string_view s);

}  // namespace metagate::util
