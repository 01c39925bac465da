// HTTP endpoint: one coroutine per connection, keep-alive, bounded request size, time and
// number of connections.
#include "http_endpoint.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace metagate::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

struct HttpEndpoint::Impl : std::enable_shared_from_this<HttpEndpoint::Impl> {
  asio::io_context& io;
  Handlers handlers;
  tcp::acceptor acceptor;
  std::atomic<int> open{0};
  static constexpr int kMaxConnections = 64;
  static constexpr int kMaxRequestsPerConnection = 1000;
  static constexpr auto kTimeout = std::chrono::seconds(10);

  Impl(asio::io_context& i, Handlers h) : io(i), handlers(std::move(h)), acceptor(i) {}

  http::response<http::string_body> answer(const http::request<http::string_body>& req) {
    http::response<http::string_body> res;
    res.version(req.version());
    res.keep_alive(req.keep_alive());
    res.set(http::field::server, "metagate");
    res.set(http::field::cache_control, "no-store");
    auto text = [&](http::status st, std::string body, const char* type = "text/plain; charset=utf-8") {
      res.result(st);
      res.set(http::field::content_type, type);
      res.body() = std::move(body);
    };
    if (req.method() != http::verb::get && req.method() != http::verb::head) {
      text(http::status::method_not_allowed, "only GET and HEAD\n");
      res.set(http::field::allow, "GET, HEAD");
    } else {
      std::string_view target = req.target();
      if (auto q = target.find('?'); q != std::string_view::npos) target = target.substr(0, q);
      if (target == "/metrics") {
        text(http::status::ok, handlers.metrics(), "text/plain; version=0.0.4; charset=utf-8");
      } else if (target == "/healthz") {
        text(http::status::ok, "ok\n");
      } else if (target == "/readyz") {
        auto why = handlers.not_ready_why();
        if (why) text(http::status::service_unavailable, "not ready: " + *why + "\n");
        else text(http::status::ok, "ready\n");
      } else {
        text(http::status::not_found, "not found: try /metrics, /healthz or /readyz\n");
      }
    }
    res.prepare_payload();
    if (req.method() == http::verb::head) res.body().clear();
    return res;
  }

  asio::awaitable<void> serve(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer(16 * 1024);
    for (int n = 0; n < kMaxRequestsPerConnection; ++n) {
      http::request_parser<http::string_body> parser;
      parser.header_limit(8 * 1024);
      parser.body_limit(8 * 1024);
      stream.expires_after(kTimeout);
      auto [ec, bytes] = co_await http::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
      if (ec) {
        if (ec != http::error::end_of_stream && ec != asio::error::operation_aborted && ec != beast::error::timeout &&
            ec != asio::error::connection_reset && ec != asio::error::eof) {
          http::response<http::string_body> bad{http::status::bad_request, 11};
          bad.set(http::field::content_type, "text/plain; charset=utf-8");
          bad.body() = "bad request: " + ec.message() + "\n";
          bad.keep_alive(false);
          bad.prepare_payload();
          stream.expires_after(kTimeout);
          co_await http::async_write(stream, bad, asio::as_tuple(asio::use_awaitable));
        }
        break;
      }
      auto res = answer(parser.get());
      bool keep = res.keep_alive();
      stream.expires_after(kTimeout);
      auto [wec, wn] = co_await http::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
      if (wec || !keep) break;
    }
    beast::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    co_return;
  }

  asio::awaitable<void> accept_loop() {
    auto self = shared_from_this();
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
        continue;
      }
      if (open.load() >= kMaxConnections) continue;  // the socket closes when dropped
      ++open;
      asio::co_spawn(io, [self, s = std::move(socket)]() mutable -> asio::awaitable<void> {
        co_await self->serve(std::move(s));
        --self->open;
      }, asio::detached);
    }
  }
};

HttpEndpoint::HttpEndpoint(asio::io_context& io, Handlers handlers) : impl_(std::make_shared<Impl>(io, std::move(handlers))) {}

HttpEndpoint::~HttpEndpoint() { stop(); }

void HttpEndpoint::start(const config::ListenAddress& address) {
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(address.host, ec);
  if (ec) throw std::runtime_error("bad metrics address " + address.to_string());
  tcp::endpoint ep(addr, address.port);
  auto& a = impl_->acceptor;
  a.open(ep.protocol(), ec);
  if (!ec) a.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) a.bind(ep, ec);
  if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw std::runtime_error("could not listen on " + address.to_string() + " for metrics: " + ec.message());
  spdlog::info("metrics and health checks on http://{}:{}/metrics", address.host, a.local_endpoint().port());
  asio::co_spawn(impl_->io, impl_->accept_loop(), asio::detached);
}

void HttpEndpoint::stop() {
  if (!impl_) return;
  asio::post(impl_->io, [impl = impl_] {
    boost::system::error_code ec;
    impl->acceptor.close(ec);
  });
}

uint16_t HttpEndpoint::port() const {
  boost::system::error_code ec;
  auto ep = impl_->acceptor.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

}  // namespace metagate::server
