// metagate: the command line — serve, status, check-config, passwd, backup, restore.
#include <spdlog/pattern_formatter.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <csignal>
#include <ctime>
#include <unistd.h>
#include <iostream>
#include <thread>

#include "backup_cmd.hpp"
#include "sd_notify.hpp"
#include "status.hpp"
#include "switchover.hpp"
#include "metagate/auth/credential.hpp"
#include "metagate/config/config.hpp"
#include "metagate/server/server.hpp"

using namespace metagate;

namespace {

config::ConfigResult<config::Config> load(const std::string& file, const config::CommandLineOverrides& o) {
  config::ConfigResult<config::Config> cfg = file.empty() ? config::ConfigResult<config::Config>(config::default_config())
                                                          : config::load_config_file(file);
  if (!cfg) return cfg;
  if (auto s = config::apply_overrides(*cfg, o); !s) return unexpected(s.error());
  return cfg;
}

// %* in a pattern: the message as a JSON string body (quotes, backslashes and control
// characters escaped), for log.format = "json".
class JsonMessage : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    static const char* hex = "0123456789abcdef";
    for (char ch : std::string_view(msg.payload.data(), msg.payload.size())) {
      auto c = static_cast<unsigned char>(ch);
      if (c == '"' || c == '\\') {
        dest.push_back('\\');
        dest.push_back(ch);
      } else if (c < 0x20) {
        const char esc[] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
        dest.append(esc, esc + 6);
      } else {
        dest.push_back(ch);
      }
    }
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<JsonMessage>(); }
};

void setup_logging(const config::LogConfig& log) {
  server::apply_log_level(log.level);
  if (log.format == config::LogFormat::kJson) {
    auto f = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc, "\n");
    f->add_flag<JsonMessage>('*').set_pattern(R"({"time":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","pid":%P,"msg":"%*"})");
    spdlog::set_formatter(std::move(f));
  } else {
    spdlog::set_pattern("%Y-%m-%d %H:%M:%S.%e %l [%P] %v");
  }
  spdlog::flush_on(spdlog::level::info);
}

int64_t monotonic_usec() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"metagate — PostgreSQL wire-protocol host for Grafana's metadata database"};
  app.require_subcommand(1);

  std::string config_file;
  config::CommandLineOverrides overrides;
  std::string sqlite_path, metrics_addr, postgres_conninfo, pool_mode;
  auto* serve = app.add_subcommand("serve", "serve PostgreSQL clients");
  serve->add_option("--config", config_file, "JSON configuration file");
  serve->add_option("--listen", overrides.listen, "HOST:PORT to listen on (repeatable; overrides the config)");
  serve->add_option("--sqlite", sqlite_path, "serve every database name from this SQLite file");
  serve->add_option("--metrics", metrics_addr, "HOST:PORT for /metrics, /healthz, /readyz (\"off\" to disable)");
  serve->add_option("--postgres", postgres_conninfo,
                    "relay every database name to this PostgreSQL server (libpq conninfo: host=... port=... "
                    "dbname=... user=... password=...; dbname/user left out = the client's)");
  serve->add_option("--pool-mode", pool_mode, "with --postgres: session (default) or transaction");

  app::StatusOptions st;
  auto* status = app.add_subcommand("status", "print the overview of a running metagate (its admin console)");
  status->add_option("--host", st.host, "host of the running metagate (default 127.0.0.1, or --config's first listen)");
  status->add_option("--port", st.port, "its port (default 5432, or --config's first listen)");
  status->add_option("--user", st.user, "an admin user (password from PGPASSWORD or ~/.pgpass)");
  status->add_option("--config", st.config_file, "the instance's configuration file (for its address)");

  app::SwitchoverOptions so;
  auto* switchover = app.add_subcommand(
      "switchover", "a planned switchover of the PostgreSQL cluster behind a running metagate, with no client error: "
                    "PAUSE, the switchover (--command, or you), wait for the new primary in SHOW HOSTS, RESUME");
  switchover->add_option("--host", so.host, "host of the running metagate (default 127.0.0.1, or --config's first listen)");
  switchover->add_option("--port", so.port, "its port (default 5432, or --config's first listen)");
  switchover->add_option("--user", so.user, "an admin user (password from PGPASSWORD or ~/.pgpass)");
  switchover->add_option("--config", so.config_file, "the instance's configuration file (for its address)");
  switchover->add_option("--cluster", so.cluster, "the cluster, as SHOW HOSTS names it (needed when there are several)");
  switchover->add_option("--command", so.command,
                         "run this with /bin/sh -c while paused, e.g. \"patronictl -c /etc/patroni.yml switchover --force\"");
  switchover->add_option("--timeout", so.timeout_s, "seconds from PAUSE to the new primary's election (default 60)")
      ->check(CLI::Range(1, 3600));

  std::string check_file;
  auto* check = app.add_subcommand("check-config", "validate a configuration file");
  check->add_option("file", check_file, "JSON configuration file")->required();

  std::string passwd_user;
  auto* passwd = app.add_subcommand("passwd", "print a SCRAM-SHA-256 verifier for a password read from stdin");
  passwd->add_option("user", passwd_user, "user name (for the config's auth.users)");

  app::BackupOptions bo;
  auto* backup = app.add_subcommand("backup", "snapshots of the SQLite files (docs/BACKUP.md)");
  backup->require_subcommand(1);
  auto backup_opts = [&](CLI::App* sub, bool with_id) {
    sub->add_option("--config", bo.config_file, "the instance's configuration file (default: the built-in defaults)");
    sub->add_option("--database", bo.database, "only this database name's file");
    if (with_id) sub->add_option("--id", bo.id, "only this snapshot");
  };
  auto* backup_now = backup->add_subcommand(
      "now", "take a snapshot now: through the running metagate (which waits for its upload to S3), else directly");
  backup_opts(backup_now, false);
  backup_now->add_option("--host", bo.host, "host of the running metagate (default: --config's first listen, or 127.0.0.1)");
  backup_now->add_option("--port", bo.port, "its port (default: --config's first listen, or 5432)");
  backup_now->add_option("--user", bo.user, "an admin user of its console (password from PGPASSWORD or ~/.pgpass)");
  auto* backup_list = backup->add_subcommand("list", "list the snapshots");
  backup_opts(backup_list, false);
  auto* backup_verify = backup->add_subcommand("verify", "read every snapshot back: checksums and integrity_check");
  backup_opts(backup_verify, true);

  app::RestoreOptions ro;
  auto* restore = app.add_subcommand("restore", "build a database file from a snapshot");
  restore->add_option("--config", ro.backup.config_file, "the instance's configuration file");
  restore->add_option("--database", ro.backup.database, "the database name (when the config serves several files)");
  restore->add_option("--from", ro.from, "where the snapshots are: local")->check(CLI::IsMember({"local", "s3"}));
  restore->add_option("--s3-copy", ro.s3_copy,
                      "with --from s3: a copy of the bucket's objects on disk (aws s3 sync s3://BUCKET/PREFIX/DATABASE/ DIR)");
  restore->add_option("--to-time", ro.to_time, "the newest snapshot at or before this UTC time (2026-12-06T11:00:00Z)");
  restore->add_option("--id", ro.backup.id, "this snapshot");
  restore->add_option("--output", ro.output, "the file to write (must not exist, unless --force)")->required();
  restore->add_flag("--force", ro.force, "replace --output (only while no process has it open)");

  CLI11_PARSE(app, argc, argv);

  if (*backup_now) return app::backup_now(bo, std::cout, std::cerr);
  if (*backup_list) return app::backup_list(bo, std::cout, std::cerr);
  if (*backup_verify) return app::backup_verify(bo, std::cout, std::cerr);
  if (*restore) return app::restore(ro, std::cout, std::cerr);

  if (*check) {
    auto cfg = config::load_config_file(check_file);
    if (!cfg) {
      std::cerr << cfg.error().to_string() << "\n";
      return 1;
    }
    for (const auto& w : cfg->warnings) std::cerr << "warning: " << w.to_string() << "\n";
    std::cout << check_file << ": OK\n";
    return 0;
  }
  if (*passwd) {
    std::string pw;
    std::getline(std::cin, pw);
    auto v = auth::make_scram_verifier(pw);
    if (!v) {
      std::cerr << v.error().message << "\n";
      return 1;
    }
    std::cout << v->to_string() << "\n";
    return 0;
  }
  if (*status) return app::print_status(st, std::cout, std::cerr);
  if (*switchover) return app::run_switchover(so, std::cout, std::cerr);

  if (!sqlite_path.empty()) overrides.sqlite = sqlite_path;
  if (!metrics_addr.empty()) overrides.metrics = metrics_addr;
  if (!postgres_conninfo.empty()) overrides.postgres = postgres_conninfo;
  if (!pool_mode.empty()) overrides.pool_mode = pool_mode;
  auto loaded = load(config_file, overrides);
  if (!loaded) {
    std::cerr << loaded.error().to_string() << "\n";
    return 1;
  }
  config::Config cfg = std::move(*loaded);
  setup_logging(cfg.log);
  for (const auto& w : cfg.warnings) spdlog::warn("config: {}", w.to_string());
  std::signal(SIGPIPE, SIG_IGN);
  try {
    server::Server::ConfigSource source;
    if (!config_file.empty()) source = [config_file, overrides] { return load(config_file, overrides); };
    server::Server srv(std::move(cfg), source);
    srv.on_reload([](bool starting) {
      if (starting) {
        app::sd_notify("RELOADING=1\nSTATUS=reloading the configuration\nMONOTONIC_USEC=" + std::to_string(monotonic_usec()));
      } else {
        app::sd_notify("READY=1\nSTATUS=accepting connections");
      }
    });
    srv.start();
    // Signals are handled on their own io_context so a busy worker never delays shutdown.
    boost::asio::io_context sig_ctx;
    boost::asio::signal_set signals(sig_ctx, SIGINT, SIGTERM, SIGHUP);
    std::function<void(const boost::system::error_code&, int)> on_signal = [&](const boost::system::error_code& ec, int sig) {
      if (ec) return;
      if (sig == SIGHUP) {
        spdlog::info("SIGHUP received: reloading the configuration");
        (void)srv.reload();
      } else {
        spdlog::info("signal {} received, shutting down", sig);
        app::sd_notify("STOPPING=1\nSTATUS=shutting down");
        srv.shutdown();
      }
      signals.async_wait(on_signal);
    };
    signals.async_wait(on_signal);
    // The systemd watchdog: WATCHDOG=1 at half the interval systemd asked for.
    boost::asio::steady_timer watchdog(sig_ctx);
    std::function<void(const boost::system::error_code&)> on_watchdog;
    if (const char* w = std::getenv("WATCHDOG_USEC")) {
      const char* wpid = std::getenv("WATCHDOG_PID");
      long usec = std::atol(w);
      if (usec > 0 && (!wpid || std::atol(wpid) == static_cast<long>(::getpid()))) {
        auto period = std::chrono::microseconds(usec / 2);
        on_watchdog = [&, period, usec](const boost::system::error_code& ec) {
          if (ec) return;
          // Only a live control loop is reported alive: a hung one lets systemd restart us.
          if (srv.responsive(usec / 1000)) app::sd_notify("WATCHDOG=1");
          else spdlog::error("watchdog: the control loop has not run for {} ms", usec / 1000);
          watchdog.expires_after(period);
          watchdog.async_wait(on_watchdog);
        };
        watchdog.expires_after(std::chrono::microseconds(0));
        watchdog.async_wait(on_watchdog);
      }
    }
    std::thread sig_thread([&] { sig_ctx.run(); });
    // Listening sockets are open: under systemd (Type=notify) the unit is now active.
    app::sd_notify("READY=1\nSTATUS=accepting connections\nMAINPID=" + std::to_string(::getpid()));
    srv.run();
    sig_ctx.stop();
    sig_thread.join();
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
    return 1;
  }
  spdlog::info("stopped");
  return 0;
}
