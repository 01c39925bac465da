// The client side of PostgreSQL authentication, for metagate's own connections to a
// PostgreSQL server: the md5 PasswordMessage, and SCRAM-SHA-256 (RFC 5802/7677, no channel
// binding) as libpq does it. No I/O: the caller moves the messages.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <optional>
#include <string_view>
#include <vector>

#include "metagate/auth/error.hpp"

namespace metagate::auth {

// "md5" + hex(md5(hex(md5(password + user)) + salt)).
std::string md5_password_response(std::string_view user, std::string_view password, const uint8_t salt[4]);

// What a client's successful SCRAM exchange with metagate yields: its ClientKey (recovered from
// the proof) and the verifier's salt, iterations and ServerKey. A server holding the same
// verifier accepts a login made with these, so metagate can pass the client's authentication
// on without ever learning its password.
struct ScramKeys {
  std::array<uint8_t, 32> client_key{};
  std::array<uint8_t, 32> server_key{};
  std::vector<uint8_t> salt;
  int iterations = 0;
  friend bool operator==(const ScramKeys&, const ScramKeys&) = default;
};

class ScramClientExchange {
 public:
  explicit ScramClientExchange(std::string password);
  // With a client's keys instead of a password: the server must use the same salt and
  // iterations (else 28P01 saying the secrets differ).
  explicit ScramClientExchange(ScramKeys keys);
  // SASLInitialResponse data: "n,,n=,r=<client nonce>".
  std::string client_first();
  // server-first-message -> client-final-message; 08P01 if the server's message is malformed
  // or its nonce does not extend ours.
  AuthResult<std::string> on_server_first(std::string_view server_first);
  // server-final-message: 28P01 unless the server proves it knows the password.
  AuthStatus on_server_final(std::string_view server_final);

  // Tests only.
  void set_client_nonce_for_testing(std::string nonce) { nonce_ = std::move(nonce); }

 private:
  std::string password_;
  std::optional<ScramKeys> keys_;
  std::string nonce_;
  std::string client_first_bare_;
  std::array<uint8_t, 32> expected_server_signature_{};
  bool final_expected_ = false;
};

}  // namespace metagate::auth
