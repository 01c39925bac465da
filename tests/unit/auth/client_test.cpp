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
