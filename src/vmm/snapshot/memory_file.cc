#include "vmm/snapshot/memory_file.h"

#include <sys/stat.h>
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

Result<void> write_memory_pages(const GuestMemory& memory, int fd, const std::vector<uint64_t>& pages) {
  uint64_t size = memory.size();
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0) return fail_errno("truncate the memory file to {} bytes", size);
  const uint8_t* base = memory.host_base();
  auto dirty = [&](uint64_t page) { return page / 64 < pages.size() && (pages[page / 64] >> (page % 64)) & 1; };
  uint64_t count = size / kPage;
  for (uint64_t p = 0; p < count;) {
    if (!dirty(p)) {
      ++p;
      continue;
    }
    uint64_t end = p + 1;
    while (end < count && dirty(end) && end - p < (64ull << 20) / kPage) ++end;
    TRY_CTX(pwrite_all(fd, base + p * kPage, (end - p) * kPage, p * kPage), "write the memory file at {:#x}", p * kPage);
    p = end;
  }
  return {};
}

Result<void> apply_memory_diff(int base_fd, int diff_fd) {
  struct stat b {}, d {};
  if (::fstat(base_fd, &b) != 0 || ::fstat(diff_fd, &d) != 0) return fail_errno("fstat the memory files");
  if (b.st_size != d.st_size)
    return fail(EINVAL, "the diff memory file has {} bytes, the base {}: not a diff of this base", d.st_size, b.st_size);
  std::vector<uint8_t> buf(4 << 20);
  off_t at = 0;
  for (;;) {
    off_t data = ::lseek(diff_fd, at, SEEK_DATA);
    if (data < 0 && errno == ENXIO) break;  // no data after `at`
    if (data < 0) return fail_errno("SEEK_DATA in the diff memory file");
    off_t hole = ::lseek(diff_fd, data, SEEK_HOLE);
    if (hole < 0) return fail_errno("SEEK_HOLE in the diff memory file");
    for (off_t o = data; o < hole;) {
      size_t n = static_cast<size_t>(std::min<off_t>(hole - o, static_cast<off_t>(buf.size())));
      ssize_t got = ::pread(diff_fd, buf.data(), n, o);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) return fail_errno("read the diff memory file at {:#x}", o);
      TRY_CTX(pwrite_all(base_fd, buf.data(), static_cast<size_t>(got), static_cast<uint64_t>(o)),
              "write the base memory file at {:#x}", o);
      o += got;
    }
    at = hole;
  }
  return {};
}

}  // namespace vessel::vmm::snapshot
