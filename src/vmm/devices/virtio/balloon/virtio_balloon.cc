// virtio-balloon (virtio 1.2, section 5.5): each request is parsed (balloon_request.h) before any
// page is given back. Queues, in the order Linux sets them up (absent ones take no index):
// inflate, deflate, statistics (VIRTIO_BALLOON_F_STATS_VQ), free page reporting
// (VIRTIO_BALLOON_F_REPORTING).
#include <atomic>

#include "base/log.h"
#include "vmm/devices/virtio/balloon/balloon.h"
#include "vmm/devices/virtio/mmio/mmio_transport.h"

namespace vessel::vmm::virtio {
namespace {

inline constexpr uint16_t kQueueSize = 256;
inline constexpr size_t kBudget = 64;

enum class Role { Inflate, Deflate, Stats, Reporting };

class BalloonLogic final : public DeviceLogic {
 public:
  BalloonLogic(const GuestMemory* memory, std::shared_ptr<BalloonControl> control);
  ~BalloonLogic() override { control_->attach(nullptr); }

  const char* name() const override { return "virtio-balloon"; }
  uint32_t device_type() const override { return kDeviceTypeBalloon; }
  uint64_t features() const override { return offered_; }
  uint16_t num_queues() const override {
    return static_cast<uint16_t>(2 + ((offered_ & balloon::kFeatureStatsVq) ? 1 : 0) +
                                 ((offered_ & balloon::kFeatureReporting) ? 1 : 0));
  }
  uint16_t max_queue_size() const override { return kQueueSize; }

  // struct virtio_balloon_config: le32 num_pages, le32 actual (the rest reads as zeros).
  void read_config(uint64_t offset, std::span<uint8_t> data) const override {
    uint32_t fields[2] = {control_->target_pages(), control_->actual_pages()};
    read_config_bytes(std::span(reinterpret_cast<const uint8_t*>(fields), sizeof fields), offset, data);
  }
  void write_config(uint64_t offset, std::span<const uint8_t> data) override {
    if (offset != 4 || data.size() != 4) {  // only `actual` is the driver's, written whole (Linux does)
      bad_config_writes_++;
      return;
    }
    uint32_t actual;
    std::memcpy(&actual, data.data(), 4);
    control_->set_actual_pages(actual);
  }

  void attach(CompletionSink* sink) override { control_->attach(sink); }

  void activate(uint64_t features) override {
    roles_ = {Role::Inflate, Role::Deflate};
    if (features & balloon::kFeatureStatsVq) roles_.push_back(Role::Stats);
    if (features & balloon::kFeatureReporting) roles_.push_back(Role::Reporting);
  }
  void reset() override {
    stats_head_.reset();
    control_->set_actual_pages(0);  // a new driver starts with an empty balloon
  }

  QueueResult<size_t> process(uint16_t index, Virtqueue& queue, size_t budget, DeviceCounters& counters) override {
    if (index >= roles_.size()) return drop_all(queue, budget, counters);  // a queue the features did not give
    switch (roles_[index]) {
      case Role::Inflate: return serve_pages(queue, budget, counters, Role::Inflate);
      case Role::Deflate: return serve_pages(queue, budget, counters, Role::Deflate);
      case Role::Reporting: return serve_pages(queue, budget, counters, Role::Reporting);
      case Role::Stats: return serve_stats(queue, budget, counters);
    }
    return size_t{0};
  }

  // The statistics buffer goes back to the driver (which refills it) once per interval.
  std::optional<std::chrono::steady_clock::time_point> retry_at() const override {
    if (!stats_head_ || control_->stats_interval_s() == 0) return std::nullopt;
    return next_poll_;
  }

  // Paused, under the transport lock (which fills in the window).
  snapshot::DeviceExtra save_extra() const override {
    return snapshot::BalloonState{0, control_->target_pages(), control_->actual_pages(), control_->stats_interval_s(),
                                  stats_head_};
  }
  Result<void> restore_extra(const snapshot::DeviceExtra& extra) override {
    if (std::holds_alternative<std::monostate>(extra)) return {};  // an older snapshot: a fresh balloon
    const auto* saved = std::get_if<snapshot::BalloonState>(&extra);
    if (!saved) return fail(EINVAL, "virtio-balloon: the snapshot holds another device's state for it");
    uint64_t ram_pages = memory_->size() / balloon::kPageSize;
    if (saved->target_pages > ram_pages || saved->actual_pages > ram_pages)
      return fail(EINVAL, "virtio-balloon: target {} or actual {} pages is more than the guest's {}", saved->target_pages,
                  saved->actual_pages, ram_pages);
    if ((saved->stats_interval_s != 0) != control_->stats_enabled())
      return fail(EINVAL, "virtio-balloon: statistics interval {} s in the snapshot, {} in the configuration",
                  saved->stats_interval_s, control_->config().stats_interval_s);
    if (saved->stats_head && (!control_->stats_enabled() || *saved->stats_head >= kQueueSize))
      return fail(EINVAL, "virtio-balloon: held statistics buffer {} (queue size {})", *saved->stats_head, kQueueSize);
    control_->set_target_pages(saved->target_pages);
    control_->set_actual_pages(saved->actual_pages);
    if (saved->stats_interval_s) (void)control_->set_stats_interval(saved->stats_interval_s);
    (void)control_->take_interval_changed();
    stats_head_ = saved->stats_head;
    next_poll_ = std::chrono::steady_clock::now() + std::chrono::seconds(saved->stats_interval_s);
    return {};
  }

  void add_metrics(json::Json& out) const override {
    out["target_pages"] = control_->target_pages();
    out["actual_pages"] = control_->actual_pages();
    out["inflated_pages"] = inflated_pages_.load();
    out["deflated_pages"] = deflated_pages_.load();
    out["reported_pages"] = reported_pages_.load();
    out["discarded_bytes"] = discarded_bytes_.load();
    out["stats_updates"] = stats_updates_.load();
    out["bad_config_writes"] = bad_config_writes_.load();
  }

 private:
  // Logs a guest's mistake (the first few, then powers of two) and counts it.
  void guest_error(DeviceCounters& counters, const Error& e) {
    counters.count(GuestErrorKind::BadRequest);
    uint64_t n = ++bad_requests_;
    if (n <= 16 || (n & (n - 1)) == 0) log::warn("virtio-balloon: bad request ({} so far): {}", n, e.to_string());
  }

  QueueResult<size_t> serve_pages(Virtqueue& queue, size_t budget, DeviceCounters& counters, Role role) {
    size_t done = 0;
    while (done < budget) {
      auto popped = queue.pop();
      if (!popped) return tl::unexpected<QueueFault>(popped.error());
      if (!*popped) break;
      auto& [head, chain] = **popped;
      ++done;
      if (!chain) {
        counters.count(chain.error().kind);
        (void)queue.complete(head, 0);
        continue;
      }
      auto req = role == Role::Reporting ? balloon::parse_report_request(*memory_, *chain)
                                         : balloon::parse_pfn_request(*memory_, *chain);
      if (!req) {
        guest_error(counters, req.error());
        (void)queue.complete(head, 0);
        continue;
      }
      if (role == Role::Deflate) {
        // Without VIRTIO_BALLOON_F_MUST_TELL_HOST the guest may use the pages at once: they are
        // faulted back in (zeros) when touched.
        deflated_pages_ += req->pages;
      } else if (auto bytes = balloon::discard(*req)) {
        (role == Role::Inflate ? inflated_pages_ : reported_pages_) += req->pages;
        discarded_bytes_ += *bytes;
      } else {
        counters.backend_errors++;
        log::warn("virtio-balloon: {}", bytes.error().to_string());
      }
      (void)queue.complete(head, 0);
    }
    return done;
  }

  QueueResult<size_t> serve_stats(Virtqueue& queue, size_t budget, DeviceCounters& counters) {
    using Clock = std::chrono::steady_clock;
    size_t done = 0;
    auto now = Clock::now();
    auto interval = std::chrono::seconds(control_->stats_interval_s());
    if (control_->take_interval_changed()) next_poll_ = now + interval;
    while (done < budget) {
      auto popped = queue.pop();
      if (!popped) return tl::unexpected<QueueFault>(popped.error());
      if (!*popped) break;
      auto& [head, chain] = **popped;
      // The driver keeps one buffer with us; a second one means it gave up on the first.
      if (stats_head_) {
        (void)queue.complete(*stats_head_, 0);
        ++done;
      }
      stats_head_ = head;
      next_poll_ = now + interval;
      if (!chain) {
        counters.count(chain.error().kind);
        continue;
      }
      auto stats = balloon::parse_stats(*memory_, *chain);
      if (!stats) {
        guest_error(counters, stats.error());
        continue;
      }
      control_->set_stats(*stats);
      stats_updates_++;
    }
    if (stats_head_ && interval.count() > 0 && now >= next_poll_) {
      (void)queue.complete(*stats_head_, 0);  // the driver answers with fresh figures
      stats_head_.reset();
      ++done;
    }
    return done;
  }

  QueueResult<size_t> drop_all(Virtqueue& queue, size_t budget, DeviceCounters& counters) {
    size_t done = 0;
    while (done < budget) {
      auto popped = queue.pop();
      if (!popped) return tl::unexpected<QueueFault>(popped.error());
      if (!*popped) break;
      counters.count(GuestErrorKind::BadRequest);
      (void)queue.complete((*popped)->head, 0);
      ++done;
    }
    return done;
  }

  const GuestMemory* memory_;
  std::shared_ptr<BalloonControl> control_;
  uint64_t offered_ = 0;
  std::vector<Role> roles_;                  // by queue index, from the negotiated features
  std::optional<uint16_t> stats_head_;       // the statistics buffer the device holds
  std::chrono::steady_clock::time_point next_poll_{};
  std::atomic<uint64_t> inflated_pages_{0}, deflated_pages_{0}, reported_pages_{0}, discarded_bytes_{0},
      stats_updates_{0}, bad_config_writes_{0}, bad_requests_{0};
};

BalloonLogic::BalloonLogic(const GuestMemory* memory, std::shared_ptr<BalloonControl> control)
    : memory_(memory), control_(std::move(control)) {
  const auto& c = control_->config();
  offered_ = kFeatureVersion1 | kFeatureIndirectDesc;
  if (c.deflate_on_oom) offered_ |= balloon::kFeatureDeflateOnOom;
  if (c.stats_interval_s) offered_ |= balloon::kFeatureStatsVq;
  if (c.free_page_reporting) offered_ |= balloon::kFeatureReporting;
  activate(offered_);  // the roles as they would be; activate() sets the negotiated ones
}

}  // namespace

Result<BalloonDevice> create_balloon(const BalloonDeviceConfig& config, DeviceContext ctx) {
  if (ctx.memory && ctx.memory->page_size() != balloon::kPageSize)
    return fail(ENOTSUP, "virtio-balloon: guest RAM in {} KiB pages cannot give 4 KiB balloon pages back",
                ctx.memory->page_size() >> 10);
  auto control = std::make_shared<BalloonControl>(config);
  auto logic = std::make_unique<BalloonLogic>(ctx.memory, control);
  auto dev = TRY(MmioTransport::create(std::move(logic), std::move(ctx), kBudget));
  return BalloonDevice{std::shared_ptr<VirtioMmioDevice>(std::move(dev)), std::move(control)};
}

}  // namespace vessel::vmm::virtio
