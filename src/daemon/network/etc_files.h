// The /etc/resolv.conf and /etc/hosts vesseld generates for each container on a bridge network
// and bind-mounts over the image's (docs/daemon/networks.md, names).
#pragma once

#include <string>

#include "daemon/network/cidr.h"

namespace vessel::daemon {

// nameserver: the network's gateway, where vesseld's DNS server answers.
std::string render_resolv_conf(Ipv4 gateway);
// localhost, and the instance's own name on its address.
std::string render_hosts(const std::string& name, Ipv4 address);

}  // namespace vessel::daemon
