// WalCapture: continuous change capture of one live SQLite file (docs/BACKUP.md, "Change
// capture"). metagate owns the only writer, so after every commit it reads the frames that
// commit appended to the WAL (SQLite's wal hook says how many there are), checks them (salts,
// cumulative checksums), and appends them as one transaction record to the open segment of the
// current generation. Nothing is checkpointed before it is captured and synced: the store asks
// sync() before every checkpoint, and skips the checkpoint when capture is behind or failing,
// so the WAL keeps every frame until it is safely in a segment.
//
// A generation is an unbroken chain of captured commits, numbered from 1. A new one starts
// when the chain cannot be proven to continue: first use, a file replaced or written by
// someone else while metagate was stopped, a WAL that does not continue where capture stopped.
// Snapshots record the generation and commit number they contain (StorePosition); restore =
// a snapshot + the records after it, up to the chosen commit.
//
// Threads: commit_begin/committed/sync/closed_cleanly on the writer's thread (one at a time);
// position() from any thread; seal_if_due() and stats() from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "metagate/backup/segment.hpp"
#include "metagate/backup/snapshot.hpp"
#include "metagate/backup/wal.hpp"
#include "metagate/util/pg_error.hpp"

namespace metagate::backup {

struct CaptureOptions {
  std::filesystem::path dir;          // the file's backup directory; segments go to dir/wal/<generation>/
  uint64_t segment_bytes = 16ull << 20;  // an open segment is sealed once this big ...
  int64_t segment_ms = 60'000;           // ... or this old (seal_if_due)
  std::function<int64_t()> clock_ms;     // unix time in ms (tests: an accelerated clock); null = real
  std::function<void()> on_wal_synced;   // after capture fdatasyncs the WAL (tests: power-loss journal)
};

struct CaptureStats {
  std::string generation;
  uint64_t seq = 0;               // last captured commit
  uint64_t transactions = 0;      // captured since start
  uint64_t pages = 0;
  uint64_t bytes = 0;             // appended to segments since start
  uint64_t syncs = 0;
  uint64_t segments_sealed = 0;
  uint64_t generations_started = 0;
  uint64_t errors = 0;
  bool behind = false;            // the last capture failed: checkpoints wait
  std::string last_error;
  int64_t last_capture_unix_ms = 0;
};

class WalCapture {
 public:
  // `db_path` is open in the daemon's writer (SQLite has recovered its WAL) and nothing has
  // been written yet. Continues the newest generation in opts.dir when the file is provably
  // where it left off (capturing commits a crash left uncaptured in the WAL), else starts one.
  static PgResult<std::unique_ptr<WalCapture>> open(const std::filesystem::path& db_path, CaptureOptions opts);
  ~WalCapture();
  WalCapture(const WalCapture&) = delete;
  WalCapture& operator=(const WalCapture&) = delete;

  // Writer's thread. commit_begin: SQLite's commit hook (before the commit is made).
  void commit_begin() noexcept { pending_.fetch_add(1, std::memory_order_seq_cst); }
  // SQLite's wal hook, after a commit: the WAL holds `wal_frames` frames. Captures the new ones.
  PgStatus committed(int wal_frames);
  // Before a checkpoint: every captured record is durable. Fails when capture is behind (the
  // checkpoint must then wait).
  PgStatus sync();
  // After the store's final checkpoint and the writer's close: records how the file was left
  // (so a restart can prove nothing else wrote to it) and seals the segment.
  PgStatus closed_cleanly();

  // Any thread: see SnapshotOptions::position.
  StorePosition position(bool upper) const;
  // Seals the open segment if it is older than segment_ms (after catching up, see catch_up()).
  PgStatus seal_if_due();
  // After a failure (a full disk): captures the acknowledged commits still missing, without
  // waiting for the next commit (sync() and seal_if_due() try this too). Ok when not behind.
  PgStatus catch_up();
  CaptureStats stats() const;
  std::string generation() const;

  static std::filesystem::path wal_root(const std::filesystem::path& dir) { return dir / "wal"; }

 private:
  WalCapture(std::filesystem::path db_path, CaptureOptions opts);
  int64_t now_ms() const;
  PgStatus start(bool startup);
  PgStatus new_generation(const std::string& why, const std::optional<WalHeader>& header);
  // Reads the WAL from mark_ up to `end` (0: to the end of valid frames) and appends records.
  PgStatus capture_to(const WalHeader& h, uint64_t end);
  PgStatus append_record(std::vector<uint8_t>& rec, size_t header_at, const RecordFields& f);
  PgStatus open_segment(uint64_t first_seq, uint32_t page_size);
  PgStatus seal_locked();
  PgStatus sync_wal_locked();
  PgStatus fail(PgError e);
  PgStatus catch_up_locked();

  const std::filesystem::path db_path_, wal_path_;
  const CaptureOptions opts_;
  mutable std::mutex mu_;
  std::string generation_;
  std::filesystem::path gen_dir_;
  WalMark mark_;            // the WAL position after the last captured commit
  uint32_t page_size_ = 0;  // from the WAL header
  std::atomic<uint64_t> seq_{0};
  std::atomic<uint64_t> pending_{0};  // commits begun (commit hook) and not captured yet
  int wal_fd_ = -1;
  uint64_t retry_end_ = 0;  // the WAL end of the last acknowledged commit (what a catch-up reads to)
  // The open segment.
  int fd_ = -1;
  std::filesystem::path seg_path_;
  uint64_t seg_first_ = 0, seg_last_ = 0;
  uint64_t seg_bytes_ = 0;
  int64_t seg_created_ms_ = 0;
  uint32_t seg_c1_ = 0, seg_c2_ = 0;
  bool unsynced_ = false, dir_unsynced_ = false;
  std::vector<uint8_t> rbuf_, wbuf_;
  CaptureStats stats_;
};

}  // namespace metagate::backup
