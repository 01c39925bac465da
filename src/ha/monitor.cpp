// The cluster monitor (monitor.hpp).
#include "metagate/ha/monitor.hpp"

#include <libpq-fe.h>

#include "metagate/ha/patroni.hpp"
#include <poll.h>
#include <spdlog/spdlog.h>

#include <chrono>

namespace metagate::ha {

namespace {

int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Role, timeline and WAL position in one round trip. A primary's timeline is in the name of its
// current WAL file (pg_control's checkpoint timeline lags a promotion until the next
// checkpoint); a replica's is the one its WAL receiver streams, or its last restartpoint's when
// it is not streaming.
constexpr const char* kQuestion =
    "SELECT pg_is_in_recovery(), "
    "CASE WHEN pg_is_in_recovery() "
    "THEN coalesce((SELECT received_tli FROM pg_stat_wal_receiver), (SELECT timeline_id FROM pg_control_checkpoint())) "
    "ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int END, "
    "(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END - '0/0')::bigint, "
    "CASE WHEN NOT pg_is_in_recovery() OR pg_last_wal_receive_lsn() IS NULL "
    "OR pg_last_wal_receive_lsn() <= pg_last_wal_replay_lsn() THEN 0 "
    "ELSE coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0) END";

Observation down(std::string why) {
  Observation o;
  o.error = std::move(why);
  return o;
}

std::string conn_error(PGconn* c) {
  // libpq's message may run over several lines (a hint on its own, tab-indented): one line.
  std::string raw = c ? PQerrorMessage(c) : "out of memory";
  std::string e;
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != '\n') {
      e.push_back(raw[i]);
      continue;
    }
    while (i + 1 < raw.size() && (raw[i + 1] == '\t' || raw[i + 1] == ' ')) ++i;
    if (i + 1 < raw.size()) e += " ";
  }
  while (!e.empty() && e.back() == ' ') e.pop_back();
  return e;
}

}  // namespace

Observation Monitor::ask(void*& handle, const std::string& conninfo, int64_t timeout_ms) {
  const auto t0 = std::chrono::steady_clock::now();
  auto took = [&] {
    return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0).count();
  };
  auto fail = [&](std::string why) {
    if (handle) PQfinish(static_cast<PGconn*>(handle));
    handle = nullptr;
    Observation o = down(std::move(why));
    o.check_us = took();
    return o;
  };
  if (!handle) {
    const int64_t secs = std::max<int64_t>(2, (timeout_ms + 999) / 1000);
    const std::string ci = conninfo + " connect_timeout=" + std::to_string(secs);
    PGconn* c = PQconnectdb(ci.c_str());
    handle = c;
    if (!c || PQstatus(c) != CONNECTION_OK) return fail(conn_error(c));
  }
  PGconn* c = static_cast<PGconn*>(handle);
  if (!PQsendQuery(c, kQuestion)) return fail(conn_error(c));
  // Every wait bounded: a host that accepted the connection and then went silent (a network
  // partition) is down after timeout_ms, not after TCP gives up.
  const int64_t deadline = steady_ms() + timeout_ms;
  while (PQisBusy(c)) {
    const int64_t left = deadline - steady_ms();
    if (left <= 0) return fail("no answer within " + std::to_string(timeout_ms) + " ms");
    pollfd p{PQsocket(c), POLLIN, 0};
    int n = ::poll(&p, 1, static_cast<int>(left));
    if (n < 0 && errno != EINTR) return fail("poll failed");
    if (n > 0 && !PQconsumeInput(c)) return fail(conn_error(c));
  }
  Observation o;
  bool got = false;
  std::string error;
  while (PGresult* r = PQgetResult(c)) {
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && !got) {
      o.role = std::string_view(PQgetvalue(r, 0, 0)) == "t" ? Role::kReplica : Role::kPrimary;
      o.timeline = static_cast<uint32_t>(std::strtoul(PQgetvalue(r, 0, 1), nullptr, 10));
      o.lsn = std::strtoull(PQgetvalue(r, 0, 2), nullptr, 10);
      o.replay_lag_s = std::strtod(PQgetvalue(r, 0, 3), nullptr);
      got = true;
    } else if (PQresultStatus(r) != PGRES_TUPLES_OK) {
      error = PQresultErrorMessage(r);
    }
    PQclear(r);
  }
  if (!got) return fail(error.empty() ? "no answer to the role query" : error);
  o.check_us = took();
  return o;
}

Monitor::Monitor(MonitorOptions o)
    : o_(std::move(o)), conns_(o_.hosts.size(), nullptr), refused_(o_.hosts.size(), false), election_(o_.hosts.size()) {
  for (const auto& h : o_.hosts)
    conninfos_.push_back(o_.conninfo + " host=" + h.host + " port=" + std::to_string(h.port) +
                         " application_name=metagate-monitor");
  view_ = std::make_shared<const ClusterView>(election_.view());
}

Monitor::~Monitor() {
  stop();
  for (void*& c : conns_)
    if (c) PQfinish(static_cast<PGconn*>(c));
}

void Monitor::start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { run(); });
}

void Monitor::stop() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Monitor::Stats Monitor::stats() const {
  std::lock_guard lk(mu_);
  Stats s = stats_;
  if (no_primary_since_ms_) s.no_primary_now_s = static_cast<double>(steady_ms() - no_primary_since_ms_) / 1000.0;
  return s;
}

std::shared_ptr<const ClusterView> Monitor::view() const {
  std::lock_guard lk(mu_);
  return view_;
}

void Monitor::report_failure(size_t) {
  {
    std::lock_guard lk(mu_);
    poked_ = true;
  }
  cv_.notify_all();
}

void Monitor::on_change(std::function<void(const ClusterView&)> f) {
  std::lock_guard lk(mu_);
  on_change_ = std::move(f);
}

std::shared_ptr<const ClusterView> Monitor::wait_for_change(uint64_t generation, int64_t timeout_ms) const {
  std::unique_lock lk(mu_);
  cv_.wait_for(lk, std::chrono::milliseconds(timeout_ms), [&] { return stop_ || view_->generation != generation; });
  return view_;
}

void Monitor::run() {
  for (;;) {
    std::vector<Observation> round;
    const int64_t started_us = std::chrono::duration_cast<std::chrono::microseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch()).count();
    for (size_t i = 0; i < conninfos_.size(); ++i) {
      round.push_back(ask(conns_[i], conninfos_[i], o_.timeout_ms));
      if (i < o_.patroni_urls.size() && round.back().role == Role::kPrimary) {
        // Only a primary's Patroni matters to the election (a replica is never elected).
        PatroniAnswer a = ask_patroni_primary(o_.patroni_urls[i], o_.timeout_ms);
        round.back().patroni = a.leader ? PatroniLeader::kLeader : PatroniLeader::kNotLeader;
        round.back().patroni_error = a.error;
      }
    }
    const uint64_t before = election_.view().generation;
    ClusterView made = election_.update(round);
    made.observed_us = started_us;
    auto view = std::make_shared<const ClusterView>(std::move(made));
    std::function<void(const ClusterView&)> notify;
    {
      std::lock_guard lk(mu_);
      view_ = view;
      generation_.store(view->generation, std::memory_order_release);
      has_primary_.store(view->primary.has_value(), std::memory_order_release);
      if (view->generation != before) {
        notify = on_change_;
        if (!view->primary) {
          if (ever_elected_) no_primary_since_ms_ = steady_ms();
        } else {
          if (ever_elected_) ++stats_.primary_changes;
          ever_elected_ = true;
          if (no_primary_since_ms_) {
            const double s = static_cast<double>(steady_ms() - no_primary_since_ms_) / 1000.0;
            for (size_t i = 0; i < std::size(Stats::kBuckets); ++i)
              if (s <= Stats::kBuckets[i]) ++stats_.no_primary_buckets[i];
            ++stats_.no_primary_count;
            stats_.no_primary_sum_s += s;
            no_primary_since_ms_ = 0;
          }
        }
      }
    }
    if (view->generation != before) {
      if (view->primary) {
        const auto& h = o_.hosts[*view->primary];
        spdlog::info("cluster: primary is {}:{} (timeline {})", h.host, h.port, view->timeline);
      } else {
        spdlog::warn("cluster: no primary");
      }
      cv_.notify_all();
      if (notify) notify(*view);
    }
    // Refusals are logged when they start and end, not every round.
    for (size_t i = 0; i < view->hosts.size(); ++i) {
      if (view->hosts[i].refused == refused_[i]) continue;
      refused_[i] = view->hosts[i].refused;
      if (refused_[i]) {
        spdlog::warn("cluster: {}:{} refused: {}", o_.hosts[i].host, o_.hosts[i].port, view->hosts[i].refused_why);
        std::lock_guard lk(mu_);
        ++stats_.refusals;
      } else {
        spdlog::info("cluster: {}:{} no longer refused", o_.hosts[i].host, o_.hosts[i].port);
      }
    }
    // Without a primary (a failover under way), clients are held: look more often, so that
    // they go on within a fifth of a second of the promotion.
    const int64_t wait_ms = view->primary ? o_.interval_ms : std::min<int64_t>(o_.interval_ms, kNoPrimaryIntervalMs);
    std::unique_lock lk(mu_);
    cv_.wait_for(lk, std::chrono::milliseconds(wait_ms), [this] { return stop_ || poked_; });
    if (stop_) return;
    poked_ = false;
  }
}

}  // namespace metagate::ha
