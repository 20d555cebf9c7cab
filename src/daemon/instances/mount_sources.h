// Where a container's mounts come from on the host (docs/daemon/volumes.md): a bind's path, which
// must exist; a named volume's directory, made on first use; nothing for a tmpfs.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "base/error.h"
#include "daemon/instances/volumes.h"
#include "daemon/spec/spec.h"

namespace vessel::daemon {

// The spec's mounts with their host sources, ordered so that a mount inside another one's target
// comes after it. `volumes` unset: a named volume is refused.
Result<std::vector<std::pair<MountSpec, std::string>>> resolve_mounts(const InstanceSpec& spec, Volumes* volumes);

}  // namespace vessel::daemon
