// float4/float8: PG's float4in/float8in (strtod rules) and float4out/float8out (shortest
// round-trip digits with PG's exponent rules when extra_float_digits > 0, else %.Ng).
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <type_traits>

#include "internal.hpp"

namespace metagate::types::detail {
namespace {

// Formats shortest digits the way PG's Ryu-based output does: fixed notation when the
// decimal exponent is in [-4, max_fixed_exp), else d.ddde±XX.
// PG's Ryu never picks digits lying exactly halfway between v and a neighbour (e.g. 1e23
// prints as 9.999999999999999e+22); std::to_chars may. Wide = a type holding the midpoint exactly.
template <class F, class Wide>
bool on_boundary(F v, const char* repr) {
  const Wide c = sizeof(Wide) == sizeof(double) ? static_cast<Wide>(std::strtod(repr, nullptr))
                                                : static_cast<Wide>(std::strtold(repr, nullptr));
  const F inf = std::numeric_limits<F>::infinity();
  const Wide up = (static_cast<Wide>(v) + static_cast<Wide>(std::nextafter(v, inf))) / 2;
  const Wide down = (static_cast<Wide>(v) + static_cast<Wide>(std::nextafter(v, -inf))) / 2;
  return c == up || c == down;
}

template <class F>
void shortest_out(F v, int max_fixed_exp, std::string& out) {
  using Wide = std::conditional_t<sizeof(F) == sizeof(float), double, long double>;
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  *r.ptr = '\0';
  if (on_boundary<F, Wide>(v, buf)) {
    int frac_digits = -1;
    for (const char* c = buf; *c && *c != 'e'; ++c) frac_digits += is_digit(*c);
    for (int p = frac_digits + 1; p < std::numeric_limits<F>::max_digits10; ++p) {
      const int n = std::snprintf(buf, sizeof buf, "%.*e", p, static_cast<double>(v));
      const F back = sizeof(F) == sizeof(float) ? static_cast<F>(std::strtof(buf, nullptr)) : static_cast<F>(std::strtod(buf, nullptr));
      if (back == v && !on_boundary<F, Wide>(v, buf)) {
        r.ptr = buf + n;
        break;
      }
    }
  }
  std::string_view sci(buf, static_cast<size_t>(r.ptr - buf));
  bool neg = false;
  if (!sci.empty() && sci[0] == '-') {
    neg = true;
    sci.remove_prefix(1);
  }
  const size_t epos = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, epos))
    if (c != '.') digits.push_back(c);
  int exp = 0;
  std::from_chars(sci.data() + epos + 1 + (sci[epos + 1] == '+' ? 1 : 0), sci.data() + sci.size(), exp);
  if (neg) out.push_back('-');
  if (exp < -4 || exp >= max_fixed_exp) {
    out.push_back(digits[0]);
    if (digits.size() > 1) {
      out.push_back('.');
      out.append(digits, 1);
    }
    out.push_back('e');
    out.push_back(exp < 0 ? '-' : '+');
    append_padded(out, exp < 0 ? -exp : exp, 2);
  } else if (exp >= 0) {
    const size_t int_digits = static_cast<size_t>(exp) + 1;
    if (digits.size() <= int_digits) {
      out += digits;
      out.append(int_digits - digits.size(), '0');
    } else {
      out.append(digits, 0, int_digits);
      out.push_back('.');
      out.append(digits, int_digits);
    }
  } else {
    out += "0.";
    out.append(static_cast<size_t>(-exp - 1), '0');
    out += digits;
  }
}

bool special_out(double v, std::string& out) {
  if (std::isnan(v)) {
    out += "NaN";
    return true;
  }
  if (std::isinf(v)) {
    out += v > 0 ? "Infinity" : "-Infinity";
    return true;
  }
  return false;
}

void g_out(double v, int ndig, std::string& out) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g", ndig < 1 ? 1 : ndig, v);
  out += buf;
}

}  // namespace

PgResult<Value> float_in(Oid type, std::string_view s) {
  const bool is4 = type == oid::kFloat4;
  const std::string_view name = is4 ? "real" : "double precision";
  size_t k = 0;
  while (k < s.size() && is_space(s[k])) ++k;
  if (k == s.size()) return fail(invalid_syntax(name, s));
  const std::string num(s.substr(k));
  if (num.find('\0') != std::string::npos) return fail(invalid_syntax(name, s));
  errno = 0;
  char* end = nullptr;
  double val = is4 ? static_cast<double>(std::strtof(num.c_str(), &end)) : std::strtod(num.c_str(), &end);
  if (end == num.c_str()) return fail(invalid_syntax(name, s));
  if (errno == ERANGE) {
    if (val == 0.0 || std::isinf(val))
      return fail(PgError::make(sqlstate::kNumericValueOutOfRange,
                                "\"" + num.substr(0, static_cast<size_t>(end - num.c_str())) +
                                    "\" is out of range for type " + std::string(name)));
  } else if (errno != 0) {
    return fail(invalid_syntax(name, s));
  }
  while (*end && is_space(*end)) ++end;
  if (*end) return fail(invalid_syntax(name, s));
  // SQLite turns a NaN REAL into NULL, so NaN is stored as the text 'NaN' (which SQLite
  // also orders after every number, as PG orders NaN).
  if (std::isnan(val)) return Value::text("NaN");
  return Value::real(val);
}

void float8_out(double v, int extra_float_digits, std::string& out) {
  if (special_out(v, out)) return;
  if (extra_float_digits > 0) return shortest_out(v, 15, out);
  g_out(v, 15 + extra_float_digits, out);
}

void float4_out(float v, int extra_float_digits, std::string& out) {
  if (special_out(v, out)) return;
  if (extra_float_digits > 0) return shortest_out(v, 6, out);
  g_out(static_cast<double>(v), 6 + extra_float_digits, out);
}

std::optional<double> storage_real(const ValueRef& v) {
  switch (v.kind) {
    case Value::Kind::Real: return v.r;
    case Value::Kind::Int: return static_cast<double>(v.i);
    case Value::Kind::Text: {
      auto r = float_in(oid::kFloat8, v.s);
      if (!r) return std::nullopt;
      return r->kind == Value::Kind::Text ? std::nan("") : r->r;
    }
    default: return std::nullopt;
  }
}

}  // namespace metagate::types::detail
