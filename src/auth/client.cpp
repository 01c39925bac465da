// Client-side authentication to a PostgreSQL server (md5 and SCRAM-SHA-256).
#include "metagate/auth/client.hpp"

#include <charconv>

#include "crypto.hpp"
#include "metagate/auth/base64.hpp"
#include "metagate/auth/saslprep.hpp"

namespace metagate::auth {

using namespace detail;

std::string md5_password_response(std::string_view user, std::string_view password, const uint8_t salt[4]) {
  std::string inner = hex_lower(md5({bytes(password), bytes(user)}));
  return "md5" + hex_lower(md5({bytes(inner), std::span<const uint8_t>(salt, 4)}));
}

namespace {
AuthError protocol(std::string m) { return AuthError{"08P01", std::move(m), {}, {}}; }
}  // namespace

ScramClientExchange::ScramClientExchange(std::string password) : password_(std::move(password)) {
  std::array<uint8_t, 18> raw{};
  random_bytes(raw);
  nonce_ = base64_encode(std::span<const uint8_t>(raw.data(), raw.size()));
}

ScramClientExchange::ScramClientExchange(ScramKeys keys) : ScramClientExchange(std::string()) {
  keys_ = std::move(keys);
}

std::string ScramClientExchange::client_first() {
  client_first_bare_ = "n=,r=" + nonce_;
  return "n,," + client_first_bare_;
}

AuthResult<std::string> ScramClientExchange::on_server_first(std::string_view sf) {
  // r=<nonce>,s=<salt>,i=<iterations>[,extensions]
  std::string_view nonce, salt_b64, iter;
  size_t pos = 0;
  while (pos <= sf.size()) {
    size_t comma = sf.find(',', pos);
    std::string_view attr = sf.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
    if (attr.size() >= 2 && attr[1] == '=') {
      if (attr[0] == 'r') nonce = attr.substr(2);
      else if (attr[0] == 's') salt_b64 = attr.substr(2);
      else if (attr[0] == 'i') iter = attr.substr(2);
    }
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  if (nonce.size() <= nonce_.size() || nonce.substr(0, nonce_.size()) != nonce_)
    return unexpected(protocol("invalid SCRAM nonce from the server"));
  auto salt = base64_decode(salt_b64);
  int iterations = 0;
  auto [p, ec] = std::from_chars(iter.data(), iter.data() + iter.size(), iterations);
  if (!salt || salt->empty() || ec != std::errc() || p != iter.data() + iter.size() || iterations < 1 ||
      iterations > 10'000'000)
    return unexpected(protocol("malformed SCRAM server-first-message"));
  Sha256 client_key{}, server_key{};
  if (keys_) {
    if (*salt != keys_->salt || iterations != keys_->iterations)
      return unexpected(AuthError{"28P01",
                                  "the server's SCRAM secret for this role is not the one in metagate's auth.users "
                                  "(different salt or iteration count): copy the role's secret from pg_authid",
                                  {}, {}});
    client_key = keys_->client_key;
    server_key = keys_->server_key;
  } else {
    // The bytes PostgreSQL derived the verifier from (SASLprep'd where it applies).
    std::string pw = scram_password_bytes(password_).value_or(password_);
    Sha256 salted = salted_password(pw, *salt, iterations);
    client_key = hmac_sha256(salted, {"Client Key"});
    server_key = hmac_sha256(salted, {"Server Key"});
  }
  Sha256 stored_key = sha256(client_key);
  std::string without_proof = "c=biws,r=" + std::string(nonce);
  std::string auth_message = client_first_bare_ + "," + std::string(sf) + "," + without_proof;
  Sha256 signature = hmac_sha256(stored_key, {auth_message});
  Sha256 proof{};
  for (size_t i = 0; i < proof.size(); ++i) proof[i] = client_key[i] ^ signature[i];
  expected_server_signature_ = hmac_sha256(server_key, {auth_message});
  final_expected_ = true;
  return without_proof + ",p=" + base64_encode(std::span<const uint8_t>(proof.data(), proof.size()));
}

AuthStatus ScramClientExchange::on_server_final(std::string_view final_message) {
  if (!final_expected_ || final_message.substr(0, 2) != "v=")
    return unexpected(AuthError{"28P01", "the server's SCRAM final message is invalid", {}, {}});
  auto sig = base64_decode(final_message.substr(2));
  if (!sig || sig->size() != expected_server_signature_.size() || !ct_equal(*sig, expected_server_signature_))
    return unexpected(AuthError{"28P01", "the server could not prove that it knows the password (SCRAM)", {}, {}});
  return Ok{};
}

}  // namespace metagate::auth
