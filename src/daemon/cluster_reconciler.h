// Each node makes its share of the cluster's desired state so locally (docs/cluster.md#desired-state):
// it watches /vessel/instances/ and, on every change and at least once a second,
//   - creates and starts, through the local Manager, each instance the cluster assigns to it that
//     it lacks, marked with the record's generation (spec/cluster_copy.h), its image first fetched
//     from a peer when this node lacks it (cluster_image_fetch.h), or, for a record whose storage
//     is "backup", imported from its last backup when there is one (cluster_backups.h);
//   - replaces a local copy of an older generation (the instance moved away and back);
//   - starts again a stopped copy of its own when the record's restart policy asks, or when
//     self-fencing killed it (cluster_fence.h), unless the record says stopped (vessel stop): then
//     it stops the copy and keeps it stopped (created, not started, when it makes one);
//   - stops and removes every local copy the cluster does not assign to it any more (moved to
//     another node at a newer generation, or removed).
// Nothing is started while the node's lease is not safely renewed (ClusterFence::safe). While a
// record says `moving_to` (a live migration between nodes, api/cluster_mover.h), its node leaves
// its copy alone and the receiving node keeps the copy that arrives.
#pragma once

#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "base/stop_signal.h"
#include "cluster/desired_state.h"
#include "cluster/membership.h"
#include "daemon/cluster_backups.h"
#include "daemon/cluster_fence.h"
#include "daemon/instances/manager.h"

namespace vessel::daemon {

class ClusterReconciler {
 public:
  // `images`: where a missing image fetched from a peer goes (cluster_image_fetch.h); `backups`:
  // where records with "storage": "backup" are restored from (null without --cluster-backups).
  ClusterReconciler(Manager& manager, ImageStore& images, const cluster::Membership& member, ClusterFence& fence,
                    ClusterBackups* backups);
  ~ClusterReconciler();
  ClusterReconciler(const ClusterReconciler&) = delete;
  ClusterReconciler& operator=(const ClusterReconciler&) = delete;

 private:
  void watch();  // the watch thread: wakes the passes
  void run();    // the pass thread
  Result<void> pass();
  void make_ours(const cluster::InstanceRecord& record, const InstanceRow* local, bool was_fenced);
  void keep_stopped(const cluster::InstanceRecord& record, const InstanceRow& local);
  Result<void> create_copy(const cluster::InstanceRecord& record);
  void drop(const std::string& name, const char* why);
  // Logs a failure once per instance and generation (a pass repeats every second).
  void warn_once(const cluster::InstanceRecord& record, const Error& error);
  bool stopping() const { return stop_.stopped(); }

  Manager& manager_;
  ImageStore& images_;
  const cluster::Membership& member_;
  ClusterFence& fence_;
  ClusterBackups* backups_;
  cluster::DesiredState desired_;
  StopSignal stop_;
  std::atomic<bool> dirty_{true};          // a change was seen: pass again now
  std::map<std::string, int64_t> warned_;  // the pass thread's  // name -> generation whose failure was logged
  // The pass thread's: copies the record held stopped (vessel stop). When the record says run
  // again (vessel start) they start, whatever their restart policy. A vesseld restarted in
  // between forgot them: then the record's started_at tells (a copy that ended in an earlier
  // second than vessel start asked).
  std::set<std::string> held_stopped_;
  std::thread watcher_, runner_;
};

}  // namespace vessel::daemon
