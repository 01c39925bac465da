// The daemon's scheduled snapshots and the change capture's segment sealing.
#include "backup_scheduler.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "metagate/backup/pass.hpp"

namespace metagate::server {

namespace {

int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

class CaptureObserver final : public store::WalObserver {
 public:
  explicit CaptureObserver(std::shared_ptr<backup::WalCapture> c) : capture_(std::move(c)) {}
  void commit_begin() noexcept override { capture_->commit_begin(); }
  void committed(int wal_frames) override {
    if (auto s = capture_->committed(wal_frames); !s) complain("capturing a commit", s.error());
  }
  bool before_checkpoint() override {
    if (auto s = capture_->sync(); !s) {
      complain("before a checkpoint", s.error());
      return false;
    }
    return true;
  }
  void closed_cleanly() override {
    if (auto s = capture_->closed_cleanly(); !s) complain("recording the clean stop", s.error());
  }

 private:
  // Once a minute at most: a failing disk would otherwise log on every commit.
  void complain(const char* what, const PgError& e) {
    const int64_t now = unix_ms_now();
    if (now - last_complaint_ms_ < 60'000) return;
    last_complaint_ms_ = now;
    spdlog::error("change capture: {} failed: {} (SQLSTATE {}); the WAL keeps every frame until capture catches up",
                  what, e.message, e.sqlstate);
  }
  std::shared_ptr<backup::WalCapture> capture_;
  int64_t last_complaint_ms_ = 0;
};

}  // namespace

std::unique_ptr<store::WalObserver> make_capture_observer(std::shared_ptr<backup::WalCapture> capture) {
  return std::make_unique<CaptureObserver>(std::move(capture));
}

BackupScheduler::BackupScheduler(config::BackupConfig cfg, std::function<std::vector<Target>()> targets)
    : cfg_(std::move(cfg)), targets_(std::move(targets)) {}

BackupScheduler::~BackupScheduler() { stop(); }

void BackupScheduler::start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { run(); });
}

void BackupScheduler::stop() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  // Requests nobody will serve now: answered, so that no one waits for them.
  std::lock_guard lk(mu_);
  stopped_ = true;
  for (const Request& rq : requests_) {
    ManualResult r;
    r.file = rq.file;
    r.snapshot = unexpected(PgError::make(sqlstate::kAdminShutdown, "metagate is shutting down: no snapshot was taken"));
    done_[rq.ticket].push_back(std::move(r));
  }
  requests_.clear();
}

uint64_t BackupScheduler::request(std::string file) {
  uint64_t ticket;
  {
    std::lock_guard lk(mu_);
    ticket = next_ticket_++;
    if (stopped_) {
      ManualResult r;
      r.file = file;
      r.snapshot = unexpected(PgError::make(sqlstate::kAdminShutdown, "metagate is shutting down: no snapshot was taken"));
      done_[ticket].push_back(std::move(r));
    } else {
      requests_.push_back({ticket, std::move(file)});
    }
  }
  cv_.notify_all();
  return ticket;
}

std::optional<std::vector<BackupScheduler::ManualResult>> BackupScheduler::results(uint64_t ticket) {
  std::lock_guard lk(mu_);
  auto it = done_.find(ticket);
  if (it == done_.end()) return std::nullopt;
  auto out = std::move(it->second);
  done_.erase(it);
  return out;
}

void BackupScheduler::serve_requests() {
  for (;;) {
    Request rq;
    {
      std::lock_guard lk(mu_);
      if (stop_ || requests_.empty()) return;
      rq = std::move(requests_.front());
      requests_.pop_front();
    }
    std::vector<Target> chosen;
    for (Target& t : targets_())
      if (rq.file.empty() || t.file == rq.file) chosen.push_back(std::move(t));
    std::vector<ManualResult> out;
    if (!rq.file.empty() && chosen.empty()) {
      // Not open, not a configured file: backed up if it is there (a name of a "{database}" route).
      std::error_code ec;
      if (std::filesystem::is_regular_file(rq.file, ec)) {
        chosen.push_back({rq.file, nullptr});
      } else {
        ManualResult r;
        r.file = rq.file;
        r.snapshot = unexpected(PgError::make("58P01", "SQLite file \"" + rq.file + "\" does not exist: nothing to back up"));
        out.push_back(std::move(r));
      }
    }
    for (const Target& t : chosen) {
      ManualResult r;
      r.file = t.file;
      bool stopping;
      {
        std::lock_guard lk(mu_);
        stopping = stop_;
      }
      if (stopping) r.snapshot = unexpected(PgError::make(sqlstate::kAdminShutdown, "metagate is shutting down: no snapshot was taken"));
      else r.snapshot = backup_file(t, "manual");
      out.push_back(std::move(r));
    }
    std::lock_guard lk(mu_);
    done_[rq.ticket] = std::move(out);
    // Results nobody came for (the client went away) are not kept forever.
    while (done_.size() > 64) done_.erase(done_.begin());
  }
}

void BackupScheduler::poke() {
  {
    std::lock_guard lk(mu_);
    poked_ = true;
  }
  cv_.notify_all();
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
    serve_requests();
    const int64_t now = unix_ms_now();
    int64_t next = now + 60'000;
    if (cfg_.interval_ms > 0) next = now + cfg_.interval_ms;
    for (const Target& t : cfg_.interval_ms > 0 ? targets_() : std::vector<Target>{}) {
      {
        std::lock_guard lk(mu_);
        if (stop_) return;
      }
      serve_requests();  // a manual request does not wait for the scheduled work of every file
      const std::string dir = config::backup_dir_for(cfg_, t.file);
      if (t.capture) {
        if (auto s = t.capture->seal_if_due(); !s) spdlog::warn("change capture of {}: {}", t.file, s.error().message);
        next = std::min(next, now + cfg_.segment_interval_ms);
      }
      const std::string gen = t.capture ? t.capture->generation() : std::string();
      std::optional<backup::Listing> listing;
      if (!due.count(t.file) || (t.capture && based_[t.file] != gen)) {
        if (auto l = backup::list_snapshots(dir)) listing = std::move(*l);
      }
      auto it = due.find(t.file);
      if (it == due.end()) {
        int64_t newest = 0;
        if (listing && !listing->snapshots.empty()) newest = listing->snapshots.back().created_unix_ms;
        it = due.emplace(t.file, newest + cfg_.interval_ms).first;
      }
      // A capture generation without a snapshot cannot be restored from: its base comes now.
      const char* reason = "scheduled";
      if (t.capture && based_[t.file] != gen) {
        bool has = false;
        if (listing)
          for (const auto& m : listing->snapshots) has = has || m.generation == gen;
        if (has) {
          based_[t.file] = gen;
        } else {
          it->second = std::min(it->second, now);
          reason = "generation";
        }
      }
      if (it->second <= now) {
        (void)backup_file(t, reason);
        // The next one an interval after this one was due (no drift); an interval from now when
        // that is already past (the first one, or after a long pause).
        it->second += cfg_.interval_ms;
        if (it->second <= unix_ms_now()) it->second = unix_ms_now() + cfg_.interval_ms;
      }
      next = std::min(next, it->second);
    }
    std::unique_lock lk(mu_);
    // Files opened later (a new database name) are noticed within a minute.
    const int64_t wait_ms = std::clamp<int64_t>(next - unix_ms_now(), 100, 60'000);
    cv_.wait_for(lk, std::chrono::milliseconds(wait_ms), [this] { return stop_ || poked_ || !requests_.empty(); });
    if (stop_) return;
    poked_ = false;
  }
}

PgResult<backup::Manifest> BackupScheduler::backup_file(const Target& t, const char* reason) {
  const std::string& file = t.file;
  const std::string dir = config::backup_dir_for(cfg_, file);
  backup::PassOptions po;
  po.snapshot.database = std::filesystem::path(file).stem().string();
  po.snapshot.reason = reason;
  po.snapshot.zstd_level = static_cast<int>(cfg_.zstd_level);
  po.snapshot.min_free_bytes = cfg_.min_free_bytes;
  if (t.capture) {
    po.snapshot.position = [c = t.capture](bool upper) -> std::optional<backup::StorePosition> { return c->position(upper); };
    po.current_generation = t.capture->generation();
  }
  const auto& rc = cfg_.retention;
  po.retention = {.last = static_cast<int>(rc.last), .hourly = static_cast<int>(rc.hourly),
                  .daily = static_cast<int>(rc.daily), .weekly = static_cast<int>(rc.weekly),
                  .disk_budget_bytes = cfg_.disk_budget_bytes};
  po.pitr_window_ms = cfg_.pitr_window_ms > 0 ? cfg_.pitr_window_ms : -1;
  if (shipped_position_) po.shipped_position = [this, file, dir] { return shipped_position_(file, dir); };
  backup::PassResult r = backup::run_backup_pass(file, dir, po);
  if (r.snapshot && on_snapshot_) on_snapshot_(file);
  std::lock_guard lk(mu_);
  FileStats& st = stats_[file];
  st.dir = dir;
  if (!r.snapshot) {
    const PgError& e = r.snapshot.error();
    st.last_failure_unix_ms = unix_ms_now();
    st.last_error = e.message;
    ++st.failures[e.sqlstate];
    spdlog::error("backup of {} failed: {} (SQLSTATE {}); the previous snapshots are kept", file, e.message, e.sqlstate);
  } else {
    const backup::Manifest& m = *r.snapshot;
    st.last_success_unix_ms = m.created_unix_ms;
    st.last_duration_seconds = m.total_seconds;
    st.last_copy_seconds = m.copy_seconds;
    st.last_raw_bytes = m.raw_bytes;
    st.last_stored_bytes = m.stored_bytes;
    ++st.successes;
    if (!m.generation.empty() && m.generation == po.current_generation) based_[file] = m.generation;
    spdlog::info("backup of {}: snapshot {} ({}, {} -> {} bytes, integrity ok, {:.3f} s{})", file, m.id, reason, m.raw_bytes,
                 m.stored_bytes, m.total_seconds,
                 m.generation.empty() ? std::string() : ", generation " + m.generation + " commit " + std::to_string(m.seq_lo));
  }
  st.snapshots = r.kept;
  st.stored_bytes = r.kept_bytes;
  for (const auto& id : r.removed) spdlog::info("backup of {}: removed snapshot {} (retention)", file, id);
  for (const auto& e : r.remove_errors) spdlog::warn("backup of {}: could not remove snapshot {}", file, e);
  if (!r.removed_segments.empty())
    spdlog::info("backup of {}: removed {} segment file(s) no kept snapshot needs", file, r.removed_segments.size());
  if (r.compacted)
    spdlog::info("backup of {}: compacted old segments into {} file(s), {} bytes saved", file, r.compacted,
                 r.compaction_saved_bytes);
  for (const auto& e : r.compaction_errors) spdlog::warn("backup of {}: compaction: {}", file, e);
  st.segment_bytes = r.segment_bytes;
  st.compacted += r.compacted;
  if (r.dropped_unshipped)
    spdlog::warn("backup of {}: segments not yet in the bucket were removed to stay inside backup.disk_budget; "
                 "the bucket will catch up with a snapshot", file);
  if (r.over_budget)
    spdlog::warn("backup of {}: the newest snapshot and its segments alone exceed backup.disk_budget", file);
  if (r.stale_removed)
    spdlog::info("backup of {}: removed {} temporary file(s) left by an interrupted snapshot", file, r.stale_removed);
  return r.snapshot;
}

}  // namespace metagate::server
