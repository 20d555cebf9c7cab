// virtio-net device logic (virtio 1.2, section 5.1) over a tap (tap.h).
//
// Two queues: rx (0) and tx (1). tx: each chain is popped, parsed and validated in full
// (net_frame.h: header, directions, sizes, offloads against the negotiated features) before one
// writev() hands it to the tap; a refused chain is completed unused and counted. rx: one frame is
// read from the tap into a host buffer, then copied into the guest's receive chains (several with
// VIRTIO_NET_F_MRG_RXBUF, num_buffers in the header). A frame that finds no buffers waits in that
// host buffer and the tap is not polled (backend_wanted) until the driver adds buffers.
// Rate limiters (Firecracker's rx/tx_rate_limiter) hold frames back until their buckets refill
// (retry_at). Every guest mistake is a counted device error, never a crash.
#pragma once

#include <array>
#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

#include "vmm/devices/virtio/mmio/device_logic.h"
#include "vmm/devices/virtio/net/net_frame.h"
#include "vmm/devices/virtio/net/tap.h"
#include "vmm/devices/virtio/virtio_devices.h"
#include "vmm/rate_limiter/rate_limiter.h"

namespace vessel::vmm::virtio::net {

inline constexpr uint32_t kDeviceTypeNet = 1;
inline constexpr uint16_t kRxQueue = 0, kTxQueue = 1;
inline constexpr size_t kConfigSize = 10;  // mac[6], status, max_virtqueue_pairs
inline constexpr uint16_t kStatusLinkUp = 1;
inline constexpr size_t kBudget = 64;  // chains per queue per batch

// The features both backends offer (docs/vmm/net.md, "Features offered"); vhost-net offers
// those of them its kernel knows (vhost_backend.h).
inline constexpr uint64_t kNetFeatures =
    kFeatureVersion1 | kFeatureIndirectDesc | kFeatureEventIdx | kFeatureCsum | kFeatureGuestCsum |
    kFeatureMac | kFeatureGuestTso4 | kFeatureGuestTso6 | kFeatureGuestUfo | kFeatureHostTso4 |
    kFeatureHostTso6 | kFeatureHostUfo | kFeatureMrgRxbuf | kFeatureStatus;
// The config space: mac, status (link up), max_virtqueue_pairs (1).
std::array<uint8_t, kConfigSize> config_space(const NetConfig& config);
// The offloads the tap may hand us, from what the driver accepted (its GUEST_* features).
unsigned tun_offload_flags(uint64_t driver_features);
// A saved NetState against the device's configuration (the same interface on the same tap), then
// its MAC put into `config` (the config space), as the guest read it before the snapshot.
Result<void> take_saved_identity(const snapshot::NetState& saved, const std::string& iface_id,
                                 const std::string& tap_name, std::array<uint8_t, kConfigSize>& config);
// A locally administered unicast MAC derived from the interface's names (stable across restarts).
std::array<uint8_t, 6> generated_mac(const std::string& iface_id, const std::string& host_dev_name);

class NetLogic final : public DeviceLogic {
 public:
  NetLogic(const NetConfig& config, Tap tap, const GuestMemory* memory);

  const char* name() const override { return "virtio-net"; }
  uint32_t device_type() const override { return kDeviceTypeNet; }
  uint64_t features() const override { return features_; }
  uint16_t num_queues() const override { return 2; }
  uint16_t max_queue_size() const override { return queue_size_; }
  void read_config(uint64_t offset, std::span<uint8_t> data) const override;
  void activate(uint64_t driver_features) override;
  QueueResult<size_t> process(uint16_t index, Virtqueue& queue, size_t budget,
                              DeviceCounters& counters) override;
  void add_metrics(json::Json& out) const override;
  std::optional<std::chrono::steady_clock::time_point> retry_at() const override;
  int backend_fd() const override { return tap_dead_ ? -1 : tap_.fd(); }
  bool backend_wanted() const override;
  Result<void> set_rate_limiter(std::string_view which,
                                const std::optional<RateLimiterConfig>& config) override;
  // Snapshots (net_snapshot.cc): the MAC the guest saw and a frame waiting for receive buffers.
  snapshot::DeviceExtra save_extra() const override;
  Result<void> restore_extra(const snapshot::DeviceExtra& extra) override;

 private:
  enum class Delivery { Delivered, Starved, Dropped };
  QueueResult<size_t> process_tx(Virtqueue& queue, size_t budget, DeviceCounters& counters);
  QueueResult<size_t> process_rx(Virtqueue& queue, size_t budget, DeviceCounters& counters);
  // Reads the next frame from the tap into rx_frame_; false when there is none.
  bool read_frame(DeviceCounters& counters);
  // Copies the pending frame into receive chains; `completed` counts the chains used up.
  QueueResult<Delivery> deliver(Virtqueue& queue, DeviceCounters& counters, size_t& completed);
  void apply_offload(DeviceCounters& counters);

  std::string iface_id_;
  Tap tap_;
  const GuestMemory* memory_;
  uint16_t queue_size_;
  uint64_t features_;
  std::array<uint8_t, kConfigSize> config_{};
  uint64_t driver_features_ = 0;
  bool offload_pending_ = false;  // set on activate (a vCPU thread), applied on the device thread

  // Device thread (under the transport lock) only.
  std::vector<uint8_t> rx_frame_;  // a frame read from the tap, header first
  uint32_t rx_len_ = 0;            // 0: none pending
  bool rx_paid_ = false;           // the pending frame has passed the rx limiter
  bool rx_starved_ = false;        // the last frame found no receive buffers
  bool tap_dead_ = false;          // the other end is gone (test socketpairs)
  bool tx_held_ = false;           // a tx chain went back to the ring for the limiter
  std::optional<RateLimiter> rx_limiter_, tx_limiter_;
  mutable std::mutex config_mu_;  // the limiter configs: metrics() reads them from any thread
  std::optional<RateLimiterConfig> rx_limiter_config_, tx_limiter_config_;

  struct Direction {
    std::atomic<uint64_t> bytes{0}, frames{0}, dropped{0}, throttled{0};
  };
  Direction rx_, tx_;
  std::atomic<uint64_t> rx_bad_buffers_{0};
  std::array<std::atomic<uint64_t>, static_cast<size_t>(TxErrorKind::Count)> tx_refused_{};
};

}  // namespace vessel::vmm::virtio::net
