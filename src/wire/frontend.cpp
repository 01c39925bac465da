// Decoding of frontend (client → server) messages: framing and per-type bodies.
#include "metagate/wire/frontend.hpp"

#include <cstring>

namespace metagate::wire {
namespace {

PgError protocol_error(std::string msg) {
  return PgError::fatal(sqlstate::kProtocolViolation, std::move(msg));
}

int32_t load_be32(const uint8_t* p) {
  return static_cast<int32_t>((uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) |
                              uint32_t(p[3]));
}

// Bounds-checked reader over a message body.
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> body) : p_(body.data()), end_(body.data() + body.size()) {}

  bool ok() const { return ok_; }
  bool at_end() const { return p_ == end_; }
  size_t remaining() const { return static_cast<size_t>(end_ - p_); }

  uint8_t byte() {
    if (!need(1)) return 0;
    return *p_++;
  }
  int16_t int16() {
    if (!need(2)) return 0;
    int16_t v = static_cast<int16_t>((uint16_t(p_[0]) << 8) | uint16_t(p_[1]));
    p_ += 2;
    return v;
  }
  int32_t int32() {
    if (!need(4)) return 0;
    int32_t v = load_be32(p_);
    p_ += 4;
    return v;
  }
  std::string cstr() {
    if (!ok_) return {};
    const void* nul = std::memchr(p_, 0, remaining());
    if (nul == nullptr) {
      ok_ = false;
      return {};
    }
    auto* z = static_cast<const uint8_t*>(nul);
    std::string s(reinterpret_cast<const char*>(p_), static_cast<size_t>(z - p_));
    p_ = z + 1;
    return s;
  }
  std::string bytes(size_t n) {
    if (!need(n)) return {};
    std::string s(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return s;
  }
  std::string rest() { return bytes(remaining()); }

 private:
  bool need(size_t n) {
    if (!ok_ || remaining() < n) {
      ok_ = false;
      return false;
    }
    return true;
  }
  const uint8_t* p_;
  const uint8_t* end_;
  bool ok_ = true;
};

PgError invalid_message(char type) {
  std::string name(frontend_type_name(type));
  return protocol_error("invalid message format in " + name + " message");
}

}  // namespace

const std::string* StartupMessage::find(std::string_view key) const {
  for (const auto& [k, v] : params) {
    if (k == key) return &v;
  }
  return nullptr;
}

FrameResult next_frame(std::span<const uint8_t> buf, bool startup, const Limits& limits) {
  FrameResult r;
  const size_t header = startup ? 4 : 5;
  if (buf.size() < header) return r;
  const uint8_t* p = buf.data();
  char type = 0;
  if (!startup) {
    type = static_cast<char>(p[0]);
    ++p;
  }
  int32_t len = load_be32(p);
  size_t max = startup ? limits.max_startup_packet : limits.max_message;
  if (startup ? (len < 8) : (len < 4)) {
    r.status = FrameStatus::kError;
    r.error = startup ? protocol_error("invalid length of startup packet")
                      : protocol_error("invalid message length");
    return r;
  }
  if (static_cast<size_t>(len) > max) {
    r.status = FrameStatus::kError;
    r.error = startup ? protocol_error("invalid length of startup packet")
                      : protocol_error("message of type \"" + std::string(frontend_type_name(type)) +
                                       "\" exceeds the size limit of " + std::to_string(max) + " bytes");
    return r;
  }
  if (!startup) {
    // As PostgreSQL 15 (SocketBackend): the type byte is checked before the body is read, and
    // messages that are always small may not announce a large body — so neither can make the
    // server wait for bytes that will never come.
    switch (type) {
      case 'Q': case 'P': case 'B': case 'F': case 'd': case 'c': case 'f': case 'p':
        break;
      case 'E': case 'C': case 'D': case 'H': case 'S': case 'X':
        if (static_cast<size_t>(len) - 4 > kSmallMessageLimit) {
          r.status = FrameStatus::kError;
          r.error = protocol_error("invalid message length");
          return r;
        }
        break;
      default:
        r.status = FrameStatus::kError;
        r.error = protocol_error("invalid frontend message type " + std::to_string(static_cast<int>(static_cast<uint8_t>(type))));
        return r;
    }
  }
  size_t total = static_cast<size_t>(len) + (startup ? 0 : 1);
  if (buf.size() < total) return r;
  r.status = FrameStatus::kFrame;
  r.frame.type = type;
  r.frame.body = buf.subspan(header, total - header);
  r.frame.total_size = total;
  return r;
}

PgResult<StartupPacket> parse_startup_packet(std::span<const uint8_t> body) {
  Reader r(body);
  int32_t code = r.int32();
  if (!r.ok()) return unexpected(protocol_error("invalid length of startup packet"));
  if (code == kSslRequestCode) return StartupPacket{SslRequest{}};
  if (code == kGssEncRequestCode) return StartupPacket{GssEncRequest{}};
  if (code == kCancelRequestCode) {
    CancelRequest c;
    c.pid = r.int32();
    c.secret = r.int32();
    if (!r.ok()) return unexpected(protocol_error("invalid length of startup packet"));
    return StartupPacket{c};
  }
  StartupMessage m;
  m.protocol = code;
  if ((code >> 16) != 3) return StartupPacket{std::move(m)};  // caller rejects the version
  for (;;) {
    std::string key = r.cstr();
    if (!r.ok()) return unexpected(protocol_error("invalid startup packet layout: expected terminator as last byte"));
    if (key.empty()) break;
    std::string value = r.cstr();
    if (!r.ok()) return unexpected(protocol_error("invalid startup packet layout: expected terminator as last byte"));
    m.params.emplace_back(std::move(key), std::move(value));
  }
  if (!r.at_end()) return unexpected(protocol_error("invalid startup packet layout: expected terminator as last byte"));
  return StartupPacket{std::move(m)};
}

PgResult<FrontendMessage> parse_frontend(const Frame& frame) {
  Reader r(frame.body);
  const char t = frame.type;
  FrontendMessage msg;
  switch (t) {
    case 'Q': {
      Query q;
      q.sql = r.cstr();
      msg = std::move(q);
      break;
    }
    case 'P': {
      Parse p;
      p.name = r.cstr();
      p.sql = r.cstr();
      int16_t n = r.int16();
      if (n < 0) return unexpected(invalid_message(t));
      if (r.ok() && r.remaining() < static_cast<size_t>(n) * 4) return unexpected(invalid_message(t));
      p.param_types.reserve(static_cast<size_t>(n));
      for (int i = 0; i < n && r.ok(); ++i) p.param_types.push_back(static_cast<uint32_t>(r.int32()));
      msg = std::move(p);
      break;
    }
    case 'B': {
      Bind b;
      b.portal = r.cstr();
      b.statement = r.cstr();
      int16_t nf = r.int16();
      if (nf < 0 || (r.ok() && r.remaining() < static_cast<size_t>(nf) * 2)) return unexpected(invalid_message(t));
      for (int i = 0; i < nf && r.ok(); ++i) b.param_formats.push_back(r.int16());
      int16_t np = r.int16();
      if (np < 0 || (r.ok() && r.remaining() < static_cast<size_t>(np) * 4)) return unexpected(invalid_message(t));
      b.params.reserve(static_cast<size_t>(np));
      for (int i = 0; i < np && r.ok(); ++i) {
        int32_t len = r.int32();
        if (len == -1) {
          b.params.emplace_back(std::nullopt);
        } else if (len < 0 || static_cast<size_t>(len) > r.remaining()) {
          return unexpected(protocol_error("insufficient data left in message"));
        } else {
          b.params.emplace_back(r.bytes(static_cast<size_t>(len)));
        }
      }
      int16_t nr = r.int16();
      if (nr < 0 || (r.ok() && r.remaining() < static_cast<size_t>(nr) * 2)) return unexpected(invalid_message(t));
      for (int i = 0; i < nr && r.ok(); ++i) b.result_formats.push_back(r.int16());
      msg = std::move(b);
      break;
    }
    case 'D': {
      Describe d;
      d.kind = static_cast<char>(r.byte());
      d.name = r.cstr();
      if (r.ok() && d.kind != 'S' && d.kind != 'P')
        return unexpected(protocol_error("invalid DESCRIBE message subtype " + std::to_string(int(d.kind))));
      msg = std::move(d);
      break;
    }
    case 'E': {
      Execute e;
      e.portal = r.cstr();
      e.max_rows = r.int32();
      msg = std::move(e);
      break;
    }
    case 'C': {
      Close c;
      c.kind = static_cast<char>(r.byte());
      c.name = r.cstr();
      if (r.ok() && c.kind != 'S' && c.kind != 'P')
        return unexpected(protocol_error("invalid CLOSE message subtype " + std::to_string(int(c.kind))));
      msg = std::move(c);
      break;
    }
    case 'S': msg = Sync{}; break;
    case 'H': msg = Flush{}; break;
    case 'X': msg = Terminate{}; break;
    case 'd': msg = CopyData{r.rest()}; break;
    case 'c': msg = CopyDone{}; break;
    case 'f': {
      CopyFail f;
      f.message = r.cstr();
      msg = std::move(f);
      break;
    }
    case 'p': msg = PasswordMessage{r.rest()}; break;
    case 'F': msg = FunctionCall{}; r.rest(); break;
    default: {
      unsigned char uc = static_cast<unsigned char>(t);
      std::string shown = (uc >= 32 && uc < 127) ? std::string(1, t) : std::to_string(uc);
      return unexpected(protocol_error("invalid frontend message type " + std::to_string(uc) +
                                       (shown.size() == 1 ? " (\"" + shown + "\")" : "")));
    }
  }
  if (!r.ok() || !r.at_end()) return unexpected(invalid_message(t));
  return msg;
}

PgResult<SaslInitialResponse> parse_sasl_initial(std::string_view body) {
  Reader r(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(body.data()), body.size()));
  SaslInitialResponse s;
  s.mechanism = r.cstr();
  int32_t len = r.int32();
  if (!r.ok()) return unexpected(protocol_error("malformed SASLInitialResponse message"));
  if (len >= 0) {
    if (static_cast<size_t>(len) != r.remaining())
      return unexpected(protocol_error("malformed SASLInitialResponse message"));
    s.data = r.bytes(static_cast<size_t>(len));
  } else if (len != -1 || !r.at_end()) {
    return unexpected(protocol_error("malformed SASLInitialResponse message"));
  }
  return s;
}

std::string_view frontend_type_name(char type) {
  switch (type) {
    case 'Q': return "Query";
    case 'P': return "Parse";
    case 'B': return "Bind";
    case 'D': return "Describe";
    case 'E': return "Execute";
    case 'C': return "Close";
    case 'S': return "Sync";
    case 'H': return "Flush";
    case 'X': return "Terminate";
    case 'd': return "CopyData";
    case 'c': return "CopyDone";
    case 'f': return "CopyFail";
    case 'p': return "PasswordMessage";
    case 'F': return "FunctionCall";
    case 0: return "StartupMessage";
    default: return "unknown";
  }
}

}  // namespace metagate::wire
