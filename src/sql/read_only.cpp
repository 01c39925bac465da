// Provably read-only statements (see the header).
#include "metagate/sql/read_only.hpp"

#include <algorithm>
#include <array>
#include <string>

#include "lex.hpp"
#include "metagate/sql/parser.hpp"
#include "metagate/types/codec.hpp"

namespace metagate::sql {

namespace {

// Built-ins without side effects whose result does not depend on being on the primary
// (sorted, for binary search). Not here on purpose: nextval/currval/lastval/setval, locks,
// set_config/current_setting, pg_is_in_recovery and the WAL/replication functions,
// txid_current and friends (they assign a transaction id), dblink, anything pg_*.
constexpr std::array<std::string_view, 75> kSafeFunctions = {
    "abs",          "array_agg",         "array_length",   "array_position", "array_to_string", "avg",
    "bit_length",   "bool_and",          "bool_or",        "btrim",          "cardinality",     "ceil",
    "ceiling",      "char_length",       "character_length", "coalesce",     "concat",          "concat_ws",
    "count",        "cume_dist",         "date_part",      "date_trunc",     "dense_rank",      "every",
    "extract",      "first_value",       "floor",          "format",         "greatest",        "initcap",
    "json_agg",     "json_build_array",  "json_build_object", "jsonb_agg",   "jsonb_build_array", "jsonb_build_object",
    "lag",          "last_value",        "lead",           "least",          "left",            "length",
    "lower",        "lpad",              "ltrim",          "max",            "md5",             "min",
    "mod",          "now",               "nth_value",      "ntile",          "nullif",          "octet_length",
    "percent_rank", "position",          "rank",           "regexp_replace", "repeat",          "replace",
    "reverse",      "right",             "round",          "row_number",     "rpad",            "rtrim",
    "split_part",   "string_agg",        "strpos",         "substr",         "substring",       "sum",
    "to_char",      "trim",              "trunc",
};

bool safe_function(const Node& funcname) {
  if (!funcname.is_array() || funcname.empty() || funcname.size() > 2) return false;
  auto part = [](const Node& n) -> std::string {
    if (n.contains("String") && n["String"].contains("sval")) return n["String"]["sval"].get<std::string>();
    return {};
  };
  if (funcname.size() == 2 && part(funcname[0]) != "pg_catalog") return false;
  std::string name = part(funcname.back());
  return std::binary_search(kSafeFunctions.begin(), kSafeFunctions.end(), std::string_view(name));
}

// False as soon as anything in the tree may write, lock or behave differently on a replica.
bool clean(const Node& n) {
  if (n.is_array()) {
    for (const auto& x : n)
      if (!clean(x)) return false;
    return true;
  }
  if (!n.is_object()) return true;
  for (auto it = n.begin(); it != n.end(); ++it) {
    const std::string& k = it.key();
    const Node& v = it.value();
    if (k == "InsertStmt" || k == "UpdateStmt" || k == "DeleteStmt" || k == "MergeStmt" || k == "LockingClause" ||
        k == "intoClause")
      return false;
    if (k == "lockingClause" && v.is_array() && !v.empty()) return false;
    if (k == "FuncCall" && (!v.is_object() || !v.contains("funcname") || !safe_function(v["funcname"]))) return false;
    if (!clean(v)) return false;
  }
  return true;
}

// The first word of the text, lower-cased (comments and white space skipped; "(" counts as
// a word: a parenthesised SELECT).
std::string first_word(std::string_view t) {
  size_t i = 0;
  while (i < t.size()) {
    auto c = static_cast<unsigned char>(t[i]);
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
      ++i;
      continue;
    }
    size_t j = lex::skip_comment(t, i);
    if (j == std::string_view::npos) return {};
    if (j != i) {
      i = j;
      continue;
    }
    break;
  }
  if (i < t.size() && t[i] == '(') return "(";
  std::string w;
  while (i < t.size() && lex::ident_cont(static_cast<unsigned char>(t[i])) && w.size() < 8) {
    char c = t[i++];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    w.push_back(c);
  }
  return w;
}

}  // namespace

bool provably_read_only(std::string_view text) {
  std::string w = first_word(text);
  if (w != "select" && w != "with" && w != "values" && w != "table" && w != "(") return false;
  if (!types::validate_utf8(text)) return false;
  auto parsed = parse(text);
  if (!parsed || parsed->statements.size() != 1) return false;
  const Node& st = parsed->statements.front().tree;
  if (node_tag(st) != "SelectStmt") return false;
  return clean(node_body(st));
}

}  // namespace metagate::sql
