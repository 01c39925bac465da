// GroupCommit: one flusher thread per store; see the header for the protocol.
#include "metagate/store/group_commit.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

namespace metagate::store {

namespace {

PgError io_error(const std::string& what, const std::string& path, int err) {
  return PgError::make("58030", "could not " + what + " file \"" + path + "\": " + std::strerror(err));
}

}  // namespace

GroupCommit::GroupCommit(Options opts) : opts_(std::move(opts)) {
  thread_ = std::thread([this] { run(); });
}

GroupCommit::~GroupCommit() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (fd_ >= 0) ::close(fd_);
}

uint64_t GroupCommit::note_commit() {
  std::lock_guard lk(mu_);
  ++stats_.commits;
  uint64_t t = ++requested_;
  cv_.notify_one();
  return t;
}

void GroupCommit::when_durable(uint64_t ticket, Callback cb) {
  std::unique_lock lk(mu_);
  if (failure_) {
    PgError e = *failure_;
    lk.unlock();
    cb(unexpected(std::move(e)));
    return;
  }
  if (ticket <= durable_) {
    lk.unlock();
    cb(Ok{});
    return;
  }
  waiters_.emplace(ticket, std::move(cb));
  cv_.notify_one();
}

PgStatus GroupCommit::wait_durable(uint64_t ticket) {
  std::mutex m;
  std::condition_variable cv;
  std::optional<PgStatus> result;
  when_durable(ticket, [&](PgStatus s) {
    std::lock_guard lk(m);
    result = std::move(s);
    cv.notify_one();
  });
  std::unique_lock lk(m);
  cv.wait(lk, [&] { return result.has_value(); });
  return std::move(*result);
}

std::optional<PgError> GroupCommit::failure() const {
  std::lock_guard lk(mu_);
  return failure_;
}

GroupCommit::Stats GroupCommit::stats() const {
  std::lock_guard lk(mu_);
  return stats_;
}

PgStatus GroupCommit::fdatasync_wal() {
  const std::string& path = opts_.wal_path;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    // No WAL file: nothing was appended since SQLite removed it (a clean close), and what it
    // held was checkpointed and synced by SQLite itself.
    if (errno == ENOENT) return Ok{};
    return unexpected(io_error("stat", path, errno));
  }
  if (fd_ >= 0 && (static_cast<uint64_t>(st.st_ino) != ino_ || static_cast<uint64_t>(st.st_dev) != dev_)) {
    ::close(fd_);  // the WAL was recreated: follow the new file
    fd_ = -1;
  }
  if (fd_ < 0) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) return unexpected(io_error("open", path, errno));
    struct stat fst {};
    if (::fstat(fd_, &fst) != 0) return unexpected(io_error("stat", path, errno));
    ino_ = static_cast<uint64_t>(fst.st_ino);
    dev_ = static_cast<uint64_t>(fst.st_dev);
    // A new file's directory entry must be durable too.
    auto dir = std::filesystem::path(path).parent_path();
    int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      int rc = ::fsync(dfd);
      int err = errno;
      ::close(dfd);
      if (rc != 0 && err != EINVAL) return unexpected(io_error("fsync", dir.string(), err));
    }
  }
  // fdatasync through any descriptor flushes every dirty page of the file (Linux semantics),
  // including the pages SQLite wrote through its own descriptor.
  if (::fdatasync(fd_) != 0) return unexpected(io_error("fsync", path, errno));
  return Ok{};
}

void GroupCommit::run() {
  std::unique_lock lk(mu_);
  for (;;) {
    cv_.wait(lk, [&] { return stop_ || requested_ > durable_ || (!waiters_.empty() && failure_); });
    if (requested_ <= durable_ && stop_) break;
    if (!failure_ && opts_.commit_delay.count() > 0 && opts_.siblings && !stop_) {
      // PostgreSQL's commit_delay: when other sessions are writing, give their commits a
      // moment to join this fsync.
      auto siblings = opts_.siblings;
      lk.unlock();
      bool others = siblings() > 0;
      if (others) std::this_thread::sleep_for(opts_.commit_delay);
      lk.lock();
    }
    uint64_t target = requested_;
    PgStatus s = Ok{};
    if (!failure_) {
      lk.unlock();
      s = opts_.sync ? opts_.sync() : fdatasync_wal();
      lk.lock();
      ++stats_.syncs;
      if (!s) {
        ++stats_.failed_syncs;
        failure_ = s.error();
      }
    } else {
      s = unexpected(*failure_);
    }
    if (s) durable_ = std::max(durable_, target);
    // Hand out results: on success everything up to target; after a failure, everyone.
    std::vector<Callback> ready;
    std::vector<Callback> failed;
    for (auto it = waiters_.begin(); it != waiters_.end();) {
      if (!s) {
        failed.push_back(std::move(it->second));
        it = waiters_.erase(it);
      } else if (it->first <= durable_) {
        ready.push_back(std::move(it->second));
        it = waiters_.erase(it);
      } else {
        break;
      }
    }
    if (!s) durable_ = requested_;  // nothing more to sync: later commits fail immediately
    lk.unlock();
    for (auto& cb : ready) cb(Ok{});
    for (auto& cb : failed) cb(unexpected(s.error()));
    lk.lock();
  }
}

}  // namespace metagate::store
