#include "cluster_network.h"

#include <fcntl.h>
#include <sys/file.h>

#include "daemon_fixture.h"

namespace vessel::test {

namespace {
constexpr const char* kBridge = "vslc-br";
std::string netns(int n) { return "vslc-n" + std::to_string(n); }

bool sh(const std::vector<std::string>& argv, std::string* error) {
  auto r = run(argv, std::chrono::seconds(20));
  if (r.status == 0) return true;
  std::string line;
  for (const auto& a : argv) line += a + " ";
  if (error) *error = line + ": " + r.err;
  return false;
}

// What a crashed earlier run may have left.
void remove_all(int nodes) {
  for (int n = 1; n <= nodes; ++n) run({"ip", "netns", "del", netns(n)});
  run({"ip", "link", "del", kBridge});
}
}  // namespace

bool ClusterNetwork::create(int members, int nodes, std::string* error) {
  lock_ = Fd(::open("/tmp/vessel-cluster-network.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!lock_ || ::flock(lock_.get(), LOCK_EX) < 0) return *error = "lock /tmp/vessel-cluster-network.lock", false;
  members_ = members, nodes_ = nodes;
  remove_all(8);
  made_ = true;
  if (!sh({"ip", "link", "add", kBridge, "type", "bridge"}, error) || !sh({"ip", "link", "set", kBridge, "up"}, error))
    return false;
  for (int k = 1; k <= members; ++k)
    if (!sh({"ip", "addr", "add", member_address(k) + "/24", "dev", kBridge}, error)) return false;
  for (int n = 1; n <= nodes; ++n) {
    std::string host = "vslc-h" + std::to_string(n), peer = "vslc-p" + std::to_string(n);
    std::string address = "10.213.0." + std::to_string(10 + n) + "/24";
    if (!sh({"ip", "netns", "add", netns(n)}, error) ||
        !sh({"ip", "link", "add", host, "type", "veth", "peer", "name", peer, "netns", netns(n)}, error) ||
        !sh({"ip", "link", "set", host, "master", kBridge, "up"}, error) ||
        !sh({"ip", "-n", netns(n), "link", "set", "lo", "up"}, error) ||
        !sh({"ip", "-n", netns(n), "addr", "add", address, "dev", peer}, error) ||
        !sh({"ip", "-n", netns(n), "link", "set", peer, "up"}, error))
      return false;
  }
  return true;
}

ClusterNetwork::~ClusterNetwork() {
  if (made_) remove_all(nodes_);
}

std::vector<std::string> ClusterNetwork::launcher(int n) const {
  // nsenter, not `ip netns exec`: that one also mounts a new /sys, which hides the cgroup trees.
  return {"nsenter", "--net=/run/netns/" + netns(n)};
}

bool ClusterNetwork::partition(int n, bool cut) {
  std::vector<std::string> nft{"ip", "netns", "exec", netns(n), "nft"};
  if (!cut) {
    nft.insert(nft.end(), {"delete", "table", "inet", "vslc_partition"});
    return sh(nft, nullptr);
  }
  nft.insert(nft.end(), {"-f", "-"});
  std::string rules =
      "table inet vslc_partition {\n"
      "  chain in { type filter hook input priority 0; ip saddr 10.213.0.1-10.213.0.9 drop; }\n"
      "  chain out { type filter hook output priority 0; ip daddr 10.213.0.1-10.213.0.9 drop; }\n"
      "}\n";
  std::string path = "/tmp/vslc-partition-" + std::to_string(::getpid()) + ".nft";
  if (!write_file(path, rules)) return false;
  nft.back() = path;
  bool ok = sh(nft, nullptr);
  ::unlink(path.c_str());
  return ok;
}

}  // namespace vessel::test
