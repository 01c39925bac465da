// The I/O-free side of transaction pooling: frame views and builders, statement interning,
// per-server statement caches, and the response tracker's drop/insert decisions.
#include <gtest/gtest.h>

#include "metagate/pool/tracker.hpp"
#include "metagate/wire/relay.hpp"

namespace metagate::pool {
namespace {

using V = ResponseTracker::Verdict;

// Feeds server message types; returns what the client gets: each forwarded type, with
// inserted synthetic answers as '1'/'3'/'E' and dropped ones left out.
std::string run(ResponseTracker& t, ServerStatements& cache, std::string_view types) {
  std::string seen;
  for (char c : types) {
    std::string before;
    auto o = t.on_server_message(c, before, cache);
    for (size_t i = 0; i < before.size();) {
      seen.push_back(before[i]);
      uint32_t len = (uint8_t(before[i + 1]) << 24) | (uint8_t(before[i + 2]) << 16) | (uint8_t(before[i + 3]) << 8) |
                     uint8_t(before[i + 4]);
      i += 1 + len;
    }
    if (o.verdict == V::kForward) seen.push_back(c);
  }
  return seen;
}

TEST(WireRelay, ViewsAndBuildersRoundTrip) {
  std::string f;
  wire::append_parse(f, "s1", "SELECT $1", std::string("\0\1\0\0\0\x17", 6));
  ASSERT_EQ(f[0], 'P');
  auto p = wire::view_parse(std::string_view(f).substr(5));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->name, "s1");
  EXPECT_EQ(p->query, "SELECT $1");
  EXPECT_EQ(p->types.size(), 6u);
  std::string b;
  wire::append_bind(b, "", "metagate_7", std::string("\0\0\0\0\0\0", 6));
  auto bv = wire::view_bind(std::string_view(b).substr(5));
  ASSERT_TRUE(bv);
  EXPECT_EQ(bv->portal, "");
  EXPECT_EQ(bv->statement, "metagate_7");
  EXPECT_EQ(bv->rest.size(), 6u);
  std::string d;
  wire::append_target(d, 'D', 'S', "x");
  auto dv = wire::view_target(std::string_view(d).substr(5));
  ASSERT_TRUE(dv);
  EXPECT_EQ(dv->kind, 'S');
  EXPECT_EQ(dv->name, "x");
  EXPECT_FALSE(wire::view_parse(std::string_view("no-terminator")));
  EXPECT_FALSE(wire::view_target(std::string_view("X\0", 2)));
  EXPECT_EQ(wire::command_tag(std::string_view("DISCARD ALL\0", 12)), "DISCARD ALL");
}

TEST(StatementRegistry, SameTextSameStatement) {
  StatementRegistry r;
  auto a = r.intern("SELECT 1", "");
  auto b = r.intern("SELECT 1", "");
  auto c = r.intern("SELECT 1", std::string("\0\1\0\0\0\x17", 6));
  EXPECT_EQ(a->id, b->id);
  EXPECT_NE(a->id, c->id);
  EXPECT_EQ(a->server_name, "metagate_" + std::to_string(a->id));
  uint64_t old = a->id;
  a.reset();
  b.reset();
  auto d = r.intern("SELECT 1", "");  // nobody held it: a new id (ids are never reused)
  EXPECT_NE(d->id, old);
}

TEST(ServerStatements, LeastRecentlyUsedIsEvicted) {
  ServerStatements s(2);
  EXPECT_FALSE(s.add(1));
  EXPECT_FALSE(s.add(2));
  EXPECT_TRUE(s.contains(1));  // 2 is now the least recently used
  auto ev = s.add(3);
  ASSERT_TRUE(ev);
  EXPECT_EQ(*ev, 2u);
  EXPECT_TRUE(s.contains(1));
  EXPECT_FALSE(s.contains(2));
  s.clear();
  EXPECT_EQ(s.size(), 0u);
}

TEST(ResponseTracker, DropsReparseAnswerAndKeepsOrder) {
  ResponseTracker t;
  ServerStatements cache;
  cache.add(9);
  // Client: Bind/Execute/Sync; metagate put a Parse (drop) in front of the Bind.
  t.expect(Expect::kParse, true, 9);
  t.expect(Expect::kBind);
  t.expect(Expect::kExecute);
  t.expect(Expect::kSync);
  EXPECT_EQ(run(t, cache, "12DDCZ"), "2DDCZ");
  EXPECT_TRUE(t.empty());
  EXPECT_TRUE(cache.contains(9));
}

TEST(ResponseTracker, FailedReparseIsForgottenAndErrorPassedOn) {
  ResponseTracker t;
  ServerStatements cache;
  cache.add(9);
  t.expect(Expect::kParse, true, 9);
  t.expect(Expect::kBind);
  t.expect(Expect::kExecute);
  t.expect(Expect::kSync);
  EXPECT_EQ(run(t, cache, "EZ"), "EZ");
  EXPECT_FALSE(cache.contains(9));
  EXPECT_TRUE(t.empty());
}

TEST(ResponseTracker, SyntheticAnswersTakeTheirTurn) {
  ResponseTracker t;
  ServerStatements cache;
  // Client: Parse(known to the server: answered by metagate), Bind, Execute, Close(S), Sync.
  t.expect(Expect::kSyntheticParseComplete);
  t.expect(Expect::kBind);
  t.expect(Expect::kExecute);
  t.expect(Expect::kSyntheticCloseComplete);
  t.expect(Expect::kSync);
  EXPECT_EQ(run(t, cache, "2CZ"), "12C3Z");
}

TEST(ResponseTracker, ErrorSkipsToSyncIncludingSynthetics) {
  ResponseTracker t;
  ServerStatements cache;
  t.expect(Expect::kBind);
  t.expect(Expect::kExecute);
  t.expect(Expect::kSyntheticCloseComplete);  // PostgreSQL would skip the Close after the error
  t.expect(Expect::kSync);
  EXPECT_EQ(run(t, cache, "EZ"), "EZ");
  // After an error with the Sync not yet sent, later messages are ignored until it comes.
  t.expect(Expect::kBind);
  EXPECT_EQ(run(t, cache, "E"), "E");
  t.expect(Expect::kExecute);  // ignored by the server
  t.expect(Expect::kSync);
  EXPECT_EQ(t.pending_rounds(), 1u);
  EXPECT_EQ(run(t, cache, "Z"), "Z");
  EXPECT_TRUE(t.empty());
}

TEST(ResponseTracker, DroppedQueryKeepsParameterStatus) {
  ResponseTracker t;
  ServerStatements cache;
  t.expect(Expect::kQuery, true);  // metagate's SET
  t.expect(Expect::kQuery);        // the client's query
  EXPECT_EQ(run(t, cache, "TDCSZ" "TDCZ"), "S" "TDCZ");
}

TEST(ResponseTracker, ProbeRowsAreMarked) {
  ResponseTracker t;
  ServerStatements cache;
  t.expect(Expect::kQuery);
  t.expect(Expect::kProbe, true);
  EXPECT_FALSE(t.probe_next());
  std::string before;
  EXPECT_EQ(t.on_server_message('C', before, cache).verdict, V::kForward);
  EXPECT_EQ(t.on_server_message('Z', before, cache).verdict, V::kForward);
  EXPECT_TRUE(t.probe_next());
  EXPECT_EQ(t.on_server_message('T', before, cache).verdict, V::kDrop);
  auto row = t.on_server_message('D', before, cache);
  EXPECT_EQ(row.verdict, V::kDrop);
  EXPECT_TRUE(row.probe_row);
  t.on_server_message('C', before, cache);
  auto z = t.on_server_message('Z', before, cache);
  EXPECT_EQ(z.verdict, V::kDrop);
  EXPECT_TRUE(z.probe_done);
  EXPECT_TRUE(t.empty());
}

TEST(ResponseTracker, AbandonCountsOwedRounds) {
  ResponseTracker t;
  t.expect(Expect::kQuery);
  t.expect(Expect::kParse);
  t.expect(Expect::kSync);
  EXPECT_EQ(t.abandon(), 2u);
  EXPECT_TRUE(t.empty());
  // metagate's own statements before and after the client's (settings, the state probe) are
  // not the client's: no ReadyForQuery is owed for them (an extra one would answer the
  // client's next statement).
  t.expect(Expect::kQuery, /*drop=*/true);
  t.expect(Expect::kQuery);
  t.expect(Expect::kProbe, /*drop=*/true);
  EXPECT_EQ(t.abandon(), 1u);
}

TEST(ResponseTracker, NoticesPassAndUntrackedMessagesForward) {
  ResponseTracker t;
  ServerStatements cache;
  EXPECT_EQ(run(t, cache, "NA"), "NA");
  t.expect(Expect::kDescribeStatement);
  t.expect(Expect::kSync);
  EXPECT_EQ(run(t, cache, "tTNZ"), "tTNZ");
}

}  // namespace
}  // namespace metagate::pool
