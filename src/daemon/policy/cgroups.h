// The cgroups vesseld puts guests in: /<parent>/<name> under each cgroup v1 controller (cpu,
// cpuacct, memory), or the same path on a pure cgroup v2 host. Containers get theirs from the
// OCI runtime (linux.cgroupsPath); vessel-vmm processes are placed by vesseld itself, through the
// runtime's cgroup code (runtime/cgroups/cgroup.h), so one writer serves both.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "base/error.h"

namespace vessel::daemon {

struct CgroupLimits {
  uint32_t cpus = 1;          // quota: cpus x period
  uint32_t cpu_weight = 100;  // 1..10000, 100 = default share
  uint64_t memory_mib = 256;
  uint64_t memory_reservation_mib = 0;  // soft limit
};

struct CgroupStats {
  uint64_t cpu_ns = 0;       // CPU time used
  uint64_t memory_bytes = 0; // current usage
  bool found = false;
};

// "/<parent>/<name>", the OCI cgroupsPath.
std::string cgroup_path(const std::string& parent, const std::string& name);

// CPU shares (v1) for a weight (1..10000, 100 -> 1024).
uint64_t weight_to_shares(uint32_t weight);

// Creates the cgroup, applies the limits and moves `pid` into it.
Result<void> cgroup_place(const std::string& path, const CgroupLimits& limits, pid_t pid);
// Removes the (empty) cgroup; missing directories are fine.
void cgroup_remove(const std::string& path);
CgroupStats cgroup_stats(const std::string& path);

}  // namespace vessel::daemon
