// Where the S3 access key comes from, in the order the AWS tools use (so an operator's
// existing setup just works): the configuration, then the environment, then the shared
// credentials file. Instance metadata (EC2/ECS roles) is not supported: the daemon runs
// anywhere, and a static key or a session token from the environment covers the cases.
#pragma once

#include <cstdlib>
#include <functional>
#include <string>
#include <string_view>

#include "metagate/s3/error.hpp"

namespace metagate::s3 {

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // sent as x-amz-security-token (signed); empty: none

  bool complete() const { return !access_key_id.empty() && !secret_access_key.empty(); }
};

// The first complete source wins, and nothing is mixed across sources (a token from the
// environment never joins a key from the configuration):
//   1. `configured`, when both its key id and secret are set;
//   2. AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN);
//   3. the shared credentials file, AWS_SHARED_CREDENTIALS_FILE or $HOME/.aws/credentials,
//      section AWS_PROFILE (or "default"): aws_access_key_id, aws_secret_access_key,
//      aws_session_token.
// A half-set source (a key id without secret) is an error rather than skipped: it is a typo
// the operator wants to hear about, not a reason to silently use another identity.
// Errors are Kind::kAuth.
Expected<Credentials, Error> resolve_credentials(
    const Credentials& configured,
    const std::function<const char*(const char*)>& getenv_fn = ::getenv);

// Reads one profile from an AWS shared credentials file's text (INI: [section], key = value,
// '#' and ';' comments). Exposed for tests. Fails with kAuth when the profile is missing or
// has no complete key pair.
Expected<Credentials, Error> parse_credentials_file(std::string_view text, std::string_view profile);

}  // namespace metagate::s3
