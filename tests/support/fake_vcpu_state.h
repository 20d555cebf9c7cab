// A vCPU register file without KVM, for the PVM instruction emulator's unit tests and fuzz target:
// what the emulator writes stays here to be checked.
#pragma once

#include "vmm/arch/x86_64/vcpu_state.h"

namespace vessel::vmm::x86 {

class FakeVcpu : public VcpuState {
 public:
  kvm_regs regs{};
  kvm_sregs sregs{};
  kvm_fpu fpu{};
  kvm::XsaveArea xsave{};
  kvm_vcpu_events events{};
  int sregs_sets = 0;

  Result<kvm_regs> get_regs() override { return regs; }
  Result<void> set_regs(const kvm_regs& r) override { return regs = r, Result<void>{}; }
  Result<kvm_sregs> get_sregs() override { return sregs; }
  Result<void> set_sregs(const kvm_sregs& s) override { return sregs = s, ++sregs_sets, Result<void>{}; }
  Result<kvm_fpu> get_fpu() override { return fpu; }
  Result<void> set_fpu(const kvm_fpu& f) override { return fpu = f, Result<void>{}; }
  Result<kvm::XsaveArea> get_xsave() override { return xsave; }
  Result<void> set_xsave(const kvm::XsaveArea& x) override { return xsave = x, Result<void>{}; }
  Result<kvm_vcpu_events> get_events() override { return events; }
  Result<void> set_events(const kvm_vcpu_events& e) override { return events = e, Result<void>{}; }

  uint8_t* xsave_bytes() { return reinterpret_cast<uint8_t*>(xsave.region); }
  uint8_t* xmm(unsigned i) { return xsave_bytes() + 160 + 16 * i; }
};

}  // namespace vessel::vmm::x86
