// Connecting and authenticating to a PostgreSQL server.
#include "metagate/pool/connect.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <spdlog/spdlog.h>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>

#include "metagate/auth/client.hpp"
#include "metagate/wire/backend.hpp"

namespace metagate::pool {

namespace asio = boost::asio;

size_t send_now(asio::ip::tcp::socket& s, std::string_view data) {
  if (data.empty() || !s.is_open()) return 0;
  ssize_t n;
  do {
    n = ::send(s.native_handle(), data.data(), data.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  return n > 0 ? static_cast<size_t>(n) : 0;
}

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

// Asio's reactor keeps a socket registered for EPOLLOUT once it has waited to write (as
// async_connect does), so every ACK of a query sent later would wake an io thread for nothing.
// The connected descriptor is handed to a fresh socket object, registered for reads only;
// a write that ever has to wait registers EPOLLOUT again on its own.
void reregister_for_reads(tcp::socket& socket, const asio::any_io_executor& ex) {
  boost::system::error_code ec;
  auto proto = socket.local_endpoint(ec).protocol();
  if (ec) return;
  auto fd = socket.release(ec);
  if (ec) return;
  tcp::socket fresh(ex);
  fresh.assign(proto, fd, ec);
  if (ec) {
    ::close(fd);
    return;
  }
  socket = std::move(fresh);
}

}  // namespace

namespace {

// TLS contexts by what they load (CA, client certificate, whether the peer is verified):
// loading a CA store costs milliseconds, so each combination is built once per process.
struct TlsKey {
  std::string rootcert, cert, key;
  bool verify = false;
  auto operator<=>(const TlsKey&) const = default;
};

PgResult<std::shared_ptr<asio::ssl::context>> tls_context(const config::PostgresTarget& t) {
  static std::mutex mu;
  static std::map<TlsKey, std::shared_ptr<asio::ssl::context>> cache;
  // As libpq: verify-ca and verify-full check the chain; so does require when a CA file is given.
  TlsKey key{t.sslrootcert, t.sslcert, t.sslkey,
             t.sslmode == "verify-ca" || t.sslmode == "verify-full" || (t.sslmode == "require" && !t.sslrootcert.empty())};
  std::lock_guard lk(mu);
  if (auto it = cache.find(key); it != cache.end()) return it->second;
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  boost::system::error_code ec;
  // libpq's default ssl_min_protocol_version: TLS 1.2.
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 | asio::ssl::context::no_sslv3 |
                       asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1,
                   ec);
  if (key.verify) {
    ctx->set_verify_mode(asio::ssl::verify_peer, ec);
    if (key.rootcert.empty() || key.rootcert == "system") ctx->set_default_verify_paths(ec);
    else ctx->load_verify_file(key.rootcert, ec);
    if (ec) return unexpected(connect_error("could not read root certificate file \"" + key.rootcert + "\": " + ec.message()));
  } else {
    ctx->set_verify_mode(asio::ssl::verify_none, ec);
  }
  if (!key.cert.empty()) {
    ctx->use_certificate_chain_file(key.cert, ec);
    if (ec) return unexpected(connect_error("could not load client certificate file \"" + key.cert + "\": " + ec.message()));
    ctx->use_private_key_file(key.key, asio::ssl::context::pem, ec);
    if (ec) return unexpected(connect_error("could not load private key file \"" + key.key + "\": " + ec.message()));
  }
  cache.emplace(key, ctx);
  return ctx;
}

// libpq's verify-full check of the server certificate's names against the host connected to.
std::optional<std::string> host_mismatch(SSL* ssl, const std::string& host) {
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (!cert) return "server certificate for host \"" + host + "\" is missing";
  boost::system::error_code ec;
  (void)asio::ip::make_address(host, ec);  // only: is the host an IP address?
  bool match = !ec ? X509_check_ip_asc(cert, host.c_str(), 0) == 1
                   : X509_check_host(cert, host.c_str(), host.size(), X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, nullptr) == 1;
  std::optional<std::string> why;
  if (!match) {
    // Name the certificate's first name (subjectAltName, else the common name), as libpq does.
    std::vector<std::string> names;
    if (auto* sans = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr))) {
      for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
        const GENERAL_NAME* g = sk_GENERAL_NAME_value(sans, i);
        if (g->type == GEN_DNS) {
          names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(g->d.dNSName)),
                             static_cast<size_t>(ASN1_STRING_length(g->d.dNSName)));
        } else if (g->type == GEN_IPADD && ASN1_STRING_length(g->d.iPAddress) == 4) {
          const unsigned char* b = ASN1_STRING_get0_data(g->d.iPAddress);
          names.push_back(asio::ip::address_v4({b[0], b[1], b[2], b[3]}).to_string());
        }
      }
      GENERAL_NAMES_free(sans);
    }
    if (names.empty()) {
      char cn[256] = {0};
      if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn) > 0) names.emplace_back(cn);
    }
    if (names.empty()) {
      why = "could not get server's host name from server certificate";
    } else if (names.size() == 1) {
      why = "server certificate for \"" + names[0] + "\" does not match host name \"" + host + "\"";
    } else {
      size_t others = names.size() - 1;
      why = "server certificate for \"" + names[0] + "\" (and " + std::to_string(others) +
            (others == 1 ? " other name" : " other names") + ") does not match host name \"" + host + "\"";
    }
  }
  X509_free(cert);
  return why;
}

// SSLRequest, then (on 'S') the TLS handshake. Returns: nullopt = TLS is up; "" = the server
// declined ('N'); else why it failed.
awaitable<std::optional<std::string>> negotiate_tls(ServerStream& st, const std::string& host,
                                                    const config::PostgresTarget& target,
                                                    const std::shared_ptr<asio::ssl::context>& ctx) {
  using namespace asio::experimental::awaitable_operators;
  std::string req;
  put32(req, 8);
  put32(req, 80877103);
  auto [wec, wn] = co_await st.async_write(asio::buffer(req), asio::as_tuple(use_awaitable));
  if (wec) co_return "could not send SSL negotiation packet: " + wec.message();
  // Exactly one byte: nothing the server sent after it may be read before the handshake.
  char answer = 0;
  auto [rec, rn] = co_await asio::async_read(st.socket(), asio::buffer(&answer, 1), asio::as_tuple(use_awaitable));
  if (rec) co_return "the server closed the connection during SSL negotiation";
  if (answer == 'N') co_return std::string();
  if (answer != 'S') co_return "received invalid response to SSL negotiation: " + std::string(1, answer);
  auto& tls = st.start_tls(ctx);
  boost::system::error_code ec;
  (void)asio::ip::make_address(host, ec);  // SNI only for a host name, not an IP address
  if (ec && target.sslsni) SSL_set_tlsext_host_name(tls.native_handle(), host.c_str());
  asio::steady_timer timer(st.socket().get_executor(), std::chrono::seconds(target.connect_timeout_s));
  auto r = co_await (tls.async_handshake(asio::ssl::stream_base::client, asio::as_tuple(use_awaitable)) ||
                     timer.async_wait(asio::as_tuple(use_awaitable)));
  if (r.index() == 1) co_return "SSL handshake timed out";
  if (auto [hec] = std::get<0>(r); hec) {
    std::string m = hec.message();
    if (auto paren = m.find(" ("); paren != std::string::npos) m.resize(paren);  // "(SSL routines)"
    co_return "SSL error: " + m;
  }
  if (target.sslmode == "verify-full")
    if (auto why = host_mismatch(tls.native_handle(), host)) co_return *why;
  co_return std::nullopt;
}

// TCP connect to one host, within connect_timeout.
awaitable<PgResult<tcp::socket>> connect_tcp(asio::any_io_executor ex, const config::PostgresTarget::Host& h,
                                             int timeout_s) {
  using namespace asio::experimental::awaitable_operators;
  tcp::resolver resolver(ex);
  auto [rec, results] = co_await resolver.async_resolve(h.host, std::to_string(h.port), asio::as_tuple(use_awaitable));
  if (rec) co_return unexpected(connect_error(h.host + ": " + rec.message()));
  tcp::socket socket(ex);
  asio::steady_timer timer(ex, std::chrono::seconds(timeout_s));
  auto r = co_await (asio::async_connect(socket, results, asio::as_tuple(use_awaitable)) ||
                     timer.async_wait(asio::as_tuple(use_awaitable)));
  if (r.index() == 1) co_return unexpected(connect_error(h.host + ":" + std::to_string(h.port) + ": timeout"));
  if (auto [cec, ep] = std::get<0>(r); cec)
    co_return unexpected(connect_error(h.host + ":" + std::to_string(h.port) + ": " + cec.message()));
  boost::system::error_code ec;
  socket.set_option(tcp::no_delay(true), ec);
  reregister_for_reads(socket, ex);
  co_return std::move(socket);
}

// StartupMessage, authentication, and the server's reports up to its first ReadyForQuery.
awaitable<PgResult<BackendConnection>> startup(ServerStream stream, const config::PostgresTarget& target,
                                               const std::string& user, const std::string& database,
                                               const std::vector<std::pair<std::string, std::string>>& params,
                                               const auth::ScramKeys* keys);

// How one attempt at one host ended.
enum class Failure { kNone, kUnreachable, kTls, kServer };

}  // namespace

awaitable<PgResult<BackendConnection>> connect_backend(asio::any_io_executor ex, const config::PostgresTarget& target,
                                                       const std::string& user, const std::string& database,
                                                       const std::vector<std::pair<std::string, std::string>>& params,
                                                       const auth::ScramKeys* keys) {
  const std::string& mode = target.sslmode;
  const bool tls_required = mode == "require" || mode == "verify-ca" || mode == "verify-full";
  std::shared_ptr<asio::ssl::context> ctx;
  if (mode != "disable") {
    auto c = tls_context(target);
    if (!c) co_return unexpected(c.error());
    ctx = *c;
  }
  PgError last = connect_error("no host");
  for (const auto& h : target.hosts) {
    // libpq's order: allow tries without TLS first, prefer and stricter modes with TLS first;
    // allow and prefer then try the other way once.
    std::vector<bool> tries;
    if (mode == "disable") tries = {false};
    else if (mode == "allow") tries = {false, true};
    else if (mode == "prefer") tries = {true, false};
    else tries = {true};
    for (size_t i = 0; i < tries.size(); ++i) {
      auto sock = co_await connect_tcp(ex, h, target.connect_timeout_s);
      if (!sock) {
        last = sock.error();
        break;  // this host is unreachable: the next one
      }
      tcp::endpoint ep = sock->remote_endpoint();
      ServerStream st(std::move(*sock));
      Failure failed = Failure::kNone;
      if (tries[i]) {
        auto why = co_await negotiate_tls(st, h.host, target, ctx);
        if (why && why->empty()) {
          // Declined: plain text on this connection, unless TLS is required.
          if (tls_required) {
            last = connect_error(h.host + ":" + std::to_string(h.port) + ": server does not support SSL, but SSL was required");
            failed = Failure::kTls;
          } else if (mode == "allow") {
            failed = Failure::kTls;  // the plain attempt's refusal stands
          }
        } else if (why) {
          last = connect_error(h.host + ":" + std::to_string(h.port) + ": " + *why);
          failed = Failure::kTls;
        }
      }
      if (failed == Failure::kNone) {
        auto r = co_await startup(std::move(st), target, user, database, params, keys);
        if (r) {
          r->endpoint = ep;
          co_return r;
        }
        last = r.error();
        // The server's own refusal (bad password, no such database) ends the attempt, as in
        // libpq; with allow, a refusal of the plain connection is retried with TLS.
        failed = r.error().sqlstate == sqlstate::kConnectionFailure ? Failure::kUnreachable : Failure::kServer;
        if (failed == Failure::kServer && !(mode == "allow" && !tries[i])) co_return unexpected(std::move(last));
      }
      if (failed == Failure::kUnreachable) break;
      // kTls (or allow's refused plain attempt): the next way of this host, if any.
    }
  }
  co_return unexpected(std::move(last));
}

namespace {

awaitable<PgResult<BackendConnection>> startup(ServerStream stream, const config::PostgresTarget& target,
                                               const std::string& user, const std::string& database,
                                               const std::vector<std::pair<std::string, std::string>>& params,
                                               const auth::ScramKeys* keys) {
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
  BackendConnection conn{std::move(stream), {}, {}, 0, 0, {}};
  for (;;) {
    if (!out.empty()) {
      auto [wec, n] = co_await conn.stream.async_write(asio::buffer(out), asio::as_tuple(use_awaitable));
      out.clear();
      if (wec) co_return unexpected(connect_error(wec.message()));
    }
    RawFrame fr;
    long size = backend_frame(in, start, 1 << 20, fr);
    if (size < 0) co_return unexpected(connect_error("protocol error from the server"));
    if (size == 0) {
      size_t old = in.size();
      in.resize(old + 16384);
      auto [rec, n] = co_await conn.stream.async_read_some(asio::buffer(in.data() + old, 16384), asio::as_tuple(use_awaitable));
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
        const bool with_keys = target.password.empty() && keys;
        auto need_password = [&]() -> bool { return !target.password.empty(); };
        if ((code == 3 || code == 5) && with_keys)
          co_return unexpected(connect_error(std::string("the server asks for ") + (code == 3 ? "a password in clear" : "md5") +
                                             ", and metagate holds only the client's SCRAM keys: authentication "
                                             "pass-through without a password needs scram-sha-256 on the server"));
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
          if (!need_password() && !with_keys)
            co_return unexpected(connect_error("the server asks for a password and none is configured"));
          if (std::string_view(rest).find("SCRAM-SHA-256") == std::string_view::npos)
            co_return unexpected(connect_error("the server offers no SASL mechanism metagate supports"));
          if (with_keys) scram.emplace(*keys);
          else scram.emplace(target.password);
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

}  // namespace

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
