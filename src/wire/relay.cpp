// Views and builders for the frontend messages a pooling relay rewrites.
#include "metagate/wire/relay.hpp"

namespace metagate::wire {

namespace {

// A zero-terminated string at the front of `in`; advances past the zero.
std::optional<std::string_view> cstring(std::string_view& in) {
  size_t z = in.find('\0');
  if (z == std::string_view::npos) return std::nullopt;
  std::string_view s = in.substr(0, z);
  in.remove_prefix(z + 1);
  return s;
}

void put32(std::string& out, uint32_t v) {
  char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
  out.append(b, 4);
}

void header(std::string& out, char type, size_t body_size) {
  out.push_back(type);
  put32(out, static_cast<uint32_t>(body_size + 4));
}

void cstr(std::string& out, std::string_view s) {
  out.append(s);
  out.push_back('\0');
}

}  // namespace

std::optional<ParseView> view_parse(std::string_view body) {
  auto name = cstring(body);
  if (!name) return std::nullopt;
  auto query = cstring(body);
  if (!query) return std::nullopt;
  return ParseView{*name, *query, body};
}

std::optional<BindView> view_bind(std::string_view body) {
  auto portal = cstring(body);
  if (!portal) return std::nullopt;
  auto stmt = cstring(body);
  if (!stmt) return std::nullopt;
  return BindView{*portal, *stmt, body};
}

std::optional<TargetView> view_target(std::string_view body) {
  if (body.empty()) return std::nullopt;
  char kind = body[0];
  body.remove_prefix(1);
  auto name = cstring(body);
  if (!name || (kind != 'S' && kind != 'P')) return std::nullopt;
  return TargetView{kind, *name};
}

void append_parse(std::string& out, std::string_view name, std::string_view query, std::string_view types) {
  header(out, 'P', name.size() + 1 + query.size() + 1 + types.size());
  cstr(out, name);
  cstr(out, query);
  out.append(types);
}

void append_bind(std::string& out, std::string_view portal, std::string_view statement, std::string_view rest) {
  header(out, 'B', portal.size() + 1 + statement.size() + 1 + rest.size());
  cstr(out, portal);
  cstr(out, statement);
  out.append(rest);
}

void append_target(std::string& out, char type, char kind, std::string_view name) {
  header(out, type, 1 + name.size() + 1);
  out.push_back(kind);
  cstr(out, name);
}

void append_query(std::string& out, std::string_view sql) {
  header(out, 'Q', sql.size() + 1);
  cstr(out, sql);
}

void append_sync(std::string& out) { header(out, 'S', 0); }

std::string_view command_tag(std::string_view body) {
  size_t z = body.find('\0');
  return z == std::string_view::npos ? body : body.substr(0, z);
}

}  // namespace metagate::wire
