// Statement shapes: the lexer finds integer literals only where PostgreSQL's lexer would, and
// a template is made only when the translation does not depend on the literal values.
#include "metagate/sql/shape.hpp"

#include <gtest/gtest.h>

#include "metagate/sql/parser.hpp"
#include "metagate/sql/translator.hpp"

using namespace metagate;

namespace {

std::vector<int64_t> literals(std::string_view sql) {
  auto s = sql::statement_shape(sql);
  EXPECT_TRUE(s.has_value()) << sql;
  return s ? s->literals : std::vector<int64_t>{};
}

TEST(StatementShape, FindsIntegerLiterals) {
  auto s = sql::statement_shape("SELECT abalance FROM pgbench_accounts WHERE aid = 12345;");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->literals, std::vector<int64_t>{12345});
  EXPECT_EQ(s->key, "SELECT abalance FROM pgbench_accounts WHERE aid = \x01;");
  auto t = sql::statement_shape("SELECT abalance FROM pgbench_accounts WHERE aid = 7;");
  ASSERT_TRUE(t);
  EXPECT_EQ(s->key, t->key);
  EXPECT_EQ(literals("SELECT 1, 007, 2147483647"), (std::vector<int64_t>{1, 7, 2147483647}));
}

TEST(StatementShape, SkipsStringsCommentsIdentifiersAndOtherNumbers) {
  EXPECT_EQ(literals("SELECT '12', \"c3\", t1.x4 FROM t1 -- 5\n WHERE a = 6"), (std::vector<int64_t>{6}));
  EXPECT_EQ(literals("SELECT /* 1 /* 2 */ 3 */ 4"), (std::vector<int64_t>{4}));
  EXPECT_EQ(literals("SELECT $$ 1 $$, $q$ 2 $q$, 3"), (std::vector<int64_t>{3}));
  EXPECT_EQ(literals("SELECT E'\\' 1', 2"), (std::vector<int64_t>{2}));
  EXPECT_EQ(literals("SELECT U&'1', X'1F', 5"), (std::vector<int64_t>{5}));
  EXPECT_EQ(literals("SELECT 1.5, .5, 1e5, 2"), (std::vector<int64_t>{2}));
  EXPECT_EQ(literals("SELECT 'it''s 9', 10"), (std::vector<int64_t>{10}));
}

TEST(StatementShape, RefusesWhatItCannotShape) {
  EXPECT_FALSE(sql::statement_shape("SELECT $1"));
  EXPECT_FALSE(sql::statement_shape("SELECT 2147483648"));
  EXPECT_FALSE(sql::statement_shape("SELECT 'unterminated"));
  EXPECT_FALSE(sql::statement_shape("SELECT /* open"));
  EXPECT_FALSE(sql::statement_shape(std::string("SELECT '\x01', 1")));
}

class ShapeTemplate : public ::testing::Test {
 protected:
  void SetUp() override {
    auto p = sql::parse("CREATE TABLE t (id integer PRIMARY KEY, name varchar(10), n bigint, d timestamp)");
    ASSERT_TRUE(p);
    auto plan = sql::translate(p->statements[0], sql::Catalog{}, {});
    ASSERT_TRUE(plan) << plan.error().message;
    catalog_ = plan->new_catalog;
  }
  std::optional<sql::Plan> make(const std::string& text) {
    auto shape = sql::statement_shape(text);
    EXPECT_TRUE(shape) << text;
    auto p = sql::parse(text);
    EXPECT_TRUE(p) << text;
    sql::TranslateOptions o;
    o.full_text = text;
    auto plan = sql::translate(p->statements[0], *catalog_, o);
    EXPECT_TRUE(plan) << text << ": " << plan.error().message;
    return sql::make_shape_template(text, *shape, *plan, *catalog_);
  }
  std::shared_ptr<sql::Catalog> catalog_;
};

TEST_F(ShapeTemplate, ValueIndependentStatementsBecomeTemplates) {
  auto a = make("SELECT name FROM t WHERE id = 42");
  ASSERT_TRUE(a);
  EXPECT_NE(a->sqlite_sql.find("?1"), std::string::npos) << a->sqlite_sql;
  EXPECT_EQ(a->sqlite_sql.find("42"), std::string::npos) << a->sqlite_sql;
  auto b = make("UPDATE t SET n = n + 5 WHERE id = 3");
  ASSERT_TRUE(b);
  EXPECT_NE(b->sqlite_sql.find("?2"), std::string::npos) << b->sqlite_sql;
  auto c = make("SELECT id FROM t ORDER BY id LIMIT 10 OFFSET 20");
  ASSERT_TRUE(c);
  auto d = make("SELECT 1");  // the column type (int4) does not depend on the value
  ASSERT_TRUE(d);
  EXPECT_EQ(d->sqlite_sql, "SELECT ?1 AS \"?column?\"");
  auto e = make("SELECT name FROM t WHERE name = 5::text");  // a runtime cast of the value
  ASSERT_TRUE(e);
}

TEST_F(ShapeTemplate, ValueDependentStatementsAreRefused) {
  EXPECT_FALSE(make("SELECT id, name FROM t ORDER BY 2"));     // positional ORDER BY
  EXPECT_FALSE(make("SELECT id FROM t GROUP BY 1"));           // positional GROUP BY
  EXPECT_FALSE(make("SELECT CAST(name AS varchar(5)) FROM t")); // a typmod
  EXPECT_FALSE(make("SELECT id FROM t WHERE id IN (SELECT id FROM t ORDER BY 1)"));  // nested
}

}  // namespace
