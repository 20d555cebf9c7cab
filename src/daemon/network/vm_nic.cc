#include "daemon/network/vm_nic.h"

namespace vessel::daemon {

VmNic vm_nic(const std::string& tap, const std::string& bridge, Ipv4 address, Ipv4 gateway, unsigned prefix) {
  uint32_t a = address.value;
  return VmNic{tap, bridge,
               fmt::format("06:00:{:02x}:{:02x}:{:02x}:{:02x}", a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff, a & 0xff),
               fmt::format("ip={}::{}:{}::eth0:off", to_string(address), to_string(gateway), netmask_string(prefix))};
}

json::Json vm_network_interface(const VmNic& nic) {
  return {{"iface_id", "eth0"}, {"host_dev_name", nic.tap}, {"guest_mac", nic.mac}};
}

std::string with_kernel_arg(const std::string& cmdline, const std::string& arg) {
  if (cmdline.empty()) return arg;
  if (cmdline.rfind("-- ", 0) == 0) return arg + " " + cmdline;
  auto dashes = cmdline.find(" -- ");
  if (dashes == std::string::npos) return cmdline + " " + arg;
  return cmdline.substr(0, dashes) + " " + arg + cmdline.substr(dashes);
}

}  // namespace vessel::daemon
