// Utility statements: transaction control, SET/SHOW/RESET, DISCARD and maintenance
// commands that SQLite either handles elsewhere or does not need.
#include "context.hpp"
#include "metagate/util/strings.hpp"

namespace metagate::sql::tr {

namespace {

// Renders a SET value list the way PostgreSQL stores it (comma-separated).
std::string set_value(const Node& args) {
  std::string out;
  for (const auto& a : args) {
    std::string v;
    std::string_view tag = node_tag(a);
    const Node& b = node_body(a);
    if (tag == "A_Const") {
      if (has(b, "sval")) v = field(b, "sval").value("sval", std::string());
      else if (has(b, "ival")) v = std::to_string(field(b, "ival").value("ival", int64_t{0}));
      else if (has(b, "fval")) v = field(b, "fval").value("fval", std::string());
      else if (has(b, "boolval")) v = field(b, "boolval").value("boolval", false) ? "on" : "off";
      else v = "0";
    } else if (tag == "TypeCast") {
      const Node& arg = field(b, "arg");
      v = field(node_body(arg), "sval").value("sval", std::string());
    }
    out += (out.empty() ? "" : ", ") + v;
  }
  return out;
}

}  // namespace

namespace {

PgResult<Plan> translate_copy(Ctx& ctx, const Node& body) {
  Plan p;
  bool from = body.value("is_from", false);
  if (has(body, "filename")) return unexpected(ctx.unsupported("COPY to or from a file (use STDIN/STDOUT)", -1));
  if (body.value("is_program", false)) return unexpected(ctx.unsupported("COPY ... PROGRAM", -1));
  if (has(body, "whereClause")) return unexpected(ctx.unsupported("COPY ... WHERE", -1));
  for (const auto& o : field(body, "options")) {
    const Node& d = field(o, "DefElem");
    std::string name = d.value("defname", std::string());
    const Node& arg = field(d, "arg");
    std::string sval = node_tag(arg) == "String" ? node_body(arg).value("sval", std::string()) : "";
    if (name == "format") {
      if (sval == "csv") {
        p.copy_csv = true;
      } else if (sval == "binary") {
        return unexpected(ctx.unsupported("COPY in binary format", loc_of(d)));
      } else if (sval != "text") {
        return unexpected(ctx.error(sqlstate::kInvalidParameterValue, "COPY format \"" + sval + "\" not recognized", loc_of(d)));
      }
    } else if (name == "delimiter") {
      if (sval.size() != 1)
        return unexpected(ctx.error(sqlstate::kFeatureNotSupported, "COPY delimiter must be a single one-byte character"));
      p.copy_delimiter = sval[0];
    } else if (name == "null") {
      p.copy_null = sval;
    } else if (name == "header") {
      p.copy_header = arg.is_null() || sval == "true" || sval == "on" || node_tag(arg) == "Integer";
    } else if (name == "quote") {
      if (sval.size() == 1) p.copy_quote = sval[0];
    } else if (name == "escape") {
      if (sval.size() == 1) p.copy_escape = sval[0];
    } else if (name == "freeze" || name == "encoding") {
      // FREEZE is a PostgreSQL storage hint; encoding must be UTF8 (checked by the client side).
    } else {
      return unexpected(ctx.unsupported("the COPY option " + name, loc_of(d)));
    }
  }
  if (p.copy_csv) {
    bool explicit_delim = false, explicit_null = false;
    for (const auto& o : field(body, "options")) {
      std::string n = field(o, "DefElem").value("defname", std::string());
      explicit_delim |= n == "delimiter";
      explicit_null |= n == "null";
    }
    if (!explicit_delim) p.copy_delimiter = ',';
    if (!explicit_null) p.copy_null = "";
  }
  if (from) {
    const Node& rel = field(body, "relation");
    std::string schema = rel.value("schemaname", std::string());
    std::string name = rel.value("relname", std::string());
    const Table* t = ctx.cat.find_table(relation_key(schema, name));
    if (!t) return unexpected(ctx.error(sqlstate::kUndefinedTable, "relation \"" + name + "\" does not exist", loc_of(rel)));
    std::vector<std::string> cols = names_of(field(body, "attlist"));
    if (cols.empty())
      for (const auto& c : t->columns) cols.push_back(c.name);
    // Each row is inserted by an ordinary translated INSERT, so defaults, serials and
    // type checks behave exactly as for INSERT.
    std::string ins = "INSERT INTO " + util::quote_ident(t->schema) + "." + util::quote_ident(t->bare_name()) + " (";
    std::string vals;
    for (size_t i = 0; i < cols.size(); ++i) {
      ins += (i ? ", " : "") + util::quote_ident(cols[i]);
      vals += (i ? ", $" : "$") + std::to_string(i + 1);
    }
    ins += ") VALUES (" + vals + ")";
    auto parsed = parse(ins);
    if (!parsed) return unexpected(parsed.error());
    TranslateOptions opts;
    Ctx sub(ctx.cat, opts, ins, 0);
    auto plan = translate_insert(sub, node_body(parsed->statements[0].tree));
    if (!plan) return unexpected(plan.error());
    plan->params = sub.params;
    p.copy_insert = std::make_shared<const Plan>(std::move(*plan));
    p.kind = PlanKind::kCopyIn;
    p.tag = "COPY";
    p.writes = true;
    for (const auto& c : cols) {
      OutputColumn oc;
      oc.name = c;
      p.columns.push_back(oc);
    }
    return p;
  }
  // COPY ... TO STDOUT: a query.
  QueryResult q;
  if (has(body, "query")) {
    auto r = translate_select(ctx, field(field(body, "query"), "SelectStmt"), nullptr);
    if (!r) return unexpected(r.error());
    q = std::move(*r);
  } else {
    const Node& rel = field(body, "relation");
    std::string sql = "SELECT ";
    auto cols = names_of(field(body, "attlist"));
    if (cols.empty()) sql += "*";
    for (size_t i = 0; i < cols.size(); ++i) sql += (i ? ", " : "") + util::quote_ident(cols[i]);
    sql += " FROM " + util::quote_ident(rel.value("schemaname", std::string("public"))) + "." +
           util::quote_ident(rel.value("relname", std::string()));
    auto parsed = parse(sql);
    if (!parsed) return unexpected(parsed.error());
    auto r = translate_select(ctx, node_body(parsed->statements[0].tree), nullptr);
    if (!r) return unexpected(r.error());
    q = std::move(*r);
  }
  p.kind = PlanKind::kCopyOut;
  p.tag = "COPY";
  p.sqlite_sql = q.sql;
  p.columns = q.columns;
  p.returns_rows = true;
  return p;
}

}  // namespace

PgResult<Plan> translate_utility(Ctx& ctx, std::string_view tag, const Node& body) {
  Plan p;
  if (tag == "TransactionStmt") {
    std::string kind = body.value("kind", std::string());
    if (kind == "TRANS_STMT_BEGIN" || kind == "TRANS_STMT_START") {
      p.kind = PlanKind::kBegin;
      p.tag = kind == "TRANS_STMT_BEGIN" ? "BEGIN" : "START TRANSACTION";
      for (const auto& o : field(body, "options")) {
        const Node& d = field(o, "DefElem");
        std::string name = d.value("defname", std::string());
        if (name == "transaction_isolation") {
          // SQLite transactions are serializable; every PostgreSQL level is satisfied by it.
        } else if (name == "transaction_read_only" || name == "transaction_deferrable") {
        }
      }
      return p;
    }
    if (kind == "TRANS_STMT_COMMIT") { p.kind = PlanKind::kCommit; p.tag = "COMMIT"; return p; }
    if (kind == "TRANS_STMT_ROLLBACK") { p.kind = PlanKind::kRollback; p.tag = "ROLLBACK"; return p; }
    if (kind == "TRANS_STMT_SAVEPOINT") {
      p.kind = PlanKind::kSavepoint; p.tag = "SAVEPOINT"; p.savepoint = body.value("savepoint_name", std::string()); return p;
    }
    if (kind == "TRANS_STMT_RELEASE") {
      p.kind = PlanKind::kRelease; p.tag = "RELEASE"; p.savepoint = body.value("savepoint_name", std::string()); return p;
    }
    if (kind == "TRANS_STMT_ROLLBACK_TO") {
      p.kind = PlanKind::kRollbackTo; p.tag = "ROLLBACK"; p.savepoint = body.value("savepoint_name", std::string()); return p;
    }
    return unexpected(ctx.unsupported("two-phase commit", -1));
  }
  if (tag == "VariableSetStmt") {
    std::string kind = body.value("kind", std::string());
    p.kind = PlanKind::kSet;
    p.tag = kind == "VAR_RESET" || kind == "VAR_RESET_ALL" ? "RESET" : "SET";
    p.setting = util::ascii_lower(body.value("name", std::string()));
    p.is_local = body.value("is_local", false);
    if (kind == "VAR_SET_VALUE") {
      p.value = set_value(field(body, "args"));
    } else if (kind == "VAR_SET_DEFAULT" || kind == "VAR_RESET") {
      p.reset = true;
    } else if (kind == "VAR_RESET_ALL") {
      p.reset = true;
      p.setting = "all";
    } else if (kind == "VAR_SET_MULTI") {
      // SET TRANSACTION ..., SET SESSION CHARACTERISTICS: accepted, SQLite is serializable.
      p.kind = PlanKind::kNoop;
    } else if (kind == "VAR_SET_CURRENT") {
      return unexpected(ctx.unsupported("SET ... FROM CURRENT", -1));
    }
    if (p.setting == "timezone" && kind == "VAR_SET_VALUE") {
      // SET TIME ZONE 'x' arrives as name "timezone".
    }
    return p;
  }
  if (tag == "VariableShowStmt") {
    p.kind = PlanKind::kShow;
    p.tag = "SHOW";
    p.setting = util::ascii_lower(body.value("name", std::string()));
    p.returns_rows = true;
    return p;
  }
  if (tag == "VacuumStmt") {
    p.kind = PlanKind::kNoop;
    p.tag = body.value("is_vacuumcmd", false) ? "VACUUM" : "ANALYZE";
    return p;
  }
  if (tag == "CheckPointStmt") { p.kind = PlanKind::kNoop; p.tag = "CHECKPOINT"; return p; }
  if (tag == "DiscardStmt") {
    std::string target = body.value("target", std::string());
    p.kind = target == "DISCARD_ALL" ? PlanKind::kDiscardAll : PlanKind::kNoop;
    p.tag = target == "DISCARD_ALL" ? "DISCARD ALL" : target == "DISCARD_PLANS" ? "DISCARD PLANS"
            : target == "DISCARD_SEQUENCES" ? "DISCARD SEQUENCES" : "DISCARD TEMP";
    return p;
  }
  if (tag == "CreateSchemaStmt") {
    std::string name = body.value("schemaname", std::string());
    if (name == "public") {
      if (body.value("if_not_exists", false)) {
        p.kind = PlanKind::kNoop;
        p.tag = "CREATE SCHEMA";
        p.notices.push_back("schema \"public\" already exists, skipping");
        return p;
      }
      return unexpected(ctx.error(sqlstate::kDuplicateSchema, "schema \"public\" already exists"));
    }
    return unexpected(ctx.unsupported("schemas other than public", -1));
  }
  if (tag == "CopyStmt") return translate_copy(ctx, body);
  if (tag == "ListenStmt" || tag == "NotifyStmt" || tag == "UnlistenStmt")
    return unexpected(ctx.unsupported("LISTEN/NOTIFY", -1));
  if (tag == "ExplainStmt") return unexpected(ctx.unsupported("EXPLAIN", -1));
  if (tag == "CreateExtensionStmt") return unexpected(ctx.unsupported("extensions", -1));
  if (tag == "LockStmt") {
    ctx.writes = true;
    p.kind = PlanKind::kNoop;
    p.tag = "LOCK TABLE";
    p.writes = true;
    return p;
  }
  return unexpected(ctx.unsupported("the statement " + std::string(tag), -1));
}

namespace {

// A constant EXECUTE parameter in text form (what a text-format Bind would carry).
PgResult<std::optional<std::string>> execute_param_text(Ctx& ctx, const Node& n) {
  std::string_view tag = node_tag(n);
  const Node& b = node_body(n);
  if (tag == "A_Const") {
    if (b.value("isnull", false)) return std::optional<std::string>{};
    if (has(b, "ival")) return std::optional<std::string>{std::to_string(field(b, "ival").value("ival", int64_t{0}))};
    if (has(b, "fval")) return std::optional<std::string>{field(b, "fval").value("fval", std::string("0"))};
    if (has(b, "sval")) return std::optional<std::string>{field(b, "sval").value("sval", std::string())};
    if (has(b, "boolval")) return std::optional<std::string>{field(b, "boolval").value("boolval", false) ? "true" : "false"};
  }
  if (tag == "TypeCast" && node_tag(field(b, "arg")) == "A_Const") return execute_param_text(ctx, field(b, "arg"));
  if (tag == "A_Expr" && b.value("kind", std::string()) == "AEXPR_OP" && !has(b, "lexpr")) {
    const Node& names = field(b, "name");
    if (names.is_array() && names.size() == 1 && str_of(names[0]) == "-" && node_tag(field(b, "rexpr")) == "A_Const") {
      auto v = execute_param_text(ctx, field(b, "rexpr"));
      if (!v) return v;
      if (*v) return std::optional<std::string>{"-" + **v};
      return v;
    }
  }
  return unexpected(ctx.unsupported("EXECUTE parameters other than constants", loc_of(b)));
}

}  // namespace

PgResult<Plan> translate_execute(Ctx& ctx, const Node& body) {
  Plan p;
  p.kind = PlanKind::kExecute;
  p.prepared_name = body.value("name", std::string());
  if (has(body, "params")) {
    for (const auto& n : field(body, "params")) {
      auto v = execute_param_text(ctx, n);
      if (!v) return unexpected(v.error());
      p.execute_params.push_back(std::move(*v));
    }
  }
  return p;
}

}  // namespace metagate::sql::tr
