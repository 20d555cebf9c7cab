#include "daemon/network/nft_ruleset.h"

namespace vessel::daemon {

std::string render_delete(const std::string& table) {
  // "table" first: deleting a table that does not exist is an error, creating one is not.
  return fmt::format("table ip {0}\ndelete table ip {0}\n", table);
}

std::string render_ruleset(const std::string& table, const std::vector<RulesetNetwork>& networks,
                           const std::vector<RulesetPort>& ports) {
  std::string out = render_delete(table);
  out += fmt::format("table ip {} {{\n", table);

  out += "  chain forward {\n    type filter hook forward priority filter; policy accept;\n";
  for (const auto& a : networks)
    for (const auto& b : networks)
      if (a.bridge != b.bridge) out += fmt::format("    iifname \"{}\" oifname \"{}\" drop\n", a.bridge, b.bridge);
  for (const auto& n : networks)
    if (n.internal)
      out += fmt::format("    iifname \"{0}\" oifname != \"{0}\" drop\n    oifname \"{0}\" iifname != \"{0}\" drop\n", n.bridge);
  out += "  }\n";

  out += "  chain published {\n";
  for (const auto& p : ports) {
    std::string match = p.port.host_ip.empty() ? "" : fmt::format("ip daddr {} ", p.port.host_ip);
    out += fmt::format("    {}{} dport {} dnat to {}:{}\n", match, p.port.protocol, p.port.host_port, to_string(p.guest),
                       p.port.guest_port);
  }
  out += "  }\n";
  out += "  chain prerouting {\n    type nat hook prerouting priority -100; policy accept;\n"
         "    fib daddr type local jump published\n  }\n";
  out += "  chain output {\n    type nat hook output priority -100; policy accept;\n"
         "    fib daddr type local jump published\n  }\n";

  out += "  chain postrouting {\n    type nat hook postrouting priority 100; policy accept;\n";
  for (const auto& n : networks) {
    if (!n.internal)
      out += fmt::format("    ip saddr {} oifname != \"{}\" masquerade\n", to_string(n.subnet), n.bridge);
    out += fmt::format("    oifname \"{}\" ip saddr 127.0.0.0/8 masquerade\n", n.bridge);
    out += fmt::format("    oifname \"{}\" ct status dnat ip saddr {} masquerade\n", n.bridge, to_string(n.subnet));
  }
  out += "  }\n}\n";
  return out;
}

}  // namespace vessel::daemon
