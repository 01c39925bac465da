// Whether a statement is provably read-only — safe to run on a streaming replica: one plain
// SELECT (or VALUES / TABLE), with no locking clause (FOR UPDATE/SHARE), no SELECT INTO, no
// data-modifying CTE, and calling only functions known to have no side effects and to give
// the same answer on a replica (an allowlist of built-ins; any other function, including
// every user-defined one, sends the statement to the primary). Parsed with libpg_query; a
// cheap look at the first word turns most other statements away without parsing. No I/O.
#pragma once

#include <string_view>

namespace metagate::sql {

bool provably_read_only(std::string_view text);

}  // namespace metagate::sql
