// Statement shapes: caching translations of simple-protocol statements that differ only in
// their integer literals ("SELECT abalance FROM pgbench_accounts WHERE aid = 12345").
//
// statement_shape() tokenises the text with PostgreSQL's lexical rules (strings, quoted
// identifiers, dollar quotes, comments, parameters) — only to find integer literal tokens and
// make a cache key of everything else; it never interprets SQL. Whether a translation really is
// independent of those values is decided by the translator itself (make_shape_template):
// the statement is translated a second time with probe values in place of the literals, and
// the template is accepted only if the two plans agree in everything but the literal values,
// and each probe value shows up in the SQLite SQL exactly where the original value was. A
// statement whose translation depends on a value (ORDER BY 1, varchar(10), 10::text, ...)
// fails that check and is always translated from its text.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "metagate/sql/catalog.hpp"
#include "metagate/sql/plan.hpp"
#include "metagate/sql/translator.hpp"

namespace metagate::sql {

struct StatementShape {
  std::string key;                                   // the text with each literal as "\x01"
  std::vector<int64_t> literals;                     // their values, in order (all int4)
  std::vector<std::pair<size_t, size_t>> spans;      // their byte ranges [begin, end) in the text
};

// Empty when the text cannot be shaped: it has $n parameters, an unterminated token, a byte
// 0x01, an integer literal outside int4, or more than kMaxShapeLiterals literals.
inline constexpr size_t kMaxShapeLiterals = 256;
std::optional<StatementShape> statement_shape(std::string_view text);

// The plan for any statement of this shape: `plan` (translated from `text`) with each literal
// replaced by the SQLite parameter ?1..?k (bound to the literal values, as storage integers).
// nullopt when the translation depends on the values. `plan` must be a kQuery plan without
// client parameters.
std::optional<Plan> make_shape_template(std::string_view text, const StatementShape& shape, const Plan& plan,
                                        const Catalog& catalog);

}  // namespace metagate::sql
