// bytea: hex output (\x...), hex and escape-format input (PG's byteain/byteaout).
#include "internal.hpp"

namespace metagate::types::detail {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The (UTF-8) character at s[k], for error messages.
std::string one_char(std::string_view s, size_t k) {
  size_t n = 1;
  while (k + n < s.size() && (static_cast<unsigned char>(s[k + n]) & 0xC0) == 0x80) ++n;
  return std::string(s.substr(k, n));
}

bool is_octal(char c) { return c >= '0' && c <= '7'; }

}  // namespace

PgResult<Value> bytea_in(std::string_view s) {
  if (s.size() >= 2 && s[0] == '\\' && s[1] == 'x') {
    std::string out;
    out.reserve((s.size() - 2) / 2);
    size_t k = 2;
    while (k < s.size()) {
      if (s[k] == ' ' || s[k] == '\n' || s[k] == '\t' || s[k] == '\r') {  // allowed between digit pairs
        ++k;
        continue;
      }
      const int hi = hex_value(s[k]);
      if (hi < 0)
        return fail(PgError::make(sqlstate::kInvalidParameterValue,
                                  "invalid hexadecimal digit: \"" + one_char(s, k) + "\""));
      if (k + 1 >= s.size())
        return fail(PgError::make(sqlstate::kInvalidParameterValue, "invalid hexadecimal data: odd number of digits"));
      const int lo = hex_value(s[k + 1]);
      if (lo < 0)
        return fail(PgError::make(sqlstate::kInvalidParameterValue,
                                  "invalid hexadecimal digit: \"" + one_char(s, k + 1) + "\""));
      out.push_back(static_cast<char>((hi << 4) | lo));
      k += 2;
    }
    return Value::blob(std::move(out));
  }
  // Escape format: "\\" is a backslash, "\ooo" an octal byte (first digit 0-3), others raw.
  std::string out;
  out.reserve(s.size());
  for (size_t k = 0; k < s.size();) {
    if (s[k] != '\\') {
      out.push_back(s[k++]);
      continue;
    }
    if (k + 1 < s.size() && s[k + 1] == '\\') {
      out.push_back('\\');
      k += 2;
    } else if (k + 3 < s.size() + 0 && s[k + 1] >= '0' && s[k + 1] <= '3' && is_octal(s[k + 2]) && is_octal(s[k + 3])) {
      out.push_back(static_cast<char>(((s[k + 1] - '0') << 6) | ((s[k + 2] - '0') << 3) | (s[k + 3] - '0')));
      k += 4;
    } else {
      return fail(PgError::make(sqlstate::kInvalidTextRepresentation, "invalid input syntax for type bytea"));
    }
  }
  return Value::blob(std::move(out));
}

void bytea_out(std::string_view bytes, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.reserve(out.size() + 2 + bytes.size() * 2);
  out += "\\x";
  for (char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
}

}  // namespace metagate::types::detail
