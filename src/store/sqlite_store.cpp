// The SQLite store: opening the file in WAL mode, the writer and reader connections, the
// catalog kept in the file, the emulated system catalogs, and SQLite → PostgreSQL errors.
#include "metagate/store/sqlite_store.hpp"

#include <sys/stat.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>

#include <algorithm>
#include <cctype>

#include "metagate/sql/ident.hpp"
#include "metagate/sql/system_tables.hpp"
#include "metagate/sql/translator.hpp"
#include "metagate/store/functions.hpp"
#include "metagate/types/type_catalog.hpp"
#include "metagate/util/strings.hpp"

namespace metagate::store {

namespace o = types::oid;
using util::quote_ident;
using util::quote_literal;

ReaderHandle& ReaderHandle::operator=(ReaderHandle&& o) noexcept {
  if (this != &o) {
    if (db_ && store_) store_->release_reader(db_);
    store_ = o.store_;
    db_ = o.db_;
    o.db_ = nullptr;
  }
  return *this;
}

ReaderHandle::~ReaderHandle() {
  if (db_ && store_) store_->release_reader(db_);
}

PgStatus exec(sqlite3* db, const std::string& sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    PgError e = map_sqlite_error(db, rc, nullptr);
    sqlite3_free(err);
    return unexpected(std::move(e));
  }
  return Ok{};
}

SqliteStore::SqliteStore(StoreOptions opts) : opts_(std::move(opts)), locks_(std::make_unique<AdvisoryLocks>()) {}

Connection::~Connection() {
  for (auto& [_, v] : idle_)
    for (auto* st : v) sqlite3_finalize(st);
  sqlite3_close_v2(db_);
}

PgResult<sqlite3_stmt*> Connection::take(const std::string& sql, const sql::Catalog* catalog) {
  auto it = idle_.find(sql);
  if (it != idle_.end() && !it->second.empty()) {
    sqlite3_stmt* st = it->second.back();
    it->second.pop_back();
    --cached_;
    return st;
  }
  sqlite3_stmt* st = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &st, nullptr);
  if (rc != SQLITE_OK) {
    if (st) sqlite3_finalize(st);
    return unexpected(map_sqlite_error(db_, rc, catalog));
  }
  return st;
}

void Connection::give_back(const std::string& sql, sqlite3_stmt* st) {
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  if (cached_ >= 512) {
    // Crude bound: drop everything cached and start again.
    for (auto& [_, v] : idle_)
      for (auto* s : v) sqlite3_finalize(s);
    idle_.clear();
    cached_ = 0;
  }
  idle_[sql].push_back(st);
  ++cached_;
}

bool binds_exactly(Connection& conn, const std::string& sql, size_t n) {
  sqlite3_stmt* st = nullptr;
  const char* tail = nullptr;
  if (sqlite3_prepare_v2(conn.db(), sql.c_str(), static_cast<int>(sql.size()), &st, &tail) != SQLITE_OK || !st) {
    if (st) sqlite3_finalize(st);
    return false;
  }
  bool ok = static_cast<size_t>(sqlite3_bind_parameter_count(st)) == n && tail && *tail == '\0';
  for (size_t i = 1; ok && i <= n; ++i) ok = sqlite3_bind_parameter_index(st, ("?" + std::to_string(i)).c_str()) > 0;
  sqlite3_finalize(st);
  return ok;
}

SqliteStore::~SqliteStore() {
  group_commit_.reset();  // pending commits become durable first
  all_readers_.clear();
  if (writer_) {
    // A clean stop leaves everything in the main file and an empty WAL — once the change
    // capture has everything the WAL holds.
    auto t0 = std::chrono::steady_clock::now();
    sqlite3_wal_hook(writer_->db(), nullptr, nullptr);
    sqlite3_commit_hook(writer_->db(), nullptr, nullptr);
    bool clean = false;
    if (checkpoint_allowed()) {
      int rc = sqlite3_wal_checkpoint_v2(writer_->db(), nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
      if (rc == SQLITE_OK) {
        clean = true;
        ++checkpoints_;
        if (opts_.on_checkpoint) opts_.on_checkpoint(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      }
    }
    writer_.reset();
    if (clean && observer_) observer_->closed_cleanly();
  }
}

bool SqliteStore::checkpoint_allowed() { return !observer_ || observer_->before_checkpoint(); }

int SqliteStore::commit_hook(void* self) {
  auto* s = static_cast<SqliteStore*>(self);
  if (s->observer_) s->observer_->commit_begin();
  return 0;  // never turns the commit into a rollback
}

int SqliteStore::wal_hook(void* self, sqlite3* db, const char* name, int pages) {
  auto* s = static_cast<SqliteStore*>(self);
  if (s->observer_) s->observer_->committed(pages);
  if (pages < s->checkpoint_pages_) return SQLITE_OK;
  // Never past what the change capture holds durably.
  if (!s->checkpoint_allowed()) return SQLITE_OK;
  // What SQLite's own auto-checkpoint does (a PASSIVE checkpoint), timed and counted.
  auto t0 = std::chrono::steady_clock::now();
  int rc = sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
  if (rc == SQLITE_OK) {
    s->checkpoints_.fetch_add(1, std::memory_order_relaxed);
    if (s->opts_.on_checkpoint) s->opts_.on_checkpoint(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return SQLITE_OK;  // as SQLite's default hook: a busy checkpoint is retried on a later commit
}

int64_t SqliteStore::wal_bytes() const {
  struct stat st {};
  if (::stat((opts_.path + "-wal").c_str(), &st) != 0) return 0;
  return static_cast<int64_t>(st.st_size);
}

PgStatus SqliteStore::check_health() {
  struct stat st {};
  if (::stat(opts_.path.c_str(), &st) != 0)
    return unexpected(PgError::make(sqlstate::kConnectionFailure, "database file " + opts_.path + " is gone: " + std::strerror(errno)));
  if (static_cast<uint64_t>(st.st_ino) != file_ino_ || static_cast<uint64_t>(st.st_dev) != file_dev_)
    return unexpected(PgError::make(sqlstate::kConnectionFailure, "database file " + opts_.path + " was replaced since it was opened"));
  if (group_commit_) {
    if (auto f = group_commit_->failure()) return unexpected(*f);
  }
  auto r = acquire_reader();
  if (!r) return unexpected(PgError::make(sqlstate::kConnectionFailure, "could not open a reader connection"));
  return exec(r.get()->db(), "SELECT count(*) FROM sqlite_schema");
}

namespace {
bool uses_group_commit(const StoreOptions& o) {
  std::string s = o.synchronous;
  for (auto& ch : s) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return o.group_commit && s == "FULL";
}
}  // namespace

PgResult<sqlite3*> SqliteStore::open_connection(bool writer) {
  sqlite3* db = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (writer ? SQLITE_OPEN_CREATE : 0);
  int rc = sqlite3_open_v2(opts_.path.c_str(), &db, flags, opts_.vfs.empty() ? nullptr : opts_.vfs.c_str());
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    if (db) sqlite3_close_v2(db);
    return unexpected(PgError::fatal(sqlstate::kConnectionFailure,
                                     "could not open SQLite database \"" + opts_.path + "\": " + msg));
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, 5000);
  // Group commit: the writer appends to the WAL without fsync; GroupCommit syncs it before
  // any commit is acknowledged.
  std::string synchronous = opts_.synchronous;
  if (writer && uses_group_commit(opts_)) synchronous = "NORMAL";
  std::string pragmas = "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=OFF; PRAGMA case_sensitive_like=ON; "
                        "PRAGMA cache_size=-" + std::to_string(opts_.cache_size_kib) + "; "
                        "PRAGMA synchronous=" + synchronous + "; "
                        "PRAGMA mmap_size=" + std::to_string(opts_.mmap_size) + ";";
  if (!writer) pragmas += " PRAGMA query_only=ON;";
  if (auto s = exec(db, pragmas); !s) {
    sqlite3_close_v2(db);
    return unexpected(s.error());
  }
  if (writer) {
    // Checkpoints as SQLite's wal_autocheckpoint would run them, counted and timed. The hook
    // counts WAL pages (4 KiB by default).
    checkpoint_pages_ = std::max<int64_t>(1, opts_.checkpoint_wal_bytes / 4096);
    sqlite3_wal_hook(db, &SqliteStore::wal_hook, this);
    struct stat st {};
    if (::stat(opts_.path.c_str(), &st) == 0) {
      file_ino_ = static_cast<uint64_t>(st.st_ino);
      file_dev_ = static_cast<uint64_t>(st.st_dev);
    }
  }
  register_functions(db);
  return db;
}

namespace {

// PRAGMA quick_check on an existing file, on a read-only connection of its own, before anything
// writes to it: a damaged file is refused with what is wrong and how to restore it, instead of
// being served (and written to) until something reads the bad page.
PgStatus check_existing_file(const std::string& path, const std::string& vfs) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || st.st_size == 0) return Ok{};  // new file
  sqlite3* db = nullptr;
  std::string problem;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, vfs.empty() ? nullptr : vfs.c_str()) !=
      SQLITE_OK) {
    problem = db ? sqlite3_errmsg(db) : "cannot open";
  } else {
    // Closing this connection must not checkpoint the WAL: the change capture reads the frames
    // a crash left in it before anything checkpoints them.
    sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
    sqlite3_busy_timeout(db, 5000);
    sqlite3_stmt* q = nullptr;
    if (sqlite3_prepare_v2(db, "PRAGMA quick_check(5)", -1, &q, nullptr) != SQLITE_OK) {
      problem = sqlite3_errmsg(db);
    } else {
      int rc;
      std::string rows;
      while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        const unsigned char* t = sqlite3_column_text(q, 0);
        if (!rows.empty()) rows += "; ";
        rows += t ? reinterpret_cast<const char*>(t) : "";
      }
      if (rc != SQLITE_DONE) problem = sqlite3_errmsg(db);
      else if (rows != "ok") problem = rows;
    }
    sqlite3_finalize(q);
  }
  if (db) sqlite3_close_v2(db);
  if (problem.empty()) return Ok{};
  if (problem.size() > 300) problem = problem.substr(0, 300) + "...";
  return unexpected(PgError::fatal(sqlstate::kDataCorrupted,
                                   "SQLite database \"" + path + "\" is damaged: " + problem)
                        .with_hint("Stop metagate and restore the newest snapshot: metagate restore --config "
                                   "<config file> --from local --output " + path +
                                   " --force (docs/runbooks/restore.md)."));
}

}  // namespace

PgResult<std::unique_ptr<SqliteStore>> SqliteStore::open(const StoreOptions& opts) {
  if (auto s = check_existing_file(opts.path, opts.vfs); !s) return unexpected(s.error());
  std::unique_ptr<SqliteStore> store(new SqliteStore(opts));
  auto w = store->open_connection(true);
  if (!w) return unexpected(w.error());
  store->writer_ = std::make_unique<Connection>(*w);
  if (opts.make_wal_observer) {
    auto o = opts.make_wal_observer(opts.path);
    if (!o) return unexpected(o.error());
    store->observer_ = std::move(*o);
    // The writer never checkpoints on its own when it closes: ~SqliteStore does, when the
    // observer allows it.
    sqlite3_db_config(store->writer_->db(), SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
    sqlite3_commit_hook(store->writer_->db(), &SqliteStore::commit_hook, store.get());
  }
  if (uses_group_commit(opts)) {
    GroupCommit::Options go;
    go.wal_path = opts.path + "-wal";
    go.commit_delay = std::chrono::microseconds(opts.commit_delay_us);
    go.sync = opts.group_commit_sync;
    store->group_commit_ = std::make_unique<GroupCommit>(std::move(go));
  }
  if (auto s = store->bootstrap(); !s) return unexpected(s.error());
  for (int i = 0; i < opts.readers; ++i) {
    auto r = store->open_connection(false);
    if (!r) return unexpected(r.error());
    store->all_readers_.push_back(std::make_unique<Connection>(*r));
    store->idle_readers_.push_back(store->all_readers_.back().get());
  }
  return store;
}

namespace {

std::string affinity_of(types::Oid t) {
  const auto* info = types::find_type(t);
  if (!info) return "TEXT";
  switch (info->storage) {
    case types::StorageClass::Int: return "INTEGER";
    case types::StorageClass::Real: return "REAL";
    case types::StorageClass::Blob: return "BLOB";
    default: return "TEXT";
  }
}

// System relations whose rows depend on the session (database name) are views over a
// base table holding the static part.
bool is_session_view(const sql::SystemRelation& r) {
  return r.storage == "information_schema.tables" || r.storage == "information_schema.columns" ||
         r.storage == "pg_catalog.pg_database";
}

std::string base_table(const sql::SystemRelation& r) { return "__mg_sys_" + r.schema + "_" + r.table.name; }

}  // namespace

PgStatus SqliteStore::bootstrap() {
  std::string ddl = "BEGIN IMMEDIATE;";
  ddl += "CREATE TABLE IF NOT EXISTS " + quote_ident(std::string(sql::kCatalogTable)) +
         " (id INTEGER PRIMARY KEY CHECK (id = 1), doc TEXT NOT NULL);";
  ddl += "CREATE TABLE IF NOT EXISTS " + quote_ident(std::string(sql::kSequenceTable)) +
         " (name TEXT PRIMARY KEY, last_value INTEGER NOT NULL, is_called INTEGER NOT NULL);";
  for (const auto& r : sql::system_relations()) {
    std::string cols;
    for (const auto& c : r.table.columns) cols += (cols.empty() ? "" : ", ") + quote_ident(c.name) + " " + affinity_of(c.type);
    if (is_session_view(r)) {
      ddl += "CREATE TABLE IF NOT EXISTS " + quote_ident(base_table(r)) + " (" + cols + ");";
      std::string sel;
      for (const auto& c : r.table.columns) {
        std::string v = quote_ident(c.name);
        if (c.name == "table_catalog" || c.name == "datname") v = "mg_session('database')";
        if (c.name == "udt_catalog") v = "mg_session('database')";
        sel += (sel.empty() ? "" : ", ") + v + " AS " + quote_ident(c.name);
      }
      ddl += "CREATE VIEW IF NOT EXISTS " + quote_ident(r.storage) + " AS SELECT " + sel + " FROM " + quote_ident(base_table(r)) + ";";
    } else {
      ddl += "CREATE TABLE IF NOT EXISTS " + quote_ident(r.storage) + " (" + cols + ");";
    }
  }
  ddl += "COMMIT;";
  if (auto s = exec(writer_->db(), ddl); !s) {
    (void)exec(writer_->db(), "ROLLBACK");
    return s;
  }
  // Load or initialise the catalog.
  sqlite3_stmt* st = nullptr;
  std::string q = "SELECT doc FROM " + quote_ident(std::string(sql::kCatalogTable)) + " WHERE id = 1";
  sqlite3_prepare_v2(writer_->db(), q.c_str(), -1, &st, nullptr);
  if (sqlite3_step(st) == SQLITE_ROW) {
    std::string doc(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)));
    sqlite3_finalize(st);
    auto j = nlohmann::json::parse(doc, nullptr, false);
    if (j.is_discarded())
      return unexpected(PgError::fatal(sqlstate::kDataCorrupted, "the metagate catalog in \"" + opts_.path + "\" is corrupt"));
    catalog_ = std::make_shared<sql::Catalog>(sql::Catalog::from_json(j));
    // Regenerate the emulated pg_catalog/information_schema rows: a file written by an older
    // metagate gets the system relations this version adds.
    // On a full disk this write cannot commit; the rows written by the last start are still
    // there, so the file is served as it is (reads work, writes get 53100 until there is
    // room) instead of refusing every client of a daemon restarted while the disk is full.
    auto regenerate = [&]() -> PgStatus {
      if (auto s = exec(writer_->db(), "BEGIN IMMEDIATE"); !s) return s;
      if (auto s = write_catalog(*catalog_); !s) {
        (void)exec(writer_->db(), "ROLLBACK");
        return s;
      }
      if (auto s = exec(writer_->db(), "COMMIT"); !s) {
        (void)exec(writer_->db(), "ROLLBACK");
        return s;
      }
      return Ok{};
    };
    auto s = regenerate();
    if (!s && s.error().sqlstate == "53100") {
      spdlog::warn("{}: the emulated system catalogs were not refreshed: {}; serving the file as it is",
                   opts_.path, s.error().message);
      return Ok{};
    }
    return s;
  }
  sqlite3_finalize(st);
  auto cat = std::make_shared<sql::Catalog>();
  if (auto s = exec(writer_->db(), "BEGIN IMMEDIATE"); !s) return s;
  if (auto s = write_catalog(*cat); !s) {
    (void)exec(writer_->db(), "ROLLBACK");
    return s;
  }
  if (auto s = exec(writer_->db(), "COMMIT"); !s) return s;
  catalog_ = cat;
  return Ok{};
}

sql::CatalogPtr SqliteStore::catalog() const {
  std::lock_guard lk(mu_);
  return catalog_;
}

void SqliteStore::publish_catalog(sql::CatalogPtr c) {
  std::lock_guard lk(mu_);
  catalog_ = std::move(c);
}

PgStatus SqliteStore::reload_catalog() {
  sqlite3_stmt* st = nullptr;
  std::string q = "SELECT doc FROM " + quote_ident(std::string(sql::kCatalogTable)) + " WHERE id = 1";
  sqlite3_prepare_v2(writer_->db(), q.c_str(), -1, &st, nullptr);
  if (sqlite3_step(st) == SQLITE_ROW) {
    auto j = nlohmann::json::parse(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)), nullptr, false);
    if (!j.is_discarded()) publish_catalog(std::make_shared<sql::Catalog>(sql::Catalog::from_json(j)));
  }
  sqlite3_finalize(st);
  return Ok{};
}

ReaderHandle SqliteStore::acquire_reader() {
  {
    std::lock_guard lk(mu_);
    if (!idle_readers_.empty()) {
      Connection* db = idle_readers_.back();
      idle_readers_.pop_back();
      return ReaderHandle(this, db);
    }
  }
  auto r = open_connection(false);
  if (!r) return ReaderHandle();
  std::lock_guard lk(mu_);
  all_readers_.push_back(std::make_unique<Connection>(*r));
  return ReaderHandle(this, all_readers_.back().get());
}

void SqliteStore::release_reader(Connection* db) {
  std::lock_guard lk(mu_);
  idle_readers_.push_back(db);
}

namespace {

// A tiny row writer for the system tables.
class RowInserter {
 public:
  RowInserter(sqlite3* db, const std::string& table, size_t ncols) {
    std::string sql = "INSERT INTO " + quote_ident(table) + " VALUES (";
    for (size_t i = 0; i < ncols; ++i) sql += i ? ", ?" : "?";
    sql += ")";
    rc_ = sqlite3_prepare_v2(db, sql.c_str(), -1, &st_, nullptr);
  }
  ~RowInserter() { sqlite3_finalize(st_); }
  RowInserter& v(int64_t x) { sqlite3_bind_int64(st_, ++i_, x); return *this; }
  RowInserter& v(int x) { return v(static_cast<int64_t>(x)); }
  RowInserter& v(uint32_t x) { return v(static_cast<int64_t>(x)); }
  RowInserter& v(int16_t x) { return v(static_cast<int64_t>(x)); }
  RowInserter& v(const std::string& x) { sqlite3_bind_text(st_, ++i_, x.data(), static_cast<int>(x.size()), SQLITE_TRANSIENT); return *this; }
  RowInserter& v(const char* x) { return v(std::string(x)); }
  RowInserter& null() { sqlite3_bind_null(st_, ++i_); return *this; }
  int done() {
    if (rc_ != SQLITE_OK) return rc_;
    int rc = sqlite3_step(st_);
    sqlite3_reset(st_);
    sqlite3_clear_bindings(st_);
    i_ = 0;
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
  }

 private:
  sqlite3_stmt* st_ = nullptr;
  int rc_ = SQLITE_OK;
  int i_ = 0;
};

constexpr int64_t kPublicNs = 2200;
constexpr int64_t kCatalogNs = 11;
constexpr int64_t kInfoSchemaNs = 13000;

std::string data_type_name(types::Oid t) {
  const auto* info = types::find_type(t);
  if (!info) return "USER-DEFINED";
  if (info->typcategory == 'A') return "ARRAY";
  return std::string(info->sql_name);
}

}  // namespace

PgStatus SqliteStore::write_catalog(const sql::Catalog& c) {
  sqlite3* db = writer_->db();
  {
    std::string doc = c.to_json().dump();
    sqlite3_stmt* st = nullptr;
    std::string q = "INSERT OR REPLACE INTO " + quote_ident(std::string(sql::kCatalogTable)) + " (id, doc) VALUES (1, ?)";
    sqlite3_prepare_v2(db, q.c_str(), -1, &st, nullptr);
    sqlite3_bind_text(st, 1, doc.data(), static_cast<int>(doc.size()), SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return unexpected(map_sqlite_error(db, rc, nullptr));
  }
  std::string clear;
  for (const auto& r : sql::system_relations())
    clear += "DELETE FROM " + quote_ident(is_session_view(r) ? base_table(r) : r.storage) + ";";
  if (auto s = exec(db, clear); !s) return s;

  auto table_for = [](std::string_view schema, std::string_view name) {
    const auto* r = sql::find_system_relation(schema, name);
    return is_session_view(*r) ? base_table(*r) : r->storage;
  };

  {
    RowInserter ns(db, table_for("pg_catalog", "pg_namespace"), 4);
    ns.v(kCatalogNs).v("pg_catalog").v(10).null().done();
    ns.v(kPublicNs).v("public").v(10).null().done();
    ns.v(kInfoSchemaNs).v("information_schema").v(10).null().done();
    for (const auto& [name, oid] : c.schemas) ns.v(oid).v(name).v(10).null().done();
  }
  {
    RowInserter ty(db, table_for("pg_catalog", "pg_type"), 14);
    for (const auto& t : types::all_types()) {
      int64_t coll = t.oid == o::kName ? 950 : (t.oid == o::kText || t.oid == o::kVarchar || t.oid == o::kBpchar) ? 100 : 0;
      ty.v(t.oid).v(std::string(t.typname)).v(kCatalogNs).v(t.typlen).v(t.typbyval ? 1 : 0).v(std::string(1, t.typtype))
          .v(std::string(1, t.typcategory)).v(t.typelem).v(t.typarray).v(0).v(0).v(-1).v(0).v(coll).done();
    }
  }
  {
    RowInserter coll(db, table_for("pg_catalog", "pg_collation"), 9);
    coll.v(100).v("default").v(kCatalogNs).v(10).v("d").v(1).v(-1).null().null().done();
    coll.v(950).v("C").v(kCatalogNs).v(10).v("c").v(1).v(-1).v("C").v("C").done();
    coll.v(951).v("POSIX").v(kCatalogNs).v(10).v("c").v(1).v(-1).v("POSIX").v("POSIX").done();
  }
  {
    RowInserter db_row(db, base_table(*sql::find_system_relation("pg_catalog", "pg_database")), 9);
    db_row.v(16384).v("").v(10).v(6).v("C.UTF-8").v("C.UTF-8").v(0).v(1).v(-1).done();
  }
  {
    // Access methods as PostgreSQL 15 ships them (pg_class.relam points here).
    RowInserter am(db, table_for("pg_catalog", "pg_am"), 4);
    am.v(2).v("heap").v("heap_tableam_handler").v("t").done();
    am.v(403).v("btree").v("bthandler").v("i").done();
    am.v(405).v("hash").v("hashhandler").v("i").done();
    am.v(783).v("gist").v("gisthandler").v("i").done();
    am.v(2742).v("gin").v("ginhandler").v("i").done();
    am.v(4000).v("spgist").v("spghandler").v("i").done();
    am.v(3580).v("brin").v("brinhandler").v("i").done();
  }
  {
    RowInserter roles(db, table_for("pg_catalog", "pg_roles"), 7);
    roles.v("postgres").v(1).v(1).v(1).v(1).v(1).v(10).done();
  }
  RowInserter tables(db, table_for("pg_catalog", "pg_tables"), 8);
  RowInserter indexes(db, table_for("pg_catalog", "pg_indexes"), 5);
  RowInserter cls(db, table_for("pg_catalog", "pg_class"), 29);
  RowInserter att(db, table_for("pg_catalog", "pg_attribute"), 14);
  RowInserter attrdef(db, table_for("pg_catalog", "pg_attrdef"), 4);
  RowInserter ind(db, table_for("pg_catalog", "pg_index"), 14);
  RowInserter con(db, table_for("pg_catalog", "pg_constraint"), 12);
  RowInserter seqs(db, table_for("pg_catalog", "pg_sequences"), 11);
  RowInserter ist(db, table_for("information_schema", "tables"), 12);
  RowInserter isc(db, table_for("information_schema", "columns"), 20);

  auto ns_oid = [&](const std::string& schema) -> int64_t {
    auto it = c.schemas.find(schema);
    return it == c.schemas.end() ? kPublicNs : it->second;
  };
  auto add_class = [&](int64_t oid, const std::string& key, char kind, int natts, bool hasindex) {
    auto [schema, name] = sql::split_relation_key(key);
    cls.v(oid).v(name).v(ns_oid(schema)).v(0).v(10).v(kind == 'i' ? 403 : (kind == 'r' ? 2 : 0)).v(oid).v(0).v(0).v(-1)
        .v(hasindex ? 1 : 0).v(0).v("p").v(std::string(1, kind)).v(natts).v(0).v(0).v(0).v(0).v(0).v(0).v(1).v("d").v(0)
        .null().null().v(0).v(0).null().done();
  };

  for (const auto& st : sql::kPgSystemTables) {
    tables.v(std::string(st.schema)).v(std::string(st.name)).v("postgres");
    if (st.tablespace.empty()) tables.null();
    else tables.v(std::string(st.tablespace));
    tables.v(st.hasindexes ? 1 : 0).v(0).v(0).v(0).done();
  }
  for (const auto& [name, t] : c.tables) {
    auto idxs = c.table_indexes(name);
    const std::string bare = t.bare_name();
    tables.v(t.schema).v(bare).v("postgres").null().v(idxs.empty() ? 0 : 1).v(0).v(0).v(0).done();
    add_class(t.oid, name, 'r', static_cast<int>(t.columns.size()), !idxs.empty());
    ist.null().v(t.schema).v(bare).v("BASE TABLE").null().null().null().null().null().v("YES").v("NO").null().done();
    for (size_t i = 0; i < t.columns.size(); ++i) {
      const auto& col = t.columns[i];
      const auto* info = types::find_type(col.type);
      att.v(t.oid).v(col.name).v(col.type).v(info ? info->typlen : -1).v(static_cast<int64_t>(i + 1)).v(col.typmod)
          .v(info && info->typcategory == 'A' ? 1 : 0).v(col.not_null ? 1 : 0).v(col.default_sql ? 1 : 0).v("").v("")
          .v(0).v(1).v(col.type == o::kText || col.type == o::kVarchar || col.type == o::kBpchar ? 100 : 0).done();
      if (col.default_sql) attrdef.v(0).v(t.oid).v(static_cast<int64_t>(i + 1)).v(*col.default_sql).done();
      // information_schema.columns
      isc.null().v(t.schema).v(bare).v(col.name).v(static_cast<int64_t>(i + 1));
      if (col.default_sql) {
        isc.v(*col.default_sql);
      } else {
        isc.null();
      }
      isc.v(col.not_null ? "NO" : "YES").v(data_type_name(col.type));
      if ((col.type == o::kVarchar || col.type == o::kBpchar) && col.typmod >= 4) {
        isc.v(col.typmod - 4).v((col.typmod - 4) * 4);
      } else if (col.type == o::kText || col.type == o::kVarchar || col.type == o::kBpchar) {
        isc.null().v(1073741824);
      } else {
        isc.null().null();
      }
      switch (col.type) {
        case o::kInt2: isc.v(16).v(2).v(0).null(); break;
        case o::kInt4: isc.v(32).v(2).v(0).null(); break;
        case o::kInt8: isc.v(64).v(2).v(0).null(); break;
        case o::kFloat4: isc.v(24).v(2).null().null(); break;
        case o::kFloat8: isc.v(53).v(2).null().null(); break;
        case o::kNumeric:
          if (col.typmod >= 4) isc.v(((col.typmod - 4) >> 16) & 0xffff).v(10).v((col.typmod - 4) & 0xffff).null();
          else isc.null().v(10).null().null();
          break;
        case o::kTimestamp: case o::kTimestamptz: case o::kTime: case o::kDate:
          isc.null().null().null().v(col.type == o::kDate ? 0 : (col.typmod >= 0 ? col.typmod : 6));
          break;
        default: isc.null().null().null().null(); break;
      }
      const auto* ti = types::find_type(col.type);
      isc.null().v("pg_catalog").v(ti ? std::string(ti->typname) : std::string("unknown")).v("NO").v("NEVER").v("YES").done();
    }
  }
  for (const auto& [name, idx] : c.indexes) {
    const auto* t = c.find_table(idx.table);
    if (!t) continue;
    indexes.v(t->schema).v(t->bare_name()).v(sql::split_relation_key(name).second).null().v(c.indexdef(idx)).done();
    add_class(idx.oid, name, 'i', static_cast<int>(idx.columns.size()), false);
    std::string indkey;
    for (const auto& col : idx.columns) {
      int n = t->column_index(col) + 1;
      indkey += (indkey.empty() ? "" : " ") + std::to_string(n);
    }
    ind.v(idx.oid).v(t->oid).v(static_cast<int64_t>(idx.columns.size())).v(static_cast<int64_t>(idx.columns.size()))
        .v(idx.unique ? 1 : 0).v(idx.primary ? 1 : 0).v(0).v(1).v(0).v(1).v(1).v(1).v(0).v(indkey).done();
    if (idx.constraint) {
      std::string conkey = "{";
      for (size_t i = 0; i < idx.columns.size(); ++i) conkey += (i ? "," : "") + std::to_string(t->column_index(idx.columns[i]) + 1);
      conkey += "}";
      con.v(idx.oid + 1000000).v(sql::split_relation_key(name).second).v(ns_oid(t->schema)).v(idx.primary ? "p" : "u").v(0).v(0).v(1).v(t->oid).v(0).v(idx.oid)
          .v(0).v(conkey).done();
    }
  }
  for (const auto& [name, s] : c.sequences) {
    add_class(s.oid, name, 'S', 3, false);
    seqs.v(sql::split_relation_key(name).first).v(sql::split_relation_key(name).second).v("postgres").v(s.type).v(s.start).v(s.min_value).v(s.max_value).v(s.increment).v(0).v(1)
        .null().done();
  }
  return Ok{};
}

namespace {

// 53100 for a write that found no room (see map_sqlite_error).
PgError disk_full_error(sqlite3* db) {
  const char* f = db ? sqlite3_db_filename(db, "main") : nullptr;
  const std::string file = f ? f : "";
  if (file.empty())
    return PgError::make("53100", "could not write to the database: No space left on device")
        .with_hint("Free disk space, then retry the transaction (docs/runbooks/disk-full.md).");
  // In WAL mode a transaction's pages are appended to the -wal file: that is the file that
  // could not grow. Nothing of the failed statement or transaction was kept.
  return PgError::make("53100", "could not write to file \"" + file + "-wal\": No space left on device")
      .with_detail("The file system that holds the SQLite database \"" + file +
                   "\" (and its -wal file) is full. The transaction was not committed; every committed "
                   "transaction is intact and reads keep working.")
      .with_hint("Free disk space on that file system, then retry the transaction: writes succeed again as "
                 "soon as there is room, no restart needed (docs/runbooks/disk-full.md).");
}

}  // namespace

PgError map_sqlite_error(sqlite3* db, int rc, const sql::Catalog* catalog) {
  std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  std::string code, text;
  if (decode_function_error(msg, code, text)) return PgError::make(code, text);
  int primary = rc & 0xff;
  if (primary == SQLITE_INTERRUPT) return PgError::make(sqlstate::kQueryCanceled, "canceling statement due to user request");
  if (primary == SQLITE_CONSTRAINT) {
    const std::string unique_prefix = "UNIQUE constraint failed: ";
    const std::string notnull_prefix = "NOT NULL constraint failed: ";
    if (msg.rfind(unique_prefix, 0) == 0) {
      // "UNIQUE constraint failed: t.a, t.b" → the index on exactly those columns.
      std::string rest = msg.substr(unique_prefix.size());
      std::string table;
      std::vector<std::string> cols;
      for (auto part : util::split(rest, ',')) {
        auto p = util::trim(part);
        auto dot = p.rfind('.');
        if (dot == std::string_view::npos) continue;
        table = std::string(p.substr(0, dot));
        cols.emplace_back(p.substr(dot + 1));
      }
      std::string index = table + "_pkey";
      if (catalog) {
        // Several unique indexes may cover the same columns; PostgreSQL checks (and
        // reports) the oldest one first.
        uint32_t best = UINT32_MAX;
        for (const auto* idx : catalog->table_indexes(table)) {
          if (!idx->unique || idx->columns != cols) continue;
          if (idx->oid < best) {
            best = idx->oid;
            index = idx->name;
          }
        }
      }
      index = sql::split_relation_key(index).second;
      auto [tschema, tbare] = sql::split_relation_key(table);
      PgError e = PgError::make(sqlstate::kUniqueViolation, "duplicate key value violates unique constraint \"" + index + "\"");
      std::string keys;
      for (size_t i = 0; i < cols.size(); ++i) keys += (i ? ", " : "") + sql::pg_quote_ident(cols[i]);
      e.detail = "Key (" + keys + ") already exists.";
      e.schema_name = tschema;
      e.table_name = tbare;
      e.constraint_name = index;
      return e;
    }
    if (msg.rfind(notnull_prefix, 0) == 0) {
      std::string rest = msg.substr(notnull_prefix.size());
      auto dot = rest.rfind('.');
      std::string table = sql::split_relation_key(rest.substr(0, dot)).second;
      std::string column = dot == std::string::npos ? rest : rest.substr(dot + 1);
      if (table.rfind("__mg_rebuild_", 0) == 0) {
        table = table.substr(13);
        PgError e = PgError::make(sqlstate::kNotNullViolation,
                                  "column \"" + column + "\" of relation \"" + table + "\" contains null values");
        e.schema_name = "public";
        e.table_name = table;
        e.column_name = column;
        return e;
      }
      PgError e = PgError::make(sqlstate::kNotNullViolation, "null value in column \"" + column + "\" of relation \"" +
                                                                 table + "\" violates not-null constraint");
      e.schema_name = "public";
      e.table_name = table;
      e.column_name = column;
      return e;
    }
    if (rc == SQLITE_CONSTRAINT_DATATYPE || msg.find("datatype mismatch") != std::string::npos)
      return PgError::make(sqlstate::kDatatypeMismatch, msg);
    return PgError::make(sqlstate::kCheckViolation, msg);
  }
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED)
    return PgError::make(sqlstate::kLockNotAvailable, "could not obtain lock: " + msg);
  // A full disk is PostgreSQL's disk_full (53100). SQLite says SQLITE_FULL when a write() ran out
  // of space, but a failure to grow a file by other means (the -shm index, a size hint) comes as
  // SQLITE_IOERR_* with errno ENOSPC/EDQUOT: the same condition for the operator. Grafana logs
  // only the message, so it names the file and the hint says what to do.
  const int sys_errno = db ? sqlite3_system_errno(db) : 0;
  if (primary == SQLITE_FULL || (primary == SQLITE_IOERR && (sys_errno == ENOSPC || sys_errno == EDQUOT)))
    return disk_full_error(db);
  if (primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB) return PgError::make(sqlstate::kDataCorrupted, msg);
  if (primary == SQLITE_TOOBIG) return PgError::make(sqlstate::kProgramLimitExceeded, msg);
  if (primary == SQLITE_MISMATCH) return PgError::make(sqlstate::kDatatypeMismatch, msg);
  if (primary == SQLITE_ERROR && msg.find("too many terms in compound SELECT") != std::string::npos)
    return PgError::make(sqlstate::kProgramLimitExceeded, msg);
  if (primary == SQLITE_ERROR && msg.find("integer overflow") != std::string::npos)
    return PgError::make(sqlstate::kNumericValueOutOfRange, "bigint out of range");
  return PgError::make(sqlstate::kInternalError, "SQLite: " + msg);
}

}  // namespace metagate::store
