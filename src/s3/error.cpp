// Error classification: which HTTP answers and curl failures are worth a retry.
#include "metagate/s3/error.hpp"

#include <curl/curl.h>

#include <initializer_list>

namespace metagate::s3 {

namespace {

bool one_of(std::string_view code, std::initializer_list<std::string_view> codes) {
  for (auto c : codes) {
    if (code == c) return true;
  }
  return false;
}

// TLS failures that a retry cannot fix: the certificate or the CA bundle is wrong.
bool tls_configuration_error(int curl_code) {
  switch (static_cast<CURLcode>(curl_code)) {
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_CRL_BADFILE:
      return true;
    default:
      return false;
  }
}

}  // namespace

std::string_view kind_name(Error::Kind kind) {
  switch (kind) {
    case Error::Kind::kNetwork: return "network";
    case Error::Kind::kTimeout: return "timeout";
    case Error::Kind::kAuth: return "auth";
    case Error::Kind::kNotFound: return "not found";
    case Error::Kind::kChecksum: return "checksum";
    case Error::Kind::kThrottled: return "throttled";
    case Error::Kind::kServer: return "server";
    case Error::Kind::kClient: return "client";
    case Error::Kind::kBadResponse: return "bad response";
    case Error::Kind::kLocal: return "local";
  }
  return "unknown";
}

Error Error::make(Kind kind, std::string message, std::string code, long http_status) {
  Error e;
  e.kind = kind;
  e.message = std::move(message);
  e.code = std::move(code);
  e.http_status = http_status;
  return e;
}

bool Error::retryable() const {
  switch (kind) {
    case Kind::kNetwork: return !tls_configuration_error(curl_code);
    case Kind::kTimeout:
    case Kind::kThrottled: return true;
    case Kind::kServer: return http_status != 501;  // NotImplemented will not change
    case Kind::kChecksum: return code != "InvalidDigest";  // InvalidDigest: our header was malformed
    case Kind::kAuth:
    case Kind::kNotFound:
    case Kind::kClient:
    case Kind::kBadResponse:
    case Kind::kLocal: return false;
  }
  return false;
}

std::string Error::to_string() const {
  std::string s = "S3 ";
  s += kind_name(kind);
  s += " error";
  if (!request.empty()) s += " (" + request + ")";
  if (http_status != 0 || !code.empty()) {
    s += ": ";
    if (http_status != 0) s += "HTTP " + std::to_string(http_status);
    if (!code.empty()) s += (http_status != 0 ? " " : "") + code;
  }
  if (!message.empty()) s += ": " + message;
  if (!request_id.empty()) s += " [request id " + request_id + "]";
  if (retryable()) s += " (retryable)";
  return s;
}

Error::Kind classify_http(long status, std::string_view code) {
  using K = Error::Kind;
  // The code is more precise than the status where S3 documents it.
  if (one_of(code, {"SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded",
                    "TooManyRequestsException", "RequestThrottled", "BandwidthLimitExceeded"})) {
    return K::kThrottled;
  }
  if (one_of(code, {"BadDigest", "InvalidDigest", "XAmzContentSHA256Mismatch"})) return K::kChecksum;
  if (one_of(code, {"RequestTimeout", "RequestTimeoutException"})) return K::kTimeout;
  if (one_of(code, {"InternalError", "ServiceUnavailable"})) return K::kServer;
  if (one_of(code, {"AccessDenied", "SignatureDoesNotMatch", "InvalidAccessKeyId", "ExpiredToken",
                    "InvalidToken", "TokenRefreshRequired", "RequestTimeTooSkewed", "AuthorizationHeaderMalformed"})) {
    return K::kAuth;
  }
  if (one_of(code, {"NoSuchKey", "NoSuchUpload", "NoSuchBucket"})) return K::kNotFound;
  if (status == 429) return K::kThrottled;
  if (status == 401 || status == 403) return K::kAuth;
  if (status == 404) return K::kNotFound;
  if (status == 408) return K::kTimeout;
  if (status >= 500) return K::kServer;
  return K::kClient;
}

Error::Kind classify_curl(int curl_code) {
  switch (static_cast<CURLcode>(curl_code)) {
    case CURLE_OPERATION_TIMEDOUT: return Error::Kind::kTimeout;
    case CURLE_OUT_OF_MEMORY:
    case CURLE_WRITE_ERROR:  // our write callback refused: the output file failed
    case CURLE_READ_ERROR:
      return Error::Kind::kLocal;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_BAD_FUNCTION_ARGUMENT:
    case CURLE_NOT_BUILT_IN:
    case CURLE_UNKNOWN_OPTION:
    case CURLE_FAILED_INIT:
      return Error::Kind::kClient;
    default:
      return Error::Kind::kNetwork;
  }
}

}  // namespace metagate::s3
