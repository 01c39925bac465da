// Session: the life of one client connection — startup, authentication, then the simple
// and extended query protocols, transactions on the SQLite store, and cancellation.
#include "session.hpp"

#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <chrono>

#include "metagate/auth/hba.hpp"
#include "metagate/auth/password.hpp"
#include "metagate/auth/scram.hpp"
#include "metagate/sql/parser.hpp"
#include "metagate/sql/shape.hpp"
#include "metagate/sql/translator.hpp"
#include "metagate/types/codec.hpp"
#include "metagate/types/datetime.hpp"
#include "metagate/types/type_catalog.hpp"
#include "metagate/util/clock.hpp"
#include "metagate/util/strings.hpp"
#include "metagate/admin/admin.hpp"
#include "settings.hpp"

namespace metagate::server {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;

namespace {

int64_t now_pg_us() {
  auto now = std::chrono::system_clock::now().time_since_epoch();
  return std::chrono::duration_cast<std::chrono::microseconds>(now).count() -
         int64_t{types::datetime::kUnixEpochToPgEpochDays} * types::datetime::kUsecsPerDay;
}

const std::string kEmpty;

using util::steady_now_us;

using metrics::CloseReason;
using metrics::ClientState;
using admin::AdminCommand;
using admin::AdminResult;
using admin::AdminVerb;

}  // namespace

int64_t AuthThrottle::failure(const std::string& address, int64_t base_ms, int64_t max_ms, int64_t now_us) {
  if (base_ms <= 0) return 0;
  std::lock_guard lk(mu_);
  if (entries_.size() >= kMaxEntries) {
    // Forget addresses that have been quiet; if all are recent, start over (bounded memory).
    int64_t quiet_us = 2 * max_ms * 1000;
    std::erase_if(entries_, [&](const auto& e) { return now_us - e.second.last_us > quiet_us; });
    if (entries_.size() >= kMaxEntries) entries_.clear();
  }
  Entry& e = entries_[address];
  if (e.failures > 0 && now_us - e.last_us > 2 * max_ms * 1000) e.failures = 0;
  e.failures = std::min(e.failures + 1, 30);
  e.last_us = now_us;
  int64_t delay = base_ms;
  for (int i = 1; i < e.failures && delay < max_ms; ++i) delay *= 2;
  return std::min(delay, std::max(max_ms, base_ms));
}

void AuthThrottle::success(const std::string& address) {
  std::lock_guard lk(mu_);
  entries_.erase(address);
}

size_t AuthThrottle::size() const {
  std::lock_guard lk(mu_);
  return entries_.size();
}

void ServerContext::cancel(int32_t pid, int32_t secret, std::function<void()> done) {
  std::shared_ptr<Session> s;
  {
    std::lock_guard lk(mu);
    auto it = sessions.find(pid);
    if (it != sessions.end()) s = it->second.lock();
  }
  if (s) s->cancel(secret, std::move(done));
  else if (done) done();
}

Session::Session(ServerContext& ctx, tcp::socket socket, std::atomic<int64_t>* busy)
    : ctx_(ctx), socket_(std::move(socket)), busy_(busy) {
  refresh_config();
  session_id_ = ctx_.next_session_id++;
  ctx_.connections++;
  state_since_us_ = steady_now_us();
  boost::system::error_code ec;
  auto ep = socket_.remote_endpoint(ec);
  info_.connect_time_us = std::chrono::duration_cast<std::chrono::microseconds>(
                              std::chrono::system_clock::now().time_since_epoch()).count();
  info_.state_change_us = state_since_us_;
  if (!ec) {
    info_.address = ep.address().to_string();
    info_.port = ep.port();
  }
}

Session::~Session() {
  ctx_.connections--;
  if (pool_) {
    if (server_) server_pool().discard(server_, pool::CloseCause::kDirty);
    pool_->client_left();
  }
  if (ctx_.metrics) ctx_.metrics->connection_closed(close_reason_);
  if (ready_) {
    std::lock_guard lk(ctx_.mu);
    auto it = ctx_.user_sessions.find(user_);
    if (it != ctx_.user_sessions.end() && --it->second <= 0) ctx_.user_sessions.erase(it);
  }
}

void Session::refresh_config() {
  cfg_generation_ = ctx_.config_generation.load(std::memory_order_acquire);
  cfg_ = ctx_.current_config();
  limits_.max_message = static_cast<size_t>(cfg_->limits.max_message_bytes);
  limits_.max_startup_packet = static_cast<size_t>(cfg_->limits.max_startup_packet_bytes);
}

void Session::set_state(ClientState st) {
  if (state_.load(std::memory_order_relaxed) == static_cast<uint8_t>(st)) return;
  state_.store(static_cast<uint8_t>(st), std::memory_order_relaxed);
  state_since_us_.store(steady_now_us(), std::memory_order_relaxed);
}

Session::Info Session::info() const {
  std::lock_guard lk(info_mu_);
  Info i = info_;
  i.id = pid_;
  i.state = state();
  i.state_change_us = state_since_us_.load(std::memory_order_relaxed);
  return i;
}

PgError Session::termination_error(CloseReason r) const {
  switch (r) {
    case CloseReason::kIdleTimeout:
      return PgError::fatal("57P05", "terminating connection due to idle-session timeout");
    case CloseReason::kIdleInTransactionTimeout:
      return PgError::fatal("25P03", "terminating connection due to idle-in-transaction timeout");
    case CloseReason::kStartupTimeout:
      return PgError::fatal(sqlstate::kQueryCanceled, "canceling authentication due to timeout");
    default:
      return PgError::fatal("57P01", "terminating connection due to administrator command");
  }
}

void Session::set_termination(CloseReason reason) {
  uint8_t none = kNoTermination;  // the first reason wins
  terminate_reason_.compare_exchange_strong(none, static_cast<uint8_t>(reason));
}

void Session::end_reading(CloseReason reason) {
  set_termination(reason);
  boost::system::error_code ec;
  socket_.shutdown(tcp::socket::shutdown_receive, ec);
}

void Session::terminate(CloseReason reason) {
  set_termination(reason);
  {
    std::lock_guard lk(exec_mu_);
    if (active_db_) sqlite3_interrupt(active_db_);
  }
  // Wake a pending read: shutting down the receive side ends it with EOF, while writes (the
  // FATAL message) still work.
  asio::post(socket_.get_executor(), [self = shared_from_this()] {
    boost::system::error_code ec;
    if (self->waiting_input_ || !self->ready_) self->socket_.shutdown(tcp::socket::shutdown_receive, ec);
  });
}

void Session::terminate_if_idle(CloseReason reason) {
  asio::post(socket_.get_executor(), [self = shared_from_this(), reason] {
    if (!self->ready_ || !self->waiting_input_ || self->tx_ != Tx::kIdle) return;
    if (self->relayed_ && !self->relay_idle()) return;  // a relayed statement is still running
    self->end_reading(reason);
  });
}

void Session::check_timeouts(int64_t now, int64_t startup_timeout_ms) {
  auto st = state();
  int64_t since = state_since_us_.load(std::memory_order_relaxed);
  if (st == ClientState::kStartup) {
    if (now - since > startup_timeout_ms * 1000) terminate(CloseReason::kStartupTimeout);
    return;
  }
  if (int64_t started = statement_started_us_.load(std::memory_order_relaxed); started != 0) {
    int64_t t = statement_timeout_ms_.load(std::memory_order_relaxed);
    if (t > 0 && now - started > t * 1000 && !timed_out_.exchange(true)) {
      std::lock_guard lk(exec_mu_);
      if (active_db_) sqlite3_interrupt(active_db_);
      cancelled_ = true;
    }
    return;
  }
  int64_t limit = 0;
  CloseReason why = CloseReason::kIdleTimeout;
  if (st == ClientState::kIdle) {
    limit = idle_timeout_ms_.load(std::memory_order_relaxed);
  } else if (st == ClientState::kIdleInTransaction || st == ClientState::kIdleInTransactionAborted) {
    limit = idle_in_tx_timeout_ms_.load(std::memory_order_relaxed);
    why = CloseReason::kIdleInTransactionTimeout;
  }
  if (limit <= 0 || now - since <= limit * 1000) return;
  // Re-checked on the session's thread: the client may have sent a query meanwhile.
  asio::post(socket_.get_executor(), [self = shared_from_this(), st, why, limit] {
    if (!self->waiting_input_ || self->state() != st) return;
    if (steady_now_us() - self->state_since_us_.load(std::memory_order_relaxed) <= limit * 1000) return;
    self->end_reading(why);
  });
}

void Session::refresh_timeouts() {
  auto ms = [&](const char* name) -> int64_t {
    auto it = settings_.find(name);
    if (it == settings_.end()) return 0;
    return parse_duration_ms(it->second).value_or(0);
  };
  statement_timeout_ms_ = ms("statement_timeout");
  idle_timeout_ms_ = ms("idle_session_timeout");
  idle_in_tx_timeout_ms_ = ms("idle_in_transaction_session_timeout");
}

void Session::cancel(int32_t secret, std::function<void()> done) {
  if (secret != secret_) {
    if (done) done();
    return;
  }
  if (relayed_) {
    // Relayed: the server connection running this client's statement gets the cancel.
    asio::post(socket_.get_executor(), [self = shared_from_this(), done = std::move(done)]() mutable {
      self->relay_cancel(std::move(done));
    });
    return;
  }
  if (done) done();
  cancelled_ = true;
  std::lock_guard lk(exec_mu_);
  if (active_db_) sqlite3_interrupt(active_db_);
}

void Session::close() {
  boost::system::error_code ec;
  socket_.shutdown(tcp::socket::shutdown_both, ec);
  socket_.close(ec);
}

// ---------------------------------------------------------------------------------------
// I/O

awaitable<bool> Session::read_more() {
  if (in_start_ > 0 && in_start_ == in_.size()) {
    in_.clear();
    in_start_ = 0;
  } else if (in_start_ > 65536 && in_start_ * 2 > in_.size()) {
    in_.erase(in_.begin(), in_.begin() + static_cast<std::ptrdiff_t>(in_start_));
    in_start_ = 0;
  }
  // Small reads while the client sends small messages (an idle session then holds a few KiB,
  // not 64), large ones once a read came back full.
  const size_t chunk = last_read_full_ ? 65536 : 4096;
  if (in_.empty() && chunk == 4096 && in_.capacity() > 16384) in_.shrink_to_fit();
  size_t old = in_.size();
  in_.resize(old + chunk);
  boost::system::error_code ec;
  size_t n;
  if (tls_) {
    std::tie(ec, n) = co_await tls_->async_read_some(asio::buffer(in_.data() + old, chunk), asio::as_tuple(use_awaitable));
  } else {
    std::tie(ec, n) = co_await socket_.async_read_some(asio::buffer(in_.data() + old, chunk), asio::as_tuple(use_awaitable));
  }
  in_.resize(old + (ec ? 0 : n));
  last_read_full_ = !ec && n == chunk;
  if (!ec && ctx_.metrics) ctx_.metrics->received(n);
  co_return !ec && n > 0;
}

void Session::note_commit() {
  if (auto* gc = db_->store->group_commit()) durable_ticket_ = gc->note_commit();
}

awaitable<PgStatus> Session::wait_durable(uint64_t ticket) {
  auto* gc = db_->store->group_commit();
  if (!gc) co_return Ok{};
  auto ex = co_await asio::this_coro::executor;
  co_return co_await asio::async_initiate<decltype(use_awaitable), void(PgStatus)>(
      [gc, ticket, ex](auto handler) {
        auto h = std::make_shared<decltype(handler)>(std::move(handler));
        gc->when_durable(ticket, [h, ex](PgStatus s) {
          asio::post(ex, [h, s = std::move(s)]() mutable { (*h)(std::move(s)); });
        });
      },
      use_awaitable);
}

awaitable<void> Session::flush() {
  if (out_.empty()) co_return;
  if (durable_ticket_ != 0) {
    // Nothing that follows a COMMIT reaches the client before the commit is on disk.
    auto s = co_await wait_durable(std::exchange(durable_ticket_, 0));
    if (!s) {
      spdlog::critical("session {}: {}; the commit may be lost, writes are refused until restart", pid_,
                       s.error().message);
      out_.clear();
      PgError f = s.error();
      f.severity = "FATAL";
      wire::Writer w(out_);
      w.error_response(f);
      if (ctx_.metrics) ctx_.metrics->error(f.sqlstate);
      close_reason_ = CloseReason::kServerError;
      closed_ = true;
    }
  }
  boost::system::error_code ec;
  if (ctx_.metrics) ctx_.metrics->sent(out_.size());
  if (tls_) {
    std::tie(ec, std::ignore) = co_await asio::async_write(*tls_, asio::buffer(out_), asio::as_tuple(use_awaitable));
  } else {
    std::tie(ec, std::ignore) = co_await asio::async_write(socket_, asio::buffer(out_), asio::as_tuple(use_awaitable));
  }
  out_.clear();
  if (ec) {
    if (ready_ && close_reason_ == CloseReason::kClientClosed) close_reason_ = CloseReason::kNetworkError;
    closed_ = true;
  }
}

awaitable<void> Session::send_fatal(const PgError& e) {
  wire::Writer w(out_);
  PgError f = e;
  f.severity = "FATAL";
  w.error_response(f);
  if (ctx_.metrics) ctx_.metrics->error(f.sqlstate);
  if (ready_) spdlog::info("session {}: FATAL {}: {}", pid_, f.sqlstate, f.message);
  co_await flush();
}

void Session::send_error(const PgError& e) {
  wire::Writer w(out_);
  w.error_response(e);
  if (ctx_.metrics) ctx_.metrics->error(e.sqlstate);
  spdlog::info("session {}: ERROR {}: {}", pid_, e.sqlstate, e.message);
}

void Session::send_notice(const std::string& message, std::string_view code, std::string severity) {
  PgError n = PgError::make(code, message);
  n.severity = std::move(severity);
  wire::Writer w(out_);
  w.notice_response(n);
}

// ---------------------------------------------------------------------------------------
// Startup

awaitable<std::optional<std::string>> Session::read_password_message() {
  for (;;) {
    auto fr = wire::next_frame(std::span(in_.data() + in_start_, in_.size() - in_start_), false, limits_);
    if (fr.status == wire::FrameStatus::kError) {
      co_await send_fatal(fr.error);
      co_return std::nullopt;
    }
    if (fr.status == wire::FrameStatus::kFrame) {
      in_start_ += fr.frame.total_size;
      if (fr.frame.type != 'p') {
        co_await send_fatal(PgError::fatal(sqlstate::kProtocolViolation,
                                           "expected password response, got message type " +
                                               std::to_string(static_cast<int>(fr.frame.type))));
        co_return std::nullopt;
      }
      co_return std::string(reinterpret_cast<const char*>(fr.frame.body.data()), fr.frame.body.size());
    }
    co_await flush();
    if (!co_await read_more()) co_return std::nullopt;
  }
}

awaitable<bool> Session::authenticate(const std::string& user, const std::string& database) {
  const auto& cfg = *cfg_;
  // A failed authentication: counted, logged (never the password), answered after the
  // address's back-off delay.
  auto failed = [&](metrics::AuthFailure how, const PgError& e, CloseReason why) -> awaitable<bool> {
    if (ctx_.metrics) ctx_.metrics->auth_failure(how);
    close_reason_ = why;
    int64_t delay = ctx_.auth_throttle.failure(info_.address, cfg.limits.auth_failure_delay_ms,
                                               cfg.limits.auth_failure_delay_max_ms, steady_now_us());
    spdlog::info("connection from {}:{} refused: user={} database={} reason={} ({})", info_.address, info_.port, user,
                 database, metrics::to_string(why), e.message);
    if (delay > 0) {
      asio::steady_timer t(socket_.get_executor(), std::chrono::milliseconds(delay));
      co_await t.async_wait(asio::as_tuple(use_awaitable));
    }
    co_await send_fatal(e);
    co_return false;
  };
  boost::system::error_code ec;
  auto ep = socket_.remote_endpoint(ec);
  auth::IpAddress ip;
  if (!ec) {
    if (ep.address().is_v4()) {
      auto b = ep.address().to_v4().to_bytes();
      ip = *auth::IpAddress::from_bytes(std::span<const uint8_t>(b.data(), b.size()));
    } else {
      auto b = ep.address().to_v6().to_bytes();
      ip = *auth::IpAddress::from_bytes(std::span<const uint8_t>(b.data(), b.size()));
    }
  }
  auth::HbaConnection conn{ip, tls_ != nullptr, database, user};
  const auth::HbaRule* rule = auth::match_hba(cfg.auth.rules, conn);
  if (!rule) co_return co_await failed(metrics::AuthFailure::kNoHbaEntry, auth::no_hba_entry_error(conn).to_pg_error(), CloseReason::kHba);
  const config::UserConfig* uc = cfg.auth.find_user(user);
  const auth::Credential* cred = uc ? &uc->credential : nullptr;
  wire::Writer w(out_);
  // Authentication pass-through: a PostgreSQL database whose conninfo has no password, a user
  // metagate has no secret for, a rule asking for a password. The client's password is asked
  // in clear (the only form that can be used towards the server whatever method it wants) and
  // checked by the server when the session takes its pool (relay_startup).
  if (!cred && rule->method != auth::Method::kTrust && rule->method != auth::Method::kReject) {
    const auto* entry = config::database_entry(cfg, database);
    if (entry && entry->backend == config::Backend::kPostgres) {
      auto target = config::parse_conninfo(entry->conninfo);
      if (target && target->password.empty()) {
        w.auth_cleartext();
        auto pw = co_await read_password_message();
        if (!pw) co_return false;
        passthrough_password_ = *pw;
        if (!passthrough_password_.empty() && passthrough_password_.back() == '\0') passthrough_password_.pop_back();
        co_return true;
      }
    }
  }
  switch (auth::challenge_for(rule->method, cred)) {
    case auth::Challenge::kNone: co_return true;
    case auth::Challenge::kReject:
      co_return co_await failed(metrics::AuthFailure::kReject, auth::hba_reject_error(conn).to_pg_error(), CloseReason::kHba);
    case auth::Challenge::kCleartext: {
      w.auth_cleartext();
      auto pw = co_await read_password_message();
      if (!pw) co_return false;
      std::string p = *pw;
      if (!p.empty() && p.back() == '\0') p.pop_back();
      if (auto s = auth::check_cleartext(cred, user, p); !s)
        co_return co_await failed(metrics::AuthFailure::kPassword, s.error().to_pg_error(), CloseReason::kAuthFailed);
      co_return true;
    }
    case auth::Challenge::kMd5: {
      auto salt = auth::random_md5_salt();
      w.auth_md5(salt.data());
      auto pw = co_await read_password_message();
      if (!pw) co_return false;
      std::string p = *pw;
      if (!p.empty() && p.back() == '\0') p.pop_back();
      if (auto s = auth::check_md5_response(cred, user, salt, p); !s)
        co_return co_await failed(metrics::AuthFailure::kMd5, s.error().to_pg_error(), CloseReason::kAuthFailed);
      co_return true;
    }
    case auth::Challenge::kScram: {
      std::string_view mechs[] = {auth::kScramMechanism};
      w.auth_sasl(mechs);
      auto exchange = cred ? auth::ScramServerExchange(*cred, user)
                           : auth::ScramServerExchange::mock(user, ctx_.mock_secret);
      auto first = co_await read_password_message();
      if (!first) co_return false;
      auto init = wire::parse_sasl_initial(*first);
      if (!init) {
        co_await send_fatal(init.error());
        co_return false;
      }
      if (auto s = auth::check_sasl_mechanism(init->mechanism); !s) {
        co_await send_fatal(s.error().to_pg_error());
        co_return false;
      }
      std::string client_first;
      if (init->data) {
        client_first = *init->data;
      } else {
        w.auth_sasl_continue("");
        auto more = co_await read_password_message();
        if (!more) co_return false;
        client_first = *more;
      }
      auto server_first = exchange.on_client_first(client_first);
      if (!server_first) {
        co_await send_fatal(server_first.error().to_pg_error());
        co_return false;
      }
      w.auth_sasl_continue(*server_first);
      auto client_final = co_await read_password_message();
      if (!client_final) co_return false;
      auto server_final = exchange.on_client_final(*client_final);
      if (!server_final) {
        if (!server_final.error().log_detail.empty()) spdlog::info("authentication failed: {}", server_final.error().log_detail);
        co_return co_await failed(metrics::AuthFailure::kScram, server_final.error().to_pg_error(), CloseReason::kAuthFailed);
      }
      w.auth_sasl_final(*server_final);
      passthrough_scram_ = exchange.keys();  // used when the database's conninfo has no password
      co_return true;
    }
  }
  co_return false;
}

awaitable<bool> Session::startup() {
  const auto& cfg = *cfg_;
  for (;;) {
    auto fr = wire::next_frame(std::span(in_.data() + in_start_, in_.size() - in_start_), true, limits_);
    if (fr.status == wire::FrameStatus::kNeedMore) {
      if (!co_await read_more()) co_return false;
      continue;
    }
    if (fr.status == wire::FrameStatus::kError) {
      close_reason_ = CloseReason::kStartupProtocolError;
      co_await send_fatal(fr.error);
      co_return false;
    }
    in_start_ += fr.frame.total_size;
    auto pkt = wire::parse_startup_packet(fr.frame.body);
    if (!pkt) {
      close_reason_ = CloseReason::kStartupProtocolError;
      co_await send_fatal(pkt.error());
      co_return false;
    }
    if (std::holds_alternative<wire::CancelRequest>(*pkt)) {
      auto c = std::get<wire::CancelRequest>(*pkt);
      close_reason_ = CloseReason::kCancelRequest;
      // As PostgreSQL does, the requester's connection closes once the cancel has been
      // delivered (a relayed one: once the server closed its cancel connection), so the
      // client's next statement cannot be hit by it; at most 5 s.
      auto done = std::make_shared<asio::steady_timer>(socket_.get_executor(), std::chrono::seconds(5));
      ctx_.cancel(c.pid, c.secret, [done, ex = socket_.get_executor()] { asio::post(ex, [done] { done->cancel(); }); });
      co_await done->async_wait(asio::as_tuple(use_awaitable));
      co_return false;
    }
    if (std::holds_alternative<wire::GssEncRequest>(*pkt)) {
      out_.push_back('N');
      co_await flush();
      continue;
    }
    if (std::holds_alternative<wire::SslRequest>(*pkt)) {
      if (tls_ || !ctx_.tls) {
        out_.push_back('N');
        co_await flush();
        continue;
      }
      if (in_start_ != in_.size()) {
        close_reason_ = CloseReason::kStartupProtocolError;
        co_await send_fatal(PgError::fatal(sqlstate::kProtocolViolation, "received unencrypted data after SSL request"));
        co_return false;
      }
      out_.push_back('S');
      co_await flush();
      tls_ = std::make_unique<asio::ssl::stream<tcp::socket&>>(socket_, *ctx_.tls);
      auto [ec] = co_await tls_->async_handshake(asio::ssl::stream_base::server, asio::as_tuple(use_awaitable));
      if (ec) {
        spdlog::info("connection from {}:{}: TLS handshake failed: {}", info_.address, info_.port, ec.message());
        close_reason_ = CloseReason::kTlsFailed;
        co_return false;
      }
      std::lock_guard lk(info_mu_);
      info_.tls = true;
      continue;
    }
    auto& sm = std::get<wire::StartupMessage>(*pkt);
    int major = sm.protocol >> 16, minor = sm.protocol & 0xffff;
    if (major != 3) {
      close_reason_ = CloseReason::kStartupProtocolError;
      co_await send_fatal(PgError::fatal(sqlstate::kFeatureNotSupported,
                                         "unsupported frontend protocol " + std::to_string(major) + "." +
                                             std::to_string(minor) + ": server supports 3.0 to 3.0"));
      co_return false;
    }
    if (cfg.tls.mode == config::TlsMode::kRequire && !tls_) {
      close_reason_ = CloseReason::kHba;
      boost::system::error_code ec;
      auto ep = socket_.remote_endpoint(ec);
      const std::string* u = sm.find("user");
      const std::string* d = sm.find("database");
      co_await send_fatal(PgError::fatal(sqlstate::kInvalidAuthorizationSpecification,
                                         "no pg_hba.conf entry for host \"" + (ec ? std::string("?") : ep.address().to_string()) +
                                             "\", user \"" + (u ? *u : "") + "\", database \"" + (d ? *d : (u ? *u : "")) +
                                             "\", no encryption"));
      co_return false;
    }
    const std::string* user = sm.find("user");
    if (!user || user->empty()) {
      close_reason_ = CloseReason::kStartupProtocolError;
      co_await send_fatal(PgError::fatal(sqlstate::kInvalidAuthorizationSpecification,
                                         "no PostgreSQL user name specified in startup packet"));
      co_return false;
    }
    user_ = *user;
    const std::string* db = sm.find("database");
    database_ = db && !db->empty() ? *db : user_;

    // Session settings: defaults, then what the client asked for.
    for (const auto& [name, guc] : all_gucs()) settings_[std::string(name)] = std::string(guc.default_value);
    settings_["server_version"] = cfg.server.server_version;
    settings_["server_version_num"] = std::to_string(cfg.server.server_version_num());
    settings_["timezone"] = cfg.server.timezone;
    settings_["session_authorization"] = user_;
    settings_["application_name"] = cfg.server.application_name_default;
    settings_["statement_timeout"] = format_duration_ms(cfg.limits.statement_timeout_ms);
    settings_["idle_session_timeout"] = format_duration_ms(cfg.limits.idle_session_timeout_ms);
    settings_["idle_in_transaction_session_timeout"] = format_duration_ms(cfg.limits.idle_in_transaction_timeout_ms);
    std::vector<std::pair<std::string, std::string>> options;
    for (const auto& [k, v] : sm.params) {
      if (k == "user" || k == "database" || k == "replication") continue;
      if (k.rfind("_pq_.", 0) != 0) startup_params_.emplace_back(k, v);
      if (k == "options") continue;  // -c name=value pairs are not supported; ignored
      if (k.rfind("_pq_.", 0) == 0) continue;
      options.emplace_back(util::ascii_lower(k), v);
    }
    // A database relayed to PostgreSQL: its server judges the parameters (relay_startup
    // applies them, options included); the checks below are the SQLite front end's.
    if (const auto* e = config::database_entry(cfg, database_); e && e->backend == config::Backend::kPostgres &&
                                                                database_ != admin::kAdminDatabase)
      options.clear();
    for (const auto& [k, v] : options) {
      close_reason_ = CloseReason::kStartupProtocolError;  // for the refusals below
      if (k == "client_encoding" && !util::iequals(v, "UTF8") && !util::iequals(v, "UTF-8") && !util::iequals(v, "unicode")) {
        co_await send_fatal(PgError::fatal(sqlstate::kFeatureNotSupported,
                                           "metagate supports only the UTF8 client encoding, not \"" + v + "\""));
        co_return false;
      }
      if (k == "client_encoding") {
        settings_[k] = "UTF8";
        continue;
      }
      if (k == "timezone" && !types::datetime::session_timezone_offset(v)) {
        co_await send_fatal(PgError::fatal(sqlstate::kInvalidParameterValue, "invalid value for parameter \"TimeZone\": \"" + v + "\""));
        co_return false;
      }
      if (k == "datestyle") {
        settings_[k] = util::starts_with_ci(v, "ISO") ? "ISO, MDY" : v;
        continue;
      }
      if (find_guc(k) || k.find('.') != std::string::npos) settings_[k] = v;
      else {
        co_await send_fatal(PgError::fatal(sqlstate::kUndefinedObject, "unrecognized configuration parameter \"" + k + "\""));
        co_return false;
      }
    }

    close_reason_ = CloseReason::kStartupClientGone;
    if (!co_await authenticate(user_, database_)) co_return false;
    ctx_.auth_throttle.success(info_.address);
    std::vector<std::pair<std::string, std::string>> server_params;  // a relayed session reports the server's
    auto refuse = [&](CloseReason why, PgError e) -> awaitable<bool> {
      close_reason_ = why;
      spdlog::info("connection from {}:{} refused: user={} database={} reason={} ({})", info_.address, info_.port, user_,
                   database_, metrics::to_string(why), e.message);
      co_await send_fatal(e);
      co_return false;
    };
    if (ctx_.draining)
      co_return co_await refuse(CloseReason::kShuttingDown, PgError::fatal("57P03", "the database system is shutting down"));

    if (database_ == admin::kAdminDatabase) {
      if (!admin::is_admin(cfg, user_, info_.address))
        co_return co_await refuse(CloseReason::kHba, PgError::fatal(sqlstate::kInsufficientPrivilege,
                                                                    "permission denied to use the admin console"));
      admin_console_ = true;
    } else if (const auto* entry = config::database_entry(cfg, database_);
               entry && entry->backend == config::Backend::kPostgres) {
      const bool passing_through = !passthrough_password_.empty() || passthrough_scram_;
      auto params = co_await relay_startup(*entry);
      if (!params && params.error().sqlstate == sqlstate::kInvalidPassword && passing_through) {
        // The server refused the client's own password: an authentication failure.
        if (ctx_.metrics) ctx_.metrics->auth_failure(metrics::AuthFailure::kPassword);
        ctx_.auth_throttle.failure(info_.address, cfg.limits.auth_failure_delay_ms, cfg.limits.auth_failure_delay_max_ms,
                                   steady_now_us());
        co_return co_await refuse(CloseReason::kAuthFailed, params.error());
      }
      if (!params) co_return co_await refuse(CloseReason::kBackendUnavailable, params.error());
      server_params = std::move(*params);
      // The server keeps the session's settings; metagate needs only its own timeouts (and
      // the client's application name for SHOW CLIENTS): an idle relayed client stays small.
      std::map<std::string, std::string> kept;
      for (const char* k : {"statement_timeout", "idle_session_timeout", "idle_in_transaction_session_timeout",
                            "application_name"}) {
        if (auto it = settings_.find(k); it != settings_.end()) kept.emplace(it->first, std::move(it->second));
      }
      for (const auto& [k, v] : startup_params_)
        if (util::ascii_lower(k) == "application_name") kept["application_name"] = v;
      settings_ = std::move(kept);
    } else {
      auto dbr = ctx_.open_database(database_);
      if (!dbr) co_return co_await refuse(CloseReason::kUnknownDatabase, dbr.error());
      db_ = *dbr;
    }
    if (ctx_.connections > cfg.limits.max_connections)
      co_return co_await refuse(CloseReason::kMaxConnections,
                                PgError::fatal(sqlstate::kTooManyConnections, "sorry, too many clients already"));
    bool over_user_limit = false;
    {
      std::lock_guard lk(ctx_.mu);
      int64_t& n = ctx_.user_sessions[user_];
      over_user_limit = cfg.limits.max_connections_per_user > 0 && n >= cfg.limits.max_connections_per_user && !admin_console_;
      if (!over_user_limit) {
        ++n;
        ready_ = true;  // counted in user_sessions from here on (the destructor takes it back)
      } else if (n == 0) {
        ctx_.user_sessions.erase(user_);
      }
    }
    if (over_user_limit)
      co_return co_await refuse(CloseReason::kUserLimit, PgError::fatal(sqlstate::kTooManyConnections,
                                                                       "too many connections for role \"" + user_ + "\""));
    {
      std::lock_guard lk(info_mu_);
      info_.user = user_;
      info_.database = database_;
      info_.admin_console = admin_console_;
      auto app = settings_.find("application_name");
      if (app != settings_.end()) info_.application_name = app->second;
    }
    refresh_timeouts();
    close_reason_ = CloseReason::kClientClosed;

    pid_ = ctx_.next_pid++;
    if (server_ && !transaction_pooling_) {
      // Session pooling: the client's backend is that server process all along, so it is told
      // the server's pid (pg_backend_pid() agrees; cancels still carry metagate's own secret).
      std::lock_guard lk(ctx_.mu);
      if (!ctx_.sessions.count(server_->link.pid)) pid_ = server_->link.pid;
    }
    spdlog::info("session {}: connection authorized: host={} port={} user={} database={} tls={}", pid_, info_.address,
                 info_.port, user_, database_, tls_ ? "on" : "off");
    RAND_bytes(reinterpret_cast<unsigned char*>(&secret_), sizeof secret_);
    {
      std::lock_guard lk(ctx_.mu);
      ctx_.sessions[pid_] = weak_from_this();
    }
    wire::Writer w(out_);
    w.auth_ok();
    if (relayed_) {
      for (const auto& [name, value] : server_params) {
        w.parameter_status(name, value);
        reported_params_[util::ascii_lower(name)] = value;
      }
    } else {
      for (const auto& [name, guc] : all_gucs()) {
        if (guc.report) w.parameter_status(guc.display_name, settings_[std::string(name)]);
      }
    }
    w.backend_key_data(pid_, secret_);
    w.ready_for_query(wire::TxStatus::kIdle);
    co_await flush();
    co_return true;
  }
}

// ---------------------------------------------------------------------------------------
// Session loop

awaitable<void> Session::run() {
  auto terminating = [&] { return terminate_reason_.load(std::memory_order_relaxed) != kNoTermination; };
  try {
    bool started = co_await startup();
    if (!started && terminating()) {
      close_reason_ = static_cast<CloseReason>(terminate_reason_.load());
      if (close_reason_ == CloseReason::kStartupTimeout) {
        spdlog::info("connection from {}:{} refused: reason=startup_timeout", info_.address, info_.port);
        co_await send_fatal(termination_error(close_reason_));
      }
    }
    if (started && relayed_) {
      co_await relay();
    } else if (started) {
      for (;;) {
        if (closed_) break;
        if (terminating()) {
          close_reason_ = static_cast<CloseReason>(terminate_reason_.load());
          co_await send_fatal(termination_error(close_reason_));
          break;
        }
        if (ctx_.config_generation.load(std::memory_order_relaxed) != cfg_generation_) refresh_config();
        auto fr = wire::next_frame(std::span(in_.data() + in_start_, in_.size() - in_start_), false, limits_);
        if (fr.status == wire::FrameStatus::kNeedMore) {
          bool idle = tx_ == Tx::kIdle && !implicit_block_;
          set_state(idle ? ClientState::kIdle
                         : tx_ == Tx::kFailed ? ClientState::kIdleInTransactionAborted : ClientState::kIdleInTransaction);
          co_await flush();
          if (closed_) break;
          if (idle && ctx_.draining) {
            // Shutdown: a session outside a transaction ends now (checked after the flush: the
            // drain's wake-up may have come while it was writing).
            set_termination(CloseReason::kShutdown);
            continue;
          }
          waiting_input_ = true;
          bool got = co_await read_more();
          waiting_input_ = false;
          if (!got) {
            if (terminating()) continue;  // the FATAL is sent at the top of the loop
            break;
          }
          set_state(ClientState::kActive);
          continue;
        }
        if (fr.status == wire::FrameStatus::kError) {
          close_reason_ = CloseReason::kProtocolError;
          co_await send_fatal(fr.error);
          break;
        }
        auto msg = wire::parse_frontend(fr.frame);
        in_start_ += fr.frame.total_size;
        if (!msg) {
          close_reason_ = CloseReason::kProtocolError;
          co_await send_fatal(msg.error());
          break;
        }
        if (ctx_.paused && !admin_console_ && tx_ == Tx::kIdle && !std::holds_alternative<wire::Terminate>(*msg))
          co_await pause_gate();
        if (!co_await handle(*msg)) break;
        if (out_.size() > 256 * 1024) co_await flush();
      }
    }
  } catch (const std::exception& e) {
    spdlog::error("session {}: {}", pid_, e.what());
    close_reason_ = CloseReason::kServerError;
  }
  if (ready_)
    spdlog::info("session {}: disconnection: user={} database={} host={} port={} reason={}", pid_, user_, database_,
                 info_.address, info_.port, metrics::to_string(close_reason_));
  // Clean up: roll back an open transaction, release locks, forget prepared state.
  portals_.clear();
  if (db_) {
    if (writer_held_) {
      (void)store::exec(db_->store->writer().db(), "ROLLBACK");
      if (pending_catalog_) (void)db_->store->reload_catalog();
      writer_held_ = false;
      db_->write_lock.release();
    }
    db_->store->advisory_locks().unlock_all(session_id_);
  }
  {
    std::lock_guard lk(ctx_.mu);
    ctx_.sessions.erase(pid_);
  }
  close();
}

wire::TxStatus Session::tx_status() const {
  switch (tx_) {
    case Tx::kBlock: return wire::TxStatus::kInTransaction;
    case Tx::kFailed: return wire::TxStatus::kFailed;
    default: return wire::TxStatus::kIdle;
  }
}

sql::CatalogPtr Session::current_catalog() const {
  if (pending_catalog_) return pending_catalog_;
  return db_->store->catalog();
}

types::SessionContext Session::session_types() const {
  types::SessionContext sc;
  auto it = settings_.find("timezone");
  if (it != settings_.end()) sc.timezone = it->second;
  auto ef = settings_.find("extra_float_digits");
  if (ef != settings_.end()) sc.extra_float_digits = std::atoi(ef->second.c_str());
  sc.now_us = now_pg_us();
  return sc;
}

void Session::set_function_context(bool statement_start) {
  fctx_.session_id = session_id_;
  fctx_.user = user_;
  fctx_.database = database_;
  if (fctx_.version.empty())
    fctx_.version = "PostgreSQL " + cfg_->server.server_version + " (metagate) on x86_64-pc-linux-gnu, 64-bit";
  fctx_.pid = pid_;
  fctx_.port = ctx_.port;
  if (statement_start) {
    fctx_.statement_ts = now_pg_us();
    fctx_.transaction_ts = tx_ == Tx::kIdle && !implicit_block_ ? fctx_.statement_ts : txn_start_us_;
  }
  fctx_.lock_timeout_ms = static_cast<int>(cfg_->sqlite.lock_timeout_ms);
  fctx_.locks = &db_->store->advisory_locks();
  fctx_.settings = &settings_;
  fctx_.store = db_->store.get();
  fctx_.cancelled = &cancelled_;
  store::set_function_context(&fctx_);
}

namespace {
// Statements whose translations are cached (no DDL, no session state).
// Marks a shape whose translation depends on its literal values.
const sql::PlanPtr kNotShapeable = std::make_shared<const sql::Plan>();

bool cacheable_tag(std::string_view tag) {
  return tag == "SelectStmt" || tag == "InsertStmt" || tag == "UpdateStmt" || tag == "DeleteStmt";
}
}  // namespace

PgResult<sql::PlanPtr> Session::plan_for(const sql::RawStatement& st, const std::vector<uint32_t>& declared,
                                         std::string_view full_text) {
  std::string_view tag = sql::node_tag(st.tree);
  bool cacheable = !pending_catalog_ && cacheable_tag(tag);
  auto cat = current_catalog();
  std::string key;
  if (cacheable) {
    key = std::to_string(cat->version) + "|";
    for (auto t : declared) key += std::to_string(t) + ",";
    key += "|";
    key += st.text;
    if (auto p = db_->plans.get(key)) return p;
  }
  sql::TranslateOptions opts;
  opts.declared_param_types.assign(declared.begin(), declared.end());
  opts.full_text = full_text;
  auto plan = sql::translate(st, *cat, opts);
  if (!plan) return unexpected(plan.error());
  auto ptr = std::make_shared<const sql::Plan>(std::move(*plan));
  if (cacheable) db_->plans.put(key, ptr);
  return ptr;
}

// ---------------------------------------------------------------------------------------
// Transactions and the writer

awaitable<PgStatus> Session::ensure_writer(bool for_block) {
  if (writer_held_) co_return Ok{};
  if (auto* gc = db_->store->group_commit()) {
    if (auto f = gc->failure()) co_return unexpected(*f);
  }
  auto timeout = std::chrono::milliseconds(cfg_->sqlite.lock_timeout_ms);
  const int64_t t0 = steady_now_us();
  bool ok = co_await db_->write_lock.acquire(timeout);
  if (db_->series.writer_wait) db_->series.writer_wait->Observe(static_cast<double>(steady_now_us() - t0) / 1e6);
  if (!ok) co_return unexpected(PgError::make(sqlstate::kLockNotAvailable, "canceling statement due to lock timeout"));
  writer_held_ = true;
  if (for_block) {
    if (auto s = store::exec(db_->store->writer().db(), "BEGIN IMMEDIATE"); !s) {
      writer_held_ = false;
      db_->write_lock.release();
      co_return s;
    }
  }
  co_return Ok{};
}

void Session::release_writer_if_autocommit() {
  if (writer_held_ && tx_ == Tx::kIdle && !implicit_block_) {
    writer_held_ = false;
    note_commit();  // an autocommit write committed inside SQLite
    db_->write_lock.release();
  }
}

awaitable<void> Session::finish_block(bool commit) {
  if (writer_held_) {
    sqlite3* w = db_->store->writer().db();
    if (commit) {
      auto s = store::exec(w, "COMMIT");
      if (!s) {
        send_error(s.error());
        (void)store::exec(w, "ROLLBACK");
        commit = false;
      } else {
        note_commit();
      }
    } else {
      (void)store::exec(w, "ROLLBACK");
    }
    if (pending_catalog_) {
      if (commit) db_->store->publish_catalog(pending_catalog_);
      else (void)db_->store->reload_catalog();
    }
    writer_held_ = false;
    db_->write_lock.release();
  }
  pending_catalog_.reset();
  db_->store->advisory_locks().release_xact(session_id_);
  if (!tx_settings_backup_.empty()) {
    for (auto& [k, v] : tx_settings_backup_) settings_[k] = v;
    tx_settings_backup_.clear();
    refresh_timeouts();
  }
  tx_ = Tx::kIdle;
  implicit_block_ = false;
  // Portals do not outlive their transaction.
  for (auto it = portals_.begin(); it != portals_.end();) {
    if (it->second.cursor) it = portals_.erase(it);
    else ++it;
  }
  co_return;
}

void Session::fail_transaction() {
  if (tx_ == Tx::kBlock) tx_ = Tx::kFailed;
}

PgStatus Session::apply_set(const sql::Plan& plan) {
  std::vector<std::string> names;
  if (plan.setting == "all") {
    for (const auto& [n, g] : all_gucs()) {
      if (n == "server_version" || n == "server_version_num" || n == "session_authorization" ||
          n == "server_encoding" || n == "integer_datetimes" || n == "is_superuser" || n == "in_hot_standby")
        continue;
      names.emplace_back(n);
    }
  } else {
    names.push_back(plan.setting == "time zone" ? "timezone" : plan.setting);
  }
  for (const auto& name : names) {
    const Guc* g = find_guc(name);
    if (!g && name.find('.') == std::string::npos)
      return unexpected(PgError::make(sqlstate::kUndefinedObject, "unrecognized configuration parameter \"" + name + "\""));
    if (name == "server_version" || name == "server_version_num" || name == "server_encoding" ||
        name == "integer_datetimes" || name == "max_identifier_length" || name == "in_hot_standby" || name == "is_superuser")
      return unexpected(PgError::make("55P02", "parameter \"" + name + "\" cannot be changed"));
    std::string value;
    if (plan.reset) {
      value = g ? std::string(g->default_value) : "";
      if (name == "timezone") value = cfg_->server.timezone;
      if (name == "application_name") value = cfg_->server.application_name_default;
      if (name == "statement_timeout") value = format_duration_ms(cfg_->limits.statement_timeout_ms);
      if (name == "idle_session_timeout") value = format_duration_ms(cfg_->limits.idle_session_timeout_ms);
      if (name == "idle_in_transaction_session_timeout")
        value = format_duration_ms(cfg_->limits.idle_in_transaction_timeout_ms);
    } else {
      value = plan.value;
      if (name == "statement_timeout" || name == "idle_session_timeout" || name == "idle_in_transaction_session_timeout") {
        auto ms = parse_duration_ms(value);
        if (!ms || *ms > 2147483647) {
          PgError e = PgError::make(sqlstate::kInvalidParameterValue,
                                    "invalid value for parameter \"" + name + "\": \"" + value + "\"");
          if (!ms) e.hint = "Valid units for this parameter are \"us\", \"ms\", \"s\", \"min\", \"h\", and \"d\".";
          return unexpected(std::move(e));
        }
        value = format_duration_ms(*ms);
      }
    }
    if (name == "timezone" && !plan.reset) {
      if (util::iequals(value, "local") || util::iequals(value, "default")) value = cfg_->server.timezone;
      if (!types::datetime::session_timezone_offset(value))
        return unexpected(PgError::make(sqlstate::kInvalidParameterValue, "invalid value for parameter \"TimeZone\": \"" + value + "\""));
    }
    if (name == "client_encoding" && !util::iequals(value, "UTF8") && !util::iequals(value, "UTF-8") && !util::iequals(value, "unicode"))
      return unexpected(PgError::make(sqlstate::kFeatureNotSupported, "metagate supports only the UTF8 client encoding"));
    if (name == "client_encoding") value = "UTF8";
    if (name == "standard_conforming_strings" && !plan.reset && !util::iequals(value, "on"))
      return unexpected(PgError::make(sqlstate::kFeatureNotSupported, "metagate supports only standard_conforming_strings = on"));
    if (name == "datestyle" && !plan.reset) {
      if (!util::starts_with_ci(value, "ISO"))
        return unexpected(PgError::make(sqlstate::kFeatureNotSupported, "metagate supports only DateStyle ISO"));
      value = "ISO, MDY";
    }
    if (plan.is_local || (tx_ != Tx::kIdle && false)) {
      if (tx_ == Tx::kIdle) {
        send_notice("SET LOCAL can only be used in transaction blocks", "25P01", "WARNING");
        continue;
      }
      if (!tx_settings_backup_.count(name)) tx_settings_backup_[name] = settings_[name];
    }
    settings_[name] = value;
    if (name == "application_name") {
      std::lock_guard lk(info_mu_);
      info_.application_name = value;
    }
    if (g && g->report) {
      wire::Writer w(out_);
      w.parameter_status(g->display_name, value);
    }
  }
  refresh_timeouts();
  return Ok{};
}

// ---------------------------------------------------------------------------------------
// Statement execution

namespace {

std::vector<wire::FieldDescription> fields_for(const sql::Plan& plan, const std::vector<int16_t>& formats) {
  std::vector<wire::FieldDescription> out;
  out.reserve(plan.columns.size());
  for (size_t i = 0; i < plan.columns.size(); ++i) {
    const auto& c = plan.columns[i];
    wire::FieldDescription f;
    f.name = c.name;
    f.table_oid = c.table_oid;
    f.column_attr = c.attnum;
    f.type_oid = c.type;
    const auto* info = types::find_type(c.type);
    f.type_size = info ? info->typlen : -1;
    f.type_modifier = c.typmod;
    f.format = store::result_format(formats, i);
    out.push_back(std::move(f));
  }
  return out;
}

}  // namespace

awaitable<PgStatus> Session::execute(const sql::Plan& plan, sql::PlanPtr plan_ptr, Portal* portal, int32_t max_rows,
                                     bool describe_rows, bool& suspended, const std::vector<types::Value>* literals) {
  const int64_t t0 = steady_now_us();
  statement_started_us_.store(t0, std::memory_order_relaxed);
  auto r = co_await run_statement(plan, std::move(plan_ptr), portal, max_rows, describe_rows, suspended, literals);
  const int64_t t1 = steady_now_us();
  statement_started_us_.store(0, std::memory_order_relaxed);
  if (timed_out_.exchange(false, std::memory_order_relaxed) && !r && r.error().sqlstate == sqlstate::kQueryCanceled)
    r.error().message = "canceling statement due to statement timeout";
  const double seconds = static_cast<double>(t1 - t0) / 1e6;
  if (ctx_.metrics) {
    // EXECUTE name counts as the statement it runs.
    const sql::Plan* counted = &plan;
    if (plan.kind == sql::PlanKind::kExecute) {
      auto it = statements_.find(plan.prepared_name);
      if (it != statements_.end() && it->second->plan) counted = it->second->plan.get();
    }
    ctx_.metrics->statement(metrics::Backend::kSqlite,
                            metrics::kind_of_tag(counted->tag, counted->kind == sql::PlanKind::kDdl), seconds);
  }
  // As PostgreSQL's log_min_duration_statement, with the values taken out of the text.
  if (int64_t slow = cfg_->log.slow_statement_ms; slow >= 0 && seconds * 1000 >= static_cast<double>(slow))
    spdlog::info("session {}: duration: {:.3f} ms  statement: {}", pid_, seconds * 1000,
                 (cfg_->log.redact_statements ? sql::redact_literals(prepare_text_) : prepare_text_).substr(0, 4000));
  co_return r;
}

awaitable<PgStatus> Session::run_statement(const sql::Plan& plan, sql::PlanPtr plan_ptr, Portal* portal, int32_t max_rows,
                                           bool describe_rows, bool& suspended,
                                           const std::vector<types::Value>* literals) {
  suspended = false;
  wire::Writer w(out_);
  using K = sql::PlanKind;
  bool in_block = tx_ != Tx::kIdle || implicit_block_;
  if (tx_ == Tx::kFailed && plan.kind != K::kCommit && plan.kind != K::kRollback && plan.kind != K::kRollbackTo) {
    co_return unexpected(PgError::make(sqlstate::kInFailedSqlTransaction,
                                       "current transaction is aborted, commands ignored until end of transaction block"));
  }
  for (const auto& n : plan.notices) send_notice(n);
  switch (plan.kind) {
    case K::kQuery: {
      if (plan.writes || writer_held_) {
        if (auto s = co_await ensure_writer(in_block); !s) co_return s;
      }
      static const std::vector<int16_t> kTextFormats;
      const std::vector<int16_t>& formats = portal ? portal->result_formats : kTextFormats;
      if (describe_rows && plan.returns_rows) {
        auto f = fields_for(plan, formats);
        w.row_description(f);
      }
      std::optional<store::ReaderHandle> local_reader;
      std::optional<store::Cursor> local_cursor;
      store::Cursor* cursor = portal && portal->cursor ? &*portal->cursor : nullptr;
      store::Connection* conn = nullptr;
      if (!cursor) {
        if (writer_held_) {
          conn = &db_->store->writer();
        } else {
          local_reader = db_->store->acquire_reader();
          if (!*local_reader)
            co_return unexpected(PgError::make(sqlstate::kConnectionFailure, "could not open a reader connection"));
          conn = local_reader->get();
        }
        static const std::vector<types::Value> kNoParams;
        const std::vector<types::Value>& params = portal ? portal->params : literals ? *literals : kNoParams;
        auto c = store::Cursor::open(*conn, plan_ptr, params, current_catalog().get());
        if (!c) {
          release_writer_if_autocommit();
          co_return unexpected(c.error());
        }
        local_cursor = std::move(*c);
        cursor = &*local_cursor;
      }
      set_function_context(!portal || !portal->cursor);
      cancelled_ = false;
      sqlite3* active = writer_held_ ? db_->store->writer().db() : (portal && portal->reader ? portal->reader->get()->db() : (local_reader ? local_reader->get()->db() : nullptr));
      {
        std::lock_guard lk(exec_mu_);
        active_db_ = active;
      }
      const auto started = std::chrono::steady_clock::now();
      if (busy_)
        busy_->store(std::chrono::duration_cast<std::chrono::microseconds>(started.time_since_epoch()).count() | 1,
                     std::memory_order_relaxed);
      auto types_ctx = session_types();
      auto cat = current_catalog();
      auto r = cursor->fetch(w, formats, max_rows, types_ctx, cat.get());
      if (busy_) busy_->store(0, std::memory_order_relaxed);
      {
        std::lock_guard lk(exec_mu_);
        active_db_ = nullptr;
      }
      store::set_function_context(nullptr);
      if (!r) {
        if (portal) {
          portal->cursor.reset();
          portal->reader.reset();
        }
        release_writer_if_autocommit();
        co_return unexpected(r.error());
      }
      if (!*r) {
        // Suspended: the portal keeps the cursor (and its reader) for the next Execute.
        suspended = true;
        if (portal && local_cursor) {
          portal->cursor = std::move(local_cursor);
          if (local_reader) portal->reader = std::move(local_reader);
        }
        w.portal_suspended();
        co_return Ok{};
      }
      w.command_complete(cursor->command_tag());
      if (portal) {
        portal->cursor.reset();
        portal->reader.reset();
      }
      release_writer_if_autocommit();
      co_return Ok{};
    }
    case K::kBegin:
      if (tx_ != Tx::kIdle) {
        send_notice("there is already a transaction in progress", "25001", "WARNING");
      } else {
        tx_ = Tx::kBlock;
        if (!implicit_block_) txn_start_us_ = now_pg_us();
        implicit_block_ = false;
      }
      w.command_complete(plan.tag);
      co_return Ok{};
    case K::kCommit:
    case K::kRollback: {
      if (tx_ == Tx::kIdle && !implicit_block_) {
        send_notice("there is no transaction in progress", "25P01", "WARNING");
        w.command_complete(plan.kind == K::kCommit ? "COMMIT" : "ROLLBACK");
        co_return Ok{};
      }
      bool commit = plan.kind == K::kCommit && tx_ != Tx::kFailed;
      co_await finish_block(commit);
      w.command_complete(commit ? "COMMIT" : "ROLLBACK");
      co_return Ok{};
    }
    case K::kSavepoint:
    case K::kRelease:
    case K::kRollbackTo: {
      if (tx_ == Tx::kIdle && !implicit_block_) {
        std::string what = plan.kind == K::kSavepoint ? "SAVEPOINT" : plan.kind == K::kRelease ? "RELEASE SAVEPOINT" : "ROLLBACK TO SAVEPOINT";
        co_return unexpected(PgError::make(sqlstate::kNoActiveSqlTransaction, what + " can only be used in transaction blocks"));
      }
      if (auto s = co_await ensure_writer(true); !s) co_return s;
      std::string verb = plan.kind == K::kSavepoint ? "SAVEPOINT " : plan.kind == K::kRelease ? "RELEASE " : "ROLLBACK TO ";
      auto s = store::exec(db_->store->writer().db(), verb + util::quote_ident(plan.savepoint));
      if (!s) {
        if (s.error().message.find("no such savepoint") != std::string::npos)
          co_return unexpected(PgError::make("3B001", "savepoint \"" + plan.savepoint + "\" does not exist"));
        co_return s;
      }
      if (plan.kind == K::kRollbackTo) tx_ = Tx::kBlock;
      w.command_complete(plan.kind == K::kRelease ? "RELEASE" : plan.kind == K::kSavepoint ? "SAVEPOINT" : "ROLLBACK");
      co_return Ok{};
    }
    case K::kDdl: {
      if (auto s = co_await ensure_writer(true); !s) co_return s;
      sqlite3* wdb = db_->store->writer().db();
      set_function_context(true);
      for (const auto& stmt : plan.ddl_sql) {
        auto s = store::exec(wdb, stmt);
        if (!s) {
          store::set_function_context(nullptr);
          PgError e = s.error();
          if (e.sqlstate == sqlstate::kInternalError || e.sqlstate == sqlstate::kUniqueViolation ||
              e.sqlstate == sqlstate::kNotNullViolation) {
            // Re-map with the catalog for constraint names.
            e = store::map_sqlite_error(wdb, sqlite3_errcode(wdb), plan.new_catalog.get());
            if (e.sqlstate == sqlstate::kInternalError) e = s.error();
          }
          if (!in_block) {
            (void)store::exec(wdb, "ROLLBACK");
            writer_held_ = false;
            db_->write_lock.release();
          }
          co_return unexpected(std::move(e));
        }
      }
      store::set_function_context(nullptr);
      db_->store->invalidate_sequences();
      if (auto s = db_->store->write_catalog(*plan.new_catalog); !s) {
        // (A full disk can refuse the catalog's rows.) Outside a block the statement's own
        // transaction goes, and the writer with it; inside one the block is failed as usual.
        if (!in_block) {
          (void)store::exec(wdb, "ROLLBACK");
          writer_held_ = false;
          db_->write_lock.release();
        }
        co_return s;
      }
      if (!in_block) {
        auto s = store::exec(wdb, "COMMIT");
        writer_held_ = false;
        if (s) {
          note_commit();
          db_->store->publish_catalog(plan.new_catalog);
        }
        else (void)store::exec(wdb, "ROLLBACK");
        db_->write_lock.release();
        if (!s) co_return s;
      } else {
        pending_catalog_ = plan.new_catalog;
      }
      w.command_complete(plan.tag);
      co_return Ok{};
    }
    case K::kSet: {
      if (auto s = apply_set(plan); !s) co_return s;
      w.command_complete(plan.tag);
      co_return Ok{};
    }
    case K::kShow: {
      std::string name = plan.setting == "time zone" ? "timezone" : plan.setting;
      if (name == "all") co_return unexpected(PgError::make(sqlstate::kFeatureNotSupported, "metagate does not support SHOW ALL"));
      auto it = settings_.find(name);
      if (it == settings_.end())
        co_return unexpected(PgError::make(sqlstate::kUndefinedObject, "unrecognized configuration parameter \"" + name + "\""));
      const Guc* g = find_guc(name);
      if (describe_rows) {
        wire::FieldDescription f;
        f.name = g ? std::string(g->display_name) : name;
        f.type_oid = types::oid::kText;
        std::vector<wire::FieldDescription> fs{f};
        w.row_description(fs);
      }
      w.begin_data_row(1);
      w.field(it->second);
      w.end_data_row();
      w.command_complete("SHOW");
      co_return Ok{};
    }
    case K::kNoop:
      if (plan.writes) {
        // LOCK TABLE: take the writer for the rest of the transaction.
        if (auto s = co_await ensure_writer(in_block); !s) co_return s;
        release_writer_if_autocommit();
      }
      w.command_complete(plan.tag);
      co_return Ok{};
    case K::kCopyIn:
      co_return co_await copy_in(plan, in_block);
    case K::kCopyOut:
      co_return co_await copy_out(plan, plan_ptr);
    case K::kPrepare: {
      if (statements_.count(plan.prepared_name))
        co_return unexpected(PgError::make(sqlstate::kDuplicatePreparedStatement,
                                           "prepared statement \"" + plan.prepared_name + "\" already exists"));
      auto ps = std::make_shared<PreparedStatement>();
      ps->sql = prepare_text_;
      ps->declared_types.assign(plan.prepared_types.begin(), plan.prepared_types.end());
      ps->plan = plan.prepared_plan;
      ps->catalog_version = current_catalog()->version;
      statements_[plan.prepared_name] = std::move(ps);
      w.command_complete("PREPARE");
      co_return Ok{};
    }
    case K::kExecute: {
      auto it = statements_.find(plan.prepared_name);
      if (it == statements_.end() || plan.prepared_name.empty())
        co_return unexpected(PgError::make(sqlstate::kInvalidSqlStatementName,
                                           "prepared statement \"" + plan.prepared_name + "\" does not exist"));
      auto ps = it->second;
      refresh_statement(*ps);
      if (!ps->plan) {
        w.empty_query_response();
        co_return Ok{};
      }
      if (plan.execute_params.size() != ps->plan->params.size()) {
        PgError e = PgError::make(sqlstate::kSyntaxError,
                                  "wrong number of parameters for prepared statement \"" + plan.prepared_name + "\"");
        e.detail = "Expected " + std::to_string(ps->plan->params.size()) + " parameters but got " +
                   std::to_string(plan.execute_params.size()) + ".";
        co_return unexpected(std::move(e));
      }
      auto values = store::decode_params(*ps->plan, {}, plan.execute_params, session_types());
      if (!values) co_return unexpected(values.error());
      auto inner = ps->plan;
      co_return co_await run_statement(*inner, inner, nullptr, 0, describe_rows, suspended, &*values);
    }
    case K::kDeallocate:
      if (plan.prepared_name.empty()) {
        statements_.clear();
      } else if (!statements_.erase(plan.prepared_name)) {
        co_return unexpected(PgError::make(sqlstate::kInvalidSqlStatementName,
                                           "prepared statement \"" + plan.prepared_name + "\" does not exist"));
      }
      w.command_complete(plan.tag);
      co_return Ok{};
    case K::kDiscardAll:
      if (tx_ != Tx::kIdle)
        co_return unexpected(PgError::make(sqlstate::kActiveSqlTransaction, "DISCARD ALL cannot run inside a transaction block"));
      statements_.clear();
      portals_.clear();
      db_->store->advisory_locks().unlock_all(session_id_);
      for (const auto& [n, g] : all_gucs()) {
        if (n == "server_version" || n == "server_version_num" || n == "session_authorization") continue;
        settings_[std::string(n)] = std::string(g.default_value);
      }
      settings_["timezone"] = cfg_->server.timezone;
      settings_["statement_timeout"] = format_duration_ms(cfg_->limits.statement_timeout_ms);
      settings_["idle_session_timeout"] = format_duration_ms(cfg_->limits.idle_session_timeout_ms);
      settings_["idle_in_transaction_session_timeout"] = format_duration_ms(cfg_->limits.idle_in_transaction_timeout_ms);
      refresh_timeouts();
      w.command_complete("DISCARD ALL");
      co_return Ok{};
  }
  co_return Ok{};
}

awaitable<std::optional<wire::FrontendMessage>> Session::next_message() {
  for (;;) {
    auto fr = wire::next_frame(std::span(in_.data() + in_start_, in_.size() - in_start_), false, limits_);
    if (fr.status == wire::FrameStatus::kNeedMore) {
      co_await flush();
      if (closed_ || !co_await read_more()) co_return std::nullopt;
      continue;
    }
    if (fr.status == wire::FrameStatus::kError) {
      co_await send_fatal(fr.error);
      closed_ = true;
      co_return std::nullopt;
    }
    auto msg = wire::parse_frontend(fr.frame);
    in_start_ += fr.frame.total_size;
    if (!msg) {
      co_await send_fatal(msg.error());
      closed_ = true;
      co_return std::nullopt;
    }
    co_return std::move(*msg);
  }
}

awaitable<PgStatus> Session::copy_in(const sql::Plan& plan, bool in_block) {
  if (auto s = co_await ensure_writer(true); !s) co_return s;
  wire::Writer w(out_);
  w.copy_in_response(false, static_cast<int16_t>(plan.columns.size()));
  co_await flush();
  types::CopyOptions opts;
  opts.csv = plan.copy_csv;
  opts.delimiter = plan.copy_delimiter;
  opts.null_string = plan.copy_null;
  opts.header = plan.copy_header;
  opts.quote = plan.copy_quote;
  opts.escape = plan.copy_escape;
  types::CopyReader reader(opts);
  std::optional<PgError> failure;
  uint64_t rows = 0;
  auto& conn = db_->store->writer();
  auto cat = current_catalog();
  const sql::Plan& ins = *plan.copy_insert;
  auto types_ctx = session_types();
  set_function_context(true);
  auto insert_row = [&](const std::vector<std::optional<std::string>>& fields) -> PgStatus {
    if (fields.size() > plan.columns.size())
      return unexpected(PgError::make("22P04", "extra data after last expected column"));
    if (fields.size() < plan.columns.size())
      return unexpected(PgError::make("22P04", "missing data for column \"" + plan.columns[fields.size()].name + "\""));
    static const std::vector<int16_t> kText;
    auto params = store::decode_params(ins, kText, fields, types_ctx);
    if (!params) return unexpected(params.error());
    auto c = store::Cursor::open(conn, plan.copy_insert, *params, cat.get());
    if (!c) return unexpected(c.error());
    std::string sink;
    wire::Writer none(sink);
    auto r = c->fetch(none, kText, 0, types_ctx, cat.get());
    if (!r) return unexpected(r.error());
    ++rows;
    return Ok{};
  };
  for (;;) {
    auto msg = co_await next_message();
    if (!msg) {
      store::set_function_context(nullptr);
      co_return unexpected(PgError::make(sqlstate::kConnectionFailure, "connection lost during COPY"));
    }
    if (auto* d = std::get_if<wire::CopyData>(&*msg)) {
      if (failure) continue;
      reader.feed(d->data);
      for (;;) {
        auto row = reader.next_row();
        if (!row) {
          failure = row.error();
          break;
        }
        if (!*row) break;
        if (auto s = insert_row(**row); !s) {
          failure = s.error();
          break;
        }
      }
      continue;
    }
    if (std::holds_alternative<wire::CopyDone>(*msg)) {
      if (!failure) {
        auto row = reader.finish();
        if (!row) failure = row.error();
        else if (*row) {
          if (auto s = insert_row(**row); !s) failure = s.error();
        }
      }
      break;
    }
    if (auto* f = std::get_if<wire::CopyFail>(&*msg)) {
      if (!failure) failure = PgError::make(sqlstate::kQueryCanceled, "COPY from stdin failed: " + f->message);
      break;
    }
    if (std::holds_alternative<wire::Sync>(*msg) || std::holds_alternative<wire::Flush>(*msg)) continue;
    if (std::holds_alternative<wire::Terminate>(*msg)) {
      closed_ = true;
      failure = PgError::make(sqlstate::kConnectionFailure, "connection ended during COPY");
      break;
    }
    if (!failure) failure = PgError::make(sqlstate::kProtocolViolation, "unexpected message type during COPY from stdin");
    break;
  }
  store::set_function_context(nullptr);
  if (failure) {
    if (!in_block) {
      (void)store::exec(conn.db(), "ROLLBACK");
      writer_held_ = false;
      db_->write_lock.release();
    }
    co_return unexpected(*failure);
  }
  if (!in_block) {
    auto s = store::exec(conn.db(), "COMMIT");
    writer_held_ = false;
    if (s) note_commit();
    db_->write_lock.release();
    if (!s) co_return s;
  }
  w.command_complete("COPY " + std::to_string(rows));
  co_return Ok{};
}

awaitable<PgStatus> Session::copy_out(const sql::Plan& plan, sql::PlanPtr plan_ptr) {
  wire::Writer w(out_);
  std::optional<store::ReaderHandle> reader;
  store::Connection* conn;
  if (writer_held_) {
    conn = &db_->store->writer();
  } else {
    reader = db_->store->acquire_reader();
    conn = reader->get();
  }
  auto cat = current_catalog();
  static const std::vector<types::Value> kNone;
  auto c = store::Cursor::open(*conn, plan_ptr, kNone, cat.get());
  if (!c) co_return unexpected(c.error());
  w.copy_out_response(false, static_cast<int16_t>(plan.columns.size()));
  types::CopyOptions opts;
  opts.csv = plan.copy_csv;
  opts.delimiter = plan.copy_delimiter;
  opts.null_string = plan.copy_null;
  opts.quote = plan.copy_quote;
  opts.escape = plan.copy_escape;
  if (plan.copy_header) {
    std::vector<std::optional<std::string>> names;
    for (const auto& col : plan.columns) names.emplace_back(col.name);
    std::string line;
    types::copy_write_row(opts, names, line);
    w.copy_data(line);
  }
  set_function_context(true);
  auto r = c->fetch_copy(w, opts, session_types(), cat.get());
  store::set_function_context(nullptr);
  if (!r) co_return unexpected(r.error());
  w.copy_done();
  w.command_complete("COPY " + std::to_string(c->rows()));
  co_return Ok{};
}

std::string Session::shape_key(const std::string& shape_text) const {
  return "S|" + std::to_string(current_catalog()->version) + "|" + shape_text;
}

awaitable<bool> Session::simple_query_by_shape(const std::string& sql, std::optional<sql::StatementShape>& shape) {
  if (pending_catalog_ || tx_ == Tx::kFailed || db_->plans.capacity() == 0) co_return false;
  shape = sql::statement_shape(sql);
  if (!shape) co_return false;
  auto plan = db_->plans.get(shape_key(shape->key));
  if (!plan) co_return false;  // unknown shape: the caller translates and remembers it
  if (plan == kNotShapeable) {
    shape.reset();  // known not to be shapeable: nothing to remember
    co_return false;
  }
  std::vector<types::Value> values;
  values.reserve(shape->literals.size());
  for (int64_t v : shape->literals) values.push_back(types::Value::integer(v));
  wire::Writer w(out_);
  bool suspended = false;
  prepare_text_ = sql;
  auto result = co_await execute(*plan, plan, nullptr, 0, true, suspended, &values);
  if (!result) {
    send_error(result.error());
    fail_transaction();
  }
  w.ready_for_query(tx_status());
  co_return true;
}

void Session::remember_shape(const std::string& sql, const sql::StatementShape& shape, const sql::RawStatement& st,
                             const sql::PlanPtr& plan) {
  if (pending_catalog_ || !cacheable_tag(sql::node_tag(st.tree))) return;
  std::string key = shape_key(shape.key);
  auto templ = sql::make_shape_template(sql, shape, *plan, *current_catalog());
  sql::PlanPtr entry = kNotShapeable;
  if (templ && !shape.literals.empty()) {
    // SQLite must see exactly the parameters ?1..?k (none hidden in a string, none merged).
    auto reader = db_->store->acquire_reader();
    if (!reader || !store::binds_exactly(*reader.get(), templ->sqlite_sql, shape.literals.size())) templ.reset();
  }
  if (templ) entry = std::make_shared<const sql::Plan>(std::move(*templ));
  db_->plans.put(key, entry);
}

awaitable<void> Session::simple_query(const std::string& sql) {
  wire::Writer w(out_);
  std::optional<sql::StatementShape> shape;  // set when this shape has no cache entry yet
  if (co_await simple_query_by_shape(sql, shape)) co_return;
  auto parsed = sql::parse(sql);
  if (!parsed) {
    send_error(parsed.error());
    fail_transaction();
    w.ready_for_query(tx_status());
    co_return;
  }
  if (parsed->statements.empty()) {
    w.empty_query_response();
    w.ready_for_query(tx_status());
    co_return;
  }
  bool implicit = parsed->statements.size() > 1 && tx_ == Tx::kIdle;
  if (implicit) {
    implicit_block_ = true;
    txn_start_us_ = now_pg_us();
  }
  bool failed = false;
  for (const auto& st : parsed->statements) {
    auto plan = plan_for(st, {}, sql);
    PgStatus result = Ok{};
    if (!plan) {
      if (tx_ == Tx::kFailed) {
        result = unexpected(PgError::make(sqlstate::kInFailedSqlTransaction,
                                          "current transaction is aborted, commands ignored until end of transaction block"));
      } else {
        result = unexpected(plan.error());
      }
    } else {
      if (shape && parsed->statements.size() == 1 && tx_ != Tx::kFailed) remember_shape(sql, *shape, st, *plan);
      prepare_text_ = std::string(st.text);
      bool suspended = false;
      result = co_await execute(**plan, *plan, nullptr, 0, true, suspended);
    }
    if (!result) {
      send_error(result.error());
      if (implicit_block_) {
        co_await finish_block(false);
      } else {
        fail_transaction();
      }
      failed = true;
      break;
    }
    if (out_.size() > 256 * 1024) co_await flush();
  }
  if (!failed && implicit_block_) co_await finish_block(true);
  implicit_block_ = false;
  w.ready_for_query(tx_status());
}

sql::PlanPtr Session::executed_plan(const sql::PlanPtr& plan) {
  if (!plan || plan->kind != sql::PlanKind::kExecute) return plan;
  auto it = statements_.find(plan->prepared_name);
  if (it == statements_.end()) return plan;
  refresh_statement(*it->second);
  return it->second->plan;
}

void Session::refresh_statement(PreparedStatement& ps) {
  if (!ps.plan) return;
  auto cat = current_catalog();
  if (ps.catalog_version == cat->version) return;
  auto parsed = sql::parse(ps.sql);
  if (!parsed || parsed->statements.size() != 1) return;
  auto plan = plan_for(parsed->statements[0], ps.declared_types, ps.sql);
  if (!plan) return;
  // A statement made by SQL PREPARE: its text is the PREPARE; the plan is the inner one.
  if ((*plan)->kind == sql::PlanKind::kPrepare) plan = (*plan)->prepared_plan;
  // Keep the old plan if parameter types would change (the client already described it).
  if ((*plan)->params.size() == ps.plan->params.size()) {
    ps.plan = *plan;
    ps.catalog_version = cat->version;
  }
}

awaitable<bool> Session::handle(wire::FrontendMessage& msg) {
  wire::Writer w(out_);
  if (std::holds_alternative<wire::Terminate>(msg)) co_return false;
  if (skip_until_sync_ && !std::holds_alternative<wire::Sync>(msg)) co_return true;

  auto ext_error = [&](const PgError& e) {
    send_error(e);
    fail_transaction();
    skip_until_sync_ = true;
  };
  if (admin_console_) {
    if (auto* q = std::get_if<wire::Query>(&msg)) {
      co_await admin_query(q->sql);
    } else if (std::holds_alternative<wire::Sync>(msg)) {
      skip_until_sync_ = false;
      w.ready_for_query(wire::TxStatus::kIdle);
    } else if (!std::holds_alternative<wire::Flush>(msg)) {
      ext_error(PgError::make(sqlstate::kFeatureNotSupported, "the admin console supports only the simple query protocol"));
    }
    co_return true;
  }

  if (auto* q = std::get_if<wire::Query>(&msg)) {
    co_await simple_query(q->sql);
    co_return true;
  }
  if (auto* p = std::get_if<wire::Parse>(&msg)) {
    if (!p->name.empty() && statements_.count(p->name)) {
      ext_error(PgError::make(sqlstate::kDuplicatePreparedStatement, "prepared statement \"" + p->name + "\" already exists"));
      co_return true;
    }
    auto ps = std::make_shared<PreparedStatement>();
    ps->sql = p->sql;
    ps->declared_types = p->param_types;
    // Drivers re-send the same Parse for every execution (lib/pq's unnamed statements,
    // pgbench -M extended): a text translated before skips the parser.
    std::string text_key;
    if (!pending_catalog_ && tx_ != Tx::kFailed && db_->plans.capacity() > 0) {
      text_key = "T|" + std::to_string(current_catalog()->version) + "|";
      for (auto t : p->param_types) text_key += std::to_string(t) + ",";
      text_key += "|" + p->sql;
      if (auto plan = db_->plans.get(text_key)) {
        ps->plan = plan;
        ps->catalog_version = current_catalog()->version;
        statements_[p->name] = ps;
        w.parse_complete();
        co_return true;
      }
    }
    auto parsed = sql::parse(p->sql);
    if (!parsed) {
      ext_error(parsed.error());
      co_return true;
    }
    if (parsed->statements.size() > 1) {
      ext_error(PgError::make(sqlstate::kSyntaxError, "cannot insert multiple commands into a prepared statement"));
      co_return true;
    }
    if (!parsed->statements.empty()) {
      if (tx_ == Tx::kFailed) {
        ext_error(PgError::make(sqlstate::kInFailedSqlTransaction,
                                "current transaction is aborted, commands ignored until end of transaction block"));
        co_return true;
      }
      auto plan = plan_for(parsed->statements[0], p->param_types, p->sql);
      if (!plan) {
        ext_error(plan.error());
        co_return true;
      }
      ps->plan = *plan;
      ps->catalog_version = current_catalog()->version;
      if (!text_key.empty() && !pending_catalog_ && cacheable_tag(sql::node_tag(parsed->statements[0].tree)))
        db_->plans.put(text_key, *plan);
    }
    statements_[p->name] = ps;
    w.parse_complete();
    co_return true;
  }
  if (auto* b = std::get_if<wire::Bind>(&msg)) {
    auto it = statements_.find(b->statement);
    if (it == statements_.end()) {
      ext_error(PgError::make(sqlstate::kInvalidSqlStatementName,
                              b->statement.empty() ? "unnamed prepared statement does not exist"
                                                   : "prepared statement \"" + b->statement + "\" does not exist"));
      co_return true;
    }
    auto ps = it->second;
    if (tx_ == Tx::kFailed) {
      ext_error(PgError::make(sqlstate::kInFailedSqlTransaction,
                              "current transaction is aborted, commands ignored until end of transaction block"));
      co_return true;
    }
    size_t nparams = ps->plan ? ps->plan->params.size() : 0;
    if (b->params.size() != nparams) {
      ext_error(PgError::make(sqlstate::kProtocolViolation,
                              "bind message supplies " + std::to_string(b->params.size()) + " parameters, but prepared statement \"" +
                                  b->statement + "\" requires " + std::to_string(nparams)));
      co_return true;
    }
    if (b->param_formats.size() > 1 && b->param_formats.size() != b->params.size()) {
      ext_error(PgError::make(sqlstate::kProtocolViolation,
                              "bind message has " + std::to_string(b->param_formats.size()) + " parameter formats but " +
                                  std::to_string(b->params.size()) + " parameters"));
      co_return true;
    }
    if (!b->portal.empty() && portals_.count(b->portal)) {
      ext_error(PgError::make(sqlstate::kDuplicateCursor, "portal \"" + b->portal + "\" already exists"));
      co_return true;
    }
    refresh_statement(*ps);
    Portal portal;
    portal.stmt = ps;
    portal.plan = ps->plan;
    portal.result_formats = b->result_formats;
    if (ps->plan) {
      auto params = store::decode_params(*ps->plan, b->param_formats, b->params, session_types());
      if (!params) {
        ext_error(params.error());
        co_return true;
      }
      portal.params = std::move(*params);
      for (auto f : b->result_formats) {
        if (f != 0 && f != 1) {
          ext_error(PgError::make(sqlstate::kProtocolViolation, "unsupported format code: " + std::to_string(f)));
          co_return true;
        }
      }
    }
    portals_.erase(b->portal);
    portals_.emplace(b->portal, std::move(portal));
    w.bind_complete();
    co_return true;
  }
  if (auto* d = std::get_if<wire::Describe>(&msg)) {
    if (d->kind == 'S') {
      auto it = statements_.find(d->name);
      if (it == statements_.end()) {
        ext_error(PgError::make(sqlstate::kInvalidSqlStatementName,
                                d->name.empty() ? "unnamed prepared statement does not exist"
                                                : "prepared statement \"" + d->name + "\" does not exist"));
        co_return true;
      }
      auto& ps = *it->second;
      refresh_statement(ps);
      std::vector<uint32_t> ptypes;
      if (ps.plan)
        for (const auto& p : ps.plan->params) ptypes.push_back(p.type);
      w.parameter_description(ptypes);
      auto rows_plan = executed_plan(ps.plan);  // EXECUTE name: the rows of the named statement
      if (rows_plan && (rows_plan->returns_rows || rows_plan->kind == sql::PlanKind::kShow)) {
        if (rows_plan->kind == sql::PlanKind::kShow) {
          wire::FieldDescription f;
          const Guc* g = find_guc(rows_plan->setting);
          f.name = g ? std::string(g->display_name) : rows_plan->setting;
          f.type_oid = types::oid::kText;
          std::vector<wire::FieldDescription> fs{f};
          w.row_description(fs);
        } else {
          auto f = fields_for(*rows_plan, {});
          w.row_description(f);
        }
      } else {
        w.no_data();
      }
      co_return true;
    }
    auto it = portals_.find(d->name);
    if (it == portals_.end()) {
      ext_error(PgError::make(sqlstate::kInvalidCursorName, "portal \"" + d->name + "\" does not exist"));
      co_return true;
    }
    auto& portal = it->second;
    portal.described = true;
    if (auto rows_plan = executed_plan(portal.plan);
        rows_plan && rows_plan->returns_rows && rows_plan->kind != sql::PlanKind::kShow) {
      auto f = fields_for(*rows_plan, portal.plan->kind == sql::PlanKind::kExecute ? std::vector<int16_t>{} : portal.result_formats);
      w.row_description(f);
    } else if (portal.plan && portal.plan->kind == sql::PlanKind::kShow) {
      wire::FieldDescription f;
      const Guc* g = find_guc(portal.plan->setting);
      f.name = g ? std::string(g->display_name) : portal.plan->setting;
      f.type_oid = types::oid::kText;
      std::vector<wire::FieldDescription> fs{f};
      w.row_description(fs);
    } else {
      w.no_data();
    }
    co_return true;
  }
  if (auto* e = std::get_if<wire::Execute>(&msg)) {
    auto it = portals_.find(e->portal);
    if (it == portals_.end()) {
      ext_error(PgError::make(sqlstate::kInvalidCursorName, "portal \"" + e->portal + "\" does not exist"));
      co_return true;
    }
    auto& portal = it->second;
    if (!portal.plan) {
      w.empty_query_response();
      co_return true;
    }
    if (portal.cursor && portal.cursor->done()) {
      w.command_complete(portal.cursor->command_tag());
      co_return true;
    }
    bool suspended = false;
    auto plan = portal.plan;
    if (portal.stmt) prepare_text_ = portal.stmt->sql;
    auto r = co_await execute(*plan, plan, &portal, e->max_rows, false, suspended);
    if (!r) {
      ext_error(r.error());
    }
    co_return true;
  }
  if (auto* c = std::get_if<wire::Close>(&msg)) {
    if (c->kind == 'S') statements_.erase(c->name);
    else portals_.erase(c->name);
    w.close_complete();
    co_return true;
  }
  if (std::holds_alternative<wire::Sync>(msg)) {
    skip_until_sync_ = false;
    portals_.erase("");
    w.ready_for_query(tx_status());
    co_return true;
  }
  if (std::holds_alternative<wire::Flush>(msg)) {
    co_await flush();
    co_return true;
  }
  if (std::holds_alternative<wire::CopyData>(msg) || std::holds_alternative<wire::CopyDone>(msg) ||
      std::holds_alternative<wire::CopyFail>(msg)) {
    co_return true;  // outside COPY these are ignored, as PostgreSQL does
  }
  if (std::holds_alternative<wire::FunctionCall>(msg)) {
    ext_error(PgError::make(sqlstate::kFeatureNotSupported, "metagate does not support the function call protocol"));
    skip_until_sync_ = false;
    w.ready_for_query(tx_status());
    co_return true;
  }
  co_await send_fatal(PgError::fatal(sqlstate::kProtocolViolation, "unexpected password message"));
  co_return false;
}

// ---------------------------------------------------------------------------------------
// Admin console and PAUSE

awaitable<void> Session::pause_gate() {
  // PAUSE holds new transactions (not the ones in progress) until RESUME or shutdown.
  // The session counts as idle while it waits, so PAUSE (which waits for active sessions)
  // completes.
  set_state(ClientState::kIdle);
  asio::steady_timer t(socket_.get_executor());
  while (ctx_.paused && !ctx_.draining && terminate_reason_.load(std::memory_order_relaxed) == kNoTermination) {
    t.expires_after(std::chrono::milliseconds(20));
    co_await t.async_wait(asio::as_tuple(use_awaitable));
  }
  set_state(ClientState::kActive);
}

awaitable<void> Session::admin_query(const std::string& text) {
  wire::Writer w(out_);
  auto cmd = admin::parse_admin_command(text);
  auto finish = [&] { w.ready_for_query(wire::TxStatus::kIdle); };
  if (!cmd) {
    send_error(cmd.error());
    finish();
    co_return;
  }
  if (!*cmd) {
    w.empty_query_response();
    finish();
    co_return;
  }
  AdminResult result;
  auto* admin = ctx_.admin_control;
  const AdminCommand& c = **cmd;
  spdlog::info("session {}: admin console: {}", pid_, text.substr(0, 200));
  switch (c.verb) {
    case AdminVerb::kShowClients: result = admin->show_clients(); break;
    case AdminVerb::kShowStats: result = admin->show_stats(); break;
    case AdminVerb::kShowConfig: result = admin->show_config(); break;
    case AdminVerb::kShowDatabases: result = admin->show_databases(); break;
    case AdminVerb::kShowPools: result = admin->show_pools(); break;
    case AdminVerb::kShowServers: result = admin->show_servers(); break;
    case AdminVerb::kShowHosts: result = admin->show_hosts(); break;
    case AdminVerb::kShowVersion:
      result.columns = {"version"};
      result.types = {types::oid::kText};
      result.rows.push_back({std::string("metagate ") + METAGATE_VERSION + " (PostgreSQL " + cfg_->server.server_version +
                             " wire protocol, SQLite " + sqlite3_libversion() + ")"});
      result.tag = "SHOW";
      break;
    case AdminVerb::kReload: {
      auto r = admin->reload();
      if (!r) {
        send_error(r.error());
        finish();
        co_return;
      }
      for (const auto& n : *r) send_notice(n);
      result.tag = "RELOAD";
      break;
    }
    case AdminVerb::kKillClient:
      if (!admin->kill_client(c.client_id)) {
        send_error(PgError::make(sqlstate::kUndefinedObject, "no client with id " + std::to_string(c.client_id)));
        finish();
        co_return;
      }
      result.tag = "KILL";
      break;
    case AdminVerb::kPause: {
      admin->pause();
      // Returns once no session (but this one) is inside a transaction: the store is quiet.
      asio::steady_timer t(socket_.get_executor());
      for (;;) {
        auto clients = admin->show_clients();
        bool busy = false;
        for (const auto& row : clients.rows) {
          const auto& st = row[3];
          // Admin console sessions (a BACKUP waiting for its upload) hold no transaction.
          if (st && (*st == "active" || *st == "idle_in_transaction" || *st == "idle_in_transaction_aborted") &&
              row[0] != std::optional<std::string>(std::to_string(pid_)) &&
              row[2] != std::optional<std::string>(std::string(admin::kAdminDatabase)))
            busy = true;
        }
        if (!busy || !ctx_.paused) break;
        t.expires_after(std::chrono::milliseconds(20));
        co_await t.async_wait(asio::as_tuple(use_awaitable));
      }
      result.tag = "PAUSE";
      break;
    }
    case AdminVerb::kResume:
      admin->resume();
      result.tag = "RESUME";
      break;
    case AdminVerb::kShutdown:
      admin->shutdown();
      result.tag = "SHUTDOWN";
      break;
    case AdminVerb::kBackup: {
      // The snapshot runs on the backup thread and the upload on the shipper's: this io thread
      // only looks at their progress, every 100 ms, and serves its other sessions meanwhile.
      auto task = admin->backup(c.database);
      if (!task) {
        send_error(task.error());
        finish();
        co_return;
      }
      asio::steady_timer t(socket_.get_executor());
      for (;;) {
        auto r = (*task)->poll();
        if (r) {
          if (!*r) {
            send_error(r->error());
            finish();
            co_return;
          }
          result = std::move(**r);
          break;
        }
        // Killed (KILL CLIENT, the drain timeout): the FATAL is sent by the session loop; the
        // snapshot still completes on the backup thread.
        if (terminate_reason_.load(std::memory_order_relaxed) != kNoTermination) co_return;
        t.expires_after(std::chrono::milliseconds(100));
        co_await t.async_wait(asio::as_tuple(use_awaitable));
      }
      break;
    }
  }
  if (!result.columns.empty()) {
    std::vector<wire::FieldDescription> fields;
    for (size_t i = 0; i < result.columns.size(); ++i) {
      wire::FieldDescription f;
      f.name = result.columns[i];
      f.type_oid = result.types[i];
      const auto* info = types::find_type(f.type_oid);
      f.type_size = info ? info->typlen : -1;
      fields.push_back(std::move(f));
    }
    w.row_description(fields);
    for (const auto& row : result.rows) {
      w.begin_data_row(static_cast<int16_t>(row.size()));
      for (const auto& v : row) {
        if (v) w.field(*v);
        else w.null_field();
      }
      w.end_data_row();
    }
    w.command_complete("SHOW");
  } else {
    w.command_complete(result.tag);
  }
  finish();
}

}  // namespace metagate::server
