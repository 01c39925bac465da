// The S3 client on libcurl's easy interface (client.hpp). One easy handle per Client, reset
// between requests: curl_easy_reset keeps the handle's live connections, so consecutive
// requests to the same endpoint reuse one TCP/TLS connection.
#include "metagate/s3/client.hpp"

#include <curl/curl.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <initializer_list>
#include <mutex>
#include <optional>
#include <set>

#include "hash.hpp"
#include "metagate/s3/url.hpp"

namespace metagate::s3 {

namespace {

constexpr size_t kMaxErrorBody = 1 << 20;  // error documents are small; anything bigger is cut

// curl_global_init is not thread-safe in libcurl 7.88 and must run once per process.
CURLcode global_init() {
  static std::once_flag once;
  static CURLcode result = CURLE_OK;
  std::call_once(once, [] { result = curl_global_init(CURL_GLOBAL_DEFAULT); });
  return result;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  }
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

Unexpected<Error> client_error(std::string message, std::string request = {}) {
  Error e = Error::make(Error::Kind::kClient, std::move(message));
  e.request = std::move(request);
  return unexpected(std::move(e));
}

// What one request needs; the body stays owned by the caller for the whole call.
struct Request {
  const char* method = "GET";
  std::string key;    // raw object key; empty for bucket-level requests
  std::string query;  // canonical_query() output, without '?'
  bool has_body = false;
  std::span<const uint8_t> body;
  std::string content_type;  // only with a body
  int out_fd = -1;           // stream a 2xx body into this file instead of memory
  std::string out_path;      // for error messages
  std::string payload_sha256;
  std::string content_md5;
};

struct Response {
  long status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  uint64_t body_bytes = 0;

  std::string header(std::string_view name) const {
    for (const auto& [n, v] : headers) {
      if (n == name) return v;
    }
    return {};
  }
};

// State the libcurl callbacks share during one transfer.
struct Transfer {
  CURL* curl = nullptr;
  std::span<const uint8_t> body;
  size_t offset = 0;
  Response* response = nullptr;
  int out_fd = -1;
  int write_errno = 0;
  bool capture = false;
  std::string header_out;                  // raw request header bytes as sent
  std::vector<std::string> header_blocks;  // one per request sent
};

size_t on_read(char* buffer, size_t size, size_t nitems, void* userdata) {
  auto* t = static_cast<Transfer*>(userdata);
  size_t n = std::min(size * nitems, t->body.size() - t->offset);
  if (n > 0) std::memcpy(buffer, t->body.data() + t->offset, n);
  t->offset += n;
  return n;
}

// libcurl rewinds the body when it must send it again on the same transfer (a 100-continue
// refused, a reset connection on reuse).
int on_seek(void* userdata, curl_off_t offset, int origin) {
  auto* t = static_cast<Transfer*>(userdata);
  if (origin != SEEK_SET || offset < 0 || static_cast<uint64_t>(offset) > t->body.size()) {
    return CURL_SEEKFUNC_CANTSEEK;
  }
  t->offset = static_cast<size_t>(offset);
  return CURL_SEEKFUNC_OK;
}

size_t on_write(char* data, size_t size, size_t nmemb, void* userdata) {
  auto* t = static_cast<Transfer*>(userdata);
  const size_t n = size * nmemb;
  long status = 0;
  curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
  t->response->body_bytes += n;
  if (t->out_fd >= 0 && status >= 200 && status < 300) {
    size_t done = 0;
    while (done < n) {
      ssize_t w = ::write(t->out_fd, data + done, n - done);
      if (w < 0) {
        if (errno == EINTR) continue;
        t->write_errno = errno;
        return 0;  // aborts the transfer with CURLE_WRITE_ERROR
      }
      done += static_cast<size_t>(w);
    }
    return n;
  }
  const bool success = status >= 200 && status < 300;
  if (success || t->response->body.size() < kMaxErrorBody) {
    try {
      t->response->body.append(data, success ? n : std::min(n, kMaxErrorBody - t->response->body.size()));
    } catch (const std::bad_alloc&) {
      t->write_errno = ENOMEM;
      return 0;
    }
  }
  return n;
}

size_t on_header(char* data, size_t size, size_t nitems, void* userdata) {
  auto* t = static_cast<Transfer*>(userdata);
  const size_t n = size * nitems;
  std::string_view line(data, n);
  try {
    if (line.starts_with("HTTP/")) {
      t->response->headers.clear();  // a new answer (after "100 Continue")
    } else if (auto colon = line.find(':'); colon != std::string_view::npos) {
      t->response->headers.emplace_back(lower(trim(line.substr(0, colon))), std::string(trim(line.substr(colon + 1))));
    }
  } catch (const std::bad_alloc&) {
    return 0;
  }
  return n;
}

int on_debug(CURL*, curl_infotype type, char* data, size_t size, void* userdata) {
  auto* t = static_cast<Transfer*>(userdata);
  if (type != CURLINFO_HEADER_OUT) return 0;
  try {
    t->header_out.append(data, size);
    // One callback usually carries a whole header block; split defensively anyway.
    for (auto end = t->header_out.find("\r\n\r\n"); end != std::string::npos; end = t->header_out.find("\r\n\r\n")) {
      t->header_blocks.push_back(t->header_out.substr(0, end));
      t->header_out.erase(0, end + 4);
    }
  } catch (const std::bad_alloc&) {
  }
  return 0;
}

SentRequest sent_request(const std::string& block, const std::string& url, const std::string& payload_sha256) {
  SentRequest r;
  r.url = url;
  r.payload_sha256 = payload_sha256;
  std::string_view rest(block);
  bool first = true;
  while (!rest.empty()) {
    auto eol = rest.find("\r\n");
    auto line = rest.substr(0, eol);
    rest = eol == std::string_view::npos ? std::string_view() : rest.substr(eol + 2);
    if (first) {
      r.request_line = std::string(line);
      r.method = std::string(line.substr(0, line.find(' ')));
      first = false;
    } else if (!line.empty()) {
      r.header_lines.emplace_back(line);
    }
  }
  return r;
}

// curl_slist owner.
struct HeaderList {
  curl_slist* list = nullptr;
  HeaderList() = default;
  HeaderList(const HeaderList&) = delete;
  HeaderList& operator=(const HeaderList&) = delete;
  ~HeaderList() { curl_slist_free_all(list); }
  bool add(const std::string& line) {
    auto* next = curl_slist_append(list, line.c_str());
    if (next == nullptr) return false;
    list = next;
    return true;
  }
};

// An owned file descriptor.
struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  int release() {
    int f = fd;
    fd = -1;
    return f;
  }
};

// Every public call runs inside this: an exception (only std::bad_alloc or an OpenSSL
// allocation failure in practice) becomes an error value instead of leaving the module.
template <class F>
auto guarded(const char* what, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const std::exception& e) {
    return unexpected(Error::make(Error::Kind::kLocal, std::string(what) + ": " + e.what()));
  }
}

std::optional<Error> moved_from() { return Error::make(Error::Kind::kClient, "use of a moved-from s3::Client"); }

bool valid_etag_list(const std::vector<CompletedPart>& parts, std::string& why) {
  if (parts.empty()) {
    why = "no parts";
    return false;
  }
  for (size_t i = 0; i < parts.size(); ++i) {
    if (parts[i].part_number < 1 || parts[i].part_number > 10000) {
      why = "part number " + std::to_string(parts[i].part_number) + " is outside 1..10000";
      return false;
    }
    if (parts[i].etag.empty()) {
      why = "part " + std::to_string(parts[i].part_number) + " has no ETag";
      return false;
    }
    if (i > 0 && parts[i].part_number == parts[i - 1].part_number) {
      why = "part " + std::to_string(parts[i].part_number) + " is listed twice";
      return false;
    }
  }
  return true;
}

}  // namespace

struct Client::Impl {
  Options opt;
  Endpoint endpoint;
  std::optional<Error> config_error;
  CURL* curl = nullptr;
  std::string sigv4;  // "aws:amz:<region>:s3"

  explicit Impl(Options o) : opt(std::move(o)) {
    config_error = validate();
    if (config_error) return;
    sigv4 = "aws:amz:" + opt.region + ":s3";
    curl = curl_easy_init();
    if (curl == nullptr) config_error = Error::make(Error::Kind::kLocal, "curl_easy_init failed");
  }

  // Why these options cannot work, or nullopt. Also parses the endpoint.
  std::optional<Error> validate() {
    auto invalid = [](Error::Kind kind, const std::string& why) {
      return Error::make(kind, "invalid S3 client options: " + why);
    };
    if (auto rc = global_init(); rc != CURLE_OK) {
      return Error::make(Error::Kind::kLocal, std::string("curl_global_init: ") + curl_easy_strerror(rc));
    }
    auto ep = parse_endpoint(opt.endpoint);
    if (!ep) return ep.error();
    endpoint = std::move(ep).value();
    if (opt.bucket.empty() || opt.bucket.find('/') != std::string::npos) {
      return invalid(Error::Kind::kClient, "bucket \"" + opt.bucket + "\" is empty or has a '/'");
    }
    if (!opt.path_style && !valid_bucket_name(opt.bucket)) {
      return invalid(Error::Kind::kClient, "bucket \"" + opt.bucket + "\" cannot be a host name: use path_style");
    }
    if (opt.region.empty() || opt.region.find(':') != std::string::npos) {
      return invalid(Error::Kind::kClient, "region \"" + opt.region + "\" is empty or has a ':'");
    }
    if (!opt.credentials.complete()) {
      return invalid(Error::Kind::kAuth, "no access key id or secret access key (see resolve_credentials)");
    }
    // The key id and the token end up in header lines: a line break would split them.
    const auto& c = opt.credentials;
    for (const std::string* v : {&c.access_key_id, &c.secret_access_key, &c.session_token}) {
      if (v->find_first_of("\r\n") != std::string::npos) {
        return invalid(Error::Kind::kAuth, "a credential has a line break (a copy-paste accident?)");
      }
    }
    return std::nullopt;
  }

  ~Impl() {
    if (curl != nullptr) curl_easy_cleanup(curl);
  }

  std::string describe(const Request& r) const {
    std::string s = std::string(r.method) + " " + opt.bucket;
    if (!r.key.empty()) s += "/" + r.key;
    if (!r.query.empty()) s += "?" + r.query;
    return s;
  }

  Expected<Response, Error> perform_with_retries(Request& req) {
    if (config_error) {
      Error e = *config_error;
      e.request = describe(req);
      return unexpected(std::move(e));
    }
    if (req.payload_sha256.empty()) req.payload_sha256 = detail::sha256_hex(req.body);
    if (req.has_body && !req.body.empty() && req.content_md5.empty()) req.content_md5 = detail::md5_base64(req.body);
    return with_retries(opt.retry, [&] { return perform_once(req); }, opt.retry_hooks);
  }

  Expected<Response, Error> perform_once(const Request& req) {
    const std::string url = object_url(endpoint, opt.bucket, opt.path_style, req.key, req.query);
    Response resp;
    Transfer t;
    t.curl = curl;
    t.body = req.body;
    t.response = &resp;
    t.out_fd = req.out_fd;
    t.capture = static_cast<bool>(opt.on_request);
    auto fail = [&](Error::Kind kind, std::string message) {
      Error e = Error::make(kind, std::move(message));
      e.request = describe(req);
      return unexpected(std::move(e));
    };

    if (req.out_fd >= 0) {  // a retry starts the file over
      if (::ftruncate(req.out_fd, 0) != 0 || ::lseek(req.out_fd, 0, SEEK_SET) != 0) {
        return fail(Error::Kind::kLocal, "truncating " + req.out_path + ": " + std::strerror(errno));
      }
    }

    // Trap 1: libcurl does not add x-amz-content-sha256; S3 requires it and libcurl signs it
    // (and uses its value as the payload hash) when it is there. Trap 2: no header is
    // blanked with "Name:", since libcurl would still sign it; every header has a value.
    HeaderList headers;
    bool ok = headers.add("x-amz-content-sha256: " + req.payload_sha256);
    if (req.has_body) {
      ok = ok && headers.add("Content-Type: " + req.content_type);
      if (!req.content_md5.empty()) ok = ok && headers.add("Content-MD5: " + req.content_md5);
    }
    if (!opt.credentials.session_token.empty()) {
      ok = ok && headers.add("x-amz-security-token: " + opt.credentials.session_token);
    }
    if (!ok) return fail(Error::Kind::kLocal, "out of memory building headers");

    char errbuf[CURL_ERROR_SIZE] = {0};
    CURL* h = curl;
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);  // no SIGALRM for timeouts: we run on any thread
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);  // a redirect would need a new signature
    curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);      // keys like "a/../b" are keys, not paths to tidy
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
    curl_easy_setopt(h, CURLOPT_USERAGENT, "metagate-s3/1");
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, opt.connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, opt.request_timeout_ms);
    if (opt.stall_timeout_ms > 0) {
      curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
      curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, std::max(1L, (opt.stall_timeout_ms + 999) / 1000));
    }
    if (opt.max_send_bytes_per_second > 0) {
      curl_easy_setopt(h, CURLOPT_MAX_SEND_SPEED_LARGE, static_cast<curl_off_t>(opt.max_send_bytes_per_second));
    }
    if (!opt.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, opt.ca_file.c_str());
    curl_easy_setopt(h, CURLOPT_AWS_SIGV4, sigv4.c_str());
    curl_easy_setopt(h, CURLOPT_USERNAME, opt.credentials.access_key_id.c_str());
    curl_easy_setopt(h, CURLOPT_PASSWORD, opt.credentials.secret_access_key.c_str());
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.list);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
    if (t.capture) {
      curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, on_debug);
      curl_easy_setopt(h, CURLOPT_DEBUGDATA, &t);
      curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);
    }

    const std::string_view method = req.method;
    if (method == "PUT") {
      curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
      curl_easy_setopt(h, CURLOPT_READDATA, &t);
      curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
      curl_easy_setopt(h, CURLOPT_SEEKDATA, &t);
      curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
    } else if (method == "POST") {
      curl_easy_setopt(h, CURLOPT_POST, 1L);
      // libcurl 7.88 needs a non-null pointer even for an empty body.
      static const char kEmpty[] = "";
      curl_easy_setopt(h, CURLOPT_POSTFIELDS,
                       req.body.empty() ? kEmpty : reinterpret_cast<const char*>(req.body.data()));
      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
    } else if (method == "HEAD") {
      curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (method == "DELETE") {
      curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "DELETE");
    } else {
      curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    }

    const CURLcode rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp.status);
    // The handle keeps pointers into this frame; drop them before returning.
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, nullptr);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, nullptr);

    if (t.capture) {
      for (const auto& block : t.header_blocks) {
        try {
          opt.on_request(sent_request(block, url, req.payload_sha256));
        } catch (...) {
          // A failing log hook must not fail the upload it describes.
        }
      }
    }

    if (rc != CURLE_OK) {
      if (rc == CURLE_WRITE_ERROR && t.write_errno != 0) {
        return fail(Error::Kind::kLocal, "writing " + (req.out_path.empty() ? "the response" : req.out_path) +
                                             ": " + std::strerror(t.write_errno));
      }
      Error e = Error::make(classify_curl(rc), errbuf[0] != 0 ? errbuf : curl_easy_strerror(rc));
      e.curl_code = static_cast<int>(rc);
      e.request = describe(req);
      return unexpected(std::move(e));
    }
    if (resp.status >= 200 && resp.status < 300) return resp;

    Error e;
    e.http_status = resp.status;
    e.request = describe(req);
    e.request_id = resp.header("x-amz-request-id");
    if (auto body = parse_error_xml(resp.body)) {
      e.code = body->code;
      e.message = body->message;
      if (e.request_id.empty()) e.request_id = body->request_id;
    } else if (method == "HEAD") {
      e.message = "no body in a HEAD answer";
    } else if (!resp.body.empty()) {
      e.message = "unexpected answer: " + resp.body.substr(0, 200);
    }
    e.kind = classify_http(resp.status, e.code);
    return unexpected(std::move(e));
  }

  // Refusals before anything is sent: keys S3 would refuse.
  std::optional<Error> precheck(const std::string& key, const Request& req) const {
    if (key.empty() || key.size() > 1024) {
      Error e = Error::make(Error::Kind::kClient, "object keys are 1 to 1024 bytes long");
      e.request = describe(req);
      return e;
    }
    return std::nullopt;
  }

  // The ETag header of an answer, or kBadResponse.
  Expected<std::string, Error> etag_of(const Response& resp, const Request& req) {
    std::string etag = resp.header("etag");
    if (etag.empty()) {
      Error e = Error::make(Error::Kind::kBadResponse, "no ETag in the answer", {}, resp.status);
      e.request = describe(req);
      return unexpected(std::move(e));
    }
    return etag;
  }

};

Client::Client(Options options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Client::~Client() = default;
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;

const Options& Client::options() const { return impl_->opt; }

Expected<std::string, Error> Client::put_object(const std::string& key, std::span<const uint8_t> body) {
  return guarded("PutObject", [&]() -> Expected<std::string, Error> {
    Request req;
    req.method = "PUT";
    req.key = key;
    req.has_body = true;
    req.body = body;
    req.content_type = "application/octet-stream";
    if (auto e = impl_ ? impl_->precheck(key, req) : moved_from()) return unexpected(std::move(*e));
    auto resp = impl_->perform_with_retries(req);
    if (!resp) return unexpected(std::move(resp).error());
    return impl_->etag_of(*resp, req);
  });
}

Expected<std::vector<uint8_t>, Error> Client::get_object(const std::string& key) {
  return guarded("GetObject", [&]() -> Expected<std::vector<uint8_t>, Error> {
    Request req;
    req.key = key;
    if (auto e = impl_ ? impl_->precheck(key, req) : moved_from()) return unexpected(std::move(*e));
    auto resp = impl_->perform_with_retries(req);
    if (!resp) return unexpected(std::move(resp).error());
    const std::string& b = resp->body;
    return std::vector<uint8_t>(b.begin(), b.end());
  });
}

Expected<uint64_t, Error> Client::get_object_to_file(const std::string& key, const std::filesystem::path& path) {
  return guarded("GetObject", [&]() -> Expected<uint64_t, Error> {
    Request req;
    req.key = key;
    if (auto e = impl_ ? impl_->precheck(key, req) : moved_from()) return unexpected(std::move(*e));
    const std::string part = path.string() + ".part";
    // 0600: these are database backups.
    Fd fd(::open(part.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (fd.fd < 0) {
      Error e = Error::make(Error::Kind::kLocal, "creating " + part + ": " + std::strerror(errno));
      e.request = impl_->describe(req);
      return unexpected(std::move(e));
    }
    req.out_fd = fd.fd;
    req.out_path = part;
    auto resp = impl_->perform_with_retries(req);
    auto local_error = [&](const std::string& what) {
      Error e = Error::make(Error::Kind::kLocal, what + " " + part + ": " + std::strerror(errno));
      e.request = impl_->describe(req);
      ::unlink(part.c_str());
      return unexpected(std::move(e));
    };
    if (!resp) {
      ::unlink(part.c_str());
      return unexpected(std::move(resp).error());
    }
    if (::close(fd.release()) != 0) return local_error("closing");
    if (::rename(part.c_str(), path.c_str()) != 0) return local_error("renaming");
    return resp->body_bytes;
  });
}

Expected<ObjectInfo, Error> Client::head_object(const std::string& key) {
  return guarded("HeadObject", [&]() -> Expected<ObjectInfo, Error> {
    Request req;
    req.method = "HEAD";
    req.key = key;
    if (auto e = impl_ ? impl_->precheck(key, req) : moved_from()) return unexpected(std::move(*e));
    auto resp = impl_->perform_with_retries(req);
    if (!resp) return unexpected(std::move(resp).error());
    ObjectInfo info;
    info.key = key;
    info.etag = resp->header("etag");
    const std::string len = resp->header("content-length");
    auto [p, ec] = std::from_chars(len.data(), len.data() + len.size(), info.size);
    if (len.empty() || ec != std::errc() || p != len.data() + len.size()) {
      Error e = Error::make(Error::Kind::kBadResponse, "no valid Content-Length in the answer", {}, resp->status);
      e.request = impl_->describe(req);
      return unexpected(std::move(e));
    }
    if (auto t = parse_http_date(resp->header("last-modified"))) info.last_modified = *t;
    return info;
  });
}

Expected<std::vector<ObjectInfo>, Error> Client::list_objects(const std::string& prefix, ListOptions opts) {
  return guarded("ListObjectsV2", [&]() -> Expected<std::vector<ObjectInfo>, Error> {
    if (!impl_) return unexpected(*moved_from());
    std::vector<ObjectInfo> all;
    std::set<std::string> seen_tokens;
    std::string token;
    for (;;) {
      QueryParams q{{"list-type", "2"}, {"encoding-type", "url"}};
      if (!prefix.empty()) q.emplace_back("prefix", prefix);
      if (!token.empty()) q.emplace_back("continuation-token", token);
      if (opts.max_keys_per_page > 0) q.emplace_back("max-keys", std::to_string(opts.max_keys_per_page));
      Request req;
      req.query = canonical_query(std::move(q));
      auto resp = impl_->perform_with_retries(req);
      if (!resp) return unexpected(std::move(resp).error());
      auto page = parse_list_objects_v2(resp->body);
      if (!page) {
        Error e = std::move(page).error();
        e.request = impl_->describe(req);
        return unexpected(std::move(e));
      }
      for (auto& o : page->objects) all.push_back(std::move(o));
      if (!page->truncated) break;
      // A server that hands out the same token twice would keep us here forever.
      if (!seen_tokens.insert(page->next_continuation_token).second) {
        Error e = Error::make(Error::Kind::kBadResponse, "ListObjectsV2 repeated a continuation token");
        e.request = impl_->describe(req);
        return unexpected(std::move(e));
      }
      token = page->next_continuation_token;
    }
    return all;
  });
}

Expected<Ok, Error> Client::delete_object(const std::string& key) {
  return guarded("DeleteObject", [&]() -> Expected<Ok, Error> {
    Request req;
    req.method = "DELETE";
    req.key = key;
    if (auto e = impl_ ? impl_->precheck(key, req) : moved_from()) return unexpected(std::move(*e));
    auto resp = impl_->perform_with_retries(req);
    if (!resp) {
      const Error& e = resp.error();
      if (e.kind == Error::Kind::kNotFound && e.code != "NoSuchBucket") return Ok{};
      return unexpected(std::move(resp).error());
    }
    return Ok{};
  });
}

Expected<std::string, Error> Client::create_multipart_upload(const std::string& key) {
  return guarded("CreateMultipartUpload", [&]() -> Expected<std::string, Error> {
    Request req;
    req.method = "POST";
    req.key = key;
    req.query = canonical_query({{"uploads", ""}});  // Trap 3: "uploads=", not "uploads"
    req.has_body = true;
    req.content_type = "application/octet-stream";  // the object's type once completed
    if (auto e = impl_ ? impl_->precheck(key, req) : moved_from()) return unexpected(std::move(*e));
    auto resp = impl_->perform_with_retries(req);
    if (!resp) return unexpected(std::move(resp).error());
    auto id = parse_initiate_multipart(resp->body);
    if (!id) {
      Error e = std::move(id).error();
      e.request = impl_->describe(req);
      return unexpected(std::move(e));
    }
    return id;
  });
}

Expected<std::string, Error> Client::upload_part(const std::string& key, const std::string& upload_id,
                                                 int part_number, std::span<const uint8_t> body) {
  return guarded("UploadPart", [&]() -> Expected<std::string, Error> {
    Request req;
    req.method = "PUT";
    req.key = key;
    req.query = canonical_query({{"partNumber", std::to_string(part_number)}, {"uploadId", upload_id}});
    req.has_body = true;
    req.body = body;
    req.content_type = "application/octet-stream";
    if (auto e = impl_ ? impl_->precheck(key, req) : moved_from()) return unexpected(std::move(*e));
    if (upload_id.empty()) return client_error("empty upload id", impl_->describe(req));
    if (part_number < 1 || part_number > 10000) {
      return client_error("part number " + std::to_string(part_number) + " is outside 1..10000",
                          impl_->describe(req));
    }
    auto resp = impl_->perform_with_retries(req);
    if (!resp) return unexpected(std::move(resp).error());
    return impl_->etag_of(*resp, req);
  });
}

Expected<std::string, Error> Client::complete_multipart_upload(const std::string& key, const std::string& upload_id,
                                                               std::vector<CompletedPart> parts) {
  return guarded("CompleteMultipartUpload", [&]() -> Expected<std::string, Error> {
    std::sort(parts.begin(), parts.end(),
              [](const CompletedPart& a, const CompletedPart& b) { return a.part_number < b.part_number; });
    const std::string xml = complete_multipart_xml(parts);
    Request req;
    req.method = "POST";
    req.key = key;
    req.query = canonical_query({{"uploadId", upload_id}});
    req.has_body = true;
    req.body = std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(xml.data()), xml.size());
    req.content_type = "application/xml";
    if (auto e = impl_ ? impl_->precheck(key, req) : moved_from()) return unexpected(std::move(*e));
    if (upload_id.empty()) return client_error("empty upload id", impl_->describe(req));
    if (std::string why; !valid_etag_list(parts, why)) return client_error(why, impl_->describe(req));
    auto resp = impl_->perform_with_retries(req);
    if (!resp) return unexpected(std::move(resp).error());
    // S3 may answer 200 and report the failure in the body; a retry is then up to the caller
    // (the error says whether it is retryable), as the upload may or may not still exist.
    auto etag = parse_complete_multipart(resp->body);
    if (!etag) {
      Error e = std::move(etag).error();
      e.request = impl_->describe(req);
      if (e.request_id.empty()) e.request_id = resp->header("x-amz-request-id");
      return unexpected(std::move(e));
    }
    return etag;
  });
}

Expected<Ok, Error> Client::abort_multipart_upload(const std::string& key, const std::string& upload_id) {
  return guarded("AbortMultipartUpload", [&]() -> Expected<Ok, Error> {
    Request req;
    req.method = "DELETE";
    req.key = key;
    req.query = canonical_query({{"uploadId", upload_id}});
    if (auto e = impl_ ? impl_->precheck(key, req) : moved_from()) return unexpected(std::move(*e));
    if (upload_id.empty()) return client_error("empty upload id", impl_->describe(req));
    auto resp = impl_->perform_with_retries(req);
    if (!resp) return unexpected(std::move(resp).error());
    return Ok{};
  });
}

}  // namespace metagate::s3
