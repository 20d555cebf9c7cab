// A network for the cluster tests (docs/cluster.md#fault-checker): each node's vesseld in its own
// network namespace, joined by a veth to a bridge in the test's namespace that carries etcd's
// addresses. Cutting a node off etcd is then an nftables rule in the node's namespace. Built from
// `ip` and `nft`, held under a lock file (one such network on the machine at a time: the names
// and addresses are fixed), removed when the object goes.
//
//   bridge vslc-br   10.213.0.1 .. 10.213.0.K   (etcd member k)
//   netns vslc-nN    10.213.0.(10+N) on vslc-pN, its veth's host end vslc-hN on the bridge
#pragma once

#include <string>
#include <vector>

#include "base/fd.h"

namespace vessel::test {

class ClusterNetwork {
 public:
  ClusterNetwork() = default;
  ~ClusterNetwork();
  ClusterNetwork(const ClusterNetwork&) = delete;
  ClusterNetwork& operator=(const ClusterNetwork&) = delete;

  // The bridge with `members` etcd addresses and `nodes` namespaces; false with `error` set.
  bool create(int members, int nodes, std::string* error);
  // etcd member k's address (1-based).
  static std::string member_address(int k) { return "10.213.0." + std::to_string(k); }
  // The command prefix that runs a program in node n's namespace (1-based).
  std::vector<std::string> launcher(int n) const;
  // Drops every packet between node n and etcd (both ways), or lets them through again.
  bool partition(int n, bool cut);

 private:
  Fd lock_;
  int members_ = 0, nodes_ = 0;
  bool made_ = false;
};

}  // namespace vessel::test
