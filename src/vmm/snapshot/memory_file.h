// A snapshot's memory file: guest RAM as one flat file (offset = position in the host mapping,
// RAM below the MMIO hole first). Pages of zeros are left as holes (a sparse file).
#pragma once

#include <string>

#include "base/error.h"
#include "vmm/memory/guest_memory.h"

namespace vessel::vmm::snapshot {

// Writes all of guest RAM into the file open at `fd` (empty or truncated by the caller).
Result<void> write_memory_file(const GuestMemory& memory, int fd);

}  // namespace vessel::vmm::snapshot
