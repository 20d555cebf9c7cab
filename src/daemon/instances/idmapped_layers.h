// The root filesystem of a --userns=auto container (docs/daemon/userns.md#the-root-filesystem).
// Its image layers belong to host root; inside the container's user namespace they would show up
// as nobody. Each layer is therefore mounted again, read-only, through an idmapped mount
// (mount_setattr MOUNT_ATTR_IDMAP, Linux 5.12; overlayfs accepts such lower layers since 5.19)
// that shows host ids 0..65535 as the container's range, and overlayfs stacks those. The upper
// layer is a plain directory owned by the range: what the container writes belongs, on the host,
// to its high uid. Nothing is copied or chowned but the upper layer's root.
#pragma once

#include <string>
#include <vector>

#include "base/error.h"
#include "base/fd.h"
#include "daemon/policy/id_pool.h"

namespace vessel::daemon {

// A user namespace whose uid and gid maps are "0 <range> <count>", held by its fd (the short-lived
// process that made it is gone when this returns).
Result<Fd> make_userns(const IdRange& range);

// Mounts each of `layers` (a directory on a filesystem that supports idmapped mounts: ext4, xfs,
// btrfs; tmpfs since 6.3) idmapped by `range` and read-only at <dir>/lower/<i>; returns those
// paths, in the order of `layers`.
Result<std::vector<std::string>> mount_idmapped_layers(const std::vector<std::string>& layers,
                                                       const IdRange& range,
                                                       const std::string& dir);
// Detaches and removes what mount_idmapped_layers left under <dir>/lower; idempotent.
void unmount_idmapped_layers(const std::string& dir);

// Lets the container's root reach its root filesystem (the runtime mounts it after it became
// that user, as runc does): `dir` becomes root:<range gid> 0710 and <dir>/upper <range uid>:<range
// gid> 0755, the root directory the container sees.
Result<void> open_instance_dir(const std::string& dir, const IdRange& range);

}  // namespace vessel::daemon
