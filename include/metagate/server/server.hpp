// The daemon: listeners, one io_context per worker thread, sessions as coroutines, the
// stores behind each database name, and the registry CancelRequest looks sessions up in.
#pragma once

#include <atomic>
#include <memory>
#include <vector>

#include "metagate/config/config.hpp"

namespace metagate::server {

class Server {
 public:
  explicit Server(config::Config cfg);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Opens the listeners (throws std::runtime_error with the reason if one cannot be bound).
  void start();
  // Runs until stop(); returns when every thread has finished.
  void run();
  // Stops accepting and closes every session (safe from any thread or a signal handler's
  // io_context callback).
  void stop();
  // The ports actually bound (useful with port 0), in listen order.
  std::vector<uint16_t> ports() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace metagate::server
