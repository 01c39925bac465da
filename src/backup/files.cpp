// File helpers of the backup module.
#include "files.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <openssl/evp.h>

#include <cerrno>
#include <cstring>

namespace metagate::backup::detail {

namespace fs = std::filesystem;

Unexpected<PgError> fail(std::string_view code, std::string message) {
  return unexpected(PgError::make(code, std::move(message)));
}

Unexpected<PgError> io_error(const std::string& what, const fs::path& p, int err) {
  std::string msg = "could not " + what + " file \"" + p.string() + "\": " + std::strerror(err);
  return fail(err == ENOSPC || err == EDQUOT ? kDiskFull : kIoError, std::move(msg));
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Fd& Fd::operator=(Fd&& o) noexcept {
  std::swap(fd_, o.fd_);
  return *this;
}

Fd::~Fd() { reset(); }

void Fd::reset() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

PgStatus write_all(int fd, const void* data, size_t n, const fs::path& p) {
  auto* c = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::write(fd, c, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return io_error("write", p, errno);
    }
    c += w;
    n -= static_cast<size_t>(w);
  }
  return Ok{};
}

PgStatus pwrite_all(int fd, const void* data, size_t n, uint64_t offset, const fs::path& p) {
  auto* c = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::pwrite(fd, c, n, static_cast<off_t>(offset));
    if (w < 0) {
      if (errno == EINTR) continue;
      return io_error("write", p, errno);
    }
    c += w;
    n -= static_cast<size_t>(w);
    offset += static_cast<uint64_t>(w);
  }
  return Ok{};
}

PgResult<size_t> pread_full(int fd, void* data, size_t n, uint64_t offset, const fs::path& p) {
  auto* c = static_cast<char*>(data);
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::pread(fd, c + got, n - got, static_cast<off_t>(offset + got));
    if (r < 0) {
      if (errno == EINTR) continue;
      return io_error("read", p, errno);
    }
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  return got;
}

PgStatus fsync_path(const fs::path& p, bool directory) {
  Fd fd(::open(p.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC));
  if (!fd) return io_error("open", p, errno);
  if (::fsync(fd.get()) != 0) return io_error("fsync", p, errno);
  return Ok{};
}

void remove_quietly(const fs::path& p) {
  std::error_code ec;
  fs::remove(p, ec);
}

TempFile::~TempFile() {
  if (path.empty()) return;
  remove_quietly(path);
  for (const char* side : {"-journal", "-wal", "-shm"}) remove_quietly(path.string() + side);
}

PgResult<std::string> read_whole_file(const fs::path& p) {
  Fd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return io_error("open", p, errno);
  std::string text;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error("read", p, errno);
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  return text;
}

PgStatus publish_file(const fs::path& tmp, const fs::path& final_path, bool replace,
                      const std::function<PgStatus(int fd)>& fill, bool durable) {
  remove_quietly(tmp);  // left by an interrupted run
  {
    Fd fd(::open(tmp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!fd) return io_error("create", tmp, errno);
    if (auto s = fill(fd.get()); !s) {
      remove_quietly(tmp);
      return s;
    }
    if (durable && ::fsync(fd.get()) != 0) {
      int e = errno;
      remove_quietly(tmp);
      return io_error("fsync", tmp, e);
    }
  }
  if ((replace ? ::rename(tmp.c_str(), final_path.c_str()) : ::link(tmp.c_str(), final_path.c_str())) != 0) {
    int e = errno;
    remove_quietly(tmp);
    return io_error(replace ? "rename" : "create", replace ? tmp : final_path, e);
  }
  if (!replace) remove_quietly(tmp);
  if (!durable) return {};
  fs::path parent = final_path.parent_path().empty() ? fs::path(".") : final_path.parent_path();
  return fsync_path(parent, true);
}

PgStatus write_file_atomically(const fs::path& dir, const std::string& name, const std::string& text) {
  return publish_file(dir / (".tmp-" + name), dir / name, /*replace=*/true,
                      [&](int fd) { return write_all(fd, text.data(), text.size(), dir / name); });
}

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr); }
Sha256::~Sha256() { EVP_MD_CTX_free(ctx_); }
void Sha256::update(const void* p, size_t n) { EVP_DigestUpdate(ctx_, p, n); }
std::string Sha256::hex() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx_, md, &len);
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += digits[md[i] >> 4];
    out += digits[md[i] & 15];
  }
  return out;
}

}  // namespace metagate::backup::detail
