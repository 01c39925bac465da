// PostgreSQL backend pings for /readyz (libpq PQping on a thread of its own).
#include "backend_probe.hpp"

#include <libpq-fe.h>

namespace metagate::server {

BackendProbe::BackendProbe(std::vector<Target> targets, std::chrono::milliseconds interval)
    : targets_(std::move(targets)), interval_(interval), thread_([this] { loop(); }) {}

BackendProbe::~BackendProbe() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

std::optional<std::string> BackendProbe::failing() const {
  std::lock_guard lk(mu_);
  if (!probed_) return "PostgreSQL backends not probed yet";
  if (failures_.empty()) return std::nullopt;
  return failures_.begin()->second;
}

void BackendProbe::loop() {
  std::unique_lock lk(mu_);
  while (!stop_) {
    lk.unlock();
    std::map<std::string, std::string> failures;
    for (const auto& t : targets_) {
      // A short timeout for the ping only (a later keyword wins in a conninfo string).
      std::string ci = t.conninfo + " connect_timeout=2";
      switch (PQping(ci.c_str())) {
        case PQPING_OK: break;
        case PQPING_REJECT:
          failures[t.name] = "PostgreSQL backend \"" + t.name + "\": the server rejects connections (starting up, shutting down or full)";
          break;
        case PQPING_NO_RESPONSE:
          failures[t.name] = "PostgreSQL backend \"" + t.name + "\": no response";
          break;
        default:
          failures[t.name] = "PostgreSQL backend \"" + t.name + "\": invalid connection parameters";
          break;
      }
    }
    lk.lock();
    failures_ = std::move(failures);
    probed_ = true;
    cv_.wait_for(lk, interval_, [this] { return stop_; });
  }
}

}  // namespace metagate::server
