// Body digests with OpenSSL's EVP interface.
#include "hash.hpp"

#include <openssl/evp.h>

#include <stdexcept>

namespace metagate::s3::detail {

namespace {

// Digest of `data` into `out` (EVP_MAX_MD_SIZE bytes); returns the digest length. Throws only
// when OpenSSL cannot allocate or lacks the algorithm; the client turns that into kLocal.
unsigned digest(const EVP_MD* md, std::span<const uint8_t> data, unsigned char* out) {
  unsigned len = 0;
  if (md == nullptr || EVP_Digest(data.data(), data.size(), out, &len, md, nullptr) != 1) {
    throw std::runtime_error("OpenSSL digest failed");
  }
  return len;
}

std::string to_hex(const unsigned char* p, unsigned n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  s.reserve(n * 2);
  for (unsigned i = 0; i < n; ++i) {
    s += kHex[p[i] >> 4];
    s += kHex[p[i] & 0xF];
  }
  return s;
}

}  // namespace

std::string sha256_hex(std::span<const uint8_t> data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  return to_hex(md, digest(EVP_sha256(), data, md));
}

std::string md5_base64(std::span<const uint8_t> data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned n = digest(EVP_md5(), data, md);
  unsigned char b64[EVP_MAX_MD_SIZE * 2];
  int len = EVP_EncodeBlock(b64, md, static_cast<int>(n));
  return std::string(reinterpret_cast<const char*>(b64), static_cast<size_t>(len));
}

}  // namespace metagate::s3::detail
