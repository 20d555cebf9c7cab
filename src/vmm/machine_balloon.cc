// The running VM's balloon (docs/vmm/balloon.md): PATCH /balloon and /balloon/statistics land here.
#include "vmm/devices/virtio/balloon/balloon.h"
#include "vmm/machine.h"
#include "vmm/machine_impl.h"

namespace vessel::vmm {

virtio::BalloonControl* Machine::balloon() const { return impl_ ? impl_->balloon.get() : nullptr; }

Result<void> Machine::set_balloon_target(uint32_t amount_mib) {
  auto* b = balloon();
  if (!b) return fail(EINVAL, "the VM has no balloon device");
  TRY(check_balloon(BalloonConfig{amount_mib}, config_.machine.mem_size_mib, false));
  b->set_target_pages(static_cast<uint32_t>(uint64_t{amount_mib} << 20 >> virtio::balloon::kPageShift));
  for (auto* c : {&config_, &impl_->config})
    if (c->balloon) c->balloon->amount_mib = amount_mib;
  return {};
}

Result<void> Machine::set_balloon_stats_interval(uint32_t seconds) {
  auto* b = balloon();
  if (!b) return fail(EINVAL, "the VM has no balloon device");
  TRY(b->set_stats_interval(seconds));
  for (auto* c : {&config_, &impl_->config})
    if (c->balloon) c->balloon->stats_polling_interval_s = seconds;
  return {};
}

}  // namespace vessel::vmm
