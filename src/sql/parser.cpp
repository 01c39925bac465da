// The libpg_query adapter: SQL text → parse tree, with PostgreSQL's syntax errors.
#include "metagate/sql/parser.hpp"

#include <pg_query.h>

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

}  // namespace metagate::sql
