// Retries with exponential back-off and "full jitter": the n-th wait (n = 0, 1, …) is drawn
// uniformly from [0, min(cap, base * 2^n)]. Jitter spreads the retries of many uploaders
// hitting one throttled endpoint; the cap keeps a long outage from growing the waits without
// bound. The randomness and the sleep are injected, so tests are deterministic and instant.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <utility>

#include "metagate/s3/error.hpp"

namespace metagate::s3 {

struct RetryPolicy {
  int max_attempts = 4;  // attempts in all, the first included; 1 = no retry
  std::chrono::milliseconds base{200};
  std::chrono::milliseconds cap{20000};
};

// min(cap, base * 2^attempt), without overflow for any attempt.
std::chrono::milliseconds backoff_ceiling(const RetryPolicy& policy, unsigned attempt);

// The wait before retry number attempt+1: `random` (any 64-bit value, e.g. from a seeded
// std::mt19937_64) mapped onto [0, backoff_ceiling(policy, attempt)].
std::chrono::milliseconds backoff_delay(const RetryPolicy& policy, unsigned attempt, uint64_t random);

struct RetryHooks {
  std::function<void(std::chrono::milliseconds)> sleep;  // null: std::this_thread::sleep_for
  std::function<uint64_t()> random;                      // null: a per-thread random engine
  // Called before each wait: the error that will be retried, the attempt that failed
  // (1-based) and the wait. For logs and metrics.
  std::function<void(const Error&, int attempt, std::chrono::milliseconds delay)> on_retry;
};

namespace detail {
void retry_sleep(const RetryHooks& hooks, std::chrono::milliseconds d);
uint64_t retry_random(const RetryHooks& hooks);
}  // namespace detail

// Calls fn() (returning Expected<T, Error>) until it succeeds, fails with an error that is not
// retryable(), or max_attempts calls were made; returns the last result.
template <class F>
auto with_retries(const RetryPolicy& policy, F&& fn, const RetryHooks& hooks = {}) -> decltype(fn()) {
  const int attempts = policy.max_attempts < 1 ? 1 : policy.max_attempts;
  for (int attempt = 1;; ++attempt) {
    auto result = fn();
    if (result.has_value() || attempt >= attempts || !result.error().retryable()) return result;
    auto delay = backoff_delay(policy, static_cast<unsigned>(attempt - 1), detail::retry_random(hooks));
    if (hooks.on_retry) hooks.on_retry(result.error(), attempt, delay);
    detail::retry_sleep(hooks, delay);
  }
}

}  // namespace metagate::s3
