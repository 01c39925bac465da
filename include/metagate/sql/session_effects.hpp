// What a statement does to the session beyond its transaction — what transaction pooling
// must carry from one server connection to the next, or must not move at all:
//  - session settings (SET, RESET, DISCARD, set_config): the pooler re-reads them afterwards;
//  - state that lives on one server connection and pins the client to it: session-level
//    advisory locks, LISTEN, temporary tables, WITH HOLD cursors;
//  - SQL-level PREPARE / EXECUTE / DEALLOCATE, which the pooler replays on other servers.
// A lexical pre-check (PostgreSQL's token rules: strings, quoted identifiers, dollar quotes,
// comments) decides cheaply that most statements have none of these; only the others are
// parsed (libpg_query) and read from the parse tree. No I/O.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace metagate::sql {

enum PinCause : uint8_t {
  kPinAdvisoryLock = 1,
  kPinListen = 2,
  kPinTempTable = 4,
  kPinHoldCursor = 8,
  kPinOther = 16,  // the server holds such state, from a statement metagate did not see as pinning
};
inline constexpr int kPinCauses = 5;

struct SessionEffects {
  bool settings = false;     // may change session settings
  uint8_t pins = 0;          // PinCause bits: may create such state
  bool may_release = false;  // may release pinning state (unlock, UNLISTEN, DISCARD, CLOSE, DROP)
  struct Prepare {
    std::string name;
    std::string text;  // the whole PREPARE statement
  };
  std::vector<Prepare> prepares;
  std::vector<std::string> executes;     // EXECUTE name
  std::vector<std::string> deallocates;  // DEALLOCATE name
  bool deallocate_all = false;           // DEALLOCATE ALL, DISCARD ALL
  bool unparsable = false;               // passed the pre-check but did not parse
  bool any() const {
    return settings || pins || may_release || !prepares.empty() || !executes.empty() || !deallocates.empty() ||
           deallocate_all;
  }
};

// False when the text certainly has no session effects (the common case; no parse).
bool may_have_session_effects(std::string_view text);

// The effects of every statement in the text (a simple Query may hold several).
SessionEffects session_effects(std::string_view text);

// A text that is one statement ending the transaction block: COMMIT / END, or ROLLBACK /
// ABORT (not ROLLBACK TO SAVEPOINT, not AND CHAIN, not two-phase). Parses the text; meant
// for the rare moments the pooler must answer for a transaction it lost.
enum class TransactionEnd { kNone, kCommit, kRollback };
TransactionEnd transaction_end(std::string_view text);
// Whether running the text may commit a transaction: one of its statements is COMMIT / END,
// PREPARE TRANSACTION or COMMIT PREPARED (texts over 4 KiB are not read: true).
bool may_commit(std::string_view text);

std::string_view to_string(PinCause c);

}  // namespace metagate::sql
