// Primary election (issue 7, point 5): never two primaries written to; an old primary that
// comes back without being rewound is refused; a primary restarted in place is taken back.
#include <gtest/gtest.h>

#include "metagate/ha/election.hpp"

using namespace metagate::ha;

namespace {

Observation seen(Role role, uint32_t tl, uint64_t lsn, std::string error = "") {
  Observation o;
  o.role = role;
  o.timeline = tl;
  o.lsn = lsn;
  o.error = std::move(error);
  return o;
}
Observation primary(uint32_t tl, uint64_t lsn = 100) { return seen(Role::kPrimary, tl, lsn); }
Observation replica(uint32_t tl, uint64_t lsn = 100) { return seen(Role::kReplica, tl, lsn); }
Observation down() { return seen(Role::kDown, 0, 0, "connection refused"); }

TEST(ElectionTest, ThePrimaryOfAHealthyClusterIsElected) {
  Election e(2);
  const ClusterView& v = e.update({replica(1), primary(1)});
  ASSERT_TRUE(v.primary);
  EXPECT_EQ(*v.primary, 1u);
  EXPECT_EQ(v.timeline, 1u);
  EXPECT_EQ(v.generation, 1u);
  EXPECT_FALSE(v.hosts[0].refused);
  // Nothing changes: the generation stays.
  EXPECT_EQ(e.update({replica(1), primary(1)}).generation, 1u);
}

TEST(ElectionTest, FailoverHoldsUntilThePromotionThenRefusesTheOldPrimary) {
  Election e(2);
  e.update({primary(1), replica(1)});
  // The primary is gone, the replica not promoted yet: nobody (the caller holds new work).
  const ClusterView& gap = e.update({down(), replica(1)});
  EXPECT_FALSE(gap.primary);
  EXPECT_EQ(gap.generation, 2u);
  // Promoted: timeline 2.
  const ClusterView& after = e.update({down(), primary(2)});
  ASSERT_TRUE(after.primary);
  EXPECT_EQ(*after.primary, 1u);
  EXPECT_EQ(after.timeline, 2u);
  // The old primary comes back as it was (not rewound): still a primary, on timeline 1.
  const ClusterView& back = e.update({primary(1), primary(2)});
  EXPECT_EQ(*back.primary, 1u);
  EXPECT_TRUE(back.hosts[0].refused);
  EXPECT_NE(back.hosts[0].refused_why.find("behind timeline 2"), std::string::npos) << back.hosts[0].refused_why;
  // Even when the new primary is down meanwhile, the old one is not taken back.
  const ClusterView& lone = e.update({primary(1), down()});
  EXPECT_FALSE(lone.primary);
  EXPECT_TRUE(lone.hosts[0].refused);
  // Rewound and following the new primary: a replica, nothing refused.
  const ClusterView& healed = e.update({replica(2), primary(2)});
  EXPECT_EQ(*healed.primary, 1u);
  EXPECT_FALSE(healed.hosts[0].refused);
}

TEST(ElectionTest, ThePatroniWindowOfTwoPrimariesPicksThePromotedOne) {
  // Patroni without a watchdog: the old primary keeps running while the replica is promoted.
  Election e(2);
  e.update({primary(1), replica(1)});
  const ClusterView& v = e.update({primary(1), primary(2)});
  ASSERT_TRUE(v.primary);
  EXPECT_EQ(*v.primary, 1u);
  EXPECT_TRUE(v.hosts[0].refused);
}

TEST(ElectionTest, APrimaryRestartedInPlaceIsTakenBack) {
  // kill -9 of the postmaster: Patroni restarts PostgreSQL on the same host (crash recovery).
  Election e(2);
  e.update({primary(3), replica(3)});
  EXPECT_FALSE(e.update({down(), replica(3)}).primary);
  const ClusterView& v = e.update({primary(3), replica(3)});
  ASSERT_TRUE(v.primary);
  EXPECT_EQ(*v.primary, 0u);
  EXPECT_EQ(v.generation, 3u);
}

TEST(ElectionTest, TwoPrimariesOfOneTimelineKeepTheOneElectedBeforeOrNone) {
  Election fresh(2);
  const ClusterView& none = fresh.update({primary(1), primary(1)});
  EXPECT_FALSE(none.primary);
  EXPECT_TRUE(none.hosts[0].refused);
  EXPECT_TRUE(none.hosts[1].refused);
  EXPECT_NE(none.hosts[0].refused_why.find("an operator must decide"), std::string::npos);

  Election e(2);
  e.update({replica(1), primary(1)});
  const ClusterView& v = e.update({primary(1), primary(1)});
  ASSERT_TRUE(v.primary);
  EXPECT_EQ(*v.primary, 1u);
  EXPECT_TRUE(v.hosts[0].refused);
  EXPECT_FALSE(v.hosts[1].refused);
}

TEST(ElectionTest, ANewerTimelineAnywhereWins) {
  // A host promoted later than the one elected (a switchover done behind metagate's back).
  Election e(3);
  e.update({primary(4), replica(4), replica(4)});
  const ClusterView& v = e.update({primary(4), replica(5), primary(5)});
  ASSERT_TRUE(v.primary);
  EXPECT_EQ(*v.primary, 2u);
  EXPECT_TRUE(v.hosts[0].refused);
  EXPECT_EQ(v.timeline, 5u);
}

TEST(ElectionTest, AShortRoundCountsMissingHostsAsDown) {
  Election e(3);
  const ClusterView& v = e.update({primary(1)});
  EXPECT_EQ(v.hosts.size(), 3u);
  EXPECT_EQ(v.hosts[2].seen.role, Role::kDown);
  EXPECT_EQ(*v.primary, 0u);
}

TEST(ElectionTest, WithPatroniOnlyTheLeaderIsElected) {
  // Patroni without a watchdog: a's Patroni is killed, its PostgreSQL keeps running as a
  // primary while the leader key expires; b is then promoted. a is never written to once its
  // Patroni stops naming it the leader, even before b's promotion (nobody elected: hold).
  auto with = [](Observation o, PatroniLeader p) {
    o.patroni = p;
    if (p == PatroniLeader::kNotLeader) o.patroni_error = "Patroni REST API http://a:8008/primary: Connection refused";
    return o;
  };
  Election e(2);
  const ClusterView& v1 = e.update({with(primary(1), PatroniLeader::kLeader), replica(1)});
  ASSERT_TRUE(v1.primary);
  EXPECT_EQ(*v1.primary, 0u);
  const ClusterView& v2 = e.update({with(primary(1), PatroniLeader::kNotLeader), replica(1)});
  EXPECT_FALSE(v2.primary);
  EXPECT_TRUE(v2.hosts[0].refused);
  EXPECT_NE(v2.hosts[0].refused_why.find("Patroni does not name it the leader"), std::string::npos);
  const ClusterView& v3 =
      e.update({with(primary(1), PatroniLeader::kNotLeader), with(primary(2), PatroniLeader::kLeader)});
  ASSERT_TRUE(v3.primary);
  EXPECT_EQ(*v3.primary, 1u);
  // Patroni's leader on a lower timeline than one elected before is still refused (never
  // back to an old timeline).
  const ClusterView& v4 = e.update({with(primary(1), PatroniLeader::kLeader), replica(2)});
  EXPECT_FALSE(v4.primary);
  EXPECT_TRUE(v4.hosts[0].refused);
}

}  // namespace
