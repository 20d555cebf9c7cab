// A squeezed pool member that is being stopped must get the CPU at once for its SIGTERM handler.
// Raising its weight is not enough before Linux 6.6 (Debian 12's 6.1): CFS keeps a group's lead in
// virtual time across a change of weight, and a member that ran one tick at weight 1 was ahead by
// what a neighbour at weight 10000 needs 40 s to run (docs/daemon/pools.md, Shortage). A group that
// sleeps and wakes is placed again at the queue's current minimum: freezing the neighbours takes
// them off the queue, so the minimum moves up to the raised member's time, and thawed they wake
// there, level with it.
#pragma once

#include <string>
#include <vector>

namespace vessel::daemon {

// Freezes each group of `cgroups` that is not frozen already, then thaws those it froze. Each
// pauses for as long as a freeze takes (milliseconds). A group without a freezer (a VM's on cgroup
// v1) or that fails to freeze is left running. Returns how many were frozen and thawed.
size_t requeue_groups(const std::vector<std::string>& cgroups);

}  // namespace vessel::daemon
