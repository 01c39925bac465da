// GroupCommit: makes commits durable with one fsync shared by every commit that finished
// before it started — PostgreSQL's WAL flush, applied to SQLite's WAL file.
//
// The writer connection runs with PRAGMA synchronous=NORMAL: a COMMIT appends its frames to
// the WAL with write() and returns without fsync, so the single writer lock is held only for
// the work itself. The committing session then takes a ticket (note_commit) and does not
// acknowledge anything to its client until when_durable(ticket) fires. A flusher thread loops:
// take the newest ticket T, fdatasync the WAL, mark every ticket <= T durable. Commits that
// land while one fdatasync runs are covered by the next one, so under load many commits share
// one fsync and the writer never waits for the disk.
//
// Durability is the same as synchronous=FULL for what clients see acknowledged: a COMMIT is
// reported only once its WAL frames are on stable storage. (Other sessions may read a
// transaction's rows in the short window between its COMMIT and the fsync; those rows are not
// yet acknowledged to their writer.) If an fsync fails, the file's state is unknown — as
// PostgreSQL does (it PANICs), every waiting and later commit fails with 58030 and the store
// refuses further writes until metagate is restarted and SQLite recovers the WAL.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "metagate/util/pg_error.hpp"

namespace metagate::store {

class GroupCommit {
 public:
  using SyncFn = std::function<PgStatus()>;
  using Callback = std::function<void(PgStatus)>;

  struct Options {
    std::string wal_path;                       // the -wal file to fdatasync
    std::chrono::microseconds commit_delay{0};  // wait before the fsync when others are writing
    std::function<size_t()> siblings;           // how many other sessions are writing (may be empty)
    SyncFn sync;                                // replaces the fdatasync (fault injection in tests)
  };

  struct Stats {
    uint64_t commits = 0;  // tickets handed out
    uint64_t syncs = 0;    // fsyncs done
    uint64_t failed_syncs = 0;
  };

  explicit GroupCommit(Options opts);
  ~GroupCommit();  // makes every pending commit durable (or failed) before returning
  GroupCommit(const GroupCommit&) = delete;
  GroupCommit& operator=(const GroupCommit&) = delete;

  // Called right after a commit returned from SQLite: the ticket that covers it.
  uint64_t note_commit();
  // Calls cb once every commit up to `ticket` is on stable storage (or the fsync failed):
  // inline when it already is, else on the flusher thread. cb must not block.
  void when_durable(uint64_t ticket, Callback cb);
  // Blocking form of when_durable, for callers outside the event loop.
  PgStatus wait_durable(uint64_t ticket);
  // Installs the count of other writing sessions used with commit_delay (set before use).
  void set_siblings(std::function<size_t()> fn) {
    std::lock_guard lk(mu_);
    opts_.siblings = std::move(fn);
  }
  // The error that made the store refuse writes, if an fsync ever failed.
  std::optional<PgError> failure() const;
  Stats stats() const;

 private:
  void run();
  PgStatus fdatasync_wal();

  Options opts_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  uint64_t requested_ = 0;
  uint64_t durable_ = 0;
  bool stop_ = false;
  std::optional<PgError> failure_;
  std::multimap<uint64_t, Callback> waiters_;
  Stats stats_;
  int fd_ = -1;  // the WAL file, opened by the flusher thread
  uint64_t ino_ = 0, dev_ = 0;
  std::thread thread_;
};

}  // namespace metagate::store
