// virtio-net in snapshots (docs/vmm/snapshot.md, docs/vmm/net.md "Snapshots"). The transport saves
// the rings; the configuration (tap name, MAC, vhost choice, rate limiters) travels in the
// machine's config JSON, so a load reopens the tap by its name and chooses the backend again
// (create_net). Here: the NetState section, checked against that configuration on load.
#include <chrono>
#include <cstring>

#include "base/log.h"
#include "vmm/devices/virtio/net/vhost_logic.h"
#include "vmm/devices/virtio/net/virtio_net.h"

namespace vessel::vmm::virtio::net {

Result<void> take_saved_identity(const snapshot::NetState& saved, const std::string& iface_id,
                                 const std::string& tap_name,
                                 std::array<uint8_t, kConfigSize>& config) {
  if (saved.iface_id != iface_id)
    return fail(EINVAL, "the snapshot's network interface '{}' is '{}' in its configuration",
                saved.iface_id, iface_id);
  if (saved.host_dev_name != tap_name)
    return fail(EINVAL,
                "network interface {}: the snapshot's tap '{}' is '{}' in its configuration",
                iface_id, saved.host_dev_name, tap_name);
  std::memcpy(config.data(), saved.mac.data(), saved.mac.size());
  return {};
}

namespace {

snapshot::NetState identity(const std::string& iface_id, const std::string& tap_name,
                            const std::array<uint8_t, kConfigSize>& config, bool vhost) {
  snapshot::NetState s;
  s.iface_id = iface_id;
  s.host_dev_name = tap_name;
  std::memcpy(s.mac.data(), config.data(), s.mac.size());
  s.vhost = vhost;
  return s;
}

const snapshot::NetState* net_state_of(const snapshot::DeviceExtra& extra) {
  return std::get_if<snapshot::NetState>(&extra);
}

void save_levels(const std::optional<RateLimiter>& limiter, snapshot::BucketLevel& bandwidth,
                 snapshot::BucketLevel& ops, uint64_t now) {
  if (!limiter) return;
  auto l = limiter->levels(now);
  if (l.bandwidth) bandwidth = {true, l.bandwidth->budget, l.bandwidth->burst};
  if (l.ops) ops = {true, l.ops->budget, l.ops->burst};
}

void restore_levels(std::optional<RateLimiter>& limiter, const snapshot::BucketLevel& bandwidth,
                    const snapshot::BucketLevel& ops, uint64_t now) {
  if (!limiter) return;
  RateLimiter::Levels l;
  if (bandwidth.present) l.bandwidth = TokenBucket::Level{bandwidth.budget, bandwidth.burst};
  if (ops.present) l.ops = TokenBucket::Level{ops.budget, ops.burst};
  limiter->set_levels(l, now);
}

uint64_t steady_ns() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

}  // namespace

snapshot::DeviceExtra NetLogic::save_extra() const {
  auto s = identity(iface_id_, tap_.name(), config_, false);
  uint64_t now = steady_ns();
  save_levels(rx_limiter_, s.rx_bandwidth, s.rx_ops, now);
  save_levels(tx_limiter_, s.tx_bandwidth, s.tx_ops, now);
  if (rx_len_ > 0) {
    s.rx_frame.assign(reinterpret_cast<const char*>(rx_frame_.data()), rx_len_);
    s.rx_paid = rx_paid_;
  }
  return s;
}

Result<void> NetLogic::restore_extra(const snapshot::DeviceExtra& extra) {
  const auto* saved = net_state_of(extra);
  if (!saved) return DeviceLogic::restore_extra(extra);
  TRY(take_saved_identity(*saved, iface_id_, tap_.name(), config_));
  if (saved->rx_frame.size() > rx_frame_.size())
    return fail(EINVAL, "network interface {}: a pending frame of {} bytes (at most {})", iface_id_,
                saved->rx_frame.size(), rx_frame_.size());
  std::memcpy(rx_frame_.data(), saved->rx_frame.data(), saved->rx_frame.size());
  rx_len_ = static_cast<uint32_t>(saved->rx_frame.size());
  rx_paid_ = saved->rx_paid;
  uint64_t now = steady_ns();
  restore_levels(rx_limiter_, saved->rx_bandwidth, saved->rx_ops, now);
  restore_levels(tx_limiter_, saved->tx_bandwidth, saved->tx_ops, now);
  return {};
}

snapshot::DeviceExtra VhostNetLogic::save_extra() const {
  return identity(iface_id_, tap_.name(), config_, true);
}

Result<void> VhostNetLogic::restore_extra(const snapshot::DeviceExtra& extra) {
  const auto* saved = net_state_of(extra);
  if (!saved) return DeviceLogic::restore_extra(extra);
  TRY(take_saved_identity(*saved, iface_id_, tap_.name(), config_));
  // The kernel reads frames from the tap itself: one the userspace backend held cannot be handed
  // to it, and is lost as on a wire.
  if (!saved->rx_frame.empty())
    log::info("virtio-net {}: a received frame waiting in the snapshot is dropped (vhost-net now)",
              iface_id_);
  return {};
}

std::optional<uint16_t> VhostNetLogic::kernel_next_avail(uint16_t index) const {
  if (index >= base_.size()) return std::nullopt;
  return base_[index];
}

void VhostNetLogic::restored(std::span<const Virtqueue* const> queues) {
  // activate() started from 0 (new rings); these rings are the driver's old ones, already walked.
  for (size_t i = 0; i < base_.size() && i < queues.size(); ++i)
    if (queues[i]) base_[i] = queues[i]->position().next_avail;
}

}  // namespace vessel::vmm::virtio::net
