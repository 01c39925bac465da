// Connecting and authenticating to a PostgreSQL server.
#include "metagate/pool/connect.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <cstring>

#include "metagate/auth/client.hpp"
#include "metagate/wire/backend.hpp"

namespace metagate::pool {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;

namespace {

void put32(std::string& out, int32_t v) {
  uint32_t u = static_cast<uint32_t>(v);
  char b[4] = {static_cast<char>(u >> 24), static_cast<char>(u >> 16), static_cast<char>(u >> 8), static_cast<char>(u)};
  out.append(b, 4);
}

int32_t get32(const uint8_t* p) {
  return static_cast<int32_t>((uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]});
}

// A typed message: type, int32 length (including itself), body.
std::string message(char type, std::string_view body) {
  std::string out(1, type);
  put32(out, static_cast<int32_t>(body.size() + 4));
  out.append(body);
  return out;
}

// One backend message from the front of `buf`: 0 = need more, -1 = malformed, else its size.
struct RawFrame {
  char type = 0;
  std::string_view body;
};
long backend_frame(const std::vector<uint8_t>& in, size_t start, size_t max, RawFrame& f) {
  if (in.size() - start < 5) return 0;
  const uint8_t* p = in.data() + start;
  int32_t len = get32(p + 1);
  if (len < 4 || static_cast<size_t>(len) > max) return -1;
  if (in.size() - start < static_cast<size_t>(len) + 1) return 0;
  f.type = static_cast<char>(p[0]);
  f.body = std::string_view(reinterpret_cast<const char*>(p + 5), static_cast<size_t>(len) - 4);
  return len + 1;
}

PgError connect_error(const std::string& what) {
  return PgError::fatal(sqlstate::kConnectionFailure, "could not connect to the PostgreSQL backend: " + what);
}

}  // namespace

awaitable<PgResult<BackendConnection>> connect_backend(asio::any_io_executor ex, const config::PostgresTarget& target,
                                                       const std::string& user, const std::string& database,
                                                       const std::vector<std::pair<std::string, std::string>>& params) {
  using namespace asio::experimental::awaitable_operators;
  tcp::resolver resolver(ex);
  tcp::socket socket(ex);
  tcp::endpoint connected;
  std::string why = "no host";
  for (const auto& h : target.hosts) {
    auto [rec, results] = co_await resolver.async_resolve(h.host, std::to_string(h.port), asio::as_tuple(use_awaitable));
    if (rec) {
      why = h.host + ": " + rec.message();
      continue;
    }
    asio::steady_timer timer(ex, std::chrono::seconds(target.connect_timeout_s));
    auto r = co_await (asio::async_connect(socket, results, asio::as_tuple(use_awaitable)) ||
                       timer.async_wait(asio::as_tuple(use_awaitable)));
    if (r.index() == 0) {
      auto [cec, ep] = std::get<0>(r);
      if (!cec) {
        connected = ep;
        break;
      }
      why = h.host + ":" + std::to_string(h.port) + ": " + cec.message();
    } else {
      why = h.host + ":" + std::to_string(h.port) + ": timeout";
    }
    boost::system::error_code ignore;
    socket.close(ignore);
    socket = tcp::socket(ex);
  }
  if (!socket.is_open()) co_return unexpected(connect_error(why));
  boost::system::error_code ec;
  socket.set_option(tcp::no_delay(true), ec);

  // StartupMessage (protocol 3.0).
  std::string body;
  put32(body, 196608);
  auto kv = [&](std::string_view k, std::string_view v) {
    body.append(k);
    body.push_back('\0');
    body.append(v);
    body.push_back('\0');
  };
  kv("user", target.user.empty() ? user : target.user);
  kv("database", target.dbname.empty() ? database : target.dbname);
  for (const auto& [k, v] : params) kv(k, v);
  body.push_back('\0');
  std::string out;
  put32(out, static_cast<int32_t>(body.size() + 4));
  out += body;
  const std::string& login = target.user.empty() ? user : target.user;

  std::vector<uint8_t> in;
  size_t start = 0;
  std::optional<auth::ScramClientExchange> scram;
  BackendConnection conn{std::move(socket), connected, {}, 0, 0, {}};
  for (;;) {
    if (!out.empty()) {
      auto [wec, n] = co_await asio::async_write(conn.socket, asio::buffer(out), asio::as_tuple(use_awaitable));
      out.clear();
      if (wec) co_return unexpected(connect_error(wec.message()));
    }
    RawFrame fr;
    long size = backend_frame(in, start, 1 << 20, fr);
    if (size < 0) co_return unexpected(connect_error("protocol error from the server"));
    if (size == 0) {
      size_t old = in.size();
      in.resize(old + 16384);
      auto [rec, n] = co_await conn.socket.async_read_some(asio::buffer(in.data() + old, 16384), asio::as_tuple(use_awaitable));
      in.resize(old + (rec ? 0 : n));
      if (rec || n == 0) co_return unexpected(connect_error("the server closed the connection during startup"));
      continue;
    }
    start += static_cast<size_t>(size);
    std::string_view b = fr.body;
    switch (fr.type) {
      case 'E': {
        PgError e = wire::parse_error_fields(b);
        e.severity = "FATAL";
        co_return unexpected(std::move(e));
      }
      case 'R': {
        if (b.size() < 4) co_return unexpected(connect_error("malformed authentication request"));
        int32_t code = get32(reinterpret_cast<const uint8_t*>(b.data()));
        std::string_view rest = b.substr(4);
        auto need_password = [&]() -> bool { return !target.password.empty(); };
        if (code == 0) break;  // AuthenticationOk
        if (code == 3) {       // cleartext
          if (!need_password()) co_return unexpected(connect_error("the server asks for a password and none is configured"));
          out = message('p', target.password + std::string(1, '\0'));
        } else if (code == 5) {  // md5
          if (!need_password() || rest.size() < 4)
            co_return unexpected(connect_error("the server asks for a password and none is configured"));
          out = message('p', auth::md5_password_response(login, target.password,
                                                         reinterpret_cast<const uint8_t*>(rest.data())) +
                                 std::string(1, '\0'));
        } else if (code == 10) {  // SASL
          if (!need_password()) co_return unexpected(connect_error("the server asks for a password and none is configured"));
          if (std::string_view(rest).find("SCRAM-SHA-256") == std::string_view::npos)
            co_return unexpected(connect_error("the server offers no SASL mechanism metagate supports"));
          scram.emplace(target.password);
          std::string first = scram->client_first();
          std::string m = "SCRAM-SHA-256";
          m.push_back('\0');
          put32(m, static_cast<int32_t>(first.size()));
          m += first;
          out = message('p', m);
        } else if (code == 11) {  // SASLContinue
          if (!scram) co_return unexpected(connect_error("unexpected SASL continue"));
          auto fin = scram->on_server_first(rest);
          if (!fin) co_return unexpected(connect_error(fin.error().message));
          out = message('p', *fin);
        } else if (code == 12) {  // SASLFinal
          if (!scram) co_return unexpected(connect_error("unexpected SASL final"));
          if (auto s = scram->on_server_final(rest); !s) co_return unexpected(connect_error(s.error().message));
        } else {
          co_return unexpected(connect_error("unsupported authentication request " + std::to_string(code)));
        }
        break;
      }
      case 'S': {
        size_t z = b.find('\0');
        if (z != std::string_view::npos) {
          size_t z2 = b.find('\0', z + 1);
          conn.parameters.emplace_back(std::string(b.substr(0, z)),
                                       std::string(b.substr(z + 1, z2 == std::string_view::npos ? std::string_view::npos : z2 - z - 1)));
        }
        break;
      }
      case 'K':
        if (b.size() >= 8) {
          conn.pid = get32(reinterpret_cast<const uint8_t*>(b.data()));
          conn.secret = get32(reinterpret_cast<const uint8_t*>(b.data()) + 4);
        }
        break;
      case 'Z':
        conn.leftover.assign(reinterpret_cast<const char*>(in.data() + start), in.size() - start);
        co_return conn;
      default:
        break;  // NoticeResponse and the like
    }
  }
}

awaitable<void> send_cancel(asio::any_io_executor ex, tcp::endpoint endpoint, int32_t pid, int32_t secret) {
  tcp::socket s(ex);
  auto [ec] = co_await s.async_connect(endpoint, asio::as_tuple(use_awaitable));
  if (ec) {
    spdlog::info("cancel: could not reach the PostgreSQL backend {}: {}", endpoint.address().to_string(), ec.message());
    co_return;
  }
  std::string m;
  put32(m, 16);
  put32(m, 80877102);
  put32(m, pid);
  put32(m, secret);
  co_await asio::async_write(s, asio::buffer(m), asio::as_tuple(use_awaitable));
  // The server closes the connection once it has read the request.
  char c;
  co_await s.async_read_some(asio::buffer(&c, 1), asio::as_tuple(use_awaitable));
}

}  // namespace metagate::pool
