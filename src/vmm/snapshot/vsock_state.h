// virtio-vsock's own state in a snapshot (docs/vmm/snapshot.md, section vsock). As in Firecracker,
// no host-side connection survives a snapshot: the new process has none, and the device sends the
// guest VIRTIO_VSOCK_EVENT_TRANSPORT_RESET on load so that it drops its connected sockets
// (listening ones stay). What is saved is the device's identity, checked against the
// configuration: its window, the guest CID the driver read, the host socket path.
#pragma once

#include <cstdint>
#include <string>

#include "base/error.h"
#include "vmm/snapshot/byte_codec.h"

namespace vessel::vmm::snapshot {

struct VsockState {
  uint64_t mmio_base = 0;
  uint64_t guest_cid = 0;
  std::string uds_path;
};

void encode_vsock(const VsockState& s, ByteWriter& w);
Result<VsockState> decode_vsock(ByteReader& r);

}  // namespace vessel::vmm::snapshot
