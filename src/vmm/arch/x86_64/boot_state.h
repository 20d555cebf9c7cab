// Everything the VMM sets up instead of firmware: the memory map (e820), the command line and
// initrd, the boot information block of the chosen protocol (hvm_start_info for PVH,
// boot_params for bzImage and flat binaries), identity page tables, a boot GDT, and the boot
// vCPU's registers (docs/vmm/boot.md).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "kvm/kvm.h"
#include "vmm/arch/x86_64/loader.h"
#include "vmm/memory/guest_memory.h"

namespace vessel::vmm::x86 {

struct E820Entry {
  uint64_t addr;
  uint64_t size;
  uint32_t type;  // 1 RAM, 2 reserved
};

std::vector<E820Entry> memory_map(const GuestMemory& memory);

struct InitrdPlacement {
  uint64_t addr = 0;
  uint64_t size = 0;
};

// Reads the initrd and places it at the highest page-aligned address that fits under both the
// end of low RAM and `max_addr`, above `kernel_end`.
Result<InitrdPlacement> load_initrd(const GuestMemory& memory, const std::string& path,
                                    uint64_t kernel_end, uint64_t max_addr);

struct BootData {
  std::string cmdline;
  std::optional<InitrdPlacement> initrd;
  uint64_t rsdp = 0;
};

// Writes the protocol's boot information, command line, page tables and GDT.
Result<void> write_boot_data(const GuestMemory& memory, const LoadedKernel& kernel, const BootData& data);

// Sets the boot vCPU's registers for the protocol (PVH: 32-bit protected mode, %ebx = start
// info; bzImage/flat: 64-bit long mode, %rsi = boot_params).
Result<void> setup_boot_vcpu(kvm::Vcpu& vcpu, const LoadedKernel& kernel);

// FPU and MSR state every vCPU starts with.
Result<void> setup_fpu_and_msrs(kvm::Vcpu& vcpu);

// LINT0 as ExtINT and LINT1 as NMI, as a BIOS would leave them.
Result<void> setup_lapic(kvm::Vcpu& vcpu);

}  // namespace vessel::vmm::x86
