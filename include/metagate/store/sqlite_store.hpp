// SqliteStore: one WAL-mode SQLite file served to many sessions — one writer connection
// (serialised by the caller's write lock) and a pool of reader connections that run in
// parallel with it. Also keeps metagate's catalog, persisted in the same file.
#pragma once

#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "metagate/sql/catalog.hpp"
#include "metagate/store/group_commit.hpp"
#include "metagate/util/pg_error.hpp"

namespace metagate::store {

// Told about every commit and checkpoint of the writer (the change capture, docs/BACKUP.md).
// Called on the writer's thread.
class WalObserver {
 public:
  virtual ~WalObserver() = default;
  virtual void commit_begin() noexcept = 0;        // SQLite's commit hook (before the commit)
  virtual void committed(int wal_frames) = 0;      // after a commit: the WAL has wal_frames frames
  virtual bool before_checkpoint() = 0;            // false: do not checkpoint now
  virtual void closed_cleanly() = 0;               // after the final checkpoint and the writer's close
};

struct StoreOptions {
  std::string path;
  std::string synchronous = "FULL";  // FULL (default), NORMAL or EXTRA
  int readers = 4;                   // reader connections kept open (more are opened on demand)
  int cache_size_kib = 65536;
  int64_t mmap_size = 0;
  int64_t checkpoint_wal_bytes = 64LL << 20;  // auto-checkpoint once the WAL passes this
  // With synchronous FULL: SQLite's writer runs at NORMAL and commits share fsyncs of the
  // WAL through GroupCommit (acknowledged commits stay durable). Off: SQLite syncs each commit.
  bool group_commit = true;
  int64_t commit_delay_us = 0;
  // Called after each WAL checkpoint with its duration in seconds (on the writer's thread).
  std::function<void(double)> on_checkpoint;
  // Called once the writer has opened the file (SQLite has recovered its WAL) and before
  // anything is written; its observer then sees every commit. Null: no observer. An error
  // fails the open.
  std::function<PgResult<std::unique_ptr<WalObserver>>(const std::string& path)> make_wal_observer;
  // Fault injection in tests (the power-loss simulation): the SQLite VFS every connection uses
  // ("" = the default) and what replaces the group commit's fdatasync of the WAL.
  std::string vfs;
  GroupCommit::SyncFn group_commit_sync;
};

class AdvisoryLocks;

// One SQLite connection with its cache of prepared statements. Used by one thread at a
// time (the owner of the reader handle or of the write lock).
class Connection {
 public:
  explicit Connection(sqlite3* db) : db_(db) {}
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  sqlite3* db() const { return db_; }
  // A prepared statement for the text, from the cache when possible. The caller owns it
  // until give_back() (or finalises it).
  PgResult<sqlite3_stmt*> take(const std::string& sql, const sql::Catalog* catalog);
  void give_back(const std::string& sql, sqlite3_stmt* st);

 private:
  sqlite3* db_;
  std::unordered_map<std::string, std::vector<sqlite3_stmt*>> idle_;
  size_t cached_ = 0;
};

// A reader connection borrowed from the pool; returned when destroyed.
class ReaderHandle {
 public:
  ReaderHandle() = default;
  ReaderHandle(class SqliteStore* store, Connection* db) : store_(store), db_(db) {}
  ReaderHandle(ReaderHandle&& o) noexcept : store_(o.store_), db_(o.db_) { o.db_ = nullptr; }
  ReaderHandle& operator=(ReaderHandle&& o) noexcept;
  ~ReaderHandle();
  Connection* get() const { return db_; }
  explicit operator bool() const { return db_ != nullptr; }

 private:
  class SqliteStore* store_ = nullptr;
  Connection* db_ = nullptr;
};

class SqliteStore {
 public:
  static PgResult<std::unique_ptr<SqliteStore>> open(const StoreOptions& opts);
  ~SqliteStore();

  // The committed catalog (what sessions outside a DDL transaction translate against).
  sql::CatalogPtr catalog() const;
  // Installs a catalog after the transaction that wrote it committed.
  void publish_catalog(sql::CatalogPtr c);
  // Re-reads the catalog from the file (after a rolled-back DDL transaction).
  PgStatus reload_catalog();

  // Persists a catalog inside the writer's current transaction, with the emulated
  // pg_catalog/information_schema rows that describe it.
  PgStatus write_catalog(const sql::Catalog& c);

  Connection& writer() const { return *writer_; }
  ReaderHandle acquire_reader();

  const std::string& path() const { return opts_.path; }
  AdvisoryLocks& advisory_locks() { return *locks_; }

  // Sequence values as PostgreSQL hands them out: outside transactions, so a value taken by a
  // transaction that rolls back stays used. Persisted in the sequence table by the writer.
  struct SequenceState {
    int64_t last_value = 0;
    bool is_called = false;
  };
  std::mutex& sequence_mutex() { return seq_mu_; }
  std::map<std::string, SequenceState>& sequence_cache() { return seq_cache_; }
  // After DDL that may change sequences (restart, drop, rename): re-read from the table.
  void invalidate_sequences() {
    std::lock_guard lk(seq_mu_);
    seq_cache_.clear();
  }

  // The shared-fsync committer, or nullptr when SQLite syncs each commit itself.
  GroupCommit* group_commit() const { return group_commit_.get(); }

  // Checkpoints run so far (automatic ones when the WAL passes checkpoint_wal_bytes).
  uint64_t checkpoints() const { return checkpoints_.load(std::memory_order_relaxed); }
  // The WAL file's size in bytes (0 when there is none).
  int64_t wal_bytes() const;
  // Whether the store can serve: the file is still the one opened (not removed or replaced),
  // WAL syncs have not failed, and a reader answers a query. For /readyz.
  PgStatus check_health();

  // Interrupts whatever runs on a connection (CancelRequest).
  static void interrupt(sqlite3* db) { sqlite3_interrupt(db); }

 private:
  friend class ReaderHandle;
  explicit SqliteStore(StoreOptions opts);
  PgStatus bootstrap();
  void release_reader(Connection* db);
  PgResult<sqlite3*> open_connection(bool writer);

  StoreOptions opts_;
  std::unique_ptr<Connection> writer_;
  mutable std::mutex mu_;
  std::vector<Connection*> idle_readers_;
  std::vector<std::unique_ptr<Connection>> all_readers_;
  sql::CatalogPtr catalog_;
  std::unique_ptr<AdvisoryLocks> locks_;
  std::mutex seq_mu_;
  std::map<std::string, SequenceState> seq_cache_;
  std::unique_ptr<GroupCommit> group_commit_;
  std::unique_ptr<WalObserver> observer_;  // told after the writer closes: see ~SqliteStore
  std::atomic<uint64_t> checkpoints_{0};
  int64_t checkpoint_pages_ = 0;
  uint64_t file_ino_ = 0, file_dev_ = 0;  // the database file as opened
  static int wal_hook(void* self, sqlite3* db, const char* name, int pages);
  static int commit_hook(void* self);
  bool checkpoint_allowed();
};

// True when `sql` prepares on `conn` with exactly the parameters ?1..?n.
bool binds_exactly(Connection& conn, const std::string& sql, size_t n);
// Runs one SQL statement with no result rows; maps failures to PgError.
PgStatus exec(sqlite3* db, const std::string& sql);
// Maps a SQLite failure (after sqlite3_step/prepare) to the PostgreSQL error a client expects.
PgError map_sqlite_error(sqlite3* db, int rc, const sql::Catalog* catalog);

}  // namespace metagate::store
