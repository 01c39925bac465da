// Snapshots of a live SQLite file: online copy, integrity check, zstd, manifest, verify.
#include "metagate/backup/snapshot.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <zstd.h>

#include <openssl/evp.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>

#include "files.hpp"

namespace metagate::backup {

namespace fs = std::filesystem;
using namespace detail;

namespace {

// ---- SQLite -------------------------------------------------------------------------------------

struct Db {
  sqlite3* db = nullptr;
  Db() = default;
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;
  ~Db() { close(); }
  void close() {
    if (db) sqlite3_close_v2(db);
    db = nullptr;
  }
};

Unexpected<PgError> sqlite_error(sqlite3* db, const std::string& what) {
  int code = db ? sqlite3_extended_errcode(db) : SQLITE_ERROR;
  std::string msg = what + ": " + (db ? sqlite3_errmsg(db) : "out of memory");
  int primary = code & 0xff;
  if (primary == SQLITE_FULL) return fail(kDiskFull, msg);
  if (primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB) return fail(sqlstate::kDataCorrupted, msg);
  return fail(kIoError, msg);
}

PgStatus exec(sqlite3* db, const char* sql, const std::string& what) {
  if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK) return sqlite_error(db, what);
  return Ok{};
}

// The first column of the first row as text ("" when none).
PgResult<std::string> query_text(sqlite3* db, const char* sql) {
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &st, nullptr) != SQLITE_OK) return sqlite_error(db, sql);
  std::string out;
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    const unsigned char* t = sqlite3_column_text(st, 0);
    if (t) out = reinterpret_cast<const char*>(t);
  } else if (rc != SQLITE_DONE) {
    auto e = sqlite_error(db, sql);
    sqlite3_finalize(st);
    return e;
  }
  sqlite3_finalize(st);
  return out;
}

}  // namespace

PgResult<std::string> integrity_check(const fs::path& file) {
  Db d;
  if (sqlite3_open_v2(file.c_str(), &d.db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK)
    return sqlite_error(d.db, "could not open \"" + file.string() + "\"");
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(d.db, "PRAGMA integrity_check", -1, &st, nullptr) != SQLITE_OK)
    return sqlite_error(d.db, "integrity_check");
  std::string out;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (!out.empty()) out += "; ";
    const unsigned char* t = sqlite3_column_text(st, 0);
    out += t ? reinterpret_cast<const char*>(t) : "";
  }
  if (rc != SQLITE_DONE) {
    // A file too damaged for the check itself reports here (SQLITE_CORRUPT, SQLITE_NOTADB).
    out = std::string("integrity_check failed: ") + sqlite3_errmsg(d.db);
  }
  sqlite3_finalize(st);
  return out;
}

std::string time_id(std::chrono::system_clock::time_point t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d%02d%02dT%02d%02d%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

// ---- manifest -------------------------------------------------------------------------------------

std::string to_json_text(const Manifest& m) {
  nlohmann::ordered_json j;
  j["format"] = m.format;
  j["id"] = m.id;
  j["database"] = m.database;
  j["source"] = m.source;
  j["created_unix_ms"] = m.created_unix_ms;
  j["page_size"] = m.page_size;
  j["page_count"] = m.page_count;
  j["schema_version"] = m.schema_version;
  j["raw_bytes"] = m.raw_bytes;
  j["raw_sha256"] = m.raw_sha256;
  j["stored_bytes"] = m.stored_bytes;
  j["stored_sha256"] = m.stored_sha256;
  j["compression"] = m.compression;
  j["integrity"] = m.integrity;
  j["copy_seconds"] = m.copy_seconds;
  j["total_seconds"] = m.total_seconds;
  j["reason"] = m.reason;
  if (!m.generation.empty()) {
    j["generation"] = m.generation;
    j["seq_lo"] = m.seq_lo;
    j["seq_hi"] = m.seq_hi;
  }
  return j.dump(2) + "\n";
}

PgResult<Manifest> manifest_from_json_text(std::string_view text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  auto bad = [](const std::string& why) { return fail(sqlstate::kDataCorrupted, "invalid snapshot manifest: " + why); };
  if (!j.is_object()) return bad("not a JSON object");
  Manifest m;
  try {
    m.format = j.at("format").get<int>();
    if (m.format != 1) return bad("format " + std::to_string(m.format) + " is not known to this metagate");
    m.id = j.at("id").get<std::string>();
    m.database = j.value("database", "");
    m.source = j.value("source", "");
    m.created_unix_ms = j.at("created_unix_ms").get<int64_t>();
    m.page_size = j.at("page_size").get<int64_t>();
    m.page_count = j.at("page_count").get<int64_t>();
    m.schema_version = j.value("schema_version", int64_t{0});
    m.raw_bytes = j.at("raw_bytes").get<uint64_t>();
    m.raw_sha256 = j.at("raw_sha256").get<std::string>();
    m.stored_bytes = j.at("stored_bytes").get<uint64_t>();
    m.stored_sha256 = j.at("stored_sha256").get<std::string>();
    m.compression = j.at("compression").get<std::string>();
    m.integrity = j.value("integrity", "");
    m.copy_seconds = j.value("copy_seconds", 0.0);
    m.total_seconds = j.value("total_seconds", 0.0);
    m.reason = j.value("reason", "");
    m.generation = j.value("generation", "");
    m.seq_lo = j.value("seq_lo", uint64_t{0});
    m.seq_hi = j.value("seq_hi", uint64_t{0});
  } catch (const nlohmann::json::exception& e) {
    return bad(e.what());
  }
  if (m.compression != "zstd") return bad("compression \"" + m.compression + "\" is not known to this metagate");
  if (m.id.empty() || m.id.find('/') != std::string::npos || m.id[0] == '.') return bad("bad id");
  return m;
}

// ---- snapshot ---------------------------------------------------------------------------------------

PgResult<Manifest> take_snapshot(const fs::path& source, const fs::path& dir, const SnapshotOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return fail(kIoError, "could not create directory \"" + dir.string() + "\": " + ec.message());
  if (!fs::exists(source, ec))
    return fail(kIoError, "could not open file \"" + source.string() + "\": No such file or directory");

  Manifest m;
  m.database = options.database;
  m.source = source.string();
  m.reason = options.reason;

  // The read transaction: everything below sees the file as of its first read.
  Db src;
  if (sqlite3_open_v2(source.c_str(), &src.db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK)
    return sqlite_error(src.db, "could not open \"" + source.string() + "\"");
  sqlite3_busy_timeout(src.db, 10000);
  // Never checkpoint when closing this connection (with the daemon stopped it could be the
  // last one): only the daemon checkpoints, after the change capture has kept the frames.
  sqlite3_db_config(src.db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
  std::optional<StorePosition> lower;
  if (options.position) lower = options.position(false);
  if (auto s = exec(src.db, "BEGIN", "begin"); !s) return unexpected(s.error());
  // The first read: the snapshot is the file as of here.
  if (auto first = query_text(src.db, "SELECT count(*) FROM sqlite_master"); !first) return unexpected(first.error());
  if (lower) {
    auto upper = options.position(true);
    if (upper && upper->generation == lower->generation && upper->seq >= lower->seq) {
      m.generation = lower->generation;
      m.seq_lo = lower->seq;
      m.seq_hi = upper->seq;
    }
  }
  auto schema = query_text(src.db, "PRAGMA schema_version");
  if (!schema) return unexpected(schema.error());
  const auto started = options.clock_ms ? std::chrono::system_clock::time_point(std::chrono::milliseconds(options.clock_ms()))
                                        : std::chrono::system_clock::now();
  m.id = time_id(started);
  m.created_unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(started.time_since_epoch()).count();
  m.schema_version = std::atoll(schema->c_str());
  auto page_size = query_text(src.db, "PRAGMA page_size");
  auto page_count = query_text(src.db, "PRAGMA page_count");
  if (!page_size) return unexpected(page_size.error());
  if (!page_count) return unexpected(page_count.error());
  m.page_size = std::atoll(page_size->c_str());
  m.page_count = std::atoll(page_count->c_str());

  // Room for the uncompressed copy, and still min_free_bytes left after it.
  struct statvfs sv{};
  if (::statvfs(dir.c_str(), &sv) == 0) {
    uint64_t free_bytes = static_cast<uint64_t>(sv.f_bavail) * sv.f_frsize;
    uint64_t need = static_cast<uint64_t>(m.page_size) * static_cast<uint64_t>(m.page_count) + options.min_free_bytes;
    if (free_bytes < need)
      return fail(kDiskFull, "not enough free space in \"" + dir.string() + "\" for a snapshot: " +
                                          std::to_string(free_bytes >> 20) + " MiB free, " + std::to_string(need >> 20) +
                                          " MiB needed");
  }

  TempFile raw{dir / (".tmp-" + m.id + ".db")};
  {
    Db dst;
    if (sqlite3_open_v2(raw.path.c_str(), &dst.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) != SQLITE_OK)
      return sqlite_error(dst.db, "could not create \"" + raw.path.string() + "\"");
    // The raw copy is read back and thrown away: it is never synced. (Synced, it made the
    // kernel write a whole database's worth of pages at once, and the live file's commits,
    // fsyncing on the same disk, waited up to a second behind it: bench/backup.)
    if (auto s = exec(dst.db, "PRAGMA synchronous=OFF", "synchronous"); !s) return unexpected(s.error());
    if (auto s = exec(dst.db, "PRAGMA journal_mode=OFF", "journal mode"); !s) return unexpected(s.error());
    sqlite3_backup* b = sqlite3_backup_init(dst.db, "main", src.db, "main");
    if (!b) return sqlite_error(dst.db, "could not start the copy");
    int rc = sqlite3_backup_step(b, -1);  // every page, inside src's read transaction
    sqlite3_backup_finish(b);
    if (rc != SQLITE_DONE) return sqlite_error(dst.db, "could not copy \"" + source.string() + "\"");
    // The copy stays a WAL-mode file (as the live one), checkpointed and complete on its own.
    if (auto s = exec(dst.db, "PRAGMA journal_mode=DELETE", "journal mode"); !s) return unexpected(s.error());
  }
  (void)exec(src.db, "COMMIT", "end of the read transaction");
  src.close();
  m.copy_seconds = seconds_since(t0);

  auto check = integrity_check(raw.path);
  if (!check) return unexpected(check.error());
  m.integrity = *check;
  if (m.integrity != "ok")
    return fail(sqlstate::kDataCorrupted, "the copy of \"" + source.string() + "\" fails its integrity check: " +
                                                       m.integrity.substr(0, 500));

  fs::path stored_tmp = dir / (".tmp-" + m.data_file());
  Sha256 raw_hash, stored_hash;
  if (auto s = compress_file(raw.path, stored_tmp, options.zstd_level, raw_hash, stored_hash, m.raw_bytes, m.stored_bytes);
      !s) {
    remove_quietly(stored_tmp);
    return unexpected(s.error());
  }
  m.raw_sha256 = raw_hash.hex();
  m.stored_sha256 = stored_hash.hex();
  if (::rename(stored_tmp.c_str(), (dir / m.data_file()).c_str()) != 0) {
    int e = errno;
    remove_quietly(stored_tmp);
    return io_error("rename", stored_tmp, e);
  }
  m.total_seconds = seconds_since(t0);
  if (auto s = write_file_atomically(dir, m.manifest_file(), to_json_text(m)); !s) {
    remove_quietly(dir / m.data_file());
    return unexpected(s.error());
  }
  return m;
}

// ---- listing, verification, restore -------------------------------------------------------------

PgResult<Listing> list_snapshots(const fs::path& dir) {
  Listing out;
  std::error_code ec;
  if (!fs::exists(dir, ec)) return out;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (!e.is_directory()) files.push_back(e.path());  // wal/: the change capture's segments
  if (ec) return fail(kIoError, "could not read directory \"" + dir.string() + "\": " + ec.message());
  std::sort(files.begin(), files.end());
  std::vector<std::string> data_names;
  for (const auto& p : files) {
    const std::string name = p.filename().string();
    if (name.ends_with(".json") && !name.starts_with(".")) {
      auto text = read_whole_file(p);
      if (!text) return unexpected(text.error());
      auto m = manifest_from_json_text(*text);
      if (!m || m->manifest_file() != name || !fs::exists(dir / m->data_file(), ec)) {
        out.stray.push_back(p);
        continue;
      }
      data_names.push_back(m->data_file());
      out.snapshots.push_back(std::move(*m));
    }
  }
  for (const auto& p : files) {
    const std::string name = p.filename().string();
    if (name.ends_with(".json") && !name.starts_with(".")) continue;
    // Other programs' state kept here (".remote.json": what the bucket has) is not a snapshot's.
    if (name.starts_with(".") && !name.starts_with(".tmp-") && !name.starts_with(".verify-")) continue;
    if (std::find(data_names.begin(), data_names.end(), name) == data_names.end()) out.stray.push_back(p);
  }
  std::sort(out.snapshots.begin(), out.snapshots.end(), [](const Manifest& a, const Manifest& b) { return a.id < b.id; });
  return out;
}

PgStatus unpack_snapshot(const fs::path& dir, const Manifest& m, int out_fd, const fs::path& out) {
  Sha256 stored_hash, raw_hash;
  uint64_t stored_bytes = 0, raw_bytes = 0;
  if (auto s = decompress_file(dir / m.data_file(), out_fd, out, stored_hash, raw_hash, stored_bytes, raw_bytes); !s)
    return s;
  if (stored_bytes != m.stored_bytes || stored_hash.hex() != m.stored_sha256)
    return fail(sqlstate::kDataCorrupted,
                         "snapshot " + m.id + ": the stored file does not match its manifest (size or sha256)");
  if (raw_bytes != m.raw_bytes || raw_hash.hex() != m.raw_sha256)
    return fail(sqlstate::kDataCorrupted,
                         "snapshot " + m.id + ": the decompressed database does not match its manifest (size or sha256)");
  return Ok{};
}


PgStatus verify_snapshot(const fs::path& dir, const Manifest& m) {
  // The decompressed copy goes to the temporary directory first: verifying must work when the
  // backup directory's disk is full (that is when an operator checks the last good backup);
  // the backup directory is the fallback.
  std::vector<fs::path> places;
  std::error_code ec;
  if (fs::path t = fs::temp_directory_path(ec); !ec) places.push_back(t / (".verify-" + std::to_string(::getpid()) + "-" + m.id + ".db"));
  places.push_back(dir / (".verify-" + m.id + ".db"));
  TempFile tmp;
  PgStatus unpacked = Ok{};
  for (const auto& p : places) {
    tmp.path = p;
    Fd fd(::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    unpacked = fd ? unpack_snapshot(dir, m, fd.get(), p) : io_error("create", p, errno);
    if (unpacked) break;
    // A damaged snapshot is damaged wherever it is unpacked; only a lack of room is retried.
    if (unpacked.error().sqlstate != kDiskFull && unpacked.error().sqlstate != kIoError) return unpacked;
    remove_quietly(p);
  }
  if (!unpacked) return unpacked;
  auto check = integrity_check(tmp.path);
  if (!check) return unexpected(check.error());
  if (*check != "ok")
    return fail(sqlstate::kDataCorrupted, "snapshot " + m.id + " fails its integrity check: " + check->substr(0, 500));
  return Ok{};
}

PgStatus restore_snapshot(const fs::path& dir, const Manifest& m, const fs::path& output) {
  fs::path tmp = output;
  tmp += ".restoring";
  // link(2): an existing output is never overwritten.
  return publish_file(tmp, output, /*replace=*/false, [&](int fd) { return unpack_snapshot(dir, m, fd, tmp); });
}

size_t remove_stale_temp_files(const fs::path& dir, std::chrono::seconds age) {
  size_t removed = 0;
  std::error_code ec;
  const auto now = fs::file_time_type::clock::now();
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (!name.starts_with(".tmp-") && !name.starts_with(".verify-")) continue;
    std::error_code e2;
    auto t = fs::last_write_time(e.path(), e2);
    if (e2 || now - t < age) continue;
    if (fs::remove(e.path(), e2)) ++removed;
  }
  return removed;
}

PgStatus remove_snapshot(const fs::path& dir, const Manifest& m) {
  // Data first: a manifest without data is listed as stray, never as a snapshot.
  if (::unlink((dir / m.data_file()).c_str()) != 0 && errno != ENOENT) return io_error("remove", dir / m.data_file(), errno);
  if (::unlink((dir / m.manifest_file()).c_str()) != 0 && errno != ENOENT)
    return io_error("remove", dir / m.manifest_file(), errno);
  return fsync_path(dir, true);
}

}  // namespace metagate::backup
