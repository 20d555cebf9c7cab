// A virtio device's own snapshot state beyond its transport's (VirtioState): none for most
// devices, NetState for virtio-net, VsockState for virtio-vsock, BalloonState for virtio-balloon. Devices fill and take it through
// DeviceLogic::save_extra/restore_extra; the machine puts it in its own section.
#pragma once

#include <variant>

#include "vmm/snapshot/balloon_state.h"
#include "vmm/snapshot/net_state.h"
#include "vmm/snapshot/vsock_state.h"

namespace vessel::vmm::snapshot {

using DeviceExtra = std::variant<std::monostate, NetState, VsockState, BalloonState>;

struct MachineState;
// Files a device's extra state in the machine state's list of its kind.
Result<void> add_device_extra(MachineState& state, DeviceExtra extra);
// The extra state saved for the virtio device at `mmio_base` (monostate: none).
DeviceExtra device_extra_at(const MachineState& state, uint64_t mmio_base);

}  // namespace vessel::vmm::snapshot
