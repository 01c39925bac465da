// Test helper: the client side of SCRAM-SHA-256, computed independently with libcrypto.
#pragma once

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "metagate/auth/base64.hpp"

namespace scram_test {

using Key = std::array<uint8_t, 32>;

inline Key hmac(const Key& key, std::string_view msg) {
  Key out{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), out.data(), &len);
  return out;
}

struct ClientKeys {
  Key client_key, stored_key, server_key;
};

inline ClientKeys derive(std::string_view password, const std::vector<uint8_t>& salt, int iterations) {
  Key salted{};
  PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), salt.data(),
                    static_cast<int>(salt.size()), iterations, EVP_sha256(), 32, salted.data());
  ClientKeys k;
  k.client_key = hmac(salted, "Client Key");
  SHA256(k.client_key.data(), k.client_key.size(), k.stored_key.data());
  k.server_key = hmac(salted, "Server Key");
  return k;
}

// Parses "r=...,s=...,i=..." (nonce, salt, iterations).
struct ServerFirst {
  std::string nonce;
  std::vector<uint8_t> salt;
  int iterations = 0;
};
inline ServerFirst parse_server_first(const std::string& m) {
  ServerFirst sf;
  size_t s = m.find(",s="), i = m.find(",i=");
  sf.nonce = m.substr(2, s - 2);
  sf.salt = metagate::auth::base64_decode(m.substr(s + 3, i - s - 3)).value();
  sf.iterations = std::stoi(m.substr(i + 3));
  return sf;
}

// Builds client-final-message for `password`; `expected_server_final` gets "v=...".
inline std::string client_final(std::string_view password, const std::string& client_first_bare,
                                const std::string& server_first, std::string cbind = "biws",
                                std::string* expected_server_final = nullptr) {
  ServerFirst sf = parse_server_first(server_first);
  ClientKeys k = derive(password, sf.salt, sf.iterations);
  std::string without_proof = "c=" + cbind + ",r=" + sf.nonce;
  std::string auth_message = client_first_bare + "," + server_first + "," + without_proof;
  Key sig = hmac(k.stored_key, auth_message);
  Key proof{};
  for (size_t i = 0; i < 32; ++i) proof[i] = k.client_key[i] ^ sig[i];
  if (expected_server_final)
    *expected_server_final = "v=" + metagate::auth::base64_encode(hmac(k.server_key, auth_message));
  return without_proof + ",p=" + metagate::auth::base64_encode(proof);
}

}  // namespace scram_test
