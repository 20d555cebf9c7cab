// Which TLS clients are the cluster's own nodes (docs/cluster.md#forwarding): a node that serves
// --listen publishes the SHA-256 of its certificate in its record, and the other nodes admit that
// certificate as Role::ClusterNode, with no `vessel trust add`. The records are read from etcd
// at most once a second (an unknown certificate may be a node that just joined), so a stranger
// knocking costs etcd nothing more.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "cluster/membership.h"

namespace vessel::daemon {

class ClusterPeers {
 public:
  explicit ClusterPeers(const cluster::Membership& member) : member_(member) {}
  // The name of the node whose certificate this is (hex SHA-256 of its DER); nullopt when no
  // node's record names it (or etcd could not be read and no earlier answer did).
  std::optional<std::string> node_of(const std::string& cert_sha256);

 private:
  void refresh();
  const cluster::Membership& member_;
  std::mutex mutex_;
  std::map<std::string, std::string> by_cert_;  // certificate hash -> node name
  std::chrono::steady_clock::time_point read_at_{};
};

}  // namespace vessel::daemon
