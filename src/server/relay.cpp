// The relay to PostgreSQL servers. Two coroutines per relayed session:
//  - relay_client() reads the client's messages, checks a server connection out of the pool
//    when it has none, rewrites what transaction pooling must rewrite (statement names, a
//    re-Parse where the statement is missing, SETs that bring the server to the client's
//    session state) and writes to the server;
//  - relay_server() forwards the server's bytes to the client unchanged (DataRow frames are
//    never decoded), dropping the answers to metagate's own messages and inserting the answers
//    metagate gave itself, and checks the server connection back in once the server is idle,
//    outside a transaction, with nothing owed.
// Both run on the session's io_context thread: they share state without locks. Only
// relay_server() reads from the server and (while a server is attached) writes to the client;
// it also does every check-in, so no read is ever outstanding on a connection given away.
#include <spdlog/spdlog.h>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <cstring>

#include "metagate/sql/read_only.hpp"
#include "metagate/sql/session_effects.hpp"
#include "metagate/util/clock.hpp"
#include "metagate/util/strings.hpp"
#include "metagate/wire/relay.hpp"
#include "session.hpp"

namespace metagate::server {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;
using metrics::ClientState;
using metrics::CloseReason;
using pool::Expect;
using util::steady_now_us;

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Parameters the server reports (ParameterStatus) that a client can SET, so a report means
// the client's session state changed and later server connections must get it too.
bool tracked_report(std::string_view lower_name) {
  static constexpr std::string_view kNames[] = {"application_name", "datestyle", "intervalstyle", "timezone",
                                                "client_encoding", "standard_conforming_strings", "search_path",
                                                "default_transaction_read_only"};
  for (auto n : kNames)
    if (n == lower_name) return true;
  return false;
}

// Startup parameters that are not session settings.
bool startup_only(std::string_view lower_name) {
  return lower_name == "user" || lower_name == "database" || lower_name == "options" || lower_name == "replication";
}

// The startup packet's `options` as PostgreSQL reads them: words split at unescaped
// white space (backslash escapes the next character); `-c name=value`, `-cname=value` and
// `--name=value` set parameters (dashes in names read as underscores).
std::vector<std::pair<std::string, std::string>> parse_startup_options(std::string_view text) {
  std::vector<std::string> words;
  std::string cur;
  bool have = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      if (have) words.push_back(std::move(cur));
      cur.clear();
      have = false;
      continue;
    }
    if (c == '\\' && i + 1 < text.size()) c = text[++i];
    cur.push_back(c);
    have = true;
  }
  if (have) words.push_back(std::move(cur));
  std::vector<std::pair<std::string, std::string>> out;
  auto setting = [&](std::string_view s) {
    size_t eq = s.find('=');
    if (eq == std::string_view::npos || eq == 0) return;
    std::string name(s.substr(0, eq));
    for (char& ch : name) ch = ch == '-' ? '_' : ch;
    out.emplace_back(name, std::string(s.substr(eq + 1)));
  };
  for (size_t i = 0; i < words.size(); ++i) {
    std::string_view w = words[i];
    if (w == "-c" && i + 1 < words.size()) setting(words[++i]);
    else if (w.starts_with("-c")) setting(w.substr(2));
    else if (w.starts_with("--")) setting(w.substr(2));
  }
  return out;
}

uint32_t get32(const char* p) {
  auto u = [&](int i) { return static_cast<uint32_t>(static_cast<uint8_t>(p[i])); };
  return (u(0) << 24) | (u(1) << 16) | (u(2) << 8) | u(3);
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Startup and end

awaitable<PgResult<std::vector<std::pair<std::string, std::string>>>> Session::relay_startup(
    const config::DatabaseConfig& entry) {
  auto target = config::parse_conninfo(entry.conninfo);
  if (!target) co_return unexpected(PgError::fatal(sqlstate::kConnectionFailure, target.error()));
  std::string login = target->user.empty() ? user_ : target->user;
  std::string dbname = target->dbname.empty() ? database_ : target->dbname;
  pool::PoolSettings settings = pool::settings_for(entry, *target);
  settings.cluster = ctx_.pools->cluster(*target, entry);
  pool_ = ctx_.pools->get(dbname, login, settings);
  if (target->password.empty() && (!passthrough_password_.empty() || passthrough_scram_)) {
    // Authentication pass-through: the server checks the client's password, or the keys of
    // its SCRAM exchange with metagate (once per secret: the pool remembers the last one it
    // accepted and connects with it).
    // (No co_await inside ?: — GCC 12 miscompiles the result's lifetime there.)
    PgStatus ok;
    if (passthrough_scram_) ok = co_await pool_->verify_scram_keys(socket_.get_executor(), *passthrough_scram_);
    else ok = co_await pool_->verify_password(socket_.get_executor(), passthrough_password_);
    passthrough_password_.assign(passthrough_password_.size(), '\0');
    passthrough_password_.clear();
    passthrough_scram_.reset();
    if (!ok) {
      pool_.reset();
      PgError e = ok.error();
      e.severity = "FATAL";
      co_return unexpected(std::move(e));
    }
  }
  pool_->client_joined();
  if (ctx_.metrics) {
    pool_wait_ = ctx_.metrics->pool_wait(dbname, login);
    if (settings.cluster) failover_hold_ = ctx_.metrics->failover_hold(dbname, login);
  }
  relayed_ = true;
  sticky_ = entry.pool_mode == config::PoolMode::kSession && settings.cluster;
  transaction_pooling_ = entry.pool_mode == config::PoolMode::kTransaction || sticky_;
  attach_signal_ = std::make_unique<Signal>(socket_.get_executor(), 1);
  // As PostgreSQL: the switches in `options` first, then the packet's own parameters, which win.
  for (const auto& [k, v] : startup_params_) {
    if (lower(k) == "options")
      for (const auto& [ok, ov] : parse_startup_options(v)) wanted_params_[lower(ok)] = ov;
  }
  for (const auto& [k, v] : startup_params_) {
    std::string lk = lower(k);
    if (lk != "options" && !startup_only(lk)) wanted_params_[lk] = v;
  }

  // The values to report: a server connection's, brought to the client's startup values (in
  // transaction pooling, the pool's last known ones when it has some: the client then needs
  // no server connection until its first query).
  std::optional<std::vector<std::pair<std::string, std::string>>> params;
  if (transaction_pooling_ && !sticky_ && pool_->known_settings(wanted_params_)) params = pool_->parameters();
  if (!params) {
    auto s = co_await pool_->acquire(socket_.get_executor());
    if (!s) {
      PgError e = s.error();
      e.severity = "FATAL";
      co_return unexpected(std::move(e));
    }
    server_ = *s;
    pool_->attached(true);
    if (std::string sql = relay_param_sql(); !sql.empty()) {
      auto st = co_await pool::run_control_query(*server_, sql);
      if (!st) {
        relay_detach(st.error().sqlstate != sqlstate::kConnectionFailure);
        PgError e = st.error();
        e.severity = "FATAL";
        co_return unexpected(std::move(e));
      }
      server_->applied = wanted_params_;
    }
    pool_->remember_settings(wanted_params_);
    params_dirty_ = false;
    params = server_->link.parameters;
    if (transaction_pooling_ && !sticky_) relay_detach(true);
  } else {
    for (auto& [k, v] : *params) {
      auto it = wanted_params_.find(lower(k));
      if (it != wanted_params_.end()) v = it->second;
    }
  }
  co_return *params;
}

awaitable<void> Session::relay() {
  using namespace asio::experimental::awaitable_operators;
  set_state(ClientState::kIdle);
  co_await (relay_client() || relay_server());
  relay_done_ = true;
  if (relay_protocol_error_) {
    close_reason_ = CloseReason::kProtocolError;
    co_await flush();
  } else if (terminate_reason_.load() != kNoTermination) {
    close_reason_ = static_cast<CloseReason>(terminate_reason_.load());
    co_await send_fatal(termination_error(close_reason_));
  }
  if (!server_) co_return;
  // The server connection goes back to the pool only when nothing of this client can leak:
  // outside a transaction with nothing owed, and (session pooling) after DISCARD ALL.
  if (!relay_idle() || server_buffered_ || server_fatal_) {
    relay_detach(false);
    co_return;
  }
  if ((!transaction_pooling_ || sticky_) && !pool_->settings().reuse_session_servers) {
    // Session pooling without reuse: the client's backend ends with it, as with PostgreSQL.
    server_pool().attached(false);
    server_pool().discard(server_, pool::CloseCause::kClientLeft);
    server_ = nullptr;
    server_pool_.reset();
    co_return;
  }
  if (!transaction_pooling_ || pinned() || !sql_prepared_.empty()) {
    auto st = co_await pool::run_control_query(*server_, "DISCARD ALL");
    if (!st) {
      relay_detach(false);
      co_return;
    }
    server_->statements.clear();
    server_->stale.clear();
    server_->shapes.clear();
    server_->applied.clear();
    server_->sql_prepared.clear();
  }
  relay_detach(true);
}

void Session::relay_detach(bool reusable) {
  if (!server_) return;
  pool::Pool& from = server_pool();
  from.attached(false);
  if (server_->state_unknown) reusable = false;
  if (reusable) from.release(server_);
  else from.discard(server_, pool::CloseCause::kDirty);
  server_ = nullptr;
  server_pool_.reset();
  if (round_may_write_) {
    last_write_us_ = steady_now_us();
    ryw_lsn_ = 0;
  }
  round_may_write_ = false;
}

bool Session::relay_buffered_round_read_only() {
  // The client's messages already read, from the one about to be relayed: one simple Query,
  // or an extended-protocol round up to its Sync with at least one Execute, every statement
  // of it provably read-only (sql::provably_read_only). A round not wholly read yet is not.
  auto bytes = std::span(in_.data() + in_start_, in_.size() - in_start_);
  auto read_only = [&](const pool::StatementDef& def) {
    auto [it, fresh] = read_only_statements_.try_emplace(def.id, false);
    if (fresh) it->second = sql::provably_read_only(def.query);
    return it->second;
  };
  bool unnamed_known = false, executes = false;
  size_t at = 0;
  while (at < bytes.size()) {
    auto fr = wire::next_frame(bytes.subspan(at), false, limits_);
    if (fr.status != wire::FrameStatus::kFrame) return false;
    const char type = fr.frame.type;
    std::string_view body(reinterpret_cast<const char*>(bytes.data() + at + 5), fr.frame.total_size - 5);
    const bool first = at == 0;
    at += fr.frame.total_size;
    switch (type) {
      case 'Q': {
        if (!first) return false;
        if (!body.empty() && body.back() == '\0') body.remove_suffix(1);
        return sql::provably_read_only(body);
      }
      case 'P': {
        auto v = wire::view_parse(body);
        if (!v || !sql::provably_read_only(v->query)) return false;
        if (v->name.empty()) unnamed_known = true;
        break;
      }
      case 'B': {
        auto v = wire::view_bind(body);
        if (!v) return false;
        if (v->statement.empty()) {
          if (unnamed_known) break;
          // The unnamed statement of an earlier round.
          if (unnamed_parse_.size() < 5) return false;
          auto p = wire::view_parse(std::string_view(unnamed_parse_).substr(5));
          if (!p || !sql::provably_read_only(p->query)) return false;
          unnamed_known = true;
          break;
        }
        auto it = client_statements_.find(std::string(v->statement));
        if (it == client_statements_.end() || !read_only(*it->second)) return false;
        break;
      }
      case 'E': executes = true; break;
      case 'D': case 'H': case 'C': break;
      case 'S': return executes;
      default: return false;
    }
  }
  return false;
}

std::shared_ptr<pool::Pool> Session::relay_read_target() {
  // Read/write split (transaction pooling): an autocommit round that is provably read-only,
  // from a client with nothing on its server connection, may go to a replica.
  if (!transaction_pooling_ || sticky_ || pool_->settings().reads == config::ReadsMode::kPrimary) return nullptr;
  if (tx_ != Tx::kIdle || pinned() || lost_tx_ || answer_sync_locally_ || open_round_ || reprobe_) return nullptr;
  if (!relay_buffered_round_read_only()) return nullptr;
  auto host = pool_->pick_replica(last_write_us_, ryw_lsn_);
  if (!host) return nullptr;
  return pool_->replica_pool(*host);
}

std::string Session::relay_param_sql() const {
  // set_config() takes a setting as pg_settings shows it (SET would quote list values).
  std::string set;
  for (const auto& [k, v] : wanted_params_) {
    auto it = server_->applied.find(k);
    if (it != server_->applied.end() && it->second == v) continue;
    set += set.empty() ? "SELECT " : ", ";
    set += "pg_catalog.set_config(" + util::quote_literal(k) + ", " + util::quote_literal(v) + ", false)";
  }
  std::string sql = set.empty() ? std::string() : set + ";";
  for (const auto& [k, v] : server_->applied) {
    if (!wanted_params_.count(k)) sql += "RESET " + util::quote_ident(k) + ";";
  }
  return sql;
}

namespace {

// The session's state as the server sees it: its SET settings (source "session"), then one
// row with a NULL name counting what pins it (advisory locks, LISTEN channels, WITH HOLD
// cursors, temporary relations).
constexpr std::string_view kProbeSql =
    "SELECT name, setting FROM pg_catalog.pg_settings WHERE source = 'session' UNION ALL "
    "SELECT NULL, ((SELECT count(*) FROM pg_catalog.pg_locks WHERE pid = pg_catalog.pg_backend_pid() AND "
    "locktype = 'advisory') + (SELECT count(*) FROM pg_catalog.pg_listening_channels()) + "
    "(SELECT count(*) FROM pg_catalog.pg_cursors WHERE is_holdable) + "
    "(SELECT count(*) FROM pg_catalog.pg_class WHERE relnamespace = pg_catalog.pg_my_temp_schema()))::text";

std::string deallocate_sql(const std::string& name) { return "DEALLOCATE " + util::quote_ident(name); }

// Calls fn(type, whole message) for each message of `msgs` (whole frames, as the relay kept them).
template <typename Fn>
void for_each_message(std::string_view msgs, const wire::Limits& limits, Fn&& fn) {
  auto bytes = std::span(reinterpret_cast<const uint8_t*>(msgs.data()), msgs.size());
  for (size_t at = 0; at < msgs.size();) {
    auto fr = wire::next_frame(bytes.subspan(at), false, limits);
    if (fr.status != wire::FrameStatus::kFrame) return;
    fn(fr.frame.type, msgs.substr(at, fr.frame.total_size));
    at += fr.frame.total_size;
  }
}

// An ErrorResponse body saying "cached plan must not change result type": raised by the
// server's RevalidateCachedQuery (the routine field does not depend on lc_messages).
bool cached_plan_changed(std::string_view body) {
  for (size_t at = 0; at < body.size() && body[at] != '\0';) {
    const char code = body[at];
    size_t end = body.find('\0', at + 1);
    if (end == std::string_view::npos) return false;
    std::string_view value = body.substr(at + 1, end - at - 1);
    if (code == 'R' && value == "RevalidateCachedQuery") return true;
    if (code == 'M' && value == "cached plan must not change result type") return true;
    at = end + 1;
  }
  return false;
}

}  // namespace

void Session::relay_query(std::string_view sql, std::string_view whole, std::string& batch) {
  sql::SessionEffects fx = sql::session_effects(sql);
  relay_note_tx_statement(sql);
  // A simple Query destroys the server's unnamed statement (PostgreSQL's rule).
  server_->statements.unnamed_owner = 0;
  auto inject = [&](const std::string& q) {
    wire::append_query(batch, q);
    tracker_.expect(Expect::kQuery, /*drop=*/true);
  };
  // DEALLOCATE of a statement the client made with the protocol's Parse (pgx deallocates that
  // way): it is the client's name for a shared server statement, which stays; the server
  // gets a statement of that name to deallocate, so the client sees what PostgreSQL says.
  for (const auto& name : fx.deallocates) {
    auto it = client_statements_.find(name);
    if (it == client_statements_.end() || sql_prepared_.count(name)) continue;
    client_statements_.erase(it);
    sql_prepared_[name] = "PREPARE " + util::quote_ident(name) + " AS SELECT 1";
  }
  auto& on_server = server_->sql_prepared;
  // The server in use must hold exactly the client's own SQL-level statement under each name
  // the query uses (or none, where the client has none: then the server errs as PostgreSQL
  // would for this client).
  auto make_present = [&](const std::string& name) {
    auto mine = sql_prepared_.find(name);
    auto there = on_server.find(name);
    if (mine == sql_prepared_.end()) {
      if (there != on_server.end()) {
        inject(deallocate_sql(name));
        on_server.erase(there);
      }
      return;
    }
    if (there != on_server.end() && there->second == mine->second) return;
    if (there != on_server.end()) inject(deallocate_sql(name));
    inject(mine->second);
    on_server[name] = mine->second;
    pool_->count_reparse();
  };
  for (const auto& name : fx.executes) make_present(name);
  for (const auto& name : fx.deallocates) make_present(name);
  for (const auto& p : fx.prepares) {
    if (sql_prepared_.count(p.name)) make_present(p.name);  // the server says 42P05, as PostgreSQL would
    else if (on_server.count(p.name)) {
      inject(deallocate_sql(p.name));
      on_server.erase(p.name);
    }
  }
  batch.append(whole);
  tracker_.expect(Expect::kQuery);
  // What the query leaves behind (a failed PREPARE is found out at its EXECUTE: the replayed
  // PREPARE fails again and the EXECUTE says 26000, as PostgreSQL would).
  for (const auto& p : fx.prepares) {
    if (!sql_prepared_.count(p.name)) {
      sql_prepared_[p.name] = p.text;
      on_server[p.name] = p.text;
    }
  }
  for (const auto& name : fx.deallocates) {
    sql_prepared_.erase(name);
    on_server.erase(name);
  }
  if (fx.deallocate_all) {
    sql_prepared_.clear();
    on_server.clear();
  }
  if (fx.settings || fx.pins || (fx.may_release && pinned()) || fx.unparsable || reprobe_) {
    pending_pins_ |= fx.pins;
    relay_append_probe(batch);
  }
}

void Session::relay_note_tx_statement(std::string_view sql) {
  // Read only if the server connection is lost before it answers (a COMMIT's outcome is
  // then unknown); long texts are not kept (may_commit says "may" for them).
  if (tx_ == Tx::kIdle) return;
  if (sql.size() <= 4096) last_tx_query_.assign(sql);
  else last_tx_query_.assign(4097, ' ');
}

void Session::relay_append_probe(std::string& batch) {
  wire::append_query(batch, kProbeSql);
  tracker_.expect(Expect::kProbe, /*drop=*/true);
  server_->statements.unnamed_owner = 0;  // a simple Query ends the unnamed statement
  probe_settings_.clear();
  probe_pins_ = -1;
  reprobe_ = false;
}

void Session::relay_note_parse(std::string_view name, std::string_view query) {
  sql::SessionEffects fx = sql::session_effects(query);
  bool probe = fx.settings || fx.pins || fx.may_release || fx.unparsable;
  if (probe) statement_effects_[std::string(name)] = StatementEffects{fx.pins, true};
  else if (!statement_effects_.empty()) statement_effects_.erase(std::string(name));
}

void Session::relay_probe_row(std::string_view body) {
  // DataRow: int16 columns, then per column int32 length (-1 = NULL) and the text.
  auto col = [&](size_t& at) -> std::optional<std::string_view> {
    if (body.size() < at + 4) return std::nullopt;
    int32_t n = static_cast<int32_t>(get32(body.data() + at));
    at += 4;
    if (n < 0) return std::nullopt;
    if (body.size() < at + static_cast<size_t>(n)) return std::nullopt;
    std::string_view v = body.substr(at, static_cast<size_t>(n));
    at += static_cast<size_t>(n);
    return v;
  };
  size_t at = 2;
  auto name = col(at);
  auto value = col(at);
  if (!value) return;
  if (name) probe_settings_[lower(*name)] = std::string(*value);
  else probe_pins_ = std::strtoll(std::string(*value).c_str(), nullptr, 10);
}

void Session::relay_probe_done(bool failed, char tx_status) {
  if (failed || probe_pins_ < 0) {
    probe_settings_.clear();
    // In an aborted transaction the state is read again after a later statement (its
    // rollback restores the settings from before the transaction). Outside one, the
    // statement before the probe may have changed settings metagate has not seen (the probe
    // was cancelled by the client's statement_timeout, say): the server connection stays
    // with this client, as if pinned, and the probe runs again after the client's next
    // statement; the first one that answers decides.
    if (server_ && tx_status == 'I') {
      if (!pins_) spdlog::debug("session {}: state probe failed on server connection {}; kept until one answers",
                                pid_, server_->link.pid);
      pins_ |= sql::kPinOther;
      reprobe_ = true;
    }
    return;
  }
  wanted_params_ = std::move(probe_settings_);
  probe_settings_.clear();
  if (server_) server_->applied = wanted_params_;
  uint8_t before = pins_;
  uint8_t causes = static_cast<uint8_t>(pins_ | pending_pins_);
  pins_ = probe_pins_ > 0 ? (causes ? causes : static_cast<uint8_t>(sql::kPinOther)) : 0;
  pending_pins_ = 0;
  if (pins_ && !before) {
    spdlog::debug("session {}: pinned to server connection {} ({})", pid_, server_ ? server_->link.pid : 0, pins_);
    if (pool_) pool_->count_pin(pins_);
  }
}

void Session::relay_param_sync(std::string& batch) {
  if (!params_dirty_ || open_round_ || tx_ != Tx::kIdle) return;
  params_dirty_ = false;
  std::string sql = relay_param_sql();
  if (sql.empty()) return;
  wire::append_query(batch, sql);
  tracker_.expect(Expect::kQuery, /*drop=*/true);
  server_->applied = wanted_params_;
  server_->statements.unnamed_owner = 0;
}

awaitable<bool> Session::relay_attach(std::string& batch) {
  set_state(ClientState::kActive);
  const int64_t asked = steady_now_us();
  bool held = false;
  std::shared_ptr<pool::Pool> replica = relay_read_target();
  pool::Pool& from = replica ? *replica : *pool_;
  auto s = co_await from.acquire(socket_.get_executor(), &held);
  if (!s && replica) {
    // The replica is gone since the monitor looked: the primary answers instead.
    spdlog::debug("session {}: replica unavailable ({}): the primary reads instead", pid_, s.error().message);
    replica.reset();
    s = co_await pool_->acquire(socket_.get_executor(), &held);
  }
  const double waited = static_cast<double>(steady_now_us() - asked) / 1e6;
  if (pool_wait_) pool_wait_->Observe(waited);
  if (held && failover_hold_) failover_hold_->Observe(waited);
  if (!s) {
    PgError e = s.error();
    e.severity = "ERROR";
    std::string out;
    wire::Writer w(out);
    w.error_response(e);
    if (ctx_.metrics) ctx_.metrics->error(e.sqlstate);
    spdlog::info("session {}: no server connection: {} {}", pid_, e.sqlstate, e.message);
    co_await relay_write_client(out);
    co_return false;
  }
  server_ = *s;
  server_pool_ = replica ? replica : nullptr;
  round_may_write_ = !replica;
  if (replica) pool_->count_replica_read();
  server_pool().attached(true);
  params_dirty_ = true;
  relay_param_sync(batch);
  attach_signal_->try_send(boost::system::error_code{});  // relay_server() starts reading it
  co_return true;
}

void Session::relay_checkin_if_done() {
  if (!server_ || !transaction_pooling_ || sticky_ || writing_server_ || server_buffered_ || !relay_idle() || pinned()) return;
  relay_detach(true);
  set_state(ClientState::kIdle);
}

void Session::relay_cancel(std::function<void()> done) {
  if (!server_ || (transaction_pooling_ && tracker_.empty())) {
    if (done) done();
    return;
  }
  server_pool().cancel(socket_.get_executor(), server_, std::move(done));
}

awaitable<void> Session::relay_write_client(std::string_view data) {
  if (data.empty()) co_return;
  if (ctx_.metrics) ctx_.metrics->sent(data.size());
  boost::system::error_code ec;
  if (tls_) {
    std::tie(ec, std::ignore) = co_await asio::async_write(*tls_, asio::buffer(data), asio::as_tuple(use_awaitable));
  } else if (size_t now = pool::send_now(socket_, data); now < data.size()) {
    data.remove_prefix(now);
    std::tie(ec, std::ignore) = co_await asio::async_write(socket_, asio::buffer(data), asio::as_tuple(use_awaitable));
  }
  if (ec) close_reason_ = CloseReason::kNetworkError;
}

// ---------------------------------------------------------------------------------------
// Client → server

void Session::relay_note_round(char type, std::string_view whole) {
  // Kept for a possible retry: the messages since the last Sync (not copy data, not simple
  // queries: a round with those is never run again).
  const bool extended = type == 'P' || type == 'B' || type == 'D' || type == 'E' || type == 'C' || type == 'S' || type == 'H';
  if (!open_round_) {
    ++round_seq_;
    round_bytes_.clear();
    if (round_bytes_.capacity() > 65536) round_bytes_.shrink_to_fit();
    round_replayable_ = true;
  }
  if (!extended) round_replayable_ = false;
  if (round_replayable_) round_bytes_.append(whole);
}

void Session::relay_translate(char type, std::string_view body, std::string_view whole, std::string& batch) {
  flushed_ = type == 'H';
  if (transaction_pooling_ && retry_ != Retry::kReplaying) relay_note_round(type, whole);
  if (type != 'S' && type != 'Q' && type != 'F' && type != 'd' && type != 'c' && type != 'f') open_round_ = true;
  if (!transaction_pooling_) {
    // Session pooling: the server is the client's own; only the answers are followed.
    relay_forward(type, body, whole, batch);
    return;
  }
  switch (type) {
    case 'P': {
      auto v = wire::view_parse(body);
      if (!v) break;
      relay_note_parse(v->name, v->query);
      relay_note_tx_statement(v->query);
      if (v->name.empty()) {
        unnamed_parse_.assign(whole);
        ++unnamed_seq_;
        server_->statements.unnamed_owner = unnamed_tag();
        batch.append(whole);
        tracker_.expect(Expect::kParse);
        return;
      }
      std::string name(v->name);
      if (client_statements_.count(name)) {
        // What PostgreSQL says; then, as PostgreSQL does, everything up to Sync is ignored.
        std::string err;
        wire::Writer w(err);
        w.error_response(PgError::make(sqlstate::kDuplicatePreparedStatement,
                                       "prepared statement \"" + name + "\" already exists"));
        tracker_.expect(Expect::kSyntheticError, false, 0, std::move(err));
        answer_sync_locally_ = true;
        return;
      }
      auto def = pool_->registry().intern(v->query, v->types);
      client_statements_[name] = def;
      relay_ensure_statement(*def, /*for_client=*/true, batch);
      return;
    }
    case 'B': {
      auto v = wire::view_bind(body);
      if (!v) break;
      if (!statement_effects_.empty() || !portal_effects_.empty()) {
        auto fx = statement_effects_.find(std::string(v->statement));
        if (fx != statement_effects_.end()) portal_effects_[std::string(v->portal)] = fx->second;
        else portal_effects_.erase(std::string(v->portal));
      }
      if (v->statement.empty()) {
        relay_ensure_unnamed(batch);
        break;
      }
      auto it = client_statements_.find(std::string(v->statement));
      if (it == client_statements_.end()) break;  // the server's own 26000 error names it
      relay_note_tx_statement(it->second->query);
      if (relay_shape_changed(it->second->id)) {
        // This server's copy was prepared again after a change of its result type, and the
        // client was told the old one: PostgreSQL's error, nothing runs.
        std::string err;
        wire::Writer w(err);
        w.error_response(PgError::make(sqlstate::kFeatureNotSupported, "cached plan must not change result type"));
        tracker_.expect(Expect::kSyntheticError, false, 0, std::move(err));
        answer_sync_locally_ = true;
        return;
      }
      relay_ensure_statement(*it->second, false, batch);
      wire::append_bind(batch, v->portal, it->second->server_name, v->rest);
      tracker_.expect(Expect::kBind, false, it->second->id);
      return;
    }
    case 'D': {
      auto v = wire::view_target(body);
      if (!v) break;
      if (v->kind == 'P') break;
      if (v->name.empty()) {
        relay_ensure_unnamed(batch);
      } else if (auto it = client_statements_.find(std::string(v->name)); it != client_statements_.end()) {
        relay_ensure_statement(*it->second, false, batch);
        wire::append_target(batch, 'D', 'S', it->second->server_name);
        tracker_.expect(Expect::kDescribeStatement, false, it->second->id);
        return;
      }
      break;
    }
    case 'C': {
      auto v = wire::view_target(body);
      if (v && v->kind == 'S' && !v->name.empty()) {
        // The server keeps the statement (other clients may use it; the LRU bounds it).
        client_statements_.erase(std::string(v->name));
        tracker_.expect(Expect::kSyntheticCloseComplete);
        return;
      }
      break;
    }
    case 'E': {
      if (!portal_effects_.empty()) {
        std::string_view portal = body.substr(0, body.find('\0'));
        auto fx = portal_effects_.find(std::string(portal));
        if (fx != portal_effects_.end()) {
          pending_pins_ |= fx->second.pins;
          probe_after_sync_ = true;
        }
      }
      break;
    }
    case 'S':
      batch.append(whole);
      tracker_.expect(Expect::kSync);
      open_round_ = false;
      if (probe_after_sync_ || reprobe_) {
        probe_after_sync_ = false;
        relay_append_probe(batch);
      }
      return;
    case 'Q': {
      std::string_view sql = body;
      if (!sql.empty() && sql.back() == '\0') sql.remove_suffix(1);
      relay_query(sql, whole, batch);
      return;
    }
    default: break;
  }
  // As it is: nothing to rewrite (Execute, FunctionCall, Flush, copy data, a portal's
  // Describe or Close, an unknown statement name), or malformed (the server answers with an
  // error).
  relay_forward(type, body, whole, batch);
}

void Session::relay_forward(char type, std::string_view body, std::string_view whole, std::string& batch) {
  batch.append(whole);
  switch (type) {
    case 'P': tracker_.expect(Expect::kParse); break;
    case 'B': tracker_.expect(Expect::kBind); break;
    case 'D': tracker_.expect(!body.empty() && body[0] == 'P' ? Expect::kDescribePortal : Expect::kDescribeStatement); break;
    case 'E': tracker_.expect(Expect::kExecute); break;
    case 'C': tracker_.expect(Expect::kClose); break;
    case 'S': tracker_.expect(Expect::kSync); open_round_ = false; break;
    case 'Q': tracker_.expect(Expect::kQuery); break;
    case 'F': tracker_.expect(Expect::kFunctionCall); break;
    default: break;  // Flush, CopyData, CopyDone, CopyFail: no answer of their own
  }
}

void Session::relay_ensure_statement(const pool::StatementDef& def, bool for_client, std::string& batch) {
  auto& cache = server_->statements;
  if (cache.contains(def.id)) {
    if (server_->stale.empty() || !server_->stale.erase(def.id)) {
      if (for_client) tracker_.expect(Expect::kSyntheticParseComplete);
      return;
    }
    // Its result type changed since: prepared anew under the same name.
    server_->shapes.erase(def.id);
    wire::append_target(batch, 'C', 'S', def.server_name);
    tracker_.expect(Expect::kClose, /*drop=*/true);
    wire::append_parse(batch, def.server_name, def.query, def.types);
    tracker_.expect(Expect::kParse, /*drop=*/!for_client, def.id);
    pool_->count_reparse();
    return;
  }
  if (auto evicted = cache.add(def.id)) {
    server_->shapes.erase(*evicted);
    server_->stale.erase(*evicted);
    wire::append_target(batch, 'C', 'S', pool::server_statement_name(*evicted));
    tracker_.expect(Expect::kClose, /*drop=*/true);
  }
  server_->shapes.erase(def.id);
  wire::append_parse(batch, def.server_name, def.query, def.types);
  tracker_.expect(Expect::kParse, /*drop=*/!for_client, def.id);
  if (!for_client) pool_->count_reparse();
}

void Session::relay_ensure_unnamed(std::string& batch) {
  if (unnamed_parse_.empty() || server_->statements.unnamed_owner == unnamed_tag()) return;
  // lib/pq: Parse+Describe in one Sync round, Bind+Execute in the next, maybe on another
  // server connection: the unnamed statement is parsed again there first.
  batch.append(unnamed_parse_);
  tracker_.expect(Expect::kParse, /*drop=*/true);
  server_->statements.unnamed_owner = unnamed_tag();
  pool_->count_reparse();
}

bool Session::relay_shape_changed(uint64_t id) const {
  if (server_->shapes.empty() || described_.empty() || server_->stale.count(id)) return false;
  auto here = server_->shapes.find(id);
  if (here == server_->shapes.end()) return false;
  // Differently described here since the client was told: this copy was prepared again after
  // a change. (Described here before: this copy is the stale one; the server says so itself.)
  auto told = described_.find(id);
  return told != described_.end() && told->second.hash != here->second.hash && here->second.at_us > told->second.at_us;
}

void Session::relay_retire(uint64_t id) {
  // A new Parse of the text gets a new statement (the old one's copies may be stale anywhere).
  for (const auto& [name, def] : client_statements_) {
    if (def->id == id) {
      pool_->registry().retire(*def);
      return;
    }
  }
}

void Session::relay_retry_give_up(std::string& out) {
  // The client gets the error the server gave; the next Parse of the text gets a new statement.
  out += retry_error_;
  relay_retire(retry_statement_);
  retry_ = Retry::kNone;
}

void Session::relay_retry_prepare(std::string& batch) {
  const pool::StatementDef* def = nullptr;
  for (const auto& [name, d] : client_statements_)
    if (d->id == retry_statement_) def = d.get();
  retry_shape_ = 0;
  if (!def) {  // closed meanwhile: nothing to compare, no retry
    wire::append_sync(batch);
    tracker_.expect(Expect::kSync, /*drop=*/true);
    return;
  }
  server_->stale.erase(def->id);
  wire::append_target(batch, 'C', 'S', def->server_name);
  tracker_.expect(Expect::kClose, /*drop=*/true);
  wire::append_parse(batch, def->server_name, def->query, def->types);
  tracker_.expect(Expect::kParse, /*drop=*/true, def->id);
  wire::append_target(batch, 'D', 'S', def->server_name);
  tracker_.expect(Expect::kDescribeStatement, /*drop=*/!retry_redescribe_, def->id);
  wire::append_sync(batch);
  tracker_.expect(Expect::kSync, /*drop=*/!retry_redescribe_);
  pool_->count_reparse();
}

bool Session::relay_round_is_prepare(uint64_t id) const {
  // Parse, Describe of that statement, Sync (Flushes aside): a driver's prepare.
  std::string kinds;
  bool describes_it = false;
  for_each_message(round_bytes_, limits_, [&](char type, std::string_view whole) {
    if (type != 'H') kinds += type;
    if (type == 'D' && whole.size() > 6 && whole[5] == 'S') {
      std::string_view name = whole.substr(6);
      if (!name.empty() && name.back() == '\0') name.remove_suffix(1);
      auto it = client_statements_.find(std::string(name));
      describes_it = it != client_statements_.end() && it->second->id == id;
    }
  });
  return kinds == "PDS" && describes_it;
}

bool Session::relay_retry_safe() const {
  if (retry_shape_ == 0) return false;
  // The client was told the statement's parameters and columns: they must not have changed.
  if (auto it = described_.find(retry_statement_); it != described_.end()) return it->second.hash == retry_shape_;
  // Never described to this client: safe when it learns each result's columns in the round
  // itself (a Describe of the portal between each Bind and its Execute, as libpq does).
  bool portal_described = false, safe = true;
  for_each_message(round_bytes_, limits_, [&](char type, std::string_view whole) {
    if (type == 'B') portal_described = false;
    else if (type == 'D' && whole.size() > 5 && whole[5] == 'P') portal_described = true;
    else if (type == 'E' && !portal_described) safe = false;
  });
  return safe;
}

void Session::relay_retry_replay(std::string& batch) {
  spdlog::info("session {}: a statement's result type changed (0A000) on server connection (pid {}): prepared "
               "again, the round runs again", pid_, server_->link.pid);
  const std::string round = round_bytes_;  // relay_translate() may start a new round
  for_each_message(round, limits_, [&](char type, std::string_view whole) { relay_translate(type, whole.substr(5), whole, batch); });
}

awaitable<void> Session::relay_answer_lost_tx(char type, std::string_view body) {
  // As PostgreSQL in an aborted transaction: only the statements that end the block run
  // (COMMIT then says ROLLBACK); anything else is 25P02 — or, first, the error for the lost
  // transaction when the client has not been told yet (it was idle in the transaction).
  std::string out;
  wire::Writer w(out);
  auto fail = [&](bool skip_to_sync) {
    PgError e = lost_tx_error_ ? std::move(*lost_tx_error_)
                               : PgError::make(sqlstate::kInFailedSqlTransaction,
                                               "current transaction is aborted, commands ignored until end of transaction block");
    lost_tx_error_.reset();
    w.error_response(e);
    if (ctx_.metrics) ctx_.metrics->error(e.sqlstate);
    if (skip_to_sync) answer_sync_locally_ = true;
    else w.ready_for_query(tx_status());
  };
  // The block ends: a COMMIT the client has not yet heard the error for gets it (the
  // transaction did not commit), anything else the tag PostgreSQL gives.
  auto end_block = [&](sql::TransactionEnd end) {
    if (lost_tx_error_ && end == sql::TransactionEnd::kCommit) {
      w.error_response(*lost_tx_error_);
      if (ctx_.metrics) ctx_.metrics->error(lost_tx_error_->sqlstate);
    } else {
      w.command_complete("ROLLBACK");
    }
    lost_tx_ = false;
    lost_tx_error_.reset();
    lost_statements_.clear();
    lost_portals_.clear();
    tx_ = Tx::kIdle;
  };
  switch (type) {
    case 'Q': {
      std::string_view sql = body;
      if (!sql.empty() && sql.back() == '\0') sql.remove_suffix(1);
      if (auto end = sql::transaction_end(sql); end != sql::TransactionEnd::kNone) {
        end_block(end);
        w.ready_for_query(tx_status());
      } else {
        fail(false);
      }
      break;
    }
    case 'P': {
      auto v = wire::view_parse(body);
      auto end = v ? sql::transaction_end(v->query) : sql::TransactionEnd::kNone;
      if (end == sql::TransactionEnd::kNone) {
        fail(true);
        break;
      }
      lost_statements_[std::string(v->name)] = end;
      w.parse_complete();
      break;
    }
    case 'B': {
      auto v = wire::view_bind(body);
      auto it = v ? lost_statements_.find(std::string(v->statement)) : lost_statements_.end();
      if (it == lost_statements_.end()) {
        fail(true);
        break;
      }
      lost_portals_[std::string(v->portal)] = it->second;
      w.bind_complete();
      break;
    }
    case 'D': {
      auto v = wire::view_target(body);
      bool known = v && (v->kind == 'S' ? lost_statements_.count(std::string(v->name)) > 0
                                        : lost_portals_.count(std::string(v->name)) > 0);
      if (!known) {
        fail(true);
        break;
      }
      if (v->kind == 'S') w.parameter_description({});
      w.no_data();
      break;
    }
    case 'E': {
      std::string_view portal = body.substr(0, body.find('\0'));
      auto it = lost_portals_.find(std::string(portal));
      if (it == lost_portals_.end()) {
        fail(true);
        break;
      }
      end_block(it->second);
      break;
    }
    case 'C':
      w.close_complete();
      break;
    case 'S':
      w.ready_for_query(tx_status());
      break;
    case 'F':
      fail(false);
      break;
    default:  // Flush; copy messages (no copy is running)
      break;
  }
  set_state(tx_ == Tx::kIdle ? ClientState::kIdle : ClientState::kIdleInTransactionAborted);
  co_await relay_write_client(out);
}

awaitable<void> Session::relay_drop_stale() {
  // relay_server() is waiting on the server's socket: woken, it lets the connection go as a
  // lost one (an idle client: nothing seen; in a transaction: 40001; pinned: the session
  // ends), and this client's next round gets a connection to the new primary. A deposed
  // primary that still answers is never written to again through this connection.
  drop_stale_ = true;
  boost::system::error_code ignore;
  server_->link.stream.socket().cancel(ignore);
  while (server_ && !relay_done_) co_await asio::post(socket_.get_executor(), use_awaitable);
}

awaitable<void> Session::relay_client() {
  std::string batch;
  auto answer_ready = [&]() -> awaitable<void> {
    std::string z;
    wire::Writer w(z);
    w.ready_for_query(tx_status());
    co_await relay_write_client(z);
  };
  for (;;) {
    // Whole frames only (sizes checked as for any client).
    for (;;) {
      auto fr = wire::next_frame(std::span(in_.data() + in_start_, in_.size() - in_start_), false, limits_);
      if (fr.status == wire::FrameStatus::kNeedMore) break;
      if (fr.status == wire::FrameStatus::kError) {
        out_.clear();
        wire::Writer w(out_);
        PgError e = fr.error;
        e.severity = "FATAL";
        w.error_response(e);
        relay_protocol_error_ = true;
        relay_done_ = true;
        co_return;  // the FATAL is flushed after the relay ends (one writer at a time)
      }
      const char type = fr.frame.type;
      std::string_view whole(reinterpret_cast<const char*>(in_.data() + in_start_), fr.frame.total_size);
      std::string_view body = whole.substr(5);
      if (type == 'X') {
        relay_done_ = true;
        co_return;
      }
      if (answer_sync_locally_ && !server_) {
        // After a local error, as PostgreSQL does: ignore everything up to Sync, answer that.
        in_start_ += fr.frame.total_size;
        if (type == 'S') {
          answer_sync_locally_ = false;
          co_await answer_ready();
        }
        continue;
      }
      if (ctx_.paused && tx_ == Tx::kIdle && tracker_.empty() && !open_round_ && !answer_sync_locally_ && !lost_tx_) {
        // PAUSE (admin console, `metagate switchover`): a new transaction waits; the ones in
        // progress finish.
        co_await pause_gate();
        if (relay_done_ || terminate_reason_.load() != kNoTermination) {
          relay_done_ = true;
          co_return;
        }
      }
      if (server_ && tracker_.empty() && !open_round_ && !server_buffered_ && relay_server_stale()) {
        co_await relay_drop_stale();
        if (relay_done_) co_return;
      }
      if (lost_tx_ && !server_) {
        in_start_ += fr.frame.total_size;
        co_await relay_answer_lost_tx(type, body);
        continue;
      }
      if (!server_) {
        if (!co_await relay_attach(batch)) {
          in_start_ += fr.frame.total_size;
          if (type == 'Q' || type == 'F' || type == 'S') co_await answer_ready();
          else answer_sync_locally_ = true;
          set_state(ClientState::kIdle);
          continue;
        }
      } else if (params_dirty_) {
        relay_param_sync(batch);
      }
      in_start_ += fr.frame.total_size;
      set_state(ClientState::kActive);
      if (answer_sync_locally_) {
        // A synthetic error is owed first: skip up to Sync, which the server answers.
        if (type == 'S') {
          answer_sync_locally_ = false;
          relay_translate(type, body, whole, batch);
        }
        continue;
      }
      relay_translate(type, body, whole, batch);
    }
    if (!batch.empty() && server_) {
      if (relay_since_us_ == 0) relay_since_us_ = steady_now_us();
      while (writing_server_) co_await asio::post(socket_.get_executor(), use_awaitable);  // a retry's write
      writing_server_ = true;
      boost::system::error_code ec;
      if (size_t now = server_->link.stream.write_now(batch); now < batch.size())
        std::tie(ec, std::ignore) = co_await server_->link.stream.async_write(
            asio::buffer(batch.data() + now, batch.size() - now), asio::as_tuple(use_awaitable));
      writing_server_ = false;
      batch.clear();
      // relay_server() notices a lost server; it must also run when it was waiting for
      // nothing: answers metagate owes after a Flush, or a check-in it had to put off.
      if (!ec && server_ &&
          ((flushed_ && tracker_.head_is_synthetic()) ||
           (transaction_pooling_ && !sticky_ && relay_idle() && !server_buffered_ && !pinned()))) {
        boost::system::error_code ignore;
        server_->link.stream.socket().cancel(ignore);
      }
    }
    batch.clear();
    if (ctx_.draining && relay_idle()) {
      // Shutdown: a relayed session outside a transaction ends now (57P01 after the relay).
      set_termination(CloseReason::kShutdown);
      relay_done_ = true;
      co_return;
    }
    waiting_input_ = true;
    bool got = co_await read_more();
    waiting_input_ = false;
    if (!got) {
      relay_done_ = true;
      co_return;
    }
  }
}

// ---------------------------------------------------------------------------------------
// Server → client

namespace {

// Server read buffers of the usual size, kept per io thread between transactions: in
// transaction pooling a session holds one only while a server connection is attached, and
// taking it from here instead of malloc (16 KiB is past glibc's thread cache) saves an
// allocation and a free per transaction. At most kKeep are kept per thread.
class ReadBuffers {
 public:
  static constexpr size_t kSize = 16384;
  static constexpr size_t kKeep = 64;
  std::unique_ptr<char[]> take() {
    if (free_.empty()) return std::unique_ptr<char[]>(new char[kSize]);
    auto p = std::move(free_.back());
    free_.pop_back();
    return p;
  }
  void give(std::unique_ptr<char[]> p) {
    if (free_.size() < kKeep) free_.push_back(std::move(p));
  }

 private:
  std::vector<std::unique_ptr<char[]>> free_;
};
thread_local ReadBuffers read_buffers;

}  // namespace

awaitable<void> Session::relay_server() {
  // The read buffer exists only while a server connection is attached and is not zero-filled,
  // so an idle client costs no buffer memory.
  struct Buffer {
    std::unique_ptr<char[]> p;
    size_t cap = 0;
    char* data() { return p.get(); }
    size_t size() const { return cap; }
    void resize(size_t n, size_t keep) {
      std::unique_ptr<char[]> q = n == ReadBuffers::kSize ? read_buffers.take() : std::unique_ptr<char[]>(new char[n]);
      if (keep) std::memcpy(q.get(), p.get(), keep);
      release();
      p = std::move(q);
      cap = n;
    }
    void release() {
      if (cap == ReadBuffers::kSize) read_buffers.give(std::move(p));
      p.reset();
      cap = 0;
    }
    ~Buffer() { release(); }
  } buf;
  size_t len = 0;        // bytes in buf not yet handled (a partial message at its front)
  size_t body_left = 0;  // of a forwarded message whose header went out already
  std::string out;
  const size_t max_message = 1u << 30;
  for (;;) {
    if (relay_done_) co_return;
    if (!server_) {
      if (len == 0) buf.release();
      co_await attach_signal_->async_receive(asio::as_tuple(use_awaitable));
      // Just attached: relay_client() is about to send (or has sent) the client's messages, and
      // the answer takes the server tens of µs. Reading now would find nothing (a recv that
      // returns EAGAIN, then a wait); after the handlers already queued have run, the answer
      // is often there and the first read gets it.
      co_await asio::post(socket_.get_executor(), use_awaitable);
      continue;
    }
    if (drop_stale_ && len == 0 && body_left == 0) {
      // relay_drop_stale(): checked here, before each read, as well as when the read is
      // cancelled (the cancel may come while this coroutine is writing to the client).
      drop_stale_ = false;
      out.clear();
      spdlog::info("session {}: server connection (pid {}) was made to a host that is no longer the cluster's "
                   "primary: closed", pid_, server_->link.pid);
      bool keep = relay_server_lost(PgError::make(sqlstate::kConnectionFailure,
                                                  "the PostgreSQL cluster's primary changed"), out);
      co_await relay_write_client(out);
      if (!keep) co_return;
      continue;
    }
    if (buf.size() == 0) buf.resize(ReadBuffers::kSize, 0);
    else if (len == buf.size()) buf.resize(buf.size() * 2, len);
    boost::system::error_code ec;
    size_t n = 0;
    if (!server_->link.leftover.empty()) {
      n = std::min(server_->link.leftover.size(), buf.size() - len);
      std::memcpy(buf.data() + len, server_->link.leftover.data(), n);
      server_->link.leftover.erase(0, n);
    } else {
      std::tie(ec, n) =
          co_await server_->link.stream.async_read_some(asio::buffer(buf.data() + len, buf.size() - len), asio::as_tuple(use_awaitable));
    }
    if (relay_done_) co_return;
    if (ec == asio::error::operation_aborted && drop_stale_) continue;
    if (ec == asio::error::operation_aborted) {
      // Woken by relay_client(): owed answers metagate gives itself, or a check-in.
      out.clear();
      tracker_.take_leading(out);
      if (!out.empty()) round_answered_ = true;
      co_await relay_write_client(out);
      relay_checkin_if_done();
      continue;
    }
    if (ec || n == 0) {
      out.clear();
      bool keep = relay_server_lost(server_fatal_, out);
      len = body_left = 0;
      server_buffered_ = false;
      co_await relay_write_client(out);
      if (!keep) co_return;
      set_state(tx_ == Tx::kIdle ? ClientState::kIdle : ClientState::kIdleInTransaction);
      continue;
    }
    len += n;
    out.clear();
    size_t pos = 0, emit_from = 0;
    bool malformed = false;
    bool retry_step = false;  // the retry moves on: metagate writes to the server below
    std::string before;
    while (pos < len) {
      if (body_left > 0) {
        size_t take = std::min(body_left, len - pos);
        pos += take;
        body_left -= take;
        continue;
      }
      if (len - pos < 5) break;
      const char type = buf.data()[pos];
      const size_t mlen = get32(buf.data() + pos + 1);
      if (mlen < 4 || mlen > max_message) {
        malformed = true;
        break;
      }
      const size_t whole = mlen + 1;
      // Rows and copy data stream through; every other message is read whole first (small).
      const bool streamed = (type == 'D' && !tracker_.probe_next()) || type == 'd';
      if (!streamed && len - pos < whole) {
        if (whole > buf.size()) buf.resize(whole, len);
        break;
      }
      std::string_view body(buf.data() + pos + 5, streamed ? 0 : mlen - 4);
      bool drop = false;
      if (type == 'E') {
        PgError e = wire::parse_error_fields(body);
        if (e.severity == "FATAL" || e.severity == "PANIC") {
          server_fatal_ = e;
          drop = transaction_pooling_;  // held back: the client's connection may live on
        } else if (e.sqlstate == sqlstate::kFeatureNotSupported && transaction_pooling_ && retry_ != Retry::kPreparing &&
                   cached_plan_changed(body)) {
          // This server's copy is stale (and so may others be): it is prepared anew before its
          // next use here. A round that failed on it before anything reached the client is
          // run again (see relay_retry_safe); otherwise the client gets the error.
          if (uint64_t id = tracker_.statement_next()) {
            server_->stale.insert(id);
            const bool bind_first = tracker_.kind_next() == Expect::kBind && !round_answered_;
            const bool prepare = tracker_.kind_next() == Expect::kDescribeStatement && relay_round_is_prepare(id);
            if (retry_ == Retry::kNone && round_replayable_ && tx_ == Tx::kIdle && tracker_.pending_rounds() == 1 &&
                (bind_first || prepare)) {
              retry_ = Retry::kFailed;
              retry_redescribe_ = prepare;
              retry_statement_ = id;
              retry_round_ = round_seq_;
              retry_error_.assign(buf.data() + pos, whole);
              drop = true;
            } else {
              relay_retire(id);
            }
          }
        }
      }
      if ((type == 't' || type == 'T' || type == 'n') && transaction_pooling_ &&
          tracker_.kind_next() == Expect::kDescribeStatement) {
        // What a Describe of a named statement says, on this server and to this client.
        if (type == 't') describing_.clear();
        describing_ += type;
        describing_ += body;
        if (uint64_t id = tracker_.statement_next(); id && type != 't') {
          pool::StatementShape shape{std::hash<std::string>{}(describing_) | 1, steady_now_us()};
          server_->shapes[id] = shape;
          if (retry_ == Retry::kPreparing && !retry_redescribe_) {
            retry_shape_ = shape.hash;
          } else {
            if (described_.size() > 4096) described_.clear();  // bounded: forgetting only prevents retries
            described_[id] = shape;
          }
          describing_.clear();
        }
      }
      before.clear();
      auto o = tracker_.on_server_message(type, before, server_->statements);
      if (o.verdict == pool::ResponseTracker::Verdict::kDrop) drop = true;
      if (retry_ == Retry::kPreparing && type == 'E' && !retry_redescribe_) {
        drop = true;  // the statement could not be prepared again: no retry
        retry_shape_ = 0;
      }
      if (type == 'Z' && retry_ != Retry::kNone && !o.probe_done) {
        switch (retry_) {
          case Retry::kFailed:
            // The failed round is over on the server: prepare the statement again first (its
            // answers dropped), unless the client sent more meanwhile.
            if (tracker_.empty() && round_seq_ == retry_round_ && body == "I") {
              retry_ = Retry::kPreparing;
              retry_step = true;
              drop = true;
            } else {
              relay_retry_give_up(before);
            }
            break;
          case Retry::kPreparing:
            if (retry_redescribe_) {
              // The client got the new Describe (or the re-Parse's error) and this ReadyForQuery.
              retry_ = Retry::kNone;
              retry_redescribe_ = false;
            } else if (relay_retry_safe() && tracker_.empty() && round_seq_ == retry_round_) {
              retry_ = Retry::kReplaying;
              retry_step = true;
              drop = true;
            } else {
              // Not safe to run again: the client gets the error PostgreSQL gave, and this
              // ReadyForQuery (of metagate's own Sync, outside a transaction) in place of the round's.
              relay_retry_give_up(before);
              drop = false;
            }
            break;
          default:
            retry_ = Retry::kNone;
            break;
        }
      }
      if (o.probe_row) relay_probe_row(body);
      if (o.probe_error) probe_pins_ = -1;
      if (o.own_error) {
        PgError e = wire::parse_error_fields(body);
        spdlog::warn("session {}: metagate's own statement failed on server connection (pid {}): {} {}; the "
                     "connection will be closed", pid_, server_->link.pid, e.sqlstate, e.message);
        server_->state_unknown = true;
      }
      if (o.probe_done) relay_probe_done(probe_pins_ < 0, body.empty() ? 'I' : body[0]);
      if (type == 'Z' && tracker_.empty()) relay_since_us_ = 0;
      if (type == 'Z' && !body.empty() && !o.probe_done) {
        char st = body[0];
        if (tx_ == Tx::kIdle && st != 'I') tx_settings_snapshot_ = wanted_params_;
        tx_ = st == 'T' ? Tx::kBlock : st == 'E' ? Tx::kFailed : Tx::kIdle;
        set_state(tx_ == Tx::kIdle ? ClientState::kIdle
                  : tx_ == Tx::kFailed ? ClientState::kIdleInTransactionAborted
                                       : ClientState::kIdleInTransaction);
      } else if (type == 'C') {
        std::string_view tag = wire::command_tag(body);
        if (!drop && ctx_.metrics) {
          // Relayed statements count by their command tag, timed from when the client's
          // messages went out (or the previous statement of the same round completed).
          int64_t now = steady_now_us();
          ctx_.metrics->statement(metrics::Backend::kPostgres, metrics::kind_of_tag(tag, false),
                                  relay_since_us_ ? static_cast<double>(now - relay_since_us_) / 1e6 : 0.0);
          relay_since_us_ = now;
        }
        if (tag == "ROLLBACK" && tx_ != Tx::kIdle) {
          // SETs made inside the transaction are undone with it.
          wanted_params_ = tx_settings_snapshot_;
          server_->applied = tx_settings_snapshot_;
        }
        if (tag == "DISCARD ALL" || tag == "DEALLOCATE ALL") {
          server_->statements.clear();
          server_->stale.clear();
          server_->shapes.clear();
          if (tag == "DISCARD ALL") {
            server_->applied.clear();
            params_dirty_ = true;
          }
        }
      } else if (type == 'S' && !drop) {
        size_t z = body.find('\0');
        if (z != std::string_view::npos) {
          std::string name = lower(body.substr(0, z));
          std::string_view rest = body.substr(z + 1);
          std::string value(rest.substr(0, rest.find('\0')));
          if (tracked_report(name)) {
            wanted_params_[name] = value;
            server_->applied[name] = value;
          }
          auto told = reported_params_.find(name);
          if (told != reported_params_.end() && told->second == value) drop = true;  // nothing new for the client
          else reported_params_[name] = std::move(value);
        }
      }
      if (!before.empty() || drop) {
        out.append(buf.data() + emit_from, pos - emit_from);
        out += before;
        emit_from = pos;
      }
      if (drop) {
        pos += whole;  // whole: dropped messages are never streamed ones
        emit_from = pos;
        continue;
      }
      round_answered_ = type != 'Z';
      if (len - pos >= whole) {
        pos += whole;
      } else {
        body_left = whole - (len - pos);
        pos = len;
      }
    }
    if (malformed) {
      spdlog::warn("session {}: invalid message from the PostgreSQL server; closing that connection", pid_);
      out.clear();
      bool keep = relay_server_lost(PgError::make(sqlstate::kProtocolViolation, "invalid message from the PostgreSQL server"), out);
      len = body_left = 0;
      server_buffered_ = false;
      co_await relay_write_client(out);
      if (!keep) co_return;
      continue;
    }
    // Send what was handled; keep the partial message at the tail for the next read.
    if (out.empty()) {
      co_await relay_write_client(std::string_view(buf.data() + emit_from, pos - emit_from));
    } else {
      out.append(buf.data() + emit_from, pos - emit_from);
      co_await relay_write_client(out);
    }
    if (pos < len) std::memmove(buf.data(), buf.data() + pos, len - pos);
    len -= pos;
    server_buffered_ = len > 0 || body_left > 0;
    if (close_reason_ == CloseReason::kNetworkError) co_return;
    if (retry_step && server_) {
      std::string batch;
      if (retry_ == Retry::kPreparing) relay_retry_prepare(batch);
      else relay_retry_replay(batch);
      while (writing_server_) co_await asio::post(socket_.get_executor(), use_awaitable);
      writing_server_ = true;
      co_await server_->link.stream.async_write(asio::buffer(batch), asio::as_tuple(use_awaitable));
      writing_server_ = false;  // a failed write shows as a lost server on the next read
    }
    relay_checkin_if_done();
    if (ctx_.draining && relay_idle() && waiting_input_) {
      // The transaction that kept this session through the drain has ended: end it now.
      end_reading(CloseReason::kShutdown);
    }
  }
}

bool Session::relay_server_lost(std::optional<PgError> fatal, std::string& out) {
  retry_ = Retry::kNone;
  // A pinned client's session state (its locks, LISTENs, temp tables) is gone with the server:
  // like a transaction, that ends the client's session.
  const bool in_tx = tx_ != Tx::kIdle || pinned();
  const size_t rounds = tracker_.abandon();
  const bool owed = rounds > 0 || open_round_;
  const bool fatal_forwarded = fatal && !transaction_pooling_;
  spdlog::info("session {}: server connection (pid {}) lost{}", pid_, server_->link.pid,
               fatal ? ": " + fatal->sqlstate + " " + fatal->message : std::string());
  server_pool().attached(false);
  server_pool().discard(server_, pool::CloseCause::kBroken);
  server_ = nullptr;
  server_pool_.reset();
  if (round_may_write_) {  // it may have written before it went
    last_write_us_ = steady_now_us();
    ryw_lsn_ = 0;
  }
  round_may_write_ = false;
  server_fatal_.reset();
  wire::Writer w(out);
  if (transaction_pooling_ && tx_ != Tx::kIdle && !pinned()) {
    // A transaction block: it is gone with the server's session (never run again: it may not
    // be idempotent), the client's connection stays. A COMMIT in flight may or may not have
    // committed (08007); otherwise the transaction did not commit (40001, run it again), and
    // the client is answered as in an aborted transaction until it ends the block.
    const bool commit = owed && sql::may_commit(last_tx_query_);
    std::string why = fatal ? " (" + fatal->sqlstate + " " + fatal->message + ")" : std::string();
    PgError e = commit ? PgError::make(sqlstate::kTransactionResolutionUnknown,
                                       "the connection to the PostgreSQL server was lost during COMMIT: whether the "
                                       "transaction committed is unknown")
                       : PgError::make(sqlstate::kSerializationFailure,
                                       "the transaction was rolled back: the connection to the PostgreSQL server was "
                                       "lost (a failover or a server restart)");
    e.detail = "The server connection ended during the transaction" + why + "; this client connection stays usable.";
    if (!commit) e.hint = "Run the transaction again.";
    spdlog::warn("session {}: a transaction lost its server connection{}: {} {}", pid_, why, e.sqlstate,
                 commit ? "COMMIT outcome unknown" : "rolled back");
    if (pool_) pool_->count_lost_transaction();
    if (!commit) wanted_params_ = tx_settings_snapshot_;  // its SETs are undone with it
    probe_settings_.clear();
    pending_pins_ = 0;
    reprobe_ = false;
    tx_ = commit ? Tx::kIdle : Tx::kFailed;
    lost_tx_ = !commit;
    lost_statements_.clear();
    lost_portals_.clear();
    last_tx_query_.clear();
    if (owed) {
      w.error_response(e);
      if (ctx_.metrics) ctx_.metrics->error(e.sqlstate);
      for (size_t i = 0; i < rounds; ++i) w.ready_for_query(tx_status());
      if (open_round_) {
        answer_sync_locally_ = true;
        open_round_ = false;
      }
    } else {
      lost_tx_error_ = std::move(e);
    }
    return true;
  }
  if (!transaction_pooling_ || in_tx) {
    // The client's session (or transaction) is gone with the server's: end it as PostgreSQL
    // would, with the server's FATAL when it sent one.
    if (!fatal_forwarded) {
      PgError e = fatal ? *fatal : PgError::fatal(sqlstate::kConnectionFailure, "server closed the connection unexpectedly");
      e.severity = "FATAL";
      w.error_response(e);
      if (ctx_.metrics) ctx_.metrics->error(e.sqlstate);
    }
    close_reason_ = CloseReason::kServerError;
    relay_done_ = true;
    return false;
  }
  if (owed) {
    // A statement outside a transaction block: as libpq says when the server goes away (the
    // server's own FATAL, if it sent one, in DETAIL); it may or may not have taken effect.
    PgError e = PgError::make(sqlstate::kConnectionFailure, "server closed the connection unexpectedly");
    e.detail = (fatal ? "The server said: " + fatal->sqlstate + " " + fatal->message + ". " : std::string()) +
               "The statement may or may not have taken effect; this client connection stays usable.";
    w.error_response(e);
    if (ctx_.metrics) ctx_.metrics->error(e.sqlstate);
    for (size_t i = 0; i < rounds; ++i) w.ready_for_query(wire::TxStatus::kIdle);
    if (open_round_) {
      answer_sync_locally_ = true;
      open_round_ = false;
    }
  }
  return true;
}

}  // namespace metagate::server
