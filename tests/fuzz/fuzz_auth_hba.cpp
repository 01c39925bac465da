// Fuzz target: access rules in pg_hba.conf syntax (parse_hba_line, parse_hba, match_hba,
// IpAddress::parse) — the config file is operator input, but a bad line must give a
// ConfigError, never a crash.
//
// Input: pg_hba.conf text. Checked: no crash; parse_hba agrees with parse_hba_line line by
// line; every parsed rule matches consistently (a rule that matches a connection is found by
// match_hba unless an earlier rule matches); addresses round-trip through to_string().
#include <array>
#include <string>
#include <vector>

#include "fuzz_common.hpp"
#include "metagate/auth/hba.hpp"

using namespace metagate::auth;
using fuzz::printable;

namespace {

void check_address_token(std::string_view tok) {
  // Only the address part of a CIDR is an address.
  std::string_view addr = tok.substr(0, tok.find('/'));
  auto a = IpAddress::parse(addr);
  if (!a) return;
  std::string s = a->to_string();
  auto b = IpAddress::parse(s);
  FUZZ_CHECK(b && *b == *a, "address %s prints as %s which does not parse back", printable(addr).c_str(), s.c_str());
  auto raw = IpAddress::from_bytes(std::span<const uint8_t>(a->bytes.data(), a->v6 ? 16 : 4));
  FUZZ_CHECK(raw && *raw == *a, "from_bytes disagrees with parse for %s", s.c_str());
  (void)a->unmapped();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);

  // Line by line, as parse_hba does.
  std::vector<HbaRule> rules;
  bool line_error = false;
  int line_no = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    ++line_no;
    auto r = parse_hba_line(line, line_no);
    if (!r) {
      FUZZ_CHECK(!r.error().message.empty(), "ConfigError without a message");
      line_error = true;
    } else if (*r) {
      FUZZ_CHECK((*r)->line_number == line_no, "line number %d, expected %d", (*r)->line_number, line_no);
      FUZZ_CHECK(!(*r)->databases.empty() && !(*r)->users.empty(), "rule without databases or users");
      rules.push_back(std::move(**r));
    }
    // Tokens that look like addresses: exercise the address parser on its own.
    size_t t = 0;
    while (t < line.size()) {
      size_t e = line.find_first_of(" \t", t);
      if (e == std::string_view::npos) e = line.size();
      if (e > t) check_address_token(line.substr(t, e - t));
      t = e + 1;
    }
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }

  auto all = parse_hba(text);
  FUZZ_CHECK(all.has_value() == !line_error, "parse_hba %s but a line %s", all ? "succeeded" : "failed",
             line_error ? "failed" : "parsed");
  if (!all) return 0;
  FUZZ_CHECK(all->size() == rules.size(), "parse_hba found %zu rules, lines gave %zu", all->size(), rules.size());

  static const std::array<std::string_view, 5> kClients = {"127.0.0.1", "10.1.2.3", "::1", "::ffff:10.1.2.3",
                                                          "2001:db8::7"};
  for (std::string_view c : kClients) {
    for (int tls = 0; tls < 2; ++tls) {
      HbaConnection conn;
      conn.client = IpAddress::parse(c).value();
      conn.tls = tls != 0;
      conn.database = "grafana";
      conn.user = "grafana";
      const HbaRule* hit = match_hba(*all, conn);
      if (hit) {
        FUZZ_CHECK(hit >= all->data() && hit < all->data() + all->size(), "match_hba returned a foreign rule");
        // First match wins: no earlier rule may match.
        for (const HbaRule* r = all->data(); r != hit; ++r)
          FUZZ_CHECK(match_hba(std::span<const HbaRule>(r, 1), conn) == nullptr, "an earlier rule matches too");
        if (hit->method == Method::kReject) (void)hba_reject_error(conn);
        (void)method_name(hit->method);
      } else {
        AuthError e = no_hba_entry_error(conn);
        FUZZ_CHECK(e.sqlstate == "28000", "no_hba_entry_error sqlstate %s", e.sqlstate.c_str());
      }
    }
  }
  return 0;
}
