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
// Gives each anonymous volume (-v /data: a volume without a source) a random name, as Docker
// does, and marks it anonymous; done once, at create, so the stored spec keeps the names.
void name_anonymous_volumes(InstanceSpec& spec);
// The image's VOLUMEs (Dockerfile VOLUME) that no mount of the spec covers become anonymous
// volumes, as Docker makes them; before name_anonymous_volumes.
void add_image_volumes(InstanceSpec& spec, const std::vector<std::string>& image_volumes);

}  // namespace vessel::daemon
