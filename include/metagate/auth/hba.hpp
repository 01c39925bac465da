// Access rules in pg_hba.conf syntax: parsing lines, matching a connection (first match wins),
// and the FATAL messages PostgreSQL sends when no rule matches or a rule rejects.
//
// Supported: connection types host, hostssl, hostnossl; databases all, sameuser or names;
// users all or names (comma lists, "quoted" names are never keywords); addresses all,
// CIDR (v4/v6) or address + netmask as two fields; methods trust, reject, password, md5,
// scram-sha-256; comments (#). Everything else PostgreSQL knows (local, hostgssenc,
// @file, +group, samerole, replication, samehost, samenet, host names, other methods,
// auth options) is rejected with a clear ConfigError rather than silently ignored.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "metagate/auth/error.hpp"
#include "metagate/auth/password.hpp"

namespace metagate::auth {

struct IpAddress {
  bool v6 = false;
  std::array<uint8_t, 16> bytes{};  // network order; IPv4 uses bytes[0..3]

  // Numeric address only ("10.0.0.1", "::1", "::ffff:10.0.0.1"); no host names, no %zone.
  static std::optional<IpAddress> parse(std::string_view text);
  // 4 bytes (IPv4) or 16 bytes (IPv6), network order, e.g. from a sockaddr.
  static std::optional<IpAddress> from_bytes(std::span<const uint8_t> raw);

  bool is_v4_mapped() const;    // ::ffff:a.b.c.d
  IpAddress unmapped() const;   // the IPv4 address if v4-mapped, else *this
  std::string to_string() const;  // inet_ntop form
  friend bool operator==(const IpAddress&, const IpAddress&) = default;
};

enum class HbaConnType { kHost, kHostSsl, kHostNoSsl };

struct HbaName {
  enum class Kind { kAll, kSameUser, kName } kind = Kind::kName;  // kSameUser: databases only
  std::string name;
};

struct HbaRule {
  int line_number = 0;
  std::string line;  // the original text, for logs
  HbaConnType type = HbaConnType::kHost;
  std::vector<HbaName> databases;
  std::vector<HbaName> users;
  bool any_address = false;  // "all"
  IpAddress address;         // else: (client & mask) == (address & mask)
  IpAddress mask;
  Method method = Method::kReject;
};

// One line; nullopt for a blank or comment-only line. Errors name the line and the problem.
Expected<std::optional<HbaRule>, ConfigError> parse_hba_line(std::string_view line, int line_number = 1);
// Several lines ('\n'-separated, as in a pg_hba.conf file); the first error wins.
Expected<std::vector<HbaRule>, ConfigError> parse_hba(std::string_view text);

struct HbaConnection {
  IpAddress client;  // v4-mapped v6 clients also match IPv4 rules (by their IPv4 address)
  bool tls = false;
  std::string_view database;
  std::string_view user;
};

// The first rule that matches, or nullptr.
const HbaRule* match_hba(std::span<const HbaRule> rules, const HbaConnection& conn);

// `no pg_hba.conf entry for host "1.2.3.4", user "u", database "d", no encryption`
// (or `SSL encryption`), exactly as PostgreSQL 15 words it.
std::string no_hba_entry_message(std::string_view host, std::string_view user,
                                 std::string_view database, bool tls);
// FATAL 28000 with that message; the host is conn.client.to_string().
AuthError no_hba_entry_error(const HbaConnection& conn);
// FATAL 28000 `pg_hba.conf rejects connection for host "...", user "...", database "...", ...`
// for a matching `reject` rule.
AuthError hba_reject_error(const HbaConnection& conn);

}  // namespace metagate::auth
