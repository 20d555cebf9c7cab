// Loads a guest kernel into guest memory: an ELF with the Xen PVH note (vmlinux, test-kit
// guests), a bzImage (Linux 64-bit boot protocol), or a flat binary (test kit: loaded at 1 MiB,
// entered in long mode). Every offset and size read from the file is checked before use.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/error.h"
#include "vmm/memory/guest_memory.h"

namespace vessel::vmm::x86 {

enum class BootProtocol { Pvh, LinuxBzImage, Flat64 };

struct LoadedKernel {
  BootProtocol protocol;
  uint64_t entry = 0;        // guest-physical entry point
  uint64_t kernel_end = 0;   // first byte after the loaded image
  // bzImage only: the setup header as read from the file (copied into boot_params).
  std::vector<uint8_t> setup_header;  // bytes 0x1f1 .. 0x1f1+len of the file
  uint32_t initrd_addr_max = 0;
  bool is_linux = false;  // a Linux kernel (bzImage, or an ELF with a "Linux" note)
};

// Detects the format from the file's magic numbers.
Result<LoadedKernel> load_kernel(const GuestMemory& memory, const std::string& path);

// Parsers on bytes already read (unit-testable, fuzzable).
Result<LoadedKernel> load_elf_pvh(const GuestMemory& memory, std::span<const uint8_t> file);
Result<LoadedKernel> load_bzimage(const GuestMemory& memory, std::span<const uint8_t> file);
Result<LoadedKernel> load_flat(const GuestMemory& memory, std::span<const uint8_t> file);

}  // namespace vessel::vmm::x86
