// A VM's network device on the host: a persistent tap (it outlives the fd that made it, so the
// jailed, unprivileged vessel-vmm can open it later by name) owned by the VM's uid and gid and
// enslaved to its network's bridge.
#pragma once

#include <sys/types.h>

#include <string>

#include "base/error.h"

namespace vessel::daemon {

// Makes tap `name` (replacing a stale one), owned by uid/gid, on `bridge`, up.
Result<void> create_vm_tap(const std::string& name, uid_t uid, gid_t gid, const std::string& bridge);

}  // namespace vessel::daemon
