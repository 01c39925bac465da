// Fuzz target: the admin console's command language (text a client sends to the database
// "metagate"). Checked: no crash or hang; an error carries a 5-character SQLSTATE and a
// message; a command parsed from the text parses the same again from its canonical words.
#include <string>

#include "fuzz_common.hpp"
#include "metagate/admin/admin.hpp"

using namespace metagate;

namespace {
std::string canonical(const admin::AdminCommand& c) {
  switch (c.verb) {
    case admin::AdminVerb::kShowClients: return "SHOW CLIENTS";
    case admin::AdminVerb::kShowStats: return "SHOW STATS";
    case admin::AdminVerb::kShowConfig: return "SHOW CONFIG";
    case admin::AdminVerb::kShowDatabases: return "SHOW DATABASES";
    case admin::AdminVerb::kShowVersion: return "SHOW VERSION";
    case admin::AdminVerb::kShowPools: return "SHOW POOLS";
    case admin::AdminVerb::kShowServers: return "SHOW SERVERS";
    case admin::AdminVerb::kReload: return "RELOAD";
    case admin::AdminVerb::kKillClient: return "KILL CLIENT " + std::to_string(c.client_id);
    case admin::AdminVerb::kPause: return "PAUSE";
    case admin::AdminVerb::kResume: return "RESUME";
    case admin::AdminVerb::kShutdown: return "SHUTDOWN";
    case admin::AdminVerb::kBackup: {
      if (c.database.empty()) return "BACKUP";
      std::string q = "BACKUP \"";
      for (char ch : c.database) q += ch == '"' ? std::string("\"\"") : std::string(1, ch);
      return q + "\"";
    }
  }
  return "";
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto r = admin::parse_admin_command(text);
  if (!r) {
    FUZZ_CHECK(r.error().sqlstate.size() == 5, "SQLSTATE \"%s\"", r.error().sqlstate.c_str());
    FUZZ_CHECK(!r.error().message.empty(), "empty message");
    return 0;
  }
  if (!*r) return 0;
  FUZZ_CHECK((*r)->client_id >= 0, "negative client id");
  auto again = admin::parse_admin_command(canonical(**r));
  FUZZ_CHECK(again && *again && (*again)->verb == (*r)->verb && (*again)->client_id == (*r)->client_id &&
                 (*again)->database == (*r)->database,
             "canonical form does not parse back");
  return 0;
}
