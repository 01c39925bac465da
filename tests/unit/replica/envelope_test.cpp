// Client-side encryption: round trips (memory and files), and every way an object can be wrong:
// another key (said so), a flipped byte, a truncation, another name (swapped objects).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "metagate/replica/envelope.hpp"

using namespace metagate;
using namespace metagate::replica;
namespace fs = std::filesystem;

namespace {

Key make_key(uint8_t seed) {
  std::array<uint8_t, 32> b{};
  for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<uint8_t>(seed + i * 7);
  return key_from_bytes(b);
}

std::vector<uint8_t> random_bytes(size_t n) {
  std::mt19937 rng(1234);
  std::vector<uint8_t> v(n);
  for (auto& c : v) c = static_cast<uint8_t>(rng());
  return v;
}

TEST(Envelope, RoundTripAndEveryKindOfDamage) {
  const Key k = make_key(1), other = make_key(2);
  const auto plain = random_bytes(100'000);
  auto env = seal(k, "edge/grafana/snapshots/a.db.zst", plain);
  ASSERT_EQ(env.size(), plain.size() + kEnvelopeOverhead);
  EXPECT_TRUE(is_envelope(env));
  EXPECT_FALSE(is_envelope(plain));
  auto back = open(k, "edge/grafana/snapshots/a.db.zst", env);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(*back, plain);
  // Two seals of the same bytes differ (a fresh nonce each time).
  EXPECT_NE(seal(k, "x", plain), seal(k, "x", plain));

  auto wrong_key = open(other, "edge/grafana/snapshots/a.db.zst", env);
  ASSERT_FALSE(wrong_key);
  EXPECT_NE(wrong_key.error().message.find("another key"), std::string::npos) << wrong_key.error().message;
  EXPECT_EQ(wrong_key.error().sqlstate, "XX001");
  auto renamed = open(k, "edge/grafana/snapshots/b.db.zst", env);
  ASSERT_FALSE(renamed);
  EXPECT_NE(renamed.error().message.find("fails authentication"), std::string::npos);
  for (size_t at : {size_t{30}, env.size() / 2, env.size() - 1}) {
    auto d = env;
    d[at] ^= 1;
    EXPECT_FALSE(open(k, "edge/grafana/snapshots/a.db.zst", d)) << "flipped byte " << at;
  }
  std::vector<uint8_t> cut(env.begin(), env.end() - 1);
  EXPECT_FALSE(open(k, "edge/grafana/snapshots/a.db.zst", cut));
  auto empty = seal(k, "e", {});
  EXPECT_EQ(open(k, "e", empty).value(), std::vector<uint8_t>{});
}

TEST(Envelope, FilesAndKeyFiles) {
  const fs::path dir = fs::temp_directory_path() / ("mg-envelope-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const auto plain = random_bytes(3'500'000);  // several 1 MiB chunks
  { std::ofstream(dir / "in", std::ios::binary).write(reinterpret_cast<const char*>(plain.data()), static_cast<long>(plain.size())); }
  {
    std::ofstream f(dir / "key.hex");
    f << "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";
  }
  ::chmod((dir / "key.hex").c_str(), 0600);
  auto k = load_key_file(dir / "key.hex");
  ASSERT_TRUE(k) << k.error().message;
  ASSERT_TRUE(seal_file(*k, "obj", dir / "in", dir / "enc"));
  EXPECT_TRUE(file_is_envelope(dir / "enc"));
  EXPECT_FALSE(file_is_envelope(dir / "in"));
  EXPECT_EQ(fs::file_size(dir / "enc"), plain.size() + kEnvelopeOverhead);
  // The whole file in memory opens too (same format).
  std::ifstream e(dir / "enc", std::ios::binary);
  std::vector<uint8_t> env((std::istreambuf_iterator<char>(e)), {});
  EXPECT_EQ(open(*k, "obj", env).value(), plain);
  ASSERT_TRUE(open_file(*k, "obj", dir / "enc", dir / "out"));
  std::ifstream o(dir / "out", std::ios::binary);
  EXPECT_EQ(std::vector<uint8_t>((std::istreambuf_iterator<char>(o)), {}), plain);
  // In place (what a restore does with a download), and a damaged file is never written out.
  fs::copy_file(dir / "enc", dir / "enc2");
  ASSERT_TRUE(open_file(*k, "obj", dir / "enc2", dir / "enc2"));
  EXPECT_EQ(fs::file_size(dir / "enc2"), plain.size());
  {
    std::fstream f(dir / "enc", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(2'000'000);
    f.put('\x55');
  }
  auto bad = open_file(*k, "obj", dir / "enc", dir / "out2");
  ASSERT_FALSE(bad);
  EXPECT_FALSE(fs::exists(dir / "out2"));
  EXPECT_FALSE(fs::exists(dir / "out2.tmp"));
  // Key files: raw 32 bytes work; a short one, bad hex or a world-readable file do not.
  { std::ofstream(dir / "raw", std::ios::binary) << std::string(32, 'k'); }
  ::chmod((dir / "raw").c_str(), 0600);
  EXPECT_TRUE(load_key_file(dir / "raw"));
  { std::ofstream(dir / "short") << "abcd\n"; }
  ::chmod((dir / "short").c_str(), 0600);
  EXPECT_EQ(load_key_file(dir / "short").error().sqlstate, "22023");
  ::chmod((dir / "key.hex").c_str(), 0644);
  EXPECT_EQ(load_key_file(dir / "key.hex").error().sqlstate, "42501");
  EXPECT_FALSE(load_key_file(dir / "missing"));
  fs::remove_all(dir);
}

}  // namespace
