// Back-off with full jitter: bounded by the cap, growing, jittered, deterministic when seeded.
#include <gtest/gtest.h>

#include <random>
#include <set>

#include "metagate/s3/retry.hpp"

using namespace metagate::s3;
using std::chrono::milliseconds;

TEST(S3Retry, CeilingDoublesUpToTheCap) {
  RetryPolicy p{.max_attempts = 5, .base = milliseconds(100), .cap = milliseconds(1000)};
  EXPECT_EQ(backoff_ceiling(p, 0), milliseconds(100));
  EXPECT_EQ(backoff_ceiling(p, 1), milliseconds(200));
  EXPECT_EQ(backoff_ceiling(p, 2), milliseconds(400));
  EXPECT_EQ(backoff_ceiling(p, 3), milliseconds(800));
  EXPECT_EQ(backoff_ceiling(p, 4), milliseconds(1000));
  EXPECT_EQ(backoff_ceiling(p, 63), milliseconds(1000));
  EXPECT_EQ(backoff_ceiling(p, 4000000000u), milliseconds(1000));  // no overflow
  RetryPolicy huge{.max_attempts = 5, .base = milliseconds(INT64_MAX / 3), .cap = milliseconds(INT64_MAX)};
  EXPECT_EQ(backoff_ceiling(huge, 10), milliseconds(INT64_MAX));
}

TEST(S3Retry, DelaysAreBoundedJitteredAndGrow) {
  RetryPolicy p{.max_attempts = 10, .base = milliseconds(50), .cap = milliseconds(5000)};
  std::mt19937_64 rng(42);
  double previous_mean = 0;
  for (unsigned attempt = 0; attempt < 8; ++attempt) {
    std::set<int64_t> distinct;
    double sum = 0;
    for (int i = 0; i < 2000; ++i) {
      auto d = backoff_delay(p, attempt, rng());
      ASSERT_GE(d.count(), 0);
      ASSERT_LE(d, backoff_ceiling(p, attempt));
      distinct.insert(d.count());
      sum += static_cast<double>(d.count());
    }
    const double mean = sum / 2000;
    EXPECT_GT(distinct.size(), 20u) << "attempt " << attempt;  // jittered, not one fixed value
    // The mean of a uniform draw on [0, c] is c/2: it grows with the ceiling until the cap.
    EXPECT_NEAR(mean, static_cast<double>(backoff_ceiling(p, attempt).count()) / 2,
                static_cast<double>(backoff_ceiling(p, attempt).count()) * 0.1);
    if (attempt > 0 && attempt < 7) {
      EXPECT_GT(mean, previous_mean);
    }
    previous_mean = mean;
  }
  EXPECT_EQ(backoff_delay(p, 0, 0), milliseconds(0));
  EXPECT_EQ(backoff_delay(p, 0, 50), milliseconds(50));
  EXPECT_EQ(backoff_delay(p, 0, 51), milliseconds(0));
}

TEST(S3Retry, DeterministicWithASeededSource) {
  RetryPolicy p;
  auto run = [&](uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::vector<int64_t> v;
    for (unsigned a = 0; a < 6; ++a) v.push_back(backoff_delay(p, a, rng()).count());
    return v;
  };
  EXPECT_EQ(run(7), run(7));
  EXPECT_NE(run(7), run(8));
}

namespace {

Error retryable_error() { return Error::make(Error::Kind::kThrottled, "slow down", "SlowDown", 503); }

}  // namespace

TEST(S3Retry, WithRetriesRetriesRetryableErrorsUpToTheLimit) {
  RetryPolicy p{.max_attempts = 4, .base = milliseconds(100), .cap = milliseconds(1000)};
  std::vector<milliseconds> slept;
  std::vector<int> attempts_seen;
  std::mt19937_64 rng(1);
  RetryHooks hooks{.sleep = [&](milliseconds d) { slept.push_back(d); },
                   .random = [&] { return rng(); },
                   .on_retry = [&](const Error& e, int attempt, milliseconds) { attempts_seen.push_back(attempt); }};
  int calls = 0;
  auto always_fail = [&]() -> metagate::Expected<int, Error> {
    ++calls;
    return metagate::unexpected(retryable_error());
  };
  auto r = with_retries(p, always_fail, hooks);
  EXPECT_FALSE(r.has_value());
  EXPECT_EQ(calls, 4);
  ASSERT_EQ(slept.size(), 3u);
  for (unsigned i = 0; i < slept.size(); ++i) EXPECT_LE(slept[i], backoff_ceiling(p, i));
  EXPECT_EQ(attempts_seen, (std::vector<int>{1, 2, 3}));
}

TEST(S3Retry, StopsOnSuccessAndOnPermanentErrors) {
  RetryPolicy p{.max_attempts = 5, .base = milliseconds(1), .cap = milliseconds(2)};
  int sleeps = 0;
  RetryHooks hooks{.sleep = [&](milliseconds) { ++sleeps; }, .random = [] { return uint64_t{0}; }, .on_retry = {}};
  int calls = 0;
  auto second_time_lucky = [&]() -> metagate::Expected<int, Error> {
    if (++calls < 2) return metagate::unexpected(Error::make(Error::Kind::kNetwork, "reset"));
    return 7;
  };
  auto r = with_retries(p, second_time_lucky, hooks);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r, 7);
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(sleeps, 1);

  calls = 0;
  auto denied = [&]() -> metagate::Expected<int, Error> {
    ++calls;
    return metagate::unexpected(Error::make(Error::Kind::kAuth, "denied", "AccessDenied", 403));
  };
  EXPECT_FALSE(with_retries(p, denied, hooks).has_value());
  EXPECT_EQ(calls, 1);

  calls = 0;
  RetryPolicy once{.max_attempts = 1, .base = milliseconds(1), .cap = milliseconds(1)};
  auto fail = [&]() -> metagate::Expected<int, Error> {
    ++calls;
    return metagate::unexpected(retryable_error());
  };
  EXPECT_FALSE(with_retries(once, fail, hooks).has_value());
  EXPECT_EQ(calls, 1);
}
