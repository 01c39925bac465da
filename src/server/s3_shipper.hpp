// S3Shipper: the daemon's uploads to S3, on a thread of its own at a lower CPU priority (client
// traffic comes first; nothing it does holds a lock the store needs). Every s3.interval it
// brings the bucket up to date with each SQLite file's backup directory (replica::ship):
// catch-up first, then history. A failure (the network is down, the endpoint refuses) is
// retried with exponential back-off and jitter, up to 5 minutes apart; the local backups keep
// accumulating meanwhile and are shipped when the endpoint answers again.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "metagate/config/config.hpp"
#include "metagate/replica/replica.hpp"

namespace metagate::server {

class S3Shipper {
 public:
  struct FileStats {
    int64_t last_success_unix_ms = 0;   // the bucket was current (nothing to catch up) at this time
    int64_t last_upload_unix_ms = 0;
    uint64_t uploaded_objects = 0;
    uint64_t uploaded_bytes = 0;
    uint64_t pending_objects = 0;
    uint64_t pending_bytes = 0;
    uint64_t catch_up_pending = 0;
    int64_t catch_up_since_unix_ms = 0;
    std::string generation;
    uint64_t remote_seq = 0;  // the newest commit of the generation the bucket holds
    std::map<std::string, uint64_t> errors;  // by kind
    std::string last_error;
    // The snapshots (ids) whose manifest the bucket has acknowledged (a manifest goes up after
    // its data: the snapshot is there, whole).
    std::set<std::string> remote_snapshots;
    uint64_t pass = 0;           // the shipping pass (Passes::started) that last ran for this file
    std::string pass_error;      // its error ("" = it succeeded)
    bool pass_unreachable = false;  // that error was the network or a timeout
  };
  // The shipping passes: one brings every file up to date (or stops at its first failed
  // request). `setup_error`: why the last finished pass shipped nothing at all (credentials,
  // encryption key); "" when it did.
  struct Passes {
    uint64_t started = 0;
    uint64_t finished = 0;
    std::string setup_error;
  };
  // Where one snapshot of `file` stands (for BACKUP waiting for its upload).
  struct SnapshotProgress {
    bool in_bucket = false;
    uint64_t file_pass = 0;       // FileStats::pass
    std::string file_error;       // FileStats::pass_error
    bool unreachable = false;     // FileStats::pass_unreachable
    Passes passes;
  };

  S3Shipper(config::BackupConfig backup, config::S3Config s3, std::function<std::vector<std::string>()> files);
  ~S3Shipper();
  S3Shipper(const S3Shipper&) = delete;
  S3Shipper& operator=(const S3Shipper&) = delete;

  void start();
  void stop();
  void poke();  // ship now (a snapshot was just taken)
  std::map<std::string, FileStats> stats() const;
  Passes passes() const;
  SnapshotProgress progress(const std::string& file, const std::string& snapshot_id) const;

 private:
  void run();
  // false: a request failed; `unreachable` set when it failed because the endpoint did not
  // answer (connection refused, DNS, timeout).
  bool ship_file(const std::string& file, bool& unreachable);

  config::BackupConfig backup_;
  config::S3Config s3_;
  std::function<std::vector<std::string>()> files_;
  std::unique_ptr<s3::Client> client_;
  std::unique_ptr<replica::Key> key_;  // backup.encryption_key_file, loaded once
  std::map<std::string, std::unique_ptr<replica::RemoteState>> states_;  // by backup dir
  std::map<std::string, bool> reconciled_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false, poked_ = false;
  Passes passes_;
  std::map<std::string, FileStats> stats_;
  std::thread thread_;
};

}  // namespace metagate::server
