// Reading S3's XML answers with pugixml, and writing the CompleteMultipartUpload body.
#include "metagate/s3/xml.hpp"

#include <pugixml.hpp>

#include <charconv>
#include <sstream>

#include "metagate/s3/url.hpp"

namespace metagate::s3 {

namespace {

Unexpected<Error> bad_response(std::string what) {
  return unexpected(Error::make(Error::Kind::kBadResponse, std::move(what)));
}

// Parses into `doc`; false when the text is not well-formed XML.
bool load(pugi::xml_document& doc, std::string_view xml) {
  // S3 keeps a slow CompleteMultipartUpload alive by sending spaces before the document.
  while (!xml.empty() && (xml.front() == ' ' || xml.front() == '\n' || xml.front() == '\r' || xml.front() == '\t')) {
    xml.remove_prefix(1);
  }
  auto result = doc.load_buffer(xml.data(), xml.size(), pugi::parse_default, pugi::encoding_utf8);
  return static_cast<bool>(result);
}

std::string text_of(const pugi::xml_node& parent, const char* name) {
  return parent.child(name).text().as_string();
}

std::string snippet(std::string_view xml) {
  constexpr size_t kMax = 200;
  std::string s(xml.substr(0, kMax));
  if (xml.size() > kMax) s += "...";
  return s;
}

template <class T>
bool parse_int(std::string_view s, T& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

std::optional<std::chrono::sys_seconds> make_time(int y, unsigned mo, unsigned d, int h, int mi, int sec) {
  using namespace std::chrono;
  year_month_day ymd{year{y}, month{mo}, day{d}};
  if (!ymd.ok() || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 60) return std::nullopt;
  return sys_days{ymd} + hours{h} + minutes{mi} + seconds{sec};
}

}  // namespace

std::optional<ErrorBody> parse_error_xml(std::string_view xml) {
  pugi::xml_document doc;
  if (!load(doc, xml)) return std::nullopt;
  auto root = doc.child("Error");
  if (!root) return std::nullopt;
  return ErrorBody{text_of(root, "Code"), text_of(root, "Message"), text_of(root, "RequestId")};
}

Expected<ListPage, Error> parse_list_objects_v2(std::string_view xml) {
  pugi::xml_document doc;
  if (!load(doc, xml)) return bad_response("ListObjectsV2: not XML: " + snippet(xml));
  auto root = doc.child("ListBucketResult");
  if (!root) return bad_response("ListObjectsV2: no <ListBucketResult>: " + snippet(xml));
  const bool url_encoded = std::string_view(root.child("EncodingType").text().as_string()) == "url";
  ListPage page;
  page.truncated = std::string_view(root.child("IsTruncated").text().as_string()) == "true";
  page.next_continuation_token = text_of(root, "NextContinuationToken");
  for (auto c : root.children("Contents")) {
    ObjectInfo info;
    info.key = text_of(c, "Key");
    if (url_encoded) info.key = uri_decode(info.key, true);
    std::string size = text_of(c, "Size");
    if (info.key.empty() || !parse_int(size, info.size)) {
      return bad_response("ListObjectsV2: <Contents> without a key or size: " + snippet(xml));
    }
    info.etag = text_of(c, "ETag");
    if (auto t = parse_iso8601(text_of(c, "LastModified"))) info.last_modified = *t;
    page.objects.push_back(std::move(info));
  }
  if (page.truncated && page.next_continuation_token.empty()) {
    return bad_response("ListObjectsV2: truncated listing without NextContinuationToken");
  }
  return page;
}

Expected<std::string, Error> parse_initiate_multipart(std::string_view xml) {
  pugi::xml_document doc;
  if (!load(doc, xml)) return bad_response("CreateMultipartUpload: not XML: " + snippet(xml));
  auto root = doc.child("InitiateMultipartUploadResult");
  std::string id = root ? text_of(root, "UploadId") : std::string();
  if (id.empty()) return bad_response("CreateMultipartUpload: no UploadId: " + snippet(xml));
  return id;
}

Expected<std::string, Error> parse_complete_multipart(std::string_view xml) {
  if (auto err = parse_error_xml(xml)) {
    Error e = Error::make(classify_http(200, err->code), err->message, err->code, 200);
    e.request_id = err->request_id;
    if (e.kind == Error::Kind::kClient && err->code.empty()) e.kind = Error::Kind::kBadResponse;
    return unexpected(std::move(e));
  }
  pugi::xml_document doc;
  if (!load(doc, xml)) return bad_response("CompleteMultipartUpload: not XML: " + snippet(xml));
  auto root = doc.child("CompleteMultipartUploadResult");
  if (!root) return bad_response("CompleteMultipartUpload: no <CompleteMultipartUploadResult>: " + snippet(xml));
  return text_of(root, "ETag");
}

std::string complete_multipart_xml(const std::vector<CompletedPart>& parts) {
  pugi::xml_document doc;
  auto decl = doc.append_child(pugi::node_declaration);
  decl.append_attribute("version") = "1.0";
  decl.append_attribute("encoding") = "UTF-8";
  auto root = doc.append_child("CompleteMultipartUpload");
  root.append_attribute("xmlns") = "http://s3.amazonaws.com/doc/2006-03-01/";
  for (const auto& p : parts) {
    auto part = root.append_child("Part");
    part.append_child("PartNumber").text().set(p.part_number);
    part.append_child("ETag").text().set(p.etag.c_str());
  }
  std::ostringstream out;
  doc.save(out, "", pugi::format_raw);
  return out.str();
}

std::optional<std::chrono::sys_seconds> parse_iso8601(std::string_view s) {
  // YYYY-MM-DDTHH:MM:SS[.fraction]Z
  if (s.size() < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':') {
    return std::nullopt;
  }
  int y = 0, h = 0, mi = 0, sec = 0;
  unsigned mo = 0, d = 0;
  if (!parse_int(s.substr(0, 4), y) || !parse_int(s.substr(5, 2), mo) || !parse_int(s.substr(8, 2), d) ||
      !parse_int(s.substr(11, 2), h) || !parse_int(s.substr(14, 2), mi) || !parse_int(s.substr(17, 2), sec)) {
    return std::nullopt;
  }
  auto tail = s.substr(19);
  if (!tail.empty() && tail.front() == '.') {
    size_t i = 1;
    while (i < tail.size() && tail[i] >= '0' && tail[i] <= '9') ++i;
    if (i == 1) return std::nullopt;
    tail.remove_prefix(i);
  }
  if (tail != "Z") return std::nullopt;
  return make_time(y, mo, d, h, mi, sec);
}

std::optional<std::chrono::sys_seconds> parse_http_date(std::string_view s) {
  // "Sun, 06 Nov 1994 08:49:37 GMT"
  static constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  if (s.size() != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' ||
      s[19] != ':' || s[22] != ':' || s.substr(25) != " GMT") {
    return std::nullopt;
  }
  unsigned d = 0, mo = 0;
  int y = 0, h = 0, mi = 0, sec = 0;
  for (unsigned i = 0; i < 12; ++i) {
    if (s.substr(8, 3) == kMonths[i]) mo = i + 1;
  }
  if (mo == 0 || !parse_int(s.substr(5, 2), d) || !parse_int(s.substr(12, 4), y) || !parse_int(s.substr(17, 2), h) ||
      !parse_int(s.substr(20, 2), mi) || !parse_int(s.substr(23, 2), sec)) {
    return std::nullopt;
  }
  return make_time(y, mo, d, h, mi, sec);
}

}  // namespace metagate::s3
