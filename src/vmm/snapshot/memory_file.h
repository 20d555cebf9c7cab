// A snapshot's memory file: guest RAM as one flat file (offset = position in the host mapping,
// RAM below the MMIO hole first). Pages of zeros are left as holes (a sparse file).
#pragma once

#include <string>
#include <vector>

#include "base/error.h"
#include "vmm/memory/guest_memory.h"

namespace vessel::vmm::snapshot {

// Writes all of guest RAM into the file open at `fd` (empty or truncated by the caller).
Result<void> write_memory_file(const GuestMemory& memory, int fd);
// A Diff snapshot's memory file: full size, but only the pages set in `pages` (bit i: page i of
// the file) are written, zeros included; the rest are holes.
Result<void> write_memory_pages(const GuestMemory& memory, int fd, const std::vector<uint64_t>& pages);
// Copies every data extent of a Diff memory file (SEEK_DATA/SEEK_HOLE) over the base memory file
// it was taken after, which then holds the memory at the Diff's time. Both the same size.
Result<void> apply_memory_diff(int base_fd, int diff_fd);

}  // namespace vessel::vmm::snapshot
