// Metrics: the registry, the series looked up once at start, and the exposition.
#include "metagate/metrics/metrics.hpp"

#include <limits>
#include <prometheus/text_serializer.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace metagate::metrics {

namespace pm = prometheus;

std::string_view to_string(Backend b) { return b == Backend::kSqlite ? "sqlite" : "postgres"; }

std::string_view to_string(StatementKind k) {
  switch (k) {
    case StatementKind::kSelect: return "select";
    case StatementKind::kInsert: return "insert";
    case StatementKind::kUpdate: return "update";
    case StatementKind::kDelete: return "delete";
    case StatementKind::kDdl: return "ddl";
    case StatementKind::kOther: return "other";
  }
  return "other";
}

StatementKind kind_of_tag(std::string_view tag, bool ddl) {
  if (ddl) return StatementKind::kDdl;
  auto starts = [&](std::string_view w) {
    return tag.size() >= w.size() && tag.substr(0, w.size()) == w && (tag.size() == w.size() || tag[w.size()] == ' ');
  };
  if (starts("SELECT")) return StatementKind::kSelect;
  if (starts("INSERT")) return StatementKind::kInsert;
  if (starts("UPDATE")) return StatementKind::kUpdate;
  if (starts("DELETE")) return StatementKind::kDelete;
  if (starts("CREATE") || starts("ALTER") || starts("DROP") || starts("TRUNCATE") || starts("COMMENT"))
    return StatementKind::kDdl;
  return StatementKind::kOther;
}

std::string_view to_string(CloseReason r) {
  switch (r) {
    case CloseReason::kMaxConnections: return "max_connections";
    case CloseReason::kUserLimit: return "user_limit";
    case CloseReason::kHba: return "hba";
    case CloseReason::kAuthFailed: return "auth_failed";
    case CloseReason::kStartupProtocolError: return "protocol_error";
    case CloseReason::kStartupTimeout: return "startup_timeout";
    case CloseReason::kUnknownDatabase: return "unknown_database";
    case CloseReason::kShuttingDown: return "shutting_down";
    case CloseReason::kTlsFailed: return "tls_failed";
    case CloseReason::kBackendUnavailable: return "backend_unavailable";
    case CloseReason::kStartupClientGone: return "client_closed";
    case CloseReason::kCancelRequest: return "cancel_request";
    case CloseReason::kClientClosed: return "client_closed";
    case CloseReason::kProtocolError: return "protocol_error";
    case CloseReason::kIdleTimeout: return "idle_timeout";
    case CloseReason::kIdleInTransactionTimeout: return "idle_in_transaction_timeout";
    case CloseReason::kAdminKill: return "admin_kill";
    case CloseReason::kShutdown: return "shutdown";
    case CloseReason::kServerError: return "server_error";
    case CloseReason::kNetworkError: return "network_error";
  }
  return "unknown";
}

std::string_view to_string(AuthFailure a) {
  switch (a) {
    case AuthFailure::kScram: return "scram-sha-256";
    case AuthFailure::kMd5: return "md5";
    case AuthFailure::kPassword: return "password";
    case AuthFailure::kReject: return "reject";
    case AuthFailure::kNoHbaEntry: return "no_hba_entry";
  }
  return "unknown";
}

std::string_view to_string(ClientState s) {
  switch (s) {
    case ClientState::kStartup: return "startup";
    case ClientState::kIdle: return "idle";
    case ClientState::kActive: return "active";
    case ClientState::kIdleInTransaction: return "idle_in_transaction";
    case ClientState::kIdleInTransactionAborted: return "idle_in_transaction_aborted";
  }
  return "unknown";
}

const std::vector<double>& latency_buckets() {
  static const std::vector<double> b = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                        0.025,   0.05,   0.1,     0.25,   0.5,   1,      2.5,    5,    10};
  return b;
}

namespace {
double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}
}  // namespace

Metrics::Metrics(std::string version) : registry_(std::make_shared<pm::Registry>()) {
  auto& r = *registry_;
  pm::BuildGauge()
      .Name("metagate_build_info")
      .Help("metagate's version and the SQLite library it runs (always 1)")
      .Register(r)
      .Add({{"version", version}, {"sqlite_version", sqlite3_libversion()}})
      .Set(1);
  pm::BuildGauge()
      .Name("metagate_start_time_seconds")
      .Help("When the process started, in seconds since the Unix epoch")
      .Register(r)
      .Add({})
      .Set(unix_now());

  auto& stmts = pm::BuildCounter()
                    .Name("metagate_statements_total")
                    .Help("Statements run, by backend and kind (select, insert, update, delete, ddl, other)")
                    .Register(r);
  auto& lat = pm::BuildHistogram()
                  .Name("metagate_statement_duration_seconds")
                  .Help("Time from a statement's start to its last row or its error, by backend")
                  .Register(r);
  for (size_t b = 0; b < kBackends; ++b) {
    std::string bn(to_string(static_cast<Backend>(b)));
    for (size_t k = 0; k < kStatementKinds; ++k)
      statements_[b][k] = &stmts.Add({{"backend", bn}, {"kind", std::string(to_string(static_cast<StatementKind>(k)))}});
    latency_[b] = &lat.Add({{"backend", bn}}, latency_buckets());
  }

  accepted_ = &pm::BuildCounter()
                   .Name("metagate_connections_accepted_total")
                   .Help("TCP connections accepted from clients")
                   .Register(r)
                   .Add({});
  auto& rejected = pm::BuildCounter()
                       .Name("metagate_connections_rejected_total")
                       .Help("Client connections refused before they were ready for queries, by reason")
                       .Register(r);
  auto& closed = pm::BuildCounter()
                     .Name("metagate_connections_closed_total")
                     .Help("Client sessions ended, by reason")
                     .Register(r);
  cancels_ = &pm::BuildCounter()
                  .Name("metagate_cancel_requests_total")
                  .Help("CancelRequest packets received")
                  .Register(r)
                  .Add({});
  for (size_t i = 0; i < kCloseReasons; ++i) {
    auto reason = static_cast<CloseReason>(i);
    if (reason == CloseReason::kCancelRequest) {
      closed_[i] = cancels_;
      continue;
    }
    bool before_ready = reason < kFirstAfterReady && reason != CloseReason::kStartupClientGone;
    auto& fam = before_ready ? rejected : closed;
    closed_[i] = &fam.Add({{"reason", std::string(to_string(reason))}});
  }
  auto& af = pm::BuildCounter()
                 .Name("metagate_auth_failures_total")
                 .Help("Failed client authentications, by the method of the rule that applied")
                 .Register(r);
  for (size_t i = 0; i < kAuthFailures; ++i)
    auth_failures_[i] = &af.Add({{"method", std::string(to_string(static_cast<AuthFailure>(i)))}});
  errors_ = &pm::BuildCounter()
                 .Name("metagate_errors_total")
                 .Help("ErrorResponses sent to clients, by SQLSTATE class (the code's first two characters)")
                 .Register(r);
  received_ = &pm::BuildCounter()
                   .Name("metagate_client_received_bytes_total")
                   .Help("Bytes received from clients")
                   .Register(r)
                   .Add({});
  sent_ = &pm::BuildCounter().Name("metagate_client_sent_bytes_total").Help("Bytes sent to clients").Register(r).Add({});
  auto& reloads = pm::BuildCounter()
                      .Name("metagate_config_reloads_total")
                      .Help("Configuration reloads (SIGHUP, RELOAD), by result")
                      .Register(r);
  reloads_ok_ = &reloads.Add({{"result", "success"}});
  reloads_failed_ = &reloads.Add({{"result", "failure"}});
  last_reload_ok_ = &pm::BuildGauge()
                         .Name("metagate_config_last_reload_successful")
                         .Help("1 if the last configuration reload succeeded (or none was tried), 0 if it was rejected")
                         .Register(r)
                         .Add({});
  last_reload_ok_->Set(1);
  last_reload_ts_ = &pm::BuildGauge()
                         .Name("metagate_config_last_reload_success_timestamp_seconds")
                         .Help("When the configuration was last loaded successfully (start or reload)")
                         .Register(r)
                         .Add({});
  last_reload_ts_->Set(unix_now());
  writer_wait_ = &pm::BuildHistogram()
                      .Name("metagate_sqlite_writer_wait_seconds")
                      .Help("Time a session waited for the SQLite file's single writer")
                      .Register(r);
  checkpoint_ = &pm::BuildHistogram()
                     .Name("metagate_sqlite_checkpoint_duration_seconds")
                     .Help("Duration of WAL checkpoints")
                     .Register(r);
  pool_wait_ = &pm::BuildHistogram()
                    .Name("metagate_pool_wait_seconds")
                    .Help("Time a client waited for a server connection from its pool")
                    .Register(r);
  failover_hold_ = &pm::BuildHistogram()
                        .Name("metagate_failover_hold_seconds")
                        .Help("Time a statement was held while its PostgreSQL cluster had no primary (a failover)")
                        .Register(r);
}

prometheus::Histogram* Metrics::failover_hold(const std::string& database, const std::string& user) {
  static const pm::Histogram::BucketBoundaries kHold = {0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120};
  return &failover_hold_->Add({{"database", database}, {"user", user}}, kHold);
}

prometheus::Histogram* Metrics::pool_wait(const std::string& database, const std::string& user) {
  return &pool_wait_->Add({{"database", database}, {"user", user}}, latency_buckets());
}

void Metrics::error(std::string_view sqlstate) {
  std::string_view cls = sqlstate.substr(0, std::min<size_t>(2, sqlstate.size()));
  pm::Counter* c;
  {
    std::lock_guard lk(errors_mu_);
    auto it = error_series_.find(cls);
    if (it == error_series_.end()) {
      c = &errors_->Add({{"class", std::string(cls)}});
      error_series_.emplace(std::string(cls), c);
    } else {
      c = it->second;
    }
  }
  c->Increment();
}

void Metrics::reload(bool ok) {
  (ok ? reloads_ok_ : reloads_failed_)->Increment();
  last_reload_ok_->Set(ok ? 1 : 0);
  if (ok) last_reload_ts_->Set(unix_now());
}

Metrics::SqliteSeries Metrics::sqlite_series(const std::string& path) {
  SqliteSeries s;
  s.writer_wait = &writer_wait_->Add({{"path", path}}, latency_buckets());
  s.checkpoint = &checkpoint_->Add({{"path", path}}, latency_buckets());
  return s;
}

void Metrics::set_collector(Collector c) {
  std::lock_guard lk(collector_mu_);
  collector_ = std::move(c);
}

std::vector<pm::MetricFamily> Metrics::collect() const {
  auto families = registry_->Collect();
  std::lock_guard lk(collector_mu_);
  if (collector_) collector_(families);
  return families;
}

std::string Metrics::serialize() const { return pm::TextSerializer().Serialize(collect()); }

pm::MetricFamily make_family(std::string name, std::string help, pm::MetricType type) {
  pm::MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

void add_sample(pm::MetricFamily& f, double value, std::vector<std::pair<std::string, std::string>> labels) {
  pm::ClientMetric m;
  for (auto& [k, v] : labels) m.label.push_back(pm::ClientMetric::Label{std::move(k), std::move(v)});
  switch (f.type) {
    case pm::MetricType::Counter: m.counter.value = value; break;
    case pm::MetricType::Gauge: m.gauge.value = value; break;
    default: m.untyped.value = value; break;
  }
  f.metric.push_back(std::move(m));
}

void add_histogram(pm::MetricFamily& f, const std::vector<double>& bounds, const std::vector<uint64_t>& cumulative,
                   uint64_t count, double sum, std::vector<std::pair<std::string, std::string>> labels) {
  pm::ClientMetric m;
  for (auto& [k, v] : labels) m.label.push_back(pm::ClientMetric::Label{std::move(k), std::move(v)});
  for (size_t i = 0; i < bounds.size() && i < cumulative.size(); ++i)
    m.histogram.bucket.push_back(pm::ClientMetric::Bucket{cumulative[i], bounds[i]});
  m.histogram.bucket.push_back(pm::ClientMetric::Bucket{count, std::numeric_limits<double>::infinity()});
  m.histogram.sample_count = count;
  m.histogram.sample_sum = sum;
  f.metric.push_back(std::move(m));
}

ProcessStats read_process_stats() {
  ProcessStats s;
  long page = ::sysconf(_SC_PAGESIZE);
  long ticks = ::sysconf(_SC_CLK_TCK);
  if (std::FILE* f = std::fopen("/proc/self/statm", "r")) {
    long size = 0, resident = 0;
    if (std::fscanf(f, "%ld %ld", &size, &resident) == 2) s.resident_bytes = static_cast<double>(resident) * page;
    std::fclose(f);
  }
  if (std::ifstream st("/proc/self/stat"); st) {
    std::string line;
    std::getline(st, line);
    // Fields after the command name (which may contain spaces) start after the last ')'.
    auto p = line.rfind(')');
    if (p != std::string::npos) {
      std::istringstream in(line.substr(p + 2));
      std::string field;
      unsigned long utime = 0, stime = 0;
      // state(3) ... utime is field 14, stime 15 (1-based, counting pid and comm).
      for (int i = 3; i <= 15 && in >> field; ++i) {
        if (i == 14) utime = std::stoul(field);
        if (i == 15) stime = std::stoul(field);
      }
      if (ticks > 0) s.cpu_seconds = static_cast<double>(utime + stime) / static_cast<double>(ticks);
    }
  }
  std::error_code ec;
  size_t n = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec); !ec && it != std::filesystem::directory_iterator();
       it.increment(ec))
    ++n;
  s.open_fds = static_cast<double>(n);
  struct rlimit rl {};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0) s.max_fds = static_cast<double>(rl.rlim_cur);
  return s;
}

}  // namespace metagate::metrics
