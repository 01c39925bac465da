// Value (owning) and ValueRef (borrowed): a SQLite storage value; SessionContext: the session
// settings that change how values are read and written.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace metagate::types {

struct ValueRef;

struct Value {
  enum class Kind : uint8_t { Null, Int, Real, Text, Blob };
  Kind kind = Kind::Null;
  int64_t i = 0;
  double r = 0;
  std::string s;  // Text (UTF-8) or Blob (raw bytes)

  static Value null() { return {}; }
  static Value integer(int64_t v) { Value x; x.kind = Kind::Int; x.i = v; return x; }
  static Value real(double v) { Value x; x.kind = Kind::Real; x.r = v; return x; }
  static Value text(std::string v) { Value x; x.kind = Kind::Text; x.s = std::move(v); return x; }
  static Value blob(std::string v) { Value x; x.kind = Kind::Blob; x.s = std::move(v); return x; }
  bool is_null() const { return kind == Kind::Null; }
  ValueRef ref() const;
  bool operator==(const Value&) const = default;
};

// Non-owning view, e.g. built from sqlite3_column_*; s is valid for Text and Blob only.
struct ValueRef {
  Value::Kind kind = Value::Kind::Null;
  int64_t i = 0;
  double r = 0;
  std::string_view s;

  static ValueRef null() { return {}; }
  static ValueRef integer(int64_t v) { return {Value::Kind::Int, v, 0, {}}; }
  static ValueRef real(double v) { return {Value::Kind::Real, 0, v, {}}; }
  static ValueRef text(std::string_view v) { return {Value::Kind::Text, 0, 0, v}; }
  static ValueRef blob(std::string_view v) { return {Value::Kind::Blob, 0, 0, v}; }
};

inline ValueRef Value::ref() const { return {kind, i, r, s}; }

// Session settings the codec depends on. DateStyle is always ISO, MDY; IntervalStyle is
// always 'postgres'; bytea_output is always 'hex'.
struct SessionContext {
  // TimeZone GUC, evaluated like PG's check_timezone for zones without DST rules: UTC
  // aliases (UTC, GMT, Z, Etc/UTC, Universal, ...), EST/MST/HST, Etc/GMT±N, plain numbers
  // = hours EAST ('+02', '2', '-3.5'), POSIX strings = hours WEST ('+05:30', 'UTC-3',
  // '<+02>-02'). Anything else (Europe/Berlin, America/New_York: zones with DST) is treated
  // as UTC: validate with datetime::session_timezone_offset() when the client sets it.
  std::string timezone = "UTC";
  int extra_float_digits = 1;
  // Statement start time (µs since 2000-01-01 00:00:00 UTC) for 'now', 'today', 'tomorrow',
  // 'yesterday'; when empty those inputs fail with 0A000.
  std::optional<int64_t> now_us;
};

}  // namespace metagate::types
