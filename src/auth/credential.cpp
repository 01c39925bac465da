// Parsing, serialising and generating SCRAM-SHA-256 verifiers and md5 secrets.
#include "metagate/auth/credential.hpp"

#include <algorithm>
#include <charconv>

#include "crypto.hpp"
#include "metagate/auth/base64.hpp"
#include "metagate/auth/saslprep.hpp"

namespace metagate::auth {

namespace {
constexpr std::string_view kScramPrefix = "SCRAM-SHA-256$";

Unexpected<ConfigError> bad_verifier(const std::string& why) {
  return unexpected(ConfigError{"invalid SCRAM-SHA-256 verifier: " + why});
}

bool decode_key(std::string_view b64, std::array<uint8_t, 32>& out) {
  auto raw = base64_decode(b64);
  if (!raw || raw->size() != out.size()) return false;
  std::copy(raw->begin(), raw->end(), out.begin());
  return true;
}
}  // namespace

std::string ScramVerifier::to_string() const {
  return std::string(kScramPrefix) + std::to_string(iterations) + ":" + base64_encode(salt) + "$" +
         base64_encode(stored_key) + ":" + base64_encode(server_key);
}

std::string Md5Secret::to_string() const { return "md5" + detail::hex_lower(digest); }

Expected<ScramVerifier, ConfigError> parse_scram_verifier(std::string_view text) {
  if (!text.starts_with(kScramPrefix))
    return bad_verifier("does not start with \"SCRAM-SHA-256$\"");
  std::string_view rest = text.substr(kScramPrefix.size());
  // <iterations>:<salt>$<StoredKey>:<ServerKey>
  size_t dollar = rest.find('$');
  if (dollar == std::string_view::npos)
    return bad_verifier("expected \"$\" between salt and keys");
  std::string_view params = rest.substr(0, dollar);
  std::string_view keys = rest.substr(dollar + 1);
  size_t colon = params.find(':');
  if (colon == std::string_view::npos)
    return bad_verifier("expected \"<iterations>:<salt>\" after \"SCRAM-SHA-256$\"");
  std::string_view iter_text = params.substr(0, colon);
  std::string_view salt_text = params.substr(colon + 1);

  ScramVerifier v;
  auto [ptr, ec] = std::from_chars(iter_text.data(), iter_text.data() + iter_text.size(), v.iterations);
  if (iter_text.empty() || ec != std::errc() || ptr != iter_text.data() + iter_text.size() ||
      v.iterations < 1)
    return bad_verifier("iteration count \"" + std::string(iter_text) + "\" is not a positive integer");

  auto salt = base64_decode(salt_text);
  if (!salt) return bad_verifier("salt is not valid base64");
  if (salt->empty()) return bad_verifier("salt is empty");
  v.salt = std::move(*salt);

  colon = keys.find(':');
  if (colon == std::string_view::npos)
    return bad_verifier("expected \"<StoredKey>:<ServerKey>\" after the salt");
  if (!decode_key(keys.substr(0, colon), v.stored_key))
    return bad_verifier("StoredKey is not base64 of 32 bytes");
  if (!decode_key(keys.substr(colon + 1), v.server_key))
    return bad_verifier("ServerKey is not base64 of 32 bytes");
  return v;
}

Expected<Md5Secret, ConfigError> parse_md5_secret(std::string_view text) {
  if (!text.starts_with("md5"))
    return unexpected(ConfigError{"invalid md5 secret: does not start with \"md5\""});
  std::string_view hex = text.substr(3);
  if (hex.size() != 32)
    return unexpected(ConfigError{"invalid md5 secret: expected 32 hex digits after \"md5\", got " +
                                  std::to_string(hex.size()) + " characters"});
  Md5Secret m;
  for (size_t i = 0; i < 32; ++i) {
    char c = hex[i];
    int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
    if (d < 0)
      return unexpected(ConfigError{"invalid md5 secret: only lowercase hex digits may follow \"md5\""});
    m.digest[i / 2] = static_cast<uint8_t>(m.digest[i / 2] | (i % 2 ? d : d << 4));
  }
  return m;
}

Expected<ScramVerifier, ConfigError> make_scram_verifier(std::string_view password,
                                                         std::span<const uint8_t> salt,
                                                         int iterations) {
  if (iterations < 1) return unexpected(ConfigError{"SCRAM iteration count must be at least 1"});
  if (salt.empty()) return unexpected(ConfigError{"SCRAM salt must not be empty"});
  auto prepared = scram_password_bytes(password);
  if (!prepared) {
    if (password.size() > kMaxSaslprepPasswordLength)
      return unexpected(ConfigError{"password too long"});
    return unexpected(ConfigError{
        "password contains non-ASCII characters that need Unicode normalisation metagate does not "
        "implement; create the verifier with PostgreSQL (CREATE ROLE ... PASSWORD) instead"});
  }
  ScramVerifier v;
  v.iterations = iterations;
  v.salt.assign(salt.begin(), salt.end());
  auto salted = detail::salted_password(*prepared, salt, iterations);
  auto client_key = detail::hmac_sha256(salted, {"Client Key"});
  v.stored_key = detail::sha256(client_key);
  v.server_key = detail::hmac_sha256(salted, {"Server Key"});
  return v;
}

Expected<ScramVerifier, ConfigError> make_scram_verifier(std::string_view password, int iterations) {
  std::array<uint8_t, kScramSaltLength> salt{};
  detail::random_bytes(salt);
  return make_scram_verifier(password, salt, iterations);
}

Md5Secret make_md5_secret(std::string_view password, std::string_view user) {
  return Md5Secret{detail::md5({detail::bytes(password), detail::bytes(user)})};
}

Expected<Credential, ConfigError> Credential::parse(std::string_view rolpassword) {
  if (rolpassword.starts_with(kScramPrefix)) {
    auto v = parse_scram_verifier(rolpassword);
    if (!v) return unexpected(std::move(v).error());
    return Credential(std::move(*v));
  }
  if (rolpassword.starts_with("md5")) {
    auto m = parse_md5_secret(rolpassword);
    if (!m) return unexpected(std::move(m).error());
    return Credential(*m);
  }
  return unexpected(ConfigError{
      "unrecognised password secret: expected \"SCRAM-SHA-256$...\" or \"md5...\" "
      "(plaintext passwords are not accepted)"});
}

std::string Credential::to_string() const {
  return std::visit([](const auto& s) { return s.to_string(); }, secret_);
}

}  // namespace metagate::auth
