// Writes the `timeslice` policy's turns (timeslice.h) into pool members' cgroups, in the version
// of the hierarchy that owns the cpu controller (v1 cfs files or v2 cpu.max).
#pragma once

#include "base/error.h"
#include "daemon/policy/timeslice.h"

namespace vessel::daemon {

// ENOENT when the member's cgroup is gone (it stopped: its pool is re-applied soon).
Result<void> write_cpu_limit(const LimitWrite& w);

}  // namespace vessel::daemon
