#include "vmm/snapshot/device_extra.h"

#include "vmm/snapshot/machine_state.h"

namespace vessel::vmm::snapshot {

Result<void> add_device_extra(MachineState& state, DeviceExtra extra) {
  if (auto* net = std::get_if<NetState>(&extra)) {
    if (state.net.size() >= kMaxNetDevices)
      return fail(ENOTSUP, "more than {} virtio-net devices to snapshot", kMaxNetDevices);
    state.net.push_back(std::move(*net));
  } else if (auto* vsock = std::get_if<VsockState>(&extra)) {
    if (state.vsock) return fail(ENOTSUP, "more than one virtio-vsock device to snapshot");
    state.vsock = std::move(*vsock);
  } else if (auto* balloon = std::get_if<BalloonState>(&extra)) {
    if (state.balloon) return fail(ENOTSUP, "more than one virtio-balloon device to snapshot");
    state.balloon = *balloon;
  }
  return {};
}

DeviceExtra device_extra_at(const MachineState& state, uint64_t mmio_base) {
  for (const auto& n : state.net)
    if (n.mmio_base == mmio_base) return n;
  if (state.vsock && state.vsock->mmio_base == mmio_base) return *state.vsock;
  if (state.balloon && state.balloon->mmio_base == mmio_base) return *state.balloon;
  return {};
}

}  // namespace vessel::vmm::snapshot
