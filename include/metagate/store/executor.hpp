// Executing a translated Plan on a SQLite connection: parameters decoded from the wire into
// stored values, rows stepped and encoded as PostgreSQL DataRows (text or binary per
// column), row counts for the command tag.
#pragma once

#include <sqlite3.h>

#include <optional>
#include <string>
#include <vector>

#include "metagate/sql/plan.hpp"
#include "metagate/store/sqlite_store.hpp"
#include "metagate/types/copy_format.hpp"
#include "metagate/types/value.hpp"
#include "metagate/wire/backend.hpp"

namespace metagate::store {

// Wire parameters → stored values, by the types the plan gave its parameters.
PgResult<std::vector<types::Value>> decode_params(const sql::Plan& plan, const std::vector<int16_t>& formats,
                                                  const std::vector<std::optional<std::string>>& raw,
                                                  const types::SessionContext& sc);

// Format code of result column i under Bind's result-format list.
int16_t result_format(const std::vector<int16_t>& formats, size_t i);

// A statement in progress (a portal's execution state).
class Cursor {
 public:
  Cursor() = default;
  Cursor(Cursor&& o) noexcept { *this = std::move(o); }
  Cursor& operator=(Cursor&& o) noexcept;
  ~Cursor();

  static PgResult<Cursor> open(Connection& conn, sql::PlanPtr plan, const std::vector<types::Value>& params,
                               const sql::Catalog* catalog);
  // Appends up to max_rows DataRows (0 = no limit). Returns true once the statement is done.
  PgResult<bool> fetch(wire::Writer& w, const std::vector<int16_t>& result_formats, int32_t max_rows,
                       const types::SessionContext& sc, const sql::Catalog* catalog);
  // COPY TO: appends every remaining row as one CopyData message in the given format.
  PgResult<bool> fetch_copy(wire::Writer& w, const types::CopyOptions& opts, const types::SessionContext& sc,
                            const sql::Catalog* catalog);
  std::string command_tag() const;
  bool done() const { return done_; }
  uint64_t rows() const { return rows_; }
  void close();

 private:
  Connection* conn_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
  sql::PlanPtr plan_;
  uint64_t rows_ = 0;
  int64_t changes_ = 0;
  bool done_ = false;
};

}  // namespace metagate::store
