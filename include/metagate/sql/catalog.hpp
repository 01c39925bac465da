// metagate's own catalog: the PostgreSQL view of every table, column, index and sequence
// (types, typmods, defaults, constraint names). SQLite stores the rows; this catalog keeps
// what PostgreSQL would report about them. It is a value: DDL makes a new version.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "metagate/types/type_catalog.hpp"

namespace metagate::sql {

using types::Oid;

struct Column {
  std::string name;
  Oid type = 0;
  int32_t typmod = -1;
  bool not_null = false;
  std::optional<std::string> default_sql;  // PostgreSQL text of the default, as pg_get_expr shows it
  std::string sequence;                    // set for serial columns: the owned sequence's name
  std::string collation;                   // explicit COLLATE, e.g. "C"
};

struct Index {
  std::string name;
  std::string table;
  bool unique = false;
  bool primary = false;                // the table's primary key (constraint <table>_pkey)
  bool constraint = false;             // made by a UNIQUE constraint (pg_constraint row)
  std::vector<std::string> columns;    // column names (expression indexes are not supported)
  std::vector<bool> descending;
  uint32_t oid = 0;
};

struct Table {
  std::string schema = "public";
  // The catalog key and SQLite table name: the bare name in schema public, "schema.name" in
  // any other schema (see relation_key()).
  std::string name;
  std::vector<Column> columns;
  uint32_t oid = 0;
  bool system = false;  // a pg_catalog / information_schema emulation table

  std::string bare_name() const;  // the name without its schema
  const Column* find_column(std::string_view n) const;
  int column_index(std::string_view n) const;  // -1 if absent
};

struct Sequence {
  std::string name;
  Oid type = types::oid::kInt8;
  int64_t start = 1;
  int64_t increment = 1;
  int64_t min_value = 1;
  int64_t max_value = INT64_MAX;
  std::string owned_by_table;
  std::string owned_by_column;
  uint32_t oid = 0;
};

// Key of a relation (table, index, sequence) in the catalog: "name" in public, else "schema.name".
std::string relation_key(std::string_view schema, std::string_view name);
// Splits a key back into (schema, bare name).
std::pair<std::string, std::string> split_relation_key(std::string_view key);

class Catalog {
 public:
  std::map<std::string, uint32_t> schemas;    // user schemas besides public, with their oids
  uint64_t version = 0;
  uint32_t next_oid = 16384;  // PostgreSQL's FirstNormalObjectId
  std::map<std::string, Table> tables;        // user tables by name (schema public)
  std::map<std::string, Index> indexes;       // by index name
  std::map<std::string, Sequence> sequences;  // by sequence name

  const Table* find_table(std::string_view name) const;
  const Index* find_index(std::string_view name) const;
  const Sequence* find_sequence(std::string_view name) const;
  std::vector<const Index*> table_indexes(std::string_view table) const;
  const Index* primary_key(std::string_view table) const;
  uint32_t allocate_oid() { return next_oid++; }

  // The CREATE INDEX text pg_indexes.indexdef shows for an index.
  std::string indexdef(const Index& idx) const;

  nlohmann::json to_json() const;
  static Catalog from_json(const nlohmann::json& j);
};

using CatalogPtr = std::shared_ptr<const Catalog>;

// The emulated system relations (pg_catalog.*, information_schema.*): their columns and
// the name of the SQLite table that holds their rows.
struct SystemRelation {
  std::string schema;  // "pg_catalog" or "information_schema"
  Table table;         // table.name is the PostgreSQL name, e.g. "pg_tables"
  std::string storage; // SQLite table name, e.g. "pg_catalog.pg_tables"
};
const std::vector<SystemRelation>& system_relations();
const SystemRelation* find_system_relation(std::string_view schema, std::string_view name);

}  // namespace metagate::sql
