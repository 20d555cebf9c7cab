#include "vmm/memory/guest_memory.h"

#include <sys/mman.h>
#include <sys/stat.h>

#include "vmm/memory/huge_pages.h"

namespace vessel::vmm {

Result<GuestMemory> GuestMemory::create(uint64_t size, bool huge_pages) {
  if (size == 0 || size % 4096 != 0)
    return fail(EINVAL, "guest memory size {} is not a positive multiple of 4096", size);
  if (huge_pages) return from_mapping(TRY(map_huge_pages(size)), size, kHugePageSize);
  return from_mapping(TRY(Mmap::anonymous(size, PROT_READ | PROT_WRITE)), size);
}

Result<void> GuestMemory::make_mergeable() const {
  if (::madvise(mapping_.data(), size_, MADV_MERGEABLE) != 0)
    return fail_errno("madvise(MADV_MERGEABLE) on guest memory (is the kernel built with CONFIG_KSM?)");
  return {};
}

Result<GuestMemory> GuestMemory::map_file_private(int fd, uint64_t size) {
  if (size == 0 || size % 4096 != 0)
    return fail(EINVAL, "guest memory size {} is not a positive multiple of 4096", size);
  struct stat st {};
  if (::fstat(fd, &st) != 0) return fail_errno("fstat the memory file");
  if (!S_ISREG(st.st_mode)) return fail(EINVAL, "the memory file is not a regular file");
  if (static_cast<uint64_t>(st.st_size) != size)
    return fail(EINVAL, "the memory file has {} bytes, the snapshot's guest has {}", st.st_size, size);
  return from_mapping(TRY(Mmap::map(fd, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE)), size);
}

Result<GuestMemory> GuestMemory::from_mapping(Mmap mapping, uint64_t size, uint64_t page_size) {
  // Guest RAM is private to this VM: keep it out of core dumps of the VMM.
  ::madvise(mapping.data(), size, MADV_DONTDUMP);
  std::vector<MemoryRegion> regions;
  uint64_t low = std::min(size, kMmioHoleStart);
  regions.push_back({0, low, mapping.data(), 0});
  if (size > low) regions.push_back({kMmioHoleEnd, size - low, mapping.data() + low, 1});
  GuestMemory m(std::move(mapping), size, std::move(regions));
  m.page_size_ = page_size;
  return m;
}

bool GuestMemory::contains(GuestAddress addr, uint64_t len) const {
  for (const auto& r : regions_) {
    if (addr < r.guest_base) continue;
    uint64_t offset = addr - r.guest_base;
    if (offset > r.size) continue;
    if (len <= r.size - offset) return true;  // no overflow: both sides bounded by r.size
  }
  return false;
}

Result<uint8_t*> GuestMemory::find(GuestAddress addr, uint64_t len) const {
  for (const auto& r : regions_) {
    if (addr < r.guest_base) continue;
    uint64_t offset = addr - r.guest_base;
    if (offset > r.size || len > r.size - offset) continue;
    return r.host + offset;
  }
  return fail(EFAULT, "guest range [{:#x}, +{:#x}) is outside guest RAM", addr, len);
}

void GuestMemory::mark(const uint8_t* host, uint64_t len) const {
  if (!dirty_ || len == 0) return;
  uint64_t first = static_cast<uint64_t>(host - mapping_.data()) / 4096;
  uint64_t last = (static_cast<uint64_t>(host - mapping_.data()) + len - 1) / 4096;
  for (uint64_t p = first; p <= last; ++p) dirty_[p / 64].fetch_or(1ull << (p % 64), std::memory_order_relaxed);
}

void GuestMemory::track_dirty_pages() {
  if (dirty_) return;
  uint64_t words = (size_ / 4096 + 63) / 64;
  dirty_ = std::make_unique<std::atomic<uint64_t>[]>(words);
  for (uint64_t i = 0; i < words; ++i) dirty_[i].store(0, std::memory_order_relaxed);
}

std::vector<uint64_t> GuestMemory::take_dirty_pages() const {
  if (!dirty_) return {};
  std::vector<uint64_t> out((size_ / 4096 + 63) / 64);
  for (size_t i = 0; i < out.size(); ++i) out[i] = dirty_[i].exchange(0, std::memory_order_relaxed);
  return out;
}

void GuestMemory::mark_pages(const std::vector<uint64_t>& pages) const {
  if (!dirty_) return;
  size_t words = std::min<size_t>(pages.size(), (size_ / 4096 + 63) / 64);
  for (size_t i = 0; i < words; ++i) dirty_[i].fetch_or(pages[i], std::memory_order_relaxed);
}

Result<std::span<uint8_t>> GuestMemory::slice(GuestAddress addr, uint64_t len) const {
  uint8_t* host = TRY(find(addr, len));
  mark(host, len);
  return std::span<uint8_t>(host, len);
}

Result<void> GuestMemory::read(GuestAddress addr, void* dst, uint64_t len) const {
  uint8_t* host = TRY(find(addr, len));
  if (len) std::memcpy(dst, host, len);
  return {};
}

Result<void> GuestMemory::write(GuestAddress addr, const void* src, uint64_t len) const {
  uint8_t* host = TRY(find(addr, len));
  mark(host, len);
  if (len) std::memcpy(host, src, len);
  return {};
}

}  // namespace vessel::vmm
