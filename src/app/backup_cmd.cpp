// `metagate backup ...` and `metagate restore`.
#include "backup_cmd.hpp"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <memory>
#include <vector>

#include "console.hpp"
#include "metagate/backup/pass.hpp"
#include "metagate/backup/restore.hpp"
#include "metagate/backup/snapshot.hpp"
#include "metagate/config/config.hpp"
#include "metagate/replica/replica.hpp"

namespace metagate::app {

namespace fs = std::filesystem;

namespace {

struct Target {
  std::string name;  // the config's database name
  std::string file;  // the SQLite file
  std::string dir;   // its snapshots
};

std::optional<config::Config> load(const std::string& file, std::ostream& err) {
  if (file.empty()) return config::default_config();
  auto c = config::load_config_file(file);
  if (!c) {
    err << c.error().to_string() << "\n";
    return std::nullopt;
  }
  return std::move(*c);
}

// The SQLite files the configuration serves (or the one `database` routes to).
std::optional<std::vector<Target>> targets(const config::Config& c, const std::string& database, std::ostream& err) {
  std::vector<Target> out;
  auto add = [&](const std::string& name, const std::string& file) {
    out.push_back({name, file, config::backup_dir_for(c.backup, file)});
  };
  if (!database.empty()) {
    const config::DatabaseConfig* e = config::database_entry(c, database);
    if (!e) {
      err << "database \"" << database << "\" does not exist in this configuration\n";
      return std::nullopt;
    }
    if (e->backend != config::Backend::kSqlite) {
      err << "database \"" << database << "\" is relayed to PostgreSQL: back it up there (pg_dump, PITR)\n";
      return std::nullopt;
    }
    auto file = config::database_route(c, database);
    if (!file) {
      err << file.error().message << "\n";
      return std::nullopt;
    }
    add(database, *file);
    return out;
  }
  for (const auto& [name, e] : c.databases) {
    if (e.backend != config::Backend::kSqlite) continue;
    if (e.path.find("{database}") != std::string::npos) {
      err << "note: database entry \"" << name << "\" serves one file per database name (" << e.path
          << "); name one with --database\n";
      continue;
    }
    add(name, e.path);
  }
  if (out.empty()) err << "this configuration names no SQLite file\n";
  return out;
}

// The configuration and the files it names (or the one --database routes to); nullopt (the
// reason on `err`) when there is nothing to work on.
struct Loaded {
  config::Config cfg;
  std::vector<Target> targets;
};
std::optional<Loaded> load_targets(const BackupOptions& o, std::ostream& err) {
  auto c = load(o.config_file, err);
  if (!c) return std::nullopt;
  auto ts = targets(*c, o.database, err);
  if (!ts || ts->empty()) return std::nullopt;
  return Loaded{std::move(*c), std::move(*ts)};
}

std::string human_bytes(uint64_t b) {
  char buf[32];
  if (b >= (1ull << 30)) std::snprintf(buf, sizeof buf, "%.2f GiB", static_cast<double>(b) / (1ull << 30));
  else if (b >= (1ull << 20)) std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(b) / (1ull << 20));
  else if (b >= 1024) std::snprintf(buf, sizeof buf, "%.1f KiB", static_cast<double>(b) / 1024);
  else std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(b));
  return buf;
}

std::string utc_text(int64_t unix_ms) {
  std::time_t s = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&s, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::optional<int64_t> parse_utc(const std::string& text) {
  std::tm tm{};
  int y, mo, d, h = 0, mi = 0, s = 0;
  char z = 0;
  int n = std::sscanf(text.c_str(), "%d-%d-%dT%d:%d:%d%c", &y, &mo, &d, &h, &mi, &s, &z);
  if (n < 3 || (n == 7 && z != 'Z') || (n > 3 && n < 6)) return std::nullopt;
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  return static_cast<int64_t>(timegm(&tm)) * 1000 + 999;  // the whole second counts
}

// Processes (this user may look at) that have `file` open: a running metagate serving it.
std::vector<int> processes_with_open(const fs::path& file) {
  std::vector<int> pids;
  std::error_code ec;
  fs::path target = fs::weakly_canonical(file, ec);
  for (const auto& p : fs::directory_iterator("/proc", ec)) {
    const std::string name = p.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    int pid = std::stoi(name);
    if (pid == ::getpid()) continue;
    std::error_code e2;
    for (const auto& fd : fs::directory_iterator(p.path() / "fd", e2)) {
      std::error_code e3;
      fs::path link = fs::read_symlink(fd.path(), e3);
      if (!e3 && link == target) {
        pids.push_back(pid);
        break;
      }
    }
  }
  return pids;
}

// `backup now` through a running metagate: its admin console's BACKUP (the daemon's backup
// thread takes the snapshots, with the capture position, and waits for S3 when configured).
int backup_through_console(PGconn* c, const ConsoleAddress& a, const std::string& database, std::ostream& out,
                           std::ostream& err) {
  std::string sql = "BACKUP";
  if (!database.empty()) {
    sql += " \"";
    for (char ch : database) sql += ch == '"' ? std::string("\"\"") : std::string(1, ch);
    sql += "\"";
  }
  out << "backing up through the running metagate at " << to_string(a) << " (its admin console: " << sql << ")\n"
      << std::flush;
  std::unique_ptr<PGresult, decltype(&PQclear)> r(PQexec(c, sql.c_str()), &PQclear);
  if (PQresultStatus(r.get()) != PGRES_TUPLES_OK) {
    const char* code = PQresultErrorField(r.get(), PG_DIAG_SQLSTATE);
    err << "backup failed: " << PQresultErrorMessage(r.get());
    if (code) err << "(SQLSTATE " << code << ")\n";
    return 1;
  }
  auto col = [&](const char* name) { return PQfnumber(r.get(), name); };
  const int file = col("file"), id = col("snapshot"), gen = col("generation"), commit = col("commit"), raw = col("raw_bytes"),
            stored = col("stored_bytes"), secs = col("seconds"), upload = col("upload");
  if (file < 0 || id < 0 || raw < 0 || stored < 0 || secs < 0 || upload < 0) {
    err << "unexpected answer to " << sql << " from the metagate at " << to_string(a) << "\n";
    return 1;
  }
  const int n = PQntuples(r.get());
  if (n == 0) {
    err << "the running metagate has no SQLite file to back up (none is open or configured and present)\n";
    return 1;
  }
  bool pending = false;
  for (int i = 0; i < n; ++i) {
    auto v = [&](int k) { return k < 0 || PQgetisnull(r.get(), i, k) ? std::string() : std::string(PQgetvalue(r.get(), i, k)); };
    out << v(file) << ": snapshot " << v(id);
    if (!v(gen).empty()) out << " (generation " << v(gen) << ", commit " << v(commit) << ")";
    out << ": " << human_bytes(std::stoull(v(raw))) << " -> " << human_bytes(std::stoull(v(stored)))
        << ", integrity ok, done in " << v(secs) << " s\n";
    const std::string u = v(upload);
    if (u.starts_with("pending")) {
      pending = true;
      out << "  S3 upload PENDING: " << u.substr(std::min<size_t>(u.size(), 9)) << "\n";
    } else {
      out << "  S3: " << u << "\n";
    }
  }
  if (pending)
    out << "the snapshot is kept in the backup directory; metagate uploads it when S3 answers "
           "(metagate_s3_remote_lag_seconds says how far behind the bucket is)\n";
  return 0;
}

}  // namespace

int backup_now(const BackupOptions& o, std::ostream& out, std::ostream& err) {
  // A running metagate takes the snapshot itself: with the change capture's position (a base
  // for its segments), its retention, and the upload to S3.
  ConsoleAddress a{o.host, o.port, o.user};
  if (!resolve_console_address(o.config_file, a, err)) return 1;
  if (a.port == 0) {
    out << "the configuration listens on port 0 (a port the kernel picks): cannot look for a running metagate "
           "(pass --port); backing up the file directly\n";
  } else {
    auto console = connect_console(a, "metagate backup now", true);
    if (console.conn) return backup_through_console(console.conn.get(), a, o.database, out, err);
    if (!console.no_response) {
      err << "a metagate answers at " << to_string(a) << " but its admin console refused the connection: " << console.error
          << "connect as an admin user (--user, password from PGPASSWORD or ~/.pgpass)\n";
      return 1;
    }
    out << "no running metagate at " << to_string(a) << ": backing up the file directly\n";
  }
  auto loaded = load_targets(o, err);
  if (!loaded) return 1;
  const config::BackupConfig& bc = loaded->cfg.backup;
  int rc = 0;
  for (const Target& t : loaded->targets) {
    backup::PassOptions po;
    po.snapshot.database = fs::path(t.file).stem().string();
    po.snapshot.reason = "manual";
    po.snapshot.zstd_level = static_cast<int>(bc.zstd_level);
    po.snapshot.min_free_bytes = bc.min_free_bytes;
    po.retention = {.last = static_cast<int>(bc.retention.last), .hourly = static_cast<int>(bc.retention.hourly),
                    .daily = static_cast<int>(bc.retention.daily), .weekly = static_cast<int>(bc.retention.weekly),
                    .disk_budget_bytes = bc.disk_budget_bytes};
    po.compact = false;  // the daemon compacts its segments (this process may run next to it)
    backup::PassResult r = backup::run_backup_pass(t.file, t.dir, po);
    if (!r.snapshot) {
      err << t.file << ": backup failed: " << r.snapshot.error().message << " (SQLSTATE " << r.snapshot.error().sqlstate << ")\n";
      rc = 1;
    } else {
      const backup::Manifest& m = *r.snapshot;
      out << t.file << ": snapshot " << m.id << " in " << t.dir << ": " << human_bytes(m.raw_bytes) << " -> "
          << human_bytes(m.stored_bytes) << ", integrity ok, copied in " << m.copy_seconds << " s, done in "
          << m.total_seconds << " s\n";
    }
    for (const auto& id : r.removed) out << "  removed snapshot " << id << " (retention)\n";
    for (const auto& e : r.remove_errors) err << "  could not remove snapshot " << e << "\n";
    if (!r.removed_segments.empty()) out << "  removed " << r.removed_segments.size() << " segment file(s) no kept snapshot needs\n";
    if (r.over_budget) err << "  warning: the backups exceed backup.disk_budget (the daemon compacts segments to fit)\n";
    if (r.stale_removed) out << "  removed " << r.stale_removed << " temporary file(s) left by an interrupted snapshot\n";
  }
  return rc;
}

int backup_list(const BackupOptions& o, std::ostream& out, std::ostream& err) {
  auto loaded = load_targets(o, err);
  if (!loaded) return 1;
  const std::vector<Target>* ts = &loaded->targets;
  for (const Target& t : *ts) {
    auto l = backup::list_snapshots(t.dir);
    if (!l) {
      err << l.error().message << "\n";
      return 1;
    }
    out << t.file << " (database \"" << t.name << "\"): " << l->snapshots.size() << " snapshot(s) in " << t.dir << "\n";
    for (const auto& m : l->snapshots)
      out << "  " << m.id << "  " << utc_text(m.created_unix_ms) << "  " << human_bytes(m.raw_bytes) << " -> "
          << human_bytes(m.stored_bytes) << "  " << m.reason
          << (m.generation.empty() ? std::string() : "  generation " + m.generation + " commit " + std::to_string(m.seq_lo))
          << "\n";
    for (const auto& p : l->stray) out << "  (incomplete or unknown file: " << p.filename().string() << ")\n";
  }
  return 0;
}

int backup_verify(const BackupOptions& o, std::ostream& out, std::ostream& err) {
  auto loaded = load_targets(o, err);
  if (!loaded) return 1;
  const std::vector<Target>* ts = &loaded->targets;
  int rc = 0;
  size_t checked = 0;
  for (const Target& t : *ts) {
    auto l = backup::list_snapshots(t.dir);
    if (!l) {
      err << l.error().message << "\n";
      return 1;
    }
    for (const auto& m : l->snapshots) {
      if (!o.id.empty() && m.id != o.id) continue;
      ++checked;
      if (auto s = backup::verify_snapshot(t.dir, m); !s) {
        err << t.dir << "/" << m.id << ": FAILED: " << s.error().message << "\n";
        rc = 1;
      } else {
        out << t.dir << "/" << m.id << ": ok\n";
      }
    }
  }
  if (!o.id.empty() && checked == 0) {
    err << "no snapshot " << o.id << "\n";
    return 1;
  }
  return rc;
}

int restore(const RestoreOptions& o, std::ostream& out, std::ostream& err) {
  if (o.from != "local" && o.from != "s3") {
    err << "--from " << o.from << ": expected local or s3\n";
    return 2;
  }
  if (o.output.empty()) {
    err << "--output FILE is required\n";
    return 2;
  }
  auto loaded = load_targets(o.backup, err);
  if (!loaded) return 1;
  const std::vector<Target>* ts = &loaded->targets;
  if (ts->size() > 1) {
    err << "this configuration names several SQLite files: choose one with --database\n";
    return 2;
  }
  const Target& t = ts->front();
  std::optional<int64_t> until;
  if (!o.to_time.empty()) {
    until = parse_utc(o.to_time);
    if (!until) {
      err << "--to-time " << o.to_time << ": expected UTC like 2026-12-06T11:00:00Z\n";
      return 2;
    }
  }
  backup::RestoreTarget target;
  target.until_unix_ms = until;
  target.snapshot_id = o.backup.id;
  fs::path output(o.output);
  std::error_code ec;
  // Where the snapshots and segments come from: the local backup directory, or a scratch
  // directory the bucket's objects are downloaded into (removed at the end).
  fs::path source = t.dir;
  std::vector<backup::Manifest> snapshots;
  std::vector<backup::GenerationIndex> gens;
  std::optional<backup::RestorePlan> plan;
  struct Scratch {
    fs::path dir;
    ~Scratch() {
      std::error_code e;
      if (!dir.empty()) fs::remove_all(dir, e);
    }
  } scratch;
  std::string where = t.dir;
  if (o.from == "s3") {
    const config::S3Config& sc = loaded->cfg.s3;
    const bool copy = !o.s3_copy.empty();
    if (!sc.enabled() && !copy) {
      err << "--from s3: this configuration has no s3.endpoint (or give --s3-copy DIR)\n";
      return 2;
    }
    // The bucket itself, or a copy of its objects on disk (made with any S3 client).
    std::unique_ptr<s3::Client> client;
    std::unique_ptr<replica::ObjectSource> objects;
    const std::string root = replica::remote_root(sc.prefix, fs::path(t.file).stem().string());
    if (copy) {
      if (!fs::is_directory(o.s3_copy, ec)) {
        err << "--s3-copy " << o.s3_copy << ": not a directory\n";
        return 2;
      }
      objects = std::make_unique<replica::DirectorySource>(o.s3_copy, root);
    } else {
      auto creds = s3::resolve_credentials({sc.access_key_id, sc.secret_access_key, ""});
      if (!creds) {
        err << "S3 credentials: " << creds.error().to_string() << "\n";
        return 1;
      }
      s3::Options so;
      so.endpoint = sc.endpoint;
      so.region = sc.region;
      so.bucket = sc.bucket;
      so.path_style = sc.path_style;
      so.credentials = *creds;
      client = std::make_unique<s3::Client>(std::move(so));
      objects = std::make_unique<replica::BucketSource>(*client);
    }
    scratch.dir = output;
    scratch.dir += ".s3-download";
    fs::remove_all(scratch.dir, ec);
    std::optional<replica::Key> key;
    if (!loaded->cfg.backup.encryption_key_file.empty()) {
      auto k = replica::load_key_file(loaded->cfg.backup.encryption_key_file);
      if (!k) {
        err << k.error().message << "\n";
        return 1;
      }
      key = *k;
    }
    const std::string from_where = copy ? o.s3_copy + " (a copy of s3://" + sc.bucket + "/" + root + "/)"
                                        : "s3://" + sc.bucket + "/" + root + "/";
    auto staged = replica::stage_from_s3(*objects, root, scratch.dir, target, key ? &*key : nullptr);
    if (!staged) {
      err << "could not read the backups from " << from_where << ": " << staged.error().to_string() << "\n";
      return 1;
    }
    source = scratch.dir;
    snapshots = std::move(staged->snapshots);
    gens = std::move(staged->generations);
    plan = std::move(staged->plan);
    where = from_where;
  } else {
    auto l = backup::list_snapshots(t.dir);
    if (!l) {
      err << l.error().message << "\n";
      return 1;
    }
    auto g = backup::index_generations(t.dir);
    if (!g) {
      err << g.error().message << "\n";
      return 1;
    }
    snapshots = std::move(l->snapshots);
    gens = std::move(*g);
    plan = backup::plan_restore(snapshots, gens, target);
  }
  if (!plan) {
    err << "no snapshot of " << t.file << " in " << where
        << (until ? " at or before " + o.to_time : std::string()) << (o.backup.id.empty() ? "" : " with id " + o.backup.id) << "\n";
    return 1;
  }
  const bool exists = fs::exists(output, ec);
  if (exists && !o.force) {
    err << o.output << " exists: restore writes a new file (use --force to replace it while metagate is stopped)\n";
    return 1;
  }
  if (exists) {
    auto pids = processes_with_open(output);
    if (!pids.empty()) {
      err << o.output << " is open in process " << pids.front() << " (a running metagate?): stop it first\n";
      return 1;
    }
  }
  fs::path staged = output;
  staged += ".restored";
  fs::remove(staged, ec);
  auto built = backup::build_restore(source, *plan, gens, staged);
  if (!built) {
    err << "restore failed: " << built.error().message << "\n";
    return 1;
  }
  if (exists) {
    // The old file's WAL and shared memory belong to it: SQLite would replay that WAL onto the
    // restored file. They go first, then the file is replaced in one rename.
    for (const char* side : {"-wal", "-shm"}) fs::remove(output.string() + side, ec);
  }
  if (::rename(staged.c_str(), output.c_str()) != 0) {
    err << "could not move the restored file into place: " << std::strerror(errno) << "\n";
    return 1;
  }
  out << "restored snapshot " << plan->base.id << " (" << utc_text(plan->base.created_unix_ms) << ")";
  if (!plan->generation.empty())
    out << " + " << built->records_applied << " commit(s) of generation " << plan->generation << " (to commit "
        << plan->to_seq << ", " << utc_text(plan->point_unix_ms) << ")";
  out << " from " << where << ": " << human_bytes(built->db_bytes) << ", checksums and integrity ok, to " << o.output << "\n";
  return 0;
}

}  // namespace metagate::app
