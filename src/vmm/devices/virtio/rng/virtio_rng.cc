// virtio-rng (virtio 1.2, section 5.4): fills device-writable buffers from getrandom(2), each
// request parsed (rng_request.h) before any byte is written.
#include <atomic>

#include "vmm/devices/virtio/mmio/mmio_transport.h"
#include "vmm/devices/virtio/rng/rng_request.h"
#include "vmm/devices/virtio/virtio_devices.h"

namespace vessel::vmm::virtio {
namespace {

inline constexpr uint32_t kDeviceTypeEntropy = 4;
inline constexpr uint16_t kRngQueueSize = 256;
inline constexpr size_t kRngBudget = 64;

class RngLogic final : public DeviceLogic {
 public:
  explicit RngLogic(const GuestMemory* memory) : memory_(memory) {}
  const char* name() const override { return "virtio-rng"; }
  uint32_t device_type() const override { return kDeviceTypeEntropy; }
  uint64_t features() const override { return kFeatureVersion1 | kFeatureIndirectDesc; }
  uint16_t num_queues() const override { return 1; }
  uint16_t max_queue_size() const override { return kRngQueueSize; }
  void read_config(uint64_t, std::span<uint8_t> data) const override {
    std::fill(data.begin(), data.end(), 0);
  }
  void activate(uint64_t) override {}

  QueueResult<size_t> process(uint16_t, Virtqueue& queue, size_t budget,
                              DeviceCounters& counters) override {
    size_t done = 0;
    while (done < budget) {
      auto popped = queue.pop();
      if (!popped) return tl::unexpected<QueueFault>(popped.error());
      if (!*popped) break;
      auto& [head, chain] = **popped;
      ++done;
      requests_++;
      if (!chain) {
        counters.count(chain.error().kind);
        (void)queue.complete(head, 0);
        continue;
      }
      auto req = rng::parse_request(*memory_, *chain);
      if (!req) {
        counters.count(GuestErrorKind::BadRequest);
        (void)queue.complete(head, 0);
        continue;
      }
      uint64_t written = req->len;
      if (!rng::fill_request(*req)) {
        counters.backend_errors++;
        written = 0;
      }
      bytes_ += written;
      (void)queue.complete(head, static_cast<uint32_t>(written));
    }
    return done;
  }

  void add_metrics(json::Json& out) const override {
    out["requests"] = requests_.load();
    out["bytes"] = bytes_.load();
  }

 private:
  const GuestMemory* memory_;
  std::atomic<uint64_t> requests_{0}, bytes_{0};
};

}  // namespace

Result<std::shared_ptr<VirtioMmioDevice>> create_rng(DeviceContext ctx) {
  auto logic = std::make_unique<RngLogic>(ctx.memory);
  auto dev = TRY(MmioTransport::create(std::move(logic), std::move(ctx), kRngBudget));
  return std::shared_ptr<VirtioMmioDevice>(std::move(dev));
}

}  // namespace vessel::vmm::virtio
