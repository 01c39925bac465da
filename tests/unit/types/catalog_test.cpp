// Type catalogue: pg_type facts, name lookup, format_type() and typmod computation.
#include "test_support.hpp"

namespace metagate::types {
namespace {

// SELECT oid, typname, format_type(oid, NULL), typlen, typbyval, typcategory, typtype,
// typelem, typarray FROM pg_type WHERE oid IN (...) on PostgreSQL 15.18.
TEST(Catalog, PgTypeFacts) {
  const TypeInfo* t = find_type(oid::kInt4);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->typname, "int4");
  EXPECT_EQ(t->sql_name, "integer");
  EXPECT_EQ(t->typlen, 4);
  EXPECT_TRUE(t->typbyval);
  EXPECT_EQ(t->typcategory, 'N');
  EXPECT_EQ(t->typarray, 1007u);
  EXPECT_EQ(t->storage, StorageClass::Int);
  const TypeInfo* name = find_type(oid::kName);
  EXPECT_EQ(name->typlen, 64);
  EXPECT_EQ(name->typelem, 18u);
  const TypeInfo* arr = find_type(oid::kVarcharArray);
  EXPECT_EQ(arr->typname, "_varchar");
  EXPECT_EQ(arr->sql_name, "character varying[]");
  EXPECT_EQ(arr->typelem, oid::kVarchar);
  EXPECT_EQ(find_type(oid::kUnknown)->typlen, -2);
  EXPECT_EQ(find_type(oid::kRecord)->typtype, 'p');
  EXPECT_EQ(find_type(oid::kAny)->sql_name, "\"any\"");
  EXPECT_EQ(find_type(oid::kJsonArray)->typelem, oid::kJson);
  EXPECT_EQ(find_type(oid::kFloat8)->storage, StorageClass::Real);
  EXPECT_EQ(find_type(oid::kBytea)->storage, StorageClass::Blob);
  EXPECT_EQ(find_type(oid::kNumeric)->storage, StorageClass::Text);
  EXPECT_EQ(find_type(123456), nullptr);
  EXPECT_EQ(array_of(oid::kInt8), oid::kInt8Array);
  EXPECT_EQ(element_of(oid::kTextArray), oid::kText);
  EXPECT_EQ(element_of(oid::kInt2Vector), 0u);
}

TEST(Catalog, FindByName) {
  struct Case {
    const char* name;
    Oid oid;
  };
  static constexpr Case kCases[] = {
      {"int4", 23}, {"integer", 23}, {"INT", 23}, {"smallint", 21}, {"bigint", 20}, {"boolean", 16},
      {"bool", 16}, {"real", 700}, {"float4", 700}, {"double precision", 701}, {"float", 701},
      {"float8", 701}, {"numeric", 1700}, {"decimal", 1700}, {"character varying", 1043},
      {"varchar", 1043}, {"character", 1042}, {"char", 1042}, {"bpchar", 1042}, {"\"char\"", 18},
      {"pg_catalog.char", 18}, {"pg_catalog.int4", 23}, {"timestamp with time zone", 1184},
      {"timestamp  without   time zone", 1114}, {"timestamptz", 1184}, {"timestamp", 1114},
      {"date", 1082}, {"time", 1083}, {"interval", 1186}, {"text", 25}, {"bytea", 17}, {"uuid", 2950},
      {"json", 114}, {"jsonb", 3802}, {"serial", 23}, {"bigserial", 20}, {"smallserial", 21},
      {"name", 19}, {"oid", 26}, {"regclass", 2205}, {"int4[]", 1007}, {"text []", 1009},
      {"_int4", 1007}, {"character varying[]", 1015},
  };
  for (const auto& c : kCases) {
    const TypeInfo* t = find_type_by_name(c.name);
    ASSERT_NE(t, nullptr) << c.name;
    EXPECT_EQ(t->oid, c.oid) << c.name;
  }
  EXPECT_EQ(find_type_by_name("nosuchtype"), nullptr);
  EXPECT_EQ(find_type_by_typname("char")->oid, 18u);
  EXPECT_TRUE(is_serial_name("BIGSERIAL"));
  EXPECT_TRUE(is_serial_name("serial4"));
  EXPECT_FALSE(is_serial_name("int4"));
}

// SELECT format_type(<oid>, <typmod>) on PostgreSQL 15.18, and the atttypmod of columns
// declared varchar(10), numeric(10,2), timestamp(3), interval day to second(2), ...
TEST(Catalog, FormatType) {
  struct Case {
    Oid oid;
    int32_t typmod;
    const char* expected;
  };
  static constexpr Case kCases[] = {
      {1043, 259, "character varying(255)"}, {1043, -1, "character varying"},
      {1042, 5, "character(1)"},             {1042, -1, "bpchar"},
      {1042, 2, "character"},                {1043, 3, "character varying"},
      {1700, ((10 << 16) | 2) + 4, "numeric(10,2)"}, {1700, -1, "numeric"},
      {1700, 3, "numeric"},                  {1700, 327684, "numeric(5,0)"},
      {1700, 198659, "numeric(3,-1)"},       {1114, 3, "timestamp(3) without time zone"},
      {1114, -1, "timestamp without time zone"}, {1184, 0, "timestamp(0) with time zone"},
      {1184, -1, "timestamp with time zone"}, {1083, 6, "time(6) without time zone"},
      {1083, -1, "time without time zone"},  {1266, 2, "time(2) with time zone"},
      {1186, (32767 << 16) | 6, "interval(6)"}, {1186, (32767 << 16) | 65535, "interval"},
      {1186, 470286338, "interval day to second(2)"}, {1186, 67174399, "interval hour"},
      {1186, 458751, "interval year to month"}, {1186, 402718719, "interval minute to second"},
      {1186, 268435459, "interval second(3)"}, {1186, 589823, "interval day"},
      {1186, 2147418112, "interval(0)"},     {18, -1, "\"char\""},
      {1007, -1, "integer[]"},               {1015, 259, "character varying(255)[]"},
      {19, -1, "name"},                      {23, 10, "integer"},
      {99999, -1, "???"},                    {1009, 5, "text(5)[]"},
      {16, -1, "boolean"},                   {17, -1, "bytea"},
      {2950, -1, "uuid"},                    {701, -1, "double precision"},
      {700, -1, "real"},                     {2276, -1, "\"any\""},
  };
  for (const auto& c : kCases) EXPECT_EQ(format_type(c.oid, c.typmod), c.expected) << c.oid << " " << c.typmod;
}

// Errors: SELECT NULL::varchar(0), ::numeric(1001), ::timestamptz(-1), ::int4(3) ... in PG 15.
TEST(Catalog, TypmodFromArgs) {
  auto tm = [](Oid t, std::initializer_list<int64_t> a) {
    auto r = typmod_from_args(t, std::span<const int64_t>(a.begin(), a.size()));
    return r ? std::to_string(*r) : r.error().sqlstate + " " + r.error().message;
  };
  EXPECT_EQ(tm(oid::kVarchar, {255}), "259");
  EXPECT_EQ(tm(oid::kBpchar, {1}), "5");
  EXPECT_EQ(tm(oid::kNumeric, {10, 2}), "655366");
  EXPECT_EQ(tm(oid::kNumeric, {5}), "327684");
  EXPECT_EQ(tm(oid::kNumeric, {3, -1}), "198659");
  EXPECT_EQ(tm(oid::kNumeric, {4, 1}), "262149");
  EXPECT_EQ(tm(oid::kTimestamp, {3}), "3");
  EXPECT_EQ(tm(oid::kTimestamp, {7}), "6");
  EXPECT_EQ(tm(oid::kInterval, {interval_range::kDay | interval_range::kHour | interval_range::kMinute |
                                    interval_range::kSecond,
                                2}),
            "470286338");
  EXPECT_EQ(tm(oid::kInterval, {interval_range::kFull, 3}), "2147418115");
  EXPECT_EQ(tm(oid::kInterval, {interval_range::kHour}), "67174399");
  EXPECT_EQ(tm(oid::kInt4, {}), "-1");
  EXPECT_EQ(tm(oid::kVarchar, {0}), "22023 length for type varchar must be at least 1");
  EXPECT_EQ(tm(oid::kVarchar, {10485761}), "22023 length for type varchar cannot exceed 10485760");
  EXPECT_EQ(tm(oid::kBpchar, {0}), "22023 length for type char must be at least 1");
  EXPECT_EQ(tm(oid::kNumeric, {0}), "22023 NUMERIC precision 0 must be between 1 and 1000");
  EXPECT_EQ(tm(oid::kNumeric, {1001}), "22023 NUMERIC precision 1001 must be between 1 and 1000");
  EXPECT_EQ(tm(oid::kNumeric, {5, 1001}), "22023 NUMERIC scale 1001 must be between -1000 and 1000");
  EXPECT_EQ(tm(oid::kNumeric, {1, 2, 3}), "22023 invalid NUMERIC type modifier");
  EXPECT_EQ(tm(oid::kTimestamptz, {-1}), "22023 TIMESTAMP(-1) WITH TIME ZONE precision must not be negative");
  EXPECT_EQ(tm(oid::kTimetz, {-1}), "22023 TIME(-1) WITH TIME ZONE precision must not be negative");
  EXPECT_EQ(tm(oid::kInt4, {3}), "42601 type modifier is not allowed for type \"int4\"");
  EXPECT_EQ(tm(oid::kText, {3}), "42601 type modifier is not allowed for type \"text\"");
}

TEST(Catalog, CodecCoverage) {
  for (Oid t : {oid::kBool, oid::kInt2, oid::kInt4, oid::kInt8, oid::kOid, oid::kFloat4, oid::kFloat8,
                oid::kNumeric, oid::kText, oid::kVarchar, oid::kBpchar, oid::kName, oid::kChar, oid::kJson,
                oid::kJsonb, oid::kUuid, oid::kBytea, oid::kDate, oid::kTime, oid::kTimestamp,
                oid::kTimestamptz, oid::kInterval, oid::kRegclass, oid::kUnknown}) {
    EXPECT_TRUE(has_text_codec(t)) << t;
    EXPECT_TRUE(has_binary_send(t)) << t;
  }
  EXPECT_FALSE(has_binary_send(oid::kInt4Array));
  EXPECT_FALSE(has_binary_send(oid::kTimetz));
  auto v = parse_text(oid::kTimetz, "11:00+02", -1, {});
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().sqlstate, "0A000");
}

}  // namespace
}  // namespace metagate::types
