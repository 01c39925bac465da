// URL building (both address styles), key encoding and query canonicalisation.
#include <gtest/gtest.h>

#include "metagate/s3/url.hpp"

using namespace metagate::s3;

namespace {

Endpoint ep(const char* s) {
  auto e = parse_endpoint(s);
  EXPECT_TRUE(e.has_value()) << s;
  return e.has_value() ? e.value() : Endpoint{};
}

}  // namespace

TEST(S3Url, EncodesKeysPerSegmentKeepingSlashes) {
  EXPECT_EQ(uri_encode("backups/grafana/2026-12-06T11:35:00Z.db.zst", true),
            "backups/grafana/2026-12-06T11%3A35%3A00Z.db.zst");
  EXPECT_EQ(uri_encode("a b+c", true), "a%20b%2Bc");
  EXPECT_EQ(uri_encode("unreserved-_.~AZaz09", true), "unreserved-_.~AZaz09");
  EXPECT_EQ(uri_encode("caf\xC3\xA9/\xE2\x82\xAC", true), "caf%C3%A9/%E2%82%AC");  // UTF-8 bytes, upper-case hex
  EXPECT_EQ(uri_encode("a/b", false), "a%2Fb");
  EXPECT_EQ(uri_encode("100%=&?#", true), "100%25%3D%26%3F%23");
}

TEST(S3Url, DecodesPercentAndOptionallyPlus) {
  EXPECT_EQ(uri_decode("a%20b%2Bc", false), "a b+c");
  EXPECT_EQ(uri_decode("a+b%2B", true), "a b+");
  EXPECT_EQ(uri_decode("a+b", false), "a+b");
  EXPECT_EQ(uri_decode("caf%C3%a9", false), "caf\xC3\xA9");
  EXPECT_EQ(uri_decode("bad%zz%4", false), "bad%zz%4");  // malformed escapes kept
  EXPECT_EQ(uri_decode(uri_encode("x/y z+\xE2\x82\xAC", false), false), "x/y z+\xE2\x82\xAC");
}

TEST(S3Url, QueryIsSortedEncodedAndHasEqualsOnEmptyValues) {
  EXPECT_EQ(canonical_query({{"uploads", ""}}), "uploads=");
  EXPECT_EQ(canonical_query({{"uploadId", "abc"}, {"partNumber", "1"}}), "partNumber=1&uploadId=abc");
  EXPECT_EQ(canonical_query({{"prefix", "a/b"}, {"list-type", "2"}}), "list-type=2&prefix=a%2Fb");
  EXPECT_EQ(canonical_query({{"prefix", "x y+z"}, {"continuation-token", "1/AbC=="}, {"list-type", "2"}}),
            "continuation-token=1%2FAbC%3D%3D&list-type=2&prefix=x%20y%2Bz");
  EXPECT_EQ(canonical_query({}), "");
  // Sorting is by byte value: upper-case names sort before lower-case ones.
  EXPECT_EQ(canonical_query({{"b", "1"}, {"B", "2"}, {"a", "2"}, {"a", "1"}}), "B=2&a=1&a=2&b=1");
}

TEST(S3Url, PathStyle) {
  auto e = ep("http://127.0.0.1:9000");
  EXPECT_EQ(object_url(e, "bucket", true, "dir/a b.bin"), "http://127.0.0.1:9000/bucket/dir/a%20b.bin");
  EXPECT_EQ(object_url(e, "bucket", true, "k", "partNumber=1&uploadId=x"),
            "http://127.0.0.1:9000/bucket/k?partNumber=1&uploadId=x");
  EXPECT_EQ(object_url(e, "bucket", true, "", "list-type=2"), "http://127.0.0.1:9000/bucket?list-type=2");
  // An endpoint with a path prefix (a gateway) keeps it; a trailing slash is dropped.
  EXPECT_EQ(object_url(ep("https://gw.example:8443/s3/"), "b", true, "k"), "https://gw.example:8443/s3/b/k");
}

TEST(S3Url, VirtualHostedStyle) {
  auto e = ep("https://s3.eu-west-1.amazonaws.com");
  EXPECT_EQ(object_url(e, "my-bucket", false, "backups/x+y.db"),
            "https://my-bucket.s3.eu-west-1.amazonaws.com/backups/x%2By.db");
  EXPECT_EQ(object_url(e, "my-bucket", false, "", "list-type=2&prefix=a%2Fb"),
            "https://my-bucket.s3.eu-west-1.amazonaws.com/?list-type=2&prefix=a%2Fb");
  // Dot segments are encoded as themselves: the key "a/../b" is not a path to tidy up.
  EXPECT_EQ(object_url(e, "b12", false, "a/../b"), "https://b12.s3.eu-west-1.amazonaws.com/a/../b");
}

TEST(S3Url, ParsesEndpoints) {
  auto e = ep("HTTPS://s3.amazonaws.com");
  EXPECT_EQ(e.scheme, "https");
  EXPECT_EQ(e.authority, "s3.amazonaws.com");
  EXPECT_EQ(e.base_path, "");
  EXPECT_FALSE(parse_endpoint("s3.amazonaws.com").has_value());
  EXPECT_FALSE(parse_endpoint("ftp://host").has_value());
  EXPECT_FALSE(parse_endpoint("http://").has_value());
  EXPECT_FALSE(parse_endpoint("http://user:pw@host").has_value());
  EXPECT_FALSE(parse_endpoint("http://host/?x=1").has_value());
  auto err = parse_endpoint("ftp://host");
  EXPECT_EQ(err.error().kind, Error::Kind::kClient);
}

TEST(S3Url, BucketNamesForHostNames) {
  EXPECT_TRUE(valid_bucket_name("my-bucket.backups"));
  EXPECT_TRUE(valid_bucket_name("abc"));
  EXPECT_FALSE(valid_bucket_name("ab"));
  EXPECT_FALSE(valid_bucket_name("My-Bucket"));
  EXPECT_FALSE(valid_bucket_name("-bucket"));
  EXPECT_FALSE(valid_bucket_name("bucket_1"));
  EXPECT_FALSE(valid_bucket_name(std::string(64, 'a')));
}
