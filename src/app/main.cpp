// metagate: the command line (serve, check-config).
#include <CLI/CLI.hpp>
#include <iostream>

int main(int argc, char** argv) {
  CLI::App app{"metagate — PostgreSQL wire-protocol host for Grafana's metadata database"};
  app.require_subcommand(1);
  auto* serve = app.add_subcommand("serve", "serve clients");
  (void)serve;
  CLI11_PARSE(app, argc, argv);
  return 0;
}
