// CPUID decoding for the host check: vendor, hardware virtualization (VMX/SVM) and whether we
// run nested under a hypervisor. The reader is injectable so tests can replay recorded values.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace vessel::hostcheck {

struct CpuidRegs {
  uint32_t eax = 0, ebx = 0, ecx = 0, edx = 0;
};

using CpuidReader = std::function<CpuidRegs(uint32_t leaf, uint32_t subleaf)>;

// The real instruction.
CpuidRegs native_cpuid(uint32_t leaf, uint32_t subleaf);

struct CpuInfo {
  std::string vendor;            // "GenuineIntel", "AuthenticAMD", ...
  std::string model_name;        // brand string, trimmed
  bool vmx = false;              // Intel VT-x: CPUID.1:ECX[5]
  bool svm = false;              // AMD-V: CPUID.80000001h:ECX[2]
  bool hypervisor = false;       // CPUID.1:ECX[31]: we are a guest ourselves
  std::string hypervisor_vendor; // CPUID.40000000h signature, e.g. "KVMKVMKVM"
  bool x2apic = false;           // CPUID.1:ECX[21]
};

CpuInfo decode_cpu(const CpuidReader& cpuid);

// A readable name for a CPUID.40000000h signature ("bhyve bhyve" -> "bhyve", "KVMKVMKVM" ->
// "KVM", "TCGTCGTCGTCG" -> "QEMU TCG"); the signature itself when it is not a known one.
std::string hypervisor_name(const std::string& signature);

}  // namespace vessel::hostcheck
