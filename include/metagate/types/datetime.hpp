// Date/time building blocks shared with the SQL layer: PG's internal representations
// (µs / days since 2000-01-01), calendar arithmetic, session time zones, storage text.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

namespace metagate::types::datetime {

inline constexpr int64_t kUsecsPerSec = 1'000'000;
inline constexpr int64_t kUsecsPerMinute = 60 * kUsecsPerSec;
inline constexpr int64_t kUsecsPerHour = 60 * kUsecsPerMinute;
inline constexpr int64_t kUsecsPerDay = 24 * kUsecsPerHour;
// Days from 1970-01-01 to 2000-01-01 (PG's epoch).
inline constexpr int32_t kUnixEpochToPgEpochDays = 10957;
// PG's ±infinity encodings.
inline constexpr int64_t kTimestampInfinity = std::numeric_limits<int64_t>::max();
inline constexpr int64_t kTimestampMinusInfinity = std::numeric_limits<int64_t>::min();
inline constexpr int32_t kDateInfinity = std::numeric_limits<int32_t>::max();
inline constexpr int32_t kDateMinusInfinity = std::numeric_limits<int32_t>::min();
// The range metagate stores: 0001-01-01 00:00:00 .. 9999-12-31 23:59:59.999999.
inline constexpr int32_t kMinDate = -730119;  // 0001-01-01
inline constexpr int32_t kMaxDate = 2921939;  // 9999-12-31
inline constexpr int64_t kMinTimestamp = int64_t{kMinDate} * kUsecsPerDay;
inline constexpr int64_t kMaxTimestamp = (int64_t{kMaxDate} + 1) * kUsecsPerDay - 1;

struct Interval {
  int64_t time_us = 0;
  int32_t days = 0;
  int32_t months = 0;
  bool operator==(const Interval&) const = default;
};

// Proleptic Gregorian calendar; days relative to 2000-01-01.
int32_t days_from_civil(int64_t year, int month, int day);
void civil_from_days(int32_t days, int& year, int& month, int& day);
bool is_leap_year(int64_t year);
int days_in_month(int64_t year, int month);

// UTC offset in seconds east of Greenwich of a TimeZone setting, nullopt when metagate
// can't evaluate the zone (named zones with DST rules). See SessionContext::timezone.
std::optional<int32_t> session_timezone_offset(std::string_view tz);

// Storage text <-> internal value. *_from_storage accept the canonical storage form
// (and 'infinity'/'-infinity' where PG has them); nullopt when the text isn't one.
std::optional<int64_t> timestamp_from_storage(std::string_view s);
std::string timestamp_to_storage(int64_t us);  // us within [kMinTimestamp, kMaxTimestamp] or ±infinity
std::optional<int32_t> date_from_storage(std::string_view s);
std::string date_to_storage(int32_t days);
std::optional<int64_t> time_from_storage(std::string_view s);
std::string time_to_storage(int64_t us);  // 0 ..= 24:00:00
std::optional<Interval> interval_from_storage(std::string_view s);
std::string interval_to_storage(const Interval& iv);  // PG 'postgres' IntervalStyle

// timestamptz text in the session zone: '2024-05-30 11:34:30+02' (offset east, seconds).
std::string format_timestamptz(int64_t utc_us, int32_t offset_secs);

}  // namespace metagate::types::datetime
