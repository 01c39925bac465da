// Server connection pools.
#include "metagate/pool/pool.hpp"

#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <boost/asio/experimental/awaitable_operators.hpp>

#include "metagate/config/conninfo.hpp"
#include "metagate/util/clock.hpp"
#include "metagate/wire/backend.hpp"
#include "metagate/wire/relay.hpp"

namespace metagate::pool {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using util::steady_now_us;

PoolSettings settings_for(const config::DatabaseConfig& db, config::PostgresTarget target) {
  PoolSettings s;
  s.mode = db.pool_mode;
  s.target = std::move(target);
  s.size = db.pool_size;
  s.min_size = db.min_pool_size;
  s.reserve_size = db.reserve_pool_size;
  s.reserve_timeout_ms = db.reserve_pool_timeout_ms;
  s.queue_timeout_ms = db.queue_timeout_ms;
  s.lifetime_ms = db.server_lifetime_ms;
  s.idle_timeout_ms = db.server_idle_timeout_ms;
  s.check_delay_ms = db.server_check_delay_ms;
  s.statement_cache_size = static_cast<size_t>(db.prepared_statement_cache_size);
  s.reuse_session_servers = db.reuse_server_connections;
  s.hold_ms = db.failover_hold_ms;
  s.hold_max_clients = db.failover_hold_max_clients;
  s.reads = db.reads;
  s.max_replica_lag_bytes = db.max_replica_lag_bytes;
  s.max_replica_lag_ms = db.max_replica_lag_ms;
  return s;
}

std::string_view to_string(ServerState s) {
  switch (s) {
    case ServerState::kConnecting: return "connecting";
    case ServerState::kIdle: return "idle";
    case ServerState::kActive: return "active";
    case ServerState::kCancelling: return "cancelling";
  }
  return "?";
}

std::string_view to_string(CloseCause c) {
  switch (c) {
    case CloseCause::kIdleTimeout: return "idle_timeout";
    case CloseCause::kLifetime: return "lifetime";
    case CloseCause::kBroken: return "broken";
    case CloseCause::kDirty: return "dirty";
    case CloseCause::kCheckFailed: return "check_failed";
    case CloseCause::kShutdown: return "shutdown";
    case CloseCause::kClientLeft: return "client_left";
  }
  return "?";
}

struct Pool::Waiter {
  explicit Waiter(asio::any_io_executor e) : ex(std::move(e)), timer(ex) {}
  asio::any_io_executor ex;
  asio::steady_timer timer;
  ServerConnection* handed = nullptr;  // guarded by the pool's mutex
  int64_t since_us = steady_now_us();
};

Graveyard::~Graveyard() {
  static constexpr char kTerminate[] = {'X', 0, 0, 0, 4};
  for (auto& s : dead_) {
    auto ex = s->link.stream.socket().get_executor();
    asio::co_spawn(
        ex,
        [s = std::move(s)]() mutable -> awaitable<void> {
          using namespace asio::experimental::awaitable_operators;
          // Terminate, then read (and drop) whatever the server still sends until it closes:
          // closing with unread bytes would reset the connection, which the server logs.
          auto farewell = [](ServerConnection& c) -> awaitable<void> {
            auto [ec, n] = co_await c.link.stream.async_write(asio::buffer(kTerminate, sizeof kTerminate), asio::as_tuple(use_awaitable));
            char sink[4096];
            while (!ec) std::tie(ec, n) = co_await c.link.stream.async_read_some(asio::buffer(sink), asio::as_tuple(use_awaitable));
          };
          asio::steady_timer t(s->link.stream.socket().get_executor(), std::chrono::seconds(1));
          co_await (farewell(*s) || t.async_wait(asio::as_tuple(use_awaitable)));
        },
        asio::detached);
  }
}

Pool::Pool(std::string database, std::string user, PoolSettings settings)
    : database_(std::move(database)), user_(std::move(user)), settings_(std::move(settings)) {}

Pool::~Pool() = default;

int Pool::total_locked() const { return static_cast<int>(servers_.size()) + connecting_; }

ServerConnection* Pool::take_idle(const asio::any_io_executor& ex) {
  if (idle_.empty()) return nullptr;
  // Most recently used first (warm caches, and idle ones age out); one on the caller's own
  // io_context if there is one among the last few, so its I/O completes on the same thread.
  auto pick = idle_.end() - 1;
  for (auto it = idle_.end(); it != idle_.begin() && (idle_.end() - it) < 8;) {
    --it;
    if ((*it)->link.stream.socket().get_executor() == ex) {
      pick = it;
      break;
    }
  }
  ServerConnection* s = *pick;
  idle_.erase(pick);
  s->state = ServerState::kActive;
  return s;
}

void Pool::hand_over(ServerConnection* s) {
  while (!waiters_.empty()) {
    auto w = waiters_.front();
    waiters_.pop_front();
    w->handed = s;
    s->state = ServerState::kActive;
    // Wake it: its timer's wait ends (operation_aborted) and it takes `handed`. On the
    // waiter's own io thread directly; from another thread through its executor (a timer is
    // not thread-safe).
    auto* io = w->ex.target<asio::io_context::executor_type>();
    if (io && io->running_in_this_thread()) w->timer.cancel();
    else asio::post(w->ex, [w] { w->timer.cancel(); });
    return;
  }
  s->state = ServerState::kIdle;
  idle_.push_back(s);
}

void Pool::close_locked(ServerConnection* s, CloseCause why, Graveyard& graveyard) {
  auto idle_it = std::find(idle_.begin(), idle_.end(), s);
  if (idle_it != idle_.end()) idle_.erase(idle_it);
  for (auto it = servers_.begin(); it != servers_.end(); ++it) {
    if (it->get() == s) {
      spdlog::info("pool {}/{}: closing server connection {} (pid {}): {}", database_, user_, s->id, s->link.pid,
                   to_string(why));
      closes_[static_cast<size_t>(why)].fetch_add(1, std::memory_order_relaxed);
      graveyard.add(std::move(*it));
      servers_.erase(it);
      return;
    }
  }
}

namespace {

// True when an idle server connection has been closed by the server or has sent something
// unasked (a FATAL before closing): either way it cannot be used.
constexpr int64_t kTrustIdleUs = 20000;

bool looks_broken(asio::ip::tcp::socket& sock) {
  char c;
  ssize_t n = ::recv(sock.native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n == 0 || n > 0) return true;
  return !(errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
}

PgError exhausted(const std::string& db, const std::string& user, int64_t ms) {
  return PgError::make(sqlstate::kTooManyConnections,
                        "connection pool for database \"" + db + "\" and user \"" + user +
                            "\" is exhausted: no server connection came free within " + std::to_string(ms) + " ms");
}

}  // namespace

awaitable<PgResult<ServerConnection*>> Pool::connect_new(asio::any_io_executor ex) {
  config::PostgresTarget target;
  std::optional<auth::ScramKeys> keys;
  {
    std::lock_guard lk(mu_);
    target = settings_.target;  // its password changes under pass-through
    keys = scram_keys_;
  }
  // A cluster: the elected primary only.
  std::optional<size_t> host;
  uint64_t generation = 0;
  PgResult<BackendConnection> r = unexpected(PgError::make(sqlstate::kConnectionFailure, ""));
  bool replica_gone = false;
  if (settings_.cluster && settings_.replica_host) {
    // A replica's pool: its one host, while the monitor sees it as a replica.
    auto view = settings_.cluster->view();
    generation = view->generation;
    const size_t i = *settings_.replica_host;
    replica_gone = i >= view->hosts.size() || view->hosts[i].seen.role != ha::Role::kReplica || view->hosts[i].refused;
    if (!replica_gone) host = i;
  } else if (settings_.cluster) {
    auto view = settings_.cluster->view();
    generation = view->generation;
    host = view->primary;
    if (host && *host < target.hosts.size()) target.hosts = {target.hosts[*host]};
  }
  if (replica_gone) {
    r = unexpected(PgError::make(sqlstate::kConnectionFailure, "replica " + target.hosts[0].host + ":" +
                                                                   std::to_string(target.hosts[0].port) +
                                                                   " is not a replica the monitor can see now"));
  } else if (settings_.cluster && !host) {
    std::string hosts;
    for (const auto& h : target.hosts) hosts += (hosts.empty() ? "" : ", ") + h.host + ":" + std::to_string(h.port);
    r = unexpected(PgError::make(sqlstate::kConnectionFailure,
                                 "no primary in the PostgreSQL cluster (" + hosts + "): a failover is in progress or no host answers"));
  } else {
    r = co_await connect_backend(ex, target, user_, database_, {}, keys ? &*keys : nullptr);
    if (r && host) {
      // The elected primary may have become a replica since the monitor last looked (a
      // switchover), or a replica a primary: PostgreSQL says which at once (in_hot_standby).
      const bool replica = settings_.replica_host.has_value();
      const std::string_view wrong = replica ? "off" : "on";
      bool mismatch = false;
      for (const auto& [k, v] : r->parameters) mismatch = mismatch || (k == "in_hot_standby" && v == wrong);
      if (mismatch) {
        const std::string where = target.hosts[0].host + ":" + std::to_string(target.hosts[0].port);
        r = unexpected(PgError::make(sqlstate::kConnectionFailure,
                                     replica ? "replica " + where + " is not in recovery now (promoted?)"
                                             : "the elected primary " + where + " is in recovery now (a switchover?)"));
      }
    }
    if (!r && host && r.error().sqlstate == sqlstate::kConnectionFailure) settings_.cluster->report_failure(*host);
  }
  Graveyard graveyard;
  std::lock_guard lk(mu_);
  --connecting_;
  if (!r) {
    connect_failures_.fetch_add(1, std::memory_order_relaxed);
    last_connect_error_ = r.error();
    next_connect_us_ = steady_now_us() + (settings_.cluster && !host ? kNoPrimaryRetryUs : kConnectRetryUs);
    co_return unexpected(r.error());
  }
  connects_.fetch_add(1, std::memory_order_relaxed);
  last_connect_error_.reset();
  next_connect_us_ = 0;
  auto s = std::make_unique<ServerConnection>(std::move(*r), settings_.statement_cache_size);
  s->id = next_id_++;
  s->created_us = s->last_used_us = steady_now_us();
  s->state = ServerState::kActive;
  s->cluster_generation = generation;
  parameters_ = s->link.parameters;
  ServerConnection* raw = s.get();
  servers_.push_back(std::move(s));
  co_return raw;
}

namespace {
// Compares without stopping at the first difference (the length is not secret).
bool same_secret(std::string_view a, std::string_view b) {
  if (a.size() != b.size() || b.empty()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}
}  // namespace

awaitable<PgStatus> Pool::verify_password(asio::any_io_executor ex, std::string password) {
  co_return co_await verify_secret(std::move(ex), std::move(password), std::nullopt);
}

awaitable<PgStatus> Pool::verify_scram_keys(asio::any_io_executor ex, auth::ScramKeys keys) {
  co_return co_await verify_secret(std::move(ex), std::string(), std::move(keys));
}

awaitable<PgStatus> Pool::verify_secret(asio::any_io_executor ex, std::string password, std::optional<auth::ScramKeys> keys) {
  config::PostgresTarget target;
  {
    std::lock_guard lk(mu_);
    if (keys ? scram_keys_ == keys : same_secret(password, settings_.target.password)) co_return PgStatus{};
    target = settings_.target;
  }
  if (!keys) target.password = password;
  auto r = co_await connect_backend(ex, target, user_, database_, {}, keys ? &*keys : nullptr);
  if (!r) co_return unexpected(r.error());
  std::lock_guard lk(mu_);
  if (keys) scram_keys_ = std::move(keys);
  else settings_.target.password = std::move(password);
  if (total_locked() < settings_.size) {
    auto s = std::make_unique<ServerConnection>(std::move(*r), settings_.statement_cache_size);
    s->id = next_id_++;
    s->created_us = s->last_used_us = steady_now_us();
    connects_.fetch_add(1, std::memory_order_relaxed);
    parameters_ = s->link.parameters;
    ServerConnection* raw = s.get();
    servers_.push_back(std::move(s));
    hand_over(raw);
  }
  co_return PgStatus{};
}

bool Pool::no_primary() const {
  return settings_.cluster && !settings_.replica_host && !settings_.cluster->has_primary();
}

std::optional<size_t> Pool::pick_replica(int64_t last_write_us, uint64_t& ryw_lsn) {
  if (!settings_.cluster || settings_.reads == config::ReadsMode::kPrimary || settings_.replica_host) return std::nullopt;
  auto v = settings_.cluster->view();
  if (!v->primary) return std::nullopt;
  const auto& p = v->hosts[*v->primary].seen;
  // Read-your-writes: the primary's position in a round that began after the client's write
  // is at or past that write; a replica replayed that far has it.
  if (last_write_us && !ryw_lsn) {
    if (v->observed_us <= last_write_us) return std::nullopt;
    ryw_lsn = p.lsn;
  }
  std::vector<size_t> fresh, any;
  for (size_t i = 0; i < v->hosts.size(); ++i) {
    const auto& h = v->hosts[i];
    if (i == *v->primary || h.refused || h.seen.role != ha::Role::kReplica) continue;
    if (last_write_us && h.seen.lsn < ryw_lsn) continue;  // the client's write may not be there yet
    any.push_back(i);
    const uint64_t lag = p.lsn > h.seen.lsn ? p.lsn - h.seen.lsn : 0;
    if (static_cast<int64_t>(lag) <= settings_.max_replica_lag_bytes &&
        h.seen.replay_lag_s * 1000.0 <= static_cast<double>(settings_.max_replica_lag_ms))
      fresh.push_back(i);
  }
  const auto& from = !fresh.empty() || settings_.reads != config::ReadsMode::kReplicas ? fresh : any;
  if (from.empty()) return std::nullopt;
  return from[next_replica_.fetch_add(1, std::memory_order_relaxed) % from.size()];
}

std::shared_ptr<Pool> Pool::replica_pool(size_t host) {
  std::lock_guard lk(mu_);
  auto& p = replicas_[host];
  if (!p) {
    PoolSettings s = settings_;
    s.target.hosts = {settings_.target.hosts.at(host)};
    s.replica_host = host;
    s.reads = config::ReadsMode::kPrimary;
    s.min_size = 0;
    p = std::make_shared<Pool>(database_, user_, std::move(s));
  }
  return p;
}

std::vector<std::shared_ptr<Pool>> Pool::replica_pools() {
  std::lock_guard lk(mu_);
  std::vector<std::shared_ptr<Pool>> out;
  for (auto& [h, p] : replicas_) out.push_back(p);
  return out;
}

awaitable<PgResult<ServerConnection*>> Pool::acquire(asio::any_io_executor ex, bool* was_held) {
  const int64_t start = steady_now_us();
  int64_t deadline = start + settings_.queue_timeout_ms * 1000;
  bool counted_wait = false;
  // While held (a cluster without a primary) this acquire counts in held_now_, at most
  // hold_max_clients of them; the count is given back however the acquire ends.
  struct HeldSlot {
    std::atomic<int64_t>* n = nullptr;
    ~HeldSlot() {
      if (n) n->fetch_sub(1, std::memory_order_relaxed);
    }
  } slot;
  for (;;) {
    ServerConnection* s = nullptr;
    bool do_connect = false;
    bool refused = false;
    std::shared_ptr<Waiter> w;
    int64_t now = steady_now_us();
    // A cluster without a primary (a failover): the client is held up to hold_ms.
    const bool held = no_primary();
    if (held) {
      deadline = std::max(deadline, start + settings_.hold_ms * 1000);
      if (was_held) *was_held = true;
      if (!slot.n) {
        if (held_now_.fetch_add(1, std::memory_order_relaxed) >= settings_.hold_max_clients) {
          held_now_.fetch_sub(1, std::memory_order_relaxed);
          refused = true;
        } else {
          slot.n = &held_now_;
        }
      }
    }
    if (refused) {
      queue_timeouts_.fetch_add(1, std::memory_order_relaxed);
      co_return unexpected(PgError::make(sqlstate::kCannotConnectNow,
                                         "the PostgreSQL cluster has no primary (a failover is in progress) and " +
                                             std::to_string(settings_.hold_max_clients) +
                                             " clients are already waiting for one (failover_hold_max_clients)"));
    }
    {
      std::lock_guard lk(mu_);
      s = take_idle(ex);
      if (!s) {
        int total = total_locked();
        bool may_connect = now >= next_connect_us_;
        bool reserve = settings_.reserve_size > 0 && now - start >= settings_.reserve_timeout_ms * 1000 &&
                       total < settings_.size + settings_.reserve_size;
        if (may_connect && (total < settings_.size || reserve)) {
          ++connecting_;
          do_connect = true;
        } else if (now < deadline) {
          w = std::make_shared<Waiter>(ex);
          w->since_us = start;
          waiters_.push_back(w);
        }
      }
    }
    if (s && settings_.cluster && s->cluster_generation != settings_.cluster->generation()) {
      // Connected under another cluster view (the primary changed since): never reused.
      discard(s, CloseCause::kCheckFailed);
      continue;
    }
    if (s) {
      // Reuse only what answers: a closed or chatty socket is dropped at once; one idle
      // longer than server_check_delay is asked an empty query first. A connection checked in
      // moments ago is not peeked at (one syscall per transaction saved): a server lost in
      // that window is handled like one lost mid-statement.
      bool ok = now - s->last_used_us < kTrustIdleUs || !looks_broken(s->link.stream.socket());
      if (ok && settings_.check_delay_ms >= 0 && now - s->last_used_us > settings_.check_delay_ms * 1000)
        ok = static_cast<bool>(co_await run_control_query(*s, ""));
      if (!ok) {
        discard(s, CloseCause::kCheckFailed);
        continue;
      }
      ++s->checkouts;
      checkouts_.fetch_add(1, std::memory_order_relaxed);
      co_return s;
    }
    if (do_connect) {
      auto r = co_await connect_new(ex);
      if (r) {
        ++(*r)->checkouts;
        checkouts_.fetch_add(1, std::memory_order_relaxed);
        co_return *r;
      }
      // The server's own refusal (bad password, no such database) will not change by waiting.
      if (r.error().sqlstate != sqlstate::kConnectionFailure) co_return unexpected(r.error());
      // (No primary: the monitor logs that once per failover, not each held client's look.)
      if (!no_primary()) spdlog::warn("pool {}/{}: {}", database_, user_, r.error().message);
      continue;
    }
    if (!w) {
      queue_timeouts_.fetch_add(1, std::memory_order_relaxed);
      std::lock_guard lk(mu_);
      if (last_connect_error_) {
        PgError e = *last_connect_error_;
        e.severity = "ERROR";
        co_return unexpected(std::move(e));
      }
      co_return unexpected(exhausted(database_, user_, settings_.queue_timeout_ms));
    }
    if (!counted_wait) {
      waits_.fetch_add(1, std::memory_order_relaxed);
      counted_wait = true;
    }
    // Wake for a hand-over, the deadline, the reserve pool's turn or a connect retry.
    int64_t wake = deadline;
    if (settings_.reserve_size > 0 && now < start + settings_.reserve_timeout_ms * 1000)
      wake = std::min(wake, start + settings_.reserve_timeout_ms * 1000);
    {
      std::lock_guard lk(mu_);
      if (next_connect_us_ > now) wake = std::min(wake, next_connect_us_);
    }
    w->timer.expires_after(std::chrono::microseconds(std::max<int64_t>(wake - now, 0)));
    co_await w->timer.async_wait(asio::as_tuple(use_awaitable));
    std::lock_guard lk(mu_);
    if (w->handed) {
      ++w->handed->checkouts;
      checkouts_.fetch_add(1, std::memory_order_relaxed);
      co_return w->handed;
    }
    auto it = std::find(waiters_.begin(), waiters_.end(), w);
    if (it != waiters_.end()) waiters_.erase(it);
  }
}

void Pool::release(ServerConnection* s) {
  Graveyard graveyard;
  std::lock_guard lk(mu_);
  int64_t now = steady_now_us();
  s->last_used_us = now;
  if (s->cancels.load() > 0) {
    s->state = ServerState::kCancelling;
    s->release_pending = true;
    return;
  }
  if (settings_.lifetime_ms > 0 && now - s->created_us > settings_.lifetime_ms * 1000 && waiters_.empty()) {
    close_locked(s, CloseCause::kLifetime, graveyard);
    return;
  }
  hand_over(s);
}

void Pool::discard(ServerConnection* s, CloseCause why) {
  Graveyard graveyard;
  std::lock_guard lk(mu_);
  if (s->cancels.load() > 0) {
    // A cancel still uses its key; closed (Terminate, then drained) once that is done.
    s->state = ServerState::kCancelling;
    s->release_pending = false;
    s->discard_pending = true;
    return;
  }
  close_locked(s, why, graveyard);
}

void Pool::cancel(asio::any_io_executor ex, ServerConnection* s, std::function<void()> done) {
  asio::ip::tcp::endpoint ep;
  int32_t pid = 0, secret = 0;
  {
    std::lock_guard lk(mu_);
    s->cancels.fetch_add(1);
    ep = s->link.endpoint;
    pid = s->link.pid;
    secret = s->link.secret;
  }
  asio::co_spawn(
      ex,
      [self = shared_from_this(), ex, s, ep, pid, secret, done = std::move(done)]() -> awaitable<void> {
        co_await send_cancel(ex, ep, pid, secret);
        if (done) done();
        Graveyard graveyard;
        std::lock_guard lk(self->mu_);
        if (s->cancels.fetch_sub(1) == 1) {
          if (s->discard_pending) self->close_locked(s, CloseCause::kBroken, graveyard);
          else if (s->release_pending) {
            s->release_pending = false;
            self->hand_over(s);
          }
        }
      },
      asio::detached);
}

void Pool::maintain(asio::any_io_executor ex, int64_t now_us) {
  for (auto& r : replica_pools()) r->maintain(ex, now_us);
  Graveyard graveyard;
  int missing = 0;
  {
    std::lock_guard lk(mu_);
    std::vector<ServerConnection*> idle(idle_.begin(), idle_.end());
    for (ServerConnection* s : idle) {
      bool old = settings_.lifetime_ms > 0 && now_us - s->created_us > settings_.lifetime_ms * 1000;
      bool unused = settings_.idle_timeout_ms > 0 && now_us - s->last_used_us > settings_.idle_timeout_ms * 1000 &&
                    total_locked() > settings_.min_size;
      if (old) close_locked(s, CloseCause::kLifetime, graveyard);
      else if (unused) close_locked(s, CloseCause::kIdleTimeout, graveyard);
    }
    if (now_us >= next_connect_us_) missing = std::max(0, settings_.min_size - total_locked());
    connecting_ += missing;
  }
  for (int i = 0; i < missing; ++i) {
    asio::co_spawn(
        ex,
        [self = shared_from_this(), ex]() -> awaitable<void> {
          auto r = co_await self->connect_new(ex);
          if (!r) co_return;
          std::lock_guard lk(self->mu_);
          self->hand_over(*r);
        },
        asio::detached);
  }
}

void Pool::close_idle() {
  for (auto& r : replica_pools()) r->close_idle();
  Graveyard graveyard;
  std::lock_guard lk(mu_);
  std::vector<ServerConnection*> idle(idle_.begin(), idle_.end());
  for (ServerConnection* s : idle) close_locked(s, CloseCause::kShutdown, graveyard);
}

bool Pool::known_settings(const std::map<std::string, std::string>& s) {
  std::lock_guard lk(mu_);
  for (const auto& kv : s)
    if (!known_settings_.count(kv)) return false;
  return true;
}

void Pool::remember_settings(const std::map<std::string, std::string>& s) {
  std::lock_guard lk(mu_);
  if (known_settings_.size() + s.size() > kMaxKnownSettings) known_settings_.clear();
  for (const auto& kv : s) known_settings_.insert(kv);
}

std::optional<std::vector<std::pair<std::string, std::string>>> Pool::parameters() {
  std::lock_guard lk(mu_);
  return parameters_;
}

PoolStats Pool::stats() {
  PoolStats st;
  int64_t now = steady_now_us();
  {
    std::lock_guard lk(mu_);
    for (const auto& s : servers_) {
      switch (s->state) {
        case ServerState::kIdle: ++st.servers_idle; break;
        case ServerState::kActive: ++st.servers_active; break;
        case ServerState::kCancelling: ++st.servers_cancelling; break;
        case ServerState::kConnecting: break;
      }
    }
    st.servers_connecting = connecting_;
    st.waiting = static_cast<int>(waiters_.size());
    for (const auto& w : waiters_) st.max_wait_us = std::max(st.max_wait_us, now - w->since_us);
  }
  st.clients = clients_.load(std::memory_order_relaxed);
  st.active_clients = active_clients_.load(std::memory_order_relaxed);
  st.checkouts = checkouts_.load(std::memory_order_relaxed);
  st.waits = waits_.load(std::memory_order_relaxed);
  st.queue_timeouts = queue_timeouts_.load(std::memory_order_relaxed);
  st.connects = connects_.load(std::memory_order_relaxed);
  st.connect_failures = connect_failures_.load(std::memory_order_relaxed);
  st.reparses = reparses_.load(std::memory_order_relaxed);
  st.lost_transactions = lost_transactions_.load(std::memory_order_relaxed);
  st.replica_reads = replica_reads_.load(std::memory_order_relaxed);
  st.interned_statements = registry_.size();
  for (int i = 0; i < kPinCauses; ++i) st.pins[i] = pins_by_cause_[i].load(std::memory_order_relaxed);
  for (size_t i = 0; i < kCloseCauses; ++i) st.closes[i] = closes_[i].load(std::memory_order_relaxed);
  return st;
}

std::vector<ServerInfo> Pool::servers() {
  std::vector<ServerInfo> out;
  int64_t now = steady_now_us();
  std::lock_guard lk(mu_);
  for (const auto& s : servers_) {
    ServerInfo i;
    i.id = s->id;
    i.address = s->link.endpoint.address().to_string();
    i.port = s->link.endpoint.port();
    i.pid = s->link.pid;
    i.state = s->state;
    i.age_ms = (now - s->created_us) / 1000;
    i.idle_ms = s->state == ServerState::kIdle ? (now - s->last_used_us) / 1000 : 0;
    i.checkouts = s->checkouts;
    // A checked-out connection's statements belong to its session's thread: not read then.
    i.prepared = s->state == ServerState::kIdle ? s->statements.size() : 0;
    out.push_back(std::move(i));
  }
  return out;
}

// ---- PoolSet ----------------------------------------------------------------------------

std::shared_ptr<Pool> PoolSet::get(const std::string& database, const std::string& user, const PoolSettings& settings) {
  std::lock_guard lk(mu_);
  auto& p = pools_[{database, user}];
  if (!p) p = std::make_shared<Pool>(database, user, settings);
  return p;
}

std::shared_ptr<ha::Monitor> PoolSet::cluster(const config::PostgresTarget& t, const config::DatabaseConfig& entry) {
  // The monitor logs in with the conninfo's own user and password: without them (pass-through,
  // the client's credentials) it could not, and a cluster it cannot see would never have a
  // primary — such host lists are tried in order, as libpq does.
  if (t.hosts.size() < 2 || t.user.empty() || t.password.empty()) return nullptr;
  ha::MonitorOptions o;
  for (const auto& h : t.hosts) o.hosts.push_back({h.host, h.port});
  o.conninfo = "dbname=" + config::quote_conninfo_value(t.dbname.empty() ? std::string("postgres") : t.dbname) +
               " user=" + config::quote_conninfo_value(t.user) + " sslmode=" + config::quote_conninfo_value(t.sslmode);
  o.conninfo += " password=" + config::quote_conninfo_value(t.password);
  if (!t.sslrootcert.empty()) o.conninfo += " sslrootcert=" + config::quote_conninfo_value(t.sslrootcert);
  if (!t.sslcert.empty())
    o.conninfo += " sslcert=" + config::quote_conninfo_value(t.sslcert) + " sslkey=" + config::quote_conninfo_value(t.sslkey);
  o.interval_ms = entry.health_check_interval_ms;
  o.timeout_ms = entry.health_check_timeout_ms;
  o.patroni_urls = entry.patroni_urls;
  std::string key = o.conninfo + " " + std::to_string(o.interval_ms) + "/" + std::to_string(o.timeout_ms);
  for (const auto& u : o.patroni_urls) key += " " + u;
  for (const auto& h : t.hosts) key += " " + h.host + ":" + std::to_string(h.port);
  std::lock_guard lk(mu_);
  auto& m = clusters_[key];
  if (!m) {
    m = std::make_shared<ha::Monitor>(std::move(o));
    m->start();
  }
  return m;
}

std::vector<std::pair<std::string, std::shared_ptr<ha::Monitor>>> PoolSet::clusters() {
  std::vector<std::pair<std::string, std::shared_ptr<ha::Monitor>>> out;
  std::lock_guard lk(mu_);
  for (const auto& [key, m] : clusters_) out.emplace_back(cluster_name(*m), m);
  return out;
}

std::string cluster_name(const ha::Monitor& m) {
  std::string name;
  for (const auto& h : m.hosts()) name += (name.empty() ? "" : ",") + h.host + ":" + std::to_string(h.port);
  return name;
}

std::vector<std::shared_ptr<Pool>> PoolSet::all() {
  std::lock_guard lk(mu_);
  std::vector<std::shared_ptr<Pool>> out;
  for (auto& [k, p] : pools_) out.push_back(p);
  return out;
}

void PoolSet::maintain(asio::any_io_executor ex, int64_t now_us) {
  for (auto& p : all()) p->maintain(ex, now_us);
}

void PoolSet::close_idle() {
  for (auto& p : all()) p->close_idle();
}

// ---- control queries --------------------------------------------------------------------

awaitable<PgStatus> run_control_query(ServerConnection& s, std::string_view sql) {
  auto& sock = s.link.stream;
  std::string out;
  wire::append_query(out, sql);
  auto [wec, wn] = co_await sock.async_write(asio::buffer(out), asio::as_tuple(use_awaitable));
  if (wec) co_return unexpected(PgError::make(sqlstate::kConnectionFailure, "server connection lost: " + wec.message()));
  std::string in = std::move(s.link.leftover);
  s.link.leftover.clear();
  std::optional<PgError> error;
  size_t pos = 0;
  for (;;) {
    while (in.size() - pos >= 5) {
      const auto* p = reinterpret_cast<const uint8_t*>(in.data() + pos);
      uint32_t len = (uint32_t{p[1]} << 24) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 8) | uint32_t{p[4]};
      if (len < 4 || len > (64u << 20))
        co_return unexpected(PgError::make(sqlstate::kProtocolViolation, "invalid message from the server"));
      if (in.size() - pos < len + 1) break;
      char type = in[pos];
      std::string_view body(in.data() + pos + 5, len - 4);
      pos += len + 1;
      if (type == 'E' && !error) {
        error = wire::parse_error_fields(body);
      } else if (type == 'S') {
        size_t z = body.find('\0');
        if (z != std::string_view::npos) {
          std::string name(body.substr(0, z));
          std::string_view rest = body.substr(z + 1);
          std::string value(rest.substr(0, rest.find('\0')));
          auto it = std::find_if(s.link.parameters.begin(), s.link.parameters.end(),
                                 [&](const auto& kv) { return kv.first == name; });
          if (it != s.link.parameters.end()) it->second = value;
          else s.link.parameters.emplace_back(name, value);
        }
      } else if (type == 'Z') {
        s.link.leftover = in.substr(pos);
        if (error) co_return unexpected(std::move(*error));
        co_return PgStatus{};
      }
    }
    in.erase(0, pos);
    pos = 0;
    size_t old = in.size();
    in.resize(old + 8192);
    auto [rec, n] = co_await sock.async_read_some(asio::buffer(in.data() + old, 8192), asio::as_tuple(use_awaitable));
    in.resize(old + (rec ? 0 : n));
    if (rec || n == 0) co_return unexpected(PgError::make(sqlstate::kConnectionFailure, "server connection lost"));
  }
}

}  // namespace metagate::pool
