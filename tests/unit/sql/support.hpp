// Test support: Grafana corpora, a catalog grown by replaying migrations, a scratch store.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "metagate/sql/catalog.hpp"
#include "metagate/store/sqlite_store.hpp"

namespace metagate::testsupport {

std::string shared_dir();
std::string read_file(const std::string& path);

struct MigrationEntry {
  int id = 0;
  std::string title;
  std::string sql;  // backticks already turned into double quotes, as xorm does
  bool note = false;  // IfIndexExists-guarded entries Grafana skipped
};
std::vector<MigrationEntry> load_migrations(const std::string& file);

// A store in a fresh temporary file.
std::unique_ptr<store::SqliteStore> scratch_store(const std::string& tag);

}  // namespace metagate::testsupport
