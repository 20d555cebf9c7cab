// What a VM on a bridge network is given (docs/daemon/networks.md, VMs): its tap on the host,
// a MAC derived from its address, the kernel's `ip=` argument the default guest's /init applies,
// and the body of vessel-vmm's (Firecracker's) PUT /network-interfaces/eth0.
#pragma once

#include <string>

#include "base/json.h"
#include "daemon/network/cidr.h"

namespace vessel::daemon {

struct VmNic {
  std::string tap;     // the host's end, on `bridge`
  std::string bridge;
  std::string mac;     // 06:00:<the address's four bytes>: locally administered, unique per network
  std::string ip_arg;  // ip=CLIENT::GATEWAY:NETMASK::eth0:off
};

VmNic vm_nic(const std::string& tap, const std::string& bridge, Ipv4 address, Ipv4 gateway, unsigned prefix);
// {"iface_id": "eth0", "host_dev_name": TAP, "guest_mac": MAC}
json::Json vm_network_interface(const VmNic& nic);
// The kernel command line with `arg` before the guest command's " -- " (the default guest's
// /init runs what follows it), else at the end.
std::string with_kernel_arg(const std::string& cmdline, const std::string& arg);

}  // namespace vessel::daemon
