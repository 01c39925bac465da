// PostgreSQL backend pings for /readyz (libpq PQping on a thread of its own).
#include "backend_probe.hpp"

#include <libpq-fe.h>
#include <openssl/x509.h>

#include <boost/asio.hpp>

#include "metagate/config/config.hpp"

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

namespace {

// Whether any host of the conninfo accepts a TCP connection within 2 s. For a conninfo that
// names no user (the clients' own are used): a libpq ping would log in as the OS user and
// leave a FATAL "role does not exist" in the server's log every time; a connection closed
// before any byte is sent is not logged by PostgreSQL.
bool tcp_reachable(const std::string& conninfo) {
  auto target = config::parse_conninfo(conninfo);
  if (!target) return false;
  namespace asio = boost::asio;
  for (const auto& h : target->hosts) {
    asio::io_context io;
    asio::ip::tcp::socket sock(io);
    bool ok = false;
    asio::ip::tcp::resolver resolver(io);
    boost::system::error_code ec;
    auto eps = resolver.resolve(h.host, std::to_string(h.port), ec);
    if (ec) continue;
    asio::async_connect(sock, eps, [&](const boost::system::error_code& e, const auto&) { ok = !e; });
    io.run_for(std::chrono::seconds(2));
    if (ok) return true;
  }
  return false;
}

}  // namespace

void BackendProbe::loop() {
  std::unique_lock lk(mu_);
  while (!stop_) {
    lk.unlock();
    std::map<std::string, std::string> failures;
    for (const auto& t : targets_) {
      auto target = config::parse_conninfo(t.conninfo);
      if (target && target->user.empty()) {
        if (!tcp_reachable(t.conninfo)) failures[t.name] = "PostgreSQL backend \"" + t.name + "\": no response";
        continue;
      }
      // A short timeout for the ping only (a later keyword wins in a conninfo string).
      std::string ci = t.conninfo + " connect_timeout=2";
      // libpq 15 does not know sslrootcert=system (metagate's relay does): OpenSSL's default
      // CA file is the same store.
      if (target && target->sslrootcert == "system") ci += std::string(" sslrootcert=") + X509_get_default_cert_file();
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
