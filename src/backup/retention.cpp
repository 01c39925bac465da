// Grandfather-father-son retention inside a disk budget.
#include "metagate/backup/retention.hpp"

#include <algorithm>
#include <set>

namespace metagate::backup {

namespace {

constexpr int64_t kHourMs = 3'600'000;
constexpr int64_t kDayMs = 24 * kHourMs;
// 1970-01-01 was a Thursday: shifting by 3 days makes week buckets start on Mondays.
constexpr int64_t kMondayShiftMs = 3 * kDayMs;

int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// The newest snapshot of each of the newest `count` buckets (bucket = floor((t + shift) / width)).
void keep_buckets(const std::vector<Manifest>& s, int count, int64_t width, int64_t shift, std::set<size_t>& keep) {
  if (count <= 0) return;
  int64_t last_bucket = INT64_MIN;
  int taken = 0;
  for (size_t i = s.size(); i-- > 0 && taken < count;) {
    int64_t b = floor_div(s[i].created_unix_ms + shift, width);
    if (b == last_bucket) continue;
    last_bucket = b;
    keep.insert(i);
    ++taken;
  }
}

}  // namespace

RetentionPlan plan_retention(const std::vector<Manifest>& snapshots, const Retention& r) {
  RetentionPlan plan;
  if (snapshots.empty()) return plan;
  std::set<size_t> keep;
  const size_t newest = snapshots.size() - 1;
  keep.insert(newest);
  for (int i = 0; i < r.last && static_cast<size_t>(i) < snapshots.size(); ++i) keep.insert(newest - static_cast<size_t>(i));
  keep_buckets(snapshots, r.hourly, kHourMs, 0, keep);
  keep_buckets(snapshots, r.daily, kDayMs, 0, keep);
  keep_buckets(snapshots, r.weekly, 7 * kDayMs, kMondayShiftMs, keep);
  if (r.disk_budget_bytes > 0) {
    uint64_t used = 0;
    for (size_t i : keep) used += snapshots[i].stored_bytes;
    for (auto it = keep.begin(); used > r.disk_budget_bytes && it != keep.end();) {
      if (*it == newest) break;  // never the newest
      used -= snapshots[*it].stored_bytes;
      it = keep.erase(it);
    }
    plan.over_budget = used > r.disk_budget_bytes;
  }
  for (size_t i = 0; i < snapshots.size(); ++i) (keep.count(i) ? plan.keep : plan.remove).push_back(snapshots[i].id);
  return plan;
}

}  // namespace metagate::backup
