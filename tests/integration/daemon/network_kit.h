// What network tests share: names, subnets and an nftables table of their own (nothing a real
// vesseld or a parallel test process uses), free host ports, and the cleanup of what a test daemon
// leaves on the host.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "base/fd.h"
#include "daemon_fixture.h"

namespace vessel::test {

// Names and subnets of this test process: nothing a real vesseld (vessel0, 10.88.0.0/16, table
// vessel) or a parallel test process uses.
struct Names {
  unsigned id = static_cast<unsigned>(::getpid()) % 0xfffff;
  std::string prefix = fmt::format("vt{:05x}", id);  // 7 bytes: bridge and veth prefix
  std::string default_bridge = prefix + "d0";
  std::string table = "vessel_test_" + std::to_string(::getpid());
  unsigned octet = free_octet();  // 10.<octet>.N.0/24
  // 10.160-223.x.x, from a pid-derived start, the first /16 no route of the host touches (a
  // parallel test process's bridges included).
  static unsigned free_octet() {
    auto routes = read_file("/proc/net/route").value_or("");
    for (unsigned i = 0; i < 64; ++i) {
      unsigned o = 160 + (static_cast<unsigned>(::getpid()) + i) % 64;
      // /proc/net/route prints the destination little-endian: 10.o.x.x ends in "<o hex>0A".
      if (routes.find(fmt::format("{:02X}0A\t", o)) == std::string::npos) return o;
    }
    return 160 + static_cast<unsigned>(::getpid()) % 64;
  }
  std::string subnet(unsigned n) const { return fmt::format("10.{}.{}.0/24", octet, n); }
};

// vesseld's flags that put its default network on this process's names.
inline std::vector<std::string> network_flags(const Names& names) {
  return {"--default-network", "vessel", "--default-subnet", names.subnet(0), "--default-bridge", names.default_bridge,
          "--bridge-prefix", names.prefix, "--veth-prefix", names.prefix, "--nft-table", names.table};
}

inline bool port_free(uint16_t port) {
  Fd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  return ::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
}

// 8080 as in the documentation, unless something on this host holds it.
inline uint16_t free_port(uint16_t from) {
  for (uint16_t p = from; p < from + 200; ++p)
    if (port_free(p)) return p;
  return 0;
}

inline std::vector<std::string> links_with_prefix(const std::string& prefix) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/sys/class/net", ec))
    if (e.path().filename().string().rfind(prefix, 0) == 0) out.push_back(e.path().filename().string());
  return out;
}

// Destroyed after the daemon (which removes its instances and stops): the host objects it left.
struct HostCleanup {
  const Names& names;
  ~HostCleanup() {
    run({"nft", "delete", "table", "ip", names.table});
    for (const auto& l : links_with_prefix(names.prefix)) run({"ip", "link", "del", l});
  }
};

}  // namespace vessel::test
