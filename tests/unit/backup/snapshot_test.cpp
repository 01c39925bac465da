// Snapshots of a live WAL-mode SQLite file: consistency under concurrent writes, checksums,
// damage detection, listing of incomplete files, restore never overwriting.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "metagate/backup/snapshot.hpp"

using namespace metagate;
using namespace metagate::backup;
namespace fs = std::filesystem;

namespace {

class SnapshotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("mg-backup-test-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    db_path_ = dir_ / "grafana.db";
    ASSERT_EQ(sqlite3_open(db_path_.c_str(), &db_), SQLITE_OK);
    exec("PRAGMA journal_mode=WAL");
    exec("CREATE TABLE dashboard (id INTEGER PRIMARY KEY, data TEXT NOT NULL)");
    exec("CREATE INDEX dashboard_data ON dashboard(data)");
  }
  void TearDown() override {
    sqlite3_close(db_);
    fs::remove_all(dir_);
  }
  void exec(const std::string& sql, sqlite3* db = nullptr) {
    char* err = nullptr;
    ASSERT_EQ(sqlite3_exec(db ? db : db_, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
  }
  static int64_t count(const fs::path& file, const char* sql) {
    sqlite3* db = nullptr;
    sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db, sql, -1, &st, nullptr);
    int64_t n = -1;
    if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
  }
  void insert_rows(int n) {
    exec("BEGIN");
    for (int i = 0; i < n; ++i) exec("INSERT INTO dashboard(data) VALUES (printf('%0200d', random()))");
    exec("COMMIT");
  }
  SnapshotOptions options() {
    SnapshotOptions o;
    o.database = "grafana";
    o.min_free_bytes = 0;
    return o;
  }

  fs::path dir_, db_path_;
  sqlite3* db_ = nullptr;
};

}  // namespace

TEST_F(SnapshotTest, ConsistentCopyWhileAnotherConnectionWrites) {
  insert_rows(2000);
  // A writer on its own connection commits one row per transaction throughout the snapshot.
  std::atomic<bool> stop{false};
  std::atomic<int64_t> committed{0};
  std::thread writer([&] {
    sqlite3* w = nullptr;
    sqlite3_open(db_path_.c_str(), &w);
    sqlite3_busy_timeout(w, 5000);
    while (!stop) {
      if (sqlite3_exec(w, "INSERT INTO dashboard(data) VALUES ('x')", nullptr, nullptr, nullptr) == SQLITE_OK) ++committed;
    }
    sqlite3_close(w);
  });
  while (committed < 20) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  auto m = take_snapshot(db_path_, dir_ / "snaps", options());
  const int64_t after = committed.load();
  stop = true;
  writer.join();
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_GT(committed.load(), 20);  // the writer was never blocked for long
  EXPECT_EQ(m->integrity, "ok");
  EXPECT_EQ(m->database, "grafana");
  EXPECT_EQ(m->page_size, 4096);
  EXPECT_GT(m->stored_bytes, 0u);
  EXPECT_LT(m->stored_bytes, m->raw_bytes);
  EXPECT_TRUE(fs::exists(dir_ / "snaps" / m->data_file()));
  EXPECT_TRUE(fs::exists(dir_ / "snaps" / m->manifest_file()));

  fs::path out = dir_ / "restored.db";
  ASSERT_TRUE(restore_snapshot(dir_ / "snaps", *m, out));
  // One point in time: ids 1..n with no gap, n between the rows before and after the snapshot.
  int64_t n = count(out, "SELECT count(*) FROM dashboard");
  EXPECT_GE(n, 2000 + 20);
  EXPECT_LE(n, 2000 + after + 1);
  EXPECT_EQ(count(out, "SELECT max(id) FROM dashboard"), n);
  EXPECT_FALSE(fs::exists(out.string() + "-wal"));
  EXPECT_TRUE(verify_snapshot(dir_ / "snaps", *m));
}

TEST_F(SnapshotTest, ManifestRoundTripsAndListingIsOrdered) {
  insert_rows(10);
  auto a = take_snapshot(db_path_, dir_ / "s", options());
  ASSERT_TRUE(a);
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  insert_rows(10);
  auto b = take_snapshot(db_path_, dir_ / "s", options());
  ASSERT_TRUE(b);
  auto l = list_snapshots(dir_ / "s");
  ASSERT_TRUE(l);
  ASSERT_EQ(l->snapshots.size(), 2u);
  EXPECT_EQ(l->snapshots[0].id, a->id);
  EXPECT_EQ(l->snapshots[1].id, b->id);
  EXPECT_EQ(l->snapshots[1].raw_sha256, b->raw_sha256);
  EXPECT_TRUE(l->stray.empty());
  auto parsed = manifest_from_json_text(to_json_text(*b));
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->stored_sha256, b->stored_sha256);
  EXPECT_EQ(parsed->page_count, b->page_count);
  EXPECT_FALSE(manifest_from_json_text("{\"format\": 2}"));
  EXPECT_FALSE(manifest_from_json_text("not json"));
}

TEST_F(SnapshotTest, DamagedSnapshotFailsVerificationAndRestore) {
  insert_rows(500);
  auto m = take_snapshot(db_path_, dir_ / "s", options());
  ASSERT_TRUE(m);
  {
    std::fstream f(dir_ / "s" / m->data_file(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(m->stored_bytes / 2));
    char c = 0;
    f.read(&c, 1);
    f.seekp(static_cast<std::streamoff>(m->stored_bytes / 2));
    c = static_cast<char>(c ^ 0x5a);
    f.write(&c, 1);
  }
  auto v = verify_snapshot(dir_ / "s", *m);
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().sqlstate, sqlstate::kDataCorrupted);
  fs::path out = dir_ / "r.db";
  EXPECT_FALSE(restore_snapshot(dir_ / "s", *m, out));
  EXPECT_FALSE(fs::exists(out));
  EXPECT_FALSE(fs::exists(out.string() + ".restoring"));
}

TEST_F(SnapshotTest, RestoreNeverOverwrites) {
  insert_rows(5);
  auto m = take_snapshot(db_path_, dir_ / "s", options());
  ASSERT_TRUE(m);
  fs::path out = dir_ / "exists.db";
  std::ofstream(out) << "precious";
  auto r = restore_snapshot(dir_ / "s", *m, out);
  EXPECT_FALSE(r);
  std::ifstream in(out);
  std::string text;
  in >> text;
  EXPECT_EQ(text, "precious");
}

TEST_F(SnapshotTest, IncompleteFilesAreListedAsStrayAndRemoveDeletesBoth) {
  insert_rows(5);
  auto m = take_snapshot(db_path_, dir_ / "s", options());
  ASSERT_TRUE(m);
  std::ofstream(dir_ / "s" / "20200101T000000.000Z.db.zst") << "left by a crash";
  std::ofstream(dir_ / "s" / "20200101T000001.000Z.json") << "{garbage";
  auto l = list_snapshots(dir_ / "s");
  ASSERT_TRUE(l);
  EXPECT_EQ(l->snapshots.size(), 1u);
  EXPECT_EQ(l->stray.size(), 2u);
  ASSERT_TRUE(remove_snapshot(dir_ / "s", *m));
  EXPECT_FALSE(fs::exists(dir_ / "s" / m->data_file()));
  EXPECT_FALSE(fs::exists(dir_ / "s" / m->manifest_file()));
}

TEST_F(SnapshotTest, NotEnoughFreeSpaceIsDiskFull) {
  insert_rows(5);
  SnapshotOptions o = options();
  o.min_free_bytes = 1ull << 62;
  auto m = take_snapshot(db_path_, dir_ / "s", o);
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().sqlstate, "53100");
  auto l = list_snapshots(dir_ / "s");
  ASSERT_TRUE(l);
  EXPECT_TRUE(l->snapshots.empty());
  EXPECT_TRUE(l->stray.empty());
}

TEST_F(SnapshotTest, MissingSourceIsAnIoError) {
  auto m = take_snapshot(dir_ / "nope.db", dir_ / "s", options());
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().sqlstate, "58030");
}

TEST_F(SnapshotTest, StaleTemporaryFilesAreRemovedYoungOnesKept) {
  fs::create_directories(dir_ / "s");
  std::ofstream(dir_ / "s" / ".tmp-20200101T000000.000Z.db") << "killed mid-snapshot";
  std::ofstream(dir_ / "s" / ".verify-20200101T000000.000Z.db") << "killed mid-verify";
  std::ofstream(dir_ / "s" / ".tmp-fresh.db") << "being written right now";
  std::ofstream(dir_ / "s" / "keep.json") << "{}";
  auto old = fs::file_time_type::clock::now() - std::chrono::hours(2);
  fs::last_write_time(dir_ / "s" / ".tmp-20200101T000000.000Z.db", old);
  fs::last_write_time(dir_ / "s" / ".verify-20200101T000000.000Z.db", old);
  fs::last_write_time(dir_ / "s" / "keep.json", old);
  EXPECT_EQ(remove_stale_temp_files(dir_ / "s", std::chrono::hours(1)), 2u);
  EXPECT_TRUE(fs::exists(dir_ / "s" / ".tmp-fresh.db"));
  EXPECT_TRUE(fs::exists(dir_ / "s" / "keep.json"));
  EXPECT_FALSE(fs::exists(dir_ / "s" / ".tmp-20200101T000000.000Z.db"));
}
