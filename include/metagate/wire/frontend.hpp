// Frontend (client → server) messages of the PostgreSQL v3 protocol, and their decoding
// from bytes. No I/O: the caller feeds bytes and gets messages, "need more" or an error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "metagate/util/pg_error.hpp"

namespace metagate::wire {

// Protocol codes carried in the first int32 of a startup-phase packet.
inline constexpr int32_t kProtocolV3 = 196608;       // 3.0
inline constexpr int32_t kSslRequestCode = 80877103;
inline constexpr int32_t kGssEncRequestCode = 80877104;
inline constexpr int32_t kCancelRequestCode = 80877102;

// Limits; PostgreSQL itself uses 10000 bytes for a startup packet and 1 GB for others.
// PostgreSQL's PQ_SMALL_MESSAGE_LIMIT: the largest body of Execute, Close, Describe, Flush,
// Sync and Terminate.
inline constexpr size_t kSmallMessageLimit = 10000;

struct Limits {
  size_t max_startup_packet = 10000;
  size_t max_message = 64u * 1024 * 1024;
};

// One framed message: type byte (0 for startup-phase packets) and body (after the length).
struct Frame {
  char type = 0;
  std::span<const uint8_t> body;
  size_t total_size = 0;  // bytes consumed from the buffer, header included
};

enum class FrameStatus { kNeedMore, kFrame, kError };

struct FrameResult {
  FrameStatus status = FrameStatus::kNeedMore;
  Frame frame;
  PgError error;  // set for kError (08P01, FATAL)
};

// Splits a buffer into frames. startup=true for the untyped startup-phase packets.
FrameResult next_frame(std::span<const uint8_t> buf, bool startup, const Limits& limits);

// --- startup phase -------------------------------------------------------------------
struct StartupMessage {
  int32_t protocol = 0;
  std::vector<std::pair<std::string, std::string>> params;  // in arrival order
  const std::string* find(std::string_view key) const;
};
struct SslRequest {};
struct GssEncRequest {};
struct CancelRequest {
  int32_t pid = 0;
  int32_t secret = 0;
};
// Protocol versions other than 3.x decode as StartupMessage with that protocol number;
// the session decides how to reject them.
using StartupPacket = std::variant<StartupMessage, SslRequest, GssEncRequest, CancelRequest>;
PgResult<StartupPacket> parse_startup_packet(std::span<const uint8_t> body);

// --- normal phase --------------------------------------------------------------------
struct Query { std::string sql; };
struct Parse {
  std::string name;
  std::string sql;
  std::vector<uint32_t> param_types;
};
struct Bind {
  std::string portal;
  std::string statement;
  std::vector<int16_t> param_formats;
  std::vector<std::optional<std::string>> params;  // nullopt = NULL
  std::vector<int16_t> result_formats;
};
struct Describe { char kind = 'S'; std::string name; };  // 'S' statement, 'P' portal
struct Execute { std::string portal; int32_t max_rows = 0; };
struct Close { char kind = 'S'; std::string name; };
struct Sync {};
struct Flush {};
struct Terminate {};
struct CopyData { std::string data; };
struct CopyDone {};
struct CopyFail { std::string message; };
struct PasswordMessage { std::string data; };  // 'p': password, SASLInitialResponse or SASLResponse (raw body)
struct FunctionCall {};  // 'F': recognised, refused with 0A000

using FrontendMessage = std::variant<Query, Parse, Bind, Describe, Execute, Close, Sync, Flush, Terminate,
                                     CopyData, CopyDone, CopyFail, PasswordMessage, FunctionCall>;

// Decodes one typed frame. Unknown types and malformed bodies give a FATAL 08P01 error.
PgResult<FrontendMessage> parse_frontend(const Frame& frame);

// SASLInitialResponse body: mechanism name, then int32 length + initial response (-1 = none).
struct SaslInitialResponse {
  std::string mechanism;
  std::optional<std::string> data;
};
PgResult<SaslInitialResponse> parse_sasl_initial(std::string_view body);

// Human-readable name of a frontend message type byte, for logs and errors.
std::string_view frontend_type_name(char type);

}  // namespace metagate::wire
