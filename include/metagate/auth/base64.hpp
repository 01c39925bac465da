// Standard base64 (RFC 4648, with '=' padding) as used by SCRAM and pg_authid.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace metagate::auth {

std::string base64_encode(std::span<const uint8_t> data);
std::string base64_encode(std::string_view data);

// Strict decoding: only the standard alphabet, length a multiple of 4, at most two '=' and
// only at the end, no whitespace. nullopt if the text is not valid base64.
std::optional<std::vector<uint8_t>> base64_decode(std::string_view text);

}  // namespace metagate::auth
