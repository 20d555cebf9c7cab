#include "vmm/arch/x86_64/guest_walk.h"

#include <algorithm>

namespace vessel::vmm::x86 {
namespace {
constexpr uint64_t kPresent = 1, kHuge = 1ull << 7;
constexpr uint64_t kAddrMask = 0x000ffffffffff000ull;
}  // namespace

Result<uint64_t> translate_gva(const GuestMemory& memory, const PagingState& p, uint64_t gva) {
  if (!(p.cr0 & (1u << 31))) return gva & 0xffffffffull;  // paging off
  bool long_mode = p.efer & (1u << 10);
  bool pae = p.cr4 & (1u << 5);
  if (!pae) {  // 32-bit paging, 4 KiB or 4 MiB pages
    uint32_t pde = TRY(memory.read_obj<uint32_t>((p.cr3 & 0xfffff000) + ((gva >> 22) & 0x3ff) * 4));
    if (!(pde & kPresent)) return fail(EFAULT, "guest address {:#x} not mapped (PDE)", gva);
    if ((pde & kHuge) && (p.cr4 & (1u << 4))) return (pde & 0xffc00000ull) | (gva & 0x3fffff);
    uint32_t pte = TRY(memory.read_obj<uint32_t>((pde & 0xfffff000) + ((gva >> 12) & 0x3ff) * 4));
    if (!(pte & kPresent)) return fail(EFAULT, "guest address {:#x} not mapped (PTE)", gva);
    return (pte & 0xfffff000ull) | (gva & 0xfff);
  }
  int levels = long_mode ? ((p.cr4 & (1u << 12)) ? 5 : 4) : 3;
  uint64_t table = long_mode ? (p.cr3 & kAddrMask) : (p.cr3 & 0xffffffe0ull);
  for (int level = levels; level >= 1; --level) {
    int shift = 12 + 9 * (level - 1);
    uint64_t index = level == 3 && !long_mode ? ((gva >> 30) & 3) : ((gva >> shift) & 0x1ff);
    uint64_t entry = TRY(memory.read_obj<uint64_t>(table + index * 8));
    if (!(entry & kPresent)) return fail(EFAULT, "guest address {:#x} not mapped (level {})", gva, level);
    if (level <= 3 && level >= 2 && (entry & kHuge)) {
      uint64_t page_mask = (1ull << shift) - 1;
      return (entry & kAddrMask & ~page_mask) | (gva & page_mask);
    }
    table = entry & kAddrMask;
  }
  return table | (gva & 0xfff);
}

Result<void> read_gva(const GuestMemory& memory, const PagingState& p, uint64_t gva, void* dst, size_t len) {
  auto* out = static_cast<uint8_t*>(dst);
  while (len) {
    size_t chunk = std::min<size_t>(len, 0x1000 - (gva & 0xfff));
    uint64_t gpa = TRY(translate_gva(memory, p, gva));
    TRY(memory.read(gpa, out, chunk));
    gva += chunk;
    out += chunk;
    len -= chunk;
  }
  return {};
}

Result<void> write_gva(const GuestMemory& memory, const PagingState& p, uint64_t gva, const void* src, size_t len) {
  auto* in = static_cast<const uint8_t*>(src);
  while (len) {
    size_t chunk = std::min<size_t>(len, 0x1000 - (gva & 0xfff));
    uint64_t gpa = TRY(translate_gva(memory, p, gva));
    TRY(memory.write(gpa, in, chunk));
    gva += chunk;
    in += chunk;
    len -= chunk;
  }
  return {};
}

}  // namespace vessel::vmm::x86
