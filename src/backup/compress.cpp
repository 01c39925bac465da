// zstd streams from file to file: the snapshot files, and the segments shipped to S3.
#include "metagate/backup/compress.hpp"

#include <fcntl.h>
#include <unistd.h>
#include <zstd.h>

#include <cerrno>
#include <memory>
#include <vector>

#include "files.hpp"

namespace metagate::backup {

namespace fs = std::filesystem;
using namespace detail;

namespace detail {

// Compresses `in` into `out` (created, must not exist), hashing both sides; fsyncs `out`.
PgStatus compress_file(const fs::path& in, const fs::path& out, int level, Sha256& raw_hash, Sha256& stored_hash,
                       uint64_t& raw_bytes, uint64_t& stored_bytes) {
  Fd src(::open(in.c_str(), O_RDONLY | O_CLOEXEC));
  if (!src) return io_error("open", in, errno);
  Fd dst(::open(out.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!dst) return io_error("create", out, errno);
  std::unique_ptr<ZSTD_CCtx, size_t (*)(ZSTD_CCtx*)> cctx(ZSTD_createCCtx(), ZSTD_freeCCtx);
  ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_compressionLevel, level);
  ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_checksumFlag, 1);
  std::vector<char> ibuf(ZSTD_CStreamInSize()), obuf(ZSTD_CStreamOutSize());
  raw_bytes = stored_bytes = 0;
  for (;;) {
    ssize_t n = ::read(src.get(), ibuf.data(), ibuf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error("read", in, errno);
    }
    raw_hash.update(ibuf.data(), static_cast<size_t>(n));
    raw_bytes += static_cast<uint64_t>(n);
    const bool last = n == 0;
    ZSTD_inBuffer input{ibuf.data(), static_cast<size_t>(n), 0};
    bool done = false;
    while (!done) {
      ZSTD_outBuffer output{obuf.data(), obuf.size(), 0};
      size_t left = ZSTD_compressStream2(cctx.get(), &output, &input, last ? ZSTD_e_end : ZSTD_e_continue);
      if (ZSTD_isError(left)) return fail(sqlstate::kInternalError, std::string("zstd: ") + ZSTD_getErrorName(left));
      if (auto s = write_all(dst.get(), obuf.data(), output.pos, out); !s) return s;
      stored_hash.update(obuf.data(), output.pos);
      stored_bytes += output.pos;
      done = last ? left == 0 : input.pos == input.size;
    }
    if (last) break;
  }
  if (::fsync(dst.get()) != 0) return io_error("fsync", out, errno);
  return Ok{};
}

// Decompresses `in` into the open descriptor `out_fd` (out names it for messages), hashing
// both sides.
PgStatus decompress_file(const fs::path& in, int out_fd, const fs::path& out, Sha256& stored_hash, Sha256& raw_hash,
                         uint64_t& stored_bytes, uint64_t& raw_bytes) {
  Fd src(::open(in.c_str(), O_RDONLY | O_CLOEXEC));
  if (!src) return io_error("open", in, errno);
  std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> dctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  std::vector<char> ibuf(ZSTD_DStreamInSize()), obuf(ZSTD_DStreamOutSize());
  stored_bytes = raw_bytes = 0;
  size_t pending = 1;  // ZSTD_decompressStream's hint: 0 once a frame is complete
  for (;;) {
    ssize_t n = ::read(src.get(), ibuf.data(), ibuf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error("read", in, errno);
    }
    if (n == 0) break;
    stored_hash.update(ibuf.data(), static_cast<size_t>(n));
    stored_bytes += static_cast<uint64_t>(n);
    ZSTD_inBuffer input{ibuf.data(), static_cast<size_t>(n), 0};
    while (input.pos < input.size) {
      ZSTD_outBuffer output{obuf.data(), obuf.size(), 0};
      pending = ZSTD_decompressStream(dctx.get(), &output, &input);
      if (ZSTD_isError(pending))
        return fail(sqlstate::kDataCorrupted,
                             "compressed file \"" + in.string() + "\" is damaged: " + ZSTD_getErrorName(pending));
      if (auto s = write_all(out_fd, obuf.data(), output.pos, out); !s) return s;
      raw_hash.update(obuf.data(), output.pos);
      raw_bytes += output.pos;
    }
  }
  if (pending != 0)
    return fail(sqlstate::kDataCorrupted, "compressed file \"" + in.string() + "\" is truncated");
  return Ok{};
}

}  // namespace detail

bool is_zstd_file(const fs::path& p) {
  Fd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
  uint8_t magic[4] = {};
  if (!fd || ::pread(fd.get(), magic, 4, 0) != 4) return false;
  return magic[0] == 0x28 && magic[1] == 0xB5 && magic[2] == 0x2F && magic[3] == 0xFD;
}

PgStatus zstd_compress_file(const fs::path& in, const fs::path& out, int level) {
  Sha256 a, b;
  uint64_t raw = 0, stored = 0;
  if (auto s = compress_file(in, out, level, a, b, raw, stored); !s) {
    remove_quietly(out);
    return s;
  }
  return Ok{};
}

PgStatus zstd_decompress_file(const fs::path& in, const fs::path& out) {
  Fd dst(::open(out.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!dst) return io_error("create", out, errno);
  Sha256 a, b;
  uint64_t raw = 0, stored = 0;
  auto s = decompress_file(in, dst.get(), out, a, b, stored, raw);
  if (s && ::fsync(dst.get()) != 0) s = io_error("fsync", out, errno);
  if (!s) remove_quietly(out);
  return s;
}

}  // namespace metagate::backup
