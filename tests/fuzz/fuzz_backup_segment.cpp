// Fuzz target: the segment decoder (parse_segment, record_pages, record_close_info) — restore
// and a restarting capture read segment files a crash or a bad disk may have cut or damaged.
//
// Input: byte 0 picks the mode.
//   0  the rest is a segment file as it is
//   1  the rest shapes a valid segment (page size 512: per record, one byte says how many pages,
//      the bytes fill them; byte 1 % 4 == 3 appends a close record), byte 2..3 pick a byte to
//      flip (0 = none) and byte 4 where to cut it (0 = nowhere)
// Checked: no crash; what is returned lies inside the data; transaction numbers follow each
// other from the header's first one; a damaged or cut segment stops at or before the damage;
// the bytes up to valid_end parse again to the same records with nothing left over.
#include <string>
#include <vector>

#include "fuzz_common.hpp"
#include "metagate/backup/segment.hpp"

using namespace metagate::backup;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Input in(data, size);
  const uint8_t mode = in.byte() % 2;
  std::vector<uint8_t> seg;
  size_t damage = 0, cut = 0;
  if (mode == 0) {
    std::string_view rest = in.rest();
    seg.assign(rest.begin(), rest.end());
  } else {
    const bool close = in.byte() % 4 == 3;
    damage = in.u16();
    cut = in.byte();
    std::string_view rest = in.rest();
    constexpr uint32_t ps = 512;
    uint32_t c1 = 0, c2 = 0;
    encode_segment_header(seg, SegmentHeader{ps, "20261206T100000.000Z", 5, 1, WalMark{1, 2, 3, 32, 4, 5}}, c1, c2);
    uint64_t seq = 5;
    size_t at = 0;
    for (int r = 0; r < 6 && at < rest.size(); ++r) {
      const size_t pages = 1 + static_cast<uint8_t>(rest[at++]) % 3;
      const size_t h = seg.size();
      seg.resize(h + kRecordHeaderSize);
      for (size_t p = 0; p < pages; ++p) {
        append_page_prefix(seg, static_cast<uint32_t>(1 + p));
        for (uint32_t k = 0; k < ps; ++k) seg.push_back(at < rest.size() ? static_cast<uint8_t>(rest[at] + k) : 0);
        if (at < rest.size()) ++at;
      }
      seal_record(seg, h, RecordFields{RecordKind::kTransaction, seq++, 1000, 10, WalMark{1, 2, 3, 600, 6, 7}}, c1, c2);
    }
    if (close) {
      const size_t h = seg.size();
      seg.resize(h + kRecordHeaderSize);
      append_close_info(seg, CloseInfo{});
      seal_record(seg, h, RecordFields{RecordKind::kClose, seq - 1, 2000, 0, WalMark{}}, c1, c2);
    }
    if (damage > 0 && damage < seg.size()) seg[damage] ^= 0x20;
    else damage = 0;
    if (cut > 0 && cut * 97 < seg.size()) seg.resize(cut * 97);
    else cut = 0;
  }
  SegmentScan s = parse_segment(seg);
  FUZZ_CHECK(s.valid_end <= seg.size(), "valid_end past the data");
  if (mode == 1 && damage == 0 && cut == 0) {
    FUZZ_CHECK(s.header && s.stop_reason.empty() && s.valid_end == seg.size(), "a valid segment was refused: %s",
               s.stop_reason.c_str());
  }
  if (!s.header) {
    FUZZ_CHECK(s.records.empty() && !s.stop_reason.empty(), "no header but records, or no reason");
    return 0;
  }
  if (mode == 1 && damage != 0) FUZZ_CHECK(s.valid_end <= damage || damage >= seg.size(), "a damaged record was accepted");
  uint64_t next = s.header->first_seq;
  for (const SegmentRecord& r : s.records) {
    FUZZ_CHECK(r.payload_offset + r.payload_size <= s.valid_end, "a record lies past valid_end");
    if (r.kind == RecordKind::kTransaction) {
      FUZZ_CHECK(r.seq == next, "transaction %llu where %llu was expected", static_cast<unsigned long long>(r.seq),
                 static_cast<unsigned long long>(next));
      ++next;
      for (const PageRef& p : record_pages(seg, r, s.header->page_size)) {
        FUZZ_CHECK(p.page >= 1 && p.page <= r.db_pages, "page outside the database");
        FUZZ_CHECK(p.offset + s.header->page_size <= seg.size(), "page outside the data");
      }
    } else {
      FUZZ_CHECK(record_close_info(seg, r).has_value(), "a close record without its information");
    }
  }
  std::vector<uint8_t> prefix(seg.begin(), seg.begin() + static_cast<long>(s.valid_end));
  SegmentScan again = parse_segment(prefix);
  FUZZ_CHECK(again.records.size() == s.records.size() && again.stop_reason.empty() && again.valid_end == s.valid_end,
             "the good part does not parse again the same");
  return 0;
}
