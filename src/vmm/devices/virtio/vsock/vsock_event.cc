#include "vmm/devices/virtio/vsock/vsock_event.h"

namespace vessel::vmm::virtio::vsock {

QueueResult<bool> send_transport_reset(const GuestMemory& memory, Virtqueue& queue,
                                       DeviceCounters& counters) {
  for (;;) {
    auto popped = queue.pop();
    if (!popped) return tl::unexpected<QueueFault>(popped.error());
    if (!*popped) return false;
    auto& [head, chain] = **popped;
    if (!chain) {
      counters.count(chain.error().kind);
      (void)queue.complete(head, 0);
      continue;
    }
    // Parse, then act: the event buffer is one device-writable descriptor of 4 bytes or more,
    // with nothing for the device to read (as the driver lays it out).
    const auto& d = chain->descriptors;
    if (chain->readable_bytes != 0 || d.empty() || !d.front().device_writes || d.front().len < 4) {
      counters.count(GuestErrorKind::BadRequest);
      (void)queue.complete(head, 0);
      continue;
    }
    uint32_t id = kEventTransportReset;  // little-endian on x86-64
    if (!memory.write(d.front().addr, &id, sizeof id)) {
      counters.count(GuestErrorKind::BadRequest);
      (void)queue.complete(head, 0);
      continue;
    }
    (void)queue.complete(head, sizeof id);
    return true;
  }
}

}  // namespace vessel::vmm::virtio::vsock
