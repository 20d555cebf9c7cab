// virtio-vsock's event queue (virtio 1.2, 5.10.6.5): the device tells the driver of a transport
// reset (VIRTIO_VSOCK_EVENT_TRANSPORT_RESET, struct virtio_vsock_event { le32 id; }) by filling one
// of the buffers the driver keeps there. vessel-vmm sends it once, after a snapshot is loaded: the
// host side of every connection is gone, so the guest drops its connected sockets (listening ones
// stay) and reads guest_cid again.
#pragma once

#include <cstdint>

#include "vmm/devices/virtio/mmio/device_logic.h"
#include "vmm/devices/virtio/queue/virtqueue.h"
#include "vmm/memory/guest_memory.h"

namespace vessel::vmm::virtio::vsock {

inline constexpr uint16_t kEventQueue = 2;
inline constexpr uint32_t kEventTransportReset = 0;

// Pops event buffers until one takes the event (4 device-writable bytes first, nothing for the
// device to read), which is completed with 4 bytes. A buffer that cannot is completed with 0 and
// counted. True once the event went out; false when the ring had no buffer (try again on the
// driver's next doorbell).
QueueResult<bool> send_transport_reset(const GuestMemory& memory, Virtqueue& queue,
                                       DeviceCounters& counters);

}  // namespace vessel::vmm::virtio::vsock
