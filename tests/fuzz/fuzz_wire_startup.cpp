// Fuzz target: startup-phase packets (parse_startup_packet), alone and through next_frame.
//
// Input: the body of one startup packet (what follows the int32 length: protocol code and
// parameters). Checked: no crash, errors are FATAL 08P01, a v3 StartupMessage re-encodes to
// exactly its body, and the same bytes with a correct length header frame as one packet.
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "fuzz_common.hpp"
#include "metagate/wire/frontend.hpp"

using namespace metagate::wire;
using fuzz::printable;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> body(data, size);
  std::string_view text(reinterpret_cast<const char*>(data), size);

  auto r = parse_startup_packet(body);
  if (!r) {
    FUZZ_CHECK(r.error().sqlstate == "08P01" && r.error().severity == "FATAL", "startup error %s %s",
               r.error().severity.c_str(), r.error().sqlstate.c_str());
  } else if (auto* m = std::get_if<StartupMessage>(&*r)) {
    FUZZ_CHECK(size >= 4, "StartupMessage from %zu bytes", size);
    if ((m->protocol >> 16) == 3) {
      std::string again;
      for (int sh = 24; sh >= 0; sh -= 8) again.push_back(static_cast<char>(static_cast<uint32_t>(m->protocol) >> sh));
      for (const auto& [k, v] : m->params) {
        FUZZ_CHECK(!k.empty(), "empty parameter name");
        FUZZ_CHECK(k.find('\0') == std::string::npos && v.find('\0') == std::string::npos, "NUL inside a parameter");
        again += k;
        again.push_back('\0');
        again += v;
        again.push_back('\0');
      }
      again.push_back('\0');
      FUZZ_CHECK(again == text, "StartupMessage re-encodes differently:\n  in:  %s\n  out: %s",
                 printable(text).c_str(), printable(again).c_str());
      for (const auto& [k, v] : m->params) FUZZ_CHECK(m->find(k) != nullptr, "find() misses %s", k.c_str());
    }
  } else if (auto* c = std::get_if<CancelRequest>(&*r)) {
    FUZZ_CHECK(size >= 12, "CancelRequest from %zu bytes", size);
    (void)c;
  }

  // The same body behind a length header, as the session reads it from the socket.
  std::vector<uint8_t> packet(4 + size);
  const auto len = static_cast<uint32_t>(4 + size);
  packet[0] = static_cast<uint8_t>(len >> 24);
  packet[1] = static_cast<uint8_t>(len >> 16);
  packet[2] = static_cast<uint8_t>(len >> 8);
  packet[3] = static_cast<uint8_t>(len);
  if (size) std::memcpy(packet.data() + 4, data, size);
  Limits limits;
  FrameResult f = next_frame(packet, true, limits);
  if (len >= 8 && len <= limits.max_startup_packet) {
    FUZZ_CHECK(f.status == FrameStatus::kFrame && f.frame.total_size == packet.size() &&
                   f.frame.body.size() == size,
               "a well-formed startup packet of %u bytes does not frame", len);
    auto again = parse_startup_packet(f.frame.body);
    FUZZ_CHECK(again.has_value() == r.has_value(), "framed parse differs from direct parse");
  } else {
    FUZZ_CHECK(f.status == FrameStatus::kError, "startup packet of length %u not rejected", len);
  }
  return 0;
}
