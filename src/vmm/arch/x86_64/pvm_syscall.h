// SYSCALL from guest user mode on a PVM host. Measured with tests/guests/programs/syscall.c: the
// host jumps to the guest's LSTAR with RCX and R11 set as the CPU does, but leaves the vCPU in
// user mode (CPL 3). An unmodified Linux kernel then takes a page fault on its own syscall entry
// (kernel pages are not user-accessible) and kills the process: no user space can run.
//
// The repair: a hardware breakpoint on the guest's page-fault handler (the IDT's vector 14) makes
// KVM exit to us when that handler starts. If the fault's frame says "user mode, RIP = LSTAR", it
// was a system call: we drop the frame and finish the SYSCALL the host left half done (CPL 0, CS
// and SS from STAR, RFLAGS = R11 & ~FMASK, the user's RSP) and the kernel runs its syscall entry
// as on hardware. Other page faults continue untouched. Costs one exit per page fault.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "base/error.h"
#include "kvm/kvm.h"
#include "vmm/memory/guest_memory.h"

namespace vessel::vmm::x86 {

struct SyscallRepairCounters {
  std::atomic<uint64_t> syscalls{0}, page_faults{0}, arms{0};
};

// One per vCPU (each has its own debug registers).
class PvmSyscallRepair {
 public:
  explicit PvmSyscallRepair(SyscallRepairCounters& counters) : counters_(counters) {}
  // Called on the vCPU's userspace exits: (re)arms the breakpoint once the guest has an IDT whose
  // #PF gate points somewhere new. Rate-limited once armed.
  Result<void> maybe_arm(kvm::Vcpu& vcpu, const GuestMemory& memory);
  // KVM_EXIT_DEBUG: returns what was done, or an error if the exit is not ours.
  Result<std::string> on_debug_exit(kvm::Vcpu& vcpu, const GuestMemory& memory);

 private:
  Result<void> set_breakpoint(kvm::Vcpu& vcpu, bool single_step);
  SyscallRepairCounters& counters_;
  uint64_t handler_ = 0;    // armed #PF handler address (0: not armed)
  uint64_t calls_ = 0;
  bool stepping_ = false;   // single-stepping past the handler's first instruction
};

}  // namespace vessel::vmm::x86
