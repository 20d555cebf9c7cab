// Reading a paused VM's KVM state into a snapshot and writing it back into a freshly built one
// (every ioctl through src/kvm). Called on the VMM thread while the vCPU threads are parked
// (saving) or not started yet (restoring).
#pragma once

#include <vector>

#include "kvm/kvm.h"
#include "vmm/snapshot/machine_state.h"

namespace vessel::vmm::snapshot {

// The MSRs to save: those KVM lists as saveable (KVM_GET_MSR_INDEX_LIST) that this vCPU can
// actually read back (a listed MSR the CPU model lacks fails KVM_GET_MSRS and is left out).
Result<std::vector<uint32_t>> saveable_msrs(const kvm::System& system, const kvm::Vcpu& vcpu);

Result<VcpuSnapshot> save_vcpu(const kvm::Vcpu& vcpu, const std::vector<uint32_t>& msrs);
// The vCPU's CPUID is set already (the same as when it was saved).
Result<void> restore_vcpu(kvm::Vcpu& vcpu, const VcpuSnapshot& state);

Result<VmSnapshot> save_vm(const kvm::Vm& vm);
Result<void> restore_vm(kvm::Vm& vm, const VmSnapshot& state);

}  // namespace vessel::vmm::snapshot
