// Unit tests of the service side: the admin console's command language and access rule,
// duration settings, the per-address authentication back-off, metrics (names, types, the
// statement classification, the exposition), reload merging of configurations, and the
// SQLite store's checkpoint counting and health check.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "metagate/admin/admin.hpp"
#include "metagate/auth/credential.hpp"
#include "metagate/config/config.hpp"
#include "metagate/metrics/metrics.hpp"
#include "metagate/store/sqlite_store.hpp"
#include "backup_scheduler.hpp"
#include "manual_backup.hpp"
#include "session.hpp"
#include "settings.hpp"

using namespace metagate;

namespace {

// ---- admin console -------------------------------------------------------------------

TEST(AdminCommand, ParsesEveryCommandCaseInsensitively) {
  using admin::AdminVerb;
  struct Case {
    const char* text;
    AdminVerb verb;
  } cases[] = {{"SHOW CLIENTS", AdminVerb::kShowClients},     {"show stats;", AdminVerb::kShowStats},
               {"Show Config", AdminVerb::kShowConfig},       {"  show\tdatabases ;\n", AdminVerb::kShowDatabases},
               {"SHOW VERSION", AdminVerb::kShowVersion},     {"reload", AdminVerb::kReload},
               {"PAUSE;", AdminVerb::kPause},                  {"resume", AdminVerb::kResume},
               {"SHUTDOWN", AdminVerb::kShutdown},              {"SHOW POOLS", AdminVerb::kShowPools},
               {"show servers", AdminVerb::kShowServers},       {"Backup;", AdminVerb::kBackup}};
  for (const auto& c : cases) {
    auto r = admin::parse_admin_command(c.text);
    ASSERT_TRUE(r) << c.text;
    ASSERT_TRUE(*r) << c.text;
    EXPECT_EQ((*r)->verb, c.verb) << c.text;
  }
  auto k = admin::parse_admin_command("KILL CLIENT 1001");
  ASSERT_TRUE(k && *k);
  EXPECT_EQ((*k)->verb, AdminVerb::kKillClient);
  EXPECT_EQ((*k)->client_id, 1001);
}

TEST(AdminCommand, BackupTakesAnOptionalDatabaseNameWrittenAsAnIdentifier) {
  using admin::AdminVerb;
  auto all = admin::parse_admin_command("BACKUP");
  ASSERT_TRUE(all && *all);
  EXPECT_EQ((*all)->verb, AdminVerb::kBackup);
  EXPECT_EQ((*all)->database, "");
  struct Case {
    const char* text;
    const char* database;
  } cases[] = {{"BACKUP grafana", "grafana"},          {"backup Grafana;", "grafana"},  // unquoted: folded
               {"BACKUP \"Grafana\"", "Grafana"},       {"  backup  \"my db\" ; ", "my db"},
               {"BACKUP \"a\"\"b\"", "a\"b"},           {"BACKUP site-7_db", "site-7_db"}};
  for (const auto& c : cases) {
    auto r = admin::parse_admin_command(c.text);
    ASSERT_TRUE(r) << c.text << ": " << r.error().message;
    ASSERT_TRUE(*r) << c.text;
    EXPECT_EQ((*r)->verb, AdminVerb::kBackup) << c.text;
    EXPECT_EQ((*r)->database, c.database) << c.text;
  }
  for (const char* bad : {"BACKUP a b", "BACKUP \"unclosed", "BACKUP \"a\"b", "BACKUP NOW please"}) {
    auto r = admin::parse_admin_command(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().sqlstate, "42601") << bad;
    EXPECT_NE(r.error().hint.find("BACKUP [database]"), std::string::npos) << r.error().hint;
  }
  auto empty = admin::parse_admin_command("BACKUP \"\"");
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().sqlstate, "22023");
}

TEST(AdminCommand, EmptyIsAnEmptyQueryAndGarbageIsA42601WithAHint) {
  auto e = admin::parse_admin_command(" ;  ");
  ASSERT_TRUE(e);
  EXPECT_FALSE(*e);
  for (const char* bad : {"SELECT 1", "SHOW", "SHOW clients extra", "KILL", "KILL CLIENT", "reload now"}) {
    auto r = admin::parse_admin_command(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().sqlstate, "42601") << bad;
    EXPECT_NE(r.error().hint.find("SHOW CLIENTS"), std::string::npos);
  }
  for (const char* bad : {"KILL CLIENT -1", "KILL CLIENT x", "KILL CLIENT 12345678901"}) {
    auto r = admin::parse_admin_command(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().sqlstate, "22023") << bad;
  }
}

TEST(AdminAccess, AdminFlagOrLoopbackWhenNoUsersAreConfigured) {
  config::Config c = config::default_config();
  EXPECT_TRUE(admin::is_admin(c, "anyone", "127.0.0.1"));
  EXPECT_TRUE(admin::is_admin(c, "anyone", "::1"));
  EXPECT_FALSE(admin::is_admin(c, "anyone", "10.0.0.1"));
  auto v = auth::make_scram_verifier("pw");
  ASSERT_TRUE(v);
  c.auth.users.emplace("alice", config::UserConfig{auth::Credential(*v), false});
  c.auth.users.emplace("root", config::UserConfig{auth::Credential(*v), true});
  EXPECT_FALSE(admin::is_admin(c, "alice", "127.0.0.1"));
  EXPECT_TRUE(admin::is_admin(c, "root", "10.0.0.1"));
  EXPECT_FALSE(admin::is_admin(c, "stranger", "127.0.0.1"));  // users configured: the flag decides
}

// ---- settings --------------------------------------------------------------------------

TEST(Durations, ParseAsPostgresAcceptsThem) {
  using server::parse_duration_ms;
  EXPECT_EQ(parse_duration_ms("0"), 0);
  EXPECT_EQ(parse_duration_ms("1500"), 1500);
  EXPECT_EQ(parse_duration_ms("250ms"), 250);
  EXPECT_EQ(parse_duration_ms(" 5s "), 5000);
  EXPECT_EQ(parse_duration_ms("2min"), 120000);
  EXPECT_EQ(parse_duration_ms("1h"), 3600000);
  EXPECT_EQ(parse_duration_ms("1d"), 86400000);
  EXPECT_EQ(parse_duration_ms("1500us"), 2);
  EXPECT_FALSE(parse_duration_ms(""));
  EXPECT_FALSE(parse_duration_ms("abc"));
  EXPECT_FALSE(parse_duration_ms("5x"));
  EXPECT_FALSE(parse_duration_ms("-5"));
  EXPECT_FALSE(parse_duration_ms("9999999999999"));
}

TEST(Durations, FormatWithTheLargestExactUnit) {
  using server::format_duration_ms;
  EXPECT_EQ(format_duration_ms(0), "0");
  EXPECT_EQ(format_duration_ms(5000), "5s");
  EXPECT_EQ(format_duration_ms(1500), "1500ms");
  EXPECT_EQ(format_duration_ms(60000), "1min");
  EXPECT_EQ(format_duration_ms(7200000), "2h");
  EXPECT_EQ(format_duration_ms(86400000), "1d");
}

// ---- authentication back-off -------------------------------------------------------------

TEST(AuthThrottle, DoublesPerFailureUpToTheMaximumAndForgetsOnSuccess) {
  server::AuthThrottle t;
  int64_t now = 1'000'000'000;
  EXPECT_EQ(t.failure("10.0.0.1", 100, 1000, now), 100);
  EXPECT_EQ(t.failure("10.0.0.1", 100, 1000, now + 1), 200);
  EXPECT_EQ(t.failure("10.0.0.1", 100, 1000, now + 2), 400);
  EXPECT_EQ(t.failure("10.0.0.1", 100, 1000, now + 3), 800);
  EXPECT_EQ(t.failure("10.0.0.1", 100, 1000, now + 4), 1000);
  EXPECT_EQ(t.failure("10.0.0.1", 100, 1000, now + 5), 1000);
  EXPECT_EQ(t.failure("10.0.0.2", 100, 1000, now + 6), 100);  // per address
  t.success("10.0.0.1");
  EXPECT_EQ(t.failure("10.0.0.1", 100, 1000, now + 7), 100);
  // Quiet for more than twice the maximum: forgotten.
  EXPECT_EQ(t.failure("10.0.0.2", 100, 1000, now + 6 + 2'000'001), 100);
  EXPECT_EQ(t.failure("10.0.0.3", 0, 1000, now), 0);  // off
}

// ---- metrics -------------------------------------------------------------------------------

TEST(Metrics, StatementKindsFromCommandTags) {
  using metrics::StatementKind;
  EXPECT_EQ(metrics::kind_of_tag("SELECT", false), StatementKind::kSelect);
  EXPECT_EQ(metrics::kind_of_tag("INSERT 0 1", false), StatementKind::kInsert);
  EXPECT_EQ(metrics::kind_of_tag("UPDATE 3", false), StatementKind::kUpdate);
  EXPECT_EQ(metrics::kind_of_tag("DELETE 0", false), StatementKind::kDelete);
  EXPECT_EQ(metrics::kind_of_tag("CREATE TABLE", false), StatementKind::kDdl);
  EXPECT_EQ(metrics::kind_of_tag("ALTER TABLE", false), StatementKind::kDdl);
  EXPECT_EQ(metrics::kind_of_tag("BEGIN", false), StatementKind::kOther);
  EXPECT_EQ(metrics::kind_of_tag("SELECTED", false), StatementKind::kOther);
  EXPECT_EQ(metrics::kind_of_tag("", true), StatementKind::kDdl);
}

TEST(Metrics, ExpositionHasPrometheusNamesTypesAndMovesWithEvents) {
  metrics::Metrics m("9.9.9");
  m.statement(metrics::Backend::kSqlite, metrics::StatementKind::kInsert, 0.002);
  m.error("42P01");
  m.error("42601");
  m.error("57014");
  m.connection_accepted();
  m.connection_closed(metrics::CloseReason::kAdminKill);
  m.connection_closed(metrics::CloseReason::kAuthFailed);
  m.connection_closed(metrics::CloseReason::kCancelRequest);
  m.auth_failure(metrics::AuthFailure::kScram);
  m.received(100);
  m.sent(250);
  m.reload(false);
  m.set_collector([](std::vector<prometheus::MetricFamily>& out) {
    auto f = metrics::make_family("metagate_test_gauge", "a collected gauge", prometheus::MetricType::Gauge);
    metrics::add_sample(f, 7, {{"path", "/x.db"}});
    out.push_back(std::move(f));
  });
  std::string text = m.serialize();
  for (const char* line : {"# TYPE metagate_statements_total counter",
                           "metagate_statements_total{backend=\"sqlite\",kind=\"insert\"} 1",
                           "# TYPE metagate_statement_duration_seconds histogram",
                           "metagate_statement_duration_seconds_count{backend=\"sqlite\"} 1",
                           "metagate_errors_total{class=\"42\"} 2", "metagate_errors_total{class=\"57\"} 1",
                           "metagate_connections_accepted_total 1",
                           "metagate_connections_closed_total{reason=\"admin_kill\"} 1",
                           "metagate_connections_rejected_total{reason=\"auth_failed\"} 1",
                           "metagate_cancel_requests_total 1",
                           "metagate_auth_failures_total{method=\"scram-sha-256\"} 1",
                           "metagate_client_received_bytes_total 100", "metagate_client_sent_bytes_total 250",
                           "metagate_config_reloads_total{result=\"failure\"} 1",
                           "metagate_config_last_reload_successful 0", "version=\"9.9.9\"",
                           "metagate_test_gauge{path=\"/x.db\"} 7"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line << "\n" << text;
  }
}

TEST(Metrics, ProcessStatsAreRead) {
  auto s = metrics::read_process_stats();
  EXPECT_GT(s.resident_bytes, 0);
  EXPECT_GT(s.open_fds, 2);
  EXPECT_GT(s.max_fds, 0);
}

// ---- reload ----------------------------------------------------------------------------------

TEST(Reload, TakesReloadableKeysAndReportsTheOthers) {
  auto running = config::default_config();
  auto fresh = config::default_config();
  fresh.limits.max_connections = 10;
  fresh.limits.statement_cache_entries = 1;  // needs a restart
  fresh.log.level = config::LogLevel::kDebug;
  fresh.listen = {config::ListenAddress{"127.0.0.1", 6000, false}};
  fresh.server.drain_timeout_ms = 5;
  std::vector<std::string> restart;
  auto merged = config::merge_reloadable(running, fresh, restart);
  EXPECT_EQ(merged.limits.max_connections, 10);
  EXPECT_EQ(merged.limits.statement_cache_entries, running.limits.statement_cache_entries);
  EXPECT_EQ(merged.log.level, config::LogLevel::kDebug);
  EXPECT_EQ(merged.server.drain_timeout_ms, 5);
  EXPECT_EQ(merged.listen, running.listen);
  EXPECT_EQ(restart, (std::vector<std::string>{"limits.statement_cache_entries", "listen"}));
}

TEST(ConfigMetrics, ListenNullOffAndClashes) {
  auto a = config::parse_config(R"({"metrics": {"listen": null}})");
  ASSERT_TRUE(a);
  EXPECT_FALSE(a->metrics.listen);
  auto b = config::parse_config(R"({"listen": ["127.0.0.1:7000"], "metrics": {"listen": "127.0.0.1:7000"}})");
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().first().key, "metrics.listen");
  auto c = config::parse_config(R"({"metrics": {"listen": 9187}})");
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().first().key, "metrics.listen");
  auto d = config::parse_config(R"({"metrics": {"listen": "0.0.0.0:9187"}})");
  ASSERT_TRUE(d);
  EXPECT_FALSE(d->warnings.empty());
  auto e = config::default_config();
  config::CommandLineOverrides o;
  o.metrics = "off";
  ASSERT_TRUE(config::apply_overrides(e, o));
  EXPECT_FALSE(e.metrics.listen);
  o.metrics = "nonsense";
  auto f = config::default_config();
  auto r = config::apply_overrides(f, o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().first().key, "--metrics");
}

// ---- store -------------------------------------------------------------------------------

TEST(StoreService, CheckpointsAreCountedAndHealthFollowsTheFile) {
  auto dir = std::filesystem::temp_directory_path() / ("mg_service_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string path = (dir / "s.db").string();
  int observed = 0;
  {
    store::StoreOptions o;
    o.path = path;
    o.checkpoint_wal_bytes = 4096;  // one page: every commit checkpoints
    o.on_checkpoint = [&](double s) {
      EXPECT_GE(s, 0);
      ++observed;
    };
    auto st = store::SqliteStore::open(o);
    ASSERT_TRUE(st) << st.error().message;
    auto& s = **st;
    ASSERT_TRUE(store::exec(s.writer().db(), "CREATE TABLE t(x)"));
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(store::exec(s.writer().db(), "INSERT INTO t VALUES (randomblob(5000))"));
    EXPECT_GT(s.checkpoints(), 0u);
    EXPECT_GT(s.wal_bytes(), 0);
    EXPECT_TRUE(s.check_health());
    std::filesystem::remove(path);
    auto h = s.check_health();
    ASSERT_FALSE(h);
    EXPECT_NE(h.error().message.find("is gone"), std::string::npos) << h.error().message;
  }
  EXPECT_GT(observed, 0);
  std::filesystem::remove_all(dir);
}

// ---- BACKUP: manual snapshots by the backup thread ----------------------------------------

TEST(ManualBackup, TheSchedulerServesRequestsWithTheIntervalOffAndTheTaskAnswersPerFile) {
  auto dir = std::filesystem::temp_directory_path() / ("mg_manual_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "m.db").string();
  {
    store::StoreOptions o;
    o.path = path;
    auto st = store::SqliteStore::open(o);
    ASSERT_TRUE(st) << st.error().message;
    ASSERT_TRUE(store::exec((*st)->writer().db(), "CREATE TABLE t(x); INSERT INTO t VALUES (1)"));
  }
  config::BackupConfig bc;
  bc.dir = (dir / "backups").string();
  bc.interval_ms = 0;  // "off": only on demand
  bc.min_free_bytes = 0;
  server::BackupScheduler scheduler(bc, [&] { return std::vector<server::BackupScheduler::Target>{{path, nullptr}}; });
  int shipped = 0;
  scheduler.set_on_snapshot([&](const std::string& f) {
    EXPECT_EQ(f, path);
    ++shipped;
  });
  scheduler.start();
  // poll() as the session does, with a bound.
  auto run = [](admin::AdminTask& task) -> PgResult<admin::AdminResult> {
    for (int i = 0; i < 600; ++i) {
      if (auto r = task.poll()) return std::move(*r);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return unexpected(PgError::make("XX000", "the task did not finish in 30 s"));
  };
  server::ManualBackup all(scheduler, nullptr, "", {});
  auto r = run(all);
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->rows.size(), 1u);
  ASSERT_EQ(r->columns.size(), r->rows[0].size());
  EXPECT_EQ(r->columns[8], "upload");
  EXPECT_EQ(*r->rows[0][1], path);
  EXPECT_EQ(*r->rows[0][8], "not configured");
  EXPECT_FALSE(r->rows[0][3]);  // no capture: no generation
  EXPECT_EQ(shipped, 1);
  auto listing = backup::list_snapshots(config::backup_dir_for(bc, path));
  ASSERT_TRUE(listing);
  ASSERT_EQ(listing->snapshots.size(), 1u);
  EXPECT_EQ(listing->snapshots[0].reason, "manual");
  EXPECT_EQ(listing->snapshots[0].id, *r->rows[0][2]);
  EXPECT_EQ(scheduler.stats().at(path).successes, 1u);

  // One file by name (it need not be open); a missing one is the error, with its SQLSTATE.
  server::ManualBackup one(scheduler, nullptr, path, {});
  auto r1 = run(one);
  ASSERT_TRUE(r1) << r1.error().message;
  EXPECT_EQ(r1->rows.size(), 1u);
  server::ManualBackup missing(scheduler, nullptr, (dir / "nope.db").string(), {});
  auto r2 = run(missing);
  ASSERT_FALSE(r2);
  EXPECT_EQ(r2.error().sqlstate, "58P01");
  EXPECT_NE(r2.error().message.find("nope.db"), std::string::npos) << r2.error().message;

  // After stop() a request is answered at once: shutting down.
  scheduler.stop();
  server::ManualBackup late(scheduler, nullptr, "", {});
  auto r3 = late.poll();
  ASSERT_TRUE(r3);
  ASSERT_FALSE(*r3);
  EXPECT_EQ(r3->error().sqlstate, "57P01");
  std::filesystem::remove_all(dir);
}

}  // namespace
