// Address allocation inside a network's subnet. The store keeps which instance holds which
// address (so allocations survive a vesseld restart and are freed with the instance); this is
// the pure choice of the next free one.
#pragma once

#include <optional>
#include <vector>

#include "daemon/network/cidr.h"

namespace vessel::daemon {

// The lowest address of `subnet` that is neither its network nor broadcast address, nor the
// gateway, nor in `taken`; none when the subnet is full.
std::optional<Ipv4> pick_address(const Cidr& subnet, Ipv4 gateway, const std::vector<Ipv4>& taken);

// A free /24 for a network created without --subnet: the first of 10.89.0.0/24 .. 10.255.255.0/24
// that overlaps nothing in `used` (podman's choice of range).
std::optional<Cidr> pick_subnet(const std::vector<Cidr>& used);

}  // namespace vessel::daemon
