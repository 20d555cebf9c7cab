// The jail's file system and identity (vessel-jailer, steps 1, 2, 5 and 6 of its --help).
#pragma once

#include "base/error.h"
#include "jailer/jail_options.h"

namespace vessel::jailer {

// Host side, as root: the root directory, the exec file in it, the device nodes.
Result<void> prepare_root(const JailOptions& o);
// In the new mount namespace: private mounts, pivot_root into the jail root, old root detached.
Result<void> enter_root(const JailOptions& o);
// No supplementary groups, then GID and UID (setresgid/setresuid: no way back to root).
Result<void> drop_privileges(const JailOptions& o);
// Closes every descriptor from `first` on, but `keep` (the error pipe until the exec).
Result<void> close_fds_from(int first, int keep);

}  // namespace vessel::jailer
