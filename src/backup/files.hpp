// File helpers shared by the backup module's parts (private to the module): descriptors,
// complete writes, fsync, publishing a file atomically, SHA-256, error values.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

#include "metagate/util/pg_error.hpp"

struct evp_md_ctx_st;

namespace metagate::backup::detail {

inline constexpr std::string_view kIoError = "58030";
inline constexpr std::string_view kDiskFull = "53100";

Unexpected<PgError> fail(std::string_view code, std::string message);
// errno → 58030 "could not <what> file ...", or 53100 for ENOSPC/EDQUOT.
Unexpected<PgError> io_error(const std::string& what, const std::filesystem::path& p, int err);
double seconds_since(std::chrono::steady_clock::time_point t0);
int64_t unix_ms_now();

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Fd& operator=(Fd&& o) noexcept;
  ~Fd();
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  void reset();

 private:
  int fd_ = -1;
};

PgStatus write_all(int fd, const void* data, size_t n, const std::filesystem::path& p);
PgStatus pwrite_all(int fd, const void* data, size_t n, uint64_t offset, const std::filesystem::path& p);
// Reads up to n bytes at offset (fewer only at the end of the file); the count read.
PgResult<size_t> pread_full(int fd, void* data, size_t n, uint64_t offset, const std::filesystem::path& p);
PgStatus fsync_path(const std::filesystem::path& p, bool directory);
void remove_quietly(const std::filesystem::path& p);
PgResult<std::string> read_whole_file(const std::filesystem::path& p);

// Removes a temporary file (and SQLite's side files for it) when it goes out of scope.
struct TempFile {
  std::filesystem::path path;
  TempFile() = default;
  explicit TempFile(std::filesystem::path p) : path(std::move(p)) {}
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile();
};

// Writes `tmp` with `fill`, fsyncs it, then publishes it as `final_path` — rename(2), or link(2)
// when an existing file must never be replaced — and fsyncs the directory. On failure nothing
// is left behind. `durable` false skips both fsyncs: for throw-away files whose readers check
// them anyway (a crash may leave a torn or missing file, never a half-named one).
PgStatus publish_file(const std::filesystem::path& tmp, const std::filesystem::path& final_path, bool replace,
                      const std::function<PgStatus(int fd)>& fill, bool durable = true);
PgStatus write_file_atomically(const std::filesystem::path& dir, const std::string& name, const std::string& text);

class Sha256;
// zstd streams (compress.cpp): `in` into `out` (created, must not exist; fsynced), hashing
// both sides; and back into an open descriptor.
PgStatus compress_file(const std::filesystem::path& in, const std::filesystem::path& out, int level, Sha256& raw_hash,
                       Sha256& stored_hash, uint64_t& raw_bytes, uint64_t& stored_bytes);
PgStatus decompress_file(const std::filesystem::path& in, int out_fd, const std::filesystem::path& out,
                         Sha256& stored_hash, Sha256& raw_hash, uint64_t& stored_bytes, uint64_t& raw_bytes);

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const void* p, size_t n);
  std::string hex();  // finishes the digest

 private:
  evp_md_ctx_st* ctx_;
};

}  // namespace metagate::backup::detail
