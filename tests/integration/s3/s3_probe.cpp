// s3_probe: exercises every call of metagate::s3::Client against a real S3-protocol server
// (run.sh starts s3rver), prints "PASS ..." / "FAIL ..." lines, and leaves behind for run.sh:
//   DIR/requests.jsonl  every request as sent (request line, header lines, payload SHA-256),
//                       tagged, for verify_sigv4.py; "expect":"mismatch" marks the request
//                       deliberately signed with a wrong secret
//   DIR/expected.tsv    key, size, local copy ("-" if none): what awscli must see
//
//   s3_probe --endpoint http://127.0.0.1:PORT --bucket B --work DIR
//   s3_probe --endpoint ... --bucket B --get KEY --out FILE     (download one object)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "metagate/s3/client.hpp"

using namespace metagate::s3;
using Bytes = std::vector<uint8_t>;

namespace {

int g_pass = 0, g_fail = 0;

void check(bool ok, const std::string& what, const std::string& detail = {}) {
  (ok ? g_pass : g_fail)++;
  std::cout << (ok ? "PASS " : "FAIL ") << what;
  if (!ok && !detail.empty()) std::cout << " -- " << detail;
  std::cout << std::endl;
}

template <class T>
std::string err(const metagate::Expected<T, Error>& r) {
  return r.has_value() ? std::string("succeeded") : r.error().to_string();
}

Bytes random_bytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Bytes b(n);
  for (size_t i = 0; i < n; i += 8) {
    uint64_t v = rng();
    for (size_t j = 0; j < 8 && i + j < n; ++j) b[i + j] = static_cast<uint8_t>(v >> (8 * j));
  }
  return b;
}

Bytes bytes_of(std::string_view s) { return Bytes(s.begin(), s.end()); }

std::string md5_etag(const Bytes& b) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_Digest(b.data(), b.size(), md, &len, EVP_md5(), nullptr);
  std::string hex = "\"";
  char buf[3];
  for (unsigned i = 0; i < len; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", md[i]);
    hex += buf;
  }
  return hex + "\"";
}

Bytes read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void write_file(const std::string& path, const Bytes& b) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

// The request log: every client's on_request appends here, tagged with what the probe is doing.
struct RequestLog {
  std::ofstream out;
  std::string tag = "setup";
  std::string expect = "match";
  std::map<std::string, int> count_by_tag;

  std::function<void(const SentRequest&)> hook() {
    return [this](const SentRequest& r) {
      nlohmann::json j{{"tag", tag},
                       {"expect", expect},
                       {"method", r.method},
                       {"url", r.url},
                       {"request_line", r.request_line},
                       {"headers", r.header_lines},
                       {"payload_sha256", r.payload_sha256}};
      out << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
      out.flush();
      count_by_tag[tag]++;
    };
  }
};

// A loopback TCP port: bound and listening (connections complete in the backlog but are never
// answered) or closed again (connections are refused).
struct LoopbackPort {
  int fd = -1;
  int port = 0;
  explicit LoopbackPort(bool keep_listening) {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      return;
    }
    port = ntohs(a.sin_port);
    if (keep_listening) {
      ::listen(fd, 8);
    } else {
      ::close(fd);
      fd = -1;
    }
  }
  ~LoopbackPort() {
    if (fd >= 0) ::close(fd);
  }
};

struct Args {
  std::string endpoint, bucket, work, get_key, out;
};

Options base_options(const Args& a) {
  Options o;
  o.endpoint = a.endpoint;
  o.bucket = a.bucket;
  o.path_style = true;
  o.credentials = {"S3RVER", "S3RVER", ""};
  o.connect_timeout_ms = 5000;
  o.request_timeout_ms = 60000;
  o.retry = RetryPolicy{.max_attempts = 3, .base = std::chrono::milliseconds(50), .cap = std::chrono::milliseconds(500)};
  return o;
}

int download(const Args& a) {
  Client c(base_options(a));
  auto r = c.get_object_to_file(a.get_key, a.out);
  if (!r) {
    std::cerr << "s3_probe: " << r.error().to_string() << "\n";
    return 1;
  }
  std::cout << *r << "\n";
  return 0;
}

int run(const Args& a) {
  RequestLog log;
  log.out.open(a.work + "/requests.jsonl", std::ios::trunc);
  std::ofstream expected(a.work + "/expected.tsv", std::ios::trunc);
  auto expect_object = [&](const std::string& key, size_t size, const std::string& local) {
    expected << key << '\t' << size << '\t' << local << '\n';
    expected.flush();
  };

  Options opts = base_options(a);
  opts.on_request = log.hook();
  Client c(opts);

  // -- PutObject / GetObject / HeadObject
  log.tag = "put-small";
  const Bytes small = bytes_of("hello from metagate's S3 client\n");
  auto put_small = c.put_object("probe/small.txt", small);
  check(put_small.has_value(), "PutObject small", err(put_small));
  check(put_small.has_value() && *put_small == md5_etag(small), "PutObject small: ETag is the MD5 of the body",
        put_small.has_value() ? *put_small : "");
  write_file(a.work + "/small.txt", small);
  expect_object("probe/small.txt", small.size(), a.work + "/small.txt");

  log.tag = "put-big";
  const Bytes big = random_bytes(6 * 1024 * 1024 + 123, 1);
  auto put_big = c.put_object("probe/big.bin", big);
  check(put_big.has_value() && *put_big == md5_etag(big), "PutObject 6 MiB", err(put_big));
  write_file(a.work + "/big.bin", big);
  expect_object("probe/big.bin", big.size(), a.work + "/big.bin");

  log.tag = "get";
  auto got_small = c.get_object("probe/small.txt");
  check(got_small.has_value() && *got_small == small, "GetObject small: identical", err(got_small));
  auto got_big = c.get_object("probe/big.bin");
  check(got_big.has_value() && *got_big == big, "GetObject 6 MiB: identical", err(got_big));
  auto to_file = c.get_object_to_file("probe/big.bin", a.work + "/big.download");
  check(to_file.has_value() && *to_file == big.size() && read_file(a.work + "/big.download") == big,
        "GetObject 6 MiB to a file: identical, size returned", err(to_file));

  log.tag = "head";
  auto head = c.head_object("probe/big.bin");
  const auto now = std::chrono::system_clock::now();
  check(head.has_value() && head->size == big.size() && put_big.has_value() && head->etag == *put_big &&
            head->last_modified > now - std::chrono::hours(24) && head->last_modified < now + std::chrono::hours(24),
        "HeadObject: size, ETag, Last-Modified", err(head));
  auto head_missing = c.head_object("probe/no-such-key");
  check(!head_missing.has_value() && head_missing.error().kind == Error::Kind::kNotFound &&
            head_missing.error().http_status == 404 && !head_missing.error().retryable(),
        "HeadObject of a missing key: kNotFound, not retryable", err(head_missing));
  log.tag = "get-missing";
  auto get_missing = c.get_object("probe/no-such-key");
  check(!get_missing.has_value() && get_missing.error().kind == Error::Kind::kNotFound &&
            get_missing.error().code == "NoSuchKey",
        "GetObject of a missing key: kNotFound NoSuchKey", err(get_missing));
  auto file_missing = c.get_object_to_file("probe/no-such-key", a.work + "/missing.download");
  check(!file_missing.has_value() && file_missing.error().kind == Error::Kind::kNotFound &&
            access((a.work + "/missing.download").c_str(), F_OK) != 0 &&
            access((a.work + "/missing.download.part").c_str(), F_OK) != 0,
        "GetObject of a missing key to a file: kNotFound, no file left behind", err(file_missing));

  // -- a key that needs percent-encoding (space, '+', non-ASCII)
  log.tag = "odd-key";
  const std::string odd = "probe/odd key+plus \xE2\x82\xAC/\xC3\xBC ber.txt";
  const Bytes odd_body = bytes_of("odd key body\n");
  auto put_odd = c.put_object(odd, odd_body);
  auto get_odd = c.get_object(odd);
  auto head_odd = c.head_object(odd);
  check(put_odd.has_value() && get_odd.has_value() && *get_odd == odd_body && head_odd.has_value() &&
            head_odd->size == odd_body.size(),
        "a key with space, '+' and UTF-8: put, get, head", err(put_odd) + " / " + err(get_odd));
  write_file(a.work + "/odd.txt", odd_body);
  expect_object(odd, odd_body.size(), a.work + "/odd.txt");

  // -- ListObjectsV2 with continuation (page size 2 for 7 keys: 4 pages)
  log.tag = "put-list";
  bool puts_ok = true;
  for (int i = 0; i < 7; ++i) {
    std::string key = "probe/list/item-" + std::to_string(i);
    puts_ok = c.put_object(key, random_bytes(static_cast<size_t>(i * 10 + 1), 100 + static_cast<uint64_t>(i))).has_value() &&
              puts_ok;
    expect_object(key, static_cast<size_t>(i * 10 + 1), "-");
  }
  check(puts_ok, "PutObject 7 small objects for the listing");
  log.tag = "list";
  auto listed = c.list_objects("probe/list/", ListOptions{.max_keys_per_page = 2});
  bool list_ok = listed.has_value() && listed->size() == 7;
  for (int i = 0; list_ok && i < 7; ++i) {
    const auto& o = (*listed)[static_cast<size_t>(i)];
    list_ok = o.key == "probe/list/item-" + std::to_string(i) && o.size == static_cast<uint64_t>(i * 10 + 1) &&
              !o.etag.empty() && o.last_modified > now - std::chrono::hours(24);
  }
  check(list_ok, "ListObjectsV2 with prefix: 7 keys in order, sizes, ETags, dates", err(listed));
  check(log.count_by_tag["list"] >= 4,
        "ListObjectsV2 followed NextContinuationToken over " + std::to_string(log.count_by_tag["list"]) + " pages");
  log.tag = "list-all";
  auto all = c.list_objects("probe/");
  bool odd_listed = false;
  if (all.has_value()) {
    for (const auto& o : *all) odd_listed = odd_listed || (o.key == odd && o.size == odd_body.size());
  }
  check(odd_listed, "ListObjectsV2 returns the odd key decoded", err(all));
  auto none = c.list_objects("probe/nothing-here/");
  check(none.has_value() && none->empty(), "ListObjectsV2 of an empty prefix: no objects", err(none));

  // -- multipart: 5 MiB + 5 MiB + a tail, parts uploaded out of order
  log.tag = "multipart";
  const size_t kPart = 5 * 1024 * 1024;
  const Bytes multi = random_bytes(2 * kPart + 1234, 2);
  auto upload = c.create_multipart_upload("probe/multi.bin");
  check(upload.has_value() && !upload->empty(), "CreateMultipartUpload: an upload id", err(upload));
  if (upload.has_value()) {
    std::vector<CompletedPart> parts;
    bool parts_ok = true;
    for (int n : {2, 1, 3}) {
      size_t off = static_cast<size_t>(n - 1) * kPart;
      size_t len = std::min(kPart, multi.size() - off);
      auto etag = c.upload_part("probe/multi.bin", *upload, n, std::span<const uint8_t>(multi.data() + off, len));
      Bytes part(multi.begin() + static_cast<long>(off), multi.begin() + static_cast<long>(off + len));
      parts_ok = parts_ok && etag.has_value() && *etag == md5_etag(part);
      if (etag.has_value()) parts.push_back({n, *etag});
    }
    check(parts_ok, "UploadPart x3 (5 MiB, 5 MiB, 1234 B): ETag of each part is its MD5");
    auto done = c.complete_multipart_upload("probe/multi.bin", *upload, parts);
    check(done.has_value() && !done->empty(), "CompleteMultipartUpload (parts given out of order)", err(done));
    auto back = c.get_object("probe/multi.bin");
    check(back.has_value() && *back == multi, "GetObject of the multipart object: identical", err(back));
  }
  write_file(a.work + "/multi.bin", multi);
  expect_object("probe/multi.bin", multi.size(), a.work + "/multi.bin");

  log.tag = "abort";
  auto upload2 = c.create_multipart_upload("probe/aborted.bin");
  check(upload2.has_value(), "CreateMultipartUpload for the upload to abort", err(upload2));
  if (upload2.has_value()) {
    auto p1 = c.upload_part("probe/aborted.bin", *upload2, 1, random_bytes(4096, 3));
    check(p1.has_value(), "UploadPart to the upload to abort", err(p1));
    // s3rver 3.7.1 has no AbortMultipartUpload (its router answers 405 MethodNotAllowed);
    // the request is still checked here for its shape and by verify_sigv4.py for its
    // signature. Any other answer, or success against a real S3, passes only as success.
    auto aborted = c.abort_multipart_upload("probe/aborted.bin", *upload2);
    const bool s3rver_has_no_abort = !aborted.has_value() && aborted.error().http_status == 405 &&
                                     aborted.error().code == "MethodNotAllowed";
    check(aborted.has_value() || s3rver_has_no_abort,
          "AbortMultipartUpload sent (s3rver answers 405 MethodNotAllowed: it has no abort)", err(aborted));
    auto after = c.head_object("probe/aborted.bin");
    check(!after.has_value() && after.error().kind == Error::Kind::kNotFound, "the aborted upload left no object",
          err(after));
  }

  // -- DeleteObject
  log.tag = "delete";
  auto put_del = c.put_object("probe/delete-me.txt", bytes_of("bye"));
  auto del = c.delete_object("probe/delete-me.txt");
  auto head_del = c.head_object("probe/delete-me.txt");
  check(put_del.has_value() && del.has_value() && !head_del.has_value() && head_del.error().kind == Error::Kind::kNotFound,
        "DeleteObject: the object is gone", err(del));
  auto del_again = c.delete_object("probe/delete-me.txt");
  check(del_again.has_value(), "DeleteObject of a missing key succeeds (idempotent)", err(del_again));

  // -- session token (x-amz-security-token, signed)
  log.tag = "session-token";
  {
    Options t = opts;
    t.credentials.session_token = "IQoJb3JpZ2luX2VjEXAMPLE/SESSION+TOKEN==";
    Client tc(t);
    const Bytes body = bytes_of("sent with a session token\n");
    auto r = tc.put_object("probe/token.txt", body);
    check(r.has_value(), "PutObject with a session token", err(r));
    write_file(a.work + "/token.txt", body);
    expect_object("probe/token.txt", body.size(), a.work + "/token.txt");
  }

  // -- the negative control for verify_sigv4.py: signed with a wrong secret. s3rver does not
  //    check signatures, so it accepts it; the verifier must not.
  log.tag = "wrong-secret";
  log.expect = "mismatch";
  {
    Options w = opts;
    w.credentials.secret_access_key = "NOT-THE-SECRET";
    Client wc(w);
    auto r = wc.put_object("probe/wrong-secret.txt", bytes_of("signed with the wrong secret\n"));
    check(r.has_value(), "PutObject signed with a wrong secret (s3rver does not verify signatures)", err(r));
    expect_object("probe/wrong-secret.txt", 29, "-");
  }
  log.expect = "match";

  // -- errors the caller must be able to tell apart
  log.tag = "wrong-key";
  {
    Options w = opts;
    w.credentials.access_key_id = "NOT-S3RVER";
    auto r = Client(w).head_object("probe/small.txt");
    check(!r.has_value() && r.error().kind == Error::Kind::kAuth && !r.error().retryable(),
          "an unknown access key: kAuth, not retryable", err(r));
  }
  {
    LoopbackPort closed(false);
    Options n = base_options(a);
    n.endpoint = "http://127.0.0.1:" + std::to_string(closed.port);
    int retries = 0;
    n.retry = RetryPolicy{.max_attempts = 3, .base = std::chrono::milliseconds(1), .cap = std::chrono::milliseconds(5)};
    n.retry_hooks.on_retry = [&](const Error&, int, std::chrono::milliseconds) { ++retries; };
    auto r = Client(n).get_object("probe/small.txt");
    check(!r.has_value() && r.error().kind == Error::Kind::kNetwork && r.error().retryable() && retries == 2,
          "connection refused: kNetwork, retryable, retried twice", err(r));
  }
  log.tag = "timeout";
  {
    LoopbackPort silent(true);
    Options t = opts;
    t.endpoint = "http://127.0.0.1:" + std::to_string(silent.port);
    t.request_timeout_ms = 400;
    t.retry.max_attempts = 1;
    const auto t0 = std::chrono::steady_clock::now();
    auto r = Client(t).get_object("probe/small.txt");
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
    check(!r.has_value() && r.error().kind == Error::Kind::kTimeout && r.error().retryable() && ms.count() < 5000,
          "a server that never answers: kTimeout after the request timeout", err(r));
  }

  // -- upload rate limit
  log.tag = "rate-limit";
  {
    Options l = opts;
    l.max_send_bytes_per_second = 2 * 1024 * 1024;
    const Bytes body = random_bytes(1024 * 1024, 4);
    const auto t0 = std::chrono::steady_clock::now();
    auto r = Client(l).put_object("probe/rate-limited.bin", body);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    check(r.has_value() && s >= 0.3, "max_send_bytes_per_second 2 MiB/s: 1 MiB took " + std::to_string(s) + " s",
          err(r));
    expect_object("probe/rate-limited.bin", body.size(), "-");
  }

  std::cout << "probe: " << g_pass << " passed, " << g_fail << " failed" << std::endl;
  return g_fail == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--endpoint") a.endpoint = v;
    else if (k == "--bucket") a.bucket = v;
    else if (k == "--work") a.work = v;
    else if (k == "--get") a.get_key = v;
    else if (k == "--out") a.out = v;
    else {
      std::cerr << "s3_probe: unknown argument " << k << "\n";
      return 2;
    }
  }
  if (a.endpoint.empty() || a.bucket.empty() || (a.work.empty() && a.get_key.empty())) {
    std::cerr << "usage: s3_probe --endpoint URL --bucket B (--work DIR | --get KEY --out FILE)\n";
    return 2;
  }
  return a.get_key.empty() ? run(a) : download(a);
}
