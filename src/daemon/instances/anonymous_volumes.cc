// Anonymous volumes (docs/daemon/volumes.md#anonymous-volumes) go with their instance under --rm
// and `rm -v`; a plain `rm` leaves them to `volume rm` and `volume prune`. (They are named at
// create: name_anonymous_volumes, mount_sources.h.)
#include "base/log.h"
#include "daemon/instances/manager.h"

namespace vessel::daemon {

Result<void> Manager::remove_with_volumes(const std::string& name, bool force) {
  auto [row, spec] = TRY(load(name));
  TRY(remove(name, force));
  if (!volumes_) return {};
  for (const auto& m : spec.mounts)
    if (m.anonymous)
      if (auto removed = volumes_->remove(m.source); !removed && removed.error().errnum() != ENOENT)
        log::warn("{}: cannot remove its anonymous volume {}: {}", name, m.source, removed.error().to_string());
  return {};
}

}  // namespace vessel::daemon
