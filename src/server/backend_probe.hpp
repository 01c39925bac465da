// Readiness of PostgreSQL backends for /readyz: each configured server is pinged with libpq
// (PQping, the control plane) every few seconds on a thread of its own, so a probe never
// blocks the control loop; /readyz reads the last results.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace metagate::server {

class BackendProbe {
 public:
  struct Target {
    std::string name;      // the databases entry
    std::string conninfo;  // as configured
  };
  BackendProbe(std::vector<Target> targets, std::chrono::milliseconds interval);
  ~BackendProbe();  // stops and joins the thread
  BackendProbe(const BackendProbe&) = delete;
  BackendProbe& operator=(const BackendProbe&) = delete;

  // Why a backend is not usable ("PostgreSQL backend \"*\": no response"), nullopt when every
  // backend answered its last ping.
  std::optional<std::string> failing() const;

 private:
  void loop();
  std::vector<Target> targets_;
  std::chrono::milliseconds interval_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::map<std::string, std::string> failures_;  // by name; absent = answered
  bool probed_ = false;
  std::thread thread_;
};

}  // namespace metagate::server
