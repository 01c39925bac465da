// SASLprep of passwords as PostgreSQL applies it (mapping and prohibition tables from RFC 3454).
#include "metagate/auth/saslprep.hpp"

#include <algorithm>
#include <cstdint>
#include <vector>

namespace metagate::auth {

namespace {

struct Range {
  char32_t lo, hi;
};

template <size_t N>
bool in(const Range (&table)[N], char32_t c) {
  return std::any_of(std::begin(table), std::end(table),
                     [c](const Range& r) { return c >= r.lo && c <= r.hi; });
}

// RFC 3454 C.1.2: non-ASCII space characters (mapped to U+0020).
constexpr Range kNonAsciiSpace[] = {{0x00A0, 0x00A0}, {0x1680, 0x1680}, {0x2000, 0x200B},
                                    {0x202F, 0x202F}, {0x205F, 0x205F}, {0x3000, 0x3000}};
// RFC 3454 B.1: commonly mapped to nothing.
constexpr Range kMappedToNothing[] = {{0x00AD, 0x00AD}, {0x034F, 0x034F}, {0x1806, 0x1806},
                                      {0x180B, 0x180D}, {0x200B, 0x200D}, {0x2060, 0x2060},
                                      {0xFE00, 0xFE0F}, {0xFEFF, 0xFEFF}};
// RFC 3454 C.2.1-C.9 (C.1.2 is gone after mapping); C.4 non-characters are checked separately.
constexpr Range kProhibited[] = {
    {0x0000, 0x001F}, {0x007F, 0x009F},                      // C.2.1, C.2.2
    {0x0340, 0x0341},                                        // C.8
    {0x06DD, 0x06DD}, {0x070F, 0x070F}, {0x180E, 0x180E},    // C.2.2
    {0x200C, 0x200F}, {0x2028, 0x202E}, {0x2060, 0x2063},    // C.2.2, C.8
    {0x206A, 0x206F}, {0x2FF0, 0x2FFB},                      // C.2.2/C.8, C.7
    {0xD800, 0xDFFF}, {0xE000, 0xF8FF},                      // C.5, C.3
    {0xFDD0, 0xFDEF}, {0xFEFF, 0xFEFF}, {0xFFF9, 0xFFFD},    // C.4, C.2.2, C.2.2/C.6
    {0x1D173, 0x1D17A},                                      // C.2.2
    {0xE0001, 0xE0001}, {0xE0020, 0xE007F},                  // C.9
    {0xF0000, 0xFFFFD}, {0x100000, 0x10FFFD},                // C.3
};
bool prohibited(char32_t c) {
  return in(kProhibited, c) || (c & 0xFFFE) == 0xFFFE;  // C.4: U+xxFFFE and U+xxFFFF
}

// Characters we know to be assigned in Unicode 3.2, unchanged by NFKC (also next to each other),
// not combining and not right-to-left. See saslprep.hpp.
constexpr Range kKnownStable[] = {
    {0x0020, 0x007E},  // ASCII printable (controls are prohibited, checked first)
    {0x00A1, 0x00A7}, {0x00A9, 0x00A9}, {0x00AB, 0x00AC}, {0x00AE, 0x00AE}, {0x00B0, 0x00B1},
    {0x00B6, 0x00B7}, {0x00BB, 0x00BB}, {0x00BF, 0x00FF},  // Latin-1 without compat chars
    {0x0100, 0x0131}, {0x0134, 0x013E}, {0x0141, 0x0148}, {0x014A, 0x017E},  // Latin Ext-A
    {0x0386, 0x0386}, {0x0388, 0x038A}, {0x038C, 0x038C}, {0x038E, 0x03A1},
    {0x03A3, 0x03CE},  // Greek letters
    {0x0400, 0x045F},  // Cyrillic
    {0x2010, 0x2010}, {0x2012, 0x2016}, {0x2018, 0x2023}, {0x2030, 0x2030}, {0x2032, 0x2032},
    {0x2035, 0x2035}, {0x2039, 0x203A}, {0x20AC, 0x20AC},  // punctuation, euro sign
    {0x3041, 0x3094}, {0x30A1, 0x30FA}, {0x30FC, 0x30FC},  // hiragana, katakana
    {0x4E00, 0x9FA5},                                      // CJK unified ideographs
    {0xAC00, 0xD7A3},                                      // Hangul syllables
};

// Strict UTF-8 decoding (no overlongs, no surrogates, <= U+10FFFF), like PG's pg_utf8_islegal.
bool decode_utf8(std::string_view s, std::vector<char32_t>& out) {
  size_t i = 0;
  while (i < s.size()) {
    auto b0 = static_cast<uint8_t>(s[i]);
    size_t len;
    char32_t cp;
    if (b0 < 0x80) { len = 1; cp = b0; }
    else if (b0 >= 0xC2 && b0 <= 0xDF) { len = 2; cp = b0 & 0x1F; }
    else if (b0 >= 0xE0 && b0 <= 0xEF) { len = 3; cp = b0 & 0x0F; }
    else if (b0 >= 0xF0 && b0 <= 0xF4) { len = 4; cp = b0 & 0x07; }
    else return false;
    if (i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      auto b = static_cast<uint8_t>(s[i + k]);
      if ((b & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (b & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF))) return false;
    if (cp >= 0xD800 && cp <= 0xDFFF) return false;
    out.push_back(cp);
    i += len;
  }
  return true;
}

void encode_utf8(char32_t c, std::string& out) {
  if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (c >> 18)));
    out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

}  // namespace

SaslprepResult saslprep(std::string_view password) {
  if (password.size() > kMaxSaslprepPasswordLength) return {SaslprepStatus::kTooLong, {}};
  if (std::all_of(password.begin(), password.end(),
                  [](char c) { return static_cast<uint8_t>(c) < 0x80; }))
    return {SaslprepStatus::kSuccess, std::string(password)};

  std::vector<char32_t> chars;
  if (!decode_utf8(password, chars)) return {SaslprepStatus::kInvalidUtf8, {}};

  // 1) Map.
  std::vector<char32_t> mapped;
  for (char32_t c : chars) {
    if (in(kNonAsciiSpace, c)) mapped.push_back(U' ');
    else if (!in(kMappedToNothing, c)) mapped.push_back(c);
  }
  if (mapped.empty()) return {SaslprepStatus::kProhibited, {}};

  // 3) Prohibit (PG checks the mapped input, so this does not depend on normalisation).
  if (std::any_of(mapped.begin(), mapped.end(), prohibited))
    return {SaslprepStatus::kProhibited, {}};

  // 2) NFKC, unassigned and 4) bidi: exact only for the known-stable subset.
  if (!std::all_of(mapped.begin(), mapped.end(), [](char32_t c) { return in(kKnownStable, c); }))
    return {SaslprepStatus::kUnsupported, {}};

  std::string out;
  for (char32_t c : mapped) encode_utf8(c, out);
  return {SaslprepStatus::kSuccess, std::move(out)};
}

std::optional<std::string> scram_password_bytes(std::string_view password) {
  SaslprepResult r = saslprep(password);
  switch (r.status) {
    case SaslprepStatus::kSuccess: return std::move(r.output);
    case SaslprepStatus::kInvalidUtf8:
    case SaslprepStatus::kProhibited: return std::string(password);
    case SaslprepStatus::kTooLong:
    case SaslprepStatus::kUnsupported: return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace metagate::auth
