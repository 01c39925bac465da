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

// The segment file last read, parsed (a path through the records mostly stays in one file).
struct SegmentReader {
  fs::path path;
  std::string bytes;
  SegmentScan scan;
  std::span<const uint8_t> view() const { return as_bytes(bytes); }
  PgStatus load(const fs::path& p, uint32_t page_size) {
    if (p == path) return Ok{};
    path.clear();
    auto b = read_whole_file(p);
    if (!b) return unexpected(b.error());
    bytes = std::move(*b);
    scan = parse_segment(view());
    if (!scan.header || scan.header->page_size != page_size)
      return fail(sqlstate::kDataCorrupted, "segment \"" + p.string() + "\" does not match the snapshot's page size");
    path = p;
    return Ok{};
  }
};

}  // namespace

GenerationIndex index_generation(const fs::path& dir, uint64_t after) {
  GenerationIndex g;
  g.id = dir.filename().string();
  g.dir = dir;
  std::error_code ec;
  std::vector<std::pair<SegmentName, fs::path>> files;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (auto n = parse_segment_name(e.path().filename().string()); n && !(n->last_seq && *n->last_seq <= after))
      files.emplace_back(*n, e.path());
  std::sort(files.begin(), files.end(), [](const auto& a, const auto& b) {
    return a.first.first_seq != b.first.first_seq ? a.first.first_seq < b.first.first_seq
                                                  : a.first.last_seq.value_or(0) < b.first.last_seq.value_or(0);
  });
  for (const auto& [name, path] : files) {
    auto bytes = read_whole_file(path);
    if (!bytes) continue;
    SegmentScan scan = parse_segment(as_bytes(*bytes));
    if (!scan.header || scan.header->generation != g.id) continue;
    GenerationIndex::Segment seg{path, scan.header->first_seq, scan.header->first_seq - 1, !name.last_seq, false,
                                 bytes->size()};
    const auto segment = static_cast<uint32_t>(g.segments.size());
    for (size_t i = 0; i < scan.records.size(); ++i) {
      const SegmentRecord& r = scan.records[i];
      if (r.kind == RecordKind::kClose) continue;
      if (r.kind == RecordKind::kCompacted) seg.compacted = true;
      g.entries.push_back({r.first_seq, r.seq, r.unix_ms, segment, static_cast<uint32_t>(i)});
      seg.last_seq = r.seq;
    }
    g.bytes += bytes->size();
    g.segments.push_back(seg);
  }
  std::sort(g.entries.begin(), g.entries.end(), [](const auto& a, const auto& b) {
    return a.last != b.last ? a.last < b.last : a.first < b.first;
  });
  return g;
}

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
  for (const auto& d : dirs) out.push_back(index_generation(d));
  return out;
}

std::optional<std::vector<size_t>> find_path(const std::vector<GenerationIndex::Entry>& entries, uint64_t from,
                                             uint64_t to) {
  // Entries that end after `from` and not after `to`, by first commit; walking them in that
  // order keeps the one reaching furthest among those that apply at the current commit (all
  // with first <= current + 1). Taking the furthest jump each time reaches `to` whenever any
  // sequence of entries does: after k steps it is at least as far as any other sequence.
  std::vector<size_t> order;
  for (size_t i = 0; i < entries.size(); ++i)
    if (entries[i].last > from && entries[i].last <= to) order.push_back(i);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return entries[a].first < entries[b].first; });
  std::vector<size_t> path;
  uint64_t at = from;
  size_t next = 0;
  std::optional<size_t> best;
  while (at < to) {
    while (next < order.size() && entries[order[next]].first <= at + 1) {
      if (!best || entries[order[next]].last > entries[*best].last) best = order[next];
      ++next;
    }
    if (!best || entries[*best].last <= at) return std::nullopt;
    path.push_back(*best);
    at = entries[*best].last;
  }
  return path;
}

std::vector<Reachable> reachable_from(const std::vector<GenerationIndex::Entry>& entries, uint64_t from) {
  // By last commit ascending, an entry is usable when some reachable commit c (or `from`) has
  // first - 1 <= c < last; every commit it could start from is smaller than its last, so it
  // was settled before.
  std::vector<Reachable> out;
  std::vector<uint64_t> at{from};
  for (const auto& e : entries) {
    if (e.last <= from || e.last == at.back()) continue;
    auto it = std::lower_bound(at.begin(), at.end(), e.first - 1);
    if (it == at.end() || *it >= e.last) continue;
    at.push_back(e.last);
    out.push_back({e.last, e.unix_ms});
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
    if (g == generations.end()) continue;
    // The newest commit the records reach from the snapshot's first commit (the snapshot may
    // hold commits up to seq_hi already: the point must not be before them).
    std::optional<Reachable> last;
    for (const Reachable& r : reachable_from(g->entries, m.seq_lo)) {
      if (t.until_unix_ms && r.unix_ms > *t.until_unix_ms) continue;
      if (r.seq >= m.seq_hi) last = r;
    }
    if (!last) continue;
    consider(RestorePlan{m, m.generation, m.seq_lo, last->seq, std::max(last->unix_ms, m.created_unix_ms)});
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
      auto path = find_path(g->entries, plan.from_seq, plan.to_seq);
      if (!path)
        return fail(sqlstate::kDataCorrupted, "generation " + plan.generation + ": the segments do not reach commit " +
                                                  std::to_string(plan.to_seq) + " from " + std::to_string(plan.from_seq));
      SegmentReader reader;
      for (size_t i : *path) {
        const auto& e = g->entries[i];
        const auto& seg = g->segments[e.segment];
        auto loaded = reader.load(seg.path, page_size);
        if (!loaded) return unexpected(loaded.error());
        if (e.record >= reader.scan.records.size())
          return fail(sqlstate::kDataCorrupted, "segment \"" + seg.path.string() + "\" changed while it was read");
        const SegmentRecord& r = reader.scan.records[e.record];
        for (const PageRef& p : record_pages(reader.view(), r, page_size)) {
          if (auto s = pwrite_all(fd, reader.view().data() + p.offset, page_size, uint64_t{p.page - 1} * page_size, tmp); !s)
            return s;
          ++result.pages_written;
        }
        db_pages = r.db_pages;
        ++result.records_applied;
      }
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
                                               const std::string& current, const std::optional<StorePosition>& shipped) {
  std::vector<fs::path> removed;
  std::map<std::string, uint64_t> oldest;  // generation → the first commit still needed
  auto need = [&](const std::string& gen, uint64_t seq) {
    auto [it, fresh] = oldest.emplace(gen, seq);
    if (!fresh) it->second = std::min(it->second, seq);
  };
  for (const auto& m : kept)
    if (!m.generation.empty()) need(m.generation, m.seq_lo);
  if (shipped && !shipped->generation.empty()) need(shipped->generation, shipped->seq);
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
