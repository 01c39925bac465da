// Thin wrappers over libcrypto (EVP digests, HMAC, PBKDF2, CRYPTO_memcmp, RAND_bytes).
#include "crypto.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <memory>
#include <stdexcept>

namespace metagate::auth::detail {

std::span<const uint8_t> bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

namespace {
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
template <size_t N>
std::array<uint8_t, N> digest(const EVP_MD* md, std::initializer_list<std::span<const uint8_t>> parts) {
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  std::array<uint8_t, N> out{};
  unsigned int len = 0;
  if (!ctx || EVP_DigestInit_ex(ctx.get(), md, nullptr) != 1)
    throw std::runtime_error("EVP_DigestInit_ex failed");
  for (auto p : parts)
    if (EVP_DigestUpdate(ctx.get(), p.data(), p.size()) != 1)
      throw std::runtime_error("EVP_DigestUpdate failed");
  if (EVP_DigestFinal_ex(ctx.get(), out.data(), &len) != 1 || len != N)
    throw std::runtime_error("EVP_DigestFinal_ex failed");
  return out;
}
}  // namespace

Sha256 sha256(std::span<const uint8_t> data) { return digest<32>(EVP_sha256(), {data}); }

Sha256 hmac_sha256(std::span<const uint8_t> key, std::initializer_list<std::string_view> parts) {
  std::string msg;
  for (auto p : parts) msg.append(p);
  Sha256 out{};
  unsigned int len = 0;
  if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
            reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), out.data(), &len) ||
      len != out.size())
    throw std::runtime_error("HMAC-SHA-256 failed");
  return out;
}

Sha256 salted_password(std::string_view password, std::span<const uint8_t> salt, int iterations) {
  Sha256 out{};
  if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), salt.data(),
                        static_cast<int>(salt.size()), iterations, EVP_sha256(),
                        static_cast<int>(out.size()), out.data()) != 1)
    throw std::runtime_error("PBKDF2-HMAC-SHA-256 failed");
  return out;
}

std::array<uint8_t, 16> md5(std::initializer_list<std::span<const uint8_t>> parts) {
  return digest<16>(EVP_md5(), parts);
}

std::string hex_lower(std::span<const uint8_t> data) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(data.size() * 2);
  for (uint8_t b : data) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0xf]);
  }
  return out;
}

bool ct_equal(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

void random_bytes(std::span<uint8_t> buf) {
  if (RAND_bytes(buf.data(), static_cast<int>(buf.size())) != 1)
    throw std::runtime_error("RAND_bytes failed");
}

}  // namespace metagate::auth::detail
