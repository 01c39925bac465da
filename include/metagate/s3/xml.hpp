// S3's XML answers, read with pugixml (never with pattern matching: entities, CDATA and
// attribute order are the parser's business). Element names are matched without namespace,
// since AWS, MinIO and Ceph all use the default namespace. Exposed for tests.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "metagate/s3/error.hpp"

namespace metagate::s3 {

struct ObjectInfo {
  std::string key;
  uint64_t size = 0;
  std::string etag;  // as S3 sends it, with its double quotes: "\"9b2cf535f27731c974343645a3985328\""
  std::chrono::sys_seconds last_modified{};  // 0 (epoch) when the server gave none we could read
};

struct ErrorBody {
  std::string code;
  std::string message;
  std::string request_id;
};
// The <Error> document of a failed request (or of a 200 CompleteMultipartUpload that failed).
// nullopt when the text is not such a document.
std::optional<ErrorBody> parse_error_xml(std::string_view xml);

struct ListPage {
  std::vector<ObjectInfo> objects;
  bool truncated = false;
  std::string next_continuation_token;
};
// ListObjectsV2's <ListBucketResult>. Keys are URL-decoded when the answer says
// <EncodingType>url</EncodingType> (the client asks for it: keys may hold characters XML 1.0
// cannot carry). kBadResponse when the document is something else.
Expected<ListPage, Error> parse_list_objects_v2(std::string_view xml);

// <InitiateMultipartUploadResult>'s UploadId.
Expected<std::string, Error> parse_initiate_multipart(std::string_view xml);

// <CompleteMultipartUploadResult>'s ETag. S3 may answer 200 and then an <Error> document
// (the failure happened after the headers went out): that is returned as the error it says.
Expected<std::string, Error> parse_complete_multipart(std::string_view xml);

struct CompletedPart {
  int part_number = 0;
  std::string etag;  // as returned by upload_part (quotes included)
};
// <CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"…"</ETag></Part>…
std::string complete_multipart_xml(const std::vector<CompletedPart>& parts);

// "2009-10-12T17:50:30.000Z" (listings); nullopt if malformed.
std::optional<std::chrono::sys_seconds> parse_iso8601(std::string_view s);
// "Mon, 12 Oct 2009 17:50:30 GMT" (Last-Modified header, IMF-fixdate); nullopt if malformed.
std::optional<std::chrono::sys_seconds> parse_http_date(std::string_view s);

}  // namespace metagate::s3
