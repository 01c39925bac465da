// A connection from metagate to a PostgreSQL server (a backend of the relay): TCP connect to
// the first host that answers, StartupMessage, authentication as the server asks (cleartext,
// md5, SCRAM-SHA-256), then the server's ParameterStatus and BackendKeyData up to its first
// ReadyForQuery. Also CancelRequest to a server.
#pragma once

#include <boost/asio.hpp>

#include <string>
#include <utility>
#include <vector>

#include "metagate/config/config.hpp"
#include "metagate/util/pg_error.hpp"

namespace metagate::pool {

struct BackendConnection {
  boost::asio::ip::tcp::socket socket;
  boost::asio::ip::tcp::endpoint endpoint;  // where it is connected (for CancelRequest)
  std::vector<std::pair<std::string, std::string>> parameters;  // ParameterStatus, in order
  int32_t pid = 0;
  int32_t secret = 0;
  std::string leftover;  // bytes read past the first ReadyForQuery (normally none)
};

// `params`: startup parameters besides user and database (application_name, ...). Errors: the
// server's own ErrorResponse (e.g. 28P01, 3D000), or 08006 when no host could be reached.
boost::asio::awaitable<PgResult<BackendConnection>> connect_backend(
    boost::asio::any_io_executor ex, const config::PostgresTarget& target, const std::string& user,
    const std::string& database, const std::vector<std::pair<std::string, std::string>>& params);

// Sends CancelRequest(pid, secret) to the server on a new connection (best effort).
boost::asio::awaitable<void> send_cancel(boost::asio::any_io_executor ex, boost::asio::ip::tcp::endpoint endpoint,
                                         int32_t pid, int32_t secret);

}  // namespace metagate::pool
