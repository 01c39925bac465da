// The HTTP side of the daemon (Boost.Beast, on the control io_context): /metrics in Prometheus
// text format, /healthz (the process answers) and /readyz (it can serve: 503 with the reason
// otherwise) for systemd, HAProxy and Kubernetes probes. Read-only, unauthenticated: bind it to
// loopback or a management network.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "metagate/config/config.hpp"

namespace metagate::server {

class HttpEndpoint {
 public:
  struct Handlers {
    std::function<std::string()> metrics;                       // the exposition text
    std::function<std::optional<std::string>()> not_ready_why;  // nullopt when ready
  };
  HttpEndpoint(boost::asio::io_context& io, Handlers handlers);
  ~HttpEndpoint();
  // Binds and starts accepting; throws std::runtime_error when the address cannot be bound.
  void start(const config::ListenAddress& address);
  void stop();
  uint16_t port() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace metagate::server
