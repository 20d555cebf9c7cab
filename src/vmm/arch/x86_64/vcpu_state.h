// The narrow seam between the instruction emulator and a vCPU: the register file and the event
// (exception) state it reads and writes. vessel-vmm passes the KVM vCPU; unit tests a fake.
#pragma once

#include <linux/kvm.h>

#include "base/error.h"
#include "kvm/kvm.h"

namespace vessel::vmm::x86 {

class VcpuState {
 public:
  virtual ~VcpuState() = default;
  virtual Result<kvm_regs> get_regs() = 0;
  virtual Result<void> set_regs(const kvm_regs& regs) = 0;
  virtual Result<kvm_sregs> get_sregs() = 0;
  virtual Result<void> set_sregs(const kvm_sregs& sregs) = 0;
  virtual Result<kvm_fpu> get_fpu() = 0;
  virtual Result<void> set_fpu(const kvm_fpu& fpu) = 0;
  virtual Result<kvm::XsaveArea> get_xsave() = 0;
  virtual Result<void> set_xsave(const kvm::XsaveArea& xsave) = 0;
  virtual Result<kvm_vcpu_events> get_events() = 0;
  virtual Result<void> set_events(const kvm_vcpu_events& events) = 0;
};

// A KVM vCPU as a VcpuState.
class KvmVcpuState : public VcpuState {
 public:
  explicit KvmVcpuState(kvm::Vcpu& vcpu) : vcpu_(vcpu) {}
  Result<kvm_regs> get_regs() override { return vcpu_.get_regs(); }
  Result<void> set_regs(const kvm_regs& regs) override { return vcpu_.set_regs(regs); }
  Result<kvm_sregs> get_sregs() override { return vcpu_.get_sregs(); }
  Result<void> set_sregs(const kvm_sregs& sregs) override { return vcpu_.set_sregs(sregs); }
  Result<kvm_fpu> get_fpu() override { return vcpu_.get_fpu(); }
  Result<void> set_fpu(const kvm_fpu& fpu) override { return vcpu_.set_fpu(fpu); }
  Result<kvm::XsaveArea> get_xsave() override { return vcpu_.get_xsave(); }
  Result<void> set_xsave(const kvm::XsaveArea& xsave) override { return vcpu_.set_xsave(xsave); }
  Result<kvm_vcpu_events> get_events() override { return vcpu_.get_events(); }
  Result<void> set_events(const kvm_vcpu_events& events) override { return vcpu_.set_events(events); }

 private:
  kvm::Vcpu& vcpu_;
};

}  // namespace vessel::vmm::x86
