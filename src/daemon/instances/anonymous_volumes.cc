// Anonymous volumes (docs/daemon/volumes.md#anonymous-volumes): made at create for `-v /path`
// and for the image's VOLUMEs, named then; they go with their instance under --rm and `rm -v`, and
// a plain `rm` leaves them to `volume rm` and `volume prune`.
#include "base/log.h"
#include "daemon/instances/manager.h"
#include "daemon/instances/mount_sources.h"

namespace vessel::daemon {

Result<InstanceSpec> Manager::spec_to_create(const InstanceSpec& requested) {
  auto spec = TRY(resolve_network(requested));
  if (spec.type == InstanceType::Container && !spec.image.empty())
    if (auto boot = images_.resolve(spec)) add_image_volumes(spec, boot->image_volumes);  // else create says why
  name_anonymous_volumes(spec);
  return spec;
}

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
