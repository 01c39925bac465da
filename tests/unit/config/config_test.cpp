// Unit tests of the configuration: defaults, the shipped example files, syntax, unknown keys,
// types, ranges, listen addresses, TLS files, auth rules and users, databases, warnings,
// command-line overrides, routing, to_json round trips and reload classification.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <functional>

#include "metagate/auth/credential.hpp"
#include "metagate/config/config.hpp"

using namespace metagate;
using namespace metagate::config;

namespace {

const std::string kScramGrafana =
    "SCRAM-SHA-256$4096:AAECAwQFBgcICQoLDA0ODw==$mx9t4kfrOybSsKESE+UjxQrupllIKO2GjdXT9vlGMuQ=:"
    "aDwPe/B+EMcXdmrN91J9TxbXrMJZvfPoEDlvEpkz++k=";
const std::string kMd5Reader = "md5bbbf280c86a8e1a2d67a18222885253d";  // "reader-example-password"

const ParseOptions kNoFileChecks{.check_files = false};

// All issues, one "key: message" string each; {"<parsed>"} if it parsed.
std::vector<std::string> errors_of(std::string_view text, const ParseOptions& o = {}) {
  auto r = parse_config(text, o);
  if (r) return {"<parsed>"};
  std::vector<std::string> out;
  for (const ConfigIssue& i : r.error().issues) out.push_back(i.to_string());
  return out;
}

// The first issue as "key: message".
std::string error_of(std::string_view text, const ParseOptions& o = {}) { return errors_of(text, o).front(); }

Config parse_ok(std::string_view text, const ParseOptions& o = {}) {
  auto r = parse_config(text, o);
  EXPECT_TRUE(r) << (r ? "" : r.error().to_string());
  return r ? std::move(*r) : Config{};
}

std::vector<std::string> warnings_of(const Config& c) {
  std::vector<std::string> out;
  for (const ConfigIssue& i : c.warnings) out.push_back(i.to_string());
  return out;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string route(const Config& c, std::string_view db) {
  auto r = database_route(c, db);
  return r ? *r : "ERROR " + r.error().sqlstate + " " + r.error().severity + ": " + r.error().message;
}

// A scratch directory with a few files, removed afterwards.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = testing::TempDir() + "metagate-config-XXXXXX";
    char* p = ::mkdtemp(tmpl.data());
    EXPECT_NE(p, nullptr);
    path_ = tmpl;
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string file(const std::string& name, const std::string& content = "x", mode_t mode = 0600) {
    std::string p = path_ + "/" + name;
    std::ofstream(p) << content;
    ::chmod(p.c_str(), mode);
    return p;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

CommandLineOverrides overrides(std::vector<std::string> listen, std::optional<std::string> sqlite = std::nullopt) {
  CommandLineOverrides o;
  o.listen = std::move(listen);
  o.sqlite = std::move(sqlite);
  return o;
}

std::string tls_json(const std::string& body) { return R"({"tls": {)" + body + "}}"; }

}  // namespace

// ---- Defaults -----------------------------------------------------------------------------

TEST(ConfigDefaults, EmbeddedDefault) {
  Config c = default_config();
  ASSERT_EQ(c.listen.size(), 1u);
  EXPECT_EQ(c.listen[0].to_string(), "127.0.0.1:5432");
  EXPECT_EQ(c.io_threads, 0);
  EXPECT_GE(c.effective_io_threads(), 1u);
  EXPECT_EQ(c.tls.mode, TlsMode::kDisable);
  EXPECT_EQ(c.tls.min_protocol_version, TlsVersion::kTls12);
  EXPECT_EQ(c.auth.rule_lines,
            (std::vector<std::string>{"host all all 127.0.0.1/32 trust", "host all all ::1/128 trust"}));
  EXPECT_EQ(c.auth.rules.size(), 2u);
  EXPECT_TRUE(c.auth.users.empty());
  EXPECT_EQ(route(c, "grafana"), "./data/grafana.db");
  EXPECT_EQ(route(c, "anything_else"), "./data/grafana.db");
  EXPECT_EQ(c.sqlite.synchronous, Synchronous::kFull);
  EXPECT_EQ(c.sqlite.readers, 4);
  EXPECT_EQ(c.sqlite.lock_timeout_ms, 30000);
  EXPECT_EQ(c.sqlite.cache_size_kib, 65536);
  EXPECT_EQ(c.sqlite.mmap_size_mib, 0);
  EXPECT_EQ(c.sqlite.checkpoint_wal_mib, 64);
  EXPECT_TRUE(c.sqlite.group_commit);
  EXPECT_EQ(c.sqlite.group_commit_max_wait_us, 0);
  EXPECT_EQ(c.limits.max_connections, 1000);
  EXPECT_EQ(c.limits.max_message_bytes, 67108864);
  EXPECT_EQ(c.limits.max_startup_packet_bytes, 10000);
  EXPECT_EQ(c.limits.statement_cache_entries, 4096);
  EXPECT_EQ(c.limits.idle_session_timeout_ms, 0);
  EXPECT_EQ(c.server.server_version, "15.8");
  EXPECT_EQ(c.server.server_version_num(), 150008);
  EXPECT_EQ(c.server.timezone, "UTC");
  EXPECT_EQ(c.log.level, LogLevel::kInfo);
  EXPECT_EQ(c.log.format, LogFormat::kPlain);
  EXPECT_EQ(c.log.slow_statement_ms, 1000);
  auto v = validate_config(c);
  ASSERT_TRUE(v) << v.error().to_string();
  EXPECT_TRUE(v->empty());
}

TEST(ConfigDefaults, DefaultRulesTrustLoopbackOnly) {
  Config c;
  auto match = [&](std::string_view ip) {
    auth::HbaConnection conn{auth::IpAddress::parse(ip).value(), false, "grafana", "grafana"};
    const auth::HbaRule* r = auth::match_hba(c.auth.rules, conn);
    return r ? std::string(auth::method_name(r->method)) : "none";
  };
  EXPECT_EQ(match("127.0.0.1"), "trust");
  EXPECT_EQ(match("::1"), "trust");
  EXPECT_EQ(match("::ffff:127.0.0.1"), "trust");
  EXPECT_EQ(match("10.0.0.1"), "none");
  EXPECT_EQ(match("2001:db8::1"), "none");
}

TEST(ConfigDefaults, EmptyObjectIsTheDefault) {
  Config c = parse_ok("{}");
  EXPECT_EQ(to_json(c), to_json(default_config()));
  EXPECT_TRUE(c.warnings.empty());
  Config commented = parse_ok("// nothing to see\n{ /* really */ }\n");
  EXPECT_EQ(to_json(commented), to_json(default_config()));
}

// ---- Shipped files ------------------------------------------------------------------------

TEST(ConfigFiles, FullExampleParses) {
  std::string path = std::string(METAGATE_SOURCE_DIR) + "/config/metagate.example.json";
  auto r = load_config_file(path, kNoFileChecks);
  ASSERT_TRUE(r) << r.error().to_string();
  const Config& c = *r;
  EXPECT_EQ(warnings_of(c), std::vector<std::string>{});
  ASSERT_EQ(c.listen.size(), 2u);
  EXPECT_EQ(c.listen[0].to_string(), "0.0.0.0:5432");
  EXPECT_EQ(c.listen[1].to_string(), "[::]:5432");
  EXPECT_TRUE(c.listen[1].ipv6);
  EXPECT_EQ(c.tls.mode, TlsMode::kAllow);
  EXPECT_EQ(c.auth.rule_lines.size(), 6u);
  ASSERT_EQ(c.auth.rules.size(), 4u);
  EXPECT_EQ(c.auth.rules[2].line_number, 5);  // auth.rules[4]
  EXPECT_EQ(c.auth.rules[2].type, auth::HbaConnType::kHostSsl);
  ASSERT_NE(c.auth.find_user("grafana"), nullptr);
  EXPECT_TRUE(c.auth.find_user("grafana")->credential.is_scram());
  EXPECT_FALSE(c.auth.find_user("grafana")->admin);
  EXPECT_TRUE(c.auth.find_user("metagate_admin")->admin);
  EXPECT_EQ(c.auth.find_user("nobody"), nullptr);
  EXPECT_EQ(route(c, "grafana"), "/var/lib/metagate/grafana.db");
  EXPECT_EQ(route(c, "grafana_staging"), "/var/lib/metagate/grafana_staging.db");
  EXPECT_EQ(c.log.format, LogFormat::kJson);

  // The example's verifiers are real: they are what auth makes of the documented passwords.
  std::vector<uint8_t> salt(16);
  for (uint8_t i = 0; i < 16; ++i) salt[i] = i;
  auto v = auth::make_scram_verifier("grafana-example-password", salt, 4096);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->to_string(), c.auth.find_user("grafana")->credential.to_string());

  // On this machine the TLS and secret files do not exist: exactly those are reported.
  auto checked = load_config_file(path);
  ASSERT_FALSE(checked);
  EXPECT_EQ(checked.error().file, path);
  std::vector<std::string> keys;
  for (const ConfigIssue& i : checked.error().issues) keys.push_back(i.key);
  EXPECT_EQ(keys, (std::vector<std::string>{"tls.cert_file", "tls.key_file", "auth.mock_secret_file"}));
  EXPECT_NE(checked.error().to_string().find(path + ": tls.cert_file: file \"/etc/metagate/tls/server.crt\" "
                                                    "does not exist"),
            std::string::npos)
      << checked.error().to_string();
}

TEST(ConfigFiles, MinimalExampleParses) {
  auto r = load_config_file(std::string(METAGATE_SOURCE_DIR) + "/config/metagate.minimal.json");
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->listen[0].to_string(), "127.0.0.1:5432");
  EXPECT_EQ(route(*r, "grafana"), "./data/grafana.db");
  EXPECT_EQ(route(*r, "other"), "ERROR 3D000 FATAL: database \"other\" does not exist");
  EXPECT_TRUE(r->warnings.empty());
}

TEST(ConfigFiles, LoadErrorsNameTheFile) {
  TempDir dir;
  auto missing = load_config_file(dir.path() + "/nope.json");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().to_string(), dir.path() + "/nope.json: does not exist");
  auto directory = load_config_file(dir.path());
  ASSERT_FALSE(directory);
  EXPECT_EQ(directory.error().to_string(), dir.path() + ": is a directory, not a configuration file");
  std::string bad = dir.file("bad.json", "{\"sqlite\": {\"readers\": \"4\"}}");
  auto r = load_config_file(bad);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().to_string(), bad + ": sqlite.readers: expected an integer, got a string (write 4 without quotes)");
}

// ---- Syntax -------------------------------------------------------------------------------

TEST(ConfigSyntax, InvalidJson) {
  EXPECT_EQ(error_of(""), "the configuration is empty; write {} for the defaults");
  EXPECT_EQ(error_of(" \n"), "the configuration is empty; write {} for the defaults");
  EXPECT_EQ(error_of("{"), "invalid JSON: parse error at line 1, column 2: syntax error while parsing object key - "
                           "unexpected end of input; expected string literal");
  EXPECT_EQ(error_of("{\n  \"listen\": \"127.0.0.1:5432\",\n}"),
            "invalid JSON: parse error at line 3, column 1: syntax error while parsing object key - unexpected "
            "'}'; expected string literal");
  EXPECT_EQ(error_of("[]"), "the configuration must be a JSON object {...}, got an array");
  EXPECT_EQ(error_of("\"x\""), "the configuration must be a JSON object {...}, got a string");
}

TEST(ConfigSyntax, DuplicateKeysAreErrors) {
  EXPECT_EQ(error_of(R"({"databases": {"grafana": {"path": "a.db", "path": "b.db"}}})"),
            "databases.grafana.path: duplicate key (each key may appear only once)");
  EXPECT_EQ(error_of(R"({"log": {}, "log": {}})"), "log: duplicate key (each key may appear only once)");
  // Keys in different objects (and inside arrays) are independent.
  parse_ok(R"({"sqlite": {"readers": 2}, "limits": {"max_connections": 2}})");
}

TEST(ConfigSyntax, UnknownKeysNameTheFullPath) {
  EXPECT_EQ(error_of(R"({"databases": {"grafana": {"pathh": "x.db"}}})"),
            "databases.grafana.pathh: unknown key (did you mean \"path\"?)");
  EXPECT_EQ(error_of(R"({"lisen": "127.0.0.1:1"})"), "lisen: unknown key (did you mean \"listen\"?)");
  EXPECT_EQ(error_of(R"({"sqlite": {"wal_autocheckpoint": 1}})"), "sqlite.wal_autocheckpoint: unknown key");
  EXPECT_EQ(error_of(R"({"auth": {"users": {"g": {"password": ")" + kScramGrafana + R"(", "superuser": true}}}})"),
            "auth.users.g.superuser: unknown key");
  EXPECT_EQ(error_of(R"({"tls": {"cert": ""}})"), "tls.cert: unknown key");
  EXPECT_EQ(error_of(R"({"server": {"version": "15.8"}})"), "server.version: unknown key");
  // Odd characters in map keys are bracketed and quoted.
  EXPECT_EQ(error_of(R"({"databases": {"a.b": {"path": "x.db", "p": 1}}})"), "databases[\"a.b\"].p: unknown key");
}

TEST(ConfigSyntax, AllProblemsAreReported) {
  auto errs = errors_of(R"({"io_threads": -1, "sqlite": {"readers": "four"}, "log": {"level": "loud"}, "x": 1})");
  EXPECT_EQ(errs, (std::vector<std::string>{
                      "io_threads: -1 is out of range (0 to 1024)",
                      "sqlite.readers: expected an integer, got a string",
                      "log.level: invalid value \"loud\"; expected one of \"trace\", \"debug\", \"info\", \"warn\", "
                      "\"error\", \"critical\" or \"off\"",
                      "x: unknown key",
                  }));
}

// ---- Types and ranges ---------------------------------------------------------------------

TEST(ConfigTypes, WrongTypesNameKeyAndTypes) {
  EXPECT_EQ(error_of(R"({"sqlite": {"readers": "4"}})"),
            "sqlite.readers: expected an integer, got a string (write 4 without quotes)");
  EXPECT_EQ(error_of(R"({"sqlite": {"readers": 4.5}})"),
            "sqlite.readers: expected an integer, got a number with a fraction or exponent");
  EXPECT_EQ(error_of(R"({"sqlite": {"readers": null}})"), "sqlite.readers: expected an integer, got null");
  EXPECT_EQ(error_of(R"({"sqlite": {"group_commit": "true"}})"),
            "sqlite.group_commit: expected a boolean (true or false), got a string (write true without quotes)");
  EXPECT_EQ(error_of(R"({"sqlite": {"group_commit": 1}})"),
            "sqlite.group_commit: expected a boolean (true or false), got an integer");
  EXPECT_EQ(error_of(R"({"sqlite": []})"), "sqlite: expected an object, got an array");
  EXPECT_EQ(error_of(R"({"server": {"timezone": 0}})"), "server.timezone: expected a string, got an integer");
  EXPECT_EQ(error_of(R"({"log": {"level": 3}})"), "log.level: expected a string, got an integer");
  EXPECT_EQ(error_of(R"({"tls": "on"})"), "tls: expected an object, got a string");
}

TEST(ConfigTypes, RangesAreChecked) {
  EXPECT_EQ(error_of(R"({"sqlite": {"readers": 0}})"), "sqlite.readers: 0 is out of range (1 to 64)");
  EXPECT_EQ(error_of(R"({"sqlite": {"readers": 65}})"), "sqlite.readers: 65 is out of range (1 to 64)");
  EXPECT_EQ(error_of(R"({"sqlite": {"readers": 18446744073709551615}})"),
            "sqlite.readers: 18446744073709551615 is out of range (1 to 64)");
  EXPECT_EQ(error_of(R"({"sqlite": {"lock_timeout_ms": -1}})"),
            "sqlite.lock_timeout_ms: -1 is out of range (0 to 86400000)");
  EXPECT_EQ(error_of(R"({"sqlite": {"checkpoint_wal_mib": 0}})"),
            "sqlite.checkpoint_wal_mib: 0 is out of range (1 to 65536)");
  EXPECT_EQ(error_of(R"({"limits": {"max_connections": 0}})"),
            "limits.max_connections: 0 is out of range (1 to 1000000)");
  EXPECT_EQ(error_of(R"({"limits": {"max_message_bytes": 1073741824}})"),
            "limits.max_message_bytes: 1073741824 is out of range (1024 to 1073741823)");
  EXPECT_EQ(error_of(R"({"limits": {"max_startup_packet_bytes": 100}})"),
            "limits.max_startup_packet_bytes: 100 is out of range (1024 to 1048576)");
  EXPECT_EQ(error_of(R"({"log": {"slow_statement_ms": -2}})"),
            "log.slow_statement_ms: -2 is out of range (-1 to 2147483647)");
  EXPECT_EQ(error_of(R"({"io_threads": 5000})"), "io_threads: 5000 is out of range (0 to 1024)");
  Config c = parse_ok(R"({"log": {"slow_statement_ms": -1}, "io_threads": 3, "limits": {"statement_cache_entries": 0}})");
  EXPECT_EQ(c.log.slow_statement_ms, -1);
  EXPECT_EQ(c.effective_io_threads(), 3u);
  EXPECT_EQ(c.limits.statement_cache_entries, 0);
}

TEST(ConfigTypes, EnumsAreCaseInsensitive) {
  Config c = parse_ok(R"({"sqlite": {"synchronous": "NORMAL"}, "log": {"level": "Debug", "format": "json"}})");
  EXPECT_EQ(c.sqlite.synchronous, Synchronous::kNormal);
  EXPECT_EQ(c.log.level, LogLevel::kDebug);
  EXPECT_EQ(c.log.format, LogFormat::kJson);
  EXPECT_EQ(error_of(R"({"sqlite": {"synchronous": "off"}})"),
            "sqlite.synchronous: invalid value \"off\"; expected one of \"normal\", \"full\" or \"extra\"");
  EXPECT_EQ(error_of(R"({"log": {"format": "text"}})"),
            "log.format: invalid value \"text\"; expected one of \"plain\" or \"json\"");
}

TEST(ConfigTypes, ServerValues) {
  Config c = parse_ok(R"({"server": {"server_version": "16.2", "timezone": "Europe/Paris",
                                     "application_name_default": "grafana"}})");
  EXPECT_EQ(c.server.server_version_num(), 160002);
  EXPECT_EQ(c.server.timezone, "Europe/Paris");
  EXPECT_EQ(error_of(R"({"server": {"server_version": "15"}})"),
            "server.server_version: invalid version \"15\"; expected MAJOR.MINOR with MAJOR >= 10, e.g. \"15.8\"");
  EXPECT_TRUE(error_of(R"({"server": {"server_version": "9.6"}})")
                  .starts_with("server.server_version: invalid version \"9.6\";"));
  EXPECT_EQ(error_of(R"({"server": {"timezone": ""}})"),
            "server.timezone: the time zone must not be empty (e.g. \"UTC\")");
  EXPECT_EQ(error_of(R"({"server": {"timezone": "UTC; DROP"}})"),
            "server.timezone: invalid time zone \"UTC; DROP\" (e.g. \"UTC\", \"Europe/Paris\", \"+02:00\")");
  EXPECT_EQ(error_of(R"({"server": {"application_name_default": "a\u0001"}})"),
            "server.application_name_default: application_name must be printable ASCII");
}

// ---- Listen -------------------------------------------------------------------------------

TEST(ConfigListen, ParsesAddresses) {
  auto a = parse_listen_address("127.0.0.1:5432").value();
  EXPECT_EQ(a.host, "127.0.0.1");
  EXPECT_EQ(a.port, 5432);
  EXPECT_FALSE(a.ipv6);
  EXPECT_TRUE(a.is_loopback());
  auto b = parse_listen_address("[::1]:6543").value();
  EXPECT_EQ(b.host, "::1");
  EXPECT_TRUE(b.ipv6);
  EXPECT_TRUE(b.is_loopback());
  EXPECT_EQ(b.to_string(), "[::1]:6543");
  auto c = parse_listen_address("[2001:DB8:0::1]:0").value();
  EXPECT_EQ(c.to_string(), "[2001:db8::1]:0");  // canonical form
  EXPECT_FALSE(c.is_loopback());
  EXPECT_TRUE(parse_listen_address("0.0.0.0:5432")->is_unspecified());
  EXPECT_TRUE(parse_listen_address("[::]:5432")->is_unspecified());
  EXPECT_TRUE(parse_listen_address("127.1.2.3:65535")->is_loopback());
}

TEST(ConfigListen, RejectsBadAddresses) {
  auto err = [](std::string_view t) { auto r = parse_listen_address(t); return r ? "<parsed>" : r.error(); };
  EXPECT_EQ(err("127.0.0.1"), "missing port (expected HOST:PORT, e.g. 127.0.0.1:5432 or [::1]:5432)");
  EXPECT_EQ(err("127.0.0.1:"), "missing port (expected HOST:PORT, e.g. 127.0.0.1:5432 or [::1]:5432)");
  EXPECT_EQ(err("127.0.0.1:65536"), "port 65536 is out of range (0 to 65535)");
  EXPECT_EQ(err("127.0.0.1:54x"), "invalid port \"54x\"");
  EXPECT_EQ(err("127.0.0.1:-1"), "invalid port \"-1\"");
  EXPECT_EQ(err("::1:5432"), "IPv6 addresses must be in brackets, e.g. [::1]:5432");
  EXPECT_EQ(err("[::1]"), "missing port (expected HOST:PORT, e.g. 127.0.0.1:5432 or [::1]:5432)");
  EXPECT_EQ(err("[::1:5432"), "missing \"]\" after the IPv6 address (expected HOST:PORT, e.g. 127.0.0.1:5432 or [::1]:5432)");
  EXPECT_EQ(err("[127.0.0.1]:5432"), "brackets are only for IPv6 addresses; write 127.0.0.1:5432");
  EXPECT_EQ(err("localhost:5432"), "host names are not supported; use a numeric address (127.0.0.1 rather than localhost)");
  EXPECT_EQ(err("*:5432"), "missing host; use 0.0.0.0:PORT for every IPv4 address or [::]:PORT for every IPv6 address");
  EXPECT_EQ(err(":5432"), "missing host; use 0.0.0.0:PORT for every IPv4 address or [::]:PORT for every IPv6 address");
  EXPECT_EQ(err("300.0.0.1:5432"), "invalid IP address \"300.0.0.1\"");
  EXPECT_EQ(err("[fe80::1%eth0]:5432"), "IPv6 zone indices (%...) are not supported");
  EXPECT_EQ(err(""), "empty address (expected HOST:PORT, e.g. 127.0.0.1:5432 or [::1]:5432)");
}

TEST(ConfigListen, StringOrArray) {
  EXPECT_EQ(parse_ok(R"({"listen": "[::1]:5433"})").listen[0].to_string(), "[::1]:5433");
  Config c = parse_ok(R"({"listen": ["127.0.0.1:0", "127.0.0.1:0", "[::1]:5432"]})");  // port 0 twice is fine
  EXPECT_EQ(c.listen.size(), 3u);
  EXPECT_EQ(error_of(R"({"listen": "localhost:5432"})"),
            "listen: invalid address \"localhost:5432\": host names are not supported; use a numeric address "
            "(127.0.0.1 rather than localhost)");
  EXPECT_EQ(error_of(R"({"listen": ["127.0.0.1:1", "nope"]})"),
            "listen[1]: invalid address \"nope\": missing port (expected HOST:PORT, e.g. 127.0.0.1:5432 or [::1]:5432)");
  EXPECT_EQ(error_of(R"({"listen": [5432]})"), "listen[0]: expected a string \"HOST:PORT\", got an integer");
  EXPECT_EQ(error_of(R"({"listen": []})"), "listen: at least one address is required");
  EXPECT_EQ(error_of(R"({"listen": 5432})"), "listen: expected a string or an array of strings, got an integer");
}

TEST(ConfigListen, DuplicatesAndOverlaps) {
  EXPECT_EQ(error_of(R"({"listen": ["127.0.0.1:5432", "127.0.0.1:5432"]})"),
            "listen[1]: duplicate address 127.0.0.1:5432 (also listen[0])");
  EXPECT_EQ(error_of(R"({"listen": ["[::1]:5432", "[0:0::1]:5432"]})"),
            "listen[1]: duplicate address [::1]:5432 (also listen[0])");
  EXPECT_EQ(error_of(R"({"listen": ["0.0.0.0:5432", "127.0.0.1:5432"]})"),
            "listen[1]: 127.0.0.1:5432 overlaps 0.0.0.0:5432 (listen[0]), which already listens on every IPv4 address");
  // Different ports or families do not clash ([::] is bound IPV6_V6ONLY).
  parse_ok(R"({"listen": ["0.0.0.0:5432", "[::]:5432", "127.0.0.1:5433"]})");
}

// ---- TLS ----------------------------------------------------------------------------------

TEST(ConfigTls, ModeNeedsCertificateAndKey) {
  EXPECT_EQ(errors_of(tls_json(R"("mode": "require")")),
            (std::vector<std::string>{"tls.cert_file: required when tls.mode is \"require\"",
                                      "tls.key_file: required when tls.mode is \"require\""}));
  EXPECT_EQ(error_of(tls_json(R"("mode": "allow", "cert_file": "/x.crt")"), kNoFileChecks),
            "tls.key_file: required when tls.mode is \"allow\"");
  EXPECT_EQ(error_of(tls_json(R"("mode": "disable", "cert_file": "/x.crt")")),
            "tls.key_file: required together with tls.cert_file");
  EXPECT_EQ(error_of(tls_json(R"("key_file": "/x.key")")), "tls.cert_file: required together with tls.key_file");
  EXPECT_EQ(error_of(tls_json(R"("mode": "prefer")")),
            "tls.mode: invalid value \"prefer\"; expected one of \"disable\", \"allow\" or \"require\"");
  EXPECT_EQ(error_of(tls_json(R"("min_protocol_version": "TLSv1.1")")),
            "tls.min_protocol_version: invalid value \"TLSv1.1\"; expected one of \"TLSv1.2\" or \"TLSv1.3\"");
}

TEST(ConfigTls, FilesMustExistAndBeReadable) {
  TempDir dir;
  std::string crt = dir.file("server.crt");
  std::string key = dir.file("server.key");
  // Mode defaults to allow when both files are given.
  Config c = parse_ok(tls_json(R"("cert_file": ")" + crt + R"(", "key_file": ")" + key + "\""));
  EXPECT_EQ(c.tls.mode, TlsMode::kAllow);
  EXPECT_TRUE(c.warnings.empty()) << warnings_of(c).front();
  c = parse_ok(tls_json(R"("mode": "require", "cert_file": ")" + crt + R"(", "key_file": ")" + key +
                        R"(", "min_protocol_version": "tlsv1.3")"));
  EXPECT_EQ(c.tls.mode, TlsMode::kRequire);
  EXPECT_EQ(c.tls.min_protocol_version, TlsVersion::kTls13);

  EXPECT_EQ(error_of(tls_json(R"("cert_file": ")" + dir.path() + R"(/missing.crt", "key_file": ")" + key + "\"")),
            "tls.cert_file: file \"" + dir.path() + "/missing.crt\" does not exist");
  EXPECT_EQ(error_of(tls_json(R"("cert_file": ")" + crt + R"(", "key_file": ")" + dir.path() + "\"")),
            "tls.key_file: \"" + dir.path() + "\" is a directory, not a file");
  EXPECT_EQ(error_of(tls_json(R"("cert_file": ")" + crt + R"(", "key_file": ")" + key +
                              R"(", "ca_file": "relative/ca.pem")"))
                .substr(0, 80),
            "tls.ca_file: file \"relative/ca.pem\" does not exist (relative to the working dire");
  // Not checked when the caller asks so, nor when TLS is disabled.
  parse_ok(tls_json(R"("cert_file": "/nonexistent.crt", "key_file": "/nonexistent.key")"), kNoFileChecks);
  parse_ok(tls_json(R"("mode": "disable", "cert_file": "/nonexistent.crt", "key_file": "/nonexistent.key")"));

  if (::geteuid() != 0) {  // root reads anything
    std::string locked = dir.file("locked.key", "x", 0000);
    EXPECT_EQ(error_of(tls_json(R"("cert_file": ")" + crt + R"(", "key_file": ")" + locked + "\"")),
              "tls.key_file: file \"" + locked + "\" is not readable: Permission denied");
  }
}

TEST(ConfigTls, WarnsAboutLooseKeyPermissions) {
  TempDir dir;
  std::string crt = dir.file("server.crt", "x", 0644);
  std::string key = dir.file("server.key", "x", 0644);
  Config c = parse_ok(tls_json(R"("cert_file": ")" + crt + R"(", "key_file": ")" + key + "\""));
  EXPECT_EQ(warnings_of(c), std::vector<std::string>{"tls.key_file: private key \"" + key +
                                                     "\" is accessible by group or others; restrict it (chmod 600)"});
}

// ---- Auth ---------------------------------------------------------------------------------

TEST(ConfigAuth, RulesUseTheHbaParser) {
  Config c = parse_ok(R"({"auth": {"rules": ["# comment", "host grafana grafana 10.0.0.0/8 reject", "",
                                             "host all all 127.0.0.1/32 trust"]}})");
  EXPECT_EQ(c.auth.rule_lines.size(), 4u);
  ASSERT_EQ(c.auth.rules.size(), 2u);
  EXPECT_EQ(c.auth.rules[0].line_number, 2);
  EXPECT_EQ(c.auth.rules[0].method, auth::Method::kReject);
  EXPECT_EQ(c.auth.rules[1].line_number, 4);

  EXPECT_EQ(error_of(R"({"auth": {"rules": ["host all all 127.0.0.1/32 trust", "host all all ::1/128 trust",
                                           "host all all 0.0.0.0/0 scram"]}})"),
            "auth.rules[2]: invalid authentication method \"scram\"");
  EXPECT_EQ(error_of(R"({"auth": {"rules": ["local all all trust"]}})"),
            "auth.rules[0]: connection type \"local\" is unsupported: metagate only accepts TCP connections");
  EXPECT_EQ(error_of(R"({"auth": {"rules": ["host all all 10.0.0.1 trust"]}})"),
            "auth.rules[0]: address \"10.0.0.1\" has no mask: use CIDR (e.g. 10.0.0.1/32) or give a netmask");
  EXPECT_EQ(error_of(R"({"auth": {"rules": ["host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust"]}})"),
            "auth.rules[0]: one rule per array element: the line contains a newline");
  EXPECT_EQ(error_of(R"({"auth": {"rules": "host all all 127.0.0.1/32 trust"}})"),
            "auth.rules: expected an array of pg_hba lines, got a string");
  EXPECT_EQ(error_of(R"({"auth": {"rules": [1]}})"), "auth.rules[0]: expected a string (one pg_hba line), got an integer");
  EXPECT_EQ(error_of(R"({"auth": {"rules": []}})"),
            "auth.rules: no rules: every connection would be refused (default: trust for 127.0.0.1/32 and ::1/128)");
  EXPECT_TRUE(error_of(R"({"auth": {"rules": ["# only a comment"]}})").starts_with("auth.rules: no rules: "));
}

TEST(ConfigAuth, UsersNeedVerifiers) {
  Config c = parse_ok(R"({"auth": {"users": {"grafana": {"password": ")" + kScramGrafana +
                      R"(", "admin": true}, "reader": {"password": ")" + kMd5Reader + R"("}}}})");
  ASSERT_EQ(c.auth.users.size(), 2u);
  EXPECT_TRUE(c.auth.find_user("grafana")->admin);
  EXPECT_TRUE(c.auth.find_user("reader")->credential.is_md5());
  EXPECT_FALSE(c.auth.find_user("reader")->admin);

  // Plaintext is refused with directions, and the password never appears in the message.
  std::string plain = error_of(R"({"auth": {"users": {"grafana": {"password": "hunter2"}}}})");
  EXPECT_TRUE(plain.starts_with("auth.users.grafana.password: plaintext passwords are not accepted; store a "
                                "SCRAM-SHA-256 verifier"))
      << plain;
  EXPECT_NE(plain.find("metagate passwd grafana"), std::string::npos);
  EXPECT_EQ(plain.find("hunter2"), std::string::npos);

  EXPECT_EQ(error_of(R"({"auth": {"users": {"g": {"password": "SCRAM-SHA-256$4096:!!$a:b"}}}})"),
            "auth.users.g.password: invalid SCRAM-SHA-256 verifier: salt is not valid base64");
  EXPECT_EQ(error_of(R"({"auth": {"users": {"g": {"password": "md5abc"}}}})"),
            "auth.users.g.password: invalid md5 secret: expected 32 hex digits after \"md5\", got 3 characters");
  EXPECT_EQ(error_of(R"({"auth": {"users": {"g": {"admin": true}}}})"),
            "auth.users.g: missing key \"password\" (a SCRAM-SHA-256 verifier or md5 hash)");
  EXPECT_EQ(error_of(R"({"auth": {"users": {"g": {"password": ")" + kScramGrafana + R"(", "admin": "yes"}}}})"),
            "auth.users.g.admin: expected a boolean (true or false), got a string");
  EXPECT_EQ(error_of(R"({"auth": {"users": {"g": "SCRAM-SHA-256$..."}}})"),
            "auth.users.g: expected an object {\"password\": \"SCRAM-SHA-256$...\"}, got a string");
  EXPECT_EQ(error_of(R"({"auth": {"users": {"": {"password": ")" + kScramGrafana + R"("}}}})"),
            "auth.users[\"\"]: a user name must not be empty");
  EXPECT_EQ(error_of(R"({"auth": {"users": {")" + std::string(64, 'u') + R"(": {"password": ")" + kScramGrafana +
                     R"("}}}})"),
            "auth.users." + std::string(64, 'u') +
                ": user names are at most 63 bytes (PostgreSQL truncates longer ones), so this user could never log in");
}

TEST(ConfigAuth, MockSecretFile) {
  TempDir dir;
  std::string secret = dir.file("mock", "0123456789abcdef0123456789abcdef");
  Config c = parse_ok(R"({"auth": {"mock_secret_file": ")" + secret + R"("}})");
  EXPECT_EQ(c.auth.mock_secret_file, secret);
  std::string empty = dir.file("empty", "");
  EXPECT_EQ(error_of(R"({"auth": {"mock_secret_file": ")" + empty + R"("}})"),
            "auth.mock_secret_file: file \"" + empty + "\" is empty");
  EXPECT_EQ(error_of(R"({"auth": {"mock_secret_file": "/nonexistent/mock"}})"),
            "auth.mock_secret_file: file \"/nonexistent/mock\" does not exist");
}

// ---- Databases ----------------------------------------------------------------------------

TEST(ConfigDatabases, Validation) {
  EXPECT_EQ(error_of(R"({"databases": {}})"),
            "databases: no databases: every connection would fail with \"database does not exist\"; add an entry, "
            "e.g. \"*\": {\"path\": \"./data/{database}.db\"}");
  EXPECT_EQ(error_of(R"({"databases": {"grafana": {}}})"), "databases.grafana: missing key \"path\" (the SQLite file)");
  EXPECT_EQ(error_of(R"({"databases": {"grafana": {"backend": "postgres", "path": "x"}}})"),
            "databases.grafana.path: unknown key");
  EXPECT_EQ(error_of(R"({"databases": {"grafana": {"backend": "postgres"}}})"),
            "databases.grafana: missing key \"conninfo\" (libpq connection string, e.g. \"host=db port=5432\")");
  EXPECT_EQ(error_of(R"({"databases": {"grafana": {"backend": "postgres", "conninfo": "host=db port=x"}}})"),
            "databases.grafana.conninfo: invalid port number: \"x\"");
  EXPECT_EQ(error_of(R"({"databases": {"grafana": {"backend": "postgres", "conninfo": "nonsense"}}})").substr(0, 31),
            "databases.grafana.conninfo: mis");
  EXPECT_EQ(error_of(R"({"databases": {"grafana": {"backend": "postgres", "conninfo": "host=db", "pool_size": 0}}})"),
            "databases.grafana.pool_size: 0 is out of range (1 to 100000)");
  EXPECT_EQ(error_of(R"({"databases": {"grafana": {"backend": "postgres", "conninfo": "host=db", "pool_size": 2, "min_pool_size": 3}}})"),
            "databases.grafana.min_pool_size: larger than pool_size (2)");
  EXPECT_EQ(error_of(R"({"databases": {"grafana": {"backend": "postgres", "conninfo": "host=db", "queue_timeout": 5}}})"),
            "databases.grafana.queue_timeout: unknown key");
  EXPECT_EQ(error_of(R"({"databases": {"grafana": {"backend": "mysql", "path": "x"}}})"),
            "databases.grafana.backend: invalid value \"mysql\"; expected one of \"sqlite\" or \"postgres\"");
  EXPECT_EQ(error_of(R"({"databases": {"grafana": {"path": ""}}})"),
            "databases.grafana.path: the SQLite file path must not be empty");
  EXPECT_EQ(error_of(R"({"databases": {"grafana": {"path": ":memory:"}}})"),
            "databases.grafana.path: in-memory databases and \"file:\" URIs are not supported; give a file path");
  EXPECT_EQ(error_of(R"({"databases": {"grafana": {"path": "/var/lib/metagate/"}}})"),
            "databases.grafana.path: \"/var/lib/metagate/\" is a directory; give a file path");
  EXPECT_EQ(error_of(R"({"databases": {"grafana": {"path": "./data/{database}.db"}}})"),
            "databases.grafana.path: {database} can only be used in the \"*\" entry (this entry serves a single name)");
  EXPECT_EQ(error_of(R"({"databases": {"*": {"path": "./data/{db}.db"}}})"),
            "databases.*.path: unknown placeholder or stray brace \"{db}\" (only {database} is supported)");
  EXPECT_EQ(error_of(R"({"databases": {"*": {"path": "./data/{database}}.db"}}})"),
            "databases.*.path: unknown placeholder or stray brace \"}\" (only {database} is supported)");
  EXPECT_EQ(error_of(R"({"databases": {"": {"path": "x.db"}}})"), "databases[\"\"]: a database name must not be empty");
  EXPECT_EQ(error_of(R"({"databases": {"graf*": {"path": "x.db"}}})"),
            "databases.graf*: \"*\" is only allowed on its own, as the entry for every other database name");
  EXPECT_EQ(error_of(R"({"databases": {")" + std::string(64, 'd') + R"(": {"path": "x.db"}}})"),
            "databases." + std::string(64, 'd') +
                ": database names are at most 63 bytes (PostgreSQL truncates longer ones), so no client could connect "
                "to this one");
  EXPECT_EQ(error_of(R"({"databases": {"g": []}})"), "databases.g: expected an object {\"path\": \"...\"}, got an array");
}

TEST(ConfigDatabases, WildcardRouting) {
  Config c = parse_ok(R"({"databases": {"grafana": {"backend": "sqlite", "path": "/srv/main.db"},
                                        "*": {"path": "/srv/{database}/{database}.db"}}})");
  EXPECT_EQ(route(c, "grafana"), "/srv/main.db");
  EXPECT_EQ(route(c, "team-a_2"), "/srv/team-a_2/team-a_2.db");
  EXPECT_EQ(route(c, std::string(63, 'x')), "/srv/" + std::string(63, 'x') + "/" + std::string(63, 'x') + ".db");
  // Names that could escape the directory (or are not plain) never reach the wildcard.
  for (std::string_view bad : {"../etc/passwd", "..", ".", "a/b", "a\\b", "a.b", "", "*", "{database}", "a b",
                               "caf\xc3\xa9"}) {
    EXPECT_EQ(route(c, bad), "ERROR 3D000 FATAL: database \"" + std::string(bad) + "\" does not exist") << bad;
    EXPECT_FALSE(is_valid_wildcard_name(bad));
  }
  EXPECT_TRUE(route(c, std::string(64, 'x')).starts_with("ERROR 3D000 "));
  auto err = database_route(c, "../x");
  ASSERT_FALSE(err);
  EXPECT_EQ(err.error().sqlstate, "3D000");
  EXPECT_EQ(err.error().severity, "FATAL");

  // Without a "*" entry only the listed names exist; names are case-sensitive, as in PostgreSQL.
  Config exact = parse_ok(R"({"databases": {"grafana": {"path": "/srv/g.db"}}})");
  EXPECT_EQ(route(exact, "grafana"), "/srv/g.db");
  EXPECT_EQ(route(exact, "Grafana"), "ERROR 3D000 FATAL: database \"Grafana\" does not exist");
  // A "*" entry without {database} serves every name from one file.
  Config shared = parse_ok(R"({"databases": {"*": {"path": "/srv/all.db"}}})");
  EXPECT_EQ(route(shared, "x"), "/srv/all.db");
  EXPECT_EQ(route(shared, "../x"), "ERROR 3D000 FATAL: database \"../x\" does not exist");
}

// ---- Warnings -----------------------------------------------------------------------------

TEST(ConfigWarnings, RulesThatCannotMatchOrAreRisky) {
  Config c = parse_ok(R"({"listen": ["0.0.0.0:5432"],
    "auth": {"rules": ["hostssl all all 0.0.0.0/0 scram-sha-256", "host all all 10.0.0.0/8 trust",
                       "host all all 10.0.0.0/8 password", "host reporting all 127.0.0.1/32 trust"]},
    "databases": {"grafana": {"path": "g.db"}}})");
  EXPECT_EQ(warnings_of(c),
            (std::vector<std::string>{
                "auth.rules[0]: hostssl rule can never match: TLS is disabled (tls.mode)",
                "auth.rules[1]: trust for non-loopback clients: anyone who can reach the listen address connects "
                "without a password",
                "auth.rules[2]: method \"password\" sends passwords in cleartext over connections without TLS; "
                "prefer scram-sha-256",
                "auth.rules[3]: database \"reporting\" is not served by any entry in databases",
                "auth.users: no users are configured, so password rules (auth.rules[0], ...) always fail",
            }));
  // The same trust rule is fine while only loopback addresses are listened on.
  Config local = parse_ok(R"({"auth": {"rules": ["host all all 10.0.0.0/8 trust"]}})");
  EXPECT_TRUE(local.warnings.empty());
}

// ---- Command line -------------------------------------------------------------------------

TEST(ConfigOverrides, ListenAndSqlite) {
  Config c = parse_ok(R"({"databases": {"grafana": {"path": "/srv/g.db"}, "*": {"path": "/srv/{database}.db"}}})");
  auto r = apply_overrides(c, overrides({"127.0.0.1:0", "[::1]:0"}, "/tmp/one.db"));
  ASSERT_TRUE(r) << r.error().to_string();
  ASSERT_EQ(c.listen.size(), 2u);
  EXPECT_EQ(c.listen[1].to_string(), "[::1]:0");
  EXPECT_EQ(route(c, "grafana"), "/tmp/one.db");
  EXPECT_EQ(route(c, "anything"), "/tmp/one.db");
  EXPECT_EQ(c.databases.size(), 1u);

  Config untouched;
  ASSERT_TRUE(apply_overrides(untouched, {}));
  EXPECT_EQ(to_json(untouched), to_json(default_config()));

  Config per_name;
  ASSERT_TRUE(apply_overrides(per_name, overrides({}, "./data/{database}.db")));
  EXPECT_EQ(route(per_name, "x"), "./data/x.db");
}

TEST(ConfigOverrides, ErrorsNameTheOption) {
  Config c;
  auto r = apply_overrides(c, overrides({"localhost:5432"}));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().to_string(),
            "--listen: invalid address \"localhost:5432\": host names are not supported; use a numeric address "
            "(127.0.0.1 rather than localhost)");
  Config d;
  r = apply_overrides(d, overrides({"127.0.0.1:5432", "127.0.0.1:5432"}));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().to_string(), "--listen: duplicate address 127.0.0.1:5432 (also listen[0])");
  Config e;
  r = apply_overrides(e, overrides({}, ":memory:"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().to_string(),
            "--sqlite: in-memory databases and \"file:\" URIs are not supported; give a file path");
  Config f;
  r = apply_overrides(f, overrides({}, ""));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().to_string(), "--sqlite: the SQLite file path must not be empty");
}

TEST(ConfigOverrides, RefreshWarnings) {
  Config c;
  ASSERT_TRUE(apply_overrides(c, overrides({"0.0.0.0:5432"})));
  EXPECT_TRUE(c.warnings.empty());  // the default rules trust loopback only
  c.auth.rules = parse_ok(R"({"auth": {"rules": ["host all all all trust"]}})").auth.rules;
  ASSERT_TRUE(apply_overrides(c, {}));
  EXPECT_EQ(c.warnings.size(), 1u);
}

// ---- to_json and reloads ------------------------------------------------------------------

TEST(ConfigJson, RedactsSecrets) {
  Config c = parse_ok(R"({"auth": {"users": {"grafana": {"password": ")" + kScramGrafana +
                      R"("}, "reader": {"password": ")" + kMd5Reader + R"(", "admin": true}}}})");
  auto j = to_json(c);
  EXPECT_EQ(j["auth"]["users"]["grafana"]["password"], "SCRAM-SHA-256$<redacted>");
  EXPECT_EQ(j["auth"]["users"]["reader"]["password"], "md5<redacted>");
  EXPECT_EQ(j["auth"]["users"]["reader"]["admin"], true);
  std::string text = j.dump();
  EXPECT_EQ(text.find("AAECAwQF"), std::string::npos);
  EXPECT_EQ(text.find("bbbf280c"), std::string::npos);
  EXPECT_EQ(to_json(c, Redact::kNothing)["auth"]["users"]["grafana"]["password"], kScramGrafana);
  // Keys in the file's order, every key present.
  std::vector<std::string> keys;
  for (const auto& [k, v] : j.items()) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"listen", "io_threads", "tls", "auth", "databases", "sqlite", "limits",
                                            "server", "log", "metrics", "backup", "s3"}));
  Config s3 = parse_ok(R"({"s3": {"endpoint": "http://h", "bucket": "b", "access_key_id": "AK", "secret_access_key": "SECRET"}})");
  EXPECT_EQ(to_json(s3)["s3"]["secret_access_key"], "<redacted>");
  EXPECT_EQ(to_json(s3, Redact::kNothing)["s3"]["secret_access_key"], "SECRET");
  EXPECT_NE(error_of(R"({"s3": {"endpoint": "http://h"}})").find("s3.bucket: is required"), std::string::npos);
  EXPECT_NE(error_of(R"({"s3": {"endpoint": "ftp://h", "bucket": "b"}})").find("s3.endpoint"), std::string::npos);
  EXPECT_NE(error_of(R"({"s3": {"access_key_id": "AK"}})").find("s3.secret_access_key"), std::string::npos);
}

TEST(ConfigJson, RoundTrips) {
  for (const char* name : {"metagate.example.json", "metagate.minimal.json"}) {
    std::string text = read_file(std::string(METAGATE_SOURCE_DIR) + "/config/" + name);
    Config c = parse_ok(text, kNoFileChecks);
    std::string out = to_json(c, Redact::kNothing).dump(2);
    Config again = parse_ok(out, kNoFileChecks);
    EXPECT_EQ(to_json(again, Redact::kNothing), to_json(c, Redact::kNothing)) << name;
    EXPECT_EQ(again.auth.find_user("grafana") != nullptr, c.auth.find_user("grafana") != nullptr);
    EXPECT_EQ(again.auth.rules.size(), c.auth.rules.size());
  }
  // Redacted output is refused as input (it holds no usable secret).
  Config c = parse_ok(R"({"auth": {"users": {"g": {"password": ")" + kScramGrafana + R"("}}}})");
  EXPECT_TRUE(error_of(to_json(c).dump()).starts_with("auth.users.g.password: invalid SCRAM-SHA-256 verifier: "));
}

TEST(ConfigJson, ChangedKeysAndReload) {
  Config a = parse_ok(R"({"auth": {"users": {"g": {"password": ")" + kScramGrafana + R"("}}}})");
  Config b = parse_ok(R"({"log": {"level": "debug", "format": "json"}, "limits": {"max_connections": 5},
                          "auth": {"rules": ["host all all 127.0.0.1/32 md5"],
                                   "users": {"g": {"password": ")" + kScramGrafana + R"(", "admin": true},
                                             "r": {"password": ")" + kMd5Reader + R"("}}},
                          "sqlite": {"readers": 8}})");
  auto changed = changed_keys(a, b);
  EXPECT_EQ(changed, (std::vector<std::string>{"auth.rules", "auth.users.g.admin", "auth.users.r.admin",
                                               "auth.users.r.password", "limits.max_connections", "log.format",
                                               "log.level", "sqlite.readers"}));
  std::vector<std::string> restart;
  for (const std::string& k : changed)
    if (!is_reloadable(k)) restart.push_back(k);
  EXPECT_EQ(restart, (std::vector<std::string>{"log.format", "sqlite.readers"}));
  EXPECT_TRUE(changed_keys(a, a).empty());
  EXPECT_TRUE(is_reloadable("auth.users[\"a.b\"].password"));
  EXPECT_FALSE(is_reloadable("auth.users_extra"));
  EXPECT_FALSE(is_reloadable("auth.mock_secret_file"));
  EXPECT_FALSE(is_reloadable("listen"));
  EXPECT_FALSE(is_reloadable("tls.cert_file"));
  EXPECT_FALSE(is_reloadable("databases.grafana.path"));
}

// ---- Documentation stays in sync ----------------------------------------------------------

TEST(ConfigDocs, ExamplesAndKeysMatchTheCode) {
  std::string doc = read_file(std::string(METAGATE_SOURCE_DIR) + "/docs/CONFIG.md");
  ASSERT_FALSE(doc.empty());
  // The two example files are quoted verbatim.
  for (const char* name : {"metagate.minimal.json", "metagate.example.json"}) {
    std::string text = read_file(std::string(METAGATE_SOURCE_DIR) + "/config/" + name);
    EXPECT_NE(doc.find("```json\n" + text + "```"), std::string::npos) << name << " differs from docs/CONFIG.md";
  }
  // Every key of the full example is documented (map entries as NAME).
  Config c = parse_ok(read_file(std::string(METAGATE_SOURCE_DIR) + "/config/metagate.example.json"), kNoFileChecks);
  std::function<void(const nlohmann::ordered_json&, const std::string&)> walk =
      [&](const nlohmann::ordered_json& j, const std::string& path) {
        for (const auto& [k, v] : j.items()) {
          bool map_entry = path == "auth.users" || path == "databases";
          std::string key = path.empty() ? k : path + "." + (map_entry ? "NAME" : k);
          if (v.is_object() && !v.empty()) {
            walk(v, key);
            if (map_entry) break;  // one entry is enough
          } else {
            EXPECT_NE(doc.find("| `" + key + "` |"), std::string::npos) << key << " is not in docs/CONFIG.md";
          }
        }
      };
  walk(to_json(c), "");
  // The documented example passwords are the ones the verifiers were made from.
  std::vector<uint8_t> salt(16);
  for (uint8_t i = 0; i < 16; ++i) salt[i] = static_cast<uint8_t>(16 + i);
  auto v = auth::make_scram_verifier("admin-example-password", salt, 4096);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->to_string(), c.auth.find_user("metagate_admin")->credential.to_string());
}

TEST(ConfigPostgres, ClusterKeys) {
  const std::string cluster = R"("backend": "postgres", "conninfo": "host=a,b user=g password=p")";
  Config c = parse_ok(R"({"databases": {"grafana": {)" + cluster +
                      R"(, "reads": "prefer-replicas", "max_replica_lag_bytes": 1024, "max_replica_lag_ms": 500,
                         "health_check_interval_ms": 250, "health_check_timeout_ms": 800, "failover_hold_ms": 5000,
                         "failover_hold_max_clients": 10, "patroni_urls": ["http://a:8008", "https://b:8008"]}}})");
  const DatabaseConfig& d = c.databases.at("grafana");
  EXPECT_EQ(d.reads, ReadsMode::kPreferReplicas);
  EXPECT_EQ(d.max_replica_lag_bytes, 1024);
  EXPECT_EQ(d.max_replica_lag_ms, 500);
  EXPECT_EQ(d.health_check_interval_ms, 250);
  EXPECT_EQ(d.health_check_timeout_ms, 800);
  EXPECT_EQ(d.failover_hold_ms, 5000);
  EXPECT_EQ(d.failover_hold_max_clients, 10);
  ASSERT_EQ(d.patroni_urls.size(), 2u);
  EXPECT_EQ(d.patroni_urls[1], "https://b:8008");
  EXPECT_EQ(error_of(R"({"databases": {"grafana": {)" + cluster + R"(, "reads": "replica"}}})"),
            "databases.grafana.reads: invalid value \"replica\"; expected one of \"primary\", \"replicas\" or "
            "\"prefer-replicas\"");
  EXPECT_EQ(error_of(R"({"databases": {"grafana": {)" + cluster + R"(, "health_check_interval_ms": 10}}})"),
            "databases.grafana.health_check_interval_ms: 10 is out of range (100 to 3600000)");
  EXPECT_EQ(error_of(R"({"databases": {"grafana": {)" + cluster + R"(, "patroni_urls": ["http://a:8008"]}}})"),
            "databases.grafana.patroni_urls: 1 URLs for 2 hosts in conninfo: give one Patroni REST API URL per host, "
            "in the same order");
  EXPECT_EQ(error_of(R"({"databases": {"grafana": {)" + cluster + R"(, "patroni_urls": ["a:8008", "http://b"]}}})"),
            "databases.grafana.patroni_urls[0]: \"a:8008\" is not an http:// or https:// URL");
  EXPECT_EQ(error_of(R"({"databases": {"grafana": {)" + cluster + R"(, "patroni_urls": "http://a"}}})"),
            "databases.grafana.patroni_urls: expected an array of strings, got a string");
  EXPECT_EQ(error_of(R"({"databases": {"grafana": {"backend": "postgres", "conninfo": "host=a,b",
                                                   "patroni_urls": ["http://a", "http://b"]}}})"),
            "databases.grafana.patroni_urls: Patroni is asked only for a cluster: a conninfo with several hosts and its "
            "own user and password");
}

TEST(ConfigPostgres, ConninfoHostsPortsAndRedaction) {
  auto t = parse_conninfo("host=h1,h2 port=5432,5433 dbname=grafana user=g password='a b' connect_timeout=3");
  ASSERT_TRUE(t) << t.error();
  ASSERT_EQ(t->hosts.size(), 2u);
  EXPECT_EQ(t->hosts[0].host, "h1");
  EXPECT_EQ(t->hosts[1].port, 5433);
  EXPECT_EQ(t->dbname, "grafana");
  EXPECT_EQ(t->user, "g");
  EXPECT_EQ(t->password, "a b");
  EXPECT_EQ(t->connect_timeout_s, 3);
  auto one_port = parse_conninfo("host=a,b,c port=6000");
  ASSERT_TRUE(one_port);
  EXPECT_EQ(one_port->hosts[2].port, 6000);
  auto passthrough = parse_conninfo("host=db");
  ASSERT_TRUE(passthrough);
  EXPECT_EQ(passthrough->user, "");    // the client's
  EXPECT_EQ(passthrough->dbname, "");  // the client's
  EXPECT_FALSE(parse_conninfo("host=a,b port=1,2,3"));
  EXPECT_FALSE(parse_conninfo("host=/var/run/postgresql"));
  EXPECT_FALSE(parse_conninfo("postgresql://u@h/db"));
  std::string red = redact_conninfo("host=db user=g password=topsecret");
  EXPECT_EQ(red.find("topsecret"), std::string::npos);
  EXPECT_NE(red.find("password=<redacted>"), std::string::npos);
  // --postgres routes every name there; with --sqlite it is an error.
  auto c = default_config();
  CommandLineOverrides o;
  o.postgres = "host=127.0.0.1 port=5432";
  ASSERT_TRUE(apply_overrides(c, o));
  const auto* e = database_entry(c, "anything");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->backend, Backend::kPostgres);
  auto j = to_json(c);
  EXPECT_EQ(j["databases"]["*"]["backend"], "postgres");
  o.sqlite = "./x.db";
  auto c2 = default_config();
  EXPECT_FALSE(apply_overrides(c2, o));
}


// ---- backup -------------------------------------------------------------------------------

TEST(ConfigBackup, DefaultsAndUnits) {
  Config d = parse_ok("{}");
  EXPECT_EQ(d.backup.interval_ms, 3'600'000);
  EXPECT_EQ(d.backup.retention, (BackupRetention{0, 24, 7, 4}));
  EXPECT_EQ(d.backup.disk_budget_bytes, 0u);
  EXPECT_EQ(backup_dir_for(d.backup, "./data/grafana.db"), "./data/backups/grafana");
  EXPECT_EQ(backup_dir_for(d.backup, "grafana.db"), "./backups/grafana");

  Config c = parse_ok(R"({"backup": {"dir": "/srv/mg-backups", "interval": "15m",
      "retention": {"last": 5, "hourly": 48, "daily": 14, "weekly": 8}, "disk_budget": "10GiB", "min_free_space": "1.5GB",
      "zstd_level": 9}})");
  EXPECT_EQ(c.backup.interval_ms, 900'000);
  EXPECT_EQ(c.backup.retention, (BackupRetention{5, 48, 14, 8}));
  EXPECT_EQ(c.backup.disk_budget_bytes, 10ull << 30);
  EXPECT_EQ(c.backup.min_free_bytes, 1'500'000'000ull);
  EXPECT_EQ(c.backup.zstd_level, 9);
  EXPECT_EQ(backup_dir_for(c.backup, "/var/lib/metagate/grafana.db"), "/srv/mg-backups/grafana");
  EXPECT_EQ(parse_ok(R"({"backup": {"interval": "off"}})").backup.interval_ms, 0);
  EXPECT_EQ(parse_ok(R"({"backup": {"disk_budget": 4096}})").backup.disk_budget_bytes, 4096u);
  EXPECT_TRUE(d.backup.capture);
  EXPECT_EQ(d.backup.segment_bytes, 16ull << 20);
  EXPECT_EQ(d.backup.segment_interval_ms, 60'000);
  EXPECT_EQ(d.backup.pitr_window_ms, 86'400'000);
  EXPECT_EQ(parse_ok(R"({"backup": {"pitr_window": "off"}})").backup.pitr_window_ms, 0);
  EXPECT_EQ(parse_ok(R"({"backup": {"pitr_window": "6h"}})").backup.pitr_window_ms, 6 * 3'600'000);
  Config cap = parse_ok(R"({"backup": {"capture": false, "segment_size": "1MiB", "segment_interval": "10s"}})");
  EXPECT_FALSE(cap.backup.capture);
  EXPECT_EQ(cap.backup.segment_bytes, 1ull << 20);
  EXPECT_EQ(cap.backup.segment_interval_ms, 10'000);

  EXPECT_EQ(parse_duration_ms("90s"), 90'000);
  EXPECT_EQ(parse_duration_ms("1.5h"), 5'400'000);
  EXPECT_EQ(parse_duration_ms("250ms"), 250);
  EXPECT_EQ(parse_duration_ms("7d"), 7LL * 86'400'000);
  EXPECT_EQ(parse_duration_ms("0"), 0);
  EXPECT_FALSE(parse_duration_ms("10"));
  EXPECT_FALSE(parse_duration_ms("1 fortnight"));
  EXPECT_FALSE(parse_duration_ms("1..5h"));
  EXPECT_EQ(parse_byte_size("512MiB"), 512ull << 20);
  EXPECT_EQ(parse_byte_size("2 kB"), 2000u);
  EXPECT_EQ(parse_byte_size("0"), 0u);
  EXPECT_FALSE(parse_byte_size("lots"));
  EXPECT_FALSE(parse_byte_size("-5GiB"));
}

TEST(ConfigBackup, ErrorsNameTheKey) {
  EXPECT_EQ(error_of(R"({"backup": {"interval": "soon"}})"),
            "backup.interval: \"soon\" is not a duration (examples: \"1h\", \"30m\", \"off\")");
  EXPECT_EQ(error_of(R"({"backup": {"interval": "100ms"}})"), "backup.interval: must be at least 1s (or \"off\")");
  EXPECT_EQ(error_of(R"({"backup": {"disk_budget": "big"}})"),
            "backup.disk_budget: \"big\" is not a size (examples: \"10GiB\", \"512MiB\", \"0\")");
  EXPECT_EQ(error_of(R"({"backup": {"retention": {"hourly": -1}}})").substr(0, 26), "backup.retention.hourly: -");
  EXPECT_NE(error_of(R"({"backup": {"retention": {"monthly": 3}}})").find("backup.retention.monthly"), std::string::npos);
  EXPECT_NE(error_of(R"({"backup": {"zstd_level": 30}})").find("backup.zstd_level"), std::string::npos);
  EXPECT_EQ(error_of(R"({"backup": {"segment_interval": "off"}})"),
            "backup.segment_interval: \"off\" is not a duration (examples: \"1h\", \"30m\")");
  EXPECT_EQ(error_of(R"({"backup": {"segment_interval": "500ms"}})"), "backup.segment_interval: must be at least 1s");
  EXPECT_EQ(error_of(R"({"backup": {"segment_size": "1KiB"}})"), "backup.segment_size: must be at least 64KiB");
  EXPECT_NE(error_of(R"({"backup": {"capture": "yes"}})").find("backup.capture"), std::string::npos);
}
