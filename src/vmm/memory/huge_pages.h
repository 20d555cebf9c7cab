// Guest RAM on 2 MiB hugetlbfs pages (machine-config huge_pages "2M", docs/vmm/memory.md).
#pragma once

#include <cstdint>

#include "base/error.h"
#include "base/fd.h"

namespace vessel::vmm {

inline constexpr uint64_t kHugePageSize = 2ull << 20;

// The host's pool of 2 MiB pages (/sys/kernel/mm/hugepages/hugepages-2048kB).
struct HugePagePool {
  uint64_t total = 0, free = 0, reserved = 0;
  uint64_t available() const { return free > reserved ? free - reserved : 0; }
};
Result<HugePagePool> read_huge_page_pool();

// Why a mapping of `size` bytes of huge pages failed (`errnum`), with what to do: the pages
// missing and the vm.nr_hugepages that would do. Pure, for tests.
Error huge_pages_error(int errnum, uint64_t size, const HugePagePool& pool);

// An anonymous private mapping of `size` bytes (a multiple of 2 MiB) of 2 MiB pages, all reserved
// at once (no MAP_NORESERVE), so that a host short of huge pages refuses the start instead of the
// guest dying of SIGBUS later.
Result<Mmap> map_huge_pages(uint64_t size);

}  // namespace vessel::vmm
