// What transaction pooling must remember between a client and whichever server connection it
// is using, with no I/O (unit-tested and fuzzed on its own):
//  - StatementRegistry: statement texts interned per pool, so clients preparing the same text
//    share one server-side statement ("metagate_<id>") and never collide on names;
//  - ServerStatements: which of them one server connection has prepared (LRU, bounded);
//  - ResponseTracker: what the server owes the client for each message sent to it, so the
//    relay can drop the answers to messages it added (a re-Parse, a Close of an evicted
//    statement, a SET) and insert the answers to messages it answered itself (Close of a
//    statement, a Parse the server already has) at the right place in the stream.
#pragma once

#include <cstdint>
#include <deque>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace metagate::pool {

struct StatementDef {
  uint64_t id = 0;
  std::string query;
  std::string types;  // Parse's raw parameter-type section
  std::string server_name;
};
using StatementPtr = std::shared_ptr<const StatementDef>;

// Thread-safe; shared by the sessions of one pool.
class StatementRegistry {
 public:
  StatementPtr intern(std::string_view query, std::string_view types);
  // The server copies of `def` are stale (its result type changed): the next Parse of the
  // same text gets a new statement.
  void retire(const StatementDef& def);
  size_t size();

 private:
  std::mutex mu_;
  uint64_t next_id_ = 1;
  size_t sweep_at_ = 1024;
  std::unordered_map<std::string, std::weak_ptr<const StatementDef>> map_;
};

std::string server_statement_name(uint64_t id);

// One server connection's prepared statements (ids), least recently used first.
class ServerStatements {
 public:
  explicit ServerStatements(size_t capacity = 1000) : capacity_(capacity == 0 ? 1 : capacity) {}
  bool contains(uint64_t id);  // and marks it used
  // Adds `id`; when full, evicts the least recently used and returns its id (to Close).
  std::optional<uint64_t> add(uint64_t id);
  void remove(uint64_t id);
  void clear();
  size_t size() const { return map_.size(); }

  // The server's unnamed statement: which client's Parse it holds (0 = unknown).
  uint64_t unnamed_owner = 0;

 private:
  size_t capacity_;
  std::list<uint64_t> lru_;  // front = most recently used
  std::unordered_map<uint64_t, std::list<uint64_t>::iterator> map_;
};

enum class Expect : uint8_t {
  kParse,
  kBind,
  kDescribeStatement,
  kDescribePortal,
  kExecute,
  kClose,
  kSync,
  kQuery,         // simple Query: everything up to its ReadyForQuery
  kFunctionCall,  // likewise
  kProbe,         // metagate's own Query reading the session's state: its rows go to the relay
  // Answered by metagate itself, emitted when everything before them has been answered.
  kSyntheticParseComplete,
  kSyntheticCloseComplete,
  kSyntheticError,  // payload: the whole ErrorResponse frame
};

class ResponseTracker {
 public:
  // Something sent to the server (or answered by metagate). `drop`: the client did not send
  // it, so its answers are not passed on (errors are, for Parse). `statement`: a named Parse's
  // statement id (forgotten by the server's cache if the Parse fails).
  void expect(Expect kind, bool drop = false, uint64_t statement = 0, std::string payload = {});

  enum class Verdict : uint8_t { kForward, kDrop };
  struct Outcome {
    Verdict verdict = Verdict::kForward;
    bool ready = false;      // this message was a ReadyForQuery that ended a round
    bool probe_row = false;  // a DataRow answering a kProbe (dropped; the relay reads it)
    bool probe_done = false; // the ReadyForQuery that ends a kProbe
    bool probe_error = false; // an ErrorResponse answering a kProbe (dropped)
    bool own_error = false;   // an ErrorResponse answering metagate's own simple Query (dropped)
  };
  // One message from the server. First appends to `before` what must reach the client ahead of
  // it (synthetic answers whose turn has come). `cache`: the server's statements.
  Outcome on_server_message(char type, std::string& before, ServerStatements& cache);
  // Synthetic answers at the head of the queue (nothing before them owed by the server).
  void take_leading(std::string& out);

  bool empty() const { return queue_.empty(); }
  bool head_is_synthetic() const;
  // The next answer the server owes belongs to a kProbe (its DataRows must be read whole).
  bool probe_next() const;
  // The statement id of the message the server answers next (Bind, Describe, Parse), or 0.
  uint64_t statement_next() const;
  // The kind of the message the server answers next (synthetic answers skipped), if any.
  std::optional<Expect> kind_next() const;
  // The rounds (Sync, Query, FunctionCall) the server still owes an answer for.
  size_t pending_rounds() const;
  // The server was lost: everything owed is forgotten; returns the number of the client's own
  // rounds that were owed (it is owed one ReadyForQuery each; metagate's own are not counted).
  size_t abandon();

 private:
  struct Entry {
    Expect kind;
    bool drop;
    uint64_t statement;
    std::string payload;
  };
  void pop_failed_round(ServerStatements& cache);
  std::deque<Entry> queue_;
  bool skipping_ = false;  // an extended-protocol error: the server ignores all up to Sync
};

}  // namespace metagate::pool
