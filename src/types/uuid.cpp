// uuid: PG's uuid_in (optional braces, hyphens after any group of 4 hex digits, any case)
// and the canonical lower-case 8-4-4-4-12 form used for output and storage.
#include "internal.hpp"

namespace metagate::types::detail {
namespace {

int hexv(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Parses s into 16 bytes with PG's rules; false on any syntax error.
bool parse_uuid(std::string_view s, unsigned char out[16]) {
  size_t k = 0;
  bool braces = false;
  if (!s.empty() && s[0] == '{') {
    braces = true;
    ++k;
  }
  for (int i = 0; i < 16; ++i) {
    if (k + 2 > s.size()) return false;
    const int hi = hexv(s[k]), lo = hexv(s[k + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<unsigned char>((hi << 4) | lo);
    k += 2;
    if (i % 2 == 1 && i < 15 && k < s.size() && s[k] == '-') ++k;
  }
  if (braces) {
    if (k >= s.size() || s[k] != '}') return false;
    ++k;
  }
  return k == s.size();
}

}  // namespace

std::string uuid_from_bytes(const unsigned char b[16]) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[b[i] >> 4]);
    out.push_back(kHex[b[i] & 15]);
  }
  return out;
}

PgResult<Value> uuid_in(std::string_view s) {
  unsigned char b[16];
  if (!parse_uuid(s, b)) return fail(invalid_syntax("uuid", s));
  return Value::text(uuid_from_bytes(b));
}

bool uuid_bytes(std::string_view canonical, unsigned char out[16]) { return parse_uuid(canonical, out); }

}  // namespace metagate::types::detail
