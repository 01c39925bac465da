// interval: text input (PG's verbose units, h:m:s fields, y-m, 'ago', ISO 8601 P...),
// typmod range/precision rules, and 'postgres' IntervalStyle output.
#include <cmath>
#include <cstdlib>
#include <limits>
#include <vector>

#include "internal.hpp"

namespace metagate::types {
namespace dt = datetime;

namespace detail {
namespace {

namespace R = interval_range;

enum class Unit { Usec, Msec, Second, Minute, Hour, Day, Week, Month, Year, Decade, Century, Millennium };

struct UnitName {
  std::string_view name;
  Unit unit;
};

// PG's interval unit words (matched on their first 10 characters, as PG does).
constexpr UnitName kUnits[] = {
    {"c", Unit::Century},         {"cent", Unit::Century},        {"centuries", Unit::Century},
    {"century", Unit::Century},   {"d", Unit::Day},               {"day", Unit::Day},
    {"days", Unit::Day},          {"dec", Unit::Decade},          {"decade", Unit::Decade},
    {"decades", Unit::Decade},    {"decs", Unit::Decade},         {"h", Unit::Hour},
    {"hour", Unit::Hour},         {"hours", Unit::Hour},          {"hr", Unit::Hour},
    {"hrs", Unit::Hour},          {"m", Unit::Minute},            {"microsecon", Unit::Usec},
    {"mil", Unit::Millennium},    {"millennia", Unit::Millennium}, {"millennium", Unit::Millennium},
    {"millisecon", Unit::Msec},   {"mils", Unit::Millennium},     {"min", Unit::Minute},
    {"mins", Unit::Minute},       {"minute", Unit::Minute},       {"minutes", Unit::Minute},
    {"mon", Unit::Month},         {"mons", Unit::Month},          {"month", Unit::Month},
    {"months", Unit::Month},      {"ms", Unit::Msec},             {"msec", Unit::Msec},
    {"msecs", Unit::Msec},        {"mseconds", Unit::Msec},       {"s", Unit::Second},
    {"sec", Unit::Second},        {"second", Unit::Second},       {"seconds", Unit::Second},
    {"secs", Unit::Second},       {"us", Unit::Usec},             {"usec", Unit::Usec},
    {"usecs", Unit::Usec},        {"useconds", Unit::Usec},       {"w", Unit::Week},
    {"week", Unit::Week},         {"weeks", Unit::Week},          {"y", Unit::Year},
    {"year", Unit::Year},         {"years", Unit::Year},          {"yr", Unit::Year},
    {"yrs", Unit::Year},
};

std::optional<Unit> find_unit(std::string_view w) {
  if (w.size() > 10) w = w.substr(0, 10);
  for (const auto& u : kUnits)
    if (u.name == w) return u.unit;
  return std::nullopt;
}

enum class Err { Syntax, FieldRange, Range };

struct Acc {
  int64_t usec = 0;
  int64_t days = 0;
  int64_t months = 0;
  uint32_t fields = 0;  // units seen; each may appear once (PG's fmask)
};

uint32_t unit_bit(Unit u) { return 1u << static_cast<int>(u); }
constexpr uint32_t kTimeBits = (1u << static_cast<int>(Unit::Usec)) | (1u << static_cast<int>(Unit::Msec)) |
                               (1u << static_cast<int>(Unit::Second)) | (1u << static_cast<int>(Unit::Minute)) |
                               (1u << static_cast<int>(Unit::Hour));
constexpr uint32_t kSecondBits = (1u << static_cast<int>(Unit::Usec)) | (1u << static_cast<int>(Unit::Msec)) |
                                 (1u << static_cast<int>(Unit::Second));

// Records the fields a token sets; false when one was already given.
bool claim(Acc& acc, uint32_t bits) {
  if (acc.fields & bits) return false;
  acc.fields |= bits;
  return true;
}

bool add_checked(int64_t& a, int64_t b) { return !__builtin_add_overflow(a, b, &a); }
bool mul_checked(int64_t a, int64_t b, int64_t& out) { return !__builtin_mul_overflow(a, b, &out); }

// Rounds to the microsecond with halves going toward zero, as PG 15 does for unit fields.
bool add_fract_usec(Acc& acc, double frac, double scale) {
  if (frac == 0) return true;
  double v = frac * scale;
  if (!(v > -9.2e18 && v < 9.2e18)) return false;
  auto us = static_cast<int64_t>(v);
  v -= static_cast<double>(us);
  if (v > 0.5) ++us;
  else if (v < -0.5) --us;
  return add_checked(acc.usec, us);
}

bool add_fract_days(Acc& acc, double frac, double scale) {
  if (frac == 0) return true;
  const double d = frac * scale;
  const auto whole = static_cast<int64_t>(d);
  if (!add_checked(acc.days, whole)) return false;
  return add_fract_usec(acc, d - static_cast<double>(whole), static_cast<double>(dt::kUsecsPerDay));
}

bool add_fract_years(Acc& acc, double frac, double scale) {
  if (frac == 0) return true;
  const double m = std::rint(frac * scale * 12);
  if (!(m > -9.2e18 && m < 9.2e18)) return false;
  return add_checked(acc.months, static_cast<int64_t>(m));
}

bool apply_unit(Acc& acc, Unit u, int64_t val, double fval) {
  int64_t t;
  auto micro = [&](int64_t scale) {
    return mul_checked(val, scale, t) && add_checked(acc.usec, t) && add_fract_usec(acc, fval, static_cast<double>(scale));
  };
  auto years = [&](int64_t scale) {
    return mul_checked(val, scale * 12, t) && add_checked(acc.months, t) && add_fract_years(acc, fval, static_cast<double>(scale));
  };
  switch (u) {
    case Unit::Usec: return micro(1);
    case Unit::Msec: return micro(1000);
    case Unit::Second: return micro(dt::kUsecsPerSec);
    case Unit::Minute: return micro(dt::kUsecsPerMinute);
    case Unit::Hour: return micro(dt::kUsecsPerHour);
    case Unit::Day:
      return add_checked(acc.days, val) && add_fract_usec(acc, fval, static_cast<double>(dt::kUsecsPerDay));
    case Unit::Week: return mul_checked(val, 7, t) && add_checked(acc.days, t) && add_fract_days(acc, fval, 7);
    case Unit::Month: return add_checked(acc.months, val) && add_fract_days(acc, fval, 30);
    case Unit::Year: return years(1);
    case Unit::Decade: return years(10);
    case Unit::Century: return years(100);
    case Unit::Millennium: return years(1000);
  }
  return false;
}

// A signed decimal number: integer part and the fraction (carrying the sign).
struct Num {
  int64_t val = 0;
  double fval = 0;
  bool neg = false;
};

// Reads [+-]digits[.digits] at s[k]; false when there is no digit at all or overflow (range).
bool read_num(std::string_view s, size_t& k, Num& n, Err& err) {
  const size_t start = k;
  if (k < s.size() && (s[k] == '+' || s[k] == '-')) n.neg = s[k++] == '-';
  if (n.neg && k < s.size() && s[k] == '.') {  // PG rejects "-.5"
    k = start;
    err = Err::Syntax;
    return false;
  }
  bool any = false;
  int64_t v = 0;
  while (k < s.size() && is_digit(s[k])) {
    any = true;
    if (!mul_checked(v, 10, v) || !add_checked(v, s[k] - '0')) {
      err = Err::FieldRange;
      return false;
    }
    ++k;
  }
  if (k < s.size() && s[k] == '.') {
    const size_t fs = k++;
    while (k < s.size() && is_digit(s[k])) {
      any = true;
      ++k;
    }
    const std::string frac(s.substr(fs, k - fs));
    n.fval = frac.size() > 1 ? std::strtod(frac.c_str(), nullptr) : 0.0;
  }
  if (!any) {
    k = start;
    err = Err::Syntax;
    return false;
  }
  n.val = n.neg ? -v : v;
  if (n.neg) n.fval = -n.fval;
  return true;
}

// [+-]h:m[:s[.f]] (or m:s.f, or m:s in a MINUTE TO SECOND interval) → µs.
bool read_time(std::string_view s, size_t& k, int32_t range, Acc& acc, Err& err) {
  bool neg = false;
  if (s[k] == '+' || s[k] == '-') neg = s[k++] == '-';
  int64_t f[3] = {0, 0, 0};
  int n = 0;
  int64_t fsec = 0;
  bool frac_in_second_field = false;
  while (n < 3) {
    const size_t st = k;
    int64_t v = 0;
    while (k < s.size() && is_digit(s[k])) {
      if (!mul_checked(v, 10, v) || !add_checked(v, s[k] - '0')) {
        err = Err::FieldRange;
        return false;
      }
      ++k;
    }
    if (k == st) {
      err = Err::Syntax;
      return false;
    }
    f[n++] = v;
    if (k < s.size() && s[k] == '.' && n >= 2) {
      const size_t fs = k++;
      while (k < s.size() && is_digit(s[k])) ++k;
      const std::string frac(s.substr(fs, k - fs));
      fsec = frac.size() > 1 ? static_cast<int64_t>(std::rint(std::strtod(frac.c_str(), nullptr) * 1e6)) : 0;
      frac_in_second_field = n == 2;
      break;
    }
    if (k < s.size() && s[k] == ':' && n < 3) {
      ++k;
      continue;
    }
    break;
  }
  if (n < 2) {
    err = Err::Syntax;
    return false;
  }
  int64_t h = f[0], m = f[1], sec = f[2];
  if (n == 2 && (frac_in_second_field || range == (R::kMinute | R::kSecond))) h = 0, m = f[0], sec = f[1];
  if (m > 59 || sec > 60) {
    err = Err::FieldRange;
    return false;
  }
  // In 128 bits so that -2562047788:00:54.775808 (INT64_MIN µs, which PG prints) reads back.
  __extension__ typedef __int128 i128;
  i128 us = static_cast<i128>(h) * dt::kUsecsPerHour + static_cast<i128>(m) * dt::kUsecsPerMinute +
            static_cast<i128>(sec) * dt::kUsecsPerSec + fsec;
  if (neg) us = -us;
  if (us < std::numeric_limits<int64_t>::min() || us > std::numeric_limits<int64_t>::max() ||
      !add_checked(acc.usec, static_cast<int64_t>(us))) {
    err = Err::FieldRange;
    return false;
  }
  return true;
}

Unit default_unit(int32_t range) {
  switch (range) {
    case R::kYear: return Unit::Year;
    case R::kMonth:
    case R::kYear | R::kMonth: return Unit::Month;
    case R::kDay: return Unit::Day;
    case R::kHour:
    case R::kDay | R::kHour: return Unit::Hour;
    case R::kMinute:
    case R::kHour | R::kMinute:
    case R::kDay | R::kHour | R::kMinute: return Unit::Minute;
    default: return Unit::Second;
  }
}

bool is_alpha(char c) { return (lower(c) >= 'a' && lower(c) <= 'z'); }

std::optional<Err> parse_iso(std::string_view s, Acc& acc) {
  size_t k = 1;  // after 'p'
  if (k == s.size()) return Err::Syntax;
  bool in_time = false;
  while (k < s.size()) {
    if (s[k] == 't') {
      if (in_time) return Err::Syntax;
      in_time = true;
      ++k;
      continue;
    }
    Num n;
    Err e = Err::Syntax;
    const size_t numstart = k;
    if (!read_num(s, k, n, e)) return e;
    if (k == s.size()) return Err::Syntax;
    const char c = s[k];
    if (!in_time && c == '-' && n.fval == 0) {  // alternative format PYYYY-MM-DD[Thh:mm:ss]
      if (numstart != 1) return Err::Syntax;
      Num mo, d;
      ++k;
      if (!read_num(s, k, mo, e)) return Err::Syntax;
      if (k < s.size() && s[k] == '-') {
        ++k;
        if (!read_num(s, k, d, e)) return Err::Syntax;
      }
      if (!apply_unit(acc, Unit::Year, n.val, 0) || !apply_unit(acc, Unit::Month, mo.val, mo.fval) ||
          !apply_unit(acc, Unit::Day, d.val, d.fval))
        return Err::FieldRange;
      if (k < s.size()) {
        if (s[k] != 't') return Err::Syntax;
        ++k;
        if (k >= s.size() || !read_time(s, k, R::kFull, acc, e)) return Err::Syntax;
      }
      return k == s.size() ? std::nullopt : std::optional<Err>(Err::Syntax);
    }
    if (in_time && c == ':') {  // PThh:mm:ss
      k = numstart;
      if (!read_time(s, k, R::kFull, acc, e)) return e;
      continue;
    }
    std::optional<Unit> u;
    if (!in_time) {
      if (c == 'y') u = Unit::Year;
      else if (c == 'm') u = Unit::Month;
      else if (c == 'w') u = Unit::Week;
      else if (c == 'd') u = Unit::Day;
    } else {
      if (c == 'h') u = Unit::Hour;
      else if (c == 'm') u = Unit::Minute;
      else if (c == 's') u = Unit::Second;
    }
    if (!u) return Err::Syntax;
    ++k;
    if (!apply_unit(acc, *u, n.val, n.fval)) return Err::FieldRange;
  }
  return std::nullopt;
}

std::optional<Err> parse_postgres(std::string_view s, int32_t range, Acc& acc) {
  bool ago = false, any = false;
  size_t k = 0;
  while (true) {
    while (k < s.size() && is_space(s[k])) ++k;
    if (k == s.size()) break;
    const char c = s[k];
    if (c == '@') {
      ++k;
      continue;
    }
    if (is_alpha(c)) {
      size_t st = k;
      while (k < s.size() && is_alpha(s[k])) ++k;
      if (s.substr(st, k - st) == "ago" && any) {
        ago = true;
        continue;
      }
      return Err::Syntax;  // a unit without a number
    }
    if (!(is_digit(c) || c == '+' || c == '-' || c == '.')) return Err::Syntax;
    // Look ahead: a time field has ':' before the next blank.
    size_t e = k;
    while (e < s.size() && !is_space(s[e]) && !is_alpha(s[e])) ++e;
    const std::string_view tok = s.substr(k, e - k);
    Err err = Err::Syntax;
    if (tok.find(':') != std::string_view::npos) {
      if (!claim(acc, kTimeBits)) return Err::Syntax;
      if (!read_time(s, k, range, acc, err) || k != e) return err == Err::FieldRange ? err : Err::Syntax;
      any = true;
      continue;
    }
    Num n;
    if (!read_num(s, k, n, err)) return err;
    if (k < s.size() && s[k] == '-' && n.fval == 0) {  // y-m
      Num m;
      ++k;
      if (!read_num(s, k, m, err) || m.neg || m.fval != 0) return Err::Syntax;
      if (!claim(acc, unit_bit(Unit::Year) | unit_bit(Unit::Month))) return Err::Syntax;
      if (!apply_unit(acc, Unit::Year, n.val, 0) || !apply_unit(acc, Unit::Month, n.neg ? -m.val : m.val, 0))
        return Err::FieldRange;
      any = true;
      continue;
    }
    if (k < s.size() && !is_space(s[k]) && !is_alpha(s[k])) return Err::Syntax;
    // The unit: a word right after (or after blanks), else a following time field means
    // days, else the range's lowest field.
    size_t w = k;
    while (w < s.size() && is_space(s[w])) ++w;
    std::optional<Unit> unit;
    if (w < s.size() && is_alpha(s[w])) {
      size_t we = w;
      while (we < s.size() && is_alpha(s[we])) ++we;
      const std::string_view word = s.substr(w, we - w);
      if (word != "ago") {
        unit = find_unit(word);
        if (!unit) return Err::Syntax;
        k = we;
      }
    }
    if (!unit) {
      size_t te = w;
      while (te < s.size() && !is_space(s[te])) ++te;
      const bool time_follows = w < s.size() && s.substr(w, te - w).find(':') != std::string_view::npos;
      if (time_follows) unit = Unit::Day;
      else if (w == s.size()) unit = default_unit(range);
      else return Err::Syntax;
    }
    const uint32_t bits = *unit == Unit::Second && n.fval != 0 ? kSecondBits : unit_bit(*unit);
    if (!claim(acc, bits)) return Err::Syntax;
    if (!apply_unit(acc, *unit, n.val, n.fval)) return Err::FieldRange;
    any = true;
  }
  if (!any) return Err::Syntax;
  if (ago) {
    acc.usec = -acc.usec;
    acc.days = -acc.days;
    acc.months = -acc.months;
  }
  return std::nullopt;
}

}  // namespace

PgResult<dt::Interval> interval_adjust_typmod(dt::Interval iv, int32_t typmod) {
  if (typmod < 0) return iv;
  const int32_t range = (typmod >> 16) & 0x7FFF;
  const int32_t precision = typmod & 0xFFFF;
  switch (range) {
    case R::kYear: iv.months = iv.months / 12 * 12; iv.days = 0; iv.time_us = 0; break;
    case R::kMonth:
    case R::kYear | R::kMonth: iv.days = 0; iv.time_us = 0; break;
    case R::kDay: iv.time_us = 0; break;
    case R::kHour:
    case R::kDay | R::kHour: iv.time_us = iv.time_us / dt::kUsecsPerHour * dt::kUsecsPerHour; break;
    case R::kMinute:
    case R::kHour | R::kMinute:
    case R::kDay | R::kHour | R::kMinute: iv.time_us = iv.time_us / dt::kUsecsPerMinute * dt::kUsecsPerMinute; break;
    default: break;
  }
  if (precision != kIntervalFullPrecision && precision < 6) {
    static constexpr int64_t kScales[] = {1000000, 100000, 10000, 1000, 100, 10};
    const int64_t scale = kScales[precision], offset = scale / 2;
    int64_t t = iv.time_us;
    if (t >= 0) {
      if (t > std::numeric_limits<int64_t>::max() - offset)
        return fail(PgError::make(sqlstate::kDatetimeFieldOverflow, "interval out of range"));
      iv.time_us = (t + offset) / scale * scale;
    } else {
      if (-(t + 1) > std::numeric_limits<int64_t>::max() - offset - 1)
        return fail(PgError::make(sqlstate::kDatetimeFieldOverflow, "interval out of range"));
      iv.time_us = -(((-t) + offset) / scale * scale);
    }
  }
  return iv;
}

PgResult<dt::Interval> interval_parse(std::string_view input, int32_t typmod) {
  std::string s(trim_space(input));
  for (char& c : s) c = lower(c);
  const int32_t range = typmod >= 0 ? (typmod >> 16) & 0x7FFF : R::kFull;
  Acc acc;
  std::optional<Err> err;
  if (s.empty()) err = Err::Syntax;
  else if (s[0] == 'p') err = parse_iso(s, acc);
  else err = parse_postgres(s, range, acc);
  if (!err && (acc.days > std::numeric_limits<int32_t>::max() || acc.days < std::numeric_limits<int32_t>::min() ||
               acc.months > std::numeric_limits<int32_t>::max() || acc.months < std::numeric_limits<int32_t>::min()))
    err = Err::FieldRange;
  if (err) {
    switch (*err) {
      case Err::FieldRange:
        return fail(PgError::make("22015", "interval field value out of range: \"" + std::string(input) + "\""));
      case Err::Range: return fail(PgError::make(sqlstate::kDatetimeFieldOverflow, "interval out of range"));
      default:
        return fail(PgError::make(sqlstate::kInvalidDatetimeFormat,
                                  "invalid input syntax for type interval: \"" + std::string(input) + "\""));
    }
  }
  dt::Interval iv{acc.usec, static_cast<int32_t>(acc.days), static_cast<int32_t>(acc.months)};
  return interval_adjust_typmod(iv, typmod);
}

PgResult<Value> interval_in(std::string_view input, int32_t typmod) {
  auto iv = interval_parse(input, typmod);
  if (!iv) return fail(std::move(iv).error());
  return Value::text(dt::interval_to_storage(*iv));
}

std::optional<dt::Interval> storage_interval(const ValueRef& v) {
  if (v.kind != Value::Kind::Text) return std::nullopt;
  return dt::interval_from_storage(v.s);
}

}  // namespace detail

namespace datetime {

std::optional<Interval> interval_from_storage(std::string_view s) {
  auto r = detail::interval_parse(s, -1);
  if (!r) return std::nullopt;
  return *r;
}

std::string interval_to_storage(const Interval& iv) {
  std::string out;
  bool is_zero = true, is_before = false;
  auto part = [&](int64_t value, std::string_view unit) {
    if (value == 0) return;
    if (!is_zero) out.push_back(' ');
    if (is_before && value > 0) out.push_back('+');
    detail::append_int(out, value);
    out.push_back(' ');
    out += unit;
    if (value != 1) out.push_back('s');
    is_before = value < 0;
    is_zero = false;
  };
  part(iv.months / 12, "year");
  part(iv.months % 12, "mon");
  part(iv.days, "day");
  const int64_t hour = iv.time_us / kUsecsPerHour;
  const int64_t rem = iv.time_us % kUsecsPerHour;
  const int64_t min = rem / kUsecsPerMinute;
  const int64_t sec = rem % kUsecsPerMinute / kUsecsPerSec;
  const int64_t fsec = rem % kUsecsPerSec;
  if (is_zero || iv.time_us != 0) {
    const bool minus = iv.time_us < 0;
    if (!is_zero) out.push_back(' ');
    if (minus) out.push_back('-');
    else if (is_before) out.push_back('+');
    detail::append_padded(out, hour < 0 ? -hour : hour, 2);
    out.push_back(':');
    detail::append_padded(out, min < 0 ? -min : min, 2);
    out.push_back(':');
    detail::append_padded(out, sec < 0 ? -sec : sec, 2);
    const int64_t f = fsec < 0 ? -fsec : fsec;
    if (f != 0) {
      std::string frac;
      detail::append_padded(frac, f, 6);
      while (frac.back() == '0') frac.pop_back();
      out.push_back('.');
      out += frac;
    }
  }
  return out;
}

}  // namespace datetime
}  // namespace metagate::types
