// virtio-net with vhost-net serving the rings (docs/vmm/net.md, "vhost-net"): the transport keeps
// the registers, features and config space; the host kernel's vhost worker moves frames between
// the guest's rings and the tap, with no trip through this process per frame.
//
//   * Kick: per queue an eventfd that KVM signals on QueueNotify with the queue's index (an
//     ioeventfd with datamatch, DeviceLogic::queue_kick_fd) and vhost polls (VHOST_SET_VRING_KICK).
//   * Interrupt: one call eventfd for both queues (VHOST_SET_VRING_CALL). virtio-mmio's driver
//     reads InterruptStatus and ignores an interrupt without the used-buffer bit, so the call fd
//     does not go to KVM as an irqfd: the device thread polls it (backend_fd), and the transport
//     sets the bit and raises the interrupt.
//   * Errors: vhost signals an err eventfd when the guest's ring is malformed (the queue then
//     stops); they are counted (vhost.ring_errors) and logged. The VMM is never involved.
//   * Start: on the device thread after DRIVER_OK (serve_kernel): VHOST_SET_FEATURES, per queue
//     VHOST_SET_VRING_NUM/BASE/ADDR/KICK/CALL/ERR, VHOST_NET_SET_BACKEND with the tap. Stop
//     (drain): VHOST_NET_SET_BACKEND -1 and VHOST_GET_VRING_BASE per queue; on a device reset,
//     a pause (started again from the saved ring positions on resume) and at the end.
// The tap's offloads follow the driver's features as on the userspace path (TUNSETOFFLOAD).
#pragma once

#include <array>
#include <atomic>

#include "base/fd.h"
#include "vmm/devices/virtio/mmio/device_logic.h"
#include "vmm/devices/virtio/net/tap.h"
#include "vmm/devices/virtio/net/vhost.h"
#include "vmm/devices/virtio/net/virtio_net.h"

namespace vessel::vmm::virtio::net {

// Where vhost's call eventfd goes (VESSEL_VHOST_IRQ, an experiment knob; docs/vmm/net.md):
//   Relay (default): our call eventfd, polled by the device thread, which sets the used-buffer
//     bit and raises the interrupt;
//   Irqfd: the device's KVM irqfd itself, InterruptStatus untouched (virtio-mmio drivers then
//     ignore the interrupt: kept to measure that);
//   IrqfdStatus: the irqfd itself, and InterruptStatus reads the used-buffer bit set while vhost
//     runs (the driver then checks both queues on every interrupt).
enum class VhostIrq { Relay, Irqfd, IrqfdStatus };
Result<VhostIrq> parse_vhost_irq(std::string_view text);
const char* to_string(VhostIrq mode);

class VhostNetLogic final : public DeviceLogic {
 public:
  // Reads the kernel's features and gives it the guest RAM regions (VHOST_SET_MEM_TABLE).
  // `irqfd`: the device's KVM irqfd (-1: none), used by the Irqfd modes.
  static Result<std::unique_ptr<VhostNetLogic>> create(const NetConfig& config, Tap tap,
                                                       VhostNet vhost, const GuestMemory* memory,
                                                       VhostIrq irq = VhostIrq::Relay,
                                                       int irqfd = -1);

  const char* name() const override { return "virtio-net"; }
  uint32_t device_type() const override { return kDeviceTypeNet; }
  uint64_t features() const override { return features_; }
  uint16_t num_queues() const override { return 2; }
  uint16_t max_queue_size() const override { return queue_size_; }
  void read_config(uint64_t offset, std::span<uint8_t> data) const override;
  void activate(uint64_t driver_features) override;
  QueueResult<size_t> process(uint16_t, Virtqueue&, size_t, DeviceCounters&) override { return 0; }
  void add_metrics(json::Json& out) const override;
  int backend_fd() const override { return events_.get(); }
  bool kernel_served() const override { return true; }
  int queue_kick_fd(uint16_t index) const override { return index < 2 ? kick_[index].fd() : -1; }
  bool serve_kernel(std::span<const Virtqueue* const> queues, DeviceCounters& counters) override;
  void reset() override { start_pending_ = false; }
  uint32_t interrupt_status_bits() const override { return sticky_status_.load() ? 1u : 0u; }
  void drain() override;
  sandbox::ThreadKind thread_kind() const override { return sandbox::ThreadKind::VirtioVhostNet; }
  Result<void> set_rate_limiter(std::string_view which,
                                const std::optional<RateLimiterConfig>& config) override;
  // Snapshots (net_snapshot.cc): the ring positions are the kernel's (kernel_next_avail); a
  // restored device starts the kernel at the saved ones (restored).
  snapshot::DeviceExtra save_extra() const override;
  Result<void> restore_extra(const snapshot::DeviceExtra& extra) override;
  std::optional<uint16_t> kernel_next_avail(uint16_t index) const override;
  void restored(std::span<const Virtqueue* const> queues) override;

 private:
  VhostNetLogic(const NetConfig& config, Tap tap, VhostNet vhost, const GuestMemory* memory,
                uint64_t vhost_features, std::array<EventFd, 2> kick, EventFd call, EventFd err,
                Fd events);
  Result<void> start(std::span<const Virtqueue* const> queues);

  std::string iface_id_;
  Tap tap_;
  VhostNet vhost_;
  const GuestMemory* memory_;
  uint16_t queue_size_;
  uint64_t vhost_features_;  // VHOST_GET_FEATURES
  uint64_t features_;        // offered to the driver
  std::array<uint8_t, kConfigSize> config_{};
  std::array<EventFd, 2> kick_;
  EventFd call_, err_;
  Fd events_;  // epoll set of call_ and err_: the device thread polls it

  // Under the transport lock, or on the device thread while the vCPU that asked waits (reset).
  std::atomic<uint64_t> driver_features_{0};  // metrics() reads it from any thread
  // Atomic: drain() runs on the device thread without the lock (pause, reset, the end).
  std::atomic<bool> start_pending_{false};    // DRIVER_OK (or a resume) since the last start
  std::atomic<bool> offload_pending_{false};  // the tap's offloads follow the driver's features
  std::atomic<bool> running_{false};          // the kernel serves the rings
  std::array<uint16_t, 2> base_{};            // where the kernel left off (VHOST_GET_VRING_BASE)

  VhostIrq irq_mode_ = VhostIrq::Relay;
  int irqfd_ = -1;
  std::atomic<bool> sticky_status_{false};  // IrqfdStatus while vhost runs
  std::atomic<uint64_t> starts_{0}, stops_{0}, start_failures_{0}, ring_errors_{0}, calls_{0};
};

}  // namespace vessel::vmm::virtio::net
