// numeric: scale-preserving text I/O, typmod rounding/overflow, base-10000 binary format.
#include "test_support.hpp"

namespace metagate::types {
namespace {
using testing::Row;
using testing::binary_in;
using testing::check_rows;
using testing::text_io;

int32_t numeric_typmod(int64_t p, int64_t s) {
  const int64_t args[] = {p, s};
  return *typmod_from_args(oid::kNumeric, args);
}

// PostgreSQL 15.18: PQexecParams("SELECT $1") with a text numeric parameter; text and
// binary (numeric_send) results.
TEST(Numeric, MatchesPostgres) {
  static constexpr Row kRows[] = {
    {"12.50", "12.50", "0002000000000002000c1388"},
    {"  12.50 ", "12.50", "0002000000000002000c1388"},
    {"1e3", "1000", "000100000000000003e8"},
    {"1.5e-3", "0.0015", "0001ffff00000004000f"},
    {"-0.00", "0.00", "0000000000000002"},
    {"+.5", "0.5", "0001ffff000000011388"},
    {"5.", "5", "00010000000000000005"},
    {"NaN", "NaN", "00000000c0000000"},
    {" nan ", "NaN", "00000000c0000000"},
    {"Infinity", "Infinity", "00000000d0000020"},
    {"-inf", "-Infinity", "00000000f0000020"},
    {"+inf", "Infinity", "00000000d0000020"},
    {"1_000", "ERR 22P02 invalid input syntax for type numeric: \"1_000\"", nullptr},
    {"0x10", "ERR 22P02 invalid input syntax for type numeric: \"0x10\"", nullptr},
    {"abc", "ERR 22P02 invalid input syntax for type numeric: \"abc\"", nullptr},
    {"", "ERR 22P02 invalid input syntax for type numeric: \"\"", nullptr},
    {"1e", "ERR 22P02 invalid input syntax for type numeric: \"1e\"", nullptr},
    {".", "ERR 22P02 invalid input syntax for type numeric: \".\"", nullptr},
    {"0000012.3400", "12.3400", "0002000000000004000c0d48"},
    {"100e-2", "1.00", "00010000000000020001"},
    {"1.0E+2", "100", "00010000000000000064"},
    {"0.000001e6", "1", "00010000000000000001"},
    {"-1234567.891", "-1234567.891", "0003000140000003007b11d722ce"},
    {"0.0001", "0.0001", "0001ffff000000040001"},
    {"0.00001200", "0.00001200", "0001fffe0000000804b0"},
    {"1e-20", "0.00000000000000000001", "0001fffb000000140001"},
    {"100000000", "100000000", "00010002000000000001"},
    {"1e131072", "ERR 22003 value overflows numeric format", nullptr},
    {"1e-16384", "ERR 22003 value overflows numeric format", nullptr},
    {"-", "ERR 22P02 invalid input syntax for type numeric: \"-\"", nullptr},
    {"1 2", "ERR 22P02 invalid input syntax for type numeric: \"1 2\"", nullptr},
    {"99999999999999999999999999999.99999999999999", "99999999999999999999999999999.99999999999999", "000c00070000000e0009270f270f270f270f270f270f270f270f270f270f26ac"},
    {"-0", "0", "0000000000000000"},
    {"12345678.87654321", "12345678.87654321", "000400010000000804d2162e223d10e1"},
  };
  check_rows(oid::kNumeric, kRows);
}

// SELECT '<x>'::numeric(p,s) in PG 15 (psql \set VERBOSITY verbose for SQLSTATE and DETAIL).
TEST(Numeric, Typmod) {
  EXPECT_EQ(text_io(oid::kNumeric, "12.345", numeric_typmod(5, 2)), "12.35");
  EXPECT_EQ(text_io(oid::kNumeric, "-12.345", numeric_typmod(10, 2)), "-12.35");
  EXPECT_EQ(text_io(oid::kNumeric, "0.005", numeric_typmod(3, 2)), "0.01");
  EXPECT_EQ(text_io(oid::kNumeric, "-0.004", numeric_typmod(10, 2)), "0.00");
  EXPECT_EQ(text_io(oid::kNumeric, "1e-5", numeric_typmod(10, 2)), "0.00");
  EXPECT_EQ(text_io(oid::kNumeric, "123", numeric_typmod(3, -1)), "120");
  EXPECT_EQ(text_io(oid::kNumeric, "99", numeric_typmod(2, -2)), "100");
  EXPECT_EQ(text_io(oid::kNumeric, "0.5", numeric_typmod(1, 1)), "0.5");
  EXPECT_EQ(text_io(oid::kNumeric, "NaN", numeric_typmod(3, 1)), "NaN");
  EXPECT_EQ(text_io(oid::kNumeric, "1e-16383", numeric_typmod(5, 2)), "0.00");
  struct Overflow {
    const char* in;
    int p, s;
    const char* detail;
  };
  static constexpr Overflow kOverflows[] = {
      {"12.345", 4, 3, "A field with precision 4, scale 3 must round to an absolute value less than 10^1."},
      {"999.995", 5, 2, "A field with precision 5, scale 2 must round to an absolute value less than 10^3."},
      {"10", 1, 0, "A field with precision 1, scale 0 must round to an absolute value less than 10^1."},
      {"1", 1, 1, "A field with precision 1, scale 1 must round to an absolute value less than 1."},
      {"0.001", 2, 5, "A field with precision 2, scale 5 must round to an absolute value less than 10^-3."},
      {"99", 1, -1, "A field with precision 1, scale -1 must round to an absolute value less than 10^2."},
      {"Infinity", 10, 2, "A field with precision 10, scale 2 cannot hold an infinite value."},
  };
  for (const auto& o : kOverflows) {
    auto v = parse_text(oid::kNumeric, o.in, numeric_typmod(o.p, o.s), {});
    ASSERT_FALSE(v) << o.in;
    EXPECT_EQ(v.error().sqlstate, "22003");
    EXPECT_EQ(v.error().message, "numeric field overflow");
    EXPECT_EQ(v.error().detail, o.detail);
  }
}

// Limits: SELECT length('1e131071'::numeric::text) → 131072; '1e131072' and '1e-16384'
// → 22003 value overflows numeric format.
TEST(Numeric, FormatLimits) {
  EXPECT_EQ(text_io(oid::kNumeric, "1e131071").size(), 131072u);
  EXPECT_EQ(text_io(oid::kNumeric, "1e-16383").size(), 16385u);
  EXPECT_EQ(text_io(oid::kNumeric, "1e1000000000"), "ERR 22003 value overflows numeric format");
  EXPECT_EQ(text_io(oid::kNumeric, "0.1e-16383"), "ERR 22003 value overflows numeric format");
}

// numeric_send of special values (SELECT numeric_send('Infinity') → \x00000000d0000020:
// PG sends the header's scale bits, 32) and numeric_recv rules, checked by sending binary
// parameters with libpq (PQexecParams("SELECT $1::text", binary numeric parameter)).
TEST(Numeric, Binary) {
  EXPECT_EQ(testing::binary_out(oid::kNumeric, "-Infinity"), "00000000f0000020");
  EXPECT_EQ(testing::binary_out(oid::kNumeric, "0.00"), "0000000000000002");
  EXPECT_EQ(testing::binary_out(oid::kNumeric, "1e-20"), "0001fffb000000140001");
  EXPECT_EQ(binary_in(oid::kNumeric, "0002000000000001000c1388"), "12.5");       // dscale 1 truncates
  EXPECT_EQ(binary_in(oid::kNumeric, "0002000000000000000c1388"), "12");
  EXPECT_EQ(binary_in(oid::kNumeric, "0001000000000000270f"), "9999");
  EXPECT_EQ(binary_in(oid::kNumeric, "00010000000000002710"), "ERR 22P03 invalid digit in external \"numeric\" value");
  EXPECT_EQ(binary_in(oid::kNumeric, "0000000000004000"), "ERR 22P03 invalid scale in external \"numeric\" value");
  EXPECT_EQ(binary_in(oid::kNumeric, "0000000040000000"), "0");  // negative zero
  EXPECT_EQ(binary_in(oid::kNumeric, "00000000e0000000"), "ERR 22P03 invalid sign in external \"numeric\" value");
  EXPECT_EQ(binary_in(oid::kNumeric, "000000004000ffff"), "ERR 22P03 invalid scale in external \"numeric\" value");
  EXPECT_EQ(binary_in(oid::kNumeric, "0002fffe000000040001000a"), "0.0000");
  EXPECT_EQ(binary_in(oid::kNumeric, "0002fffe000000080001000a"), "0.00000001");
  EXPECT_EQ(binary_in(oid::kNumeric, "00018000000000000001"), "0");
  EXPECT_EQ(binary_in(oid::kNumeric, "0001"), "ERR 08P01 insufficient data left in message");
  EXPECT_EQ(binary_in(oid::kNumeric, "0002000000000002000c1388", numeric_typmod(3, 1)), "12.5");
}

// Values SQLite arithmetic hands back for numeric expressions: Int as is, Real like PG's
// float8 → numeric cast (SELECT (1/3::float8)::numeric → 0.333333333333333).
TEST(Numeric, StorageConversions) {
  std::string s;
  ASSERT_TRUE(encode_text(oid::kNumeric, ValueRef::integer(-42), s, {}));
  EXPECT_EQ(s, "-42");
  s.clear();
  ASSERT_TRUE(encode_text(oid::kNumeric, ValueRef::real(1.0 / 3), s, {}));
  EXPECT_EQ(s, "0.333333333333333");
  s.clear();
  ASSERT_TRUE(encode_text(oid::kNumeric, ValueRef::real(1e20), s, {}));
  EXPECT_EQ(s, "100000000000000000000");
  s.clear();
  EXPECT_FALSE(encode_text(oid::kNumeric, ValueRef::text("12x"), s, {}));
}

}  // namespace
}  // namespace metagate::types
