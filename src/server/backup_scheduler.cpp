// The daemon's scheduled snapshots.
#include "backup_scheduler.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "metagate/backup/retention.hpp"
#include "metagate/backup/snapshot.hpp"

namespace metagate::server {

namespace {
int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}
}  // namespace

BackupScheduler::BackupScheduler(config::BackupConfig cfg, std::function<std::vector<std::string>()> files)
    : cfg_(std::move(cfg)), files_(std::move(files)) {}

BackupScheduler::~BackupScheduler() { stop(); }

void BackupScheduler::start() {
  if (cfg_.interval_ms <= 0 || thread_.joinable()) return;
  thread_ = std::thread([this] { run(); });
}

void BackupScheduler::stop() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::map<std::string, BackupScheduler::FileStats> BackupScheduler::stats() const {
  std::lock_guard lk(mu_);
  return stats_;
}

void BackupScheduler::run() {
  // When each file is due: the newest snapshot on disk plus the interval (so a restart does not
  // skip an hour, nor take an extra snapshot right after the last one).
  std::map<std::string, int64_t> due;
  for (;;) {
    const int64_t now = unix_ms_now();
    int64_t next = now + cfg_.interval_ms;
    for (const std::string& file : files_()) {
      auto it = due.find(file);
      if (it == due.end()) {
        int64_t newest = 0;
        if (auto l = backup::list_snapshots(config::backup_dir_for(cfg_, file)); l && !l->snapshots.empty())
          newest = l->snapshots.back().created_unix_ms;
        it = due.emplace(file, newest + cfg_.interval_ms).first;
      }
      if (it->second <= now) {
        {
          std::lock_guard lk(mu_);
          if (stop_) return;
        }
        backup_file(file, "scheduled");
        // The next one an interval after this one was due (no drift), but never in the past.
        it->second = std::max(it->second + cfg_.interval_ms, unix_ms_now() + 1000);
      }
      next = std::min(next, it->second);
    }
    std::unique_lock lk(mu_);
    // Files opened later (a new database name) are noticed within a minute.
    const int64_t wait_ms = std::clamp<int64_t>(next - unix_ms_now(), 100, 60'000);
    if (cv_.wait_for(lk, std::chrono::milliseconds(wait_ms), [this] { return stop_; })) return;
  }
}

void BackupScheduler::backup_file(const std::string& file, const char* reason) {
  const std::string dir = config::backup_dir_for(cfg_, file);
  backup::SnapshotOptions so;
  so.database = std::filesystem::path(file).stem().string();
  so.reason = reason;
  so.zstd_level = static_cast<int>(cfg_.zstd_level);
  so.min_free_bytes = cfg_.min_free_bytes;
  auto m = backup::take_snapshot(file, dir, so);
  std::lock_guard lk(mu_);
  FileStats& st = stats_[file];
  st.dir = dir;
  if (!m) {
    st.last_failure_unix_ms = unix_ms_now();
    st.last_error = m.error().message;
    ++st.failures[m.error().sqlstate];
    spdlog::error("backup of {} failed: {} (SQLSTATE {}); the previous snapshots are kept", file, m.error().message,
                  m.error().sqlstate);
    return;
  }
  st.last_success_unix_ms = m->created_unix_ms;
  st.last_duration_seconds = m->total_seconds;
  st.last_copy_seconds = m->copy_seconds;
  st.last_raw_bytes = m->raw_bytes;
  st.last_stored_bytes = m->stored_bytes;
  ++st.successes;
  spdlog::info("backup of {}: snapshot {} ({} -> {} bytes, integrity ok, {:.3f} s)", file, m->id, m->raw_bytes,
               m->stored_bytes, m->total_seconds);
  auto l = backup::list_snapshots(dir);
  if (!l) return;
  const auto& rc = cfg_.retention;
  backup::Retention r{.last = static_cast<int>(rc.last), .hourly = static_cast<int>(rc.hourly),
                      .daily = static_cast<int>(rc.daily), .weekly = static_cast<int>(rc.weekly),
                      .disk_budget_bytes = cfg_.disk_budget_bytes};
  auto plan = backup::plan_retention(l->snapshots, r);
  st.snapshots = 0;
  st.stored_bytes = 0;
  for (const auto& s : l->snapshots) {
    if (std::find(plan.remove.begin(), plan.remove.end(), s.id) != plan.remove.end()) {
      if (auto rm = backup::remove_snapshot(dir, s); !rm)
        spdlog::warn("backup of {}: could not remove snapshot {}: {}", file, s.id, rm.error().message);
      else
        spdlog::info("backup of {}: removed snapshot {} (retention)", file, s.id);
      continue;
    }
    ++st.snapshots;
    st.stored_bytes += s.stored_bytes;
  }
  if (plan.over_budget) spdlog::warn("backup of {}: the newest snapshot alone exceeds backup.disk_budget", file);
  if (size_t n = backup::remove_stale_temp_files(dir, std::chrono::hours(1)))
    spdlog::info("backup of {}: removed {} temporary file(s) left by an interrupted snapshot", file, n);
}

}  // namespace metagate::server
