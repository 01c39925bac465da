// The daemon's uploads to S3 (see s3_shipper.hpp).
#include "s3_shipper.hpp"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <random>

namespace metagate::server {

namespace {
int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}
}  // namespace

S3Shipper::S3Shipper(config::BackupConfig backup, config::S3Config s3, std::function<std::vector<std::string>()> files)
    : backup_(std::move(backup)), s3_(std::move(s3)), files_(std::move(files)) {}

S3Shipper::~S3Shipper() { stop(); }

void S3Shipper::start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { run(); });
}

void S3Shipper::stop() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void S3Shipper::poke() {
  {
    std::lock_guard lk(mu_);
    poked_ = true;
  }
  cv_.notify_all();
}

std::map<std::string, S3Shipper::FileStats> S3Shipper::stats() const {
  std::lock_guard lk(mu_);
  return stats_;
}

S3Shipper::Passes S3Shipper::passes() const {
  std::lock_guard lk(mu_);
  return passes_;
}

S3Shipper::SnapshotProgress S3Shipper::progress(const std::string& file, const std::string& snapshot_id) const {
  std::lock_guard lk(mu_);
  SnapshotProgress p;
  p.passes = passes_;
  auto it = stats_.find(file);
  if (it == stats_.end()) return p;
  p.in_bucket = it->second.remote_snapshots.count(snapshot_id) > 0;
  p.file_pass = it->second.pass;
  p.file_error = it->second.pass_error;
  p.unreachable = it->second.pass_unreachable;
  return p;
}

void S3Shipper::run() {
  // Uploads yield to client traffic: this thread runs at nice 10.
  ::setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), 10);
  std::mt19937_64 rng(std::random_device{}());
  int failures = 0;
  for (;;) {
    {
      std::lock_guard lk(mu_);
      if (stop_) return;
      ++passes_.started;
    }
    bool ok = true;
    std::string setup_error;
    if (!client_) {
      auto creds = s3::resolve_credentials({s3_.access_key_id, s3_.secret_access_key, ""});
      if (!creds) {
        spdlog::error("S3: no usable credentials: {}", creds.error().to_string());
        setup_error = "no usable credentials: " + creds.error().to_string();
        ok = false;
      } else {
        s3::Options o;
        o.endpoint = s3_.endpoint;
        o.region = s3_.region;
        o.bucket = s3_.bucket;
        o.path_style = s3_.path_style;
        o.credentials = *creds;
        o.max_send_bytes_per_second = s3_.bandwidth_limit_bytes;
        o.retry.max_attempts = 2;  // the loop below backs off between passes
        client_ = std::make_unique<s3::Client>(std::move(o));
      }
    }
    if (!backup_.encryption_key_file.empty() && !key_) {
      auto k = replica::load_key_file(backup_.encryption_key_file);
      if (!k) {
        spdlog::error("S3: nothing is shipped: {}", k.error().message);
        setup_error = k.error().message;
        ok = false;
      } else {
        key_ = std::make_unique<replica::Key>(*k);
      }
    }
    // Whether every failure of this pass was the endpoint not answering (no request reached it).
    bool all_unreachable = true;
    if (client_ && (backup_.encryption_key_file.empty() || key_))
      for (const std::string& file : files_()) {
        bool unreachable = false;
        if (!ship_file(file, unreachable)) {
          ok = false;
          all_unreachable = all_unreachable && unreachable;
        }
      }
    else
      all_unreachable = false;
    {
      std::lock_guard lk(mu_);
      passes_.finished = passes_.started;
      passes_.setup_error = setup_error;
    }
    failures = ok ? 0 : failures + 1;
    // Back-off after failures: full jitter, 5 minutes at most; else the interval. While the
    // endpoint does not answer at all, a pass costs one refused connection (ship() probes it
    // before any work), so it is tried at least every s3.probe_interval (between half of it
    // and all of it): the bucket starts catching up soon after the network returns, not up to
    // 5 minutes later. An endpoint that answers with errors gets the full back-off.
    int64_t wait_ms = s3_.interval_ms;
    if (failures > 0) {
      int64_t ceiling = std::min<int64_t>(300'000, int64_t{1000} << std::min(failures, 9));
      if (all_unreachable) ceiling = std::min(ceiling, s3_.probe_interval_ms);  // >= 1 s (validated)
      const int64_t floor = all_unreachable ? ceiling / 2 : 0;
      wait_ms = std::max<int64_t>({250, floor, static_cast<int64_t>(rng() % static_cast<uint64_t>(ceiling + 1))});
    }
    std::unique_lock lk(mu_);
    cv_.wait_for(lk, std::chrono::milliseconds(wait_ms), [this] { return stop_ || poked_; });
    if (stop_) return;
    poked_ = false;
  }
}

bool S3Shipper::ship_file(const std::string& file, bool& unreachable) {
  const std::string dir = config::backup_dir_for(backup_, file);
  const std::string root = replica::remote_root(s3_.prefix, std::filesystem::path(file).stem().string());
  auto& state = states_[dir];
  if (!state) {
    state = std::make_unique<replica::RemoteState>(dir);
    if (auto s = state->load(); !s) spdlog::warn("S3: {} (starting from an empty remote state)", s.error().message);
  }
  if (!reconciled_[dir]) {
    // The bucket is the truth: what a listing shows is there, whatever remote.json says.
    auto listing = client_->list_objects(root + "/");
    if (listing) {
      std::set<std::string> keys;
      for (const auto& o : *listing) keys.insert(o.key);
      state->replace(std::move(keys));
      (void)state->save();
      reconciled_[dir] = true;
    }
  }
  auto stopping = [this] {
    std::lock_guard lk(mu_);
    return stop_;
  };
  replica::ShipOptions so;
  so.key = key_.get();
  so.zstd_level = static_cast<int>(backup_.zstd_level);
  // The bucket keeps what the local retention keeps (the disk budget is local only).
  const backup::Retention retention{.last = static_cast<int>(backup_.retention.last),
                                    .hourly = static_cast<int>(backup_.retention.hourly),
                                    .daily = static_cast<int>(backup_.retention.daily),
                                    .weekly = static_cast<int>(backup_.retention.weekly)};
  so.retention = &retention;
  auto r = replica::ship(*client_, root, dir, *state, so, stopping);
  // After a failure the queue and the lag still move (the alert on the lag must fire during an
  // outage): counted from the local state, without a request.
  std::optional<replica::ShipStats> offline;
  if (!r) offline = replica::pending_uploads(root, dir, *state);
  // The snapshots the bucket has whole (their manifest acknowledged), also after a failed pass.
  std::set<std::string> snapshots;
  const std::string snap_prefix = root + "/snapshots/";
  for (auto k = state->keys().lower_bound(snap_prefix); k != state->keys().end() && k->starts_with(snap_prefix); ++k)
    if (k->ends_with(".json")) snapshots.insert(k->substr(snap_prefix.size(), k->size() - snap_prefix.size() - 5));
  std::lock_guard lk(mu_);
  FileStats& st = stats_[file];
  st.remote_snapshots = std::move(snapshots);
  st.pass = passes_.started;
  const int64_t now = unix_ms_now();
  if (!r) {
    const s3::Error& e = r.error();
    ++st.errors[std::string(s3::kind_name(e.kind))];
    if (st.last_error != e.to_string()) spdlog::warn("S3: shipping the backups of {} failed: {}; retrying", file, e.to_string());
    st.last_error = e.to_string();
    st.pass_error = e.to_string();
    st.pass_unreachable = e.kind == s3::Error::Kind::kNetwork || e.kind == s3::Error::Kind::kTimeout;
    unreachable = st.pass_unreachable;
    st.pending_objects = offline->pending_objects;
    st.pending_bytes = offline->pending_bytes;
    st.catch_up_pending = offline->catch_up_pending;
    st.catch_up_since_unix_ms = offline->catch_up_since_unix_ms;
    if (!offline->generation.empty()) {
      st.generation = offline->generation;
      st.remote_seq = offline->remote_seq;
    }
    return false;
  }
  st.pass_error.clear();
  st.pass_unreachable = false;
  if (r->uploaded_objects > 0) {
    st.last_upload_unix_ms = now;
    spdlog::info("S3: {} object(s), {} bytes of the backups of {} uploaded", r->uploaded_objects, r->uploaded_bytes, file);
  }
  if (!st.last_error.empty()) spdlog::info("S3: shipping the backups of {} works again", file);
  st.last_error.clear();
  st.uploaded_objects += r->uploaded_objects;
  st.uploaded_bytes += r->uploaded_bytes;
  st.pending_objects = r->pending_objects;
  st.pending_bytes = r->pending_bytes;
  st.catch_up_pending = r->catch_up_pending;
  st.catch_up_since_unix_ms = r->catch_up_since_unix_ms;
  st.generation = r->generation;
  st.remote_seq = r->remote_seq;
  if (r->catch_up_pending == 0) st.last_success_unix_ms = now;
  return true;
}

}  // namespace metagate::server
