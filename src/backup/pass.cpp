// A backup pass: snapshot, retention, cleanup.
#include "metagate/backup/pass.hpp"

#include <algorithm>

#include "metagate/backup/restore.hpp"

namespace metagate::backup {

PassResult run_backup_pass(const std::filesystem::path& file, const std::filesystem::path& dir, const PassOptions& o) {
  PassResult r;
  r.snapshot = take_snapshot(file, dir, o.snapshot);
  // Retention runs after a failed snapshot too (nothing new to keep, but the budget holds).
  auto listing = list_snapshots(dir);
  if (listing) {
    auto plan = plan_retention(listing->snapshots, o.retention);
    std::vector<Manifest> kept;
    for (const auto& m : listing->snapshots) {
      if (std::find(plan.remove.begin(), plan.remove.end(), m.id) != plan.remove.end()) {
        if (auto s = remove_snapshot(dir, m); !s) {
          r.remove_errors.push_back(m.id + ": " + s.error().message);
          kept.push_back(m);
        } else {
          r.removed.push_back(m.id);
        }
        continue;
      }
      kept.push_back(m);
    }
    for (const auto& m : kept) {
      ++r.kept;
      r.kept_bytes += m.stored_bytes;
    }
    r.over_budget = plan.over_budget;
    r.removed_segments = remove_unneeded_segments(dir, kept, o.current_generation);
  }
  r.stale_removed = remove_stale_temp_files(dir, std::chrono::hours(1));
  return r;
}

}  // namespace metagate::backup
