// Session: one client connection, as one coroutine — startup (TLS, authentication), then
// the simple and extended query protocols over the database the client asked for.
#pragma once

#include <boost/asio.hpp>
#include <boost/asio/experimental/channel.hpp>
#include <boost/asio/ssl.hpp>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "database.hpp"
#include "metagate/config/config.hpp"
#include "metagate/metrics/metrics.hpp"
#include "metagate/pool/pool.hpp"
#include "metagate/pool/tracker.hpp"
#include "metagate/sql/parser.hpp"
#include "metagate/sql/plan.hpp"
#include "metagate/sql/session_effects.hpp"
#include "metagate/sql/shape.hpp"
#include "metagate/store/executor.hpp"
#include "metagate/store/functions.hpp"
#include "metagate/util/pg_error.hpp"
#include "metagate/wire/backend.hpp"
#include "metagate/wire/frontend.hpp"

namespace metagate::admin {
class AdminControl;
}

namespace metagate::server {

class Session;

// Failed authentications per client address: each further failure is answered later
// (limits.auth_failure_delay_ms, doubling up to limits.auth_failure_delay_max_ms). An address
// is forgotten after a success or once it has been quiet for twice the maximum delay.
class AuthThrottle {
 public:
  // Records a failure; returns how long to wait before answering it (ms).
  int64_t failure(const std::string& address, int64_t base_ms, int64_t max_ms, int64_t now_us);
  void success(const std::string& address);
  size_t size() const;

 private:
  struct Entry {
    int failures = 0;
    int64_t last_us = 0;
  };
  static constexpr size_t kMaxEntries = 10000;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
};

// What sessions share: configuration, databases, the cancel registry, metrics, lifecycle.
struct ServerContext {
  // The configuration in force; replaced by a reload. Sessions keep a snapshot and refresh it
  // when `config_generation` moves (one relaxed load per message).
  std::shared_ptr<const config::Config> config;
  std::atomic<uint64_t> config_generation{0};
  std::mutex config_mu;
  std::shared_ptr<const config::Config> current_config() {
    std::lock_guard lk(config_mu);
    return config;
  }
  void install_config(std::shared_ptr<const config::Config> c) {
    {
      std::lock_guard lk(config_mu);
      config = std::move(c);
    }
    config_generation.fetch_add(1, std::memory_order_release);
  }
  metrics::Metrics* metrics = nullptr;
  // Shutdown has begun: sessions end (57P01) as soon as they are outside a transaction.
  std::atomic<bool> draining{false};
  // PAUSE: sessions wait before starting a new transaction until RESUME.
  std::atomic<bool> paused{false};
  // Admin console commands that act on the server (RELOAD, KILL, PAUSE, SHUTDOWN, SHOW ...).
  admin::AdminControl* admin_control = nullptr;
  boost::asio::ssl::context* tls = nullptr;  // null when TLS is disabled
  std::function<PgResult<std::shared_ptr<Database>>(std::string_view dbname)> open_database;
  pool::PoolSet* pools = nullptr;  // PostgreSQL server connection pools
  std::array<uint8_t, 32> mock_secret{};
  uint16_t port = 0;

  std::mutex mu;
  std::unordered_map<int32_t, std::weak_ptr<Session>> sessions;  // by pid
  // Backend pids clients see: above Linux's largest pid_max (2^22), so that a relayed client
  // passing its own pid to pg_terminate_backend() can never name a real server process.
  std::atomic<int32_t> next_pid{(1 << 22) + 1000};
  std::atomic<uint64_t> next_session_id{1};
  std::atomic<int64_t> connections{0};
  AuthThrottle auth_throttle;
  // Established sessions per user (for limits.max_connections_per_user).
  std::map<std::string, int64_t, std::less<>> user_sessions;  // guarded by mu

  // `done` runs (on any thread) once the cancel has been delivered, or at once if there is
  // nothing to cancel.
  void cancel(int32_t pid, int32_t secret, std::function<void()> done = {});
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  // `busy`: the worker thread's "running SQLite since" clock (microseconds, 0 = idle), set
  // while a statement executes inline so the acceptor can steer new connections elsewhere.
  Session(ServerContext& ctx, boost::asio::ip::tcp::socket socket, std::atomic<int64_t>* busy = nullptr);
  ~Session();
  boost::asio::awaitable<void> run();
  // CancelRequest: interrupts the running statement, if any; `done` as for ServerContext::cancel.
  void cancel(int32_t secret, std::function<void()> done = {});
  void close();

  // Ends the session from any thread: FATAL with the reason's SQLSTATE and message; a running
  // statement is interrupted (its transaction rolls back).
  void terminate(metrics::CloseReason reason);
  // Ends the session only if it is waiting for a query outside a transaction (shutdown drain).
  void terminate_if_idle(metrics::CloseReason reason);
  // The janitor's check (control thread): idle, idle-in-transaction and statement timeouts.
  void check_timeouts(int64_t now_us, int64_t startup_timeout_ms);

  // For SHOW CLIENTS and metrics (any thread).
  struct Info {
    int32_t id = 0;
    std::string user, database, application_name, address;
    uint16_t port = 0;
    bool tls = false;
    bool admin_console = false;
    metrics::ClientState state = metrics::ClientState::kStartup;
    int64_t connect_time_us = 0;  // system clock, Unix epoch
    int64_t state_change_us = 0;  // steady clock
  };
  Info info() const;
  metrics::ClientState state() const { return static_cast<metrics::ClientState>(state_.load(std::memory_order_relaxed)); }

 private:
  struct PreparedStatement {
    std::string sql;
    std::vector<uint32_t> declared_types;
    sql::PlanPtr plan;           // null for an empty query
    uint64_t catalog_version = 0;
  };
  struct Portal {
    std::shared_ptr<PreparedStatement> stmt;
    sql::PlanPtr plan;
    std::vector<types::Value> params;
    std::vector<int16_t> result_formats;
    std::optional<store::Cursor> cursor;
    std::optional<store::ReaderHandle> reader;
    bool described = false;
  };
  enum class Tx { kIdle, kBlock, kFailed };

  // I/O.
  boost::asio::awaitable<bool> read_more();
  boost::asio::awaitable<void> flush();
  // Group commit: remember that a commit must be durable before the next output is sent.
  void note_commit();
  boost::asio::awaitable<PgStatus> wait_durable(uint64_t ticket);
  boost::asio::awaitable<void> send_fatal(const PgError& e);

  // Startup.
  boost::asio::awaitable<bool> startup();
  boost::asio::awaitable<bool> authenticate(const std::string& user, const std::string& database);
  boost::asio::awaitable<std::optional<std::string>> read_password_message();

  // The next frontend message (flushing output before waiting); nullopt when the client is gone
  // or sent something malformed (a FATAL error has then been sent).
  boost::asio::awaitable<std::optional<wire::FrontendMessage>> next_message();
  boost::asio::awaitable<PgStatus> copy_in(const sql::Plan& plan, bool in_block);
  boost::asio::awaitable<PgStatus> copy_out(const sql::Plan& plan, sql::PlanPtr plan_ptr);

  // Query cycle.
  boost::asio::awaitable<bool> handle(wire::FrontendMessage& msg);
  // run_statement, timed and counted (metrics, slow-statement log, statement timeout).
  boost::asio::awaitable<PgStatus> execute(const sql::Plan& plan_ref, sql::PlanPtr plan, Portal* portal, int32_t max_rows,
                                           bool describe_rows, bool& suspended,
                                           const std::vector<types::Value>* literals = nullptr);
  // The admin console (database "metagate"): one simple-protocol Query.
  boost::asio::awaitable<void> admin_query(const std::string& sql);
  void set_state(metrics::ClientState s);
  void refresh_config();
  // Timeouts from the session settings (statement_timeout, idle_*_timeout), in ms.
  void refresh_timeouts();
  PgError termination_error(metrics::CloseReason r) const;
  // Records why the session must end (the first reason wins); the FATAL is sent by the
  // session loop. end_reading() also shuts the client socket's receive side, so a pending
  // read ends (writes still work). Session thread only, except set_termination.
  void set_termination(metrics::CloseReason r);
  void end_reading(metrics::CloseReason r);
  boost::asio::awaitable<void> pause_gate();
  // PostgreSQL backends (relay.cpp): the session relays protocol messages between its client
  // and a server connection from its pool — for the whole session, or per transaction.
  // Startup: the pool, a first server connection if needed; the parameters to report.
  boost::asio::awaitable<PgResult<std::vector<std::pair<std::string, std::string>>>> relay_startup(
      const config::DatabaseConfig& entry);
  std::string relay_param_sql() const;
  boost::asio::awaitable<void> relay();
  boost::asio::awaitable<void> relay_client();
  boost::asio::awaitable<void> relay_server();
  // Checks a server connection out for the client's next messages; false (error sent) if
  // none came. The SETs that bring it to the client's session state go first.
  boost::asio::awaitable<bool> relay_attach(std::string& batch);
  void relay_checkin_if_done();
  void relay_detach(bool reusable);
  // Rewrites one client message for the server in use (statement names, re-Parse) into batch.
  void relay_translate(char type, std::string_view body, std::string_view whole, std::string& batch);
  // Forwards a message unchanged and notes what the server owes for it.
  void relay_forward(char type, std::string_view body, std::string_view whole, std::string& batch);
  void relay_ensure_statement(const pool::StatementDef& def, bool for_client, std::string& batch);
  void relay_ensure_unnamed(std::string& batch);
  void relay_param_sync(std::string& batch);
  // A simple Query in transaction pooling: SQL-level prepared statements made present (or
  // absent) on the server in use first, and a probe of the session's state after it when it
  // may have changed settings or pinning state.
  void relay_query(std::string_view sql, std::string_view whole, std::string& batch);
  void relay_probe_row(std::string_view body);
  void relay_append_probe(std::string& batch);
  void relay_probe_done(bool failed, char tx_status);
  // The server connection was lost: the client gets an error for what it was owed, and keeps
  // its connection unless it was inside a transaction. False: the session ends.
  bool relay_server_lost(std::optional<PgError> fatal, std::string& out);
  void relay_cancel(std::function<void()> done);
  boost::asio::awaitable<void> relay_write_client(std::string_view data);
  boost::asio::awaitable<void> simple_query(const std::string& sql);
  boost::asio::awaitable<PgStatus> run_statement(const sql::Plan& plan_ref, sql::PlanPtr plan, Portal* portal,
                                                 int32_t max_rows, bool describe_rows, bool& suspended,
                                                 const std::vector<types::Value>* literals = nullptr);
  // Simple Query of one statement whose shape (text up to integer literals) was translated
  // before: runs the cached template. False when the cache cannot answer.
  // `shape` receives the text's shape when the cache has no entry for it yet.
  boost::asio::awaitable<bool> simple_query_by_shape(const std::string& sql, std::optional<sql::StatementShape>& shape);
  std::string shape_key(const std::string& shape_text) const;
  void remember_shape(const std::string& sql, const sql::StatementShape& shape, const sql::RawStatement& st,
                      const sql::PlanPtr& plan);
  boost::asio::awaitable<PgStatus> ensure_writer(bool for_block);
  void release_writer_if_autocommit();
  PgResult<sql::PlanPtr> plan_for(const sql::RawStatement& st, const std::vector<uint32_t>& declared, std::string_view full_text);
  sql::CatalogPtr current_catalog() const;
  PgStatus apply_set(const sql::Plan& plan);
  void send_error(const PgError& e);
  void send_notice(const std::string& message, std::string_view code = "00000", std::string severity = "NOTICE");
  void fail_transaction();
  boost::asio::awaitable<void> finish_block(bool commit);
  std::string tag_for(const sql::Plan& plan) const;
  wire::TxStatus tx_status() const;
  void set_function_context(bool statement_start);
  types::SessionContext session_types() const;
  void refresh_statement(PreparedStatement& ps);
  // The plan whose rows a statement returns: for EXECUTE name, the named statement's.
  sql::PlanPtr executed_plan(const sql::PlanPtr& plan);

  ServerContext& ctx_;
  std::shared_ptr<const config::Config> cfg_;
  uint64_t cfg_generation_ = 0;
  boost::asio::ip::tcp::socket socket_;
  std::unique_ptr<boost::asio::ssl::stream<boost::asio::ip::tcp::socket&>> tls_;
  // Input bytes; grown without zero-filling (each read appends up to 64 KiB).
  template <class T>
  struct NoInitAllocator : std::allocator<T> {
    template <class U>
    struct rebind {
      using other = NoInitAllocator<U>;
    };
    NoInitAllocator() = default;
    template <class U>
    NoInitAllocator(const NoInitAllocator<U>&) noexcept {}
    template <class U>
    void construct(U* p) noexcept {
      ::new (static_cast<void*>(p)) U;
    }
    template <class U, class... A>
    void construct(U* p, A&&... a) {
      ::new (static_cast<void*>(p)) U(std::forward<A>(a)...);
    }
  };
  std::vector<uint8_t, NoInitAllocator<uint8_t>> in_;
  size_t in_start_ = 0;
  bool last_read_full_ = false;  // the last read filled its buffer: read in large chunks
  std::string out_;
  wire::Limits limits_;

  int32_t pid_ = 0;
  int32_t secret_ = 0;
  uint64_t session_id_ = 0;
  std::string user_;
  std::string database_;
  std::shared_ptr<Database> db_;
  std::map<std::string, std::string> settings_;
  std::map<std::string, std::string> tx_settings_backup_;

  Tx tx_ = Tx::kIdle;
  bool implicit_block_ = false;
  bool writer_held_ = false;
  uint64_t durable_ticket_ = 0;
  std::string prepare_text_;  // the text of the statement being run (kept by SQL PREPARE)  // a commit not yet acknowledged: flush() waits for its fsync
  std::shared_ptr<sql::Catalog> pending_catalog_;  // DDL inside the current transaction
  std::unordered_map<std::string, std::shared_ptr<PreparedStatement>> statements_;
  std::unordered_map<std::string, Portal> portals_;
  bool skip_until_sync_ = false;
  int64_t txn_start_us_ = 0;

  std::mutex exec_mu_;
  sqlite3* active_db_ = nullptr;
  std::atomic<int64_t>* busy_ = nullptr;
  std::atomic<bool> cancelled_{false};
  store::FunctionContext fctx_;
  bool closed_ = false;

  // Lifecycle and observation.
  static constexpr uint8_t kNoTermination = 0xff;
  std::atomic<uint8_t> terminate_reason_{kNoTermination};
  metrics::CloseReason close_reason_ = metrics::CloseReason::kStartupClientGone;
  bool ready_ = false;           // startup finished (counted as established)
  bool waiting_input_ = false;   // blocked reading the next query (session thread only)
  bool admin_console_ = false;   // connected to the database "metagate"
  std::atomic<uint8_t> state_{0};
  std::atomic<int64_t> state_since_us_{0};
  std::atomic<int64_t> statement_started_us_{0};  // 0 when no statement runs
  std::atomic<int64_t> statement_timeout_ms_{0};
  std::atomic<int64_t> idle_timeout_ms_{0};
  std::atomic<int64_t> idle_in_tx_timeout_ms_{0};
  std::atomic<bool> timed_out_{false};
  // Relay state (relay.cpp).
  bool relayed_ = false;
  bool transaction_pooling_ = false;
  // Session pooling on a cluster: transaction pooling's bookkeeping (statements, settings,
  // pins, lost transactions) but the server connection stays with the client between
  // transactions — so that when it dies with a failed primary, an idle client gets a new one
  // on the new primary with its state carried over instead of losing its connection.
  bool sticky_ = false;
  // The server connection was made under an older cluster view (the primary changed since):
  // relay_client() asks relay_server() to let it go before the client's next round.
  bool relay_server_stale() const {
    const auto& c = pool_->settings().cluster;
    return c && server_ && server_->cluster_generation != c->generation();
  }
  bool drop_stale_ = false;
  boost::asio::awaitable<void> relay_drop_stale();
  std::shared_ptr<pool::Pool> pool_;
  prometheus::Histogram* pool_wait_ = nullptr;
  prometheus::Histogram* failover_hold_ = nullptr;  // waits while the cluster had no primary
  pool::ServerConnection* server_ = nullptr;  // checked out
  // The pool server_ came from: pool_, or one of its replicas' (read/write split).
  std::shared_ptr<pool::Pool> server_pool_;
  pool::Pool& server_pool() { return server_pool_ ? *server_pool_ : *pool_; }
  bool round_may_write_ = false;  // server_ is the primary's, for a round not provably read-only
  int64_t last_write_us_ = 0;     // when such a round last ended (read-your-writes; 0 = never)
  uint64_t ryw_lsn_ = 0;          // the primary's WAL position seen first after it (0 = not yet)
  std::unordered_map<uint64_t, bool> read_only_statements_;  // by StatementDef id
  std::shared_ptr<pool::Pool> relay_read_target();
  bool relay_buffered_round_read_only();
  pool::ResponseTracker tracker_;
  // Wakes relay_server() when a server connection is attached (a channel, not a timer: no
  // timerfd reprogramming per transaction).
  using Signal = boost::asio::experimental::channel<void(boost::system::error_code)>;
  std::unique_ptr<Signal> attach_signal_;
  std::vector<std::pair<std::string, std::string>> startup_params_;  // as the client sent them
  std::string passthrough_password_;  // authentication pass-through: the client's password
  std::optional<auth::ScramKeys> passthrough_scram_;  // ... or its SCRAM keys (auth.users verifier)
  // ParameterStatus values this client was told (lower-case name): a server's report of the
  // same value again (after metagate's own set_config, or on another server) is not repeated.
  std::map<std::string, std::string> reported_params_;
  std::map<std::string, std::string> wanted_params_;  // session parameters the client set (lower-case)
  bool params_dirty_ = true;        // the server's SETs may differ from wanted_params_
  bool open_round_ = false;         // extended-protocol messages sent since the last Sync
  bool writing_server_ = false;     // relay_client() is writing to the server
  bool answer_sync_locally_ = false;  // skipping up to Sync after a local error
  bool relay_done_ = false;
  bool server_buffered_ = false;    // relay_server() holds part of a server message
  int64_t relay_since_us_ = 0;      // statements counted in metrics: timed from here (0 = idle)
  bool flushed_ = false;            // the last message sent was a Flush
  bool relay_protocol_error_ = false;
  std::optional<PgError> server_fatal_;  // a FATAL from the server, held back (transaction pooling)
  std::unordered_map<std::string, pool::StatementPtr> client_statements_;
  std::map<std::string, std::string> sql_prepared_;  // the client's SQL-level PREPAREs: name -> statement
  // Extended protocol: session effects (sql::SessionEffects, condensed) of the client's
  // statements that have any, by statement name ("" = unnamed), and of its portals; an
  // Execute of such a portal makes the relay probe the session after the next Sync.
  struct StatementEffects {
    uint8_t pins = 0;
    bool probe = false;
  };
  std::unordered_map<std::string, StatementEffects> statement_effects_;
  std::unordered_map<std::string, StatementEffects> portal_effects_;
  bool probe_after_sync_ = false;
  bool reprobe_ = false;  // the last state probe failed outside a transaction: probe again
  // A transaction block whose server connection was lost (transaction pooling, not pinned):
  // the client keeps its connection; metagate answers as PostgreSQL answers in an aborted
  // transaction until the client ends the block (relay_answer_lost_tx).
  bool lost_tx_ = false;
  std::optional<PgError> lost_tx_error_;  // not told yet: the client was idle in the transaction
  std::unordered_map<std::string, sql::TransactionEnd> lost_statements_, lost_portals_;
  std::string last_tx_query_;  // the last statement sent inside a transaction block
  void relay_note_tx_statement(std::string_view sql);
  boost::asio::awaitable<void> relay_answer_lost_tx(char type, std::string_view body);
  void relay_note_parse(std::string_view name, std::string_view query);
  uint8_t pins_ = 0;          // sql::PinCause bits: state that keeps the server connection
  uint8_t pending_pins_ = 0;  // causes of statements whose probe has not answered yet
  std::map<std::string, std::string> probe_settings_;
  int64_t probe_pins_ = -1;
  std::map<std::string, std::string> tx_settings_snapshot_;  // wanted_params_ when the transaction began
  // Re-prepare and retry (transaction pooling): a round whose first answer is "cached plan
  // must not change result type" (0A000) for one of the client's named statements, outside a
  // transaction block and with nothing of it sent to the client yet, is run again after the
  // statement is prepared anew on that server — when the new description is the one the client
  // was given (or the client never asked for one). Otherwise the client gets the error.
  enum class Retry : uint8_t { kNone, kFailed, kPreparing, kReplaying };
  Retry retry_ = Retry::kNone;
  uint64_t retry_statement_ = 0;
  // The failed round was a prepare (Parse, Describe of the statement, Sync) whose Describe met
  // the stale copy: the new Describe's answers go to the client, nothing runs again.
  bool retry_redescribe_ = false;
  bool relay_round_is_prepare(uint64_t id) const;
  uint64_t retry_round_ = 0;
  std::string retry_error_;       // the server's ErrorResponse frame, for the client if no retry
  uint64_t retry_shape_ = 0;      // the statement's description after the re-Parse (hash; 0 = failed)
  std::string describing_;        // a Describe's answers so far ('t', then 'T' or 'n')
  std::string round_bytes_;       // the client's messages of the current extended-protocol round
  uint64_t round_seq_ = 0;        // counts those rounds
  bool round_replayable_ = true;  // the round holds only extended-protocol messages
  bool round_answered_ = false;   // something of the current round went to the client
  // What the client was told of its named statements by Describe (hash of 't' and 'T'/'n').
  std::unordered_map<uint64_t, pool::StatementShape> described_;
  void relay_note_round(char type, std::string_view whole);
  void relay_retry_prepare(std::string& batch);
  void relay_retry_replay(std::string& batch);
  void relay_retry_give_up(std::string& out);
  void relay_retire(uint64_t id);
  bool relay_shape_changed(uint64_t id) const;
  bool relay_retry_safe() const;
  std::string unnamed_parse_;        // the client's last Parse of the unnamed statement
  uint64_t unnamed_seq_ = 0;
  uint64_t unnamed_tag() const { return (session_id_ << 24) + unnamed_seq_; }
  // Relayed and quiet: nothing in flight and the server said it is outside a transaction.
  bool relay_idle() const { return tracker_.empty() && !open_round_ && tx_ == Tx::kIdle; }
  bool pinned() const { return pins_ != 0; }
  mutable std::mutex info_mu_;
  Info info_;
};

}  // namespace metagate::server
