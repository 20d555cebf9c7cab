// --mount SRC:DST[:ro] (vessel-jailer, a flag Firecracker's jailer does not have): host files and
// directories bind-mounted into the jail, inside the jail's own mount namespace. Nothing is
// copied or linked, a read-only mount stays read-only whatever the file's mode, and the mounts
// vanish with the namespace when the VMM ends: no clean-up, nothing left mounted on the host.
#pragma once

#include <string>
#include <vector>

#include "base/error.h"

namespace vessel::jailer {

struct BindMount {
  std::string source;  // host path (absolute); a file or a directory
  std::string target;  // path inside the jail (absolute, no "..")
  bool read_only = false;
};

// "SRC:DST" or "SRC:DST:ro" (":rw" is accepted too). Paths may not contain ':'.
Result<BindMount> parse_bind_mount(const std::string& text);

// Host side, as root, before the namespaces: checks each source and makes its mount point in
// `root` (an empty file or directory), refusing a symbolic link anywhere on the way.
Result<void> make_mount_points(const std::string& root, const std::vector<BindMount>& mounts);

// In the new mount namespace, with `root` already bind-mounted on itself: each source is
// bind-mounted on its mount point, then remounted nosuid, noexec, nodev (not for a block device: it
// is the disk) and read-only for :ro.
Result<void> bind_mounts(const std::string& root, const std::vector<BindMount>& mounts);

}  // namespace vessel::jailer
