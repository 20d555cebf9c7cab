// Guest-virtual to guest-physical translation by walking the guest's own page tables (no paging,
// 32-bit, PAE and 4/5-level long mode), and byte copies through it. Used to fetch and emulate
// instructions KVM could not (arch/x86_64/emulate.h). Every table read goes through GuestMemory.
#pragma once

#include <linux/kvm.h>

#include <cstdint>

#include "base/error.h"
#include "vmm/memory/guest_memory.h"

namespace vessel::vmm::x86 {

struct PagingState {
  uint64_t cr0 = 0, cr3 = 0, cr4 = 0, efer = 0;
  static PagingState from(const kvm_sregs& s) { return {s.cr0, s.cr3, s.cr4, s.efer}; }
};

Result<uint64_t> translate_gva(const GuestMemory& memory, const PagingState& paging, uint64_t gva);
Result<void> read_gva(const GuestMemory& memory, const PagingState& paging, uint64_t gva, void* dst, size_t len);
Result<void> write_gva(const GuestMemory& memory, const PagingState& paging, uint64_t gva, const void* src, size_t len);

}  // namespace vessel::vmm::x86
