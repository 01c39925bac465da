// Retention: grandfather-father-son buckets, the disk budget, the newest always kept.
#include <gtest/gtest.h>

#include "metagate/backup/retention.hpp"

using namespace metagate::backup;

namespace {

constexpr int64_t kHour = 3'600'000;
// 2026-12-07 00:00:00 UTC, a Monday.
constexpr int64_t kMonday = 1'796'601'600'000;

Manifest snap(int64_t at_ms, uint64_t bytes = 100) {
  Manifest m;
  m.created_unix_ms = at_ms;
  m.id = std::to_string(at_ms);
  m.stored_bytes = bytes;
  return m;
}

std::vector<Manifest> hourly(int n, int64_t start, int64_t step = kHour) {
  std::vector<Manifest> v;
  for (int i = 0; i < n; ++i) v.push_back(snap(start + i * step));
  return v;
}

}  // namespace

TEST(Retention, KeepsTheNewestOfEachOfTheLastHours) {
  auto s = hourly(30, kMonday);  // 30 hourly snapshots
  auto p = plan_retention(s, Retention{.hourly = 24, .daily = 0, .weekly = 0});
  EXPECT_EQ(p.keep.size(), 24u);
  EXPECT_EQ(p.remove.size(), 6u);
  EXPECT_EQ(p.keep.back(), s.back().id);
  EXPECT_EQ(p.remove.front(), s.front().id);
}

TEST(Retention, SeveralSnapshotsInOneHourKeepOnlyTheNewest) {
  std::vector<Manifest> s = {snap(kMonday + 60'000), snap(kMonday + 120'000), snap(kMonday + 180'000)};
  auto p = plan_retention(s, Retention{.hourly = 24, .daily = 0, .weekly = 0});
  ASSERT_EQ(p.keep.size(), 1u);
  EXPECT_EQ(p.keep[0], s[2].id);
}

TEST(Retention, DailyAndWeeklyBucketsReachBack) {
  auto s = hourly(24 * 40, kMonday - 40LL * 24 * kHour);  // 40 days of hourly snapshots
  auto p = plan_retention(s, Retention{.hourly = 24, .daily = 7, .weekly = 4});
  // 24 hours (within today and yesterday), 7 days (2 of them already covered by the hourly
  // ones' newest-of-day), 4 weeks: at most 24 + 7 + 4 distinct, at least 24 + 5 + 2.
  EXPECT_LE(p.keep.size(), 35u);
  EXPECT_GE(p.keep.size(), 31u);
  EXPECT_EQ(p.keep.back(), s.back().id);
  // The oldest kept is the fourth week bucket: the newest snapshot of the week three weeks back.
  int64_t oldest = std::stoll(p.keep.front());
  EXPECT_EQ(oldest, s.back().created_unix_ms - 21LL * 24 * kHour);  // the newest of its week, 3 weeks back
}

TEST(Retention, WeeksStartOnMonday) {
  // Sunday 23:00 and Monday 01:00: different ISO weeks, both kept with weekly = 2.
  std::vector<Manifest> s = {snap(kMonday - kHour), snap(kMonday + kHour)};
  auto p = plan_retention(s, Retention{.hourly = 0, .daily = 0, .weekly = 2});
  EXPECT_EQ(p.keep.size(), 2u);
}

TEST(Retention, BudgetRemovesOldestFirstButNeverTheNewest) {
  auto s = hourly(10, kMonday);
  auto p = plan_retention(s, Retention{.hourly = 24, .daily = 0, .weekly = 0, .disk_budget_bytes = 450});  // 100 bytes each: 4 fit
  EXPECT_EQ(p.keep.size(), 4u);
  EXPECT_EQ(p.keep.back(), s.back().id);
  EXPECT_FALSE(p.over_budget);
  std::vector<Manifest> big = {snap(kMonday, 1000)};
  auto q = plan_retention(big, Retention{.hourly = 24, .daily = 7, .weekly = 4, .disk_budget_bytes = 10});
  EXPECT_EQ(q.keep.size(), 1u);
  EXPECT_TRUE(q.over_budget);
}

TEST(Retention, ZeroBucketsStillKeepTheNewest) {
  auto s = hourly(5, kMonday);
  auto p = plan_retention(s, Retention{.hourly = 0, .daily = 0, .weekly = 0});
  ASSERT_EQ(p.keep.size(), 1u);
  EXPECT_EQ(p.keep[0], s.back().id);
  EXPECT_TRUE(plan_retention({}, Retention{}).keep.empty());
}

TEST(Retention, LastKeepsTheNewestWhateverTheirTimes) {
  auto s = hourly(10, kMonday, 60'000);  // ten snapshots a minute apart, one hour bucket
  auto p = plan_retention(s, Retention{.last = 3, .hourly = 24, .daily = 0, .weekly = 0});
  ASSERT_EQ(p.keep.size(), 3u);
  EXPECT_EQ(p.keep.front(), s[7].id);
}
