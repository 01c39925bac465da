// Shared helpers of the types module: error builders, UTF-8 checks, small formatting utilities.
#include <charconv>
#include <cstdio>

#include "internal.hpp"

namespace metagate::types {
namespace detail {

PgError invalid_syntax(std::string_view type_name, std::string_view input) {
  return PgError::make(sqlstate::kInvalidTextRepresentation,
                       "invalid input syntax for type " + std::string(type_name) + ": \"" + std::string(input) + "\"");
}

PgError out_of_range_value(std::string_view type_name, std::string_view input) {
  return PgError::make(sqlstate::kNumericValueOutOfRange,
                       "value \"" + std::string(input) + "\" is out of range for type " + std::string(type_name));
}

PgError insufficient_data() {
  return PgError::make(sqlstate::kProtocolViolation, "insufficient data left in message");
}

PgError bad_binary(std::string message) {
  return PgError::make(sqlstate::kInvalidBinaryRepresentation, std::move(message));
}

PgError corrupt_storage(Oid type) {
  return PgError::make(sqlstate::kDataCorrupted, "invalid stored value for type " + format_type(type, -1));
}

std::string_view trim_space(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

bool ieq(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t k = 0; k < a.size(); ++k)
    if (lower(a[k]) != lower(b[k])) return false;
  return true;
}

size_t utf8_length(std::string_view s) {
  size_t n = 0;
  for (char c : s)
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  return n;
}

size_t utf8_prefix_bytes(std::string_view s, size_t n) {
  size_t chars = 0;
  for (size_t k = 0; k < s.size(); ++k) {
    if ((static_cast<unsigned char>(s[k]) & 0xC0) != 0x80) {
      if (chars == n) return k;
      ++chars;
    }
  }
  return s.size();
}

void append_int(std::string& out, int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void append_uint(std::string& out, uint64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void append_padded(std::string& out, int64_t v, int width) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  for (int k = static_cast<int>(r.ptr - buf); k < width; ++k) out.push_back('0');
  out.append(buf, r.ptr);
}

}  // namespace detail

namespace {
// Byte length PG assigns to a UTF-8 sequence from its first byte (pg_utf_mblen).
int utf8_mblen(unsigned char c) {
  if ((c & 0x80) == 0) return 1;
  if ((c & 0xE0) == 0xC0) return 2;
  if ((c & 0xF0) == 0xE0) return 3;
  if ((c & 0xF8) == 0xF0) return 4;
  return 1;
}

bool utf8_legal(const unsigned char* p, int len) {
  auto cont = [](unsigned char c) { return c >= 0x80 && c <= 0xBF; };
  switch (len) {
    case 1: return p[0] != 0 && p[0] < 0x80;
    case 2: return p[0] >= 0xC2 && cont(p[1]);
    case 3:
      if (!cont(p[1]) || !cont(p[2])) return false;
      if (p[0] == 0xE0) return p[1] >= 0xA0;
      if (p[0] == 0xED) return p[1] <= 0x9F;  // no surrogates
      return true;
    case 4:
      if (!cont(p[1]) || !cont(p[2]) || !cont(p[3])) return false;
      if (p[0] == 0xF0) return p[1] >= 0x90;
      if (p[0] == 0xF4) return p[1] <= 0x8F;
      return p[0] > 0xF0 && p[0] < 0xF4;
    default: return false;
  }
}
}  // namespace

PgStatus validate_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t k = 0;
  while (k < s.size()) {
    if (p[k] >= 0x01 && p[k] < 0x80) {
      ++k;
      continue;
    }
    const int len = utf8_mblen(p[k]);
    if (k + static_cast<size_t>(len) <= s.size() && utf8_legal(p + k, len)) {
      k += static_cast<size_t>(len);
      continue;
    }
    std::string msg = "invalid byte sequence for encoding \"UTF8\":";
    const size_t shown = std::min(static_cast<size_t>(len), s.size() - k);
    for (size_t j = 0; j < shown; ++j) {
      char b[8];
      std::snprintf(b, sizeof b, " 0x%02x", p[k + j]);
      msg += b;
    }
    return unexpected(PgError::make(sqlstate::kCharacterNotInRepertoire, std::move(msg)));
  }
  return Ok{};
}

}  // namespace metagate::types
