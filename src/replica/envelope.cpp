// AES-256-GCM envelopes for the objects shipped to S3 (see envelope.hpp).
#include "metagate/replica/envelope.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <memory>

namespace metagate::replica {

namespace {

constexpr char kMagic[8] = {'M', 'G', 'E', 'N', 'C', '0', '0', '1'};

PgError bad(std::string msg) { return PgError::make(sqlstate::kDataCorrupted, std::move(msg)); }

using Ctx = std::unique_ptr<EVP_CIPHER_CTX, void (*)(EVP_CIPHER_CTX*)>;

}  // namespace

Key key_from_bytes(std::span<const uint8_t, 32> bytes) {
  Key k;
  std::memcpy(k.bytes.data(), bytes.data(), 32);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(k.bytes.data(), k.bytes.size(), md, &len, EVP_sha256(), nullptr);
  std::memcpy(k.id.data(), md, 8);
  return k;
}

PgResult<Key> load_key_file(const std::filesystem::path& file) {
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return unexpected(PgError::make("58030", "could not open the encryption key file \"" + file.string() + "\": " + std::strerror(errno)));
  struct stat st {};
  ::fstat(fd, &st);
  std::string text(128, '\0');
  ssize_t n = ::read(fd, text.data(), text.size());
  ::close(fd);
  if ((st.st_mode & 077) != 0)
    return unexpected(PgError::make("42501", "the encryption key file \"" + file.string() +
                                                 "\" may be read by other users: chmod 600 it"));
  if (n < 0) return unexpected(PgError::make("58030", "could not read \"" + file.string() + "\""));
  text.resize(static_cast<size_t>(n));
  std::array<uint8_t, 32> raw{};
  if (text.size() == 32) {
    std::memcpy(raw.data(), text.data(), 32);
  } else {
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    if (text.size() != 64 || text.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos)
      return unexpected(PgError::make("22023", "the encryption key file \"" + file.string() +
                                                   "\" must hold 32 bytes, or 64 hex digits (openssl rand -hex 32)"));
    for (size_t i = 0; i < 32; ++i) raw[i] = static_cast<uint8_t>(std::stoi(text.substr(2 * i, 2), nullptr, 16));
  }
  return key_from_bytes(raw);
}

bool is_envelope(std::span<const uint8_t> data) {
  return data.size() >= kEnvelopeOverhead && std::memcmp(data.data(), kMagic, 8) == 0;
}

std::vector<uint8_t> seal(const Key& key, std::string_view object_key, std::span<const uint8_t> plain) {
  std::vector<uint8_t> out(kEnvelopeOverhead + plain.size());
  std::memcpy(out.data(), kMagic, 8);
  std::memcpy(out.data() + 8, key.id.data(), 8);
  uint8_t* nonce = out.data() + 16;
  if (RAND_bytes(nonce, 12) != 1) std::abort();  // no randomness: never reuse a nonce
  Ctx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  int len = 0;
  EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.bytes.data(), nonce);
  EVP_EncryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const uint8_t*>(object_key.data()),
                    static_cast<int>(object_key.size()));
  uint8_t* ct = out.data() + 28;
  size_t done = 0;
  while (done < plain.size()) {  // EVP lengths are ints: chunks of 1 GiB at most
    const int chunk = static_cast<int>(std::min<size_t>(plain.size() - done, 1u << 30));
    EVP_EncryptUpdate(ctx.get(), ct + done, &len, plain.data() + done, chunk);
    done += static_cast<size_t>(len);
  }
  EVP_EncryptFinal_ex(ctx.get(), ct + done, &len);
  EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, 16, out.data() + out.size() - 16);
  return out;
}

PgResult<std::vector<uint8_t>> open(const Key& key, std::string_view object_key, std::span<const uint8_t> env) {
  if (!is_envelope(env)) return unexpected(bad("object \"" + std::string(object_key) + "\" is not encrypted by metagate"));
  if (std::memcmp(env.data() + 8, key.id.data(), 8) != 0)
    return unexpected(bad("object \"" + std::string(object_key) + "\" was encrypted with another key than backup.encryption_key_file"));
  const uint8_t* nonce = env.data() + 16;
  const size_t n = env.size() - kEnvelopeOverhead;
  std::vector<uint8_t> out(n);
  Ctx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  int len = 0;
  EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.bytes.data(), nonce);
  EVP_DecryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const uint8_t*>(object_key.data()),
                    static_cast<int>(object_key.size()));
  size_t done = 0;
  while (done < n) {
    const int chunk = static_cast<int>(std::min<size_t>(n - done, 1u << 30));
    EVP_DecryptUpdate(ctx.get(), out.data() + done, &len, env.data() + 28 + done, chunk);
    done += static_cast<size_t>(len);
  }
  std::array<uint8_t, 16> tag{};
  std::memcpy(tag.data(), env.data() + env.size() - 16, 16);
  EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, 16, tag.data());
  if (EVP_DecryptFinal_ex(ctx.get(), out.data() + done, &len) != 1)
    return unexpected(bad("object \"" + std::string(object_key) + "\" fails authentication (damaged, truncated, or renamed)"));
  return out;
}

namespace {

struct File {
  int fd = -1;
  ~File() {
    if (fd >= 0) ::close(fd);
  }
};

PgError io(const std::string& what, const std::filesystem::path& p) {
  return PgError::make(errno == ENOSPC ? "53100" : "58030", "could not " + what + " \"" + p.string() + "\": " + std::strerror(errno));
}

PgStatus write_all(int fd, const uint8_t* p, size_t n, const std::filesystem::path& path) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return unexpected(io("write", path));
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return Ok{};
}

// Streams `in` through the cipher into a temporary file next to `out`; `finish` gets the
// context at the end (tag), then the file is fsynced and renamed.
PgStatus stream(EVP_CIPHER_CTX* ctx, bool encrypt, const std::filesystem::path& in, uint64_t skip, uint64_t length,
                const std::filesystem::path& out, const std::vector<uint8_t>& prefix,
                const std::function<PgStatus(EVP_CIPHER_CTX*, int fd, const std::filesystem::path&)>& finish) {
  File src, dst;
  src.fd = ::open(in.c_str(), O_RDONLY | O_CLOEXEC);
  if (src.fd < 0) return unexpected(io("open", in));
  std::filesystem::path tmp = out;
  tmp += ".tmp";
  dst.fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (dst.fd < 0) return unexpected(io("create", tmp));
  auto fail = [&](PgError e) -> PgStatus {
    std::error_code ec;
    std::filesystem::remove(tmp, ec);
    return unexpected(std::move(e));
  };
  if (auto s = write_all(dst.fd, prefix.data(), prefix.size(), tmp); !s) return fail(s.error());
  std::vector<uint8_t> buf(1 << 20), obuf((1 << 20) + 32);
  uint64_t at = skip, left = length;
  while (left > 0) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), left));
    ssize_t n = ::pread(src.fd, buf.data(), want, static_cast<off_t>(at));
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(io("read", in));
    }
    if (n == 0) return fail(bad("\"" + in.string() + "\" is shorter than expected"));
    int len = 0;
    if (encrypt) EVP_EncryptUpdate(ctx, obuf.data(), &len, buf.data(), static_cast<int>(n));
    else EVP_DecryptUpdate(ctx, obuf.data(), &len, buf.data(), static_cast<int>(n));
    if (auto s = write_all(dst.fd, obuf.data(), static_cast<size_t>(len), tmp); !s) return fail(s.error());
    at += static_cast<uint64_t>(n);
    left -= static_cast<uint64_t>(n);
  }
  if (auto s = finish(ctx, dst.fd, tmp); !s) return fail(s.error());
  if (::fsync(dst.fd) != 0) return fail(io("fsync", tmp));
  if (::rename(tmp.c_str(), out.c_str()) != 0) return fail(io("rename", tmp));
  return Ok{};
}

uint64_t size_of(const std::filesystem::path& p) {
  std::error_code ec;
  auto n = std::filesystem::file_size(p, ec);
  return ec ? 0 : n;
}

}  // namespace

bool file_is_envelope(const std::filesystem::path& file) {
  File f;
  f.fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  uint8_t head[8];
  return f.fd >= 0 && ::pread(f.fd, head, 8, 0) == 8 && std::memcmp(head, kMagic, 8) == 0 &&
         size_of(file) >= kEnvelopeOverhead;
}

PgStatus seal_file(const Key& key, std::string_view object_key, const std::filesystem::path& in,
                   const std::filesystem::path& out) {
  std::vector<uint8_t> head(28);
  std::memcpy(head.data(), kMagic, 8);
  std::memcpy(head.data() + 8, key.id.data(), 8);
  if (RAND_bytes(head.data() + 16, 12) != 1) std::abort();
  Ctx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  int len = 0;
  EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.bytes.data(), head.data() + 16);
  EVP_EncryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const uint8_t*>(object_key.data()),
                    static_cast<int>(object_key.size()));
  return stream(ctx.get(), true, in, 0, size_of(in), out, head,
                [](EVP_CIPHER_CTX* c, int fd, const std::filesystem::path& tmp) -> PgStatus {
                  uint8_t tail[32];
                  int n = 0;
                  EVP_EncryptFinal_ex(c, tail, &n);
                  uint8_t tag[16];
                  EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tag);
                  if (auto s = write_all(fd, tail, static_cast<size_t>(n), tmp); !s) return s;
                  return write_all(fd, tag, 16, tmp);
                });
}

PgStatus open_file(const Key& key, std::string_view object_key, const std::filesystem::path& in,
                   const std::filesystem::path& out) {
  const uint64_t size = size_of(in);
  uint8_t head[28], tag[16];
  {
    File f;
    f.fd = ::open(in.c_str(), O_RDONLY | O_CLOEXEC);
    if (f.fd < 0) return unexpected(io("open", in));
    if (size < kEnvelopeOverhead || ::pread(f.fd, head, 28, 0) != 28 ||
        ::pread(f.fd, tag, 16, static_cast<off_t>(size - 16)) != 16 || std::memcmp(head, kMagic, 8) != 0)
      return unexpected(bad("object \"" + std::string(object_key) + "\" is not encrypted by metagate"));
  }
  if (std::memcmp(head + 8, key.id.data(), 8) != 0)
    return unexpected(bad("object \"" + std::string(object_key) + "\" was encrypted with another key than backup.encryption_key_file"));
  Ctx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  int len = 0;
  EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.bytes.data(), head + 16);
  EVP_DecryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const uint8_t*>(object_key.data()),
                    static_cast<int>(object_key.size()));
  const std::string name(object_key);
  return stream(ctx.get(), false, in, 28, size - kEnvelopeOverhead, out, {},
                [&](EVP_CIPHER_CTX* c, int fd, const std::filesystem::path& tmp) -> PgStatus {
                  EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, tag);
                  uint8_t tail[32];
                  int n = 0;
                  if (EVP_DecryptFinal_ex(c, tail, &n) != 1)
                    return unexpected(bad("object \"" + name + "\" fails authentication (damaged, truncated, or renamed)"));
                  return write_all(fd, tail, static_cast<size_t>(n), tmp);
                });
}

}  // namespace metagate::replica
