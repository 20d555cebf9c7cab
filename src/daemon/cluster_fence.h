// Self-fencing (docs/cluster.md#failover): a node that has not renewed its lease for nearly a
// TTL kills its clustered instances' local copies before etcd can expire the lease, so that the
// scheduler's failover (which waits for that expiry) never makes a second running copy. It checks
// ten times a second; the margin before the earliest expiry is a quarter of the TTL, at least
// 500 ms. It keeps the running copies' processes (PID and start time) at hand while the lease is
// safe, so that the kill itself needs neither the store nor the instance manager's locks (both
// may be slow when the host is, which is when leases are lost); the manager then records the
// exits. The copies it killed start again once the lease is renewed, if they are still this
// node's at the same generation (cluster_reconciler.h). Each time it reads them while the lease is
// safe it hands them to the node's watchdog (cluster_watchdog.h) with a later deadline than its
// own (half the margin before the expiry), so the watchdog acts only when this thread could not.
// It hands it each copy's cgroup too, and, as the Manager's start guard (start_guard.h), the
// cgroup of each clustered copy about to start, before its first process exists: vesseld killed
// in the middle of a start leaves no copy the watchdog does not know of. Such a start is refused
// while the lease is not safe, and when the page has no room for its cgroup.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/stop_signal.h"
#include "cluster/membership.h"
#include "daemon/cluster_watchdog.h"
#include "daemon/instances/manager.h"
#include "daemon/instances/start_guard.h"

namespace vessel::daemon {

class ClusterFence : public StartGuard {
 public:
  // `watchdog` (may be null: no watchdog) is owned and stopped with the fence. The fence is
  // `manager`'s start guard while it exists.
  ClusterFence(Manager& manager, const cluster::Membership& member, std::unique_ptr<ClusterWatchdog> watchdog);
  ~ClusterFence() override;
  ClusterFence(const ClusterFence&) = delete;
  ClusterFence& operator=(const ClusterFence&) = delete;

  // The lease is renewed with room to spare: this node may start clustered instances.
  bool safe() const;
  // The copies fenced since their last start here.
  std::set<std::string> fenced() const;
  void forget(const std::string& name);
  // Kills every running clustered copy now (vesseld leaving the cluster: they will move).
  void fence();
  // A copy just started (or removed) here: the watchdog learns of it now rather than at the next round.
  void track();

  // StartGuard: a clustered copy's cgroup goes to the watchdog before its start, and stays listed
  // until the copy shows as running (or its start failed). Local instances pass unlisted.
  Result<void> starting(const std::string& name, const InstanceSpec& spec, const std::string& cgroup) override;
  void started(const std::string& name) override;

 private:
  void run();
  struct Armed {
    std::string name;
    pid_t pid = 0;
    int64_t start_time = 0;
    std::string cgroup;
  };
  struct Intent {  // a clustered copy being started
    std::string cgroup;
    bool ended = false;  // its start returned: dropped at the next arm(), which lists it if it runs
  };
  // The running clustered copies' processes, read while the lease is safe.
  void arm();
  void kill_armed();
  // The armed copies to the watchdog, to be killed unless armed again in time.
  void hand_to_watchdog();
  // The cgroups to list: the armed copies' and those being started (sorted, without repeats).
  std::vector<std::string> listed_cgroups() const;

  Manager& manager_;
  const cluster::Membership& member_;
  std::chrono::milliseconds margin_;
  StopSignal stop_;
  bool fencing_ = false;  // the fence thread's: logged once per outage
  mutable std::mutex mutex_;
  std::set<std::string> fenced_;
  std::mutex arm_mutex_;       // the fence thread's rounds and track()
  std::vector<Armed> armed_;  // under arm_mutex_
  std::map<std::string, Intent> intents_;  // under arm_mutex_, by instance name
  std::unique_ptr<ClusterWatchdog> watchdog_;
  std::thread thread_;
};

}  // namespace vessel::daemon
