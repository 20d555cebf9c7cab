// The container's file system view, built inside its new mount namespace: propagation, the rootfs
// bind mount, config mounts (each mount point resolved with openat2(RESOLVE_IN_ROOT) and mounted
// through its /proc/self/fd path, so a symlink in the rootfs cannot redirect it), devices,
// pivot_root, then masked and read-only paths.
#pragma once

#include <functional>
#include <string>

#include "base/error.h"
#include "runtime/cgroups/cgroup.h"
#include "runtime/spec/spec.h"

namespace vessel::runtime {

struct MountFlags {
  unsigned long flags = 0;       // MS_* applied at mount time
  unsigned long clear = 0;       // MS_* explicitly cleared ("rw", "suid"...)
  unsigned long propagation = 0; // MS_SHARED/MS_SLAVE/MS_PRIVATE/MS_UNBINDABLE (| MS_REC)
  bool bind = false, recursive = false;
  std::string data;              // options the kernel file system parses ("size=65536k")
};
MountFlags parse_mount_options(const std::vector<std::string>& options);

struct RootfsContext {
  std::string rootfs;    // absolute host path
  std::string bundle;    // relative mount sources are resolved here
  const Cgroup* cgroup = nullptr;
  bool userns = false;
  bool cgroupns = false;
  bool no_pivot = false;
};

// Everything before pivot_root (mounts and devices).
Result<void> prepare_rootfs(const Spec& spec, const RootfsContext& ctx);
// pivot_root (or MS_MOVE + chroot with --no-pivot) and the rootfsPropagation of "/".
Result<void> enter_rootfs(const Spec& spec, const RootfsContext& ctx);
// After the pivot: sysctls, masked paths, read-only paths, read-only root.
Result<void> finish_rootfs(const Spec& spec);

}  // namespace vessel::runtime
