#include "vmm/devices/virtio/balloon/balloon.h"

#include "vmm/devices/virtio/mmio/device_logic.h"

namespace vessel::vmm::virtio {

void BalloonControl::set_target_pages(uint32_t pages) {
  target_pages_.store(pages);
  std::lock_guard lock(mu_);
  if (sink_) sink_->config_changed();
}

Result<void> BalloonControl::set_stats_interval(uint32_t seconds) {
  if (!stats_enabled())
    return fail(EINVAL, "balloon statistics were not enabled before the VM started (stats_polling_interval_s 0): "
                        "they cannot be enabled now");
  if (seconds == 0)
    return fail(EINVAL, "balloon statistics were enabled before the VM started: they cannot be disabled now "
                        "(stats_polling_interval_s must not be 0)");
  stats_interval_s_.store(seconds);
  interval_changed_.store(true);
  std::lock_guard lock(mu_);
  if (sink_) sink_->wake();
  return {};
}

void BalloonControl::attach(CompletionSink* sink) {
  std::lock_guard lock(mu_);
  sink_ = sink;
}

void BalloonControl::set_stats(const balloon::Stats& stats) {
  std::lock_guard lock(mu_);
  for (size_t i = 0; i < stats.values.size(); ++i)
    if (stats.values[i]) stats_.values[i] = stats.values[i];
}

json::Json BalloonControl::statistics() const {
  uint64_t target = target_pages(), actual = actual_pages();
  constexpr uint64_t kPagesPerMib = (1 << 20) / balloon::kPageSize;
  json::Json j{{"target_pages", target},
               {"actual_pages", actual},
               {"target_mib", target / kPagesPerMib},
               {"actual_mib", actual / kPagesPerMib}};
  std::lock_guard lock(mu_);
  for (size_t i = 0; i < stats_.values.size(); ++i)
    if (stats_.values[i]) j[balloon::kStatNames[i]] = *stats_.values[i];
  return j;
}

}  // namespace vessel::vmm::virtio
