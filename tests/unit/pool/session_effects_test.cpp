// Session effects of statements: the lexical pre-check and what the parse tree says.
#include <gtest/gtest.h>

#include "metagate/sql/session_effects.hpp"

namespace metagate::sql {
namespace {

TEST(SessionEffects, PreCheckLetsOrdinaryStatementsThrough) {
  EXPECT_FALSE(may_have_session_effects("SELECT 1"));
  EXPECT_FALSE(may_have_session_effects("UPDATE t SET a = 1 WHERE id = 2"));  // SET not leading
  EXPECT_FALSE(may_have_session_effects("INSERT INTO t VALUES ('SET x = 1; pg_advisory_lock(1)')"));
  EXPECT_FALSE(may_have_session_effects("SELECT 1 -- pg_advisory_lock(1)\n"));
  EXPECT_FALSE(may_have_session_effects("SELECT $$ LISTEN x $$"));
  EXPECT_TRUE(may_have_session_effects("  set search_path = a"));
  EXPECT_TRUE(may_have_session_effects("SELECT 1; SET x = 1"));
  EXPECT_TRUE(may_have_session_effects("SELECT pg_advisory_lock(1)"));
  EXPECT_TRUE(may_have_session_effects("SELECT \"pg_try_advisory_lock\"(1)"));
  EXPECT_TRUE(may_have_session_effects("CREATE TEMP TABLE x (a int)"));
  EXPECT_TRUE(may_have_session_effects("/* c */ LISTEN ch"));
  // Escape strings: a backslash-escaped quote does not end them.
  EXPECT_TRUE(may_have_session_effects("SELECT E'\\'', pg_advisory_lock(1)"));
  EXPECT_FALSE(may_have_session_effects("SELECT E'\\' ; SET x = 1 '"));
  EXPECT_FALSE(may_have_session_effects("SELECT 1 /* SET x = 1 "));  // unterminated: the server refuses it
}

TEST(SessionEffects, Settings) {
  EXPECT_TRUE(session_effects("SET TimeZone = 'UTC'").settings);
  EXPECT_FALSE(session_effects("SET LOCAL TimeZone = 'UTC'").settings);
  EXPECT_TRUE(session_effects("RESET ALL").settings);
  EXPECT_TRUE(session_effects("SELECT set_config('a.b', 'c', false)").settings);
  auto d = session_effects("DISCARD ALL");
  EXPECT_TRUE(d.settings);
  EXPECT_TRUE(d.deallocate_all);
}

TEST(SessionEffects, Pins) {
  EXPECT_EQ(session_effects("SELECT pg_advisory_lock(42)").pins, kPinAdvisoryLock);
  EXPECT_EQ(session_effects("SELECT pg_try_advisory_lock(1, 2)").pins, kPinAdvisoryLock);
  EXPECT_EQ(session_effects("SELECT pg_advisory_xact_lock(42)").pins, 0);  // ends with the transaction
  EXPECT_EQ(session_effects("LISTEN ch").pins, kPinListen);
  EXPECT_EQ(session_effects("CREATE TEMP TABLE t (a int)").pins, kPinTempTable);
  EXPECT_EQ(session_effects("CREATE TEMPORARY VIEW v AS SELECT 1").pins, kPinTempTable);
  EXPECT_EQ(session_effects("SELECT 1 INTO TEMP t2").pins, kPinTempTable);
  EXPECT_EQ(session_effects("DECLARE c CURSOR WITH HOLD FOR SELECT 1").pins, kPinHoldCursor);
  EXPECT_EQ(session_effects("DECLARE c CURSOR FOR SELECT 1").pins, 0);
  EXPECT_TRUE(session_effects("SELECT pg_advisory_unlock(42)").may_release);
  EXPECT_TRUE(session_effects("UNLISTEN *").may_release);
  EXPECT_TRUE(session_effects("DROP TABLE t").may_release);
}

TEST(SessionEffects, SqlPreparedStatements) {
  auto p = session_effects("PREPARE q(int) AS SELECT $1");
  ASSERT_EQ(p.prepares.size(), 1u);
  EXPECT_EQ(p.prepares[0].name, "q");
  EXPECT_EQ(p.prepares[0].text, "PREPARE q(int) AS SELECT $1");
  auto e = session_effects("EXECUTE q(1)");
  ASSERT_EQ(e.executes.size(), 1u);
  EXPECT_EQ(e.executes[0], "q");
  auto d = session_effects("DEALLOCATE q");
  ASSERT_EQ(d.deallocates.size(), 1u);
  EXPECT_TRUE(session_effects("DEALLOCATE ALL").deallocate_all);
  auto two = session_effects("PREPARE a AS SELECT 1; EXECUTE a");
  EXPECT_EQ(two.prepares.size(), 1u);
  EXPECT_EQ(two.executes.size(), 1u);
}

TEST(SessionEffects, UnparsableIsFlagged) {
  auto u = session_effects("SET x = ");
  EXPECT_TRUE(u.unparsable);
  EXPECT_TRUE(u.any() == false);
}

TEST(SessionEffects, TransactionEnd) {
  EXPECT_EQ(transaction_end("COMMIT"), TransactionEnd::kCommit);
  EXPECT_EQ(transaction_end("end transaction;"), TransactionEnd::kCommit);
  EXPECT_EQ(transaction_end("/* c */ commit work"), TransactionEnd::kCommit);
  EXPECT_EQ(transaction_end("ROLLBACK"), TransactionEnd::kRollback);
  EXPECT_EQ(transaction_end("abort"), TransactionEnd::kRollback);
  EXPECT_EQ(transaction_end("ROLLBACK TO SAVEPOINT s"), TransactionEnd::kNone);
  EXPECT_EQ(transaction_end("ROLLBACK AND CHAIN"), TransactionEnd::kNone);
  EXPECT_EQ(transaction_end("COMMIT PREPARED 'x'"), TransactionEnd::kNone);
  EXPECT_EQ(transaction_end("ROLLBACK; SELECT 1"), TransactionEnd::kNone);
  EXPECT_EQ(transaction_end("SELECT 1"), TransactionEnd::kNone);
  EXPECT_EQ(transaction_end("COMMIT x"), TransactionEnd::kNone);
  EXPECT_EQ(transaction_end(""), TransactionEnd::kNone);
  EXPECT_TRUE(may_commit("COMMIT"));
  EXPECT_TRUE(may_commit("UPDATE t SET x = 1; END"));
  EXPECT_TRUE(may_commit("PREPARE TRANSACTION 'x'"));
  EXPECT_TRUE(may_commit("COMMIT PREPARED 'x'"));
  EXPECT_TRUE(may_commit("SELECT '" + std::string(5000, 'x') + "'"));
  EXPECT_FALSE(may_commit("ROLLBACK"));
  EXPECT_FALSE(may_commit("INSERT INTO t VALUES (1)"));
  EXPECT_FALSE(may_commit("COMMIT x"));
}

}  // namespace
}  // namespace metagate::sql
