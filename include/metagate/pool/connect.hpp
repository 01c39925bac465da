// A connection from metagate to a PostgreSQL server (a backend of the relay): TCP connect to
// the first host that answers, TLS as `sslmode` asks (SSLRequest, then a TLS handshake with the
// certificate checks of libpq's verify-ca/verify-full), StartupMessage, authentication as the
// server asks (cleartext, md5, SCRAM-SHA-256), then the server's ParameterStatus and
// BackendKeyData up to its first ReadyForQuery. Also CancelRequest to a server.
#pragma once

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>

#include <memory>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "metagate/auth/client.hpp"
#include "metagate/config/config.hpp"
#include "metagate/util/pg_error.hpp"

namespace metagate::pool {

// Sends what the socket takes at once, without waiting and without Asio's reactor (one
// send(2), MSG_DONTWAIT): the relay's common case, a small message into an empty socket buffer,
// costs no asynchronous operation. Returns the bytes sent; 0 when the socket is full or failed
// (the caller's asynchronous write then sends the rest, or reports the error).
size_t send_now(boost::asio::ip::tcp::socket& s, std::string_view data);

// The byte stream to a server: plain TCP, or TLS over it. Reads and writes go through here;
// socket() is the TCP socket underneath (cancel, peek, shutdown, its io_context).
class ServerStream {
 public:
  using Socket = boost::asio::ip::tcp::socket;
  using Tls = boost::asio::ssl::stream<Socket>;
  explicit ServerStream(Socket s) : plain_(std::move(s)) {}
  // Wraps the socket in TLS with `ctx` (kept alive here); the handshake is the caller's.
  Tls& start_tls(std::shared_ptr<boost::asio::ssl::context> ctx) {
    ctx_ = std::move(ctx);
    tls_ = std::make_unique<Tls>(std::move(plain_), *ctx_);
    return *tls_;
  }
  Socket& socket() { return tls_ ? tls_->next_layer() : plain_; }
  bool encrypted() const { return tls_ != nullptr; }
  template <typename Token>
  auto async_read_some(boost::asio::mutable_buffer b, Token&& token) {
    if (tls_) return tls_->async_read_some(b, std::forward<Token>(token));
    return plain_.async_read_some(b, std::forward<Token>(token));
  }
  // Like send_now(); always 0 with TLS (records are written by the TLS stream).
  size_t write_now(std::string_view data) { return tls_ ? 0 : send_now(plain_, data); }
  // The whole buffer.
  template <typename Token>
  auto async_write(boost::asio::const_buffer b, Token&& token) {
    if (tls_) return boost::asio::async_write(*tls_, b, std::forward<Token>(token));
    return boost::asio::async_write(plain_, b, std::forward<Token>(token));
  }

 private:
  Socket plain_;
  std::shared_ptr<boost::asio::ssl::context> ctx_;
  std::unique_ptr<Tls> tls_;
};

struct BackendConnection {
  ServerStream stream;
  boost::asio::ip::tcp::endpoint endpoint;  // where it is connected (for CancelRequest)
  std::vector<std::pair<std::string, std::string>> parameters;  // ParameterStatus, in order
  int32_t pid = 0;
  int32_t secret = 0;
  std::string leftover;  // bytes read past the first ReadyForQuery (normally none)
};

// `params`: startup parameters besides user and database (application_name, ...). Errors: the
// server's own ErrorResponse (e.g. 28P01, 3D000), or 08006 when no host could be reached.
// `keys`: a client's SCRAM keys, used when the target has no password (pass-through).
boost::asio::awaitable<PgResult<BackendConnection>> connect_backend(
    boost::asio::any_io_executor ex, const config::PostgresTarget& target, const std::string& user,
    const std::string& database, const std::vector<std::pair<std::string, std::string>>& params,
    const auth::ScramKeys* keys = nullptr);

// Sends CancelRequest(pid, secret) to the server on a new connection (best effort).
boost::asio::awaitable<void> send_cancel(boost::asio::any_io_executor ex, boost::asio::ip::tcp::endpoint endpoint,
                                         int32_t pid, int32_t secret);

}  // namespace metagate::pool
