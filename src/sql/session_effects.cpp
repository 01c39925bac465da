// Session effects of statements (see the header).
#include "metagate/sql/session_effects.hpp"

#include <algorithm>
#include <array>

#include "lex.hpp"
#include "metagate/sql/parser.hpp"
#include "metagate/types/codec.hpp"

namespace metagate::sql {

namespace {

bool equal_ci(std::string_view a, std::string_view lower) {
  if (a.size() != lower.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char c = a[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != lower[i]) return false;
  }
  return true;
}

// Words that matter as a statement's first word.
constexpr std::array<std::string_view, 12> kLeading = {"set",     "reset",   "discard",    "listen",
                                                       "unlisten", "prepare", "execute",    "deallocate",
                                                       "declare", "close",   "drop",       "load"};
// Words that matter anywhere (function names, TEMP in CREATE ... / SELECT ... INTO).
constexpr std::array<std::string_view, 12> kAnywhere = {
    "pg_advisory_lock",   "pg_advisory_lock_shared",   "pg_try_advisory_lock", "pg_try_advisory_lock_shared",
    "pg_advisory_unlock", "pg_advisory_unlock_shared", "pg_advisory_unlock_all", "set_config",
    "temp",               "temporary",                 "hold",                 "session"};

template <size_t N>
bool one_of(std::string_view word, const std::array<std::string_view, N>& words) {
  for (auto w : words)
    if (equal_ci(word, w)) return true;
  return false;
}

// ---- reading the parse tree ------------------------------------------------------------

std::string func_name(const Node& funcname) {
  if (!funcname.is_array() || funcname.empty()) return {};
  const Node& last = funcname.back();
  if (last.contains("String") && last["String"].contains("sval")) return last["String"]["sval"].get<std::string>();
  return {};
}

void walk(const Node& n, SessionEffects& fx) {
  if (n.is_array()) {
    for (const auto& x : n) walk(x, fx);
    return;
  }
  if (!n.is_object()) return;
  for (auto it = n.begin(); it != n.end(); ++it) {
    const std::string& k = it.key();
    const Node& v = it.value();
    if (k == "FuncCall" && v.is_object() && v.contains("funcname")) {
      std::string f = func_name(v["funcname"]);
      if (f == "pg_advisory_lock" || f == "pg_advisory_lock_shared" || f == "pg_try_advisory_lock" ||
          f == "pg_try_advisory_lock_shared")
        fx.pins |= kPinAdvisoryLock;
      else if (f == "pg_advisory_unlock" || f == "pg_advisory_unlock_shared" || f == "pg_advisory_unlock_all")
        fx.may_release = true;
      else if (f == "set_config")
        fx.settings = true;
    } else if (k == "relpersistence" && v.is_string() && v.get<std::string>() == "t") {
      fx.pins |= kPinTempTable;
    }
    walk(v, fx);
  }
}

void statement(const RawStatement& st, SessionEffects& fx) {
  std::string_view tag = node_tag(st.tree);
  const Node& b = node_body(st.tree);
  if (tag == "VariableSetStmt") {
    if (!b.value("is_local", false)) fx.settings = true;
  } else if (tag == "DiscardStmt") {
    fx.settings = true;
    fx.may_release = true;
    std::string target = b.value("target", std::string());
    if (target == "DISCARD_ALL") fx.deallocate_all = true;
  } else if (tag == "ListenStmt") {
    fx.pins |= kPinListen;
  } else if (tag == "UnlistenStmt" || tag == "ClosePortalStmt" || tag == "DropStmt") {
    fx.may_release = true;
  } else if (tag == "DeclareCursorStmt") {
    if (b.value("options", 0) & 0x0020) fx.pins |= kPinHoldCursor;  // CURSOR_OPT_HOLD
  } else if (tag == "PrepareStmt") {
    fx.prepares.push_back({b.value("name", std::string()), std::string(st.text)});
  } else if (tag == "ExecuteStmt") {
    fx.executes.push_back(b.value("name", std::string()));
  } else if (tag == "DeallocateStmt") {
    if (b.contains("name")) fx.deallocates.push_back(b["name"].get<std::string>());
    else fx.deallocate_all = true;
  } else if (tag == "VariableShowStmt" || tag == "TransactionStmt") {
    return;
  }
  walk(b, fx);
}

}  // namespace

bool may_have_session_effects(std::string_view t) {
  using namespace lex;
  bool statement_start = true;
  size_t i = 0;
  auto matters = [&](std::string_view word) {
    return one_of(word, kAnywhere) || (statement_start && one_of(word, kLeading));
  };
  while (i < t.size()) {
    auto c = static_cast<unsigned char>(t[i]);
    // Unterminated tokens: the server will refuse the text; nothing to follow.
    if (size_t j = skip_comment(t, i); j != i) {
      if (j == std::string_view::npos) return false;
      i = j;
      continue;
    }
    if (size_t j = skip_prefixed_quote(t, i); j != i) {
      if (j == std::string_view::npos) return false;
      i = j;
      statement_start = false;
      continue;
    }
    if (c == '\'') {
      i = skip_quoted(t, i, '\'', false);
      if (i == std::string_view::npos) return false;
      statement_start = false;
      continue;
    }
    if (c == '"') {
      // A quoted identifier may name a function ("pg_advisory_lock"(1)).
      size_t end = skip_quoted(t, i, '"', false);
      if (end == std::string_view::npos) return false;
      if (matters(t.substr(i + 1, end - i - 2))) return true;
      i = end;
      statement_start = false;
      continue;
    }
    if (c == '$') {
      size_t j = skip_dollar_quote(t, i);
      if (j == std::string_view::npos) return false;
      if (j != i) statement_start = false;
      i = j == i ? i + 1 : j;
      continue;
    }
    if (ident_start(c)) {
      size_t j = i;
      while (j < t.size() && ident_cont(static_cast<unsigned char>(t[j]))) ++j;
      if (matters(t.substr(i, j - i))) return true;
      statement_start = false;
      i = j;
      continue;
    }
    if (c == ';') statement_start = true;
    else if (c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '(') statement_start = false;
    ++i;
  }
  return false;
}

SessionEffects session_effects(std::string_view text) {
  SessionEffects fx;
  if (!may_have_session_effects(text)) return fx;
  // The parser is only ever given valid UTF-8 (the server checks encodings; so does metagate).
  if (!types::validate_utf8(text)) {
    fx.unparsable = true;
    return fx;
  }
  auto parsed = parse(text);
  if (!parsed) {
    fx.unparsable = true;
    return fx;
  }
  for (const auto& st : parsed->statements) statement(st, fx);
  return fx;
}

TransactionEnd transaction_end(std::string_view text) {
  if (text.size() > 4096 || !types::validate_utf8(text)) return TransactionEnd::kNone;
  auto parsed = parse(text);
  if (!parsed || parsed->statements.size() != 1) return TransactionEnd::kNone;
  const Node& st = parsed->statements.front().tree;
  if (node_tag(st) != "TransactionStmt") return TransactionEnd::kNone;
  const Node& b = node_body(st);
  if (b.value("chain", false)) return TransactionEnd::kNone;
  std::string kind = b.value("kind", std::string());
  if (kind == "TRANS_STMT_COMMIT") return TransactionEnd::kCommit;
  if (kind == "TRANS_STMT_ROLLBACK") return TransactionEnd::kRollback;
  return TransactionEnd::kNone;
}

bool may_commit(std::string_view text) {
  if (text.size() > 4096) return true;
  if (!types::validate_utf8(text)) return false;
  auto parsed = parse(text);
  if (!parsed) return false;  // the server refuses it whole
  for (const auto& st : parsed->statements) {
    if (node_tag(st.tree) != "TransactionStmt") continue;
    std::string kind = node_body(st.tree).value("kind", std::string());
    if (kind == "TRANS_STMT_COMMIT" || kind == "TRANS_STMT_PREPARE" || kind == "TRANS_STMT_COMMIT_PREPARED") return true;
  }
  return false;
}

std::string_view to_string(PinCause c) {
  switch (c) {
    case kPinAdvisoryLock: return "advisory_lock";
    case kPinListen: return "listen";
    case kPinTempTable: return "temp_table";
    case kPinHoldCursor: return "hold_cursor";
    case kPinOther: return "other";
  }
  return "other";
}

}  // namespace metagate::sql
