// Primary election from the hosts' own reports (election.hpp).
#include "metagate/ha/election.hpp"

#include <algorithm>

namespace metagate::ha {

std::string_view to_string(Role r) {
  switch (r) {
    case Role::kDown: return "down";
    case Role::kPrimary: return "primary";
    case Role::kReplica: return "replica";
  }
  return "down";
}

const ClusterView& Election::update(const std::vector<Observation>& round) {
  const std::optional<size_t> before = view_.primary;
  for (size_t i = 0; i < view_.hosts.size(); ++i) {
    view_.hosts[i] = HostView{};
    if (i < round.size()) view_.hosts[i].seen = round[i];
  }
  // Candidates: primaries not behind the newest timeline ever elected.
  uint32_t best = 0;
  std::vector<size_t> top;
  for (size_t i = 0; i < view_.hosts.size(); ++i) {
    HostView& h = view_.hosts[i];
    if (h.seen.role != Role::kPrimary) continue;
    if (h.seen.patroni == PatroniLeader::kNotLeader) {
      // Patroni decides: a PostgreSQL that runs as primary without the leader lock (its
      // Patroni gone, the lock about to pass to a replica) is not written to.
      h.refused = true;
      h.refused_why = "reports itself primary, but its Patroni does not name it the leader: " + h.seen.patroni_error;
      continue;
    }
    if (h.seen.timeline < view_.timeline) {
      h.refused = true;
      h.refused_why = "reports itself primary on timeline " + std::to_string(h.seen.timeline) + ", behind timeline " +
                      std::to_string(view_.timeline) + " (an old primary that was not rewound)";
      continue;
    }
    if (h.seen.timeline > best) {
      best = h.seen.timeline;
      top.clear();
    }
    if (h.seen.timeline == best) top.push_back(i);
  }
  std::optional<size_t> chosen;
  if (top.size() == 1) {
    chosen = top.front();
  } else if (top.size() > 1) {
    for (size_t i : top)
      if (last_elected_ == i) chosen = i;
  }
  // Every other primary is refused: behind the newest timeline, or a second one on it.
  for (size_t i = 0; i < view_.hosts.size(); ++i) {
    HostView& h = view_.hosts[i];
    if (h.seen.role != Role::kPrimary || h.refused || chosen == i) continue;
    h.refused = true;
    const std::string tl = std::to_string(h.seen.timeline);
    if (h.seen.timeline < best)
      h.refused_why = "reports itself primary on timeline " + tl + ", behind timeline " + std::to_string(best) +
                      " of another primary (an old primary that was not rewound)";
    else if (chosen)
      h.refused_why = "reports itself primary on timeline " + tl + ", as the elected primary does (two primaries)";
    else
      h.refused_why = "reports itself primary on timeline " + tl +
                      ", as another host does, and neither was the primary before (two primaries: an operator must decide)";
  }
  view_.primary = chosen;
  if (chosen) {
    last_elected_ = chosen;
    view_.timeline = std::max(view_.timeline, best);
  }
  if (view_.primary != before) ++view_.generation;
  return view_;
}

}  // namespace metagate::ha
