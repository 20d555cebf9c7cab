#include "hostcheck/cpuid.h"

#include <cpuid.h>

#include <algorithm>
#include <cstring>

namespace vessel::hostcheck {

CpuidRegs native_cpuid(uint32_t leaf, uint32_t subleaf) {
  CpuidRegs r;
  __cpuid_count(leaf, subleaf, r.eax, r.ebx, r.ecx, r.edx);
  return r;
}

namespace {
std::string regs_to_string(std::initializer_list<uint32_t> regs) {
  std::string s;
  for (uint32_t r : regs) {
    char b[4];
    std::memcpy(b, &r, 4);
    s.append(b, 4);
  }
  // Signatures are NUL-padded; brand strings are space-padded.
  s.erase(std::find(s.begin(), s.end(), '\0'), s.end());
  auto first = s.find_first_not_of(' ');
  auto last = s.find_last_not_of(' ');
  return first == std::string::npos ? "" : s.substr(first, last - first + 1);
}
}  // namespace

CpuInfo decode_cpu(const CpuidReader& cpuid) {
  CpuInfo info;
  CpuidRegs l0 = cpuid(0, 0);
  info.vendor = regs_to_string({l0.ebx, l0.edx, l0.ecx});
  if (l0.eax >= 1) {
    CpuidRegs l1 = cpuid(1, 0);
    info.vmx = (l1.ecx >> 5) & 1;
    info.x2apic = (l1.ecx >> 21) & 1;
    info.hypervisor = (l1.ecx >> 31) & 1;
  }
  if (info.hypervisor) {
    CpuidRegs h = cpuid(0x40000000, 0);
    info.hypervisor_vendor = regs_to_string({h.ebx, h.ecx, h.edx});
  }
  CpuidRegs ext = cpuid(0x80000000, 0);
  if (ext.eax >= 0x80000001) {
    CpuidRegs e1 = cpuid(0x80000001, 0);
    info.svm = (e1.ecx >> 2) & 1;
  }
  if (ext.eax >= 0x80000004) {
    CpuidRegs a = cpuid(0x80000002, 0), b = cpuid(0x80000003, 0), c = cpuid(0x80000004, 0);
    info.model_name = regs_to_string(
        {a.eax, a.ebx, a.ecx, a.edx, b.eax, b.ebx, b.ecx, b.edx, c.eax, c.ebx, c.ecx, c.edx});
  }
  return info;
}

std::string hypervisor_name(const std::string& signature) {
  struct Known {
    const char* signature;
    const char* name;
  };
  static constexpr Known kKnown[] = {
      {"KVMKVMKVM", "KVM"},          {"bhyve bhyve", "bhyve"},        {"TCGTCGTCGTCG", "QEMU TCG"},
      {"Microsoft Hv", "Hyper-V"},   {"VMwareVMware", "VMware"},      {"XenVMMXenVMM", "Xen"},
      {"VBoxVBoxVBox", "VirtualBox"}, {"ACRNACRNACRN", "ACRN"},       {"lrpepyh  vr", "Parallels"},
      {"QNXQVMBSQG", "QNX"},         {"EVMMEVMMEVMM", "Intel KGT"},
  };
  for (const auto& k : kKnown)
    if (signature == k.signature) return k.name;
  return signature;
}

}  // namespace vessel::hostcheck
