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

std::vector<Upload> plan_uploads(const std::string& root, const fs::path& dir,
                                 const std::vector<backup::Manifest>& snapshots,
                                 const std::vector<LocalSegment>& segments, const std::set<std::string>& remote) {
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

  if (!snapshots.empty()) {
    const backup::Manifest& newest = snapshots.back();
    if (newest.generation.empty()) {
      add_snapshot(newest, true);
    } else {
      // B: the newest snapshot and the segments after it.
      uint64_t cost_b = missing_bytes(dir / newest.data_file(), snapshot_key(root, newest.data_file())) +
                        missing_bytes(dir / newest.manifest_file(), snapshot_key(root, newest.manifest_file()));
      for (const auto* s : segments_after(newest.generation, newest.seq_lo)) cost_b += missing_bytes(s->path, segment_key(root, *s));
      // A: the segments after the newest snapshot of that generation the bucket already has.
      const backup::Manifest* base = nullptr;
      for (const auto& m : snapshots)
        if (m.generation == newest.generation && snapshot_on_remote(m)) base = &m;
      std::optional<uint64_t> cost_a;
      if (base) {
        cost_a = 0;
        for (const auto* s : segments_after(base->generation, base->seq_lo)) *cost_a += missing_bytes(s->path, segment_key(root, *s));
      }
      if (cost_a && *cost_a <= cost_b) {
        for (const auto* s : segments_after(base->generation, base->seq_lo)) add(s->path, segment_key(root, *s), true);
      } else {
        add_snapshot(newest, true);
        for (const auto* s : segments_after(newest.generation, newest.seq_lo)) add(s->path, segment_key(root, *s), true);
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

PgStatus RemoteState::load() {
  keys_.clear();
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
  return Ok{};
}

PgStatus RemoteState::save() const {
  nlohmann::json j;
  j["keys"] = keys_;
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

fs::path parts_file(const fs::path& dir, const std::string& key) { return dir / ".uploads" / (sha256_hex(key) + ".json"); }

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

}  // namespace

Expected<ShipStats, Error> ship(s3::Client& client, const std::string& root, const fs::path& dir, RemoteState& state,
                                const ShipOptions& o, const std::function<bool()>& should_stop) {
  ShipStats stats;
  auto listing = backup::list_snapshots(dir);
  if (!listing) return unexpected(Error::make(Error::Kind::kLocal, listing.error().message));
  auto plan = plan_uploads(root, dir, listing->snapshots, list_sealed_segments(dir), state.keys());
  size_t i = 0;
  auto remaining = [&] {
    stats.pending_objects = stats.pending_bytes = stats.catch_up_pending = 0;
    stats.catch_up_since_unix_ms = 0;
    for (size_t k = i; k < plan.size(); ++k) {
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
  };
  for (; i < plan.size(); ++i) {
    if (should_stop && should_stop()) break;
    Upload u = plan[i];
    uint64_t sent = 0;
    Expected<Ok, Error> r = Ok{};
    fs::path sealed;  // the encrypted copy, kept until the upload is acknowledged (a cut multipart resumes on it)
    if (o.key) {
      sealed = dir / ".uploads" / (sha256_hex(u.key) + ".enc");
      std::error_code ec;
      if (!fs::exists(sealed, ec) || !fs::exists(parts_file(dir, u.key), ec)) {
        if (!fs::exists(u.local, ec)) continue;  // removed by retention meanwhile
        fs::create_directories(sealed.parent_path(), ec);
        fs::remove(parts_file(dir, u.key), ec);  // parts of another encryption of it are useless
        if (auto s = seal_file(*o.key, u.key, u.local, sealed); !s) {
          remaining();
          return unexpected(Error::make(Error::Kind::kLocal, s.error().message));
        }
      }
      u.local = sealed;
      u.bytes = fs::file_size(sealed, ec);
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
    if (!r) {
      remaining();
      return unexpected(r.error());
    }
    if (!sealed.empty()) {
      std::error_code ec;
      fs::remove(sealed, ec);
    }
    state.add(u.key);
    if (auto s = state.save(); !s) spdlog::warn("replica: {}", s.error().message);
    ++stats.uploaded_objects;
    stats.uploaded_bytes += sent;
  }
  remaining();
  // How far the bucket's copy reaches in the current generation.
  if (!listing->snapshots.empty() && !listing->snapshots.back().generation.empty()) {
    stats.generation = listing->snapshots.back().generation;
    const std::string p = root + "/wal/" + stats.generation + "/";
    for (const auto& k : state.keys()) {
      if (!k.starts_with(p)) continue;
      if (auto n = backup::parse_segment_name(k.substr(p.size())); n && n->last_seq)
        stats.remote_seq = std::max(stats.remote_seq, *n->last_seq);
    }
  }
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

Expected<Staged, Error> stage_from_s3(s3::Client& client, const std::string& root, const fs::path& staging,
                                      const backup::RestoreTarget& target, const Key* key) {
  Staged out;
  std::error_code ec;
  fs::create_directories(staging, ec);
  if (ec) return unexpected(Error::make(Error::Kind::kLocal, "could not create \"" + staging.string() + "\": " + ec.message()));
  auto objects = client.list_objects(root + "/");
  if (!objects) return unexpected(objects.error());
  std::set<std::string> keys;
  for (const auto& o : *objects) keys.insert(o.key);
  // Manifests first (small): they say which snapshots there are.
  const std::string snap_prefix = root + "/snapshots/";
  for (const auto& k : keys) {
    if (!k.starts_with(snap_prefix) || !k.ends_with(".json")) continue;
    auto text = client.get_object(k);
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
      auto got = client.get_object_to_file(k, staging / "wal" / g / name);
      if (!got) return unexpected(got.error());
      if (auto u = unwrap_file(staging / "wal" / g / name, k, key); !u) return unexpected(u.error());
    }
  }
  auto indexed = backup::index_generations(staging);
  if (!indexed) return unexpected(Error::make(Error::Kind::kLocal, indexed.error().message));
  out.generations = std::move(*indexed);
  out.plan = backup::plan_restore(out.snapshots, out.generations, target);
  if (out.plan) {
    auto got = client.get_object_to_file(snap_prefix + out.plan->base.data_file(), staging / out.plan->base.data_file());
    if (!got) return unexpected(got.error());
    if (auto u = unwrap_file(staging / out.plan->base.data_file(), snap_prefix + out.plan->base.data_file(), key); !u)
      return unexpected(u.error());
  }
  return out;
}

}  // namespace metagate::replica
