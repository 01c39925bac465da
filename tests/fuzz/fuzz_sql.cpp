// Fuzz target: SQL text through the parser (libpg_query) and the translator, against a
// catalog of a few Grafana tables built here directly.
//
// Input: byte 0 = number of declared parameter types (bits 0-1, as a client's Parse would send:
// int8, text, timestamp) and bit 7 = raw bytes (else only valid UTF-8 reaches the parser, as
// after the protocol layer's encoding check); the rest is the SQL script. Every statement of the script is
// translated in order; a DDL plan's new catalog is used for the following statements, as the
// session does. Checked: no crash, no hang; errors carry a 5-character SQLSTATE and a message;
// XX000 (internal error) is a translator bug and aborts; a kQuery plan has SQLite text.
#include <memory>
#include <string>

#include "fuzz_common.hpp"
#include "metagate/sql/catalog.hpp"
#include "metagate/sql/parser.hpp"
#include "metagate/sql/read_only.hpp"
#include "metagate/sql/session_effects.hpp"
#include "metagate/sql/shape.hpp"
#include "metagate/sql/translator.hpp"
#include "metagate/types/codec.hpp"

using namespace metagate;
using namespace metagate::sql;
namespace o = metagate::types::oid;

namespace {

Column col(std::string name, Oid type, int32_t typmod = -1, bool not_null = false,
           std::optional<std::string> def = std::nullopt) {
  Column c;
  c.name = std::move(name);
  c.type = type;
  c.typmod = typmod;
  c.not_null = not_null;
  c.default_sql = std::move(def);
  return c;
}

constexpr int32_t varchar(int n) { return n + 4; }

void add_table(Catalog& cat, std::string name, std::vector<Column> cols, std::vector<std::vector<std::string>> uniques) {
  Table t;
  t.name = name;
  t.oid = cat.allocate_oid();
  t.columns = std::move(cols);
  if (t.columns[0].name == "id") {
    Sequence s;
    s.name = name + "_id_seq";
    s.type = o::kInt4;
    s.max_value = 2147483647;
    s.owned_by_table = name;
    s.owned_by_column = "id";
    s.oid = cat.allocate_oid();
    t.columns[0].sequence = s.name;
    t.columns[0].not_null = true;
    t.columns[0].default_sql = "nextval('" + s.name + "'::regclass)";
    cat.sequences[s.name] = s;
    Index pk;
    pk.name = name + "_pkey";
    pk.table = name;
    pk.unique = pk.primary = pk.constraint = true;
    pk.columns = {"id"};
    pk.descending = {false};
    pk.oid = cat.allocate_oid();
    cat.indexes[pk.name] = pk;
  }
  int n = 0;
  for (auto& cols_u : uniques) {
    Index ix;
    ix.name = "UQE_" + name + "_" + std::to_string(++n);
    ix.table = name;
    ix.unique = true;
    ix.columns = cols_u;
    ix.descending.assign(cols_u.size(), false);
    ix.oid = cat.allocate_oid();
    cat.indexes[ix.name] = ix;
  }
  cat.tables[name] = std::move(t);
}

std::shared_ptr<const Catalog> grafana_catalog() {
  auto cat = std::make_shared<Catalog>();
  add_table(*cat, "migration_log",
            {col("id", o::kInt4), col("migration_id", o::kVarchar, varchar(255), true), col("sql", o::kText, -1, true),
             col("success", o::kBool, -1, true), col("error", o::kText, -1, true),
             col("timestamp", o::kTimestamp, -1, true)},
            {});
  add_table(*cat, "user",
            {col("id", o::kInt4), col("version", o::kInt4, -1, true), col("login", o::kVarchar, varchar(190), true),
             col("email", o::kVarchar, varchar(190), true), col("name", o::kVarchar, varchar(255)),
             col("password", o::kVarchar, varchar(255)), col("org_id", o::kInt8, -1, true),
             col("is_admin", o::kBool, -1, true), col("created", o::kTimestamp, -1, true),
             col("updated", o::kTimestamp, -1, true), col("last_seen_at", o::kTimestamp),
             col("is_disabled", o::kBool, -1, true, "false"), col("uid", o::kVarchar, varchar(40))},
            {{"login"}, {"email"}});
  add_table(*cat, "dashboard",
            {col("id", o::kInt4), col("version", o::kInt4, -1, true), col("slug", o::kVarchar, varchar(189), true),
             col("title", o::kVarchar, varchar(189), true), col("data", o::kText, -1, true),
             col("org_id", o::kInt8, -1, true), col("created", o::kTimestamp, -1, true),
             col("updated", o::kTimestamp, -1, true), col("folder_id", o::kInt8, -1, true, "0"),
             col("is_folder", o::kBool, -1, true, "false"), col("uid", o::kVarchar, varchar(40)),
             col("folder_uid", o::kVarchar, varchar(40))},
            {{"org_id", "uid"}});
  add_table(*cat, "org",
            {col("id", o::kInt4), col("version", o::kInt4, -1, true), col("name", o::kVarchar, varchar(190), true),
             col("created", o::kTimestamp, -1, true), col("updated", o::kTimestamp, -1, true)},
            {{"name"}});
  add_table(*cat, "data_source",
            {col("id", o::kInt4), col("org_id", o::kInt8, -1, true), col("version", o::kInt4, -1, true),
             col("type", o::kVarchar, varchar(255), true), col("name", o::kVarchar, varchar(190), true),
             col("url", o::kVarchar, varchar(255), true), col("json_data", o::kText),
             col("is_default", o::kBool, -1, true), col("uid", o::kVarchar, varchar(40), true, "0"),
             col("created", o::kTimestamp, -1, true), col("updated", o::kTimestamp, -1, true)},
            {{"org_id", "name"}, {"org_id", "uid"}});
  add_table(*cat, "kv_store",
            {col("id", o::kInt4), col("org_id", o::kInt8, -1, true), col("namespace", o::kVarchar, varchar(190), true),
             col("key", o::kVarchar, varchar(190), true), col("value", o::kText, -1, true),
             col("created", o::kTimestamp, -1, true), col("updated", o::kTimestamp, -1, true)},
            {{"org_id", "namespace", "key"}});
  add_table(*cat, "alert_rule",
            {col("id", o::kInt4), col("org_id", o::kInt8, -1, true), col("title", o::kVarchar, varchar(190), true),
             col("condition", o::kVarchar, varchar(190), true), col("data", o::kText, -1, true),
             col("updated", o::kTimestamp, -1, true), col("interval_seconds", o::kInt8, -1, true, "60"),
             col("version", o::kInt4, -1, true, "0"), col("uid", o::kVarchar, varchar(40), true, "0"),
             col("labels", o::kText), col("is_paused", o::kBool, -1, true, "false"),
             col("for", o::kInt8, -1, true, "0"), col("rule_group_idx", o::kInt4, -1, true, "1")},
            {{"org_id", "uid"}});
  return cat;
}

void check_error(const PgError& e, std::string_view sql) {
  FUZZ_CHECK(e.sqlstate.size() == 5, "bad SQLSTATE '%s'", e.sqlstate.c_str());
  FUZZ_CHECK(e.sqlstate != "XX000", "internal error '%s' for SQL: %s", e.message.c_str(),
             fuzz::printable(sql, 400).c_str());
  FUZZ_CHECK(!e.message.empty(), "error %s without a message", e.sqlstate.c_str());
  FUZZ_CHECK(e.position >= 0, "negative error position %d", e.position);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::shared_ptr<const Catalog> base = grafana_catalog();
  fuzz::Input in(data, size);
  const uint8_t sel = in.byte();
  const int nparams = sel % 4;
  std::string_view sql = in.rest();
  // Byte 0 bit 7 clear: the text is first checked as the protocol layer must check every
  // client string (valid UTF-8, 22021 otherwise), so parse() only sees valid UTF-8. Set: the
  // raw bytes go to parse(). FUZZ_SQL_UTF8_ONLY=1 treats every input as bit 7 clear (to fuzz
  // the translator past a known parse() problem with invalid UTF-8).
  // Transaction pooling reads every relayed text's session effects (raw bytes: the relay does
  // not check encodings itself).
  {
    auto fx = session_effects(sql);
    if (!may_have_session_effects(sql)) FUZZ_CHECK(!fx.any() && !fx.unparsable, "effects without passing the pre-check");
    // The read/write split and the lost-transaction answers read relayed texts too.
    const bool read_only = provably_read_only(sql);
    const TransactionEnd end = transaction_end(sql);
    const bool commits = may_commit(sql);
    FUZZ_CHECK(!(read_only && end != TransactionEnd::kNone), "a read-only statement that ends a transaction");
    FUZZ_CHECK(!(read_only && commits && sql.size() <= 4096), "a read-only statement that commits");
    FUZZ_CHECK(!(end == TransactionEnd::kCommit && !commits), "a COMMIT that may_commit does not see");
  }
  static const bool utf8_only = std::getenv("FUZZ_SQL_UTF8_ONLY") != nullptr;
  if (!(sel & 0x80) || utf8_only) {
    if (!types::validate_utf8(sql)) return 0;
  }

  // The statement-shape lexer sees every simple-protocol text before the parser does.
  auto shape = statement_shape(sql);
  if (shape) {
    FUZZ_CHECK(shape->literals.size() == shape->spans.size(), "shape: %zu literals, %zu spans", shape->literals.size(),
               shape->spans.size());
    size_t prev = 0;
    for (size_t i = 0; i < shape->spans.size(); ++i) {
      auto [b, e] = shape->spans[i];
      FUZZ_CHECK(b >= prev && b < e && e <= sql.size(), "shape span %zu out of order", i);
      prev = e;
      FUZZ_CHECK(shape->literals[i] >= 0 && shape->literals[i] <= 2147483647, "shape literal out of int4");
    }
  }

  // The slow-statement log shows statements with their constants taken out.
  {
    std::string red = redact_literals(sql);
    FUZZ_CHECK(red.size() <= 64 + 4 * sql.size(), "redact_literals grew %zu bytes into %zu", sql.size(), red.size());
  }

  auto script = parse(sql);
  if (!script) {
    check_error(script.error(), sql);
    return 0;
  }
  TranslateOptions opts;
  opts.full_text = sql;
  static constexpr Oid kParamTypes[] = {o::kInt8, o::kText, o::kTimestamp};
  for (int i = 0; i < nparams; ++i) opts.declared_param_types.push_back(kParamTypes[i % 3]);

  // FUZZ_SQL_VERBOSE=1: one line per statement (outcome), to see what a corpus exercises.
  static const bool verbose = std::getenv("FUZZ_SQL_VERBOSE") != nullptr;
  std::shared_ptr<const Catalog> cat = base;
  for (const RawStatement& st : script->statements) {
    FUZZ_CHECK(st.location >= 0 && static_cast<size_t>(st.location) <= sql.size(), "statement location %d",
               st.location);
    (void)node_tag(st.tree);
    auto plan = translate(st, *cat, opts);
    if (verbose)
      std::fprintf(stderr, "  %-14s %s\n", plan ? plan->tag.c_str() : plan.error().sqlstate.c_str(),
                   plan ? plan->sqlite_sql.substr(0, 100).c_str() : plan.error().message.c_str());
    if (!plan) {
      check_error(plan.error(), st.text);
      continue;
    }
    if (plan->kind == PlanKind::kQuery && plan->returns_rows)
      FUZZ_CHECK(!plan->sqlite_sql.empty(), "row-returning query plan without SQLite text");
    if (plan->kind == PlanKind::kDdl && plan->new_catalog) cat = plan->new_catalog;
    // A shape template (as the session makes for one-statement simple queries) must give back
    // the original SQLite SQL when its parameters are the original literals.
    if (shape && script->statements.size() == 1 && nparams == 0 && plan->kind == PlanKind::kQuery &&
        plan->params.empty()) {
      if (auto t = make_shape_template(sql, *shape, *plan, *cat)) {
        std::string back;
        const std::string& q = t->sqlite_sql;
        for (size_t i = 0; i < q.size();) {
          if (q[i] == '\'' || q[i] == '"') {
            // A quoted string or identifier ('?90' inside one is text, not a parameter).
            const char quote = q[i];
            back.push_back(q[i++]);
            while (i < q.size()) {
              back.push_back(q[i]);
              if (q[i++] == quote) {
                if (i < q.size() && q[i] == quote) {
                  back.push_back(q[i++]);
                  continue;
                }
                break;
              }
            }
            continue;
          }
          if (q[i] == '?' && i + 1 < q.size() && q[i + 1] >= '0' && q[i + 1] <= '9') {
            size_t e = i + 1, n = 0;
            while (e < q.size() && q[e] >= '0' && q[e] <= '9') n = n * 10 + static_cast<size_t>(q[e++] - '0');
            FUZZ_CHECK(n >= 1 && n <= shape->literals.size(), "template parameter ?%zu of %zu", n, shape->literals.size());
            back += std::to_string(shape->literals[n - 1]);
            i = e;
          } else {
            back.push_back(q[i++]);
          }
        }
        FUZZ_CHECK(back == plan->sqlite_sql, "shape template does not give back the SQL");
      }
    }
  }
  return 0;
}
