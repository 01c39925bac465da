// Fuzz target: the I/O-free half of transaction pooling.
//  - The frame views a relay uses on client messages (Parse, Bind, Describe/Close) and their
//    builders: whatever the bytes, a view either fails or round-trips through its builder.
//  - The response tracker driven by an arbitrary interleaving of "sent" messages and server
//    answers: synthetic answers it inserts are whole frames, round counts stay consistent,
//    and abandon() leaves it empty.
// Input: byte 0 selects the part; the rest is the body (views) or the script (tracker).
#include <string>

#include "fuzz_common.hpp"
#include "metagate/pool/tracker.hpp"
#include "metagate/wire/relay.hpp"

using namespace metagate;
using namespace metagate::pool;

namespace {

void views(std::string_view body) {
  if (auto p = wire::view_parse(body)) {
    std::string f;
    wire::append_parse(f, p->name, p->query, p->types);
    auto q = wire::view_parse(std::string_view(f).substr(5));
    FUZZ_CHECK(q && q->name == p->name && q->query == p->query && q->types == p->types, "Parse does not round-trip");
  }
  if (auto b = wire::view_bind(body)) {
    std::string f;
    wire::append_bind(f, b->portal, b->statement, b->rest);
    auto c = wire::view_bind(std::string_view(f).substr(5));
    FUZZ_CHECK(c && c->portal == b->portal && c->statement == b->statement && c->rest == b->rest, "Bind does not round-trip");
  }
  if (auto t = wire::view_target(body)) {
    FUZZ_CHECK(t->kind == 'S' || t->kind == 'P', "target kind %d", t->kind);
    std::string f;
    wire::append_target(f, 'C', t->kind, t->name);
    auto u = wire::view_target(std::string_view(f).substr(5));
    FUZZ_CHECK(u && u->kind == t->kind && u->name == t->name, "Close does not round-trip");
  }
}

// Every byte of `out` belongs to a whole frame of a synthetic kind.
void check_frames(const std::string& out) {
  size_t i = 0;
  while (i < out.size()) {
    FUZZ_CHECK(out.size() - i >= 5, "truncated frame");
    char t = out[i];
    uint32_t len = (uint32_t(uint8_t(out[i + 1])) << 24) | (uint32_t(uint8_t(out[i + 2])) << 16) |
                   (uint32_t(uint8_t(out[i + 3])) << 8) | uint32_t(uint8_t(out[i + 4]));
    FUZZ_CHECK(len >= 4 && out.size() - i >= len + 1, "bad frame length");
    FUZZ_CHECK(t == '1' || t == '3' || t == 'E', "unexpected synthetic type %c", t);
    i += len + 1;
  }
}

void tracker(std::string_view script) {
  static constexpr char kServer[] = "123tTnCIsEZSANDdGHVc";
  static const std::string kError = std::string("E\0\0\0\x0b" "C42P05\0\0", 12);
  ResponseTracker t;
  ServerStatements cache(4);
  for (unsigned char b : script) {
    if (b < 0x80) {
      auto kind = static_cast<Expect>(b % 13);
      uint64_t stmt = (b >> 4) & 3;
      if (kind == Expect::kParse && stmt) cache.add(stmt);
      t.expect(kind, (b & 0x40) != 0, stmt, kind == Expect::kSyntheticError ? kError : std::string());
    } else if (b < 0xf8) {
      std::string before;
      size_t rounds = t.pending_rounds();
      auto o = t.on_server_message(kServer[(b & 0x7f) % (sizeof kServer - 1)], before, cache);
      check_frames(before);
      if (o.ready) FUZZ_CHECK(t.pending_rounds() + 1 == rounds, "a ReadyForQuery ended %zu rounds", rounds - t.pending_rounds());
      else FUZZ_CHECK(t.pending_rounds() <= rounds, "rounds grew on an answer");
    } else if (b < 0xfc) {
      std::string out;
      t.take_leading(out);
      check_frames(out);
      FUZZ_CHECK(!t.head_is_synthetic(), "synthetic answer left at the head");
    } else {
      t.abandon();
      FUZZ_CHECK(t.empty() && t.pending_rounds() == 0, "abandon left entries");
    }
    FUZZ_CHECK(cache.size() <= 4, "cache over capacity");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] & 1) tracker(rest);
  else views(rest);
  return 0;
}
