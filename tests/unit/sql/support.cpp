// Test support: reading the Grafana corpora and making scratch stores.
#include "support.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

namespace metagate::testsupport {

std::string shared_dir() {
  if (const char* e = std::getenv("METAGATE_SHARED_DIR"); e && *e) return e;
  return METAGATE_SHARED_DIR;
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<MigrationEntry> load_migrations(const std::string& file) {
  std::vector<MigrationEntry> out;
  std::istringstream in(read_file(file));
  std::string line;
  MigrationEntry cur;
  bool have = false;
  auto flush = [&] {
    if (have) {
      for (auto& c : cur.sql)
        if (c == '`') c = '"';
      out.push_back(cur);
    }
  };
  while (std::getline(in, line)) {
    if (line.rfind("-- [", 0) == 0 && line.find(']') != std::string::npos) {
      flush();
      cur = MigrationEntry{};
      cur.id = std::atoi(line.c_str() + 4);
      cur.title = line.substr(line.find(']') + 2);
      have = true;
      continue;
    }
    if (!have) continue;
    if (line.rfind("--", 0) == 0) {
      if (line.find("NOTE") != std::string::npos) cur.note = true;
      continue;
    }
    cur.sql += line + "\n";
  }
  flush();
  return out;
}

std::unique_ptr<store::SqliteStore> scratch_store(const std::string& tag) {
  auto dir = std::filesystem::temp_directory_path() / ("metagate-test-" + tag + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  store::StoreOptions o;
  o.path = (dir / "test.db").string();
  o.readers = 1;
  o.synchronous = "OFF";
  auto s = store::SqliteStore::open(o);
  if (!s) return nullptr;
  return std::move(*s);
}

}  // namespace metagate::testsupport
