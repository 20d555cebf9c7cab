// The cgroups vesseld puts guests in: /<parent>/<name> under each cgroup v1 controller (cpu,
// cpuacct, memory), or the same path on a pure cgroup v2 host. Containers get theirs from the
// OCI runtime (linux.cgroupsPath); vessel-vmm processes are placed by vesseld itself, through the
// runtime's cgroup code (runtime/cgroups/cgroup.h), so one writer serves both.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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

// The files and values that carry `limits` (v1: memory.limit_in_bytes, cpu.cfs_quota_us, ...; v2:
// memory.max, cpu.max, cpu.weight) in the hierarchy `path` is in: what cgroup_place writes,
// as vessel-jailer's --cgroup FILE=VALUE and --cgroup-version.
struct CgroupSettings {
  int version = 1;
  std::vector<std::string> files;  // FILE=VALUE
};
Result<CgroupSettings> cgroup_settings(const std::string& path, const CgroupLimits& limits);

// Creates the cgroup, applies the limits and moves `pid` into it.
Result<void> cgroup_place(const std::string& path, const CgroupLimits& limits, pid_t pid);
// Removes the (empty) cgroup; missing directories are fine. `wait_while_busy`: up to 1 s per
// directory for a process that is still leaving it (a jailer exiting after its VMM).
void cgroup_remove(const std::string& path, bool wait_while_busy = false);
// `pid`, in the group at `path`, was sent SIGKILL: it gets the CPU to die (runtime/cgroups/hurry_exit.h).
void cgroup_hurry_killed(const std::string& path, pid_t pid);
CgroupStats cgroup_stats(const std::string& path);

// How many processes the kernel's OOM killer has killed in the cgroup (v2: memory.events, v1:
// memory.oom_control, both "oom_kill N"); none when the cgroup or the counter is not there.
std::optional<uint64_t> cgroup_oom_kills(const std::string& path);
// The "oom_kill N" line of such a file's text.
std::optional<uint64_t> parse_oom_kill_count(std::string_view text);

}  // namespace vessel::daemon
