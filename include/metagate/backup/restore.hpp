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

// What the capture kept of one generation: its segments, and every record in them that a
// restore can apply.
struct GenerationIndex {
  std::string id;
  std::filesystem::path dir;
  struct Segment {
    std::filesystem::path path;
    uint64_t first_seq = 0, last_seq = 0;  // commits in it (last < first: none)
    bool open = false;                     // still being written (or left by a crash)
    bool compacted = false;                // holds a compacted record (compact.hpp)
    uint64_t bytes = 0;
  };
  std::vector<Segment> segments;  // by first_seq
  // A transaction record (first == last) or a compacted one: applied to the database as any
  // commit from first - 1 to last - 1 left it, it gives the database as commit `last` left it
  // (its pages are the last versions of every page those commits wrote, and a page that was
  // already at its final version is simply written again). Sorted by last, then first.
  struct Entry {
    uint64_t first = 0, last = 0;
    int64_t unix_ms = 0;   // when commit `last` was captured
    uint32_t segment = 0;  // index in `segments`
    uint32_t record = 0;   // index in parse_segment(that file).records
  };
  std::vector<Entry> entries;
  uint64_t bytes = 0;  // the segment files' total size
};

// The entries to apply, in order, to take a database from commit `from` to exactly commit `to`
// (few: each step the longest jump that does not pass `to`); nullopt when the records do not
// reach it.
std::optional<std::vector<size_t>> find_path(const std::vector<GenerationIndex::Entry>& entries, uint64_t from,
                                             uint64_t to);
// Every commit after `from` that the records reach from it, ascending, with its time.
struct Reachable {
  uint64_t seq = 0;
  int64_t unix_ms = 0;
};
std::vector<Reachable> reachable_from(const std::vector<GenerationIndex::Entry>& entries, uint64_t from);

// One generation's directory (unreadable files are skipped, torn ends ignored). With `after`,
// sealed segments whose name says they end at or before that commit are not read (what a
// catch-up from there needs: a generation's older segments may be hundreds of MB).
GenerationIndex index_generation(const std::filesystem::path& dir, uint64_t after = 0);
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
// (except `current`, the one being written). `shipped`: where the bucket's copy stands — the
// segments after it are kept too (what a catch-up delta is built from). Returns the paths
// removed (files and directories).
std::vector<std::filesystem::path> remove_unneeded_segments(const std::filesystem::path& backup_dir,
                                                            const std::vector<Manifest>& kept,
                                                            const std::string& current,
                                                            const std::optional<StorePosition>& shipped = std::nullopt);

}  // namespace metagate::backup
