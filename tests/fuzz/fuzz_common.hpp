// Shared helpers for the libFuzzer targets in tests/fuzz: an input cursor and invariant checks.
// Every target defines LLVMFuzzerTestOneInput; it is linked either with libFuzzer (fuzz preset,
// clang) or with replay_main.cpp (debug build, ctest label fuzz-replay).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

// A violated invariant is a bug: print what and where, then abort so that libFuzzer (or the
// replay driver under ASan) reports the input as a crash.
#define FUZZ_CHECK(cond, ...)                                                          \
  do {                                                                                 \
    if (!(cond)) {                                                                     \
      std::fprintf(stderr, "FUZZ_CHECK failed at %s:%d: %s\n  ", __FILE__, __LINE__, #cond); \
      std::fprintf(stderr, __VA_ARGS__);                                               \
      std::fprintf(stderr, "\n");                                                      \
      std::abort();                                                                    \
    }                                                                                  \
  } while (0)

namespace fuzz {

// Consumes the fuzz input from the front: selector bytes first, the payload last.
class Input {
 public:
  Input(const uint8_t* data, size_t size) : p_(data), n_(size) {}

  bool empty() const { return n_ == 0; }
  size_t size() const { return n_; }
  uint8_t byte() {
    if (n_ == 0) return 0;
    --n_;
    return *p_++;
  }
  uint16_t u16() { return static_cast<uint16_t>((byte() << 8) | byte()); }
  // Everything up to (not including) the first `sep`, consuming the separator; all if absent.
  std::string_view until(char sep) {
    const void* hit = n_ ? std::memchr(p_, sep, n_) : nullptr;
    size_t len = hit ? static_cast<size_t>(static_cast<const uint8_t*>(hit) - p_) : n_;
    std::string_view s(reinterpret_cast<const char*>(p_), len);
    p_ += len;
    n_ -= len;
    if (hit) byte();
    return s;
  }
  std::string_view rest() {
    std::string_view s(reinterpret_cast<const char*>(p_), n_);
    p_ += n_;
    n_ = 0;
    return s;
  }
  const uint8_t* data() const { return p_; }

 private:
  const uint8_t* p_;
  size_t n_;
};

inline std::string printable(std::string_view s, size_t max = 200) {
  std::string out;
  for (size_t i = 0; i < s.size() && i < max; ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  if (s.size() > max) out += "...";
  return out;
}

// Doubles compared the way a round trip must preserve them: bit-identical, any NaN equal.
inline bool same_double(double a, double b) {
  if (std::isnan(a) && std::isnan(b)) return true;
  return std::memcmp(&a, &b, sizeof a) == 0;
}

}  // namespace fuzz
