// Is a host port free for publishing? A process on the host listening there would silently lose
// the connections vessel's DNAT takes, so vesseld asks the kernel by binding it once.
#pragma once

#include "base/error.h"
#include "daemon/spec/port_spec.h"

namespace vessel::daemon {

// EBUSY (409) naming the port when a socket of the host holds it.
Result<void> check_host_port_free(const PortSpec& port);

}  // namespace vessel::daemon
