// Built-in type catalogue: pg_type facts, name lookup, format_type() and typmod computation.
#include <algorithm>
#include <array>
#include <string>

#include "internal.hpp"
#include "metagate/types/type_catalog.hpp"

namespace metagate::types {
namespace {

using S = StorageClass;

// Values as in PostgreSQL 15's pg_type (checked with
// SELECT oid, typname, format_type(oid,NULL), typlen, typbyval, typcategory, typtype, typelem, typarray FROM pg_type).
constexpr std::array kTypes = {
    TypeInfo{16, "bool", "boolean", 1, true, 'B', 'b', 0, 1000, S::Int},
    TypeInfo{17, "bytea", "bytea", -1, false, 'U', 'b', 0, 1001, S::Blob},
    TypeInfo{18, "char", "\"char\"", 1, true, 'Z', 'b', 0, 1002, S::Text},
    TypeInfo{19, "name", "name", 64, false, 'S', 'b', 18, 1003, S::Text},
    TypeInfo{20, "int8", "bigint", 8, true, 'N', 'b', 0, 1016, S::Int},
    TypeInfo{21, "int2", "smallint", 2, true, 'N', 'b', 0, 1005, S::Int},
    TypeInfo{22, "int2vector", "int2vector", -1, false, 'A', 'b', 21, 1006, S::Text},
    TypeInfo{23, "int4", "integer", 4, true, 'N', 'b', 0, 1007, S::Int},
    TypeInfo{24, "regproc", "regproc", 4, true, 'N', 'b', 0, 1008, S::Int},
    TypeInfo{25, "text", "text", -1, false, 'S', 'b', 0, 1009, S::Text},
    TypeInfo{26, "oid", "oid", 4, true, 'N', 'b', 0, 1028, S::Int},
    TypeInfo{27, "tid", "tid", 6, false, 'U', 'b', 0, 1010, S::Text},
    TypeInfo{28, "xid", "xid", 4, true, 'U', 'b', 0, 1011, S::Int},
    TypeInfo{29, "cid", "cid", 4, true, 'U', 'b', 0, 1012, S::Int},
    TypeInfo{30, "oidvector", "oidvector", -1, false, 'A', 'b', 26, 1013, S::Text},
    TypeInfo{114, "json", "json", -1, false, 'U', 'b', 0, 199, S::Text},
    TypeInfo{142, "xml", "xml", -1, false, 'U', 'b', 0, 143, S::Text},
    TypeInfo{194, "pg_node_tree", "pg_node_tree", -1, false, 'Z', 'b', 0, 0, S::Text},
    TypeInfo{700, "float4", "real", 4, true, 'N', 'b', 0, 1021, S::Real},
    TypeInfo{701, "float8", "double precision", 8, true, 'N', 'b', 0, 1022, S::Real},
    TypeInfo{705, "unknown", "unknown", -2, false, 'X', 'p', 0, 0, S::Text},
    TypeInfo{1042, "bpchar", "character", -1, false, 'S', 'b', 0, 1014, S::Text},
    TypeInfo{1043, "varchar", "character varying", -1, false, 'S', 'b', 0, 1015, S::Text},
    TypeInfo{1082, "date", "date", 4, true, 'D', 'b', 0, 1182, S::Text},
    TypeInfo{1083, "time", "time without time zone", 8, true, 'D', 'b', 0, 1183, S::Text},
    TypeInfo{1114, "timestamp", "timestamp without time zone", 8, true, 'D', 'b', 0, 1115, S::Text},
    TypeInfo{1184, "timestamptz", "timestamp with time zone", 8, true, 'D', 'b', 0, 1185, S::Text},
    TypeInfo{1186, "interval", "interval", 16, false, 'T', 'b', 0, 1187, S::Text},
    TypeInfo{1266, "timetz", "time with time zone", 12, false, 'D', 'b', 0, 1270, S::Text},
    TypeInfo{1700, "numeric", "numeric", -1, false, 'N', 'b', 0, 1231, S::Text},
    TypeInfo{2202, "regprocedure", "regprocedure", 4, true, 'N', 'b', 0, 2207, S::Int},
    TypeInfo{2203, "regoper", "regoper", 4, true, 'N', 'b', 0, 2208, S::Int},
    TypeInfo{2204, "regoperator", "regoperator", 4, true, 'N', 'b', 0, 2209, S::Int},
    TypeInfo{2205, "regclass", "regclass", 4, true, 'N', 'b', 0, 2210, S::Int},
    TypeInfo{2206, "regtype", "regtype", 4, true, 'N', 'b', 0, 2211, S::Int},
    TypeInfo{2950, "uuid", "uuid", 16, false, 'U', 'b', 0, 2951, S::Text},
    TypeInfo{3802, "jsonb", "jsonb", -1, false, 'U', 'b', 0, 3807, S::Text},
    TypeInfo{4089, "regnamespace", "regnamespace", 4, true, 'N', 'b', 0, 4090, S::Int},
    TypeInfo{4096, "regrole", "regrole", 4, true, 'N', 'b', 0, 4097, S::Int},
    // pseudo-types
    TypeInfo{2249, "record", "record", -1, false, 'P', 'p', 0, 2287, S::Text},
    TypeInfo{2275, "cstring", "cstring", -2, false, 'P', 'p', 0, 1263, S::Text},
    TypeInfo{2276, "any", "\"any\"", 4, true, 'P', 'p', 0, 0, S::Text},
    TypeInfo{2277, "anyarray", "anyarray", -1, false, 'P', 'p', 0, 0, S::Text},
    TypeInfo{2278, "void", "void", 4, true, 'P', 'p', 0, 0, S::Text},
    TypeInfo{2279, "trigger", "trigger", 4, true, 'P', 'p', 0, 0, S::Text},
    TypeInfo{2281, "internal", "internal", 8, true, 'P', 'p', 0, 0, S::Text},
    TypeInfo{2283, "anyelement", "anyelement", 4, true, 'P', 'p', 0, 0, S::Text},
    TypeInfo{2776, "anynonarray", "anynonarray", 4, true, 'P', 'p', 0, 0, S::Text},
    // arrays (storage: PG's array text output)
    TypeInfo{1000, "_bool", "boolean[]", -1, false, 'A', 'b', 16, 0, S::Text},
    TypeInfo{1001, "_bytea", "bytea[]", -1, false, 'A', 'b', 17, 0, S::Text},
    TypeInfo{1002, "_char", "\"char\"[]", -1, false, 'A', 'b', 18, 0, S::Text},
    TypeInfo{1003, "_name", "name[]", -1, false, 'A', 'b', 19, 0, S::Text},
    TypeInfo{1005, "_int2", "smallint[]", -1, false, 'A', 'b', 21, 0, S::Text},
    TypeInfo{1006, "_int2vector", "int2vector[]", -1, false, 'A', 'b', 22, 0, S::Text},
    TypeInfo{1007, "_int4", "integer[]", -1, false, 'A', 'b', 23, 0, S::Text},
    TypeInfo{1008, "_regproc", "regproc[]", -1, false, 'A', 'b', 24, 0, S::Text},
    TypeInfo{1009, "_text", "text[]", -1, false, 'A', 'b', 25, 0, S::Text},
    TypeInfo{1010, "_tid", "tid[]", -1, false, 'A', 'b', 27, 0, S::Text},
    TypeInfo{1011, "_xid", "xid[]", -1, false, 'A', 'b', 28, 0, S::Text},
    TypeInfo{1012, "_cid", "cid[]", -1, false, 'A', 'b', 29, 0, S::Text},
    TypeInfo{1013, "_oidvector", "oidvector[]", -1, false, 'A', 'b', 30, 0, S::Text},
    TypeInfo{1014, "_bpchar", "character[]", -1, false, 'A', 'b', 1042, 0, S::Text},
    TypeInfo{1015, "_varchar", "character varying[]", -1, false, 'A', 'b', 1043, 0, S::Text},
    TypeInfo{1016, "_int8", "bigint[]", -1, false, 'A', 'b', 20, 0, S::Text},
    TypeInfo{1021, "_float4", "real[]", -1, false, 'A', 'b', 700, 0, S::Text},
    TypeInfo{1022, "_float8", "double precision[]", -1, false, 'A', 'b', 701, 0, S::Text},
    TypeInfo{1028, "_oid", "oid[]", -1, false, 'A', 'b', 26, 0, S::Text},
    TypeInfo{1115, "_timestamp", "timestamp without time zone[]", -1, false, 'A', 'b', 1114, 0, S::Text},
    TypeInfo{1182, "_date", "date[]", -1, false, 'A', 'b', 1082, 0, S::Text},
    TypeInfo{1183, "_time", "time without time zone[]", -1, false, 'A', 'b', 1083, 0, S::Text},
    TypeInfo{1185, "_timestamptz", "timestamp with time zone[]", -1, false, 'A', 'b', 1184, 0, S::Text},
    TypeInfo{1187, "_interval", "interval[]", -1, false, 'A', 'b', 1186, 0, S::Text},
    TypeInfo{1231, "_numeric", "numeric[]", -1, false, 'A', 'b', 1700, 0, S::Text},
    TypeInfo{1270, "_timetz", "time with time zone[]", -1, false, 'A', 'b', 1266, 0, S::Text},
    TypeInfo{199, "_json", "json[]", -1, false, 'A', 'b', 114, 0, S::Text},
    TypeInfo{143, "_xml", "xml[]", -1, false, 'A', 'b', 142, 0, S::Text},
    TypeInfo{2207, "_regprocedure", "regprocedure[]", -1, false, 'A', 'b', 2202, 0, S::Text},
    TypeInfo{2208, "_regoper", "regoper[]", -1, false, 'A', 'b', 2203, 0, S::Text},
    TypeInfo{2209, "_regoperator", "regoperator[]", -1, false, 'A', 'b', 2204, 0, S::Text},
    TypeInfo{2210, "_regclass", "regclass[]", -1, false, 'A', 'b', 2205, 0, S::Text},
    TypeInfo{2211, "_regtype", "regtype[]", -1, false, 'A', 'b', 2206, 0, S::Text},
    TypeInfo{2951, "_uuid", "uuid[]", -1, false, 'A', 'b', 2950, 0, S::Text},
    TypeInfo{3807, "_jsonb", "jsonb[]", -1, false, 'A', 'b', 3802, 0, S::Text},
    TypeInfo{4090, "_regnamespace", "regnamespace[]", -1, false, 'A', 'b', 4089, 0, S::Text},
    TypeInfo{4097, "_regrole", "regrole[]", -1, false, 'A', 'b', 4096, 0, S::Text},
    TypeInfo{2287, "_record", "record[]", -1, false, 'P', 'p', 2249, 0, S::Text},
    TypeInfo{1263, "_cstring", "cstring[]", -1, false, 'A', 'b', 2275, 0, S::Text},
};

struct Alias {
  std::string_view name;
  Oid oid;
};
// SQL spellings PostgreSQL's grammar maps onto pg_type names (lower case, single blanks).
constexpr std::array kAliases = {
    Alias{"integer", 23}, Alias{"int", 23}, Alias{"smallint", 21}, Alias{"bigint", 20},
    Alias{"boolean", 16}, Alias{"real", 700}, Alias{"float", 701},
    Alias{"double precision", 701}, Alias{"decimal", 1700}, Alias{"dec", 1700},
    Alias{"character varying", 1043}, Alias{"char varying", 1043},
    Alias{"national character varying", 1043}, Alias{"national char varying", 1043},
    Alias{"character", 1042}, Alias{"char", 1042}, Alias{"nchar", 1042},
    Alias{"national character", 1042}, Alias{"national char", 1042},
    Alias{"timestamp with time zone", 1184}, Alias{"timestamp without time zone", 1114},
    Alias{"time with time zone", 1266}, Alias{"time without time zone", 1083},
    Alias{"serial", 23}, Alias{"serial4", 23}, Alias{"bigserial", 20}, Alias{"serial8", 20},
    Alias{"smallserial", 21}, Alias{"serial2", 21}, Alias{"\"char\"", 18},
    Alias{"\"any\"", 2276},
};

// Lower-cases and collapses runs of blanks; strips a "pg_catalog." prefix (qualified says so).
std::string normalize_name(std::string_view name, bool* qualified = nullptr) {
  std::string out;
  bool blank = false;
  for (char c : detail::trim_space(name)) {
    if (detail::is_space(c)) {
      blank = true;
      continue;
    }
    if (blank && !out.empty()) out.push_back(' ');
    blank = false;
    out.push_back(detail::lower(c));
  }
  constexpr std::string_view kPrefix = "pg_catalog.";
  const bool q = out.size() > kPrefix.size() && out.compare(0, kPrefix.size(), kPrefix) == 0;
  if (q) out.erase(0, kPrefix.size());
  if (qualified) *qualified = q;
  return out;
}

// SQL spellings win over pg_type names (only "char" differs: SQL char is bpchar); a
// pg_catalog-qualified name is a pg_type name.
const TypeInfo* find_scalar_by_name(std::string_view n, bool qualified) {
  if (!qualified)
    for (const auto& a : kAliases)
      if (a.name == n) return find_type(a.oid);
  for (const auto& t : kTypes)
    if (t.typname == n) return &t;
  return nullptr;
}

std::string interval_typmod_suffix(int32_t typmod) {
  namespace R = interval_range;
  const int32_t range = (typmod >> 16) & 0x7FFF;
  const int32_t prec = typmod & 0xFFFF;
  std::string s;
  switch (range) {
    case R::kYear: s = " year"; break;
    case R::kMonth: s = " month"; break;
    case R::kDay: s = " day"; break;
    case R::kHour: s = " hour"; break;
    case R::kMinute: s = " minute"; break;
    case R::kSecond: s = " second"; break;
    case R::kYear | R::kMonth: s = " year to month"; break;
    case R::kDay | R::kHour: s = " day to hour"; break;
    case R::kDay | R::kHour | R::kMinute: s = " day to minute"; break;
    case R::kDay | R::kHour | R::kMinute | R::kSecond: s = " day to second"; break;
    case R::kHour | R::kMinute: s = " hour to minute"; break;
    case R::kHour | R::kMinute | R::kSecond: s = " hour to second"; break;
    case R::kMinute | R::kSecond: s = " minute to second"; break;
    default: break;  // full range
  }
  if (prec != kIntervalFullPrecision) s += "(" + std::to_string(prec) + ")";
  return s;
}

PgError invalid_param(std::string msg) {
  return PgError::make(sqlstate::kInvalidParameterValue, std::move(msg));
}

}  // namespace

std::span<const TypeInfo> all_types() { return {kTypes.data(), kTypes.size()}; }

const TypeInfo* find_type(Oid oid) {
  for (const auto& t : kTypes)
    if (t.oid == oid) return &t;
  return nullptr;
}

const TypeInfo* find_type_by_name(std::string_view name) {
  bool qualified = false;
  std::string n = normalize_name(name, &qualified);
  if (n.size() > 2 && n.compare(n.size() - 2, 2, "[]") == 0) {
    n.resize(n.size() - 2);
    while (!n.empty() && n.back() == ' ') n.pop_back();
    const TypeInfo* elem = find_scalar_by_name(n, qualified);
    return elem && elem->typarray ? find_type(elem->typarray) : nullptr;
  }
  return find_scalar_by_name(n, qualified);
}

const TypeInfo* find_type_by_typname(std::string_view typname) {
  for (const auto& t : kTypes)
    if (t.typname == typname) return &t;
  return nullptr;
}

bool is_serial_name(std::string_view name) {
  const std::string n = normalize_name(name);
  return n == "serial" || n == "serial4" || n == "bigserial" || n == "serial8" || n == "smallserial" ||
         n == "serial2";
}

Oid array_of(Oid elem) {
  const TypeInfo* t = find_type(elem);
  return t ? t->typarray : 0;
}

Oid element_of(Oid array) {
  const TypeInfo* t = find_type(array);
  return t && t->typcategory == 'A' && t->typname.starts_with('_') ? t->typelem : 0;
}

std::string format_type(Oid oid, int32_t typmod) {
  const TypeInfo* t = find_type(oid);
  if (!t) return "???";
  if (t->typname.starts_with('_') && t->typelem != 0) return format_type(t->typelem, typmod) + "[]";
  const bool with = typmod >= 0;
  switch (oid) {
    case oid::kBool: return "boolean";
    case oid::kInt2: return "smallint";
    case oid::kInt4: return "integer";
    case oid::kInt8: return "bigint";
    case oid::kFloat4: return "real";
    case oid::kFloat8: return "double precision";
    case oid::kBpchar:
      if (!with) return "bpchar";
      return typmod > 4 ? "character(" + std::to_string(typmod - 4) + ")" : "character";
    case oid::kVarchar:
      return with && typmod > 4 ? "character varying(" + std::to_string(typmod - 4) + ")" : "character varying";
    case oid::kNumeric: {
      if (!with || typmod < 4) return "numeric";
      const int32_t m = typmod - 4;
      const int32_t p = (m >> 16) & 0xFFFF;
      const int32_t s = ((m & 0x7FF) ^ 1024) - 1024;
      return "numeric(" + std::to_string(p) + "," + std::to_string(s) + ")";
    }
    case oid::kTime:
    case oid::kTimetz:
    case oid::kTimestamp:
    case oid::kTimestamptz: {
      std::string s = (oid == oid::kTime || oid == oid::kTimetz) ? "time" : "timestamp";
      if (with) s += "(" + std::to_string(typmod) + ")";
      s += (oid == oid::kTime || oid == oid::kTimestamp) ? " without time zone" : " with time zone";
      return s;
    }
    case oid::kInterval: return with ? "interval" + interval_typmod_suffix(typmod) : "interval";
    default: break;
  }
  std::string s(t->sql_name);
  if (with) s += "(" + std::to_string(typmod) + ")";
  return s;
}

PgResult<int32_t> typmod_from_args(Oid oid, std::span<const int64_t> args) {
  if (args.empty()) return int32_t{-1};
  const TypeInfo* t = find_type(oid);
  const std::string tname = t ? std::string(t->typname) : "???";
  switch (oid) {
    case oid::kVarchar:
    case oid::kBpchar: {
      const char* nm = oid == oid::kVarchar ? "varchar" : "char";
      if (args.size() != 1) return unexpected(invalid_param("invalid type modifier"));
      if (args[0] < 1) return unexpected(invalid_param(std::string("length for type ") + nm + " must be at least 1"));
      if (args[0] > 10485760)
        return unexpected(invalid_param(std::string("length for type ") + nm + " cannot exceed 10485760"));
      return static_cast<int32_t>(args[0] + 4);
    }
    case oid::kNumeric: {
      if (args.size() > 2) return unexpected(invalid_param("invalid NUMERIC type modifier"));
      const int64_t p = args[0];
      const int64_t s = args.size() == 2 ? args[1] : 0;
      if (p < 1 || p > 1000)
        return unexpected(invalid_param("NUMERIC precision " + std::to_string(p) + " must be between 1 and 1000"));
      if (s < -1000 || s > 1000)
        return unexpected(invalid_param("NUMERIC scale " + std::to_string(s) + " must be between -1000 and 1000"));
      return static_cast<int32_t>(((p << 16) | (s & 0x7FF)) + 4);
    }
    case oid::kTimestamp:
    case oid::kTimestamptz:
    case oid::kTime:
    case oid::kTimetz: {
      const bool ts = oid == oid::kTimestamp || oid == oid::kTimestamptz;
      const bool tz = oid == oid::kTimestamptz || oid == oid::kTimetz;
      if (args.size() != 1) return unexpected(invalid_param("invalid type modifier"));
      if (args[0] < 0)
        return unexpected(invalid_param(std::string(ts ? "TIMESTAMP(" : "TIME(") + std::to_string(args[0]) + ")" +
                                        (tz ? " WITH TIME ZONE" : "") + " precision must not be negative"));
      return static_cast<int32_t>(std::min<int64_t>(args[0], 6));  // PG warns and caps at 6
    }
    case oid::kInterval: {
      if (args.size() > 2) return unexpected(invalid_param("invalid INTERVAL type modifier"));
      const int64_t range = args[0];
      int64_t prec = kIntervalFullPrecision;
      if (args.size() == 2) {
        prec = args[1];
        if (prec < 0)
          return unexpected(invalid_param("INTERVAL(" + std::to_string(prec) + ") precision must not be negative"));
        prec = std::min<int64_t>(prec, 6);
      }
      if (range <= 0 || range > interval_range::kFull) return unexpected(invalid_param("invalid INTERVAL type modifier"));
      return static_cast<int32_t>((range << 16) | prec);
    }
    default:
      return unexpected(PgError::make(sqlstate::kSyntaxError, "type modifier is not allowed for type \"" + tname + "\""));
  }
}

}  // namespace metagate::types
