// s3::Client: a small S3 client for shipping SQLite backups to any S3-compatible endpoint
// (AWS S3, MinIO, Ceph RGW). Blocking calls on libcurl, signed with AWS Signature V4 by
// libcurl itself (CURLOPT_AWS_SIGV4); no event loop. One Client is used by one thread at a
// time; creating Clients from several threads at once is safe (libcurl's global init runs
// once). Nothing throws out of it: every call returns Expected<T, Error>.
//
// libcurl 7.88.1's signer has three traps (docs/S3.md), handled here: every request carries
// x-amz-content-sha256 (the body's real SHA-256), no header is ever blanked with "Name:"
// (blanked headers are still listed as signed), and paths and query strings are written
// already canonical (url.hpp).
//
// Integrity: bodies go with Content-MD5, so S3 itself rejects a damaged upload (BadDigest,
// Kind::kChecksum), and with their SHA-256 in the signature.
//
// Each call makes one HTTP request (list_objects one per page), retried under
// Options::retry when the failure is retryable(). A retried request may have reached the
// server the first time: deletes and aborts are idempotent, and a CompleteMultipartUpload
// whose first answer was lost may then answer NoSuchUpload (check with head_object).
// ETags are returned as S3 sends them, double quotes included.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "metagate/s3/credentials.hpp"
#include "metagate/s3/error.hpp"
#include "metagate/s3/retry.hpp"
#include "metagate/s3/xml.hpp"

namespace metagate::s3 {

// One HTTP request as it went on the wire, for logs and for the signature tests
// (tests/integration/s3/verify_sigv4.py rebuilds the signature from these).
struct SentRequest {
  std::string method;
  std::string url;                        // the URL given to libcurl
  std::string request_line;               // "PUT /bucket/key?x=1 HTTP/1.1"
  std::vector<std::string> header_lines;  // "Name: value", in the order sent, Authorization included
  std::string payload_sha256;             // hex SHA-256 of the body sent
};

struct Options {
  std::string endpoint;  // "https://s3.eu-west-1.amazonaws.com" or "http://127.0.0.1:9000"
  std::string region = "us-east-1";
  std::string bucket;
  // Path style (scheme://host/bucket/key) for MinIO, Ceph, IP endpoints and bucket names
  // with dots over https; otherwise virtual-hosted style (scheme://bucket.host/key).
  bool path_style = false;
  Credentials credentials;  // complete ones; see resolve_credentials()
  long connect_timeout_ms = 10000;
  long request_timeout_ms = 300000;  // the whole request, body included
  // A transfer that moves less than 1 byte/s for this long is abandoned (kTimeout) before
  // the request timeout, so a dead connection is noticed early. 0: off.
  long stall_timeout_ms = 60000;
  uint64_t max_send_bytes_per_second = 0;  // 0 = unlimited (CURLOPT_MAX_SEND_SPEED_LARGE)
  RetryPolicy retry;                        // per HTTP request; max_attempts 1 = no retry
  RetryHooks retry_hooks;
  std::string ca_file;  // PEM bundle for https; empty: the system's
  std::function<void(const SentRequest&)> on_request;  // null: no capture (cheaper)
};

struct ListOptions {
  int max_keys_per_page = 0;  // 0: the server's default (1000 on S3)
};

class Client {
 public:
  // Invalid options (no bucket, an endpoint that is not http(s)://, incomplete credentials)
  // do not throw: every call then fails with Kind::kClient and the reason.
  explicit Client(Options options);
  ~Client();
  Client(Client&&) noexcept;
  Client& operator=(Client&&) noexcept;
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  const Options& options() const;

  // The ETag of the new object.
  Expected<std::string, Error> put_object(const std::string& key, std::span<const uint8_t> body);

  Expected<std::vector<uint8_t>, Error> get_object(const std::string& key);
  // Streams the object into `path`: written to "<path>.part" then renamed over `path`, so a
  // failed download never leaves a truncated file under the final name. Returns its size.
  Expected<uint64_t, Error> get_object_to_file(const std::string& key, const std::filesystem::path& path);

  // Size, ETag and Last-Modified; kNotFound when the object does not exist.
  Expected<ObjectInfo, Error> head_object(const std::string& key);

  // Every object whose key starts with `prefix` (all pages of ListObjectsV2), in key order.
  Expected<std::vector<ObjectInfo>, Error> list_objects(const std::string& prefix, ListOptions opts = {});

  // Deleting a key that does not exist succeeds (S3 itself answers 204 for it; the 404
  // NoSuchKey some servers send is taken the same way): the caller wants it gone, and a
  // retried delete must not fail because the first attempt worked. NoSuchBucket is kNotFound.
  Expected<Ok, Error> delete_object(const std::string& key);

  // Multipart uploads: parts 1..10000, each at least 5 MiB except the last.
  Expected<std::string, Error> create_multipart_upload(const std::string& key);  // upload id
  Expected<std::string, Error> upload_part(const std::string& key, const std::string& upload_id, int part_number,
                                           std::span<const uint8_t> body);  // part ETag
  // `parts` in any order (sent sorted); duplicates are refused. Returns the object's ETag.
  Expected<std::string, Error> complete_multipart_upload(const std::string& key, const std::string& upload_id,
                                                         std::vector<CompletedPart> parts);
  // kNotFound (NoSuchUpload) when the upload is already gone.
  Expected<Ok, Error> abort_multipart_upload(const std::string& key, const std::string& upload_id);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace metagate::s3
