// Private helpers shared by the types module's sources: error builders, big-endian I/O,
// and the per-family codec entry points that codec.cpp dispatches to.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "metagate/types/codec.hpp"
#include "metagate/types/datetime.hpp"

namespace metagate::types::detail {

// ---- errors -------------------------------------------------------------------------------
// 22P02 invalid input syntax for type <type>: "<input>"
PgError invalid_syntax(std::string_view type_name, std::string_view input);
PgError out_of_range_value(std::string_view type_name, std::string_view input);  // 22003 value "x" is out of range for type t
PgError insufficient_data();                          // 08P01 insufficient data left in message
PgError bad_binary(std::string message);              // 22P03
PgError corrupt_storage(Oid type);                    // XX001 invalid stored value for type t
inline Unexpected<PgError> fail(PgError e) { return unexpected(std::move(e)); }

// ---- text helpers -------------------------------------------------------------------------
inline bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}
std::string_view trim_space(std::string_view s);
inline char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }
bool ieq(std::string_view a, std::string_view b);
inline bool is_digit(char c) { return c >= '0' && c <= '9'; }
// Number of UTF-8 characters (s is valid UTF-8).
size_t utf8_length(std::string_view s);
// Byte length of the first n characters of s.
size_t utf8_prefix_bytes(std::string_view s, size_t n);
void append_int(std::string& out, int64_t v);
void append_uint(std::string& out, uint64_t v);
// Zero-padded to at least width digits (v >= 0).
void append_padded(std::string& out, int64_t v, int width);

// ---- big-endian ---------------------------------------------------------------------------
inline void put_u16(std::string& out, uint16_t v) {
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v));
}
inline void put_u32(std::string& out, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<char>(v >> s));
}
inline void put_u64(std::string& out, uint64_t v) {
  for (int s = 56; s >= 0; s -= 8) out.push_back(static_cast<char>(v >> s));
}

// Sequential reader over a binary parameter; get_* return false when bytes run out.
struct Reader {
  std::string_view b;
  size_t pos = 0;
  bool get_u8(uint8_t& v) {
    if (b.size() - pos < 1) return false;
    v = static_cast<uint8_t>(b[pos++]);
    return true;
  }
  bool get_u16(uint16_t& v) {
    if (b.size() - pos < 2) return false;
    v = static_cast<uint16_t>((static_cast<uint8_t>(b[pos]) << 8) | static_cast<uint8_t>(b[pos + 1]));
    pos += 2;
    return true;
  }
  bool get_u32(uint32_t& v) {
    if (b.size() - pos < 4) return false;
    v = 0;
    for (int k = 0; k < 4; ++k) v = (v << 8) | static_cast<uint8_t>(b[pos++]);
    return true;
  }
  bool get_u64(uint64_t& v) {
    if (b.size() - pos < 8) return false;
    v = 0;
    for (int k = 0; k < 8; ++k) v = (v << 8) | static_cast<uint8_t>(b[pos++]);
    return true;
  }
  std::string_view rest() {
    auto r = b.substr(pos);
    pos = b.size();
    return r;
  }
  bool done() const { return pos == b.size(); }
};

// ---- family entry points ------------------------------------------------------------------
// bool / integers / oid (int_bool.cpp)
PgResult<Value> bool_in(std::string_view s);
PgResult<Value> int_in(Oid type, std::string_view s);
std::optional<bool> storage_bool(const ValueRef& v);
std::optional<int64_t> storage_int(const ValueRef& v);

// float4 / float8 (float.cpp)
PgResult<Value> float_in(Oid type, std::string_view s);
void float8_out(double v, int extra_float_digits, std::string& out);
void float4_out(float v, int extra_float_digits, std::string& out);
std::optional<double> storage_real(const ValueRef& v);

// numeric (numeric.cpp)
PgResult<Value> numeric_in(std::string_view s, int32_t typmod);
PgResult<Value> numeric_recv(Reader& r, int32_t typmod);
PgStatus numeric_send(std::string_view canonical, std::string& out);
PgResult<Value> numeric_apply_typmod(std::string_view canonical, int32_t typmod);
// Storage value (Text canonical, or Int/Real from SQLite arithmetic) → canonical text.
std::optional<std::string> storage_numeric(const ValueRef& v);

// text-like (text.cpp)
PgResult<Value> varchar_in(std::string_view s, int32_t typmod, bool is_explicit);
PgResult<Value> bpchar_in(std::string_view s, int32_t typmod, bool is_explicit);
std::string name_in(std::string_view s);
std::string char_in(std::string_view s);
void char_out(std::string_view stored, std::string& out);

// bytea / uuid (bytea.cpp, uuid.cpp)
PgResult<Value> bytea_in(std::string_view s);
void bytea_out(std::string_view bytes, std::string& out);
PgResult<Value> uuid_in(std::string_view s);
bool uuid_bytes(std::string_view canonical, unsigned char out[16]);
std::string uuid_from_bytes(const unsigned char b[16]);

// json / jsonb (json.cpp)
PgStatus json_validate(std::string_view s);
PgResult<std::string> jsonb_normalize(std::string_view s);

// date / time / timestamp / interval (datetime.cpp, interval.cpp)
PgResult<Value> timestamp_in(Oid type, std::string_view s, int32_t typmod, const SessionContext& ctx);
PgResult<Value> date_in(std::string_view s, const SessionContext& ctx);
PgResult<Value> time_in(std::string_view s, int32_t typmod, const SessionContext& ctx);
PgResult<Value> interval_in(std::string_view s, int32_t typmod);
PgResult<datetime::Interval> interval_parse(std::string_view s, int32_t typmod);
PgResult<int64_t> timestamp_adjust_typmod(int64_t us, int32_t typmod);
int64_t time_adjust_typmod(int64_t us, int32_t typmod);
PgResult<datetime::Interval> interval_adjust_typmod(datetime::Interval iv, int32_t typmod);
// Storage → internal for encode (Text storage; tolerant of non-canonical text).
std::optional<int64_t> storage_timestamp(const ValueRef& v);
std::optional<int32_t> storage_date(const ValueRef& v);
std::optional<int64_t> storage_time(const ValueRef& v);
std::optional<datetime::Interval> storage_interval(const ValueRef& v);
// Range-checks and renders a decoded timestamp for storage (type for the error message).
PgResult<Value> timestamp_value(int64_t us);
int32_t session_offset(const SessionContext& ctx);

}  // namespace metagate::types::detail
