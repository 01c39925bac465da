// SQLite WAL decoding: header, frames, cumulative checksums, commit boundaries.
#include "metagate/backup/wal.hpp"

namespace metagate::backup {

namespace {

constexpr uint32_t kMagicLittle = 0x377f0682;
constexpr uint32_t kMagicBig = 0x377f0683;
constexpr uint32_t kVersion = 3007000;

uint32_t be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}
uint32_t le32(const uint8_t* p) {
  return (uint32_t{p[3]} << 24) | (uint32_t{p[2]} << 16) | (uint32_t{p[1]} << 8) | uint32_t{p[0]};
}

}  // namespace

void wal_checksum(bool big_endian, std::span<const uint8_t> data, uint32_t& s1, uint32_t& s2) {
  const uint8_t* p = data.data();
  const uint8_t* end = p + (data.size() & ~size_t{7});
  for (; p < end; p += 8) {
    uint32_t a = big_endian ? be32(p) : le32(p);
    uint32_t b = big_endian ? be32(p + 4) : le32(p + 4);
    s1 += a + s2;
    s2 += b + s1;
  }
}

WalHeaderResult parse_wal_header(std::span<const uint8_t> b) {
  WalHeaderResult r;
  if (b.size() < kWalHeaderSize) {
    r.error = "shorter than a WAL header (" + std::to_string(b.size()) + " bytes)";
    return r;
  }
  const uint32_t magic = be32(b.data());
  if (magic != kMagicLittle && magic != kMagicBig) {
    r.error = "not a WAL file (bad magic number)";
    return r;
  }
  WalHeader h;
  h.big_endian = magic == kMagicBig;
  h.version = be32(b.data() + 4);
  h.page_size = be32(b.data() + 8);
  h.checkpoint_seq = be32(b.data() + 12);
  h.salt1 = be32(b.data() + 16);
  h.salt2 = be32(b.data() + 20);
  h.checksum1 = be32(b.data() + 24);
  h.checksum2 = be32(b.data() + 28);
  if (h.version != kVersion) {
    r.error = "unknown WAL format version " + std::to_string(h.version);
    return r;
  }
  if (h.page_size < 512 || h.page_size > 65536 || (h.page_size & (h.page_size - 1)) != 0) {
    r.error = "invalid page size " + std::to_string(h.page_size);
    return r;
  }
  uint32_t s1 = 0, s2 = 0;
  wal_checksum(h.big_endian, b.first(24), s1, s2);
  if (s1 != h.checksum1 || s2 != h.checksum2) {
    r.error = "WAL header checksum mismatch";
    return r;
  }
  r.header = h;
  return r;
}

WalScan scan_wal(std::span<const uint8_t> wal, const WalHeader& h, WalPosition from, size_t base) {
  WalScan out;
  out.end = from;
  const size_t frame_size = kWalFrameHeaderSize + h.page_size;
  uint32_t s1 = from.checksum1, s2 = from.checksum2;
  size_t pending_from = out.frames.size();  // frames of the transaction being read
  size_t off = from.offset;
  if (off < kWalHeaderSize) off = kWalHeaderSize;
  if (off < base) return out;  // the bytes do not reach back to the position
  const size_t end = base + wal.size();
  while (off <= end && end - off >= frame_size) {
    const uint8_t* f = wal.data() + (off - base);
    if (be32(f + 8) != h.salt1 || be32(f + 12) != h.salt2) {
      out.stop_reason = "frame at offset " + std::to_string(off) + ": salts of another log generation";
      break;
    }
    uint32_t c1 = s1, c2 = s2;
    wal_checksum(h.big_endian, std::span<const uint8_t>(f, 8), c1, c2);
    wal_checksum(h.big_endian, std::span<const uint8_t>(f + kWalFrameHeaderSize, h.page_size), c1, c2);
    if (c1 != be32(f + 16) || c2 != be32(f + 20)) {
      out.stop_reason = "frame at offset " + std::to_string(off) + ": checksum mismatch";
      break;
    }
    const uint32_t page = be32(f);
    if (page == 0) {
      out.stop_reason = "frame at offset " + std::to_string(off) + ": page number 0";
      break;
    }
    s1 = c1;
    s2 = c2;
    WalFrame fr{page, be32(f + 4), off};
    out.frames.push_back(fr);
    off += frame_size;
    if (fr.commit_size != 0) {
      ++out.transactions;
      pending_from = out.frames.size();
      out.end = {off, s1, s2};
    }
  }
  // Frames after the last commit belong to a transaction not (yet) committed: not ours to keep.
  out.uncommitted_frames = out.frames.size() - pending_from;
  out.frames.resize(pending_from);
  return out;
}

}  // namespace metagate::backup
