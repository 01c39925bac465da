// Authentication methods as PostgreSQL 15 applies them: which challenge to send for an hba
// method and a stored secret, and the checks for cleartext and md5 responses.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "metagate/auth/credential.hpp"
#include "metagate/auth/error.hpp"

namespace metagate::auth {

// The pg_hba.conf methods metagate supports.
enum class Method { kTrust, kReject, kPassword, kMd5, kScramSha256 };

std::string_view method_name(Method m);  // "trust", "reject", "password", "md5", "scram-sha-256"

// What the server does after the startup packet.
enum class Challenge {
  kNone,       // trust: AuthenticationOk straight away
  kReject,     // reject: FATAL 28000 "pg_hba.conf rejects connection ..." (see hba.hpp)
  kCleartext,  // AuthenticationCleartextPassword, then check_cleartext()
  kMd5,        // AuthenticationMD5Password(random_md5_salt()), then check_md5_response()
  kScram,      // AuthenticationSASL {"SCRAM-SHA-256"}, then ScramServerExchange
};

// PG 15's choice. `cred` is nullptr when the user does not exist or has no password; then
// md5/scram-sha-256 still run a (doomed) SCRAM exchange, as PG does with its default
// password_encryption = scram-sha-256, so that clients cannot probe for user names.
//   md5 + md5 secret -> kMd5;  md5 + SCRAM secret -> kScram;
//   scram-sha-256 + any secret -> kScram (an md5 secret makes it a mock exchange that fails).
Challenge challenge_for(Method method, const Credential* cred);

// `password` method: checks the cleartext password (without the message's terminating NUL)
// against either kind of secret; `cred` nullptr = unknown user (always fails, same error).
// Failure: FATAL 28P01 password authentication failed for user "<user>".
// An embedded NUL is a protocol violation (08P01 "invalid password packet size"), as in PG.
AuthStatus check_cleartext(const Credential* cred, std::string_view user, std::string_view password);
AuthStatus check_cleartext(const Credential& cred, std::string_view user, std::string_view password);

// md5 method. `response` is the PasswordMessage text: "md5" + hex(md5(hex(md5(pw+user)) + salt)).
// A SCRAM secret cannot answer an md5 challenge (challenge_for never asks for one): fails.
AuthStatus check_md5_response(const Credential* cred, std::string_view user,
                              std::array<uint8_t, 4> salt, std::string_view response);
AuthStatus check_md5_response(const Credential& cred, std::string_view user,
                              std::array<uint8_t, 4> salt, std::string_view response);

std::array<uint8_t, 4> random_md5_salt();

// What a client computes for an md5 challenge (for tests and tools).
std::string md5_client_response(std::string_view password, std::string_view user,
                                std::array<uint8_t, 4> salt);

}  // namespace metagate::auth
