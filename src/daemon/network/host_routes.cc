#include "daemon/network/host_routes.h"

#include <arpa/inet.h>

#include <bit>
#include <cstdlib>
#include <sstream>

#include "base/fd.h"

namespace vessel::daemon {

namespace {

bool hex32(const std::string& s, uint32_t& out) {
  if (s.empty() || s.size() > 8 || s.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos) return false;
  out = static_cast<uint32_t>(std::strtoul(s.c_str(), nullptr, 16));
  return true;
}

}  // namespace

std::vector<HostRoute> parse_proc_net_route(std::string_view text) {
  std::vector<HostRoute> out;
  std::istringstream in{std::string(text)};
  std::string line;
  std::getline(in, line);  // the header
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string iface, dest, gw, flags, refcnt, use, metric, mask;
    if (!(f >> iface >> dest >> gw >> flags >> refcnt >> use >> metric >> mask)) continue;
    uint32_t d, m;
    if (!hex32(dest, d) || !hex32(mask, m)) continue;
    d = ntohl(d);  // the kernel prints the raw (network order) word in host order
    m = ntohl(m);
    unsigned prefix = static_cast<unsigned>(std::popcount(m));
    if (Cidr{{}, prefix}.mask() != m) continue;  // not a contiguous mask
    out.push_back({iface, Cidr{Ipv4{d & m}, prefix}});
  }
  return out;
}

Result<std::vector<HostRoute>> host_routes() {
  auto text = TRY(read_file("/proc/net/route"));
  return parse_proc_net_route(text);
}

}  // namespace vessel::daemon
