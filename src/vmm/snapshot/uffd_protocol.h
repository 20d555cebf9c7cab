// The message vessel-vmm sends a page-fault handler when it loads a snapshot with the Uffd memory
// backend (docs/vmm/uffd.md), in Firecracker's shape: a JSON array with one object per guest RAM
// region, sent together with the userfaultfd (SCM_RIGHTS) over the handler's Unix socket:
//
//   [{"base_host_virt_addr": 140..., "size": 134217728, "offset": 0, "page_size": 4096,
//     "page_size_kib": 4}]
//
// base_host_virt_addr: where the region starts in vessel-vmm's address space (the fault
// addresses the handler reads from the uffd); offset: where its bytes start in the memory file;
// page_size in bytes (Firecracker 1.10+), page_size_kib as Firecracker 1.5-1.9 named it (later
// Firecrackers send it too, holding bytes: both readings are accepted when page_size is there).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace vessel::vmm::snapshot {

struct UffdRegion {
  uint64_t base_host_virt_addr = 0;
  uint64_t size = 0;
  uint64_t offset = 0;      // in the memory file
  uint64_t page_size = 4096;
};

inline constexpr size_t kMaxUffdMessageBytes = 64 << 10;
inline constexpr size_t kMaxUffdRegions = 64;

std::string encode_uffd_regions(const std::vector<UffdRegion>& regions);

// Parses and checks a handler message: a non-empty JSON array (at most kMaxUffdRegions) of
// objects with exactly the fields above (page_size or page_size_kib or both, agreeing), every
// number an unsigned integer, page size 4 KiB or 2 MiB, address, size and offset multiples of it,
// sizes positive, no sum that overflows, no two regions overlapping in the address space or in
// the file. The error names the region and the field.
Result<std::vector<UffdRegion>> decode_uffd_regions(std::string_view text);

// The regions must lie inside a memory file of `file_size` bytes.
Result<void> check_uffd_regions_fit(const std::vector<UffdRegion>& regions, uint64_t file_size);

}  // namespace vessel::vmm::snapshot
