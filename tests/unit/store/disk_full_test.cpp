// A full disk, seen by the store through a VFS quota: while it is "full", every write that would
// grow a file fails as SQLite's unix VFS fails on ENOSPC (SQLITE_FULL, errno ENOSPC); writes
// within a file's current size still work, as on a real file system.
//   - a refused write maps to 53100 naming the file, with a hint; reads go on; the writer is
//     usable again once there is room, and the refused row is not there;
//   - a store reopened while the disk is full serves the file (its catalog refresh at open
//     cannot commit, and must not keep every client out).
// The end-to-end version with a real tmpfs: tests/integration/diskfull/run.sh.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <filesystem>
#include <mutex>
#include <string>

#include "metagate/store/sqlite_store.hpp"

namespace metagate::store {
namespace {

namespace fs = std::filesystem;

std::atomic<bool> g_full{false};
sqlite3_vfs* g_base = nullptr;
sqlite3_vfs g_quota_vfs;

// Our file: SQLite's own file object follows it in the same allocation.
struct QuotaFile {
  sqlite3_file base;
  sqlite3_file* inner;
};

sqlite3_file* inner(sqlite3_file* f) { return reinterpret_cast<QuotaFile*>(f)->inner; }

int q_close(sqlite3_file* f) { return inner(f)->pMethods->xClose(inner(f)); }
int q_read(sqlite3_file* f, void* b, int n, sqlite3_int64 off) { return inner(f)->pMethods->xRead(inner(f), b, n, off); }
int q_write(sqlite3_file* f, const void* b, int n, sqlite3_int64 off) {
  if (g_full.load()) {
    sqlite3_int64 size = 0;
    inner(f)->pMethods->xFileSize(inner(f), &size);
    if (off + n > size) {
      errno = ENOSPC;
      return SQLITE_FULL;
    }
  }
  return inner(f)->pMethods->xWrite(inner(f), b, n, off);
}
int q_truncate(sqlite3_file* f, sqlite3_int64 s) { return inner(f)->pMethods->xTruncate(inner(f), s); }
int q_sync(sqlite3_file* f, int fl) { return inner(f)->pMethods->xSync(inner(f), fl); }
int q_size(sqlite3_file* f, sqlite3_int64* s) { return inner(f)->pMethods->xFileSize(inner(f), s); }
int q_lock(sqlite3_file* f, int l) { return inner(f)->pMethods->xLock(inner(f), l); }
int q_unlock(sqlite3_file* f, int l) { return inner(f)->pMethods->xUnlock(inner(f), l); }
int q_reserved(sqlite3_file* f, int* o) { return inner(f)->pMethods->xCheckReservedLock(inner(f), o); }
int q_fcntl(sqlite3_file* f, int op, void* a) { return inner(f)->pMethods->xFileControl(inner(f), op, a); }
int q_sector(sqlite3_file* f) { return inner(f)->pMethods->xSectorSize(inner(f)); }
int q_caps(sqlite3_file* f) { return inner(f)->pMethods->xDeviceCharacteristics(inner(f)); }
int q_shm_map(sqlite3_file* f, int pg, int sz, int ext, void volatile** p) {
  return inner(f)->pMethods->xShmMap(inner(f), pg, sz, ext, p);
}
int q_shm_lock(sqlite3_file* f, int off, int n, int fl) { return inner(f)->pMethods->xShmLock(inner(f), off, n, fl); }
void q_shm_barrier(sqlite3_file* f) { inner(f)->pMethods->xShmBarrier(inner(f)); }
int q_shm_unmap(sqlite3_file* f, int del) { return inner(f)->pMethods->xShmUnmap(inner(f), del); }
int q_fetch(sqlite3_file*, sqlite3_int64, int, void** p) {
  *p = nullptr;  // no memory mapping: every write goes through q_write
  return SQLITE_OK;
}
int q_unfetch(sqlite3_file* f, sqlite3_int64 off, void* p) { return inner(f)->pMethods->xUnfetch(inner(f), off, p); }

const sqlite3_io_methods kQuotaMethods = {
    3,          q_close,       q_read,        q_write,      q_truncate, q_sync,     q_size,
    q_lock,     q_unlock,      q_reserved,    q_fcntl,      q_sector,   q_caps,     q_shm_map,
    q_shm_lock, q_shm_barrier, q_shm_unmap,   q_fetch,      q_unfetch};

int q_open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* f, int flags, int* out) {
  auto* q = reinterpret_cast<QuotaFile*>(f);
  q->inner = reinterpret_cast<sqlite3_file*>(q + 1);
  int rc = g_base->xOpen(g_base, name, q->inner, flags, out);
  q->base.pMethods = q->inner->pMethods ? &kQuotaMethods : nullptr;
  return rc;
}

void register_quota_vfs() {
  static std::once_flag once;
  std::call_once(once, [] {
    g_base = sqlite3_vfs_find(nullptr);
    g_quota_vfs = *g_base;
    g_quota_vfs.zName = "mg_quota";
    g_quota_vfs.szOsFile = static_cast<int>(sizeof(QuotaFile)) + g_base->szOsFile;
    g_quota_vfs.xOpen = q_open;
    sqlite3_vfs_register(&g_quota_vfs, 0);
  });
}

class DiskFull : public ::testing::Test {
 protected:
  void SetUp() override {
    register_quota_vfs();
    g_full = false;
    dir_ = fs::temp_directory_path() / ("mg_diskfull_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    opts_.path = (dir_ / "grafana.db").string();
    opts_.vfs = "mg_quota";
    opts_.readers = 2;
  }
  void TearDown() override {
    g_full = false;
    fs::remove_all(dir_);
  }
  std::unique_ptr<SqliteStore> open() {
    auto s = SqliteStore::open(opts_);
    EXPECT_TRUE(s) << (s ? "" : s.error().message);
    return s ? std::move(*s) : nullptr;
  }
  static std::string big_row(int id) {
    return "INSERT INTO big (id, body) VALUES (" + std::to_string(id) + ", '" + std::string(64 * 1024, 'a' + id % 26) + "')";
  }
  static std::string count(SqliteStore& s) {
    auto r = s.acquire_reader();
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(r.get()->db(), "SELECT group_concat(id) FROM (SELECT id FROM big ORDER BY id)", -1, &st, nullptr);
    std::string out = "?";
    if (sqlite3_step(st) == SQLITE_ROW) {
      auto* t = sqlite3_column_text(st, 0);
      out = t ? reinterpret_cast<const char*>(t) : "";
    }
    sqlite3_finalize(st);
    return out;
  }
  fs::path dir_;
  StoreOptions opts_;
};

TEST_F(DiskFull, AWriteIsRefusedWith53100AndTheWriterRecovers) {
  auto s = open();
  ASSERT_TRUE(s);
  sqlite3* w = s->writer().db();
  ASSERT_TRUE(exec(w, "CREATE TABLE big (id INTEGER PRIMARY KEY, body TEXT)"));
  ASSERT_TRUE(exec(w, big_row(1)));

  g_full = true;
  auto refused = exec(w, big_row(2));
  ASSERT_FALSE(refused);
  const PgError& e = refused.error();
  EXPECT_EQ(e.sqlstate, "53100");
  EXPECT_NE(e.message.find("No space left on device"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find(opts_.path), std::string::npos) << "the message names the file: " << e.message;
  EXPECT_NE(e.hint.find("docs/runbooks/disk-full.md"), std::string::npos) << e.hint;
  // An explicit transaction: its COMMIT is what needs the room; nothing of it stays.
  ASSERT_TRUE(exec(w, "BEGIN IMMEDIATE"));
  ASSERT_TRUE(exec(w, big_row(3)));
  ASSERT_TRUE(exec(w, big_row(4)));
  auto commit = exec(w, "COMMIT");
  ASSERT_FALSE(commit);
  EXPECT_EQ(commit.error().sqlstate, "53100");
  (void)exec(w, "ROLLBACK");  // what the session does after a failed COMMIT
  EXPECT_EQ(count(*s), "1") << "reads go on while the disk is full, and see only committed rows";

  g_full = false;
  ASSERT_TRUE(exec(w, big_row(5))) << "the writer works again once there is room";
  EXPECT_EQ(count(*s), "1,5");
  EXPECT_TRUE(s->check_health());
}

TEST_F(DiskFull, AStoreReopenedOnAFullDiskServesTheFile) {
  {
    auto s = open();
    ASSERT_TRUE(s);
    ASSERT_TRUE(exec(s->writer().db(), "CREATE TABLE big (id INTEGER PRIMARY KEY, body TEXT)"));
    ASSERT_TRUE(exec(s->writer().db(), big_row(1)));
  }
  g_full = true;
  auto s = open();  // the catalog refresh at open cannot commit
  ASSERT_TRUE(s);
  EXPECT_EQ(count(*s), "1");
  EXPECT_TRUE(s->check_health());
  auto refused = exec(s->writer().db(), big_row(2));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().sqlstate, "53100");
  g_full = false;
  EXPECT_TRUE(exec(s->writer().db(), big_row(3)));
  EXPECT_EQ(count(*s), "1,3");
}

}  // namespace
}  // namespace metagate::store
