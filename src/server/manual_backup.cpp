// BACKUP in the admin console (see manual_backup.hpp).
#include "manual_backup.hpp"

#include <cstdio>

#include "metagate/types/type_catalog.hpp"

namespace metagate::server {

namespace {

std::string seconds_text(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", s);
  return buf;
}

}  // namespace

ManualBackup::ManualBackup(BackupScheduler& scheduler, S3Shipper* shipper, std::string file, Options options)
    : scheduler_(scheduler), shipper_(shipper), options_(options) {
  ticket_ = scheduler_.request(std::move(file));
}

admin::AdminResult ManualBackup::empty_result() {
  using namespace types::oid;
  admin::AdminResult r;
  r.columns = {"database", "file", "snapshot", "generation", "commit", "raw_bytes", "stored_bytes", "seconds", "upload"};
  r.types = {kText, kText, kText, kText, kInt8, kInt8, kInt8, kFloat8, kText};
  r.tag = "SHOW";
  return r;
}

admin::AdminResult ManualBackup::result() const {
  admin::AdminResult r = empty_result();
  for (const Row& row : rows_) {
    const backup::Manifest& m = row.manifest;
    char secs[32];
    std::snprintf(secs, sizeof secs, "%.3f", m.total_seconds);
    const bool captured = !m.generation.empty();
    r.rows.push_back({m.database, row.file, m.id, captured ? std::optional<std::string>(m.generation) : std::nullopt,
                      captured ? std::optional<std::string>(std::to_string(m.seq_lo)) : std::nullopt,
                      std::to_string(m.raw_bytes), std::to_string(m.stored_bytes), std::string(secs), row.upload});
  }
  return r;
}

std::optional<PgResult<admin::AdminResult>> ManualBackup::poll() {
  using Result = PgResult<admin::AdminResult>;
  const auto now = std::chrono::steady_clock::now();
  if (!snapshots_done_) {
    auto done = scheduler_.results(ticket_);
    if (!done) return std::nullopt;
    snapshots_done_ = true;
    snapshots_at_ = now;
    // A failed snapshot is the command's error (its SQLSTATE: 53100 for a full disk); the
    // other files' outcomes go in the detail.
    const BackupScheduler::ManualResult* failed = nullptr;
    std::string others;
    for (const auto& r : *done) {
      if (!r.snapshot && !failed) {
        failed = &r;
        continue;
      }
      others += others.empty() ? "" : "\n";
      others += r.snapshot ? "snapshot " + r.snapshot->id + " of " + r.file + " taken" + (shipper_ ? " (S3 ships it)" : "")
                           : "backup of " + r.file + " failed too: " + r.snapshot.error().message + " (SQLSTATE " +
                                 r.snapshot.error().sqlstate + ")";
    }
    if (failed) {
      PgError e = PgError::make(failed->snapshot.error().sqlstate,
                                "backup of " + failed->file + " failed: " + failed->snapshot.error().message);
      e.detail = others;
      e.hint = failed->snapshot.error().hint.empty() ? "The previous snapshots are kept." : failed->snapshot.error().hint;
      return Result(unexpected(std::move(e)));
    }
    for (const auto& r : *done) rows_.push_back({r.file, *r.snapshot, shipper_ ? "" : "not configured"});
    if (shipper_ && !rows_.empty()) {
      pass_mark_ = shipper_->passes().started;
      shipper_->poke();
    }
  }
  const double waited = std::chrono::duration<double>(now - snapshots_at_).count();
  const bool draining = options_.draining && options_.draining->load(std::memory_order_relaxed);
  bool waiting = false;
  for (Row& row : rows_) {
    if (!row.upload.empty()) continue;
    const S3Shipper::SnapshotProgress p = shipper_->progress(row.file, row.manifest.id);
    if (p.in_bucket) {
      row.upload = "uploaded in " + seconds_text(waited) + " s";
    } else if (p.file_pass > pass_mark_ && !p.file_error.empty()) {
      // A pass that started after the snapshot failed: S3 is not answering (or refusing).
      row.upload = p.unreachable ? "pending: S3 unreachable: " + p.file_error + "; the snapshot will be uploaded when it answers"
                                 : "pending: S3 upload failed: " + p.file_error + "; it is retried with back-off";
    } else if (p.passes.finished > pass_mark_ && !p.passes.setup_error.empty()) {
      row.upload = "pending: S3 not usable: " + p.passes.setup_error;
    } else if (p.passes.finished > pass_mark_ && p.file_pass <= pass_mark_) {
      row.upload = "pending: S3 ships only the files metagate has open or configured";
    } else if (p.file_pass > pass_mark_ + 1) {
      // Two passes after it succeeded without it: it is no longer in the backup directory.
      row.upload = "pending: not in the bucket after two shipping passes (removed locally by retention?)";
    } else if (draining) {
      row.upload = "pending: metagate is shutting down; the upload resumes at its next start";
    } else if (now - snapshots_at_ >= options_.upload_timeout) {
      row.upload = "pending: not acknowledged by the bucket within " + seconds_text(waited) +
                   " s; the upload goes on in the background";
    } else {
      waiting = true;
    }
  }
  if (waiting) return std::nullopt;
  return Result(result());
}

}  // namespace metagate::server
