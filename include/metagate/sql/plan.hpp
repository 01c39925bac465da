// Plan: what the translator makes of one PostgreSQL statement — SQLite SQL with typed
// parameters and typed result columns, or an action for the session/store (transaction
// control, settings, DDL with its new catalog). Plans without DDL are cached and shared.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "metagate/sql/catalog.hpp"

namespace metagate::sql {

enum class PlanKind {
  kQuery,       // run sqlite_sql (rows if columns is non-empty)
  kBegin,
  kCommit,
  kRollback,
  kSavepoint,
  kRelease,
  kRollbackTo,
  kDdl,         // run ddl_sql in order, then install new_catalog
  kSet,         // SET name = value / RESET / SET LOCAL
  kShow,        // SHOW name (one text column named after the setting)
  kNoop,        // accepted and ignored (VACUUM, ANALYZE, CHECKPOINT...): tag only
  kDiscardAll,
  kCopyIn,      // COPY table FROM STDIN: copy_insert runs once per row
  kCopyOut,     // COPY table/query TO STDOUT: run sqlite_sql, rows rendered in copy format
  kPrepare,     // PREPARE name [(types)] AS stmt: prepared_plan under prepared_name
  kExecute,     // EXECUTE name [(constants)]: execute_params as text-format parameters
  kDeallocate,  // DEALLOCATE [PREPARE] name | ALL (prepared_name empty)
};

// How a result column's SQLite value is turned into the PostgreSQL value.
struct OutputColumn {
  std::string name;
  Oid type = 0;
  int32_t typmod = -1;
  uint32_t table_oid = 0;
  int16_t attnum = 0;
};

struct ParamSlot {
  Oid type = 0;  // 0 = not determined by the statement (sent as unknown → text)
  int32_t typmod = -1;
};

struct Plan {
  PlanKind kind = PlanKind::kQuery;
  std::string tag;              // command tag word(s): SELECT, INSERT, UPDATE, CREATE TABLE, ...
  std::string sqlite_sql;
  std::vector<ParamSlot> params;
  std::vector<OutputColumn> columns;
  bool returns_rows = false;    // SELECT or DML with RETURNING
  bool writes = false;          // must run on the writer connection
  bool row_count_tag = false;   // tag carries a row count (SELECT n, UPDATE n, INSERT 0 n...)
  // Literal constants lifted out of the text (for statement-shape caching): bound after params.
  // kDdl:
  std::vector<std::string> ddl_sql;
  std::shared_ptr<Catalog> new_catalog;
  // kSet / kShow:
  std::string setting;
  std::string value;
  bool is_local = false;
  bool reset = false;
  // kSavepoint etc.
  std::string savepoint;
  // kCopyIn / kCopyOut:
  bool copy_csv = false;
  char copy_delimiter = '\t';
  std::string copy_null = "\\N";
  bool copy_header = false;
  char copy_quote = '"';
  char copy_escape = '"';
  std::shared_ptr<const Plan> copy_insert;  // INSERT ... VALUES ($1..$n) for each row
  // kPrepare / kExecute / kDeallocate:
  std::string prepared_name;
  std::shared_ptr<const Plan> prepared_plan;
  std::vector<Oid> prepared_types;                        // declared in PREPARE name (types)
  std::vector<std::optional<std::string>> execute_params;  // text form; nullopt = NULL
  // Statement-level notices to send (e.g. "relation already exists, skipping").
  std::vector<std::string> notices;
};

using PlanPtr = std::shared_ptr<const Plan>;

}  // namespace metagate::sql
