// Best-effort pool members (docs/daemon/pools.md, `vessel run --pool P --best-effort`): their
// tasks run SCHED_IDLE, on CPU time no one else wants, and yield at once when another member
// wakes. Carried by the cgroup's cpu.idle where the kernel has it (5.15+, v1 and v2: the whole
// group, its future tasks too), else by sched_setscheduler(SCHED_IDLE) on each of its threads now
// (their children inherit it).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "base/error.h"
#include "base/json.h"

namespace vessel::daemon {

// Makes the member in cgroup `path` best-effort, or not. Returns how: "cpu.idle" or
// "sched_setscheduler". Not best-effort: cpu.idle 0 where it exists; threads are left as they are
// (their own policy may be the container's choice).
Result<std::string> apply_sched_idle(const std::string& path, bool best_effort);

// SCHED_IDLE for each thread of `pids` (all of a process's threads: a VM's vCPUs too). Returns how
// many threads were set; a process that is gone is skipped.
Result<size_t> set_threads_sched_idle(const std::vector<pid_t>& pids);

// What the member's cgroup holds now: {"cpu.idle": 1} or {"idle_threads": N, "threads": M}.
json::Json read_sched_idle(const std::string& path);

}  // namespace vessel::daemon
