// The server: acceptors on a control io_context, sessions spread over worker io_contexts
// (one thread each), databases opened on first use and shared by their sessions.
#include "metagate/server/server.hpp"

#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>

#include "database.hpp"
#include "session.hpp"

namespace metagate::server {

namespace asio = boost::asio;
using asio::ip::tcp;

struct Server::Impl {
  std::shared_ptr<const config::Config> cfg;
  asio::io_context control{1};
  // One io_context and thread per worker. SQLite statements run inline on the worker, so a
  // worker can be busy for as long as a statement runs; `busy_since_us` lets the acceptor give
  // new connections (a CancelRequest among them) to a worker that is free. When every worker
  // has been busy for longer than kBusyMs, an extra worker is started (up to kMaxExtraWorkers):
  // a long statement never keeps a cancel or a new client waiting.
  struct Worker {
    asio::io_context io{1};
    asio::executor_work_guard<asio::io_context::executor_type> guard{io.get_executor()};
    std::atomic<int64_t> busy_since_us{0};
    std::thread thread;
  };
  static constexpr int64_t kBusyMs = 20;
  static constexpr size_t kMaxExtraWorkers = 64;
  std::vector<std::unique_ptr<Worker>> workers;  // grown only on the control thread
  size_t base_workers = 0;
  std::mutex workers_mu;  // guards `workers` against stop()/run() on other threads
  bool running = false;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  std::unique_ptr<asio::ssl::context> tls;
  ServerContext ctx;
  std::mutex db_mu;
  std::map<std::string, std::shared_ptr<Database>> databases;  // by SQLite path
  std::atomic<size_t> next_worker{0};
  std::mutex sessions_mu;
  std::vector<std::weak_ptr<Session>> live;

  PgResult<std::shared_ptr<Database>> open_database(std::string_view name) {
    auto path = config::database_route(*cfg, name);
    if (!path) return unexpected(path.error());
    std::lock_guard lk(db_mu);
    auto it = databases.find(*path);
    if (it != databases.end()) return it->second;
    std::filesystem::path p(*path);
    if (p.has_parent_path()) {
      std::error_code ec;
      std::filesystem::create_directories(p.parent_path(), ec);
    }
    store::StoreOptions so;
    so.path = *path;
    so.synchronous = std::string(config::to_string(cfg->sqlite.synchronous));
    so.readers = cfg->sqlite.readers;
    so.cache_size_kib = static_cast<int>(cfg->sqlite.cache_size_kib);
    so.mmap_size = cfg->sqlite.mmap_size_mib * 1024 * 1024;
    so.checkpoint_wal_bytes = cfg->sqlite.checkpoint_wal_mib * 1024 * 1024;
    so.group_commit = cfg->sqlite.group_commit;
    so.commit_delay_us = cfg->sqlite.group_commit_max_wait_us;
    auto st = store::SqliteStore::open(so);
    if (!st) {
      spdlog::error("cannot open database \"{}\" ({}): {}", std::string(name), *path, st.error().message);
      return unexpected(st.error());
    }
    auto db = std::make_shared<Database>();
    db->path = *path;
    db->store = std::move(*st);
    if (auto* gc = db->store->group_commit()) {
      std::weak_ptr<Database> weak = db;
      gc->set_siblings([weak] {
        auto d = weak.lock();
        return d ? d->write_lock.waiting() : size_t{0};
      });
    }
    databases.emplace(*path, db);
    spdlog::info("opened SQLite store {}", *path);
    return db;
  }

  static int64_t now_us() {
    return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

  // Round robin over the workers that are not stuck in a statement; a new worker when all are.
  Worker& pick_worker() {
    int64_t now = now_us();
    size_t n = workers.size();
    for (size_t i = 0; i < n; ++i) {
      Worker& w = *workers[next_worker++ % n];
      int64_t since = w.busy_since_us.load(std::memory_order_relaxed);
      if (since == 0 || now - since < kBusyMs * 1000) return w;
    }
    std::lock_guard lk(workers_mu);
    if (workers.size() >= base_workers + kMaxExtraWorkers || !running) return *workers[next_worker++ % n];
    auto w = std::make_unique<Worker>();
    Worker* raw = w.get();
    raw->thread = std::thread([raw] { raw->io.run(); });
    workers.push_back(std::move(w));
    spdlog::warn("all {} io threads are busy running statements; started io thread {}", n, workers.size());
    return *raw;
  }

  asio::awaitable<void> accept_loop(tcp::acceptor& acceptor) {
    for (;;) {
      auto [ec, accepted] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec) {
        if (ec == asio::error::operation_aborted) co_return;
        spdlog::warn("accept failed: {}", ec.message());
        continue;
      }
      // The worker is chosen now, not when the accept was started: it must be free now.
      Worker& worker = pick_worker();
      auto protocol = acceptor.local_endpoint().protocol();
      tcp::socket socket(worker.io);
      int fd = accepted.release(ec);
      if (ec) continue;
      socket.assign(protocol, fd, ec);
      if (ec) {
        ::close(fd);
        continue;
      }
      socket.set_option(tcp::no_delay(true), ec);
      auto session = std::make_shared<Session>(ctx, std::move(socket), &worker.busy_since_us);
      {
        std::lock_guard lk(sessions_mu);
        live.erase(std::remove_if(live.begin(), live.end(), [](auto& w) { return w.expired(); }), live.end());
        live.push_back(session);
      }
      asio::co_spawn(worker.io, [session]() -> asio::awaitable<void> { co_await session->run(); }, asio::detached);
    }
  }
};

Server::Server(config::Config cfg) : impl_(std::make_unique<Impl>()) {
  impl_->cfg = std::make_shared<const config::Config>(std::move(cfg));
  impl_->ctx.config = impl_->cfg;
  impl_->ctx.open_database = [this](std::string_view n) { return impl_->open_database(n); };
  RAND_bytes(impl_->ctx.mock_secret.data(), static_cast<int>(impl_->ctx.mock_secret.size()));
  if (!impl_->cfg->auth.mock_secret_file.empty()) {
    std::ifstream f(impl_->cfg->auth.mock_secret_file, std::ios::binary);
    f.read(reinterpret_cast<char*>(impl_->ctx.mock_secret.data()), static_cast<std::streamsize>(impl_->ctx.mock_secret.size()));
  }
  unsigned n = impl_->cfg->effective_io_threads();
  if (n == 0) n = 1;
  for (unsigned i = 0; i < n; ++i) impl_->workers.push_back(std::make_unique<Impl::Worker>());
  impl_->base_workers = n;
  const auto& tls = impl_->cfg->tls;
  if (tls.enabled()) {
    impl_->tls = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
    auto& c = *impl_->tls;
    c.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 | asio::ssl::context::no_sslv3 |
                  asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
    if (tls.min_protocol_version == config::TlsVersion::kTls13) SSL_CTX_set_min_proto_version(c.native_handle(), TLS1_3_VERSION);
    c.use_certificate_chain_file(tls.cert_file);
    c.use_private_key_file(tls.key_file, asio::ssl::context::pem);
    if (!tls.ca_file.empty()) {
      c.load_verify_file(tls.ca_file);
      c.set_verify_mode(asio::ssl::verify_peer);
    }
    impl_->ctx.tls = impl_->tls.get();
  }
}

Server::~Server() { stop(); }

void Server::start() {
  for (const auto& la : impl_->cfg->listen) {
    boost::system::error_code ec;
    auto addr = asio::ip::make_address(la.host, ec);
    if (ec) throw std::runtime_error("bad listen address " + la.to_string());
    auto acc = std::make_unique<tcp::acceptor>(impl_->control);
    tcp::endpoint ep(addr, la.port);
    acc->open(ep.protocol(), ec);
    if (!ec) acc->set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec && addr.is_v6()) acc->set_option(asio::ip::v6_only(true), ec);
    if (!ec) acc->bind(ep, ec);
    if (!ec) acc->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) throw std::runtime_error("could not listen on " + la.to_string() + ": " + ec.message());
    spdlog::info("listening on {}:{}", la.host, acc->local_endpoint().port());
    impl_->acceptors.push_back(std::move(acc));
  }
  if (!impl_->acceptors.empty()) impl_->ctx.port = impl_->acceptors.front()->local_endpoint().port();
  for (auto& acc : impl_->acceptors) {
    asio::co_spawn(impl_->control, impl_->accept_loop(*acc), asio::detached);
  }
}

void Server::run() {
  {
    std::lock_guard lk(impl_->workers_mu);
    impl_->running = true;
    for (auto& w : impl_->workers) {
      Impl::Worker* raw = w.get();
      raw->thread = std::thread([raw] { raw->io.run(); });
    }
  }
  impl_->control.run();
  // The control loop has ended (stop()): no worker is added any more.
  std::lock_guard lk(impl_->workers_mu);
  impl_->running = false;
  for (auto& w : impl_->workers)
    if (w->thread.joinable()) w->thread.join();
}

void Server::stop() {
  if (!impl_) return;
  asio::post(impl_->control, [this] {
    for (auto& a : impl_->acceptors) {
      boost::system::error_code ec;
      a->close(ec);
    }
    std::vector<std::shared_ptr<Session>> sessions;
    {
      std::lock_guard lk(impl_->sessions_mu);
      for (auto& w : impl_->live)
        if (auto s = w.lock()) sessions.push_back(s);
    }
    for (auto& s : sessions) s->close();
    std::lock_guard lk(impl_->workers_mu);
    for (auto& w : impl_->workers) w->guard.reset();
  });
}

std::vector<uint16_t> Server::ports() const {
  std::vector<uint16_t> out;
  for (const auto& a : impl_->acceptors) out.push_back(a->local_endpoint().port());
  return out;
}

}  // namespace metagate::server
