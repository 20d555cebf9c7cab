// vessel's nftables table, as one text the nft language reads: generated whole from vesseld's
// state (its networks, the running instances' published ports) and replaced atomically, so a
// restarted vesseld rebuilds it from SQLite and nothing outside the table is ever touched.
#pragma once

#include <string>
#include <vector>

#include "daemon/network/cidr.h"
#include "daemon/spec/port_spec.h"

namespace vessel::daemon {

struct RulesetNetwork {
  std::string bridge;
  Cidr subnet;
  bool internal = false;
};

struct RulesetPort {
  PortSpec port;
  Ipv4 guest;  // the instance's address
};

// The commands that replace table `ip <table>` with one holding:
// - forward: drop between two different vessel bridges, and in or out of an internal one;
// - nat prerouting/output: DNAT of the published ports on the host's local addresses;
// - nat postrouting: masquerade of each non-internal subnet leaving its bridge, of loopback
//   sources DNATed onto a bridge (curl 127.0.0.1:PORT), and of hairpin traffic.
std::string render_ruleset(const std::string& table, const std::vector<RulesetNetwork>& networks,
                           const std::vector<RulesetPort>& ports);
// Just the deletion of the table (when vesseld's last network is gone).
std::string render_delete(const std::string& table);

}  // namespace vessel::daemon
