// Credential sources: configuration, environment, shared credentials file (credentials.hpp).
#include "metagate/s3/credentials.hpp"

#include <fstream>
#include <sstream>

namespace metagate::s3 {

namespace {

Unexpected<Error> auth_error(std::string message) {
  return unexpected(Error::make(Error::Kind::kAuth, std::move(message)));
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

std::string env(const std::function<const char*(const char*)>& getenv_fn, const char* name) {
  const char* v = getenv_fn ? getenv_fn(name) : nullptr;
  return v ? std::string(v) : std::string();
}

}  // namespace

Expected<Credentials, Error> parse_credentials_file(std::string_view text, std::string_view profile) {
  Credentials c;
  bool in_profile = false, found = false;
  while (!text.empty()) {
    auto eol = text.find('\n');
    auto line = trim(text.substr(0, eol));
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;
    if (line.front() == '[') {
      auto close = line.find(']');
      if (close == std::string_view::npos) continue;
      in_profile = trim(line.substr(1, close - 1)) == profile;
      found = found || in_profile;
      continue;
    }
    if (!in_profile) continue;
    auto eq = line.find('=');
    if (eq == std::string_view::npos) continue;
    auto name = trim(line.substr(0, eq));
    auto value = std::string(trim(line.substr(eq + 1)));
    if (name == "aws_access_key_id") c.access_key_id = value;
    else if (name == "aws_secret_access_key") c.secret_access_key = value;
    else if (name == "aws_session_token") c.session_token = value;
  }
  if (!found) return auth_error("no profile [" + std::string(profile) + "]");
  if (!c.complete()) {
    return auth_error("profile [" + std::string(profile) + "] lacks aws_access_key_id or aws_secret_access_key");
  }
  return c;
}

Expected<Credentials, Error> resolve_credentials(const Credentials& configured,
                                                 const std::function<const char*(const char*)>& getenv_fn) {
  if (configured.complete()) return configured;
  if (!configured.access_key_id.empty() || !configured.secret_access_key.empty()) {
    return auth_error("S3 credentials in the configuration need both an access key id and a secret access key");
  }

  Credentials from_env{env(getenv_fn, "AWS_ACCESS_KEY_ID"), env(getenv_fn, "AWS_SECRET_ACCESS_KEY"),
                       env(getenv_fn, "AWS_SESSION_TOKEN")};
  if (from_env.complete()) return from_env;
  if (!from_env.access_key_id.empty() || !from_env.secret_access_key.empty()) {
    return auth_error("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together");
  }

  std::string path = env(getenv_fn, "AWS_SHARED_CREDENTIALS_FILE");
  const std::string home = env(getenv_fn, "HOME");
  if (path.empty()) {
    if (home.empty()) return auth_error("no S3 credentials: none configured, none in the environment, and no HOME");
    path = home + "/.aws/credentials";
  } else if (path.starts_with("~/") && !home.empty()) {
    path = home + path.substr(1);  // the AWS tools expand it too
  }
  std::string profile = env(getenv_fn, "AWS_PROFILE");
  if (profile.empty()) profile = "default";

  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return auth_error("no S3 credentials: none configured, none in the environment (AWS_ACCESS_KEY_ID), and "
                      "no credentials file at " + path);
  }
  std::ostringstream text;
  text << in.rdbuf();
  auto c = parse_credentials_file(text.str(), profile);
  if (!c) {
    Error e = std::move(c).error();
    e.message = "credentials file " + path + ": " + e.message;
    return unexpected(std::move(e));
  }
  return c;
}

}  // namespace metagate::s3
