// Guest RAM for a snapshot load (docs/vmm/snapshot.md, docs/vmm/uffd.md), from either memory
// backend: the memory file mapped copy-on-write (File), or anonymous memory that a page-fault
// handler fills over userfaultfd (Uffd).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "base/error.h"
#include "vmm/memory/guest_memory.h"
#include "vmm/snapshot/uffd_backend.h"

namespace vessel::vmm {

struct RestoredMemory {
  GuestMemory memory;
  std::optional<std::pair<uint64_t, uint64_t>> file_id;  // File: the memory file's (device, inode)
  std::optional<snapshot::UffdBackend> uffd;              // Uffd: the connection to the handler
};

// A snapshot of a VM with huge pages loads only from a handler (as Firecracker: a private file
// mapping would give the guest the page cache's 4 KiB pages); `huge_pages` says it is one.
Result<RestoredMemory> restored_memory_from_file(const std::string& path, uint64_t size, bool huge_pages = false);
Result<RestoredMemory> restored_memory_from_handler(const std::string& socket_path, uint64_t size, bool huge_pages = false);

}  // namespace vessel::vmm
