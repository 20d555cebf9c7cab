// virtio-net's own state in a snapshot (docs/vmm/snapshot.md, section net), next to the transport's
// (VirtioState): what the device keeps beyond its configuration. The configuration itself (tap
// name, MAC, vhost choice, rate limiter settings) travels in the machine section's config JSON;
// this section pins what the guest already saw (its MAC) and what was in flight (a frame read from
// the tap that the guest had no buffer for yet). Plain values: the device fills and takes them
// (net/net_snapshot.cc), machine_state.cc frames them.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "base/error.h"
#include "vmm/snapshot/byte_codec.h"

namespace vessel::vmm::snapshot {

// A rate limiter bucket's level (TokenBucket::Level): tokens and one-time burst left.
struct BucketLevel {
  bool present = false;
  uint64_t budget = 0, burst = 0;
};

struct NetState {
  uint64_t mmio_base = 0;        // which virtio device (its window, as in VirtioState)
  std::string iface_id;          // checked against the configuration's interface at that window
  std::string host_dev_name;     // the tap, reopened by name on load (it must exist there)
  std::array<uint8_t, 6> mac{};  // the config space's MAC, as the guest read it
  bool vhost = false;            // the backend at save time (the load chooses again)
  std::string rx_frame;          // userspace: a frame from the tap not delivered yet, header first
  bool rx_paid = false;          // it passed the rx rate limiter already
  // The userspace backend's rate limiters: each bucket's level (a load starts them from there).
  BucketLevel rx_bandwidth, rx_ops, tx_bandwidth, tx_ops;
};

inline constexpr size_t kMaxNetDevices = 8;
inline constexpr size_t kMaxNetName = 64;        // iface_id, host_dev_name
inline constexpr size_t kMaxNetFrame = 65562;    // virtio-net's largest frame with its header
inline constexpr size_t kMinNetFrame = 12 + 14;  // header and an Ethernet header

void encode_net(const NetState& s, ByteWriter& w);
Result<NetState> decode_net(ByteReader& r);

}  // namespace vessel::vmm::snapshot
