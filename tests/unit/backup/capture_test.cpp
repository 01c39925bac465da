// Change capture end to end on real SQLite files: the store's writer with a WalCapture as its
// observer, a random write load with small checkpoints (so the WAL is checkpointed and restarted
// many times), snapshots taken in the middle, and every captured commit rebuilt from a snapshot
// and the segments and compared with what the database held right after that commit. Then the
// restarts: a crash (the files copied while the writer is open, a torn segment tail), a clean
// stop, and a file written by someone else while metagate was stopped.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <random>

#include "capture_harness.hpp"
#include "metagate/backup/capture.hpp"
#include "metagate/backup/compact.hpp"
#include "metagate/backup/restore.hpp"
#include "metagate/backup/segment.hpp"
#include "metagate/backup/snapshot.hpp"
#include "metagate/store/sqlite_store.hpp"

using namespace metagate;
using namespace metagate::backup;
namespace fs = std::filesystem;

namespace {

// ---- the segment format on its own ----

std::vector<uint8_t> sample_segment(int txns, const std::string& generation = "20261206T100000.000Z") {
  const uint32_t page_size = 512;
  std::vector<uint8_t> out;
  uint32_t c1 = 0, c2 = 0;
  SegmentHeader h{page_size, generation, 1, 1234, WalMark{3, 10, 20, 32, 5, 6}};
  encode_segment_header(out, h, c1, c2);
  for (int i = 1; i <= txns; ++i) {
    const size_t at = out.size();
    out.resize(at + kRecordHeaderSize);
    for (uint32_t p = 1; p <= static_cast<uint32_t>(i); ++p) {
      append_page_prefix(out, p);
      out.insert(out.end(), page_size, static_cast<uint8_t>(i * 16 + p));
    }
    RecordFields f{RecordKind::kTransaction, static_cast<uint64_t>(i), 1000 + i, static_cast<uint32_t>(i + 1),
                   WalMark{3, 10, 20, 32 + i * 536u, 7u + i, 8u + i}};
    seal_record(out, at, f, c1, c2);
  }
  return out;
}

TEST(SegmentFormat, RoundTrip) {
  auto b = sample_segment(3);
  SegmentScan s = parse_segment(b);
  ASSERT_TRUE(s.header) << s.stop_reason;
  EXPECT_EQ(s.stop_reason, "");
  EXPECT_EQ(s.header->generation, "20261206T100000.000Z");
  EXPECT_EQ(s.header->start, (WalMark{3, 10, 20, 32, 5, 6}));
  ASSERT_EQ(s.records.size(), 3u);
  EXPECT_EQ(s.valid_end, b.size());
  for (int i = 0; i < 3; ++i) {
    const SegmentRecord& r = s.records[i];
    EXPECT_EQ(r.seq, static_cast<uint64_t>(i + 1));
    EXPECT_EQ(r.unix_ms, 1001 + i);
    EXPECT_EQ(r.db_pages, static_cast<uint32_t>(i + 2));
    auto pages = record_pages(b, r, 512);
    ASSERT_EQ(pages.size(), static_cast<size_t>(i + 1));
    EXPECT_EQ(pages.back().page, static_cast<uint32_t>(i + 1));
    EXPECT_EQ(b[pages.back().offset], static_cast<uint8_t>((i + 1) * 16 + i + 1));
  }
}

TEST(SegmentFormat, TornTailAndDamageStopAtTheLastGoodRecord) {
  auto b = sample_segment(3);
  SegmentScan full = parse_segment(b);
  ASSERT_EQ(full.records.size(), 3u);
  const size_t third = full.records[2].payload_offset - kRecordHeaderSize;
  for (size_t cut : {b.size() - 1, third + 10, third + 1}) {
    std::vector<uint8_t> t(b.begin(), b.begin() + static_cast<long>(cut));
    SegmentScan s = parse_segment(t);
    EXPECT_EQ(s.records.size(), 2u) << cut;
    EXPECT_EQ(s.valid_end, third);
    EXPECT_NE(s.stop_reason, "");
  }
  auto d = b;
  d[full.records[1].payload_offset + 100] ^= 0x40;  // a page byte of record 2
  SegmentScan s = parse_segment(d);
  EXPECT_EQ(s.records.size(), 1u);
  EXPECT_NE(s.stop_reason.find("checksum"), std::string::npos) << s.stop_reason;
  // The checksum chain: a record moved from another segment does not fit.
  auto other = sample_segment(3, "20261206T100000.001Z");  // a different header → a different chain
  std::vector<uint8_t> mixed(b.begin(), b.begin() + static_cast<long>(third));
  mixed.insert(mixed.end(), other.begin() + static_cast<long>(third), other.end());
  EXPECT_EQ(parse_segment(mixed).records.size(), 2u);
}

TEST(SegmentFormat, Names) {
  EXPECT_EQ(open_segment_name(7), "0000000000000007.open");
  EXPECT_EQ(sealed_segment_name(7, 9), "0000000000000007-0000000000000009.seg");
  auto n = parse_segment_name("0000000000000007-0000000000000009.seg");
  ASSERT_TRUE(n);
  EXPECT_EQ(n->first_seq, 7u);
  EXPECT_EQ(n->last_seq, std::optional<uint64_t>(9));
  EXPECT_FALSE(parse_segment_name("0000000000000007.open")->last_seq);
  EXPECT_FALSE(parse_segment_name("x.seg"));
  EXPECT_FALSE(parse_segment_name("0000000000000009-0000000000000001.seg"));
}

// ---- capture with the store ----

class CaptureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("mg-capture-test-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    db_ = dir_ / "grafana.db";
    bk_ = dir_ / "backups";
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(dir_);
  }

  void open(const fs::path& db, const fs::path& bk) {
    store::StoreOptions so;
    so.path = db.string();
    so.readers = 1;
    so.group_commit = false;
    so.checkpoint_wal_bytes = 48 * 1024;  // a checkpoint every dozen pages: many WAL restarts
    so.make_wal_observer = [&](const std::string& file) -> PgResult<std::unique_ptr<store::WalObserver>> {
      CaptureOptions co;
      co.dir = bk;
      co.segment_bytes = 200 * 1024;  // several segments
      auto c = WalCapture::open(file, co);
      if (!c) return unexpected(c.error());
      capture_ = std::move(*c);
      return std::unique_ptr<store::WalObserver>(new Forward(capture_));
    };
    auto s = store::SqliteStore::open(so);
    ASSERT_TRUE(s) << s.error().message;
    store_ = std::move(*s);
  }

  struct Forward : store::WalObserver {
    explicit Forward(std::shared_ptr<WalCapture> c) : c(std::move(c)) {}
    void commit_begin() noexcept override { c->commit_begin(); }
    void committed(int frames) override { EXPECT_TRUE(c->committed(frames)); }
    bool before_checkpoint() override { return static_cast<bool>(c->sync()); }
    void closed_cleanly() override { EXPECT_TRUE(c->closed_cleanly()); }
    std::shared_ptr<WalCapture> c;
  };

  void exec(const std::string& sql) {
    char* err = nullptr;
    int rc = sqlite3_exec(store_->writer().db(), sql.c_str(), nullptr, nullptr, &err);
    ASSERT_EQ(rc, SQLITE_OK) << sql << ": " << (err ? err : "");
  }

  // Everything a client could see in the file: the rows of every table, in order.
  static std::string content(const fs::path& file) {
    return metagate::testing::file_content(
        file, {"SELECT name, sql FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%' AND name NOT LIKE '\\_mg%' ESCAPE '\\' ORDER BY name",
               "SELECT id, k, length(v), hex(substr(v, 1, 16)) FROM dash ORDER BY id"});
  }

  // One random transaction of Grafana-like churn: a few inserts, updates and deletes.
  void random_transaction(std::mt19937& rng) {
    exec("BEGIN");
    int n = 1 + static_cast<int>(rng() % 5);
    for (int i = 0; i < n; ++i) {
      switch (rng() % 4) {
        case 0:
        case 1:
          exec("INSERT INTO dash (k, v) VALUES (" + std::to_string(rng() % 1000) + ", randomblob(" +
               std::to_string(200 + rng() % 3000) + "))");
          break;
        case 2:
          exec("UPDATE dash SET v = randomblob(" + std::to_string(100 + rng() % 2000) + ") WHERE id % 7 = " +
               std::to_string(rng() % 7));
          break;
        default:
          exec("DELETE FROM dash WHERE id IN (SELECT id FROM dash ORDER BY random() LIMIT 2)");
      }
    }
    exec("COMMIT");
  }

  Manifest snapshot(const std::string& reason) {
    SnapshotOptions so;
    so.reason = reason;
    so.min_free_bytes = 0;
    auto c = capture_;
    so.position = [c](bool upper) -> std::optional<StorePosition> { return c->position(upper); };
    auto m = take_snapshot(db_, bk_, so);
    EXPECT_TRUE(m) << (m ? "" : m.error().message);
    return *m;
  }

  fs::path dir_, db_, bk_;
  std::shared_ptr<WalCapture> capture_;
  std::unique_ptr<store::SqliteStore> store_;
};

TEST_F(CaptureTest, EveryCapturedCommitIsRestorable) {
  open(db_, bk_);
  std::mt19937 rng(42);
  exec("CREATE TABLE dash (id INTEGER PRIMARY KEY, k INTEGER, v BLOB)");
  std::map<uint64_t, std::string> expected;  // commit → content right after it
  std::vector<Manifest> snaps;
  for (int i = 0; i < 80; ++i) {
    if (i == 10 || i == 45) snaps.push_back(snapshot("test"));
    random_transaction(rng);
    expected[capture_->stats().seq] = content(db_);
  }
  const CaptureStats st = capture_->stats();
  EXPECT_EQ(st.errors, 0u) << st.last_error;
  EXPECT_GE(st.transactions, 60u);  // transactions that changed nothing write no frames
  EXPECT_GE(store_->checkpoints(), 5u) << "the test wants many WAL restarts";
  ASSERT_EQ(snaps.size(), 2u);
  EXPECT_EQ(snaps[0].generation, capture_->generation());
  // A commit that wrote no frame leaves the upper bound one high until the next capture.
  EXPECT_LE(snaps[0].seq_hi - snaps[0].seq_lo, 1u);

  auto gens = index_generations(bk_);
  ASSERT_TRUE(gens);
  ASSERT_EQ(gens->size(), 1u);
  EXPECT_GE((*gens)[0].segments.size(), 2u);
  int checked = 0;
  for (const Manifest& base : snaps) {
    for (const auto& [seq, want] : expected) {
      if (seq < base.seq_hi) continue;
      RestorePlan plan{base, base.generation, base.seq_lo, seq, 0};
      fs::path out = dir_ / ("r-" + base.id + "-" + std::to_string(seq) + ".db");
      auto r = build_restore(bk_, plan, *gens, out);
      ASSERT_TRUE(r) << r.error().message;
      ASSERT_EQ(content(out), want) << "commit " << seq << " from snapshot " << base.id;
      fs::remove(out);
      ++checked;
    }
  }
  EXPECT_GE(checked, 100);
  // The planner's newest point is the last commit, from the newest snapshot.
  auto listing = list_snapshots(bk_);
  ASSERT_TRUE(listing);
  auto plan = plan_restore(listing->snapshots, *gens, {});
  ASSERT_TRUE(plan);
  EXPECT_EQ(plan->base.id, snaps[1].id);
  EXPECT_EQ(plan->to_seq, st.seq);
}

// Compaction: the sealed segments between two kept snapshots become one compacted segment
// (every page once); every restore point that is left gives exactly the database of its
// commit, and a catch-up delta over the whole range, alone, takes the oldest snapshot to now.
TEST_F(CaptureTest, CompactedSegmentsRestoreTheSameDatabases) {
  open(db_, bk_);
  std::mt19937 rng(99);
  exec("CREATE TABLE dash (id INTEGER PRIMARY KEY, k INTEGER, v BLOB)");
  std::map<uint64_t, std::string> expected;
  std::vector<Manifest> snaps;
  for (int i = 0; i < 120; ++i) {
    if (i == 5 || i == 60) snaps.push_back(snapshot("test"));
    random_transaction(rng);
    expected[capture_->stats().seq] = content(db_);
  }
  const uint64_t last = capture_->stats().seq;
  ASSERT_TRUE(capture_->sync());
  auto before = index_generations(bk_);
  ASSERT_TRUE(before);
  ASSERT_EQ(before->size(), 1u);
  const GenerationIndex& g0 = (*before)[0];
  ASSERT_GE(g0.segments.size(), 4u);

  // A delta over everything after the first snapshot, in a directory of its own.
  const fs::path alone = dir_ / "delta";
  fs::create_directories(alone / "wal" / g0.id);
  auto delta = write_compacted(g0, snaps[0].seq_lo, last, alone / "wal" / g0.id / sealed_segment_name(snaps[0].seq_lo + 1, last));
  ASSERT_TRUE(delta) << delta.error().message;
  EXPECT_LT(delta->pages, delta->input_pages) << "pages written many times are kept once";
  EXPECT_LT(delta->bytes, g0.bytes);
  auto only = index_generations(alone);
  ASSERT_TRUE(only);
  ASSERT_EQ((*only)[0].entries.size(), 1u);
  {
    fs::path out = dir_ / "from-delta.db";
    auto r = build_restore(bk_, RestorePlan{snaps[0], g0.id, snaps[0].seq_lo, last, 0}, *only, out);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->records_applied, 1u);
    EXPECT_EQ(content(out), expected[last]);
  }

  // Local compaction, everything old enough: runs between the two snapshots and after the
  // second (but the capture's newest sealed segment) become one segment each.
  auto report = compact_segments(bk_, snaps, {INT64_MAX, capture_->generation()});
  EXPECT_TRUE(report.errors.empty()) << report.errors.front();
  ASSERT_GE(report.written.size(), 1u);
  EXPECT_LT(report.bytes_after, report.bytes_before);
  auto after = index_generations(bk_);
  ASSERT_TRUE(after);
  const GenerationIndex& g1 = (*after)[0];
  EXPECT_LT(g1.segments.size(), g0.segments.size());
  EXPECT_LT(g1.entries.size(), g0.entries.size());
  // Every point still reachable from each snapshot is the database of that commit; the newest
  // is among them, and so is the second snapshot's first commit from the first snapshot.
  int checked = 0;
  for (const Manifest& base : snaps) {
    bool newest = false;
    for (const Reachable& p : reachable_from(g1.entries, base.seq_lo)) {
      if (p.seq < base.seq_hi) continue;
      fs::path out = dir_ / ("c-" + std::to_string(p.seq) + ".db");
      auto r = build_restore(bk_, RestorePlan{base, base.generation, base.seq_lo, p.seq, 0}, *after, out);
      ASSERT_TRUE(r) << r.error().message;
      ASSERT_EQ(content(out), expected[p.seq]) << "commit " << p.seq << " from " << base.id;
      fs::remove(out);
      newest = newest || p.seq == last;
      ++checked;
    }
    EXPECT_TRUE(newest) << base.id;
  }
  EXPECT_GE(checked, 4);
  std::cout << "compaction: " << g0.segments.size() << " segments, " << g0.entries.size() << " records, " << g0.bytes
            << " bytes -> " << g1.segments.size() << " segments, " << g1.entries.size() << " records, " << g1.bytes
            << " bytes; " << checked << " restore points checked; the delta: " << delta->pages << " pages of "
            << delta->input_pages << " page images\n";
  // Compacting again changes nothing.
  auto again = compact_segments(bk_, snaps, {INT64_MAX, capture_->generation()});
  EXPECT_TRUE(again.written.empty());
  EXPECT_TRUE(again.removed.empty());
}

TEST_F(CaptureTest, CrashThenRestartRecoversUncapturedCommitsFromTheWal) {
  open(db_, bk_);
  std::mt19937 rng(7);
  exec("CREATE TABLE dash (id INTEGER PRIMARY KEY, k INTEGER, v BLOB)");
  Manifest base = snapshot("test");
  for (int i = 0; i < 30; ++i) random_transaction(rng);
  const std::string gen = capture_->generation();
  const uint64_t seq = capture_->stats().seq;
  const std::string want = content(db_);
  // "kill -9": the files as they are now, with the writer still open; the open segment's
  // last record torn (it was not synced; its frames are still in the WAL).
  fs::path crash = dir_ / "crash";
  fs::create_directories(crash);
  fs::copy_file(db_, crash / "grafana.db");
  fs::copy_file(db_.string() + "-wal", crash / "grafana.db-wal");
  fs::copy(bk_, crash / "backups", fs::copy_options::recursive);
  for (const auto& e : fs::recursive_directory_iterator(crash / "backups"))
    if (e.path().extension() == ".open") fs::resize_file(e.path(), fs::file_size(e.path()) - 100);
  store_.reset();
  capture_.reset();

  open(crash / "grafana.db", crash / "backups");
  EXPECT_EQ(capture_->generation(), gen) << "the chain continues after a crash";
  // The torn commit is captured again from the WAL; the store's bootstrap at open adds one.
  EXPECT_EQ(capture_->stats().seq, seq + 1);
  EXPECT_EQ(content(crash / "grafana.db"), want);
  for (int i = 0; i < 5; ++i) random_transaction(rng);
  const std::string want2 = content(crash / "grafana.db");
  const uint64_t seq2 = capture_->stats().seq;
  auto gens = index_generations(crash / "backups");
  ASSERT_TRUE(gens);
  auto r = build_restore(crash / "backups", RestorePlan{base, gen, base.seq_lo, seq2, 0}, *gens, dir_ / "r.db");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(content(dir_ / "r.db"), want2);
}

TEST_F(CaptureTest, CleanStopContinuesAndAForeignWriteStartsANewGeneration) {
  open(db_, bk_);
  std::mt19937 rng(9);
  exec("CREATE TABLE dash (id INTEGER PRIMARY KEY, k INTEGER, v BLOB)");
  Manifest base = snapshot("test");
  for (int i = 0; i < 10; ++i) random_transaction(rng);
  const std::string gen = capture_->generation();
  const uint64_t seq = capture_->stats().seq;
  store_.reset();  // clean stop: final checkpoint, close record
  capture_.reset();

  open(db_, bk_);
  EXPECT_EQ(capture_->generation(), gen);
  EXPECT_EQ(capture_->stats().seq, seq + 1);  // the store's bootstrap commit at open
  for (int i = 0; i < 10; ++i) random_transaction(rng);
  const std::string want = content(db_);
  const uint64_t seq2 = capture_->stats().seq;
  auto gens = index_generations(bk_);
  ASSERT_TRUE(gens);
  auto r = build_restore(bk_, RestorePlan{base, gen, base.seq_lo, seq2, 0}, *gens, dir_ / "r.db");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(content(dir_ / "r.db"), want) << "commits before and after the clean restart";
  store_.reset();
  capture_.reset();

  // Someone else writes while metagate is stopped: the chain cannot be proven.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "INSERT INTO dash (k, v) VALUES (1, 'foreign')", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  open(db_, bk_);
  EXPECT_NE(capture_->generation(), gen);
  EXPECT_LE(capture_->stats().seq, 1u);  // from 1 again (the bootstrap commit)
  EXPECT_EQ(capture_->stats().generations_started, 1u);
}

TEST_F(CaptureTest, SegmentsNoKeptSnapshotNeedsAreRemoved) {
  open(db_, bk_);
  std::mt19937 rng(11);
  exec("CREATE TABLE dash (id INTEGER PRIMARY KEY, k INTEGER, v BLOB)");
  for (int i = 0; i < 40; ++i) random_transaction(rng);
  Manifest late = snapshot("test");
  for (int i = 0; i < 5; ++i) random_transaction(rng);
  auto before = index_generations(bk_);
  ASSERT_TRUE(before);
  const size_t segs = (*before)[0].segments.size();
  ASSERT_GE(segs, 3u);
  auto removed = remove_unneeded_segments(bk_, {late}, capture_->generation());
  EXPECT_GE(removed.size(), 1u);
  auto after = index_generations(bk_);
  ASSERT_TRUE(after);
  EXPECT_LT((*after)[0].segments.size(), segs);
  // What is left still rebuilds the newest commit from the kept snapshot.
  auto r = build_restore(bk_, RestorePlan{late, late.generation, late.seq_lo, capture_->stats().seq, 0}, *after,
                         dir_ / "r.db");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(content(dir_ / "r.db"), content(db_));
  // A generation without any kept snapshot (not the current one) goes entirely.
  fs::create_directories(WalCapture::wal_root(bk_) / "20200101T000000.000Z");
  removed = remove_unneeded_segments(bk_, {late}, capture_->generation());
  EXPECT_FALSE(fs::exists(WalCapture::wal_root(bk_) / "20200101T000000.000Z"));
}

}  // namespace
