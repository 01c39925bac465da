// GroupCommit: acknowledgements wait for an fsync that started after the commit; concurrent
// commits share fsyncs; a failed fsync fails every waiting and later commit (58030).
#include "metagate/store/group_commit.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <filesystem>
#include <future>
#include <thread>
#include <vector>

#include "metagate/store/sqlite_store.hpp"

namespace metagate::store {
namespace {

using namespace std::chrono_literals;

// A sync that blocks until released, recording how many ran.
struct GatedSync {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  int calls = 0;
  PgStatus operator()() {
    std::unique_lock lk(mu);
    ++calls;
    cv.wait(lk, [&] { return open; });
    return Ok{};
  }
  void release() {
    std::lock_guard lk(mu);
    open = true;
    cv.notify_all();
  }
};

TEST(GroupCommit, AcknowledgesOnlyAfterTheSync) {
  auto gate = std::make_shared<GatedSync>();
  GroupCommit::Options o;
  o.sync = [gate] { return (*gate)(); };
  GroupCommit gc(o);
  uint64_t t = gc.note_commit();
  std::atomic<bool> acked{false};
  gc.when_durable(t, [&](PgStatus s) {
    EXPECT_TRUE(s);
    acked = true;
  });
  std::this_thread::sleep_for(50ms);
  EXPECT_FALSE(acked.load()) << "acknowledged before the fsync finished";
  gate->release();
  EXPECT_TRUE(gc.wait_durable(t));
  EXPECT_TRUE(acked.load());
}

TEST(GroupCommit, CommitsDuringASyncShareTheNextOne) {
  auto gate = std::make_shared<GatedSync>();
  GroupCommit::Options o;
  o.sync = [gate] { return (*gate)(); };
  GroupCommit gc(o);
  uint64_t first = gc.note_commit();
  // Wait until the flusher is inside the first sync.
  for (int i = 0; i < 200 && gc.stats().syncs == 0; ++i) {
    std::lock_guard lk(gate->mu);
    if (gate->calls > 0) break;
    std::this_thread::sleep_for(1ms);
  }
  std::vector<uint64_t> later;
  for (int i = 0; i < 20; ++i) later.push_back(gc.note_commit());
  gate->release();
  EXPECT_TRUE(gc.wait_durable(first));
  for (auto t : later) EXPECT_TRUE(gc.wait_durable(t));
  auto st = gc.stats();
  EXPECT_EQ(st.commits, 21u);
  EXPECT_LE(st.syncs, 2u) << "20 commits that arrived during one fsync need one more, not 20";
}

TEST(GroupCommit, FailedSyncFailsWaitersAndLaterCommits) {
  std::atomic<int> n{0};
  GroupCommit::Options o;
  o.sync = [&]() -> PgStatus {
    if (++n == 2) return unexpected(PgError::make("58030", "could not fsync file \"x-wal\": Input/output error"));
    return Ok{};
  };
  GroupCommit gc(o);
  EXPECT_TRUE(gc.wait_durable(gc.note_commit()));
  auto s = gc.wait_durable(gc.note_commit());
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().sqlstate, "58030");
  ASSERT_TRUE(gc.failure().has_value());
  auto later = gc.wait_durable(gc.note_commit());
  ASSERT_FALSE(later);
  EXPECT_EQ(later.error().sqlstate, "58030");
}

TEST(GroupCommit, DestructorFlushesPendingCommits) {
  std::atomic<int> syncs{0};
  std::atomic<int> acked{0};
  {
    GroupCommit::Options o;
    o.sync = [&]() -> PgStatus {
      std::this_thread::sleep_for(5ms);
      ++syncs;
      return Ok{};
    };
    GroupCommit gc(o);
    for (int i = 0; i < 5; ++i) gc.when_durable(gc.note_commit(), [&](PgStatus s) { acked += s ? 1 : 0; });
  }
  EXPECT_EQ(acked.load(), 5);
  EXPECT_GE(syncs.load(), 1);
}

// The real thing: a WAL-mode store whose writer commits without fsync, many threads
// committing, every commit acknowledged after a real fdatasync of the -wal file.
TEST(GroupCommit, RealStoreSharesFsyncs) {
  auto dir = std::filesystem::temp_directory_path() / ("mg-gc-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  StoreOptions so;
  so.path = (dir / "t.db").string();
  so.synchronous = "full";
  so.readers = 1;
  {
    auto st = SqliteStore::open(so);
    ASSERT_TRUE(st) << st.error().message;
    auto& store = **st;
    ASSERT_NE(store.group_commit(), nullptr);
    sqlite3* w = store.writer().db();
    // The writer must not sync itself.
    sqlite3_stmt* q = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(w, "PRAGMA synchronous", -1, &q, nullptr), SQLITE_OK);
    ASSERT_EQ(sqlite3_step(q), SQLITE_ROW);
    EXPECT_EQ(sqlite3_column_int(q, 0), 1) << "writer should run at NORMAL under group commit";
    sqlite3_finalize(q);
    ASSERT_TRUE(exec(w, "CREATE TABLE t(x INTEGER)"));
    std::mutex writer_mu;  // stands in for the server's write lock
    std::vector<std::thread> threads;
    std::atomic<int> ok{0};
    for (int c = 0; c < 8; ++c) {
      threads.emplace_back([&, c] {
        for (int i = 0; i < 50; ++i) {
          uint64_t t;
          {
            std::lock_guard lk(writer_mu);
            ASSERT_TRUE(exec(w, "INSERT INTO t VALUES (" + std::to_string(c * 1000 + i) + ")"));
            t = store.group_commit()->note_commit();
          }
          if (store.group_commit()->wait_durable(t)) ++ok;
        }
      });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(ok.load(), 400);
    auto stats = store.group_commit()->stats();
    EXPECT_EQ(stats.commits, 400u);
    EXPECT_LT(stats.syncs, stats.commits) << "concurrent commits should share fsyncs";
    EXPECT_EQ(stats.failed_syncs, 0u);
  }
  // Reopened, everything is there.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(so.path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* q = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT count(*) FROM t", -1, &q, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(q), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(q, 0), 400);
  sqlite3_finalize(q);
  sqlite3_close(db);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace metagate::store
