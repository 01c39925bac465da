// Error classification (which failures are retried) and the client's refusals before sending.
#include <gtest/gtest.h>

#include <curl/curl.h>

#include "metagate/s3/client.hpp"

using namespace metagate::s3;
using K = Error::Kind;

TEST(S3Error, ClassifiesHttpAnswers) {
  EXPECT_EQ(classify_http(404, "NoSuchKey"), K::kNotFound);
  EXPECT_EQ(classify_http(404, "NoSuchUpload"), K::kNotFound);
  EXPECT_EQ(classify_http(404, ""), K::kNotFound);  // HEAD: no body
  EXPECT_EQ(classify_http(403, "SignatureDoesNotMatch"), K::kAuth);
  EXPECT_EQ(classify_http(403, "InvalidAccessKeyId"), K::kAuth);
  EXPECT_EQ(classify_http(400, "ExpiredToken"), K::kAuth);
  EXPECT_EQ(classify_http(403, "RequestTimeTooSkewed"), K::kAuth);
  EXPECT_EQ(classify_http(401, ""), K::kAuth);
  EXPECT_EQ(classify_http(400, "BadDigest"), K::kChecksum);
  EXPECT_EQ(classify_http(400, "XAmzContentSHA256Mismatch"), K::kChecksum);
  EXPECT_EQ(classify_http(503, "SlowDown"), K::kThrottled);
  EXPECT_EQ(classify_http(429, ""), K::kThrottled);
  EXPECT_EQ(classify_http(400, "RequestTimeout"), K::kTimeout);
  EXPECT_EQ(classify_http(500, "InternalError"), K::kServer);
  EXPECT_EQ(classify_http(502, ""), K::kServer);
  EXPECT_EQ(classify_http(400, "InvalidPart"), K::kClient);
  EXPECT_EQ(classify_http(301, "PermanentRedirect"), K::kClient);
  EXPECT_EQ(classify_http(405, "MethodNotAllowed"), K::kClient);
}

TEST(S3Error, Retryable) {
  auto http = [](long status, const char* code) {
    return Error::make(classify_http(status, code), "m", code, status);
  };
  EXPECT_TRUE(http(500, "InternalError").retryable());
  EXPECT_TRUE(http(503, "SlowDown").retryable());
  EXPECT_TRUE(http(429, "").retryable());
  EXPECT_TRUE(http(400, "RequestTimeout").retryable());
  EXPECT_TRUE(http(400, "BadDigest").retryable());
  EXPECT_FALSE(http(400, "InvalidDigest").retryable());
  EXPECT_FALSE(http(501, "NotImplemented").retryable());
  EXPECT_FALSE(http(404, "NoSuchKey").retryable());
  EXPECT_FALSE(http(403, "AccessDenied").retryable());
  EXPECT_FALSE(http(400, "InvalidArgument").retryable());

  auto curl = [](CURLcode rc) {
    Error e = Error::make(classify_curl(rc), curl_easy_strerror(rc));
    e.curl_code = rc;
    return e;
  };
  EXPECT_EQ(curl(CURLE_COULDNT_CONNECT).kind, K::kNetwork);
  EXPECT_TRUE(curl(CURLE_COULDNT_CONNECT).retryable());
  EXPECT_TRUE(curl(CURLE_RECV_ERROR).retryable());
  EXPECT_TRUE(curl(CURLE_COULDNT_RESOLVE_HOST).retryable());
  EXPECT_TRUE(curl(CURLE_PARTIAL_FILE).retryable());
  EXPECT_EQ(curl(CURLE_OPERATION_TIMEDOUT).kind, K::kTimeout);
  EXPECT_TRUE(curl(CURLE_OPERATION_TIMEDOUT).retryable());
  EXPECT_EQ(curl(CURLE_PEER_FAILED_VERIFICATION).kind, K::kNetwork);
  EXPECT_FALSE(curl(CURLE_PEER_FAILED_VERIFICATION).retryable());  // a bad certificate stays bad
  EXPECT_EQ(curl(CURLE_URL_MALFORMAT).kind, K::kClient);
  EXPECT_EQ(curl(CURLE_WRITE_ERROR).kind, K::kLocal);
  EXPECT_FALSE(curl(CURLE_WRITE_ERROR).retryable());
}

TEST(S3Error, ToStringSaysEverythingUseful) {
  Error e = Error::make(K::kNotFound, "The specified key does not exist.", "NoSuchKey", 404);
  e.request = "GET bucket/a.db";
  e.request_id = "REQ1";
  EXPECT_EQ(e.to_string(),
            "S3 not found error (GET bucket/a.db): HTTP 404 NoSuchKey: The specified key does not exist. "
            "[request id REQ1]");
  Error t = Error::make(K::kTimeout, "Operation timed out after 300000 milliseconds");
  EXPECT_EQ(t.to_string(), "S3 timeout error: Operation timed out after 300000 milliseconds (retryable)");
}

TEST(S3Client, InvalidOptionsFailEveryCallWithoutSending) {
  Options o;
  o.endpoint = "s3.amazonaws.com";  // no scheme
  o.bucket = "b";
  o.credentials = {"K", "S", ""};
  Client bad_endpoint(o);
  auto r = bad_endpoint.put_object("k", {});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().kind, K::kClient);
  EXPECT_NE(r.error().message.find("endpoint"), std::string::npos);

  o.endpoint = "https://s3.amazonaws.com";
  o.bucket = "Bad_Bucket";  // cannot be a host name
  EXPECT_EQ(Client(o).head_object("k").error().kind, K::kClient);

  o.bucket = "good-bucket";
  o.credentials = {};
  auto no_creds = Client(o).list_objects("p");
  ASSERT_FALSE(no_creds.has_value());
  EXPECT_EQ(no_creds.error().kind, K::kAuth);

  o.credentials = {"K", "S", "token\r\nX-Injected: 1"};  // would split a header line
  EXPECT_EQ(Client(o).get_object("k").error().kind, K::kAuth);

  o.credentials = {"K", "S", ""};
  Client c(o);
  EXPECT_EQ(c.get_object("").error().kind, K::kClient);                  // empty key
  EXPECT_EQ(c.get_object(std::string(1025, 'k')).error().kind, K::kClient);  // too long
  EXPECT_EQ(c.upload_part("k", "id", 0, {}).error().kind, K::kClient);
  EXPECT_EQ(c.upload_part("k", "", 1, {}).error().kind, K::kClient);
  EXPECT_EQ(c.complete_multipart_upload("k", "id", {}).error().kind, K::kClient);
  auto dup = c.complete_multipart_upload("k", "id", {{1, "\"a\""}, {1, "\"b\""}});
  ASSERT_FALSE(dup.has_value());
  EXPECT_NE(dup.error().message.find("twice"), std::string::npos);
  EXPECT_EQ(c.abort_multipart_upload("k", "").error().kind, K::kClient);

  Client moved(std::move(c));
  EXPECT_EQ(c.get_object("k").error().kind, K::kClient);  // NOLINT(bugprone-use-after-move): tested on purpose
}
