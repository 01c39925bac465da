// Fuzz target: the value codec (parse_text, decode_binary, encode_text, encode_binary,
// coerce_to_typmod) for every type OID metagate handles, plus the date/time and type-name
// helpers the SQL layer feeds with client text.
//
// Input layout:
//   byte 0  type (index into kTypes, modulo its size)
//   byte 1  bits 0-2 mode, bits 3-5 session context variant
//   byte 2  number of typmod arguments (mod 3), then 2 bytes (big-endian int16) per argument;
//           the typmod is what typmod_from_args makes of them (-1 if it refuses them), i.e.
//           only typmods a CREATE TABLE or a cast can really produce
//   rest    the payload
// Modes:
//   0 text input   parse_text; if accepted, encode_text/encode_binary must succeed and parse
//                  back (text and binary) to the same stored value
//   1 binary input decode_binary; if accepted, encode_binary/encode_text must succeed and
//                  decode/parse back to the same value
//   2 storage      an arbitrary SQLite value (payload byte 0 = kind) through encode_text,
//                  encode_binary: errors allowed, crashes not
//   3 coercion     parse_text without typmod, then coerce_to_typmod (explicit and implicit)
//   4 helpers      datetime::*_from_storage round trips, session_timezone_offset,
//                  find_type_by_name/format_type, bpchar_pad, validate_utf8
//   5 bind param   decode_binary_param
// A SQLSTATE of class XX (internal error / corrupt data) from parsing client input is a bug.
#include <array>
#include <string>
#include <vector>

#include "fuzz_common.hpp"
#include "metagate/types/types.hpp"

using namespace metagate;
using namespace metagate::types;
using fuzz::printable;

namespace {

constexpr std::array<Oid, 33> kTypes = {
    oid::kBool,      oid::kInt2,        oid::kInt4,     oid::kInt8,     oid::kFloat4,   oid::kFloat8,
    oid::kNumeric,   oid::kText,        oid::kVarchar,  oid::kBpchar,   oid::kName,     oid::kChar,
    oid::kJson,      oid::kJsonb,       oid::kUuid,     oid::kBytea,    oid::kDate,     oid::kTime,
    oid::kTimestamp, oid::kTimestamptz, oid::kInterval, oid::kOid,      oid::kRegclass, oid::kRegtype,
    oid::kXid,       oid::kUnknown,     oid::kXml,      oid::kCstring,  oid::kTimetz,   oid::kInt4Array,
    oid::kTextArray, oid::kRecord,      0,
};

constexpr std::array<const char*, 8> kZones = {"UTC", "+02", "EST", "<+0530>-05:30", "Europe/Berlin",
                                               "Etc/GMT+3", "-3.5", "UTC-3"};

bool same(const Value& a, const Value& b) {
  return a.kind == b.kind && a.i == b.i && a.s == b.s && fuzz::same_double(a.r, b.r);
}

std::string show(const Value& v) {
  switch (v.kind) {
    case Value::Kind::Null: return "NULL";
    case Value::Kind::Int: return "Int " + std::to_string(v.i);
    case Value::Kind::Real: {
      char buf[64];
      std::snprintf(buf, sizeof buf, "Real %.17g", v.r);
      return buf;
    }
    case Value::Kind::Text: return "Text '" + printable(v.s) + "'";
    case Value::Kind::Blob: return "Blob '" + printable(v.s) + "'";
  }
  return "?";
}

void check_error(const PgError& e, const char* what, Oid type, std::string_view in) {
  FUZZ_CHECK(e.sqlstate.size() == 5, "%s of type %u: bad SQLSTATE '%s'", what, type, e.sqlstate.c_str());
  // PG itself raises XX000 for an unknown jsonb binary version (elog in jsonb_recv).
  if (e.message.rfind("unsupported jsonb version number", 0) == 0) return;
  FUZZ_CHECK(e.sqlstate.rfind("XX", 0) != 0, "%s of type %u gives internal error %s '%s' for input '%s'", what, type,
             e.sqlstate.c_str(), e.message.c_str(), printable(in).c_str());
  FUZZ_CHECK(!e.message.empty(), "%s of type %u: error without message", what, type);
}

// An accepted value must print (text and binary) and read back as itself.
void round_trip(Oid type, const Value& v, int32_t typmod, const SessionContext& ctx, std::string_view origin) {
  FUZZ_CHECK(!v.is_null(), "type %u: input '%s' gave NULL", type, printable(origin).c_str());
  const bool exact_floats = ctx.extra_float_digits >= 1;
  const bool float_type = type == oid::kFloat4 || type == oid::kFloat8;

  std::string text;
  auto st = encode_text(type, v.ref(), text, ctx);
  FUZZ_CHECK(st.has_value(), "type %u typmod %d: accepted '%s' as %s but cannot print it: %s %s", type, typmod,
             printable(origin).c_str(), show(v).c_str(), st ? "" : st.error().sqlstate.c_str(),
             st ? "" : st.error().message.c_str());
  auto back = parse_text(type, text, typmod, ctx);
  // With extra_float_digits < 1 float output is rounded (as in PG): 1.7976931348623157e308
  // prints as '2e+308', which is out of range on input. Only exact output must read back.
  if (float_type && !exact_floats && !back) return;
  FUZZ_CHECK(back.has_value(), "type %u typmod %d: '%s' (from '%s', stored %s) does not parse back: %s %s", type,
             typmod, printable(text).c_str(), printable(origin).c_str(), show(v).c_str(),
             back ? "" : back.error().sqlstate.c_str(), back ? "" : back.error().message.c_str());
  if (!float_type || exact_floats)
    FUZZ_CHECK(same(*back, v), "type %u typmod %d: text round trip of '%s': %s -> '%s' -> %s", type, typmod,
               printable(origin).c_str(), show(v).c_str(), printable(text).c_str(), show(*back).c_str());

  if (!has_binary_send(type)) return;
  std::string bin;
  auto sb = encode_binary(type, v.ref(), bin, ctx);
  FUZZ_CHECK(sb.has_value(), "type %u typmod %d: accepted '%s' as %s but cannot send it: %s %s", type, typmod,
             printable(origin).c_str(), show(v).c_str(), sb ? "" : sb.error().sqlstate.c_str(),
             sb ? "" : sb.error().message.c_str());
  auto bback = decode_binary(type, bin, typmod, ctx);
  if (!bback && bback.error().sqlstate == "0A000") return;  // no binary input for this type
  FUZZ_CHECK(bback.has_value(), "type %u typmod %d: binary of %s (from '%s') does not decode: %s %s", type, typmod,
             show(v).c_str(), printable(origin).c_str(), bback ? "" : bback.error().sqlstate.c_str(),
             bback ? "" : bback.error().message.c_str());
  FUZZ_CHECK(same(*bback, v), "type %u typmod %d: binary round trip of '%s': %s -> %s", type, typmod,
             printable(origin).c_str(), show(v).c_str(), show(*bback).c_str());
}

void helpers(Oid type, std::string_view s, int32_t typmod) {
  namespace dt = datetime;
  if (auto t = dt::timestamp_from_storage(s)) {
    bool inf = *t == dt::kTimestampInfinity || *t == dt::kTimestampMinusInfinity;
    FUZZ_CHECK(inf || (*t >= dt::kMinTimestamp && *t <= dt::kMaxTimestamp), "timestamp %lld out of range",
               static_cast<long long>(*t));
    std::string out = dt::timestamp_to_storage(*t);
    FUZZ_CHECK(dt::timestamp_from_storage(out) == t, "timestamp storage '%s' -> '%s' unstable",
               printable(s).c_str(), out.c_str());
    (void)dt::format_timestamptz(inf ? 0 : *t, 3600);
  }
  if (auto d = dt::date_from_storage(s)) {
    std::string out = dt::date_to_storage(*d);
    FUZZ_CHECK(dt::date_from_storage(out) == d, "date storage '%s' -> '%s' unstable", printable(s).c_str(),
               out.c_str());
    if (*d >= dt::kMinDate && *d <= dt::kMaxDate) {
      int y, m, day;
      dt::civil_from_days(*d, y, m, day);
      FUZZ_CHECK(dt::days_from_civil(y, m, day) == *d, "civil date round trip of %d", *d);
    }
  }
  if (auto t = dt::time_from_storage(s)) {
    FUZZ_CHECK(*t >= 0 && *t <= dt::kUsecsPerDay, "time %lld out of range", static_cast<long long>(*t));
    std::string out = dt::time_to_storage(*t);
    FUZZ_CHECK(dt::time_from_storage(out) == t, "time storage '%s' -> '%s' unstable", printable(s).c_str(),
               out.c_str());
  }
  if (auto iv = dt::interval_from_storage(s)) {
    std::string out = dt::interval_to_storage(*iv);
    FUZZ_CHECK(dt::interval_from_storage(out) == iv, "interval storage '%s' -> '%s' unstable",
               printable(s).c_str(), out.c_str());
  }
  (void)dt::session_timezone_offset(s);
  if (const TypeInfo* ti = find_type_by_name(s)) {
    FUZZ_CHECK(find_type(ti->oid) == ti, "find_type(%u) disagrees with find_type_by_name", ti->oid);
    (void)format_type(ti->oid, typmod);
    (void)format_type(ti->oid, -1);
    (void)array_of(ti->oid);
    (void)element_of(ti->oid);
  }
  (void)find_type_by_typname(s);
  (void)is_serial_name(s);
  auto u = validate_utf8(s);
  // bpchar_pad only with a bpchar typmod (another type's typmod can mean gigabytes of blanks).
  if (u && type == oid::kBpchar) {
    std::string padded = bpchar_pad(s, typmod);
    FUZZ_CHECK(padded.size() >= s.size() && padded.compare(0, s.size(), s) == 0, "bpchar_pad changed the text");
  }
  if (!u) FUZZ_CHECK(u.error().sqlstate == "22021", "validate_utf8 gives %s", u.error().sqlstate.c_str());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Input in(data, size);
  const Oid type = kTypes[in.byte() % kTypes.size()];
  const uint8_t mode_ctx = in.byte();
  const int mode = mode_ctx & 7;
  const int ctx_variant = (mode_ctx >> 3) & 7;

  const int nargs = in.byte() % 3;
  std::vector<int64_t> args;
  for (int i = 0; i < nargs; ++i) args.push_back(static_cast<int16_t>(in.u16()));
  int32_t typmod = -1;
  if (nargs > 0) {
    auto t = typmod_from_args(type, args);
    if (t) typmod = *t;
    else check_error(t.error(), "typmod_from_args", type, "");
  }

  SessionContext ctx;
  ctx.timezone = kZones[ctx_variant];
  ctx.extra_float_digits = ctx_variant == 6 ? 0 : ctx_variant == 7 ? -15 : 1;
  ctx.now_us = int64_t{770'000'000} * 1'000'000;  // 2024-05-26 or so
  if (ctx_variant == 5) ctx.now_us.reset();

  switch (mode) {
    default:
    case 0: {
      std::string_view s = in.rest();
      auto v = parse_text(type, s, typmod, ctx);
      if (!v) {
        check_error(v.error(), "parse_text", type, s);
        break;
      }
      round_trip(type, *v, typmod, ctx, s);
      break;
    }
    case 1:
    case 5: {
      std::string_view b = in.rest();
      auto v = mode == 1 ? decode_binary(type, b, typmod, ctx) : decode_binary_param(type, b, typmod, ctx, 3);
      if (!v) {
        check_error(v.error(), "decode_binary", type, b);
        break;
      }
      round_trip(type, *v, typmod, ctx, b);
      break;
    }
    case 2: {
      const uint8_t kind = in.byte();
      std::string_view payload = in.rest();
      ValueRef v;
      switch (kind % 5) {
        case 0: v = ValueRef::null(); break;
        case 1: {
          int64_t i = 0;
          for (size_t k = 0; k < 8 && k < payload.size(); ++k) i = (i << 8) | static_cast<uint8_t>(payload[k]);
          v = ValueRef::integer(i);
          break;
        }
        case 2: {
          uint64_t bits = 0;
          for (size_t k = 0; k < 8 && k < payload.size(); ++k) bits = (bits << 8) | static_cast<uint8_t>(payload[k]);
          double d;
          std::memcpy(&d, &bits, sizeof d);
          v = ValueRef::real(d);
          break;
        }
        case 3: v = ValueRef::text(payload); break;
        case 4: v = ValueRef::blob(payload); break;
      }
      std::string out;
      if (auto st = encode_text(type, v, out, ctx); !st) FUZZ_CHECK(!st.error().message.empty(), "no message");
      out.clear();
      if (auto st = encode_binary(type, v, out, ctx); !st) FUZZ_CHECK(!st.error().message.empty(), "no message");
      break;
    }
    case 3: {
      std::string_view s = in.rest();
      auto v = parse_text(type, s, -1, ctx);
      if (!v) break;
      for (bool is_explicit : {false, true}) {
        auto c = coerce_to_typmod(type, *v, typmod, is_explicit);
        if (!c) {
          check_error(c.error(), "coerce_to_typmod", type, s);
          continue;
        }
        round_trip(type, *c, typmod, ctx, s);
        // Coercion is idempotent.
        auto c2 = coerce_to_typmod(type, *c, typmod, is_explicit);
        FUZZ_CHECK(c2 && same(*c2, *c), "type %u typmod %d: coercion of %s not idempotent", type, typmod,
                   show(*c).c_str());
      }
      break;
    }
    case 4:
      helpers(type, in.rest(), typmod);
      break;
  }
  return 0;
}
