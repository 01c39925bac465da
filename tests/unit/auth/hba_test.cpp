// Unit tests of pg_hba-style rules: parsing, errors, matching (v4, v6, v4-mapped, netmask,
// order, ssl/nossl, lists) and the PostgreSQL 15 error texts.
#include <gtest/gtest.h>

#include "metagate/auth/hba.hpp"

using namespace metagate::auth;

namespace {

std::vector<HbaRule> rules(std::string_view text) {
  auto r = parse_hba(text);
  EXPECT_TRUE(r) << (r ? "" : r.error().message);
  return r ? std::move(*r) : std::vector<HbaRule>{};
}

std::string error_of(std::string_view line) {
  auto r = parse_hba_line(line, 7);
  if (r) return "<parsed>";
  return r.error().message;
}

// The 1-based line of the first matching rule, 0 for none.
int match(const std::vector<HbaRule>& rs, std::string_view ip, bool tls, std::string_view db, std::string_view user) {
  HbaConnection c{IpAddress::parse(ip).value(), tls, db, user};
  const HbaRule* r = match_hba(rs, c);
  return r ? r->line_number : 0;
}

}  // namespace

TEST(IpAddress, ParsesFormatsAndUnmaps) {
  auto v4 = IpAddress::parse("192.168.1.20").value();
  EXPECT_FALSE(v4.v6);
  EXPECT_EQ(v4.to_string(), "192.168.1.20");
  auto v6 = IpAddress::parse("2001:DB8::1").value();
  EXPECT_TRUE(v6.v6);
  EXPECT_EQ(v6.to_string(), "2001:db8::1");
  auto mapped = IpAddress::parse("::ffff:10.1.2.3").value();
  EXPECT_TRUE(mapped.is_v4_mapped());
  EXPECT_EQ(mapped.unmapped(), IpAddress::parse("10.1.2.3").value());
  EXPECT_EQ(mapped.to_string(), "::ffff:10.1.2.3");
  EXPECT_FALSE(v6.is_v4_mapped());
  EXPECT_EQ(v6.unmapped(), v6);
  const uint8_t raw4[] = {127, 0, 0, 1};
  EXPECT_EQ(IpAddress::from_bytes(raw4)->to_string(), "127.0.0.1");
  uint8_t raw16[16] = {};
  raw16[15] = 1;
  EXPECT_EQ(IpAddress::from_bytes(raw16)->to_string(), "::1");
  const uint8_t raw5[5] = {};
  EXPECT_FALSE(IpAddress::from_bytes(raw5));
  for (std::string_view bad : {"", "1.2.3", "1.2.3.256", "localhost", "fe80::1%eth0", "::g", "1.2.3.4 "})
    EXPECT_FALSE(IpAddress::parse(bad)) << bad;
}

TEST(Hba, ParsesTheSupportedForms) {
  auto rs = rules(
      "# comment line\n"
      "\n"
      "host all all 127.0.0.1/32 trust\n"
      "hostssl grafana grafana 0.0.0.0/0 scram-sha-256   # trailing comment\n"
      "hostnossl all all ::1/128 md5\n"
      "host db1,db2, \"all\" alice,\"bob,smith\" 10.0.0.0 255.0.0.0 password\n"
      "host\tsameuser\tall\tall\treject\n");
  ASSERT_EQ(rs.size(), 5u);
  EXPECT_EQ(rs[0].line_number, 3);
  EXPECT_EQ(rs[0].type, HbaConnType::kHost);
  EXPECT_EQ(rs[0].method, Method::kTrust);
  EXPECT_EQ(rs[0].mask, IpAddress::parse("255.255.255.255").value());
  EXPECT_EQ(rs[1].type, HbaConnType::kHostSsl);
  EXPECT_EQ(rs[1].method, Method::kScramSha256);
  EXPECT_EQ(rs[1].databases[0].name, "grafana");
  EXPECT_EQ(rs[2].type, HbaConnType::kHostNoSsl);
  EXPECT_TRUE(rs[2].address.v6);
  EXPECT_EQ(rs[3].line_number, 6);
  ASSERT_EQ(rs[3].databases.size(), 3u);
  EXPECT_EQ(rs[3].databases[2].kind, HbaName::Kind::kName);  // quoted "all" is a name
  EXPECT_EQ(rs[3].databases[2].name, "all");
  ASSERT_EQ(rs[3].users.size(), 2u);
  EXPECT_EQ(rs[3].users[1].name, "bob,smith");
  EXPECT_EQ(rs[3].mask, IpAddress::parse("255.0.0.0").value());
  EXPECT_EQ(rs[4].databases[0].kind, HbaName::Kind::kSameUser);
  EXPECT_TRUE(rs[4].any_address);
  EXPECT_EQ(rs[4].method, Method::kReject);
  EXPECT_EQ(rs[4].line, "host\tsameuser\tall\tall\treject");
  auto blank = parse_hba_line("   # nothing", 1);
  ASSERT_TRUE(blank);
  EXPECT_FALSE(blank->has_value());
}

TEST(Hba, ErrorsAreClear) {
  EXPECT_EQ(error_of("local all all trust"),
            "pg_hba line 7: connection type \"local\" is unsupported: metagate only accepts TCP connections");
  EXPECT_NE(error_of("hostgssenc all all all trust").find("unsupported"), std::string::npos);
  EXPECT_EQ(error_of("hots all all all trust"), "pg_hba line 7: invalid connection type \"hots\"");
  EXPECT_EQ(error_of("host @dbs all all trust"), "pg_hba line 7: \"@dbs\": @file inclusion is not supported");
  EXPECT_NE(error_of("host all @users all trust").find("@file inclusion is not supported"), std::string::npos);
  EXPECT_NE(error_of("host all +admins all trust").find("group membership"), std::string::npos);
  EXPECT_NE(error_of("host samerole all all trust").find("\"samerole\" is not supported"), std::string::npos);
  EXPECT_NE(error_of("host replication all all trust").find("not supported"), std::string::npos);
  EXPECT_NE(error_of("host all all samehost reject").find("\"samehost\" is not supported"), std::string::npos);
  EXPECT_NE(error_of("host all all samenet reject").find("\"samenet\" is not supported"), std::string::npos);
  EXPECT_NE(error_of("host all all db.example.com trust").find("host name"), std::string::npos);
  EXPECT_NE(error_of("host all all 127.0.0.1 trust").find("has no mask"), std::string::npos);
  EXPECT_EQ(error_of("host all all 127.0.0.1"), "pg_hba line 7: end-of-line before netmask specification");
  EXPECT_EQ(error_of("host all all 127.0.0.1 ffff:: trust"), "pg_hba line 7: IP address and mask do not match");
  EXPECT_EQ(error_of("host all all 127.0.0.1 255.0.0 trust"), "pg_hba line 7: invalid IP mask \"255.0.0\"");
  EXPECT_EQ(error_of("host all all 127.0.0.1/33 trust"),
            "pg_hba line 7: invalid CIDR mask in address \"127.0.0.1/33\"");
  EXPECT_NE(error_of("host all all ::1/129 trust").find("invalid CIDR mask"), std::string::npos);
  EXPECT_NE(error_of("host all all 10.0.0.0/x trust").find("invalid CIDR mask"), std::string::npos);
  EXPECT_NE(error_of("host all all 10.0.0.0/ trust").find("invalid CIDR mask"), std::string::npos);
  EXPECT_EQ(error_of("host all all 300.0.0.0/8 trust"), "pg_hba line 7: invalid IP address \"300.0.0.0\"");
  EXPECT_NE(error_of("host all all fe80::1%eth0/64 trust").find("zone"), std::string::npos);
  EXPECT_EQ(error_of("host all all 1.2.3.4/32,5.6.7.8/32 trust"),
            "pg_hba line 7: multiple values specified for host address");
  EXPECT_EQ(error_of("host all all all md5,trust"),
            "pg_hba line 7: multiple values specified for authentication type");
  EXPECT_EQ(error_of("host all all all ident"), "pg_hba line 7: authentication method \"ident\" is not supported");
  EXPECT_EQ(error_of("host all all all scram"), "pg_hba line 7: invalid authentication method \"scram\"");
  EXPECT_EQ(error_of("hostssl all all all scram-sha-256 clientcert=verify-full"),
            "pg_hba line 7: authentication option \"clientcert=verify-full\" is not supported");
  EXPECT_EQ(error_of("host"), "pg_hba line 7: end-of-line before database specification");
  EXPECT_EQ(error_of("host all"), "pg_hba line 7: end-of-line before role specification");
  EXPECT_EQ(error_of("host all all"), "pg_hba line 7: end-of-line before IP address specification");
  EXPECT_EQ(error_of("host all all all"), "pg_hba line 7: end-of-line before authentication method");
  EXPECT_EQ(error_of("host all,,x all all trust"), "pg_hba line 7: empty item in comma-separated list");
  EXPECT_EQ(error_of("host all, # x"), "pg_hba line 7: end-of-line after trailing comma");
  EXPECT_EQ(error_of("host \"all all all trust"), "pg_hba line 7: unterminated quoted string");
  auto multi = parse_hba("host all all all trust\nhost all all all bogus\n");
  ASSERT_FALSE(multi);
  EXPECT_EQ(multi.error().message, "pg_hba line 2: invalid authentication method \"bogus\"");
}

TEST(Hba, MatchesInOrderByAddressFamilyAndMask) {
  auto rs = rules(
      "host all all 10.1.0.0/16 reject\n"          // 1
      "host all all 10.0.0.0 255.0.0.0 md5\n"      // 2
      "host all all 2001:db8::/32 scram-sha-256\n" // 3
      "host all all ::1/128 trust\n"               // 4
      "host all all 192.168.1.77/24 password\n");  // 5 (host bits ignored, as in PG)
  EXPECT_EQ(match(rs, "10.1.2.3", false, "d", "u"), 1);
  EXPECT_EQ(match(rs, "10.2.2.3", false, "d", "u"), 2);
  EXPECT_EQ(match(rs, "11.0.0.1", false, "d", "u"), 0);
  EXPECT_EQ(match(rs, "2001:db8:ffff::5", false, "d", "u"), 3);
  EXPECT_EQ(match(rs, "2001:db9::5", false, "d", "u"), 0);
  EXPECT_EQ(match(rs, "::1", false, "d", "u"), 4);
  EXPECT_EQ(match(rs, "127.0.0.1", false, "d", "u"), 0);  // ::1 does not cover IPv4 loopback
  EXPECT_EQ(match(rs, "192.168.1.5", false, "d", "u"), 5);
  EXPECT_EQ(match(rs, "192.168.2.5", false, "d", "u"), 0);
  // v4-mapped clients (dual-stack listener) match IPv4 rules by their IPv4 address.
  EXPECT_EQ(match(rs, "::ffff:10.1.2.3", false, "d", "u"), 1);
  EXPECT_EQ(match(rs, "::ffff:10.9.9.9", false, "d", "u"), 2);
  EXPECT_EQ(match(rs, "::ffff:11.0.0.1", false, "d", "u"), 0);
  // ...and still match IPv6 rules written for the mapped range.
  auto mapped_rule = rules("host all all ::ffff:0:0/96 trust\n");
  EXPECT_EQ(match(mapped_rule, "::ffff:1.2.3.4", false, "d", "u"), 1);
  EXPECT_EQ(match(mapped_rule, "1.2.3.4", false, "d", "u"), 0);
  // /0 matches everything of its family only.
  auto zero = rules("host all all 0.0.0.0/0 trust\nhost all all ::/0 md5\n");
  EXPECT_EQ(match(zero, "203.0.113.9", false, "d", "u"), 1);
  EXPECT_EQ(match(zero, "2001:db8::1", false, "d", "u"), 2);
}

TEST(Hba, MatchesSslNamesAndLists) {
  auto rs = rules(
      "hostssl grafana grafana 0.0.0.0/0 scram-sha-256\n"  // 1
      "hostnossl grafana all 0.0.0.0/0 reject\n"           // 2
      "host a,b alice,bob all md5\n"                        // 3
      "host sameuser all all password\n"                    // 4
      "host all carol all trust\n");                        // 5
  EXPECT_EQ(match(rs, "1.2.3.4", true, "grafana", "grafana"), 1);
  EXPECT_EQ(match(rs, "1.2.3.4", false, "grafana", "grafana"), 2);
  EXPECT_EQ(match(rs, "1.2.3.4", true, "grafana", "alice"), 0);
  EXPECT_EQ(match(rs, "1.2.3.4", false, "b", "alice"), 3);
  EXPECT_EQ(match(rs, "::1", true, "a", "bob"), 3);
  EXPECT_EQ(match(rs, "1.2.3.4", false, "c", "bob"), 0);
  EXPECT_EQ(match(rs, "1.2.3.4", false, "dave", "dave"), 4);
  EXPECT_EQ(match(rs, "1.2.3.4", false, "x", "carol"), 5);
  EXPECT_EQ(match(rs, "1.2.3.4", false, "x", "Carol"), 0);  // names are case-sensitive
  EXPECT_EQ(match(rules("host \"all\" all all trust\n"), "1.2.3.4", false, "x", "u"), 0);
  EXPECT_EQ(match(rules("host \"all\" all all trust\n"), "1.2.3.4", false, "all", "u"), 1);
  EXPECT_EQ(match({}, "1.2.3.4", false, "x", "u"), 0);
}

TEST(Hba, PostgresErrorTexts) {
  // Wording checked against PG 15.18's FATALs for the same situations.
  EXPECT_EQ(no_hba_entry_message("1.2.3.4", "u", "d", false),
            "no pg_hba.conf entry for host \"1.2.3.4\", user \"u\", database \"d\", no encryption");
  EXPECT_EQ(no_hba_entry_message("1.2.3.4", "u", "d", true),
            "no pg_hba.conf entry for host \"1.2.3.4\", user \"u\", database \"d\", SSL encryption");
  HbaConnection c{IpAddress::parse("127.0.0.1").value(), false, "postgres", "gen_rand"};
  AuthError e = no_hba_entry_error(c);
  EXPECT_EQ(e.sqlstate, "28000");
  EXPECT_EQ(e.to_pg_error().severity, "FATAL");
  AuthError r = hba_reject_error(c);
  EXPECT_EQ(r.sqlstate, "28000");
  EXPECT_EQ(r.message,
            "pg_hba.conf rejects connection for host \"127.0.0.1\", user \"gen_rand\", database \"postgres\", "
            "no encryption");
  HbaConnection v6{IpAddress::parse("::1").value(), true, "d", "u"};
  EXPECT_EQ(no_hba_entry_error(v6).message,
            "no pg_hba.conf entry for host \"::1\", user \"u\", database \"d\", SSL encryption");
}
