// The cgroup files that carry a CgroupPlan (allocation.h), for cgroup v1 or v2: pure, so that
// the pool code, the tests and a simulator agree on what is written. Files a version lacks (v1 has
// no memory.min or memory.high) are left out; "no quota" is written as such (v2 "max", v1 -1).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "daemon/policy/allocation.h"

namespace vessel::daemon {

inline constexpr uint64_t kCpuPeriodUs = 100000;
inline constexpr uint64_t kMinCpuQuotaUs = 1000;  // the kernel refuses less

// cpu.max / cfs quota in microseconds per kCpuPeriodUs for `cpus` (at least kMinCpuQuotaUs).
uint64_t cpu_quota_us(double cpus);

// FILE, VALUE pairs in the order they are to be written (v1: cpu.* then memory.*).
// `keep_own_limits`: a quota the plan leaves unset (cpu_max, memory_max) is not written at all, so
// the member keeps its own (its spec's --cpus and --memory), instead of being lifted to "max".
std::vector<std::pair<std::string, std::string>> cgroup_values(const CgroupPlan& plan, int version,
                                                               bool keep_own_limits = false);

}  // namespace vessel::daemon
