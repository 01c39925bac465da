// float4/float8: PG 15's shortest-round-trip output, %g output for extra_float_digits <= 0,
// input rules (strtod), binary IEEE bytes, NaN/-0 storage.
#include <cmath>

#include "test_support.hpp"

namespace metagate::types {
namespace {
using testing::Row;
using testing::binary_in;
using testing::check_rows;
using testing::text_io;

// Tables: PostgreSQL 15.18, PQexecParams("SELECT $1") with a text parameter of the type,
// extra_float_digits = 1 (the default); text result and binary (float8send/float4send) result.
TEST(Float8, MatchesPostgres) {
  static constexpr Row kRows[] = {
    {"1e20", "1e+20", "4415af1d78b58c40"},
    {"1e21", "1e+21", "444b1ae4d6e2ef50"},
    {"1e-5", "1e-05", "3ee4f8b588e368f1"},
    {"0.0001", "0.0001", "3f1a36e2eb1c432d"},
    {"123456789012345678901", "1.2345678901234568e+20", "441ac53a7e04bcda"},
    {"1e15", "1e+15", "430c6bf526340000"},
    {"1e16", "1e+16", "4341c37937e08000"},
    {"0.1", "0.1", "3fb999999999999a"},
    {"-0", "-0", "8000000000000000"},
    {"nan", "NaN", "7ff8000000000000"},
    {"-inf", "-Infinity", "fff0000000000000"},
    {"infinity", "Infinity", "7ff0000000000000"},
    {"1.5e300", "1.5e+300", "7e41eb2d66005835"},
    {"5e-324", "5e-324", "0000000000000001"},
    {"1.7976931348623157e308", "1.7976931348623157e+308", "7fefffffffffffff"},
    {"100", "100", "4059000000000000"},
    {"123.456", "123.456", "405edd2f1a9fbe77"},
    {"1.2345e-5", "1.2345e-05", "3ee9e3abe16fc70d"},
    {"123456789012345", "123456789012345", "42dc12218377de40"},
    {"1234567890123456", "1.234567890123456e+15", "43118b54f22aeb00"},
    {"0.00012345", "0.00012345", "3f202e4b6ce5dc68"},
    {"0.000012345", "1.2345e-05", "3ee9e3abe16fc70d"},
    {"9007199254740993", "9.007199254740992e+15", "4340000000000000"},
    {"1e22", "1e+22", "4480f0cf064dd592"},
    {"1e23", "9.999999999999999e+22", "44b52d02c7e14af6"},
    {"123e10", "1230000000000", "4271e61b68c00000"},
    {" 1.5 ", "1.5", "3ff8000000000000"},
    {"1.", "1", "3ff0000000000000"},
    {".5", "0.5", "3fe0000000000000"},
    {"+.5e+1", "5", "4014000000000000"},
    {"Inf", "Infinity", "7ff0000000000000"},
    {"-INFINITY", "-Infinity", "fff0000000000000"},
    {"1e309", "ERR 22003 \"1e309\" is out of range for type double precision", nullptr},
    {"1e-400", "ERR 22003 \"1e-400\" is out of range for type double precision", nullptr},
    {"abc", "ERR 22P02 invalid input syntax for type double precision: \"abc\"", nullptr},
    {"", "ERR 22P02 invalid input syntax for type double precision: \"\"", nullptr},
    {"1.5x", "ERR 22P02 invalid input syntax for type double precision: \"1.5x\"", nullptr},
    {"0x10", "16", "4030000000000000"},
    {"- 1", "ERR 22P02 invalid input syntax for type double precision: \"- 1\"", nullptr},
    {"4.9e-324", "5e-324", "0000000000000001"},
    {"2e-324", "ERR 22003 \"2e-324\" is out of range for type double precision", nullptr},
    {"0.3", "0.3", "3fd3333333333333"},
    {"3.141592653589793", "3.141592653589793", "400921fb54442d18"},
  };
  check_rows(oid::kFloat8, kRows);
}

TEST(Float4, MatchesPostgres) {
  static constexpr Row kRows[] = {
    {"1e20", "1e+20", "60ad78ec"},
    {"1e-5", "1e-05", "3727c5ac"},
    {"0.1", "0.1", "3dcccccd"},
    {"3.4028235e38", "3.4028235e+38", "7f7fffff"},
    {"1.17549435e-38", "1.1754944e-38", "00800000"},
    {"1e-45", "1e-45", "00000001"},
    {"16777216", "1.6777216e+07", "4b800000"},
    {"123456789", "1.2345679e+08", "4ceb79a3"},
    {"-0", "-0", "80000000"},
    {"NaN", "NaN", "7fc00000"},
    {"1e6", "1e+06", "49742400"},
    {"123456", "123456", "47f12000"},
    {"999999", "999999", "497423f0"},
    {"1234567", "1.234567e+06", "4996b438"},
    {"0.00012345", "0.00012345", "3901725b"},
    {"12345.5", "12345.5", "4640e600"},
    {"1e39", "ERR 22003 \"1e39\" is out of range for type real", nullptr},
    {"1e-50", "ERR 22003 \"1e-50\" is out of range for type real", nullptr},
    {"7e-46", "ERR 22003 \"7e-46\" is out of range for type real", nullptr},
    {"3.4028236e38", "ERR 22003 \"3.4028236e38\" is out of range for type real", nullptr},
    {"3.40282356e38", "3.4028235e+38", "7f7fffff"},
    {"0.3", "0.3", "3e99999a"},
    {"abc", "ERR 22P02 invalid input syntax for type real: \"abc\"", nullptr},
  };
  check_rows(oid::kFloat4, kRows);
}

// SET extra_float_digits = 0 / -15 / 2; SELECT 1/3::float8, 0.1::float4, '1e-5'::float8,
// '123456789'::float4, 1e100::float8, '-0'::float8, 123.456::float8.
TEST(Float, ExtraFloatDigits) {
  SessionContext ctx;
  ctx.extra_float_digits = 0;
  auto out = [&](Oid t, double v) {
    std::string s;
    EXPECT_TRUE(encode_text(t, ValueRef::real(v), s, ctx));
    return s;
  };
  EXPECT_EQ(out(oid::kFloat8, 1.0 / 3), "0.333333333333333");
  EXPECT_EQ(out(oid::kFloat4, 0.1f), "0.1");
  EXPECT_EQ(out(oid::kFloat8, 1e-5), "1e-05");
  EXPECT_EQ(out(oid::kFloat4, 123456789.0f), "1.23457e+08");
  EXPECT_EQ(out(oid::kFloat8, 1e100), "1e+100");
  EXPECT_EQ(out(oid::kFloat8, -0.0), "-0");
  ctx.extra_float_digits = -15;
  EXPECT_EQ(out(oid::kFloat8, 1.0 / 3), "0.3");
  EXPECT_EQ(out(oid::kFloat8, 123.456), "1e+02");
  EXPECT_EQ(out(oid::kFloat4, 0.1f), "0.1");
  ctx.extra_float_digits = 2;
  EXPECT_EQ(out(oid::kFloat8, 1.0 / 3), "0.3333333333333333");
  EXPECT_EQ(out(oid::kFloat4, 0.1f), "0.1");
}

// SQLite turns a NaN REAL into NULL, so NaN is stored as the text 'NaN'; -0 stays a REAL.
TEST(Float, StorageForm) {
  auto nan = parse_text(oid::kFloat8, "NaN", -1, {});
  ASSERT_TRUE(nan);
  EXPECT_EQ(nan->kind, Value::Kind::Text);
  EXPECT_EQ(nan->s, "NaN");
  auto nz = parse_text(oid::kFloat8, "-0", -1, {});
  ASSERT_TRUE(nz);
  EXPECT_EQ(nz->kind, Value::Kind::Real);
  EXPECT_TRUE(std::signbit(nz->r));
  auto f4 = parse_text(oid::kFloat4, "0.1", -1, {});
  ASSERT_TRUE(f4);
  EXPECT_EQ(f4->r, static_cast<double>(0.1f));
  // An Int from SQLite arithmetic prints like the float it stands for.
  std::string s;
  ASSERT_TRUE(encode_text(oid::kFloat8, ValueRef::integer(100000000000000000), s, {}));
  EXPECT_EQ(s, "1e+17");
}

TEST(Float, BinaryInput) {
  EXPECT_EQ(binary_in(oid::kFloat8, "3fb999999999999a"), "0.1");
  EXPECT_EQ(binary_in(oid::kFloat8, "7ff0000000000000"), "Infinity");
  EXPECT_EQ(binary_in(oid::kFloat8, "fff8000000000000"), "NaN");
  EXPECT_EQ(binary_in(oid::kFloat4, "3dcccccd"), "0.1");
  EXPECT_EQ(binary_in(oid::kFloat4, "80000000"), "-0");
  EXPECT_EQ(binary_in(oid::kFloat4, "3dcccc"), "ERR 08P01 insufficient data left in message");
}

}  // namespace
}  // namespace metagate::types
