// Segment files of the change capture: encoding and decoding (no I/O).
#include "metagate/backup/segment.hpp"

#include <cstdio>
#include <cstring>

#include "metagate/backup/wal.hpp"

namespace metagate::backup {

namespace {

constexpr char kMagic[8] = {'M', 'G', 'S', 'E', 'G', '0', '0', '1'};
constexpr uint32_t kVersion = 1;

void put32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
void put64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
uint32_t get32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
uint64_t get64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// WalMark: 28 bytes.
void put_mark(uint8_t* p, const WalMark& m) {
  put32(p, m.checkpoint_seq);
  put32(p + 4, m.salt1);
  put32(p + 8, m.salt2);
  put64(p + 12, m.offset);
  put32(p + 20, m.checksum1);
  put32(p + 24, m.checksum2);
}
WalMark get_mark(const uint8_t* p) {
  return {get32(p), get32(p + 4), get32(p + 8), get64(p + 12), get32(p + 20), get32(p + 24)};
}

void checksum(std::span<const uint8_t> data, uint32_t& c1, uint32_t& c2) { wal_checksum(false, data, c1, c2); }

// Record header offsets.
constexpr size_t kKind = 0, kPayload = 4, kSeq = 8, kTime = 16, kDbPages = 24, kMark = 28, kSum = 56;
// Segment header offsets.
constexpr size_t kHVersion = 8, kHPageSize = 12, kHGeneration = 16, kHFirst = 40, kHCreated = 48, kHMark = 56,
                 kHSum = 88;

}  // namespace

void encode_segment_header(std::vector<uint8_t>& out, const SegmentHeader& h, uint32_t& c1, uint32_t& c2) {
  const size_t at = out.size();
  out.resize(at + kSegmentHeaderSize, 0);
  uint8_t* p = out.data() + at;
  std::memcpy(p, kMagic, 8);
  put32(p + kHVersion, kVersion);
  put32(p + kHPageSize, h.page_size);
  std::memcpy(p + kHGeneration, h.generation.data(), std::min(h.generation.size(), kMaxGenerationLength));
  put64(p + kHFirst, h.first_seq);
  put64(p + kHCreated, static_cast<uint64_t>(h.created_unix_ms));
  put_mark(p + kHMark, h.start);
  c1 = c2 = 0;
  checksum(std::span<const uint8_t>(p, kHSum), c1, c2);
  put32(p + kHSum, c1);
  put32(p + kHSum + 4, c2);
}

namespace {

void put_record_fields(uint8_t* p, const RecordFields& f, uint32_t payload) {
  put32(p + kKind, static_cast<uint32_t>(f.kind));
  put32(p + kPayload, payload);
  put64(p + kSeq, f.seq);
  put64(p + kTime, static_cast<uint64_t>(f.unix_ms));
  put32(p + kDbPages, f.db_pages);
  put_mark(p + kMark, f.wal);
}

}  // namespace

RecordStream::RecordStream(const RecordFields& f, uint32_t payload_size, uint32_t c1, uint32_t c2) : c1_(c1), c2_(c2) {
  put_record_fields(header_.data(), f, payload_size);
  checksum(std::span<const uint8_t>(header_.data(), kSum), c1_, c2_);
}

void RecordStream::feed(std::span<const uint8_t> part) { checksum(part, c1_, c2_); }

std::array<uint8_t, kRecordHeaderSize> RecordStream::finish(uint32_t& c1, uint32_t& c2) {
  put32(header_.data() + kSum, c1_);
  put32(header_.data() + kSum + 4, c2_);
  c1 = c1_;
  c2 = c2_;
  return header_;
}

void seal_record(std::vector<uint8_t>& out, size_t header_at, const RecordFields& f, uint32_t& c1, uint32_t& c2) {
  uint8_t* p = out.data() + header_at;
  const size_t payload = out.size() - header_at - kRecordHeaderSize;
  put_record_fields(p, f, static_cast<uint32_t>(payload));
  checksum(std::span<const uint8_t>(p, kSum), c1, c2);
  checksum(std::span<const uint8_t>(p + kRecordHeaderSize, payload), c1, c2);
  put32(p + kSum, c1);
  put32(p + kSum + 4, c2);
}

void append_page_prefix(std::vector<uint8_t>& out, uint32_t page) {
  const size_t at = out.size();
  out.resize(at + 8, 0);
  put32(out.data() + at, page);
}

void append_close_info(std::vector<uint8_t>& out, const CloseInfo& c) {
  const size_t at = out.size();
  out.resize(at + kCloseInfoSize, 0);
  uint8_t* p = out.data() + at;
  put64(p, c.db_bytes);
  put64(p + 8, static_cast<uint64_t>(c.mtime_ns));
  put64(p + 16, c.inode);
  put64(p + 24, c.device);
  std::memcpy(p + 32, c.page1_hash.data(), 16);
}

SegmentScan parse_segment(std::span<const uint8_t> b) {
  SegmentScan out;
  if (b.size() < kSegmentHeaderSize) {
    out.stop_reason = "shorter than a segment header";
    return out;
  }
  const uint8_t* p = b.data();
  if (std::memcmp(p, kMagic, 8) != 0) {
    out.stop_reason = "not a metagate segment (bad magic)";
    return out;
  }
  uint32_t c1 = 0, c2 = 0;
  checksum(std::span<const uint8_t>(p, kHSum), c1, c2);
  if (c1 != get32(p + kHSum) || c2 != get32(p + kHSum + 4)) {
    out.stop_reason = "segment header checksum mismatch";
    return out;
  }
  if (get32(p + kHVersion) != kVersion) {
    out.stop_reason = "unknown segment version " + std::to_string(get32(p + kHVersion));
    return out;
  }
  SegmentHeader h;
  h.page_size = get32(p + kHPageSize);
  if (h.page_size < 512 || h.page_size > 65536 || (h.page_size & (h.page_size - 1)) != 0) {
    out.stop_reason = "invalid page size " + std::to_string(h.page_size);
    return out;
  }
  const char* g = reinterpret_cast<const char*>(p + kHGeneration);
  h.generation.assign(g, strnlen(g, kMaxGenerationLength));
  h.first_seq = get64(p + kHFirst);
  h.created_unix_ms = static_cast<int64_t>(get64(p + kHCreated));
  h.start = get_mark(p + kHMark);
  out.header = h;
  out.valid_end = kSegmentHeaderSize;
  out.checksum1 = c1;
  out.checksum2 = c2;

  const size_t page_entry = 8 + size_t{h.page_size};
  // A page list: whole entries, page numbers inside the database size after the record.
  auto check_pages = [&](const SegmentRecord& rec) -> std::string {
    if (rec.payload_size % page_entry != 0) return "payload is not a whole number of pages";
    if (rec.db_pages == 0) return "database size 0";
    for (size_t q = rec.payload_offset; q < rec.payload_offset + rec.payload_size; q += page_entry)
      if (get32(p + q) == 0 || get32(p + q) > rec.db_pages) return "page number " + std::to_string(get32(p + q)) + " outside the database";
    return "";
  };
  uint64_t expect_seq = h.first_seq;
  size_t off = kSegmentHeaderSize;
  while (off < b.size()) {
    if (b.size() - off < kRecordHeaderSize) {
      out.stop_reason = "record header at offset " + std::to_string(off) + " is incomplete";
      break;
    }
    const uint8_t* r = p + off;
    const size_t payload = get32(r + kPayload);
    if (payload > b.size() - off - kRecordHeaderSize) {
      out.stop_reason = "record at offset " + std::to_string(off) + " is incomplete";
      break;
    }
    uint32_t n1 = c1, n2 = c2;
    checksum(std::span<const uint8_t>(r, kSum), n1, n2);
    checksum(std::span<const uint8_t>(r + kRecordHeaderSize, payload), n1, n2);
    if (n1 != get32(r + kSum) || n2 != get32(r + kSum + 4)) {
      out.stop_reason = "record at offset " + std::to_string(off) + ": checksum mismatch";
      break;
    }
    SegmentRecord rec;
    const uint32_t kind = get32(r + kKind);
    rec.seq = get64(r + kSeq);
    rec.unix_ms = static_cast<int64_t>(get64(r + kTime));
    rec.db_pages = get32(r + kDbPages);
    rec.wal = get_mark(r + kMark);
    rec.payload_offset = off + kRecordHeaderSize;
    rec.payload_size = payload;
    std::string bad;
    if (kind == static_cast<uint32_t>(RecordKind::kTransaction)) {
      rec.kind = RecordKind::kTransaction;
      if (rec.seq != expect_seq) bad = "sequence number " + std::to_string(rec.seq) + ", expected " + std::to_string(expect_seq);
      else bad = check_pages(rec);
      rec.first_seq = rec.seq;
      if (bad.empty()) ++expect_seq;
    } else if (kind == static_cast<uint32_t>(RecordKind::kCompacted)) {
      rec.kind = RecordKind::kCompacted;
      rec.first_seq = expect_seq;
      if (rec.seq < expect_seq) bad = "compacted record up to " + std::to_string(rec.seq) + ", expected at least " + std::to_string(expect_seq);
      else bad = check_pages(rec);
      if (bad.empty()) expect_seq = rec.seq + 1;
    } else if (kind == static_cast<uint32_t>(RecordKind::kClose)) {
      rec.kind = RecordKind::kClose;
      if (payload != kCloseInfoSize) bad = "close record of " + std::to_string(payload) + " bytes";
      else if (rec.seq + 1 != expect_seq) bad = "close record after sequence number " + std::to_string(rec.seq);
    } else {
      bad = "unknown record kind " + std::to_string(kind);
    }
    if (!bad.empty()) {
      out.stop_reason = "record at offset " + std::to_string(off) + ": " + bad;
      break;
    }
    c1 = n1;
    c2 = n2;
    off += kRecordHeaderSize + payload;
    out.records.push_back(rec);
    out.valid_end = off;
    out.checksum1 = c1;
    out.checksum2 = c2;
  }
  return out;
}

std::vector<PageRef> record_pages(std::span<const uint8_t> b, const SegmentRecord& r, uint32_t page_size) {
  std::vector<PageRef> out;
  if (r.kind != RecordKind::kTransaction && r.kind != RecordKind::kCompacted) return out;
  const size_t entry = 8 + size_t{page_size};
  out.reserve(r.payload_size / entry);
  if (r.payload_offset + r.payload_size > b.size()) return out;
  for (size_t q = r.payload_offset; q + entry <= r.payload_offset + r.payload_size; q += entry)
    out.push_back({get32(b.data() + q), q + 8});
  return out;
}

std::optional<CloseInfo> record_close_info(std::span<const uint8_t> b, const SegmentRecord& r) {
  if (r.kind != RecordKind::kClose || r.payload_size != kCloseInfoSize || r.payload_offset + kCloseInfoSize > b.size())
    return std::nullopt;
  const uint8_t* p = b.data() + r.payload_offset;
  CloseInfo c;
  c.db_bytes = get64(p);
  c.mtime_ns = static_cast<int64_t>(get64(p + 8));
  c.inode = get64(p + 16);
  c.device = get64(p + 24);
  std::memcpy(c.page1_hash.data(), p + 32, 16);
  return c;
}

std::string open_segment_name(uint64_t first_seq) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%016llu.open", static_cast<unsigned long long>(first_seq));
  return buf;
}

std::string sealed_segment_name(uint64_t first_seq, uint64_t last_seq) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%016llu-%016llu.seg", static_cast<unsigned long long>(first_seq),
                static_cast<unsigned long long>(last_seq));
  return buf;
}

std::optional<SegmentName> parse_segment_name(const std::string& n) {
  auto digits = [&](size_t at) -> std::optional<uint64_t> {
    if (n.size() < at + 16) return std::nullopt;
    uint64_t v = 0;
    for (size_t i = at; i < at + 16; ++i) {
      if (n[i] < '0' || n[i] > '9') return std::nullopt;
      v = v * 10 + static_cast<uint64_t>(n[i] - '0');
    }
    return v;
  };
  auto first = digits(0);
  if (!first) return std::nullopt;
  if (n.size() == 21 && n.substr(16) == ".open") return SegmentName{*first, std::nullopt};
  if (n.size() == 37 && n[16] == '-' && n.substr(33) == ".seg") {
    auto last = digits(17);
    if (!last || *last + 1 < *first) return std::nullopt;
    return SegmentName{*first, *last};
  }
  return std::nullopt;
}

}  // namespace metagate::backup
