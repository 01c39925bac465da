// Compaction of the change capture's segments (docs/BACKUP.md, "Compaction"): the records of
// many commits become one compacted record holding each page they wrote once, as the last of
// them left it. Applied to the database at any commit in the range's start (or inside it), it
// gives the database at the range's last commit: the commits in between are no longer points
// one can restore to, and every page written a thousand times is kept once.
//
// Two uses: local compaction, which keeps per-commit restore points for a recent window and
// one point per kept snapshot interval before it (so segments stay inside the disk budget
// during a long outage); and the catch-up delta the replica ships to bring the bucket's copy
// from its last commit to now in one object.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "metagate/backup/restore.hpp"
#include "metagate/backup/retention.hpp"
#include "metagate/backup/snapshot.hpp"

namespace metagate::backup {

struct CompactResult {
  std::filesystem::path output;
  uint64_t first_seq = 0, last_seq = 0;  // the commits it stands for
  uint64_t pages = 0;                    // distinct pages in it
  uint64_t bytes = 0;                    // its size
  uint64_t input_pages = 0;              // the page images of the records it merged
  int64_t last_unix_ms = 0;              // when its last commit was captured
};

// The largest compacted record written (its payload length is a 32-bit field); a range that
// changed more is not compacted (kept as it is, or shipped as a snapshot).
inline constexpr uint64_t kMaxCompactedPayload = 1ull << 31;

// Writes `output` (replaced atomically if it exists): a segment of generation `g` with one
// compacted record standing for commits from + 1 .. to, built from the records of `g` (any
// that take the database from `from` to `to`). 53100 when the disk is full, 54000 when the
// range changed more than kMaxCompactedPayload. `durable` false: not fsynced (the catch-up
// delta, which only exists to be uploaded: syncing ~10x what is shipped stalled the clients'
// commits behind the writeback; whoever reuses one checks it with check_compacted first).
PgResult<CompactResult> write_compacted(const GenerationIndex& g, uint64_t from, uint64_t to,
                                        const std::filesystem::path& output, bool durable = true);

// Whether `path` is a whole segment of generation `generation` holding exactly one record, a
// compacted one for commits first .. last (checksums verified): a non-durable delta after a
// crash may be torn.
bool check_compacted(const std::filesystem::path& path, const std::string& generation, uint64_t first, uint64_t last);

struct CompactionOptions {
  // Sealed segments whose last commit is newer than this are left alone (per-commit restore
  // points for the recent past). INT64_MAX: every sealed segment may be compacted.
  int64_t older_than_unix_ms = 0;
  std::string current;  // the capture's generation: its newest sealed segment is kept as it is
  std::optional<StorePosition> shipped;  // the bucket's position: a restore point kept like a snapshot
  // The retention's buckets applied to the commits themselves: the last commit of each kept
  // hour / day / week stays a restore point even where its snapshot is gone (the disk budget
  // removes snapshots first; a delta per day costs what that day changed). Null: none.
  const Retention* retention = nullptr;
};

struct CompactionReport {
  std::vector<CompactResult> written;
  std::vector<std::filesystem::path> removed;  // the segments they replaced
  uint64_t bytes_before = 0, bytes_after = 0;  // of the segments involved
  std::vector<std::string> errors;
};

// Local compaction of `backup_dir`/wal: in each generation, the runs of sealed segments that
// lie between the same two kept snapshots (by their first commit) and are old enough become
// one compacted segment each, then the segments they replace are removed (a crash in between
// leaves both, which restore and a later compaction handle).
CompactionReport compact_segments(const std::filesystem::path& backup_dir, const std::vector<Manifest>& kept,
                                  const CompactionOptions& options);

}  // namespace metagate::backup
