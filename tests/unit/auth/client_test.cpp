// Client-side authentication (metagate connecting to PostgreSQL): the SCRAM client against
// metagate's own SCRAM server exchange, and the md5 response against the md5 checker.
#include "metagate/auth/client.hpp"

#include <gtest/gtest.h>

#include <optional>

#include "metagate/auth/credential.hpp"
#include "metagate/auth/password.hpp"
#include "metagate/auth/scram.hpp"

namespace metagate::auth {
namespace {

TEST(ScramClient, AuthenticatesAgainstTheServerExchange) {
  auto verifier = make_scram_verifier("s3cret pässword");
  ASSERT_TRUE(verifier);
  Credential cred(*verifier);
  ScramServerExchange server(cred, "alice");
  ScramClientExchange client("s3cret pässword");
  std::string first = client.client_first();
  ASSERT_EQ(first.substr(0, 3), "n,,");
  auto server_first = server.on_client_first(first);
  ASSERT_TRUE(server_first) << server_first.error().message;
  auto client_final = client.on_server_first(*server_first);
  ASSERT_TRUE(client_final) << client_final.error().message;
  auto server_final = server.on_client_final(*client_final);
  ASSERT_TRUE(server_final) << server_final.error().message;
  EXPECT_TRUE(client.on_server_final(*server_final));
}

TEST(ScramClient, WrongPasswordIsRefusedByTheServer) {
  auto verifier = make_scram_verifier("right");
  ASSERT_TRUE(verifier);
  ScramServerExchange server(Credential(*verifier), "alice");
  ScramClientExchange client("wrong");
  auto sf = server.on_client_first(client.client_first());
  ASSERT_TRUE(sf);
  auto cf = client.on_server_first(*sf);
  ASSERT_TRUE(cf);
  EXPECT_FALSE(server.on_client_final(*cf));
}

// One SCRAM exchange of `client` against a server exchange holding `verifier`: true when the
// server accepts the proof and the client accepts the server's signature.
bool exchange(ScramClientExchange& client, const ScramVerifier& verifier, std::optional<ScramKeys>* keys = nullptr) {
  ScramServerExchange server(Credential(verifier), "alice");
  auto sf = server.on_client_first(client.client_first());
  if (!sf) return false;
  auto cf = client.on_server_first(*sf);
  if (!cf) return false;
  auto fin = server.on_client_final(*cf);
  if (!fin) return false;
  if (keys) *keys = server.keys();
  return static_cast<bool>(client.on_server_final(*fin));
}

TEST(ScramPassThrough, KeysFromOneExchangeLogInToAnotherServerWithTheSameVerifier) {
  auto verifier = make_scram_verifier("s3cret");
  ASSERT_TRUE(verifier);
  // The client's exchange with metagate yields its keys ...
  ScramClientExchange with_password("s3cret");
  std::optional<ScramKeys> keys;
  ASSERT_TRUE(exchange(with_password, *verifier, &keys));
  ASSERT_TRUE(keys);
  EXPECT_EQ(keys->server_key, verifier->server_key);
  // ... which log in to a server holding the same verifier, without the password.
  ScramClientExchange with_keys(*keys);
  EXPECT_TRUE(exchange(with_keys, *verifier));
}

TEST(ScramPassThrough, NoKeysFromAFailedOrMockExchange) {
  auto verifier = make_scram_verifier("right");
  ASSERT_TRUE(verifier);
  ScramClientExchange wrong("wrong");
  std::optional<ScramKeys> keys;
  EXPECT_FALSE(exchange(wrong, *verifier, &keys));
  ScramServerExchange server(Credential(*verifier), "alice");
  EXPECT_FALSE(server.keys());  // nothing before success
}

TEST(ScramPassThrough, ADifferentVerifierIsNamedNotGuessed) {
  // Same password, another salt: the server's secret is not the one the keys came from.
  auto mine = make_scram_verifier("s3cret");
  auto servers = make_scram_verifier("s3cret");
  ASSERT_TRUE(mine && servers);
  ScramClientExchange with_password("s3cret");
  std::optional<ScramKeys> keys;
  ASSERT_TRUE(exchange(with_password, *mine, &keys));
  ScramClientExchange with_keys(*keys);
  ScramServerExchange server(Credential(*servers), "alice");
  auto sf = server.on_client_first(with_keys.client_first());
  ASSERT_TRUE(sf);
  auto cf = with_keys.on_server_first(*sf);
  ASSERT_FALSE(cf);
  EXPECT_EQ(cf.error().sqlstate, "28P01");
  EXPECT_NE(cf.error().message.find("not the one in metagate's auth.users"), std::string::npos);
}

TEST(ScramClient, RejectsABadServer) {
  ScramClientExchange client("pw");
  client.set_client_nonce_for_testing("abc");
  (void)client.client_first();
  EXPECT_FALSE(client.on_server_first("r=xyz123,s=QUJD,i=4096"));  // nonce does not extend ours
  EXPECT_FALSE(client.on_server_first("r=abcdef,s=!!!,i=4096"));   // salt not base64
  EXPECT_FALSE(client.on_server_first("r=abcdef,s=QUJD,i=0"));     // iterations
  EXPECT_FALSE(client.on_server_first("garbage"));
  auto ok = client.on_server_first("r=abcdef,s=QUJD,i=4096");
  ASSERT_TRUE(ok);
  EXPECT_FALSE(client.on_server_final("v=AAAA"));                   // wrong server signature
  EXPECT_FALSE(client.on_server_final("e=other-error"));
}

TEST(Md5Client, ResponseIsWhatTheServerChecks) {
  // The stored md5 secret for ("bob", "pw") as PostgreSQL makes it: md5(pw + user).
  std::optional<Credential> cred(Credential(make_md5_secret("pw", "bob")));
  const uint8_t salt[4] = {1, 2, 3, 4};
  std::string resp = md5_password_response("bob", "pw", salt);
  EXPECT_EQ(resp.size(), 35u);
  std::array<uint8_t, 4> s{1, 2, 3, 4};
  EXPECT_TRUE(check_md5_response(*cred, "bob", s, resp));
  EXPECT_FALSE(check_md5_response(*cred, "bob", s, md5_password_response("bob", "nope", salt)));
}

}  // namespace
}  // namespace metagate::auth
