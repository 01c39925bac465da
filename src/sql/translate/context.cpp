// Translation context helpers: positions, errors, parameters, parse-tree accessors.
#include "context.hpp"

namespace metagate::sql::tr {

namespace {
const Node kNullNode;
}

int Ctx::position(int location) const {
  if (location < 0) return 0;
  std::string_view full = opts.full_text.empty() ? stmt_text : opts.full_text;
  int chars = 0;
  for (int i = 0; i < location && i < static_cast<int>(full.size()); ++i) {
    if ((static_cast<unsigned char>(full[i]) & 0xC0) != 0x80) ++chars;
  }
  return chars + 1;
}

PgError Ctx::error(std::string_view code, std::string message, int location) const {
  PgError e = PgError::make(code, std::move(message));
  if (location >= 0) e.position = position(location);
  return e;
}

PgError Ctx::unsupported(std::string what, int location) const {
  return error(sqlstate::kFeatureNotSupported, "metagate does not support " + what + " on SQLite", location);
}

ParamSlot& Ctx::param_slot(int n) {
  if (static_cast<int>(params.size()) < n) params.resize(static_cast<size_t>(n));
  return params[static_cast<size_t>(n - 1)];
}

void Ctx::set_param_type(int n, Oid type, int32_t typmod) {
  ParamSlot& s = param_slot(n);
  if (s.type == 0 || s.type == o::kUnknown) {
    s.type = type;
    s.typmod = typmod;
  }
}

const CteDef* Ctx::find_cte(std::string_view name) const {
  for (auto it = cte_stack.rbegin(); it != cte_stack.rend(); ++it) {
    for (const auto& c : *it) {
      if (c.name == name) return &c;
    }
  }
  return nullptr;
}

std::string str_of(const Node& n) {
  if (n.is_object()) {
    auto it = n.find("String");
    if (it != n.end()) return it->value("sval", std::string());
  }
  return {};
}

std::vector<std::string> names_of(const Node& list) {
  std::vector<std::string> out;
  if (!list.is_array()) return out;
  for (const auto& n : list) out.push_back(str_of(n));
  return out;
}

int loc_of(const Node& body) {
  if (!body.is_object()) return -1;
  auto it = body.find("location");
  return it == body.end() ? -1 : it->get<int>();
}

const Node& field(const Node& body, const char* key) {
  if (!body.is_object()) return kNullNode;
  auto it = body.find(key);
  return it == body.end() ? kNullNode : *it;
}

bool has(const Node& body, const char* key) { return body.is_object() && body.contains(key); }

RangeEntry range_entry_for_table(const Table& t, std::string alias, std::string sql_alias) {
  RangeEntry r;
  r.alias = std::move(alias);
  r.sql_alias = std::move(sql_alias);
  for (size_t i = 0; i < t.columns.size(); ++i) {
    const auto& c = t.columns[i];
    r.columns.push_back(ScopeColumn{c.name, c.type, c.typmod, t.oid, static_cast<int16_t>(i + 1)});
  }
  return r;
}

}  // namespace metagate::sql::tr
