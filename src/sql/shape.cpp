// Statement shapes (see the header): a lexer for cache keys, and the probe check that decides
// whether a translation is independent of a statement's integer literals.
#include "metagate/sql/shape.hpp"

#include "lex.hpp"

#include <limits>

namespace metagate::sql {
namespace {

using lex::digit;
using lex::ident_cont;
using lex::ident_start;
using lex::skip_quoted;

bool plans_agree(const Plan& a, const Plan& b) {
  if (a.kind != b.kind || a.tag != b.tag || a.returns_rows != b.returns_rows || a.writes != b.writes ||
      a.row_count_tag != b.row_count_tag || a.params.size() != b.params.size() || a.columns.size() != b.columns.size() ||
      a.notices != b.notices || !a.ddl_sql.empty() || !b.ddl_sql.empty() || a.new_catalog || b.new_catalog || a.copy_insert ||
      b.copy_insert)
    return false;
  for (size_t i = 0; i < a.columns.size(); ++i) {
    const auto& x = a.columns[i];
    const auto& y = b.columns[i];
    if (x.name != y.name || x.type != y.type || x.typmod != y.typmod || x.table_oid != y.table_oid || x.attnum != y.attnum)
      return false;
  }
  return true;
}

// A probe value: ten digits, distinct per slot, inside int4.
std::string probe_value(size_t i) { return std::to_string(1'000'000'007LL + 7'919LL * static_cast<long long>(i)); }

bool word_char(char c) {
  auto u = static_cast<unsigned char>(c);
  return ident_cont(u) || c == '.' || c == '?' || c == ':' || c == '@' || c == '\'' || c == '"';
}

bool is_int_const(const Node& n) {
  if (node_tag(n) != "A_Const") return false;
  const Node& b = node_body(n);
  return b.contains("ival") || b.contains("fval");
}

// Any groupClause/sortClause (or DISTINCT ON) item in the tree that is a bare integer constant.
bool has_positional_reference(const Node& n) {
  if (n.is_array()) {
    for (const auto& x : n)
      if (has_positional_reference(x)) return true;
    return false;
  }
  if (!n.is_object()) return false;
  for (auto it = n.begin(); it != n.end(); ++it) {
    const std::string& k = it.key();
    if ((k == "groupClause" || k == "sortClause" || k == "distinctClause") && it.value().is_array()) {
      for (const auto& item : it.value()) {
        if (is_int_const(item)) return true;
        if (node_tag(item) == "SortBy" && node_body(item).contains("node") && is_int_const(node_body(item)["node"]))
          return true;
      }
    }
    if (has_positional_reference(it.value())) return true;
  }
  return false;
}

}  // namespace

std::optional<StatementShape> statement_shape(std::string_view t) {
  if (t.find('\x01') != std::string_view::npos) return std::nullopt;  // the key's marker
  StatementShape s;
  s.key.reserve(t.size());
  size_t i = 0;
  size_t copied = 0;  // text before this index is already in the key
  while (i < t.size()) {
    auto c = static_cast<unsigned char>(t[i]);
    if (size_t j = lex::skip_comment(t, i); j != i) {
      if (j == std::string_view::npos) return std::nullopt;
      i = j;
      continue;
    }
    if (c == '\'' || c == '"') {
      i = skip_quoted(t, i, static_cast<char>(c), false);
      if (i == std::string_view::npos) return std::nullopt;
      continue;
    }
    if (c == '$') {
      if (i + 1 < t.size() && digit(static_cast<unsigned char>(t[i + 1]))) return std::nullopt;  // $n parameter
      // Dollar quote: $tag$ ... $tag$
      size_t j = lex::skip_dollar_quote(t, i);
      if (j == std::string_view::npos) return std::nullopt;
      i = j == i ? i + 1 : j;
      continue;
    }
    if (ident_start(c)) {
      size_t j = i;
      while (j < t.size() && ident_cont(static_cast<unsigned char>(t[j]))) ++j;
      // Prefixed strings: E'..' (backslash escapes), B'..', X'..', N'..', U&'..', U&".."
      if (j < t.size() && t[j] == '\'' && j == i + 1) {
        i = skip_quoted(t, j, '\'', c == 'e' || c == 'E');
        if (i == std::string_view::npos) return std::nullopt;
        continue;
      }
      if (j == i + 1 && (c == 'u' || c == 'U') && j + 1 < t.size() && t[j] == '&' && (t[j + 1] == '\'' || t[j + 1] == '"')) {
        i = skip_quoted(t, j + 1, t[j + 1], false);
        if (i == std::string_view::npos) return std::nullopt;
        continue;
      }
      i = j;
      continue;
    }
    if (c == '.' && i + 1 < t.size() && digit(static_cast<unsigned char>(t[i + 1]))) {
      // .5 and the like: a numeric constant, kept in the key.
      ++i;
      while (i < t.size() && (ident_cont(static_cast<unsigned char>(t[i])) || t[i] == '.')) ++i;
      continue;
    }
    if (digit(c)) {
      size_t j = i;
      while (j < t.size() && digit(static_cast<unsigned char>(t[j]))) ++j;
      bool plain = !(j < t.size() && (ident_cont(static_cast<unsigned char>(t[j])) || t[j] == '.'));
      if (!plain) {
        // 1.5, 1e5, 12abc...: kept verbatim in the key.
        while (j < t.size() && (ident_cont(static_cast<unsigned char>(t[j])) || t[j] == '.')) ++j;
        i = j;
        continue;
      }
      // An integer literal. Skip leading zeros; more than 10 digits cannot be int4.
      size_t k = i;
      while (k + 1 < j && t[k] == '0') ++k;
      if (j - k > 10) return std::nullopt;
      int64_t v = 0;
      for (size_t d = k; d < j; ++d) v = v * 10 + (t[d] - '0');
      if (v > std::numeric_limits<int32_t>::max()) return std::nullopt;
      if (s.literals.size() >= kMaxShapeLiterals) return std::nullopt;
      s.key.append(t.substr(copied, i - copied));
      s.key.push_back('\x01');
      s.literals.push_back(v);
      s.spans.emplace_back(i, j);
      copied = j;
      i = j;
      continue;
    }
    ++i;
  }
  s.key.append(t.substr(copied));
  return s;
}

std::optional<Plan> make_shape_template(std::string_view text, const StatementShape& shape, const Plan& plan,
                                        const Catalog& catalog) {
  if (plan.kind != PlanKind::kQuery || !plan.params.empty()) return std::nullopt;
  if (shape.literals.empty()) return plan;  // the same text: the plan as it is
  // Translate the statement again with probe values in place of the literals.
  std::string probe;
  size_t at = 0;
  for (size_t i = 0; i < shape.spans.size(); ++i) {
    probe.append(text.substr(at, shape.spans[i].first - at));
    probe += probe_value(i);
    at = shape.spans[i].second;
  }
  probe.append(text.substr(at));
  auto parsed = parse(probe);
  if (!parsed || parsed->statements.size() != 1) return std::nullopt;
  TranslateOptions opts;
  opts.full_text = probe;
  auto other = translate(parsed->statements[0], catalog, opts);
  if (!other || !plans_agree(plan, *other)) return std::nullopt;
  // Integer constants as GROUP BY / ORDER BY items are positions, not values (SQLite would
  // group or sort by a bound parameter as by a constant).
  if (has_positional_reference(parsed->statements[0].tree)) return std::nullopt;
  // The SQL must hold no "?<digits>" of its own (in a string or a name): the template's
  // parameters would be ambiguous.
  for (size_t q = 0; q + 1 < other->sqlite_sql.size(); ++q)
    if (other->sqlite_sql[q] == '?' && digit(static_cast<unsigned char>(other->sqlite_sql[q + 1]))) return std::nullopt;
  // Each probe value must appear in the SQLite SQL as a token of its own; it becomes ?N.
  std::string templ;
  const std::string& sql = other->sqlite_sql;
  std::vector<size_t> seen(shape.spans.size(), 0);
  size_t p = 0;
  while (p < sql.size()) {
    bool matched = false;
    if (digit(static_cast<unsigned char>(sql[p])) && (p == 0 || !word_char(sql[p - 1]))) {
      size_t e = p;
      while (e < sql.size() && digit(static_cast<unsigned char>(sql[e]))) ++e;
      if (e == sql.size() || !word_char(sql[e])) {
        std::string_view num(sql.data() + p, e - p);
        for (size_t i = 0; i < shape.spans.size(); ++i) {
          if (num == probe_value(i)) {
            templ += "?" + std::to_string(i + 1);
            ++seen[i];
            p = e;
            matched = true;
            break;
          }
        }
        if (!matched) {
          templ.append(num);
          p = e;
          continue;
        }
      }
    }
    if (!matched) templ.push_back(sql[p++]);
  }
  for (size_t n : seen)
    if (n == 0) return std::nullopt;
  // With the original values filled back in, the template must be exactly the original SQL.
  std::string back;
  for (size_t q = 0; q < templ.size();) {
    if (templ[q] == '?') {
      size_t e = q + 1;
      size_t n = 0;
      while (e < templ.size() && digit(static_cast<unsigned char>(templ[e])) && n <= shape.literals.size()) {
        n = n * 10 + static_cast<size_t>(templ[e] - '0');
        ++e;
      }
      if (e == q + 1) {  // a '?' of the SQL's own ("?column?")
        back.push_back(templ[q++]);
        continue;
      }
      if (n == 0 || n > shape.literals.size()) return std::nullopt;
      back += std::to_string(shape.literals[n - 1]);
      q = e;
    } else {
      back.push_back(templ[q++]);
    }
  }
  if (back != plan.sqlite_sql) return std::nullopt;
  Plan out = plan;
  out.sqlite_sql = std::move(templ);
  return out;
}

}  // namespace metagate::sql
