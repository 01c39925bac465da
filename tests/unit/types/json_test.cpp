// json/jsonb: validation with PG's error wording, jsonb normalisation, binary formats.
#include "test_support.hpp"

namespace metagate::types {
namespace {
using testing::Row;
using testing::binary_in;
using testing::check_rows;
using testing::text_io;

// Tables: PostgreSQL 15.18, PQexecParams("SELECT $1") with a text parameter of the type;
// text result and binary (json_send / jsonb_send) result.
TEST(Json, MatchesPostgres) {
  static constexpr Row kRows[] = {
    {"{\"b\":1, \"a\":[1,2,  {\"c\":\"x\"}], \"a\":3}", "{\"b\":1, \"a\":[1,2,  {\"c\":\"x\"}], \"a\":3}", "7b2262223a312c202261223a5b312c322c20207b2263223a2278227d5d2c202261223a337d"},
    {"{\"b\":1, \"a\":  2}", "{\"b\":1, \"a\":  2}", "7b2262223a312c202261223a2020327d"},
    {"1.50", "1.50", "312e3530"},
    {"1e2", "1e2", "316532"},
    {"{x}", "ERR 22P02 invalid input syntax for type json", nullptr},
    {"\"\\u00e9\\n\"", "\"\\u00e9\\n\"", "225c75303065395c6e22"},
    {"\"\\u0000\"", "\"\\u0000\"", "225c753030303022"},
    {"  [1,2]  ", "  [1,2]  ", "20205b312c325d2020"},
    {"{\"aa\":1,\"b\":2,\"a\":3}", "{\"aa\":1,\"b\":2,\"a\":3}", "7b226161223a312c2262223a322c2261223a337d"},
    {"1.0e-3", "1.0e-3", "312e30652d33"},
    {"-0", "-0", "2d30"},
    {"null", "null", "6e756c6c"},
    {"[true,false,null,\"a\"]", "[true,false,null,\"a\"]", "5b747275652c66616c73652c6e756c6c2c2261225d"},
    {"{}", "{}", "7b7d"},
    {"[]", "[]", "5b5d"},
    {"{\"a\":{}}", "{\"a\":{}}", "7b2261223a7b7d7d"},
    {"\"\\ud800\"", "\"\\ud800\"", "225c756438303022"},
    {"[1,]", "ERR 22P02 invalid input syntax for type json", nullptr},
    {"{\"a\":1,}", "ERR 22P02 invalid input syntax for type json", nullptr},
    {"{1:2}", "ERR 22P02 invalid input syntax for type json", nullptr},
    {"[1 2]", "ERR 22P02 invalid input syntax for type json", nullptr},
    {"1 2", "ERR 22P02 invalid input syntax for type json", nullptr},
    {"tru", "ERR 22P02 invalid input syntax for type json", nullptr},
    {"\"a", "ERR 22P02 invalid input syntax for type json", nullptr},
    {"\"a\\u12\"", "ERR 22P02 invalid input syntax for type json", nullptr},
    {"[\"\\ud83d\\ude00\"]", "[\"\\ud83d\\ude00\"]", "5b225c75643833645c7564653030225d"},
    {"\"\\ud83d\\ud83d\"", "\"\\ud83d\\ud83d\"", "225c75643833645c756438336422"},
    {"-01", "ERR 22P02 invalid input syntax for type json", nullptr},
    {"1.", "ERR 22P02 invalid input syntax for type json", nullptr},
    {".5", "ERR 22P02 invalid input syntax for type json", nullptr},
    {"1e", "ERR 22P02 invalid input syntax for type json", nullptr},
    {"", "ERR 22P02 invalid input syntax for type json", nullptr},
    {"{\"a\":}", "ERR 22P02 invalid input syntax for type json", nullptr},
    {"[\"a\":1]", "ERR 22P02 invalid input syntax for type json", nullptr},
    {"@", "ERR 22P02 invalid input syntax for type json", nullptr},
    {"{\"a\" \"b\"}", "ERR 22P02 invalid input syntax for type json", nullptr},
    {"{\"é\":1,\"z\":2,\"ab\":3}", "{\"é\":1,\"z\":2,\"ab\":3}", "7b22c3a9223a312c227a223a322c226162223a337d"},
    {"[1.0, 2.50, -0.0, 1E+2]", "[1.0, 2.50, -0.0, 1E+2]", "5b312e302c20322e35302c202d302e302c2031452b325d"},
    {"\"\\u001f/\\/\"", "\"\\u001f/\\/\"", "225c75303031662f5c2f22"},
    {"[1e999999]", "[1e999999]", "5b31653939393939395d"},
    {"[,1]", "ERR 22P02 invalid input syntax for type json", nullptr},
    {"[", "ERR 22P02 invalid input syntax for type json", nullptr},
    {"{\"a\"", "ERR 22P02 invalid input syntax for type json", nullptr},
    {"\"\\q\"", "ERR 22P02 invalid input syntax for type json", nullptr},
    {"\"\\\"\\\\\\b\\f\\n\\r\\t\"", "\"\\\"\\\\\\b\\f\\n\\r\\t\"", "225c225c5c5c625c665c6e5c725c7422"},
    {"\"\\ude00\"", "\"\\ude00\"", "225c756465303022"},
    {"{\"a\":1,\"a\":2}", "{\"a\":1,\"a\":2}", "7b2261223a312c2261223a327d"},
    {"{\"b\":1,\"a\":2,\"b\":3}", "{\"b\":1,\"a\":2,\"b\":3}", "7b2262223a312c2261223a322c2262223a337d"},
    {"123abc", "ERR 22P02 invalid input syntax for type json", nullptr},
    {"[1,2,3]x", "ERR 22P02 invalid input syntax for type json", nullptr},
  };
  check_rows(oid::kJson, kRows);
}

TEST(Jsonb, MatchesPostgres) {
  static constexpr Row kRows[] = {
    {"{\"b\":1, \"a\":[1,2,  {\"c\":\"x\"}], \"a\":3}", "{\"a\": 3, \"b\": 1}", "017b2261223a20332c202262223a20317d"},
    {"{\"b\":1, \"a\":  2}", "{\"a\": 2, \"b\": 1}", "017b2261223a20322c202262223a20317d"},
    {"1.50", "1.50", "01312e3530"},
    {"1e2", "100", "01313030"},
    {"{x}", "ERR 22P02 invalid input syntax for type json", nullptr},
    {"\"\\u00e9\\n\"", "\"é\\n\"", "0122c3a95c6e22"},
    {"\"\\u0000\"", "ERR 22P05 unsupported Unicode escape sequence", nullptr},
    {"  [1,2]  ", "[1, 2]", "015b312c20325d"},
    {"{\"aa\":1,\"b\":2,\"a\":3}", "{\"a\": 3, \"b\": 2, \"aa\": 1}", "017b2261223a20332c202262223a20322c20226161223a20317d"},
    {"1.0e-3", "0.0010", "01302e30303130"},
    {"-0", "0", "0130"},
    {"null", "null", "016e756c6c"},
    {"[true,false,null,\"a\"]", "[true, false, null, \"a\"]", "015b747275652c2066616c73652c206e756c6c2c202261225d"},
    {"{}", "{}", "017b7d"},
    {"[]", "[]", "015b5d"},
    {"{\"a\":{}}", "{\"a\": {}}", "017b2261223a207b7d7d"},
    {"\"\\ud800\"", "ERR 22P02 invalid input syntax for type json", nullptr},
    {"[1,]", "ERR 22P02 invalid input syntax for type json", nullptr},
    {"{\"a\":1,}", "ERR 22P02 invalid input syntax for type json", nullptr},
    {"{1:2}", "ERR 22P02 invalid input syntax for type json", nullptr},
    {"[1 2]", "ERR 22P02 invalid input syntax for type json", nullptr},
    {"1 2", "ERR 22P02 invalid input syntax for type json", nullptr},
    {"tru", "ERR 22P02 invalid input syntax for type json", nullptr},
    {"\"a", "ERR 22P02 invalid input syntax for type json", nullptr},
    {"\"a\\u12\"", "ERR 22P02 invalid input syntax for type json", nullptr},
    {"[\"\\ud83d\\ude00\"]", "[\"😀\"]", "015b22f09f9880225d"},
    {"\"\\ud83d\\ud83d\"", "ERR 22P02 invalid input syntax for type json", nullptr},
    {"-01", "ERR 22P02 invalid input syntax for type json", nullptr},
    {"1.", "ERR 22P02 invalid input syntax for type json", nullptr},
    {".5", "ERR 22P02 invalid input syntax for type json", nullptr},
    {"1e", "ERR 22P02 invalid input syntax for type json", nullptr},
    {"", "ERR 22P02 invalid input syntax for type json", nullptr},
    {"{\"a\":}", "ERR 22P02 invalid input syntax for type json", nullptr},
    {"[\"a\":1]", "ERR 22P02 invalid input syntax for type json", nullptr},
    {"@", "ERR 22P02 invalid input syntax for type json", nullptr},
    {"{\"a\" \"b\"}", "ERR 22P02 invalid input syntax for type json", nullptr},
    {"{\"é\":1,\"z\":2,\"ab\":3}", "{\"z\": 2, \"ab\": 3, \"é\": 1}", "017b227a223a20322c20226162223a20332c2022c3a9223a20317d"},
    {"[1.0, 2.50, -0.0, 1E+2]", "[1.0, 2.50, 0.0, 100]", "015b312e302c20322e35302c20302e302c203130305d"},
    {"\"\\u001f/\\/\"", "\"\\u001f//\"", "01225c75303031662f2f22"},
    {"[1e999999]", "ERR 22003 value overflows numeric format", nullptr},
    {"[,1]", "ERR 22P02 invalid input syntax for type json", nullptr},
    {"[", "ERR 22P02 invalid input syntax for type json", nullptr},
    {"{\"a\"", "ERR 22P02 invalid input syntax for type json", nullptr},
    {"\"\\q\"", "ERR 22P02 invalid input syntax for type json", nullptr},
    {"\"\\\"\\\\\\b\\f\\n\\r\\t\"", "\"\\\"\\\\\\b\\f\\n\\r\\t\"", "01225c225c5c5c625c665c6e5c725c7422"},
    {"\"\\ude00\"", "ERR 22P02 invalid input syntax for type json", nullptr},
    {"{\"a\":1,\"a\":2}", "{\"a\": 2}", "017b2261223a20327d"},
    {"{\"b\":1,\"a\":2,\"b\":3}", "{\"a\": 2, \"b\": 3}", "017b2261223a20322c202262223a20337d"},
    {"123abc", "ERR 22P02 invalid input syntax for type json", nullptr},
    {"[1,2,3]x", "ERR 22P02 invalid input syntax for type json", nullptr},
  };
  check_rows(oid::kJsonb, kRows);
}

// DETAIL lines as psql shows them for SELECT '<x>'::json (PG 15, VERBOSITY verbose).
TEST(Json, ErrorDetails) {
  struct Case {
    const char* in;
    const char* detail;
  };
  static constexpr Case kCases[] = {
      {"{x}", "Token \"x\" is invalid."},
      {"[1,2", "The input string ended unexpectedly."},
      {"{\"a\" 1}", "Expected \":\", but found \"1\"."},
      {"01", "Token \"01\" is invalid."},
      {"\"a\\qb\"", "Escape sequence \"\\q\" is invalid."},
      {"-", "Token \"-\" is invalid."},
      {"[1,]", "Expected JSON value, but found \"]\"."},
      {"{\"a\":1,}", "Expected string, but found \"}\"."},
      {"{1:2}", "Expected string or \"}\", but found \"1\"."},
      {"[1 2]", "Expected \",\" or \"]\", but found \"2\"."},
      {"1 2", "Expected end of input, but found \"2\"."},
      {"tru", "Token \"tru\" is invalid."},
      {"truex", "Token \"truex\" is invalid."},
      {"\"a", "Token \"\"a\" is invalid."},
      {"\"a\\u12\"", "\"\\u\" must be followed by four hexadecimal digits."},
      {"-01", "Token \"-01\" is invalid."},
      {"1.", "Token \"1.\" is invalid."},
      {".5", "Token \".\" is invalid."},
      {"1e", "Token \"1e\" is invalid."},
      {"", "The input string ended unexpectedly."},
      {"{\"a\":}", "Expected JSON value, but found \"}\"."},
      {"[\"a\":1]", "Expected \",\" or \"]\", but found \":\"."},
      {"{\"a\" \"b\"}", "Expected \":\", but found \"\"b\"\"."},
  };
  for (const auto& c : kCases) {
    auto v = parse_text(oid::kJson, c.in, -1, {});
    ASSERT_FALSE(v) << c.in;
    EXPECT_EQ(v.error().sqlstate, "22P02") << c.in;
    EXPECT_EQ(v.error().message, "invalid input syntax for type json") << c.in;
    EXPECT_EQ(v.error().detail, c.detail) << c.in;
  }
  // jsonb-only checks of Unicode escapes.
  auto nul = parse_text(oid::kJsonb, "\"\\u0000\"", -1, {});
  ASSERT_FALSE(nul);
  EXPECT_EQ(nul.error().sqlstate, "22P05");
  EXPECT_EQ(nul.error().message, "unsupported Unicode escape sequence");
  EXPECT_EQ(nul.error().detail, "\\u0000 cannot be converted to text.");
  auto hi = parse_text(oid::kJsonb, "\"\\ud83d\\ud83d\"", -1, {});
  ASSERT_FALSE(hi);
  EXPECT_EQ(hi.error().detail, "Unicode high surrogate must not follow a high surrogate.");
  auto lone = parse_text(oid::kJsonb, "\"\\ud800\"", -1, {});
  ASSERT_FALSE(lone);
  EXPECT_EQ(lone.error().detail, "Unicode low surrogate must follow a high surrogate.");
}

TEST(Jsonb, BinaryVersion) {
  EXPECT_EQ(binary_in(oid::kJsonb, "017b2261223a20317d"), "{\"a\": 1}");
  EXPECT_EQ(binary_in(oid::kJsonb, "027b2261223a20317d"), "ERR XX000 unsupported jsonb version number 2");
  EXPECT_EQ(binary_in(oid::kJsonb, ""), "ERR 08P01 insufficient data left in message");
  EXPECT_EQ(binary_in(oid::kJson, "7b2261223a317d7d"), "ERR 22P02 invalid input syntax for type json");
}

TEST(Jsonb, DeepNestingIsBounded) {
  const std::string deep(100000, '[');
  auto v = parse_text(oid::kJsonb, deep, -1, {});
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().sqlstate, "54001");
  std::string ok(5000, '[');  // PG 15: length(repeat('[',5000)||repeat(']',5000))::jsonb::text) = 10000
  ok += std::string(5000, ']');
  EXPECT_TRUE(parse_text(oid::kJson, ok, -1, {}));
  auto j = parse_text(oid::kJsonb, ok, -1, {});
  ASSERT_TRUE(j);
  EXPECT_EQ(j->s.size(), 10000u);
}

}  // namespace
}  // namespace metagate::types
