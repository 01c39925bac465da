// PostgreSQL type metadata: built-in type OIDs, pg_type facts, name lookup, format_type, typmods.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "metagate/util/pg_error.hpp"

namespace metagate::types {

using Oid = uint32_t;

namespace oid {
inline constexpr Oid kInvalid = 0;
inline constexpr Oid kBool = 16, kBytea = 17, kChar = 18, kName = 19, kInt8 = 20, kInt2 = 21,
                     kInt2Vector = 22, kInt4 = 23, kRegproc = 24, kText = 25, kOid = 26, kTid = 27,
                     kXid = 28, kCid = 29, kOidVector = 30, kJson = 114, kXml = 142, kPgNodeTree = 194,
                     kFloat4 = 700, kFloat8 = 701, kUnknown = 705, kBpchar = 1042, kVarchar = 1043,
                     kDate = 1082, kTime = 1083, kTimestamp = 1114, kTimestamptz = 1184,
                     kInterval = 1186, kTimetz = 1266, kNumeric = 1700, kRegprocedure = 2202,
                     kRegoper = 2203, kRegoperator = 2204, kRegclass = 2205, kRegtype = 2206,
                     kUuid = 2950, kJsonb = 3802, kRegnamespace = 4089, kRegrole = 4096;
// Pseudo-types.
inline constexpr Oid kRecord = 2249, kCstring = 2275, kAny = 2276, kAnyArray = 2277, kVoid = 2278,
                     kTrigger = 2279, kInternal = 2281, kAnyElement = 2283, kAnyNonArray = 2776;
// Array types.
inline constexpr Oid kBoolArray = 1000, kByteaArray = 1001, kCharArray = 1002, kNameArray = 1003,
                     kInt2Array = 1005, kInt4Array = 1007, kRegprocArray = 1008, kTextArray = 1009,
                     kBpcharArray = 1014, kVarcharArray = 1015, kInt8Array = 1016,
                     kFloat4Array = 1021, kFloat8Array = 1022, kOidArray = 1028,
                     kTimestampArray = 1115, kDateArray = 1182, kTimeArray = 1183,
                     kTimestamptzArray = 1185, kIntervalArray = 1187, kNumericArray = 1231,
                     kTimetzArray = 1270, kJsonArray = 199, kXmlArray = 143, kRecordArray = 2287,
                     kRegclassArray = 2210, kRegtypeArray = 2211, kUuidArray = 2951,
                     kJsonbArray = 3807, kRegnamespaceArray = 4090;
}  // namespace oid

// How metagate stores a value of the type in SQLite.
enum class StorageClass : uint8_t { Int, Real, Text, Blob };

struct TypeInfo {
  Oid oid;
  std::string_view typname;   // pg_type.typname, e.g. "int4", "_int4"
  std::string_view sql_name;  // format_type(oid, NULL), e.g. "integer", "integer[]"
  int16_t typlen;             // -1 varlena, -2 cstring
  bool typbyval;
  char typcategory;           // 'N', 'S', 'D', 'A', ...
  char typtype;               // 'b' base, 'p' pseudo
  Oid typelem;                // element type for arrays (and name → char, int2vector → int2)
  Oid typarray;               // the array type, 0 if none
  StorageClass storage;
};

// Built-in types by OID / by name; nullptr when unknown. find_type_by_name accepts pg_type
// names ("int4", "_int4"), the SQL spellings ("integer", "double precision",
// "character varying", "timestamp with time zone", "int", "decimal", "serial", ...) and a
// trailing "[]" for arrays; ASCII case-insensitive, surrounding blanks ignored.
// "char" is the SQL spelling (= bpchar, as PG's grammar maps unquoted char); the one-byte
// "char" type (OID 18) is found as "\"char\"", "pg_catalog.char" or via find_type_by_typname.
// libpg_query hands over unquoted built-in names qualified ("pg_catalog.int4"): accepted.
const TypeInfo* find_type(Oid oid);
// Every built-in type metagate knows, in OID order.
std::span<const TypeInfo> all_types();
const TypeInfo* find_type_by_name(std::string_view name);
// Exact pg_type.typname match ("int4", "char", "_text"), case-sensitive.
const TypeInfo* find_type_by_typname(std::string_view typname);
// serial/serial4 → int4, bigserial/serial8 → int8, smallserial/serial2 → int2.
bool is_serial_name(std::string_view name);
// The array type of an element type / the element type of an array type; 0 if none.
Oid array_of(Oid elem);
Oid element_of(Oid array);

// Exactly PostgreSQL's format_type(oid, typmod); typmod -1 = none. Unknown OIDs give "???".
std::string format_type(Oid oid, int32_t typmod);

// Type modifier from the arguments written in DDL/casts (what typmodin computes):
//   varchar(n)/char(n) → n+4; numeric(p) → (p<<16)+4; numeric(p,s) → ((p<<16)|(s&0x7ff))+4;
//   timestamp(p)/timestamptz(p)/time(p)/timetz(p) → p (capped at 6 like PG, which warns);
//   interval: {range_mask} or {range_mask, p} as libpg_query hands them over
//   ((range<<16)|p, p=0xFFFF when absent). No args → -1. Errors use PG's wording.
PgResult<int32_t> typmod_from_args(Oid oid, std::span<const int64_t> args);

// Interval typmod pieces (range bits are PG's INTERVAL_MASK values).
namespace interval_range {
inline constexpr int32_t kMonth = 1 << 1, kYear = 1 << 2, kDay = 1 << 3, kHour = 1 << 10,
                         kMinute = 1 << 11, kSecond = 1 << 12, kFull = 0x7FFF;
}
inline constexpr int32_t kIntervalFullPrecision = 0xFFFF;

}  // namespace metagate::types
