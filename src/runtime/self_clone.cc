#include "runtime/self_clone.h"

#include <fcntl.h>
#include <elf.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "base/log.h"

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

void ensure_sealed_self(int /*argc*/, char** argv) {
  if (running_from_sealed_copy()) return;
  int src = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  if (src < 0) return;
  struct stat st;
  if (fstat(src, &st) != 0) {
    close(src);
    return;
  }
  int mem = memfd_create("vessel-runtime", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (mem < 0) {
    close(src);
    return;
  }
  off_t size = loaded_size(src, st.st_size);
  off_t off = 0;
  while (off < size) {
    ssize_t n = sendfile(mem, src, &off, static_cast<size_t>(size - off));
    if (n <= 0) break;
  }
  close(src);
  if (size < st.st_size) {
    // The section headers were not copied: say so in the header.
    Elf64_Ehdr eh;
    if (pread(mem, &eh, sizeof eh, 0) == sizeof eh) {
      eh.e_shoff = 0;
      eh.e_shnum = 0;
      eh.e_shstrndx = 0;
      (void)!pwrite(mem, &eh, sizeof eh, 0);
    }
  }
  if (off != size || fcntl(mem, F_ADD_SEALS, kSeals) != 0) {
    close(mem);
    log::warn("could not make a sealed copy of the runtime binary");
    return;
  }
  fexecve(mem, argv, environ);
  close(mem);
  log::warn("could not re-execute from the sealed copy of the runtime binary");
}

}  // namespace vessel::runtime
