// INSERT (VALUES/SELECT, defaults and serial columns, ON CONFLICT, RETURNING), UPDATE
// (FROM, RETURNING) and DELETE (USING, RETURNING) → SQLite.
#include <algorithm>

#include "context.hpp"
#include "metagate/util/strings.hpp"

namespace metagate::sql::tr {

using util::quote_ident;
using util::quote_literal;

namespace {

PgResult<const Table*> target_table(Ctx& ctx, const Node& relation) {
  std::string schema = relation.value("schemaname", std::string());
  std::string rel = relation.value("relname", std::string());
  if (schema == "pg_catalog" || schema == "information_schema") {
    return unexpected(ctx.error(sqlstate::kInsufficientPrivilege, "permission denied for table " + rel, loc_of(relation)));
  }
  if (!schema.empty() && schema != "public") {
    const Table* t = ctx.cat.find_table(relation_key(schema, rel));
    if (!t)
      return unexpected(ctx.error(sqlstate::kUndefinedTable, "relation \"" + schema + "." + rel + "\" does not exist",
                                  loc_of(relation)));
    return t;
  }
  const Table* t = ctx.cat.find_table(rel);
  if (t == nullptr) {
    if (find_system_relation("", rel))
      return unexpected(ctx.error(sqlstate::kInsufficientPrivilege, "permission denied for table " + rel, loc_of(relation)));
    return unexpected(ctx.error(sqlstate::kUndefinedTable, "relation \"" + rel + "\" does not exist", loc_of(relation)));
  }
  return t;
}

// The SQLite expression for a column's default (serial → nextval, others → their
// translated default expression, none → NULL).
PgResult<Expr> default_expr(Ctx& ctx, const Table& t, const Column& c) {
  if (!c.sequence.empty()) {
    ctx.writes = true;
    Expr e;
    e.sql = "mg_nextval(" + quote_literal(c.sequence) + ")";
    e.type = c.type;
    return e;
  }
  if (!c.default_sql) {
    Expr e;
    e.sql = "NULL";
    e.is_null = true;
    e.type = c.type;
    return e;
  }
  auto parsed = parse("SELECT " + *c.default_sql);
  if (!parsed || parsed->statements.size() != 1)
    return unexpected(PgError::make(sqlstate::kInternalError, "bad stored default for column " + c.name));
  const Node& sel = node_body(parsed->statements[0].tree);
  const Node& val = field(field(field(sel, "targetList")[0], "ResTarget"), "val");
  Scope empty;
  TranslateOptions opts;
  Ctx sub(ctx.cat, opts, *c.default_sql, 0);
  auto e = translate_expr(sub, val, empty);
  if (!e) return e;
  ctx.writes = ctx.writes || sub.writes;
  return coerce(sub, *e, c.type, c.typmod, false);
}

PgResult<std::pair<std::string, std::vector<OutputColumn>>> translate_returning(Ctx& ctx, const Node& list,
                                                                                 const Scope& scope) {
  std::string sql;
  std::vector<OutputColumn> cols;
  for (const auto& t : list) {
    const Node& rt = field(t, "ResTarget");
    const Node& val = field(rt, "val");
    if (node_tag(val) == "ColumnRef") {
      const Node& fields = field(node_body(val), "fields");
      if (!fields.empty() && fields.back().contains("A_Star")) {
        for (const auto& e : scope.entries) {
          if (e.hidden_from_star) continue;
          for (const auto& c : e.columns) {
            sql += (sql.empty() ? "" : ", ") + quote_ident(e.sql_alias) + "." + quote_ident(c.name);
            OutputColumn oc;
            oc.name = c.name;
            oc.type = c.type;
            oc.typmod = c.typmod;
            oc.table_oid = c.table_oid;
            oc.attnum = c.attnum;
            cols.push_back(oc);
          }
        }
        continue;
      }
    }
    auto e = translate_expr(ctx, val, scope);
    if (!e) return unexpected(e.error());
    Expr x = *e;
    if (x.type == 0) {
      auto c = coerce(ctx, x, o::kText, -1, false);
      if (!c) return unexpected(c.error());
      x = *c;
    }
    OutputColumn oc;
    oc.name = rt.value("name", x.name);
    oc.type = x.type;
    oc.typmod = x.typmod;
    cols.push_back(oc);
    sql += (sql.empty() ? "" : ", ") + x.sql;
  }
  return std::make_pair(sql, cols);
}

}  // namespace

PgResult<Plan> translate_insert(Ctx& ctx, const Node& body) {
  ctx.writes = true;
  const Node& relation = field(body, "relation");
  auto tr = target_table(ctx, relation);
  if (!tr) return unexpected(tr.error());
  const Table& t = **tr;
  if (has(body, "withClause")) return unexpected(ctx.unsupported("WITH on INSERT", -1));
  if (body.value("override", std::string("OVERRIDING_NOT_SET")) != "OVERRIDING_NOT_SET")
    return unexpected(ctx.unsupported("OVERRIDING", -1));
  const Node& alias = field(relation, "alias");
  std::string aliasname = alias.is_object() ? alias.value("aliasname", t.bare_name()) : t.bare_name();

  // Target columns.
  std::vector<const Column*> targets;
  for (const auto& c : field(body, "cols")) {
    const Node& rt = field(c, "ResTarget");
    std::string name = rt.value("name", std::string());
    if (has(rt, "indirection")) return unexpected(ctx.unsupported("INSERT into subfields", loc_of(rt)));
    const Column* col = t.find_column(name);
    if (col == nullptr)
      return unexpected(ctx.error(sqlstate::kUndefinedColumn,
                                  "column \"" + name + "\" of relation \"" + t.name + "\" does not exist", loc_of(rt)));
    if (std::find(targets.begin(), targets.end(), col) != targets.end())
      return unexpected(ctx.error(sqlstate::kDuplicateColumn, "column \"" + name + "\" specified more than once", loc_of(rt)));
    targets.push_back(col);
  }
  bool explicit_cols = !targets.empty();
  if (!explicit_cols) {
    for (const auto& c : t.columns) targets.push_back(&c);
  }
  // Columns not listed that need a value from metagate (serial sequences, non-constant defaults).
  std::vector<const Column*> implicit;
  for (const auto& c : t.columns) {
    if (std::find(targets.begin(), targets.end(), &c) != targets.end()) continue;
    if (!c.sequence.empty() || c.default_sql) implicit.push_back(&c);
  }

  Scope empty;
  std::string rows_sql;
  const Node& select = field(field(body, "selectStmt"), "SelectStmt");
  if (select.is_null()) {
    // INSERT ... DEFAULT VALUES
    if (!explicit_cols) targets.clear();
    implicit.clear();
    for (const auto& c : t.columns) {
      if (!c.sequence.empty() || c.default_sql) implicit.push_back(&c);
    }
    std::string sql = "INSERT INTO " + quote_ident(t.name) + " AS " + quote_ident(aliasname);
    if (implicit.empty()) {
      sql += " DEFAULT VALUES";
    } else {
      std::string cols, vals;
      for (const auto* c : implicit) {
        auto d = default_expr(ctx, t, *c);
        if (!d) return unexpected(d.error());
        cols += (cols.empty() ? "" : ", ") + quote_ident(c->name);
        vals += (vals.empty() ? "" : ", ") + d->sql;
      }
      sql += " (" + cols + ") VALUES (" + vals + ")";
    }
    rows_sql = sql;
  } else if (has(select, "valuesLists") && !has(select, "sortClause") && !has(select, "limitCount")) {
    std::string vals;
    for (const auto& row : field(select, "valuesLists")) {
      const Node& items = field(field(row, "List"), "items");
      if (items.size() > targets.size())
        return unexpected(ctx.error(sqlstate::kSyntaxError, "INSERT has more expressions than target columns",
                                    loc_of(node_body(items[targets.size()]))));
      if (explicit_cols && items.size() < targets.size())
        return unexpected(ctx.error(sqlstate::kSyntaxError, "INSERT has more target columns than expressions",
                                    -1));
      std::string row_sql = "(";
      for (size_t i = 0; i < targets.size(); ++i) {
        const Column& col = *targets[i];
        Expr v;
        if (i >= items.size() || node_tag(items[i]) == "SetToDefault") {
          auto d = default_expr(ctx, t, col);
          if (!d) return unexpected(d.error());
          v = *d;
        } else {
          auto e = translate_expr(ctx, items[i], empty);
          if (!e) return unexpected(e.error());
          auto c = coerce(ctx, *e, col.type, col.typmod, false);
          if (!c) return unexpected(c.error());
          v = *c;
          // Enforce varchar(n)/char(n) lengths on typed values (literals are checked when parsed).
          if (col.typmod >= 0 && (col.type == o::kVarchar || col.type == o::kBpchar) && e->param > 0) {
            v.sql = "mg_cast(" + v.sql + ", " + std::to_string(col.type) + ", " + std::to_string(col.type) + ", " +
                    std::to_string(col.typmod) + ")";
          }
        }
        row_sql += (i ? ", " : "") + v.sql;
      }
      for (const auto* c : implicit) {
        auto d = default_expr(ctx, t, *c);
        if (!d) return unexpected(d.error());
        row_sql += ", " + d->sql;
      }
      row_sql += ")";
      vals += (vals.empty() ? "" : ", ") + row_sql;
    }
    std::string cols;
    for (const auto* c : targets) cols += (cols.empty() ? "" : ", ") + quote_ident(c->name);
    for (const auto* c : implicit) cols += (cols.empty() ? "" : ", ") + quote_ident(c->name);
    rows_sql = "INSERT INTO " + quote_ident(t.name) + " AS " + quote_ident(aliasname) + " (" + cols + ") VALUES " + vals;
  } else {
    auto q = translate_select(ctx, select, nullptr);
    if (!q) return unexpected(q.error());
    if (q->columns.size() > targets.size())
      return unexpected(ctx.error(sqlstate::kSyntaxError, "INSERT has more expressions than target columns"));
    std::string proj;
    for (size_t i = 0; i < targets.size(); ++i) {
      Expr v;
      if (i < q->columns.size()) {
        v.sql = quote_ident("__mg_src") + "." + quote_ident(q->columns[i].name);
        v.type = q->columns[i].type;
        auto c = coerce(ctx, v, targets[i]->type, targets[i]->typmod, false);
        if (!c) return unexpected(c.error());
        v = *c;
      } else {
        auto d = default_expr(ctx, t, *targets[i]);
        if (!d) return unexpected(d.error());
        v = *d;
      }
      proj += (proj.empty() ? "" : ", ") + v.sql;
    }
    for (const auto* c : implicit) {
      auto d = default_expr(ctx, t, *c);
      if (!d) return unexpected(d.error());
      proj += ", " + d->sql;
    }
    std::string cols;
    for (const auto* c : targets) cols += (cols.empty() ? "" : ", ") + quote_ident(c->name);
    for (const auto* c : implicit) cols += (cols.empty() ? "" : ", ") + quote_ident(c->name);
    // "WHERE true" keeps SQLite's parser from reading ON CONFLICT as a join constraint.
    rows_sql = "INSERT INTO " + quote_ident(t.name) + " AS " + quote_ident(aliasname) + " (" + cols + ") SELECT " + proj +
               " FROM (" + q->sql + ") AS " + quote_ident("__mg_src") + " WHERE true";
  }

  Scope target_scope;
  target_scope.entries.push_back(range_entry_for_table(t, aliasname, aliasname));

  // ON CONFLICT
  if (has(body, "onConflictClause")) {
    const Node& oc = field(body, "onConflictClause");
    std::string action = oc.value("action", std::string());
    std::string target;
    const Node& infer = field(oc, "infer");
    if (infer.is_object()) {
      if (infer.contains("conname")) {
        const Index* idx = ctx.cat.find_index(infer.value("conname", std::string()));
        if (!idx || idx->table != t.name || !idx->unique)
          return unexpected(ctx.error(sqlstate::kUndefinedObject,
                                      "constraint \"" + infer.value("conname", std::string()) + "\" for table \"" +
                                          t.name + "\" does not exist"));
        for (const auto& c : idx->columns) target += (target.empty() ? "" : ", ") + quote_ident(c);
      } else {
        std::vector<std::string> cols;
        for (const auto& el : field(infer, "indexElems")) {
          const Node& ie = field(el, "IndexElem");
          if (!ie.contains("name")) return unexpected(ctx.unsupported("ON CONFLICT on expressions", -1));
          cols.push_back(ie.value("name", std::string()));
        }
        if (has(infer, "whereClause")) return unexpected(ctx.unsupported("ON CONFLICT ... WHERE", -1));
        // PostgreSQL requires a unique index or constraint matching the columns exactly.
        bool matched = false;
        for (const auto* idx : ctx.cat.table_indexes(t.name)) {
          if (!idx->unique) continue;
          auto a = idx->columns, b = cols;
          std::sort(a.begin(), a.end());
          std::sort(b.begin(), b.end());
          if (a == b) matched = true;
        }
        if (!matched)
          return unexpected(ctx.error(sqlstate::kInvalidColumnReference,
                                      "there is no unique or exclusion constraint matching the ON CONFLICT specification"));
        for (const auto& c : cols) target += (target.empty() ? "" : ", ") + quote_ident(c);
      }
    }
    if (action == "ONCONFLICT_NOTHING") {
      rows_sql += " ON CONFLICT" + (target.empty() ? std::string() : " (" + target + ")") + " DO NOTHING";
    } else {
      if (target.empty())
        return unexpected(ctx.error(sqlstate::kSyntaxError,
                                    "ON CONFLICT DO UPDATE requires inference specification or constraint name")
                              .with_hint("For example, ON CONFLICT (column_name)."));
      Scope s = target_scope;
      RangeEntry excluded = range_entry_for_table(t, "excluded", "excluded");
      s.entries.push_back(excluded);
      std::string sets;
      for (const auto& tl : field(oc, "targetList")) {
        const Node& rt = field(tl, "ResTarget");
        std::string name = rt.value("name", std::string());
        const Column* col = t.find_column(name);
        if (!col)
          return unexpected(ctx.error(sqlstate::kUndefinedColumn,
                                      "column \"" + name + "\" of relation \"" + t.name + "\" does not exist", loc_of(rt)));
        auto e = translate_expr(ctx, field(rt, "val"), s);
        if (!e) return unexpected(e.error());
        auto c = coerce(ctx, *e, col->type, col->typmod, false);
        if (!c) return unexpected(c.error());
        sets += (sets.empty() ? "" : ", ") + quote_ident(name) + " = " + c->sql;
      }
      rows_sql += " ON CONFLICT (" + target + ") DO UPDATE SET " + sets;
      if (has(oc, "whereClause")) {
        auto w = translate_expr(ctx, field(oc, "whereClause"), s);
        if (!w) return unexpected(w.error());
        auto b = coerce_to_bool(ctx, *w, "WHERE");
        if (!b) return unexpected(b.error());
        rows_sql += " WHERE " + b->sql;
      }
    }
  }

  Plan plan;
  plan.kind = PlanKind::kQuery;
  plan.tag = "INSERT";
  plan.row_count_tag = true;
  plan.writes = true;
  if (has(body, "returningList")) {
    auto r = translate_returning(ctx, field(body, "returningList"), target_scope);
    if (!r) return unexpected(r.error());
    rows_sql += " RETURNING " + r->first;
    plan.columns = r->second;
    plan.returns_rows = true;
  }
  plan.sqlite_sql = rows_sql;
  return plan;
}

PgResult<Plan> translate_update(Ctx& ctx, const Node& body) {
  ctx.writes = true;
  const Node& relation = field(body, "relation");
  auto tr = target_table(ctx, relation);
  if (!tr) return unexpected(tr.error());
  const Table& t = **tr;
  if (has(body, "withClause")) return unexpected(ctx.unsupported("WITH on UPDATE", -1));
  const Node& alias = field(relation, "alias");
  std::string aliasname = alias.is_object() ? alias.value("aliasname", t.bare_name()) : t.bare_name();
  Scope scope;
  scope.entries.push_back(range_entry_for_table(t, aliasname, aliasname));
  std::string from_sql;
  if (has(body, "fromClause")) {
    // Translate FROM items through a SELECT-shaped scope.
    for (const auto& item : field(body, "fromClause")) {
      std::string_view tag = node_tag(item);
      if (tag != "RangeVar" && tag != "RangeSubselect")
        return unexpected(ctx.unsupported("joins in UPDATE ... FROM", -1));
      if (tag == "RangeVar") {
        const Node& rv = node_body(item);
        std::string rel = rv.value("relname", std::string());
        const Table* ft = ctx.cat.find_table(relation_key(rv.value("schemaname", std::string()), rel));
        if (!ft) return unexpected(ctx.error(sqlstate::kUndefinedTable, "relation \"" + rel + "\" does not exist", loc_of(rv)));
        const Node& fa = field(rv, "alias");
        std::string an = fa.is_object() ? fa.value("aliasname", rel) : rel;
        scope.entries.push_back(range_entry_for_table(*ft, an, an));
        from_sql += (from_sql.empty() ? "" : ", ") + quote_ident(ft->name) + " AS " + quote_ident(an);
      } else {
        const Node& rs = node_body(item);
        auto q = translate_select(ctx, field(field(rs, "subquery"), "SelectStmt"), nullptr);
        if (!q) return unexpected(q.error());
        std::string an = field(rs, "alias").value("aliasname", ctx.fresh_alias());
        RangeEntry e;
        e.alias = an;
        e.sql_alias = an;
        for (const auto& c : q->columns) e.columns.push_back(ScopeColumn{c.name, c.type, c.typmod, 0, 0});
        scope.entries.push_back(e);
        from_sql += (from_sql.empty() ? "" : ", ") + std::string("(") + q->sql + ") AS " + quote_ident(an);
      }
    }
  }
  std::string sets;
  for (const auto& tl : field(body, "targetList")) {
    const Node& rt = field(tl, "ResTarget");
    std::string name = rt.value("name", std::string());
    if (has(rt, "indirection")) return unexpected(ctx.unsupported("UPDATE of subfields", loc_of(rt)));
    const Column* col = t.find_column(name);
    if (!col)
      return unexpected(ctx.error(sqlstate::kUndefinedColumn,
                                  "column \"" + name + "\" of relation \"" + t.name + "\" does not exist", loc_of(rt)));
    const Node& val = field(rt, "val");
    Expr v;
    if (node_tag(val) == "SetToDefault") {
      auto d = default_expr(ctx, t, *col);
      if (!d) return unexpected(d.error());
      v = *d;
    } else if (node_tag(val) == "MultiAssignRef") {
      return unexpected(ctx.unsupported("UPDATE ... SET (a, b) = ...", loc_of(rt)));
    } else {
      auto e = translate_expr(ctx, val, scope);
      if (!e) return unexpected(e.error());
      auto c = coerce(ctx, *e, col->type, col->typmod, false);
      if (!c) return unexpected(c.error());
      v = *c;
    }
    sets += (sets.empty() ? "" : ", ") + quote_ident(name) + " = " + v.sql;
  }
  std::string sql = "UPDATE " + quote_ident(t.name) + " AS " + quote_ident(aliasname) + " SET " + sets;
  if (!from_sql.empty()) sql += " FROM " + from_sql;
  if (has(body, "whereClause")) {
    auto w = translate_expr(ctx, field(body, "whereClause"), scope);
    if (!w) return unexpected(w.error());
    auto b = coerce_to_bool(ctx, *w, "WHERE");
    if (!b) return unexpected(b.error());
    sql += " WHERE " + b->sql;
  }
  Plan plan;
  plan.tag = "UPDATE";
  plan.row_count_tag = true;
  plan.writes = true;
  if (has(body, "returningList")) {
    Scope rs;
    rs.entries.push_back(scope.entries[0]);
    auto r = translate_returning(ctx, field(body, "returningList"), from_sql.empty() ? rs : scope);
    if (!r) return unexpected(r.error());
    sql += " RETURNING " + r->first;
    plan.columns = r->second;
    plan.returns_rows = true;
  }
  plan.sqlite_sql = sql;
  return plan;
}

PgResult<Plan> translate_delete(Ctx& ctx, const Node& body) {
  ctx.writes = true;
  const Node& relation = field(body, "relation");
  auto tr = target_table(ctx, relation);
  if (!tr) return unexpected(tr.error());
  const Table& t = **tr;
  if (has(body, "withClause")) return unexpected(ctx.unsupported("WITH on DELETE", -1));
  if (has(body, "usingClause")) return unexpected(ctx.unsupported("DELETE ... USING", -1));
  const Node& alias = field(relation, "alias");
  std::string aliasname = alias.is_object() ? alias.value("aliasname", t.bare_name()) : t.bare_name();
  Scope scope;
  scope.entries.push_back(range_entry_for_table(t, aliasname, aliasname));
  // SQLite's DELETE takes no alias: qualify through the table name when an alias is used.
  std::string sql = "DELETE FROM " + quote_ident(t.name);
  if (aliasname != t.name) sql += " AS " + quote_ident(aliasname);
  if (has(body, "whereClause")) {
    auto w = translate_expr(ctx, field(body, "whereClause"), scope);
    if (!w) return unexpected(w.error());
    auto b = coerce_to_bool(ctx, *w, "WHERE");
    if (!b) return unexpected(b.error());
    sql += " WHERE " + b->sql;
  }
  Plan plan;
  plan.tag = "DELETE";
  plan.row_count_tag = true;
  plan.writes = true;
  if (has(body, "returningList")) {
    auto r = translate_returning(ctx, field(body, "returningList"), scope);
    if (!r) return unexpected(r.error());
    sql += " RETURNING " + r->first;
    plan.columns = r->second;
    plan.returns_rows = true;
  }
  plan.sqlite_sql = sql;
  return plan;
}

}  // namespace metagate::sql::tr
