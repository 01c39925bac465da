// Fuzz target: the frontend side of the wire codec (next_frame, parse_startup_packet,
// parse_frontend, parse_sasl_initial).
//
// Input layout: byte 0 picks the mode (low 2 bits) and the limits (bit 2: tiny limits, so the
// size-limit paths are reachable with short inputs); the rest is the payload.
//   mode 0: a client byte stream from connection start: startup-phase packets until a v3
//           StartupMessage, then typed messages, each framed and decoded like the session does
//           (also SASLInitialResponse decoding of every 'p' body);
//   mode 1: a normal-phase byte stream (typed messages only);
//   mode 2: one typed message: byte 1 is the type, the rest its body;
//   mode 3: a SASLInitialResponse body.
// Invariants checked besides "no crash, no hang": frames never claim more bytes than given and
// always make progress; every shorter prefix of a frame is "need more"; a message that decodes
// re-encodes to exactly the bytes it came from (the decoder accepts one canonical form).
#include <cstdint>
#include <string>
#include <variant>

#include "fuzz_common.hpp"
#include "metagate/wire/backend.hpp"
#include "metagate/wire/frontend.hpp"

namespace {

using namespace metagate::wire;
using fuzz::printable;

void put32(std::string& out, int32_t v) {
  auto u = static_cast<uint32_t>(v);
  out.push_back(static_cast<char>(u >> 24));
  out.push_back(static_cast<char>(u >> 16));
  out.push_back(static_cast<char>(u >> 8));
  out.push_back(static_cast<char>(u));
}
void put16(std::string& out, int16_t v) {
  auto u = static_cast<uint16_t>(v);
  out.push_back(static_cast<char>(u >> 8));
  out.push_back(static_cast<char>(u));
}
void putz(std::string& out, const std::string& s) {
  out += s;
  out.push_back('\0');
}

// The body a client would have sent for `m`; false for messages whose body is not kept.
bool encode(const FrontendMessage& m, std::string& out) {
  struct V {
    std::string& out;
    bool operator()(const Query& q) { putz(out, q.sql); return true; }
    bool operator()(const Parse& p) {
      putz(out, p.name);
      putz(out, p.sql);
      put16(out, static_cast<int16_t>(p.param_types.size()));
      for (uint32_t t : p.param_types) put32(out, static_cast<int32_t>(t));
      return true;
    }
    bool operator()(const Bind& b) {
      putz(out, b.portal);
      putz(out, b.statement);
      put16(out, static_cast<int16_t>(b.param_formats.size()));
      for (int16_t f : b.param_formats) put16(out, f);
      put16(out, static_cast<int16_t>(b.params.size()));
      for (const auto& p : b.params) {
        if (!p) {
          put32(out, -1);
        } else {
          put32(out, static_cast<int32_t>(p->size()));
          out += *p;
        }
      }
      put16(out, static_cast<int16_t>(b.result_formats.size()));
      for (int16_t f : b.result_formats) put16(out, f);
      return true;
    }
    bool operator()(const Describe& d) { out.push_back(d.kind); putz(out, d.name); return true; }
    bool operator()(const Execute& e) { putz(out, e.portal); put32(out, e.max_rows); return true; }
    bool operator()(const Close& c) { out.push_back(c.kind); putz(out, c.name); return true; }
    bool operator()(const Sync&) { return true; }
    bool operator()(const Flush&) { return true; }
    bool operator()(const Terminate&) { return true; }
    bool operator()(const CopyData& d) { out += d.data; return true; }
    bool operator()(const CopyDone&) { return true; }
    bool operator()(const CopyFail& f) { putz(out, f.message); return true; }
    bool operator()(const PasswordMessage& p) { out += p.data; return true; }
    bool operator()(const FunctionCall&) { return false; }
  };
  return std::visit(V{out}, m);
}

void check_sasl_initial(std::string_view body) {
  auto r = parse_sasl_initial(body);
  if (!r) {
    FUZZ_CHECK(r.error().sqlstate == "08P01", "SASLInitialResponse error %s", r.error().sqlstate.c_str());
    return;
  }
  // Canonical form: mechanism NUL, int32 length (-1 = none), data.
  std::string again;
  putz(again, r->mechanism);
  if (r->data) {
    put32(again, static_cast<int32_t>(r->data->size()));
    again += *r->data;
  } else {
    put32(again, -1);
  }
  FUZZ_CHECK(again == body, "SASLInitialResponse re-encodes differently:\n  in:  %s\n  out: %s",
             printable(body).c_str(), printable(again).c_str());
}

void check_message(const Frame& f) {
  {
    // The same bytes as a server's ErrorResponse body (the relay decodes those).
    std::string_view body(reinterpret_cast<const char*>(f.body.data()), f.body.size());
    metagate::PgError e = parse_error_fields(body);
    FUZZ_CHECK(e.message.size() <= body.size(), "error message longer than its message");
  }
  auto r = parse_frontend(f);
  std::string_view body(reinterpret_cast<const char*>(f.body.data()), f.body.size());
  if (!r) {
    FUZZ_CHECK(r.error().sqlstate == "08P01" && r.error().severity == "FATAL", "message error %s %s",
               r.error().severity.c_str(), r.error().sqlstate.c_str());
    return;
  }
  std::string again;
  if (encode(*r, again))
    FUZZ_CHECK(again == body, "type '%s' re-encodes differently:\n  in:  %s\n  out: %s",
               printable(std::string(1, f.type)).c_str(), printable(body).c_str(), printable(again).c_str());
  (void)frontend_type_name(f.type);
  if (f.type == 'p') check_sasl_initial(body);
}

void check_startup(std::span<const uint8_t> body) {
  auto r = parse_startup_packet(body);
  if (!r) {
    FUZZ_CHECK(r.error().sqlstate == "08P01", "startup error %s", r.error().sqlstate.c_str());
    return;
  }
  if (auto* m = std::get_if<StartupMessage>(&*r); m && (m->protocol >> 16) == 3) {
    std::string again;
    put32(again, m->protocol);
    for (const auto& [k, v] : m->params) {
      FUZZ_CHECK(!k.empty(), "empty startup parameter name");
      putz(again, k);
      putz(again, v);
      FUZZ_CHECK(m->find(k) != nullptr, "find() misses a parameter");
    }
    again.push_back('\0');
    std::string_view in(reinterpret_cast<const char*>(body.data()), body.size());
    FUZZ_CHECK(again == in, "StartupMessage re-encodes differently:\n  in:  %s\n  out: %s",
               printable(in).c_str(), printable(again).c_str());
  }
}

// One next_frame call plus its invariants; returns the result.
FrameResult frame(std::span<const uint8_t> buf, bool startup, const Limits& limits) {
  FrameResult r = next_frame(buf, startup, limits);
  const size_t header = startup ? 4 : 5;
  if (r.status == FrameStatus::kFrame) {
    FUZZ_CHECK(r.frame.total_size >= header && r.frame.total_size <= buf.size(), "frame size %zu of %zu",
               r.frame.total_size, buf.size());
    FUZZ_CHECK(r.frame.body.data() == buf.data() + header && r.frame.body.size() == r.frame.total_size - header,
               "frame body does not match its header");
    FUZZ_CHECK(r.frame.body.size() <= (startup ? limits.max_startup_packet : limits.max_message),
               "frame over the limit");
    // Any shorter prefix that still holds the header is an incomplete frame.
    if (r.frame.total_size - 1 >= header) {
      FrameResult p = next_frame(buf.first(r.frame.total_size - 1), startup, limits);
      FUZZ_CHECK(p.status == FrameStatus::kNeedMore, "prefix of a frame is not 'need more'");
    }
  } else if (r.status == FrameStatus::kError) {
    FUZZ_CHECK(buf.size() >= header, "error before a complete header");
    FUZZ_CHECK(r.error.sqlstate == "08P01" && r.error.severity == "FATAL", "framing error %s",
               r.error.sqlstate.c_str());
  } else {
    // Need more: also what the first bytes alone say.
    if (buf.size() < header) return r;
  }
  return r;
}

void run_stream(std::span<const uint8_t> buf, bool startup, const Limits& limits) {
  size_t guard = 0;
  while (!buf.empty()) {
    FUZZ_CHECK(++guard <= 1'000'000, "framing loop does not terminate");
    FrameResult r = frame(buf, startup, limits);
    if (r.status != FrameStatus::kFrame) return;
    if (startup) {
      auto pkt = parse_startup_packet(r.frame.body);
      check_startup(r.frame.body);
      if (!pkt) return;
      if (auto* m = std::get_if<StartupMessage>(&*pkt)) {
        if ((m->protocol >> 16) != 3) return;  // rejected version: the session closes
        startup = false;
      } else if (std::holds_alternative<CancelRequest>(*pkt)) {
        return;  // the connection closes after a cancel request
      }
      // SSL/GSS requests: answered 'N', still in the startup phase.
    } else {
      check_message(r.frame);
      if (r.frame.type == 'X') return;
    }
    buf = buf.subspan(r.frame.total_size);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Input in(data, size);
  const uint8_t sel = in.byte();
  Limits limits;
  if (sel & 4) {
    limits.max_startup_packet = 64;
    limits.max_message = 32;
  }
  switch (sel & 3) {
    case 0:
      run_stream({in.data(), in.size()}, true, limits);
      break;
    case 1:
      run_stream({in.data(), in.size()}, false, limits);
      break;
    case 2: {
      Frame f;
      f.type = static_cast<char>(in.byte());
      f.body = std::span<const uint8_t>(in.data(), in.size());
      f.total_size = f.body.size() + 5;
      check_message(f);
      break;
    }
    case 3:
      check_sasl_initial(in.rest());
      break;
  }
  return 0;
}
