// The catalog model, its JSON persistence, indexdef text, and the emulated system relations.
#include "metagate/sql/catalog.hpp"

#include "metagate/sql/ident.hpp"

namespace metagate::sql {

namespace o = types::oid;

std::string relation_key(std::string_view schema, std::string_view name) {
  if (schema.empty() || schema == "public") return std::string(name);
  return std::string(schema) + "." + std::string(name);
}

std::pair<std::string, std::string> split_relation_key(std::string_view key) {
  auto dot = key.find('.');
  if (dot == std::string_view::npos) return {"public", std::string(key)};
  return {std::string(key.substr(0, dot)), std::string(key.substr(dot + 1))};
}

std::string Table::bare_name() const { return split_relation_key(name).second; }

const Column* Table::find_column(std::string_view n) const {
  for (const auto& c : columns) {
    if (c.name == n) return &c;
  }
  return nullptr;
}

int Table::column_index(std::string_view n) const {
  for (size_t i = 0; i < columns.size(); ++i) {
    if (columns[i].name == n) return static_cast<int>(i);
  }
  return -1;
}

const Table* Catalog::find_table(std::string_view name) const {
  auto it = tables.find(std::string(name));
  return it == tables.end() ? nullptr : &it->second;
}

const Index* Catalog::find_index(std::string_view name) const {
  auto it = indexes.find(std::string(name));
  return it == indexes.end() ? nullptr : &it->second;
}

const Sequence* Catalog::find_sequence(std::string_view name) const {
  auto it = sequences.find(std::string(name));
  return it == sequences.end() ? nullptr : &it->second;
}

std::vector<const Index*> Catalog::table_indexes(std::string_view table) const {
  std::vector<const Index*> out;
  for (const auto& [_, idx] : indexes) {
    if (idx.table == table) out.push_back(&idx);
  }
  return out;
}

const Index* Catalog::primary_key(std::string_view table) const {
  for (const auto& [_, idx] : indexes) {
    if (idx.table == table && idx.primary) return &idx;
  }
  return nullptr;
}

std::string Catalog::indexdef(const Index& idx) const {
  std::string s = idx.unique ? "CREATE UNIQUE INDEX " : "CREATE INDEX ";
  auto [ischema, iname] = split_relation_key(idx.name);
  auto [tschema, tname] = split_relation_key(idx.table);
  s += pg_quote_ident(iname);
  s += " ON " + pg_quote_ident(tschema) + ".";
  s += pg_quote_ident(tname);
  s += " USING btree (";
  for (size_t i = 0; i < idx.columns.size(); ++i) {
    if (i) s += ", ";
    s += pg_quote_ident(idx.columns[i]);
    if (i < idx.descending.size() && idx.descending[i]) s += " DESC";
  }
  s += ")";
  return s;
}

nlohmann::json Catalog::to_json() const {
  nlohmann::json j;
  j["version"] = version;
  j["next_oid"] = next_oid;
  j["schemas"] = schemas;
  auto& jt = j["tables"] = nlohmann::json::array();
  for (const auto& [_, t] : tables) {
    nlohmann::json cols = nlohmann::json::array();
    for (const auto& c : t.columns) {
      nlohmann::json jc = {{"name", c.name}, {"type", c.type}, {"typmod", c.typmod}, {"not_null", c.not_null}};
      if (c.default_sql) jc["default"] = *c.default_sql;
      if (!c.sequence.empty()) jc["sequence"] = c.sequence;
      if (!c.collation.empty()) jc["collation"] = c.collation;
      cols.push_back(std::move(jc));
    }
    jt.push_back({{"name", t.name}, {"oid", t.oid}, {"columns", std::move(cols)}});
  }
  auto& ji = j["indexes"] = nlohmann::json::array();
  for (const auto& [_, i] : indexes) {
    ji.push_back({{"name", i.name}, {"table", i.table}, {"unique", i.unique}, {"primary", i.primary},
                  {"constraint", i.constraint}, {"columns", i.columns}, {"descending", i.descending},
                  {"oid", i.oid}});
  }
  auto& js = j["sequences"] = nlohmann::json::array();
  for (const auto& [_, s] : sequences) {
    js.push_back({{"name", s.name}, {"type", s.type}, {"start", s.start}, {"increment", s.increment},
                  {"min", s.min_value}, {"max", s.max_value}, {"owned_by_table", s.owned_by_table},
                  {"owned_by_column", s.owned_by_column}, {"oid", s.oid}});
  }
  return j;
}

Catalog Catalog::from_json(const nlohmann::json& j) {
  Catalog c;
  c.version = j.value("version", uint64_t{0});
  c.next_oid = j.value("next_oid", uint32_t{16384});
  if (j.contains("schemas")) c.schemas = j.at("schemas").get<std::map<std::string, uint32_t>>();
  for (const auto& jt : j.value("tables", nlohmann::json::array())) {
    Table t;
    t.name = jt.at("name").get<std::string>();
    t.schema = split_relation_key(t.name).first;
    t.oid = jt.value("oid", 0u);
    for (const auto& jc : jt.at("columns")) {
      Column col;
      col.name = jc.at("name").get<std::string>();
      col.type = jc.at("type").get<Oid>();
      col.typmod = jc.value("typmod", -1);
      col.not_null = jc.value("not_null", false);
      if (jc.contains("default")) col.default_sql = jc.at("default").get<std::string>();
      col.sequence = jc.value("sequence", std::string());
      col.collation = jc.value("collation", std::string());
      t.columns.push_back(std::move(col));
    }
    c.tables.emplace(t.name, std::move(t));
  }
  for (const auto& ji : j.value("indexes", nlohmann::json::array())) {
    Index i;
    i.name = ji.at("name").get<std::string>();
    i.table = ji.at("table").get<std::string>();
    i.unique = ji.value("unique", false);
    i.primary = ji.value("primary", false);
    i.constraint = ji.value("constraint", false);
    i.columns = ji.at("columns").get<std::vector<std::string>>();
    i.descending = ji.value("descending", std::vector<bool>{});
    i.oid = ji.value("oid", 0u);
    c.indexes.emplace(i.name, std::move(i));
  }
  for (const auto& js : j.value("sequences", nlohmann::json::array())) {
    Sequence s;
    s.name = js.at("name").get<std::string>();
    s.type = js.value("type", o::kInt8);
    s.start = js.value("start", int64_t{1});
    s.increment = js.value("increment", int64_t{1});
    s.min_value = js.value("min", int64_t{1});
    s.max_value = js.value("max", INT64_MAX);
    s.owned_by_table = js.value("owned_by_table", std::string());
    s.owned_by_column = js.value("owned_by_column", std::string());
    s.oid = js.value("oid", 0u);
    c.sequences.emplace(s.name, std::move(s));
  }
  return c;
}

namespace {

SystemRelation rel(std::string schema, std::string name, std::vector<std::pair<std::string, Oid>> cols) {
  SystemRelation r;
  r.schema = schema;
  r.table.schema = schema;
  r.table.name = name;
  r.table.system = true;
  for (auto& [n, t] : cols) {
    Column c;
    c.name = n;
    c.type = t;
    r.table.columns.push_back(std::move(c));
  }
  r.storage = schema + "." + name;
  return r;
}

std::vector<SystemRelation> make_system_relations() {
  std::vector<SystemRelation> v;
  v.push_back(rel("pg_catalog", "pg_tables",
                  {{"schemaname", o::kName}, {"tablename", o::kName}, {"tableowner", o::kName},
                   {"tablespace", o::kName}, {"hasindexes", o::kBool}, {"hasrules", o::kBool},
                   {"hastriggers", o::kBool}, {"rowsecurity", o::kBool}}));
  v.push_back(rel("pg_catalog", "pg_indexes",
                  {{"schemaname", o::kName}, {"tablename", o::kName}, {"indexname", o::kName},
                   {"tablespace", o::kName}, {"indexdef", o::kText}}));
  v.push_back(rel("pg_catalog", "pg_namespace",
                  {{"oid", o::kOid}, {"nspname", o::kName}, {"nspowner", o::kOid}, {"nspacl", o::kText}}));
  v.push_back(rel("pg_catalog", "pg_class",
                  {{"oid", o::kOid}, {"relname", o::kName}, {"relnamespace", o::kOid}, {"reltype", o::kOid},
                   {"relowner", o::kOid}, {"relam", o::kOid}, {"relfilenode", o::kOid},
                   {"reltablespace", o::kOid}, {"relpages", o::kInt4}, {"reltuples", o::kFloat4},
                   {"relhasindex", o::kBool}, {"relisshared", o::kBool}, {"relpersistence", o::kChar},
                   {"relkind", o::kChar}, {"relnatts", o::kInt2}, {"relchecks", o::kInt2},
                   {"relhasrules", o::kBool}, {"relhastriggers", o::kBool}, {"relhassubclass", o::kBool},
                   {"relrowsecurity", o::kBool}, {"relforcerowsecurity", o::kBool},
                   {"relispopulated", o::kBool}, {"relreplident", o::kChar}, {"relispartition", o::kBool},
                   {"relacl", o::kText}, {"reloptions", o::kText}, {"reltoastrelid", o::kOid},
                   {"reloftype", o::kOid}, {"relpartbound", o::kPgNodeTree}}));
  v.push_back(rel("pg_catalog", "pg_attribute",
                  {{"attrelid", o::kOid}, {"attname", o::kName}, {"atttypid", o::kOid}, {"attlen", o::kInt2},
                   {"attnum", o::kInt2}, {"atttypmod", o::kInt4}, {"attndims", o::kInt2},
                   {"attnotnull", o::kBool}, {"atthasdef", o::kBool}, {"attidentity", o::kChar},
                   {"attgenerated", o::kChar}, {"attisdropped", o::kBool}, {"attislocal", o::kBool},
                   {"attcollation", o::kOid}}));
  v.push_back(rel("pg_catalog", "pg_am",
                  {{"oid", o::kOid}, {"amname", o::kName}, {"amhandler", o::kText}, {"amtype", o::kChar}}));
  v.push_back(rel("pg_catalog", "pg_attrdef",
                  {{"oid", o::kOid}, {"adrelid", o::kOid}, {"adnum", o::kInt2}, {"adbin", o::kText}}));
  v.push_back(rel("pg_catalog", "pg_type",
                  {{"oid", o::kOid}, {"typname", o::kName}, {"typnamespace", o::kOid}, {"typlen", o::kInt2},
                   {"typbyval", o::kBool}, {"typtype", o::kChar}, {"typcategory", o::kChar},
                   {"typelem", o::kOid}, {"typarray", o::kOid}, {"typnotnull", o::kBool},
                   {"typbasetype", o::kOid}, {"typtypmod", o::kInt4}, {"typrelid", o::kOid},
                   {"typcollation", o::kOid}}));
  // Read by psql's \d and other tools; metagate has no policies, extended statistics,
  // publications or inheritance, so these stay empty.
  v.push_back(rel("pg_catalog", "pg_collation",
                  {{"oid", o::kOid}, {"collname", o::kName}, {"collnamespace", o::kOid}, {"collowner", o::kOid},
                   {"collprovider", o::kChar}, {"collisdeterministic", o::kBool}, {"collencoding", o::kInt4},
                   {"collcollate", o::kText}, {"collctype", o::kText}}));
  v.push_back(rel("pg_catalog", "pg_policy",
                  {{"oid", o::kOid}, {"polname", o::kName}, {"polrelid", o::kOid}, {"polcmd", o::kChar},
                   {"polpermissive", o::kBool}, {"polroles", o::kOidArray}, {"polqual", o::kPgNodeTree},
                   {"polwithcheck", o::kPgNodeTree}}));
  v.push_back(rel("pg_catalog", "pg_statistic_ext",
                  {{"oid", o::kOid}, {"stxrelid", o::kOid}, {"stxname", o::kName}, {"stxnamespace", o::kOid},
                   {"stxowner", o::kOid}, {"stxstattarget", o::kInt4}, {"stxkeys", o::kInt2Vector},
                   {"stxkind", o::kCharArray}, {"stxexprs", o::kPgNodeTree}}));
  v.push_back(rel("pg_catalog", "pg_publication",
                  {{"oid", o::kOid}, {"pubname", o::kName}, {"pubowner", o::kOid}, {"puballtables", o::kBool},
                   {"pubinsert", o::kBool}, {"pubupdate", o::kBool}, {"pubdelete", o::kBool},
                   {"pubtruncate", o::kBool}, {"pubviaroot", o::kBool}}));
  v.push_back(rel("pg_catalog", "pg_publication_namespace",
                  {{"oid", o::kOid}, {"pnpubid", o::kOid}, {"pnnspid", o::kOid}}));
  v.push_back(rel("pg_catalog", "pg_publication_rel",
                  {{"oid", o::kOid}, {"prpubid", o::kOid}, {"prrelid", o::kOid}, {"prqual", o::kPgNodeTree},
                   {"prattrs", o::kInt2Vector}}));
  v.push_back(rel("pg_catalog", "pg_inherits",
                  {{"inhrelid", o::kOid}, {"inhparent", o::kOid}, {"inhseqno", o::kInt4},
                   {"inhdetachpending", o::kBool}}));
  v.push_back(rel("pg_catalog", "pg_index",
                  {{"indexrelid", o::kOid}, {"indrelid", o::kOid}, {"indnatts", o::kInt2},
                   {"indnkeyatts", o::kInt2}, {"indisunique", o::kBool}, {"indisprimary", o::kBool},
                   {"indisexclusion", o::kBool}, {"indimmediate", o::kBool}, {"indisclustered", o::kBool},
                   {"indisvalid", o::kBool}, {"indisready", o::kBool}, {"indislive", o::kBool},
                   {"indisreplident", o::kBool}, {"indkey", o::kInt2Vector}}));
  v.push_back(rel("pg_catalog", "pg_constraint",
                  {{"oid", o::kOid}, {"conname", o::kName}, {"connamespace", o::kOid}, {"contype", o::kChar},
                   {"condeferrable", o::kBool}, {"condeferred", o::kBool}, {"convalidated", o::kBool},
                   {"conrelid", o::kOid}, {"contypid", o::kOid}, {"conindid", o::kOid},
                   {"confrelid", o::kOid}, {"conkey", o::kInt2Array}}));
  v.push_back(rel("pg_catalog", "pg_database",
                  {{"oid", o::kOid}, {"datname", o::kName}, {"datdba", o::kOid}, {"encoding", o::kInt4},
                   {"datcollate", o::kText}, {"datctype", o::kText}, {"datistemplate", o::kBool},
                   {"datallowconn", o::kBool}, {"datconnlimit", o::kInt4}}));
  v.push_back(rel("pg_catalog", "pg_roles",
                  {{"rolname", o::kName}, {"rolsuper", o::kBool}, {"rolinherit", o::kBool},
                   {"rolcreaterole", o::kBool}, {"rolcreatedb", o::kBool}, {"rolcanlogin", o::kBool},
                   {"oid", o::kOid}}));
  v.push_back(rel("pg_catalog", "pg_sequences",
                  {{"schemaname", o::kName}, {"sequencename", o::kName}, {"sequenceowner", o::kName},
                   {"data_type", o::kRegtype}, {"start_value", o::kInt8}, {"min_value", o::kInt8},
                   {"max_value", o::kInt8}, {"increment_by", o::kInt8}, {"cycle", o::kBool},
                   {"cache_size", o::kInt8}, {"last_value", o::kInt8}}));
  v.push_back(rel("information_schema", "tables",
                  {{"table_catalog", o::kName}, {"table_schema", o::kName}, {"table_name", o::kName},
                   {"table_type", o::kVarchar}, {"self_referencing_column_name", o::kName},
                   {"reference_generation", o::kVarchar}, {"user_defined_type_catalog", o::kName},
                   {"user_defined_type_schema", o::kName}, {"user_defined_type_name", o::kName},
                   {"is_insertable_into", o::kVarchar}, {"is_typed", o::kVarchar},
                   {"commit_action", o::kVarchar}}));
  v.push_back(rel("information_schema", "columns",
                  {{"table_catalog", o::kName}, {"table_schema", o::kName}, {"table_name", o::kName},
                   {"column_name", o::kName}, {"ordinal_position", o::kInt4}, {"column_default", o::kVarchar},
                   {"is_nullable", o::kVarchar}, {"data_type", o::kVarchar},
                   {"character_maximum_length", o::kInt4}, {"character_octet_length", o::kInt4},
                   {"numeric_precision", o::kInt4}, {"numeric_precision_radix", o::kInt4},
                   {"numeric_scale", o::kInt4}, {"datetime_precision", o::kInt4},
                   {"udt_catalog", o::kName}, {"udt_schema", o::kName}, {"udt_name", o::kName},
                   {"is_identity", o::kVarchar}, {"is_generated", o::kVarchar}, {"is_updatable", o::kVarchar}}));
  // information_schema's yes_or_no domain is varchar(3).
  for (auto& r : v) {
    if (r.schema != "information_schema") continue;
    for (auto& c : r.table.columns) {
      if (c.name == "is_nullable" || c.name == "is_identity" || c.name == "is_updatable" ||
          c.name == "is_insertable_into" || c.name == "is_typed")
        c.typmod = 7;
    }
  }
  return v;
}

}  // namespace

const std::vector<SystemRelation>& system_relations() {
  static const std::vector<SystemRelation> rels = make_system_relations();
  return rels;
}

const SystemRelation* find_system_relation(std::string_view schema, std::string_view name) {
  for (const auto& r : system_relations()) {
    if (r.table.name == name && (schema.empty() ? r.schema == "pg_catalog" : schema == r.schema)) return &r;
  }
  return nullptr;
}

}  // namespace metagate::sql
