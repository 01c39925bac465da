// Credential sources and their order: configuration, environment, shared credentials file.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "metagate/s3/credentials.hpp"

using namespace metagate::s3;

namespace {

// A fake environment for resolve_credentials.
struct FakeEnv {
  std::map<std::string, std::string> vars;
  std::function<const char*(const char*)> fn() const {
    return [this](const char* name) -> const char* {
      auto it = vars.find(name);
      return it == vars.end() ? nullptr : it->second.c_str();
    };
  }
};

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "mgs3cred.XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::filesystem::path& path() const { return path_; }
  std::string write(const std::string& name, const std::string& text) const {
    auto p = path_ / name;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p) << text;
    return p.string();
  }

 private:
  std::filesystem::path path_;
};

constexpr const char* kFile = R"(# written by aws configure
[default]
aws_access_key_id = AKIDDEFAULT
aws_secret_access_key = secret/default+key

; another one
[backup]
aws_access_key_id=AKIDBACKUP
aws_secret_access_key=secretbackup
aws_session_token = FwoGZXIvYXdzEXAMPLE==

[broken]
aws_access_key_id = AKIDBROKEN
)";

}  // namespace

TEST(S3Credentials, ParsesProfilesFromTheFile) {
  auto d = parse_credentials_file(kFile, "default");
  ASSERT_TRUE(d.has_value()) << d.error().to_string();
  EXPECT_EQ(d->access_key_id, "AKIDDEFAULT");
  EXPECT_EQ(d->secret_access_key, "secret/default+key");
  EXPECT_EQ(d->session_token, "");
  auto b = parse_credentials_file(kFile, "backup");
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->access_key_id, "AKIDBACKUP");
  EXPECT_EQ(b->session_token, "FwoGZXIvYXdzEXAMPLE==");
  EXPECT_EQ(parse_credentials_file(kFile, "broken").error().kind, Error::Kind::kAuth);
  EXPECT_EQ(parse_credentials_file(kFile, "missing").error().kind, Error::Kind::kAuth);
  // CRLF line ends (a file edited on Windows).
  auto crlf = parse_credentials_file("[default]\r\naws_access_key_id = A\r\naws_secret_access_key = S\r\n", "default");
  ASSERT_TRUE(crlf.has_value());
  EXPECT_EQ(crlf->secret_access_key, "S");
}

TEST(S3Credentials, ConfiguredValuesWin) {
  FakeEnv env{{{"AWS_ACCESS_KEY_ID", "ENVKEY"}, {"AWS_SECRET_ACCESS_KEY", "ENVSECRET"}, {"AWS_SESSION_TOKEN", "T"}}};
  auto c = resolve_credentials({"CONFKEY", "CONFSECRET", ""}, env.fn());
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->access_key_id, "CONFKEY");
  EXPECT_EQ(c->session_token, "");  // never mixed with the environment's token
}

TEST(S3Credentials, EnvironmentBeforeTheFile) {
  TempDir dir;
  FakeEnv env{{{"AWS_ACCESS_KEY_ID", "ENVKEY"},
               {"AWS_SECRET_ACCESS_KEY", "ENVSECRET"},
               {"AWS_SESSION_TOKEN", "ENVTOKEN"},
               {"AWS_SHARED_CREDENTIALS_FILE", dir.write("creds", kFile)}}};
  auto c = resolve_credentials({}, env.fn());
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->access_key_id, "ENVKEY");
  EXPECT_EQ(c->secret_access_key, "ENVSECRET");
  EXPECT_EQ(c->session_token, "ENVTOKEN");
}

TEST(S3Credentials, FileFromTheEnvironmentVariableAndProfile) {
  TempDir dir;
  FakeEnv env{{{"AWS_SHARED_CREDENTIALS_FILE", dir.write("creds", kFile)}, {"AWS_PROFILE", "backup"}}};
  auto c = resolve_credentials({}, env.fn());
  ASSERT_TRUE(c.has_value()) << c.error().to_string();
  EXPECT_EQ(c->access_key_id, "AKIDBACKUP");
  EXPECT_EQ(c->session_token, "FwoGZXIvYXdzEXAMPLE==");
}

TEST(S3Credentials, DefaultFileUnderHome) {
  TempDir dir;
  dir.write(".aws/credentials", kFile);
  FakeEnv env{{{"HOME", dir.path().string()}}};
  auto c = resolve_credentials({}, env.fn());
  ASSERT_TRUE(c.has_value()) << c.error().to_string();
  EXPECT_EQ(c->access_key_id, "AKIDDEFAULT");
  // "~/" in AWS_SHARED_CREDENTIALS_FILE is expanded like the AWS tools do.
  dir.write("other", "[default]\naws_access_key_id=K2\naws_secret_access_key=S2\n");
  env.vars["AWS_SHARED_CREDENTIALS_FILE"] = "~/other";
  auto c2 = resolve_credentials({}, env.fn());
  ASSERT_TRUE(c2.has_value()) << c2.error().to_string();
  EXPECT_EQ(c2->access_key_id, "K2");
}

TEST(S3Credentials, NothingFoundOrHalfSetIsAnAuthError) {
  TempDir dir;
  FakeEnv none{{{"HOME", dir.path().string()}}};
  auto c = resolve_credentials({}, none.fn());
  ASSERT_FALSE(c.has_value());
  EXPECT_EQ(c.error().kind, Error::Kind::kAuth);
  EXPECT_NE(c.error().message.find("credentials"), std::string::npos);
  EXPECT_FALSE(c.error().retryable());

  EXPECT_EQ(resolve_credentials({"KEYONLY", "", ""}, none.fn()).error().kind, Error::Kind::kAuth);
  FakeEnv half{{{"AWS_ACCESS_KEY_ID", "K"}, {"HOME", dir.path().string()}}};
  EXPECT_EQ(resolve_credentials({}, half.fn()).error().kind, Error::Kind::kAuth);

  FakeEnv broken{{{"AWS_SHARED_CREDENTIALS_FILE", dir.write("c", kFile)}, {"AWS_PROFILE", "broken"}}};
  auto b = resolve_credentials({}, broken.fn());
  ASSERT_FALSE(b.has_value());
  EXPECT_NE(b.error().message.find("broken"), std::string::npos);
}
