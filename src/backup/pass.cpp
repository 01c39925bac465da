// A backup pass: snapshot, retention, compaction, the disk budget, cleanup.
#include "metagate/backup/pass.hpp"

#include <algorithm>

#include "files.hpp"
#include "metagate/backup/compact.hpp"
#include "metagate/backup/restore.hpp"

namespace metagate::backup {

namespace fs = std::filesystem;

uint64_t segment_bytes(const fs::path& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir / "wal", ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    std::error_code e2;
    if (it->is_regular_file(e2)) total += it->file_size(e2);
  }
  return total;
}

PassResult run_backup_pass(const fs::path& file, const fs::path& dir, const PassOptions& o) {
  PassResult r;
  SnapshotOptions so = o.snapshot;
  if (o.clock_ms && !so.clock_ms) so.clock_ms = o.clock_ms;
  r.snapshot = take_snapshot(file, dir, so);
  // Retention runs after a failed snapshot too (nothing new to keep, but the budget holds).
  auto listing = list_snapshots(dir);
  if (listing) {
    Retention buckets = o.retention;
    buckets.disk_budget_bytes = 0;  // the budget counts the segments too: below
    auto plan = plan_retention(listing->snapshots, buckets);
    std::vector<Manifest> kept;
    auto remove = [&](const Manifest& m) {
      if (auto s = remove_snapshot(dir, m); !s) {
        r.remove_errors.push_back(m.id + ": " + s.error().message);
        return false;
      }
      r.removed.push_back(m.id);
      return true;
    };
    // The newest snapshot of the capture's generation is its base for every commit since: a
    // snapshot without a capture position (`metagate backup now` from another process) taken
    // in the same hour must not push it out of the hour's bucket.
    std::string base;
    for (const auto& m : listing->snapshots)
      if (!m.generation.empty() && (o.current_generation.empty() || m.generation == o.current_generation)) base = m.id;
    for (const auto& m : listing->snapshots) {
      const bool drop = m.id != base && std::find(plan.remove.begin(), plan.remove.end(), m.id) != plan.remove.end();
      if (!drop || !remove(m)) kept.push_back(m);
    }
    std::optional<StorePosition> shipped;
    if (o.shipped_position) shipped = o.shipped_position();
    auto drop_segments = [&] {
      auto gone = remove_unneeded_segments(dir, kept, o.current_generation, shipped);
      r.removed_segments.insert(r.removed_segments.end(), gone.begin(), gone.end());
    };
    auto compact = [&](int64_t older_than) {
      if (!o.compact) return;
      CompactionReport c = compact_segments(dir, kept, {older_than, o.current_generation, shipped, &o.retention});
      r.compacted += c.written.size();
      if (c.bytes_before > c.bytes_after) r.compaction_saved_bytes += c.bytes_before - c.bytes_after;
      r.compaction_errors.insert(r.compaction_errors.end(), c.errors.begin(), c.errors.end());
    };
    drop_segments();
    const int64_t now = o.clock_ms ? o.clock_ms() : detail::unix_ms_now();
    if (o.pitr_window_ms >= 0) compact(now - o.pitr_window_ms);
    const uint64_t budget = o.retention.disk_budget_bytes;
    auto used = [&] {
      uint64_t u = segment_bytes(dir);
      for (const auto& m : kept) u += m.stored_bytes;
      return u;
    };
    if (budget > 0 && used() > budget) {
      // The oldest restore points go first (never the newest snapshot), then the per-commit
      // points of the recent window.
      while (kept.size() > 1 && used() > budget) {
        if (!remove(kept.front())) break;
        kept.erase(kept.begin());
        drop_segments();
      }
      if (used() > budget) compact(INT64_MAX);
      if (used() > budget && shipped) {
        // The budget wins over a cheap catch-up: the bucket will get a fresh snapshot instead.
        shipped.reset();
        drop_segments();
        r.dropped_unshipped = true;
      }
      r.over_budget = used() > budget;
    }
    for (const auto& m : kept) {
      ++r.kept;
      r.kept_bytes += m.stored_bytes;
    }
  }
  r.segment_bytes = segment_bytes(dir);
  r.stale_removed = remove_stale_temp_files(dir, std::chrono::hours(1));
  return r;
}

}  // namespace metagate::backup
