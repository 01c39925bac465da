// Statement interning, per-server statement caches and the response tracker.
#include "metagate/pool/tracker.hpp"

namespace metagate::pool {

// ---- StatementRegistry ------------------------------------------------------------------

StatementPtr StatementRegistry::intern(std::string_view query, std::string_view types) {
  std::string key;
  key.reserve(query.size() + 1 + types.size());
  key.append(query);
  key.push_back('\0');
  key.append(types);
  std::lock_guard lk(mu_);
  auto it = map_.find(key);
  if (it != map_.end()) {
    if (auto p = it->second.lock()) return p;
  }
  auto def = std::make_shared<StatementDef>();
  def->id = next_id_++;
  def->query.assign(query);
  def->types.assign(types);
  def->server_name = server_statement_name(def->id);
  map_[std::move(key)] = def;
  if (map_.size() >= sweep_at_) {
    // Forget texts no client holds any more (servers keep ids only; an id is never reused).
    for (auto i = map_.begin(); i != map_.end();) i = i->second.expired() ? map_.erase(i) : std::next(i);
    sweep_at_ = std::max<size_t>(1024, map_.size() * 2);
  }
  return def;
}

void StatementRegistry::retire(const StatementDef& def) {
  std::string key = def.query;
  key.push_back('\0');
  key.append(def.types);
  std::lock_guard lk(mu_);
  auto it = map_.find(key);
  if (it == map_.end()) return;
  auto p = it->second.lock();
  if (!p || p->id == def.id) map_.erase(it);
}

size_t StatementRegistry::size() {
  std::lock_guard lk(mu_);
  return map_.size();
}

std::string server_statement_name(uint64_t id) { return "metagate_" + std::to_string(id); }

// ---- ServerStatements -------------------------------------------------------------------

bool ServerStatements::contains(uint64_t id) {
  auto it = map_.find(id);
  if (it == map_.end()) return false;
  lru_.splice(lru_.begin(), lru_, it->second);
  return true;
}

std::optional<uint64_t> ServerStatements::add(uint64_t id) {
  if (contains(id)) return std::nullopt;
  std::optional<uint64_t> evicted;
  if (map_.size() >= capacity_) {
    evicted = lru_.back();
    map_.erase(lru_.back());
    lru_.pop_back();
  }
  lru_.push_front(id);
  map_[id] = lru_.begin();
  return evicted;
}

void ServerStatements::remove(uint64_t id) {
  auto it = map_.find(id);
  if (it == map_.end()) return;
  lru_.erase(it->second);
  map_.erase(it);
}

void ServerStatements::clear() {
  lru_.clear();
  map_.clear();
  unnamed_owner = 0;
}

// ---- ResponseTracker --------------------------------------------------------------------

namespace {

bool synthetic(Expect k) {
  return k == Expect::kSyntheticParseComplete || k == Expect::kSyntheticCloseComplete || k == Expect::kSyntheticError;
}
bool round_end(Expect k) {
  return k == Expect::kSync || k == Expect::kQuery || k == Expect::kFunctionCall || k == Expect::kProbe;
}
bool simple(Expect k) { return k == Expect::kQuery || k == Expect::kFunctionCall || k == Expect::kProbe; }

}  // namespace

void ResponseTracker::expect(Expect kind, bool drop, uint64_t statement, std::string payload) {
  if (skipping_) {
    // The server ignores everything up to the next Sync after an error, and so would
    // PostgreSQL for metagate's own answers.
    if (kind != Expect::kSync) return;
    skipping_ = false;
  }
  queue_.push_back(Entry{kind, drop, statement, std::move(payload)});
}

bool ResponseTracker::probe_next() const {
  for (const Entry& e : queue_)
    if (!synthetic(e.kind)) return e.kind == Expect::kProbe;
  return false;
}

uint64_t ResponseTracker::statement_next() const {
  for (const Entry& e : queue_)
    if (!synthetic(e.kind)) return e.statement;
  return 0;
}

std::optional<Expect> ResponseTracker::kind_next() const {
  for (const Entry& e : queue_)
    if (!synthetic(e.kind)) return e.kind;
  return std::nullopt;
}

bool ResponseTracker::head_is_synthetic() const { return !queue_.empty() && synthetic(queue_.front().kind); }

void ResponseTracker::take_leading(std::string& out) {
  static constexpr char kParseComplete[] = {'1', 0, 0, 0, 4};
  static constexpr char kCloseComplete[] = {'3', 0, 0, 0, 4};
  while (!queue_.empty() && synthetic(queue_.front().kind)) {
    Entry& e = queue_.front();
    if (e.kind == Expect::kSyntheticParseComplete) out.append(kParseComplete, 5);
    else if (e.kind == Expect::kSyntheticCloseComplete) out.append(kCloseComplete, 5);
    else out.append(e.payload);
    queue_.pop_front();
  }
}

size_t ResponseTracker::pending_rounds() const {
  size_t n = 0;
  for (const Entry& e : queue_) n += round_end(e.kind) ? 1 : 0;
  return n;
}

size_t ResponseTracker::abandon() {
  // Only the client's own rounds: metagate's injected statements (settings, re-prepares, the
  // state probe) are dropped, and the client expects no ReadyForQuery for them.
  size_t n = 0;
  for (const Entry& e : queue_) n += round_end(e.kind) && !e.drop ? 1 : 0;
  queue_.clear();
  skipping_ = false;
  return n;
}

void ResponseTracker::pop_failed_round(ServerStatements& cache) {
  // The failed message, then everything up to the Sync, which the server skips.
  while (!queue_.empty() && queue_.front().kind != Expect::kSync) {
    const Entry& e = queue_.front();
    if (e.kind == Expect::kParse && e.statement != 0) cache.remove(e.statement);
    queue_.pop_front();
  }
  if (queue_.empty()) skipping_ = true;  // the Sync has not been sent yet
}

ResponseTracker::Outcome ResponseTracker::on_server_message(char type, std::string& before, ServerStatements& cache) {
  take_leading(before);
  Outcome o;
  if (queue_.empty()) return o;  // asynchronous (NoticeResponse, ...) or nothing tracked
  Entry& h = queue_.front();
  const bool dropped_simple = simple(h.kind) && h.drop;
  auto complete = [&](Expect kind) {
    if (h.kind != kind) return;  // out of step: pass it on untouched
    if (h.drop) o.verdict = Verdict::kDrop;
    queue_.pop_front();
  };
  switch (type) {
    case 'S':  // ParameterStatus: the client must know, even about metagate's own SETs
    case 'A':  // NotificationResponse
      return o;
    case '1':
      complete(Expect::kParse);
      return o;
    case '2':
      complete(Expect::kBind);
      return o;
    case '3':
      complete(Expect::kClose);
      return o;
    case 'T':
    case 'n':
      if (h.kind == Expect::kDescribeStatement || h.kind == Expect::kDescribePortal) complete(h.kind);
      else if (dropped_simple) o.verdict = Verdict::kDrop;
      return o;
    case 'C':
    case 'I':
    case 's':
      if (h.kind == Expect::kExecute) complete(Expect::kExecute);
      else if (dropped_simple) o.verdict = Verdict::kDrop;
      return o;
    case 'E':
      if (simple(h.kind)) {
        if (h.drop) o.verdict = Verdict::kDrop;
        o.probe_error = h.kind == Expect::kProbe;
        o.own_error = h.drop && h.kind != Expect::kProbe;
        return o;  // the round ends at its ReadyForQuery
      }
      // Extended protocol: the error is passed on even when it answers metagate's own
      // re-Parse (it explains why the client's Bind fails).
      pop_failed_round(cache);
      return o;
    case 'Z': {
      while (!queue_.empty()) {
        Entry e = std::move(queue_.front());
        queue_.pop_front();
        if (e.kind == Expect::kParse && e.statement != 0 && !round_end(e.kind)) cache.remove(e.statement);
        if (round_end(e.kind)) {
          if (e.drop) o.verdict = Verdict::kDrop;
          o.ready = true;
          o.probe_done = e.kind == Expect::kProbe;
          break;
        }
      }
      return o;
    }
    default:
      if (dropped_simple) o.verdict = Verdict::kDrop;
      if (type == 'D' && h.kind == Expect::kProbe) o.probe_row = true;
      return o;
  }
}

}  // namespace metagate::pool
