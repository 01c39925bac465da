// The mg_* SQL functions translated statements call (casts, PostgreSQL text output,
// sequences, advisory locks, session information), and the per-statement context they read.
#pragma once

#include <sqlite3.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>

namespace metagate::store {

// Session-scoped, re-entrant, exclusive advisory locks shared by every session of a store.
class AdvisoryLocks {
 public:
  bool try_lock(uint64_t session, int64_t key, bool xact);
  // Waits up to timeout_ms; false on timeout.
  bool lock(uint64_t session, int64_t key, bool xact, int timeout_ms);
  bool unlock(uint64_t session, int64_t key);
  void unlock_all(uint64_t session);
  void release_xact(uint64_t session);

 private:
  struct Holder {
    uint64_t session = 0;
    int count = 0;
    int xact_count = 0;
  };
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<int64_t, Holder> held_;
};

// What the functions need to know about the session running the current statement.
// Set by the executor for the duration of a statement (thread-local).
struct FunctionContext {
  uint64_t session_id = 0;
  std::string user;
  std::string database;
  std::string version;
  int32_t pid = 0;
  int port = 0;
  int64_t transaction_ts = 0;  // µs since 2000-01-01 UTC
  int64_t statement_ts = 0;
  int lock_timeout_ms = 30000;
  AdvisoryLocks* locks = nullptr;
  const std::map<std::string, std::string>* settings = nullptr;
  class SqliteStore* store = nullptr;
  const std::atomic<bool>* cancelled = nullptr;  // set by CancelRequest
};

void set_function_context(FunctionContext* ctx);
FunctionContext* function_context();

// Registers every mg_* function on a connection.
int register_functions(sqlite3* db);

// Errors raised inside functions carry their SQLSTATE: "\x01" + code + "\x01" + message.
std::string encode_function_error(std::string_view sqlstate, std::string_view message);
bool decode_function_error(std::string_view text, std::string& sqlstate, std::string& message);

}  // namespace metagate::store
