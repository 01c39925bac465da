// Unit tests of base64 encode/decode (strictness, padding).
#include <gtest/gtest.h>

#include "metagate/auth/base64.hpp"

using namespace metagate::auth;

namespace {
std::string dec(std::string_view s) {
  auto v = base64_decode(s);
  return v ? std::string(v->begin(), v->end()) : std::string("<invalid>");
}
}  // namespace

TEST(Base64, RoundTripsAllPaddingLengths) {
  EXPECT_EQ(base64_encode(std::string_view("")), "");
  EXPECT_EQ(base64_encode(std::string_view("f")), "Zg==");
  EXPECT_EQ(base64_encode(std::string_view("fo")), "Zm8=");
  EXPECT_EQ(base64_encode(std::string_view("foo")), "Zm9v");
  EXPECT_EQ(base64_encode(std::string_view("foobar")), "Zm9vYmFy");
  EXPECT_EQ(base64_encode(std::string_view("n,,")), "biws");
  EXPECT_EQ(dec(""), "");
  EXPECT_EQ(dec("Zg=="), "f");
  EXPECT_EQ(dec("Zm8="), "fo");
  EXPECT_EQ(dec("Zm9vYmFy"), "foobar");
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  EXPECT_EQ(dec(base64_encode(all)), all);
}

TEST(Base64, RejectsMalformedInput) {
  for (std::string_view bad : {"Zg=", "Zg", "Z===", "Zm9v!", "Zm 9v", " Zm9v", "Zm9v\n", "Z=g=", "=Zg=",
                               "Zg==Zg==", "Zm9v====", "Zm9-", "Zm9_"})
    EXPECT_FALSE(base64_decode(bad).has_value()) << bad;
}
