// Function calls: PostgreSQL built-ins mapped to SQLite functions or to metagate's own
// (mg_*) functions registered on every SQLite connection by the store.
#include "context.hpp"
#include "metagate/util/strings.hpp"

namespace metagate::sql::tr {

using util::quote_literal;

namespace {

Expr make(std::string sql, Oid type, std::string name) {
  Expr e;
  e.sql = std::move(sql);
  e.type = type;
  e.name = std::move(name);
  return e;
}

std::string join_sql(const std::vector<Expr>& args, size_t from = 0) {
  std::string s;
  for (size_t i = from; i < args.size(); ++i) {
    if (i > from) s += ", ";
    s += args[i].sql;
  }
  return s;
}

bool is_string_type(Oid t) {
  return t == o::kText || t == o::kVarchar || t == o::kBpchar || t == o::kName || t == o::kChar;
}

PgError no_function(Ctx& ctx, const std::string& name, const std::vector<Expr>& args, int location) {
  std::string sig;
  for (size_t i = 0; i < args.size(); ++i) {
    if (i) sig += ", ";
    sig += type_display(args[i].type);
  }
  return ctx.error(sqlstate::kUndefinedFunction, "function " + name + "(" + sig + ") does not exist", location)
      .with_hint("No function matches the given name and argument types. You might need to add explicit type casts.");
}

PgStatus coerce_arg(Ctx& ctx, Expr& e, Oid t) {
  auto c = coerce(ctx, e, t, -1, false);
  if (!c) return unexpected(c.error());
  e = std::move(*c);
  return Ok{};
}

}  // namespace

PgResult<Expr> translate_func(Ctx& ctx, const Node& body, const Scope& scope) {
  auto names = names_of(field(body, "funcname"));
  int location = loc_of(body);
  std::string schema = names.size() == 2 ? names[0] : "";
  std::string name = names.empty() ? "" : names.back();
  if (!schema.empty() && schema != "pg_catalog" && schema != "public")
    return unexpected(ctx.error(sqlstate::kInvalidSchemaName, "schema \"" + schema + "\" does not exist", location));
  if (has(body, "over")) return unexpected(ctx.unsupported("window functions", location));
  if (has(body, "agg_filter")) return unexpected(ctx.unsupported("aggregate FILTER clauses", location));
  if (has(body, "agg_order")) return unexpected(ctx.unsupported("ordered aggregates", location));
  bool star = body.value("agg_star", false);
  bool distinct = body.value("agg_distinct", false);
  std::vector<Expr> args;
  for (const auto& a : field(body, "args")) {
    auto av = translate_expr(ctx, a, scope);
    if (!av) return av;
    args.push_back(std::move(*av));
  }
  const std::string dist = distinct ? "DISTINCT " : "";
  auto nargs = args.size();

  // Aggregates.
  if (name == "count") {
    if (star) return make("count(*)", o::kInt8, "count");
    if (nargs != 1) return unexpected(no_function(ctx, name, args, location));
    return make("count(" + dist + args[0].sql + ")", o::kInt8, "count");
  }
  if ((name == "max" || name == "min") && nargs == 1) {
    if (args[0].type == 0) {
      if (auto s = coerce_arg(ctx, args[0], o::kText); !s) return unexpected(s.error());
    }
    Expr e = make(name + "(" + dist + args[0].sql + ")", args[0].type, name);
    e.typmod = args[0].typmod;
    return e;
  }
  if (name == "sum" && nargs == 1) {
    Oid t = args[0].type;
    Oid rt = (t == o::kInt2 || t == o::kInt4) ? o::kInt8 : (t == o::kInt8 || t == o::kNumeric) ? o::kNumeric
             : (t == o::kFloat4) ? o::kFloat4 : (t == o::kFloat8) ? o::kFloat8 : o::kInvalid;
    if (t == o::kInterval || rt == o::kInvalid) return unexpected(no_function(ctx, name, args, location));
    return make("sum(" + dist + args[0].sql + ")", rt, name);
  }
  if (name == "avg" && nargs == 1) {
    Oid t = args[0].type;
    Oid rt = (t == o::kFloat4 || t == o::kFloat8) ? o::kFloat8 : o::kNumeric;
    return make("avg(" + dist + args[0].sql + ")", rt, name);
  }
  if ((name == "bool_and" || name == "every" || name == "bool_or") && nargs == 1) {
    auto b = coerce_to_bool(ctx, args[0], name);
    if (!b) return b;
    return make(std::string(name == "bool_or" ? "max(" : "min(") + b->sql + ")", o::kBool, name);
  }
  if (name == "string_agg" && nargs == 2) {
    if (auto s = coerce_arg(ctx, args[0], o::kText); !s) return unexpected(s.error());
    if (auto s = coerce_arg(ctx, args[1], o::kText); !s) return unexpected(s.error());
    return make("group_concat(" + args[0].sql + ", " + args[1].sql + ")", o::kText, name);
  }

  // Strings.
  if ((name == "lower" || name == "upper") && nargs == 1) {
    if (auto s = coerce_arg(ctx, args[0], o::kText); !s) return unexpected(s.error());
    return make("mg_" + name + "(" + args[0].sql + ")", o::kText, name);
  }
  if ((name == "length" || name == "char_length" || name == "character_length") && nargs == 1) {
    if (auto s = coerce_arg(ctx, args[0], o::kText); !s) return unexpected(s.error());
    return make("length(" + args[0].sql + ")", o::kInt4, name == "length" ? "length" : "char_length");
  }
  if (name == "octet_length" && nargs == 1) return make("length(CAST(" + args[0].sql + " AS BLOB))", o::kInt4, name);
  if (name == "concat") {
    std::string sql = "(";
    for (size_t i = 0; i < nargs; ++i) {
      Expr& a = args[i];
      if (a.type == 0) {
        if (auto s = coerce_arg(ctx, a, o::kText); !s) return unexpected(s.error());
      }
      std::string v = is_string_type(a.type) ? a.sql : "mg_text(" + a.sql + ", " + std::to_string(a.type) + ")";
      sql += (i ? " || " : "") + std::string("coalesce(") + v + ", '')";
    }
    if (nargs == 0) sql += "''";
    return make(sql + ")", o::kText, name);
  }
  if ((name == "lpad" || name == "rpad") && (nargs == 2 || nargs == 3)) {
    if (auto s = coerce_arg(ctx, args[0], o::kText); !s) return unexpected(s.error());
    if (auto s = coerce_arg(ctx, args[1], o::kInt4); !s) return unexpected(s.error());
    if (nargs == 3) {
      if (auto s = coerce_arg(ctx, args[2], o::kText); !s) return unexpected(s.error());
    }
    return make("mg_" + name + "(" + join_sql(args) + ")", o::kText, name);
  }
  if ((name == "btrim" || name == "ltrim" || name == "rtrim") && (nargs == 1 || nargs == 2)) {
    for (auto& a : args) {
      if (auto s = coerce_arg(ctx, a, o::kText); !s) return unexpected(s.error());
    }
    std::string fn = name == "btrim" ? "trim" : name;
    return make(fn + "(" + args[0].sql + (nargs == 2 ? ", " + args[1].sql : ", ' '") + ")", o::kText, name);
  }
  if ((name == "substr" || name == "substring") && (nargs == 2 || nargs == 3)) {
    if (auto s = coerce_arg(ctx, args[0], o::kText); !s) return unexpected(s.error());
    for (size_t i = 1; i < nargs; ++i) {
      if (auto s = coerce_arg(ctx, args[i], o::kInt4); !s) return unexpected(s.error());
    }
    return make("substr(" + join_sql(args) + ")", o::kText, name);
  }
  if (name == "replace" && nargs == 3) {
    for (auto& a : args) {
      if (auto s = coerce_arg(ctx, a, o::kText); !s) return unexpected(s.error());
    }
    return make("replace(" + join_sql(args) + ")", o::kText, name);
  }
  if ((name == "strpos" || name == "position") && nargs == 2) {
    for (auto& a : args) {
      if (auto s = coerce_arg(ctx, a, o::kText); !s) return unexpected(s.error());
    }
    // position(a IN b) arrives as position(b, a)
    if (name == "position") return make("instr(" + args[0].sql + ", " + args[1].sql + ")", o::kInt4, name);
    return make("instr(" + args[0].sql + ", " + args[1].sql + ")", o::kInt4, name);
  }
  if (name == "md5" && nargs == 1) {
    if (auto s = coerce_arg(ctx, args[0], o::kText); !s) return unexpected(s.error());
    return make("mg_md5(" + args[0].sql + ")", o::kText, name);
  }

  // Numbers.
  if (name == "abs" && nargs == 1) {
    if (auto s = coerce_arg(ctx, args[0], o::kFloat8); !s && args[0].type == 0) return unexpected(s.error());
    return make("abs(" + args[0].sql + ")", args[0].type, name);
  }
  if ((name == "round" || name == "floor" || name == "ceil" || name == "ceiling" || name == "trunc") &&
      (nargs == 1 || nargs == 2)) {
    Oid t = args[0].type == o::kFloat8 || args[0].type == o::kFloat4 ? o::kFloat8 : o::kNumeric;
    return make("mg_" + std::string(name == "ceiling" ? "ceil" : name) + "(" + join_sql(args) + ")", t, name);
  }
  if (name == "random" && nargs == 0) return make("((random() / 18446744073709551616.0) + 0.5)", o::kFloat8, name);

  // Date and time.
  if ((name == "now" || name == "transaction_timestamp") && nargs == 0)
    return make("mg_now('transaction')", o::kTimestamptz, name);
  if (name == "statement_timestamp" && nargs == 0) return make("mg_now('statement')", o::kTimestamptz, name);
  if (name == "clock_timestamp" && nargs == 0) return make("mg_now('clock')", o::kTimestamptz, name);
  if ((name == "date_part" || name == "extract") && nargs == 2) {
    if (auto s = coerce_arg(ctx, args[0], o::kText); !s) return unexpected(s.error());
    if (args[1].type == 0) {
      if (auto s = coerce_arg(ctx, args[1], o::kTimestamptz); !s) return unexpected(s.error());
    }
    Oid rt = name == "extract" ? o::kNumeric : o::kFloat8;
    return make("mg_extract(" + args[0].sql + ", " + args[1].sql + ", " + std::to_string(args[1].type) + ", " +
                    std::to_string(rt) + ")",
                rt, name);
  }

  // Sequences.
  if ((name == "nextval" || name == "currval") && nargs == 1) {
    if (auto s = coerce_arg(ctx, args[0], o::kText); !s) return unexpected(s.error());
    ctx.writes = ctx.writes || name == "nextval";
    return make("mg_" + name + "(" + args[0].sql + ")", o::kInt8, name);
  }
  if (name == "setval" && (nargs == 2 || nargs == 3)) {
    if (auto s = coerce_arg(ctx, args[0], o::kText); !s) return unexpected(s.error());
    if (auto s = coerce_arg(ctx, args[1], o::kInt8); !s) return unexpected(s.error());
    if (nargs == 3) {
      if (auto s = coerce_arg(ctx, args[2], o::kBool); !s) return unexpected(s.error());
    }
    ctx.writes = true;
    return make("mg_setval(" + join_sql(args) + (nargs == 2 ? ", 1" : "") + ")", o::kInt8, name);
  }

  // Advisory locks (session and transaction scoped), keyed by bigint or (int, int).
  if (name == "pg_try_advisory_lock" || name == "pg_advisory_lock" || name == "pg_advisory_unlock" ||
      name == "pg_try_advisory_xact_lock" || name == "pg_advisory_xact_lock" || name == "pg_advisory_unlock_all" ||
      name == "pg_try_advisory_lock_shared" || name == "pg_advisory_lock_shared" ||
      name == "pg_advisory_unlock_shared") {
    if (name.find("shared") != std::string::npos) return unexpected(ctx.unsupported("shared advisory locks", location));
    std::string key;
    if (nargs == 1) {
      if (auto s = coerce_arg(ctx, args[0], o::kInt8); !s) return unexpected(s.error());
      key = args[0].sql;
    } else if (nargs == 2) {
      if (auto s = coerce_arg(ctx, args[0], o::kInt4); !s) return unexpected(s.error());
      if (auto s = coerce_arg(ctx, args[1], o::kInt4); !s) return unexpected(s.error());
      key = "((" + args[0].sql + ") * 4294967296 + ((" + args[1].sql + ") & 4294967295))";
    } else if (nargs == 0 && name == "pg_advisory_unlock_all") {
      key = "0";
    } else {
      return unexpected(no_function(ctx, name, args, location));
    }
    Oid rt = (name == "pg_advisory_lock" || name == "pg_advisory_xact_lock" || name == "pg_advisory_unlock_all")
                 ? o::kVoid
                 : o::kBool;
    return make("mg_advisory(" + quote_literal(name) + ", " + key + ")", rt, name);
  }

  // Session and server information.
  if (name == "current_database" && nargs == 0) return make("mg_session('database')", o::kName, name);
  if (name == "current_schema" && nargs == 0) return make("'public'", o::kName, name);
  if (name == "current_schemas" && nargs == 1) return unexpected(ctx.unsupported("current_schemas()", location));
  if ((name == "current_user" || name == "session_user" || name == "user") && nargs == 0)
    return make("mg_session('user')", o::kName, name);
  if (name == "version" && nargs == 0) return make("mg_session('version')", o::kText, name);
  if (name == "pg_backend_pid" && nargs == 0) return make("mg_session('pid')", o::kInt4, name);
  if (name == "pg_is_in_recovery" && nargs == 0) return make("0", o::kBool, name);
  if (name == "inet_server_port" && nargs == 0) return make("mg_session('port')", o::kInt4, name);
  if (name == "current_setting" && (nargs == 1 || nargs == 2)) {
    if (auto s = coerce_arg(ctx, args[0], o::kText); !s) return unexpected(s.error());
    std::string missing_ok = "0";
    if (nargs == 2) {
      if (auto s = coerce_arg(ctx, args[1], o::kBool); !s) return unexpected(s.error());
      missing_ok = args[1].sql;
    }
    return make("mg_setting(" + args[0].sql + ", " + missing_ok + ")", o::kText, name);
  }
  if (name == "set_config" && nargs == 3) {
    return unexpected(ctx.unsupported("set_config()", location));
  }
  if (name == "pg_sleep" && nargs == 1) {
    if (auto s = coerce_arg(ctx, args[0], o::kFloat8); !s) return unexpected(s.error());
    return make("mg_sleep(" + args[0].sql + ")", o::kVoid, name);
  }

  // Catalog helpers used by psql and ORMs.
  if (name == "format_type" && nargs == 2) {
    if (auto s = coerce_arg(ctx, args[0], o::kOid); !s) return unexpected(s.error());
    if (auto s = coerce_arg(ctx, args[1], o::kInt4); !s) return unexpected(s.error());
    return make("mg_format_type(" + join_sql(args) + ")", o::kText, name);
  }
  if (name == "array_to_string" && (nargs == 2 || nargs == 3)) {
    Oid el = types::element_of(args[0].type);
    if (el == 0) return unexpected(ctx.unsupported("array_to_string of type " + type_display(args[0].type), -1));
    std::string item = "mg_text(\"__e\".value, " + std::to_string(el) + ")";
    if (nargs == 3) item = "coalesce(" + item + ", " + args[2].sql + ")";
    std::string agg = "(SELECT group_concat(" + item + ", " + args[1].sql + ") FROM json_each(mg_array_json(" + args[0].sql +
                      ", " + std::to_string(args[0].type) + ")) AS \"__e\"" + (nargs == 2 ? " WHERE \"__e\".value IS NOT NULL" : "") + ")";
    return make("(CASE WHEN " + args[0].sql + " IS NULL OR " + args[1].sql + " IS NULL THEN NULL ELSE coalesce(" + agg + ", '') END)",
                o::kText, name);
  }
  if ((name == "array_upper" || name == "array_length") && nargs == 2) {
    Oid el = types::element_of(args[0].type);
    if (el == 0) return unexpected(ctx.unsupported(name + " of type " + type_display(args[0].type), -1));
    // One-dimensional arrays with lower bound 1: the upper bound is the length; NULL when empty.
    std::string n = "(SELECT count(*) FROM json_each(mg_array_json(" + args[0].sql + ", " + std::to_string(args[0].type) + ")))";
    return make("(CASE WHEN " + args[0].sql + " IS NULL OR " + args[1].sql + " IS NOT 1 OR " + n + " = 0 THEN NULL ELSE " + n +
                    " END)",
                o::kInt4, name);
  }
  if (name == "pg_get_statisticsobjdef_columns" && nargs == 1) return make("CAST(NULL AS TEXT)", o::kText, name);
  if (name == "pg_relation_is_publishable" && nargs == 1)
    return make("(EXISTS (SELECT 1 FROM \"pg_catalog.pg_class\" AS \"__c\" WHERE \"__c\".\"oid\" = " + args[0].sql +
                    " AND \"__c\".\"relkind\" IN ('r', 'p') AND \"__c\".\"relnamespace\" <> 11))",
                o::kBool, name);
  if (name == "pg_get_indexdef" && nargs >= 1) return make("mg_indexdef(" + args[0].sql + ")", o::kText, name);
  if (name == "pg_get_expr" && (nargs == 2 || nargs == 3)) return make("(" + args[0].sql + ")", o::kText, name);
  if (name == "pg_table_is_visible" && nargs == 1) return make("1", o::kBool, name);
  if (name == "pg_get_userbyid" && nargs == 1) return make("mg_session('user')", o::kName, name);
  if (name == "obj_description" || name == "col_description" || name == "shobj_description")
    return make("NULL", o::kText, name);
  if (name == "pg_encoding_to_char" && nargs == 1) return make("'UTF8'", o::kName, name);
  if (name == "pg_get_constraintdef" && nargs >= 1) return make("mg_constraintdef(" + args[0].sql + ")", o::kText, name);
  if (name == "pg_relation_size" || name == "pg_total_relation_size" || name == "pg_table_size")
    return make("0", o::kInt8, name);

  return unexpected(no_function(ctx, name, args, location));
}

}  // namespace metagate::sql::tr
