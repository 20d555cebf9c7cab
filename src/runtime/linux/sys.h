// Thin wrappers over the system calls glibc 2.36 lacks, and over paths inside a rootfs: the only
// place these raw calls are made.
#pragma once

#include <sys/types.h>

#include <string>

#include "base/error.h"
#include "base/fd.h"

namespace vessel::runtime::sys {

int pivot_root(const char* new_root, const char* put_old);
int pidfd_open(pid_t pid);
int pidfd_send_signal(int pidfd, int sig);
int close_range_cloexec(unsigned first);

// openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS): `path` is resolved as if `root` were "/",
// so no symlink can lead outside it.
Result<Fd> open_in_root(int root, const std::string& path, int flags, mode_t mode = 0);
// mkdir -p inside `root` (each component resolved in root); with `file` the last component is
// created as an empty regular file (the mount point of a file bind mount).
Result<Fd> mkdir_all_in_root(int root, const std::string& path, bool file);

std::string normalize_in_root(const std::string& path);

// "/proc/self/fd/N": the path that names an open fd for mount(2) and friends.
std::string fd_path(int fd);

// The process's start time (field 22 of /proc/PID/stat); 0 when it does not exist.
uint64_t process_start_time(pid_t pid);
// Is the process alive (and not a zombie)?
bool process_alive(pid_t pid);

}  // namespace vessel::runtime::sys
