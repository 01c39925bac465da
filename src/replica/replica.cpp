// Shipping backups to S3 and fetching them back (see replica.hpp).
#include "metagate/replica/replica.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>

#include "metagate/backup/compact.hpp"
#include "metagate/backup/compress.hpp"
#include "metagate/backup/segment.hpp"

namespace metagate::replica {

namespace fs = std::filesystem;
using s3::Error;

namespace {

Error local_error(const std::string& what, const fs::path& p, int err) {
  return Error::make(Error::Kind::kLocal, "could not " + what + " \"" + p.string() + "\": " + std::strerror(err));
}

Expected<std::string, Error> read_file(const fs::path& p, uint64_t offset = 0, uint64_t length = UINT64_MAX) {
  int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return unexpected(local_error("open", p, errno));
  std::string out;
  char buf[1 << 16];
  uint64_t at = offset;
  while (out.size() < length) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(sizeof buf, length - out.size()));
    ssize_t n = ::pread(fd, buf, want, static_cast<off_t>(at));
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      return unexpected(local_error("read", p, e));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    at += static_cast<uint64_t>(n);
  }
  ::close(fd);
  return out;
}

Expected<Ok, Error> write_file(const fs::path& p, std::span<const uint8_t> data) {
  fs::path tmp = p;
  tmp += ".part";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return unexpected(local_error("create", tmp, errno));
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      return unexpected(local_error("write", tmp, e));
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    int e = errno;
    ::close(fd);
    return unexpected(local_error("fsync", tmp, e));
  }
  ::close(fd);
  if (::rename(tmp.c_str(), p.c_str()) != 0) return unexpected(local_error("rename", tmp, errno));
  return Ok{};
}

std::span<const uint8_t> bytes_of(const std::string& s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

std::string sha256_hex(std::string_view s) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(s.data(), s.size(), md, &len, EVP_sha256(), nullptr);
  static const char* d = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += d[md[i] >> 4];
    out += d[md[i] & 15];
  }
  return out;
}

fs::path parts_file(const fs::path& dir, const std::string& key) { return dir / ".uploads" / (sha256_hex(key) + ".json"); }

std::string snapshot_key(const std::string& root, const std::string& file) { return root + "/snapshots/" + file; }
std::string segment_key(const std::string& root, const LocalSegment& s) {
  return root + "/wal/" + s.generation + "/" + s.path.filename().string();
}

}  // namespace

std::string remote_root(const std::string& prefix, const std::string& database) {
  std::string p = prefix;
  while (!p.empty() && p.back() == '/') p.pop_back();
  while (!p.empty() && p.front() == '/') p.erase(p.begin());
  return p.empty() ? database : p + "/" + database;
}

std::vector<LocalSegment> list_sealed_segments(const fs::path& dir) {
  std::vector<LocalSegment> out;
  std::error_code ec;
  for (const auto& g : fs::directory_iterator(dir / "wal", ec)) {
    if (!g.is_directory()) continue;
    std::error_code e2;
    for (const auto& f : fs::directory_iterator(g.path(), e2)) {
      auto n = backup::parse_segment_name(f.path().filename().string());
      if (!n || !n->last_seq) continue;  // open segments are still being written
      std::error_code e3;
      out.push_back({g.path().filename().string(), f.path(), n->first_seq, *n->last_seq, fs::file_size(f.path(), e3)});
    }
  }
  std::sort(out.begin(), out.end(), [](const LocalSegment& a, const LocalSegment& b) {
    return a.generation != b.generation ? a.generation < b.generation : a.first_seq < b.first_seq;
  });
  return out;
}

std::optional<uint64_t> remote_position(const std::string& root, const std::vector<backup::Manifest>& snapshots,
                                        const std::set<std::string>& remote, const std::string& generation) {
  std::optional<uint64_t> base;
  for (const auto& m : snapshots)
    if (m.generation == generation && remote.count(snapshot_key(root, m.data_file())) &&
        remote.count(snapshot_key(root, m.manifest_file())))
      base = std::max(base.value_or(0), m.seq_lo);
  if (!base) return std::nullopt;
  // A whole segment, applied in order to the database at any commit from its first - 1 on,
  // gives the database at its last: its name is all reachability needs.
  std::vector<backup::GenerationIndex::Entry> entries;
  const std::string p = root + "/wal/" + generation + "/";
  for (auto it = remote.lower_bound(p); it != remote.end() && it->starts_with(p); ++it)
    if (auto n = backup::parse_segment_name(it->substr(p.size())); n && n->last_seq && *n->last_seq >= n->first_seq)
      entries.push_back({n->first_seq, *n->last_seq, 0, 0, 0});
  std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
    return a.last != b.last ? a.last < b.last : a.first < b.first;
  });
  auto reached = backup::reachable_from(entries, *base);
  return reached.empty() ? *base : reached.back().seq;
}

std::optional<CatchUpDelta> prepare_catch_up(const fs::path& dir, const std::string& root, const std::string& generation,
                                             uint64_t from, const std::vector<LocalSegment>& segments) {
  const fs::path cdir = dir / ".uploads" / "catch-up";
  std::error_code ec;
  size_t behind = 0;
  uint64_t last = 0;
  for (const auto& s : segments)
    if (s.generation == generation && s.last_seq > from) {
      ++behind;
      last = std::max(last, s.last_seq);
    }
  // An earlier pass's delta from the same commit is used again when it still reaches the
  // newest commit, or when its multipart upload was cut half way (resumed; the rest follows
  // as segments); any other is stale.
  std::optional<CatchUpDelta> found;
  for (const auto& g : fs::directory_iterator(cdir, ec)) {
    std::error_code e2;
    for (const auto& f : fs::directory_iterator(g.path(), e2)) {
      auto n = backup::parse_segment_name(f.path().filename().string());
      const bool usable = n && n->last_seq && n->first_seq == from + 1 &&
                          (*n->last_seq == last ||
                           fs::exists(parts_file(dir, root + "/wal/" + generation + "/" + f.path().filename().string()), e2));
      // Deltas are written without fsync (write_compacted): one left by a crash may be torn.
      if (behind >= 2 && !found && g.path().filename() == generation && usable &&
          backup::check_compacted(f.path(), generation, n->first_seq, *n->last_seq)) {
        found = CatchUpDelta{generation, f.path(), n->first_seq, *n->last_seq, fs::file_size(f.path(), e2)};
        continue;
      }
      fs::remove(f.path(), e2);
    }
  }
  if (found || behind < 2) return found;
  const backup::GenerationIndex g = backup::index_generation(dir / "wal" / generation, from);
  fs::create_directories(cdir / generation, ec);
  const fs::path out = cdir / generation / backup::sealed_segment_name(from + 1, last);
  auto written = backup::write_compacted(g, from, last, out, /*durable=*/false);
  if (!written) {
    spdlog::warn("replica: no catch-up delta for commits {} to {} of generation {}: {}", from + 1, last, generation,
                 written.error().message);
    return std::nullopt;
  }
  spdlog::info("replica: catch-up delta for commits {} to {} of generation {}: {} pages ({} page images merged), {} bytes",
               from + 1, last, generation, written->pages, written->input_pages, written->bytes);
  return CatchUpDelta{generation, out, from + 1, last, written->bytes};
}

std::vector<Upload> plan_uploads(const std::string& root, const fs::path& dir,
                                 const std::vector<backup::Manifest>& snapshots,
                                 const std::vector<LocalSegment>& segments, const std::set<std::string>& remote,
                                 std::optional<uint64_t> at, const std::optional<CatchUpDelta>& delta) {
  std::vector<Upload> out;
  std::set<std::string> planned;
  auto add = [&](const fs::path& local, const std::string& key, bool catch_up) {
    if (remote.count(key) || planned.count(key)) return;
    std::error_code ec;
    planned.insert(key);
    out.push_back({local, key, fs::file_size(local, ec), catch_up});
  };
  auto add_snapshot = [&](const backup::Manifest& m, bool catch_up) {
    add(dir / m.data_file(), snapshot_key(root, m.data_file()), catch_up);
    add(dir / m.manifest_file(), snapshot_key(root, m.manifest_file()), catch_up);
  };
  // Costs compare uncompressed sizes (segments are compressed when they are sent, snapshots
  // already are): a snapshot counts as the database it holds.
  auto missing_bytes = [&](const fs::path& local, const std::string& key) -> uint64_t {
    std::error_code ec;
    return remote.count(key) ? 0 : fs::file_size(local, ec);
  };
  auto snapshot_on_remote = [&](const backup::Manifest& m) {
    return remote.count(snapshot_key(root, m.data_file())) && remote.count(snapshot_key(root, m.manifest_file()));
  };
  // Segments of `gen` holding commits after `seq`.
  auto segments_after = [&](const std::string& gen, uint64_t seq) {
    std::vector<const LocalSegment*> v;
    for (const auto& s : segments)
      if (s.generation == gen && s.last_seq > seq) v.push_back(&s);
    return v;
  };
  auto segments_cost = [&](const std::string& gen, uint64_t seq) {
    uint64_t c = 0;
    for (const auto* s : segments_after(gen, seq)) c += missing_bytes(s->path, segment_key(root, *s));
    return c;
  };

  if (!snapshots.empty()) {
    const backup::Manifest& newest = snapshots.back();
    if (newest.generation.empty()) {
      add_snapshot(newest, true);
    } else {
      const std::string& gen = newest.generation;
      // B: the newest snapshot and the segments after it.
      const uint64_t cost_b = (snapshot_on_remote(newest) ? 0 : newest.raw_bytes) + segments_cost(gen, newest.seq_lo);
      // A: the segments after the bucket's position; C: the catch-up delta from there, then
      // what was sealed after it was built.
      std::optional<uint64_t> cost_a, cost_c;
      if (at) cost_a = segments_cost(gen, *at);
      const bool use_delta = at && delta && delta->generation == gen && delta->first_seq == *at + 1;
      if (use_delta) cost_c = delta->bytes + segments_cost(gen, delta->last_seq);
      if (cost_c && *cost_c <= cost_b && *cost_c <= *cost_a) {
        add(delta->path, root + "/wal/" + gen + "/" + backup::sealed_segment_name(delta->first_seq, delta->last_seq), true);
        for (const auto* s : segments_after(gen, delta->last_seq)) add(s->path, segment_key(root, *s), true);
      } else if (cost_a && *cost_a <= cost_b) {
        for (const auto* s : segments_after(gen, *at)) add(s->path, segment_key(root, *s), true);
      } else {
        add_snapshot(newest, true);
        for (const auto* s : segments_after(gen, newest.seq_lo)) add(s->path, segment_key(root, *s), true);
      }
    }
    // The history, newest first: older snapshots, then the remaining segments.
    for (auto it = snapshots.rbegin(); it != snapshots.rend(); ++it) add_snapshot(*it, false);
  }
  for (auto it = segments.rbegin(); it != segments.rend();) {
    // Generations newest first, each in commit order.
    auto gen_begin = it;
    while (it != segments.rend() && it->generation == gen_begin->generation) ++it;
    std::vector<const LocalSegment*> gen_segments;
    for (auto j = gen_begin; j != it; ++j) gen_segments.push_back(&*j);
    for (auto j = gen_segments.rbegin(); j != gen_segments.rend(); ++j) add((*j)->path, segment_key(root, **j), false);
  }
  return out;
}

std::vector<std::string> plan_remote_prune(const std::string& root, const std::set<std::string>& remote,
                                           const std::vector<backup::Manifest>& known, const backup::Retention& r) {
  std::vector<std::string> out;
  // The complete snapshots in the bucket, oldest first (ids sort by time).
  std::vector<backup::Manifest> held;
  for (const auto& m : known)
    if (remote.count(snapshot_key(root, m.data_file())) && remote.count(snapshot_key(root, m.manifest_file()))) held.push_back(m);
  std::sort(held.begin(), held.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  if (held.empty()) return out;
  backup::Retention buckets = r;
  buckets.disk_budget_bytes = 0;
  const backup::RetentionPlan plan = backup::plan_retention(held, buckets);
  std::set<std::string> kept(plan.keep.begin(), plan.keep.end());
  std::map<std::string, uint64_t> first_needed;  // generation → oldest kept snapshot's first commit
  for (const auto& m : held) {
    if (!kept.count(m.id)) {
      out.push_back(snapshot_key(root, m.data_file()));  // data first: a lone manifest is ignored
      out.push_back(snapshot_key(root, m.manifest_file()));
      continue;
    }
    if (m.generation.empty()) continue;
    auto [it, fresh] = first_needed.emplace(m.generation, m.seq_lo);
    if (!fresh) it->second = std::min(it->second, m.seq_lo);
  }
  // Halves of snapshots (a prune or an upload cut between the two): older than the newest
  // complete one, they will never be completed.
  const std::string snaps = root + "/snapshots/";
  const std::string newest = held.back().id;
  for (auto it = remote.lower_bound(snaps); it != remote.end() && it->starts_with(snaps); ++it) {
    const std::string name = it->substr(snaps.size());
    std::string id;
    for (const char* suffix : {".db.zst", ".json"})
      if (name.ends_with(suffix)) id = name.substr(0, name.size() - std::strlen(suffix));
    if (id.empty()) continue;  // not ours
    if (id >= newest || std::any_of(held.begin(), held.end(), [&](const auto& m) { return m.id == id; })) continue;
    out.push_back(*it);
  }
  // Segments.
  const std::string wal = root + "/wal/";
  const std::string current = held.back().generation;
  for (auto it = remote.lower_bound(wal); it != remote.end() && it->starts_with(wal); ++it) {
    const std::string rest = it->substr(wal.size());
    const size_t slash = rest.find('/');
    if (slash == std::string::npos) continue;
    const std::string gen = rest.substr(0, slash);
    auto n = backup::parse_segment_name(rest.substr(slash + 1));
    if (!n || !n->last_seq) continue;
    auto need = first_needed.find(gen);
    if (need == first_needed.end() ? gen != current : *n->last_seq <= need->second) out.push_back(*it);
  }
  return out;
}

void RemoteState::remember(const backup::Manifest& m) { bases_[m.id] = {m.generation, m.seq_lo, m.created_unix_ms}; }

std::vector<backup::Manifest> RemoteState::known_snapshots(const std::vector<backup::Manifest>& local) const {
  std::vector<backup::Manifest> out = local;
  for (const auto& [id, b] : bases_) {
    if (std::any_of(local.begin(), local.end(), [&](const auto& m) { return m.id == id; })) continue;
    backup::Manifest m;
    m.id = id;
    m.generation = b.generation;
    m.seq_lo = m.seq_hi = b.seq_lo;
    m.created_unix_ms = b.created_unix_ms;
    out.push_back(std::move(m));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  return out;
}

std::optional<backup::StorePosition> shipped_position(const fs::path& dir, const std::string& root) {
  RemoteState state(dir);
  if (!state.load()) return std::nullopt;
  auto listing = backup::list_snapshots(dir);
  if (!listing) return std::nullopt;
  const auto known = state.known_snapshots(listing->snapshots);
  // The bucket's newest complete snapshot says which generation its copy is of.
  for (auto it = known.rbegin(); it != known.rend(); ++it) {
    if (it->generation.empty() || !state.keys().count(snapshot_key(root, it->data_file())) ||
        !state.keys().count(snapshot_key(root, it->manifest_file())))
      continue;
    if (auto at = remote_position(root, known, state.keys(), it->generation)) return backup::StorePosition{it->generation, *at};
    break;
  }
  return std::nullopt;
}

PgStatus RemoteState::load() {
  keys_.clear();
  bases_.clear();
  std::error_code ec;
  const fs::path p = dir_ / ".remote.json";
  if (!fs::exists(p, ec)) return Ok{};
  auto text = read_file(p);
  if (!text) return unexpected(PgError::make("58030", text.error().message));
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (!j.is_object() || !j.contains("keys") || !j["keys"].is_array())
    return unexpected(PgError::make("XX001", "\"" + p.string() + "\" is not a remote state file"));
  for (const auto& k : j["keys"])
    if (k.is_string()) keys_.insert(k.get<std::string>());
  if (j.contains("snapshots") && j["snapshots"].is_object())
    for (const auto& [id, b] : j["snapshots"].items())
      if (b.is_object() && b.value("generation", nlohmann::json()).is_string() && b.value("seq_lo", nlohmann::json()).is_number_unsigned())
        bases_[id] = {b["generation"].get<std::string>(), b["seq_lo"].get<uint64_t>(), b.value("created_unix_ms", int64_t{0})};
  return Ok{};
}

PgStatus RemoteState::save() const {
  nlohmann::json j;
  j["keys"] = keys_;
  j["snapshots"] = nlohmann::json::object();
  for (const auto& [id, b] : bases_)
    j["snapshots"][id] = {{"generation", b.generation}, {"seq_lo", b.seq_lo}, {"created_unix_ms", b.created_unix_ms}};
  const std::string text = j.dump(1) + "\n";
  if (auto w = write_file(dir_ / ".remote.json", bytes_of(text)); !w) return unexpected(PgError::make("58030", w.error().message));
  return Ok{};
}

namespace {

// A multipart upload in progress, kept in <dir>/.uploads/ so that it resumes after a cut.
struct PartsState {
  std::string key;
  uint64_t size = 0;
  uint64_t part_size = 0;
  std::string upload_id;
  std::vector<s3::CompletedPart> parts;
};


std::optional<PartsState> load_parts(const fs::path& file) {
  auto text = read_file(file);
  if (!text) return std::nullopt;
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  try {
    PartsState st;
    st.key = j.at("key").get<std::string>();
    st.size = j.at("size").get<uint64_t>();
    st.part_size = j.at("part_size").get<uint64_t>();
    st.upload_id = j.at("upload_id").get<std::string>();
    for (const auto& p : j.at("parts")) st.parts.push_back({p.at("n").get<int>(), p.at("etag").get<std::string>()});
    return st;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

Expected<Ok, Error> save_parts(const fs::path& file, const PartsState& st) {
  nlohmann::json j;
  j["key"] = st.key;
  j["size"] = st.size;
  j["part_size"] = st.part_size;
  j["upload_id"] = st.upload_id;
  j["parts"] = nlohmann::json::array();
  for (const auto& p : st.parts) j["parts"].push_back({{"n", p.part_number}, {"etag", p.etag}});
  std::error_code ec;
  fs::create_directories(file.parent_path(), ec);
  return write_file(file, bytes_of(j.dump() + "\n"));
}

Expected<Ok, Error> upload_multipart(s3::Client& client, const Upload& u, const fs::path& dir, const ShipOptions& o,
                                     const std::function<bool()>& should_stop, uint64_t& sent) {
  const fs::path file = parts_file(dir, u.key);
  std::optional<PartsState> st = load_parts(file);
  if (st && (st->key != u.key || st->size != u.bytes || st->part_size != o.part_size)) {
    (void)client.abort_multipart_upload(st->key, st->upload_id);
    st.reset();
  }
  if (!st) {
    auto id = client.create_multipart_upload(u.key);
    if (!id) return unexpected(id.error());
    st = PartsState{u.key, u.bytes, o.part_size, *id, {}};
    if (auto w = save_parts(file, *st); !w) return w;
  } else {
    spdlog::info("replica: resuming the upload of {} at part {} of {}", u.key, st->parts.size() + 1,
                 (u.bytes + o.part_size - 1) / o.part_size);
  }
  const int total = static_cast<int>((u.bytes + o.part_size - 1) / o.part_size);
  for (int n = static_cast<int>(st->parts.size()) + 1; n <= total; ++n) {
    if (should_stop && should_stop()) return unexpected(Error::make(Error::Kind::kLocal, "stopping"));
    auto chunk = read_file(u.local, uint64_t(n - 1) * o.part_size, o.part_size);
    if (!chunk) return unexpected(chunk.error());
    auto etag = client.upload_part(u.key, st->upload_id, n, bytes_of(*chunk));
    if (!etag) {
      if (etag.error().kind == Error::Kind::kNotFound) std::filesystem::remove(file);  // the upload is gone: start over
      return unexpected(etag.error());
    }
    sent += chunk->size();
    st->parts.push_back({n, *etag});
    if (auto w = save_parts(file, *st); !w) return w;
  }
  auto done = client.complete_multipart_upload(u.key, st->upload_id, st->parts);
  if (!done) {
    if (done.error().kind == Error::Kind::kNotFound) {
      // A retried Complete whose first answer was lost: the object may be there already.
      if (auto h = client.head_object(u.key); h && h->size == u.bytes) {
        std::filesystem::remove(file);
        return Ok{};
      }
      std::filesystem::remove(file);
    }
    return unexpected(done.error());
  }
  std::filesystem::remove(file);
  return Ok{};
}

// The uploads from `from` on: what is pending, and since when the bucket lacks what makes it
// current (the oldest catch-up file's mtime).
void tally(const std::vector<Upload>& plan, size_t from, ShipStats& stats) {
  stats.pending_objects = stats.pending_bytes = stats.catch_up_pending = 0;
  stats.catch_up_since_unix_ms = 0;
  for (size_t k = from; k < plan.size(); ++k) {
    ++stats.pending_objects;
    stats.pending_bytes += plan[k].bytes;
    if (!plan[k].catch_up) continue;
    ++stats.catch_up_pending;
    struct stat st {};
    if (::stat(plan[k].local.c_str(), &st) == 0) {
      const int64_t ms = int64_t{st.st_mtim.tv_sec} * 1000 + st.st_mtim.tv_nsec / 1'000'000;
      if (stats.catch_up_since_unix_ms == 0 || ms < stats.catch_up_since_unix_ms) stats.catch_up_since_unix_ms = ms;
    }
  }
}

// The object as it is sent: `u.local` compressed (segments) and/or encrypted, into `out`.
Expected<Ok, Error> prepare_object(const Upload& u, const fs::path& out, bool compress, const ShipOptions& o) {
  fs::path source = u.local;
  fs::path packed = out;
  packed += ".zst";
  std::error_code ec;
  fs::remove(packed, ec);
  if (compress) {
    fs::path target = o.key ? packed : out;
    if (auto s = backup::zstd_compress_file(u.local, target, o.zstd_level); !s)
      return unexpected(Error::make(Error::Kind::kLocal, s.error().message));
    source = target;
  }
  if (o.key) {
    auto s = seal_file(*o.key, u.key, source, out);
    fs::remove(packed, ec);
    if (!s) return unexpected(Error::make(Error::Kind::kLocal, s.error().message));
  }
  return Ok{};
}

}  // namespace

Expected<ShipStats, Error> ship(s3::Client& client, const std::string& root, const fs::path& dir, RemoteState& state,
                                const ShipOptions& o, const std::function<bool()>& should_stop) {
  ShipStats stats;
  auto listing = backup::list_snapshots(dir);
  if (!listing) return unexpected(Error::make(Error::Kind::kLocal, listing.error().message));
  const auto segments = list_sealed_segments(dir);
  // Before any work for an upload (a catch-up delta reads every segment since the bucket's
  // position; objects are compressed and encrypted into .uploads/): does the endpoint answer?
  // During an outage every pass would otherwise redo that work for nothing.
  if (!state.keys().empty()) {
    const std::string& probe_key = *state.keys().begin();
    if (auto probe = client.head_object(probe_key); !probe && probe.error().kind != Error::Kind::kNotFound)
      return unexpected(probe.error());
  }
  std::optional<CatchUpDelta> delta;
  std::optional<uint64_t> at;
  if (!listing->snapshots.empty() && !listing->snapshots.back().generation.empty()) {
    const std::string& gen = listing->snapshots.back().generation;
    at = remote_position(root, state.known_snapshots(listing->snapshots), state.keys(), gen);
    if (at) delta = prepare_catch_up(dir, root, gen, *at, segments);
    if (delta) {
      stats.catch_up_delta_commits = delta->last_seq - delta->first_seq + 1;
      stats.catch_up_delta_bytes = delta->bytes;
    }
  }
  auto plan = plan_uploads(root, dir, listing->snapshots, segments, state.keys(), at, delta);
  size_t i = 0;
  auto remaining = [&] { tally(plan, i, stats); };
  for (; i < plan.size(); ++i) {
    if (should_stop && should_stop()) break;
    if (o.catch_up_only && !plan[i].catch_up) break;
    Upload u = plan[i];
    uint64_t sent = 0;
    Expected<Ok, Error> r = Ok{};
    // What leaves the machine: segments compressed, everything encrypted when there is a key.
    // The prepared copy is kept until the upload is acknowledged (a cut multipart resumes on
    // the same bytes).
    const bool compress = u.key.find("/wal/") != std::string::npos;
    fs::path prepared;
    if (compress || o.key) {
      prepared = dir / ".uploads" / (sha256_hex(u.key) + ".out");
      std::error_code ec;
      if (!fs::exists(prepared, ec) || !fs::exists(parts_file(dir, u.key), ec)) {
        if (!fs::exists(u.local, ec)) continue;  // removed by retention meanwhile
        fs::create_directories(prepared.parent_path(), ec);
        fs::remove(parts_file(dir, u.key), ec);  // parts of another preparation of it are useless
        fs::remove(prepared, ec);
        if (auto s = prepare_object(u, prepared, compress, o); !s) {
          remaining();
          return unexpected(s.error());
        }
      }
      u.local = prepared;
      u.bytes = fs::file_size(prepared, ec);
    }
    if (u.bytes > o.multipart_threshold) {
      r = upload_multipart(client, u, dir, o, should_stop, sent);
    } else {
      auto body = read_file(u.local);
      if (!body) {
        // Removed by retention meanwhile: nothing to ship.
        if (!std::filesystem::exists(u.local)) continue;
        r = unexpected(body.error());
      } else {
        auto put = client.put_object(u.key, bytes_of(*body));
        if (put) sent = body->size();
        else r = unexpected(put.error());
      }
    }
    if (!r && prepared.empty() && !fs::exists(u.local)) {
      // Removed by local retention while it was being sent: nothing to ship any more.
      std::error_code ec;
      if (auto st = load_parts(parts_file(dir, u.key))) (void)client.abort_multipart_upload(st->key, st->upload_id);
      fs::remove(parts_file(dir, u.key), ec);
      continue;
    }
    if (!r) {
      // The prepared copy is kept only for a multipart upload to resume; anything else is
      // prepared again next time (the queue's order may have changed by then).
      std::error_code ec;
      if (!prepared.empty() && !fs::exists(parts_file(dir, u.key), ec)) fs::remove(prepared, ec);
      remaining();
      return unexpected(r.error());
    }
    std::error_code ec;
    if (!prepared.empty()) fs::remove(prepared, ec);
    if (delta && plan[i].local == delta->path) fs::remove(delta->path, ec);  // only ever made for the bucket
    state.add(u.key);
    for (const auto& m : listing->snapshots)
      if (u.key == snapshot_key(root, m.manifest_file())) state.remember(m);
    if (auto s = state.save(); !s) spdlog::warn("replica: {}", s.error().message);
    ++stats.uploaded_objects;
    stats.uploaded_bytes += sent;
    if (plan[i].catch_up) stats.catch_up_uploaded_bytes += sent;
  }
  remaining();
  if (o.retention && stats.catch_up_pending == 0 && i == plan.size()) {
    // Remote retention, once everything planned is up: deletions never race the uploads that
    // make the bucket's copy current.
    const auto doomed = plan_remote_prune(root, state.keys(), state.known_snapshots(listing->snapshots), *o.retention);
    for (const auto& key : doomed) {
      if (should_stop && should_stop()) break;
      auto d = client.delete_object(key);
      if (!d && d.error().kind != Error::Kind::kNotFound) {
        spdlog::warn("replica: could not delete {} (remote retention): {}", key, d.error().to_string());
        break;
      }
      state.erase(key);
      ++stats.deleted_objects;
    }
    if (stats.deleted_objects > 0)
      if (auto s = state.save(); !s) spdlog::warn("replica: {}", s.error().message);
  }
  // How far the bucket's copy reaches in the current generation.
  if (!listing->snapshots.empty() && !listing->snapshots.back().generation.empty()) {
    stats.generation = listing->snapshots.back().generation;
    stats.remote_seq = remote_position(root, state.known_snapshots(listing->snapshots), state.keys(), stats.generation).value_or(0);
  }
  return stats;
}

ShipStats pending_uploads(const std::string& root, const fs::path& dir, const RemoteState& state) {
  ShipStats stats;
  auto listing = backup::list_snapshots(dir);
  if (!listing) return stats;
  std::optional<uint64_t> at;
  if (!listing->snapshots.empty() && !listing->snapshots.back().generation.empty()) {
    stats.generation = listing->snapshots.back().generation;
    at = remote_position(root, state.known_snapshots(listing->snapshots), state.keys(), stats.generation);
    stats.remote_seq = at.value_or(0);
  }
  tally(plan_uploads(root, dir, listing->snapshots, list_sealed_segments(dir), state.keys(), at), 0, stats);
  return stats;
}

namespace {

// An object as it was before it was shipped: decrypted when it is an envelope.
Expected<Ok, Error> unwrap_file(const fs::path& file, const std::string& object_key, const Key* key) {
  if (!file_is_envelope(file)) return Ok{};
  if (!key)
    return unexpected(Error::make(Error::Kind::kLocal, "object \"" + object_key +
                                                          "\" is encrypted: set backup.encryption_key_file to its key"));
  if (auto s = open_file(*key, object_key, file, file); !s) return unexpected(Error::make(Error::Kind::kBadResponse, s.error().message));
  return Ok{};
}

}  // namespace

Expected<std::vector<std::string>, Error> BucketSource::list(const std::string& prefix) {
  auto objects = client_.list_objects(prefix);
  if (!objects) return unexpected(objects.error());
  std::vector<std::string> keys;
  for (const auto& o : *objects) keys.push_back(o.key);
  return keys;
}
Expected<std::vector<uint8_t>, Error> BucketSource::get(const std::string& key) { return client_.get_object(key); }
Expected<Ok, Error> BucketSource::get_to_file(const std::string& key, const fs::path& to) {
  auto got = client_.get_object_to_file(key, to);
  if (!got) return unexpected(got.error());
  return Ok{};
}

std::optional<fs::path> DirectorySource::path_of(const std::string& key) const {
  if (!key.starts_with(root_ + "/")) return std::nullopt;
  const std::string rest = key.substr(root_.size() + 1);
  if (rest.empty() || rest.find("..") != std::string::npos) return std::nullopt;
  return dir_ / rest;
}
Expected<std::vector<std::string>, Error> DirectorySource::list(const std::string& prefix) {
  std::vector<std::string> keys;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir_, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code e2;
    if (!it->is_regular_file(e2)) continue;
    const std::string key = root_ + "/" + fs::relative(it->path(), dir_, e2).generic_string();
    if (key.starts_with(prefix)) keys.push_back(key);
  }
  if (ec) return unexpected(local_error("read", dir_, ec.value()));
  std::sort(keys.begin(), keys.end());
  return keys;
}
Expected<std::vector<uint8_t>, Error> DirectorySource::get(const std::string& key) {
  auto p = path_of(key);
  if (!p) return unexpected(Error::make(Error::Kind::kNotFound, "no object " + key + " in \"" + dir_.string() + "\""));
  auto text = read_file(*p);
  if (!text) return unexpected(text.error());
  return std::vector<uint8_t>(text->begin(), text->end());
}
Expected<Ok, Error> DirectorySource::get_to_file(const std::string& key, const fs::path& to) {
  auto p = path_of(key);
  if (!p) return unexpected(Error::make(Error::Kind::kNotFound, "no object " + key + " in \"" + dir_.string() + "\""));
  std::error_code ec;
  fs::copy_file(*p, to, fs::copy_options::overwrite_existing, ec);
  if (ec) return unexpected(local_error("copy", *p, ec.value()));
  return Ok{};
}

Expected<Staged, Error> stage_from_s3(ObjectSource& source, const std::string& root, const fs::path& staging,
                                      const backup::RestoreTarget& target, const Key* key) {
  Staged out;
  std::error_code ec;
  fs::create_directories(staging, ec);
  if (ec) return unexpected(Error::make(Error::Kind::kLocal, "could not create \"" + staging.string() + "\": " + ec.message()));
  auto objects = source.list(root + "/");
  if (!objects) return unexpected(objects.error());
  std::set<std::string> keys(objects->begin(), objects->end());
  // Manifests first (small): they say which snapshots there are.
  const std::string snap_prefix = root + "/snapshots/";
  for (const auto& k : keys) {
    if (!k.starts_with(snap_prefix) || !k.ends_with(".json")) continue;
    auto text = source.get(k);
    if (!text) return unexpected(text.error());
    if (is_envelope(*text)) {
      if (!key)
        return unexpected(Error::make(Error::Kind::kLocal, "object \"" + k + "\" is encrypted: set backup.encryption_key_file to its key"));
      auto plain = open(*key, k, *text);
      if (!plain) return unexpected(Error::make(Error::Kind::kBadResponse, plain.error().message));
      text = std::move(*plain);
    }
    auto m = backup::manifest_from_json_text(std::string_view(reinterpret_cast<const char*>(text->data()), text->size()));
    if (!m || !keys.count(snap_prefix + m->data_file())) continue;  // a manifest without its data: not complete
    if (auto w = write_file(staging / m->manifest_file(), *text); !w) return unexpected(w.error());
    out.snapshots.push_back(std::move(*m));
  }
  std::sort(out.snapshots.begin(), out.snapshots.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  // The segments of every generation a usable snapshot belongs to.
  std::set<std::string> gens;
  for (const auto& m : out.snapshots)
    if (!m.generation.empty() && (!target.until_unix_ms || m.created_unix_ms <= *target.until_unix_ms)) gens.insert(m.generation);
  for (const auto& k : keys) {
    for (const auto& g : gens) {
      const std::string p = root + "/wal/" + g + "/";
      if (!k.starts_with(p)) continue;
      const std::string name = k.substr(p.size());
      if (!backup::parse_segment_name(name)) continue;
      fs::create_directories(staging / "wal" / g, ec);
      auto got = source.get_to_file(k, staging / "wal" / g / name);
      if (!got) return unexpected(got.error());
      const fs::path local = staging / "wal" / g / name;
      if (auto u = unwrap_file(local, k, key); !u) return unexpected(u.error());
      if (backup::is_zstd_file(local)) {
        fs::path raw = local;
        raw += ".raw";
        fs::remove(raw, ec);
        if (auto d = backup::zstd_decompress_file(local, raw); !d)
          return unexpected(Error::make(Error::Kind::kBadResponse, "object \"" + k + "\": " + d.error().message));
        fs::rename(raw, local, ec);
        if (ec) return unexpected(Error::make(Error::Kind::kLocal, "could not rename \"" + raw.string() + "\": " + ec.message()));
      }
    }
  }
  auto indexed = backup::index_generations(staging);
  if (!indexed) return unexpected(Error::make(Error::Kind::kLocal, indexed.error().message));
  out.generations = std::move(*indexed);
  out.plan = backup::plan_restore(out.snapshots, out.generations, target);
  if (out.plan) {
    auto got = source.get_to_file(snap_prefix + out.plan->base.data_file(), staging / out.plan->base.data_file());
    if (!got) return unexpected(got.error());
    if (auto u = unwrap_file(staging / out.plan->base.data_file(), snap_prefix + out.plan->base.data_file(), key); !u)
      return unexpected(u.error());
  }
  return out;
}

}  // namespace metagate::replica
