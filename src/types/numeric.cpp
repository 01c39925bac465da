// numeric: PG's numeric_in/numeric_out (scale-preserving decimal text), typmod rounding and
// overflow rules, and numeric_send/numeric_recv (base-10000 digit format).
#include <cmath>
#include <cstdio>
#include <vector>

#include "internal.hpp"

namespace metagate::types::detail {
namespace {

constexpr int kMaxDscale = 16383;      // NUMERIC_DSCALE_MAX
constexpr int kMaxIntDigits = 131072;  // (NUMERIC_WEIGHT_MAX + 1) * 4
constexpr uint16_t kPos = 0x0000, kNeg = 0x4000, kNaN = 0xC000, kPInf = 0xD000, kNInf = 0xF000;

// value = 0.<digits> × 10^point, digits without leading/trailing zeros (empty = zero);
// dscale = digits shown after the decimal point.
struct Dec {
  enum class K { Finite, NaN, PInf, NInf } k = K::Finite;
  bool neg = false;
  std::string digits;
  int64_t point = 0;
  int64_t dscale = 0;
};

PgError overflow_error() {
  return PgError::make(sqlstate::kNumericValueOutOfRange, "value overflows numeric format");
}

void normalize(Dec& d) {
  size_t lead = 0;
  while (lead < d.digits.size() && d.digits[lead] == '0') ++lead;
  d.digits.erase(0, lead);
  d.point -= static_cast<int64_t>(lead);
  while (!d.digits.empty() && d.digits.back() == '0') d.digits.pop_back();
  if (d.digits.empty()) {
    d.point = 0;
    d.neg = false;
  }
}

// Keeps the digits up to 10^-scale, rounding half away from zero (round) or truncating.
void round_to(Dec& d, int64_t scale, bool round) {
  const int64_t cut = d.point + scale;
  if (cut < static_cast<int64_t>(d.digits.size())) {
    if (cut < 0) {
      d.digits.clear();
    } else {
      const bool up = round && d.digits[static_cast<size_t>(cut)] >= '5';
      d.digits.resize(static_cast<size_t>(cut));
      if (up) {
        int64_t k = cut - 1;
        while (k >= 0 && d.digits[static_cast<size_t>(k)] == '9') d.digits[static_cast<size_t>(k--)] = '0';
        if (k >= 0) {
          ++d.digits[static_cast<size_t>(k)];
        } else {
          d.digits.insert(d.digits.begin(), '1');
          ++d.point;
        }
      }
    }
  }
  normalize(d);
}

PgResult<Dec> parse(std::string_view s) {
  Dec d;
  const std::string_view t = trim_space(s);
  if (ieq(t, "nan")) {
    d.k = Dec::K::NaN;
    return d;
  }
  if (ieq(t, "infinity") || ieq(t, "+infinity") || ieq(t, "inf") || ieq(t, "+inf")) {
    d.k = Dec::K::PInf;
    return d;
  }
  if (ieq(t, "-infinity") || ieq(t, "-inf")) {
    d.k = Dec::K::NInf;
    return d;
  }
  size_t k = 0;
  if (k < t.size() && (t[k] == '+' || t[k] == '-')) d.neg = t[k++] == '-';
  int64_t nfrac = 0;
  bool seen_point = false, any = false;
  for (; k < t.size(); ++k) {
    if (is_digit(t[k])) {
      d.digits.push_back(t[k]);
      any = true;
      if (seen_point) ++nfrac;
    } else if (t[k] == '.' && !seen_point) {
      seen_point = true;
    } else {
      break;
    }
  }
  if (!any) return fail(invalid_syntax("numeric", s));
  int64_t exp = 0;
  if (k < t.size() && (t[k] == 'e' || t[k] == 'E')) {
    ++k;
    bool eneg = false;
    if (k < t.size() && (t[k] == '+' || t[k] == '-')) eneg = t[k++] == '-';
    const size_t start = k;
    bool huge = false;
    while (k < t.size() && is_digit(t[k])) {
      if (exp > 100'000'000) huge = true;
      else exp = exp * 10 + (t[k] - '0');
      ++k;
    }
    if (k == start) return fail(invalid_syntax("numeric", s));
    if (huge) return fail(overflow_error());
    if (eneg) exp = -exp;
  }
  if (k != t.size()) return fail(invalid_syntax("numeric", s));
  d.dscale = std::max<int64_t>(0, nfrac - exp);
  d.point = static_cast<int64_t>(d.digits.size()) - nfrac + exp;
  normalize(d);
  return d;
}

PgStatus check_overflow(const Dec& d) {
  if (d.k != Dec::K::Finite) return Ok{};
  if (d.dscale > kMaxDscale || (!d.digits.empty() && d.point > kMaxIntDigits)) return fail(overflow_error());
  return Ok{};
}

PgStatus apply_typmod(Dec& d, int32_t typmod) {
  if (typmod < 4) return Ok{};
  const int32_t m = typmod - 4;
  const int precision = (m >> 16) & 0xFFFF;
  const int scale = ((m & 0x7FF) ^ 1024) - 1024;
  if (d.k == Dec::K::NaN) return Ok{};
  if (d.k != Dec::K::Finite)
    return fail(PgError::make(sqlstate::kNumericValueOutOfRange, "numeric field overflow")
                    .with_detail("A field with precision " + std::to_string(precision) + ", scale " +
                                 std::to_string(scale) + " cannot hold an infinite value."));
  round_to(d, scale, true);
  d.dscale = std::max(scale, 0);
  const int maxdigits = precision - scale;
  if (!d.digits.empty() && d.point > maxdigits) {
    std::string lim = maxdigits ? "10^" + std::to_string(maxdigits) : "1";
    return fail(PgError::make(sqlstate::kNumericValueOutOfRange, "numeric field overflow")
                    .with_detail("A field with precision " + std::to_string(precision) + ", scale " +
                                 std::to_string(scale) + " must round to an absolute value less than " + lim + "."));
  }
  return Ok{};
}

std::string render(const Dec& d) {
  switch (d.k) {
    case Dec::K::NaN: return "NaN";
    case Dec::K::PInf: return "Infinity";
    case Dec::K::NInf: return "-Infinity";
    default: break;
  }
  std::string out;
  if (d.neg && !d.digits.empty()) out.push_back('-');
  const auto n = static_cast<int64_t>(d.digits.size());
  if (d.point <= 0) {
    out.push_back('0');
  } else {
    for (int64_t k = 0; k < d.point; ++k) out.push_back(k < n ? d.digits[static_cast<size_t>(k)] : '0');
  }
  if (d.dscale > 0) {
    out.push_back('.');
    for (int64_t k = 0; k < d.dscale; ++k) {
      const int64_t idx = d.point + k;
      out.push_back(idx >= 0 && idx < n ? d.digits[static_cast<size_t>(idx)] : '0');
    }
  }
  return out;
}

int64_t floor_div4(int64_t a) { return a >= 0 ? a / 4 : -((-a + 3) / 4); }

}  // namespace

PgResult<Value> numeric_in(std::string_view s, int32_t typmod) {
  auto d = parse(s);
  if (!d) return fail(std::move(d).error());
  if (auto st = apply_typmod(*d, typmod); !st) return fail(std::move(st).error());
  if (auto st = check_overflow(*d); !st) return fail(std::move(st).error());
  return Value::text(render(*d));
}

PgResult<Value> numeric_apply_typmod(std::string_view canonical, int32_t typmod) {
  return numeric_in(canonical, typmod);
}

PgStatus numeric_send(std::string_view canonical, std::string& out) {
  auto p = parse(canonical);
  if (!p) return fail(std::move(p).error());
  const Dec& d = *p;
  uint16_t sign = d.neg ? kNeg : kPos;
  if (d.k == Dec::K::NaN) sign = kNaN;
  if (d.k == Dec::K::PInf) sign = kPInf;
  if (d.k == Dec::K::NInf) sign = kNInf;
  if (d.k != Dec::K::Finite || d.digits.empty()) {
    put_u16(out, 0);
    put_u16(out, 0);
    put_u16(out, sign);
    // PG sends the header's dscale bits for ±Infinity, which read as 32.
    put_u16(out, static_cast<uint16_t>(d.k == Dec::K::PInf || d.k == Dec::K::NInf ? 32 : d.dscale));
    return Ok{};
  }
  const int64_t weight = floor_div4(d.point - 1);
  const int64_t last_exp = d.point - static_cast<int64_t>(d.digits.size());  // exponent of last digit
  const int64_t last_group = floor_div4(last_exp);
  std::vector<uint16_t> groups(static_cast<size_t>(weight - last_group + 1), 0);
  for (size_t k = 0; k < d.digits.size(); ++k) {
    const int64_t e = d.point - 1 - static_cast<int64_t>(k);
    const int64_t g = floor_div4(e);
    static constexpr uint16_t kPow[] = {1, 10, 100, 1000};
    groups[static_cast<size_t>(weight - g)] += static_cast<uint16_t>((d.digits[k] - '0') * kPow[e - 4 * g]);
  }
  put_u16(out, static_cast<uint16_t>(groups.size()));
  put_u16(out, static_cast<uint16_t>(static_cast<int16_t>(weight)));
  put_u16(out, sign);
  put_u16(out, static_cast<uint16_t>(d.dscale));
  for (uint16_t g : groups) put_u16(out, g);
  return Ok{};
}

PgResult<Value> numeric_recv(Reader& r, int32_t typmod) {
  uint16_t ndigits, weight_u, sign, dscale;
  if (!r.get_u16(ndigits) || !r.get_u16(weight_u) || !r.get_u16(sign)) return fail(insufficient_data());
  if (sign != kPos && sign != kNeg && sign != kNaN && sign != kPInf && sign != kNInf)
    return fail(bad_binary("invalid sign in external \"numeric\" value"));
  if (!r.get_u16(dscale)) return fail(insufficient_data());
  if ((dscale & 0x3FFF) != dscale) return fail(bad_binary("invalid scale in external \"numeric\" value"));
  Dec d;
  const int16_t weight = static_cast<int16_t>(weight_u);
  for (uint16_t k = 0; k < ndigits; ++k) {
    uint16_t g;
    if (!r.get_u16(g)) return fail(insufficient_data());
    if (static_cast<int16_t>(g) < 0 || g >= 10000) return fail(bad_binary("invalid digit in external \"numeric\" value"));
    char buf[8];
    std::snprintf(buf, sizeof buf, "%04u", static_cast<unsigned>(g));
    d.digits.append(buf, 4);
  }
  if (sign == kNaN) d.k = Dec::K::NaN;
  if (sign == kPInf) d.k = Dec::K::PInf;
  if (sign == kNInf) d.k = Dec::K::NInf;
  if (d.k == Dec::K::Finite) {
    d.neg = sign == kNeg;
    d.point = (static_cast<int64_t>(weight) + 1) * 4;
    d.dscale = dscale;
    normalize(d);
    round_to(d, d.dscale, false);  // digits hidden by dscale are truncated away, as PG does
  } else {
    d.digits.clear();
  }
  if (auto st = apply_typmod(d, typmod); !st) return fail(std::move(st).error());
  if (auto st = check_overflow(d); !st) return fail(std::move(st).error());
  return Value::text(render(d));
}

std::optional<std::string> storage_numeric(const ValueRef& v) {
  switch (v.kind) {
    case Value::Kind::Text: {
      auto r = numeric_in(v.s, -1);
      if (!r) return std::nullopt;
      return std::move(r->s);
    }
    case Value::Kind::Int: {
      std::string s;
      append_int(s, v.i);
      return s;
    }
    case Value::Kind::Real: {
      // PG's float8 → numeric cast: DBL_DIG significant digits.
      if (std::isnan(v.r)) return std::string("NaN");
      if (std::isinf(v.r)) return std::string(v.r > 0 ? "Infinity" : "-Infinity");
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.15g", v.r);
      auto r = numeric_in(buf, -1);
      if (!r) return std::nullopt;
      return std::move(r->s);
    }
    default: return std::nullopt;
  }
}

}  // namespace metagate::types::detail
