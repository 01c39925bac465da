// Power loss, simulated 100+ times: a child process serves a write load through the real store
// (group commit, frequent checkpoints, change capture) over a SQLite VFS shim that journals the
// old content of every byte range before it is overwritten, and the sync points. The parent
// kills the child (SIGKILL) at a random moment, then undoes every write that was not synced —
// what a power cut does to the page cache — and drops the -shm file (memory, gone at a reboot).
// The capture's open segments lose their unsynced tails the same way (cut at a random point
// between the last synced size and the end). After each cut the file must pass integrity_check
// and hold every row whose commit was acknowledged; the next child restarts on it. At the end,
// the newest point restored from snapshots and segments equals the file, row for row.
//
// Writes that bypass SQLite (the group commit's fdatasync of the WAL, the capture's segment
// files) are covered by hooks: the group commit's sync goes through this file's function, and
// the capture's syncs are journalled by the test's observer.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "capture_harness.hpp"
#include "metagate/backup/capture.hpp"
#include "metagate/backup/restore.hpp"
#include "metagate/backup/snapshot.hpp"
#include "metagate/store/sqlite_store.hpp"

using namespace metagate;
namespace fs = std::filesystem;

namespace {

// ---- the journal (child side) -------------------------------------------------------------
// Records, each appended with one write(2) (a SIGKILL does not tear it):
//   'W' path offset len old_size | old bytes (the part that existed)   before a write
//   'T' path new_size old_size | old bytes from new_size               before a truncate
//   'S' path                                                           after a sync of the file
//   'Y' path size                                                      a capture segment synced up to size

int g_journal = -1;
std::mutex g_journal_mu;

void journal(char kind, const std::string& path, uint64_t a, uint64_t b, const std::string& bytes) {
  std::string rec(1, kind);
  auto put = [&](uint64_t v) { rec.append(reinterpret_cast<const char*>(&v), 8); };
  put(path.size());
  rec += path;
  put(a);
  put(b);
  put(bytes.size());
  rec += bytes;
  std::lock_guard lk(g_journal_mu);
  if (g_journal >= 0 && ::write(g_journal, rec.data(), rec.size()) != static_cast<ssize_t>(rec.size())) std::abort();
}

// ---- the VFS shim --------------------------------------------------------------------------

sqlite3_vfs* g_root = nullptr;
sqlite3_vfs g_vfs;

struct ShimFile {
  sqlite3_file base;
  sqlite3_file* real;
  std::string* path;
};

sqlite3_file* real_of(sqlite3_file* f) { return reinterpret_cast<ShimFile*>(f)->real; }
const std::string& path_of(sqlite3_file* f) { return *reinterpret_cast<ShimFile*>(f)->path; }

int shim_close(sqlite3_file* f) {
  auto* s = reinterpret_cast<ShimFile*>(f);
  int rc = s->real->pMethods ? s->real->pMethods->xClose(s->real) : SQLITE_OK;
  delete s->path;
  return rc;
}
int shim_read(sqlite3_file* f, void* buf, int n, sqlite3_int64 off) {
  return real_of(f)->pMethods->xRead(real_of(f), buf, n, off);
}
int shim_write(sqlite3_file* f, const void* buf, int n, sqlite3_int64 off) {
  sqlite3_file* r = real_of(f);
  if (!path_of(f).empty()) {
    sqlite3_int64 size = 0;
    r->pMethods->xFileSize(r, &size);
    std::string old;
    if (off < size) {
      old.resize(static_cast<size_t>(std::min<sqlite3_int64>(n, size - off)));
      r->pMethods->xRead(r, old.data(), static_cast<int>(old.size()), off);
    }
    journal('W', path_of(f), static_cast<uint64_t>(off), static_cast<uint64_t>(size), old);
  }
  return r->pMethods->xWrite(r, buf, n, off);
}
int shim_truncate(sqlite3_file* f, sqlite3_int64 size) {
  sqlite3_file* r = real_of(f);
  if (!path_of(f).empty()) {
    sqlite3_int64 old_size = 0;
    r->pMethods->xFileSize(r, &old_size);
    std::string tail;
    if (size < old_size) {
      tail.resize(static_cast<size_t>(old_size - size));
      r->pMethods->xRead(r, tail.data(), static_cast<int>(tail.size()), size);
    }
    journal('T', path_of(f), static_cast<uint64_t>(size), static_cast<uint64_t>(old_size), tail);
  }
  return r->pMethods->xTruncate(r, size);
}
int shim_sync(sqlite3_file* f, int flags) {
  int rc = real_of(f)->pMethods->xSync(real_of(f), flags);
  if (rc == SQLITE_OK && !path_of(f).empty()) journal('S', path_of(f), 0, 0, "");
  return rc;
}
int shim_size(sqlite3_file* f, sqlite3_int64* s) { return real_of(f)->pMethods->xFileSize(real_of(f), s); }
int shim_lock(sqlite3_file* f, int l) { return real_of(f)->pMethods->xLock(real_of(f), l); }
int shim_unlock(sqlite3_file* f, int l) { return real_of(f)->pMethods->xUnlock(real_of(f), l); }
int shim_reserved(sqlite3_file* f, int* o) { return real_of(f)->pMethods->xCheckReservedLock(real_of(f), o); }
int shim_fcntl(sqlite3_file* f, int op, void* a) { return real_of(f)->pMethods->xFileControl(real_of(f), op, a); }
int shim_sector(sqlite3_file* f) { return real_of(f)->pMethods->xSectorSize(real_of(f)); }
int shim_caps(sqlite3_file* f) { return real_of(f)->pMethods->xDeviceCharacteristics(real_of(f)); }
int shim_shm_map(sqlite3_file* f, int pg, int sz, int ext, void volatile** p) {
  return real_of(f)->pMethods->xShmMap(real_of(f), pg, sz, ext, p);
}
int shim_shm_lock(sqlite3_file* f, int off, int n, int flags) {
  return real_of(f)->pMethods->xShmLock(real_of(f), off, n, flags);
}
void shim_shm_barrier(sqlite3_file* f) { real_of(f)->pMethods->xShmBarrier(real_of(f)); }
int shim_shm_unmap(sqlite3_file* f, int del) { return real_of(f)->pMethods->xShmUnmap(real_of(f), del); }
int shim_fetch(sqlite3_file* f, sqlite3_int64 off, int n, void** p) {
  *p = nullptr;  // no memory-mapped pages: every write goes through shim_write
  (void)f, (void)off, (void)n;
  return SQLITE_OK;
}
int shim_unfetch(sqlite3_file* f, sqlite3_int64 off, void* p) { return real_of(f)->pMethods->xUnfetch(real_of(f), off, p); }

const sqlite3_io_methods g_methods = {3,           shim_close,     shim_read,        shim_write,     shim_truncate,
                                      shim_sync,   shim_size,      shim_lock,        shim_unlock,    shim_reserved,
                                      shim_fcntl,  shim_sector,    shim_caps,        shim_shm_map,   shim_shm_lock,
                                      shim_shm_barrier, shim_shm_unmap, shim_fetch,  shim_unfetch};

int shim_open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* f, int flags, int* out) {
  auto* s = reinterpret_cast<ShimFile*>(f);
  s->real = reinterpret_cast<sqlite3_file*>(s + 1);
  s->path = new std::string(name ? name : "");
  int rc = g_root->xOpen(g_root, name, s->real, flags, out);
  s->base.pMethods = s->real->pMethods ? &g_methods : nullptr;
  if (!s->real->pMethods) {
    delete s->path;
    s->path = nullptr;
  }
  return rc;
}

void register_shim() {
  static std::once_flag once;
  std::call_once(once, [] {
    g_root = sqlite3_vfs_find(nullptr);
    g_vfs = *g_root;
    g_vfs.zName = "powerloss";
    g_vfs.szOsFile = static_cast<int>(sizeof(ShimFile)) + g_root->szOsFile;
    g_vfs.xOpen = shim_open;
    sqlite3_vfs_register(&g_vfs, 0);
  });
}

// ---- the parent's side: undo what was not synced -------------------------------------------

struct Undo {
  char kind;
  uint64_t a, b;
  std::string bytes;
};

// Undoes, per file, every write and truncate after its last sync (newest first); returns the
// segment sizes the capture had synced ('Y').
std::map<std::string, uint64_t> power_cut(const fs::path& journal_file, size_t& undone) {
  std::ifstream in(journal_file, std::ios::binary);
  std::string data((std::istreambuf_iterator<char>(in)), {});
  std::map<std::string, std::vector<Undo>> pending;
  std::map<std::string, uint64_t> synced_segments;
  size_t at = 0;
  auto get = [&](uint64_t& v) {
    if (at + 8 > data.size()) return false;
    std::memcpy(&v, data.data() + at, 8);
    at += 8;
    return true;
  };
  while (at < data.size()) {
    const char kind = data[at++];
    uint64_t plen = 0, a = 0, b = 0, blen = 0;
    if (!get(plen) || at + plen > data.size()) break;
    std::string path = data.substr(at, plen);
    at += plen;
    if (!get(a) || !get(b) || !get(blen) || at + blen > data.size()) break;
    std::string bytes = data.substr(at, blen);
    at += blen;
    if (kind == 'S') pending[path].clear();
    else if (kind == 'Y') synced_segments[path] = std::max(synced_segments[path], a);
    else pending[path].push_back({kind, a, b, std::move(bytes)});
  }
  undone = 0;
  for (auto& [path, undos] : pending) {
    int fd = ::open(path.c_str(), O_RDWR);
    if (fd < 0) continue;
    for (auto it = undos.rbegin(); it != undos.rend(); ++it) {
      ++undone;
      if (it->kind == 'W') {  // a = offset, b = size before the write
        if (!it->bytes.empty() && ::pwrite(fd, it->bytes.data(), it->bytes.size(), static_cast<off_t>(it->a)) < 0) std::abort();
        struct stat st {};
        ::fstat(fd, &st);
        if (static_cast<uint64_t>(st.st_size) > it->b && ::ftruncate(fd, static_cast<off_t>(it->b)) != 0) std::abort();
      } else {  // 'T': a = new size, b = old size; bytes = the tail cut off
        if (::ftruncate(fd, static_cast<off_t>(it->b)) != 0) std::abort();
        if (!it->bytes.empty() && ::pwrite(fd, it->bytes.data(), it->bytes.size(), static_cast<off_t>(it->a)) < 0) std::abort();
      }
    }
    ::close(fd);
  }
  return synced_segments;
}

class PowerLossTest : public ::testing::Test {
 protected:
  void SetUp() override {
    register_shim();
    dir_ = fs::temp_directory_path() / ("mg-powerloss-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    db_ = dir_ / "grafana.db";
    bk_ = dir_ / "backups";
    acks_ = dir_ / "acked";
  }
  void TearDown() override { fs::remove_all(dir_); }

  // The child: serve writes until killed. Never returns.
  [[noreturn]] void child(int iteration, const fs::path& journal_file) {
    g_journal = ::open(journal_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
    int acks = ::open(acks_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (g_journal < 0 || acks < 0) _exit(3);
    const std::string wal = db_.string() + "-wal";
    store::StoreOptions so;
    so.path = db_.string();
    so.readers = 1;
    so.vfs = "powerloss";
    so.checkpoint_wal_bytes = 40 * 1024;  // checkpoints (and WAL restarts) every few commits
    so.group_commit_sync = [wal]() -> PgStatus {
      int fd = ::open(wal.c_str(), O_RDONLY);
      if (fd < 0) return Ok{};
      int rc = ::fdatasync(fd);
      ::close(fd);
      int dfd = ::open(fs::path(wal).parent_path().c_str(), O_RDONLY | O_DIRECTORY);
      if (dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
      }
      if (rc != 0) return unexpected(PgError::make("58030", "fdatasync failed"));
      journal('S', wal, 0, 0, "");
      return Ok{};
    };
    std::shared_ptr<backup::WalCapture> capture;
    so.make_wal_observer = [&](const std::string& file) -> PgResult<std::unique_ptr<store::WalObserver>> {
      backup::CaptureOptions co;
      co.dir = bk_;
      co.segment_bytes = 96 * 1024;
      co.on_wal_synced = [wal] { journal('S', wal, 0, 0, ""); };
      auto c = backup::WalCapture::open(file, co);
      if (!c) return unexpected(c.error());
      capture = std::move(*c);
      return std::unique_ptr<store::WalObserver>(new Observer(capture, bk_));
    };
    auto st = store::SqliteStore::open(so);
    if (!st) _exit(4);
    auto& store = **st;
    // A generation without a snapshot gets its base (as the daemon's backup thread does).
    auto listing = backup::list_snapshots(bk_);
    bool based = false;
    if (listing)
      for (const auto& m : listing->snapshots) based = based || m.generation == capture->generation();
    if (!based) {
      backup::SnapshotOptions o;
      o.min_free_bytes = 0;
      o.position = [capture](bool upper) -> std::optional<backup::StorePosition> { return capture->position(upper); };
      if (!backup::take_snapshot(db_, bk_, o)) _exit(5);
    }
    std::mutex writer;
    auto run = [&](int thread) {
      std::mt19937 rng(static_cast<unsigned>(iteration * 131 + thread));
      for (int64_t n = 0;; ++n) {
        const int64_t id = int64_t{iteration} * 10'000'000 + thread * 1'000'000 + n;
        uint64_t ticket;
        {
          std::lock_guard lk(writer);
          std::string sql = "INSERT INTO t (id, v) VALUES (" + std::to_string(id) + ", randomblob(" +
                            std::to_string(50 + rng() % 3000) + "));";
          if (rng() % 3 == 0) sql = "BEGIN; " + sql + "UPDATE u SET c = c + 1, pad = randomblob(" +
                                    std::to_string(rng() % 2000) + ") WHERE k = " + std::to_string(rng() % 50) + "; COMMIT;";
          if (sqlite3_exec(store.writer().db(), sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) _exit(6);
          ticket = store.group_commit()->note_commit();
        }
        if (!store.group_commit()->wait_durable(ticket)) _exit(7);
        const std::string line = std::to_string(id) + "\n";
        if (::write(acks, line.data(), line.size()) != static_cast<ssize_t>(line.size())) _exit(8);
      }
    };
    std::thread a(run, 0), b(run, 1);
    a.join();  // never: the parent kills the process
    _exit(9);
  }

  struct Observer : store::WalObserver {
    Observer(std::shared_ptr<backup::WalCapture> c, fs::path bk) : c(std::move(c)), bk(std::move(bk)) {}
    void commit_begin() noexcept override { c->commit_begin(); }
    void committed(int frames) override {
      if (!c->committed(frames)) _exit(10);
    }
    bool before_checkpoint() override {
      if (!c->sync()) return false;
      // The open segment is durable up to its current size.
      std::error_code ec;
      for (const auto& e : fs::recursive_directory_iterator(backup::WalCapture::wal_root(bk), ec))
        if (e.path().extension() == ".open") journal('Y', e.path().string(), fs::file_size(e.path(), ec), 0, "");
      return true;
    }
    void closed_cleanly() override {}
    std::shared_ptr<backup::WalCapture> c;
    fs::path bk;
  };

  void create_schema() {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(db_.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db,
                           "PRAGMA journal_mode=WAL; CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB);"
                           "CREATE TABLE u (k INTEGER PRIMARY KEY, c INTEGER, pad BLOB);"
                           "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 49) "
                           "INSERT INTO u SELECT i, 0, NULL FROM n;",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);  // clean: checkpointed, no WAL
  }

  // integrity_check and the ids in t, read without checkpointing anything.
  std::pair<std::string, std::set<int64_t>> inspect() {
    sqlite3* db = nullptr;
    std::pair<std::string, std::set<int64_t>> out;
    if (sqlite3_open(db_.c_str(), &db) != SQLITE_OK) return {"cannot open", {}};
    sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, nullptr);
    while (sqlite3_step(st) == SQLITE_ROW) out.first += reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_prepare_v2(db, "SELECT id FROM t", -1, &st, nullptr);
    while (sqlite3_step(st) == SQLITE_ROW) out.second.insert(sqlite3_column_int64(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out;
  }

  static std::string content(const fs::path& file) {
    return metagate::testing::file_content(file, {"SELECT id, hex(v) FROM t ORDER BY id", "SELECT k, c, hex(pad) FROM u ORDER BY k"});
  }

  fs::path dir_, db_, bk_, acks_;
};

TEST_F(PowerLossTest, EveryAcknowledgedCommitSurvivesAHundredCuts) {
  create_schema();
  std::mt19937 rng(20261206);
  size_t total_undone = 0, total_acked = 0;
  std::map<std::string, uint64_t> on_disk;  // open segments: the size the last cut left
  size_t required = 0;                      // acknowledged commits the cuts waited for
  auto acked_lines = [&] {
    std::ifstream f(acks_);
    return static_cast<size_t>(std::count(std::istreambuf_iterator<char>(f), {}, '\n'));
  };
  constexpr int kCuts = 100;
  for (int i = 0; i < kCuts; ++i) {
    const fs::path journal_file = dir_ / "journal";
    std::cout.flush();
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) child(i, journal_file);
    // The cut comes after the child has acknowledged a random number of new commits (0: while
    // it may still be opening the file — recovery, bootstrap, snapshot), then a random few
    // milliseconds more: progress does not depend on how fast the machine is (bounded: 20 s).
    const size_t want = rng() % 4 == 0 ? 0 : 1 + rng() % 30;
    const size_t before = acked_lines();
    for (int t = 0; t < 20'000 && acked_lines() < before + want; ++t) ::usleep(1000);
    required += want;
    ::usleep(static_cast<useconds_t>(rng() % 5'000));
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "cut " << i << ": the child stopped by itself, status " << status;
    size_t undone = 0;
    auto synced = power_cut(journal_file, undone);
    total_undone += undone;
    fs::remove(db_.string() + "-shm");
    // The capture's open segments keep what was synced, and maybe some of the rest.
    std::error_code ec;
    for (const auto& e : fs::recursive_directory_iterator(backup::WalCapture::wal_root(bk_), ec)) {
      if (e.path().extension() != ".open") continue;
      const std::string p = e.path().string();
      const uint64_t size = fs::file_size(e.path());
      // Durable: what an earlier cut left on disk, and what this child synced.
      uint64_t keep = std::max(on_disk.count(p) ? on_disk[p] : 0, synced.count(p) ? synced[p] : 0);
      keep = std::min(keep, size);
      const uint64_t to = keep + (size > keep ? rng() % (size - keep + 1) : 0);
      fs::resize_file(e.path(), to);
      on_disk[p] = to;
    }
    auto [check, ids] = inspect();
    ASSERT_EQ(check, "ok") << "cut " << i;
    std::ifstream acked(acks_);
    size_t n = 0;
    for (int64_t id; acked >> id; ++n) ASSERT_TRUE(ids.count(id)) << "cut " << i << ": acknowledged row " << id << " is lost";
    total_acked = n;
  }
  std::cout << "[ power loss ] " << kCuts << " cuts, " << total_acked << " acknowledged commits all present, "
            << total_undone << " unsynced writes undone\n";
  EXPECT_GE(total_acked, required);
  EXPECT_GT(total_undone, 0u) << "the cuts should land between writes and syncs";

  // The chain of captured commits survived too: the newest point rebuilt from the snapshots and
  // segments equals the file. (The store reopens once more, recapturing what the WAL holds.)
  {
    store::StoreOptions so;
    so.path = db_.string();
    so.readers = 1;
    std::shared_ptr<backup::WalCapture> capture;
    so.make_wal_observer = [&](const std::string& file) -> PgResult<std::unique_ptr<store::WalObserver>> {
      backup::CaptureOptions co;
      co.dir = bk_;
      auto c = backup::WalCapture::open(file, co);
      if (!c) return unexpected(c.error());
      capture = std::move(*c);
      return std::unique_ptr<store::WalObserver>(new Observer(capture, bk_));
    };
    auto st = store::SqliteStore::open(so);
    ASSERT_TRUE(st) << st.error().message;
    st->reset();  // a clean stop
  }
  auto listing = backup::list_snapshots(bk_);
  auto gens = backup::index_generations(bk_);
  ASSERT_TRUE(listing && gens);
  std::cout << "[ power loss ] " << gens->size() << " capture generation(s), " << listing->snapshots.size()
            << " snapshot(s)\n";
  // Every restart proved where capture stood: one unbroken chain of commits through all the cuts.
  EXPECT_EQ(gens->size(), 1u);
  auto plan = backup::plan_restore(listing->snapshots, *gens, {});
  ASSERT_TRUE(plan);
  auto r = backup::build_restore(bk_, *plan, *gens, dir_ / "restored.db");
  ASSERT_TRUE(r) << r.error().message;
  const std::string got = content(dir_ / "restored.db"), want = content(db_);
  EXPECT_TRUE(got == want) << "restored from snapshot " << plan->base.id << " + " << r->records_applied
                           << " commits differs from the file (" << got.size() << " vs " << want.size() << " bytes of rows)";
}

}  // namespace
