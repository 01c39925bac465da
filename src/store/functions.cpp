// The mg_* SQL functions that translated statements call, registered on every connection:
// PostgreSQL casts and text output, date/time arithmetic, sequences, advisory locks,
// session information. Errors carry their SQLSTATE back through SQLite's error text.
#include "metagate/store/functions.hpp"

#include <openssl/evp.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <regex>
#include <thread>

#include <nlohmann/json.hpp>

#include "metagate/sql/catalog.hpp"
#include "metagate/sql/ident.hpp"
#include "metagate/sql/translator.hpp"
#include "metagate/store/sqlite_store.hpp"
#include "metagate/types/types.hpp"

namespace metagate::store {

namespace o = types::oid;
using types::Value;
using types::ValueRef;

// ---------------------------------------------------------------------------------------
// Advisory locks

bool AdvisoryLocks::try_lock(uint64_t session, int64_t key, bool xact) {
  std::lock_guard lk(mu_);
  auto& h = held_[key];
  if (h.count > 0 && h.session != session) return false;
  h.session = session;
  ++h.count;
  if (xact) ++h.xact_count;
  return true;
}

bool AdvisoryLocks::lock(uint64_t session, int64_t key, bool xact, int timeout_ms) {
  std::unique_lock lk(mu_);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    auto& h = held_[key];
    if (h.count == 0 || h.session == session) {
      h.session = session;
      ++h.count;
      if (xact) ++h.xact_count;
      return true;
    }
    if (cv_.wait_until(lk, deadline) == std::cv_status::timeout) return false;
  }
}

bool AdvisoryLocks::unlock(uint64_t session, int64_t key) {
  std::lock_guard lk(mu_);
  auto it = held_.find(key);
  if (it == held_.end() || it->second.session != session || it->second.count - it->second.xact_count <= 0) return false;
  if (--it->second.count == 0) {
    held_.erase(it);
    cv_.notify_all();
  }
  return true;
}

void AdvisoryLocks::unlock_all(uint64_t session) {
  std::lock_guard lk(mu_);
  for (auto it = held_.begin(); it != held_.end();) {
    if (it->second.session == session) it = held_.erase(it);
    else ++it;
  }
  cv_.notify_all();
}

void AdvisoryLocks::release_xact(uint64_t session) {
  std::lock_guard lk(mu_);
  for (auto it = held_.begin(); it != held_.end();) {
    if (it->second.session == session && it->second.xact_count > 0) {
      it->second.count -= it->second.xact_count;
      it->second.xact_count = 0;
      if (it->second.count <= 0) {
        it = held_.erase(it);
        continue;
      }
    }
    ++it;
  }
  cv_.notify_all();
}

// ---------------------------------------------------------------------------------------
// Context and errors

namespace {
thread_local FunctionContext* tl_ctx = nullptr;
}

void set_function_context(FunctionContext* ctx) { tl_ctx = ctx; }
FunctionContext* function_context() { return tl_ctx; }

std::string encode_function_error(std::string_view sqlstate, std::string_view message) {
  std::string s = "\x01";
  s += sqlstate;
  s += "\x01";
  s += message;
  return s;
}

bool decode_function_error(std::string_view text, std::string& sqlstate, std::string& message) {
  if (text.size() < 7 || text[0] != '\x01' || text[6] != '\x01') return false;
  sqlstate = std::string(text.substr(1, 5));
  message = std::string(text.substr(7));
  return true;
}

namespace {

void fail(sqlite3_context* c, std::string_view code, std::string_view msg) {
  std::string s = encode_function_error(code, msg);
  sqlite3_result_error(c, s.data(), static_cast<int>(s.size()));
}

void fail(sqlite3_context* c, const PgError& e) { fail(c, e.sqlstate, e.message); }

ValueRef to_ref(sqlite3_value* v) {
  switch (sqlite3_value_type(v)) {
    case SQLITE_INTEGER: return ValueRef::integer(sqlite3_value_int64(v));
    case SQLITE_FLOAT: return ValueRef::real(sqlite3_value_double(v));
    case SQLITE_TEXT:
      return ValueRef::text(std::string_view(reinterpret_cast<const char*>(sqlite3_value_text(v)),
                                             static_cast<size_t>(sqlite3_value_bytes(v))));
    case SQLITE_BLOB:
      return ValueRef::blob(std::string_view(static_cast<const char*>(sqlite3_value_blob(v)),
                                             static_cast<size_t>(sqlite3_value_bytes(v))));
    default: return ValueRef::null();
  }
}

void result_value(sqlite3_context* c, const Value& v) {
  switch (v.kind) {
    case Value::Kind::Null: sqlite3_result_null(c); break;
    case Value::Kind::Int: sqlite3_result_int64(c, v.i); break;
    case Value::Kind::Real: sqlite3_result_double(c, v.r); break;
    case Value::Kind::Text: sqlite3_result_text(c, v.s.data(), static_cast<int>(v.s.size()), SQLITE_TRANSIENT); break;
    case Value::Kind::Blob: sqlite3_result_blob(c, v.s.data(), static_cast<int>(v.s.size()), SQLITE_TRANSIENT); break;
  }
}

types::SessionContext session_ctx() {
  types::SessionContext sc;
  if (auto* f = function_context()) {
    sc.now_us = f->statement_ts;
    if (f->settings) {
      auto it = f->settings->find("timezone");
      if (it != f->settings->end()) sc.timezone = it->second;
    }
  }
  return sc;
}

// Normalises a stored value to the storage form the codec expects for a type (SQLite
// arithmetic can turn a numeric's text into a REAL, or an integer expression into REAL).
Value normalise(types::Oid type, ValueRef v) {
  const auto* info = types::find_type(type);
  Value out;
  out.kind = v.kind;
  out.i = v.i;
  out.r = v.r;
  out.s = std::string(v.s);
  if (!info || v.kind == Value::Kind::Null) return out;
  if (type == o::kNumeric) {
    if (v.kind == Value::Kind::Int) return Value::text(std::to_string(v.i));
    if (v.kind == Value::Kind::Real) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.15g", v.r);
      return Value::text(buf);
    }
    return out;
  }
  switch (info->storage) {
    case types::StorageClass::Int:
      if (v.kind == Value::Kind::Real) return Value::integer(static_cast<int64_t>(std::llround(v.r)));
      break;
    case types::StorageClass::Real:
      if (v.kind == Value::Kind::Int) return Value::real(static_cast<double>(v.i));
      break;
    case types::StorageClass::Text:
      if (v.kind == Value::Kind::Int) return Value::text(std::to_string(v.i));
      if (v.kind == Value::Kind::Real) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.17g", v.r);
        return Value::text(buf);
      }
      break;
    default: break;
  }
  return out;
}

// mg_cast(value, from_oid, to_oid, typmod): PostgreSQL's cast through the types' text I/O.
void fn_cast(sqlite3_context* c, int, sqlite3_value** argv) {
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL) return sqlite3_result_null(c);
  auto from = static_cast<types::Oid>(sqlite3_value_int64(argv[1]));
  auto to = static_cast<types::Oid>(sqlite3_value_int64(argv[2]));
  int32_t typmod = sqlite3_value_int(argv[3]);
  Value src = normalise(from, to_ref(argv[0]));
  auto sc = session_ctx();
  // Numeric → integer casts round (PostgreSQL rounds half away from zero for numeric, to even for float).
  if ((to == o::kInt2 || to == o::kInt4 || to == o::kInt8) && (from == o::kFloat4 || from == o::kFloat8) &&
      src.kind == Value::Kind::Real) {
    double r = std::nearbyint(src.r);
    src = Value::text(std::to_string(static_cast<long long>(r)));
    from = o::kText;
  }
  if (from == o::kBool && (to == o::kInt4 || to == o::kInt8 || to == o::kInt2)) {
    result_value(c, Value::integer(src.i ? 1 : 0));
    return;
  }
  if ((from == o::kInt4 || from == o::kInt8 || from == o::kInt2) && to == o::kBool) {
    result_value(c, Value::integer(src.i != 0 ? 1 : 0));
    return;
  }
  std::string text;
  if (auto st = types::encode_text(from, src.ref(), text, sc); !st) return fail(c, st.error());
  if (from == o::kNumeric && (to == o::kInt2 || to == o::kInt4 || to == o::kInt8)) {
    // numeric → int rounds half away from zero
    double d = std::strtod(text.c_str(), nullptr);
    text = std::to_string(static_cast<long long>(std::round(d)));
  }
  auto v = types::parse_text(to, text, -1, sc);
  if (!v) return fail(c, v.error());
  if (typmod >= 0) {
    auto w = types::coerce_to_typmod(to, std::move(*v), typmod, true);
    if (!w) return fail(c, w.error());
    return result_value(c, *w);
  }
  result_value(c, *v);
}

// mg_text(value, oid): the PostgreSQL text form of a value (for || and concat()).
void fn_text(sqlite3_context* c, int, sqlite3_value** argv) {
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL) return sqlite3_result_null(c);
  auto t = static_cast<types::Oid>(sqlite3_value_int64(argv[1]));
  Value v = normalise(t, to_ref(argv[0]));
  std::string out;
  if (auto st = types::encode_text(t, v.ref(), out, session_ctx()); !st) return fail(c, st.error());
  sqlite3_result_text(c, out.data(), static_cast<int>(out.size()), SQLITE_TRANSIENT);
}

void fn_case(sqlite3_context* c, int, sqlite3_value** argv, bool upper) {
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL) return sqlite3_result_null(c);
  std::string s(reinterpret_cast<const char*>(sqlite3_value_text(argv[0])), static_cast<size_t>(sqlite3_value_bytes(argv[0])));
  for (auto& ch : s) {
    if (upper && ch >= 'a' && ch <= 'z') ch = static_cast<char>(ch - 32);
    if (!upper && ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch + 32);
  }
  sqlite3_result_text(c, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
}
void fn_lower(sqlite3_context* c, int n, sqlite3_value** a) { fn_case(c, n, a, false); }
void fn_upper(sqlite3_context* c, int n, sqlite3_value** a) { fn_case(c, n, a, true); }

// UTF-8 code point boundaries.
std::vector<std::string_view> utf8_chars(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    size_t len = 1;
    unsigned char b = static_cast<unsigned char>(s[i]);
    if (b >= 0xF0) len = 4;
    else if (b >= 0xE0) len = 3;
    else if (b >= 0xC0) len = 2;
    if (i + len > s.size()) len = s.size() - i;
    out.push_back(s.substr(i, len));
    i += len;
  }
  return out;
}

void fn_pad(sqlite3_context* c, int argc, sqlite3_value** argv, bool left) {
  for (int i = 0; i < argc; ++i)
    if (sqlite3_value_type(argv[i]) == SQLITE_NULL) return sqlite3_result_null(c);
  std::string s(reinterpret_cast<const char*>(sqlite3_value_text(argv[0])), static_cast<size_t>(sqlite3_value_bytes(argv[0])));
  int64_t n = sqlite3_value_int64(argv[1]);
  std::string fill = " ";
  if (argc == 3) fill.assign(reinterpret_cast<const char*>(sqlite3_value_text(argv[2])), static_cast<size_t>(sqlite3_value_bytes(argv[2])));
  if (n < 0) n = 0;
  if (n > 10 * 1024 * 1024) return fail(c, "54000", "requested length too large");
  auto chars = utf8_chars(s);
  std::string out;
  if (static_cast<int64_t>(chars.size()) >= n) {
    for (int64_t i = 0; i < n; ++i) out += chars[static_cast<size_t>(i)];
  } else {
    auto fc = utf8_chars(fill);
    std::string pad;
    if (!fc.empty()) {
      for (int64_t i = 0; i < n - static_cast<int64_t>(chars.size()); ++i) pad += fc[static_cast<size_t>(i) % fc.size()];
    }
    out = left ? pad + s : s + pad;
  }
  sqlite3_result_text(c, out.data(), static_cast<int>(out.size()), SQLITE_TRANSIENT);
}
void fn_lpad(sqlite3_context* c, int n, sqlite3_value** a) { fn_pad(c, n, a, true); }
void fn_rpad(sqlite3_context* c, int n, sqlite3_value** a) { fn_pad(c, n, a, false); }

void fn_now(sqlite3_context* c, int, sqlite3_value** argv) {
  auto* f = function_context();
  std::string kind(reinterpret_cast<const char*>(sqlite3_value_text(argv[0])));
  int64_t us;
  if (kind == "clock" || f == nullptr) {
    auto now = std::chrono::system_clock::now().time_since_epoch();
    us = std::chrono::duration_cast<std::chrono::microseconds>(now).count() - (int64_t{types::datetime::kUnixEpochToPgEpochDays} * types::datetime::kUsecsPerDay);
  } else {
    us = kind == "statement" ? f->statement_ts : f->transaction_ts;
  }
  std::string s = types::datetime::timestamp_to_storage(us);
  sqlite3_result_text(c, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
}

void fn_ts_add(sqlite3_context* c, int, sqlite3_value** argv) {
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL || sqlite3_value_type(argv[1]) == SQLITE_NULL) return sqlite3_result_null(c);
  std::string_view ts(reinterpret_cast<const char*>(sqlite3_value_text(argv[0])));
  std::string_view iv(reinterpret_cast<const char*>(sqlite3_value_text(argv[1])));
  int sign = sqlite3_value_int(argv[2]);
  auto t = types::datetime::timestamp_from_storage(ts);
  if (!t) {
    if (auto d = types::datetime::date_from_storage(ts)) t = int64_t{*d} * types::datetime::kUsecsPerDay;
  }
  auto i = types::datetime::interval_from_storage(iv);
  if (!t || !i) return fail(c, "22008", "timestamp out of range");
  int64_t us = *t;
  // months first (calendar arithmetic), then days, then time — as PostgreSQL does.
  if (i->months != 0) {
    int64_t days = us >= 0 ? us / types::datetime::kUsecsPerDay : -((-us + types::datetime::kUsecsPerDay - 1) / types::datetime::kUsecsPerDay);
    int64_t rem = us - days * types::datetime::kUsecsPerDay;
    int y, m, d;
    types::datetime::civil_from_days(static_cast<int32_t>(days), y, m, d);
    int64_t months = int64_t{y} * 12 + (m - 1) + sign * i->months;
    y = static_cast<int>(months >= 0 ? months / 12 : -((-months + 11) / 12));
    m = static_cast<int>(months - int64_t{y} * 12) + 1;
    d = std::min(d, types::datetime::days_in_month(y, m));
    us = int64_t{types::datetime::days_from_civil(y, m, d)} * types::datetime::kUsecsPerDay + rem;
  }
  us += sign * (int64_t{i->days} * types::datetime::kUsecsPerDay + i->time_us);
  std::string s = types::datetime::timestamp_to_storage(us);
  sqlite3_result_text(c, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
}

void fn_ts_diff(sqlite3_context* c, int, sqlite3_value** argv) {
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL || sqlite3_value_type(argv[1]) == SQLITE_NULL) return sqlite3_result_null(c);
  auto a = types::datetime::timestamp_from_storage(reinterpret_cast<const char*>(sqlite3_value_text(argv[0])));
  auto b = types::datetime::timestamp_from_storage(reinterpret_cast<const char*>(sqlite3_value_text(argv[1])));
  if (!a || !b) return fail(c, "22008", "timestamp out of range");
  int64_t d = *a - *b;
  types::datetime::Interval iv;
  iv.days = static_cast<int32_t>(d / types::datetime::kUsecsPerDay);
  iv.time_us = d % types::datetime::kUsecsPerDay;
  std::string s = types::datetime::interval_to_storage(iv);
  sqlite3_result_text(c, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
}

// mg_extract(field, value, source_oid, result_oid)
void fn_extract(sqlite3_context* c, int, sqlite3_value** argv) {
  if (sqlite3_value_type(argv[1]) == SQLITE_NULL) return sqlite3_result_null(c);
  std::string fieldname(reinterpret_cast<const char*>(sqlite3_value_text(argv[0])));
  for (auto& ch : fieldname) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  auto src = static_cast<types::Oid>(sqlite3_value_int64(argv[2]));
  auto rt = static_cast<types::Oid>(sqlite3_value_int64(argv[3]));
  std::string_view text(reinterpret_cast<const char*>(sqlite3_value_text(argv[1])));
  std::optional<int64_t> us;
  if (src == o::kDate) {
    if (auto d = types::datetime::date_from_storage(text)) us = int64_t{*d} * types::datetime::kUsecsPerDay;
  } else {
    us = types::datetime::timestamp_from_storage(text);
  }
  if (!us) return fail(c, "22008", "timestamp out of range");
  int64_t days = *us >= 0 ? *us / types::datetime::kUsecsPerDay : -((-*us + types::datetime::kUsecsPerDay - 1) / types::datetime::kUsecsPerDay);
  int64_t tod = *us - days * types::datetime::kUsecsPerDay;
  int y, m, d;
  types::datetime::civil_from_days(static_cast<int32_t>(days), y, m, d);
  double v;
  std::string exact;
  if (fieldname == "epoch") {
    int64_t e = *us + (int64_t{types::datetime::kUnixEpochToPgEpochDays} * types::datetime::kUsecsPerDay);
    v = static_cast<double>(e) / 1e6;
    // numeric result keeps six decimals like PostgreSQL's extract()
    char buf[64];
    int64_t whole = e / 1000000, frac = e % 1000000;
    if (frac < 0) { frac += 1000000; whole -= 1; }
    std::snprintf(buf, sizeof buf, "%lld.%06lld", static_cast<long long>(whole), static_cast<long long>(frac));
    exact = buf;
  } else if (fieldname == "year") v = y;
  else if (fieldname == "month") v = m;
  else if (fieldname == "day") v = d;
  else if (fieldname == "hour") v = static_cast<double>(tod / 3600000000LL);
  else if (fieldname == "minute") v = static_cast<double>((tod / 60000000LL) % 60);
  else if (fieldname == "second") {
    int64_t s = tod % 60000000LL;
    v = static_cast<double>(s) / 1e6;
    char buf[64];
    std::snprintf(buf, sizeof buf, "%lld.%06lld", static_cast<long long>(s / 1000000), static_cast<long long>(s % 1000000));
    exact = buf;
  } else if (fieldname == "dow") v = static_cast<double>(((days % 7) + 7 + 6) % 7);
  else if (fieldname == "doy") v = days - types::datetime::days_from_civil(y, 1, 1) + 1;
  else return fail(c, "22023", "unit \"" + fieldname + "\" not supported for type timestamp");
  if (rt == o::kNumeric) {
    if (exact.empty()) {
      exact = std::to_string(static_cast<long long>(v));
    }
    sqlite3_result_text(c, exact.data(), static_cast<int>(exact.size()), SQLITE_TRANSIENT);
  } else {
    sqlite3_result_double(c, v);
  }
}

void fn_idiv(sqlite3_context* c, int, sqlite3_value** argv) {
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL || sqlite3_value_type(argv[1]) == SQLITE_NULL) return sqlite3_result_null(c);
  int64_t b = sqlite3_value_int64(argv[1]);
  if (b == 0) return fail(c, "22012", "division by zero");
  int64_t a = sqlite3_value_int64(argv[0]);
  if (a == INT64_MIN && b == -1) return fail(c, "22003", "bigint out of range");
  sqlite3_result_int64(c, a / b);
}

void fn_div(sqlite3_context* c, int, sqlite3_value** argv) {
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL || sqlite3_value_type(argv[1]) == SQLITE_NULL) return sqlite3_result_null(c);
  double b = sqlite3_value_double(argv[1]);
  if (b == 0) return fail(c, "22012", "division by zero");
  sqlite3_result_double(c, sqlite3_value_double(argv[0]) / b);
}

void fn_mod(sqlite3_context* c, int, sqlite3_value** argv) {
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL || sqlite3_value_type(argv[1]) == SQLITE_NULL) return sqlite3_result_null(c);
  if (sqlite3_value_type(argv[0]) == SQLITE_INTEGER && sqlite3_value_type(argv[1]) == SQLITE_INTEGER) {
    int64_t b = sqlite3_value_int64(argv[1]);
    if (b == 0) return fail(c, "22012", "division by zero");
    if (b == -1) return sqlite3_result_int64(c, 0);
    return sqlite3_result_int64(c, sqlite3_value_int64(argv[0]) % b);
  }
  double b = sqlite3_value_double(argv[1]);
  if (b == 0) return fail(c, "22012", "division by zero");
  sqlite3_result_double(c, std::fmod(sqlite3_value_double(argv[0]), b));
}

void fn_round_family(sqlite3_context* c, int argc, sqlite3_value** argv, int mode) {
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL) return sqlite3_result_null(c);
  double v = sqlite3_value_double(argv[0]);
  int digits = argc > 1 ? sqlite3_value_int(argv[1]) : 0;
  double scale = std::pow(10.0, digits);
  double x = v * scale;
  switch (mode) {
    case 0: x = std::round(x); break;
    case 1: x = std::floor(x); break;
    case 2: x = std::ceil(x); break;
    default: x = std::trunc(x); break;
  }
  sqlite3_result_double(c, x / scale);
}
void fn_round(sqlite3_context* c, int n, sqlite3_value** a) { fn_round_family(c, n, a, 0); }
void fn_floor(sqlite3_context* c, int n, sqlite3_value** a) { fn_round_family(c, n, a, 1); }
void fn_ceil(sqlite3_context* c, int n, sqlite3_value** a) { fn_round_family(c, n, a, 2); }
void fn_trunc(sqlite3_context* c, int n, sqlite3_value** a) { fn_round_family(c, n, a, 3); }

void fn_md5(sqlite3_context* c, int, sqlite3_value** argv) {
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL) return sqlite3_result_null(c);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(sqlite3_value_text(argv[0]), static_cast<size_t>(sqlite3_value_bytes(argv[0])), digest, &len, EVP_md5(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out.push_back(hex[digest[i] >> 4]);
    out.push_back(hex[digest[i] & 15]);
  }
  sqlite3_result_text(c, out.data(), static_cast<int>(out.size()), SQLITE_TRANSIENT);
}

// --- sequences ---------------------------------------------------------------------------

std::string seq_name(sqlite3_value* v) {
  std::string s(reinterpret_cast<const char*>(sqlite3_value_text(v)));
  if (s.rfind("public.", 0) == 0) s = s.substr(7);
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
  else
    for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

const sql::Sequence* find_seq(sqlite3_context* c, const std::string& name) {
  auto* f = function_context();
  if (!f || !f->store) {
    fail(c, "XX000", "no session context for sequence functions");
    return nullptr;
  }
  auto cat = f->store->catalog();
  // Sequence metadata (increment, bounds) is stable; the pending catalog of a DDL
  // transaction may add sequences, so fall back to defaults when not yet published.
  static thread_local sql::Sequence fallback;
  if (const auto* s = cat->find_sequence(name)) {
    fallback = *s;
    return &fallback;
  }
  fallback = sql::Sequence{};
  fallback.name = name;
  return &fallback;
}

int64_t step_int(sqlite3* db, const std::string& sql, const std::vector<std::string>& texts, int& rc,
                 bool& found) {
  // On the store's writer (where nextval/setval run) the prepared statement comes from the
  // connection's cache: a serial INSERT would otherwise prepare its sequence UPDATE each time.
  auto* f = function_context();
  Connection* conn = f && f->store && f->store->writer().db() == db ? &f->store->writer() : nullptr;
  sqlite3_stmt* st = nullptr;
  found = false;
  if (conn) {
    auto taken = conn->take(sql, nullptr);
    rc = taken ? SQLITE_OK : SQLITE_ERROR;
    if (taken) st = *taken;
  } else {
    rc = sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr);
  }
  if (rc != SQLITE_OK) return 0;
  for (size_t i = 0; i < texts.size(); ++i)
    sqlite3_bind_text(st, static_cast<int>(i + 1), texts[i].data(), static_cast<int>(texts[i].size()), SQLITE_TRANSIENT);
  int64_t v = 0;
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    found = true;
    v = sqlite3_column_int64(st, 0);
    rc = sqlite3_step(st);
  }
  if (rc == SQLITE_DONE) rc = SQLITE_OK;
  if (conn) conn->give_back(sql, st);
  else sqlite3_finalize(st);
  return v;
}

void fn_nextval(sqlite3_context* c, int, sqlite3_value** argv) {
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL) return sqlite3_result_null(c);
  std::string name = seq_name(argv[0]);
  const sql::Sequence* s = find_seq(c, name);
  if (!s) return;
  auto* f = function_context();
  sqlite3* db = sqlite3_context_db_handle(c);
  std::string tbl = "\"" + std::string(sql::kSequenceTable) + "\"";
  std::lock_guard lk(f->store->sequence_mutex());
  auto& cache = f->store->sequence_cache();
  auto it = cache.find(name);
  int rc;
  bool found;
  if (it == cache.end()) {
    int64_t last = step_int(db, "SELECT last_value FROM " + tbl + " WHERE name = ?1", {name}, rc, found);
    if (rc != SQLITE_OK) return fail(c, "XX000", sqlite3_errmsg(db));
    if (!found) return fail(c, "42P01", "relation \"" + name + "\" does not exist");
    int64_t called = step_int(db, "SELECT is_called FROM " + tbl + " WHERE name = ?1", {name}, rc, found);
    it = cache.emplace(name, SqliteStore::SequenceState{last, called != 0}).first;
  }
  auto& st = it->second;
  int64_t next = st.is_called ? st.last_value + s->increment : st.last_value;
  if (next > s->max_value)
    return fail(c, "2200H", "nextval: reached maximum value of sequence \"" + name + "\" (" + std::to_string(s->max_value) + ")");
  st.last_value = next;
  st.is_called = true;
  step_int(db, "UPDATE " + tbl + " SET last_value = CAST(?2 AS INTEGER), is_called = 1 WHERE name = ?1",
           {name, std::to_string(next)}, rc, found);
  if (rc != SQLITE_OK) return fail(c, "XX000", sqlite3_errmsg(db));
  sqlite3_result_int64(c, next);
}

void fn_currval(sqlite3_context* c, int, sqlite3_value** argv) {
  std::string name = seq_name(argv[0]);
  sqlite3* db = sqlite3_context_db_handle(c);
  int rc;
  bool found;
  int64_t v = step_int(db, "SELECT last_value FROM \"" + std::string(sql::kSequenceTable) + "\" WHERE name = ?1 AND is_called",
                       {name}, rc, found);
  if (!found) return fail(c, "55000", "currval of sequence \"" + name + "\" is not yet defined in this session");
  sqlite3_result_int64(c, v);
}

void fn_setval(sqlite3_context* c, int, sqlite3_value** argv) {
  std::string name = seq_name(argv[0]);
  if (sqlite3_value_type(argv[1]) == SQLITE_NULL) return sqlite3_result_null(c);
  int64_t v = sqlite3_value_int64(argv[1]);
  bool called = sqlite3_value_int(argv[2]) != 0;
  const sql::Sequence* s = find_seq(c, name);
  if (!s) return;
  if (v < s->min_value || v > s->max_value)
    return fail(c, "22003", "setval: value " + std::to_string(v) + " is out of bounds for sequence \"" + name + "\" (" +
                                std::to_string(s->min_value) + ".." + std::to_string(s->max_value) + ")");
  sqlite3* db = sqlite3_context_db_handle(c);
  int rc;
  bool found;
  {
    auto* f = function_context();
    std::lock_guard lk(f->store->sequence_mutex());
    f->store->sequence_cache()[name] = SqliteStore::SequenceState{v, called};
  }
  step_int(db, "UPDATE \"" + std::string(sql::kSequenceTable) + "\" SET last_value = " + std::to_string(v) +
                   ", is_called = " + (called ? "1" : "0") + " WHERE name = ?1 RETURNING last_value",
           {name}, rc, found);
  if (rc != SQLITE_OK) return fail(c, "XX000", sqlite3_errmsg(db));
  if (!found) return fail(c, "42P01", "relation \"" + name + "\" does not exist");
  sqlite3_result_int64(c, v);
}

// --- advisory locks, session ---------------------------------------------------------------

void fn_advisory(sqlite3_context* c, int, sqlite3_value** argv) {
  auto* f = function_context();
  if (!f || !f->locks) return fail(c, "XX000", "no session context for advisory locks");
  std::string op(reinterpret_cast<const char*>(sqlite3_value_text(argv[0])));
  if (sqlite3_value_type(argv[1]) == SQLITE_NULL) return sqlite3_result_null(c);
  int64_t key = sqlite3_value_int64(argv[1]);
  if (op == "pg_try_advisory_lock") return sqlite3_result_int(c, f->locks->try_lock(f->session_id, key, false));
  if (op == "pg_try_advisory_xact_lock") return sqlite3_result_int(c, f->locks->try_lock(f->session_id, key, true));
  if (op == "pg_advisory_lock" || op == "pg_advisory_xact_lock") {
    if (!f->locks->lock(f->session_id, key, op == "pg_advisory_xact_lock", f->lock_timeout_ms))
      return fail(c, "55P03", "canceling statement due to lock timeout");
    return sqlite3_result_text(c, "", 0, SQLITE_STATIC);
  }
  if (op == "pg_advisory_unlock") {
    bool ok = f->locks->unlock(f->session_id, key);
    return sqlite3_result_int(c, ok);
  }
  if (op == "pg_advisory_unlock_all") {
    f->locks->unlock_all(f->session_id);
    return sqlite3_result_text(c, "", 0, SQLITE_STATIC);
  }
  fail(c, "0A000", "unsupported advisory lock function " + op);
}

void fn_session(sqlite3_context* c, int, sqlite3_value** argv) {
  auto* f = function_context();
  std::string what(reinterpret_cast<const char*>(sqlite3_value_text(argv[0])));
  if (!f) return sqlite3_result_null(c);
  std::string v;
  if (what == "user") v = f->user;
  else if (what == "database") v = f->database;
  else if (what == "version") v = f->version;
  else if (what == "pid") return sqlite3_result_int(c, f->pid);
  else if (what == "port") return sqlite3_result_int(c, f->port);
  sqlite3_result_text(c, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
}

void fn_setting(sqlite3_context* c, int, sqlite3_value** argv) {
  auto* f = function_context();
  std::string name(reinterpret_cast<const char*>(sqlite3_value_text(argv[0])));
  for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  bool missing_ok = sqlite3_value_int(argv[1]) != 0;
  if (f && f->settings) {
    auto it = f->settings->find(name);
    if (it != f->settings->end())
      return sqlite3_result_text(c, it->second.data(), static_cast<int>(it->second.size()), SQLITE_TRANSIENT);
  }
  if (missing_ok) return sqlite3_result_null(c);
  fail(c, "42704", "unrecognized configuration parameter \"" + name + "\"");
}

void fn_sleep(sqlite3_context* c, int, sqlite3_value** argv) {
  double secs = sqlite3_value_double(argv[0]);
  auto end = std::chrono::steady_clock::now() + std::chrono::microseconds(static_cast<int64_t>(secs * 1e6));
  while (std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    auto* f = function_context();
    if (f && f->cancelled && f->cancelled->load()) return fail(c, "57014", "canceling statement due to user request");
  }
  sqlite3_result_text(c, "", 0, SQLITE_STATIC);
}

// mg_regex(text, pattern, case_insensitive): PostgreSQL's ~ and ~* operators. std::regex's
// ECMAScript grammar stands in for PostgreSQL's ARE: the same for the patterns catalogs and
// tools use (anchors, classes, alternation, quantifiers); back-references and ARE-only
// escapes may differ. Compiled patterns are cached per thread.
void fn_regex(sqlite3_context* c, int, sqlite3_value** argv) {
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL || sqlite3_value_type(argv[1]) == SQLITE_NULL)
    return sqlite3_result_null(c);
  const char* t = reinterpret_cast<const char*>(sqlite3_value_text(argv[0]));
  const char* p = reinterpret_cast<const char*>(sqlite3_value_text(argv[1]));
  bool icase = sqlite3_value_int(argv[2]) != 0;
  thread_local std::map<std::pair<std::string, bool>, std::regex> cache;
  auto key = std::make_pair(std::string(p ? p : ""), icase);
  auto it = cache.find(key);
  if (it == cache.end()) {
    try {
      auto flags = std::regex::ECMAScript | (icase ? std::regex::icase : std::regex::flag_type{});
      if (cache.size() > 256) cache.clear();
      it = cache.emplace(key, std::regex(key.first, flags)).first;
    } catch (const std::regex_error& e) {
      // PostgreSQL's wording (regerror) for the failures both engines detect.
      const char* why = e.what();
      switch (e.code()) {
        case std::regex_constants::error_paren: why = "parentheses () not balanced"; break;
        case std::regex_constants::error_brack: why = "brackets [] not balanced"; break;
        case std::regex_constants::error_brace: why = "braces {} not balanced"; break;
        case std::regex_constants::error_badbrace: why = "invalid repetition count(s)"; break;
        case std::regex_constants::error_badrepeat: why = "quantifier operand invalid"; break;
        case std::regex_constants::error_escape: why = "invalid escape \\ sequence"; break;
        case std::regex_constants::error_range: why = "invalid character range"; break;
        case std::regex_constants::error_ctype: why = "invalid character class"; break;
        default: break;
      }
      return fail(c, "2201B", std::string("invalid regular expression: ") + why);
    }
  }
  sqlite3_result_int(c, std::regex_search(t ? t : "", it->second) ? 1 : 0);
}

void fn_format_type(sqlite3_context* c, int, sqlite3_value** argv) {
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL) return sqlite3_result_null(c);
  auto oid = static_cast<types::Oid>(sqlite3_value_int64(argv[0]));
  int32_t typmod = sqlite3_value_type(argv[1]) == SQLITE_NULL ? -1 : sqlite3_value_int(argv[1]);
  std::string s = types::find_type(oid) ? types::format_type(oid, typmod) : "???";
  sqlite3_result_text(c, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
}

void fn_indexdef(sqlite3_context* c, int, sqlite3_value** argv) {
  auto* f = function_context();
  if (!f || !f->store) return sqlite3_result_null(c);
  auto oid = static_cast<uint32_t>(sqlite3_value_int64(argv[0]));
  auto cat = f->store->catalog();
  for (const auto& [_, idx] : cat->indexes) {
    if (idx.oid == oid) {
      std::string s = cat->indexdef(idx);
      return sqlite3_result_text(c, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
    }
  }
  sqlite3_result_null(c);
}

// mg_regclass(oid) / mg_regnamespace(oid): the text of oid::regclass / ::regnamespace — the
// name (quoted where PostgreSQL quotes it, schema-qualified outside public), or the number
// when no such object exists.
void fn_regclass(sqlite3_context* c, int, sqlite3_value** argv) {
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL) return sqlite3_result_null(c);
  auto oid = static_cast<uint32_t>(sqlite3_value_int64(argv[0]));
  std::string out = std::to_string(oid);
  auto* f = function_context();
  if (f && f->store) {
    auto cat = f->store->catalog();
    auto name_of = [](const std::string& key) {
      auto [schema, bare] = sql::split_relation_key(key);
      return (schema == "public" ? "" : sql::pg_quote_ident(schema) + ".") + sql::pg_quote_ident(bare);
    };
    for (const auto& [k, t] : cat->tables)
      if (t.oid == oid) out = name_of(k);
    for (const auto& [k, i] : cat->indexes)
      if (i.oid == oid) out = name_of(k);
    for (const auto& [k, q] : cat->sequences)
      if (q.oid == oid) out = name_of(k);
  }
  sqlite3_result_text(c, out.data(), static_cast<int>(out.size()), SQLITE_TRANSIENT);
}

void fn_regnamespace(sqlite3_context* c, int, sqlite3_value** argv) {
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL) return sqlite3_result_null(c);
  auto oid = static_cast<uint32_t>(sqlite3_value_int64(argv[0]));
  std::string out = oid == 11 ? "pg_catalog" : oid == 2200 ? "public" : oid == 13000 ? "information_schema" : std::to_string(oid);
  auto* f = function_context();
  if (f && f->store) {
    auto cat = f->store->catalog();
    for (const auto& [name, o] : cat->schemas)
      if (o == oid) out = sql::pg_quote_ident(name);
  }
  sqlite3_result_text(c, out.data(), static_cast<int>(out.size()), SQLITE_TRANSIENT);
}

void fn_constraintdef(sqlite3_context* c, int, sqlite3_value** argv) {
  auto* f = function_context();
  if (!f || !f->store) return sqlite3_result_null(c);
  auto oid = static_cast<uint32_t>(sqlite3_value_int64(argv[0]));
  auto cat = f->store->catalog();
  for (const auto& [_, idx] : cat->indexes) {
    if (idx.oid == oid && idx.constraint) {
      std::string s = idx.primary ? "PRIMARY KEY (" : "UNIQUE (";
      for (size_t i = 0; i < idx.columns.size(); ++i) s += (i ? ", " : "") + idx.columns[i];
      s += ")";
      return sqlite3_result_text(c, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
    }
  }
  sqlite3_result_null(c);
}

// mg_array_json(array_text, array_oid): a PostgreSQL array literal as a JSON array of
// stored values, for "= ANY($1)".
void fn_array_json(sqlite3_context* c, int, sqlite3_value** argv) {
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL) return sqlite3_result_text(c, "[]", 2, SQLITE_STATIC);
  std::string_view s(reinterpret_cast<const char*>(sqlite3_value_text(argv[0])), static_cast<size_t>(sqlite3_value_bytes(argv[0])));
  auto elem = types::element_of(static_cast<types::Oid>(sqlite3_value_int64(argv[1])));
  auto items = types::parse_array_literal(elem, s, session_ctx());
  if (!items) return fail(c, items.error());
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& v : *items) {
    if (!v) {
      arr.push_back(nullptr);
      continue;
    }
    switch (v->kind) {
      case Value::Kind::Int: arr.push_back(v->i); break;
      case Value::Kind::Real: arr.push_back(v->r); break;
      case Value::Kind::Null: arr.push_back(nullptr); break;
      default: arr.push_back(v->s); break;
    }
  }
  std::string out = arr.dump();
  sqlite3_result_text(c, out.data(), static_cast<int>(out.size()), SQLITE_TRANSIENT);
}

// mg_array_from_json(json array of storage values, element type): PostgreSQL's array text.
void fn_array_from_json(sqlite3_context* c, int, sqlite3_value** argv) {
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL) return sqlite3_result_null(c);
  auto elem = static_cast<types::Oid>(sqlite3_value_int64(argv[1]));
  auto j = nlohmann::json::parse(reinterpret_cast<const char*>(sqlite3_value_text(argv[0])), nullptr, false);
  if (!j.is_array()) return fail(c, "XX000", "mg_array_from_json: not a JSON array");
  auto sc = session_ctx();
  std::vector<std::optional<std::string>> items;
  for (const auto& x : j) {
    if (x.is_null()) {
      items.emplace_back(std::nullopt);
      continue;
    }
    Value v = x.is_number_integer() ? Value::integer(x.get<int64_t>())
              : x.is_number()       ? Value::real(x.get<double>())
              : x.is_string()       ? Value::text(x.get<std::string>())
                                    : Value::text(x.dump());
    std::string out;
    if (auto st = types::encode_text(elem, normalise(elem, v.ref()).ref(), out, sc); !st) return fail(c, st.error());
    items.emplace_back(std::move(out));
  }
  std::string s = types::array_text(items);
  sqlite3_result_text(c, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
}

}  // namespace

int register_functions(sqlite3* db) {
  struct Fn {
    const char* name;
    int nargs;
    void (*fn)(sqlite3_context*, int, sqlite3_value**);
    bool deterministic;
  };
  static const Fn fns[] = {
      {"mg_cast", 4, fn_cast, true},        {"mg_text", 2, fn_text, true},
      {"mg_lower", 1, fn_lower, true},      {"mg_upper", 1, fn_upper, true},
      {"mg_lpad", 2, fn_lpad, true},        {"mg_lpad", 3, fn_lpad, true},
      {"mg_rpad", 2, fn_rpad, true},        {"mg_rpad", 3, fn_rpad, true},
      {"mg_now", 1, fn_now, false},         {"mg_ts_add", 3, fn_ts_add, true},
      {"mg_ts_diff", 2, fn_ts_diff, true},  {"mg_extract", 4, fn_extract, true},
      {"mg_idiv", 2, fn_idiv, true},        {"mg_div", 2, fn_div, true},
      {"mg_mod", 2, fn_mod, true},          {"mg_round", 1, fn_round, true},
      {"mg_round", 2, fn_round, true},      {"mg_floor", 1, fn_floor, true},
      {"mg_ceil", 1, fn_ceil, true},        {"mg_trunc", 1, fn_trunc, true},
      {"mg_trunc", 2, fn_trunc, true},      {"mg_md5", 1, fn_md5, true},
      {"mg_nextval", 1, fn_nextval, false}, {"mg_currval", 1, fn_currval, false},
      {"mg_setval", 3, fn_setval, false},   {"mg_advisory", 2, fn_advisory, false},
      {"mg_session", 1, fn_session, false}, {"mg_setting", 2, fn_setting, false},
      {"mg_sleep", 1, fn_sleep, false},     {"mg_format_type", 2, fn_format_type, true},
      {"mg_indexdef", 1, fn_indexdef, false}, {"mg_constraintdef", 1, fn_constraintdef, false},
      {"mg_array_json", 2, fn_array_json, false},
      {"mg_regex", 3, fn_regex, true},
      {"mg_array_from_json", 2, fn_array_from_json, false},
      {"mg_regclass", 1, fn_regclass, false}, {"mg_regnamespace", 1, fn_regnamespace, false},
  };
  for (const auto& f : fns) {
    int flags = SQLITE_UTF8 | (f.deterministic ? SQLITE_DETERMINISTIC : 0);
    int rc = sqlite3_create_function_v2(db, f.name, f.nargs, flags, nullptr, f.fn, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return rc;
  }
  return SQLITE_OK;
}

}  // namespace metagate::store
