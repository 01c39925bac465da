// Monotonic time in microseconds, for durations and deadlines shared between threads as
// plain integers (atomics).
#pragma once

#include <chrono>
#include <cstdint>

namespace metagate::util {

inline int64_t steady_now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace metagate::util
