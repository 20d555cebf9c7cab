#include "vmm/devices/virtio/net/backend_choice.h"

#include "vmm/devices/virtio/net/virtio_net.h"

namespace vessel::vmm::virtio::net {

const char* to_string(NetBackend backend) {
  return backend == NetBackend::Vhost ? "vhost" : "userspace";
}

Result<BackendChoice> choose_backend(VhostMode mode, bool rate_limited,
                                     const std::function<Result<void>()>& open_vhost) {
  if (mode == VhostMode::Off)
    return BackendChoice{NetBackend::Userspace, "vhost is off in the configuration"};
  if (rate_limited) {
    if (mode == VhostMode::On)
      return fail(EINVAL,
                  "vhost is on, but vhost-net cannot apply rx_rate_limiter/tx_rate_limiter "
                  "(remove the limiters or set \"vhost\": \"auto\" or \"off\")");
    return BackendChoice{NetBackend::Userspace,
                         "a rate limiter is configured (vhost-net cannot apply it)"};
  }
  auto opened = open_vhost();
  if (opened) return BackendChoice{NetBackend::Vhost, "/dev/vhost-net"};
  if (mode == VhostMode::On)
    return Unexpected(
        std::move(opened).error().add_context("vhost is on, but vhost-net cannot be used"));
  return BackendChoice{NetBackend::Userspace, opened.error().to_string()};
}

uint64_t vhost_offered_features(uint64_t vhost_features) {
  return kNetFeatures & (vhost_features | kTapFeatures);
}

uint64_t vhost_acked_features(uint64_t driver_features, uint64_t vhost_features) {
  return driver_features & vhost_features & ~kVhostNetFVirtioNetHdr;
}

}  // namespace vessel::vmm::virtio::net
