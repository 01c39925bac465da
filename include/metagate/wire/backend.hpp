// Backend (server → client) messages of the PostgreSQL v3 protocol, encoded into a byte
// buffer. Lengths are back-patched when a message ends, so no size is computed twice.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "metagate/util/pg_error.hpp"

namespace metagate::wire {

enum class TxStatus : char { kIdle = 'I', kInTransaction = 'T', kFailed = 'E' };

struct FieldDescription {
  std::string name;
  uint32_t table_oid = 0;
  int16_t column_attr = 0;
  uint32_t type_oid = 0;
  int16_t type_size = -1;
  int32_t type_modifier = -1;
  int16_t format = 0;
};

// Appends encoded messages to an output buffer owned by the caller.
class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}

  // Generic building blocks (one message at a time).
  void begin(char type);
  void end();
  void int8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void int16(int16_t v);
  void int32(int32_t v);
  void cstr(std::string_view s);  // s + NUL
  void bytes(std::string_view s) { out_.append(s); }
  std::string& buffer() { return out_; }

  // Authentication.
  void auth_ok();
  void auth_cleartext();
  void auth_md5(const uint8_t salt[4]);
  void auth_sasl(std::span<const std::string_view> mechanisms);
  void auth_sasl_continue(std::string_view data);
  void auth_sasl_final(std::string_view data);
  void ssl_response(bool accept) { out_.push_back(accept ? 'S' : 'N'); }  // not a framed message

  void parameter_status(std::string_view name, std::string_view value);
  void backend_key_data(int32_t pid, int32_t secret);
  void ready_for_query(TxStatus status);

  // Results.
  void row_description(std::span<const FieldDescription> fields);
  void no_data();
  void parameter_description(std::span<const uint32_t> types);
  // DataRow: begin_data_row(n), then n × (null_field() | field(bytes) | begin_field()/end_field()).
  void begin_data_row(int16_t columns);
  void null_field() { int32(-1); }
  void field(std::string_view value);
  size_t begin_field();           // returns a mark; append the value to buffer(), then end_field(mark)
  void end_field(size_t mark);
  void end_data_row() { end(); }
  void command_complete(std::string_view tag);
  void empty_query_response();
  void parse_complete();
  void bind_complete();
  void close_complete();
  void portal_suspended();

  // COPY.
  void copy_in_response(bool binary, int16_t columns);
  void copy_out_response(bool binary, int16_t columns);
  void copy_data(std::string_view data);
  void copy_done();

  // Errors and notices. Fields: S, V, C, M, D, H, P, s, t, c, d, n (as present).
  void error_response(const PgError& e);
  void notice_response(const PgError& e);

 private:
  void error_or_notice(char type, const PgError& e);
  std::string& out_;
  size_t start_ = 0;
};

// Decoding what a PostgreSQL server sends (metagate as a client of PostgreSQL backends): an
// ErrorResponse/NoticeResponse body (fields 'S', 'V', 'C', 'M', 'D', 'H', ...) as a PgError.
// Missing fields stay empty (sqlstate XX000 when the server sent none); never throws.
PgError parse_error_fields(std::string_view body);

}  // namespace metagate::wire
