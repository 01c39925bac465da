// SCRAM-SHA-256 server exchange: message parsing, nonce and proof checks, mock exchanges.
#include "metagate/auth/scram.hpp"

#include <algorithm>
#include <cstdio>

#include "crypto.hpp"
#include "metagate/auth/base64.hpp"

namespace metagate::auth {

namespace {

constexpr size_t kServerNonceRawLength = 18;  // as PG: 24 base64 characters

AuthError protocol_error(std::string message, std::string detail = {}) {
  return AuthError{std::string(sqlstate::kProtocolViolation), std::move(message), std::move(detail), {}};
}
AuthError malformed(std::string detail) { return protocol_error("malformed SCRAM message", std::move(detail)); }
AuthError not_supported(std::string message) {
  return AuthError{std::string(sqlstate::kFeatureNotSupported), std::move(message), {}, {}};
}

// A character for an error message: 'c' if printable, else 0xNN (end of input shows as 0x00).
std::string sanitize(char c) {
  char buf[8];
  auto u = static_cast<unsigned char>(c);
  if (u >= 0x21 && u <= 0x7E) std::snprintf(buf, sizeof buf, "'%c'", c);
  else std::snprintf(buf, sizeof buf, "0x%02x", u);
  return buf;
}

// Cursor over a SCRAM message; reading past the end yields '\0' like PG's C strings.
class Reader {
 public:
  explicit Reader(std::string_view s) : s_(s) {}
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  bool at_end() const { return pos_ >= s_.size(); }
  size_t pos() const { return pos_; }
  void advance() { ++pos_; }
  std::string_view rest() const { return s_.substr(std::min(pos_, s_.size())); }

  // "<attr>=<value>" up to the next ',' (consumed) or the end.
  AuthResult<std::string_view> attr(char expected) {
    if (peek() != expected)
      return unexpected(malformed("Expected attribute \"" + std::string(1, expected) + "\" but found \"" +
                                  sanitize(peek()) + "\"."));
    return value_after_name(expected);
  }
  // Any "<ALPHA>=<value>"; returns the attribute letter in `name`.
  AuthResult<std::string_view> any_attr(char& name) {
    name = peek();
    if (at_end()) return unexpected(malformed("Attribute expected, but found end of string."));
    if (!((name >= 'A' && name <= 'Z') || (name >= 'a' && name <= 'z')))
      return unexpected(malformed("Attribute expected, but found invalid character \"" + sanitize(name) + "\"."));
    return value_after_name(name);
  }

 private:
  AuthResult<std::string_view> value_after_name(char name) {
    advance();
    if (peek() != '=')
      return unexpected(malformed("Expected character \"=\" for attribute \"" + std::string(1, name) + "\"."));
    advance();
    size_t end = s_.find(',', pos_);
    if (end == std::string_view::npos) end = s_.size();
    std::string_view v = s_.substr(pos_, end - pos_);
    pos_ = end < s_.size() ? end + 1 : end;
    return v;
  }

  std::string_view s_;
  size_t pos_ = 0;
};

bool is_printable(std::string_view s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) < 0x21 || static_cast<unsigned char>(c) > 0x7E || c == ',') return false;
  return true;
}

AuthStatus check_message(std::string_view m) {
  if (m.empty()) return unexpected(malformed("The message is empty."));
  if (m.find('\0') != std::string_view::npos)
    return unexpected(malformed("Message length does not match input length."));
  return Ok{};
}

const std::array<uint8_t, 32>& process_mock_secret() {
  static const std::array<uint8_t, 32> secret = [] {
    std::array<uint8_t, 32> s{};
    detail::random_bytes(s);
    return s;
  }();
  return secret;
}

ScramVerifier mock_verifier(std::string_view user, std::span<const uint8_t> secret) {
  ScramVerifier v;
  v.iterations = kDefaultScramIterations;
  auto h = detail::hmac_sha256(secret, {"metagate SCRAM mock salt", std::string_view("\0", 1), user});
  v.salt.assign(h.begin(), h.begin() + kScramSaltLength);
  // StoredKey/ServerKey stay zero: a doomed exchange fails whatever the proof.
  return v;
}

}  // namespace

AuthStatus check_sasl_mechanism(std::string_view mechanism) {
  if (mechanism == kScramMechanism) return Ok{};
  return unexpected(protocol_error("client selected an invalid SASL authentication mechanism"));
}

ScramServerExchange::ScramServerExchange(const Credential& cred, std::string_view user) : user_(user) {
  if (const ScramVerifier* v = cred.scram()) {
    verifier_ = *v;
  } else {
    verifier_ = mock_verifier(user, process_mock_secret());
    doomed_ = true;
    doomed_reason_ = "User \"" + std::string(user) + "\" does not have a valid SCRAM secret.";
  }
}

ScramServerExchange ScramServerExchange::mock(std::string_view user,
                                              std::span<const uint8_t> server_secret_for_mocking) {
  ScramServerExchange x;
  x.user_ = std::string(user);
  x.verifier_ = mock_verifier(user, server_secret_for_mocking);
  x.doomed_ = true;
  x.doomed_reason_ = "Role \"" + std::string(user) + "\" does not exist or has no password.";
  return x;
}

AuthError ScramServerExchange::fail(AuthError e) {
  state_ = State::kFailed;
  return e;
}

AuthResult<std::string> ScramServerExchange::on_client_first(std::string_view msg) {
  if (state_ != State::kInit)
    return unexpected(fail({std::string(sqlstate::kInternalError), "invalid SCRAM exchange state", {}, {}}));
  if (auto ok = check_message(msg); !ok) return unexpected(fail(ok.error()));

  Reader r(msg);
  // gs2-cbind-flag "," [authzid] ","
  cbind_flag_ = r.peek();
  switch (cbind_flag_) {
    case 'n':
    case 'y':  // client could bind but thinks we cannot: fine, we never offer -PLUS
      r.advance();
      if (r.peek() != ',')
        return unexpected(fail(malformed("Comma expected, but found character \"" + sanitize(r.peek()) + "\".")));
      r.advance();
      break;
    case 'p':
      return unexpected(fail(malformed(
          "The client selected SCRAM-SHA-256 without channel binding, but the SCRAM message includes "
          "channel binding data.")));
    default:
      return unexpected(fail(malformed("Unexpected channel-binding flag \"" + sanitize(cbind_flag_) + "\".")));
  }
  if (r.peek() == 'a')
    return unexpected(fail(not_supported("client uses authorization identity, but it is not supported")));
  if (r.peek() != ',')
    return unexpected(fail(malformed("Unexpected attribute \"" + sanitize(r.peek()) + "\" in client-first-message.")));
  r.advance();

  client_first_bare_ = std::string(r.rest());
  if (r.peek() == 'm') return unexpected(fail(not_supported("client requires an unsupported SCRAM extension")));
  auto name = r.attr('n');
  if (!name) return unexpected(fail(name.error()));
  client_username_ = std::string(*name);
  auto nonce = r.attr('r');
  if (!nonce) return unexpected(fail(nonce.error()));
  if (!is_printable(*nonce)) return unexpected(fail(protocol_error("non-printable characters in SCRAM nonce")));
  client_nonce_ = std::string(*nonce);
  while (!r.at_end()) {  // optional extensions: syntax-checked, ignored
    char attr;
    if (auto v = r.any_attr(attr); !v) return unexpected(fail(v.error()));
  }

  if (server_nonce_.empty()) {
    std::array<uint8_t, kServerNonceRawLength> raw{};
    detail::random_bytes(raw);
    server_nonce_ = base64_encode(raw);
  }
  server_first_ = "r=" + client_nonce_ + server_nonce_ + ",s=" + base64_encode(verifier_.salt) +
                  ",i=" + std::to_string(verifier_.iterations);
  state_ = State::kSaltSent;
  return server_first_;
}

AuthResult<std::string> ScramServerExchange::on_client_final(std::string_view msg) {
  if (state_ != State::kSaltSent)
    return unexpected(fail({std::string(sqlstate::kInternalError), "invalid SCRAM exchange state", {}, {}}));
  if (auto ok = check_message(msg); !ok) return unexpected(fail(ok.error()));

  Reader r(msg);
  auto cbind = r.attr('c');
  if (!cbind) return unexpected(fail(cbind.error()));
  // Without channel binding the value must be the base64 of the gs2 header we were sent.
  if (!((*cbind == "biws" && cbind_flag_ == 'n') || (*cbind == "eSws" && cbind_flag_ == 'y')))
    return unexpected(fail(protocol_error("unexpected SCRAM channel-binding attribute in client-final-message")));
  auto final_nonce = r.attr('r');
  if (!final_nonce) return unexpected(fail(final_nonce.error()));

  size_t proof_start;  // index of the ',' before "p="
  std::string_view proof_b64;
  for (;;) {  // skip extensions up to the proof
    proof_start = r.pos() - 1;
    char attr;
    auto v = r.any_attr(attr);
    if (!v) return unexpected(fail(v.error()));
    if (attr == 'p') {
      proof_b64 = *v;
      break;
    }
  }
  auto proof = base64_decode(proof_b64);
  if (!proof || proof->size() != 32)
    return unexpected(fail(malformed("Malformed proof in client-final-message.")));
  if (!r.at_end()) return unexpected(fail(malformed("Garbage found at the end of client-final-message.")));
  std::string_view final_without_proof = msg.substr(0, proof_start);

  if (*final_nonce != client_nonce_ + server_nonce_)
    return unexpected(fail(protocol_error("invalid SCRAM response", "Nonce does not match.")));

  // ClientKey = ClientProof XOR HMAC(StoredKey, AuthMessage); accept if H(ClientKey) == StoredKey.
  auto client_signature =
      detail::hmac_sha256(verifier_.stored_key, {client_first_bare_, ",", server_first_, ",", final_without_proof});
  std::array<uint8_t, 32> client_key{};
  for (size_t i = 0; i < client_key.size(); ++i) client_key[i] = (*proof)[i] ^ client_signature[i];
  bool proof_ok = detail::ct_equal(detail::sha256(client_key), verifier_.stored_key);
  if (proof_ok) client_key_ = client_key;
  if (doomed_) return unexpected(fail(password_failed(user_, doomed_reason_)));
  if (!proof_ok)
    return unexpected(fail(password_failed(user_, "Password does not match for user \"" + user_ + "\".")));

  auto server_signature =
      detail::hmac_sha256(verifier_.server_key, {client_first_bare_, ",", server_first_, ",", final_without_proof});
  state_ = State::kSucceeded;
  return "v=" + base64_encode(server_signature);
}

std::optional<ScramKeys> ScramServerExchange::keys() const {
  if (state_ != State::kSucceeded || doomed_) return std::nullopt;
  return ScramKeys{client_key_, verifier_.server_key, verifier_.salt, verifier_.iterations};
}

}  // namespace metagate::auth
