#include "runtime/self_clone.h"

#include <fcntl.h>
#include <elf.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "base/fd.h"

extern char** environ;

namespace vessel::runtime {

namespace {
constexpr int kSeals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;

// Bytes of the file the kernel and ld.so need: up to the end of the last segment. Debug
// sections (most of a RelWithDebInfo binary) come after it and are not copied.
off_t loaded_size(int fd, off_t file_size) {
  Elf64_Ehdr eh;
  if (pread(fd, &eh, sizeof eh, 0) != sizeof eh || memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
      eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum > 256)
    return file_size;
  off_t end = static_cast<off_t>(eh.e_phoff + eh.e_phnum * sizeof(Elf64_Phdr));
  for (unsigned i = 0; i < eh.e_phnum; ++i) {
    Elf64_Phdr ph;
    if (pread(fd, &ph, sizeof ph, static_cast<off_t>(eh.e_phoff + i * sizeof ph)) != sizeof ph) return file_size;
    end = std::max(end, static_cast<off_t>(ph.p_offset + ph.p_filesz));
  }
  return std::min(end, file_size);
}
}

bool running_from_sealed_copy() {
  int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  int seals = fcntl(fd, F_GET_SEALS);
  close(fd);
  return seals >= 0 && (seals & kSeals) == kSeals;
}

namespace {
// The ELF header of a copy without its section headers says so.
void drop_section_headers(int mem) {
  Elf64_Ehdr eh;
  if (pread(mem, &eh, sizeof eh, 0) != sizeof eh) return;
  eh.e_shoff = 0;
  eh.e_shnum = 0;
  eh.e_shstrndx = 0;
  (void)!pwrite(mem, &eh, sizeof eh, 0);
}

Result<Fd> sealed_copy_of_self() {
  Fd src(open("/proc/self/exe", O_RDONLY | O_CLOEXEC));
  if (!src) return fail_errno("open /proc/self/exe");
  struct stat st;
  if (fstat(src.get(), &st) != 0) return fail_errno("fstat /proc/self/exe");
  Fd mem(memfd_create("vessel-runtime", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!mem) return fail_errno("memfd_create");
  off_t size = loaded_size(src.get(), st.st_size);
  off_t off = 0;
  while (off < size) {
    ssize_t n = sendfile(mem.get(), src.get(), &off, static_cast<size_t>(size - off));
    if (n < 0) return fail_errno("copy the runtime binary into a memfd");
    if (n == 0) return fail(EIO, "copy the runtime binary into a memfd: short copy ({} of {} bytes)", off, size);
  }
  if (size < st.st_size) drop_section_headers(mem.get());
  if (fcntl(mem.get(), F_ADD_SEALS, kSeals) != 0) return fail_errno("seal the memfd copy");
  return mem;
}
}  // namespace

// Fails closed, as runc does: a container process started from the on-disk binary could
// overwrite it through /proc/PID/exe.
Result<void> ensure_sealed_self(char** argv) {
  if (running_from_sealed_copy()) return {};
  auto mem = sealed_copy_of_self();
  if (!mem) {
    return tl::unexpected(std::move(mem.error())
                              .add_context("make a sealed copy of the runtime binary (the CVE-2019-5736 defence); "
                                           "refusing to start a container process without it"));
  }
  fexecve(mem->get(), argv, environ);
  return fail_errno("re-execute from the sealed copy of the runtime binary (the CVE-2019-5736 defence)");
}

}  // namespace vessel::runtime
