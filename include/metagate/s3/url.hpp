// Request URLs for S3, written so that libcurl's SigV4 signer (which signs the path and
// query exactly as written, without canonicalising them) signs what S3 will recompute:
//   - the path is percent-encoded as S3's canonical URI (RFC 3986 unreserved characters
//     and '/' kept, everything else %XX with upper-case hex), so the server's decode and
//     re-encode gives the same bytes back;
//   - the query is already canonical: sorted by encoded name then value, every name and
//     value RFC 3986-encoded ('/' too), and "name=" for empty values ("?uploads=").
// Pure functions, no I/O.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "metagate/s3/error.hpp"

namespace metagate::s3 {

// RFC 3986 percent-encoding: A-Z a-z 0-9 - _ . ~ are kept, every other byte is %XX.
// keep_slash keeps '/' (object keys in paths); query names and values encode it.
std::string uri_encode(std::string_view s, bool keep_slash);

// Decodes %XX (and '+' as a space when plus_is_space, as S3's encoding-type=url listings
// encode spaces). Malformed escapes are kept as they are.
std::string uri_decode(std::string_view s, bool plus_is_space);

using QueryParams = std::vector<std::pair<std::string, std::string>>;

// "a=1&b=" from raw (unencoded) names and values, in SigV4 canonical order. Empty input: "".
std::string canonical_query(QueryParams params);

// An endpoint split into its parts: "https://s3.eu-west-1.amazonaws.com" or
// "http://127.0.0.1:9000" (an optional path prefix is kept: "http://gw:8080/s3").
struct Endpoint {
  std::string scheme;     // "http" or "https"
  std::string authority;  // host[:port], as written
  std::string base_path;  // "" or "/prefix" (no trailing '/')
};
Expected<Endpoint, Error> parse_endpoint(std::string_view endpoint);

// Virtual-hosted style: scheme://bucket.host/key. Path style: scheme://host/bucket/key.
// `key` is the raw object key (empty for bucket-level requests such as listings); `query`
// comes from canonical_query (without '?', may be empty).
std::string object_url(const Endpoint& ep, std::string_view bucket, bool path_style, std::string_view key,
                       std::string_view query = {});

// S3 bucket names usable in a host name (virtual-hosted style): 3-63 characters of
// a-z 0-9 . -, starting and ending with a letter or digit.
bool valid_bucket_name(std::string_view bucket);

}  // namespace metagate::s3
