// Replica: the backups of one SQLite file, shipped to S3 (docs/BACKUP.md, "S3"). The local
// backup directory is the queue: every complete snapshot and every sealed segment there that
// the bucket does not have yet is an upload to make, so the queue survives restarts and a
// network outage of any length without a file of its own; what the bucket has is recorded in
// <backup dir>/.remote.json after each acknowledged upload (and reconciled with a listing).
//
// Order ("catch up first, then backfill"): the smallest set of objects that brings the remote
// copy to the newest local point goes first — when the bucket is more than one segment behind,
// a catch-up delta (one compacted segment from the bucket's last commit to the newest sealed
// one: every page changed meanwhile once, compact.hpp); else the segments after the bucket's
// position; or the newest local snapshot and the segments after it when that is smaller — in
// commit order, manifest after its data. Older snapshots and the segments (the history, with
// every commit as a restore point) follow, newest first.
//
// Remote layout, under <prefix>/<database>/:
//   snapshots/<id>.db.zst, snapshots/<id>.json     (a manifest is uploaded after its data)
//   wal/<generation>/<first>-<last>.seg            (zstd-compressed segments; a catch-up delta
//                                                   is a segment too, overlapping others)
// Objects over the multipart threshold go up in parts; the upload id and the finished parts
// are kept in <backup dir>/.uploads/ so that a cut upload resumes where it stopped.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "metagate/backup/restore.hpp"
#include "metagate/backup/retention.hpp"
#include "metagate/backup/snapshot.hpp"
#include "metagate/replica/envelope.hpp"
#include "metagate/s3/client.hpp"

namespace metagate::replica {

struct Upload {
  std::filesystem::path local;
  std::string key;
  uint64_t bytes = 0;
  bool catch_up = false;  // part of the set that makes the remote copy current
};

std::string remote_root(const std::string& prefix, const std::string& database);

// A sealed segment in the local backup directory (named, not read).
struct LocalSegment {
  std::string generation;
  std::filesystem::path path;
  uint64_t first_seq = 0, last_seq = 0;
  uint64_t bytes = 0;
};
std::vector<LocalSegment> list_sealed_segments(const std::filesystem::path& dir);  // by generation, then seq

// The newest commit of `generation` the bucket's copy reaches: from its newest snapshot of that
// generation (`snapshots`: manifests, local or remembered, say which commit a snapshot starts
// at; those the bucket lacks are ignored) through the segments it holds (by their names).
// nullopt: the bucket has no snapshot of it.
std::optional<uint64_t> remote_position(const std::string& root, const std::vector<backup::Manifest>& snapshots,
                                        const std::set<std::string>& remote_keys, const std::string& generation);

// A catch-up delta built for the bucket (a compacted segment in <dir>/.uploads/catch-up/).
struct CatchUpDelta {
  std::string generation;
  std::filesystem::path path;
  uint64_t first_seq = 0, last_seq = 0;
  uint64_t bytes = 0;
};
// Builds (or finds, when an earlier pass built it and it still reaches the newest commit or its
// upload was cut) the delta from the bucket's position `from` to the newest sealed local
// commit, when the bucket is at least two sealed segments behind; nullopt otherwise, or when
// it cannot be built (logged). Other deltas of that directory are removed.
std::optional<CatchUpDelta> prepare_catch_up(const std::filesystem::path& dir, const std::string& root,
                                             const std::string& generation, uint64_t from,
                                             const std::vector<LocalSegment>& segments);

// What to upload, in order, given the local snapshots (oldest first) and sealed segments, the
// keys the bucket has, the bucket's position in the newest snapshot's generation
// (remote_position) and a catch-up delta if there is one (see above).
std::vector<Upload> plan_uploads(const std::string& root, const std::filesystem::path& dir,
                                 const std::vector<backup::Manifest>& snapshots,
                                 const std::vector<LocalSegment>& segments, const std::set<std::string>& remote_keys,
                                 std::optional<uint64_t> remote_at = std::nullopt,
                                 const std::optional<CatchUpDelta>& delta = std::nullopt);

struct ShipOptions {
  uint64_t multipart_threshold = 64ull << 20;
  uint64_t part_size = 16ull << 20;
  const Key* key = nullptr;  // encrypt every object (envelope.hpp); null: as they are
  int zstd_level = 3;        // segments are compressed before they leave
  bool catch_up_only = false;  // stop once the bucket's copy is current (the history waits)
  // Remote retention (null: the bucket keeps everything): once the bucket is current, the
  // snapshots this retention would not keep, and the segments no kept one needs, are deleted.
  const backup::Retention* retention = nullptr;
};

struct ShipStats {
  uint64_t uploaded_objects = 0;
  uint64_t uploaded_bytes = 0;
  uint64_t pending_objects = 0;   // after the pass
  uint64_t pending_bytes = 0;
  uint64_t catch_up_pending = 0;  // objects still needed for the remote copy to be current
  int64_t catch_up_since_unix_ms = 0;  // mtime of the oldest file the remote copy still lacks (0: current)
  std::string generation;              // the newest local snapshot's generation
  uint64_t remote_seq = 0;             // the newest commit of it the bucket's copy reaches
  uint64_t catch_up_delta_commits = 0;  // commits the last catch-up delta built stood for (0: none)
  uint64_t catch_up_delta_bytes = 0;    // its size before compression
  uint64_t catch_up_uploaded_bytes = 0;  // of uploaded_bytes, those of catch-up objects
  uint64_t deleted_objects = 0;          // by remote retention in this pass
};

// Remote retention: what to delete from the bucket, given its keys and the snapshots known
// (local manifests and those remembered in .remote.json): the snapshots `r` does not keep
// among those the bucket holds (never its newest), manifests or data left without their other
// half (older than the newest complete snapshot), and the segments of a generation that precede
// its oldest kept snapshot, or of a generation with none (but the newest snapshot's).
std::vector<std::string> plan_remote_prune(const std::string& root, const std::set<std::string>& remote_keys,
                                           const std::vector<backup::Manifest>& known, const backup::Retention& r);

// The remote state of one backup directory: the keys known to be in the bucket, and which
// commit each snapshot shipped starts at (so the bucket's position is known after local
// retention removed the snapshot it starts from).
class RemoteState {
 public:
  explicit RemoteState(std::filesystem::path dir) : dir_(std::move(dir)) {}
  PgStatus load();                            // <dir>/.remote.json (missing: empty)
  PgStatus save() const;                      // atomically
  const std::set<std::string>& keys() const { return keys_; }
  void add(const std::string& key) { keys_.insert(key); }
  void replace(std::set<std::string> keys) { keys_ = std::move(keys); }
  void erase(const std::string& key) { keys_.erase(key); }
  void remember(const backup::Manifest& m);
  // The snapshots remembered (id, generation, seq_lo only) and the local ones, by id.
  std::vector<backup::Manifest> known_snapshots(const std::vector<backup::Manifest>& local) const;

 private:
  struct Base {
    std::string generation;
    uint64_t seq_lo = 0;
    int64_t created_unix_ms = 0;
  };
  std::filesystem::path dir_;
  std::set<std::string> keys_;
  std::map<std::string, Base> bases_;  // by snapshot id
};

// Where the bucket's copy of a backup directory stands, from <dir>/.remote.json and the local
// manifests: its newest snapshot's generation and the commit it reaches there. nullopt: the
// bucket has no snapshot yet (or no state was ever saved). The backup pass keeps the segments
// after it (compacted) so that the catch-up after an outage can be a delta.
std::optional<backup::StorePosition> shipped_position(const std::filesystem::path& dir, const std::string& root);

// One shipping pass over a backup directory: uploads everything planned, in order, until done
// or until a request fails (returned; the next pass retries from there). `should_stop` is
// polled between objects and parts.
Expected<ShipStats, s3::Error> ship(s3::Client& client, const std::string& root, const std::filesystem::path& dir,
                                    RemoteState& state, const ShipOptions& options,
                                    const std::function<bool()>& should_stop);

// What ship() would still have to upload, from the local state alone (no request): the queue
// and lag figures while the endpoint does not answer.
ShipStats pending_uploads(const std::string& root, const std::filesystem::path& dir, const RemoteState& state);

// Where a restore reads the bucket's objects from: the bucket itself, or a copy of it on disk
// (`aws s3 sync s3://BUCKET/<root>/ DIR`: DIR/snapshots/..., DIR/wal/...), for a restore on a
// machine without access to the endpoint — and for checking the objects with another client.
class ObjectSource {
 public:
  virtual ~ObjectSource() = default;
  virtual Expected<std::vector<std::string>, s3::Error> list(const std::string& prefix) = 0;  // keys
  virtual Expected<std::vector<uint8_t>, s3::Error> get(const std::string& key) = 0;
  virtual Expected<Ok, s3::Error> get_to_file(const std::string& key, const std::filesystem::path& to) = 0;
};
class BucketSource final : public ObjectSource {
 public:
  explicit BucketSource(s3::Client& c) : client_(c) {}
  Expected<std::vector<std::string>, s3::Error> list(const std::string& prefix) override;
  Expected<std::vector<uint8_t>, s3::Error> get(const std::string& key) override;
  Expected<Ok, s3::Error> get_to_file(const std::string& key, const std::filesystem::path& to) override;

 private:
  s3::Client& client_;
};
// Keys "<root>/<rest>" are the files <dir>/<rest>.
class DirectorySource final : public ObjectSource {
 public:
  DirectorySource(std::filesystem::path dir, std::string root) : dir_(std::move(dir)), root_(std::move(root)) {}
  Expected<std::vector<std::string>, s3::Error> list(const std::string& prefix) override;
  Expected<std::vector<uint8_t>, s3::Error> get(const std::string& key) override;
  Expected<Ok, s3::Error> get_to_file(const std::string& key, const std::filesystem::path& to) override;

 private:
  std::optional<std::filesystem::path> path_of(const std::string& key) const;
  std::filesystem::path dir_;
  std::string root_;
};

// `metagate restore --from s3`: downloads what a restore to `target` needs from the bucket into
// `staging` (a scratch directory laid out like a backup directory), then plans there.
struct Staged {
  std::vector<backup::Manifest> snapshots;
  std::vector<backup::GenerationIndex> generations;
  std::optional<backup::RestorePlan> plan;
};
// Encrypted objects need `key` (null: an encrypted object is an error saying so).
Expected<Staged, s3::Error> stage_from_s3(ObjectSource& source, const std::string& root,
                                          const std::filesystem::path& staging, const backup::RestoreTarget& target,
                                          const Key* key = nullptr);
inline Expected<Staged, s3::Error> stage_from_s3(s3::Client& client, const std::string& root,
                                                 const std::filesystem::path& staging,
                                                 const backup::RestoreTarget& target, const Key* key = nullptr) {
  BucketSource source(client);
  return stage_from_s3(source, root, staging, target, key);
}

}  // namespace metagate::replica
