// Identifier quoting exactly as PostgreSQL's quote_ident() does it (used in indexdef,
// error messages and anything PostgreSQL prints with identifiers).
#pragma once

#include <string>
#include <string_view>

namespace metagate::sql {

// True when PostgreSQL's quote_ident() would leave the name bare.
bool ident_is_plain(std::string_view name);
// quote_ident(): "Name", "user", plain_name.
std::string pg_quote_ident(std::string_view name);

}  // namespace metagate::sql
