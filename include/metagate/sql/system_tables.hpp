// The system tables PostgreSQL 15 lists in pg_tables (schemaname, tablename, tablespace, hasindexes),
// from SELECT ... FROM pg_tables WHERE schemaname <> 'public' on PostgreSQL 15.
#pragma once

#include <array>
#include <string_view>

namespace metagate::sql {

struct SystemTableRow {
  std::string_view schema;
  std::string_view name;
  std::string_view tablespace;
  bool hasindexes;
};

inline constexpr std::array<SystemTableRow, 68> kPgSystemTables = {{
    {"information_schema", "sql_features", "", false},
    {"information_schema", "sql_implementation_info", "", false},
    {"information_schema", "sql_parts", "", false},
    {"information_schema", "sql_sizing", "", false},
    {"pg_catalog", "pg_aggregate", "", true},
    {"pg_catalog", "pg_am", "", true},
    {"pg_catalog", "pg_amop", "", true},
    {"pg_catalog", "pg_amproc", "", true},
    {"pg_catalog", "pg_attrdef", "", true},
    {"pg_catalog", "pg_attribute", "", true},
    {"pg_catalog", "pg_auth_members", "pg_global", true},
    {"pg_catalog", "pg_authid", "pg_global", true},
    {"pg_catalog", "pg_cast", "", true},
    {"pg_catalog", "pg_class", "", true},
    {"pg_catalog", "pg_collation", "", true},
    {"pg_catalog", "pg_constraint", "", true},
    {"pg_catalog", "pg_conversion", "", true},
    {"pg_catalog", "pg_database", "pg_global", true},
    {"pg_catalog", "pg_db_role_setting", "pg_global", true},
    {"pg_catalog", "pg_default_acl", "", true},
    {"pg_catalog", "pg_depend", "", true},
    {"pg_catalog", "pg_description", "", true},
    {"pg_catalog", "pg_enum", "", true},
    {"pg_catalog", "pg_event_trigger", "", true},
    {"pg_catalog", "pg_extension", "", true},
    {"pg_catalog", "pg_foreign_data_wrapper", "", true},
    {"pg_catalog", "pg_foreign_server", "", true},
    {"pg_catalog", "pg_foreign_table", "", true},
    {"pg_catalog", "pg_index", "", true},
    {"pg_catalog", "pg_inherits", "", true},
    {"pg_catalog", "pg_init_privs", "", true},
    {"pg_catalog", "pg_language", "", true},
    {"pg_catalog", "pg_largeobject", "", true},
    {"pg_catalog", "pg_largeobject_metadata", "", true},
    {"pg_catalog", "pg_namespace", "", true},
    {"pg_catalog", "pg_opclass", "", true},
    {"pg_catalog", "pg_operator", "", true},
    {"pg_catalog", "pg_opfamily", "", true},
    {"pg_catalog", "pg_parameter_acl", "pg_global", true},
    {"pg_catalog", "pg_partitioned_table", "", true},
    {"pg_catalog", "pg_policy", "", true},
    {"pg_catalog", "pg_proc", "", true},
    {"pg_catalog", "pg_publication", "", true},
    {"pg_catalog", "pg_publication_namespace", "", true},
    {"pg_catalog", "pg_publication_rel", "", true},
    {"pg_catalog", "pg_range", "", true},
    {"pg_catalog", "pg_replication_origin", "pg_global", true},
    {"pg_catalog", "pg_rewrite", "", true},
    {"pg_catalog", "pg_seclabel", "", true},
    {"pg_catalog", "pg_sequence", "", true},
    {"pg_catalog", "pg_shdepend", "pg_global", true},
    {"pg_catalog", "pg_shdescription", "pg_global", true},
    {"pg_catalog", "pg_shseclabel", "pg_global", true},
    {"pg_catalog", "pg_statistic", "", true},
    {"pg_catalog", "pg_statistic_ext", "", true},
    {"pg_catalog", "pg_statistic_ext_data", "", true},
    {"pg_catalog", "pg_subscription", "pg_global", true},
    {"pg_catalog", "pg_subscription_rel", "", true},
    {"pg_catalog", "pg_tablespace", "pg_global", true},
    {"pg_catalog", "pg_transform", "", true},
    {"pg_catalog", "pg_trigger", "", true},
    {"pg_catalog", "pg_ts_config", "", true},
    {"pg_catalog", "pg_ts_config_map", "", true},
    {"pg_catalog", "pg_ts_dict", "", true},
    {"pg_catalog", "pg_ts_parser", "", true},
    {"pg_catalog", "pg_ts_template", "", true},
    {"pg_catalog", "pg_type", "", true},
    {"pg_catalog", "pg_user_mapping", "", true},
}};

}  // namespace metagate::sql
