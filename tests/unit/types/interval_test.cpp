// interval: input forms (units, h:m:s, y-m, ago, ISO 8601), 'postgres' style output,
// typmod ranges/precision, binary format.
#include "test_support.hpp"

namespace metagate::types {
namespace {
using testing::Row;
using testing::binary_in;
using testing::check_rows;
using testing::text_io;
namespace dt = datetime;

int32_t interval_typmod(int32_t range, int32_t precision = kIntervalFullPrecision) {
  if (precision == kIntervalFullPrecision) {
    const int64_t args[] = {range};
    return *typmod_from_args(oid::kInterval, args);
  }
  const int64_t args[] = {range, precision};
  return *typmod_from_args(oid::kInterval, args);
}

// PostgreSQL 15.18, IntervalStyle postgres: PQexecParams("SELECT $1") with a text interval
// parameter; text result and binary (interval_send) result.
TEST(Interval, MatchesPostgres) {
  static constexpr Row kRows[] = {
    {"1 day", "1 day", "00000000000000000000000100000000"},
    {"02:00:00", "02:00:00", "00000001ad2748000000000000000000"},
    {"1 hour 30 minutes", "01:30:00", "0000000141dd76000000000000000000"},
    {"P1D", "1 day", "00000000000000000000000100000000"},
    {"1.5", "00:00:01.5", "000000000016e3600000000000000000"},
    {"1", "00:00:01", "00000000000f42400000000000000000"},
    {"-1 day +02:00", "-1 days +02:00:00", "00000001ad274800ffffffff00000000"},
    {"1 year 2 mons 3 days 04:05:06.7", "1 year 2 mons 3 days 04:05:06.7", "000000036c966ee0000000030000000e"},
    {"-1 year -2 mons +3 days -04:05:06.7", "-1 years -2 mons +3 days -04:05:06.7", "fffffffc9369912000000003fffffff2"},
    {"1 day -1 second", "1 day -00:00:01", "fffffffffff0bdc00000000100000000"},
    {"-00:00:01.5", "-00:00:01.5", "ffffffffffe91ca00000000000000000"},
    {"36 hours", "36:00:00", "0000001e2cc310000000000000000000"},
    {"1.5 days", "1 day 12:00:00", "0000000a0eebb0000000000100000000"},
    {"1.5 months", "1 mon 15 days", "00000000000000000000000f00000001"},
    {"1.5 years", "1 year 6 mons", "00000000000000000000000000000012"},
    {"0.125 years", "2 mons", "00000000000000000000000000000002"},
    {"100000000 hours", "100000000:00:00", "04fefa17b72400000000000000000000"},
    {"2562047788:00:54.775807", "2562047788:00:54.775807", "7fffffffffffffff0000000000000000"},
    {"1 week", "7 days", "00000000000000000000000700000000"},
    {"1.5 weeks", "10 days 12:00:00", "0000000a0eebb0000000000a00000000"},
    {"3 decades", "30 years", "00000000000000000000000000000168"},
    {"1 century 1 millennium", "1100 years", "00000000000000000000000000003390"},
    {"10 ms", "00:00:00.01", "00000000000027100000000000000000"},
    {"1.5 ms", "00:00:00.0015", "00000000000005dc0000000000000000"},
    {"10 usec", "00:00:00.00001", "000000000000000a0000000000000000"},
    {"2.5 us", "00:00:00.000002", "00000000000000020000000000000000"},
    {"0.0000015 seconds", "00:00:00.000001", "00000000000000010000000000000000"},
    {"@ 1 day ago", "-1 days", "0000000000000000ffffffff00000000"},
    {"1 day ago", "-1 days", "0000000000000000ffffffff00000000"},
    {"1 day ago ago", "-1 days", "0000000000000000ffffffff00000000"},
    {"1 ago", "ERR 22007 invalid input syntax for type interval: \"1 ago\"", nullptr},
    {"PT1H30M", "01:30:00", "0000000141dd76000000000000000000"},
    {"P1Y2M3DT4H5M6.5S", "1 year 2 mons 3 days 04:05:06.5", "000000036c9361a0000000030000000e"},
    {"P0001-02-03T04:05:06", "1 year 2 mons 3 days 04:05:06", "000000036c8bc080000000030000000e"},
    {"P0001-02", "1 year 2 mons", "0000000000000000000000000000000e"},
    {"PT", "00:00:00", "00000000000000000000000000000000"},
    {"P1DT", "1 day", "00000000000000000000000100000000"},
    {"P1W", "7 days", "00000000000000000000000700000000"},
    {"P-1D", "-1 days", "0000000000000000ffffffff00000000"},
    {"1 mon", "1 mon", "00000000000000000000000000000001"},
    {"1 min", "00:01:00", "00000000039387000000000000000000"},
    {"1 secs", "00:00:01", "00000000000f42400000000000000000"},
    {"x", "ERR 22007 invalid input syntax for type interval: \"x\"", nullptr},
    {"", "ERR 22007 invalid input syntax for type interval: \"\"", nullptr},
    {"1 foo", "ERR 22007 invalid input syntax for type interval: \"1 foo\"", nullptr},
    {"0", "00:00:00", "00000000000000000000000000000000"},
    {"00:00:00", "00:00:00", "00000000000000000000000000000000"},
    {"1:2", "01:02:00", "00000000ddbab2000000000000000000"},
    {"1:2:3.456789", "01:02:03.456789", "00000000ddef71150000000000000000"},
    {"1:2.5", "00:01:02.5", "0000000003b9aca00000000000000000"},
    {"-1:00", "-01:00:00", "ffffffff296c5c000000000000000000"},
    {"1 day 1:00", "1 day 01:00:00", "00000000d693a4000000000100000000"},
    {"1 2:03:04", "1 day 02:03:04", "00000001b81ee6000000000100000000"},
    {"5 4:03", "5 days 04:03:00", "00000003650925000000000500000000"},
    {"1-2", "1 year 2 mons", "0000000000000000000000000000000e"},
    {"-1-2", "-1 years -2 mons", "000000000000000000000000fffffff2"},
    {"178000000 years", "178000000 years", "0000000000000000000000007f50c600"},
    {"  1   day  ", "1 day", "00000000000000000000000100000000"},
    {"1d", "1 day", "00000000000000000000000100000000"},
    {"1h30m", "01:30:00", "0000000141dd76000000000000000000"},
    {"1 days 2 days", "ERR 22007 invalid input syntax for type interval: \"1 days 2 days\"", nullptr},
    {"1 second 1 second", "ERR 22007 invalid input syntax for type interval: \"1 second 1 second\"", nullptr},
    {"1 hour 01:00", "ERR 22007 invalid input syntax for type interval: \"1 hour 01:00\"", nullptr},
    {".5 days", "12:00:00", "0000000a0eebb0000000000000000000"},
    {"-.5 days", "ERR 22007 invalid input syntax for type interval: \"-.5 days\"", nullptr},
    {"1:60", "ERR 22015 interval field value out of range: \"1:60\"", nullptr},
    {"99:99", "ERR 22015 interval field value out of range: \"99:99\"", nullptr},
    {"9223372036854775807 usec", "2562047788:00:54.775807", "7fffffffffffffff0000000000000000"},
    {"9223372036854775808 usec", "ERR 22015 interval field value out of range: \"9223372036854775808 usec\"", nullptr},
    {"2147483647 days", "2147483647 days", "00000000000000007fffffff00000000"},
    {"2147483648 days", "ERR 22015 interval field value out of range: \"2147483648 days\"", nullptr},
    {"1 day 02:03", "1 day 02:03:00", "00000001b7e1dd000000000100000000"},
    {"1 day -02:03", "1 day -02:03:00", "fffffffe481e23000000000100000000"},
    {"1 day +02:03", "1 day 02:03:00", "00000001b7e1dd000000000100000000"},
    {"-1 days +02:00:00", "-1 days +02:00:00", "00000001ad274800ffffffff00000000"},
    {"00:00:00.000001", "00:00:00.000001", "00000000000000010000000000000000"},
    {"1 qtr", "ERR 22007 invalid input syntax for type interval: \"1 qtr\"", nullptr},
    {"1 milliseconds", "00:00:00.001", "00000000000003e80000000000000000"},
    {"1 microseconds", "00:00:00.000001", "00000000000000010000000000000000"},
    {"2 hrs", "02:00:00", "00000001ad2748000000000000000000"},
    {"1 yr", "1 year", "0000000000000000000000000000000c"},
    {"1 c", "100 years", "000000000000000000000000000004b0"},
    {"1 mil", "1000 years", "00000000000000000000000000002ee0"},
  };
  check_rows(oid::kInterval, kRows);
}

// Literals with a typmod: SELECT '<x>'::interval hour, ... in PG 15 (the typmod reaches
// interval_in, so it also decides what a bare number means).
TEST(Interval, Typmods) {
  namespace R = interval_range;
  EXPECT_EQ(text_io(oid::kInterval, "1 day 02:03:04", interval_typmod(R::kHour)), "1 day 02:00:00");
  EXPECT_EQ(text_io(oid::kInterval, "1", interval_typmod(R::kHour)), "01:00:00");
  EXPECT_EQ(text_io(oid::kInterval, "5", interval_typmod(R::kDay)), "5 days");
  EXPECT_EQ(text_io(oid::kInterval, "14", interval_typmod(R::kMonth)), "1 year 2 mons");
  EXPECT_EQ(text_io(oid::kInterval, "1.5", interval_typmod(R::kYear)), "1 year");
  EXPECT_EQ(text_io(oid::kInterval, "1:30", interval_typmod(R::kMinute | R::kSecond)), "00:01:30");
  EXPECT_EQ(text_io(oid::kInterval, "1 year 2 months 3 days", interval_typmod(R::kYear | R::kMonth)),
            "1 year 2 mons");
  EXPECT_EQ(text_io(oid::kInterval, "1 day 02:03:04.5678", interval_typmod(R::kMinute | R::kSecond, 2)),
            "1 day 02:03:04.57");
  EXPECT_EQ(text_io(oid::kInterval, "1 day 02:03:04.5678", interval_typmod(R::kFull, 2)), "1 day 02:03:04.57");
  EXPECT_EQ(text_io(oid::kInterval, "-00:00:01.5", interval_typmod(R::kFull, 0)), "-00:00:02");
  // Assignment path: interval_in(-1) then the length coercion ($1::text::interval hour).
  auto c = coerce_to_typmod(oid::kInterval, Value::text("3 days 04:05:00"), interval_typmod(R::kHour), false);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->s, "3 days 04:00:00");
}

// interval_send('1 year 2 mons -3 days 04:05:06.7') = \x000000036c966ee0fffffffd0000000e
TEST(Interval, Binary) {
  EXPECT_EQ(binary_in(oid::kInterval, "000000036c966ee0fffffffd0000000e"), "1 year 2 mons -3 days +04:05:06.7");
  EXPECT_EQ(binary_in(oid::kInterval, "000000036c966ee0fffffffd"), "ERR 08P01 insufficient data left in message");
  EXPECT_EQ(binary_in(oid::kInterval, "80000000000000000000000000000000"), "-2562047788:00:54.775808");
  EXPECT_EQ(testing::binary_out(oid::kInterval, "1 year 2 mons -3 days 04:05:06.7"),
            "000000036c966ee0fffffffd0000000e");
}

TEST(Interval, StorageRoundTrip) {
  const dt::Interval cases[] = {{0, 0, 0},
                                {1, 0, 0},
                                {-1, -1, -1},
                                {INT64_MIN, INT32_MIN, INT32_MIN},
                                {INT64_MAX, INT32_MAX, INT32_MAX},
                                {-90061000001, 3, -14}};
  for (const auto& iv : cases) {
    const std::string s = dt::interval_to_storage(iv);
    auto back = dt::interval_from_storage(s);
    ASSERT_TRUE(back) << s;
    EXPECT_EQ(*back, iv) << s;
  }
}

}  // namespace
}  // namespace metagate::types
