// trust/reject/password/md5 method logic: challenge selection, cleartext and md5 checks.
#include "metagate/auth/password.hpp"

#include "crypto.hpp"
#include "metagate/auth/saslprep.hpp"

namespace metagate::auth {

AuthError password_failed(std::string_view user, std::string log_detail) {
  AuthError e;
  e.sqlstate = std::string(sqlstate::kInvalidPassword);
  e.message = "password authentication failed for user \"" + std::string(user) + "\"";
  e.log_detail = std::move(log_detail);
  return e;
}

std::string_view method_name(Method m) {
  switch (m) {
    case Method::kTrust: return "trust";
    case Method::kReject: return "reject";
    case Method::kPassword: return "password";
    case Method::kMd5: return "md5";
    case Method::kScramSha256: return "scram-sha-256";
  }
  return "?";
}

Challenge challenge_for(Method method, const Credential* cred) {
  switch (method) {
    case Method::kTrust: return Challenge::kNone;
    case Method::kReject: return Challenge::kReject;
    case Method::kPassword: return Challenge::kCleartext;
    case Method::kMd5: return cred && cred->is_md5() ? Challenge::kMd5 : Challenge::kScram;
    case Method::kScramSha256: return Challenge::kScram;
  }
  return Challenge::kReject;
}

namespace {
std::string no_such_role(std::string_view user) {
  return "Role \"" + std::string(user) + "\" does not exist.";
}
std::string mismatch(std::string_view user) {
  return "Password does not match for user \"" + std::string(user) + "\".";
}
}  // namespace

AuthStatus check_cleartext(const Credential* cred, std::string_view user, std::string_view password) {
  if (password.find('\0') != std::string_view::npos) {
    return unexpected(AuthError{std::string(sqlstate::kProtocolViolation),
                                "invalid password packet size", {}, {}});
  }
  if (!cred) return unexpected(password_failed(user, no_such_role(user)));
  if (password.empty())  // PG: "empty password returned by client"
    return unexpected(password_failed(user, "Empty password returned by client."));

  if (const Md5Secret* m = cred->md5()) {
    Md5Secret computed = make_md5_secret(password, user);
    if (detail::ct_equal(computed.digest, m->digest)) return Ok{};
    return unexpected(password_failed(user, mismatch(user)));
  }
  const ScramVerifier& v = *cred->scram();
  auto prepared = scram_password_bytes(password);
  if (!prepared) {
    if (password.size() > kMaxSaslprepPasswordLength)
      return unexpected(AuthError{std::string(sqlstate::kProgramLimitExceeded), "password too long", {}, {}});
    return unexpected(password_failed(
        user, "Password needs Unicode normalisation that metagate does not implement."));
  }
  auto salted = detail::salted_password(*prepared, v.salt, v.iterations);
  auto server_key = detail::hmac_sha256(salted, {"Server Key"});
  if (detail::ct_equal(server_key, v.server_key)) return Ok{};
  return unexpected(password_failed(user, mismatch(user)));
}

AuthStatus check_cleartext(const Credential& cred, std::string_view user, std::string_view password) {
  return check_cleartext(&cred, user, password);
}

std::string md5_client_response(std::string_view password, std::string_view user,
                                std::array<uint8_t, 4> salt) {
  std::string inner = detail::hex_lower(make_md5_secret(password, user).digest);
  return "md5" + detail::hex_lower(detail::md5({detail::bytes(inner), salt}));
}

AuthStatus check_md5_response(const Credential* cred, std::string_view user,
                              std::array<uint8_t, 4> salt, std::string_view response) {
  if (!cred) return unexpected(password_failed(user, no_such_role(user)));
  const Md5Secret* m = cred->md5();
  if (!m) {
    return unexpected(password_failed(
        user, "User \"" + std::string(user) + "\" has a password that cannot be used with MD5 authentication."));
  }
  std::string inner = detail::hex_lower(m->digest);
  std::string expected = "md5" + detail::hex_lower(detail::md5({detail::bytes(inner), salt}));
  if (detail::ct_equal(detail::bytes(expected), detail::bytes(response))) return Ok{};
  return unexpected(password_failed(user, mismatch(user)));
}

AuthStatus check_md5_response(const Credential& cred, std::string_view user,
                              std::array<uint8_t, 4> salt, std::string_view response) {
  return check_md5_response(&cred, user, salt, response);
}

std::array<uint8_t, 4> random_md5_salt() {
  std::array<uint8_t, 4> salt{};
  detail::random_bytes(salt);
  return salt;
}

}  // namespace metagate::auth
