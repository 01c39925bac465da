// Internal: the few libcrypto primitives the auth module needs (SHA-256, HMAC, PBKDF2, MD5,
// constant-time compare, random bytes, hex).
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace metagate::auth::detail {

using Sha256 = std::array<uint8_t, 32>;

std::span<const uint8_t> bytes(std::string_view s);
Sha256 sha256(std::span<const uint8_t> data);
// HMAC-SHA-256 over the concatenation of the parts.
Sha256 hmac_sha256(std::span<const uint8_t> key, std::initializer_list<std::string_view> parts);
// SCRAM's Hi(): PBKDF2-HMAC-SHA-256 with a 32-byte output.
Sha256 salted_password(std::string_view password, std::span<const uint8_t> salt, int iterations);
std::array<uint8_t, 16> md5(std::initializer_list<std::span<const uint8_t>> parts);
std::string hex_lower(std::span<const uint8_t> data);
bool ct_equal(std::span<const uint8_t> a, std::span<const uint8_t> b);  // CRYPTO_memcmp
// Fills buf from RAND_bytes; throws std::runtime_error if the CSPRNG fails (it never should).
void random_bytes(std::span<uint8_t> buf);

}  // namespace metagate::auth::detail
