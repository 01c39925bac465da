// Which snapshots to keep: grandfather-father-son buckets inside a disk budget. Pure
// function of the listing and the clock, so it is tested without files.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "metagate/backup/snapshot.hpp"

namespace metagate::backup {

struct Retention {
  int last = 0;     // the N newest snapshots, whatever their times
  int hourly = 24;  // the newest snapshot of each of the last N clock hours (UTC) that have one
  int daily = 7;    // ... of each of the last N days
  int weekly = 4;   // ... of each of the last N ISO weeks (Monday to Sunday, UTC)
  uint64_t disk_budget_bytes = 0;  // all snapshots together (stored bytes); 0 = no limit
};

struct RetentionPlan {
  std::vector<std::string> keep;    // ids, oldest first
  std::vector<std::string> remove;  // ids, oldest first
  // The budget could not be met without removing the newest snapshot (which is always kept).
  bool over_budget = false;
};

// `snapshots` oldest first (as list_snapshots returns them). The newest snapshot is always
// kept, whatever the buckets and the budget say. Then the `last` newest and each bucket's newest;
// then, over the budget, the oldest kept ones (except the newest) are removed first.
RetentionPlan plan_retention(const std::vector<Manifest>& snapshots, const Retention& r);

}  // namespace metagate::backup
