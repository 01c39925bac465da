// Golden-file tests of the translator: tests/golden/translate/*.test hold PostgreSQL
// statements with the SQLite SQL, parameter types and result columns (or the error) they
// must translate to. METAGATE_GOLDEN_UPDATE=1 rewrites the expectations from the current
// translator (then review the diff).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "metagate/sql/parser.hpp"
#include "metagate/sql/translator.hpp"
#include "support.hpp"

using namespace metagate;

namespace {

struct Case {
  std::string kind;  // setup, statement, error
  std::string sql;
  std::vector<std::string> expected;
};

std::vector<Case> read_cases(const std::string& path, std::vector<std::string>& header) {
  std::ifstream f(path);
  std::string line;
  std::vector<Case> cases;
  Case cur;
  enum { kNone, kSql, kExpect } state = kNone;
  auto finish = [&] {
    if (!cur.kind.empty()) cases.push_back(cur);
    cur = Case{};
    state = kNone;
  };
  while (std::getline(f, line)) {
    if (state == kNone) {
      if (line.empty()) continue;
      if (line[0] == '#') {
        if (cases.empty()) header.push_back(line);
        continue;
      }
      cur.kind = line;
      state = kSql;
      continue;
    }
    if (state == kSql) {
      if (line == "----") {
        state = kExpect;
        continue;
      }
      if (line.empty() && cur.kind == "setup") {
        finish();
        continue;
      }
      cur.sql += (cur.sql.empty() ? "" : "\n") + line;
      continue;
    }
    if (line.empty()) {
      finish();
      continue;
    }
    cur.expected.push_back(line);
  }
  finish();
  return cases;
}

std::vector<std::string> describe(const PgResult<sql::Plan>& plan) {
  if (!plan) {
    std::string e = plan.error().sqlstate + " " + plan.error().message;
    if (plan.error().position > 0) e += " (position " + std::to_string(plan.error().position) + ")";
    return {e};
  }
  std::vector<std::string> out;
  if (plan->kind == sql::PlanKind::kQuery) {
    out.push_back("sqlite: " + plan->sqlite_sql);
  } else if (plan->kind == sql::PlanKind::kDdl) {
    for (const auto& s : plan->ddl_sql) out.push_back("ddl: " + s);
  } else {
    out.push_back("tag: " + plan->tag);
  }
  if (!plan->params.empty()) {
    std::string p = "params:";
    for (const auto& x : plan->params) p += " " + types::format_type(x.type, x.typmod);
    out.push_back(p);
  }
  if (!plan->columns.empty()) {
    std::string c = "columns:";
    for (const auto& x : plan->columns) c += " " + x.name + "=" + types::format_type(x.type, x.typmod);
    out.push_back(c);
  }
  return out;
}

class GoldenFile : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenFile, Translations) {
  std::vector<std::string> header;
  auto cases = read_cases(GetParam(), header);
  ASSERT_FALSE(cases.empty());
  bool update = std::getenv("METAGATE_GOLDEN_UPDATE") != nullptr;
  auto catalog = std::make_shared<sql::Catalog>();
  std::ostringstream rewritten;
  for (const auto& h : header) rewritten << h << "\n";
  for (auto& c : cases) {
    rewritten << "\n" << c.kind << "\n" << c.sql << "\n";
    auto parsed = sql::parse(c.sql);
    if (c.kind == "setup") {
      ASSERT_TRUE(parsed) << c.sql;
      for (const auto& st : parsed->statements) {
        auto plan = sql::translate(st, *catalog, {});
        ASSERT_TRUE(plan) << plan.error().message << "\n" << st.text;
        if (plan->new_catalog) catalog = plan->new_catalog;
      }
      continue;
    }
    std::vector<std::string> actual;
    if (!parsed) {
      actual = {parsed.error().sqlstate + " " + parsed.error().message + " (position " +
                std::to_string(parsed.error().position) + ")"};
    } else {
      ASSERT_EQ(parsed->statements.size(), 1u) << c.sql;
      actual = describe(sql::translate(parsed->statements[0], *catalog, {}));
    }
    rewritten << "----\n";
    for (const auto& a : actual) rewritten << a << "\n";
    if (!update) EXPECT_EQ(actual, c.expected) << "case:\n" << c.sql;
  }
  if (update) {
    std::ofstream(GetParam()) << rewritten.str().substr(header.empty() ? 1 : 0);
  }
}

std::vector<std::string> golden_files() {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(std::string(METAGATE_SOURCE_DIR) + "/tests/golden/translate")) {
    if (e.path().extension() == ".test") out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

INSTANTIATE_TEST_SUITE_P(Translate, GoldenFile, ::testing::ValuesIn(golden_files()),
                         [](const auto& info) { return std::filesystem::path(info.param).stem().string(); });

}  // namespace
