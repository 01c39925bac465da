// Encoding of backend (server → client) messages into a caller-owned buffer.
#include "metagate/wire/backend.hpp"

#include <cassert>

namespace metagate::wire {
namespace {
void put_be32(std::string& out, size_t at, int32_t v) {
  uint32_t u = static_cast<uint32_t>(v);
  out[at] = static_cast<char>(u >> 24);
  out[at + 1] = static_cast<char>(u >> 16);
  out[at + 2] = static_cast<char>(u >> 8);
  out[at + 3] = static_cast<char>(u);
}
}  // namespace

void Writer::begin(char type) {
  out_.push_back(type);
  start_ = out_.size();
  out_.append(4, '\0');
}

void Writer::end() { put_be32(out_, start_, static_cast<int32_t>(out_.size() - start_)); }

void Writer::int16(int16_t v) {
  uint16_t u = static_cast<uint16_t>(v);
  out_.push_back(static_cast<char>(u >> 8));
  out_.push_back(static_cast<char>(u));
}

void Writer::int32(int32_t v) {
  size_t at = out_.size();
  out_.append(4, '\0');
  put_be32(out_, at, v);
}

void Writer::cstr(std::string_view s) {
  out_.append(s);
  out_.push_back('\0');
}

void Writer::auth_ok() { begin('R'); int32(0); end(); }
void Writer::auth_cleartext() { begin('R'); int32(3); end(); }
void Writer::auth_md5(const uint8_t salt[4]) {
  begin('R');
  int32(5);
  out_.append(reinterpret_cast<const char*>(salt), 4);
  end();
}
void Writer::auth_sasl(std::span<const std::string_view> mechanisms) {
  begin('R');
  int32(10);
  for (auto m : mechanisms) cstr(m);
  out_.push_back('\0');
  end();
}
void Writer::auth_sasl_continue(std::string_view data) { begin('R'); int32(11); bytes(data); end(); }
void Writer::auth_sasl_final(std::string_view data) { begin('R'); int32(12); bytes(data); end(); }

void Writer::parameter_status(std::string_view name, std::string_view value) {
  begin('S');
  cstr(name);
  cstr(value);
  end();
}
void Writer::backend_key_data(int32_t pid, int32_t secret) { begin('K'); int32(pid); int32(secret); end(); }
void Writer::ready_for_query(TxStatus status) { begin('Z'); out_.push_back(static_cast<char>(status)); end(); }

void Writer::row_description(std::span<const FieldDescription> fields) {
  begin('T');
  int16(static_cast<int16_t>(fields.size()));
  for (const auto& f : fields) {
    cstr(f.name);
    int32(static_cast<int32_t>(f.table_oid));
    int16(f.column_attr);
    int32(static_cast<int32_t>(f.type_oid));
    int16(f.type_size);
    int32(f.type_modifier);
    int16(f.format);
  }
  end();
}
void Writer::no_data() { begin('n'); end(); }
void Writer::parameter_description(std::span<const uint32_t> types) {
  begin('t');
  int16(static_cast<int16_t>(types.size()));
  for (auto t : types) int32(static_cast<int32_t>(t));
  end();
}
void Writer::begin_data_row(int16_t columns) { begin('D'); int16(columns); }
void Writer::field(std::string_view value) {
  int32(static_cast<int32_t>(value.size()));
  out_.append(value);
}
size_t Writer::begin_field() {
  size_t mark = out_.size();
  out_.append(4, '\0');
  return mark;
}
void Writer::end_field(size_t mark) { put_be32(out_, mark, static_cast<int32_t>(out_.size() - mark - 4)); }
void Writer::command_complete(std::string_view tag) { begin('C'); cstr(tag); end(); }
void Writer::empty_query_response() { begin('I'); end(); }
void Writer::parse_complete() { begin('1'); end(); }
void Writer::bind_complete() { begin('2'); end(); }
void Writer::close_complete() { begin('3'); end(); }
void Writer::portal_suspended() { begin('s'); end(); }

void Writer::copy_in_response(bool binary, int16_t columns) {
  begin('G');
  out_.push_back(binary ? 1 : 0);
  int16(columns);
  for (int i = 0; i < columns; ++i) int16(binary ? 1 : 0);
  end();
}
void Writer::copy_out_response(bool binary, int16_t columns) {
  begin('H');
  out_.push_back(binary ? 1 : 0);
  int16(columns);
  for (int i = 0; i < columns; ++i) int16(binary ? 1 : 0);
  end();
}
void Writer::copy_data(std::string_view data) { begin('d'); bytes(data); end(); }
void Writer::copy_done() { begin('c'); end(); }

void Writer::error_or_notice(char type, const PgError& e) {
  begin(type);
  auto field_if = [&](char code, const std::string& v) {
    if (v.empty()) return;
    out_.push_back(code);
    cstr(v);
  };
  field_if('S', e.severity);
  field_if('V', e.severity);
  field_if('C', e.sqlstate);
  field_if('M', e.message);
  field_if('D', e.detail);
  field_if('H', e.hint);
  if (e.position > 0) field_if('P', std::to_string(e.position));
  field_if('s', e.schema_name);
  field_if('t', e.table_name);
  field_if('c', e.column_name);
  field_if('d', e.datatype_name);
  field_if('n', e.constraint_name);
  out_.push_back('\0');
  end();
}
void Writer::error_response(const PgError& e) { error_or_notice('E', e); }
void Writer::notice_response(const PgError& e) { error_or_notice('N', e); }

PgError parse_error_fields(std::string_view body) {
  PgError e = PgError::make(sqlstate::kInternalError, "");
  size_t i = 0;
  while (i < body.size() && body[i] != '\0') {
    char code = body[i++];
    size_t end = body.find('\0', i);
    if (end == std::string_view::npos) break;
    std::string v(body.substr(i, end - i));
    i = end + 1;
    switch (code) {
      case 'V': e.severity = v; break;
      case 'S': if (e.severity.empty()) e.severity = v; break;
      case 'C': e.sqlstate = v; break;
      case 'M': e.message = v; break;
      case 'D': e.detail = v; break;
      case 'H': e.hint = v; break;
      default: break;
    }
  }
  return e;
}

}  // namespace metagate::wire
