// Unit tests of stored secrets: SCRAM verifier and md5 parsing/serialising/generation, SASLprep.
#include <gtest/gtest.h>

#include "metagate/auth/credential.hpp"
#include "metagate/auth/saslprep.hpp"
#include "pg_fixtures.hpp"

using namespace metagate::auth;

namespace {
std::array<uint8_t, 16> fixture_salt() {
  std::array<uint8_t, 16> s{};
  for (size_t i = 0; i < s.size(); ++i) s[i] = static_cast<uint8_t>(i * 17 + 3);
  return s;
}
std::string parse_error(std::string_view text) {
  auto r = parse_scram_verifier(text);
  return r ? std::string("<parsed>") : r.error().message;
}
}  // namespace

TEST(ScramVerifier, ParsesAndSerialisesPostgresSecrets) {
  for (auto text : {pg_fixtures::kScramSecret, pg_fixtures::kScramNonAscii, pg_fixtures::kOursNonAscii}) {
    auto v = parse_scram_verifier(text);
    ASSERT_TRUE(v) << v.error().message;
    EXPECT_EQ(v->to_string(), text);
  }
  auto v = parse_scram_verifier(pg_fixtures::kOursNonAscii);
  EXPECT_EQ(v->iterations, 10000);
  EXPECT_EQ(v->salt.size(), 16u);
}

TEST(ScramVerifier, GeneratesWhatPostgresAccepted) {
  auto salt = fixture_salt();
  EXPECT_EQ(make_scram_verifier("secret", salt)->to_string(), pg_fixtures::kOursSecret);
  EXPECT_EQ(make_scram_verifier("pässwörd", salt, 10000)->to_string(), pg_fixtures::kOursNonAscii);
  EXPECT_EQ(make_scram_verifier("I\u00ADX", salt)->to_string(), pg_fixtures::kOursSoftHyphen);
  EXPECT_EQ(make_scram_verifier("IX", salt)->to_string(), pg_fixtures::kOursSoftHyphen);
}

TEST(ScramVerifier, RandomSaltDiffers) {
  auto a = make_scram_verifier("secret");
  auto b = make_scram_verifier("secret");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->salt.size(), kScramSaltLength);
  EXPECT_EQ(a->iterations, 4096);
  EXPECT_NE(a->salt, b->salt);
  EXPECT_NE(a->stored_key, b->stored_key);
  EXPECT_TRUE(parse_scram_verifier(a->to_string()));
}

TEST(ScramVerifier, GenerationErrors) {
  auto salt = fixture_salt();
  EXPECT_FALSE(make_scram_verifier("secret", salt, 0));
  EXPECT_FALSE(make_scram_verifier("secret", std::span<const uint8_t>{}, 4096));
  EXPECT_EQ(make_scram_verifier(std::string(1025, 'x'), salt).error().message, "password too long");
  // U+FB01 LATIN SMALL LIGATURE FI: NFKC turns it into "fi", which we do not implement.
  auto r = make_scram_verifier("\uFB01sh", salt);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("normalisation"), std::string::npos);
}

TEST(ScramVerifier, ParseErrorsSayWhatIsWrong) {
  const std::string keys = "zaW3KCM/He55/ssh0IGJl02KmxN6xuNyZHYhRFzCg+c=:1XWQbpqAxcqU8CAbmuNyj6W5HO/TEa8wh0uOt0GOfDk=";
  EXPECT_NE(parse_error("scram-sha-256$4096:c2FsdA==$" + keys).find("does not start with"), std::string::npos);
  EXPECT_NE(parse_error("SCRAM-SHA-256$4096:c2FsdA==").find("\"$\""), std::string::npos);
  EXPECT_NE(parse_error("SCRAM-SHA-256$4096$" + keys).find("<iterations>:<salt>"), std::string::npos);
  EXPECT_NE(parse_error("SCRAM-SHA-256$abc:c2FsdA==$" + keys).find("iteration count \"abc\""), std::string::npos);
  EXPECT_NE(parse_error("SCRAM-SHA-256$0:c2FsdA==$" + keys).find("iteration count"), std::string::npos);
  EXPECT_NE(parse_error("SCRAM-SHA-256$-5:c2FsdA==$" + keys).find("iteration count"), std::string::npos);
  EXPECT_NE(parse_error("SCRAM-SHA-256$99999999999:c2FsdA==$" + keys).find("iteration count"), std::string::npos);
  EXPECT_NE(parse_error("SCRAM-SHA-256$4096:c2F*dA==$" + keys).find("salt is not valid base64"), std::string::npos);
  EXPECT_NE(parse_error("SCRAM-SHA-256$4096:$" + keys).find("salt is empty"), std::string::npos);
  EXPECT_NE(parse_error("SCRAM-SHA-256$4096:c2FsdA==$abc").find("<StoredKey>:<ServerKey>"), std::string::npos);
  EXPECT_NE(parse_error("SCRAM-SHA-256$4096:c2FsdA==$c2FsdA==:" + keys.substr(45)).find("StoredKey"), std::string::npos);
  EXPECT_NE(parse_error("SCRAM-SHA-256$4096:c2FsdA==$" + keys.substr(0, 45) + "c2FsdA==").find("ServerKey"),
            std::string::npos);
  EXPECT_NE(parse_error("SCRAM-SHA-256$4096:c2FsdA==$" + keys + "x").find("ServerKey"), std::string::npos);
}

TEST(Md5Secret, MatchesPostgres) {
  EXPECT_EQ(make_md5_secret("secret", "u_md5").to_string(), pg_fixtures::kMd5Secret);
  EXPECT_EQ(make_md5_secret("secret", "u_md5gen").to_string(), pg_fixtures::kOursMd5);
  auto m = parse_md5_secret(pg_fixtures::kMd5Secret);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->to_string(), pg_fixtures::kMd5Secret);
  EXPECT_EQ(*m, make_md5_secret("secret", "u_md5"));
}

TEST(Md5Secret, ParseErrors) {
  EXPECT_FALSE(parse_md5_secret("md5b86e5ba24c715f8b28df87aa9586488"));    // 31 digits
  EXPECT_FALSE(parse_md5_secret("md5b86e5ba24c715f8b28df87aa958648811"));  // 33 digits
  EXPECT_FALSE(parse_md5_secret("md5B86E5BA24C715F8B28DF87AA95864881"));   // PG: lowercase only
  EXPECT_FALSE(parse_md5_secret("md5b86e5ba24c715f8b28df87aa9586488g"));
  EXPECT_FALSE(parse_md5_secret("MD5b86e5ba24c715f8b28df87aa95864881"));
}

TEST(Credential, RecognisesBothKindsAndRefusesPlaintext) {
  auto s = Credential::parse(pg_fixtures::kScramSecret);
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->is_scram());
  EXPECT_EQ(s->md5(), nullptr);
  EXPECT_EQ(s->to_string(), pg_fixtures::kScramSecret);
  auto m = Credential::parse(pg_fixtures::kMd5Secret);
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->is_md5());
  EXPECT_EQ(m->to_string(), pg_fixtures::kMd5Secret);
  auto p = Credential::parse("secret");
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().message.find("plaintext"), std::string::npos);
  EXPECT_FALSE(Credential::parse("md5nothex"));
  EXPECT_FALSE(Credential::parse("SCRAM-SHA-256$x"));
}

TEST(Saslprep, AsciiIsUntouchedEvenControls) {
  EXPECT_EQ(saslprep("pencil").output, "pencil");
  auto r = saslprep("tab\there");  // pure ASCII: PG skips all checks
  EXPECT_EQ(r.status, SaslprepStatus::kSuccess);
  EXPECT_EQ(r.output, "tab\there");
  EXPECT_EQ(saslprep("").status, SaslprepStatus::kSuccess);
}

TEST(Saslprep, MapsProhibitsAndFallsBackLikePostgres) {
  EXPECT_EQ(saslprep("I\u00ADX").output, "IX");      // RFC 4013 example: soft hyphen
  EXPECT_EQ(saslprep("a\u00A0b").output, "a b");     // non-ASCII space
  EXPECT_EQ(saslprep("a\u3000b\u200Bc").output, "a b c");  // U+200B is in C.1.2, mapped before B.1
  EXPECT_EQ(saslprep("x\uFE0F").output, "x");        // variation selector -> nothing
  EXPECT_EQ(saslprep("пароль").output, "пароль");
  EXPECT_EQ(saslprep("密码€").output, "密码€");
  EXPECT_EQ(saslprep("a\uE000b").status, SaslprepStatus::kProhibited);   // private use
  EXPECT_EQ(saslprep("\u00E9\x07").status, SaslprepStatus::kProhibited);  // control in non-ASCII
  EXPECT_EQ(saslprep("\u00AD").status, SaslprepStatus::kProhibited);     // empty after mapping
  EXPECT_EQ(saslprep("\xC3\x28").status, SaslprepStatus::kInvalidUtf8);
  EXPECT_EQ(saslprep("\xC0\xAF").status, SaslprepStatus::kInvalidUtf8);   // overlong
  EXPECT_EQ(saslprep("\xED\xA0\x80").status, SaslprepStatus::kInvalidUtf8);  // surrogate
  EXPECT_EQ(saslprep("\xF4\x90\x80\x80").status, SaslprepStatus::kInvalidUtf8);  // > U+10FFFF
  EXPECT_EQ(saslprep("\xE2\x82").status, SaslprepStatus::kInvalidUtf8);  // truncated
  EXPECT_EQ(saslprep("e\u0301").status, SaslprepStatus::kUnsupported);   // would compose to é
  EXPECT_EQ(saslprep("\u05D0").status, SaslprepStatus::kUnsupported);    // RTL: bidi rules
  EXPECT_EQ(saslprep(std::string(1025, 'a')).status, SaslprepStatus::kTooLong);
  EXPECT_EQ(scram_password_bytes("a\uE000b"), "a\uE000b");
  EXPECT_EQ(scram_password_bytes("\xff"), "\xff");
  EXPECT_EQ(scram_password_bytes("e\u0301"), std::nullopt);
}
