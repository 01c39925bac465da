// Database: one SQLite store as the server serves it — the store, its write lock and its
// cache of translated statements (shared by every session using that file).
#pragma once

#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "metagate/metrics/metrics.hpp"
#include "metagate/sql/plan.hpp"
#include "metagate/backup/capture.hpp"
#include "metagate/store/sqlite_store.hpp"
#include "write_lock.hpp"

namespace metagate::server {

// Translated statements keyed by text, declared parameter types and catalog version (LRU).
class PlanCache {
 public:
  explicit PlanCache(size_t capacity) : capacity_(capacity) {}
  sql::PlanPtr get(const std::string& key);
  void put(const std::string& key, sql::PlanPtr plan);
  size_t capacity() const { return capacity_; }
  uint64_t hits() const { return hits_; }
  uint64_t misses() const { return misses_; }
  size_t size() {
    std::lock_guard lk(mu_);
    return map_.size();
  }

 private:
  std::mutex mu_;
  size_t capacity_;
  std::list<std::pair<std::string, sql::PlanPtr>> lru_;
  std::unordered_map<std::string, std::list<std::pair<std::string, sql::PlanPtr>>::iterator> map_;
  uint64_t hits_ = 0, misses_ = 0;
};

struct Database {
  std::string path;
  std::unique_ptr<store::SqliteStore> store;
  WriteLock write_lock;
  PlanCache plans{4096};
  metrics::Metrics::SqliteSeries series;  // writer wait and checkpoint histograms for this file
  std::shared_ptr<backup::WalCapture> capture;  // the file's change capture (null: off)
};

}  // namespace metagate::server
