#include "vmm/memory/huge_pages.h"

#include <sys/mman.h>

#include <string>

#ifndef MAP_HUGE_2MB
#define MAP_HUGE_2MB (21 << MAP_HUGE_SHIFT)
#endif

namespace vessel::vmm {
namespace {

constexpr const char* kPool = "/sys/kernel/mm/hugepages/hugepages-2048kB/";

Result<uint64_t> read_count(const char* name) {
  std::string path = std::string(kPool) + name;
  auto text = TRY(read_file(path));
  try {
    return std::stoull(text);
  } catch (...) {
    return fail(EINVAL, "{}: not a number", path);
  }
}

}  // namespace

Result<HugePagePool> read_huge_page_pool() {
  HugePagePool p;
  p.total = TRY(read_count("nr_hugepages"));
  p.free = TRY(read_count("free_hugepages"));
  p.reserved = TRY(read_count("resv_hugepages"));
  return p;
}

Error huge_pages_error(int errnum, uint64_t size, const HugePagePool& pool) {
  uint64_t needed = size / kHugePageSize;
  uint64_t missing = needed > pool.available() ? needed - pool.available() : 0;
  Error e(errnum, fmt::format("guest memory of {} MiB needs {} huge pages of 2 MiB; the host has {} available "
                              "({} in its pool, {} free, {} reserved by other mappings)",
                              size >> 20, needed, pool.available(), pool.total, pool.free, pool.reserved));
  return std::move(e).with_hint(fmt::format("add at least {} to the pool: sysctl vm.nr_hugepages={} (or echo {} > "
                                            "/proc/sys/vm/nr_hugepages), or start the VM with huge_pages None",
                                            missing ? missing : needed, pool.total + (missing ? missing : needed),
                                            pool.total + (missing ? missing : needed)));
}

Result<Mmap> map_huge_pages(uint64_t size) {
  if (size % kHugePageSize != 0)
    return fail(EINVAL, "guest memory of {} bytes is not a whole number of 2 MiB huge pages", size);
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_2MB, -1, 0);
  if (p == MAP_FAILED) {
    int saved = errno;
    auto pool = read_huge_page_pool();
    if (!pool) return fail_system(saved, "map {} MiB of 2 MiB huge pages (the host has no 2 MiB huge page pool: {})", size >> 20,
                           pool.error().to_string());
    return Unexpected(huge_pages_error(saved, size, *pool));
  }
  return Mmap(p, size);
}

}  // namespace vessel::vmm
