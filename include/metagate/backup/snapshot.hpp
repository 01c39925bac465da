// Snapshots: consistent online copies of a live WAL-mode SQLite file, compressed with zstd,
// each with a manifest, verified after writing. No event loop here: callers run these on a
// thread of their own (the daemon's backup thread, or the `metagate backup` command).
//
// A snapshot is taken inside one read transaction on its own read-only connection, with
// SQLite's online backup API copying every page in one step: writers are never blocked (WAL
// readers and the writer do not wait for each other), and the copy is page for page the file
// as of that transaction — same page numbers, so changes captured later as pages apply to it.
//
// On disk, in the snapshot directory:
//   <id>.db.zst   the database file, zstd-compressed
//   <id>.json     its manifest (written last: a snapshot without one is incomplete)
// <id> is the UTC time the read transaction started, "20261206T113500.123Z": sortable.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "metagate/util/pg_error.hpp"

namespace metagate::backup {

struct Manifest {
  int format = 1;
  std::string id;                 // file name stem, see above
  std::string database;           // the name the backups of this file go under
  std::string source;             // the live file's path when the snapshot was taken
  int64_t created_unix_ms = 0;    // start of the read transaction
  int64_t page_size = 0;
  int64_t page_count = 0;
  int64_t schema_version = 0;     // PRAGMA schema_version (changes with every DDL)
  uint64_t raw_bytes = 0;         // the database file, uncompressed
  std::string raw_sha256;         // hex
  uint64_t stored_bytes = 0;      // the .db.zst file
  std::string stored_sha256;      // hex
  std::string compression = "zstd";
  std::string integrity;          // PRAGMA integrity_check's answer on the copy ("ok")
  double copy_seconds = 0;        // the read transaction (page copy)
  double total_seconds = 0;       // copy, check, compression, fsyncs
  std::string reason;             // "scheduled", "manual", "generation"
  // The change capture's position (docs/BACKUP.md): the snapshot holds every commit of
  // `generation` up to seq_lo and none after seq_hi (usually seq_lo == seq_hi). Empty
  // generation: taken without the capture (restorable alone, not a base for segments).
  std::string generation;
  uint64_t seq_lo = 0;
  uint64_t seq_hi = 0;

  std::string data_file() const { return id + ".db.zst"; }
  std::string manifest_file() const { return id + ".json"; }
};

std::string to_json_text(const Manifest& m);
PgResult<Manifest> manifest_from_json_text(std::string_view text);

// Where the change capture stands: commits 1..seq of `generation` are captured.
struct StorePosition {
  std::string generation;
  uint64_t seq = 0;
};

struct SnapshotOptions {
  std::string database;  // recorded in the manifest
  std::string reason = "manual";
  int zstd_level = 3;
  // Space that must stay free on the backup directory's file system after the snapshot's
  // temporary copy is written (the live database and its WAL live there too, often).
  uint64_t min_free_bytes = 64ull << 20;
  // The capture's position (null: none). Called with upper=false before the read transaction
  // starts (every commit counted then is in the snapshot) and with upper=true once it has
  // started (no commit after the count then is in it).
  std::function<std::optional<StorePosition>(bool upper)> position;
  std::function<int64_t()> clock_ms;  // unix time in ms of the snapshot (tests: an accelerated clock); null = real
};

// Takes a snapshot of the live file `source` into `dir` (created if missing). Errors: the
// source cannot be read (58030/XX001), not enough free space (53100), the copy fails its
// integrity check (XX001). Nothing partial is left behind on failure.
PgResult<Manifest> take_snapshot(const std::filesystem::path& source, const std::filesystem::path& dir,
                                 const SnapshotOptions& options);

// The complete snapshots in `dir` (those with a readable manifest and data file), oldest first.
// Files that belong to no complete snapshot (a crash mid-snapshot) are listed in `stray`.
struct Listing {
  std::vector<Manifest> snapshots;
  std::vector<std::filesystem::path> stray;
};
PgResult<Listing> list_snapshots(const std::filesystem::path& dir);

// Reads the stored file back: its checksum, decompression, the decompressed checksum and
// size, then PRAGMA integrity_check on the decompressed database (in a temporary file in
// `dir`). Ok only if everything matches the manifest.
PgStatus verify_snapshot(const std::filesystem::path& dir, const Manifest& m);

// Decompresses a snapshot to `output` (which must not exist), checking both checksums; the
// file is fsynced before this returns.
PgStatus restore_snapshot(const std::filesystem::path& dir, const Manifest& m, const std::filesystem::path& output);

// Decompresses a snapshot into the open descriptor `out_fd` (`out` names it in messages) and
// checks sizes and both checksums against the manifest.
PgStatus unpack_snapshot(const std::filesystem::path& dir, const Manifest& m, int out_fd, const std::filesystem::path& out);

// PRAGMA integrity_check's whole answer for a database file ("ok" when sound), on a read-only
// connection of its own.
PgResult<std::string> integrity_check(const std::filesystem::path& file);

// "20261206T113500.123Z" for a point in time (snapshot and generation ids).
std::string time_id(std::chrono::system_clock::time_point t);

// Removes the temporary files an interrupted snapshot or verification left in `dir` (names
// starting ".tmp-" or ".verify-") once they are older than `age` — younger ones may belong to a
// snapshot still being written by another process. Returns how many were removed.
size_t remove_stale_temp_files(const std::filesystem::path& dir, std::chrono::seconds age);

// Removes a snapshot's files (data first, then manifest), and fsyncs the directory.
PgStatus remove_snapshot(const std::filesystem::path& dir, const Manifest& m);

}  // namespace metagate::backup
