// The shipping order: what makes the bucket's copy current goes first (the cheapest of "the
// segments after the bucket's position", "a catch-up delta from there" and "the newest snapshot
// and the segments after it"), in commit order, manifest after data; then the history, newest
// first. The bucket's position: its newest snapshot of the generation, then its segments.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "metagate/backup/segment.hpp"
#include "metagate/replica/replica.hpp"

using namespace metagate;
namespace fs = std::filesystem;

namespace {

class PlanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("mg-replica-plan-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "wal" / "G1");
    fs::create_directories(dir_ / "wal" / "G2");
  }
  void TearDown() override { fs::remove_all(dir_); }
  void file(const fs::path& p, size_t bytes) { std::ofstream(p, std::ios::binary) << std::string(bytes, 'x'); }
  backup::Manifest snapshot(const std::string& id, const std::string& gen, uint64_t seq, size_t bytes) {
    backup::Manifest m;
    m.id = id;
    m.generation = gen;
    m.seq_lo = m.seq_hi = seq;
    m.raw_bytes = bytes;  // costs compare uncompressed sizes
    file(dir_ / m.data_file(), bytes);
    file(dir_ / m.manifest_file(), 100);
    return m;
  }
  void segment(const std::string& gen, uint64_t first, uint64_t last, size_t bytes) {
    file(dir_ / "wal" / gen / backup::sealed_segment_name(first, last), bytes);
  }
  // A whole compacted segment of `gen` for commits first..last (one page), as write_compacted
  // leaves it; `torn` cuts its last bytes off (a crash before the delta reached the disk).
  size_t compacted(const fs::path& p, const std::string& gen, uint64_t first, uint64_t last, bool torn = false) {
    std::vector<uint8_t> out;
    uint32_t c1 = 0, c2 = 0;
    backup::encode_segment_header(out, {4096, gen, first, 1, backup::WalMark{}}, c1, c2);
    const size_t header_at = out.size();
    out.resize(out.size() + backup::kRecordHeaderSize);
    backup::append_page_prefix(out, 1);
    out.resize(out.size() + 4096, 7);
    backup::seal_record(out, header_at, {backup::RecordKind::kCompacted, last, 1, 1, backup::WalMark{}}, c1, c2);
    if (torn) out.resize(out.size() - 100);
    std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(out.data()), static_cast<std::streamsize>(out.size()));
    return out.size();
  }
  std::vector<std::string> keys(const std::vector<replica::Upload>& plan, bool catch_up_only = false) {
    std::vector<std::string> out;
    for (const auto& u : plan)
      if (!catch_up_only || u.catch_up) out.push_back(u.key.substr(u.key.find("/") + 1));
    return out;
  }
  fs::path dir_;
};

TEST_F(PlanTest, NothingRemoteShipsTheNewestSnapshotAndItsSegmentsFirst) {
  std::vector<backup::Manifest> snaps = {snapshot("S1", "G1", 0, 1000), snapshot("S2", "G2", 5, 2000)};
  segment("G1", 1, 10, 500);
  segment("G2", 1, 5, 300);
  segment("G2", 6, 9, 300);
  segment("G2", 10, 12, 300);
  auto plan = replica::plan_uploads("site", dir_, snaps, replica::list_sealed_segments(dir_), {});
  EXPECT_EQ(keys(plan), (std::vector<std::string>{
                            "snapshots/S2.db.zst", "snapshots/S2.json",  // catch-up: the newest point
                            "wal/G2/0000000000000006-0000000000000009.seg", "wal/G2/0000000000000010-0000000000000012.seg",
                            "snapshots/S1.db.zst", "snapshots/S1.json",  // history, newest first
                            "wal/G2/0000000000000001-0000000000000005.seg", "wal/G1/0000000000000001-0000000000000010.seg"}));
  EXPECT_EQ(keys(plan, true).size(), 4u);
}

TEST_F(PlanTest, AfterAnOutageTheSmallerOfDeltaAndFreshSnapshotGoesFirst) {
  // The bucket has S1 (commit 10 of G1); locally 300 commits in segments since, and S2 at 290.
  std::vector<backup::Manifest> snaps = {snapshot("S1", "G1", 10, 1000), snapshot("S2", "G1", 290, 1000)};
  segment("G1", 11, 100, 400);
  segment("G1", 101, 200, 400);
  segment("G1", 201, 290, 400);
  segment("G1", 291, 300, 50);
  const std::set<std::string> remote = {"site/snapshots/S1.db.zst", "site/snapshots/S1.json"};
  // Delta 1,250 bytes > snapshot 1,100 + 50: the fresh snapshot wins.
  auto plan = replica::plan_uploads("site", dir_, snaps, replica::list_sealed_segments(dir_), remote, 10);
  EXPECT_EQ(keys(plan, true), (std::vector<std::string>{"snapshots/S2.db.zst", "snapshots/S2.json",
                                                        "wal/G1/0000000000000291-0000000000000300.seg"}));
  // A big snapshot (10,000 bytes): the segments win, in commit order.
  snaps[1].raw_bytes = 10000;
  plan = replica::plan_uploads("site", dir_, snaps, replica::list_sealed_segments(dir_), remote, 10);
  EXPECT_EQ(keys(plan, true), (std::vector<std::string>{
                                  "wal/G1/0000000000000011-0000000000000100.seg", "wal/G1/0000000000000101-0000000000000200.seg",
                                  "wal/G1/0000000000000201-0000000000000290.seg", "wal/G1/0000000000000291-0000000000000300.seg"}));
  // Everything else follows as history; nothing the bucket has is planned.
  EXPECT_EQ(keys(plan).size(), 6u);
  for (const auto& u : plan) EXPECT_FALSE(remote.count(u.key)) << u.key;
}

TEST_F(PlanTest, ACatchUpDeltaFromTheBucketsPositionGoesFirstWhenItIsSmallest) {
  std::vector<backup::Manifest> snaps = {snapshot("S1", "G1", 10, 1000), snapshot("S2", "G1", 290, 5000)};
  segment("G1", 11, 100, 400);
  segment("G1", 101, 200, 400);
  segment("G1", 201, 290, 400);
  segment("G1", 291, 300, 50);
  const std::set<std::string> remote = {"site/snapshots/S1.db.zst", "site/snapshots/S1.json",
                                        "site/wal/G1/0000000000000011-0000000000000100.seg"};
  // The bucket reaches commit 100: S1, then the segment after it.
  EXPECT_EQ(replica::remote_position("site", snaps, remote, "G1"), 100u);
  EXPECT_EQ(replica::remote_position("site", snaps, remote, "G2"), std::nullopt);
  // A gap (101-200 missing) stops it there.
  auto gap = remote;
  gap.insert("site/wal/G1/0000000000000201-0000000000000290.seg");
  EXPECT_EQ(replica::remote_position("site", snaps, gap, "G1"), 100u);
  // A delta 101-300 of 300 bytes beats 850 bytes of segments and the 5,050-byte snapshot.
  fs::create_directories(dir_ / ".uploads" / "catch-up" / "G1");
  const fs::path d = dir_ / ".uploads" / "catch-up" / "G1" / backup::sealed_segment_name(101, 300);
  file(d, 300);
  replica::CatchUpDelta delta{"G1", d, 101, 300, 300};
  auto plan = replica::plan_uploads("site", dir_, snaps, replica::list_sealed_segments(dir_), remote, 100, delta);
  EXPECT_EQ(keys(plan, true), (std::vector<std::string>{"wal/G1/0000000000000101-0000000000000300.seg"}));
  // The history still brings every segment (each commit a restore point) and S2.
  EXPECT_EQ(keys(plan).size(), 6u);
  // A delta from another position is not used.
  delta.first_seq = 50;
  plan = replica::plan_uploads("site", dir_, snaps, replica::list_sealed_segments(dir_), remote, 100, delta);
  EXPECT_EQ(keys(plan, true).size(), 3u);  // the three segments after commit 100
  // prepare_catch_up finds a delta an earlier pass built from the same position (its upload
  // may have been cut) and removes any other.
  const fs::path stale = dir_ / ".uploads" / "catch-up" / "G1" / backup::sealed_segment_name(60, 290);
  file(stale, 10);
  const size_t whole = compacted(d, "G1", 101, 300);
  auto found = replica::prepare_catch_up(dir_, "site", "G1", 100, replica::list_sealed_segments(dir_));
  ASSERT_TRUE(found);
  EXPECT_EQ(found->path, d);
  EXPECT_EQ(found->last_seq, 300u);
  EXPECT_EQ(found->bytes, whole);
  EXPECT_FALSE(fs::exists(stale));
  // Deltas are not fsynced: one a crash left torn is not used (here the segments are not real
  // ones, so no new delta can be built from them either) and is removed.
  compacted(d, "G1", 101, 300, /*torn=*/true);
  EXPECT_FALSE(replica::prepare_catch_up(dir_, "site", "G1", 100, replica::list_sealed_segments(dir_)));
  EXPECT_FALSE(fs::exists(d));
  // One segment behind: no delta (the segment itself is as small).
  EXPECT_FALSE(replica::prepare_catch_up(dir_, "site", "G1", 290, replica::list_sealed_segments(dir_)));
}

TEST_F(PlanTest, RemoteRetentionKeepsWhatLocalRetentionKeeps) {
  // Five hourly snapshots in the bucket; retention keeps the 2 newest hours.
  std::vector<backup::Manifest> known;
  std::set<std::string> remote;
  for (int h = 0; h < 5; ++h) {
    backup::Manifest m;
    m.id = "S" + std::to_string(h);
    m.generation = h < 2 ? "G1" : "G2";
    m.seq_lo = m.seq_hi = static_cast<uint64_t>(10 * h);
    m.created_unix_ms = 1'780'272'000'000 + h * 3'600'000LL;
    known.push_back(m);
    remote.insert("site/snapshots/" + m.data_file());
    remote.insert("site/snapshots/" + m.manifest_file());
  }
  remote.insert("site/snapshots/R.json");  // half of a snapshot (older than the newest complete one)
  remote.insert("site/wal/G1/" + backup::sealed_segment_name(1, 15));
  remote.insert("site/wal/G2/" + backup::sealed_segment_name(21, 30));
  remote.insert("site/wal/G2/" + backup::sealed_segment_name(31, 35));
  remote.insert("site/wal/G2/" + backup::sealed_segment_name(36, 50));
  backup::Retention r;
  r.hourly = 2;
  r.daily = r.weekly = 0;
  auto doomed = replica::plan_remote_prune("site", remote, known, r);
  std::set<std::string> d(doomed.begin(), doomed.end());
  // S0..S2 go (data before manifest), S3 and S4 stay; the half goes.
  EXPECT_TRUE(d.count("site/snapshots/S0.db.zst") && d.count("site/snapshots/S0.json"));
  EXPECT_TRUE(d.count("site/snapshots/S2.db.zst") && d.count("site/snapshots/S2.json"));
  EXPECT_FALSE(d.count("site/snapshots/S3.json") || d.count("site/snapshots/S4.db.zst"));
  EXPECT_TRUE(d.count("site/snapshots/R.json"));
  EXPECT_LT(std::find(doomed.begin(), doomed.end(), "site/snapshots/S0.db.zst") - doomed.begin(),
            std::find(doomed.begin(), doomed.end(), "site/snapshots/S0.json") - doomed.begin());
  // G1 has no kept snapshot: its segments go; G2's before S3 (commit 30) go, the rest stay.
  EXPECT_TRUE(d.count("site/wal/G1/" + backup::sealed_segment_name(1, 15)));
  EXPECT_TRUE(d.count("site/wal/G2/" + backup::sealed_segment_name(21, 30)));
  EXPECT_FALSE(d.count("site/wal/G2/" + backup::sealed_segment_name(31, 35)));
  EXPECT_FALSE(d.count("site/wal/G2/" + backup::sealed_segment_name(36, 50)));
  EXPECT_EQ(d.size(), 9u);
}

TEST_F(PlanTest, RemoteRootAndOpenSegmentsAreNotShipped) {
  EXPECT_EQ(replica::remote_root("/edge/site-7/", "grafana"), "edge/site-7/grafana");
  EXPECT_EQ(replica::remote_root("", "grafana"), "grafana");
  file(dir_ / "wal" / "G1" / backup::open_segment_name(7), 100);
  segment("G1", 1, 6, 100);
  auto segs = replica::list_sealed_segments(dir_);
  ASSERT_EQ(segs.size(), 1u);
  EXPECT_EQ(segs[0].last_seq, 6u);
}

TEST_F(PlanTest, RemoteStateSurvivesARestart) {
  replica::RemoteState a(dir_);
  ASSERT_TRUE(a.load());
  EXPECT_TRUE(a.keys().empty());
  a.add("site/snapshots/S1.json");
  ASSERT_TRUE(a.save());
  backup::Manifest m;
  m.id = "S1";
  m.generation = "G1";
  m.seq_lo = 42;
  a.remember(m);
  ASSERT_TRUE(a.save());
  replica::RemoteState b(dir_);
  ASSERT_TRUE(b.load());
  EXPECT_EQ(b.keys(), (std::set<std::string>{"site/snapshots/S1.json"}));
  // The snapshot's first commit is remembered after the local copy is gone.
  auto known = b.known_snapshots({});
  ASSERT_EQ(known.size(), 1u);
  EXPECT_EQ(known[0].generation, "G1");
  EXPECT_EQ(known[0].seq_lo, 42u);
}

}  // namespace
