// GuestMemory: the only way VMM code touches guest RAM (docs/design.md, rule 2).
//
// Every guest-supplied address is a tainted value: it is range-checked (with overflow-safe
// arithmetic) against the RAM regions before any byte is copied. Callers get a Result, never a
// raw pointer to an unchecked range. Layout on x86-64: RAM from 0 up to the 32-bit MMIO hole at
// 3 GiB, the rest from 4 GiB up; one host mapping backs both regions.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <type_traits>
#include <vector>

#include "base/error.h"
#include "base/fd.h"

namespace vessel::vmm {

using GuestAddress = uint64_t;

inline constexpr uint64_t kMmioHoleStart = 3ull << 30;  // 3 GiB: devices, IOAPIC, LAPIC
inline constexpr uint64_t kMmioHoleEnd = 4ull << 30;

struct MemoryRegion {
  GuestAddress guest_base;
  uint64_t size;
  uint8_t* host;  // start of this region in the host mapping
  uint32_t slot;  // KVM memory slot number
};

class GuestMemory {
 public:
  // Maps `size` bytes of anonymous memory (committed as the guest touches it). With `huge_pages`
  // the memory is 2 MiB hugetlbfs pages, all reserved now from the host's pool (vm.nr_hugepages):
  // too few free is an error that says how many are missing (docs/vmm/memory.md).
  static Result<GuestMemory> create(uint64_t size, bool huge_pages = false);
  // Maps `size` bytes of the file `fd` (a snapshot's memory file) private and copy-on-write: pages
  // are read from the file as the guest touches them, and the guest's writes stay in this process.
  // The file must hold exactly `size` bytes.
  static Result<GuestMemory> map_file_private(int fd, uint64_t size);

  uint64_t size() const { return size_; }
  // 4096, or 2 MiB for hugetlbfs memory.
  uint64_t page_size() const { return page_size_; }
  // KSM (docs/vmm/memory.md): lets ksmd merge identical pages of this memory with others.
  Result<void> make_mergeable() const;
  const std::vector<MemoryRegion>& regions() const { return regions_; }
  uint8_t* host_base() const { return mapping_.data(); }

  // True when [addr, addr + len) lies entirely inside one RAM region (len 0 needs addr in RAM
  // or at its end).
  bool contains(GuestAddress addr, uint64_t len) const;

  // Host view of a checked range; valid while this GuestMemory lives. The caller may write it: with
  // dirty tracking on, its pages count as written.
  Result<std::span<uint8_t>> slice(GuestAddress addr, uint64_t len) const;

  Result<void> read(GuestAddress addr, void* dst, uint64_t len) const;
  Result<void> write(GuestAddress addr, const void* src, uint64_t len) const;

  // Diff snapshots: from now on the pages VMM code writes (write(), slice()) are marked in a
  // bitmap over the host mapping (bit i: bytes [i * 4096, (i + 1) * 4096) of host_base()). What the
  // guest itself writes is KVM's dirty log.
  void track_dirty_pages();
  bool tracks_dirty_pages() const { return dirty_ != nullptr; }
  // The pages marked since the last call, and the marks cleared (empty when not tracking).
  std::vector<uint64_t> take_dirty_pages() const;
  // Marks these pages again (a Diff snapshot that failed to write puts back what it took).
  void mark_pages(const std::vector<uint64_t>& pages) const;

  template <typename T>
  Result<T> read_obj(GuestAddress addr) const {
    static_assert(std::is_trivially_copyable_v<T>);
    T value;
    TRY(read(addr, &value, sizeof value));
    return value;
  }
  template <typename T>
  Result<void> write_obj(GuestAddress addr, const T& value) const {
    static_assert(std::is_trivially_copyable_v<T>);
    return write(addr, &value, sizeof value);
  }

 private:
  static Result<GuestMemory> from_mapping(Mmap mapping, uint64_t size, uint64_t page_size = 4096);
  GuestMemory(Mmap mapping, uint64_t size, std::vector<MemoryRegion> regions)
      : mapping_(std::move(mapping)), size_(size), regions_(std::move(regions)) {}
  Result<uint8_t*> find(GuestAddress addr, uint64_t len) const;
  void mark(const uint8_t* host, uint64_t len) const;
  Mmap mapping_;
  uint64_t size_ = 0;
  uint64_t page_size_ = 4096;
  std::vector<MemoryRegion> regions_;
  std::unique_ptr<std::atomic<uint64_t>[]> dirty_;  // one bit per page, when tracking
};

}  // namespace vessel::vmm
