// virtio-balloon (virtio 1.2, section 5.5) with Firecracker's semantics (docs/vmm/balloon.md): the
// host sets a target, the guest's driver gives that many 4 KiB pages up (inflate queue) and the
// device hands their memory back to the host; statistics come on their own queue, free page
// reporting on another.
//
// create_balloon() returns the device (for the MMIO bus) and its control, through which the VMM
// thread sets the target and reads what the guest reported. The control is safe to use from any
// thread while the device lives.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>

#include "base/json.h"
#include "vmm/devices/virtio/balloon/balloon_request.h"
#include "vmm/devices/virtio/virtio_devices.h"

namespace vessel::vmm::virtio {

class CompletionSink;

inline constexpr uint32_t kDeviceTypeBalloon = 5;
namespace balloon {
inline constexpr uint64_t kFeatureMustTellHost = 1ull << 0;
inline constexpr uint64_t kFeatureStatsVq = 1ull << 1;
inline constexpr uint64_t kFeatureDeflateOnOom = 1ull << 2;
inline constexpr uint64_t kFeatureReporting = 1ull << 5;
// Statistics tags (virtio 1.2, 5.5.6.3), as Firecracker names them in GET /balloon/statistics.
inline constexpr const char* kStatNames[kNumStatTags] = {
    "swap_in",       "swap_out",       "major_faults",      "minor_faults",     "free_memory",   "total_memory",
    "available_memory", "disk_caches", "hugetlb_allocations", "hugetlb_failures", "oom_kill",    "alloc_stall",
    "async_scan",    "direct_scan",    "async_reclaim",     "direct_reclaim"};
}  // namespace balloon

struct BalloonDeviceConfig {
  uint32_t target_pages = 0;      // 4 KiB pages the guest should give up
  bool deflate_on_oom = false;    // VIRTIO_BALLOON_F_DEFLATE_ON_OOM offered
  uint32_t stats_interval_s = 0;  // non-zero: VIRTIO_BALLOON_F_STATS_VQ offered, polled this often
  bool free_page_reporting = false;
};

// What the host and the device share. Written by the VMM thread (target, interval) and by the
// device and vCPU threads (actual, statistics).
class BalloonControl {
 public:
  explicit BalloonControl(const BalloonDeviceConfig& config)
      : config_(config), target_pages_(config.target_pages), stats_interval_s_(config.stats_interval_s) {}

  // A new target: the driver hears of it through a config-change interrupt.
  void set_target_pages(uint32_t pages);
  uint32_t target_pages() const { return target_pages_.load(); }
  // What the driver last wrote in `actual`: the pages it holds in the balloon.
  uint32_t actual_pages() const { return actual_pages_.load(); }
  // A new statistics interval: only while statistics were enabled when the VM was built, and not
  // to 0 (Firecracker's rule: the feature was offered, or not, before the driver started).
  Result<void> set_stats_interval(uint32_t seconds);
  uint32_t stats_interval_s() const { return stats_interval_s_.load(); }
  bool stats_enabled() const { return config_.stats_interval_s != 0; }
  // The guest's last figures, as GET /balloon/statistics shows them (bytes and counts, only the
  // tags the guest reported), with target and actual in pages and MiB.
  json::Json statistics() const;
  const BalloonDeviceConfig& config() const { return config_; }

  // ---- for the device ----
  void attach(CompletionSink* sink);  // nullptr: detached (the device is going)
  void set_actual_pages(uint32_t pages) { actual_pages_.store(pages); }
  void set_stats(const balloon::Stats& stats);
  // Set by set_stats_interval(); the device thread takes it to restart its timer.
  bool take_interval_changed() { return interval_changed_.exchange(false); }

 private:
  const BalloonDeviceConfig config_;
  std::atomic<uint32_t> target_pages_;
  std::atomic<uint32_t> actual_pages_{0};
  std::atomic<uint32_t> stats_interval_s_;
  std::atomic<bool> interval_changed_{false};
  mutable std::mutex mu_;  // guards below
  CompletionSink* sink_ = nullptr;
  balloon::Stats stats_;
};

struct BalloonDevice {
  std::shared_ptr<VirtioMmioDevice> device;
  std::shared_ptr<BalloonControl> control;
};

Result<BalloonDevice> create_balloon(const BalloonDeviceConfig& config, DeviceContext ctx);

}  // namespace vessel::vmm::virtio
