// ManualBackup: the admin console's BACKUP [database]. The daemon's BackupScheduler takes the
// snapshots (on its thread, between its scheduled work, with the capture position like the
// scheduled ones); then, with S3, the shipper is poked and the task waits until the bucket has
// acknowledged each snapshot's manifest, or a shipping pass that started after the snapshot
// failed (the upload is pending: the snapshot stays queued in the backup directory), or the
// timeout. The session polls it from its io thread with a timer: poll() only looks at counters
// under the scheduler's and the shipper's mutexes.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "backup_scheduler.hpp"
#include "metagate/admin/admin.hpp"
#include "s3_shipper.hpp"

namespace metagate::server {

class ManualBackup final : public admin::AdminTask {
 public:
  struct Options {
    // How long to wait for the bucket's acknowledgement before answering "pending".
    std::chrono::milliseconds upload_timeout{std::chrono::minutes(30)};
    // Shutdown has begun: answer at once (the uploads resume at the next start).
    const std::atomic<bool>* draining = nullptr;
  };

  // `file`: the SQLite file to back up ("" = every file the server backs up). `shipper`: null
  // without S3. Both must outlive the task's polls (not its destruction).
  ManualBackup(BackupScheduler& scheduler, S3Shipper* shipper, std::string file, Options options);

  std::optional<PgResult<admin::AdminResult>> poll() override;

  // The result set's columns (also for an empty result).
  static admin::AdminResult empty_result();

 private:
  struct Row {
    std::string file;
    backup::Manifest manifest;
    std::string upload;  // "" while waiting for the bucket
  };
  admin::AdminResult result() const;

  BackupScheduler& scheduler_;
  S3Shipper* shipper_;
  Options options_;
  uint64_t ticket_ = 0;
  bool snapshots_done_ = false;
  std::vector<Row> rows_;
  // Shipping passes started when the snapshots were done: a later one has them in its plan.
  uint64_t pass_mark_ = 0;
  std::chrono::steady_clock::time_point snapshots_at_;
};

}  // namespace metagate::server
