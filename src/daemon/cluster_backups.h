// Storage that moves with a clustered instance (docs/cluster.md#storage): for records that say
// "storage": "backup", the node running the copy exports it (the backup code, Manager::
// export_instance) into the cluster-shared directory (vesseld --cluster-backups DIR) every
// --cluster-backup-every seconds and once more at a clean stop, as DIR/NAME.gGENERATION.tar; a node
// that takes the instance over imports the highest generation's archive under the cluster's spec
// before starting it. Writes after the last backup are lost; that is the policy's price.
//
// A copy is backed up only while the record names this node at the copy's generation and the lease
// is safe (a node that lost the instance never writes over the new owner's backups), and a file
// carries the generation it was made at, so a late write of an old owner is older than the new
// owner's.
//
// A copy at rest (created or stopped) is not exported again while its last export at this
// generation is in place and its ExportBasis (state, spec, image, the stamp of its lock: nothing
// ran on it since, no start, no vessel cp) is the same: that export would be this one. A running
// or paused container writes when it likes: it is exported every period.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "base/stop_signal.h"
#include "cluster/desired_state.h"
#include "cluster/membership.h"
#include "daemon/cluster_backup_name.h"
#include "daemon/cluster_fence.h"
#include "daemon/instances/manager.h"

namespace vessel::daemon {

class ClusterBackups {
 public:
  ClusterBackups(Manager& manager, const cluster::Membership& member, ClusterFence& fence, std::string dir,
                 std::chrono::seconds every);
  ~ClusterBackups();
  ClusterBackups(const ClusterBackups&) = delete;
  ClusterBackups& operator=(const ClusterBackups&) = delete;

  // One backup of every copy here whose record asks for it (the period's, and a clean stop's).
  void take_all();
  // The newest backup of `name` (of the highest generation), or none.
  std::optional<std::string> latest(const std::string& name) const;
  // The local copy made from the backup at `path`: its files under `spec` (the cluster's copy
  // spec at the record's generation), started unless `start` is false.
  Result<void> restore(const json::Json& spec, const std::string& path, bool start);
  const std::string& dir() const { return dir_; }

 private:
  void run();
  Result<void> take(const cluster::InstanceRecord& record);
  // The last export of a copy at rest, at `generation` (under taking_).
  struct AtRest {
    int64_t generation = 0;
    ExportBasis basis;
    std::string file;  // the archive as written (inode, size, mtime): replaced or gone, export again
  };
  bool still_current(const cluster::InstanceRecord& record, const std::string& path);

  Manager& manager_;
  const cluster::Membership& member_;
  ClusterFence& fence_;
  cluster::DesiredState desired_;
  std::string dir_;
  std::chrono::seconds every_;
  std::mutex taking_;  // the period's and the clean stop's passes one at a time
  std::map<std::string, AtRest> at_rest_;
  StopSignal stop_;
  std::thread runner_;
};

}  // namespace vessel::daemon
