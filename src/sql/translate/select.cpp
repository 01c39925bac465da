// Queries: SELECT (with FROM, joins, subqueries, CTEs, set operations, VALUES, GROUP BY,
// ORDER BY with PostgreSQL's NULL ordering, LIMIT/OFFSET) → SQLite SELECT.
#include <algorithm>

#include "context.hpp"
#include "metagate/util/strings.hpp"

namespace metagate::sql::tr {

using util::quote_ident;

namespace {

struct FromResult {
  std::string sql;
};

PgResult<FromResult> translate_from_item(Ctx& ctx, const Node& node, Scope& scope, const Scope* outer);

std::vector<std::string> alias_colnames(const Node& alias) { return names_of(field(alias, "colnames")); }

PgResult<FromResult> translate_range_var(Ctx& ctx, const Node& body, Scope& scope) {
  std::string schema = body.value("schemaname", std::string());
  std::string rel = body.value("relname", std::string());
  int location = loc_of(body);
  const Node& alias = field(body, "alias");
  std::string aliasname = alias.is_object() ? alias.value("aliasname", rel) : rel;
  RangeEntry entry;
  std::string storage;
  if (schema.empty()) {
    if (const CteDef* cte = ctx.find_cte(rel)) {
      entry.columns = cte->columns;
      storage = rel;
    }
  }
  if (storage.empty()) {
    if (schema.empty() || schema == "pg_catalog" || schema == "information_schema") {
      if (const SystemRelation* sr = find_system_relation(schema, rel)) {
        entry = range_entry_for_table(sr->table, aliasname, aliasname);
        storage = sr->storage;
      }
    }
  }
  if (storage.empty() && schema != "pg_catalog" && schema != "information_schema") {
    if (const Table* t = ctx.cat.find_table(relation_key(schema, rel))) {
      entry = range_entry_for_table(*t, aliasname, aliasname);
      storage = t->name;
    }
  }
  if (storage.empty()) {
    std::string shown = schema.empty() ? rel : schema + "." + rel;
    return unexpected(ctx.error(sqlstate::kUndefinedTable, "relation \"" + shown + "\" does not exist", location));
  }
  entry.alias = aliasname;
  entry.sql_alias = aliasname;
  auto cols = alias_colnames(alias);
  for (size_t i = 0; i < cols.size() && i < entry.columns.size(); ++i) entry.columns[i].name = cols[i];
  for (const auto& e : scope.entries) {
    if (e.alias == aliasname)
      return unexpected(ctx.error(sqlstate::kDuplicateAlias, "table name \"" + aliasname + "\" specified more than once", location));
  }
  FromResult r;
  r.sql = quote_ident(storage) + " AS " + quote_ident(aliasname);
  if (!cols.empty()) {
    // SQLite has no column aliases on tables: project under the new names.
    const Table* t = ctx.cat.find_table(relation_key(schema, rel));
    std::string proj = "(SELECT ";
    for (size_t i = 0; i < entry.columns.size(); ++i) {
      std::string orig = t ? t->columns[i].name : entry.columns[i].name;
      proj += (i ? ", " : "") + quote_ident(orig) + " AS " + quote_ident(entry.columns[i].name);
    }
    r.sql = proj + " FROM " + quote_ident(storage) + ") AS " + quote_ident(aliasname);
  }
  scope.entries.push_back(std::move(entry));
  return r;
}

PgResult<FromResult> translate_subselect(Ctx& ctx, const Node& body, Scope& scope, const Scope* outer) {
  if (body.value("lateral", false)) return unexpected(ctx.unsupported("LATERAL subqueries", -1));
  const Node& alias = field(body, "alias");
  const Node& sub = field(field(body, "subquery"), "SelectStmt");
  auto q = translate_select(ctx, sub, outer);
  if (!q) return unexpected(q.error());
  std::string aliasname = alias.is_object() ? alias.value("aliasname", std::string()) : "";
  if (aliasname.empty()) aliasname = ctx.fresh_alias();
  auto cols = alias_colnames(alias);
  RangeEntry entry;
  entry.alias = aliasname;
  entry.sql_alias = aliasname;
  for (size_t i = 0; i < q->columns.size(); ++i) {
    ScopeColumn c;
    c.name = i < cols.size() ? cols[i] : q->columns[i].name;
    c.type = q->columns[i].type;
    c.typmod = q->columns[i].typmod;
    entry.columns.push_back(c);
  }
  FromResult r;
  if (!cols.empty()) {
    // The inner query aliases every output; re-project them under the alias column names.
    std::string sel = "(SELECT ";
    for (size_t i = 0; i < entry.columns.size(); ++i) {
      sel += (i ? ", " : "") + quote_ident(q->columns[i].name) + " AS " + quote_ident(entry.columns[i].name);
    }
    r.sql = sel + " FROM (" + q->sql + ")) AS " + quote_ident(aliasname);
  } else {
    r.sql = "(" + q->sql + ") AS " + quote_ident(aliasname);
  }
  scope.entries.push_back(std::move(entry));
  return r;
}

// Functions in FROM: generate_series(start, stop [, step]) over integers, as a recursive CTE
// (SQLite's own generate_series is an optional extension). Other functions: 0A000.
PgResult<FromResult> translate_range_function(Ctx& ctx, const Node& body, Scope& scope, const Scope* outer) {
  if (body.value("lateral", false) || body.value("ordinality", false) || body.value("is_rowsfrom", false))
    return unexpected(ctx.unsupported("this form of function in FROM", -1));
  const Node& fns = field(body, "functions");
  if (!fns.is_array() || fns.size() != 1) return unexpected(ctx.unsupported("functions in FROM", -1));
  const Node& pair = field(fns[0], "List");
  const Node& items = field(pair, "items");
  if (!items.is_array() || items.empty() || node_tag(items[0]) != "FuncCall")
    return unexpected(ctx.unsupported("functions in FROM", -1));
  const Node& call = node_body(items[0]);
  auto names = names_of(field(call, "funcname"));
  std::string fname = names.empty() ? "" : names.back();
  const Node& args = field(call, "args");
  if (fname != "generate_series" || !args.is_array() || args.size() < 2 || args.size() > 3)
    return unexpected(ctx.unsupported("the function " + fname + " in FROM", loc_of(call)));
  Scope arg_scope;
  arg_scope.parent = outer;
  std::vector<Expr> a;
  Oid t = o::kInt4;
  for (const auto& n : args) {
    auto e = translate_expr(ctx, n, arg_scope);
    if (!e) return unexpected(e.error());
    bool integer = e->type == o::kInt2 || e->type == o::kInt4 || e->type == o::kInt8;
    if (e->type != 0 && e->type != o::kUnknown && !integer)
      return unexpected(ctx.unsupported("generate_series over " + type_display(e->type), loc_of(call)));
    if (e->type == o::kInt8) t = o::kInt8;
    a.push_back(std::move(*e));
  }
  const Node& alias = field(body, "alias");
  std::string aliasname = alias.is_object() ? alias.value("aliasname", std::string()) : "";
  if (aliasname.empty()) aliasname = "generate_series";
  auto cols = alias_colnames(alias);
  std::string colname = cols.empty() ? aliasname : cols[0];
  std::string step = a.size() == 3 ? a[2].sql : "1";
  std::string cte = quote_ident("__gs_" + aliasname);
  FromResult r;
  r.sql = "(WITH RECURSIVE " + cte + "(v) AS (SELECT " + a[0].sql + " UNION ALL SELECT v + (" + step + ") FROM " + cte +
          " WHERE (" + step + ") > 0 AND v + (" + step + ") <= " + a[1].sql + " OR (" + step + ") < 0 AND v + (" + step +
          ") >= " + a[1].sql + ") SELECT v AS " + quote_ident(colname) + " FROM " + cte + " WHERE (" + step + ") > 0 AND v <= " +
          a[1].sql + " OR (" + step + ") < 0 AND v >= " + a[1].sql + ") AS " + quote_ident(aliasname);
  RangeEntry entry;
  entry.alias = aliasname;
  entry.sql_alias = aliasname;
  ScopeColumn c;
  c.name = colname;
  c.type = t;
  entry.columns.push_back(c);
  scope.entries.push_back(std::move(entry));
  return r;
}

PgResult<FromResult> translate_join(Ctx& ctx, const Node& body, Scope& scope, const Scope* outer) {
  std::string jt = body.value("jointype", std::string("JOIN_INNER"));
  size_t left_start = scope.entries.size();
  auto l = translate_from_item(ctx, field(body, "larg"), scope, outer);
  if (!l) return l;
  size_t right_start = scope.entries.size();
  auto r = translate_from_item(ctx, field(body, "rarg"), scope, outer);
  if (!r) return r;
  if (has(body, "alias")) return unexpected(ctx.unsupported("aliases on JOIN expressions", -1));
  std::string kw = jt == "JOIN_LEFT" ? " LEFT JOIN " : jt == "JOIN_RIGHT" ? " RIGHT JOIN " : jt == "JOIN_FULL" ? " FULL JOIN " : " JOIN ";
  FromResult out;
  out.sql = l->sql + kw + r->sql;
  std::vector<std::string> using_cols = names_of(field(body, "usingClause"));
  if (body.value("isNatural", false)) {
    for (size_t i = left_start; i < right_start; ++i) {
      for (const auto& c : scope.entries[i].columns) {
        for (size_t j = right_start; j < scope.entries.size(); ++j) {
          for (const auto& d : scope.entries[j].columns) {
            if (c.name == d.name) using_cols.push_back(c.name);
          }
        }
      }
    }
  }
  if (!using_cols.empty()) {
    std::string on;
    for (const auto& col : using_cols) {
      const RangeEntry* le = nullptr;
      const RangeEntry* re = nullptr;
      for (size_t i = left_start; i < right_start; ++i) {
        if (scope.entries[i].columns.end() != std::find_if(scope.entries[i].columns.begin(), scope.entries[i].columns.end(),
                                                            [&](const ScopeColumn& c) { return c.name == col; }))
          le = &scope.entries[i];
      }
      for (size_t j = right_start; j < scope.entries.size(); ++j) {
        if (scope.entries[j].columns.end() != std::find_if(scope.entries[j].columns.begin(), scope.entries[j].columns.end(),
                                                            [&](const ScopeColumn& c) { return c.name == col; }))
          re = &scope.entries[j];
      }
      if (!le || !re)
        return unexpected(ctx.error(sqlstate::kUndefinedColumn,
                                    "column \"" + col + "\" specified in USING clause does not exist in " +
                                        (le ? "right" : "left") + " table"));
      std::string lref = quote_ident(le->sql_alias) + "." + quote_ident(col);
      std::string rref = quote_ident(re->sql_alias) + "." + quote_ident(col);
      on += (on.empty() ? "" : " AND ") + lref + " = " + rref;
      std::string merged = jt == "JOIN_FULL" ? "coalesce(" + lref + ", " + rref + ")" : jt == "JOIN_RIGHT" ? rref : lref;
      scope.merged.emplace_back(col, merged);
    }
    out.sql += " ON " + on;
    return out;
  }
  if (has(body, "quals")) {
    auto q = translate_expr(ctx, field(body, "quals"), scope);
    if (!q) return unexpected(q.error());
    auto b = coerce_to_bool(ctx, *q, "JOIN/ON");
    if (!b) return unexpected(b.error());
    out.sql += " ON " + b->sql;
  } else if (jt != "JOIN_INNER") {
    return unexpected(ctx.error(sqlstate::kSyntaxError, "syntax error: JOIN requires ON or USING"));
  }
  return out;
}

PgResult<FromResult> translate_from_item(Ctx& ctx, const Node& node, Scope& scope, const Scope* outer) {
  std::string_view tag = node_tag(node);
  const Node& body = node_body(node);
  if (tag == "RangeVar") return translate_range_var(ctx, body, scope);
  if (tag == "RangeSubselect") return translate_subselect(ctx, body, scope, outer);
  if (tag == "JoinExpr") return translate_join(ctx, body, scope, outer);
  if (tag == "RangeFunction") return translate_range_function(ctx, body, scope, outer);
  return unexpected(ctx.unsupported(std::string(tag) + " in FROM", -1));
}

// Output columns whose type is still unknown become text, as PostgreSQL resolves them.
PgStatus resolve_unknown_output(Ctx& ctx, Expr& e) {
  if (e.type == 0 || e.type == o::kUnknown) {
    std::string name = e.name;
    auto c = coerce(ctx, e, o::kText, -1, false);
    if (!c) return unexpected(c.error());
    e = *c;
    e.name = name;
  }
  return Ok{};
}

PgResult<QueryResult> translate_values(Ctx& ctx, const Node& body, const Scope* outer) {
  Scope empty;
  empty.parent = outer;
  std::vector<std::vector<Expr>> rows;
  for (const auto& row : field(body, "valuesLists")) {
    std::vector<Expr> r;
    for (const auto& item : field(field(row, "List"), "items")) {
      auto e = translate_expr(ctx, item, empty);
      if (!e) return unexpected(e.error());
      r.push_back(std::move(*e));
    }
    if (!rows.empty() && r.size() != rows[0].size())
      return unexpected(ctx.error(sqlstate::kSyntaxError, "VALUES lists must all be the same length"));
    rows.push_back(std::move(r));
  }
  QueryResult out;
  if (rows.empty()) return out;
  size_t ncols = rows[0].size();
  for (size_t c = 0; c < ncols; ++c) {
    Oid t = 0;
    for (auto& r : rows) {
      if (r[c].type != 0 && r[c].type != o::kUnknown) {
        if (t == 0) t = r[c].type;
      }
    }
    if (t == 0) t = o::kText;
    for (auto& r : rows) {
      auto x = coerce(ctx, r[c], t, -1, false);
      if (!x) return unexpected(x.error());
      r[c] = *x;
    }
    OutputColumn oc;
    oc.name = "column" + std::to_string(c + 1);
    oc.type = t;
    out.columns.push_back(oc);
  }
  out.sql = "SELECT ";
  for (size_t c = 0; c < ncols; ++c) out.sql += (c ? ", " : "") + std::string("column") + std::to_string(c + 1) + " AS " + quote_ident(out.columns[c].name);
  out.sql += " FROM (VALUES ";
  for (size_t i = 0; i < rows.size(); ++i) {
    out.sql += i ? ", (" : "(";
    for (size_t c = 0; c < ncols; ++c) out.sql += (c ? ", " : "") + rows[i][c].sql;
    out.sql += ")";
  }
  out.sql += ")";
  return out;
}

PgResult<std::string> translate_sort(Ctx& ctx, const Node& sort_clause, const Scope& scope,
                                     const std::vector<OutputColumn>& outputs, bool outputs_only) {
  std::string sql;
  for (const auto& sb : sort_clause) {
    const Node& s = field(sb, "SortBy");
    const Node& n = field(s, "node");
    std::string key;
    std::string_view tag = node_tag(n);
    if (tag == "A_Const" && has(node_body(n), "ival")) {
      int64_t pos = field(node_body(n), "ival").value("ival", int64_t{0});
      if (pos < 1 || pos > static_cast<int64_t>(outputs.size()))
        return unexpected(ctx.error(sqlstate::kInvalidColumnReference,
                                    "ORDER BY position " + std::to_string(pos) + " is not in select list",
                                    loc_of(node_body(n))));
      key = std::to_string(pos);
    } else if (tag == "ColumnRef" && field(node_body(n), "fields").size() == 1 &&
               !field(node_body(n), "fields")[0].contains("A_Star")) {
      std::string name = str_of(field(node_body(n), "fields")[0]);
      int matches = 0;
      size_t pos = 0;
      for (size_t i = 0; i < outputs.size(); ++i) {
        if (outputs[i].name == name) {
          ++matches;
          if (matches == 1) pos = i + 1;
        }
      }
      if (matches >= 1) key = std::to_string(pos);
    }
    if (key.empty()) {
      if (outputs_only) return unexpected(ctx.unsupported("ORDER BY expressions on set operations", -1));
      auto e = translate_expr(ctx, n, scope);
      if (!e) return unexpected(e.error());
      key = e->sql;
    }
    std::string dir = s.value("sortby_dir", std::string("SORTBY_DEFAULT"));
    std::string nulls = s.value("sortby_nulls", std::string("SORTBY_NULLS_DEFAULT"));
    if (dir == "SORTBY_USING") return unexpected(ctx.unsupported("ORDER BY ... USING", -1));
    bool desc = dir == "SORTBY_DESC";
    bool nulls_first = nulls == "SORTBY_NULLS_FIRST" || (nulls == "SORTBY_NULLS_DEFAULT" && desc);
    sql += (sql.empty() ? "" : ", ") + key + (desc ? " DESC" : " ASC") + (nulls_first ? " NULLS FIRST" : " NULLS LAST");
  }
  return sql;
}

PgResult<std::string> translate_limit(Ctx& ctx, const Node& body, const Scope& scope) {
  std::string out;
  const Node& count = field(body, "limitCount");
  const Node& offset = field(body, "limitOffset");
  if (body.value("limitOption", std::string()) == "LIMIT_OPTION_WITH_TIES")
    return unexpected(ctx.unsupported("FETCH ... WITH TIES", -1));
  auto as_int8 = [&](const Node& n) -> PgResult<std::string> {
    auto e = translate_expr(ctx, n, scope);
    if (!e) return unexpected(e.error());
    if (e->is_null) return std::string("-1");
    auto c = coerce(ctx, *e, o::kInt8, -1, false);
    if (!c) return unexpected(c.error());
    return c->sql;
  };
  if (!count.is_null()) {
    auto c = as_int8(count);
    if (!c) return c;
    out = " LIMIT " + *c;
  }
  if (!offset.is_null()) {
    auto c = as_int8(offset);
    if (!c) return c;
    if (out.empty()) out = " LIMIT -1";
    out += " OFFSET " + *c;
  }
  return out;
}

PgResult<std::string> translate_with(Ctx& ctx, const Node& with, const Scope* outer) {
  bool recursive = with.value("recursive", false);
  std::string sql = recursive ? "WITH RECURSIVE " : "WITH ";
  bool first = true;
  for (const auto& c : field(with, "ctes")) {
    const Node& cte = field(c, "CommonTableExpr");
    std::string name = cte.value("ctename", std::string());
    auto colnames = names_of(field(cte, "aliascolnames"));
    const Node& q = field(field(cte, "ctequery"), "SelectStmt");
    if (q.is_null()) return unexpected(ctx.unsupported("data-modifying statements in WITH", loc_of(cte)));
    CteDef def;
    def.name = name;
    if (recursive && q.value("op", std::string("SETOP_NONE")) != "SETOP_NONE") {
      // The non-recursive arm fixes the column types.
      auto left = translate_select(ctx, field(q, "larg"), outer);
      if (!left) return unexpected(left.error());
      for (size_t i = 0; i < left->columns.size(); ++i) {
        ScopeColumn sc;
        sc.name = i < colnames.size() ? colnames[i] : left->columns[i].name;
        sc.type = left->columns[i].type;
        sc.typmod = left->columns[i].typmod;
        def.columns.push_back(sc);
      }
      ctx.cte_stack.back().push_back(def);
    }
    auto r = translate_select(ctx, q, outer);
    if (!r) return unexpected(r.error());
    if (def.columns.empty()) {
      for (size_t i = 0; i < r->columns.size(); ++i) {
        ScopeColumn sc;
        sc.name = i < colnames.size() ? colnames[i] : r->columns[i].name;
        sc.type = r->columns[i].type;
        sc.typmod = r->columns[i].typmod;
        def.columns.push_back(sc);
      }
      ctx.cte_stack.back().push_back(def);
    }
    sql += (first ? "" : ", ") + quote_ident(name) + "(";
    for (size_t i = 0; i < def.columns.size(); ++i) sql += (i ? ", " : "") + quote_ident(def.columns[i].name);
    sql += ") AS (" + r->sql + ")";
    first = false;
  }
  return sql + " ";
}

}  // namespace

PgResult<QueryResult> translate_select(Ctx& ctx, const Node& body, const Scope* outer) {
  if (++ctx.depth > 1000 || ctx.stack_too_deep()) {
    --ctx.depth;
    return unexpected(ctx.error("54001", "stack depth limit exceeded"));
  }
  struct DepthGuard {
    Ctx& c;
    ~DepthGuard() { --c.depth; }
  } guard{ctx};

  ctx.cte_stack.emplace_back();
  struct CteGuard {
    Ctx& c;
    ~CteGuard() { c.cte_stack.pop_back(); }
  } cte_guard{ctx};

  std::string with_sql;
  if (has(body, "withClause")) {
    auto w = translate_with(ctx, field(body, "withClause"), outer);
    if (!w) return unexpected(w.error());
    with_sql = *w;
  }
  if (has(body, "intoClause")) return unexpected(ctx.unsupported("SELECT INTO", -1));
  for (const auto& lc : field(body, "lockingClause")) {
    std::string strength = field(lc, "LockingClause").value("strength", std::string());
    if (strength == "LCS_FORUPDATE" || strength == "LCS_FORNOKEYUPDATE") ctx.writes = true;
  }

  std::string op = body.value("op", std::string("SETOP_NONE"));
  if (op != "SETOP_NONE") {
    auto l = translate_select(ctx, field(body, "larg"), outer);
    if (!l) return l;
    auto r = translate_select(ctx, field(body, "rarg"), outer);
    if (!r) return r;
    if (l->columns.size() != r->columns.size())
      return unexpected(ctx.error(sqlstate::kSyntaxError, "each " + std::string(op == "SETOP_UNION" ? "UNION" : op == "SETOP_INTERSECT" ? "INTERSECT" : "EXCEPT") + " query must have the same number of columns"));
    QueryResult out;
    out.columns = l->columns;
    for (size_t i = 0; i < out.columns.size(); ++i) {
      Oid a = out.columns[i].type, b = r->columns[i].type;
      if (a != b) {
        out.columns[i].typmod = -1;
        if ((a == o::kInt4 || a == o::kInt2) && b == o::kInt8) out.columns[i].type = o::kInt8;
        else if ((a == o::kVarchar || a == o::kBpchar || a == o::kName) && b == o::kText) out.columns[i].type = o::kText;
      }
    }
    bool all = body.value("all", false);
    std::string kw = op == "SETOP_UNION" ? "UNION" : op == "SETOP_INTERSECT" ? "INTERSECT" : "EXCEPT";
    // SQLite compounds take no parentheses and no ORDER BY/LIMIT inside an arm, and a
    // recursive CTE must reference itself directly in its recursive arm: wrap an arm only
    // when it needs it.
    auto arm = [&](const Node& n, const std::string& sql, bool right) {
      bool needs = has(n, "sortClause") || has(n, "limitCount") || has(n, "limitOffset") || has(n, "withClause") ||
                   (right && n.value("op", std::string("SETOP_NONE")) != "SETOP_NONE");
      return needs ? "SELECT * FROM (" + sql + ")" : sql;
    };
    std::string sql = with_sql + arm(field(body, "larg"), l->sql, false) + " " + kw + (all ? " ALL " : " ") +
                      arm(field(body, "rarg"), r->sql, true);
    Scope s;
    s.parent = outer;
    if (has(body, "sortClause")) {
      auto o2 = translate_sort(ctx, field(body, "sortClause"), s, out.columns, true);
      if (!o2) return unexpected(o2.error());
      sql += " ORDER BY " + *o2;
    }
    auto lim = translate_limit(ctx, body, s);
    if (!lim) return unexpected(lim.error());
    out.sql = sql + *lim;
    return out;
  }
  if (has(body, "valuesLists")) {
    auto v = translate_values(ctx, body, outer);
    if (!v) return v;
    Scope s;
    s.parent = outer;
    if (has(body, "sortClause")) {
      auto o2 = translate_sort(ctx, field(body, "sortClause"), s, v->columns, true);
      if (!o2) return unexpected(o2.error());
      v->sql = "SELECT * FROM (" + v->sql + ") ORDER BY " + *o2;
    }
    auto lim = translate_limit(ctx, body, s);
    if (!lim) return unexpected(lim.error());
    v->sql = with_sql + v->sql + *lim;
    return v;
  }

  Scope scope;
  scope.parent = outer;
  std::string from_sql;
  for (const auto& item : field(body, "fromClause")) {
    auto f = translate_from_item(ctx, item, scope, outer);
    if (!f) return unexpected(f.error());
    from_sql += (from_sql.empty() ? "" : ", ") + f->sql;
  }

  QueryResult out;
  std::vector<std::string> select_items;
  for (const auto& t : field(body, "targetList")) {
    const Node& rt = field(t, "ResTarget");
    const Node& val = field(rt, "val");
    if (node_tag(val) == "ColumnRef") {
      const Node& fields = field(node_body(val), "fields");
      if (!fields.empty() && fields.back().contains("A_Star")) {
        std::string rel = fields.size() >= 2 ? str_of(fields[fields.size() - 2]) : "";
        bool found = false;
        std::vector<std::string> merged_names;
        if (rel.empty()) {
          for (const auto& [name, sql] : scope.merged) {
            const ScopeColumn* sc = nullptr;
            for (const auto& e : scope.entries)
              for (const auto& c : e.columns)
                if (!sc && c.name == name) sc = &c;
            select_items.push_back(sql + " AS " + quote_ident(name));
            OutputColumn oc;
            oc.name = name;
            oc.type = sc ? sc->type : o::kText;
            oc.typmod = sc ? sc->typmod : -1;
            out.columns.push_back(oc);
            merged_names.push_back(name);
          }
        }
        for (const auto& e : scope.entries) {
          if (!rel.empty() && e.alias != rel) continue;
          found = true;
          for (const auto& c : e.columns) {
            if (std::find(merged_names.begin(), merged_names.end(), c.name) != merged_names.end()) continue;
            select_items.push_back(quote_ident(e.sql_alias) + "." + quote_ident(c.name) + " AS " + quote_ident(c.name));
            OutputColumn oc;
            oc.name = c.name;
            oc.type = c.type;
            oc.typmod = c.typmod;
            oc.table_oid = c.table_oid;
            oc.attnum = c.attnum;
            out.columns.push_back(oc);
          }
        }
        if (!rel.empty() && !found)
          return unexpected(ctx.error(sqlstate::kUndefinedTable, "missing FROM-clause entry for table \"" + rel + "\"",
                                      loc_of(node_body(val))));
        if (rel.empty() && scope.entries.empty())
          return unexpected(ctx.error(sqlstate::kSyntaxError, "SELECT * with no tables specified is not valid",
                                      loc_of(node_body(val))));
        continue;
      }
    }
    auto e = translate_expr(ctx, val, scope);
    if (!e) return unexpected(e.error());
    Expr x = *e;
    if (auto s = resolve_unknown_output(ctx, x); !s) return unexpected(s.error());
    std::string name = rt.value("name", x.name);
    OutputColumn oc;
    oc.name = name;
    oc.type = x.type;
    oc.typmod = x.typmod;
    out.columns.push_back(oc);
    select_items.push_back(x.sql + " AS " + quote_ident(name));
  }

  std::string sql = with_sql + "SELECT ";
  const Node& distinct = field(body, "distinctClause");
  if (distinct.is_array() && !distinct.empty()) {
    if (!(distinct.size() == 1 && (distinct[0].is_null() || distinct[0].empty())))
      return unexpected(ctx.unsupported("SELECT DISTINCT ON", -1));
    sql += "DISTINCT ";
  }
  if (select_items.empty()) select_items.push_back("NULL");  // SELECT with no columns
  for (size_t i = 0; i < select_items.size(); ++i) sql += (i ? ", " : "") + select_items[i];
  if (!from_sql.empty()) sql += " FROM " + from_sql;
  if (has(body, "whereClause")) {
    auto w = translate_expr(ctx, field(body, "whereClause"), scope);
    if (!w) return unexpected(w.error());
    auto b = coerce_to_bool(ctx, *w, "WHERE");
    if (!b) return unexpected(b.error());
    sql += " WHERE " + b->sql;
  }
  if (has(body, "groupClause")) {
    std::string g;
    for (const auto& item : field(body, "groupClause")) {
      std::string key;
      std::string_view tag = node_tag(item);
      if (tag == "A_Const" && has(node_body(item), "ival")) {
        int64_t pos = field(node_body(item), "ival").value("ival", int64_t{0});
        if (pos < 1 || pos > static_cast<int64_t>(out.columns.size()))
          return unexpected(ctx.error(sqlstate::kInvalidColumnReference,
                                      "GROUP BY position " + std::to_string(pos) + " is not in select list",
                                      loc_of(node_body(item))));
        key = std::to_string(pos);
      } else if (tag == "ColumnRef" && field(node_body(item), "fields").size() == 1) {
        auto e = translate_expr(ctx, item, scope);
        if (e) {
          key = e->sql;
        } else {
          std::string name = str_of(field(node_body(item), "fields")[0]);
          for (size_t i = 0; i < out.columns.size(); ++i)
            if (out.columns[i].name == name) key = std::to_string(i + 1);
          if (key.empty()) return unexpected(e.error());
        }
      } else {
        auto e = translate_expr(ctx, item, scope);
        if (!e) return unexpected(e.error());
        key = e->sql;
      }
      g += (g.empty() ? "" : ", ") + key;
    }
    sql += " GROUP BY " + g;
  }
  if (has(body, "havingClause")) {
    auto h = translate_expr(ctx, field(body, "havingClause"), scope);
    if (!h) return unexpected(h.error());
    auto b = coerce_to_bool(ctx, *h, "HAVING");
    if (!b) return unexpected(b.error());
    sql += " HAVING " + b->sql;
  }
  if (has(body, "sortClause")) {
    auto o2 = translate_sort(ctx, field(body, "sortClause"), scope, out.columns, false);
    if (!o2) return unexpected(o2.error());
    sql += " ORDER BY " + *o2;
  }
  auto lim = translate_limit(ctx, body, scope);
  if (!lim) return unexpected(lim.error());
  sql += *lim;
  out.sql = std::move(sql);
  return out;
}

}  // namespace metagate::sql::tr
