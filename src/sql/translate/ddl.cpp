// DDL: CREATE/DROP/ALTER of tables, indexes and sequences. Each statement yields the new
// catalog and the SQLite statements that make the file match it — in place when SQLite
// can, by rebuilding the table (data, indexes and sequences kept) when it cannot.
#include <algorithm>

#include "context.hpp"
#include "metagate/sql/ident.hpp"
#include "metagate/types/codec.hpp"
#include "metagate/util/strings.hpp"

namespace metagate::sql::tr {

using util::quote_ident;
using util::quote_literal;

namespace {

constexpr size_t kNameDataLen = 63;

std::string truncate_name(std::string s) {
  if (s.size() > kNameDataLen) s.resize(kNameDataLen);
  return s;
}

bool relation_exists(const Catalog& c, const std::string& name) {
  return c.tables.count(name) || c.indexes.count(name) || c.sequences.count(name);
}

// PostgreSQL's ChooseRelationName: base_suffix, then base_suffix1, 2, ...
std::string choose_name(const Catalog& c, const std::string& base, const std::string& suffix) {
  std::string name = truncate_name(base + "_" + suffix);
  for (int n = 1; relation_exists(c, name); ++n) {
    std::string s = suffix + std::to_string(n);
    std::string b = base;
    if (b.size() + 1 + s.size() > kNameDataLen) b.resize(kNameDataLen - 1 - s.size());
    name = b + "_" + s;
  }
  return name;
}

std::string affinity(Oid type) {
  const auto* info = types::find_type(type);
  if (!info) return "TEXT";
  switch (info->storage) {
    case types::StorageClass::Int: return "INTEGER";
    case types::StorageClass::Real: return "REAL";
    case types::StorageClass::Blob: return "BLOB";
    default: return "TEXT";
  }
}

// The SQLite literal for a constant default (used by SQLite when rows are back-filled by
// ALTER TABLE ADD COLUMN), or empty when the default is not a constant.
std::string sqlite_constant_default(Ctx& ctx, const Column& c) {
  (void)ctx;
  if (!c.default_sql) return {};
  auto parsed = parse("SELECT " + *c.default_sql);
  if (!parsed || parsed->statements.size() != 1) return {};
  const Node& val = field(field(field(node_body(parsed->statements[0].tree), "targetList")[0], "ResTarget"), "val");
  const Node* cnode = &val;
  if (node_tag(val) == "TypeCast") cnode = &field(node_body(val), "arg");
  if (node_tag(*cnode) != "A_Const") return {};
  const Node& b = node_body(*cnode);
  std::string text;
  if (b.value("isnull", false)) return "NULL";
  if (has(b, "ival")) text = std::to_string(field(b, "ival").value("ival", int64_t{0}));
  else if (has(b, "fval")) text = field(b, "fval").value("fval", std::string("0"));
  else if (has(b, "sval")) text = field(b, "sval").value("sval", std::string());
  else if (has(b, "boolval")) text = field(b, "boolval").value("boolval", false) ? "true" : "false";
  else if (b.is_object() && b.contains("ival") == false && b.contains("location")) text = "0";  // ival 0 is omitted
  else return {};
  types::SessionContext sc;
  auto v = types::parse_text(c.type, text, c.typmod, sc);
  if (!v) return {};
  return sqlite_literal_for(*v);
}

// The PostgreSQL text of a column default, as pg_get_expr()/information_schema show it.
PgResult<std::string> default_display(Ctx& ctx, const Node& raw, const Column& col) {
  std::string_view tag = node_tag(raw);
  const Node& b = node_body(raw);
  if (tag == "A_Const") {
    if (b.value("isnull", false)) return std::string("NULL");
    if (has(b, "ival")) {
      int64_t v = field(b, "ival").value("ival", int64_t{0});
      if (col.type == o::kBool) return unexpected(ctx.error(sqlstate::kDatatypeMismatch,
          "column \"" + col.name + "\" is of type boolean but default expression is of type integer", loc_of(b))
          .with_hint("You will need to rewrite or cast the expression."));
      if (v < 0) return "'" + std::to_string(v) + "'::" + types::format_type(col.type == o::kInt2 || col.type == o::kInt8 ? col.type : o::kInt4, -1);
      return std::to_string(v);
    }
    if (has(b, "fval")) return field(b, "fval").value("fval", std::string("0"));
    if (has(b, "boolval")) return std::string(field(b, "boolval").value("boolval", false) ? "true" : "false");
    if (has(b, "sval")) {
      std::string s = field(b, "sval").value("sval", std::string());
      // Validate against the column type now, as PostgreSQL does.
      types::SessionContext sc;
      auto v = types::parse_text(col.type, s, col.typmod, sc);
      if (!v) {
        PgError e = v.error();
        e.position = ctx.position(loc_of(b));
        return unexpected(std::move(e));
      }
      if (col.type == o::kBool) return std::string(v->i ? "true" : "false");
      if (col.type == o::kInt4 || col.type == o::kNumeric) return s;
      return quote_literal(s) + "::" + types::format_type(col.type, -1);
    }
  }
  if (tag == "TypeCast") {
    const Node& arg = field(b, "arg");
    if (node_tag(arg) == "A_Const" && has(node_body(arg), "sval")) {
      auto t = resolve_type_name(ctx, field(b, "typeName"));
      if (!t) return unexpected(t.error());
      std::string s = field(node_body(arg), "sval").value("sval", std::string());
      return quote_literal(s) + "::" + types::format_type(t->first, -1);
    }
  }
  if (tag == "FuncCall") {
    auto names = names_of(field(b, "funcname"));
    std::string fname = names.empty() ? "" : names.back();
    if (field(b, "args").is_null() || field(b, "args").empty()) {
      if (fname == "now") return std::string("now()");
      if (fname == "statement_timestamp" || fname == "clock_timestamp" || fname == "transaction_timestamp")
        return fname + "()";
    }
  }
  if (tag == "SQLValueFunction") {
    std::string op = b.value("op", std::string());
    if (op == "SVFOP_CURRENT_TIMESTAMP") return std::string("CURRENT_TIMESTAMP");
    if (op == "SVFOP_CURRENT_DATE") return std::string("CURRENT_DATE");
    if (op == "SVFOP_LOCALTIMESTAMP") return std::string("LOCALTIMESTAMP");
  }
  return unexpected(ctx.unsupported("this column default expression", loc_of(b)));
}

struct ColumnSpec {
  Column column;
  bool primary = false;
  bool unique = false;
  bool serial = false;
  Oid serial_type = 0;
};

PgResult<ColumnSpec> column_from_def(Ctx& ctx, const Node& def, const std::string& table) {
  ColumnSpec spec;
  Column& c = spec.column;
  c.name = def.value("colname", std::string());
  const Node& tn = field(def, "typeName");
  auto names = names_of(field(tn, "names"));
  std::string tname = names.empty() ? "" : names.back();
  if (types::is_serial_name(tname)) {
    spec.serial = true;
    const auto* info = types::find_type_by_name(tname);
    c.type = info ? info->oid : o::kInt4;
    c.not_null = true;
  } else {
    auto t = resolve_type_name(ctx, tn);
    if (!t) return unexpected(t.error());
    c.type = t->first;
    c.typmod = t->second;
  }
  if (has(def, "collClause")) {
    auto coll = names_of(field(field(def, "collClause"), "collname"));
    std::string cn = coll.empty() ? "" : coll.back();
    if (cn != "C" && cn != "POSIX" && cn != "default")
      return unexpected(ctx.unsupported("the collation \"" + cn + "\"", loc_of(field(def, "collClause"))));
    c.collation = cn;
  }
  for (const auto& cn : field(def, "constraints")) {
    const Node& con = field(cn, "Constraint");
    std::string ct = con.value("contype", std::string());
    if (ct == "CONSTR_NOTNULL") c.not_null = true;
    else if (ct == "CONSTR_NULL") c.not_null = false;
    else if (ct == "CONSTR_PRIMARY") { spec.primary = true; c.not_null = true; }
    else if (ct == "CONSTR_UNIQUE") spec.unique = true;
    else if (ct == "CONSTR_DEFAULT") {
      auto d = default_display(ctx, field(con, "raw_expr"), c);
      if (!d) return unexpected(d.error());
      if (*d != "NULL") c.default_sql = *d;
    } else if (ct == "CONSTR_FOREIGN") {
      return unexpected(ctx.unsupported("FOREIGN KEY constraints", loc_of(con)));
    } else if (ct == "CONSTR_CHECK") {
      return unexpected(ctx.unsupported("CHECK constraints", loc_of(con)));
    } else if (ct == "CONSTR_IDENTITY" || ct == "CONSTR_GENERATED") {
      return unexpected(ctx.unsupported("identity and generated columns", loc_of(con)));
    }
  }
  (void)table;
  return spec;
}

std::string sqlite_column(Ctx& ctx, const Column& c, bool inline_pk) {
  std::string s = quote_ident(c.name) + " " + affinity(c.type);
  if (inline_pk) s += " PRIMARY KEY";
  if (c.not_null) s += " NOT NULL";
  std::string d = sqlite_constant_default(ctx, c);
  if (!d.empty()) s += " DEFAULT " + d;
  return s;
}

bool is_int_type(Oid t) { return t == o::kInt2 || t == o::kInt4 || t == o::kInt8; }

// CREATE TABLE text for SQLite from the catalog's view of a table.
std::string sqlite_create_table(Ctx& ctx, const Catalog& cat, const Table& t, const std::string& sqlite_name) {
  const Index* pk = cat.primary_key(t.name);
  bool inline_pk = pk && pk->columns.size() == 1 && is_int_type(t.find_column(pk->columns[0])->type);
  std::string s = "CREATE TABLE " + quote_ident(sqlite_name) + " (";
  for (size_t i = 0; i < t.columns.size(); ++i) {
    const Column& c = t.columns[i];
    s += (i ? ", " : "") + sqlite_column(ctx, c, inline_pk && c.name == pk->columns[0]);
  }
  if (t.columns.empty()) s += "\"__mg_no_columns\" INTEGER";
  s += ")";
  return s;
}

std::string sqlite_create_index(const Index& idx) {
  std::string s = idx.unique ? "CREATE UNIQUE INDEX " : "CREATE INDEX ";
  s += quote_ident(idx.name) + " ON " + quote_ident(idx.table) + " (";
  for (size_t i = 0; i < idx.columns.size(); ++i) {
    s += (i ? ", " : "") + quote_ident(idx.columns[i]);
    if (i < idx.descending.size() && idx.descending[i]) s += " DESC";
  }
  return s + ")";
}

// Non-PK indexes are real SQLite indexes; an inline INTEGER PRIMARY KEY needs none.
bool needs_sqlite_index(const Catalog& cat, const Index& idx) {
  if (!idx.primary) return true;
  const Table* t = cat.find_table(idx.table);
  return !(t && idx.columns.size() == 1 && t->find_column(idx.columns[0]) && is_int_type(t->find_column(idx.columns[0])->type));
}

// Statements that rebuild a table into its new definition, keeping rows and indexes.
void rebuild_table(Ctx& ctx, const Catalog& cat, const Table& before, const Table& after,
                   std::vector<std::string>& out) {
  std::string tmp = "__mg_rebuild_" + after.name;
  out.push_back(sqlite_create_table(ctx, cat, after, tmp));
  std::string cols, vals;
  for (const auto& c : after.columns) {
    const Column* old = before.find_column(c.name);
    if (!old) continue;
    cols += (cols.empty() ? "" : ", ") + quote_ident(c.name);
    std::string v = quote_ident(old->name);
    if (old->type != c.type || (c.typmod >= 0 && c.typmod != old->typmod)) {
      v = "mg_cast(" + v + ", " + std::to_string(old->type) + ", " + std::to_string(c.type) + ", " +
          std::to_string(c.typmod) + ")";
    }
    vals += (vals.empty() ? "" : ", ") + v;
  }
  if (!cols.empty())
    out.push_back("INSERT INTO " + quote_ident(tmp) + " (" + cols + ") SELECT " + vals + " FROM " + quote_ident(before.name));
  out.push_back("DROP TABLE " + quote_ident(before.name));
  out.push_back("ALTER TABLE " + quote_ident(tmp) + " RENAME TO " + quote_ident(after.name));
  for (const auto* idx : cat.table_indexes(after.name)) {
    if (needs_sqlite_index(cat, *idx)) out.push_back(sqlite_create_index(*idx));
  }
}

std::string seq_insert(const Sequence& s) {
  return "INSERT INTO " + quote_ident(std::string(kSequenceTable)) + " (name, last_value, is_called) VALUES (" +
         quote_literal(s.name) + ", " + std::to_string(s.start) + ", 0)";
}

std::string seq_delete(const std::string& name) {
  return "DELETE FROM " + quote_ident(std::string(kSequenceTable)) + " WHERE name = " + quote_literal(name);
}

Plan ddl_plan(const std::string& tag, std::shared_ptr<Catalog> cat, std::vector<std::string> sql) {
  Plan p;
  p.kind = PlanKind::kDdl;
  p.tag = tag;
  p.writes = true;
  cat->version++;
  p.new_catalog = std::move(cat);
  p.ddl_sql = std::move(sql);
  return p;
}

Plan notice_plan(const std::string& tag, std::string notice) {
  Plan p;
  p.kind = PlanKind::kNoop;
  p.tag = tag;
  p.notices.push_back(std::move(notice));
  return p;
}

void add_serial_sequence(Catalog& cat, Column& c, const std::string& table, std::vector<std::string>& sql) {
  Sequence s;
  s.name = choose_name(cat, table + "_" + c.name, "seq");
  if (s.name.size() > kNameDataLen) s.name.resize(kNameDataLen);
  s.type = c.type;
  s.max_value = c.type == o::kInt4 ? 2147483647 : c.type == o::kInt2 ? 32767 : INT64_MAX;
  s.owned_by_table = table;
  s.owned_by_column = c.name;
  s.oid = cat.allocate_oid();
  c.sequence = s.name;
  c.default_sql = "nextval(" + quote_literal(s.name) + "::regclass)";
  sql.push_back(seq_insert(s));
  cat.sequences.emplace(s.name, std::move(s));
}

PgResult<Plan> create_table(Ctx& ctx, const Node& body) {
  const Node& rel = field(body, "relation");
  std::string schema = rel.value("schemaname", std::string());
  std::string bare = rel.value("relname", std::string());
  if (!schema.empty() && schema != "public" && !ctx.cat.schemas.count(schema))
    return unexpected(ctx.error(sqlstate::kInvalidSchemaName, "schema \"" + schema + "\" does not exist", loc_of(rel)));
  std::string name = relation_key(schema, bare);
  if (rel.value("relpersistence", std::string("p")) == "t") return unexpected(ctx.unsupported("temporary tables", loc_of(rel)));
  if (has(body, "inhRelations")) return unexpected(ctx.unsupported("table inheritance", loc_of(rel)));
  if (has(body, "partspec")) return unexpected(ctx.unsupported("partitioned tables", loc_of(rel)));
  // Storage parameters (WITH (fillfactor=...)) have no meaning for SQLite; accepted and ignored.
  if (relation_exists(ctx.cat, name)) {
    if (body.value("if_not_exists", false))
      return notice_plan("CREATE TABLE", "relation \"" + bare + "\" already exists, skipping");
    return unexpected(ctx.error(sqlstate::kDuplicateTable, "relation \"" + bare + "\" already exists"));
  }
  auto cat = std::make_shared<Catalog>(ctx.cat);
  Table t;
  t.name = name;
  t.schema = schema.empty() ? "public" : schema;
  t.oid = cat->allocate_oid();
  std::vector<std::string> sql;
  std::vector<std::string> pk_cols;
  std::vector<std::vector<std::string>> unique_sets;
  for (const auto& el : field(body, "tableElts")) {
    std::string_view tag = node_tag(el);
    const Node& b = node_body(el);
    if (tag == "ColumnDef") {
      auto spec = column_from_def(ctx, b, name);
      if (!spec) return unexpected(spec.error());
      if (t.find_column(spec->column.name))
        return unexpected(ctx.error(sqlstate::kDuplicateColumn, "column \"" + spec->column.name + "\" specified more than once"));
      if (spec->primary) {
        if (!pk_cols.empty())
          return unexpected(ctx.error(sqlstate::kInvalidTableDefinition, "multiple primary keys for table \"" + name + "\" are not allowed"));
        pk_cols.push_back(spec->column.name);
      }
      if (spec->unique) unique_sets.push_back({spec->column.name});
      if (spec->serial) add_serial_sequence(*cat, spec->column, name, sql);
      t.columns.push_back(spec->column);
    } else if (tag == "Constraint") {
      std::string ct = b.value("contype", std::string());
      auto keys = names_of(field(b, "keys"));
      if (ct == "CONSTR_PRIMARY") {
        if (!pk_cols.empty())
          return unexpected(ctx.error(sqlstate::kInvalidTableDefinition, "multiple primary keys for table \"" + name + "\" are not allowed"));
        pk_cols = keys;
      } else if (ct == "CONSTR_UNIQUE") {
        unique_sets.push_back(keys);
      } else if (ct == "CONSTR_FOREIGN") {
        return unexpected(ctx.unsupported("FOREIGN KEY constraints", loc_of(b)));
      } else {
        return unexpected(ctx.unsupported("this table constraint", loc_of(b)));
      }
    } else {
      return unexpected(ctx.unsupported(std::string(tag) + " in CREATE TABLE", -1));
    }
  }
  for (const auto& k : pk_cols) {
    Column* c = nullptr;
    for (auto& col : t.columns) if (col.name == k) c = &col;
    if (!c) return unexpected(ctx.error(sqlstate::kUndefinedColumn, "column \"" + k + "\" named in key does not exist"));
    c->not_null = true;
  }
  cat->tables.emplace(name, t);
  if (!pk_cols.empty()) {
    Index idx;
    idx.name = choose_name(*cat, name, "pkey");
    idx.table = name;
    idx.unique = idx.primary = idx.constraint = true;
    idx.columns = pk_cols;
    idx.oid = cat->allocate_oid();
    cat->indexes.emplace(idx.name, idx);
  }
  for (const auto& u : unique_sets) {
    Index idx;
    std::string base = name;
    for (const auto& c : u) base += "_" + c;
    idx.name = choose_name(*cat, base, "key");
    idx.table = name;
    idx.unique = idx.constraint = true;
    idx.columns = u;
    idx.oid = cat->allocate_oid();
    cat->indexes.emplace(idx.name, idx);
  }
  const Table& stored = cat->tables.at(name);
  sql.insert(sql.begin(), sqlite_create_table(ctx, *cat, stored, name));
  for (const auto* idx : cat->table_indexes(name)) {
    if (needs_sqlite_index(*cat, *idx)) sql.push_back(sqlite_create_index(*idx));
  }
  return ddl_plan("CREATE TABLE", cat, sql);
}

PgResult<Plan> create_index(Ctx& ctx, const Node& body) {
  const Node& rel = field(body, "relation");
  std::string table = relation_key(rel.value("schemaname", std::string()), rel.value("relname", std::string()));
  const Table* t = ctx.cat.find_table(table);
  if (!t)
    return unexpected(ctx.error(sqlstate::kUndefinedTable,
                                "relation \"" + rel.value("relname", std::string()) + "\" does not exist", loc_of(rel)));
  if (has(body, "whereClause")) return unexpected(ctx.unsupported("partial indexes", -1));
  std::string method = body.value("accessMethod", std::string("btree"));
  if (method != "btree") return unexpected(ctx.unsupported("index access method " + method, -1));
  Index idx;
  idx.table = table;
  idx.unique = body.value("unique", false);
  for (const auto& p : field(body, "indexParams")) {
    const Node& ie = field(p, "IndexElem");
    if (!ie.contains("name")) return unexpected(ctx.unsupported("expression indexes", -1));
    std::string col = ie.value("name", std::string());
    if (!t->find_column(col))
      return unexpected(ctx.error(sqlstate::kUndefinedColumn, "column \"" + col + "\" does not exist"));
    idx.columns.push_back(col);
    idx.descending.push_back(ie.value("ordering", std::string()) == "SORTBY_DESC");
  }
  std::string name = body.value("idxname", std::string());
  if (!name.empty()) name = relation_key(t->schema, name);
  if (name.empty()) {
    std::string base = table;
    for (const auto& c : idx.columns) base += "_" + c;
    name = choose_name(ctx.cat, base, idx.unique ? "key" : "idx");
    if (!idx.unique) name = choose_name(ctx.cat, base, "idx");
  }
  if (relation_exists(ctx.cat, name)) {
    std::string shown = split_relation_key(name).second;
    if (body.value("if_not_exists", false))
      return notice_plan("CREATE INDEX", "relation \"" + shown + "\" already exists, skipping");
    return unexpected(ctx.error(sqlstate::kDuplicateTable, "relation \"" + shown + "\" already exists"));
  }
  idx.name = name;
  auto cat = std::make_shared<Catalog>(ctx.cat);
  idx.oid = cat->allocate_oid();
  cat->indexes.emplace(name, idx);
  return ddl_plan("CREATE INDEX", cat, {sqlite_create_index(idx)});
}

void drop_table_into(Catalog& cat, const std::string& name, std::vector<std::string>& sql) {
  for (auto it = cat.indexes.begin(); it != cat.indexes.end();) {
    if (it->second.table == name) it = cat.indexes.erase(it);
    else ++it;
  }
  for (auto it = cat.sequences.begin(); it != cat.sequences.end();) {
    if (it->second.owned_by_table == name) {
      sql.push_back(seq_delete(it->first));
      it = cat.sequences.erase(it);
    } else {
      ++it;
    }
  }
  cat.tables.erase(name);
  sql.push_back("DROP TABLE " + quote_ident(name));
}

PgResult<Plan> drop(Ctx& ctx, const Node& body) {
  std::string type = body.value("removeType", std::string());
  bool missing_ok = body.value("missing_ok", false);
  auto cat = std::make_shared<Catalog>(ctx.cat);
  std::vector<std::string> sql;
  std::vector<std::string> notices;
  std::string tag;
  for (const auto& obj : field(body, "objects")) {
    std::vector<std::string> parts;
    if (obj.contains("List")) parts = names_of(field(obj["List"], "items"));
    else parts.push_back(str_of(obj));
    if (type == "OBJECT_SCHEMA") {
      tag = "DROP SCHEMA";
      std::string sname = parts.back();
      if (sname == "public") return unexpected(ctx.unsupported("dropping schema public", -1));
      if (!cat->schemas.count(sname)) {
        if (missing_ok) { notices.push_back("schema \"" + sname + "\" does not exist, skipping"); continue; }
        return unexpected(ctx.error(sqlstate::kInvalidSchemaName, "schema \"" + sname + "\" does not exist"));
      }
      std::vector<std::string> members;
      for (const auto& [k, t] : cat->tables)
        if (t.schema == sname) members.push_back(k);
      if (!members.empty() && body.value("behavior", std::string()) != "DROP_CASCADE")
        return unexpected(ctx.error(sqlstate::kDependentObjectsStillExist,
                                    "cannot drop schema " + sname + " because other objects depend on it")
                              .with_hint("Use DROP ... CASCADE to drop the dependent objects too."));
      for (const auto& k : members) drop_table_into(*cat, k, sql);
      for (auto it = cat->sequences.begin(); it != cat->sequences.end();) {
        if (split_relation_key(it->first).first == sname) {
          sql.push_back(seq_delete(it->first));
          it = cat->sequences.erase(it);
        } else {
          ++it;
        }
      }
      cat->schemas.erase(sname);
      continue;
    }
    std::string name = parts.back();
    if (parts.size() == 2 && parts[0] != "public") {
      if (!cat->schemas.count(parts[0])) {
        if (missing_ok) { notices.push_back("schema \"" + parts[0] + "\" does not exist, skipping"); continue; }
        return unexpected(ctx.error(sqlstate::kInvalidSchemaName, "schema \"" + parts[0] + "\" does not exist"));
      }
      name = relation_key(parts[0], name);
    }
    if (type == "OBJECT_TABLE") {
      tag = "DROP TABLE";
      if (!cat->tables.count(name)) {
        if (missing_ok) { notices.push_back("table \"" + name + "\" does not exist, skipping"); continue; }
        return unexpected(ctx.error(sqlstate::kUndefinedTable, "table \"" + name + "\" does not exist"));
      }
      drop_table_into(*cat, name, sql);
    } else if (type == "OBJECT_INDEX") {
      tag = "DROP INDEX";
      auto it = cat->indexes.find(name);
      if (it == cat->indexes.end()) {
        if (missing_ok) { notices.push_back("index \"" + name + "\" does not exist, skipping"); continue; }
        return unexpected(ctx.error(sqlstate::kUndefinedObject, "index \"" + name + "\" does not exist"));
      }
      if (it->second.constraint && body.value("behavior", std::string()) != "DROP_CASCADE") {
        return unexpected(ctx.error(sqlstate::kDependentObjectsStillExist,
                                    "cannot drop index " + name + " because constraint " + name + " on table " +
                                        it->second.table + " requires it")
                              .with_hint("You can drop constraint " + name + " on table " + it->second.table + " instead."));
      }
      if (needs_sqlite_index(*cat, it->second)) sql.push_back("DROP INDEX " + quote_ident(name));
      cat->indexes.erase(it);
    } else if (type == "OBJECT_SEQUENCE") {
      tag = "DROP SEQUENCE";
      if (!cat->sequences.count(name)) {
        if (missing_ok) { notices.push_back("sequence \"" + name + "\" does not exist, skipping"); continue; }
        return unexpected(ctx.error(sqlstate::kUndefinedTable, "sequence \"" + name + "\" does not exist"));
      }
      cat->sequences.erase(name);
      sql.push_back(seq_delete(name));
    } else {
      return unexpected(ctx.unsupported("DROP of this object type", -1));
    }
  }
  if (tag.empty())
    tag = type == "OBJECT_TABLE" ? "DROP TABLE" : type == "OBJECT_INDEX" ? "DROP INDEX"
        : type == "OBJECT_SCHEMA" ? "DROP SCHEMA" : "DROP SEQUENCE";
  Plan p = ddl_plan(tag, cat, sql);
  p.notices = notices;
  return p;
}

PgResult<Plan> alter_table(Ctx& ctx, const Node& body) {
  const Node& rel = field(body, "relation");
  std::string name = relation_key(rel.value("schemaname", std::string()), rel.value("relname", std::string()));
  if (body.value("objtype", std::string("OBJECT_TABLE")) == "OBJECT_SEQUENCE")
    return unexpected(ctx.unsupported("ALTER SEQUENCE ... OWNER", -1));
  if (!ctx.cat.find_table(name)) {
    if (body.value("missing_ok", false)) return notice_plan("ALTER TABLE", "relation \"" + name + "\" does not exist, skipping");
    return unexpected(ctx.error(sqlstate::kUndefinedTable, "relation \"" + name + "\" does not exist", loc_of(rel)));
  }
  auto cat = std::make_shared<Catalog>(ctx.cat);
  const Table before = cat->tables.at(name);
  Table& t = cat->tables.at(name);
  std::vector<std::string> sql;
  bool rebuild = false;
  std::vector<std::string> inplace;
  for (const auto& c : field(body, "cmds")) {
    const Node& cmd = field(c, "AlterTableCmd");
    std::string sub = cmd.value("subtype", std::string());
    std::string colname = cmd.value("name", std::string());
    auto find_col = [&](const std::string& n) -> PgResult<Column*> {
      for (auto& col : t.columns) if (col.name == n) return &col;
      return unexpected(ctx.error(sqlstate::kUndefinedColumn, "column \"" + n + "\" of relation \"" + name + "\" does not exist"));
    };
    if (sub == "AT_AddColumn") {
      auto spec = column_from_def(ctx, field(field(cmd, "def"), "ColumnDef"), name);
      if (!spec) return unexpected(spec.error());
      if (t.find_column(spec->column.name)) {
        if (cmd.value("missing_ok", false)) continue;
        return unexpected(ctx.error(sqlstate::kDuplicateColumn, "column \"" + spec->column.name + "\" of relation \"" + name + "\" already exists"));
      }
      if (spec->serial) add_serial_sequence(*cat, spec->column, name, sql);
      t.columns.push_back(spec->column);
      bool simple = !spec->primary && !spec->unique && !spec->serial &&
                    (!spec->column.not_null || !sqlite_constant_default(ctx, spec->column).empty());
      if (simple && spec->column.default_sql && sqlite_constant_default(ctx, spec->column).empty()) simple = false;
      if (simple) {
        inplace.push_back("ALTER TABLE " + quote_ident(name) + " ADD COLUMN " + sqlite_column(ctx, spec->column, false));
      } else {
        rebuild = true;
      }
      if (spec->primary || spec->unique) {
        Index idx;
        idx.name = choose_name(*cat, spec->primary ? name : name + "_" + spec->column.name, spec->primary ? "pkey" : "key");
        idx.table = name;
        idx.unique = idx.constraint = true;
        idx.primary = spec->primary;
        idx.columns = {spec->column.name};
        idx.oid = cat->allocate_oid();
        cat->indexes.emplace(idx.name, idx);
      }
    } else if (sub == "AT_AlterColumnType") {
      auto col = find_col(colname);
      if (!col) return unexpected(col.error());
      const Node& def = field(field(cmd, "def"), "ColumnDef");
      if (has(def, "raw_default")) return unexpected(ctx.unsupported("ALTER COLUMN TYPE ... USING", -1));
      auto tt = resolve_type_name(ctx, field(def, "typeName"));
      if (!tt) return unexpected(tt.error());
      Column& cc = **col;
      bool same_storage = affinity(cc.type) == affinity(tt->first);
      bool widening = same_storage && ((cc.type == tt->first && (tt->second < 0 || (cc.typmod >= 0 && tt->second >= cc.typmod))) ||
                                       (is_int_type(cc.type) && is_int_type(tt->first) && tt->first != o::kInt2 &&
                                        (cc.type != o::kInt8 || tt->first == o::kInt8)) ||
                                       ((cc.type == o::kVarchar || cc.type == o::kText) && tt->first == o::kText) ||
                                       (cc.type == o::kVarchar && tt->first == o::kVarchar && tt->second < 0));
      if (cc.type == o::kInt8 && tt->first == o::kInt4) widening = false;
      if (cc.type == o::kTimestamp && tt->first == o::kTimestamptz) widening = true;  // sessions run in UTC
      cc.type = tt->first;
      cc.typmod = tt->second;
      if (!widening) rebuild = true;
    } else if (sub == "AT_SetNotNull" || sub == "AT_DropNotNull") {
      auto col = find_col(colname);
      if (!col) return unexpected(col.error());
      bool nn = sub == "AT_SetNotNull";
      if (!nn) {
        const Index* pk = cat->primary_key(name);
        if (pk && std::find(pk->columns.begin(), pk->columns.end(), colname) != pk->columns.end())
          return unexpected(ctx.error(sqlstate::kInvalidTableDefinition, "column \"" + colname + "\" is in a primary key"));
      }
      if ((*col)->not_null != nn) {
        (*col)->not_null = nn;
        rebuild = true;
      }
    } else if (sub == "AT_ColumnDefault") {
      auto col = find_col(colname);
      if (!col) return unexpected(col.error());
      if (has(cmd, "def")) {
        auto d = default_display(ctx, field(cmd, "def"), **col);
        if (!d) return unexpected(d.error());
        (*col)->default_sql = *d;
      } else {
        (*col)->default_sql.reset();
      }
    } else if (sub == "AT_DropColumn") {
      auto col = find_col(colname);
      if (!col) {
        if (cmd.value("missing_ok", false)) continue;
        return unexpected(col.error());
      }
      for (auto it = cat->indexes.begin(); it != cat->indexes.end();) {
        const auto& ix = it->second;
        if (ix.table == name && std::find(ix.columns.begin(), ix.columns.end(), colname) != ix.columns.end()) {
          it = cat->indexes.erase(it);
        } else {
          ++it;
        }
      }
      for (auto it = cat->sequences.begin(); it != cat->sequences.end();) {
        if (it->second.owned_by_table == name && it->second.owned_by_column == colname) {
          sql.push_back(seq_delete(it->first));
          it = cat->sequences.erase(it);
        } else {
          ++it;
        }
      }
      t.columns.erase(std::remove_if(t.columns.begin(), t.columns.end(), [&](const Column& x) { return x.name == colname; }),
                      t.columns.end());
      rebuild = true;
    } else if (sub == "AT_AddConstraint") {
      const Node& con = field(field(cmd, "def"), "Constraint");
      std::string ct = con.value("contype", std::string());
      auto keys = names_of(field(con, "keys"));
      if (ct != "CONSTR_PRIMARY" && ct != "CONSTR_UNIQUE") return unexpected(ctx.unsupported("this constraint in ALTER TABLE", loc_of(con)));
      if (ct == "CONSTR_PRIMARY" && cat->primary_key(name))
        return unexpected(ctx.error(sqlstate::kInvalidTableDefinition, "multiple primary keys for table \"" + name + "\" are not allowed"));
      Index idx;
      std::string conname = con.value("conname", std::string());
      std::string base = name;
      if (ct == "CONSTR_UNIQUE") for (const auto& k : keys) base += "_" + k;
      idx.name = conname.empty() ? choose_name(*cat, base, ct == "CONSTR_PRIMARY" ? "pkey" : "key") : conname;
      if (relation_exists(*cat, idx.name))
        return unexpected(ctx.error(sqlstate::kDuplicateTable, "relation \"" + idx.name + "\" already exists"));
      idx.table = name;
      idx.unique = idx.constraint = true;
      idx.primary = ct == "CONSTR_PRIMARY";
      idx.columns = keys;
      idx.oid = cat->allocate_oid();
      for (const auto& k : keys) {
        auto col = find_col(k);
        if (!col) return unexpected(col.error());
        if (idx.primary && !(*col)->not_null) {
          (*col)->not_null = true;
          rebuild = true;
        }
      }
      cat->indexes.emplace(idx.name, idx);
      if (!rebuild) inplace.push_back(sqlite_create_index(idx));
    } else {
      return unexpected(ctx.unsupported("ALTER TABLE " + sub.substr(3), -1));
    }
  }
  if (rebuild) {
    rebuild_table(ctx, *cat, before, t, sql);
  } else {
    sql.insert(sql.end(), inplace.begin(), inplace.end());
  }
  return ddl_plan("ALTER TABLE", cat, sql);
}

PgResult<Plan> rename(Ctx& ctx, const Node& body) {
  std::string type = body.value("renameType", std::string());
  const Node& rel = field(body, "relation");
  std::string rel_schema = rel.value("schemaname", std::string());
  std::string name = relation_key(rel_schema, rel.value("relname", std::string()));
  std::string newname = body.value("newname", std::string());
  if (type != "OBJECT_COLUMN") newname = relation_key(rel_schema, newname);
  auto cat = std::make_shared<Catalog>(ctx.cat);
  std::vector<std::string> sql;
  if (type == "OBJECT_TABLE") {
    if (!cat->tables.count(name)) return unexpected(ctx.error(sqlstate::kUndefinedTable, "relation \"" + name + "\" does not exist", loc_of(rel)));
    if (relation_exists(*cat, newname)) return unexpected(ctx.error(sqlstate::kDuplicateTable, "relation \"" + newname + "\" already exists"));
    Table t = cat->tables.at(name);
    cat->tables.erase(name);
    t.name = newname;
    t.schema = split_relation_key(newname).first;
    cat->tables.emplace(newname, t);
    for (auto& [_, ix] : cat->indexes) if (ix.table == name) ix.table = newname;
    for (auto& [_, s] : cat->sequences) if (s.owned_by_table == name) s.owned_by_table = newname;
    sql.push_back("ALTER TABLE " + quote_ident(name) + " RENAME TO " + quote_ident(newname));
    return ddl_plan("ALTER TABLE", cat, sql);
  }
  if (type == "OBJECT_COLUMN") {
    auto it = cat->tables.find(name);
    if (it == cat->tables.end()) return unexpected(ctx.error(sqlstate::kUndefinedTable, "relation \"" + name + "\" does not exist", loc_of(rel)));
    std::string old = body.value("subname", std::string());
    Column* col = nullptr;
    for (auto& c : it->second.columns) if (c.name == old) col = &c;
    if (!col) return unexpected(ctx.error(sqlstate::kUndefinedColumn, "column \"" + old + "\" does not exist"));
    if (it->second.find_column(newname))
      return unexpected(ctx.error(sqlstate::kDuplicateColumn, "column \"" + newname + "\" of relation \"" + name + "\" already exists"));
    col->name = newname;
    for (auto& [_, ix] : cat->indexes)
      if (ix.table == name) for (auto& c : ix.columns) if (c == old) c = newname;
    for (auto& [_, s] : cat->sequences)
      if (s.owned_by_table == name && s.owned_by_column == old) s.owned_by_column = newname;
    sql.push_back("ALTER TABLE " + quote_ident(name) + " RENAME COLUMN " + quote_ident(old) + " TO " + quote_ident(newname));
    return ddl_plan("ALTER TABLE", cat, sql);
  }
  if (type == "OBJECT_INDEX") {
    auto it = cat->indexes.find(name);
    if (it == cat->indexes.end()) return unexpected(ctx.error(sqlstate::kUndefinedTable, "relation \"" + name + "\" does not exist", loc_of(rel)));
    if (relation_exists(*cat, newname)) return unexpected(ctx.error(sqlstate::kDuplicateTable, "relation \"" + newname + "\" already exists"));
    Index ix = it->second;
    cat->indexes.erase(it);
    bool real = needs_sqlite_index(*cat, ix);
    if (real) sql.push_back("DROP INDEX " + quote_ident(name));
    ix.name = newname;
    if (real) sql.push_back(sqlite_create_index(ix));
    cat->indexes.emplace(newname, ix);
    return ddl_plan("ALTER INDEX", cat, sql);
  }
  if (type == "OBJECT_SEQUENCE") {
    auto it = cat->sequences.find(name);
    if (it == cat->sequences.end()) return unexpected(ctx.error(sqlstate::kUndefinedTable, "relation \"" + name + "\" does not exist"));
    Sequence s = it->second;
    cat->sequences.erase(it);
    s.name = newname;
    cat->sequences.emplace(newname, s);
    for (auto& [_, t] : cat->tables)
      for (auto& c : t.columns)
        if (c.sequence == name) {
          c.sequence = newname;
          c.default_sql = "nextval(" + quote_literal(newname) + "::regclass)";
        }
    sql.push_back("UPDATE " + quote_ident(std::string(kSequenceTable)) + " SET name = " + quote_literal(newname) +
                  " WHERE name = " + quote_literal(name));
    return ddl_plan("ALTER SEQUENCE", cat, sql);
  }
  return unexpected(ctx.unsupported("this kind of RENAME", -1));
}

int64_t def_int(const Node& defel) {
  const Node& arg = field(defel, "arg");
  if (node_tag(arg) == "Integer") return node_body(arg).value("ival", int64_t{0});
  if (node_tag(arg) == "Float") return std::stoll(node_body(arg).value("fval", std::string("0")));
  return 0;
}

PgResult<Plan> create_sequence(Ctx& ctx, const Node& body) {
  const Node& rel = field(body, "sequence");
  std::string name = rel.value("relname", std::string());
  if (relation_exists(ctx.cat, name)) {
    if (body.value("if_not_exists", false)) return notice_plan("CREATE SEQUENCE", "relation \"" + name + "\" already exists, skipping");
    return unexpected(ctx.error(sqlstate::kDuplicateTable, "relation \"" + name + "\" already exists"));
  }
  auto cat = std::make_shared<Catalog>(ctx.cat);
  Sequence s;
  s.name = name;
  for (const auto& o : field(body, "options")) {
    const Node& d = field(o, "DefElem");
    std::string opt = d.value("defname", std::string());
    if (opt == "start") s.start = def_int(d);
    else if (opt == "increment") s.increment = def_int(d);
    else if (opt == "minvalue") s.min_value = def_int(d);
    else if (opt == "maxvalue") s.max_value = def_int(d);
    else if (opt != "cache") return unexpected(ctx.unsupported("sequence option " + opt, -1));
  }
  s.oid = cat->allocate_oid();
  cat->sequences.emplace(name, s);
  return ddl_plan("CREATE SEQUENCE", cat, {seq_insert(s)});
}

PgResult<Plan> alter_sequence(Ctx& ctx, const Node& body) {
  const Node& rel = field(body, "sequence");
  std::string name = rel.value("relname", std::string());
  const Sequence* s = ctx.cat.find_sequence(name);
  if (!s) return unexpected(ctx.error(sqlstate::kUndefinedTable, "relation \"" + name + "\" does not exist", loc_of(rel)));
  auto cat = std::make_shared<Catalog>(ctx.cat);
  Sequence& ms = cat->sequences.at(name);
  std::vector<std::string> sql;
  for (const auto& o : field(body, "options")) {
    const Node& d = field(o, "DefElem");
    std::string opt = d.value("defname", std::string());
    if (opt == "restart") {
      int64_t v = has(d, "arg") ? def_int(d) : ms.start;
      sql.push_back("UPDATE " + quote_ident(std::string(kSequenceTable)) + " SET last_value = " + std::to_string(v) +
                    ", is_called = 0 WHERE name = " + quote_literal(name));
    } else if (opt == "start") ms.start = def_int(d);
    else if (opt == "increment") ms.increment = def_int(d);
    else if (opt == "minvalue") ms.min_value = def_int(d);
    else if (opt == "maxvalue") ms.max_value = def_int(d);
    else return unexpected(ctx.unsupported("sequence option " + opt, -1));
  }
  return ddl_plan("ALTER SEQUENCE", cat, sql);
}

PgResult<Plan> truncate(Ctx& ctx, const Node& body) {
  auto cat = std::make_shared<Catalog>(ctx.cat);
  std::vector<std::string> sql;
  bool restart = body.value("restart_seqs", false);
  for (const auto& r : field(body, "relations")) {
    const Node& rv = field(r, "RangeVar");
    std::string name = relation_key(rv.value("schemaname", std::string()), rv.value("relname", std::string()));
    if (!ctx.cat.find_table(name))
      return unexpected(ctx.error(sqlstate::kUndefinedTable, "relation \"" + name + "\" does not exist", loc_of(rv)));
    sql.push_back("DELETE FROM " + quote_ident(name));
    if (restart) {
      for (const auto& [sn, s] : ctx.cat.sequences) {
        if (s.owned_by_table == name)
          sql.push_back("UPDATE " + quote_ident(std::string(kSequenceTable)) + " SET last_value = " +
                        std::to_string(s.start) + ", is_called = 0 WHERE name = " + quote_literal(sn));
      }
    }
  }
  Plan p = ddl_plan("TRUNCATE TABLE", cat, sql);
  return p;
}

}  // namespace

PgResult<Plan> create_schema(Ctx& ctx, const Node& body) {
  std::string name = body.value("schemaname", std::string());
  if (name == "public" || ctx.cat.schemas.count(name)) {
    if (body.value("if_not_exists", false))
      return notice_plan("CREATE SCHEMA", "schema \"" + name + "\" already exists, skipping");
    return unexpected(ctx.error(sqlstate::kDuplicateSchema, "schema \"" + name + "\" already exists"));
  }
  if (name.rfind("pg_", 0) == 0)
    return unexpected(ctx.error("42939", "unacceptable schema name \"" + name + "\"")
                          .with_detail("The prefix \"pg_\" is reserved for system schemas."));
  if (has(body, "schemaElts")) return unexpected(ctx.unsupported("CREATE SCHEMA with schema elements", -1));
  auto cat = std::make_shared<Catalog>(ctx.cat);
  cat->schemas[name] = cat->allocate_oid();
  return ddl_plan("CREATE SCHEMA", cat, {});
}

PgResult<Plan> translate_ddl(Ctx& ctx, std::string_view tag, const Node& body) {
  if (tag == "CreateSchemaStmt") return create_schema(ctx, body);
  if (tag == "CreateStmt") return create_table(ctx, body);
  if (tag == "IndexStmt") return create_index(ctx, body);
  if (tag == "DropStmt") return drop(ctx, body);
  if (tag == "AlterTableStmt") return alter_table(ctx, body);
  if (tag == "RenameStmt") return rename(ctx, body);
  if (tag == "CreateSeqStmt") return create_sequence(ctx, body);
  if (tag == "AlterSeqStmt") return alter_sequence(ctx, body);
  if (tag == "TruncateStmt") return truncate(ctx, body);
  return unexpected(ctx.unsupported(std::string(tag), -1));
}

}  // namespace metagate::sql::tr
