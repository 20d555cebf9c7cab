#include "vmm/snapshot/memory_file.h"

#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "base/fd.h"

namespace vessel::vmm::snapshot {
namespace {

constexpr uint64_t kPage = 4096;

// Stops at the first non-zero word: a dirty page usually has one near its start.
bool all_zero(const uint8_t* p) {
  for (uint64_t i = 0; i < kPage; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    if (w != 0) return false;
  }
  return true;
}

}  // namespace

Result<void> write_memory_file(const GuestMemory& memory, int fd) {
  uint64_t size = memory.size();
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0) return fail_errno("truncate the memory file to {} bytes", size);
  const uint8_t* base = memory.host_base();
  // Runs of pages that are not all zeros, each written with one pwrite.
  for (uint64_t at = 0; at < size;) {
    if (all_zero(base + at)) {
      at += kPage;
      continue;
    }
    uint64_t end = at + kPage;
    while (end < size && end - at < (64ull << 20) && !all_zero(base + end)) end += kPage;
    TRY_CTX(pwrite_all(fd, base + at, end - at, static_cast<off_t>(at)), "write the memory file at {:#x}", at);
    at = end;
  }
  return {};
}

}  // namespace vessel::vmm::snapshot
