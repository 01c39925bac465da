// The client side of PostgreSQL authentication, for metagate's own connections to a
// PostgreSQL server: the md5 PasswordMessage, and SCRAM-SHA-256 (RFC 5802/7677, no channel
// binding) as libpq does it. No I/O: the caller moves the messages.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "metagate/auth/error.hpp"

namespace metagate::auth {

// "md5" + hex(md5(hex(md5(password + user)) + salt)).
std::string md5_password_response(std::string_view user, std::string_view password, const uint8_t salt[4]);

class ScramClientExchange {
 public:
  explicit ScramClientExchange(std::string password);
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
  std::string nonce_;
  std::string client_first_bare_;
  std::array<uint8_t, 32> expected_server_signature_{};
  bool final_expected_ = false;
};

}  // namespace metagate::auth
