// The codec entry points: dispatch of parse_text/decode_binary/encode_text/encode_binary by
// type OID to the per-family implementations, plus typmod coercion.
#include <bit>
#include <cmath>
#include <limits>

#include "internal.hpp"

namespace metagate::types {
namespace dt = datetime;
using namespace detail;

namespace {

// pq_getmsgbyte's wording (1-byte types).
PgError no_data_left() { return PgError::make(sqlstate::kProtocolViolation, "no data left in message"); }

bool is_oid_like(Oid t) {
  switch (t) {
    case oid::kOid: case oid::kRegproc: case oid::kRegprocedure: case oid::kRegoper:
    case oid::kRegoperator: case oid::kRegclass: case oid::kRegtype: case oid::kRegnamespace:
    case oid::kRegrole: case oid::kXid: case oid::kCid:
      return true;
    default: return false;
  }
}

// A one-dimensional array literal ({1,2}, {"a b",NULL}), stored as the canonical text
// array_out would print.
PgResult<Value> array_in(Oid elem, std::string_view s, const SessionContext& ctx) {
  auto items = parse_array_literal(elem, s, ctx);
  if (!items) return unexpected(items.error());
  std::vector<std::optional<std::string>> out;
  for (const auto& v : *items) {
    if (!v) {
      out.emplace_back(std::nullopt);
      continue;
    }
    std::string txt;
    if (auto st = encode_text(elem, v->ref(), txt, ctx); !st) return unexpected(st.error());
    out.emplace_back(std::move(txt));
  }
  return Value::text(array_text(out));
}

bool is_plain_text(Oid t) {
  return t == oid::kText || t == oid::kUnknown || t == oid::kXml || t == oid::kCstring || t == oid::kPgNodeTree;
}

PgError unsupported(Oid type, std::string_view what) {
  return PgError::make(sqlstate::kFeatureNotSupported,
                       "metagate does not support " + std::string(what) + " of type " + format_type(type, -1));
}

// Text of a storage value for text-like output types.
bool storage_text(const ValueRef& v, std::string& out, const SessionContext& ctx) {
  switch (v.kind) {
    case Value::Kind::Text:
    case Value::Kind::Blob: out.append(v.s); return true;
    case Value::Kind::Int: append_int(out, v.i); return true;
    case Value::Kind::Real: float8_out(v.r, ctx.extra_float_digits, out); return true;
    default: return false;
  }
}

PgResult<Value> decode_fixed(Oid type, Reader& r, int32_t typmod) {
  uint8_t b8;
  uint16_t b16;
  uint32_t b32;
  uint64_t b64;
  switch (type) {
    case oid::kBool:
      if (!r.get_u8(b8)) return fail(no_data_left());
      return Value::integer(b8 != 0);
    case oid::kChar:
      if (!r.get_u8(b8)) return fail(no_data_left());
      return Value::text(b8 ? std::string(1, static_cast<char>(b8)) : std::string());
    case oid::kInt2:
      if (!r.get_u16(b16)) return fail(insufficient_data());
      return Value::integer(static_cast<int16_t>(b16));
    case oid::kInt4:
      if (!r.get_u32(b32)) return fail(insufficient_data());
      return Value::integer(static_cast<int32_t>(b32));
    case oid::kInt8:
      if (!r.get_u64(b64)) return fail(insufficient_data());
      return Value::integer(static_cast<int64_t>(b64));
    case oid::kFloat4: {
      if (!r.get_u32(b32)) return fail(insufficient_data());
      const float f = std::bit_cast<float>(b32);
      if (std::isnan(f)) return Value::text("NaN");
      return Value::real(static_cast<double>(f));
    }
    case oid::kFloat8: {
      if (!r.get_u64(b64)) return fail(insufficient_data());
      const double d = std::bit_cast<double>(b64);
      if (std::isnan(d)) return Value::text("NaN");
      return Value::real(d);
    }
    case oid::kUuid: {
      if (r.b.size() - r.pos < 16) return fail(insufficient_data());
      unsigned char u[16];
      for (auto& c : u) r.get_u8(c);
      return Value::text(uuid_from_bytes(u));
    }
    case oid::kDate: {
      if (!r.get_u32(b32)) return fail(insufficient_data());
      const auto d = static_cast<int32_t>(b32);
      if (d != dt::kDateInfinity && d != dt::kDateMinusInfinity && (d < dt::kMinDate || d > dt::kMaxDate))
        return fail(PgError::make(sqlstate::kDatetimeFieldOverflow, "date out of range"));
      return Value::text(dt::date_to_storage(d));
    }
    case oid::kTime: {
      if (!r.get_u64(b64)) return fail(insufficient_data());
      const auto t = static_cast<int64_t>(b64);
      if (t < 0 || t > dt::kUsecsPerDay) return fail(PgError::make(sqlstate::kDatetimeFieldOverflow, "time out of range"));
      return Value::text(dt::time_to_storage(time_adjust_typmod(t, typmod)));
    }
    case oid::kTimestamp:
    case oid::kTimestamptz: {
      if (!r.get_u64(b64)) return fail(insufficient_data());
      auto us = timestamp_adjust_typmod(static_cast<int64_t>(b64), typmod);
      if (!us) return fail(std::move(us).error());
      return timestamp_value(*us);
    }
    case oid::kInterval: {
      uint32_t days, months;
      if (!r.get_u64(b64) || !r.get_u32(days) || !r.get_u32(months)) return fail(insufficient_data());
      auto iv = interval_adjust_typmod(
          dt::Interval{static_cast<int64_t>(b64), static_cast<int32_t>(days), static_cast<int32_t>(months)}, typmod);
      if (!iv) return fail(std::move(iv).error());
      return Value::text(dt::interval_to_storage(*iv));
    }
    case oid::kNumeric: return numeric_recv(r, typmod);
    default:
      if (is_oid_like(type)) {
        if (!r.get_u32(b32)) return fail(insufficient_data());
        return Value::integer(b32);
      }
      return fail(unsupported(type, "binary input"));
  }
}

}  // namespace

bool has_text_codec(Oid type) {
  switch (type) {
    case oid::kBool: case oid::kInt2: case oid::kInt4: case oid::kInt8: case oid::kFloat4:
    case oid::kFloat8: case oid::kNumeric: case oid::kVarchar: case oid::kBpchar: case oid::kName:
    case oid::kChar: case oid::kJson: case oid::kJsonb: case oid::kUuid: case oid::kBytea:
    case oid::kDate: case oid::kTime: case oid::kTimestamp: case oid::kTimestamptz: case oid::kInterval:
      return true;
    default: return is_oid_like(type) || is_plain_text(type);
  }
}

bool has_binary_send(Oid type) { return has_text_codec(type) && type != oid::kCstring && type != oid::kPgNodeTree; }

PgResult<Value> parse_text(Oid type, std::string_view s, int32_t typmod, const SessionContext& ctx) {
  if (auto st = validate_utf8(s); !st) return fail(std::move(st).error());
  switch (type) {
    case oid::kBool: return bool_in(s);
    case oid::kInt2: case oid::kInt4: case oid::kInt8: return int_in(type, s);
    case oid::kFloat4: case oid::kFloat8: return float_in(type, s);
    case oid::kNumeric: return numeric_in(s, typmod);
    case oid::kVarchar: return varchar_in(s, typmod, false);
    case oid::kBpchar: return bpchar_in(s, typmod, false);
    case oid::kName: return Value::text(name_in(s));
    case oid::kChar: return Value::text(char_in(s));
    case oid::kJson:
      if (auto st = json_validate(s); !st) return fail(std::move(st).error());
      return Value::text(std::string(s));
    case oid::kJsonb: {
      auto j = jsonb_normalize(s);
      if (!j) return fail(std::move(j).error());
      return Value::text(std::move(*j));
    }
    case oid::kUuid: return uuid_in(s);
    case oid::kBytea: return bytea_in(s);
    case oid::kDate: return date_in(s, ctx);
    case oid::kTime: return time_in(s, typmod, ctx);
    case oid::kTimestamp: case oid::kTimestamptz: return timestamp_in(type, s, typmod, ctx);
    case oid::kInterval: return interval_in(s, typmod);
    default:
      if (type == oid::kRegtype && !s.empty() && !(s[0] >= '0' && s[0] <= '9')) {
        // regtype input takes the name regtype output prints (format_type's, or the typname).
        std::string_view name = s;
        while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
        while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
        std::string_view bare = name;
        if (bare.size() >= 2 && bare.front() == '"' && bare.back() == '"') bare = bare.substr(1, bare.size() - 2);
        for (const auto& t : all_types())
          if (name == format_type(t.oid, -1) || name == t.typname || bare == t.typname) return Value::integer(t.oid);
        return fail(PgError::make(sqlstate::kUndefinedObject, "type \"" + std::string(name) + "\" does not exist"));
      }
      if (is_oid_like(type)) return int_in(type, s);
      if (is_plain_text(type)) return Value::text(std::string(s));
      if (Oid el = element_of(type); el != 0) return array_in(el, s, ctx);
      return fail(unsupported(type, "input"));
  }
}

PgResult<std::vector<std::optional<Value>>> parse_array_literal(Oid elem, std::string_view s, const SessionContext& ctx) {
  size_t i = 0;
  auto bad_detail = [&](std::string detail) {
    PgError e = PgError::make(sqlstate::kInvalidTextRepresentation, "malformed array literal: \"" + std::string(s) + "\"");
    e.detail = std::move(detail);
    return unexpected(std::move(e));
  };
  // PostgreSQL's DETAIL for where the literal went wrong.
  auto bad = [&]() {
    if (i >= s.size()) return bad_detail("Unexpected end of input.");
    return bad_detail(std::string("Unexpected \"") + s[i] + "\" character.");
  };
  auto skip_ws = [&] {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
  };
  skip_ws();
  if (i >= s.size() || s[i] != '{') return bad_detail("Array value must start with \"{\" or dimension information.");
  ++i;
  std::vector<std::optional<Value>> out;
  skip_ws();
  if (i < s.size() && s[i] == '}') {
    ++i;
  } else {
    for (;;) {
      skip_ws();
      std::string item;
      bool quoted = false;
      if (i < s.size() && s[i] == '"') {
        quoted = true;
        ++i;
        while (i < s.size() && s[i] != '"') {
          if (s[i] == '\\' && i + 1 < s.size()) ++i;
          item.push_back(s[i++]);
        }
        if (i >= s.size()) return bad();
        ++i;
      } else {
        while (i < s.size() && s[i] != ',' && s[i] != '}') {
          if (s[i] == '{' || s[i] == '"') return bad();  // nested arrays are not supported
          item.push_back(s[i++]);
        }
        while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.pop_back();
        if (item.empty()) return bad();
      }
      skip_ws();
      if (!quoted && (item == "NULL" || item == "null" || item == "Null")) {
        out.emplace_back(std::nullopt);
      } else {
        auto v = parse_text(elem, item, -1, ctx);
        if (!v) return unexpected(v.error());
        out.emplace_back(std::move(*v));
      }
      if (i < s.size() && s[i] == ',') {
        ++i;
        continue;
      }
      if (i < s.size() && s[i] == '}') {
        ++i;
        break;
      }
      return bad();
    }
  }
  skip_ws();
  if (i != s.size()) return bad_detail("Junk after closing right brace.");
  return out;
}

std::string array_text(const std::vector<std::optional<std::string>>& elements) {
  std::string out = "{";
  for (size_t i = 0; i < elements.size(); ++i) {
    if (i) out += ',';
    if (!elements[i]) {
      out += "NULL";
      continue;
    }
    const std::string& e = *elements[i];
    // array_out quotes an element spelled NULL in any case (pg_strcasecmp).
    bool quote = e.empty() || (e.size() == 4 && (e[0] | 0x20) == 'n' && (e[1] | 0x20) == 'u' && (e[2] | 0x20) == 'l' &&
                               (e[3] | 0x20) == 'l');
    for (char ch : e)
      if (ch == '{' || ch == '}' || ch == ',' || ch == '"' || ch == '\\' || ch == ' ' || ch == '\t' || ch == '\n' ||
          ch == '\r' || ch == '\v' || ch == '\f')  // array_isspace's set
        quote = true;
    if (!quote) {
      out += e;
      continue;
    }
    out += '"';
    for (char ch : e) {
      if (ch == '"' || ch == '\\') out += '\\';
      out += ch;
    }
    out += '"';
  }
  return out + "}";
}

PgResult<Value> decode_binary(Oid type, std::string_view bytes, int32_t typmod, const SessionContext& ctx) {
  Reader r{bytes};
  PgResult<Value> v = Value{};
  switch (type) {
    case oid::kBytea: return Value::blob(std::string(bytes));
    case oid::kText: case oid::kVarchar: case oid::kBpchar: case oid::kName: case oid::kUnknown:
    case oid::kXml: case oid::kJson: case oid::kJsonb: {
      std::string_view s = bytes;
      if (type == oid::kJsonb) {
        uint8_t version;
        if (!r.get_u8(version)) return fail(insufficient_data());
        if (version != 1)
          return fail(PgError::make(sqlstate::kInternalError, "unsupported jsonb version number " + std::to_string(version)));
        s = r.rest();
      }
      if (auto st = validate_utf8(s); !st) return fail(std::move(st).error());
      if (type == oid::kName && s.size() >= 64)
        return fail(PgError::make("42622", "identifier too long")
                        .with_detail("Identifier must be less than 64 characters."));
      if (type == oid::kJson || type == oid::kJsonb) return parse_text(type, s, typmod, ctx);
      if (type == oid::kVarchar) return varchar_in(s, typmod, false);
      if (type == oid::kBpchar) return bpchar_in(s, typmod, false);
      return Value::text(std::string(s));
    }
    default: v = decode_fixed(type, r, typmod);
  }
  if (v && !r.done()) return fail(bad_binary("incorrect binary data format"));
  return v;
}

PgResult<Value> decode_binary_param(Oid type, std::string_view bytes, int32_t typmod, const SessionContext& ctx,
                                    int param_number) {
  auto v = decode_binary(type, bytes, typmod, ctx);
  if (!v && v.error().sqlstate == sqlstate::kInvalidBinaryRepresentation &&
      v.error().message == "incorrect binary data format")
    v.error().message += " in bind parameter " + std::to_string(param_number);
  return v;
}

PgStatus encode_text(Oid type, const ValueRef& v, std::string& out, const SessionContext& ctx) {
  if (v.kind == Value::Kind::Null) return Ok{};
  auto corrupt = [&] { return fail(corrupt_storage(type)); };
  switch (type) {
    case oid::kBool: {
      auto b = storage_bool(v);
      if (!b) return corrupt();
      out.push_back(*b ? 't' : 'f');
      return Ok{};
    }
    case oid::kInt2: case oid::kInt4: case oid::kInt8: {
      auto i = storage_int(v);
      if (!i) return corrupt();
      append_int(out, *i);
      return Ok{};
    }
    case oid::kFloat4: case oid::kFloat8: {
      auto d = storage_real(v);
      if (!d) return corrupt();
      if (type == oid::kFloat4) float4_out(static_cast<float>(*d), ctx.extra_float_digits, out);
      else float8_out(*d, ctx.extra_float_digits, out);
      return Ok{};
    }
    case oid::kNumeric: {
      auto n = storage_numeric(v);
      if (!n) return corrupt();
      out += *n;
      return Ok{};
    }
    case oid::kChar:
      if (v.kind != Value::Kind::Text && v.kind != Value::Kind::Blob) return corrupt();
      char_out(v.s, out);
      return Ok{};
    case oid::kUuid: {
      unsigned char u[16];
      if (v.kind == Value::Kind::Blob && v.s.size() == 16) std::memcpy(u, v.s.data(), 16);
      else if (v.kind != Value::Kind::Text || !uuid_bytes(v.s, u)) return corrupt();
      out += uuid_from_bytes(u);
      return Ok{};
    }
    case oid::kBytea:
      if (v.kind != Value::Kind::Blob && v.kind != Value::Kind::Text) return corrupt();
      bytea_out(v.s, out);
      return Ok{};
    case oid::kDate: {
      auto d = storage_date(v);
      if (!d) return corrupt();
      out += dt::date_to_storage(*d);
      return Ok{};
    }
    case oid::kTime: {
      auto t = storage_time(v);
      if (!t) return corrupt();
      out += dt::time_to_storage(*t);
      return Ok{};
    }
    case oid::kTimestamp: case oid::kTimestamptz: {
      auto t = storage_timestamp(v);
      if (!t) return corrupt();
      out += type == oid::kTimestamp ? dt::timestamp_to_storage(*t) : dt::format_timestamptz(*t, session_offset(ctx));
      return Ok{};
    }
    case oid::kInterval: {
      auto iv = storage_interval(v);
      if (!iv) return corrupt();
      out += dt::interval_to_storage(*iv);
      return Ok{};
    }
    default:
      if (is_oid_like(type)) {
        // reg* values computed as names (oid::regclass through the catalog) print as they are.
        if (v.kind == Value::Kind::Text && type != oid::kOid) {
          out.append(v.s);
          return Ok{};
        }
        auto i = storage_int(v);
        if (!i) return corrupt();
        // regtype prints the type's name, as PostgreSQL's regtypeout.
        if (type == oid::kRegtype && find_type(static_cast<Oid>(*i))) {
          out += format_type(static_cast<Oid>(*i), -1);
          return Ok{};
        }
        append_uint(out, static_cast<uint32_t>(*i));
        return Ok{};
      }
      if (!storage_text(v, out, ctx)) return corrupt();
      return Ok{};
  }
}

PgStatus encode_binary(Oid type, const ValueRef& v, std::string& out, const SessionContext& ctx) {
  if (v.kind == Value::Kind::Null) return Ok{};
  auto corrupt = [&] { return fail(corrupt_storage(type)); };
  switch (type) {
    case oid::kBool: {
      auto b = storage_bool(v);
      if (!b) return corrupt();
      out.push_back(*b ? '\1' : '\0');
      return Ok{};
    }
    case oid::kInt2: case oid::kInt4: case oid::kInt8: {
      auto i = storage_int(v);
      if (!i) return corrupt();
      if (type == oid::kInt2) {
        if (*i < -32768 || *i > 32767) return corrupt();
        put_u16(out, static_cast<uint16_t>(*i));
      } else if (type == oid::kInt4) {
        if (*i < std::numeric_limits<int32_t>::min() || *i > std::numeric_limits<int32_t>::max()) return corrupt();
        put_u32(out, static_cast<uint32_t>(*i));
      } else {
        put_u64(out, static_cast<uint64_t>(*i));
      }
      return Ok{};
    }
    case oid::kFloat4: case oid::kFloat8: {
      auto d = storage_real(v);
      if (!d) return corrupt();
      if (type == oid::kFloat4) {
        const float f = std::isnan(*d) ? std::numeric_limits<float>::quiet_NaN() : static_cast<float>(*d);
        put_u32(out, std::bit_cast<uint32_t>(f));
      } else {
        put_u64(out, std::bit_cast<uint64_t>(std::isnan(*d) ? std::numeric_limits<double>::quiet_NaN() : *d));
      }
      return Ok{};
    }
    case oid::kNumeric: {
      auto n = storage_numeric(v);
      if (!n) return corrupt();
      return numeric_send(*n, out);
    }
    case oid::kChar:
      if (v.kind != Value::Kind::Text && v.kind != Value::Kind::Blob) return corrupt();
      out.push_back(v.s.empty() ? '\0' : v.s[0]);
      return Ok{};
    case oid::kUuid: {
      unsigned char u[16];
      if (v.kind == Value::Kind::Blob && v.s.size() == 16) std::memcpy(u, v.s.data(), 16);
      else if (v.kind != Value::Kind::Text || !uuid_bytes(v.s, u)) return corrupt();
      out.append(reinterpret_cast<const char*>(u), 16);
      return Ok{};
    }
    case oid::kBytea:
      if (v.kind != Value::Kind::Blob && v.kind != Value::Kind::Text) return corrupt();
      out.append(v.s);
      return Ok{};
    case oid::kDate: {
      auto d = storage_date(v);
      if (!d) return corrupt();
      put_u32(out, static_cast<uint32_t>(*d));
      return Ok{};
    }
    case oid::kTime: {
      auto t = storage_time(v);
      if (!t) return corrupt();
      put_u64(out, static_cast<uint64_t>(*t));
      return Ok{};
    }
    case oid::kTimestamp: case oid::kTimestamptz: {
      auto t = storage_timestamp(v);
      if (!t) return corrupt();
      put_u64(out, static_cast<uint64_t>(*t));
      return Ok{};
    }
    case oid::kInterval: {
      auto iv = storage_interval(v);
      if (!iv) return corrupt();
      put_u64(out, static_cast<uint64_t>(iv->time_us));
      put_u32(out, static_cast<uint32_t>(iv->days));
      put_u32(out, static_cast<uint32_t>(iv->months));
      return Ok{};
    }
    case oid::kJsonb:
      if (v.kind != Value::Kind::Text) return corrupt();
      out.push_back('\1');
      out.append(v.s);
      return Ok{};
    default:
      if (is_oid_like(type)) {
        auto i = storage_int(v);
        if (!i) return corrupt();
        put_u32(out, static_cast<uint32_t>(*i));
        return Ok{};
      }
      if (!has_binary_send(type)) return fail(unsupported(type, "binary output"));
      if (!storage_text(v, out, ctx)) return corrupt();
      return Ok{};
  }
}

PgResult<Value> coerce_to_typmod(Oid type, Value v, int32_t typmod, bool is_explicit) {
  if (v.kind == Value::Kind::Null || typmod < 0) return v;
  switch (type) {
    case oid::kVarchar:
    case oid::kBpchar: {
      std::string s;
      if (!storage_text(v.ref(), s, SessionContext{})) return fail(corrupt_storage(type));
      return type == oid::kVarchar ? varchar_in(s, typmod, is_explicit) : bpchar_in(s, typmod, is_explicit);
    }
    case oid::kNumeric: {
      auto n = storage_numeric(v.ref());
      if (!n) return fail(corrupt_storage(type));
      return numeric_apply_typmod(*n, typmod);
    }
    case oid::kTimestamp:
    case oid::kTimestamptz: {
      auto t = storage_timestamp(v.ref());
      if (!t) return fail(corrupt_storage(type));
      auto us = timestamp_adjust_typmod(*t, typmod);
      if (!us) return fail(std::move(us).error());
      return timestamp_value(*us);
    }
    case oid::kTime: {
      auto t = storage_time(v.ref());
      if (!t) return fail(corrupt_storage(type));
      return Value::text(dt::time_to_storage(time_adjust_typmod(*t, typmod)));
    }
    case oid::kInterval: {
      auto iv = storage_interval(v.ref());
      if (!iv) return fail(corrupt_storage(type));
      auto adj = interval_adjust_typmod(*iv, typmod);
      if (!adj) return fail(std::move(adj).error());
      return Value::text(dt::interval_to_storage(*adj));
    }
    default: return v;
  }
}

}  // namespace metagate::types
