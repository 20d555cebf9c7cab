// SSE register moves and the xor/and/or idioms, for when KVM's emulator gives up on them in an
// emulated guest kernel (seen: `movd %ecx,%xmm15`). XMM registers live in the vCPU's XSAVE image
// (the legacy region at offset 160), the one source of truth on PVM (docs/vmm-pvm.md).
#pragma once

#include <optional>

#include "kvm/kvm.h"
#include "vmm/arch/x86_64/emulate.h"
#include "vmm/arch/x86_64/guest_walk.h"
#include "vmm/arch/x86_64/instruction.h"

namespace vessel::vmm::x86 {

// `in.len` points just after the 0x0f escape and `op2` has been consumed. Returns nullopt when
// the instruction is not one of ours; otherwise the result of emulating it (RIP advanced, or an
// exception injected).
std::optional<Result<std::string>> emulate_sse(kvm::Vcpu& vcpu, const GuestMemory& mem, const PagingState& paging,
                                               Insn& in, uint8_t op2, size_t fetched, kvm_regs& r,
                                               const kvm_sregs& s, EmulationCounters& counters);

}  // namespace vessel::vmm::x86
