// date, time, timestamp, timestamptz: text input for the forms clients send (ISO 8601 and
// PG's usual variants), PG's ISO output, typmod rounding, storage text <-> µs/days.
#include <cmath>
#include <cstdlib>

#include "internal.hpp"
#include "tz_internal.hpp"

namespace metagate::types {
namespace dt = datetime;

namespace datetime {

int32_t days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return static_cast<int32_t>(era * 146097 + doe - 719468 - kUnixEpochToPgEpochDays);
}

void civil_from_days(int32_t days, int& year, int& month, int& day) {
  const int64_t z = int64_t{days} + kUnixEpochToPgEpochDays + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  year = static_cast<int>(yoe + era * 400 + (month <= 2));
}

bool is_leap_year(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int days_in_month(int64_t y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap_year(y) ? 29 : kDays[m - 1];
}

}  // namespace datetime

namespace detail {
namespace {

int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

void append_fraction(std::string& out, int64_t usec) {
  if (usec == 0) return;
  char buf[8];
  int64_t v = usec;
  for (int k = 5; k >= 0; --k) {
    buf[k] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
  int len = 6;
  while (len > 0 && buf[len - 1] == '0') --len;
  out.push_back('.');
  out.append(buf, static_cast<size_t>(len));
}

void append_date(std::string& out, int32_t days, bool& bc) {
  int y, m, d;
  dt::civil_from_days(days, y, m, d);
  bc = y <= 0;
  append_padded(out, bc ? 1 - y : y, 4);
  out.push_back('-');
  append_padded(out, m, 2);
  out.push_back('-');
  append_padded(out, d, 2);
}

void append_time_of_day(std::string& out, int64_t us) {
  append_padded(out, us / dt::kUsecsPerHour, 2);
  out.push_back(':');
  append_padded(out, us / dt::kUsecsPerMinute % 60, 2);
  out.push_back(':');
  append_padded(out, us / dt::kUsecsPerSec % 60, 2);
  append_fraction(out, us % dt::kUsecsPerSec);
}

// Local timestamp text; returns whether the date is BC (caller appends " BC").
bool append_timestamp(std::string& out, int64_t us) {
  const int64_t days = floor_div(us, dt::kUsecsPerDay);
  bool bc = false;
  append_date(out, static_cast<int32_t>(days), bc);
  out.push_back(' ');
  append_time_of_day(out, us - days * dt::kUsecsPerDay);
  return bc;
}

// ---- text input -----------------------------------------------------------------------------

enum class Mode { Timestamp, Date, Time };

struct Parsed {
  enum class Special { None, Infinity, MinusInfinity, Epoch, Now, Today, Tomorrow, Yesterday, Allballs };
  Special special = Special::None;
  bool has_date = false, has_time = false;
  int64_t year = 0;
  int month = 0, day = 0;
  int64_t hour = 0, minute = 0, second = 0, fsec = 0;
  std::optional<int32_t> tz;  // seconds east
  bool bc = false;
};

enum class Err { Syntax, Range, TzRange };

struct Fail {
  Err err;
  std::string zone;  // unknown zone name for "time zone ... not recognized"
};

struct Scanner {
  std::string_view s;
  size_t k = 0;
  bool end() const { return k >= s.size(); }
  char peek(size_t off = 0) const { return k + off < s.size() ? s[k + off] : '\0'; }
  void skip_ws() {
    while (!end() && is_space(s[k])) ++k;
  }
  std::string_view digits() {
    const size_t start = k;
    while (!end() && is_digit(s[k])) ++k;
    return s.substr(start, k - start);
  }
  std::string word() {  // letters, '/', '_' (lower-cased)
    std::string w;
    while (!end() && ((lower(s[k]) >= 'a' && lower(s[k]) <= 'z') || s[k] == '/' || s[k] == '_')) w.push_back(lower(s[k++]));
    return w;
  }
};

int64_t to_int(std::string_view d) {
  int64_t v = 0;
  for (char c : d) {
    if (v > 100'000'000'000LL) return v;  // far out of range either way
    v = v * 10 + (c - '0');
  }
  return v;
}

// ".ddd" → µs, rounded like PG (rint of the double value).
int64_t parse_fraction(Scanner& sc) {
  const size_t start = sc.k;  // at '.'
  ++sc.k;
  sc.digits();
  const std::string frac(sc.s.substr(start, sc.k - start));
  if (frac.size() == 1) return 0;
  return static_cast<int64_t>(std::rint(std::strtod(frac.c_str(), nullptr) * 1e6));
}

std::optional<Fail> parse_date_part(Scanner& sc, Parsed& p) {
  const std::string_view d1 = sc.digits();
  const char sep = sc.peek();
  if ((sep == '-' || sep == '/') && is_digit(sc.peek(1))) {
    ++sc.k;
    const std::string_view d2 = sc.digits();
    if (sc.peek() != sep || !is_digit(sc.peek(1))) return Fail{Err::Syntax, {}};
    ++sc.k;
    const std::string_view d3 = sc.digits();
    if (d1.size() >= 3) {  // Y-M-D
      p.year = to_int(d1), p.month = static_cast<int>(to_int(d2)), p.day = static_cast<int>(to_int(d3));
      if (d2.size() > 2 || d3.size() > 2) return Fail{Err::Range, {}};
    } else {  // M-D-Y (DateStyle MDY)
      p.month = static_cast<int>(to_int(d1)), p.day = static_cast<int>(to_int(d2)), p.year = to_int(d3);
      if (d2.size() > 2) return Fail{Err::Range, {}};
      if (d3.size() <= 2) p.year += p.year < 70 ? 2000 : 1900;
    }
  } else if (d1.size() == 8 || d1.size() == 6) {  // YYYYMMDD / YYMMDD
    const int64_t v = to_int(d1);
    p.year = v / 10000, p.month = static_cast<int>(v / 100 % 100), p.day = static_cast<int>(v % 100);
    if (d1.size() == 6) p.year += p.year < 70 ? 2000 : 1900;
  } else {
    return Fail{Err::Syntax, {}};
  }
  p.has_date = true;
  return std::nullopt;
}

std::optional<Fail> parse_time_part(Scanner& sc, Parsed& p) {
  const std::string_view h = sc.digits();
  if (sc.peek() == ':') {
    ++sc.k;
    const std::string_view m = sc.digits();
    if (m.empty()) return Fail{Err::Syntax, {}};
    p.hour = to_int(h), p.minute = to_int(m);
    if (sc.peek() == ':') {
      ++sc.k;
      const std::string_view sec = sc.digits();
      if (sec.empty()) return Fail{Err::Syntax, {}};
      p.second = to_int(sec);
      if (sc.peek() == '.') p.fsec = parse_fraction(sc);
    } else if (sc.peek() == '.') {  // mm:ss.fff
      p.second = p.minute, p.minute = p.hour, p.hour = 0;
      p.fsec = parse_fraction(sc);
    }
  } else if (h.size() == 6 || h.size() == 4) {  // hhmmss / hhmm
    const int64_t v = to_int(h);
    if (h.size() == 6) p.hour = v / 10000, p.minute = v / 100 % 100, p.second = v % 100;
    else p.hour = v / 100, p.minute = v % 100;
    if (sc.peek() == '.') p.fsec = parse_fraction(sc);
  } else {
    return Fail{Err::Syntax, {}};
  }
  if (sc.peek() == '.') return Fail{Err::Syntax, {}};
  p.has_time = true;
  return std::nullopt;
}

// [+-]h[h][:mm[:ss]] or [+-]hhmm after the sign; sc at the sign.
std::optional<Fail> parse_numeric_zone(Scanner& sc, Parsed& p) {
  const int sign = sc.peek() == '-' ? -1 : 1;
  ++sc.k;
  const std::string_view h = sc.digits();
  if (h.empty()) return Fail{Err::Syntax, {}};
  int64_t hr = to_int(h), mn = 0, se = 0;
  if (sc.peek() == ':') {
    ++sc.k;
    const std::string_view m = sc.digits();
    if (m.empty()) return Fail{Err::Syntax, {}};
    mn = to_int(m);
    if (sc.peek() == ':') {
      ++sc.k;
      const std::string_view s2 = sc.digits();
      if (s2.empty()) return Fail{Err::Syntax, {}};
      se = to_int(s2);
    }
  } else if (h.size() > 2) {
    mn = hr % 100, hr /= 100;
  }
  if (hr > 15 || mn >= 60 || se >= 60) return Fail{Err::TzRange, {}};
  p.tz = static_cast<int32_t>(sign * (hr * 3600 + mn * 60 + se));
  return std::nullopt;
}

std::optional<Fail> parse_trailer(Scanner& sc, Parsed& p) {
  bool seen_ampm = false, seen_era = false;
  for (;;) {
    sc.skip_ws();
    if (sc.end()) return std::nullopt;
    const char c = sc.peek();
    if (c == '+' || c == '-') {
      if (p.tz) return Fail{Err::Syntax, {}};
      if (auto f = parse_numeric_zone(sc, p)) return f;
      continue;
    }
    const size_t start = sc.k;
    std::string w = sc.word();
    if (w.empty()) return Fail{Err::Syntax, {}};
    if ((w == "am" || w == "pm") && !seen_ampm && p.has_time) {
      seen_ampm = true;
      if (p.hour > 12) return Fail{Err::Range, {}};
      if (w == "pm" && p.hour != 12) p.hour += 12;
      if (w == "am" && p.hour == 12) p.hour = 0;
      continue;
    }
    if ((w == "ad" || w == "bc") && !seen_era) {
      seen_era = true;
      p.bc = w == "bc";
      continue;
    }
    if (p.tz) return Fail{Err::Syntax, {}};
    // zone name, possibly with a POSIX offset glued on ("UTC+2": 2 hours WEST).
    auto off = zone_abbrev_offset(w);
    if (!off) {
      if (w.find('/') != std::string::npos) return Fail{Err::Syntax, std::string(sc.s.substr(start, sc.k - start))};
      return Fail{Err::Syntax, {}};
    }
    p.tz = *off;
    if ((sc.peek() == '+' || sc.peek() == '-') && is_digit(sc.peek(1)) && *off == 0) {
      if (auto f = parse_numeric_zone(sc, p)) return f;
      p.tz = -*p.tz;
    }
  }
}

std::optional<Fail> parse_datetime(std::string_view input, Mode mode, Parsed& p) {
  std::string_view t = trim_space(input);
  using Sp = Parsed::Special;
  static constexpr std::pair<std::string_view, Sp> kSpecials[] = {
      {"infinity", Sp::Infinity}, {"-infinity", Sp::MinusInfinity}, {"epoch", Sp::Epoch},
      {"now", Sp::Now},           {"today", Sp::Today},             {"tomorrow", Sp::Tomorrow},
      {"yesterday", Sp::Yesterday}, {"allballs", Sp::Allballs}};
  for (const auto& [w, sp] : kSpecials) {
    if (ieq(t, w)) {
      if (mode == Mode::Time && (sp == Sp::Infinity || sp == Sp::MinusInfinity || sp == Sp::Epoch ||
                                 sp == Sp::Today || sp == Sp::Tomorrow || sp == Sp::Yesterday))
        return Fail{Err::Syntax, {}};
      if (mode != Mode::Time && sp == Sp::Allballs) return Fail{Err::Syntax, {}};
      p.special = sp;
      return std::nullopt;
    }
  }
  Scanner sc{t};
  if (mode == Mode::Time && (sc.peek() == 'T' || sc.peek() == 't') && is_digit(sc.peek(1))) {
    ++sc.k;  // ISO "T11:34"
    t.remove_prefix(1);
    sc = Scanner{t};
  }
  if (sc.end() || !is_digit(sc.peek())) return Fail{Err::Syntax, {}};
  // Is the first field a date?
  size_t j = 0;
  while (j < t.size() && is_digit(t[j])) ++j;
  const bool first_is_date = (j < t.size() && (t[j] == '-' || t[j] == '/')) ||
                             (mode != Mode::Time && (j == 8 || j == 6) && (j == t.size() || t[j] != ':'));
  if (first_is_date) {
    if (auto f = parse_date_part(sc, p)) return f;
    const bool t_sep = (sc.peek() == 'T' || sc.peek() == 't') && is_digit(sc.peek(1));
    if (t_sep) {
      if (mode == Mode::Time) return Fail{Err::Syntax, {}};  // PG's time_in rejects date'T'time
      ++sc.k;
    } else {
      sc.skip_ws();
      if ((sc.peek() == 'T' || sc.peek() == 't') && is_digit(sc.peek(1))) {
        if (mode == Mode::Time) return Fail{Err::Syntax, {}};
        ++sc.k;
      }
    }
    if (is_digit(sc.peek())) {
      if (mode == Mode::Time) {  // after a date, time_in wants h:m[:s]
        size_t e = sc.k;
        while (e < t.size() && is_digit(t[e])) ++e;
        if (e == t.size() || t[e] != ':') return Fail{Err::Syntax, {}};
      }
      if (auto f = parse_time_part(sc, p)) return f;
    }
  } else {
    if (mode != Mode::Time) return Fail{Err::Syntax, {}};
    if (auto f = parse_time_part(sc, p)) return f;
  }
  if (mode == Mode::Time && !p.has_time) return Fail{Err::Syntax, {}};
  if (auto f = parse_trailer(sc, p)) return f;
  // Field ranges (PG's ValidateDate / DecodeTime rules).
  if (p.has_date) {
    if (p.year < 1 || p.month < 1 || p.month > 12 || p.day < 1) return Fail{Err::Range, {}};
    if (p.year < 1'000'000 && p.day > dt::days_in_month(p.year, p.month)) return Fail{Err::Range, {}};
  }
  if (p.has_time) {
    if (p.hour > 24 || p.minute > 59 || p.second > 60) return Fail{Err::Range, {}};
    if (p.hour == 24 && (p.minute > 0 || p.second > 0 || p.fsec > 0)) return Fail{Err::Range, {}};
    if (p.hour * dt::kUsecsPerHour + p.minute * dt::kUsecsPerMinute + p.second * dt::kUsecsPerSec + p.fsec >
        dt::kUsecsPerDay)
      return Fail{Err::Range, {}};
  }
  return std::nullopt;
}

PgError to_error(const Fail& f, std::string_view type_name, std::string_view input) {
  if (!f.zone.empty()) {
    std::string z = f.zone;
    for (char& c : z) c = lower(c);
    return PgError::make(sqlstate::kInvalidParameterValue, "time zone \"" + z + "\" not recognized");
  }
  switch (f.err) {
    case Err::Range:
      return PgError::make(sqlstate::kDatetimeFieldOverflow,
                           "date/time field value out of range: \"" + std::string(input) + "\"");
    case Err::TzRange:
      return PgError::make("22009", "time zone displacement out of range: \"" + std::string(input) + "\"");
    default:
      return PgError::make(sqlstate::kInvalidDatetimeFormat, "invalid input syntax for type " + std::string(type_name) +
                                                                 ": \"" + std::string(input) + "\"");
  }
}

int64_t time_of_day(const Parsed& p) {
  return p.hour * dt::kUsecsPerHour + p.minute * dt::kUsecsPerMinute + p.second * dt::kUsecsPerSec + p.fsec;
}

PgError now_unavailable() {
  return PgError::make(sqlstate::kFeatureNotSupported, "the current time is not available here");
}

PgError ts_out_of_range(std::string_view input) {
  return PgError::make(sqlstate::kDatetimeFieldOverflow, "timestamp out of range: \"" + std::string(input) + "\"");
}

int64_t round_to_precision(int64_t us, int32_t typmod) {
  if (typmod < 0 || typmod >= 6) return us;
  static constexpr int64_t kScales[] = {1000000, 100000, 10000, 1000, 100, 10};
  const int64_t scale = kScales[typmod];
  const int64_t offset = scale / 2;
  return us >= 0 ? (us + offset) / scale * scale : -(((-us) + offset) / scale * scale);
}

// Parses the canonical storage text strictly: YYYY-MM-DD[ HH:MM:SS[.f{1,6}]].
bool strict_digits(std::string_view s, size_t pos, size_t n, int64_t& v) {
  if (pos + n > s.size()) return false;
  v = 0;
  for (size_t k = pos; k < pos + n; ++k) {
    if (!is_digit(s[k])) return false;
    v = v * 10 + (s[k] - '0');
  }
  return true;
}

std::optional<int64_t> strict_time(std::string_view s) {
  int64_t h, m, sec;
  if (s.size() < 8 || s[2] != ':' || s[5] != ':' || !strict_digits(s, 0, 2, h) || !strict_digits(s, 3, 2, m) ||
      !strict_digits(s, 6, 2, sec))
    return std::nullopt;
  int64_t frac = 0;
  if (s.size() > 8) {
    if (s[8] != '.' || s.size() > 15 || s.size() == 9) return std::nullopt;
    int64_t f;
    if (!strict_digits(s, 9, s.size() - 9, f)) return std::nullopt;
    for (size_t k = s.size() - 9; k < 6; ++k) f *= 10;
    frac = f;
  }
  if (h > 24 || m > 59 || sec > 59) return std::nullopt;
  const int64_t us = h * dt::kUsecsPerHour + m * dt::kUsecsPerMinute + sec * dt::kUsecsPerSec + frac;
  if (us > dt::kUsecsPerDay) return std::nullopt;
  return us;
}

std::optional<int32_t> strict_date(std::string_view s) {
  int64_t y, m, d;
  if (s.size() != 10 || s[4] != '-' || s[7] != '-' || !strict_digits(s, 0, 4, y) || !strict_digits(s, 5, 2, m) ||
      !strict_digits(s, 8, 2, d))
    return std::nullopt;
  if (y < 1 || m < 1 || m > 12 || d < 1 || d > dt::days_in_month(y, static_cast<int>(m))) return std::nullopt;
  return dt::days_from_civil(y, static_cast<int>(m), static_cast<int>(d));
}

}  // namespace

PgResult<Value> timestamp_value(int64_t us) {
  if (us != dt::kTimestampInfinity && us != dt::kTimestampMinusInfinity &&
      (us < dt::kMinTimestamp || us > dt::kMaxTimestamp))
    return fail(PgError::make(sqlstate::kDatetimeFieldOverflow, "timestamp out of range"));
  return Value::text(dt::timestamp_to_storage(us));
}

PgResult<int64_t> timestamp_adjust_typmod(int64_t us, int32_t typmod) {
  if (us == dt::kTimestampInfinity || us == dt::kTimestampMinusInfinity) return us;
  // Range-check before rounding so rounding can never overflow (a binary value may be anything).
  if (us < dt::kMinTimestamp || us > dt::kMaxTimestamp)
    return fail(PgError::make(sqlstate::kDatetimeFieldOverflow, "timestamp out of range"));
  const int64_t r = round_to_precision(us, typmod);
  if (r < dt::kMinTimestamp || r > dt::kMaxTimestamp)
    return fail(PgError::make(sqlstate::kDatetimeFieldOverflow, "timestamp out of range"));
  return r;
}

int64_t time_adjust_typmod(int64_t us, int32_t typmod) { return round_to_precision(us, typmod); }

PgResult<Value> timestamp_in(Oid type, std::string_view s, int32_t typmod, const SessionContext& ctx) {
  const bool tz = type == oid::kTimestamptz;
  const std::string_view tname = tz ? "timestamp with time zone" : "timestamp";
  Parsed p;
  if (auto f = parse_datetime(s, Mode::Timestamp, p)) return fail(to_error(*f, tname, s));
  const int32_t session = session_offset(ctx);
  int64_t us = 0;
  using Sp = Parsed::Special;
  switch (p.special) {
    case Sp::Infinity: return Value::text("infinity");
    case Sp::MinusInfinity: return Value::text("-infinity");
    case Sp::Epoch: us = int64_t{-dt::kUnixEpochToPgEpochDays} * dt::kUsecsPerDay; break;
    case Sp::Now:
      if (!ctx.now_us) return fail(now_unavailable());
      us = tz ? *ctx.now_us : *ctx.now_us + int64_t{session} * dt::kUsecsPerSec;
      break;
    case Sp::Today:
    case Sp::Tomorrow:
    case Sp::Yesterday: {
      if (!ctx.now_us) return fail(now_unavailable());
      const int64_t local = *ctx.now_us + int64_t{session} * dt::kUsecsPerSec;
      int64_t day = floor_div(local, dt::kUsecsPerDay) + (p.special == Sp::Tomorrow) - (p.special == Sp::Yesterday);
      us = day * dt::kUsecsPerDay - (tz ? int64_t{session} * dt::kUsecsPerSec : 0);
      break;
    }
    default: {
      if (!p.has_date) return fail(to_error(Fail{Err::Syntax, {}}, tname, s));
      if (p.bc || p.year > 9999) return fail(ts_out_of_range(s));
      us = int64_t{dt::days_from_civil(p.year, p.month, p.day)} * dt::kUsecsPerDay + time_of_day(p);
      if (tz) us -= int64_t{p.tz.value_or(session)} * dt::kUsecsPerSec;
    }
  }
  us = round_to_precision(us, typmod);
  if (us < dt::kMinTimestamp || us > dt::kMaxTimestamp) return fail(ts_out_of_range(s));
  return Value::text(dt::timestamp_to_storage(us));
}

PgResult<Value> date_in(std::string_view s, const SessionContext& ctx) {
  Parsed p;
  if (auto f = parse_datetime(s, Mode::Date, p)) return fail(to_error(*f, "date", s));
  using Sp = Parsed::Special;
  int32_t days = 0;
  switch (p.special) {
    case Sp::Infinity: return Value::text("infinity");
    case Sp::MinusInfinity: return Value::text("-infinity");
    case Sp::Epoch: days = -dt::kUnixEpochToPgEpochDays; break;
    case Sp::Now:
    case Sp::Today:
    case Sp::Tomorrow:
    case Sp::Yesterday: {
      if (!ctx.now_us) return fail(now_unavailable());
      const int64_t local = *ctx.now_us + int64_t{session_offset(ctx)} * dt::kUsecsPerSec;
      days = static_cast<int32_t>(floor_div(local, dt::kUsecsPerDay) + (p.special == Sp::Tomorrow) -
                                  (p.special == Sp::Yesterday));
      break;
    }
    default:
      if (!p.has_date) return fail(to_error(Fail{Err::Syntax, {}}, "date", s));
      if (p.bc || p.year > 9999)
        return fail(PgError::make(sqlstate::kDatetimeFieldOverflow, "date out of range: \"" + std::string(s) + "\""));
      days = dt::days_from_civil(p.year, p.month, p.day);
  }
  if (days < dt::kMinDate || days > dt::kMaxDate)
    return fail(PgError::make(sqlstate::kDatetimeFieldOverflow, "date out of range: \"" + std::string(s) + "\""));
  return Value::text(dt::date_to_storage(days));
}

PgResult<Value> time_in(std::string_view s, int32_t typmod, const SessionContext& ctx) {
  Parsed p;
  if (auto f = parse_datetime(s, Mode::Time, p)) return fail(to_error(*f, "time", s));
  int64_t us = 0;
  if (p.special == Parsed::Special::Now) {
    if (!ctx.now_us) return fail(now_unavailable());
    const int64_t local = *ctx.now_us + int64_t{session_offset(ctx)} * dt::kUsecsPerSec;
    us = local - floor_div(local, dt::kUsecsPerDay) * dt::kUsecsPerDay;
  } else if (p.special != Parsed::Special::Allballs) {
    us = time_of_day(p);
  }
  us = round_to_precision(us, typmod);
  return Value::text(dt::time_to_storage(us));
}

std::optional<int64_t> storage_timestamp(const ValueRef& v) {
  if (v.kind != Value::Kind::Text) return std::nullopt;
  if (auto us = dt::timestamp_from_storage(v.s)) return us;
  // Not canonical (written by something other than metagate): read it as PG would, in UTC.
  auto r = timestamp_in(oid::kTimestamptz, v.s, -1, SessionContext{});
  if (!r) return std::nullopt;
  return dt::timestamp_from_storage(r->s);
}

std::optional<int32_t> storage_date(const ValueRef& v) {
  if (v.kind != Value::Kind::Text) return std::nullopt;
  if (auto d = dt::date_from_storage(v.s)) return d;
  auto r = date_in(v.s, SessionContext{});
  if (!r) return std::nullopt;
  return dt::date_from_storage(r->s);
}

std::optional<int64_t> storage_time(const ValueRef& v) {
  if (v.kind != Value::Kind::Text) return std::nullopt;
  if (auto t = dt::time_from_storage(v.s)) return t;
  auto r = time_in(v.s, -1, SessionContext{});
  if (!r) return std::nullopt;
  return dt::time_from_storage(r->s);
}

}  // namespace detail

namespace datetime {

std::optional<int64_t> timestamp_from_storage(std::string_view s) {
  if (s == "infinity") return kTimestampInfinity;
  if (s == "-infinity") return kTimestampMinusInfinity;
  if (s.size() < 19 || s[10] != ' ') return std::nullopt;
  auto d = detail::strict_date(s.substr(0, 10));
  auto t = detail::strict_time(s.substr(11));
  if (!d || !t || *t >= kUsecsPerDay) return std::nullopt;
  return int64_t{*d} * kUsecsPerDay + *t;
}

std::string timestamp_to_storage(int64_t us) {
  if (us == kTimestampInfinity) return "infinity";
  if (us == kTimestampMinusInfinity) return "-infinity";
  std::string out;
  if (detail::append_timestamp(out, us)) out += " BC";
  return out;
}

std::optional<int32_t> date_from_storage(std::string_view s) {
  if (s == "infinity") return kDateInfinity;
  if (s == "-infinity") return kDateMinusInfinity;
  return detail::strict_date(s);
}

std::string date_to_storage(int32_t days) {
  if (days == kDateInfinity) return "infinity";
  if (days == kDateMinusInfinity) return "-infinity";
  std::string out;
  bool bc = false;
  detail::append_date(out, days, bc);
  if (bc) out += " BC";
  return out;
}

std::optional<int64_t> time_from_storage(std::string_view s) { return detail::strict_time(s); }

std::string time_to_storage(int64_t us) {
  std::string out;
  detail::append_time_of_day(out, us);
  return out;
}

std::string format_timestamptz(int64_t utc_us, int32_t offset_secs) {
  if (utc_us == kTimestampInfinity) return "infinity";
  if (utc_us == kTimestampMinusInfinity) return "-infinity";
  std::string out;
  const bool bc = detail::append_timestamp(out, utc_us + int64_t{offset_secs} * kUsecsPerSec);
  const int32_t a = offset_secs < 0 ? -offset_secs : offset_secs;
  out.push_back(offset_secs < 0 ? '-' : '+');
  detail::append_padded(out, a / 3600, 2);
  if (a % 3600 != 0) {
    out.push_back(':');
    detail::append_padded(out, a / 60 % 60, 2);
    if (a % 60 != 0) {
      out.push_back(':');
      detail::append_padded(out, a % 60, 2);
    }
  }
  if (bc) out += " BC";
  return out;
}

}  // namespace datetime
}  // namespace metagate::types
