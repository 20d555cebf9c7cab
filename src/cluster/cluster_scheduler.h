// One scheduler at a time for the whole cluster (docs/cluster.md#scheduler): every member runs
// one, and each campaigns in etcd's election `vessel/scheduler` on its node's lease; the leader
// places new instances and those orphaned by a dead node (placement_plan.h), every placement a
// compare-and-swap that also requires its leadership key to be the one it won with, so a deposed
// leader that has not noticed yet changes nothing. When its lease goes, so does its leadership.
#pragma once

#include <atomic>
#include <chrono>
#include <thread>

#include "base/stop_signal.h"

#include "cluster/desired_state.h"
#include "cluster/membership.h"
#include "cluster/placement/placement.h"

namespace vessel::cluster {

inline constexpr const char* kSchedulerElection = "vessel/scheduler";

class ClusterScheduler {
 public:
  // Starts campaigning at once from a thread of its own.
  ClusterScheduler(const Membership& member, placement::Policy policy,
                   std::chrono::milliseconds period = std::chrono::milliseconds(250));
  // Stops; a leader resigns so that another takes over without waiting for the lease.
  ~ClusterScheduler();
  ClusterScheduler(const ClusterScheduler&) = delete;
  ClusterScheduler& operator=(const ClusterScheduler&) = delete;

  bool leading() const { return leading_.load(); }

 private:
  void run();
  // Schedules every period while this node leads; returns when it does not any more.
  void lead(const etcd::LeaderKey& key);
  // One pass: read nodes and records, place what needs a node. The number placed.
  Result<size_t> schedule_once(const etcd::LeaderKey& key);
  bool stopping() const { return stop_.stopped(); }

  const Membership& member_;
  DesiredState desired_;
  placement::Policy policy_;
  std::chrono::milliseconds period_;
  std::atomic<bool> leading_{false};
  StopSignal stop_;
  std::thread thread_;
};

}  // namespace vessel::cluster
