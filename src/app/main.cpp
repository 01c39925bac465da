// metagate: the command line — serve, check-config, passwd.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <unistd.h>
#include <iostream>
#include <thread>

#include "sd_notify.hpp"
#include "metagate/auth/credential.hpp"
#include "metagate/config/config.hpp"
#include "metagate/server/server.hpp"

using namespace metagate;

namespace {

int load(const std::string& file, const std::vector<std::string>& listen, const std::string& sqlite,
         config::Config& out) {
  config::ConfigResult<config::Config> cfg = file.empty() ? config::ConfigResult<config::Config>(config::default_config())
                                                          : config::load_config_file(file);
  if (!cfg) {
    std::cerr << cfg.error().to_string() << "\n";
    return 1;
  }
  config::CommandLineOverrides o;
  o.listen = listen;
  if (!sqlite.empty()) o.sqlite = sqlite;
  if (auto s = config::apply_overrides(*cfg, o); !s) {
    std::cerr << s.error().to_string() << "\n";
    return 1;
  }
  out = std::move(*cfg);
  return 0;
}

spdlog::level::level_enum level_of(config::LogLevel l) {
  switch (l) {
    case config::LogLevel::kTrace: return spdlog::level::trace;
    case config::LogLevel::kDebug: return spdlog::level::debug;
    case config::LogLevel::kInfo: return spdlog::level::info;
    case config::LogLevel::kWarn: return spdlog::level::warn;
    case config::LogLevel::kError: return spdlog::level::err;
    case config::LogLevel::kCritical: return spdlog::level::critical;
    default: return spdlog::level::off;
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"metagate — PostgreSQL wire-protocol host for Grafana's metadata database"};
  app.require_subcommand(1);

  std::string config_file, sqlite_path;
  std::vector<std::string> listen;
  auto* serve = app.add_subcommand("serve", "serve PostgreSQL clients");
  serve->add_option("--config", config_file, "JSON configuration file");
  serve->add_option("--listen", listen, "HOST:PORT to listen on (repeatable; overrides the config)");
  serve->add_option("--sqlite", sqlite_path, "serve every database name from this SQLite file");

  std::string check_file;
  auto* check = app.add_subcommand("check-config", "validate a configuration file");
  check->add_option("file", check_file, "JSON configuration file")->required();

  std::string passwd_user;
  auto* passwd = app.add_subcommand("passwd", "print a SCRAM-SHA-256 verifier for a password read from stdin");
  passwd->add_option("user", passwd_user, "user name (for the config's auth.users)");

  CLI11_PARSE(app, argc, argv);

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

  config::Config cfg;
  if (int rc = load(config_file, listen, sqlite_path, cfg); rc != 0) return rc;
  spdlog::set_level(level_of(cfg.log.level));
  for (const auto& w : cfg.warnings) spdlog::warn("config: {}", w.to_string());
  std::signal(SIGPIPE, SIG_IGN);
  try {
    server::Server srv(std::move(cfg));
    srv.start();
    // Signals are handled on their own io_context so a busy worker never delays shutdown.
    boost::asio::io_context sig_ctx;
    boost::asio::signal_set signals(sig_ctx, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code& ec, int sig) {
      if (!ec) {
        spdlog::info("signal {} received, shutting down", sig);
        app::sd_notify("STOPPING=1\nSTATUS=shutting down");
        srv.stop();
      }
    });
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
  return 0;
}
