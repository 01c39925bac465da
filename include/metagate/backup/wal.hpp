// Reading SQLite's write-ahead log: the header, the frames, their checksums and which of them
// are committed. The base of change capture (docs/BACKUP.md): after each commit the new frames
// of the WAL are exactly that transaction, and they are read, checked and kept before anything
// may checkpoint them. No I/O here: callers hand in the bytes (a whole -wal file or the part
// after a known position), so the decoder is tested and fuzzed on its own.
//
// Format (https://www.sqlite.org/fileformat2.html, "The WAL File Format"): a 32-byte header,
// then frames of a 24-byte header plus one page. Every integer is big-endian. The checksums are
// cumulative: the header's covers its first 24 bytes, each frame's continues from the previous
// frame's (or the header's) over the frame header's first 8 bytes and the page, reading the
// input as 32-bit words in the byte order the magic number names. A frame belongs to the log
// only when its salts equal the header's and its checksum matches; a transaction is committed
// at a frame whose "database size after commit" is not zero.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace metagate::backup {

inline constexpr size_t kWalHeaderSize = 32;
inline constexpr size_t kWalFrameHeaderSize = 24;

struct WalHeader {
  bool big_endian = false;  // the checksum words' byte order (magic 0x377f0683), not the fields'
  uint32_t version = 0;
  uint32_t page_size = 0;
  uint32_t checkpoint_seq = 0;
  uint32_t salt1 = 0, salt2 = 0;
  uint32_t checksum1 = 0, checksum2 = 0;
};

// The header, if the first 32 bytes are a valid one (magic, version 3007000, a power-of-two
// page size from 512 to 65536, and its checksum); the reason otherwise.
struct WalHeaderResult {
  std::optional<WalHeader> header;
  std::string error;
};
WalHeaderResult parse_wal_header(std::span<const uint8_t> bytes);

struct WalFrame {
  uint32_t page = 0;         // page number, from 1
  uint32_t commit_size = 0;  // database size in pages after this commit; 0 = not a commit frame
  size_t offset = 0;         // of the frame header in the WAL
};

// Where a scan stopped: continue from here with the bytes that follow.
struct WalPosition {
  size_t offset = kWalHeaderSize;  // the next frame's offset
  uint32_t checksum1 = 0, checksum2 = 0;  // the running checksum there
};

struct WalScan {
  std::vector<WalFrame> frames;  // committed frames only, in log order
  WalPosition end;               // just after the last commit frame
  size_t transactions = 0;       // commit frames seen
  size_t uncommitted_frames = 0; // valid frames after the last commit (a transaction being written)
  // Why the scan stopped before the end of the bytes: a frame whose salts or checksum do not
  // match ("" at the end of the data). Frames of an older log generation after a WAL reset
  // stop it here too, as they must.
  std::string stop_reason;
};

// Scans `wal` — the bytes of the file from offset `base` (0: the whole file) — from `from` (a
// position an earlier scan returned, or the start: {32, header checksums}; at or after `base`).
// Frames past the data's end are not read. Offsets in the result are offsets in the file.
WalScan scan_wal(std::span<const uint8_t> wal, const WalHeader& header, WalPosition from, size_t base = 0);

// The start position of a log: just after its header, with the header's checksum.
inline WalPosition wal_start(const WalHeader& h) { return {kWalHeaderSize, h.checksum1, h.checksum2}; }

// SQLite's WAL checksum over `data` (a multiple of 8 bytes), continuing from (s1, s2).
void wal_checksum(bool big_endian, std::span<const uint8_t> data, uint32_t& s1, uint32_t& s2);

}  // namespace metagate::backup
