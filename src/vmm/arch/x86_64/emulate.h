// Trap-and-emulate for what KVM's instruction emulator gives up on. On a PVM host an unmodified
// guest kernel's ring-0 code is emulated by KVM, which stops with KVM_EXIT_INTERNAL_ERROR on some
// instructions (int3, INT n, the XSAVE family, cmpxchg16b...). We fetch the instruction through
// the guest's page tables, then emulate it or deliver the exception it should raise, and let the
// vCPU continue. Each kind is counted (docs/vmm/pvm.md).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "base/error.h"
#include "base/json.h"
#include "kvm/kvm.h"
#include "vmm/memory/guest_memory.h"

namespace vessel::vmm::x86 {

struct EmulationCounters {
  std::atomic<uint64_t> int3{0}, int_n{0}, ud2{0}, fxsave{0}, fxrstor{0}, xsave{0}, xrstor{0},
      cmpxchg16b{0}, stac_clac{0}, xgetbv{0}, xsetbv{0}, rdrand{0}, popcnt{0}, bitcount{0}, x87{0},
      sse{0}, lar_lsl{0}, unhandled{0};
  json::Json to_json() const;
};

class VcpuState;  // vcpu_state.h: the registers the emulator reads and writes

// Handles one KVM_EXIT_INTERNAL_ERROR of `vcpu`: fetches the instruction at RIP through the
// guest's page tables, decodes it and runs its family's handler (emulation.h). Returns a
// description of what was done, or an error (with the instruction bytes) when the instruction is
// not one we can handle.
Result<std::string> emulate_failed_instruction(VcpuState& vcpu, const GuestMemory& memory,
                                               EmulationCounters& counters);
Result<std::string> emulate_failed_instruction(kvm::Vcpu& vcpu, const GuestMemory& memory,
                                               EmulationCounters& counters);

}  // namespace vessel::vmm::x86
