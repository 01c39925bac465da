// The two-week outage on an accelerated clock (issue 6, point 8, "network loss"): a Grafana-like
// write load through the real store with change capture, an hourly backup pass (snapshot,
// retention 24 hourly / 7 daily / 4 weekly, compaction, the disk budget) and a shipping attempt
// every simulated hour — while the S3 endpoint (a real s3rver) is down for 336 hours. Then it
// comes back: the catch-up pass must make the bucket current first (a compacted delta, not the
// 336 hourly files), the history follows and is cut in the middle of a multipart upload (s3rver
// killed), resumes after a restart, and a restore from the bucket alone equals the live
// database; a restore to a time in the middle of the outage equals the database at that point.
//
//   outage_sim --work DIR --endpoint http://127.0.0.1:PORT --bucket B --s3ctl "CMD"
//              [--hours 336] [--tx-per-hour 6] [--budget-mib 48] [--blob-mib 6] [--seed 1]
//              [--dashboards 150] [--dashboard-kb 3] [--versions 0] [--snapshot-every 1] [--bench 1]
//
// --bench 1 (bench/outage): no per-commit content hashes (a ≥ 1 GB file is not read after every
// commit) and no point-in-time check; --snapshot-every H takes the backup pass every H hours
// (the whole-file figure still counts an upload per hour, of the last snapshot's size).
//
// `CMD kill` stops the S3 server at once (kill -9), `CMD start` starts it again on the same port
// with its data. Prints PASS/FAIL lines, the figures (bytes, times) as "FIGURE name value" lines,
// and "N passed, M failed"; exits non-zero on a failure.
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "capture_harness.hpp"
#include "metagate/backup/pass.hpp"
#include "metagate/backup/restore.hpp"
#include "metagate/replica/envelope.hpp"
#include "metagate/replica/replica.hpp"
#include "metagate/s3/client.hpp"

using namespace metagate;
namespace fs = std::filesystem;

namespace {

int passed = 0, failed = 0;
void check(bool ok, const std::string& what) {
  std::cout << (ok ? "PASS " : "FAIL ") << what << std::endl;
  (ok ? passed : failed)++;
}
void figure(const std::string& name, double v) { std::cout << "FIGURE " << name << " " << static_cast<uint64_t>(v) << std::endl; }

struct Args {
  fs::path work;
  std::string endpoint, bucket, s3ctl;
  int hours = 336, tx_per_hour = 6, budget_mib = 48, blob_mib = 6;
  int dashboards = 150, dashboard_kb = 3, versions = 0, snapshot_every = 1;
  bool bench = false;
  unsigned seed = 1;
};

constexpr int64_t kHour = 3'600'000;
const std::vector<std::string> kTables = {
    "SELECT id, uid, title, version, updated, length(data), hex(substr(data, 1, 24)), md5 FROM dashboard ORDER BY id",
    "SELECT id, dashboard_id, version, created, length(data), md5 FROM dashboard_version ORDER BY id",
    "SELECT id, dashboard_id, epoch, text FROM annotation ORDER BY id",
    "SELECT id, login, last_seen_at FROM user ORDER BY id",
    "SELECT key, length(value), hex(substr(value, 1, 16)) FROM kv_store ORDER BY key"};

std::string hash_of(const std::string& s) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(s.data(), s.size(), md, &len, EVP_sha256(), nullptr);
  char hex[65];
  for (unsigned i = 0; i < 16; ++i) std::snprintf(hex + 2 * i, 3, "%02x", md[i]);
  return std::string(hex, 32);
}

class Db {
 public:
  explicit Db(sqlite3* db) : db_(db) {}
  void exec(const std::string& sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
      std::cerr << sql.substr(0, 80) << ": " << (err ? err : "") << "\n";
      std::exit(3);
    }
  }
  // One statement with text/integer parameters ("?" in order).
  void run(const std::string& sql, const std::vector<std::string>& params) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
      std::cerr << sql << ": " << sqlite3_errmsg(db_) << "\n";
      std::exit(3);
    }
    for (size_t i = 0; i < params.size(); ++i) {
      const std::string& p = params[i];
      const bool integer = !p.empty() && p.size() < 19 && p.find_first_not_of("0123456789") == std::string::npos;
      if (integer) sqlite3_bind_int64(st, static_cast<int>(i + 1), std::stoll(p));
      else sqlite3_bind_text(st, static_cast<int>(i + 1), p.data(), static_cast<int>(p.size()), SQLITE_TRANSIENT);
    }
    if (sqlite3_step(st) != SQLITE_DONE) {
      std::cerr << sql << ": " << sqlite3_errmsg(db_) << "\n";
      std::exit(3);
    }
    sqlite3_finalize(st);
  }

 private:
  sqlite3* db_;
};

// A dashboard's JSON, about 3 KB: panels with queries, as Grafana stores them.
int g_dashboard_kb = 3;

std::string dashboard_json(int id, int version, std::mt19937& rng) {
  std::string s = "{\"id\":" + std::to_string(id) + ",\"title\":\"Service " + std::to_string(id) +
                  "\",\"version\":" + std::to_string(version) + ",\"refresh\":\"30s\",\"panels\":[";
  const int panels = std::max(1, g_dashboard_kb * 1024 / 340) + id % 6;
  for (int p = 0; p < panels; ++p) {
    if (p) s += ",";
    s += "{\"id\":" + std::to_string(p + 1) + ",\"type\":\"timeseries\",\"title\":\"Requests " + std::to_string(p) +
         "\",\"gridPos\":{\"h\":8,\"w\":12,\"x\":" + std::to_string((p % 2) * 12) + ",\"y\":" + std::to_string(p * 8) +
         "},\"targets\":[{\"refId\":\"A\",\"expr\":\"sum(rate(http_requests_total{job=\\\"api-" + std::to_string(id) +
         "\\\",code=~\\\"" + std::to_string(2 + rng() % 4) + "..\\\"}[5m]))\"}],\"fieldConfig\":{\"defaults\":{\"unit\":\"reqps\",\"thresholds\":{\"steps\":[{\"value\":" +
         std::to_string(rng() % 1000) + "}]}}}}";
  }
  return s + "]}";
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--work") a.work = v;
    else if (k == "--endpoint") a.endpoint = v;
    else if (k == "--bucket") a.bucket = v;
    else if (k == "--s3ctl") a.s3ctl = v;
    else if (k == "--hours") a.hours = std::stoi(v);
    else if (k == "--tx-per-hour") a.tx_per_hour = std::stoi(v);
    else if (k == "--budget-mib") a.budget_mib = std::stoi(v);
    else if (k == "--blob-mib") a.blob_mib = std::stoi(v);
    else if (k == "--seed") a.seed = static_cast<unsigned>(std::stoul(v));
    else if (k == "--dashboards") a.dashboards = std::stoi(v);
    else if (k == "--dashboard-kb") a.dashboard_kb = std::stoi(v);
    else if (k == "--versions") a.versions = std::stoi(v);
    else if (k == "--snapshot-every") a.snapshot_every = std::max(1, std::stoi(v));
    else if (k == "--bench") a.bench = v == "1";
    else {
      std::cerr << "unknown argument " << k << "\n";
      return 2;
    }
  }
  if (a.work.empty() || a.endpoint.empty() || a.bucket.empty() || a.s3ctl.empty()) {
    std::cerr << "usage: outage_sim --work DIR --endpoint URL --bucket B --s3ctl CMD [...]\n";
    return 2;
  }
  auto s3ctl = [&](const char* what) {
    const std::string cmd = a.s3ctl + " " + what;
    if (std::system(cmd.c_str()) != 0) {
      std::cerr << "\"" << cmd << "\" failed\n";
      std::exit(3);
    }
  };
  g_dashboard_kb = a.dashboard_kb;
  fs::remove_all(a.work / "data");
  fs::create_directories(a.work / "data");
  const fs::path db_path = a.work / "data" / "grafana.db";
  const fs::path dir = a.work / "data" / "backups";
  const std::string root = replica::remote_root("edge/site-1", "grafana");

  // The accelerated clock: 2026-06-01T00:00Z on, moved by the simulation.
  int64_t now = 1'780'272'000'000;
  auto clock = [&now] { return now; };

  // Client-side encryption, as an edge site would ship.
  const fs::path key_file = a.work / "data" / "backup.key";
  {
    std::array<uint8_t, 32> k{};
    RAND_bytes(k.data(), 32);
    int fd = ::open(key_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || ::write(fd, k.data(), 32) != 32) return 3;
    ::close(fd);
  }
  auto key = replica::load_key_file(key_file);
  if (!key) {
    std::cerr << key.error().message << "\n";
    return 3;
  }

  s3::Options so;
  so.endpoint = a.endpoint;
  so.bucket = a.bucket;
  so.path_style = true;
  so.credentials = {"S3RVER", "S3RVER", ""};
  so.connect_timeout_ms = 2000;
  so.retry.max_attempts = 2;
  so.retry.base = std::chrono::milliseconds(20);
  so.retry.cap = std::chrono::milliseconds(100);
  s3::Client client(so);
  replica::RemoteState state(dir);
  replica::ShipOptions ship_opts;
  ship_opts.key = &*key;
  ship_opts.multipart_threshold = 5ull << 20;
  ship_opts.part_size = 5ull << 20;  // S3's smallest part

  std::shared_ptr<backup::WalCapture> capture;
  backup::CaptureOptions co;
  co.dir = dir;
  co.segment_bytes = 256 * 1024;
  co.segment_ms = 15 * 60'000;
  co.clock_ms = clock;
  store::StoreOptions sto = testing::store_with_capture(db_path, co, &capture);
  sto.checkpoint_wal_bytes = 512 * 1024;
  auto opened = store::SqliteStore::open(sto);
  if (!opened) {
    std::cerr << opened.error().message << "\n";
    return 3;
  }
  std::unique_ptr<store::SqliteStore> store = std::move(*opened);
  Db db(store->writer().db());
  std::mt19937 rng(a.seed);

  // Schema and seed: dashboards, users, a big incompressible plugin blob (so snapshots need
  // multipart uploads and a fresh snapshot is dear).
  db.exec("CREATE TABLE dashboard (id INTEGER PRIMARY KEY, uid TEXT, title TEXT, data TEXT, version INTEGER, updated INTEGER, md5 TEXT)");
  db.exec("CREATE TABLE dashboard_version (id INTEGER PRIMARY KEY, dashboard_id INTEGER, version INTEGER, created INTEGER, data TEXT, md5 TEXT)");
  db.exec("CREATE TABLE annotation (id INTEGER PRIMARY KEY, dashboard_id INTEGER, epoch INTEGER, text TEXT)");
  db.exec("CREATE TABLE user (id INTEGER PRIMARY KEY, login TEXT, last_seen_at INTEGER)");
  db.exec("CREATE TABLE kv_store (key TEXT PRIMARY KEY, value BLOB)");
  db.exec("BEGIN");
  const int dashboards = a.dashboards;
  for (int d = 1; d <= dashboards; ++d) {
    const std::string json = dashboard_json(d, 1, rng);
    db.run("INSERT INTO dashboard VALUES (?, ?, ?, ?, 1, ?, ?)",
           {std::to_string(d), "uid-" + std::to_string(d), "Service " + std::to_string(d), json, std::to_string(now), hash_of(json)});
    for (int v = 1; v <= a.versions; ++v) {
      const std::string old = dashboard_json(d, v, rng);
      db.run("INSERT INTO dashboard_version (dashboard_id, version, created, data, md5) VALUES (?, ?, ?, ?, ?)",
             {std::to_string(d), std::to_string(v), std::to_string(now), old, hash_of(old)});
    }
    if (d % 200 == 0) {
      db.exec("COMMIT");
      db.exec("BEGIN");
    }
  }
  for (int u = 1; u <= 20; ++u) db.run("INSERT INTO user VALUES (?, ?, ?)", {std::to_string(u), "user" + std::to_string(u), std::to_string(now)});
  db.run("INSERT INTO kv_store VALUES ('plugin.cache', randomblob(?))", {std::to_string(a.blob_mib << 20)});
  db.exec("COMMIT");

  std::map<uint64_t, std::string> by_seq;  // content hash after each captured commit
  auto record = [&] {
    if (!a.bench) by_seq[capture->stats().seq] = hash_of(testing::file_content(db_path, kTables));
  };
  record();

  // One simulated hour of Grafana-like writes: dashboard saves (a hot tenth of the dashboards
  // gets most of them: a page rewritten hundreds of times), annotations, users seen.
  auto hour_of_work = [&] {
    for (int t = 0; t < a.tx_per_hour; ++t) {
      now += kHour / a.tx_per_hour;
      db.exec("BEGIN");
      switch (rng() % 4) {
        case 0:
        case 1: {
          const int d = (rng() % 10 < 8) ? 1 + static_cast<int>(rng() % 15) : 1 + static_cast<int>(rng() % dashboards);
          const std::string json = dashboard_json(d, static_cast<int>(now / kHour), rng);
          db.run("UPDATE dashboard SET data = ?, version = version + 1, updated = ?, md5 = ? WHERE id = ?",
                 {json, std::to_string(now), hash_of(json), std::to_string(d)});
          db.run("INSERT INTO dashboard_version (dashboard_id, version, created, data, md5) SELECT id, version, updated, data, md5 FROM dashboard WHERE id = ?",
                 {std::to_string(d)});
          break;
        }
        case 2:
          db.run("INSERT INTO annotation (dashboard_id, epoch, text) VALUES (?, ?, ?)",
                 {std::to_string(1 + rng() % dashboards), std::to_string(now), "deploy " + std::to_string(rng() % 100000)});
          break;
        default:
          db.run("UPDATE user SET last_seen_at = ? WHERE id % 3 = ?", {std::to_string(now), std::to_string(rng() % 3)});
      }
      db.exec("COMMIT");
      record();
    }
  };

  const uint64_t budget = uint64_t(a.budget_mib) << 20;
  backup::PassOptions po;
  po.snapshot.database = "grafana";
  po.snapshot.reason = "scheduled";
  po.snapshot.min_free_bytes = 0;
  po.snapshot.position = [&capture](bool upper) -> std::optional<backup::StorePosition> { return capture->position(upper); };
  po.retention = {.last = 0, .hourly = 24, .daily = 7, .weekly = 4, .disk_budget_bytes = budget};
  po.clock_ms = clock;
  po.shipped_position = [&] { return replica::shipped_position(dir, root); };
  ship_opts.retention = &po.retention;  // the bucket keeps what the local retention keeps
  uint64_t whole_file_bytes = 0;  // "upload the whole file every hour": every hourly snapshot
  uint64_t last_snapshot_bytes = 0;
  int hour = 0;
  double pass_seconds = 0;
  auto backup_hour = [&](bool outage) -> bool {
    po.current_generation = capture->generation();
    (void)capture->seal_if_due();
    if (hour++ % a.snapshot_every != 0) {
      if (outage) whole_file_bytes += last_snapshot_bytes;
      return true;
    }
    const auto t0 = std::chrono::steady_clock::now();
    backup::PassResult r = backup::run_backup_pass(db_path, dir, po);
    pass_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!r.snapshot) {
      std::cerr << "snapshot failed: " << r.snapshot.error().message << "\n";
      return false;
    }
    last_snapshot_bytes = r.snapshot->stored_bytes;
    if (outage) whole_file_bytes += r.snapshot->stored_bytes;
    const uint64_t used = r.kept_bytes + r.segment_bytes;
    if (used > budget || r.over_budget) {
      std::cerr << "over budget: " << used << " > " << budget << "\n";
      return false;
    }
    return true;
  };
  auto local_bytes = [&] {
    uint64_t n = 0;
    for (auto& e : fs::recursive_directory_iterator(dir))
      if (e.is_regular_file()) n += e.file_size();
    return n;
  };

  // ---- hour 0: the bucket gets the base snapshot and is current ----
  hour_of_work();
  now += 1;
  bool ok = backup_hour(false);
  auto first = replica::ship(client, root, dir, state, ship_opts, {});
  check(ok && first && first->catch_up_pending == 0 && first->uploaded_objects >= 2,
        "hour 0: snapshot shipped, the bucket is current (" + (first ? std::to_string(first->uploaded_objects) + " objects" : first.error().to_string()) + ")");
  const uint64_t seq_at_outage = capture->stats().seq;

  // ---- the outage: 336 hours with the endpoint down ----
  s3ctl("kill");
  int ship_failures = 0, hours_ok = 0;
  uint64_t max_local = 0, max_segments = 0;
  const int64_t outage_start = now;
  for (int h = 1; h <= a.hours; ++h) {
    hour_of_work();
    now += 1;
    if (backup_hour(true)) ++hours_ok;
    max_local = std::max(max_local, local_bytes());
    max_segments = std::max(max_segments, backup::segment_bytes(dir));
    auto r = replica::ship(client, root, dir, state, ship_opts, {});
    if (!r) ++ship_failures;
  }
  const int64_t outage_end = now;
  check(hours_ok == a.hours, std::to_string(hours_ok) + " of " + std::to_string(a.hours) +
                                 " hourly backup passes succeeded, each inside the disk budget of " + std::to_string(a.budget_mib) + " MiB");
  check(ship_failures == a.hours, "every shipping attempt during the outage failed (" + std::to_string(ship_failures) + ")");
  check(max_local <= budget + (4u << 20),
        "the local backup directory stayed inside the budget (max " + std::to_string(max_local >> 10) + " KiB)");
  check(capture->stats().errors == 0, "the change capture had no error");
  figure("outage_hours", a.hours);
  figure("commits_during_outage", static_cast<double>(capture->stats().seq - seq_at_outage));
  figure("db_bytes", static_cast<double>(fs::file_size(db_path)));
  figure("local_max_bytes", static_cast<double>(max_local));
  figure("local_max_segment_bytes", static_cast<double>(max_segments));
  figure("whole_file_every_hour_bytes", static_cast<double>(whole_file_bytes));
  figure("snapshot_stored_bytes", static_cast<double>(last_snapshot_bytes));
  figure("backup_pass_ms_total", pass_seconds * 1000);

  // ---- the endpoint returns: catch-up first ----
  s3ctl("start");
  (void)capture->seal_if_due();
  const uint64_t last_sealed = [&] {
    uint64_t m = 0;
    for (const auto& s : replica::list_sealed_segments(dir))
      if (s.generation == capture->generation()) m = std::max(m, s.last_seq);
    return m;
  }();
  replica::ShipOptions catch_up = ship_opts;
  catch_up.catch_up_only = true;
  const auto t0 = std::chrono::steady_clock::now();
  auto cu = replica::ship(client, root, dir, state, catch_up, {});
  const double cu_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  check(cu && cu->catch_up_pending == 0 && cu->remote_seq == last_sealed,
        "catch-up: the bucket reaches the newest sealed commit " + std::to_string(last_sealed) + " (" +
            (cu ? std::to_string(cu->uploaded_objects) + " objects, " + std::to_string(cu->catch_up_uploaded_bytes) + " bytes, at " +
                      std::to_string(cu->remote_seq)
                : cu.error().to_string()) + ")");
  check(cu && cu->catch_up_delta_commits > 0 && cu->uploaded_objects == 1,
        "catch-up was one object, a compacted delta of " + (cu ? std::to_string(cu->catch_up_delta_commits) : std::string("?")) +
            " commits (" + (cu ? std::to_string(cu->catch_up_delta_bytes) : std::string("?")) + " bytes before compression)");
  if (cu) {
    figure("catch_up_objects", static_cast<double>(cu->uploaded_objects));
    figure("catch_up_bytes", static_cast<double>(cu->catch_up_uploaded_bytes));
    figure("catch_up_delta_raw_bytes", static_cast<double>(cu->catch_up_delta_bytes));
    figure("catch_up_ms", cu_seconds * 1000);
    // "The data that actually changed": the pages written during the outage, each once.
    if (cu->catch_up_delta_bytes)
      figure("catch_up_bytes_per_changed_byte_x1000", 1000.0 * static_cast<double>(cu->catch_up_uploaded_bytes) /
                                                          static_cast<double>(cu->catch_up_delta_bytes));
    check(cu->catch_up_uploaded_bytes * 20 < whole_file_bytes,
          "catch-up shipped less than 1/20 of uploading the whole file every hour (" + std::to_string(cu->catch_up_uploaded_bytes) +
              " vs " + std::to_string(whole_file_bytes) + " bytes)");
  }

  // ---- the history, cut in the middle of a multipart upload ----
  bool cut = false;
  auto cut_mid_multipart = [&]() -> bool {
    if (cut) return false;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir / ".uploads", ec)) {
      if (e.path().extension() != ".json") continue;
      std::ifstream in(e.path());
      std::string text((std::istreambuf_iterator<char>(in)), {});
      if (text.find("\"etag\"") == std::string::npos) continue;  // no part finished yet
      s3ctl("kill");
      cut = true;
      break;
    }
    return false;
  };
  auto hist = replica::ship(client, root, dir, state, ship_opts, cut_mid_multipart);
  check(cut && !hist, "the endpoint died in the middle of a multipart upload (" +
                          (hist ? std::string("the pass succeeded") : hist.error().to_string()) + ")");
  bool parts_left = false;
  {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir / ".uploads", ec)) parts_left = parts_left || e.path().extension() == ".json";
  }
  check(parts_left, "the finished parts and the upload id were kept for the resume");
  s3ctl("start");
  // The seconds after the restart: shipping passes until nothing is pending.
  std::optional<replica::ShipStats> done;
  for (int i = 0; i < 10 && !done; ++i) {
    auto r = replica::ship(client, root, dir, state, ship_opts, {});
    if (r && r->pending_objects == 0) done = *r;
    else if (!r) std::cerr << "shipping: " << r.error().to_string() << "\n";
  }
  check(done.has_value(), "after the restart the history is shipped completely");
  {
    size_t remote_snapshots = 0, local_snapshots = 0;
    for (const auto& k : state.keys()) remote_snapshots += k.ends_with(".json");
    if (auto l = backup::list_snapshots(dir)) local_snapshots = l->snapshots.size();
    check(remote_snapshots <= local_snapshots + 1,
          "remote retention: the bucket holds " + std::to_string(remote_snapshots) + " snapshots, the backup directory " +
              std::to_string(local_snapshots));
  }
  {
    std::error_code ec;
    bool left = false;
    for (const auto& e : fs::directory_iterator(dir / ".uploads", ec)) left = left || e.path().extension() == ".json";
    check(!left, "no multipart state is left behind");
  }

  // ---- restore from the bucket alone ----
  // An hour of writes after the last snapshot: the newest point needs the segments.
  hour_of_work();
  const std::string live = testing::file_content(db_path, kTables);
  const uint64_t live_seq = capture->stats().seq;
  store.reset();  // a clean stop: the capture seals what it has
  {
    auto r = replica::ship(client, root, dir, state, ship_opts, {});
    check(r && r->pending_objects == 0 && r->remote_seq >= live_seq,
          "after a clean stop the bucket has every commit (" + (r ? std::to_string(r->remote_seq) : r.error().to_string()) + " of " +
              std::to_string(live_seq) + ")");
  }
  auto restore = [&](const backup::RestoreTarget& target, const fs::path& out) -> std::optional<backup::RestorePlan> {
    const fs::path staging = a.work / "data" / ("staging-" + out.filename().string());
    fs::remove_all(staging);
    auto staged = replica::stage_from_s3(client, root, staging, target, &*key);
    if (!staged || !staged->plan) {
      std::cerr << "staging: " << (staged ? std::string("no plan") : staged.error().to_string()) << "\n";
      return std::nullopt;
    }
    auto built = backup::build_restore(staging, *staged->plan, staged->generations, out);
    fs::remove_all(staging);
    if (!built) {
      std::cerr << "restore: " << built.error().message << "\n";
      return std::nullopt;
    }
    return staged->plan;
  };
  const fs::path newest = a.work / "data" / "restored.db";
  fs::remove(newest);
  auto plan = restore({}, newest);
  check(plan && plan->to_seq == live_seq && testing::file_content(newest, kTables) == live,
        "restore --from s3 of the newest point (a snapshot and the segments after it) equals the live database, row for row "
        "(commit " + (plan ? std::to_string(plan->to_seq) : std::string("?")) + " of " + std::to_string(live_seq) + ")");
  if (a.bench) {
    std::cout << passed << " passed, " << failed << " failed" << std::endl;
    return failed ? 1 : 0;
  }
  // A point in the middle of the outage: the newest restore point at or before it.
  const int64_t middle = outage_start + (outage_end - outage_start) * 2 / 3;
  const fs::path mid = a.work / "data" / "restored-middle.db";
  fs::remove(mid);
  auto mplan = restore({middle, ""}, mid);
  const uint64_t mseq = mplan ? (mplan->generation.empty() ? mplan->base.seq_lo : mplan->to_seq) : 0;
  check(mplan && mplan->point_unix_ms <= middle && by_seq.count(mseq) &&
            hash_of(testing::file_content(mid, kTables)) == by_seq[mseq],
        "restore --from s3 --to-time (two thirds into the outage) equals the database at commit " + std::to_string(mseq) + ", " +
            (mplan ? std::to_string((middle - mplan->point_unix_ms) / 60'000) : std::string("?")) + " min before the time asked");
  std::cout << passed << " passed, " << failed << " failed" << std::endl;
  return failed ? 1 : 0;
}
