// Point-in-time restore from local backups: a snapshot, then the change capture's records
// after it (docs/BACKUP.md). Planning reads only record headers; building writes a new file —
// never over an existing one — and checks it with PRAGMA integrity_check before publishing it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "metagate/backup/segment.hpp"
#include "metagate/backup/snapshot.hpp"
#include "metagate/util/pg_error.hpp"

namespace metagate::backup {

// What the capture kept of one generation: its records' numbers and times, in order.
struct GenerationIndex {
  std::string id;
  std::filesystem::path dir;
  struct Segment {
    std::filesystem::path path;
    uint64_t first_seq = 0, last_seq = 0;  // transactions in it (last < first: none)
    bool open = false;                     // still being written (or left by a crash)
  };
  std::vector<Segment> segments;
  // Transaction records from the first segment on: seqs[i] committed at times[i].
  std::vector<uint64_t> seqs;
  std::vector<int64_t> times;
  uint64_t bytes = 0;  // the segment files' total size
};

// Every generation under `backup_dir`/wal, oldest first (unreadable files are skipped, torn
// ends ignored).
PgResult<std::vector<GenerationIndex>> index_generations(const std::filesystem::path& backup_dir);

struct RestoreTarget {
  std::optional<int64_t> until_unix_ms;  // the newest point at or before this time; nullopt = newest
  std::string snapshot_id;               // this snapshot alone (no records applied)
};

struct RestorePlan {
  Manifest base;
  std::string generation;  // empty: the snapshot alone
  uint64_t from_seq = 0;   // records after this one ...
  uint64_t to_seq = 0;     // ... up to this one are applied
  int64_t point_unix_ms = 0;  // the time of the state restored
};

// The newest restore point at or before the target, from snapshots (oldest first) and indexes.
std::optional<RestorePlan> plan_restore(const std::vector<Manifest>& snapshots,
                                        const std::vector<GenerationIndex>& generations, const RestoreTarget& target);

// Builds the planned database at `output` (which must not exist): the snapshot, the records
// applied in order, the size of the last commit, then integrity_check. fsynced when it returns.
struct RestoreResult {
  uint64_t records_applied = 0;
  uint64_t pages_written = 0;
  uint64_t db_bytes = 0;
};
PgResult<RestoreResult> build_restore(const std::filesystem::path& backup_dir, const RestorePlan& plan,
                                      const std::vector<GenerationIndex>& generations,
                                      const std::filesystem::path& output);

// Segment files no retained snapshot needs any more: every segment whose records all precede
// the oldest kept snapshot of its generation, and whole generations without a kept snapshot
// (except `current`, the one being written). Returns the paths removed (files and directories).
std::vector<std::filesystem::path> remove_unneeded_segments(const std::filesystem::path& backup_dir,
                                                            const std::vector<Manifest>& kept,
                                                            const std::string& current);

}  // namespace metagate::backup
