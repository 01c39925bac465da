// Base64 encode/decode on top of OpenSSL's EVP_EncodeBlock/EVP_DecodeBlock, with strict input checks.
#include "metagate/auth/base64.hpp"

#include <openssl/evp.h>

namespace metagate::auth {

namespace {
bool is_b64_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}
}  // namespace

std::string base64_encode(std::span<const uint8_t> data) {
  if (data.empty()) return {};
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');  // +1: EVP_EncodeBlock writes a NUL
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data.data(),
                          static_cast<int>(data.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::string base64_encode(std::string_view data) {
  return base64_encode(std::span(reinterpret_cast<const uint8_t*>(data.data()), data.size()));
}

std::optional<std::vector<uint8_t>> base64_decode(std::string_view text) {
  if (text.empty()) return std::vector<uint8_t>{};
  if (text.size() % 4 != 0) return std::nullopt;
  // EVP_DecodeBlock trims surrounding whitespace and accepts '=' in odd places, and its result
  // length counts padding as zero bytes; so validate here and subtract the padding ourselves.
  size_t pad = 0;
  if (text.back() == '=') pad = text[text.size() - 2] == '=' ? 2 : 1;
  for (size_t i = 0; i < text.size() - pad; ++i)
    if (!is_b64_char(text[i])) return std::nullopt;
  std::vector<uint8_t> out(text.size() / 4 * 3);
  int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0 || static_cast<size_t>(n) != out.size()) return std::nullopt;
  out.resize(out.size() - pad);
  return out;
}

}  // namespace metagate::auth
