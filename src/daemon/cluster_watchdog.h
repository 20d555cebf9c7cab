// vesseld's side of its cluster watchdog (docs/cluster.md#the-watchdog): it starts
// vessel-watchdog, a separate process in its own session, and tells it, through a shared page,
// which clustered copies run (or are being started) here and until when they may run without a newer word. The fence
// (cluster_fence.h) publishes while the lease is safe; if vesseld dies, or stops publishing
// (paused, hung), the watchdog kills the copies before the lease can expire.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "base/process.h"
#include "daemon/watchdog/watchdog_page.h"

namespace vessel::daemon {

class ClusterWatchdog {
 public:
  // Starts `program` (vessel-watchdog) watching this process.
  static Result<std::unique_ptr<ClusterWatchdog>> start(const std::string& program, const std::string& node);
  // Stops the watchdog without it killing anything (vesseld leaves: the fence killed the copies).
  ~ClusterWatchdog();
  ClusterWatchdog(const ClusterWatchdog&) = delete;
  ClusterWatchdog& operator=(const ClusterWatchdog&) = delete;

  // These processes, and every process in these cgroups, must be dead by `kill_after` unless
  // published again before it. A watchdog that died is started again first (logged).
  void publish(const std::vector<watchdog::WatchedProcess>& processes, const std::vector<std::string>& cgroups,
               std::chrono::steady_clock::time_point kill_after);

 private:
  ClusterWatchdog(std::string program, std::string node, watchdog::Page page)
      : program_(std::move(program)), node_(std::move(node)), page_(std::move(page)) {}
  Result<void> spawn();

  std::string program_, node_;
  watchdog::Page page_;
  Process process_;
  bool warned_full_ = false, warned_full_cgroups_ = false;
};

}  // namespace vessel::daemon
