// Which host of a PostgreSQL cluster is the primary metagate writes to (issue 7; docs/HA.md
// once the failover path lands). Pure: the monitor feeds it each round's observations of every
// host; it keeps what it must remember between rounds (who was elected, the newest timeline
// seen) so that an old primary coming back without being rewound is never written to.
//
// Rules, in order:
//  - only a host that answers and reports itself primary (pg_is_in_recovery() = false) can be
//    elected — and, when Patroni is configured, only one whose own Patroni names it the leader;
//  - a host whose timeline is behind the newest timeline ever elected is refused: it is an old
//    primary that was not rewound (its writes after the split would be lost anyway);
//  - among the rest the highest timeline wins; a tie keeps the host elected before, and with no
//    such host nobody is elected (two primaries of one timeline: an operator must decide);
//  - nobody elected (the primary down, a promotion not finished): the caller holds new work.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace metagate::ha {

enum class Role : uint8_t { kDown, kPrimary, kReplica };
// What the host's Patroni says (kNotAsked: no Patroni configured).
enum class PatroniLeader : uint8_t { kNotAsked, kLeader, kNotLeader };
std::string_view to_string(Role r);

// One round's look at one host (the monitor's query; connection errors make it kDown).
struct Observation {
  Role role = Role::kDown;
  uint32_t timeline = 0;  // primary: its current timeline; replica: the one it replays
  uint64_t lsn = 0;       // primary: pg_current_wal_lsn(); replica: pg_last_wal_replay_lsn()
  std::string error;      // why kDown
  double replay_lag_s = 0;  // replica: how far its replay is behind (0 when it has replayed all it received)
  int64_t check_us = 0;     // how long the question took (connecting included when it had to)
  PatroniLeader patroni = PatroniLeader::kNotAsked;
  std::string patroni_error;  // kNotLeader: the status, or why its REST API did not answer
};

struct HostView {
  Observation seen;
  bool refused = false;        // reports primary but is not the one elected
  std::string refused_why;
};

struct ClusterView {
  std::vector<HostView> hosts;     // in the configured order
  std::optional<size_t> primary;   // index into hosts
  uint32_t timeline = 0;           // the newest timeline ever elected
  uint64_t generation = 0;         // bumped whenever `primary` changes
  int64_t observed_us = 0;         // steady clock (µs) when the round that made this view began
};

class Election {
 public:
  explicit Election(size_t hosts) { view_.hosts.resize(hosts); }
  // The view after this round (observations in the configured order, one per host).
  const ClusterView& update(const std::vector<Observation>& round);
  const ClusterView& view() const { return view_; }

 private:
  ClusterView view_;
  std::optional<size_t> last_elected_;  // survives rounds where it is down (restart in place)
};

}  // namespace metagate::ha
