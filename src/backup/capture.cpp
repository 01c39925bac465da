// Change capture: WAL frames → segment records, after every commit (see capture.hpp).
#include "metagate/backup/capture.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "files.hpp"

namespace metagate::backup {

namespace fs = std::filesystem;
using namespace detail;

namespace {

constexpr size_t kChunkBytes = 4u << 20;  // WAL bytes read at a time when catching up

uint32_t be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

std::vector<std::pair<SegmentName, fs::path>> list_segments(const fs::path& gen_dir) {
  std::vector<std::pair<SegmentName, fs::path>> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(gen_dir, ec)) {
    if (auto n = parse_segment_name(e.path().filename().string())) out.emplace_back(*n, e.path());
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first.first_seq < b.first.first_seq; });
  return out;
}

std::vector<fs::path> list_generation_dirs(const fs::path& root) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(root, ec))
    if (e.is_directory() && !e.path().filename().string().starts_with(".")) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

// The database file as it is now: size, mtime, inode, device and page 1's hash.
std::optional<CloseInfo> describe_file(const fs::path& db) {
  struct stat st {};
  if (::stat(db.c_str(), &st) != 0) return std::nullopt;
  CloseInfo c;
  c.db_bytes = static_cast<uint64_t>(st.st_size);
  c.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  c.inode = static_cast<uint64_t>(st.st_ino);
  c.device = static_cast<uint64_t>(st.st_dev);
  Fd fd(::open(db.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return std::nullopt;
  std::vector<uint8_t> page(65536);
  auto got = pread_full(fd.get(), page.data(), page.size(), 0, db);
  if (!got) return std::nullopt;
  size_t n = *got;
  if (n >= 100) {
    uint32_t ps = (uint32_t{page[16]} << 8) | page[17];
    if (ps == 1) ps = 65536;
    n = std::min<size_t>(n, ps);
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(page.data(), n, md, &len, EVP_sha256(), nullptr);
  std::memcpy(c.page1_hash.data(), md, 16);
  return c;
}

// The page size in a database file's header (4096 when it cannot be read).
uint32_t db_page_size(const fs::path& db) {
  uint8_t h[18];
  Fd fd(::open(db.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return 4096;
  auto got = pread_full(fd.get(), h, sizeof h, 0, db);
  if (!got || *got < sizeof h) return 4096;
  uint32_t ps = (uint32_t{h[16]} << 8) | h[17];
  if (ps == 1) return 65536;
  if (ps < 512 || ps > 65536 || (ps & (ps - 1)) != 0) return 4096;
  return ps;
}

struct WalFile {
  Fd fd;
  std::optional<WalHeader> header;
  uint64_t size = 0;
};

// The WAL as it is on disk: its header when it has a valid one.
PgResult<WalFile> open_wal(const fs::path& wal) {
  WalFile w;
  w.fd = Fd(::open(wal.c_str(), O_RDONLY | O_CLOEXEC));
  if (!w.fd) {
    if (errno == ENOENT) return w;
    return io_error("open", wal, errno);
  }
  struct stat st {};
  if (::fstat(w.fd.get(), &st) != 0) return io_error("stat", wal, errno);
  w.size = static_cast<uint64_t>(st.st_size);
  uint8_t h[kWalHeaderSize];
  auto got = pread_full(w.fd.get(), h, sizeof h, 0, wal);
  if (!got) return unexpected(got.error());
  if (*got == sizeof h) w.header = parse_wal_header(h).header;
  return w;
}

WalMark mark_at(const WalHeader& h, const WalPosition& p) {
  return {h.checkpoint_seq, h.salt1, h.salt2, p.offset, p.checksum1, p.checksum2};
}

// Reads the committed transactions of the log from `pos` up to `limit` (the file's size, or a
// commit's end known beforehand) in chunks of whole frames — a chunk grows while one
// transaction does not fit in it — and hands each chunk's scan to `on_chunk(scan, bytes, base)`
// (`bytes` read at file offset `base`). Returns where the last complete transaction ends: the
// log's end, or a torn or uncommitted tail (a COMMIT the disk refused), which is never read as
// a transaction.
template <class OnChunk>
PgResult<WalPosition> read_committed(int fd, const fs::path& wal, const WalHeader& h, WalPosition pos, uint64_t limit,
                                     std::vector<uint8_t>& buf, OnChunk&& on_chunk) {
  const size_t frame = kWalFrameHeaderSize + h.page_size;
  uint64_t frames_per_chunk = std::max<size_t>(1, kChunkBytes / frame);
  while (pos.offset + frame <= limit) {
    const uint64_t whole = (limit - pos.offset) / frame * frame;  // every whole frame left
    const size_t n = static_cast<size_t>(std::min<uint64_t>(whole, frames_per_chunk * frame));
    buf.resize(n);
    auto got = pread_full(fd, buf.data(), n, pos.offset, wal);
    if (!got) return unexpected(got.error());
    const size_t have = *got / frame * frame;
    WalScan scan = scan_wal(std::span<const uint8_t>(buf.data(), have), h, pos, pos.offset);
    if (scan.transactions == 0) {
      // No commit in the chunk: the log's committed part ends here (bad frame, end of file,
      // or frames without a commit up to the end), or one transaction outgrows the chunk.
      if (!scan.stop_reason.empty() || have < n || n >= whole) break;
      frames_per_chunk *= 2;
      continue;
    }
    if (auto s = on_chunk(scan, buf, pos.offset); !s) return unexpected(s.error());
    pos = scan.end;
    if (!scan.stop_reason.empty()) break;
  }
  return pos;
}

// Where the valid committed frames of the log end.
PgResult<WalPosition> committed_end(int fd, const fs::path& wal, const WalHeader& h, uint64_t file_size) {
  std::vector<uint8_t> buf;
  return read_committed(fd, wal, h, wal_start(h), file_size, buf,
                        [](const WalScan&, const std::vector<uint8_t>&, uint64_t) -> PgStatus { return Ok{}; });
}

}  // namespace

WalCapture::WalCapture(fs::path db_path, CaptureOptions opts)
    : db_path_(db_path), wal_path_(db_path.string() + "-wal"), opts_(std::move(opts)) {}

WalCapture::~WalCapture() {
  if (fd_ >= 0) ::close(fd_);
}

int64_t WalCapture::now_ms() const { return opts_.clock_ms ? opts_.clock_ms() : unix_ms_now(); }

PgResult<std::unique_ptr<WalCapture>> WalCapture::open(const fs::path& db_path, CaptureOptions opts) {
  std::unique_ptr<WalCapture> c(new WalCapture(db_path, std::move(opts)));
  std::lock_guard lk(c->mu_);
  if (auto s = c->start(true); !s) return unexpected(s.error());
  return c;
}

std::string WalCapture::generation() const {
  std::lock_guard lk(mu_);
  return generation_;
}

StorePosition WalCapture::position(bool upper) const {
  std::lock_guard lk(mu_);
  StorePosition p;
  p.generation = generation_;
  // Commits begun first, then the count: see commit_begin/committed.
  const uint64_t pending = upper ? pending_.load(std::memory_order_seq_cst) : 0;
  p.seq = seq_.load(std::memory_order_seq_cst) + pending;
  return p;
}

CaptureStats WalCapture::stats() const {
  std::lock_guard lk(mu_);
  CaptureStats s = stats_;
  s.generation = generation_;
  s.seq = seq_.load();
  return s;
}

PgStatus WalCapture::fail(PgError e) {
  ++stats_.errors;
  stats_.behind = true;
  stats_.last_error = e.message;
  return unexpected(std::move(e));
}

namespace {

// Where a captured transaction stands after a restart (see start()).
enum class Standing { kUnknown, kInWal, kInDatabase, kLost };

struct WalView {
  std::optional<WalHeader> header;
  WalPosition end;  // end of the valid committed frames
};

// kInWal: the log still holds the record's last frame as capture read it. kInDatabase: the
// database file holds the record's page images (its log was checkpointed). kLost: neither —
// the commit never became durable (a power cut took back its unsynced WAL frames).
PgResult<Standing> standing_of(const SegmentRecord& r, std::span<const uint8_t> seg, uint32_t page_size,
                               const WalView& wal, int wal_fd, const fs::path& wal_path, const fs::path& db) {
  if (wal.header && r.wal.salt1 == wal.header->salt1 && r.wal.salt2 == wal.header->salt2 &&
      r.wal.offset <= wal.end.offset && r.wal.offset >= kWalHeaderSize + kWalFrameHeaderSize + wal.header->page_size) {
    uint8_t fh[kWalFrameHeaderSize];
    auto got = pread_full(wal_fd, fh, sizeof fh, r.wal.offset - kWalFrameHeaderSize - wal.header->page_size, wal_path);
    if (!got) return unexpected(got.error());
    if (*got == sizeof fh && be32(fh + 4) != 0 && be32(fh + 16) == r.wal.checksum1 && be32(fh + 20) == r.wal.checksum2)
      return Standing::kInWal;
  }
  Fd fd(::open(db.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return io_error("open", db, errno);
  std::vector<uint8_t> page(page_size);
  for (const PageRef& p : record_pages(seg, r, page_size)) {
    auto got = pread_full(fd.get(), page.data(), page_size, uint64_t{p.page - 1} * page_size, db);
    if (!got) return unexpected(got.error());
    if (*got != page_size || std::memcmp(page.data(), seg.data() + p.offset, page_size) != 0) return Standing::kLost;
  }
  return Standing::kInDatabase;
}

}  // namespace

PgStatus WalCapture::start(bool startup) {
  (void)startup;
  const fs::path root = wal_root(opts_.dir);
  std::error_code ec;
  fs::create_directories(root, ec);
  if (ec) return detail::fail(kIoError, "could not create directory \"" + root.string() + "\": " + ec.message());
  auto wal = open_wal(wal_path_);
  if (!wal) return unexpected(wal.error());
  const auto gens = list_generation_dirs(root);
  if (gens.empty()) return new_generation("first start of the change capture", wal->header);
  WalView view{wal->header, {}};
  if (wal->header) {
    auto end = committed_end(wal->fd.get(), wal_path_, *wal->header, wal->size);
    if (!end) return unexpected(end.error());
    view.end = *end;
  }

  // Where the newest generation stopped: the last record of its newest non-empty segment. An
  // open segment (a crash left it) is cut after its last good record — and before any record
  // whose commit a power cut took back: its bytes reached the disk without a sync, its WAL
  // frames did not. Sealed segments were synced after the WAL: their records are durable.
  const fs::path gen = gens.back();
  bool found = false;
  uint64_t last_seq = 0;
  WalMark last_mark;
  Standing standing = Standing::kUnknown;  // of the last record (unknown: a segment header's start)
  std::optional<CloseInfo> close;
  std::optional<std::pair<fs::path, uint64_t>> close_at;  // the segment holding it, and its offset
  auto segs = list_segments(gen);
  for (auto it = segs.rbegin(); it != segs.rend() && !found; ++it) {
    auto bytes = read_whole_file(it->second);
    if (!bytes) return unexpected(bytes.error());
    std::span<const uint8_t> b(reinterpret_cast<const uint8_t*>(bytes->data()), bytes->size());
    SegmentScan scan = parse_segment(b);
    if (!scan.header) {
      spdlog::warn("change capture: segment {} is unreadable ({}): set aside", it->second.string(), scan.stop_reason);
      fs::rename(it->second, it->second.string() + ".damaged", ec);
      continue;
    }
    const bool open = !it->first.last_seq;
    // The last record's standing; lost ones at the end of an open segment are dropped.
    while (!scan.records.empty() && scan.records.back().kind == RecordKind::kTransaction) {
      auto st = standing_of(scan.records.back(), b, scan.header->page_size, view, wal->fd.get(), wal_path_, db_path_);
      if (!st) return unexpected(st.error());
      standing = *st;
      if (standing != Standing::kLost || !open) break;
      spdlog::warn("change capture of {}: commit {} was captured but never became durable (a power cut): dropped",
                   db_path_.string(), scan.records.back().seq);
      scan.valid_end = scan.records.back().payload_offset - kRecordHeaderSize;
      scan.records.pop_back();
      standing = Standing::kUnknown;
    }
    if (open) {
      if (scan.valid_end < b.size()) {
        spdlog::info("change capture: cutting the end of {} after its last good record ({} bytes{}{})",
                     it->second.string(), b.size() - scan.valid_end, scan.stop_reason.empty() ? "" : ": ",
                     scan.stop_reason);
        if (::truncate(it->second.c_str(), static_cast<off_t>(scan.valid_end)) != 0)
          return io_error("truncate", it->second, errno);
      }
      uint64_t last = scan.header->first_seq - 1;
      for (const auto& r : scan.records)
        if (r.kind == RecordKind::kTransaction) last = r.seq;
      if (scan.records.empty()) {
        ::unlink(it->second.c_str());
      } else {
        fs::path sealed = gen / sealed_segment_name(scan.header->first_seq, last);
        if (auto s = fsync_path(it->second, false); !s) return s;
        if (::rename(it->second.c_str(), sealed.c_str()) != 0) return io_error("rename", it->second, errno);
        if (auto s = fsync_path(gen, true); !s) return s;
      }
    }
    if (scan.records.empty()) {
      if (open) continue;  // nothing left here: the segment before says where capture stood
      last_seq = scan.header->first_seq - 1;
      last_mark = scan.header->start;
    } else {
      const SegmentRecord& r = scan.records.back();
      last_seq = r.seq;
      last_mark = r.wal;
      if (r.kind == RecordKind::kClose) {
        close = record_close_info(b, r);
        close_at = std::make_pair(it->second, r.payload_offset - kRecordHeaderSize);
        if (it->first.last_seq && scan.records.size() == 1) close_at->second = 0;  // the segment holds nothing else
      }
    }
    found = true;
  }
  if (!found) return new_generation("the newest generation has no segment to continue from", wal->header);

  if (close) {
    // A clean stop: the file must be exactly as it was left, and the WAL hold no commit.
    auto now = describe_file(db_path_);
    if (!now || !(*now == *close)) return new_generation("the database file changed while metagate was stopped", wal->header);
    if (wal->header && view.end.offset > kWalHeaderSize)
      return new_generation("the WAL holds commits made while metagate was stopped", wal->header);
    // From now on the file is written again: the close record no longer describes it. It is
    // cut off (which needs no free space), so that a crash from here on is recovered like one
    // (from the WAL) instead of being taken for a foreign write after a clean stop.
    if (close_at) {
      if (close_at->second <= kSegmentHeaderSize) {
        if (::unlink(close_at->first.c_str()) != 0) return io_error("remove", close_at->first, errno);
      } else {
        if (::truncate(close_at->first.c_str(), static_cast<off_t>(close_at->second)) != 0)
          return io_error("truncate", close_at->first, errno);
        if (auto s = fsync_path(close_at->first, false); !s) return s;
      }
      if (auto s = fsync_path(gen, true); !s) return s;
    }
    generation_ = gen.filename().string();
    gen_dir_ = gen;
    seq_ = last_seq;
    mark_ = {};  // the next log is read from its start
    spdlog::info("change capture of {}: generation {} continues at commit {}", db_path_.string(), generation_, last_seq);
    return Ok{};
  }
  // A crash (or a kill): continue from the last captured commit where the log still holds it;
  // from the start of the log when its commit is already in the database file (the log it was
  // in was checkpointed and a new one started); else the chain is broken.
  if (standing == Standing::kLost)
    return new_generation("the last captured commit is neither in the WAL nor in the database file", wal->header);
  if (standing == Standing::kUnknown && !(wal->header && last_mark.salt1 == wal->header->salt1 && last_mark.salt2 == wal->header->salt2))
    return new_generation("the WAL is not the one capture was reading", wal->header);
  generation_ = gen.filename().string();
  gen_dir_ = gen;
  seq_ = last_seq;
  mark_ = last_mark;
  if (standing == Standing::kInDatabase) mark_ = wal->header ? mark_at(*wal->header, wal_start(*wal->header)) : WalMark{};
  const uint64_t before = last_seq;
  if (wal->header) {
    if (auto s = capture_to(*wal->header, 0); !s) {
      spdlog::warn("change capture of {}: {}", db_path_.string(), s.error().message);
      if (s.error().sqlstate == sqlstate::kDataCorrupted)
        return new_generation("the WAL does not continue where capture stopped", wal->header);
      // Could not write what it read (a full disk): the chain is intact, the WAL keeps the
      // frames; capture is behind and catches up when it can (checkpoints wait meanwhile).
      retry_end_ = view.end.offset;
      (void)fail(s.error());
      spdlog::warn("change capture of {}: generation {} continues at commit {}, behind the WAL until it can write again",
                   db_path_.string(), generation_, seq_.load());
      return Ok{};
    }
  }
  spdlog::info("change capture of {}: generation {} continues at commit {} ({} commit(s) recovered from the WAL)",
               db_path_.string(), generation_, seq_.load(), seq_.load() - before);
  return Ok{};
}

PgStatus WalCapture::new_generation(const std::string& why, const std::optional<WalHeader>& header) {
  if (auto s = seal_locked(); !s) spdlog::warn("change capture: {}", s.error().message);
  const fs::path root = wal_root(opts_.dir);
  std::string id = time_id(std::chrono::system_clock::time_point(std::chrono::milliseconds(now_ms())));
  std::error_code ec;
  for (int i = 1; fs::exists(root / id, ec); ++i) id = id.substr(0, 20) + "+" + std::to_string(i);
  if (!fs::create_directory(root / id, ec))
    return detail::fail(kIoError, "could not create directory \"" + (root / id).string() + "\": " + ec.message());
  if (auto s = fsync_path(root, true); !s) return s;
  // The commits already in the WAL are part of the generation's starting state.
  mark_ = {};
  page_size_ = 0;
  if (header) {
    auto wal = open_wal(wal_path_);
    if (!wal) return unexpected(wal.error());
    if (wal->header && wal->header->salt1 == header->salt1 && wal->header->salt2 == header->salt2) {
      auto end = committed_end(wal->fd.get(), wal_path_, *wal->header, wal->size);
      if (!end) return unexpected(end.error());
      mark_ = mark_at(*wal->header, *end);
      page_size_ = wal->header->page_size;
    }
  }
  generation_ = id;
  gen_dir_ = root / id;
  seq_ = 0;
  pending_ = 0;
  ++stats_.generations_started;
  spdlog::warn("change capture of {}: generation {} starts ({}); a snapshot is its base", db_path_.string(), id, why);
  return Ok{};
}

PgStatus WalCapture::committed(int wal_frames) {
  std::lock_guard lk(mu_);
  if (wal_fd_ < 0) {
    wal_fd_ = ::open(wal_path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (wal_fd_ < 0) return fail(io_error("open", wal_path_, errno).error);
  }
  uint8_t hb[kWalHeaderSize];
  auto got = pread_full(wal_fd_, hb, sizeof hb, 0, wal_path_);
  if (!got) return fail(got.error());
  auto hr = parse_wal_header(std::span<const uint8_t>(hb, *got));
  if (!hr.header) return fail(PgError::make(kIoError, "the WAL of \"" + db_path_.string() + "\" has no valid header: " + hr.error));
  const WalHeader& h = *hr.header;
  const uint64_t end = kWalHeaderSize + static_cast<uint64_t>(wal_frames) * (kWalFrameHeaderSize + h.page_size);
  retry_end_ = end;  // acknowledged commits up to here: retried by catch_up_locked() if this fails
  auto s = capture_to(h, end);
  if (!s) {
    if (s.error().sqlstate == sqlstate::kDataCorrupted) {
      // The chain is broken (someone else wrote to the file?): start over from here.
      spdlog::error("change capture of {}: {}", db_path_.string(), s.error().message);
      if (auto g = new_generation(s.error().message, h); !g) return fail(g.error());
      stats_.behind = false;
      pending_ = 0;
      return Ok{};
    }
    return fail(s.error());
  }
  stats_.behind = false;
  pending_.store(0, std::memory_order_seq_cst);
  return Ok{};
}

PgStatus WalCapture::capture_to(const WalHeader& h, uint64_t end) {
  WalPosition pos;
  if (mark_.offset == 0 || mark_.salt1 != h.salt1 || mark_.salt2 != h.salt2) {
    // A new log: SQLite restarted the WAL after a complete checkpoint (salt1 + 1), or capture
    // starts on a log it has not read yet.
    if (mark_.offset != 0 && !(h.salt1 == mark_.salt1 + 1 && h.checkpoint_seq == mark_.checkpoint_seq + 1))
      return detail::fail(sqlstate::kDataCorrupted, "the WAL was restarted by something other than metagate");
    pos = wal_start(h);
    mark_ = mark_at(h, pos);
  } else {
    pos = {mark_.offset, mark_.checksum1, mark_.checksum2};
    // After a commit the log must reach past what was captured: a log that ends at or before
    // it lost frames capture had kept.
    if (end != 0 && end <= pos.offset)
      return detail::fail(sqlstate::kDataCorrupted, "the WAL ends at offset " + std::to_string(end) +
                                                        ", before what capture holds (" + std::to_string(pos.offset) + ")");
  }
  page_size_ = h.page_size;
  const size_t frame = kWalFrameHeaderSize + h.page_size;
  // The writer's descriptor when there is one (at run time), else one for this call (at start).
  Fd own;
  int fd = wal_fd_;
  if (fd < 0) {
    own = Fd(::open(wal_path_.c_str(), O_RDONLY | O_CLOEXEC));
    if (!own) return io_error("open", wal_path_, errno);
    fd = own.get();
  }
  uint64_t limit = end;
  if (limit == 0) {  // to the end of the file: the scan stops at the last valid frame
    struct stat st {};
    if (::fstat(fd, &st) != 0) return io_error("stat", wal_path_, errno);
    limit = static_cast<uint64_t>(st.st_size);
  }
  auto records = [&](const WalScan& scan, const std::vector<uint8_t>& bytes, uint64_t base) -> PgStatus {
    // One record per transaction: its pages, each once (the last image of it).
    size_t first = 0;
    for (size_t i = 0; i < scan.frames.size(); ++i) {
      if (scan.frames[i].commit_size == 0) continue;
      std::vector<std::pair<uint32_t, size_t>> pages;  // page, frame offset
      for (size_t j = first; j <= i; ++j) pages.emplace_back(scan.frames[j].page, scan.frames[j].offset);
      std::stable_sort(pages.begin(), pages.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
      wbuf_.assign(kRecordHeaderSize, 0);
      for (size_t j = 0; j < pages.size(); ++j) {
        if (j + 1 < pages.size() && pages[j + 1].first == pages[j].first) continue;  // a later image follows
        append_page_prefix(wbuf_, pages[j].first);
        const uint8_t* img = bytes.data() + (pages[j].second - base) + kWalFrameHeaderSize;
        wbuf_.insert(wbuf_.end(), img, img + h.page_size);
        ++stats_.pages;
      }
      const WalFrame& c = scan.frames[i];
      const uint8_t* ch = bytes.data() + (c.offset - base);
      RecordFields f;
      f.kind = RecordKind::kTransaction;
      f.seq = seq_.load() + 1;
      f.unix_ms = now_ms();
      f.db_pages = c.commit_size;
      f.wal = {h.checkpoint_seq, h.salt1, h.salt2, c.offset + frame, be32(ch + 16), be32(ch + 20)};
      if (auto s = append_record(wbuf_, 0, f); !s) return s;
      mark_ = f.wal;
      seq_.store(f.seq, std::memory_order_seq_cst);
      ++stats_.transactions;
      stats_.last_capture_unix_ms = f.unix_ms;
      first = i + 1;
    }
    return Ok{};
  };
  auto reached = read_committed(fd, wal_path_, h, pos, limit, rbuf_, records);
  if (!reached) return unexpected(reached.error());
  pos = *reached;
  if (end != 0 && pos.offset != end)
    return detail::fail(sqlstate::kDataCorrupted, "the WAL does not continue where capture stopped (captured to offset " +
                                                      std::to_string(pos.offset) + ", the log ends at " +
                                                      std::to_string(end) + ")");
  return Ok{};
}

PgStatus WalCapture::open_segment(uint64_t first_seq, uint32_t page_size) {
  seg_path_ = gen_dir_ / open_segment_name(first_seq);
  fd_ = ::open(seg_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd_ < 0) return io_error("create", seg_path_, errno);
  std::vector<uint8_t> head;
  SegmentHeader sh;
  sh.page_size = page_size;
  sh.generation = generation_;
  sh.first_seq = first_seq;
  sh.created_unix_ms = now_ms();
  sh.start = mark_;
  encode_segment_header(head, sh, seg_c1_, seg_c2_);
  if (auto s = write_all(fd_, head.data(), head.size(), seg_path_); !s) {
    ::close(fd_);
    fd_ = -1;
    ::unlink(seg_path_.c_str());
    return s;
  }
  seg_first_ = first_seq;
  seg_last_ = first_seq - 1;
  seg_bytes_ = head.size();
  seg_created_ms_ = sh.created_unix_ms;
  unsynced_ = dir_unsynced_ = true;
  return Ok{};
}

PgStatus WalCapture::append_record(std::vector<uint8_t>& rec, size_t header_at, const RecordFields& f) {
  if (fd_ < 0) {
    if (auto s = open_segment(f.kind == RecordKind::kTransaction ? f.seq : f.seq + 1,
                              page_size_ ? page_size_ : db_page_size(db_path_));
        !s)
      return s;
  }
  uint32_t c1 = seg_c1_, c2 = seg_c2_;
  seal_record(rec, header_at, f, c1, c2);
  if (auto s = write_all(fd_, rec.data() + header_at, rec.size() - header_at, seg_path_); !s) {
    // Nothing half-written stays: the next record goes where this one should have.
    if (::ftruncate(fd_, static_cast<off_t>(seg_bytes_)) != 0 || ::lseek(fd_, static_cast<off_t>(seg_bytes_), SEEK_SET) < 0) {
      ::close(fd_);
      fd_ = -1;  // a new segment next time; this one's torn end is cut when read
    }
    return s;
  }
  seg_c1_ = c1;
  seg_c2_ = c2;
  seg_bytes_ += rec.size() - header_at;
  stats_.bytes += rec.size() - header_at;
  if (f.kind == RecordKind::kTransaction) seg_last_ = f.seq;
  unsynced_ = true;
  if (seg_bytes_ >= opts_.segment_bytes) return seal_locked();
  return Ok{};
}

PgStatus WalCapture::catch_up_locked() {
  if (!stats_.behind || retry_end_ == 0) return Ok{};
  // Only up to the end the last wal hook reported: frames after it may belong to a commit that
  // failed (SQLite would write over them).
  uint8_t hb[kWalHeaderSize];
  if (wal_fd_ < 0) return Ok{};
  auto got = pread_full(wal_fd_, hb, sizeof hb, 0, wal_path_);
  if (!got) return unexpected(got.error());
  auto hr = parse_wal_header(std::span<const uint8_t>(hb, *got));
  if (!hr.header) return Ok{};
  if (auto s = capture_to(*hr.header, retry_end_); !s) {
    if (s.error().sqlstate == sqlstate::kDataCorrupted) {
      spdlog::error("change capture of {}: {}", db_path_.string(), s.error().message);
      if (auto g = new_generation(s.error().message, *hr.header); !g) return g;
      stats_.behind = false;
      pending_ = 0;
      return Ok{};
    }
    stats_.last_error = s.error().message;
    return s;
  }
  spdlog::info("change capture of {}: caught up at commit {} ({})", db_path_.string(), seq_.load(), "after an earlier failure");
  stats_.behind = false;
  stats_.last_error.clear();
  pending_.store(0, std::memory_order_seq_cst);
  return Ok{};
}

PgStatus WalCapture::catch_up() {
  std::lock_guard lk(mu_);
  return catch_up_locked();
}

PgStatus WalCapture::sync() {
  std::lock_guard lk(mu_);
  (void)catch_up_locked();
  if (stats_.behind)
    return detail::fail(kIoError, "change capture is behind (" + stats_.last_error + "): the WAL is not checkpointed");
  if (fd_ >= 0 && unsynced_) {
    if (auto s = sync_wal_locked(); !s) return fail(s.error());
    if (::fdatasync(fd_) != 0) return fail(io_error("fsync", seg_path_, errno).error);
    unsynced_ = false;
    ++stats_.syncs;
  }
  if (dir_unsynced_) {
    if (auto s = fsync_path(gen_dir_, true); !s) return fail(s.error());
    dir_unsynced_ = false;
  }
  return Ok{};
}

PgStatus WalCapture::seal_locked() {
  if (fd_ < 0) return Ok{};
  const bool empty = seg_last_ + 1 == seg_first_ && seg_bytes_ == kSegmentHeaderSize;
  if (empty) {
    ::close(fd_);
    fd_ = -1;
    ::unlink(seg_path_.c_str());
    return Ok{};
  }
  if (auto s = sync_wal_locked(); !s) return s;
  int rc = ::fdatasync(fd_);
  int err = errno;
  ::close(fd_);
  fd_ = -1;
  if (rc != 0) return io_error("fsync", seg_path_, err);
  const fs::path sealed = gen_dir_ / sealed_segment_name(seg_first_, seg_last_);
  if (::rename(seg_path_.c_str(), sealed.c_str()) != 0) return io_error("rename", seg_path_, errno);
  unsynced_ = false;
  ++stats_.segments_sealed;
  if (auto s = fsync_path(gen_dir_, true); !s) return s;
  dir_unsynced_ = false;
  return Ok{};
}

// A record must never be durable while the WAL frames it was read from are not: after a power
// cut the database would lack a commit the segments have (one never acknowledged, but restores
// would bring it back, and the next commits would no longer match the captured chain). With
// synchronous=NORMAL (group commit) SQLite's WAL writes are not synced yet when capture reads
// them, so the WAL is synced first, then the segment.
PgStatus WalCapture::sync_wal_locked() {
  if (wal_fd_ < 0) return Ok{};
  if (::fdatasync(wal_fd_) != 0) return io_error("fsync", wal_path_, errno);
  if (opts_.on_wal_synced) opts_.on_wal_synced();
  return Ok{};
}

PgStatus WalCapture::seal_if_due() {
  std::lock_guard lk(mu_);
  if (auto c = catch_up_locked(); !c) return c;
  if (fd_ < 0 || now_ms() - seg_created_ms_ < opts_.segment_ms) return Ok{};
  return seal_locked();
}

PgStatus WalCapture::closed_cleanly() {
  std::lock_guard lk(mu_);
  (void)catch_up_locked();
  if (stats_.behind) return detail::fail(kIoError, "change capture is behind: no clean close recorded");
  auto info = describe_file(db_path_);
  if (!info) return io_error("stat", db_path_, errno);
  std::vector<uint8_t> rec(kRecordHeaderSize, 0);
  append_close_info(rec, *info);
  RecordFields f;
  f.kind = RecordKind::kClose;
  f.seq = seq_.load();
  f.unix_ms = now_ms();
  f.wal = mark_;
  if (auto s = append_record(rec, 0, f); !s) return s;
  return seal_locked();
}

}  // namespace metagate::backup
