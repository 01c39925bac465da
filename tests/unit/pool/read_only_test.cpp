// sql::provably_read_only: which statements the relay may send to a replica.
#include <gtest/gtest.h>

#include "metagate/sql/read_only.hpp"

namespace metagate::sql {
namespace {

TEST(ReadOnly, PlainSelectsAre) {
  EXPECT_TRUE(provably_read_only("SELECT 1"));
  EXPECT_TRUE(provably_read_only("  /* c */ select id, title FROM dashboard WHERE org_id = $1 ORDER BY id LIMIT 10"));
  EXPECT_TRUE(provably_read_only("SELECT count(*) FROM \"user\" u JOIN org_user o ON o.user_id = u.id"));
  EXPECT_TRUE(provably_read_only("WITH x AS (SELECT 1 AS a) SELECT a FROM x"));
  EXPECT_TRUE(provably_read_only("(SELECT 1) UNION ALL (SELECT 2)"));
  EXPECT_TRUE(provably_read_only("VALUES (1), (2)"));
  EXPECT_TRUE(provably_read_only("TABLE dashboard"));
  EXPECT_TRUE(provably_read_only("SELECT lower(login), coalesce(email, ''), now(), pg_catalog.count(*) FROM \"user\" GROUP BY 1, 2"));
  EXPECT_TRUE(provably_read_only("SELECT * FROM t WHERE EXISTS (SELECT 1 FROM u WHERE u.id = t.id)"));
  EXPECT_TRUE(provably_read_only("SELECT date_trunc('hour', created), string_agg(name, ',') FROM t GROUP BY 1"));
}

TEST(ReadOnly, WritesLocksAndUnknownFunctionsAreNot) {
  EXPECT_FALSE(provably_read_only("INSERT INTO t VALUES (1)"));
  EXPECT_FALSE(provably_read_only("UPDATE t SET x = 1"));
  EXPECT_FALSE(provably_read_only("SELECT * FROM t FOR UPDATE"));
  EXPECT_FALSE(provably_read_only("SELECT * FROM t FOR SHARE SKIP LOCKED"));
  EXPECT_FALSE(provably_read_only("SELECT * INTO t2 FROM t"));
  EXPECT_FALSE(provably_read_only("WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d"));
  EXPECT_FALSE(provably_read_only("WITH i AS (INSERT INTO t VALUES (1) RETURNING id) SELECT id FROM i"));
  EXPECT_FALSE(provably_read_only("SELECT nextval('s')"));
  EXPECT_FALSE(provably_read_only("SELECT pg_advisory_lock(1)"));
  EXPECT_FALSE(provably_read_only("SELECT set_config('a.b', 'c', false)"));
  EXPECT_FALSE(provably_read_only("SELECT my_function(1)"));
  EXPECT_FALSE(provably_read_only("SELECT public.lower('x')"));
  EXPECT_FALSE(provably_read_only("SELECT * FROM generate_series(1, 3)"));
  EXPECT_FALSE(provably_read_only("SELECT pg_is_in_recovery()"));
  EXPECT_FALSE(provably_read_only("SELECT txid_current()"));
  EXPECT_FALSE(provably_read_only("SELECT 1; SELECT 2"));
  EXPECT_FALSE(provably_read_only("BEGIN"));
  EXPECT_FALSE(provably_read_only("EXPLAIN ANALYZE SELECT 1"));
  EXPECT_FALSE(provably_read_only("SELECT (SELECT nextval('s'))"));
  EXPECT_FALSE(provably_read_only("SELECT FROM"));
  EXPECT_FALSE(provably_read_only(""));
  EXPECT_FALSE(provably_read_only("/* unterminated"));
}

}  // namespace
}  // namespace metagate::sql
