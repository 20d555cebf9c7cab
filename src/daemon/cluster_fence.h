// Self-fencing (docs/cluster.md#failover): a node that has not renewed its lease for nearly a
// TTL kills its clustered instances' local copies before etcd can expire the lease, so that the
// scheduler's failover (which waits for that expiry) never makes a second running copy. It checks
// ten times a second; the margin before the earliest expiry is a quarter of the TTL, at least
// 500 ms. The copies it killed start again once the lease is renewed, if they are still this
// node's at the same generation (cluster_reconciler.h).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "cluster/membership.h"
#include "daemon/instances/manager.h"

namespace vessel::daemon {

class ClusterFence {
 public:
  ClusterFence(Manager& manager, const cluster::Membership& member);
  ~ClusterFence();
  ClusterFence(const ClusterFence&) = delete;
  ClusterFence& operator=(const ClusterFence&) = delete;

  // The lease is renewed with room to spare: this node may start clustered instances.
  bool safe() const;
  // The copies fenced since their last start here.
  std::set<std::string> fenced() const;
  void forget(const std::string& name);
  // Kills every running clustered copy now (vesseld leaving the cluster: they will move).
  void fence();

 private:
  void run();

  Manager& manager_;
  const cluster::Membership& member_;
  std::chrono::milliseconds margin_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool fencing_ = false;  // logged once per outage
  std::set<std::string> fenced_;
  std::thread thread_;
};

}  // namespace vessel::daemon
