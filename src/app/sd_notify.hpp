// systemd's notification protocol (sd_notify(3)) without libsystemd: one datagram to the
// AF_UNIX socket named by $NOTIFY_SOCKET ("@name" for the abstract namespace). A no-op when
// the variable is unset, so the daemon behaves the same outside systemd.
#pragma once

#include <string_view>

namespace metagate::app {

// Sends `state` (e.g. "READY=1\nSTATUS=listening"); false when there is no socket or the send
// failed (the daemon goes on either way).
bool sd_notify(std::string_view state);

}  // namespace metagate::app
