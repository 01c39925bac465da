// The translator: one PostgreSQL statement (parse tree) + the catalog → a Plan whose SQL
// runs on SQLite with PostgreSQL's semantics and result types. Pure: no I/O, no globals.
#pragma once

#include <string_view>

#include "metagate/sql/catalog.hpp"
#include "metagate/sql/parser.hpp"
#include "metagate/sql/plan.hpp"
#include "metagate/util/pg_error.hpp"

namespace metagate::sql {

struct TranslateOptions {
  // Parameter types declared by the client in Parse (0 = unspecified).
  std::vector<Oid> declared_param_types;
  // The whole text the client sent (error positions are relative to it).
  std::string_view full_text;
};

PgResult<Plan> translate(const RawStatement& stmt, const Catalog& catalog, const TranslateOptions& opts);

// Name of the internal SQLite table holding sequences.
inline constexpr std::string_view kSequenceTable = "__mg_sequences";
// Name of the internal SQLite table holding the catalog document.
inline constexpr std::string_view kCatalogTable = "__mg_catalog";

}  // namespace metagate::sql
