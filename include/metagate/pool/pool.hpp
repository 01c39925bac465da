// Server connection pools: one per (database, user), shared by every io thread. A session
// checks a server connection out (waiting in a FIFO queue while all are busy, up to the queue
// timeout), relays through it, and checks it back in clean; the pool opens connections up to
// its size (plus a reserve for clients that waited long), closes idle and old ones, keeps a
// minimum open, and checks idle ones before reuse.
#pragma once

#include <boost/asio.hpp>

#include <atomic>
#include <deque>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "metagate/config/config.hpp"
#include "metagate/ha/monitor.hpp"
#include "metagate/pool/connect.hpp"
#include "metagate/pool/tracker.hpp"
#include "metagate/util/pg_error.hpp"

namespace metagate::pool {

struct PoolSettings {
  config::PoolMode mode = config::PoolMode::kSession;
  config::PostgresTarget target;
  int size = 20;
  int min_size = 0;
  int reserve_size = 0;
  int64_t reserve_timeout_ms = 5000;
  int64_t queue_timeout_ms = 30000;
  int64_t lifetime_ms = 3600000;
  int64_t idle_timeout_ms = 600000;
  int64_t check_delay_ms = 30000;
  size_t statement_cache_size = 1000;
  bool reuse_session_servers = true;  // session pooling: back to the pool when the client leaves
  // A cluster (several hosts): connections go only to the primary its monitor elected; with
  // none elected (a failover), connecting fails with 08006 and acquire() looks again every
  // 0.1 s for up to hold_ms (or queue_timeout_ms if longer) — new work is held, never sent to
  // a replica or an old primary; at most hold_max_clients wait so (the others: 57P03).
  std::shared_ptr<ha::Monitor> cluster;
  int64_t hold_ms = 30000;
  int64_t hold_max_clients = 10000;
  // Read/write split: where provably read-only rounds may go, and the replicas' lag bounds.
  config::ReadsMode reads = config::ReadsMode::kPrimary;
  int64_t max_replica_lag_bytes = 16777216;
  int64_t max_replica_lag_ms = 10000;
  // Set for a replica's pool (Pool::replica_pool): the host index in the cluster; its server
  // connections go to that host only while the monitor sees it as a replica.
  std::optional<size_t> replica_host;
};
PoolSettings settings_for(const config::DatabaseConfig& db, config::PostgresTarget target);

enum class ServerState : uint8_t { kConnecting, kIdle, kActive, kCancelling };
std::string_view to_string(ServerState s);

// Why a server connection was closed (metrics, SHOW SERVERS, logs).
enum class CloseCause : uint8_t { kIdleTimeout, kLifetime, kBroken, kDirty, kCheckFailed, kShutdown, kClientLeft };
std::string_view to_string(CloseCause c);

// A statement's description as a Describe gave it: a hash of its ParameterDescription and
// RowDescription (or NoData), and when (steady clock).
struct StatementShape {
  uint64_t hash = 0;
  int64_t at_us = 0;
};

struct ServerConnection {
  explicit ServerConnection(BackendConnection c, size_t statement_cache)
      : link(std::move(c)), statements(statement_cache) {}
  BackendConnection link;
  uint64_t id = 0;
  ServerStatements statements;
  // Statements in `statements` whose server copy answered "cached plan must not change result
  // type": closed and parsed again before their next use.
  std::unordered_set<uint64_t> stale;
  // What a Describe of a statement's copy here last said, when one passed through: a client
  // told otherwise before that gets 0A000 instead of rows of another shape.
  std::unordered_map<uint64_t, StatementShape> shapes;
  // Session parameters metagate has SET on it beyond its startup values (lower-case name).
  std::map<std::string, std::string> applied;
  // SQL-level PREPAREs clients made on it: name -> the PREPARE statement.
  std::map<std::string, std::string> sql_prepared;
  int64_t created_us = 0;    // steady clock
  int64_t last_used_us = 0;  // steady clock, at check-in
  uint64_t checkouts = 0;
  std::atomic<int> cancels{0};  // CancelRequests in flight: not reused until they are done
  ServerState state = ServerState::kConnecting;  // guarded by the pool's mutex
  bool release_pending = false;                  // checked in while a cancel was in flight
  bool discard_pending = false;                  // discarded while a cancel was in flight
  bool state_unknown = false;  // metagate's own SET/PREPARE failed on it: closed at check-in
  uint64_t cluster_generation = 0;  // the cluster view it was connected under (a new primary: not reused)
};

// Server connections being closed, collected under a pool's lock and let go after it: each
// is sent Terminate on its own io thread (the server then ends the session cleanly, TLS or
// not, instead of logging a reset), then closed.
class Graveyard {
 public:
  Graveyard() = default;
  Graveyard(const Graveyard&) = delete;
  Graveyard& operator=(const Graveyard&) = delete;
  ~Graveyard();
  void add(std::unique_ptr<ServerConnection> s) { dead_.push_back(std::move(s)); }

 private:
  std::vector<std::unique_ptr<ServerConnection>> dead_;
};

// One row of SHOW SERVERS.
struct ServerInfo {
  uint64_t id = 0;
  std::string address;
  uint16_t port = 0;
  int32_t pid = 0;
  ServerState state = ServerState::kIdle;
  int64_t age_ms = 0;
  int64_t idle_ms = 0;
  uint64_t checkouts = 0;
  size_t prepared = 0;  // idle connections only (0 while a session holds it)
};

struct PoolStats {
  int clients = 0;       // client sessions using the pool
  int active_clients = 0;  // holding a server connection
  int waiting = 0;       // waiting for one
  int servers_active = 0;
  int servers_idle = 0;
  int servers_connecting = 0;
  int servers_cancelling = 0;
  int64_t max_wait_us = 0;  // of the clients waiting now
  uint64_t checkouts = 0;
  uint64_t waits = 0;
  uint64_t queue_timeouts = 0;
  uint64_t connects = 0;
  uint64_t connect_failures = 0;
  uint64_t reparses = 0;
  uint64_t lost_transactions = 0;  // transaction blocks whose server connection was lost (client kept)
  uint64_t replica_reads = 0;      // rounds sent to a replica (read/write split)
  size_t interned_statements = 0;
  uint64_t pins[5] = {};  // by sql::PinCause bit (advisory lock, listen, temp table, hold cursor, other)
  uint64_t closes[7] = {};  // server connections closed, by CloseCause
};
inline constexpr size_t kCloseCauses = 7;

class Pool : public std::enable_shared_from_this<Pool> {
 public:
  Pool(std::string database, std::string user, PoolSettings settings);
  ~Pool();

  // A server connection for this session's exclusive use, connected on `ex` if a new one is
  // needed. Errors: 53300 when the queue timeout passes with every connection busy; the
  // server's own error (28P01, 3D000, ...) or 08006 when it cannot be reached.
  // `held` (optional): set when the client waited while its cluster had no primary.
  boost::asio::awaitable<PgResult<ServerConnection*>> acquire(boost::asio::any_io_executor ex, bool* held = nullptr);
  // Back to the idle list (the caller leaves it outside a transaction with nothing owed).
  void release(ServerConnection* s);
  // Closed and forgotten (broken, dirty, or being replaced).
  void discard(ServerConnection* s, CloseCause why);
  // Every second from the control thread: idle and lifetime timeouts, the minimum size.
  void maintain(boost::asio::any_io_executor ex, int64_t now_us);
  // Shutdown: close idle connections (active ones close when their session ends).
  void close_idle();

  // Authentication pass-through (no password in the conninfo): `password` is the client's.
  // Accepted at once when it is the one the pool last connected with; else a new server
  // connection checks it (kept in the pool when there is room) and the pool connects with it
  // from then on. Errors: the server's (28P01), or 08006.
  boost::asio::awaitable<PgStatus> verify_password(boost::asio::any_io_executor ex, std::string password);
  // The same with a client's SCRAM keys (its SCRAM exchange with metagate against the role's
  // verifier in auth.users): the server must hold the same verifier.
  boost::asio::awaitable<PgStatus> verify_scram_keys(boost::asio::any_io_executor ex, auth::ScramKeys keys);

  // CancelRequest for the statement `s` runs, sent from `ex`: the connection is marked at once
  // (by the caller's thread, which holds it) and not reused until the request is delivered.
  // `done` runs once the server has closed the cancel connection (PostgreSQL's sign that the
  // signal was sent).
  void cancel(boost::asio::any_io_executor ex, ServerConnection* s, std::function<void()> done = {});

  // Startup settings (name -> value) a server has accepted before: a client asking only for
  // those needs no server connection at startup in transaction pooling.
  bool known_settings(const std::map<std::string, std::string>& s);
  void remember_settings(const std::map<std::string, std::string>& s);

  // The server's ParameterStatus values as of its newest connection (for clients' startup).
  std::optional<std::vector<std::pair<std::string, std::string>>> parameters();

  void client_joined() { clients_.fetch_add(1, std::memory_order_relaxed); }
  void client_left() { clients_.fetch_sub(1, std::memory_order_relaxed); }
  void attached(bool yes) { active_clients_.fetch_add(yes ? 1 : -1, std::memory_order_relaxed); }
  void count_reparse() { reparses_.fetch_add(1, std::memory_order_relaxed); }
  // A client's transaction block lost its server connection (a failover, a restart): the
  // transaction failed, the client's connection stayed.
  void count_lost_transaction() { lost_transactions_.fetch_add(1, std::memory_order_relaxed); }
  void count_replica_read() { replica_reads_.fetch_add(1, std::memory_order_relaxed); }

  // Read/write split. The replica a provably read-only round may run on now, or none: the
  // database's `reads` allows it, the cluster has an elected primary, and the replica is
  // within the lag bounds (`replicas`: else any replica that answers) and — read-your-writes —
  // when the client's last round on the primary ended at `last_write_us` (steady clock; 0 =
  // none), the replica has replayed up to `ryw_lsn`: the primary's WAL position in the first
  // monitor round that began after that write (set here when 0; the caller resets it to 0
  // with each new write). Replicas in turn.
  std::optional<size_t> pick_replica(int64_t last_write_us, uint64_t& ryw_lsn);
  // The pool of server connections to replica `host` (made on first use: same database, user
  // and limits; its own connections).
  std::shared_ptr<Pool> replica_pool(size_t host);
  std::vector<std::shared_ptr<Pool>> replica_pools();
  // A client became pinned to its server connection; `causes`: sql::PinCause bits.
  void count_pin(uint8_t causes) {
    for (int i = 0; i < kPinCauses; ++i)
      if (causes & (1u << i)) pins_by_cause_[i].fetch_add(1, std::memory_order_relaxed);
  }
  static constexpr int kPinCauses = 5;

  PoolStats stats();
  std::vector<ServerInfo> servers();
  const PoolSettings& settings() const { return settings_; }
  const std::string& database() const { return database_; }
  const std::string& user() const { return user_; }
  StatementRegistry& registry() { return registry_; }

 private:
  struct Waiter;
  boost::asio::awaitable<PgResult<ServerConnection*>> connect_new(boost::asio::any_io_executor ex);
  // Takes an idle connection (mutex held), preferring one on `ex`'s io_context.
  ServerConnection* take_idle(const boost::asio::any_io_executor& ex);
  void hand_over(ServerConnection* s);  // mutex held: to the first waiter, or idle
  void close_locked(ServerConnection* s, CloseCause why, Graveyard& graveyard);
  int total_locked() const;

  std::string database_, user_;
  PoolSettings settings_;
  StatementRegistry registry_;
  std::mutex mu_;
  std::list<std::unique_ptr<ServerConnection>> servers_;
  std::deque<ServerConnection*> idle_;  // back = most recently checked in
  std::deque<std::shared_ptr<Waiter>> waiters_;
  int connecting_ = 0;
  // After a failed connect, nobody tries again before next_connect_us_ (steady clock); waiting
  // clients that time out meanwhile get last_connect_error_ rather than "exhausted".
  static constexpr int64_t kConnectRetryUs = 500000;
  static constexpr int64_t kNoPrimaryRetryUs = 100000;  // a cluster without a primary: only the view is read
  bool no_primary() const;  // a cluster whose monitor elects nobody now
  int64_t next_connect_us_ = 0;
  std::optional<PgError> last_connect_error_;
  std::optional<auth::ScramKeys> scram_keys_;  // pass-through keys the server last accepted
  boost::asio::awaitable<PgStatus> verify_secret(boost::asio::any_io_executor ex, std::string password,
                                                 std::optional<auth::ScramKeys> keys);
  uint64_t next_id_ = 1;
  std::optional<std::vector<std::pair<std::string, std::string>>> parameters_;
  std::set<std::pair<std::string, std::string>> known_settings_;  // bounded (kMaxKnownSettings)
  static constexpr size_t kMaxKnownSettings = 4096;
  std::atomic<int> clients_{0}, active_clients_{0};
  std::atomic<uint64_t> pins_by_cause_[kPinCauses] = {};
  std::atomic<uint64_t> closes_[7] = {};
  std::atomic<uint64_t> checkouts_{0}, waits_{0}, queue_timeouts_{0}, connects_{0}, connect_failures_{0}, reparses_{0},
      lost_transactions_{0}, replica_reads_{0};
  std::map<size_t, std::shared_ptr<Pool>> replicas_;  // by host index (mu_)
  std::atomic<uint64_t> next_replica_{0};
  std::atomic<int64_t> held_now_{0};  // acquires waiting while the cluster has no primary
};

// The pools of a server, by (database, user) as sent to PostgreSQL.
class PoolSet {
 public:
  std::shared_ptr<Pool> get(const std::string& database, const std::string& user, const PoolSettings& settings);
  // The monitor of `target`'s cluster (started on first use, shared by every pool of it), or
  // null when it is one host, or when the conninfo has no user and password for the monitor.
  std::shared_ptr<ha::Monitor> cluster(const config::PostgresTarget& target, const config::DatabaseConfig& entry);
  std::vector<std::shared_ptr<Pool>> all();
  // Every cluster's monitor, named by its hosts ("h1:p1,h2:p2").
  std::vector<std::pair<std::string, std::shared_ptr<ha::Monitor>>> clusters();
  void maintain(boost::asio::any_io_executor ex, int64_t now_us);
  void close_idle();

 private:
  std::mutex mu_;
  std::map<std::pair<std::string, std::string>, std::shared_ptr<Pool>> pools_;
  std::map<std::string, std::shared_ptr<ha::Monitor>> clusters_;  // by the monitor's conninfo and hosts
};

// A cluster's name in metrics and SHOW HOSTS: its hosts, "h1:p1,h2:p2".
std::string cluster_name(const ha::Monitor& m);

// Runs `sql` (one simple Query) on a server connection nobody else is using and reads up to
// its ReadyForQuery; ParameterStatus updates land in s.link.parameters. Errors: the first
// ErrorResponse, or 08006 when the connection fails.
boost::asio::awaitable<PgStatus> run_control_query(ServerConnection& s, std::string_view sql);

}  // namespace metagate::pool
