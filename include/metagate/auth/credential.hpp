// Stored password secrets in PostgreSQL's pg_authid.rolpassword formats: SCRAM-SHA-256
// verifiers and md5 hashes. Plaintext passwords are never stored.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "metagate/auth/error.hpp"

namespace metagate::auth {

inline constexpr int kDefaultScramIterations = 4096;  // PG 15 (scram_iterations is PG 16+)
inline constexpr size_t kScramSaltLength = 16;         // what PG and we generate

// SCRAM-SHA-256$<iterations>:<base64 salt>$<base64 StoredKey>:<base64 ServerKey>
struct ScramVerifier {
  int iterations = 0;
  std::vector<uint8_t> salt;
  std::array<uint8_t, 32> stored_key{};
  std::array<uint8_t, 32> server_key{};

  std::string to_string() const;
  friend bool operator==(const ScramVerifier&, const ScramVerifier&) = default;
};

// md5 + hex(md5(password + username)); the user name is part of the hash.
struct Md5Secret {
  std::array<uint8_t, 16> digest{};

  std::string to_string() const;
  friend bool operator==(const Md5Secret&, const Md5Secret&) = default;
};

Expected<ScramVerifier, ConfigError> parse_scram_verifier(std::string_view text);
// Exactly "md5" + 32 lowercase hex digits, as PG recognises it.
Expected<Md5Secret, ConfigError> parse_md5_secret(std::string_view text);

// Builds a verifier the way PG's CREATE ROLE ... PASSWORD does (SASLprep, then PBKDF2).
// Fails if iterations < 1, the salt is empty, the password is longer than 1024 bytes, or it
// contains non-ASCII characters our SASLprep cannot prepare exactly (see saslprep.hpp).
Expected<ScramVerifier, ConfigError> make_scram_verifier(std::string_view password,
                                                         int iterations = kDefaultScramIterations);
Expected<ScramVerifier, ConfigError> make_scram_verifier(std::string_view password,
                                                         std::span<const uint8_t> salt,
                                                         int iterations = kDefaultScramIterations);
Md5Secret make_md5_secret(std::string_view password, std::string_view user);

// A user's stored secret: one of the two kinds.
class Credential {
 public:
  Credential(ScramVerifier v) : secret_(std::move(v)) {}  // NOLINT: implicit by design
  Credential(Md5Secret m) : secret_(std::move(m)) {}      // NOLINT: implicit by design

  // Recognises either format by its prefix ("SCRAM-SHA-256$" or "md5").
  static Expected<Credential, ConfigError> parse(std::string_view rolpassword);

  bool is_scram() const { return std::holds_alternative<ScramVerifier>(secret_); }
  bool is_md5() const { return std::holds_alternative<Md5Secret>(secret_); }
  const ScramVerifier* scram() const { return std::get_if<ScramVerifier>(&secret_); }
  const Md5Secret* md5() const { return std::get_if<Md5Secret>(&secret_); }
  std::string to_string() const;

 private:
  std::variant<ScramVerifier, Md5Secret> secret_;
};

}  // namespace metagate::auth
