// Internal state of one translation: scopes of visible relations, parameter types, and the
// typed SQLite expression each PostgreSQL expression becomes.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "metagate/sql/catalog.hpp"
#include "metagate/sql/parser.hpp"
#include "metagate/sql/plan.hpp"
#include "metagate/sql/translator.hpp"
#include "metagate/types/value.hpp"
#include "metagate/types/type_catalog.hpp"
#include "metagate/util/pg_error.hpp"

namespace metagate::sql::tr {

namespace o = types::oid;

// A translated expression: SQLite text plus the PostgreSQL type it has.
struct Expr {
  std::string sql;
  Oid type = 0;          // 0 = unknown (untyped string literal or untyped parameter)
  int32_t typmod = -1;
  std::optional<std::string> unknown_literal;  // raw text of an untyped string literal
  int param = 0;         // > 0: this is the bare parameter $param
  bool is_null = false;  // the NULL constant
  std::string name = "?column?";  // the column name PostgreSQL would give it
  int location = -1;
};

struct ScopeColumn {
  std::string name;
  Oid type = 0;
  int32_t typmod = -1;
  uint32_t table_oid = 0;
  int16_t attnum = 0;
};

struct RangeEntry {
  std::string alias;      // name used to qualify (alias or table name)
  std::string sql_alias;  // the SQLite qualifier emitted
  std::vector<ScopeColumn> columns;
  bool hidden_from_star = false;
};

struct Scope {
  std::vector<RangeEntry> entries;
  const Scope* parent = nullptr;
  // USING/NATURAL join columns merged into one output column: name → sql
  std::vector<std::pair<std::string, std::string>> merged;
};

struct CteDef {
  std::string name;
  std::vector<ScopeColumn> columns;
};

class Ctx {
 public:
  Ctx(const Catalog& cat, const TranslateOptions& opts, std::string_view stmt_text, int stmt_location)
      : cat(cat), opts(opts), stmt_text(stmt_text), stmt_location(stmt_location) {
    char here;
    stack_base = reinterpret_cast<uintptr_t>(&here);
    for (size_t i = 0; i < opts.declared_param_types.size(); ++i) {
      params.push_back(ParamSlot{opts.declared_param_types[i], -1});
    }
  }

  const Catalog& cat;
  const TranslateOptions& opts;
  std::string_view stmt_text;
  int stmt_location;
  std::vector<ParamSlot> params;
  std::vector<std::vector<CteDef>> cte_stack;
  bool writes = false;
  int depth = 0;
  uintptr_t stack_base = 0;
  // Like PostgreSQL's check_stack_depth(): deep expressions fail cleanly (54001) instead of
  // overflowing the thread's stack.
  bool stack_too_deep() const {
    char here;
    auto now = reinterpret_cast<uintptr_t>(&here);
    return (stack_base > now ? stack_base - now : now - stack_base) > kMaxStackBytes;
  }
  static constexpr uintptr_t kMaxStackBytes = 3u * 1024 * 1024;
  int alias_counter = 0;

  // 1-based character position of a parse-tree location (byte offset in the full text).
  int position(int location) const;
  PgError error(std::string_view code, std::string message, int location = -1) const;
  PgError unsupported(std::string what, int location = -1) const;

  ParamSlot& param_slot(int n);
  // Gives an untyped parameter a type (no-op when it has one).
  void set_param_type(int n, Oid type, int32_t typmod = -1);
  const CteDef* find_cte(std::string_view name) const;
  std::string fresh_alias() { return "__mg_" + std::to_string(++alias_counter); }
};

// Small tree helpers.
std::string str_of(const Node& n);  // {"String":{"sval":x}} → x
std::vector<std::string> names_of(const Node& list);
int loc_of(const Node& body);
const Node& field(const Node& body, const char* key);  // null node when absent
bool has(const Node& body, const char* key);

// Expressions (expr.cpp).
PgResult<Expr> translate_expr(Ctx& ctx, const Node& node, const Scope& scope);
// Coerces an expression to a target type for assignment or comparison.
PgResult<Expr> coerce(Ctx& ctx, Expr e, Oid type, int32_t typmod, bool explicit_cast);
PgResult<Expr> coerce_to_bool(Ctx& ctx, Expr e, std::string_view context);
// Resolves a TypeName node to (oid, typmod).
PgResult<std::pair<Oid, int32_t>> resolve_type_name(Ctx& ctx, const Node& type_name);
// SQLite literal for a stored value.
std::string sqlite_literal_for(const types::Value& v);
std::string type_display(Oid t);

// Queries (select.cpp). Produces SQL and output columns.
struct QueryResult {
  std::string sql;
  std::vector<OutputColumn> columns;
};
PgResult<QueryResult> translate_select(Ctx& ctx, const Node& select_body, const Scope* outer);

// Statements.
PgResult<Plan> translate_insert(Ctx& ctx, const Node& body);
PgResult<Plan> translate_update(Ctx& ctx, const Node& body);
PgResult<Plan> translate_delete(Ctx& ctx, const Node& body);
PgResult<Plan> translate_ddl(Ctx& ctx, std::string_view tag, const Node& body);
PgResult<Plan> translate_utility(Ctx& ctx, std::string_view tag, const Node& body);
// EXECUTE name [(constants)]: the parameters in text form.
PgResult<Plan> translate_execute(Ctx& ctx, const Node& body);

// Scope construction for a catalog table.
RangeEntry range_entry_for_table(const Table& t, std::string alias, std::string sql_alias);

}  // namespace metagate::sql::tr
