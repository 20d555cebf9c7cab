// VmBackend's part of named snapshots (docs/daemon/snapshots.md): the disk's new backing-file
// allowlist, given to the running vessel-vmm before the snapshot is taken so that the snapshot's
// configuration lets its drives open the frozen layer after a load.
#include "daemon/instances/vm_backend.h"

namespace vessel::daemon {

Result<void> VmBackend::set_disk_backing(const InstanceContext& ctx, size_t index, const std::vector<std::string>& backing) {
  std::string id = fmt::format("disk{}", index);
  json::Json files = json::Json::array();
  for (const auto& f : backing) files.push_back(f);
  TRY(api(ctx, "PATCH", "/drives/" + id, {{"drive_id", id}, {"backing_files", files}}));
  return {};
}

}  // namespace vessel::daemon
