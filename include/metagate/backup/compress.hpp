// zstd streams from file to file (snapshot files; segments are compressed when shipped).
#pragma once

#include <filesystem>

#include "metagate/util/pg_error.hpp"

namespace metagate::backup {

// The file starts with a zstd frame's magic number.
bool is_zstd_file(const std::filesystem::path& p);
// `out` must not exist; it is fsynced, and removed again on failure.
PgStatus zstd_compress_file(const std::filesystem::path& in, const std::filesystem::path& out, int level);
PgStatus zstd_decompress_file(const std::filesystem::path& in, const std::filesystem::path& out);

}  // namespace metagate::backup
