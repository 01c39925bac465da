// pg_hba.conf-style rules: tokenising, parsing, address matching and the PG error texts.
#include "metagate/auth/hba.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cstring>

namespace metagate::auth {

namespace {

// ---- IP addresses -------------------------------------------------------------------------

constexpr std::array<uint8_t, 12> kV4MappedPrefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

IpAddress prefix_mask(bool v6, int bits) {
  IpAddress m;
  m.v6 = v6;
  for (int i = 0; i < (v6 ? 16 : 4); ++i) {
    int b = std::clamp(bits - 8 * i, 0, 8);
    m.bytes[static_cast<size_t>(i)] = static_cast<uint8_t>(0xff00 >> b);
  }
  return m;
}

bool in_network(const IpAddress& client, const IpAddress& net, const IpAddress& mask) {
  if (client.v6 != net.v6) return false;
  for (size_t i = 0; i < (net.v6 ? 16u : 4u); ++i)
    if ((client.bytes[i] & mask.bytes[i]) != (net.bytes[i] & mask.bytes[i])) return false;
  return true;
}

// ---- Tokenising ---------------------------------------------------------------------------

struct Token {
  std::string text;
  bool quoted = false;
  bool is(std::string_view keyword) const { return !quoted && text == keyword; }
};
using Field = std::vector<Token>;  // a comma-separated list

// Splits a line into whitespace-separated fields of comma-separated tokens. Double quotes
// protect spaces, commas and '#', and stop a token being a keyword; "" inside quotes is a '"'.
Expected<std::vector<Field>, std::string> tokenize(std::string_view line) {
  std::vector<Field> fields;
  size_t i = 0;
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (true) {
    while (i < line.size() && space(line[i])) ++i;
    if (i >= line.size() || line[i] == '#') break;
    Field field;
    bool more = true;
    while (more) {
      Token tok;
      bool in_quote = false;
      while (i < line.size() && (in_quote || (!space(line[i]) && line[i] != ',' && line[i] != '#'))) {
        char c = line[i++];
        if (c == '"') {
          if (in_quote && i < line.size() && line[i] == '"') {
            tok.text.push_back('"');
            ++i;
          } else {
            in_quote = !in_quote;
            tok.quoted = true;
          }
        } else {
          tok.text.push_back(c);
        }
      }
      if (in_quote) return unexpected(std::string("unterminated quoted string"));
      more = i < line.size() && line[i] == ',';
      if (tok.text.empty() && !tok.quoted) return unexpected(std::string("empty item in comma-separated list"));
      field.push_back(std::move(tok));
      if (more) {
        ++i;  // a trailing comma continues the list, also across whitespace (as in PG)
        while (i < line.size() && space(line[i])) ++i;
        if (i >= line.size() || line[i] == '#') return unexpected(std::string("end-of-line after trailing comma"));
      }
    }
    fields.push_back(std::move(field));
  }
  return fields;
}

// ---- Fields -------------------------------------------------------------------------------

Expected<std::vector<HbaName>, std::string> parse_names(const Field& f, bool database) {
  std::vector<HbaName> out;
  for (const Token& t : f) {
    if (!t.quoted && !t.text.empty() && t.text[0] == '@')
      return unexpected("\"" + t.text + "\": @file inclusion is not supported");
    if (t.is("all")) {
      out.push_back({HbaName::Kind::kAll, {}});
    } else if (database && t.is("sameuser")) {
      out.push_back({HbaName::Kind::kSameUser, {}});
    } else if (database && (t.is("samerole") || t.is("samegroup") || t.is("replication"))) {
      return unexpected("database keyword \"" + t.text + "\" is not supported");
    } else if (!database && !t.quoted && !t.text.empty() && t.text[0] == '+') {
      return unexpected("\"" + t.text + "\": group membership (+role) is not supported");
    } else {
      out.push_back({HbaName::Kind::kName, t.text});
    }
  }
  return out;
}

std::optional<int> parse_prefix_length(std::string_view s, int max) {
  if (s.empty() || s.size() > 3) return std::nullopt;
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  if (v > max) return std::nullopt;
  return v;
}

std::optional<Method> parse_method(std::string_view s) {
  if (s == "trust") return Method::kTrust;
  if (s == "reject") return Method::kReject;
  if (s == "password") return Method::kPassword;
  if (s == "md5") return Method::kMd5;
  if (s == "scram-sha-256") return Method::kScramSha256;
  return std::nullopt;
}

bool is_known_pg_method(std::string_view s) {
  for (std::string_view m : {"gss", "sspi", "ident", "peer", "ldap", "radius", "cert", "pam", "bsd"})
    if (s == m) return true;
  return false;
}

// Parses fields[idx...] into the rule's address; returns the index of the method field.
Expected<size_t, std::string> parse_address(const std::vector<Field>& fields, size_t idx, HbaRule& rule) {
  if (idx >= fields.size()) return unexpected(std::string("end-of-line before IP address specification"));
  if (fields[idx].size() != 1) return unexpected(std::string("multiple values specified for host address"));
  const Token& t = fields[idx][0];
  if (t.is("all")) {
    rule.any_address = true;
    return idx + 1;
  }
  if (t.is("samehost") || t.is("samenet"))
    return unexpected("address keyword \"" + t.text + "\" is not supported; list the addresses explicitly");
  std::string_view text = t.text;
  size_t slash = text.find('/');
  auto addr = IpAddress::parse(text.substr(0, slash));
  if (!addr) {
    if (text.find('%') != std::string_view::npos)
      return unexpected("invalid IP address \"" + t.text + "\": zone indices are not supported");
    if (slash == std::string_view::npos && text.find(':') == std::string_view::npos &&
        std::any_of(text.begin(), text.end(), [](char c) { return std::isalpha(static_cast<unsigned char>(c)); }))
      return unexpected("host name \"" + t.text + "\" is not supported; use an IP address");
    return unexpected("invalid IP address \"" + std::string(text.substr(0, slash)) + "\"");
  }
  rule.address = *addr;
  if (slash != std::string_view::npos) {
    auto bits = parse_prefix_length(text.substr(slash + 1), addr->v6 ? 128 : 32);
    if (!bits) return unexpected("invalid CIDR mask in address \"" + t.text + "\"");
    rule.mask = prefix_mask(addr->v6, *bits);
    return idx + 1;
  }
  // Address followed by a netmask in the next field.
  if (idx + 1 >= fields.size()) return unexpected(std::string("end-of-line before netmask specification"));
  if (fields[idx + 1].size() != 1) return unexpected(std::string("multiple values specified for netmask"));
  const Token& m = fields[idx + 1][0];
  auto mask = IpAddress::parse(m.text);
  if (!mask) {
    if (parse_method(m.text) || is_known_pg_method(m.text))
      return unexpected("address \"" + t.text + "\" has no mask: use CIDR (e.g. " + t.text +
                        (addr->v6 ? "/128" : "/32") + ") or give a netmask");
    return unexpected("invalid IP mask \"" + m.text + "\"");
  }
  if (mask->v6 != addr->v6) return unexpected(std::string("IP address and mask do not match"));
  rule.mask = *mask;
  return idx + 2;
}

Expected<HbaRule, std::string> parse_fields(const std::vector<Field>& fields) {
  HbaRule rule;
  const Field& type = fields[0];
  if (type.size() != 1) return unexpected(std::string("multiple values specified for connection type"));
  const std::string& ts = type[0].text;
  if (ts == "host") rule.type = HbaConnType::kHost;
  else if (ts == "hostssl") rule.type = HbaConnType::kHostSsl;
  else if (ts == "hostnossl") rule.type = HbaConnType::kHostNoSsl;
  else if (ts == "local") return unexpected(std::string("connection type \"local\" is unsupported: metagate only accepts TCP connections"));
  else if (ts == "hostgssenc" || ts == "hostnogssenc")
    return unexpected("connection type \"" + ts + "\" is unsupported: GSSAPI encryption is not available");
  else return unexpected("invalid connection type \"" + ts + "\"");

  if (fields.size() < 2) return unexpected(std::string("end-of-line before database specification"));
  auto dbs = parse_names(fields[1], true);
  if (!dbs) return unexpected(dbs.error());
  rule.databases = std::move(*dbs);
  if (fields.size() < 3) return unexpected(std::string("end-of-line before role specification"));
  auto users = parse_names(fields[2], false);
  if (!users) return unexpected(users.error());
  rule.users = std::move(*users);

  auto next = parse_address(fields, 3, rule);
  if (!next) return unexpected(next.error());
  size_t mi = *next;
  if (mi >= fields.size()) return unexpected(std::string("end-of-line before authentication method"));
  if (fields[mi].size() != 1) return unexpected(std::string("multiple values specified for authentication type"));
  const std::string& ms = fields[mi][0].text;
  auto method = parse_method(ms);
  if (!method) {
    if (is_known_pg_method(ms)) return unexpected("authentication method \"" + ms + "\" is not supported");
    return unexpected("invalid authentication method \"" + ms + "\"");
  }
  rule.method = *method;
  if (mi + 1 < fields.size())
    return unexpected("authentication option \"" + fields[mi + 1][0].text + "\" is not supported");
  return rule;
}

bool names_match(const std::vector<HbaName>& names, std::string_view value, std::string_view user) {
  for (const HbaName& n : names) {
    switch (n.kind) {
      case HbaName::Kind::kAll: return true;
      case HbaName::Kind::kSameUser:
        if (value == user) return true;
        break;
      case HbaName::Kind::kName:
        if (value == n.name) return true;
        break;
    }
  }
  return false;
}

std::string connection_text(std::string_view prefix, std::string_view host, std::string_view user,
                            std::string_view database, bool tls) {
  std::string s(prefix);
  s += " for host \"";
  s += host;
  s += "\", user \"";
  s += user;
  s += "\", database \"";
  s += database;
  s += "\", ";
  s += tls ? "SSL encryption" : "no encryption";
  return s;
}

}  // namespace

// ---- IpAddress ----------------------------------------------------------------------------

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  std::string s(text);
  IpAddress a;
  if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) return a;
  if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) == 1) {
    a.v6 = true;
    return a;
  }
  return std::nullopt;
}

std::optional<IpAddress> IpAddress::from_bytes(std::span<const uint8_t> raw) {
  if (raw.size() != 4 && raw.size() != 16) return std::nullopt;
  IpAddress a;
  a.v6 = raw.size() == 16;
  std::copy(raw.begin(), raw.end(), a.bytes.begin());
  return a;
}

bool IpAddress::is_v4_mapped() const {
  return v6 && std::equal(kV4MappedPrefix.begin(), kV4MappedPrefix.end(), bytes.begin());
}

IpAddress IpAddress::unmapped() const {
  if (!is_v4_mapped()) return *this;
  IpAddress a;
  std::copy(bytes.begin() + 12, bytes.end(), a.bytes.begin());
  return a;
}

std::string IpAddress::to_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), buf, sizeof buf);
  return buf;
}

// ---- Parsing and matching -----------------------------------------------------------------

Expected<std::optional<HbaRule>, ConfigError> parse_hba_line(std::string_view line, int line_number) {
  auto fail = [&](const std::string& why) {
    return unexpected(ConfigError{"pg_hba line " + std::to_string(line_number) + ": " + why});
  };
  auto fields = tokenize(line);
  if (!fields) return fail(fields.error());
  if (fields->empty()) return std::optional<HbaRule>{};
  auto rule = parse_fields(*fields);
  if (!rule) return fail(rule.error());
  rule->line_number = line_number;
  rule->line = std::string(line);
  return std::optional<HbaRule>(std::move(*rule));
}

Expected<std::vector<HbaRule>, ConfigError> parse_hba(std::string_view text) {
  std::vector<HbaRule> rules;
  int n = 0;
  while (!text.empty() || n == 0) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    auto r = parse_hba_line(line, ++n);
    if (!r) return unexpected(std::move(r).error());
    if (*r) rules.push_back(std::move(**r));
  }
  return rules;
}

const HbaRule* match_hba(std::span<const HbaRule> rules, const HbaConnection& conn) {
  for (const HbaRule& r : rules) {
    if (r.type == HbaConnType::kHostSsl && !conn.tls) continue;
    if (r.type == HbaConnType::kHostNoSsl && conn.tls) continue;
    if (!r.any_address && !in_network(conn.client, r.address, r.mask) &&
        !(conn.client.is_v4_mapped() && in_network(conn.client.unmapped(), r.address, r.mask)))
      continue;
    if (!names_match(r.databases, conn.database, conn.user)) continue;
    if (!names_match(r.users, conn.user, conn.user)) continue;
    return &r;
  }
  return nullptr;
}

std::string no_hba_entry_message(std::string_view host, std::string_view user, std::string_view database,
                                 bool tls) {
  return connection_text("no pg_hba.conf entry", host, user, database, tls);
}

AuthError no_hba_entry_error(const HbaConnection& conn) {
  return AuthError{std::string(sqlstate::kInvalidAuthorizationSpecification),
                   no_hba_entry_message(conn.client.to_string(), conn.user, conn.database, conn.tls), {}, {}};
}

AuthError hba_reject_error(const HbaConnection& conn) {
  return AuthError{std::string(sqlstate::kInvalidAuthorizationSpecification),
                   connection_text("pg_hba.conf rejects connection", conn.client.to_string(), conn.user,
                                   conn.database, conn.tls),
                   {}, {}};
}

}  // namespace metagate::auth
