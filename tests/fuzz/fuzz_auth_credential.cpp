// Fuzz target: stored secrets and the pieces they are made of (Credential::parse,
// parse_scram_verifier, parse_md5_secret, base64_decode, saslprep).
//
// Input: byte 0 picks the entry point, the rest is the text.
// Checked: no crash; a parsed secret prints back to text that parses to the same secret;
// base64 decode/encode/decode is stable; SASLprep output is stable under SASLprep.
#include <string>

#include "fuzz_common.hpp"
#include "metagate/auth/base64.hpp"
#include "metagate/auth/credential.hpp"
#include "metagate/auth/saslprep.hpp"

using namespace metagate::auth;
using fuzz::printable;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Input in(data, size);
  const uint8_t sel = in.byte();
  std::string_view text = in.rest();
  switch (sel % 5) {
    case 0: {
      auto c = Credential::parse(text);
      if (!c) {
        FUZZ_CHECK(!c.error().message.empty(), "ConfigError without a message");
        break;
      }
      FUZZ_CHECK(c->is_scram() != c->is_md5(), "credential is neither or both kinds");
      std::string s = c->to_string();
      auto again = Credential::parse(s);
      FUZZ_CHECK(again && again->to_string() == s, "credential %s does not round-trip", printable(s).c_str());
      break;
    }
    case 1: {
      auto v = parse_scram_verifier(text);
      if (!v) break;
      FUZZ_CHECK(v->iterations > 0 && !v->salt.empty(), "verifier with iterations %d, salt %zu bytes",
                 v->iterations, v->salt.size());
      auto again = parse_scram_verifier(v->to_string());
      FUZZ_CHECK(again && *again == *v, "verifier %s does not round-trip", printable(v->to_string()).c_str());
      break;
    }
    case 2: {
      auto m = parse_md5_secret(text);
      if (!m) break;
      FUZZ_CHECK(m->to_string() == text, "md5 secret %s prints as %s", printable(text).c_str(),
                 m->to_string().c_str());
      break;
    }
    case 3: {
      auto d = base64_decode(text);
      if (!d) break;
      FUZZ_CHECK(text.size() % 4 == 0 && d->size() <= text.size() / 4 * 3, "base64 length mismatch");
      std::string e = base64_encode(std::span<const uint8_t>(d->data(), d->size()));
      FUZZ_CHECK(e.size() == text.size(), "base64 %s re-encodes to a different length", printable(text).c_str());
      auto d2 = base64_decode(e);
      FUZZ_CHECK(d2 && *d2 == *d, "base64 %s is not stable", printable(text).c_str());
      break;
    }
    case 4: {
      SaslprepResult r = saslprep(text);
      auto bytes = scram_password_bytes(text);
      switch (r.status) {
        case SaslprepStatus::kSuccess: {
          FUZZ_CHECK(bytes && *bytes == r.output, "scram_password_bytes differs from saslprep output");
          SaslprepResult again = saslprep(r.output);
          FUZZ_CHECK(again.status == SaslprepStatus::kSuccess && again.output == r.output,
                     "saslprep is not idempotent on %s", printable(text).c_str());
          break;
        }
        case SaslprepStatus::kInvalidUtf8:
        case SaslprepStatus::kProhibited:
          FUZZ_CHECK(bytes && *bytes == text, "raw password not used for status %d", static_cast<int>(r.status));
          break;
        case SaslprepStatus::kTooLong:
        case SaslprepStatus::kUnsupported:
          FUZZ_CHECK(!bytes, "password bytes given for status %d", static_cast<int>(r.status));
          break;
      }
      // A cheap verifier (1 iteration) must print and parse back.
      static const uint8_t kSalt[4] = {1, 2, 3, 4};
      auto v = make_scram_verifier(text, kSalt, 1);
      if (v) {
        auto again = parse_scram_verifier(v->to_string());
        FUZZ_CHECK(again && *again == *v, "made verifier does not round-trip");
      }
      break;
    }
  }
  return 0;
}
