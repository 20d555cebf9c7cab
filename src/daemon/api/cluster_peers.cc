#include "daemon/api/cluster_peers.h"

#include "base/log.h"

namespace vessel::daemon {

std::optional<std::string> ClusterPeers::node_of(const std::string& cert_sha256) {
  std::lock_guard lock(mutex_);
  auto found = by_cert_.find(cert_sha256);
  if (found == by_cert_.end() && std::chrono::steady_clock::now() - read_at_ >= std::chrono::seconds(1)) {
    refresh();
    found = by_cert_.find(cert_sha256);
  }
  if (found == by_cert_.end()) return std::nullopt;
  return found->second;
}

void ClusterPeers::refresh() {
  read_at_ = std::chrono::steady_clock::now();
  auto nodes = member_.nodes();
  if (!nodes) {
    log::warn("cluster: cannot read the nodes' TLS identities: {}", nodes.error().to_string());
    return;  // the last known nodes stay admitted
  }
  by_cert_.clear();
  for (const auto& n : *nodes)
    if (!n.info.tls_cert_sha256.empty()) by_cert_[n.info.tls_cert_sha256] = n.info.name;  // itself too: a drain it runs calls its own API
}

}  // namespace vessel::daemon
