// Runs ha::Monitor against the hosts given and prints a line per view change, for
// tests/integration/ha/run.sh:
//   ha_probe --conninfo "dbname=postgres user=postgres" --seconds 60 127.0.0.1:5433 127.0.0.1:5434
//   -> "generation=1 primary=0 timeline=1 refused=-" ...
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "metagate/ha/monitor.hpp"

using namespace metagate::ha;

int main(int argc, char** argv) {
  spdlog::set_default_logger(spdlog::stderr_color_mt("ha_probe"));  // stdout carries the views
  MonitorOptions o;
  o.interval_ms = 200;
  o.timeout_ms = 2000;
  int seconds = 60;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--conninfo" && i + 1 < argc) {
      o.conninfo = argv[++i];
    } else if (a == "--seconds" && i + 1 < argc) {
      seconds = std::atoi(argv[++i]);
    } else {
      auto colon = a.rfind(':');
      if (colon == std::string::npos) {
        std::fprintf(stderr, "host:port expected, got %s\n", a.c_str());
        return 2;
      }
      o.hosts.push_back({a.substr(0, colon), static_cast<uint16_t>(std::atoi(a.c_str() + colon + 1))});
    }
  }
  Monitor m(o);
  m.start();
  uint64_t gen = 0;
  std::string last;
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < end) {
    auto v = m.wait_for_change(gen, 100);
    std::string refused;
    for (size_t i = 0; i < v->hosts.size(); ++i)
      if (v->hosts[i].refused) refused += (refused.empty() ? "" : ",") + std::to_string(i);
    std::string line = "generation=" + std::to_string(v->generation) +
                       " primary=" + (v->primary ? std::to_string(*v->primary) : std::string("none")) +
                       " timeline=" + std::to_string(v->timeline) + " refused=" + (refused.empty() ? "-" : refused);
    if (line != last) {
      std::printf("%s\n", line.c_str());
      std::fflush(stdout);
      last = line;
    }
    gen = v->generation;
  }
  m.stop();
  return 0;
}
