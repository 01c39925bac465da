// Fuzz target: the WAL decoder (parse_wal_header, scan_wal) — change capture reads -wal files
// that a crash may have left half-written.
//
// Input: byte 0 picks the mode.
//   0  the rest is a WAL file as it is
//   1  the rest is made into a log SQLite could have written (page size 512, header and frame
//      checksums computed, salts set), byte 1 picks one frame whose byte it flips (0 = none):
//      the scan must then stop at or before that frame
// Checked: no crash; what a scan returns is committed frames in order, its end is a frame
// boundary within the data, and a second scan from its end finds nothing new.
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "fuzz_common.hpp"
#include "metagate/backup/wal.hpp"

using namespace metagate::backup;

namespace {
void put32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Input in(data, size);
  const uint8_t mode = in.byte() % 2;
  std::vector<uint8_t> wal;
  size_t damaged_frame = 0;
  if (mode == 0) {
    std::string_view rest = in.rest();
    wal.assign(rest.begin(), rest.end());
  } else {
    damaged_frame = in.byte() % 8;
    std::string_view rest = in.rest();
    constexpr uint32_t ps = 512;
    const size_t frames = std::min<size_t>(rest.size() / 8 + 1, 16);
    wal.assign(kWalHeaderSize + frames * (kWalFrameHeaderSize + ps), 0);
    put32(wal.data(), 0x377f0682);
    put32(wal.data() + 4, 3007000);
    put32(wal.data() + 8, ps);
    put32(wal.data() + 16, 7);
    put32(wal.data() + 20, 11);
    uint32_t s1 = 0, s2 = 0;
    wal_checksum(false, std::span<const uint8_t>(wal.data(), 24), s1, s2);
    put32(wal.data() + 24, s1);
    put32(wal.data() + 28, s2);
    for (size_t i = 0; i < frames; ++i) {
      uint8_t* f = wal.data() + kWalHeaderSize + i * (kWalFrameHeaderSize + ps);
      const uint8_t b = i < rest.size() ? static_cast<uint8_t>(rest[i]) : 0;
      put32(f, 1 + b % 50);                            // page
      put32(f + 4, (b & 0x80) ? 1 + b % 50 : 0);       // commit frame or not
      put32(f + 8, 7);
      put32(f + 12, 11);
      for (uint32_t k = 0; k < ps; ++k) f[kWalFrameHeaderSize + k] = static_cast<uint8_t>(rest.empty() ? k : rest[k % rest.size()] + k);
      wal_checksum(false, std::span<const uint8_t>(f, 8), s1, s2);
      wal_checksum(false, std::span<const uint8_t>(f + kWalFrameHeaderSize, ps), s1, s2);
      put32(f + 16, s1);
      put32(f + 20, s2);
    }
    if (damaged_frame > 0 && damaged_frame <= frames)
      wal[kWalHeaderSize + (damaged_frame - 1) * (kWalFrameHeaderSize + ps) + kWalFrameHeaderSize + 3] ^= 0x10;
  }
  auto h = parse_wal_header(wal);
  if (!h.header) {
    FUZZ_CHECK(!h.error.empty(), "header refused without a reason");
    FUZZ_CHECK(mode == 0, "a header built with its checksum was refused: %s", h.error.c_str());
    return 0;
  }
  const size_t frame_size = kWalFrameHeaderSize + h.header->page_size;
  auto s = scan_wal(wal, *h.header, wal_start(*h.header));
  FUZZ_CHECK(s.end.offset <= wal.size() || s.end.offset == kWalHeaderSize, "scan ended past the data");
  FUZZ_CHECK((s.end.offset - kWalHeaderSize) % frame_size == 0, "scan ended inside a frame");
  FUZZ_CHECK(s.frames.empty() || s.frames.back().commit_size != 0, "scan kept frames after the last commit");
  for (size_t i = 0; i < s.frames.size(); ++i)
    FUZZ_CHECK(s.frames[i].offset == kWalHeaderSize + i * frame_size, "frame %zu out of order", i);
  if (mode == 1 && damaged_frame > 0) {
    FUZZ_CHECK(s.end.offset <= kWalHeaderSize + (damaged_frame - 1) * frame_size, "a damaged frame was accepted");
  }
  auto again = scan_wal(wal, *h.header, s.end);
  FUZZ_CHECK(again.transactions == 0 && again.end.offset == s.end.offset, "a second scan found more");
  return 0;
}
