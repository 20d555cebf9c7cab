// virtio-blk device logic (virtio 1.2, section 5.2) over a block::BlockBackend.
//
// One request queue. Requests are popped, parsed and validated in full (blk_request.h), then
// executed: the last of a batch on the device thread, the others concurrently on I/O workers
// (io_workers.h), which complete them out of order through the transport (CompletionSink). At
// most BlockConfig::max_in_flight requests are in flight at once; more wait in the ring. That
// bounds the work (and the guest memory referenced by iovecs) a guest can cause.
#pragma once

#include <array>
#include <atomic>
#include <memory>
#include <mutex>

#include "block/block_backend.h"
#include "vmm/rate_limiter/rate_limiter.h"
#include "vmm/devices/virtio/block/blk_request.h"
#include "vmm/devices/virtio/block/io_workers.h"
#include "vmm/devices/virtio/mmio/device_logic.h"
#include "vmm/devices/virtio/virtio_devices.h"

namespace vessel::vmm::virtio::blk {

inline constexpr uint32_t kDeviceTypeBlock = 2;
inline constexpr uint64_t kFeatureSegMax = 1ull << 2;
inline constexpr uint64_t kFeatureRo = 1ull << 5;
inline constexpr uint64_t kFeatureBlkSize = 1ull << 6;
inline constexpr uint64_t kFeatureFlush = 1ull << 9;
inline constexpr uint64_t kFeatureDiscard = 1ull << 13;
inline constexpr uint64_t kFeatureWriteZeroes = 1ull << 14;
inline constexpr size_t kConfigSize = 60;

class BlockLogic final : public DeviceLogic {
 public:
  BlockLogic(const BlockConfig& config, std::unique_ptr<block::BlockBackend> backend,
             const GuestMemory* memory, int thread_nice = 0);

  const char* name() const override { return "virtio-blk"; }
  uint32_t device_type() const override { return kDeviceTypeBlock; }
  uint64_t features() const override { return features_; }
  uint16_t num_queues() const override { return 1; }
  uint16_t max_queue_size() const override { return queue_size_; }
  void read_config(uint64_t offset, std::span<uint8_t> data) const override;
  void activate(uint64_t driver_features) override;
  QueueResult<size_t> process(uint16_t index, Virtqueue& queue, size_t budget,
                              DeviceCounters& counters) override;
  void add_metrics(json::Json& out) const override;
  void attach(CompletionSink* sink) override { sink_ = sink; }
  void drain() override;
  bool can_accept() const override;
  std::optional<std::chrono::steady_clock::time_point> retry_at() const override;
  Result<void> sync() override;
  Result<void> hand_over_image(bool release) override;
  Result<void> take_over_image() override;
  Result<void> set_rate_limiter(std::string_view which, const std::optional<RateLimiterConfig>& config) override;

 private:
  Status execute(const BlkRequest& req, DeviceCounters& counters);
  // Executes, writes the status byte; returns the used length.
  uint32_t run(const BlkRequest& req, DeviceCounters& counters);
  void note_in_flight(uint32_t now);  // keeps peak_in_flight_
  // Hands the request to an idle worker; false (request untouched) when none is free.
  bool submit(uint16_t queue_index, uint16_t head, BlkRequest& req, DeviceCounters& counters);

  std::string drive_id_;
  std::unique_ptr<block::BlockBackend> backend_;
  const GuestMemory* memory_;
  uint16_t queue_size_;
  uint64_t features_;
  DiskGeometry disk_;
  std::array<uint8_t, kConfigSize> config_{};
  uint32_t max_in_flight_;
  bool sync_at_stop_;  // qcow2: its metadata cache must reach the file
  // A migration's receiver: how to open the image again, with its locks (take_over_image).
  std::optional<BlockConfig> reopen_;
  CompletionSink* sink_ = nullptr;
  std::unique_ptr<IoWorkers> workers_;  // null: no concurrency
  std::atomic<uint32_t> in_flight_{0};  // on the workers
  std::atomic<uint32_t> peak_in_flight_{0};
  std::atomic<uint64_t> concurrent_requests_{0};  // served by a worker
  std::optional<RateLimiter> limiter_;  // touched on the device thread only
  mutable std::mutex config_mu_;  // limiter_config_: metrics() reads it from any thread
  std::optional<RateLimiterConfig> limiter_config_;
  std::atomic<uint64_t> throttled_{0};  // times a request was left in the ring by the limiter
  bool held_ = false;  // a request is waiting in the ring for the limiter (device thread only)

  std::atomic<uint64_t> reads_{0}, writes_{0}, flushes_{0}, get_ids_{0}, discards_{0},
      write_zeroes_{0}, bytes_read_{0}, bytes_written_{0};
  std::array<std::atomic<uint64_t>, static_cast<size_t>(RequestErrorKind::Count)> refused_{};
};

}  // namespace vessel::vmm::virtio::blk
