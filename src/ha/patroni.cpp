// Patroni's REST API (patroni.hpp).
#include "metagate/ha/patroni.hpp"

#include <curl/curl.h>

#include <memory>

namespace metagate::ha {

namespace {

size_t discard_body(char*, size_t size, size_t n, void*) { return size * n; }

}  // namespace

PatroniAnswer ask_patroni_primary(const std::string& base_url, int64_t timeout_ms) {
  PatroniAnswer a;
  std::unique_ptr<CURL, void (*)(CURL*)> h(curl_easy_init(), curl_easy_cleanup);
  if (!h) {
    a.error = "libcurl could not start a request";
    return a;
  }
  std::string url = base_url;
  while (!url.empty() && url.back() == '/') url.pop_back();
  url += "/primary";
  char err[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(h.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(h.get(), CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_ms));
  curl_easy_setopt(h.get(), CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(timeout_ms));
  curl_easy_setopt(h.get(), CURLOPT_NOSIGNAL, 1L);  // a thread of its own: no SIGALRM for timeouts
  curl_easy_setopt(h.get(), CURLOPT_WRITEFUNCTION, discard_body);
  curl_easy_setopt(h.get(), CURLOPT_ERRORBUFFER, err);
  curl_easy_setopt(h.get(), CURLOPT_PROTOCOLS_STR, "http,https");
  CURLcode rc = curl_easy_perform(h.get());
  if (rc != CURLE_OK) {
    a.error = "Patroni REST API " + url + ": " + (err[0] ? std::string(err) : std::string(curl_easy_strerror(rc)));
    return a;
  }
  curl_easy_getinfo(h.get(), CURLINFO_RESPONSE_CODE, &a.status);
  a.leader = a.status == 200;
  if (!a.leader) a.error = "Patroni REST API " + url + " answers " + std::to_string(a.status) + " (not the leader)";
  return a;
}

}  // namespace metagate::ha
