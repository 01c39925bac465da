// bool, int2/int4/int8, oid: text input/output, binary send/receive, errors.
#include "test_support.hpp"

namespace metagate::types {
namespace {
using testing::Row;
using testing::binary_in;
using testing::check_rows;
using testing::text_io;

// All tables below: PostgreSQL 15.18, PQexecParams("SELECT $1") with the parameter typed as
// the column's type and sent in text format; result fetched in text format (typinput →
// typoutput) and in binary format (typsend, shown as hex).

TEST(Bool, MatchesPostgres) {
  static constexpr Row kRows[] = {
    {"t", "t", "01"},
    {"f", "f", "00"},
    {"true", "t", "01"},
    {"FALSE", "f", "00"},
    {"  tR ", "t", "01"},
    {"y", "t", "01"},
    {"yes", "t", "01"},
    {"n", "f", "00"},
    {"no", "f", "00"},
    {"on", "t", "01"},
    {"off", "f", "00"},
    {"of", "f", "00"},
    {"o", "ERR 22P02 invalid input syntax for type boolean: \"o\"", nullptr},
    {"1", "t", "01"},
    {"0", "f", "00"},
    {"10", "ERR 22P02 invalid input syntax for type boolean: \"10\"", nullptr},
    {"x", "ERR 22P02 invalid input syntax for type boolean: \"x\"", nullptr},
    {"", "ERR 22P02 invalid input syntax for type boolean: \"\"", nullptr},
    {"NO", "f", "00"},
    {"truex", "ERR 22P02 invalid input syntax for type boolean: \"truex\"", nullptr},
  };
  check_rows(oid::kBool, kRows);
}

TEST(Int4, MatchesPostgres) {
  static constexpr Row kRows[] = {
    {"12", "12", "0000000c"},
    {"  12  ", "12", "0000000c"},
    {"+12", "12", "0000000c"},
    {"-0", "0", "00000000"},
    {" - 1", "ERR 22P02 invalid input syntax for type integer: \" - 1\"", nullptr},
    {"1_000", "ERR 22P02 invalid input syntax for type integer: \"1_000\"", nullptr},
    {"0x10", "ERR 22P02 invalid input syntax for type integer: \"0x10\"", nullptr},
    {"12.0", "ERR 22P02 invalid input syntax for type integer: \"12.0\"", nullptr},
    {"", "ERR 22P02 invalid input syntax for type integer: \"\"", nullptr},
    {"2147483648", "ERR 22003 value \"2147483648\" is out of range for type integer", nullptr},
    {"-2147483648", "-2147483648", "80000000"},
    {"2147483647", "2147483647", "7fffffff"},
    {"99999999999", "ERR 22003 value \"99999999999\" is out of range for type integer", nullptr},
    {"1e3", "ERR 22P02 invalid input syntax for type integer: \"1e3\"", nullptr},
    {"1 2", "ERR 22P02 invalid input syntax for type integer: \"1 2\"", nullptr},
    {"12\n", "12", "0000000c"},
    {"abc", "ERR 22P02 invalid input syntax for type integer: \"abc\"", nullptr},
    {"--1", "ERR 22P02 invalid input syntax for type integer: \"--1\"", nullptr},
    {"0012", "12", "0000000c"},
  };
  check_rows(oid::kInt4, kRows);
}

TEST(Int2, MatchesPostgres) {
  static constexpr Row kRows[] = {
    {"32767", "32767", "7fff"},
    {"-32768", "-32768", "8000"},
    {"32768", "ERR 22003 value \"32768\" is out of range for type smallint", nullptr},
    {"-32769", "ERR 22003 value \"-32769\" is out of range for type smallint", nullptr},
    {"abc", "ERR 22P02 invalid input syntax for type smallint: \"abc\"", nullptr},
    {" 7 ", "7", "0007"},
  };
  check_rows(oid::kInt2, kRows);
}

TEST(Int8, MatchesPostgres) {
  static constexpr Row kRows[] = {
    {"9223372036854775807", "9223372036854775807", "7fffffffffffffff"},
    {"-9223372036854775808", "-9223372036854775808", "8000000000000000"},
    {"9223372036854775808", "ERR 22003 value \"9223372036854775808\" is out of range for type bigint", nullptr},
    {"-9223372036854775809", "ERR 22003 value \"-9223372036854775809\" is out of range for type bigint", nullptr},
    {"abc", "ERR 22P02 invalid input syntax for type bigint: \"abc\"", nullptr},
    {"  -42 ", "-42", "ffffffffffffffd6"},
  };
  check_rows(oid::kInt8, kRows);
}

TEST(Oid, MatchesPostgres) {
  static constexpr Row kRows[] = {
    {"4294967295", "4294967295", "ffffffff"},
    {"-1", "4294967295", "ffffffff"},
    {"4294967296", "ERR 22003 value \"4294967296\" is out of range for type oid", nullptr},
    {"abc", "ERR 22P02 invalid input syntax for type oid: \"abc\"", nullptr},
    {" 12 ", "12", "0000000c"},
    {"-4294967295", "ERR 22003 value \"-4294967295\" is out of range for type oid", nullptr},
    {"-2147483648", "2147483648", "80000000"},
    {"-2147483649", "ERR 22003 value \"-2147483649\" is out of range for type oid", nullptr},
    {"", "ERR 22P02 invalid input syntax for type oid: \"\"", nullptr},
    {"12abc", "ERR 22P02 invalid input syntax for type oid: \"12abc\"", nullptr},
  };
  check_rows(oid::kOid, kRows);
}

// Binary parameters of the wrong size, as PG's int4recv/boolrecv report them
// (checked with libpq PQexecParams binary parameters against PG 15).
TEST(IntBinary, WrongLengths) {
  EXPECT_EQ(binary_in(oid::kInt4, "00002a"), "ERR 08P01 insufficient data left in message");
  EXPECT_EQ(binary_in(oid::kInt4, "000000002a"), "ERR 22P03 incorrect binary data format");
  EXPECT_EQ(binary_in(oid::kBool, ""), "ERR 08P01 no data left in message");
  EXPECT_EQ(binary_in(oid::kBool, "02"), "t");
  EXPECT_EQ(binary_in(oid::kInt2, "fffe"), "-2");
  EXPECT_EQ(binary_in(oid::kInt8, "8000000000000000"), "-9223372036854775808");
  EXPECT_EQ(binary_in(oid::kOid, "ffffffff"), "4294967295");
  auto v = decode_binary_param(oid::kInt4, std::string("\0\0\0\0\x2a", 5), -1, {}, 3);
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().message, "incorrect binary data format in bind parameter 3");
}

// What SQLite may hand back for an integer column: Real from arithmetic, Text.
TEST(IntStorage, ConvertsLikeCasts) {
  std::string out;
  ASSERT_TRUE(encode_text(oid::kInt4, ValueRef::real(2.5), out, {}));  // PG: SELECT 2.5::float8::int4 → 2
  EXPECT_EQ(out, "2");
  out.clear();
  ASSERT_TRUE(encode_text(oid::kInt4, ValueRef::real(3.5), out, {}));  // → 4
  EXPECT_EQ(out, "4");
  out.clear();
  ASSERT_TRUE(encode_text(oid::kBool, ValueRef::integer(7), out, {}));
  EXPECT_EQ(out, "t");
  out.clear();
  auto st = encode_binary(oid::kInt2, ValueRef::integer(70000), out, {});
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().sqlstate, "XX001");
  EXPECT_FALSE(encode_text(oid::kInt8, ValueRef::blob("x"), out, {}));
}

}  // namespace
}  // namespace metagate::types
