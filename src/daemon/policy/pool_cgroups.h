// Writes pools' allocations into cgroups (docs/daemon/pools.md), through the runtime's cgroup
// code, on v1, v2 and hybrid hosts alike: each file goes to the hierarchy that owns its
// controller, in that hierarchy's version (cgroup_values.h).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "base/error.h"
#include "base/json.h"
#include "daemon/policy/allocation.h"

namespace vessel::daemon {

// Creates the pool's cgroup (cpu, cpuacct, memory, cpuset) if needed, with its size as its limits:
// the members, its children, can never use more together. `cpuset` empty: the parent's CPUs.
Result<void> apply_pool_cgroup(const std::string& path, const Resources& size, const std::string& cpuset);
// Writes a member's plan into its (existing) cgroup; quotas the plan leaves unset keep the member's
// own. `cpuset` (not empty): the pool's CPUs, which a v1 child does not follow by itself; a member
// that is in no cpuset group of the pool yet (vessel-jailer joins cpu, cpuacct and memory only)
// gets one, and `pid` (its process, all threads: a VM's vCPUs too) is moved into it.
Result<void> apply_member_cgroup(const std::string& path, const CgroupPlan& plan, const std::string& cpuset, pid_t pid);
// Removes the (empty) cgroup in every hierarchy, name=systemd included (the runtime makes a
// container's path in all of them); a busy or missing directory is left alone.
void remove_pool_cgroup(const std::string& path);
// What the member's cgroup holds now, for the files a plan writes: {"cpu.weight": "2000", ...}.
json::Json read_member_cgroup(const std::string& path);

}  // namespace vessel::daemon
