// The WAL decoder against WAL files SQLite itself wrote: transactions and commit frames,
// incremental scans, an unfinished transaction, damage, and a log reset (new salts).
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include "metagate/backup/wal.hpp"

using namespace metagate::backup;
namespace fs = std::filesystem;

namespace {

class WalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("mg-wal-test-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    path_ = dir_ / "g.db";
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db_), SQLITE_OK);
    exec("PRAGMA page_size=4096");
    exec("PRAGMA journal_mode=WAL");
    exec("PRAGMA wal_autocheckpoint=0");  // frames stay in the log, as metagate will keep them
    exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
  }
  void TearDown() override {
    sqlite3_close(db_);
    fs::remove_all(dir_);
  }
  void exec(const std::string& sql) {
    char* err = nullptr;
    ASSERT_EQ(sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
  }
  void insert(int rows) {
    exec("BEGIN");
    for (int i = 0; i < rows; ++i) exec("INSERT INTO t (v) VALUES (printf('%0300d', random()))");
    exec("COMMIT");
  }
  std::vector<uint8_t> wal() {
    std::ifstream f(path_.string() + "-wal", std::ios::binary);
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
  }
  int64_t page_count() {
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db_, "PRAGMA page_count", -1, &st, nullptr);
    sqlite3_step(st);
    int64_t n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
  }
  WalHeader header(const std::vector<uint8_t>& w) {
    auto h = parse_wal_header(w);
    EXPECT_TRUE(h.header) << h.error;
    return h.header.value_or(WalHeader{});
  }

  fs::path dir_, path_;
  sqlite3* db_ = nullptr;
};

}  // namespace

TEST_F(WalTest, CountsTransactionsAndCommitFrames) {
  for (int i = 0; i < 5; ++i) insert(20);
  auto w = wal();
  WalHeader h = header(w);
  EXPECT_EQ(h.page_size, 4096u);
  auto s = scan_wal(w, h, wal_start(h));
  EXPECT_EQ(s.transactions, 6u);  // CREATE TABLE + 5 inserts
  EXPECT_EQ(s.uncommitted_frames, 0u);
  EXPECT_EQ(s.stop_reason, "");
  ASSERT_FALSE(s.frames.empty());
  EXPECT_EQ(s.frames.back().commit_size, static_cast<uint32_t>(page_count()));
  EXPECT_EQ(s.end.offset, w.size());
  EXPECT_EQ(s.end.offset, kWalHeaderSize + s.frames.size() * (kWalFrameHeaderSize + 4096));
}

TEST_F(WalTest, IncrementalScanSeesOnlyTheNewTransaction) {
  insert(10);
  auto w1 = wal();
  WalHeader h = header(w1);
  auto first = scan_wal(w1, h, wal_start(h));
  insert(10);
  auto w2 = wal();
  auto next = scan_wal(w2, h, first.end);
  EXPECT_EQ(next.transactions, 1u);
  ASSERT_FALSE(next.frames.empty());
  EXPECT_EQ(next.frames.front().offset, first.end.offset);
  EXPECT_EQ(next.end.offset, w2.size());
  // The same as scanning everything.
  auto all = scan_wal(w2, h, wal_start(h));
  EXPECT_EQ(all.end.offset, next.end.offset);
  EXPECT_EQ(all.end.checksum1, next.end.checksum1);
  EXPECT_EQ(all.end.checksum2, next.end.checksum2);
}

TEST_F(WalTest, AnUnfinishedTransactionIsNotTaken) {
  insert(5);
  auto w1 = wal();
  WalHeader h = header(w1);
  auto before = scan_wal(w1, h, wal_start(h));
  insert(200);  // several pages
  auto w = wal();
  // The log as it was in the middle of writing the last transaction: its commit frame missing.
  w.resize(w.size() - (kWalFrameHeaderSize + 4096));
  auto s = scan_wal(w, h, wal_start(h));
  EXPECT_EQ(s.transactions, before.transactions);
  EXPECT_EQ(s.end.offset, before.end.offset);
  EXPECT_GT(s.uncommitted_frames, 0u);
  // A partial frame at the end is not read at all.
  w.resize(w.size() - 100);
  EXPECT_EQ(scan_wal(w, h, wal_start(h)).end.offset, before.end.offset);
}

TEST_F(WalTest, DamageStopsTheScanBeforeTheDamagedTransaction) {
  insert(5);
  auto w1 = wal();
  WalHeader h = header(w1);
  auto good = scan_wal(w1, h, wal_start(h));
  insert(5);
  auto w = wal();
  w[good.end.offset + kWalFrameHeaderSize + 100] ^= 0x01;  // a bit of the next frame's page
  auto s = scan_wal(w, h, wal_start(h));
  EXPECT_EQ(s.end.offset, good.end.offset);
  EXPECT_NE(s.stop_reason.find("checksum mismatch"), std::string::npos) << s.stop_reason;
}

TEST_F(WalTest, AResetLogHasNewSaltsAndOldFramesAreNotItsOwn) {
  for (int i = 0; i < 5; ++i) insert(50);
  auto old_wal = wal();
  WalHeader old_h = header(old_wal);
  exec("PRAGMA wal_checkpoint(RESTART)");
  insert(1);  // the next writer starts the log over from its beginning
  auto w = wal();
  WalHeader h = header(w);
  EXPECT_EQ(h.salt1, old_h.salt1 + 1);
  EXPECT_NE(h.salt2, old_h.salt2);
  EXPECT_EQ(w.size(), old_wal.size());  // not truncated: old frames follow the new ones
  auto s = scan_wal(w, h, wal_start(h));
  EXPECT_EQ(s.transactions, 1u);
  EXPECT_NE(s.stop_reason.find("salts of another log generation"), std::string::npos) << s.stop_reason;
}

TEST(WalHeader, RejectsWhatIsNotAWalHeader) {
  EXPECT_FALSE(parse_wal_header(std::vector<uint8_t>(10, 0)).header);
  std::vector<uint8_t> zeros(32, 0);
  EXPECT_EQ(parse_wal_header(zeros).error, "not a WAL file (bad magic number)");
  // A valid header (big-endian checksums, page size 4096), then damaged.
  std::vector<uint8_t> h = {0x37, 0x7f, 0x06, 0x83, 0x00, 0x2d, 0xe2, 0x18, 0x00, 0x00, 0x10, 0x00,
                            0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0};
  uint32_t s1 = 0, s2 = 0;
  wal_checksum(true, std::span<const uint8_t>(h.data(), 24), s1, s2);
  for (int i = 0; i < 4; ++i) {
    h[24 + i] = static_cast<uint8_t>(s1 >> (24 - 8 * i));
    h[28 + i] = static_cast<uint8_t>(s2 >> (24 - 8 * i));
  }
  auto ok = parse_wal_header(h);
  ASSERT_TRUE(ok.header) << ok.error;
  EXPECT_TRUE(ok.header->big_endian);
  EXPECT_EQ(ok.header->salt2, 2u);
  h[20] ^= 0xff;
  EXPECT_EQ(parse_wal_header(h).error, "WAL header checksum mismatch");
  h[20] ^= 0xff;
  h[10] = 0x30;  // page size 0x3000: not a power of two
  EXPECT_EQ(parse_wal_header(h).error, "invalid page size 12288");
}
