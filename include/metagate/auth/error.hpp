// Error values of the auth module: AuthError (what the client is told, as PostgreSQL words it)
// and ConfigError (why a stored secret or an access rule could not be parsed).
#pragma once

#include <string>
#include <string_view>

#include "metagate/util/expected.hpp"
#include "metagate/util/pg_error.hpp"

namespace metagate::auth {

// A failed authentication step. Every one of these ends the connection: PostgreSQL raises
// them during start-up, where ERROR is promoted to FATAL.
struct AuthError {
  std::string sqlstate;    // e.g. 28P01, 28000, 08P01, 0A000
  std::string message;     // sent to the client (ErrorResponse 'M')
  std::string detail;      // sent to the client (ErrorResponse 'D'); often empty
  std::string log_detail;  // server log only, never sent (PG: "Password does not match for user ...")

  // The FATAL ErrorResponse to send.
  PgError to_pg_error() const {
    PgError e = PgError::fatal(sqlstate, message);
    e.detail = detail;
    return e;
  }
};

template <class T>
using AuthResult = Expected<T, AuthError>;
using AuthStatus = Status<AuthError>;

// A stored secret or an hba line that could not be parsed (configuration problem).
struct ConfigError {
  std::string message;
};

// FATAL 28P01 `password authentication failed for user "<user>"`, as PostgreSQL sends for any
// failed password, md5 or SCRAM authentication (the reason goes to log_detail only).
AuthError password_failed(std::string_view user, std::string log_detail = {});

}  // namespace metagate::auth
