// Compaction of segments (compact.hpp).
#include "metagate/backup/compact.hpp"

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

// Where the newest version of a page is: which segment, and the offset of its bytes there.
struct PageSource {
  uint32_t segment = UINT32_MAX;
  uint64_t offset = 0;
};

}  // namespace

PgResult<CompactResult> write_compacted(const GenerationIndex& g, uint64_t from, uint64_t to, const fs::path& output,
                                        bool durable) {
  CompactResult out;
  out.output = output;
  out.first_seq = from + 1;
  out.last_seq = to;
  auto path = find_path(g.entries, from, to);
  if (!path || path->empty())
    return fail(kIoError, "generation " + g.id + ": the segments do not hold commits " + std::to_string(from + 1) + " to " +
                              std::to_string(to));
  // The newest version of every page, in path order (later entries win).
  std::vector<PageSource> pages;
  uint32_t page_size = 0;
  SegmentRecord last;
  uint32_t loaded = UINT32_MAX;
  std::string bytes;
  SegmentScan scan;
  for (size_t i : *path) {
    const auto& e = g.entries[i];
    if (e.segment != loaded) {
      auto b = read_whole_file(g.segments[e.segment].path);
      if (!b) return unexpected(b.error());
      bytes = std::move(*b);
      scan = parse_segment({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()});
      if (!scan.header || e.record >= scan.records.size() || (page_size && scan.header->page_size != page_size))
        return fail(sqlstate::kDataCorrupted, "segment \"" + g.segments[e.segment].path.string() + "\" changed while it was read");
      page_size = scan.header->page_size;
      loaded = e.segment;
    }
    last = scan.records[e.record];
    for (const PageRef& p : record_pages({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()}, last, page_size)) {
      if (p.page > pages.size()) pages.resize(p.page);
      pages[p.page - 1] = {e.segment, p.offset};
      ++out.input_pages;
    }
  }
  out.last_unix_ms = last.unix_ms;
  const size_t entry = 8 + size_t{page_size};
  for (uint32_t n = 1; n <= std::min<uint64_t>(pages.size(), last.db_pages); ++n)
    if (pages[n - 1].segment != UINT32_MAX) ++out.pages;
  const uint64_t payload = out.pages * entry;
  if (payload > kMaxCompactedPayload)
    return fail("54000", "commits " + std::to_string(from + 1) + " to " + std::to_string(to) + " of generation " + g.id +
                             " changed " + std::to_string(payload >> 20) + " MiB of pages, more than one compacted record holds");

  fs::path tmp = output;
  tmp += ".compacting";
  auto fill = [&](int fd) -> PgStatus {
    std::vector<uint8_t> head;
    uint32_t c1 = 0, c2 = 0;
    encode_segment_header(head, {page_size, g.id, from + 1, unix_ms_now(), WalMark{}}, c1, c2);
    if (auto s = write_all(fd, head.data(), head.size(), tmp); !s) return s;
    const uint64_t record_at = head.size();
    RecordStream record({RecordKind::kCompacted, to, last.unix_ms, last.db_pages, last.wal},
                        static_cast<uint32_t>(payload), c1, c2);
    if (::lseek(fd, static_cast<off_t>(record_at + kRecordHeaderSize), SEEK_SET) < 0) return io_error("seek", tmp, errno);
    std::map<uint32_t, Fd> inputs;
    std::vector<uint8_t> buf;
    buf.reserve(1 << 20);
    auto flush = [&]() -> PgStatus {
      record.feed(buf);
      auto s = write_all(fd, buf.data(), buf.size(), tmp);
      buf.clear();
      return s;
    };
    for (uint32_t n = 1; n <= std::min<uint64_t>(pages.size(), last.db_pages); ++n) {
      const PageSource& src = pages[n - 1];
      if (src.segment == UINT32_MAX) continue;
      auto [it, fresh] = inputs.try_emplace(src.segment);
      const fs::path& in = g.segments[src.segment].path;
      if (fresh) {
        it->second = Fd(::open(in.c_str(), O_RDONLY | O_CLOEXEC));
        if (!it->second) return io_error("open", in, errno);
      }
      append_page_prefix(buf, n);
      const size_t at = buf.size();
      buf.resize(at + page_size);
      auto got = pread_full(it->second.get(), buf.data() + at, page_size, src.offset, in);
      if (!got) return unexpected(got.error());
      if (*got != page_size) return fail(sqlstate::kDataCorrupted, "segment \"" + in.string() + "\" changed while it was read");
      if (buf.size() >= (1u << 20))
        if (auto s = flush(); !s) return s;
    }
    if (auto s = flush(); !s) return s;
    const auto header = record.finish(c1, c2);
    return pwrite_all(fd, header.data(), header.size(), record_at, tmp);
  };
  if (auto s = publish_file(tmp, output, /*replace=*/true, fill, durable); !s) return unexpected(s.error());
  std::error_code ec;
  out.bytes = fs::file_size(output, ec);
  return out;
}

bool check_compacted(const fs::path& path, const std::string& generation, uint64_t first, uint64_t last) {
  auto bytes = read_whole_file(path);
  if (!bytes) return false;
  const SegmentScan scan = parse_segment({reinterpret_cast<const uint8_t*>(bytes->data()), bytes->size()});
  return scan.header && scan.header->generation == generation && scan.header->first_seq == first &&
         scan.valid_end == bytes->size() && scan.records.size() == 1 &&
         scan.records[0].kind == RecordKind::kCompacted && scan.records[0].first_seq == first &&
         scan.records[0].seq == last;
}

CompactionReport compact_segments(const fs::path& backup_dir, const std::vector<Manifest>& kept,
                                  const CompactionOptions& o) {
  CompactionReport report;
  const fs::path root = backup_dir / "wal";
  std::error_code ec;
  std::vector<fs::path> gens;
  for (const auto& e : fs::directory_iterator(root, ec))
    if (e.is_directory() && !e.path().filename().string().starts_with(".")) gens.push_back(e.path());
  std::sort(gens.begin(), gens.end());
  for (const auto& dir : gens) {
    const GenerationIndex g = index_generation(dir);
    const std::string& id = g.id;
    // The first commits of the kept snapshots: the restore points compaction keeps.
    std::vector<uint64_t> bounds;
    for (const auto& m : kept)
      if (m.generation == id) bounds.push_back(m.seq_lo);
    if (o.shipped && o.shipped->generation == id) bounds.push_back(o.shipped->seq);
    if (o.retention && !g.entries.empty()) {
      // Each commit as if it were a snapshot taken right after it: the retention keeps the
      // newest of each bucket.
      std::vector<Manifest> points;
      for (const auto& e : g.entries) {
        if (!points.empty() && points.back().seq_lo == e.last) continue;
        Manifest m;
        m.id = std::to_string(e.last);
        m.seq_lo = e.last;
        m.created_unix_ms = e.unix_ms;
        points.push_back(std::move(m));
      }
      Retention buckets = *o.retention;
      buckets.disk_budget_bytes = 0;
      for (const auto& keep : plan_retention(points, buckets).keep) bounds.push_back(std::stoull(keep));
    }
    std::sort(bounds.begin(), bounds.end());
    // The interval a segment's commits lie in (index into bounds: after bounds[i-1], up to
    // bounds[i]), or none when it straddles a kept snapshot.
    auto interval = [&](const GenerationIndex::Segment& s) -> std::optional<size_t> {
      const size_t i = static_cast<size_t>(std::lower_bound(bounds.begin(), bounds.end(), s.first_seq) - bounds.begin());
      if (i < bounds.size() && s.last_seq > bounds[i]) return std::nullopt;
      return i;
    };
    std::vector<int64_t> newest(g.segments.size(), 0);  // each segment's newest commit time
    std::vector<size_t> entries_in(g.segments.size(), 0);
    for (const auto& e : g.entries) {
      newest[e.segment] = std::max(newest[e.segment], e.unix_ms);
      ++entries_in[e.segment];
    }
    std::vector<size_t> sealed;
    for (size_t i = 0; i < g.segments.size(); ++i)
      if (!g.segments[i].open && g.segments[i].last_seq >= g.segments[i].first_seq) sealed.push_back(i);
    // The capture's generation (and the newest, which may be it) keeps its newest sealed
    // segment as it is: a restart reads where capture stood from it.
    if ((id == o.current || dir == gens.back()) && !sealed.empty()) {
      auto newest_sealed = std::max_element(sealed.begin(), sealed.end(), [&](size_t a, size_t b) {
        return g.segments[a].last_seq < g.segments[b].last_seq;
      });
      sealed.erase(newest_sealed);
    }
    // Segments inside a compacted one (a compaction cut before it removed its inputs) go first.
    std::vector<size_t> live;
    for (size_t i : sealed) {
      const auto& s = g.segments[i];
      bool covered = false;
      for (size_t j : sealed) {
        const auto& c = g.segments[j];
        if (j != i && c.compacted && c.first_seq <= s.first_seq && s.last_seq <= c.last_seq) covered = true;
      }
      if (!covered) {
        live.push_back(i);
      } else if (fs::remove(s.path, ec)) {
        report.removed.push_back(s.path);
      }
    }
    // Runs of contiguous, old-enough segments in one interval.
    auto flush_run = [&](const std::vector<size_t>& run) {
      if (run.empty()) return;
      const auto& first = g.segments[run.front()];
      const auto& lastseg = g.segments[run.back()];
      size_t records = 0;
      for (size_t i : run) records += entries_in[i];
      if (run.size() == 1 && (first.compacted || records < 2)) return;  // nothing to gain
      const fs::path out = dir / sealed_segment_name(first.first_seq, lastseg.last_seq);
      auto written = write_compacted(g, first.first_seq - 1, lastseg.last_seq, out);
      if (!written) {
        report.errors.push_back(out.string() + ": " + written.error().message);
        return;
      }
      for (size_t i : run) report.bytes_before += g.segments[i].bytes;
      report.bytes_after += written->bytes;
      for (size_t i : run) {
        if (g.segments[i].path == out) continue;
        std::error_code e2;
        if (fs::remove(g.segments[i].path, e2)) report.removed.push_back(g.segments[i].path);
      }
      report.written.push_back(std::move(*written));
    };
    std::sort(live.begin(), live.end(), [&](size_t a, size_t b) { return g.segments[a].first_seq < g.segments[b].first_seq; });
    std::vector<size_t> run;
    std::optional<size_t> run_interval;
    for (size_t i : live) {
      const auto& s = g.segments[i];
      const auto iv = interval(s);
      const bool eligible = iv && newest[i] < o.older_than_unix_ms;
      const bool continues = !run.empty() && eligible && iv == run_interval && s.first_seq == g.segments[run.back()].last_seq + 1;
      if (!continues) {
        flush_run(run);
        run.clear();
      }
      if (eligible) {
        run.push_back(i);
        run_interval = iv;
      }
    }
    flush_run(run);
    if (!report.removed.empty()) (void)fsync_path(dir, true);
  }
  return report;
}

}  // namespace metagate::backup
