// The cluster monitor (issue 7): one thread per PostgreSQL cluster that asks every host, each
// round, for its role, timeline and WAL position (libpq, the control plane: one connection per
// host kept open between rounds, every wait bounded), feeds the answers to the Election and
// publishes the resulting view. The data path reads the view (an immutable snapshot behind a
// mutex-guarded shared_ptr) and reports connection errors, which start a round at once so a host
// that stops answering is marked down within one query timeout, not one interval.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
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
  int64_t interval_ms = 1000;  // between rounds
  int64_t timeout_ms = 2000;   // connect (rounded up to whole seconds, at least 2: libpq's unit) and query
};

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
  std::function<void(const ClusterView&)> on_change_;
  bool stop_ = false;
  bool poked_ = false;
  std::thread thread_;
};

}  // namespace metagate::ha
