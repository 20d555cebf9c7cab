#include "vmm/snapshot/kvm_state.h"

#include <algorithm>

namespace vessel::vmm::snapshot {

Result<std::vector<uint32_t>> saveable_msrs(const kvm::System& system, const kvm::Vcpu& vcpu) {
  std::vector<uint32_t> list = TRY(system.msr_index_list());
  // KVM_GET_MSRS stops at the first MSR it cannot read and returns how many it read.
  for (size_t start = 0; start < list.size();) {
    std::vector<uint32_t> rest(list.begin() + static_cast<ptrdiff_t>(start), list.end());
    auto got = TRY(vcpu.get_msrs(rest));
    start += got.size();
    if (start < list.size()) list.erase(list.begin() + static_cast<ptrdiff_t>(start));
  }
  if (list.size() > kMaxMsrs) list.resize(kMaxMsrs);
  return list;
}

Result<VcpuSnapshot> save_vcpu(const kvm::Vcpu& vcpu, const std::vector<uint32_t>& msrs) {
  VcpuSnapshot s;
  s.regs = TRY(vcpu.get_regs());
  s.sregs = TRY(vcpu.get_sregs());
  s.xsave = TRY(vcpu.get_xsave());
  s.xcrs = TRY(vcpu.get_xcrs());
  s.debugregs = TRY(vcpu.get_debugregs());
  s.msrs = TRY(vcpu.get_msrs(msrs));
  if (s.msrs.size() != msrs.size())
    return fail(EIO, "KVM_GET_MSRS vCPU {}: read {} of {} MSRs (stopped at {:#x})", vcpu.id(), s.msrs.size(),
                msrs.size(), msrs[s.msrs.size()]);
  s.lapic = TRY(vcpu.get_lapic());
  s.events = TRY(vcpu.get_events());
  s.mp_state = TRY(vcpu.get_mp_state());
  return s;
}

// In the order KVM needs: the APIC base (in sregs) before the LAPIC, the LAPIC before the MSRs
// that depend on it (TSC deadline), pending events last.
Result<void> restore_vcpu(kvm::Vcpu& vcpu, const VcpuSnapshot& s) {
  TRY(vcpu.set_mp_state(s.mp_state));
  TRY(vcpu.set_regs(s.regs));
  TRY(vcpu.set_sregs(s.sregs));
  TRY(vcpu.set_xsave(s.xsave));
  TRY(vcpu.set_xcrs(s.xcrs));
  TRY(vcpu.set_debugregs(s.debugregs));
  TRY(vcpu.set_lapic(s.lapic));
  TRY(vcpu.set_msrs(s.msrs));
  kvm_vcpu_events events = s.events;
  events.flags &= KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SIPI_VECTOR | KVM_VCPUEVENT_VALID_SHADOW |
                  KVM_VCPUEVENT_VALID_SMM | KVM_VCPUEVENT_VALID_PAYLOAD | KVM_VCPUEVENT_VALID_TRIPLE_FAULT;
  TRY(vcpu.set_events(events));
  return {};
}

Result<VmSnapshot> save_vm(const kvm::Vm& vm) {
  VmSnapshot s;
  s.clock = TRY(vm.get_clock());
  s.pic_master = TRY(vm.get_irqchip(KVM_IRQCHIP_PIC_MASTER));
  s.pic_slave = TRY(vm.get_irqchip(KVM_IRQCHIP_PIC_SLAVE));
  s.ioapic = TRY(vm.get_irqchip(KVM_IRQCHIP_IOAPIC));
  s.pit = TRY(vm.get_pit2());
  return s;
}

Result<void> restore_vm(kvm::Vm& vm, const VmSnapshot& s) {
  TRY(vm.set_irqchip(s.pic_master));
  TRY(vm.set_irqchip(s.pic_slave));
  TRY(vm.set_irqchip(s.ioapic));
  TRY(vm.set_pit2(s.pit));
  TRY(vm.set_clock(s.clock));
  return {};
}

}  // namespace vessel::vmm::snapshot
