// Metrics: what metagate counts, in Prometheus' data model (prometheus-cpp's registry and
// text serializer). No I/O here: the server serves `serialize()` over HTTP.
//
// Two kinds of metrics:
//   - events (statements, errors, connections, authentication failures, bytes, waits) are
//     counted where they happen, through the typed methods below — cheap atomic updates on
//     series looked up once, never a label lookup on the statement path;
//   - state (connections by state, WAL size, cache sizes, process memory, ...) is read from its
//     source of truth when scraped: the server registers a collector that returns it as
//     metric families, so there is one copy of each number.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace metagate::metrics {

enum class Backend : uint8_t { kSqlite, kPostgres };
inline constexpr size_t kBackends = 2;
std::string_view to_string(Backend b);

enum class StatementKind : uint8_t { kSelect, kInsert, kUpdate, kDelete, kDdl, kOther };
inline constexpr size_t kStatementKinds = 6;
std::string_view to_string(StatementKind k);
// From a command tag ("SELECT", "INSERT 0 1", "CREATE TABLE", ...): the kind it counts as.
StatementKind kind_of_tag(std::string_view tag, bool ddl);

// Why a connection ended. Those before kFirstAfterReady end a connection that never became
// ready for queries (counted as rejected); the others end an established session. The names
// (to_string) are the `reason` label values and appear in the logs.
enum class CloseReason : uint8_t {
  // Rejected during startup.
  kMaxConnections,
  kUserLimit,
  kHba,
  kAuthFailed,
  kStartupProtocolError,
  kStartupTimeout,
  kUnknownDatabase,
  kShuttingDown,
  kTlsFailed,
  kBackendUnavailable,  // the PostgreSQL backend refused or could not be reached
  kStartupClientGone,  // the client went away before finishing startup (not counted as rejected)
  kCancelRequest,      // the connection carried a CancelRequest (counted as such)
  // Established sessions.
  kClientClosed,
  kProtocolError,
  kIdleTimeout,
  kIdleInTransactionTimeout,
  kAdminKill,
  kShutdown,
  kServerError,
  kNetworkError,
};
inline constexpr size_t kCloseReasons = 20;
inline constexpr CloseReason kFirstAfterReady = CloseReason::kClientClosed;
std::string_view to_string(CloseReason r);

// Authentication failure, by the method of the rule that applied.
enum class AuthFailure : uint8_t { kScram, kMd5, kPassword, kReject, kNoHbaEntry };
inline constexpr size_t kAuthFailures = 5;
std::string_view to_string(AuthFailure a);

// Client connection states, as in pg_stat_activity.state (plus startup).
enum class ClientState : uint8_t { kStartup, kIdle, kActive, kIdleInTransaction, kIdleInTransactionAborted };
inline constexpr size_t kClientStates = 5;
std::string_view to_string(ClientState s);

// Statement latency buckets (seconds): 50 µs to 10 s.
const std::vector<double>& latency_buckets();

class Metrics {
 public:
  // `version`: metagate's version for metagate_build_info.
  explicit Metrics(std::string version);

  // ---- events ----
  void statement(Backend b, StatementKind k, double seconds) {
    statements_[static_cast<size_t>(b)][static_cast<size_t>(k)]->Increment();
    latency_[static_cast<size_t>(b)]->Observe(seconds);
  }
  // An ErrorResponse sent to a client (`sqlstate`: five characters).
  void error(std::string_view sqlstate);
  void connection_accepted() { accepted_->Increment(); }
  void connection_closed(CloseReason r) { closed_[static_cast<size_t>(r)]->Increment(); }
  void cancel_request() { cancels_->Increment(); }
  void auth_failure(AuthFailure a) { auth_failures_[static_cast<size_t>(a)]->Increment(); }
  void received(size_t bytes) { received_->Increment(static_cast<double>(bytes)); }
  void sent(size_t bytes) { sent_->Increment(static_cast<double>(bytes)); }
  void reload(bool ok);

  // Per-SQLite-file series, created when the server opens the file.
  struct SqliteSeries {
    prometheus::Histogram* writer_wait = nullptr;
    prometheus::Histogram* checkpoint = nullptr;
  };
  SqliteSeries sqlite_series(const std::string& path);
  // Per-pool wait-time histogram (PostgreSQL backends).
  prometheus::Histogram* pool_wait(const std::string& database, const std::string& user);
  // Statements held while a cluster had no primary (a failover): how long they waited.
  prometheus::Histogram* failover_hold(const std::string& database, const std::string& user);

  // ---- state ----
  // A collector returns metric families computed at scrape time (see make_gauge etc.).
  using Collector = std::function<void(std::vector<prometheus::MetricFamily>&)>;
  void set_collector(Collector c);

  // Every family: the registry's and the collector's.
  std::vector<prometheus::MetricFamily> collect() const;
  // The whole exposition in Prometheus text format 0.0.4.
  std::string serialize() const;

  prometheus::Registry& registry() { return *registry_; }

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  std::array<std::array<prometheus::Counter*, kStatementKinds>, kBackends> statements_{};
  std::array<prometheus::Histogram*, kBackends> latency_{};
  std::array<prometheus::Counter*, kCloseReasons> closed_{};
  std::array<prometheus::Counter*, kAuthFailures> auth_failures_{};
  prometheus::Counter* accepted_ = nullptr;
  prometheus::Counter* cancels_ = nullptr;
  prometheus::Counter* received_ = nullptr;
  prometheus::Counter* sent_ = nullptr;
  prometheus::Counter* reloads_ok_ = nullptr;
  prometheus::Counter* reloads_failed_ = nullptr;
  prometheus::Gauge* last_reload_ok_ = nullptr;
  prometheus::Gauge* last_reload_ts_ = nullptr;
  prometheus::Family<prometheus::Counter>* errors_ = nullptr;
  prometheus::Family<prometheus::Histogram>* writer_wait_ = nullptr;
  prometheus::Family<prometheus::Histogram>* checkpoint_ = nullptr;
  prometheus::Family<prometheus::Histogram>* pool_wait_ = nullptr;
  prometheus::Family<prometheus::Histogram>* failover_hold_ = nullptr;
  // Errors by class: 36 * 36 possible classes, looked up under a mutex only when an error
  // is sent (never on the success path).
  mutable std::mutex errors_mu_;
  std::map<std::string, prometheus::Counter*, std::less<>> error_series_;
  mutable std::mutex collector_mu_;
  Collector collector_;
};

// Helpers for collectors: one family with one unlabeled or labeled sample per call.
prometheus::MetricFamily make_family(std::string name, std::string help, prometheus::MetricType type);
void add_sample(prometheus::MetricFamily& f, double value, std::vector<std::pair<std::string, std::string>> labels = {});
// A histogram sample from cumulative bucket counts (bounds ascending; +Inf is `count`).
void add_histogram(prometheus::MetricFamily& f, const std::vector<double>& bounds, const std::vector<uint64_t>& cumulative,
                   uint64_t count, double sum, std::vector<std::pair<std::string, std::string>> labels = {});

// Process statistics from /proc/self (Linux): resident memory, open and maximum fds, CPU time.
struct ProcessStats {
  double resident_bytes = 0;
  double open_fds = 0;
  double max_fds = 0;
  double cpu_seconds = 0;
};
ProcessStats read_process_stats();

}  // namespace metagate::metrics
