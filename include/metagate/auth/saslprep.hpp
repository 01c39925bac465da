// SASLprep (RFC 4013) of a password, following PostgreSQL's pg_saslprep, for SCRAM secrets.
//
// What PostgreSQL does: pure ASCII passes through unchanged; invalid UTF-8 or a password with
// prohibited/unassigned characters (or failing the bidi rules, or mapping to nothing) makes PG
// use the raw bytes instead; otherwise it maps (non-ASCII spaces -> ' ', "commonly mapped to
// nothing" -> removed) and NFKC-normalises. (PG checks prohibited characters on the mapped,
// not the normalised, string.)
//
// What we do: all of the above exactly, except NFKC normalisation, the Unicode 3.2 unassigned
// table and the bidi tables, which need large Unicode tables we do not ship. For those we
// only accept mapped strings whose every character is in a conservative set we know to be
// assigned in Unicode 3.2, NFKC-stable and left-to-right (ASCII, Latin-1 and Latin
// Extended-A letters and symbols, basic Greek and Cyrillic, common punctuation, kana, CJK
// unified ideographs, Hangul syllables). Anything else yields kUnsupported: we cannot be sure
// what PostgreSQL would hash, so we refuse to guess.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace metagate::auth {

enum class SaslprepStatus {
  kSuccess,      // output holds the prepared password
  kInvalidUtf8,  // PG uses the raw password
  kProhibited,   // PG uses the raw password (prohibited character, or empty after mapping)
  kTooLong,      // > 1024 bytes: PG raises "password too long" (54000)
  kUnsupported,  // needs Unicode tables we lack (see above); PG's result is unknown to us
};

struct SaslprepResult {
  SaslprepStatus status;
  std::string output;  // only for kSuccess
};

inline constexpr size_t kMaxSaslprepPasswordLength = 1024;

SaslprepResult saslprep(std::string_view password);

// The exact bytes PostgreSQL feeds to PBKDF2 for this password (prepared or raw), or nullopt
// for kTooLong / kUnsupported.
std::optional<std::string> scram_password_bytes(std::string_view password);

}  // namespace metagate::auth
