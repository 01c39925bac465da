// Character types: varchar(n)/bpchar(n) length rules, name truncation, the one-byte "char".
#include "internal.hpp"

namespace metagate::types::detail {
namespace {

bool all_blanks(std::string_view s) {
  for (char c : s)
    if (c != ' ') return false;
  return true;
}

PgError too_long(std::string_view type_sql, int32_t maxlen) {
  return PgError::make(sqlstate::kStringDataRightTruncation,
                       "value too long for type " + std::string(type_sql) + "(" + std::to_string(maxlen) + ")");
}

}  // namespace

PgResult<Value> varchar_in(std::string_view s, int32_t typmod, bool is_explicit) {
  if (typmod >= 4) {
    const auto maxlen = static_cast<size_t>(typmod - 4);
    if (s.size() > maxlen && utf8_length(s) > maxlen) {
      const size_t cut = utf8_prefix_bytes(s, maxlen);
      if (!is_explicit && !all_blanks(s.substr(cut))) return fail(too_long("character varying", typmod - 4));
      return Value::text(std::string(s.substr(0, cut)));
    }
  }
  return Value::text(std::string(s));
}

PgResult<Value> bpchar_in(std::string_view s, int32_t typmod, bool is_explicit) {
  if (typmod < 4) return Value::text(std::string(s));
  const auto maxlen = static_cast<size_t>(typmod - 4);
  const size_t len = utf8_length(s);
  if (len > maxlen) {
    const size_t cut = utf8_prefix_bytes(s, maxlen);
    if (!is_explicit && !all_blanks(s.substr(cut))) return fail(too_long("character", typmod - 4));
    return Value::text(std::string(s.substr(0, cut)));
  }
  std::string out(s);
  out.append(maxlen - len, ' ');
  return Value::text(std::move(out));
}

std::string name_in(std::string_view s) {
  // NAMEDATALEN - 1 bytes, never splitting a UTF-8 sequence.
  if (s.size() <= 63) return std::string(s);
  size_t cut = 63;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return std::string(s.substr(0, cut));
}

std::string char_in(std::string_view s) {
  auto octal = [](char c) { return c >= '0' && c <= '7'; };
  if (s.size() == 4 && s[0] == '\\' && octal(s[1]) && octal(s[2]) && octal(s[3]))
    return std::string(1, static_cast<char>(((s[1] - '0') << 6) + ((s[2] - '0') << 3) + (s[3] - '0')));
  return s.empty() ? std::string() : std::string(1, s[0]);
}

void char_out(std::string_view stored, std::string& out) {
  if (stored.empty() || stored[0] == '\0') return;
  const auto c = static_cast<unsigned char>(stored[0]);
  if (c & 0x80) {
    out.push_back('\\');
    out.push_back(static_cast<char>('0' + ((c >> 6) & 7)));
    out.push_back(static_cast<char>('0' + ((c >> 3) & 7)));
    out.push_back(static_cast<char>('0' + (c & 7)));
  } else {
    out.push_back(static_cast<char>(c));
  }
}

}  // namespace metagate::types::detail

namespace metagate::types {

std::string bpchar_pad(std::string_view s, int32_t typmod) {
  std::string out(s);
  if (typmod >= 4) {
    const auto maxlen = static_cast<size_t>(typmod - 4);
    const size_t len = detail::utf8_length(s);
    if (len < maxlen) out.append(maxlen - len, ' ');
  }
  return out;
}

}  // namespace metagate::types
