// One backup pass over a file: a snapshot, then retention (snapshots and the segments no kept
// snapshot needs), then the temporary files of interrupted runs. What the daemon's scheduler
// and `metagate backup now` both do.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "metagate/backup/retention.hpp"
#include "metagate/backup/snapshot.hpp"

namespace metagate::backup {

struct PassOptions {
  SnapshotOptions snapshot;
  Retention retention;
  std::string current_generation;  // the capture's generation (its segments are kept until it has a base)
};

struct PassResult {
  PgResult<Manifest> snapshot = unexpected(PgError::make(sqlstate::kInternalError, "not run"));
  std::vector<std::string> removed;        // snapshot ids, by retention
  std::vector<std::string> remove_errors;  // what could not be removed, and why
  std::vector<std::filesystem::path> removed_segments;
  bool over_budget = false;                // the newest snapshot alone exceeds the disk budget
  size_t stale_removed = 0;                // temporary files of interrupted snapshots
  uint64_t kept = 0;                       // snapshots on disk afterwards
  uint64_t kept_bytes = 0;                 // their stored size
};

PassResult run_backup_pass(const std::filesystem::path& file, const std::filesystem::path& dir, const PassOptions& o);

}  // namespace metagate::backup
