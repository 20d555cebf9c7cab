// Named network namespaces, like `ip netns add`: a new netns kept alive by a bind mount of its
// nsfs file (under vesseld's state directory), so that an OCI runtime can join it by path and
// vesseld can configure it before the container's process exists.
#pragma once

#include <string>

#include "base/error.h"
#include "daemon/network/rtnetlink.h"

namespace vessel::daemon {

// Creates a new network namespace and bind-mounts it on `path` (a file it creates). An existing
// mount there is replaced: a stale namespace of an earlier run must not be reused.
Result<void> create_netns(const std::string& path);
// Unmounts and deletes `path`; nothing there is fine. The namespace dies with its last user.
void remove_netns(const std::string& path);
// A rtnetlink socket inside the namespace at `path` (opened on a short-lived thread that
// entered it; the socket keeps acting there).
Result<Rtnetlink> rtnetlink_in(const std::string& path);
// Writes a sysctl of the namespace at `path` ("net/ipv4/ip_unprivileged_port_start").
Result<void> netns_sysctl(const std::string& path, const std::string& key, const std::string& value);

}  // namespace vessel::daemon
