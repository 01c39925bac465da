// One backup pass over a file: a snapshot, then retention (snapshots and the segments no kept
// snapshot needs), compaction of the segments older than the per-commit window, the disk
// budget (snapshots and segments together: the oldest snapshots go first, never the newest,
// then every segment is compacted), then the temporary files of interrupted runs. What the
// daemon's scheduler and `metagate backup now` both do.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "metagate/backup/retention.hpp"
#include "metagate/backup/snapshot.hpp"

namespace metagate::backup {

struct PassOptions {
  SnapshotOptions snapshot;
  Retention retention;
  std::string current_generation;  // the capture's generation (its segments are kept until it has a base)
  // Every commit of this last stretch stays a restore point; older segments are compacted to
  // one restore point per kept snapshot. < 0: never compacted (unless over the budget).
  int64_t pitr_window_ms = 24 * 3'600'000LL;
  // Compaction rewrites segment files: only the process that owns them (the daemon) does it.
  bool compact = true;
  // Where the bucket's copy stands (null: no S3): the segments after it are kept, compacted,
  // for the catch-up delta — unless only dropping them keeps the budget.
  std::function<std::optional<StorePosition>()> shipped_position;
  std::function<int64_t()> clock_ms;  // unix time in ms (tests: an accelerated clock); null = real
};

struct PassResult {
  PgResult<Manifest> snapshot = unexpected(PgError::make(sqlstate::kInternalError, "not run"));
  std::vector<std::string> removed;        // snapshot ids, by retention
  std::vector<std::string> remove_errors;  // what could not be removed, and why
  std::vector<std::filesystem::path> removed_segments;
  bool over_budget = false;                // the newest snapshot and its segments alone exceed the disk budget
  bool dropped_unshipped = false;          // segments the bucket lacks were removed to meet the budget
  size_t compacted = 0;                    // compacted segments written
  uint64_t compaction_saved_bytes = 0;     // what compaction took off the segments' size
  std::vector<std::string> compaction_errors;
  size_t stale_removed = 0;                // temporary files of interrupted snapshots
  uint64_t kept = 0;                       // snapshots on disk afterwards
  uint64_t kept_bytes = 0;                 // their stored size
  uint64_t segment_bytes = 0;              // the segment files' size afterwards
};

// The size of the segment files under `dir`/wal (open ones included).
uint64_t segment_bytes(const std::filesystem::path& dir);

PassResult run_backup_pass(const std::filesystem::path& file, const std::filesystem::path& dir, const PassOptions& o);

}  // namespace metagate::backup
