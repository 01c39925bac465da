// Fuzz target: snapshot manifests as read back from disk (manifest_from_json_text) — a file
// in the backup directory may be truncated, damaged or written by another version — and the
// retention plan over what was read.
//
// Input: the manifest text.
// Checked: no crash; an accepted manifest prints (to_json_text) to text that parses to the same
// fields; plan_retention over it (and a copy an hour later) keeps the newest and partitions the ids.
#include <string>

#include "fuzz_common.hpp"
#include "metagate/backup/retention.hpp"
#include "metagate/backup/snapshot.hpp"

using namespace metagate::backup;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto m = manifest_from_json_text(text);
  if (!m) {
    FUZZ_CHECK(!m.error().message.empty(), "rejected manifest without a message");
    return 0;
  }
  std::string again_text = to_json_text(*m);
  auto again = manifest_from_json_text(again_text);
  FUZZ_CHECK(again, "a printed manifest does not parse back");
  FUZZ_CHECK(again->id == m->id && again->created_unix_ms == m->created_unix_ms && again->raw_sha256 == m->raw_sha256 &&
                 again->stored_bytes == m->stored_bytes && again->page_count == m->page_count,
             "manifest %s does not round-trip", fuzz::printable(again_text).c_str());
  Manifest later = *m;
  later.id += "b";
  later.created_unix_ms = m->created_unix_ms > INT64_MAX - 3'600'000 ? m->created_unix_ms : m->created_unix_ms + 3'600'000;
  for (const auto& list : {std::vector<Manifest>{*m}, std::vector<Manifest>{*m, later}}) {
    auto plan = plan_retention(list, Retention{.last = 1, .hourly = 1, .daily = 1, .weekly = 1, .disk_budget_bytes = 1});
    FUZZ_CHECK(plan.keep.size() + plan.remove.size() == list.size(), "retention lost or invented a snapshot");
    FUZZ_CHECK(!plan.keep.empty() && plan.keep.back() == list.back().id, "retention removed the newest snapshot");
  }
  return 0;
}
