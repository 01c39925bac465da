// The server: acceptors on a control io_context, sessions spread over worker io_contexts
// (one thread each), databases opened on first use and shared by their sessions.
#include "metagate/server/server.hpp"

#include <cstdio>
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

#include "metagate/admin/admin.hpp"
#include "database.hpp"
#include "backend_probe.hpp"
#include "backup_scheduler.hpp"
#include "manual_backup.hpp"
#include "s3_shipper.hpp"
#include "http_endpoint.hpp"
#include "metagate/metrics/metrics.hpp"
#include "metagate/types/type_catalog.hpp"
#include "metagate/util/clock.hpp"
#include "session.hpp"

namespace metagate::server {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {
using util::steady_now_us;
std::string format_unix_us(int64_t us) {
  std::time_t t = static_cast<std::time_t>(us / 1'000'000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return std::string(buf) + "+00";
}
}  // namespace

using admin::AdminResult;

struct Server::Impl : admin::AdminControl {
  std::shared_ptr<const config::Config> cfg;  // as started (non-reloadable keys never change)
  ConfigSource reload_source;
  std::function<void(bool)> reload_hook;
  std::mutex reload_mu;
  metrics::Metrics metrics{METAGATE_VERSION};
  const int64_t started_us = steady_now_us();
  std::atomic<bool> stopping{false};
  std::atomic<int64_t> heartbeat_us{steady_now_us()};  // the control loop's last janitor tick
  asio::io_context control{1};
  std::unique_ptr<HttpEndpoint> http;  // after `control`: destroyed before it
  std::unique_ptr<BackendProbe> probe;  // PostgreSQL backends' readiness (null without any)
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
  // PostgreSQL server connections (their sockets live on the workers' io_contexts, so the
  // pools are declared after the workers and destroyed before them).
  pool::PoolSet pools;
  bool running = false;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  std::unique_ptr<asio::ssl::context> tls;
  ServerContext ctx;
  std::mutex db_mu;
  std::map<std::string, std::shared_ptr<Database>> databases;  // by SQLite path
  std::unique_ptr<BackupScheduler> backups;  // snapshots of the SQLite files (scheduled, and BACKUP's)
  std::unique_ptr<S3Shipper> shipper;        // their uploads to S3 (null: no s3.endpoint)
  std::atomic<size_t> next_worker{0};
  std::mutex sessions_mu;
  std::vector<std::weak_ptr<Session>> live;

  // The backup thread pokes the shipper and reads `databases`: it stops before they go
  // (finish() has stopped it already, normally).
  ~Impl() override {
    if (backups) backups->stop();
  }

  PgResult<std::shared_ptr<Database>> open_database(std::string_view name) {
    auto path = config::database_route(*ctx.current_config(), name);
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
    auto series = metrics.sqlite_series(*path);
    so.on_checkpoint = [h = series.checkpoint](double s) { h->Observe(s); };
    // The change capture needs the scheduler (which takes each generation's base snapshot).
    std::shared_ptr<backup::WalCapture> capture;
    const config::BackupConfig& bc = cfg->backup;
    if (bc.capture && bc.interval_ms > 0) {
      so.make_wal_observer = [&](const std::string& file) -> PgResult<std::unique_ptr<store::WalObserver>> {
        backup::CaptureOptions co;
        co.dir = config::backup_dir_for(bc, file);
        co.segment_bytes = bc.segment_bytes;
        co.segment_ms = bc.segment_interval_ms;
        auto c = backup::WalCapture::open(file, co);
        if (!c) return unexpected(c.error());
        capture = std::move(*c);
        return make_capture_observer(capture);
      };
    }
    auto st = store::SqliteStore::open(so);
    if (!st) {
      spdlog::error("cannot open database \"{}\" ({}): {}", std::string(name), *path, st.error().message);
      return unexpected(st.error());
    }
    auto db = std::make_shared<Database>();
    db->path = *path;
    db->store = std::move(*st);
    db->series = series;
    db->capture = capture;
    if (auto* gc = db->store->group_commit()) {
      std::weak_ptr<Database> weak = db;
      gc->set_siblings([weak] {
        auto d = weak.lock();
        return d ? d->write_lock.waiting() : size_t{0};
      });
    }
    databases.emplace(*path, db);
    if (capture && backups) backups->poke();  // a new generation wants its base snapshot now
    spdlog::info("opened SQLite store {}", *path);
    return db;
  }

  // Round robin over the workers that are not stuck in a statement; a new worker when all are.
  Worker& pick_worker() {
    int64_t now = steady_now_us();
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
      metrics.connection_accepted();
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

  std::vector<std::shared_ptr<Session>> sessions() {
    std::vector<std::shared_ptr<Session>> out;
    std::lock_guard lk(sessions_mu);
    for (auto& w : live)
      if (auto s = w.lock()) out.push_back(std::move(s));
    return out;
  }

  std::vector<std::shared_ptr<Database>> open_databases() {
    std::vector<std::shared_ptr<Database>> out;
    std::lock_guard lk(db_mu);
    for (auto& [p, d] : databases) out.push_back(d);
    return out;
  }

  // ---- timeouts: one janitor on the control thread ----
  int64_t last_pool_maintenance = 0;
  asio::awaitable<void> janitor() {
    asio::steady_timer t(control);
    while (!stopping) {
      t.expires_after(std::chrono::milliseconds(20));
      co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
      int64_t now = steady_now_us();
      heartbeat_us.store(now, std::memory_order_relaxed);
      auto c = ctx.current_config();
      for (auto& s : sessions()) s->check_timeouts(now, c->limits.startup_timeout_ms);
      if (now - last_pool_maintenance >= 1000000) {
        last_pool_maintenance = now;
        pools.maintain(control.get_executor(), now);
      }
    }
  }

  // ---- lifecycle ----
  void close_listeners() {
    for (auto& a : acceptors) {
      boost::system::error_code ec;
      a->close(ec);
    }
  }

  // Everything has ended (or must end now): close what is left and let run() return.
  asio::awaitable<void> finish(bool immediate) {
    if (stopping.exchange(true)) co_return;
    close_listeners();
    ctx.draining = true;
    for (auto& s : sessions()) s->terminate(metrics::CloseReason::kShutdown);
    // The sessions send their FATAL and end; a client that does not read is cut off.
    asio::steady_timer t(control);
    for (int i = 0; i < (immediate ? 25 : 100) && ctx.connections > 0; ++i) {
      t.expires_after(std::chrono::milliseconds(20));
      co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    for (auto& s : sessions()) s->close();
    pools.close_idle();
    if (shipper) shipper->stop();  // an upload in progress stops between parts (it resumes next time)
    if (backups) backups->stop();  // a snapshot in progress finishes first
    if (http) http->stop();
    {
      std::lock_guard lk(workers_mu);
      for (auto& w : workers) w->guard.reset();
    }
    spdlog::info("all sessions ended; stopping");
    control.stop();
  }

  asio::awaitable<void> drain() {
    auto c = ctx.current_config();
    spdlog::info("shutting down: no new connections; waiting up to {} ms for {} session(s) to finish their transactions",
                 c->server.drain_timeout_ms, ctx.connections.load());
    for (auto& s : sessions()) s->terminate_if_idle(metrics::CloseReason::kShutdown);
    const int64_t deadline = steady_now_us() + c->server.drain_timeout_ms * 1000;
    asio::steady_timer t(control);
    while (ctx.connections > 0 && steady_now_us() < deadline && !stopping) {
      t.expires_after(std::chrono::milliseconds(20));
      co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    if (stopping) co_return;
    if (ctx.connections > 0)
      spdlog::warn("drain timeout: terminating {} session(s) still in a transaction", ctx.connections.load());
    co_await finish(false);
  }

  // ---- readiness ----
  std::optional<std::string> not_ready_why() {
    if (ctx.draining) return "shutting down";
    if (ctx.paused) return "paused by the admin console";
    bool listening = false;
    for (auto& a : acceptors) listening |= a->is_open();
    if (!listening) return "not listening";
    for (auto& d : open_databases())
      if (auto s = d->store->check_health(); !s) return "SQLite store " + d->path + ": " + s.error().message;
    if (probe) return probe->failing();
    return std::nullopt;
  }

  // ---- metrics from their sources, at scrape time ----
  void collect(std::vector<prometheus::MetricFamily>& out) {
    using prometheus::MetricType;
    using metrics::add_sample;
    auto c = ctx.current_config();
    // Families are filled as locals and appended at the end (references into `out` would
    // not survive its growth).
    auto fam = [](const char* name, const char* help, MetricType t) { return metrics::make_family(name, help, t); };
    auto up = fam("metagate_uptime_seconds", "Seconds since the process started", MetricType::Gauge);
    add_sample(up, static_cast<double>(steady_now_us() - started_us) / 1e6);
    std::array<double, metrics::kClientStates> by_state{};
    for (auto& s : sessions()) by_state[static_cast<size_t>(s->state())] += 1;
    auto conns = fam("metagate_client_connections", "Client connections by state", MetricType::Gauge);
    for (size_t i = 0; i < metrics::kClientStates; ++i)
      add_sample(conns, by_state[i], {{"state", std::string(metrics::to_string(static_cast<metrics::ClientState>(i)))}});
    auto maxc = fam("metagate_client_connections_max", "limits.max_connections", MetricType::Gauge);
    add_sample(maxc, static_cast<double>(c->limits.max_connections));
    auto io = fam("metagate_io_threads", "I/O threads running (configured plus extra ones started while all were busy)",
                  MetricType::Gauge);
    {
      std::lock_guard lk(workers_mu);
      add_sample(io, static_cast<double>(workers.size()));
    }
    auto paused = fam("metagate_paused", "1 while PAUSE (admin console) holds new transactions", MetricType::Gauge);
    add_sample(paused, ctx.paused ? 1 : 0);
    auto ps = metrics::read_process_stats();
    auto rss = fam("metagate_process_resident_memory_bytes", "Resident memory of the process", MetricType::Gauge);
    add_sample(rss, ps.resident_bytes);
    auto fds = fam("metagate_process_open_fds", "Open file descriptors", MetricType::Gauge);
    add_sample(fds, ps.open_fds);
    auto max_fds = fam("metagate_process_max_fds", "Limit on open file descriptors (RLIMIT_NOFILE)", MetricType::Gauge);
    add_sample(max_fds, ps.max_fds);
    auto cpu = fam("metagate_process_cpu_seconds_total", "User and system CPU time", MetricType::Counter);
    add_sample(cpu, ps.cpu_seconds);

    auto hits = fam("metagate_translation_cache_hits_total", "Statements whose translation came from the cache", MetricType::Counter);
    auto misses = fam("metagate_translation_cache_misses_total", "Statements translated because the cache had no entry",
                      MetricType::Counter);
    auto entries = fam("metagate_translation_cache_entries", "Translations in the cache", MetricType::Gauge);
    auto queue = fam("metagate_sqlite_writer_queue_length", "Sessions waiting for the SQLite file's writer", MetricType::Gauge);
    auto wal = fam("metagate_sqlite_wal_bytes", "Size of the SQLite WAL file", MetricType::Gauge);
    auto ckpt = fam("metagate_sqlite_checkpoints_total", "WAL checkpoints", MetricType::Counter);
    auto commits = fam("metagate_sqlite_commits_total", "Commits acknowledged through group commit", MetricType::Counter);
    auto syncs = fam("metagate_sqlite_wal_syncs_total", "fdatasync calls on the WAL (each covers every commit since the last)",
                     MetricType::Counter);
    auto sync_fail = fam("metagate_sqlite_wal_sync_failures_total", "Failed WAL syncs (writes are refused after one)",
                         MetricType::Counter);
    for (auto& d : open_databases()) {
      std::vector<std::pair<std::string, std::string>> l = {{"path", d->path}};
      add_sample(hits, static_cast<double>(d->plans.hits()), l);
      add_sample(misses, static_cast<double>(d->plans.misses()), l);
      add_sample(entries, static_cast<double>(d->plans.size()), l);
      add_sample(queue, static_cast<double>(d->write_lock.waiting()), l);
      add_sample(wal, static_cast<double>(d->store->wal_bytes()), l);
      add_sample(ckpt, static_cast<double>(d->store->checkpoints()), l);
      store::GroupCommit::Stats gs;
      if (auto* gc = d->store->group_commit()) gs = gc->stats();
      add_sample(commits, static_cast<double>(gs.commits), l);
      add_sample(syncs, static_cast<double>(gs.syncs), l);
      add_sample(sync_fail, static_cast<double>(gs.failed_syncs), l);
    }
    for (auto* f : {&up, &conns, &maxc, &io, &paused, &rss, &fds, &max_fds, &cpu, &hits, &misses, &entries, &queue, &wal,
                    &ckpt, &commits, &syncs, &sync_fail})
      out.push_back(std::move(*f));
    collect_pools(out);
    collect_backups(out);
  }

  // Snapshots, per SQLite file (path label, as the sqlite series).
  void collect_backups(std::vector<prometheus::MetricFamily>& out) {
    using prometheus::MetricType;
    using metrics::add_sample;
    auto fam = [](const char* name, const char* help, MetricType t) { return metrics::make_family(name, help, t); };
    auto last_ok = fam("metagate_backup_last_success_timestamp_seconds",
                       "When the newest snapshot taken by this process started (Unix time; 0 = none yet)", MetricType::Gauge);
    auto last_fail = fam("metagate_backup_last_failure_timestamp_seconds", "When the last failed snapshot was attempted",
                         MetricType::Gauge);
    auto dur = fam("metagate_backup_last_duration_seconds", "The newest snapshot: copy, integrity check, compression, fsyncs",
                   MetricType::Gauge);
    auto copy = fam("metagate_backup_last_copy_seconds", "The newest snapshot's read transaction (page copy)", MetricType::Gauge);
    auto raw = fam("metagate_backup_last_raw_bytes", "The newest snapshot, uncompressed", MetricType::Gauge);
    auto count = fam("metagate_backup_snapshots", "Snapshots kept on local disk", MetricType::Gauge);
    auto bytes = fam("metagate_backup_stored_bytes", "Local disk used by the kept snapshots", MetricType::Gauge);
    auto segs = fam("metagate_backup_segment_bytes", "Local disk used by the change capture's segments (after the last backup pass)",
                    MetricType::Gauge);
    auto budget = fam("metagate_backup_disk_budget_bytes", "backup.disk_budget: snapshots and segments together (0 = no limit)",
                      MetricType::Gauge);
    auto compacted = fam("metagate_backup_compacted_segments_total", "Compacted segments written (old segments merged, each page once)",
                         MetricType::Counter);
    auto ok = fam("metagate_backup_successes_total", "Snapshots taken", MetricType::Counter);
    auto failed = fam("metagate_backup_failures_total", "Snapshots that failed, by SQLSTATE (53100: disk full)", MetricType::Counter);
    std::map<std::string, BackupScheduler::FileStats> stats;
    if (backups) stats = backups->stats();
    for (const auto& [file, st] : stats) {
      std::vector<std::pair<std::string, std::string>> l = {{"path", file}};
      add_sample(last_ok, static_cast<double>(st.last_success_unix_ms) / 1e3, l);
      add_sample(last_fail, static_cast<double>(st.last_failure_unix_ms) / 1e3, l);
      add_sample(dur, st.last_duration_seconds, l);
      add_sample(copy, st.last_copy_seconds, l);
      add_sample(raw, static_cast<double>(st.last_raw_bytes), l);
      add_sample(count, static_cast<double>(st.snapshots), l);
      add_sample(bytes, static_cast<double>(st.stored_bytes), l);
      add_sample(segs, static_cast<double>(st.segment_bytes), l);
      add_sample(budget, static_cast<double>(cfg->backup.disk_budget_bytes), l);
      add_sample(compacted, static_cast<double>(st.compacted), l);
      add_sample(ok, static_cast<double>(st.successes), l);
      for (const auto& [code, n] : st.failures) add_sample(failed, static_cast<double>(n), {{"path", file}, {"sqlstate", code}});
    }
    for (auto* f : {&last_ok, &last_fail, &dur, &copy, &raw, &count, &bytes, &segs, &budget, &compacted, &ok, &failed})
      out.push_back(std::move(*f));

    // The change capture, per open file.
    auto cseq = fam("metagate_capture_commit", "The last commit captured (numbered from 1 in each generation)", MetricType::Gauge);
    auto ctx_total = fam("metagate_capture_transactions_total", "Commits captured into segments", MetricType::Counter);
    auto cbytes = fam("metagate_capture_bytes_total", "Bytes appended to segment files", MetricType::Counter);
    auto cerr = fam("metagate_capture_errors_total", "Failed captures or segment syncs (the WAL keeps the frames; retried on the next commit)", MetricType::Counter);
    auto cbehind = fam("metagate_capture_behind", "1 while the last capture failed: checkpoints wait, the WAL grows", MetricType::Gauge);
    auto cgen = fam("metagate_capture_generations_started_total", "New generations (each needs a base snapshot) since start", MetricType::Counter);
    auto clast = fam("metagate_capture_last_timestamp_seconds", "When the last commit was captured (Unix time)", MetricType::Gauge);
    for (const auto& db : open_databases()) {
      if (!db->capture) continue;
      const backup::CaptureStats cs = db->capture->stats();
      std::vector<std::pair<std::string, std::string>> l = {{"path", db->path}};
      add_sample(cseq, static_cast<double>(cs.seq), l);
      add_sample(ctx_total, static_cast<double>(cs.transactions), l);
      add_sample(cbytes, static_cast<double>(cs.bytes), l);
      add_sample(cerr, static_cast<double>(cs.errors), l);
      add_sample(cbehind, cs.behind ? 1.0 : 0.0, l);
      add_sample(cgen, static_cast<double>(cs.generations_started), l);
      add_sample(clast, static_cast<double>(cs.last_capture_unix_ms) / 1e3, l);
    }
    for (auto* f : {&cseq, &ctx_total, &cbytes, &cerr, &cbehind, &cgen, &clast}) out.push_back(std::move(*f));

    // S3, per file (the families are there without S3 too, empty: alert rules can name them).
    auto s3_ok = fam("metagate_s3_last_current_timestamp_seconds", "When the bucket last had everything the local backups have (Unix time; 0 = not yet)", MetricType::Gauge);
    auto s3_up = fam("metagate_s3_last_upload_timestamp_seconds", "When an object was last uploaded", MetricType::Gauge);
    auto s3_lag = fam("metagate_s3_remote_lag_seconds", "How far behind the bucket's copy is: age of the oldest local file it still lacks (0 = current)", MetricType::Gauge);
    auto s3_lag_b = fam("metagate_s3_remote_lag_bytes", "Bytes still to upload (the queue: snapshots and segments not in the bucket)", MetricType::Gauge);
    auto s3_q = fam("metagate_s3_queue_objects", "Objects still to upload", MetricType::Gauge);
    auto s3_catch = fam("metagate_s3_catch_up_objects", "Objects still needed for the bucket's copy to be current (uploaded before the history)", MetricType::Gauge);
    auto s3_bytes = fam("metagate_s3_uploaded_bytes_total", "Bytes uploaded", MetricType::Counter);
    auto s3_objs = fam("metagate_s3_uploaded_objects_total", "Objects uploaded", MetricType::Counter);
    auto s3_seq = fam("metagate_s3_remote_commit", "The newest commit of the current capture generation the bucket holds (compare metagate_capture_commit)", MetricType::Gauge);
    auto s3_err = fam("metagate_s3_errors_total", "Failed shipping passes, by kind (network, timeout, auth, ...)", MetricType::Counter);
    const double now_s = static_cast<double>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                 std::chrono::system_clock::now().time_since_epoch()).count()) / 1e3;
    std::map<std::string, S3Shipper::FileStats> s3_stats;
    if (shipper) s3_stats = shipper->stats();
    for (const auto& [file, st] : s3_stats) {
      std::vector<std::pair<std::string, std::string>> l = {{"path", file}};
      add_sample(s3_ok, static_cast<double>(st.last_success_unix_ms) / 1e3, l);
      add_sample(s3_up, static_cast<double>(st.last_upload_unix_ms) / 1e3, l);
      add_sample(s3_lag, st.catch_up_since_unix_ms ? std::max(0.0, now_s - static_cast<double>(st.catch_up_since_unix_ms) / 1e3) : 0.0, l);
      add_sample(s3_lag_b, static_cast<double>(st.pending_bytes), l);
      add_sample(s3_q, static_cast<double>(st.pending_objects), l);
      add_sample(s3_catch, static_cast<double>(st.catch_up_pending), l);
      add_sample(s3_bytes, static_cast<double>(st.uploaded_bytes), l);
      add_sample(s3_objs, static_cast<double>(st.uploaded_objects), l);
      add_sample(s3_seq, static_cast<double>(st.remote_seq), l);
      for (const auto& [kind, n] : st.errors) add_sample(s3_err, static_cast<double>(n), {{"path", file}, {"kind", kind}});
    }
    for (auto* f : {&s3_ok, &s3_up, &s3_lag, &s3_lag_b, &s3_q, &s3_catch, &s3_bytes, &s3_objs, &s3_seq, &s3_err}) out.push_back(std::move(*f));
  }

  // The SQLite files to back up: the configured ones that exist, and every one opened since.
  std::vector<BackupScheduler::Target> backup_files() {
    std::vector<BackupScheduler::Target> out;
    std::lock_guard lk(db_mu);
    for (const auto& [path, db] : databases) out.push_back({path, db->capture});
    auto c = ctx.current_config();
    for (const auto& [name, e] : c->databases) {
      std::error_code ec;
      if (e.backend == config::Backend::kSqlite && e.path.find("{database}") == std::string::npos &&
          !databases.count(e.path) && std::filesystem::exists(e.path, ec))
        out.push_back({e.path, nullptr});
    }
    return out;
  }

  // PostgreSQL pools, per (database, user) as sent to the server.
  void collect_pools(std::vector<prometheus::MetricFamily>& out) {
    using prometheus::MetricType;
    using metrics::add_sample;
    auto fam = [](const char* name, const char* help, MetricType t) { return metrics::make_family(name, help, t); };
    auto clients = fam("metagate_pool_clients", "Client sessions of a pool: holding a server connection (active), waiting for "
                       "one (waiting), or neither (idle)", MetricType::Gauge);
    auto servers = fam("metagate_pool_servers", "Server connections of a pool by state", MetricType::Gauge);
    auto maxwait = fam("metagate_pool_max_wait_seconds", "How long the longest-waiting client has waited", MetricType::Gauge);
    auto checkouts = fam("metagate_pool_checkouts_total", "Server connections handed to clients", MetricType::Counter);
    auto timeouts = fam("metagate_pool_queue_timeouts_total", "Clients that waited queue_timeout_ms and got an error",
                        MetricType::Counter);
    auto connects = fam("metagate_pool_server_connects_total", "Connection attempts to the server", MetricType::Counter);
    auto closes = fam("metagate_pool_server_disconnects_total", "Server connections closed, by reason", MetricType::Counter);
    auto reparses = fam("metagate_pool_reparses_total",
                        "Statements metagate prepared again on another server connection for a client", MetricType::Counter);
    auto replica_reads = fam("metagate_pool_replica_reads_total",
                             "Provably read-only statements sent to a replica (read/write split)", MetricType::Counter);
    auto lost = fam("metagate_pool_lost_transactions_total",
                    "Transaction blocks whose server connection was lost (a failover, a server restart): the "
                    "transaction failed with 40001 or 08007, the client's connection stayed", MetricType::Counter);
    auto pins = fam("metagate_pool_pins_total", "Clients pinned to their server connection, by cause", MetricType::Counter);
    auto statements = fam("metagate_pool_statements", "Distinct statement texts prepared through the pool", MetricType::Gauge);
    static constexpr const char* kPinNames[] = {"advisory_lock", "listen", "temp_table", "hold_cursor", "other"};
    for (auto& p : pools.all()) {
      auto st = p->stats();
      std::vector<std::pair<std::string, std::string>> l = {{"database", p->database()}, {"user", p->user()}};
      auto with = [&](const char* k, std::string_view v) {
        auto x = l;
        x.emplace_back(k, std::string(v));
        return x;
      };
      add_sample(clients, st.active_clients, with("state", "active"));
      add_sample(clients, st.waiting, with("state", "waiting"));
      add_sample(clients, std::max(0, st.clients - st.active_clients - st.waiting), with("state", "idle"));
      add_sample(servers, st.servers_active, with("state", "active"));
      add_sample(servers, st.servers_idle, with("state", "idle"));
      add_sample(servers, st.servers_connecting, with("state", "connecting"));
      add_sample(servers, st.servers_cancelling, with("state", "cancelling"));
      add_sample(maxwait, static_cast<double>(st.max_wait_us) / 1e6, l);
      add_sample(checkouts, static_cast<double>(st.checkouts), l);
      add_sample(timeouts, static_cast<double>(st.queue_timeouts), l);
      add_sample(connects, static_cast<double>(st.connects), with("result", "ok"));
      add_sample(connects, static_cast<double>(st.connect_failures), with("result", "failed"));
      for (size_t i = 0; i < pool::kCloseCauses; ++i)
        add_sample(closes, static_cast<double>(st.closes[i]), with("reason", pool::to_string(static_cast<pool::CloseCause>(i))));
      add_sample(reparses, static_cast<double>(st.reparses), l);
      add_sample(lost, static_cast<double>(st.lost_transactions), l);
      add_sample(replica_reads, static_cast<double>(st.replica_reads), l);
      for (int i = 0; i < 5; ++i) add_sample(pins, static_cast<double>(st.pins[i]), with("cause", kPinNames[i]));
      add_sample(statements, static_cast<double>(st.interned_statements), l);
    }
    for (auto* f : {&clients, &servers, &maxwait, &checkouts, &timeouts, &connects, &closes, &reparses, &lost, &replica_reads, &pins, &statements})
      out.push_back(std::move(*f));
    collect_clusters(out);
  }

  // PostgreSQL clusters: each host as the monitor last saw it, and the failovers it saw.
  void collect_clusters(std::vector<prometheus::MetricFamily>& out) {
    using prometheus::MetricType;
    using metrics::add_sample;
    auto fam = [](const char* name, const char* help, MetricType t) { return metrics::make_family(name, help, t); };
    auto state = fam("metagate_cluster_host_state",
                     "1 for a host's current state: elected (the primary metagate writes to), up (answering, not elected: a "
                     "replica), refused (reports itself primary but is not the elected one), down",
                     MetricType::Gauge);
    auto role = fam("metagate_cluster_host_role", "1 for the role the host reports: primary, replica, or down (no answer)",
                    MetricType::Gauge);
    auto lag = fam("metagate_cluster_host_lag_bytes", "A replica's replay position behind the elected primary's WAL position",
                   MetricType::Gauge);
    auto lag_s = fam("metagate_cluster_host_replay_lag_seconds",
                     "A replica's replay delay (0 when it has replayed all it received)", MetricType::Gauge);
    auto check = fam("metagate_cluster_health_check_seconds", "How long the host's last health check took", MetricType::Gauge);
    auto changes = fam("metagate_cluster_primary_changes_total",
                       "Times a primary was elected after the first: failovers, switchovers, a primary restarted in place",
                       MetricType::Counter);
    auto gaps = fam("metagate_cluster_no_primary_seconds",
                    "How long each stretch without an elected primary lasted (from the old one's loss to the new election)",
                    MetricType::Histogram);
    auto refusals = fam("metagate_cluster_refusals_total",
                        "Times a host started being refused: it reported itself primary but was not the elected one "
                        "(an old primary not rewound, two primaries, or not Patroni's leader)",
                        MetricType::Counter);
    auto gap_now = fam("metagate_cluster_no_primary_current_seconds",
                       "How long the cluster has had no primary now (0 when one is elected)", MetricType::Gauge);
    for (auto& [name, m] : pools.clusters()) {
      auto v = m->view();
      const uint64_t primary_lsn = v->primary ? v->hosts[*v->primary].seen.lsn : 0;
      for (size_t i = 0; i < v->hosts.size() && i < m->hosts().size(); ++i) {
        const auto& h = v->hosts[i];
        std::vector<std::pair<std::string, std::string>> l = {
            {"cluster", name}, {"host", m->hosts()[i].host + ":" + std::to_string(m->hosts()[i].port)}};
        auto with = [&](const char* k, std::string_view val) {
          auto x = l;
          x.emplace_back(k, std::string(val));
          return x;
        };
        const char* now = v->primary == i ? "elected" : h.refused ? "refused" : h.seen.role != ha::Role::kDown ? "up" : "down";
        for (const char* st : {"elected", "up", "refused", "down"})
          add_sample(state, std::string_view(st) == now ? 1 : 0, with("state", st));
        for (ha::Role r : {ha::Role::kPrimary, ha::Role::kReplica, ha::Role::kDown})
          add_sample(role, h.seen.role == r ? 1 : 0, with("role", ha::to_string(r)));
        if (h.seen.role == ha::Role::kReplica) {
          if (v->primary) add_sample(lag, static_cast<double>(primary_lsn > h.seen.lsn ? primary_lsn - h.seen.lsn : 0), l);
          add_sample(lag_s, h.seen.replay_lag_s, l);
        }
        add_sample(check, static_cast<double>(h.seen.check_us) / 1e6, l);
      }
      auto st = m->stats();
      std::vector<std::pair<std::string, std::string>> l = {{"cluster", name}};
      add_sample(changes, static_cast<double>(st.primary_changes), l);
      metrics::add_histogram(gaps, std::vector<double>(std::begin(ha::Monitor::Stats::kBuckets), std::end(ha::Monitor::Stats::kBuckets)),
                             std::vector<uint64_t>(std::begin(st.no_primary_buckets), std::end(st.no_primary_buckets)),
                             st.no_primary_count, st.no_primary_sum_s, l);
      add_sample(gap_now, st.no_primary_now_s, l);
      add_sample(refusals, static_cast<double>(st.refusals), l);
    }
    for (auto* f : {&state, &role, &lag, &lag_s, &check, &changes, &gaps, &gap_now, &refusals}) out.push_back(std::move(*f));
  }

  // ---- AdminControl ----
  static AdminResult table(std::vector<std::string> cols, std::vector<uint32_t> types) {
    AdminResult r;
    r.columns = std::move(cols);
    r.types = std::move(types);
    r.tag = "SHOW";
    return r;
  }

  AdminResult show_clients() override {
    using namespace types::oid;
    auto r = table({"id", "user", "database", "state", "addr", "port", "tls", "application_name", "connect_time", "state_seconds"},
                   {kInt4, kText, kText, kText, kText, kInt4, kBool, kText, kText, kFloat8});
    int64_t now = steady_now_us();
    for (auto& s : sessions()) {
      auto i = s->info();
      if (i.id == 0) continue;  // still starting up
      char secs[32];
      std::snprintf(secs, sizeof secs, "%.3f", static_cast<double>(now - i.state_change_us) / 1e6);
      r.rows.push_back({std::to_string(i.id), i.user, i.database, std::string(metrics::to_string(i.state)), i.address,
                        std::to_string(i.port), std::string(i.tls ? "t" : "f"), i.application_name,
                        format_unix_us(i.connect_time_us), std::string(secs)});
    }
    std::sort(r.rows.begin(), r.rows.end(), [](const auto& a, const auto& b) { return std::stoi(*a[0]) < std::stoi(*b[0]); });
    return r;
  }

  AdminResult show_stats() override {
    using namespace types::oid;
    auto r = table({"metric", "labels", "value"}, {kText, kText, kFloat8});
    for (const auto& f : metrics.collect()) {
      for (const auto& m : f.metric) {
        std::string labels;
        for (const auto& l : m.label) labels += (labels.empty() ? "" : ",") + l.name + "=" + l.value;
        auto num = [](double v) {
          char b[64];
          std::snprintf(b, sizeof b, "%.15g", v);
          return std::string(b);
        };
        switch (f.type) {
          case prometheus::MetricType::Counter: r.rows.push_back({f.name, labels, num(m.counter.value)}); break;
          case prometheus::MetricType::Gauge: r.rows.push_back({f.name, labels, num(m.gauge.value)}); break;
          case prometheus::MetricType::Histogram:
            r.rows.push_back({f.name + "_count", labels, num(static_cast<double>(m.histogram.sample_count))});
            r.rows.push_back({f.name + "_sum", labels, num(m.histogram.sample_sum)});
            break;
          default: break;
        }
      }
    }
    return r;
  }

  AdminResult show_config() override {
    using namespace types::oid;
    auto r = table({"key", "value", "reloadable"}, {kText, kText, kBool});
    for (auto& [k, v] : config::flat_settings(*ctx.current_config()))
      r.rows.push_back({k, v, std::string(config::is_reloadable(k) ? "t" : "f")});
    return r;
  }

  AdminResult show_pools() override {
    using namespace types::oid;
    auto r = table({"database", "user", "pool_mode", "pool_size", "cl_active", "cl_waiting", "cl_idle", "sv_active",
                    "sv_idle", "sv_connecting", "sv_cancelling", "maxwait_ms", "checkouts", "reparses", "statements"},
                   {kText, kText, kText, kInt4, kInt4, kInt4, kInt4, kInt4, kInt4, kInt4, kInt4, kInt8, kInt8, kInt8, kInt8});
    auto n = [](auto v) { return std::optional<std::string>(std::to_string(v)); };
    for (auto& p : pools.all()) {
      auto st = p->stats();
      const auto& s = p->settings();
      r.rows.push_back({p->database(), p->user(), std::string(config::to_string(s.mode)), n(s.size), n(st.active_clients),
                        n(st.waiting), n(std::max(0, st.clients - st.active_clients - st.waiting)), n(st.servers_active),
                        n(st.servers_idle), n(st.servers_connecting), n(st.servers_cancelling), n(st.max_wait_us / 1000),
                        n(st.checkouts), n(st.reparses), n(st.interned_statements)});
    }
    return r;
  }

  AdminResult show_servers() override {
    using namespace types::oid;
    auto r = table({"id", "database", "user", "addr", "port", "pid", "state", "age_s", "idle_s", "checkouts", "prepared"},
                   {kInt8, kText, kText, kText, kInt4, kInt4, kText, kInt8, kInt8, kInt8, kInt8});
    auto n = [](auto v) { return std::optional<std::string>(std::to_string(v)); };
    std::vector<std::shared_ptr<pool::Pool>> all = pools.all();
    for (size_t i = 0, n0 = all.size(); i < n0; ++i)
      for (auto& rp : all[i]->replica_pools()) all.push_back(rp);  // a replica's connections too
    for (auto& p : all) {
      for (const auto& s : p->servers())
        r.rows.push_back({n(s.id), p->database(), p->user(), s.address, n(s.port), n(s.pid),
                          std::string(pool::to_string(s.state)), n(s.age_ms / 1000), n(s.idle_ms / 1000), n(s.checkouts),
                          n(s.prepared)});
    }
    return r;
  }

  AdminResult show_hosts() override {
    using namespace types::oid;
    auto r = table({"cluster", "host", "port", "role", "state", "timeline", "lsn", "lag_bytes", "replay_lag_s", "check_ms",
                    "error"},
                   {kText, kText, kInt4, kText, kText, kInt4, kText, kInt8, kFloat8, kFloat8, kText});
    auto n = [](auto v) { return std::optional<std::string>(std::to_string(v)); };
    for (auto& [name, m] : pools.clusters()) {
      auto v = m->view();
      const uint64_t primary_lsn = v->primary ? v->hosts[*v->primary].seen.lsn : 0;
      for (size_t i = 0; i < v->hosts.size() && i < m->hosts().size(); ++i) {
        const auto& h = v->hosts[i];
        const bool up = h.seen.role != ha::Role::kDown;
        std::string state = v->primary == i ? "elected" : h.refused ? "refused" : up ? "up" : "down";
        char lsn[32];
        std::snprintf(lsn, sizeof lsn, "%X/%X", static_cast<unsigned>(h.seen.lsn >> 32), static_cast<unsigned>(h.seen.lsn));
        std::optional<std::string> lag;
        if (h.seen.role == ha::Role::kReplica && v->primary)
          lag = n(primary_lsn > h.seen.lsn ? primary_lsn - h.seen.lsn : 0);
        r.rows.push_back({name, m->hosts()[i].host, n(m->hosts()[i].port), std::string(ha::to_string(h.seen.role)), state,
                          up ? n(h.seen.timeline) : std::nullopt, up ? std::optional<std::string>(lsn) : std::nullopt, lag,
                          h.seen.role == ha::Role::kReplica ? n(h.seen.replay_lag_s) : std::nullopt,
                          n(static_cast<double>(h.seen.check_us) / 1000.0),
                          up ? std::optional<std::string>() : std::optional<std::string>(h.refused ? h.refused_why : h.seen.error)});
        if (h.refused) r.rows.back().back() = h.refused_why;
      }
    }
    return r;
  }

  AdminResult show_databases() override {
    using namespace types::oid;
    auto r = table({"name", "backend", "path", "open", "clients", "wal_bytes", "checkpoints", "cache_entries"},
                   {kText, kText, kText, kBool, kInt8, kInt8, kInt8, kInt8});
    auto c = ctx.current_config();
    std::map<std::string, int64_t> clients;  // by path
    for (auto& s : sessions()) {
      auto i = s->info();
      if (i.id == 0 || i.admin_console) continue;
      if (auto p = config::database_route(*c, i.database)) clients[*p]++;
    }
    std::map<std::string, std::shared_ptr<Database>> open;
    for (auto& d : open_databases()) open[d->path] = d;
    auto row = [&](const std::string& name, const std::string& path) {
      auto it = open.find(path);
      Database* d = it == open.end() ? nullptr : it->second.get();
      auto n = [](auto v) { return std::optional<std::string>(std::to_string(v)); };
      r.rows.push_back({name, std::string(config::to_string(config::Backend::kSqlite)), path, std::string(d ? "t" : "f"),
                        n(clients[path]), d ? n(d->store->wal_bytes()) : std::nullopt,
                        d ? n(d->store->checkpoints()) : std::nullopt, d ? n(d->plans.size()) : std::nullopt});
      if (d) open.erase(it);
    };
    auto postgres_row = [&](const std::string& name, const config::DatabaseConfig& db) {
      // The server's address stands where a file would; relayed sessions are counted by name.
      int64_t n = 0;
      for (auto& s : sessions()) {
        auto i = s->info();
        if (i.id != 0 && !i.admin_console && config::database_entry(*c, i.database) == &db) ++n;
      }
      r.rows.push_back({name, std::string(config::to_string(db.backend)), config::redact_conninfo(db.conninfo),
                        std::string("t"), std::to_string(n), std::nullopt, std::nullopt, std::nullopt});
    };
    for (const auto& [name, db] : c->databases) {
      if (db.backend == config::Backend::kPostgres) postgres_row(name, db);
      else if (name != config::kWildcardDatabase) row(name, db.path);
    }
    // What the "*" entry opened (each path once), or the pattern when nothing is open yet.
    auto wild = c->databases.find(config::kWildcardDatabase);
    if (wild != c->databases.end() && wild->second.backend == config::Backend::kSqlite) {
      if (open.empty()) row("*", wild->second.path);
      std::vector<std::string> rest;
      for (auto& [p, d] : open) rest.push_back(p);
      for (auto& p : rest) row("*", p);
    }
    return r;
  }

  PgResult<std::vector<std::string>> reload() override {
    std::lock_guard lk(reload_mu);
    if (reload_hook) reload_hook(true);
    auto done = [&](bool ok) {
      metrics.reload(ok);
      if (reload_hook) reload_hook(false);
    };
    std::vector<std::string> notes;
    if (!reload_source) {
      done(true);
      notes.push_back("no configuration file: nothing to reload");
      return notes;
    }
    auto fresh = reload_source();
    if (!fresh) {
      spdlog::error("reload refused, the running configuration stays: {}", fresh.error().to_string());
      done(false);
      return unexpected(PgError::make(sqlstate::kConfigFileError,
                                      "configuration not reloaded: " + fresh.error().to_string()));
    }
    auto running = ctx.current_config();
    std::vector<std::string> restart;
    auto merged = config::merge_reloadable(*running, *fresh, restart);
    for (const auto& k : config::changed_keys(*running, merged)) notes.push_back(k + " changed");
    for (const auto& k : restart) {
      notes.push_back(k + " changed but takes effect only after a restart");
      spdlog::warn("reload: {} changed but takes effect only after a restart", k);
    }
    for (const auto& w : merged.warnings) spdlog::warn("config: {}", w.to_string());
    apply_log_level(merged.log.level);
    ctx.install_config(std::make_shared<const config::Config>(std::move(merged)));
    spdlog::info("configuration reloaded ({} change(s) applied)", notes.size() - restart.size());
    done(true);
    return notes;
  }

  bool kill_client(int32_t id) override {
    std::shared_ptr<Session> s;
    {
      std::lock_guard lk(ctx.mu);
      auto it = ctx.sessions.find(id);
      if (it != ctx.sessions.end()) s = it->second.lock();
    }
    if (!s) return false;
    spdlog::info("session {}: killed from the admin console", id);
    s->terminate(metrics::CloseReason::kAdminKill);
    return true;
  }

  void pause() override {
    spdlog::info("PAUSE: new transactions wait until RESUME");
    ctx.paused = true;
  }
  void resume() override {
    spdlog::info("RESUME");
    ctx.paused = false;
  }
  void shutdown() override;

  PgResult<std::unique_ptr<admin::AdminTask>> backup(const std::string& database) override {
    if (!backups) return unexpected(PgError::make(sqlstate::kObjectNotInPrerequisiteState, "backups are not running"));
    std::string file;  // "" = every file
    if (!database.empty()) {
      auto c = ctx.current_config();
      const config::DatabaseConfig* e = config::database_entry(*c, database);
      if (e && e->backend != config::Backend::kSqlite)
        return unexpected(PgError::make(sqlstate::kFeatureNotSupported, "database \"" + database +
                                        "\" is relayed to PostgreSQL: back it up there (pg_dump, PITR)"));
      auto path = config::database_route(*c, database);
      if (!path) return unexpected(PgError::make(path.error().sqlstate, path.error().message));  // ERROR, not FATAL
      file = *path;
    }
    ManualBackup::Options o;
    o.draining = &ctx.draining;
    return std::unique_ptr<admin::AdminTask>(std::make_unique<ManualBackup>(*backups, shipper.get(), std::move(file), o));
  }

  std::atomic<int> shutdown_requests{0};
};

void Server::Impl::shutdown() {
  asio::post(control, [this] {
    if (shutdown_requests++ == 0) {
      ctx.draining = true;
      close_listeners();
      asio::co_spawn(control, drain(), asio::detached);
    } else {
      spdlog::info("second shutdown request: stopping now");
      asio::co_spawn(control, finish(true), asio::detached);
    }
  });
}

Server::Server(config::Config cfg, ConfigSource reload_source) : impl_(std::make_unique<Impl>()) {
  impl_->cfg = std::make_shared<const config::Config>(std::move(cfg));
  impl_->reload_source = std::move(reload_source);
  impl_->ctx.config = impl_->cfg;
  impl_->ctx.metrics = &impl_->metrics;
  impl_->ctx.admin_control = impl_.get();
  impl_->metrics.set_collector([impl = impl_.get()](auto& out) { impl->collect(out); });
  impl_->ctx.open_database = [this](std::string_view n) { return impl_->open_database(n); };
  impl_->ctx.pools = &impl_->pools;
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
  if (impl_->cfg->metrics.listen) {
    HttpEndpoint::Handlers h;
    h.metrics = [impl = impl_.get()] { return impl->metrics.serialize(); };
    h.not_ready_why = [impl = impl_.get()] { return impl->not_ready_why(); };
    impl_->http = std::make_unique<HttpEndpoint>(impl_->control, std::move(h));
    impl_->http->start(*impl_->cfg->metrics.listen);
  }
  std::vector<BackendProbe::Target> backends;
  for (const auto& [name, db] : impl_->cfg->databases)
    if (db.backend == config::Backend::kPostgres) backends.push_back({name, db.conninfo});
  if (!backends.empty()) impl_->probe = std::make_unique<BackendProbe>(std::move(backends), std::chrono::seconds(2));
  asio::co_spawn(impl_->control, impl_->janitor(), asio::detached);
  // The backup thread runs with backup.interval "off" too: BACKUP in the admin console.
  impl_->backups = std::make_unique<BackupScheduler>(impl_->cfg->backup, [impl = impl_.get()] { return impl->backup_files(); });
  if (impl_->cfg->backup.interval_ms > 0 && impl_->cfg->s3.enabled()) {
    impl_->backups->set_shipped_position([prefix = impl_->cfg->s3.prefix](const std::string& file, const std::string& dir) {
      return replica::shipped_position(dir, replica::remote_root(prefix, std::filesystem::path(file).stem().string()));
    });
    impl_->shipper = std::make_unique<S3Shipper>(impl_->cfg->backup, impl_->cfg->s3, [impl = impl_.get()] {
      std::vector<std::string> files;
      for (auto& t : impl->backup_files()) files.push_back(t.file);
      return files;
    });
    // Every snapshot (scheduled or BACKUP) is shipped at once, not at the next s3.interval.
    impl_->backups->set_on_snapshot([shipper = impl_->shipper.get()](const std::string&) { shipper->poke(); });
  }
  impl_->backups->start();
  if (impl_->shipper) impl_->shipper->start();
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
  asio::co_spawn(impl_->control, impl_->finish(true), asio::detached);
}

void Server::shutdown() { impl_->shutdown(); }

PgResult<std::vector<std::string>> Server::reload() { return impl_->reload(); }

void Server::on_reload(std::function<void(bool)> f) { impl_->reload_hook = std::move(f); }

void apply_log_level(config::LogLevel l) {
  using L = config::LogLevel;
  spdlog::set_level(l == L::kTrace ? spdlog::level::trace
                    : l == L::kDebug ? spdlog::level::debug
                    : l == L::kInfo ? spdlog::level::info
                    : l == L::kWarn ? spdlog::level::warn
                    : l == L::kError ? spdlog::level::err
                    : l == L::kCritical ? spdlog::level::critical
                                        : spdlog::level::off);
}

bool Server::responsive(int64_t within_ms) const {
  return steady_now_us() - impl_->heartbeat_us.load(std::memory_order_relaxed) < within_ms * 1000;
}

uint16_t Server::metrics_port() const { return impl_->http ? impl_->http->port() : 0; }

std::vector<uint16_t> Server::ports() const {
  std::vector<uint16_t> out;
  for (const auto& a : impl_->acceptors) out.push_back(a->local_endpoint().port());
  return out;
}

}  // namespace metagate::server
