// BackupScheduler: the daemon's snapshots, on a thread of its own (a snapshot reads the whole
// file and compresses it: never on an io thread). Every backup.interval it runs a backup pass
// (snapshot, retention, cleanup) over each SQLite file the server serves; the first one comes
// at start when the newest snapshot on disk is older than the interval, and right away when
// the file's change capture has started a generation that has no snapshot yet (its base). It
// also seals the capture's open segments once they are backup.segment_interval old. Between
// that work it serves manual requests (the admin console's BACKUP): a snapshot of every file, or
// of one, now — with backup.interval "off" only those.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "metagate/backup/capture.hpp"
#include "metagate/backup/snapshot.hpp"
#include "metagate/config/config.hpp"
#include "metagate/store/sqlite_store.hpp"

namespace metagate::server {

// The store's observer for a file's change capture (see store::WalObserver).
std::unique_ptr<store::WalObserver> make_capture_observer(std::shared_ptr<backup::WalCapture> capture);

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
    uint64_t segment_bytes = 0;   // the change capture's segment files after the last pass
    uint64_t compacted = 0;       // compacted segments written since start
    uint64_t successes = 0;
    std::map<std::string, uint64_t> failures;  // by SQLSTATE
  };
  struct Target {
    std::string file;
    std::shared_ptr<backup::WalCapture> capture;  // null: the file is not open (or capture is off)
  };

  // `targets`: the SQLite files to back up now (called on the scheduler thread).
  BackupScheduler(config::BackupConfig cfg, std::function<std::vector<Target>()> targets);
  ~BackupScheduler();  // stops and joins (a snapshot in progress finishes first)
  // With S3 (before start()): where the bucket's copy of a file stands, given its backup
  // directory — the pass keeps the segments after it (compacted) for the catch-up delta.
  void set_shipped_position(std::function<std::optional<backup::StorePosition>(const std::string& file, const std::string& dir)> f) {
    shipped_position_ = std::move(f);
  }
  BackupScheduler(const BackupScheduler&) = delete;
  BackupScheduler& operator=(const BackupScheduler&) = delete;

  // Called on the scheduler thread after every snapshot taken (before start()): S3 ships it now.
  void set_on_snapshot(std::function<void(const std::string& file)> f) { on_snapshot_ = std::move(f); }

  void start();
  void stop();  // requests not served yet are answered with 57P01 (shutting down)
  // Look at the files again now (a file was just opened: its capture may need a base snapshot).
  void poke();
  std::map<std::string, FileStats> stats() const;  // by file

  // A manual snapshot (reason "manual", with the capture position like the scheduled ones) of
  // every file the server backs up, or of `file` only (it need not be open, but must exist),
  // taken as soon as the snapshot in progress (if any) is done. Returns a ticket for results().
  struct ManualResult {
    std::string file;
    PgResult<backup::Manifest> snapshot = unexpected(PgError::make("XX000", "not run"));
  };
  uint64_t request(std::string file = {});
  // The ticket's results once its snapshots are all done (then forgotten); nullopt before.
  std::optional<std::vector<ManualResult>> results(uint64_t ticket);

 private:
  struct Request {
    uint64_t ticket = 0;
    std::string file;
  };
  void run();
  void serve_requests();  // the manual requests waiting, one after the other
  PgResult<backup::Manifest> backup_file(const Target& t, const char* reason);

  config::BackupConfig cfg_;
  std::function<std::optional<backup::StorePosition>(const std::string&, const std::string&)> shipped_position_;
  std::function<std::vector<Target>()> targets_;
  std::function<void(const std::string&)> on_snapshot_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool poked_ = false;
  bool stopped_ = false;  // stop() has joined the thread: requests are answered at once
  uint64_t next_ticket_ = 1;
  std::deque<Request> requests_;                          // waiting, in order
  std::map<uint64_t, std::vector<ManualResult>> done_;    // by ticket, until results() takes them
  std::map<std::string, FileStats> stats_;
  std::map<std::string, std::string> based_;  // file → the capture generation known to have a snapshot
  std::thread thread_;
};

}  // namespace metagate::server
