// The cluster monitor (issue 7): one thread per PostgreSQL cluster that asks every host, each
// round, for its role, timeline and WAL position (libpq, the control plane: one connection per
// host kept open between rounds, every wait bounded), feeds the answers to the Election and
// publishes the resulting view. The data path reads the view (an immutable snapshot behind a
// mutex-guarded shared_ptr) and reports connection errors, which start a round at once so a host
// that stops answering is marked down within one query timeout, not one interval.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <iterator>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "metagate/ha/election.hpp"

namespace metagate::ha {

struct HostAddress {
  std::string host;
  uint16_t port = 5432;
};

struct MonitorOptions {
  std::vector<HostAddress> hosts;
  // Everything else of the libpq connection string for the monitor's own connections
  // ("dbname=postgres user=... password=... sslmode=..."); host and port are added per host.
  std::string conninfo;
  int64_t interval_ms = 1000;  // between rounds (while no primary is elected: at most kNoPrimaryIntervalMs)
  int64_t timeout_ms = 2000;   // connect (rounded up to whole seconds, at least 2: libpq's unit) and query
  // Each host's Patroni REST API ("http://host:8008"), in the hosts' order; empty = no Patroni.
  std::vector<std::string> patroni_urls;
};

inline constexpr int64_t kNoPrimaryIntervalMs = 200;

class Monitor {
 public:
  explicit Monitor(MonitorOptions o);
  ~Monitor();  // stops and joins
  Monitor(const Monitor&) = delete;
  Monitor& operator=(const Monitor&) = delete;

  void start();
  void stop();
  // The newest view (never null once start() ran one round; before that: no primary).
  std::shared_ptr<const ClusterView> view() const;
  const std::vector<HostAddress>& hosts() const { return o_.hosts; }
  // Failovers as the monitor saw them: primary changes (a different host elected, or the
  // same one back after none was), and how long each stretch without a primary lasted.
  struct Stats {
    uint64_t primary_changes = 0;
    uint64_t refusals = 0;  // times a host started being refused (split-brain safety)
    static constexpr double kBuckets[] = {0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300};
    uint64_t no_primary_buckets[std::size(kBuckets)] = {};  // cumulative counts, as Prometheus wants
    uint64_t no_primary_count = 0;
    double no_primary_sum_s = 0;
    double no_primary_now_s = 0;  // the current stretch (0 when a primary is elected)
  };
  Stats stats() const;
  // The newest view's generation (no lock: for the data path's per-statement check).
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  // Whether the newest view has a primary (no lock).
  bool has_primary() const { return has_primary_.load(std::memory_order_acquire); }
  // The data path could not use `host` (index into the configured hosts): look again now.
  void report_failure(size_t host);
  // Called on the monitor's thread after each round whose view's generation changed.
  void on_change(std::function<void(const ClusterView&)> f);
  // Blocks until the view's generation differs from `generation` or `timeout_ms` passes (tests,
  // switchover).
  std::shared_ptr<const ClusterView> wait_for_change(uint64_t generation, int64_t timeout_ms) const;

  // One host's answer, connecting `conn` first when it is null (libpq PGconn*, owned by the
  // caller: closed and nulled on any failure). Public for tests and the `status` command.
  static Observation ask(void*& conn, const std::string& conninfo, int64_t timeout_ms);

 private:
  void run();
  MonitorOptions o_;
  std::vector<std::string> conninfos_;
  std::vector<void*> conns_;  // PGconn*, used only on the monitor's thread
  std::vector<bool> refused_;  // as last logged
  Election election_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::shared_ptr<const ClusterView> view_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<bool> has_primary_{false};
  Stats stats_;                      // guarded by mu_
  int64_t no_primary_since_ms_ = 0;  // 0 = a primary is elected (or none ever was)
  bool ever_elected_ = false;
  std::function<void(const ClusterView&)> on_change_;
  bool stop_ = false;
  bool poked_ = false;
  std::thread thread_;
};

}  // namespace metagate::ha
