// translate(): dispatches one statement to its family and packages the Plan.
#include "context.hpp"
#include "metagate/sql/translator.hpp"

namespace metagate::sql {

namespace {
PgResult<Plan> translate_impl(const RawStatement& stmt, const Catalog& catalog, const TranslateOptions& opts);
}

PgResult<Plan> translate(const RawStatement& stmt, const Catalog& catalog, const TranslateOptions& opts) {
  try {
    return translate_impl(stmt, catalog, opts);
  } catch (const std::exception& e) {
    // A parse-tree shape the translator did not expect: an internal error, never a crash.
    return unexpected(PgError::make(sqlstate::kInternalError, std::string("metagate could not translate this statement: ") + e.what()));
  }
}

namespace {
PgResult<Plan> translate_impl(const RawStatement& stmt, const Catalog& catalog, const TranslateOptions& opts) {
  tr::Ctx ctx(catalog, opts, stmt.text, stmt.location);
  std::string_view tag = node_tag(stmt.tree);
  const Node& body = node_body(stmt.tree);
  PgResult<Plan> plan = Plan{};
  if (tag == "SelectStmt") {
    auto q = tr::translate_select(ctx, body, nullptr);
    if (!q) return unexpected(q.error());
    Plan p;
    p.kind = PlanKind::kQuery;
    p.tag = "SELECT";
    p.sqlite_sql = std::move(q->sql);
    p.columns = std::move(q->columns);
    p.returns_rows = true;
    p.row_count_tag = true;
    plan = std::move(p);
  } else if (tag == "InsertStmt") {
    plan = tr::translate_insert(ctx, body);
  } else if (tag == "UpdateStmt") {
    plan = tr::translate_update(ctx, body);
  } else if (tag == "DeleteStmt") {
    plan = tr::translate_delete(ctx, body);
  } else if (tag == "CreateStmt" || tag == "IndexStmt" || tag == "DropStmt" || tag == "AlterTableStmt" ||
             tag == "RenameStmt" || tag == "CreateSeqStmt" || tag == "AlterSeqStmt" || tag == "TruncateStmt" ||
             tag == "CreateSchemaStmt") {
    plan = tr::translate_ddl(ctx, tag, body);
  } else if (tag == "PrepareStmt") {
    // PREPARE name [(types)] AS statement: the statement is translated now, with the declared
    // parameter types; the session keeps the plan under the name (one namespace with the
    // protocol's named statements, as in PostgreSQL).
    std::vector<Oid> declared;
    if (tr::has(body, "argtypes")) {
      for (const auto& tn : tr::field(body, "argtypes")) {
        auto t = tr::resolve_type_name(ctx, node_body(tn));
        if (!t) return unexpected(t.error());
        declared.push_back(t->first);
      }
    }
    RawStatement inner{tr::field(body, "query"), stmt.text, stmt.location};
    TranslateOptions io = opts;
    io.declared_param_types = declared;
    auto q = translate_impl(inner, catalog, io);
    if (!q) return unexpected(q.error());
    if (q->kind != PlanKind::kQuery) return unexpected(ctx.unsupported("PREPARE of this statement", -1));
    Plan p;
    p.kind = PlanKind::kPrepare;
    p.tag = "PREPARE";
    p.prepared_name = body.value("name", std::string());
    p.prepared_types = std::move(declared);
    p.prepared_plan = std::make_shared<const Plan>(std::move(*q));
    return p;
  } else if (tag == "ExecuteStmt") {
    return tr::translate_execute(ctx, body);
  } else if (tag == "DeallocateStmt") {
    Plan p;
    p.kind = PlanKind::kDeallocate;
    p.prepared_name = body.value("name", std::string());
    p.tag = p.prepared_name.empty() ? "DEALLOCATE ALL" : "DEALLOCATE";
    return p;
  } else {
    plan = tr::translate_utility(ctx, tag, body);
  }
  if (!plan) return plan;
  plan->writes = plan->writes || ctx.writes;
  if (plan->kind == PlanKind::kQuery) plan->params = std::move(ctx.params);
  // Parameters no expression gave a type to are text, as PostgreSQL resolves unknowns.
  for (auto& p : plan->params) {
    if (p.type == 0 || p.type == types::oid::kUnknown) p.type = types::oid::kText;
  }
  return plan;
}

}  // namespace

}  // namespace metagate::sql
