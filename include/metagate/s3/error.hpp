// s3::Error: what went wrong with one S3 call, classified so that callers (the background
// uploader) can decide between "retry later" and "give up and tell the operator" without
// parsing messages. Every public call of the s3 module returns Expected<T, Error>; nothing
// throws out of it.
#pragma once

#include <string>
#include <string_view>

#include "metagate/util/expected.hpp"

namespace metagate::s3 {

struct Error {
  enum class Kind {
    kNetwork,      // connection refused/reset, DNS, TLS, short read (curl_code says which)
    kTimeout,      // connect or request timeout, stalled transfer, S3 RequestTimeout
    kAuth,         // 401/403: bad key, bad signature, expired token, clock skew; no credentials
    kNotFound,     // 404: NoSuchKey, NoSuchUpload, NoSuchBucket
    kChecksum,     // the server's check of Content-MD5 / x-amz-content-sha256 failed (BadDigest)
    kThrottled,    // 429, 503 SlowDown and friends
    kServer,       // other 5xx
    kClient,       // other 4xx/3xx, and requests refused before sending (bad options, bad key)
    kBadResponse,  // a 2xx we cannot understand (not the XML we asked for)
    kLocal,        // failure on this machine: the output file cannot be written, out of memory
  };

  Kind kind = Kind::kClient;
  long http_status = 0;    // 0 when no HTTP answer was received
  std::string code;        // S3's <Code> ("NoSuchKey"); empty when there was none
  std::string message;     // S3's <Message>, or curl's / our own explanation
  std::string request;     // what was attempted, "PUT bucket/key" (context for logs)
  std::string request_id;  // x-amz-request-id, for support tickets
  int curl_code = 0;       // CURLcode for kNetwork/kTimeout, 0 otherwise

  // True when the same request may succeed if sent again later: network errors (except
  // TLS verification failures, which are configuration), timeouts, throttling, 5xx except
  // 501, and BadDigest (the body was damaged on the way; the next copy may not be).
  bool retryable() const;
  std::string to_string() const;

  static Error make(Kind kind, std::string message, std::string code = {}, long http_status = 0);
};

std::string_view kind_name(Error::Kind kind);

// Classifies a non-2xx HTTP answer from its status and S3 error code (the <Code> of the
// body, or empty for HEAD answers, which have no body).
Error::Kind classify_http(long http_status, std::string_view s3_code);

// Classifies a failed curl transfer (a CURLcode as int, so this header needs no curl.h).
Error::Kind classify_curl(int curl_code);

}  // namespace metagate::s3
