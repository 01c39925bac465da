// The admin console's command language and access rule.
#include "metagate/admin/admin.hpp"

#include <algorithm>
#include <optional>

#include "metagate/util/strings.hpp"

namespace metagate::admin {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// The words of a command, as written; a double-quoted word (SQL identifier quoting, "" for a
// quote inside) is one word even with spaces in it, kept with its quotes. nullopt: a quote is
// not closed.
std::optional<std::vector<std::string>> words_of(std::string_view text) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && is_space(text[i])) ++i;
    if (i >= text.size()) break;
    size_t j = i;
    if (text[i] == '"') {
      ++j;
      for (;;) {
        if (j >= text.size()) return std::nullopt;
        if (text[j] == '"') {
          if (j + 1 < text.size() && text[j + 1] == '"') {
            j += 2;
            continue;
          }
          ++j;
          break;
        }
        ++j;
      }
      if (j < text.size() && !is_space(text[j])) return std::nullopt;  // "a"b: not one identifier
    } else {
      while (j < text.size() && !is_space(text[j])) ++j;
    }
    out.emplace_back(text.substr(i, j - i));
    i = j;
  }
  return out;
}

// A database name written as an SQL identifier: "Quoted" as written, else folded to lower case.
std::string identifier(const std::string& word) {
  if (word.size() >= 2 && word.front() == '"') {
    std::string out;
    for (size_t i = 1; i + 1 < word.size(); ++i) {
      out += word[i];
      if (word[i] == '"') ++i;  // "" stands for one quote
    }
    return out;
  }
  return util::ascii_lower(word);
}

PgError syntax(std::string_view text) {
  std::string shown(text.substr(0, 200));
  PgError e = PgError::make(sqlstate::kSyntaxError, "unrecognized admin console command \"" + shown + "\"");
  e.hint =
      "The admin console understands SHOW CLIENTS, SHOW STATS, SHOW CONFIG, SHOW DATABASES, SHOW POOLS, SHOW SERVERS, "
      "SHOW HOSTS, SHOW VERSION, RELOAD, "
      "KILL CLIENT id, PAUSE, RESUME, BACKUP [database] and SHUTDOWN.";
  return e;
}

}  // namespace

PgResult<std::optional<AdminCommand>> parse_admin_command(std::string_view text) {
  std::string_view t = text;
  while (!t.empty() && (t.back() == ' ' || t.back() == '\n' || t.back() == '\t' || t.back() == '\r' || t.back() == ';'))
    t.remove_suffix(1);
  auto raw = words_of(t);
  if (!raw) return unexpected(syntax(t));
  if (raw->empty()) return std::optional<AdminCommand>{};
  std::vector<std::string> w;  // lower case, for the keywords
  for (const auto& r : *raw) w.push_back(util::ascii_lower(r));
  auto one = [&](AdminVerb v) -> PgResult<std::optional<AdminCommand>> { return std::optional<AdminCommand>(AdminCommand{v}); };
  if (w.size() == 2 && w[0] == "show") {
    if (w[1] == "clients") return one(AdminVerb::kShowClients);
    if (w[1] == "stats") return one(AdminVerb::kShowStats);
    if (w[1] == "config") return one(AdminVerb::kShowConfig);
    if (w[1] == "databases") return one(AdminVerb::kShowDatabases);
    if (w[1] == "version") return one(AdminVerb::kShowVersion);
    if (w[1] == "pools") return one(AdminVerb::kShowPools);
    if (w[1] == "servers") return one(AdminVerb::kShowServers);
    if (w[1] == "hosts") return one(AdminVerb::kShowHosts);
  }
  if (w.size() == 1) {
    if (w[0] == "reload") return one(AdminVerb::kReload);
    if (w[0] == "pause") return one(AdminVerb::kPause);
    if (w[0] == "resume") return one(AdminVerb::kResume);
    if (w[0] == "shutdown") return one(AdminVerb::kShutdown);
    if (w[0] == "backup") return one(AdminVerb::kBackup);
  }
  if (w.size() == 2 && w[0] == "backup") {
    AdminCommand c{AdminVerb::kBackup};
    c.database = identifier((*raw)[1]);
    if (c.database.empty() || c.database.size() > 1000)
      return unexpected(PgError::make(sqlstate::kInvalidParameterValue, "invalid database name"));
    return std::optional<AdminCommand>(c);
  }
  if (w.size() == 3 && w[0] == "kill" && w[1] == "client") {
    const std::string& n = w[2];
    if (!n.empty() && n.size() <= 9 && std::all_of(n.begin(), n.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      AdminCommand c{AdminVerb::kKillClient};
      c.client_id = std::stoi(n);
      return std::optional<AdminCommand>(c);
    }
    return unexpected(PgError::make(sqlstate::kInvalidParameterValue, "invalid client id \"" + n.substr(0, 50) + "\""));
  }
  return unexpected(syntax(t));
}

bool is_admin(const config::Config& cfg, std::string_view user, std::string_view address) {
  if (const auto* u = cfg.auth.find_user(user)) return u->admin;
  if (!cfg.auth.users.empty()) return false;
  auto ip = auth::IpAddress::parse(address);
  if (!ip) return false;
  if (!ip->v6) return ip->bytes[0] == 127;
  return *ip == *auth::IpAddress::parse("::1");
}

}  // namespace metagate::server
