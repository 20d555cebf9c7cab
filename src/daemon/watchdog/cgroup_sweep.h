// The watchdog's kill of whole cgroups (docs/cluster.md#the-watchdog): every process in a
// clustered copy's cgroup, in every hierarchy the host mounts (cgroup v1, v2 or both) and in its
// descendant groups, dies, whether or not vesseld knew its PID. On cgroup v2 the group's
// cgroup.kill does it at once where the kernel has it; otherwise (and on v1 always) each member
// is signalled through a pidfd opened while it was listed, and a v1 freezer group is thawed so
// that its frozen members can die. It repeats until the groups are empty.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace vessel::daemon::watchdog {

struct SweepResult {
  size_t killed = 0;                    // processes signalled (SIGKILL)
  std::vector<std::string> left;        // directories still not empty when patience ran out
};

// `paths`: absolute cgroup paths ("/vessel/web"), resolved under each hierarchy's mountpoint.
// A group that does not exist is empty. Gives up after `patience` (a process that does not die:
// unkillable in the kernel, or a zombie nobody reaps), listing what was left.
SweepResult sweep_cgroups(const std::vector<std::string>& paths, std::chrono::milliseconds patience);

// The directories of `paths` in every hierarchy mounted here (empty when none is).
std::vector<std::string> cgroup_dirs(const std::vector<std::string>& paths);

}  // namespace vessel::daemon::watchdog
