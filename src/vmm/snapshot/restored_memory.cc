#include "vmm/snapshot/restored_memory.h"

#include <fcntl.h>
#include <sys/stat.h>

namespace vessel::vmm {

Result<RestoredMemory> restored_memory_from_file(const std::string& path, uint64_t size, bool huge_pages) {
  if (huge_pages)
    return fail(EINVAL, "this snapshot's VM has huge_pages 2M: load it with mem_backend Uffd (a page-fault handler "
                        "fills its 2 MiB pages); the File backend would map 4 KiB page-cache pages");
  auto mem = TRY_CTX(Fd::open(path, O_RDONLY | O_CLOEXEC), "memory file {}", path);
  auto memory = TRY_CTX(GuestMemory::map_file_private(mem.get(), size), "memory file {}", path);
  struct stat st {};
  if (::fstat(mem.get(), &st) != 0) return fail_errno("fstat {}", path);
  return RestoredMemory{std::move(memory), std::pair<uint64_t, uint64_t>(st.st_dev, st.st_ino), std::nullopt};
}

Result<RestoredMemory> restored_memory_from_handler(const std::string& socket_path, uint64_t size, bool huge_pages) {
  auto memory = TRY_CTX(GuestMemory::create(size, huge_pages), "allocate guest memory");
  auto backend = TRY_CTX(snapshot::UffdBackend::connect(memory, socket_path), "mem_backend Uffd");
  return RestoredMemory{std::move(memory), std::nullopt, std::move(backend)};
}

}  // namespace vessel::vmm
