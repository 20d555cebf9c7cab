// vesseld's default seccomp profile for containers, with Docker's semantics: every system call
// not listed fails with EPERM; the list is Docker's default allowlist (moby's
// profiles/seccomp/default.json), with its argument filters (clone without namespace flags,
// socket without AF_ALG and AF_VSOCK, personality with the harmless personas only) and the calls
// that are allowed only when the container holds a capability.
#pragma once

#include <string>
#include <vector>

#include "base/json.h"

namespace vessel::daemon {

// The OCI `linux.seccomp` section for a container holding `capabilities` ("CAP_SYS_ADMIN", ...).
json::Json default_seccomp_profile(const std::vector<std::string>& capabilities);

}  // namespace vessel::daemon
