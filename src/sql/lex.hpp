// PostgreSQL's lexical rules for the token scanners that never interpret SQL (statement
// shapes, session effects): identifiers, quoted tokens, comments, dollar quotes. Internal to
// the sql module.
#pragma once

#include <string_view>

namespace metagate::sql::lex {

inline bool ident_start(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80; }
inline bool ident_cont(unsigned char c) { return ident_start(c) || (c >= '0' && c <= '9') || c == '$'; }
inline bool digit(unsigned char c) { return c >= '0' && c <= '9'; }

// A quoted token starting at t[i] (the opening quote q); `backslash` for E'' strings.
// Returns the index after the closing quote, or npos when unterminated.
inline size_t skip_quoted(std::string_view t, size_t i, char q, bool backslash) {
  ++i;
  while (i < t.size()) {
    char c = t[i];
    if (backslash && c == '\\') {
      i += 2;
      continue;
    }
    if (c == q) {
      if (i + 1 < t.size() && t[i + 1] == q) {
        i += 2;
        continue;
      }
      return i + 1;
    }
    ++i;
  }
  return std::string_view::npos;
}

// A comment starting at t[i] ("--" to the end of the line, or a nested "/* */"): the index
// after it, npos when a block comment is unterminated, or i itself when none starts there.
inline size_t skip_comment(std::string_view t, size_t i) {
  if (i + 1 >= t.size()) return i;
  if (t[i] == '-' && t[i + 1] == '-') {
    while (i < t.size() && t[i] != '\n') ++i;
    return i;
  }
  if (t[i] != '/' || t[i + 1] != '*') return i;
  int depth = 1;
  i += 2;
  while (i < t.size() && depth > 0) {
    if (t[i] == '/' && i + 1 < t.size() && t[i + 1] == '*') {
      ++depth;
      i += 2;
    } else if (t[i] == '*' && i + 1 < t.size() && t[i + 1] == '/') {
      --depth;
      i += 2;
    } else {
      ++i;
    }
  }
  return depth > 0 ? std::string_view::npos : i;
}

// A dollar-quoted string starting at t[i] ('$'): the index after it, npos when unterminated,
// or i itself when '$' does not open one ($1 parameters, a lone '$').
inline size_t skip_dollar_quote(std::string_view t, size_t i) {
  size_t j = i + 1;
  while (j < t.size() && t[j] != '$' && ident_cont(static_cast<unsigned char>(t[j]))) ++j;
  if (j >= t.size() || t[j] != '$' || !(j == i + 1 || ident_start(static_cast<unsigned char>(t[i + 1])))) return i;
  std::string_view tag = t.substr(i, j - i + 1);
  size_t end = t.find(tag, j + 1);
  return end == std::string_view::npos ? std::string_view::npos : end + tag.size();
}

// A string with a prefix at t[i] (E'..' with backslash escapes, B'..', X'..', N'..', U&'..',
// U&".."): the index after it, npos when unterminated, or i when none starts there.
inline size_t skip_prefixed_quote(std::string_view t, size_t i) {
  if (i + 1 >= t.size()) return i;
  unsigned char c = static_cast<unsigned char>(t[i]);
  if ((i == 0 || !ident_cont(static_cast<unsigned char>(t[i - 1]))) && t[i + 1] == '\'' &&
      (c == 'e' || c == 'E' || c == 'b' || c == 'B' || c == 'x' || c == 'X' || c == 'n' || c == 'N'))
    return skip_quoted(t, i + 1, '\'', c == 'e' || c == 'E');
  if ((c == 'u' || c == 'U') && i + 2 < t.size() && t[i + 1] == '&' && (t[i + 2] == '\'' || t[i + 2] == '"'))
    return skip_quoted(t, i + 2, t[i + 2], false);
  return i;
}

}  // namespace metagate::sql::lex
