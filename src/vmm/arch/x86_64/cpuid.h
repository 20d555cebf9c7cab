// The CPUID each vCPU sees: KVM's supported set, with per-vCPU APIC ids and topology, the
// hypervisor bit, and on PVM hosts without the instructions KVM's emulator cannot run in guest
// kernel mode (XSAVE family and leaf 0xD, CX16, AVX/AVX2/AVX-512, RDRAND/RDSEED, FSGSBASE, ...).
#pragma once

#include <cstdint>

#include "kvm/kvm.h"

namespace vessel::vmm::x86 {

struct CpuidOptions {
  uint32_t vcpu_id = 0;
  uint32_t vcpu_count = 1;
  bool mask_for_emulation = false;  // PVM host: hide what the emulator cannot execute
};

kvm::CpuidEntries vcpu_cpuid(const kvm::CpuidEntries& supported, const CpuidOptions& options);

}  // namespace vessel::vmm::x86
