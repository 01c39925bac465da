// Back-off arithmetic and the default sleep/random sources of with_retries (retry.hpp).
#include "metagate/s3/retry.hpp"

#include <algorithm>
#include <random>
#include <thread>

namespace metagate::s3 {

std::chrono::milliseconds backoff_ceiling(const RetryPolicy& policy, unsigned attempt) {
  const int64_t base = std::max<int64_t>(0, policy.base.count());
  const int64_t cap = std::max<int64_t>(0, policy.cap.count());
  int64_t ceiling = base;
  // Doubling stops at the cap, so no shift or multiplication can overflow.
  for (unsigned i = 0; i < attempt && ceiling < cap; ++i) ceiling = ceiling > cap / 2 ? cap : ceiling * 2;
  return std::chrono::milliseconds(std::min(ceiling, cap));
}

std::chrono::milliseconds backoff_delay(const RetryPolicy& policy, unsigned attempt, uint64_t random) {
  const auto ceiling = static_cast<uint64_t>(backoff_ceiling(policy, attempt).count());
  // The modulo bias is below 2^-40 for any realistic ceiling: irrelevant for a wait.
  return std::chrono::milliseconds(static_cast<int64_t>(random % (ceiling + 1)));
}

namespace detail {

void retry_sleep(const RetryHooks& hooks, std::chrono::milliseconds d) {
  if (hooks.sleep) hooks.sleep(d);
  else std::this_thread::sleep_for(d);
}

uint64_t retry_random(const RetryHooks& hooks) {
  if (hooks.random) return hooks.random();
  thread_local std::mt19937_64 engine{std::random_device{}()};
  return engine();
}

}  // namespace detail

}  // namespace metagate::s3
