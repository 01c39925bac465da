// The libpg_query adapter: SQL text → parse tree, with PostgreSQL's syntax errors.
#include "metagate/sql/parser.hpp"

#include <pg_query.h>

#include <cctype>
#include <cstdint>
#include <cstring>
#include <optional>

#include "metagate/types/codec.hpp"

namespace metagate::sql {
namespace {

// Converts a byte offset into a 1-based character position, as PostgreSQL reports it.
int char_position(std::string_view sql, int byte_offset) {
  int chars = 0;
  for (int i = 0; i < byte_offset && i < static_cast<int>(sql.size()); ++i) {
    if ((static_cast<unsigned char>(sql[i]) & 0xC0) != 0x80) ++chars;
  }
  return chars + 1;
}

const Node kNull;

// libpg_query 15's JSON output writes an Integer node's value only when it is positive: -4
// comes out as {"ival":{}} (the same as 0). The value is read back from the source text: at
// an A_Const's location (where the grammar folded the minus sign in: "-4", "- 4", "-(4)"), or
// for an Integer argument of a DefElem (INCREMENT BY -1, RESTART WITH -3) after the option's
// words. Only signs, parentheses, blanks, comments, '=' and words are skipped; anything else
// leaves the node as it is.
std::optional<int64_t> integer_at(std::string_view t, size_t i, bool skip_words) {
  bool negative = false;
  while (i < t.size()) {
    char c = t[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '(' || c == '=') {
      ++i;
    } else if (c == '-' && i + 1 < t.size() && t[i + 1] == '-') {
      while (i < t.size() && t[i] != '\n') ++i;
    } else if (c == '/' && i + 1 < t.size() && t[i + 1] == '*') {
      size_t e = t.find("*/", i + 2);
      if (e == std::string_view::npos) return std::nullopt;
      i = e + 2;
    } else if (c == '-') {
      negative = !negative;
      ++i;
    } else if (c >= '0' && c <= '9') {
      int64_t v = 0;
      while (i < t.size() && t[i] >= '0' && t[i] <= '9') {
        if (v > (INT64_MAX - 9) / 10) return std::nullopt;
        v = v * 10 + (t[i] - '0');
        ++i;
      }
      return negative ? -v : v;
    } else if (skip_words && (std::isalpha(static_cast<unsigned char>(c)) || c == '_')) {
      while (i < t.size() && (std::isalnum(static_cast<unsigned char>(t[i])) || t[i] == '_')) ++i;
    } else {
      return std::nullopt;
    }
  }
  return std::nullopt;
}

bool empty_integer(const Node& n) { return n.is_object() && n.empty(); }

void fix_integers(Node& n, std::string_view script) {
  if (n.is_array()) {
    for (auto& x : n) fix_integers(x, script);
    return;
  }
  if (!n.is_object()) return;
  if (auto c = n.find("A_Const"); c != n.end() && c->is_object()) {
    auto iv = c->find("ival");
    if (iv != c->end() && empty_integer(*iv) && c->contains("location")) {
      int loc = (*c)["location"].get<int>();
      if (loc >= 0)
        if (auto v = integer_at(script, static_cast<size_t>(loc), false); v && *v != 0) (*iv)["ival"] = *v;
    }
    return;
  }
  if (auto d = n.find("DefElem"); d != n.end() && d->is_object()) {
    auto arg = d->find("arg");
    if (arg != d->end() && arg->is_object() && arg->contains("Integer") && empty_integer((*arg)["Integer"]) &&
        d->contains("location")) {
      int loc = (*d)["location"].get<int>();
      if (loc >= 0)
        if (auto v = integer_at(script, static_cast<size_t>(loc), true); v && *v != 0) (*arg)["Integer"]["ival"] = *v;
    }
  }
  for (auto& [k, v] : n.items()) fix_integers(v, script);
}

}  // namespace

PgResult<ParsedScript> parse(std::string_view sql) {
  // PostgreSQL rejects invalid UTF-8 before parsing (22021); libpg_query would otherwise
  // produce a parse tree that is not valid JSON.
  if (auto v = types::validate_utf8(sql); !v) return unexpected(v.error());
  if (sql.find('\0') != std::string_view::npos)
    return unexpected(PgError::make(sqlstate::kCharacterNotInRepertoire, "invalid byte sequence for encoding \"UTF8\": 0x00"));
  std::string text(sql);  // pg_query needs a NUL-terminated string
  PgQueryParseResult r = pg_query_parse(text.c_str());
  struct Guard {
    PgQueryParseResult& r;
    ~Guard() { pg_query_free_parse_result(r); }
  } guard{r};
  if (r.error != nullptr) {
    PgError e = PgError::make(sqlstate::kSyntaxError, r.error->message ? r.error->message : "syntax error");
    // libpg_query reports every grammar-level failure as a syntax error; a few are
    // other SQLSTATEs in PostgreSQL (e.g. unterminated literals are still 42601).
    if (r.error->cursorpos > 0) e.position = char_position(sql, r.error->cursorpos - 1);
    return unexpected(std::move(e));
  }
  ParsedScript script;
  Node doc = Node::parse(r.parse_tree, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    return unexpected(PgError::make(sqlstate::kInternalError, "could not read the parse tree"));
  }
  auto it = doc.find("stmts");
  if (it == doc.end()) return script;
  // Only trees where libpg_query wrote an empty Integer need the walk (most have none).
  if (std::strstr(r.parse_tree, "\"ival\":{}") || std::strstr(r.parse_tree, "\"Integer\":{}")) fix_integers(*it, sql);
  for (auto& raw : *it) {
    RawStatement st;
    int loc = raw.value("stmt_location", 0);
    int len = raw.value("stmt_len", 0);
    if (loc < 0 || loc > static_cast<int>(sql.size())) loc = 0;
    if (len <= 0 || loc + len > static_cast<int>(sql.size())) len = static_cast<int>(sql.size()) - loc;
    st.location = loc;
    st.text = sql.substr(static_cast<size_t>(loc), static_cast<size_t>(len));
    auto s = raw.find("stmt");
    if (s == raw.end()) continue;  // an empty statement between semicolons
    st.tree = std::move(*s);
    script.statements.push_back(std::move(st));
  }
  return script;
}

std::string_view node_tag(const Node& n) {
  if (!n.is_object() || n.empty()) return {};
  return n.begin().key();
}

const Node& node_body(const Node& n) {
  if (!n.is_object() || n.empty()) return kNull;
  return n.begin().value();
}

std::string redact_literals(std::string_view sql) {
  std::string text(sql);
  PgQueryNormalizeResult r = pg_query_normalize(text.c_str());
  std::string out;
  if (r.error || !r.normalized_query) out = "<unparsable statement, " + std::to_string(sql.size()) + " bytes>";
  else out = r.normalized_query;
  pg_query_free_normalize_result(r);
  return out;
}

}  // namespace metagate::sql
