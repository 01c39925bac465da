// Every statement of Grafana's migration corpora and runtime queries translates, and every
// translation runs (DDL) or prepares (queries) on a real SQLite file.
#include <gtest/gtest.h>

#include "metagate/sql/parser.hpp"
#include "metagate/sql/translator.hpp"
#include "metagate/store/functions.hpp"
#include "support.hpp"

using namespace metagate;

namespace {

struct Replay {
  std::unique_ptr<store::SqliteStore> store;
  std::shared_ptr<sql::Catalog> catalog = std::make_shared<sql::Catalog>();
  store::FunctionContext fctx;
  int statements = 0;
  std::vector<std::string> failures;

  explicit Replay(const std::string& tag) : store(testsupport::scratch_store(tag)) {
    fctx.store = store.get();
    fctx.locks = &store->advisory_locks();
    store::set_function_context(&fctx);
  }
  ~Replay() { store::set_function_context(nullptr); }

  // Translates and runs one script; returns false on the first error.
  bool run(const std::string& text, const std::string& label) {
    auto parsed = sql::parse(text);
    if (!parsed) {
      failures.push_back(label + ": parse: " + parsed.error().message);
      return false;
    }
    for (const auto& st : parsed->statements) {
      ++statements;
      auto plan = sql::translate(st, *catalog, {});
      if (!plan) {
        failures.push_back(label + ": translate: " + plan.error().sqlstate + " " + plan.error().message + " — " +
                           std::string(st.text.substr(0, 120)));
        return false;
      }
      sqlite3* db = store->writer().db();
      if (plan->kind == sql::PlanKind::kDdl) {
        for (const auto& s : plan->ddl_sql) {
          if (auto r = store::exec(db, s); !r) {
            failures.push_back(label + ": sqlite ddl: " + r.error().message + " — " + s);
            return false;
          }
        }
        catalog = plan->new_catalog;
        store->publish_catalog(catalog);
        store->invalidate_sequences();
      } else if (plan->kind == sql::PlanKind::kQuery) {
        sqlite3_stmt* stmt = nullptr;
        int rc = sqlite3_prepare_v2(db, plan->sqlite_sql.c_str(), -1, &stmt, nullptr);
        if (rc != SQLITE_OK) {
          failures.push_back(label + ": sqlite prepare: " + sqlite3_errmsg(db) + " — " + plan->sqlite_sql);
          sqlite3_finalize(stmt);
          return false;
        }
        if (plan->params.empty()) {
          while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
          }
          if (rc != SQLITE_DONE) {
            failures.push_back(label + ": sqlite step: " + sqlite3_errmsg(db) + " — " + plan->sqlite_sql);
            sqlite3_finalize(stmt);
            return false;
          }
        }
        sqlite3_finalize(stmt);
      }
    }
    return true;
  }
};

void replay_corpus(const std::string& file, const std::string& tag) {
  auto entries = testsupport::load_migrations(testsupport::shared_dir() + "/grafana/" + file);
  ASSERT_GT(entries.size(), 100u) << "corpus not found: " << file;
  Replay r(tag);
  ASSERT_TRUE(r.store);
  int run = 0;
  for (const auto& e : entries) {
    if (e.note || e.sql.find_first_not_of(" \n\t") == std::string::npos) continue;
    if (e.sql.find("code migration") != std::string::npos) continue;
    ++run;
    r.run(e.sql, "[" + std::to_string(e.id) + "] " + e.title);
  }
  for (const auto& f : r.failures) ADD_FAILURE() << f;
  EXPECT_GT(run, 250);
  std::cout << file << ": " << run << " migrations, " << r.statements << " statements, " << r.failures.size()
            << " failures\n";
}

}  // namespace

TEST(GrafanaCorpus, Migrations_7_5_6) { replay_corpus("migrations-grafana7.5.6-asterisk.sql", "v7"); }
TEST(GrafanaCorpus, Migrations_11_0_0) { replay_corpus("migrations-grafana11.0.0-iqbal.sql", "v11"); }

TEST(GrafanaCorpus, RuntimeQueriesTranslateAndPrepare) {
  auto entries = testsupport::load_migrations(testsupport::shared_dir() + "/grafana/migrations-grafana11.0.0-iqbal.sql");
  Replay r("runtime");
  ASSERT_TRUE(r.store);
  for (const auto& e : entries) {
    if (!e.note && e.sql.find("code migration") == std::string::npos) r.run(e.sql, "migration");
  }
  ASSERT_TRUE(r.failures.empty()) << r.failures.front();
  // The columns/tables later Grafana versions add (the differential harness's setup).
  std::string setup = testsupport::read_file(std::string(METAGATE_SOURCE_DIR) + "/tests/differential/runtime-setup.sql");
  auto parsed_setup = sql::parse(setup);
  ASSERT_TRUE(parsed_setup);
  for (const auto& st : parsed_setup->statements) {
    r.run(std::string(st.text), "setup");
  }
  r.failures.clear();
  auto text = testsupport::read_file(testsupport::shared_dir() + "/grafana/runtime-queries.sql");
  auto parsed = sql::parse(text);
  ASSERT_TRUE(parsed) << parsed.error().message;
  int translated = 0;
  for (const auto& st : parsed->statements) {
    std::string s(st.text);
    if (s.find("CREATE SCHEMA") != std::string::npos || s.find("DROP SCHEMA") != std::string::npos) continue;
    auto tag = sql::node_tag(st.tree);
    if (tag != "SelectStmt" && tag != "InsertStmt" && tag != "UpdateStmt" && tag != "DeleteStmt") continue;
    auto plan = sql::translate(st, *r.catalog, {});
    if (!plan) {
      ADD_FAILURE() << "translate: " << plan.error().sqlstate << " " << plan.error().message << "\n" << s;
      continue;
    }
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v2(r.store->writer().db(), plan->sqlite_sql.c_str(), -1, &stmt, nullptr);
    EXPECT_EQ(rc, SQLITE_OK) << sqlite3_errmsg(r.store->writer().db()) << "\n" << s << "\n→ " << plan->sqlite_sql;
    sqlite3_finalize(stmt);
    ++translated;
  }
  EXPECT_GT(translated, 120);
  std::cout << "runtime queries translated and prepared: " << translated << "\n";
}
