// Segments: the files the change capture writes (docs/BACKUP.md, "Change capture"). Each holds
// the committed transactions of one stretch of a generation, in commit order, as the page
// images SQLite wrote to its WAL for them: applying them in order to a snapshot of the same
// generation rebuilds the database at any commit after it.
//
// Layout (integers little-endian):
//   segment header (96 bytes): "MGSEG001", version, page size, generation (24 bytes, NUL
//     padded), first sequence number, creation time, the WAL position the segment starts at,
//     checksum
//   records, each: a 64-byte header (kind, payload length, sequence number, time, database
//     size in pages after the commit, the WAL position after it, checksum) and a payload:
//     transactions: per page, its number (4 bytes), 4 zero bytes, the page
//     close: the database file as a clean stop left it (size, mtime, inode, device, page 1's
//       hash) — what tells a restart that nothing wrote to the file in between
//     compacted: like a transaction, but standing for every commit from the one after the
//       previous record (or the header's first sequence number) up to its own: each page those
//       commits wrote appears once, as the last of them left it (compact.hpp)
// The checksums are SQLite's WAL checksum (little-endian words), cumulative from the header
// through every record: a record is good only if every one before it is, so a torn or stale
// tail is found and cut off. No I/O here: the decoder is tested and fuzzed on bytes.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace metagate::backup {

inline constexpr size_t kSegmentHeaderSize = 96;
inline constexpr size_t kRecordHeaderSize = 64;
inline constexpr size_t kMaxGenerationLength = 24;

// A position in SQLite's WAL: the log generation (its checkpoint counter and salts) and the
// offset just after a commit frame, with the running checksum there. offset 0: no log known
// (the next one is read from its start).
struct WalMark {
  uint32_t checkpoint_seq = 0;
  uint32_t salt1 = 0, salt2 = 0;
  uint64_t offset = 0;
  uint32_t checksum1 = 0, checksum2 = 0;
  friend bool operator==(const WalMark&, const WalMark&) = default;
};

struct SegmentHeader {
  uint32_t page_size = 0;
  std::string generation;
  uint64_t first_seq = 0;  // of the first transaction this segment may hold
  int64_t created_unix_ms = 0;
  WalMark start;           // the WAL position before that transaction
};

enum class RecordKind : uint32_t { kTransaction = 1, kClose = 2, kCompacted = 3 };

struct CloseInfo {
  uint64_t db_bytes = 0;
  int64_t mtime_ns = 0;
  uint64_t inode = 0;
  uint64_t device = 0;
  std::array<uint8_t, 16> page1_hash{};  // first 16 bytes of SHA-256 of the file's first page
  friend bool operator==(const CloseInfo&, const CloseInfo&) = default;
};
inline constexpr size_t kCloseInfoSize = 48;

struct SegmentRecord {
  RecordKind kind = RecordKind::kTransaction;
  uint64_t seq = 0;        // transactions: the commit's number in the generation (from 1); close: the last one
  uint64_t first_seq = 0;  // the first commit the record stands for (== seq but for compacted records)
  int64_t unix_ms = 0;     // when it was captured (right after the commit)
  uint32_t db_pages = 0;   // database size in pages after the commit
  WalMark wal;             // the WAL position after it
  size_t payload_offset = 0;  // in the segment's bytes
  size_t payload_size = 0;
};

struct PageRef {
  uint32_t page = 0;
  size_t offset = 0;  // of the page's bytes in the segment's bytes
};

struct SegmentScan {
  std::optional<SegmentHeader> header;
  std::vector<SegmentRecord> records;
  size_t valid_end = 0;  // end of the last good record (or of the header)
  uint32_t checksum1 = 0, checksum2 = 0;  // the running checksum there (to append after it)
  std::string stop_reason;  // why the bytes after valid_end are not records ("" at the end)
};

SegmentScan parse_segment(std::span<const uint8_t> bytes);

// The pages of a transaction or compacted record of `bytes` (as parse_segment returned it), in order.
std::vector<PageRef> record_pages(std::span<const uint8_t> bytes, const SegmentRecord& r, uint32_t page_size);
std::optional<CloseInfo> record_close_info(std::span<const uint8_t> bytes, const SegmentRecord& r);

// ---- encoding ----

// Appends the header; (c1, c2) start the checksum chain.
void encode_segment_header(std::vector<uint8_t>& out, const SegmentHeader& h, uint32_t& c1, uint32_t& c2);

// Appends one record whose payload was already appended at out[payload_at..] (so pages are
// copied once, straight into the output), with the header placed before it: the caller reserves
// kRecordHeaderSize bytes at `header_at` first. Continues the checksum chain (c1, c2).
struct RecordFields {
  RecordKind kind = RecordKind::kTransaction;
  uint64_t seq = 0;
  int64_t unix_ms = 0;
  uint32_t db_pages = 0;
  WalMark wal;
};
void seal_record(std::vector<uint8_t>& out, size_t header_at, const RecordFields& f, uint32_t& c1, uint32_t& c2);

// A record too big to build in memory (a compacted one), its header written last: created
// with the fields and the payload's length (the header enters the checksum chain first), fed
// the payload in order in pieces whose sizes are multiples of 8, then finished: the 64-byte
// header to place before the payload, and the chain continued in (c1, c2).
class RecordStream {
 public:
  RecordStream(const RecordFields& f, uint32_t payload_size, uint32_t c1, uint32_t c2);
  void feed(std::span<const uint8_t> part);
  std::array<uint8_t, kRecordHeaderSize> finish(uint32_t& c1, uint32_t& c2);

 private:
  std::array<uint8_t, kRecordHeaderSize> header_{};
  uint32_t c1_ = 0, c2_ = 0;
};

// A page entry's prefix in a transaction payload (page number, 4 zero bytes).
void append_page_prefix(std::vector<uint8_t>& out, uint32_t page);
void append_close_info(std::vector<uint8_t>& out, const CloseInfo& c);

// File names: "<first seq, 16 digits>.open" while written, "<first>-<last>.seg" once sealed.
std::string open_segment_name(uint64_t first_seq);
std::string sealed_segment_name(uint64_t first_seq, uint64_t last_seq);
struct SegmentName {
  uint64_t first_seq = 0;
  std::optional<uint64_t> last_seq;  // nullopt: still open
};
std::optional<SegmentName> parse_segment_name(const std::string& file_name);

}  // namespace metagate::backup
