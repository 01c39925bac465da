// URL and query building for S3 requests (see url.hpp for why they are canonical as written).
#include "metagate/s3/url.hpp"

#include <algorithm>

namespace metagate::s3 {

namespace {

bool unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
         c == '.' || c == '~';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string uri_encode(std::string_view s, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3);
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (unreserved(c) || (keep_slash && c == '/')) {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
  }
  return out;
}

std::string uri_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%' && i + 2 < s.size()) {
      int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += (plus_is_space && c == '+') ? ' ' : c;
  }
  return out;
}

std::string canonical_query(QueryParams params) {
  for (auto& [name, value] : params) {
    name = uri_encode(name, false);
    value = uri_encode(value, false);
  }
  // SigV4 orders by the encoded bytes (name, then value for repeated names).
  std::sort(params.begin(), params.end());
  std::string out;
  for (const auto& [name, value] : params) {
    if (!out.empty()) out += '&';
    out += name;
    out += '=';
    out += value;
  }
  return out;
}

Expected<Endpoint, Error> parse_endpoint(std::string_view endpoint) {
  auto bad = [&](std::string why) {
    return unexpected(Error::make(Error::Kind::kClient, "invalid endpoint \"" + std::string(endpoint) + "\": " + why));
  };
  Endpoint ep;
  auto sep = endpoint.find("://");
  if (sep == std::string_view::npos) return bad("expected http://host[:port] or https://host[:port]");
  ep.scheme = std::string(endpoint.substr(0, sep));
  std::transform(ep.scheme.begin(), ep.scheme.end(), ep.scheme.begin(),
                 [](unsigned char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c); });
  if (ep.scheme != "http" && ep.scheme != "https") return bad("the scheme must be http or https");
  auto rest = endpoint.substr(sep + 3);
  auto slash = rest.find('/');
  ep.authority = std::string(rest.substr(0, slash));
  if (ep.authority.empty()) return bad("no host");
  if (ep.authority.find_first_of("@?#") != std::string::npos) return bad("no user, query or fragment allowed");
  if (slash != std::string_view::npos) {
    auto path = rest.substr(slash);
    if (path.find_first_of("?#") != std::string_view::npos) return bad("no query or fragment allowed");
    while (!path.empty() && path.back() == '/') path.remove_suffix(1);
    ep.base_path = std::string(path);
  }
  return ep;
}

std::string object_url(const Endpoint& ep, std::string_view bucket, bool path_style, std::string_view key,
                       std::string_view query) {
  std::string url = ep.scheme + "://";
  if (path_style) {
    url += ep.authority;
    url += ep.base_path;
    url += '/';
    url += uri_encode(bucket, false);
    // A bucket-level request (listing) is "/bucket"; an object is "/bucket/key".
    if (!key.empty()) {
      url += '/';
      url += uri_encode(key, true);
    }
  } else {
    url += bucket;
    url += '.';
    url += ep.authority;
    url += ep.base_path;
    url += '/';
    url += uri_encode(key, true);
  }
  if (!query.empty()) {
    url += '?';
    url += query;
  }
  return url;
}

bool valid_bucket_name(std::string_view b) {
  if (b.size() < 3 || b.size() > 63) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(b.front()) || !alnum(b.back())) return false;
  return std::all_of(b.begin(), b.end(), [&](char c) { return alnum(c) || c == '.' || c == '-'; });
}

}  // namespace metagate::s3
