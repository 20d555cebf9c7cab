#include "runtime/self_clone.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"

extern char** environ;

namespace vessel::runtime {

namespace {
constexpr int kSeals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;
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
  off_t off = 0;
  while (off < st.st_size) {
    ssize_t n = sendfile(mem, src, &off, static_cast<size_t>(st.st_size - off));
    if (n <= 0) break;
  }
  close(src);
  if (off != st.st_size || fcntl(mem, F_ADD_SEALS, kSeals) != 0) {
    close(mem);
    log::warn("could not make a sealed copy of the runtime binary");
    return;
  }
  fexecve(mem, argv, environ);
  close(mem);
  log::warn("could not re-execute from the sealed copy of the runtime binary");
}

}  // namespace vessel::runtime
