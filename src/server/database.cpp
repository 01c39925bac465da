// PlanCache: an LRU of translated statements.
#include "database.hpp"

namespace metagate::server {

sql::PlanPtr PlanCache::get(const std::string& key) {
  std::lock_guard lk(mu_);
  auto it = map_.find(key);
  if (it == map_.end()) {
    ++misses_;
    return nullptr;
  }
  ++hits_;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->second;
}

void PlanCache::put(const std::string& key, sql::PlanPtr plan) {
  if (capacity_ == 0) return;
  std::lock_guard lk(mu_);
  auto it = map_.find(key);
  if (it != map_.end()) {
    it->second->second = std::move(plan);
    lru_.splice(lru_.begin(), lru_, it->second);
    return;
  }
  lru_.emplace_front(key, std::move(plan));
  map_[key] = lru_.begin();
  if (map_.size() > capacity_) {
    map_.erase(lru_.back().first);
    lru_.pop_back();
  }
}

}  // namespace metagate::server
