// Installs the seccomp filters of thread_filters.h, one per thread, the way Firecracker does: each
// thread loads its own filter (SECCOMP_FILTER_FLAG_TSYNC off) before it touches anything the guest
// controls; the VMM thread loads its filter last, after every thread of the VM has started and
// before the vCPUs run the first guest instruction (vmm.cc). docs/vmm/sandbox.md.
#pragma once

#include <linux/filter.h>

#include <vector>

#include "base/error.h"
#include "vmm/sandbox/thread_filters.h"

namespace vessel::vmm::sandbox {

// A compiled filter (classic BPF), ready for seccomp(SECCOMP_SET_MODE_FILTER).
using Program = std::vector<sock_filter>;
Result<Program> compile(ThreadKind kind, bool vmm_rebuilds = false);
// Loads `program` on the calling thread only.
Result<void> load(const Program& program);

// Turns the filters on for this process: compiles every kind once and sets no_new_privs (threads
// started later inherit it). Call on the main thread before it starts any other thread. Without
// this call enter() does nothing (--seccomp-level 0).
Result<void> enable(bool vmm_rebuilds);
bool enabled();

// Loads `kind`'s filter on the calling thread when the filters are on. A thread that cannot be
// confined must not go on: a failure prints the reason and ends the process (status 1).
void enter(ThreadKind kind);
// The VMM thread's enter(): with `rebuilds` (the VM's configuration asks for on_reboot: restart,
// which a snapshot's or the API's configuration says only after enable()), its filter also allows
// building the VM again, compiled now if enable() did not.
void enter_vmm(bool rebuilds);

}  // namespace vessel::vmm::sandbox
