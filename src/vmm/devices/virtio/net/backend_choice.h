// Which backend serves a virtio-net device (docs/vmm/net.md, "vhost-net"), and the feature
// arithmetic of the vhost-net backend: pure functions, unit-tested without /dev/vhost-net.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "base/error.h"
#include "vmm/devices/virtio/net/net_frame.h"
#include "vmm/devices/virtio/virtio_devices.h"

namespace vessel::vmm::virtio::net {

enum class NetBackend { Userspace, Vhost };
const char* to_string(NetBackend backend);  // "userspace", "vhost"

struct BackendChoice {
  NetBackend backend;
  std::string reason;  // why, for the log (the userspace path in Auto: why not vhost)
};

// `open_vhost` opens /dev/vhost-net (called only when the choice depends on it). Auto: vhost when
// no rate limiter is configured and it opens, else userspace; On: vhost, or an error naming the
// reason (a rate limiter, or the device's error); Off: userspace.
Result<BackendChoice> choose_backend(VhostMode mode, bool rate_limited,
                                     const std::function<Result<void>()>& open_vhost);

// The features the tap handles whatever serves the rings: the offloads (checksum, segmentation)
// and the config-space features (MAC, STATUS).
inline constexpr uint64_t kTapFeatures =
    kFeatureCsum | kFeatureGuestCsum | kFeatureMac | kFeatureGuestTso4 | kFeatureGuestTso6 |
    kFeatureGuestUfo | kFeatureHostTso4 | kFeatureHostTso6 | kFeatureHostUfo | kFeatureStatus;
// VHOST_NET_F_VIRTIO_NET_HDR: vhost adds and strips the virtio header itself. Never used here:
// the tap does it (IFF_VNET_HDR, 12 bytes), so vhost passes the header through.
inline constexpr uint64_t kVhostNetFVirtioNetHdr = 1ull << 27;

// What the device offers with vhost: our features, those about the rings (VERSION_1, EVENT_IDX,
// INDIRECT_DESC, MRG_RXBUF) only when the kernel's VHOST_GET_FEATURES has them.
uint64_t vhost_offered_features(uint64_t vhost_features);
// What VHOST_SET_FEATURES gets: the driver's features the kernel knows, without the header bit.
uint64_t vhost_acked_features(uint64_t driver_features, uint64_t vhost_features);

}  // namespace vessel::vmm::virtio::net
