// virtio-mmio, version 2 (virtio 1.2, section 4.2.2): the register window a driver programs, and
// the device thread that serves the queues.
//
// Threads: register accesses come from vCPU threads; queue work runs on this device's own
// thread, woken by one eventfd that KVM signals on QueueNotify writes (ioeventfd, registered
// through DeviceContext::add_ioeventfd on the first QueueReady) or that write() signals itself
// when no ioeventfd is available. A mutex guards queue state; the device thread holds it for one
// bounded batch (at most `budget` chains per queue) at a time, so register writes (reset) never
// wait long and pause() takes effect between batches.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "base/fd.h"
#include "vmm/devices/virtio/mmio/device_logic.h"
#include "vmm/devices/virtio/virtio_devices.h"

namespace vessel::vmm::virtio {

namespace status {
inline constexpr uint32_t kAcknowledge = 1;
inline constexpr uint32_t kDriver = 2;
inline constexpr uint32_t kDriverOk = 4;
inline constexpr uint32_t kFeaturesOk = 8;
inline constexpr uint32_t kNeedsReset = 0x40;
inline constexpr uint32_t kFailed = 0x80;
}  // namespace status

namespace reg {
inline constexpr uint64_t kMagic = 0x000, kVersion = 0x004, kDeviceId = 0x008, kVendorId = 0x00c,
                          kDeviceFeatures = 0x010, kDeviceFeaturesSel = 0x014,
                          kDriverFeatures = 0x020, kDriverFeaturesSel = 0x024, kQueueSel = 0x030,
                          kQueueNumMax = 0x034, kQueueNum = 0x038, kQueueReady = 0x044,
                          kQueueNotify = 0x050, kInterruptStatus = 0x060, kInterruptAck = 0x064,
                          kStatus = 0x070, kQueueDescLow = 0x080, kQueueDescHigh = 0x084,
                          kQueueDriverLow = 0x090, kQueueDriverHigh = 0x094,
                          kQueueDeviceLow = 0x0a0, kQueueDeviceHigh = 0x0a4,
                          kConfigGeneration = 0x0fc, kConfig = 0x100;
}  // namespace reg

inline constexpr uint32_t kMagicValue = 0x74726976;  // "virt"
inline constexpr uint32_t kVendorVessel = 0x56534c56;  // "VLSV"
inline constexpr uint32_t kInterruptUsedBuffer = 1;
inline constexpr uint32_t kInterruptConfigChange = 2;

class MmioTransport final : public VirtioMmioDevice, private CompletionSink {
 public:
  // Starts the device thread.
  // After serving requests the device thread keeps polling the rings for `poll_us`
  // microseconds before sleeping again (0: never), so a driver that submits right after a
  // completion is served without a wake-up.
  static Result<std::shared_ptr<MmioTransport>> create(std::unique_ptr<DeviceLogic> logic,
                                                       DeviceContext ctx, size_t budget,
                                                       uint32_t poll_us = 0);
  ~MmioTransport() override;

  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;
  Result<void> pause() override;
  Result<void> resume() override;
  Result<void> sync() override;
  Result<void> hand_over_image(bool release) override;
  Result<void> take_over_image() override;
  Result<void> set_rate_limiter(std::string_view which, const std::optional<RateLimiterConfig>& config) override;
  json::Json metrics() const override;
  uint32_t device_type() const override { return logic_->device_type(); }
  Result<snapshot::VirtioState> save_state() const override;
  Result<void> restore_state(const snapshot::VirtioState& state) override;
  Result<snapshot::DeviceExtra> save_extra() const override;
  Result<void> restore_extra(const snapshot::DeviceExtra& extra) override;

  DeviceCounters& counters() { return counters_; }

 private:
  struct QueueConfig {
    uint16_t size = 0;
    bool ready = false;
    QueueLayout layout;
    Virtqueue queue;
  };

  MmioTransport(std::unique_ptr<DeviceLogic> logic, DeviceContext ctx, size_t budget,
                uint32_t poll_us, EventFd notify, EventFd control);
  uint32_t read_register(uint64_t offset);
  void write_register(uint64_t offset, uint32_t value);
  void write_status(uint32_t value);
  void set_queue_ready(QueueConfig& q, bool ready);
  void register_doorbell(uint16_t index);  // the queue's ioeventfd, once per queue or device
  void reset_locked();
  Virtqueue::Position kernel_position(uint16_t index, const QueueLayout& layout) const;  // mu_ held
  uint64_t epoch() const override { return epoch_; }
  void complete_async(uint16_t queue, uint64_t epoch, uint16_t head, uint32_t written) override;
  void config_changed() override;
  void wake() override { (void)notify_.signal(); }
  void enter_needs_reset(const QueueFault& fault);  // mu_ held
  void raise_interrupt(uint32_t reason);
  void run();
  int retry_timeout_ms() const;
  int backend_poll_fd();  // the device's backend fd while it should be polled, else -1
  struct Batch {
    size_t done = 0;    // chains completed
    bool more = false;  // budget exhausted on some queue
  };
  Batch process_all();
  bool any_pending();  // some ready queue has chains waiting
  void poll_rings();
  void set_no_notify(bool on);  // on every ready queue
  // Has the device thread stop a kernel-served device's kernel (DeviceLogic::drain), and waits.
  // Called without mu_ (the device thread may be waiting for it).
  void stop_kernel();

  std::unique_ptr<DeviceLogic> logic_;
  DeviceContext ctx_;
  size_t budget_;
  uint32_t poll_us_;   // maximum polling spell
  uint32_t spell_us_;  // current spell, adapted on the device thread (0: not polling now)
  std::atomic<bool> control_requested_{false};  // pause/stop pending: ends a polling spell
  EventFd notify_;   // QueueNotify doorbell (ioeventfd)
  EventFd control_;  // pause/resume/stop
  bool ioeventfd_registered_ = false;
  std::vector<bool> kick_registered_;  // per queue: its kernel kick fd is an ioeventfd

  mutable std::mutex mu_;  // guards everything below except the atomics
  uint32_t features_sel_ = 0;
  uint32_t driver_features_sel_ = 0;
  uint64_t driver_features_ = 0;
  uint32_t queue_sel_ = 0;
  std::vector<QueueConfig> queues_;
  uint64_t epoch_ = 0;  // bumped on reset and NEEDS_RESET: late async completions are dropped
  std::atomic<uint32_t> status_{0};
  std::atomic<uint32_t> interrupt_status_{0};
  std::atomic<uint32_t> config_generation_{0};

  mutable std::mutex pause_mu_;
  std::condition_variable pause_cv_;
  bool pause_requested_ = false;
  bool paused_ = false;
  bool stop_ = false;
  bool kernel_stop_requested_ = false;

  DeviceCounters counters_;
  std::thread thread_;
};

}  // namespace vessel::vmm::virtio
