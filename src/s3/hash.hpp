// Digests for request bodies: SHA-256 (x-amz-content-sha256, part of the signature) and
// MD5 (Content-MD5, which S3 checks against the body it received).
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace metagate::s3::detail {

std::string sha256_hex(std::span<const uint8_t> data);
std::string md5_base64(std::span<const uint8_t> data);

}  // namespace metagate::s3::detail
