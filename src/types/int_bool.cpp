// bool, int2/int4/int8 and oid text input (PG's boolin, int*in, oidin) and storage readers.
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "internal.hpp"

namespace metagate::types::detail {
namespace {

bool prefix_ci(std::string_view s, std::string_view word) {
  return s.size() <= word.size() && ieq(s, word.substr(0, s.size()));
}

std::string_view int_type_name(Oid type) {
  switch (type) {
    case oid::kInt2: return "smallint";
    case oid::kInt8: return "bigint";
    case oid::kInt4: return "integer";
    default: return "oid";
  }
}

// PG's oidin/uint32in: strtoul semantics (so "-1" is 4294967295), values that fit either
// uint32 or int32.
PgResult<Value> oid_in(Oid type, std::string_view s) {
  const std::string name = format_type(type, -1);
  const std::string copy(s);
  if (copy.empty()) return fail(invalid_syntax(name, s));
  errno = 0;
  char* end = nullptr;
  const unsigned long cvt = std::strtoul(copy.c_str(), &end, 10);
  if (errno == ERANGE) return fail(out_of_range_value(name, s));
  if (end == copy.c_str()) return fail(invalid_syntax(name, s));
  while (*end && is_space(*end)) ++end;
  if (*end) return fail(invalid_syntax(name, s));
  if (cvt != static_cast<unsigned long>(static_cast<unsigned int>(cvt)) &&
      cvt != static_cast<unsigned long>(static_cast<int>(cvt)))
    return fail(out_of_range_value(name, s));
  return Value::integer(static_cast<uint32_t>(cvt));
}

}  // namespace

PgResult<Value> bool_in(std::string_view s) {
  const std::string_view t = trim_space(s);
  if (!t.empty()) {
    switch (lower(t[0])) {
      case 't': if (prefix_ci(t, "true")) return Value::integer(1); break;
      case 'f': if (prefix_ci(t, "false")) return Value::integer(0); break;
      case 'y': if (prefix_ci(t, "yes")) return Value::integer(1); break;
      case 'n': if (prefix_ci(t, "no")) return Value::integer(0); break;
      case 'o':
        if (t.size() >= 2 && prefix_ci(t, "on")) return Value::integer(1);
        if (t.size() >= 2 && prefix_ci(t, "off")) return Value::integer(0);
        break;
      case '1': if (t.size() == 1) return Value::integer(1); break;
      case '0': if (t.size() == 1) return Value::integer(0); break;
      default: break;
    }
  }
  return fail(invalid_syntax("boolean", s));
}

PgResult<Value> int_in(Oid type, std::string_view s) {
  if (type != oid::kInt2 && type != oid::kInt4 && type != oid::kInt8) return oid_in(type, s);
  const std::string_view name = int_type_name(type);
  size_t k = 0;
  while (k < s.size() && is_space(s[k])) ++k;
  bool neg = false;
  if (k < s.size() && (s[k] == '-' || s[k] == '+')) neg = s[k++] == '-';
  const size_t digits_start = k;
  // Accumulate as a negative number so INT64_MIN fits.
  int64_t acc = 0;
  bool overflow = false;
  while (k < s.size() && is_digit(s[k])) {
    const int d = s[k++] - '0';
    if (acc < (std::numeric_limits<int64_t>::min() + d) / 10) overflow = true;
    if (!overflow) acc = acc * 10 - d;
  }
  if (k == digits_start) return fail(invalid_syntax(name, s));
  while (k < s.size() && is_space(s[k])) ++k;
  if (k != s.size()) return fail(invalid_syntax(name, s));
  if (!neg) {
    if (acc == std::numeric_limits<int64_t>::min()) overflow = true;
    else acc = -acc;
  }
  int64_t lo = std::numeric_limits<int64_t>::min(), hi = std::numeric_limits<int64_t>::max();
  if (type == oid::kInt2) lo = -32768, hi = 32767;
  if (type == oid::kInt4) lo = std::numeric_limits<int32_t>::min(), hi = std::numeric_limits<int32_t>::max();
  if (overflow || acc < lo || acc > hi) return fail(out_of_range_value(name, s));
  return Value::integer(acc);
}

std::optional<bool> storage_bool(const ValueRef& v) {
  switch (v.kind) {
    case Value::Kind::Int: return v.i != 0;
    case Value::Kind::Real: return v.r != 0;
    case Value::Kind::Text: {
      auto r = bool_in(v.s);
      if (r) return r->i != 0;
      return std::nullopt;
    }
    default: return std::nullopt;
  }
}

std::optional<int64_t> storage_int(const ValueRef& v) {
  switch (v.kind) {
    case Value::Kind::Int: return v.i;
    case Value::Kind::Real: {
      const double r = std::nearbyint(v.r);  // PG's float→int casts round half to even
      if (!std::isfinite(r) || r < -9223372036854775808.0 || r >= 9223372036854775808.0) return std::nullopt;
      return static_cast<int64_t>(r);
    }
    case Value::Kind::Text: {
      auto r = int_in(oid::kInt8, v.s);
      if (r) return r->i;
      return std::nullopt;
    }
    default: return std::nullopt;
  }
}

}  // namespace metagate::types::detail
