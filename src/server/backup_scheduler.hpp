// BackupScheduler: the daemon's snapshots, on a thread of its own (a snapshot reads the whole
// file and compresses it: never on an io thread). Every backup.interval it takes a snapshot
// of each SQLite file the server serves, then applies retention; the first one comes at
// start when the newest snapshot on disk is older than the interval.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "metagate/config/config.hpp"

namespace metagate::server {

class BackupScheduler {
 public:
  struct FileStats {
    std::string dir;
    int64_t last_success_unix_ms = 0;
    int64_t last_failure_unix_ms = 0;
    std::string last_error;
    double last_duration_seconds = 0;
    double last_copy_seconds = 0;
    uint64_t last_raw_bytes = 0;
    uint64_t last_stored_bytes = 0;
    uint64_t snapshots = 0;       // kept on disk after the last retention pass
    uint64_t stored_bytes = 0;    // their total size
    uint64_t successes = 0;
    std::map<std::string, uint64_t> failures;  // by SQLSTATE
  };

  // `files`: the SQLite files to back up now (called on the scheduler thread).
  BackupScheduler(config::BackupConfig cfg, std::function<std::vector<std::string>()> files);
  ~BackupScheduler();  // stops and joins (a snapshot in progress finishes first)
  BackupScheduler(const BackupScheduler&) = delete;
  BackupScheduler& operator=(const BackupScheduler&) = delete;

  void start();
  void stop();
  std::map<std::string, FileStats> stats() const;  // by file

 private:
  void run();
  void backup_file(const std::string& file, const char* reason);

  config::BackupConfig cfg_;
  std::function<std::vector<std::string>()> files_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::map<std::string, FileStats> stats_;
  std::thread thread_;
};

}  // namespace metagate::server
