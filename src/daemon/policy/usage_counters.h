// A pool member's cumulative usage counters, read from its cgroup for the `demand` controller
// (demand_estimate.h): CPU time and memory (cgroup_stats), and how long its tasks waited for a
// CPU or stalled on memory: PSI (cpu.pressure, memory.pressure) where the member has a cgroup v2
// directory (pure v2 hosts, and hybrid ones where the member is in the unified hierarchy too),
// else on cgroup v1 the run delay of its threads (/proc/TID/schedstat), summed.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "daemon/policy/demand_estimate.h"

namespace vessel::daemon {

// The `some ... total=N` of a PSI file (µs); none when the text has no such line.
std::optional<uint64_t> psi_some_total(std::string_view text);
// The run delay (ns, the second field) of a /proc/PID/schedstat; none when malformed.
std::optional<uint64_t> schedstat_run_delay(std::string_view text);

// The member's counters now; `found` false when its cgroup is gone.
struct MemberCounters {
  UsageCounters counters;
  bool found = false;
};
MemberCounters read_usage_counters(const std::string& cgroup_path);

}  // namespace vessel::daemon
