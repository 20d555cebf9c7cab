// Killed processes need the CPU to die: a task with SIGKILL pending still has to be scheduled to
// run the kernel's exit path. In a group squeezed to the least weight beside a busy neighbour, or
// throttled by its quota, that wait can last minutes: on CFS before Linux 6.6 (Debian 12's 6.1),
// a group's lead in virtual time earned while it ran at weight 1 outlives any later raise of its
// weight, so a priority pool's evicted member sat runnable with SIGKILL pending for 30-130 s in
// the nested host (docs/daemon/pools.md, Shortage).
#pragma once

#include "runtime/cgroups/cgroup.h"

namespace vessel::runtime {

// Sends SIGKILL to every process of the group (and of groups below it), then makes each one's
// threads SCHED_FIFO at the lowest real-time priority, and lifts the group's CPU quota and its
// cpu.idle. The kill comes first, process by process, so every thread raised belongs to a process
// already dying: a process with a fatal signal pending cannot fork, and its threads run no user
// code again. Best effort: where the kernel refuses the real-time class (RT group scheduling
// without an RT budget, no CAP_SYS_NICE) the kill stands and only the quota is lifted. Returns how
// many threads were raised.
size_t kill_and_hurry(const Cgroup& cg);

// The same for one process the caller has sent SIGKILL (a VM's vessel-vmm: its jailer, in the same
// group, is left to clean up after it).
size_t hurry_killed(const Cgroup& cg, pid_t pid);

}  // namespace vessel::runtime
