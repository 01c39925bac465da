// libpq connection strings for PostgreSQL backends, parsed by libpq itself.
#include "metagate/config/conninfo.hpp"

#include <algorithm>
#include <libpq-fe.h>

#include <charconv>
#include <memory>

#include "internal.hpp"

namespace metagate::config {

namespace {

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t c = s.find(',', start);
    out.push_back(s.substr(start, c == std::string::npos ? std::string::npos : c - start));
    if (c == std::string::npos) break;
    start = c + 1;
  }
  return out;
}

}  // namespace

Expected<PostgresTarget, std::string> parse_conninfo(std::string_view conninfo) {
  std::string text(conninfo);
  if (text.find("://") != std::string::npos) return unexpected(std::string("use the keyword=value form, not a URI"));
  char* err = nullptr;
  std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)> opts(PQconninfoParse(text.c_str(), &err), &PQconninfoFree);
  if (!opts) {
    std::string m = err ? err : "invalid connection string";
    if (err) PQfreemem(err);
    while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
    return unexpected(m);
  }
  PostgresTarget t;
  std::string host, port;
  for (PQconninfoOption* o = opts.get(); o->keyword; ++o) {
    if (!o->val) continue;
    std::string k = o->keyword, v = o->val;
    if (k == "host") host = v;
    else if (k == "hostaddr") {
      if (host.empty()) host = v;
    } else if (k == "port") port = v;
    else if (k == "dbname") t.dbname = v;
    else if (k == "user") t.user = v;
    else if (k == "password") t.password = v;
    else if (k == "sslmode") t.sslmode = v;
    else if (k == "sslrootcert") t.sslrootcert = v;
    else if (k == "sslcert") t.sslcert = v;
    else if (k == "sslkey") t.sslkey = v;
    else if (k == "sslsni") t.sslsni = v != "0";
    else if (k == "connect_timeout") t.connect_timeout_s = std::max(1, std::atoi(v.c_str()));
  }
  static constexpr std::string_view kModes[] = {"disable", "allow", "prefer", "require", "verify-ca", "verify-full"};
  if (std::find(std::begin(kModes), std::end(kModes), t.sslmode) == std::end(kModes))
    return unexpected("invalid sslmode value: \"" + t.sslmode + "\"");
  if (t.sslcert.empty() != t.sslkey.empty())
    return unexpected(std::string("sslcert and sslkey go together: give both or neither"));
  if (host.empty()) host = "127.0.0.1";
  auto hosts = split_commas(host);
  auto ports = port.empty() ? std::vector<std::string>{"5432"} : split_commas(port);
  if (ports.size() != 1 && ports.size() != hosts.size())
    return unexpected("could not match " + std::to_string(ports.size()) + " port numbers to " +
                      std::to_string(hosts.size()) + " hosts");
  for (size_t i = 0; i < hosts.size(); ++i) {
    const std::string& p = ports.size() == 1 ? ports[0] : ports[i];
    int n = 0;
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), n);
    if (p.empty() || ec != std::errc() || end != p.data() + p.size() || n < 1 || n > 65535)
      return unexpected("invalid port number: \"" + p + "\"");
    if (hosts[i].empty()) return unexpected(std::string("empty host name in the host list"));
    if (hosts[i].front() == '/') return unexpected("Unix-domain sockets are not supported (host=" + hosts[i] + ")");
    t.hosts.push_back({hosts[i], static_cast<uint16_t>(n)});
  }
  return t;
}

std::string redact_conninfo(std::string_view conninfo) {
  // Rebuilt from libpq's parse: every explicitly set keyword, the password redacted.
  std::string text(conninfo);
  char* err = nullptr;
  std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)> opts(PQconninfoParse(text.c_str(), &err), &PQconninfoFree);
  if (err) PQfreemem(err);
  if (!opts) return "<unparsable conninfo>";
  std::string out;
  for (PQconninfoOption* o = opts.get(); o->keyword; ++o) {
    if (!o->val) continue;
    std::string k = o->keyword;
    std::string v = k == "password" ? "<redacted>" : o->val;
    const bool plain = !v.empty() && v.find_first_of(" '\\\\") == std::string::npos;
    out += (out.empty() ? "" : " ") + k + "=" + (plain ? v : quote_conninfo_value(v));
  }
  return out;
}

std::string quote_conninfo_value(std::string_view v) {
  std::string out = "'";
  for (char c : v) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

}  // namespace metagate::config
