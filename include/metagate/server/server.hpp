// The daemon: listeners, one io_context per worker thread, sessions as coroutines, the
// stores behind each database name, the registry CancelRequest looks sessions up in, metrics
// and health over HTTP, the admin console's commands, and the lifecycle (drain, reload).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "metagate/config/config.hpp"
#include "metagate/util/pg_error.hpp"

namespace metagate::server {

// Sets spdlog's level from the configuration (start and reload).
void apply_log_level(config::LogLevel level);

class Server {
 public:
  // `reload_source` produces the configuration a reload installs (the file re-read, with the
  // command-line overrides applied); without one, RELOAD / SIGHUP keep the configuration.
  using ConfigSource = std::function<config::ConfigResult<config::Config>()>;
  explicit Server(config::Config cfg, ConfigSource reload_source = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Opens the listeners (throws std::runtime_error with the reason if one cannot be bound).
  void start();
  // Runs until the server has stopped; returns when every thread has finished.
  void run();
  // SIGTERM: stop accepting; sessions outside a transaction end at once (57P01), the others
  // when their transaction ends or at server.drain_timeout_ms; then the stores checkpoint.
  // A second call stops at once.
  void shutdown();
  // Stops now: every session ends (57P01), running statements are interrupted.
  void stop();
  // SIGHUP: re-reads the configuration and applies what can change while running. Returns a
  // line per change (and per change that needs a restart), or why the new one was refused.
  PgResult<std::vector<std::string>> reload();
  // Called (from the reloading thread) before and after a reload: for sd_notify RELOADING=1.
  void on_reload(std::function<void(bool starting)> f);
  // The ports actually bound (useful with port 0), in listen order.
  std::vector<uint16_t> ports() const;
  uint16_t metrics_port() const;  // 0 when metrics are off
  // Whether the control loop (accepting, timeouts, metrics) ran within the last `within_ms`:
  // what the systemd watchdog reports.
  bool responsive(int64_t within_ms) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace metagate::server
