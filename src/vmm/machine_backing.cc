// Machine::set_backing_files(): PATCH /drives/{id} {"backing_files": [...]} on a running VM. The
// open drive keeps its chain; the new allowlist is what the drive's next open checks: a restart
// (on_reboot: restart) and a load of any snapshot taken from now on, whose configuration carries
// it. vesseld lists a disk's future frozen layer here before it snapshots the VM
// (docs/daemon/snapshots.md).
#include "vmm/machine.h"
#include "vmm/machine_impl.h"

namespace vessel::vmm {

Result<void> Machine::set_backing_files(const std::string& drive_id, const std::vector<std::string>& files) {
  if (files.size() > kMaxBackingFiles) return fail(EINVAL, "drive {}: at most {} backing files", drive_id, kMaxBackingFiles);
  bool found = false;
  for (auto* list : {&config_, impl_ ? &impl_->config : nullptr}) {
    if (!list) continue;
    for (auto& d : list->drives)
      if (d.drive_id == drive_id) {
        d.backing_files = files;
        found = true;
      }
  }
  if (!found) return fail(ENOENT, "no drive {}", drive_id);
  return {};
}

}  // namespace vessel::vmm
