#include "vmm/arch/x86_64/cpuid.h"

#include <asm/kvm_para.h>

#include <algorithm>

namespace vessel::vmm::x86 {
namespace {

constexpr uint32_t bit(int n) { return 1u << n; }

void mask_emulator_unfriendly(kvm::CpuidEntries& cpuid) {
  if (auto* e = cpuid.find(1)) {
    // FMA, CX16, MOVBE, POPCNT stays, XSAVE, OSXSAVE, AVX, F16C, RDRAND, PCID.
    e->ecx &= ~(bit(12) | bit(13) | bit(22) | bit(26) | bit(27) | bit(28) | bit(29) | bit(30) | bit(17));
    // TSC-deadline timer: with it Linux emulates its periodic tick on a one-shot timer and, when a
    // tick handler runs longer than the tick period (an emulated kernel under load), loops catching
    // up on missed ticks forever. The LAPIC's own periodic mode lets KVM coalesce missed ticks.
    e->ecx &= ~bit(24);
    // SSE3, PCLMULQDQ, SSSE3, SSE4.1, SSE4.2, AES-NI: with them Linux picks SIMD code in ring 0
    // (blake2s_compress_ssse3 in the random driver, crc32c-intel, aesni) whose instructions
    // (paddq, pshufb, crc32...) KVM's emulator cannot run; the generic C versions it uses instead
    // are plain integer code. Guest user space, native on PVM, just sees SSE2 as the newest.
    e->ecx &= ~(bit(0) | bit(1) | bit(9) | bit(19) | bit(20) | bit(25));
  }
  for (auto& e : cpuid.entries) {
    if (e.function == 7 && e.index == 0) {
      // FSGSBASE, BMI1, HLE, AVX2, BMI2, INVPCID, RTM, MPX, AVX512F/DQ, RDSEED, ADX, SMAP,
      // AVX512IFMA, CLFLUSHOPT, CLWB, AVX512PF/ER/CD, SHA, AVX512BW/VL.
      e.ebx &= ~(bit(0) | bit(3) | bit(4) | bit(5) | bit(8) | bit(10) | bit(11) | bit(14) | bit(16) |
                 bit(17) | bit(18) | bit(19) | bit(20) | bit(21) | bit(23) | bit(24) | bit(26) |
                 bit(27) | bit(28) | bit(29) | bit(30) | bit(31));
      e.ecx = 0;  // AVX512 extensions, PKU, UMIP, GFNI, VAES, RDPID, ...
      e.edx &= bit(26) | bit(27) | bit(29);  // keep only speculation-control enumeration
    }
    if (e.function == 7 && e.index > 0) e.eax = e.ebx = e.ecx = e.edx = 0;
    // ABM/LZCNT (KVM's emulator runs lzcnt as bsr: wrong results, no exit), SSE4a, PREFETCHW,
    // XOP, FMA4, TBM.
    if (e.function == 0x80000001) e.ecx &= ~(bit(5) | bit(6) | bit(8) | bit(11) | bit(16) | bit(21));
  }
  // Leaf 0xD describes the XSAVE areas: without XSAVE it must not exist.
  cpuid.entries.erase(std::remove_if(cpuid.entries.begin(), cpuid.entries.end(),
                                     [](const kvm_cpuid_entry2& e) { return e.function == 0xd; }),
                      cpuid.entries.end());
  if (auto* e = cpuid.find(0x14)) e->eax = e->ebx = e->ecx = e->edx = 0;  // processor trace
  // KVM paravirt features that work through hypercalls: an emulated guest kernel's vmcall/vmmcall
  // never completes on PVM (seen: vCPU 0 stuck on the KICK_CPU hypercall of a PV spinlock unlock
  // while vCPU 1 halted in kvm_wait, for good). Without them Linux uses native spinlocks, APIC
  // IPIs and plain yields.
  if (auto* e = cpuid.find(0x40000001)) {
    e->eax &= ~((1u << KVM_FEATURE_PV_UNHALT) | (1u << KVM_FEATURE_PV_SEND_IPI) |
                (1u << KVM_FEATURE_PV_SCHED_YIELD));
  }
}

}  // namespace

kvm::CpuidEntries vcpu_cpuid(const kvm::CpuidEntries& supported, const CpuidOptions& o) {
  kvm::CpuidEntries cpuid = supported;
  uint32_t count = std::max<uint32_t>(o.vcpu_count, 1);
  for (auto& e : cpuid.entries) {
    switch (e.function) {
      case 1:
        e.ebx = (e.ebx & 0x0000ffff) | (std::min<uint32_t>(count, 255) << 16) | (o.vcpu_id << 24);
        e.ecx |= bit(31);  // running under a hypervisor
        if (count > 1) e.edx |= bit(28);  // HTT: the count field is valid
        break;
      case 4:  // deterministic cache parameters: cores sharing = count, no SMT
        if (e.eax & 0x1f) e.eax = (e.eax & 0x03ffc3ff) | ((count - 1) << 26);
        break;
      case 0xb:  // extended topology: one thread per core, `count` cores per package
        e.edx = o.vcpu_id;
        if (e.index == 0) {
          e.eax = 0;
          e.ebx = 1;
          e.ecx = (1u << 8) | 0;
        } else if (e.index == 1) {
          uint32_t shift = 0;
          while ((1u << shift) < count) ++shift;
          e.eax = shift;
          e.ebx = count;
          e.ecx = (2u << 8) | 1;
        } else {
          e.eax = e.ebx = 0;
          e.ecx = e.index;
        }
        break;
      case 6:  // thermal/power: nothing to manage in a VM
        e.eax = e.ebx = e.ecx = e.edx = 0;
        break;
      default:
        break;
    }
  }
  if (o.mask_for_emulation) mask_emulator_unfriendly(cpuid);
  return cpuid;
}

}  // namespace vessel::vmm::x86
