// Patroni's view of a cluster (issue 7): when the database entry names each host's Patroni REST
// API, the monitor also asks every node `GET /primary` each round — 200 only from the node that
// holds the leader lock and runs as primary — and the election takes no host as the primary
// that its own Patroni does not name the leader. That closes the window Patroni leaves without a
// watchdog: an old primary whose Patroni died keeps accepting writes until the leader key
// expires; its REST API no longer answers, so metagate holds instead of writing there.
// libcurl (blocking, bounded by the timeout), on the monitor's thread.
#pragma once

#include <cstdint>
#include <string>

namespace metagate::ha {

struct PatroniAnswer {
  bool leader = false;   // 200 from /primary
  long status = 0;       // the HTTP status (0 = no answer)
  std::string error;     // why there was no answer, or the status line's meaning
};

// base_url: "http://host:8008" (https too; no credentials in it). timeout_ms bounds the whole request.
PatroniAnswer ask_patroni_primary(const std::string& base_url, int64_t timeout_ms);

}  // namespace metagate::ha
