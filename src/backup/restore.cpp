// Restore: snapshot + captured records → a database at a chosen commit.
#include "metagate/backup/restore.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>

#include "files.hpp"

namespace metagate::backup {

namespace fs = std::filesystem;
using namespace detail;

namespace {

std::span<const uint8_t> as_bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

}  // namespace

PgResult<std::vector<GenerationIndex>> index_generations(const fs::path& backup_dir) {
  std::vector<GenerationIndex> out;
  const fs::path root = backup_dir / "wal";
  std::error_code ec;
  if (!fs::exists(root, ec)) return out;
  std::vector<fs::path> dirs;
  for (const auto& e : fs::directory_iterator(root, ec))
    if (e.is_directory() && !e.path().filename().string().starts_with(".")) dirs.push_back(e.path());
  if (ec) return fail(kIoError, "could not read directory \"" + root.string() + "\": " + ec.message());
  std::sort(dirs.begin(), dirs.end());
  for (const auto& d : dirs) {
    GenerationIndex g;
    g.id = d.filename().string();
    g.dir = d;
    std::vector<std::pair<SegmentName, fs::path>> files;
    for (const auto& e : fs::directory_iterator(d, ec))
      if (auto n = parse_segment_name(e.path().filename().string())) files.emplace_back(*n, e.path());
    std::sort(files.begin(), files.end(), [](const auto& a, const auto& b) { return a.first.first_seq < b.first.first_seq; });
    for (const auto& [name, path] : files) {
      auto bytes = read_whole_file(path);
      if (!bytes) continue;
      SegmentScan scan = parse_segment(as_bytes(*bytes));
      if (!scan.header || scan.header->generation != g.id) continue;
      GenerationIndex::Segment seg{path, scan.header->first_seq, scan.header->first_seq - 1, !name.last_seq};
      for (const auto& r : scan.records) {
        if (r.kind != RecordKind::kTransaction) continue;
        // Records continue the generation's numbering without a gap, or this segment is not used.
        if (!g.seqs.empty() && r.seq != g.seqs.back() + 1) break;
        g.seqs.push_back(r.seq);
        g.times.push_back(r.unix_ms);
        seg.last_seq = r.seq;
      }
      g.bytes += bytes->size();
      g.segments.push_back(seg);
    }
    out.push_back(std::move(g));
  }
  return out;
}

std::optional<RestorePlan> plan_restore(const std::vector<Manifest>& snapshots,
                                        const std::vector<GenerationIndex>& generations, const RestoreTarget& t) {
  std::optional<RestorePlan> best;
  auto consider = [&](RestorePlan p) {
    if (!best || p.point_unix_ms >= best->point_unix_ms) best = std::move(p);
  };
  for (const Manifest& m : snapshots) {
    if (!t.snapshot_id.empty()) {
      if (m.id == t.snapshot_id) consider(RestorePlan{m, "", 0, 0, m.created_unix_ms});
      continue;
    }
    if (t.until_unix_ms && m.created_unix_ms > *t.until_unix_ms) continue;
    consider(RestorePlan{m, "", 0, 0, m.created_unix_ms});
    if (m.generation.empty()) continue;
    auto g = std::find_if(generations.begin(), generations.end(), [&](const auto& x) { return x.id == m.generation; });
    if (g == generations.end() || g->seqs.empty()) continue;
    // The records after the snapshot must be there without a gap: seq_lo + 1, seq_lo + 2, ...
    auto it = std::lower_bound(g->seqs.begin(), g->seqs.end(), m.seq_lo + 1);
    if (it == g->seqs.end() || *it != m.seq_lo + 1) continue;
    size_t i = static_cast<size_t>(it - g->seqs.begin());
    std::optional<size_t> last;
    for (; i < g->seqs.size(); ++i) {
      if (t.until_unix_ms && g->times[i] > *t.until_unix_ms) break;
      last = i;
    }
    // Commits up to seq_hi may already be in the snapshot: the point must not be before them.
    if (!last || g->seqs[*last] < m.seq_hi) continue;
    consider(RestorePlan{m, m.generation, m.seq_lo, g->seqs[*last], std::max(g->times[*last], m.created_unix_ms)});
  }
  return best;
}

PgResult<RestoreResult> build_restore(const fs::path& backup_dir, const RestorePlan& plan,
                                      const std::vector<GenerationIndex>& generations, const fs::path& output) {
  RestoreResult result;
  const GenerationIndex* g = nullptr;
  if (!plan.generation.empty()) {
    for (const auto& x : generations)
      if (x.id == plan.generation) g = &x;
    if (!g) return fail(kIoError, "generation " + plan.generation + " is not in \"" + backup_dir.string() + "\"");
  }
  const uint32_t page_size = static_cast<uint32_t>(plan.base.page_size);
  fs::path tmp = output;
  tmp += ".restoring";
  auto fill = [&](int fd) -> PgStatus {
    if (auto s = unpack_snapshot(backup_dir, plan.base, fd, tmp); !s) return s;
    uint64_t db_pages = static_cast<uint64_t>(plan.base.page_count);
    if (g) {
      uint64_t next = plan.from_seq + 1;
      for (const auto& seg : g->segments) {
        if (seg.last_seq < next || seg.first_seq > plan.to_seq) continue;
        auto bytes = read_whole_file(seg.path);
        if (!bytes) return unexpected(bytes.error());
        auto b = as_bytes(*bytes);
        SegmentScan scan = parse_segment(b);
        if (!scan.header || scan.header->page_size != page_size)
          return fail(sqlstate::kDataCorrupted, "segment \"" + seg.path.string() + "\" does not match the snapshot's page size");
        for (const auto& r : scan.records) {
          if (r.kind != RecordKind::kTransaction || r.seq < next) continue;
          if (r.seq > plan.to_seq) break;
          if (r.seq != next)
            return fail(sqlstate::kDataCorrupted, "segment \"" + seg.path.string() + "\": commit " + std::to_string(next) +
                                                      " is missing");
          for (const PageRef& p : record_pages(b, r, page_size)) {
            if (auto s = pwrite_all(fd, b.data() + p.offset, page_size, uint64_t{p.page - 1} * page_size, tmp); !s) return s;
            ++result.pages_written;
          }
          db_pages = r.db_pages;
          ++result.records_applied;
          ++next;
        }
        if (next > plan.to_seq) break;
      }
      if (next != plan.to_seq + 1)
        return fail(sqlstate::kDataCorrupted, "generation " + plan.generation + ": commit " + std::to_string(next) +
                                                  " is missing from the segments");
      if (::ftruncate(fd, static_cast<off_t>(db_pages * page_size)) != 0) return io_error("truncate", tmp, errno);
      // Pages from the WAL say "WAL mode" (bytes 18-19 = 2); the restored file is a plain
      // rollback-journal file like a snapshot (metagate switches it to WAL when it opens it).
      const uint8_t legacy[2] = {1, 1};
      if (auto s = pwrite_all(fd, legacy, 2, 18, tmp); !s) return s;
    }
    result.db_bytes = db_pages * page_size;
    if (::fsync(fd) != 0) return io_error("fsync", tmp, errno);
    auto check = integrity_check(tmp);
    if (!check) return unexpected(check.error());
    if (*check != "ok")
      return fail(sqlstate::kDataCorrupted, "the restored database fails its integrity check: " + check->substr(0, 500));
    return Ok{};
  };
  if (auto s = publish_file(tmp, output, /*replace=*/false, fill); !s) return unexpected(s.error());
  return result;
}

std::vector<fs::path> remove_unneeded_segments(const fs::path& backup_dir, const std::vector<Manifest>& kept,
                                               const std::string& current) {
  std::vector<fs::path> removed;
  std::map<std::string, uint64_t> oldest;  // generation → smallest seq_lo of its kept snapshots
  for (const auto& m : kept) {
    if (m.generation.empty()) continue;
    auto [it, fresh] = oldest.emplace(m.generation, m.seq_lo);
    if (!fresh) it->second = std::min(it->second, m.seq_lo);
  }
  const fs::path root = backup_dir / "wal";
  std::error_code ec;
  // The newest generation counts as current too (a `metagate backup` command does not know
  // which one the daemon is writing; generation ids sort by time).
  std::vector<fs::path> gens;
  for (const auto& e : fs::directory_iterator(root, ec))
    if (e.is_directory()) gens.push_back(e.path());
  std::sort(gens.begin(), gens.end());
  const std::string newest = gens.empty() ? "" : gens.back().filename().string();
  for (const auto& dir : gens) {
    const std::string gen = dir.filename().string();
    const bool is_current = gen == current || gen == newest;
    auto it = oldest.find(gen);
    if (it == oldest.end()) {
      // No base snapshot: the current generation keeps everything until it has one; an older
      // one can no longer be restored from and goes.
      std::error_code e2;
      if (!is_current && fs::remove_all(dir, e2) > 0) removed.push_back(dir);
      continue;
    }
    std::vector<std::pair<SegmentName, fs::path>> sealed;
    for (const auto& f : fs::directory_iterator(dir, ec)) {
      auto n = parse_segment_name(f.path().filename().string());
      if (n && n->last_seq) sealed.emplace_back(*n, f.path());
    }
    std::sort(sealed.begin(), sealed.end(), [](const auto& a, const auto& b) { return a.first.first_seq < b.first.first_seq; });
    // The current generation's newest segment says where capture stands: a restart reads it.
    if (is_current && !sealed.empty()) sealed.pop_back();
    for (const auto& [n, path] : sealed) {
      if (*n.last_seq > it->second) continue;
      std::error_code e2;
      if (fs::remove(path, e2)) removed.push_back(path);
    }
  }
  if (!removed.empty()) (void)fsync_path(root, true);
  return removed;
}

}  // namespace metagate::backup
