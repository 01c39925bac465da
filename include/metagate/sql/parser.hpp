// The libpg_query adapter: PostgreSQL 15's own grammar turns SQL text into a parse tree
// (JSON, held as nlohmann::json). Nothing else in metagate reads SQL text.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "metagate/util/pg_error.hpp"

namespace metagate::sql {

using Node = nlohmann::json;

struct RawStatement {
  Node tree;             // the statement node, e.g. {"SelectStmt": {...}}
  std::string_view text; // this statement's text inside the script (no trailing ';')
  int location = 0;      // byte offset of the statement in the script
};

struct ParsedScript {
  std::vector<RawStatement> statements;  // empty for "" or ";"
};

// Parses one or more statements. Syntax errors come back as 42601 with PostgreSQL's
// message ("syntax error at or near \"x\"") and the 1-based character position.
PgResult<ParsedScript> parse(std::string_view sql);

// The statement text with every constant replaced by $1, $2, ... (libpg_query's normalize, as
// pg_stat_statements shows statements): for logs, where values may be secrets. Text that does
// not parse comes back as "<unparsable statement, N bytes>"; nothing of it is shown.
std::string redact_literals(std::string_view sql);

// The node's single key ("SelectStmt"), and its body.
std::string_view node_tag(const Node& n);
const Node& node_body(const Node& n);

}  // namespace metagate::sql
