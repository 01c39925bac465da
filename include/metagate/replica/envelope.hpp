// Client-side encryption of the objects shipped to S3 (backup.encryption_key_file): AES-256-GCM,
// a fresh random 96-bit nonce per object, the object's key (its name in the bucket) as
// additional authenticated data — an object renamed or swapped in the bucket fails to decrypt —
// and the first 8 bytes of SHA-256(key) in the header, so that a restore with another key says
// so instead of "damaged". The DBA who restores needs the key file; the bucket never sees it.
//
//   "MGENC001" (8) | key id (8) | nonce (12) | ciphertext (same length as the plaintext) | tag (16)
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "metagate/util/pg_error.hpp"

namespace metagate::replica {

inline constexpr size_t kEnvelopeOverhead = 8 + 8 + 12 + 16;

struct Key {
  std::array<uint8_t, 32> bytes{};
  std::array<uint8_t, 8> id{};  // first 8 bytes of SHA-256(bytes)
};

// A key file holds 32 raw bytes, or 64 hex digits (a trailing newline allowed). Anything else,
// or a file others may read (mode & 077), is refused.
PgResult<Key> load_key_file(const std::filesystem::path& file);
Key key_from_bytes(std::span<const uint8_t, 32> bytes);

bool is_envelope(std::span<const uint8_t> data);

std::vector<uint8_t> seal(const Key& key, std::string_view object_key, std::span<const uint8_t> plaintext);
// Fails (XX001) on a wrong key (named as such), a damaged or truncated object, or another name.
PgResult<std::vector<uint8_t>> open(const Key& key, std::string_view object_key, std::span<const uint8_t> envelope);

// The same for files, streamed (snapshots can be large): `out` is written whole (temporary
// name, fsync, rename) and only when everything, the tag included, checks out.
PgStatus seal_file(const Key& key, std::string_view object_key, const std::filesystem::path& in,
                   const std::filesystem::path& out);
PgStatus open_file(const Key& key, std::string_view object_key, const std::filesystem::path& in,
                   const std::filesystem::path& out);
// Whether a file starts like an envelope.
bool file_is_envelope(const std::filesystem::path& file);

}  // namespace metagate::replica
