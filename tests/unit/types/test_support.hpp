// Helpers for the types tests: run a value through the codec the way a client would see it,
// and check tables of expectations captured from PostgreSQL 15.
#pragma once

#include <gtest/gtest.h>

#include <span>
#include <string>
#include <string_view>

#include "metagate/types/types.hpp"

namespace metagate::types::testing {

// One PostgreSQL observation: input text, what PG printed (or "ERR <sqlstate> <message>"),
// and typsend's bytes in hex (nullptr when the input was rejected).
struct Row {
  const char* input;
  const char* text;
  const char* binary_hex;
};

inline std::string hex(std::string_view b) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string o;
  for (char c : b) {
    o.push_back(kHex[static_cast<unsigned char>(c) >> 4]);
    o.push_back(kHex[static_cast<unsigned char>(c) & 15]);
  }
  return o;
}

inline std::string unhex(std::string_view h) {
  std::string o;
  for (size_t k = 0; k + 1 < h.size(); k += 2) o.push_back(static_cast<char>(std::stoi(std::string(h.substr(k, 2)), nullptr, 16)));
  return o;
}

inline std::string err(const PgError& e) { return "ERR " + e.sqlstate + " " + e.message; }

// typinput then typoutput: "<text>" or "ERR <sqlstate> <message>".
inline std::string text_io(Oid type, std::string_view input, int32_t typmod = -1, const SessionContext& ctx = {}) {
  auto v = parse_text(type, input, typmod, ctx);
  if (!v) return err(v.error());
  std::string out;
  auto st = encode_text(type, v->ref(), out, ctx);
  if (!st) return err(st.error());
  return out;
}

// typinput then typsend, hex.
inline std::string binary_out(Oid type, std::string_view input, const SessionContext& ctx = {}) {
  auto v = parse_text(type, input, -1, ctx);
  if (!v) return err(v.error());
  std::string out;
  auto st = encode_binary(type, v->ref(), out, ctx);
  if (!st) return err(st.error());
  return hex(out);
}

// typreceive then typoutput.
inline std::string binary_in(Oid type, std::string_view hex_bytes, int32_t typmod = -1, const SessionContext& ctx = {}) {
  auto v = decode_binary(type, unhex(hex_bytes), typmod, ctx);
  if (!v) return err(v.error());
  std::string out;
  auto st = encode_text(type, v->ref(), out, ctx);
  if (!st) return err(st.error());
  return out;
}

inline void check_rows(Oid type, std::span<const Row> rows, const SessionContext& ctx = {}) {
  for (const Row& r : rows) {
    SCOPED_TRACE(std::string("input \"") + r.input + "\"");
    EXPECT_EQ(text_io(type, r.input, -1, ctx), r.text);
    if (r.binary_hex) {
      EXPECT_EQ(binary_out(type, r.input, ctx), r.binary_hex);
      EXPECT_EQ(binary_in(type, r.binary_hex, -1, ctx), r.text);
    }
  }
}

}  // namespace metagate::types::testing
