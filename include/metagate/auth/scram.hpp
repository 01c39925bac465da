// Server side of SCRAM-SHA-256 (RFC 5802/7677) as PostgreSQL 15 implements it: no channel
// binding (we never offer SCRAM-SHA-256-PLUS), the SCRAM user name is ignored in favour of
// the startup user, and unknown users or non-SCRAM secrets get a mock exchange that only
// fails at the end.
//
// Wire flow (the lead's code):
//   send AuthenticationSASL with {kScramMechanism}
//   SASLInitialResponse -> check_sasl_mechanism(name); if its data is absent (length -1),
//                          send AuthenticationSASLContinue("") and use the next SASLResponse
//   on_client_first(data)  -> send AuthenticationSASLContinue(server-first)
//   SASLResponse           -> on_client_final(data) -> send AuthenticationSASLFinal(v=...),
//                             then AuthenticationOk
//   any error              -> send error.to_pg_error() (FATAL) and close.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "metagate/auth/client.hpp"
#include "metagate/auth/credential.hpp"
#include "metagate/auth/error.hpp"

namespace metagate::auth {

inline constexpr std::string_view kScramMechanism = "SCRAM-SHA-256";

// 08P01 "client selected an invalid SASL authentication mechanism" unless it is ours.
AuthStatus check_sasl_mechanism(std::string_view mechanism);

class ScramServerExchange {
 public:
  // A real exchange if `cred` holds a SCRAM verifier; otherwise (md5 secret) a mock exchange
  // salted from a per-process random secret.
  ScramServerExchange(const Credential& cred, std::string_view user);
  // For an unknown user or one without a password. The salt sent is derived from
  // HMAC(server_secret_for_mocking, user) so it is stable per user: pass a secret that stays
  // the same across restarts (like PG's mock_auth_nonce) so probes cannot spot fake users.
  static ScramServerExchange mock(std::string_view user,
                                  std::span<const uint8_t> server_secret_for_mocking);

  // client-first-message -> server-first-message "r=<c+s nonce>,s=<salt>,i=<iterations>".
  AuthResult<std::string> on_client_first(std::string_view client_first_message);
  // client-final-message -> server-final-message "v=<ServerSignature>". A wrong proof (or any
  // mock exchange) gives 28P01 password authentication failed.
  AuthResult<std::string> on_client_final(std::string_view client_final_message);

  bool succeeded() const { return state_ == State::kSucceeded; }
  // After success: the client's keys (for authentication pass-through to a PostgreSQL server
  // that holds the same verifier).
  std::optional<ScramKeys> keys() const;
  bool is_mock() const { return doomed_; }
  // The user name the client put in "n=" (ignored, like PG; useful for logs). libpq sends "".
  const std::string& client_username() const { return client_username_; }

  // Tests only: use this server nonce instead of 18 random bytes in base64.
  void set_server_nonce_for_testing(std::string nonce) { server_nonce_ = std::move(nonce); }

 private:
  enum class State { kInit, kSaltSent, kSucceeded, kFailed };
  ScramServerExchange() = default;
  AuthError fail(AuthError e);

  std::string user_;
  ScramVerifier verifier_;
  bool doomed_ = false;
  std::string doomed_reason_;  // log detail for a mock exchange
  State state_ = State::kInit;
  char cbind_flag_ = 0;
  std::string client_username_;
  std::string client_nonce_;
  std::string server_nonce_;
  std::string client_first_bare_;
  std::string server_first_;
  std::array<uint8_t, 32> client_key_{};
};

}  // namespace metagate::auth
