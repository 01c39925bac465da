// The admin console's command language and access rule.
#include "metagate/admin/admin.hpp"

#include "metagate/util/strings.hpp"

namespace metagate::admin {

namespace {

std::vector<std::string> words_of(std::string_view text) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r')) ++i;
    size_t j = i;
    while (j < text.size() && text[j] != ' ' && text[j] != '\t' && text[j] != '\n' && text[j] != '\r') ++j;
    if (j > i) out.push_back(util::ascii_lower(text.substr(i, j - i)));
    i = j;
  }
  return out;
}

PgError syntax(std::string_view text) {
  std::string shown(text.substr(0, 200));
  PgError e = PgError::make(sqlstate::kSyntaxError, "unrecognized admin console command \"" + shown + "\"");
  e.hint =
      "The admin console understands SHOW CLIENTS, SHOW STATS, SHOW CONFIG, SHOW DATABASES, SHOW POOLS, SHOW SERVERS, "
      "SHOW VERSION, RELOAD, "
      "KILL CLIENT id, PAUSE, RESUME and SHUTDOWN.";
  return e;
}

}  // namespace

PgResult<std::optional<AdminCommand>> parse_admin_command(std::string_view text) {
  std::string_view t = text;
  while (!t.empty() && (t.back() == ' ' || t.back() == '\n' || t.back() == '\t' || t.back() == '\r' || t.back() == ';'))
    t.remove_suffix(1);
  auto w = words_of(t);
  if (w.empty()) return std::optional<AdminCommand>{};
  auto one = [&](AdminVerb v) -> PgResult<std::optional<AdminCommand>> { return std::optional<AdminCommand>(AdminCommand{v}); };
  if (w.size() == 2 && w[0] == "show") {
    if (w[1] == "clients") return one(AdminVerb::kShowClients);
    if (w[1] == "stats") return one(AdminVerb::kShowStats);
    if (w[1] == "config") return one(AdminVerb::kShowConfig);
    if (w[1] == "databases") return one(AdminVerb::kShowDatabases);
    if (w[1] == "version") return one(AdminVerb::kShowVersion);
    if (w[1] == "pools") return one(AdminVerb::kShowPools);
    if (w[1] == "servers") return one(AdminVerb::kShowServers);
  }
  if (w.size() == 1) {
    if (w[0] == "reload") return one(AdminVerb::kReload);
    if (w[0] == "pause") return one(AdminVerb::kPause);
    if (w[0] == "resume") return one(AdminVerb::kResume);
    if (w[0] == "shutdown") return one(AdminVerb::kShutdown);
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
