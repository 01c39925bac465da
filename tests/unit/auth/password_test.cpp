// Unit tests of method selection and the cleartext/md5 checks against PostgreSQL-made secrets.
#include <gtest/gtest.h>

#include "metagate/auth/password.hpp"
#include "pg_fixtures.hpp"

using namespace metagate::auth;

namespace {
Credential cred(std::string_view text) { return Credential::parse(text).value(); }
}  // namespace

TEST(ChallengeFor, FollowsPostgres15) {
  Credential scram = cred(pg_fixtures::kScramSecret);
  Credential md5 = cred(pg_fixtures::kMd5Secret);
  EXPECT_EQ(challenge_for(Method::kTrust, &scram), Challenge::kNone);
  EXPECT_EQ(challenge_for(Method::kReject, &scram), Challenge::kReject);
  EXPECT_EQ(challenge_for(Method::kPassword, &md5), Challenge::kCleartext);
  EXPECT_EQ(challenge_for(Method::kPassword, nullptr), Challenge::kCleartext);
  EXPECT_EQ(challenge_for(Method::kMd5, &md5), Challenge::kMd5);
  EXPECT_EQ(challenge_for(Method::kMd5, &scram), Challenge::kScram);   // PG upgrades to SCRAM
  EXPECT_EQ(challenge_for(Method::kMd5, nullptr), Challenge::kScram);  // mock, default encryption
  EXPECT_EQ(challenge_for(Method::kScramSha256, &scram), Challenge::kScram);
  EXPECT_EQ(challenge_for(Method::kScramSha256, &md5), Challenge::kScram);  // doomed mock exchange
  EXPECT_EQ(method_name(Method::kScramSha256), "scram-sha-256");
}

TEST(Cleartext, ChecksPostgresSecrets) {
  Credential scram = cred(pg_fixtures::kScramSecret);
  Credential md5 = cred(pg_fixtures::kMd5Secret);
  EXPECT_TRUE(check_cleartext(scram, "u", "secret"));
  EXPECT_TRUE(check_cleartext(md5, "u_md5", "secret"));
  EXPECT_FALSE(check_cleartext(md5, "u", "secret"));  // md5 is salted with the user name
  for (std::string_view wrong : {"Secret", "secret ", "secre", "x"}) {
    EXPECT_FALSE(check_cleartext(scram, "u", wrong)) << wrong;
    EXPECT_FALSE(check_cleartext(md5, "u_md5", wrong)) << wrong;
  }
  auto e = check_cleartext(scram, "u", "wrong");
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().sqlstate, "28P01");
  EXPECT_EQ(e.error().message, "password authentication failed for user \"u\"");
  EXPECT_EQ(e.error().log_detail, "Password does not match for user \"u\".");
  EXPECT_EQ(e.error().to_pg_error().severity, "FATAL");
}

TEST(Cleartext, AppliesSaslprepLikePostgres) {
  // Each secret below was made by PostgreSQL from the first password; the others are what
  // PG's SASLprep maps them to (and PG accepted them over psql with method `password`).
  EXPECT_TRUE(check_cleartext(cred(pg_fixtures::kScramNonAscii), "u", "pässwörd"));
  EXPECT_FALSE(check_cleartext(cred(pg_fixtures::kScramNonAscii), "u", "passwort"));
  EXPECT_TRUE(check_cleartext(cred(pg_fixtures::kScramSoftHyphen), "u", "I\u00ADX"));
  EXPECT_TRUE(check_cleartext(cred(pg_fixtures::kScramSoftHyphen), "u", "IX"));
  EXPECT_TRUE(check_cleartext(cred(pg_fixtures::kScramNbsp), "u", "a\u00A0b"));
  EXPECT_TRUE(check_cleartext(cred(pg_fixtures::kScramNbsp), "u", "a b"));
  EXPECT_TRUE(check_cleartext(cred(pg_fixtures::kScramPrivateUse), "u", "a\uE000b"));  // raw bytes
  EXPECT_FALSE(check_cleartext(cred(pg_fixtures::kScramPrivateUse), "u", "ab"));
  // Our generated verifiers, which PG accepted.
  EXPECT_TRUE(check_cleartext(cred(pg_fixtures::kOursSecret), "u", "secret"));
  EXPECT_TRUE(check_cleartext(cred(pg_fixtures::kOursRandomSalt), "u", "secret"));
  EXPECT_TRUE(check_cleartext(cred(pg_fixtures::kOursNonAscii), "u", "pässwörd"));
}

TEST(Cleartext, EdgeCases) {
  Credential scram = cred(pg_fixtures::kScramSecret);
  auto unknown = check_cleartext(nullptr, "ghost", "secret");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().message, "password authentication failed for user \"ghost\"");
  EXPECT_EQ(unknown.error().log_detail, "Role \"ghost\" does not exist.");
  EXPECT_FALSE(check_cleartext(scram, "u", ""));
  auto nul = check_cleartext(scram, "u", std::string_view("sec\0ret", 7));
  ASSERT_FALSE(nul);
  EXPECT_EQ(nul.error().sqlstate, "08P01");
  auto big = check_cleartext(scram, "u", std::string(2000, 'a'));
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error().message, "password too long");
}

TEST(Md5Challenge, ChecksResponses) {
  Credential md5 = cred(pg_fixtures::kMd5Secret);
  std::array<uint8_t, 4> salt{0x01, 0x02, 0xfe, 0xff};
  std::string good = md5_client_response("secret", "u_md5", salt);
  EXPECT_EQ(good.size(), 35u);
  EXPECT_TRUE(check_md5_response(md5, "u_md5", salt, good));
  EXPECT_FALSE(check_md5_response(md5, "u_md5", {1, 2, 3, 4}, good));  // other salt
  EXPECT_FALSE(check_md5_response(md5, "u_md5", salt, md5_client_response("wrong", "u_md5", salt)));
  EXPECT_FALSE(check_md5_response(md5, "u_md5", salt, good.substr(0, 34)));
  EXPECT_FALSE(check_md5_response(md5, "u_md5", salt, ""));
  EXPECT_FALSE(check_md5_response(md5, "u_md5", salt, "secret"));
  auto e = check_md5_response(cred(pg_fixtures::kScramSecret), "u", salt, good);
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().sqlstate, "28P01");
  EXPECT_NE(e.error().log_detail.find("cannot be used with MD5"), std::string::npos);
  EXPECT_FALSE(check_md5_response(nullptr, "ghost", salt, good));
}

TEST(Md5Challenge, KnownVectorAndRandomSalt) {
  // md5(md5("secret"+"u_md5") hex + 01 02 fe ff), computed independently:
  //   python3 -c "import hashlib;i=hashlib.md5(b'secretu_md5').hexdigest().encode();
  //               print('md5'+hashlib.md5(i+bytes([1,2,254,255])).hexdigest())"
  EXPECT_EQ(md5_client_response("secret", "u_md5", {0x01, 0x02, 0xfe, 0xff}), "md5d70d5f55e37e52621e005ec40c823216");
  bool differs = false;
  auto first = random_md5_salt();
  for (int i = 0; i < 4 && !differs; ++i) differs = random_md5_salt() != first;
  EXPECT_TRUE(differs);
}
