// A network as a client asks for it (POST /v1/networks) and as vesseld keeps it: a Linux bridge
// with an IPv4 subnet, its gateway address on the bridge, and whether it reaches the outside.
// Parsed, then validated against the other networks and the host's routes, before anything is made.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/json.h"
#include "daemon/network/cidr.h"
#include "daemon/network/host_routes.h"

namespace vessel::daemon {

// The names an instance's network field may hold besides a network's name.
inline constexpr std::string_view kNetworkNone = "none";  // a private netns with lo only
inline constexpr std::string_view kNetworkHost = "host";  // the host's netns

struct NetworkRequest {
  std::string name;
  std::optional<Cidr> subnet;   // none: vesseld picks a free /24 (networks.h)
  std::optional<Ipv4> gateway;  // none: the subnet's first address
  bool internal = false;        // no NAT to the outside, no forwarding off the bridge
};

struct NetworkSpec {
  std::string name;
  Cidr subnet;
  Ipv4 gateway;
  bool internal = false;
  std::string bridge;  // the Linux bridge's name (at most 15 bytes)
};

// {"name": ..., "subnet": "10.89.0.0/24", "gateway": "10.89.0.1", "internal": false}
Result<NetworkRequest> parse_network_request(std::string_view body);

// The checks of a complete spec against the world: a prefix of /8../30, a gateway inside the
// subnet that is neither its network nor its broadcast address, no overlap with `others` nor with
// a host route that is not on one of vessel's own bridges (`own_bridges`).
Result<void> validate_network(const NetworkSpec& spec, const std::vector<NetworkSpec>& others,
                              const std::vector<HostRoute>& routes, const std::vector<std::string>& own_bridges);

json::Json to_json(const NetworkSpec& spec);
Result<NetworkSpec> network_from_json(std::string_view text);

}  // namespace vessel::daemon
