// The host's IPv4 routes (/proc/net/route), so that a new network never shadows a network the
// host already reaches.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "daemon/network/cidr.h"

namespace vessel::daemon {

struct HostRoute {
  std::string ifname;
  Cidr dest;
};

// Parses /proc/net/route's text (hex little-endian destination and mask); malformed lines are skipped.
std::vector<HostRoute> parse_proc_net_route(std::string_view text);
Result<std::vector<HostRoute>> host_routes();

}  // namespace vessel::daemon
