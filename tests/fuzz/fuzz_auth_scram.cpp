// Fuzz target: the server side of SCRAM-SHA-256 (ScramServerExchange) with fuzzed client
// messages against a fixed verifier (password "pencil", the salt and iteration count of the
// RFC 7677 example; the server nonce is pinned to the RFC's so its example exchange succeeds).
//
// Input: byte 0 = flags, then client-first-message, '\n', client-final-message.
//   flags & 3: 0/1 real SCRAM verifier, 2 md5 secret (doomed exchange), 3 mock() exchange;
//   flags & 4: "fix proof": the harness replaces the p= attribute of client-final with the
//              correct proof for the text before it (reaches the success path);
//   flags & 8: call the steps out of order as well (final before first, steps after the end).
// Invariants: no crash; errors carry 08P01/0A000/28P01 (XX000 only for out-of-order calls); an
// exchange succeeds only with the correct proof, never for mock/md5 exchanges, and then
// returns the correct server signature; a correct proof with valid c=/r= is never rejected.
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <array>
#include <string>
#include <vector>

#include "fuzz_common.hpp"
#include "metagate/auth/base64.hpp"
#include "metagate/auth/credential.hpp"
#include "metagate/auth/scram.hpp"

namespace {

using namespace metagate::auth;
using Key = std::array<uint8_t, 32>;

constexpr std::string_view kPassword = "pencil";
constexpr std::string_view kSaltB64 = "W22ZaJ0SNY7soEsUEjb6gQ==";
constexpr int kIterations = 4096;
constexpr std::string_view kServerNonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";  // RFC 7677

Key hmac(const Key& key, std::string_view msg) {
  Key out{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(msg.data()),
       msg.size(), out.data(), &len);
  return out;
}

struct Fixture {
  Credential scram{ScramVerifier{}};
  Credential md5{Md5Secret{}};
  Key client_key{}, stored_key{}, server_key{};
  std::array<uint8_t, 32> mock_secret{};

  Fixture() {
    auto salt = base64_decode(kSaltB64).value();
    auto v = make_scram_verifier(kPassword, salt, kIterations);
    FUZZ_CHECK(v.has_value(), "cannot build the fixture verifier");
    scram = Credential(*v);
    md5 = Credential(make_md5_secret(kPassword, "user"));
    Key salted{};
    PKCS5_PBKDF2_HMAC(kPassword.data(), static_cast<int>(kPassword.size()), salt.data(),
                      static_cast<int>(salt.size()), kIterations, EVP_sha256(), 32, salted.data());
    client_key = hmac(salted, "Client Key");
    SHA256(client_key.data(), client_key.size(), stored_key.data());
    server_key = hmac(salted, "Server Key");
    FUZZ_CHECK(std::equal(stored_key.begin(), stored_key.end(), v->stored_key.begin()) &&
                   std::equal(server_key.begin(), server_key.end(), v->server_key.begin()),
               "make_scram_verifier disagrees with PBKDF2 computed here");
    for (size_t i = 0; i < mock_secret.size(); ++i) mock_secret[i] = static_cast<uint8_t>(i * 7 + 1);
  }
};

const Fixture& fixture() {
  static const Fixture f;
  return f;
}

void check_error(const AuthError& e, bool allow_internal) {
  bool ok = e.sqlstate == "08P01" || e.sqlstate == "0A000" || e.sqlstate == "28P01" ||
            (allow_internal && e.sqlstate == "XX000");
  FUZZ_CHECK(ok, "unexpected SCRAM error %s: %s", e.sqlstate.c_str(), e.message.c_str());
  FUZZ_CHECK(!e.message.empty(), "SCRAM error without a message");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Fixture& fx = fixture();
  fuzz::Input in(data, size);
  const uint8_t flags = in.byte();
  const std::string first(in.until('\n'));
  std::string final_msg(in.rest());
  const bool has_final = size > 1 + first.size();

  const int kind = flags & 3;
  ScramServerExchange x = kind == 3 ? ScramServerExchange::mock("user", fx.mock_secret)
                                    : ScramServerExchange(kind == 2 ? fx.md5 : fx.scram, "user");
  x.set_server_nonce_for_testing(std::string(kServerNonce));
  const bool doomed = kind >= 2;
  FUZZ_CHECK(x.is_mock() == doomed, "is_mock() is %d for kind %d", x.is_mock(), kind);

  if (flags & 8) {
    auto early = x.on_client_final(final_msg);
    FUZZ_CHECK(!early, "client-final accepted before client-first");
    check_error(early.error(), true);
    // A failed exchange stays failed: client-first must now be refused too.
    auto late = x.on_client_first(first);
    FUZZ_CHECK(!late, "client-first accepted after a failed step");
    check_error(late.error(), true);
    return 0;
  }

  auto server_first = x.on_client_first(first);
  if (!server_first) {
    check_error(server_first.error(), false);
    FUZZ_CHECK(!x.succeeded(), "succeeded after a failed first step");
    return 0;
  }
  // server-first-message: r=<client nonce><server nonce>,s=<salt>,i=<iterations>
  FUZZ_CHECK(server_first->rfind("r=", 0) == 0 && server_first->find(std::string(kServerNonce) + ",s=") != std::string::npos,
             "malformed server-first-message %s", fuzz::printable(*server_first).c_str());
  if (!has_final) return 0;

  // The client-first-message without its gs2 header, as the server must have kept it.
  const size_t bare_at = first.find(',', first.find(',') + 1) + 1;
  const std::string bare = first.substr(bare_at);

  bool proof_is_correct = false;
  Key expected_server_sig{};
  const size_t p_at = final_msg.rfind(",p=");
  if (p_at != std::string::npos) {
    std::string without_proof = final_msg.substr(0, p_at);
    std::string auth_message = bare + "," + *server_first + "," + without_proof;
    Key sig = hmac(fx.stored_key, auth_message);
    Key proof{};
    for (size_t i = 0; i < 32; ++i) proof[i] = fx.client_key[i] ^ sig[i];
    std::string proof_b64 = base64_encode(proof);
    if (flags & 4) final_msg = without_proof + ",p=" + proof_b64;
    proof_is_correct = final_msg == without_proof + ",p=" + proof_b64;
    expected_server_sig = hmac(fx.server_key, auth_message);
  }

  auto server_final = x.on_client_final(final_msg);
  if (server_final) {
    FUZZ_CHECK(!doomed, "a mock/md5 exchange succeeded");
    FUZZ_CHECK(proof_is_correct, "accepted a wrong proof: %s", fuzz::printable(final_msg).c_str());
    FUZZ_CHECK(x.succeeded(), "returned server-final but not succeeded()");
    FUZZ_CHECK(*server_final == "v=" + base64_encode(expected_server_sig), "wrong server signature %s",
               server_final->c_str());
  } else {
    check_error(server_final.error(), false);
    FUZZ_CHECK(!x.succeeded(), "succeeded() after an error");
    const bool cbind_ok = final_msg.rfind(first[0] == 'y' ? "c=eSws,r=" : "c=biws,r=", 0) == 0;
    const std::string nonce = server_first->substr(2, server_first->find(",s=") - 2);
    const bool nonce_ok = cbind_ok && final_msg.compare(9, nonce.size() + 1, nonce + ",") == 0;
    if (proof_is_correct && !doomed && nonce_ok)
      FUZZ_CHECK(server_final.error().sqlstate != "28P01", "rejected the correct proof: %s",
                 fuzz::printable(final_msg).c_str());
  }
  // Nothing is accepted after the exchange ended.
  auto again = x.on_client_final(final_msg);
  FUZZ_CHECK(!again, "client-final accepted twice");
  return 0;
}
